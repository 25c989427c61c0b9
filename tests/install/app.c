/*
 * An outside program built against an installed sfmpi (tests/install/run.sh): a static
 * collective kernel on every rank of a party, calls with and without inline arguments, an
 * actor, an SPU whose parties are given as a compound literal, and the version macros.
 * Prints one line per result; run.sh compares them.
 */
#include <sfmpi/sf.h>
#include <stdio.h>

#if !defined(SF_VERSION_MAJOR) || SF_VERSION < SF_VERSION_AT(0, 1, 0)
#error "sfmpi version macros missing"
#endif

/* static: not exported, found by the party's other ranks all the same */
static int rank_sum(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    sf_value *mine = sf_value_i64(sf_comm_rank(c) + 1), *sum = NULL;
    int rc = sf_comm_allreduce(c, mine, SF_OP_SUM, &sum);
    sf_value_unref(&mine);
    if (rc) return sf_fail(t, "allreduce: %s", sf_strerror(rc));
    int64_t s = sf_value_as_i64(sum, 0) * sf_comm_size(c) + (int64_t)sf_arg_f64(t, 0);
    sf_value_unref(&sum);
    return sf_return(t, 0, sf_value_i64(s));
}
static int seven(sf_task *t) { return sf_return(t, 0, sf_value_f64(7.0)); }
static int twice(sf_task *t) { return sf_return(t, 0, sf_value_f64(2 * sf_arg_f64(t, 0))); }
static int add(sf_spu_task *t) {
    return sf_spu_return(t, sf_spu_add(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1)));
}
static int count_init(sf_task *t) { *(double *)sf_state(t) = 1; return 0; }
static int count_bump(sf_task *t) {
    double *n = sf_state(t);
    *n += 1;
    return sf_return(t, 0, sf_value_f64(*n));
}
static const sf_method counter_methods[] = {{"bump", count_bump}, {NULL, NULL}};
static const sf_actor_class counter = {"counter", sizeof(double), count_init, NULL, counter_methods};

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    sf_device alice = sf_pyu(sf, "alice"), bob_all = sf_pyu_all(sf, "bob");
    sf_obj k = SF_REMOTE(bob_all, rank_sum, SF_F64(1000));
    sf_obj a = SF_REMOTE(alice, seven);
    sf_obj b = SF_REMOTE(sf_pyu(sf, "bob"), twice, SF_OBJ(a));
    sf_actor ctr = SF_ACTOR(alice, &counter);
    sf_obj c1 = SF_REMOTE(ctr, count_bump), c = sf_actor_call(ctr, "bump");
    sf_spu_options opts = {0};
    opts.protocol = "semi2k";
    sf_device spu = sf_spu(sf, (const char *[]){"alice", "bob"}, 2, &opts);
    sf_obj s = SF_REMOTE(spu, add, SF_OBJ(a), SF_OBJ(b));
    sf_value *v;
    SF_TRY(sf_wait(sf, (sf_obj[]){a, b, c1}, 3));
    SF_TRY(sf_get(sf, k, &v));
    sf_print(sf, "kernel %lld on %d ranks\n", (long long)sf_value_as_i64(v, 0), sf_party_ranks(sf));
    SF_TRY(sf_get(sf, b, &v));
    sf_print(sf, "twice %g\n", sf_value_as_f64(v, 0));
    SF_TRY(sf_get(sf, c, &v));
    sf_print(sf, "actor %g\n", sf_value_as_f64(v, 0));
    SF_TRY(sf_get(sf, sf_to(s, alice), &v));
    sf_print(sf, "spu %g\n", sf_value_as_f64(v, 0));
    sf_print(sf, "version %s %s\n", sf_version(), SF_VERSION_STRING);
    return 0;
}

int main(int argc, char **argv) { return sf_main(argc, argv, program, NULL); }
