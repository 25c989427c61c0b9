/*
 * libFuzzer target for the wire layer (mpi/wire.c): whatever a peer sends.
 *
 * Input: data[0] picks the reason decoder's text capacity, data[1] how max_bytes is
 * chosen (unbounded, the next 8 bytes, or a small bound), data[2..9] those 8 bytes; the
 * rest is fed, as is and cut to the length its own fields announce, to sf__wire_peek,
 * sf__wire_decode, sf__wire_notice_decode and sf__wire_reason_decode. Every decoder reads
 * from a heap copy of exactly the length it is given (an over-read is an ASan report).
 * Whatever decodes must satisfy the format's rules and re-encode to the same bytes; the
 * one field that is not canonical is a call-site name: bytes after its first NUL, or its
 * 32nd byte when it has none, are dropped, and the name printed with %s stays inside its
 * 32 bytes. Invariants are checked with __builtin_trap().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/wire.h"
#include "core/value.h"

#define REQUIRE(c)                  \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint8_t *dup_exact(const uint8_t *p, size_t n) {
    uint8_t *b = malloc(n ? n : 1);
    REQUIRE(b);
    if (n) memcpy(b, p, n);
    return b;
}

/* A decoded name field: NUL-terminated inside its 32 bytes; the encoder writes back the
 * input's bytes up to its first NUL (at most 31), then NULs. */
static void check_name(const char file[32], const uint8_t *in, const uint8_t *out) {
    size_t k = strnlen(file, 32);
    REQUIRE(k <= 31);
    char line[80];
    int w = snprintf(line, sizeof line, "[%s]", file);
    REQUIRE(w == (int)k + 2);
    size_t want = strnlen((const char *)in, 31);
    REQUIRE(k == want && memcmp(file, in, k) == 0);
    REQUIRE(memcmp(out, in, k) == 0);
    for (size_t i = k; i < 32; i++) REQUIRE(out[i] == 0);
}

static void check_header(const uint8_t *in, size_t len, uint64_t max_bytes) {
    size_t need = 0;
    uint8_t *b = dup_exact(in, len);
    int prc = sf__wire_peek(b, len, &need);
    free(b);
    if (prc == SF_OK) {
        REQUIRE(len >= SF_WIRE_FIXED && in[0] == SF_WIRE_VERSION && in[4] <= SF_MAX_DIMS);
        REQUIRE(need == sf__wire_size(in[4]) && need <= SF_WIRE_MAX);
    } else {
        REQUIRE(prc == SF_EINVAL);
        REQUIRE(len < SF_WIRE_FIXED || in[0] != SF_WIRE_VERSION || in[4] > SF_MAX_DIMS);
    }
    /* the whole input, then the prefix the header announces */
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass == 0 ? len : need;
        if (pass == 1 && (prc || need > len || need == len)) break;
        sf_wire_msg m;
        b = dup_exact(in, n);
        int rc = sf__wire_decode(b, n, max_bytes, &m);
        free(b);
        if (rc != SF_OK) {
            REQUIRE(rc == SF_EINVAL);
            continue;
        }
        REQUIRE(prc == SF_OK && n == need);
        REQUIRE(m.h.kind >= SF_MSG_DATA && m.h.kind <= SF_MSG_BYE);
        REQUIRE(m.has_val == (m.h.kind == SF_MSG_DATA || m.h.kind == SF_MSG_ERROR));
        REQUIRE(m.ndim >= 0 && m.ndim <= SF_MAX_DIMS && m.ndim == in[4]);
        REQUIRE(m.nbytes <= max_bytes);
        if (m.has_val) {
            REQUIRE((unsigned)m.dtype < SF_NDTYPES);
            if (m.h.kind == SF_MSG_ERROR) REQUIRE(m.dtype == SF_BYTES);
            unsigned __int128 total = sf_dtype_size(m.dtype);
            for (int i = 0; i < m.ndim; i++) {
                REQUIRE(m.shape[i] >= 0);
                total *= (uint64_t)m.shape[i];
                if (total > UINT64_MAX) total = (unsigned __int128)UINT64_MAX + 1; /* saturate */
            }
            REQUIRE(total == m.nbytes);
        } else {
            REQUIRE(m.ndim == 0 && m.nbytes == 0 && in[3] == 0);
        }
        /* re-encode */
        sf_value v;
        memset(&v, 0, sizeof v);
        v.dtype = (uint8_t)m.dtype;
        v.ndim = (uint8_t)m.ndim;
        v.nbytes = m.nbytes;
        memcpy(v.shape, m.shape, sizeof v.shape);
        uint8_t out[SF_WIRE_MAX];
        size_t on = sf__wire_encode(out, &m.h, m.has_val ? &v : NULL, m.how);
        REQUIRE(on == n);
        REQUIRE(memcmp(out, in, 48) == 0 && memcmp(out + 80, in + 80, n - 80) == 0);
        check_name(m.h.file, in + 48, out + 48);
        /* the canonical form decodes to the same header, under its own size bound */
        sf_wire_msg m2;
        REQUIRE(sf__wire_decode(out, on, m.nbytes, &m2) == SF_OK);
        REQUIRE(m2.h.kind == m.h.kind && m2.h.line == m.h.line && m2.h.obj_id == m.h.obj_id &&
                m2.h.call_seq == m.h.call_seq && m2.h.trace == m.h.trace &&
                strcmp(m2.h.file, m.h.file) == 0 && m2.has_val == m.has_val && m2.dtype == m.dtype &&
                m2.ndim == m.ndim && m2.how == m.how && m2.nbytes == m.nbytes &&
                memcmp(m2.shape, m.shape, sizeof m.shape) == 0);
        if (m.nbytes) REQUIRE(sf__wire_decode(out, on, m.nbytes - 1, &m2) == SF_EINVAL);
        /* one byte more or less is refused */
        uint8_t *s = dup_exact(in, n - 1);
        REQUIRE(sf__wire_decode(s, n - 1, max_bytes, &m2) == SF_EINVAL);
        free(s);
    }
}

static void check_notice(const uint8_t *in, size_t len) {
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass == 0 ? len : SF_WIRE_NOTICE;
        if (pass == 1 && len <= SF_WIRE_NOTICE) break;
        sf_wait_notice w;
        uint8_t *b = dup_exact(in, n);
        int rc = sf__wire_notice_decode(b, n, &w);
        free(b);
        if (rc != SF_OK) {
            REQUIRE(rc == SF_EINVAL);
            REQUIRE(n != SF_WIRE_NOTICE || in[0] != SF_WIRE_VERSION || in[1] || in[2] || in[3]);
            continue;
        }
        REQUIRE(n == SF_WIRE_NOTICE);
        uint8_t out[SF_WIRE_NOTICE];
        sf__wire_notice_encode(out, &w);
        REQUIRE(memcmp(out, in, 32) == 0);
        check_name(w.file, in + 32, out + 32);
    }
}

static void check_reason(const uint8_t *in, size_t len, size_t cap) {
    size_t ann = len >= 6 ? (size_t)in[4] | (size_t)in[5] << 8 : 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass == 0 ? len : 6 + ann;
        if (pass == 1 && (len < 6 || n >= len)) break;
        uint8_t *b = dup_exact(in, n);
        char *text = malloc(cap ? cap : 1); /* exactly cap: a write past it is an ASan report */
        REQUIRE(text);
        int code = 0;
        int rc = sf__wire_reason_decode(b, n, &code, text, cap);
        free(b);
        if (rc != SF_OK) {
            REQUIRE(rc == SF_EINVAL);
            REQUIRE(n < 6 || cap == 0 || ann > SF_WIRE_REASON_MAX || n != 6 + ann);
            free(text);
            continue;
        }
        REQUIRE(n == 6 + ann && ann <= SF_WIRE_REASON_MAX && cap >= 1);
        size_t k = strnlen(text, cap);
        REQUIRE(k < cap && k == (ann < cap - 1 ? ann : cap - 1));
        int clean = 1;
        for (size_t i = 0; i < k; i++) {
            unsigned char c = (unsigned char)text[i], o = in[6 + i];
            REQUIRE(c == '\n' || (c >= 0x20 && c < 0x7f));
            if (c != o) {
                REQUIRE(c == '?');
                clean = 0;
            }
        }
        if (clean && k == ann) { /* nothing replaced or cut: the same bytes again */
            uint8_t out[6 + SF_WIRE_REASON_MAX];
            size_t on = sf__wire_reason_encode(out, code, text);
            REQUIRE(on == n && memcmp(out, in, n) == 0);
        }
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 10) return 0;
    size_t cap = data[0] == 0 ? 1 : data[0] == 255 ? SF_WIRE_REASON_MAX + 1 : (size_t)data[0] * 4;
    uint64_t raw = get64(data + 2), max_bytes;
    switch (data[1] % 4) {
    case 0: max_bytes = UINT64_MAX; break;
    case 1: max_bytes = raw; break;
    case 2: max_bytes = raw % 65536; break;
    default: max_bytes = raw % 64; break;
    }
    const uint8_t *p = data + 10;
    size_t n = size - 10;
    check_header(p, n, max_bytes);
    check_notice(p, n);
    check_reason(p, n, cap);
    if (data[0] == 1) check_reason(p, n, 0); /* cap 0 is refused */
    return 0;
}
