/*
 * SPU protocol core, private operands (spu_priv.c): a matrix X held in the clear by one
 * member multiplied with secret operands, in every configuration of spu_test.h and the
 * plaintext simulation, with every member as the owner (in the member-dealer
 * configurations the dealer too):
 *  - exact ring products X[r0..r0+rows) B and X[r0..]^T B, and fixed-point ones within the
 *    truncation's last place, against plaintext;
 *  - the mask is made once: priv_new sends E (8mk per receiver), and then every product
 *    costs the documented bytes, independent of m k: (K + R) n words, not m k;
 *  - rounds per product: semi2k 1 (2 with fxp), aby3 2 (3 with fxp).
 */
#include <math.h>

#include "tests/spu/spu_test.h"

#define M 203 /* rows of X: not a multiple of 8, so row slices start unaligned */
#define K 13
#define NB 2  /* columns of the secret operand */
#define F 18

static u64 XR[M * K], BR[M * NB]; /* ring test values */
static double XD[M * K], BD[M * NB]; /* fixed-point ones */
static u64 XF[M * K], BF[M * NB];

static u64 want_bytes(const tcfg *c, int party, int owner, size_t R, size_t Kin, size_t n, int fxp)
{
    u64 RN = R * n, KN = Kin * n, m1 = (u64)(c->nm - 1);
    if (c->proto == SF_SPU_PLAIN) return 0;
    if (c->proto == SF_SPU_ABY3) {
        int j = (owner + 1) % 3, h = (owner + 2) % 3;
        u64 t = t_tsz(F);
        if (!fxp) return party == j ? 8 * KN + 8 * RN : party == h ? 16 * RN : 8 * RN;
        /* the truncation from additive shares (as matmul_fxp): P0, P1 16, P2 24 + t */
        u64 tr = party == 2 ? (24 + t) * RN : 16 * RN;
        return tr + (party == j ? 8 * KN : party == h ? 8 * RN : 0);
    }
    int dealer = c->dealer < 0 ? 0 : c->dealer;
    u64 b = 0;
    if (party < c->nm && party != owner) b += 8 * KN;
    if (party == dealer && dealer != owner) b += 8 * RN;
    if (fxp) b += party < c->nm ? 8 * m1 * RN : (8 + t_tsz(F)) * RN;
    return b;
}

static int body(trun *r, int party, sf_spu_proto *p)
{
    const tcfg *c = r->cfg;
    int o = *(const int *)r->user, member = party < c->nm;
    sf_spu_share b = {0}, y = {0};
    sf_spu_priv *pr = NULL;
    u64 *out = malloc(8 * K * M * NB + 8);
    if (!out) return SF_ENOMEM;
    tacc acc;
    u64 bytes, rounds;
    for (int fxp = 0; fxp < 2; fxp++) {
        const u64 *X = fxp ? XF : XR;
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_priv_new(p, o, party == o ? X : NULL, M, K, &pr));
        OK(sf_spu_proto_priv_recv(p, pr));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        u64 wnew = 0;
        if (c->proto == SF_SPU_SEMI2K && party == o) wnew = 8 * (u64)M * K * (u64)(c->nm - 1);
        if (c->proto == SF_SPU_ABY3 && party == o) wnew = 8 * (u64)M * K;
        ASSERT_EQ_MSG(bytes, wnew, "[%s] owner %d priv_new: party %d sent %" PRIu64, c->name, o, party, bytes);
        ASSERT_EQ_MSG(rounds, (u64)(c->proto == SF_SPU_PLAIN ? 0 : 1), "[%s] priv_new rounds", c->name);
        /* several products with the one mask: slices, both orientations */
        static const size_t R0[] = {0, 5, 77, 0};
        static const size_t ROWS[] = {M, 31, 126, 1};
        for (int q = 0; q < 4; q++) {
            for (int trans = 0; trans < 2; trans++) {
                size_t r0 = R0[q], rows = ROWS[q], Kin = trans ? rows : K, R = trans ? K : rows;
                const u64 *B = fxp ? BF : BR;
                OK(t_in(p, party, c->nm - 1, B, Kin * NB, &b));
                t_acc_begin(r, party, &acc);
                OK(sf_spu_proto_priv_matmul(p, pr, party == o ? X + r0 * K : NULL, r0, rows, trans, &b, NB, &y, fxp));
                t_acc_end(r, party, &acc, &bytes, &rounds);
                u64 wb = want_bytes(c, party, o, R, Kin, NB, fxp);
                u64 wr = c->proto == SF_SPU_PLAIN ? 0 : c->proto == SF_SPU_ABY3 ? (u64)(2 + fxp) : (u64)(1 + fxp);
                ASSERT_EQ_MSG(bytes, wb, "[%s] owner %d %s rows %zu+%zu trans %d: party %d sent %" PRIu64
                              ", formula %" PRIu64, c->name, o, fxp ? "fxp" : "ring", r0, rows, trans, party, bytes, wb);
                ASSERT_EQ_MSG(rounds, wr, "[%s] owner %d fxp %d trans %d: %" PRIu64 " rounds, formula %" PRIu64,
                              c->name, o, fxp, trans, rounds, wr);
                OK(sf_spu_proto_reveal_to(p, 0, &y, member ? out : NULL));
                if (party != 0) continue;
                ASSERT_EQ(y.n, R * NB);
                for (size_t i = 0; i < R; i++)
                    for (size_t jn = 0; jn < NB; jn++) {
                        u64 ring = 0;
                        double d = 0;
                        for (size_t l = 0; l < Kin; l++) {
                            size_t xi = trans ? (r0 + l) * K + i : (r0 + i) * K + l;
                            ring += X[xi] * B[l * NB + jn];
                            d += XD[xi] * BD[l * NB + jn];
                        }
                        u64 got = out[i * NB + jn];
                        if (!fxp) {
                            ASSERT_EQ_MSG(got, ring, "[%s] owner %d ring trans %d (%zu,%zu)", c->name, o, trans, i, jn);
                        } else {
                            double g = sf_spu_proto_fxp_decode(got, F);
                            ASSERT_LE_MSG(fabs(g - d), ldexp(2 + Kin, -F), "[%s] owner %d fxp trans %d (%zu,%zu): "
                                          "%.9g want %.9g", c->name, o, trans, i, jn, g, d);
                        }
                    }
            }
        }
        sf_spu_proto_priv_free(pr);
        pr = NULL;
    }
    /* bad arguments are refused before any step: an owner out of range, and shapes an owner
     * could announce to make the receivers allocate without bound */
    ASSERT_EQ(sf_spu_proto_priv_new(p, c->nm, NULL, 2, 2, &pr), SF_EINVAL);
    ASSERT_EQ(sf_spu_proto_priv_new(p, 0, NULL, (size_t)1 << 41, 1, &pr), SF_EINVAL);
    ASSERT_EQ(sf_spu_proto_priv_new(p, 0, NULL, (size_t)1 << 21, (size_t)1 << 21, &pr), SF_EINVAL);
    ASSERT_EQ(sf_spu_proto_priv_new(p, 0, NULL, SIZE_MAX, 0, &pr), SF_EINVAL);
    static const int64_t hostile[][2] = {{-1, 1}, {1, -1}, {INT64_MAX, 2}, {2, INT64_MAX},
                                         {(int64_t)1 << 21, (int64_t)1 << 20}, {(int64_t)1 << 41, 0}};
    for (size_t h = 0; h < sizeof hostile / sizeof hostile[0]; h++)
        ASSERT_EQ_MSG(sf_spu_proto_priv_shape_ok(hostile[h][0], hostile[h][1]), 0, "shape %lld x %lld",
                      (long long)hostile[h][0], (long long)hostile[h][1]);
    ASSERT_EQ(sf_spu_proto_priv_shape_ok((int64_t)1 << 20, (int64_t)1 << 20), 1);
    ASSERT_EQ(sf_spu_proto_priv_shape_ok(0, 0), 1);
    sf_spu_proto_share_free(&b);
    sf_spu_proto_share_free(&y);
    free(out);
    return 0;
}

int main(void)
{
    u64 s = 777;
    for (size_t i = 0; i < M * K; i++) {
        XR[i] = t_splitmix(&s);
        XD[i] = round((t_unif(&s) * 20 - 10) * 1024) / 1024; /* exact in fixed point */
        XF[i] = sf_spu_proto_fxp_encode(XD[i], F);
    }
    for (size_t i = 0; i < M * NB; i++) {
        BR[i] = t_splitmix(&s);
        BD[i] = round((t_unif(&s) * 2 - 1) * 4096) / 4096;
        BF[i] = sf_spu_proto_fxp_encode(BD[i], F);
    }
    return t_run_owners(17, body);
}
