/*
 * sfmpi-gendata: a vertically partitioned sample data set for the examples and tests.
 *
 *   sfmpi-gendata --rows N --out DIR [--seed S]   write DIR/alice.h5, DIR/bob.h5, DIR/carol.h5
 *   sfmpi-gendata --check DIR                      verify a generated set (exit 0 if valid)
 *
 * Every file holds dataset "features" (float64 [N][k], that party's own columns) for the
 * same N rows (row i is the same record at every party); carol's file also holds
 * "label" (float64 [N]). The columns come from standard normals z0..z6 and e, generated
 * deterministically (a counter-based generator keyed by seed, row and column):
 *
 *   alice: a0 = 10 + 2 z0          a1 = -5 + z1           a2 = 0.5 z0 + 0.866 z2
 *   bob:   b0 = 3 + 0.8 z0 + 0.6 z3 (correlation 0.8 with a0)   b1 = 3 z4
 *   carol: c0 = 1 + z5             c1 = 0.5 z4 + 0.866 z6 (correlation 0.5 with b1)
 *   label = 1 + 2 a0 - a1 + 0.5 a2 + 1.5 b0 - 2 b1 + 0.75 c0 + 0.25 c1 + 0.1 e
 *
 * so a joint regression of label on all seven columns recovers those coefficients (the
 * residual standard deviation is 0.1), and no party can do it alone. The relation is also
 * stored as attributes ("relation", "columns", "seed", "rows", "party", "program").
 *
 * Files are written with sf__h5_write_atomic (temp file, fsync, rename). carol's file has
 * two datasets: "features" is written atomically to a temporary path, "label" is added
 * to it with HDF5, and the result is synced and renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/h5.h"
#include "tools/cliopt.h"

#define DEFAULT_SEED 20240601u
#define NCOLS 7

static const double coef0 = 1.0;
static const double coef[NCOLS] = {2.0, -1.0, 0.5, 1.5, -2.0, 0.75, 0.25};
static const double noise_sd = 0.1;
static const char *const relation =
    "label = 1 + 2*alice[0] - 1*alice[1] + 0.5*alice[2] + 1.5*bob[0] - 2*bob[1]"
    " + 0.75*carol[0] + 0.25*carol[1] + 0.1*N(0,1)";

static const struct party {
    const char *name;
    int col0, ncols;
    const char *columns;
} parties[3] = {
    {"alice", 0, 3, "a0 = 10 + 2*z0; a1 = -5 + z1; a2 = 0.5*z0 + 0.866*z2"},
    {"bob", 3, 2, "b0 = 3 + 0.8*z0 + 0.6*z3; b1 = 3*z4"},
    {"carol", 5, 2, "c0 = 1 + z5; c1 = 0.5*z4 + 0.866*z6"},
};

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Standard normal number k of row `row` (Box-Muller on two counter-based uniforms). */
static double normal(uint64_t seed, int64_t row, int k) {
    uint64_t key = mix(seed) ^ ((uint64_t)row * 16 + (uint64_t)k) * 0xD6E8FEB86659FD93ULL;
    double u1 = ((double)(mix(key) >> 11) + 0.5) * 0x1.0p-53; /* (0, 1) */
    double u2 = (double)(mix(key ^ 0x5851F42D4C957F2DULL) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The seven columns and the label of one row. */
static void make_row(uint64_t seed, int64_t r, double x[NCOLS], double *label) {
    double z[8];
    for (int k = 0; k < 8; k++) z[k] = normal(seed, r, k);
    x[0] = 10 + 2 * z[0];
    x[1] = -5 + z[1];
    x[2] = 0.5 * z[0] + 0.866 * z[2];
    x[3] = 3 + 0.8 * z[0] + 0.6 * z[3];
    x[4] = 3 * z[4];
    x[5] = 1 + z[5];
    x[6] = 0.5 * z[4] + 0.866 * z[6];
    double y = coef0 + noise_sd * z[7];
    for (int j = 0; j < NCOLS; j++) y += coef[j] * x[j];
    *label = y;
}

static int fsync_path(const char *p, int dir) {
    int fd = open(p, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Add float64 dataset `name` (1-d) with string attributes to an existing file. */
static int add_dataset(const char *path, const char *name, const double *data, int64_t n,
                       const sf_h5_attr *attrs, int nattrs) {
    int ok = 0;
    hsize_t dims[1] = {(hsize_t)n};
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t d = f >= 0 && sp >= 0
                  ? H5Dcreate2(f, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                  : -1;
    if (d >= 0 && (n == 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0)) {
        ok = 1;
        hid_t st = H5Tcopy(H5T_C_S1), as = H5Screate(H5S_SCALAR);
        H5Tset_size(st, H5T_VARIABLE);
        H5Tset_cset(st, H5T_CSET_UTF8);
        for (int i = 0; ok && i < nattrs; i++) {
            hid_t a = H5Acreate2(d, attrs[i].name, st, as, H5P_DEFAULT, H5P_DEFAULT);
            ok = a >= 0 && H5Awrite(a, st, &attrs[i].value) >= 0;
            if (a >= 0) H5Aclose(a);
        }
        H5Sclose(as);
        H5Tclose(st);
    }
    if (d >= 0 && H5Dclose(d) < 0) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    if (f >= 0 && (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 || H5Fclose(f) < 0)) ok = 0;
    if (ok && fsync_path(path, 0) != 0) ok = 0;
    return ok ? 0 : -1;
}

static int generate(int64_t rows, const char *out, uint64_t seed) {
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sfmpi-gendata: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    int64_t shape[2];
    sf_value *feat[3] = {NULL, NULL, NULL};
    double *label = malloc((size_t)(rows ? rows : 1) * sizeof *label);
    int rc = 1;
    for (int p = 0; p < 3; p++) {
        shape[0] = rows;
        shape[1] = parties[p].ncols;
        feat[p] = sf_value_new(SF_F64, 2, shape);
        if (!feat[p]) goto out;
    }
    if (!label) goto out;
    for (int64_t r = 0; r < rows; r++) {
        double x[NCOLS];
        make_row(seed, r, x, &label[r]);
        for (int p = 0; p < 3; p++) {
            double *d = sf_value_data(feat[p]);
            for (int j = 0; j < parties[p].ncols; j++)
                d[r * parties[p].ncols + j] = x[parties[p].col0 + j];
        }
    }
    char seeds[32], rowss[32];
    snprintf(seeds, sizeof seeds, "%" PRIu64, seed);
    snprintf(rowss, sizeof rowss, "%" PRId64, rows);
    for (int p = 0; p < 3; p++) {
        char path[4200], target[4096], err[1024];
        if (snprintf(target, sizeof target, "%s/%s.h5", out, parties[p].name) >= (int)sizeof target) {
            fprintf(stderr, "sfmpi-gendata: output path too long\n");
            goto out;
        }
        int carol = p == 2;
        /* carol: write to a temporary name, add "label", then rename into place */
        if (carol)
            snprintf(path, sizeof path, "%s.gen.%ld", target, (long)getpid());
        else
            snprintf(path, sizeof path, "%s", target);
        sf_h5_attr attrs[] = {{"program", "sfmpi-gendata"}, {"party", parties[p].name},
                              {"rows", rowss},              {"seed", seeds},
                              {"columns", parties[p].columns}, {"relation", relation}};
        if (sf__h5_write_atomic(path, "features", feat[p], attrs, 6, err, sizeof err) != 0) {
            fprintf(stderr, "sfmpi-gendata: %s\n", err);
            goto out;
        }
        if (carol) {
            sf_h5_attr lattrs[] = {{"program", "sfmpi-gendata"}, {"party", "carol"},
                                   {"rows", rowss}, {"seed", seeds}, {"relation", relation}};
            if (add_dataset(path, "label", label, rows, lattrs, 5) != 0 ||
                rename(path, target) != 0) {
                fprintf(stderr, "sfmpi-gendata: cannot write %s (label)\n", target);
                unlink(path);
                goto out;
            }
            fsync_path(out, 1);
        }
        printf("wrote %s: features float64 [%" PRId64 "][%d]", target, rows, parties[p].ncols);
        if (carol) printf(", label float64 [%" PRId64 "]", rows);
        printf("\n");
    }
    printf("seed %" PRIu64 "; %s\n", seed, relation);
    rc = 0;
out:
    for (int p = 0; p < 3; p++) sf_value_unref(&feat[p]);
    free(label);
    return rc;
}

/* Read back a generated set; the relation must hold with residual sd ~ 0.1. */
static int check(const char *out) {
    double *cols[3] = {NULL, NULL, NULL}, *label = NULL;
    int64_t rows = -1;
    char err[1024];
    int rc = 1;
    for (int p = 0; p <= 3; p++) {
        char path[4096];
        const char *ds = p == 3 ? "label" : "features";
        if (snprintf(path, sizeof path, "%s/%s.h5", out, parties[p == 3 ? 2 : p].name) >=
            (int)sizeof path) {
            fprintf(stderr, "check: path too long\n");
            goto out;
        }
        sf_h5_info info;
        if (sf__h5_probe(path, ds, NULL, &info, err, sizeof err) != 0) {
            fprintf(stderr, "check: %s\n", err);
            goto out;
        }
        int want_ndim = p == 3 ? 1 : 2;
        if (info.dtype != SF_F64 || info.ndim != want_ndim ||
            (p < 3 && info.shape[1] != parties[p].ncols) || (rows >= 0 && info.shape[0] != rows)) {
            fprintf(stderr, "check: %s: dataset \"%s\": unexpected dtype or shape\n", path, ds);
            goto out;
        }
        rows = info.shape[0];
        double *buf = malloc((size_t)(rows ? rows : 1) * (p == 3 ? 1 : (size_t)parties[p].ncols) *
                             sizeof(double));
        if (p == 3)
            label = buf;
        else
            cols[p] = buf;
        if (!buf || sf__h5_read_rows(path, ds, NULL, &info, 0, rows, buf, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "check: %s\n", buf ? err : "out of memory");
            goto out;
        }
    }
    double ss = 0;
    uint64_t h = 0xCBF29CE484222325ULL; /* FNV-1a of every value, in file order */
    for (int p = 0; p <= 3; p++) {
        const unsigned char *b = (const unsigned char *)(p == 3 ? label : cols[p]);
        size_t n = (size_t)rows * (p == 3 ? 1 : (size_t)parties[p].ncols) * sizeof(double);
        for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ULL;
    }
    for (int64_t r = 0; r < rows; r++) {
        double y = coef0;
        for (int p = 0; p < 3; p++)
            for (int j = 0; j < parties[p].ncols; j++)
                y += coef[parties[p].col0 + j] * cols[p][r * parties[p].ncols + j];
        ss += (label[r] - y) * (label[r] - y);
    }
    double sd = rows ? sqrt(ss / (double)rows) : 0;
    printf("check %s: %" PRId64 " rows, residual sd of the relation %.4f (generated with %.2f), "
           "data digest %016" PRIx64 "\n",
           out, rows, sd, noise_sd, h);
    rc = (rows < 100 || fabs(sd - noise_sd) < 0.03) ? 0 : 1;
    if (rc) fprintf(stderr, "check: the relation does not hold\n");
out:
    for (int p = 0; p < 3; p++) free(cols[p]);
    free(label);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f, "usage: sfmpi-gendata --rows N --out DIR [--seed S]\n"
               "       sfmpi-gendata --check DIR\n"
               "Writes DIR/alice.h5 (features [N][3]), DIR/bob.h5 (features [N][2]) and\n"
               "DIR/carol.h5 (features [N][2], label [N]), float64, same rows at every party.\n");
}

int main(int argc, char **argv) {
    int64_t rows = -1;
    const char *out = NULL, *chk = NULL;
    uint64_t seed = DEFAULT_SEED;
    for (int i = 1; i < argc; i++) {
        char opt[32];
        const char *eqval = cli_split(argv[i], opt, sizeof opt);
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 0;
        }
        const char *val = cli_value(argc, argv, &i, eqval);
        if (!val) {
            fprintf(stderr, "sfmpi-gendata: %s needs a value\n", opt);
            return 2;
        }
        char *end;
        errno = 0;
        if (!strcmp(opt, "--rows")) {
            long long n = strtoll(val, &end, 10);
            if (errno || *end || end == val || n < 0) {
                fprintf(stderr, "sfmpi-gendata: bad --rows %s\n", val);
                return 2;
            }
            rows = n;
        } else if (!strcmp(opt, "--seed")) {
            unsigned long long s = strtoull(val, &end, 10);
            if (errno || *end || end == val) {
                fprintf(stderr, "sfmpi-gendata: bad --seed %s\n", val);
                return 2;
            }
            seed = s;
        } else if (!strcmp(opt, "--out")) {
            out = val;
        } else if (!strcmp(opt, "--check")) {
            chk = val;
        } else {
            fprintf(stderr, "sfmpi-gendata: unknown option %s\n", opt);
            usage(stderr);
            return 2;
        }
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (chk) return check(chk);
    if (rows < 0 || !out) {
        usage(stderr);
        return 2;
    }
    return generate(rows, out, seed);
}
