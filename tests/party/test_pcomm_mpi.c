/*
 * The MPI party communicator (mpi/party_mpi.c) under mpirun with any number of ranks:
 * every operation with known answers (tests/party/pcomm_cases.h) on a communicator over
 * MPI_COMM_WORLD, then on one over a split of it (ranks in reverse order), plus the
 * backend's own properties (mpi_comm is a private duplicate; bad communicator refused).
 * SF_PCOMM_CHUNK_BYTES=64 (a registered variant) forces the piecewise paths.
 * Exits 1 with a message on any failure; every rank takes part in every case, so a
 * failure on one rank does not leave the others waiting. Ignores --sf-mode=sim.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/party/pcomm_cases.h"

static pc_log g_log;

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int wrank, wsize;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);
    pc_log *L = &g_log;
    test_context("rank %d/%d", wrank, wsize);

    MPI_Comm world = MPI_COMM_WORLD;
    sf_pcomm *c = NULL;
    int rc = sf__pcomm_mpi_create(&c, &world);
    if (rc || !c) {
        fprintf(stderr, "[rank %d] sf__pcomm_mpi_create: %s\n", wrank, sf_err_name(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    ASSERT_MSG(c->rank == wrank && c->size == wsize, "rank %d size %d", c->rank, c->size);
    const MPI_Comm *pcm = c->ops->mpi_comm(c);
    int cmp = MPI_UNEQUAL;
    if (pcm) MPI_Comm_compare(*pcm, MPI_COMM_WORLD, &cmp);
    ASSERT_MSG(pcm && cmp == MPI_CONGRUENT, "mpi_comm is a duplicate of the world (%d)", cmp);
    sf_pcomm *bad = NULL;
    MPI_Comm null = MPI_COMM_NULL;
    ASSERT_MSG(sf__pcomm_mpi_create(&bad, &null) == SF_EINVAL && !bad, "create over COMM_NULL");

    pc_run_all(c, L);
    c->ops->destroy(&c);
    ASSERT_NULL_MSG(c, "destroy clears the pointer");

    /* a communicator whose ranks are not the world's: reversed order */
    MPI_Comm rev;
    MPI_Comm_split(MPI_COMM_WORLD, 0, wsize - 1 - wrank, &rev);
    rc = sf__pcomm_mpi_create(&c, &rev);
    ASSERT_MSG(rc == SF_OK && c && c->rank == wsize - 1 - wrank, "create over a split: %d", rc);
    if (c) {
        pc_log *L2 = calloc(1, sizeof *L2);
        pc_run_all(c, L2);
        free(L2);
        c->ops->destroy(&c);
    }
    MPI_Comm_free(&rev);

    int fails = test_failures(), total = 0;
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (wrank == 0) {
        if (total)
            fprintf(stderr, "test_pcomm_mpi: %d check(s) failed on %d rank(s)\n", total, wsize);
        else
            printf("test_pcomm_mpi: all checks passed on %d rank(s)\n", wsize);
    }
    MPI_Finalize();
    return total ? 1 : 0;
}
