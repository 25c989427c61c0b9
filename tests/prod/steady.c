/*
 * steady: a steady stream of small cross-party calls (alice, bob, carol) that measures
 * how long each round takes, for the attack tests: a party that a stranger's connection
 * froze, even for a moment, shows as a slow round.
 *
 *   steady [ROUNDS [SLEEP_US]] --sf-mode=prod ...
 *
 * Each round: alice makes a value, bob and carol each transform it, alice combines, every
 * party reveals the result (sf_get); tasks sleep SLEEP_US (default 1000). At the end party 0
 * prints "steady ok: <rounds> rounds, checksum <hex>" (the same in every mode), and every
 * party logs "steady: slowest round <ms> ms, peak memory <KiB> KiB" on stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfmpi/sf.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 33;
    return x;
}

static int step(sf_task *t) {
    int64_t x = sf_arg_i64(t, 0), k = sf_arg_i64(t, 1), us = sf_arg_i64(t, 2);
    if (us > 0) {
        struct timespec ts = {0, (long)us * 1000};
        while (nanosleep(&ts, &ts)) {}
    }
    return sf_return(t, 0, sf_value_i64((int64_t)(mix((uint64_t)x + (uint64_t)k) >> 1)));
}

static long peak_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return v;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int64_t rounds = sf_argc(sf) > 1 ? strtoll(sf_argv(sf)[1], NULL, 10) : 1000;
    int64_t us = sf_argc(sf) > 2 ? strtoll(sf_argv(sf)[2], NULL, 10) : 1000;
    sf_device a = sf_pyu(sf, "alice"), b = sf_pyu(sf, "bob"), c = sf_pyu(sf, "carol");
    uint64_t check = 0;
    int64_t x = 1;
    double slowest = 0;
    for (int64_t r = 0; r < rounds; r++) {
        double t0 = now();
        sf_scope s = sf_scope_begin(sf);
        sf_obj oa = SF_REMOTE(a, step, SF_I64(x), SF_I64(r), SF_I64(us));
        sf_obj ob = SF_REMOTE(b, step, SF_OBJ(oa), SF_I64(1), SF_I64(us));
        sf_obj oc = SF_REMOTE(c, step, SF_OBJ(ob), SF_I64(2), SF_I64(us));
        sf_obj od = SF_REMOTE(a, step, SF_OBJ(oc), SF_I64(3), SF_I64(0));
        sf_value *v;
        SF_TRY(sf_get(sf, od, &v));
        x = sf_value_as_i64(v, 0);
        check = mix(check ^ (uint64_t)x);
        sf_scope_end(&s, NULL, 0);
        double dt = now() - t0;
        if (dt > slowest) slowest = dt;
    }
    sf_print(sf, "steady ok: %" PRId64 " rounds, checksum %016" PRIx64 "\n", rounds, check);
    sf_log(sf, "steady: slowest round %.1f ms, peak memory %ld KiB", slowest * 1e3, peak_kib());
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
