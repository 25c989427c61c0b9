/*
 * bench_ranks: how many ranks one debug-mode process holds.
 *
 * N parties p0..pN-1 (sf_config.parties), one coroutine rank each, stack
 * sf_config.stack_size (64 KiB by default). Every rank runs the same program:
 *   x = SF_REMOTE(pyu(p1), make)          p1 makes a value
 *   y = SF_REMOTE(pyu(p0), use, x)        p0 needs the value of the next party, p1
 *   sf_release(x); sf_get(y)              every rank needs p0's value: all N ranks are
 *                                         alive and blocked at once, then all finish
 * (A ring where each rank i waits for party i+1 needs N calls made by every party, i.e.
 * N^2 call executions: 10^10 for N = 100,000. The sf_get makes every rank wait for data
 * from another party at the same time, which is what the measurement is about.)
 *
 * Measured per N, each in a fresh process (VmHWM is a per-process peak): wall time of
 * sf_run (create N coroutines, run, tear down), VmRSS before and after, VmHWM at the end,
 * and (VmHWM - VmRSS before) / N = KiB per rank.
 *
 * Usage: bench_ranks [--n=N ...] [--stack-kib=K]
 *   Without --n, runs N = 1000, 10000, 100000, each in a child process (re-exec).
 * A measurement, not a test: exits 0 unless the runtime itself fails.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfmpi/sf.h"

#include "bench_util.h"

#define GOAL_RANKS 100000


static int make(sf_task *t) { return sf_return(t, 0, sf_value_i64(41)); }
static int use(sf_task *t) { return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 0) + 1)); }

static long g_ok;      /* ranks that saw the right value */
static long g_started; /* ranks whose program ran */
static long g_peak_alive, g_alive;

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    g_started++;
    g_alive++;
    if (g_alive > g_peak_alive) g_peak_alive = g_alive;
    int np = sf_nparties(sf);
    sf_device next = sf_pyu(sf, np > 1 ? "p1" : "p0");
    sf_obj x = SF_REMOTE(next, make);
    sf_obj y = SF_REMOTE(sf_pyu(sf, "p0"), use, SF_OBJ(x));
    sf_release(x);
    sf_value *v;
    SF_TRY(sf_get(sf, y, &v));
    if (sf_value_as_i64(v, 0) == 42) g_ok++;
    sf_release(y);
    g_alive--;
    return 0;
}

static int run_one(long n, size_t stack) {
    long rss0 = bench_status_kib("VmRSS");
    char **names = malloc(sizeof(char *) * (size_t)n);
    if (!names) return 1;
    for (long i = 0; i < n; i++) {
        names[i] = malloc(24);
        snprintf(names[i], 24, "p%ld", i);
    }
    sf_config cfg = {.mode = SF_MODE_DEBUG, .parties = (const char *const *)names,
                     .nparties = (int)n, .stack_size = stack, .quiet = 0};
    double t0 = bench_now_s();
    int rc = sf_run(&cfg, program, NULL);
    double wall = bench_now_s() - t0;
    for (long i = 0; i < n; i++) free(names[i]);
    free(names);
    long rss1 = bench_status_kib("VmRSS"), hwm = bench_status_kib("VmHWM");
    /* after sf_run: heap bytes still allocated (a leak) vs. kept by malloc (not a leak) */
    struct mallinfo2 mi = mallinfo2();
    long inuse_kib = (long)(mi.uordblks + mi.hblkhd) / 1024, free_kib = (long)mi.fordblks / 1024;
    if (rc != 0) {
        printf("ranks debug N=%ld: sf_run failed with exit code %d\n", n, rc);
        return rc;
    }
    double per = (double)(hwm - rss0) / (double)n;
    const char *goal = n >= GOAL_RANKS ? (g_ok == n ? " (goal 100,000 ranks in one process: met)"
                                                    : " (goal 100,000 ranks: NOT met)")
                                       : "";
    printf("ranks debug N=%ld (stack %zu KiB): wall %.3f s, VmRSS before %ld KiB, after %ld KiB, "
           "VmHWM %ld KiB, %.1f KiB/rank, %ld/%ld ranks ran and got the value, %ld alive at "
           "once; after sf_run malloc holds %ld KiB in use, %ld KiB free%s\n",
           n, stack / 1024, wall, rss0, rss1, hwm, per, g_ok, g_started, g_peak_alive, inuse_kib,
           free_kib, goal);
    fflush(stdout);
    bench_cfg jc = {0};
    bench_cfg_str(&jc, "mode", "debug");
    bench_cfg_num(&jc, "ranks", (double)n);
    bench_cfg_num(&jc, "stack_kib", (double)(stack / 1024));
    bench_cfg_num(&jc, "ok", g_ok == n);
    bench_json("ranks.wall", &jc, wall, "s", NAN, NULL);
    bench_json("ranks.kib_per_rank", &jc, per, "KiB", NAN, NULL);
    bench_json("ranks.vmhwm", &jc, (double)hwm, "KiB", (double)rss0, "VmRSS before sf_run");
    return 0;
}

int main(int argc, char **argv) {
    long ns[16];
    int nn = 0;
    size_t stack = 64 * 1024;
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--n=", 4) && nn < 16) ns[nn++] = atol(argv[i] + 4);
        else if (!strncmp(argv[i], "--stack-kib=", 12)) stack = (size_t)atol(argv[i] + 12) * 1024;
        else {
            fprintf(stderr, "usage: %s [--n=N ...] [--stack-kib=K] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    unsetenv("SF_PARTIES");
    unsetenv("SF_MODE");
    unsetenv("SF_STACK_SIZE");
    if (nn == 1) return run_one(ns[0], stack);
    if (nn == 0) {
        ns[0] = 1000, ns[1] = 10000, ns[2] = 100000;
        nn = 3;
    }
    /* one child process per N, so that each VmHWM is its own */
    int worst = 0;
    for (int k = 0; k < nn; k++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char a1[32], a2[32];
            snprintf(a1, sizeof a1, "--n=%ld", ns[k]);
            snprintf(a2, sizeof a2, "--stack-kib=%zu", stack / 1024);
            execl("/proc/self/exe", argv[0], a1, a2, (char *)NULL);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            printf("ranks debug N=%ld: child failed (status 0x%x)\n", ns[k], st);
            worst = 1;
        }
    }
    return worst;
}
