/*
 * Unit tests of the wire layer (mpi/wire.c): every message kind with and without values,
 * every dtype, 0..SF_MAX_DIMS dimensions and empty arrays round trip; the decoder refuses
 * every malformed field; the byte order is fixed (golden bytes); a peer-supplied call-site
 * name always comes out NUL-terminated; wait notices and abort reasons likewise.
 * Decoders read from heap copies of exactly the given length, so that an over-read shows
 * under AddressSanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/wire.h"
#include "core/value.h"
#include "tests/check.h"

static sf_msg_hdr mk_hdr(unsigned kind, const char *file) {
    sf_msg_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.line = 0xC0FFEE01u;
    h.obj_id = 0x8877665544332211ull;
    h.call_seq = 0xF1E2D3C4B5A69788ull;
    h.trace = 0x0123456789ABCDEFull;
    snprintf(h.file, sizeof h.file, "%s", file);
    return h;
}

/* A value description without data, for headers only (the encoder reads no data). */
static sf_value fake_value(sf_dtype dt, int ndim, const int64_t *shape, size_t nbytes) {
    sf_value v;
    memset(&v, 0, sizeof v);
    v.refcnt = 1;
    v.dtype = (uint8_t)dt;
    v.ndim = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) v.shape[i] = shape[i];
    v.nbytes = nbytes;
    return v;
}

/* Decode from a heap copy of exactly len bytes. */
static int decode_copy(const uint8_t *in, size_t len, uint64_t max_bytes, sf_wire_msg *m) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, in, len);
    int rc = sf__wire_decode(p, len, max_bytes, m);
    free(p);
    return rc;
}
static int peek_copy(const uint8_t *in, size_t len, size_t *need) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, in, len);
    int rc = sf__wire_peek(p, len, need);
    free(p);
    return rc;
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int n_roundtrips;

/* Encode h (+ v), then peek, decode and re-encode; check every field. */
static void roundtrip(const sf_msg_hdr *h, const sf_value *v, uint8_t how) {
    uint8_t buf[SF_WIRE_MAX + 8];
    memset(buf, 0xEE, sizeof buf);
    int nd = v ? v->ndim : 0;
    size_t n = sf__wire_encode(buf, h, v, how);
    ASSERT_EQ(n, sf__wire_size(nd));
    ASSERT_EQ(buf[n], 0xEE); /* nothing written past the header */
    size_t need = 0;
    if (ASSERT_OK(peek_copy(buf, SF_WIRE_FIXED, &need))) ASSERT_EQ(need, n);
    if (ASSERT_OK(peek_copy(buf, n, &need))) ASSERT_EQ(need, n);
    uint64_t nb = v ? v->nbytes : 0;
    sf_wire_msg m;
    int rc = decode_copy(buf, n, nb, &m);
    ASSERT_OK(rc);
    if (rc) return;
    n_roundtrips++;
    if (ASSERT_EQ(m.h.kind, h->kind) && ASSERT_EQ(m.h.line, h->line)) ASSERT_EQ(m.h.obj_id, h->obj_id);
    if (ASSERT_EQ(m.h.call_seq, h->call_seq)) ASSERT_EQ(m.h.trace, h->trace);
    if (ASSERT_EQ(strncmp(m.h.file, h->file, 31), 0)) ASSERT_LE(strlen(m.h.file), 31);
    ASSERT_EQ(m.has_val, (v != NULL));
    ASSERT_EQ(m.how, how);
    ASSERT_EQ(m.nbytes, nb);
    ASSERT_EQ(m.ndim, nd);
    if (v) {
        ASSERT_EQ(m.dtype, (sf_dtype)v->dtype);
        for (int i = 0; i < nd; i++) ASSERT_EQ(m.shape[i], v->shape[i]);
    }
    for (int i = nd; i < SF_MAX_DIMS; i++) ASSERT_EQ(m.shape[i], 0);
    /* a bound below the value's size refuses it */
    if (nb > 0) ASSERT_STATUS(decode_copy(buf, n, nb - 1, &m), SF_EINVAL);
    ASSERT_OK(decode_copy(buf, n, UINT64_MAX, &m));
    /* what was decoded encodes to the same bytes */
    uint8_t again[SF_WIRE_MAX];
    sf_value rv = fake_value(m.dtype, m.ndim, m.shape, m.nbytes);
    size_t n2 = sf__wire_encode(again, &m.h, m.has_val ? &rv : NULL, m.how);
    if (ASSERT_EQ(n2, n)) ASSERT_MEM_EQ(again, buf, n);
    /* any other length is refused */
    ASSERT_STATUS(decode_copy(buf, n - 1, UINT64_MAX, &m), SF_EINVAL);
    ASSERT_STATUS(decode_copy(buf, n + 1, UINT64_MAX, &m), SF_EINVAL);
    ASSERT_STATUS(decode_copy(buf, SF_WIRE_FIXED - 1, UINT64_MAX, &m), SF_EINVAL);
    ASSERT_STATUS(peek_copy(buf, SF_WIRE_FIXED - 1, &need), SF_EINVAL);
    ASSERT_STATUS(decode_copy(buf, 0, UINT64_MAX, &m), SF_EINVAL);
    if (nd > 0) ASSERT_STATUS(decode_copy(buf, SF_WIRE_FIXED, UINT64_MAX, &m), SF_EINVAL);
}

/* A valid DATA header for a value of dtype dt and shape, in buf; returns its length. */
static size_t data_hdr(uint8_t *buf, sf_dtype dt, int ndim, const int64_t *shape) {
    sf_msg_hdr h = mk_hdr(SF_MSG_DATA, "data.c");
    int ok;
    size_t el = sf__shape_elems(ndim, shape, &ok);
    sf_value v = fake_value(dt, ndim, shape, el * sf_dtype_size(dt));
    return sf__wire_encode(buf, &h, &v, 0);
}

static int dec(const uint8_t *buf, size_t n) {
    sf_wire_msg m;
    return decode_copy(buf, n, UINT64_MAX, &m);
}

static void test_roundtrips(void) {
    static const char *files[] = {"", "a.c", "exactly_thirty_one_chars_long.c",
                                  "a_call_site_name_much_longer_than_thirty_two_bytes.c"};
    ASSERT_EQ(strlen(files[2]), 31);
    /* kinds without values */
    for (unsigned k = SF_MSG_STATUS; k <= SF_MSG_BYE; k++)
        for (int f = 0; f < 4; f++) {
            sf_msg_hdr h = mk_hdr(k, files[f]);
            roundtrip(&h, NULL, 0);
            roundtrip(&h, NULL, 0xA5);
        }
    /* DATA: every dtype, 0..16 dimensions, also with an empty extent */
    for (int dt = 0; dt < SF_NDTYPES; dt++)
        for (int nd = 0; nd <= SF_MAX_DIMS; nd++)
            for (int empty = 0; empty < 2; empty++) {
                if (empty && nd == 0) continue;
                int64_t shape[SF_MAX_DIMS];
                for (int i = 0; i < nd; i++) shape[i] = 1 + (i * 7 + dt) % 3;
                if (empty) shape[nd / 2] = 0;
                sf_value *v = sf_value_new((sf_dtype)dt, nd, shape);
                ASSERT_NOT_NULL(v);
                if (!v) continue;
                sf_msg_hdr h = mk_hdr(SF_MSG_DATA, files[(dt + nd) % 4]);
                roundtrip(&h, v, (uint8_t)(nd + dt));
                sf_value_unref(&v);
            }
    /* big extents without data behind them: the header only describes the value */
    int64_t big[3] = {INT64_MAX / 8, 1, 1};
    sf_value fv = fake_value(SF_F64, 3, big, (size_t)(INT64_MAX / 8) * 8);
    sf_msg_hdr h = mk_hdr(SF_MSG_DATA, "big.c");
    roundtrip(&h, &fv, 1);
    int64_t zero_big[2] = {0, INT64_MAX};
    fv = fake_value(SF_U8, 2, zero_big, 0);
    roundtrip(&h, &fv, 1);
    /* ERROR: a bytes value (the error chain) */
    sf_value *chain = sf_value_str("task failed: because\nof this");
    h = mk_hdr(SF_MSG_ERROR, "err.c");
    roundtrip(&h, chain, 0);
    sf_value_unref(&chain);
    int64_t e0[1] = {0};
    sf_value *empty_chain = sf_value_new(SF_BYTES, 1, e0);
    roundtrip(&h, empty_chain, 0);
    sf_value_unref(&empty_chain);
    /* header extremes */
    h = mk_hdr(SF_MSG_DATA, "x.c");
    h.line = 0, h.obj_id = 0, h.call_seq = 0, h.trace = 0;
    sf_value *s = sf_value_f64(1.0);
    roundtrip(&h, s, 0);
    h.line = UINT32_MAX, h.obj_id = UINT64_MAX, h.call_seq = UINT64_MAX, h.trace = UINT64_MAX;
    roundtrip(&h, s, 255);
    sf_value_unref(&s);
}

static void test_refusals(void) {
    uint8_t b[SF_WIRE_MAX + 16];
    int64_t shape[2] = {2, 3};
    size_t n = data_hdr(b, SF_I32, 2, shape);
    if (ASSERT_EQ(n, SF_WIRE_FIXED + 16)) ASSERT_OK(dec(b, n));
    size_t need;

    /* version */
    for (int ver = 0; ver < 256; ver += 1) {
        if (ver == SF_WIRE_VERSION) continue;
        uint8_t c[SF_WIRE_MAX];
        memcpy(c, b, n);
        c[0] = (uint8_t)ver;
        ASSERT_STATUS(dec(c, n), SF_EINVAL);
        ASSERT_STATUS(peek_copy(c, n, &need), SF_EINVAL);
    }
    /* unknown kinds (a DATA-shaped header and a value-less one) */
    sf_msg_hdr hs = mk_hdr(SF_MSG_STATUS, "s.c");
    uint8_t st[SF_WIRE_MAX];
    size_t sn = sf__wire_encode(st, &hs, NULL, 0);
    ASSERT_OK(dec(st, sn));
    for (int k = 0; k < 256; k++) {
        if (k >= SF_MSG_DATA && k <= SF_MSG_BYE) continue;
        uint8_t c[SF_WIRE_MAX];
        memcpy(c, b, n);
        c[1] = (uint8_t)k;
        ASSERT_STATUS(dec(c, n), SF_EINVAL);
        memcpy(c, st, sn);
        c[1] = (uint8_t)k;
        ASSERT_STATUS(dec(c, sn), SF_EINVAL);
    }
    /* has_val must match the kind */
    uint8_t c[SF_WIRE_MAX];
    sf_msg_hdr hd = mk_hdr(SF_MSG_DATA, "d.c");
    size_t cn = sf__wire_encode(c, &hd, NULL, 0); /* DATA without a value */
    ASSERT_STATUS(dec(c, cn), SF_EINVAL);
    sf_msg_hdr he = mk_hdr(SF_MSG_ERROR, "e.c");
    cn = sf__wire_encode(c, &he, NULL, 0); /* ERROR without a value */
    ASSERT_STATUS(dec(c, cn), SF_EINVAL);
    for (int dt = 0; dt < SF_NDTYPES; dt++) { /* ERROR's value must be bytes */
        int64_t one[1] = {4};
        sf_value v = fake_value((sf_dtype)dt, 1, one, 4 * sf_dtype_size((sf_dtype)dt));
        cn = sf__wire_encode(c, &he, &v, 0);
        ASSERT_EQ(dec(c, cn), (dt == SF_BYTES ? SF_OK : SF_EINVAL));
    }
    for (unsigned k = SF_MSG_STATUS; k <= SF_MSG_BYE; k++) { /* STATUS and BYE carry none */
        sf_msg_hdr hk = mk_hdr(k, "k.c");
        sf_value v = fake_value(SF_U8, 0, NULL, 1);
        cn = sf__wire_encode(c, &hk, &v, 0);
        ASSERT_STATUS(dec(c, cn), SF_EINVAL);
        int64_t z[1] = {0};
        v = fake_value(SF_BYTES, 1, z, 0); /* even an empty one */
        cn = sf__wire_encode(c, &hk, &v, 0);
        ASSERT_STATUS(dec(c, cn), SF_EINVAL);
        v = fake_value(SF_U8, 0, NULL, 1); /* has_val cleared but a dtype/size left behind */
        cn = sf__wire_encode(c, &hk, &v, 0);
        c[2] = 0;
        c[3] = SF_U8, c[4] = 0, put64(c + 40, 0);
        ASSERT_STATUS(dec(c, SF_WIRE_FIXED), SF_EINVAL);
        c[3] = 0, put64(c + 40, 1);
        ASSERT_STATUS(dec(c, SF_WIRE_FIXED), SF_EINVAL);
        c[3] = 0, put64(c + 40, 0);
        ASSERT_OK(dec(c, SF_WIRE_FIXED));
        cn = sf__wire_encode(c, &hk, NULL, 0);
        c[4] = 1; /* a dimension without a value */
        put64(c + SF_WIRE_FIXED, 0);
        ASSERT_STATUS(dec(c, SF_WIRE_FIXED + 8), SF_EINVAL);
    }
    for (int hv = 2; hv < 256; hv++) { /* has_val is 0 or 1 */
        memcpy(c, b, n);
        c[2] = (uint8_t)hv;
        ASSERT_STATUS(dec(c, n), SF_EINVAL);
    }
    /* reserved bytes */
    for (int off = 6; off < 16; off++) {
        if (off >= 8 && off < 12) continue; /* the line */
        for (int bit = 0; bit < 8; bit++) {
            memcpy(c, b, n);
            c[off] ^= (uint8_t)(1u << bit);
            ASSERT_STATUS(dec(c, n), SF_EINVAL);
        }
    }
    /* dtype >= SF_NDTYPES, with a size that would otherwise match (an empty array) */
    int64_t e[1] = {0};
    size_t en = data_hdr(c, SF_F64, 1, e);
    ASSERT_OK(dec(c, en));
    for (int dt = SF_NDTYPES; dt < 256; dt++) {
        c[3] = (uint8_t)dt;
        ASSERT_STATUS(dec(c, en), SF_EINVAL);
    }
    /* ndim > SF_MAX_DIMS: peek refuses, decode refuses at any length */
    uint8_t wide[SF_WIRE_FIXED + 8 * 255];
    memset(wide, 0, sizeof wide);
    int64_t ones[SF_MAX_DIMS];
    for (int i = 0; i < SF_MAX_DIMS; i++) ones[i] = 1;
    size_t wn = data_hdr(wide, SF_U8, SF_MAX_DIMS, ones);
    ASSERT_OK(dec(wide, wn));
    for (int nd = SF_MAX_DIMS + 1; nd < 256; nd++) {
        wide[4] = (uint8_t)nd;
        for (int i = SF_MAX_DIMS; i < nd; i++) put64(wide + SF_WIRE_FIXED + 8 * i, 1);
        ASSERT_STATUS(peek_copy(wide, SF_WIRE_FIXED, &need), SF_EINVAL);
        ASSERT_STATUS(dec(wide, SF_WIRE_FIXED + 8 * (size_t)nd), SF_EINVAL);
        ASSERT_STATUS(dec(wide, SF_WIRE_MAX), SF_EINVAL);
    }
    /* negative extents, also pairs whose product would match nbytes */
    int64_t neg1[1] = {-1};
    int64_t negpair[2] = {-2, -3};
    int64_t negmin[1] = {INT64_MIN};
    n = data_hdr(c, SF_I32, 1, neg1);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    n = data_hdr(c, SF_I32, 2, shape);
    put64(c + SF_WIRE_FIXED, (uint64_t)negpair[0]);
    put64(c + SF_WIRE_FIXED + 8, (uint64_t)negpair[1]);
    put64(c + 40, 24);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    n = data_hdr(c, SF_U8, 1, e);
    put64(c + SF_WIRE_FIXED, (uint64_t)negmin[0]);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    /* nbytes must be exactly elements x size */
    n = data_hdr(c, SF_I32, 2, shape);
    for (int64_t d = -24; d <= 24; d++) {
        put64(c + 40, (uint64_t)(24 + d));
        ASSERT_EQ(dec(c, n), (d == 0 ? SF_OK : SF_EINVAL));
    }
    put64(c + 40, UINT64_MAX);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    n = data_hdr(c, SF_F64, 0, NULL); /* a scalar is one element */
    ASSERT_OK(dec(c, n));
    put64(c + 40, 0);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    /* element count overflow: the product wraps to a value nbytes could match */
    int64_t wrap2[2] = {(int64_t)1 << 32, (int64_t)1 << 32}; /* 2^64 elements: wraps to 0 */
    int64_t zeros[3] = {0, 0, 0};
    n = data_hdr(c, SF_U8, 2, zeros);
    put64(c + SF_WIRE_FIXED, (uint64_t)wrap2[0]);
    put64(c + SF_WIRE_FIXED + 8, (uint64_t)wrap2[1]);
    put64(c + 40, 0);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    int64_t wrap3[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 0}; /* overflows before the 0 */
    n = data_hdr(c, SF_U8, 3, zeros);
    for (int i = 0; i < 3; i++) put64(c + SF_WIRE_FIXED + 8 * i, (uint64_t)wrap3[i]);
    put64(c + 40, 0);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    /* elements fit, elements x size wraps: 2^61 float64s = 2^64 bytes -> 0 */
    n = data_hdr(c, SF_F64, 1, e);
    put64(c + SF_WIRE_FIXED, (uint64_t)1 << 61);
    put64(c + 40, 0);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    put64(c + SF_WIRE_FIXED, ((uint64_t)1 << 61) + 1); /* wraps to 8 */
    put64(c + 40, 8);
    ASSERT_STATUS(dec(c, n), SF_EINVAL);
    int64_t max_ok[1] = {(int64_t)(UINT64_MAX / 8)}; /* the largest float64 count that fits */
    n = data_hdr(c, SF_F64, 1, max_ok);
    sf_wire_msg m;
    if (ASSERT_OK(decode_copy(c, n, UINT64_MAX, &m))) ASSERT_EQ(m.nbytes, (UINT64_MAX / 8) * 8);
    /* nbytes > max_bytes */
    n = data_hdr(c, SF_I32, 2, shape);
    ASSERT_OK(decode_copy(c, n, 24, &m));
    ASSERT_STATUS(decode_copy(c, n, 23, &m), SF_EINVAL);
    ASSERT_STATUS(decode_copy(c, n, 0, &m), SF_EINVAL);
    n = data_hdr(c, SF_I32, 1, e);
    ASSERT_OK(decode_copy(c, n, 0, &m));
    /* lengths: only the exact header size */
    n = data_hdr(c, SF_I32, 2, shape);
    for (size_t len = 0; len <= SF_WIRE_MAX; len++)
        ASSERT_EQ(dec(c, len), (len == n ? SF_OK : SF_EINVAL));
    for (size_t len = 0; len < SF_WIRE_FIXED; len++) ASSERT_STATUS(peek_copy(c, len, &need), SF_EINVAL);
    for (size_t len = SF_WIRE_FIXED; len <= SF_WIRE_MAX; len++)
        if (ASSERT_OK(peek_copy(c, len, &need))) ASSERT_EQ(need, n);
}

/* A peer-supplied name field with no NUL: 31 characters and a NUL come out. */
static void test_file_field(void) {
    uint8_t c[SF_WIRE_MAX];
    size_t n = data_hdr(c, SF_U8, 0, NULL);
    memset(c + 48, 'A', 32);
    sf_wire_msg m;
    memset(&m, 0x55, sizeof m);
    ASSERT_OK(decode_copy(c, n, UINT64_MAX, &m));
    if (ASSERT_EQ(m.h.file[31], 0) && ASSERT_EQ(strlen(m.h.file), 31)) ASSERT_EQ(m.h.file[30], 'A');
    char line[64];
    snprintf(line, sizeof line, "%s", m.h.file);
    ASSERT_EQ(strlen(line), 31);
    /* bytes after a NUL are not part of the name */
    memset(c + 48, 'B', 32);
    c[48 + 3] = 0;
    if (ASSERT_OK(decode_copy(c, n, UINT64_MAX, &m))) ASSERT_STR_EQ(m.h.file, "BBB");
    /* the encoder truncates a long name to 31 bytes and pads with NULs */
    sf_msg_hdr h = mk_hdr(SF_MSG_STATUS, "");
    memset(h.file, 'C', sizeof h.file); /* not NUL-terminated at all */
    n = sf__wire_encode(c, &h, NULL, 0);
    for (int i = 0; i < 31; i++) ASSERT_EQ(c[48 + i], 'C');
    ASSERT_EQ(c[48 + 31], 0);
    if (ASSERT_OK(decode_copy(c, n, UINT64_MAX, &m))) ASSERT_EQ(strlen(m.h.file), 31);
    h = mk_hdr(SF_MSG_STATUS, "ab");
    memset(h.file + 3, 'Z', sizeof h.file - 3); /* garbage after the NUL is not sent */
    n = sf__wire_encode(c, &h, NULL, 0);
    if (ASSERT_EQ(c[48], 'a')) ASSERT_EQ(c[49], 'b');
    for (int i = 2; i < 32; i++) ASSERT_EQ(c[48 + i], 0);
}

/* Byte order: one header, every byte known. */
static void test_golden(void) {
    sf_msg_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = SF_MSG_DATA;
    h.line = 0x01020304u;
    h.obj_id = 0x1112131415161718ull;
    h.call_seq = 0x2122232425262728ull;
    h.trace = 0x3132333435363738ull;
    strcpy(h.file, "golden.c");
    int64_t shape[2] = {0x0102, 3};
    sf_value v = fake_value(SF_I32, 2, shape, 0x0102 * 3 * 4);
    static const uint8_t golden[SF_WIRE_FIXED + 16] = {
        /* 0 */ 1, 1, 1, 2 /* SF_I32 */, 2, 0x5A, 0, 0,
        /* 8 */ 0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0,
        /* 16 */ 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
        /* 24 */ 0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,
        /* 32 */ 0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31,
        /* 40 */ 0x18, 0x0C, 0, 0, 0, 0, 0, 0, /* 0x0102*3*4 = 3096 = 0x0C18 */
        /* 48 */ 'g', 'o', 'l', 'd', 'e', 'n', '.', 'c', 0, 0, 0, 0, 0, 0, 0, 0,
        /* 64 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        /* 80 */ 0x02, 0x01, 0, 0, 0, 0, 0, 0,
        /* 88 */ 3, 0, 0, 0, 0, 0, 0, 0,
    };
    ASSERT_EQ(SF_I32, 2);
    uint8_t out[SF_WIRE_MAX];
    size_t n = sf__wire_encode(out, &h, &v, 0x5A);
    ASSERT_EQ(n, sizeof golden);
    for (size_t i = 0; i < sizeof golden; i++)
        ASSERT_EQ_MSG(out[i], golden[i], "golden header: byte %zu is 0x%02x, expected 0x%02x", i, out[i],
                      golden[i]);
    sf_wire_msg m;
    ASSERT_OK(decode_copy(golden, sizeof golden, UINT64_MAX, &m));
    ASSERT_EQ(m.h.line, 0x01020304u);
    ASSERT_EQ(m.h.obj_id, 0x1112131415161718ull);
    ASSERT_EQ(m.nbytes, 3096);
    if (ASSERT_EQ(m.shape[0], 0x0102) &&
        ASSERT_EQ(m.shape[1], 3) &&
        ASSERT_EQ(m.how, 0x5A))
        ASSERT_EQ(m.dtype, SF_I32);

    /* the notice's golden bytes */
    sf_wait_notice w;
    memset(&w, 0, sizeof w);
    w.line = 0x0A0B0C0Du;
    w.call_seq = 0x2122232425262728ull;
    w.trace = 0x3132333435363738ull;
    w.obj_id = 0x4142434445464748ull;
    strcpy(w.file, "n.c");
    static const uint8_t gn[SF_WIRE_NOTICE] = {
        1, 0, 0, 0, 0x0D, 0x0C, 0x0B, 0x0A,
        0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,
        0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31,
        0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41,
        'n', '.', 'c', 0,
    };
    uint8_t no[SF_WIRE_NOTICE];
    sf__wire_notice_encode(no, &w);
    ASSERT_MEM_EQ(no, gn, sizeof gn);

    /* the reason's golden bytes */
    uint8_t ro[16];
    size_t rn = sf__wire_reason_encode(ro, -2, "ab");
    static const uint8_t gr[8] = {0xFE, 0xFF, 0xFF, 0xFF, 2, 0, 'a', 'b'};
    if (ASSERT_EQ(rn, 8)) ASSERT_MEM_EQ(ro, gr, 8);
}

static int notice_copy(const uint8_t *in, size_t len, sf_wait_notice *n) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, in, len);
    int rc = sf__wire_notice_decode(p, len, n);
    free(p);
    return rc;
}

static void test_notice(void) {
    static const char *files[] = {"", "wait.c", "exactly_thirty_one_chars_long.c",
                                  "a_call_site_name_much_longer_than_thirty_two_bytes.c"};
    for (int f = 0; f < 4; f++) {
        sf_wait_notice w, r;
        memset(&w, 0, sizeof w);
        w.call_seq = 1000 + (uint64_t)f;
        w.trace = UINT64_MAX - (uint64_t)f;
        w.obj_id = (uint64_t)f << 40;
        w.line = 77u * (uint32_t)f + (f == 3 ? 0xF0000000u : 0);
        snprintf(w.file, sizeof w.file, "%s", files[f]);
        uint8_t b[SF_WIRE_NOTICE + 1];
        b[SF_WIRE_NOTICE] = 0xEE;
        sf__wire_notice_encode(b, &w);
        ASSERT_EQ(b[SF_WIRE_NOTICE], 0xEE);
        memset(&r, 0x55, sizeof r);
        ASSERT_OK(notice_copy(b, SF_WIRE_NOTICE, &r));
        ASSERT_EQ(r.call_seq, w.call_seq);
        ASSERT_EQ(r.trace, w.trace);
        ASSERT_EQ(r.obj_id, w.obj_id);
        ASSERT_EQ(r.line, w.line);
        if (ASSERT_EQ(strncmp(r.file, files[f], 31), 0))
            ASSERT_EQ(strlen(r.file), (f == 3 ? 31 : strlen(files[f])));
        for (size_t len = 0; len <= SF_WIRE_NOTICE + 1; len++)
            if (len != SF_WIRE_NOTICE) ASSERT_STATUS(notice_copy(b, len, &r), SF_EINVAL);
        for (int ver = 0; ver < 256; ver++) {
            uint8_t c[SF_WIRE_NOTICE];
            memcpy(c, b, sizeof c);
            c[0] = (uint8_t)ver;
            ASSERT_EQ(notice_copy(c, sizeof c, &r), (ver == SF_WIRE_VERSION ? SF_OK : SF_EINVAL));
        }
        for (int off = 1; off < 4; off++)
            for (int bit = 0; bit < 8; bit++) {
                uint8_t c[SF_WIRE_NOTICE];
                memcpy(c, b, sizeof c);
                c[off] ^= (uint8_t)(1u << bit);
                ASSERT_STATUS(notice_copy(c, sizeof c, &r), SF_EINVAL);
            }
        /* a name with no NUL */
        memset(b + 32, 'N', 32);
        if (ASSERT_OK(notice_copy(b, SF_WIRE_NOTICE, &r)) &&
            ASSERT_EQ(strlen(r.file), 31))
            ASSERT_EQ(r.file[31], 0);
    }
}

static int reason_copy(const uint8_t *in, size_t len, int *code, char *text, size_t cap) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, in, len);
    int rc = sf__wire_reason_decode(p, len, code, text, cap);
    free(p);
    return rc;
}

static void test_reason(void) {
    uint8_t b[6 + SF_WIRE_REASON_MAX + 64];
    char text[SF_WIRE_REASON_MAX + 1];
    int code = 0;
    /* round trips */
    int codes[] = {0, 1, 5, 125, -1, INT32_MIN, INT32_MAX};
    const char *texts[] = {"", "party bob failed", "two\nlines", NULL};
    for (int i = 0; i < 7; i++)
        for (int t = 0; t < 4; t++) {
            size_t n = sf__wire_reason_encode(b, codes[i], texts[t]);
            size_t tl = texts[t] ? strlen(texts[t]) : 0;
            ASSERT_EQ(n, 6 + tl);
            ASSERT_OK(reason_copy(b, n, &code, text, sizeof text));
            if (ASSERT_EQ(code, codes[i])) ASSERT_STR_EQ(text, texts[t] ? texts[t] : "");
        }
    /* control bytes, a NUL and non-ASCII are sanitised; newlines kept */
    uint8_t raw[] = {9, 0, 0, 0, 9, 0, 'a', 0x01, '\n', 0x7f, 0x80, 0xff, 0, '\t', 'z'};
    ASSERT_OK(reason_copy(raw, sizeof raw, &code, text, sizeof text));
    if (ASSERT_EQ(code, 9)) ASSERT_MEM_EQ(text, "a?\n?????z", 10);
    for (int c = 0; c < 256; c++) {
        uint8_t one[7] = {0, 0, 0, 0, 1, 0, (uint8_t)c};
        ASSERT_OK(reason_copy(one, 7, &code, text, sizeof text));
        int printable = c == '\n' || (c >= 0x20 && c < 0x7f);
        if (ASSERT_EQ(text[0], (printable ? (char)c : '?'))) ASSERT_EQ(text[1], 0);
    }
    /* the encoder cuts a long text at SF_WIRE_REASON_MAX */
    char *longt = malloc(SF_WIRE_REASON_MAX + 100);
    memset(longt, 'L', SF_WIRE_REASON_MAX + 99);
    longt[SF_WIRE_REASON_MAX + 99] = 0;
    size_t n = sf__wire_reason_encode(b, 3, longt);
    if (ASSERT_EQ(n, 6 + SF_WIRE_REASON_MAX) &&
        ASSERT_EQ(b[4], (SF_WIRE_REASON_MAX & 0xff)))
        ASSERT_EQ(b[5], (SF_WIRE_REASON_MAX >> 8));
    if (ASSERT_OK(reason_copy(b, n, &code, text, sizeof text)))
        ASSERT_EQ(strlen(text), SF_WIRE_REASON_MAX);
    free(longt);
    /* over-long lengths are refused, even when the bytes are there */
    uint8_t *big = calloc(1, 6 + 65535);
    for (unsigned len = SF_WIRE_REASON_MAX + 1; len <= 65535; len += (len < 1100 ? 1 : 997)) {
        big[4] = (uint8_t)len, big[5] = (uint8_t)(len >> 8);
        memset(big + 6, 'x', len);
        ASSERT_STATUS(reason_copy(big, 6 + len, &code, text, sizeof text), SF_EINVAL);
    }
    free(big);
    /* the length must match the bytes given; short buffers refused */
    n = sf__wire_reason_encode(b, 3, "hello");
    for (size_t len = 0; len < n + 8; len++)
        ASSERT_EQ(reason_copy(b, len, &code, text, sizeof text), (len == n ? SF_OK : SF_EINVAL));
    /* small caps truncate safely and never write past cap */
    for (size_t cap = 1; cap <= 8; cap++) {
        char *out = malloc(cap);
        memset(out, '#', cap);
        ASSERT_OK(reason_copy(b, n, &code, out, cap));
        size_t want = cap - 1 < 5 ? cap - 1 : 5;
        if (ASSERT_EQ(strlen(out), want)) ASSERT_EQ(strncmp(out, "hello", want), 0);
        free(out);
    }
    ASSERT_STATUS(reason_copy(b, n, &code, text, 0), SF_EINVAL);
}

int main(void) {
    test_roundtrips();
    ASSERT_GT(n_roundtrips, SF_NDTYPES * (2 * SF_MAX_DIMS + 1));
    test_refusals();
    test_file_field();
    test_golden();
    test_notice();
    test_reason();
    printf("wire: %d round trips\n", n_roundtrips);
    TEST_DONE();
}
