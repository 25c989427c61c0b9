/*
 * psidata_dump FILE DATASET: print an HDF5 ID or feature dataset as text, for the PSI
 * data tests (there is no h5dump or h5py here).
 *
 * First line: the kind and shape, one of
 *   int64 N            then N lines, one decimal value each
 *   bytes N L          (uint8 [N, L]) then N lines of 2L lowercase hex digits
 *   string N L PAD     (fixed-length H5T_C_S1 of L bytes; PAD nullpad, nullterm or
 *                      spacepad) then N lines of 2L hex digits (the whole stored L bytes)
 *   float64 N K        (float64 [N, K]) then N lines of K values, %.17g, space separated
 * Any other dataset, or a missing file or dataset, is an error on stderr and exit 1.
 *
 * int64, uint8 [N, L] and float64 datasets are also read through the library's hardened
 * reader (io/h5.h: sf__h5_probe, sf__h5_read_rows, what sf_h5_read uses), and any
 * difference from HDF5's own read (dtype, shape or a value) is an error: the files the
 * PSI data tools write are readable by sfmpi programs as they are.
 */
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5.h"

static int fail(const char *what, const char *file, const char *ds) {
    fprintf(stderr, "psidata_dump: %s: dataset \"%s\": %s\n", file, ds, what);
    return 1;
}

/* The same data through sf__h5_probe/sf__h5_read_rows: 0 if identical. */
static int cross_check(const char *file, const char *ds, sf_dtype dt, int nd, size_t n, size_t w,
                       const void *want, size_t bytes) {
    sf_h5_info info;
    char err[1024];
    if (sf__h5_probe(file, ds, NULL, &info, err, sizeof err) != 0) {
        fprintf(stderr, "psidata_dump: sf__h5_probe: %s\n", err);
        return 1;
    }
    if (info.dtype != dt || info.ndim != nd || info.shape[0] != (int64_t)n ||
        (nd == 2 && info.shape[1] != (int64_t)w))
        return fail("the library's reader sees another dtype or shape", file, ds);
    void *got = malloc(bytes + 1);
    int rc = 0;
    if (n && sf__h5_read_rows(file, ds, NULL, &info, 0, (int64_t)n, got, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "psidata_dump: sf__h5_read_rows: %s\n", err);
        rc = 1;
    } else if (memcmp(got, want, bytes) != 0) {
        rc = fail("the library's reader returns other values", file, ds);
    }
    free(got);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: psidata_dump FILE DATASET\n");
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return fail("cannot open the file", argv[1], argv[2]);
    hid_t d = H5Dopen2(f, argv[2], H5P_DEFAULT);
    if (d < 0) return fail("no such dataset", argv[1], argv[2]);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[2] = {0, 1};
    if (nd < 1 || nd > 2) return fail("not 1-d or 2-d", argv[1], argv[2]);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5T_class_t cls = H5Tget_class(t);
    size_t sz = H5Tget_size(t), n = (size_t)dims[0], w = nd == 2 ? (size_t)dims[1] : 1;
    if (cls == H5T_INTEGER && sz == 8 && H5Tget_sign(t) == H5T_SGN_2 && nd == 1) {
        int64_t *b = malloc(n * 8 + 8);
        if (n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0)
            return fail("read failed", argv[1], argv[2]);
        printf("int64 %zu\n", n);
        for (size_t i = 0; i < n; i++) printf("%" PRId64 "\n", b[i]);
        if (cross_check(argv[1], argv[2], SF_I64, 1, n, 1, b, n * 8)) return 1;
        free(b);
    } else if (cls == H5T_INTEGER && sz == 1 && H5Tget_sign(t) == H5T_SGN_NONE && nd == 2) {
        unsigned char *b = malloc(n * w + 1);
        if (n && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0)
            return fail("read failed", argv[1], argv[2]);
        printf("bytes %zu %zu\n", n, w);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < w; j++) printf("%02x", b[i * w + j]);
            printf("\n");
        }
        if (cross_check(argv[1], argv[2], SF_U8, 2, n, w, b, n * w)) return 1;
        free(b);
    } else if (cls == H5T_STRING && !H5Tis_variable_str(t) && nd == 1) {
        H5T_str_t pad = H5Tget_strpad(t);
        unsigned char *b = malloc(n * sz + 1);
        if (n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0)
            return fail("read failed", argv[1], argv[2]);
        printf("string %zu %zu %s\n", n, sz,
               pad == H5T_STR_NULLPAD ? "nullpad" : pad == H5T_STR_NULLTERM ? "nullterm" : "spacepad");
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < sz; j++) printf("%02x", b[i * sz + j]);
            printf("\n");
        }
        free(b);
    } else if (cls == H5T_FLOAT && sz == 8) {
        double *b = malloc(n * w * 8 + 8);
        if (n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0)
            return fail("read failed", argv[1], argv[2]);
        printf("float64 %zu %zu\n", n, w);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < w; j++) printf("%.17g%s", b[i * w + j], j + 1 < w ? " " : "\n");
        if (cross_check(argv[1], argv[2], SF_F64, nd, n, w, b, n * w * 8)) return 1;
        free(b);
    } else {
        return fail("not int64 [n], uint8 [n, L], fixed strings [n] or float64", argv[1], argv[2]);
    }
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return fflush(stdout) == 0 ? 0 : 1;
}
