/*
 * Coroutines for the debug executor (see coro.h for the contract).
 *
 * Switch path: errno save/restore, one assembly routine (coro_x86_64.S / coro_aarch64.S)
 * and, only under AddressSanitizer, the fiber-switch annotations. No syscalls, no
 * allocation. With SF_CORO_UCONTEXT (or on other architectures) glibc swapcontext is
 * used instead.
 */
#include "coro.h"
#include "sfmpi/sf.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(SF_CORO_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define SF_CORO_UCONTEXT 1
#endif
#ifdef SF_CORO_UCONTEXT
#include <ucontext.h>
#endif

/* ---- AddressSanitizer / Valgrind ------------------------------------------------ */
#if defined(__SANITIZE_ADDRESS__)
#define SF_CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SF_CORO_ASAN 1
#endif
#endif
#ifdef SF_CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SF_CORO_VALGRIND 1
#endif
#endif

#define SF_CORO_DEFAULT_STACK (256u * 1024u)
#define SF_CORO_NAME_MAX 64

struct sf_coro {
    /* hot: first cache line */
    void *sp;                  /* saved stack pointer (asm switch) */
    int saved_errno;
    int finished;
    sf_coro *next;             /* prefetch hints (see sf__coro_switch): whom this */
    void *next_sp;             /* coroutine last switched to and where that one's */
    sf_coro *next2;            /* stack was; the same one switch further */
    void *next2_sp;
    sf_coro_fn fn;
    void *arg;
    sf_coro *exit_to;
    sf_coro *live_prev, *live_next; /* list of live (created, not destroyed) coroutines */
    const uint64_t *canary;    /* grouped stacks: the cache line at the stack's low end */
    char *map;                 /* whole mapping (guard page included), NULL for thread */
    size_t map_size;           /* 0: a slot of a group (slab) mapping */
    struct coro_slab *slab;    /* the group mapping it lives in, or NULL */
    char *stack_lo, *stack_hi; /* usable stack */
    size_t guard_size;         /* 0 if no guard page */
    size_t stack_size;         /* requested size, rounded to pages */
#ifdef SF_CORO_VALGRIND
    unsigned vg_stack_id;
#endif
#ifdef SF_CORO_ASAN
    void *asan_fake;           /* fake stack saved while switched out */
    const void *asan_bottom;   /* stack bounds handed to start_switch_fiber */
    size_t asan_size;
#endif
#ifdef SF_CORO_UCONTEXT
    ucontext_t uc;
#endif
    char name[SF_CORO_NAME_MAX];
    /* grouped stacks: last, so at the top of its slot, the first thing the stack of the
     * slot above overwrites when it overflows; checked when this coroutine resumes */
    uint64_t magic;
};

/* A group of stacks in one mapping (sf__coro_group_stacks): one guard region at its low
 * end, then `slots` slots of [stack | control block page], so a kernel mapping serves
 * many coroutines. A stack that overflows runs into the slot below it (the neighbour's
 * control block first); the canary line at each stack's low end, checked whenever its
 * coroutine switches out, names the rank. */
typedef struct coro_slab {
    char *map;
    size_t map_size, guard, slot_size;
    int slots, used, live;
    struct coro_slab *prev, *next; /* every group still mapped (g_slabs): on the heap, so
                                      an overflow, which writes stacks and control blocks,
                                      cannot break the lookups of the error paths */
} coro_slab;

static coro_slab *g_slabs;

static void slab_link(coro_slab *sl)
{
    sl->prev = NULL;
    sl->next = g_slabs;
    if (g_slabs)
        g_slabs->prev = sl;
    g_slabs = sl;
}

static void slab_unmap(coro_slab *sl)
{
    if (sl->prev)
        sl->prev->next = sl->next;
    else
        g_slabs = sl->next;
    if (sl->next)
        sl->next->prev = sl->prev;
    munmap(sl->map, sl->map_size);
    free(sl);
}

/* The group whose mapping holds address a, or NULL (error paths only). */
static coro_slab *slab_of(uintptr_t a)
{
    for (coro_slab *sl = g_slabs; sl; sl = sl->next)
        if (a >= (uintptr_t)sl->map && a < (uintptr_t)sl->map + sl->map_size)
            return sl;
    return NULL;
}

static int g_group;             /* stacks per group mapping; 0: one mapping each */
static coro_slab *g_slab;       /* the group being filled */

static sf_coro g_thread_coro;

static uint64_t magic_of(const sf_coro *c) { return 0x53466d7069436f72ULL ^ (uint64_t)(uintptr_t)c; }
static int g_thread_init;
static sf_coro *g_current;
static sf_coro *g_live;        /* head of the live list */
static size_t g_guard = SF_CORO_GUARD; /* bytes of PROT_NONE below each stack; 0 = none */
static size_t g_page;
#ifdef SF_CORO_ASAN
static sf_coro *g_switch_from; /* who switched to the coroutine that is resuming */
#endif

static size_t page_size(void)
{
    if (!g_page) {
        long p = sysconf(_SC_PAGESIZE);
        g_page = p > 0 ? (size_t)p : 4096u;
    }
    return g_page;
}

sf_coro *sf__coro_thread(void)
{
    if (!g_thread_init) {
        g_thread_init = 1;
        memcpy(g_thread_coro.name, "thread", sizeof "thread");
        g_thread_coro.exit_to = NULL;
        g_thread_coro.magic = magic_of(&g_thread_coro);
        if (!g_current)
            g_current = &g_thread_coro;
    }
    return &g_thread_coro;
}

sf_coro *sf__coro_current(void)
{
    if (!g_current)
        return sf__coro_thread();
    return g_current;
}

int sf__coro_finished(const sf_coro *c) { return c->finished; }
const char *sf__coro_name(const sf_coro *c) { return c->name; }
void sf__coro_set_exit(sf_coro *c, sf_coro *exit_to) { c->exit_to = exit_to; }
void sf__coro_guard_pages(int on) { g_guard = on ? SF_CORO_GUARD : 0; }
/* Stop filling the current group: it is unmapped with its last coroutine (now, if none). */
static void retire_slab(void)
{
    coro_slab *sl = g_slab;
    g_slab = NULL;
    if (!sl)
        return;
    if (sl->live == 0)
        slab_unmap(sl);
    else
        sl->slots = sl->used;
}

void sf__coro_group_stacks(int n)
{
    retire_slab();
    g_group = n > 1 ? n : 0;
}

static void overflow_report(sf_coro *c);


static void corrupt_report(const sf_coro *c);

/* c's magic word was overwritten. In a group of stacks that is the stack of the slot above
 * running into c's control block: name that coroutine. (Its group is found by address, in
 * the heap list: c's own fields, slab included, may be what was overwritten.) */
__attribute__((noinline, cold)) static void magic_broken(sf_coro *c)
{
    coro_slab *sl = slab_of((uintptr_t)c);
    if (sl) {
        char *next = (char *)c + sl->slot_size;
        if (next < sl->map + sl->guard + (size_t)sl->used * sl->slot_size)
            overflow_report((sf_coro *)(void *)next);
    }
    corrupt_report(c);
}

/* Grouped stacks: the canary, the lowest cache line of `from`'s stack, must still be all
 * zero, and its stack pointer inside its stack, when it switches out. The canary is never
 * written: until something overflows into it, its page is the kernel's shared zero page
 * (no memory per coroutine, and always in cache). */
static inline void check_canary(sf_coro *from)
{
    if (__builtin_expect(from->canary != NULL, 0)) {
        const uint64_t *w = from->canary;
        char *sp = (char *)__builtin_frame_address(0);
        if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0 ||
            sp < from->stack_lo + 64 || sp > from->stack_hi)
            overflow_report(from);
    }
}
size_t sf__coro_guard_size(void) { return g_guard; }

void sf__coro_stack(const sf_coro *c, void **lo, void **hi)
{
    if (lo)
        *lo = c->stack_lo;
    if (hi)
        *hi = c->stack_hi;
}

/* ---- switching -------------------------------------------------------------------- */

#ifdef SF_CORO_ASAN
static inline void asan_start(sf_coro *from, sf_coro *to, int from_dies)
{
    g_switch_from = from;
    __sanitizer_start_switch_fiber(from_dies ? NULL : &from->asan_fake, to->asan_bottom,
                                   to->asan_size);
}
/* Runs on the resumed stack. `fake` is what this coroutine saved when it switched out
 * (NULL on first entry). The thread context's bounds are unknown until a coroutine is
 * first entered from it: learn them from what ASan reports as the old stack. */
static inline void asan_finish(void *fake)
{
    const void *old_bottom = NULL;
    size_t old_size = 0;
    __sanitizer_finish_switch_fiber(fake, &old_bottom, &old_size);
    sf_coro *from = g_switch_from;
    if (from && !from->map && !from->finished) {
        from->asan_bottom = old_bottom;
        from->asan_size = old_size;
    }
}
#else
#define asan_start(from, to, dies) ((void)0)
#define asan_finish(fake) ((void)0)
#endif

#ifdef SF_CORO_UCONTEXT
static void raw_swap(sf_coro *from, sf_coro *to)
{
    swapcontext(&from->uc, &to->uc);
}
#else
void sf__coro_swap(void **save_sp, void *new_sp);
void sf__coro_trampoline(void);
#define raw_swap(from, to) sf__coro_swap(&(from)->sp, (to)->sp)
#endif

#ifdef SF_CORO_UCONTEXT
/* Default FP control state, as the assembly switch gives a new coroutine (without
 * fesetenv, which would pull in libm). */
static void uc_fp_default(void)
{
#if defined(__x86_64__)
    unsigned short cw = 0x037F;
    __asm__ volatile("fldcw %0" : : "m"(cw));
    __builtin_ia32_ldmxcsr(0x1F80);
#elif defined(__aarch64__)
    __builtin_aarch64_set_fpcr(0);
#endif
}
#endif

/* Called from the trampoline on the new coroutine's stack; never returns. */
__attribute__((visibility("hidden"), noreturn, used)) void sf__coro_entry(sf_coro *c);
void sf__coro_entry(sf_coro *c)
{
    asan_finish(NULL);
#ifdef SF_CORO_UCONTEXT
    uc_fp_default(); /* getcontext captured the creator's FP env: start clean */
#endif
    errno = 0;
    c->fn(c->arg);
    c->finished = 1;
    sf_coro *to = c->exit_to ? c->exit_to : sf__coro_thread();
    check_canary(c); /* its last task may have overflowed */
    if (g_slabs && to->magic != magic_of(to))
        magic_broken(to);
    g_current = to;
    asan_start(c, to, 1);
    raw_swap(c, to);
    abort(); /* a finished coroutine was resumed */
}

#ifdef SF_CORO_UCONTEXT
static void uc_entry(void) { sf__coro_entry(g_current); }

/* Own function: getcontext "returns twice", which upsets -Wclobbered in the caller. */
__attribute__((noinline)) static int uc_init(sf_coro *c)
{
    if (getcontext(&c->uc) != 0)
        return -1;
    c->uc.uc_stack.ss_sp = c->stack_lo;
    c->uc.uc_stack.ss_size = (size_t)(c->stack_hi - c->stack_lo);
    c->uc.uc_link = NULL;
    makecontext(&c->uc, uc_entry, 0);
    return 0;
}
#endif

void sf__coro_prefetch_head(const sf_coro *c)
{
    __builtin_prefetch(c, 1);
    __builtin_prefetch(&c->magic, 0); /* grouped stacks check it (never faults) */
}

void sf__coro_prefetch_stack(const sf_coro *c)
{
#ifndef SF_CORO_UCONTEXT
    /* the registers it restores and the frames it returns through (above the saved
     * stack pointer), and the frames of the calls it makes next (below it) */
    const char *sp = c->sp;
    for (int i = -16; i < 16; i++) __builtin_prefetch(sp + 64 * i, 1);
#else
    (void)c;
#endif
}

void sf__coro_switch(sf_coro *from, sf_coro *to)
{
    if (from == to)
        return;
#ifndef SF_CORO_UCONTEXT
    /* Prefetch by history. With thousands of ranks every switch lands on a cold stack
     * page (a TLB and cache miss). Schedulers are mostly round robin, so the switch
     * after next (to -> y -> w) likely goes where it went last time: to->next2, whose
     * stack top then sat at to->next2_sp. Two switches of lead time hide the miss.
     * Only hints are read (fields of `to`, which the switch reads anyway); prefetches
     * never fault, so stale hints to destroyed coroutines are harmless. */
    from->next = to;
    from->next_sp = to->sp;
    from->next2 = to->next;
    from->next2_sp = to->next_sp;
    __builtin_prefetch(to->next2, 1);
    __builtin_prefetch(to->next2_sp, 1);
    __builtin_prefetch((char *)to->next2_sp + 64, 1);
    __builtin_prefetch((char *)to->next2_sp + 128, 1);
#endif
    check_canary(from);
    /* with grouped stacks (g_slabs: a global, not a field an overflow could clear) */
    if (__builtin_expect(g_slabs != NULL, 0) && to->magic != magic_of(to))
        magic_broken(to); /* a stack ran into `to`'s control block */
    int *err = &errno; /* one __errno_location() call for both sides */
    from->saved_errno = *err;
    g_current = to;
    asan_start(from, to, 0);
    raw_swap(from, to);
#ifdef SF_CORO_ASAN
    asan_finish(from->asan_fake);
#endif
    *err = from->saved_errno;
}

/* ---- creation / destruction ------------------------------------------------------- */

int sf__coro_create(sf_coro **out, sf_coro_fn fn, void *arg, size_t stack_size,
                    const char *name, sf_coro *exit_to)
{
    *out = NULL;
    size_t pg = page_size();
    sf__coro_thread();
    if (!stack_size)
        stack_size = SF_CORO_DEFAULT_STACK;
    if (g_guard > SIZE_MAX / 4)
        return SF_ENOMEM;
    if (stack_size > SIZE_MAX / 4)
        return SF_ENOMEM;
    stack_size = (stack_size + pg - 1) & ~(pg - 1);
    size_t guard = (g_guard + pg - 1) & ~(pg - 1);
    /* The control block lives at the top of the mapping, in the same page as the hot
     * top of the stack: one TLB entry and adjacent cache lines per switch target. The
     * extra page keeps the usable stack >= the requested size. */
    size_t hdr = (sizeof(sf_coro) + 63) & ~(size_t)63;
    size_t extra = (hdr + pg - 1) & ~(pg - 1);
    size_t map_size = guard + stack_size + extra;

    char *map;
    coro_slab *slab = NULL;
    if (g_group) {
        /* a slot of the current group mapping (a new one when it is full or sized for
         * other stacks); the group's guard region sits below its first slot */
        size_t slot = stack_size + extra;
        if (!g_slab || g_slab->used == g_slab->slots || g_slab->slot_size != slot) {
            retire_slab();
            g_slab = calloc(1, sizeof *g_slab);
            if (!g_slab)
                return SF_ENOMEM;
            size_t gsize = guard + (size_t)g_group * slot;
            char *gm = mmap(NULL, gsize, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (gm == MAP_FAILED || (guard && mprotect(gm, guard, PROT_NONE) != 0)) {
                int e = errno;
                if (gm != MAP_FAILED)
                    munmap(gm, gsize);
                free(g_slab);
                g_slab = NULL;
                return e == ENOMEM ? SF_ENOMEM : SF_ESYS;
            }
            *g_slab = (coro_slab){.map = gm, .map_size = gsize, .guard = guard,
                                  .slot_size = slot, .slots = g_group};
            slab_link(g_slab);
        }
        slab = g_slab;
        map = slab->map + slab->guard + (size_t)slab->used * slot;
        map_size = slot;
        slab->used++;
        slab->live++;
    } else {
        map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map == MAP_FAILED)
            return errno == ENOMEM ? SF_ENOMEM : SF_ESYS;
        if (guard && mprotect(map, guard, PROT_NONE) != 0) {
            int e = errno;
            munmap(map, map_size);
            return e == ENOMEM ? SF_ENOMEM : SF_ESYS;
        }
    }
#ifdef SF_CORO_ASAN
    /* Frames of coroutines that finished or were destroyed mid-way leave poisoned
     * shadow behind; a new mapping may reuse those addresses. */
    __asan_unpoison_memory_region(map, map_size);
#endif
    sf_coro *c = (sf_coro *)(void *)(map + map_size - hdr); /* zero-filled by mmap */
    c->map = map;
    c->map_size = map_size;
    c->guard_size = guard;
    c->stack_size = stack_size;
    c->stack_lo = map + guard;
    c->stack_hi = (char *)c;
    if (slab) {
        /* the group's first slot owns its guard region (for the SIGSEGV handler) */
        int first = map == slab->map + slab->guard;
        c->slab = slab;
        c->map = first ? slab->map : map;
        c->guard_size = first ? slab->guard : 0;
        c->stack_lo = map;
        c->canary = (uint64_t *)(void *)map; /* read only: see check_canary */
    }
    c->magic = magic_of(c);
    c->fn = fn;
    c->arg = arg;
    c->exit_to = exit_to;
    if (!name)
        name = "coroutine";
    size_t n = strlen(name);
    if (n >= sizeof c->name)
        n = sizeof c->name - 1;
    memcpy(c->name, name, n);
    c->name[n] = '\0';
#ifdef SF_CORO_VALGRIND
    c->vg_stack_id = VALGRIND_STACK_REGISTER(c->stack_lo, c->stack_hi);
#endif
#ifdef SF_CORO_ASAN
    c->asan_bottom = c->stack_lo;
    c->asan_size = (size_t)(c->stack_hi - c->stack_lo);
#endif

#ifdef SF_CORO_UCONTEXT
    if (uc_init(c) != 0) {
#ifdef SF_CORO_VALGRIND
        VALGRIND_STACK_DEREGISTER(c->vg_stack_id);
#endif
        if (slab) /* the slot stays unused; its group is freed with its other coroutines */
            slab->live--;
        else
            munmap(map, map_size);
        return SF_ESYS;
    }
#elif defined(__x86_64__)
    {
        /* Frame popped by sf__coro_swap, then `ret` into the trampoline with
         * rsp = top - 16 (16-byte aligned, as at a call site). Above it: a zero
         * word acting as the trampoline's (null) return address. */
        uintptr_t top = (uintptr_t)c->stack_hi & ~(uintptr_t)15;
        uint64_t *s = (uint64_t *)(top - 24); /* return-address slot */
        s[2] = 0;
        s[1] = 0;
        s[0] = (uint64_t)(uintptr_t)sf__coro_trampoline;
        s[-1] = 0;                     /* rbp */
        s[-2] = 0;                     /* rbx */
        s[-3] = (uint64_t)(uintptr_t)c; /* r12 */
        s[-4] = 0;                     /* r13 */
        s[-5] = 0;                     /* r14 */
        s[-6] = 0;                     /* r15 */
        s[-7] = 0x037Full << 32 | 0x1F80u; /* mxcsr (low), x87 cw (high) */
        c->sp = &s[-7];
    }
#elif defined(__aarch64__)
    {
        uintptr_t top = (uintptr_t)c->stack_hi & ~(uintptr_t)15;
        uint64_t *s = (uint64_t *)(top - 16 - 176);
        memset(s, 0, 176 + 16);
        s[0] = (uint64_t)(uintptr_t)c;                    /* x19 */
        s[11] = (uint64_t)(uintptr_t)sf__coro_trampoline; /* x30 */
        c->sp = s;                                        /* fpcr (s[20]) = 0 */
    }
#endif

    /* link into the live list */
    c->live_next = g_live;
    if (g_live)
        g_live->live_prev = c;
    g_live = c;
    *out = c;
    return SF_OK;
}

void sf__coro_destroy(sf_coro **cp)
{
    sf_coro *c = cp ? *cp : NULL;
    if (!c || c == &g_thread_coro)
        return;
    if (c->live_prev)
        c->live_prev->live_next = c->live_next;
    else
        g_live = c->live_next;
    if (c->live_next)
        c->live_next->live_prev = c->live_prev;
#ifdef SF_CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(c->vg_stack_id);
#endif
#ifdef SF_CORO_ASAN
    /* leave no stale stack poisoning for whatever gets mapped here next */
    if (c->slab)
        __asan_unpoison_memory_region((void *)c->canary, c->slab->slot_size);
    else
        __asan_unpoison_memory_region(c->map, c->map_size);
#endif
    coro_slab *slab = c->slab;
    if (!slab) {
        munmap(c->map, c->map_size); /* the control block goes with it */
    } else if (--slab->live == 0 && slab != g_slab) {
        /* the whole group is gone: its mapping too (the group being filled stays) */
        slab_unmap(slab);
    } else {
        /* give the slot's pages back; the next coroutine in it starts from zeroes */
        madvise((void *)c->canary, slab->slot_size, MADV_DONTNEED);
    }
    *cp = NULL;
}

/* ---- stack overflow handler ------------------------------------------------------- */

static sf_coro_overflow_hook g_hook;
static int g_exit_code;
static int g_handler_installed;
static struct sigaction g_old_segv, g_old_bus;

static int in_guard(const sf_coro *c, uintptr_t a)
{
    return c && c->guard_size && a >= (uintptr_t)c->map &&
           a < (uintptr_t)c->map + c->guard_size;
}

static void write_all(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(2, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

static void default_report(const char *name, size_t stack_size)
{
    char buf[256];
    size_t n = 0;
    const char *parts[] = {"sfmpi: stack overflow in ", name, " (stack "};
    for (size_t i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n < 160; p++)
            buf[n++] = *p;
    char num[24];
    size_t k = 0, v = stack_size / 1024;
    do {
        num[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        buf[n++] = num[--k];
    const char *tail = " KiB); raise it with --sf-stack-size\n";
    for (const char *p = tail; *p; p++)
        buf[n++] = *p;
    write_all(buf, n);
}

static void restore_action(int sig)
{
    const struct sigaction *old = sig == SIGBUS ? &g_old_bus : &g_old_segv;
    if ((old->sa_flags & SA_SIGINFO) || (old->sa_handler != SIG_IGN &&
                                         old->sa_handler != SIG_DFL)) {
        sigaction(sig, old, NULL); /* e.g. a sanitizer's handler: let it report */
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }
}

int sf__coro_in_guard(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    coro_slab *sl = slab_of(a);
    if (sl)
        return a < (uintptr_t)sl->map + sl->guard;
    if (g_slabs) /* the walk below could meet control blocks an overflow wrote */
        return 0;
    for (sf_coro *c = g_live; c; c = c->live_next)
        if (in_guard(c, a))
            return 1;
    return 0;
}

/* A grouped stack's canary was overwritten (or its stack pointer left the stack): report
 * as the guard region's fault does, and end the process. */
static void overflow_report(sf_coro *c)
{
    if (g_hook)
        g_hook(c->name, c->stack_size, c->arg);
    else
        default_report(c->name, c->stack_size);
    _exit(g_exit_code ? g_exit_code : 7);
}

/* A control block overwritten by something other than a neighbour's stack. */
static void corrupt_report(const sf_coro *c)
{
    static const char m1[] = "sfmpi: error: the control block of coroutine ";
    static const char m2[] = " was overwritten (memory corruption)\n";
    write_all(m1, sizeof m1 - 1);
    write_all(c == &g_thread_coro ? "thread" : "?", c == &g_thread_coro ? 6 : 1);
    write_all(m2, sizeof m2 - 1);
    _exit(g_exit_code ? g_exit_code : 7);
}

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    sf_coro *hit = NULL;
    /* a group's guard region is below its first stack, but any stack of the group can run
     * down into it, writing its neighbours' control blocks on the way: the one running did.
     * Looked up in the heap list of groups, not through the (maybe overwritten) blocks. */
    coro_slab *sl = g_current && g_current != &g_thread_coro ? slab_of(a) : NULL;
    if (sl && a < (uintptr_t)sl->map + sl->guard)
        hit = g_current;
    else if (!sl && in_guard(g_current, a))
        hit = g_current;
    for (sf_coro *c = g_live; !hit && !sl && !g_slabs && c; c = c->live_next)
        if (in_guard(c, a))
            hit = c;
    if (hit) {
        size_t sz = hit->stack_size;
        if (g_hook)
            g_hook(hit->name, sz, hit->arg);
        else
            default_report(hit->name, sz);
        _exit(g_exit_code);
    }
    /* Not ours: return with the previous/default action so the fault re-raises. */
    restore_action(sig);
    errno = saved;
}

int sf__coro_install_overflow_handler(sf_coro_overflow_hook hook, int exit_code)
{
    g_hook = hook;
    g_exit_code = exit_code;
    if (g_handler_installed)
        return SF_OK;

    size_t sz = 64u * 1024u;
    if ((size_t)SIGSTKSZ > sz)
        sz = (size_t)SIGSTKSZ;
    void *alt = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED)
        return errno == ENOMEM ? SF_ENOMEM : SF_ESYS;
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = alt;
    ss.ss_size = sz;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(alt, sz);
        return SF_ESYS;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = overflow_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &g_old_segv) != 0 || sigaction(SIGBUS, &sa, &g_old_bus) != 0)
        return SF_ESYS;
    g_handler_installed = 1;
    return SF_OK;
}
