/*
 * Debug-mode transport: every rank is a coroutine of one thread, so a message is a
 * pointer hand-off (the value is shared by reference: zero copy; values are immutable).
 *
 * One incoming FIFO per rank holds messages from all sources in arrival order; recv(src)
 * takes the first one from src, which keeps per-pair order. A receiver with nothing to
 * take blocks through the scheduler's hook and sits on its source's waiter list (a
 * doubly linked list through the endpoints), so a send wakes exactly the rank waiting
 * for it, and a finishing rank wakes everyone waiting on it (they then get SF_EPEER).
 * Message nodes are recycled through a free list.
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
    sf_msg_hdr h;
    sf_value *v;
} mem_msg;

typedef struct mem_ep {
    mem_msg *head, *tail;
    int blocked_on;      /* source this rank waits for, or -1 */
    int wprev, wnext;    /* links in waiters[blocked_on] */
    int finished;
} mem_ep;

struct sf_mem_fabric {
    int n;
    mem_ep *eps;
    int *waiters; /* per source: first waiting rank, or -1 */
    sf_mem_sched sched;
    mem_msg *free_msgs;
};

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
    if (!f->eps || !f->waiters) {
        free(f->eps);
        free(f->waiters);
        free(f);
        return SF_ENOMEM;
    }
    f->n = n;
    f->sched = *sched;
    for (int i = 0; i < n; i++) {
        f->eps[i].blocked_on = -1;
        f->waiters[i] = -1;
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
    while (f->free_msgs) {
        mem_msg *nx = f->free_msgs->next;
        free(f->free_msgs);
        f->free_msgs = nx;
    }
    free(f->eps);
    free(f->waiters);
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
    e->blocked_on = -1;
}

int sf__mem_send(sf_mem_fabric *f, int self, int dst, const sf_msg_hdr *h, sf_value *v) {
    mem_msg *m = f->free_msgs;
    if (m) f->free_msgs = m->next;
    else if (!(m = malloc(sizeof *m))) return SF_ENOMEM;
    m->next = NULL;
    m->src = self;
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

int sf__mem_recv(sf_mem_fabric *f, int self, int src, sf_msg_hdr *h, sf_value **v) {
    mem_ep *me = &f->eps[self];
    for (;;) {
        mem_msg *prev = NULL, *m = me->head;
        while (m && m->src != src) prev = m, m = m->next;
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
        me->blocked_on = src;
        me->wprev = -1;
        me->wnext = f->waiters[src];
        if (me->wnext >= 0) f->eps[me->wnext].wprev = self;
        f->waiters[src] = self;
        f->sched.block(f->sched.arg, self, src);
    }
}

/* The cross-party transport of a party leader: party p is fabric rank p * stride. */
static int mem_send(sf_transport *t, int dst, const sf_msg_hdr *h, sf_value *v) {
    mem_transport *m = (mem_transport *)t;
    return sf__mem_send(m->f, t->self * m->stride, dst * m->stride, h, v);
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
