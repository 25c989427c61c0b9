/*
 * Failure behaviours: one scenario per run, picked by the first program argument
 * (sf_argv(sf)[1]). Each scenario makes the runtime stop, or the program return, with one
 * specific report; tests/modes/failures.cmake pins the exit code and the substance of the
 * report. Lines a report must name carry a marker comment, slash-star @name star-slash,
 * which failures.cmake turns into line numbers, so editing this file does not break them.
 *
 *   ./sf_test_failures task --sf-mode=debug
 *   mpirun -np 3 ./sf_test_failures task --sf-mode=sim
 *
 * Parties: alice, bob, carol (in that order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

enum { ALICE, BOB, CAROL };

typedef struct devs {
    sf_device alice, bob, carol;
} devs;

/* ------------------------------------------------------------------ tasks */

static int make_value(sf_task *t) { return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 0))); }

/* Crashes inside a task: the runtime must name the rank, the call and the task. */
static int crash_segv(sf_task *t) {
    volatile int *p = (volatile int *)(uintptr_t)sf_arg_i64(t, 0); /* NULL */
    return sf_return(t, 0, sf_value_i64(*p));
}
static int crash_abort(sf_task *t) {
    (void)t;
    abort();
}
static int crash_exit(sf_task *t) { exit((int)sf_arg_i64(t, 0)); }
static int crash_fpe(sf_task *t) {
    volatile int64_t zero = sf_arg_i64(t, 0);
    return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 1) / zero));
}

/* A frame larger than the stack whose far end is written first, nothing in between (as a
 * big local array filled from its end): it must land in the guard region, not in the
 * next rank's stack. KiB from the first argument. */
__attribute__((noinline)) static int far_write(size_t kib) {
    volatile char big[kib * 1024];
    big[0] = 1; /* the lowest address: kib KiB below the frame's top */
    return big[0];
}
/* A dense overflow: a local array past the stack's end, every byte written (so it runs
 * through the stack's low end into the slot below when stacks are grouped), then the
 * task returns normally. KiB from the first argument. */
__attribute__((noinline)) static int dense_write(size_t kib) {
    volatile char big[kib * 1024];
    memset((char *)big, 1, sizeof big);
    return big[0] + big[sizeof big - 1];
}
static int stack_dense(sf_task *t) {
    return sf_return(t, 0, sf_value_i64(dense_write((size_t)sf_arg_i64(t, 0))));
}

static int stack_far(sf_task *t) {
    return sf_return(t, 0, sf_value_i64(far_write((size_t)sf_arg_i64(t, 0))));
}

static int use_value(sf_task *t) { return sf_return(t, 0, sf_value_copy(sf_arg(t, 0))); }

static int fail_task(sf_task *t) {
    return sf_fail(t, "bad input %lld", (long long)sf_arg_i64(t, 0));
}

/* Writes into its (read-only) argument. */
static int scribble(sf_task *t) {
    sf_value *v = (sf_value *)sf_arg(t, 0);
    int64_t *p = sf_value_data(v);
    p[0] = 99;
    return sf_return(t, 0, sf_value_i64(1));
}

/* Makes a runtime call from inside a task (argument 0: the id of an object). */
static int nested_get(sf_task *t) {
    sf_ctx *sf = sf_task_ctx(t);
    sf_obj o = {sf, (uint64_t)sf_arg_i64(t, 0)};
    sf_value *v = NULL;
    int rc = sf_get(sf, o, &v); /*@tc_get*/
    if (rc) return sf_fail(t, "sf_get returned %d", rc);
    return sf_return(t, 0, sf_value_copy(v));
}

/* Deep recursion: each frame keeps 1 KiB alive across the call (no tail call). */
__attribute__((noinline)) static int64_t deep(int64_t n, volatile char *up) {
    volatile char buf[1024];
    buf[0] = (char)n;
    buf[sizeof buf - 1] = up ? up[0] : 0;
    if (n == 0) return buf[0];
    return deep(n - 1, buf) + buf[sizeof buf - 1];
}

static int recurse(sf_task *t) {
    return sf_return(t, 0, sf_value_i64(deep(sf_arg_i64(t, 0), NULL)));
}

/* An actor with one method. */
typedef struct counter {
    int64_t n;
} counter;

static int counter_add(sf_task *t) {
    counter *c = sf_state(t);
    c->n += sf_arg_i64(t, 0);
    return sf_return(t, 0, sf_value_i64(c->n));
}

static int counter_refuse(sf_task *t) {
    return sf_fail(t, "counter refused %lld", (long long)sf_arg_i64(t, 0));
}

static const sf_method counter_methods[] = {{"add", counter_add}, {"refuse", counter_refuse},
                                            {NULL, NULL}};
static const sf_actor_class Counter = {"Counter", sizeof(counter), NULL, NULL, counter_methods};

/* ------------------------------------------------------------------ scenarios */

/* 1. A task fails; a second task takes the failed object. Debug mode stops at the first
 * failure; elsewhere sf_get of the dependent object returns SF_ETASK with the chain. */
static int sc_task(sf_ctx *sf, devs d) {
    sf_obj x = SF_REMOTE(d.alice, fail_task, SF_I64(7)); /*@task_fail*/
    sf_obj y = SF_REMOTE(d.bob, use_value, SF_OBJ(x)); /*@task_dep*/
    sf_value *v = NULL;
    int rc = sf_get(sf, y, &v);
    const char *e = sf_last_error(sf);
    if (!ASSERT_STATUS_MSG(rc, SF_ETASK, "last error: %s", e) || !ASSERT_STR_CONTAINS(e, "'use_value'") ||
        !ASSERT_STR_CONTAINS(e, "'fail_task'"))
        return SF_EINVAL;
    return rc;
}

/* 2. alice waits for bob's object and bob for alice's (a branch on private data). */
static int sc_deadlock(sf_ctx *sf, devs d) {
    sf_obj a = SF_REMOTE(d.alice, make_value, SF_I64(1));
    sf_obj b = SF_REMOTE(d.bob, make_value, SF_I64(2));
    sf_obj r;
    if (sf_party_index(sf) == BOB)
        r = SF_REMOTE(d.bob, use_value, SF_OBJ(a)); /*@dl_bob*/
    else
        r = SF_REMOTE(d.alice, use_value, SF_OBJ(b)); /*@dl_alice*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v); /*@dl_get*/
}

/* 3a. A message crosses with the wrong object: alice sends #1, bob expects #2. */
static int sc_diverge_msg(sf_ctx *sf, devs d) {
    sf_obj a1 = SF_REMOTE(d.alice, make_value, SF_I64(1));
    sf_obj a2 = SF_REMOTE(d.alice, make_value, SF_I64(2));
    sf_obj r;
    if (sf_party_index(sf) == BOB)
        r = SF_REMOTE(d.bob, use_value, SF_OBJ(a2)); /*@dm_bob*/
    else
        r = SF_REMOTE(d.bob, use_value, SF_OBJ(a1)); /*@dm_other*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 3b. No message in flight: alice waits at call #3 for bob's object; bob made a different,
 * non-blocking call #3 and waits at call #4 for alice's object. Found by wait notices. */
static int sc_diverge_wait(sf_ctx *sf, devs d) {
    sf_obj a = SF_REMOTE(d.alice, make_value, SF_I64(1));
    sf_obj b = SF_REMOTE(d.bob, make_value, SF_I64(2));
    sf_obj r;
    if (sf_party_index(sf) == BOB) {
        SF_REMOTE(d.bob, make_value, SF_I64(3)); /*@dw_bob*/
        r = SF_REMOTE(d.bob, use_value, SF_OBJ(a)); /*@dw_bob_wait*/
    } else {
        r = SF_REMOTE(d.alice, use_value, SF_OBJ(b)); /*@dw_alice*/
    }
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 4a. A method called after sf_kill. */
static int sc_killed(sf_ctx *sf, devs d) {
    sf_actor act = SF_ACTOR(d.alice, &Counter); /*@kill_new*/
    SF_TRY(sf_kill(act)); /*@kill_kill*/
    sf_obj r = SF_REMOTE(act, counter_add, SF_I64(1)); /*@kill_call*/
    sf_value *v = NULL;
    int rc = sf_get(sf, r, &v);
    if (!ASSERT_STATUS_MSG(rc, SF_ETASK, "sf_get of a killed actor's call")) return SF_EINVAL;
    return rc;
}

/* 4b. sf_kill twice: the second returns SF_EKILLED. */
static int sc_kill_twice(sf_ctx *sf, devs d) {
    sf_actor act = SF_ACTOR(d.bob, &Counter);
    SF_TRY(sf_kill(act)); /*@kt_first*/
    int rc = sf_kill(act); /*@kt_second*/
    if (!ASSERT_STATUS_MSG(rc, SF_EKILLED, "the second sf_kill")) return SF_EINVAL;
    return rc;
}

/* 5. A party that does not exist. */
static int sc_unknown_party(sf_ctx *sf, devs d) {
    sf_device dave = sf_pyu(sf, "dave"); /*@pyu_dave*/
    sf_obj r = SF_REMOTE(dave, make_value, SF_I64(1));
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 8. A task overflows its rank's coroutine stack (run with a small --sf-stack-size). */
static int sc_stack(sf_ctx *sf, devs d) {
    sf_obj r = SF_REMOTE(d.bob, recurse, SF_I64(1 << 20));
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 8b. Crashes in a task on bob: a NULL dereference, abort(), exit(42), a division by zero;
 *     a stack frame that jumps past the stack's end. */
#define CRASH_GET(r)      \
    do {                  \
        sf_value *v_;     \
        return sf_get(sf, r, &v_); \
    } while (0)
static int sc_crash_segv(sf_ctx *sf, devs d) {
    CRASH_GET(SF_REMOTE(d.bob, crash_segv, SF_I64(0))); /*@cr_segv*/
}
static int sc_crash_abort(sf_ctx *sf, devs d) {
    CRASH_GET(SF_REMOTE(d.bob, crash_abort)); /*@cr_abort*/
}
static int sc_crash_exit(sf_ctx *sf, devs d) {
    CRASH_GET(SF_REMOTE(d.bob, crash_exit, SF_I64(42))); /*@cr_exit*/
}
static int sc_crash_fpe(sf_ctx *sf, devs d) {
    CRASH_GET(SF_REMOTE(d.bob, crash_fpe, SF_I64(0), SF_I64(7))); /*@cr_fpe*/
}
static int sc_stack_far(sf_ctx *sf, devs d) {
    int64_t kib = sf_argc(sf) > 2 ? strtoll(sf_argv(sf)[2], NULL, 10) : 300;
    CRASH_GET(SF_REMOTE(d.bob, stack_far, SF_I64(kib))); /*@cr_far*/
}

/* 8c. A dense overflow on bob that returns (with grouped stacks: found by the canary at
 *     bob's next switch). */
static int sc_stack_dense(sf_ctx *sf, devs d) {
    int64_t kib = sf_argc(sf) > 2 ? strtoll(sf_argv(sf)[2], NULL, 10) : 80;
    sf_obj r = SF_REMOTE(d.bob, stack_dense, SF_I64(kib)); /*@cr_dense*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 9. bob's program returns while alice waits for bob's object. */
static int sc_early_return(sf_ctx *sf, devs d) {
    sf_obj b = SF_REMOTE(d.bob, make_value, SF_I64(2)); /*@er_make*/
    if (sf_party_index(sf) == BOB) return 0;
    sf_obj r = SF_REMOTE(d.alice, use_value, SF_OBJ(b)); /*@er_wait*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 10. A task writes into its argument. */
static int sc_arg_write(sf_ctx *sf, devs d) {
    sf_obj a = SF_REMOTE(d.alice, make_value, SF_I64(1));
    sf_obj r = SF_REMOTE(d.bob, scribble, SF_OBJ(a)); /*@aw_call*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 11. An object used after sf_release. */
static int sc_released(sf_ctx *sf, devs d) {
    sf_obj a = SF_REMOTE(d.alice, make_value, SF_I64(1));
    sf_release(a);
    sf_obj r = SF_REMOTE(d.bob, use_value, SF_OBJ(a)); /*@rel_use*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 12. sf_get inside a task. */
static int sc_task_call(sf_ctx *sf, devs d) {
    sf_obj a = SF_REMOTE(d.alice, make_value, SF_I64(1));
    sf_obj r = SF_REMOTE(d.bob, nested_get, SF_I64((int64_t)a.id));
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 14. A method fails, called by function (SF_REMOTE, second argument "fn") or by name
 * (sf_actor_call, "name"): the report names the method the same way either way. */
static int sc_method_fail(sf_ctx *sf, devs d) {
    sf_actor act = SF_ACTOR(d.alice, &Counter);
    int by_name = sf_argc(sf) > 2 && !strcmp(sf_argv(sf)[2], "name");
    sf_obj r = by_name ? sf_actor_call(act, "refuse", SF_I64(5)) /*@mf_name*/
                       : SF_REMOTE(act, counter_refuse, SF_I64(5)); /*@mf_fn*/
    sf_value *v = NULL;
    return sf_get(sf, r, &v);
}

/* 15. The program handles a task's failure and goes on (debug: --sf-on-error=continue):
 * sf_get returns SF_ETASK with the chain, a later call works, the run ends with 0. */
static int sc_recover(sf_ctx *sf, devs d) {
    sf_obj x = SF_REMOTE(d.alice, fail_task, SF_I64(9)); /*@rc_fail*/
    sf_value *v = NULL;
    int rc = sf_get(sf, x, &v);
    if (!ASSERT_STATUS_MSG(rc, SF_ETASK, "sf_get of a failed task") ||
        !ASSERT_STR_CONTAINS(sf_last_error(sf), "bad input 9"))
        return SF_EINVAL;
    sf_log(sf, "recovered from: %s", sf_last_error(sf));
    sf_release(x);
    sf_obj y = SF_REMOTE(d.bob, make_value, SF_I64(12));
    SF_TRY(sf_get(sf, y, &v));
    if (sf_value_as_i64(v, 0) != 12) return SF_EINVAL;
    sf_log(sf, "then computed %lld", (long long)sf_value_as_i64(v, 0));
    return 0;
}

/* 16. A party index out of range. */
static int sc_pyu_index(sf_ctx *sf, devs d) {
    (void)d;
    sf_device x = sf_pyu_at(sf, sf_nparties(sf)); /*@pyu_at*/
    sf_value *v = NULL;
    return sf_get(sf, SF_REMOTE(x, make_value, SF_I64(1)), &v);
}

/* A run that succeeds (for the option tests: the program must not matter). */
static int sc_ok(sf_ctx *sf, devs d) {
    sf_obj a = SF_REMOTE(d.alice, make_value, SF_I64(41));
    sf_value *v = NULL;
    SF_TRY(sf_get(sf, a, &v));
    return sf_value_as_i64(v, 0) == 41 ? 0 : SF_EINVAL;
}

/* 13. The program's own return: every party makes the same calls, then the party named
 * by the second argument returns the number in the third (its process status is 16 + it,
 * capped at 127); the others return 0. */
static int sc_party_return(sf_ctx *sf, devs d) {
    int rc = sc_ok(sf, d);
    if (rc || sf_argc(sf) < 4) return rc ? rc : SF_EINVAL;
    return !strcmp(sf_party_name(sf), sf_argv(sf)[2]) ? atoi(sf_argv(sf)[3]) : 0; /*@pr_ret*/
}

static const struct {
    const char *name;
    int (*fn)(sf_ctx *, devs);
} scenarios[] = {
    {"party_return", sc_party_return},
    {"task", sc_task},
    {"deadlock", sc_deadlock},
    {"diverge_msg", sc_diverge_msg},
    {"diverge_wait", sc_diverge_wait},
    {"killed", sc_killed},
    {"kill_twice", sc_kill_twice},
    {"unknown_party", sc_unknown_party},
    {"stack", sc_stack},
    {"crash_segv", sc_crash_segv},
    {"crash_abort", sc_crash_abort},
    {"crash_exit", sc_crash_exit},
    {"crash_fpe", sc_crash_fpe},
    {"stack_far", sc_stack_far},
    {"stack_dense", sc_stack_dense},
    {"early_return", sc_early_return},
    {"arg_write", sc_arg_write},
    {"released", sc_released},
    {"task_call", sc_task_call},
    {"ok", sc_ok},
    {"method_fail", sc_method_fail},
    {"recover", sc_recover},
    {"pyu_index", sc_pyu_index},
};

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *name = sf_argc(sf) > 1 ? sf_argv(sf)[1] : "";
    devs d = {sf_pyu(sf, "alice"), sf_pyu(sf, "bob"), sf_pyu(sf, "carol")};
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (!strcmp(scenarios[i].name, name)) return scenarios[i].fn(sf, d);
    sf_log(sf, "unknown scenario '%s'", name);
    return SF_EINVAL;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
