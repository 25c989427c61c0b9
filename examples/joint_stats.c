/*
 * Joint statistics: alice, bob and carol each generate private samples; each computes
 * local sums (a task with three return values); the sums move to alice, who combines
 * them; every party learns only the joint mean and standard deviation (sf_get).
 *
 *   ./joint_stats --sf-mode=debug
 *   mpirun -np 3 ./joint_stats --sf-mode=sim
 */
#include <math.h>
#include <stdio.h>

#include "sfmpi/sf.h"

/* Private data: n samples from a party-specific deterministic generator. */
static int generate(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0), seed = sf_arg_i64(t, 1);
    sf_value *v = sf_value_new(SF_F64, 1, (int64_t[]){n});
    if (!v) return sf_fail(t, "out of memory for %lld samples", (long long)n);
    double *x = sf_value_data(v);
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (double)(seed * 10) + (double)(s % 10000) / 1000.0;
    }
    return sf_return(t, 0, v);
}

/* Three results: count, sum, sum of squares. */
static int local_sums(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    const double *x = sf_value_cdata(v);
    size_t n = sf_value_nelems(v);
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) s += x[i], q += x[i] * x[i];
    sf_return(t, 0, sf_value_f64((double)n));
    sf_return(t, 1, sf_value_f64(s));
    return sf_return(t, 2, sf_value_f64(q));
}

/* Any number of (n, s, q) triples -> [mean, std]. */
static int combine(sf_task *t) {
    double n = 0, s = 0, q = 0;
    for (int i = 0; i + 2 < sf_nargs(t); i += 3) {
        n += sf_arg_f64(t, i);
        s += sf_arg_f64(t, i + 1);
        q += sf_arg_f64(t, i + 2);
    }
    if (n == 0) return sf_fail(t, "no samples");
    sf_value *r = sf_value_new(SF_F64, 1, (int64_t[]){2});
    double *o = sf_value_data(r);
    o[0] = s / n;
    o[1] = sqrt(q / n - o[0] * o[0]);
    return sf_return(t, 0, r);
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *names[3] = {"alice", "bob", "carol"};
    sf_device dev[3];
    sf_obj sums[3][3];
    for (int p = 0; p < 3; p++) {
        dev[p] = sf_pyu(sf, names[p]);
        sf_obj data = SF_REMOTE(dev[p], generate, SF_I64(1000 * (p + 1)), SF_I64(p + 1));
        SF_REMOTE_N(dev[p], local_sums, 3, sums[p], SF_OBJ(data));
        sf_release(data);
    }
    sf_obj stats = SF_REMOTE(dev[0], combine, SF_OBJ(sums[0][0]), SF_OBJ(sums[0][1]),
                             SF_OBJ(sums[0][2]), SF_OBJ(sums[1][0]), SF_OBJ(sums[1][1]),
                             SF_OBJ(sums[1][2]), SF_OBJ(sums[2][0]), SF_OBJ(sums[2][1]),
                             SF_OBJ(sums[2][2]));
    sf_value *v;
    SF_TRY(sf_get(sf, stats, &v));
    const double *o = sf_value_cdata(v);
    sf_log(sf, "joint statistics revealed");
    sf_print(sf, "joint samples: 6000\njoint mean: %.6f\njoint std: %.6f\n", o[0], o[1]);
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
