/*
 * bench_transfer: moving an object between two parties (simulation mode, MPI) vs a raw
 * MPI_Send/MPI_Recv ping-pong in the same job.
 *
 *   mpirun -np 2 bench_transfer --sf-mode=sim [--reps=R] [--time=S] [--min-bytes=N] [--max-bytes=N]
 *
 * Per size (8 B .. 64 MiB), REPS repetitions, each running the four methods back to back
 * (same iteration count, time-bounded: about --time seconds of raw ping-pong):
 *   raw       MPI_Send/MPI_Recv ping-pong on a communicator this program dup'd from
 *             MPI_COMM_WORLD (inside the program callback: sf_run initialised MPI);
 *   raw-i     the same with MPI_Isend+MPI_Wait for the send (the runtime sends with
 *             MPI_Isend); on this machine's Open MPI it is often faster than MPI_Send for
 *             64 KiB..1 MiB. The faster of the two raw medians is the baseline;
 *   sf_to     b = sf_to(a, bob); c = SF_REMOTE(bob, fwd, b); d = sf_to(c, alice);
 *             a' = SF_REMOTE(alice, fwd, d); release a, b, c, d.
 *             `fwd` returns its argument's value (a new reference, no copy): it gives a
 *             fresh object owned by the party that now holds the data. It is needed
 *             because sf_to copies the holder set: after b = sf_to(a, bob) both parties
 *             hold b, so sf_to(b, alice) would move nothing;
 *   call-arg  b = SF_REMOTE(bob, fwd, a); a' = SF_REMOTE(alice, fwd, b); release a, b
 *             (the implicit move of an object argument: one transfer per call).
 * Reported: one-way latency = round trip / 2 (median over reps), bandwidth = size /
 * one-way time, the bandwidth ratio sf/raw and the added one-way latency (medians of the
 * per-repetition pairs).
 *   own-data  each side sends data of its own that does not change (as the OSU-style raw
 *             loop does), receiving into fresh values: a' = fwd(a) on alice, c = keep(a', z)
 *             on bob, e = fwd(c) on alice; compared with the OSU-style baseline;
 *   raw-fresh every message arrives in a fresh malloc'd buffer which is then sent on (and
 *             freed), as a program forwards what it received and as the runtime does;
 *             the sf methods are reported against it too.
 * Goals: >= 0.95x raw bandwidth at >= 64 KiB; <= 1 us added latency at 8 B.
 * A measurement, not a test: exits 0 unless the runtime itself fails.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/sf.h"

#include "bench_util.h"

#define MAX_REPS 51
#define NSIZES 7
#define TAG 7

static const long sizes[NSIZES] = {8, 64, 1024, 64L << 10, 1L << 20, 16L << 20, 64L << 20};
static const char *const size_names[NSIZES] = {"8 B",   "64 B",   "1 KiB", "64 KiB",
                                               "1 MiB", "16 MiB", "64 MiB"};
static int g_reps = 9;
static double g_time = 0.1;  /* seconds of raw ping-pong per repetition and size */
static long g_max_bytes = 64L << 20, g_min_bytes = 0;

/* A U8 vector of n bytes with a known pattern. */
static int make(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_U8, 1, (int64_t[]){n});
    if (!v) return sf_fail(t, "out of memory for %lld bytes", (long long)n);
    uint8_t *p = sf_value_data(v);
    for (int64_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + 1);
    return sf_return(t, 0, v);
}

/* Forward the argument's value as a new object (a reference: values are immutable, and
 * the benchmark measures moving data, not copying it). */
static int fwd(sf_task *t) { return sf_return(t, 0, sf_value_ref((sf_value *)sf_arg(t, 0))); }

static void raw_send(char *buf, long n, int dst, MPI_Comm comm, int isend) {
    if (isend) {
        MPI_Request r;
        MPI_Isend(buf, (int)n, MPI_BYTE, dst, TAG, comm, &r);
        MPI_Wait(&r, MPI_STATUS_IGNORE);
    } else {
        MPI_Send(buf, (int)n, MPI_BYTE, dst, TAG, comm);
    }
}

/* isend = 0: MPI_Send; 1: MPI_Isend + MPI_Wait (what the runtime's transport uses).
 * Separate send and receive buffers, as in the OSU latency test: with one buffer for both,
 * Open MPI's single-copy path is 3-4x slower at 1 MiB on this machine. */
static double raw_pingpong(MPI_Comm comm, int me, char *sbuf, char *rbuf, long n, long iters,
                           int isend) {
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    for (long i = 0; i < iters; i++) {
        if (me == 0) {
            raw_send(sbuf, n, 1, comm, isend);
            MPI_Recv(rbuf, (int)n, MPI_BYTE, 1, TAG, comm, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(rbuf, (int)n, MPI_BYTE, 0, TAG, comm, MPI_STATUS_IGNORE);
            raw_send(sbuf, n, 0, comm, isend);
        }
    }
    return MPI_Wtime() - t0;
}

/* The program-like baseline: every message arrives in a fresh buffer (malloc), which is
 * then sent back as it is and freed, as a program forwards what it received (and as the
 * runtime does: a received value gets its own buffer, and a value sent on is the buffer
 * it arrived in). Alice starts from sbuf. */
static double raw_fresh_pingpong(MPI_Comm comm, int me, char *sbuf, long n, long iters) {
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    char *cur = NULL; /* alice's last received buffer, sent on next */
    for (long i = 0; i < iters; i++) {
        char *in = malloc((size_t)n);
        if (!in) abort();
        if (me == 0) {
            MPI_Send(cur ? cur : sbuf, (int)n, MPI_BYTE, 1, TAG, comm);
            MPI_Recv(in, (int)n, MPI_BYTE, 1, TAG, comm, MPI_STATUS_IGNORE);
            free(cur);
            cur = in;
        } else {
            MPI_Recv(in, (int)n, MPI_BYTE, 0, TAG, comm, MPI_STATUS_IGNORE);
            MPI_Send(in, (int)n, MPI_BYTE, 0, TAG, comm);
            free(in);
        }
    }
    free(cur);
    return MPI_Wtime() - t0;
}

/* The OSU-shaped runtime ping-pong: each side sends data of its own that does not change
 * (alice's a, bob's z), so every send reads a buffer no one has just written, as the
 * OSU-style raw loop does; each side receives into a fresh value (the runtime's buffer
 * cache). Per round trip: a' = fwd(a) on alice (a new object sharing a's value), then
 * c = keep(a', z) on bob (a' moves to bob; c shares z's value), then e = fwd(c) on alice
 * (c moves to alice). */
static int keep(sf_task *t) { return sf_return(t, 0, sf_value_ref((sf_value *)sf_arg(t, 1))); }

static double sf_const_pingpong(sf_ctx *sf, MPI_Comm comm, sf_device alice, sf_device bob, sf_obj a,
                                sf_obj z, long iters) {
    (void)sf;
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    for (long i = 0; i < iters; i++) {
        sf_obj a2 = SF_REMOTE(alice, fwd, SF_OBJ(a));
        sf_obj c = SF_REMOTE(bob, keep, SF_OBJ(a2), SF_OBJ(z));
        sf_obj e = SF_REMOTE(alice, fwd, SF_OBJ(c));
        sf_release(a2);
        sf_release(c);
        sf_release(e);
    }
    return MPI_Wtime() - t0;
}

/* Ping-pong the object *a through the runtime; *a is replaced by the returned object. */
static double sf_pingpong(sf_ctx *sf, MPI_Comm comm, sf_device alice, sf_device bob, sf_obj *a,
                          long iters, int use_to) {
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    for (long i = 0; i < iters; i++) {
        if (use_to) {
            sf_obj b = sf_to(*a, bob);
            sf_obj c = SF_REMOTE(bob, fwd, SF_OBJ(b));
            sf_obj d = sf_to(c, alice);
            sf_obj e = SF_REMOTE(alice, fwd, SF_OBJ(d));
            sf_release(*a);
            sf_release(b);
            sf_release(c);
            sf_release(d);
            *a = e;
        } else {
            sf_obj b = SF_REMOTE(bob, fwd, SF_OBJ(*a));
            sf_obj e = SF_REMOTE(alice, fwd, SF_OBJ(b));
            sf_release(*a);
            sf_release(b);
            *a = e;
        }
    }
    return MPI_Wtime() - t0; /* on alice: the last call received the data */
}

typedef struct result {
    double raw[MAX_REPS], rawi[MAX_REPS], rawf[MAX_REPS], to[MAX_REPS], arg[MAX_REPS], cst[MAX_REPS];
    long iters;
    int ok;
} result;

static int program(sf_ctx *sf, void *varg) {
    result *res = varg;
    if (sf_nparties(sf) != 2) {
        sf_print(sf, "bench_transfer needs exactly 2 parties\n");
        return SF_EUSAGE;
    }
    sf_device alice = sf_pyu(sf, sf_party_name_of(sf, 0));
    sf_device bob = sf_pyu(sf, sf_party_name_of(sf, 1));
    int me = sf_party_index(sf);
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    char *sbuf = malloc((size_t)g_max_bytes), *rbuf = malloc((size_t)g_max_bytes);
    if (!sbuf || !rbuf) return SF_ENOMEM;
    memset(sbuf, 1, (size_t)g_max_bytes);
    memset(rbuf, 2, (size_t)g_max_bytes);

    for (int k = 0; k < NSIZES; k++) {
        long n = sizes[k];
        if (n > g_max_bytes) break;
        if (n < g_min_bytes) continue;
        result *r = &res[k];
        /* calibrate on raw: iterations for about g_time seconds (rank 0 decides) */
        long iters = 1;
        for (;;) {
            double t = raw_pingpong(comm, me, sbuf, rbuf, n, iters, 0);
            MPI_Bcast(&t, 1, MPI_DOUBLE, 0, comm);
            if (t >= 0.02 || iters >= (1L << 24)) {
                double want = g_time * (double)iters / (t > 0 ? t : 1e-9);
                iters = want < 5 ? 5 : (long)want;
                break;
            }
            iters *= 4;
        }
        r->iters = iters;

        sf_obj a = SF_REMOTE(alice, make, SF_I64(n));
        sf_obj a0 = SF_REMOTE(alice, make, SF_I64(n)), z0 = SF_REMOTE(bob, make, SF_I64(n));
        /* warm up the runtime paths and the value cache */
        sf_pingpong(sf, comm, alice, bob, &a, 3, 1);
        sf_pingpong(sf, comm, alice, bob, &a, 3, 0);
        sf_const_pingpong(sf, comm, alice, bob, a0, z0, 3);
        for (int rep = 0; rep < g_reps; rep++) {
            double traw = 0, trawi = 0, trawf = 0, tto = 0, targ = 0, tcst = 0;
            for (int m = 0; m < 6; m++) /* rotate the order: no method always goes first */
                switch ((m + rep) % 6) {
                case 5: tcst = sf_const_pingpong(sf, comm, alice, bob, a0, z0, iters); break;
                case 0: traw = raw_pingpong(comm, me, sbuf, rbuf, n, iters, 0); break;
                case 1: trawi = raw_pingpong(comm, me, sbuf, rbuf, n, iters, 1); break;
                case 2: trawf = raw_fresh_pingpong(comm, me, sbuf, n, iters); break;
                case 3: tto = sf_pingpong(sf, comm, alice, bob, &a, iters, 1); break;
                default: targ = sf_pingpong(sf, comm, alice, bob, &a, iters, 0); break;
                }
            r->raw[rep] = traw / (double)iters / 2;
            r->rawi[rep] = trawi / (double)iters / 2;
            r->rawf[rep] = trawf / (double)iters / 2;
            r->cst[rep] = tcst / (double)iters / 2;
            r->to[rep] = tto / (double)iters / 2;
            r->arg[rep] = targ / (double)iters / 2;
        }
        /* the data survived the trips */
        sf_value *v;
        SF_TRY(sf_get(sf, a, &v));
        const uint8_t *p = sf_value_cdata(v);
        r->ok = (long)sf_value_nbytes(v) == n && p[0] == 1 && p[n - 1] == (uint8_t)((n - 1) * 7 + 1);
        sf_release(a);
        sf_release(a0);
        sf_release(z0);
    }
    MPI_Comm_free(&comm);
    free(sbuf);
    free(rbuf);
    return 0;
}

/* base[]/sfv[]: per-repetition one-way times of the baseline and of an sf method. The
 * latency and bandwidth columns are medians; ratio and added latency are medians of the
 * per-repetition pairs (measured seconds apart, so slow drifts of this noisy machine
 * cancel). */
static void report(const char *what, long n, const char *sname, const double *base,
                   const char *base_name, const double *sfv, int reps, long iters, int ok) {
    double ratios[MAX_REPS], adds[MAX_REPS];
    for (int i = 0; i < reps; i++) {
        ratios[i] = base[i] / sfv[i];
        adds[i] = (sfv[i] - base[i]) * 1e6;
    }
    double raw = bench_median(base, reps), sf = bench_median(sfv, reps);
    double ratio = bench_median(ratios, reps), added = bench_median(adds, reps);
    char goal[96] = "";
    if (n >= (64L << 10))
        snprintf(goal, sizeof goal, " (goal >= 0.95x bandwidth: %s)",
                 ratio >= 0.95 ? "met" : "NOT met");
    else if (n == 8)
        snprintf(goal, sizeof goal, " (goal <= 1 us added: %s)", added <= 1.0 ? "met" : "NOT met");
    printf("transfer sim %s %s vs %s: raw %.2f us %.1f MB/s, sf %.2f us %.1f MB/s, ratio %.3fx, "
           "added %.2f us%s [median of %d, %ld round trips each]%s\n",
           sname, what, base_name, raw * 1e6, (double)n / raw / 1e6, sf * 1e6, (double)n / sf / 1e6, ratio,
           added, goal, reps, iters, ok ? "" : " DATA MISMATCH");
    bench_cfg cfg = {0};
    bench_cfg_str(&cfg, "mode", "sim");
    bench_cfg_str(&cfg, "method", what);
    bench_cfg_num(&cfg, "bytes", (double)n);
    bench_cfg_num(&cfg, "parties", 2);
    bench_cfg_num(&cfg, "reps", reps);
    bench_cfg_num(&cfg, "round_trips", (double)iters);
    bench_cfg_num(&cfg, "ok", ok);
    bench_cfg_str(&cfg, "baseline", base_name);
    char bname[64];
    snprintf(bname, sizeof bname, "raw MPI (%s)", base_name);
    bench_json("transfer.latency", &cfg, sf * 1e6, "us", raw * 1e6, bname);
    bench_json("transfer.bandwidth", &cfg, (double)n / sf / 1e6, "MB/s", (double)n / raw / 1e6,
               bname);
}

int main(int argc, char **argv) {
    /* own options; --sf-* options go to sf_run */
    if (bench_json_args(&argc, argv) != 0) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--reps=", 7)) g_reps = atoi(argv[i] + 7);
        else if (!strncmp(argv[i], "--time=", 7)) g_time = atof(argv[i] + 7);
        else if (!strncmp(argv[i], "--max-bytes=", 12)) g_max_bytes = atol(argv[i] + 12);
        else if (!strncmp(argv[i], "--min-bytes=", 12)) g_min_bytes = atol(argv[i] + 12);
        else if (strncmp(argv[i], "--sf-", 5)) {
            fprintf(stderr, "usage: mpirun -np 2 %s --sf-mode=sim [--reps=R] [--time=S] "
                            "[--min-bytes=N] [--max-bytes=N] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (g_reps < 1) g_reps = 1;
    if (g_reps > MAX_REPS) g_reps = MAX_REPS;
    if (g_max_bytes < 8) g_max_bytes = 8;
    static const char *const names[] = {"alice", "bob"};
    static result res[NSIZES];
    sf_set_distribution_mode(SF_MODE_SIMULATION);
    sf_config cfg = {.argc = argc, .argv = argv, .parties = names, .nparties = 2, .quiet = 1};
    int rc = sf_run(&cfg, program, res);
    if (rc != 0) return rc;
    /* sf_run has finalised MPI; rank 0 (alice) prints: it holds the timings */
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (!r) r = getenv("PMI_RANK");
    if (r && atoi(r) != 0) return 0;
    printf("# bench_transfer: one-way = round trip / 2; sf_to and call-arg vs raw MPI, same job\n");
    for (int k = 0; k < NSIZES && sizes[k] <= g_max_bytes; k++) {
        result *x = &res[k];
        if (sizes[k] < g_min_bytes) continue;
        double rs = bench_median(x->raw, g_reps), ri = bench_median(x->rawi, g_reps);
        /* the baseline: the faster raw variant */
        printf("transfer sim %s raw baselines: MPI_Send %.2f us %.1f MB/s, MPI_Isend+Wait %.2f us "
               "%.1f MB/s; baseline = %s [median of %d]\n",
               size_names[k], rs * 1e6, (double)sizes[k] / rs / 1e6, ri * 1e6,
               (double)sizes[k] / ri / 1e6, rs < ri ? "MPI_Send" : "MPI_Isend+Wait", g_reps);
        const double *base = rs < ri ? x->raw : x->rawi;
        const char *bn = rs < ri ? "MPI_Send" : "MPI_Isend+Wait";
        report("sf_to", sizes[k], size_names[k], base, bn, x->to, g_reps, x->iters, x->ok);
        report("call-arg", sizes[k], size_names[k], base, bn, x->arg, g_reps, x->iters, x->ok);
        report("own-data", sizes[k], size_names[k], base, bn, x->cst, g_reps, x->iters, x->ok);
        /* the program-like baseline: fresh receive buffers, forwarded */
        double rf = bench_median(x->rawf, g_reps);
        printf("transfer sim %s raw fresh-buffer baseline (malloc, MPI_Recv, MPI_Send of it, "
               "free): %.2f us %.1f MB/s [median of %d]\n",
               size_names[k], rf * 1e6, (double)sizes[k] / rf / 1e6, g_reps);
        report("sf_to", sizes[k], size_names[k], x->rawf, "fresh buffers", x->to, g_reps, x->iters, x->ok);
        report("call-arg", sizes[k], size_names[k], x->rawf, "fresh buffers", x->arg, g_reps, x->iters, x->ok);
    }
    fflush(stdout);
    return 0;
}
