/*
 * Typed n-d array values: allocation, reference counting, accessors, digest.
 *
 * Small values (data <= SF__BIG) are one malloc: the header followed by the data
 * (16-byte aligned); blocks of the smallest size class (scalars, short arrays: what most
 * calls make) are recycled through a per-thread free list, which keeps malloc off the
 * per-call path. Larger data is a private anonymous mapping; freed mappings are kept in
 * a cache (bounded entries and bytes) and reused for the next value that fits, so a loop
 * moving large objects does not pay page faults on every iteration. The cache is guarded
 * by a mutex (production's bridge thread may free values).
 */
#include "core/value.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SF__BIG ((size_t)64 << 10)
#define SF__CACHE_SLOTS 512
#define SF__SMALL 256    /* allocation size served from the per-thread free list */
#define SF__SMALL_KEEP 4096
/* Bytes the cache may keep: a sixth of the machine's memory, at most 4 GiB (a party that
 * reads a 1 GiB dataset with two ranks frees a 512 MiB block and a 1 GiB result per read;
 * keeping both avoids faulting 1.5 GiB back in every time). */
static size_t cache_limit(void) {
    static size_t lim;
    if (!lim) {
        long pages = sysconf(_SC_PHYS_PAGES), pg = sysconf(_SC_PAGESIZE);
        size_t ram = pages > 0 && pg > 0 ? (size_t)pages * (size_t)pg : ((size_t)6 << 30);
        lim = ram / 6 < ((size_t)4 << 30) ? ram / 6 : ((size_t)4 << 30);
    }
    return lim;
}
#define SF__CACHE_BYTES cache_limit()

static const size_t dtype_sizes[SF_NDTYPES] = {
#define SF__DT_SIZE(name, ctype, text) sizeof(ctype),
    SF_DTYPE_MAP(SF__DT_SIZE)
#undef SF__DT_SIZE
};
static const char *const dtype_names[SF_NDTYPES] = {
#define SF__DT_NAME(name, ctype, text) text,
    SF_DTYPE_MAP(SF__DT_NAME)
#undef SF__DT_NAME
};

const char *sf_dtype_name(sf_dtype dt) {
    return (unsigned)dt < SF_NDTYPES ? dtype_names[dt] : "invalid-dtype";
}
size_t sf_dtype_size(sf_dtype dt) { return (unsigned)dt < SF_NDTYPES ? dtype_sizes[dt] : 0; }

/* ---- cache of large mappings */
static struct {
    pthread_mutex_t mu;
    void *ptr[SF__CACHE_SLOTS];
    size_t cap[SF__CACHE_SLOTS];
    int n;
    size_t bytes;
} big_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *big_get(size_t need, size_t *cap) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = (need + pg - 1) / pg * pg;
    pthread_mutex_lock(&big_cache.mu);
    /* the smallest that fits; among equals the one put back last, whose lines are the
     * likeliest still in the cache (a receive into a cold 1 MiB buffer runs at memory
     * speed, into a warm one at cache speed) */
    int best = -1;
    for (int i = big_cache.n - 1; i >= 0; i--)
        if (big_cache.cap[i] >= want && big_cache.cap[i] / 2 <= want &&
            (best < 0 || big_cache.cap[i] < big_cache.cap[best]))
            best = i;
    if (best >= 0) {
        void *p = big_cache.ptr[best];
        *cap = big_cache.cap[best];
        big_cache.bytes -= *cap;
        big_cache.n--;
        /* keep the order (slots are in the order they were put back) */
        memmove(&big_cache.ptr[best], &big_cache.ptr[best + 1],
                sizeof big_cache.ptr[0] * (size_t)(big_cache.n - best));
        memmove(&big_cache.cap[best], &big_cache.cap[best + 1],
                sizeof big_cache.cap[0] * (size_t)(big_cache.n - best));
        pthread_mutex_unlock(&big_cache.mu);
        return p;
    }
    pthread_mutex_unlock(&big_cache.mu);
    void *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    *cap = want;
    return p;
}

static void big_put(void *p, size_t cap) {
    pthread_mutex_lock(&big_cache.mu);
    while (big_cache.n > 0 &&
           (big_cache.n == SF__CACHE_SLOTS || big_cache.bytes + cap > SF__CACHE_BYTES)) {
        /* evict the oldest (slot 0) */
        munmap(big_cache.ptr[0], big_cache.cap[0]);
        big_cache.bytes -= big_cache.cap[0];
        big_cache.n--;
        memmove(&big_cache.ptr[0], &big_cache.ptr[1], sizeof big_cache.ptr[0] * (size_t)big_cache.n);
        memmove(&big_cache.cap[0], &big_cache.cap[1], sizeof big_cache.cap[0] * (size_t)big_cache.n);
    }
    if (cap <= SF__CACHE_BYTES) {
        big_cache.ptr[big_cache.n] = p;
        big_cache.cap[big_cache.n] = cap;
        big_cache.n++;
        big_cache.bytes += cap;
        p = NULL;
    }
    pthread_mutex_unlock(&big_cache.mu);
    if (p) munmap(p, cap);
}

/* ---- allocation */
size_t sf__shape_elems(int ndim, const int64_t *shape, int *ok) {
    size_t n = 1;
    *ok = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            *ok = 0;
            return 0;
        }
        if (__builtin_mul_overflow(n, (size_t)shape[i], &n)) {
            *ok = 0;
            return 0;
        }
    }
    return n;
}

int sf__value_desc_bytes(int64_t dtype, int64_t ndim, const int64_t *shape, size_t *nbytes) {
    if (dtype < 0 || dtype >= SF_NDTYPES || ndim < 0 || ndim > SF_MAX_DIMS) return SF_EINVAL;
    int ok;
    size_t elems = sf__shape_elems((int)ndim, shape, &ok);
    if (!ok || __builtin_mul_overflow(elems, sf_dtype_size((sf_dtype)dtype), nbytes)) return SF_ERANGE;
    return SF_OK;
}

#define SF__HDR_SIZE ((sizeof(struct sf_value) + 15) & ~(size_t)15)

static __thread struct small_block {
    struct small_block *next;
} *small_free;
static __thread int small_count;

static void *small_alloc(size_t n) {
    if (n > SF__HDR_SIZE + SF__SMALL) return malloc(n);
    struct small_block *b = small_free;
    if (b) {
        small_free = b->next;
        small_count--;
        return b;
    }
    return malloc(SF__HDR_SIZE + SF__SMALL);
}

void sf__value_thread_cleanup(void) {
    while (small_free) {
        struct small_block *b = small_free;
        small_free = b->next;
        free(b);
    }
    small_count = 0;
}

static void small_free_block(sf_value *v) {
    if (v->nbytes + (v->dtype == SF_BYTES) > SF__SMALL || small_count >= SF__SMALL_KEEP) {
        free(v);
        return;
    }
    struct small_block *b = (struct small_block *)v;
    b->next = small_free;
    small_free = b;
    small_count++;
}

sf_value *sf__value_alloc(sf_dtype dt, int ndim, const int64_t *shape) {
    if ((unsigned)dt >= SF_NDTYPES || ndim < 0 || ndim > SF_MAX_DIMS || (ndim > 0 && !shape))
        return NULL;
    int ok;
    size_t n = sf__shape_elems(ndim, shape, &ok), nbytes;
    if (!ok || __builtin_mul_overflow(n, dtype_sizes[dt], &nbytes) || nbytes > (SIZE_MAX >> 2))
        return NULL;
    size_t extra = (dt == SF_BYTES) ? 1 : 0; /* a NUL after bytes, for sf_value_cstr */
    sf_value *v;
    if (nbytes + extra <= SF__BIG) {
        v = small_alloc(SF__HDR_SIZE + nbytes + extra);
        if (!v) return NULL;
        v->flags = 0;
        v->map = NULL;
        v->data = (char *)v + SF__HDR_SIZE;
        v->cap = 0;
    } else {
        v = malloc(sizeof *v);
        if (!v) return NULL;
        v->data = v->map = big_get(nbytes + extra, &v->cap);
        if (!v->data) {
            free(v);
            return NULL;
        }
        v->flags = SF__VAL_BIGDATA;
    }
    v->refcnt = 1;
    v->dtype = (uint8_t)dt;
    v->ndim = (uint8_t)ndim;
    v->nelems = n;
    v->nbytes = nbytes;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    if (extra) ((char *)v->data)[nbytes] = 0;
    return v;
}

void *sf__buffer_get(size_t need, size_t *cap) { return big_get(need, cap); }
void sf__buffer_put(void *p, size_t cap) { big_put(p, cap); }

sf_value *sf__value_wrap(void *map, size_t cap, size_t offset, sf_dtype dt, int ndim,
                         const int64_t *shape) {
    int ok;
    size_t n = ((unsigned)dt < SF_NDTYPES && ndim >= 0 && ndim <= SF_MAX_DIMS)
                   ? sf__shape_elems(ndim, shape, &ok) : (ok = 0);
    size_t nbytes;
    sf_value *v = NULL;
    if (!ok || __builtin_mul_overflow(n, dtype_sizes[dt], &nbytes) || offset > cap ||
        nbytes + (dt == SF_BYTES) > cap - offset || !(v = malloc(sizeof *v))) {
        big_put(map, cap);
        return NULL;
    }
    v->refcnt = 1;
    v->dtype = (uint8_t)dt;
    v->ndim = (uint8_t)ndim;
    v->flags = SF__VAL_BIGDATA;
    v->nelems = n;
    v->nbytes = nbytes;
    v->map = map;
    v->cap = cap;
    v->data = (char *)map + offset;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    if (dt == SF_BYTES) ((char *)v->data)[nbytes] = 0;
    return v;
}

sf_value *sf_value_new(sf_dtype dt, int ndim, const int64_t *shape) {
    return sf__value_alloc(dt, ndim, shape);
}

sf_value *sf_value_zeros(sf_dtype dt, int ndim, const int64_t *shape) {
    sf_value *v = sf__value_alloc(dt, ndim, shape);
    if (v) memset(v->data, 0, v->nbytes);
    return v;
}

sf_value *sf_value_f64(double x) {
    sf_value *v = sf__value_alloc(SF_F64, 0, NULL);
    if (v) memcpy(v->data, &x, sizeof x);
    return v;
}

sf_value *sf_value_i64(int64_t x) {
    sf_value *v = sf__value_alloc(SF_I64, 0, NULL);
    if (v) memcpy(v->data, &x, sizeof x);
    return v;
}

sf_value *sf_value_bytes(const void *p, size_t n) {
    int64_t shape[1] = {(int64_t)n};
    sf_value *v = sf__value_alloc(SF_BYTES, 1, shape);
    if (v && n) memcpy(v->data, p, n);
    return v;
}

sf_value *sf_value_str(const char *s) { return sf_value_bytes(s, strlen(s)); }

sf_value *sf_value_copy(const sf_value *src) {
    sf_value *v = sf__value_alloc((sf_dtype)src->dtype, src->ndim, src->shape);
    if (v && src->nbytes) memcpy(v->data, src->data, src->nbytes);
    return v;
}

sf_value *sf_value_ref(sf_value *v) {
    if (v) __atomic_fetch_add(&v->refcnt, 1, __ATOMIC_RELAXED);
    return v;
}

void sf_value_unref(sf_value **vp) {
    sf_value *v = *vp;
    *vp = NULL;
    if (!v || __atomic_sub_fetch(&v->refcnt, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (v->flags & SF__VAL_BIGDATA) {
        big_put(v->map, v->cap);
        free(v);
    } else {
        small_free_block(v);
    }
}

/* ---- accessors */
sf_dtype sf_value_dtype(const sf_value *v) { return (sf_dtype)v->dtype; }
int sf_value_ndim(const sf_value *v) { return v->ndim; }
int64_t sf_value_dim(const sf_value *v, int i) {
    return (i >= 0 && i < v->ndim) ? v->shape[i] : 0;
}
const int64_t *sf_value_shape(const sf_value *v) { return v->shape; }
size_t sf_value_nelems(const sf_value *v) { return v->nelems; }
size_t sf_value_nbytes(const sf_value *v) { return v->nbytes; }
void *sf_value_data(sf_value *v) { return v->data; }
const void *sf_value_cdata(const sf_value *v) { return v->data; }
const char *sf_value_cstr(const sf_value *v) {
    return v->dtype == SF_BYTES ? (const char *)v->data : "";
}

#define SF__AS(T, v, i, out)                                      \
    switch ((sf_dtype)(v)->dtype) {                               \
    case SF_I8: out = (T)((const int8_t *)(v)->data)[i]; break;   \
    case SF_I16: out = (T)((const int16_t *)(v)->data)[i]; break; \
    case SF_I32: out = (T)((const int32_t *)(v)->data)[i]; break; \
    case SF_I64: out = (T)((const int64_t *)(v)->data)[i]; break; \
    case SF_U8:                                                   \
    case SF_BYTES: out = (T)((const uint8_t *)(v)->data)[i]; break; \
    case SF_U16: out = (T)((const uint16_t *)(v)->data)[i]; break; \
    case SF_U32: out = (T)((const uint32_t *)(v)->data)[i]; break; \
    case SF_U64: out = (T)((const uint64_t *)(v)->data)[i]; break; \
    case SF_F32: out = (T)((const float *)(v)->data)[i]; break;   \
    case SF_F64: out = (T)((const double *)(v)->data)[i]; break;  \
    default: out = 0;                                             \
    }

double sf_value_as_f64(const sf_value *v, size_t i) {
    double out = 0;
    if (!v || i >= v->nelems) return 0;
    SF__AS(double, v, i, out);
    return out;
}

int64_t sf_value_as_i64(const sf_value *v, size_t i) {
    int64_t out = 0;
    if (!v || i >= v->nelems) return 0;
    SF__AS(int64_t, v, i, out);
    return out;
}

/* ---- digest: word-wise multiply-xor, enough to notice a task writing its argument */
#define mix64 sf__mix64

uint64_t sf__value_digest(const sf_value *v) {
    uint64_t h = mix64(((uint64_t)v->dtype << 8) ^ v->ndim ^ ((uint64_t)v->nbytes << 16));
    for (int i = 0; i < v->ndim; i++) h = mix64(h ^ (uint64_t)v->shape[i]);
    const unsigned char *p = v->data;
    size_t n = v->nbytes, i = 0;
    uint64_t a = h, b = ~h, w;
    for (; i + 16 <= n; i += 16) {
        memcpy(&w, p + i, 8);
        a = (a ^ w) * 0x9E3779B97F4A7C15ULL;
        memcpy(&w, p + i + 8, 8);
        b = (b ^ w) * 0xC2B2AE3D27D4EB4FULL;
    }
    for (; i < n; i++) a = (a ^ p[i]) * 0x100000001B3ULL;
    return mix64(a ^ mix64(b));
}
