/*
 * libFuzzer target for the bridge's stream layer (mpi/prod/stream.c).
 *
 * data[0] & 1 picks the mode:
 *  - 0, a receiving stream fed what a peer (or a broken peer) sends: data[1..2] is its
 *    max_message (small: values stay below 64 KiB), the rest a sequence of operations,
 *    each either a raw frame (in order, a duplicate or a gap; payload bytes from the
 *    input) or a message synthesised from a few input bytes (kind, has_val, dtype,
 *    dimensions, extents: valid or not) cut into frames of an input-chosen size.
 *    Checked: no crash or leak; the return codes follow the contract (a duplicate changes
 *    nothing, a gap is SF_ERANGE and does not advance, SF_EINVAL ends the stream, never
 *    SF_ENOMEM); every delivered message is consistent (value present iff the kind has
 *    one, dtype/shape/size as the header says, within max_message, one reference); and
 *    every accepted byte is accounted for: delivered headers and values plus the message
 *    being reassembled.
 *  - 1, a sender and a receiver: data[1] the window, data[2..3] max_payload, then
 *    operations: append a message (input-chosen kind and shape, known contents), send a
 *    frame, deliver one, ack, break the connection (frames in flight lost, the sender
 *    rewinds, perhaps learning the receiver's ack), duplicate a frame, stale and
 *    impossible acks. Then everything is drained. Checked: every appended message is
 *    delivered exactly once, in order, byte-exact; the receiver never sees a gap; the
 *    window stays within its size; ready() agrees with next(); an ack beyond what was
 *    sent is refused and changes nothing; at the end the sender is drained and every
 *    value is back to one reference. With data[0] & 6 == 6 the run is abandoned instead
 *    of drained: freeing both streams must still release every value.
 * Invariants are checked with __builtin_trap().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/prod/stream.h"
#include "core/value.h"

#define REQUIRE(c)                  \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;
static int more(const input *in) { return in->n > 0; }
static uint8_t byte(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

/* ---- mode 0: a receiving stream */

typedef struct rx_ctx {
    uint64_t max_message;
    uint64_t delivered_bytes; /* headers and values */
    int delivered;
} rx_ctx;

static int rx_deliver(void *arg, const sf_wire_msg *m, sf_value *v) {
    rx_ctx *c = arg;
    REQUIRE(m->h.kind >= SF_MSG_DATA && m->h.kind <= SF_MSG_BYE);
    REQUIRE(strnlen(m->h.file, 32) < 32);
    REQUIRE(m->has_val == (m->h.kind == SF_MSG_DATA || m->h.kind == SF_MSG_ERROR));
    REQUIRE((v != NULL) == m->has_val);
    REQUIRE(m->nbytes <= c->max_message);
    if (v) {
        REQUIRE(v->refcnt == 1);
        REQUIRE(v->dtype == m->dtype && v->ndim == m->ndim && v->nbytes == m->nbytes);
        if (m->h.kind == SF_MSG_ERROR) REQUIRE(v->dtype == SF_BYTES);
        size_t elems = 1;
        for (int i = 0; i < v->ndim; i++) {
            REQUIRE(v->shape[i] == m->shape[i] && v->shape[i] >= 0);
            elems *= (size_t)v->shape[i];
        }
        REQUIRE(v->nelems == elems && elems * sf_dtype_size((sf_dtype)v->dtype) == v->nbytes);
        volatile uint8_t sum = 0; /* touch every byte: an unwritten or short buffer shows */
        for (size_t i = 0; i < v->nbytes; i++) sum ^= ((const uint8_t *)v->data)[i];
        (void)sum;
    } else {
        REQUIRE(m->nbytes == 0 && m->ndim == 0);
    }
    c->delivered_bytes += sf__wire_size(m->ndim) + m->nbytes;
    c->delivered++;
    sf_value_unref(&v);
    return SF_OK;
}

/* Feed one frame; returns 0 to go on, 1 when the stream is broken for good. */
static int feed(sf_stream *s, rx_ctx *c, uint64_t *accepted, uint64_t seq, const uint8_t *p, uint32_t len) {
    uint64_t before = s->rx_seq;
    uint8_t *copy = malloc(len ? len : 1); /* exactly len: an over-read is an ASan report */
    REQUIRE(copy);
    if (len) memcpy(copy, p, len);
    int rc = sf__stream_rx(s, seq, copy, len);
    free(copy);
    REQUIRE(rc != SF_ENOMEM);
    if (rc == SF_ERANGE) {
        REQUIRE(seq > before + 1 && s->rx_seq == before);
        return 0;
    }
    if (rc == SF_EINVAL) {
        REQUIRE(seq == before + 1 && s->err[0]);
        return 1;
    }
    REQUIRE(rc == SF_OK);
    if (seq <= before) {
        REQUIRE(s->rx_seq == before);
        return 0;
    }
    REQUIRE(seq == before + 1 && s->rx_seq == seq);
    *accepted += len;
    uint64_t partial = s->asm_got + (s->asm_v ? s->asm_data : 0);
    REQUIRE(s->asm_got <= s->asm_need && s->asm_need <= SF_WIRE_MAX);
    REQUIRE(!s->asm_v || (s->asm_got == s->asm_need && s->asm_data < s->asm_v->nbytes));
    REQUIRE(*accepted == c->delivered_bytes + partial);
    return 0;
}

static void receiver(input *in) {
    rx_ctx c = {0};
    c.max_message = (uint64_t)byte(in) | (uint64_t)byte(in) << 8;
    sf_stream s;
    REQUIRE(sf__stream_init(&s, 1, 1, c.max_message, rx_deliver, &c) == SF_OK);
    uint64_t accepted = 0;
    uint8_t msg[SF_WIRE_MAX + 65536];
    int broken = 0;
    while (more(in) && !broken) {
        uint8_t op = byte(in);
        if ((op & 4) == 0) { /* a raw frame */
            uint32_t len = byte(in);
            if (op & 8) len |= (uint32_t)byte(in) << 8;
            uint64_t seq = s.rx_seq + 1;
            if (op & 0x10) seq = s.rx_seq - (s.rx_seq ? byte(in) % (s.rx_seq + 1) : 0); /* a duplicate */
            else if (op & 0x20) seq = s.rx_seq + 2 + byte(in);                          /* a gap */
            if (len > in->n) len = (uint32_t)in->n;
            broken = feed(&s, &c, &accepted, seq, in->p, len);
            in->p += len, in->n -= len;
            continue;
        }
        /* a message built from a few bytes, valid unless the bytes say otherwise */
        uint8_t b1 = byte(in), b2 = byte(in), b3 = byte(in);
        sf_msg_hdr h;
        memset(&h, 0, sizeof h);
        h.kind = 1 + b1 % 4;
        h.line = b2;
        h.obj_id = b3;
        int has_val = h.kind == SF_MSG_DATA || h.kind == SF_MSG_ERROR;
        if (b1 & 0x80) has_val = !has_val;
        sf_value v;
        memset(&v, 0, sizeof v);
        v.dtype = h.kind == SF_MSG_ERROR && !(b1 & 0x40) ? SF_BYTES : (uint8_t)(b2 % (SF_NDTYPES + (b1 & 0x40 ? 2 : 0)));
        v.ndim = (uint8_t)(b3 % 4);
        size_t elems = 1;
        for (int i = 0; i < v.ndim; i++) {
            uint8_t e = byte(in);
            v.shape[i] = (b1 & 0x20) && e > 250 ? (int64_t)1 << (e - 200) : e % 64;
            elems *= (size_t)v.shape[i];
        }
        v.nbytes = elems * sf_dtype_size((sf_dtype)v.dtype);
        if (b1 & 0x10) v.nbytes += byte(in); /* perhaps inconsistent */
        size_t hl = sf__wire_encode(msg, &h, has_val ? &v : NULL, 0);
        if (b3 & 0x80) msg[byte(in) % hl] ^= byte(in); /* a damaged header */
        size_t data = has_val && v.nbytes <= 65536 ? v.nbytes : 0;
        size_t k = data < in->n ? data : in->n;
        memcpy(msg + hl, in->p, k);
        memset(msg + hl + k, 0xA5, data - k);
        in->p += k, in->n -= k;
        size_t total = hl + data, off = 0;
        uint32_t fs = 1 + byte(in);
        if (b2 & 0x80) fs *= 64;
        while (off < total && !broken) {
            uint32_t len = total - off < fs ? (uint32_t)(total - off) : fs;
            broken = feed(&s, &c, &accepted, s.rx_seq + 1, msg + off, len);
            if (!broken && (b3 & 0x40)) /* the frame again */
                broken = feed(&s, &c, &accepted, s.rx_seq, msg + off, len);
            off += len;
        }
    }
    sf__stream_free(&s);
}

/* ---- mode 1: a sender and a receiver */

#define MAXMSG 64
#define LINK 256

typedef struct xmsg {
    sf_msg_hdr h;
    sf_value *v;
} xmsg;

typedef struct pair_ctx {
    xmsg msgs[MAXMSG];
    int appended, delivered;
} pair_ctx;

typedef struct frame {
    uint64_t seq;
    uint32_t len;
    uint8_t *p;
} frame;

static int pair_deliver(void *arg, const sf_wire_msg *m, sf_value *v) {
    pair_ctx *c = arg;
    REQUIRE(c->delivered < c->appended);
    xmsg *x = &c->msgs[c->delivered++];
    REQUIRE(m->h.obj_id == x->h.obj_id && m->h.kind == x->h.kind && m->h.line == x->h.line &&
            m->h.call_seq == x->h.call_seq && strcmp(m->h.file, x->h.file) == 0);
    REQUIRE((v != NULL) == (x->v != NULL));
    if (v) {
        REQUIRE(v->dtype == x->v->dtype && v->ndim == x->v->ndim && v->nbytes == x->v->nbytes);
        REQUIRE(memcmp(v->shape, x->v->shape, sizeof(int64_t) * v->ndim) == 0);
        REQUIRE(v->nbytes == 0 || memcmp(v->data, x->v->data, v->nbytes) == 0);
        REQUIRE(v->refcnt == 1);
    }
    sf_value_unref(&v);
    return SF_OK;
}

typedef struct pair {
    sf_stream s, r;
    pair_ctx c;
    frame link[LINK];
    int lhead, ln;
    uint8_t *buf;
    uint32_t max_payload;
    int window;
    uint8_t *last; /* the last frame sent on this connection */
    uint64_t last_seq;
    uint32_t last_len;
} pair;

static void link_push(pair *P, uint64_t seq, const uint8_t *p, uint32_t len) {
    if (P->ln == LINK) return; /* full: only duplicates get here (send_one checks first) */
    frame *f = &P->link[(P->lhead + P->ln++) % LINK];
    f->seq = seq, f->len = len;
    f->p = malloc(len ? len : 1);
    REQUIRE(f->p);
    if (len) memcpy(f->p, p, len);
}
static void link_clear(pair *P) {
    while (P->ln) {
        free(P->link[P->lhead].p);
        P->lhead = (P->lhead + 1) % LINK;
        P->ln--;
    }
    P->last_seq = 0;
}
static void deliver_one(pair *P) {
    if (!P->ln) return;
    frame *f = &P->link[P->lhead];
    P->lhead = (P->lhead + 1) % LINK;
    P->ln--;
    REQUIRE(sf__stream_rx(&P->r, f->seq, f->p, f->len) == SF_OK); /* never a gap */
    free(f->p);
}
static int send_one(pair *P) {
    if (P->ln == LINK) return 0;
    int ready = sf__stream_ready(&P->s);
    uint64_t seq = 0;
    uint32_t len = 0;
    int got = sf__stream_next(&P->s, P->buf, &seq, &len);
    REQUIRE(got == ready);
    REQUIRE(P->s.win_count <= P->window && P->s.next_seq - P->s.acked <= (uint64_t)P->window);
    if (!got) return 0;
    REQUIRE(seq >= 1 && seq <= P->s.next_seq && seq > P->s.acked && len >= 1 && len <= P->max_payload);
    link_push(P, seq, P->buf, len);
    memcpy(P->last, P->buf, len);
    P->last_seq = seq, P->last_len = len;
    return 1;
}
static void ack(pair *P, uint64_t a) {
    REQUIRE(sf__stream_ack(&P->s, a) == SF_OK);
    REQUIRE((uint64_t)P->s.win_count == P->s.next_seq - P->s.acked);
}

static void append(pair *P, input *in) {
    if (P->c.appended == MAXMSG) return;
    uint8_t b1 = byte(in), b2 = byte(in), b3 = byte(in), b4 = byte(in);
    int i = P->c.appended;
    xmsg *x = &P->c.msgs[i];
    memset(&x->h, 0, sizeof x->h);
    x->h.kind = 1 + b1 % 4;
    x->h.obj_id = (uint64_t)i;
    x->h.line = b2;
    x->h.call_seq = b3;
    memset(x->h.file, 'a' + b4 % 26, 1 + b4 % 31);
    x->v = NULL;
    if (x->h.kind == SF_MSG_DATA || x->h.kind == SF_MSG_ERROR) {
        sf_dtype dt = x->h.kind == SF_MSG_ERROR ? SF_BYTES : (sf_dtype)(b2 % SF_NDTYPES);
        int nd = b3 % 4;
        int64_t shape[3];
        size_t elems = 1;
        for (int d = 0; d < nd; d++) {
            shape[d] = (b4 >> (2 * d)) % 4 * (1 + b1 % 5) + (b1 >> 7);
            elems *= (size_t)shape[d];
        }
        size_t cap = 32 * (size_t)P->max_payload + 64; /* a bounded number of frames */
        if (elems * sf_dtype_size(dt) > cap) nd = 1, shape[0] = (int64_t)(cap / sf_dtype_size(dt));
        x->v = sf_value_new(dt, nd, shape);
        REQUIRE(x->v);
        for (size_t k = 0; k < x->v->nbytes; k++) ((uint8_t *)x->v->data)[k] = (uint8_t)(k * 7 + (size_t)i * 31 + b3);
    }
    sf_stream_msg *m = sf__stream_msg_new(&x->h, x->v);
    REQUIRE(m);
    sf__stream_append(&P->s, m);
    P->c.appended++;
}

static void pair_run(input *in, int abandon) {
    pair P;
    memset(&P, 0, sizeof P);
    P.window = 1 + byte(in) % 16;
    P.max_payload = 1 + (((uint32_t)byte(in) | (uint32_t)byte(in) << 8) % 600);
    P.buf = malloc(P.max_payload);
    P.last = malloc(P.max_payload);
    REQUIRE(P.buf && P.last);
    REQUIRE(sf__stream_init(&P.s, P.window, P.max_payload, 1 << 16, pair_deliver, &P.c) == SF_OK);
    REQUIRE(sf__stream_init(&P.r, P.window, P.max_payload, 1 << 16, pair_deliver, &P.c) == SF_OK);
    while (more(in)) {
        uint8_t op = byte(in);
        switch (op % 8) {
        case 0: append(&P, in); break;
        case 1:
            for (int k = 0; k <= op >> 5; k++) send_one(&P);
            break;
        case 2:
            for (int k = 0; k <= op >> 5; k++) deliver_one(&P);
            break;
        case 3: ack(&P, P.r.rx_seq); break;
        case 4: /* a break: what was in flight is lost; the sender rewinds, learning the ack or not */
            link_clear(&P);
            if (op & 0x10) ack(&P, P.r.rx_seq);
            sf__stream_rewind(&P.s);
            if (op & 0x20) ack(&P, P.r.rx_seq);
            break;
        case 5: /* duplicates: the last frame sent again, or an old sequence number */
            if (P.last_seq && (op & 0x10)) link_push(&P, P.last_seq, P.last, P.last_len);
            else if (P.r.rx_seq) link_push(&P, 1 + byte(in) % P.r.rx_seq, P.buf, 1);
            break;
        case 6: ack(&P, P.s.acked ? byte(in) % (P.s.acked + 1) : 0); break; /* stale */
        case 7: { /* an ack of frames never sent: refused, nothing changes */
            int wc = P.s.win_count;
            uint64_t acked = P.s.acked;
            REQUIRE(sf__stream_ack(&P.s, P.s.next_seq + 1 + byte(in)) == SF_EINVAL);
            REQUIRE(P.s.win_count == wc && P.s.acked == acked);
            break;
        }
        }
    }
    if (!abandon) { /* drain: no more losses */
        for (int round = 0; round < 100000 && !(sf__stream_drained(&P.s) && !P.ln); round++) {
            while (P.ln) deliver_one(&P);
            while (send_one(&P)) deliver_one(&P);
            ack(&P, P.r.rx_seq);
        }
        REQUIRE(sf__stream_drained(&P.s) && !sf__stream_ready(&P.s) && P.ln == 0);
        REQUIRE(P.c.delivered == P.c.appended);
        REQUIRE(P.r.asm_v == NULL && P.r.asm_got == 0);
    }
    link_clear(&P);
    /* abandoned: messages queued, in the window, half reassembled; freeing lets go of all */
    sf__stream_free(&P.s);
    sf__stream_free(&P.r);
    for (int i = 0; i < P.c.appended; i++)
        if (P.c.msgs[i].v) {
            REQUIRE(P.c.msgs[i].v->refcnt == 1);
            sf_value_unref(&P.c.msgs[i].v);
        }
    free(P.buf);
    free(P.last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    input in = {data + 1, size - 1};
    if (data[0] & 1) pair_run(&in, (data[0] & 6) == 6);
    else receiver(&in);
    sf__value_thread_cleanup();
    return 0;
}
