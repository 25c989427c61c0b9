/*
 * Secure linear-model scoring over features held by different parties: alice holds two
 * features of every applicant, bob two others (same applicants, same order), carol the
 * model (weights for all four features and a bias). The scores are computed on secret
 * shares in an SPU over all three (aby3: replicated sharing, no two parties may collude),
 * with one secret matrix product per feature block, truncated once. Only carol learns the
 * scores (sf_to); everyone learns how many applicants are approved (score > 0).
 *
 *   ./secure_scoring --sf-mode=debug
 *   mpirun -np 3 ./secure_scoring --sf-mode=sim
 */
#include <stdio.h>

#include "sfmpi/sf.h"

#define N 8

/* a party's private feature block: N x 2, deterministic per party */
static int features(sf_task *t) {
    int64_t who = sf_arg_i64(t, 0), shape[2] = {N, 2};
    sf_value *v = sf_value_new(SF_F64, 2, shape);
    double *x = sf_value_data(v);
    for (int i = 0; i < N; i++) {
        x[2 * i] = (double)((i * 7 + who * 3) % 11) / 4.0 - 1.0;
        x[2 * i + 1] = (double)((i * 5 + who) % 9) / 3.0 - 1.5;
    }
    return sf_return(t, 0, v);
}

/* carol's model: weights for alice's block, for bob's, and the bias as an N x 1 column */
static int model(sf_task *t) {
    int64_t w2[2] = {2, 1}, b[2] = {N, 1};
    sf_value *wa = sf_value_new(SF_F64, 2, w2), *wb = sf_value_new(SF_F64, 2, w2);
    sf_value *bias = sf_value_new(SF_F64, 2, b);
    double *a = sf_value_data(wa), *bb = sf_value_data(wb), *c = sf_value_data(bias);
    a[0] = 0.75, a[1] = -0.5, bb[0] = 1.25, bb[1] = 0.375;
    for (int i = 0; i < N; i++) c[i] = -0.25;
    sf_return(t, 0, wa);
    sf_return(t, 1, wb);
    return sf_return(t, 2, bias);
}

static int score(sf_spu_task *t) {
    sf_spu_val xa = sf_spu_arg(t, 0), xb = sf_spu_arg(t, 1);
    sf_spu_val wa = sf_spu_arg(t, 2), wb = sf_spu_arg(t, 3), bias = sf_spu_arg(t, 4);
    sf_spu_val s = sf_spu_add(t, sf_spu_add(t, sf_spu_matmul(t, xa, wa), sf_spu_matmul(t, xb, wb)), bias);
    sf_spu_val approved = sf_spu_greater(t, s, sf_spu_mul_public(t, s, 0.0));
    sf_spu_return_n(t, 0, s);
    return sf_spu_return_n(t, 1, sf_spu_sum(t, approved));
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    sf_device alice = sf_pyu(sf, "alice"), bob = sf_pyu(sf, "bob"), carol = sf_pyu(sf, "carol");
    sf_obj xa = SF_REMOTE(alice, features, SF_I64(1));
    sf_obj xb = SF_REMOTE(bob, features, SF_I64(2));
    sf_obj m[3];
    SF_REMOTE_N(carol, model, 3, m);

    const char *const all[] = {"alice", "bob", "carol"};
    sf_spu_options opt = {.protocol = "aby3"};
    sf_device spu = sf_spu(sf, all, 3, &opt);
    sf_obj out[2];
    SF_REMOTE_N(spu, score, 2, out, SF_OBJ(xa), SF_OBJ(xb), SF_OBJ(m[0]), SF_OBJ(m[1]), SF_OBJ(m[2]));
    sf_obj scores = sf_to(out[0], carol); /* only carol sees the scores */
    sf_value *v;
    SF_TRY(sf_get(sf, out[1], &v));
    sf_print(sf, "approved: %lld of %d applicants\n", (long long)sf_value_as_i64(v, 0), N);
    /* carol decides to publish the scores of this demo run */
    SF_TRY(sf_get(sf, scores, &v));
    sf_print(sf, "scores (revealed by carol):");
    for (int i = 0; i < N; i++) sf_print(sf, " %.4f", sf_value_as_f64(v, (size_t)i));
    sf_print(sf, "\n");
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
