/*
 * Secure logistic regression (sf_ml_lr_*) on the Wisconsin breast-cancer table
 * (tests/testdata/breast_cancer.csv: 569 rows x 30 features), split vertically: alice
 * holds features 0-9 and the label, bob 10-19, carol 20-29; dave holds nothing. Rows
 * i % 5 == 4 are the test set (114 rows), the others train (455 rows).
 *
 * Configurations (--config=NAME), covering every role a feature party and the label
 * holder can play:
 *   aby3          alice, bob, carol members: every party's features private (SF_PRIVATE);
 *                 the label at alice, a member
 *   semi2k-dealer alice, bob members, carol the outside dealer: carol's features are
 *                 secret-shared (a dealer cannot keep an operand private), the others
 *                 private; the label at carol, the dealer
 *   semi2k-out    alice, bob members, dave the outside dealer, carol outside the SPU: carol's
 *                 features are secret-shared; the label at dave, which holds no features
 *                 (its own file gets the bias)
 * and the same training in double precision (sf_ml_lr_plain) with the same hyper-parameters
 * and the same sigmoid approximation. Checks, on the test rows: AUC within 0.01 and
 * log-loss within 0.02 of the plaintext model's, every weight and the bias within 0.02 of
 * the plaintext ones (docs/guide.md), the saved weight files equal to the revealed weights,
 * and the AUC itself above 0.97 (a model that learnt nothing fails even if both agree).
 *
 * Prints one line per configuration with the figures, then "lr_breast: N checks passed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "../check.h"
#include "sfmpi/ml.h"

#define NPARTIES 4
static const char *const parties[NPARTIES] = {"alice", "bob", "carol", "dave"};
#define ROWS 569
#define COLS 30
#define NF 3 /* feature parties */

static double DATA[ROWS][COLS + 1];

static int load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    if (!fgets(line, sizeof line, f) || strncmp(line, "569,30,", 7)) {
        fclose(f);
        return -1;
    }
    for (int i = 0; i < ROWS; i++) {
        if (!fgets(line, sizeof line, f)) {
            fclose(f);
            return -1;
        }
        char *p = line;
        for (int j = 0; j <= COLS; j++) {
            char *e;
            DATA[i][j] = strtod(p, &e);
            if (e == p) {
                fclose(f);
                return -1;
            }
            p = *e == ',' ? e + 1 : e;
        }
    }
    fclose(f);
    return 0;
}

static int is_test(int i) { return i % 5 == 4; }

/* party p's columns (p = 0..2) of the train (test = 0) or test rows; p = 3: the label */
static void columns(int p, int test, double *out, int64_t *rows) {
    int64_t r = 0;
    for (int i = 0; i < ROWS; i++) {
        if (is_test(i) != test) continue;
        if (p == NF) out[r] = DATA[i][COLS];
        else
            for (int j = 0; j < 10; j++) out[r * 10 + j] = DATA[i][p * 10 + j];
        r++;
    }
    *rows = r;
}

static int t_cols(sf_task *t) {
    int p = (int)sf_arg_i64(t, 0), test = (int)sf_arg_i64(t, 1);
    static double buf[ROWS * 10];
    int64_t r;
    columns(p, test, buf, &r);
    sf_value *v = p == NF ? sf_value_new(SF_I64, 1, (const int64_t[]){r})
                          : sf_value_new(SF_F64, 2, (const int64_t[]){r, 10});
    if (!v) return sf_fail(t, "out of memory");
    for (int64_t i = 0; i < (int64_t)sf_value_nelems(v); i++) {
        if (p == NF) ((int64_t *)sf_value_data(v))[i] = (int64_t)buf[i];
        else ((double *)sf_value_data(v))[i] = buf[i];
    }
    return sf_return(t, 0, v);
}

/* a dataset of an HDF5 file (as float64), at the party that wrote it */
static int t_read_weights(sf_task *t) {
    const char *file = sf_arg_str(t, 0), *ds = sf_arg_str(t, 1);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sf_fail(t, "cannot open %s", file);
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    sf_value *v = n < 0 ? NULL : sf_value_new(SF_F64, 1, (const int64_t[]){(int64_t)n});
    herr_t rc = v ? H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sf_value_data(v)) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    if (rc < 0) {
        sf_value_unref(&v);
        return sf_fail(t, "cannot read %s:%s", file, ds);
    }
    return sf_return(t, 0, v);
}

typedef struct {
    const char *name, *protocol, *members[3];
    int nmembers;
    const char *dealer, *label;
} config;

static const config configs[] = {
    {"aby3", "aby3", {"alice", "bob", "carol"}, 3, NULL, "alice"},
    {"semi2k-dealer", "semi2k", {"alice", "bob"}, 2, "carol", "carol"},
    {"semi2k-out", "semi2k", {"alice", "bob"}, 2, "dave", "dave"},
};

typedef struct {
    sf_ctx *sf;
    long checks, failed;
} tally;

#define CHECK(ty, cond, ...)                                  \
    do {                                                      \
        (ty)->checks++;                                       \
        if (!ASSERT_MSG((cond), __VA_ARGS__)) (ty)->failed++; \
    } while (0)

static void run(tally *ty, const config *c, const sf_ml_lr_options *o, const char *dir) {
    sf_ctx *sf = ty->sf;
    sf_scope sc = sf_scope_begin(sf);
    sf_spu_options so = {.protocol = c->protocol, .dealer = c->dealer};
    sf_device spu = sf_spu(sf, c->members, c->nmembers, &so);
    sf_obj xtr[NF], xte[NF];
    for (int p = 0; p < NF; p++) {
        xtr[p] = SF_REMOTE(sf_pyu(sf, parties[p]), t_cols, SF_I64(p), SF_I64(0));
        xte[p] = SF_REMOTE(sf_pyu(sf, parties[p]), t_cols, SF_I64(p), SF_I64(1));
    }
    sf_obj ytr = SF_REMOTE(sf_pyu(sf, c->label), t_cols, SF_I64(NF), SF_I64(0));
    sf_obj yte = SF_REMOTE(sf_pyu(sf, c->label), t_cols, SF_I64(NF), SF_I64(1));
    sf_ml_lr_model m;
    int rc = sf_ml_lr_fit(spu, xtr, NF, ytr, o, &m);
    CHECK(ty, rc == SF_OK, "[%s] fit: %s", c->name, sf_last_error(sf));
    if (rc) {
        sf_ml_lr_release(&m);
        sf_scope_end(&sc, NULL, 0);
        return;
    }
    /* the plaintext model on the same rows */
    static double X[NF][ROWS * 10], Y[ROWS], XT[NF][ROWS * 10], YT[ROWS], W[COLS], MEAN[COLS], STD[COLS], PT[ROWS];
    int64_t ntr, nte, k[NF] = {10, 10, 10};
    for (int p = 0; p < NF; p++) columns(p, 0, X[p], &ntr), columns(p, 1, XT[p], &nte);
    columns(NF, 0, Y, &ntr);
    columns(NF, 1, YT, &nte);
    double bias;
    const double *xp[NF] = {X[0], X[1], X[2]}, *xtp[NF] = {XT[0], XT[1], XT[2]};
    sf_ml_lr_plain(xp, k, NF, Y, ntr, o, W, &bias, MEAN, STD);
    sf_ml_lr_plain_predict(xtp, k, NF, nte, o, W, bias, MEAN, STD, PT);
    double auc0 = sf_ml_auc(PT, YT, nte), ll0 = sf_ml_logloss(PT, YT, nte);

    sf_obj met = sf_ml_lr_evaluate(&m, xte, yte);
    sf_value *v;
    double auc = NAN, ll = NAN;
    if (sf_get(sf, met, &v) == SF_OK) auc = sf_value_as_f64(v, 0), ll = sf_value_as_f64(v, 1);
    else TEST_FAIL("[%s] evaluate: %s", c->name, sf_last_error(sf));
    CHECK(ty, fabs(auc - auc0) <= 0.01, "[%s] AUC %.5f, plaintext %.5f", c->name, auc, auc0);
    CHECK(ty, fabs(ll - ll0) <= 0.02, "[%s] log-loss %.5f, plaintext %.5f", c->name, ll, ll0);
    CHECK(ty, auc > 0.97, "[%s] AUC %.5f: the model learnt little", c->name, auc);
    /* weights (revealed here to check them) and the saved files */
    double wmax = 0;
    char files[NF + 1][512];
    const char *fp[NF + 1];
    for (int p = 0; p <= NF; p++) { /* files[NF]: the label holder's, when it has no features */
        snprintf(files[p], sizeof files[p], "%s/%s-%s.h5", dir, c->name, p < NF ? parties[p] : c->label);
        fp[p] = files[p];
    }
    rc = sf_ml_lr_save(&m, fp);
    CHECK(ty, rc == SF_OK, "[%s] save: %s", c->name, sf_last_error(sf));
    for (int p = 0; p < NF; p++) {
        sf_value *wv, *fv;
        if (sf_get(sf, m.w[p], &wv)) {
            TEST_FAIL("[%s] weights of %s: %s", c->name, parties[p], sf_last_error(sf));
            ty->checks++, ty->failed++;
            continue;
        }
        sf_obj fo = SF_REMOTE(sf_pyu(sf, parties[p]), t_read_weights, SF_STR(files[p]), SF_STR("weights"));
        int frc = sf_get(sf, fo, &fv);
        CHECK(ty, !frc && sf_value_nelems(fv) == 10, "[%s] %s's weight file: %s", c->name, parties[p],
              frc ? sf_last_error(sf) : "not 10 weights");
        for (int j = 0; j < 10; j++) {
            double d = fabs(sf_value_as_f64(wv, (size_t)j) - W[p * 10 + j]);
            if (d > wmax) wmax = d;
            if (!frc && sf_value_nelems(fv) == 10)
                CHECK(ty, sf_value_as_f64(fv, (size_t)j) == sf_value_as_f64(wv, (size_t)j),
                      "[%s] %s's saved weight %d differs from the model's", c->name, parties[p], j);
        }
    }
    sf_value *bv, *fb;
    double bd = NAN;
    if (!sf_get(sf, m.bias, &bv)) bd = fabs(sf_value_as_f64(bv, 0) - bias);
    /* the bias in the label holder's file */
    int lp = !strcmp(c->label, "dave") ? NF : !strcmp(c->label, "carol") ? 2 : 0;
    sf_obj bo = SF_REMOTE(sf_pyu(sf, c->label), t_read_weights, SF_STR(files[lp]), SF_STR("bias"));
    int brc = sf_get(sf, bo, &fb);
    CHECK(ty, !brc && sf_value_nelems(fb) == 1 && !sf_get(sf, m.bias, &bv) &&
              sf_value_as_f64(fb, 0) == sf_value_as_f64(bv, 0),
          "[%s] the bias in %s's file: %s", c->name, c->label, brc ? sf_last_error(sf) : "differs");
    CHECK(ty, wmax <= 0.02 && bd <= 0.02, "[%s] weights differ from plaintext by up to %.4f, bias %.4f",
          c->name, wmax, bd);
    sf_print(sf, "lr_breast: %-14s sigmoid %d: AUC %.5f (plaintext %.5f), log-loss %.5f (plaintext %.5f), "
                 "largest weight difference %.5f, bias %.5f\n", c->name, (int)m.opts.sigmoid, auc, auc0, ll, ll0,
             wmax, bd);
    sf_ml_lr_release(&m);
    sf_scope_end(&sc, NULL, 0);
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    char **av = sf_argv(sf);
    const char *data = NULL, *only = NULL, *dir = NULL;
    sf_ml_lr_options o = {.learning_rate = 0.2, .epochs = 8, .batch_size = 64, .l2 = 0.001, .seed = 7, .quiet = 1,
                          .sigmoid = SF_SIGMOID_SEGMENTED};
    for (int i = 1; av[i]; i++) {
        if (!strncmp(av[i], "--data=", 7)) data = av[i] + 7;
        else if (!strncmp(av[i], "--config=", 9)) only = av[i] + 9;
        else if (!strncmp(av[i], "--dir=", 6)) dir = av[i] + 6;
        else if (!strncmp(av[i], "--sigmoid=", 10)) o.sigmoid = (sf_spu_sigmoid_kind)atoi(av[i] + 10);
        else if (!strncmp(av[i], "--epochs=", 9)) o.epochs = atoi(av[i] + 9);
        else if (!strncmp(av[i], "--mask-bits=", 12)) o.mask_bits = atoi(av[i] + 12);
        else if (!strcmp(av[i], "--raw")) o.raw_features = 1;
    }
    if (!data || load(data) || !dir) {
        sf_print(sf, "lr_breast: usage: --data=breast_cancer.csv --dir=DIR [--config=NAME] [--sigmoid=K] "
                     "[--mask-bits=32] [--raw]\n");
        return SF_EINVAL;
    }
    if (mkdir(dir, 0777) && errno != EEXIST) { /* every process: the parties write there */
        sf_print(sf, "lr_breast: cannot make %s: %s\n", dir, strerror(errno));
        return SF_EINVAL;
    }
    tally ty = {.sf = sf};
    for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++)
        if (!only || !strcmp(only, configs[ci].name)) run(&ty, &configs[ci], &o, dir);
    if (ty.failed || !ty.checks) {
        sf_print(sf, "lr_breast: %ld of %ld checks FAILED\n", ty.failed, ty.checks);
        return SF_EINVAL;
    }
    sf_print(sf, "lr_breast: %ld checks passed\n", ty.checks);
    return 0;
}

int main(int argc, char **argv) {
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = NPARTIES};
    return sf_run(&cfg, program, NULL);
}
