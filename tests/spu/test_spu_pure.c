/*
 * SPU protocol core, pure functions: fixed-point encode/decode (rounding, saturation, NaN,
 * int64), make_shares/combine for semi2k (2..5 members) and aby3 (seeded: deterministic
 * and seed-dependent; unseeded: random), aby3 consistency check, argument errors,
 * instance creation errors; the AES-128 PRG: FIPS-197 and SP 800-38A known answers for
 * every implementation the CPU has (AES-NI, VAES), and the implementations agree on long
 * streams of every length.
 */
#include <math.h>

#include "devices/spu/core/spu_internal.h"
#include "tests/spu/spu_test.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", &out[i]);
}

/* AES-128 of one block through the counter-mode interface (nonce = bytes 0..7, counter =
 * bytes 8..15, both little endian) */
static void aes_block(int level, const uint8_t rk[176], const uint8_t in[16], uint8_t out[16])
{
    u64 nonce = 0, ctr = 0;
    for (int b = 0; b < 8; b++) nonce |= (u64)in[b] << (8 * b), ctr |= (u64)in[8 + b] << (8 * b);
    sf__spup_aes128_ctr_at(level, rk, nonce, ctr, out, 1);
}

static void aes_tests(void)
{
    int top = sf__spup_aes_level();
    printf("AES instructions: %s\n", top == 2 ? "AES-NI and VAES-512" : top == 1 ? "AES-NI" : "none");
    if (!top) {
        ASSERT_MSG(!sf_spu_proto_aes_available(), "aes available without instructions");
        return;
    }
    static const struct { const char *key, *in, *out; } kat[] = {
        /* FIPS-197 appendix C.1 */
        {"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a"},
        /* SP 800-38A F.5.1, output blocks 1 and 2 (the cipher of the counter blocks) */
        {"2b7e151628aed2a6abf7158809cf4f3c", "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", "ec8cdf7398607cb0f2d21675ea9ea1e4"},
        {"2b7e151628aed2a6abf7158809cf4f3c", "f0f1f2f3f4f5f6f7f8f9fafbfcfdff00", "362b7c3c6773516318a077d7fc5073ae"},
    };
    for (int level = 1; level <= top; level++)
        for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
            uint8_t key[16], in[16], want[16], got[16], rk[176];
            hex(kat[i].key, key, 16), hex(kat[i].in, in, 16), hex(kat[i].out, want, 16);
            sf__spup_aes128_expand(key, rk);
            aes_block(level, rk, in, got);
            ASSERT_MEM_EQ_MSG(got, want, 16, "AES-128 known answer %zu at level %d", i, level);
        }
    /* implementations agree (VAES runs 16 blocks at a time, then AES-NI for the rest), and a
     * stream is the same whether drawn at once or block by block */
    uint8_t key[16] = {9, 8, 7}, rk[176];
    sf__spup_aes128_expand(key, rk);
    enum { NB = 1000 };
    uint8_t *a = malloc(16 * NB), *b = malloc(16 * NB);
    if (!a || !b) return;
    for (size_t n = 0; n <= 40; n++) {
        memset(a, 0, 16 * NB), memset(b, 1, 16 * NB);
        sf__spup_aes128_ctr_at(top, rk, 77, (u64)1 << 42, a, n);
        for (size_t j = 0; j < n; j++) sf__spup_aes128_ctr_at(1, rk, 77, ((u64)1 << 42) + j, b + 16 * j, 1);
        ASSERT_MEM_EQ_MSG(a, b, 16 * n, "AES-CTR of %zu blocks differs by implementation", n);
    }
    sf__spup_aes128_ctr_at(top, rk, 5, 3, a, NB);
    sf__spup_aes128_ctr_at(1, rk, 5, 3, b, NB);
    ASSERT_MEM_EQ_MSG(a, b, 16 * NB, "AES-CTR of %d blocks differs by implementation", NB);
    free(a), free(b);
}

static int nothing(void *ctx, int peer, const void *b, size_t n)
{
    (void)ctx, (void)peer, (void)b, (void)n;
    return 0;
}
static int nothing_r(void *ctx, int peer, void *b, size_t n)
{
    (void)ctx, (void)peer, (void)b, (void)n;
    return 0;
}

int main(void)
{
    /* ---- fixed point */
    const int f = 18;
    const int64_t max = ((int64_t)1 << 62) - 1;
    ASSERT_EQ_MSG(sf_spu_proto_fxp_encode(1.0, f), (u64)1 << 18, "encode 1");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(-1.5, f), -(3 << 17), "encode -1.5");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_encode(0x1p-19, f), 0, "encode half ulp rounds to even");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_encode(3 * 0x1p-19, f), 2, "encode 1.5 ulp rounds to even");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_encode(0x1p-18, f), 1, "encode 1 ulp");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(-0x1p-18, f), -1, "encode -1 ulp");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(1e300, f), max, "saturate +");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(-1e300, f), -max, "saturate -");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(INFINITY, f), max, "saturate inf");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(-INFINITY, f), -max, "saturate -inf");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_encode(NAN, f), 0, "nan");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(0x1p44, f), max, "2^44 saturates");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode(0x1p43, f), (int64_t)1 << 61, "2^43 fits");
    ASSERT_LT_MSG(sf_spu_proto_fxp_decode(sf_spu_proto_fxp_encode(-1234.5678, f), f) - -1234.5678,
                  0x1p-19, "round trip");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_decode((u64)-(int64_t)3, f), -3 * 0x1p-18, "decode negative");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_encode_int(5, f), (u64)5 << 18, "encode int");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode_int(-5, f), -((int64_t)5 << 18), "encode -int");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode_int(INT64_MAX, f), max, "encode int saturates");
    ASSERT_EQ_MSG((int64_t)sf_spu_proto_fxp_encode_int(INT64_MIN, f), -max, "encode -int saturates");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_decode_int(sf_spu_proto_fxp_encode(2.5, f), f), 3,
                  "decode int ties up");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_decode_int(sf_spu_proto_fxp_encode(-2.5, f), f), -2, "decode -2.5");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_decode_int(sf_spu_proto_fxp_encode(-2.6, f), f), -3, "decode -2.6");
    ASSERT_EQ_MSG(sf_spu_proto_fxp_decode_int(sf_spu_proto_fxp_encode_int(-77, f), f), -77,
                  "int round trip");

    /* ---- make_shares / combine */
    enum { N = 1000 };
    static u64 plain[N], back[N];
    u64 s = 5;
    for (size_t i = 0; i < N; i++) plain[i] = t_splitmix(&s);
    plain[0] = 0, plain[1] = ~(u64)0, plain[2] = (u64)1 << 63;
    uint8_t seed[32] = {1}, seed2[32] = {2};
    for (int proto = 1; proto <= 2; proto++) {
        sf_spu_params prm = {0};
        prm.protocol = (sf_spu_protocol)proto;
        for (int nm = 2; nm <= 5; nm++) {
            if (proto == SF_SPU_ABY3 && nm != 3) {
                sf_spu_share sh[5];
                ASSERT_STATUS_MSG(sf_spu_proto_make_shares(&prm, nm, plain, N, seed, sh), SF_EINVAL,
                                  "aby3 n=%d", nm);
                continue;
            }
            sf_spu_share a[5], b[5], c[5];
            ASSERT_EQ_MSG(sf_spu_proto_make_shares(&prm, nm, plain, N, seed, a), 0, "make");
            ASSERT_EQ_MSG(sf_spu_proto_make_shares(&prm, nm, plain, N, seed, b), 0, "make again");
            ASSERT_EQ_MSG(sf_spu_proto_make_shares(&prm, nm, plain, N, NULL, c), 0, "make random");
            for (int i = 0; i < nm; i++) {
                ASSERT_MSG(a[i].n == N && a[i].nwords == (proto == 2 ? 2 : 1), "shape");
                ASSERT_MEM_EQ_MSG(a[i].w, b[i].w, N * 8 * (size_t)a[i].nwords, "seeded: deterministic");
                ASSERT_MSG(memcmp(a[i].w, c[i].w, N * 8 * (size_t)a[i].nwords), "random differs");
            }
            memset(back, 0, sizeof back);
            ASSERT_MSG(sf_spu_proto_combine(&prm, nm, a, back) == 0 && !memcmp(back, plain, sizeof back), "combine");
            memset(back, 0, sizeof back);
            ASSERT_MSG(sf_spu_proto_combine(&prm, nm, c, back) == 0 && !memcmp(back, plain, sizeof back),
                       "combine random");
            /* no share alone equals the plaintext */
            for (int i = 0; i < nm; i++) ASSERT_NE_MSG(a[i].w[5], plain[5], "share leaks");
            if (proto == SF_SPU_ABY3) {
                a[1].w[2 * 7] ^= 1; /* break the replication of component x_1 */
                ASSERT_STATUS_MSG(sf_spu_proto_combine(&prm, nm, a, back), SF_EINVAL,
                                  "aby3 inconsistency found");
            }
            sf_spu_share d[5];
            ASSERT_EQ_MSG(sf_spu_proto_make_shares(&prm, nm, plain, N, seed2, d), 0, "make seed2");
            ASSERT_MSG(memcmp(d[0].w, b[0].w, N * 8), "seed changes shares");
            for (int i = 0; i < nm; i++) {
                sf_spu_proto_share_free(&a[i]);
                sf_spu_proto_share_free(&b[i]);
                sf_spu_proto_share_free(&c[i]);
                sf_spu_proto_share_free(&d[i]);
            }
        }
    }
    sf_spu_params prm = {0};
    prm.protocol = SF_SPU_SEMI2K;
    sf_spu_share one[2];
    ASSERT_STATUS_MSG(sf_spu_proto_make_shares(&prm, 1, plain, N, NULL, one), SF_EINVAL, "1 member");
    ASSERT_STATUS_MSG(sf_spu_proto_make_shares(&prm, 2, NULL, N, NULL, one), SF_EINVAL, "NULL plain");

    /* ---- create errors */
    sf_spu_net net = {0};
    net.send = nothing;
    net.recv = nothing_r;
    sf_spu_proto *p = NULL;
    net.n = 1, net.self = 0;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "semi2k 1 member");
    net.n = 2, net.self = 2, prm.dealer = 1;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "self 2 but dealer is member 1");
    net.self = 0, prm.dealer = 3;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "dealer 3 of 2");
    prm.dealer = 2, prm.fxp_bits = 31;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "fxp 31");
    prm.fxp_bits = 0;
    ASSERT_MSG(sf_spu_proto_create(&prm, &net, &p) == 0 && sf_spu_proto_fxp_bits(p) == 18 && sf_spu_proto_is_member(p),
               "default fxp");
    sf_spu_share a = {0}, b = {0}, o = {0};
    ASSERT_MSG(sf_spu_proto_share_alloc(&a, 4, 1) == 0 && sf_spu_proto_share_alloc(&b, 5, 1) == 0, "alloc");
    ASSERT_STATUS_MSG(sf_spu_proto_add(p, &a, &b, &o), SF_EINVAL, "size mismatch");
    ASSERT_STATUS_MSG(sf_spu_proto_trunc(p, &a, 0, &o), SF_EINVAL, "trunc 0 bits");
    ASSERT_STATUS_MSG(sf_spu_proto_trunc(p, &a, 63, &o), SF_EINVAL, "trunc 63 bits");
    ASSERT_STATUS_MSG(sf_spu_proto_matmul(p, &a, &b, 2, 2, 3, &o), SF_EINVAL, "matmul shape");
    ASSERT_STATUS_MSG(sf_spu_proto_reveal_to(p, 2, &a, back), SF_EINVAL, "reveal to non-member");
    ASSERT_MSG(sf_spu_proto_share_alloc(&b, 4, 2) == 0 && sf_spu_proto_add(p, &a, &b, &o) == SF_EINVAL, "nwords");
    sf_spu_proto_share_free(&a);
    sf_spu_proto_share_free(&b);
    sf_spu_proto_share_free(&o);
    sf_spu_proto_destroy(p);
    prm.protocol = SF_SPU_ABY3;
    net.n = 2;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "aby3 with 2");
    prm.protocol = 7;
    net.n = 3;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "protocol 7");
    prm.protocol = SF_SPU_SEMI2K;
    prm.prg = 9;
    net.n = 2;
    ASSERT_STATUS_MSG(sf_spu_proto_create(&prm, &net, &p), SF_EINVAL, "prg 9");
    prm.prg = SF_SPU_PRG_AES128;
    int rc = sf_spu_proto_create(&prm, &net, &p);
    ASSERT_MSG(sf_spu_proto_aes_available() ? rc == 0 : rc == SF_EINVAL, "AES-128 PRG create: %d", rc);
    if (rc == 0) sf_spu_proto_destroy(p);

    aes_tests();

    int fl = test_failures();
    printf("%s (%d failures)\n", fl ? "FAIL" : "PASS", fl);
    return fl ? 1 : 0;
}
