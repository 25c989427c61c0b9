/* The wire layer: see wire.h for the formats. */
#include "mpi/wire.h"

#include <string.h>

#include "core/value.h"

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A 32-byte call-site name field: at most 31 bytes, then NUL padding. */
static void put_file(uint8_t *p, const char *file) {
    size_t n = strnlen(file, 31);
    memcpy(p, file, n);
    memset(p + n, 0, 32 - n);
}
static void get_file(char dst[32], const uint8_t *p) {
    memcpy(dst, p, 32);
    dst[31] = 0;
}

size_t sf__wire_encode(uint8_t *out, const sf_msg_hdr *h, const sf_value *v, uint8_t how) {
    int nd = v ? v->ndim : 0;
    out[0] = SF_WIRE_VERSION;
    out[1] = (uint8_t)h->kind;
    out[2] = v != NULL;
    out[3] = v ? v->dtype : 0;
    out[4] = (uint8_t)nd;
    out[5] = how;
    put16(out + 6, 0);
    put32(out + 8, h->line);
    put32(out + 12, 0);
    put64(out + 16, h->obj_id);
    put64(out + 24, h->call_seq);
    put64(out + 32, h->trace);
    put64(out + 40, v ? v->nbytes : 0);
    put_file(out + 48, h->file);
    for (int i = 0; i < nd; i++) put64(out + SF_WIRE_FIXED + 8 * i, (uint64_t)v->shape[i]);
    return sf__wire_size(nd);
}

int sf__wire_peek(const uint8_t *in, size_t len, size_t *need) {
    if (len < SF_WIRE_FIXED || in[0] != SF_WIRE_VERSION || in[4] > SF_MAX_DIMS) return SF_EINVAL;
    *need = sf__wire_size(in[4]);
    return SF_OK;
}

int sf__wire_decode(const uint8_t *in, size_t len, uint64_t max_bytes, sf_wire_msg *m) {
    size_t need;
    if (sf__wire_peek(in, len, &need) || len != need) return SF_EINVAL;
    memset(m, 0, sizeof *m);
    unsigned kind = in[1];
    m->has_val = in[2];
    m->ndim = in[4];
    m->how = in[5];
    if (m->has_val > 1 || get16(in + 6) || get32(in + 12)) return SF_EINVAL;
    if (kind < SF_MSG_DATA || kind > SF_MSG_BYE) return SF_EINVAL;
    /* DATA and ERROR carry a value (an error chain is bytes); STATUS and BYE none */
    if (m->has_val != (kind == SF_MSG_DATA || kind == SF_MSG_ERROR)) return SF_EINVAL;
    m->h.kind = kind;
    m->h.line = get32(in + 8);
    m->h.obj_id = get64(in + 16);
    m->h.call_seq = get64(in + 24);
    m->h.trace = get64(in + 32);
    m->nbytes = get64(in + 40);
    get_file(m->h.file, in + 48);
    if (!m->has_val) return in[3] || m->ndim || m->nbytes ? SF_EINVAL : SF_OK;
    if (in[3] >= SF_NDTYPES || (kind == SF_MSG_ERROR && in[3] != SF_BYTES)) return SF_EINVAL;
    m->dtype = (sf_dtype)in[3];
    for (int i = 0; i < m->ndim; i++) m->shape[i] = (int64_t)get64(in + SF_WIRE_FIXED + 8 * i);
    int ok = 1;
    size_t elems = sf__shape_elems(m->ndim, m->shape, &ok), bytes;
    if (!ok || __builtin_mul_overflow(elems, sf_dtype_size(m->dtype), &bytes) || bytes != m->nbytes ||
        m->nbytes > max_bytes)
        return SF_EINVAL;
    return SF_OK;
}

void sf__wire_notice_encode(uint8_t out[SF_WIRE_NOTICE], const sf_wait_notice *n) {
    out[0] = SF_WIRE_VERSION;
    out[1] = out[2] = out[3] = 0;
    put32(out + 4, n->line);
    put64(out + 8, n->call_seq);
    put64(out + 16, n->trace);
    put64(out + 24, n->obj_id);
    put_file(out + 32, n->file);
}

int sf__wire_notice_decode(const uint8_t *in, size_t len, sf_wait_notice *n) {
    if (len != SF_WIRE_NOTICE || in[0] != SF_WIRE_VERSION || in[1] || in[2] || in[3]) return SF_EINVAL;
    n->line = get32(in + 4);
    n->call_seq = get64(in + 8);
    n->trace = get64(in + 16);
    n->obj_id = get64(in + 24);
    get_file(n->file, in + 32);
    return SF_OK;
}

size_t sf__wire_reason_encode(uint8_t *out, int code, const char *text) {
    size_t n = strnlen(text ? text : "", SF_WIRE_REASON_MAX);
    put32(out, (uint32_t)code);
    put16(out + 4, (uint16_t)n);
    if (n) memcpy(out + 6, text, n);
    return 6 + n;
}

int sf__wire_reason_decode(const uint8_t *in, size_t len, int *code, char *text, size_t cap) {
    if (len < 6 || cap == 0) return SF_EINVAL;
    size_t n = get16(in + 4);
    if (n > SF_WIRE_REASON_MAX || len != 6 + n) return SF_EINVAL;
    *code = (int)get32(in);
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = in[6 + i];
        text[i] = (c == '\n' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
    }
    text[k] = 0;
    return SF_OK;
}
