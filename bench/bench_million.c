/*
 * bench_million: a million ranks in one debug-mode process.
 *
 * Two parties of R ranks each (--ranks=R per party, default 500,000: 1,000,000 in all),
 * every rank a coroutine. Each party runs one collective kernel on all of its ranks
 * (sf_pyu_all_at): rank r contributes r + 1 to an sf_comm_allreduce (sum) and to an
 * sf_comm_gather at the leader, which checks both (sum R (R + 1) / 2, the gathered values
 * 1..R in order); every party sf_gets both parties' answers. Past 30,000 ranks the stacks
 * come in groups of 256 per mapping, with one guard region per group and canaries.
 *
 * Reported: wall time of sf_run (create the ranks, run, tear down), VmHWM - VmRSS before
 * sf_run per rank (KiB; goal: at most 8), and the page tables (VmPTE, sampled by the
 * leader of the first party while every rank is alive), which RSS does not count.
 *
 * Usage: bench_million [--ranks=R] [--stack-kib=K]   (default K: 16)
 * A measurement, not a test: exits 0 unless a run fails or a value is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/sf.h"

#include "bench_util.h"

static long g_pte_kib = -1;

static int kern(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int64_t me = sf_comm_rank(c), n = sf_comm_size(c);
    sf_value *one = sf_value_i64(me + 1), *sum = NULL, *all = NULL;
    if (!one) return sf_fail(t, "out of memory");
    int rc = sf_comm_allreduce(c, one, SF_OP_SUM, &sum);
    if (!rc) rc = sf_comm_gather(c, 0, one, &all);
    sf_value_unref(&one);
    if (rc) return sf_fail(t, "rank %lld: a collective failed: %s", (long long)me, sf_strerror(rc));
    int ok = sf_value_as_i64(sum, 0) == n * (n + 1) / 2;
    sf_value_unref(&sum);
    if (me != 0) return sf_return(t, 0, sf_value_i64(ok));
    for (int64_t i = 0; ok && i < n; i++) ok = sf_value_as_i64(all, (size_t)i) == i + 1;
    sf_value_unref(&all);
    if (g_pte_kib < 0) g_pte_kib = bench_status_kib("VmPTE"); /* every rank is alive */
    return sf_return(t, 0, sf_value_i64(ok ? n : -1));
}

static long g_ok;

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    sf_obj a = SF_REMOTE(sf_pyu_all_at(sf, 0), kern), b = SF_REMOTE(sf_pyu_all_at(sf, 1), kern);
    sf_value *va, *vb;
    SF_TRY(sf_get(sf, a, &va));
    SF_TRY(sf_get(sf, b, &vb));
    if (sf_value_as_i64(va, 0) > 0 && sf_value_as_i64(va, 0) == sf_value_as_i64(vb, 0)) g_ok++;
    return 0;
}

int main(int argc, char **argv) {
    long ranks = 500000, stack_kib = 16;
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--ranks=", 8)) ranks = atol(argv[i] + 8);
        else if (!strncmp(argv[i], "--stack-kib=", 12)) stack_kib = atol(argv[i] + 12);
        else {
            fprintf(stderr, "usage: %s [--ranks=R per party] [--stack-kib=K] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    unsetenv("SF_PARTIES");
    unsetenv("SF_MODE");
    unsetenv("SF_RANKS_PER_PARTY");
    char rpp[48];
    snprintf(rpp, sizeof rpp, "--sf-ranks-per-party=%ld", ranks);
    char *av[] = {"bench_million", rpp, "--sf-quiet", NULL};
    static const char *const parties[] = {"alice", "bob"};
    sf_config cfg = {.argc = 3, .argv = av, .mode = SF_MODE_DEBUG, .parties = parties,
                     .nparties = 2, .stack_size = (size_t)stack_kib * 1024};
    long rss0 = bench_status_kib("VmRSS");
    double t0 = bench_now_s();
    int rc = sf_run(&cfg, program, NULL);
    double wall = bench_now_s() - t0;
    long hwm = bench_status_kib("VmHWM");
    long total = 2 * ranks;
    if (rc || g_ok != 2) {
        printf("million debug: FAILED (exit code %d, %ld of 2 parties saw the right answers)\n", rc, g_ok);
        return rc ? rc : 1;
    }
    double per = (double)(hwm - rss0) / (double)total;
    printf("million debug: %ld ranks (2 parties x %ld, stacks %ld KiB): wall %.2f s, VmHWM - VmRSS "
           "before %.0f MiB = %.2f KiB per rank (goal <= 8: %s), page tables %ld KiB (%.2f KiB "
           "per rank)\n",
           total, ranks, stack_kib, wall, (double)(hwm - rss0) / 1024.0, per,
           per <= 8.0 ? "met" : "NOT met", g_pte_kib, (double)g_pte_kib / (double)total);
    bench_cfg jc = {0};
    bench_cfg_str(&jc, "mode", "debug");
    bench_cfg_num(&jc, "ranks", (double)total);
    bench_cfg_num(&jc, "stack_kib", (double)stack_kib);
    bench_json("million.wall", &jc, wall, "s", NAN, NULL);
    bench_json("million.kib_per_rank", &jc, per, "KiB", NAN, NULL);
    bench_json("million.pte", &jc, (double)g_pte_kib, "KiB", NAN, NULL);
    return 0;
}
