/*
 * longrun: a long chain of small cross-party calls (alice, bob, carol), for tests that
 * disturb a running production job (a party killed, frozen, cut off or attacked mid-run).
 *
 *   longrun [ROUNDS [SLEEP_US]] --sf-mode=prod ...
 *
 * Each round: alice makes a value, bob and carol each transform it (the value moves
 * alice -> bob -> carol -> alice), alice combines, and every party reveals the result
 * (sf_get). Each task sleeps SLEEP_US microseconds (default 2000), so a round takes a few
 * milliseconds without burning CPU; the default ROUNDS (100000) runs for minutes.
 * Prints (party 0) "longrun ok: <rounds> rounds, checksum <hex>", the same in every mode,
 * and every party logs "longrun: slowest round <ms> ms, peak memory <KiB> KiB" on stderr:
 * a party that something froze, even for a moment, shows as a slow round.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfmpi/sf.h"

static void nap(int64_t us) {
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts)) {}
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

static uint64_t mix(uint64_t x) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 33;
    return x;
}

/* step(x, k, us) -> int64: a small deterministic function of x and k. */
static int step(sf_task *t) {
    int64_t x = sf_arg_i64(t, 0), k = sf_arg_i64(t, 1);
    nap(sf_arg_i64(t, 2));
    return sf_return(t, 0, sf_value_i64((int64_t)(mix((uint64_t)x + (uint64_t)k) >> 1)));
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int64_t rounds = sf_argc(sf) > 1 ? strtoll(sf_argv(sf)[1], NULL, 10) : 100000;
    int64_t us = sf_argc(sf) > 2 ? strtoll(sf_argv(sf)[2], NULL, 10) : 2000;
    sf_device a = sf_pyu(sf, "alice"), b = sf_pyu(sf, "bob"), c = sf_pyu(sf, "carol");
    uint64_t check = 0;
    int64_t x = 1;
    double slowest = 0;
    for (int64_t r = 0; r < rounds; r++) {
        double t0 = now();
        sf_obj oa = SF_REMOTE(a, step, SF_I64(x), SF_I64(r), SF_I64(us));
        sf_obj ob = SF_REMOTE(b, step, SF_OBJ(oa), SF_I64(1), SF_I64(us));
        sf_obj oc = SF_REMOTE(c, step, SF_OBJ(ob), SF_I64(2), SF_I64(us));
        sf_obj od = SF_REMOTE(a, step, SF_OBJ(oc), SF_I64(3), SF_I64(0));
        sf_value *v;
        SF_TRY(sf_get(sf, od, &v));
        x = sf_value_as_i64(v, 0);
        check = mix(check ^ (uint64_t)x);
        sf_release(oa);
        sf_release(ob);
        sf_release(oc);
        sf_release(od);
        if (now() - t0 > slowest) slowest = now() - t0;
    }
    sf_print(sf, "longrun ok: %" PRId64 " rounds, checksum %016" PRIx64 "\n", rounds, check);
    sf_log(sf, "longrun: slowest round %.1f ms, peak memory %ld KiB", slowest * 1e3, peak_kib());
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
