/*
 * Value layout, shared by the runtime and the transport backends.
 * A value is immutable once handed to the runtime; the refcount is atomic because a
 * backend's progress thread (production) may drop the last reference.
 * Small values are one allocation (header + data); data of large values comes from a
 * cache of page-aligned mappings so that repeated large transfers do not fault pages in
 * again every time.
 */
#ifndef SF_RUNTIME_VALUE_H
#define SF_RUNTIME_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "sfmpi/sf.h"

struct sf_value {
    int refcnt;
    uint8_t dtype;
    uint8_t ndim;
    uint16_t flags;
    size_t nelems;
    size_t nbytes;
    void *data;
    size_t cap; /* bytes mapped, for cached large buffers */
    void *map;  /* start of that mapping (data may start later in it) */
    int64_t shape[SF_MAX_DIMS];
};

enum { SF__VAL_BIGDATA = 1 };

/* Allocate with explicit size checks; shape may be NULL when ndim == 0. */
sf_value *sf__value_alloc(sf_dtype dt, int ndim, const int64_t *shape);
/* Raw buffers from the large-value cache (page-aligned, at least `need` bytes): a
 * transport receives a whole message into one, then wraps it as a value whose data
 * starts `offset` bytes in (sf__value_wrap takes the buffer over, even on failure). */
void *sf__buffer_get(size_t need, size_t *cap);
void sf__buffer_put(void *p, size_t cap);
sf_value *sf__value_wrap(void *map, size_t cap, size_t offset, sf_dtype dt, int ndim,
                         const int64_t *shape);
/* n references at once (a message shared by n receivers); returns v (NULL stays NULL). */
static inline sf_value *sf__value_ref_n(sf_value *v, int n) {
    if (v) __atomic_fetch_add(&v->refcnt, n, __ATOMIC_RELAXED);
    return v;
}
/* Drops n references (n may be 0). */
static inline void sf__value_unref_n(sf_value *v, int n) {
    while (n-- > 0) {
        sf_value *p = v;
        sf_value_unref(&p);
    }
}
/* Free this thread's recycled small blocks (call before a helper thread exits). */
void sf__value_thread_cleanup(void);
/* A 64-bit finaliser (murmur3's): spreads the bits of h. */
static inline uint64_t sf__mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
/* 64-bit digest of dtype, shape and data (debug-mode argument check). */
uint64_t sf__value_digest(const sf_value *v);
/* Bytes of a value described by numbers from elsewhere (another rank, a file): 0 and
 * *nbytes, SF_EINVAL for a bad dtype or rank, SF_ERANGE for bad extents or an overflow. */
int sf__value_desc_bytes(int64_t dtype, int64_t ndim, const int64_t *shape, size_t *nbytes);
/* Element count of a shape; returns 0 and sets *ok = 0 on overflow or bad extents. */
size_t sf__shape_elems(int ndim, const int64_t *shape, int *ok);

#endif
