/*
 * bench_bridge: throughput of one large object moved alice -> bob in production mode,
 * and its two baselines.
 *
 * Production (through bench/bridge.sh, 2 parties; the cipher is the cluster file's):
 *   x0 = SF_REMOTE(alice, make, size)            once: a filled U8 array on alice
 *   per repetition:
 *     a = SF_REMOTE(alice, fwd, x0); sf_wait(a)  a fresh object on alice holding x0's value
 *                                                (a new reference, no copy: the sender's
 *                                                buffer is warm)
 *     t0; y = SF_REMOTE(bob, consume, a)         a moves alice -> bob; consume checks a
 *                                                sample of the bytes and returns the size
 *     sf_get(y); t1                              every party learns the size
 *     sf_release(y), sf_release(a)               both sides drop their copy
 *   t1 - t0 is measured on alice: the move, the task and one small message back.
 *   bob's receive buffer is a fresh 1 GiB value each time; the runtime's cache of large
 *   mappings hands back the previous one once it has been released, so after the warm-up
 *   repetitions bob writes into memory it has already touched.
 *
 *     bench/bridge.sh --cipher aesgcm 2 bench_bridge [--mib=1024] [--reps=5] [--warmup=2]
 *
 * Raw TCP (one process, two threads over 127.0.0.1, warm buffers on both sides):
 *     bench_bridge --tcp [--mib=1024] [--reps=5] [--warmup=2]
 *   per repetition the sender writes `size` bytes, the receiver reads them and answers
 *   with one byte; the time is the sender's, from the first write to the answer.
 *
 * TLS chain (bench/more.sh starts the two socat processes between P1 and P3):
 *     bench_bridge --chain=P1,P3 [--mib=1024] [--reps=5] [--warmup=2]
 *   the receiver listens on 127.0.0.1:P3; per repetition a sender thread connects to P1,
 *   writes `size` bytes from a warm buffer and shuts down its side; the time runs from
 *   the connect to the receiver's EOF after `size` bytes (so it includes the TLS
 *   handshake, about a millisecond).
 *
 * OpenSSL pair (built when CMake finds OpenSSL; one process, two threads, warm buffers):
 *     bench_bridge --tls-pair=TLS_AES_256_GCM_SHA384 --cert=PEM --key=PEM [--mib=...]
 *   TLS 1.3 with exactly that suite, one connection; per repetition the client SSL_writes
 *   `size` bytes and the server SSL_reads them and answers with one byte. It shows what
 *   OpenSSL does without socat's two extra plain-TCP hops and processes.
 *
 * TLS 1.3 handshake for scale (OpenSSL builds): bench_bridge --tls-handshake=N --cert= --key=
 *
 * Round-trip floor (for the tiny-tasks loop, whose iteration is one cross-party round trip):
 *     bench_bridge --pingpong=N
 *
 * Output: one line per repetition and a summary line with the median MB/s (10^6 bytes/s).
 * A measurement, not a test: exits 0 unless something fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfmpi/sf.h"

#ifdef SF_BENCH_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_util.h"
#endif

static long g_mib = 1024;
static int g_reps = 5, g_warmup = 2;
static int g_tcp = 0, g_p1 = 0, g_p3 = 0;
static long g_pingpong = 0, g_tls_hs = 0;
static const char *g_tls_suite = NULL, *g_cert = NULL, *g_key = NULL;

static uint8_t pattern(size_t i) { return (uint8_t)((i >> 12) * 131u + 7u); }

static void fill(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i += 4096) {
        size_t k = n - i < 4096 ? n - i : 4096;
        memset(p + i, pattern(i), k);
    }
}
/* one byte per 64 KiB page group */
static long check(const uint8_t *p, size_t n) {
    long bad = 0;
    for (size_t i = 0; i < n; i += 65536) bad += p[i] != pattern(i);
    if (n) bad += p[n - 1] != pattern(n - 1);
    return bad;
}

static void report(const char *what, const double *secs, int n, size_t bytes) {
    double mbs[64];
    for (int i = 0; i < n; i++) mbs[i] = (double)bytes / secs[i] / 1e6;
    double m = bench_median(mbs, n), lo = mbs[0], hi = mbs[0];
    for (int i = 1; i < n; i++) lo = mbs[i] < lo ? mbs[i] : lo, hi = mbs[i] > hi ? mbs[i] : hi;
    printf("bridge %s: %.0f MB/s median of %d reps (min %.0f, max %.0f), %zu bytes, median %.3f s\n",
           what, m, n, lo, hi, bytes, bench_median((double *)secs, n));
    fflush(stdout);
    /* each method is its own process: the pairs with baselines are bench/more.sh's lines */
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "method", what);
    bench_cfg_num(&cfg, "bytes", (double)bytes);
    bench_cfg_num(&cfg, "reps", n);
    bench_json("bridge.throughput", &cfg, m, "MB/s", NAN, NULL);
}

/* ------------------------------------------------------------------ production mode */

static int make(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_U8, 1, &n);
    if (!v) return sf_fail(t, "out of memory for %lld bytes", (long long)n);
    fill(sf_value_data(v), (size_t)n);
    return sf_return(t, 0, v);
}
static int fwd(sf_task *t) { return sf_return(t, 0, sf_value_ref((sf_value *)sf_arg(t, 0))); }
static int consume(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    long bad = check(sf_value_cdata(v), sf_value_nbytes(v));
    if (bad) return sf_fail(t, "%ld wrong bytes in the sample", bad);
    return sf_return(t, 0, sf_value_i64((int64_t)sf_value_nbytes(v)));
}

/* minor page faults of the executing party's process so far */
static int faults(sf_task *t) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return sf_return(t, 0, sf_value_i64((int64_t)ru.ru_minflt));
}
static int64_t party_faults(sf_ctx *sf, sf_device d) {
    sf_obj o = SF_REMOTE(d, faults);
    sf_value *v;
    int64_t n = sf_get(sf, o, &v) ? -1 : sf_value_as_i64(v, 0);
    sf_release(o);
    return n;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    if (sf_nparties(sf) != 2) {
        sf_print(sf, "bench_bridge needs 2 parties\n");
        return SF_EUSAGE;
    }
    sf_device alice = sf_pyu(sf, sf_party_name_of(sf, 0)), bob = sf_pyu(sf, sf_party_name_of(sf, 1));
    int64_t bytes = (int64_t)g_mib << 20;
    sf_obj x0 = SF_REMOTE(alice, make, SF_I64(bytes));
    SF_TRY(sf_wait(sf, &x0, 1));
    int total = g_warmup + g_reps;
    double secs[64];
    for (int r = 0; r < total; r++) {
        sf_obj a = SF_REMOTE(alice, fwd, SF_OBJ(x0));
        SF_TRY(sf_wait(sf, &a, 1));
        int64_t fa = party_faults(sf, alice), fb = party_faults(sf, bob);
        double t0 = bench_now_s();
        sf_obj y = SF_REMOTE(bob, consume, SF_OBJ(a));
        sf_value *v;
        SF_TRY(sf_get(sf, y, &v));
        double dt = bench_now_s() - t0;
        if (sf_value_as_i64(v, 0) != bytes) {
            sf_print(sf, "bench_bridge: bob received %lld bytes, expected %lld\n",
                     (long long)sf_value_as_i64(v, 0), (long long)bytes);
            return SF_ETASK;
        }
        sf_release(y);
        sf_release(a);
        fa = party_faults(sf, alice) - fa, fb = party_faults(sf, bob) - fb;
        if (r >= g_warmup) secs[r - g_warmup] = dt;
        sf_print(sf, "bridge sfmpi rep %d%s: %.3f s, %.0f MB/s; minor page faults: alice %lld, bob %lld\n",
                 r, r < g_warmup ? " (warm-up)" : "", dt, (double)bytes / dt / 1e6, (long long)fa,
                 (long long)fb);
    }
    sf_release(x0);
    if (sf_party_index(sf) == 0) report("sfmpi", secs, g_reps, (size_t)bytes);
    return 0;
}

/* ------------------------------------------------------------------ raw sockets */

static int listen_port(int port, int *out_port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8)) {
        perror("bench_bridge: listen");
        exit(1);
    }
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *out_port = ntohs(a.sin_port);
    return fd;
}

static int dial_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int tries = 0; tries < 200; tries++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        usleep(10000);
    }
    perror("bench_bridge: connect");
    exit(1);
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror("bench_bridge: write");
            exit(1);
        }
        p += w, n -= (size_t)w;
    }
}
/* read n bytes (or until EOF); returns the count */
static size_t read_all(int fd, uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            perror("bench_bridge: read");
            exit(1);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return got;
}

typedef struct {
    int fd;      /* --tcp: the connected socket */
    int port;    /* --chain: dial this port per repetition */
    uint8_t *buf;
    size_t n;
    int reps;
} sender_arg;

/* --tcp: write n bytes, wait for the receiver's one-byte answer; per repetition. */
static void *tcp_sender(void *p) {
    sender_arg *a = p;
    double *secs = calloc((size_t)a->reps, sizeof *secs);
    for (int r = 0; r < a->reps; r++) {
        uint8_t ok;
        double t0 = bench_now_s();
        write_all(a->fd, a->buf, a->n);
        if (read_all(a->fd, &ok, 1) != 1) exit(1);
        secs[r] = bench_now_s() - t0;
    }
    return secs;
}

static int run_tcp(void) {
    size_t n = (size_t)g_mib << 20;
    int total = g_warmup + g_reps, port;
    uint8_t *sbuf = malloc(n), *rbuf = malloc(n);
    if (!sbuf || !rbuf) return 1;
    fill(sbuf, n);
    memset(rbuf, 0, n); /* warm: touched once before any timing */
    int lfd = listen_port(0, &port);
    int cfd = dial_port(port), afd = accept(lfd, NULL, NULL);
    int one = 1;
    setsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sender_arg sa = {.fd = cfd, .buf = sbuf, .n = n, .reps = total};
    pthread_t th;
    pthread_create(&th, NULL, tcp_sender, &sa);
    long bad = 0;
    for (int r = 0; r < total; r++) {
        if (read_all(afd, rbuf, n) != n) return 1;
        bad += check(rbuf, n);
        memset(rbuf, 0, 4096);
        uint8_t ok = 1;
        write_all(afd, &ok, 1);
    }
    double *secs;
    pthread_join(th, (void **)&secs);
    for (int r = 0; r < total; r++)
        printf("bridge tcp rep %d%s: %.3f s, %.0f MB/s\n", r, r < g_warmup ? " (warm-up)" : "",
               secs[r], (double)n / secs[r] / 1e6);
    report("raw-tcp", secs + g_warmup, g_reps, n);
    if (bad) printf("bridge tcp: %ld wrong bytes in the samples\n", bad);
    close(cfd), close(afd), close(lfd);
    free(secs), free(sbuf), free(rbuf);
    return bad ? 1 : 0;
}

/* --chain: per repetition, connect to P1, write n bytes, shut down the write side. */
static void *chain_sender(void *p) {
    sender_arg *a = p;
    int fd = dial_port(a->port);
    write_all(fd, a->buf, a->n);
    shutdown(fd, SHUT_WR);
    uint8_t sink;
    while (read(fd, &sink, 1) > 0) {} /* until socat closes */
    close(fd);
    return NULL;
}

static int run_chain(void) {
    size_t n = (size_t)g_mib << 20;
    int total = g_warmup + g_reps, port;
    uint8_t *sbuf = malloc(n), *rbuf = malloc(n);
    if (!sbuf || !rbuf) return 1;
    fill(sbuf, n);
    memset(rbuf, 0, n);
    int lfd = listen_port(g_p3, &port);
    double secs[64];
    long bad = 0;
    for (int r = 0; r < total; r++) {
        sender_arg sa = {.port = g_p1, .buf = sbuf, .n = n};
        pthread_t th;
        double t0 = bench_now_s();
        pthread_create(&th, NULL, chain_sender, &sa);
        int afd = accept(lfd, NULL, NULL);
        size_t got = read_all(afd, rbuf, n);
        double dt = bench_now_s() - t0;
        uint8_t extra;
        if (got != n || read(afd, &extra, 1) != 0) {
            fprintf(stderr, "bench_bridge: chain delivered %zu bytes, expected %zu\n", got, n);
            return 1;
        }
        close(afd);
        pthread_join(th, NULL);
        bad += check(rbuf, n);
        memset(rbuf, 0, 4096);
        if (r >= g_warmup) secs[r - g_warmup] = dt;
        printf("bridge tls rep %d%s: %.3f s, %.0f MB/s\n", r, r < g_warmup ? " (warm-up)" : "", dt,
               (double)n / dt / 1e6);
        fflush(stdout);
    }
    report("tls-socat", secs, g_reps, n);
    if (bad) printf("bridge tls: %ld wrong bytes in the samples\n", bad);
    close(lfd);
    free(sbuf), free(rbuf);
    return bad ? 1 : 0;
}

/* --pingpong=N: the floor of a cross-party round trip on this machine: two processes,
 * blocking 64-byte send/recv over 127.0.0.1 with TCP_NODELAY, N round trips after N/10
 * warm-up ones; prints the median over 5 blocks of N/5. */
static int run_pingpong(void) {
    int port, lfd = listen_port(0, &port);
    long n = g_pingpong, warm = n / 10 + 1, blk = n / 5 > 0 ? n / 5 : 1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = dial_port(port);
        uint8_t b[64];
        for (long i = 0; i < warm + 5 * blk; i++) {
            if (read_all(fd, b, sizeof b) != sizeof b) _exit(1);
            write_all(fd, b, sizeof b);
        }
        _exit(0);
    }
    int fd = accept(lfd, NULL, NULL), one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t b[64] = {0};
    double us[5];
    for (long i = 0; i < warm; i++) write_all(fd, b, sizeof b), read_all(fd, b, sizeof b);
    for (int k = 0; k < 5; k++) {
        double t0 = bench_now_s();
        for (long i = 0; i < blk; i++) {
            write_all(fd, b, sizeof b);
            if (read_all(fd, b, sizeof b) != sizeof b) return 1;
        }
        us[k] = (bench_now_s() - t0) / (double)blk * 1e6;
    }
    waitpid(pid, NULL, 0);
    close(fd), close(lfd);
    double lo = us[0], hi = us[0];
    for (int k = 1; k < 5; k++) lo = us[k] < lo ? us[k] : lo, hi = us[k] > hi ? us[k] : hi;
    printf("pingpong tcp 64 B, 2 processes, blocking: %.1f us per round trip (median of 5 x %ld; "
           "min %.1f, max %.1f)\n", bench_median(us, 5), blk, lo, hi);
    bench_cfg cfg = {0};
    bench_cfg_num(&cfg, "bytes", 64);
    bench_cfg_num(&cfg, "round_trips", (double)(5 * blk));
    bench_json("pingpong.tcp", &cfg, bench_median(us, 5), "us", NAN, NULL);
    return 0;
}

/* ------------------------------------------------------------------ OpenSSL pair */
#ifdef SF_BENCH_OPENSSL
/* --tls-pair=SUITE --cert=PEM --key=PEM: like --tcp, but both ends are OpenSSL TLS 1.3
 * endpoints forced to SUITE (e.g. TLS_CHACHA20_POLY1305_SHA256): one connection, the
 * sender thread SSL_writes `size` bytes, the receiver SSL_reads them into a warm buffer and
 * answers with one byte. The handshake happens once, before the timed repetitions. */
typedef struct {
    SSL *ssl;
    uint8_t *buf;
    size_t n;
    int reps;
    double *secs;
} tls_arg;

static void ssl_die(const char *what) {
    fprintf(stderr, "bench_bridge: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}
static void ssl_write_all(SSL *s, const uint8_t *p, size_t n) {
    while (n > 0) {
        size_t w = 0;
        if (SSL_write_ex(s, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n, &w) <= 0) ssl_die("SSL_write");
        p += w, n -= w;
    }
}
static size_t ssl_read_all(SSL *s, uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        size_t r = 0;
        if (SSL_read_ex(s, p + got, n - got, &r) <= 0) break;
        got += r;
    }
    return got;
}
static SSL_CTX *tls_ctx(int server) {
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c || !SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) || !SSL_CTX_set_ciphersuites(c, g_tls_suite))
        ssl_die("SSL_CTX setup");
    if (server && (SSL_CTX_use_certificate_file(c, g_cert, SSL_FILETYPE_PEM) != 1 ||
                   SSL_CTX_use_PrivateKey_file(c, g_key, SSL_FILETYPE_PEM) != 1))
        ssl_die("loading the certificate/key");
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    return c;
}
static void *tls_client(void *p) {
    tls_arg *a = p;
    if (SSL_connect(a->ssl) != 1) ssl_die("SSL_connect");
    for (int r = 0; r < a->reps; r++) {
        uint8_t ok;
        double t0 = bench_now_s();
        ssl_write_all(a->ssl, a->buf, a->n);
        if (ssl_read_all(a->ssl, &ok, 1) != 1) ssl_die("SSL_read (answer)");
        a->secs[r] = bench_now_s() - t0;
    }
    return NULL;
}
static int run_tls_pair(void) {
    size_t n = (size_t)g_mib << 20;
    int total = g_warmup + g_reps, port;
    uint8_t *sbuf = malloc(n), *rbuf = malloc(n);
    if (!sbuf || !rbuf) return 1;
    fill(sbuf, n);
    memset(rbuf, 0, n);
    int lfd = listen_port(0, &port), cfd = dial_port(port), afd = accept(lfd, NULL, NULL), one = 1;
    setsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL_CTX *sc = tls_ctx(1), *cc = tls_ctx(0);
    SSL *ss = SSL_new(sc), *cs = SSL_new(cc);
    SSL_set_fd(ss, afd);
    SSL_set_fd(cs, cfd);
    double *secs = calloc((size_t)total, sizeof *secs);
    tls_arg ta = {.ssl = cs, .buf = sbuf, .n = n, .reps = total, .secs = secs};
    pthread_t th;
    pthread_create(&th, NULL, tls_client, &ta);
    if (SSL_accept(ss) != 1) ssl_die("SSL_accept");
    long bad = 0;
    for (int r = 0; r < total; r++) {
        if (ssl_read_all(ss, rbuf, n) != n) ssl_die("SSL_read");
        bad += check(rbuf, n);
        memset(rbuf, 0, 4096);
        uint8_t ok = 1;
        ssl_write_all(ss, &ok, 1);
    }
    pthread_join(th, NULL);
    printf("bridge tls-pair: %s, cipher %s\n", SSL_get_version(ss), SSL_get_cipher_name(ss));
    for (int r = 0; r < total; r++)
        printf("bridge tls-pair rep %d%s: %.3f s, %.0f MB/s\n", r, r < g_warmup ? " (warm-up)" : "",
               secs[r], (double)n / secs[r] / 1e6);
    report("tls-openssl-pair", secs + g_warmup, g_reps, n);
    if (bad) printf("bridge tls-pair: %ld wrong bytes in the samples\n", bad);
    SSL_free(ss), SSL_free(cs), SSL_CTX_free(sc), SSL_CTX_free(cc);
    close(cfd), close(afd), close(lfd);
    free(secs), free(sbuf), free(rbuf);
    return bad ? 1 : 0;
}

/* --tls-handshake=N: TLS 1.3 connection set-up over 127.0.0.1 for scale against the
 * bridge's Noise KK handshake (bench_handshake): the client times socket + connect +
 * SSL_connect (X25519 key exchange, the server's ECDSA P-256 certificate, no session
 * tickets, no verification); a server thread accepts and runs SSL_accept. Median of N. */
static SSL_CTX *g_hs_sctx;
static int g_hs_lfd;
static void *tls_hs_server(void *p) {
    long n = *(long *)p;
    for (long i = 0; i < n; i++) {
        int fd = accept(g_hs_lfd, NULL, NULL), one = 1;
        if (fd < 0) return NULL;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        SSL *s = SSL_new(g_hs_sctx);
        SSL_set_fd(s, fd);
        if (SSL_accept(s) != 1) ssl_die("SSL_accept");
        uint8_t b;
        SSL_read_ex(s, &b, 1, &(size_t){0}); /* until the client closes */
        SSL_free(s);
        close(fd);
    }
    return NULL;
}
static int run_tls_handshake(long n) {
    int port;
    g_hs_lfd = listen_port(0, &port);
    g_hs_sctx = tls_ctx(1);
    SSL_CTX_set_num_tickets(g_hs_sctx, 0);
    SSL_CTX *cc = tls_ctx(0);
    long warm = n / 10 + 10, total = warm + n;
    double *t = calloc((size_t)n, sizeof *t);
    pthread_t th;
    pthread_create(&th, NULL, tls_hs_server, &total);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const char *suite = "?";
    for (long i = 0; i < total; i++) {
        double t0 = bench_now_s();
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) ssl_die("connect");
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        SSL *c = SSL_new(cc);
        SSL_set_fd(c, fd);
        if (SSL_connect(c) != 1) ssl_die("SSL_connect");
        double dt = bench_now_s() - t0;
        if (i >= warm) t[i - warm] = dt;
        suite = SSL_get_cipher_name(c);
        SSL_free(c);
        close(fd);
    }
    pthread_join(th, NULL);
    double *c = malloc(sizeof *c * (size_t)n);
    memcpy(c, t, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, bench_cmp_double);
    printf("handshake tls1.3 %s (X25519, ECDSA P-256 certificate): connect + SSL_connect median %.1f us "
           "(p90 %.1f us) over %ld connections\n", suite, bench_median(t, (int)n) * 1e6,
           c[(size_t)(0.9 * (double)(n - 1))] * 1e6, n);
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "suite", suite);
    bench_cfg_num(&cfg, "connections", (double)n);
    bench_json("handshake.tls13", &cfg, bench_median(t, (int)n) * 1e6, "us", NAN, NULL);
    free(c), free(t);
    SSL_CTX_free(cc), SSL_CTX_free(g_hs_sctx);
    close(g_hs_lfd);
    return 0;
}
#endif

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--mib=", 6)) g_mib = atol(a + 6);
        else if (!strncmp(a, "--reps=", 7)) g_reps = atoi(a + 7);
        else if (!strncmp(a, "--warmup=", 9)) g_warmup = atoi(a + 9);
        else if (!strcmp(a, "--tcp")) g_tcp = 1;
        else if (!strncmp(a, "--pingpong=", 11)) g_pingpong = atol(a + 11);
        else if (!strncmp(a, "--tls-handshake=", 16)) g_tls_hs = atol(a + 16);
        else if (!strncmp(a, "--tls-pair=", 11)) g_tls_suite = a + 11;
        else if (!strncmp(a, "--cert=", 7)) g_cert = a + 7;
        else if (!strncmp(a, "--key=", 6)) g_key = a + 6;
        else if (!strncmp(a, "--chain=", 8)) {
            if (sscanf(a + 8, "%d,%d", &g_p1, &g_p3) != 2) g_p1 = 0;
        } else if (strncmp(a, "--sf-", 5)) {
            fprintf(stderr, "usage: %s [--mib=N] [--reps=R] [--warmup=W] [--tcp | --chain=P1,P3 | "
                            "--tls-pair=SUITE --cert=PEM --key=PEM | --tls-handshake=N --cert=PEM --key=PEM | --pingpong=N | --sf-mode=prod ...] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (g_mib < 1) g_mib = 1;
    if (g_reps < 1) g_reps = 1;
    if (g_reps > 63) g_reps = 63;
    if (g_warmup < 0) g_warmup = 0;
    if (g_tcp) return run_tcp();
    if (g_pingpong > 0) return run_pingpong();
    if (g_tls_suite || g_tls_hs > 0) {
#ifdef SF_BENCH_OPENSSL
        if (!g_tls_suite) g_tls_suite = "TLS_CHACHA20_POLY1305_SHA256";
        if (!g_cert || !g_key) {
            fprintf(stderr, "bench_bridge: --tls-pair/--tls-handshake need --cert=PEM and --key=PEM\n");
            return 2;
        }
        return g_tls_hs > 0 ? run_tls_handshake(g_tls_hs) : run_tls_pair();
#else
        fprintf(stderr, "bench_bridge: built without OpenSSL (--tls-pair unavailable)\n");
        return 2;
#endif
    }
    if (g_p1) return run_chain();
    sf_config cfg = {.argc = argc, .argv = argv, .quiet = 1};
    return sf_run(&cfg, program, NULL);
}
