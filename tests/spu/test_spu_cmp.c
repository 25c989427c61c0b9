/*
 * SPU protocol core, comparisons: msb (every 64-bit value), less/greater (exact at
 * equality, at +-1 ulp, on random pairs and near the edges of [-2^62, 2^62)), equal
 * (every 64-bit pair), select and relu; sizes around the 64-bit packing; bytes and rounds
 * against the formulas of spu_proto.h; every configuration of spu_test.h.
 */
#include "tests/spu/spu_test.h"

#define NMAX 20000
static const size_t SIZES[] = {1, 63, 65, 1000, 4161, NMAX};

static u64 A[NMAX], B[NMAX], V[NMAX];

/* less(a, b) is msb(a - b): the signed comparison whenever a - b does not overflow, which
 * holds for every pair below except the full-range pairs of equal's test (every 13th) */
static u64 LT(u64 a, u64 b)
{
    u64 m = (a - b) >> 63;
    if ((int64_t)a >= -((int64_t)1 << 62) && (int64_t)a < ((int64_t)1 << 62) &&
        (int64_t)b >= -((int64_t)1 << 62) && (int64_t)b < ((int64_t)1 << 62) &&
        m != (u64)((int64_t)a < (int64_t)b))
        abort();
    return m;
}

static int ck_bytes(trun *r, int party, const char *what, u64 bytes, u64 rounds, u64 member,
                    u64 dealer, const u64 a3[3], u64 want_rounds)
{
    const tcfg *c = r->cfg;
    u64 want = c->proto == SF_SPU_ABY3 ? a3[party] : party < c->nm ? member : dealer;
    ASSERT_EQ_MSG(bytes, want, "[%s] %s: party %d sent %" PRIu64 " B, formula %" PRIu64, c->name, what,
                  party, bytes, want);
    ASSERT_EQ_MSG(rounds, want_rounds, "[%s] %s: %" PRIu64 " rounds, formula %" PRIu64, c->name, what,
                  rounds, want_rounds);
    return 0;
}

static int body(trun *r, int party, sf_spu_proto *p)
{
    const tcfg *c = r->cfg;
    int nm = c->nm, member = party < nm;
    u64 m1 = (u64)(nm - 1);
    sf_spu_share a = {0}, b = {0}, z = {0}, z2 = {0};
    u64 *out = calloc(NMAX, 8), *out2 = calloc(NMAX, 8);
    if (!out || !out2) return SF_ENOMEM;
    tacc acc;
    u64 bytes, rounds;
    for (size_t si = 0; si < sizeof SIZES / sizeof SIZES[0]; si++) {
        size_t N = SIZES[si];
        size_t off = (si * 977) % (NMAX - N + 1); /* different slices of the inputs */
        const u64 *pa = A + off, *pb = B + off, *pv = V + off;
        OK(t_in(p, party, 0, pa, N, &a));
        OK(t_in(p, party, nm - 1, pb, N, &b));

        /* less */
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_less(p, &a, &b, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        {
            u64 and = t_msb_and(N), w1 = t_w(N, 1);
            u64 a3[3] = {8 * (2 * and + w1) + 8 * N, 8 * (2 * and + w1) + 8 * N,
                         16 * N + 8 * (and + N)};
            ck_bytes(r, party, "less", bytes, rounds, 8 * m1 * (N + 2 * and + w1),
                     8 * N + 8 * (and + N), a3, c->proto == SF_SPU_ABY3 ? 9 : 8);
        }
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        if (member)
            for (size_t i = 0; i < N; i++) {
                u64 want = LT(pa[i], pb[i]);
                ASSERT_EQ_MSG(out[i], want, "[%s] N=%zu less(%" PRId64 ", %" PRId64 ") = %" PRIu64,
                              c->name, N, (int64_t)pa[i], (int64_t)pb[i], out[i]);
            }
        /* greater */
        OK(sf_spu_proto_greater(p, &a, &b, &z));
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        if (member)
            for (size_t i = 0; i < N; i++)
                ASSERT_EQ_MSG(out[i], LT(pb[i], pa[i]), "[%s] N=%zu greater %zu", c->name, N, i);
        /* equal (exact for every value) */
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_equal(p, &a, &b, &z2));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        {
            u64 and = t_eq_and(N), w1 = t_w(N, 1);
            u64 a3[3] = {8 * (2 * and + w1) + 8 * N, 8 * (2 * and + w1) + 8 * N,
                         16 * N + 8 * (and + N)};
            ck_bytes(r, party, "equal", bytes, rounds, 8 * m1 * (N + 2 * and + w1),
                     8 * N + 8 * (and + N), a3, c->proto == SF_SPU_ABY3 ? 9 : 8);
        }
        OK(sf_spu_proto_reveal_to(p, -1, &z2, member ? out2 : NULL));
        if (member)
            for (size_t i = 0; i < N; i++)
                ASSERT_EQ_MSG(out2[i], (pa[i] == pb[i]), "[%s] N=%zu equal(%" PRIx64 ", %" PRIx64 ")",
                              c->name, N, pa[i], pb[i]);
        /* select(less(a, b), a, b) = min(a, b) */
        OK(sf_spu_proto_less(p, &a, &b, &z));
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_select(p, &z, &a, &b, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        {
            u64 a3[3] = {8 * N, 8 * N, 8 * N};
            ck_bytes(r, party, "select", bytes, rounds, 16 * m1 * N, 8 * N, a3, 1);
        }
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        if (member)
            for (size_t i = 0; i < N; i++) {
                u64 want = LT(pa[i], pb[i]) ? pa[i] : pb[i];
                ASSERT_EQ_MSG(out[i], want, "[%s] N=%zu select %zu", c->name, N, i);
            }
        /* msb of any 64-bit value */
        OK(t_in(p, party, nm - 1, pv, N, &a));
        OK(sf_spu_proto_msb(p, &a, &z));
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        if (member)
            for (size_t i = 0; i < N; i++)
                ASSERT_EQ_MSG(out[i], pv[i] >> 63, "[%s] N=%zu msb(%" PRIx64 ")", c->name, N, pv[i]);
        /* relu on fixed-point range values (b: in [-2^62, 2^62)) */
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_relu(p, &b, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        ASSERT_EQ_MSG(rounds, (c->proto == SF_SPU_ABY3 ? 10u : 9u), "[%s] relu rounds %" PRIu64,
                      c->name, rounds);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        if (member)
            for (size_t i = 0; i < N; i++) {
                u64 want = (int64_t)pb[i] > 0 ? pb[i] : 0;
                ASSERT_EQ_MSG(out[i], want, "[%s] N=%zu relu(%" PRId64 ") = %" PRId64, c->name, N,
                              (int64_t)pb[i], (int64_t)out[i]);
            }
    }
    sf_spu_proto_share_free(&a);
    sf_spu_proto_share_free(&b);
    sf_spu_proto_share_free(&z);
    sf_spu_proto_share_free(&z2);
    free(out);
    free(out2);
    return 0;
}

int main(void)
{
    u64 s = 7;
    const int64_t lim = (int64_t)1 << 62;
    for (size_t i = 0; i < NMAX; i++) {
        u64 v = t_splitmix(&s), w = t_splitmix(&s);
        int64_t a, b;
        switch (i % 9) {
        case 0: a = b = (int64_t)(v >> 1) - lim; break;               /* equal */
        case 1: b = (int64_t)(v >> 2) - lim / 2, a = b + 1; break;    /* +1 ulp */
        case 2: b = (int64_t)(v >> 2) - lim / 2, a = b - 1; break;    /* -1 ulp */
        case 3: a = (int64_t)(v >> 1) - lim, b = (int64_t)(w >> 1) - lim; break;
        case 4: a = (int64_t)(v % 2001) - 1000, b = (int64_t)(w % 2001) - 1000; break;
        case 5: a = lim - 1 - (int64_t)(v % 3), b = lim - 1 - (int64_t)(w % 3); break;
        case 6: a = -lim + (int64_t)(v % 3), b = -lim + (int64_t)(w % 3); break;
        case 7: a = (v & 1) ? lim - 1 : -lim, b = (w & 1) ? lim - 1 : -lim; break;
        default: a = 0, b = (int64_t)(w % 3) - 1; break;
        }
        A[i] = (u64)a;
        B[i] = (u64)b;
        V[i] = (i % 5 == 0) ? (u64)1 << 63 : (i % 5 == 1) ? ~(u64)0 : (i % 5 == 2) ? 0
             : (i % 5 == 3) ? ((u64)1 << 63) - 1 : t_splitmix(&s);
    }
    /* equal on full-range pairs too: every 13th pair differs by 2^63 or is equal */
    for (size_t i = 0; i < NMAX; i += 13) {
        A[i] = t_splitmix(&s);
        B[i] = (i / 13) % 2 ? A[i] ^ ((u64)1 << 63) : A[i];
    }
    for (size_t ci = 0; ci < T_NCFG; ci++) {
        const tcfg *c = &T_CFGS[ci];
        uint8_t seed[32] = {9, (uint8_t)ci};
        int f0 = test_failures();
        int rc = t_run(c, seed, body, NULL);
        ASSERT_EQ_MSG(rc, 0, "[%s] run: %d", c->name, rc);
        printf("%-28s %s\n", c->name, test_failures() == f0 ? "ok" : "FAILED");
        fflush(stdout);
    }
    int f = test_failures();
    printf("%s (%d failures)\n", f ? "FAIL" : "PASS", f);
    return f ? 1 : 0;
}
