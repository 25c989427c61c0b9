/*
 * bench_tiny: the "many tiny tasks" loop.
 *
 * Parties: alice, bob and carol by default (--sf-parties=alice,bob for 2; the first two
 * parties play alice and bob, the others only learn the revealed results). Per iteration,
 * inside a scope:
 *   m1 = SF_REMOTE(counter@alice, counter_add, SF_I64(i))   actor method call 1 (alice)
 *   m2 = SF_REMOTE(sink@bob, sink_absorb, SF_OBJ(m1))       actor method call 2 (bob):
 *                                                            the cross-party push of m1,
 *                                                            created on alice, to bob
 *   sf_get(m2)                                               reveal to every party
 *   sf_scope_end                                             releases m1 and m2
 * Every party checks the revealed value. Reported: microseconds per iteration (wall time
 * on party 0, checkpoints excluded) and every party's peak RSS (VmHWM, read by a task on
 * that party) after 10% of the iterations and after all of them: they must be equal up to
 * noise, i.e. memory does not grow with the iteration count. For scale, RayFed publishes
 * 7.8 ms per iteration for its tiny-tasks loop.
 *
 *   bench_tiny [--iters=N] --sf-mode=debug                      (default N = 1,000,000)
 *   mpirun -np 3 bench_tiny [--iters=N] --sf-mode=sim
 *   mpirun -np 2 bench_tiny [--iters=N] --sf-mode=sim --sf-parties=alice,bob
 * A measurement, not a test: exits 0 unless the runtime itself fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfmpi/sf.h"

#include "bench_util.h"

static long g_iters = 1000000;

/* ---- actors */
typedef struct counter {
    int64_t total;
} counter;

static int counter_add(sf_task *t) {
    counter *c = sf_state(t);
    c->total += sf_arg_i64(t, 0);
    return sf_return(t, 0, sf_value_i64(c->total));
}
static const sf_method counter_methods[] = {{"counter_add", counter_add}, {NULL, NULL}};
static const sf_actor_class counter_class = {
    .name = "counter", .state_size = sizeof(counter), .methods = counter_methods};

typedef struct sink {
    int64_t calls;
} sink;

static int sink_absorb(sf_task *t) {
    sink *s = sf_state(t);
    s->calls++;
    return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 0) + s->calls));
}
static const sf_method sink_methods[] = {{"sink_absorb", sink_absorb}, {NULL, NULL}};
static const sf_actor_class sink_class = {
    .name = "sink", .state_size = sizeof(sink), .methods = sink_methods};

/* ---- memory of the executing party's process */

static int read_mem(sf_task *t) {
    sf_value *v = sf_value_new(SF_I64, 1, (int64_t[]){2});
    if (!v) return sf_fail(t, "out of memory");
    int64_t *p = sf_value_data(v);
    p[0] = bench_status_kib("VmHWM");
    p[1] = bench_status_kib("VmRSS");
    return sf_return(t, 0, v);
}

/* Every party's VmHWM/VmRSS (KiB) into hwm[]/rss[]. */
static int checkpoint(sf_ctx *sf, long *hwm, long *rss) {
    for (int p = 0; p < sf_nparties(sf); p++) {
        sf_obj o = SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, p)), read_mem);
        sf_value *v;
        SF_TRY(sf_get(sf, o, &v));
        hwm[p] = (long)sf_value_as_i64(v, 0);
        rss[p] = (long)sf_value_as_i64(v, 1);
        sf_release(o);
    }
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int np = sf_nparties(sf);
    if (np < 2) {
        sf_print(sf, "bench_tiny needs at least 2 parties\n");
        return SF_EUSAGE;
    }
    sf_device alice = sf_pyu(sf, sf_party_name_of(sf, 0));
    sf_device bob = sf_pyu(sf, sf_party_name_of(sf, 1));
    sf_actor ctr = SF_ACTOR(alice, &counter_class);
    sf_actor snk = SF_ACTOR(bob, &sink_class);
    long n = g_iters, mid = n / 10 > 0 ? n / 10 : 1;
    long *hwm1 = calloc((size_t)np, sizeof(long)), *rss1 = calloc((size_t)np, sizeof(long));
    long *hwm2 = calloc((size_t)np, sizeof(long)), *rss2 = calloc((size_t)np, sizeof(long));
    if (!hwm1 || !rss1 || !hwm2 || !rss2) return SF_ENOMEM;
    int64_t total = 0;
    long bad = 0;
    double elapsed = 0, t0 = bench_now_s(), t_mid = 0;
    for (long i = 0; i < n; i++) {
        sf_scope s = sf_scope_begin(sf);
        sf_obj m1 = SF_REMOTE(ctr, counter_add, SF_I64(i));
        sf_obj m2 = SF_REMOTE(snk, sink_absorb, SF_OBJ(m1));
        sf_value *v;
        SF_TRY(sf_get(sf, m2, &v));
        total += i;
        if (sf_value_as_i64(v, 0) != total + i + 1) bad++;
        sf_scope_end(&s, NULL, 0);
        if (i + 1 == mid) {
            elapsed += bench_now_s() - t0;
            t_mid = elapsed;
            SF_TRY(checkpoint(sf, hwm1, rss1));
            t0 = bench_now_s();
        }
    }
    elapsed += bench_now_s() - t0;
    SF_TRY(checkpoint(sf, hwm2, rss2));
    sf_kill(ctr);
    sf_kill(snk);

    const char *mode = sf_mode_name(sf_get_distribution_mode(sf));
    double us = elapsed / (double)n * 1e6;
    double us_first = t_mid / (double)mid * 1e6;
    double us_rest = n > mid ? (elapsed - t_mid) / (double)(n - mid) * 1e6 : us_first;
    sf_print(sf, "tiny %s %d parties: %.2f us/iteration over %ld iterations (first %ld: %.2f us, "
                 "rest: %.2f us); RayFed: 7800 us/iteration; %ld wrong results\n",
             mode, np, us, n, mid, us_first, us_rest, bad);
    int writer = sf_party_index(sf) == 0;
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "mode", mode);
    bench_cfg_num(&cfg, "parties", np);
    bench_cfg_num(&cfg, "iters", (double)n);
    bench_cfg_num(&cfg, "wrong", (double)bad);
    if (writer) bench_json("tiny", &cfg, us, "us/iteration", NAN, NULL);
    int debug = sf_get_distribution_mode(sf) == SF_MODE_DEBUG; /* one process for all */
    for (int p = 0; p < (debug ? 1 : np); p++) {
        long growth = hwm2[p] - hwm1[p];
        sf_print(sf, "tiny %s %d parties: %s%s VmHWM after %ld iterations %ld KiB, after %ld "
                     "iterations %ld KiB (growth %ld KiB: %s); VmRSS %ld -> %ld KiB\n",
                 mode, np, debug ? "the process" : "party ", debug ? "" : sf_party_name_of(sf, p), mid, hwm1[p], n, hwm2[p], growth,
                 growth <= 1024 ? "bounded" : "GROWS", rss1[p], rss2[p]);
        bench_cfg pc = cfg;
        bench_cfg_str(&pc, "party", debug ? "process" : sf_party_name_of(sf, p));
        char bname[64];
        snprintf(bname, sizeof bname, "VmHWM after %ld iterations", mid);
        if (writer) bench_json("tiny.vmhwm", &pc, (double)hwm2[p], "KiB", (double)hwm1[p], bname);
    }
    free(hwm1), free(rss1), free(hwm2), free(rss2);
    return bad ? SF_ETASK : 0;
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--iters=", 8)) g_iters = atol(argv[i] + 8);
        else if (strncmp(argv[i], "--sf-", 5)) {
            fprintf(stderr, "usage: %s [--iters=N] [--json FILE] [--sf-mode=debug|sim] [--sf-parties=...]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_iters < 1) g_iters = 1;
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3, .quiet = 1};
    return sf_run(&cfg, program, NULL);
}
