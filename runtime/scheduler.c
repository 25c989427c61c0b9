/*
 * The debug executor: every rank is a coroutine on this one thread.
 *
 * Scheduling is a FIFO of runnable ranks, started in rank order. A rank gives way at the
 * start of every runtime call (lockstep: the log reads call by call across parties) and
 * when it blocks in recv; it switches straight to the next runnable rank, not through
 * the scheduler. Everything is deterministic: the same program gives the same
 * interleaving and the same log on every run.
 *
 * When no rank is runnable and some are blocked, control returns to the thread context,
 * which reports the deadlock: per rank what it waits for and where, a backtrace taken by
 * switching into the blocked rank, the wait-for cycle, and the first call at which the
 * ranks' programs differ (the usual cause). When all ranks finish, it checks that they
 * made the same calls and that no message was left unreceived.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/mode.h"
#include "runtime/coro.h"
#include "runtime/internal.h"

#define GUARD_PAGE_LIMIT 30000 /* ranks; past it guard pages would exhaust vm.max_map_count */
#define STACK_GROUP 256        /* stacks per mapping past GUARD_PAGE_LIMIT */
#define BT_MAX 24
#define REPORT_BT_RANKS 16

enum { R_READY, R_BLOCKED, R_DONE };

typedef struct sf_rank_rt {
    sf_ctx ctx; /* first: a ctx pointer is a rank pointer */
    struct sf_debug_exec *ex;
    sf_coro *co;
    int idx;
    int state;
    int wait_src;
    uint64_t wait_obj;
    int exit_code;
    int nbt;
    void *bt[BT_MAX];
    char name[80];
} sf_rank_rt;

typedef struct sf_debug_exec {
    sf_run_state *run;
    int n;      /* ranks: np parties x k ranks; rank i is rank i % k of party i / k */
    int np, k;
    sf_rank_rt *ranks;
    /* the hot path of the scheduler in compact arrays (a rank's own struct is over 1 KiB):
     * the ready FIFO's links and each rank's coroutine */
    int *link;
    sf_coro **co;
    int prefetch; /* enough ranks that a resumed one finds its state out of the cache */
    int head, tail;
    int current;
    int reporting; /* resumed blocked ranks capture a backtrace and switch back */
    sf_coro *main;
    int first_fail; /* the first rank (in time) that finished with a non-zero code, or -1 */
} sf_debug_exec;

/* For debuggers (scripts/sfmpi-gdb.py) and the overflow hook. */
SF_API sf_debug_exec *sf__debug_exec_current;

static void push_ready(sf_debug_exec *ex, int r) {
    ex->link[r] = -1;
    ex->ranks[r].state = R_READY;
    if (ex->tail >= 0) ex->link[ex->tail] = r;
    else ex->head = r;
    ex->tail = r;
}

static int pop_ready(sf_debug_exec *ex) {
    int r = ex->head;
    if (r >= 0) {
        ex->head = ex->link[r];
        if (ex->head < 0) ex->tail = -1;
    }
    return r;
}

static void switch_to(sf_debug_exec *ex, sf_rank_rt *from, int to) {
    ex->current = to;
    /* With thousands of ranks each one resumes on a cold cache. A two-stage prefetch: the
     * rank that runs after `to` gets its stack's hot lines (its control block, holding the
     * saved stack pointer, was fetched one switch earlier), the one after that its control
     * block and context. */
    int n1 = ex->prefetch ? ex->head : -1;
    if (n1 >= 0) {
        sf__coro_prefetch_stack(ex->co[n1]);
        int n2 = ex->link[n1];
        if (n2 >= 0) {
            sf__coro_prefetch_head(ex->co[n2]);
            for (int i = 0; i < 4; i++) __builtin_prefetch((const char *)&ex->ranks[n2].ctx + 64 * i, 1);
        }
    }
    sf__coro_switch(from->co, to >= 0 ? ex->co[to] : ex->main);
    ex->current = from->idx;
}

void sf__debug_yield(sf_ctx *sf) {
    sf_rank_rt *r = (sf_rank_rt *)sf;
    sf_debug_exec *ex = r->ex;
    if (ex->head < 0) return;
    push_ready(ex, r->idx);
    int nx = pop_ready(ex);
    if (nx != r->idx) switch_to(ex, r, nx);
}

void sf__debug_note_wait(sf_ctx *sf, int src, uint64_t obj_id) {
    sf_rank_rt *r = (sf_rank_rt *)sf;
    r->wait_src = src;
    r->wait_obj = obj_id;
}

const sf_ctx *sf__debug_peer_ctx(sf_ctx *sf, int party) {
    sf_debug_exec *ex = ((sf_rank_rt *)sf)->ex;
    return party >= 0 && party < ex->n ? &ex->ranks[party].ctx : NULL;
}

static void capture_and_return(sf_rank_rt *r) {
    r->nbt = backtrace(r->bt, BT_MAX);
    switch_to(r->ex, r, -1);
}

static void sched_block(void *arg, int self, int src) {
    sf_debug_exec *ex = arg;
    sf_rank_rt *r = &ex->ranks[self];
    r->state = R_BLOCKED;
    r->wait_src = src;
    switch_to(ex, r, pop_ready(ex)); /* -1: nobody runnable, back to the thread context */
    if (ex->reporting) capture_and_return(r);
    r->ctx.turn_calls = 0; /* resumed: a new turn */
    r->wait_src = -1;
}

static void sched_wake(void *arg, int r) { push_ready((sf_debug_exec *)arg, r); }

static void rank_main(void *arg) {
    sf_rank_rt *r = arg;
    if (r->ctx.rank == 0) r->exit_code = sf__run_party(&r->ctx);
    else r->exit_code = sf__worker_loop(&r->ctx);
    if (r->exit_code && r->ex->first_fail < 0) r->ex->first_fail = r->idx;
    sf_run_state *run = r->ex->run;
    run->mode->rank_done(run->backend, r->idx); /* its waiters get SF_EPEER */
    r->state = R_DONE;
    int nx = pop_ready(r->ex);
    r->ex->current = nx;
    sf__coro_set_exit(r->co, nx >= 0 ? r->ex->ranks[nx].co : r->ex->main);
}

const sf_ctx *sf__exec_current_ctx(void) {
    sf_debug_exec *ex = sf__debug_exec_current;
    return ex && ex->current >= 0 && ex->current < ex->n ? &ex->ranks[ex->current].ctx : NULL;
}

/* A coroutine's guard region was hit (in the SIGSEGV handler: async-signal-safe). */
static void overflow_hook(const char *name, size_t stack_size, void *arg) {
    const sf_rank_rt *r = arg;
    sf_crash_buf b = {.n = 0};
    sf__crash_put(&b, "sfmpi: [debug ");
    sf__crash_put(&b, name);
    sf__crash_put(&b, "] error: stack overflow in rank ");
    sf__crash_put(&b, name);
    if (r) sf__crash_where(&b, &r->ctx);
    sf__crash_put(&b, " (coroutine stack ");
    sf__crash_putu(&b, stack_size / 1024);
    sf__crash_put(&b, " KiB); raise it with --sf-stack-size=<bytes>[k|m]");
    sf__crash_write(&b);
}

/* ------------------------------------------------------------------ reports */

static const char *rank_name(sf_debug_exec *ex, int r) {
    return r >= 0 && r < ex->n ? ex->ranks[r].name : "?";
}

/* First call at which the ranks' traces differ, within the remembered window. */
static int find_divergence(sf_debug_exec *ex, uint64_t *call, int *ra, int *rb) {
    uint64_t lo = 1, hi = UINT64_MAX;
    for (int i = 0; i < ex->n; i += ex->k) {
        uint64_t c = ex->ranks[i].ctx.call_seq;
        if (c < hi) hi = c;
        if (c >= SF__HIST && c - SF__HIST + 1 > lo) lo = c - SF__HIST + 1;
    }
    for (uint64_t k = lo; k <= hi && hi != UINT64_MAX; k++) {
        unsigned s = (unsigned)(k & (SF__HIST - 1));
        for (int i = ex->k; i < ex->n; i += ex->k)
            if (ex->ranks[i].ctx.trace_hist[s] != ex->ranks[0].ctx.trace_hist[s]) {
                *call = k;
                *ra = 0;
                *rb = i;
                return 1;
            }
    }
    /* no difference within the window: compare where the shortest program ended */
    for (int i = ex->k; i < ex->n; i += ex->k)
        if (ex->ranks[i].ctx.call_seq != ex->ranks[0].ctx.call_seq) {
            *call = hi;
            *ra = 0;
            *rb = i;
            return 2;
        }
    return 0;
}

static void print_site(FILE *f, const sf_site *s) {
    fprintf(f, "%s:%d, %s", sf__basename(s->file), s->line, s->what ? s->what : "?");
}

/* Prints the parties' first differing call, if any; returns find_divergence's verdict. */
static int print_cause(sf_debug_exec *ex, FILE *f) {
    uint64_t call;
    int a, b;
    int k = find_divergence(ex, &call, &a, &b);
    if (k == 1) {
        unsigned s = (unsigned)(call & (SF__HIST - 1));
        fprintf(f, "  cause: the parties' programs differ from call #%llu on: %s made (",
                (unsigned long long)call, rank_name(ex, a));
        print_site(f, &ex->ranks[a].ctx.site_hist[s]);
        fprintf(f, "), %s made (", rank_name(ex, b));
        print_site(f, &ex->ranks[b].ctx.site_hist[s]);
        fprintf(f, ") - a branch on data that only one party knows?\n");
    } else if (k == 2) {
        fprintf(f, "  cause: the parties made different numbers of calls (%s: %llu, %s: %llu)\n",
                rank_name(ex, a), (unsigned long long)ex->ranks[a].ctx.call_seq,
                rank_name(ex, b), (unsigned long long)ex->ranks[b].ctx.call_seq);
    }
    return k;
}

/* A blocked rank's stack, user frames only, as "function (file:line)": addr2line turns the
 * addresses into names even for static functions (which backtrace_symbols cannot name);
 * without addr2line the raw backtrace_symbols lines are printed. */
static void print_backtrace(FILE *f, sf_rank_rt *r) {
    if (r->nbt <= 0) return;
    Dl_info di;
    char cmd[4096];
    int used = 0, printed = 0;
    const char *module = NULL;
    if (dladdr(r->bt[0], &di) && di.dli_fname) module = di.dli_fname;
    if (module && !access("/usr/bin/addr2line", X_OK)) {
        used = snprintf(cmd, sizeof cmd, "/usr/bin/addr2line -f -C -e '%s'", module);
        for (int j = 0; j < r->nbt && used < (int)sizeof cmd - 40; j++) {
            Dl_info dj;
            if (!dladdr(r->bt[j], &dj) || !dj.dli_fname || strcmp(dj.dli_fname, module)) continue;
            used += snprintf(cmd + used, sizeof cmd - (size_t)used, " %#lx",
                             (unsigned long)((char *)r->bt[j] - (char *)dj.dli_fbase - 1));
        }
        FILE *p = popen(cmd, "r");
        char fn[512], loc[1024];
        while (p && fgets(fn, sizeof fn, p) && fgets(loc, sizeof loc, p)) {
            fn[strcspn(fn, "\n")] = 0;
            loc[strcspn(loc, "\n")] = 0;
            char *disc = strstr(loc, " (discriminator");
            if (disc) *disc = 0;
            /* runtime internals say nothing about the user's program */
            if (strstr(loc, "/runtime/") || strstr(loc, "/mpi/") || strstr(loc, "/devices/") ||
                !strncmp(fn, "??", 2) || !strcmp(fn, "rank_main"))
                continue;
            const char *colon = strrchr(loc, '/');
            fprintf(f, "      at %s (%s)\n", fn, colon ? colon + 1 : loc);
            printed++;
        }
        if (p) pclose(p);
    }
    if (printed || module) return; /* only runtime frames: nothing to show */
    char **sym = backtrace_symbols(r->bt, r->nbt);
    for (int j = 0; sym && j < r->nbt; j++) fprintf(f, "      %s\n", sym[j]);
    free(sym);
}

static int deadlock_report(sf_debug_exec *ex) {
    FILE *f = stderr;
    int nblocked = 0, ndone = 0;
    for (int i = 0; i < ex->n; i++) {
        nblocked += ex->ranks[i].state == R_BLOCKED;
        ndone += ex->ranks[i].state == R_DONE;
    }
    /* backtraces: switch into each blocked rank (it records and switches back) */
    ex->reporting = 1;
    int shown = 0;
    for (int i = 0; i < ex->n && shown < REPORT_BT_RANKS; i++)
        if (ex->ranks[i].state == R_BLOCKED) {
            ex->current = i;
            sf__coro_switch(ex->main, ex->ranks[i].co);
            shown++;
        }
    fflush(stdout);
    fprintf(f, "sfmpi: [debug] error: deadlock: every rank is blocked (%d blocked, %d finished, "
               "%d ranks)\n", nblocked, ndone, ex->n);
    shown = 0;
    for (int i = 0; i < ex->n; i++) {
        sf_rank_rt *r = &ex->ranks[i];
        if (r->state == R_DONE) {
            if (ex->n <= 64)
                fprintf(f, "  %s finished its program after call #%llu\n", r->name,
                        (unsigned long long)r->ctx.call_seq);
            continue;
        }
        if (shown++ >= 64) continue;
        char id[32];
        snprintf(id, sizeof id, SF__OBJ_IDX(r->wait_obj) ? "#%llu.%u" : "#%llu",
                 (unsigned long long)SF__OBJ_SEQ(r->wait_obj), SF__OBJ_IDX(r->wait_obj));
        fprintf(f, "  %s at call #%llu (", r->name, (unsigned long long)r->ctx.call_seq);
        if (!(r->ctx.rank > 0 && !r->ctx.in_task)) print_site(f, &r->ctx.site);
        if (r->ctx.rank > 0 && !r->ctx.in_task)
            fprintf(f, "idle) waits for %s's next collective call\n", rank_name(ex, r->wait_src));
        else if (r->wait_src >= 0 && r->wait_src / ex->k == i / ex->k)
            fprintf(f, ") waits for a message from %s on the party communicator%s\n",
                    rank_name(ex, r->wait_src),
                    ex->ranks[r->wait_src].state == R_DONE ? " (which has finished)" : "");
        else
            fprintf(f, ") waits for object %s from %s%s\n", id, rank_name(ex, r->wait_src),
                    ex->ranks[r->wait_src].state == R_DONE ? " (which has finished)" : "");
        print_backtrace(f, r);
    }
    /* the wait-for cycle: follow wait_src from the first blocked rank */
    int start = -1;
    for (int i = 0; i < ex->n && start < 0; i++)
        if (ex->ranks[i].state == R_BLOCKED) start = i;
    if (start >= 0) {
        char *seen = calloc((size_t)ex->n, 1);
        int r = start;
        while (seen && r >= 0 && ex->ranks[r].state == R_BLOCKED && !seen[r]) {
            seen[r] = 1;
            r = ex->ranks[r].wait_src;
        }
        if (seen && r >= 0 && ex->ranks[r].state == R_BLOCKED) {
            fprintf(f, "  wait-for cycle: %s", ex->ranks[r].name);
            int c = ex->ranks[r].wait_src, steps = 0;
            while (steps++ < 32) {
                fprintf(f, " -> %s", rank_name(ex, c));
                if (c == r) break;
                c = ex->ranks[c].wait_src;
            }
            fprintf(f, "\n");
        } else if (seen && r >= 0) {
            fprintf(f, "  wait-for chain ends at %s, which has finished\n", rank_name(ex, r));
        }
        free(seen);
    }
    /* blocked because the parties' programs differ: a divergence, the same exit code as
     * simulation and production report for the same program */
    int diverged = print_cause(ex, f) == 1;
    fflush(f);
    return diverged ? SF_EXIT_DIVERGE : SF_EXIT_DEADLOCK;
}

/* All ranks finished: same calls, nothing left in flight. */
static int end_check(sf_debug_exec *ex) {
    uint64_t call;
    int a, b;
    int k = find_divergence(ex, &call, &a, &b);
    if (k) {
        fflush(stdout);
        fprintf(stderr, "sfmpi: [debug] error: program divergence: %s finished after call #%llu "
                        "(", rank_name(ex, a), (unsigned long long)ex->ranks[a].ctx.call_seq);
        print_site(stderr, &ex->ranks[a].ctx.site);
        fprintf(stderr, "), %s after call #%llu (", rank_name(ex, b),
                (unsigned long long)ex->ranks[b].ctx.call_seq);
        print_site(stderr, &ex->ranks[b].ctx.site);
        fprintf(stderr, ")\n");
        print_cause(ex, stderr);
        return SF_EXIT_DIVERGE;
    }
    for (int d = 0; d < ex->n; d++) {
        int src;
        sf_msg_hdr h;
        int np = ex->run->mode->undelivered(ex->run->backend, d, &src, &h);
        if (np) {
            fflush(stdout);
            fprintf(stderr, "sfmpi: [debug] error: program divergence: %s sent object #%llu to "
                            "%s at its call #%llu (%s:%u), which %s never received (%d message%s "
                            "left)\n",
                    rank_name(ex, src), (unsigned long long)SF__OBJ_SEQ(h.obj_id),
                    rank_name(ex, d), (unsigned long long)h.call_seq, h.file, h.line,
                    rank_name(ex, d), np, np == 1 ? "" : "s");
            return SF_EXIT_DIVERGE;
        }
    }
    return SF_EXIT_OK;
}

/* ------------------------------------------------------------------ run */

sf_debug_exec *sf__exec_new(sf_run_state *run) {
    sf_debug_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    ex->run = run;
    ex->head = ex->tail = -1;
    ex->current = -1;
    ex->first_fail = -1;
    return ex;
}

sf_mem_sched sf__exec_sched(sf_debug_exec *ex) {
    return (sf_mem_sched){.arg = ex, .block = sched_block, .wake = sched_wake};
}

void sf__exec_free(sf_debug_exec **exp) {
    sf_debug_exec *ex = *exp;
    if (!ex) return;
    free(ex->ranks);
    free(ex->link);
    free(ex->co);
    free(ex);
    *exp = NULL;
}

/* Run every rank of the layout as a coroutine, to the end. Returns the exit code. */
int sf__exec_run(sf_debug_exec *ex, const sf_layout *lay) {
    sf_run_state *run = ex->run;
    int np = lay->nparties, n = lay->nranks, k = n / np, code = SF_EXIT_OK, rc;
    ex->n = n;
    ex->prefetch = n > 64;
    ex->np = np;
    ex->k = k;
    ex->ranks = calloc((size_t)n, sizeof *ex->ranks);
    ex->link = calloc((size_t)n, sizeof *ex->link);
    ex->co = calloc((size_t)n, sizeof *ex->co);
    if (!ex->ranks || !ex->link || !ex->co) {
        fprintf(stderr, "sfmpi: error: out of memory creating %d ranks\n", n);
        return SF_EXIT_FAILURE;
    }
    run->dbg = ex;
    ex->main = sf__coro_thread();
    sf__coro_install_overflow_handler(overflow_hook, SF_EXIT_STACK);
    if (n > GUARD_PAGE_LIMIT) {
        /* a mapping and a guard region per stack would pass vm.max_map_count: stacks come
         * in groups, one guard region each, and canaries name an overflowing rank */
        sf__coro_group_stacks(STACK_GROUP);
        if (!run->opts.quiet)
            fprintf(stderr, "sfmpi: [debug] note: %d ranks: stacks are grouped %d per mapping "
                            "(vm.max_map_count limits mappings); a stack overflow is caught by a "
                            "canary when its rank switches out, not by a guard page\n",
                    n, STACK_GROUP);
    }
    sf__debug_exec_current = ex;
    int made = 0;
    for (int i = 0; i < n; i++, made++) {
        sf_rank_rt *r = &ex->ranks[i];
        r->ex = ex;
        r->idx = i;
        r->wait_src = -1;
        sf_transport_hooks hooks = {.arg = &r->ctx, .on_notice = sf__on_notice,
                                    .on_bye_mismatch = sf__on_bye_mismatch};
        sf_endpoint ep = {0};
        char err[512] = "";
        rc = sf__ctx_init(&r->ctx, run, i / k);
        if (!rc) rc = run->mode->endpoint(run->backend, i, &hooks, &ep, err, sizeof err);
        if (!rc) {
            r->ctx.party = ep.party;
            r->ctx.rank = ep.rank;
            r->ctx.tp = ep.tp;
            r->ctx.pc = ep.pc;
            snprintf(r->name, sizeof r->name, "%s/%d", run->parties[ep.party], ep.rank);
            rc = sf__coro_create(&r->co, rank_main, r, run->opts.stack_size, r->name, ex->main);
            ex->co[i] = r->co;
        }
        if (rc) {
            fprintf(stderr, "sfmpi: error: creating rank %d failed: %s\n", i, err[0] ? err : sf_strerror(rc));
            code = SF_EXIT_FAILURE;
            sf__ctx_free(&r->ctx);
            if (r->ctx.tp) r->ctx.tp->ops->destroy(&r->ctx.tp);
            else if (ep.tp) ep.tp->ops->destroy(&ep.tp);
            if (r->ctx.pc) r->ctx.pc->ops->destroy(&r->ctx.pc);
            else if (ep.pc) ep.pc->ops->destroy(&ep.pc);
            break;
        }
        push_ready(ex, i);
    }
    if (code == SF_EXIT_OK) {
        int first = pop_ready(ex);
        ex->current = first;
        sf__coro_switch(ex->main, ex->ranks[first].co);
        ex->current = -1;
        int blocked = 0;
        for (int i = 0; i < n; i++) blocked += ex->ranks[i].state != R_DONE;
        if (blocked) {
            fflush(NULL);
            _exit(deadlock_report(ex)); /* blocked coroutines cannot be unwound */
        }
        code = end_check(ex);
        /* the process's status is the first failing party's (first in time) */
        if (code == SF_EXIT_OK && ex->first_fail >= 0) code = ex->ranks[ex->first_fail].exit_code;
    }
    for (int i = 0; i < made; i++) {
        sf__ctx_free(&ex->ranks[i].ctx);
        if (ex->ranks[i].ctx.tp) ex->ranks[i].ctx.tp->ops->destroy(&ex->ranks[i].ctx.tp);
        if (ex->ranks[i].ctx.pc) ex->ranks[i].ctx.pc->ops->destroy(&ex->ranks[i].ctx.pc);
        sf__coro_destroy(&ex->ranks[i].co);
    }
    sf__coro_group_stacks(0); /* the next run starts with a mapping and guard per stack */
    sf__debug_exec_current = NULL;
    run->dbg = NULL;
    fflush(stdout);
    return code;
}
