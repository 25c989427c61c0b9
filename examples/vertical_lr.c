/*
 * The vertical learning pipeline: private set intersection, then secure logistic
 * regression on the aligned rows, then scoring. Three parties (--sf-parties, or the
 * cluster file) each hold DATA/<party>.h5: "ids" (their customers, in their own order),
 * "x" (their feature columns), and the label party also "y" (0/1). Nobody's file leaves
 * its party:
 *   1. sf_psi_h5 finds the common IDs; each party writes OUT/<party>-index.h5 ("index": its
 *      rows in the intersection, row k the same customer at every party);
 *   2. each party takes its aligned rows and splits them by a public rule on the ID (one in
 *      five for testing);
 *   3. sf_ml_lr_fit trains in an SPU (aby3 among the three, or semi2k among the first two
 *      with the third as the dealer, --protocol=semi2k); members' features stay private;
 *   4. sf_ml_lr_evaluate reveals the test AUC and log-loss to the label party, which here
 *      shares them with everyone; sf_ml_lr_save writes each party's own weights to
 *      OUT/<party>-model.h5 (the bias to the label party's).
 *
 *   sfmpi lr-data --out DATA --csv tests/testdata/breast_cancer.csv
 *   ./vertical_lr DATA OUT --sf-mode=debug --sf-parties=alice,bob,carol
 *   mpirun -np 3 ./vertical_lr DATA OUT --sf-mode=sim --sf-parties=alice,bob,carol
 *   sfmpi run --mode=prod --parties alice,bob,carol ./vertical_lr DATA OUT
 * Options: --protocol=aby3|semi2k --epochs=N --batch=N --lr=X --l2=X
 *          --sigmoid=linear|segmented|exp --label=PARTY
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sfmpi/ml.h"
#include "sfmpi/psi.h"

/* args: rows (any dtype, aligned), ids (aligned), which (0 train, 1 test): those rows */
static int t_split(sf_task *t) {
    const sf_value *x = sf_arg(t, 0), *ids = sf_arg(t, 1);
    int test = (int)sf_arg_i64(t, 2);
    int64_t n = sf_value_dim(x, 0), w = (int64_t)(n ? sf_value_nelems(x) / (size_t)n : 1), c = 0;
    if ((int64_t)sf_value_nelems(ids) != n) return sf_fail(t, "%lld rows but %zu IDs", (long long)n, sf_value_nelems(ids));
    for (int64_t i = 0; i < n; i++) c += (((const int64_t *)sf_value_cdata(ids))[i] % 5 == 4) == test;
    int64_t sh[SF_MAX_DIMS];
    memcpy(sh, sf_value_shape(x), sizeof(int64_t) * (size_t)sf_value_ndim(x));
    sh[0] = c;
    sf_value *o = sf_value_new(sf_value_dtype(x), sf_value_ndim(x), sh);
    if (!o) return sf_fail(t, "out of memory");
    size_t rb = (size_t)w * sf_dtype_size(sf_value_dtype(x));
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++)
        if ((((const int64_t *)sf_value_cdata(ids))[i] % 5 == 4) == test)
            memcpy((char *)sf_value_data(o) + rb * (size_t)r++, (const char *)sf_value_cdata(x) + rb * (size_t)i, rb);
    return sf_return(t, 0, o);
}

static int count_rows(sf_task *t) { return sf_return(t, 0, sf_value_i64(sf_value_dim(sf_arg(t, 0), 0))); }

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *in = NULL, *out = NULL, *protocol = "aby3", *label = NULL;
    sf_ml_lr_options o = {.learning_rate = 0.2, .epochs = 8, .batch_size = 64, .l2 = 0.001, .seed = 7};
    for (int i = 1; i < sf_argc(sf); i++) {
        const char *a = sf_argv(sf)[i];
        if (!strncmp(a, "--protocol=", 11)) protocol = a + 11;
        else if (!strncmp(a, "--epochs=", 9)) o.epochs = atoi(a + 9);
        else if (!strncmp(a, "--batch=", 8)) o.batch_size = atoll(a + 8);
        else if (!strncmp(a, "--lr=", 5)) o.learning_rate = atof(a + 5);
        else if (!strncmp(a, "--l2=", 5)) o.l2 = atof(a + 5);
        else if (!strncmp(a, "--label=", 8)) label = a + 8;
        else if (!strcmp(a, "--sigmoid=linear")) o.sigmoid = SF_SIGMOID_LINEAR;
        else if (!strcmp(a, "--sigmoid=segmented")) o.sigmoid = SF_SIGMOID_SEGMENTED;
        else if (!strcmp(a, "--sigmoid=exp")) o.sigmoid = SF_SIGMOID_EXP;
        else if (!in && a[0] != '-') in = a;
        else if (!out && a[0] != '-') out = a;
        else {
            sf_log(sf, "vertical_lr: unknown argument %s", a);
            return 2;
        }
    }
    if (!in || !out || sf_nparties(sf) != 3 || (strcmp(protocol, "aby3") && strcmp(protocol, "semi2k"))) {
        sf_log(sf, "usage: vertical_lr DATA OUT [--protocol=aby3|semi2k] [--epochs=N] ... with three parties");
        return 2;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        sf_log(sf, "vertical_lr: cannot create %s: %s", out, strerror(errno));
        return 2;
    }
    const char *name[3];
    sf_device dev[3];
    char data[3][512], index[3][512], model[3][512];
    sf_psi_h5_party files[3];
    int lp = 0;
    for (int p = 0; p < 3; p++) {
        name[p] = sf_party_name_of(sf, p);
        dev[p] = sf_pyu(sf, name[p]);
        snprintf(data[p], sizeof data[p], "%s/%s.h5", in, name[p]);
        snprintf(index[p], sizeof index[p], "%s/%s-index.h5", out, name[p]);
        snprintf(model[p], sizeof model[p], "%s/%s-model.h5", out, name[p]);
        files[p] = (sf_psi_h5_party){data[p], "ids", index[p], "index"};
        if (label && !strcmp(label, name[p])) lp = p;
    }
    /* 1. align */
    int64_t common;
    SF_TRY(sf_psi_h5(sf, dev, files, 3, NULL, &common));
    sf_print(sf, "PSI: %lld customers common to %s, %s and %s\n", (long long)common, name[0], name[1], name[2]);
    /* 2. each party's aligned rows, split by ID */
    sf_obj xtr[3], xte[3], ytr = {0}, yte = {0};
    for (int p = 0; p < 3; p++) {
        sf_obj idx = sf_h5_read(dev[p], index[p], "index");
        sf_obj ids = sf_psi_take(dev[p], sf_h5_read(dev[p], data[p], "ids"), idx);
        sf_obj x = sf_psi_take(dev[p], sf_h5_read(dev[p], data[p], "x"), idx);
        xtr[p] = SF_REMOTE(dev[p], t_split, SF_OBJ(x), SF_OBJ(ids), SF_I64(0));
        xte[p] = SF_REMOTE(dev[p], t_split, SF_OBJ(x), SF_OBJ(ids), SF_I64(1));
        if (p == lp) {
            sf_obj y = sf_psi_take(dev[p], sf_h5_read(dev[p], data[p], "y"), idx);
            ytr = SF_REMOTE(dev[p], t_split, SF_OBJ(y), SF_OBJ(ids), SF_I64(0));
            yte = SF_REMOTE(dev[p], t_split, SF_OBJ(y), SF_OBJ(ids), SF_I64(1));
        }
    }
    sf_value *nt, *ns;
    sf_obj ntr = SF_REMOTE(dev[lp], count_rows, SF_OBJ(ytr)), nte = SF_REMOTE(dev[lp], count_rows, SF_OBJ(yte));
    SF_TRY(sf_get(sf, ntr, &nt));
    SF_TRY(sf_get(sf, nte, &ns));
    sf_print(sf, "split by ID: %lld rows to train, %lld to test\n", (long long)sf_value_as_i64(nt, 0),
             (long long)sf_value_as_i64(ns, 0));
    /* 3. train */
    int aby3 = !strcmp(protocol, "aby3");
    sf_spu_options so = {.protocol = protocol, .dealer = aby3 ? NULL : name[2]};
    sf_device spu = sf_spu(sf, name, aby3 ? 3 : 2, &so);
    sf_ml_lr_model m;
    SF_TRY(sf_ml_lr_fit(spu, xtr, 3, ytr, &o, &m));
    sf_print(sf, "trained %d epochs in the SPU (%s%s), batches of %lld rows\n", m.opts.epochs, protocol,
             aby3 ? "" : ", the third party dealing", (long long)m.opts.batch_size);
    /* 4. score and save */
    sf_obj met = sf_ml_lr_evaluate(&m, xte, yte);
    sf_value *mv;
    SF_TRY(sf_get(sf, met, &mv));
    /* to the digits that stay put from run to run: the protocol's truncations are randomized
     * (floor or floor + 1), which moves the log-loss by about 1e-3 between runs */
    sf_print(sf, "test: AUC %.2f, log-loss %.1f\n", sf_value_as_f64(mv, 0), sf_value_as_f64(mv, 1));
    SF_TRY(sf_ml_lr_save(&m, (const char *const[]){model[0], model[1], model[2]}));
    sf_print(sf, "each party wrote its own weights to <party>-model.h5 in OUT\n");
    sf_ml_lr_release(&m);
    return 0;
}

int main(int argc, char **argv) { return sf_main(argc, argv, program, NULL); }
