/*
 * Production transport: parties are separate jobs; their leaders talk over TCP channels
 * encrypted and mutually authenticated with Noise KK (mpi/bridge/noise.c) and AEAD frames
 * (mpi/bridge/frame.c).
 *
 * Threads: the program's thread (send/recv) and one bridge thread that owns every socket.
 * send() serialises the message header, queues it with a reference on the value, and wakes
 * the bridge thread (eventfd); recv(src) waits on a condition variable for the next
 * complete message from src. The bridge thread cuts the outgoing byte stream of each peer
 * into DATA frames of at most max_frame bytes, numbers them (seq), seals and writes them;
 * on the other side it opens them, drops duplicates and reassembles messages straight into
 * the new value's buffer.
 *
 * Reliability: a sent DATA frame stays in the peer's window (a reference to its message,
 * offset, length: no copy) until the peer acknowledges it (cumulative ack in every frame,
 * explicit ACK frames every window/4 frames, heartbeats). When a connection breaks — a
 * read/write error, an EOF, a frame that fails authentication (a flipped bit, a replay) —
 * it is closed; the lower-index party redials with exponential backoff and jitter, a fresh
 * Noise handshake gives fresh keys, both sides send RESUME with the last seq they received
 * in order, and the sender retransmits every unacknowledged frame from its window. So a
 * dropped connection loses and duplicates nothing. At most `window` frames are
 * unacknowledged; the sender stops cutting frames until acks come back.
 *
 * Liveness: a peer from which nothing (not even a heartbeat) arrived for peer_timeout
 * seconds, connected or not, is lost: the bridge thread reports it by name and ends the
 * process (exit SF_EXIT_PEER), so no party hangs. A fatal error elsewhere sends CLOSE with
 * the abort flag to every peer, which report it and exit at once.
 *
 * Handshake on a new connection (dialer = lower index):
 *   dialer -> "SFMPI" u8 version | u16 dialer index | u16 target index | u16 len | msg1
 *   target -> u16 len | msg2            (or u16 0xFFFF | u8 reason, then close)
 * The prologue binds the protocol version, the cluster file's SHA-256, the job id, both
 * party indices and the cipher, so a peer with another config or from another job fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpi/bridge/cluster.h"
#include "mpi/bridge/frame.h"
#include "mpi/bridge/noise.h"
#include "mpi/transport.h"
#include "runtime/value.h"

#define PROTO_VERSION 1
#define HS_STEP_TIMEOUT_MS 3000
#define REKEY_FRAMES (1u << 20) /* rekey each direction every 2^20 frames (<= 16 TiB) */
/* Waits spin (yielding the CPU) before they sleep: SPIN_POLL polls of the bridge thread
 * after traffic, SPIN_RECV checks of a receiving program thread. A request/reply exchange
 * then costs no thread wake-ups (2 parties: 131 -> ~60 us per tiny-task round trip). */
#define SPIN_POLL 200
#define SPIN_RECV 200

enum { P_DOWN = 0, P_OPEN = 1 };

typedef struct out_msg {
    struct out_msg *next;
    int refs;       /* queue + window entries (bridge thread only after hand-over) */
    uint8_t *head;  /* u64 length | wire header (owned) */
    size_t head_len;
    sf_value *v;    /* data, or NULL */
    uint64_t total; /* head_len + data bytes */
} out_msg;

typedef struct win_ent {
    uint64_t seq;
    out_msg *m;
    uint64_t off;
    uint32_t len;
} win_ent;

typedef struct in_msg {
    struct in_msg *next;
    sf_msg_hdr h;
    sf_value *v;
} in_msg;

typedef struct peer {
    int idx;
    int fd;
    int state;
    int dialer; /* we dial this peer */
    double next_dial, backoff;
    double last_rx, last_tx; /* this connection: last complete frame in / out */
    double last_frame;       /* liveness: last authenticated frame on any connection */
    double conn_since;       /* when this connection came up */
    int ever_connected;
    sf_noise_cs tx, rx;
    uint64_t tx_frames, rx_frames; /* since the last rekey, per direction */
    /* outgoing: app queue (under lock) -> private list */
    out_msg *q_head, *q_tail;   /* shared */
    out_msg *p_head, *p_tail;   /* private: not yet fully framed */
    uint64_t p_off;             /* bytes of p_head already framed */
    win_ent *win;               /* ring of unacked frames (wcap entries) */
    int win_start, win_count, wcap;
    int resend;                 /* window entries (from start) already resent on this connection */
    uint64_t next_seq, acked;
    int need_resume;            /* send RESUME first on a new connection */
    int resumed;                /* peer's RESUME received on this connection */
    /* tx buffer: one frame being written */
    uint8_t *txbuf;
    size_t txlen, txoff;
    /* rx */
    uint8_t rxpre[4];
    size_t rxpre_got;
    uint8_t *rxbuf;
    uint32_t rxlen;
    size_t rxgot;
    uint64_t rx_seq, ack_sent;
    /* reassembly of the incoming byte stream */
    uint8_t asm_hdr[8 + SF_WIRE_HDR_SIZE(SF_MAX_DIMS)];
    size_t asm_hdr_got, asm_hdr_need;
    sf_value *asm_v;
    uint64_t asm_data_got;
    /* completed messages (under lock) */
    in_msg *in_head, *in_tail;
    int got_close, closing_sent;
    char addr[300];
} peer;

typedef struct bridge {
    sf_transport base;
    int self, n;
    sf_cluster_party *parties;
    uint8_t key_priv[32];
    uint8_t cluster_hash[32];
    char job_id[256];
    sf_noise_cipher cipher;
    double peer_timeout, heartbeat, connect_timeout;
    int window;
    uint32_t max_frame; /* payload bytes */
    int quiet;
    peer *peers;
    int listen_fd, wake_fd;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;        /* under mu */
    int finishing;   /* under mu: app is in finish: close channels once acked */
    int all_closed;  /* under mu */
    int nopen;       /* under mu */
    char fatal[512]; /* under mu: set when the bridge failed */
} bridge;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void logf_(bridge *b, const char *fmt, ...) SF_PRINTF(2, 3);
static void logf_(bridge *b, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sfmpi: [prod %s bridge] %s\n", b->parties[b->self].name, line);
    fflush(stderr);
}

/* The bridge cannot go on: report by name and end the process. No party hangs. */
__attribute__((noreturn)) static void die(bridge *b, int code, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "sfmpi: [prod %s] error: %s\n", b->parties[b->self].name, line);
    fflush(stderr);
    _exit(code);
}

static void wake(bridge *b) {
    uint64_t one = 1;
    ssize_t w = write(b->wake_fd, &one, sizeof one);
    (void)w;
}

/* ------------------------------------------------------------------ sockets */

static int set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

static void tune(int fd) {
    int one = 1, sz = 4 << 20;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

static int resolve(const sf_cluster_party *p, struct sockaddr_storage *ss, socklen_t *len) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    if (getaddrinfo(p->host, port, &hints, &res) || !res) return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Blocking I/O with a deadline, for the handshake only. */
static int io_full(int fd, void *buf, size_t len, int writing, int timeout_ms) {
    size_t done = 0;
    double end = now_s() + timeout_ms / 1000.0;
    while (done < len) {
        ssize_t r = writing ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : recv(fd, (char *)buf + done, len - done, MSG_DONTWAIT);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0 && !writing) return -1;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
        int left = (int)((end - now_s()) * 1000);
        if (left <= 0) return -1;
        struct pollfd pf = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
        if (poll(&pf, 1, left) < 0 && errno != EINTR) return -1;
    }
    return 0;
}

static void prologue(bridge *b, int dialer, int target, uint8_t *out, size_t *len) {
    size_t n = 0;
    n += (size_t)snprintf((char *)out + n, 64, "sfmpi-bridge/%d", PROTO_VERSION) + 1;
    memcpy(out + n, b->cluster_hash, 32);
    n += 32;
    size_t jl = strlen(b->job_id);
    memcpy(out + n, b->job_id, jl + 1);
    n += jl + 1;
    out[n++] = (uint8_t)(dialer >> 8), out[n++] = (uint8_t)dialer;
    out[n++] = (uint8_t)(target >> 8), out[n++] = (uint8_t)target;
    const char *cn = sf__noise_protocol_name(b->cipher);
    memcpy(out + n, cn, strlen(cn) + 1);
    n += strlen(cn) + 1;
    *len = n;
}

/* ------------------------------------------------------------------ connection state */

static void win_release_acked(peer *p, uint64_t ack) {
    if (ack > p->acked) p->acked = ack;
    while (p->win_count > 0) {
        win_ent *e = &p->win[p->win_start];
        if (e->seq > p->acked) break;
        if (--e->m->refs == 0) {
            sf_value_unref(&e->m->v);
            free(e->m->head);
            free(e->m);
        }
        e->m = NULL;
        p->win_start = (p->win_start + 1) % p->wcap;
        p->win_count--;
        if (p->resend > 0) p->resend--;
    }
}

static void conn_down(bridge *b, peer *p, const char *why) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    if (p->state == P_OPEN) {
        pthread_mutex_lock(&b->mu);
        b->nopen--;
        pthread_mutex_unlock(&b->mu);
        /* finishing, the peer's bye received and everything of ours acknowledged: the
         * peer has all it needs, so a connection lost now (with the CLOSE frames on it)
         * ends the channel instead of waiting out peer_timeout for a peer that is gone */
        pthread_mutex_lock(&b->mu);
        int finishing = b->finishing;
        pthread_mutex_unlock(&b->mu);
        if (finishing && !p->got_close && p->win_count == 0 && !p->p_head) {
            p->got_close = p->closing_sent = 1;
            p->txoff = p->txlen = 0;
            pthread_mutex_lock(&b->mu);
            pthread_cond_broadcast(&b->cv);
            pthread_mutex_unlock(&b->mu);
        }
        if (!b->quiet && !p->got_close)
            logf_(b, "connection to %s lost (%s); %s", b->parties[p->idx].name, why,
                  p->dialer ? "reconnecting" : "waiting for it to reconnect");
    }
    p->state = P_DOWN;
    sf__noise_cs_wipe(&p->tx);
    sf__noise_cs_wipe(&p->rx);
    p->txlen = p->txoff = 0;
    p->rxpre_got = 0;
    p->rxlen = 0;
    p->rxgot = 0;
}

/* A dial attempt failed: exponential backoff (10 ms doubling to 1 s) with jitter. */
static void dial_failed(peer *p) {
    p->backoff = p->backoff > 0 ? p->backoff * 2 : 0.01;
    if (p->backoff > 1.0) p->backoff = 1.0;
    p->next_dial = now_s() + p->backoff * (0.5 + 0.5 * (double)randombytes_uniform(1000) / 1000.0);
}

static void conn_up(bridge *b, peer *p, int fd, sf_noise_cs *tx, sf_noise_cs *rx) {
    p->fd = fd;
    p->tx = *tx;
    p->rx = *rx;
    sodium_memzero(tx, sizeof *tx);
    sodium_memzero(rx, sizeof *rx);
    p->tx_frames = p->rx_frames = 0;
    p->state = P_OPEN;
    p->need_resume = 1;
    p->resumed = 0;
    p->resend = 0;
    p->txlen = p->txoff = 0;
    p->last_rx = p->last_tx = p->conn_since = now_s();
    if (!p->ever_connected) p->last_frame = p->conn_since;
    p->backoff = 0;
    set_nonblock(fd, 1);
    tune(fd);
    pthread_mutex_lock(&b->mu);
    b->nopen++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (p->ever_connected && !b->quiet)
        logf_(b, "reconnected to %s (fresh handshake); resuming", b->parties[p->idx].name);
    p->ever_connected = 1;
}

/* Dial peer p and run the initiator side of the handshake. */
static void dial(bridge *b, peer *p) {
    struct sockaddr_storage ss;
    socklen_t sl;
    dial_failed(p); /* the next attempt's time, unless this one succeeds */
    /* the handshake state (ephemeral key included) is made before connecting: it is off
     * the connection's critical path */
    uint8_t pro[512], buf[256], m2[256];
    size_t pl, ml;
    prologue(b, b->self, p->idx, pro, &pl);
    sf_noise_hs hs;
    sf_noise_cs tx, rx;
    uint8_t hh[32];
    if (sf__noise_init(&hs, b->cipher, 1, pro, pl, b->key_priv, b->parties[p->idx].public_key,
                       NULL) ||
        sf__noise_write(&hs, NULL, 0, buf + 11, sizeof buf - 11, &ml)) {
        sf__noise_wipe(&hs);
        return;
    }
    if (resolve(&b->parties[p->idx], &ss, &sl)) {
        sf__noise_wipe(&hs);
        return;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sf__noise_wipe(&hs);
        return;
    }
    set_nonblock(fd, 1);
    int rc = connect(fd, (struct sockaddr *)&ss, sl);
    if (rc < 0 && errno != EINPROGRESS) {
        sf__noise_wipe(&hs);
        close(fd);
        return;
    }
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t el = sizeof err;
    if (poll(&pf, 1, 1000) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
        sf__noise_wipe(&hs);
        close(fd);
        return;
    }
    memcpy(buf, "SFMPI", 5);
    buf[5] = PROTO_VERSION;
    buf[6] = (uint8_t)(b->self >> 8), buf[7] = (uint8_t)b->self;
    buf[8] = (uint8_t)(p->idx >> 8), buf[9] = (uint8_t)p->idx;
    buf[10] = (uint8_t)ml; /* KK message 1 with no payload: 48 bytes */
    uint8_t l2[2];
    if (io_full(fd, buf, 11 + ml, 1, HS_STEP_TIMEOUT_MS) ||
        io_full(fd, l2, 2, 0, HS_STEP_TIMEOUT_MS)) {
        sf__noise_wipe(&hs);
        close(fd);
        return;
    }
    size_t len2 = ((size_t)l2[0] << 8) | l2[1];
    if (len2 == 0xFFFF || len2 > sizeof m2 || io_full(fd, m2, len2, 0, HS_STEP_TIMEOUT_MS) ||
        sf__noise_read(&hs, m2, len2, NULL, 0, &ml) || sf__noise_split(&hs, &tx, &rx, hh)) {
        sf__noise_wipe(&hs);
        close(fd);
        if (!b->quiet)
            logf_(b, "%s at %s refused the handshake: its keys, cluster file or job id do not "
                     "match ours", b->parties[p->idx].name, p->addr);
        p->next_dial = now_s() + 1.0;
        return;
    }
    conn_up(b, p, fd, &tx, &rx);
}

/* Accept one connection and run the responder side. */
static void accept_one(bridge *b) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(b->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    char who[128] = "?";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, who, sizeof who);
    uint8_t hello[11], m1[256], out[256];
    size_t ml, l2;
    if (io_full(fd, hello, sizeof hello, 0, HS_STEP_TIMEOUT_MS) || memcmp(hello, "SFMPI", 5)) {
        if (!b->quiet) logf_(b, "refused a connection from %s: not an sfmpi bridge", who);
        close(fd);
        return;
    }
    int dialer = (hello[6] << 8) | hello[7], target = (hello[8] << 8) | hello[9];
    size_t len1 = hello[10];
    const char *why = NULL;
    if (hello[5] != PROTO_VERSION) why = "another protocol version";
    else if (target != b->self) why = "it wanted another party";
    else if (dialer < 0 || dialer >= b->n || dialer >= b->self) why = "unknown or invalid party index";
    uint8_t pro[512];
    size_t pl;
    sf_noise_hs hs;
    sf_noise_cs tx, rx;
    uint8_t hh[32];
    int hs_ok = 0;
    if (!why) {
        prologue(b, dialer, b->self, pro, &pl);
        if (io_full(fd, m1, len1, 0, HS_STEP_TIMEOUT_MS)) why = "handshake interrupted";
        else if (sf__noise_init(&hs, b->cipher, 0, pro, pl, b->key_priv,
                                b->parties[dialer].public_key, NULL) ||
                 sf__noise_read(&hs, m1, len1, NULL, 0, &ml)) {
            why = "handshake failed: wrong key, or another cluster file or job";
            sf__noise_wipe(&hs);
        } else if (sf__noise_write(&hs, NULL, 0, out + 2, sizeof out - 2, &l2) ||
                   sf__noise_split(&hs, &tx, &rx, hh)) {
            why = "handshake failed";
            sf__noise_wipe(&hs);
        } else {
            hs_ok = 1;
        }
    }
    if (!hs_ok) {
        uint8_t rej[3] = {0xFF, 0xFF, 1};
        io_full(fd, rej, sizeof rej, 1, 200);
        if (!b->quiet)
            logf_(b, "refused a connection from %s claiming to be %s: %s", who,
                  dialer >= 0 && dialer < b->n ? b->parties[dialer].name : "an unknown party", why);
        close(fd);
        return;
    }
    out[0] = (uint8_t)(l2 >> 8), out[1] = (uint8_t)l2;
    if (io_full(fd, out, 2 + l2, 1, HS_STEP_TIMEOUT_MS)) {
        sf__noise_cs_wipe(&tx);
        sf__noise_cs_wipe(&rx);
        close(fd);
        return;
    }
    peer *p = &b->peers[dialer];
    if (p->state == P_OPEN) conn_down(b, p, "replaced by a new connection");
    conn_up(b, p, fd, &tx, &rx);
}

/* ------------------------------------------------------------------ frames out */

static int seal(bridge *b, peer *p, uint8_t type, uint8_t flags, uint64_t seq,
                const uint8_t *payload, uint32_t len) {
    sf_frame f = {.type = type, .flags = flags, .payload_len = len, .seq = seq, .ack = p->rx_seq};
    if (sf__frame_seal(&p->tx, &f, payload, p->txbuf, SF_FRAME_OVERHEAD + b->max_frame,
                       &p->txlen))
        return -1;
    p->txoff = 0;
    p->ack_sent = p->rx_seq;
    if (++p->tx_frames >= REKEY_FRAMES) {
        sf__noise_rekey(&p->tx);
        p->tx_frames = 0;
    }
    return 0;
}

/* Gather `len` bytes of message m from offset off into dst. */
static void gather(const out_msg *m, uint64_t off, uint32_t len, uint8_t *dst) {
    while (len > 0) {
        if (off < m->head_len) {
            size_t k = m->head_len - off < len ? m->head_len - off : len;
            memcpy(dst, m->head + off, k);
            dst += k, off += k, len -= (uint32_t)k;
        } else {
            memcpy(dst, (const uint8_t *)m->v->data + (off - m->head_len), len);
            return;
        }
    }
}

/* Build the next frame to write into p->txbuf; 0 if there is nothing to send. */
static int next_frame(bridge *b, peer *p, uint8_t *plain, int closing) {
    double t = now_s();
    if (p->need_resume) {
        p->need_resume = 0;
        return seal(b, p, SF_FRAME_RESUME, 0, 0, NULL, 0) == 0;
    }
    if (!p->resumed) return 0; /* retransmit only once we know what the peer has */
    if (p->rx_seq - p->ack_sent >= (uint64_t)(b->window / 4 > 0 ? b->window / 4 : 1))
        return seal(b, p, SF_FRAME_ACK, 0, 0, NULL, 0) == 0;
    if (p->resend < p->win_count) { /* retransmission after a reconnect */
        win_ent *e = &p->win[(p->win_start + p->resend) % b->window];
        p->resend++;
        gather(e->m, e->off, e->len, plain);
        return seal(b, p, SF_FRAME_DATA, 0, e->seq, plain, e->len) == 0;
    }
    if (p->p_head && p->win_count < b->window) {
        out_msg *m = p->p_head;
        uint64_t left = m->total - p->p_off;
        uint32_t len = left < b->max_frame ? (uint32_t)left : b->max_frame;
        win_ent *e = &p->win[(p->win_start + p->win_count) % b->window];
        e->seq = ++p->next_seq;
        e->m = m;
        e->off = p->p_off;
        e->len = len;
        m->refs++;
        p->win_count++;
        p->resend++;
        gather(m, p->p_off, len, plain);
        p->p_off += len;
        if (p->p_off == m->total) {
            p->p_head = m->next;
            if (!p->p_head) p->p_tail = NULL;
            p->p_off = 0;
            if (--m->refs == 0) { /* cannot happen: the window holds it */
                sf_value_unref(&m->v);
                free(m->head);
                free(m);
            }
        }
        return seal(b, p, SF_FRAME_DATA, 0, e->seq, plain, len) == 0;
    }
    if (closing && !p->closing_sent && !p->p_head && p->win_count == 0) {
        p->closing_sent = 1;
        return seal(b, p, SF_FRAME_CLOSE, 0, 0, NULL, 0) == 0;
    }
    if ((p->rx_seq != p->ack_sent && t - p->last_tx >= 0.002) || t - p->last_tx >= b->heartbeat)
        return seal(b, p, SF_FRAME_HEARTBEAT, 0, 0, NULL, 0) == 0;
    return 0;
}

static void pump_out(bridge *b, peer *p, uint8_t *plain, int closing) {
    for (int frames = 0; p->state == P_OPEN && frames < 64; frames++) {
        if (p->txoff == p->txlen) {
            p->txlen = p->txoff = 0;
            if (!next_frame(b, p, plain, closing)) return;
        }
        ssize_t w = send(p->fd, p->txbuf + p->txoff, p->txlen - p->txoff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            conn_down(b, p, strerror(errno));
            return;
        }
        p->txoff += (size_t)w;
        p->last_tx = now_s();
        if (p->txoff < p->txlen) return;
    }
}

/* ------------------------------------------------------------------ frames in */

/* Feed in-order stream bytes of peer p into message reassembly. */
static int reassemble(bridge *b, peer *p, const uint8_t *d, size_t n) {
    while (n > 0) {
        if (!p->asm_v && p->asm_hdr_got < p->asm_hdr_need) {
            size_t k = p->asm_hdr_need - p->asm_hdr_got < n ? p->asm_hdr_need - p->asm_hdr_got : n;
            memcpy(p->asm_hdr + p->asm_hdr_got, d, k);
            p->asm_hdr_got += k, d += k, n -= k;
            if (p->asm_hdr_got == 8 + sizeof(sf_wire_hdr) && p->asm_hdr_need == 8 + sizeof(sf_wire_hdr)) {
                sf_wire_hdr *w = (sf_wire_hdr *)(p->asm_hdr + 8);
                if (w->ndim > SF_MAX_DIMS) return -1;
                p->asm_hdr_need = 8 + SF_WIRE_HDR_SIZE(w->ndim);
            }
            if (p->asm_hdr_got < p->asm_hdr_need) continue;
            sf_wire_hdr *w = (sf_wire_hdr *)(p->asm_hdr + 8);
            uint64_t total;
            memcpy(&total, p->asm_hdr, 8);
            if (total != p->asm_hdr_need - 8 + (w->has_val ? w->nbytes : 0)) return -1;
            if (w->has_val) {
                p->asm_v = sf__value_alloc((sf_dtype)w->dtype, w->ndim, w->shape);
                if (!p->asm_v || p->asm_v->nbytes != w->nbytes) return -1;
                p->asm_data_got = 0;
            }
            if (!w->has_val || w->nbytes == 0) goto complete;
            continue;
        }
        if (p->asm_v) {
            uint64_t left = p->asm_v->nbytes - p->asm_data_got;
            size_t k = left < n ? (size_t)left : n;
            memcpy((uint8_t *)p->asm_v->data + p->asm_data_got, d, k);
            p->asm_data_got += k, d += k, n -= k;
            if (p->asm_data_got < p->asm_v->nbytes) continue;
        }
    complete: {
        in_msg *im = malloc(sizeof *im);
        if (!im) return -1;
        im->next = NULL;
        im->h = ((sf_wire_hdr *)(p->asm_hdr + 8))->h;
        im->v = p->asm_v;
        p->asm_v = NULL;
        p->asm_hdr_got = 0;
        p->asm_hdr_need = 8 + sizeof(sf_wire_hdr);
        pthread_mutex_lock(&b->mu);
        if (p->in_tail) p->in_tail->next = im;
        else p->in_head = im;
        p->in_tail = im;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    }
    return 0;
}

static void handle_frame(bridge *b, peer *p, const sf_frame *f) {
    p->last_rx = p->last_frame = now_s();
    if (++p->rx_frames >= REKEY_FRAMES) {
        sf__noise_rekey(&p->rx);
        p->rx_frames = 0;
    }
    if (f->ack > p->next_seq) {
        conn_down(b, p, "peer acknowledged frames never sent");
        return;
    }
    win_release_acked(p, f->ack);
    switch (f->type) {
    case SF_FRAME_RESUME:
        p->resumed = 1;
        p->resend = 0; /* resend every unacked frame, in order */
        break;
    case SF_FRAME_DATA:
        if (f->seq <= p->rx_seq) break; /* a retransmitted duplicate */
        if (f->seq != p->rx_seq + 1) {
            conn_down(b, p, "frame sequence gap");
            return;
        }
        p->rx_seq = f->seq;
        if (reassemble(b, p, f->payload, f->payload_len)) {
            die(b, 6, "party %s sent a malformed message (stream corrupted after authentication?)",
                b->parties[p->idx].name);
        }
        break;
    case SF_FRAME_CLOSE:
        if (f->flags & 1)
            die(b, (int)(f->seq ? f->seq : 1), "party %s stopped the run (exit %llu); see its log",
                b->parties[p->idx].name, (unsigned long long)f->seq);
        p->got_close = 1;
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        break;
    default: break;
    }
}

static void pump_in(bridge *b, peer *p) {
    for (int frames = 0; p->state == P_OPEN && frames < 64;) {
        ssize_t r;
        if (p->rxpre_got < 4) {
            r = recv(p->fd, p->rxpre + p->rxpre_got, 4 - p->rxpre_got, MSG_DONTWAIT);
        } else {
            r = recv(p->fd, p->rxbuf + p->rxgot, p->rxlen - p->rxgot, MSG_DONTWAIT);
        }
        if (r == 0) {
            conn_down(b, p, p->got_close ? "closed" : "peer closed the connection");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            conn_down(b, p, strerror(errno));
            return;
        }
        if (p->rxpre_got < 4) {
            p->rxpre_got += (size_t)r;
            if (p->rxpre_got < 4) continue;
            if (sf__frame_len(p->rxpre, SF_FRAME_HDR + SF_NOISE_TAG + b->max_frame, &p->rxlen)) {
                if (!b->quiet)
                    logf_(b, "frame from %s refused: bad length %02x%02x%02x%02x",
                          b->parties[p->idx].name, p->rxpre[0], p->rxpre[1], p->rxpre[2], p->rxpre[3]);
                conn_down(b, p, "bad frame length");
                return;
            }
            p->rxgot = 0;
            continue;
        }
        p->rxgot += (size_t)r;
        if (p->rxgot < p->rxlen) continue;
        sf_frame f;
        if (sf__frame_open(&p->rx, p->rxpre, p->rxbuf, p->rxlen, &f)) {
            if (!b->quiet)
                logf_(b, "frame from %s failed authentication (corrupted, replayed or reordered); "
                         "dropping the connection", b->parties[p->idx].name);
            conn_down(b, p, "frame failed authentication");
            return;
        }
        p->rxpre_got = 0;
        handle_frame(b, p, &f);
        frames++;
    }
}

/* ------------------------------------------------------------------ the bridge thread */

static void *bridge_main(void *arg) {
    bridge *b = arg;
    uint8_t *plain = malloc(b->max_frame);
    struct pollfd *pf = calloc((size_t)b->n + 2, sizeof *pf);
    int *pidx = calloc((size_t)b->n + 2, sizeof *pidx);
    if (!plain || !pf || !pidx) die(b, 1, "bridge: out of memory");
    int busy = 0; /* polls left without sleeping */
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int stop = b->stop, closing = b->finishing;
        for (int i = 0; i < b->n; i++) { /* hand over queued messages */
            peer *p = &b->peers[i];
            if (!p->q_head) continue;
            if (p->p_tail) p->p_tail->next = p->q_head;
            else p->p_head = p->q_head;
            p->p_tail = p->q_tail;
            p->q_head = p->q_tail = NULL;
        }
        pthread_mutex_unlock(&b->mu);
        if (stop) break;
        double t = now_s();
        int all_closed = 1;
        for (int i = 0; i < b->n; i++) {
            peer *p = &b->peers[i];
            if (i == b->self) continue;
            if (p->state == P_DOWN && p->dialer && !p->got_close && t >= p->next_dial) dial(b, p);
            if (!p->got_close || !p->closing_sent || p->txoff < p->txlen) all_closed = 0;
            /* liveness: no authenticated frame for peer_timeout, connected or not */
            if (p->ever_connected && !p->got_close && t - p->last_frame > b->peer_timeout)
                die(b, 6, "party %s (%s) lost: nothing heard from it for %.1f s (peer_timeout); "
                          "stopping this party",
                    b->parties[i].name, p->addr, t - p->last_frame);
            /* a live peer sends a frame at least every heartbeat: a connection on which no
             * frame completes for several (e.g. a corrupted length prefix that still
             * passes the maximum) is dropped and resumed */
            double stall = 3 * b->heartbeat > 1.0 ? 3 * b->heartbeat : 1.0;
            if (p->state == P_OPEN && t - p->last_rx > stall && t - p->conn_since > stall)
                conn_down(b, p, "no complete frame for several heartbeats");
            if (p->state == P_OPEN) pump_out(b, p, plain, closing);
        }
        if (closing && all_closed) {
            pthread_mutex_lock(&b->mu);
            b->all_closed = 1;
            pthread_cond_broadcast(&b->cv);
            pthread_mutex_unlock(&b->mu);
        }
        int np = 0;
        pf[np] = (struct pollfd){.fd = b->wake_fd, .events = POLLIN};
        pidx[np++] = -1;
        pf[np] = (struct pollfd){.fd = b->listen_fd, .events = POLLIN};
        pidx[np++] = -2;
        for (int i = 0; i < b->n; i++) {
            peer *p = &b->peers[i];
            if (p->state != P_OPEN) continue;
            short ev = POLLIN;
            if (p->txoff < p->txlen || p->need_resume ||
                (p->resumed && (p->resend < p->win_count || (p->p_head && p->win_count < b->window))))
                ev |= POLLOUT;
            pf[np] = (struct pollfd){.fd = p->fd, .events = ev};
            pidx[np++] = i;
        }
        int timeout = (int)(b->heartbeat * 1000 / 4);
        if (timeout > 50) timeout = 50;
        /* right after traffic, poll without sleeping for a while (yielding the CPU between
         * polls): the next message of a request/reply exchange usually follows within
         * microseconds, and a sleep and wake-up would cost tens of them */
        int nready = poll(pf, (nfds_t)np, busy > 0 ? 0 : timeout);
        if (nready < 0 && errno != EINTR) die(b, 1, "bridge: poll: %s", strerror(errno));
        if (nready > 0) busy = SPIN_POLL;
        else if (busy > 0 && --busy > 0) sched_yield();
        for (int k = 0; k < np; k++) {
            if (!pf[k].revents) continue;
            if (pidx[k] == -1) {
                uint64_t v;
                ssize_t r = read(b->wake_fd, &v, sizeof v);
                (void)r;
            } else if (pidx[k] == -2) {
                accept_one(b);
            } else {
                peer *p = &b->peers[pidx[k]];
                if (p->state != P_OPEN || p->fd != pf[k].fd) continue;
                if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) pump_in(b, p);
                if (p->state == P_OPEN && (pf[k].revents & POLLOUT)) pump_out(b, p, plain, closing);
            }
        }
    }
    free(plain);
    free(pf);
    free(pidx);
    sf__value_thread_cleanup();
    return NULL;
}

/* ------------------------------------------------------------------ transport ops */

static int br_send(sf_transport *t, int dst, const sf_msg_hdr *h, sf_value *v) {
    bridge *b = (bridge *)t;
    int nd = v ? v->ndim : 0;
    size_t wl = SF_WIRE_HDR_SIZE(nd);
    out_msg *m = calloc(1, sizeof *m);
    uint8_t *head = malloc(8 + wl);
    if (!m || !head) {
        free(m);
        free(head);
        return SF_ENOMEM;
    }
    sf_wire_hdr *w = (sf_wire_hdr *)(head + 8);
    memset(w, 0, sizeof *w);
    w->h = *h;
    w->has_val = v != NULL;
    w->dtype = v ? v->dtype : 0;
    w->ndim = (uint8_t)nd;
    w->nbytes = v ? v->nbytes : 0;
    if (nd) memcpy(w->shape, v->shape, sizeof(int64_t) * (size_t)nd);
    m->head = head;
    m->head_len = 8 + wl;
    m->v = sf_value_ref(v);
    m->total = m->head_len + (v ? v->nbytes : 0);
    uint64_t body = m->total - 8;
    memcpy(head, &body, 8);
    m->refs = 1;
    peer *p = &b->peers[dst];
    pthread_mutex_lock(&b->mu);
    if (p->q_tail) p->q_tail->next = m;
    else p->q_head = m;
    p->q_tail = m;
    pthread_mutex_unlock(&b->mu);
    wake(b);
    return SF_OK;
}

static int br_recv(sf_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h, sf_value **v) {
    bridge *b = (bridge *)t;
    peer *p = &b->peers[src];
    pthread_mutex_lock(&b->mu);
    for (int spin = 0; !p->in_head && !p->got_close && spin < SPIN_RECV; spin++) {
        pthread_mutex_unlock(&b->mu);
        sched_yield();
        pthread_mutex_lock(&b->mu);
    }
    while (!p->in_head) {
        if (p->got_close) {
            pthread_mutex_unlock(&b->mu);
            return SF_EPEER;
        }
        pthread_cond_wait(&b->cv, &b->mu);
    }
    in_msg *im = p->in_head;
    p->in_head = im->next;
    if (!p->in_head) p->in_tail = NULL;
    pthread_mutex_unlock(&b->mu);
    *h = im->h;
    *v = im->v;
    free(im);
    (void)w;
    return SF_OK;
}

static int br_finish(sf_transport *t, const sf_msg_hdr *bye) {
    bridge *b = (bridge *)t;
    int rc = sf__bye_exchange(t, bye);
    if (rc) return rc;
    /* every message of ours must be acknowledged before the channels close */
    pthread_mutex_lock(&b->mu);
    b->finishing = 1;
    pthread_mutex_unlock(&b->mu);
    wake(b);
    pthread_mutex_lock(&b->mu);
    while (!b->all_closed) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    return SF_OK;
}

static void stop_thread(bridge *b) {
    if (!b->thread_started) return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_mutex_unlock(&b->mu);
    wake(b);
    pthread_join(b->thread, NULL);
    b->thread_started = 0;
}

__attribute__((noreturn)) static void br_abort(sf_transport *t, int code) {
    bridge *b = (bridge *)t;
    /* best effort: tell every connected peer, so they stop now rather than at the timeout */
    stop_thread(b);
    for (int i = 0; i < b->n; i++) {
        peer *p = &b->peers[i];
        if (p->state != P_OPEN || i == b->self) continue;
        set_nonblock(p->fd, 0);
        if (p->txoff < p->txlen) io_full(p->fd, p->txbuf + p->txoff, p->txlen - p->txoff, 1, 200);
        if (seal(b, p, SF_FRAME_CLOSE, 1, (uint64_t)code, NULL, 0) == 0)
            io_full(p->fd, p->txbuf, p->txlen, 1, 200);
    }
    fflush(NULL);
    _exit(code);
}

static void free_peer(peer *p) {
    for (out_msg *m = p->q_head, *n; m; m = n) {
        n = m->next;
        sf_value_unref(&m->v);
        free(m->head);
        free(m);
    }
    for (out_msg *m = p->p_head, *n; m; m = n) {
        n = m->next;
        if (--m->refs == 0) {
            sf_value_unref(&m->v);
            free(m->head);
            free(m);
        }
    }
    for (in_msg *m = p->in_head, *n; m; m = n) {
        n = m->next;
        sf_value_unref(&m->v);
        free(m);
    }
    sf_value_unref(&p->asm_v);
    if (p->fd >= 0) close(p->fd);
    sf__noise_cs_wipe(&p->tx);
    sf__noise_cs_wipe(&p->rx);
    free(p->win);
    free(p->txbuf);
    free(p->rxbuf);
}

/* Orderly close: stop sending, then read until the peer's EOF (briefly), so no RST can
 * overtake data still on its way to the peer. */
static void graceful_close(peer *p) {
    if (p->fd < 0) return;
    shutdown(p->fd, SHUT_WR);
    double end = now_s() + 1.0;
    char sink[4096];
    while (now_s() < end) {
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        if (poll(&pf, 1, 100) < 0) break;
        ssize_t r = recv(p->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
    close(p->fd);
    p->fd = -1;
}

static void br_destroy(sf_transport **tp) {
    bridge *b = (bridge *)*tp;
    if (!b) return;
    stop_thread(b);
    for (int i = 0; i < b->n; i++)
        if (b->peers && b->peers[i].state == P_OPEN) graceful_close(&b->peers[i]);
    for (int i = 0; b->peers && i < b->n; i++) {
        peer *p = &b->peers[i];
        /* drop window references (all acked on a clean finish) */
        while (p->win_count > 0) {
            win_ent *e = &p->win[p->win_start];
            if (--e->m->refs == 0) {
                sf_value_unref(&e->m->v);
                free(e->m->head);
                free(e->m);
            }
            p->win_start = (p->win_start + 1) % p->wcap;
            p->win_count--;
        }
        free_peer(p);
    }
    if (b->listen_fd >= 0) close(b->listen_fd);
    if (b->wake_fd >= 0) close(b->wake_fd);
    sodium_memzero(b->key_priv, sizeof b->key_priv);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->peers);
    free(b->parties);
    free(b);
    *tp = NULL;
}

static const struct sf_transport_ops bridge_ops = {
    .name = "bridge",
    .send = br_send,
    .recv = br_recv,
    .finish = br_finish,
    .abort = br_abort,
    .destroy = br_destroy,
};

/* ------------------------------------------------------------------ creation */

static int listen_on(bridge *b, const char *laddr, char *err, size_t errlen) {
    sf_cluster_party me = b->parties[b->self];
    const char *listen_arg = laddr;
    if (laddr) { /* host:port (or [v6]:port) to bind instead of the cluster address */
        const char *colon = strrchr(laddr, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        size_t hl = colon ? (size_t)(colon - laddr) : 0;
        if (laddr[0] == '[' && hl >= 2 && laddr[hl - 1] == ']') laddr++, hl -= 2;
        if (!colon || !end || *end || port < 1 || port > 65535 || hl == 0 || hl >= sizeof me.host) {
            snprintf(err, errlen, "--sf-listen=%s: expected host:port", listen_arg);
            return SF_EUSAGE;
        }
        memcpy(me.host, laddr, hl);
        me.host[hl] = 0;
        me.port = (int)port;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if (resolve(&me, &ss, &sl)) {
        snprintf(err, errlen, "party %s: cannot resolve its listen address %s:%d", me.name, me.host,
                 me.port);
        return SF_EUSAGE;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return SF_ESYS;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 64)) {
        snprintf(err, errlen, "party %s: cannot listen on %s:%d: %s", me.name, me.host, me.port,
                 strerror(errno));
        close(fd);
        return SF_ESYS;
    }
    b->listen_fd = fd;
    return SF_OK;
}

int sf__bridge_transport_create(sf_transport **out, const sf_cluster *c, int self,
                                const sf_party_key *key, const char *job_id,
                                const char *listen, int quiet,
                                const sf_transport_hooks *hooks, char *err, size_t errlen) {
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return SF_ESYS;
    }
    if (!sf__noise_cipher_available(c->cipher)) {
        snprintf(err, errlen, "cipher %s is not available on this CPU (libsodium needs AES-NI "
                              "for AES-GCM); use \"chachapoly\"", sf__noise_protocol_name(c->cipher));
        return SF_EUSAGE;
    }
    bridge *b = calloc(1, sizeof *b);
    if (!b) return SF_ENOMEM;
    b->base.ops = &bridge_ops;
    b->base.hooks = *hooks;
    b->base.self = self;
    b->base.nparties = c->nparties;
    b->self = self;
    b->n = c->nparties;
    b->listen_fd = b->wake_fd = -1;
    b->cipher = c->cipher;
    b->peer_timeout = c->peer_timeout;
    b->heartbeat = c->heartbeat;
    b->connect_timeout = c->connect_timeout;
    b->window = c->window;
    b->max_frame = c->max_frame;
    b->quiet = quiet;
    memcpy(b->key_priv, key->secret_key, 32);
    memcpy(b->cluster_hash, c->file_hash, 32);
    snprintf(b->job_id, sizeof b->job_id, "%s", job_id && *job_id ? job_id : c->job_id);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->parties = calloc((size_t)b->n, sizeof *b->parties);
    b->peers = calloc((size_t)b->n, sizeof *b->peers);
    int rc = SF_ENOMEM;
    if (!b->parties || !b->peers) goto fail;
    memcpy(b->parties, c->parties, sizeof *b->parties * (size_t)b->n);
    for (int i = 0; i < b->n; i++) {
        peer *p = &b->peers[i];
        p->idx = i;
        p->fd = -1;
        p->dialer = self < i;
        p->asm_hdr_need = 8 + sizeof(sf_wire_hdr);
        snprintf(p->addr, sizeof p->addr, "%s:%d", c->parties[i].host, c->parties[i].port);
        if (i == self) continue;
        p->win = calloc((size_t)b->window, sizeof *p->win);
        p->wcap = b->window;
        p->txbuf = malloc(SF_FRAME_OVERHEAD + b->max_frame);
        p->rxbuf = malloc(SF_FRAME_OVERHEAD + b->max_frame);
        if (!p->win || !p->txbuf || !p->rxbuf) goto fail;
    }
    if ((rc = listen_on(b, listen, err, errlen))) goto fail;
    b->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        rc = SF_ESYS;
        goto fail;
    }
    if (pthread_create(&b->thread, NULL, bridge_main, b)) {
        snprintf(err, errlen, "cannot start the bridge thread");
        rc = SF_ESYS;
        goto fail;
    }
    b->thread_started = 1;

    /* start-up readiness: progress while waiting, give up after connect_timeout */
    double t0 = now_s(), last_note = t0;
    pthread_mutex_lock(&b->mu);
    while (b->nopen < b->n - 1) {
        double t = now_s();
        if (t - t0 > b->connect_timeout || (!quiet && t - last_note >= 2.0)) {
            char missing[1024] = "";
            size_t ml = 0;
            for (int i = 0; i < b->n; i++)
                if (i != self && b->peers[i].state != P_OPEN && ml + 80 < sizeof missing)
                    ml += (size_t)snprintf(missing + ml, sizeof missing - ml, "%s%s at %s",
                                           ml ? ", " : "", b->parties[i].name, b->peers[i].addr);
            if (t - t0 > b->connect_timeout) {
                pthread_mutex_unlock(&b->mu);
                snprintf(err, errlen,
                         "gave up after %.0f s (connect_timeout) waiting for %s; connected %d/%d",
                         b->connect_timeout, missing, b->nopen + 1, b->n);
                rc = SF_ETIMEOUT;
                goto fail;
            }
            logf_(b, "connected %d/%d, waiting for %s", b->nopen + 1, b->n, missing);
            last_note = t;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    pthread_mutex_unlock(&b->mu);
    if (!quiet) logf_(b, "connected %d/%d: all parties are up", b->n, b->n);
    *out = &b->base;
    return SF_OK;
fail : {
    sf_transport *tp = &b->base;
    br_destroy(&tp);
    return rc;
}
}
