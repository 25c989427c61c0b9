/*
 * faulty_proxy: a TCP proxy that injects faults into production-mode bridge connections.
 *
 *   faulty_proxy --listen PORT --to PORT2 [--flips N] [--replays N] [--resets N]
 *                [--badlens N] [--lenflips N] [--taildrops N] [--taildrop-dir 0|1]
 *                [--seed S] [--skip BYTES] [--span BYTES]
 *                [--reverse PCT] [--flag-file PATH] [--quiet]
 *                [--delay-ms MS] [--delay-dir 0|1] [--delay-from IDX]
 *                [--reset-idle MS] [--idle-dir 0|1]
 *
 * Listens on 127.0.0.1:PORT and forwards every accepted connection to 127.0.0.1:PORT2, in
 * both directions, accepting new connections after old ones die (one poll loop, no
 * threads). Each connection gets at most one fault, at a random byte offset in
 * [skip, skip + span) of the connection's traffic (both directions counted together;
 * skip defaults to 4 KiB, past the Noise handshake), while the budget lasts. The fault
 * goes into the first chunk past the offset in its direction: target -> dialer for PCT
 * percent of the connections (default 30; that direction carries only acks and
 * heartbeats here), else dialer -> target. The kind is drawn at random, weighted by what
 * is left of each budget:
 *   flip    flip one bit of the byte at the offset
 *   replay  forward the chunk previously forwarded in that direction a second time,
 *           before the current one
 *   reset   close both sides abruptly (SO_LINGER 0: RST), dropping what is in flight
 *   badlen  from the offset on, overwrite the next frame length prefix (in whichever
 *           direction a frame starts first) with 0xFFFFFFFF. The proxy follows frame
 *           boundaries: dialer -> target: 11-byte hello + hello[10] bytes; target -> dialer:
 *           u16 length + that many bytes; then frames of u32 big-endian length + payload.
 *   lenflip like badlen, but flip one bit (4..19) of the length instead: the length
 *           stays plausible (at most ~1.5 MiB), so the receiver waits for bytes that
 *           never make up the frame it expects, until the AEAD check fails.
 *   taildrop (not drawn per connection: on every connection while the budget lasts) in
 *           direction --taildrop-dir (0: dialer -> target, default; 1: the other way),
 *           hold back each frame of at most 1 KiB until the next frame starts or 100 ms
 *           pass; when that side closes its end while a frame is held (the last frames
 *           before an orderly close, such as a CLOSE frame), drop it and reset both sides.
 * A fault is counted when it is injected; a connection that ends before its offset keeps
 * the budget for the next one. Every fault is logged on stderr (unless --quiet).
 *
 * Two timing faults, independent of the budgets above (and of each other), on every
 * connection:
 *   delay   (--delay-ms MS) every byte of direction --delay-dir (0: dialer -> target,
 *           default; 1: the other way) is forwarded MS milliseconds after the proxy read
 *           it, in order; an EOF from that side is passed on MS later too. The other
 *           direction is not slowed. With --delay-from IDX, only connections whose hello
 *           names party index IDX as the dialer are delayed, from the chunk after the
 *           hello on (every party dials the same advertised address, so a proxy there
 *           sits on the links of every lower party). Logged when a connection starts
 *           being delayed, with the count of delayed chunks when it closes.
 *   idlereset (--reset-idle MS) once the connection has carried more than --skip bytes
 *           (both directions counted together), as soon as direction --idle-dir (default
 *           0: dialer -> target) has brought nothing for MS milliseconds, close both
 *           sides abruptly (RST), at most once per connection. A peer's last frames before
 *           an orderly close (its CLOSE frame) followed by silence trip it. Logged with the
 *           time since the proxy started and the bytes each way.
 *
 * On SIGTERM/SIGINT, or once the --flag-file exists, prints
 *   faults: flips=F replays=R resets=S badlens=B lenflips=L taildrops=T idleresets=I
 * on stderr and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define BUFSZ (128 * 1024)  /* per direction; a read takes at most half */
#define MAXCONN 64
#define HOLD_MAX 1024       /* taildrop: frames up to this size are held back */
#define HOLD_MS 100         /* ... for at most this long */
#define DELAY_MAX (8u << 20) /* delay: bytes read but not yet due, per direction */

enum { F_NONE = -1, F_FLIP = 0, F_REPLAY, F_RESET, F_BADLEN, F_LENFLIP, F_KINDS, F_TAILDROP = F_KINDS,
       F_IDLERESET, F_ALL };
static const char *kind_name[F_KINDS] = {"flip", "replay", "reset", "badlen", "lenflip"};

/* frame tracker states */
enum { T_HELLO, T_HELLO_BODY, T_LEN2, T_BODY, T_REJECT, T_PREFIX, T_PAYLOAD, T_LOST };

/* delay: a chunk read from the source, due for the pipeline at `due` (len 0: the EOF) */
typedef struct delayed {
    struct delayed *next;
    double due;
    size_t len;
    uint8_t data[];
} delayed;

typedef struct dir {
    uint8_t buf[BUFSZ + HOLD_MAX];
    size_t len, off;    /* pending bytes buf[off..len) for the destination */
    size_t wend;        /* buf[off..wend) may be written now; buf[wend..len) is held */
    int hold;           /* taildrop: hold back the last small frame of this direction */
    double held_since;
    long last_start;    /* set by track(): offset of the last frame start in the chunk */
    int eof, shut;      /* source gave EOF; destination's write side shut down */
    uint8_t last[BUFSZ / 2];
    size_t last_len;    /* the chunk forwarded before (for replays) */
    uint64_t bytes;     /* read from the source */
    int ts;             /* tracker state */
    uint8_t hdr[11];
    int hdr_got;
    uint64_t need;      /* bytes left in the current body / payload */
    double last_read;   /* when a byte last came from the source */
    int delay;          /* delay: chunks wait in dq before they enter the pipeline */
    int src_eof;        /* delay: the source gave EOF (queued as an empty chunk) */
    delayed *dq_head, *dq_tail;
    size_t dq_bytes;
    uint64_t dq_chunks; /* chunks delayed so far */
} dir;

typedef struct conn {
    int used, id;
    int fd[2];          /* 0: client (dialer side), 1: server (target) */
    dir d[2];           /* d[0]: client -> server, d[1]: server -> client */
    uint64_t total;     /* bytes read, both directions */
    int fault;          /* kind or F_NONE */
    int fdir;           /* direction the fault goes into (0: dialer -> target) */
    uint64_t fault_at;
    int done;           /* fault injected */
    int armed;          /* badlen: overwrite the next prefix */
    int badlen_bytes;   /* prefix bytes seen so far (0..4) of the broken prefix */
    int badlen_dir;     /* direction of the broken prefix, or -1 */
    int lenbit;         /* lenflip: the bit of the length to flip (4..19) */
    int idle_done;      /* idlereset: fired (or the connection is past it) */
    int dialer;         /* the dialer's party index from the hello, or -1 */
    int delay_decided;  /* delay: whether this connection is delayed is settled */
} conn;

static conn conns[MAXCONN];
static long budget[F_ALL], injected[F_ALL];
static int taildrop_dir = 0;
static long delay_ms = 0, idle_ms = 0;
static int delay_dir = 0, idle_dir = 0, delay_from = -1;
static double t_start;
static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint64_t skip_bytes = 4096, span_bytes = 4u << 20, reverse_pct = 30;
static int quiet = 0, nconn_total = 0;
static volatile sig_atomic_t stop_flag = 0;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return rng_state = x;
}

static void logf_(const char *fmt, ...) {
    if (quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "faulty_proxy: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void abort_fd(int fd) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void conn_close(conn *c, int abortive, const char *why) {
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] < 0) continue;
        if (abortive) abort_fd(c->fd[i]);
        else close(c->fd[i]);
        c->fd[i] = -1;
    }
    if (!quiet)
        logf_("conn %d closed (%s) after %llu+%llu bytes", c->id, why,
              (unsigned long long)c->d[0].bytes, (unsigned long long)c->d[1].bytes);
    for (int j = 0; j < 2; j++) {
        dir *d = &c->d[j];
        if (d->delay)
            logf_("conn %d: delay: %llu chunks of %s delayed by %ld ms%s", c->id,
                  (unsigned long long)d->dq_chunks, j ? "target->dialer" : "dialer->target", delay_ms,
                  d->dq_head ? "; dropping those not yet due" : "");
        for (delayed *q = d->dq_head, *nx; q; q = nx) {
            nx = q->next;
            free(q);
        }
        d->dq_head = d->dq_tail = NULL;
        d->dq_bytes = 0;
    }
    c->used = 0;
}

/* Pick the fault for a new connection: weighted by what is left of each budget. */
static void pick_fault(conn *c) {
    long left[F_KINDS], sum = 0;
    for (int k = 0; k < F_KINDS; k++) sum += left[k] = budget[k] - injected[k] > 0 ? budget[k] - injected[k] : 0;
    c->fault = F_NONE;
    if (sum == 0) return;
    long r = (long)(rnd() % (uint64_t)sum);
    for (int k = 0; k < F_KINDS; k++) {
        if (r < left[k]) {
            c->fault = k;
            break;
        }
        r -= left[k];
    }
    c->fault_at = skip_bytes + (span_bytes ? rnd() % span_bytes : 0);
    c->fdir = rnd() % 100 < reverse_pct;
    c->lenbit = 4 + (int)(rnd() % 16);
}

static int take_budget(int k) {
    if (injected[k] >= budget[k]) return 0;
    injected[k]++;
    return 1;
}

/* Follow frame boundaries over chunk p[0..n) of direction k; when the connection is armed
 * for a bad length, overwrite the next length prefix that starts from here on. */
static void track(conn *c, int k, uint8_t *p, size_t n) {
    dir *d = &c->d[k];
    size_t i = 0;
    while (i < n) {
        switch (d->ts) {
        case T_HELLO:
            d->hdr[d->hdr_got++] = p[i++];
            if (d->hdr_got == 11) {
                if (k == 0) c->dialer = (int)d->hdr[6] << 8 | d->hdr[7];
                d->need = d->hdr[10], d->ts = d->need ? T_HELLO_BODY : T_PREFIX, d->hdr_got = 0;
            }
            break;
        case T_LEN2:
            d->hdr[d->hdr_got++] = p[i++];
            if (d->hdr_got == 2) {
                uint32_t l = (uint32_t)d->hdr[0] << 8 | d->hdr[1];
                d->hdr_got = 0;
                if (l == 0xFFFF) d->need = 1, d->ts = T_REJECT;
                else d->need = l, d->ts = l ? T_BODY : T_PREFIX;
            }
            break;
        case T_HELLO_BODY:
        case T_BODY:
        case T_PAYLOAD:
        case T_REJECT: {
            size_t m = n - i < d->need ? n - i : (size_t)d->need;
            i += m, d->need -= m;
            if (d->need == 0) d->ts = d->ts == T_REJECT ? T_LOST : T_PREFIX;
            break;
        }
        case T_PREFIX:
            if (d->hdr_got == 0) d->last_start = (long)i;
            if (d->hdr_got == 0 && c->armed && !c->done && k == c->fdir) { /* a frame starts here: break it */
                c->done = 1;
                c->badlen_dir = k;
                c->badlen_bytes = 0;
                if (!take_budget(c->fault))
                    c->badlen_dir = -1;
                else if (c->fault == F_BADLEN)
                    logf_("conn %d: badlen: length prefix at byte %llu of %s set to 0xFFFFFFFF", c->id,
                          (unsigned long long)(d->bytes - n + i), k ? "target->dialer" : "dialer->target");
                else
                    logf_("conn %d: lenflip: bit %d of the length prefix at byte %llu of %s flipped",
                          c->id, c->lenbit, (unsigned long long)(d->bytes - n + i),
                          k ? "target->dialer" : "dialer->target");
            }
            d->hdr[d->hdr_got++] = p[i];
            if (c->done && c->badlen_dir == k && c->badlen_bytes < 4) {
                if (c->fault == F_BADLEN) p[i] = 0xFF;
                else if (c->badlen_bytes == 3 - c->lenbit / 8) p[i] ^= (uint8_t)(1u << (c->lenbit % 8));
                c->badlen_bytes++;
            }
            i++;
            if (d->hdr_got == 4) {
                uint32_t l = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 |
                             (uint32_t)d->hdr[2] << 8 | d->hdr[3];
                d->hdr_got = 0;
                if (l > (64u << 20)) d->ts = T_LOST; /* not a frame stream we understand */
                else d->need = l, d->ts = l ? T_PAYLOAD : T_PREFIX;
            }
            break;
        default: i = n; break;
        }
    }
}

/* A chunk p[0..n) was read from direction k's source: apply the connection's fault, queue
 * it for the destination. Returns 0, or -1 if the connection was reset. */
static int on_chunk(conn *c, int k, uint8_t *p, size_t n) {
    dir *d = &c->d[k];
    uint64_t before = c->total;
    c->total += n;
    d->bytes += n;
    size_t insert = 0, tracked = 0; /* replayed bytes put in front; bytes tracked */
    if (c->fault != F_NONE && !c->done && !c->armed && c->total > c->fault_at &&
        (k == c->fdir || c->fault == F_RESET)) {
        /* the offset, or a random byte if it passed in the other direction */
        size_t pos = c->fault_at > before ? (size_t)(c->fault_at - before) : (size_t)(rnd() % n);
        const char *dn = k ? "target->dialer" : "dialer->target";
        unsigned long long at = (unsigned long long)(d->bytes - n + pos);
        switch (c->fault) {
        case F_FLIP: {
            int bit = (int)(rnd() % 8);
            c->done = 1;
            if (take_budget(F_FLIP)) {
                p[pos] ^= (uint8_t)(1u << bit);
                logf_("conn %d: flip: bit %d of byte %llu (%s)", c->id, bit, at, dn);
            }
            break;
        }
        case F_REPLAY:
            if (d->last_len == 0) break; /* nothing forwarded yet this way: next chunk */
            c->done = 1;
            if (take_budget(F_REPLAY)) {
                insert = d->last_len;
                logf_("conn %d: replay: %zu bytes forwarded again before byte %llu (%s)", c->id,
                      insert, (unsigned long long)(d->bytes - n), dn);
            }
            break;
        case F_RESET:
            c->done = 1;
            if (take_budget(F_RESET)) {
                logf_("conn %d: reset at byte %llu (%s)", c->id, at, dn);
                conn_close(c, 1, "reset injected");
                return -1;
            }
            break;
        case F_BADLEN: /* track() breaks the next prefix that starts from pos on */
        case F_LENFLIP:
            track(c, k, p, pos);
            tracked = pos;
            c->armed = 1;
            break;
        }
    }
    d->last_start = -1;
    track(c, k, p + tracked, n - tracked);
    if (d->last_start >= 0) d->last_start += (long)tracked;
    /* queue: [replayed chunk] + chunk; remember this chunk for a later replay */
    if (d->off > 0) { /* only held bytes are left (see the read condition) */
        memmove(d->buf, d->buf + d->off, d->len - d->off);
        d->len -= d->off, d->wend -= d->off, d->off = 0;
    }
    if (insert) {
        memcpy(d->buf + d->len, d->last, insert);
        d->len += insert;
    }
    size_t base = d->len;
    memcpy(d->buf + d->len, p, n);
    d->len += n;
    if (d->hold && d->last_start >= 0 && d->len - (base + (size_t)d->last_start) <= HOLD_MAX) {
        d->wend = base + (size_t)d->last_start; /* hold the frame that starts last */
        d->held_since = now_s();
    } else if (!d->hold || d->len - d->wend > HOLD_MAX) {
        d->wend = d->len;
    }
    memcpy(d->last, p, n);
    d->last_len = n;
    if (delay_ms && !c->delay_decided && c->dialer >= 0) { /* --delay-from: the hello is in */
        c->delay_decided = 1;
        if (c->dialer == delay_from) {
            c->d[delay_dir].delay = 1;
            logf_("conn %d: delay: %s by %ld ms (the dialer is party %d)", c->id,
                  delay_dir ? "target->dialer" : "dialer->target", delay_ms, c->dialer);
        } else {
            logf_("conn %d: no delay (the dialer is party %d)", c->id, c->dialer);
        }
    }
    return 0;
}

/* Pass EOFs on once the data before them is delivered; closes the connection when both
 * directions are done. Returns 1 if it closed. */
static int propagate_eofs(conn *c) {
    for (int j = 0; j < 2; j++) {
        dir *d = &c->d[j];
        if (d->eof && !d->shut && d->off == d->len) {
            shutdown(c->fd[1 - j], SHUT_WR);
            d->shut = 1;
        }
    }
    if (c->d[0].shut && c->d[1].shut) {
        conn_close(c, 0, "both sides closed");
        return 1;
    }
    return 0;
}

/* delay: queue a chunk (n == 0: the EOF) read from direction d's source */
static int delay_chunk(dir *d, const uint8_t *p, size_t n, double t) {
    delayed *q = malloc(sizeof *q + n);
    if (!q) return -1;
    q->next = NULL;
    q->due = t + (double)delay_ms / 1000.0;
    q->len = n;
    memcpy(q->data, p, n);
    if (d->dq_tail) d->dq_tail->next = q;
    else d->dq_head = q;
    d->dq_tail = q;
    d->dq_bytes += n;
    if (n) d->dq_chunks++;
    return 0;
}

/* delay: hand the chunks that are due to the pipeline (as if just read: faults and frame
 * tracking apply from there), once what went before is written. Returns 1 if the
 * connection was closed. */
static int delay_release(conn *c, int k, uint8_t *chunk, double t) {
    dir *d = &c->d[k];
    while (d->dq_head && d->dq_head->due <= t && d->off == d->wend && !d->eof) {
        size_t n = 0;
        while (d->dq_head && d->dq_head->len && d->dq_head->due <= t &&
               n + d->dq_head->len <= BUFSZ / 2) {
            delayed *q = d->dq_head;
            memcpy(chunk + n, q->data, q->len);
            n += q->len;
            d->dq_bytes -= q->len;
            d->dq_head = q->next;
            if (!d->dq_head) d->dq_tail = NULL;
            free(q);
        }
        if (n) {
            if (on_chunk(c, k, chunk, n)) return 1;
            continue;
        }
        if (d->dq_head && d->dq_head->len == 0 && d->dq_head->due <= t) { /* the EOF */
            delayed *q = d->dq_head;
            d->dq_head = q->next;
            if (!d->dq_head) d->dq_tail = NULL;
            free(q);
            d->eof = 1;
            d->wend = d->len;
            logf_("conn %d: delay: passing on the EOF of %s", c->id, k ? "the target" : "the dialer");
        }
        break;
    }
    return propagate_eofs(c);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void report(void) {
    fprintf(stderr, "faults: flips=%ld replays=%ld resets=%ld badlens=%ld lenflips=%ld taildrops=%ld "
                    "idleresets=%ld\n",
            injected[F_FLIP], injected[F_REPLAY], injected[F_RESET], injected[F_BADLEN],
            injected[F_LENFLIP], injected[F_TAILDROP], injected[F_IDLERESET]);
    if (!quiet) fprintf(stderr, "faulty_proxy: %d connections accepted\n", nconn_total);
    fflush(stderr);
}

static void usage(void) {
    fprintf(stderr, "usage: faulty_proxy --listen PORT --to PORT2 [--flips N] [--replays N] "
                    "[--resets N] [--badlens N] [--lenflips N] [--taildrops N] [--taildrop-dir 0|1] [--seed S] [--skip BYTES] [--span BYTES] "
                    "[--reverse PCT] [--flag-file PATH] [--quiet] [--delay-ms MS] [--delay-dir 0|1] [--delay-from IDX] "
                    "[--reset-idle MS] [--idle-dir 0|1]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int lport = 0, tport = 0;
    const char *flag_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        char *end;
        unsigned long long x = strtoull(v, &end, 0);
        int num = *v && !*end;
        if (!strcmp(a, "--flag-file")) flag_file = v;
        else if (!num) usage();
        else if (!strcmp(a, "--listen")) lport = (int)x;
        else if (!strcmp(a, "--to")) tport = (int)x;
        else if (!strcmp(a, "--flips")) budget[F_FLIP] = (long)x;
        else if (!strcmp(a, "--replays")) budget[F_REPLAY] = (long)x;
        else if (!strcmp(a, "--resets")) budget[F_RESET] = (long)x;
        else if (!strcmp(a, "--badlens")) budget[F_BADLEN] = (long)x;
        else if (!strcmp(a, "--lenflips")) budget[F_LENFLIP] = (long)x;
        else if (!strcmp(a, "--taildrops")) budget[F_TAILDROP] = (long)x;
        else if (!strcmp(a, "--taildrop-dir")) taildrop_dir = x != 0;
        else if (!strcmp(a, "--seed")) rng_state = x * 0x9E3779B97F4A7C15ULL + 0x853c49e6748fea9bULL;
        else if (!strcmp(a, "--skip")) skip_bytes = x;
        else if (!strcmp(a, "--span")) span_bytes = x;
        else if (!strcmp(a, "--reverse")) reverse_pct = x;
        else if (!strcmp(a, "--delay-ms")) delay_ms = (long)x;
        else if (!strcmp(a, "--delay-dir")) delay_dir = x != 0;
        else if (!strcmp(a, "--delay-from")) delay_from = (int)x;
        else if (!strcmp(a, "--reset-idle")) idle_ms = (long)x;
        else if (!strcmp(a, "--idle-dir")) idle_dir = x != 0;
        else usage();
    }
    if (lport < 1 || lport > 65535 || tport < 1 || tport > 65535) usage();
    if (!rng_state) rng_state = 1;
    t_start = now_s();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&la, sizeof la) || listen(lfd, 16)) {
        fprintf(stderr, "faulty_proxy: cannot listen on 127.0.0.1:%d: %s\n", lport, strerror(errno));
        return 1;
    }
    set_nonblock(lfd);
    logf_("listening on 127.0.0.1:%d, forwarding to 127.0.0.1:%d; budget flips=%ld replays=%ld "
          "resets=%ld badlens=%ld lenflips=%ld taildrops=%ld (direction %d)", lport, tport,
          budget[0], budget[1], budget[2], budget[3], budget[4], budget[5], taildrop_dir);
    if (delay_ms)
        logf_("delay: %s by %ld ms%s", delay_dir ? "target->dialer" : "dialer->target", delay_ms,
              delay_from >= 0 ? " on connections dialed by one party (--delay-from)" : "");
    if (idle_ms)
        logf_("idlereset: when %s is idle for %ld ms past byte %llu of a connection",
              idle_dir ? "target->dialer" : "dialer->target", idle_ms, (unsigned long long)skip_bytes);

    struct pollfd pf[1 + 2 * MAXCONN];
    int pc[1 + 2 * MAXCONN], pside[1 + 2 * MAXCONN];
    static uint8_t chunk[BUFSZ / 2];
    while (!stop_flag) {
        struct stat st;
        if (flag_file && stat(flag_file, &st) == 0) break;
        int np = 0, any_held = 0;
        double t = now_s();
        for (int ci = 0; ci < MAXCONN; ci++) /* release held frames after HOLD_MS */
            for (int j = 0; j < 2; j++) {
                dir *d = &conns[ci].d[j];
                if (conns[ci].used && d->wend < d->len && t - d->held_since >= HOLD_MS / 1000.0)
                    d->wend = d->len;
            }
        for (int ci = 0; ci < MAXCONN; ci++) { /* the timing faults */
            conn *c = &conns[ci];
            if (!c->used) continue;
            if (c->d[delay_dir].delay && delay_release(c, delay_dir, chunk, t)) continue;
            if (c->d[delay_dir].dq_head) any_held = 1;
            if (!idle_ms || c->idle_done) continue;
            if (c->d[idle_dir].eof) { /* an orderly close is not idleness */
                c->idle_done = 1;
                continue;
            }
            if (c->total <= skip_bytes) continue;
            any_held = 1;
            double idle = t - c->d[idle_dir].last_read;
            if (idle * 1000.0 < (double)idle_ms) continue;
            c->idle_done = 1;
            injected[F_IDLERESET]++;
            logf_("conn %d: idlereset: %s idle for %.0f ms after %llu+%llu bytes, at %.3f s; "
                  "resetting both sides", c->id, idle_dir ? "target->dialer" : "dialer->target",
                  idle * 1000.0, (unsigned long long)c->d[0].bytes, (unsigned long long)c->d[1].bytes,
                  t - t_start);
            conn_close(c, 1, "idlereset injected");
        }
        pf[np] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pc[np++] = -1;
        for (int ci = 0; ci < MAXCONN; ci++) {
            conn *c = &conns[ci];
            if (!c->used) continue;
            for (int s = 0; s < 2; s++) { /* socket s: reads for d[s], writes for d[1-s] */
                short ev = 0;
                if (c->d[s].delay ? !c->d[s].src_eof && c->d[s].dq_bytes < DELAY_MAX
                                  : !c->d[s].eof && c->d[s].off == c->d[s].wend)
                    ev |= POLLIN;
                if (c->d[1 - s].off < c->d[1 - s].wend) ev |= POLLOUT;
                if (c->d[s].wend < c->d[s].len) any_held = 1;
                /* nothing wanted: leave it out (a hung-up socket would spin the loop) */
                pf[np] = (struct pollfd){.fd = ev ? c->fd[s] : -1, .events = ev};
                pc[np] = ci, pside[np++] = s;
            }
        }
        if (poll(pf, (nfds_t)np, any_held ? 10 : 100) < 0) {
            if (errno == EINTR) continue;
            perror("faulty_proxy: poll");
            break;
        }
        for (int k = 0; k < np; k++) {
            if (!pf[k].revents) continue;
            if (pc[k] == -1) {
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0) continue;
                int sfd = connect_to(tport);
                conn *c = NULL;
                for (int ci = 0; ci < MAXCONN && !c; ci++)
                    if (!conns[ci].used) c = &conns[ci];
                if (sfd < 0 || !c) {
                    logf_("dropping a connection: %s", sfd < 0 ? "target refused" : "too many connections");
                    abort_fd(cfd);
                    if (sfd >= 0) close(sfd);
                    continue;
                }
                memset(c, 0, sizeof *c);
                c->used = 1;
                c->id = ++nconn_total;
                c->fd[0] = cfd, c->fd[1] = sfd;
                c->d[0].ts = T_HELLO, c->d[1].ts = T_LEN2;
                c->d[taildrop_dir].hold = injected[F_TAILDROP] < budget[F_TAILDROP];
                c->badlen_dir = -1;
                c->d[0].last_read = c->d[1].last_read = now_s();
                c->dialer = -1;
                c->delay_decided = delay_from < 0;
                c->d[delay_dir].delay = delay_ms > 0 && delay_from < 0;
                set_nonblock(cfd), set_nonblock(sfd);
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                pick_fault(c);
                if (c->fault != F_NONE)
                    logf_("conn %d accepted; fault: %s at byte %llu (%s)", c->id, kind_name[c->fault],
                          (unsigned long long)c->fault_at, c->fdir ? "target->dialer" : "dialer->target");
                else
                    logf_("conn %d accepted; no fault (budget used up)", c->id);
                if (delay_ms && delay_from < 0)
                    logf_("conn %d: delay: %s by %ld ms", c->id,
                          delay_dir ? "target->dialer" : "dialer->target", delay_ms);
                continue;
            }
            conn *c = &conns[pc[k]];
            int s = pside[k];
            if (!c->used || pf[k].fd < 0 || c->fd[s] != pf[k].fd) continue;
            dir *in = &c->d[s], *out = &c->d[1 - s];
            if (in->delay && (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && !in->src_eof &&
                in->dq_bytes < DELAY_MAX) {
                ssize_t r = recv(c->fd[s], chunk, sizeof chunk, MSG_DONTWAIT);
                if (r >= 0) {
                    if (r > 0) in->last_read = now_s();
                    else in->src_eof = 1;
                    if (delay_chunk(in, chunk, (size_t)r, now_s())) {
                        conn_close(c, 1, "out of memory");
                        continue;
                    }
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    conn_close(c, 1, s ? "target side error" : "dialer side error");
                    continue;
                }
            } else if ((pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && !in->eof && in->off == in->wend) {
                ssize_t r = recv(c->fd[s], chunk, sizeof chunk, MSG_DONTWAIT);
                if (r > 0) {
                    in->last_read = now_s();
                    if (on_chunk(c, s, chunk, (size_t)r)) continue;
                } else if (r == 0) {
                    in->eof = 1;
                    if (in->wend < in->len && take_budget(F_TAILDROP)) {
                        logf_("conn %d: taildrop: %s closed its side; dropping its last %zu bytes "
                              "(held back) and resetting both sides", c->id,
                              s ? "the target" : "the dialer", in->len - in->wend);
                        conn_close(c, 1, "taildrop injected");
                        continue;
                    }
                    in->wend = in->len;
                } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    conn_close(c, 1, s ? "target side error" : "dialer side error");
                    continue;
                }
            }
            if ((pf[k].revents & (POLLOUT | POLLERR)) && out->off < out->wend) {
                ssize_t w = send(c->fd[s], out->buf + out->off, out->wend - out->off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) out->off += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    conn_close(c, 1, s ? "write to target failed" : "write to dialer failed");
                    continue;
                }
            }
            propagate_eofs(c); /* once the data before them is delivered */
        }
    }
    for (int ci = 0; ci < MAXCONN; ci++)
        if (conns[ci].used) conn_close(&conns[ci], 0, "proxy stopping");
    close(lfd);
    report();
    return 0;
}
