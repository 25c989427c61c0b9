/*
 * Crash attribution: a task that dereferences NULL, divides by zero, calls abort() or
 * exit() ends its process; before the default action, the process prints which rank,
 * which call and which task it was:
 *
 *   sfmpi: [sim bob/0 #7] crashed (SIGSEGV) in task 'scale' called at prog.c:42
 *   sfmpi: [debug alice/0 #3] exit(42) called in task 'load' called at prog.c:17
 *
 * from the crashing process itself, so the line reaches the user's terminal through
 * mpirun too (production peers also name the party: its connections break and its
 * address refuses them, mpi/prod/bridge.c).
 *
 * The handlers are installed by sf_run once the mode has launched (Open MPI installs its
 * own at MPI_Init: ours print the line, then give the signal to the handler that was
 * there before, or to the default action), on an alternate stack, and removed when the
 * run ends. Everything a handler does is async-signal-safe: it reads the running rank's
 * context (plain memory), formats with the helpers below and write(2)s once. The
 * debug executor's stack-overflow report uses the same formatting.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/coro.h"
#include "runtime/internal.h"

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSIG_CRASH (sizeof crash_signals / sizeof crash_signals[0])

static struct sigaction g_old[NSIG_CRASH];
static volatile sig_atomic_t g_active;
static const sf_run_state *volatile g_run;
static const sf_ctx *volatile g_ctx; /* sim/prod: this process's rank */
static volatile pid_t g_program_tid;
static int g_exit_hook;

/* ------------------------------------------------------------------ async-safe text */

void sf__crash_put(sf_crash_buf *b, const char *s) {
    while (s && *s && b->n < sizeof b->s - 2) b->s[b->n++] = *s++;
}

void sf__crash_putu(sf_crash_buf *b, unsigned long long v) {
    char num[24];
    int k = 0;
    do num[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 24);
    while (k && b->n < sizeof b->s - 2) b->s[b->n++] = num[--k];
}

/* "sfmpi: [mode party/rank #call] " of a rank (or "sfmpi: " without one). */
void sf__crash_tag(sf_crash_buf *b, const sf_ctx *sf) {
    sf__crash_put(b, "sfmpi: ");
    if (!sf) return;
    const sf_run_state *run = sf->run;
    sf__crash_put(b, "[");
    sf__crash_put(b, sf_mode_name(run->opts.mode));
    sf__crash_put(b, " ");
    sf__crash_put(b, sf->party >= 0 && sf->party < run->nparties ? run->parties[sf->party] : "?");
    sf__crash_put(b, "/");
    sf__crash_putu(b, (unsigned)sf->rank);
    sf__crash_put(b, " #");
    sf__crash_putu(b, sf->call_seq);
    sf__crash_put(b, "] ");
}

/* " in task 'fn' called at file:line", or where the program was. */
void sf__crash_where(sf_crash_buf *b, const sf_ctx *sf) {
    if (!sf) return;
    if (sf->in_task) {
        sf__crash_put(b, " in task '");
        sf__crash_put(b, sf->site.what ? sf->site.what : "?");
        sf__crash_put(b, "' called at ");
    } else {
        sf__crash_put(b, sf->call_seq ? " in the program after its call at " : " in the program, before its first call");
        if (!sf->call_seq) return;
    }
    sf__crash_put(b, sf__basename(sf->site.file));
    sf__crash_put(b, ":");
    sf__crash_putu(b, (unsigned)sf->site.line);
}

void sf__crash_write(sf_crash_buf *b) {
    b->s[b->n++] = '\n';
    const char *p = b->s;
    size_t n = b->n;
    while (n) {
        ssize_t w = write(2, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w, n -= (size_t)w;
    }
    b->n = 0;
}

/* ------------------------------------------------------------------ handlers */

static const sf_ctx *running_ctx(void) {
    const sf_ctx *sf = sf__exec_current_ctx();
    return sf ? sf : g_ctx;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "a signal";
    }
}

static void crash_handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    int saved = errno;
    size_t k = 0;
    while (k < NSIG_CRASH && crash_signals[k] != sig) k++;
    /* a coroutine's guard region: the executor's overflow report (coro.c) names it */
    int guard = (sig == SIGSEGV || sig == SIGBUS) && si->si_code > 0 && sf__coro_in_guard(si->si_addr);
    if (g_active && !guard) {
        g_active = 0; /* one report per process */
        sf_crash_buf b = {.n = 0};
        int other_thread = g_program_tid && (pid_t)syscall(SYS_gettid) != g_program_tid;
        const sf_ctx *sf = running_ctx();
        sf__crash_tag(&b, sf);
        sf__crash_put(&b, "crashed (");
        sf__crash_put(&b, signal_name(sig));
        sf__crash_put(&b, ")");
        if (other_thread) sf__crash_put(&b, " in the runtime's bridge thread");
        else sf__crash_where(&b, sf);
        sf__crash_write(&b);
    }
    /* the handler that was there before (Open MPI's, a sanitizer's) or the default */
    if (k < NSIG_CRASH) sigaction(sig, &g_old[k], NULL);
    if (si->si_code <= 0) raise(sig); /* sent (kill, abort): delivered again on return */
    errno = saved;                    /* a fault: the instruction faults again */
}

/* exit() from a task or the program: named too (the run never ends that way). */
static void exit_hook(int status, void *arg) {
    (void)arg;
    if (!g_active) return;
    g_active = 0;
    sf_crash_buf b = {.n = 0};
    const sf_ctx *sf = running_ctx();
    sf__crash_tag(&b, sf);
    sf__crash_put(&b, "exit(");
    if (status < 0) {
        sf__crash_put(&b, "-");
        status = -status;
    }
    sf__crash_putu(&b, (unsigned)status);
    sf__crash_put(&b, ") called");
    sf__crash_where(&b, sf);
    sf__crash_write(&b);
}

/* An alternate signal stack for this thread, unless it has one (a stack overflow on the
 * program's own stack must still be reported). */
static void ensure_altstack(void) {
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) return;
    size_t sz = 64 * 1024 > (size_t)SIGSTKSZ ? 64 * 1024 : (size_t)SIGSTKSZ;
    void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    stack_t ss = {.ss_sp = p, .ss_size = sz, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) munmap(p, sz);
}

void sf__crash_begin(const sf_run_state *run) {
    g_run = run;
    g_ctx = NULL;
    g_program_tid = (pid_t)syscall(SYS_gettid);
    ensure_altstack();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < NSIG_CRASH; k++) sigaction(crash_signals[k], &sa, &g_old[k]);
    if (!g_exit_hook && on_exit(exit_hook, NULL) == 0) g_exit_hook = 1;
    g_active = 1;
}

void sf__crash_set_ctx(const sf_ctx *sf) { g_ctx = sf; }

/* No more reports: the runtime is ending the process on purpose (or the run is over). */
void sf__crash_quiet(void) { g_active = 0; }

void sf__crash_end(void) {
    if (!g_run) return;
    g_active = 0;
    for (size_t k = 0; k < NSIG_CRASH; k++) {
        struct sigaction cur;
        /* restore only where our handler is still in place */
        if (sigaction(crash_signals[k], NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
            cur.sa_sigaction == crash_handler)
            sigaction(crash_signals[k], &g_old[k], NULL);
    }
    g_ctx = NULL;
    g_run = NULL;
}
