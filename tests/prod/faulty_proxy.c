/*
 * faulty_proxy: a TCP proxy that injects faults into production-mode bridge connections.
 *
 *   faulty_proxy --listen PORT --to PORT2 [--flips N] [--replays N] [--resets N]
 *                [--badlens N] [--lenflips N] [--taildrops N] [--taildrop-dir 0|1]
 *                [--seed S] [--skip BYTES] [--span BYTES]
 *                [--reverse PCT] [--flag-file PATH] [--quiet]
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
 * On SIGTERM/SIGINT, or once the --flag-file exists, prints
 *   faults: flips=F replays=R resets=S badlens=B lenflips=L taildrops=T
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

enum { F_NONE = -1, F_FLIP = 0, F_REPLAY, F_RESET, F_BADLEN, F_LENFLIP, F_KINDS, F_TAILDROP = F_KINDS };
static const char *kind_name[F_KINDS] = {"flip", "replay", "reset", "badlen", "lenflip"};

/* frame tracker states */
enum { T_HELLO, T_HELLO_BODY, T_LEN2, T_BODY, T_REJECT, T_PREFIX, T_PAYLOAD, T_LOST };

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
} conn;

static conn conns[MAXCONN];
static long budget[F_KINDS + 1], injected[F_KINDS + 1];
static int taildrop_dir = 0;
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
            if (d->hdr_got == 11) d->need = d->hdr[10], d->ts = d->need ? T_HELLO_BODY : T_PREFIX, d->hdr_got = 0;
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
    return 0;
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
    fprintf(stderr, "faults: flips=%ld replays=%ld resets=%ld badlens=%ld lenflips=%ld taildrops=%ld\n",
            injected[F_FLIP], injected[F_REPLAY], injected[F_RESET], injected[F_BADLEN],
            injected[F_LENFLIP], injected[F_TAILDROP]);
    if (!quiet) fprintf(stderr, "faulty_proxy: %d connections accepted\n", nconn_total);
    fflush(stderr);
}

static void usage(void) {
    fprintf(stderr, "usage: faulty_proxy --listen PORT --to PORT2 [--flips N] [--replays N] "
                    "[--resets N] [--badlens N] [--lenflips N] [--taildrops N] [--taildrop-dir 0|1] [--seed S] [--skip BYTES] [--span BYTES] "
                    "[--reverse PCT] [--flag-file PATH] [--quiet]\n");
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
        else usage();
    }
    if (lport < 1 || lport > 65535 || tport < 1 || tport > 65535) usage();
    if (!rng_state) rng_state = 1;
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
        pf[np] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pc[np++] = -1;
        for (int ci = 0; ci < MAXCONN; ci++) {
            conn *c = &conns[ci];
            if (!c->used) continue;
            for (int s = 0; s < 2; s++) { /* socket s: reads for d[s], writes for d[1-s] */
                short ev = 0;
                if (!c->d[s].eof && c->d[s].off == c->d[s].wend) ev |= POLLIN;
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
                set_nonblock(cfd), set_nonblock(sfd);
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                pick_fault(c);
                if (c->fault != F_NONE)
                    logf_("conn %d accepted; fault: %s at byte %llu (%s)", c->id, kind_name[c->fault],
                          (unsigned long long)c->fault_at, c->fdir ? "target->dialer" : "dialer->target");
                else
                    logf_("conn %d accepted; no fault (budget used up)", c->id);
                continue;
            }
            conn *c = &conns[pc[k]];
            int s = pside[k];
            if (!c->used || pf[k].fd < 0 || c->fd[s] != pf[k].fd) continue;
            dir *in = &c->d[s], *out = &c->d[1 - s];
            if ((pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && !in->eof && in->off == in->wend) {
                ssize_t r = recv(c->fd[s], chunk, sizeof chunk, MSG_DONTWAIT);
                if (r > 0) {
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
            /* propagate EOFs once the data before them is delivered */
            for (int j = 0; j < 2; j++) {
                dir *d = &c->d[j];
                if (d->eof && !d->shut && d->off == d->len) {
                    shutdown(c->fd[1 - j], SHUT_WR);
                    d->shut = 1;
                }
            }
            if (c->d[0].shut && c->d[1].shut) conn_close(c, 0, "both sides closed");
        }
    }
    for (int ci = 0; ci < MAXCONN; ci++)
        if (conns[ci].used) conn_close(&conns[ci], 0, "proxy stopping");
    close(lfd);
    report();
    return 0;
}
