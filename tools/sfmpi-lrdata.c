/*
 * sfmpi-lrdata: vertically split tables for secure logistic regression (sfmpi lr-data).
 *
 *   sfmpi-lrdata --out DIR [--parties a,b,c] [--label PARTY] [--seed S] [--extra F]
 *                (--csv FILE | --rows N --features K)
 *
 * writes DIR/<party>.h5 for every party: "ids" int64 [n_p] (the party's customer IDs, in
 * an order of its own), "x" float64 [n_p, k_p] (its feature columns, row-aligned with
 * "ids"), and for the label party also "y" int64 [n_p] (0/1). Every ID of the table is
 * held by every party; each party also holds a fraction --extra (default 0.1) of rows of
 * its own (IDs no other party has, random features and, at the label party, random
 * labels), so that the parties' rows line up only after a PSI. DIR/model.h5 holds the truth:
 * "ids" (the common IDs in table order) and, for a synthetic table, "beta" (the
 * coefficients, party after party) and "bias".
 *
 *   --csv FILE   the rows of a CSV whose first line is "rows,features,..." (the layout of
 *                scikit-learn's breast_cancer.csv) and whose rows are the features then the
 *                0/1 class: the features are dealt to the parties in contiguous groups
 *                (the first parties get one more when they do not divide evenly).
 *   --rows N --features K   a synthetic table of N rows and K features per party, from a
 *                known logistic model: x ~ N(0, 1) (a function of the seed, the ID and
 *                the column), beta ~ N(0, 1) scaled so that x beta has standard deviation
 *                4 (a separable but noisy problem), y ~ Bernoulli(sigmoid(x beta + bias)).
 *                Memory: one party's columns at a time (n_p x k_p doubles) and the labels.
 *
 * IDs: the table's row r has ID r * S + (hash(seed, r) mod S) with S = 2^62 / (rows of
 * every kind): distinct, pseudo-random, and a party cannot guess another's extra rows.
 * Row orders: a Fisher-Yates shuffle per party from (seed, party).
 * Files are written through io/h5out (temporary name, fsync, rename). Exit status 0, 1 on
 * an input or output failure (named), 2 on a usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5out.h"
#include "tools/cliopt.h"

#define ME "sfmpi-lrdata"
#define MAXP 16

static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unif(uint64_t h) { return ((double)(h >> 11) + 0.5) * 0x1p-53; }
static double gauss(uint64_t h) { /* Box-Muller from two draws of one hash */
    return sqrt(-2 * log(unif(mix(h)))) * cos(2 * M_PI * unif(mix(h ^ 0x5DEECE66DULL)));
}

static int usage(const char *msg) {
    if (msg) fprintf(stderr, ME ": %s\n", msg);
    fprintf(stderr, "usage: sfmpi lr-data --out DIR [--parties a,b,c] [--label PARTY] [--seed S]\n"
                    "                     [--extra F] (--csv FILE | --rows N --features K)\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *out = NULL, *csv = NULL, *label = NULL, *plist = "alice,bob,carol";
    long long rows = -1, kper = -1;
    unsigned long long seed = 1;
    double extra = 0.1;
    for (int i = 1; i < argc; i++) {
        char opt[64];
        const char *eq = cli_split(argv[i], opt, sizeof opt), *v;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(NULL);
            return 0;
        }
        if (strncmp(opt, "--", 2)) return usage("arguments are options");
        if (!(v = cli_value(argc, argv, &i, eq))) return usage("an option without its value");
        char *e = NULL;
        if (!strcmp(opt, "--out")) out = v;
        else if (!strcmp(opt, "--csv")) csv = v;
        else if (!strcmp(opt, "--label")) label = v;
        else if (!strcmp(opt, "--parties")) plist = v;
        else if (!strcmp(opt, "--rows")) rows = strtoll(v, &e, 10);
        else if (!strcmp(opt, "--features")) kper = strtoll(v, &e, 10);
        else if (!strcmp(opt, "--seed")) seed = strtoull(v, &e, 10);
        else if (!strcmp(opt, "--extra")) extra = strtod(v, &e);
        else return usage("unknown option");
        if (e && *e) return usage("a number option with a value that is not a number");
    }
    if (!out) return usage("--out DIR is required");
    if (!csv == (rows < 0)) return usage("give --csv FILE, or --rows N with --features K");
    if (!csv && (rows < 1 || kper < 1 || rows > (1LL << 34) || kper > 100000))
        return usage("--rows and --features must be positive (and sane)");
    if (!(extra >= 0 && extra <= 10)) return usage("--extra must be in [0, 10]");
    /* parties */
    char pbuf[1024], *pn[MAXP];
    int np = 0;
    snprintf(pbuf, sizeof pbuf, "%s", plist);
    for (char *s = strtok(pbuf, ","); s; s = strtok(NULL, ",")) {
        if (np == MAXP) return usage("at most 16 parties");
        pn[np++] = s;
    }
    if (np < 1) return usage("--parties names no party");
    int lp = 0;
    if (label) {
        lp = -1;
        for (int p = 0; p < np; p++)
            if (!strcmp(pn[p], label)) lp = p;
        if (lp < 0) return usage("--label is not one of --parties");
    }
    /* the table: T rows of K features, y */
    int64_t T, K;
    double *X = NULL, *Y = NULL, beta_bias = 0, *beta = NULL;
    if (csv) {
        FILE *f = fopen(csv, "r");
        if (!f) {
            fprintf(stderr, ME ": cannot read %s: %s\n", csv, strerror(errno));
            return 1;
        }
        long long r0, k0;
        if (fscanf(f, "%lld,%lld", &r0, &k0) != 2 || r0 < 1 || k0 < 1 || r0 > 100000000 || k0 > 100000) {
            fprintf(stderr, ME ": %s: the first line is not \"rows,features,...\"\n", csv);
            fclose(f);
            return 1;
        }
        int c;
        while ((c = fgetc(f)) != '\n' && c != EOF) {}
        T = r0, K = k0;
        X = malloc(sizeof *X * (size_t)(T * K));
        Y = malloc(sizeof *Y * (size_t)T);
        if (!X || !Y) return fprintf(stderr, ME ": out of memory\n"), 1;
        for (int64_t i = 0; i < T; i++) {
            for (int64_t j = 0; j <= K; j++) {
                double d;
                if (fscanf(f, j ? ",%lf" : "%lf", &d) != 1) {
                    fprintf(stderr, ME ": %s: row %lld has no number in column %lld\n", csv, (long long)i + 2,
                            (long long)j + 1);
                    fclose(f);
                    return 1;
                }
                if (j < K) X[i * K + j] = d;
                else if (d != 0 && d != 1) {
                    fprintf(stderr, ME ": %s: row %lld: the class %g is not 0 or 1\n", csv, (long long)i + 2, d);
                    fclose(f);
                    return 1;
                } else Y[i] = d;
            }
        }
        fclose(f);
    } else {
        T = rows;
        K = kper * np;
        beta = malloc(sizeof *beta * (size_t)K);
        Y = malloc(sizeof *Y * (size_t)T);
        if (!beta || !Y) return fprintf(stderr, ME ": out of memory\n"), 1;
        double ss = 0;
        for (int64_t j = 0; j < K; j++) beta[j] = gauss(mix(seed ^ 0xBE7A000000000000ULL ^ (uint64_t)j)), ss += beta[j] * beta[j];
        for (int64_t j = 0; j < K; j++) beta[j] *= 4 / sqrt(ss);
        beta_bias = 0.5 * gauss(mix(seed ^ 0xB1A5ULL));
        for (int64_t i = 0; i < T; i++) { /* y from the whole row (features are recomputed per party) */
            double z = beta_bias;
            for (int64_t j = 0; j < K; j++) z += beta[j] * gauss(mix(seed ^ mix((uint64_t)i * 0x100000001B3ULL + (uint64_t)j)));
            Y[i] = unif(mix(seed ^ 0x7A11ULL ^ mix((uint64_t)i))) < 1 / (1 + exp(-z)) ? 1 : 0;
        }
    }
    if (K < np) return usage("fewer features than parties");
    if (mkdir(out, 0755) && errno != EEXIST) {
        fprintf(stderr, ME ": cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    int64_t ex = (int64_t)llround(extra * (double)T), total = T + np * ex;
    uint64_t S = (UINT64_C(1) << 62) / (uint64_t)total;
    char err[512], path[4096];
    /* the parties' files */
    int64_t col0 = 0;
    for (int p = 0; p < np; p++) {
        int64_t kp = K / np + (p < K % np ? 1 : 0), n = T + ex;
        /* row order: table rows 0..T-1 and own extra rows T..T+ex-1, shuffled */
        int64_t *ord = malloc(sizeof *ord * (size_t)n);
        int64_t *ids = malloc(sizeof *ids * (size_t)n), *yy = malloc(sizeof *yy * (size_t)n);
        double *xp = malloc(sizeof *xp * (size_t)(n > 0 && kp > 0 ? n * kp : 1));
        if (!ord || !ids || !yy || !xp) return fprintf(stderr, ME ": out of memory\n"), 1;
        for (int64_t i = 0; i < n; i++) ord[i] = i;
        uint64_t s = mix(seed ^ mix(0x5EED0000ULL + (uint64_t)p));
        for (int64_t i = n - 1; i > 0; i--) {
            s = mix(s);
            int64_t j = (int64_t)(s % (uint64_t)(i + 1)), t = ord[i];
            ord[i] = ord[j], ord[j] = t;
        }
        for (int64_t r = 0; r < n; r++) {
            int64_t i = ord[r];
            uint64_t g = i < T ? (uint64_t)i : (uint64_t)(T + p * ex + (i - T)); /* global slot */
            ids[r] = (int64_t)(g * S + mix(seed ^ 0x1D5ULL ^ mix(g)) % S);
            for (int64_t j = 0; j < kp; j++) {
                double v;
                if (i >= T) v = gauss(mix(seed ^ 0xE7A0ULL ^ mix(g * 0x100000001B3ULL + (uint64_t)(col0 + j))));
                else if (X) v = X[i * K + col0 + j];
                else v = gauss(mix(seed ^ mix((uint64_t)i * 0x100000001B3ULL + (uint64_t)(col0 + j))));
                xp[r * kp + j] = v;
            }
            yy[r] = i < T ? (int64_t)Y[i] : (int64_t)(mix(seed ^ 0xFA1EULL ^ g) & 1);
        }
        snprintf(path, sizeof path, "%s/%s.h5", out, pn[p]);
        h5out_file *f = h5out_create(path, err, sizeof err);
        h5out_dset *di = f ? h5out_dataset(f, "ids", H5OUT_INT64, 0, n, err, sizeof err) : NULL;
        h5out_dset *dx = di ? h5out_dataset(f, "x", H5OUT_F64, kp, n, err, sizeof err) : NULL;
        h5out_dset *dy = dx && p == lp ? h5out_dataset(f, "y", H5OUT_INT64, 0, n, err, sizeof err) : NULL;
        int bad = !dx || (p == lp && !dy) || h5out_write(di, 0, n, ids, err, sizeof err) ||
                  h5out_write(dx, 0, n, xp, err, sizeof err) ||
                  (dy && h5out_write(dy, 0, n, yy, err, sizeof err));
        if (bad || h5out_commit(&f, err, sizeof err)) {
            h5out_abort(&f);
            fprintf(stderr, ME ": %s\n", err);
            return 1;
        }
        printf("%s: %lld rows (%lld shared), %lld features%s\n", path, (long long)n, (long long)T,
               (long long)kp, p == lp ? ", the label" : "");
        free(ord), free(ids), free(yy), free(xp);
        col0 += kp;
    }
    /* the truth */
    snprintf(path, sizeof path, "%s/model.h5", out);
    h5out_file *f = h5out_create(path, err, sizeof err);
    h5out_dset *di = f ? h5out_dataset(f, "ids", H5OUT_INT64, 0, T, err, sizeof err) : NULL;
    int64_t *tid = malloc(sizeof *tid * (size_t)T);
    if (!tid) return fprintf(stderr, ME ": out of memory\n"), 1;
    for (int64_t i = 0; i < T; i++) tid[i] = (int64_t)((uint64_t)i * S + mix(seed ^ 0x1D5ULL ^ mix((uint64_t)i)) % S);
    int bad = !di || h5out_write(di, 0, T, tid, err, sizeof err);
    free(tid);
    if (!bad && beta) {
        h5out_dset *db = h5out_dataset(f, "beta", H5OUT_F64, 0, K, err, sizeof err);
        h5out_dset *dc = db ? h5out_dataset(f, "bias", H5OUT_F64, 0, 1, err, sizeof err) : NULL;
        bad = !dc || h5out_write(db, 0, K, beta, err, sizeof err) || h5out_write(dc, 0, 1, &beta_bias, err, sizeof err);
    }
    if (bad || h5out_commit(&f, err, sizeof err)) {
        h5out_abort(&f);
        fprintf(stderr, ME ": %s\n", err);
        return 1;
    }
    free(X), free(Y), free(beta);
    return 0;
}
