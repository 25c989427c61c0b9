/*
 * Vertical linear regression over party-local HDF5 files: alice, bob and carol each hold
 * their own feature columns for the same rows (scripts/gen-data writes DIR/<party>.h5);
 * carol also holds the label. No party reads another's file.
 *
 * Each party loads its features with sf_h5_read on all of its ranks (a party may bring
 * several: --sf-ranks-per-party=2) and standardises its own columns (a collective kernel:
 * per-rank sums, allreduce); carol centres the label. Every epoch:
 *   - each party computes its partial prediction X_p w_p: a collective kernel that
 *     scatters the rows over the party's ranks and gathers the products;
 *   - carol combines the partial predictions with the label into the residual and the
 *     mean squared error;
 *   - each party computes its gradient X_p^T r / n: a collective kernel whose ranks each
 *     take a block of rows and allreduce their sums; then updates its own weights.
 * Every party learns the error of each epoch; the weights stay with their party until the
 * end, when the model is revealed.
 *
 *   scripts/gen-data --rows 3000 --out data
 *   ./vertical_linreg data --sf-mode=debug [--sf-ranks-per-party=2]
 *   mpirun -np 6 ./vertical_linreg data --sf-mode=sim --sf-ranks-per-party=2
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sfmpi/sf.h"

#define EPOCHS 8
#define LEARNING_RATE 0.3

/* Rows of x (n x k float64) times w (k): a collective kernel. */
static int partial_prediction(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    const sf_value *x = sf_arg(t, 0); /* objects are on rank 0 only */
    sf_value *mine = NULL, *all = NULL, *w = sf_comm_rank(c) == 0 ? sf_value_ref((sf_value *)sf_arg(t, 1)) : NULL;
    int rc;
    if ((rc = sf_comm_scatter(c, 0, x, &mine)) || (rc = sf_comm_bcast(c, 0, &w)))
        return sf_fail(t, "scatter/bcast: %s", sf_strerror(rc));
    int64_t n = sf_value_dim(mine, 0), k = sf_value_dim(mine, 1);
    if (k != (int64_t)sf_value_nelems(w)) {
        sf_value_unref(&mine);
        sf_value_unref(&w);
        return sf_fail(t, "%lld feature columns but %zu weights", (long long)k, sf_value_nelems(w));
    }
    sf_value *p = sf_value_new(SF_F64, 1, &n);
    const double *xv = sf_value_cdata(mine), *wv = sf_value_cdata(w);
    double *pv = sf_value_data(p);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < k; j++) s += xv[i * k + j] * wv[j];
        pv[i] = s;
    }
    sf_value_unref(&mine);
    sf_value_unref(&w);
    rc = sf_comm_gather(c, 0, p, &all);
    sf_value_unref(&p);
    if (rc) return sf_fail(t, "gather: %s", sf_strerror(rc));
    return sf_comm_rank(c) == 0 ? sf_return(t, 0, all) : 0;
}

/* residual r = y - sum of partial predictions; second result: the mean squared error */
static int residual(sf_task *t) {
    const sf_value *y = sf_arg(t, 0);
    int64_t n = (int64_t)sf_value_nelems(y);
    sf_value *r = sf_value_new(SF_F64, 1, &n);
    double *rv = sf_value_data(r), mse = 0;
    memcpy(rv, sf_value_cdata(y), sizeof(double) * (size_t)n);
    for (int a = 1; a < sf_nargs(t); a++) {
        const double *p = sf_value_cdata(sf_arg(t, a));
        for (int64_t i = 0; i < n; i++) rv[i] -= p[i];
    }
    for (int64_t i = 0; i < n; i++) mse += rv[i] * rv[i];
    sf_return(t, 0, r);
    return sf_return(t, 1, sf_value_f64(mse / (double)n));
}

/* w + lr * X^T r / n: each rank sums its block of rows, the sums are allreduced. */
static int gradient_step(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int rank = sf_comm_rank(c);
    sf_value *xb = NULL, *rb = NULL, *sum = NULL, *w = NULL;
    int rc;
    if ((rc = sf_comm_scatter(c, 0, sf_arg(t, 0), &xb)) ||
        (rc = sf_comm_scatter(c, 0, sf_arg(t, 1), &rb)))
        return sf_fail(t, "scatter: %s", sf_strerror(rc));
    int64_t n = sf_value_dim(xb, 0), k = sf_value_dim(xb, 1);
    sf_value *g = sf_value_zeros(SF_F64, 1, &k);
    const double *xv = sf_value_cdata(xb), *rv = sf_value_cdata(rb);
    double *gv = sf_value_data(g);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) gv[j] += xv[i * k + j] * rv[i];
    sf_value_unref(&xb);
    sf_value_unref(&rb);
    rc = sf_comm_allreduce(c, g, SF_OP_SUM, &sum);
    sf_value_unref(&g);
    if (rc) return sf_fail(t, "allreduce: %s", sf_strerror(rc));
    if (rank == 0) {
        double nrows = sf_value_as_f64(sf_arg(t, 3), 0), lr = sf_arg_f64(t, 4);
        w = sf_value_copy(sf_arg(t, 2));
        double *wv = sf_value_data(w);
        const double *sv = sf_value_cdata(sum);
        for (int64_t j = 0; j < k; j++) wv[j] += lr * sv[j] / nrows;
    }
    sf_value_unref(&sum);
    return rank == 0 ? sf_return(t, 0, w) : 0;
}

/* Standardise each column (1-D: centre only) over all rows of the party: every rank takes
 * a block of rows, the column sums and sums of squares are allreduced. */
static int standardize(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    sf_value *blk = NULL, *acc = NULL, *tot = NULL, *all = NULL;
    int rc, center_only = (int)sf_arg_i64(t, 1);
    if ((rc = sf_comm_scatter(c, 0, sf_arg(t, 0), &blk))) return sf_fail(t, "scatter: %s", sf_strerror(rc));
    int64_t n = sf_value_dim(blk, 0), k = sf_value_ndim(blk) > 1 ? sf_value_dim(blk, 1) : 1;
    int64_t two_k = 2 * k + 1;
    acc = sf_value_zeros(SF_F64, 1, &two_k);
    double *a = sf_value_data(acc), *x = sf_value_data(blk);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) a[j] += x[i * k + j], a[k + j] += x[i * k + j] * x[i * k + j];
    a[2 * k] = (double)n;
    rc = sf_comm_allreduce(c, acc, SF_OP_SUM, &tot);
    sf_value_unref(&acc);
    if (rc) return sf_fail(t, "allreduce: %s", sf_strerror(rc));
    const double *s = sf_value_cdata(tot);
    double rows = s[2 * k];
    for (int64_t j = 0; j < k; j++) {
        double mean = s[j] / rows, var = s[k + j] / rows - mean * mean;
        double scale = center_only || var <= 0 ? 1.0 : 1.0 / sqrt(var);
        for (int64_t i = 0; i < n; i++) x[i * k + j] = (x[i * k + j] - mean) * scale;
    }
    sf_value_unref(&tot);
    rc = sf_comm_gather(c, 0, blk, &all);
    sf_value_unref(&blk);
    if (rc) return sf_fail(t, "gather: %s", sf_strerror(rc));
    return sf_comm_rank(c) == 0 ? sf_return(t, 0, all) : 0;
}

static int zeros_like_columns(sf_task *t) {
    int64_t k = sf_value_dim(sf_arg(t, 0), 1);
    return sf_return(t, 0, sf_value_zeros(SF_F64, 1, &k));
}

static int row_count(sf_task *t) {
    return sf_return(t, 0, sf_value_f64((double)sf_value_dim(sf_arg(t, 0), 0)));
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *dir = sf_argc(sf) > 1 ? sf_argv(sf)[1] : "data";
    const char *names[3] = {"alice", "bob", "carol"};
    sf_device one[3], all[3];
    sf_obj x[3], w[3], pred[3], y;
    char path[3][1024];
    for (int p = 0; p < 3; p++) {
        one[p] = sf_pyu(sf, names[p]);
        all[p] = sf_pyu_all(sf, names[p]);
        snprintf(path[p], sizeof path[p], "%s/%s.h5", dir, names[p]);
        sf_obj raw = sf_h5_read(all[p], path[p], "features");
        x[p] = SF_REMOTE(all[p], standardize, SF_OBJ(raw), SF_I64(0));
        sf_release(raw);
        w[p] = SF_REMOTE(one[p], zeros_like_columns, SF_OBJ(x[p]));
    }
    sf_obj raw_y = sf_h5_read(all[2], path[2], "label");
    y = SF_REMOTE(all[2], standardize, SF_OBJ(raw_y), SF_I64(1)); /* centred label */
    sf_release(raw_y);
    sf_obj n = SF_REMOTE(one[2], row_count, SF_OBJ(y));
    sf_obj n_at[3] = {sf_to(n, one[0]), sf_to(n, one[1]), n};
    sf_value *v;
    SF_TRY(sf_get(sf, n, &v));
    sf_print(sf, "rows: %.0f (alice 3 columns, bob 2, carol 2 and the label)\n",
             sf_value_as_f64(v, 0));

    for (int epoch = 1; epoch <= EPOCHS; epoch++) {
        sf_scope sc = sf_scope_begin(sf);
        for (int p = 0; p < 3; p++) pred[p] = SF_REMOTE(all[p], partial_prediction, SF_OBJ(x[p]), SF_OBJ(w[p]));
        sf_obj res[2];
        SF_REMOTE_N(one[2], residual, 2, res, SF_OBJ(y), SF_OBJ(pred[0]), SF_OBJ(pred[1]),
                    SF_OBJ(pred[2]));
        sf_obj nw[3];
        for (int p = 0; p < 3; p++)
            nw[p] = SF_REMOTE(all[p], gradient_step, SF_OBJ(x[p]), SF_OBJ(res[0]), SF_OBJ(w[p]),
                              SF_OBJ(n_at[p]), SF_F64(LEARNING_RATE));
        SF_TRY(sf_get(sf, res[1], &v));
        sf_print(sf, "epoch %d: mse %.6f\n", epoch, sf_value_as_f64(v, 0));
        for (int p = 0; p < 3; p++) sf_release(w[p]);
        for (int p = 0; p < 3; p++) w[p] = nw[p];
        sf_scope_end(&sc, nw, 3);
    }
    for (int p = 0; p < 3; p++) {
        SF_TRY(sf_get(sf, w[p], &v));
        sf_print(sf, "%s weights:", names[p]);
        for (size_t j = 0; j < sf_value_nelems(v); j++) sf_print(sf, " %.6f", sf_value_as_f64(v, j));
        sf_print(sf, "\n");
    }
    /* the model stays where it was trained too: each party writes its weights */
    sf_obj written[3];
    for (int p = 0; p < 3; p++) {
        char out[1100];
        snprintf(out, sizeof out, "%s/%s-weights.h5", dir, names[p]);
        written[p] = sf_h5_write(w[p], out, "weights");
    }
    SF_TRY(sf_wait(sf, written, 3));
    sf_print(sf, "weights written to <party>-weights.h5 beside the data\n");
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
