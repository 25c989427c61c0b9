/*
 * In-memory sf_spu_net for tests and benchmarks (see spu_harness.h).
 */
#include "tests/spu/spu_harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfmpi/sf.h"

#define MAXP 16
#define POOL_KEEP 4
#define RECV_TIMEOUT_S 120

typedef struct msg {
    struct msg *next;
    size_t len, cap;
    uint64_t clock;
    int lent;     /* zero-copy hooks: 1 = a received message lent in place, 2 = a lent send buffer */
    int sent;     /* a send buffer: sent at least once (then it must not change) */
    uint64_t sum; /* its checksum at the first send */
    unsigned char data[];
} msg;

typedef struct chan { /* from -> to */
    msg *head, *tail;
    msg *pool; /* free buffers */
    int npool;
} chan;

typedef struct party {
    spuh *w;
    int id;
    sf_spu_net net;
    pthread_mutex_t mu; /* guards the incoming channels */
    pthread_cond_t cv;
    pthread_t th;
    int rc;
    int holds;     /* zero-copy buffers lent and not yet released */
    int zc_errors; /* a lent send buffer written after its first send */
} party;

struct spuh {
    int np, nm;
    party p[MAXP];
    chan ch[MAXP][MAXP]; /* ch[to][from] */
    pthread_barrier_t bar;
    uint64_t clocks[MAXP];
    int (*fn)(spuh *, int, void *);
    void *arg;
};

static int h_send(void *ctx, int to, const void *buf, size_t len)
{
    party *me = ctx;
    spuh *w = me->w;
    if (to < 0 || to >= w->np || to == me->id) return SF_EINVAL;
    party *dst = &w->p[to];
    chan *c = &w->ch[to][me->id];
    msg *m = NULL;
    pthread_mutex_lock(&dst->mu);
    for (msg **pp = &c->pool; *pp; pp = &(*pp)->next)
        if ((*pp)->cap >= len) {
            m = *pp;
            *pp = m->next;
            c->npool--;
            break;
        }
    pthread_mutex_unlock(&dst->mu);
    if (!m) {
        m = malloc(sizeof *m + (len ? len : 1));
        if (!m) return SF_ENOMEM;
        m->cap = len;
    }
    m->next = NULL;
    m->len = len;
    m->clock = me->net.rounds;
    if (len) memcpy(m->data, buf, len);
    pthread_mutex_lock(&dst->mu);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    pthread_cond_broadcast(&dst->cv);
    pthread_mutex_unlock(&dst->mu);
    me->net.bytes_sent += len;
    return SF_OK;
}

/* Take the next message from `from` (blocking, with a timeout). */
static int h_pop(party *me, int from, size_t len, msg **out)
{
    spuh *w = me->w;
    *out = NULL;
    if (from < 0 || from >= w->np || from == me->id) return SF_EINVAL;
    chan *c = &w->ch[me->id][from];
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += RECV_TIMEOUT_S;
    pthread_mutex_lock(&me->mu);
    while (!c->head) {
        if (pthread_cond_timedwait(&me->cv, &me->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&me->mu);
            fprintf(stderr, "spu harness: party %d timed out receiving %zu bytes from %d\n", me->id,
                    len, from);
            return SF_ETIMEOUT;
        }
    }
    msg *m = c->head;
    c->head = m->next;
    if (!c->head) c->tail = NULL;
    pthread_mutex_unlock(&me->mu);
    if (m->clock + 1 > me->net.rounds) me->net.rounds = m->clock + 1;
    *out = m;
    if (m->len != len) {
        fprintf(stderr, "spu harness: party %d expected %zu bytes from %d, message has %zu\n",
                me->id, len, from, m->len);
        return SF_EINVAL;
    }
    return SF_OK;
}

static int h_recv(void *ctx, int from, void *buf, size_t len)
{
    party *me = ctx;
    msg *m;
    int rc = h_pop(me, from, len, &m);
    if (!m) return rc;
    if (!rc && len) memcpy(buf, m->data, len);
    chan *c = &me->w->ch[me->id][from];
    pthread_mutex_lock(&me->mu);
    if (c->npool < POOL_KEEP) {
        m->next = c->pool;
        c->pool = m;
        c->npool++;
        m = NULL;
    }
    pthread_mutex_unlock(&me->mu);
    free(m);
    return rc;
}

/* ---- the optional zero-copy hooks (SF_SPU_TEST_ZC=1): lent buffers are checked */

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int h_recv_view(void *ctx, int from, size_t len, const void **data, void **hold)
{
    party *me = ctx;
    msg *m;
    int rc = h_pop(me, from, len, &m);
    if (rc) {
        free(m);
        return rc;
    }
    m->lent = 1;
    me->holds++;
    *data = m->data;
    *hold = m;
    return SF_OK;
}

static void *h_send_alloc(void *ctx, size_t len, void **hold)
{
    party *me = ctx;
    msg *m = calloc(1, sizeof *m + (len ? len : 1));
    if (!m) return NULL;
    m->len = m->cap = len;
    m->lent = 2;
    me->holds++;
    *hold = m;
    return m->data;
}

static int h_send_held(void *ctx, int to, void *hold, size_t len)
{
    party *me = ctx;
    msg *m = hold;
    if (m->lent != 2 || m->len != len) return SF_EINVAL;
    uint64_t sum = fnv(m->data, len);
    if (m->sent && sum != m->sum) {
        fprintf(stderr, "spu harness: party %d changed a lent buffer between its sends\n", me->id);
        me->zc_errors++;
    }
    m->sent = 1;
    m->sum = sum;
    return h_send(ctx, to, m->data, len); /* the receiver gets its own copy */
}

static void h_release(void *ctx, void *hold)
{
    party *me = ctx;
    msg *m = hold;
    if (m->lent == 2 && m->sent && fnv(m->data, m->len) != m->sum) {
        fprintf(stderr, "spu harness: party %d wrote a lent buffer after sending it\n", me->id);
        me->zc_errors++;
    }
    memset(m->data, 0xA5, m->len); /* a read after release sees garbage */
    me->holds--;
    free(m);
}

int spuh_zc_problems(spuh *w, int id)
{
    party *p = &w->p[id];
    if (p->holds)
        fprintf(stderr, "spu harness: party %d: %d lent buffers not released\n", id, p->holds);
    return p->holds + p->zc_errors;
}

spuh *spuh_new(int nparties, int nmembers)
{
    if (nparties < 1 || nparties > MAXP || nmembers > nparties) return NULL;
    spuh *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->np = nparties;
    w->nm = nmembers;
    pthread_barrier_init(&w->bar, NULL, (unsigned)nparties);
    for (int i = 0; i < nparties; i++) {
        party *p = &w->p[i];
        p->w = w;
        p->id = i;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->net.ctx = p;
        p->net.self = i;
        p->net.n = nmembers;
        p->net.send = h_send;
        p->net.recv = h_recv;
        const char *zc = getenv("SF_SPU_TEST_ZC");
        if (zc && !strcmp(zc, "1")) {
            p->net.recv_view = h_recv_view;
            p->net.release = h_release;
            p->net.send_alloc = h_send_alloc;
            p->net.send_held = h_send_held;
        }
    }
    return w;
}

void spuh_free(spuh *w)
{
    if (!w) return;
    for (int t = 0; t < w->np; t++)
        for (int f = 0; f < w->np; f++) {
            chan *c = &w->ch[t][f];
            for (msg *m = c->head, *n; m; m = n) n = m->next, free(m);
            for (msg *m = c->pool, *n; m; m = n) n = m->next, free(m);
        }
    for (int i = 0; i < w->np; i++) {
        pthread_mutex_destroy(&w->p[i].mu);
        pthread_cond_destroy(&w->p[i].cv);
    }
    pthread_barrier_destroy(&w->bar);
    free(w);
}

sf_spu_net *spuh_net(spuh *w, int party) { return &w->p[party].net; }

static void *thread_main(void *arg)
{
    party *p = arg;
    p->rc = p->w->fn(p->w, p->id, p->w->arg);
    return NULL;
}

int spuh_run(spuh *w, int (*fn)(spuh *, int, void *), void *arg)
{
    w->fn = fn;
    w->arg = arg;
    for (int i = 0; i < w->np; i++)
        if (pthread_create(&w->p[i].th, NULL, thread_main, &w->p[i])) return SF_ESYS;
    int rc = 0;
    for (int i = 0; i < w->np; i++) {
        pthread_join(w->p[i].th, NULL);
        if (!rc && w->p[i].rc) rc = w->p[i].rc;
    }
    return rc;
}

void spuh_barrier(spuh *w) { pthread_barrier_wait(&w->bar); }

uint64_t spuh_sync(spuh *w, int party)
{
    pthread_barrier_wait(&w->bar);
    w->clocks[party] = w->p[party].net.rounds;
    pthread_barrier_wait(&w->bar);
    uint64_t mx = 0;
    for (int i = 0; i < w->np; i++)
        if (w->clocks[i] > mx) mx = w->clocks[i];
    pthread_barrier_wait(&w->bar);
    w->p[party].net.rounds = mx;
    return mx;
}
