/*
 * bench_psi_floor: the compute floor of ECDH-PSI over ristretto255 on one core.
 *
 *   bench_psi_floor [--reps R] [--time S] [--json FILE]
 *
 * Per row, a party of a 2-party ECDH-PSI hashes its ID to the group once and multiplies
 * twice (its own point by its secret, the peer's point by its secret). One thread times
 * each op in a loop of about S seconds (default 0.3), R rounds (default 7):
 *   hash           SHA-512 of a domain tag and the ID (8 bytes, little-endian): one block
 *   map            crypto_core_ristretto255_from_hash of that 64-byte digest
 *   hash_to_group  both, per ID
 *   scalarmult     crypto_scalarmult_ristretto255 by a fixed random scalar (each result
 *                  is the next input, so no two inputs are the same)
 *   row            hash_to_group + 2 scalarmult per ID, timed as one loop (rows/s); its
 *                  baseline is the rate the parts predict, 1 / (t_h2g + 2 t_mult)
 * Each round times every op once, in turn; the rate is the median over the rounds.
 * JSON lines: name psi.floor, config op=..., libsodium=<version>; the row line also
 * carries SecretFlow's published ECDH-PSI rate per core (secretflow_rows_per_s_core).
 * A measurement, not a test: exits 0 unless an option is wrong or libsodium fails.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* SecretFlow PSI v2 benchmark, ECDH-PSI (Curve25519): 1e7 rows in 67 s, 1e8 in 697 s on 32
 * cores per party: about 4,700 rows per second per core. */
#define SECRETFLOW_ROWS_PER_S_CORE 4700.0

static const char DOMAIN[] = "sfmpi.psi.v1.id"; /* the tag is hashed before the ID */

static int g_reps = 7;
static double g_time = 0.3;
static unsigned char g_sink; /* folds every output in, so no loop is optimised away */

static void fold(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) g_sink ^= p[i];
}

static void hash_id(uint64_t id, unsigned char h[crypto_hash_sha512_BYTES]) {
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(id >> (8 * i));
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, (const unsigned char *)DOMAIN, sizeof DOMAIN - 1);
    crypto_hash_sha512_update(&st, le, sizeof le);
    crypto_hash_sha512_final(&st, h);
}

static unsigned char g_scalar[crypto_core_ristretto255_SCALARBYTES];
static unsigned char g_point[crypto_core_ristretto255_BYTES];

static void mult(unsigned char p[crypto_core_ristretto255_BYTES]) {
    if (crypto_scalarmult_ristretto255(p, g_scalar, p)) {
        fprintf(stderr, "bench_psi_floor: crypto_scalarmult_ristretto255 gave the identity\n");
        exit(1);
    }
}

enum op { OP_HASH, OP_MAP, OP_H2G, OP_MULT, OP_ROW, OP_N };
static const char *const OP_NAME[OP_N] = {"hash", "map", "hash_to_group", "scalarmult", "row"};

/* n operations of kind op; ids from *next */
static void run(enum op op, long n, uint64_t *next) {
    unsigned char h[crypto_hash_sha512_BYTES], p[crypto_core_ristretto255_BYTES];
    hash_id(*next, h);
    for (long i = 0; i < n; i++) {
        uint64_t id = (*next)++;
        switch (op) {
        case OP_HASH:
            hash_id(id, h);
            fold(h, 1);
            break;
        case OP_MAP: /* the digest changes each time without a hash: the previous point */
            crypto_core_ristretto255_from_hash(p, h);
            memcpy(h, p, sizeof p);
            h[32 + (i & 31)] ^= (unsigned char)i;
            break;
        case OP_H2G:
            hash_id(id, h);
            crypto_core_ristretto255_from_hash(p, h);
            fold(p, 1);
            break;
        case OP_MULT:
            mult(g_point);
            break;
        case OP_ROW:
            hash_id(id, h);
            crypto_core_ristretto255_from_hash(p, h);
            mult(p);      /* own point by own secret */
            mult(g_point); /* the peer's point by own secret */
            fold(p, 1);
            break;
        default:
            break;
        }
    }
    fold(h, 1);
    fold(g_point, 1);
}

/* how many ops of kind op take about g_time seconds */
static long calibrate(enum op op, uint64_t *next) {
    long n = 16;
    for (;;) {
        double t0 = bench_now_s();
        run(op, n, next);
        double dt = bench_now_s() - t0;
        if (dt >= 0.05 || n > (1L << 30)) return (long)((double)n * g_time / dt) + 1;
        n *= 4;
    }
}

/* The median rates (ops/s) over g_reps rounds; each round times every op once, in turn, so
 * a noisy moment of a shared machine falls on all of them alike. */
static void measure(double rate[OP_N]) {
    uint64_t next = 1;
    long n[OP_N];
    double r[OP_N][64];
    for (int op = 0; op < OP_N; op++) n[op] = calibrate((enum op)op, &next);
    for (int k = 0; k < g_reps; k++)
        for (int op = 0; op < OP_N; op++) {
            double t0 = bench_now_s();
            run((enum op)op, n[op], &next);
            r[op][k] = (double)n[op] / (bench_now_s() - t0);
        }
    for (int op = 0; op < OP_N; op++) rate[op] = bench_median(r[op], g_reps);
}

static void usage(const char *what, const char *v) {
    fprintf(stderr, "bench_psi_floor: %s%s%s\nusage: bench_psi_floor [--reps R (1..63)] [--time S] [--json FILE]\n",
            what, v ? " " : "", v ? v : "");
    exit(2);
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv)) return 2;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_psi_floor [--reps R (1..63)] [--time S] [--json FILE]\n"
                   "The per-row compute floor of 2-party ECDH-PSI over ristretto255 on one core.\n");
            return 0;
        }
        if (i + 1 >= argc) usage("option needs a value (or is unknown):", argv[i]);
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--reps")) {
            long r = strtol(v, &end, 10);
            if (end == v || *end || r < 1 || r > 63) usage("--reps: expected 1..63, got", v);
            g_reps = (int)r;
        } else if (!strcmp(argv[i - 1], "--time")) {
            g_time = strtod(v, &end);
            if (end == v || *end || !(g_time > 0 && g_time <= 60)) usage("--time: expected seconds in (0, 60], got", v);
        } else {
            usage("unknown option", argv[i - 1]);
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "bench_psi_floor: sodium_init failed\n");
        return 1;
    }
    crypto_core_ristretto255_scalar_random(g_scalar);
    unsigned char h[crypto_hash_sha512_BYTES];
    hash_id(0, h);
    crypto_core_ristretto255_from_hash(g_point, h);

    double rate[OP_N];
    measure(rate);
    double model = 1.0 / (1.0 / rate[OP_H2G] + 2.0 / rate[OP_MULT]);
    const char *ver = sodium_version_string();

    printf("psi floor, one core, libsodium %s (%s 1.0.18), median of %d x ~%.2f s:\n", ver,
           strcmp(ver, "1.0.18") ? "not" : "is", g_reps, g_time);
    for (int op = 0; op < OP_N; op++)
        printf("  %-14s %10.0f %s  %7.2f us each\n", OP_NAME[op], rate[op], op == OP_ROW ? "rows/s" : "ops/s ",
               1e6 / rate[op]);
    printf("  row predicted by the parts (h2g + 2 mult): %.0f rows/s; measured / predicted %.3f\n", model,
           rate[OP_ROW] / model);
    printf("  SecretFlow ECDH-PSI published: about %.0f rows/s per core; this floor is %.2fx that\n",
           SECRETFLOW_ROWS_PER_S_CORE, rate[OP_ROW] / SECRETFLOW_ROWS_PER_S_CORE);
    printf("  (sink %02x)\n", g_sink);

    for (int op = 0; op < OP_N; op++) {
        bench_cfg c = {0};
        bench_cfg_str(&c, "op", OP_NAME[op]);
        bench_cfg_str(&c, "libsodium", ver);
        bench_cfg_num(&c, "reps", g_reps);
        if (op == OP_ROW) {
            bench_cfg_num(&c, "secretflow_rows_per_s_core", SECRETFLOW_ROWS_PER_S_CORE);
            bench_json("psi.floor", &c, rate[op], "rows/s", model, "h2g + 2 scalarmult, timed apart");
        } else {
            bench_json("psi.floor", &c, rate[op], "ops/s", NAN, NULL);
        }
    }
    return 0;
}
