/*
 * Collective kernels: every sf_comm operation on every party, for several dtypes. The
 * printed results do not depend on how many ranks a party has (integers and small exact
 * floats), so debug and simulation mode with 1 and 2 ranks per party must print the same.
 * `collectives deadlock` makes a worker wait for a message nobody sends (debug mode must
 * report the deadlock, naming the rank and the party communicator).
 */
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

static sf_value *ivec(int64_t n, int64_t base) {
    sf_value *v = sf_value_new(SF_I64, 1, &n);
    for (int64_t i = 0; i < n; i++) ((int64_t *)sf_value_data(v))[i] = base + i;
    return v;
}

static int exercise(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int rank = sf_comm_rank(c), size = sf_comm_size(c), rc;
    int64_t n = sf_arg_i64(t, 0); /* inline: every rank has it */
    /* a failed check prints its values (tests/check.h) and fails the task */
    if (!ASSERT_NOT_NULL(c)) return sf_fail(t, "no communicator in a collective kernel");
    if (rank == 0 && !ASSERT_NOT_NULL(sf_arg(t, 1))) return sf_fail(t, "rank 0 lacks the object argument");
    if (rank != 0 && !ASSERT_NULL(sf_arg(t, 1))) return sf_fail(t, "a worker got the object argument");

    /* scatter rows of an n x 3 int64 matrix, column sums, allreduce SUM/MIN/MAX */
    sf_value *m = NULL, *blk = NULL, *sum = NULL, *mn = NULL, *mx = NULL;
    if (rank == 0) {
        int64_t shape[2] = {n, 3};
        m = sf_value_new(SF_I64, 2, shape);
        for (int64_t i = 0; i < 3 * n; i++) ((int64_t *)sf_value_data(m))[i] = i % 7 - 3 + i / 3;
    }
    if ((rc = sf_comm_scatter(c, 0, m, &blk))) return sf_fail(t, "scatter: %s", sf_strerror(rc));
    int64_t rows = sf_value_dim(blk, 0), three = 3;
    sf_value *cs = sf_value_zeros(SF_I64, 1, &three), *cmin = ivec(3, 1 << 30), *cmax = ivec(3, -(1 << 30));
    const int64_t *b = sf_value_cdata(blk);
    for (int64_t i = 0; i < rows; i++)
        for (int j = 0; j < 3; j++) {
            int64_t x = b[i * 3 + j];
            ((int64_t *)sf_value_data(cs))[j] += x;
            if (x < ((int64_t *)sf_value_data(cmin))[j]) ((int64_t *)sf_value_data(cmin))[j] = x;
            if (x > ((int64_t *)sf_value_data(cmax))[j]) ((int64_t *)sf_value_data(cmax))[j] = x;
        }
    if ((rc = sf_comm_allreduce(c, cs, SF_OP_SUM, &sum)) || (rc = sf_comm_allreduce(c, cmin, SF_OP_MIN, &mn)) ||
        (rc = sf_comm_allreduce(c, cmax, SF_OP_MAX, &mx)))
        return sf_fail(t, "allreduce: %s", sf_strerror(rc));

    /* gather the blocks back: the same matrix */
    sf_value *back = NULL;
    if ((rc = sf_comm_gather(c, 0, blk, &back))) return sf_fail(t, "gather: %s", sf_strerror(rc));
    if (rank == 0 && (!ASSERT_EQ(sf_value_nbytes(back), sf_value_nbytes(m)) ||
                      !ASSERT_MEM_EQ(sf_value_cdata(back), sf_value_cdata(m), sf_value_nbytes(m))))
        return sf_fail(t, "gather did not give back the scattered matrix");

    /* float and small-int dtypes: exact sums whatever the order */
    int64_t four = 4;
    sf_value *f = sf_value_new(SF_F32, 1, &four), *fs = NULL;
    sf_value *u = sf_value_new(SF_U8, 1, &four), *um = NULL;
    for (int i = 0; i < 4; i++) {
        ((float *)sf_value_data(f))[i] = (float)(i + 1) * 0.5f;
        ((uint8_t *)sf_value_data(u))[i] = (uint8_t)(10 * i + 1);
    }
    if ((rc = sf_comm_allreduce(c, f, SF_OP_SUM, &fs)) || (rc = sf_comm_reduce(c, 0, u, SF_OP_MAX, &um)))
        return sf_fail(t, "float/u8 reductions: %s", sf_strerror(rc));
    if (!ASSERT_EQ(((const float *)sf_value_cdata(fs))[3], 2.0f * (float)size))
        return sf_fail(t, "float allreduce");

    /* bcast a string from rank 0, a ring of sends, a barrier */
    sf_value *s = rank == 0 ? sf_value_str("hello from the leader") : NULL;
    if ((rc = sf_comm_bcast(c, 0, &s))) return sf_fail(t, "bcast: %s", sf_strerror(rc));
    if (!ASSERT_STR_EQ(sf_value_cstr(s), "hello from the leader")) return sf_fail(t, "bcast content");
    if (size > 1) {
        sf_value *me = sf_value_i64(rank), *prev = NULL;
        if (rank % 2 == 0) {
            rc = sf_comm_send(c, (rank + 1) % size, me);
            if (!rc) rc = sf_comm_recv(c, (rank + size - 1) % size, &prev);
        } else {
            rc = sf_comm_recv(c, (rank + size - 1) % size, &prev);
            if (!rc) rc = sf_comm_send(c, (rank + 1) % size, me);
        }
        if (rc) return sf_fail(t, "ring: %s", sf_strerror(rc));
        if (!ASSERT_EQ(sf_value_as_i64(prev, 0), (rank + size - 1) % size)) return sf_fail(t, "ring message");
        sf_value_unref(&me);
        sf_value_unref(&prev);
    }
    if ((rc = sf_comm_barrier(c))) return sf_fail(t, "barrier: %s", sf_strerror(rc));

    if (rank == 0) {
        int64_t nine = 9;
        sf_value *r = sf_value_new(SF_I64, 1, &nine);
        int64_t *o = sf_value_data(r);
        for (int j = 0; j < 3; j++) {
            o[j] = ((const int64_t *)sf_value_cdata(sum))[j];
            o[3 + j] = ((const int64_t *)sf_value_cdata(mn))[j];
            o[6 + j] = ((const int64_t *)sf_value_cdata(mx))[j];
        }
        sf_return(t, 0, r);
        sf_return(t, 1, sf_value_f64(((const float *)sf_value_cdata(fs))[0] / (float)size));
        sf_return(t, 2, sf_value_i64(((const uint8_t *)sf_value_cdata(um))[3]));
    }
    sf_value *drop[] = {m, blk, sum, mn, mx, back, cs, cmin, cmax, f, fs, u, um, s};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) sf_value_unref(&drop[i]);
    return 0;
}

static int lonely_recv(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    sf_value *v = NULL;
    if (sf_comm_rank(c) == 1 && sf_comm_recv(c, 0, &v)) return sf_fail(t, "recv failed");
    sf_value_unref(&v);
    return sf_comm_rank(c) == 0 ? sf_return(t, 0, sf_value_i64(1)) : 0;
}

static int seed(sf_task *t) { return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 0))); }

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *names[3] = {"alice", "bob", "carol"};
    int deadlock = sf_argc(sf) > 1 && !strcmp(sf_argv(sf)[1], "deadlock");
    for (int p = 0; p < 3; p++) {
        sf_device all = sf_pyu_all(sf, names[p]);
        if (deadlock) {
            if (p != 1) continue;
            sf_obj r = SF_REMOTE(all, lonely_recv);
            sf_value *v;
            SF_TRY(sf_get(sf, r, &v));
            continue;
        }
        sf_obj o = SF_REMOTE(sf_pyu(sf, names[p]), seed, SF_I64(p));
        sf_obj out[3];
        SF_REMOTE_N(all, exercise, 3, out, SF_I64(10 + 7 * p), SF_OBJ(o));
        sf_value *r, *f, *u;
        SF_TRY(sf_get(sf, out[0], &r));
        SF_TRY(sf_get(sf, out[1], &f));
        SF_TRY(sf_get(sf, out[2], &u));
        const int64_t *x = sf_value_cdata(r);
        sf_print(sf, "%s: column sums %lld %lld %lld, min %lld %lld %lld, max %lld %lld %lld; "
                     "float mean %.2f; u8 max %lld\n",
                 names[p], (long long)x[0], (long long)x[1], (long long)x[2], (long long)x[3],
                 (long long)x[4], (long long)x[5], (long long)x[6], (long long)x[7],
                 (long long)x[8], sf_value_as_f64(f, 0), (long long)sf_value_as_i64(u, 0));
    }
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
