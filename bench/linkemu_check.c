/*
 * linkemu_check: does bench/linkemu give the link it was configured for?
 *
 *   linkemu_check [--linkemu PATH] [--rate R] [--delay D] [--bytes N] [--pings N]
 *                 [--reps N] [--tol F] [--assert] [--json FILE]
 *
 * A sink thread listens on 127.0.0.1 (a free port); linkemu (PATH, default: next to this
 * binary) is started with `--pair 0:SINK --rate R --delay D`. Over the relay, each on its
 * own connection:
 *   ping    N one-byte round trips; the smallest is compared with 2 x delay (a busy
 *           machine only adds to a round trip; none may be shorter), the median reported;
 *   up      N bytes client -> sink, answered by one byte once all are in; the rate is
 *           bytes / (time - median round trip), compared with R (the median of --reps);
 *   down    the same sink -> client (the client asks, the sink sends, the client answers);
 *   direct  `up` straight to the sink, no relay: the loopback's own rate, for scale.
 * Prints one line per figure and writes them as JSON lines (bench_json: linkemu.rtt,
 * linkemu.rate, linkemu.direct; baseline = the configured figure). With --assert it exits 1
 * when a figure is off by more than --tol (default 0.05) of the configured one.
 * R and D take linkemu's units (20mbit, 1gbit; 5ms, 500us). Defaults: 20mbit, 5ms, 4 s of
 * data at the rate (--bytes), 20 pings, 1 rep.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

static const char *g_linkemu, *g_rate_s = "20mbit", *g_delay_s = "5ms";
static double g_rate, g_delay; /* bytes/s, s */
static long long g_bytes;
static int g_pings = 20, g_reps = 1, g_assert;
static double g_tol = 0.05;
static int g_sink_fd, g_failed;

static void die(const char *what) {
    fprintf(stderr, "linkemu_check: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(const char *fmt, const char *what) {
    fprintf(stderr, "linkemu_check: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nusage: linkemu_check [--linkemu PATH] [--rate R] [--delay D] [--bytes N] "
                    "[--pings N] [--reps N] [--tol F] [--assert] [--json FILE]\n");
    exit(2);
}

/* the same units as linkemu: bits/s with kbit|mbit|gbit, or a time with us|ms|s */
static double parse_unit(const char *s, int rate) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0)) return -1;
    if (rate) {
        if (!strcasecmp(end, "kbit")) return v * 1e3 / 8;
        if (!strcasecmp(end, "mbit")) return v * 1e6 / 8;
        if (!strcasecmp(end, "gbit")) return v * 1e9 / 8;
        return -1;
    }
    if (!strcmp(end, "us")) return v * 1e-6;
    if (!strcmp(end, "ms")) return v * 1e-3;
    if (!strcmp(end, "s")) return v;
    return -1;
}

static long long parse_count(const char *opt, const char *v, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "linkemu_check: %s %s: expected an integer from %lld to %lld\n", opt, v, lo, hi);
        exit(2);
    }
    return n;
}

static void parse_args(int argc, char **argv) {
    if (bench_json_args(&argc, argv)) exit(2);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--assert")) {
            g_assert = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: linkemu_check [--linkemu PATH] [--rate R] [--delay D] [--bytes N] [--pings N]\n"
                   "                     [--reps N] [--tol F] [--assert] [--json FILE]\n"
                   "Measures a relay's round trip and rate each way against its configuration.\n");
            exit(0);
        }
        if (i + 1 >= argc) usage("option %s needs a value (or is unknown)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--linkemu")) g_linkemu = v;
        else if (!strcmp(a, "--rate")) g_rate_s = v;
        else if (!strcmp(a, "--delay")) g_delay_s = v;
        else if (!strcmp(a, "--bytes")) g_bytes = parse_count(a, v, 1, 1LL << 40);
        else if (!strcmp(a, "--pings")) g_pings = (int)parse_count(a, v, 1, 100000);
        else if (!strcmp(a, "--reps")) g_reps = (int)parse_count(a, v, 1, 63);
        else if (!strcmp(a, "--tol")) {
            char *end;
            g_tol = strtod(v, &end);
            if (end == v || *end || !(g_tol > 0 && g_tol < 1)) usage("--tol %s: expected a fraction in (0, 1)", v);
        } else usage("unknown option %s", a);
    }
    if ((g_rate = parse_unit(g_rate_s, 1)) < 0)
        usage("--rate %s: expected a positive rate with a unit (kbit, mbit, gbit)", g_rate_s);
    if ((g_delay = parse_unit(g_delay_s, 0)) < 0)
        usage("--delay %s: expected a positive time with a unit (us, ms, s)", g_delay_s);
    if (!g_bytes) g_bytes = (long long)(g_rate * 4.0);
}

/* ------------------------------------------------------------------ sockets */

static int tcp_dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0) die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    return fd;
}

static int tcp_listen(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) || getsockname(fd, (struct sockaddr *)&a, &l))
        die("listen on 127.0.0.1");
    *port = ntohs(a.sin_port);
    return fd;
}

static void io(int fd, void *buf, size_t n, int writing, const char *what) {
    if (bench_io_full(fd, buf, n, writing)) {
        fprintf(stderr, "linkemu_check: %s: %s\n", what, errno ? strerror(errno) : "connection closed");
        exit(1);
    }
}

#define BLOCK (256 * 1024)

static void send_bytes(int fd, long long n) {
    static char buf[BLOCK];
    for (long long done = 0; done < n;) {
        size_t k = n - done < BLOCK ? (size_t)(n - done) : BLOCK;
        io(fd, buf, k, 1, "send");
        done += (long long)k;
    }
}

static void recv_bytes(int fd, long long n) {
    static __thread char buf[BLOCK];
    for (long long done = 0; done < n;) {
        size_t k = n - done < BLOCK ? (size_t)(n - done) : BLOCK;
        ssize_t r = recv(fd, buf, k, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            fprintf(stderr, "linkemu_check: recv after %lld of %lld bytes: %s\n", done, n,
                    r ? strerror(errno) : "connection closed");
            exit(1);
        }
        done += r;
    }
}

/* The sink: one connection at a time; the first byte says what to do.
 *   'P': echo one byte at a time until EOF;
 *   'U' + u64 n: read n bytes, answer 'k';
 *   'D' + u64 n: send n bytes, read the client's 'k'. */
static void *sink(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept4(g_sink_fd, NULL, NULL, SOCK_CLOEXEC), one = 1;
        if (fd < 0) {
            if (errno == EINTR) continue;
            die("accept");
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char op, b;
        uint64_t n = 0;
        io(fd, &op, 1, 0, "sink: read the command");
        if (op == 'P') {
            while (recv(fd, &b, 1, 0) == 1) io(fd, &b, 1, 1, "sink: echo");
        } else {
            io(fd, &n, sizeof n, 0, "sink: read the size");
            if (op == 'U') {
                recv_bytes(fd, (long long)n);
                io(fd, "k", 1, 1, "sink: answer");
            } else {
                send_bytes(fd, (long long)n);
                io(fd, &b, 1, 0, "sink: read the answer");
            }
        }
        close(fd);
    }
    return NULL;
}

/* ------------------------------------------------------------------ the relay */

static pid_t g_relay;

static int start_relay(int sink_port) {
    int p[2];
    if (pipe(p)) die("pipe");
    char pair[32];
    snprintf(pair, sizeof pair, "0:%d", sink_port);
    g_relay = fork();
    if (g_relay < 0) die("fork");
    if (!g_relay) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(g_linkemu, g_linkemu, "--pair", pair, "--rate", g_rate_s, "--delay", g_delay_s, (char *)NULL);
        fprintf(stderr, "linkemu_check: cannot run %s: %s\n", g_linkemu, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256];
    int port = -1;
    while (f && fgets(line, sizeof line, f)) {
        const char *s = strstr(line, "listening on 127.0.0.1:");
        if (s) port = atoi(s + strlen("listening on 127.0.0.1:"));
        if (strstr(line, "linkemu: ready")) break;
    }
    if (port <= 0) {
        fprintf(stderr, "linkemu_check: %s did not report its listen port\n", g_linkemu);
        exit(1);
    }
    /* the relay writes nothing more to stdout; keep the pipe open so it never gets SIGPIPE */
    return port;
}

/* the relay's peak resident memory in KiB (VmHWM), or -1 */
static long relay_peak_kib(void) {
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)g_relay);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = atol(line + 6);
    if (f) fclose(f);
    return kib;
}

static void stop_relay(void) {
    if (g_relay > 0) {
        kill(g_relay, SIGTERM);
        waitpid(g_relay, NULL, 0);
        g_relay = 0;
    }
}

/* ------------------------------------------------------------------ measurements */

/* the median round trip; *min gets the smallest */
static double ping(int port, double *min) {
    int fd = tcp_dial(port);
    double *t = malloc(sizeof *t * (size_t)g_pings);
    char b = 'P';
    io(fd, &b, 1, 1, "ping: send the command");
    for (int i = 0; i < g_pings; i++) {
        double t0 = bench_now_s();
        io(fd, &b, 1, 1, "ping: send");
        io(fd, &b, 1, 0, "ping: receive the echo");
        t[i] = bench_now_s() - t0;
    }
    shutdown(fd, SHUT_WR);
    while (recv(fd, &b, 1, 0) > 0) continue; /* the sink closes after our EOF */
    close(fd);
    double m = bench_median(t, g_pings);
    *min = t[0];
    for (int i = 1; i < g_pings; i++) *min = t[i] < *min ? t[i] : *min;
    free(t);
    return m;
}

/* seconds from the request to the end of a transfer of n bytes ('U' up, 'D' down) */
static double transfer(int port, char op, long long n) {
    int fd = tcp_dial(port);
    uint64_t len = (uint64_t)n;
    char hdr[9], b;
    hdr[0] = op;
    memcpy(hdr + 1, &len, 8);
    double t0 = bench_now_s();
    io(fd, hdr, sizeof hdr, 1, "transfer: send the request");
    if (op == 'U') {
        send_bytes(fd, n);
        io(fd, &b, 1, 0, "transfer: read the answer");
    } else {
        recv_bytes(fd, n);
    }
    double dt = bench_now_s() - t0;
    if (op == 'D') io(fd, "k", 1, 1, "transfer: answer");
    while (recv(fd, &b, 1, 0) > 0) continue; /* the sink closes once it has its answer */
    close(fd);
    return dt;
}

static void config(bench_cfg *c, const char *dir) {
    bench_cfg_num(c, "rate_mbit", g_rate * 8 / 1e6);
    bench_cfg_num(c, "delay_ms", g_delay * 1e3);
    bench_cfg_str(c, "dir", dir);
}

static void judge(const char *what, double got, double want) {
    double err = got / want - 1;
    int bad = err > g_tol || err < -g_tol;
    printf("  %-6s %s: %+.1f %% of the configured figure%s\n", what, bad ? "OFF" : "ok", 100 * err,
           bad ? (g_assert ? " -- FAIL" : " (beyond the tolerance)") : "");
    if (bad) g_failed = 1;
}

static double rate_of(int port, char op, double rtt) {
    double mbit[64];
    for (int r = 0; r < g_reps; r++) {
        double dt = transfer(port, op, g_bytes);
        mbit[r] = (double)g_bytes * 8 / (dt - rtt) / 1e6;
    }
    return bench_median(mbit, g_reps);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    static char self[PATH_MAX], path[PATH_MAX + 16];
    if (!g_linkemu) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) die("readlink /proc/self/exe");
        self[n] = 0;
        snprintf(path, sizeof path, "%s/linkemu", dirname(self));
        g_linkemu = path;
    }
    if (access(g_linkemu, X_OK)) {
        fprintf(stderr, "linkemu_check: %s is not an executable (--linkemu PATH)\n", g_linkemu);
        return 2;
    }
    int sink_port;
    g_sink_fd = tcp_listen(&sink_port);
    pthread_t th;
    if (pthread_create(&th, NULL, sink, NULL)) die("pthread_create");
    pthread_detach(th);

    double direct = (double)g_bytes * 8 / transfer(sink_port, 'U', g_bytes) / 1e6;
    int port = start_relay(sink_port);
    atexit(stop_relay);
    double rtt_min, rtt = ping(port, &rtt_min);
    double up = rate_of(port, 'U', rtt), down = rate_of(port, 'D', rtt);
    long peak = relay_peak_kib();
    stop_relay();

    double want_rtt = 2 * g_delay * 1e3, want_rate = g_rate * 8 / 1e6;
    printf("linkemu %s %s: round trip %.3f ms median, %.3f ms min (configured 2 x delay = %.3f ms); rate up %.2f Mbit/s, "
           "down %.2f Mbit/s (configured %.2f); %lld bytes each way, %d pings, %d reps; "
           "loopback without the relay %.0f Mbit/s; the relay's peak RSS %.1f MiB\n",
           g_rate_s, g_delay_s, rtt * 1e3, rtt_min * 1e3, want_rtt, up, down, want_rate, g_bytes, g_pings, g_reps, direct,
           (double)peak / 1024);
    /* the smallest round trip: a busy machine only ever adds to it, and none may be shorter
     * than 2 x delay (10 us for the clocks) */
    judge("rtt", rtt_min * 1e3, want_rtt);
    if (rtt_min < 2 * g_delay - 10e-6) {
        printf("  rtt    OFF: a round trip of %.3f ms is shorter than 2 x delay%s\n", rtt_min * 1e3,
               g_assert ? " -- FAIL" : "");
        g_failed = 1;
    }
    judge("up", up, want_rate);
    judge("down", down, want_rate);
    bench_cfg c = {0};
    config(&c, "both");
    bench_json("linkemu.rtt", &c, rtt * 1e3, "ms", want_rtt, "configured 2 x delay");
    bench_cfg cn = {0};
    config(&cn, "both");
    bench_json("linkemu.rtt_min", &cn, rtt_min * 1e3, "ms", want_rtt, "configured 2 x delay");
    bench_cfg cu = {0}, cd = {0}, cx = {0};
    config(&cu, "up");
    bench_cfg_num(&cu, "bytes", (double)g_bytes);
    bench_json("linkemu.rate", &cu, up, "Mbit/s", want_rate, "configured rate");
    config(&cd, "down");
    bench_cfg_num(&cd, "bytes", (double)g_bytes);
    bench_json("linkemu.rate", &cd, down, "Mbit/s", want_rate, "configured rate");
    bench_cfg_num(&cx, "bytes", (double)g_bytes);
    bench_json("linkemu.direct", &cx, direct, "Mbit/s", want_rate, "configured rate");
    bench_cfg cm = {0};
    config(&cm, "both");
    bench_json("linkemu.peak_rss", &cm, (double)peak / 1024, "MiB", NAN, NULL);
    return g_assert && g_failed ? 1 : 0;
}
