/*
 * io/h5.c, serial: round trips of every dtype and many shapes (probe, read_rows of all
 * rows and of sub-ranges, attributes read back with the HDF5 API, file type equal to the
 * native type), big-endian files, and every error case with its status and a message
 * that names the file and the dataset.
 */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/h5.h"
#include "tests/io/h5_test_files.h"
#include "tests/check.h"

static char dir[512];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void fill(sf_value *v, uint64_t seed) {
    size_t n = sf_value_nelems(v);
    void *p = sf_value_data(v);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = mix(seed * 1000003u + i);
        switch (sf_value_dtype(v)) {
        case SF_F32: ((float *)p)[i] = (float)((double)(int64_t)r / 1e12); break;
        case SF_F64: ((double *)p)[i] = (double)(int64_t)r / 1e9; break;
        default: memcpy((char *)p + i * sf_dtype_size(sf_value_dtype(v)), &r,
                        sf_dtype_size(sf_value_dtype(v)));
        }
    }
}

static hid_t native_of(sf_dtype dt) {
    switch (dt) {
    case SF_I8: return H5T_NATIVE_INT8;
    case SF_I16: return H5T_NATIVE_INT16;
    case SF_I32: return H5T_NATIVE_INT32;
    case SF_I64: return H5T_NATIVE_INT64;
    case SF_U8: return H5T_NATIVE_UINT8;
    case SF_U16: return H5T_NATIVE_UINT16;
    case SF_U32: return H5T_NATIVE_UINT32;
    case SF_U64: return H5T_NATIVE_UINT64;
    case SF_F32: return H5T_NATIVE_FLOAT;
    case SF_F64: return H5T_NATIVE_DOUBLE;
    default: return -1;
    }
}

static int count_tmp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void remove_tmp_files(void) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[1200];
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) {
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

/* Read string attribute `name` of /path:dataset with the HDF5 API; returns malloc'd. */
static char *read_attr(const char *path, const char *dataset, const char *name) {
    char *out = NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, dataset, H5P_DEFAULT) : -1;
    hid_t a = d >= 0 ? H5Aopen(d, name, H5P_DEFAULT) : -1;
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                out = strdup(s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            out = calloc(1, n + 1);
            if (H5Aread(a, t, out) < 0) {
                free(out);
                out = NULL;
            }
        }
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    return out;
}

/* The dataset's file type is the native type of dt. */
static int file_type_is_native(const char *path, const char *dataset, sf_dtype dt) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, dataset, H5P_DEFAULT) : -1;
    hid_t t = d >= 0 ? H5Dget_type(d) : -1;
    int eq = t >= 0 && H5Tequal(t, native_of(dt)) > 0;
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    return eq;
}

static void read_and_compare(const char *path, const char *ds, const sf_value *v, int64_t row0,
                             int64_t nrows) {
    sf_h5_info info;
    char err[1024];
    ASSERT_OK(sf__h5_probe(path, ds, NULL, &info, err, sizeof err));
    size_t rowbytes = sf_dtype_size(sf_value_dtype(v));
    for (int i = 1; i < sf_value_ndim(v); i++) rowbytes *= (size_t)sf_value_dim(v, i);
    size_t n = rowbytes * (size_t)nrows;
    unsigned char *buf = malloc(n + 1);
    memset(buf, 0xA5, n + 1);
    int rc = sf__h5_read_rows(path, ds, NULL, &info, row0, nrows, buf, NULL, err, sizeof err);
    ASSERT_OK_MSG(rc, "read_rows(%lld, %lld): %s", (long long)row0, (long long)nrows, err);
    ASSERT_MEM_EQ(buf, (const char *)sf_value_cdata(v) + rowbytes * (size_t)row0, n);
    ASSERT_EQ(buf[n], 0xA5); /* nothing written past the rows */
    free(buf);
}

static int roundtrips;

static void roundtrip(sf_dtype dt, int ndim, const int64_t *shape) {
    char path[600];
    path_in(path, sizeof path, "rt.h5");
    const char *ds = (ndim % 2) ? "grp/sub/data" : "data";
    sf_value *v = sf_value_new(dt, ndim, shape);
    ASSERT_NOT_NULL(v);
    if (!v) return;
    fill(v, (uint64_t)dt * 100 + (uint64_t)ndim);
    char tbuf[64];
    snprintf(tbuf, sizeof tbuf, "%s ndim %d", sf_dtype_name(dt), ndim);
    sf_h5_attr attrs[] = {{"program", "test_h5"}, {"mode", "debug"}, {"party", "alice"},
                          {"time", "2024-01-01T00:00:00Z"}, {"note", tbuf}, {"empty", ""}};
    char err[1024] = "x";
    int rc = sf__h5_write_atomic(path, ds, v, attrs, 6, err, sizeof err);
    if (ASSERT_OK_MSG(rc, "write %s: %s", tbuf, err)) ASSERT_EQ(err[0], 0);

    sf_h5_info info;
    ASSERT_OK(sf__h5_probe(path, ds, NULL, &info, err, sizeof err));
    ASSERT_EQ(info.dtype, dt);
    ASSERT_EQ(info.ndim, ndim);
    for (int i = 0; i < ndim; i++) ASSERT_EQ(info.shape[i], shape[i]);
    ASSERT(file_type_is_native(path, ds, dt));

    int64_t rows = ndim ? shape[0] : 1;
    read_and_compare(path, ds, v, 0, rows);
    read_and_compare(path, ds, v, rows, 0);
    read_and_compare(path, ds, v, 0, 0);
    if (rows >= 1) {
        read_and_compare(path, ds, v, 0, 1);
        read_and_compare(path, ds, v, rows - 1, 1);
    }
    if (rows >= 3) {
        read_and_compare(path, ds, v, 1, rows - 2);
        read_and_compare(path, ds, v, rows / 2, rows - rows / 2);
    }
    for (int i = 0; i < 6; i++) {
        char *s = read_attr(path, ds, attrs[i].name);
        if (ASSERT(s)) ASSERT_STR_EQ(s, attrs[i].value);
        free(s);
    }
    sf_value_unref(&v);
    roundtrips++;
}

static void test_roundtrips(void) {
    static const int64_t s1[] = {37}, s2[] = {13, 5}, s3[] = {4, 3, 6},
                         s8[] = {2, 1, 3, 2, 1, 2, 2, 3}, e2[] = {0, 5}, e2b[] = {6, 0},
                         e1[] = {0},
                         s16[] = {2, 1, 2, 1, 1, 2, 1, 1, 3, 1, 1, 1, 2, 1, 1, 2};
    for (int dt = SF_I8; dt <= SF_F64; dt++) {
        roundtrip((sf_dtype)dt, 0, NULL);
        roundtrip((sf_dtype)dt, 1, s1);
        roundtrip((sf_dtype)dt, 2, s2);
        roundtrip((sf_dtype)dt, 3, s3);
        roundtrip((sf_dtype)dt, 8, s8);
        roundtrip((sf_dtype)dt, 2, e2);
        roundtrip((sf_dtype)dt, 2, e2b);
        roundtrip((sf_dtype)dt, 1, e1);
        roundtrip((sf_dtype)dt, 16, s16);
    }
    ASSERT_EQ(count_tmp_files(), 0);
    printf("round trips: %d (10 dtypes x 9 shapes)\n", roundtrips);
}

/* Big-endian and other non-native file types read as the native dtype. */
static void test_big_endian(void) {
    char path[600];
    path_in(path, sizeof path, "be.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {4, 3};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    int32_t iv[12];
    double dv[12];
    uint16_t uv[12];
    for (int i = 0; i < 12; i++) iv[i] = -100000 * i + 7, dv[i] = -1.5 * i + 0.25, uv[i] = (uint16_t)(60000 + i);
    hid_t d1 = H5Dcreate2(f, "i32be", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d1, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv);
    hid_t d2 = H5Dcreate2(f, "f64be", H5T_IEEE_F64BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d2, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dv);
    hid_t d3 = H5Dcreate2(f, "u16be", H5T_STD_U16BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d3, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, uv);
    H5Dclose(d1), H5Dclose(d2), H5Dclose(d3), H5Sclose(sp), H5Fclose(f);

    sf_h5_info info;
    char err[1024];
    int32_t io[12];
    double dout[12];
    uint16_t uo[12];
    if (ASSERT_OK(sf__h5_probe(path, "i32be", NULL, &info, err, sizeof err)) &&
        ASSERT_EQ(info.dtype, SF_I32) &&
        ASSERT_EQ(info.ndim, 2) &&
        ASSERT_EQ(info.shape[0], 4))
        ASSERT_EQ(info.shape[1], 3);
    ASSERT_OK(sf__h5_read_rows(path, "i32be", NULL, &info, 0, 4, io, NULL, err, sizeof err));
    ASSERT_MEM_EQ(io, iv, sizeof iv);
    if (ASSERT_OK(sf__h5_probe(path, "f64be", NULL, &info, err, sizeof err)))
        ASSERT_EQ(info.dtype, SF_F64);
    ASSERT_OK(sf__h5_read_rows(path, "f64be", NULL, &info, 1, 2, dout, NULL, err, sizeof err));
    ASSERT_MEM_EQ(dout, dv + 3, 6 * sizeof(double));
    if (ASSERT_OK(sf__h5_probe(path, "u16be", NULL, &info, err, sizeof err)))
        ASSERT_EQ(info.dtype, SF_U16);
    ASSERT_OK(sf__h5_read_rows(path, "u16be", NULL, &info, 0, 4, uo, NULL, err, sizeof err));
    ASSERT_MEM_EQ(uo, uv, sizeof uv);
}

/* ---------------------------------------------------------------- errors */

static int errors_checked;

static void expect_err(int line, int got, int want, const char *msg, const char *path,
                       const char *ds, const char *extra) {
    errors_checked++;
    int ok = got == want && strstr(msg, path) && strstr(msg, ds) && (!extra || strstr(msg, extra));
    if (!ok) {
        TEST_FAIL_AT(__FILE__, line, "expected %s%s%s%s naming %s and %s; got %s: \"%s\"",
                     sf_err_name(want), extra ? " with \"" : "", extra ? extra : "", extra ? "\"" : "",
                     path, ds, sf_err_name(got), msg);
    } else {
        printf("  ok %-9s %s\n", sf_err_name(got), msg);
    }
}
#define EXPECT_ERR(got, want, msg, path, ds, extra) \
    expect_err(__LINE__, (got), (want), (msg), (path), (ds), (extra))

/* probe and read_rows both fail with `want`. */
static void expect_both(int line, const char *path, const char *ds, int want, const char *extra) {
    char err[1024];
    sf_h5_info info = {.dtype = SF_F64, .ndim = 1, .shape = {1}};
    double buf[4];
    expect_err(line, sf__h5_probe(path, ds, NULL, &info, err, sizeof err), want, err, path, ds,
               extra);
    info = (sf_h5_info){.dtype = SF_F64, .ndim = 1, .shape = {1}};
    expect_err(line, sf__h5_read_rows(path, ds, NULL, &info, 0, 1, buf, NULL, err, sizeof err),
               want, err, path, ds, extra);
}
#define EXPECT_BOTH(path, ds, want, extra) expect_both(__LINE__, (path), (ds), (want), (extra))

/* Fixed-length strings of 8 bytes read as uint8 [4, 8], padding included; rows 1..2. */
static void check_fixed_strings(const char *path) {
    sf_h5_info info;
    char err[512];
    unsigned char buf[16];
    if (!ASSERT_OK(sf__h5_probe(path, "fixed_string", NULL, &info, err, sizeof err))) return;
    ASSERT_EQ(info.dtype, SF_U8);
    ASSERT_EQ(info.ndim, 2);
    ASSERT_EQ(info.shape[0], 4);
    ASSERT_EQ(info.shape[1], 8);
    if (ASSERT_OK(sf__h5_read_rows(path, "fixed_string", NULL, &info, 1, 2, buf, NULL, err, sizeof err)))
        ASSERT_EQ(memcmp(buf, "bob\0\0\0\0\0carol\0\0\0", 16), 0);
}

static void make_bad_types(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {4};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    /* compound */
    hid_t ct = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(ct, "a", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "b", 8, H5T_NATIVE_INT64);
    hid_t d = H5Dcreate2(f, "compound", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Tclose(ct);
    /* fixed-length string */
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 8);
    d = H5Dcreate2(f, "fixed_string", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    static const char strings[33] = "alice\0\0\0bob\0\0\0\0\0carol\0\0\0dave\0\0\0\0";
    H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings);
    H5Dclose(d);
    hid_t one = H5Screate(H5S_SCALAR); /* one string: refused (no rows) */
    d = H5Dcreate2(f, "scalar_string", st, one, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Sclose(one), H5Tclose(st);
    /* variable-length string */
    st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    d = H5Dcreate2(f, "vl_string", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Tclose(st);
    /* IEEE half float */
    hid_t ht = H5Tcopy(H5T_NATIVE_FLOAT);
    H5Tset_fields(ht, 15, 10, 5, 0, 10);
    H5Tset_size(ht, 2);
    H5Tset_ebias(ht, 15);
    d = H5Dcreate2(f, "float16", ht, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Tclose(ht);
    /* 80-bit long double (16 bytes) */
    d = H5Dcreate2(f, "long_double", H5T_NATIVE_LDOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    /* enum */
    hid_t et = H5Tenum_create(H5T_NATIVE_INT);
    int val = 0;
    H5Tenum_insert(et, "zero", &val);
    d = H5Dcreate2(f, "enum", et, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Tclose(et);
    /* 17 dimensions */
    hsize_t d17[17];
    for (int i = 0; i < 17; i++) d17[i] = 1;
    hid_t sp17 = H5Screate_simple(17, d17, NULL);
    d = H5Dcreate2(f, "dims17", H5T_NATIVE_DOUBLE, sp17, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Sclose(sp17);
    /* null dataspace */
    hid_t nsp = H5Screate(H5S_NULL);
    d = H5Dcreate2(f, "null_space", H5T_NATIVE_DOUBLE, nsp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Sclose(nsp);
    /* a group */
    hid_t g = H5Gcreate2(f, "agroup", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Sclose(sp);
    H5Fclose(f);
}

static void test_errors(void) {
    char path[600], err[1024];
    sf_h5_info info;
    printf("error cases:\n");

    /* missing file */
    path_in(path, sizeof path, "does_not_exist.h5");
    EXPECT_BOTH(path, "features", SF_EIO, "no such file");

    /* not HDF5 */
    path_in(path, sizeof path, "garbage.h5");
    FILE *g = fopen(path, "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, g);
    fclose(g);
    EXPECT_BOTH(path, "features", SF_EIO, "not an HDF5 file");
    path_in(path, sizeof path, "empty.h5");
    g = fopen(path, "wb");
    fclose(g);
    EXPECT_BOTH(path, "features", SF_EIO, "not an HDF5 file");

    /* unreadable: a directory (works as root too), and chmod 000 (not as root) */
    path_in(path, sizeof path, "a_directory.h5");
    mkdir(path, 0755);
    EXPECT_BOTH(path, "features", SF_EIO, "directory");
    path_in(path, sizeof path, "unreadable.h5");
    {
        sf_value *v = sf_value_f64(1.0);
        ASSERT_OK(sf__h5_write_atomic(path, "features", v, NULL, 0, err, sizeof err));
        sf_value_unref(&v);
    }
    if (geteuid() == 0) {
        printf("  skip chmod 000 case: running as root, where file permissions do not stop "
               "reads (the directory case above covers an unreadable path)\n");
    } else {
        chmod(path, 0);
        EXPECT_BOTH(path, "features", SF_EIO, "Permission denied");
        chmod(path, 0644);
    }

    /* missing dataset, missing group, a group instead of a dataset, bad types, dims */
    path_in(path, sizeof path, "types.h5");
    make_bad_types(path);
    EXPECT_BOTH(path, "features", SF_EIO, "no such dataset");
    EXPECT_BOTH(path, "nogroup/features", SF_EIO, "no such dataset");
    EXPECT_BOTH(path, "agroup", SF_ETYPE, "cannot be opened as a dataset");
    EXPECT_BOTH(path, "agroup/features", SF_EIO, "no such dataset");
    EXPECT_BOTH(path, "compound", SF_ETYPE, "compound");
    check_fixed_strings(path);
    EXPECT_BOTH(path, "scalar_string", SF_ETYPE, "a single (scalar) fixed-length string");
    EXPECT_BOTH(path, "vl_string", SF_ETYPE, "variable-length string");
    EXPECT_BOTH(path, "float16", SF_ETYPE, "16-bit float");
    EXPECT_BOTH(path, "long_double", SF_ETYPE, "-bit float");
    EXPECT_BOTH(path, "enum", SF_ETYPE, "enum");
    EXPECT_BOTH(path, "dims17", SF_ETYPE, "17 dimensions");
    EXPECT_BOTH(path, "null_space", SF_ETYPE, "null");

    /* rows outside the dataset */
    path_in(path, sizeof path, "range.h5");
    int64_t shape[2] = {10, 3};
    sf_value *v = sf_value_zeros(SF_I32, 2, shape);
    ASSERT_OK(sf__h5_write_atomic(path, "features", v, NULL, 0, err, sizeof err));
    ASSERT_OK(sf__h5_probe(path, "features", NULL, &info, err, sizeof err));
    int32_t buf[64];
    static const int64_t bad[][2] = {{10, 1}, {-1, 1}, {0, 11}, {9, 2}, {0, -1},
                                     {INT64_MAX, 1}, {1, INT64_MAX}, {11, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_ERR(sf__h5_read_rows(path, "features", NULL, &info, bad[i][0], bad[i][1], buf, NULL, err,
                                    sizeof err),
                   SF_ERANGE, err, path, "features", NULL);
    ASSERT_OK(sf__h5_read_rows(path, "features", NULL, &info, 10, 0, NULL, NULL, err, sizeof err));
    /* scalar: one row */
    sf_value *s = sf_value_f64(2.5);
    ASSERT_OK(sf__h5_write_atomic(path, "features", s, NULL, 0, err, sizeof err));
    sf_h5_info sinfo;
    if (ASSERT_OK(sf__h5_probe(path, "features", NULL, &sinfo, err, sizeof err)))
        ASSERT_EQ(sinfo.ndim, 0);
    double d = 0;
    if (ASSERT_OK(sf__h5_read_rows(path, "features", NULL, &sinfo, 0, 1, &d, NULL, err, sizeof err)))
        ASSERT_EQ(d, 2.5);
    EXPECT_ERR(sf__h5_read_rows(path, "features", NULL, &sinfo, 0, 2, &d, NULL, err, sizeof err),
               SF_ERANGE, err, path, "features", NULL);
    EXPECT_ERR(sf__h5_read_rows(path, "features", NULL, &sinfo, 1, 1, &d, NULL, err, sizeof err),
               SF_ERANGE, err, path, "features", NULL);
    /* info that no longer matches the file */
    EXPECT_ERR(sf__h5_read_rows(path, "features", NULL, &info, 0, 1, buf, NULL, err, sizeof err),
               SF_ETYPE, err, path, "features", "caller expects int32");
    sf_value_unref(&s);

    /* argument errors, small and NULL error buffers */
    EXPECT_ERR(sf__h5_probe(path, "", NULL, &info, err, sizeof err), SF_EUSAGE, err, path, "\"\"", NULL);
    ASSERT_STATUS(sf__h5_probe(path, "nope", NULL, &info, NULL, 0), SF_EIO);
    char small[8];
    if (ASSERT_STATUS(sf__h5_probe(path, "nope", NULL, &info, small, sizeof small), SF_EIO))
        ASSERT_EQ(strlen(small), sizeof small - 1);

    /* write failures leave `path` untouched and no temporary file */
    path_in(path, sizeof path, "no_such_dir/out.h5");
    EXPECT_ERR(sf__h5_write_atomic(path, "features", v, NULL, 0, err, sizeof err), SF_EIO, err,
               path, "features", "temporary file");
    struct stat stt;
    ASSERT_NE(stat(path, &stt), 0);
    path_in(path, sizeof path, "keep.h5");
    sf_value *old = sf_value_i64(42);
    ASSERT_OK(sf__h5_write_atomic(path, "features", old, NULL, 0, err, sizeof err));
    sf_value *bytes = sf_value_str("hello");
    EXPECT_ERR(sf__h5_write_atomic(path, "features", bytes, NULL, 0, err, sizeof err), SF_ETYPE,
               err, path, "features", "bytes");
    sf_h5_attr dup[] = {{"a", "1"}, {"a", "2"}};
    EXPECT_ERR(sf__h5_write_atomic(path, "features", v, dup, 2, err, sizeof err), SF_EUSAGE, err,
               path, "features", "duplicate");
    /* HDF5 itself refuses the dataset name "." (the root group exists): fails after the
     * temporary file was created */
    EXPECT_ERR(sf__h5_write_atomic(path, ".", v, NULL, 0, err, sizeof err), SF_EIO, err, path,
               "\".\"", "HDF5");
    int64_t x = 0;
    sf_h5_info kinfo;
    if (ASSERT_OK(sf__h5_probe(path, "features", NULL, &kinfo, err, sizeof err)))
        ASSERT_EQ(kinfo.dtype, SF_I64);
    if (ASSERT_OK(sf__h5_read_rows(path, "features", NULL, &kinfo, 0, 1, &x, NULL, err, sizeof err)))
        ASSERT_EQ(x, 42);
    ASSERT_EQ(count_tmp_files(), 0);
    sf_value_unref(&bytes);
    sf_value_unref(&old);
    sf_value_unref(&v);
    printf("error checks: %d\n", errors_checked);
}

/* ---------------------------------------------------------------- storage outside the file */

/* External storage and virtual datasets are refused by default, naming the file, the
 * dataset, the outside file and the option, without reading it; read when allowed. */
static void test_outside_storage(void) {
    char err[1024];
    h5t_outside p;
    ASSERT_EQ(h5t_make_outside(dir, &p), 0);
    printf("storage outside the file:\n");
    static const sf_h5_read_opts allow = {.allow_external = 1};
    struct {
        const char *path, *ds, *outside;
    } c[] = {{p.ext, "ext", p.secret}, {p.vds, "virt", p.src}};
    for (int i = 0; i < 2; i++) {
        sf_h5_info info = {.dtype = SF_F64, .ndim = 1, .shape = {8}};
        double buf[8];
        memset(buf, 0, sizeof buf);
        EXPECT_ERR(sf__h5_probe(c[i].path, c[i].ds, NULL, &info, err, sizeof err), SF_EUSAGE, err,
                   c[i].path, c[i].ds, c[i].outside);
        ASSERT_STR_CONTAINS(err, "--sf-h5-allow-external=1");
        sf_h5_read_opts deny = {0};
        EXPECT_ERR(sf__h5_probe(c[i].path, c[i].ds, &deny, &info, err, sizeof err), SF_EUSAGE, err,
                   c[i].path, c[i].ds, "--sf-h5-allow-external=1");
        info = (sf_h5_info){.dtype = SF_F64, .ndim = 1, .shape = {8}};
        EXPECT_ERR(sf__h5_read_rows(c[i].path, c[i].ds, NULL, &info, 0, 8, buf, NULL, err,
                                    sizeof err),
                   SF_EUSAGE, err, c[i].path, c[i].ds, c[i].outside);
        for (int k = 0; k < 8; k++) ASSERT_EQ(buf[k], 0.0); /* nothing was read */

        ASSERT_OK(sf__h5_probe(c[i].path, c[i].ds, &allow, &info, err, sizeof err));
        if (ASSERT_EQ(info.dtype, SF_F64) && ASSERT_EQ(info.ndim, 1)) ASSERT_EQ(info.shape[0], 8);
        int rc = sf__h5_read_rows(c[i].path, c[i].ds, &allow, &info, 0, 8, buf, NULL, err,
                                  sizeof err);
        if (ASSERT_OK_MSG(rc, "allowed read of %s: %s", c[i].ds, err))
            ASSERT_MEM_EQ(buf, h5t_secret, sizeof h5t_secret);
    }
}

/* ---------------------------------------------------------------- declared sizes */

/* A dataset that declares more than its file holds is refused from its metadata (probe
 * and read_rows, which never get to allocate or read); legitimately large declarations
 * (chunked, compressed, unallocated) are bounded by max_bytes, default physical memory. */
static void test_sizes(void) {
    char bomb[600], sizes[600], err[1024], want[256];
    printf("declared sizes:\n");
    path_in(bomb, sizeof bomb, "bomb.h5");
    uint64_t declared;
    long fsize;
    ASSERT_EQ(h5t_make_bomb(bomb, &declared, &fsize), 0);
    snprintf(want, sizeof want, "declares %llu bytes", (unsigned long long)declared);
    char want2[128];
    snprintf(want2, sizeof want2, "but the file has only %ld", fsize);
    sf_h5_info info = {.dtype = SF_I16, .ndim = 1, .shape = {(int64_t)H5T_BOMB_ELEMS}};
    int16_t small[4] = {99, 99, 99, 99};
    static const sf_h5_read_opts big_limit = {.max_bytes = (uint64_t)1 << 62};
    for (int k = 0; k < 2; k++) { /* the default limit, and one far above the declaration */
        const sf_h5_read_opts *o = k ? &big_limit : NULL;
        EXPECT_ERR(sf__h5_probe(bomb, "bomb", o, &info, err, sizeof err), SF_EIO, err, bomb,
                   "bomb", want);
        ASSERT_STR_CONTAINS(err, want2);
        EXPECT_ERR(sf__h5_read_rows(bomb, "bomb", o, &info, 0, 2, small, NULL, err, sizeof err),
                   SF_EIO, err, bomb, "bomb", want2);
    }
    if (ASSERT_EQ(small[0], 99)) ASSERT_EQ(small[1], 99);

    path_in(sizes, sizeof sizes, "sizes.h5");
    ASSERT_EQ(h5t_make_sizes(sizes), 0);
    int have_deflate = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
    static const sf_h5_read_opts lim4k = {.max_bytes = 4096}, lim8k = {.max_bytes = 8192},
                                 lim64k = {.max_bytes = 65536}, lim1m = {.max_bytes = 1 << 20};
    static double vals[64 * 16];
    for (int z = 0; z < 1 + have_deflate; z++) {
        const char *ds = z ? "deflate" : "chunked";
        EXPECT_ERR(sf__h5_probe(sizes, ds, &lim4k, &info, err, sizeof err), SF_ERANGE, err, sizes,
                   ds, "8192 bytes");
        ASSERT_STR_CONTAINS(err, "limit of 4096 bytes set by --sf-h5-max-bytes");
        info = (sf_h5_info){.dtype = SF_F64, .ndim = 2, .shape = {64, 16}};
        EXPECT_ERR(sf__h5_read_rows(sizes, ds, &lim4k, &info, 0, 1, vals, NULL, err, sizeof err),
                   SF_ERANGE, err, sizes, ds, "--sf-h5-max-bytes");
        for (int k = 0; k < 2; k++) { /* at the limit, and the default */
            const sf_h5_read_opts *o = k ? NULL : &lim8k;
            if (ASSERT_OK(sf__h5_probe(sizes, ds, o, &info, err, sizeof err)))
                ASSERT_EQ(info.shape[0], 64);
            memset(vals, 0, sizeof vals);
            ASSERT_OK(sf__h5_read_rows(sizes, ds, o, &info, 0, 64, vals, NULL, err, sizeof err));
            if (ASSERT_EQ(vals[0], 0.0) &&
                ASSERT_EQ(vals[17], 8.5))
                ASSERT_EQ(vals[64 * 16 - 1], (64 * 16 - 1) * 0.5);
        }
    }
    if (!have_deflate) printf("  skip deflate dataset: the filter is not available\n");
    /* unallocated contiguous storage reads as the fill value, within the limit */
    EXPECT_ERR(sf__h5_probe(sizes, "unalloc", &lim8k, &info, err, sizeof err), SF_ERANGE, err,
               sizes, "unalloc", "65536 bytes (float64 [8192])");
    static double fillbuf[8192];
    ASSERT_OK(sf__h5_probe(sizes, "unalloc", &lim64k, &info, err, sizeof err));
    if (ASSERT_OK(sf__h5_read_rows(sizes, "unalloc", &lim64k, &info, 0, 8192, fillbuf, NULL, err,
                                   sizeof err)) &&
        ASSERT_EQ(fillbuf[0], 7.0))
        ASSERT_EQ(fillbuf[8191], 7.0);
    EXPECT_ERR(sf__h5_probe(sizes, "unalloc_2g", &lim1m, &info, err, sizeof err), SF_ERANGE, err,
               sizes, "unalloc_2g", "2147483648 bytes (float64 [268435456])");
    /* the default limit is the machine's physical memory */
    EXPECT_ERR(sf__h5_probe(sizes, "huge", NULL, &info, err, sizeof err), SF_ERANGE, err, sizes,
               "huge", "1152921504606846976 bytes");
    ASSERT_STR_CONTAINS(err, "physical memory");
    ASSERT_STR_CONTAINS(err, "--sf-h5-max-bytes");
}

/* ---------------------------------------------------------------- atomic write: modes, full disk */

static int mode_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int64_t read_i64(const char *path) {
    sf_h5_info info;
    char err[1024];
    int64_t x = -1;
    if (sf__h5_probe(path, "features", NULL, &info, err, sizeof err) != 0 ||
        info.dtype != SF_I64 || info.ndim != 0 ||
        sf__h5_read_rows(path, "features", NULL, &info, 0, 1, &x, NULL, err, sizeof err) != 0)
        fprintf(stderr, "read_i64 %s: %s\n", path, err);
    return x;
}

/* A replaced file keeps its mode (st_mode & 07777, whatever the umask); a new file gets
 * 0666 & ~umask. */
static void test_write_modes(void) {
    char path[600], err[1024];
    printf("atomic write, file modes:\n");
    int before = test_failures();
    static const mode_t umasks[] = {022, 077};
    static const int modes[] = {0600, 0640, 0604, 0660, 0644, 0444, 0400};
    for (size_t u = 0; u < 2; u++) {
        mode_t old_umask = umask(umasks[u]);
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            path_in(path, sizeof path, "mode.h5");
            unlink(path);
            sf_value *a = sf_value_i64(1), *b = sf_value_i64(2 + (int64_t)i);
            ASSERT_OK(sf__h5_write_atomic(path, "features", a, NULL, 0, err, sizeof err));
            ASSERT_EQ(chmod(path, (mode_t)modes[i]), 0);
            ASSERT_OK(sf__h5_write_atomic(path, "features", b, NULL, 0, err, sizeof err));
            int got = mode_of(path);
            ASSERT_EQ_MSG(got, modes[i], "umask %03o: replacing a %04o file gave %04o", (unsigned)umasks[u],
                          modes[i], got);
            ASSERT_EQ(read_i64(path), 2 + (int64_t)i); /* the content is the new one */
            sf_value_unref(&a);
            sf_value_unref(&b);
        }
        umask(old_umask);
    }
    static const mode_t masks[] = {022, 077, 027, 0};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        path_in(path, sizeof path, "new_mode.h5");
        unlink(path);
        mode_t old_umask = umask(masks[i]);
        sf_value *a = sf_value_i64(5);
        ASSERT_OK(sf__h5_write_atomic(path, "features", a, NULL, 0, err, sizeof err));
        umask(old_umask);
        int got = mode_of(path);
        ASSERT_EQ_MSG(got, (int)(0666 & ~masks[i]), "umask %03o: a new file got %04o", (unsigned)masks[i],
                      got);
        ASSERT_EQ(read_i64(path), 5);
        sf_value_unref(&a);
    }
    ASSERT_EQ(count_tmp_files(), 0);
    if (test_failures() == before)
        printf("  ok modes kept on replace (umask 022 and 077), 0666 & ~umask for new files\n");
}

/* A full disk: in a child whose file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, so writes
 * fail with EFBIG) stops the write at `limit` bytes. The write fails with SF_EIO, leaves
 * no temporary file, and the old target keeps its content and mode. */
static void test_write_full_disk(void) {
    char path[600];
    printf("atomic write, full disk (RLIMIT_FSIZE):\n");
    path_in(path, sizeof path, "full.h5");
    sf_value *old = sf_value_i64(4242);
    char err[1024];
    ASSERT_OK(sf__h5_write_atomic(path, "features", old, NULL, 0, err, sizeof err));
    ASSERT_EQ(chmod(path, 0600), 0);
    sf_value_unref(&old);
    int64_t shape[1] = {8192};
    sf_value *big = sf_value_zeros(SF_F64, 1, shape); /* 64 KiB */
    static const long limits[] = {0, 1, 96, 512, 800, 2048, 4096, 8192, 40000, 65536};
    int failed_as_expected = 0;
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit r = {(rlim_t)limits[i], (rlim_t)limits[i]};
            if (setrlimit(RLIMIT_FSIZE, &r) != 0) _exit(3);
            char e[1024] = "";
            int rc = sf__h5_write_atomic(path, "features", big, NULL, 0, e, sizeof e);
            int named = strstr(e, path) && strstr(e, "\"features\"");
            printf("  limit %6ld: %s %s\n", limits[i], sf_err_name(rc), e);
            fflush(stdout);
            _exit(rc == SF_EIO && named ? 0 : rc == 0 ? 1 : 2);
        }
        int status = -1;
        if (ASSERT_GT(pid, 0)) ASSERT_EQ(waitpid(pid, &status, 0), pid);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
        ASSERT_EQ_MSG(code, 0, "limit %ld: child exit %d", limits[i], code);
        int ntmp = count_tmp_files();
        if (!ASSERT_EQ_MSG(ntmp, 0, "limit %ld: %d temporary file(s) left", limits[i], ntmp))
            remove_tmp_files(); /* so that the next limit is judged on its own */
        int64_t x = read_i64(path);
        int mode = mode_of(path);
        ASSERT_EQ(x, 4242);
        ASSERT_EQ(mode, 0600);
        failed_as_expected += code == 0 && ntmp == 0 && x == 4242 && mode == 0600;
    }
    sf_value_unref(&big);
    printf("  %d of %d writes failed cleanly: SF_EIO, no temporary file left, the old target "
           "intact\n", failed_as_expected, (int)(sizeof limits / sizeof limits[0]));
}

static void rm_rf(const char *p) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", p);
}

int main(void) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sf_test_h5_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrips();
    test_big_endian();
    test_errors();
    test_outside_storage();
    test_sizes();
    test_write_modes();
    test_write_full_disk();
    rm_rf(dir);
    if (!test_failures()) printf("test_h5: all checks passed\n");
    TEST_DONE();
}
