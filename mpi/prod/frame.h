/*
 * Bridge frames: what travels on a TCP connection after the handshake.
 *
 *   wire:   u32 len (big-endian)  |  ciphertext[len]   (len includes the 16-byte tag)
 *   plain:  u8 type | u8 flags | u16 reserved | u32 payload_len | u64 seq | u64 ack | payload
 *
 * The 4 length bytes are the AEAD's associated data, so a changed length fails
 * authentication. len is checked against the channel's maximum *before* anything is
 * allocated or read (a length of 0xFFFFFFFF is refused at once). Nonces are the cipher
 * state's counters, so a replayed, reordered or dropped frame fails to open.
 * seq: the sender's sequence number of this frame (DATA only, from 1);
 * ack: the highest seq the sender has received in order from its peer (cumulative).
 */
#ifndef SF_BRIDGE_FRAME_H
#define SF_BRIDGE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/prod/noise.h"

enum sf_frame_type {
    SF_FRAME_DATA = 1,      /* payload: a piece of an application message */
    SF_FRAME_ACK = 2,       /* no payload: just the ack field */
    SF_FRAME_HEARTBEAT = 3, /* no payload: liveness (also carries ack) */
    SF_FRAME_RESUME = 4,    /* first frame after a handshake: ack = last seq received */
    SF_FRAME_CLOSE = 5,     /* orderly end of the channel; with flags & SF_FRAME_ABORT the
                               run stops: seq = exit code, payload = the reason (wire.h) */
    SF_FRAME_NOTICE = 6,    /* control: the sender waits for us (payload: a wait notice,
                               wire.h); not part of the reliable stream, resent while it
                               waits */
};

#define SF_FRAME_ABORT 1                        /* CLOSE flag */
#define SF_FRAME_HDR 24                         /* plaintext header bytes */
#define SF_FRAME_OVERHEAD (4 + SF_FRAME_HDR + SF_NOISE_TAG)
#define SF_FRAME_MIN_MAX 256                    /* smallest allowed max_frame */

typedef struct sf_frame {
    uint8_t type, flags;
    uint32_t payload_len;
    uint64_t seq, ack;
    const uint8_t *payload; /* points into the caller's buffer after open */
} sf_frame;

/* Seal a frame into out (cap >= SF_FRAME_OVERHEAD + payload_len); *outlen = wire bytes. */
int sf__frame_seal(sf_noise_cs *cs, const sf_frame *f, const uint8_t *payload, uint8_t *out,
                   size_t cap, size_t *outlen);
/* Parse the 4-byte length prefix: 0 and *len, or SF_EINVAL if len < 16 + SF_FRAME_HDR or
 * len > max_frame (the largest ciphertext the channel allows). */
int sf__frame_len(const uint8_t hdr[4], uint32_t max_frame, uint32_t *len);
/* Open `len` ciphertext bytes (after the prefix) in place; fills f (payload points into
 * buf). SF_EINVAL on authentication failure or an inconsistent header. */
int sf__frame_open(sf_noise_cs *cs, const uint8_t hdr[4], uint8_t *buf, uint32_t len,
                   sf_frame *f);

#endif
