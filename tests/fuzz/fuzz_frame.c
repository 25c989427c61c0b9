/*
 * libFuzzer target for the bridge frame layer (mpi/prod/frame.c).
 *
 * data[0] picks the mode, data[1] the channel's max_frame; the rest is:
 *  - even mode: a raw wire stream (u32 length | ciphertext ...) fed to sf__frame_len /
 *    sf__frame_open with a fixed key, as a peer (or an attacker on the wire) would send
 *    it. A buffer is allocated only for a length sf__frame_len accepted.
 *  - odd mode: chunks (u8 length | plaintext) that are *encrypted with the right key*
 *    before being opened, so the header checks after authentication are reached too;
 *    plus a seal/open round trip of a frame built from the input.
 * Invariants are checked with __builtin_trap().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/prod/frame.h"
#include "mpi/prod/noise.h"

#define REQUIRE(c)                 \
    do {                           \
        if (!(c)) __builtin_trap(); \
    } while (0)

static void fixed_pair(sf_noise_cs *tx, sf_noise_cs *rx)
{
    memset(tx, 0, sizeof *tx);
    for (int i = 0; i < SF_NOISE_KEY; i++) tx->k[i] = (uint8_t)(0xA5 ^ (i * 7));
    tx->has_key = 1;
    tx->cipher = SF_NOISE_CHACHAPOLY;
    *rx = *tx;
}

static void check_open_result(const sf_frame *f, const uint8_t *buf, uint32_t len)
{
    REQUIRE(f->type >= SF_FRAME_DATA && f->type <= SF_FRAME_NOTICE);
    REQUIRE((uint64_t)f->payload_len + SF_FRAME_HDR + SF_NOISE_TAG == len);
    REQUIRE(f->payload == buf + SF_FRAME_HDR);
    if (f->type == SF_FRAME_ACK || f->type == SF_FRAME_HEARTBEAT || f->type == SF_FRAME_RESUME)
        REQUIRE(f->payload_len == 0);
}

static void raw_stream(const uint8_t *p, size_t n, uint32_t max_frame)
{
    sf_noise_cs tx, rx;
    fixed_pair(&tx, &rx);
    while (n >= 4) {
        uint32_t len = 0;
        if (sf__frame_len(p, max_frame, &len) != 0) return; /* the channel would drop */
        REQUIRE(len >= SF_FRAME_HDR + SF_NOISE_TAG && len <= max_frame && len != UINT32_MAX);
        if (n - 4 < len) return; /* short read: wait for more */
        uint8_t *buf = malloc(len);
        REQUIRE(buf);
        memcpy(buf, p + 4, len);
        sf_frame f;
        uint64_t before = rx.n;
        int rc = sf__frame_open(&rx, p, buf, len, &f);
        if (rc == 0) {
            check_open_result(&f, buf, len);
        } else {
            /* forged input: authentication fails and the nonce stays */
            REQUIRE(rx.n == before);
        }
        free(buf);
        p += 4 + (size_t)len;
        n -= 4 + (size_t)len;
    }
}

static void sealed_stream(const uint8_t *p, size_t n, uint32_t max_frame)
{
    sf_noise_cs tx, rx;
    fixed_pair(&tx, &rx);
    while (n >= 1) {
        size_t pl = p[0];
        p++, n--;
        if (pl > n) pl = n;
        uint8_t wire[4 + 255 + SF_NOISE_TAG];
        uint32_t len = (uint32_t)(pl + SF_NOISE_TAG);
        wire[0] = (uint8_t)(len >> 24), wire[1] = (uint8_t)(len >> 16);
        wire[2] = (uint8_t)(len >> 8), wire[3] = (uint8_t)len;
        REQUIRE(sf__noise_encrypt(&tx, wire, 4, p, pl, wire + 4) == 0);
        p += pl, n -= pl;
        uint32_t got = 0;
        if (sf__frame_len(wire, max_frame, &got) != 0) {
            REQUIRE(len < SF_FRAME_HDR + SF_NOISE_TAG || len > max_frame);
            rx.n++; /* keep the pair aligned: the frame was never opened */
            continue;
        }
        REQUIRE(got == len);
        sf_frame f;
        int rc = sf__frame_open(&rx, wire, wire + 4, len, &f);
        REQUIRE(rx.n == tx.n); /* authentic frames always consume their nonce */
        if (rc == 0) check_open_result(&f, wire + 4, len);
    }
}

static void round_trip(const uint8_t *p, size_t n, uint32_t max_frame)
{
    if (n < 18) return;
    sf_noise_cs tx, rx;
    fixed_pair(&tx, &rx);
    sf_frame in = {.type = p[0] % 8, .flags = p[1]};
    memcpy(&in.seq, p + 2, 8);
    memcpy(&in.ack, p + 10, 8);
    in.payload_len = (uint32_t)(n - 18);
    const uint8_t *payload = n > 18 ? p + 18 : NULL;
    size_t cap = SF_FRAME_OVERHEAD + in.payload_len;
    uint8_t *out = malloc(cap);
    REQUIRE(out);
    size_t outlen = 0;
    int rc = sf__frame_seal(&tx, &in, payload, out, cap, &outlen);
    if (rc == 0) {
        REQUIRE(outlen == cap);
        uint32_t len = 0;
        if (sf__frame_len(out, max_frame, &len) == 0) {
            sf_frame f;
            REQUIRE(sf__frame_open(&rx, out, out + 4, len, &f) == 0);
            check_open_result(&f, out + 4, len);
            REQUIRE(f.type == in.type && f.flags == in.flags && f.seq == in.seq &&
                    f.ack == in.ack && f.payload_len == in.payload_len);
            REQUIRE(in.payload_len == 0 || memcmp(f.payload, payload, in.payload_len) == 0);
        } else {
            REQUIRE(outlen - 4 > max_frame);
        }
    } else {
        int bad_type = in.type < SF_FRAME_DATA || in.type > SF_FRAME_NOTICE;
        int bad_payload = in.payload_len && (in.type == SF_FRAME_ACK || in.type == SF_FRAME_HEARTBEAT ||
                                             in.type == SF_FRAME_RESUME);
        REQUIRE(bad_type || bad_payload);
        REQUIRE(tx.n == 0);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint32_t max_frame = SF_FRAME_MIN_MAX + (uint32_t)data[1] * 64u;
    if (data[0] & 1) {
        sealed_stream(data + 2, size - 2, max_frame);
        round_trip(data + 2, size - 2, max_frame);
    } else {
        raw_stream(data + 2, size - 2, max_frame);
    }
    return 0;
}
