/*
 * The production transport (see bridge.h): the transport table and the bridge thread.
 *
 * Threads: the program's thread (send/recv/finish) and one bridge thread that owns every
 * socket, every cipher state and every stream. send() encodes the message header,
 * queues it with a reference on the value and wakes the bridge thread (eventfd); recv(src)
 * waits on a condition variable for the next complete message from src. Everything the
 * two threads share is under `mu`: the outgoing queues, the completed messages, the
 * peers' wait notices, and the flags stop/finishing/all_closed/nopen/eof.
 *
 * The bridge thread's poll loop serves, without ever blocking on one of them: the wake
 * fd, the listening socket, every open connection, and a bounded table of connections in
 * progress (dials, probes, and accepted connections still handshaking). An accepted
 * connection must finish its handshake and confirm it with an authenticated first frame
 * within HS_TIMEOUT; at most PENDING_MAX accepted connections may be pending at once (the
 * oldest still in its hello is evicted first, with a BUSY answer), at most
 * UNCONFIRMED_PER_PARTY of them per claimed party; and only a confirmed connection may
 * replace a working one. So idle, slow, garbage or replayed connections cost the peers
 * nothing, and refusals are logged at a bounded rate.
 *
 * Liveness: a peer from which no authenticated frame arrived for peer_timeout, connected
 * or not, is lost: the bridge reports it by name, tells the other peers (CLOSE with the
 * abort flag and the reason) and ends the process (exit 6). Once a peer has been
 * connected, a broken connection (reset or EOF without CLOSE) makes the dialing side
 * redial at once and the other side probe the peer's address: a refused connection, or
 * one closed without an answer, means the peer's process is gone, which is reported
 * within moments instead of after peer_timeout. A silent host still takes peer_timeout.
 *
 * Divergence: a receiver waiting longer than wait_timeout sends its wait notice (NOTICE
 * frame, resent every wait_timeout); the peer's program thread compares it with its own
 * trace (the transport hooks), exactly as in simulation mode.
 *
 * Shutdown: byes exchanged (the runtime), then every frame acknowledged, then CLOSE both
 * ways. A connection lost after the peer's CLOSE, or after its bye with nothing of ours
 * unacknowledged, ends the channel: the peer has everything it needs.
 */
#include "mpi/prod/bridge.h"

#include <arpa/inet.h>
#include <errno.h>
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

#include "core/error.h"
#include "core/progress.h"
#include "mpi/prod/conn.h"
#include "mpi/prod/frame.h"
#include "mpi/prod/stream.h"
#include "mpi/wire.h"
#include "core/value.h"

#define REKEY_FRAMES (1u << 20) /* rekey each direction every 2^20 frames (<= 16 TiB) */
#define HS_TIMEOUT 3.0          /* seconds for a handshake (and its confirming frame) */
#define PENDING_MAX 128         /* accepted connections still handshaking */
#define UNCONFIRMED_PER_PARTY 4 /* of those, with keys but no confirming frame, per party */
#define ACCEPT_BURST 64         /* accept() calls per poll round */
#define PROBE_EVERY 0.5         /* seconds between probes of a peer whose connection broke */
/* Waits spin before they sleep: the bridge thread polls without a timeout, yielding the
 * CPU between polls, for SPIN_SECONDS after traffic; a receiving program thread checks its
 * queue as long. A request/reply exchange usually answers within microseconds, and a
 * sleep and wake-up would cost tens of them; yielding lets the party's other thread (or
 * the peer, with more threads than cores) run in between. But with strangers' work on
 * every core (a busy cluster node), one sched_yield can hand the core over for a whole
 * time slice (milliseconds), where a thread sleeping in poll or on the condition variable
 * is woken at once. So a yield that took longer than YIELD_SLOW turns spinning off, in
 * this process, for QUIET_PROBE seconds; then it is tried again. */
#define SPIN_SECONDS 50e-6
#define YIELD_SLOW 1e-3
#define QUIET_PROBE 1.0

static double now_s(void);
static int64_t g_spin_off_until_us; /* spinning is off until then: a hint shared by the
                                       bridge and program threads */

/* One spin step: yield the CPU; 0 when spinning should stop (this wait is over its time,
 * or the yield showed the cores are busy with other work). */
static int spin_step(double until) {
    double t0 = now_s();
    sched_yield();
    double t1 = now_s();
    if (t1 - t0 > YIELD_SLOW) {
        __atomic_store_n(&g_spin_off_until_us, (int64_t)((t1 + QUIET_PROBE) * 1e6), __ATOMIC_RELAXED);
        return 0;
    }
    return t1 < until;
}

static int spinning_allowed(double t) {
    return (int64_t)(t * 1e6) >= __atomic_load_n(&g_spin_off_until_us, __ATOMIC_RELAXED);
}

typedef struct in_msg {
    struct in_msg *next;
    sf_msg_hdr h;
    sf_value *v;
} in_msg;

struct bridge;
typedef struct peer {
    struct bridge *b;
    int idx;
    int dialer; /* we dial this peer (else it dials us, and we probe it) */
    char addr[300];
    struct sockaddr_storage sa;
    socklen_t salen;
    int resolved;
    /* the open connection */
    int fd;
    sf_noise_cs *tx, *rx; /* secure memory */
    uint64_t tx_frames, rx_frames;
    double last_rx, last_tx, conn_since;
    int need_resume, resumed;
    uint8_t *txbuf, *rxbuf;
    size_t txlen, txoff;
    uint8_t rxpre[4];
    size_t rxpre_got, rxgot;
    uint32_t rxlen;
    uint64_t ack_sent;
    sf_stream st;
    /* dialing or probing: at most one connection in progress */
    int slot; /* index into the slot table, or -1 */
    double next_dial, backoff, next_probe;
    int suspect; /* lost after being connected: whether its process is gone is being checked */
    /* liveness and the end of the channel */
    double last_frame;
    int ever_connected;
    int got_close, closing_sent, got_bye, closed;
    int notice_due; /* a notice of ours waits to go out (copy in notice_out) */
    sf_wait_notice notice_out;
    /* shared with the program thread, under mu */
    sf_stream_msg *q_head, *q_tail;
    in_msg *in_head, *in_tail;
    int eof;           /* the channel has ended: recv gives SF_EPEER once in is empty */
    int notice_in;     /* a wait notice from this peer, not yet handled */
    sf_wait_notice notice;
    int notice_req;    /* the program thread asks to send notice_req_n */
    sf_wait_notice notice_req_n;
    /* the message being reassembled: its value's bytes received and size (0: none), for
     * the receiver's progress line; atomics written by the bridge thread */
    uint64_t rx_got, rx_total;
} peer;

typedef struct slot {
    int used;
    br_conn c;
} slot;

/* Everything secret, in one sodium_malloc'd region (locked, out of core dumps). */
typedef struct secrets {
    sf_noise_cs *cs;  /* 2 per party: tx, rx */
    sf_noise_hs *hs;  /* 1 per slot */
    sf_noise_cs *hcs; /* 2 per slot */
} secrets;

typedef struct bridge {
    sf_transport base;
    int self, n;
    sf_cluster_party *parties;
    br_hs_cfg hs;
    double peer_timeout, heartbeat, connect_timeout, wait_timeout;
    int window;
    uint32_t max_frame; /* payload bytes */
    uint64_t max_message;
    int quiet;
    peer *peers;
    slot *slots;
    int nslots;
    int nused; /* slots in use: every scan of the table stops after that many (slot_new
                * takes the lowest free one), so an idle table costs the poll loop nothing */
    void *secure;
    secrets sec;
    int listen_fd, wake_fd;
    pthread_t thread;
    int thread_started;
    /* refusal log: a token bucket */
    double log_tokens, log_at;
    unsigned long log_suppressed;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int finishing;   /* the program is in finish: close channels once acknowledged */
    int all_closed;
    int nopen;
    int notices;     /* peers with notice_in set */
} bridge;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *pname(const bridge *b, int i) { return b->parties[i].name; }

static void logf_(bridge *b, const char *fmt, ...) SF_PRINTF(2, 3);
static void logf_(bridge *b, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    sf__progress_clear_line();
    fprintf(stderr, "sfmpi: [prod %s bridge] %s\n", pname(b, b->self), line);
    fflush(stderr);
}

/* Refusals of strangers' connections: at most a burst of 5 lines, then one per 2 s,
 * with the count of those not shown. */
static void refusal(bridge *b, const char *fmt, ...) SF_PRINTF(2, 3);
static void refusal(bridge *b, const char *fmt, ...) {
    double t = now_s();
    b->log_tokens += (t - b->log_at) / 2.0;
    if (b->log_tokens > 5) b->log_tokens = 5;
    b->log_at = t;
    if (b->quiet || b->log_tokens < 1) {
        b->log_suppressed++;
        return;
    }
    b->log_tokens -= 1;
    char line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (b->log_suppressed)
        logf_(b, "%s (and %lu more refused connections not shown)", line, b->log_suppressed);
    else
        logf_(b, "%s", line);
    b->log_suppressed = 0;
}

static void wake(bridge *b) {
    uint64_t one = 1;
    ssize_t w = write(b->wake_fd, &one, sizeof one);
    (void)w;
}

/* ------------------------------------------------------------------ frames out */

static int seal(bridge *b, peer *p, uint8_t type, uint8_t flags, uint64_t seq,
                const uint8_t *payload, uint32_t len) {
    sf_frame f = {.type = type, .flags = flags, .payload_len = len, .seq = seq, .ack = p->st.rx_seq};
    if (sf__frame_seal(p->tx, &f, payload, p->txbuf, SF_FRAME_OVERHEAD + b->max_frame, &p->txlen))
        return -1;
    p->txoff = 0;
    p->ack_sent = p->st.rx_seq;
    if (++p->tx_frames >= REKEY_FRAMES) {
        sf__noise_rekey(p->tx);
        p->tx_frames = 0;
    }
    return 0;
}

/* Best effort, in bounded time: tell every connected peer (but `skip`) that the run
 * stops, and why. */
static void tell_abort(bridge *b, int code, const char *reason, int skip) {
    uint8_t payload[6 + SF_WIRE_REASON_MAX];
    size_t pl = sf__wire_reason_encode(payload, code, reason);
    for (int i = 0; i < b->n; i++) {
        peer *p = &b->peers[i];
        if (i == b->self || i == skip || p->fd < 0 || !p->tx || !p->tx->has_key) continue;
        sf__br_set_nonblock(p->fd, 0);
        struct timeval tv = {0, 200000};
        setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (p->txoff < p->txlen) {
            ssize_t w = send(p->fd, p->txbuf + p->txoff, p->txlen - p->txoff, MSG_NOSIGNAL);
            (void)w;
        }
        /* a connection that has not sent its RESUME yet is not confirmed at the peer:
         * the RESUME goes first, or the peer would refuse the CLOSE as a first frame */
        if (p->need_resume && seal(b, p, SF_FRAME_RESUME, 0, 0, NULL, 0) == 0) {
            ssize_t w = send(p->fd, p->txbuf, p->txlen, MSG_NOSIGNAL);
            (void)w;
            p->need_resume = 0;
        }
        if (seal(b, p, SF_FRAME_CLOSE, SF_FRAME_ABORT, (uint64_t)code, payload, (uint32_t)pl) == 0) {
            ssize_t w = send(p->fd, p->txbuf, p->txlen, MSG_NOSIGNAL);
            (void)w;
        }
        p->txlen = p->txoff = 0;
    }
}

/* The bridge cannot go on: report by name, tell the peers, end the process. */
__attribute__((noreturn)) static void die(bridge *b, int code, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fflush(stdout);
    char out[1200];
    int n = snprintf(out, sizeof out, "sfmpi: [prod %s] error: %s\n", pname(b, b->self), line);
    ssize_t w = write(2, out, (size_t)(n < (int)sizeof out ? n : (int)sizeof out - 1));
    (void)w;
    char reason[1100];
    snprintf(reason, sizeof reason, "%s: %s", pname(b, b->self), line);
    tell_abort(b, code, reason, -1);
    _exit(code);
}

/* The next frame for p into txbuf; 0 if there is nothing to send. */
static int next_frame(bridge *b, peer *p, uint8_t *plain, int closing) {
    double t = now_s();
    if (p->need_resume) {
        p->need_resume = 0;
        return seal(b, p, SF_FRAME_RESUME, 0, 0, NULL, 0) == 0;
    }
    if (!p->resumed) return 0; /* send data only once we know what the peer has */
    if (p->st.rx_seq - p->ack_sent >= (uint64_t)(b->window / 4 > 0 ? b->window / 4 : 1))
        return seal(b, p, SF_FRAME_ACK, 0, 0, NULL, 0) == 0;
    if (p->notice_due) {
        uint8_t nb[SF_WIRE_NOTICE];
        sf__wire_notice_encode(nb, &p->notice_out);
        p->notice_due = 0;
        return seal(b, p, SF_FRAME_NOTICE, 0, 0, nb, sizeof nb) == 0;
    }
    uint64_t seq;
    uint32_t len;
    if (sf__stream_next(&p->st, plain, &seq, &len)) return seal(b, p, SF_FRAME_DATA, 0, seq, plain, len) == 0;
    if (closing && !p->closing_sent && sf__stream_drained(&p->st)) {
        p->closing_sent = 1;
        return seal(b, p, SF_FRAME_CLOSE, 0, 0, NULL, 0) == 0;
    }
    if ((p->st.rx_seq != p->ack_sent && t - p->last_tx >= 0.002) || t - p->last_tx >= b->heartbeat)
        return seal(b, p, SF_FRAME_HEARTBEAT, 0, 0, NULL, 0) == 0;
    return 0;
}

/* ------------------------------------------------------------------ the channel's state */

static void set_eof(bridge *b, peer *p) {
    pthread_mutex_lock(&b->mu);
    p->eof = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* The channel to p has ended: nothing more will come or needs to go. */
static void channel_closed(bridge *b, peer *p) {
    p->closed = p->got_close = p->closing_sent = 1;
    p->suspect = 0;
    set_eof(b, p);
}

static void conn_up(bridge *b, peer *p, int fd, sf_noise_cs *tx, sf_noise_cs *rx, uint64_t rx_frames) {
    p->fd = fd;
    *p->tx = *tx;
    *p->rx = *rx;
    sodium_memzero(tx, sizeof *tx);
    sodium_memzero(rx, sizeof *rx);
    p->tx_frames = 0;
    p->rx_frames = rx_frames;
    p->need_resume = 1;
    p->resumed = 0;
    sf__stream_rewind(&p->st);
    p->txlen = p->txoff = 0;
    p->rxpre_got = p->rxgot = 0;
    p->rxlen = 0;
    p->last_rx = p->last_tx = p->conn_since = now_s();
    if (!p->ever_connected) p->last_frame = p->conn_since;
    p->backoff = 0;
    p->suspect = 0;
    sf__br_set_nonblock(fd, 1);
    sf__br_tune(fd);
    pthread_mutex_lock(&b->mu);
    b->nopen++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (p->ever_connected && !b->quiet)
        logf_(b, "reconnected to %s (fresh handshake); resuming", pname(b, p->idx));
    p->ever_connected = 1;
}

/* The open connection to p broke (or is replaced). Decide what the channel needs. */
static void conn_down(bridge *b, peer *p, const char *why, int replaced) {
    if (p->fd < 0) return;
    close(p->fd);
    p->fd = -1;
    sf__noise_cs_wipe(p->tx);
    sf__noise_cs_wipe(p->rx);
    p->txlen = p->txoff = 0;
    p->rxpre_got = p->rxgot = 0;
    p->rxlen = 0;
    pthread_mutex_lock(&b->mu);
    b->nopen--;
    int finishing = b->finishing;
    pthread_mutex_unlock(&b->mu);
    if (p->closed || replaced) return;
    /* the peer's CLOSE means it has all our messages (our bye included); its bye with
     * all of ours acknowledged, while we finish, means the same */
    if (p->got_close || (finishing && p->got_bye && sf__stream_drained(&p->st))) {
        channel_closed(b, p);
        return;
    }
    if (!b->quiet)
        logf_(b, "connection to %s lost (%s); %s", pname(b, p->idx), why,
              p->dialer ? "reconnecting" : "waiting for it to reconnect");
    if (p->ever_connected) {
        p->suspect = 1; /* the next dial, or a probe, tells whether its process is gone */
        p->next_dial = p->next_probe = now_s();
    }
}

/* The peer's process is gone (its address refuses connections, or closes them unanswered). */
static void peer_gone(bridge *b, peer *p, const char *why) {
    if (p->got_bye) { /* its program had finished: we have all of it */
        if (!sf__stream_drained(&p->st) && !b->quiet)
            logf_(b, "party %s ended after its program finished, before acknowledging our last "
                     "messages; closing the channel", pname(b, p->idx));
        channel_closed(b, p);
        return;
    }
    die(b, SF_EXIT_PEER, "party %s (%s) lost: its process is gone (its connection broke and %s)",
        pname(b, p->idx), p->addr, why);
}

/* ------------------------------------------------------------------ connections in progress */

static int slot_new(bridge *b) {
    for (int i = 0; i < b->nslots; i++)
        if (!b->slots[i].used) {
            b->slots[i].used = 1;
            b->nused++;
            return i;
        }
    return -1;
}

static void slot_free(bridge *b, int i, int keep_fd) {
    sf__br_conn_close(&b->slots[i].c, keep_fd);
    b->slots[i].used = 0;
    b->nused--;
}

static int resolve_peer(bridge *b, peer *p) {
    if (!p->resolved &&
        sf__br_resolve(b->parties[p->idx].host, b->parties[p->idx].port, &p->sa, &p->salen) == 0)
        p->resolved = 1;
    return p->resolved;
}

/* A dial failed: exponential backoff (10 ms doubling to 1 s) with jitter. */
static void backoff(peer *p, double t, double at_least) {
    p->backoff = p->backoff > 0 ? p->backoff * 2 : 0.01;
    if (p->backoff > 1.0) p->backoff = 1.0;
    double d = p->backoff * (0.5 + 0.5 * (double)randombytes_uniform(1000) / 1000.0);
    p->next_dial = t + (d > at_least ? d : at_least);
}

static void start_conn(bridge *b, peer *p, int kind, double t) {
    if (!resolve_peer(b, p)) {
        if (kind == BR_DIAL) backoff(p, t, 1.0);
        else p->next_probe = t + 1.0;
        return;
    }
    int s = slot_new(b);
    if (s < 0) return; /* every slot busy: try again next round */
    /* an outcome at once (refused) is handled with the others, in the next timers() */
    sf__br_conn_dial(&b->slots[s].c, kind, &b->hs, p->idx, &p->sa, p->salen, t, HS_TIMEOUT);
    p->slot = s;
}

/* Pending accepted connections: count them, and pick one to evict. */
static int pending_count(bridge *b, int party, int *oldest_hello, int *oldest_unconf) {
    int n = 0;
    double th = 1e300, tu = 1e300;
    *oldest_hello = *oldest_unconf = -1;
    for (int i = 0, left = b->nused; left > 0 && i < b->nslots; i++) {
        br_conn *c = &b->slots[i].c;
        if (!b->slots[i].used) continue;
        left--;
        if (c->kind != BR_ACCEPT || c->outcome) continue;
        int unconf = sf__br_conn_unconfirmed(c);
        if (party >= 0 && (!unconf || c->peer != party)) continue;
        n++;
        if (unconf && c->started < tu) tu = c->started, *oldest_unconf = i;
        if (!unconf && c->started < th) th = c->started, *oldest_hello = i;
    }
    return n;
}

static void evict(bridge *b, int i, const char *why) {
    refusal(b, "dropped a pending connection%s: %s",
            sf__br_conn_unconfirmed(&b->slots[i].c) ? " (unconfirmed)" : "", why);
    sf__br_conn_refuse(&b->slots[i].c, BR_REASON_BUSY);
    slot_free(b, i, 0);
}

static void handle_frame(bridge *b, peer *p, const sf_frame *f);
static void slot_done(bridge *b, int s, double t);

static void accept_some(bridge *b, double t) {
    for (int k = 0; k < ACCEPT_BURST; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(b->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        int oh, ou;
        if (pending_count(b, -1, &oh, &ou) >= PENDING_MAX && (oh >= 0 || ou >= 0))
            evict(b, oh >= 0 ? oh : ou, "too many connections are handshaking");
        int s = slot_new(b);
        if (s < 0) { /* cannot happen: the dial and probe slots are extra */
            close(fd);
            continue;
        }
        sf__br_conn_accept(&b->slots[s].c, fd, t, HS_TIMEOUT);
        /* the dialer sends its hello with the connection: it is usually here already, so
         * answer now instead of one poll round later */
        if (sf__br_conn_step(&b->slots[s].c, &b->hs, POLLIN, t)) slot_done(b, s, t);
    }
}

static void peer_address(const br_conn *c, char *who, size_t len) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    snprintf(who, len, "?");
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl)) return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, who, (socklen_t)len);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, who, (socklen_t)len);
}


/* A connection in progress reached its outcome. */
static void slot_done(bridge *b, int s, double t) {
    br_conn *c = &b->slots[s].c;
    if (c->kind == BR_ACCEPT) {
        if (c->outcome == BR_CONFIRMED) {
            peer *p = &b->peers[c->peer];
            if (p->closed) {
                slot_free(b, s, 0);
                return;
            }
            conn_down(b, p, "replaced", 1);
            int fd = c->fd;
            conn_up(b, p, fd, c->tx, c->rx, 1); /* the RESUME frame was the first received */
            sf_frame f = {.type = SF_FRAME_RESUME, .ack = c->resume_ack};
            slot_free(b, s, 1);
            handle_frame(b, p, &f);
            return;
        }
        if (c->outcome != BR_ANSWERED || c->why[0]) {
            char who[64];
            peer_address(c, who, sizeof who);
            refusal(b, "refused a connection from %s: %s", who, c->why);
        }
        slot_free(b, s, 0);
        return;
    }
    peer *p = &b->peers[c->peer];
    p->slot = -1;
    int outcome = c->outcome;
    char why[sizeof c->why];
    memcpy(why, c->why, sizeof why);
    if (c->kind == BR_DIAL && outcome == BR_OPEN) {
        int fd = c->fd;
        conn_up(b, p, fd, c->tx, c->rx, 0);
        slot_free(b, s, 1);
        return;
    }
    slot_free(b, s, 0);
    if (p->closed) return;
    if (outcome == BR_GONE && p->suspect) {
        peer_gone(b, p, c->kind == BR_DIAL ? "reconnecting was refused" : "a probe of its address was refused");
        return;
    }
    if (c->kind == BR_PROBE) {
        if (outcome == BR_ALIVE) p->suspect = 0; /* it is there: it will redial */
        p->next_probe = t + PROBE_EVERY;
        return;
    }
    if (outcome == BR_REJECTED) {
        refusal(b, "%s at %s %s", pname(b, p->idx), p->addr, why);
        backoff(p, t, 1.0);
    } else {
        backoff(p, t, 0);
    }
}

/* ------------------------------------------------------------------ frames in */

/* A complete message from p (the stream's callback, bridge thread). */
static int deliver(void *arg, const sf_wire_msg *m, sf_value *v) {
    peer *p = arg;
    bridge *b = p->b;
    in_msg *im = malloc(sizeof *im);
    if (!im) {
        sf_value_unref(&v);
        return SF_ENOMEM;
    }
    im->next = NULL;
    im->h = m->h;
    im->v = v;
    if (m->h.kind == SF_MSG_BYE) p->got_bye = 1;
    pthread_mutex_lock(&b->mu);
    if (p->in_tail) p->in_tail->next = im;
    else p->in_head = im;
    p->in_tail = im;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return SF_OK;
}

static void handle_frame(bridge *b, peer *p, const sf_frame *f) {
    p->last_rx = p->last_frame = now_s();
    if (sf__stream_ack(&p->st, f->ack)) {
        conn_down(b, p, "the peer acknowledged frames never sent", 0);
        return;
    }
    switch (f->type) {
    case SF_FRAME_RESUME:
        p->resumed = 1;
        sf__stream_rewind(&p->st); /* resend every unacknowledged frame, in order */
        break;
    case SF_FRAME_DATA: {
        int rc = sf__stream_rx(&p->st, f->seq, f->payload, f->payload_len);
        if (rc == SF_ENOMEM) die(b, SF_EXIT_FAILURE, "out of memory receiving from party %s", pname(b, p->idx));
        if (rc == SF_ERANGE) { /* a gap: resume on a fresh connection */
            conn_down(b, p, p->st.err, 0);
            return;
        }
        if (rc) die(b, SF_EXIT_PEER, "party %s sent %s", pname(b, p->idx), p->st.err);
        __atomic_store_n(&p->rx_total, p->st.asm_v ? (uint64_t)p->st.asm_v->nbytes : 0,
                         __ATOMIC_RELAXED);
        __atomic_store_n(&p->rx_got, p->st.asm_data, __ATOMIC_RELAXED);
        break;
    }
    case SF_FRAME_CLOSE:
        if (f->flags & SF_FRAME_ABORT) {
            int code = 1;
            char why[SF_WIRE_REASON_MAX + 1] = "(no reason given)";
            if (f->payload_len && sf__wire_reason_decode(f->payload, f->payload_len, &code, why, sizeof why))
                snprintf(why, sizeof why, "(a malformed reason)");
            if (code < 1 || code > 125) code = SF_EXIT_PEER;
            fflush(stdout);
            char out[1400];
            int n = snprintf(out, sizeof out, "sfmpi: [prod %s] error: party %s stopped the run (exit %d): %s\n",
                             pname(b, b->self), pname(b, p->idx), code, why);
            ssize_t w = write(2, out, (size_t)(n < (int)sizeof out ? n : (int)sizeof out - 1));
            (void)w;
            /* pass it on, the same code and reason: a peer that sees this party's
             * connection end before the first abort frame reaches it must not take this
             * party for the lost one (the frame comes before the end on each connection) */
            tell_abort(b, code, why, p->idx);
            _exit(code);
        }
        p->got_close = 1;
        break;
    case SF_FRAME_NOTICE: {
        sf_wait_notice n;
        if (sf__wire_notice_decode(f->payload, f->payload_len, &n))
            die(b, SF_EXIT_PEER, "party %s sent a malformed wait notice", pname(b, p->idx));
        pthread_mutex_lock(&b->mu);
        if (!p->notice_in) b->notices++;
        p->notice_in = 1;
        p->notice = n; /* the latest one: a receiver waits at one place at a time */
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        break;
    }
    default: break;
    }
}

static void pump_in(bridge *b, peer *p) {
    for (int frames = 0; p->fd >= 0 && frames < 64;) {
        ssize_t r;
        if (p->rxpre_got < 4) r = recv(p->fd, p->rxpre + p->rxpre_got, 4 - p->rxpre_got, MSG_DONTWAIT);
        else r = recv(p->fd, p->rxbuf + p->rxgot, p->rxlen - p->rxgot, MSG_DONTWAIT);
        if (r == 0) {
            conn_down(b, p, "the peer closed the connection", 0);
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            conn_down(b, p, strerror(errno), 0);
            return;
        }
        if (p->rxpre_got < 4) {
            p->rxpre_got += (size_t)r;
            if (p->rxpre_got < 4) continue;
            if (sf__frame_len(p->rxpre, SF_FRAME_HDR + SF_NOISE_TAG + b->max_frame, &p->rxlen)) {
                if (!b->quiet)
                    logf_(b, "frame from %s refused: bad length %02x%02x%02x%02x", pname(b, p->idx),
                          p->rxpre[0], p->rxpre[1], p->rxpre[2], p->rxpre[3]);
                conn_down(b, p, "bad frame length", 0);
                return;
            }
            p->rxgot = 0;
            continue;
        }
        p->rxgot += (size_t)r;
        if (p->rxgot < p->rxlen) continue;
        sf_frame f;
        if (sf__frame_open(p->rx, p->rxpre, p->rxbuf, p->rxlen, &f)) {
            if (!b->quiet)
                logf_(b, "frame from %s failed authentication (corrupted, replayed or reordered); "
                         "dropping the connection", pname(b, p->idx));
            conn_down(b, p, "frame failed authentication", 0);
            return;
        }
        p->rxpre_got = 0;
        if (++p->rx_frames >= REKEY_FRAMES) {
            sf__noise_rekey(p->rx);
            p->rx_frames = 0;
        }
        handle_frame(b, p, &f);
        frames++;
    }
}

static void pump_out(bridge *b, peer *p, uint8_t *plain, int closing) {
    for (int frames = 0; p->fd >= 0 && frames < 64; frames++) {
        if (p->txoff == p->txlen) {
            p->txlen = p->txoff = 0;
            if (!next_frame(b, p, plain, closing)) return;
        }
        ssize_t w = send(p->fd, p->txbuf + p->txoff, p->txlen - p->txoff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            conn_down(b, p, strerror(errno), 0);
            return;
        }
        p->txoff += (size_t)w;
        p->last_tx = now_s();
        if (p->txoff < p->txlen) return;
    }
}

/* ------------------------------------------------------------------ the bridge thread */

/* Once per round: hand over what the program thread queued. Returns stop. */
static int take_requests(bridge *b, int *closing) {
    pthread_mutex_lock(&b->mu);
    int stop = b->stop;
    *closing = b->finishing;
    for (int i = 0; i < b->n; i++) {
        peer *p = &b->peers[i];
        for (sf_stream_msg *m = p->q_head, *nx; m; m = nx) {
            nx = m->next;
            sf__stream_append(&p->st, m);
        }
        p->q_head = p->q_tail = NULL;
        if (p->notice_req) {
            p->notice_out = p->notice_req_n;
            p->notice_due = 1;
            p->notice_req = 0;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return stop;
}

/* Timers: dials, probes, liveness, stalled connections, deadlines of connections in
 * progress. Returns whether every channel has closed. */
static int timers(bridge *b, double t, uint8_t *plain, int closing) {
    int all_closed = 1;
    double stall = 3 * b->heartbeat > 1.0 ? 3 * b->heartbeat : 1.0;
    for (int i = 0; i < b->n; i++) {
        peer *p = &b->peers[i];
        if (i == b->self) continue;
        if (!p->closed && p->fd < 0 && p->slot < 0) {
            if (p->dialer && t >= p->next_dial) start_conn(b, p, BR_DIAL, t);
            else if (!p->dialer && p->suspect && t >= p->next_probe) start_conn(b, p, BR_PROBE, t);
        }
        /* liveness: no authenticated frame for peer_timeout, connected or not */
        if (p->ever_connected && !p->closed && t - p->last_frame > b->peer_timeout)
            die(b, SF_EXIT_PEER, "party %s (%s) lost: nothing heard from it for %.1f s (peer_timeout); "
                                 "stopping this party",
                pname(b, i), p->addr, t - p->last_frame);
        /* a live peer sends a frame at least every heartbeat: a connection on which no frame
         * completes for several (a corrupted length that still passes the maximum) is
         * dropped and resumed */
        if (p->fd >= 0 && t - p->last_rx > stall && t - p->conn_since > stall)
            conn_down(b, p, "no complete frame for several heartbeats", 0);
        if (p->fd >= 0) pump_out(b, p, plain, closing);
        if (!p->closed && !(p->got_close && p->closing_sent && p->txoff == p->txlen)) all_closed = 0;
    }
    /* slot_done frees slots but starts none: the slots in use now are all visited */
    for (int s = 0, left = b->nused; left > 0 && s < b->nslots; s++) {
        if (!b->slots[s].used) continue;
        left--;
        if (sf__br_conn_step(&b->slots[s].c, &b->hs, 0, t)) slot_done(b, s, t);
    }
    return all_closed;
}

static void *bridge_main(void *arg) {
    bridge *b = arg;
    uint8_t *plain = malloc(b->max_frame);
    int cap = 2 + b->n + b->nslots;
    struct pollfd *pf = calloc((size_t)cap, sizeof *pf);
    int *who = calloc((size_t)cap, sizeof *who); /* -1 wake, -2 listen, peer i, or -(3 + slot) */
    if (!plain || !pf || !who) die(b, 1, "bridge: out of memory");
    double busy_until = 0; /* poll without sleeping until then (after traffic) */
    for (;;) {
        int closing;
        if (take_requests(b, &closing)) break;
        double t = now_s();
        if (timers(b, t, plain, closing) && closing) {
            pthread_mutex_lock(&b->mu);
            b->all_closed = 1;
            pthread_cond_broadcast(&b->cv);
            pthread_mutex_unlock(&b->mu);
        }
        int np = 0;
        pf[np] = (struct pollfd){.fd = b->wake_fd, .events = POLLIN};
        who[np++] = -1;
        pf[np] = (struct pollfd){.fd = b->listen_fd, .events = POLLIN};
        who[np++] = -2;
        for (int i = 0; i < b->n; i++) {
            peer *p = &b->peers[i];
            if (p->fd < 0) continue;
            short ev = POLLIN;
            if (p->txoff < p->txlen || p->need_resume || p->notice_due || (p->resumed && sf__stream_ready(&p->st)))
                ev |= POLLOUT;
            pf[np] = (struct pollfd){.fd = p->fd, .events = ev};
            who[np++] = i;
        }
        for (int s = 0, left = b->nused; left > 0 && s < b->nslots; s++) {
            if (!b->slots[s].used) continue;
            left--;
            if (b->slots[s].c.fd < 0) continue;
            pf[np] = (struct pollfd){.fd = b->slots[s].c.fd, .events = sf__br_conn_events(&b->slots[s].c)};
            who[np++] = -3 - s;
        }
        int timeout = (int)(b->heartbeat * 1000 / 4);
        if (timeout > 50) timeout = 50;
        /* right after traffic, poll without sleeping for a while (yielding the CPU between
         * polls): the next message of a request/reply exchange usually follows within
         * microseconds, and a sleep and wake-up would cost tens of them */
        int nready = poll(pf, (nfds_t)np, t < busy_until ? 0 : timeout);
        if (nready < 0 && errno != EINTR) die(b, 1, "bridge: poll: %s", strerror(errno));
        t = now_s();
        if (nready > 0) busy_until = spinning_allowed(t) ? t + SPIN_SECONDS : 0;
        else if (t < busy_until && !spin_step(busy_until)) busy_until = 0;
        for (int k = 0; k < np && nready > 0; k++) {
            if (!pf[k].revents) continue;
            if (who[k] == -1) {
                uint64_t v;
                ssize_t r = read(b->wake_fd, &v, sizeof v);
                (void)r;
            } else if (who[k] == -2) {
                accept_some(b, t);
            } else if (who[k] >= 0) {
                peer *p = &b->peers[who[k]];
                if (p->fd != pf[k].fd) continue;
                if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) pump_in(b, p);
                if (p->fd >= 0 && (pf[k].revents & POLLOUT)) pump_out(b, p, plain, closing);
            } else {
                int s = -3 - who[k];
                if (!b->slots[s].used || b->slots[s].c.fd != pf[k].fd) continue;
                if (sf__br_conn_step(&b->slots[s].c, &b->hs, pf[k].revents, t)) slot_done(b, s, t);
            }
        }
        /* keep the per-party cap of unconfirmed connections (each may be a replay); no
         * party can be over it while fewer slots are in use */
        for (int i = 0; b->nused > UNCONFIRMED_PER_PARTY && i < b->self; i++) {
            int oh, ou;
            while (pending_count(b, i, &oh, &ou) > UNCONFIRMED_PER_PARTY && ou >= 0)
                evict(b, ou, "too many unconfirmed connections claim the same party");
        }
    }
    free(plain);
    free(pf);
    free(who);
    sf__value_thread_cleanup();
    return NULL;
}

/* ------------------------------------------------------------------ transport ops */

static int br_send(sf_transport *t, int dst, const sf_msg_hdr *h, sf_value *v) {
    bridge *b = (bridge *)t;
    sf_stream_msg *m = sf__stream_msg_new(h, v);
    if (!m) return SF_ENOMEM;
    peer *p = &b->peers[dst];
    pthread_mutex_lock(&b->mu);
    if (p->q_tail) p->q_tail->next = m;
    else p->q_head = m;
    p->q_tail = m;
    pthread_mutex_unlock(&b->mu);
    wake(b);
    return SF_OK;
}

/* Hand the peers' wait notices to the runtime (called with mu held; releases it around
 * each hook, which may end the run). */
static void handle_notices(bridge *b) {
    while (b->notices > 0) {
        for (int i = 0; i < b->n; i++) {
            peer *q = &b->peers[i];
            if (!q->notice_in) continue;
            sf_wait_notice n = q->notice;
            q->notice_in = 0;
            b->notices--;
            pthread_mutex_unlock(&b->mu);
            if (b->base.hooks.on_notice) b->base.hooks.on_notice(b->base.hooks.arg, i, &n);
            pthread_mutex_lock(&b->mu);
        }
    }
}

/* The receiver's progress: once src's next message is being reassembled, its bytes. */
static void rx_progress(bridge *b, peer *p, sf_progress *pr) {
    if (!pr->on) {
        uint64_t total = __atomic_load_n(&p->rx_total, __ATOMIC_RELAXED);
        if (!total || pr->t0 > 0) return; /* nothing arriving, or begun and ended already */
        char tag[96], what[128];
        snprintf(tag, sizeof tag, "prod %s/0", pname(b, b->self));
        snprintf(what, sizeof what, "receiving from %s", pname(b, p->idx));
        sf__progress_begin(pr, tag, what, total, "B");
        if (!pr->on) return;
    }
    sf__progress_update(pr, __atomic_load_n(&p->rx_got, __ATOMIC_RELAXED));
}

static int br_recv(sf_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h, sf_value **v) {
    bridge *b = (bridge *)t;
    peer *p = &b->peers[src];
    pthread_mutex_lock(&b->mu);
    double t_spin = now_s();
    if (!p->in_head && !p->eof && !b->notices && spinning_allowed(t_spin)) {
        double until = t_spin + SPIN_SECONDS;
        int go;
        do {
            pthread_mutex_unlock(&b->mu);
            go = spin_step(until);
            pthread_mutex_lock(&b->mu);
        } while (go && !p->in_head && !p->eof && !b->notices);
    }
    double t0 = now_s(), next_notice = t0 + b->wait_timeout;
    sf_progress pr = {0}; /* a large message arriving from src (core/progress.h) */
    int watch = !p->in_head && sf__progress_enabled();
    while (!p->in_head) {
        if (b->notices) {
            handle_notices(b);
            continue;
        }
        if (p->eof) {
            pthread_mutex_unlock(&b->mu);
            sf__progress_end(&pr, 0);
            return SF_EPEER;
        }
        double t = now_s();
        if (watch) rx_progress(b, p, &pr);
        if (w && t >= next_notice) { /* tell src what we wait for (again, in case it was lost) */
            p->notice_req = 1;
            p->notice_req_n = *w;
            next_notice = t + b->wait_timeout;
            wake(b);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = w ? next_notice - t : 1.0;
        if (watch) { /* look at the arriving message at least once per progress interval */
            double every = sf__progress_interval();
            every = every < 0.01 ? 0.01 : every > 0.25 ? 0.25 : every;
            if (wait > every) wait = every;
        }
        long ns = (long)(wait * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec += ns % 1000000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    in_msg *im = p->in_head;
    p->in_head = im->next;
    if (!p->in_head) p->in_tail = NULL;
    pthread_mutex_unlock(&b->mu);
    pr.done = pr.total;
    sf__progress_end(&pr, 1);
    *h = im->h;
    *v = im->v;
    free(im);
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

static void br_abort(sf_transport *t, int code, const char *reason) {
    bridge *b = (bridge *)t;
    stop_thread(b); /* the sockets and cipher states are this thread's now */
    tell_abort(b, code, reason, -1);
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
    for (int i = 0; b->peers && i < b->n; i++) {
        peer *p = &b->peers[i];
        graceful_close(p);
        for (sf_stream_msg *m = p->q_head, *nx; m; m = nx) {
            nx = m->next;
            sf__stream_msg_drop(m);
        }
        for (in_msg *m = p->in_head, *nx; m; m = nx) {
            nx = m->next;
            sf_value_unref(&m->v);
            free(m);
        }
        sf__stream_free(&p->st);
        free(p->txbuf);
        free(p->rxbuf);
    }
    for (int s = 0; b->slots && s < b->nslots; s++)
        if (b->slots[s].used) slot_free(b, s, 0);
    if (b->listen_fd >= 0) close(b->listen_fd);
    if (b->wake_fd >= 0) close(b->wake_fd);
    if (b->secure) sodium_free(b->secure); /* wipes it */
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->slots);
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
    int rc = SF_OK, fd = -1, one = 1;
    if (laddr) { /* host:port (or [v6]:port) to bind instead of the cluster address */
        const char *colon = strrchr(laddr, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        size_t hl = colon ? (size_t)(colon - laddr) : 0;
        if (laddr[0] == '[' && hl >= 2 && laddr[hl - 1] == ']') laddr++, hl -= 2;
        SF_CHECK(colon && end && !*end && port >= 1 && port <= 65535 && hl > 0 && hl < sizeof me.host,
                 out, rc, SF_EUSAGE, err, errlen, "--sf-listen=%s: expected host:port", listen_arg);
        memcpy(me.host, laddr, hl);
        me.host[hl] = 0;
        me.port = (int)port;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    SF_CHECK(!sf__br_resolve(me.host, me.port, &ss, &sl), out, rc, SF_EUSAGE, err, errlen,
             "party %s: cannot resolve its listen address %s:%d", me.name, me.host, me.port);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    SF_CHECK_ERRNO(fd >= 0, out, rc, SF_ESYS, err, errlen, "party %s: socket", me.name);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    SF_CHECK_ERRNO(!bind(fd, (struct sockaddr *)&ss, sl) && !listen(fd, 128), out, rc, SF_ESYS, err,
                   errlen, "party %s: cannot listen on %s:%d", me.name, me.host, me.port);
    b->listen_fd = fd;
    fd = -1;
out:
    if (fd >= 0) close(fd);
    return rc;
}

/* One sodium_malloc region for every secret: the parties' cipher states, and a handshake
 * state with its two new cipher states per slot. */
static int secure_alloc(bridge *b) {
    size_t ncs = 2 * (size_t)b->n, nhs = (size_t)b->nslots;
    size_t bytes = sizeof(sf_noise_cs) * (ncs + 2 * nhs) + sizeof(sf_noise_hs) * nhs;
    b->secure = sodium_malloc(bytes);
    if (!b->secure) return SF_ENOMEM;
    sodium_memzero(b->secure, bytes);
    b->sec.cs = b->secure;
    b->sec.hcs = b->sec.cs + ncs;
    b->sec.hs = (sf_noise_hs *)(void *)(b->sec.hcs + 2 * nhs);
    for (int i = 0; i < b->n; i++) {
        b->peers[i].tx = &b->sec.cs[2 * i];
        b->peers[i].rx = &b->sec.cs[2 * i + 1];
    }
    for (int s = 0; s < b->nslots; s++) {
        b->slots[s].c.hs = &b->sec.hs[s];
        b->slots[s].c.tx = &b->sec.hcs[2 * s];
        b->slots[s].c.rx = &b->sec.hcs[2 * s + 1];
        b->slots[s].c.fd = -1;
    }
    return SF_OK;
}

/* The largest message a peer may announce: the machine's memory (a larger value could
 * never be held; a buffer is allocated only after its header checked, and fills only as
 * authenticated data arrives). */
static uint64_t max_message(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    return pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : UINT64_MAX;
}

/* The peers not connected yet: "bob at host:port, carol at host:port" (mu held). */
static void missing_peers(const bridge *b, char *buf, size_t len) {
    size_t ml = 0;
    buf[0] = 0;
    for (int i = 0; i < b->n; i++)
        if (i != b->self && b->peers[i].fd < 0 && ml + 80 < len)
            ml += (size_t)snprintf(buf + ml, len - ml, "%s%s at %s", ml ? ", " : "", pname(b, i),
                                   b->peers[i].addr);
}

/* Wait until every peer is connected, reporting progress (core/progress.h) meanwhile. */
static int wait_connected(bridge *b, int quiet, char *err, size_t errlen) {
    char tag[96], missing[1024];
    snprintf(tag, sizeof tag, "prod %s/0", pname(b, b->self));
    sf_progress pr;
    sf__progress_begin(&pr, tag, "start-up", 0, "");
    double t0 = now_s();
    pthread_mutex_lock(&b->mu);
    while (b->nopen < b->n - 1) {
        double t = now_s();
        if (t - t0 > b->connect_timeout) {
            int nopen = b->nopen;
            missing_peers(b, missing, sizeof missing);
            pthread_mutex_unlock(&b->mu);
            sf__progress_end(&pr, 0);
            snprintf(err, errlen,
                     "gave up after %.0f s (connect_timeout) waiting for %s; connected %d/%d",
                     b->connect_timeout, missing, nopen + 1, b->n);
            return SF_ETIMEOUT;
        }
        if (sf__progress_due(&pr)) {
            missing_peers(b, missing, sizeof missing);
            sf__progress_show(&pr, "connected %d/%d, waiting for %s; %.0f s of connect_timeout %.0f s",
                              b->nopen + 1, b->n, missing, t - t0, b->connect_timeout);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    pthread_mutex_unlock(&b->mu);
    sf__progress_end(&pr, 1);
    if (!quiet) logf_(b, "connected %d/%d: all parties are up", b->n, b->n);
    return SF_OK;
}

int sf__bridge_transport_create(sf_transport **out, const sf_cluster *c, int self,
                                const sf_party_key *key, const sf_bridge_options *opt,
                                const sf_transport_hooks *hooks, char *err, size_t errlen) {
    int rc = SF_OK;
    bridge *b = NULL;
    SF_CHECK(sodium_init() >= 0, fail, rc, SF_ESYS, err, errlen, "libsodium failed to initialise");
    SF_CHECK(sf__noise_cipher_available(c->cipher), fail, rc, SF_EUSAGE, err, errlen,
             "cipher %s is not available on this CPU (libsodium needs AES-NI for AES-GCM); use "
             "\"chachapoly\"", sf__noise_protocol_name(c->cipher));
    b = calloc(1, sizeof *b);
    SF_CHECK(b, fail, rc, SF_ENOMEM, err, errlen, "out of memory setting up the bridge");
    b->base.ops = &bridge_ops;
    b->base.hooks = *hooks;
    b->base.self = self;
    b->base.nparties = c->nparties;
    b->self = self;
    b->n = c->nparties;
    b->listen_fd = b->wake_fd = -1;
    b->peer_timeout = c->peer_timeout;
    b->heartbeat = c->heartbeat;
    b->connect_timeout = opt->connect_timeout > 0 ? opt->connect_timeout : c->connect_timeout;
    b->wait_timeout = opt->wait_timeout > 0 ? opt->wait_timeout : 2.0;
    b->window = c->window;
    b->max_frame = c->max_frame;
    b->max_message = max_message();
    b->quiet = opt->quiet;
    b->log_tokens = 5;
    b->log_at = now_s();
    b->hs.self = self;
    b->hs.n = b->n;
    b->hs.key_priv = key->secret_key;
    b->hs.cipher = c->cipher;
    b->hs.resume_len = SF_FRAME_HDR + SF_NOISE_TAG;
    memcpy(b->hs.cluster_hash, c->file_hash, 32);
    snprintf(b->hs.job_id, sizeof b->hs.job_id, "%s", opt->job_id && *opt->job_id ? opt->job_id : c->job_id);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->nslots = PENDING_MAX + b->n; /* accepted connections, and one dial or probe per peer */
    b->parties = calloc((size_t)b->n, sizeof *b->parties);
    b->peers = calloc((size_t)b->n, sizeof *b->peers);
    b->slots = calloc((size_t)b->nslots, sizeof *b->slots);
    SF_CHECK(b->parties && b->peers && b->slots && !secure_alloc(b), fail, rc, SF_ENOMEM, err, errlen,
             "out of memory setting up the bridge");
    memcpy(b->parties, c->parties, sizeof *b->parties * (size_t)b->n);
    b->hs.parties = b->parties;
    for (int i = 0; i < b->n; i++) {
        peer *p = &b->peers[i];
        p->b = b;
        p->idx = i;
        p->fd = -1;
        p->slot = -1;
        p->dialer = self < i;
        snprintf(p->addr, sizeof p->addr, "%s:%d", c->parties[i].host, c->parties[i].port);
        if (i == self) continue;
        resolve_peer(b, p);
        p->txbuf = malloc(SF_FRAME_OVERHEAD + b->max_frame);
        p->rxbuf = malloc(SF_FRAME_OVERHEAD + b->max_frame);
        SF_CHECK(p->txbuf && p->rxbuf &&
                     !sf__stream_init(&p->st, b->window, b->max_frame, b->max_message, deliver, p),
                 fail, rc, SF_ENOMEM, err, errlen, "out of memory setting up the channel to %s",
                 c->parties[i].name);
    }
    if ((rc = listen_on(b, opt->listen, err, errlen))) goto fail;
    b->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    SF_CHECK_ERRNO(b->wake_fd >= 0, fail, rc, SF_ESYS, err, errlen, "eventfd");
    errno = pthread_create(&b->thread, NULL, bridge_main, b);
    SF_CHECK_ERRNO(!errno, fail, rc, SF_ESYS, err, errlen, "cannot start the bridge thread");
    b->thread_started = 1;
    if ((rc = wait_connected(b, opt->quiet, err, errlen))) goto fail;
    *out = &b->base;
    return SF_OK;
fail:
    if (b) {
        sf_transport *tp = &b->base;
        br_destroy(&tp);
    }
    return rc;
}
