/* MPI's lifecycle and errors: see mpi_job.h. */
#include "mpi/mpi_job.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "sfmpi/sf.h"

int sf__mpi_error(int rc, const char *what, char *err, size_t errlen) {
    char s[MPI_MAX_ERROR_STRING] = "";
    int n = 0, cls = rc;
    MPI_Error_string(rc, s, &n);
    MPI_Error_class(rc, &cls);
    snprintf(err, errlen, "%s failed: %s (MPI error class %d)", what, s, cls);
    return SF_EMPI;
}

int sf__mpi_init(int *argc, char ***argv, int *owns, char *err, size_t errlen) {
    int init = 0, fin = 0, rc, prov;
    *owns = 0;
    MPI_Finalized(&fin);
    if (fin) {
        snprintf(err, errlen, "MPI was already finalized before sf_run");
        return SF_EMPI;
    }
    MPI_Initialized(&init);
    if (init) return SF_OK;
    if ((rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov)) != MPI_SUCCESS)
        return sf__mpi_error(rc, "MPI_Init_thread", err, errlen);
    *owns = 1;
    return SF_OK;
}

void sf__mpi_finalize(int owns) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (owns && !fin) MPI_Finalize();
}

int sf__job_rank_hint(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        int r;
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        return r;
    }
    const char *e = getenv("OMPI_COMM_WORLD_RANK");
    if (!e) e = getenv("PMI_RANK");
    return e ? atoi(e) : -1;
}

int sf__job_size_hint(void) {
    const char *e = getenv("OMPI_COMM_WORLD_SIZE");
    if (!e) e = getenv("PMI_SIZE");
    return e ? atoi(e) : 0;
}
