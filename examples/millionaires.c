/*
 * Yao's millionaires: alice and bob learn who is richer and nothing else. Each party's
 * wealth is private data of its own; the comparison runs in an SPU over {alice, bob}
 * with carol dealing the correlated randomness (semi2k: carol must not collude with
 * either of them). The secret result is revealed to alice only with sf_to, then to
 * everyone with sf_get. A second round compares with aby3 (alice, bob and carol each
 * hold replicated shares; no dealer; no two may collude).
 *
 *   ./millionaires --sf-mode=debug
 *   mpirun -np 3 ./millionaires --sf-mode=sim
 */
#include <stdio.h>

#include "sfmpi/sf.h"

/* private data: what the party is worth (read from its own books in a real program) */
static int wealth(sf_task *t) { return sf_return(t, 0, sf_value_f64(sf_arg_f64(t, 0))); }

/* runs jointly on the SPU members, over shares: 1 where a > b, still secret */
static int richer(sf_spu_task *t) {
    sf_spu_val a = sf_spu_arg(t, 0), b = sf_spu_arg(t, 1);
    return sf_spu_return(t, sf_spu_less(t, b, a));
}

/* the difference, computed but only ever revealed to the party that asks for it */
static int margin(sf_spu_task *t) {
    sf_spu_val a = sf_spu_arg(t, 0), b = sf_spu_arg(t, 1);
    sf_spu_val d = sf_spu_sub(t, a, b);
    return sf_spu_return(t, sf_spu_select(t, sf_spu_greater(t, d, sf_spu_mul_public(t, d, 0.0)),
                                          d, sf_spu_neg(t, d)));
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    sf_device alice = sf_pyu(sf, "alice"), bob = sf_pyu(sf, "bob");
    /* each party's own value: only alice's program knows 2.75M, only bob's 2.5M */
    double mine = sf_party_index(sf) == 0 ? 2750000.25 : sf_party_index(sf) == 1 ? 2500000.5 : 0;
    sf_obj aw = SF_REMOTE(alice, wealth, SF_F64(mine));
    sf_obj bw = SF_REMOTE(bob, wealth, SF_F64(mine));

    const char *const members[] = {"alice", "bob"};
    sf_spu_options opt = {.protocol = "semi2k", .dealer = "carol"};
    sf_device spu = sf_spu(sf, members, 2, &opt);
    sf_obj r = SF_REMOTE(spu, richer, SF_OBJ(aw), SF_OBJ(bw));
    sf_obj who = sf_to(r, alice); /* revealed to alice only */
    sf_value *v;
    SF_TRY(sf_get(sf, r, &v));    /* and now to everyone */
    sf_print(sf, "semi2k (dealer carol): %s is richer\n", sf_value_as_i64(v, 0) ? "alice" : "bob");
    sf_release(who);

    sf_obj m = SF_REMOTE(spu, margin, SF_OBJ(aw), SF_OBJ(bw));
    sf_obj m_alice = sf_to(m, alice);
    SF_TRY(sf_get(sf, m_alice, &v)); /* alice chose to publish the margin */
    sf_print(sf, "semi2k: the margin is %.2f (fixed point, 18 fraction bits)\n", sf_value_as_f64(v, 0));

    const char *const three[] = {"alice", "bob", "carol"};
    sf_spu_options opt3 = {.protocol = "aby3"};
    sf_device spu3 = sf_spu(sf, three, 3, &opt3);
    sf_obj r3 = SF_REMOTE(spu3, richer, SF_OBJ(bw), SF_OBJ(aw)); /* is bob richer? */
    SF_TRY(sf_get(sf, r3, &v));
    sf_print(sf, "aby3: bob is %s than alice\n", sf_value_as_i64(v, 0) ? "richer" : "not richer");
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
