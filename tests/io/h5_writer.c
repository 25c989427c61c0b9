/*
 * Writer and checker for the killed-write test (tests/io/test_h5_kill.sh).
 *
 *   h5_writer PATH BASE [COUNT]   write versions BASE, BASE+1, ... (COUNT of them, default
 *                                 forever) of a 64 MiB dataset to PATH with
 *                                 sf__h5_write_atomic; prints "committed V" after each.
 *   h5_writer --check PATH        exit 0 and print the version if PATH is a complete,
 *                                 valid file whose data match its "version" attribute;
 *                                 exit 2 (printing "absent") if PATH does not exist;
 *                                 exit 1 with a message otherwise (corrupt or wrong data).
 *
 * Dataset "data": uint64 [NELEMS]; element 0 is the version, element i > 0 is
 * mix(version, i). Attribute "version": the version in decimal.
 */
#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5.h"

#define NELEMS ((int64_t)8 << 20) /* 8 Mi uint64 = 64 MiB */

static uint64_t mix(uint64_t v, uint64_t i) {
    uint64_t x = v * 0xD6E8FEB86659FD93ULL + i + 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int write_loop(const char *path, uint64_t base, long count) {
    int64_t shape[1] = {NELEMS};
    sf_value *v = sf_value_new(SF_U64, 1, shape);
    if (!v) {
        fprintf(stderr, "h5_writer: out of memory\n");
        return 1;
    }
    uint64_t *d = sf_value_data(v);
    for (long k = 0; count < 0 || k < count; k++) {
        uint64_t ver = base + (uint64_t)k;
        d[0] = ver;
        for (int64_t i = 1; i < NELEMS; i++) d[i] = mix(ver, (uint64_t)i);
        char vs[32], err[1024];
        snprintf(vs, sizeof vs, "%" PRIu64, ver);
        sf_h5_attr attrs[] = {{"program", "h5_writer"}, {"version", vs}};
        int rc = sf__h5_write_atomic(path, "data", v, attrs, 2, err, sizeof err);
        if (rc) {
            fprintf(stderr, "h5_writer: %s\n", err);
            sf_value_unref(&v);
            return 1;
        }
        printf("committed %" PRIu64 "\n", ver);
        fflush(stdout);
    }
    sf_value_unref(&v);
    return 0;
}

static int read_version_attr(const char *path, uint64_t *ver) {
    int ok = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "data", H5P_DEFAULT) : -1;
    hid_t a = d >= 0 ? H5Aopen(d, "version", H5P_DEFAULT) : -1;
    if (a >= 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        char *s = NULL;
        if (H5Aread(a, mt, &s) >= 0 && s) {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(s, &end, 10);
            ok = !errno && end != s && !*end;
            *ver = x;
            H5free_memory(s);
        }
        H5Tclose(mt);
        H5Aclose(a);
    }
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    return ok;
}

/* Check a hard link to PATH: one file even while a writer renames new versions over it
 * (the checker opens the file several times). */
static int check_file(const char *path);
static int check(const char *path) {
    char snap[4096];
    snprintf(snap, sizeof snap, "%s.check.%ld", path, (long)getpid());
    if (link(path, snap) != 0) {
        if (errno == ENOENT) {
            printf("absent\n");
            return 2;
        }
        fprintf(stderr, "check: link %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = check_file(snap);
    unlink(snap);
    return rc;
}

static int check_file(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    sf_h5_info info;
    char err[1024];
    if (sf__h5_probe(path, "data", NULL, &info, err, sizeof err) != 0) {
        fprintf(stderr, "check: invalid file: %s\n", err);
        return 1;
    }
    if (info.dtype != SF_U64 || info.ndim != 1 || info.shape[0] != NELEMS) {
        fprintf(stderr, "check: %s: wrong dtype/shape\n", path);
        return 1;
    }
    uint64_t ver;
    if (!read_version_attr(path, &ver)) {
        fprintf(stderr, "check: %s: no readable version attribute\n", path);
        return 1;
    }
    uint64_t *d = malloc((size_t)NELEMS * sizeof *d);
    if (!d) return 1;
    if (sf__h5_read_rows(path, "data", NULL, &info, 0, NELEMS, d, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "check: read: %s\n", err);
        free(d);
        return 1;
    }
    int bad = d[0] != ver;
    int64_t i = 1;
    for (; !bad && i < NELEMS; i++) bad = d[i] != mix(ver, (uint64_t)i);
    free(d);
    if (bad) {
        fprintf(stderr, "check: %s: data do not match version %" PRIu64 " (first difference at %lld)\n",
                path, ver, (long long)(i - 1));
        return 1;
    }
    printf("%" PRIu64 "\n", ver);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--check")) return check(argv[2]);
    if (argc == 3 || argc == 4) {
        uint64_t base = strtoull(argv[2], NULL, 10);
        long count = argc == 4 ? strtol(argv[3], NULL, 10) : -1;
        return write_loop(argv[1], base, count);
    }
    fprintf(stderr, "usage: h5_writer PATH BASE [COUNT] | h5_writer --check PATH\n");
    return 2;
}
