/*
 * Unit tests of the bridge's stream layer (mpi/prod/stream.c).
 *
 * The random part wires two streams back to back through a simulated link, one FIFO of
 * packets per direction (DATA frames carrying the sender's cumulative ack, bare ACKs and
 * the RESUME that opens a new connection). Per scenario the window, max_payload, the
 * message mix (0 bytes up to several frames, some multi-megabyte values, every kind), the
 * rate of connection breaks (every packet in flight lost, both sides rewind; the RESUME
 * carries the receiver's cumulative ack, which is what the sender learns), duplicated
 * frames (the same frame twice, an older unacknowledged frame again, or a long-acknowledged
 * sequence number with garbage bytes) and the ack delay are random. Checked: every message
 * is delivered exactly once, in order, byte-exact; frames come out numbered from 1 without
 * holes, a resend is byte-identical to the first sending and starts at the oldest
 * unacknowledged frame; the window never holds more than `window` frames; ready() and
 * drained() agree with a model and with next(); at the end both streams are drained and
 * every value is back to the test's own reference (also when a run is abandoned half way
 * and the streams are freed with frames queued, in the window and half reassembled).
 *
 * Then the edge cases: acks beyond next_seq, gaps, oversized and malformed headers,
 * window limits, ready/drained, rewind, deliver errors, bad init arguments.
 *
 * Usage: test_stream [seed [scenarios]] (defaults: a fixed seed, 300 scenarios).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/prod/stream.h"
#include "core/value.h"
#include "tests/check.h"

static uint64_t rng_s = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return rng_s;
}
static uint64_t rndn(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(uint64_t num, uint64_t den) { return den && rndn(den) < num; }

/* ---- the random back-to-back run */

typedef struct xmsg {
    sf_msg_hdr h;
    sf_value *v; /* the test's own reference */
    uint64_t total;
} xmsg;

enum { P_DATA, P_ACK, P_RESUME };
typedef struct pkt {
    struct pkt *next;
    int type;
    uint64_t seq, ack;
    uint32_t len;
    uint8_t *p;
} pkt;
typedef struct link {
    pkt *head, *tail;
    int n;
} link;

typedef struct side {
    sf_stream st;
    int window;
    uint32_t max_payload;
    struct side *peer;
    /* outgoing, and the model of it */
    xmsg *out;
    int nout, appended;
    uint64_t bytes_appended, bytes_cut;
    uint64_t acked;    /* highest ack given to st */
    uint64_t last_new; /* highest sequence number cut */
    uint64_t want;     /* the sequence number next() must give next on this connection */
    uint64_t conn_max; /* highest sequence number sent on this connection */
    int resumed;       /* the peer's RESUME arrived on this connection */
    uint8_t **copy;    /* ring: the bytes of each unacknowledged frame, by seq % window */
    uint32_t *copy_len;
    uint64_t *copy_seq;
    /* incoming */
    int delivered;
} side;

typedef struct scen {
    int piggy;         /* DATA frames' acks are applied */
    int gate;          /* DATA waits for the peer's RESUME (as the bridge does) */
    uint64_t brk_den;  /* a break with probability 1/brk_den per step (0: never) */
    uint64_t dup_den;  /* duplicate a frame with probability 1/dup_den */
    uint64_t ack_den;  /* a bare ACK with probability 1/ack_den when picked */
    int abandon;       /* stop at a random step and free everything */
} scen;

static side S[2];
static link L[2]; /* L[i]: from S[i] to S[1 - i] */
static uint8_t *frame_buf;
static uint64_t stat_frames, stat_resends, stat_dups, stat_breaks, stat_msgs, stat_bytes, stat_big;

static void push(link *l, int type, uint64_t seq, uint64_t ack, const uint8_t *p, uint32_t len, int front) {
    pkt *k = calloc(1, sizeof *k);
    k->type = type, k->seq = seq, k->ack = ack, k->len = len;
    if (len) {
        k->p = malloc(len);
        memcpy(k->p, p, len);
    }
    if (front) {
        k->next = l->head;
        l->head = k;
        if (!l->tail) l->tail = k;
    } else {
        if (l->tail) l->tail->next = k;
        else l->head = k;
        l->tail = k;
    }
    l->n++;
}
static pkt *pop(link *l) {
    pkt *k = l->head;
    if (!k) return NULL;
    l->head = k->next;
    if (!l->head) l->tail = NULL;
    l->n--;
    return k;
}
static void pkt_free(pkt *k) {
    free(k->p);
    free(k);
}
static void link_clear(link *l) {
    pkt *k;
    while ((k = pop(l))) pkt_free(k);
}

static void fill(void *p, size_t n) {
    uint8_t *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t r = rnd();
        memcpy(b + i, &r, 8);
    }
    for (; i < n; i++) b[i] = (uint8_t)rnd();
}

/* A value of about `bytes` bytes (rounded to the dtype), random dtype and shape. */
static sf_value *random_value(size_t bytes, int bytes_only) {
    sf_dtype dt = bytes_only ? SF_BYTES : (sf_dtype)rndn(SF_NDTYPES);
    size_t es = sf_dtype_size(dt);
    size_t elems = bytes / es;
    int64_t shape[SF_MAX_DIMS];
    int nd = (int)rndn(chance(1, 8) ? SF_MAX_DIMS + 1 : 4);
    if (nd == 0 && elems != 1) nd = 1;
    for (int i = 0; i < nd; i++) shape[i] = 1;
    if (nd) {
        shape[rndn((uint64_t)nd)] = (int64_t)elems;
        if (elems > 1 && nd > 1 && elems % 2 == 0) { /* spread a little */
            int a = (int)rndn((uint64_t)nd), b = (int)rndn((uint64_t)nd);
            if (a != b && shape[a] % 2 == 0) shape[a] /= 2, shape[b] *= 2;
        }
    }
    sf_value *v = sf_value_new(dt, nd, shape);
    if (v) fill(sf_value_data(v), sf_value_nbytes(v));
    return v;
}

static void make_messages(side *s, int n, int allow_big) {
    s->out = calloc((size_t)n, sizeof *s->out);
    s->nout = n;
    uint32_t P = s->max_payload;
    for (int i = 0; i < n; i++) {
        xmsg *x = &s->out[i];
        int r = (int)rndn(100);
        unsigned kind = r < 70 ? SF_MSG_DATA : r < 80 ? SF_MSG_ERROR : r < 90 ? SF_MSG_STATUS : SF_MSG_BYE;
        x->h.kind = kind;
        x->h.line = (uint32_t)rnd();
        x->h.obj_id = (uint64_t)i; /* the order */
        x->h.call_seq = rnd();
        x->h.trace = rnd();
        if (chance(1, 4)) memset(x->h.file, 'F', 31);
        else snprintf(x->h.file, sizeof x->h.file, "site_%d.c", (int)rndn(1000));
        if (kind == SF_MSG_DATA || kind == SF_MSG_ERROR) {
            size_t bytes;
            int c = (int)rndn(100);
            if (c < 10) bytes = 0; /* an empty array (or a 0-byte bytes value) */
            else if (c < 40) bytes = 1 + rndn(P < 64 ? 64 : P);
            else if (c < 95 || !allow_big) bytes = 1 + rndn(5 * (uint64_t)P + SF_WIRE_MAX);
            else bytes = ((size_t)1 << 20) + rndn((size_t)3 << 20), stat_big++;
            x->v = random_value(bytes, kind == SF_MSG_ERROR);
            ASSERT_NOT_NULL(x->v);
        }
        x->total = sf__wire_size(x->v ? sf_value_ndim(x->v) : 0) + (x->v ? sf_value_nbytes(x->v) : 0);
    }
}

static int on_deliver(void *arg, const sf_wire_msg *m, sf_value *v) {
    side *r = arg;
    side *s = r->peer;
    if (r->delivered >= s->appended) {
        ASSERT_LT(r->delivered, s->appended); /* more messages than were sent */
        sf_value_unref(&v);
        return SF_OK;
    }
    xmsg *x = &s->out[r->delivered++];
    ASSERT_EQ(m->h.obj_id, x->h.obj_id); /* exactly once, in order */
    if (ASSERT_EQ(m->h.kind, x->h.kind) &&
        ASSERT_EQ(m->h.line, x->h.line) &&
        ASSERT_EQ(m->h.call_seq, x->h.call_seq) &&
        ASSERT_EQ(m->h.trace, x->h.trace) &&
        ASSERT_EQ(strncmp(m->h.file, x->h.file, 31), 0))
        ASSERT_LE(strlen(m->h.file), 31);
    if (ASSERT_EQ(m->has_val, (x->v != NULL))) ASSERT_EQ((v != NULL), (x->v != NULL));
    if (v && x->v) {
        if (ASSERT_EQ(m->dtype, sf_value_dtype(x->v))) ASSERT_EQ(m->ndim, sf_value_ndim(x->v));
        if (ASSERT_EQ(sf_value_dtype(v), sf_value_dtype(x->v)))
            ASSERT_EQ(sf_value_ndim(v), sf_value_ndim(x->v));
        for (int i = 0; i < sf_value_ndim(v); i++) ASSERT_EQ(sf_value_dim(v, i), sf_value_dim(x->v, i));
        if (ASSERT_EQ(m->nbytes, sf_value_nbytes(x->v)))
            ASSERT_EQ(sf_value_nbytes(v), sf_value_nbytes(x->v));
        ASSERT_EQ(v->refcnt, 1);
        if (sf_value_nbytes(v) == sf_value_nbytes(x->v))
            ASSERT_MEM_EQ(sf_value_data(v), sf_value_data(x->v), sf_value_nbytes(v));
        stat_bytes += sf_value_nbytes(v);
    }
    stat_msgs++;
    sf_value_unref(&v);
    return SF_OK;
}

static int model_ready(const side *s) {
    uint64_t want = s->want > s->acked + 1 ? s->want : s->acked + 1;
    if (want <= s->last_new) return 1; /* a resend */
    return s->bytes_cut < s->bytes_appended && s->last_new - s->acked < (uint64_t)s->window;
}
static int model_drained(const side *s) {
    return s->bytes_cut == s->bytes_appended && s->acked == s->last_new;
}

static void apply_ack(side *s, uint64_t ack) {
    ASSERT_LE(ack, s->last_new); /* the peer never acknowledges what it did not get */
    int rc = sf__stream_ack(&s->st, ack);
    ASSERT_OK(rc);
    if (ack > s->acked) s->acked = ack;
    ASSERT_EQ((uint64_t)s->st.win_count, s->last_new - s->acked);
}

static void send_one(side *s, int i, const scen *sc) {
    if (sc->gate && !s->resumed) return;
    int ready = sf__stream_ready(&s->st);
    ASSERT_EQ(ready, model_ready(s));
    uint64_t seq = 0;
    uint32_t len = 0;
    int got = sf__stream_next(&s->st, frame_buf, &seq, &len);
    ASSERT_EQ(got, ready);
    if (!got) return;
    if (s->want < s->acked + 1) s->want = s->acked + 1;
    ASSERT_EQ(seq, s->want); /* oldest unacknowledged first, then new ones, no holes */
    s->want = seq + 1;
    if (ASSERT_GE(len, 1)) ASSERT_LE(len, s->max_payload);
    uint64_t slot = seq % (uint64_t)s->window;
    if (seq <= s->last_new) { /* a resend: the same bytes */
        stat_resends++;
        if (ASSERT_EQ(s->copy_seq[slot], seq)) ASSERT_EQ(s->copy_len[slot], len);
        if (s->copy_seq[slot] == seq && s->copy_len[slot] == len)
            ASSERT_MEM_EQ(s->copy[slot], frame_buf, len);
    } else {
        ASSERT_EQ(seq, s->last_new + 1);
        s->last_new = seq;
        s->bytes_cut += len;
        ASSERT_LE(s->bytes_cut, s->bytes_appended);
        ASSERT_LE(s->copy_seq[slot], s->acked); /* the slot's old frame was released */
        s->copy_seq[slot] = seq;
        s->copy_len[slot] = len;
        memcpy(s->copy[slot], frame_buf, len);
        stat_frames++;
    }
    if (ASSERT_LE(s->st.win_count, s->window)) ASSERT_LE(s->last_new - s->acked, (uint64_t)s->window);
    ASSERT_EQ((uint64_t)s->st.win_count, s->last_new - s->acked);
    if (seq > s->conn_max) s->conn_max = seq;
    push(&L[i], P_DATA, seq, s->st.rx_seq, frame_buf, len, 0);
    if (chance(1, sc->dup_den)) { /* the same frame again */
        push(&L[i], P_DATA, seq, s->st.rx_seq, frame_buf, len, 0);
        stat_dups++;
    }
    if (chance(1, sc->dup_den) && s->conn_max > s->acked) { /* an older unacknowledged one */
        uint64_t old = s->acked + 1 + rndn(s->conn_max - s->acked);
        uint64_t os = old % (uint64_t)s->window;
        ASSERT_EQ(s->copy_seq[os], old);
        push(&L[i], P_DATA, old, s->st.rx_seq, s->copy[os], s->copy_len[os], 0);
        stat_dups++;
    }
    if (chance(1, sc->dup_den) && s->acked > 0) { /* long acknowledged: the bytes do not matter */
        uint8_t junk[8];
        fill(junk, sizeof junk);
        push(&L[i], P_DATA, 1 + rndn(s->acked), s->st.rx_seq, junk, 1 + (uint32_t)rndn(8), 0);
        stat_dups++;
    }
}

/* Packet from L[i] arrives at S[1 - i]. */
static void arrive(int i, const scen *sc) {
    pkt *k = pop(&L[i]);
    if (!k) return;
    side *r = &S[1 - i];
    if (k->type == P_DATA) {
        uint64_t before = r->st.rx_seq;
        int rc = sf__stream_rx(&r->st, k->seq, k->p, k->len);
        ASSERT_OK_MSG(rc, "rx of frame %" PRIu64 " (after %" PRIu64 "): %s", k->seq, before, r->st.err);
        ASSERT_EQ(r->st.rx_seq, (k->seq > before ? k->seq : before));
        if (sc->piggy) apply_ack(r, k->ack);
    } else if (k->type == P_ACK) {
        apply_ack(r, k->ack);
    } else { /* RESUME: what the peer got, then everything unacknowledged again */
        apply_ack(r, k->ack);
        sf__stream_rewind(&r->st);
        r->want = r->acked + 1;
        r->resumed = 1;
    }
    pkt_free(k);
}

static void reconnect(void) {
    stat_breaks++;
    link_clear(&L[0]);
    link_clear(&L[1]);
    for (int i = 0; i < 2; i++) {
        side *s = &S[i];
        sf__stream_rewind(&s->st);
        s->want = s->acked + 1;
        s->conn_max = 0;
        s->resumed = 0;
        /* the RESUME opens the new connection; sometimes its ack is stale (0) */
        push(&L[i], P_RESUME, 0, chance(1, 5) ? 0 : s->st.rx_seq, NULL, 0, 1);
    }
}

static void append_one(side *s) {
    xmsg *x = &s->out[s->appended++];
    sf_stream_msg *m = sf__stream_msg_new(&x->h, x->v);
    if (ASSERT_NOT_NULL(m)) ASSERT_EQ(m->total, x->total);
    sf__stream_append(&s->st, m);
    s->bytes_appended += x->total;
}

static void run_scenario(int no) {
    scen sc;
    memset(&sc, 0, sizeof sc);
    sc.piggy = chance(3, 4);
    sc.gate = chance(1, 2);
    uint64_t brk[] = {0, 20, 200, 2000};
    sc.brk_den = brk[rndn(4)];
    uint64_t dup[] = {0, 3, 20};
    sc.dup_den = dup[rndn(3)];
    uint64_t ackd[] = {1, 4, 40};
    sc.ack_den = ackd[rndn(3)];
    sc.abandon = chance(1, 8);
    int window = chance(1, 3) ? 1 + (int)rndn(4) : 1 + (int)rndn(64);
    uint32_t pcls[] = {16, 512, 16384, 262144};
    int pc = (int)rndn(4);
    uint32_t P = 1 + (uint32_t)rndn(pcls[pc]);
    if (pc == 3 && P < 16384) P += 16384;
    int nmsg = 1 + (int)rndn(pc == 0 ? 25 : 40);
    memset(S, 0, sizeof S);
    for (int i = 0; i < 2; i++) {
        side *s = &S[i];
        s->window = window;
        s->max_payload = P;
        s->peer = &S[1 - i];
        s->want = 1;
        s->resumed = 1;
        ASSERT_OK(sf__stream_init(&s->st, window, P, UINT64_MAX, on_deliver, s));
        s->copy = calloc((size_t)window, sizeof *s->copy);
        s->copy_len = calloc((size_t)window, sizeof *s->copy_len);
        s->copy_seq = calloc((size_t)window, sizeof *s->copy_seq);
        for (int w = 0; w < window; w++) s->copy[w] = malloc(P);
        make_messages(s, i == 0 || chance(1, 2) ? nmsg : (int)rndn(3), P >= 8192);
    }
    frame_buf = malloc(P);
    uint64_t stop_at = sc.abandon ? rndn(20000) : UINT64_MAX;
    int fails0 = test_failures();
    uint64_t step = 0, max_steps = 20000000;
    for (;; step++) {
        int done = 1;
        for (int i = 0; i < 2; i++)
            if (S[i].appended < S[i].nout || S[1 - i].delivered < S[i].nout || !sf__stream_drained(&S[i].st) ||
                L[i].n)
                done = 0;
        if (done || step == stop_at || step >= max_steps || test_failures() > fails0 + 20) break;
        int i = (int)rndn(2);
        side *s = &S[i];
        for (int j = 0; j < 2; j++) ASSERT_EQ(sf__stream_drained(&S[j].st), model_drained(&S[j]));
        switch (rndn(8)) {
        case 0:
            if (s->appended < s->nout) append_one(s);
            break;
        case 1:
        case 2:
            send_one(s, i, &sc);
            break;
        case 3:
        case 4:
        case 5:
            arrive(i, &sc);
            break;
        case 6:
            if (chance(1, sc.ack_den)) push(&L[i], P_ACK, 0, s->st.rx_seq, NULL, 0, 0);
            break;
        case 7:
            if (sc.brk_den && chance(1, sc.brk_den)) reconnect();
            break;
        }
    }
    ASSERT_LT(step, max_steps);
    if (step != stop_at) {
        for (int i = 0; i < 2; i++) {
            ASSERT_EQ(S[1 - i].delivered, S[i].nout);
            if (ASSERT(sf__stream_drained(&S[i].st))) ASSERT(!sf__stream_ready(&S[i].st));
            if (ASSERT_EQ(S[i].st.win_count, 0) &&
                ASSERT_NULL(S[i].st.q_head) &&
                ASSERT_NULL(S[i].st.asm_v))
                ASSERT_EQ(S[i].st.asm_got, 0);
        }
    }
    if (test_failures() > fails0)
        fprintf(stderr, "scenario %d failed: window %d, max_payload %u, piggy %d gate %d brk 1/%" PRIu64
                        " dup 1/%" PRIu64 " ack 1/%" PRIu64 " abandon %d, step %" PRIu64 "\n",
                no, window, P, sc.piggy, sc.gate, sc.brk_den, sc.dup_den, sc.ack_den, sc.abandon, step);
    for (int i = 0; i < 2; i++) {
        side *s = &S[i];
        sf__stream_free(&s->st); /* releases whatever is left (abandoned runs) */
        link_clear(&L[i]);
        for (int k = 0; k < s->nout; k++) {
            if (s->out[k].v) {
                ASSERT_EQ(s->out[k].v->refcnt, 1); /* the streams let go of every value */
                sf_value_unref(&s->out[k].v);
            }
        }
        for (int w = 0; w < s->window; w++) free(s->copy[w]);
        free(s->copy), free(s->copy_len), free(s->copy_seq), free(s->out);
    }
    free(frame_buf);
}

/* ---- edge cases */

typedef struct sink {
    int n;
    int fail_with;
    uint64_t last_nbytes;
    sf_msg_hdr last;
} sink;

static int sink_deliver(void *arg, const sf_wire_msg *m, sf_value *v) {
    sink *k = arg;
    k->n++;
    k->last = m->h;
    k->last_nbytes = v ? sf_value_nbytes(v) : 0;
    sf_value_unref(&v);
    return k->fail_with;
}

static sf_msg_hdr hdr(unsigned kind, uint64_t id) {
    sf_msg_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.obj_id = id;
    h.line = 42;
    strcpy(h.file, "edge.c");
    return h;
}

/* A header announcing `nbytes` of dtype dt in a 1-d shape (no data behind it). */
static size_t announce(uint8_t *out, sf_dtype dt, uint64_t elems) {
    sf_value v;
    memset(&v, 0, sizeof v);
    v.dtype = (uint8_t)dt;
    v.ndim = 1;
    v.shape[0] = (int64_t)elems;
    v.nbytes = elems * sf_dtype_size(dt);
    sf_msg_hdr h = hdr(SF_MSG_DATA, 1);
    return sf__wire_encode(out, &h, &v, 0);
}

static void test_ack_beyond(void) {
    sink k = {0};
    sf_stream s;
    ASSERT_OK(sf__stream_init(&s, 4, 10, 1000, sink_deliver, &k));
    ASSERT_OK(sf__stream_ack(&s, 0));
    ASSERT_STATUS(sf__stream_ack(&s, 1), SF_EINVAL);
    ASSERT_STATUS(sf__stream_ack(&s, UINT64_MAX), SF_EINVAL);
    sf_msg_hdr h = hdr(SF_MSG_STATUS, 1);
    sf__stream_append(&s, sf__stream_msg_new(&h, NULL)); /* 80 bytes: 8 frames of 10 */
    uint8_t buf[10];
    uint64_t seq;
    uint32_t len;
    for (int i = 0; i < 3; i++)
        if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, (uint64_t)i + 1);
    ASSERT_STATUS(sf__stream_ack(&s, 4), SF_EINVAL);
    ASSERT_EQ(s.win_count, 3);
    ASSERT_EQ(s.acked, 0); /* refused: nothing changed */
    if (ASSERT_OK(sf__stream_ack(&s, 2))) ASSERT_EQ(s.win_count, 1);
    if (ASSERT_OK(sf__stream_ack(&s, 1)) && ASSERT_EQ(s.win_count, 1)) ASSERT_EQ(s.acked, 2); /* stale: ignored */
    if (ASSERT_OK(sf__stream_ack(&s, 3))) ASSERT_EQ(s.win_count, 0);
    ASSERT_STATUS(sf__stream_ack(&s, 4), SF_EINVAL);
    sf__stream_free(&s);
}

static void test_gap(void) {
    sink k = {0};
    sf_stream s;
    ASSERT_OK(sf__stream_init(&s, 4, 64, 1000, sink_deliver, &k));
    uint8_t b[SF_WIRE_MAX];
    sf_msg_hdr h = hdr(SF_MSG_STATUS, 7);
    size_t n = sf__wire_encode(b, &h, NULL, 0);
    ASSERT_EQ(n, 80);
    ASSERT_STATUS(sf__stream_rx(&s, 2, b, 40), SF_ERANGE);
    if (ASSERT_EQ(s.rx_seq, 0) && ASSERT_EQ(s.asm_got, 0)) ASSERT_NE(s.err[0], 0);
    if (ASSERT_OK(sf__stream_rx(&s, 1, b, 40)) && ASSERT_EQ(s.rx_seq, 1)) ASSERT_EQ(s.asm_got, 40);
    if (ASSERT_STATUS(sf__stream_rx(&s, 3, b + 40, 40), SF_ERANGE) &&
        ASSERT_EQ(s.rx_seq, 1))
        ASSERT_EQ(s.asm_got, 40);
    if (ASSERT_STATUS(sf__stream_rx(&s, UINT64_MAX, b + 40, 40), SF_ERANGE) &&
        ASSERT_EQ(s.rx_seq, 1))
        ASSERT_EQ(s.asm_got, 40);
    if (ASSERT_OK(sf__stream_rx(&s, 1, b, 40))) ASSERT_EQ(s.asm_got, 40); /* a duplicate: ignored */
    if (ASSERT_OK(sf__stream_rx(&s, 0, b, 40))) ASSERT_EQ(s.asm_got, 40);
    ASSERT_EQ(k.n, 0);
    if (ASSERT_OK(sf__stream_rx(&s, 2, b + 40, 40))) ASSERT_EQ(s.rx_seq, 2);
    ASSERT_EQ(k.n, 1);
    ASSERT_EQ(k.last.obj_id, 7);
    ASSERT_EQ(k.last.kind, SF_MSG_STATUS);
    sf__stream_free(&s);
}

static void test_oversize(void) {
    uint8_t b[SF_WIRE_MAX];
    uint64_t announced[] = {101, 1000, (uint64_t)1 << 30 /* would be allocated */,
                            (uint64_t)1 << 45 /* could not be allocated */};
    for (int split = 0; split < 2; split++)
        for (int i = 0; i < 4; i++) {
            sink k = {0};
            sf_stream s;
            ASSERT_OK(sf__stream_init(&s, 4, 4096, 100, sink_deliver, &k));
            size_t n = announce(b, SF_U8, announced[i]);
            int rc = SF_OK;
            if (split) /* the header one byte at a time */
                for (size_t j = 0; j < n && rc == SF_OK; j++) rc = sf__stream_rx(&s, j + 1, b + j, 1);
            else
                rc = sf__stream_rx(&s, 1, b, (uint32_t)n);
            ASSERT_STATUS(rc, SF_EINVAL);
            if (ASSERT_NULL(s.asm_v) && ASSERT_EQ(k.n, 0)) ASSERT_STR_CONTAINS(s.err, "max_message");
            sf__stream_free(&s);
        }
    /* a header announcing exactly max_message bytes is taken, and its bytes delivered */
    sink k = {0};
    sf_stream s;
    ASSERT_OK(sf__stream_init(&s, 4, 4096, 100, sink_deliver, &k));
    size_t n = announce(b, SF_I32, 25);
    uint8_t data[100] = {0};
    if (ASSERT_OK(sf__stream_rx(&s, 1, b, (uint32_t)n)) && ASSERT_NOT_NULL(s.asm_v)) ASSERT_EQ(k.n, 0);
    if (ASSERT_OK(sf__stream_rx(&s, 2, data, 60))) ASSERT_EQ(k.n, 0);
    if (ASSERT_OK(sf__stream_rx(&s, 3, data, 40)) && ASSERT_EQ(k.n, 1)) ASSERT_EQ(k.last_nbytes, 100);
    ASSERT_NULL(s.asm_v);
    sf__stream_free(&s);
    /* max_message 0: only empty values and value-less messages */
    k.n = 0;
    ASSERT_OK(sf__stream_init(&s, 4, 4096, 0, sink_deliver, &k));
    n = announce(b, SF_F64, 0);
    if (ASSERT_OK(sf__stream_rx(&s, 1, b, (uint32_t)n)) &&
        ASSERT_EQ(k.n, 1))
        ASSERT_EQ(k.last_nbytes, 0);
    sf_msg_hdr h = hdr(SF_MSG_BYE, 9);
    n = sf__wire_encode(b, &h, NULL, 0);
    if (ASSERT_OK(sf__stream_rx(&s, 2, b, (uint32_t)n)) &&
        ASSERT_EQ(k.n, 2))
        ASSERT_EQ(k.last.kind, SF_MSG_BYE);
    n = announce(b, SF_U8, 1);
    if (ASSERT_STATUS(sf__stream_rx(&s, 3, b, (uint32_t)n), SF_EINVAL)) ASSERT_EQ(k.n, 2);
    sf__stream_free(&s);
}

static void test_malformed(void) {
    uint8_t good[SF_WIRE_MAX];
    int64_t shape[2] = {2, 2};
    sf_value *v = sf_value_zeros(SF_I16, 2, shape);
    sf_msg_hdr h = hdr(SF_MSG_DATA, 3);
    size_t n = sf__wire_encode(good, &h, v, 0);
    sf_value_unref(&v);
    ASSERT_EQ(n, 96);
    struct {
        int off;
        uint8_t val;
    } bad[] = {{0, 2}, {0, 0}, {1, 0}, {1, 9}, {2, 0}, {2, 2}, {3, SF_NDTYPES}, {4, 17}, {4, 255},
               {6, 1}, {13, 1}, {40, 9}, {87, 0x80} /* a negative extent */};
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++)
        for (int split = 0; split < 2; split++) {
            sink k = {0};
            sf_stream s;
            ASSERT_OK(sf__stream_init(&s, 4, 4096, 1 << 20, sink_deliver, &k));
            uint8_t b[SF_WIRE_MAX];
            memcpy(b, good, n);
            b[bad[t].off] = bad[t].val;
            int rc = SF_OK;
            if (split)
                for (size_t j = 0; j < n && rc == SF_OK; j++) rc = sf__stream_rx(&s, j + 1, b + j, 1);
            else
                rc = sf__stream_rx(&s, 1, b, (uint32_t)n);
            ASSERT_STATUS_MSG(rc, SF_EINVAL, "malformed header case %zu (split %d)", t, split);
            if (ASSERT_NULL(s.asm_v) && ASSERT_EQ(k.n, 0)) ASSERT_STR_CONTAINS(s.err, "malformed");
            sf__stream_free(&s);
        }
    /* the good one, for contrast, then its 8 data bytes */
    sink k = {0};
    sf_stream s;
    ASSERT_OK(sf__stream_init(&s, 4, 4096, 1 << 20, sink_deliver, &k));
    if (ASSERT_OK(sf__stream_rx(&s, 1, good, (uint32_t)n))) ASSERT_EQ(k.n, 0);
    uint8_t d[8] = {0};
    if (ASSERT_OK(sf__stream_rx(&s, 2, d, 8)) && ASSERT_EQ(k.n, 1)) ASSERT_EQ(k.last_nbytes, 8);
    sf__stream_free(&s);
}

static void test_window_ready_drained(void) {
    sink k = {0};
    sf_stream s;
    ASSERT_OK(sf__stream_init(&s, 3, 50, 1000, sink_deliver, &k));
    uint8_t buf[50];
    uint64_t seq;
    uint32_t len;
    if (ASSERT(sf__stream_drained(&s)) &&
        ASSERT(!sf__stream_ready(&s)))
        ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 0);
    sf_value *v = sf_value_bytes("0123456789abcdefghij", 20); /* 88 + 20 bytes: 50, 50, 8 */
    for (int i = 0; i < 4; i++) {
        sf_msg_hdr h = hdr(SF_MSG_DATA, (uint64_t)i);
        sf__stream_append(&s, sf__stream_msg_new(&h, v));
    }
    ASSERT_EQ(v->refcnt, 5);
    if (ASSERT(!sf__stream_drained(&s))) ASSERT(sf__stream_ready(&s));
    int frames = 0;
    while (sf__stream_ready(&s)) {
        if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, (uint64_t)frames + 1);
        ASSERT_EQ(len, (frames == 2 ? 8 : 50));
        frames++;
    }
    if (ASSERT_EQ(frames, 3) &&
        ASSERT_EQ(s.win_count, 3))
        ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 0);
    ASSERT(!sf__stream_drained(&s));
    /* one ack, one more frame */
    if (ASSERT_OK(sf__stream_ack(&s, 1))) ASSERT(sf__stream_ready(&s));
    if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1) &&
        ASSERT_EQ(seq, 4))
        ASSERT(!sf__stream_ready(&s));
    ASSERT_EQ(s.win_count, 3);
    /* a rewind resends 2, 3, 4, the same bytes, then nothing until acks */
    uint8_t f2[50];
    sf__stream_rewind(&s);
    ASSERT(sf__stream_ready(&s));
    if (ASSERT_EQ(sf__stream_next(&s, f2, &seq, &len), 1)) ASSERT_EQ(seq, 2);
    if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, 3);
    /* an ack in the middle of the resends: 4 comes next, not 3 again */
    if (ASSERT_OK(sf__stream_ack(&s, 3))) ASSERT(sf__stream_ready(&s));
    if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, 4);
    if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, 5);
    if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, 6);
    if (ASSERT(!sf__stream_ready(&s))) ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 0);
    /* a rewind with an ack that covers everything sent: nothing to resend */
    sf__stream_rewind(&s);
    if (ASSERT_OK(sf__stream_ack(&s, 6))) ASSERT_EQ(s.win_count, 0);
    ASSERT(sf__stream_ready(&s)); /* new frames: the last message remains */
    uint64_t last = 6;
    for (;;) { /* the last two messages: frames 7 to 12, three at a time */
        if (!sf__stream_ready(&s)) {
            ASSERT(s.win_count == 3 || last == 12);
            if (last == 12) break;
            ASSERT_OK(sf__stream_ack(&s, last));
        }
        if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, last + 1);
        last = seq;
    }
    ASSERT(!sf__stream_drained(&s));
    if (ASSERT_OK(sf__stream_ack(&s, 12)) &&
        ASSERT(sf__stream_drained(&s)))
        ASSERT(!sf__stream_ready(&s));
    ASSERT_EQ(v->refcnt, 1);
    sf__stream_free(&s);

    /* max_payload 1, window 1: one byte per frame, one at a time */
    ASSERT_OK(sf__stream_init(&s, 1, 1, 1000, sink_deliver, &k));
    sf_msg_hdr h = hdr(SF_MSG_DATA, 1);
    sf__stream_append(&s, sf__stream_msg_new(&h, v));
    sf_stream r;
    k.n = 0;
    ASSERT_OK(sf__stream_init(&r, 1, 1, 1000, sink_deliver, &k));
    for (uint64_t i = 1; i <= 108; i++) {
        if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1) && ASSERT_EQ(seq, i)) ASSERT_EQ(len, 1);
        ASSERT(!sf__stream_ready(&s));
        ASSERT_OK(sf__stream_rx(&r, seq, buf, len));
        ASSERT_OK(sf__stream_ack(&s, r.rx_seq));
    }
    if (ASSERT_EQ(k.n, 1) && ASSERT_EQ(k.last_nbytes, 20)) ASSERT(sf__stream_drained(&s));
    sf__stream_free(&s);
    sf__stream_free(&r);

    /* free with messages queued, in the window and half reassembled */
    ASSERT_OK(sf__stream_init(&s, 2, 30, 1000, sink_deliver, &k));
    ASSERT_OK(sf__stream_init(&r, 2, 30, 1000, sink_deliver, &k));
    for (int i = 0; i < 3; i++) {
        h = hdr(SF_MSG_DATA, (uint64_t)i);
        sf__stream_append(&s, sf__stream_msg_new(&h, v));
    }
    k.n = 0;
    ASSERT_EQ(v->refcnt, 4);
    /* 7 frames: message 0 (108 bytes: 30, 30, 30, 18) delivered, then 90 bytes of message 1:
     * its header and 2 of its value's bytes */
    for (int i = 0; i < 7; i++) {
        if (!sf__stream_ready(&s)) ASSERT_OK(sf__stream_ack(&s, r.rx_seq));
        if (ASSERT_EQ(sf__stream_next(&s, buf, &seq, &len), 1)) ASSERT_EQ(seq, (uint64_t)i + 1);
        ASSERT_OK(sf__stream_rx(&r, seq, buf, len));
    }
    ASSERT_EQ(k.n, 1);
    ASSERT_NOT_NULL(r.asm_v);
    ASSERT_EQ(r.asm_data, 2);
    ASSERT_EQ(s.win_count, 1);
    sf__stream_free(&s);
    sf__stream_free(&r);
    ASSERT_EQ(v->refcnt, 1);

    /* a message never appended */
    h = hdr(SF_MSG_ERROR, 5);
    sf_stream_msg *m = sf__stream_msg_new(&h, v);
    if (ASSERT(m) && ASSERT_EQ(v->refcnt, 2) && ASSERT_EQ(m->head_len, 88)) ASSERT_EQ(m->total, 108);
    sf__stream_msg_drop(m);
    ASSERT_EQ(v->refcnt, 1);
    sf_value_unref(&v);
}

static void test_deliver_error_and_init(void) {
    sink k = {0};
    k.fail_with = SF_EIO;
    sf_stream s;
    ASSERT_OK(sf__stream_init(&s, 4, 4096, 1000, sink_deliver, &k));
    uint8_t b[SF_WIRE_MAX];
    sf_msg_hdr h = hdr(SF_MSG_STATUS, 1);
    size_t n = sf__wire_encode(b, &h, NULL, 0);
    if (ASSERT_STATUS(sf__stream_rx(&s, 1, b, (uint32_t)n), SF_EIO)) ASSERT_EQ(k.n, 1);
    sf__stream_free(&s);
    /* two messages in one frame: both delivered */
    k.fail_with = 0, k.n = 0;
    ASSERT_OK(sf__stream_init(&s, 4, 4096, 1000, sink_deliver, &k));
    uint8_t two[2 * SF_WIRE_MAX + 8];
    n = sf__wire_encode(two, &h, NULL, 0);
    size_t m = announce(two + n, SF_F64, 1);
    memset(two + n + m, 0, 8);
    if (ASSERT_OK(sf__stream_rx(&s, 1, two, (uint32_t)(n + m + 8))) &&
        ASSERT_EQ(k.n, 2))
        ASSERT_EQ(k.last_nbytes, 8);
    sf__stream_free(&s);

    ASSERT_STATUS(sf__stream_init(&s, 0, 10, 10, sink_deliver, &k), SF_EINVAL);
    sf__stream_free(&s);
    ASSERT_STATUS(sf__stream_init(&s, -1, 10, 10, sink_deliver, &k), SF_EINVAL);
    ASSERT_STATUS(sf__stream_init(&s, 1, 0, 10, sink_deliver, &k), SF_EINVAL);
    ASSERT_STATUS(sf__stream_init(&s, 1, 10, 10, NULL, &k), SF_EINVAL);
    sf__stream_free(&s);
}

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20240611;
    int scenarios = argc > 2 ? atoi(argv[2]) : 300;
    test_ack_beyond();
    test_gap();
    test_oversize();
    test_malformed();
    test_window_ready_drained();
    test_deliver_error_and_init();
    rng_s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < scenarios && test_failures() < 100; i++) run_scenario(i);
    printf("stream: seed %" PRIu64 ", %d scenarios: %" PRIu64 " messages (%" PRIu64 " value bytes, %" PRIu64
           " multi-megabyte), %" PRIu64 " frames, %" PRIu64 " resent, %" PRIu64 " duplicates, %" PRIu64
           " breaks\n",
           seed, scenarios, stat_msgs, stat_bytes, stat_big, stat_frames, stat_resends, stat_dups, stat_breaks);
    sf__value_thread_cleanup();
    TEST_DONE();
}
