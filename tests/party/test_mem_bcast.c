/*
 * Debug mode's message to many ranks (sf__mem_send_many, mpi/debug/transport_mem.c): one
 * shared record on the source's list instead of a message per receiver. No coroutines:
 * the scheduler hooks here record wakes, and a receive that would block runs the next
 * scripted send of another rank instead (as the scheduler would run that rank).
 *
 *  - per-pair order across point-to-point messages and shared records, at every
 *    receiver, with strides 1 and 3 (party leaders are fabric ranks p * stride);
 *  - a single destination goes as a point-to-point message;
 *  - a send to many wakes exactly the waiters it is for (a waiter for another source, or
 *    not among the destinations, stays asleep), in the order they blocked, and a waiter
 *    takes it at once;
 *  - receivers far apart (records taken by some, not all; the record a receiver took
 *    last freed and reused meanwhile) still take every message in send order;
 *  - value references: each receiver takes one, none is left once all have received
 *    (the value goes back to the sender's single reference);
 *  - a record not received by everyone is counted as pending for exactly those ranks,
 *    outlives its finished source, and the fabric's destruction drops its references;
 *  - records are recycled: 10,000 rounds keep the fabric's live count at zero.
 * Exits 1 with a message on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"
#include "mpi/debug/mem.h"
#include "tests/check.h"

static struct {
    int wakes[64];
    int nwakes;
    void (*script)(int self, int src); /* the ranks that run while `self` is blocked */
    int nblocks;
} S;

static void sch_block(void *arg, int self, int src) {
    (void)arg;
    S.nblocks++;
    if (!S.script) TEST_FAIL_FATAL("rank %d would block on %d with nothing scripted", self, src);
    S.script(self, src);
}

static void sch_wake(void *arg, int r) {
    (void)arg;
    if (S.nwakes < 64) S.wakes[S.nwakes++] = r;
}

static sf_mem_fabric *make(int n) {
    memset(&S, 0, sizeof S);
    sf_mem_sched ms = {NULL, sch_block, sch_wake};
    sf_mem_fabric *f = NULL;
    if (!ASSERT_OK(sf__mem_fabric_create(&f, n, &ms))) exit(1);
    return f;
}

static sf_msg_hdr hdr(uint64_t id) {
    sf_msg_hdr h = {.kind = SF_MSG_DATA, .obj_id = id, .call_seq = id};
    snprintf(h.file, sizeof h.file, "msg%llu", (unsigned long long)id);
    return h;
}

/* Receive from src at fabric rank self; the object id must be `want`; returns the value
 * (an owned reference). */
static sf_value *take(sf_mem_fabric *f, int self, int src, uint64_t want) {
    sf_msg_hdr h;
    sf_value *v = NULL;
    if (!ASSERT_OK(sf__mem_recv(f, self, src, &h, &v))) return NULL;
    ASSERT_EQ_MSG(h.obj_id, want, "rank %d from %d", self, src);
    char file[32];
    snprintf(file, sizeof file, "msg%llu", (unsigned long long)want);
    ASSERT_STR_EQ(h.file, file);
    return v;
}

/* Rank `self` takes ids from, from + 1, ..., to - 1 from src, in that order. */
static void take_ids(sf_mem_fabric *f, int self, int src, uint64_t from, uint64_t to) {
    for (uint64_t id = from; id < to; id++) {
        sf_value *g = take(f, self, src, id);
        sf_value_unref(&g);
    }
}

static void order_case(int stride) {
    test_context("order, stride %d", stride);
    int np = 5;
    sf_mem_fabric *f = make(np * stride);
    sf_value *v = sf_value_i64(7);
    int src = 0, d123[] = {1, 2, 3}, d2[] = {2}, d13[] = {1, 3};
    int fs = src * stride;
    sf_msg_hdr h;
    h = hdr(1), ASSERT_OK(sf__mem_send(f, fs, 1 * stride, &h, v));
    h = hdr(2), ASSERT_OK(sf__mem_send_many(f, fs, d123, 3, stride, &h, v));
    h = hdr(3), ASSERT_OK(sf__mem_send(f, fs, 1 * stride, &h, v));
    h = hdr(4), ASSERT_OK(sf__mem_send_many(f, fs, d2, 1, stride, &h, v)); /* one: p2p */
    h = hdr(5), ASSERT_OK(sf__mem_send_many(f, fs, d13, 2, stride, &h, v));
    h = hdr(6), ASSERT_OK(sf__mem_send(f, fs, 3 * stride, &h, v));
    /* party 4 was never a destination; a message from another source is in 1's FIFO */
    h = hdr(9), ASSERT_OK(sf__mem_send(f, 4 * stride, 1 * stride, &h, v));
    ASSERT_EQ(v->refcnt, 1 + 1 + 3 + 1 + 1 + 2 + 1 + 1);
    ASSERT_EQ(S.nwakes, 0);
    int psrc = -1;
    sf_msg_hdr first;
    ASSERT_EQ(sf__mem_pending(f, 1 * stride, &psrc, &first), 5);
    ASSERT_EQ(sf__mem_pending(f, 2 * stride, &psrc, &first), 2);
    ASSERT_EQ(sf__mem_pending(f, 3 * stride, &psrc, &first), 3);
    ASSERT_EQ(sf__mem_pending(f, 4 * stride, &psrc, &first), 0);
    sf_value *got[16];
    int ng = 0;
    got[ng++] = take(f, 3 * stride, src, 2);
    got[ng++] = take(f, 1 * stride, 4 * stride, 9); /* another source first: per pair */
    got[ng++] = take(f, 1 * stride, src, 1);
    got[ng++] = take(f, 1 * stride, src, 2);
    got[ng++] = take(f, 2 * stride, src, 2); /* the last taker frees the record */
    got[ng++] = take(f, 1 * stride, src, 3);
    got[ng++] = take(f, 2 * stride, src, 4);
    got[ng++] = take(f, 3 * stride, src, 5);
    got[ng++] = take(f, 1 * stride, src, 5);
    got[ng++] = take(f, 3 * stride, src, 6);
    for (int i = 0; i < ng; i++) {
        ASSERT(got[i] == v);
        sf_value_unref(&got[i]);
    }
    ASSERT_EQ(v->refcnt, 1);
    for (int r = 0; r < np * stride; r++) ASSERT_EQ_MSG(sf__mem_pending(f, r, &psrc, &first), 0, "rank %d", r);
    sf__mem_fabric_destroy(&f);
    sf_value_unref(&v);
}

/* ---- wakes. 5 parties, stride 2. Fabric rank 2 (party 1) blocks on 0; while it waits,
 * 4 (party 2) blocks on 8 (party 4), and while that waits 8 blocks on 0. Then 0 sends to
 * parties {1, 2, 3}: only 2 may wake (8 waits on 0 but is no destination, 4 waits on
 * another source, 6 is a destination that does not wait). */
static sf_mem_fabric *g_f;
static sf_value *g_v;

static void wake_script(int self, int src) {
    sf_msg_hdr h;
    if (self == 2 && src == 0) {
        sf_value *x = take(g_f, 4, 8, 31);
        sf_value_unref(&x);
    } else if (self == 4 && src == 8) {
        sf_value *x = take(g_f, 8, 0, 32);
        sf_value_unref(&x);
        h = hdr(31), ASSERT_OK(sf__mem_send(g_f, 8, 4, &h, g_v));
    } else if (self == 8 && src == 0) {
        int d[] = {1, 2, 3};
        h = hdr(11), ASSERT_OK(sf__mem_send_many(g_f, 0, d, 3, 2, &h, g_v));
        if (ASSERT_EQ(S.nwakes, 1)) ASSERT_EQ(S.wakes[0], 2);
        h = hdr(32), ASSERT_OK(sf__mem_send(g_f, 0, 8, &h, g_v));
        if (ASSERT_EQ(S.nwakes, 2)) ASSERT_EQ(S.wakes[1], 8);
    } else {
        TEST_FAIL("unexpected block: rank %d on %d", self, src);
    }
}

static void wake_case(void) {
    test_context("wakes");
    g_f = make(10);
    g_v = sf_value_i64(1);
    S.script = wake_script;
    sf_value *v = take(g_f, 2, 0, 11);
    sf_value_unref(&v);
    ASSERT_EQ(S.nblocks, 3);
    if (ASSERT_EQ(S.nwakes, 3)) ASSERT_EQ(S.wakes[2], 4);
    S.script = NULL; /* the other destinations take it without blocking */
    v = take(g_f, 6, 0, 11);
    sf_value_unref(&v);
    v = take(g_f, 4, 0, 11);
    sf_value_unref(&v);
    ASSERT_EQ(g_v->refcnt, 1);
    sf__mem_fabric_destroy(&g_f);
    sf_value_unref(&g_v);
}

/* ---- wake order: ranks 3, 1 and 2 block on 0 in that order (each while the one before
 * waits); a send to all three wakes them in the order they blocked. */
static void order_script(int self, int src) {
    sf_msg_hdr h;
    ASSERT_EQ(src, 0);
    if (self == 3) {
        sf_value *x = take(g_f, 1, 0, 41);
        sf_value_unref(&x);
    } else if (self == 1) {
        sf_value *x = take(g_f, 2, 0, 41);
        sf_value_unref(&x);
    } else if (self == 2) {
        int d[] = {1, 2, 3};
        h = hdr(41), ASSERT_OK(sf__mem_send_many(g_f, 0, d, 3, 1, &h, g_v));
        if (ASSERT_EQ(S.nwakes, 3)) {
            ASSERT_EQ(S.wakes[0], 3);
            ASSERT_EQ(S.wakes[1], 1);
            ASSERT_EQ(S.wakes[2], 2);
        }
    } else {
        TEST_FAIL("unexpected block: rank %d on %d", self, src);
    }
}

static void wake_order_case(void) {
    test_context("wake order");
    g_f = make(4);
    g_v = sf_value_i64(5);
    S.script = order_script;
    sf_value *v = take(g_f, 3, 0, 41);
    sf_value_unref(&v);
    ASSERT_EQ(S.nblocks, 3);
    ASSERT_EQ(g_v->refcnt, 1);
    sf__mem_fabric_destroy(&g_f);
    sf_value_unref(&g_v);
}

/* ---- receivers far apart: 50 records from 0 to {1, 2, 3} with point-to-point messages
 * to 1 between them; 1 takes 25, 2 takes all, 3 takes 30 (which frees the first 25 and
 * with them the record 1 took last); 10 more records reuse the freed ones; then every
 * receiver takes the rest, each in its own send order. */
static void apart_case(void) {
    test_context("far apart");
    sf_mem_fabric *f = make(4);
    sf_value *v = sf_value_i64(6);
    int d[] = {1, 2, 3};
    uint64_t want1[80];
    int n1 = 0;
    sf_msg_hdr h;
    for (uint64_t i = 0; i < 50; i++) {
        h = hdr(100 + i), ASSERT_OK(sf__mem_send_many(f, 0, d, 3, 1, &h, v));
        want1[n1++] = 100 + i;
        if (i % 7 == 3) {
            h = hdr(500 + i), ASSERT_OK(sf__mem_send(f, 0, 1, &h, v));
            want1[n1++] = 500 + i;
        }
    }
    int k1 = 0;
    for (; k1 < n1 && (want1[k1] >= 500 || want1[k1] < 125); k1++) {
        sf_value *g = take(f, 1, 0, want1[k1]);
        sf_value_unref(&g);
    }
    take_ids(f, 2, 0, 100, 150);
    take_ids(f, 3, 0, 100, 130);
    for (uint64_t i = 50; i < 60; i++) {
        h = hdr(100 + i), ASSERT_OK(sf__mem_send_many(f, 0, d, 3, 1, &h, v));
        want1[n1++] = 100 + i;
    }
    for (; k1 < n1; k1++) {
        sf_value *g = take(f, 1, 0, want1[k1]);
        sf_value_unref(&g);
    }
    take_ids(f, 2, 0, 150, 160);
    take_ids(f, 3, 0, 130, 160);
    int psrc;
    sf_msg_hdr first;
    for (int r = 0; r < 4; r++) ASSERT_EQ_MSG(sf__mem_pending(f, r, &psrc, &first), 0, "rank %d", r);
    ASSERT_EQ(v->refcnt, 1);
    sf__mem_fabric_destroy(&f);
    sf_value_unref(&v);
}

static void leftover_case(void) {
    test_context("leftovers");
    sf_mem_fabric *f = make(4);
    sf_value *v = sf_value_i64(3);
    int d[] = {1, 2, 3};
    sf_msg_hdr h = hdr(21);
    ASSERT_OK(sf__mem_send_many(f, 0, d, 3, 1, &h, v));
    sf__mem_set_finished(f, 0);
    sf_value *got = take(f, 2, 0, 21); /* outlives its finished source */
    sf_value_unref(&got);
    int psrc = -1;
    sf_msg_hdr first;
    ASSERT_EQ(sf__mem_pending(f, 1, &psrc, &first), 1);
    ASSERT_EQ(psrc, 0);
    ASSERT_EQ(first.obj_id, 21);
    ASSERT_EQ(sf__mem_pending(f, 2, &psrc, &first), 0);
    ASSERT_EQ(sf__mem_pending(f, 3, &psrc, &first), 1);
    /* taken: then the source is finished and has nothing more */
    got = take(f, 3, 0, 21);
    sf_value_unref(&got);
    sf_value *none = NULL;
    ASSERT_STATUS(sf__mem_recv(f, 3, 0, &h, &none), SF_EPEER);
    ASSERT_EQ(v->refcnt, 2); /* the sender's and rank 1's, never taken */
    sf__mem_fabric_destroy(&f);
    ASSERT_EQ(v->refcnt, 1);
    sf_value_unref(&v);
}

static void recycle_case(void) {
    test_context("recycle");
    int np = 70; /* two words of bits */
    sf_mem_fabric *f = make(np);
    sf_value *v = sf_value_i64(4);
    int d[70];
    for (int round = 0; round < 10000; round++) {
        int src = round % np, n = 0;
        for (int p = 0; p < np; p++)
            if (p != src && (p + round) % 3) d[n++] = p;
        sf_msg_hdr h = hdr((uint64_t)round + 1);
        ASSERT_OK(sf__mem_send_many(f, src, d, n, 1, &h, v));
        for (int i = 0; i < n; i++) {
            sf_value *g = take(f, d[i], src, (uint64_t)round + 1);
            sf_value_unref(&g);
        }
        if (test_failures()) break;
    }
    ASSERT_EQ(v->refcnt, 1);
    int psrc;
    sf_msg_hdr first;
    for (int r = 0; r < np; r++) ASSERT_EQ(sf__mem_pending(f, r, &psrc, &first), 0);
    sf__mem_fabric_destroy(&f);
    sf_value_unref(&v);
}

int main(void) {
    order_case(1);
    order_case(3);
    wake_case();
    wake_order_case();
    apart_case();
    leftover_case();
    recycle_case();
    TEST_DONE();
}
