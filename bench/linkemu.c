/*
 * linkemu: a userspace TCP relay that emulates a wide-area link on one machine (the kernel
 * here has no netem). One process, one thread, non-blocking sockets and ppoll.
 *
 *   linkemu --pair LPORT:DPORT [--pair ...] [--rate R] [--delay D]
 *           [--fwd-rate R] [--fwd-delay D] [--back-rate R] [--back-delay D]
 *           [--buffer BYTES] [--stats]
 *
 * Each pair listens on 127.0.0.1:LPORT (0: any free port) and relays every accepted
 * connection to 127.0.0.1:DPORT. "fwd" is the direction from the connecting side to DPORT,
 * "back" the other; --rate and --delay set both. Rates are bits per second with a unit
 * (500kbit, 100mbit, 1gbit; 0 = unlimited), delays a time with a unit (us, ms, s).
 *
 * The link model, per direction of a connection: a chunk of n bytes read at time t enters
 * a serialiser that is free at `link_free`; it leaves at end = max(t, link_free) + 8n/rate
 * (link_free = end) and is written to the other side no earlier than end + delay. So bytes
 * leave no faster than the rate and none arrives earlier than the delay after it was read.
 * A FIN (half-close) travels the same way, after the last byte. The relay reads from a side
 * only while that direction holds less than its buffer (default: the bandwidth-delay
 * product plus max(256 KiB, 20 ms at the rate); 4 MiB when the rate is unlimited), so
 * memory is bounded and a slow reader slows the writer through TCP's own flow control.
 * TCP's connection setup itself is not delayed.
 *
 * Errors: a refused or failed connection to DPORT resets the accepted connection; a reset or
 * an error on either side resets the other. Once both directions have delivered their FIN
 * the connection is closed.
 *
 * Output: stdout gets one line per pair once it listens ("linkemu: pair I listening on
 * 127.0.0.1:L -> 127.0.0.1:D", the real port when LPORT was 0) and then "linkemu: ready".
 * stderr gets, on SIGTERM/SIGINT (then exit 0) and on SIGUSR1, one line per connection with
 * the bytes relayed each way; with --stats also one line whenever a connection ends.
 * Usage errors exit 2, system errors 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define MERGE_S 20e-6 /* a chunk due within 20 us of the previous one joins it */

typedef struct link_cfg {
    double rate;  /* bytes per second; 0 = unlimited */
    double delay; /* seconds */
} link_cfg;

typedef struct seg {
    size_t len;
    double at; /* earliest delivery time */
} seg;

/* One direction of a connection: bytes read from `src`, waiting to be written to `dst`. */
typedef struct dirq {
    link_cfg cfg;
    uint8_t *buf;
    size_t cap, head, len; /* ring of bytes */
    seg *segs;
    size_t scap, shead, slen; /* ring of chunks, in order */
    double link_free;
    int eof_read, eof_done, want_out;
    double eof_at;
    uint64_t in, out;
} dirq;

typedef struct conn {
    int id, pair, cfd, dfd, connecting, dead;
    int hup[2]; /* poll reported a hang-up on the side: poll it only to read or write */
    dirq d[2]; /* 0: fwd (cfd -> dfd), 1: back (dfd -> cfd) */
    double t0;
    struct conn *next;
} conn;

typedef struct pair {
    int lport, dport, lfd;
} pair;

typedef struct record {
    int id, pair;
    uint64_t fwd, back;
    double secs;
    char how[96];
} record;

static pair g_pairs[MAX_PAIRS];
static int g_npairs;
static link_cfg g_cfg[2];
static size_t g_buffer; /* 0: from the link */
static int g_stats;
static conn *g_conns;
static int g_next_id;
static record *g_done;
static size_t g_ndone, g_capdone;
static volatile sig_atomic_t g_stop, g_dump;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_signal(int sig) {
    if (sig == SIGUSR1) g_dump = 1;
    else g_stop = 1;
}

__attribute__((format(printf, 1, 2))) static void usage_exit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "linkemu: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: linkemu --pair LPORT:DPORT [--pair ...] [--rate R] [--delay D] "
                    "[--fwd-rate R] [--fwd-delay D] [--back-rate R] [--back-delay D] "
                    "[--buffer BYTES] [--stats]   (--help for more)\n");
    exit(2);
}

/* ------------------------------------------------------------------ options */

/* "100mbit" -> bytes per second; 0 = unlimited. -1 when malformed. */
static double parse_rate(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || !isfinite(v)) return -1;
    static const struct { const char *u; double m; } units[] = {
        {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}};
    if (v == 0 && !*end) return 0;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcasecmp(end, units[i].u)) return v * units[i].m / 8.0;
    return -1;
}

/* "10ms" -> seconds. -1 when malformed. */
static double parse_delay(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || !isfinite(v) || v > 3600) return -1;
    if (v == 0 && !*end) return 0;
    if (!strcmp(end, "us")) return v * 1e-6;
    if (!strcmp(end, "ms")) return v * 1e-3;
    if (!strcmp(end, "s")) return v;
    return -1;
}

static int parse_port(const char *s, int allow0) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < (allow0 ? 0 : 1) || v > 65535) return -1;
    return (int)v;
}

static void parse_pair(const char *s) {
    const char *colon = strchr(s, ':');
    char l[16];
    if (!colon || (size_t)(colon - s) >= sizeof l) usage_exit("--pair %s: expected LPORT:DPORT", s);
    memcpy(l, s, (size_t)(colon - s));
    l[colon - s] = 0;
    int lp = parse_port(l, 1), dp = parse_port(colon + 1, 0);
    if (lp < 0) usage_exit("--pair %s: the listen port is not a port number (0..65535)", s);
    if (dp < 0) usage_exit("--pair %s: the destination port is not a port number (1..65535)", s);
    if (g_npairs == MAX_PAIRS) usage_exit("--pair %s: more than 64 pairs", s);
    g_pairs[g_npairs++] = (pair){.lport = lp, .dport = dp, .lfd = -1};
}

static void help(void) {
    printf("usage: linkemu --pair LPORT:DPORT [--pair ...] [options]\n\n"
           "Relays 127.0.0.1:LPORT to 127.0.0.1:DPORT with an emulated link per direction.\n"
           "  --pair LPORT:DPORT   a listen port (0: any free one) and its destination; repeatable\n"
           "  --rate R             both directions: bits/s with a unit (500kbit, 100mbit, 1gbit);\n"
           "                       0 = unlimited (default)\n"
           "  --delay D            both directions: one-way delay (us, ms, s; default 0)\n"
           "  --fwd-rate R, --fwd-delay D    toward DPORT only\n"
           "  --back-rate R, --back-delay D  from DPORT back to the connecting side only\n"
           "  --buffer BYTES       bytes held per direction before the relay stops reading\n"
           "                       (default: rate x delay + max(256 KiB, 20 ms at the rate))\n"
           "  --stats              also print a line to stderr whenever a connection ends\n"
           "Prints per-connection bytes to stderr on SIGTERM, SIGINT (then exits) and SIGUSR1.\n");
}

static void parse_args(int argc, char **argv) {
    int have_rate[2] = {0, 0}, have_delay[2] = {0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char key[32];
        const char *eq = strchr(a, '=');
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            exit(0);
        }
        if (!strcmp(a, "--stats")) {
            g_stats = 1;
            continue;
        }
        if (strncmp(a, "--", 2) || (eq ? (size_t)(eq - a) : strlen(a)) >= sizeof key)
            usage_exit("unexpected argument %s", a);
        if (eq) {
            memcpy(key, a, (size_t)(eq - a));
            key[eq - a] = 0;
            v = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", a);
            if (i + 1 >= argc) usage_exit("option %s needs a value", a);
            v = argv[++i];
        }
        int dirs = !strncmp(key, "--fwd-", 6) ? 1 : !strncmp(key, "--back-", 7) ? 2 : 3;
        const char *what = dirs == 1 ? key + 6 : dirs == 2 ? key + 7 : key + 2;
        if (!strcmp(key, "--pair")) {
            parse_pair(v);
        } else if (!strcmp(key, "--buffer")) {
            char *end;
            errno = 0;
            unsigned long long b = strtoull(v, &end, 10);
            if (errno || end == v || *end || b < 4096 || b > (1ull << 32))
                usage_exit("--buffer %s: expected a number of bytes from 4096 to 4294967296", v);
            g_buffer = (size_t)b;
        } else if (!strcmp(what, "rate")) {
            double r = parse_rate(v);
            if (r < 0)
                usage_exit("%s %s: expected bits per second with a unit, e.g. 100mbit, 1gbit, 500kbit "
                           "(0 = unlimited)", key, v);
            for (int d = 0; d < 2; d++)
                if (dirs & (1 << d)) {
                    if (dirs != 3 || !have_rate[d]) g_cfg[d].rate = r;
                    have_rate[d] |= dirs != 3;
                }
        } else if (!strcmp(what, "delay")) {
            double s = parse_delay(v);
            if (s < 0)
                usage_exit("%s %s: expected a time with a unit, e.g. 10ms, 500us, 0.05s (at most 3600 s)", key, v);
            for (int d = 0; d < 2; d++)
                if (dirs & (1 << d)) {
                    if (dirs != 3 || !have_delay[d]) g_cfg[d].delay = s;
                    have_delay[d] |= dirs != 3;
                }
        } else {
            usage_exit("unknown option %s", key);
        }
    }
    if (!g_npairs) usage_exit("no --pair LPORT:DPORT given");
}

/* ------------------------------------------------------------------ queues */

static size_t dir_cap(const link_cfg *c) {
    if (g_buffer) return g_buffer;
    if (c->rate <= 0) return 4u << 20;
    double m = c->rate * 0.02;
    if (m < 256 * 1024) m = 256 * 1024;
    double b = c->rate * c->delay + m;
    return b > 4294967296.0 ? (size_t)4294967296.0 : (size_t)b;
}

static int dir_init(dirq *q, const link_cfg *c) {
    memset(q, 0, sizeof *q);
    q->cfg = *c;
    q->cap = dir_cap(c);
    q->scap = 256;
    q->buf = malloc(q->cap);
    q->segs = malloc(q->scap * sizeof *q->segs);
    return q->buf && q->segs ? 0 : -1;
}

static void dir_free(dirq *q) {
    free(q->buf);
    free(q->segs);
    q->buf = NULL;
    q->segs = NULL;
}

/* The chunk of n bytes read at time t: when it may be delivered. */
static double dir_schedule(dirq *q, size_t n, double t) {
    double start = q->link_free > t ? q->link_free : t;
    double end = q->cfg.rate > 0 ? start + (double)n / q->cfg.rate : start;
    q->link_free = end;
    return end + q->cfg.delay;
}

static int dir_push_seg(dirq *q, size_t n, double at) {
    if (q->slen) {
        seg *last = &q->segs[(q->shead + q->slen - 1) % q->scap];
        if (at - last->at <= MERGE_S) {
            last->len += n;
            last->at = at;
            return 0;
        }
    }
    if (q->slen == q->scap) { /* grow, unrolling the ring */
        seg *s = malloc(2 * q->scap * sizeof *s);
        if (!s) return -1;
        for (size_t i = 0; i < q->slen; i++) s[i] = q->segs[(q->shead + i) % q->scap];
        free(q->segs);
        q->segs = s;
        q->shead = 0;
        q->scap *= 2;
    }
    q->segs[(q->shead + q->slen++) % q->scap] = (seg){n, at};
    return 0;
}

/* The largest read the link takes at once: about 0.5 ms at its rate, 1500 B to 64 KiB. */
static size_t dir_chunk(const dirq *q) {
    if (q->cfg.rate <= 0) return 65536;
    double c = q->cfg.rate * 5e-4;
    return c < 1500 ? 1500 : c > 65536 ? 65536 : (size_t)c;
}

/* Read what the link takes from fd. 0, or -1 on an error (errno set). */
static int dir_read(dirq *q, int fd) {
    while (!q->eof_read && q->len < q->cap) {
        size_t tail = (q->head + q->len) % q->cap;
        size_t room = q->cap - q->len, contig = q->cap - tail, want = dir_chunk(q);
        if (want > room) want = room;
        if (want > contig) want = contig;
        ssize_t r = recv(fd, q->buf + tail, want, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        double t = now_s();
        if (r == 0) {
            q->eof_read = 1;
            q->eof_at = (q->link_free > t ? q->link_free : t) + q->cfg.delay;
            return 0;
        }
        if (dir_push_seg(q, (size_t)r, dir_schedule(q, (size_t)r, t))) {
            errno = ENOMEM;
            return -1;
        }
        q->len += (size_t)r;
        q->in += (uint64_t)r;
        if ((size_t)r < want) return 0;
    }
    return 0;
}

/* Write every byte that is due to fd, then the FIN when it is due. 0, or -1 on an error. */
static int dir_write(dirq *q, int fd, double t) {
    q->want_out = 0;
    while (q->slen && q->segs[q->shead].at <= t) {
        seg *s = &q->segs[q->shead];
        size_t contig = q->cap - q->head, n = s->len < contig ? s->len : contig;
        ssize_t w = send(fd, q->buf + q->head, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                q->want_out = 1;
                return 0;
            }
            return -1;
        }
        q->head = (q->head + (size_t)w) % q->cap;
        q->len -= (size_t)w;
        q->out += (uint64_t)w;
        s->len -= (size_t)w;
        if (!s->len) q->shead = (q->shead + 1) % q->scap, q->slen--;
    }
    if (q->eof_read && !q->eof_done && !q->slen && q->eof_at <= t) {
        if (shutdown(fd, SHUT_WR) && errno != ENOTCONN) return -1;
        q->eof_done = 1;
    }
    return 0;
}

/* The next time this direction has something to deliver (INFINITY: nothing; it waits for
 * POLLOUT when the last write would have blocked). */
static double dir_next(const dirq *q) {
    if (q->want_out) return INFINITY;
    if (q->slen) return q->segs[q->shead].at;
    if (q->eof_read && !q->eof_done) return q->eof_at;
    return INFINITY;
}

/* ------------------------------------------------------------------ connections */

static void print_record(const record *r) {
    const pair *p = &g_pairs[r->pair];
    fprintf(stderr, "linkemu: conn %d (127.0.0.1:%d -> %d): fwd %llu bytes, back %llu bytes, %.3f s%s%s\n",
            r->id, p->lport, p->dport, (unsigned long long)r->fwd, (unsigned long long)r->back, r->secs,
            r->how[0] ? ", " : "", r->how);
}

static record conn_record(const conn *c, const char *how) {
    record r = {.id = c->id, .pair = c->pair, .fwd = c->d[0].out, .back = c->d[1].out,
                .secs = now_s() - c->t0};
    snprintf(r.how, sizeof r.how, "%s", how);
    return r;
}

static void hard_close(int fd) {
    if (fd < 0) return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* End a connection: closed in order (`how` NULL) or reset on both sides. */
static void conn_end(conn *c, const char *how) {
    record r = conn_record(c, how ? how : "closed");
    if (how) {
        hard_close(c->cfd);
        hard_close(c->dfd);
    } else {
        close(c->cfd);
        close(c->dfd);
    }
    c->cfd = c->dfd = -1;
    dir_free(&c->d[0]);
    dir_free(&c->d[1]);
    c->dead = 1;
    if (g_stats) print_record(&r);
    if (g_ndone == g_capdone) {
        size_t n = g_capdone ? 2 * g_capdone : 64;
        record *d = realloc(g_done, n * sizeof *d);
        if (!d) return; /* the record is lost, nothing else */
        g_done = d;
        g_capdone = n;
    }
    g_done[g_ndone++] = r;
}

/* Every connection's bytes, then the totals (the last line). */
static void dump_stats(void) {
    uint64_t fwd = 0, back = 0;
    int n = 0;
    for (size_t i = 0; i < g_ndone; i++, n++) {
        print_record(&g_done[i]);
        fwd += g_done[i].fwd, back += g_done[i].back;
    }
    for (conn *c = g_conns; c; c = c->next)
        if (!c->dead) {
            record r = conn_record(c, "open");
            print_record(&r);
            fwd += r.fwd, back += r.back, n++;
        }
    fprintf(stderr, "linkemu: total: %d connections, fwd %llu bytes, back %llu bytes\n", n,
            (unsigned long long)fwd, (unsigned long long)back);
}

static int tcp_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static struct sockaddr_in loopback(int port) {
    return (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static void accept_on(int pi) {
    for (;;) {
        int cfd = accept4(g_pairs[pi].lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                fprintf(stderr, "linkemu: accept on 127.0.0.1:%d: %s\n", g_pairs[pi].lport, strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        int dfd = tcp_socket();
        if (!c || dfd < 0 || dir_init(&c->d[0], &g_cfg[0]) || dir_init(&c->d[1], &g_cfg[1])) {
            fprintf(stderr, "linkemu: no resources for a connection on 127.0.0.1:%d: %s\n",
                    g_pairs[pi].lport, strerror(errno ? errno : ENOMEM));
            if (c) dir_free(&c->d[0]), dir_free(&c->d[1]);
            free(c);
            if (dfd >= 0) close(dfd);
            hard_close(cfd);
            continue;
        }
        c->id = g_next_id++;
        c->pair = pi;
        c->cfd = cfd;
        c->dfd = dfd;
        c->t0 = now_s();
        c->next = g_conns;
        g_conns = c;
        struct sockaddr_in a = loopback(g_pairs[pi].dport);
        if (connect(dfd, (struct sockaddr *)&a, sizeof a) == 0) continue;
        if (errno == EINPROGRESS) {
            c->connecting = 1;
        } else {
            char why[96];
            snprintf(why, sizeof why, "connect to 127.0.0.1:%d: %s", g_pairs[pi].dport, strerror(errno));
            conn_end(c, why);
        }
    }
}

/* Finish a non-blocking connect to the destination. */
static void conn_connected(conn *c) {
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->dfd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
        char why[128];
        snprintf(why, sizeof why, "connect to 127.0.0.1:%d: %s", g_pairs[c->pair].dport,
                 strerror(err ? err : errno));
        conn_end(c, why);
        return;
    }
    c->connecting = 0;
}

/* Move bytes for one connection after poll: reads on readable sides, due writes. */
static void conn_step(conn *c, short cev, short dev) {
    if (c->connecting) {
        if (dev & (POLLOUT | POLLERR | POLLHUP)) conn_connected(c);
        if (c->dead) return;
    }
    int fds[2] = {c->cfd, c->dfd};
    short ev[2] = {cev, dev};
    for (int d = 0; d < 2; d++) { /* direction d reads fds[d], writes fds[1 - d] */
        dirq *q = &c->d[d];
        int err = 0;
        socklen_t el = sizeof err;
        if ((ev[d] & POLLERR) && !getsockopt(fds[d], SOL_SOCKET, SO_ERROR, &err, &el) && err) {
            conn_end(c, err == ECONNRESET ? "reset" : strerror(err));
            return;
        }
        if (ev[d] & POLLHUP) c->hup[d] = 1;
        if (d == 1 && c->connecting) continue;
        if ((ev[d] & (POLLIN | POLLHUP | POLLERR)) && dir_read(q, fds[d])) {
            conn_end(c, errno == ECONNRESET ? "reset" : strerror(errno));
            return;
        }
        if (d == 0 && c->connecting) continue;
        if (dir_write(q, fds[1 - d], now_s())) {
            conn_end(c, errno == EPIPE || errno == ECONNRESET ? "reset" : strerror(errno));
            return;
        }
    }
    if (c->d[0].eof_done && c->d[1].eof_done) conn_end(c, NULL);
}

static void reap(void) {
    for (conn **pp = &g_conns; *pp;) {
        conn *c = *pp;
        if (c->dead) {
            *pp = c->next;
            free(c);
        } else {
            pp = &c->next;
        }
    }
}

/* ------------------------------------------------------------------ main loop */

static void listen_all(void) {
    for (int i = 0; i < g_npairs; i++) {
        int fd = tcp_socket(), one = 1;
        struct sockaddr_in a = loopback(g_pairs[i].lport);
        socklen_t l = sizeof a;
        if (fd < 0) {
            fprintf(stderr, "linkemu: socket: %s\n", strerror(errno));
            exit(1);
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 128) ||
            getsockname(fd, (struct sockaddr *)&a, &l)) {
            fprintf(stderr, "linkemu: cannot listen on 127.0.0.1:%d (--pair %d:%d): %s\n", g_pairs[i].lport,
                    g_pairs[i].lport, g_pairs[i].dport, strerror(errno));
            exit(1);
        }
        g_pairs[i].lfd = fd;
        g_pairs[i].lport = ntohs(a.sin_port);
        printf("linkemu: pair %d listening on 127.0.0.1:%d -> 127.0.0.1:%d\n", i, g_pairs[i].lport,
               g_pairs[i].dport);
    }
    printf("linkemu: ready\n");
    fflush(stdout);
}

static short want_events(const conn *c, int side) {
    const dirq *in = &c->d[side], *out = &c->d[1 - side];
    short e = 0;
    if (side == 1 && c->connecting) return POLLOUT;
    if (!in->eof_read && in->len < in->cap) e |= POLLIN;
    if (out->want_out) e |= POLLOUT;
    return e;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake-ups at the delivery times, not 50 us later */
    sigset_t block, run;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &run);
    sigdelset(&run, SIGTERM);
    sigdelset(&run, SIGINT);
    sigdelset(&run, SIGUSR1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    listen_all();

    struct pollfd *pf = NULL;
    conn **who = NULL;
    size_t cap = 0;
    while (!g_stop) {
        if (g_dump) {
            g_dump = 0;
            dump_stats();
        }
        size_t n = (size_t)g_npairs;
        for (conn *c = g_conns; c; c = c->next) n += 2;
        if (n > cap) {
            cap = 2 * n;
            pf = realloc(pf, cap * sizeof *pf);
            who = realloc(who, cap * sizeof *who);
            if (!pf || !who) {
                fprintf(stderr, "linkemu: out of memory\n");
                return 1;
            }
        }
        size_t k = 0;
        double next = INFINITY;
        for (int i = 0; i < g_npairs; i++) pf[k] = (struct pollfd){g_pairs[i].lfd, POLLIN, 0}, who[k++] = NULL;
        for (conn *c = g_conns; c; c = c->next) {
            for (int s = 0; s < 2; s++) {
                short e = want_events(c, s);
                pf[k] = (struct pollfd){e || !c->hup[s] ? (s ? c->dfd : c->cfd) : -1, e, 0};
                who[k++] = c;
            }
            if (!c->connecting) {
                double a = dir_next(&c->d[0]), b = dir_next(&c->d[1]);
                if (a < next) next = a;
                if (b < next) next = b;
            }
        }
        struct timespec ts, *tp = NULL;
        if (isfinite(next)) {
            double w = next - now_s();
            if (w < 0) w = 0;
            ts.tv_sec = (time_t)w;
            ts.tv_nsec = (long)((w - (double)ts.tv_sec) * 1e9);
            tp = &ts;
        }
        int r = ppoll(pf, k, tp, &run);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "linkemu: ppoll: %s\n", strerror(errno));
            return 1;
        }
        if (r < 0) continue;
        for (int i = 0; i < g_npairs; i++)
            if (pf[i].revents & POLLIN) accept_on(i);
        for (size_t j = (size_t)g_npairs; j + 1 < k; j += 2)
            if (!who[j]->dead) conn_step(who[j], pf[j].revents, pf[j + 1].revents);
        reap();
    }
    dump_stats();
    free(pf);
    free(who);
    return 0;
}
