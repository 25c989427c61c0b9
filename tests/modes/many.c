/*
 * Many parties: devices by index and by name, and argument lists sized at run time.
 *
 *   ./sf_test_many --n=600 --sf-mode=debug       600 parties p0..p599 in one process
 *   mpirun -np 4 ./sf_test_many --n=4 --sf-mode=sim
 *
 * Every party runs the same program:
 *   1. sf_pyu_at(i) and sf_pyu(name of i) are the same device, for every i;
 *   2. party i computes 3 i + 1 (by index for even i, by name for odd i); every party
 *      sf_gets every result and releases it, one at a time;
 *   3. sf_remotev: the last party sums every party's result, passed as np SF_OBJ items of
 *      an array built at run time; the sum is checked on every party;
 *   4. sf_remotev on an actor with two results: a method takes a run-time number of
 *      SF_I64 items and returns their sum and their count.
 * The first party prints one summary line; any wrong value is a failure naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

static int result_of(sf_task *t) { return sf_return(t, 0, sf_value_i64(3 * sf_arg_i64(t, 0) + 1)); }

static int sum_args(sf_task *t) {
    int64_t s = 0;
    for (int i = 0; i < sf_nargs(t); i++) s += sf_value_as_i64(sf_arg(t, i), 0);
    return sf_return(t, 0, sf_value_i64(s));
}

typedef struct tally {
    int64_t calls;
} tally;

static int tally_add(sf_task *t) {
    tally *st = sf_state(t);
    int64_t s = 0;
    for (int i = 0; i < sf_nargs(t); i++) s += sf_arg_i64(t, i);
    st->calls++;
    if (sf_return(t, 0, sf_value_i64(s))) return SF_ETASK;
    return sf_return(t, 1, sf_value_i64(sf_nargs(t)));
}

static const sf_method tally_methods[] = {{"add", tally_add}, {NULL, NULL}};
static const sf_actor_class Tally = {"Tally", sizeof(tally), NULL, NULL, tally_methods};

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int np = sf_nparties(sf);
    /* 1. index and name agree */
    for (int i = 0; i < np; i++) {
        sf_device a = sf_pyu_at(sf, i), b = sf_pyu(sf, sf_party_name_of(sf, i));
        if (!ASSERT_MSG(a.party == i && b.party == i && a.kind == b.kind,
                        "party %d (%s): sf_pyu_at gives %d, sf_pyu gives %d", i,
                        sf_party_name_of(sf, i), a.party, b.party))
            return SF_EINVAL;
    }
    /* 2. one call per party; every result read by every party */
    long got = 0;
    for (int i = 0; i < np; i++) {
        sf_device d = i % 2 ? sf_pyu(sf, sf_party_name_of(sf, i)) : sf_pyu_at(sf, i);
        sf_obj o = SF_REMOTE(d, result_of, SF_I64(i));
        sf_value *v;
        SF_TRY(sf_get(sf, o, &v));
        if (!ASSERT_MSG(sf_value_as_i64(v, 0) == 3 * (int64_t)i + 1, "result of party %d is %lld", i,
                        (long long)sf_value_as_i64(v, 0)))
            return SF_EINVAL;
        got++;
        sf_release(o);
    }
    /* 3. a run-time argument list: every party's result, summed at the last party */
    sf_argv_item *items = malloc(sizeof *items * (size_t)np);
    if (!items) return SF_ENOMEM;
    {
        sf_scope sc = sf_scope_begin(sf);
        for (int i = 0; i < np; i++) items[i] = SF_OBJ(SF_REMOTE(sf_pyu_at(sf, i), result_of, SF_I64(i)));
        sf_obj total = sf_remotev(sf_pyu_at(sf, np - 1), sum_args, items, np, 1, NULL);
        sf_value *v;
        SF_TRY(sf_get(sf, total, &v));
        int64_t want = 3 * (int64_t)np * (np - 1) / 2 + np;
        if (!ASSERT_MSG(sf_value_as_i64(v, 0) == want, "sum of %d results: %lld, expected %lld", np,
                        (long long)sf_value_as_i64(v, 0), (long long)want))
            return SF_EINVAL;
        sf_scope_end(&sc, NULL, 0);
    }
    /* 4. an actor method with a run-time argument list and two results */
    int k = np < 50 ? np : 50;
    for (int i = 0; i < k; i++) items[i] = SF_I64(i + 1);
    sf_actor acc = SF_ACTOR(sf_pyu_at(sf, 0), &Tally);
    sf_obj outs[2];
    sf_remotev(acc, tally_add, items, k, 2, outs);
    sf_value *s, *c;
    SF_TRY(sf_get(sf, outs[0], &s));
    SF_TRY(sf_get(sf, outs[1], &c));
    free(items);
    if (!ASSERT_MSG(sf_value_as_i64(s, 0) == (int64_t)k * (k + 1) / 2 && sf_value_as_i64(c, 0) == k,
                    "actor: sum %lld count %lld of 1..%d", (long long)sf_value_as_i64(s, 0),
                    (long long)sf_value_as_i64(c, 0), k))
        return SF_EINVAL;
    if (sf_party_index(sf) == 0)
        printf("many: %d parties, %ld results read by each, sum of all %lld, actor sum %lld of %lld items\n",
               np, got, (long long)(3 * (int64_t)np * (np - 1) / 2 + np), (long long)sf_value_as_i64(s, 0),
               (long long)sf_value_as_i64(c, 0));
    SF_TRY(sf_kill(acc));
    return 0;
}

int main(int argc, char **argv) {
    int n = 0;
    if (argc > 1 && !strncmp(argv[1], "--n=", 4)) {
        n = atoi(argv[1] + 4);
        argv[1] = argv[0];
        argv++, argc--;
    }
    char **names = NULL;
    if (n > 0) {
        names = malloc(sizeof *names * (size_t)n);
        for (int i = 0; names && i < n; i++) {
            names[i] = malloc(16);
            if (names[i]) snprintf(names[i], 16, "p%d", i);
        }
    }
    sf_config cfg = {.argc = argc, .argv = argv, .parties = (const char *const *)names, .nparties = n};
    int rc = sf_run(&cfg, program, NULL);
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    return rc;
}
