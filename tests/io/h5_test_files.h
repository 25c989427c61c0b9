/*
 * HDF5 files that are not what they seem, for the io tests (test_h5.c, test_h5_read_opts.c):
 * data stored outside the file, and datasets that declare more than their file holds.
 * Each maker returns 0, or -1 with a message on stderr.
 */
#ifndef SF_TESTS_IO_H5_TEST_FILES_H
#define SF_TESTS_IO_H5_TEST_FILES_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const double h5t_secret[8] = {1.5, -2.25, 3.0, 1e300, -0.0, 42.0, 7.125, -1e-300};

typedef struct h5t_outside {
    char secret[700]; /* DIR/outside/secret.bin: the bytes of h5t_secret */
    char src[700];    /* DIR/outside/src.h5: "data", float64 [8] = h5t_secret */
    char ext[700];    /* DIR/data/ext.h5: "ext", float64 [8] stored in secret.bin (external) */
    char vds[700];    /* DIR/data/vds.h5: "virt", float64 [8], virtual over src.h5:data */
} h5t_outside;

static int h5t_make_outside(const char *dir, h5t_outside *p) {
    char sub[700];
    snprintf(sub, sizeof sub, "%s/outside", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/data", dir);
    mkdir(sub, 0755);
    snprintf(p->secret, sizeof p->secret, "%s/outside/secret.bin", dir);
    snprintf(p->src, sizeof p->src, "%s/outside/src.h5", dir);
    snprintf(p->ext, sizeof p->ext, "%s/data/ext.h5", dir);
    snprintf(p->vds, sizeof p->vds, "%s/data/vds.h5", dir);
    FILE *f = fopen(p->secret, "wb");
    int ok = f && fwrite(h5t_secret, sizeof h5t_secret, 1, f) == 1;
    if (f) fclose(f);
    hsize_t dims[1] = {8};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t h = H5Fcreate(p->src, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d = H5Dcreate2(h, "data", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok &= d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, h5t_secret) >= 0;
    H5Dclose(d), H5Fclose(h);

    h = H5Fcreate(p->ext, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ok &= H5Pset_external(dcpl, p->secret, 0, sizeof h5t_secret) >= 0;
    d = H5Dcreate2(h, "ext", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ok &= d >= 0;
    H5Dclose(d), H5Pclose(dcpl), H5Fclose(h);

    h = H5Fcreate(p->vds, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t src = H5Screate_simple(1, dims, NULL);
    ok &= H5Pset_virtual(dcpl, sp, p->src, "data", src) >= 0;
    d = H5Dcreate2(h, "virt", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ok &= d >= 0;
    H5Dclose(d), H5Sclose(src), H5Pclose(dcpl), H5Fclose(h);
    H5Sclose(sp);
    if (!ok) fprintf(stderr, "h5t_make_outside: cannot make the files in %s\n", dir);
    return ok ? 0 : -1;
}

/* An extent bomb: dataset "bomb", contiguous int16 with its storage in the file (693
 * elements, 1386 bytes), whose dataspace is then patched to declare H5T_BOMB_ELEMS
 * elements (2 GiB). The file stays a few KB, HDF5 opens it and reports the new shape.
 * *declared gets the declared bytes, *fsize the file's size. */
#define H5T_BOMB_ELEMS ((uint64_t)1 << 30)
static int h5t_make_bomb(const char *path, uint64_t *declared, long *fsize) {
    const uint64_t n0 = 693; /* a value that appears once or twice (dims, max dims) */
    hsize_t dims[1] = {n0};
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(h, "bomb", H5T_NATIVE_INT16, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int16_t *buf = calloc(n0, sizeof *buf);
    int ok = d >= 0 && buf && H5Dwrite(d, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    free(buf);
    H5Dclose(d), H5Sclose(sp), H5Fclose(h);
    FILE *f = fopen(path, "r+b");
    long sz = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    unsigned char *b = sz > 0 ? malloc((size_t)sz) : NULL;
    if (!f || !b || fseek(f, 0, SEEK_SET) != 0 || fread(b, 1, (size_t)sz, f) != (size_t)sz) ok = 0;
    int hits = 0;
    uint64_t big = H5T_BOMB_ELEMS; /* little-endian, as HDF5 stores lengths */
    unsigned char pat[8], rep[8];
    for (int i = 0; i < 8; i++) pat[i] = (unsigned char)(n0 >> (8 * i)), rep[i] = (unsigned char)(big >> (8 * i));
    for (long i = 0; ok && i + 8 <= sz; i++)
        if (!memcmp(b + i, pat, 8)) memcpy(b + i, rep, 8), hits++;
    if (ok && (hits < 1 || hits > 2)) ok = 0;
    if (ok && (fseek(f, 0, SEEK_SET) != 0 || fwrite(b, 1, (size_t)sz, f) != (size_t)sz)) ok = 0;
    if (f && fclose(f) != 0) ok = 0;
    free(b);
    /* the patch took: HDF5 sees the declared shape and storage in the file */
    h = ok ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    d = h >= 0 ? H5Dopen2(h, "bomb", H5P_DEFAULT) : -1;
    sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t got[1] = {0};
    ok &= sp >= 0 && H5Sget_simple_extent_dims(sp, got, NULL) == 1 && got[0] == big &&
          H5Dget_offset(d) != HADDR_UNDEF;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (h >= 0) H5Fclose(h);
    *declared = big * 2;
    *fsize = sz;
    if (!ok) fprintf(stderr, "h5t_make_bomb: cannot make %s (%d patches)\n", path, hits);
    return ok ? 0 : -1;
}

/* Legitimately large declarations in a small file, all float64:
 *   "chunked"   [64, 16] chunks of [8, 16], written: value i * 0.5 (8192 bytes)
 *   "deflate"   the same, deflate-compressed (if the filter is available)
 *   "unalloc"   [8192] contiguous, never written: reads as fill value 7 (65536 bytes)
 *   "unalloc_2g" [2^28] contiguous, never written (2 GiB)
 *   "huge"      [2^57] chunked, no chunk written (2^60 bytes: more than any memory)
 *   "mid"       [12582912] chunked, no chunk written (96 MiB) */
static int h5t_make_sizes(const char *path) {
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int ok = h >= 0;
    double v[64 * 16];
    for (int i = 0; i < 64 * 16; i++) v[i] = i * 0.5;
    hsize_t d2[2] = {64, 16}, c2[2] = {8, 16};
    hid_t sp = H5Screate_simple(2, d2, NULL);
    for (int z = 0; z < 2; z++) {
        if (z && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) break;
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        ok &= H5Pset_chunk(dcpl, 2, c2) >= 0 && (!z || H5Pset_deflate(dcpl, 6) >= 0);
        hid_t d = H5Dcreate2(h, z ? "deflate" : "chunked", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT,
                             dcpl, H5P_DEFAULT);
        ok &= d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
        H5Dclose(d), H5Pclose(dcpl);
    }
    H5Sclose(sp);
    hsize_t n1[1] = {8192}, n2[1] = {(hsize_t)1 << 28};
    double fill = 7.0;
    for (int z = 0; z < 2; z++) {
        sp = H5Screate_simple(1, z ? n2 : n1, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        ok &= H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE) >= 0 &&
              H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &fill) >= 0;
        hid_t d = H5Dcreate2(h, z ? "unalloc_2g" : "unalloc", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT,
                             dcpl, H5P_DEFAULT);
        ok &= d >= 0;
        H5Dclose(d), H5Pclose(dcpl), H5Sclose(sp);
    }
    for (int z = 0; z < 2; z++) {
        hsize_t nh[1] = {z ? (hsize_t)12582912 : (hsize_t)1 << 57}, ch[1] = {z ? 65536 : 1024};
        sp = H5Screate_simple(1, nh, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        ok &= H5Pset_chunk(dcpl, 1, ch) >= 0;
        hid_t d = H5Dcreate2(h, z ? "mid" : "huge", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl,
                             H5P_DEFAULT);
        ok &= d >= 0;
        H5Dclose(d), H5Pclose(dcpl), H5Sclose(sp);
    }
    if (h >= 0) H5Fclose(h);
    if (!ok) fprintf(stderr, "h5t_make_sizes: cannot make %s\n", path);
    return ok ? 0 : -1;
}

#endif
