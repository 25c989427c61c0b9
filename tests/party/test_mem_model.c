/*
 * Debug mode's fabric (mpi/debug/transport_mem.c) against a model, on random runs.
 *
 * Each run draws a fabric (2-13 parties of 1-3 ranks, or 60-129 parties of 1-2 ranks, so
 * that record bitmaps span two words) and 1,500 random steps: point-to-point sends
 * between any ranks, sends to many from party leaders to a random set of parties,
 * receives that find a message, receives that block (each on a coroutine of its own,
 * resumed in random order once woken), and sources that finish. The model keeps, per
 * (source, receiver), the ids still to come in send order. Checked:
 *  - every receive gets the model's next id from that source, with the value sent;
 *  - a receive from a finished source with nothing left gets SF_EPEER;
 *  - only blocked ranks are woken, never twice, and every woken rank's receive completes;
 *  - sf__mem_pending equals the model's count for every rank (every 50 steps);
 *  - after the run (half the runs drain every message first, half destroy the fabric
 *    with records and messages left) every value is back to the test's one reference.
 *
 *   test_mem_model [RUNS_SMALL [RUNS_LARGE]]    (default 300 and 20)
 * Exits 1 with the first failures and the seed that found them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"
#include "mpi/debug/mem.h"
#include "runtime/coro.h"
#include "tests/check.h"

#define MAXN 140
#define STACK (64u << 10)
#define STEPS 1500

typedef struct idq { /* ids still to come from one source to one receiver */
    uint64_t *a;
    size_t h, t, cap;
} idq;

static struct {
    int np, k, n;
    unsigned rng;
    sf_mem_fabric *f;
    idq *q;               /* n x n, [src * n + dst] */
    sf_value **vals;      /* by id */
    uint64_t nid, capid;
    int finished[MAXN], blocked[MAXN], woken[MAXN];
    sf_coro *main, *co[MAXN]; /* a rank blocked in a receive runs on co[r] */
    int co_src[MAXN], co_rc[MAXN], co_done[MAXN];
    sf_msg_hdr co_h[MAXN];
    sf_value *co_v[MAXN];
} M;

static int rnd(int n) { return (int)(rand_r(&M.rng) % (unsigned)n); }

static idq *qof(int src, int dst) { return &M.q[(size_t)src * (size_t)M.n + (size_t)dst]; }

static void expect(int src, int dst, uint64_t id) {
    idq *q = qof(src, dst);
    if (q->t == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        uint64_t *a = realloc(q->a, sizeof *a * cap);
        if (!a) TEST_FAIL_FATAL("out of memory");
        q->a = a;
        q->cap = cap;
    }
    q->a[q->t++] = id;
}

static size_t left(int src, int dst) { return qof(src, dst)->t - qof(src, dst)->h; }

static uint64_t new_value(void) {
    if (M.nid + 1 >= M.capid) {
        uint64_t cap = M.capid ? M.capid * 2 : 4096;
        sf_value **v = realloc(M.vals, sizeof *v * cap);
        if (!v) TEST_FAIL_FATAL("out of memory");
        M.vals = v;
        M.capid = cap;
    }
    uint64_t id = ++M.nid;
    M.vals[id] = sf_value_i64((int64_t)id);
    return id;
}

static void check_recv(int self, int src, int rc, const sf_msg_hdr *h, sf_value *v) {
    idq *q = qof(src, self);
    if (q->h == q->t) {
        ASSERT_STATUS_MSG(rc, SF_EPEER, "rank %d from %d: nothing to come", self, src);
        ASSERT_MSG(M.finished[src], "rank %d got SF_EPEER from %d, which has not finished", self, src);
        return;
    }
    uint64_t want = q->a[q->h++];
    if (!ASSERT_OK_MSG(rc, "rank %d from %d, want id %llu", self, src, (unsigned long long)want)) return;
    ASSERT_EQ_MSG(h->obj_id, want, "rank %d from %d", self, src);
    ASSERT_MSG(v == M.vals[want], "rank %d from %d: not the value sent with id %llu", self, src,
               (unsigned long long)want);
    sf_value_unref(&v);
}

static void sch_block(void *arg, int self, int src) {
    (void)arg;
    M.blocked[self] = src;
    sf__coro_switch(M.co[self], M.main);
}

static void sch_wake(void *arg, int r) {
    (void)arg;
    ASSERT_MSG(M.blocked[r] >= 0, "rank %d woken but not blocked", r);
    ASSERT_MSG(!M.woken[r], "rank %d woken twice", r);
    M.woken[r] = 1;
}

static void co_main(void *arg) {
    int r = (int)(intptr_t)arg;
    M.co_rc[r] = sf__mem_recv(M.f, r, M.co_src[r], &M.co_h[r], &M.co_v[r]);
    M.co_done[r] = 1;
}

/* Switch into rank r's coroutine (new or woken); check its receive once it completes. */
static void enter(int r) {
    M.woken[r] = 0;
    M.blocked[r] = -1;
    sf__coro_switch(M.main, M.co[r]);
    if (sf__coro_finished(M.co[r])) {
        if (ASSERT(M.co_done[r])) check_recv(r, M.co_src[r], M.co_rc[r], &M.co_h[r], M.co_v[r]);
        sf__coro_destroy(&M.co[r]);
        M.co_done[r] = 0;
    }
}

static void block_recv(int r, int src) {
    M.co_src[r] = src;
    char name[32];
    snprintf(name, sizeof name, "rank%d", r);
    if (!ASSERT_OK(sf__coro_create(&M.co[r], co_main, (void *)(intptr_t)r, STACK, name, M.main)))
        TEST_FAIL_FATAL("cannot create a coroutine");
    enter(r);
}

static void run(unsigned seed, int large) {
    memset(&M.finished, 0, sizeof M.finished);
    memset(&M.woken, 0, sizeof M.woken);
    M.rng = seed * 2654435761u + 1;
    M.np = large ? 60 + rnd(70) : 2 + rnd(12);
    M.k = large ? 1 + (rnd(4) == 0) : 1 + rnd(3);
    if (M.np * M.k > MAXN) M.np = MAXN / M.k;
    M.n = M.np * M.k;
    M.nid = 0;
    M.main = sf__coro_thread();
    for (int r = 0; r < M.n; r++) M.blocked[r] = -1;
    M.q = calloc((size_t)M.n * (size_t)M.n, sizeof *M.q);
    sf_mem_sched ms = {NULL, sch_block, sch_wake};
    if (!M.q || !ASSERT_OK(sf__mem_fabric_create(&M.f, M.n, &ms))) TEST_FAIL_FATAL("setup");
    for (int s = 0; s < STEPS && !test_failures(); s++) {
        for (int r = 0; r < M.n; r++)
            if (M.woken[r] && rnd(2)) enter(r);
        int op = rnd(100), a = rnd(M.n);
        if (M.co[a]) continue; /* blocked: it does nothing else */
        if (op < 25) {         /* point to point, any two ranks */
            int d = rnd(M.n);
            if (M.finished[a] || d == a) continue;
            uint64_t id = new_value();
            sf_msg_hdr h = {.kind = SF_MSG_DATA, .obj_id = id};
            expect(a, d, id);
            ASSERT_OK(sf__mem_send(M.f, a, d, &h, M.vals[id]));
        } else if (op < 45) { /* to many: from a leader, to parties other than its own */
            if (M.finished[a] || a % M.k) continue;
            int dsts[MAXN], n = 0, dens = rnd(4);
            for (int p = 0; p < M.np; p++)
                if (p != a / M.k && rnd(4) <= dens) dsts[n++] = p;
            for (int i = n - 1; i > 0; i--) { /* any order */
                int j = rnd(i + 1), t = dsts[i];
                dsts[i] = dsts[j];
                dsts[j] = t;
            }
            if (!n) continue;
            uint64_t id = new_value();
            sf_msg_hdr h = {.kind = SF_MSG_DATA, .obj_id = id};
            for (int i = 0; i < n; i++) expect(a, dsts[i] * M.k, id);
            ASSERT_OK(sf__mem_send_many(M.f, a, dsts, n, M.k, &h, M.vals[id]));
        } else if (op < 95) { /* receive */
            int src = rnd(M.n);
            if (src == a) continue;
            if (left(src, a) || M.finished[src]) {
                sf_msg_hdr h;
                sf_value *v = NULL;
                int rc = sf__mem_recv(M.f, a, src, &h, &v);
                check_recv(a, src, rc, &h, v);
            } else if (rnd(4) == 0) {
                block_recv(a, src);
            }
        } else if (op < 97 && !M.finished[a] && rnd(100) == 0) {
            M.finished[a] = 1;
            sf__mem_set_finished(M.f, a);
        }
        if (s % 50 == 0)
            for (int r = 0; r < M.n; r++) {
                int want = 0, src;
                for (int x = 0; x < M.n; x++) want += (int)left(x, r);
                sf_msg_hdr first;
                ASSERT_EQ_MSG(sf__mem_pending(M.f, r, &src, &first), want, "rank %d", r);
            }
    }
    /* every source finishes: every blocked receive completes */
    for (int r = 0; r < M.n; r++)
        if (!M.finished[r]) {
            M.finished[r] = 1;
            sf__mem_set_finished(M.f, r);
        }
    for (int r = 0; r < M.n; r++)
        if (M.woken[r]) enter(r);
    for (int r = 0; r < M.n; r++)
        if (!ASSERT_NULL_MSG(M.co[r], "rank %d still blocked after every source finished", r))
            TEST_FAIL_FATAL("seed %u", seed);
    if (seed % 2) /* drain; else the fabric is destroyed with what is left */
        for (int d = 0; d < M.n; d++)
            for (int s = 0; s < M.n; s++)
                while (left(s, d)) {
                    sf_msg_hdr h;
                    sf_value *v = NULL;
                    int rc = sf__mem_recv(M.f, d, s, &h, &v);
                    check_recv(d, s, rc, &h, v);
                }
    sf__mem_fabric_destroy(&M.f);
    for (uint64_t id = 1; id <= M.nid; id++) {
        ASSERT_EQ_MSG(M.vals[id]->refcnt, 1, "value %llu", (unsigned long long)id);
        sf_value_unref(&M.vals[id]);
    }
    for (size_t i = 0; i < (size_t)M.n * (size_t)M.n; i++) free(M.q[i].a);
    free(M.q);
    M.q = NULL;
    if (test_failures()) TEST_FAIL_FATAL("%s run with seed %u failed", large ? "large" : "small", seed);
}

int main(int argc, char **argv) {
    int small = argc > 1 ? atoi(argv[1]) : 300, large = argc > 2 ? atoi(argv[2]) : 20;
    for (int i = 0; i < small; i++) run((unsigned)i, 0);
    for (int i = 0; i < large; i++) run((unsigned)i + 100000u, 1);
    free(M.vals);
    TEST_DONE();
}
