/*
 * MPI's lifecycle and errors, shared by the simulation and production backends (the only
 * places besides the party communicator and HDF5 that include <mpi.h>).
 */
#ifndef SF_MPI_JOB_H
#define SF_MPI_JOB_H

#include <stddef.h>

/* Initialise MPI (MPI_THREAD_FUNNELED) unless somebody has; *owns = 1 if we did (then
 * sf__mpi_finalize finalises it). */
int sf__mpi_init(int *argc, char ***argv, int *owns, char *err, size_t errlen);
void sf__mpi_finalize(int owns);
/* "<what> failed: <MPI's message> (MPI error class N)" into err; returns SF_EMPI. */
int sf__mpi_error(int rc, const char *what, char *err, size_t errlen);
/* This process's rank in its MPI job, before or without MPI: MPI if initialised, else the
 * launcher's environment (OMPI_COMM_WORLD_RANK, PMI_RANK), else -1. */
int sf__job_rank_hint(void);
/* The launcher's job size from the environment, or 0 when not under a launcher. */
int sf__job_size_hint(void);

#endif
