/*
 * SPU protocol core, private operands in the 32-bit ring (sf_spu_proto_priv_new32): in
 * every semi2k configuration of spu_test.h (outside and member dealers, 2 to 4 members)
 * and the plaintext simulation, with every member as the owner:
 *  - integer products exact (X and b integers; and fixed-point X times an integer b, the
 *    result shifted back by xs), fixed-point ones within the truncations' last places,
 *    against plaintext; transposed products summed over blocks of 32 rows and a remainder;
 *  - bytes: priv_new32 sends 4mk per receiver (half of priv_new); a product costs the
 *    documented formula: each other member 4Kn, the dealer 4Z, trunc(Kn) first with fxp,
 *    trunc(Z) to extend, Z = blocks x R x n; rounds 2, or 3 with fxp;
 *  - several products at once (sf_spu_proto_priv_matmul_n: every member's matrix, plain
 *    and transposed), in both rings: each result right, the bytes the products' sum, the
 *    rounds one product's (64-bit 1 + fxp, 32-bit 2 + fxp);
 *  - aby3 refuses the 32-bit ring on every member, before sending anything.
 */
#include <math.h>

#include "tests/spu/spu_test.h"

#define M 203
#define K 13
#define NB 2
#define F 18
#define XS 10 /* x32 keeps 8 fraction bits */
#define BLK 32

static u64 XI[M * K], BI[M * NB]; /* integers */
static double XD[M * K], BD[M * NB];
static u64 XF[M * K], BF[M * NB];

static u64 want_bytes(const tcfg *c, int party, int owner, size_t R, size_t Kin, size_t n, size_t nb, int fxp,
                      int L)
{
    if (c->proto == SF_SPU_PLAIN) return 0;
    u64 KN = Kin * n, Z = nb * R * n, m1 = (u64)(c->nm - 1);
    int dealer = c->dealer < 0 ? 0 : c->dealer;
    u64 b = 0;
    if (fxp) b += party < c->nm ? 8 * m1 * KN : (8 + t_tsz(F - XS)) * KN;
    if (party < c->nm && party != owner) b += 4 * KN;
    if (party == dealer && dealer != owner) b += 4 * Z;
    b += party < c->nm ? 8 * m1 * Z : (8 + t_tsz(32 - L)) * Z;
    return b;
}

/* out (R x NB, revealed) against op(X[r0 .. r0+rows)) B: exact for integers; for fixed
 * point within b's truncation to 10 bits (a last place each) plus the result's */
static void check(const char *cfg, const char *what, int id, const u64 *X, const u64 *B, size_t r0, size_t rows,
                  int trans, int fxp, const u64 *out)
{
    size_t Kin = trans ? rows : K, R = trans ? K : rows;
    for (size_t e = 0; e < R * NB; e++) {
        size_t i = e / NB, jn = e % NB;
        u64 ring = 0;
        double d = 0;
        for (size_t l = 0; l < Kin; l++) {
            size_t xi = trans ? (r0 + l) * K + i : (r0 + i) * K + l;
            ring += X[xi] * B[l * NB + jn];
            d += XD[xi] * BD[l * NB + jn];
        }
        if (!fxp)
            ASSERT_EQ_MSG(out[e], ring, "[%s] %s %d trans %d (%zu)", cfg, what, id, trans, e);
        else
            ASSERT_LE_MSG(fabs(sf_spu_proto_fxp_decode(out[e], F) - d), 8 * Kin * ldexp(1, -(F - XS)) + ldexp(2 + Kin, -F),
                          "[%s] %s %d fxp trans %d (%zu): %.9g want %.9g", cfg, what, id, trans, e,
                          sf_spu_proto_fxp_decode(out[e], F), d);
    }
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
    if (c->proto == SF_SPU_ABY3) {
        t_acc_begin(r, party, &acc);
        ASSERT_EQ(sf_spu_proto_priv_new32(p, o, party == o ? XF : NULL, M, K, XS, BLK, &pr), SF_EINVAL);
        t_acc_end(r, party, &acc, &bytes, &rounds);
        ASSERT_EQ(bytes, 0);
        free(out);
        return 0;
    }
    /* kind 0: integer X (xs 0) times integer b; 1: fixed-point X times integer b (shift
     * back by xs); 2: fixed point times fixed point */
    for (int kind = 0; kind < 3; kind++) {
        const u64 *X = kind ? XF : XI, *B = kind == 2 ? BF : BI;
        int xs = kind ? XS : 0, fxp = kind == 2, L = fxp ? 0 : xs;
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_priv_new32(p, o, party == o ? X : NULL, M, K, xs, BLK, &pr));
        OK(sf_spu_proto_priv_recv(p, pr));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        u64 wnew = c->proto == SF_SPU_SEMI2K && party == o ? 4 * (u64)M * K * (u64)(c->nm - 1) : 0;
        ASSERT_EQ_MSG(bytes, wnew, "[%s] owner %d priv_new32: party %d sent %" PRIu64, c->name, o, party, bytes);
        static const size_t R0[] = {0, 5, 77, 0};
        static const size_t ROWS[] = {M, 31, 126, 1};
        for (int q = 0; q < 4; q++) {
            for (int trans = 0; trans < 2; trans++) {
                size_t r0 = R0[q], rows = ROWS[q], Kin = trans ? rows : K, R = trans ? K : rows;
                size_t nb = trans ? (rows + BLK - 1) / BLK : 1;
                OK(t_in(p, party, c->nm - 1, B, Kin * NB, &b));
                t_acc_begin(r, party, &acc);
                OK(sf_spu_proto_priv_matmul(p, pr, party == o ? X + r0 * K : NULL, r0, rows, trans, &b, NB, &y, fxp));
                t_acc_end(r, party, &acc, &bytes, &rounds);
                u64 wb = want_bytes(c, party, o, R, Kin, NB, nb, fxp, L);
                u64 wr = c->proto == SF_SPU_PLAIN ? 0 : (u64)(2 + fxp);
                ASSERT_EQ_MSG(bytes, wb, "[%s] owner %d kind %d rows %zu+%zu trans %d: party %d sent %" PRIu64
                              ", formula %" PRIu64, c->name, o, kind, r0, rows, trans, party, bytes, wb);
                ASSERT_EQ_MSG(rounds, wr, "[%s] owner %d kind %d trans %d: %" PRIu64 " rounds, formula %" PRIu64,
                              c->name, o, kind, trans, rounds, wr);
                OK(sf_spu_proto_reveal_to(p, 0, &y, member ? out : NULL));
                if (party != 0) continue;
                ASSERT_EQ(y.n, R * NB);
                check(c->name, "single", o * 10 + kind, X, B, r0, rows, trans, fxp, out);
            }
        }
        sf_spu_proto_priv_free(pr);
        pr = NULL;
    }
    /* several products in the rounds of one (sf_spu_proto_priv_matmul_n), in both rings:
     * every member owns a matrix; product i is member i's, alternately plain and
     * transposed, on rows 5..130; the bytes are the products' sum, the rounds one's */
    if (o == 0)
        for (int narrow = 0; narrow < 2; narrow++)
            for (int fxp = 0; fxp < 2; fxp++) {
                int nm = c->nm;
                sf_spu_priv *prs[4] = {0};
                sf_spu_share bs[4] = {{0}}, ys[4] = {{0}};
                sf_spu_priv_op ops[4];
                const u64 *X = fxp ? XF : XI, *B = fxp ? BF : BI;
                int xs = narrow && fxp ? XS : 0, L = fxp ? 0 : xs;
                size_t r0 = 5, rows = 126;
                u64 wb = 0;
                for (int i = 0; i < nm; i++) {
                    if (narrow) OK(sf_spu_proto_priv_new32(p, i, party == i ? X : NULL, M, K, xs, BLK, &prs[i]));
                    else OK(sf_spu_proto_priv_new(p, i, party == i ? X : NULL, M, K, &prs[i]));
                }
                for (int i = 0; i < nm; i++) {
                    int trans = i % 2;
                    size_t Kin = trans ? rows : K, R = trans ? K : rows, nb = trans ? (rows + BLK - 1) / BLK : 1;
                    OK(sf_spu_proto_priv_recv(p, prs[i]));
                    OK(t_in(p, party, c->nm - 1, B, Kin * NB, &bs[i]));
                    ops[i] = (sf_spu_priv_op){prs[i], party == i ? X + r0 * K : NULL, r0, rows, trans, &bs[i], NB, &ys[i]};
                    if (!narrow) { /* the 64-bit ring: F 8Kn, corrections 8Rn, fxp's truncation */
                        u64 m1 = (u64)(nm - 1);
                        int dealer = c->dealer < 0 ? 0 : c->dealer;
                        if (c->proto != SF_SPU_PLAIN) {
                            if (party < nm && party != i) wb += 8 * Kin * NB;
                            if (party == dealer && dealer != i) wb += 8 * R * NB;
                            if (fxp) wb += party < nm ? 8 * m1 * R * NB : (8 + t_tsz(F)) * R * NB;
                        }
                    } else {
                        wb += want_bytes(c, party, i, R, Kin, NB, nb, fxp, L);
                    }
                }
                t_acc_begin(r, party, &acc);
                OK(sf_spu_proto_priv_matmul_n(p, ops, nm, fxp));
                t_acc_end(r, party, &acc, &bytes, &rounds);
                u64 wr = c->proto == SF_SPU_PLAIN ? 0 : (u64)((narrow ? 2 : 1) + fxp);
                ASSERT_EQ_MSG(bytes, wb, "[%s] batch ring%d fxp %d: party %d sent %" PRIu64 ", formula %" PRIu64,
                              c->name, narrow ? 32 : 64, fxp, party, bytes, wb);
                ASSERT_EQ_MSG(rounds, wr, "[%s] batch ring%d fxp %d: %" PRIu64 " rounds, want %" PRIu64, c->name,
                              narrow ? 32 : 64, fxp, rounds, wr);
                for (int i = 0; i < nm; i++) {
                    int trans = i % 2;
                    OK(sf_spu_proto_reveal_to(p, 0, &ys[i], member ? out : NULL));
                    if (party == 0) check(c->name, narrow ? "batch ring32" : "batch ring64", i, X, B, r0, rows, trans, fxp, out);
                    sf_spu_proto_share_free(&bs[i]);
                    sf_spu_proto_share_free(&ys[i]);
                    sf_spu_proto_priv_free(prs[i]);
                }
            }
    /* xs beyond the fraction bits is refused on every party */
    ASSERT_EQ(sf_spu_proto_priv_new32(p, 0, party == 0 ? XF : NULL, M, K, F + 1, 0, &pr), SF_EINVAL);
    sf_spu_proto_share_free(&b);
    sf_spu_proto_share_free(&y);
    free(out);
    return 0;
}

int main(void)
{
    u64 s = 4242;
    for (size_t i = 0; i < M * K; i++) {
        XI[i] = (u64)(int64_t)((int)(t_unif(&s) * 2001) - 1000);
        XD[i] = round((t_unif(&s) * 16 - 8) * 256) / 256; /* exact in x32's 8 fraction bits */
        XF[i] = sf_spu_proto_fxp_encode(XD[i], F);
    }
    for (size_t i = 0; i < M * NB; i++) {
        BI[i] = (u64)(int64_t)((int)(t_unif(&s) * 2001) - 1000);
        BD[i] = round((t_unif(&s) * 2 - 1) * 1024) / 1024;
        BF[i] = sf_spu_proto_fxp_encode(BD[i], F);
    }
    return t_run_owners(23, body);
}
