/*
 * SPU protocol core, arithmetic: share/reveal, linear operations, integer mul and matmul
 * (exact mod 2^64), truncation (floor or floor+1), fixed-point mul/matmul, the bytes and
 * rounds of every operation against the formulas of spu_proto.h, and determinism given
 * the seeds. Runs every configuration of spu_test.h (semi2k with 2..4 members and an
 * extra or member dealer, aby3).
 */
#include <math.h>

#include "tests/spu/spu_test.h"

#define N 10007    /* elements of the elementwise tests: not a multiple of 64 or 4096 */
#define NT 200000  /* truncation samples per bit count */

static u64 X[N], Y[N], TR[NT];
static const int TBITS[] = {1, 13, 18, 30, 33, 62};
static const size_t MMS[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 64, 64}, {20, 300, 30}};

typedef struct digest {
    u64 h[8]; /* per party: hash of every share and plain output */
} digest;

static void mix(u64 *h, const u64 *v, size_t n)
{
    for (size_t i = 0; i < n; i++) *h = (*h ^ v[i]) * UINT64_C(0x100000001B3) + (*h >> 29);
}

static void mixs(u64 *h, const sf_spu_share *s)
{
    if (s->w) mix(h, s->w, s->n * (size_t)s->nwords);
    u64 n = s->n;
    mix(h, &n, 1);
}

/* expected bytes of this party for an operation, from the formulas in spu_proto.h */
typedef struct exp_b {
    u64 member, dealer; /* semi2k: per member / extra dealer */
    u64 a3[3];          /* aby3: per member */
} exp_b;

static void check_acc(trun *r, int party, const char *what, u64 bytes, u64 rounds, exp_b e,
                      u64 exp_rounds)
{
    const tcfg *c = r->cfg;
    u64 want;
    if (c->proto == SF_SPU_ABY3)
        want = e.a3[party];
    else
        want = party < c->nm ? e.member : e.dealer;
    ASSERT_EQ_MSG(bytes, want, "[%s] %s: party %d sent %" PRIu64 " bytes, formula %" PRIu64, c->name,
                  what, party, bytes, want);
    ASSERT_EQ_MSG(rounds, exp_rounds, "[%s] %s: %" PRIu64 " rounds, formula %" PRIu64, c->name, what,
                  rounds, exp_rounds);
}

static int body(trun *r, int party, sf_spu_proto *p)
{
    const tcfg *c = r->cfg;
    digest *dg = r->user;
    u64 *h = &dg->h[party];
    int nm = c->nm, member = party < nm, a3 = c->proto == SF_SPU_ABY3;
    u64 m1 = (u64)(nm - 1);
    sf_spu_share x = {0}, y = {0}, z = {0};
    u64 *out = calloc(NT > N * 2 ? NT : N * 2, 8), *ref = calloc(4 * N, 8);
    if (!out || !ref) return SF_ENOMEM;
    tacc acc;
    u64 bytes, rounds;

    /* ---- share_from / reveal */
    for (int owner = 0; owner < nm; owner += nm - 1) {
        t_acc_begin(r, party, &acc);
        OK(t_in(p, party, owner, X, N, &x));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        exp_b e = {0, 0, {0, 0, 0}};
        if (a3) e.a3[owner] = 16 * N;
        check_acc(r, party, "share_from", bytes, rounds, e, a3 ? 1 : 0);
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_reveal_to(p, -1, &x, member ? out : NULL));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        e = (exp_b){8 * m1 * N, 0, {8 * N, 8 * N, 8 * N}};
        check_acc(r, party, "reveal all", bytes, rounds, e, 1);
        if (member)
            for (size_t i = 0; i < N; i++)
                ASSERT_EQ_MSG(out[i], X[i], "[%s] reveal %zu: %" PRIx64 " != %" PRIx64, c->name, i,
                              out[i], X[i]);
        mixs(h, &x);
    }
    for (int to = 0; to < nm; to++) {
        for (size_t i = 0; i < N; i++) out[i] = 0xdead;
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_reveal_to(p, to, &x, member ? out : NULL));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        exp_b e = {party == to ? 0 : 8 * N, 0, {0, 0, 0}};
        if (a3) e.a3[(to + 1) % 3] = 8 * N;
        check_acc(r, party, "reveal_to", bytes, rounds, e, 1);
        if (party == to)
            for (size_t i = 0; i < N; i++) ASSERT_EQ_MSG(out[i], X[i], "[%s] reveal_to %d", c->name, to);
        else
            for (size_t i = 0; i < N; i++) ASSERT_EQ_MSG(out[i], 0xdead, "[%s] reveal_to wrote", c->name);
    }

    /* ---- linear operations */
    OK(t_in(p, party, nm - 1, Y, N, &y));
    u64 k7 = 7, kbig = UINT64_C(0x9E3779B97F4A7C15);
    for (int op = 0; op < 7; op++) {
        t_acc_begin(r, party, &acc);
        switch (op) {
        case 0: OK(sf_spu_proto_add(p, &x, &y, &z)); break;
        case 1: OK(sf_spu_proto_sub(p, &x, &y, &z)); break;
        case 2: OK(sf_spu_proto_neg(p, &x, &z)); break;
        case 3: OK(sf_spu_proto_add_public(p, &x, &kbig, 1, &z)); break;
        case 4: OK(sf_spu_proto_add_public(p, &x, Y, N, &z)); break;
        case 5: OK(sf_spu_proto_mul_public(p, &x, &k7, 1, &z)); break;
        case 6: OK(sf_spu_proto_mul_public(p, &x, Y, N, &z)); break;
        }
        t_acc_end(r, party, &acc, &bytes, &rounds);
        check_acc(r, party, "local op", bytes, rounds, (exp_b){0, 0, {0, 0, 0}}, 0);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        mixs(h, &z);
        if (!member) continue;
        for (size_t i = 0; i < N; i++) {
            u64 want = 0;
            switch (op) {
            case 0: want = X[i] + Y[i]; break;
            case 1: want = X[i] - Y[i]; break;
            case 2: want = 0 - X[i]; break;
            case 3: want = X[i] + kbig; break;
            case 4: want = X[i] + Y[i]; break;
            case 5: want = X[i] * 7; break;
            case 6: want = X[i] * Y[i]; break;
            }
            ASSERT_EQ_MSG(out[i], want, "[%s] local op %d at %zu", c->name, op, i);
        }
    }
    /* in place: z = z + x */
    OK(sf_spu_proto_add(p, &x, &y, &z));
    OK(sf_spu_proto_add(p, &z, &x, &z));
    OK(sf_spu_proto_sum(p, &z, &z));
    OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
    if (member) {
        u64 s = 0;
        for (size_t i = 0; i < N; i++) s += 2 * X[i] + Y[i];
        ASSERT_MSG(z.n == 1 && out[0] == s, "[%s] sum", c->name);
    }

    /* ---- integer mul, exact mod 2^64 */
    t_acc_begin(r, party, &acc);
    OK(sf_spu_proto_mul(p, &x, &y, &z));
    t_acc_end(r, party, &acc, &bytes, &rounds);
    check_acc(r, party, "mul", bytes, rounds, (exp_b){16 * m1 * N, 8 * N, {8 * N, 8 * N, 8 * N}}, 1);
    OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
    mixs(h, &z);
    if (member)
        for (size_t i = 0; i < N; i++)
            ASSERT_EQ_MSG(out[i], X[i] * Y[i], "[%s] mul %zu: %" PRIx64 " * %" PRIx64, c->name, i, X[i],
                          Y[i]);
    OK(sf_spu_proto_mul(p, &x, &x, &x)); /* aliased */
    OK(sf_spu_proto_reveal_to(p, -1, &x, member ? out : NULL));
    if (member)
        for (size_t i = 0; i < N; i++) ASSERT_EQ_MSG(out[i], X[i] * X[i], "[%s] mul in place", c->name);

    /* ---- truncation: floor or floor + 1 for x in [-2^62, 2^62) */
    OK(t_in(p, party, 0, TR, NT, &x));
    for (size_t b = 0; b < sizeof TBITS / sizeof TBITS[0]; b++) {
        int bits = TBITS[b];
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_trunc(p, &x, bits, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        u64 tz = t_tsz(bits);
        exp_b e = {8 * m1 * NT, 8 * NT + tz * NT, {8 * NT, 8 * NT, (24 + tz) * NT}};
        check_acc(r, party, "trunc", bytes, rounds, e, a3 ? 2 : 1);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        mixs(h, &z);
        if (!member) continue;
        size_t exact = 0;
        for (size_t i = 0; i < NT; i++) {
            int64_t fl = (int64_t)TR[i] >> bits;
            int64_t got = (int64_t)out[i];
            ASSERT_MSG(got == fl || got == fl + 1,
                       "[%s] trunc %d of %" PRId64 ": got %" PRId64 ", floor %" PRId64, c->name, bits,
                       (int64_t)TR[i], got, fl);
            exact += got == fl;
        }
        /* both outcomes occur (probabilistic rounding), except when nothing is cut off */
        ASSERT_MSG(exact > NT / 20 && exact < NT - NT / 20, "[%s] trunc %d: %zu of %d floor", c->name,
                   bits, exact, NT);
    }

    /* ---- fixed-point mul on a few values (the accuracy test is test_spu_fxp) */
    {
        const double xv[] = {0, 1, -1, 1.5, -2.25, 3.14159, 1000.5, -0.001, 8191.75, -4000.125};
        const double yv[] = {5, 1, -1, -1.5, 2.25, 2.71828, -0.5, 0.002, 8191.25, 16000};
        size_t n = sizeof xv / sizeof xv[0];
        u64 xe[16], ye[16];
        sf_spu_proto_fxp_encode_n(xv, n, 18, xe);
        sf_spu_proto_fxp_encode_n(yv, n, 18, ye);
        sf_spu_share a = {0}, bb = {0};
        OK(t_in(p, party, 0, xe, n, &a));
        OK(t_in(p, party, nm - 1, ye, n, &bb));
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_mul_fxp(p, &a, &bb, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        exp_b e = {24 * m1 * n, 16 * n + 4 * n, {16 * n, 16 * n, 28 * n}};
        check_acc(r, party, "mul_fxp", bytes, rounds, e, 2);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        if (member)
            for (size_t i = 0; i < n; i++) {
                double got = sf_spu_proto_fxp_decode(out[i], 18), want = xv[i] * yv[i];
                double tol = 0x1p-18 * (fabs(xv[i]) + fabs(yv[i]) + 2);
                ASSERT_LE_MSG(fabs(got - want), tol, "[%s] mul_fxp %g*%g = %.9g (want %.9g)", c->name,
                              xv[i], yv[i], got, want);
            }
        sf_spu_proto_share_free(&a);
        sf_spu_proto_share_free(&bb);
    }

    /* ---- matmul: integer exact, fixed point = trunc of the exact integer product */
    for (size_t t = 0; t < sizeof MMS / sizeof MMS[0]; t++) {
        size_t m = MMS[t][0], k = MMS[t][1], n = MMS[t][2];
        sf_spu_share a = {0}, bb = {0};
        OK(t_in(p, party, 0, X, m * k, &a));
        OK(t_in(p, party, nm - 1, Y, k * n, &bb));
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_matmul(p, &a, &bb, m, k, n, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        u64 mk = m * k, kn = k * n, mn = m * n;
        exp_b e = {8 * m1 * (mk + kn), 8 * mn, {8 * mn, 8 * mn, 8 * mn}};
        check_acc(r, party, "matmul", bytes, rounds, e, 1);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        mixs(h, &z);
        if (member)
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    u64 s = 0;
                    for (size_t q = 0; q < k; q++) s += X[i * k + q] * Y[q * n + j];
                    ASSERT_EQ_MSG(out[i * n + j], s, "[%s] matmul %zux%zux%zu at (%zu,%zu)", c->name, m,
                                  k, n, i, j);
                }
        /* fixed point: small operands so that the products stay in range */
        u64 *xs = ref, *ys = ref + m * k;
        for (size_t i = 0; i < m * k; i++) xs[i] = (u64)((int64_t)(X[i] >> 40) - (1 << 23));
        for (size_t i = 0; i < k * n; i++) ys[i] = (u64)((int64_t)(Y[i] >> 40) - (1 << 23));
        OK(t_in(p, party, 0, xs, m * k, &a));
        OK(t_in(p, party, nm - 1, ys, k * n, &bb));
        t_acc_begin(r, party, &acc);
        OK(sf_spu_proto_matmul_fxp(p, &a, &bb, m, k, n, &z));
        t_acc_end(r, party, &acc, &bytes, &rounds);
        e = (exp_b){8 * m1 * (mk + kn + mn), 8 * mn + 8 * mn + 4 * mn, {16 * mn, 16 * mn, 28 * mn}};
        check_acc(r, party, "matmul_fxp", bytes, rounds, e, 2);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        mixs(h, &z);
        if (member)
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    u64 s = 0;
                    for (size_t q = 0; q < k; q++) s += xs[i * k + q] * ys[q * n + j];
                    int64_t fl = (int64_t)s >> 18, got = (int64_t)out[i * n + j];
                    ASSERT_MSG(got == fl || got == fl + 1, "[%s] matmul_fxp (%zu,%zu)", c->name, i, j);
                }
        sf_spu_proto_share_free(&a);
        sf_spu_proto_share_free(&bb);
    }

    /* ---- comparisons and relu enter the determinism digest too (checked in test_spu_cmp) */
    OK(t_in(p, party, 0, X, N, &x));
    OK(t_in(p, party, nm - 1, Y, N, &y));
    OK(sf_spu_proto_less(p, &x, &y, &z));
    mixs(h, &z);
    OK(sf_spu_proto_equal(p, &x, &x, &z));
    mixs(h, &z);
    OK(sf_spu_proto_relu(p, &y, &z));
    mixs(h, &z);
    OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
    if (member) mix(h, out, N);

    /* ---- n = 0 operations are no-ops */
    sf_spu_share e0 = {0};
    OK(t_in(p, party, 0, X, 0, &e0));
    OK(sf_spu_proto_mul(p, &e0, &e0, &z));
    ASSERT_EQ_MSG(z.n, 0, "[%s] empty mul", c->name);
    sf_spu_proto_share_free(&e0);

    sf_spu_proto_share_free(&x);
    sf_spu_proto_share_free(&y);
    sf_spu_proto_share_free(&z);
    free(out);
    free(ref);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--generic-gemm")) setenv("SF_SPU_GEMM_GENERIC", "1", 1);
    u64 s = 42;
    const u64 special[] = {0, ~(u64)0, (u64)1 << 63, 1, ((u64)1 << 63) - 1, (u64)1 << 62,
                           ((u64)1 << 62) - 1, (u64)-((int64_t)1 << 62)};
    for (size_t i = 0; i < N; i++) {
        X[i] = t_splitmix(&s);
        Y[i] = t_splitmix(&s);
    }
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        for (size_t j = 0; j < sizeof special / sizeof special[0]; j++) {
            X[i * 8 + j] = special[i];
            Y[i * 8 + j] = special[j];
        }
    /* truncation inputs in [-2^62, 2^62): uniform, near +-2^61, near +-2^62, small */
    const int64_t lim = (int64_t)1 << 62, h61 = (int64_t)1 << 61;
    for (size_t i = 0; i < NT; i++) {
        u64 v = t_splitmix(&s);
        int64_t d = (int64_t)(v % 100000) - 50000;
        switch (i % 6) {
        case 0: TR[i] = (u64)((int64_t)(v >> 1) - lim); break; /* [-2^62, 2^62) */
        case 1: TR[i] = (u64)(h61 + d); break;
        case 2: TR[i] = (u64)(-h61 + d); break;
        case 3: TR[i] = (u64)(d > 0 ? lim - d : -lim - d); break; /* up to the edges */
        case 4: TR[i] = (u64)d; break;
        default: TR[i] = (u64)((int64_t)(v >> 30) - ((int64_t)1 << 33)); break;
        }
    }
    TR[0] = (u64)(-lim);
    TR[1] = (u64)(lim - 1);
    TR[2] = 0;
    TR[3] = ~(u64)0;

    for (size_t ci = 0; ci < T_NCFG; ci++) {
        const tcfg *c = &T_CFGS[ci];
        uint8_t seed[32] = {1, 2, 3, (uint8_t)ci};
        digest d1, d2, d3;
        memset(&d1, 0, sizeof d1);
        memset(&d2, 0, sizeof d2);
        memset(&d3, 0, sizeof d3);
        int f0 = test_failures();
        int rc = t_run(c, seed, body, &d1);
        ASSERT_EQ_MSG(rc, 0, "[%s] run: %d", c->name, rc);
        rc = t_run(c, seed, body, &d2);
        ASSERT_EQ_MSG(rc, 0, "[%s] second run: %d", c->name, rc);
        ASSERT_MEM_EQ_MSG(&d1, &d2, sizeof d1, "[%s] two runs with the same seed differ", c->name);
        seed[31] = 1;
        rc = t_run(c, seed, body, &d3);
        ASSERT_EQ_MSG(rc, 0, "[%s] third run: %d", c->name, rc);
        ASSERT_MSG(memcmp(d1.h, d3.h, sizeof d1.h), "[%s] another seed gives the same shares", c->name);
        printf("%-28s %s\n", c->name, test_failures() == f0 ? "ok" : "FAILED");
        fflush(stdout);
    }
    int f = test_failures();
    printf("%s (%d failures)\n", f ? "FAIL" : "PASS", f);
    return f ? 1 : 0;
}
