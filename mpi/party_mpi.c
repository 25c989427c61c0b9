/*
 * The party communicator over MPI (simulation and production): a private duplicate of
 * the party's communicator, with MPI_ERRORS_RETURN (every MPI failure becomes SF_EMPI).
 *
 * Point-to-point: a message is a small wire header (dtype, ndim, inline flag, nbytes,
 * shape) sent with MPI tag = the sf_pc_tag; values up to INLINE_MAX bytes travel inside
 * it, larger ones follow as pieces of at most `chunk` bytes (1 GiB: counts never overflow
 * int) sent straight from the value's buffer on tag DATA_TAG + tag and received straight
 * into the new value. recv probes (src, MPI_ANY_TAG) first: a message with another tag
 * at the head of the pair's stream gives SF_EDIVERGE and is left where it is. Sends are
 * blocking (MPI_Send). A message to oneself is kept in a local queue by reference.
 *
 * Collectives run straight on the value buffers, typed by dtype (bytes as MPI_UINT8_T),
 * in pieces of at most 2^30 elements / `chunk` bytes. Before any data moves, the ranks
 * agree on what they were given, so a mismatch gives the same status on every rank and
 * never a wrong result or a hang:
 *   reduce/allreduce: one MPI_Allreduce(MAX) of {local error, root, op, dtype, ndim,
 *     nelems, shape hash} and their negations (max and min at once); the output is
 *     allocated before, so a failed allocation is part of the agreement.
 *   bcast/scatter: the same allreduce carries the root's descriptor (other ranks put -1
 *     in its fields) and checks that every rank names the same root.
 *   gather: an MPI_Allgather of every rank's {error, root, dtype, ndim, trailing-shape
 *     hash, row size, leading extent}: the check, the output shape and the Gatherv counts
 *     all come from it.
 * Status precedence (identical on every rank): the largest local error code (e.g. a bytes
 * reduction, SF_ETYPE; a NULL argument, SF_EINVAL), then different roots or ops
 * (SF_EINVAL), then different dtypes or shapes (SF_ETYPE).
 * A buffer allocated after the agreement (bcast and scatter on receivers, gather on the
 * root) may fail on one rank only: up to SMALL_MAX bytes that rank takes part with a
 * scratch buffer and returns SF_ENOMEM; above it one more tiny collective tells everyone.
 * Gatherv/Scatterv counts are bytes when the whole fits an int count, else rows (a
 * contiguous row type), else the data goes by point-to-point pieces on TAG_COLL.
 * SF_PCOMM_CHUNK_BYTES (tests) lowers `chunk` to force the piecewise paths.
 */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/party.h"
#include "core/value.h"

#define CHUNK_MAX ((size_t)1 << 30) /* bytes per MPI call, and elements per reduction call */
#define INLINE_MAX 8192
#define SMALL_MAX ((size_t)65536)
#define TAG_LIMIT 1000 /* sf_pc_tag values: [0, TAG_LIMIT) */
#define DATA_TAG 1000  /* data pieces of a message with tag t: DATA_TAG + t */
#define TAG_COLL 2000  /* gather/scatter pieces too large for one Gatherv/Scatterv */

typedef struct self_msg {
    struct self_msg *next;
    int tag;
    sf_value *v;
} self_msg;

typedef struct mpi_pcomm {
    sf_pcomm base;
    MPI_Comm comm;
    size_t chunk;
    self_msg *self_head, *self_tail;
    void *scratch;       /* SMALL_MAX bytes, stands in for a failed small allocation */
    int *counts, *displs; /* size entries each */
    int64_t *table;       /* size * G_N entries (gather descriptors) */
    int64_t *rows, *row0; /* size entries each: every rank's block of rows */
} mpi_pcomm;

typedef struct pc_wire {
    uint8_t dtype, ndim, inl, pad[5];
    uint64_t nbytes;
    int64_t shape[]; /* ndim entries, then the data if inl */
} pc_wire;
#define WIRE_SIZE(nd) (sizeof(pc_wire) + sizeof(int64_t) * (size_t)(nd))

static int ok(int rc) { return rc == MPI_SUCCESS ? SF_OK : SF_EMPI; }

static MPI_Datatype mpi_type(int dt) {
    switch ((sf_dtype)dt) {
    case SF_I8: return MPI_INT8_T;
    case SF_I16: return MPI_INT16_T;
    case SF_I32: return MPI_INT32_T;
    case SF_I64: return MPI_INT64_T;
    case SF_U8: return MPI_UINT8_T;
    case SF_U16: return MPI_UINT16_T;
    case SF_U32: return MPI_UINT32_T;
    case SF_U64: return MPI_UINT64_T;
    case SF_F32: return MPI_FLOAT;
    case SF_F64: return MPI_DOUBLE;
    default: return MPI_UINT8_T;
    }
}

static MPI_Op mpi_op(sf_reduce_op op) {
    switch (op) {
    case SF_OP_SUM: return MPI_SUM;
    case SF_OP_PROD: return MPI_PROD;
    case SF_OP_MIN: return MPI_MIN;
    default: return MPI_MAX;
    }
}

#define mix64 sf__mix64

/* Hash of shape[from..ndim), non-negative (fits the max/min agreement). */
static int64_t shape_hash(const sf_value *v, int from) {
    uint64_t h = mix64(0x5f3759dfULL + (uint64_t)v->ndim);
    for (int i = from; i < v->ndim; i++) h = mix64(h ^ (uint64_t)v->shape[i]);
    return (int64_t)(h >> 2);
}

/* ------------------------------------------------------------------ point-to-point */

static int pc_send(sf_pcomm *bc, int dst, int tag, sf_value *v) {
    mpi_pcomm *c = (mpi_pcomm *)bc;
    if (dst < 0 || dst >= bc->size || tag < 0 || tag >= TAG_LIMIT || !v) return SF_EINVAL;
    if (dst == bc->rank) {
        self_msg *m = malloc(sizeof *m);
        if (!m) return SF_ENOMEM;
        m->next = NULL;
        m->tag = tag;
        m->v = sf_value_ref(v);
        if (c->self_tail) c->self_tail->next = m;
        else c->self_head = m;
        c->self_tail = m;
        return SF_OK;
    }
    int inl = v->nbytes <= INLINE_MAX;
    size_t wsize = WIRE_SIZE(v->ndim) + (inl ? v->nbytes : 0);
    _Alignas(16) char stackbuf[1024];
    pc_wire *w = wsize <= sizeof stackbuf ? (pc_wire *)stackbuf : malloc(wsize);
    if (!w) return SF_ENOMEM;
    memset(w, 0, sizeof *w);
    w->dtype = v->dtype;
    w->ndim = v->ndim;
    w->inl = (uint8_t)inl;
    w->nbytes = v->nbytes;
    if (v->ndim) memcpy(w->shape, v->shape, sizeof(int64_t) * v->ndim);
    if (inl && v->nbytes) memcpy(w->shape + v->ndim, v->data, v->nbytes);
    int rc = ok(MPI_Send(w, (int)wsize, MPI_BYTE, dst, tag, c->comm));
    if ((char *)w != stackbuf) free(w);
    for (size_t off = 0; !rc && !inl && off < v->nbytes; off += c->chunk) {
        size_t len = v->nbytes - off < c->chunk ? v->nbytes - off : c->chunk;
        rc = ok(MPI_Send((char *)v->data + off, (int)len, MPI_BYTE, dst, DATA_TAG + tag, c->comm));
    }
    return rc;
}

static int pc_recv(sf_pcomm *bc, int src, int tag, sf_value **out) {
    mpi_pcomm *c = (mpi_pcomm *)bc;
    if (!out) return SF_EINVAL;
    *out = NULL;
    if (src < 0 || src >= bc->size || tag < 0 || tag >= TAG_LIMIT) return SF_EINVAL;
    if (src == bc->rank) {
        self_msg *m = c->self_head;
        if (!m) return SF_EDEADLOCK; /* nothing sent to ourselves: would wait forever */
        if (m->tag != tag) return SF_EDIVERGE;
        c->self_head = m->next;
        if (!c->self_head) c->self_tail = NULL;
        *out = m->v;
        free(m);
        return SF_OK;
    }
    MPI_Status st;
    int rc, count = 0;
    if ((rc = ok(MPI_Probe(src, MPI_ANY_TAG, c->comm, &st)))) return rc;
    if (st.MPI_TAG != tag) return SF_EDIVERGE; /* left for the receive that expects it */
    if ((rc = ok(MPI_Get_count(&st, MPI_BYTE, &count)))) return rc;
    _Alignas(16) char stackbuf[1024];
    size_t cnt = (size_t)(count > 0 ? count : 0);
    pc_wire *w = cnt <= sizeof stackbuf ? (pc_wire *)stackbuf : malloc(cnt);
    if (!w) return SF_ENOMEM;
    rc = ok(MPI_Recv(w, count, MPI_BYTE, src, tag, c->comm, MPI_STATUS_IGNORE));
    sf_value *v = NULL;
    if (!rc && (cnt < sizeof *w || w->ndim > SF_MAX_DIMS || w->dtype >= SF_NDTYPES ||
                cnt != WIRE_SIZE(w->ndim) + (w->inl ? w->nbytes : 0)))
        rc = SF_EMPI; /* not one of ours */
    if (!rc) {
        v = sf__value_alloc((sf_dtype)w->dtype, w->ndim, w->shape);
        if (!v) rc = SF_ENOMEM; /* the pieces stay queued; the next receive sees DIVERGE */
        else if (v->nbytes != w->nbytes) rc = SF_EMPI;
    }
    if (!rc && w->inl && v->nbytes) memcpy(v->data, w->shape + w->ndim, v->nbytes);
    for (size_t off = 0; !rc && !w->inl && off < v->nbytes; off += c->chunk) {
        size_t len = v->nbytes - off < c->chunk ? v->nbytes - off : c->chunk;
        int got = 0;
        rc = ok(MPI_Recv((char *)v->data + off, (int)len, MPI_BYTE, src, DATA_TAG + tag, c->comm,
                         &st));
        if (!rc && (MPI_Get_count(&st, MPI_BYTE, &got) != MPI_SUCCESS || (size_t)got != len))
            rc = SF_EMPI;
    }
    if ((char *)w != stackbuf) free(w);
    if (rc) sf_value_unref(&v);
    *out = v;
    return rc;
}

/* ------------------------------------------------------------------ agreement */

/* All-rank agreement on n descriptor fields. d[0] is a local error (a positive status
 * magnitude, max wins); fields d[1..nagree] must be equal everywhere (checked as max ==
 * min); the remaining fields are only max-combined (a root's descriptor: others put -1).
 * On return d[] holds the maxima; *mis = index of the first field that differs, or 0. */
#define AGREE_MAX 32
static int agree(mpi_pcomm *c, int64_t *d, int n, int nagree, int *mis) {
    int64_t buf[AGREE_MAX + 8];
    for (int i = 0; i < n; i++) buf[i] = d[i];
    for (int i = 1; i <= nagree; i++) buf[n + i - 1] = -d[i];
    int rc = ok(MPI_Allreduce(MPI_IN_PLACE, buf, n + nagree, MPI_INT64_T, MPI_MAX, c->comm));
    if (rc) return rc;
    *mis = 0;
    for (int i = 1; i <= nagree && !*mis; i++)
        if (buf[i] != -buf[n + i - 1]) *mis = i;
    for (int i = 0; i < n; i++) d[i] = buf[i];
    return SF_OK;
}

/* After an allocation that may fail on some ranks only: everyone learns if any did. */
static int agree_alloc(mpi_pcomm *c, int failed, int *anyfail) {
    int f = failed;
    int rc = ok(MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_INT, MPI_MAX, c->comm));
    *anyfail = f;
    return rc;
}

/* ------------------------------------------------------------------ reductions */

enum { R_ERR, R_ROOT, R_OP, R_DTYPE, R_NDIM, R_NELEMS, R_HASH, R_N };

static int reduce_common(mpi_pcomm *c, int root, int all, const sf_value *in, sf_reduce_op op,
                         sf_value **out) {
    int me = c->base.rank, err = 0;
    if (!out) err = -SF_EINVAL;
    else *out = NULL;
    if (!in || (unsigned)op > SF_OP_MAX || root < 0 || root >= c->base.size) err = -SF_EINVAL;
    else if (in->dtype >= SF_BYTES) err = -SF_ETYPE;
    sf_value *res = NULL;
    if (!err && (all || me == root)) {
        res = sf__value_alloc((sf_dtype)in->dtype, in->ndim, in->shape);
        if (!res) err = -SF_ENOMEM;
    }
    int64_t d[R_N] = {err, root, (int64_t)op, -1, -1, -1, -1};
    if (in) {
        d[R_DTYPE] = in->dtype;
        d[R_NDIM] = in->ndim;
        d[R_NELEMS] = (int64_t)in->nelems;
        d[R_HASH] = shape_hash(in, 0);
    }
    int mis = 0, rc = agree(c, d, R_N, R_N - 1, &mis);
    if (!rc && d[R_ERR] > 0) rc = (int)-d[R_ERR];
    if (!rc && (mis == R_ROOT || mis == R_OP)) rc = SF_EINVAL;
    if (!rc && mis) rc = SF_ETYPE;
    if (rc) {
        sf_value_unref(&res);
        return rc;
    }
    MPI_Datatype t = mpi_type(in->dtype);
    size_t esz = sf_dtype_size((sf_dtype)in->dtype);
    size_t step = c->chunk / esz ? c->chunk / esz : 1;
    if (step > CHUNK_MAX) step = CHUNK_MAX;
    for (size_t off = 0; !rc && off < in->nelems; off += step) {
        int n = (int)(in->nelems - off < step ? in->nelems - off : step);
        const char *sb = (const char *)in->data + off * esz;
        char *rb = res ? (char *)res->data + off * esz : NULL;
        if (all) rc = ok(MPI_Allreduce(sb, rb, n, t, mpi_op(op), c->comm));
        else rc = ok(MPI_Reduce(sb, rb, n, t, mpi_op(op), root, c->comm));
    }
    if (rc) sf_value_unref(&res);
    *out = res;
    return rc;
}

static int pc_reduce(sf_pcomm *bc, int root, const sf_value *in, sf_reduce_op op, sf_value **out) {
    return reduce_common((mpi_pcomm *)bc, root, 0, in, op, out);
}

static int pc_allreduce(sf_pcomm *bc, const sf_value *in, sf_reduce_op op, sf_value **out) {
    return reduce_common((mpi_pcomm *)bc, 0, 1, in, op, out);
}

/* ------------------------------------------------------------------ rooted data */

/* The root's descriptor, everywhere (bcast, scatter). */
enum { B_ERR, B_ROOT, B_DTYPE, B_NDIM, B_SHAPE, B_N = B_SHAPE + SF_MAX_DIMS };

static int root_desc(mpi_pcomm *c, int root, const sf_value *v, int err, int64_t *d) {
    for (int i = 0; i < B_N; i++) d[i] = -1;
    d[B_ERR] = err;
    d[B_ROOT] = root;
    if (c->base.rank == root && v) {
        d[B_DTYPE] = v->dtype;
        d[B_NDIM] = v->ndim;
        for (int i = 0; i < v->ndim; i++) d[B_SHAPE + i] = v->shape[i];
    }
    int mis = 0, rc = agree(c, d, B_N, 1, &mis);
    if (rc) return rc;
    if (d[B_ERR] > 0) return (int)-d[B_ERR];
    if (mis) return SF_EINVAL; /* ranks named different roots */
    return SF_OK;
}

/* Allocate a receive buffer of a size every rank knows (`total` decides the protocol):
 * small: a failure uses the scratch buffer and reports SF_ENOMEM locally; large: all
 * ranks agree and fail together. *buf is where the data goes (NULL if nothing to do). */
static int alloc_agreed(mpi_pcomm *c, size_t total, sf_value **v, int need, sf_dtype dt,
                        int ndim, const int64_t *shape, void **buf, int *local) {
    *v = NULL;
    *buf = NULL;
    *local = SF_OK;
    if (need) {
        *v = sf__value_alloc(dt, ndim, shape);
        if (*v) *buf = (*v)->data;
    }
    int failed = need && !*v;
    if (total > SMALL_MAX) {
        int any = 0, rc = agree_alloc(c, failed, &any);
        if (rc) return rc;
        if (any) {
            sf_value_unref(v);
            return SF_ENOMEM;
        }
    } else if (failed) {
        *buf = c->scratch;
        *local = SF_ENOMEM;
    }
    return SF_OK;
}

static int pc_bcast(sf_pcomm *bc, int root, sf_value **vp) {
    mpi_pcomm *c = (mpi_pcomm *)bc;
    int me = bc->rank, err = 0;
    if (!vp || root < 0 || root >= bc->size || (me == root && !*vp)) err = -SF_EINVAL;
    int64_t d[B_N];
    const sf_value *rv = (vp && me == root) ? *vp : NULL;
    int rc = root_desc(c, root, rv, err, d);
    if (me != root && vp) *vp = NULL;
    if (rc) return rc;
    int64_t shape[SF_MAX_DIMS];
    int ndim = (int)d[B_NDIM];
    size_t nbytes;
    sf_value *v = NULL;
    void *buf;
    int local = SF_OK;
    /* the agreed description: every rank checks the same numbers and fails alike */
    if ((rc = sf__value_desc_bytes(d[B_DTYPE], d[B_NDIM], d + B_SHAPE, &nbytes))) return rc;
    for (int i = 0; i < ndim; i++) shape[i] = d[B_SHAPE + i];
    if ((rc = alloc_agreed(c, nbytes, &v, me != root, (sf_dtype)d[B_DTYPE], ndim, shape, &buf,
                           &local)))
        return rc;
    if (me == root) buf = rv->data;
    for (size_t off = 0; !rc && off < nbytes; off += c->chunk) {
        size_t len = nbytes - off < c->chunk ? nbytes - off : c->chunk;
        rc = ok(MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, c->comm));
    }
    if (!rc) rc = local;
    if (rc) sf_value_unref(&v);
    if (me != root) *vp = v;
    return rc;
}

/* Move rows between the root's buffer and every rank's block: Gatherv/Scatterv counted in
 * bytes or rows, or point-to-point pieces when counts would not fit. rows[r] and row0[r]
 * are every rank's block; rowbytes the size of one row. */
static int rows_exchange(mpi_pcomm *c, int root, int gather, char *rootbuf, char *mybuf,
                         const int64_t *rows, const int64_t *row0, size_t rowbytes) {
    int size = c->base.size, me = c->base.rank, rc = SF_OK;
    int64_t nrows = 0;
    for (int r = 0; r < size; r++) nrows += rows[r];
    size_t total = (size_t)nrows * rowbytes, lim = c->chunk;
    if (total == 0) return SF_OK;
    MPI_Datatype unit = MPI_BYTE;
    size_t usize = 1;
    if (total > lim) {
        if (rowbytes <= lim && (size_t)nrows <= lim) {
            if ((rc = ok(MPI_Type_contiguous((int)rowbytes, MPI_BYTE, &unit)))) return rc;
            if ((rc = ok(MPI_Type_commit(&unit)))) {
                MPI_Type_free(&unit);
                return rc;
            }
            usize = rowbytes;
        } else {
            usize = 0; /* point-to-point */
        }
    }
    if (usize) {
        for (int r = 0; r < size; r++) {
            c->counts[r] = (int)((size_t)rows[r] * rowbytes / usize);
            c->displs[r] = (int)((size_t)row0[r] * rowbytes / usize);
        }
        int mine = c->counts[me];
        /* the root's block already in place (gather_into): MPI_IN_PLACE, no copy */
        int inplace = gather && me == root && rootbuf && mybuf == rootbuf + (size_t)row0[me] * rowbytes;
        if (gather)
            rc = ok(MPI_Gatherv(inplace ? MPI_IN_PLACE : mybuf, mine, unit, rootbuf, c->counts,
                                c->displs, unit, root, c->comm));
        else
            rc = ok(MPI_Scatterv(rootbuf, c->counts, c->displs, unit, mybuf, mine, unit, root,
                                 c->comm));
        if (unit != MPI_BYTE) MPI_Type_free(&unit);
        return rc;
    }
    /* point-to-point pieces, in rank order */
    for (int r = 0; r < size && !rc; r++) {
        size_t len = (size_t)rows[r] * rowbytes;
        char *rb = rootbuf ? rootbuf + (size_t)row0[r] * rowbytes : NULL;
        if (r == root) {
            if (me == root && len && rb != mybuf) memmove(gather ? rb : mybuf, gather ? mybuf : rb, len);
            continue;
        }
        if (me != root && me != r) continue;
        for (size_t off = 0; !rc && off < len; off += lim) {
            int n = (int)(len - off < lim ? len - off : lim);
            if (me == root && gather)
                rc = ok(MPI_Recv(rb + off, n, MPI_BYTE, r, TAG_COLL, c->comm, MPI_STATUS_IGNORE));
            else if (me == root)
                rc = ok(MPI_Send(rb + off, n, MPI_BYTE, r, TAG_COLL, c->comm));
            else if (gather)
                rc = ok(MPI_Send(mybuf + off, n, MPI_BYTE, root, TAG_COLL, c->comm));
            else
                rc = ok(MPI_Recv(mybuf + off, n, MPI_BYTE, root, TAG_COLL, c->comm,
                                 MPI_STATUS_IGNORE));
        }
    }
    return rc;
}

enum { G_ERR, G_ROOT, G_DTYPE, G_NDIM, G_HASH, G_ROWELEMS, G_LEAD, G_N };

static int pc_gather(sf_pcomm *bc, int root, const sf_value *in, sf_value **out) {
    mpi_pcomm *c = (mpi_pcomm *)bc;
    int me = bc->rank, size = bc->size, err = 0;
    if (!out) err = -SF_EINVAL;
    else *out = NULL;
    if (!in || root < 0 || root >= size) err = -SF_EINVAL;
    int64_t d[G_N] = {err, root, -1, -1, -1, -1, 0};
    if (in) {
        int64_t rowelems = 1;
        for (int i = 1; i < in->ndim; i++) rowelems *= in->shape[i];
        d[G_DTYPE] = in->dtype;
        d[G_NDIM] = in->ndim;
        d[G_HASH] = shape_hash(in, 1);
        d[G_ROWELEMS] = in->ndim ? rowelems : 1;
        d[G_LEAD] = in->ndim ? in->shape[0] : 1;
    }
    int64_t *t = c->table;
    int rc = ok(MPI_Allgather(d, G_N, MPI_INT64_T, t, G_N, MPI_INT64_T, c->comm));
    if (rc) return rc;
    int64_t maxerr = 0, nrows = 0;
    int mroot = 0, mtype = 0;
    for (int r = 0; r < size; r++) {
        const int64_t *e = t + (size_t)r * G_N;
        if (e[G_ERR] > maxerr) maxerr = e[G_ERR];
        if (e[G_ROOT] != t[G_ROOT]) mroot = 1;
        for (int k = G_DTYPE; k <= G_ROWELEMS; k++)
            if (e[k] != t[k]) mtype = 1;
        if (__builtin_add_overflow(nrows, e[G_LEAD], &nrows)) mtype = 1;
    }
    if (maxerr) return (int)-maxerr;
    if (mroot) return SF_EINVAL;
    if (mtype) return SF_ETYPE;
    size_t rowbytes = (size_t)d[G_ROWELEMS] * sf_dtype_size((sf_dtype)in->dtype);
    size_t total;
    if (__builtin_mul_overflow((size_t)nrows, rowbytes, &total)) return SF_ETYPE;
    int64_t shape[SF_MAX_DIMS];
    int ondim = in->ndim ? in->ndim : 1;
    shape[0] = nrows;
    for (int i = 1; i < in->ndim; i++) shape[i] = in->shape[i];
    /* the root's allocation: small, or everyone hears about it from the root */
    sf_value *v = NULL;
    void *buf = NULL;
    int local = SF_OK;
    if (me == root) {
        v = sf__value_alloc((sf_dtype)in->dtype, ondim, shape);
        if (v) buf = v->data;
    }
    if (total > SMALL_MAX) {
        int failed = me == root && !v;
        if ((rc = ok(MPI_Bcast(&failed, 1, MPI_INT, root, c->comm)))) {
            sf_value_unref(&v);
            return rc;
        }
        if (failed) return SF_ENOMEM;
    } else if (me == root && !v) {
        buf = c->scratch;
        local = SF_ENOMEM;
    }
    int64_t *rows = c->rows, *row0 = c->row0, acc = 0;
    for (int r = 0; r < size; r++) {
        rows[r] = t[(size_t)r * G_N + G_LEAD];
        row0[r] = acc;
        acc += rows[r];
    }
    rc = rows_exchange(c, root, 1, buf, (char *)in->data, rows, row0, rowbytes);
    if (!rc) rc = local;
    if (rc) sf_value_unref(&v);
    *out = v;
    return rc;
}

enum { I_ERR, I_DTYPE, I_ROWBYTES, I_ROWS, I_TOTAL, I_N };

static int pc_gather_into(sf_pcomm *bc, int root, const sf_value *in, int64_t root_rows,
                          sf_value *out) {
    mpi_pcomm *c = (mpi_pcomm *)bc;
    int me = bc->rank, size = bc->size;
    if (root < 0 || root >= size) return SF_EINVAL;
    const sf_value *v = me == root ? out : in;
    int64_t d[I_N] = {v && v->ndim > 0 && (me != root || root_rows >= 0) ? 0 : -SF_EINVAL, -1, -1, -1, -1};
    if (!d[I_ERR]) {
        size_t rb = sf_dtype_size((sf_dtype)v->dtype);
        for (int i = 1; i < v->ndim; i++) rb *= (size_t)v->shape[i];
        d[I_DTYPE] = v->dtype;
        d[I_ROWBYTES] = (int64_t)rb;
        d[I_ROWS] = me == root ? root_rows : v->shape[0];
        d[I_TOTAL] = me == root ? v->shape[0] : -1;
    }
    /* everyone sees every block's description and decides the same way (no rank waits for
     * a transfer that another rank refused) */
    int64_t *t = c->table;
    int rc = ok(MPI_Allgather(d, I_N, MPI_INT64_T, t, I_N, MPI_INT64_T, c->comm));
    if (rc) return rc;
    const int64_t *rt = t + (size_t)root * I_N;
    int64_t *rows = c->rows, *row0 = c->row0, acc = 0, maxerr = 0;
    int bad = 0;
    for (int r = 0; r < size; r++) {
        const int64_t *e = t + (size_t)r * I_N;
        if (e[I_ERR] > maxerr) maxerr = e[I_ERR];
        if (e[I_DTYPE] != rt[I_DTYPE] || e[I_ROWBYTES] != rt[I_ROWBYTES] || e[I_ROWS] < 0) bad = 1;
        rows[r] = e[I_ROWS];
        row0[r] = acc;
        if (__builtin_add_overflow(acc, e[I_ROWS], &acc)) bad = 1;
    }
    if (maxerr) return (int)-maxerr;
    if (bad || acc != rt[I_TOTAL]) return SF_ETYPE;
    size_t rb = (size_t)rt[I_ROWBYTES];
    char *rootbuf = me == root ? (char *)out->data : NULL;
    char *mybuf = me == root ? rootbuf + (size_t)row0[root] * rb : (char *)in->data;
    return rows_exchange(c, root, 1, rootbuf, mybuf, rows, row0, rb);
}

static int pc_scatter(sf_pcomm *bc, int root, const sf_value *in, sf_value **out) {
    mpi_pcomm *c = (mpi_pcomm *)bc;
    int me = bc->rank, size = bc->size, err = 0;
    if (!out) err = -SF_EINVAL;
    else *out = NULL;
    if (root < 0 || root >= size || (me == root && !in)) err = -SF_EINVAL;
    else if (me == root && in->ndim == 0) err = -SF_ETYPE; /* nothing to split */
    int64_t d[B_N];
    int rc = root_desc(c, root, me == root ? in : NULL, err, d);
    if (rc) return rc;
    sf_dtype dt = (sf_dtype)d[B_DTYPE];
    int ndim = (int)d[B_NDIM];
    int64_t shape[SF_MAX_DIMS];
    size_t rowbytes = sf_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        shape[i] = d[B_SHAPE + i];
        if (i) rowbytes *= (size_t)shape[i];
    }
    int64_t n = shape[0], *rows = c->rows, *row0 = c->row0;
    for (int r = 0; r < size; r++) sf__block_rows(n, size, r, &row0[r], &rows[r]);
    shape[0] = rows[me];
    sf_value *v = NULL;
    void *buf;
    int local;
    if ((rc = alloc_agreed(c, (size_t)n * rowbytes, &v, 1, dt, ndim, shape, &buf, &local)))
        return rc;
    rc = rows_exchange(c, root, 0, me == root ? (char *)in->data : NULL, buf, rows, row0,
                       rowbytes);
    if (!rc) rc = local;
    if (rc) sf_value_unref(&v);
    *out = v;
    return rc;
}

static int pc_barrier(sf_pcomm *bc) { return ok(MPI_Barrier(((mpi_pcomm *)bc)->comm)); }

static const void *pc_mpi_comm(sf_pcomm *bc) { return &((mpi_pcomm *)bc)->comm; }

static void pc_destroy(sf_pcomm **cp) {
    mpi_pcomm *c = (mpi_pcomm *)*cp;
    if (!c) return;
    while (c->self_head) {
        self_msg *m = c->self_head;
        c->self_head = m->next;
        sf_value_unref(&m->v);
        free(m);
    }
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin && c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
    free(c->scratch);
    free(c->counts);
    free(c->displs);
    free(c->table);
    free(c->rows);
    free(c->row0);
    free(c);
    *cp = NULL;
}

static const struct sf_pcomm_ops mpi_pcomm_ops = {
    .send = pc_send,
    .recv = pc_recv,
    .bcast = pc_bcast,
    .reduce = pc_reduce,
    .allreduce = pc_allreduce,
    .gather = pc_gather,
    .gather_into = pc_gather_into,
    .scatter = pc_scatter,
    .barrier = pc_barrier,
    .mpi_comm = pc_mpi_comm,
    .destroy = pc_destroy,
};

int sf__pcomm_mpi_create(sf_pcomm **out, const void *comm) {
    if (!out || !comm) return SF_EINVAL;
    *out = NULL;
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin) return SF_EMPI;
    MPI_Comm base = *(const MPI_Comm *)comm;
    if (base == MPI_COMM_NULL) return SF_EINVAL;
    mpi_pcomm *c = calloc(1, sizeof *c);
    if (!c) return SF_ENOMEM;
    c->base.ops = &mpi_pcomm_ops;
    c->comm = MPI_COMM_NULL;
    const char *cm = getenv("SF_PCOMM_CHUNK_BYTES"); /* tests: force the piecewise paths */
    long cl = cm ? atol(cm) : 0;
    c->chunk = cl > 0 && (size_t)cl < CHUNK_MAX ? (size_t)cl : CHUNK_MAX;
    sf_pcomm *b = &c->base;
    if (MPI_Comm_dup(base, &c->comm) != MPI_SUCCESS) {
        c->comm = MPI_COMM_NULL;
        pc_destroy(&b);
        return SF_EMPI;
    }
    if (MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
        MPI_Comm_rank(c->comm, &c->base.rank) != MPI_SUCCESS ||
        MPI_Comm_size(c->comm, &c->base.size) != MPI_SUCCESS) {
        pc_destroy(&b);
        return SF_EMPI;
    }
    size_t n = (size_t)c->base.size;
    c->scratch = malloc(SMALL_MAX);
    c->counts = malloc(sizeof(int) * n);
    c->displs = malloc(sizeof(int) * n);
    c->table = malloc(sizeof(int64_t) * G_N * n);
    c->rows = malloc(sizeof(int64_t) * n);
    c->row0 = malloc(sizeof(int64_t) * n);
    if (!c->scratch || !c->counts || !c->displs || !c->table || !c->rows || !c->row0) {
        pc_destroy(&b);
        return SF_ENOMEM;
    }
    *out = b;
    return SF_OK;
}
