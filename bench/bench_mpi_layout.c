/*
 * bench_mpi_layout: raw MPI, no sfmpi. What the simulation transport's message layout
 * costs, and whether one message could replace its two.
 *
 * The sim transport sends a value above 8 KiB as its data (one contiguous message, which
 * Open MPI's shared-memory transport moves with a single copy) followed by a small wire
 * header (mpi/sim/transport_mpi.c). Ping-pong between two ranks, three layouts of one
 * move of N bytes of data plus a 100-byte header:
 *   contig    the data alone, one contiguous message (the OSU loop: the floor)
 *   two       the data, then the header as a second message (what the transport does)
 *   struct    one message of a two-block datatype (data, then header), received
 *             contiguous: one message instead of two, no copy at the sender
 * Each layout runs `--reps` times (alternating) of `--iters` round trips; the median
 * one-way time is printed per layout, with two/contig and struct/contig, and recorded
 * (`--json FILE`) as mpi_layout.two and mpi_layout.struct against contig.
 *
 *   mpirun -np 2 bench_mpi_layout [--reps=7] [--iters=2000] [--json FILE] [N ...]
 *   (default sizes 65536 and 1048576)
 * A measurement, not a test. Runs on a private duplicate of MPI_COMM_WORLD.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define HDR 100

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One-way microseconds of `iters` round trips in layout `mode` (0 contig, 1 two, 2 struct). */
static double run(MPI_Comm comm, int mode, int rank, size_t n, int iters, char *sbuf,
                  char *rbuf, char *hdr) {
    int peer = 1 - rank;
    MPI_Datatype dt = MPI_DATATYPE_NULL;
    if (mode == 2) {
        int bl[2] = {(int)n, HDR};
        MPI_Aint disp[2];
        MPI_Get_address(sbuf, &disp[0]);
        MPI_Get_address(hdr, &disp[1]);
        MPI_Datatype ty[2] = {MPI_BYTE, MPI_BYTE};
        MPI_Type_create_struct(2, bl, disp, ty, &dt);
        MPI_Type_commit(&dt);
    }
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; i++) {
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (rank == 0)) {
                if (mode == 2) {
                    MPI_Send(MPI_BOTTOM, 1, dt, peer, 1, comm);
                } else {
                    MPI_Send(sbuf, (int)n, MPI_BYTE, peer, 1, comm);
                    if (mode == 1) MPI_Send(hdr, HDR, MPI_BYTE, peer, 2, comm);
                }
            } else { /* as the transport receives: probe for the size, then receive */
                MPI_Status st;
                MPI_Message m;
                int count = 0;
                MPI_Mprobe(peer, 1, comm, &m, &st);
                MPI_Get_count(&st, MPI_BYTE, &count);
                MPI_Mrecv(rbuf, count, MPI_BYTE, &m, MPI_STATUS_IGNORE);
                if (mode == 1) MPI_Recv(rbuf + n, HDR, MPI_BYTE, peer, 2, comm, MPI_STATUS_IGNORE);
            }
        }
    }
    double us = (MPI_Wtime() - t0) / iters / 2 * 1e6;
    if (dt != MPI_DATATYPE_NULL) MPI_Type_free(&dt);
    return us;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (bench_json_args(&argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int reps = 7, iters = 2000, nsizes = 0;
    size_t sizes[16];
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--reps=", 7)) reps = atoi(argv[i] + 7);
        else if (!strncmp(argv[i], "--iters=", 8)) iters = atoi(argv[i] + 8);
        else if (nsizes < 16 && atol(argv[i]) > 0) sizes[nsizes++] = (size_t)atol(argv[i]);
        else {
            if (!rank) fprintf(stderr, "usage: mpirun -np 2 %s [--reps=R] [--iters=I] [N ...]\n", argv[0]);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (size != 2 || reps < 1 || reps > 99 || iters < 1) {
        if (!rank) fprintf(stderr, "%s: needs exactly 2 ranks, 1..99 reps, iters >= 1\n", argv[0]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (!nsizes) {
        sizes[nsizes++] = 65536;
        sizes[nsizes++] = 1048576;
    }
    static const char *names[] = {"contig", "two", "struct"};
    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        char *sbuf = malloc(n), *rbuf = malloc(n + HDR), hdr[HDR];
        if (!sbuf || !rbuf) MPI_Abort(MPI_COMM_WORLD, 1);
        memset(sbuf, 1, n);
        memset(rbuf, 2, n + HDR);
        memset(hdr, 3, HDR);
        double t[3][99], med[3];
        for (int r = 0; r < reps; r++)
            for (int m = 0; m < 3; m++) t[m][r] = run(comm, m, rank, n, iters, sbuf, rbuf, hdr);
        for (int m = 0; m < 3; m++) {
            qsort(t[m], (size_t)reps, sizeof(double), cmp_d);
            med[m] = t[m][reps / 2];
        }
        if (!rank) {
            for (int m = 0; m < 3; m++) printf("%zu B %-6s: %8.2f us one way (median of %d)\n", n, names[m], med[m], reps);
            printf("%zu B two / contig %.2fx, struct / contig %.2fx\n", n, med[1] / med[0], med[2] / med[0]);
            bench_cfg jc = {0};
            bench_cfg_num(&jc, "bytes", (double)n);
            bench_json("mpi_layout.two", &jc, med[1], "us", med[0], "contig");
            bench_json("mpi_layout.struct", &jc, med[2], "us", med[0], "contig");
        }
        free(sbuf);
        free(rbuf);
    }
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return 0;
}
