/* Unit tests for runtime/coro.{h,c}: plain C, exits non-zero on the first failure. */
#define TEST_ALL_FATAL 1 /* a coroutine in an unexpected state: do not go on */
#include "runtime/coro.h"
#include "sfmpi/sf.h"
#include "tests/check.h"

#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static size_t page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* The usable stack is at least the requested size rounded up to pages (the control
 * block may share the top page, so it can be up to a page more). */
static int stack_span_ok(const sf_coro *c, size_t requested)
{
    void *lo, *hi;
    sf__coro_stack(c, &lo, &hi);
    size_t want = (requested + page() - 1) / page() * page();
    size_t got = (size_t)((char *)hi - (char *)lo);
    return got >= want && got < want + page() && ((uintptr_t)hi & 15) == 0;
}

/* ---- ping-pong ------------------------------------------------------------------- */
static struct {
    sf_coro *ping, *pong;
    long mailbox;
    int done;
    long sum;
} pp;

static void ping_fn(void *arg)
{
    long n = (long)(intptr_t)arg;
    ASSERT_EQ(sf__coro_current(), pp.ping);
    for (long i = 0; i < n; i++) {
        pp.mailbox = i;
        sf__coro_switch(pp.ping, pp.pong);
        ASSERT_EQ(pp.mailbox, 2 * i + 1); /* pong's reply */
        pp.sum += pp.mailbox;
    }
    pp.done = 1; /* then finish: exit_to is pong */
}

static void pong_fn(void *arg)
{
    (void)arg;
    ASSERT_EQ(sf__coro_current(), pp.pong);
    while (!pp.done) {
        pp.mailbox = 2 * pp.mailbox + 1;
        sf__coro_switch(pp.pong, pp.ping);
    }
    ASSERT(sf__coro_finished(pp.ping));
}

static void test_pingpong(size_t stack)
{
    memset(&pp, 0, sizeof pp);
    sf_coro *thr = sf__coro_thread();
    ASSERT_EQ(sf__coro_current(), thr);
    ASSERT_OK(sf__coro_create(&pp.pong, pong_fn, NULL, stack, "pong", thr));
    ASSERT_OK(sf__coro_create(&pp.ping, ping_fn, (void *)(intptr_t)1000, stack, "ping",
                              pp.pong));
    ASSERT_STR_EQ(sf__coro_name(pp.ping), "ping");
    if (ASSERT(!sf__coro_finished(pp.ping))) ASSERT(!sf__coro_finished(pp.pong));
    sf__coro_switch(thr, pp.ping);
    ASSERT_EQ(sf__coro_current(), thr);
    if (ASSERT(sf__coro_finished(pp.ping))) ASSERT(sf__coro_finished(pp.pong));
    ASSERT_EQ(pp.sum, 1000L * 1000L); /* sum of 2i+1 for i < 1000 */
    sf__coro_destroy(&pp.ping);
    sf__coro_destroy(&pp.pong);
    ASSERT_NULL(pp.ping);
    ASSERT_NULL(pp.pong);
}

/* ---- ring of 1000 ---------------------------------------------------------------- */
#define RING_N 1000
#define RING_ROUNDS 5
static sf_coro *ring[RING_N];
static int ring_log[RING_N * RING_ROUNDS];
static int ring_pos;
static long ring_counter;

static void ring_fn(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < RING_ROUNDS; r++) {
        ASSERT_EQ(sf__coro_current(), ring[id]);
        ASSERT_LT(ring_pos, RING_N * RING_ROUNDS);
        ring_log[ring_pos++] = id;
        ring_counter++;
        if (r + 1 < RING_ROUNDS)
            sf__coro_switch(ring[id], ring[(id + 1) % RING_N]);
    }
    /* finishing switches to exit_to: the next coroutine, the last one to the thread */
}

/* RING_N coroutines, the last one created first; each finishes into the next. */
static void make_ring(const char *prefix)
{
    sf_coro *thr = sf__coro_thread();
    ring_pos = 0;
    ring_counter = 0;
    for (int i = RING_N - 1; i >= 0; i--) {
        char name[32];
        snprintf(name, sizeof name, "%s-%d", prefix, i);
        ASSERT_OK(sf__coro_create(&ring[i], ring_fn, (void *)(intptr_t)i, 32 * 1024, name,
                                  i == RING_N - 1 ? thr : ring[i + 1]));
    }
}

static void test_ring(void)
{
    sf_coro *thr = sf__coro_thread();
    make_ring("ring");
    sf__coro_switch(thr, ring[0]);
    ASSERT_EQ(ring_counter, (long)RING_N * RING_ROUNDS);
    ASSERT_EQ(ring_pos, RING_N * RING_ROUNDS);
    for (int i = 0; i < RING_N * RING_ROUNDS; i++)
        ASSERT_EQ(ring_log[i], i % RING_N);
    for (int i = 0; i < RING_N; i++) {
        ASSERT(sf__coro_finished(ring[i]));
        sf__coro_destroy(&ring[i]);
    }
}

/* ---- exit_to / set_exit, alignment, defaults ---------------------------------------- */
static int exit_order[4];
static int exit_n;
static sf_coro *ex_a, *ex_b;

__attribute__((noinline)) static int aligned_ok(void)
{
    _Alignas(16) volatile char buf[16];
    buf[0] = 0;
    uintptr_t a = (uintptr_t)buf;
    __asm__ volatile("" : "+r"(a)); /* hide the address from the optimizer */
    return (a & 15) == 0;
}

static void ex_a_fn(void *arg)
{
    (void)arg;
    ASSERT(aligned_ok());
    exit_order[exit_n++] = 1;
}

static void ex_b_fn(void *arg)
{
    (void)arg;
    ASSERT(aligned_ok());
    ASSERT(sf__coro_finished(ex_a));
    exit_order[exit_n++] = 2;
}

static void test_exit_to(void)
{
    sf_coro *thr = sf__coro_thread();
    exit_n = 0;
    ASSERT_OK(sf__coro_create(&ex_b, ex_b_fn, NULL, 0, "b", thr));
    ASSERT_OK(sf__coro_create(&ex_a, ex_a_fn, NULL, 10000, "a", thr));
    sf__coro_set_exit(ex_a, ex_b); /* a finishes into b, which finishes into the thread */
    ASSERT(stack_span_ok(ex_b, 256 * 1024)); /* default size */
    ASSERT(stack_span_ok(ex_a, 10000));
    sf__coro_switch(thr, ex_a);
    if (ASSERT_EQ(exit_n, 2) && ASSERT_EQ(exit_order[0], 1)) ASSERT_EQ(exit_order[1], 2);
    if (ASSERT(sf__coro_finished(ex_a))) ASSERT(sf__coro_finished(ex_b));
    sf__coro_destroy(&ex_a);
    sf__coro_destroy(&ex_b);

    /* destroying a never-started coroutine is allowed */
    sf_coro *c;
    ASSERT_OK(sf__coro_create(&c, ex_a_fn, NULL, 0, "never", thr));
    sf__coro_destroy(&c);
    ASSERT_NULL(c);
}

/* ---- callee-saved registers and doubles across switches ---------------------------- */
struct regs_arg {
    sf_coro *self, *other;
    uint64_t seed;
    uint64_t out_i;
    double out_d;
};

static void regs_fn(void *p)
{
    struct regs_arg *a = p;
    uint64_t r1 = a->seed, r2 = a->seed * 3 + 1, r3 = a->seed ^ 0x9e3779b97f4a7c15ull,
             r4 = a->seed << 7, r5 = ~a->seed, r6 = a->seed * a->seed;
    double d1 = (double)a->seed * 0.5, d2 = 1.0 / (double)(a->seed + 1), d3 = 3.25,
           d4 = -(double)a->seed;
    for (int i = 0; i < 200; i++) {
        r1 = r1 * 6364136223846793005ull + r2;
        r2 ^= r1 >> 7;
        r3 += r2 * r5;
        r4 = ((r4 ^ r3) << 13) | ((r4 ^ r3) >> 51);
        r5 += r4 | 1;
        r6 = r6 * 31 + r1;
        d1 = d1 * 1.0001 + d2;
        d2 = d2 * 0.999 - d3 * 0.5;
        d3 = d3 + d4 * 0.25;
        d4 = d4 * 0.5 + 1.0 / (i + 1);
        if (a->other)
            sf__coro_switch(a->self, a->other);
    }
    a->out_i = r1 ^ (r2 * 3) ^ (r3 * 5) ^ (r4 * 7) ^ (r5 * 11) ^ (r6 * 13);
    a->out_d = d1 + 2 * d2 + 3 * d3 + 4 * d4;
}

#if defined(__x86_64__)
/* uint64_t probe_callee_saved(sf_coro *from, sf_coro *to, uint64_t seed):
 * loads rbx rbp r12-r15 with seed+1..seed+6, calls sf__coro_switch(from, to) and
 * returns 0 iff all six registers still hold those values afterwards. */
uint64_t probe_callee_saved(sf_coro *from, sf_coro *to, uint64_t seed);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl probe_callee_saved\n.hidden probe_callee_saved\n.type probe_callee_saved, %function\n"
        "probe_callee_saved:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  movq %rdx, (%rsp)\n"
        "  leaq 1(%rdx), %rbx\n  leaq 2(%rdx), %rbp\n  leaq 3(%rdx), %r12\n"
        "  leaq 4(%rdx), %r13\n  leaq 5(%rdx), %r14\n  leaq 6(%rdx), %r15\n"
        "  call sf__coro_switch@PLT\n"
        "  movq (%rsp), %rdx\n"
        "  xorl %eax, %eax\n"
        "  leaq 1(%rdx), %rcx\n  xorq %rbx, %rcx\n  orq %rcx, %rax\n"
        "  leaq 2(%rdx), %rcx\n  xorq %rbp, %rcx\n  orq %rcx, %rax\n"
        "  leaq 3(%rdx), %rcx\n  xorq %r12, %rcx\n  orq %rcx, %rax\n"
        "  leaq 4(%rdx), %rcx\n  xorq %r13, %rcx\n  orq %rcx, %rax\n"
        "  leaq 5(%rdx), %rcx\n  xorq %r14, %rcx\n  orq %rcx, %rax\n"
        "  leaq 6(%rdx), %rcx\n  xorq %r15, %rcx\n  orq %rcx, %rax\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n");
#elif defined(__aarch64__)
/* Same probe for AArch64: x19-x28 = seed+1..seed+10, d8-d15 = bits seed+11..seed+18. */
uint64_t probe_callee_saved(sf_coro *from, sf_coro *to, uint64_t seed);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl probe_callee_saved\n.hidden probe_callee_saved\n.type probe_callee_saved, %function\n"
        "probe_callee_saved:\n"
        "  stp x29, x30, [sp, #-176]!\n  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n  stp x27, x28, [sp, #80]\n  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n  stp d14, d15, [sp, #144]\n"
        "  str x2, [sp, #160]\n"
        "  add x19, x2, #1\n"
        "  add x20, x2, #2\n"
        "  add x21, x2, #3\n"
        "  add x22, x2, #4\n"
        "  add x23, x2, #5\n"
        "  add x24, x2, #6\n"
        "  add x25, x2, #7\n"
        "  add x26, x2, #8\n"
        "  add x27, x2, #9\n"
        "  add x28, x2, #10\n"
        "  add x9, x2, #11\n  fmov d8, x9\n"
        "  add x9, x2, #12\n  fmov d9, x9\n"
        "  add x9, x2, #13\n  fmov d10, x9\n"
        "  add x9, x2, #14\n  fmov d11, x9\n"
        "  add x9, x2, #15\n  fmov d12, x9\n"
        "  add x9, x2, #16\n  fmov d13, x9\n"
        "  add x9, x2, #17\n  fmov d14, x9\n"
        "  add x9, x2, #18\n  fmov d15, x9\n"
        "  bl sf__coro_switch\n"
        "  ldr x2, [sp, #160]\n  mov x0, #0\n"
        "  add x9, x2, #1\n  eor x9, x9, x19\n  orr x0, x0, x9\n"
        "  add x9, x2, #2\n  eor x9, x9, x20\n  orr x0, x0, x9\n"
        "  add x9, x2, #3\n  eor x9, x9, x21\n  orr x0, x0, x9\n"
        "  add x9, x2, #4\n  eor x9, x9, x22\n  orr x0, x0, x9\n"
        "  add x9, x2, #5\n  eor x9, x9, x23\n  orr x0, x0, x9\n"
        "  add x9, x2, #6\n  eor x9, x9, x24\n  orr x0, x0, x9\n"
        "  add x9, x2, #7\n  eor x9, x9, x25\n  orr x0, x0, x9\n"
        "  add x9, x2, #8\n  eor x9, x9, x26\n  orr x0, x0, x9\n"
        "  add x9, x2, #9\n  eor x9, x9, x27\n  orr x0, x0, x9\n"
        "  add x9, x2, #10\n  eor x9, x9, x28\n  orr x0, x0, x9\n"
        "  add x9, x2, #11\n  fmov x10, d8\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #12\n  fmov x10, d9\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #13\n  fmov x10, d10\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #14\n  fmov x10, d11\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #15\n  fmov x10, d12\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #16\n  fmov x10, d13\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #17\n  fmov x10, d14\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #18\n  fmov x10, d15\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n  ldp x27, x28, [sp, #80]\n  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n  ret\n");
#endif

#if defined(__x86_64__) || defined(__aarch64__)
static sf_coro *pr_a, *pr_b;
static void probe_fn(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    sf_coro *self = seed == 100 ? pr_a : pr_b, *other = seed == 100 ? pr_b : pr_a;
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(probe_callee_saved(self, other, seed + (uint64_t)i * 1000), 0);
}

static void test_callee_saved_asm(void)
{
    sf_coro *thr = sf__coro_thread();
    ASSERT_OK(sf__coro_create(&pr_b, probe_fn, (void *)(uintptr_t)200, 0, "probe-b", thr));
    ASSERT_OK(sf__coro_create(&pr_a, probe_fn, (void *)(uintptr_t)100, 0, "probe-a", pr_b));
    ASSERT_EQ(probe_callee_saved(thr, pr_a, 0x5000), 0); /* the thread's registers too */
    if (ASSERT(sf__coro_finished(pr_a))) ASSERT(sf__coro_finished(pr_b));
    sf__coro_destroy(&pr_a);
    sf__coro_destroy(&pr_b);
}
#else
static void test_callee_saved_asm(void) {}
#endif

/* White-box check of the assembly switch alone (the C wrapper may itself save some
 * callee-saved registers, which would hide an omission in the assembly): a raw
 * context on a static stack, built with the frame layout documented in the .S file,
 * clobbers every callee-saved register and switches straight back. */
#if !defined(SF_CORO_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))
void sf__coro_swap(void **save_sp, void *new_sp);
uint64_t raw_probe(void **save_sp, void *new_sp, uint64_t seed);
void *raw_main_sp, *raw_co_sp;
static _Alignas(64) unsigned char raw_stack[16384];
#if defined(__x86_64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl raw_co_entry\n.hidden raw_co_entry\n.type raw_co_entry, %function\n"
        "raw_co_entry:\n" /* rsp is 16-byte aligned here */
        "  movq $-1, %rbx\n  movq $-2, %rbp\n  movq $-3, %r12\n  movq $-4, %r13\n"
        "  movq $-5, %r14\n  movq $-6, %r15\n"
        "  leaq raw_co_sp(%rip), %rdi\n  movq raw_main_sp(%rip), %rsi\n"
        "  call sf__coro_swap@PLT\n"
        "  ud2\n"
        ".p2align 4\n"
        ".globl raw_probe\n.hidden raw_probe\n.type raw_probe, %function\n"
        "raw_probe:\n" /* like probe_callee_saved, but calls sf__coro_swap itself */
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n"
        "  pushq %r15\n  subq $8, %rsp\n  movq %rdx, (%rsp)\n"
        "  leaq 1(%rdx), %rbx\n  leaq 2(%rdx), %rbp\n  leaq 3(%rdx), %r12\n"
        "  leaq 4(%rdx), %r13\n  leaq 5(%rdx), %r14\n  leaq 6(%rdx), %r15\n"
        "  call sf__coro_swap@PLT\n"
        "  movq (%rsp), %rdx\n  xorl %eax, %eax\n"
        "  leaq 1(%rdx), %rcx\n  xorq %rbx, %rcx\n  orq %rcx, %rax\n"
        "  leaq 2(%rdx), %rcx\n  xorq %rbp, %rcx\n  orq %rcx, %rax\n"
        "  leaq 3(%rdx), %rcx\n  xorq %r12, %rcx\n  orq %rcx, %rax\n"
        "  leaq 4(%rdx), %rcx\n  xorq %r13, %rcx\n  orq %rcx, %rax\n"
        "  leaq 5(%rdx), %rcx\n  xorq %r14, %rcx\n  orq %rcx, %rax\n"
        "  leaq 6(%rdx), %rcx\n  xorq %r15, %rcx\n  orq %rcx, %rax\n"
        "  addq $8, %rsp\n  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n"
        "  popq %rbx\n  popq %rbp\n  ret\n");
void raw_co_entry(void);

static void *raw_frame(void)
{
    /* [0] mxcsr|x87cw [8] r15 r14 r13 r12 rbx rbp [56] return address */
    uint64_t *f = (uint64_t *)(void *)(raw_stack + sizeof raw_stack - 64 - 8);
    memset(f, 0, 64);
    f[0] = 0x037Full << 32 | 0x1F80u;
    f[7] = (uint64_t)(uintptr_t)raw_co_entry;
    return f;
}
#else
__asm__(".text\n"
        ".p2align 4\n"
        ".globl raw_co_entry\n.hidden raw_co_entry\n.type raw_co_entry, %function\n"
        "raw_co_entry:\n"
        "  mov x19, #-1\n  mov x20, #-2\n  mov x21, #-3\n  mov x22, #-4\n"
        "  mov x23, #-5\n  mov x24, #-6\n  mov x25, #-7\n  mov x26, #-8\n"
        "  mov x27, #-9\n  mov x28, #-10\n  mov x29, #-11\n"
        "  fmov d8, x19\n  fmov d9, x20\n  fmov d10, x21\n  fmov d11, x22\n"
        "  fmov d12, x23\n  fmov d13, x24\n  fmov d14, x25\n  fmov d15, x26\n"
        "  adrp x0, raw_co_sp\n  add x0, x0, :lo12:raw_co_sp\n"
        "  adrp x1, raw_main_sp\n  ldr x1, [x1, :lo12:raw_main_sp]\n"
        "  bl sf__coro_swap\n"
        "  brk #0\n"
        ".p2align 4\n"
        ".globl raw_probe\n.hidden raw_probe\n.type raw_probe, %function\n"
        "raw_probe:\n"
        "  stp x29, x30, [sp, #-176]!\n  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n  stp x27, x28, [sp, #80]\n  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n  stp d14, d15, [sp, #144]\n"
        "  str x2, [sp, #160]\n"
        "  add x19, x2, #1\n  add x20, x2, #2\n  add x21, x2, #3\n  add x22, x2, #4\n"
        "  add x23, x2, #5\n  add x24, x2, #6\n  add x25, x2, #7\n  add x26, x2, #8\n"
        "  add x27, x2, #9\n  add x28, x2, #10\n"
        "  add x9, x2, #11\n  fmov d8, x9\n  add x9, x2, #12\n  fmov d9, x9\n"
        "  add x9, x2, #13\n  fmov d10, x9\n  add x9, x2, #14\n  fmov d11, x9\n"
        "  add x9, x2, #15\n  fmov d12, x9\n  add x9, x2, #16\n  fmov d13, x9\n"
        "  add x9, x2, #17\n  fmov d14, x9\n  add x9, x2, #18\n  fmov d15, x9\n"
        "  bl sf__coro_swap\n"
        "  ldr x2, [sp, #160]\n  mov x0, #0\n"
        "  add x9, x2, #1\n  eor x9, x9, x19\n  orr x0, x0, x9\n"
        "  add x9, x2, #2\n  eor x9, x9, x20\n  orr x0, x0, x9\n"
        "  add x9, x2, #3\n  eor x9, x9, x21\n  orr x0, x0, x9\n"
        "  add x9, x2, #4\n  eor x9, x9, x22\n  orr x0, x0, x9\n"
        "  add x9, x2, #5\n  eor x9, x9, x23\n  orr x0, x0, x9\n"
        "  add x9, x2, #6\n  eor x9, x9, x24\n  orr x0, x0, x9\n"
        "  add x9, x2, #7\n  eor x9, x9, x25\n  orr x0, x0, x9\n"
        "  add x9, x2, #8\n  eor x9, x9, x26\n  orr x0, x0, x9\n"
        "  add x9, x2, #9\n  eor x9, x9, x27\n  orr x0, x0, x9\n"
        "  add x9, x2, #10\n  eor x9, x9, x28\n  orr x0, x0, x9\n"
        "  add x9, x2, #11\n  fmov x10, d8\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #12\n  fmov x10, d9\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #13\n  fmov x10, d10\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #14\n  fmov x10, d11\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #15\n  fmov x10, d12\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #16\n  fmov x10, d13\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #17\n  fmov x10, d14\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  add x9, x2, #18\n  fmov x10, d15\n  eor x9, x9, x10\n  orr x0, x0, x9\n"
        "  mov x9, sp\n  eor x9, x9, x29\n  orr x0, x0, x9\n" /* fp kept too */
        "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n  ldp x27, x28, [sp, #80]\n  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n  ret\n");
void raw_co_entry(void);

static void *raw_frame(void)
{
    /* x19..x28 [0..72], x29 [80], x30 [88], d8..d15 [96..152], fpcr [160] */
    uint64_t *f = (uint64_t *)(void *)(raw_stack + sizeof raw_stack - 176 - 16);
    memset(f, 0, 176);
    f[11] = (uint64_t)(uintptr_t)raw_co_entry;
    return f;
}
#endif

static void test_raw_swap(void)
{
#ifdef RUNNING_ON_VALGRIND
    unsigned id = 0;
    if (RUNNING_ON_VALGRIND)
        id = VALGRIND_STACK_REGISTER(raw_stack, raw_stack + sizeof raw_stack);
#endif
    for (uint64_t seed = 1; seed < 4; seed++) {
        raw_co_sp = raw_frame();
        ASSERT_EQ(raw_probe(&raw_main_sp, raw_co_sp, seed * 0x1000), 0);
    }
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND)
        VALGRIND_STACK_DEREGISTER(id);
#endif
}
#else
static void test_raw_swap(void) {}
#endif

static void test_registers(void)
{
    test_callee_saved_asm();
    test_raw_swap();

    sf_coro *thr = sf__coro_thread();
    struct regs_arg ref1 = {0}, ref2 = {0}, a1 = {0}, a2 = {0};
    ref1.seed = a1.seed = 12345;
    ref2.seed = a2.seed = 987654321;
    regs_fn(&ref1); /* reference: no switches */
    regs_fn(&ref2);
    ASSERT_NE(ref1.out_i, ref2.out_i);

    ASSERT_OK(sf__coro_create(&a2.self, regs_fn, &a2, 0, "regs2", thr));
    ASSERT_OK(sf__coro_create(&a1.self, regs_fn, &a1, 0, "regs1", a2.self));
    a1.other = a2.self;
    a2.other = a1.self;
    /* values live in the thread across the switch as well */
    uint64_t t1 = ref1.out_i * 7, t2 = ref2.out_i + 3;
    double td = ref1.out_d * 1.5;
    sf__coro_switch(thr, a1.self);
    if (ASSERT_EQ(t1, ref1.out_i * 7) && ASSERT_EQ(t2, ref2.out_i + 3)) ASSERT_EQ(td, ref1.out_d * 1.5);
    if (ASSERT(sf__coro_finished(a1.self))) ASSERT(sf__coro_finished(a2.self));
    ASSERT_EQ(a1.out_i, ref1.out_i);
    ASSERT_EQ(a2.out_i, ref2.out_i);
    ASSERT_EQ(a1.out_d, ref1.out_d);
    ASSERT_EQ(a2.out_d, ref2.out_d);
    sf__coro_destroy(&a1.self);
    sf__coro_destroy(&a2.self);
}

/* ---- rounding mode (MXCSR / x87 cw / FPCR) per coroutine ---------------------------- */
static sf_coro *fe_a, *fe_b;

/* Valgrind does not emulate non-default SSE rounding, so the arithmetic checks (not the
 * mode checks) are skipped under it. */
#define ARITH(cond) ASSERT(RUNNING_ON_VALGRIND || (cond))

static double divide(double x, double y)
{
    volatile double vx = x, vy = y;
    return vx / vy;
}

static unsigned mxcsr_rc(void)
{
#if defined(__x86_64__)
    return _mm_getcsr() & 0x6000u;
#else
    return 0;
#endif
}

static void fe_a_fn(void *arg)
{
    (void)arg;
    ASSERT_EQ(fegetround(), FE_TONEAREST); /* a fresh coroutine starts with the default */
    ASSERT_EQ(fesetround(FE_UPWARD), 0);
    ASSERT_EQ(fegetround(), FE_UPWARD);
    sf__coro_switch(fe_a, fe_b);
    ASSERT_EQ(fegetround(), FE_UPWARD);
#if defined(__x86_64__)
    ASSERT_EQ(mxcsr_rc(), 0x4000u);
#endif
    ARITH(divide(1.0, 3.0) > 0x1.5555555555555p-2); /* rounded up */
    ASSERT_EQ(fesetround(FE_TONEAREST), 0);
    sf__coro_switch(fe_a, fe_b);
    ASSERT_EQ(fegetround(), FE_TONEAREST);
}

static void fe_b_fn(void *arg)
{
    (void)arg;
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    ASSERT_EQ(mxcsr_rc(), 0);
    ARITH(divide(1.0, 3.0) == 0x1.5555555555555p-2); /* round to nearest */
    ARITH(divide(1.0, 10.0) == 0x1.999999999999ap-4);
    ASSERT_EQ(fesetround(FE_DOWNWARD), 0);
    sf__coro_switch(fe_b, fe_a);
    ASSERT_EQ(fegetround(), FE_DOWNWARD);
#if defined(__x86_64__)
    ASSERT_EQ(mxcsr_rc(), 0x2000u);
#endif
    ARITH(divide(1.0, 10.0) == 0x1.9999999999999p-4); /* rounded down */
    ASSERT_EQ(fesetround(FE_TONEAREST), 0);
}

static void test_rounding(void)
{
    sf_coro *thr = sf__coro_thread();
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    ASSERT_OK(sf__coro_create(&fe_b, fe_b_fn, NULL, 0, "fe-b", thr));
    ASSERT_OK(sf__coro_create(&fe_a, fe_a_fn, NULL, 0, "fe-a", fe_b));
    sf__coro_switch(thr, fe_a); /* a -> b -> a -> b(finish) -> thread */
    ASSERT(sf__coro_finished(fe_b));
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    ASSERT_EQ(mxcsr_rc(), 0);
    ARITH(divide(1.0, 10.0) == 0x1.999999999999ap-4);
    ARITH(divide(1.0, 3.0) == 0x1.5555555555555p-2);
    /* a is suspended after its second switch to b; let it finish */
    sf__coro_set_exit(fe_a, thr);
    sf__coro_switch(thr, fe_a);
    ASSERT(sf__coro_finished(fe_a));
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    sf__coro_destroy(&fe_a);
    sf__coro_destroy(&fe_b);

    /* the thread's own mode is also kept while coroutines run with another one */
    ASSERT_OK(sf__coro_create(&fe_b, fe_b_fn, NULL, 0, "fe-b2", thr));
    ASSERT_OK(sf__coro_create(&fe_a, fe_a_fn, NULL, 0, "fe-a2", fe_b));
    ASSERT_EQ(fesetround(FE_TOWARDZERO), 0);
    sf__coro_switch(thr, fe_a);
    ASSERT_EQ(fegetround(), FE_TOWARDZERO);
#if defined(__x86_64__)
    ASSERT_EQ(mxcsr_rc(), 0x6000u);
#endif
    sf__coro_set_exit(fe_a, thr);
    sf__coro_switch(thr, fe_a);
    ASSERT_EQ(fegetround(), FE_TOWARDZERO);
    ASSERT_EQ(fesetround(FE_TONEAREST), 0);
    sf__coro_destroy(&fe_a);
    sf__coro_destroy(&fe_b);
}

/* ---- errno per coroutine ----------------------------------------------------------- */
static sf_coro *er_a, *er_b;

static void er_a_fn(void *arg)
{
    (void)arg;
    errno = 11;
    sf__coro_switch(er_a, er_b);
    ASSERT_EQ(errno, 11);
    errno = 33;
    sf__coro_switch(er_a, er_b);
    ASSERT_EQ(errno, 33);
}

static void er_b_fn(void *arg)
{
    (void)arg;
    ASSERT_EQ(errno, 0); /* fresh coroutine */
    errno = 22;
    sf__coro_switch(er_b, er_a);
    ASSERT_EQ(errno, 22);
    errno = 44;
    sf__coro_switch(er_b, sf__coro_thread());
    ASSERT_EQ(errno, 44);
    sf__coro_switch(er_b, er_a);
}

static void test_errno(void)
{
    sf_coro *thr = sf__coro_thread();
    ASSERT_OK(sf__coro_create(&er_a, er_a_fn, NULL, 0, "er-a", thr));
    ASSERT_OK(sf__coro_create(&er_b, er_b_fn, NULL, 0, "er-b", thr));
    errno = 5;
    sf__coro_switch(thr, er_a); /* a=11 -> b=22 -> a=33 -> b=44 -> thread */
    ASSERT_EQ(errno, 5);
    errno = 6;
    sf__coro_switch(thr, er_b); /* b -> a, which finishes into the thread */
    ASSERT_EQ(errno, 6);
    if (ASSERT(sf__coro_finished(er_a))) ASSERT(!sf__coro_finished(er_b));
    sf__coro_switch(thr, er_b); /* b returns and finishes into the thread */
    ASSERT(sf__coro_finished(er_b));
    sf__coro_destroy(&er_a);
    sf__coro_destroy(&er_b);
}

/* ---- stack overflow -------------------------------------------------------------- */
/* Runs in the SIGSEGV handler: async-signal-safe, write(2) only. */
static void hook(const char *name, size_t stack_size, void *arg)
{
    (void)arg;
    char buf[160], num[24];
    size_t n = 0, k = 0;
    for (const char *p = "HOOK overflow in "; *p; p++)
        buf[n++] = *p;
    for (const char *p = name; *p && n < 100; p++)
        buf[n++] = *p;
    for (const char *p = " stack="; *p; p++)
        buf[n++] = *p;
    do {
        num[k++] = (char)('0' + stack_size % 10);
        stack_size /= 10;
    } while (stack_size);
    while (k)
        buf[n++] = num[--k];
    buf[n++] = '\n';
    if (write(2, buf, n) < 0)
        _exit(99);
}

__attribute__((noinline)) static int recurse(int n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    buf[511] = (char)n;
    if (n > 100000000)
        return 0;
    return recurse(n + 1) + buf[0] + buf[511];
}

static void overflow_fn(void *arg)
{
    (void)arg;
    int r = recurse(0);
    fprintf(stderr, "recursion returned %d?\n", r);
}

/* Run `child` in a forked process with fd 2 captured; returns the wait status. */
static int run_child(void (*child)(void *), void *arg, char *out, size_t out_size)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        child(arg);
        _exit(50);
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fds[0], out + n, out_size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == out_size - 1)
            break;
    }
    out[n] = '\0';
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

static void child_overflow(void *use_hook)
{
    if (sf__coro_install_overflow_handler(use_hook ? hook : NULL, 7) != SF_OK)
        _exit(40);
    sf_coro *c;
    if (sf__coro_create(&c, overflow_fn, NULL, 32 * 1024, use_hook ? "rank-3" : "rank-5",
                        sf__coro_thread()) != SF_OK)
        _exit(41);
    sf__coro_switch(sf__coro_thread(), c);
    _exit(42); /* not reached */
}

static void child_plain_segv(void *arg)
{
    (void)arg;
    if (sf__coro_install_overflow_handler(hook, 7) != SF_OK)
        _exit(40);
    /* A PROT_NONE page that is no coroutine's guard page: must crash normally. */
    char *p = mmap(NULL, page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(44);
    *(volatile char *)p = 1;
    _exit(43);
}

static void test_overflow(void)
{
    char out[4096];
    int st = run_child(child_overflow, (void *)1, out, sizeof out);
    if (ASSERT_MSG(WIFEXITED(st), "child status 0x%x, stderr:\n%s", st, out))
        ASSERT_EQ_MSG(WEXITSTATUS(st), 7, "child stderr:\n%s", out);
    ASSERT_STR_CONTAINS(out, "HOOK overflow in rank-3 stack=32768\n");

    st = run_child(child_overflow, NULL, out, sizeof out);
    if (ASSERT_MSG(WIFEXITED(st), "child status 0x%x, stderr:\n%s", st, out))
        ASSERT_EQ_MSG(WEXITSTATUS(st), 7, "child stderr:\n%s", out);
    ASSERT_STR_CONTAINS(out, "sfmpi: stack overflow in rank-5 (stack 32 KiB); raise it with "
                             "--sf-stack-size\n");

    /* Skipped under valgrind, which reports the deliberate crash as an error. */
    if (RUNNING_ON_VALGRIND)
        return;
    st = run_child(child_plain_segv, NULL, out, sizeof out);
    ASSERT_NULL(strstr(out, "HOOK"));
#if defined(__SANITIZE_ADDRESS__)
    ASSERT(!(WIFEXITED(st) && (WEXITSTATUS(st) == 7 || WEXITSTATUS(st) == 0 ||
                               WEXITSTATUS(st) == 43)));
#else
    if (ASSERT(WIFSIGNALED(st))) ASSERT_EQ(WTERMSIG(st), SIGSEGV);
#endif
}

/* ---- guard pages on / off --------------------------------------------------------- */
/* 1: addr is in a PROT_NONE mapping, 0: in another mapping, -2: not mapped; -1: no maps */
static int page_prot_none(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    char line[512];
    int res = 0;
    uintptr_t a = (uintptr_t)addr;
    res = -2; /* not mapped at all */
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
            res = strncmp(perms, "---", 3) == 0;
            break;
        }
    }
    fclose(f);
    return res;
}

static void test_guard_pages(void)
{
    sf_coro *thr = sf__coro_thread();
    sf_coro *c;
    void *lo, *hi;
    ASSERT_OK(sf__coro_create(&c, ex_a_fn, NULL, 64 * 1024, "guarded", thr));
    sf__coro_stack(c, &lo, &hi);
    ASSERT(stack_span_ok(c, 64 * 1024));
    ASSERT_EQ(page_prot_none((char *)lo - page()), 1);
    /* the whole guard region is PROT_NONE: a far-end write of a large frame lands in it */
    ASSERT_EQ(sf__coro_guard_size(), SF_CORO_GUARD);
    ASSERT_EQ(page_prot_none((char *)lo - SF_CORO_GUARD), 1);
    ASSERT_EQ(page_prot_none(lo), 0);
    sf__coro_destroy(&c);

    sf__coro_guard_pages(0);
    test_pingpong(16 * 1024);
    ASSERT_OK(sf__coro_create(&c, ex_a_fn, NULL, 64 * 1024, "unguarded", thr));
    sf__coro_stack(c, &lo, &hi);
    ASSERT(stack_span_ok(c, 64 * 1024));
    ASSERT_EQ(page_prot_none(lo), 0);
    /* no guard page of ours below (guards sit at the low end of each mapping, so a
     * PROT_NONE page right below a fresh mapping can only be its own guard) */
    ASSERT(page_prot_none((char *)lo - page()) != 1);
    exit_n = 0;
    sf__coro_switch(thr, c);
    if (ASSERT_EQ(exit_n, 1)) ASSERT(sf__coro_finished(c));
    sf__coro_destroy(&c);
    sf__coro_guard_pages(1);
}

/* ---- grouped stacks ----------------------------------------------------------------- */
static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* The ring again, with 1,000 coroutines in groups of 256: four group mappings (a guard
 * region and the stacks: at most 8 kernel mappings), the same schedule, and every
 * mapping gone again once the coroutines are destroyed and grouping is off. */
static void test_grouped_stacks(void)
{
    sf_coro *thr = sf__coro_thread();
    int maps0 = count_maps();
    sf__coro_group_stacks(256);
    make_ring("gring");
    int maps1 = count_maps();
    /* one per coroutine would be 1,000 more; sanitizers map a few regions of their own */
    ASSERT_LE(maps1 - maps0, 32);
    /* neighbours in a group: adjacent slots, stacks of the requested size */
    void *lo1, *hi1, *lo2, *hi2;
    sf__coro_stack(ring[1], &lo1, &hi1);
    sf__coro_stack(ring[2], &lo2, &hi2);
    ASSERT(stack_span_ok(ring[1], 32 * 1024));
    ASSERT((char *)lo1 > (char *)hi2 || (char *)lo2 > (char *)hi1);
    /* the group's guard region sits below its first stack only */
    sf__coro_stack(ring[RING_N - 1], &lo1, &hi1); /* created first: the first slot */
    ASSERT_EQ(page_prot_none((char *)lo1 - page()), 1);
    sf__coro_stack(ring[RING_N - 2], &lo2, &hi2);
    ASSERT_EQ(page_prot_none((char *)lo2 - page()), 0);
    void *first_lo = lo1, *last_lo;
    sf__coro_stack(ring[0], &last_lo, NULL); /* created last: in the last, partial group */
    sf__coro_switch(thr, ring[0]);
    ASSERT_EQ(ring_counter, (long)RING_N * RING_ROUNDS);
    for (int i = 0; i < RING_N * RING_ROUNDS; i++)
        ASSERT_EQ(ring_log[i], i % RING_N);
    for (int i = 0; i < RING_N; i++) {
        ASSERT(sf__coro_finished(ring[i]));
        sf__coro_destroy(&ring[i]);
    }
    /* full groups go with their last coroutine; the partial one when grouping ends */
    ASSERT_EQ(page_prot_none(first_lo), -2);
    ASSERT_EQ(page_prot_none(last_lo), 0);
    sf__coro_group_stacks(0);
    ASSERT_EQ(page_prot_none(last_lo), -2);
    test_pingpong(16 * 1024); /* one mapping per coroutine again */
}

int main(void)
{
    test_pingpong(0);
    test_ring();
    test_exit_to();
    test_registers();
    test_rounding();
    test_errno();
    test_overflow();
    test_guard_pages();
    test_grouped_stacks();
    test_pingpong(0); /* still fine after everything else */
    printf("test_coro: all %lu checks passed\n", test_checks());
    return 0;
}
