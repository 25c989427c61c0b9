/*
 * Simulation mode: parties are ranks of one MPI job (mode_sim.c lays them out); the
 * leaders talk over the MPI transport (transport_mpi.c).
 */
#ifndef SF_SIM_SIM_H
#define SF_SIM_SIM_H

#include <stddef.h>

#include "mpi/transport.h"

typedef struct sf_mpi_options {
    double wait_timeout; /* seconds before a blocked receiver sends its wait notice */
} sf_mpi_options;

/* Duplicates `base_comm` (a const MPI_Comm *: the leaders' communicator, one rank per
 * party, rank = party index) twice: data and notices. MPI must be initialised. */
int sf__mpi_transport_create(sf_transport **out, int nparties, const sf_mpi_options *opt,
                             const sf_transport_hooks *hooks, const void *base_comm, char *err,
                             size_t errlen);

#endif
