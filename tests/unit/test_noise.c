/*
 * Unit test of the bridge's Noise KK handshake (mpi/prod/noise.c) and AEAD frames
 * (mpi/prod/frame.c):
 *  - the cacophony KK test vectors (ChaChaPoly and AESGCM), byte for byte, read from the
 *    JSON file given as argv[1] (a missing or unreadable file is a failure);
 *  - negative cases: tampered handshake messages, wrong pinned key, prologue mismatch,
 *    replayed / reordered / dropped frames, bad length prefixes, inconsistent headers,
 *    rekey, nonce exhaustion.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/prod/frame.h"
#include "mpi/prod/noise.h"
#include "sfmpi/sf.h"
#include "tests/check.h"


/* ------------------------------------------------------------------ tiny JSON scan */

typedef struct {
    uint8_t *b;
    size_t n;
} bytes;

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, fp);
        n += r;
        if (r == 0) break;
    }
    fclose(fp);
    buf[n] = 0;
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Find "key" : "hex" in [p, end); returns the decoded bytes and advances *pos past the
 * value. b == NULL when absent or malformed. */
static bytes json_hex(const char *p, const char *end, const char *key, const char **pos)
{
    bytes out = {NULL, 0};
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    size_t pl = strlen(pat);
    const char *q = p;
    for (; q + pl <= end; q++)
        if (memcmp(q, pat, pl) == 0) break;
    if (q + pl > end) return out;
    q += pl;
    while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) q++;
    if (q >= end || *q != ':') return out;
    q++;
    while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) q++;
    if (q >= end || *q != '"') return out;
    q++;
    const char *s = q;
    while (q < end && *q != '"') q++;
    if (q >= end || (q - s) % 2) return out;
    out.n = (size_t)(q - s) / 2;
    out.b = malloc(out.n ? out.n : 1);
    for (size_t i = 0; i < out.n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out.b);
            out.b = NULL;
            return out;
        }
        out.b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (pos) *pos = q + 1;
    return out;
}

/* The text of the vector object whose protocol_name is `name`: [*start, *end). */
static int json_find_vector(const char *js, const char *name, const char **start,
                            const char **end)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", name);
    const char *p = js;
    while ((p = strstr(p, "\"protocol_name\"")) != NULL) {
        const char *v = p + strlen("\"protocol_name\"");
        while (*v == ' ' || *v == ':' || *v == '\n' || *v == '\t' || *v == '\r') v++;
        if (strncmp(v, pat, strlen(pat)) == 0) {
            const char *next = strstr(v, "\"protocol_name\"");
            *start = v;
            *end = next ? next : v + strlen(v);
            return 1;
        }
        p = v;
    }
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static sf_noise_cipher g_cipher;

static int bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void dump_hex(const char *label, const uint8_t *b, size_t n)
{
    fprintf(stderr, "  %s: ", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%02x", b[i]);
    fprintf(stderr, "\n");
}

static void pub_of(uint8_t pub[32], const uint8_t priv[32])
{
    if (crypto_scalarmult_base(pub, priv) != 0) {
        fprintf(stderr, "crypto_scalarmult_base failed\n");
        exit(1);
    }
}

/* ------------------------------------------------------------------ vectors */

static int run_vector(const char *js, const char *name, sf_noise_cipher c)
{
    const char *vs, *ve;
    test_context("%s", name);
    if (!json_find_vector(js, name, &vs, &ve)) {
        TEST_FAIL("vector %s not found in the JSON file", name);
        return 0;
    }
    ASSERT_STR_EQ(sf__noise_protocol_name(c), name);
    bytes ipro = json_hex(vs, ve, "init_prologue", NULL);
    bytes is = json_hex(vs, ve, "init_static", NULL);
    bytes ie = json_hex(vs, ve, "init_ephemeral", NULL);
    bytes irs = json_hex(vs, ve, "init_remote_static", NULL);
    bytes rpro = json_hex(vs, ve, "resp_prologue", NULL);
    bytes rsk = json_hex(vs, ve, "resp_static", NULL);
    bytes re = json_hex(vs, ve, "resp_ephemeral", NULL);
    bytes rrs = json_hex(vs, ve, "resp_remote_static", NULL);
    bytes hh = json_hex(vs, ve, "handshake_hash", NULL);
    int ok = ipro.b && is.b && ie.b && irs.b && rpro.b && rsk.b && re.b && rrs.b && hh.b &&
             is.n == 32 && ie.n == 32 && irs.n == 32 && rsk.n == 32 && re.n == 32 &&
             rrs.n == 32 && hh.n == 32;
    ASSERT(ok);
    bytes pay[6] = {{0}}, ct[6] = {{0}};
    int nmsg = 0;
    const char *mp = strstr(vs, "\"messages\"");
    ASSERT(mp);
    ASSERT_LT(mp, ve);
    if (ok && mp && mp < ve) {
        const char *pos = mp;
        while (nmsg < 6) {
            const char *p2 = pos;
            bytes p = json_hex(pos, ve, "payload", &p2);
            if (!p.b) break;
            bytes cc = json_hex(p2, ve, "ciphertext", &pos);
            if (!cc.b) {
                free(p.b);
                break;
            }
            pay[nmsg] = p;
            ct[nmsg] = cc;
            nmsg++;
        }
    }
    ASSERT_EQ(nmsg, 6);
    int before = test_failures();
    if (ok && nmsg == 6) {
        /* The vector's remote keys are the other side's public keys. */
        uint8_t pub[32];
        pub_of(pub, rsk.b);
        ASSERT_MEM_EQ(pub, irs.b, 32);
        pub_of(pub, is.b);
        ASSERT_MEM_EQ(pub, rrs.b, 32);

        sf_noise_hs hi, hr;
        ASSERT_OK(sf__noise_init(&hi, c, 1, ipro.b, ipro.n, is.b, irs.b, ie.b));
        ASSERT_OK(sf__noise_init(&hr, c, 0, rpro.b, rpro.n, rsk.b, rrs.b, re.b));
        uint8_t buf[1024], pt[1024];
        size_t n = 0, pn = 0;

        /* message 0: initiator -> responder (e, es, ss) */
        ASSERT_OK(sf__noise_write(&hi, pay[0].b, pay[0].n, buf, sizeof buf, &n));
        if (!ASSERT_MSG(bytes_eq(buf, n, ct[0].b, ct[0].n), "message 0 ciphertext differs")) {
            dump_hex("got ", buf, n);
            dump_hex("want", ct[0].b, ct[0].n);
        }
        ASSERT_OK(sf__noise_read(&hr, ct[0].b, ct[0].n, pt, sizeof pt, &pn));
        ASSERT(bytes_eq(pt, pn, pay[0].b, pay[0].n));

        /* message 1: responder -> initiator (e, ee, se) */
        ASSERT_OK(sf__noise_write(&hr, pay[1].b, pay[1].n, buf, sizeof buf, &n));
        if (!ASSERT_MSG(bytes_eq(buf, n, ct[1].b, ct[1].n), "message 1 ciphertext differs")) {
            dump_hex("got ", buf, n);
            dump_hex("want", ct[1].b, ct[1].n);
        }
        ASSERT_OK(sf__noise_read(&hi, ct[1].b, ct[1].n, pt, sizeof pt, &pn));
        ASSERT(bytes_eq(pt, pn, pay[1].b, pay[1].n));

        sf_noise_cs isend, irecv, rsend, rrecv;
        uint8_t hi_h[32], hr_h[32];
        ASSERT_OK(sf__noise_split(&hi, &isend, &irecv, hi_h));
        ASSERT_OK(sf__noise_split(&hr, &rsend, &rrecv, hr_h));
        if (!ASSERT_MSG(memcmp(hi_h, hh.b, 32) == 0 && memcmp(hr_h, hh.b, 32) == 0,
                        "handshake hash differs")) {
            dump_hex("initiator", hi_h, 32);
            dump_hex("responder", hr_h, 32);
            dump_hex("want     ", hh.b, 32);
        }
        /* split wipes the handshake state */
        ASSERT(sodium_is_zero((const unsigned char *)&hi, sizeof hi));

        /* messages 2..5: transport, alternating initiator->responder, responder->initiator */
        for (int i = 2; i < 6; i++) {
            sf_noise_cs *tx = (i % 2 == 0) ? &isend : &rsend;
            sf_noise_cs *rx = (i % 2 == 0) ? &rrecv : &irecv;
            ASSERT_OK(sf__noise_encrypt(tx, NULL, 0, pay[i].b, pay[i].n, buf));
            if (!ASSERT_MSG(bytes_eq(buf, pay[i].n + 16, ct[i].b, ct[i].n),
                            "transport message %d ciphertext differs", i)) {
                dump_hex("got ", buf, pay[i].n + 16);
                dump_hex("want", ct[i].b, ct[i].n);
            }
            ASSERT_OK(sf__noise_decrypt(rx, NULL, 0, ct[i].b, ct[i].n, pt));
            ASSERT(bytes_eq(pt, ct[i].n - 16, pay[i].b, pay[i].n));
        }
        ASSERT_EQ(isend.n, 2);
        ASSERT_EQ(rrecv.n, 2);
        ASSERT_EQ(rsend.n, 2);
        ASSERT_EQ(irecv.n, 2);
        sf__noise_cs_wipe(&isend);
        sf__noise_cs_wipe(&irecv);
        sf__noise_cs_wipe(&rsend);
        sf__noise_cs_wipe(&rrecv);
    }
    bytes all[] = {ipro, is, ie, irs, rpro, rsk, re, rrs, hh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i].b);
    for (int i = 0; i < 6; i++) {
        free(pay[i].b);
        free(ct[i].b);
    }
    if (test_failures() == before) printf("vector %s: ok (2 handshake + 4 transport messages)\n", name);
    return test_failures() == before;
}

/* ------------------------------------------------------------------ negative cases */

typedef struct {
    uint8_t is[32], ip[32], rs[32], rp[32], other_s[32], other_p[32];
} keys;

static keys g_keys;

static void make_keys(void)
{
    randombytes_buf(g_keys.is, 32);
    randombytes_buf(g_keys.rs, 32);
    randombytes_buf(g_keys.other_s, 32);
    pub_of(g_keys.ip, g_keys.is);
    pub_of(g_keys.rp, g_keys.rs);
    pub_of(g_keys.other_p, g_keys.other_s);
}

static const uint8_t PRO[] = "sfmpi test prologue";

/* Fresh initiator/responder with random ephemerals. */
static void start(sf_noise_hs *hi, sf_noise_hs *hr)
{
    ASSERT_OK(sf__noise_init(hi, g_cipher, 1, PRO, sizeof PRO, g_keys.is, g_keys.rp, NULL));
    ASSERT_OK(sf__noise_init(hr, g_cipher, 0, PRO, sizeof PRO, g_keys.rs, g_keys.ip, NULL));
}

/* Complete handshake; returns the four cipher states. */
static int handshake(sf_noise_cs *isend, sf_noise_cs *irecv, sf_noise_cs *rsend,
                     sf_noise_cs *rrecv)
{
    sf_noise_hs hi, hr;
    uint8_t m[256], p[256], h1[32], h2[32];
    size_t n, pn;
    int before = test_failures();
    start(&hi, &hr);
    ASSERT_OK(sf__noise_write(&hi, (const uint8_t *)"hello", 5, m, sizeof m, &n));
    ASSERT_EQ(n, 32 + 5 + 16);
    ASSERT_OK(sf__noise_read(&hr, m, n, p, sizeof p, &pn));
    if (ASSERT_EQ(pn, 5)) ASSERT_MEM_EQ(p, "hello", 5);
    ASSERT_OK(sf__noise_write(&hr, NULL, 0, m, sizeof m, &n));
    ASSERT_EQ(n, 32 + 16); /* empty payload still carries a tag */
    ASSERT_OK(sf__noise_read(&hi, m, n, NULL, 0, &pn));
    ASSERT_EQ(pn, 0);
    ASSERT_OK(sf__noise_split(&hi, isend, irecv, h1));
    ASSERT_OK(sf__noise_split(&hr, rsend, rrecv, h2));
    ASSERT_MEM_EQ(h1, h2, 32);
    return test_failures() == before;
}

static void test_handshake_negative(void)
{
    sf_noise_hs hi, hr;
    uint8_t m1[256], m2[256], t[256], p[256];
    size_t n1, n2, pn;

    /* A flipped bit anywhere in message 1 (e, encrypted payload, tag) fails. */
    start(&hi, &hr);
    ASSERT_OK(sf__noise_write(&hi, (const uint8_t *)"abc", 3, m1, sizeof m1, &n1));
    int flips_ok = 1;
    for (size_t bit = 0; bit < n1 * 8; bit++) {
        sf_noise_hs r2;
        ASSERT_OK(sf__noise_init(&r2, g_cipher, 0, PRO, sizeof PRO, g_keys.rs, g_keys.ip, NULL));
        memcpy(t, m1, n1);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (sf__noise_read(&r2, t, n1, p, sizeof p, &pn) != SF_EINVAL) flips_ok = 0;
        /* a failed read wipes the state: it cannot continue */
        if (sf__noise_write(&r2, NULL, 0, t, sizeof t, &pn) != SF_EINVAL) flips_ok = 0;
    }
    ASSERT(flips_ok);
    /* the untouched message still works */
    ASSERT_OK(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn));
    ASSERT_OK(sf__noise_write(&hr, (const uint8_t *)"xyz", 3, m2, sizeof m2, &n2));

    /* A flipped bit anywhere in message 2 fails at the initiator. */
    flips_ok = 1;
    for (size_t bit = 0; bit < n2 * 8; bit++) {
        sf_noise_hs i2 = hi; /* copy of the initiator after message 1 */
        memcpy(t, m2, n2);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (sf__noise_read(&i2, t, n2, p, sizeof p, &pn) != SF_EINVAL) flips_ok = 0;
        sf__noise_wipe(&i2);
    }
    ASSERT(flips_ok);
    /* truncated / extended message 2 fails */
    {
        sf_noise_hs i2 = hi;
        ASSERT_STATUS(sf__noise_read(&i2, m2, n2 - 1, p, sizeof p, &pn), SF_EINVAL);
        i2 = hi;
        memcpy(t, m2, n2);
        t[n2] = 0;
        ASSERT_STATUS(sf__noise_read(&i2, t, n2 + 1, p, sizeof p, &pn), SF_EINVAL);
        i2 = hi;
        ASSERT_STATUS(sf__noise_read(&i2, m2, 47, p, sizeof p, &pn), SF_EINVAL);
        sf__noise_wipe(&i2);
    }
    ASSERT_OK(sf__noise_read(&hi, m2, n2, p, sizeof p, &pn));
    if (ASSERT_EQ(pn, 3)) ASSERT_MEM_EQ(p, "xyz", 3);
    sf__noise_wipe(&hi);
    sf__noise_wipe(&hr);

    /* Wrong responder static: the initiator pins another key -> the responder refuses. */
    ASSERT_OK(sf__noise_init(&hi, g_cipher, 1, PRO, sizeof PRO, g_keys.is, g_keys.other_p, NULL));
    ASSERT_OK(sf__noise_init(&hr, g_cipher, 0, PRO, sizeof PRO, g_keys.rs, g_keys.ip, NULL));
    ASSERT_OK(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1));
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);

    /* An impostor responder (holding other_s) cannot answer an initiator that pins rp. */
    ASSERT_OK(sf__noise_init(&hi, g_cipher, 1, PRO, sizeof PRO, g_keys.is, g_keys.rp, NULL));
    ASSERT_OK(sf__noise_init(&hr, g_cipher, 0, PRO, sizeof PRO, g_keys.other_s, g_keys.ip, NULL));
    ASSERT_OK(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1));
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);

    /* Responder pins another initiator key. */
    ASSERT_OK(sf__noise_init(&hi, g_cipher, 1, PRO, sizeof PRO, g_keys.is, g_keys.rp, NULL));
    ASSERT_OK(sf__noise_init(&hr, g_cipher, 0, PRO, sizeof PRO, g_keys.rs, g_keys.other_p, NULL));
    ASSERT_OK(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1));
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);

    /* Different prologue. */
    static const uint8_t PRO2[] = "sfmpi test prologuE";
    ASSERT_OK(sf__noise_init(&hi, g_cipher, 1, PRO, sizeof PRO, g_keys.is, g_keys.rp, NULL));
    ASSERT_OK(sf__noise_init(&hr, g_cipher, 0, PRO2, sizeof PRO2, g_keys.rs, g_keys.ip, NULL));
    ASSERT_OK(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1));
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);
    /* ... also an empty vs non-empty prologue */
    ASSERT_OK(sf__noise_init(&hr, g_cipher, 0, NULL, 0, g_keys.rs, g_keys.ip, NULL));
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);

    /* The other cipher's protocol name gives a different handshake. */
    if (sf__noise_cipher_available(SF_NOISE_AESGCM)) {
        sf_noise_cipher other = g_cipher == SF_NOISE_AESGCM ? SF_NOISE_CHACHAPOLY : SF_NOISE_AESGCM;
        ASSERT_OK(sf__noise_init(&hr, other, 0, PRO, sizeof PRO, g_keys.rs, g_keys.ip, NULL));
        ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);
    }

    /* Low-order / zero points: DH output all zero is refused. */
    static const uint8_t zero[32];
    ASSERT_OK(sf__noise_init(&hi, g_cipher, 1, PRO, sizeof PRO, g_keys.is, zero, NULL));
    ASSERT_STATUS(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1), SF_EINVAL);
    ASSERT(sodium_is_zero((const unsigned char *)&hi, sizeof hi));
    start(&hi, &hr);
    ASSERT_OK(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1));
    memset(m1, 0, 32); /* e = 0 */
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn), SF_EINVAL);

    /* Wrong turn / bad arguments / buffers. */
    start(&hi, &hr);
    ASSERT_STATUS(sf__noise_write(&hr, NULL, 0, m1, sizeof m1, &n1), SF_EINVAL); /* not its turn */
    ASSERT_STATUS(sf__noise_read(&hi, m1, 48, p, sizeof p, &pn), SF_EINVAL);    /* not its turn */
    {
        sf_noise_cs a, b;
        ASSERT_STATUS(sf__noise_split(&hi, &a, &b, NULL), SF_EINVAL); /* not finished */
    }
    ASSERT_STATUS(sf__noise_write(&hi, (const uint8_t *)"abcd", 4, m1, 32 + 4 + 15, &n1), SF_ERANGE);
    ASSERT_OK(sf__noise_write(&hi, (const uint8_t *)"abcd", 4, m1, 32 + 4 + 16, &n1));
    ASSERT_STATUS(sf__noise_read(&hr, m1, n1, p, 3, &pn), SF_ERANGE); /* payload buffer too small */
    ASSERT_OK(sf__noise_read(&hr, m1, n1, p, 4, &pn));
    ASSERT_STATUS(sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &n1), SF_EINVAL); /* already wrote */
    ASSERT_STATUS(sf__noise_init(&hi, (sf_noise_cipher)7, 1, PRO, sizeof PRO, g_keys.is, g_keys.rp,
                                 NULL), SF_EINVAL);
    ASSERT_STATUS(sf__noise_init(&hi, g_cipher, 1, NULL, 3, g_keys.is, g_keys.rp, NULL), SF_EINVAL);
    {
        static uint8_t big[SF_NOISE_MAX_MSG + 1];
        static uint8_t bigout[SF_NOISE_MAX_MSG + 64];
        start(&hi, &hr);
        ASSERT_STATUS(sf__noise_write(&hi, big, SF_NOISE_MAX_MSG - 48 + 1, bigout, sizeof bigout, &n1),
                      SF_EINVAL);
        ASSERT_OK(sf__noise_write(&hi, big, SF_NOISE_MAX_MSG - 48, bigout, sizeof bigout, &n1));
        ASSERT_EQ(n1, SF_NOISE_MAX_MSG);
        ASSERT_OK(sf__noise_read(&hr, bigout, n1, big, sizeof big, &pn));
        ASSERT_EQ(pn, SF_NOISE_MAX_MSG - 48);
    }
    /* in-place handshake payload (payload at out + 32) */
    start(&hi, &hr);
    memcpy(m1 + 32, "inplace", 7);
    ASSERT_OK(sf__noise_write(&hi, m1 + 32, 7, m1, sizeof m1, &n1));
    ASSERT_OK(sf__noise_read(&hr, m1, n1, p, sizeof p, &pn));
    if (ASSERT_EQ(pn, 7)) ASSERT_MEM_EQ(p, "inplace", 7);
    sf__noise_wipe(&hi);
    sf__noise_wipe(&hr);

    /* Two handshakes with fresh ephemerals give different keys. */
    sf_noise_cs a1, a2, a3, a4, b1, b2, b3, b4;
    ASSERT(handshake(&a1, &a2, &a3, &a4));
    ASSERT(handshake(&b1, &b2, &b3, &b4));
    ASSERT_NE(memcmp(a1.k, b1.k, 32), 0);
    ASSERT_NE(memcmp(a1.k, a2.k, 32), 0); /* per-direction keys */
    if (ASSERT_MEM_EQ(a1.k, a4.k, 32)) ASSERT_MEM_EQ(a2.k, a3.k, 32);
}

/* ------------------------------------------------------------------ frames */

static int seal(sf_noise_cs *cs, uint8_t type, uint64_t seq, const char *msg, uint8_t *out,
                size_t cap, size_t *n)
{
    sf_frame f = {.type = type, .flags = 0x5a, .payload_len = msg ? (uint32_t)strlen(msg) : 0,
                  .seq = seq, .ack = seq ? seq - 1 : 0};
    return sf__frame_seal(cs, &f, (const uint8_t *)msg, out, cap, n);
}

/* Open a wire frame (copy, so the original stays intact). */
static int open_copy(sf_noise_cs *cs, const uint8_t *wire, size_t n, uint32_t max,
                     sf_frame *f, uint8_t *work)
{
    uint32_t len;
    int rc = sf__frame_len(wire, max, &len);
    if (rc) return rc;
    if ((size_t)len + 4 != n) return SF_EINVAL;
    memcpy(work, wire + 4, len);
    return sf__frame_open(cs, wire, work, len, f);
}

static void test_frames(void)
{
    sf_noise_cs isend, irecv, rsend, rrecv;
    if (!handshake(&isend, &irecv, &rsend, &rrecv)) return;
    uint8_t w1[512], w2[512], w3[512], work[512];
    size_t n1, n2;
    sf_frame f;

    /* round trip both directions */
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 1, "first", w1, sizeof w1, &n1));
    ASSERT_EQ(n1, SF_FRAME_OVERHEAD + 5);
    if (ASSERT_EQ(w1[0], 0) &&
        ASSERT_EQ(w1[1], 0) &&
        ASSERT_EQ(w1[2], 0))
        ASSERT_EQ(w1[3], 24 + 5 + 16); /* big-endian */
    ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
    if (ASSERT_EQ(f.type, SF_FRAME_DATA) &&
        ASSERT_EQ(f.flags, 0x5a) &&
        ASSERT_EQ(f.payload_len, 5) &&
        ASSERT_EQ(f.seq, 1) &&
        ASSERT_EQ(f.ack, 0))
        ASSERT_MEM_EQ(f.payload, "first", 5);
    ASSERT_OK(seal(&rsend, SF_FRAME_ACK, 0, NULL, w2, sizeof w2, &n2));
    ASSERT_EQ(n2, SF_FRAME_OVERHEAD);
    ASSERT_OK(open_copy(&irecv, w2, n2, 4096, &f, work));
    ASSERT_EQ(f.type, SF_FRAME_ACK);
    ASSERT_EQ(f.payload_len, 0);

    /* replay: the same frame again fails (nonce moved on), and does not advance it */
    uint64_t n_before = rrecv.n;
    ASSERT_STATUS(open_copy(&rrecv, w1, n1, 4096, &f, work), SF_EINVAL);
    ASSERT_EQ(rrecv.n, n_before);

    /* reorder: 2 before 1 fails; then 1, 2 in order work */
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 2, "second", w1, sizeof w1, &n1));
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 3, "third", w2, sizeof w2, &n2));
    ASSERT_STATUS(open_copy(&rrecv, w2, n2, 4096, &f, work), SF_EINVAL);
    ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
    if (ASSERT_EQ(f.seq, 2)) ASSERT_MEM_EQ(f.payload, "second", 6);
    ASSERT_OK(open_copy(&rrecv, w2, n2, 4096, &f, work));
    ASSERT_EQ(f.seq, 3);

    /* drop: 4 is lost, 5 cannot be opened */
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 4, "lost", w1, sizeof w1, &n1));
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 5, "after", w2, sizeof w2, &n2));
    ASSERT_STATUS(open_copy(&rrecv, w2, n2, 4096, &f, work), SF_EINVAL);
    ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
    ASSERT_OK(open_copy(&rrecv, w2, n2, 4096, &f, work));

    /* a flipped bit anywhere in a frame (prefix, header, payload, tag) fails */
    ASSERT_OK(seal(&isend, SF_FRAME_HEARTBEAT, 0, NULL, w1, sizeof w1, &n1));
    int flips_ok = 1;
    for (size_t bit = 0; bit < n1 * 8; bit++) {
        memcpy(w3, w1, n1);
        w3[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        uint32_t len;
        if (sf__frame_len(w3, 4096, &len) == 0) {
            memcpy(work, w3 + 4, n1 - 4);
            if (sf__frame_open(&rrecv, w3, work, (uint32_t)(n1 - 4), &f) == 0) flips_ok = 0;
        }
    }
    ASSERT(flips_ok);
    ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
    ASSERT_EQ(f.type, SF_FRAME_HEARTBEAT);

    /* sf__frame_len: 0xFFFFFFFF and lengths below the minimum are refused */
    {
        uint32_t len = 0;
        uint8_t h[4] = {0xff, 0xff, 0xff, 0xff};
        ASSERT_STATUS(sf__frame_len(h, 4096, &len), SF_EINVAL);
        ASSERT_STATUS(sf__frame_len(h, UINT32_MAX, &len), SF_EINVAL);
        for (uint32_t l = 0; l < 40; l++) {
            uint8_t hh[4] = {0, 0, 0, (uint8_t)l};
            ASSERT_STATUS_MSG(sf__frame_len(hh, 4096, &len), SF_EINVAL, "length %u accepted", l);
        }
        uint8_t h40[4] = {0, 0, 0, 40};
        ASSERT_OK(sf__frame_len(h40, 4096, &len));
        ASSERT_EQ(len, 40);
        uint8_t hmax[4] = {0, 0, 0x10, 0x00};
        ASSERT_OK(sf__frame_len(hmax, 4096, &len));
        ASSERT_EQ(len, 4096);
        uint8_t hover[4] = {0, 0, 0x10, 0x01};
        ASSERT_STATUS(sf__frame_len(hover, 4096, &len), SF_EINVAL);
        uint8_t hbig[4] = {0x80, 0, 0, 0};
        ASSERT_STATUS(sf__frame_len(hbig, 1u << 20, &len), SF_EINVAL);
        ASSERT_STATUS(sf__frame_len(h40, SF_FRAME_MIN_MAX - 1, &len), SF_EINVAL); /* bad max */
        ASSERT_OK(sf__frame_len(h40, SF_FRAME_MIN_MAX, &len));
    }

    /* a changed length prefix fails sf__frame_open */
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 6, "0123456789", w1, sizeof w1, &n1));
    {
        uint32_t len = (uint32_t)(n1 - 4);
        uint8_t h[4];
        memcpy(h, w1, 4);
        h[3] ^= 1;
        memcpy(work, w1 + 4, len);
        ASSERT_STATUS(sf__frame_open(&rrecv, h, work, len, &f), SF_EINVAL);
        memcpy(work, w1 + 4, len);
        ASSERT_STATUS(sf__frame_open(&rrecv, h, work, len ^ 1u, &f), SF_EINVAL);
        /* and the AD really binds the prefix: same bytes, other AD -> no */
        sf_noise_cs r2 = rrecv;
        memcpy(work, w1 + 4, len);
        ASSERT_STATUS(sf__noise_decrypt(&r2, h, 4, work, len, work), SF_EINVAL);
        ASSERT_EQ(r2.n, rrecv.n);
        ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
        if (ASSERT_EQ(f.payload_len, 10)) ASSERT_MEM_EQ(f.payload, "0123456789", 10);
    }

    /* Inconsistent headers (authenticated but malformed) are refused. */
    {
        struct {
            uint8_t type;
            uint16_t reserved;
            int32_t plen_delta;
            uint32_t payload;
        } bad[] = {
            {0, 0, 0, 4},  {7, 0, 0, 4}, {0xff, 0, 0, 4}, /* unknown types */
            {SF_FRAME_DATA, 0, 1, 4}, {SF_FRAME_DATA, 0, -1, 4}, /* payload_len != len */
            {SF_FRAME_DATA, 1, 0, 4},                            /* reserved != 0 */
            {SF_FRAME_ACK, 0, 0, 4},  {SF_FRAME_HEARTBEAT, 0, 0, 1}, /* payload on ACK/HB */
            {SF_FRAME_RESUME, 0, 0, 4},                           /* ... and on RESUME */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            uint8_t pt[64] = {0}, wire[128];
            uint32_t plen = bad[i].payload;
            pt[0] = bad[i].type;
            pt[2] = (uint8_t)(bad[i].reserved >> 8);
            pt[3] = (uint8_t)bad[i].reserved;
            uint32_t claimed = (uint32_t)((int32_t)plen + bad[i].plen_delta);
            pt[4] = (uint8_t)(claimed >> 24);
            pt[5] = (uint8_t)(claimed >> 16);
            pt[6] = (uint8_t)(claimed >> 8);
            pt[7] = (uint8_t)claimed;
            uint32_t len = 24 + plen + 16;
            wire[0] = 0, wire[1] = 0, wire[2] = 0, wire[3] = (uint8_t)len;
            ASSERT_OK(sf__noise_encrypt(&isend, wire, 4, pt, 24 + plen, wire + 4));
            ASSERT_STATUS(open_copy(&rrecv, wire, 4 + len, 4096, &f, work), SF_EINVAL);
        }
        /* the channel is still aligned (those frames were consumed) */
        ASSERT_OK(seal(&isend, SF_FRAME_CLOSE, 0, NULL, w1, sizeof w1, &n1));
        ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
        ASSERT_EQ(f.type, SF_FRAME_CLOSE);
    }

    /* seal: bad type, payload on ACK, small buffer */
    {
        sf_frame bf = {.type = 9};
        uint64_t nb = isend.n;
        ASSERT_STATUS(sf__frame_seal(&isend, &bf, NULL, w1, sizeof w1, &n1), SF_EINVAL);
        ASSERT_STATUS(seal(&isend, SF_FRAME_ACK, 0, "x", w1, sizeof w1, &n1), SF_EINVAL);
        ASSERT_STATUS(seal(&isend, SF_FRAME_DATA, 1, "abc", w1, SF_FRAME_OVERHEAD + 2, &n1), SF_ERANGE);
        ASSERT_EQ(isend.n, nb);
        ASSERT_OK(seal(&isend, SF_FRAME_RESUME, 0, NULL, w1, SF_FRAME_OVERHEAD, &n1));
        ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
        ASSERT_EQ(f.type, SF_FRAME_RESUME);
        /* a frame larger than max_frame is refused by sf__frame_len */
        static uint8_t big[1000], bigw[1100], bigwork[1100];
        sf_frame df = {.type = SF_FRAME_DATA, .payload_len = sizeof big, .seq = 1};
        ASSERT_OK(sf__frame_seal(&isend, &df, big, bigw, sizeof bigw, &n1));
        uint32_t len;
        ASSERT_STATUS(sf__frame_len(bigw, 512, &len), SF_EINVAL);
        ASSERT_OK(open_copy(&rrecv, bigw, n1, 2048, &f, bigwork));
        ASSERT_EQ(f.payload_len, sizeof big);
        /* in-place seal: payload already at out + 28 */
        memcpy(w1 + 4 + SF_FRAME_HDR, "zero-copy", 9);
        sf_frame zf = {.type = SF_FRAME_DATA, .payload_len = 9, .seq = 7};
        ASSERT_OK(sf__frame_seal(&isend, &zf, w1 + 4 + SF_FRAME_HDR, w1, sizeof w1, &n1));
        ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
        if (ASSERT_EQ(f.payload_len, 9) &&
            ASSERT_MEM_EQ(f.payload, "zero-copy", 9))
            ASSERT_EQ(f.seq, 7);
    }

    /* Rekey on both sides keeps frames working. */
    ASSERT_OK(sf__noise_rekey(&isend));
    ASSERT_OK(sf__noise_rekey(&rrecv));
    if (ASSERT_MEM_EQ(isend.k, rrecv.k, 32)) ASSERT_EQ(isend.n, rrecv.n);
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 8, "after rekey", w1, sizeof w1, &n1));
    ASSERT_OK(open_copy(&rrecv, w1, n1, 4096, &f, work));
    if (ASSERT_EQ(f.payload_len, 11)) ASSERT_MEM_EQ(f.payload, "after rekey", 11);
    /* A frame sealed before a rekey cannot be opened after it. */
    ASSERT_OK(seal(&isend, SF_FRAME_DATA, 9, "old key", w2, sizeof w2, &n2));
    sf_noise_cs old_r = rrecv;
    ASSERT_OK(sf__noise_rekey(&rrecv));
    ASSERT_STATUS(open_copy(&rrecv, w2, n2, 4096, &f, work), SF_EINVAL);
    ASSERT_OK(open_copy(&old_r, w2, n2, 4096, &f, work)); /* (it was valid before) */
    sf__noise_cs_wipe(&old_r);

    /* REKEY matches the spec: first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros[32]). */
    {
        sf_noise_cs cs = {.n = 5, .has_key = 1, .cipher = g_cipher};
        randombytes_buf(cs.k, 32);
        uint8_t zeros[32] = {0}, ct[48], nonce[12] = {0};
        memset(nonce + 4, 0xff, 8); /* 2^64-1 reads the same in either byte order */
        unsigned long long cl;
        if (g_cipher == SF_NOISE_AESGCM)
            crypto_aead_aes256gcm_encrypt(ct, &cl, zeros, 32, NULL, 0, NULL, nonce, cs.k);
        else
            crypto_aead_chacha20poly1305_ietf_encrypt(ct, &cl, zeros, 32, NULL, 0, NULL, nonce,
                                                      cs.k);
        ASSERT_OK(sf__noise_rekey(&cs));
        ASSERT_MEM_EQ(cs.k, ct, 32);
        ASSERT_EQ(cs.n, 5);
        sf_noise_cs empty = {0};
        ASSERT_STATUS(sf__noise_rekey(&empty), SF_EINVAL);
    }

    /* Nonce encoding per cipher: state n=1 equals a raw AEAD call with the spec's nonce. */
    {
        sf_noise_cs cs = {.n = 0x0102030405060708ull, .has_key = 1, .cipher = g_cipher};
        randombytes_buf(cs.k, 32);
        uint8_t nonce[12] = {0}, ct[32], ct2[32];
        for (int i = 0; i < 8; i++) {
            uint8_t b = (uint8_t)(cs.n >> (8 * i));
            if (g_cipher == SF_NOISE_AESGCM)
                nonce[11 - i] = b;
            else
                nonce[4 + i] = b;
        }
        unsigned long long cl;
        if (g_cipher == SF_NOISE_AESGCM)
            crypto_aead_aes256gcm_encrypt(ct, &cl, (const uint8_t *)"nonce", 5, NULL, 0, NULL,
                                          nonce, cs.k);
        else
            crypto_aead_chacha20poly1305_ietf_encrypt(ct, &cl, (const uint8_t *)"nonce", 5, NULL,
                                                      0, NULL, nonce, cs.k);
        ASSERT_OK(sf__noise_encrypt(&cs, NULL, 0, (const uint8_t *)"nonce", 5, ct2));
        ASSERT_MEM_EQ(ct, ct2, 21);
        /* in place == out of place */
        sf_noise_cs c2 = cs, c3 = cs;
        uint8_t a[64], b[64];
        memcpy(a, "in place encryption test.", 25);
        ASSERT_OK(sf__noise_encrypt(&c2, NULL, 0, a, 25, b));
        ASSERT_OK(sf__noise_encrypt(&c3, NULL, 0, a, 25, a));
        ASSERT_MEM_EQ(a, b, 41);
        c2.n = c3.n = cs.n;
        ASSERT_OK(sf__noise_decrypt(&c2, NULL, 0, a, 41, a));
        ASSERT_MEM_EQ(a, "in place encryption test.", 25);
    }

    /* Nonce exhaustion: 2^64-2 is the last usable nonce; 2^64-1 is refused. */
    {
        sf_noise_cs tx = isend, rx = isend; /* same key (rrecv was rekeyed once more) */
        tx.n = UINT64_MAX - 1;
        rx.n = UINT64_MAX - 1;
        ASSERT_OK(seal(&tx, SF_FRAME_DATA, 10, "last", w1, sizeof w1, &n1));
        ASSERT_EQ(tx.n, UINT64_MAX);
        ASSERT_OK(open_copy(&rx, w1, n1, 4096, &f, work));
        ASSERT_EQ(rx.n, UINT64_MAX);
        ASSERT_STATUS(seal(&tx, SF_FRAME_DATA, 11, "too many", w1, sizeof w1, &n1), SF_EINVAL);
        ASSERT_EQ(tx.n, UINT64_MAX);
        uint8_t pt[8], ct[32];
        ASSERT_STATUS(sf__noise_encrypt(&tx, NULL, 0, pt, 8, ct), SF_EINVAL);
        ASSERT_STATUS(sf__noise_decrypt(&rx, NULL, 0, ct, 24, pt), SF_EINVAL);
        /* rekey at the end still works (it uses the reserved nonce itself) */
        ASSERT_OK(sf__noise_rekey(&tx));
        sf__noise_cs_wipe(&tx);
        sf__noise_cs_wipe(&rx);
    }

    /* A wiped / keyless state refuses to work. */
    sf__noise_cs_wipe(&isend);
    ASSERT(sodium_is_zero((const unsigned char *)&isend, sizeof isend));
    ASSERT_STATUS(seal(&isend, SF_FRAME_DATA, 1, "x", w1, sizeof w1, &n1), SF_EINVAL);
    sf__noise_cs_wipe(&irecv);
    sf__noise_cs_wipe(&rsend);
    sf__noise_cs_wipe(&rrecv);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: %s noise-vectors.json\n", argv[0]);
        return 1;
    }
    char *js = read_file(argv[1]);
    if (!js) {
        fprintf(stderr, "cannot read test vectors %s (the vectors are required)\n", argv[1]);
        return 1;
    }
    ASSERT(sf__noise_cipher_available(SF_NOISE_CHACHAPOLY));
    ASSERT_EQ(sf__noise_cipher_available(SF_NOISE_AESGCM), crypto_aead_aes256gcm_is_available());
    ASSERT(!sf__noise_cipher_available((sf_noise_cipher)0));
    ASSERT_NULL(sf__noise_protocol_name((sf_noise_cipher)3));

    run_vector(js, "Noise_KK_25519_ChaChaPoly_SHA256", SF_NOISE_CHACHAPOLY);
    if (sf__noise_cipher_available(SF_NOISE_AESGCM))
        run_vector(js, "Noise_KK_25519_AESGCM_SHA256", SF_NOISE_AESGCM);
    else
        printf("NOTE: AES-GCM unavailable on this CPU (libsodium needs AES-NI/PCLMUL): "
               "AESGCM vector and cases not run\n");
    free(js);

    make_keys();
    sf_noise_cipher ciphers[] = {SF_NOISE_CHACHAPOLY, SF_NOISE_AESGCM};
    for (int i = 0; i < 2; i++) {
        if (!sf__noise_cipher_available(ciphers[i])) continue;
        g_cipher = ciphers[i];
        test_context("%s", sf__noise_protocol_name(g_cipher));
        int before = test_failures();
        test_handshake_negative();
        test_frames();
        if (test_failures() == before) printf("negative cases %s: ok\n", sf__noise_protocol_name(g_cipher));
    }
    if (test_failures()) {
        fprintf(stderr, "test_noise: %d check(s) failed\n", test_failures());
        return 1;
    }
    printf("test_noise: all checks passed\n");
    return 0;
}
