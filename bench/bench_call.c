/*
 * bench_call: the cost of a remote call on one's own device, debug mode.
 *
 * The same C function `work(double)` is called
 *   - directly (through a volatile function pointer, so it is a real call), and
 *   - as a task: SF_REMOTE(pyu(alice), task_work, SF_F64(x)), which builds the inline
 *     argument value, runs work() and returns a fresh float64 scalar object,
 * in the same process, alternating, REPS times (repetitions outermost, so the cases
 * interleave in time); each line reports the medians and the median of the paired
 * differences (the overhead). Results are released so memory stays
 * bounded: either sf_release after every call, or a scope around every 1000 calls.
 *
 * Cases (each is one sf_run in this process):
 *   1 party, release each call, default options (argument check on)  <- the goal line
 *   1 party, scope per 1000 calls
 *   1 party, release each call, argument check off (--sf-check-args off equivalent)
 *   3 parties (alice executes; lockstep scheduling switches rank at every call), info
 *
 * Usage: bench_call [--iters=N] [--reps=R] [--case=K]   (defaults 1000000, 7, all cases;
 *        --case=0..3 runs one case, e.g. under perf)
 * A measurement, not a test: exits 0 unless the runtime itself fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfmpi/sf.h"

#include "bench_util.h"

#define MAX_REPS 101
#define GOAL_NS 100.0
#define SCOPE_BATCH 1000

/* The function both paths call. */
static double work(double x) { return x * 0.5 + 1.0; }
static double (*volatile work_ptr)(double) = work;

static int task_work(sf_task *t) { return sf_return(t, 0, sf_value_f64(work_ptr(sf_arg_f64(t, 0)))); }

typedef struct bcase {
    const char *key; /* the case in the JSON lines */
    const char *label;
    int nparties;
    int check_args; /* sf_config.check_args */
    int use_scope;
    /* results (filled by party 0) */
    double direct[MAX_REPS], sfc[MAX_REPS], diff[MAX_REPS];
    int rep; /* the repetition the next sf_run fills */
    int ok;
} bcase;

static long g_iters = 1000000;
static int g_reps = 7;
static int g_only = -1; /* --case=K: run only case K (for perf) */

static int program(sf_ctx *sf, void *arg) {
    bcase *c = arg;
    int me0 = sf_party_index(sf) == 0;
    sf_device alice = sf_pyu(sf, "alice");
    long n = g_iters;
    int r = c->rep;
    /* direct calls: party 0 only (no runtime calls, so no divergence) */
    double d = 0;
    if (me0) {
        double acc = 0, t0 = bench_now_ns();
        for (long i = 0; i < n; i++) acc += work_ptr((double)i);
        d = (bench_now_ns() - t0) / (double)n;
        if (acc == -1.0) printf("impossible\n"); /* keep acc alive */
    }
    /* remote calls on one's own device */
    double t0 = bench_now_ns();
    if (c->use_scope) {
        for (long i = 0; i < n;) {
            sf_scope s = sf_scope_begin(sf);
            for (long k = 0; k < SCOPE_BATCH && i < n; k++, i++)
                (void)SF_REMOTE(alice, task_work, SF_F64((double)i));
            sf_scope_end(&s, NULL, 0);
        }
    } else {
        for (long i = 0; i < n; i++) {
            sf_obj o = SF_REMOTE(alice, task_work, SF_F64((double)i));
            sf_release(o);
        }
    }
    double s = (bench_now_ns() - t0) / (double)n;
    if (me0) {
        c->direct[r] = d;
        c->sfc[r] = s;
        c->diff[r] = s - d;
    }
    /* sanity: the task computes what the direct call computes */
    sf_obj o = SF_REMOTE(alice, task_work, SF_F64(42.0));
    sf_value *v;
    SF_TRY(sf_get(sf, o, &v));
    if (me0) c->ok = sf_value_as_f64(v, 0) == work(42.0);
    sf_release(o);
    return 0;
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--iters=", 8)) g_iters = atol(argv[i] + 8);
        else if (!strncmp(argv[i], "--reps=", 7)) g_reps = atoi(argv[i] + 7);
        else if (!strncmp(argv[i], "--case=", 7)) g_only = atoi(argv[i] + 7);
        else {
            fprintf(stderr, "usage: %s [--iters=N] [--reps=R] [--case=K] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (g_iters < 1) g_iters = 1;
    if (g_reps < 1) g_reps = 1;
    if (g_reps > MAX_REPS) g_reps = MAX_REPS;
    /* the cases set parties and mode themselves */
    unsetenv("SF_PARTIES");
    unsetenv("SF_MODE");
    unsetenv("SF_CHECK_ARGS");

    static bcase cases[] = {
        {.key = "release", .label = "1 party, release each call, default options (arg check on)", .nparties = 1},
        {.key = "scope1000", .label = "1 party, scope per 1000 calls, default options", .nparties = 1, .use_scope = 1},
        {.key = "check-off", .label = "1 party, release each call, arg check off", .nparties = 1, .check_args = -1},
        {.key = "3-parties", .label = "3 parties (lockstep, rank switch every call), release each call",
         .nparties = 3},
    };
    static const char *const names[] = {"alice", "bob", "carol"};
    const size_t ncases = sizeof cases / sizeof cases[0];
    printf("# bench_call: %ld calls per repetition, %d repetitions, debug mode\n", g_iters, g_reps);
    fflush(stdout);
    /* repetitions outermost: the cases interleave in time, so load changes hit them all */
    for (int r = 0; r < g_reps; r++)
        for (size_t k = 0; k < ncases; k++) {
            bcase *c = &cases[k];
            if (g_only >= 0 && (size_t)g_only != k) continue;
            sf_config cfg = {.mode = SF_MODE_DEBUG, .parties = names, .nparties = c->nparties,
                             .check_args = c->check_args, .quiet = 1};
            c->rep = r;
            int rc = sf_run(&cfg, program, c);
            if (rc != 0) {
                printf("call debug %s: sf_run failed with exit code %d\n", c->label, rc);
                return rc;
            }
        }
    for (size_t k = 0; k < ncases; k++) {
        bcase *c = &cases[k];
        if (g_only >= 0 && (size_t)g_only != k) continue;
        double d = bench_median(c->direct, g_reps), s = bench_median(c->sfc, g_reps),
               o = bench_median(c->diff, g_reps);
        const char *goal = k == 0 ? (o <= GOAL_NS ? " (goal <= 100 ns: met)"
                                                  : " (goal <= 100 ns: NOT met)")
                                  : " (info)";
        printf("call debug %s: direct %.1f ns, sf %.1f ns, overhead %.1f ns%s [median of %d]%s\n",
               c->label, d, s, o, goal, g_reps, c->ok ? "" : " RESULT MISMATCH");
        fflush(stdout);
        bench_cfg cfg = {0};
        bench_cfg_str(&cfg, "mode", "debug");
        bench_cfg_str(&cfg, "case", c->key);
        bench_cfg_num(&cfg, "parties", c->nparties);
        bench_cfg_num(&cfg, "iters", (double)g_iters);
        bench_cfg_num(&cfg, "reps", g_reps);
        bench_cfg_num(&cfg, "ok", c->ok);
        bench_json("call", &cfg, s, "ns", d, "direct C call");
        bench_json("call.overhead", &cfg, o, "ns", NAN, NULL);
    }
    return 0;
}
