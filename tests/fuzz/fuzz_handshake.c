/*
 * libFuzzer target for the Noise KK handshake (mpi/prod/noise.c).
 *
 * data[0] picks the mode; the rest is:
 *  0: handshake message 1, given to a responder;
 *  1: handshake message 2, given to an initiator (after it wrote message 1);
 *  2: an XOR mask over a valid message 1 (length = the mask's): must be accepted
 *     exactly when the mask is all zero over the valid length;
 *  3: the same for message 2;
 *  4: the two payloads of a complete handshake (then a transport message each way).
 * Both ciphers are used (data[0] bit 4) when AES-GCM is available.
 * Invariants are checked with __builtin_trap().
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "mpi/prod/noise.h"

#define REQUIRE(c)                  \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

#define MAXMSG (SF_NOISE_MAX_MSG + 1)

static uint8_t i_priv[32], r_priv[32], i_pub[32], r_pub[32], ie[32], re[32];
static uint8_t msg[MAXMSG], valid[MAXMSG], pay[MAXMSG];
static const uint8_t PRO[] = "fuzz prologue";

static void setup(void)
{
    static int done;
    if (done) return;
    REQUIRE(sodium_init() >= 0);
    for (int i = 0; i < 32; i++) {
        i_priv[i] = (uint8_t)(1 + i);
        r_priv[i] = (uint8_t)(101 + i);
        ie[i] = (uint8_t)(201 + i);
        re[i] = (uint8_t)(31 * i + 7);
    }
    REQUIRE(crypto_scalarmult_base(i_pub, i_priv) == 0);
    REQUIRE(crypto_scalarmult_base(r_pub, r_priv) == 0);
    done = 1;
}

static void init_pair(sf_noise_cipher c, sf_noise_hs *hi, sf_noise_hs *hr)
{
    REQUIRE(sf__noise_init(hi, c, 1, PRO, sizeof PRO, i_priv, r_pub, ie) == 0);
    REQUIRE(sf__noise_init(hr, c, 0, PRO, sizeof PRO, r_priv, i_pub, re) == 0);
}

/* Finish a handshake whose first `done` messages went through; check both sides agree. */
static void finish(sf_noise_hs *hi, sf_noise_hs *hr, int done)
{
    size_t n = 0, pn = 0;
    if (done < 2) {
        REQUIRE(sf__noise_write(hr, (const uint8_t *)"r", 1, msg, sizeof msg, &n) == 0);
        REQUIRE(sf__noise_read(hi, msg, n, pay, sizeof pay, &pn) == 0);
        REQUIRE(pn == 1 && pay[0] == 'r');
    }
    sf_noise_cs is, ir, rs, rr;
    uint8_t h1[32], h2[32], ct[64], pt[64];
    REQUIRE(sf__noise_split(hi, &is, &ir, h1) == 0);
    REQUIRE(sf__noise_split(hr, &rs, &rr, h2) == 0);
    REQUIRE(memcmp(h1, h2, 32) == 0);
    REQUIRE(sf__noise_encrypt(&is, NULL, 0, (const uint8_t *)"ping", 4, ct) == 0);
    REQUIRE(sf__noise_decrypt(&rr, NULL, 0, ct, 20, pt) == 0 && memcmp(pt, "ping", 4) == 0);
    REQUIRE(sf__noise_encrypt(&rs, NULL, 0, (const uint8_t *)"pong", 4, ct) == 0);
    REQUIRE(sf__noise_decrypt(&ir, NULL, 0, ct, 20, pt) == 0 && memcmp(pt, "pong", 4) == 0);
}

static int all_zero_prefix(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    setup();
    int mode = (data[0] & 0x0f) % 5;
    sf_noise_cipher c = (data[0] & 0x10) && sf__noise_cipher_available(SF_NOISE_AESGCM)
                            ? SF_NOISE_AESGCM
                            : SF_NOISE_CHACHAPOLY;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    if (n > MAXMSG) n = MAXMSG;
    sf_noise_hs hi, hr;
    size_t vn = 0, pn = 0;
    init_pair(c, &hi, &hr);

    switch (mode) {
    case 0: /* arbitrary message 1 to a responder */
        if (sf__noise_read(&hr, in, n, pay, sizeof pay, &pn) == 0) {
            REQUIRE(pn + 48 == n);
            /* only possible with the real keys: we cannot forge, so just finish safely */
        }
        break;
    case 1: /* arbitrary message 2 to an initiator */
        REQUIRE(sf__noise_write(&hi, NULL, 0, valid, sizeof valid, &vn) == 0);
        if (sf__noise_read(&hi, in, n, pay, sizeof pay, &pn) == 0) REQUIRE(pn + 48 == n);
        break;
    case 2: /* mask over a valid message 1 */
    case 3: /* mask over a valid message 2 */
    {
        REQUIRE(sf__noise_write(&hi, (const uint8_t *)"payload-1", 9, valid, sizeof valid,
                                &vn) == 0);
        sf_noise_hs *rd = &hr;
        if (mode == 3) {
            REQUIRE(sf__noise_read(&hr, valid, vn, pay, sizeof pay, &pn) == 0);
            REQUIRE(sf__noise_write(&hr, (const uint8_t *)"payload-2", 9, valid,
                                    sizeof valid, &vn) == 0);
            rd = &hi;
        }
        memset(msg, 0, n);
        memcpy(msg, valid, vn < n ? vn : n);
        for (size_t i = 0; i < n; i++) msg[i] ^= in[i];
        int ok = sf__noise_read(rd, msg, n, pay, sizeof pay, &pn) == 0;
        int same = n == vn && all_zero_prefix(in, n);
        REQUIRE(ok == same);
        if (ok) {
            REQUIRE(pn == 9 && memcmp(pay, mode == 2 ? "payload-1" : "payload-2", 9) == 0);
            finish(&hi, &hr, mode == 2 ? 1 : 2);
        } else {
            /* a failed read leaves nothing usable behind */
            REQUIRE(sodium_is_zero((const unsigned char *)rd, sizeof *rd));
        }
        break;
    }
    case 4: /* a complete handshake carrying fuzzer payloads */
    {
        size_t a = n ? in[0] : 0;
        const uint8_t *p = n ? in + 1 : in;
        size_t rest = n ? n - 1 : 0;
        if (a > rest) a = rest;
        size_t b = rest - a;
        if (b > SF_NOISE_MAX_MSG - 48) b = SF_NOISE_MAX_MSG - 48;
        REQUIRE(sf__noise_write(&hi, p, a, valid, sizeof valid, &vn) == 0);
        REQUIRE(vn == a + 48);
        REQUIRE(sf__noise_read(&hr, valid, vn, pay, sizeof pay, &pn) == 0);
        REQUIRE(pn == a && (a == 0 || memcmp(pay, p, a) == 0));
        REQUIRE(sf__noise_write(&hr, p + a, b, valid, sizeof valid, &vn) == 0);
        REQUIRE(vn == b + 48);
        REQUIRE(sf__noise_read(&hi, valid, vn, pay, sizeof pay, &pn) == 0);
        REQUIRE(pn == b && (b == 0 || memcmp(pay, p + a, b) == 0));
        finish(&hi, &hr, 2);
        break;
    }
    }
    sf__noise_wipe(&hi);
    sf__noise_wipe(&hr);
    return 0;
}
