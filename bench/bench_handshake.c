/*
 * bench_handshake: the production channel's set-up cost (Noise_KK_25519_ChaChaPoly_SHA256,
 * the bridge's own functions from mpi/prod/noise.h), and the AEAD throughput that
 * bounds the channel's bandwidth.
 *
 *   in-memory  both sides in one thread: init (initiator and responder, with a prologue
 *              shaped like the bridge's), initiator write (msg 1: e, es, ss), responder
 *              read + write (msg 2: e, ee, se), initiator read + split, responder split.
 *              Median of --n handshakes (default 1000), with the median of every step.
 *   tcp        the full set-up over 127.0.0.1 with the bridge's framing: the client times
 *              socket + connect + init + write("SFMPI" hello + msg 1) ... read(u16 len +
 *              msg 2) + read + split; a server thread accepts, reads, answers and splits.
 *              Baseline in the same run: the same connect and the same byte exchange
 *              (11 + msg 1 bytes out, 2 + msg 2 back) without any cryptography.
 *   aead       sf__noise_encrypt / sf__noise_decrypt of 1 MiB frames (the bridge's default
 *              max_frame) for ChaChaPoly and AES-256-GCM, and memcpy of the same size.
 *
 *   bench_handshake [--n=1000] [--cipher=chachapoly|aesgcm] [--no-aead]
 * A measurement, not a test: exits 0 unless a handshake fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpi/prod/noise.h"

#include "bench_util.h"

static int g_n = 1000;
static sf_noise_cipher g_cipher = SF_NOISE_CHACHAPOLY;

static double pct(const double *v, int n, double p) {
    double *c = malloc(sizeof *c * (size_t)n);
    memcpy(c, v, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, bench_cmp_double);
    double m = c[(int)(p * (n - 1))];
    free(c);
    return m;
}

static uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];
static uint8_t pro[512];
static size_t g_l1 = 48, g_l2 = 48; /* message sizes, from the in-memory run */
static size_t pro_len;

static void die(const char *what) {
    fprintf(stderr, "bench_handshake: %s failed\n", what);
    exit(1);
}

/* The bridge's prologue: version string, cluster hash, job id, indices, protocol name. */
static void make_prologue(void) {
    size_t n = 0;
    n += (size_t)snprintf((char *)pro, 64, "sfmpi-bridge/%d", 1) + 1;
    randombytes_buf(pro + n, 32);
    n += 32;
    const char *job = "bench-handshake-job";
    memcpy(pro + n, job, strlen(job) + 1);
    n += strlen(job) + 1;
    pro[n++] = 0, pro[n++] = 0, pro[n++] = 0, pro[n++] = 1;
    const char *cn = sf__noise_protocol_name(g_cipher);
    memcpy(pro + n, cn, strlen(cn) + 1);
    n += strlen(cn) + 1;
    pro_len = n;
}

/* ------------------------------------------------------------------ in memory */

static void run_memory(void) {
    enum { S_INIT, S_W1, S_RW2, S_R2, S_TOTAL, NS };
    static const char *names[NS] = {"init both", "initiator write msg1", "responder read msg1 + write msg2 + split",
                                    "initiator read msg2 + split", "total"};
    double *t[NS];
    for (int k = 0; k < NS; k++) t[k] = calloc((size_t)g_n, sizeof(double));
    int warm = g_n / 10 + 10;
    for (int i = -warm; i < g_n; i++) {
        sf_noise_hs hi, hr;
        sf_noise_cs it, ir, rt, rr;
        uint8_t m1[256], m2[256], hh1[32], hh2[32];
        size_t l1, l2, pl;
        double t0 = bench_now_s();
        if (sf__noise_init(&hi, g_cipher, 1, pro, pro_len, a_priv, b_pub, NULL) ||
            sf__noise_init(&hr, g_cipher, 0, pro, pro_len, b_priv, a_pub, NULL))
            die("init");
        double t1 = bench_now_s();
        if (sf__noise_write(&hi, NULL, 0, m1, sizeof m1, &l1)) die("write 1");
        double t2 = bench_now_s();
        if (sf__noise_read(&hr, m1, l1, NULL, 0, &pl) || sf__noise_write(&hr, NULL, 0, m2, sizeof m2, &l2) ||
            sf__noise_split(&hr, &rt, &rr, hh2))
            die("responder");
        double t3 = bench_now_s();
        if (sf__noise_read(&hi, m2, l2, NULL, 0, &pl) || sf__noise_split(&hi, &it, &ir, hh1)) die("initiator");
        double t4 = bench_now_s();
        if (memcmp(hh1, hh2, 32) || memcmp(it.k, rr.k, 32) || memcmp(ir.k, rt.k, 32)) die("key agreement");
        if (i >= 0) {
            t[S_INIT][i] = t1 - t0, t[S_W1][i] = t2 - t1, t[S_RW2][i] = t3 - t2, t[S_R2][i] = t4 - t3;
            t[S_TOTAL][i] = t4 - t0;
        }
        if (i == 0) printf("handshake message sizes: msg1 %zu bytes, msg2 %zu bytes\n", l1, l2);
        g_l1 = l1, g_l2 = l2;
    }
    printf("handshake in-memory %s: median %.1f us, p90 %.1f us over %d handshakes (both sides in one thread)\n",
           sf__noise_protocol_name(g_cipher), bench_median(t[S_TOTAL], g_n) * 1e6, pct(t[S_TOTAL], g_n, 0.9) * 1e6, g_n);
    for (int k = 0; k < S_TOTAL; k++)
        printf("handshake in-memory step %-42s median %.1f us\n", names[k], bench_median(t[k], g_n) * 1e6);
    /* one X25519 scalar multiplication, for scale */
    double *dh = calloc((size_t)g_n, sizeof(double));
    uint8_t out[32];
    for (int i = 0; i < g_n; i++) {
        double t0 = bench_now_s();
        if (crypto_scalarmult(out, a_priv, b_pub)) die("scalarmult");
        dh[i] = bench_now_s() - t0;
    }
    printf("handshake in-memory: one X25519 (crypto_scalarmult) median %.1f us; a KK handshake makes "
           "10 (2 static public keys, 2 ephemeral keys, 6 DH)\n", bench_median(dh, g_n) * 1e6);
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "protocol", sf__noise_protocol_name(g_cipher));
    bench_cfg_str(&cfg, "where", "memory");
    bench_cfg_num(&cfg, "handshakes", g_n);
    bench_json("handshake.noise", &cfg, bench_median(t[S_TOTAL], g_n) * 1e6, "us",
               bench_median(dh, g_n) * 1e6, "one X25519");
    free(dh);
    for (int k = 0; k < NS; k++) free(t[k]);
}

/* ------------------------------------------------------------------ over TCP */

static int g_lfd, g_port, g_crypto;

static void *server(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept(g_lfd, NULL, NULL);
        if (fd < 0) return NULL;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint8_t hello[11], m1[256], out[256];
        size_t pl, l2 = g_l2;
        if (bench_io_full(fd, hello, sizeof hello, 0) || bench_io_full(fd, m1, hello[10], 0)) die("server read");
        if (hello[0] == 'Q') { /* quit */
            close(fd);
            return NULL;
        }
        if (g_crypto) {
            sf_noise_hs hs;
            sf_noise_cs tx, rx;
            uint8_t hh[32];
            if (sf__noise_init(&hs, g_cipher, 0, pro, pro_len, b_priv, a_pub, NULL) ||
                sf__noise_read(&hs, m1, hello[10], NULL, 0, &pl) ||
                sf__noise_write(&hs, NULL, 0, out + 2, sizeof out - 2, &l2) ||
                sf__noise_split(&hs, &tx, &rx, hh))
                die("server handshake");
            sf__noise_cs_wipe(&tx);
            sf__noise_cs_wipe(&rx);
        } else {
            memset(out + 2, 0x5a, l2);
        }
        out[0] = (uint8_t)(l2 >> 8), out[1] = (uint8_t)l2;
        if (bench_io_full(fd, out, 2 + l2, 1)) die("server write");
        /* wait for the client's close, so TIME_WAIT stays on the client side */
        uint8_t sink;
        while (recv(fd, &sink, 1, 0) > 0) {}
        close(fd);
    }
}

static double one_connect(int crypto) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    double t0 = bench_now_s();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t buf[256], l2b[2], m2[256];
    size_t ml = g_l1, pl;
    sf_noise_hs hs;
    sf_noise_cs tx, rx;
    uint8_t hh[32];
    if (crypto) {
        if (sf__noise_init(&hs, g_cipher, 1, pro, pro_len, a_priv, b_pub, NULL) ||
            sf__noise_write(&hs, NULL, 0, buf + 11, sizeof buf - 11, &ml))
            die("client write");
    } else {
        memset(buf + 11, 0x5a, ml);
    }
    memcpy(buf, "SFMPI", 5);
    buf[5] = 1, buf[6] = 0, buf[7] = 0, buf[8] = 0, buf[9] = 1, buf[10] = (uint8_t)ml;
    if (bench_io_full(fd, buf, 11 + ml, 1) || bench_io_full(fd, l2b, 2, 0)) die("client io");
    size_t l2 = ((size_t)l2b[0] << 8) | l2b[1];
    if (l2 > sizeof m2 || bench_io_full(fd, m2, l2, 0)) die("client read");
    if (crypto) {
        if (sf__noise_read(&hs, m2, l2, NULL, 0, &pl) || sf__noise_split(&hs, &tx, &rx, hh)) die("client handshake");
        sf__noise_cs_wipe(&tx);
        sf__noise_cs_wipe(&rx);
    }
    double dt = bench_now_s() - t0;
    close(fd);
    return dt;
}

static void run_tcp(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g_lfd < 0 || bind(g_lfd, (struct sockaddr *)&a, sizeof a) || listen(g_lfd, 64)) die("listen");
    socklen_t sl = sizeof a;
    getsockname(g_lfd, (struct sockaddr *)&a, &sl);
    g_port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, server, NULL);
    double *hs = calloc((size_t)g_n, sizeof(double)), *plain = calloc((size_t)g_n, sizeof(double));
    int warm = g_n / 10 + 10;
    /* alternate crypto and plain connections, so load changes hit both */
    for (int i = -warm; i < g_n; i++) {
        g_crypto = 1;
        double h = one_connect(1);
        g_crypto = 0;
        double p = one_connect(0);
        if (i >= 0) hs[i] = h, plain[i] = p;
    }
    double mh = bench_median(hs, g_n), mp = bench_median(plain, g_n);
    printf("handshake tcp %s: connect + handshake median %.1f us (p90 %.1f us) over %d connections; "
           "plain connect + same bytes %.1f us (p90 %.1f us); crypto adds %.1f us\n",
           sf__noise_protocol_name(g_cipher), mh * 1e6, pct(hs, g_n, 0.9) * 1e6, g_n, mp * 1e6,
           pct(plain, g_n, 0.9) * 1e6, (mh - mp) * 1e6);
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "protocol", sf__noise_protocol_name(g_cipher));
    bench_cfg_str(&cfg, "where", "tcp");
    bench_cfg_num(&cfg, "handshakes", g_n);
    bench_json("handshake.noise", &cfg, mh * 1e6, "us", mp * 1e6,
               "plain connect + same bytes");
    /* stop the server */
    struct sockaddr_in q = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uint8_t quit[11] = {'Q'};
    if (connect(fd, (struct sockaddr *)&q, sizeof q) == 0) bench_io_full(fd, quit, sizeof quit, 1);
    pthread_join(th, NULL);
    close(fd);
    close(g_lfd);
    free(hs), free(plain);
}

/* ------------------------------------------------------------------ AEAD throughput */

static void run_aead(void) {
    size_t n = (size_t)1 << 20;
    int iters = 256, reps = 5; /* 256 MiB per measurement */
    uint8_t *pt = malloc(n), *ct = malloc(n + SF_NOISE_TAG), *back = malloc(n);
    randombytes_buf(pt, n);
    memset(ct, 0, n + SF_NOISE_TAG);
    memset(back, 0, n);
    uint8_t ad[4] = {0, 0x10, 0, 0x28};
    sf_noise_cipher cs[2] = {SF_NOISE_CHACHAPOLY, SF_NOISE_AESGCM};
    double aead_mbs[2][2];
    bench_cfg aead_cfg[2][2];
    int aead_ok[2] = {0, 0};
    for (int c = 0; c < 2; c++) {
        if (!sf__noise_cipher_available(cs[c])) {
            printf("aead %s: not available on this CPU\n", sf__noise_protocol_name(cs[c]));
            continue;
        }
        double enc[8], dec[8];
        for (int r = -1; r < reps; r++) {
            sf_noise_cs e = {.has_key = 1, .cipher = cs[c]}, d;
            randombytes_buf(e.k, sizeof e.k);
            d = e;
            double t0 = bench_now_s();
            for (int i = 0; i < iters; i++)
                if (sf__noise_encrypt(&e, ad, sizeof ad, pt, n, ct)) die("encrypt");
            double t1 = bench_now_s();
            e.n = 0; /* a frame under nonce 0, which the decrypt loop opens every time */
            if (sf__noise_encrypt(&e, ad, sizeof ad, pt, n, ct)) die("encrypt");
            double t1b = bench_now_s();
            for (int i = 0; i < iters; i++) {
                /* decrypt the same frame each time: re-encrypt is not timed */
                d.n = 0;
                if (sf__noise_decrypt(&d, ad, sizeof ad, ct, n + SF_NOISE_TAG, back)) die("decrypt");
            }
            double t2 = bench_now_s();
            if (memcmp(back, pt, n)) die("decrypt round trip");
            if (r >= 0) enc[r] = (double)n * iters / (t1 - t0) / 1e6, dec[r] = (double)n * iters / (t2 - t1b) / 1e6;
        }
        printf("aead %s: encrypt %.0f MB/s, decrypt %.0f MB/s (1 MiB frames, median of %d x 256 MiB)\n",
               sf__noise_protocol_name(cs[c]), bench_median(enc, reps), bench_median(dec, reps), reps);
        for (int d = 0; d < 2; d++) {
            bench_cfg cfg = {0};
            bench_cfg_str(&cfg, "protocol", sf__noise_protocol_name(cs[c]));
            bench_cfg_str(&cfg, "direction", d ? "decrypt" : "encrypt");
            bench_cfg_num(&cfg, "frame_bytes", (double)n);
            aead_mbs[c][d] = bench_median(d ? dec : enc, reps);
            aead_cfg[c][d] = cfg;
            aead_ok[c] = 1;
        }
    }
    double mc[8];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now_s();
        for (int i = 0; i < iters; i++) {
            memcpy(back, pt, n);
            __asm__ volatile("" ::"r"(back) : "memory");
        }
        if (r >= 0) mc[r] = (double)n * iters / (bench_now_s() - t0) / 1e6;
    }
    printf("aead memcpy: %.0f MB/s (1 MiB, warm)\n", bench_median(mc, reps));
    /* memcpy of the same frames is every AEAD line's baseline */
    for (int c = 0; c < 2; c++)
        for (int d = 0; d < 2 && aead_ok[c]; d++)
            bench_json("aead", &aead_cfg[c][d], aead_mbs[c][d], "MB/s", bench_median(mc, reps),
                       "memcpy");
    free(pt), free(ct), free(back);
}

int main(int argc, char **argv) {
    int aead = 1;
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--n=", 4)) g_n = atoi(argv[i] + 4);
        else if (!strcmp(argv[i], "--cipher=aesgcm")) g_cipher = SF_NOISE_AESGCM;
        else if (!strcmp(argv[i], "--cipher=chachapoly")) g_cipher = SF_NOISE_CHACHAPOLY;
        else if (!strcmp(argv[i], "--no-aead")) aead = 0;
        else {
            fprintf(stderr, "usage: %s [--n=1000] [--cipher=chachapoly|aesgcm] [--no-aead] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (g_n < 10) g_n = 10;
    if (sodium_init() < 0) die("sodium_init");
    if (!sf__noise_cipher_available(g_cipher)) die("cipher");
    randombytes_buf(a_priv, 32);
    randombytes_buf(b_priv, 32);
    crypto_scalarmult_base(a_pub, a_priv);
    crypto_scalarmult_base(b_pub, b_priv);
    make_prologue();
    run_memory();
    run_tcp();
    if (aead) run_aead();
    return 0;
}
