/*
 * The production bridge in one process: three parties' transports (mpi/prod/bridge.c),
 * each driven by its own "program" thread, over loopback TCP with real keys and
 * handshakes. Built and run under ThreadSanitizer by scripts/test (the bridge thread and
 * the program thread share queues, notices and flags): every access to shared state must
 * be ordered.
 *
 * Each party: connects to the others; sends every other party ROUNDS messages of varied
 * sizes (empty, small, several frames) and receives theirs, checking order and content;
 * then alice waits for a message from bob that bob sends only after a pause, so alice's
 * wait notice reaches bob (bob's hook must see it, with alice's call number); then the bye
 * exchange and the orderly close; then destroy.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/prod/bridge.h"
#include "core/value.h"
#include "tests/check.h"

#define NP 3
#define ROUNDS 40

static sf_cluster g_cluster;
static sf_party_key *g_keys[NP];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_notices[NP];          /* notices seen by each party's hook */
static sf_wait_notice g_last[NP];

static void on_notice(void *arg, int src, const sf_wait_notice *n) {
    int self = (int)(intptr_t)arg;
    pthread_mutex_lock(&g_mu);
    g_notices[self]++;
    g_last[self] = *n;
    (void)src;
    pthread_mutex_unlock(&g_mu);
}

static void on_bye_mismatch(void *arg, int src, const sf_msg_hdr *got) {
    (void)arg, (void)src, (void)got;
    TEST_FAIL("bye mismatch");
}

static sf_value *payload(int from, int to, int round) {
    int64_t n = (int64_t)((round * 7919 + from * 31 + to) % 5) == 0 ? 0
                : (round % 7 == 3 ? (int64_t)300000 + round : (int64_t)(round * 13 % 200));
    sf_value *v = sf_value_new(SF_U8, 1, &n);
    uint8_t *p = sf_value_data(v);
    for (int64_t i = 0; i < n; i++) p[i] = (uint8_t)(from * 101 + to * 17 + round + i);
    return v;
}

static int check_payload(const sf_value *v, int from, int to, int round) {
    sf_value *w = payload(from, to, round);
    int ok = v && sf_value_nbytes(v) == sf_value_nbytes(w) &&
             !memcmp(sf_value_cdata(v), sf_value_cdata(w), sf_value_nbytes(w));
    sf_value_unref(&w);
    return ok;
}

static void hdr(sf_msg_hdr *h, uint32_t kind, uint64_t id, uint64_t call) {
    memset(h, 0, sizeof *h);
    h->kind = kind;
    h->obj_id = id;
    h->call_seq = call;
    h->trace = call * 1000003u;
    snprintf(h->file, sizeof h->file, "test_bridge.c");
}

static void *party(void *arg) {
    int self = (int)(intptr_t)arg;
    test_context("party %d", self);
    sf_transport *t = NULL;
    char err[512] = "";
    sf_transport_hooks hooks = {.arg = arg, .on_notice = on_notice, .on_bye_mismatch = on_bye_mismatch};
    sf_bridge_options bo = {.quiet = 1, .wait_timeout = 0.2};
    int rc = sf__bridge_transport_create(&t, &g_cluster, self, g_keys[self], &bo, &hooks, err, sizeof err);
    if (!ASSERT_OK_MSG(rc, "%s", err)) return NULL;
    for (int r = 0; r < ROUNDS; r++) {
        for (int p = 0; p < NP; p++) {
            if (p == self) continue;
            sf_msg_hdr h;
            hdr(&h, SF_MSG_DATA, (uint64_t)r << 16, (uint64_t)r);
            sf_value *v = payload(self, p, r);
            ASSERT_OK_MSG(t->ops->send(t, p, &h, v), "send to party %d in round %d", p, r);
            sf_value_unref(&v);
        }
        for (int p = 0; p < NP; p++) {
            if (p == self) continue;
            sf_msg_hdr h;
            sf_value *v = NULL;
            if (ASSERT_OK_MSG(t->ops->recv(t, p, NULL, &h, &v), "recv from party %d in round %d", p, r) &&
                ASSERT_EQ(h.kind, SF_MSG_DATA) && ASSERT_EQ(h.call_seq, (uint64_t)r))
                ASSERT_MSG(check_payload(v, p, self, r), "payload from party %d in round %d", p, r);
            sf_value_unref(&v);
        }
    }
    /* a wait long enough for notices: alice waits on bob, who sends after a pause */
    if (self == 0) {
        sf_wait_notice w = {.call_seq = 777, .trace = 4242, .obj_id = 9, .line = 12};
        snprintf(w.file, sizeof w.file, "alice.c");
        sf_msg_hdr h;
        sf_value *v = NULL;
        if (ASSERT_OK(t->ops->recv(t, 1, &w, &h, &v))) ASSERT_EQ(h.call_seq, 778);
        sf_value_unref(&v);
    } else if (self == 1) {
        /* receive from carol, who sends late: bob waits, and sees alice's notice meanwhile */
        sf_msg_hdr h;
        sf_value *v = NULL;
        ASSERT_OK(t->ops->recv(t, 2, NULL, &h, &v));
        sf_value_unref(&v);
        hdr(&h, SF_MSG_STATUS, 1, 778);
        ASSERT_OK(t->ops->send(t, 0, &h, NULL));
    } else {
        usleep(800 * 1000);
        sf_msg_hdr h;
        hdr(&h, SF_MSG_STATUS, 2, 779);
        ASSERT_OK(t->ops->send(t, 1, &h, NULL));
    }
    sf_msg_hdr bye;
    hdr(&bye, SF_MSG_BYE, 0, 1000);
    ASSERT_OK(t->ops->finish(t, &bye));
    t->ops->destroy(&t);
    sf__value_thread_cleanup();
    return NULL;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0 || argc < 4) {
        fprintf(stderr, "usage: test_bridge PORT_ALICE PORT_BOB PORT_CAROL\n");
        return 2;
    }
    const char *names[NP] = {"alice", "bob", "carol"};
    char json[4096];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"version\": 1, \"job_id\": \"test-bridge\", \"parties\": [");
    for (int i = 0; i < NP; i++) {
        g_keys[i] = sodium_malloc(sizeof *g_keys[i]);
        memset(g_keys[i], 0, sizeof *g_keys[i]);
        snprintf(g_keys[i]->party, sizeof g_keys[i]->party, "%s", names[i]);
        randombytes_buf(g_keys[i]->secret_key, 32);
        crypto_scalarmult_base(g_keys[i]->public_key, g_keys[i]->secret_key);
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, g_keys[i]->public_key, 32);
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"name\": \"%s\", \"address\": \"127.0.0.1:%s\", \"public_key\": \"%s\"}",
                              i ? ", " : "", names[i], argv[1 + i], hex);
    }
    n += (size_t)snprintf(json + n, sizeof json - n,
                          "], \"channel\": {\"window\": 16, \"max_frame\": 65536, \"connect_timeout\": 20}}");
    char err[512];
    if (sf__cluster_parse(&g_cluster, json, n, "test-cluster.json", err, sizeof err)) {
        fprintf(stderr, "cluster: %s\n", err);
        return 1;
    }
    pthread_t th[NP];
    for (int i = 0; i < NP; i++) pthread_create(&th[i], NULL, party, (void *)(intptr_t)i);
    for (int i = 0; i < NP; i++) pthread_join(th[i], NULL);
    /* bob saw alice's notice (resent every 0.2 s while she waited) */
    ASSERT_GE(g_notices[1], 1);
    ASSERT_EQ(g_last[1].call_seq, 777);
    ASSERT_EQ(g_last[1].trace, 4242);
    ASSERT_EQ(g_last[1].obj_id, 9);
    ASSERT_STR_EQ(g_last[1].file, "alice.c");
    sf__cluster_free(&g_cluster);
    for (int i = 0; i < NP; i++) sodium_free(g_keys[i]);
    if (!test_failures()) printf("test_bridge: %d rounds between %d parties, notices seen: %d\n", ROUNDS, NP,
                                g_notices[1]);
    TEST_DONE();
}
