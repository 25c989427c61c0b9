/*
 * bench_many: many parties in one debug-mode process.
 *
 * N parties p0..pN-1, one coroutine rank each. Every party runs the same program:
 *   for i in 0..N-1:
 *     o = SF_REMOTE(pyu(i), f, SF_I64(i))    party i computes 3 i (one call per party)
 *     sf_get(o); check 3 i; sf_release(o)     every party reads every party's result
 * N calls executed and N^2 sf_get deliveries in all; each result is released after its
 * sf_get, so a party holds one object at a time.
 *
 * The device of party i is named three ways, each in the same run (a fresh process per
 * case, so that VmHWM is its own):
 *   name   sf_pyu(sf, "p<i>")  (the name formatted per call, as a program looping over
 *          names does)
 *   index  sf_pyu_at(sf, i)
 *   array  devices made once before the loop (sf_pyu_at into an array): the floor, with
 *          no lookup at all
 * and with --sf-turn 1 (lockstep: every runtime call gives way to the next rank) or more.
 * Reported per case: wall time of sf_run, time per sf_get delivery, VmHWM - VmRSS before.
 *
 * A fourth way, `one` (only with --how=one), puts every call on party 0: one owner whose
 * results every other party reads, --iters=I times (default N), the case where receivers
 * run far apart from each other with long turns. Per delivery is then per sf_get of the
 * loop on party 0 (each goes to N-1 parties).
 *
 * Usage: bench_many [--n=N] [--how=name|index|array|one] [--turn=K] [--iters=I]
 *   Without --how, runs the three ways at N (default 2000) with turn 1, 8 and 1000, `one`
 *   with 3 and 8 parties (300,000 iterations) at the same turns, then 10,000 parties by
 *   index with turn 8 and with turn 1000, the goal case (goal: under 30 s, under 1 GiB).
 * A measurement, not a test: exits 0 unless a run fails or a value is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sfmpi/sf.h"

#include "bench_util.h"

enum { HOW_NAME, HOW_INDEX, HOW_ARRAY, HOW_ONE };
static const char *how_names[] = {"name", "index", "array", "one"};
static int g_how;
static long g_iters;
static long g_bad, g_got;

static int triple(sf_task *t) { return sf_return(t, 0, sf_value_i64(3 * sf_arg_i64(t, 0))); }

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int np = sf_nparties(sf);
    sf_device *devs = NULL;
    if (g_how == HOW_ARRAY) {
        devs = malloc(sizeof *devs * (size_t)np);
        if (!devs) return 1;
        for (int i = 0; i < np; i++) devs[i] = sf_pyu_at(sf, i);
    }
    long iters = g_how == HOW_ONE ? g_iters : np;
    for (long j = 0; j < iters; j++) {
        int i = g_how == HOW_ONE ? 0 : (int)j;
        sf_device d;
        if (g_how == HOW_NAME) {
            char name[24];
            snprintf(name, sizeof name, "p%d", i);
            d = sf_pyu(sf, name);
        } else {
            d = g_how == HOW_ARRAY ? devs[i] : sf_pyu_at(sf, i);
        }
        sf_obj o = SF_REMOTE(d, triple, SF_I64(i));
        sf_value *v;
        SF_TRY(sf_get(sf, o, &v));
        if (sf_value_as_i64(v, 0) != 3 * (int64_t)i) g_bad++;
        g_got++;
        sf_release(o);
    }
    free(devs);
    return 0;
}

static int run_one(long n, int how, int turn) {
    char **names = malloc(sizeof(char *) * (size_t)n);
    if (!names) return 1;
    for (long i = 0; i < n; i++) {
        names[i] = malloc(24);
        snprintf(names[i], 24, "p%ld", i);
    }
    char turnopt[32];
    snprintf(turnopt, sizeof turnopt, "--sf-turn=%d", turn);
    char *argv[] = {"bench_many", turnopt, NULL};
    g_how = how;
    long rss0 = bench_status_kib("VmRSS");
    sf_config cfg = {.argc = 2, .argv = argv, .mode = SF_MODE_DEBUG,
                     .parties = (const char *const *)names, .nparties = (int)n, .quiet = 1};
    double t0 = bench_now_s();
    int rc = sf_run(&cfg, program, NULL);
    double wall = bench_now_s() - t0;
    long hwm = bench_status_kib("VmHWM");
    for (long i = 0; i < n; i++) free(names[i]);
    free(names);
    long loops = how == HOW_ONE ? g_iters : n;
    if (rc != 0 || g_bad || g_got != n * loops) {
        printf("many debug N=%ld how=%s turn=%d: FAILED (exit code %d, %ld wrong of %ld read)\n",
               n, how_names[how], turn, rc, g_bad, g_got);
        return rc ? rc : 1;
    }
    double mib = (double)(hwm - rss0) / 1024.0;
    double ns_per = wall * 1e9 / ((double)n * (double)loops);
    if (how == HOW_ONE) ns_per = wall * 1e9 / (double)loops; /* per sf_get of the loop */
    const char *goal = n >= 10000 && how != HOW_ONE ? (wall < 30 && mib < 1024 ? " (goal under 30 s and 1 GiB: met)"
                                                             : " (goal under 30 s and 1 GiB: NOT met)")
                                  : "";
    printf("many debug N=%ld how=%-5s turn=%d: wall %.2f s, %.0f ns per %s, "
           "VmHWM - VmRSS before %.1f MiB%s\n",
           n, how_names[how], turn, wall, ns_per,
           how == HOW_ONE ? "sf_get of the loop" : "sf_get delivery", mib, goal);
    fflush(stdout);
    bench_cfg jc = {0};
    bench_cfg_str(&jc, "mode", "debug");
    bench_cfg_num(&jc, "parties", (double)n);
    bench_cfg_str(&jc, "how", how_names[how]);
    bench_cfg_num(&jc, "turn", turn);
    if (how == HOW_ONE) bench_cfg_num(&jc, "iters", (double)loops);
    bench_json("many.wall", &jc, wall, "s", NAN, NULL);
    bench_json("many.mem", &jc, mib, "MiB", NAN, NULL);
    return 0;
}

static int child(const char *self, long n, int how, int turn, long iters) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char a1[32], a2[32], a3[32], a4[32];
        snprintf(a1, sizeof a1, "--n=%ld", n);
        snprintf(a2, sizeof a2, "--how=%s", how_names[how]);
        snprintf(a3, sizeof a3, "--turn=%d", turn);
        snprintf(a4, sizeof a4, "--iters=%ld", iters > 0 ? iters : n);
        execl("/proc/self/exe", self, a1, a2, a3, a4, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) return 1;
    return WEXITSTATUS(st);
}

int main(int argc, char **argv) {
    long n = 0;
    int how = -1, turn = 1;
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--n=", 4)) n = atol(argv[i] + 4);
        else if (!strncmp(argv[i], "--turn=", 7)) turn = atoi(argv[i] + 7);
        else if (!strcmp(argv[i], "--how=name")) how = HOW_NAME;
        else if (!strcmp(argv[i], "--how=index")) how = HOW_INDEX;
        else if (!strcmp(argv[i], "--how=array")) how = HOW_ARRAY;
        else if (!strcmp(argv[i], "--how=one")) how = HOW_ONE;
        else if (!strncmp(argv[i], "--iters=", 8)) g_iters = atol(argv[i] + 8);
        else {
            fprintf(stderr, "usage: %s [--n=N] [--how=name|index|array|one] [--turn=K] [--iters=I] [--json FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    unsetenv("SF_PARTIES");
    unsetenv("SF_MODE");
    unsetenv("SF_TURN");
    if (how >= 0) {
        if (g_iters <= 0) g_iters = n > 0 ? n : 2000;
        return run_one(n > 0 ? n : 2000, how, turn);
    }
    int worst = 0, rc;
    long small = n > 0 ? n : 2000;
    static const int turns[] = {1, 8, 1000};
    for (int t = 0; t < 3; t++)
        for (int h = 0; h < 3; h++)
            if ((rc = child(argv[0], small, h, turns[t], 0))) worst = rc;
    for (int t = 0; t < 3; t++) /* one owner, 3 and 8 parties */
        for (int np = 3; np <= 8; np += 5)
            if ((rc = child(argv[0], np, HOW_ONE, turns[t], 300000))) worst = rc;
    if ((rc = child(argv[0], 10000, HOW_INDEX, 8, 0))) worst = rc;
    if ((rc = child(argv[0], 10000, HOW_INDEX, 1000, 0))) worst = rc;
    return worst;
}
