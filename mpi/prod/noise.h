/*
 * Noise_KK_25519_{ChaChaPoly,AESGCM}_SHA256 (Noise spec rev. 34) on libsodium primitives,
 * plus the transport-phase cipher states the bridge uses for its AEAD frames.
 *
 * KK:   -> s  <- s  (pre-shared: both static keys are pinned by the cluster file)
 *       -> e, es, ss
 *       <- e, ee, se
 * After the two messages, sf__noise_split gives each side its send and receive cipher
 * states (per-direction keys). Cipher states use 64-bit counter nonces: a frame that is
 * replayed, reordered or dropped fails authentication. Nonce 2^64-1 is never used; the
 * bridge rekeys (sf__noise_rekey, the spec's REKEY) long before.
 * Secrets are wiped (sodium_memzero) by sf__noise_wipe / sf__noise_cs_wipe.
 * All functions return 0 or a negative sf_status (SF_EINVAL for bad input / failed
 * authentication, SF_ERANGE for a too-small output buffer).
 */
#ifndef SF_BRIDGE_NOISE_H
#define SF_BRIDGE_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define SF_NOISE_KEY 32
#define SF_NOISE_TAG 16
#define SF_NOISE_HASH 32
#define SF_NOISE_MAX_MSG 65535

typedef enum sf_noise_cipher { SF_NOISE_CHACHAPOLY = 1, SF_NOISE_AESGCM = 2 } sf_noise_cipher;

typedef struct sf_noise_cs {
    uint8_t k[SF_NOISE_KEY];
    uint64_t n;
    int has_key;
    sf_noise_cipher cipher;
} sf_noise_cs;

typedef struct sf_noise_hs {
    sf_noise_cipher cipher;
    int initiator;
    int step; /* messages processed so far (0, 1, 2) */
    uint8_t ck[SF_NOISE_HASH], h[SF_NOISE_HASH];
    sf_noise_cs cs;
    uint8_t s_priv[32], s_pub[32], e_priv[32], e_pub[32], rs[32], re[32];
} sf_noise_hs;

/* "Noise_KK_25519_ChaChaPoly_SHA256" or "..._AESGCM_SHA256". */
const char *sf__noise_protocol_name(sf_noise_cipher c);
/* AES-GCM needs hardware support in libsodium 1.0.18; ChaChaPoly always works. */
int sf__noise_cipher_available(sf_noise_cipher c);

/* e_priv: NULL draws a fresh ephemeral key (randombytes); tests pass the vector's. */
int sf__noise_init(sf_noise_hs *hs, sf_noise_cipher c, int initiator, const uint8_t *prologue,
                   size_t prologue_len, const uint8_t s_priv[32], const uint8_t rs_pub[32],
                   const uint8_t *e_priv);
/* Next handshake message (initiator: message 1; responder: message 2). */
int sf__noise_write(sf_noise_hs *hs, const uint8_t *payload, size_t len, uint8_t *out,
                    size_t cap, size_t *outlen);
int sf__noise_read(sf_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                   size_t cap, size_t *plen);
/* After both messages: the caller's send and receive states; wipes the handshake. */
int sf__noise_split(sf_noise_hs *hs, sf_noise_cs *send, sf_noise_cs *recv,
                    uint8_t handshake_hash[SF_NOISE_HASH]);
void sf__noise_wipe(sf_noise_hs *hs);

/* AEAD with the state's key and nonce n (then n++). out holds len + 16 bytes. */
int sf__noise_encrypt(sf_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                      size_t len, uint8_t *out);
/* in holds len bytes (ciphertext + tag); out receives len - 16 bytes. On failure the
 * nonce does not advance. */
int sf__noise_decrypt(sf_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *in,
                      size_t len, uint8_t *out);
int sf__noise_rekey(sf_noise_cs *cs);
void sf__noise_cs_wipe(sf_noise_cs *cs);

#endif
