/*
 * attacker: what a stranger who can reach a party's port may do to it, for the attack
 * tests (tests/prod/test_attack.sh). Loopback only; every action bounded in count and time.
 *
 *   attacker idle     --to PORT --conns N --secs S
 *       keep N connections open that never send a byte (reopening those the party
 *       closes) for S seconds
 *   attacker garbage  --to PORT --conns N --secs S [--seed X]
 *       the same, each connection sending 1..4096 random bytes first
 *   attacker unknown  --to PORT --count N --claim I --target T --key-of PUBHEX [--cipher aesgcm]
 *       N handshakes claiming to be party I (to party T), with a fresh random static key
 *       each: a well-formed hello and Noise KK message 1 that must fail
 *   attacker replay   --to PORT --capture FILE --count N [--then frames|len:L] --secs S
 *       replay a captured first message (hello + message 1, the first 59 bytes of FILE)
 *       N times; read the answer (message 2); then send the rest of the capture (its
 *       frames, which belong to other keys) or a bare frame length prefix L, and hold the
 *       connection for S seconds
 *   attacker capture  --listen PORT --to PORT2 --out FILE --bytes N --secs S
 *       a forwarding proxy for one connection at a time that records the first N bytes
 *       the dialer sent on its first connection (a real capture to replay)
 * A connection is made to 127.0.0.1 only; a refused connect is retried every 20 ms (so an
 * attack can start before the party listens). Prints one summary line on stdout:
 *   attacker <mode>: connections=C answered=A closed_by_party=K refused=R
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpi/prod/noise.h"

#define MAXC 512

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *m) {
    fprintf(stderr, "attacker: %s\n", m);
    exit(2);
}

static int connect_to(int port, double give_up) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        close(fd);
        if (now() > give_up) return -1;
        usleep(20000);
    }
}

static int write_all(int fd, const void *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p = (const char *)p + w, n -= (size_t)w;
    }
    return 0;
}

/* Read what the party answers within `ms`; returns bytes read (0: closed, -1: nothing). */
static ssize_t read_some(int fd, void *buf, size_t cap, int ms) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, ms) <= 0) return -1;
    return recv(fd, buf, cap, 0);
}

static unsigned long conns, answered, closed_by_party, refused;

/* idle / garbage: keep n connections open for secs, reopening the ones the party closes. */
static void hold_many(int port, int n, double secs, int garbage, uint32_t seed) {
    int fds[MAXC];
    if (n > MAXC) n = MAXC;
    double end = now() + secs;
    for (int i = 0; i < n; i++) fds[i] = -1;
    srand(seed);
    while (now() < end) {
        for (int i = 0; i < n; i++) {
            if (fds[i] >= 0) continue;
            fds[i] = connect_to(port, end);
            if (fds[i] < 0) break;
            conns++;
            if (garbage) {
                uint8_t junk[4096];
                size_t len = 1 + (size_t)rand() % sizeof junk;
                for (size_t k = 0; k < len; k++) junk[k] = (uint8_t)rand();
                if (len >= 5 && rand() % 4 == 0) memcpy(junk, "SFMPI", 5); /* a plausible start */
                write_all(fds[i], junk, len);
            }
        }
        struct pollfd pf[MAXC];
        for (int i = 0; i < n; i++) pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (poll(pf, (nfds_t)n, 50) > 0)
            for (int i = 0; i < n; i++) {
                if (fds[i] < 0 || !pf[i].revents) continue;
                char sink[256];
                ssize_t r = recv(fds[i], sink, sizeof sink, MSG_DONTWAIT);
                if (r > 0) {
                    answered++;
                    continue;
                }
                close(fds[i]);
                fds[i] = -1;
                closed_by_party++;
            }
        usleep(garbage ? 20000 : 1000); /* bounded rate of new connections */
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
}

static void put_be16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static int unhex(const char *h, uint8_t out[32]) {
    if (strlen(h) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* The bridge's prologue (mpi/prod/conn.c) does not matter here: a stranger without the
 * cluster file's hash cannot build it, and a wrong key fails first anyway. */
static void unknown(int port, int count, int claim, int target, const uint8_t peer_pub[32],
                    sf_noise_cipher cipher) {
    double end = now() + 60;
    for (int k = 0; k < count && now() < end; k++) {
        uint8_t spriv[32], pro[64], hello[11 + 64];
        size_t ml;
        randombytes_buf(spriv, sizeof spriv);
        int pl = snprintf((char *)pro, sizeof pro, "a stranger's guess %d", k);
        sf_noise_hs hs;
        if (sf__noise_init(&hs, cipher, 1, pro, (size_t)pl, spriv, peer_pub, NULL) ||
            sf__noise_write(&hs, NULL, 0, hello + 11, sizeof hello - 11, &ml))
            die("noise");
        sf__noise_wipe(&hs);
        memcpy(hello, "SFMPI", 5);
        hello[5] = 2;
        put_be16(hello + 6, (unsigned)claim);
        put_be16(hello + 8, (unsigned)target);
        hello[10] = (uint8_t)ml;
        int fd = connect_to(port, end);
        if (fd < 0) break;
        conns++;
        write_all(fd, hello, 11 + ml);
        uint8_t ans[64];
        ssize_t r = read_some(fd, ans, sizeof ans, 2000);
        if (r >= 3 && ans[0] == 0xFF && ans[1] == 0xFF) refused++;
        else if (r > 0) answered++;
        else if (r == 0) closed_by_party++;
        close(fd);
    }
}

static void replay(int port, const char *capfile, int count, const char *then, double secs) {
    static uint8_t cap[1 << 16];
    FILE *f = fopen(capfile, "rb");
    if (!f) die("cannot open the capture");
    size_t clen = fread(cap, 1, sizeof cap, f);
    fclose(f);
    if (clen < 59) die("capture shorter than a first message");
    int fds[MAXC];
    if (count > MAXC) count = MAXC;
    double end = now() + secs;
    int n = 0;
    for (int k = 0; k < count; k++) {
        int fd = connect_to(port, end);
        if (fd < 0) break;
        conns++;
        write_all(fd, cap, 59);
        uint8_t ans[64];
        ssize_t r = read_some(fd, ans, 2, 2000);
        if (r == 2 && !(ans[0] == 0xFF && ans[1] == 0xFF)) {
            answered++; /* message 2: the party took the replay for a dialer, as it must */
            if (read_some(fd, ans, 48, 2000) != 48) closed_by_party++;
        } else if (r >= 2) {
            refused++;
        } else {
            closed_by_party++;
        }
        if (then && !strcmp(then, "frames") && clen > 59) {
            write_all(fd, cap + 59, clen - 59);
        } else if (then && !strncmp(then, "len:", 4)) {
            uint32_t l = (uint32_t)strtoul(then + 4, NULL, 0);
            uint8_t p[4] = {(uint8_t)(l >> 24), (uint8_t)(l >> 16), (uint8_t)(l >> 8), (uint8_t)l};
            write_all(fd, p, 4);
        }
        fds[n++] = fd;
    }
    while (now() < end) { /* hold them: the party must close them, never block on them */
        int open = 0;
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0) continue;
            char sink[256];
            ssize_t r = read_some(fds[i], sink, sizeof sink, 0);
            if (r == 0) {
                close(fds[i]);
                fds[i] = -1;
                closed_by_party++;
            } else {
                open++;
            }
        }
        if (!open) break;
        usleep(50000);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
}

/* Forward one connection at a time listen -> to, both ways; record the dialer's first
 * `want` bytes of its first connection. */
static void capture(int lport, int port, const char *out, size_t want, double secs) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16)) die("capture: bind/listen");
    static uint8_t rec[1 << 16];
    size_t got = 0;
    int first = 1;
    double end = now() + secs;
    while (now() < end) {
        struct pollfd lp = {.fd = ls, .events = POLLIN};
        if (poll(&lp, 1, 100) <= 0) continue;
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        int s = connect_to(port, end);
        if (s < 0) {
            close(c);
            break;
        }
        conns++;
        /* forward each read at once, as the parties' own sockets do (TCP_NODELAY): with
         * Nagle here, every small frame sent while the previous one is unacknowledged
         * waited for a delayed ACK (~40 ms), and the run through the proxy took 10-30 s
         * per 1000 rounds of longrun instead of ~1.3 s */
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int fds[2] = {c, s};
        for (;;) {
            struct pollfd pf[2] = {{.fd = c, .events = POLLIN}, {.fd = s, .events = POLLIN}};
            if (poll(pf, 2, 100) < 0 || now() > end) break;
            int done = 0;
            for (int k = 0; k < 2 && !done; k++) {
                if (!pf[k].revents) continue;
                uint8_t buf[65536];
                ssize_t r = recv(fds[k], buf, sizeof buf, 0);
                if (r <= 0 || write_all(fds[1 - k], buf, (size_t)r)) {
                    done = 1;
                    break;
                }
                if (k == 0 && first && got < want) {
                    size_t take = (size_t)r < want - got ? (size_t)r : want - got;
                    memcpy(rec + got, buf, take);
                    got += take;
                    if (got == want) {
                        FILE *f = fopen(out, "wb");
                        if (!f || fwrite(rec, 1, got, f) != got) die("capture: cannot write");
                        fclose(f);
                    }
                }
            }
            if (done) break;
        }
        first = 0;
        close(c);
        close(s);
    }
    if (got && got < want) { /* the connection ended early: keep what there was */
        FILE *f = fopen(out, "wb");
        if (f) {
            fwrite(rec, 1, got, f);
            fclose(f);
        }
    }
    close(ls);
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: see the comment at the top of attacker.c");
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) die("sodium_init");
    const char *mode = argv[1], *capfile = NULL, *then = NULL, *out = NULL, *pubhex = NULL;
    int port = 0, lport = 0, n = 50, count = 1, claim = 0, target = 1;
    double secs = 5;
    uint32_t seed = 1;
    size_t bytes = 4096;
    sf_noise_cipher cipher = SF_NOISE_CHACHAPOLY;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--to")) port = atoi(v);
        else if (!strcmp(k, "--listen")) lport = atoi(v);
        else if (!strcmp(k, "--conns")) n = atoi(v);
        else if (!strcmp(k, "--count")) count = atoi(v);
        else if (!strcmp(k, "--secs")) secs = atof(v);
        else if (!strcmp(k, "--seed")) seed = (uint32_t)atoi(v);
        else if (!strcmp(k, "--claim")) claim = atoi(v);
        else if (!strcmp(k, "--target")) target = atoi(v);
        else if (!strcmp(k, "--key-of")) pubhex = v;
        else if (!strcmp(k, "--cipher")) cipher = !strcmp(v, "aesgcm") ? SF_NOISE_AESGCM : SF_NOISE_CHACHAPOLY;
        else if (!strcmp(k, "--capture")) capfile = v;
        else if (!strcmp(k, "--then")) then = v;
        else if (!strcmp(k, "--out")) out = v;
        else if (!strcmp(k, "--bytes")) bytes = (size_t)atol(v);
        else die("unknown option");
    }
    if (!port) die("--to PORT is required");
    if (!strcmp(mode, "idle")) hold_many(port, n, secs, 0, seed);
    else if (!strcmp(mode, "garbage")) hold_many(port, n, secs, 1, seed);
    else if (!strcmp(mode, "unknown")) {
        uint8_t pub[32];
        if (!pubhex || unhex(pubhex, pub)) die("--key-of <64 hex> is required");
        unknown(port, count, claim, target, pub, cipher);
    } else if (!strcmp(mode, "replay")) {
        if (!capfile) die("--capture FILE is required");
        replay(port, capfile, count, then, secs);
    } else if (!strcmp(mode, "capture")) {
        if (!lport || !out) die("--listen and --out are required");
        capture(lport, port, out, bytes, secs);
    } else {
        die("unknown mode");
    }
    printf("attacker %s: connections=%lu answered=%lu closed_by_party=%lu refused=%lu\n", mode, conns,
           answered, closed_by_party, refused);
    return 0;
}
