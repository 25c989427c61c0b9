/*
 * SPU protocol core, numerics (spu_math.c): exp, reciprocal, division by a secret and by a
 * public value, the four sigmoid approximations and the local shape operations, in every
 * configuration of spu_test.h and the plaintext simulation, against double precision:
 *  - accuracy: the largest error over each function's documented domain is measured,
 *    printed (docs/guide.md quotes these lines) and checked against its bound;
 *  - cost: every party's bytes and the rounds of each operation equal the sums of the
 *    primitive formulas of spu_proto.h along the sequence documented there;
 *  - the clamps: exp below -256 is 0 and saturates above its range, the exp sigmoid is 0 or
 *    1 far out, a public division by 0 is refused.
 */
#include <math.h>

#include "tests/spu/spu_test.h"

#define F 18
#define N 4099 /* samples per function and configuration (odd: not a multiple of 64) */

enum { FN_EXP, FN_RECIP, FN_DIV, FN_DIVP, FN_SIG_LIN, FN_SIG_T3, FN_SIG_SEG, FN_SIG_EXP, NFN };
static const char *const FN_NAME[NFN] = {"exp", "reciprocal", "div", "div_public",
                                          "sigmoid linear", "sigmoid taylor3",
                                          "sigmoid segmented", "sigmoid exp"};

static double XD[NFN][N], YD[NFN][N];
static u64 XE[NFN][N], YE[NFN][N];
static const double DIVP_C[] = {3.0, -7.0, 0.3, 1024.0, 569.0, -0.25, 1e-3, 12345.678};
#define NDIVP (sizeof DIVP_C / sizeof DIVP_C[0])

/* ---------------------------------------------------------------- cost formulas */

enum { P_MUL, P_TRUNC, P_MULFXP, P_MSB };
typedef struct pstep {
    int op;
    u64 mult; /* elements, as a multiple of N */
    int bits; /* truncation bits (P_TRUNC), 0 = f */
    int rep;  /* repetitions */
} pstep;

static void prim(const tcfg *c, int party, const pstep *s, u64 n, u64 *bytes, u64 *rounds)
{
    u64 m1 = (u64)(c->nm - 1), N_ = s->mult * n;
    int bits = s->bits ? s->bits : F;
    u64 t = t_tsz(bits), A = t_msb_and(N_);
    int a3 = c->proto == SF_SPU_ABY3, dealer = !a3 && party >= c->nm, helper = a3 && party == 2;
    u64 b = 0, r = 0;
    switch (s->op) {
    case P_MUL:
        b = a3 ? 8 * N_ : dealer ? 8 * N_ : 16 * m1 * N_;
        r = 1;
        break;
    case P_TRUNC:
        b = a3 ? (helper ? (24 + t) * N_ : 8 * N_) : dealer ? (8 + t) * N_ : 8 * m1 * N_;
        r = a3 ? 2 : 1;
        break;
    case P_MULFXP:
        b = a3 ? (helper ? (24 + t_tsz(F)) * N_ : 16 * N_) : dealer ? (16 + t_tsz(F)) * N_ : 24 * m1 * N_;
        r = 2;
        break;
    case P_MSB:
        b = a3 ? (helper ? 16 * N_ + 8 * (A + N_) : 8 * (2 * A + t_w(N_, 1)) + 8 * N_)
               : dealer ? 8 * N_ + 8 * (A + N_) : 8 * m1 * (N_ + 2 * A + t_w(N_, 1));
        r = a3 ? 9 : 8;
        break;
    }
    *bytes += b * (u64)s->rep;
    *rounds += r * (u64)s->rep;
}

/* the sequences of spu_proto.h (f = 18); {0} ends a list */
#define SQ(b) {P_MUL, 1, 0, 1}, {P_TRUNC, 1, b, 1}
#define TAYLOR4 {P_MUL, 1, 0, 1}, {P_TRUNC, 1, 30, 1}, {P_MUL, 2, 0, 1}, {P_TRUNC, 2, 30, 1}, \
    {P_TRUNC, 1, 30, 1}
static const pstep SEQ_EXP[] = {{P_MSB, 2, 0, 1}, {P_MUL, 2, 0, 1}, TAYLOR4, SQ(30), SQ(30), SQ(31),
                                SQ(30), SQ(29), SQ(30), SQ(30), SQ(18), {0, 0, 0, 0}};
#define EXPCORE0 TAYLOR4, SQ(30), SQ(30), SQ(30), SQ(30), SQ(30), SQ(30), SQ(30), SQ(42)
static const pstep SEQ_RECIP[] = {{P_MSB, 3, 0, 1}, {P_MUL, 1, 0, 2}, EXPCORE0, {P_TRUNC, 1, 0, 1},
                                  {P_MULFXP, 1, 0, 20}, {P_MUL, 1, 0, 1}, {0, 0, 0, 0}};
static const pstep SEQ_DIV[] = {{P_MSB, 3, 0, 1}, {P_MUL, 1, 0, 2}, EXPCORE0, {P_TRUNC, 1, 0, 1},
                                {P_MULFXP, 1, 0, 20}, {P_MUL, 1, 0, 1}, {P_MULFXP, 1, 0, 1},
                                {0, 0, 0, 0}};
static const pstep SEQ_LIN[] = {{P_TRUNC, 1, 2, 1}, {0, 0, 0, 0}};
static const pstep SEQ_T3[] = {{P_MULFXP, 1, 0, 1}, {P_TRUNC, 1, 0, 1}, {P_MULFXP, 1, 0, 1}, {0, 0, 0, 0}};
static const pstep SEQ_SEG[] = {{P_MSB, 2, 0, 1}, {P_TRUNC, 1, 3, 1}, {P_MUL, 1, 0, 1}, {0, 0, 0, 0}};
static const pstep SEQ_SEXP[] = {{P_MSB, 3, 0, 1}, {P_MUL, 1, 0, 2}, EXPCORE0, {P_TRUNC, 1, 0, 1},
                                 {P_MULFXP, 1, 0, 6}, {P_MUL, 1, 0, 1}, {0, 0, 0, 0}};
static const pstep *const SEQ[NFN] = {SEQ_EXP, SEQ_RECIP, SEQ_DIV, NULL, SEQ_LIN, SEQ_T3, SEQ_SEG, SEQ_SEXP};

/* aby3's rounds are fewer than the sum where a truncation's idle second round (its helper
 * P2 waits for nothing) overlaps the next step: the measured critical path, as documented
 * in spu_proto.h */
static const u64 ABY3_ROUNDS[NFN] = {41, 83, 85, 0, 2, 5, 11, 55};

static void formula(const tcfg *c, int party, int fn, u64 n, u64 *bytes, u64 *rounds)
{
    *bytes = *rounds = 0;
    for (const pstep *s = SEQ[fn]; s && s->rep; s++) prim(c, party, s, n, bytes, rounds);
    if (c->proto == SF_SPU_ABY3) *rounds = ABY3_ROUNDS[fn];
}

/* ---------------------------------------------------------------- reference and bounds */

static double ref(int fn, double x, double y)
{
    switch (fn) {
    case FN_EXP: return exp(x < -256 ? -INFINITY : x > (61 - 2 * F) * M_LN2 ? (61 - 2 * F) * M_LN2 : x);
    case FN_RECIP: return 1 / x;
    case FN_DIV: return x / y;
    case FN_DIVP: return x / y;
    case FN_SIG_LIN: return sf_spu_proto_sigmoid_ref(SF_SPU_SIG_LINEAR, x);
    case FN_SIG_T3: return sf_spu_proto_sigmoid_ref(SF_SPU_SIG_TAYLOR3, x);
    case FN_SIG_SEG: return sf_spu_proto_sigmoid_ref(SF_SPU_SIG_SEGMENTED, x);
    default: return sf_spu_proto_sigmoid_ref(SF_SPU_SIG_EXP, x);
    }
}

/* the error allowed: absolute + relative (of the reference) */
static double bound(int fn, double x, double y, double want)
{
    const double ulp = ldexp(1, -F);
    switch (fn) {
    case FN_EXP: return 4 * ulp + 5e-5 * fabs(want);
    case FN_RECIP: return 4 * ulp + 5e-5 * fabs(want);
    case FN_DIV: return 4 * ulp + 5e-5 * fabs(want) + 4 * ulp * fabs(x);
    case FN_DIVP: return 4 * ulp + ldexp(fabs(x / y), -F); /* two truncations when |c| > 1 */
    case FN_SIG_LIN: return 2 * ulp;
    case FN_SIG_T3: return 4 * ulp * (1 + fabs(x) + x * x);
    case FN_SIG_SEG: return 2 * ulp;
    default: return 8 * ulp;
    }
}

typedef struct res {
    double worst_abs[NFN], worst_rel[NFN], worst_ratio[NFN];
} res;

static int body(trun *r, int party, sf_spu_proto *p)
{
    const tcfg *c = r->cfg;
    res *rs = r->user;
    int nm = c->nm, member = party < nm;
    sf_spu_share x = {0}, y = {0}, z = {0};
    u64 *out = malloc(N * 8);
    if (!out) return SF_ENOMEM;
    tacc acc;
    for (int fn = 0; fn < NFN; fn++) {
        OK(t_in(p, party, 0, XE[fn], N, &x));
        OK(t_in(p, party, nm - 1, YE[fn], N, &y));
        for (size_t ci = 0; ci < (fn == FN_DIVP ? NDIVP : 1); ci++) {
            u64 bytes, rounds;
            t_acc_begin(r, party, &acc);
            switch (fn) {
            case FN_EXP: OK(sf_spu_proto_exp(p, &x, &z)); break;
            case FN_RECIP: OK(sf_spu_proto_reciprocal(p, &x, &z)); break;
            case FN_DIV: OK(sf_spu_proto_div(p, &x, &y, &z)); break;
            case FN_DIVP: OK(sf_spu_proto_div_public(p, &x, DIVP_C[ci], &z)); break;
            case FN_SIG_LIN: OK(sf_spu_proto_sigmoid(p, &x, SF_SPU_SIG_LINEAR, &z)); break;
            case FN_SIG_T3: OK(sf_spu_proto_sigmoid(p, &x, SF_SPU_SIG_TAYLOR3, &z)); break;
            case FN_SIG_SEG: OK(sf_spu_proto_sigmoid(p, &x, SF_SPU_SIG_SEGMENTED, &z)); break;
            default: OK(sf_spu_proto_sigmoid(p, &x, SF_SPU_SIG_EXP, &z)); break;
            }
            t_acc_end(r, party, &acc, &bytes, &rounds);
            if (SEQ[fn] && c->proto != SF_SPU_PLAIN) {
                u64 wb, wr;
                formula(c, party, fn, N, &wb, &wr);
                ASSERT_EQ_MSG(bytes, wb, "[%s] %s: party %d sent %" PRIu64 " bytes, formula %" PRIu64,
                              c->name, FN_NAME[fn], party, bytes, wb);
                ASSERT_EQ_MSG(rounds, wr, "[%s] %s: %" PRIu64 " rounds, formula %" PRIu64, c->name,
                              FN_NAME[fn], rounds, wr);
            }
            OK(sf_spu_proto_reveal_to(p, 0, &z, member ? out : NULL));
            if (party != 0) continue;
            for (size_t i = 0; i < N; i++) {
                double xv = XD[fn][i], yv = fn == FN_DIVP ? DIVP_C[ci] : YD[fn][i];
                if (fn == FN_DIVP && fabs(xv / yv) >= 0x1p24) continue; /* beyond the range */
                double want = ref(fn, xv, yv), got = sf_spu_proto_fxp_decode(out[i], F);
                double err = fabs(got - want), b = bound(fn, xv, yv, want);
                if (fabs(want) < 1 && err > rs->worst_abs[fn]) rs->worst_abs[fn] = err;
                if (fabs(want) >= 1 && err / fabs(want) > rs->worst_rel[fn]) rs->worst_rel[fn] = err / fabs(want);
                if (err / b > rs->worst_ratio[fn]) rs->worst_ratio[fn] = err / b;
                ASSERT_LE_MSG(err, b, "[%s] %s(%.10g, %.10g) = %.10g, got %.10g", c->name, FN_NAME[fn],
                              xv, yv, want, got);
            }
        }
    }
    /* a public division by zero or by a non-finite number is refused, no step taken */
    ASSERT_EQ(sf_spu_proto_div_public(p, &x, 0.0, &z), SF_EINVAL);
    ASSERT_EQ(sf_spu_proto_div_public(p, &x, NAN, &z), SF_EINVAL);
    ASSERT_EQ(sf_spu_proto_sigmoid(p, &x, 99, &z), SF_EINVAL);

    /* shapes: gather (a transpose of 3 x 5), slice, concat, sum over each axis, exact */
    {
        static u64 v[15];
        for (int i = 0; i < 15; i++) v[i] = (u64)(i * i) - 40;
        size_t tr[15];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) tr[j * 3 + i] = (size_t)(i * 5 + j);
        OK(t_in(p, party, nm - 1, v, 15, &x));
        OK(sf_spu_proto_gather(p, &x, tr, 15, &y));
        OK(sf_spu_proto_reveal_to(p, -1, &y, member ? out : NULL));
        for (int k = 0; member && k < 15; k++) ASSERT_EQ(out[k], v[tr[k]]);
        OK(sf_spu_proto_slice(p, &x, 4, 6, &z));
        OK(sf_spu_proto_concat(p, &z, &x, &z));
        ASSERT_EQ(z.n, (size_t)21);
        OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
        for (int k = 0; member && k < 21; k++) ASSERT_EQ(out[k], k < 6 ? v[4 + k] : v[k - 6]);
        for (int axis = 0; axis < 2; axis++) {
            OK(sf_spu_proto_sum_axis(p, &x, 3, 5, axis, &z));
            OK(sf_spu_proto_reveal_to(p, -1, &z, member ? out : NULL));
            for (int k = 0; member && k < (axis ? 3 : 5); k++) {
                u64 s = 0;
                for (int j = 0; j < (axis ? 5 : 3); j++) s += axis ? v[k * 5 + j] : v[j * 5 + k];
                ASSERT_EQ(out[k], s);
            }
        }
        size_t bad = 15;
        ASSERT_EQ(sf_spu_proto_gather(p, &x, &bad, 1, &z), SF_EINVAL);
        ASSERT_EQ(sf_spu_proto_sum_axis(p, &x, 4, 4, 0, &z), SF_EINVAL);
    }
    sf_spu_proto_share_free(&x);
    sf_spu_proto_share_free(&y);
    sf_spu_proto_share_free(&z);
    free(out);
    return 0;
}

static double logu(u64 *s, double lo, double hi) { return exp(log(lo) + (log(hi) - log(lo)) * t_unif(s)); }

int main(void)
{
    u64 s = 4242;
    for (size_t i = 0; i < N; i++) {
        double sg = (t_splitmix(&s) & 1) ? -1 : 1;
        /* exp: [-20, 17.3] and, one in 16, beyond the clamps */
        XD[FN_EXP][i] = i % 16 == 0 ? (i % 32 ? -300 - 100 * t_unif(&s) : 18 + 10 * t_unif(&s))
                                    : -20 + 37.3 * t_unif(&s);
        XD[FN_RECIP][i] = sg * logu(&s, 0.003, 650);
        XD[FN_DIV][i] = 200 * t_unif(&s) - 100;
        YD[FN_DIV][i] = sg * logu(&s, 0.003, 650);
        XD[FN_DIVP][i] = i % 4 == 3 ? sg * logu(&s, 1e6, 4e9) /* dividends beyond 2^25: the quotient decides */
                         : i % 2 ? 2000 * t_unif(&s) - 1000 : sg * logu(&s, 1e-4, 1e6);
        XD[FN_SIG_LIN][i] = 16 * t_unif(&s) - 8;
        XD[FN_SIG_T3][i] = 16 * t_unif(&s) - 8;
        XD[FN_SIG_SEG][i] = i % 8 ? 16 * t_unif(&s) - 8 : sg * (4 + 1000 * t_unif(&s));
        XD[FN_SIG_EXP][i] = i % 8 ? 32 * t_unif(&s) - 16 : sg * (16 + 5000 * t_unif(&s));
        XD[FN_SIG_EXP][0] = 0;
        for (int fn = 0; fn < NFN; fn++) {
            XE[fn][i] = sf_spu_proto_fxp_encode(XD[fn][i], F);
            XD[fn][i] = sf_spu_proto_fxp_decode(XE[fn][i], F); /* the value actually input */
            YE[fn][i] = sf_spu_proto_fxp_encode(YD[fn][i], F);
            YD[fn][i] = sf_spu_proto_fxp_decode(YE[fn][i], F);
        }
    }
    tcfg cfgs[T_NCFG + 1];
    memcpy(cfgs, T_CFGS, sizeof T_CFGS);
    cfgs[T_NCFG] = (tcfg){SF_SPU_PLAIN, 1, 0, "plain"};
    res all = {{0}, {0}, {0}};
    for (size_t ci = 0; ci < T_NCFG + 1; ci++) {
        uint8_t seed[32] = {91, (uint8_t)ci};
        res rs;
        memset(&rs, 0, sizeof rs);
        int f0 = test_failures();
        int rc = t_run(&cfgs[ci], seed, body, &rs);
        ASSERT_EQ_MSG(rc, 0, "[%s] run: %d", cfgs[ci].name, rc);
        printf("%-26s %s\n", cfgs[ci].name, test_failures() == f0 ? "ok" : "FAILED");
        for (int fn = 0; fn < NFN; fn++) {
            if (rs.worst_abs[fn] > all.worst_abs[fn]) all.worst_abs[fn] = rs.worst_abs[fn];
            if (rs.worst_rel[fn] > all.worst_rel[fn]) all.worst_rel[fn] = rs.worst_rel[fn];
            if (rs.worst_ratio[fn] > all.worst_ratio[fn]) all.worst_ratio[fn] = rs.worst_ratio[fn];
        }
        fflush(stdout);
    }
    printf("largest error over every configuration (%d samples each, f = %d):\n", N, F);
    for (int fn = 0; fn < NFN; fn++)
        printf("  %-18s results below 1: abs %.2g; from 1 up: rel %.2g (%.2f of the bound)\n",
               FN_NAME[fn], all.worst_abs[fn], all.worst_rel[fn], all.worst_ratio[fn]);
    /* what each sigmoid approximation itself costs against the true sigmoid (plaintext) */
    printf("sigmoid approximations against 1/(1+exp(-x)), largest |error| (plaintext):\n");
    static const char *const kn[] = {"", "linear", "taylor3", "segmented", "exp"};
    for (int k = 1; k <= 4; k++) {
        double w[3] = {0, 0, 0}, lim[3] = {1, 4, 8};
        for (int j = 0; j <= 160000; j++) {
            double x = -8 + j * 1e-4, e = fabs(sf_spu_proto_sigmoid_ref(k, x) - 1 / (1 + exp(-x)));
            for (int l = 0; l < 3; l++)
                if (fabs(x) <= lim[l] && e > w[l]) w[l] = e;
        }
        printf("  %-10s [-1,1] %.2g  [-4,4] %.2g  [-8,8] %.2g\n", kn[k], w[0], w[1], w[2]);
    }
    int f = test_failures();
    printf("%s (%d failures)\n", f ? "FAIL" : "PASS", f);
    return f ? 1 : 0;
}
