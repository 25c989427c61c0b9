/*
 * The SPU through the runtime, in every mode: each op on the same inputs with fixed seeds
 * (sf_spu_options.seed) prints its revealed results exactly (fixed-point values as
 * 2^-18 multiples), so debug mode (the real protocol in one process) and simulation mode
 * must print byte-identical output; each result is also checked against plaintext
 * arithmetic within the protocol's error bound. `spu_modes misuse` passes an SPU object
 * to a PYU call; `spu_modes aby3_two` asks for aby3 with two members.
 * `spu_modes compare=GOLDEN --sf-spu=plain` runs the plaintext simulation and checks every
 * result against the protocol's (GOLDEN: the output above): exact where the operation has
 * no truncation, within 1 ulp where it has one.
 * `spu_modes prg=chacha20|aes|auto` pins the streams (the same output: these inputs make
 * every truncation exact, so the revealed bits do not depend on the randomness).
 * `spu_modes big` runs one mul and one comparison of 2^22 elements (long message streams
 * both ways, the flow-control case) and checks every result.
 * `spu_modes stats` checks the traffic counted through the runtime (sf_spu_stats): bytes
 * sent by every participant and the rounds of each operation on a fresh SPU equal the
 * formulas of devices/spu/core/spu_proto.h.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

#define N 64

static int vec(sf_task *t) {
    int64_t n = N, seed = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_F64, 1, &n);
    double *x = sf_value_data(v);
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 3;
    for (int i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (double)(int64_t)(s % 20001 - 10000) / 64.0; /* exact in fixed point */
    }
    if (seed == 2) x[5] = ((double *)x)[5]; /* keep some equal pairs below */
    return sf_return(t, 0, v);
}

static int ivec(sf_task *t) {
    int64_t n = N;
    sf_value *v = sf_value_new(SF_I64, 1, &n);
    for (int i = 0; i < N; i++) ((int64_t *)sf_value_data(v))[i] = (i * 7919) % 1000 - 500;
    return sf_return(t, 0, v);
}

static int ops(sf_spu_task *t) {
    sf_spu_val a = sf_spu_arg(t, 0), b = sf_spu_arg(t, 1), k = sf_spu_arg(t, 2);
    sf_spu_return_n(t, 0, sf_spu_add(t, a, b));
    sf_spu_return_n(t, 1, sf_spu_mul(t, a, b));
    sf_spu_return_n(t, 2, sf_spu_less(t, a, b));
    sf_spu_return_n(t, 3, sf_spu_equal(t, a, a));
    sf_spu_return_n(t, 4, sf_spu_relu(t, sf_spu_sub(t, a, b)));
    sf_spu_return_n(t, 5, sf_spu_mul(t, k, k)); /* integers: exact */
    sf_spu_return_n(t, 6, sf_spu_sum(t, a));
    return sf_spu_return_n(t, 7, sf_spu_mul_public(t, a, 0.5));
}

/* The golden line "<proto> <op>: v v v ..." as numbers; 0 if absent. */
static int golden(const char *path, const char *proto, const char *op, long long *out, int max) {
    FILE *f = fopen(path, "r");
    char head[64], line[8192];
    int n = 0;
    if (!f) return -1;
    snprintf(head, sizeof head, "%s %s:", proto, op);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, head, strlen(head))) continue;
        char *p = line + strlen(head), *end;
        for (long long v = strtoll(p, &end, 10); end != p && n < max; v = strtoll(p, &end, 10))
            out[n++] = v, p = end;
        break;
    }
    fclose(f);
    return n;
}

/* ------------------------------------------------------------------ stats */

#define SN 1000
static int svec(sf_task *t) {
    int64_t n = SN, fxp = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(fxp ? SF_F64 : SF_I64, 1, &n);
    for (int i = 0; i < SN; i++) {
        if (fxp) ((double *)sf_value_data(v))[i] = (i % 97) / 8.0 - 6;
        else ((int64_t *)sf_value_data(v))[i] = i % 89 - 40;
    }
    return sf_return(t, 0, v);
}
static int echo2(sf_task *t) { /* publishes the owner's own counters */
    int64_t two = 2;
    sf_value *v = sf_value_new(SF_I64, 1, &two);
    ((int64_t *)sf_value_data(v))[0] = sf_arg_i64(t, 0);
    ((int64_t *)sf_value_data(v))[1] = sf_arg_i64(t, 1);
    return sf_return(t, 0, v);
}
static int k_mul(sf_spu_task *t) { return sf_spu_return(t, sf_spu_mul(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }
static int k_mul_less(sf_spu_task *t) {
    sf_spu_val a = sf_spu_arg(t, 0), b = sf_spu_arg(t, 1);
    sf_spu_return_n(t, 0, sf_spu_mul(t, a, b));
    return sf_spu_return_n(t, 1, sf_spu_less(t, a, b));
}
static int k_less(sf_spu_task *t) { return sf_spu_return(t, sf_spu_less(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }

static uint64_t wd(uint64_t n, unsigned bits) { return (n * bits + 63) / 64; }

static int stats(sf_ctx *sf) {
    const char *const parties[3] = {"alice", "bob", "carol"};
    const uint64_t n = SN, A = n + wd(n, 32) + wd(n, 16) + wd(n, 8) + wd(n, 4) + wd(n, 2);
    struct {
        const char *what, *proto;
        int fxp, less;
        uint64_t member, other, rounds; /* bytes per party (other: dealer / aby3 P2) */
    } cases[] = {
        {"semi2k ring mul", "semi2k", 0, 0, 16 * n, 8 * n, 1},
        {"semi2k fixed-point mul", "semi2k", 1, 0, 24 * n, 20 * n, 2},
        {"semi2k less", "semi2k", 1, 1, 8 * (n + 2 * A + wd(n, 1)), 8 * n + 8 * (A + n), 8},
        {"aby3 ring mul", "aby3", 0, 0, 8 * n, 8 * n, 1},
        {"aby3 fixed-point mul", "aby3", 1, 0, 16 * n, 28 * n, 2},
        {"aby3 less", "aby3", 1, 1, 8 * (2 * A + wd(n, 1)) + 8 * n, 16 * n + 8 * (A + n), 9},
    };
    int bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int aby3 = !strcmp(cases[c].proto, "aby3");
        sf_spu_options o = {.protocol = cases[c].proto, .dealer = aby3 ? NULL : "carol", .seed = 7};
        sf_device spu = sf_spu(sf, parties, aby3 ? 3 : 2, &o);
        sf_obj x = sf_to(SF_REMOTE(sf_pyu(sf, "alice"), svec, SF_I64(cases[c].fxp)), spu);
        sf_obj y = sf_to(SF_REMOTE(sf_pyu(sf, "bob"), svec, SF_I64(cases[c].fxp)), spu);
        sf_obj r = SF_REMOTE(spu, cases[c].less ? k_less : k_mul, SF_OBJ(x), SF_OBJ(y));
        sf_spu_counters mine;
        SF_TRY(sf_spu_stats(spu, &mine));
        uint64_t bytes[3], maxr = 0;
        for (int p = 0; p < 3; p++) { /* every party learns every party's counters */
            sf_obj e = SF_REMOTE(sf_pyu(sf, parties[p]), echo2, SF_I64((int64_t)mine.bytes_sent),
                                 SF_I64((int64_t)mine.rounds));
            sf_value *v;
            SF_TRY(sf_get(sf, e, &v));
            bytes[p] = (uint64_t)sf_value_as_i64(v, 0);
            if ((uint64_t)sf_value_as_i64(v, 1) > maxr) maxr = (uint64_t)sf_value_as_i64(v, 1);
            sf_release(e);
        }
        int ok = ASSERT_EQ_MSG(bytes[0], cases[c].member, "%s: alice's bytes", cases[c].what) &&
                 ASSERT_EQ_MSG(bytes[1], cases[c].member, "%s: bob's bytes", cases[c].what) &&
                 ASSERT_EQ_MSG(bytes[2], cases[c].other, "%s: carol's bytes", cases[c].what) &&
                 ASSERT_EQ_MSG(maxr, cases[c].rounds, "%s: rounds", cases[c].what);
        bad += !ok;
        sf_print(sf, "%-24s N=%llu bytes/element alice %.2f bob %.2f carol %.2f (formula %.2f / %.2f), "
                     "rounds %llu (formula %llu): %s\n", cases[c].what, (unsigned long long)n,
                 (double)bytes[0] / n, (double)bytes[1] / n, (double)bytes[2] / n,
                 (double)cases[c].member / n, (double)cases[c].other / n,
                 (unsigned long long)maxr, (unsigned long long)cases[c].rounds, ok ? "ok" : "MISMATCH");
        sf_release(r);
    }
    return bad ? SF_EINVAL : 0;
}

/* ------------------------------------------------------------------ big */

#define BN (1 << 22)
static int bigvec(sf_task *t) {
    int64_t n = BN, who = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_F64, 1, &n);
    for (int64_t i = 0; i < n; i++) ((double *)sf_value_data(v))[i] = (double)((i * (who + 3)) % 1001) / 16.0 - 30;
    return sf_return(t, 0, v);
}

/* One fixed-point mul and one comparison on 2^22 elements in one call each: every member
 * sends 128 chunk messages per peer before it receives any (the transport's flow control
 * must not deadlock on that), and the results are right. */
static int big(sf_ctx *sf) {
    const char *const two[] = {"alice", "bob"};
    sf_spu_options o = {.protocol = "semi2k", .dealer = "carol"};
    sf_device spu = sf_spu(sf, two, 2, &o);
    sf_obj x = SF_REMOTE(sf_pyu(sf, "alice"), bigvec, SF_I64(0)), y = SF_REMOTE(sf_pyu(sf, "bob"), bigvec, SF_I64(1));
    sf_obj r[2];
    SF_REMOTE_N(spu, k_mul_less, 2, r, SF_OBJ(x), SF_OBJ(y));
    sf_value *p, *l;
    SF_TRY(sf_get(sf, r[0], &p));
    SF_TRY(sf_get(sf, r[1], &l));
    int bad = 0;
    for (int64_t i = 0; i < BN; i++) {
        double a = (double)((i * 3) % 1001) / 16.0 - 30, b = (double)((i * 4) % 1001) / 16.0 - 30;
        if (!ASSERT_LE_MSG(fabs(sf_value_as_f64(p, (size_t)i) - a * b), ldexp(fabs(a) + fabs(b) + 2, -18),
                           "big: product %lld", (long long)i))
            bad++;
        if (!ASSERT_EQ_MSG(sf_value_as_i64(l, (size_t)i), (a < b), "big: comparison %lld", (long long)i)) bad++;
    }
    sf_print(sf, "big: %d of %d products and comparisons wrong\n", bad, 2 * BN);
    return bad ? SF_EINVAL : 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *mode = sf_argc(sf) > 1 ? sf_argv(sf)[1] : "";
    sf_device alice = sf_pyu(sf, "alice"), bob = sf_pyu(sf, "bob");
    const char *const two[] = {"alice", "bob"}, *const three[] = {"alice", "bob", "carol"};
    if (!strcmp(mode, "aby3_two")) {
        sf_spu_options o = {.protocol = "aby3"};
        (void)sf_spu(sf, two, 2, &o);
        return 0;
    }
    if (!strcmp(mode, "stats")) return stats(sf);
    if (!strcmp(mode, "big")) return big(sf);
    sf_obj a = SF_REMOTE(alice, vec, SF_I64(1)), b = SF_REMOTE(bob, vec, SF_I64(2));
    sf_obj k = SF_REMOTE(alice, ivec);
    sf_value *pa, *pb, *pk;
    SF_TRY(sf_get(sf, a, &pa));
    SF_TRY(sf_get(sf, b, &pb));
    SF_TRY(sf_get(sf, k, &pk));
    for (int proto = 0; proto < 2; proto++) {
        sf_spu_options o = {.protocol = proto ? "aby3" : "semi2k", .dealer = proto ? NULL : "carol",
                            .seed = 12345, .prg = !strncmp(mode, "prg=", 4) ? mode + 4 : NULL};
        sf_device spu = proto ? sf_spu(sf, three, 3, &o) : sf_spu(sf, two, 2, &o);
        if (!strcmp(mode, "misuse")) {
            sf_obj s = sf_to(a, spu);
            (void)SF_REMOTE(bob, vec, SF_OBJ(s)); /* a secret object in a PYU call */
            return 0;
        }
        sf_obj r[8];
        SF_REMOTE_N(spu, ops, 8, r, SF_OBJ(a), SF_OBJ(b), SF_OBJ(k));
        const char *names[8] = {"add", "mul", "less", "equal", "relu", "imul", "sum", "half"};
        const int truncs[8] = {0, 1, 0, 0, 0, 0, 0, 1};
        const char *cmp = !strncmp(mode, "compare=", 8) ? mode + 8 : NULL;
        int bad = 0, off = 0, differ = 0, compared = 0;
        for (int i = 0; i < 8; i++) {
            sf_value *v;
            SF_TRY(sf_get(sf, r[i], &v));
            long long want_v[N];
            int ng = cmp ? golden(cmp, o.protocol, names[i], want_v, N) : 0;
            if (cmp && ng != (int)sf_value_nelems(v)) {
                if (ng < 0) sf_log(sf, "%s: cannot open the golden file", cmp);
                else sf_log(sf, "%s: no line '%s %s:' with %zu values", cmp, o.protocol, names[i],
                            sf_value_nelems(v));
                return SF_EINVAL;
            }
            sf_print(sf, "%s %s:", o.protocol, names[i]);
            for (size_t j = 0; j < sf_value_nelems(v); j++) {
                double got = sf_value_as_f64(v, j), want = 0, x = sf_value_as_f64(pa, j),
                       y = sf_value_as_f64(pb, j), tol = 0;
                switch (i) {
                case 0: want = x + y; break;
                case 1: want = x * y, tol = ldexp(1, -18) * (fabs(x) + fabs(y) + 2); break;
                case 2: want = x < y; break;
                case 3: want = 1; break;
                case 4: want = x > y ? x - y : 0; break;
                case 5: want = (double)(sf_value_as_i64(pk, j) * sf_value_as_i64(pk, j)); break;
                case 6: for (int q = 0; q < N; q++) want += sf_value_as_f64(pa, (size_t)q); break;
                case 7: want = x / 2, tol = ldexp(1, -18); break;
                }
                if (!ASSERT_LE_MSG(fabs(got - want), tol, "%s %s element %zu: got %.17g, want %.17g", o.protocol,
                                   names[i], j, got, want))
                    bad++;
                if (cmp) { /* plain vs the protocol: floor vs floor or floor + 1 per truncation */
                    long long mine = sf_value_dtype(v) == SF_F64 ? llround(ldexp(got, 18))
                                                                 : (long long)sf_value_as_i64(v, j);
                    long long d = want_v[j] - mine;
                    compared++;
                    differ += d != 0;
                    if (!ASSERT_GE_MSG(d, 0, "%s %s element %zu: plain vs protocol", o.protocol, names[i], j) ||
                        !ASSERT_LE_MSG(d, truncs[i], "%s %s element %zu: plain vs protocol", o.protocol, names[i], j))
                        off++;
                }
                if (sf_value_dtype(v) == SF_F64) sf_print(sf, " %.0f", ldexp(got, 18));
                else sf_print(sf, " %lld", (long long)sf_value_as_i64(v, j));
            }
            sf_print(sf, "\n");
        }
        sf_print(sf, "%s: %d results outside the error bound\n", o.protocol, bad);
        if (cmp)
            sf_print(sf, "%s: plain vs protocol: %d of %d values beyond 1 ulp per truncation "
                         "(%d differ by one)\n", o.protocol, off, compared, differ - off);
        if (bad || off) return SF_EINVAL;
    }
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
