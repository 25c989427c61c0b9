/*
 * Debug-mode transport: every rank is a coroutine of one thread, so a message is a
 * pointer hand-off (the value is shared by reference: zero copy; values are immutable).
 *
 * One incoming FIFO per rank holds point-to-point messages from all sources in arrival
 * order. A message to many ranks at once (sf_get's broadcast to every party that lacks
 * the object) is instead one record on its source's outgoing list, with a bitmap of the
 * receivers that have not taken it: with thousands of parties the receivers then read
 * one shared record that is in the cache, instead of a node per receiver, each written
 * cold by the sender and read cold by its receiver. Every message carries its source's
 * send number, so recv(src) takes the older of the first node from src in its FIFO and
 * the first record of src still marked for it: per-pair order holds across both kinds.
 *
 * A receiver remembers the record it took last, so that a rank far ahead of the others
 * does not walk past the records it has taken already on every receive.
 *
 * A receiver with nothing to take blocks through the scheduler's hook and joins the end of
 * its source's waiter list (a doubly linked list through the endpoints), so a send wakes
 * exactly the ranks waiting for it, in the order they blocked (the order of the
 * scheduler's round), and a finishing rank wakes everyone waiting on it (they then get
 * SF_EPEER). Message nodes and records are recycled through free lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/debug/mem.h"
#include "core/value.h"

typedef struct mem_msg {
    struct mem_msg *next;
    int src;
    uint64_t seq; /* the source's send number */
    sf_msg_hdr h;
    sf_value *v;
} mem_msg;

/* One message to many ranks: on its source's list until every receiver has taken it. */
typedef struct mem_bcast {
    struct mem_bcast *next;
    uint64_t seq; /* 0 once freed */
    int src;
    int left;   /* receivers that have not taken it; v holds a reference for each */
    sf_msg_hdr h;
    sf_value *v;
    uint64_t bits[]; /* receivers that have not taken it: bit i is fabric rank i * bstride */
} mem_bcast;

typedef struct mem_ep {
    mem_msg *head, *tail;
    int blocked_on;      /* source this rank waits for, or -1 */
    int wprev, wnext;    /* links in waiters[blocked_on] */
    int finished;
    uint64_t sent;       /* messages sent (the send number of the last one) */
    mem_bcast *bhead, *btail; /* records sent, oldest first */
    /* the record this rank took last (source, send number): no older record of that
     * source is still marked for it, so the next search from there starts after it */
    mem_bcast *hint;
    uint64_t hint_seq;
    int hint_src;
} mem_ep;

struct sf_mem_fabric {
    int n;
    mem_ep *eps;
    int *waiters, *wtail; /* per source: first and last waiting rank (in the order they
                           * blocked, which is the order a send to many wakes them), or -1 */
    sf_mem_sched sched;
    mem_msg *free_msgs;
    mem_bcast *free_bcast;
    int bstride, bwords; /* every record's stride and bitmap words (0: none made yet) */
    long nbcast;         /* records alive */
};

static inline int bit_get(const uint64_t *b, int i) { return (int)((b[i >> 6] >> (i & 63)) & 1); }
static inline void bit_set(uint64_t *b, int i) { b[i >> 6] |= (uint64_t)1 << (i & 63); }
static inline void bit_clear(uint64_t *b, int i) { b[i >> 6] &= ~((uint64_t)1 << (i & 63)); }

typedef struct mem_transport {
    sf_transport base;
    sf_mem_fabric *f;
    int stride; /* fabric ranks per party */
} mem_transport;

int sf__mem_fabric_create(sf_mem_fabric **out, int n, const sf_mem_sched *sched) {
    sf_mem_fabric *f = calloc(1, sizeof *f);
    if (!f) return SF_ENOMEM;
    f->eps = calloc((size_t)n, sizeof *f->eps);
    f->waiters = malloc(sizeof(int) * (size_t)n);
    f->wtail = malloc(sizeof(int) * (size_t)n);
    if (!f->eps || !f->waiters || !f->wtail) {
        free(f->wtail);
        free(f->eps);
        free(f->waiters);
        free(f);
        return SF_ENOMEM;
    }
    f->n = n;
    f->sched = *sched;
    for (int i = 0; i < n; i++) {
        f->eps[i].blocked_on = -1;
        f->waiters[i] = f->wtail[i] = -1;
    }
    *out = f;
    return SF_OK;
}

void sf__mem_fabric_destroy(sf_mem_fabric **fp) {
    sf_mem_fabric *f = *fp;
    if (!f) return;
    for (int i = 0; i < f->n; i++) {
        mem_msg *m = f->eps[i].head;
        while (m) {
            mem_msg *nx = m->next;
            sf_value_unref(&m->v);
            free(m);
            m = nx;
        }
    }
    for (int i = 0; i < f->n; i++) {
        mem_bcast *b = f->eps[i].bhead;
        while (b) {
            mem_bcast *nx = b->next;
            sf__value_unref_n(b->v, b->left);
            free(b);
            b = nx;
        }
    }
    while (f->free_msgs) {
        mem_msg *nx = f->free_msgs->next;
        free(f->free_msgs);
        f->free_msgs = nx;
    }
    while (f->free_bcast) {
        mem_bcast *nx = f->free_bcast->next;
        free(f->free_bcast);
        f->free_bcast = nx;
    }
    free(f->eps);
    free(f->waiters);
    free(f->wtail);
    free(f);
    *fp = NULL;
}

static void unwait(sf_mem_fabric *f, int r) {
    mem_ep *e = &f->eps[r];
    int src = e->blocked_on;
    if (src < 0) return;
    if (e->wprev >= 0) f->eps[e->wprev].wnext = e->wnext;
    else f->waiters[src] = e->wnext;
    if (e->wnext >= 0) f->eps[e->wnext].wprev = e->wprev;
    else f->wtail[src] = e->wprev;
    e->blocked_on = -1;
}

int sf__mem_send(sf_mem_fabric *f, int self, int dst, const sf_msg_hdr *h, sf_value *v) {
    mem_msg *m = f->free_msgs;
    if (m) f->free_msgs = m->next;
    else if (!(m = malloc(sizeof *m))) return SF_ENOMEM;
    m->next = NULL;
    m->src = self;
    m->seq = ++f->eps[self].sent;
    m->h = *h;
    m->v = sf_value_ref(v);
    mem_ep *d = &f->eps[dst];
    if (d->tail) d->tail->next = m;
    else d->head = m;
    d->tail = m;
    if (d->blocked_on == self) {
        unwait(f, dst);
        f->sched.wake(f->sched.arg, dst);
    }
    return SF_OK;
}

int sf__mem_send_many(sf_mem_fabric *f, int self, const int *dsts, int n, int stride,
                      const sf_msg_hdr *h, sf_value *v) {
    int words = ((f->n + stride - 1) / stride + 63) / 64;
    if (n < 2 || (f->bwords && (f->bstride != stride || f->bwords != words))) {
        for (int i = 0; i < n; i++) {
            int rc = sf__mem_send(f, self, dsts[i] * stride, h, v);
            if (rc) return rc;
        }
        return SF_OK;
    }
    mem_bcast *b = f->free_bcast;
    if (b) f->free_bcast = b->next;
    else if (!(b = malloc(sizeof *b + sizeof(uint64_t) * (size_t)words))) return SF_ENOMEM;
    f->bstride = stride;
    f->bwords = words;
    memset(b->bits, 0, sizeof(uint64_t) * (size_t)words);
    for (int i = 0; i < n; i++) bit_set(b->bits, dsts[i]);
    b->next = NULL;
    b->src = self;
    b->left = n;
    b->h = *h;
    b->v = sf__value_ref_n(v, n);
    mem_ep *s = &f->eps[self];
    b->seq = ++s->sent;
    if (s->btail) s->btail->next = b;
    else s->bhead = b;
    s->btail = b;
    f->nbcast++;
    /* wake the receivers already waiting for us */
    for (int w = f->waiters[self], nx; w >= 0; w = nx) {
        nx = f->eps[w].wnext;
        if (w % stride == 0 && bit_get(b->bits, w / stride)) {
            unwait(f, w);
            f->sched.wake(f->sched.arg, w);
        }
    }
    return SF_OK;
}

/* The first record of src still marked for `bit` (a leader's party index), and the one
 * before it. */
static mem_bcast *bcast_for(mem_ep *me, mem_ep *s, int src, int bit, mem_bcast **prevp) {
    mem_bcast *prev = NULL, *h = me->hint;
    if (h && me->hint_src == src && h->src == src && h->seq == me->hint_seq) prev = h;
    for (mem_bcast *b = prev ? prev->next : s->bhead; b; prev = b, b = b->next)
        if (bit_get(b->bits, bit)) {
            *prevp = prev;
            return b;
        }
    return NULL;
}

int sf__mem_recv(sf_mem_fabric *f, int self, int src, sf_msg_hdr *h, sf_value **v) {
    mem_ep *me = &f->eps[self], *s = &f->eps[src];
    for (;;) {
        mem_msg *prev = NULL, *m = me->head;
        while (m && m->src != src) prev = m, m = m->next;
        mem_bcast *bprev = NULL, *b = NULL;
        if (s->bhead && self % f->bstride == 0) /* a record is for leaders only */
            b = bcast_for(me, s, src, self / f->bstride, &bprev);
        if (b && (!m || b->seq < m->seq)) {
            bit_clear(b->bits, self / f->bstride);
            *h = b->h;
            *v = b->v; /* one of the record's references */
            mem_bcast *hint = b;
            if (--b->left == 0) {
                if (bprev) bprev->next = b->next;
                else s->bhead = b->next;
                if (s->btail == b) s->btail = bprev;
                b->seq = 0;
                b->next = f->free_bcast;
                f->free_bcast = b;
                f->nbcast--;
                hint = bprev;
            }
            me->hint = hint;
            me->hint_seq = hint ? hint->seq : 0;
            me->hint_src = src;
            return SF_OK;
        }
        if (m) {
            if (prev) prev->next = m->next;
            else me->head = m->next;
            if (me->tail == m) me->tail = prev;
            *h = m->h;
            *v = m->v;
            m->v = NULL;
            m->next = f->free_msgs;
            f->free_msgs = m;
            return SF_OK;
        }
        if (f->eps[src].finished) return SF_EPEER;
        me->blocked_on = src; /* join src's waiters at the end */
        me->wnext = -1;
        me->wprev = f->wtail[src];
        if (me->wprev >= 0) f->eps[me->wprev].wnext = self;
        else f->waiters[src] = self;
        f->wtail[src] = self;
        f->sched.block(f->sched.arg, self, src);
    }
}

/* The cross-party transport of a party leader: party p is fabric rank p * stride. */
static int mem_send(sf_transport *t, int dst, const sf_msg_hdr *h, sf_value *v) {
    mem_transport *m = (mem_transport *)t;
    return sf__mem_send(m->f, t->self * m->stride, dst * m->stride, h, v);
}

static int mem_send_many(sf_transport *t, const int *dsts, int n, const sf_msg_hdr *h,
                         sf_value *v) {
    mem_transport *m = (mem_transport *)t;
    return sf__mem_send_many(m->f, t->self * m->stride, dsts, n, m->stride, h, v);
}

static int mem_recv(sf_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h,
                    sf_value **v) {
    mem_transport *m = (mem_transport *)t;
    (void)w;
    return sf__mem_recv(m->f, t->self * m->stride, src * m->stride, h, v);
}

void sf__mem_set_finished(sf_mem_fabric *f, int r) {
    f->eps[r].finished = 1;
    while (f->waiters[r] >= 0) { /* they get SF_EPEER */
        int w = f->waiters[r];
        unwait(f, w);
        f->sched.wake(f->sched.arg, w);
    }
}

static int mem_finish(sf_transport *t, const sf_msg_hdr *bye) {
    mem_transport *m = (mem_transport *)t;
    sf__mem_set_finished(m->f, t->self * m->stride);
    (void)bye; /* the scheduler compares every rank's end once all have finished */
    return SF_OK;
}

int sf__mem_pending(sf_mem_fabric *f, int dst, int *src, sf_msg_hdr *first) {
    int n = 0;
    for (mem_msg *m = f->eps[dst].head; m; m = m->next) {
        if (n == 0) {
            *src = m->src;
            *first = m->h;
        }
        n++;
    }
    for (int s = 0; f->nbcast && s < f->n; s += f->bstride) /* only leaders send records */
        for (mem_bcast *b = f->eps[s].bhead; b; b = b->next)
            if (dst % f->bstride == 0 && bit_get(b->bits, dst / f->bstride)) {
                if (n == 0) {
                    *src = s;
                    *first = b->h;
                }
                n++;
            }
    return n;
}

/* One process: nobody else to tell (the debug backend's abort ends it). */
static void mem_abort(sf_transport *t, int code, const char *reason) {
    (void)t, (void)code, (void)reason;
}

static void mem_destroy(sf_transport **tp) {
    free(*tp);
    *tp = NULL;
}

static const struct sf_transport_ops mem_ops = {
    .name = "mem",
    .send = mem_send,
    .send_many = mem_send_many,
    .recv = mem_recv,
    .finish = mem_finish,
    .abort = mem_abort,
    .destroy = mem_destroy,
};

int sf__mem_transport_create(sf_transport **out, sf_mem_fabric *f, int self, int nparties,
                             int stride, const sf_transport_hooks *hooks) {
    mem_transport *t = calloc(1, sizeof *t);
    if (!t) return SF_ENOMEM;
    t->base.ops = &mem_ops;
    t->base.hooks = *hooks;
    t->base.self = self;
    t->base.nparties = nparties;
    t->f = f;
    t->stride = stride;
    *out = &t->base;
    return SF_OK;
}
