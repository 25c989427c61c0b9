/*
 * bench_accept: the handshake through a REAL party's accept path. This process holds a
 * party's key (normally alice's, party 0) and the cluster file, and dials a real party
 * process (normally bob, started with a long connect_timeout so that it sits waiting for
 * the others) N times, timing each handshake from the dialer's first step (handshake
 * state and message 1 made, socket, connect) to message 2 received and the keys split
 * (the bridge's BR_OPEN). Each connection is closed at once, before any transport frame:
 * the party never gets a confirmed connection from us, so it stays in its start-up wait
 * and every handshake goes through the same accept path.
 *
 *   bench_accept --cluster=FILE --key=FILE [--to=bob] [--n=200] [--warmup=20]
 *                [--client=conn|raw] [--proto=2] [--job-id=ID] [--label=TEXT] [--wait=30]
 *
 *   --client=conn  (default) the bridge's own dialer: sf__br_conn_dial / sf__br_conn_step
 *                  / sf__br_conn_events (mpi/prod/conn.h) with a br_hs_cfg built as
 *                  mpi/prod/bridge.c builds it, driven by poll. Speaks this build's
 *                  protocol (version 2).
 *   --client=raw   a blocking dialer written here with the Noise functions (noise.h):
 *                  the same hello, prologue and messages, with the protocol version of
 *                  --proto (1: the parent build 1302803, whose bridge is
 *                  mpi/transport_bridge.c; 2: this build). The same client binary can so
 *                  time the parent's accept path and this one's (bench/compare_parent.sh).
 *
 * The party must be listening (a refused connect is retried every 20 ms for --wait
 * seconds before the first handshake). --warmup handshakes are made first and not timed.
 * A handshake that fails (refused, BUSY, closed, 5 s without an answer) is counted and
 * retried; it is not in the figures.
 *
 * Output, one line:
 *   accept LABEL: handshake median M us, p90 P us (min A, max B) over N handshakes; F failed
 * A measurement, not a test: exits 0 unless no handshake at all succeeds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpi/prod/cluster.h"
#include "mpi/prod/conn.h"
#include "mpi/prod/frame.h"
#include "mpi/prod/noise.h"

#include "bench_util.h"

#define HS_TIMEOUT 5.0
#define KK_MSG 48

static const char *g_cluster, *g_key, *g_to = "bob", *g_job, *g_label, *g_client = "conn";
static int g_n = 200, g_warmup = 20, g_proto = BR_PROTO_VERSION;
static double g_wait = 30;

typedef struct {
    br_hs_cfg cfg;
    int peer;
    struct sockaddr_storage sa;
    socklen_t salen;
    sf_noise_hs *hs; /* secure memory */
    sf_noise_cs *tx, *rx;
} ctx;

enum { OK = 0, FAIL = 1, GONE = 2 };

/* One handshake with the bridge's dialer (conn.c). */
static int hs_conn(ctx *x, double *secs, char *why, size_t wl) {
    br_conn c;
    memset(&c, 0, sizeof c);
    c.hs = x->hs, c.tx = x->tx, c.rx = x->rx;
    double t0 = bench_now_s();
    if (!sf__br_conn_dial(&c, BR_DIAL, &x->cfg, x->peer, &x->sa, x->salen, t0, HS_TIMEOUT)) {
        for (;;) {
            struct pollfd pf = {.fd = c.fd, .events = sf__br_conn_events(&c)};
            int r = poll(&pf, 1, 10);
            if (r < 0 && errno != EINTR) break;
            if (sf__br_conn_step(&c, &x->cfg, r > 0 ? pf.revents : 0, bench_now_s())) break;
        }
    }
    double t1 = bench_now_s();
    int out = c.outcome;
    snprintf(why, wl, "%s", c.why);
    sf__br_conn_close(&c, 0);
    *secs = t1 - t0;
    return out == BR_OPEN ? OK : out == BR_GONE ? GONE : FAIL;
}

/* The prologue of both builds: "sfmpi-bridge/<version>", the cluster file's SHA-256, the
 * job id, both party indices (big-endian u16) and the protocol name. */
static size_t prologue(const br_hs_cfg *cfg, int version, int dialer, int target, uint8_t *out) {
    size_t n = (size_t)snprintf((char *)out, 64, "sfmpi-bridge/%d", version) + 1;
    memcpy(out + n, cfg->cluster_hash, 32);
    n += 32;
    size_t jl = strlen(cfg->job_id);
    memcpy(out + n, cfg->job_id, jl + 1);
    n += jl + 1;
    out[n++] = (uint8_t)(dialer >> 8), out[n++] = (uint8_t)dialer;
    out[n++] = (uint8_t)(target >> 8), out[n++] = (uint8_t)target;
    const char *cn = sf__noise_protocol_name(cfg->cipher);
    memcpy(out + n, cn, strlen(cn) + 1);
    return n + strlen(cn) + 1;
}

/* One handshake with a blocking dialer of protocol version g_proto. */
static int hs_raw(ctx *x, double *secs, char *why, size_t wl) {
    const br_hs_cfg *cfg = &x->cfg;
    uint8_t pro[512], buf[BR_HELLO + 64], ans[2 + 64], hh[SF_NOISE_HASH];
    size_t pl, ml;
    int rc = FAIL, fd = -1;
    why[0] = 0;
    double t0 = bench_now_s();
    pl = prologue(cfg, g_proto, cfg->self, x->peer, pro);
    if (sf__noise_init(x->hs, cfg->cipher, 1, pro, pl, cfg->key_priv, cfg->parties[x->peer].public_key, NULL) ||
        sf__noise_write(x->hs, NULL, 0, buf + BR_HELLO, sizeof buf - BR_HELLO, &ml) || ml != KK_MSG) {
        snprintf(why, wl, "cannot prepare the handshake");
        goto out;
    }
    memcpy(buf, "SFMPI", 5);
    buf[5] = (uint8_t)g_proto;
    buf[6] = (uint8_t)(cfg->self >> 8), buf[7] = (uint8_t)cfg->self;
    buf[8] = (uint8_t)(x->peer >> 8), buf[9] = (uint8_t)x->peer;
    buf[10] = (uint8_t)ml;
    fd = socket(x->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {(time_t)HS_TIMEOUT, 0};
    if (fd < 0) goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&x->sa, x->salen)) {
        rc = errno == ECONNREFUSED ? GONE : FAIL;
        snprintf(why, wl, "connect: %s", strerror(errno));
        goto out;
    }
    if (bench_io_full(fd, buf, BR_HELLO + ml, 1) || bench_io_full(fd, ans, 2, 0)) {
        snprintf(why, wl, "closed or timed out before message 2");
        goto out;
    }
    unsigned len = ((unsigned)ans[0] << 8) | ans[1];
    if (len != KK_MSG) {
        snprintf(why, wl, len == 0xFFFF ? "refused (0xFFFF answer)" : "a malformed answer");
        goto out;
    }
    if (bench_io_full(fd, ans + 2, KK_MSG, 0)) {
        snprintf(why, wl, "closed or timed out in message 2");
        goto out;
    }
    if (sf__noise_read(x->hs, ans + 2, KK_MSG, NULL, 0, &ml) || sf__noise_split(x->hs, x->tx, x->rx, hh)) {
        snprintf(why, wl, "message 2 does not authenticate (protocol version, keys, cluster file or job)");
        goto out;
    }
    rc = OK;
out:
    *secs = bench_now_s() - t0;
    if (fd >= 0) close(fd);
    sf__noise_wipe(x->hs);
    sf__noise_cs_wipe(x->tx);
    sf__noise_cs_wipe(x->rx);
    return rc;
}

static void usage(const char *me) {
    fprintf(stderr, "usage: %s --cluster=FILE --key=FILE [--to=bob] [--n=200] [--warmup=20] "
                    "[--client=conn|raw] [--proto=2] [--job-id=ID] [--label=TEXT] [--wait=30] [--json FILE]\n", me);
    exit(2);
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--cluster=", 10)) g_cluster = a + 10;
        else if (!strncmp(a, "--key=", 6)) g_key = a + 6;
        else if (!strncmp(a, "--to=", 5)) g_to = a + 5;
        else if (!strncmp(a, "--n=", 4)) g_n = atoi(a + 4);
        else if (!strncmp(a, "--warmup=", 9)) g_warmup = atoi(a + 9);
        else if (!strncmp(a, "--client=", 9)) g_client = a + 9;
        else if (!strncmp(a, "--proto=", 8)) g_proto = atoi(a + 8);
        else if (!strncmp(a, "--job-id=", 9)) g_job = a + 9;
        else if (!strncmp(a, "--label=", 8)) g_label = a + 8;
        else if (!strncmp(a, "--wait=", 7)) g_wait = atof(a + 7);
        else usage(argv[0]);
    }
    int raw = !strcmp(g_client, "raw");
    if (!g_cluster || !g_key || g_n < 1 || g_warmup < 0 || (!raw && strcmp(g_client, "conn")) ||
        (raw && (g_proto < 1 || g_proto > 255)) || (!raw && g_proto != BR_PROTO_VERSION))
        usage(argv[0]);
    if (sodium_init() < 0) return 1;
    char err[512];
    static sf_cluster cl;
    sf_party_key *key = sodium_malloc(sizeof *key);
    ctx x;
    memset(&x, 0, sizeof x);
    x.hs = sodium_malloc(sizeof *x.hs);
    x.tx = sodium_malloc(sizeof *x.tx);
    x.rx = sodium_malloc(sizeof *x.rx);
    if (!key || !x.hs || !x.tx || !x.rx) return 1;
    if (sf__cluster_load(&cl, g_cluster, err, sizeof err) || sf__party_key_load(key, g_key, err, sizeof err)) {
        fprintf(stderr, "bench_accept: %s\n", err);
        return 1;
    }
    int self = sf__cluster_find(&cl, key->party);
    x.peer = sf__cluster_find(&cl, g_to);
    if (self < 0 || x.peer < 0 || self == x.peer ||
        sf__party_key_check(key, &cl, self, g_key, err, sizeof err)) {
        fprintf(stderr, "bench_accept: %s\n", self < 0 || x.peer < 0 || self == x.peer
                                                  ? "the key's party and --to must be two parties of the cluster"
                                                  : err);
        return 1;
    }
    if (self > x.peer) {
        fprintf(stderr, "bench_accept: the lower party index dials: use the key of a party listed "
                        "before %s\n", g_to);
        return 1;
    }
    /* the handshake configuration, as mpi/prod/bridge.c builds it */
    x.cfg.self = self;
    x.cfg.n = cl.nparties;
    x.cfg.parties = cl.parties;
    x.cfg.key_priv = key->secret_key;
    x.cfg.cipher = cl.cipher;
    x.cfg.resume_len = SF_FRAME_HDR + SF_NOISE_TAG;
    memcpy(x.cfg.cluster_hash, cl.file_hash, 32);
    snprintf(x.cfg.job_id, sizeof x.cfg.job_id, "%s", g_job && *g_job ? g_job : cl.job_id);
    if (sf__br_resolve(cl.parties[x.peer].host, cl.parties[x.peer].port, &x.sa, &x.salen)) {
        fprintf(stderr, "bench_accept: cannot resolve %s:%d\n", cl.parties[x.peer].host, cl.parties[x.peer].port);
        return 1;
    }
    int (*one)(ctx *, double *, char *, size_t) = raw ? hs_raw : hs_conn;
    char why[256] = "", last_why[256] = "";
    double dt, give_up = bench_now_s() + g_wait;
    /* wait for the party to listen */
    int rc;
    while ((rc = one(&x, &dt, why, sizeof why)) == GONE && bench_now_s() < give_up) usleep(20000);
    if (rc == GONE) {
        fprintf(stderr, "bench_accept: %s at %s:%d does not accept connections (%s)\n", g_to,
                cl.parties[x.peer].host, cl.parties[x.peer].port, why);
        return 1;
    }
    double *t = calloc((size_t)g_n, sizeof *t);
    int got = 0, failed = rc != OK, tries = 1;
    if (failed) snprintf(last_why, sizeof last_why, "%s", why);
    for (int w = 1; w < g_warmup; w++, tries++)
        if (one(&x, &dt, why, sizeof why) != OK) failed++, snprintf(last_why, sizeof last_why, "%s", why);
    /* at most 10 x n attempts in all: a party that refuses everything ends the run */
    while (got < g_n && tries < 10 * (g_n + g_warmup)) {
        tries++;
        if (one(&x, &dt, why, sizeof why) == OK) t[got++] = dt;
        else failed++, snprintf(last_why, sizeof last_why, "%s", why);
    }
    char label[300];
    snprintf(label, sizeof label, "%s", g_label ? g_label
                                     : raw ? "raw" : "conn");
    if (!got) {
        printf("accept %s: no handshake succeeded in %d attempts (last: %s)\n", label, tries, last_why);
        return 1;
    }
    qsort(t, (size_t)got, sizeof *t, bench_cmp_double);
    printf("accept %s: handshake median %.1f us, p90 %.1f us (min %.1f, max %.1f) over %d handshakes "
           "(%s client, protocol %d, to %s); %d failed%s%s\n",
           label, bench_median(t, got) * 1e6, t[(size_t)(0.9 * (got - 1))] * 1e6, t[0] * 1e6,
           t[got - 1] * 1e6, got, raw ? "raw" : "bridge (conn.c)", g_proto, g_to, failed,
           failed ? ", last: " : "", failed ? last_why : "");
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "client", raw ? "raw" : "conn");
    bench_cfg_num(&cfg, "protocol_version", g_proto);
    bench_cfg_str(&cfg, "label", label);
    bench_cfg_num(&cfg, "handshakes", got);
    bench_cfg_num(&cfg, "failed", failed);
    bench_json("accept.handshake", &cfg, bench_median(t, got) * 1e6, "us", NAN, NULL);
    free(t);
    sf__cluster_free(&cl);
    sodium_free(key);
    sodium_free(x.hs), sodium_free(x.tx), sodium_free(x.rx);
    return 0;
}
