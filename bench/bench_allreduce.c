/*
 * bench_allreduce: allreduce SUM through the MPI party communicator (mpi/party_mpi.c)
 * vs a raw MPI_Allreduce on the same (duplicated) communicator, in one job.
 *
 *   mpirun -np 2 bench_allreduce [--reps=R] [--warmup=W] [--sf-mode=sim (ignored)]
 *
 * Cases: float64 64 MiB (the goal: >= 0.95x raw), plus 1 MiB and 8 B to show the fixed
 * cost of the shape/dtype agreement. Per case W warm-up rounds (default 2) and R timed
 * rounds (default 9, at least 7); each round runs raw and sf back to back (alternating
 * which goes first), each timed from a barrier to the slowest rank's finish.
 *   raw: MPI_Allreduce(in, out) into a preallocated, pre-touched, page-aligned buffer;
 *   sf:  pc->ops->allreduce(pc, in, SUM, &out), i.e. the agreement, the output value's
 *        allocation (from the value cache after the first round) and the reduction;
 *        the result is released after each round.
 * One line per case: medians, and ratio = raw median / sf median (>= 0.95x is the goal);
 * "paired" is the median of the per-round ratios (less sensitive to load drift).
 * Checks the sf result against raw once per case. A measurement: exits 0 unless it
 * cannot run or a result is wrong.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/party.h"
#include "core/value.h"

#include "bench_util.h"

#define MAX_REPS 101

/* Seconds from a common start to the slowest rank's end. */
static double slowest(MPI_Comm comm, double t0) {
    double dt = MPI_Wtime() - t0, mx = 0;
    MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, comm);
    return mx;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int reps = 9, warmup = 2;
    if (bench_json_args(&argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--reps=", 7) == 0) reps = atoi(argv[i] + 7);
        else if (strncmp(argv[i], "--warmup=", 9) == 0) warmup = atoi(argv[i] + 9);
    }
    if (reps < 7) reps = 7;
    if (reps > MAX_REPS) reps = MAX_REPS;
    if (warmup < 0) warmup = 0;
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm world = MPI_COMM_WORLD;
    sf_pcomm *pc = NULL;
    int rc = sf__pcomm_mpi_create(&pc, &world);
    if (rc) {
        fprintf(stderr, "bench_allreduce: sf__pcomm_mpi_create: %s\n", sf_err_name(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm comm = *(const MPI_Comm *)pc->ops->mpi_comm(pc); /* the same communicator */

    static const int64_t counts[] = {8L << 20, 128L << 10, 1};
    static const char *const names[] = {"64 MiB", "1 MiB", "8 B"};
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        int64_t n = counts[k];
        sf_value *in = sf__value_alloc(SF_F64, 1, &n);
        /* page-aligned like the value's buffer, so alignment favours neither side */
        size_t rbytes = (sizeof(double) * (size_t)n + 4095) / 4096 * 4096;
        double *raw_out = aligned_alloc(4096, rbytes);
        if (!in || !raw_out) {
            fprintf(stderr, "bench_allreduce: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        double *x = in->data;
        for (int64_t i = 0; i < n; i++) x[i] = (double)(i % 1024) + rank;
        memset(raw_out, 0, sizeof(double) * (size_t)n);
        double traw[MAX_REPS], tsf[MAX_REPS], pair[MAX_REPS];
        int inner = n == 1 ? 1000 : n < (1 << 20) ? 20 : 1; /* small cases: per-call time */
        for (int it = 0; it < warmup + reps; it++) {
            double t_raw = 0, t_sf = 0;
            for (int order = 0; order < 2; order++) {
                int do_raw = (order == 0) == (it % 2 == 0);
                MPI_Barrier(comm);
                double t0 = MPI_Wtime();
                if (do_raw) {
                    for (int j = 0; j < inner; j++)
                        MPI_Allreduce(in->data, raw_out, (int)n, MPI_DOUBLE, MPI_SUM, comm);
                    t_raw = slowest(comm, t0) / inner;
                } else {
                    for (int j = 0; j < inner; j++) {
                        sf_value *out = NULL;
                        if ((rc = pc->ops->allreduce(pc, in, SF_OP_SUM, &out))) {
                            fprintf(stderr, "bench_allreduce: allreduce: %s\n", sf_err_name(rc));
                            MPI_Abort(MPI_COMM_WORLD, 1);
                        }
                        if (j == inner - 1 && it == warmup + reps - 1 &&
                            memcmp(out->data, raw_out, sizeof(double) * (size_t)n) != 0)
                            bad = 1;
                        sf_value_unref(&out);
                    }
                    t_sf = slowest(comm, t0) / inner;
                }
            }
            if (it >= warmup) {
                traw[it - warmup] = t_raw;
                tsf[it - warmup] = t_sf;
                pair[it - warmup] = t_raw / t_sf;
            }
        }
        double mraw = bench_median(traw, reps), msf = bench_median(tsf, reps), mpair = bench_median(pair, reps);
        if (rank == 0)
            printf("allreduce sum float64 %-6s np=%d: raw %10.1f us (%6.2f GB/s)  sf %10.1f us "
                   "(%6.2f GB/s)  ratio %.3fx%s (paired %.3fx)  [%d warm-up + %d timed, medians]\n",
                   names[k], size, mraw * 1e6, (double)n * 8 / mraw / 1e9, msf * 1e6,
                   (double)n * 8 / msf / 1e9, mraw / msf, k == 0 ? " (goal >= 0.95x)" : "", mpair,
                   warmup, reps);
        if (rank == 0) {
            bench_cfg cfg = {0};
            bench_cfg_str(&cfg, "mode", "sim");
            bench_cfg_num(&cfg, "bytes", (double)n * 8);
            bench_cfg_num(&cfg, "ranks", size);
            bench_cfg_num(&cfg, "reps", reps);
            bench_json("allreduce", &cfg, msf * 1e6, "us", mraw * 1e6, "MPI_Allreduce");
        }
        fflush(stdout);
        free(raw_out);
        sf_value_unref(&in);
    }
    int anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, comm);
    if (anybad && rank == 0) fprintf(stderr, "bench_allreduce: sf result differs from raw\n");
    pc->ops->destroy(&pc);
    MPI_Finalize();
    return anybad ? 1 : 0;
}
