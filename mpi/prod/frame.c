/*
 * Bridge frames (see frame.h).
 *
 *   wire:   u32 len | ciphertext[len]          len: big-endian, = 24 + payload_len + 16
 *   plain:  u8 type | u8 flags | u16 reserved | u32 payload_len | u64 seq | u64 ack | payload
 *
 * Byte order: every multi-byte header field (reserved, payload_len, seq, ack) is
 * BIG-ENDIAN (network order), like the length prefix. reserved must be 0.
 * The 4 prefix bytes are the AEAD's associated data. Nothing here allocates: the
 * length is validated by sf__frame_len before the caller reads or allocates anything,
 * and sf__frame_open decrypts in the caller's buffer.
 */
#include "mpi/prod/frame.h"

#include <string.h>

#include "sfmpi/sf.h"

#define FRAME_MIN_LEN (SF_FRAME_HDR + SF_NOISE_TAG) /* an empty frame's ciphertext */

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint16_t get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

static int type_known(uint8_t t) { return t >= SF_FRAME_DATA && t <= SF_FRAME_NOTICE; }

/* ACK, HEARTBEAT and RESUME carry no payload (frame.h); the other types may. */
static int payload_allowed(uint8_t t, uint32_t payload_len)
{
    return payload_len == 0 || !(t == SF_FRAME_ACK || t == SF_FRAME_HEARTBEAT || t == SF_FRAME_RESUME);
}

int sf__frame_seal(sf_noise_cs *cs, const sf_frame *f, const uint8_t *payload, uint8_t *out,
                   size_t cap, size_t *outlen)
{
    if (!cs || !f || !out || !outlen) return SF_EINVAL;
    if (!type_known(f->type) || !payload_allowed(f->type, f->payload_len)) return SF_EINVAL;
    if (f->payload_len && !payload) return SF_EINVAL;
    if (f->payload_len > UINT32_MAX - 1u - FRAME_MIN_LEN) return SF_EINVAL;
    uint32_t len = FRAME_MIN_LEN + f->payload_len;
    if (cap < (size_t)4 + len) return SF_ERANGE;

    uint8_t *pt = out + 4;
    /* payload first (memmove: the caller may have placed it at out + SF_FRAME_OVERHEAD -
     * SF_NOISE_TAG already), then the header in front of it. */
    if (f->payload_len) memmove(pt + SF_FRAME_HDR, payload, f->payload_len);
    put_be32(out, len);
    pt[0] = f->type;
    pt[1] = f->flags;
    put_be16(pt + 2, 0);
    put_be32(pt + 4, f->payload_len);
    put_be64(pt + 8, f->seq);
    put_be64(pt + 16, f->ack);
    int rc = sf__noise_encrypt(cs, out, 4, pt, (size_t)SF_FRAME_HDR + f->payload_len, pt);
    if (rc) {
        memset(out, 0, (size_t)4 + len); /* never leave plaintext in a send buffer */
        return rc;
    }
    *outlen = (size_t)4 + len;
    return 0;
}

int sf__frame_len(const uint8_t hdr[4], uint32_t max_frame, uint32_t *len)
{
    if (!hdr || !len || max_frame < SF_FRAME_MIN_MAX) return SF_EINVAL;
    uint32_t l = get_be32(hdr);
    if (l == UINT32_MAX || l < FRAME_MIN_LEN || l > max_frame) return SF_EINVAL;
    *len = l;
    return 0;
}

int sf__frame_open(sf_noise_cs *cs, const uint8_t hdr[4], uint8_t *buf, uint32_t len,
                   sf_frame *f)
{
    if (!cs || !hdr || !buf || !f) return SF_EINVAL;
    /* The prefix must describe exactly these bytes (callers get len from sf__frame_len). */
    if (len < FRAME_MIN_LEN || len == UINT32_MAX || get_be32(hdr) != len) return SF_EINVAL;
    int rc = sf__noise_decrypt(cs, hdr, 4, buf, len, buf);
    if (rc) return rc;
    uint32_t plen = len - FRAME_MIN_LEN;
    uint8_t type = buf[0];
    if (!type_known(type) || get_be16(buf + 2) != 0 || get_be32(buf + 4) != plen ||
        !payload_allowed(type, plen)) {
        memset(buf, 0, (size_t)len - SF_NOISE_TAG);
        return SF_EINVAL;
    }
    memset(f, 0, sizeof *f);
    f->type = type;
    f->flags = buf[1];
    f->payload_len = plen;
    f->seq = get_be64(buf + 8);
    f->ack = get_be64(buf + 16);
    f->payload = buf + SF_FRAME_HDR;
    return 0;
}
