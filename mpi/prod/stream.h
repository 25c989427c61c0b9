/*
 * The bridge's stream layer: one reliable, ordered message stream per peer on top of
 * connections that may break. Pure code: no sockets, threads, clocks or cryptography, so
 * it is tested and fuzzed on its own (tests/unit/test_stream.c, tests/fuzz/fuzz_stream.c).
 *
 * Outgoing: messages (a wire header, mpi/wire.h, and an optional value) are appended in
 * order; their bytes are cut into DATA frames of at most max_payload bytes, numbered
 * from 1. A frame stays in the window (a reference to its message, an offset and a
 * length: no copy) until a cumulative acknowledgement covers it; at most `window` frames
 * are outstanding, after which nothing new is cut until acks come back. After a
 * reconnection, rewind() makes every unacknowledged frame go out again, in order; the
 * receiver drops duplicates by sequence number. So a broken connection loses and
 * duplicates nothing.
 *
 * Incoming: DATA frames must come in order (a duplicate is ignored, a gap is an error);
 * their bytes are reassembled into messages: the header is decoded and checked by the
 * wire layer, the value's buffer is allocated only once the header has been checked and
 * only up to max_message bytes, and the data is copied straight into it. Each complete
 * message goes to the deliver callback, which takes the value reference.
 *
 * Threading: one owner (the bridge thread). sf__stream_msg_new may run on another thread;
 * the message then changes hands through the caller's own queue.
 */
#ifndef SF_PROD_STREAM_H
#define SF_PROD_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/wire.h"

typedef struct sf_stream_msg {
    struct sf_stream_msg *next;
    int refs;       /* the stream's queue and its window entries */
    uint8_t head[SF_WIRE_MAX];
    uint32_t head_len;
    sf_value *v;    /* a reference, or NULL */
    uint64_t total; /* head_len + value bytes */
} sf_stream_msg;

typedef struct sf_stream_win {
    uint64_t seq;
    sf_stream_msg *m;
    uint64_t off;
    uint32_t len;
} sf_stream_win;

/* A complete incoming message: takes the reference on v (NULL without a value). Returns 0,
 * or a negative status that sf__stream_rx passes on (the callback reports it). */
typedef int (*sf_stream_deliver)(void *arg, const sf_wire_msg *m, sf_value *v);

typedef struct sf_stream {
    uint32_t max_payload;
    int window;
    uint64_t max_message;
    sf_stream_deliver deliver;
    void *deliver_arg;
    /* out */
    sf_stream_msg *q_head, *q_tail; /* not yet wholly cut into frames */
    uint64_t q_off;                 /* bytes of q_head already cut */
    sf_stream_win *win;             /* ring of `window` entries */
    int win_start, win_count;
    int sent;                       /* window entries (from win_start) sent on this connection */
    uint64_t next_seq, acked;
    /* in */
    uint64_t rx_seq;                /* last in-order DATA frame received */
    uint8_t asm_head[SF_WIRE_MAX];
    size_t asm_got, asm_need;
    sf_wire_msg asm_msg;
    sf_value *asm_v;
    uint64_t asm_data;
    char err[160];                  /* why the last rx failed */
} sf_stream;

int sf__stream_init(sf_stream *s, int window, uint32_t max_payload, uint64_t max_message,
                    sf_stream_deliver deliver, void *arg);
/* Drops every queued message, window entry and partial message. */
void sf__stream_free(sf_stream *s);

/* A message to send: the header encoded, a reference on v. NULL on ENOMEM. Free one
 * that never reaches a stream with sf__stream_msg_drop. */
sf_stream_msg *sf__stream_msg_new(const sf_msg_hdr *h, sf_value *v);
void sf__stream_msg_drop(sf_stream_msg *m);
void sf__stream_append(sf_stream *s, sf_stream_msg *m);

/* The next DATA frame to send on this connection (a resend first, then new bytes while
 * the window has room): its payload copied into buf (max_payload bytes), 1 with *seq and
 * *len; 0 when there is none. */
int sf__stream_next(sf_stream *s, uint8_t *buf, uint64_t *seq, uint32_t *len);
/* 1 if sf__stream_next would give a frame. */
int sf__stream_ready(const sf_stream *s);
/* A cumulative ack from the peer: frames up to `ack` are released. SF_EINVAL if it
 * acknowledges frames never sent. */
int sf__stream_ack(sf_stream *s, uint64_t ack);
/* A new connection: every unacknowledged frame goes out again, oldest first. */
void sf__stream_rewind(sf_stream *s);
/* Nothing queued and nothing unacknowledged. */
int sf__stream_drained(const sf_stream *s);

/* An incoming DATA frame. 0: accepted (or a duplicate, ignored). SF_ERANGE: a gap (the
 * frame is not taken; a fresh connection resumes). SF_EINVAL: a malformed or oversized
 * message (the stream is broken for good). SF_ENOMEM. s->err says which. Or the deliver
 * callback's status. */
int sf__stream_rx(sf_stream *s, uint64_t seq, const uint8_t *p, uint32_t len);

#endif
