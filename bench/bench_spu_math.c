/*
 * The SPU numerics through the runtime (a measurement, not a test): each operation of the
 * numerics issue as an SPU kernel (SF_REMOTE) in whatever mode the program runs (sim for
 * the figures), beside the same function computed in double precision by alice in this
 * process (the plaintext baseline of the same run).
 *
 *   exp, reciprocal, div, div_public, sigmoid linear / taylor3 / segmented / exp on --n
 *   elements; transpose and sum over an axis of a sqrt(n) x sqrt(n) matrix; a private-
 *   times-secret product (X: --rows x --k, private to alice, times a secret k x 1), timed
 *   after its first call (which sends the masked X once; that call is reported apart), in
 *   the 64-bit ring (SF_PRIVATE) and, semi2k only, the 32-bit one (SF_PRIVATE32).
 *
 * Parties alice, bob, carol. semi2k over {alice, bob} with carol as the dealer, and (with
 * --aby3=1) aby3 over all three. x (in [-8, 8)) belongs to alice, y (in [0.5, 50)) to bob;
 * both are moved into the SPU once before anything is timed. A barrier of the three parties
 * precedes every timed call; alice's median over --reps calls is reported, with the bytes
 * each party sent in one call (sf_spu_stats deltas) and the rounds (max over parties). The
 * last result of each operation is revealed and checked against double precision within
 * the documented error (OK/BAD), so the benchmark cannot time garbage.
 *
 * Usage: mpirun -np 3 bench_spu_math --sf-mode=sim --sf-parties=alice,bob,carol
 *          [--n=N] [--rows=M] [--k=K] [--reps=R] [--aby3=0|1] [--json FILE]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/sf.h"

#include "bench_parties.h"
#include "bench_util.h"

#define MAXREPS 64

enum { O_EXP, O_RECIP, O_DIV, O_DIVP, O_SLIN, O_ST3, O_SSEG, O_SEXP, O_TRANS, O_SUMAX, O_PRIV, O_PRIV32, NOPS };
static const char *const NAMES[NOPS] = {"exp", "reciprocal", "div", "div_public", "sigmoid_linear",
                                        "sigmoid_taylor3", "sigmoid_segmented", "sigmoid_exp",
                                        "transpose", "sum_axis", "private_matmul", "private32_matmul"};
/* the private products: X (rows x k) private to alice, times w */
#define PRIVOP(op) ((op) == O_PRIV || (op) == O_PRIV32)

static double xval(int64_t i) { /* [-8, 8) */
    uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15ULL + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z ^= z >> 29;
    return ldexp((double)(int64_t)(z >> 44) - 524288, -16);
}
static double yval(int64_t i) { return 0.5 + 49.5 * (0.5 + xval(i + 77777) / 16); }

/* make(which, rows, cols): x (0), y (1), X (2) as float64 */
static int make(sf_task *t) {
    int w = (int)sf_arg_i64(t, 0);
    int64_t r = sf_arg_i64(t, 1), c = sf_arg_i64(t, 2);
    sf_value *v = sf_value_new(SF_F64, c ? 2 : 1, (const int64_t[]){r, c});
    if (!v) return sf_fail(t, "out of memory");
    double *d = sf_value_data(v);
    for (size_t i = 0; i < sf_value_nelems(v); i++) d[i] = w == 1 ? yval((int64_t)i) : xval((int64_t)i) / (w == 2 ? 4 : 1);
    return sf_return(t, 0, v);
}

static int k_op(sf_spu_task *t) {
    int op = (int)sf_spu_public_f64(t, 0);
    sf_spu_val x = sf_spu_arg(t, 1), y = sf_spu_arg(t, 2), r = {-1};
    int64_t n = (int64_t)sf_spu_public_f64(t, 3);
    switch (op) {
    case O_EXP: r = sf_spu_exp(t, x); break;
    case O_RECIP: r = sf_spu_reciprocal(t, y); break;
    case O_DIV: r = sf_spu_div(t, x, y); break;
    case O_DIVP: r = sf_spu_div_public(t, x, 3.0); break;
    case O_SLIN: r = sf_spu_sigmoid(t, x, SF_SIGMOID_LINEAR); break;
    case O_ST3: r = sf_spu_sigmoid(t, x, SF_SIGMOID_TAYLOR3); break;
    case O_SSEG: r = sf_spu_sigmoid(t, x, SF_SIGMOID_SEGMENTED); break;
    case O_SEXP: r = sf_spu_sigmoid(t, x, SF_SIGMOID_EXP); break;
    case O_TRANS: r = sf_spu_transpose(t, sf_spu_reshape(t, x, 2, (const int64_t[]){n, -1})); break;
    case O_SUMAX: r = sf_spu_sum_axis(t, sf_spu_reshape(t, x, 2, (const int64_t[]){n, -1}), 0); break;
    case O_PRIV: case O_PRIV32: r = sf_spu_matmul(t, x, y); break;
    }
    return sf_spu_return(t, r);
}



/* every party's number: out[p] */
static void gather(sf_ctx *sf, sf_device dev[3], double mine, double out[3]) {
    for (int p = 0; p < 3; p++) {
        sf_obj o = SF_REMOTE(dev[p], bench_echo, SF_F64(mine));
        sf_value *g;
        out[p] = sf_get(sf, o, &g) ? NAN : sf_value_as_f64(g, 0);
        sf_release(o);
    }
}

static volatile double sink;
static int64_t g_k; /* --k, for the 32-bit ring's error bound */

/* the plaintext function over n elements, timed (its inputs made beforehand) */
static double plain(int op, int64_t n, int64_t rows, int64_t k, double *out) {
    int64_t ni = PRIVOP(op) ? rows * k : n;
    double *xs = malloc(sizeof *xs * (size_t)ni), *ys = malloc(sizeof *ys * (size_t)(n > k ? n : k));
    if (!xs || !ys) {
        free(xs), free(ys);
        return NAN;
    }
    for (int64_t i = 0; i < ni; i++) xs[i] = PRIVOP(op) ? xval(i) / 4 : xval(i);
    for (int64_t i = 0; i < (n > k ? n : k); i++) ys[i] = yval(i);
    double t0 = bench_now_s();
    if (PRIVOP(op)) {
        for (int64_t i = 0; i < rows; i++) {
            double s = 0;
            for (int64_t j = 0; j < k; j++) s += xs[i * k + j] * ys[j];
            out[i] = s;
        }
    } else if (op == O_TRANS || op == O_SUMAX) {
        int64_t d = (int64_t)sqrt((double)n);
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++) {
                if (op == O_TRANS) out[j * d + i] = xs[i * d + j];
                else out[j] = (i ? out[j] : 0) + xs[i * d + j];
            }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double x = xs[i], y = ys[i], r = 0;
            switch (op) {
            case O_EXP: r = exp(x); break;
            case O_RECIP: r = 1 / y; break;
            case O_DIV: r = x / y; break;
            case O_DIVP: r = x / 3; break;
            case O_SLIN: r = sf_sigmoid_approx(SF_SIGMOID_LINEAR, x); break;
            case O_ST3: r = sf_sigmoid_approx(SF_SIGMOID_TAYLOR3, x); break;
            case O_SSEG: r = sf_sigmoid_approx(SF_SIGMOID_SEGMENTED, x); break;
            default: r = sf_sigmoid_approx(SF_SIGMOID_EXP, x); break;
            }
            out[i] = r;
        }
    }
    double t = bench_now_s() - t0;
    sink = out[0];
    free(xs), free(ys);
    return t;
}

static double tol(int op, double want) {
    double ulp = ldexp(1, -18);
    switch (op) {
    case O_EXP: case O_RECIP: return 8 * ulp + 1e-4 * fabs(want);
    case O_DIV: return 8 * ulp + 1e-4 * fabs(want) + 64 * ulp;
    case O_ST3: return 400 * ulp;
    case O_PRIV: return 1e-3;
    case O_PRIV32: /* x (|x| <= 2) keeps 8 fraction bits, w (< 50) 10: k of each, at most */
        return (double)g_k * (50 * ldexp(1, -9) + 2 * ldexp(1, -10)) + 1e-3;
    default: return 8 * ulp;
    }
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int64_t n = 1 << 16, rows = 100000, k = 100;
    int reps = 5, aby3 = 1;
    for (int i = 1; i < sf_argc(sf); i++) {
        const char *a = sf_argv(sf)[i];
        if (!strncmp(a, "--n=", 4)) n = atoll(a + 4);
        else if (!strncmp(a, "--rows=", 7)) rows = atoll(a + 7);
        else if (!strncmp(a, "--k=", 4)) k = atoll(a + 4);
        else if (!strncmp(a, "--reps=", 7)) reps = atoi(a + 7);
        else if (!strncmp(a, "--aby3=", 7)) aby3 = atoi(a + 7);
    }
    if (reps < 1 || reps > MAXREPS || n < 4 || rows < 1 || k < 1) return 2;
    g_k = k;
    int64_t d = (int64_t)sqrt((double)n);
    sf_device dev[3] = {sf_pyu(sf, "alice"), sf_pyu(sf, "bob"), sf_pyu(sf, "carol")};
    double *pout = malloc(sizeof(double) * (size_t)(n > rows ? n : rows));
    if (!pout) return SF_ENOMEM;
    for (int proto = 0; proto < 1 + aby3; proto++) {
        const char *pn = proto ? "aby3" : "semi2k";
        sf_spu_options so = {.protocol = pn, .dealer = proto ? NULL : "carol"};
        sf_device spu = proto ? sf_spu(sf, (const char *[]){"alice", "bob", "carol"}, 3, &so)
                              : sf_spu(sf, (const char *[]){"alice", "bob"}, 2, &so);
        sf_obj x = sf_to(SF_REMOTE(dev[0], make, SF_I64(0), SF_I64(n), SF_I64(0)), spu);
        sf_obj y = sf_to(SF_REMOTE(dev[1], make, SF_I64(1), SF_I64(n), SF_I64(0)), spu);
        sf_obj X = SF_REMOTE(dev[0], make, SF_I64(2), SF_I64(rows), SF_I64(k));
        sf_obj X32 = SF_REMOTE(dev[0], make, SF_I64(2), SF_I64(rows), SF_I64(k)); /* its own mask */
        sf_obj w = sf_to(SF_REMOTE(dev[1], make, SF_I64(1), SF_I64(k), SF_I64(1)), spu);
        SF_TRY(sf_wait(sf, (sf_obj[]){x, y, X, X32, w}, 5));
        for (int op = 0; op < NOPS; op++) {
            if (op == O_PRIV32 && proto) continue; /* the 32-bit ring is semi2k's */
            double tm[MAXREPS + 1], first = NAN;
            uint64_t rnd = 0;
            double bytes[3] = {0};
            sf_obj last = {0};
            for (int r = -1; r < reps; r++) {
                SF_TRY(bench_barrier3(sf, dev));
                sf_spu_counters c0, c1;
                sf_spu_stats(spu, &c0);
                double t0 = bench_now_s();
                sf_obj res = op == O_PRIV32 ? SF_REMOTE(spu, k_op, SF_F64(op), SF_PRIVATE32(X32, 0), SF_OBJ(w), SF_F64(0))
                             : op == O_PRIV ? SF_REMOTE(spu, k_op, SF_F64(op), SF_PRIVATE(X), SF_OBJ(w), SF_F64(0))
                                          : SF_REMOTE(spu, k_op, SF_F64(op), SF_OBJ(x), SF_OBJ(y), SF_F64((double)d));
                double t1 = bench_now_s() - t0;
                sf_spu_stats(spu, &c1);
                if (r < 0) first = t1;
                else tm[r] = t1;
                if (r == 0) { /* one call's traffic */
                    double mine = (double)(c1.bytes_sent - c0.bytes_sent);
                    gather(sf, dev, mine, bytes);
                    double rr[3];
                    gather(sf, dev, (double)(c1.rounds - c0.rounds), rr);
                    rnd = (uint64_t)fmax(rr[0], fmax(rr[1], rr[2]));
                }
                if (last.sf) sf_release(last);
                last = res;
            }
            double med = bench_median(tm, reps);
            int64_t nel = PRIVOP(op) ? rows : op == O_TRANS ? d * d : op == O_SUMAX ? d : n;
            double pt = plain(op, op == O_TRANS || op == O_SUMAX ? d * d : n, rows, k, pout);
            /* check the last result */
            sf_value *v;
            int ok = !sf_get(sf, last, &v) && (int64_t)sf_value_nelems(v) == nel;
            for (int64_t i = 0; ok && i < nel; i++)
                ok = fabs(sf_value_as_f64(v, (size_t)i) - pout[i]) <= tol(op, pout[i]);
            sf_release(last);
            int64_t per = PRIVOP(op) ? rows * k : op == O_TRANS || op == O_SUMAX ? d * d : n;
            sf_print(sf, "%-7s %-18s %9lld elems: SPU %9.3f ms (%7.1f ns/elem), plaintext %8.3f ms, "
                         "ratio %7.0f; B/elem %6.1f %6.1f %6.1f; rounds %3llu; %s\n",
                     pn, NAMES[op], (long long)per, med * 1e3, med * 1e9 / (double)per, pt * 1e3,
                     pt > 0 ? med / pt : NAN, bytes[0] / (double)per, bytes[1] / (double)per,
                     bytes[2] / (double)per, (unsigned long long)rnd, ok ? "OK" : "BAD");
            if (PRIVOP(op))
                sf_print(sf, "%-7s %-18s first call (masks X once): %.3f ms\n", pn, NAMES[op], first * 1e3);
            if (sf_party_index(sf) == 0) {
                bench_cfg cfg = {0};
                bench_cfg_str(&cfg, "protocol", pn);
                bench_cfg_str(&cfg, "op", NAMES[op]);
                bench_cfg_num(&cfg, "elements", (double)per);
                bench_cfg_str(&cfg, "mode", sf_mode_name(sf_get_distribution_mode(sf)));
                bench_cfg_num(&cfg, "bytes_alice", bytes[0]);
                bench_cfg_num(&cfg, "bytes_bob", bytes[1]);
                bench_cfg_num(&cfg, "bytes_carol", bytes[2]);
                bench_cfg_num(&cfg, "rounds", (double)rnd);
                bench_cfg_str(&cfg, "check", ok ? "OK" : "BAD");
                bench_json("spu_math", &cfg, med, "s", pt, "plaintext double");
            }
        }
        sf_release(x), sf_release(y), sf_release(X), sf_release(X32), sf_release(w);
    }
    free(pout);
    return 0;
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv)) return 2;
    return sf_main(argc, argv, program, NULL);
}
