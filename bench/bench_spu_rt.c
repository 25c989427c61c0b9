/*
 * SPU operations through the runtime (a measurement, not a test): the same three
 * operations as bench_spu (the protocol core on a threaded in-memory net), but as SPU
 * kernels called with SF_REMOTE on a real sfmpi SPU device, in whatever mode the program
 * runs in (debug: one process, coroutines; sim: one mpirun job; --sf-spu=plain: the
 * plaintext functional simulation).
 *
 *   mul_fxp  sf_spu_mul on two float64 vectors of --n elements (fixed point, 18 bits)
 *   less     sf_spu_less on the same vectors
 *   matmul   sf_spu_matmul on two float64 --mm x --mm matrices (fixed point)
 *
 * Parties alice, bob, carol. The SPU is semi2k over {alice, bob} with carol as the dealer;
 * --aby3=1 adds the same operations on aby3 over all three. The SPU uses a fixed
 * sf_spu_options.seed so runs are reproducible (INSECURE: benchmarks only).
 *
 * alice owns x (and A), bob owns y (and B), made by tasks on their own PYUs and moved into
 * the SPU once with sf_to before anything is timed, so the figures exclude input sharing
 * (and the first sf_spu/sf_to, which are printed separately as setup). Each timed
 * operation is one SF_REMOTE(spu, kernel, SF_OBJ(a), SF_OBJ(b)): the kernel runs
 * synchronously inside the call on every participant. Every party times every call with
 * CLOCK_MONOTONIC; a barrier of all three parties precedes each call, so the dealer cannot
 * run ahead into the next one and every call is measured from a level start. One warm-up
 * call, then --reps timed calls; the median of alice's (member 0) times is reported.
 *
 * Per operation the line also shows: bytes per element sent by each party over the
 * warm-up call (sf_spu_stats deltas) next to the formula of devices/spu/core/spu_proto.h, the
 * growth of the round clock (max over the parties) next to its formula, and the same-run
 * plaintext baseline computed by alice in this process (int64 fixed-point multiply and
 * shift; double compare; i-k-j int64 matmul plus shift). The last result of every
 * operation is revealed once with sf_get, and checked against plaintext arithmetic within
 * the protocol's error bound (OK/BAD), so the benchmark cannot silently time garbage.
 *
 * --split-mul=K makes the mul_fxp batch K calls on consecutive parts of the vectors (one
 * measurement = the K calls back to back; bytes and rounds summed over them). It is no
 * longer needed in simulation mode (a 1M-element call once deadlocked in the MPI
 * transport's flow control; tests/modes/spu_modes.cmake spu_big_sim covers that now).
 *
 * Usage: bench_spu_rt [--n=N] [--mm=D] [--reps=R] [--aby3=0|1] [--split-mul=K]
 *                     [--only=mul,less,mm] [--tag=TEXT] --sf-mode=debug|sim [--sf-spu=plain]
 *   mpirun -np 3 bench_spu_rt --sf-mode=sim --sf-parties=alice,bob,carol
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfmpi/sf.h"

#include "bench_parties.h"
#include "bench_util.h"

#define MAXREPS 64
#define FXP 18 /* the SPU's default fraction bits (sf_spu_options.fxp_bits = 0) */

typedef struct opts {
    int64_t n, mm;
    int reps, aby3;
    int split_mul; /* mul_fxp: the batch as this many calls on consecutive parts */
    const char *only, *tag;
    int plain; /* --sf-spu=plain (or SF_SPU=plain) was given: label only */
} opts;

enum { OP_MUL = 0, OP_LESS = 1, OP_MM = 2 };
static const char *const op_names[3] = {"mul_fxp", "less", "matmul_fxp"};

/* ------------------------------------------------------------------ inputs */

/* Element i of input `seed`: an integer k in [-2^(bits-1), 2^(bits-1)) over 2^FXP, so it is
 * exact in fixed point and any party can recompute any element (for the checks and the
 * plaintext baseline) without seeing the owner's data through the runtime. */
static int64_t gen_k(uint64_t seed, uint64_t i, int bits) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + i + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (int64_t)(z >> (64 - bits)) - ((int64_t)1 << (bits - 1));
}
static double gen(uint64_t seed, uint64_t i, int bits) { return ldexp((double)gen_k(seed, i, bits), -FXP); }

/* Vectors in [-32, 32) (products below 2^10: far inside the truncation's range); matrix
 * entries in [-2, 2) (1000-term dot products stay below 2^12). */
#define VEC_BITS 24
#define MAT_BITS 20

/* make(seed, rows, cols, bits, offset): a float64 array (1-D when cols == 0) on its owner,
 * elements offset.. of input `seed` */
static int make(sf_task *t) {
    int64_t seed = sf_arg_i64(t, 0), rows = sf_arg_i64(t, 1), cols = sf_arg_i64(t, 2),
            bits = sf_arg_i64(t, 3), off = sf_arg_i64(t, 4);
    int64_t shape[2] = {rows, cols};
    sf_value *v = sf_value_new(SF_F64, cols ? 2 : 1, shape);
    if (!v) return sf_fail(t, "out of memory making a %lld x %lld input", (long long)rows, (long long)cols);
    double *x = sf_value_data(v);
    size_t n = sf_value_nelems(v);
    for (size_t i = 0; i < n; i++) x[i] = gen((uint64_t)seed, (uint64_t)off + i, (int)bits);
    return sf_return(t, 0, v);
}

/* ------------------------------------------------------------------ kernels and helpers */

static int k_mul(sf_spu_task *t) { return sf_spu_return(t, sf_spu_mul(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }
static int k_less(sf_spu_task *t) { return sf_spu_return(t, sf_spu_less(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }
static int k_mm(sf_spu_task *t) { return sf_spu_return(t, sf_spu_matmul(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }



/* Every party's `k` numbers, gathered: out[p * k + i] = party p's mine[i]. */
static int gather(sf_ctx *sf, sf_device dev[3], const double *mine, int k, double *out) {
    int64_t shape = k;
    sf_value *v = sf_value_new(SF_F64, 1, &shape);
    if (!v) return SF_ENOMEM;
    memcpy(sf_value_data(v), mine, sizeof(double) * (size_t)k);
    int rc = SF_OK;
    for (int p = 0; p < 3; p++) {
        sf_obj o = SF_REMOTE(dev[p], bench_echo, SF_VAL(v));
        sf_value *g;
        int r = sf_get(sf, o, &g);
        if (r == SF_OK && sf_value_nelems(g) == (size_t)k)
            memcpy(out + p * k, sf_value_cdata(g), sizeof(double) * (size_t)k);
        else if (rc == SF_OK)
            rc = r ? r : SF_EINVAL;
        sf_release(o);
    }
    sf_value_unref(&v);
    return rc;
}

/* ------------------------------------------------------------------ formulas (spu_proto.h) */

static uint64_t wd(uint64_t n, unsigned b) { return (n * b + 63) / 64; }

/* Bytes each of the three parties sends in one call, and the rounds. semi2k: parties 0, 1
 * are the members, 2 the extra dealer; aby3: P0, P1, P2 (the helper). t = 4: the
 * truncation by 18 bits uses 32-bit masks. */
static void formula(int aby3, int op, uint64_t n, uint64_t d, uint64_t f[3], uint64_t *rounds) {
    const uint64_t t = 4;
    if (op == OP_MUL) {
        if (!aby3) f[0] = f[1] = 24 * n, f[2] = (16 + t) * n;
        else f[0] = f[1] = 16 * n, f[2] = (24 + t) * n;
        *rounds = 2;
    } else if (op == OP_LESS) {
        uint64_t and = n + wd(n, 32) + wd(n, 16) + wd(n, 8) + wd(n, 4) + wd(n, 2);
        if (!aby3) f[0] = f[1] = 8 * (n + 2 * and + wd(n, 1)), f[2] = 8 * n + 8 * (and + n);
        else f[0] = f[1] = 8 * (2 * and + wd(n, 1)) + 8 * n, f[2] = 16 * n + 8 * (and + n);
        *rounds = aby3 ? 9 : 8;
    } else {
        uint64_t mn = d * d, mk = d * d, kn = d * d;
        if (!aby3) f[0] = f[1] = 8 * (mk + kn + mn), f[2] = (16 + t) * mn;
        else f[0] = f[1] = 16 * mn, f[2] = (24 + t) * mn;
        *rounds = 2;
    }
}

/* ------------------------------------------------------------------ plaintext baselines */

static volatile int64_t sink; /* keeps the baselines' results live */

static double plain_mul(const int64_t *x, const int64_t *y, int64_t *z, size_t n) {
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) z[i] = (x[i] * y[i]) >> FXP; /* arithmetic shift (gcc) */
    double t1 = bench_now_s();
    sink = z[n / 2];
    return t1 - t0;
}

static double plain_less(const double *x, const double *y, int64_t *z, size_t n) {
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) z[i] = x[i] < y[i];
    double t1 = bench_now_s();
    sink = z[n / 2];
    return t1 - t0;
}

/* i-k-j order: the inner loop streams a row of B and of C (vectorisable), no blocking. */
static double plain_mm(const int64_t *a, const int64_t *b, int64_t *c, size_t d) {
    double t0 = bench_now_s();
    memset(c, 0, sizeof *c * d * d);
    for (size_t i = 0; i < d; i++)
        for (size_t k = 0; k < d; k++) {
            int64_t aik = a[i * d + k];
            const int64_t *br = b + k * d;
            int64_t *cr = c + i * d;
            for (size_t j = 0; j < d; j++) cr[j] += aik * br[j];
        }
    for (size_t i = 0; i < d * d; i++) c[i] >>= FXP;
    double t1 = bench_now_s();
    sink = c[d * d / 2];
    return t1 - t0;
}

/* Median over 1 + reps runs (the first is a warm-up) of the op's plaintext form on the
 * same inputs (regenerated: alice does not have bob's values through the runtime). */
static int plain_baseline(const opts *o, int op, double *med) {
    size_t n = op == OP_MM ? (size_t)(o->mm * o->mm) : (size_t)o->n;
    int bits = op == OP_MM ? MAT_BITS : VEC_BITS;
    uint64_t sa = op == OP_MM ? 3 : 1, sb = op == OP_MM ? 4 : 2;
    int64_t *xi = malloc(sizeof *xi * n), *yi = malloc(sizeof *yi * n), *z = malloc(sizeof *z * n);
    double *xd = op == OP_LESS ? malloc(sizeof *xd * n) : NULL, *yd = op == OP_LESS ? malloc(sizeof *yd * n) : NULL;
    if (!xi || !yi || !z || (op == OP_LESS && (!xd || !yd))) {
        free(xi), free(yi), free(z), free(xd), free(yd);
        return SF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        xi[i] = gen_k(sa, i, bits), yi[i] = gen_k(sb, i, bits);
        if (xd) xd[i] = gen(sa, i, bits), yd[i] = gen(sb, i, bits);
    }
    double t[MAXREPS];
    for (int r = -1; r < o->reps; r++) {
        double s = op == OP_MUL ? plain_mul(xi, yi, z, n)
                   : op == OP_LESS ? plain_less(xd, yd, z, n)
                                   : plain_mm(xi, yi, z, (size_t)o->mm);
        if (r >= 0) t[r] = s;
    }
    *med = bench_median(t, o->reps);
    free(xi), free(yi), free(z), free(xd), free(yd);
    return SF_OK;
}

/* ------------------------------------------------------------------ checks */

typedef struct checked {
    size_t bad, checked, total, first_bad;
    double worst, first_got;
} checked;

/* Compare a revealed result (elements off..off+len of the op's output) with plaintext
 * arithmetic: mul within the test bound of tests/modes/spu_modes.c (two ulps plus the
 * operands' encoding), less exactly, matmul within 3 ulps (one truncation of an exact sum:
 * floor or floor + 1). mul and less: every element; matmul: 257 outputs spread over the
 * matrix (each a --mm-term dot product). */
static void check(const opts *o, int op, const sf_value *v, size_t off, size_t len, checked *c) {
    size_t d = (size_t)o->mm;
    double ulp = ldexp(1, -FXP);
    c->total += len;
    if (sf_value_nelems(v) != len) {
        if (!c->bad++) c->first_bad = off, c->first_got = NAN;
        return;
    }
    size_t step = op == OP_MM ? (len > 257 ? len / 257 : 1) : 1;
    for (size_t e = 0; e < len; e += step, c->checked++) {
        size_t i = off + e;
        double got = sf_value_as_f64(v, e), want, tol;
        if (op == OP_MUL) {
            double x = gen(1, i, VEC_BITS), y = gen(2, i, VEC_BITS);
            want = x * y, tol = ulp * (fabs(x) + fabs(y) + 2);
        } else if (op == OP_LESS) {
            want = gen(1, i, VEC_BITS) < gen(2, i, VEC_BITS), tol = 0;
        } else {
            size_t r = i / d, col = i % d;
            want = 0;
            for (size_t k = 0; k < d; k++) want += gen(3, r * d + k, MAT_BITS) * gen(4, k * d + col, MAT_BITS);
            tol = 3 * ulp;
        }
        double err = fabs(got - want);
        if (err > c->worst) c->worst = err;
        if (err > tol && !c->bad++) c->first_bad = i, c->first_got = got;
    }
}

/* ------------------------------------------------------------------ one operation */

#define MAXSPLIT 16

typedef struct bench {
    const opts *o;
    sf_device dev[3], spu;
    const char *mode, *spuname;
    int aby3;
    int nparts[3];                       /* calls per measurement (--split-mul for mul_fxp) */
    int64_t off[3][MAXSPLIT], len[3][MAXSPLIT];
    sf_obj px[3][MAXSPLIT], py[3][MAXSPLIT]; /* the owners' plaintext inputs */
    sf_obj a[3][MAXSPLIT], b[3][MAXSPLIT];   /* their shares in the current SPU */
    int failures;
} bench;

/* Indices of the per-party figures gathered after each operation. */
enum { G_MED, G_FIRST, G_BYTES, G_R0, G_R1, G_N };

/* One measurement: the op's calls back to back (one call unless the batch is split). */
static void call_op(bench *B, int op, sf_obj *r) {
    static const sf_task_fn kernels[3] = {k_mul, k_less, k_mm};
    for (int j = 0; j < B->nparts[op]; j++)
        r[j] = SF_REMOTE(B->spu, kernels[op], SF_OBJ(B->a[op][j]), SF_OBJ(B->b[op][j]));
}

static void release_all(const sf_obj *r, int n) {
    for (int j = 0; j < n; j++) sf_release(r[j]);
}

static int run_op(sf_ctx *sf, bench *B, int op) {
    const opts *o = B->o;
    int K = B->nparts[op];
    uint64_t n = op == OP_MM ? (uint64_t)(o->mm * o->mm) : (uint64_t)o->n;
    int me = sf_party_index(sf);
    sf_spu_counters c0, c1;
    double t[MAXREPS], mine[G_N] = {0};
    sf_obj r[MAXSPLIT];

    /* warm-up: also the measurement over which bytes and rounds are counted */
    SF_TRY(bench_barrier3(sf, B->dev));
    SF_TRY(sf_spu_stats(B->spu, &c0));
    double t0 = bench_now_s();
    call_op(B, op, r);
    double t1 = bench_now_s();
    SF_TRY(sf_spu_stats(B->spu, &c1));
    release_all(r, K);
    mine[G_FIRST] = t1 - t0;
    mine[G_BYTES] = (double)(c1.bytes_sent - c0.bytes_sent);
    mine[G_R0] = (double)c0.rounds;
    mine[G_R1] = (double)c1.rounds;

    for (int rep = 0; rep < o->reps; rep++) {
        SF_TRY(bench_barrier3(sf, B->dev));
        t0 = bench_now_s();
        call_op(B, op, r);
        t1 = bench_now_s();
        t[rep] = t1 - t0;
        if (rep + 1 < o->reps) release_all(r, K); /* the last is revealed below, untimed */
    }
    mine[G_MED] = bench_median(t, o->reps);

    /* the plaintext baseline, on alice only; the others wait at the next barrier */
    double plain = 0;
    if (me == 0) SF_TRY(plain_baseline(o, op, &plain));
    SF_TRY(bench_barrier3(sf, B->dev));

    double all[3 * G_N];
    SF_TRY(gather(sf, B->dev, mine, G_N, all));

    checked ck = {0};
    char msg[320];
    int rc = SF_OK;
    for (int j = 0; j < K && !rc; j++) {
        sf_value *v;
        rc = sf_get(sf, r[j], &v);
        if (!rc) check(o, op, v, (size_t)B->off[op][j], (size_t)B->len[op][j], &ck);
    }
    release_all(r, K);
    if (rc)
        snprintf(msg, sizeof msg, "BAD (sf_get failed: %s: %s)", sf_err_name(rc), sf_last_error(sf));
    else if (ck.bad)
        snprintf(msg, sizeof msg, "BAD (%zu of %zu checked elements outside the bound; first at %zu: "
                 "got %.9g; max error %.3g)", ck.bad, ck.checked, ck.first_bad, ck.first_got, ck.worst);
    else
        snprintf(msg, sizeof msg, "OK (%zu of %zu elements checked against plaintext, max error %.3g = "
                 "%.2f ulp)", ck.checked, ck.total, ck.worst, ck.worst / ldexp(1, -FXP));
    int bad = rc || ck.bad;
    B->failures += bad;

    /* bytes and rounds against the formulas (summed over the calls of a split batch) */
    uint64_t f[3] = {0, 0, 0}, fr = 0;
    for (int j = 0; j < K; j++) {
        uint64_t fj[3], rj;
        formula(B->aby3, op, op == OP_MM ? n : (uint64_t)B->len[op][j], (uint64_t)o->mm, fj, &rj);
        for (int p = 0; p < 3; p++) f[p] += fj[p];
        fr += rj;
    }
    int match = 1;
    for (int p = 0; p < 3; p++) match &= (uint64_t)all[p * G_N + G_BYTES] == f[p];
    double rmax0 = 0, rmax1 = 0;
    for (int p = 0; p < 3; p++) {
        if (all[p * G_N + G_R0] > rmax0) rmax0 = all[p * G_N + G_R0];
        if (all[p * G_N + G_R1] > rmax1) rmax1 = all[p * G_N + G_R1];
    }
    double med = all[G_MED], first = all[G_FIRST];
    char rate[160], bytes[320], per[64], what[64];
    const char *unit = op == OP_MM ? "output" : "elt";
    double mac = (double)o->mm * (double)o->mm * (double)o->mm;
    if (op == OP_MM)
        snprintf(rate, sizeof rate, "rate=%.2fGmac/s plain_s=%.3f plain_rate=%.2fGmac/s time/plain=%.1fx goal<=1.0s",
                 mac / med * 1e-9, plain, mac / plain * 1e-9, med / plain);
    else
        snprintf(rate, sizeof rate, "rate=%.2fM/s plain_rate=%.1fM/s time/plain=%.0fx goal>=%sM/s",
                 (double)n / med * 1e-6, (double)n / plain * 1e-6, med / plain,
                 B->aby3 ? "-" : op == OP_MUL ? "30" : "2");
    if (o->plain) {
        snprintf(bytes, sizeof bytes, "bytes/%s n/a (plain: no protocol traffic; measured %.0f/%.0f/%.0f) rounds n/a",
                 unit, all[G_BYTES], all[G_N + G_BYTES], all[2 * G_N + G_BYTES]);
    } else {
        snprintf(bytes, sizeof bytes, "bytes/%s alice=%.3f bob=%.3f carol=%.3f formula=%.3f/%.3f/%.3f %s "
                 "rounds=%.0f formula=%llu %s clocks=%.0f>%.0f/%.0f>%.0f/%.0f>%.0f", unit,
                 all[G_BYTES] / (double)n, all[G_N + G_BYTES] / (double)n,
                 all[2 * G_N + G_BYTES] / (double)n, (double)f[0] / (double)n, (double)f[1] / (double)n,
                 (double)f[2] / (double)n, match ? "MATCH" : "DIFF", rmax1 - rmax0,
                 (unsigned long long)fr, rmax1 - rmax0 == (double)fr ? "MATCH" : "DIFF",
                 all[G_R0], all[G_R1], all[G_N + G_R0], all[G_N + G_R1], all[2 * G_N + G_R0],
                 all[2 * G_N + G_R1]);
    }
    snprintf(per, sizeof per, "%.4f/%.4f/%.4f", all[G_MED], all[G_N + G_MED], all[2 * G_N + G_MED]);
    if (op == OP_MM)
        snprintf(what, sizeof what, "m=k=n=%lld", (long long)o->mm);
    else if (K > 1)
        snprintf(what, sizeof what, "n=%llu calls=%d", (unsigned long long)n, K);
    else
        snprintf(what, sizeof what, "n=%llu", (unsigned long long)n);
    sf_print(sf, "spu_rt mode=%s%s%s spu=%s op=%s %s median_s=%.4f first_s=%.4f %s %s "
             "median_s(alice/bob/carol)=%s check=%s\n", B->mode, o->tag ? " tag=" : "",
             o->tag ? o->tag : "", B->spuname, op_names[op], what, med, first, rate, bytes, per,
             bad ? "BAD" : "OK");
    sf_print(sf, "spu_rt   check %s %s: %s\n", B->spuname, op_names[op], msg);
    if (sf_party_index(sf) == 0) {
        bench_cfg cfg = {0};
        bench_cfg_str(&cfg, "mode", B->mode);
        if (o->tag) bench_cfg_str(&cfg, "tag", o->tag);
        bench_cfg_str(&cfg, "protocol", B->aby3 ? "aby3" : "semi2k");
        bench_cfg_num(&cfg, "plain", o->plain);
        if (op == OP_MM) bench_cfg_num(&cfg, "mm", (double)o->mm);
        else bench_cfg_num(&cfg, "n", (double)n);
        bench_cfg_num(&cfg, "calls", K);
        bench_cfg_num(&cfg, "reps", o->reps);
        bench_cfg_num(&cfg, "ok", !bad);
        if (op == OP_MM)
            bench_json("spu_rt.matmul_fxp", &cfg, med, "s", plain, "plaintext on alice");
        else
            bench_json(op == OP_MUL ? "spu_rt.mul_fxp" : "spu_rt.less", &cfg,
                       (double)n / med * 1e-6, "M/s", (double)n / plain * 1e-6,
                       "plaintext on alice");
    }
    return SF_OK;
}

/* ------------------------------------------------------------------ program */

static int want(const opts *o, int op) {
    static const char *const short_names[3] = {"mul", "less", "mm"};
    return !o->only || strstr(o->only, short_names[op]) != NULL;
}

static int run_spu(sf_ctx *sf, bench *B, int aby3) {
    const opts *o = B->o;
    const char *const members[3] = {"alice", "bob", "carol"};
    sf_spu_options so = {.protocol = aby3 ? "aby3" : "semi2k", .dealer = aby3 ? NULL : "carol",
                         .seed = 20240611};
    B->aby3 = aby3;
    B->spuname = aby3 ? "aby3(alice,bob,carol)" : "semi2k(alice,bob;dealer=carol)";

    /* setup, untimed in the figures: the SPU, then the inputs shared once */
    SF_TRY(bench_barrier3(sf, B->dev));
    double t0 = bench_now_s();
    B->spu = sf_spu(sf, members, aby3 ? 3 : 2, &so);
    double t1 = bench_now_s();
    sf_obj live[6 * MAXSPLIT];
    int nin = 0;
    for (int op = 0; op < 3; op++)
        for (int j = 0; want(o, op) && j < B->nparts[op]; j++) {
            live[nin++] = B->a[op][j] = sf_to(B->px[op][j], B->spu);
            live[nin++] = B->b[op][j] = sf_to(B->py[op][j], B->spu);
        }
    int rc = sf_wait(sf, live, nin);
    double t2 = bench_now_s();
    if (rc) {
        sf_print(sf, "spu_rt: sharing the inputs failed: %s\n", sf_last_error(sf));
        return rc;
    }
    sf_print(sf, "spu_rt mode=%s%s%s spu=%s setup: sf_spu %.4f s, sf_to of the inputs %.4f s (alice; "
             "not in the figures)\n", B->mode, o->tag ? " tag=" : "", o->tag ? o->tag : "", B->spuname,
             t1 - t0, t2 - t1);
    for (int op = 0; op < 3; op++)
        if (want(o, op)) SF_TRY(run_op(sf, B, op));
    release_all(live, nin);
    return SF_OK;
}

static int program(sf_ctx *sf, void *arg) {
    opts o = *(const opts *)arg;
    for (int i = 1; i < sf_argc(sf); i++) {
        const char *a = sf_argv(sf)[i];
        if (!strncmp(a, "--n=", 4)) o.n = atoll(a + 4);
        else if (!strncmp(a, "--mm=", 5)) o.mm = atoll(a + 5);
        else if (!strncmp(a, "--reps=", 7)) o.reps = atoi(a + 7);
        else if (!strncmp(a, "--aby3=", 7)) o.aby3 = atoi(a + 7);
        else if (!strncmp(a, "--split-mul=", 12)) o.split_mul = atoi(a + 12);
        else if (!strncmp(a, "--only=", 7)) o.only = a + 7;
        else if (!strncmp(a, "--tag=", 6)) o.tag = a + 6;
        else {
            sf_print(sf, "bench_spu_rt: unknown argument '%s'\nusage: bench_spu_rt [--n=N] [--mm=D] "
                     "[--reps=R] [--aby3=0|1] [--split-mul=K] [--only=mul,less,mm] [--tag=TEXT] [--json FILE] "
                     "--sf-mode=debug|sim [--sf-spu=plain]\n", a);
            return SF_EUSAGE;
        }
    }
    if (o.n < 1 || o.mm < 1 || o.reps < 1 || o.reps > MAXREPS || o.mm > 46340 ||
        o.split_mul < 1 || o.split_mul > MAXSPLIT || o.split_mul > o.n) {
        sf_print(sf, "bench_spu_rt: need --n >= 1, 1 <= --mm <= 46340, 1 <= --reps <= %d, "
                 "1 <= --split-mul <= min(%d, n)\n", MAXREPS, MAXSPLIT);
        return SF_EUSAGE;
    }
    if (sf_nparties(sf) != 3 || strcmp(sf_party_name_of(sf, 0), "alice") ||
        strcmp(sf_party_name_of(sf, 1), "bob") || strcmp(sf_party_name_of(sf, 2), "carol")) {
        sf_print(sf, "bench_spu_rt: needs the parties alice,bob,carol in this order\n");
        return SF_EUSAGE;
    }
    bench B = {.o = &o, .mode = sf_mode_name(sf_get_distribution_mode(sf))};
    B.dev[0] = sf_pyu(sf, "alice"), B.dev[1] = sf_pyu(sf, "bob"), B.dev[2] = sf_pyu(sf, "carol");
    sf_print(sf, "bench_spu_rt: mode=%s spu=%s n=%lld mm=%lld reps=%d split-mul=%d (median of alice's "
             "times; 1 warm-up measurement counted for bytes/rounds); fixed SPU seed (reproducible, "
             "INSECURE)\n", B.mode, o.plain ? "plain (functional simulation)" : "real protocol",
             (long long)o.n, (long long)o.mm, o.reps, o.split_mul);

    /* private inputs, each made by its owner: x, A on alice, y, B on bob. A split batch is
     * K objects covering consecutive ranges of the same vectors. */
    sf_obj ins[6 * MAXSPLIT];
    int nin = 0;
    for (int op = 0; op < 3; op++) {
        int K = op == OP_MUL ? o.split_mul : 1;
        B.nparts[op] = K;
        int64_t off = 0;
        for (int j = 0; j < K; j++) {
            int64_t len = op == OP_MM ? o.mm * o.mm : o.n / K + (j < o.n % K);
            int64_t rows = op == OP_MM ? o.mm : len, cols = op == OP_MM ? o.mm : 0;
            int64_t bits = op == OP_MM ? MAT_BITS : VEC_BITS;
            B.off[op][j] = off, B.len[op][j] = len;
            if (!want(&o, op)) continue;
            ins[nin++] = B.px[op][j] = SF_REMOTE(B.dev[0], make, SF_I64(op == OP_MM ? 3 : 1), SF_I64(rows),
                                                 SF_I64(cols), SF_I64(bits), SF_I64(off));
            ins[nin++] = B.py[op][j] = SF_REMOTE(B.dev[1], make, SF_I64(op == OP_MM ? 4 : 2), SF_I64(rows),
                                                 SF_I64(cols), SF_I64(bits), SF_I64(off));
            off += len;
        }
    }
    SF_TRY(sf_wait(sf, ins, nin));

    SF_TRY(run_spu(sf, &B, 0));
    if (o.aby3) SF_TRY(run_spu(sf, &B, 1));
    release_all(ins, nin);
    if (B.failures) {
        sf_print(sf, "bench_spu_rt: %d result check(s) BAD\n", B.failures);
        return SF_EINVAL;
    }
    return SF_OK;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    opts o = {.n = 1 << 20, .mm = 1000, .reps = 5, .split_mul = 1};
    /* the plaintext simulation is a runtime option; only the label needs to know of it */
    if (bench_json_args(&argc, argv) != 0) return 2;
    const char *env = getenv("SF_SPU");
    o.plain = env && !strcmp(env, "plain");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strncmp(argv[i], "--sf-spu=", 9)) o.plain = !strcmp(argv[i] + 9, "plain");
    }
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, &o);
}
