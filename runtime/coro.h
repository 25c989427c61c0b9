/*
 * Coroutines for the debug executor: one per rank, all on one OS thread.
 *
 * Contract:
 *  - A coroutine runs fn(arg) on its own mmap'd stack (MAP_NORESERVE), with a PROT_NONE
 *    guard region of SF_CORO_GUARD bytes (address space only: never touched, it costs no
 *    memory, and one kernel mapping) below it, unless guards were disabled
 *    (sf__coro_guard_pages). A frame that skips more than the guard region in one step
 *    (a local array larger than SF_CORO_GUARD written at its far end first) can jump it;
 *    only compiler stack probing (-fstack-clash-protection) catches that.
 *  - sf__coro_switch(from, to) saves the callee-saved registers, the stack pointer, the
 *    MXCSR and x87 control words (x86-64) / FPCR (aarch64) of `from`, and resumes `to`.
 *    errno is saved and restored per coroutine. Assembly on x86-64 and aarch64; glibc
 *    ucontext elsewhere (or with -DSF_CORO_UCONTEXT=ON).
 *  - When fn returns, the coroutine is finished; it switches to its `exit_to` coroutine
 *    (set at creation or with sf__coro_set_exit) and must never be resumed again.
 *  - The thread's original context is the coroutine returned by sf__coro_thread().
 *  - AddressSanitizer: switches are annotated with __sanitizer_start/finish_switch_fiber.
 *    Valgrind: stacks are registered with VALGRIND_STACK_REGISTER.
 *  - A stack overflow into the guard page is caught by a SIGSEGV handler on an alternate
 *    stack, which calls the overflow hook (with the coroutine's name) and then _exit()s.
 * Not thread-safe: one thread owns all coroutines.
 */
#ifndef SF_RUNTIME_CORO_H
#define SF_RUNTIME_CORO_H

#include <stddef.h>

typedef struct sf_coro sf_coro;
typedef void (*sf_coro_fn)(void *arg);

/* The calling thread's own context (created on first use; never freed until exit). */
sf_coro *sf__coro_thread(void);

/* Create a suspended coroutine. stack_size is rounded up to pages. `name` is copied
 * (used in overflow reports). Returns 0 or a negative sf_status (SF_ENOMEM, SF_ESYS). */
int sf__coro_create(sf_coro **out, sf_coro_fn fn, void *arg, size_t stack_size,
                    const char *name, sf_coro *exit_to);
void sf__coro_set_exit(sf_coro *c, sf_coro *exit_to);

/* Save the current context into `from` (which must be the running coroutine) and
 * resume `to`. Returns when someone switches back to `from`. */
void sf__coro_switch(sf_coro *from, sf_coro *to);
/* Hints that c is switched to soon, to fetch into the cache while the current coroutine
 * runs: its control block (reads nothing of c), then, once that is in, the stack around
 * its saved stack pointer (reads c's saved stack pointer). Neither faults. */
void sf__coro_prefetch_head(const sf_coro *c);
void sf__coro_prefetch_stack(const sf_coro *c);

/* The running coroutine (the thread context if none). */
sf_coro *sf__coro_current(void);
int sf__coro_finished(const sf_coro *c);
const char *sf__coro_name(const sf_coro *c);

/* Free a coroutine that is finished or was never started. Sets *c = NULL. */
void sf__coro_destroy(sf_coro **c);

/* Guard regions: on by default. Each costs a kernel mapping (vm.max_map_count, usually
 * 65530), so the executor turns them off past a rank count and says so. */
#define SF_CORO_GUARD ((size_t)1 << 20)
void sf__coro_guard_pages(int on);
/* n > 1: later coroutines take their stacks from group mappings of n stacks each, with
 * one guard region per group, so that a million coroutines fit vm.max_map_count. A
 * stack's overflow then runs into its neighbour's slot; it is caught by a canary (the
 * stack's lowest cache line, never written, must read as zero) and a stack-pointer check,
 * both made whenever the coroutine switches out (named by the overflow hook, then _exit).
 * A canary cannot catch: a frame that skips the canary line, or writes only zeros into
 * it; damage to the neighbour done before the switch (a crash there, first, names the
 * neighbour); an overflow in a coroutine that never switches out again. The group's
 * first stack keeps a guard region. n <= 1: one mapping (and guard) per coroutine. */
void sf__coro_group_stacks(int n);
size_t sf__coro_guard_size(void); /* bytes, 0 when off */

/* Called from the SIGSEGV handler (async-signal context) when a coroutine's guard region
 * is hit: report with write(2) only, then the handler calls _exit(code). `arg` is the
 * coroutine's fn argument (whose the stack is). */
typedef void (*sf_coro_overflow_hook)(const char *coro_name, size_t stack_size, void *arg);
/* Install the SIGSEGV handler (on an alternate stack) once; hook may be NULL. */
int sf__coro_install_overflow_handler(sf_coro_overflow_hook hook, int exit_code);

/* 1 if addr lies in a live coroutine's guard region (async-signal-safe). */
int sf__coro_in_guard(const void *addr);

/* Stack bounds of a coroutine (for debuggers / reports). */
void sf__coro_stack(const sf_coro *c, void **lo, void **hi);

#endif
