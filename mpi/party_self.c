/*
 * The party communicator of a party with one rank and no MPI (production without a
 * launcher): every collective is the identity on the only rank; there is no one to send
 * point-to-point messages to.
 */
#include <stdlib.h>
#include <string.h>

#include "mpi/party.h"
#include "core/value.h"

static int self_send(sf_pcomm *c, int dst, int tag, sf_value *v) { return SF_EINVAL; }
static int self_recv(sf_pcomm *c, int src, int tag, sf_value **v) { return SF_EINVAL; }
static int self_bcast(sf_pcomm *c, int root, sf_value **v) { return SF_OK; }

static int copy_out(const sf_value *in, sf_value **out) {
    *out = sf_value_copy(in);
    return *out ? SF_OK : SF_ENOMEM;
}
static int self_reduce(sf_pcomm *c, int root, const sf_value *in, sf_reduce_op op, sf_value **out) {
    if (in->dtype == SF_BYTES) return SF_ETYPE;
    return copy_out(in, out);
}
static int self_allreduce(sf_pcomm *c, const sf_value *in, sf_reduce_op op, sf_value **out) {
    return self_reduce(c, 0, in, op, out);
}
static int self_gather(sf_pcomm *c, int root, const sf_value *in, sf_value **out) {
    if (in->ndim > 0) return copy_out(in, out);
    int64_t one = 1; /* a 0-d input becomes shape {size} */
    *out = sf__value_alloc((sf_dtype)in->dtype, 1, &one);
    if (!*out) return SF_ENOMEM;
    memcpy((*out)->data, in->data, in->nbytes);
    return SF_OK;
}
static int self_scatter(sf_pcomm *c, int root, const sf_value *in, sf_value **out) {
    if (in->ndim == 0) return SF_ETYPE;
    return copy_out(in, out);
}
static int self_barrier(sf_pcomm *c) { return SF_OK; }
static const void *self_mpi_comm(sf_pcomm *c) { return NULL; }
static void self_destroy(sf_pcomm **c) {
    free(*c);
    *c = NULL;
}

static const struct sf_pcomm_ops self_ops = {
    .send = self_send, .recv = self_recv, .bcast = self_bcast, .reduce = self_reduce,
    .allreduce = self_allreduce, .gather = self_gather, .scatter = self_scatter,
    .barrier = self_barrier, .mpi_comm = self_mpi_comm, .destroy = self_destroy,
};

int sf__pcomm_self_create(sf_pcomm **out) {
    sf_pcomm *c = calloc(1, sizeof *c);
    if (!c) return SF_ENOMEM;
    c->ops = &self_ops;
    c->rank = 0;
    c->size = 1;
    *out = c;
    return SF_OK;
}
