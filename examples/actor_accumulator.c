/*
 * Actor accumulator: carol runs a stateful actor that keeps a running count, sum, min
 * and max of the updates alice and bob push to it over several rounds.
 *
 * Shows: an actor class with state, constructor, methods and destructor (SF_ACTOR); a
 * task with two return values (private generator state + update); an update moving to
 * carol because it is an argument of a method call (by SF_REMOTE and by
 * sf_actor_call); a method with several return values (SF_REMOTE_N on an actor);
 * per-round object lifetime with sf_scope_begin/sf_scope_end, keeping the generator
 * states that the next round needs; sf_get of the final summary; sf_kill.
 * Nobody but carol sees an update: every party learns only the counts and the summary.
 *
 *   ./actor_accumulator --sf-mode=debug
 *   mpirun -np 3 ./actor_accumulator --sf-mode=sim
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/sf.h"

enum { NSOURCES = 2, ROUNDS = 4 };

/* ------------------------------------------------------------ private updates */

/* A fresh generator state (int64 scalar) from a seed. */
static int seed_rng(sf_task *t) {
    uint64_t s = (uint64_t)sf_arg_i64(t, 0) * 0x9E3779B97F4A7C15ULL + 1;
    return sf_return(t, 0, sf_value_i64((int64_t)s));
}

/* (state, round, n, center) -> (next state, n values in [center - 5, center + 5)). */
static int make_update(sf_task *t) {
    uint64_t s = (uint64_t)sf_arg_i64(t, 0);
    int64_t round = sf_arg_i64(t, 1), n = sf_arg_i64(t, 2);
    double center = sf_arg_f64(t, 3);
    if (n <= 0) return sf_fail(t, "round %lld: update size %lld", (long long)round, (long long)n);
    sf_log(sf_task_ctx(t), "round %lld: made a private update of %lld values", (long long)round,
           (long long)n);
    sf_value *v = sf_value_new(SF_F64, 1, (int64_t[]){n});
    if (!v) return sf_fail(t, "out of memory for %lld values", (long long)n);
    double *x = sf_value_data(v);
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = center + (double)round * 0.5 + (double)(s % 10000) / 1000.0 - 5.0;
    }
    sf_return(t, 0, sf_value_i64((int64_t)s));
    return sf_return(t, 1, v);
}

/* ------------------------------------------------------------ the actor */

typedef struct acc_state {
    char *label;         /* owned: strdup of the constructor's argument */
    int64_t nsources;
    int64_t *per_source; /* owned: values received per source */
    int64_t count, updates;
    double sum, min, max;
} acc_state;

/* init(label, nsources) */
static int acc_init(sf_task *t) {
    acc_state *st = sf_state(t);
    const char *label = sf_arg_str(t, 0);
    int64_t ns = sf_arg_i64(t, 1);
    if (ns <= 0) return sf_fail(t, "need at least one source, got %lld", (long long)ns);
    st->label = strdup(label);
    st->per_source = calloc((size_t)ns, sizeof *st->per_source);
    if (!st->label || !st->per_source) return sf_fail(t, "out of memory");
    st->nsources = ns;
    st->min = INFINITY;
    st->max = -INFINITY;
    return 0;
}

static void acc_fini(void *state) {
    acc_state *st = state;
    free(st->label);
    free(st->per_source);
}

/* push(update, source) -> values held so far (int64) */
static int acc_push(sf_task *t) {
    acc_state *st = sf_state(t);
    const sf_value *u = sf_arg(t, 0);
    int64_t src = sf_arg_i64(t, 1);
    if (!u || sf_value_dtype(u) != SF_F64 || sf_value_ndim(u) != 1)
        return sf_fail(t, "%s: an update is a 1-d float64 array", st->label);
    if (src < 0 || src >= st->nsources)
        return sf_fail(t, "%s: unknown source %lld", st->label, (long long)src);
    const double *x = sf_value_cdata(u);
    size_t n = sf_value_nelems(u);
    sf_log(sf_task_ctx(t), "%s: %zu values from source %lld", st->label, n, (long long)src);
    for (size_t i = 0; i < n; i++) {
        st->sum += x[i];
        if (x[i] < st->min) st->min = x[i];
        if (x[i] > st->max) st->max = x[i];
    }
    st->count += (int64_t)n;
    st->per_source[src] += (int64_t)n;
    st->updates++;
    return sf_return(t, 0, sf_value_i64(st->count));
}

/* summary() -> (count, mean, min, max, per-source counts [nsources], updates) */
static int acc_summary(sf_task *t) {
    acc_state *st = sf_state(t);
    if (sf_nreturns(t) != 6) return sf_fail(t, "summary has 6 return values");
    if (st->count == 0) return sf_fail(t, "%s: no values yet", st->label);
    sf_value *per = sf_value_new(SF_I64, 1, (int64_t[]){st->nsources});
    if (!per) return sf_fail(t, "out of memory");
    memcpy(sf_value_data(per), st->per_source, sizeof(int64_t) * (size_t)st->nsources);
    sf_return(t, 0, sf_value_i64(st->count));
    sf_return(t, 1, sf_value_f64(st->sum / (double)st->count));
    sf_return(t, 2, sf_value_f64(st->min));
    sf_return(t, 3, sf_value_f64(st->max));
    sf_return(t, 4, per);
    return sf_return(t, 5, sf_value_i64(st->updates));
}

static const sf_method acc_methods[] = {
    {"push", acc_push},
    {"summary", acc_summary},
    {NULL, NULL},
};

static const sf_actor_class accumulator = {
    .name = "Accumulator",
    .state_size = sizeof(acc_state),
    .init = acc_init,
    .fini = acc_fini,
    .methods = acc_methods,
};

/* ------------------------------------------------------------ the program */

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    static const char *const src_names[NSOURCES] = {"alice", "bob"};
    static const double centers[NSOURCES] = {10.0, 20.0};
    sf_device src[NSOURCES] = {sf_pyu(sf, "alice"), sf_pyu(sf, "bob")};
    sf_device carol = sf_pyu(sf, "carol");

    sf_actor acc = SF_ACTOR(carol, &accumulator, SF_STR("carol's accumulator"), SF_I64(NSOURCES));
    sf_obj rng[NSOURCES];
    for (int p = 0; p < NSOURCES; p++) rng[p] = SF_REMOTE(src[p], seed_rng, SF_I64(p + 1));

    for (int r = 1; r <= ROUNDS; r++) {
        sf_scope scope = sf_scope_begin(sf);
        sf_obj acks[NSOURCES];
        int64_t sent[NSOURCES];
        for (int p = 0; p < NSOURCES; p++) {
            sf_obj out[2]; /* next generator state, update */
            sent[p] = 3 + r * (p + 1);
            SF_REMOTE_N(src[p], make_update, 2, out, SF_OBJ(rng[p]), SF_I64(r), SF_I64(sent[p]),
                        SF_F64(centers[p]));
            /* the update moves to carol as an argument of the method call */
            if (p == 0) acks[p] = SF_REMOTE(acc, acc_push, SF_OBJ(out[1]), SF_I64(p));
            else acks[p] = sf_actor_call(acc, "push", SF_OBJ(out[1]), SF_I64(p));
            sf_release(rng[p]); /* kept from the previous round; replaced now */
            rng[p] = out[0];
        }
        sf_value *held;
        SF_TRY(sf_get(sf, acks[NSOURCES - 1], &held));
        sf_print(sf, "round %d: %s sent %lld, %s sent %lld, accumulator holds %lld values\n", r,
                 src_names[0], (long long)sent[0], src_names[1], (long long)sent[1],
                 (long long)sf_value_as_i64(held, 0));
        sf_scope_end(&scope, rng, NSOURCES); /* drops updates and acks, keeps rng */
    }

    sf_obj s[6];
    SF_REMOTE_N(acc, acc_summary, 6, s);
    sf_value *v[6];
    for (int i = 0; i < 6; i++) SF_TRY(sf_get(sf, s[i], &v[i]));
    sf_log(sf, "summary revealed");
    sf_print(sf, "summary: %lld values in %lld updates (alice %lld, bob %lld)\n",
             (long long)sf_value_as_i64(v[0], 0), (long long)sf_value_as_i64(v[5], 0),
             (long long)sf_value_as_i64(v[4], 0), (long long)sf_value_as_i64(v[4], 1));
    sf_print(sf, "mean: %.6f\nmin: %.6f\nmax: %.6f\n", sf_value_as_f64(v[1], 0),
             sf_value_as_f64(v[2], 0), sf_value_as_f64(v[3], 0));
    for (int i = 0; i < 6; i++) sf_release(s[i]);
    for (int p = 0; p < NSOURCES; p++) sf_release(rng[p]);
    SF_TRY(sf_kill(acc));
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
