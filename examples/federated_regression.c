/*
 * Federated linear regression: alice, bob and carol each hold private records (integer
 * features, a float target). First a federated mean: each party sums its features, the
 * sums move to carol, and every party learns only the joint feature means and standard
 * deviations, which each party then uses to standardize its own data. Then a few rounds
 * of gradient averaging: carol's weights are moved to every party, each computes the
 * gradient of its squared error on its own data, the gradients move to carol, who takes
 * a step weighted by the parties' record counts. Every round prints the mean squared
 * error and the weights; the end prints the model in the features' original units.
 *
 * Shows: explicit moves (sf_to) of weights and gradients, sf_wait on the local gradients
 * before aggregating, inline arguments of every kind (SF_STR party name, SF_I64 sizes
 * and round numbers, SF_BYTES seed salt, SF_F64 learning rate, SF_VAL with a 1-d float
 * array, a 2-d integer array and the 2-d float array revealed by sf_get), n-d float and
 * integer arrays (int32 records [n][3], moments [2][3], standardized data [n][4]),
 * tasks with several return values, sf_release of every per-round object, sf_get.
 *
 *   ./federated_regression --sf-mode=debug
 *   mpirun -np 3 ./federated_regression --sf-mode=sim
 */
#include <math.h>
#include <string.h>

#include "sfmpi/sf.h"

enum { NP = 3, D = 3, DW = D + 1, ROUNDS = 8 };

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ULL;
    return h;
}

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* make_data(name, n, salt bytes, coef f64[4], ranges i64[3][2])
 *   -> (X int32 [n][3], y float64 [n]) with x_j uniform in [lo_j, hi_j) and
 *      y = coef[0] + sum_j coef[j+1] * x_j + noise in [-0.5, 0.5]. */
static int make_data(sf_task *t) {
    const char *name = sf_arg_str(t, 0);
    int64_t n = sf_arg_i64(t, 1);
    const sf_value *salt = sf_arg(t, 2), *coef = sf_arg(t, 3), *ranges = sf_arg(t, 4);
    if (!salt || !coef || !ranges || n <= 0) return sf_fail(t, "bad arguments");
    if (sf_value_dtype(coef) != SF_F64 || sf_value_nelems(coef) != DW)
        return sf_fail(t, "coef: expected %d float64 values", DW);
    if (sf_value_dtype(ranges) != SF_I64 || sf_value_ndim(ranges) != 2 ||
        sf_value_dim(ranges, 0) != D || sf_value_dim(ranges, 1) != 2)
        return sf_fail(t, "ranges: expected an int64 [%d][2] array", D);
    const double *c = sf_value_cdata(coef);
    const int64_t(*rg)[2] = sf_value_cdata(ranges);
    uint64_t s = fnv1a(0xCBF29CE484222325ULL, name, strlen(name));
    s = fnv1a(s, sf_value_cdata(salt), sf_value_nbytes(salt)) | 1;

    sf_value *X = sf_value_new(SF_I32, 2, (int64_t[]){n, D});
    sf_value *y = sf_value_new(SF_F64, 1, (int64_t[]){n});
    if (!X || !y) {
        sf_value_unref(&X), sf_value_unref(&y);
        return sf_fail(t, "out of memory for %lld records", (long long)n);
    }
    int32_t(*x)[D] = sf_value_data(X);
    double *yy = sf_value_data(y);
    for (int64_t i = 0; i < n; i++) {
        double v = c[0];
        for (int j = 0; j < D; j++) {
            x[i][j] = (int32_t)(rg[j][0] + (int64_t)(next(&s) % (uint64_t)(rg[j][1] - rg[j][0])));
            v += c[j + 1] * x[i][j];
        }
        yy[i] = v + (double)(next(&s) % 1001) / 1000.0 - 0.5;
    }
    sf_return(t, 0, X);
    return sf_return(t, 1, y);
}

/* local_moments(X) -> (count int64, [sum; sum of squares] float64 [2][3]) */
static int local_moments(sf_task *t) {
    const sf_value *X = sf_arg(t, 0);
    int64_t n = sf_value_dim(X, 0);
    const int32_t(*x)[D] = sf_value_cdata(X);
    sf_value *m = sf_value_zeros(SF_F64, 2, (int64_t[]){2, D});
    if (!m) return sf_fail(t, "out of memory");
    double(*mm)[D] = sf_value_data(m);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) mm[0][j] += x[i][j], mm[1][j] += (double)x[i][j] * x[i][j];
    sf_return(t, 0, sf_value_i64(n));
    return sf_return(t, 1, m);
}

/* combine_moments(count_0, moments_0, ..., count_2, moments_2)
 *   -> ([mean; std] float64 [2][3], counts int64 [3]) */
static int combine_moments(sf_task *t) {
    sf_value *st = sf_value_zeros(SF_F64, 2, (int64_t[]){2, D});
    sf_value *cnt = sf_value_new(SF_I64, 1, (int64_t[]){NP});
    if (!st || !cnt) {
        sf_value_unref(&st), sf_value_unref(&cnt);
        return sf_fail(t, "out of memory");
    }
    double(*o)[D] = sf_value_data(st), q[D] = {0};
    int64_t *c = sf_value_data(cnt), total = 0;
    for (int p = 0; p < NP; p++) {
        c[p] = sf_arg_i64(t, 2 * p);
        total += c[p];
        const double(*m)[D] = sf_value_cdata(sf_arg(t, 2 * p + 1));
        for (int j = 0; j < D; j++) o[0][j] += m[0][j], q[j] += m[1][j];
    }
    for (int j = 0; j < D; j++) {
        o[0][j] /= (double)total;
        o[1][j] = sqrt(q[j] / (double)total - o[0][j] * o[0][j]);
    }
    sf_return(t, 0, st);
    return sf_return(t, 1, cnt);
}

/* standardize(X int32 [n][3], [mean; std] [2][3]) -> Z float64 [n][4], Z[i] = (1, z_i) */
static int standardize(sf_task *t) {
    const sf_value *X = sf_arg(t, 0), *st = sf_arg(t, 1);
    if (sf_value_dtype(st) != SF_F64 || sf_value_ndim(st) != 2 || sf_value_dim(st, 1) != D)
        return sf_fail(t, "stats: expected a float64 [2][%d] array", D);
    int64_t n = sf_value_dim(X, 0);
    const int32_t(*x)[D] = sf_value_cdata(X);
    const double(*s)[D] = sf_value_cdata(st);
    sf_value *Z = sf_value_new(SF_F64, 2, (int64_t[]){n, DW});
    if (!Z) return sf_fail(t, "out of memory");
    double(*z)[DW] = sf_value_data(Z);
    for (int64_t i = 0; i < n; i++) {
        z[i][0] = 1.0;
        for (int j = 0; j < D; j++) z[i][j + 1] = (x[i][j] - s[0][j]) / s[1][j];
    }
    return sf_return(t, 0, Z);
}

/* local_grad(Z, y, w) -> [sse, g_0..g_3] with g = sum_i (z_i.w - y_i) z_i */
static int local_grad(sf_task *t) {
    const sf_value *Z = sf_arg(t, 0), *y = sf_arg(t, 1), *w = sf_arg(t, 2);
    int64_t n = sf_value_dim(Z, 0);
    if (sf_value_nelems(y) != (size_t)n || sf_value_nelems(w) != DW)
        return sf_fail(t, "shape mismatch");
    const double(*z)[DW] = sf_value_cdata(Z), *yy = sf_value_cdata(y), *ww = sf_value_cdata(w);
    sf_value *g = sf_value_zeros(SF_F64, 1, (int64_t[]){DW + 1});
    if (!g) return sf_fail(t, "out of memory");
    double *o = sf_value_data(g);
    for (int64_t i = 0; i < n; i++) {
        double r = -yy[i];
        for (int k = 0; k < DW; k++) r += z[i][k] * ww[k];
        o[0] += r * r;
        for (int k = 0; k < DW; k++) o[k + 1] += r * z[i][k];
    }
    return sf_return(t, 0, g);
}

/* fed_step(w, lr, round, counts, grad_0, grad_1, grad_2) -> (new w, mse of w) */
static int fed_step(sf_task *t) {
    const double *w = sf_value_cdata(sf_arg(t, 0));
    double lr = sf_arg_f64(t, 1);
    const sf_value *cnt = sf_arg(t, 3);
    if (sf_value_dtype(cnt) != SF_I64 || sf_value_nelems(cnt) != NP)
        return sf_fail(t, "round %lld: counts: expected int64 [%d]",
                       (long long)sf_arg_i64(t, 2), NP);
    double n = 0, sse = 0, g[DW] = {0};
    for (int p = 0; p < NP; p++) {
        const double *gp = sf_value_cdata(sf_arg(t, 4 + p));
        n += (double)sf_value_as_i64(cnt, (size_t)p);
        sse += gp[0];
        for (int k = 0; k < DW; k++) g[k] += gp[k + 1];
    }
    sf_value *nw = sf_value_new(SF_F64, 1, (int64_t[]){DW});
    if (!nw) return sf_fail(t, "out of memory");
    double *o = sf_value_data(nw);
    for (int k = 0; k < DW; k++) o[k] = w[k] - lr * g[k] / n;
    sf_return(t, 0, nw);
    return sf_return(t, 1, sf_value_f64(sse / n));
}

static int zero_weights(sf_task *t) {
    return sf_return(t, 0, sf_value_zeros(SF_F64, 1, (int64_t[]){sf_arg_i64(t, 0)}));
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    static const char *const names[NP] = {"alice", "bob", "carol"};
    static const int64_t nrec[NP] = {40, 60, 80};
    static const int64_t ranges[NP][D][2] = {
        {{18, 50}, {0, 20}, {100, 600}},
        {{30, 70}, {5, 40}, {200, 900}},
        {{40, 80}, {10, 50}, {0, 1000}},
    };
    static const double coef[DW] = {3.0, 0.05, -0.02, 0.004};
    const double lr = 0.6;
    sf_device dev[NP];
    for (int p = 0; p < NP; p++) dev[p] = sf_pyu(sf, names[p]);
    sf_device carol = dev[2];

    /* public simulation parameters, built by every party (inline arguments) */
    sf_value *coefv = sf_value_new(SF_F64, 1, (int64_t[]){DW});
    if (!coefv) return SF_ENOMEM;
    memcpy(sf_value_data(coefv), coef, sizeof coef);

    /* private data and local moments */
    sf_obj X[NP], y[NP], mom[NP][2], at_carol[NP][2];
    for (int p = 0; p < NP; p++) {
        sf_value *rv = sf_value_new(SF_I64, 2, (int64_t[]){D, 2});
        if (!rv) return SF_ENOMEM;
        memcpy(sf_value_data(rv), ranges[p], sizeof ranges[p]);
        const uint8_t salt[8] = {0x5a, 0x17, (uint8_t)p, 0xc3, 0x00, 0x42, 0x99, 0x01};
        sf_obj out[2];
        SF_REMOTE_N(dev[p], make_data, 2, out, SF_STR(names[p]), SF_I64(nrec[p]),
                    SF_BYTES(salt, sizeof salt), SF_VAL(coefv), SF_VAL(rv));
        sf_value_unref(&rv); /* the runtime keeps its own reference */
        X[p] = out[0], y[p] = out[1];
        SF_REMOTE_N(dev[p], local_moments, 2, mom[p], SF_OBJ(X[p]));
        at_carol[p][0] = sf_to(mom[p][0], carol);
        at_carol[p][1] = sf_to(mom[p][1], carol);
    }
    sf_value_unref(&coefv);

    /* the federated mean: only the joint statistics are revealed */
    sf_obj stats[2];
    SF_REMOTE_N(carol, combine_moments, 2, stats, SF_OBJ(at_carol[0][0]), SF_OBJ(at_carol[0][1]),
                SF_OBJ(at_carol[1][0]), SF_OBJ(at_carol[1][1]), SF_OBJ(at_carol[2][0]),
                SF_OBJ(at_carol[2][1]));
    for (int p = 0; p < NP; p++)
        for (int k = 0; k < 2; k++) sf_release(mom[p][k]), sf_release(at_carol[p][k]);
    sf_value *sv, *cv;
    SF_TRY(sf_get(sf, stats[0], &sv));
    SF_TRY(sf_get(sf, stats[1], &cv));
    const double(*st)[D] = sf_value_cdata(sv);
    sf_print(sf, "records: alice %lld, bob %lld, carol %lld\n", (long long)sf_value_as_i64(cv, 0),
             (long long)sf_value_as_i64(cv, 1), (long long)sf_value_as_i64(cv, 2));
    for (int j = 0; j < D; j++)
        sf_print(sf, "feature %d: mean %.6f std %.6f\n", j, st[0][j], st[1][j]);

    /* each party standardizes its own records with the revealed [2][3] statistics */
    sf_obj Z[NP];
    for (int p = 0; p < NP; p++) {
        Z[p] = SF_REMOTE(dev[p], standardize, SF_OBJ(X[p]), SF_VAL(sv));
        sf_release(X[p]);
    }

    /* gradient averaging */
    sf_obj w = SF_REMOTE(carol, zero_weights, SF_I64(DW));
    for (int r = 1; r <= ROUNDS; r++) {
        sf_obj wp[NP], g[NP], gc[NP], out[2];
        for (int p = 0; p < NP; p++) {
            wp[p] = sf_to(w, dev[p]);
            g[p] = SF_REMOTE(dev[p], local_grad, SF_OBJ(Z[p]), SF_OBJ(y[p]), SF_OBJ(wp[p]));
        }
        int rc = sf_wait(sf, g, NP);
        if (rc) {
            sf_log(sf, "round %d: a local gradient failed: %s", r, sf_last_error(sf));
            return rc;
        }
        for (int p = 0; p < NP; p++) gc[p] = sf_to(g[p], carol);
        SF_REMOTE_N(carol, fed_step, 2, out, SF_OBJ(w), SF_F64(lr), SF_I64(r), SF_OBJ(stats[1]),
                    SF_OBJ(gc[0]), SF_OBJ(gc[1]), SF_OBJ(gc[2]));
        sf_value *mse, *wv;
        SF_TRY(sf_get(sf, out[1], &mse));
        SF_TRY(sf_get(sf, out[0], &wv));
        const double *nw = sf_value_cdata(wv);
        sf_print(sf, "round %d: mse %.6f -> w = [%.6f, %.6f, %.6f, %.6f]\n", r,
                 sf_value_as_f64(mse, 0), nw[0], nw[1], nw[2], nw[3]);
        for (int p = 0; p < NP; p++) sf_release(wp[p]), sf_release(g[p]), sf_release(gc[p]);
        sf_release(out[1]);
        sf_release(w);
        w = out[0];
    }

    /* the model in original units: y = b + sum_j a_j x_j */
    sf_value *wv;
    SF_TRY(sf_get(sf, w, &wv));
    const double *fw = sf_value_cdata(wv);
    double b = fw[0], a[D];
    for (int j = 0; j < D; j++) a[j] = fw[j + 1] / st[1][j], b -= a[j] * st[0][j];
    sf_log(sf, "model revealed");
    sf_print(sf, "model: y = %.6f %+.6f*x0 %+.6f*x1 %+.6f*x2\n", b, a[0], a[1], a[2]);
    sf_print(sf, "truth: y = %.6f %+.6f*x0 %+.6f*x1 %+.6f*x2\n", coef[0], coef[1], coef[2],
             coef[3]);
    for (int p = 0; p < NP; p++) sf_release(Z[p]), sf_release(y[p]);
    sf_release(w);
    sf_release(stats[0]);
    sf_release(stats[1]);
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
