/*
 * Simulation-mode transport: parties are ranks of one MPI job.
 *
 * Communicators: two private duplicates of the leaders' communicator (mode_sim.c): `data`
 * carries messages (one tag, so per-pair order is MPI's non-overtaking order), `ctrl`
 * carries wait notices, which must not interleave with data.
 *
 * A message is a wire header (mpi/wire.h: the message header, the value's dtype and
 * shape, and `how` its data travels). Values up to INLINE_MAX
 * bytes travel inside it (one message, one copy); larger values follow as one or more
 * messages sent straight from the value's buffer (no copy; chunks of at most CHUNK_MAX
 * bytes, so there is no int-count ceiling). The receiver matches with MPI_Improbe and
 * receives large data directly into the new value's buffer.
 *
 * Sends are MPI_Isend; each pending request keeps a reference on its value (or owns its
 * header buffer) until MPI_Testsome reports it complete, so the owner may release its
 * object at once. Nothing blocks on a send, so large messages cannot deadlock.
 *
 * Flow control: every PACE-th message to a peer is a synchronous send and the next one
 * waits until the peer has matched it. A rank waiting so keeps receiving: it takes in
 * whole messages from any peer and stashes them for its later receives, so two ranks that
 * both send long streams before receiving (an SPU operation's openings) cannot deadlock.
 * The price: while a rank waits so, what its peers send it is held in its memory without
 * bound (taking a message in also releases that sender's paced send).
 *
 * A blocked receiver polls; after wait_timeout it sends the peer a wait notice (what it
 * waits for, its call number and trace) on `ctrl`, and it handles notices from others
 * while it waits, which is how a divergence with no message in flight is found.
 */
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/mpi_job.h"
#include "mpi/sim/sim.h"
#include "mpi/wire.h"
#include "core/value.h"

#define TAG_MSG 11
#define TAG_NOTICE 12
#define TAG_DATA 13 /* a large value's data, sent just before its header */
#define INLINE_MAX 8192
#define CHUNK_MAX ((size_t)1 << 30)


typedef struct pending {
    sf_value *v; /* reference held while the data send is in flight */
    void *buf;   /* owned header/notice buffer */
} pending;

typedef struct mpi_transport {
    sf_transport base;
    MPI_Comm data, ctrl;
    double wait_timeout;
    size_t chunk_max;
    MPI_Request *reqs;
    pending *pend;
    int *done_idx;
    int npend, cap;
    /* flow control: every PACE-th message to a peer is a synchronous send, and the next
     * one waits for it, so a peer that only receives stays at most 2*PACE messages behind
     * and unreceived messages cannot pile up without bound */
    uint64_t *nsent;
    MPI_Request *pace_req;
    void **pace_buf;
    sf_value **pace_val;
    /* messages taken in while this rank waited in pace_wait, per source, in order */
    struct stashed **stash_head, **stash_tail;
} mpi_transport;

typedef struct stashed {
    struct stashed *next;
    sf_msg_hdr h;
    sf_value *v;
} stashed;

#define PACE 64

static void compact(mpi_transport *t) {
    int j = 0;
    for (int i = 0; i < t->npend; i++) {
        if (t->reqs[i] == MPI_REQUEST_NULL) {
            sf_value_unref(&t->pend[i].v);
            free(t->pend[i].buf);
            continue;
        }
        t->reqs[j] = t->reqs[i];
        t->pend[j] = t->pend[i];
        j++;
    }
    t->npend = j;
}

static void progress(mpi_transport *t) {
    if (t->npend == 0) return;
    int outcount = 0;
    MPI_Testsome(t->npend, t->reqs, &outcount, t->done_idx, MPI_STATUSES_IGNORE);
    if (outcount > 0) compact(t);
}

static int add_pending(mpi_transport *t, MPI_Request r, sf_value *v, void *buf) {
    if (t->npend == t->cap) {
        progress(t);
        if (t->npend == t->cap) {
            int cap = t->cap ? t->cap * 2 : 64;
            MPI_Request *rq = realloc(t->reqs, sizeof *rq * (size_t)cap);
            if (rq) t->reqs = rq;
            pending *pd = realloc(t->pend, sizeof *pd * (size_t)cap);
            if (pd) t->pend = pd;
            int *di = realloc(t->done_idx, sizeof *di * (size_t)cap);
            if (di) t->done_idx = di;
            if (!rq || !pd || !di) return SF_ENOMEM;
            t->cap = cap;
        }
    }
    t->reqs[t->npend] = r;
    t->pend[t->npend] = (pending){v, buf};
    t->npend++;
    return SF_OK;
}

static void handle_notices(mpi_transport *t);
static int recv_msg(mpi_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h,
                    sf_value **vout);

/* Take in one whole message that has arrived from any peer, if there is one, and stash
 * it for a later receive. Returns 1 if it took one, 0 if none was there, or an error. */
static int stash_one(mpi_transport *t) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, t->data, &flag, &st) != MPI_SUCCESS) return SF_EMPI;
    if (!flag) return 0;
    stashed *m = calloc(1, sizeof *m);
    if (!m) return SF_ENOMEM;
    int src = st.MPI_SOURCE;
    /* the probed message is the first unreceived one from src, the start of a message
     * (a value's data goes just before its header, which the sender posts right after) */
    int rc = recv_msg(t, src, NULL, &m->h, &m->v);
    if (rc) {
        free(m);
        return rc;
    }
    if (t->stash_tail[src]) t->stash_tail[src]->next = m;
    else t->stash_head[src] = m;
    t->stash_tail[src] = m;
    return 1;
}

/* Wait for the previous synchronous send to dst (the peer has matched it), handling
 * notices and progress meanwhile, and taking in what arrives (see the top). */
static int pace_wait(mpi_transport *t, int dst) {
    for (unsigned spins = 0; t->pace_req[dst] != MPI_REQUEST_NULL; spins++) {
        int flag = 0;
        if (MPI_Test(&t->pace_req[dst], &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) return SF_EMPI;
        if (flag) break;
        if ((spins & 63) == 63) {
            progress(t);
            handle_notices(t);
            int got = stash_one(t);
            if (got < 0) return got;
            if (got) spins = 0;
            else if (spins > 256) sched_yield();
        }
    }
    free(t->pace_buf[dst]);
    t->pace_buf[dst] = NULL;
    sf_value_unref(&t->pace_val[dst]);
    return SF_OK;
}

/* inline_data: how the value's data travels. DATA_BEFORE: the data goes first as its own
 * message, straight from the value's buffer; the receiver learns its size from the probe,
 * receives it into a buffer the new value keeps (single copy, no extra round trip), then
 * takes the small header that follows. */
enum { DATA_NONE = 0, DATA_INLINE = 1, DATA_BEFORE = 2, DATA_CHUNKS = 3 };

static int mpi_send(sf_transport *bt, int dst, const sf_msg_hdr *h, sf_value *v) {
    mpi_transport *t = (mpi_transport *)bt;
    int nd = v ? v->ndim : 0;
    int how = !v ? DATA_NONE : v->nbytes <= INLINE_MAX ? DATA_INLINE
              : v->nbytes <= t->chunk_max ? DATA_BEFORE : DATA_CHUNKS;
    size_t hl = sf__wire_size(nd);
    size_t wsize = hl + (how == DATA_INLINE ? v->nbytes : 0);
    uint8_t *w = malloc(wsize);
    if (!w) return SF_ENOMEM;
    sf__wire_encode(w, h, v, (uint8_t)how);
    if (how == DATA_INLINE && v->nbytes) memcpy(w + hl, v->data, v->nbytes);
    MPI_Request r;
    if (how == DATA_BEFORE) {
        if (MPI_Isend(v->data, (int)v->nbytes, MPI_BYTE, dst, TAG_DATA, t->data, &r) != MPI_SUCCESS) {
            free(w);
            return SF_EMPI;
        }
        if (add_pending(t, r, sf_value_ref(v), NULL)) {
            free(w);
            return SF_ENOMEM;
        }
    }
    if (++t->nsent[dst] % PACE == 0) {
        if (pace_wait(t, dst) ||
            MPI_Issend(w, (int)wsize, MPI_BYTE, dst, TAG_MSG, t->data, &t->pace_req[dst]) != MPI_SUCCESS) {
            free(w);
            return SF_EMPI;
        }
        t->pace_buf[dst] = w;
    } else {
        if (MPI_Isend(w, (int)wsize, MPI_BYTE, dst, TAG_MSG, t->data, &r) != MPI_SUCCESS) {
            free(w);
            return SF_EMPI;
        }
        if (add_pending(t, r, NULL, w)) return SF_ENOMEM;
    }
    if (how == DATA_CHUNKS) {
        for (size_t off = 0; off < v->nbytes; off += t->chunk_max) {
            size_t len = v->nbytes - off < t->chunk_max ? v->nbytes - off : t->chunk_max;
            if (MPI_Isend((char *)v->data + off, (int)len, MPI_BYTE, dst, TAG_MSG, t->data, &r) !=
                MPI_SUCCESS)
                return SF_EMPI;
            if (add_pending(t, r, sf_value_ref(v), NULL)) return SF_ENOMEM;
        }
    }
    progress(t);
    return SF_OK;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void handle_notices(mpi_transport *t) {
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_NOTICE, t->ctrl, &flag, &st);
        if (!flag) return;
        uint8_t buf[SF_WIRE_NOTICE];
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (count != SF_WIRE_NOTICE) { /* not a notice of ours: take it out of the way */
            uint8_t *junk = malloc(count > 0 ? (size_t)count : 1);
            MPI_Recv(junk, count, MPI_BYTE, st.MPI_SOURCE, TAG_NOTICE, t->ctrl, MPI_STATUS_IGNORE);
            free(junk);
            continue;
        }
        MPI_Recv(buf, SF_WIRE_NOTICE, MPI_BYTE, st.MPI_SOURCE, TAG_NOTICE, t->ctrl, MPI_STATUS_IGNORE);
        sf_wait_notice n;
        if (sf__wire_notice_decode(buf, sizeof buf, &n) == 0 && t->base.hooks.on_notice)
            t->base.hooks.on_notice(t->base.hooks.arg, st.MPI_SOURCE, &n);
    }
}

static void send_notice(mpi_transport *t, int dst, const sf_wait_notice *w) {
    uint8_t *copy = malloc(SF_WIRE_NOTICE);
    if (!copy) return;
    sf__wire_notice_encode(copy, w);
    MPI_Request r;
    if (MPI_Isend(copy, SF_WIRE_NOTICE, MPI_BYTE, dst, TAG_NOTICE, t->ctrl, &r) != MPI_SUCCESS) {
        free(copy);
        return;
    }
    if (add_pending(t, r, NULL, copy)) free(copy);
}

/* The next message from src: its header (and inline data) in *out (malloc'd, *count
 * bytes); a large value's data that came before it in *data (a cache buffer of *cap bytes
 * holding *dcount bytes). */
static int recv_wire(mpi_transport *t, int src, const sf_wait_notice *w, uint8_t **out,
                     int *count, void **data, size_t *cap, int *dcount) {
    double t0 = 0;
    int noticed = w == NULL;
    *data = NULL;
    *cap = 0;
    for (unsigned spins = 0;; spins++) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(src, *data ? TAG_MSG : MPI_ANY_TAG, t->data, &flag, &msg, &st) != MPI_SUCCESS)
            return SF_EMPI;
        if (flag && st.MPI_TAG == TAG_DATA) {
            MPI_Get_count(&st, MPI_BYTE, dcount);
            void *d = sf__buffer_get((size_t)*dcount + 1, cap);
            if (!d) return SF_ENOMEM;
            if (MPI_Mrecv(d, *dcount, MPI_BYTE, &msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                sf__buffer_put(d, *cap);
                return SF_EMPI;
            }
            *data = d;
            spins = 0;
            continue; /* its header follows at once */
        }
        if (flag) {
            MPI_Get_count(&st, MPI_BYTE, count);
            uint8_t *buf = malloc(*count > 0 ? (size_t)*count : 1);
            if (!buf) return SF_ENOMEM;
            if (MPI_Mrecv(buf, *count, MPI_BYTE, &msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                free(buf);
                if (*data) sf__buffer_put(*data, *cap);
                return SF_EMPI;
            }
            *out = buf;
            return SF_OK;
        }
        if ((spins & 63) == 63) {
            progress(t);
            handle_notices(t);
            double tn = now();
            if (t0 == 0) t0 = tn;
            if (!noticed && tn - t0 > t->wait_timeout) {
                send_notice(t, src, w);
                noticed = 1;
            }
            if (spins > 256) sched_yield();
        }
    }
}

/* Receive the next message from src off the wire (blocking). A message that does not
 * decode is SF_EMPI (the caller names the sender). */
static int recv_msg(mpi_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h,
                    sf_value **vout) {
    uint8_t *wb = NULL;
    void *data = NULL;
    size_t cap = 0, hl = 0;
    int count = 0, dcount = 0, rc = recv_wire(t, src, w, &wb, &count, &data, &cap, &dcount);
    if (rc) return rc;
    *vout = NULL;
    rc = SF_EMPI; /* any inconsistency below is a malformed message */
    sf_value *v = NULL;
    sf_wire_msg m;
    if (sf__wire_peek(wb, (size_t)count, &hl) || (size_t)count < hl ||
        sf__wire_decode(wb, hl, SIZE_MAX >> 2, &m) || (m.how == DATA_BEFORE) != !!data)
        goto out;
    *h = m.h;
    if (!m.has_val) {
        rc = (size_t)count == hl ? SF_OK : SF_EMPI;
        goto out;
    }
    if (data) { /* the value keeps the buffer its data arrived in */
        v = sf__value_wrap(data, cap, 0, m.dtype, m.ndim, m.shape);
        data = NULL;
        if (v && v->nbytes == (size_t)dcount && (size_t)count == hl) {
            *vout = v;
            v = NULL;
            rc = SF_OK;
        }
        goto out;
    }
    v = sf__value_alloc(m.dtype, m.ndim, m.shape);
    if (!v) {
        rc = SF_ENOMEM;
        goto out;
    }
    if (m.how == DATA_INLINE) {
        if ((size_t)count != hl + v->nbytes) goto out;
        if (v->nbytes) memcpy(v->data, wb + hl, v->nbytes);
    } else {
        if (m.how != DATA_CHUNKS || (size_t)count != hl) goto out;
        for (size_t off = 0; off < v->nbytes; off += t->chunk_max) {
            size_t len = v->nbytes - off < t->chunk_max ? v->nbytes - off : t->chunk_max;
            if (MPI_Recv((char *)v->data + off, (int)len, MPI_BYTE, src, TAG_MSG, t->data,
                         MPI_STATUS_IGNORE) != MPI_SUCCESS)
                goto out;
        }
    }
    *vout = v;
    v = NULL;
    rc = SF_OK;
out:
    sf_value_unref(&v);
    if (data) sf__buffer_put(data, cap);
    free(wb);
    return rc;
}

static int mpi_recv(sf_transport *bt, int src, const sf_wait_notice *w, sf_msg_hdr *h,
                    sf_value **vout) {
    mpi_transport *t = (mpi_transport *)bt;
    stashed *m = t->stash_head[src];
    if (m) { /* taken in earlier while this rank waited to send */
        if (!(t->stash_head[src] = m->next)) t->stash_tail[src] = NULL;
        *h = m->h;
        *vout = m->v;
        free(m);
        return SF_OK;
    }
    return recv_msg(t, src, w, h, vout);
}

static int mpi_finish(sf_transport *bt, const sf_msg_hdr *bye) {
    mpi_transport *t = (mpi_transport *)bt;
    int rc = sf__bye_exchange(bt, bye);
    if (rc) return rc;
    /* every party is done sending notices once all byes are in; drain what is left */
    MPI_Barrier(t->ctrl);
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_NOTICE, t->ctrl, &flag, &st);
        if (!flag) break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        uint8_t *junk = malloc(count > 0 ? (size_t)count : 1);
        MPI_Recv(junk, count, MPI_BYTE, st.MPI_SOURCE, TAG_NOTICE, t->ctrl, MPI_STATUS_IGNORE);
        free(junk);
    }
    MPI_Waitall(t->npend, t->reqs, MPI_STATUSES_IGNORE);
    compact(t);
    for (int p = 0; p < bt->nparties; p++)
        if (t->pace_req[p] != MPI_REQUEST_NULL) pace_wait(t, p);
    return SF_OK;
}

/* MPI_Abort ends every rank of the job at once (mpirun propagates the code). */
static void mpi_abort(sf_transport *bt, int code, const char *reason) {
    mpi_transport *t = (mpi_transport *)bt;
    (void)reason;
    fflush(NULL);
    MPI_Abort(t->data, code);
    _exit(code);
}

static void mpi_destroy(sf_transport **tp) {
    mpi_transport *t = (mpi_transport *)*tp;
    if (!t) return;
    if (t->npend) {
        MPI_Waitall(t->npend, t->reqs, MPI_STATUSES_IGNORE);
        compact(t);
    }
    for (int p = 0; t->pace_req && p < t->base.nparties; p++)
        if (t->pace_req[p] != MPI_REQUEST_NULL) {
            MPI_Wait(&t->pace_req[p], MPI_STATUS_IGNORE);
            free(t->pace_buf[p]);
            sf_value_unref(&t->pace_val[p]);
        }
    for (int p = 0; t->stash_head && p < t->base.nparties; p++)
        while (t->stash_head[p]) {
            stashed *m = t->stash_head[p];
            t->stash_head[p] = m->next;
            sf_value_unref(&m->v);
            free(m);
        }
    free(t->stash_head);
    free(t->stash_tail);
    free(t->nsent);
    free(t->pace_req);
    free(t->pace_buf);
    free(t->pace_val);
    if (t->ctrl != MPI_COMM_NULL) MPI_Comm_free(&t->ctrl);
    if (t->data != MPI_COMM_NULL) MPI_Comm_free(&t->data);
    free(t->reqs);
    free(t->pend);
    free(t->done_idx);
    free(t);
    *tp = NULL;
}

static const struct sf_transport_ops mpi_ops = {
    .name = "mpi",
    .send = mpi_send,
    .recv = mpi_recv,
    .finish = mpi_finish,
    .abort = mpi_abort,
    .destroy = mpi_destroy,
};

int sf__mpi_transport_create(sf_transport **out, int nparties, const sf_mpi_options *opt,
                             const sf_transport_hooks *hooks, const void *base_comm, char *err,
                             size_t errlen) {
    mpi_transport *t = calloc(1, sizeof *t);
    if (!t) return SF_ENOMEM;
    t->data = t->ctrl = MPI_COMM_NULL;
    int rc;
    t->base.ops = &mpi_ops;
    t->base.hooks = *hooks;
    t->base.nparties = nparties;
    t->wait_timeout = opt && opt->wait_timeout > 0 ? opt->wait_timeout : 2.0;
    const char *cm = getenv("SF_MPI_CHUNK_BYTES"); /* tests: force the chunked path */
    t->chunk_max = cm && atol(cm) > 0 ? (size_t)atol(cm) : CHUNK_MAX;
    t->nsent = calloc((size_t)nparties, sizeof *t->nsent);
    t->pace_req = malloc(sizeof *t->pace_req * (size_t)nparties);
    t->pace_buf = calloc((size_t)nparties, sizeof *t->pace_buf);
    t->pace_val = calloc((size_t)nparties, sizeof *t->pace_val);
    t->stash_head = calloc((size_t)nparties, sizeof *t->stash_head);
    t->stash_tail = calloc((size_t)nparties, sizeof *t->stash_tail);
    if (!t->nsent || !t->pace_req || !t->pace_buf || !t->pace_val || !t->stash_head || !t->stash_tail) {
        sf_transport *b = &t->base;
        mpi_destroy(&b);
        return SF_ENOMEM;
    }
    for (int p = 0; p < nparties; p++) t->pace_req[p] = MPI_REQUEST_NULL;
    MPI_Comm base = *(const MPI_Comm *)base_comm;
    if ((rc = MPI_Comm_dup(base, &t->data)) != MPI_SUCCESS ||
        (rc = MPI_Comm_dup(base, &t->ctrl)) != MPI_SUCCESS) {
        sf_transport *b = &t->base;
        sf__mpi_error(rc, "MPI_Comm_dup", err, errlen);
        mpi_destroy(&b);
        return SF_EMPI;
    }
    MPI_Comm_set_errhandler(t->data, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(t->ctrl, MPI_ERRORS_RETURN);
    int size;
    MPI_Comm_rank(t->data, &t->base.self);
    MPI_Comm_size(t->data, &size);
    if (size != nparties) {
        snprintf(err, errlen, "the leaders' communicator has %d ranks for %d parties", size, nparties);
        sf_transport *b = &t->base;
        mpi_destroy(&b);
        return SF_EUSAGE;
    }
    *out = &t->base;
    return SF_OK;
}

