/*
 * Noise_KK_25519_{ChaChaPoly,AESGCM}_SHA256 (Noise Protocol Framework rev. 34) on
 * libsodium: X25519 (crypto_scalarmult), SHA-256 (crypto_hash_sha256), HMAC-SHA256
 * (crypto_auth_hmacsha256) for HKDF, and the IETF ChaCha20-Poly1305 / AES-256-GCM AEADs.
 *
 * Layout of the handshake state (sf_noise_hs) follows the spec's HandshakeState:
 * the SymmetricState is (ck, h, cs); s/e are our key pairs, rs/re the peer's public keys.
 * Any failure while processing a handshake message wipes the whole state (the spec's
 * "abort the handshake"), so a failed handshake cannot be continued by mistake.
 */
#include "mpi/prod/noise.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "sfmpi/sf.h"

#define DHLEN 32
#define NONCE_MAX UINT64_MAX /* reserved by the spec: REKEY only */

/* ------------------------------------------------------------------ library init */

static atomic_int g_sodium_ready; /* 0 unknown, 1 ready */
static atomic_int g_aes_ok;       /* valid once g_sodium_ready */

static int ensure_sodium(void)
{
    if (atomic_load_explicit(&g_sodium_ready, memory_order_acquire)) return 0;
    if (sodium_init() < 0) return SF_ESYS; /* sodium_init is idempotent and thread-safe */
    atomic_store_explicit(&g_aes_ok, crypto_aead_aes256gcm_is_available() ? 1 : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&g_sodium_ready, 1, memory_order_release);
    return 0;
}

const char *sf__noise_protocol_name(sf_noise_cipher c)
{
    switch (c) {
    case SF_NOISE_CHACHAPOLY: return "Noise_KK_25519_ChaChaPoly_SHA256";
    case SF_NOISE_AESGCM: return "Noise_KK_25519_AESGCM_SHA256";
    }
    return NULL;
}

int sf__noise_cipher_available(sf_noise_cipher c)
{
    if (ensure_sodium() != 0) return 0;
    switch (c) {
    case SF_NOISE_CHACHAPOLY: return 1;
    case SF_NOISE_AESGCM: return atomic_load_explicit(&g_aes_ok, memory_order_relaxed);
    }
    return 0;
}

/* ------------------------------------------------------------------ CipherState */

/* 96-bit AEAD nonce: 4 zero bytes, then the 64-bit counter (ChaChaPoly: little-endian,
 * AESGCM: big-endian), as the spec's cipher functions define it. */
static void make_nonce(sf_noise_cipher c, uint64_t n, uint8_t nonce[12])
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(n >> (8 * i));
        if (c == SF_NOISE_AESGCM)
            nonce[11 - i] = b;
        else
            nonce[4 + i] = b;
    }
}

static int cs_valid(const sf_noise_cs *cs)
{
    if (!cs || !cs->has_key) return 0;
    if (cs->cipher == SF_NOISE_CHACHAPOLY) return 1;
    if (cs->cipher == SF_NOISE_AESGCM) return sf__noise_cipher_available(SF_NOISE_AESGCM);
    return 0;
}

/* ENCRYPT(k, n, ad, pt) -> out (len + 16 bytes). No state change. */
static int aead_encrypt(sf_noise_cipher c, const uint8_t k[SF_NOISE_KEY], uint64_t n,
                        const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len,
                        uint8_t *out)
{
    uint8_t nonce[12], dummy[1] = {0};
    unsigned long long clen = 0;
    int rc;
    if (!pt) pt = dummy; /* len == 0: never hand libsodium a NULL pointer */
    if (!ad) ad = dummy;
    make_nonce(c, n, nonce);
    if (c == SF_NOISE_AESGCM) {
        if (len > crypto_aead_aes256gcm_MESSAGEBYTES_MAX) return SF_EINVAL;
        rc = crypto_aead_aes256gcm_encrypt(out, &clen, pt, len, ad, adlen, NULL, nonce, k);
    } else {
        if (len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX) return SF_EINVAL;
        rc = crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, ad, adlen, NULL,
                                                       nonce, k);
    }
    return rc == 0 ? 0 : SF_EINVAL;
}

/* DECRYPT(k, n, ad, in) -> out (len - 16 bytes). No state change. */
static int aead_decrypt(sf_noise_cipher c, const uint8_t k[SF_NOISE_KEY], uint64_t n,
                        const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
                        uint8_t *out)
{
    uint8_t nonce[12], dummy[1] = {0};
    unsigned long long mlen = 0;
    int rc;
    if (len < SF_NOISE_TAG) return SF_EINVAL;
    if (!out) out = dummy; /* len == 16: empty plaintext */
    if (!ad) ad = dummy;
    make_nonce(c, n, nonce);
    if (c == SF_NOISE_AESGCM)
        rc = crypto_aead_aes256gcm_decrypt(out, &mlen, NULL, in, len, ad, adlen, nonce, k);
    else
        rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, in, len, ad, adlen,
                                                       nonce, k);
    return rc == 0 ? 0 : SF_EINVAL;
}

int sf__noise_encrypt(sf_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                      size_t len, uint8_t *out)
{
    int rc = ensure_sodium();
    if (rc) return rc;
    if (!cs_valid(cs) || !out || (len && !pt) || (adlen && !ad)) return SF_EINVAL;
    if (len > SIZE_MAX - SF_NOISE_TAG) return SF_EINVAL;
    if (cs->n == NONCE_MAX) return SF_EINVAL; /* nonce space exhausted: rekey/reconnect */
    rc = aead_encrypt(cs->cipher, cs->k, cs->n, ad, adlen, pt, len, out);
    if (rc == 0) cs->n++;
    return rc;
}

int sf__noise_decrypt(sf_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *in,
                      size_t len, uint8_t *out)
{
    int rc = ensure_sodium();
    if (rc) return rc;
    if (!cs_valid(cs) || !in || (adlen && !ad)) return SF_EINVAL;
    if (len < SF_NOISE_TAG || (len > SF_NOISE_TAG && !out)) return SF_EINVAL;
    if (cs->n == NONCE_MAX) return SF_EINVAL;
    rc = aead_decrypt(cs->cipher, cs->k, cs->n, ad, adlen, in, len, out);
    if (rc == 0) cs->n++; /* on failure the nonce stays: the peer's frame was not consumed */
    return rc;
}

int sf__noise_rekey(sf_noise_cs *cs)
{
    static const uint8_t zeros[SF_NOISE_KEY];
    uint8_t tmp[SF_NOISE_KEY + SF_NOISE_TAG];
    int rc = ensure_sodium();
    if (rc) return rc;
    if (!cs_valid(cs)) return SF_EINVAL;
    /* REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros[32]); n unchanged. */
    rc = aead_encrypt(cs->cipher, cs->k, NONCE_MAX, NULL, 0, zeros, sizeof zeros, tmp);
    if (rc == 0) memcpy(cs->k, tmp, SF_NOISE_KEY);
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

void sf__noise_cs_wipe(sf_noise_cs *cs)
{
    if (cs) sodium_memzero(cs, sizeof *cs);
}

/* ------------------------------------------------------------------ SymmetricState */

static void mix_hash(uint8_t h[SF_NOISE_HASH], const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, h, SF_NOISE_HASH);
    if (len) crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, h);
    sodium_memzero(&st, sizeof st);
}

static void hmac(const uint8_t key[SF_NOISE_HASH], const uint8_t *a, size_t alen,
                 const uint8_t *b, size_t blen, uint8_t out[SF_NOISE_HASH])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, SF_NOISE_HASH);
    if (alen) crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen) crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* HKDF(chaining_key, ikm) with two outputs (all KK needs: MixKey and Split). */
static void hkdf2(const uint8_t ck[SF_NOISE_HASH], const uint8_t *ikm, size_t ikmlen,
                  uint8_t out1[SF_NOISE_HASH], uint8_t out2[SF_NOISE_HASH])
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t temp_key[SF_NOISE_HASH], o1[SF_NOISE_HASH];
    hmac(ck, ikm, ikmlen, NULL, 0, temp_key);
    hmac(temp_key, &one, 1, NULL, 0, o1);
    hmac(temp_key, o1, sizeof o1, &two, 1, out2);
    memcpy(out1, o1, sizeof o1); /* out1 may alias ck: write it last */
    sodium_memzero(temp_key, sizeof temp_key);
    sodium_memzero(o1, sizeof o1);
}

static void mix_key(sf_noise_hs *hs, const uint8_t ikm[DHLEN])
{
    uint8_t temp_k[SF_NOISE_HASH];
    hkdf2(hs->ck, ikm, DHLEN, hs->ck, temp_k);
    memcpy(hs->cs.k, temp_k, SF_NOISE_KEY); /* HASHLEN == 32: no truncation */
    hs->cs.n = 0;
    hs->cs.has_key = 1;
    hs->cs.cipher = hs->cipher;
    sodium_memzero(temp_k, sizeof temp_k);
}

static int encrypt_and_hash(sf_noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out,
                            size_t *outlen)
{
    if (!hs->cs.has_key) {
        if (len) memmove(out, pt, len);
        *outlen = len;
    } else {
        int rc = sf__noise_encrypt(&hs->cs, hs->h, SF_NOISE_HASH, pt, len, out);
        if (rc) return rc;
        *outlen = len + SF_NOISE_TAG;
    }
    mix_hash(hs->h, out, *outlen);
    return 0;
}

static int decrypt_and_hash(sf_noise_hs *hs, const uint8_t *in, size_t len, uint8_t *out,
                            size_t *outlen)
{
    /* h' = HASH(h || ciphertext) is computed before decrypting, so `out` may alias `in`. */
    uint8_t h2[SF_NOISE_HASH];
    memcpy(h2, hs->h, SF_NOISE_HASH);
    mix_hash(h2, in, len);
    if (!hs->cs.has_key) {
        if (len) memmove(out, in, len);
        *outlen = len;
    } else {
        int rc = sf__noise_decrypt(&hs->cs, hs->h, SF_NOISE_HASH, in, len, out);
        if (rc) return rc;
        *outlen = len - SF_NOISE_TAG;
    }
    memcpy(hs->h, h2, SF_NOISE_HASH);
    return 0;
}

/* DH(priv, pub) into out; an all-zero result (low-order point) is an error. */
static int dh(const uint8_t priv[32], const uint8_t pub[32], uint8_t out[DHLEN])
{
    if (crypto_scalarmult(out, priv, pub) != 0 || sodium_is_zero(out, DHLEN)) {
        sodium_memzero(out, DHLEN);
        return SF_EINVAL;
    }
    return 0;
}

static int mix_dh(sf_noise_hs *hs, const uint8_t priv[32], const uint8_t pub[32])
{
    uint8_t shared[DHLEN];
    int rc = dh(priv, pub, shared);
    if (rc == 0) mix_key(hs, shared);
    sodium_memzero(shared, sizeof shared);
    return rc;
}

/* ------------------------------------------------------------------ HandshakeState */

void sf__noise_wipe(sf_noise_hs *hs)
{
    if (hs) sodium_memzero(hs, sizeof *hs);
}

/* The static public key, remembered for the last static key seen (a party uses one key
 * for all its handshakes): keyed by a BLAKE2b hash of the private key, so no copy of the
 * secret is kept; saves one X25519 per handshake on the connection's critical path.
 * Under a lock: several bridges may share a process (tests, or two runs of a program). */
static int static_public(uint8_t pub[32], const uint8_t priv[32]) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint8_t key_hash[32], cached_pub[32];
    static int have;
    uint8_t h[32];
    crypto_generichash(h, sizeof h, priv, 32, NULL, 0);
    pthread_mutex_lock(&mu);
    int hit = have && sodium_memcmp(h, key_hash, sizeof h) == 0;
    if (hit) memcpy(pub, cached_pub, 32);
    pthread_mutex_unlock(&mu);
    if (hit) return 0;
    if (crypto_scalarmult_base(pub, priv) != 0) return -1;
    pthread_mutex_lock(&mu);
    memcpy(key_hash, h, sizeof h);
    memcpy(cached_pub, pub, 32);
    have = 1;
    pthread_mutex_unlock(&mu);
    return 0;
}

int sf__noise_init(sf_noise_hs *hs, sf_noise_cipher c, int initiator, const uint8_t *prologue,
                   size_t prologue_len, const uint8_t s_priv[32], const uint8_t rs_pub[32],
                   const uint8_t *e_priv)
{
    int rc = ensure_sodium();
    if (rc) return rc;
    if (!hs) return SF_EINVAL;
    sodium_memzero(hs, sizeof *hs);
    const char *name = sf__noise_protocol_name(c);
    if (!name || !sf__noise_cipher_available(c) || !s_priv || !rs_pub ||
        (prologue_len && !prologue))
        return SF_EINVAL;

    hs->cipher = c;
    hs->initiator = initiator ? 1 : 0;
    hs->step = 0;
    hs->cs.cipher = c;

    /* InitializeSymmetric: h = name padded with zeros to HASHLEN, or HASH(name). */
    size_t nlen = strlen(name);
    if (nlen <= SF_NOISE_HASH)
        memcpy(hs->h, name, nlen);
    else
        crypto_hash_sha256(hs->h, (const uint8_t *)name, nlen);
    memcpy(hs->ck, hs->h, SF_NOISE_HASH);
    mix_hash(hs->h, prologue, prologue_len);

    memcpy(hs->s_priv, s_priv, 32);
    memcpy(hs->rs, rs_pub, 32);
    if (static_public(hs->s_pub, hs->s_priv) != 0) goto bad;
    if (e_priv)
        memcpy(hs->e_priv, e_priv, 32);
    else
        randombytes_buf(hs->e_priv, 32);
    if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0) goto bad;

    /* Pre-messages (-> s, <- s): initiator's static first, then the responder's. */
    if (hs->initiator) {
        mix_hash(hs->h, hs->s_pub, 32);
        mix_hash(hs->h, hs->rs, 32);
    } else {
        mix_hash(hs->h, hs->rs, 32);
        mix_hash(hs->h, hs->s_pub, 32);
    }
    return 0;
bad:
    sf__noise_wipe(hs);
    return SF_EINVAL;
}

/* Our turn to write: initiator at step 0 (message 1), responder at step 1 (message 2). */
static int my_turn_to_write(const sf_noise_hs *hs)
{
    return (hs->initiator && hs->step == 0) || (!hs->initiator && hs->step == 1);
}

static int hs_valid(const sf_noise_hs *hs)
{
    return hs && (hs->cipher == SF_NOISE_CHACHAPOLY || hs->cipher == SF_NOISE_AESGCM);
}

int sf__noise_write(sf_noise_hs *hs, const uint8_t *payload, size_t len, uint8_t *out,
                    size_t cap, size_t *outlen)
{
    if (!hs_valid(hs) || !my_turn_to_write(hs) || !out || !outlen || (len && !payload))
        return SF_EINVAL;
    if (len > SF_NOISE_MAX_MSG - DHLEN - SF_NOISE_TAG) return SF_EINVAL;
    size_t need = DHLEN + len + SF_NOISE_TAG;
    if (cap < need) return SF_ERANGE;

    int rc;
    size_t clen = 0;
    /* Move the payload to its final place first (memmove: payload may overlap out, e.g.
     * payload == out + 32 for in-place use), then write e and encrypt in place. */
    if (len) memmove(out + DHLEN, payload, len);
    /* e */
    memcpy(out, hs->e_pub, DHLEN);
    mix_hash(hs->h, hs->e_pub, DHLEN);
    if (hs->initiator) {
        /* es: DH(e, rs); ss: DH(s, rs) */
        if ((rc = mix_dh(hs, hs->e_priv, hs->rs)) != 0) goto fail;
        if ((rc = mix_dh(hs, hs->s_priv, hs->rs)) != 0) goto fail;
    } else {
        /* ee: DH(e, re); se (responder side): DH(e, rs) */
        if ((rc = mix_dh(hs, hs->e_priv, hs->re)) != 0) goto fail;
        if ((rc = mix_dh(hs, hs->e_priv, hs->rs)) != 0) goto fail;
    }
    if ((rc = encrypt_and_hash(hs, out + DHLEN, len, out + DHLEN, &clen)) != 0) goto fail;
    hs->step++;
    *outlen = DHLEN + clen;
    return 0;
fail:
    sodium_memzero(out, need);
    sf__noise_wipe(hs);
    return rc;
}

int sf__noise_read(sf_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                   size_t cap, size_t *plen)
{
    if (!hs_valid(hs) || my_turn_to_write(hs) || hs->step >= 2 || !msg || !plen)
        return SF_EINVAL;
    if (len > SF_NOISE_MAX_MSG || len < DHLEN + SF_NOISE_TAG) {
        sf__noise_wipe(hs);
        return SF_EINVAL;
    }
    size_t ptlen = len - DHLEN - SF_NOISE_TAG;
    if (cap < ptlen) return SF_ERANGE;
    if (ptlen && !payload) return SF_EINVAL;

    int rc;
    size_t outl = 0;
    /* e */
    memcpy(hs->re, msg, DHLEN);
    mix_hash(hs->h, hs->re, DHLEN);
    if (!hs->initiator) {
        /* es (responder side): DH(s, re); ss: DH(s, rs) */
        if ((rc = mix_dh(hs, hs->s_priv, hs->re)) != 0) goto fail;
        if ((rc = mix_dh(hs, hs->s_priv, hs->rs)) != 0) goto fail;
    } else {
        /* ee: DH(e, re); se (initiator side): DH(s, re) */
        if ((rc = mix_dh(hs, hs->e_priv, hs->re)) != 0) goto fail;
        if ((rc = mix_dh(hs, hs->s_priv, hs->re)) != 0) goto fail;
    }
    if ((rc = decrypt_and_hash(hs, msg + DHLEN, len - DHLEN, payload, &outl)) != 0) goto fail;
    hs->step++;
    *plen = outl;
    return 0;
fail:
    if (payload && ptlen) sodium_memzero(payload, ptlen);
    sf__noise_wipe(hs);
    return rc;
}

int sf__noise_split(sf_noise_hs *hs, sf_noise_cs *send, sf_noise_cs *recv,
                    uint8_t handshake_hash[SF_NOISE_HASH])
{
    if (!hs_valid(hs) || hs->step != 2 || !send || !recv) return SF_EINVAL;
    uint8_t k1[SF_NOISE_HASH], k2[SF_NOISE_HASH];
    hkdf2(hs->ck, NULL, 0, k1, k2);
    /* k1: initiator -> responder, k2: responder -> initiator */
    sf_noise_cs a = {.n = 0, .has_key = 1, .cipher = hs->cipher};
    sf_noise_cs b = {.n = 0, .has_key = 1, .cipher = hs->cipher};
    memcpy(a.k, hs->initiator ? k1 : k2, SF_NOISE_KEY);
    memcpy(b.k, hs->initiator ? k2 : k1, SF_NOISE_KEY);
    *send = a;
    *recv = b;
    if (handshake_hash) memcpy(handshake_hash, hs->h, SF_NOISE_HASH);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    sodium_memzero(&a, sizeof a);
    sodium_memzero(&b, sizeof b);
    sf__noise_wipe(hs);
    return 0;
}
