/*
 * Logistic regression on vertically split data inside an SPU (include/sfmpi/ml.h).
 *
 * Driver (every party, SPMD): each feature party scales its own columns (a task at that
 * party; the statistics stay there), the label holder checks its labels and shares them
 * into the SPU once, then one SPU kernel per epoch runs every mini-batch step: the batch's
 * rows of each party's features (a private operand where the party is a member, so only
 * the secret operands' masked shares move), the approximated sigmoid, the residual and the
 * gradient steps. The weights come out of each epoch as SPU objects and go into the next.
 * sf_ml_lr_plain is the same arithmetic in double precision, row for row: the baseline.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/h5out.h"
#include "sfmpi/ml.h"

/* ------------------------------------------------------------------ shared by both */

static sf_ml_lr_options defaults(const sf_ml_lr_options *o) {
    sf_ml_lr_options d = o ? *o : (sf_ml_lr_options){0};
    if (!(d.learning_rate > 0)) d.learning_rate = 0.1;
    if (d.epochs <= 0) d.epochs = 10;
    if (d.batch_size <= 0) d.batch_size = 64;
    if (!d.sigmoid) d.sigmoid = SF_SIGMOID_EXP;
    return d;
}

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The order of the nb batches in `epoch`: in order for seed 0, else a permutation drawn
 * from (seed, epoch) (Fisher-Yates; public, the same on every party). */
static void batch_order(uint64_t seed, int epoch, int64_t nb, int64_t *order) {
    for (int64_t i = 0; i < nb; i++) order[i] = i;
    if (!seed) return;
    uint64_t s = mix64(seed ^ mix64((uint64_t)epoch + 1));
    for (int64_t i = nb - 1; i > 0; i--) {
        s = mix64(s);
        int64_t j = (int64_t)(s % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Column statistics: mean and population standard deviation (1 where it is 0). */
static void col_stats(const double *x, int64_t m, int64_t k, double *mean, double *std) {
    /* row by row (the data are row-major: a column walk strides k doubles), each column's
     * sums in the same order as a column walk */
    for (int64_t j = 0; j < k; j++) mean[j] = 0, std[j] = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) mean[j] += x[i * k + j];
    for (int64_t j = 0; j < k; j++) mean[j] = m ? mean[j] / (double)m : 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) std[j] += (x[i * k + j] - mean[j]) * (x[i * k + j] - mean[j]);
    for (int64_t j = 0; j < k; j++) {
        double sd = m ? sqrt(std[j] / (double)m) : 0;
        std[j] = sd > 0 ? sd : 1;
    }
}

/* ------------------------------------------------------------------ party tasks */

/* x as float64 rows x k (a vector: rows x 1), or a failure naming what is wrong. */
static sf_value *as_matrix(sf_task *t, const sf_value *v, const char *what) {
    sf_dtype dt = sf_value_dtype(v);
    if (dt == SF_BYTES || (sf_value_ndim(v) != 1 && sf_value_ndim(v) != 2)) {
        sf_fail(t, "%s: %s must be a matrix (rows x columns) or a vector of numbers, not %s with %d "
                   "dimension%s", sf_party_name(sf_task_ctx(t)), what, dt == SF_BYTES ? "bytes" : "an array",
                sf_value_ndim(v), sf_value_ndim(v) == 1 ? "" : "s");
        return NULL;
    }
    int64_t m = sf_value_dim(v, 0), k = sf_value_ndim(v) == 2 ? sf_value_dim(v, 1) : 1;
    sf_value *o = sf_value_new(SF_F64, 2, (const int64_t[]){m, k});
    if (!o) {
        sf_fail(t, "out of memory");
        return NULL;
    }
    double *d = sf_value_data(o);
    size_t n = (size_t)(m * k), bad = n;
    if (dt == SF_F64) { /* the common case: a copy, then one check */
        memcpy(d, sf_value_cdata(v), 8 * n);
        for (size_t i = 0; i < n; i++) bad = isfinite(d[i]) || bad < n ? bad : i;
    }
    for (size_t i = dt == SF_F64 ? bad : 0; i < n; i++) {
        if (dt != SF_F64) d[i] = sf_value_as_f64(v, i);
        if (!isfinite(d[i])) {
            sf_fail(t, "%s: %s has a value that is not finite at row %lld, column %lld",
                    sf_party_name(sf_task_ctx(t)), what, (long long)(i / (size_t)k), (long long)(i % (size_t)k));
            sf_value_unref(&o);
            return NULL;
        }
    }
    return o;
}

/* The bound on a scaled feature that mask_bits = 32 takes: with |residual| <= 1 (a bounded
 * sigmoid), a block of rows of the gradient X^T e stays within the 32-bit ring's range. */
#define X32_BOUND 16.0

/* args: x, raw, bound (0: none), [stats]: returns the scaled features and (fit) their
 * statistics (2 x k) */
static int t_scale(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    int raw = (int)sf_arg_i64(t, 1), apply = sf_nargs(t) > 3;
    double bound = sf_arg_f64(t, 2);
    sf_value *x = as_matrix(t, v, "the features");
    if (!x) return SF_EINVAL;
    int64_t m = sf_value_dim(x, 0), k = sf_value_dim(x, 1);
    sf_value *st = NULL;
    if (apply) {
        st = sf_value_ref((sf_value *)sf_arg(t, 3));
        if (sf_value_nelems(st) != (size_t)(2 * k)) {
            sf_value_unref(&x);
            sf_value_unref(&st);
            return sf_fail(t, "%s: the features have %lld columns, the model was trained on %zu",
                           sf_party_name(sf_task_ctx(t)), (long long)k, sf_value_nelems(sf_arg(t, 3)) / 2);
        }
    } else {
        st = sf_value_new(SF_F64, 2, (const int64_t[]){2, k});
        if (!st) {
            sf_value_unref(&x);
            return sf_fail(t, "out of memory");
        }
        double *s = sf_value_data(st);
        if (raw)
            for (int64_t j = 0; j < k; j++) s[j] = 0, s[k + j] = 1;
        else
            col_stats(sf_value_cdata(x), m, k, s, s + k);
    }
    const double *s = sf_value_cdata(st);
    double *d = sf_value_data(x);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) {
            double z = (d[i * k + j] - s[j]) / s[k + j];
            if (bound > 0 && !(fabs(z) <= bound)) {
                sf_value_unref(&x);
                sf_value_unref(&st);
                return sf_fail(t, "%s: the feature in column %lld at row %lld is %g%s, beyond the +-%g that "
                               "mask_bits = 32 takes (clip the outliers, or use mask_bits = 64)",
                               sf_party_name(sf_task_ctx(t)), (long long)j, (long long)i, z,
                               raw ? "" : " after scaling", bound);
            }
            d[i * k + j] = z;
        }
    int rc = sf_return(t, 0, x);
    if (!apply && !rc) rc = sf_return(t, 1, st);
    else sf_value_unref(&st);
    return rc;
}

/* a failed result with the message given */
static int t_refuse(sf_task *t) { return sf_fail(t, "%s", sf_arg_str(t, 0)); }

/* the label: 0/1 as float64 rows x 1 */
static int t_label(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    if (sf_value_ndim(v) > 2 || (sf_value_ndim(v) == 2 && sf_value_dim(v, 1) != 1) || sf_value_ndim(v) == 0 ||
        sf_value_dtype(v) == SF_BYTES)
        return sf_fail(t, "%s: the label must be a vector (rows, or rows x 1) of 0 and 1",
                       sf_party_name(sf_task_ctx(t)));
    int64_t m = sf_value_dim(v, 0);
    sf_value *o = sf_value_new(SF_F64, 2, (const int64_t[]){m, 1});
    if (!o) return sf_fail(t, "out of memory");
    for (int64_t i = 0; i < m; i++) {
        double y = sf_value_as_f64(v, (size_t)i);
        if (y != 0 && y != 1) {
            sf_value_unref(&o);
            return sf_fail(t, "%s: the label at row %lld is %g, not 0 or 1", sf_party_name(sf_task_ctx(t)),
                           (long long)i, y);
        }
        ((double *)sf_value_data(o))[i] = y;
    }
    return sf_return(t, 0, o);
}

/* args: probabilities, labels: {auc, logloss} */
static int t_metrics(sf_task *t) {
    const sf_value *p = sf_arg(t, 0), *y = sf_arg(t, 1);
    size_t n = sf_value_nelems(p);
    if (sf_value_nelems(y) != n)
        return sf_fail(t, "%s: %zu predictions for %zu labels", sf_party_name(sf_task_ctx(t)), n, sf_value_nelems(y));
    double *pp = malloc(sizeof *pp * (n ? n : 1)), *yy = malloc(sizeof *yy * (n ? n : 1));
    if (!pp || !yy) {
        free(pp);
        free(yy);
        return sf_fail(t, "out of memory");
    }
    for (size_t i = 0; i < n; i++) pp[i] = sf_value_as_f64(p, i), yy[i] = sf_value_as_f64(y, i);
    sf_value *o = sf_value_new(SF_F64, 1, (const int64_t[]){2});
    if (o) {
        ((double *)sf_value_data(o))[0] = sf_ml_auc(pp, yy, (int64_t)n);
        ((double *)sf_value_data(o))[1] = sf_ml_logloss(pp, yy, (int64_t)n);
    }
    free(pp);
    free(yy);
    return o ? sf_return(t, 0, o) : sf_fail(t, "out of memory");
}

/* args: weights (k x 1), scaler (2 x k), file, [bias]: writes them atomically */
static int t_save(sf_task *t) {
    const char *file = sf_arg_str(t, 2);
    const sf_value *w = sf_arg(t, 0), *st = sf_arg(t, 1);
    const sf_value *b = sf_nargs(t) > 3 ? sf_arg(t, 3) : NULL;
    char err[512];
    h5out_file *f = h5out_create(file, err, sizeof err);
    if (!f) return sf_fail(t, "%s: %s", sf_party_name(sf_task_ctx(t)), err);
    int64_t k = (int64_t)sf_value_nelems(w);
    int bad = 0;
    if (k) {
        h5out_dset *dw = h5out_dataset(f, "weights", H5OUT_F64, 0, k, err, sizeof err);
        h5out_dset *dm = dw ? h5out_dataset(f, "mean", H5OUT_F64, 0, k, err, sizeof err) : NULL;
        h5out_dset *ds = dm ? h5out_dataset(f, "std", H5OUT_F64, 0, k, err, sizeof err) : NULL;
        const double *s = sf_value_cdata(st);
        bad = !ds || h5out_write(dw, 0, k, sf_value_cdata(w), err, sizeof err) ||
              h5out_write(dm, 0, k, s, err, sizeof err) || h5out_write(ds, 0, k, s + k, err, sizeof err);
    }
    if (!bad && b) {
        h5out_dset *db = h5out_dataset(f, "bias", H5OUT_F64, 0, 1, err, sizeof err);
        bad = !db || h5out_write(db, 0, 1, sf_value_cdata(b), err, sizeof err);
    }
    if (bad || h5out_commit(&f, err, sizeof err)) {
        h5out_abort(&f);
        return sf_fail(t, "%s: %s", sf_party_name(sf_task_ctx(t)), err);
    }
    return sf_return(t, 0, sf_value_i64(1));
}

/* ------------------------------------------------------------------ SPU kernels */

/* params (public): [0] P, [1] lr, [2] l2, [3] batch, [4] sigmoid, [5] epoch, [6] init */
enum { PR_P, PR_LR, PR_L2, PR_B, PR_SIG, PR_EPOCH, PR_INIT, NPR };

/* One epoch. Arguments: X_0 .. X_(P-1) (private or secret, rows x k_p), y (rows x 1),
 * w_0 .. w_(P-1) (k_p x 1), b (1 x 1) (placeholders when init), params, seed. Results: the
 * new w_0 .. w_(P-1), b. */
static int k_epoch(sf_spu_task *t) {
    const sf_value *pv = sf_spu_public(t, 0);
    if (!pv || sf_value_nelems(pv) != NPR) return sf_fail(t, "sf_ml_lr: bad parameters");
    double par[NPR];
    for (int i = 0; i < NPR; i++) par[i] = sf_value_as_f64(pv, (size_t)i);
    uint64_t seed = (uint64_t)sf_value_as_i64(sf_spu_public(t, 1), 0);
    int P = (int)par[PR_P], init = par[PR_INIT] != 0;
    double lr = par[PR_LR], l2 = par[PR_L2];
    sf_spu_sigmoid_kind kind = (sf_spu_sigmoid_kind)(int)par[PR_SIG];
    int64_t B = (int64_t)par[PR_B];
    sf_spu_val X[SF_ML_MAX_PARTIES], w[SF_ML_MAX_PARTIES], y = sf_spu_arg(t, 2 + P), b;
    int64_t sh[SF_MAX_DIMS], m;
    if (sf_spu_shape(t, y, sh) != 2) return sf_fail(t, "sf_ml_lr: the label is not a column");
    m = sh[0];
    for (int p = 0; p < P; p++) {
        X[p] = sf_spu_arg(t, 2 + p);
        if (sf_spu_shape(t, X[p], sh) != 2 || sh[0] != m)
            return sf_fail(t, "sf_ml_lr: feature party %d has %lld rows, the label %lld (align the "
                              "parties' rows first, e.g. with sf_psi)", p, (long long)sh[0], (long long)m);
        w[p] = init ? sf_spu_constant(t, 0, 0, 2, (const int64_t[]){sh[1], 1}) : sf_spu_arg(t, 3 + P + p);
    }
    b = init ? sf_spu_constant(t, 0, 0, 2, (const int64_t[]){1, 1}) : sf_spu_arg(t, 3 + 2 * P);
    int64_t nb = m ? (m + B - 1) / B : 0;
    int64_t *order = malloc(sizeof *order * (size_t)(nb ? nb : 1));
    if (!order) return sf_fail(t, "out of memory");
    batch_order(seed, (int)par[PR_EPOCH], nb, order);
    for (int64_t q = 0; q < nb; q++) {
        int64_t r0 = order[q] * B, rows = m - r0 < B ? m - r0 : B;
        /* every party's products in the rounds of one (where the features are private) */
        sf_spu_val Xb[SF_ML_MAX_PARTIES], XT[SF_ML_MAX_PARTIES], ev[SF_ML_MAX_PARTIES], zs[SF_ML_MAX_PARTIES],
            gs[SF_ML_MAX_PARTIES], z = {-1};
        for (int p = 0; p < P; p++) Xb[p] = sf_spu_slice(t, X[p], 0, r0, rows);
        if (sf_spu_matmul_n(t, P, Xb, w, zs)) {
            free(order);
            return SF_EINVAL;
        }
        for (int p = 0; p < P; p++) {
            sf_spu_val zp = zs[p];
            if (p == 0) z = zp;
            else {
                sf_spu_val s = sf_spu_add(t, z, zp);
                sf_spu_release(t, z);
                sf_spu_release(t, zp);
                z = s;
            }
        }
        sf_spu_val zb = sf_spu_add(t, z, b);
        sf_spu_val pr = sf_spu_sigmoid(t, zb, kind);
        sf_spu_val yb = sf_spu_slice(t, y, 0, r0, rows);
        sf_spu_val e = sf_spu_sub(t, pr, yb);
        sf_spu_release(t, z);
        sf_spu_release(t, zb);
        sf_spu_release(t, pr);
        sf_spu_release(t, yb);
        /* the gradients and the residuals' sum, divided by B / lr in one operation (one
         * pair of truncations for all parties, not one per party) */
        sf_spu_val cat = {-1};
        for (int p = 0; p < P; p++) XT[p] = sf_spu_transpose(t, Xb[p]), ev[p] = e;
        if (sf_spu_matmul_n(t, P, XT, ev, gs)) {
            free(order);
            return SF_EINVAL;
        }
        for (int p = 0; p < P; p++) {
            sf_spu_val g = gs[p];
            sf_spu_release(t, XT[p]);
            sf_spu_release(t, Xb[p]);
            if (p == 0) cat = g;
            else {
                sf_spu_val c2 = sf_spu_concat(t, cat, g, 0);
                sf_spu_release(t, cat);
                sf_spu_release(t, g);
                cat = c2;
            }
        }
        sf_spu_val es = sf_spu_sum(t, e);
        sf_spu_val eb = sf_spu_reshape(t, es, 2, (const int64_t[]){1, 1});
        sf_spu_release(t, es);
        sf_spu_val all = sf_spu_concat(t, cat, eb, 0);
        sf_spu_val step = sf_spu_div_public(t, all, (double)rows / lr); /* lr g / B, lr sum(e) / B */
        sf_spu_release(t, cat);
        sf_spu_release(t, eb);
        sf_spu_release(t, all);
        sf_spu_release(t, e);
        /* weight decay for all parties at once, then each party's step */
        sf_spu_val wd = {-1};
        if (l2 > 0) {
            sf_spu_val wc = w[0];
            for (int p = 1; p < P; p++) {
                sf_spu_val c2 = sf_spu_concat(t, wc, w[p], 0);
                if (p > 1) sf_spu_release(t, wc);
                wc = c2;
            }
            wd = sf_spu_mul_public(t, wc, 1 - lr * l2);
            if (P > 1) sf_spu_release(t, wc);
        }
        int64_t off = 0;
        for (int p = 0; p < P; p++) {
            int64_t kp = sf_spu_shape(t, w[p], sh) == 2 ? sh[0] : 0;
            sf_spu_val wp = l2 > 0 ? sf_spu_slice(t, wd, 0, off, kp) : w[p];
            sf_spu_val sp = sf_spu_slice(t, step, 0, off, kp);
            sf_spu_val nw = sf_spu_sub(t, wp, sp);
            if (l2 > 0) sf_spu_release(t, wp);
            sf_spu_release(t, sp);
            sf_spu_release(t, w[p]); /* an argument stays (borrowed) */
            w[p] = nw;
            off += kp;
        }
        sf_spu_val sb = sf_spu_slice(t, step, 0, off, 1);
        sf_spu_val nb_ = sf_spu_sub(t, b, sb);
        sf_spu_release(t, b);
        sf_spu_release(t, sb);
        sf_spu_release(t, step);
        if (l2 > 0) sf_spu_release(t, wd);
        b = nb_;
        if (b.id < 0) break; /* a failed operation: the task fails with its reason */
    }
    free(order);
    for (int p = 0; p < P; p++) SF_TRY(sf_spu_return_n(t, p, w[p]));
    return sf_spu_return_n(t, P, b);
}

/* Probabilities. Arguments: X_0 .. X_(P-1), w_0 .. w_(P-1), b, params (P, sigmoid). */
static int k_predict(sf_spu_task *t) {
    const sf_value *pv = sf_spu_public(t, 0);
    if (!pv || sf_value_nelems(pv) != 2) return sf_fail(t, "sf_ml_lr: bad parameters");
    int P = (int)sf_value_as_f64(pv, 0);
    sf_spu_sigmoid_kind kind = (sf_spu_sigmoid_kind)(int)sf_value_as_f64(pv, 1);
    sf_spu_val z = {-1};
    int64_t sh[SF_MAX_DIMS], m = -1;
    for (int p = 0; p < P; p++) {
        sf_spu_val X = sf_spu_arg(t, 1 + p);
        if (sf_spu_shape(t, X, sh) != 2 || (m >= 0 && sh[0] != m))
            return sf_fail(t, "sf_ml_lr_predict: feature party %d has %lld rows, party 0 %lld", p,
                           (long long)sh[0], (long long)m);
        m = sh[0];
        sf_spu_val zp = sf_spu_matmul(t, X, sf_spu_arg(t, 1 + P + p));
        z = p ? sf_spu_add(t, z, zp) : zp;
    }
    z = sf_spu_add(t, z, sf_spu_arg(t, 1 + 2 * P));
    sf_spu_val pr = sf_spu_sigmoid(t, z, kind);
    return sf_spu_return(t, sf_spu_reshape(t, pr, 1, (const int64_t[]){m}));
}

/* ------------------------------------------------------------------ driver */

static int check_parties(sf_device spu, const sf_obj *x, int n, sf_obj y, sf_ml_lr_model *m, const char *fn) {
    sf_ctx *sf = spu.sf;
    if (n < 1 || n > SF_ML_MAX_PARTIES) {
        sf_log(sf, "%s: %d feature parties (1 to %d)", fn, n, SF_ML_MAX_PARTIES);
        return SF_EINVAL;
    }
    for (int p = 0; p < n; p++) {
        m->party[p] = sf_obj_party(x[p]);
        if (m->party[p] < 0) {
            sf_log(sf, "%s: feature object %d is not held in the clear by a party", fn, p);
            return SF_EINVAL;
        }
        for (int q = 0; q < p; q++)
            if (m->party[q] == m->party[p]) {
                sf_log(sf, "%s: feature objects %d and %d are both %s's (one object per party)", fn, q, p,
                       sf_party_name_of(sf, m->party[p]));
                return SF_EINVAL;
            }
    }
    m->label_party = sf_obj_party(y);
    if (m->label_party < 0) {
        sf_log(sf, "%s: the label object is not held in the clear by a party", fn);
        return SF_EINVAL;
    }
    return SF_OK;
}

/* party p's features kept private where the party is a member: else they are shared into
 * the SPU once (*xs replaced by the SPU object, the PYU one released), not at every call */
static int keep_private(const sf_ml_lr_model *m, int p) {
    return !m->opts.share_features && sf_spu_member(m->spu, m->party[p]) >= 0;
}
/* rows per block of X^T e in the 32-bit ring: |x| <= X32_BOUND, |e| <= 1 + 2^-9 (a bounded
 * sigmoid less the label, truncated), so a block's sum stays within 2^(30 - f) */
static int64_t x32_block(const sf_ml_lr_model *m) {
    int f = sf_spu_fraction_bits(m->spu);
    return (int64_t)(ldexp(1, 30 - f) / (X32_BOUND * (1 + 0x1p-9)));
}
static sf_argv_item feature_arg(const sf_ml_lr_model *m, int p, sf_obj *xs) {
    if (keep_private(m, p)) return m->opts.mask_bits == 32 ? SF_PRIVATE32(*xs, x32_block(m)) : SF_PRIVATE(*xs);
    if (sf_obj_party(*xs) >= 0) {
        sf_obj sh = sf_to(*xs, m->spu);
        sf_release(*xs);
        *xs = sh;
    }
    return SF_OBJ(*xs);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int sf_ml_lr_fit(sf_device spu, const sf_obj *x, int n, sf_obj y, const sf_ml_lr_options *opts,
                 sf_ml_lr_model *model) {
    sf_ctx *sf = spu.sf;
    memset(model, 0, sizeof *model);
    model->sf = sf;
    model->spu = spu;
    model->opts = defaults(opts);
    SF_TRY(check_parties(spu, x, n, y, model, "sf_ml_lr_fit"));
    model->nparties = n;
    const sf_ml_lr_options *o = &model->opts;
    if (o->mask_bits != 0 && o->mask_bits != 32 && o->mask_bits != 64) {
        sf_log(sf, "sf_ml_lr_fit: mask_bits is %d: 32 or 64 (0: 64)", o->mask_bits);
        return SF_EINVAL;
    }
    if (o->mask_bits == 32 && o->sigmoid != SF_SIGMOID_SEGMENTED && o->sigmoid != SF_SIGMOID_EXP) {
        sf_log(sf, "sf_ml_lr_fit: mask_bits = 32 needs a sigmoid bounded to [0, 1] (SEGMENTED or EXP): the "
                   "gradient's 32-bit block sums are sized from it");
        return SF_EINVAL;
    }
    if (o->mask_bits == 32 && (sf_spu_fraction_bits(spu) < 16 || x32_block(model) < 1)) {
        sf_log(sf, "sf_ml_lr_fit: mask_bits = 32 needs fxp_bits from 16 to 25 (the SPU has %d)",
               sf_spu_fraction_bits(spu));
        return SF_EINVAL;
    }
    double xbound = o->mask_bits == 32 ? X32_BOUND : 0;
    sf_obj xs[SF_ML_MAX_PARTIES];
    for (int p = 0; p < n; p++) {
        sf_obj r[2];
        SF_REMOTE_N(sf_pyu(sf, sf_party_name_of(sf, model->party[p])), t_scale, 2, r, SF_OBJ(x[p]),
                    SF_I64(o->raw_features), SF_F64(keep_private(model, p) ? xbound : 0));
        xs[p] = r[0];
        model->scaler[p] = r[1];
    }
    sf_obj yl = SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, model->label_party)), t_label, SF_OBJ(y));
    sf_obj ys = sf_to(yl, spu);
    sf_release(yl);
    sf_argv_item args[3 * SF_ML_MAX_PARTIES + 8];
    double par[NPR] = {n, o->learning_rate, o->l2, (double)o->batch_size, o->sigmoid, 0, 1};
    sf_value *pv = sf_value_new(SF_F64, 1, (const int64_t[]){NPR}), *sv = sf_value_i64((int64_t)o->seed);
    if (!pv || !sv) { /* a few bytes: the process is out of memory, and the others would wait */
        fprintf(stderr, "sf_ml_lr_fit: out of memory\n");
        abort();
    }
    int rc = SF_OK, me_label = sf_party_index(sf) == model->label_party;
    double t0 = now();
    for (int ep = 0; ep < o->epochs; ep++) {
        par[PR_EPOCH] = ep;
        par[PR_INIT] = ep == 0;
        memcpy(sf_value_data(pv), par, sizeof par);
        int na = 0;
        args[na++] = SF_VAL(pv);
        args[na++] = SF_VAL(sv);
        for (int p = 0; p < n; p++) args[na++] = feature_arg(model, p, &xs[p]);
        args[na++] = SF_OBJ(ys);
        for (int p = 0; p < n; p++) args[na++] = ep ? SF_OBJ(model->w[p]) : SF_F64(0);
        args[na++] = ep ? SF_OBJ(model->bias) : SF_F64(0);
        sf_obj out[SF_ML_MAX_PARTIES + 1];
        sf__remote_dev(spu, k_epoch, (sf_site){__FILE__, __LINE__, "sf_ml_lr epoch"}, n + 1, out, args, na);
        if (ep) {
            for (int p = 0; p < n; p++) sf_release(model->w[p]);
            sf_release(model->bias);
        }
        for (int p = 0; p < n; p++) model->w[p] = out[p];
        model->bias = out[n];
        if (me_label && !o->quiet)
            sf_log(sf, "sf_ml_lr_fit: epoch %d/%d done (%.2f s)", ep + 1, o->epochs, now() - t0);
        if (o->on_epoch) o->on_epoch(sf, ep, o->on_epoch_arg);
    }
    sf_value_unref(&pv);
    sf_value_unref(&sv);
    if (o->epochs) {
        sf_obj all[SF_ML_MAX_PARTIES + 1];
        for (int p = 0; p < n; p++) all[p] = model->w[p];
        all[n] = model->bias;
        rc = sf_wait(sf, all, n + 1);
    }
    for (int p = 0; p < n; p++) sf_release(xs[p]); /* their masks go with them */
    sf_release(ys);
    return rc;
}

sf_obj sf_ml_lr_predict(const sf_ml_lr_model *m, const sf_obj *x, int to) {
    sf_ctx *sf = m->sf;
    int n = m->nparties;
    sf_obj xs[SF_ML_MAX_PARTIES];
    for (int p = 0; p < n; p++)
        if (sf_obj_party(x[p]) != m->party[p]) { /* never move a party's features elsewhere */
            char msg[256];
            snprintf(msg, sizeof msg, "sf_ml_lr_predict: feature object %d is not held by %s, whose "
                     "columns the model was trained on", p, sf_party_name_of(sf, m->party[p]));
            return SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, to)), t_refuse, SF_STR(msg));
        }
    for (int p = 0; p < n; p++)
        xs[p] = SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, m->party[p])), t_scale, SF_OBJ(x[p]),
                          SF_I64(m->opts.raw_features), SF_F64(0), SF_OBJ(m->scaler[p]));
    sf_value *pv = sf_value_new(SF_F64, 1, (const int64_t[]){2});
    if (!pv) {
        fprintf(stderr, "sf_ml_lr_predict: out of memory\n");
        abort();
    }
    ((double *)sf_value_data(pv))[0] = n;
    ((double *)sf_value_data(pv))[1] = m->opts.sigmoid;
    sf_argv_item args[2 * SF_ML_MAX_PARTIES + 2];
    int na = 0;
    args[na++] = SF_VAL(pv);
    for (int p = 0; p < n; p++) args[na++] = feature_arg(m, p, &xs[p]);
    for (int p = 0; p < n; p++) args[na++] = SF_OBJ(m->w[p]);
    args[na++] = SF_OBJ(m->bias);
    sf_obj pr;
    sf__remote_dev(m->spu, k_predict, (sf_site){__FILE__, __LINE__, "sf_ml_lr predict"}, 1, &pr, args, na);
    sf_value_unref(&pv);
    sf_obj out = sf_to(pr, sf_pyu(sf, sf_party_name_of(sf, to)));
    sf_release(pr);
    for (int p = 0; p < n; p++) sf_release(xs[p]);
    return out;
}

sf_obj sf_ml_lr_evaluate(const sf_ml_lr_model *m, const sf_obj *x, sf_obj y) {
    sf_ctx *sf = m->sf;
    sf_device lab = sf_pyu(sf, sf_party_name_of(sf, m->label_party));
    sf_obj pr = sf_ml_lr_predict(m, x, m->label_party);
    sf_obj yl = SF_REMOTE(lab, t_label, SF_OBJ(y));
    sf_obj r = SF_REMOTE(lab, t_metrics, SF_OBJ(pr), SF_OBJ(yl));
    sf_release(pr);
    sf_release(yl);
    return r;
}

int sf_ml_lr_save(const sf_ml_lr_model *m, const char *const *files) {
    sf_ctx *sf = m->sf;
    int n = m->nparties, rc = SF_OK, label_has = 0;
    sf_obj done[SF_ML_MAX_PARTIES + 1];
    int nd = 0;
    for (int p = 0; p < n; p++) {
        sf_device dev = sf_pyu(sf, sf_party_name_of(sf, m->party[p]));
        sf_obj wp = sf_to(m->w[p], dev);
        if (m->party[p] == m->label_party) {
            sf_obj bp = sf_to(m->bias, dev);
            done[nd++] = SF_REMOTE(dev, t_save, SF_OBJ(wp), SF_OBJ(m->scaler[p]), SF_STR(files[p]), SF_OBJ(bp));
            sf_release(bp);
            label_has = 1;
        } else {
            done[nd++] = SF_REMOTE(dev, t_save, SF_OBJ(wp), SF_OBJ(m->scaler[p]), SF_STR(files[p]));
        }
        sf_release(wp);
    }
    if (!label_has) {
        sf_device dev = sf_pyu(sf, sf_party_name_of(sf, m->label_party));
        sf_obj bp = sf_to(m->bias, dev);
        sf_value *none = sf_value_new(SF_F64, 1, (const int64_t[]){0});
        done[nd++] = SF_REMOTE(dev, t_save, SF_VAL(none), SF_VAL(none), SF_STR(files[n]), SF_OBJ(bp));
        sf_value_unref(&none);
        sf_release(bp);
    }
    rc = sf_wait(sf, done, nd);
    for (int i = 0; i < nd; i++) sf_release(done[i]);
    return rc;
}

void sf_ml_lr_release(sf_ml_lr_model *m) {
    if (!m || !m->sf) return;
    for (int p = 0; p < m->nparties; p++) {
        if (m->w[p].sf) sf_release(m->w[p]);
        if (m->scaler[p].sf) sf_release(m->scaler[p]);
    }
    if (m->bias.sf) sf_release(m->bias);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ plaintext baseline */

int sf_ml_lr_plain(const double *const *x, const int64_t *k, int n, const double *y, int64_t rows,
                   const sf_ml_lr_options *opts, double *w, double *bias, double *mean, double *std) {
    if (n < 1 || n > SF_ML_MAX_PARTIES || rows < 0) return SF_EINVAL;
    sf_ml_lr_options o = defaults(opts);
    int64_t K = 0, off[SF_ML_MAX_PARTIES];
    for (int p = 0; p < n; p++) off[p] = K, K += k[p];
    /* the scaled copy of every party's columns, side by side (rows x K) */
    double *xs = malloc(sizeof *xs * (size_t)(rows > 0 && K > 0 ? rows * K : 1));
    double *z = malloc(sizeof *z * (size_t)(o.batch_size + 1)), *g = malloc(sizeof *g * (size_t)(K ? K : 1));
    int64_t nb = rows ? (rows + o.batch_size - 1) / o.batch_size : 0;
    int64_t *order = malloc(sizeof *order * (size_t)(nb ? nb : 1));
    if (!xs || !z || !g || !order) {
        free(xs), free(z), free(g), free(order);
        return SF_ENOMEM;
    }
    for (int p = 0; p < n; p++) {
        if (o.raw_features)
            for (int64_t j = 0; j < k[p]; j++) mean[off[p] + j] = 0, std[off[p] + j] = 1;
        else
            col_stats(x[p], rows, k[p], mean + off[p], std + off[p]);
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < k[p]; j++)
                xs[i * K + off[p] + j] = (x[p][i * k[p] + j] - mean[off[p] + j]) / std[off[p] + j];
    }
    for (int64_t j = 0; j < K; j++) w[j] = 0;
    *bias = 0;
    for (int ep = 0; ep < o.epochs; ep++) {
        batch_order(o.seed, ep, nb, order);
        for (int64_t q = 0; q < nb; q++) {
            int64_t r0 = order[q] * o.batch_size, B = rows - r0 < o.batch_size ? rows - r0 : o.batch_size;
            double es = 0;
            for (int64_t j = 0; j < K; j++) g[j] = 0;
            for (int64_t i = 0; i < B; i++) {
                double s = *bias;
                for (int64_t j = 0; j < K; j++) s += xs[(r0 + i) * K + j] * w[j];
                double e = sf_sigmoid_approx(o.sigmoid, s) - y[r0 + i];
                for (int64_t j = 0; j < K; j++) g[j] += xs[(r0 + i) * K + j] * e;
                es += e;
            }
            for (int64_t j = 0; j < K; j++) w[j] = w[j] * (o.l2 > 0 ? 1 - o.learning_rate * o.l2 : 1) -
                                                     o.learning_rate * g[j] / (double)B;
            *bias -= o.learning_rate * es / (double)B;
        }
    }
    free(xs), free(z), free(g), free(order);
    return SF_OK;
}

void sf_ml_lr_plain_predict(const double *const *x, const int64_t *k, int n, int64_t rows,
                            const sf_ml_lr_options *opts, const double *w, double bias,
                            const double *mean, const double *std, double *pr) {
    sf_ml_lr_options o = defaults(opts);
    for (int64_t i = 0; i < rows; i++) {
        double s = bias;
        int64_t off = 0;
        for (int p = 0; p < n; p++) {
            for (int64_t j = 0; j < k[p]; j++)
                s += (x[p][i * k[p] + j] - mean[off + j]) / std[off + j] * w[off + j];
            off += k[p];
        }
        pr[i] = sf_sigmoid_approx(o.sigmoid, s);
    }
}

/* AUC by ranks: (sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0), ties averaged */
typedef struct {
    double s, y;
} sy;
static int cmp_sy(const void *a, const void *b) {
    double x = ((const sy *)a)->s, z = ((const sy *)b)->s;
    return (x > z) - (x < z);
}

double sf_ml_auc(const double *score, const double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (isnan(score[i])) return NAN; /* no order (a model that diverged) */
    sy *v = malloc(sizeof *v * (size_t)(n ? n : 1));
    if (!v) return NAN;
    for (int64_t i = 0; i < n; i++) v[i] = (sy){score[i], y[i]};
    qsort(v, (size_t)n, sizeof *v, cmp_sy);
    double rank_sum = 0, n1 = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double r = (double)(i + j + 1) / 2; /* average rank of the tie group (1-based) */
        for (int64_t q = i; q < j; q++)
            if (v[q].y != 0) rank_sum += r, n1++;
        i = j;
    }
    free(v);
    double n0 = (double)n - n1;
    return n1 && n0 ? (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0) : NAN;
}

double sf_ml_logloss(const double *p, const double *y, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double q = p[i] < 1e-15 ? 1e-15 : p[i] > 1 - 1e-15 ? 1 - 1e-15 : p[i];
        s -= y[i] != 0 ? log(q) : log(1 - q);
    }
    return n ? s / (double)n : NAN;
}
