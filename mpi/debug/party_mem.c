/*
 * The party communicator of debug mode: party rank r is fabric rank first + r, every
 * rank a coroutine of one thread. Messages are pointer hand-offs over the mem fabric
 * (sf__mem_send/recv: the value is shared by reference, zero copy; values are
 * immutable); the sf_pc_tag travels in sf_msg_hdr.kind.
 *
 * Collectives are point-to-point in rank order on their own kind (TAG_COLL), with the
 * collective (obj_id), its root (call_seq), its op (line) and the sender's status
 * (trace) in the header, so a rank that meets a message of another collective or of a
 * kernel's own traffic reports SF_EDIVERGE instead of taking it. Every pair's traffic is
 * ordered and every rank makes the same sequence of calls, so that check is enough.
 *   bcast:     root sends its value (shared) or its error to every other rank.
 *   reduce:    the root takes every rank's input in rank order 0, 1, 2, ... and combines
 *              them into a copy of the first, so the result is deterministic; then it
 *              tells every other rank the outcome. allreduce: the same to rank 0, whose
 *              answer carries the result (shared).
 *   gather:    the root takes every input in rank order and concatenates; then answers.
 *   scatter:   the root copies each rank's rows (sf__block_rows) and sends them.
 *   barrier:   everyone sends an empty message to rank 0, which then answers everyone.
 * The answer rounds make every rank return the same status (a mismatch is SF_ETYPE on
 * every rank), with the precedence of the MPI backend: the largest local error code,
 * then different ops (SF_EINVAL), then different dtypes/shapes (SF_ETYPE).
 * A message with an unexpected tag is kept (one per source, in a short list) for the next
 * receive from that source, as the MPI backend leaves it queued. SF_EPEER passes through.
 * Nothing is sized by the party's rank count except the root's table of collected inputs,
 * made at its first gather or scatter: a party of 500,000 ranks costs O(ranks) in all.
 */
#include <stdlib.h>
#include <string.h>

#include "mpi/debug/mem.h"
#include "core/value.h"

#define TAG_COLL 5 /* collective traffic; sf_pc_tag values are 1..4 */

enum { K_BCAST = 1, K_REDUCE, K_ALLREDUCE, K_GATHER, K_SCATTER, K_BARRIER };

typedef struct stash {
    struct stash *next;
    int src;
    sf_msg_hdr h;
    sf_value *v;
} stash;

typedef struct mem_pcomm {
    sf_pcomm base;
    sf_mem_fabric *f;
    int first;
    stash *kept;     /* kept messages, at most one per source */
    sf_value **vals; /* per rank: the root's collected inputs (made at first use) */
} mem_pcomm;

static int fab(mem_pcomm *c, int r) { return c->first + r; }

static int raw_recv(mem_pcomm *c, int src, sf_msg_hdr *h, sf_value **v) {
    for (stash **kp = &c->kept; *kp; kp = &(*kp)->next) {
        stash *k = *kp;
        if (k->src != src) continue;
        *h = k->h;
        *v = k->v;
        *kp = k->next;
        free(k);
        return SF_OK;
    }
    *v = NULL;
    return sf__mem_recv(c->f, fab(c, c->base.rank), fab(c, src), h, v);
}

/* Keep a message for the next receive from src. Without memory for the note it is
 * dropped: the receive that found it reports SF_EDIVERGE all the same. */
static void keep(mem_pcomm *c, int src, const sf_msg_hdr *h, sf_value *v) {
    stash *k = malloc(sizeof *k);
    if (!k) {
        sf_value_unref(&v);
        return;
    }
    k->src = src;
    k->h = *h;
    k->v = v;
    k->next = c->kept;
    c->kept = k;
}

/* The root's table of collected inputs, all NULL; NULL without memory. */
static sf_value **root_vals(mem_pcomm *c) {
    if (!c->vals) c->vals = calloc((size_t)c->base.size, sizeof *c->vals);
    return c->vals;
}

/* ------------------------------------------------------------------ point-to-point */

static int pm_send(sf_pcomm *bc, int dst, int tag, sf_value *v) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (dst < 0 || dst >= bc->size || tag < 0 || tag == TAG_COLL || !v) return SF_EINVAL;
    sf_msg_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = (uint32_t)tag;
    return sf__mem_send(c->f, fab(c, bc->rank), fab(c, dst), &h, v);
}

static int pm_recv(sf_pcomm *bc, int src, int tag, sf_value **out) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (!out) return SF_EINVAL;
    *out = NULL;
    if (src < 0 || src >= bc->size || tag < 0 || tag == TAG_COLL) return SF_EINVAL;
    sf_msg_hdr h;
    sf_value *v = NULL;
    int rc = raw_recv(c, src, &h, &v);
    if (rc) return rc;
    if (h.kind != (uint32_t)tag) {
        keep(c, src, &h, v);
        return SF_EDIVERGE;
    }
    if (!v) return SF_EDIVERGE; /* not a kernel's message */
    *out = v;
    return SF_OK;
}

/* ------------------------------------------------------------------ collective messages */

static int coll_send(mem_pcomm *c, int dst, int kind, int root, int op, int status, sf_value *v) {
    sf_msg_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = TAG_COLL;
    h.obj_id = (uint64_t)kind;
    h.call_seq = (uint64_t)root;
    h.line = (uint32_t)op;
    h.trace = (uint64_t)(int64_t)status;
    return sf__mem_send(c->f, fab(c, c->base.rank), fab(c, dst), &h, v);
}

/* Receive src's part of collective `kind`; *op and *status from the sender's header. */
static int coll_recv(mem_pcomm *c, int src, int kind, int root, int *op, int *status,
                     sf_value **v) {
    sf_msg_hdr h;
    int rc = raw_recv(c, src, &h, v);
    if (rc) return rc;
    if (h.kind != TAG_COLL || h.obj_id != (uint64_t)kind || h.call_seq != (uint64_t)root) {
        keep(c, src, &h, *v);
        *v = NULL;
        return SF_EDIVERGE;
    }
    if (op) *op = (int)h.line;
    *status = (int)(int64_t)h.trace;
    return SF_OK;
}

/* Answer every non-root rank with the collective's status (and a shared value). */
static int answer_all(mem_pcomm *c, int kind, int root, int status, sf_value *v) {
    int rc = SF_OK;
    for (int r = 0; r < c->base.size; r++)
        if (r != root) {
            int e = coll_send(c, r, kind, root, 0, status, status ? NULL : v);
            if (!rc) rc = e;
        }
    return rc;
}

/* A non-root rank's wait for the root's answer. */
static int await_answer(mem_pcomm *c, int kind, int root, sf_value **v) {
    int st = SF_OK;
    sf_value *got = NULL;
    int rc = coll_recv(c, root, kind, root, NULL, &st, &got);
    if (rc) return rc;
    if (st) sf_value_unref(&got);
    if (v) *v = got;
    else sf_value_unref(&got);
    return st;
}

static int worse(int a, int b) { return -a > -b ? a : b; } /* larger magnitude wins */

/* ------------------------------------------------------------------ collectives */

static int pm_bcast(sf_pcomm *bc, int root, sf_value **vp) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (root < 0 || root >= bc->size || !vp) return SF_EINVAL;
    if (bc->rank == root) {
        int st = *vp ? SF_OK : SF_EINVAL;
        int rc = answer_all(c, K_BCAST, root, st, *vp);
        return st ? st : rc;
    }
    *vp = NULL;
    return await_answer(c, K_BCAST, root, vp);
}

static int local_reduce_status(const sf_value *in, sf_reduce_op op, sf_value **out) {
    if (!in || !out || (unsigned)op > SF_OP_MAX) return SF_EINVAL;
    if (in->dtype >= SF_BYTES) return SF_ETYPE;
    return SF_OK;
}

static int same_shape(const sf_value *a, const sf_value *b, int from) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int i = from; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* The root's side of reduce/allreduce: inputs in rank order, combined into a copy of the
 * first; the status every rank returns. */
static int reduce_root(mem_pcomm *c, int kind, int root, const sf_value *in, sf_reduce_op op,
                       int st, sf_value **res) {
    int err = st, opmis = 0, shapemis = 0, rc;
    sf_value *acc = NULL;
    *res = NULL;
    for (int r = 0; r < c->base.size; r++) {
        const sf_value *x = in;
        sf_value *got = NULL;
        int xst = st, xop = (int)op;
        if (r != root) {
            if ((rc = coll_recv(c, r, kind, root, &xop, &xst, &got))) {
                sf_value_unref(&acc);
                return rc;
            }
            x = got;
        }
        err = worse(err, xst);
        if (xop != (int)op) opmis = 1;
        if (!err && !opmis && !shapemis && x) {
            if (!acc) {
                if (!(acc = sf_value_copy(x))) err = SF_ENOMEM;
            } else if (!same_shape(acc, x, 0)) {
                shapemis = 1;
            } else {
                err = sf__value_reduce_into(acc, x, op);
            }
        }
        sf_value_unref(&got);
    }
    int status = err ? err : opmis ? SF_EINVAL : shapemis ? SF_ETYPE : SF_OK;
    if (status) sf_value_unref(&acc);
    *res = acc;
    return status;
}

static int pm_reduce(sf_pcomm *bc, int root, const sf_value *in, sf_reduce_op op, sf_value **out) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (root < 0 || root >= bc->size) return SF_EINVAL;
    if (out) *out = NULL;
    int st = local_reduce_status(in, op, out);
    if (bc->rank != root) {
        int rc = coll_send(c, root, K_REDUCE, root, (int)op, st, st ? NULL : (sf_value *)in);
        return rc ? rc : await_answer(c, K_REDUCE, root, NULL);
    }
    sf_value *res = NULL;
    int status = reduce_root(c, K_REDUCE, root, in, op, st, &res);
    if (status == SF_EPEER || status == SF_EDIVERGE) return status;
    int rc = answer_all(c, K_REDUCE, root, status, NULL);
    if (status || rc) {
        sf_value_unref(&res);
        return status ? status : rc;
    }
    *out = res;
    return SF_OK;
}

static int pm_allreduce(sf_pcomm *bc, const sf_value *in, sf_reduce_op op, sf_value **out) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (out) *out = NULL;
    int st = local_reduce_status(in, op, out);
    if (bc->rank != 0) {
        sf_value *res = NULL;
        int rc = coll_send(c, 0, K_ALLREDUCE, 0, (int)op, st, st ? NULL : (sf_value *)in);
        if (rc) return rc;
        rc = await_answer(c, K_ALLREDUCE, 0, &res);
        if (!rc && !res) rc = SF_EDIVERGE;
        if (rc) sf_value_unref(&res);
        else if (out) *out = res;
        else sf_value_unref(&res);
        return rc;
    }
    sf_value *res = NULL;
    int status = reduce_root(c, K_ALLREDUCE, 0, in, op, st, &res);
    if (status == SF_EPEER || status == SF_EDIVERGE) return status;
    int rc = answer_all(c, K_ALLREDUCE, 0, status, res);
    if (status || rc) {
        sf_value_unref(&res);
        return status ? status : rc;
    }
    *out = res;
    return SF_OK;
}

static int pm_gather(sf_pcomm *bc, int root, const sf_value *in, sf_value **out) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (root < 0 || root >= bc->size) return SF_EINVAL;
    if (out) *out = NULL;
    int st = (in && out) ? SF_OK : SF_EINVAL;
    if (bc->rank != root) {
        int rc = coll_send(c, root, K_GATHER, root, 0, st, st ? NULL : (sf_value *)in);
        return rc ? rc : await_answer(c, K_GATHER, root, NULL);
    }
    int size = bc->size, err = st, mis = 0, rc;
    const sf_value *ref = NULL;
    int64_t nrows = 0;
    sf_value **vals = root_vals(c), *lost = NULL;
    if (!vals) err = worse(err, SF_ENOMEM); /* take every input all the same, then answer */
    for (int r = 0; r < size; r++) {
        int xst = st;
        sf_value **slot = vals ? &vals[r] : &lost;
        *slot = NULL;
        if (r == root) {
            *slot = in ? sf_value_ref((sf_value *)in) : NULL;
        } else if ((rc = coll_recv(c, r, K_GATHER, root, NULL, &xst, slot))) {
            for (int q = 0; vals && q < r; q++) sf_value_unref(&vals[q]);
            return rc;
        }
        err = worse(err, xst);
        if (!vals) {
            sf_value_unref(&lost);
            continue;
        }
        const sf_value *x = vals[r];
        if (!x) continue;
        if (!ref) ref = x;
        else if (!same_shape(ref, x, 1)) mis = 1;
        if (__builtin_add_overflow(nrows, x->ndim ? x->shape[0] : 1, &nrows)) mis = 1;
    }
    sf_value *res = NULL;
    int status = err ? err : mis ? SF_ETYPE : SF_OK;
    if (!status) {
        int64_t shape[SF_MAX_DIMS];
        shape[0] = nrows;
        for (int i = 1; i < ref->ndim; i++) shape[i] = ref->shape[i];
        res = sf__value_alloc((sf_dtype)ref->dtype, ref->ndim ? ref->ndim : 1, shape);
        if (!res) status = nrows < 0 ? SF_ETYPE : SF_ENOMEM;
    }
    if (!status) {
        char *p = res->data;
        for (int r = 0; r < size; r++) {
            memcpy(p, c->vals[r]->data, c->vals[r]->nbytes);
            p += c->vals[r]->nbytes;
        }
    }
    for (int r = 0; vals && r < size; r++) sf_value_unref(&vals[r]);
    rc = answer_all(c, K_GATHER, root, status, NULL);
    if (status || rc) {
        sf_value_unref(&res);
        return status ? status : rc;
    }
    *out = res;
    return SF_OK;
}

static size_t row_bytes(const sf_value *v) {
    size_t rb = sf_dtype_size((sf_dtype)v->dtype);
    for (int i = 1; i < v->ndim; i++) rb *= (size_t)v->shape[i];
    return rb;
}

static int pm_gather_into(sf_pcomm *bc, int root, const sf_value *in, int64_t root_rows,
                          sf_value *out) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (root < 0 || root >= bc->size) return SF_EINVAL;
    if (bc->rank != root) {
        int st = in && in->ndim > 0 ? SF_OK : SF_EINVAL;
        int rc = coll_send(c, root, K_GATHER, root, 0, st, st ? NULL : (sf_value *)in);
        return rc ? rc : await_answer(c, K_GATHER, root, NULL);
    }
    int size = bc->size, status = out && out->ndim > 0 && root_rows >= 0 ? SF_OK : SF_EINVAL, rc;
    size_t rb = out ? row_bytes(out) : 0;
    int64_t at = 0;
    for (int r = 0; r < size; r++) { /* in rank order: each block lands at its rows */
        if (r == root) {
            at += root_rows;
            continue;
        }
        int xst = SF_OK;
        sf_value *x = NULL;
        if ((rc = coll_recv(c, r, K_GATHER, root, NULL, &xst, &x))) return rc;
        status = worse(status, xst);
        if (!status && (!x || x->dtype != out->dtype || x->ndim != out->ndim || row_bytes(x) != rb ||
                        at + x->shape[0] > out->shape[0]))
            status = SF_ETYPE;
        if (!status && x->nbytes) memcpy((char *)out->data + (size_t)at * rb, x->data, x->nbytes);
        if (x) at += x->shape[0];
        sf_value_unref(&x);
    }
    if (!status && at != out->shape[0]) status = SF_ETYPE;
    rc = answer_all(c, K_GATHER, root, status, NULL);
    return status ? status : rc;
}

/* Rows [row0, row0 + nrows) of v as a new value. */
static sf_value *rows_of(const sf_value *v, int64_t row0, int64_t nrows) {
    int64_t shape[SF_MAX_DIMS];
    memcpy(shape, v->shape, sizeof(int64_t) * v->ndim);
    shape[0] = nrows;
    sf_value *b = sf__value_alloc((sf_dtype)v->dtype, v->ndim, shape);
    if (b && b->nbytes) {
        size_t rowbytes = v->shape[0] ? v->nbytes / (size_t)v->shape[0] : 0;
        memcpy(b->data, (const char *)v->data + (size_t)row0 * rowbytes, b->nbytes);
    }
    return b;
}

static int pm_scatter(sf_pcomm *bc, int root, const sf_value *in, sf_value **out) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (root < 0 || root >= bc->size) return SF_EINVAL;
    if (out) *out = NULL;
    if (bc->rank != root) {
        sf_value *b = NULL;
        int rc = await_answer(c, K_SCATTER, root, &b);
        if (!rc && !b) rc = SF_EDIVERGE;
        if (!rc && !out) rc = SF_EINVAL;
        if (rc) sf_value_unref(&b);
        else *out = b;
        return rc;
    }
    int size = bc->size;
    int st = (in && out) ? (in->ndim ? SF_OK : SF_ETYPE) : SF_EINVAL;
    if (!root_vals(c)) { /* every rank still gets the (failed) answer */
        for (int r = 0; r < size; r++)
            if (r != root) (void)coll_send(c, r, K_SCATTER, root, 0, SF_ENOMEM, NULL);
        return SF_ENOMEM;
    }
    for (int r = 0; r < size && !st; r++) {
        int64_t row0, nrows;
        sf__block_rows(in->shape[0], size, r, &row0, &nrows);
        if (!(c->vals[r] = rows_of(in, row0, nrows))) st = SF_ENOMEM;
    }
    int rc = SF_OK;
    for (int r = 0; r < size; r++)
        if (r != root) {
            int e = coll_send(c, r, K_SCATTER, root, 0, st, st ? NULL : c->vals[r]);
            if (!rc) rc = e;
            sf_value_unref(&c->vals[r]);
        }
    if (st || rc) {
        sf_value_unref(&c->vals[root]);
        return st ? st : rc;
    }
    *out = c->vals[root];
    c->vals[root] = NULL;
    return SF_OK;
}

static int pm_barrier(sf_pcomm *bc) {
    mem_pcomm *c = (mem_pcomm *)bc;
    if (bc->rank != 0) {
        int rc = coll_send(c, 0, K_BARRIER, 0, 0, SF_OK, NULL);
        return rc ? rc : await_answer(c, K_BARRIER, 0, NULL);
    }
    for (int r = 1; r < bc->size; r++) {
        int st;
        sf_value *v = NULL;
        int rc = coll_recv(c, r, K_BARRIER, 0, NULL, &st, &v);
        sf_value_unref(&v);
        if (rc) return rc;
    }
    return answer_all(c, K_BARRIER, 0, SF_OK, NULL);
}

static const void *pm_mpi_comm(sf_pcomm *bc) {
    (void)bc;
    return NULL;
}

static void pm_destroy(sf_pcomm **cp) {
    mem_pcomm *c = (mem_pcomm *)*cp;
    if (!c) return;
    while (c->kept) {
        stash *k = c->kept;
        c->kept = k->next;
        sf_value_unref(&k->v);
        free(k);
    }
    for (int r = 0; c->vals && r < c->base.size; r++) sf_value_unref(&c->vals[r]);
    free(c->vals);
    free(c);
    *cp = NULL;
}

static const struct sf_pcomm_ops mem_pcomm_ops = {
    .send = pm_send,
    .recv = pm_recv,
    .bcast = pm_bcast,
    .reduce = pm_reduce,
    .allreduce = pm_allreduce,
    .gather = pm_gather,
    .gather_into = pm_gather_into,
    .scatter = pm_scatter,
    .barrier = pm_barrier,
    .mpi_comm = pm_mpi_comm,
    .destroy = pm_destroy,
};

int sf__pcomm_mem_create(sf_pcomm **out, sf_mem_fabric *f, int first, int size, int rank) {
    if (!out || !f || first < 0 || size < 1 || rank < 0 || rank >= size) return SF_EINVAL;
    *out = NULL;
    mem_pcomm *c = calloc(1, sizeof *c);
    if (!c) return SF_ENOMEM;
    c->base.ops = &mem_pcomm_ops;
    c->base.rank = rank;
    c->base.size = size;
    c->f = f;
    c->first = first;
    *out = &c->base;
    return SF_OK;
}
