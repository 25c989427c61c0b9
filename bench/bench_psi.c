/*
 * bench_psi: two-party PSI (sf_psi) against its compute floor, measured in the same run.
 *
 * Each party makes --rows IDs (a fraction --overlap of them common, the rest its own, in a
 * shuffled order; made before the clock starts), then every party runs sf_psi. Reported:
 *   psi.rate          rows per second per core: one party's input rows / wall time of
 *                     sf_psi at party 0 / that party's cores (its ranks); baseline: the floor
 *   psi.floor         the floor: one hash-to-group (SHA-512 + ristretto255 from_hash) and
 *                     two scalar multiplications per row on one core, measured before the
 *                     PSI and again after it on every party's leader at once (so under the
 *                     load the PSI puts on the machine: both cores busy here); the mean of
 *                     the two is the rate's baseline (this VM's speed drifts by tens of
 *                     percent over minutes: both are reported, config when=before|after);
 *                     and on party 0's leader alone (alone=1), for reference
 *   psi.vs_secretflow the same rate against SecretFlow's published ECDH-PSI rate (67 s for
 *                     1e7 rows on 32 cores: 4,664 rows/s/core)
 *   psi.vmhwm         each party's peak resident memory (KiB) after the PSI
 * The result is checked (the intersection's size must be the overlap).
 * --files=DIR: the IDs come from DIR/<party>.h5 (made by `sfmpi psi-data --out DIR`, not
 * timed) through sf_psi_h5, which writes DIR/<party>_index.h5: the streamed path, whose
 * peak memory should not grow with --rows for a given --batch (sf_psi_options.batch_rows,
 * 0: the default).
 *
 *   mpirun -np 2 bench_psi --rows=1000000 --sf-mode=sim --sf-parties=alice,bob
 *   sfmpi run --mode=prod --parties alice,bob bench_psi --rows=1000000
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/psi.h"

#include "bench_util.h"

#define SECRETFLOW_ROWS_PER_CORE (1e7 / 67.0 / 32.0)

static long g_rows = 100000, g_floor_rows = 3000, g_batch = 0;
static const char *g_files;
static double g_overlap = 0.5;

/* args: n, common, party */
static int make_ids(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0), k = sf_arg_i64(t, 1), p = sf_arg_i64(t, 2);
    sf_value *v = sf_value_new(SF_I64, 1, &n);
    if (!v) return sf_fail(t, "out of memory");
    int64_t *x = sf_value_data(v);
    for (int64_t i = 0; i < n; i++) x[i] = i < k ? 1000003 * i + 7 : ((p + 1) << 48) + i;
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(p + 1);
    for (int64_t i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t j = (int64_t)((s >> 33) % (uint64_t)(i + 1)), y = x[i];
        x[i] = x[j], x[j] = y;
    }
    return sf_return(t, 0, v);
}

/* The floor on this core: rows per second of one hash-to-group + two multiplications. */
static int floor_rate(sf_task *t) {
    if (sodium_init() < 0) return sf_fail(t, "libsodium failed to initialise");
    int64_t n = sf_arg_i64(t, 0);
    unsigned char k[crypto_core_ristretto255_SCALARBYTES], h[crypto_hash_sha512_BYTES];
    unsigned char p[crypto_core_ristretto255_BYTES], q[crypto_core_ristretto255_BYTES];
    crypto_core_ristretto255_scalar_random(k);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now_s();
        for (int64_t i = 0; i < n; i++) {
            crypto_hash_sha512(h, (const unsigned char *)&i, sizeof i);
            crypto_core_ristretto255_from_hash(p, h);
            if (crypto_scalarmult_ristretto255(q, k, p) || crypto_scalarmult_ristretto255(p, k, q))
                return sf_fail(t, "scalar multiplication gave the identity");
        }
        double r = (double)n / (bench_now_s() - t0);
        if (r > best) best = r;
    }
    return sf_return(t, 0, sf_value_f64(best));
}

static int vmhwm(sf_task *t) { return sf_return(t, 0, sf_value_i64(bench_status_kib("VmHWM"))); }

/* The floor on every party's leader at once (the load the PSI runs under); their mean. */
static int floor_busy(sf_ctx *sf, double *out) {
    sf_obj fl[2];
    sf_value *fv;
    for (int p = 0; p < 2; p++) fl[p] = SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, p)), floor_rate, SF_I64(g_floor_rows));
    *out = 0;
    for (int p = 0; p < 2; p++) {
        SF_TRY(sf_get(sf, fl[p], &fv));
        *out += sf_value_as_f64(fv, 0) / 2;
        sf_release(fl[p]);
    }
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    sf_device dev[2] = {sf_pyu_all(sf, sf_party_name_of(sf, 0)), sf_pyu_all(sf, sf_party_name_of(sf, 1))};
    int64_t common = (int64_t)(g_overlap * (double)g_rows);
    sf_obj ids[2], index[2];
    char in[2][512], out[2][512];
    sf_psi_h5_party files[2];
    for (int p = 0; p < 2; p++) {
        index[p] = (sf_obj){sf, 0};
        if (g_files) {
            snprintf(in[p], sizeof in[p], "%s/%s.h5", g_files, sf_party_name_of(sf, p));
            snprintf(out[p], sizeof out[p], "%s/%s_index.h5", g_files, sf_party_name_of(sf, p));
            files[p] = (sf_psi_h5_party){in[p], "ids", out[p], "index"};
            ids[p] = (sf_obj){sf, 0};
        } else {
            ids[p] = SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, p)), make_ids, SF_I64(g_rows), SF_I64(common), SF_I64(p));
        }
    }
    sf_value *fv;
    SF_TRY(sf_get(sf, SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, 0)), floor_rate, SF_I64(g_floor_rows)), &fv));
    double floor_alone = sf_value_as_f64(fv, 0);
    double floor_before, floor_after;
    SF_TRY(floor_busy(sf, &floor_before));
    if (!g_files) SF_TRY(sf_wait(sf, ids, 2));
    double t0 = bench_now_s();
    int64_t size;
    sf_psi_options opts = {.batch_rows = g_batch};
    if (g_files) SF_TRY(sf_psi_h5(sf, dev, files, 2, &opts, &size));
    else SF_TRY(sf_psi(sf, dev, ids, 2, &opts, index, &size));
    double wall = bench_now_s() - t0;
    SF_TRY(floor_busy(sf, &floor_after));
    double floor = (floor_before + floor_after) / 2;
    int cores = sf_party_ranks(sf);
    double rate = (double)g_rows / wall / cores;
    const char *mode = sf_mode_name(sf_get_distribution_mode(sf));
    sf_print(sf, "psi %s: %ld x %ld rows, overlap %lld (found %lld%s), %d rank(s) per party: %.2f s, "
             "%.0f rows/s/core; floor %.0f rows/s/core with every party busy (%.0f before, %.0f after; ratio %.2f), %.0f alone; "
             "SecretFlow %.0f (ratio %.2f)\n",
             mode, g_rows, g_rows, (long long)common, (long long)size, size == common ? "" : " WRONG",
             cores, wall, rate, floor, floor_before, floor_after, rate / floor, floor_alone, SECRETFLOW_ROWS_PER_CORE,
             rate / SECRETFLOW_ROWS_PER_CORE);
    long kib[2];
    for (int p = 0; p < 2; p++) {
        sf_value *m;
        SF_TRY(sf_get(sf, SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, p)), vmhwm), &m));
        kib[p] = (long)sf_value_as_i64(m, 0);
    }
    sf_print(sf, "psi %s: peak memory (VmHWM) %s %ld KiB, %s %ld KiB (%.0f bytes per row)\n", mode,
             sf_party_name_of(sf, 0), kib[0], sf_party_name_of(sf, 1), kib[1], 1024.0 * (double)kib[0] / (double)g_rows);
    if (sf_party_index(sf) == 0) {
        bench_cfg c = {.b = {.len = 0}};
        bench_cfg_str(&c, "mode", mode);
        bench_cfg_num(&c, "rows", (double)g_rows);
        bench_cfg_num(&c, "overlap", g_overlap);
        bench_cfg_num(&c, "ranks", cores);
        bench_cfg_str(&c, "io", g_files ? "files" : "objects");
        bench_cfg_num(&c, "batch", g_batch ? (double)g_batch : (double)SF_PSI_BATCH_DEFAULT);
        bench_json("psi.rate", &c, rate, "rows/s/core", floor,
                   "compute floor (hash + 2 mults per row, 1 core, every party busy)");
        bench_json("psi.vs_secretflow", &c, rate, "rows/s/core", SECRETFLOW_ROWS_PER_CORE,
                   "SecretFlow ECDH-PSI, published (1e7 rows, 32 cores, 67 s)");
        bench_json("psi.floor", &c, floor, "rows/s", NAN, NULL);
        bench_cfg b = c, f = c;
        bench_cfg_str(&b, "when", "before");
        bench_json("psi.floor", &b, floor_before, "rows/s", NAN, NULL);
        bench_cfg_str(&f, "when", "after");
        bench_json("psi.floor", &f, floor_after, "rows/s", NAN, NULL);
        bench_cfg a = c;
        bench_cfg_num(&a, "alone", 1);
        bench_json("psi.floor", &a, floor_alone, "rows/s", NAN, NULL);
        for (int p = 0; p < 2; p++) {
            bench_cfg m = c;
            bench_cfg_str(&m, "party", sf_party_name_of(sf, p));
            bench_json("psi.vmhwm", &m, (double)kib[p], "KiB", NAN, NULL);
        }
    }
    for (int p = 0; p < 2; p++)
        if (index[p].id) sf_release(index[p]);
    return size == common ? 0 : 1;
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv)) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--rows=", 7)) g_rows = atol(argv[i] + 7);
        else if (!strncmp(argv[i], "--overlap=", 10)) g_overlap = atof(argv[i] + 10);
        else if (!strncmp(argv[i], "--floor-rows=", 13)) g_floor_rows = atol(argv[i] + 13);
        else if (!strncmp(argv[i], "--batch=", 8)) g_batch = atol(argv[i] + 8);
        else if (!strncmp(argv[i], "--files=", 8)) g_files = argv[i] + 8;
    }
    return sf_main(argc, argv, program, NULL);
}
