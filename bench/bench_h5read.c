/*
 * bench_h5read: reading a party-local HDF5 dataset through the runtime against a plain
 * H5Dread of the same file, in the same process.
 *
 * The file: one float64 dataset "x" of --mib MiB (default 1024), shape (rows, 128),
 * element i = i, written once with the runtime's own writer (io/h5.h,
 * sf__h5_write_atomic) by `bench_h5read --write`.
 *
 * Per repetition (the order of the two alternates from one repetition to the next):
 *   sfmpi   t0; o = sf_h5_read(sf_pyu_all(sf, party 0), file, "x"); sf_wait(o); t1
 *           (timed on the program's thread: the call, the probe, every rank's read
 *           (MPI-IO when the party has an MPI communicator), the gather to the leader
 *           with several ranks); the data is checked (a sample), then released
 *   plain   a task on the party's leader: H5Fopen (default driver) + H5Dopen + H5Dread of
 *           the whole dataset into a buffer allocated and touched once before the first
 *           repetition + close, timed inside the task
 * The runtime's result is a fresh 1 GiB value each time; its cache of large mappings
 * hands back the previous one after the release, so after the warm-up repetitions both
 * read into memory that is already mapped. With --cold every read (both methods) starts
 * with `sync; echo 3 > /proc/sys/vm/drop_caches` (from a task on the leader); without it
 * the file is in the page cache after the first read and both methods read warm.
 *
 *   bench_h5read --write [--file=F] [--mib=N]          (writes F unless it is already right)
 *   bench_h5read [--file=F] [--reps=R] [--warmup=W] [--cold] --sf-mode=debug --sf-parties=alice
 *   mpirun -np 1 bench_h5read ... --sf-mode=sim --sf-parties=alice
 *   mpirun -np 2 bench_h5read ... --sf-mode=sim --sf-parties=alice --sf-ranks-per-party=2
 * Output: one line per repetition and a summary with the medians and the median of the
 * per-repetition ratios (plain time / sfmpi time: > 1 means the runtime is faster).
 * A measurement, not a test: exits 0 unless something fails.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "io/h5.h"
#include "mpi/party.h"
#include "sfmpi/sf.h"

const void *sf__comm_mpi(sf_comm *c); /* runtime/internal.h: the party's MPI_Comm, or NULL */

#include "bench_util.h"

#define COLS 128

static const char *g_file = "/tmp/sfmpi-bench-h5read.h5";
static long g_mib = 1024;
static int g_reps = 5, g_warmup = 2, g_cold = 0, g_write = 0;
static double *g_buf; /* the plain read's warm buffer (on the leader) */
static size_t g_buf_bytes;

static long check(const double *p, size_t n) {
    long bad = 0;
    for (size_t i = 0; i < n; i += 4096) bad += p[i] != (double)i;
    if (n) bad += p[n - 1] != (double)(n - 1);
    return bad;
}

/* ------------------------------------------------------------------ writing the file */

static int write_file(void) {
    int64_t rows = g_mib * ((1 << 20) / (8 * COLS));
    size_t n = (size_t)rows * COLS;
    struct stat st;
    if (stat(g_file, &st) == 0 && (size_t)st.st_size >= n * 8 && (size_t)st.st_size < n * 8 + (1 << 20)) {
        sf_h5_info info;
        char err[1024];
        if (sf__h5_probe(g_file, "x", NULL, &info, err, sizeof err) == 0 && info.dtype == SF_F64 &&
            info.ndim == 2 && info.shape[0] == rows && info.shape[1] == COLS) {
            printf("h5read: %s already holds x (%lld x %d float64)\n", g_file, (long long)rows, COLS);
            return 0;
        }
    }
    sf_value *v = sf_value_new(SF_F64, 2, (int64_t[]){rows, COLS});
    if (!v) return 1;
    double *p = sf_value_data(v);
    for (size_t i = 0; i < n; i++) p[i] = (double)i;
    char err[1024];
    sf_h5_attr attrs[] = {{"program", "bench_h5read"}};
    double t0 = bench_now_s();
    int rc = sf__h5_write_atomic(g_file, "x", v, attrs, 1, err, sizeof err);
    sf_value_unref(&v);
    if (rc) {
        fprintf(stderr, "bench_h5read: %s\n", err);
        return 1;
    }
    printf("h5read: wrote %s: x (%lld x %d float64, %zu bytes) in %.1f s\n", g_file, (long long)rows,
           COLS, n * 8, bench_now_s() - t0);
    return 0;
}

/* ------------------------------------------------------------------ tasks on the leader */

static int drop_caches(sf_task *t) {
    sync();
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    int ok = f && fputs("3\n", f) >= 0;
    if (f && fclose(f)) ok = 0;
    return sf_return(t, 0, sf_value_i64(ok));
}

static int plain_read(sf_task *t) {
    const char *file = sf_arg_str(t, 0);
    double t0 = bench_now_s();
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sf_fail(t, "H5Fopen %s failed", file);
    hid_t d = H5Dopen2(f, "x", H5P_DEFAULT);
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (n < 0) {
        H5Fclose(f);
        return sf_fail(t, "%s: no dataset x", file);
    }
    size_t bytes = (size_t)n * sizeof(double);
    if (!g_buf || g_buf_bytes != bytes) { /* allocated and touched before any timing */
        free(g_buf);
        void *p = NULL;
        if (posix_memalign(&p, 4096, bytes)) return sf_fail(t, "out of memory");
        g_buf = p;
        memset(g_buf, 0, bytes);
        g_buf_bytes = bytes;
        t0 = bench_now_s();
    }
    herr_t rc = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, g_buf);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    double dt = bench_now_s() - t0;
    if (rc < 0) return sf_fail(t, "H5Dread of %s failed", file);
    long bad = check(g_buf, (size_t)n);
    if (bad) return sf_fail(t, "plain read: %ld wrong values in the sample", bad);
    g_buf[0] = -1; /* the next read must write it again */
    return sf_return(t, 0, sf_value_f64(dt));
}

/* The baseline with several ranks (simulation mode): every rank of the party opens the
 * file with plain parallel HDF5 (the MPI-IO driver on the party's communicator), reads its
 * block of rows with a collective H5Dread (the leader straight into its warm whole-dataset
 * buffer, the others into warm blocks of their own), and MPI_Gatherv brings the blocks to
 * the leader: the state sf_h5_read ends in. Timed on the leader, from a barrier to the end
 * of the gather. */
static double *g_blk; /* a non-leader rank's warm block */
static size_t g_blk_bytes;

static int par_read(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    const MPI_Comm *comm = sf__comm_mpi(c);
    if (!comm) return sf_fail(t, "par_read needs an MPI communicator (simulation mode)");
    int rank = sf_comm_rank(c), size = sf_comm_size(c);
    const char *file = sf_arg_str(t, 0);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_fapl_mpio(fapl, *comm, MPI_INFO_NULL);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    /* the dataset's shape first (untimed), so the buffers exist before the clock starts */
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, fapl);
    hid_t d = f >= 0 ? H5Dopen2(f, "x", H5P_DEFAULT) : -1;
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0};
    if (s < 0 || H5Sget_simple_extent_dims(s, dims, NULL) != 2) return sf_fail(t, "%s: no 2-d dataset x", file);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    int64_t row0, nrows;
    sf__block_rows((int64_t)dims[0], size, rank, &row0, &nrows);
    size_t total = (size_t)dims[0] * dims[1] * sizeof(double), mine = (size_t)nrows * dims[1] * sizeof(double);
    double **bufp = rank == 0 ? &g_buf : &g_blk;
    size_t *bytesp = rank == 0 ? &g_buf_bytes : &g_blk_bytes, want = rank == 0 ? total : mine;
    if (!*bufp || *bytesp != want) { /* allocated and touched before any timing */
        free(*bufp);
        void *p = NULL;
        if (posix_memalign(&p, 4096, want ? want : 1)) return sf_fail(t, "out of memory");
        memset(p, 0, want);
        *bufp = p;
        *bytesp = want;
    }
    int *counts = NULL, *displs = NULL;
    if (rank == 0) {
        counts = malloc(sizeof *counts * (size_t)size);
        displs = malloc(sizeof *displs * (size_t)size);
        if (!counts || !displs) return sf_fail(t, "out of memory");
        for (int r = 0; r < size; r++) {
            int64_t r0, nr;
            sf__block_rows((int64_t)dims[0], size, r, &r0, &nr);
            /* in rows of COLS doubles (an MPI datatype), so the counts fit an int */
            counts[r] = (int)nr;
            displs[r] = (int)r0;
        }
    }
    MPI_Datatype row;
    MPI_Type_contiguous((int)dims[1], MPI_DOUBLE, &row);
    MPI_Type_commit(&row);
    MPI_Barrier(*comm);
    double t0 = bench_now_s();
    f = H5Fopen(file, H5F_ACC_RDONLY, fapl);
    d = H5Dopen2(f, "x", H5P_DEFAULT);
    s = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nrows, dims[1]};
    H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(2, count, NULL);
    herr_t rc = H5Dread(d, H5T_NATIVE_DOUBLE, ms, s, dxpl, *bufp);
    H5Sclose(ms);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    if (rank == 0)
        MPI_Gatherv(MPI_IN_PLACE, 0, row, g_buf, counts, displs, row, 0, *comm);
    else
        MPI_Gatherv(g_blk, (int)nrows, row, NULL, NULL, NULL, row, 0, *comm);
    double dt = bench_now_s() - t0;
    MPI_Type_free(&row);
    H5Pclose(fapl);
    H5Pclose(dxpl);
    free(counts);
    free(displs);
    if (rc < 0) return sf_fail(t, "rank %d: H5Dread of %s failed", rank, file);
    if (rank != 0) return sf_return(t, 0, sf_value_f64(0));
    long bad = check(g_buf, total / sizeof(double));
    if (bad) return sf_fail(t, "parallel read: %ld wrong values in the sample", bad);
    g_buf[0] = -1;
    return sf_return(t, 0, sf_value_f64(dt));
}

static long minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static int check_task(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    long bad = check(sf_value_cdata(v), sf_value_nelems(v));
    if (bad) return sf_fail(t, "sf_h5_read: %ld wrong values in the sample", bad);
    return sf_return(t, 0, sf_value_i64((int64_t)sf_value_nbytes(v)));
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    const char *party = sf_party_name_of(sf, 0);
    sf_device leader = sf_pyu(sf, party), all = sf_pyu_all(sf, party);
    int ranks = sf_party_ranks(sf), total = g_warmup + g_reps, cold_ok = 1;
    int par = ranks > 1 && sf_get_distribution_mode(sf) == SF_MODE_SIMULATION;
    const char *base = par ? "parallel HDF5 + MPI_Gatherv" : "plain H5Dread";
    double ts[64], tp[64], ratio[64];
    size_t bytes = 0;
    const char *mode = sf_mode_name(sf_get_distribution_mode(sf));
    for (int r = 0; r < total; r++) {
        double t_sf = 0, t_plain = 0;
        long flt = 0;
        for (int k = 0; k < 2; k++) {
            int do_sf = (k == 0) == (r % 2 == 0);
            if (g_cold) {
                sf_obj c = SF_REMOTE(leader, drop_caches);
                sf_value *v;
                SF_TRY(sf_get(sf, c, &v));
                cold_ok &= (int)sf_value_as_i64(v, 0);
                sf_release(c);
            }
            if (do_sf) {
                long f0 = minflt();
                double t0 = bench_now_s();
                sf_obj o = sf_h5_read(all, g_file, "x");
                SF_TRY(sf_wait(sf, &o, 1));
                t_sf = bench_now_s() - t0;
                flt = minflt() - f0;
                sf_obj c = SF_REMOTE(leader, check_task, SF_OBJ(o));
                sf_value *v;
                SF_TRY(sf_get(sf, c, &v));
                bytes = (size_t)sf_value_as_i64(v, 0);
                sf_release(c);
                sf_release(o);
            } else {
                /* several ranks under MPI: the parallel baseline; else one plain read */
                sf_obj o = par ? SF_REMOTE(all, par_read, SF_STR(g_file))
                               : SF_REMOTE(leader, plain_read, SF_STR(g_file));
                sf_value *v;
                SF_TRY(sf_get(sf, o, &v));
                t_plain = sf_value_as_f64(v, 0);
                sf_release(o);
            }
        }
        if (r >= g_warmup) {
            ts[r - g_warmup] = t_sf, tp[r - g_warmup] = t_plain;
            ratio[r - g_warmup] = t_plain / t_sf;
        }
        sf_print(sf, "h5read %s %d rank%s rep %d%s: sfmpi %.3f s (%.0f MB/s), %s %.3f s "
                     "(%.0f MB/s), ratio %.2f; leader's minor page faults in the sfmpi read: %ld\n",
                 mode, ranks, ranks > 1 ? "s" : "", r, r < g_warmup ? " (warm-up)" : "", t_sf,
                 (double)bytes / t_sf / 1e6, base, t_plain, (double)bytes / t_plain / 1e6, t_plain / t_sf, flt);
    }
    double ms = bench_median(ts, g_reps), mp = bench_median(tp, g_reps);
    sf_print(sf, "h5read %s %d rank%s per party, %s cache: sfmpi %.0f MB/s, %s %.0f MB/s "
                 "(medians of %d reps, %zu bytes); ratio %.2f (median of per-rep ratios)%s\n",
             mode, ranks, ranks > 1 ? "s" : "", g_cold ? (cold_ok ? "cold" : "warm (drop_caches FAILED)") : "warm",
             (double)bytes / ms / 1e6, base, (double)bytes / mp / 1e6, g_reps, bytes, bench_median(ratio, g_reps),
             "");
    if (sf_party_index(sf) == 0) {
        bench_cfg cfg = {0};
        bench_cfg_str(&cfg, "mode", mode);
        bench_cfg_num(&cfg, "ranks_per_party", ranks);
        bench_cfg_str(&cfg, "cache", g_cold ? (cold_ok ? "cold" : "warm (drop_caches failed)") : "warm");
        bench_cfg_num(&cfg, "bytes", (double)bytes);
        bench_cfg_num(&cfg, "reps", g_reps);
        bench_json("h5read", &cfg, (double)bytes / ms / 1e6, "MB/s", (double)bytes / mp / 1e6, base);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--file=", 7)) g_file = a + 7;
        else if (!strncmp(a, "--mib=", 6)) g_mib = atol(a + 6);
        else if (!strncmp(a, "--reps=", 7)) g_reps = atoi(a + 7);
        else if (!strncmp(a, "--warmup=", 9)) g_warmup = atoi(a + 9);
        else if (!strcmp(a, "--cold")) g_cold = 1;
        else if (!strcmp(a, "--write")) g_write = 1;
        else if (strncmp(a, "--sf-", 5)) {
            fprintf(stderr, "usage: %s [--write] [--file=F] [--mib=N] [--reps=R] [--warmup=W] [--cold] "
                            "[--json FILE] [--sf-...]\n", argv[0]);
            return 2;
        }
    }
    if (g_mib < 1) g_mib = 1;
    if (g_reps < 1) g_reps = 1;
    if (g_reps > 63) g_reps = 63;
    if (g_warmup < 0) g_warmup = 0;
    if (g_warmup + g_reps > 64) g_warmup = 64 - g_reps;
    if (g_write) return write_file();
    sf_config cfg = {.argc = argc, .argv = argv, .quiet = 1};
    return sf_run(&cfg, program, NULL);
}
