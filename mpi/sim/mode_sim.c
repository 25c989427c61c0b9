/*
 * Simulation mode's backend: the run is one MPI job (mpirun -np N*K), every process one
 * rank. World rank w is rank w % K of party w / K (K = --sf-ranks-per-party). Two
 * communicators are split from a private duplicate of the world: each party's ranks
 * (its party communicator) and the leaders (the MPI transport's base, rank = party).
 * MPI is initialised only if nobody has, and finalised only then; the world itself is
 * never talked on.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "mpi/mode.h"
#include "mpi/mpi_job.h"
#include "mpi/sim/sim.h"

struct sf_mode_backend {
    int owns_mpi;
    MPI_Comm world, party, leaders; /* leaders: MPI_COMM_NULL on workers */
    int party_idx, local, nparties;
    double wait_timeout;
};

static int sim_launch(sf_mode_backend **out, const sf_launch *in, sf_layout *lay, char *err,
                      size_t errlen) {
    sf_mode_backend *b = calloc(1, sizeof *b);
    *out = b;
    if (!b) return SF_ENOMEM;
    b->world = b->party = b->leaders = MPI_COMM_NULL;
    b->nparties = in->nparties;
    b->wait_timeout = in->wait_timeout;
    *lay = (sf_layout){.nranks = 1, .nparties = in->nparties, .parties = in->parties,
                       .report = sf__job_rank_hint() <= 0};
    int rc, rank, size, rpp = in->rpp;
    if ((rc = sf__mpi_init(in->argc, in->argv, &b->owns_mpi, err, errlen))) return rc;
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &b->world)) != MPI_SUCCESS)
        return sf__mpi_error(rc, "MPI_Comm_dup", err, errlen);
    MPI_Comm_rank(b->world, &rank);
    MPI_Comm_size(b->world, &size);
    lay->report = rank == 0;
    if (size != in->nparties * rpp) {
        int np = in->nparties;
        if (rpp == 1)
            snprintf(err, errlen,
                     "simulation mode needs one rank per party: %d part%s, but the job has %d "
                     "rank%s (run mpirun -np %d ... --sf-mode=sim)",
                     np, np == 1 ? "y" : "ies", size, size == 1 ? "" : "s", np);
        else
            snprintf(err, errlen,
                     "simulation mode with --sf-ranks-per-party=%d needs %d x %d = %d ranks, but "
                     "the job has %d (run mpirun -np %d ... --sf-mode=sim --sf-ranks-per-party=%d)",
                     rpp, np, rpp, np * rpp, size, np * rpp, rpp);
        return SF_EUSAGE; /* the caller reports, then tears down (which synchronises) */
    }
    b->party_idx = rank / rpp;
    b->local = rank % rpp;
    if ((rc = MPI_Comm_split(b->world, b->party_idx, b->local, &b->party)) != MPI_SUCCESS ||
        (rc = MPI_Comm_split(b->world, b->local == 0 ? 0 : MPI_UNDEFINED, b->party_idx,
                             &b->leaders)) != MPI_SUCCESS)
        return sf__mpi_error(rc, "MPI_Comm_split", err, errlen);
    return SF_OK;
}

static int sim_endpoint(sf_mode_backend *b, int i, const sf_transport_hooks *hooks, sf_endpoint *ep,
                        char *err, size_t errlen) {
    (void)i;
    int rc;
    *ep = (sf_endpoint){.party = b->party_idx, .rank = b->local};
    if ((rc = sf__pcomm_mpi_create(&ep->pc, &b->party)))
        return sf__err_set(err, errlen, rc, "party %d's communicator: %s", b->party_idx, sf_strerror(rc));
    if (b->local != 0) return SF_OK;
    sf_mpi_options mo = {.wait_timeout = b->wait_timeout};
    return sf__mpi_transport_create(&ep->tp, b->nparties, &mo, hooks, &b->leaders, err, errlen);
}

static int sim_settle(sf_mode_backend *b, int code) {
    (void)b;
    return code; /* every rank exits with its own code; mpirun reports the worst */
}

__attribute__((noreturn)) static void sim_abort(sf_mode_backend *b, int code) {
    fflush(NULL);
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Abort(b && b->world != MPI_COMM_NULL ? b->world : MPI_COMM_SELF, code);
    _exit(code);
}

static void sim_teardown(sf_mode_backend **bp) {
    sf_mode_backend *b = *bp;
    if (!b) return;
    /* every rank gets here before any finalises: a rank that reports an error is not
     * killed by the launcher before its message is out */
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        if (b->world != MPI_COMM_NULL) MPI_Barrier(b->world);
        if (b->party != MPI_COMM_NULL) MPI_Comm_free(&b->party);
        if (b->leaders != MPI_COMM_NULL) MPI_Comm_free(&b->leaders);
        if (b->world != MPI_COMM_NULL) MPI_Comm_free(&b->world);
    }
    sf__mpi_finalize(b->owns_mpi);
    free(b);
    *bp = NULL;
}

const struct sf_mode_ops sf__mode_sim = {
    .mode = SF_MODE_SIMULATION,
    .name = "sim",
    .launch = sim_launch,
    .endpoint = sim_endpoint,
    .settle = sim_settle,
    .abort = sim_abort,
    .teardown = sim_teardown,
};
