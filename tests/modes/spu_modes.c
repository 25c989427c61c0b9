/*
 * The SPU through the runtime, in every mode: each op on the same inputs with fixed seeds
 * (sf_spu_options.seed) prints its revealed results exactly (fixed-point values as
 * 2^-18 multiples), so debug mode (the real protocol in one process) and simulation mode
 * must print byte-identical output; each result is also checked against plaintext
 * arithmetic within the protocol's error bound. `spu_modes misuse` passes an SPU object
 * to a PYU call; `spu_modes aby3_two` asks for aby3 with two members.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

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
    sf_obj a = SF_REMOTE(alice, vec, SF_I64(1)), b = SF_REMOTE(bob, vec, SF_I64(2));
    sf_obj k = SF_REMOTE(alice, ivec);
    sf_value *pa, *pb, *pk;
    SF_TRY(sf_get(sf, a, &pa));
    SF_TRY(sf_get(sf, b, &pb));
    SF_TRY(sf_get(sf, k, &pk));
    for (int proto = 0; proto < 2; proto++) {
        sf_spu_options o = {.protocol = proto ? "aby3" : "semi2k", .dealer = proto ? NULL : "carol",
                            .seed = 12345};
        sf_device spu = proto ? sf_spu(sf, three, 3, &o) : sf_spu(sf, two, 2, &o);
        if (!strcmp(mode, "misuse")) {
            sf_obj s = sf_to(a, spu);
            (void)SF_REMOTE(bob, vec, SF_OBJ(s)); /* a secret object in a PYU call */
            return 0;
        }
        sf_obj r[8];
        SF_REMOTE_N(spu, ops, 8, r, SF_OBJ(a), SF_OBJ(b), SF_OBJ(k));
        const char *names[8] = {"add", "mul", "less", "equal", "relu", "imul", "sum", "half"};
        int bad = 0;
        for (int i = 0; i < 8; i++) {
            sf_value *v;
            SF_TRY(sf_get(sf, r[i], &v));
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
                if (fabs(got - want) > tol) bad++;
                if (sf_value_dtype(v) == SF_F64) sf_print(sf, " %.0f", ldexp(got, 18));
                else sf_print(sf, " %lld", (long long)sf_value_as_i64(v, j));
            }
            sf_print(sf, "\n");
        }
        sf_print(sf, "%s: %d results outside the error bound\n", o.protocol, bad);
        if (bad) return SF_EINVAL;
    }
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
