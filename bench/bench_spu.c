/*
 * SPU protocol core benchmark (a measurement, not a test): 1M-element batches on the
 * threaded in-memory net of tests/spu/spu_harness.c (every party a thread of this process,
 * so the members and the dealer share the machine's cores).
 *
 *   mul_fxp    semi2k, 2 members + extra dealer, 1M products per call
 *   less       semi2k, 2 members + extra dealer, 1M comparisons per call
 *   matmul_fxp semi2k, 2 members + extra dealer, 1000 x 1000 x 1000
 *   and the same three on aby3 for comparison.
 *
 * Each measurement is the median of --runs (default 5) runs; a run is --calls (default 4)
 * back-to-back calls between two barriers of all parties (the dealer may run ahead of the
 * members within a run). Bytes per element are measured by the net and printed next to
 * the formula of spu_proto.h.
 *
 * Usage: bench_spu [--runs=R] [--calls=C] [--n=N] [--mm=D] [--only=fxp|less|mm] [--aby3=0]
 *                  [--prg=chacha20|aes]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/spu/core/spu_proto.h"
#include "tests/spu/spu_harness.h"

#include "bench_util.h"

typedef uint64_t u64;

static int RUNS = 5, CALLS = 4, MMD = 1000, DO_ABY3 = 1, PRG = SF_SPU_PRG_CHACHA20;
static size_t N = 1 << 20;
static const char *ONLY = NULL;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct job {
    sf_spu_protocol proto;
    int nm, np; /* members, parties */
    int op;     /* 0 mul_fxp, 1 less, 2 matmul_fxp */
    double t[64];
    double cpu[4]; /* per party: thread CPU seconds per call (median run) */
    u64 bytes[4];  /* per party, over one call */
    u64 rounds;
    int fail;
} job;

static int party_main(spuh *w, int party, void *arg)
{
    job *j = arg;
    sf_spu_params prm;
    memset(&prm, 0, sizeof prm);
    prm.protocol = j->proto;
    prm.fxp_bits = 18;
    prm.dealer = j->nm; /* semi2k: the extra party */
    prm.prg = PRG;
    for (int i = 0; i < 32; i++) prm.seed[i] = (uint8_t)(i * 7 + 1);
    sf_spu_proto *p = NULL;
    if (sf_spu_proto_create(&prm, spuh_net(w, party), &p)) return j->fail = 1;
    size_t na, nb;
    if (j->op == 2)
        na = nb = (size_t)MMD * (size_t)MMD;
    else
        na = nb = N;
    u64 *pa = NULL, *pb = NULL;
    if (party == 0) {
        pa = malloc(na * 8);
        pb = malloc(nb * 8);
        if (!pa || !pb) return j->fail = 1;
        u64 s = 12345;
        for (size_t i = 0; i < na; i++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            pa[i] = (u64)((int64_t)(s >> 40) - (1 << 23)); /* fixed point in [-32, 32) */
        }
        for (size_t i = 0; i < nb; i++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            pb[i] = (u64)((int64_t)(s >> 40) - (1 << 23));
        }
    }
    sf_spu_share a = {0}, b = {0}, z = {0};
    int rc = sf_spu_proto_share_from(p, 0, pa, na, &a);
    if (!rc) rc = sf_spu_proto_share_from(p, 0, pb, nb, &b);
    free(pa);
    free(pb);
    double cpus[64];
    for (int run = -1; run < RUNS && !rc; run++) { /* run -1: warm-up and accounting */
        sf_spu_net *net = spuh_net(w, party);
        u64 r0 = spuh_sync(w, party), b0 = net->bytes_sent;
        double t0 = bench_now_s(), c0 = cpu_now();
        int calls = run < 0 || j->op == 2 ? 1 : CALLS;
        for (int c = 0; c < calls && !rc; c++) {
            if (j->op == 0)
                rc = sf_spu_proto_mul_fxp(p, &a, &b, &z);
            else if (j->op == 1)
                rc = sf_spu_proto_less(p, &a, &b, &z);
            else
                rc = sf_spu_proto_matmul_fxp(p, &a, &b, (size_t)MMD, (size_t)MMD, (size_t)MMD, &z);
        }
        double c1 = cpu_now();
        u64 r1 = spuh_sync(w, party);
        double t1 = bench_now_s();
        if (run >= 0) cpus[run] = (c1 - c0) / calls;
        if (run < 0) {
            j->bytes[party] = net->bytes_sent - b0;
            if (party == 0) j->rounds = r1 - r0;
        } else if (party == 0) {
            j->t[run] = t1 - t0;
        }
    }
    j->cpu[party] = rc ? 0 : bench_median(cpus, RUNS);
    sf_spu_proto_share_free(&a);
    sf_spu_proto_share_free(&b);
    sf_spu_proto_share_free(&z);
    sf_spu_proto_destroy(p);
    if (rc) j->fail = 1;
    return rc;
}

static u64 wd(u64 n, unsigned b) { return (n * b + 63) / 64; }

static void run_job(sf_spu_protocol proto, int op)
{
    job j;
    memset(&j, 0, sizeof j);
    j.proto = proto;
    j.nm = proto == SF_SPU_ABY3 ? 3 : 2;
    j.np = 3; /* semi2k: 2 members + the extra dealer; aby3: 3 members */
    j.op = op;
    spuh *w = spuh_new(j.np, j.nm);
    if (!w || spuh_run(w, party_main, &j) || j.fail) {
        printf("%s op %d: FAILED\n", proto == SF_SPU_ABY3 ? "aby3" : "semi2k", op);
        spuh_free(w);
        return;
    }
    spuh_free(w);
    double med = bench_median(j.t, RUNS);
    const char *pn = proto == SF_SPU_ABY3 ? "aby3 (3 members)" : "semi2k (2 members + dealer)";
    u64 n = op == 2 ? (u64)MMD * (u64)MMD : (u64)N;
    /* formulas (spu_proto.h): per party, over one call */
    u64 f[3];
    if (op == 0) {
        if (proto == SF_SPU_SEMI2K)
            f[0] = f[1] = 24 * n, f[2] = 20 * n;
        else
            f[0] = f[1] = 16 * n, f[2] = 28 * n;
    } else if (op == 1) {
        u64 and = n + wd(n, 32) + wd(n, 16) + wd(n, 8) + wd(n, 4) + wd(n, 2);
        if (proto == SF_SPU_SEMI2K)
            f[0] = f[1] = 8 * (n + 2 * and + wd(n, 1)), f[2] = 8 * n + 8 * (and + n);
        else
            f[0] = f[1] = 8 * (2 * and + wd(n, 1)) + 8 * n, f[2] = 16 * n + 8 * (and + n);
    } else {
        u64 d = (u64)MMD;
        if (proto == SF_SPU_SEMI2K)
            f[0] = f[1] = 8 * (d * d + d * d + d * d), f[2] = 20 * d * d;
        else
            f[0] = f[1] = 16 * d * d, f[2] = 28 * d * d;
    }
    char cp[128];
    snprintf(cp, sizeof cp, "cpu ns/elt %.1f / %.1f / %.1f", j.cpu[0] / (double)n * 1e9,
             j.cpu[1] / (double)n * 1e9, j.cpu[2] / (double)n * 1e9);
    char bb[256];
    int k = 0;
    for (int i = 0; i < 3; i++)
        k += snprintf(bb + k, sizeof bb - (size_t)k, "%s%.3f%s", i ? " / " : "",
                      (double)j.bytes[i] / (double)n, j.bytes[i] == f[i] ? "" : " (!= formula)");
    const char *role = proto == SF_SPU_ABY3 ? "P0/P1/P2" : "m0/m1/dealer";
    if (op == 2) {
        printf("%-28s matmul_fxp %dx%dx%d: median %.3f s per call%s (%.2f G mul-add/s); "
               "bytes/output %s %s; rounds %llu; %s\n",
               pn, MMD, MMD, MMD, med, proto == SF_SPU_SEMI2K && MMD == 1000 ? " (goal <= 1.0 s)" : "", (double)MMD * MMD * MMD / med * 1e-9, role,
               bb, (unsigned long long)j.rounds, cp);
    } else {
        printf("%-28s %-10s %zu per call: median %.2f M/s%s (%.1f ms per call); bytes/elt %s %s; "
               "rounds %llu; %s\n",
               pn, op ? "less" : "mul_fxp", (size_t)n, (double)n * CALLS / med * 1e-6,
               proto == SF_SPU_ABY3 ? "" : op ? " (goal >= 2)" : " (goal >= 30)",
               med / CALLS * 1e3, role, bb, (unsigned long long)j.rounds, cp);
    }
    fflush(stdout);
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "protocol", proto == SF_SPU_ABY3 ? "aby3" : "semi2k");
    bench_cfg_str(&cfg, "prg", PRG == SF_SPU_PRG_AES128 ? "aes" : "chacha20");
    bench_cfg_str(&cfg, "net", "in-memory threads");
    if (op == 2) {
        bench_cfg_num(&cfg, "mm", MMD);
        bench_cfg_num(&cfg, "runs", RUNS);
        bench_json("spu_harness.matmul_fxp", &cfg, med, "s", NAN, NULL);
    } else {
        bench_cfg_num(&cfg, "n", (double)n);
        bench_cfg_num(&cfg, "calls", CALLS);
        bench_cfg_num(&cfg, "runs", RUNS);
        bench_json(op ? "spu_harness.less" : "spu_harness.mul_fxp", &cfg,
                   (double)n * CALLS / med * 1e-6, "M/s", NAN, NULL);
    }
}

int main(int argc, char **argv)
{
    if (bench_json_args(&argc, argv) != 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--runs=", 7)) RUNS = atoi(argv[i] + 7);
        else if (!strncmp(argv[i], "--calls=", 8)) CALLS = atoi(argv[i] + 8);
        else if (!strncmp(argv[i], "--n=", 4)) N = (size_t)atol(argv[i] + 4);
        else if (!strncmp(argv[i], "--mm=", 5)) MMD = atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "--only=", 7)) ONLY = argv[i] + 7;
        else if (!strncmp(argv[i], "--aby3=", 7)) DO_ABY3 = atoi(argv[i] + 7);
        else if (!strcmp(argv[i], "--prg=aes")) PRG = SF_SPU_PRG_AES128;
        else if (!strcmp(argv[i], "--prg=chacha20")) PRG = SF_SPU_PRG_CHACHA20;
        else {
            fprintf(stderr, "usage: %s [--runs=R] [--calls=C] [--n=N] [--mm=D] "
                            "[--only=fxp|less|mm] [--aby3=0|1] [--prg=chacha20|aes] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (RUNS < 1 || RUNS > 64 || CALLS < 1 || N < 1 || MMD < 1) return 2;
    if (PRG == SF_SPU_PRG_AES128 && !sf_spu_proto_aes_available()) {
        fprintf(stderr, "bench_spu: --prg=aes: this CPU has no AES instructions\n");
        return 2;
    }
    printf("bench_spu: in-memory threaded net, %s streams, median of %d runs of %d calls\n",
           PRG == SF_SPU_PRG_AES128 ? "AES-128-CTR" : "ChaCha20", RUNS, CALLS);
    for (int pr = 0; pr < (DO_ABY3 ? 2 : 1); pr++) {
        sf_spu_protocol proto = pr ? SF_SPU_ABY3 : SF_SPU_SEMI2K;
        if (!ONLY || !strcmp(ONLY, "fxp")) run_job(proto, 0);
        if (!ONLY || !strcmp(ONLY, "less")) run_job(proto, 1);
        if (!ONLY || !strcmp(ONLY, "mm")) run_job(proto, 2);
    }
    return 0;
}
