/* The bridge's connection layer: see conn.h. */
#include "mpi/prod/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpi/prod/frame.h"
#include "sfmpi/sf.h"

#define KK_MSG 48 /* a KK handshake message without payload: e (32) and a tag (16) */

enum { S_CONNECTING = 1, S_SEND, S_RECV, S_UNCONFIRMED_LEN, S_UNCONFIRMED_FRAME };

int sf__br_set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

void sf__br_tune(int fd) {
    int one = 1, sz = 4 << 20;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

int sf__br_resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    if (getaddrinfo(host, p, &hints, &res) || !res) return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void put_be16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static unsigned get_be16(const uint8_t *p) { return ((unsigned)p[0] << 8) | p[1]; }

static void prologue(const br_hs_cfg *cfg, int dialer, int target, uint8_t *out, size_t *len) {
    size_t n = 0;
    n += (size_t)snprintf((char *)out + n, 64, "sfmpi-bridge/%d", BR_PROTO_VERSION) + 1;
    memcpy(out + n, cfg->cluster_hash, 32);
    n += 32;
    size_t jl = strlen(cfg->job_id);
    memcpy(out + n, cfg->job_id, jl + 1);
    n += jl + 1;
    put_be16(out + n, (unsigned)dialer);
    put_be16(out + n + 2, (unsigned)target);
    n += 4;
    const char *cn = sf__noise_protocol_name(cfg->cipher);
    memcpy(out + n, cn, strlen(cn) + 1);
    n += strlen(cn) + 1;
    *len = n;
}

__attribute__((format(printf, 3, 4))) static int finish(br_conn *c, int outcome, const char *fmt, ...) {
    c->outcome = outcome;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, sizeof c->why, fmt, ap);
        va_end(ap);
    }
    return 1;
}

static void hello(uint8_t *out, int from, int to, unsigned len) {
    memcpy(out, "SFMPI", 5);
    out[5] = BR_PROTO_VERSION;
    put_be16(out + 6, (unsigned)from);
    put_be16(out + 8, (unsigned)to);
    out[10] = (uint8_t)len;
}

int sf__br_conn_dial(br_conn *c, int kind, const br_hs_cfg *cfg, int peer,
                     const struct sockaddr_storage *addr, socklen_t alen, double now,
                     double timeout) {
    sf_noise_hs *hs = c->hs;
    sf_noise_cs *tx = c->tx, *rx = c->rx;
    memset(c, 0, sizeof *c);
    c->hs = hs, c->tx = tx, c->rx = rx;
    c->fd = -1;
    c->kind = kind;
    c->peer = peer;
    c->started = now;
    c->deadline = now + timeout;
    if (kind == BR_DIAL) {
        /* the handshake state (ephemeral key included) is made before connecting */
        uint8_t pro[512];
        size_t pl, ml;
        prologue(cfg, cfg->self, peer, pro, &pl);
        if (!c->hs || sf__noise_init(c->hs, cfg->cipher, 1, pro, pl, cfg->key_priv,
                                     cfg->parties[peer].public_key, NULL) ||
            sf__noise_write(c->hs, NULL, 0, c->out + BR_HELLO, sizeof c->out - BR_HELLO, &ml) ||
            ml != KK_MSG)
            return finish(c, BR_FAILED, "cannot prepare the handshake");
        hello(c->out, cfg->self, peer, KK_MSG);
        c->out_len = BR_HELLO + KK_MSG;
    } else {
        hello(c->out, cfg->self, peer, 0);
        c->out_len = BR_HELLO;
    }
    c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) return finish(c, BR_FAILED, "socket: %s", strerror(errno));
    if (connect(c->fd, (const struct sockaddr *)addr, alen) == 0) {
        c->state = S_SEND;
    } else if (errno == EINPROGRESS) {
        c->state = S_CONNECTING;
    } else {
        int e = errno;
        return finish(c, e == ECONNREFUSED ? BR_GONE : BR_FAILED, "connect: %s", strerror(e));
    }
    return 0;
}

void sf__br_conn_accept(br_conn *c, int fd, double now, double timeout) {
    sf_noise_hs *hs = c->hs;
    sf_noise_cs *tx = c->tx, *rx = c->rx;
    memset(c, 0, sizeof *c);
    c->hs = hs, c->tx = tx, c->rx = rx;
    c->fd = fd;
    c->kind = BR_ACCEPT;
    c->peer = -1;
    c->started = now;
    c->deadline = now + timeout;
    c->state = S_RECV;
    c->in_need = BR_HELLO;
}

short sf__br_conn_events(const br_conn *c) {
    if (c->outcome) return 0;
    return c->state == S_CONNECTING || c->state == S_SEND ? POLLOUT : POLLIN;
}

int sf__br_conn_unconfirmed(const br_conn *c) {
    return c->state == S_UNCONFIRMED_LEN || c->state == S_UNCONFIRMED_FRAME;
}

void sf__br_conn_refuse(br_conn *c, int reason) {
    uint8_t r[3] = {0xFF, 0xFF, (uint8_t)reason};
    if (c->fd >= 0) {
        ssize_t w = send(c->fd, r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
}

void sf__br_conn_close(br_conn *c, int keep_fd) {
    if (c->fd >= 0 && !keep_fd) close(c->fd);
    c->fd = -1;
    if (c->hs) sf__noise_wipe(c->hs);
    if (c->tx) sf__noise_cs_wipe(c->tx);
    if (c->rx) sf__noise_cs_wipe(c->rx);
}

/* ---------------------------------------------------------------- the steps */

/* An answer's first bytes (dial/probe): u16 length, or 0xFFFF and a reason byte. */
static int answer(br_conn *c, const br_hs_cfg *cfg) {
    unsigned len = get_be16(c->in);
    if (len == 0xFFFF) {
        if (c->in_got < 3) {
            c->in_need = 3;
            return 0;
        }
        int r = c->in[2];
        if (c->kind == BR_PROBE)
            return r == BR_REASON_PROBE_ALIVE ? finish(c, BR_ALIVE, NULL)
                                              : finish(c, BR_FAILED, "unexpected answer to a probe");
        if (r == BR_REASON_BUSY) return finish(c, BR_BUSY, "busy: too many pending connections");
        return finish(c, BR_REJECTED, "refused the handshake: its keys, cluster file or job id do "
                                      "not match ours");
    }
    if (c->kind == BR_PROBE || len != KK_MSG) return finish(c, BR_FAILED, "a malformed answer");
    if (c->in_got < 2 + KK_MSG) {
        c->in_need = 2 + KK_MSG;
        return 0;
    }
    size_t pl;
    uint8_t hh[SF_NOISE_HASH];
    if (sf__noise_read(c->hs, c->in + 2, KK_MSG, NULL, 0, &pl) ||
        sf__noise_split(c->hs, c->tx, c->rx, hh))
        return finish(c, BR_REJECTED, "its handshake message does not authenticate (keys, cluster "
                                      "file or job id differ)");
    return finish(c, BR_OPEN, NULL);
}

/* The responder has the hello (and message 1). */
static int accept_hello(br_conn *c, const br_hs_cfg *cfg) {
    const uint8_t *h = c->in;
    int dialer = (int)get_be16(h + 6), target = (int)get_be16(h + 8);
    unsigned len = h[10];
    if (memcmp(h, "SFMPI", 5)) return finish(c, BR_FAILED, "not an sfmpi bridge");
    if (h[5] != BR_PROTO_VERSION) {
        sf__br_conn_refuse(c, BR_REASON_REFUSED);
        return finish(c, BR_FAILED, "another protocol version (%d)", h[5]);
    }
    if (target != cfg->self || dialer < 0 || dialer >= cfg->n || dialer == cfg->self) {
        sf__br_conn_refuse(c, BR_REASON_REFUSED);
        return finish(c, BR_FAILED, "invalid party indices (from %d to %d)", dialer, target);
    }
    c->peer = dialer;
    if (len == 0) { /* a probe: are we still here? */
        uint8_t r[3] = {0xFF, 0xFF, BR_REASON_PROBE_ALIVE};
        ssize_t w = send(c->fd, r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        return finish(c, BR_ANSWERED, NULL);
    }
    if (len != KK_MSG || dialer > cfg->self) {
        sf__br_conn_refuse(c, BR_REASON_REFUSED);
        return finish(c, BR_FAILED, "claiming to be %s: %s", cfg->parties[dialer].name,
                      dialer > cfg->self ? "a higher party index does not dial" : "a malformed hello");
    }
    if (c->in_got < BR_HELLO + KK_MSG) {
        c->in_need = BR_HELLO + KK_MSG;
        return 0;
    }
    uint8_t pro[512], hh[SF_NOISE_HASH];
    size_t pl, ml;
    prologue(cfg, dialer, cfg->self, pro, &pl);
    if (sf__noise_init(c->hs, cfg->cipher, 0, pro, pl, cfg->key_priv, cfg->parties[dialer].public_key,
                       NULL) ||
        sf__noise_read(c->hs, c->in + BR_HELLO, KK_MSG, NULL, 0, &ml)) {
        sf__br_conn_refuse(c, BR_REASON_REFUSED);
        return finish(c, BR_FAILED, "claiming to be %s: the handshake failed (wrong key, or another "
                      "cluster file or job)", cfg->parties[dialer].name);
    }
    if (sf__noise_write(c->hs, NULL, 0, c->out + 2, sizeof c->out - 2, &ml) || ml != KK_MSG ||
        sf__noise_split(c->hs, c->tx, c->rx, hh))
        return finish(c, BR_FAILED, "the handshake failed");
    put_be16(c->out, KK_MSG);
    c->out_len = 2 + KK_MSG;
    c->out_off = 0;
    c->state = S_SEND;
    return 0;
}

/* The first frame on an accepted connection must be a RESUME that opens with the new keys. */
static int confirm(br_conn *c, const br_hs_cfg *cfg) {
    if (c->state == S_UNCONFIRMED_LEN) {
        uint32_t len;
        if (sf__frame_len(c->in, UINT32_MAX - 1, &len) || len != cfg->resume_len)
            return finish(c, BR_FAILED, "claiming to be %s: the first frame is not a RESUME",
                          cfg->parties[c->peer].name);
        c->state = S_UNCONFIRMED_FRAME;
        c->in_need = 4 + len;
        return 0;
    }
    sf_frame f;
    if (sf__frame_open(c->rx, c->in, c->in + 4, (uint32_t)(c->in_got - 4), &f) ||
        f.type != SF_FRAME_RESUME)
        return finish(c, BR_FAILED, "claiming to be %s: its first frame does not authenticate (a "
                      "replayed handshake?)", cfg->parties[c->peer].name);
    c->resume_ack = f.ack;
    return finish(c, BR_CONFIRMED, NULL);
}

static int sent_all(br_conn *c) {
    if (c->kind == BR_ACCEPT) { /* message 2 is out: wait for the confirming frame */
        c->state = S_UNCONFIRMED_LEN;
        c->in_got = 0;
        c->in_need = 4;
    } else {
        c->state = S_RECV;
        c->in_got = 0;
        c->in_need = 2;
    }
    return 0;
}

int sf__br_conn_step(br_conn *c, const br_hs_cfg *cfg, short revents, double now) {
    if (c->outcome) return 1;
    if (now >= c->deadline)
        return finish(c, BR_FAILED, "%s", c->state == S_CONNECTING ? "connect timed out"
                                          : sf__br_conn_unconfirmed(c) ? "no confirming frame in time"
                                          : "no handshake in time");
    if (!revents) return 0;
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err)
            return finish(c, err == ECONNREFUSED ? BR_GONE : BR_FAILED, "connect: %s",
                          strerror(err ? err : errno));
        if (!(revents & POLLOUT)) return 0;
        c->state = S_SEND;
    }
    while (c->state == S_SEND) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
            int e = errno;
            return finish(c, e == ECONNREFUSED || e == ECONNRESET || e == EPIPE ? BR_GONE : BR_FAILED,
                          "send: %s", strerror(e));
        }
        c->out_off += (size_t)w;
        if (c->out_off == c->out_len) sent_all(c);
    }
    for (;;) { /* S_RECV and the unconfirmed states: read exactly what the step needs */
        if (c->in_got < c->in_need) {
            ssize_t r = recv(c->fd, c->in + c->in_got, c->in_need - c->in_got, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno == ECONNRESET))
                return finish(c, c->kind != BR_ACCEPT && !c->answered ? BR_GONE : BR_FAILED,
                              "closed %s", c->answered || c->kind == BR_ACCEPT ? "mid-handshake"
                                                                                : "before answering");
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
                return finish(c, BR_FAILED, "recv: %s", strerror(errno));
            }
            c->in_got += (size_t)r;
            c->answered = 1;
            if (c->in_got < c->in_need) continue;
        }
        int done;
        if (c->kind == BR_ACCEPT && c->state == S_RECV) done = accept_hello(c, cfg);
        else if (c->kind == BR_ACCEPT) done = confirm(c, cfg);
        else done = answer(c, cfg);
        if (done) return 1;
        if (c->state == S_SEND) return sf__br_conn_step(c, cfg, POLLOUT, now);
    }
}
