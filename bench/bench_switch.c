/*
 * Context-switch cost: sfmpi coroutines (runtime/coro.c) vs glibc swapcontext, same run.
 *  (a) pingpong: two contexts switching to each other;
 *  (b) ring: 10,000 contexts alive, each switching to the next, round robin.
 * Each case: REPS repetitions (alternating sfmpi / swapcontext), median ns per switch.
 * Usage: bench_switch [--json FILE]   (JSON lines: bench/README.md, "Result format")
 * A measurement, not a test: exits 0 unless its options are wrong.
 */
#include "runtime/coro.h"
#include "sfmpi/sf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include "bench_util.h"

#define REPS 9
#define SF_SWITCHES 4000000L
#define UC_SWITCHES 1000000L
#define STACK (64 * 1024)
#define GOAL_NS 15.0
#define GOAL_RATIO 10.0

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* ---- sfmpi ring ----------------------------------------------------------------- */
static sf_coro **g_co;
static sf_coro *g_thr;
static size_t g_n;
static long g_left;
static size_t g_resume; /* who to resume for the next repetition */
static int g_quit;

static void sf_ring_fn(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    size_t next = i + 1 == g_n ? 0 : i + 1;
    sf_coro *self = g_co[i], *to = g_co[next];
    while (!g_quit) {
        if (--g_left == 0) {
            g_resume = next;
            sf__coro_switch(self, g_thr);
        } else {
            sf__coro_switch(self, to);
        }
    }
}

static int co_setup(size_t n)
{
    g_thr = sf__coro_thread();
    g_n = n;
    g_quit = 0;
    g_resume = 0;
    g_co = calloc(n, sizeof *g_co);
    if (!g_co)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%zu", i);
        if (sf__coro_create(&g_co[i], sf_ring_fn, (void *)(uintptr_t)i, STACK, name,
                            g_thr) != SF_OK)
            return -1;
    }
    return 0;
}

static double co_run(long switches)
{
    g_left = switches;
    double t0 = now_ns();
    sf__coro_switch(g_thr, g_co[g_resume]);
    double t1 = now_ns();
    return (t1 - t0) / (double)switches;
}

static void co_teardown(void)
{
    g_quit = 1;
    for (size_t i = 0; i < g_n; i++) {
        if (g_co[i] && !sf__coro_finished(g_co[i])) /* resumes and returns: finishes */
            sf__coro_switch(g_thr, g_co[i]);
        sf__coro_destroy(&g_co[i]);
    }
    free(g_co);
    g_co = NULL;
}

/* ---- swapcontext ring ------------------------------------------------------------ */
static ucontext_t *g_uc;
static ucontext_t g_uc_thr;
static void **g_uc_stack;
static long g_uc_left;
static size_t g_uc_resume;

static void uc_ring_fn(int idx)
{
    size_t i = (size_t)idx;
    size_t next = i + 1 == g_n ? 0 : i + 1;
    for (;;) {
        if (--g_uc_left == 0) {
            g_uc_resume = next;
            swapcontext(&g_uc[i], &g_uc_thr);
        } else {
            swapcontext(&g_uc[i], &g_uc[next]);
        }
    }
}

/* Separate function: getcontext returns twice, which upsets -Wclobbered in a loop. */
__attribute__((noinline)) static int uc_init_one(size_t i)
{
    void *st = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (st == MAP_FAILED)
        return -1;
    g_uc_stack[i] = st;
    if (getcontext(&g_uc[i]) != 0)
        return -1;
    g_uc[i].uc_stack.ss_sp = st;
    g_uc[i].uc_stack.ss_size = STACK;
    g_uc[i].uc_link = NULL;
    makecontext(&g_uc[i], (void (*)(void))uc_ring_fn, 1, (int)i);
    return 0;
}

static int uc_setup(size_t n)
{
    g_n = n;
    g_uc_resume = 0;
    g_uc = calloc(n, sizeof *g_uc);
    g_uc_stack = calloc(n, sizeof *g_uc_stack);
    if (!g_uc || !g_uc_stack)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (uc_init_one(i) != 0)
            return -1;
    return 0;
}

static double uc_run(long switches)
{
    g_uc_left = switches;
    double t0 = now_ns();
    swapcontext(&g_uc_thr, &g_uc[g_uc_resume]);
    double t1 = now_ns();
    return (t1 - t0) / (double)switches;
}

static void uc_teardown(void)
{
    /* the contexts never finish: just drop their stacks */
    for (size_t i = 0; i < g_n; i++)
        munmap(g_uc_stack[i], STACK);
    free(g_uc_stack);
    free(g_uc);
    g_uc = NULL;
    g_uc_stack = NULL;
}

/* ---- driver ---------------------------------------------------------------------- */
static int run_case(const char *label, size_t n, double *sf_med, double *uc_med)
{
    double sf[REPS], uc[REPS];
    if (co_setup(n) != 0 || uc_setup(n) != 0) {
        fprintf(stderr, "bench_switch: setup of %zu contexts failed\n", n);
        return -1;
    }
    /* warm up: touch every stack once */
    co_run((long)n * 2);
    uc_run((long)n * 2);
    for (int r = 0; r < REPS; r++) {
        sf[r] = co_run(SF_SWITCHES);
        uc[r] = uc_run(UC_SWITCHES);
    }
    co_teardown();
    uc_teardown();
    *sf_med = median(sf, REPS);
    *uc_med = median(uc, REPS);
    printf("switch %s: sfmpi %.1f ns, swapcontext %.1f ns, ratio %.1fx (median of %d)\n",
           label, *sf_med, *uc_med, *uc_med / *sf_med, REPS);
    fflush(stdout);
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "case", label);
    bench_cfg_num(&cfg, "coroutines", (double)n);
    bench_cfg_num(&cfg, "reps", REPS);
    bench_json("switch", &cfg, *sf_med, "ns", *uc_med, "swapcontext");
    return 0;
}

int main(int argc, char **argv)
{
    if (bench_json_args(&argc, argv) != 0)
        return 2;
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--json FILE]\n", argv[0]);
        return 2;
    }
    double pp_sf = 0, pp_uc = 0, ring_sf = 0, ring_uc = 0;
    int ok_pp = run_case("pingpong", 2, &pp_sf, &pp_uc) == 0;
    int ok_ring = run_case("ring10000", 10000, &ring_sf, &ring_uc) == 0;
    int goal_pp = ok_pp && pp_sf <= GOAL_NS && pp_uc / pp_sf >= GOAL_RATIO;
    int goal_ring = ok_ring && ring_sf <= GOAL_NS && ring_uc / ring_sf >= GOAL_RATIO;
    printf("goals (<= %.0f ns and >= %.0fx swapcontext): pingpong %s, ring10000 %s\n", GOAL_NS,
           GOAL_RATIO, goal_pp ? "met" : "NOT met", goal_ring ? "met" : "NOT met");
    return 0;
}
