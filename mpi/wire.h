/*
 * The wire layer: the one place where what crosses a process boundary between parties is
 * encoded and decoded. Shared by the MPI transport (simulation) and the bridge
 * (production); fuzzed (tests/fuzz/fuzz_wire.c).
 *
 * Byte order: every multi-byte field is little-endian, written and read byte by byte (no
 * C struct is ever sent). Decoding checks every field against the buffer's length and
 * its own range before anything else looks at it; a peer-supplied call-site name always
 * comes out NUL-terminated.
 *
 * Message header (SF_WIRE_FIXED bytes, then 8 per dimension):
 *    0 u8  version (SF_WIRE_VERSION)      1 u8  kind (enum sf_msg_kind)
 *    2 u8  has_val (0/1)                  3 u8  dtype (sf_dtype; 0 without a value)
 *    4 u8  ndim (<= SF_MAX_DIMS)          5 u8  how (the transport's data placement)
 *    6 u16 reserved (0)                   8 u32 line of the sender's call site
 *   12 u32 reserved (0)                  16 u64 object id
 *   24 u64 sender's call number          32 u64 sender's trace hash
 *   40 u64 value bytes                   48 char[32] call-site file (basename)
 *   80 i64 shape[ndim]
 * A value's bytes must be exactly elements x dtype size (no overflow) and at most the
 * decoder's `max_bytes`. DATA carries a value, ERROR a bytes value (the error chain),
 * STATUS and BYE none.
 *
 * Wait notice (SF_WIRE_NOTICE bytes): u8 version | u8 reserved[3] | u32 line | u64 call |
 * u64 trace | u64 object | char[32] file.
 *
 * Abort reason: u32 exit code | u16 length (<= SF_WIRE_REASON_MAX) | text (no NUL).
 *
 * Every decoder returns 0 or SF_EINVAL (malformed: the caller names the sender).
 */
#ifndef SF_MPI_WIRE_H
#define SF_MPI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/transport.h"

#define SF_WIRE_VERSION 1
#define SF_WIRE_FIXED 80
#define SF_WIRE_MAX (SF_WIRE_FIXED + 8 * SF_MAX_DIMS)
#define SF_WIRE_NOTICE 64
#define SF_WIRE_REASON_MAX 1024

/* A decoded message header with its value's description. */
typedef struct sf_wire_msg {
    sf_msg_hdr h;
    int has_val;
    sf_dtype dtype;
    int ndim;
    uint8_t how;
    uint64_t nbytes;
    int64_t shape[SF_MAX_DIMS];
} sf_wire_msg;

/* Encoded size of a header describing a value of `ndim` dimensions. */
static inline size_t sf__wire_size(int ndim) { return SF_WIRE_FIXED + 8 * (size_t)ndim; }

/* Encode h and v's description (v may be NULL) into out (sf__wire_size(ndim) bytes);
 * returns the bytes written. */
size_t sf__wire_encode(uint8_t *out, const sf_msg_hdr *h, const sf_value *v, uint8_t how);
/* With at least SF_WIRE_FIXED bytes: the whole header's size, or SF_EINVAL. */
int sf__wire_peek(const uint8_t *in, size_t len, size_t *need);
/* Decode and check a whole header (len = its exact size). */
int sf__wire_decode(const uint8_t *in, size_t len, uint64_t max_bytes, sf_wire_msg *m);

void sf__wire_notice_encode(uint8_t out[SF_WIRE_NOTICE], const sf_wait_notice *n);
int sf__wire_notice_decode(const uint8_t *in, size_t len, sf_wait_notice *n);

/* Returns the bytes written (at most 6 + SF_WIRE_REASON_MAX); the text is cut there. */
size_t sf__wire_reason_encode(uint8_t *out, int code, const char *text);
/* text gets a NUL-terminated copy (cap >= 1), with anything but printable ASCII and
 * newlines replaced by '?'. */
int sf__wire_reason_decode(const uint8_t *in, size_t len, int *code, char *text, size_t cap);

#endif
