/* The bridge's stream layer: see stream.h. */
#include "mpi/prod/stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

int sf__stream_init(sf_stream *s, int window, uint32_t max_payload, uint64_t max_message,
                    sf_stream_deliver deliver, void *arg) {
    memset(s, 0, sizeof *s);
    if (window < 1 || max_payload < 1 || !deliver) return SF_EINVAL;
    s->win = calloc((size_t)window, sizeof *s->win);
    if (!s->win) return SF_ENOMEM;
    s->window = window;
    s->max_payload = max_payload;
    s->max_message = max_message;
    s->deliver = deliver;
    s->deliver_arg = arg;
    s->asm_need = SF_WIRE_FIXED;
    return SF_OK;
}

sf_stream_msg *sf__stream_msg_new(const sf_msg_hdr *h, sf_value *v) {
    sf_stream_msg *m = malloc(sizeof *m);
    if (!m) return NULL;
    m->next = NULL;
    m->refs = 1;
    m->head_len = (uint32_t)sf__wire_encode(m->head, h, v, 0);
    m->v = sf_value_ref(v);
    m->total = m->head_len + (v ? v->nbytes : 0);
    return m;
}

static void msg_unref(sf_stream_msg *m) {
    if (--m->refs == 0) sf__stream_msg_drop(m);
}

void sf__stream_msg_drop(sf_stream_msg *m) {
    sf_value_unref(&m->v);
    free(m);
}

void sf__stream_append(sf_stream *s, sf_stream_msg *m) {
    m->next = NULL;
    if (s->q_tail) s->q_tail->next = m;
    else s->q_head = m;
    s->q_tail = m;
}

void sf__stream_free(sf_stream *s) {
    for (sf_stream_msg *m = s->q_head, *n; m; m = n) {
        n = m->next;
        msg_unref(m);
    }
    for (int i = 0; s->win && i < s->win_count; i++) msg_unref(s->win[(s->win_start + i) % s->window].m);
    free(s->win);
    sf_value_unref(&s->asm_v);
    memset(s, 0, sizeof *s);
}

/* `len` bytes of message m from offset off into dst: the header, then the value's data. */
static void gather(const sf_stream_msg *m, uint64_t off, uint32_t len, uint8_t *dst) {
    if (off < m->head_len) {
        uint32_t k = m->head_len - (uint32_t)off < len ? m->head_len - (uint32_t)off : len;
        memcpy(dst, m->head + off, k);
        dst += k, off += k, len -= k;
    }
    if (len) memcpy(dst, (const uint8_t *)m->v->data + (off - m->head_len), len);
}

int sf__stream_ready(const sf_stream *s) {
    return s->sent < s->win_count || (s->q_head && s->win_count < s->window);
}

int sf__stream_next(sf_stream *s, uint8_t *buf, uint64_t *seq, uint32_t *len) {
    if (s->sent < s->win_count) { /* a resend after a reconnection */
        sf_stream_win *e = &s->win[(s->win_start + s->sent) % s->window];
        s->sent++;
        gather(e->m, e->off, e->len, buf);
        *seq = e->seq;
        *len = e->len;
        return 1;
    }
    if (!s->q_head || s->win_count == s->window) return 0;
    sf_stream_msg *m = s->q_head;
    uint64_t left = m->total - s->q_off;
    uint32_t n = left < s->max_payload ? (uint32_t)left : s->max_payload;
    sf_stream_win *e = &s->win[(s->win_start + s->win_count) % s->window];
    *e = (sf_stream_win){++s->next_seq, m, s->q_off, n};
    m->refs++;
    s->win_count++;
    s->sent++;
    gather(m, s->q_off, n, buf);
    s->q_off += n;
    if (s->q_off == m->total) { /* wholly cut: the queue lets go, the window holds it */
        s->q_head = m->next;
        if (!s->q_head) s->q_tail = NULL;
        s->q_off = 0;
        msg_unref(m);
    }
    *seq = e->seq;
    *len = n;
    return 1;
}

int sf__stream_ack(sf_stream *s, uint64_t ack) {
    if (ack > s->next_seq) return SF_EINVAL;
    if (ack > s->acked) s->acked = ack;
    while (s->win_count > 0) {
        sf_stream_win *e = &s->win[s->win_start];
        if (e->seq > s->acked) break;
        msg_unref(e->m);
        e->m = NULL;
        s->win_start = (s->win_start + 1) % s->window;
        s->win_count--;
        if (s->sent > 0) s->sent--;
    }
    return SF_OK;
}

void sf__stream_rewind(sf_stream *s) { s->sent = 0; }

int sf__stream_drained(const sf_stream *s) { return !s->q_head && s->win_count == 0; }

__attribute__((format(printf, 2, 3))) static int rx_fail(sf_stream *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return SF_EINVAL;
}

/* The header of the message being reassembled is complete: check it, allocate. */
static int rx_header(sf_stream *s) {
    if (sf__wire_decode(s->asm_head, s->asm_got, UINT64_MAX, &s->asm_msg))
        return rx_fail(s, "a malformed message header");
    if (s->asm_msg.nbytes > s->max_message)
        return rx_fail(s, "a message of %llu bytes, more than max_message (%llu)",
                       (unsigned long long)s->asm_msg.nbytes, (unsigned long long)s->max_message);
    if (!s->asm_msg.has_val) return SF_OK;
    s->asm_v = sf__value_alloc(s->asm_msg.dtype, s->asm_msg.ndim, s->asm_msg.shape);
    if (!s->asm_v) return SF_ENOMEM;
    s->asm_data = 0;
    return SF_OK;
}

static int rx_complete(sf_stream *s) {
    sf_value *v = s->asm_v;
    s->asm_v = NULL;
    s->asm_got = 0;
    s->asm_need = SF_WIRE_FIXED;
    return s->deliver(s->deliver_arg, &s->asm_msg, v);
}

int sf__stream_rx(sf_stream *s, uint64_t seq, const uint8_t *p, uint32_t len) {
    if (seq <= s->rx_seq) return SF_OK; /* a duplicate of a resent frame */
    if (seq != s->rx_seq + 1) {
        rx_fail(s, "frame %llu after %llu: a gap", (unsigned long long)seq, (unsigned long long)s->rx_seq);
        return SF_ERANGE;
    }
    s->rx_seq = seq;
    while (len > 0) {
        if (s->asm_got < s->asm_need) { /* header bytes */
            size_t k = s->asm_need - s->asm_got < len ? s->asm_need - s->asm_got : len;
            memcpy(s->asm_head + s->asm_got, p, k);
            s->asm_got += k, p += k, len -= (uint32_t)k;
            if (s->asm_got == SF_WIRE_FIXED && s->asm_need == SF_WIRE_FIXED &&
                sf__wire_peek(s->asm_head, s->asm_got, &s->asm_need))
                return rx_fail(s, "a malformed message header");
            if (s->asm_got < s->asm_need) continue;
            int rc = rx_header(s);
            if (rc) return rc;
            if (!s->asm_v || s->asm_v->nbytes == 0) {
                if ((rc = rx_complete(s))) return rc;
            }
            continue;
        }
        uint64_t left = s->asm_v->nbytes - s->asm_data;
        uint32_t k = left < len ? (uint32_t)left : len;
        memcpy((uint8_t *)s->asm_v->data + s->asm_data, p, k);
        s->asm_data += k, p += k, len -= k;
        if (s->asm_data == s->asm_v->nbytes) {
            int rc = rx_complete(s);
            if (rc) return rc;
        }
    }
    return SF_OK;
}
