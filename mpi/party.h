/*
 * The party communicator: the ranks of one party (leader = rank 0, then its workers).
 * Collective kernels reach each other through it (public wrapper: sf_comm in sf.h); the
 * runtime also uses it to hand a collective call from the leader to the workers.
 *
 * Backends: party_mpi.c (simulation and production: an MPI communicator of the party's
 * ranks; collectives map to MPI_Bcast/Reduce/Allreduce/Gatherv/Scatterv/Barrier on the
 * value buffers), party_self.c (a production party of one process without MPI) and
 * debug/party_mem.c (ranks are coroutines; messages are pointer hand-offs over the mem
 * fabric; collectives are built from point-to-point in rank order, so results are
 * deterministic).
 *
 * Messages carry a small tag: SF_PC_CMD / SF_PC_ARG / SF_PC_STATUS are the runtime's,
 * SF_PC_USER is a kernel's sf_comm_send. A receiver that expects one tag and gets another
 * gets SF_EDIVERGE (a kernel left a message unreceived, or ranks ran different kernels).
 *
 * Value semantics: send takes its own reference (debug: zero copy; MPI: blocking send of
 * header then data, like MPI_Send); recv returns a new reference. Collectives:
 *   bcast:     root's *v is sent; on other ranks *v receives a new value.
 *   reduce:    elementwise op of every rank's `in` (same dtype and shape everywhere, numeric
 *              dtypes only); *out on root only (NULL elsewhere). allreduce: on every rank.
 *   gather:    concatenation along axis 0 in rank order (same dtype and trailing shape;
 *              leading extents may differ); *out on root only. 0-d inputs become shape {size}.
 *   gather_into: the same into a value the root allocated, its own block already in place.
 *   scatter:   root's `in` is split along axis 0 into `size` blocks, the first (n % size)
 *              blocks one row longer (sf__block_rows); every rank gets its block.
 * Reductions in debug mode combine in rank order 0,1,2,...; MPI may combine in another
 * order, so float results can differ in the last bit with 3 or more ranks (identical
 * with 1 or 2: floating-point addition is commutative).
 * Every call returns 0 or a negative sf_status; mismatched dtypes/shapes give SF_ETYPE.
 */
#ifndef SF_MPI_PARTY_H
#define SF_MPI_PARTY_H

#include <stdint.h>

#include "mpi/transport.h"
#include "sfmpi/sf.h"

enum sf_pc_tag { SF_PC_CMD = 1, SF_PC_ARG = 2, SF_PC_STATUS = 3, SF_PC_USER = 4 };

typedef struct sf_pcomm sf_pcomm;

struct sf_pcomm_ops {
    int (*send)(sf_pcomm *c, int dst, int tag, sf_value *v);
    int (*recv)(sf_pcomm *c, int src, int tag, sf_value **v);
    int (*bcast)(sf_pcomm *c, int root, sf_value **v);
    int (*reduce)(sf_pcomm *c, int root, const sf_value *in, sf_reduce_op op, sf_value **out);
    int (*allreduce)(sf_pcomm *c, const sf_value *in, sf_reduce_op op, sf_value **out);
    int (*gather)(sf_pcomm *c, int root, const sf_value *in, sf_value **out);
    /* gather into the root's own `out` (its final shape, in rank order), whose first
     * `root_rows` rows after the rows of the ranks before the root already hold the root's
     * block (the root passes in = NULL): no copy of the root's block. Other ranks pass
     * their block as `in` (out = NULL). Block dtypes and row sizes must match out's and
     * the rows must add up to out's; otherwise every rank gets SF_ETYPE. NULL in the self
     * backend (one rank has nothing to gather). */
    int (*gather_into)(sf_pcomm *c, int root, const sf_value *in, int64_t root_rows, sf_value *out);
    int (*scatter)(sf_pcomm *c, int root, const sf_value *in, sf_value **out);
    int (*barrier)(sf_pcomm *c);
    /* const MPI_Comm * for MPI-IO (HDF5), or NULL (debug). */
    const void *(*mpi_comm)(sf_pcomm *c);
    void (*destroy)(sf_pcomm **c);
};

struct sf_pcomm {
    const struct sf_pcomm_ops *ops;
    int rank, size;
};

/* Rows of block `r` of `n` rows split over `size` ranks: [*row0, *row0 + *nrows). */
static inline void sf__block_rows(int64_t n, int size, int r, int64_t *row0, int64_t *nrows) {
    int64_t q = n / size, extra = n % size;
    *nrows = q + (r < extra ? 1 : 0);
    *row0 = r * q + (r < extra ? r : extra);
}

/* Elementwise dst[i] = op(dst[i], src[i]) for numeric dtypes (shared by backends). */
int sf__value_reduce_into(sf_value *dst, const sf_value *src, sf_reduce_op op);

/* ---- one rank, no MPI (production party without a launcher) */
int sf__pcomm_self_create(sf_pcomm **out);

/* ---- MPI backend: over a duplicate of `comm` (a const MPI_Comm *) */
int sf__pcomm_mpi_create(sf_pcomm **out, const void *comm);

#endif
