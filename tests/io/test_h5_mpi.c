/*
 * io/h5.c, parallel read (run under mpirun with any number of ranks; extra arguments such
 * as --sf-mode=sim are ignored): rank 0 writes a few datasets, then every rank reads its
 * own block of rows with the MPI-IO path (collective H5Dread), the blocks are gathered to
 * rank 0 and compared byte for byte with a serial read of the whole dataset and with the
 * data written. Also: errors on one rank only (a bad row range) and on every rank (a
 * missing dataset) are returned on every rank without a hang. Exit 1 on any difference.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5.h"
#include "tests/check.h"

static int rank, nranks;

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

typedef struct spec {
    const char *name;
    sf_dtype dt;
    int ndim;
    int64_t shape[3];
} spec;

static const spec specs[] = {
    {"f64", SF_F64, 2, {1000, 7}},   /* 1000 rows: not divisible by 3 */
    {"i32", SF_I32, 2, {1001, 5}},   /* 1001 rows: not divisible by 2 or 3 */
    {"grp/i16", SF_I16, 3, {10, 3, 2}},
    {"u8", SF_U8, 2, {2, 4}},        /* fewer rows than ranks with 3 ranks */
    {"empty", SF_F32, 2, {0, 3}},
    {"scalar", SF_F64, 0, {0}},
};
enum { NSPECS = sizeof specs / sizeof specs[0] };

static sf_value *make_value(const spec *s) {
    sf_value *v = sf_value_new(s->dt, s->ndim, s->shape);
    if (!v) return NULL;
    size_t n = sf_value_nelems(v), es = sf_dtype_size(s->dt);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = mix((uint64_t)s->dt * 7919 + i);
        if (s->dt == SF_F64) {
            double d = (double)(int64_t)r / 1e9;
            memcpy((char *)sf_value_data(v) + i * es, &d, es);
        } else if (s->dt == SF_F32) {
            float f = (float)((double)(int64_t)r / 1e12);
            memcpy((char *)sf_value_data(v) + i * es, &f, es);
        } else {
            memcpy((char *)sf_value_data(v) + i * es, &r, es);
        }
    }
    return v;
}

static void check_dataset(const char *path, const spec *s, MPI_Comm comm) {
    sf_h5_info info;
    char err[1024];
    if (!ASSERT_OK_MSG(sf__h5_probe(path, s->name, NULL, &info, err, sizeof err), "probe: %s", err)) return;
    int64_t rows = info.ndim ? info.shape[0] : 1;
    size_t rowbytes = sf_dtype_size(info.dtype);
    for (int i = 1; i < info.ndim; i++) rowbytes *= (size_t)info.shape[i];
    int64_t lo = rows * rank / nranks, hi = rows * (rank + 1) / nranks;
    size_t mybytes = (size_t)(hi - lo) * rowbytes;
    unsigned char *mine = malloc(mybytes + 1);
    int rc = sf__h5_read_rows(path, s->name, NULL, &info, lo, hi - lo, mine, &comm, err, sizeof err);
    ASSERT_OK_MSG(rc, "%s: collective read_rows(%lld, %lld): %s", s->name, (long long)lo, (long long)(hi - lo),
                  err);

    int cnt = (int)mybytes, *counts = NULL, *displs = NULL;
    unsigned char *all = NULL, *serial = NULL;
    size_t total = (size_t)rows * rowbytes;
    if (rank == 0) {
        counts = calloc((size_t)nranks, sizeof *counts);
        displs = calloc((size_t)nranks, sizeof *displs);
        all = malloc(total + 1);
        serial = malloc(total + 1);
    }
    MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    if (rank == 0)
        for (int r = 1; r < nranks; r++) displs[r] = displs[r - 1] + counts[r - 1];
    MPI_Gatherv(mine, cnt, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, comm);
    if (rank == 0) {
        rc = sf__h5_read_rows(path, s->name, NULL, &info, 0, rows, serial, NULL, err, sizeof err);
        ASSERT_OK_MSG(rc, "%s: serial read_rows: %s", s->name, err);
        sf_value *v = make_value(s);
        if (ASSERT_MEM_EQ_MSG(all, serial, total, "%s: gathered blocks differ from the serial read", s->name) &&
            ASSERT_NOT_NULL(v) &&
            ASSERT_EQ_MSG(sf_value_nbytes(v), total, "%s: serial read differs from the data written", s->name) &&
            ASSERT_MEM_EQ_MSG(serial, sf_value_cdata(v), total, "%s: serial read differs from the data written",
                              s->name))
            printf("%-8s %s %lld rows x %zu bytes: %d-rank collective read == serial read\n",
                   s->name, sf_dtype_name(info.dtype), (long long)rows, rowbytes, nranks);
        sf_value_unref(&v);
    }
    free(mine), free(counts), free(displs), free(all), free(serial);
}

static void check_errors(const char *path, MPI_Comm comm) {
    sf_h5_info info;
    char err[1024];
    if (!ASSERT_OK_MSG(sf__h5_probe(path, "f64", NULL, &info, err, sizeof err), "probe: %s", err)) return;
    double buf[7 * 4];
    /* the last rank asks for rows past the end; every rank must return SF_ERANGE */
    int64_t row0 = rank == nranks - 1 ? info.shape[0] : 0;
    int rc = sf__h5_read_rows(path, "f64", NULL, &info, row0, 1, buf, &comm, err, sizeof err);
    if (ASSERT_STATUS_MSG(rc, SF_ERANGE, "bad range on rank %d only: \"%s\"", nranks - 1, err) &&
        ASSERT_STR_CONTAINS(err, path) && ASSERT_STR_CONTAINS(err, "\"f64\"") && rank == 0)
        printf("one rank's bad range -> every rank: %s \"%s\"\n", sf_err_name(rc), err);
    /* a missing dataset on every rank */
    rc = sf__h5_read_rows(path, "nope", NULL, &info, 0, 1, buf, &comm, err, sizeof err);
    if (ASSERT_STATUS_MSG(rc, SF_EIO, "missing dataset: \"%s\"", err) && ASSERT_STR_CONTAINS(err, path))
        ASSERT_STR_CONTAINS(err, "\"nope\"");
    /* and the communicator still works for a good read afterwards */
    rc = sf__h5_read_rows(path, "f64", NULL, &info, rank, 1, buf, &comm, err, sizeof err);
    ASSERT_OK_MSG(rc, "read after errors: %s", err);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    test_context("rank %d", rank);
    char dir[512] = "", path[600];
    if (rank == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/sf_test_h5_mpi_XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            MPI_Abort(comm, 1);
        }
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, comm);
    snprintf(path, sizeof path, "%s/data.h5", dir);

    if (rank == 0) {
        /* each dataset in its own file (write_atomic writes one dataset per file) */
        for (int i = 0; i < NSPECS; i++) {
            char p[700], err[1024];
            snprintf(p, sizeof p, "%s.%d", path, i);
            sf_value *v = make_value(&specs[i]);
            sf_h5_attr a[] = {{"program", "test_h5_mpi"}};
            if (ASSERT_NOT_NULL_MSG(v, "write %s: out of memory", specs[i].name))
                ASSERT_OK_MSG(sf__h5_write_atomic(p, specs[i].name, v, a, 1, err, sizeof err), "write %s: %s",
                              specs[i].name, err);
            sf_value_unref(&v);
        }
    }
    MPI_Barrier(comm);
    for (int i = 0; i < NSPECS; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s.%d", path, i);
        check_dataset(p, &specs[i], comm);
    }
    {
        char p[700];
        snprintf(p, sizeof p, "%s.0", path);
        check_errors(p, comm);
    }

    int failed = test_failures() > 0, any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, comm);
    if (rank == 0) {
        for (int i = 0; i < NSPECS; i++) {
            char p[700];
            snprintf(p, sizeof p, "%s.%d", path, i);
            unlink(p);
        }
        rmdir(dir);
        printf("test_h5_mpi (%d rank%s): %s\n", nranks, nranks == 1 ? "" : "s",
               any ? "FAILED" : "all checks passed");
    }
    MPI_Finalize();
    return any ? 1 : 0;
}
