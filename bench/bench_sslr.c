/*
 * Secure logistic regression (sf_ml_lr_fit) per epoch: wall time, bytes and rounds, beside
 * the same training in double precision in this process (sf_ml_lr_plain, the same-run
 * baseline) and the bytes formula of the scheme (a measurement, not a test).
 *
 * Parties alice, bob, carol, dave. --parties-feat=F of them (alice, bob, ...) hold --k
 * features each of --rows rows (x ~ N(0,1) from a hash of the row and column, made by a
 * task at the owner); alice also holds the label, drawn from a known logistic model over
 * all features (alice regenerates them for that, in data generation only).
 *   --protocol=semi2k  members: the F feature parties, dealer: the next party (dave for
 *                      F = 3, carol for F = 2), holding no features
 *   --protocol=aby3    members: alice, bob, carol (F = 3)
 * Each member's features are private (SF_PRIVATE; --share=1 secret-shares them instead:
 * the baseline a scheme without private operands pays every epoch).
 *
 * Per epoch (on_epoch callback): every party's wall time since the previous epoch and its
 * sf_spu_stats deltas (bytes it sent, round clock); alice prints the slowest party's time,
 * each party's bytes next to the formula (first epoch: plus the masked features), and the
 * rounds. The plaintext baseline's time per epoch (its total / epochs, one core) and both
 * models' training AUC close the run.
 *
 * Usage: sfmpi run --mode=prod --parties alice,bob,carol,dave bench_sslr --rows=100000 --k=100
 *          [--parties-feat=3] [--protocol=semi2k|aby3] [--epochs=E] [--batch=B] [--lr=X]
 *          [--l2=X] [--sigmoid=1..4] [--share=0|1] [--mask-bits=32|64] [--json FILE]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/ml.h"
#include "sfmpi/sf.h"

#include "bench_parties.h"
#include "bench_util.h"

#define MAXE 64

static uint64_t mixh(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static double unifh(uint64_t h) { return ((double)(h >> 11) + 0.5) * 0x1p-53; }
static double feat(int64_t i, int64_t j) { /* N(0, 1) */
    uint64_t h = mixh((uint64_t)i * 0x100000001B3ULL + (uint64_t)j);
    return sqrt(-2 * log(unifh(mixh(h)))) * cos(2 * M_PI * unifh(mixh(h ^ 0x5DEECE66DULL)));
}
static double beta(int64_t j, int64_t K) { return 4 / sqrt((double)K) * (unifh(mixh(0xBE7AULL + (uint64_t)j)) * 2 - 1) * 1.7; }

/* make_x(party, rows, k): that party's columns */
static int make_x(sf_task *t) {
    int64_t p = sf_arg_i64(t, 0), m = sf_arg_i64(t, 1), k = sf_arg_i64(t, 2);
    sf_value *v = sf_value_new(SF_F64, 2, (const int64_t[]){m, k});
    if (!v) return sf_fail(t, "out of memory");
    double *d = sf_value_data(v);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) d[i * k + j] = feat(i, p * k + j);
    return sf_return(t, 0, v);
}

static void labels(int64_t m, int64_t K, double *y) {
    for (int64_t i = 0; i < m; i++) {
        double z = 0.3;
        for (int64_t j = 0; j < K; j++) z += beta(j, K) * feat(i, j);
        y[i] = unifh(mixh(0x7A11ULL ^ (uint64_t)i)) < 1 / (1 + exp(-z)) ? 1 : 0;
    }
}

static int make_y(sf_task *t) {
    int64_t m = sf_arg_i64(t, 0), K = sf_arg_i64(t, 1);
    sf_value *v = sf_value_new(SF_F64, 1, (const int64_t[]){m});
    if (!v) return sf_fail(t, "out of memory");
    labels(m, K, sf_value_data(v));
    return sf_return(t, 0, v);
}


typedef struct rec {
    sf_device spu;
    double t_prev, t[MAXE];
    uint64_t b_prev, r_prev, bytes[MAXE], rounds[MAXE];
} rec;

static void on_epoch(sf_ctx *sf, int ep, void *arg) {
    rec *r = arg;
    (void)sf;
    sf_spu_counters c;
    sf_spu_stats(r->spu, &c);
    double now = bench_now_s();
    if (ep < MAXE) {
        r->t[ep] = now - r->t_prev;
        r->bytes[ep] = c.bytes_sent - r->b_prev;
        r->rounds[ep] = c.rounds - r->r_prev;
    }
    r->t_prev = now, r->b_prev = c.bytes_sent, r->r_prev = c.rounds;
}

/* ---- the bytes formula of one epoch (devices/spu/core/spu_proto.h), segmented sigmoid.
 * role: semi2k member index or -1 for the dealer; aby3: member index. */
static uint64_t wd(uint64_t n, unsigned b) { return (n * b + 63) / 64; }
static uint64_t andw(uint64_t N) { return N + wd(N, 32) + wd(N, 16) + wd(N, 8) + wd(N, 4) + wd(N, 2); }

/* bytes per element of one truncation by `bits` (t = 4 up to 32 bits): a semi2k member
 * (n members), the semi2k dealer, an aby3 member 0 or 1, aby3's helper P2 */
static uint64_t trunc_b(int aby3, int special, int n, int bits) {
    uint64_t t = bits <= 32 ? 4 : 8;
    return aby3 ? (special ? 24 + t : 8) : (special ? 8 + t : 8 * (uint64_t)(n - 1));
}

/* bytes per element of sf_spu_div_public(x, c) (spu_proto.h): one truncation by k for
 * c = 2^k, else by e then by f for |c| = m 2^e with e > 0, else by f */
static uint64_t div_b(double c, int aby3, int special, int n) {
    int e;
    double mm = frexp(fabs(c), &e);
    if (mm == 0.5) return e - 1 > 0 ? trunc_b(aby3, special, n, e - 1) : 0;
    return (e > 0 ? trunc_b(aby3, special, n, e) : 0) + trunc_b(aby3, special, n, 18);
}

static int mask32; /* --mask-bits=32: the members' features in the 32-bit ring */

static double batch_bytes(int aby3, int role, int n, int P, uint64_t k, uint64_t B, int l2, double lr) {
    uint64_t b = 0, m1 = (uint64_t)(n - 1), N2 = 2 * B;
    double c = (double)B / lr;
    if (!aby3) {
        int dealer = role < 0;
        uint64_t tr = dealer ? 12 : 8 * m1; /* per element truncated (t = 4) */
        /* the 32-bit ring: blocks of the gradient's rows (ml/lr.c x32_block, 18 bits) */
        uint64_t blk = (uint64_t)(4096 / (16 * (1 + 0x1p-9))), nb = (B + blk - 1) / blk;
        for (int p = 0; p < P; p++) {
            if (mask32) { /* w and e truncated first, F and the corrections in 4 bytes, each
                           * result (z: B, g: nb k) extended by a truncation */
                if (dealer) b += 4 * B + 4 * nb * k;
                else if (p != role) b += 4 * k + 4 * B;
                b += tr * (k + B + B + nb * k + (l2 ? k : 0));
            } else {
                if (dealer) b += 8 * B + 8 * k; /* z's and g's corrections */
                else if (p != role) b += 8 * k + 8 * B; /* F for z, F for g */
                b += tr * (B + k + (l2 ? k : 0)); /* truncations: z, g, decay */
            }
            b += div_b(c, 0, dealer, n) * k; /* g / (B / lr) */
        }
        b += div_b(c, 0, dealer, n); /* the bias's division */
        /* segmented sigmoid: msb(2B), trunc(B), mul(B) */
        b += dealer ? 8 * N2 + 8 * (andw(N2) + N2) : 8 * m1 * (N2 + 2 * andw(N2) + wd(N2, 1));
        b += tr * B + (dealer ? 8 * B : 16 * m1 * B);
        return (double)b;
    }
    int helper = role == 2;
    uint64_t tr = helper ? 28 : 8; /* trunc: P0, P1 8, P2 24 + t */
    for (int p = 0; p < P; p++) {
        int j = (p + 1) % 3, h = (p + 2) % 3;
        /* z = X w (R = B, K = k) and g = X^T e (R = k, K = B), both fxp: the additive
         * truncation (P0, P1 16 R, P2 28 R) plus j 8 K, h 8 R */
        uint64_t R1 = B, K1 = k, R2 = k, K2 = B;
        b += (helper ? 28 : 16) * (R1 + R2);
        if (role == j) b += 8 * (K1 + K2);
        if (role == h) b += 8 * (R1 + R2);
        b += tr * (l2 ? k : 0) + div_b(c, 1, helper, 3) * k; /* decay, g / (B / lr) */
    }
    b += div_b(c, 1, helper, 3);
    b += helper ? 16 * N2 + 8 * (andw(N2) + N2) : 8 * (2 * andw(N2) + wd(N2, 1)) + 8 * N2;
    b += tr * B + 8 * B;
    return (double)b;
}

static double epoch_bytes(int aby3, int role, int n, int P, uint64_t k, uint64_t m, uint64_t B, int l2, double lr) {
    double s = 0;
    for (uint64_t r0 = 0; r0 < m; r0 += B) s += batch_bytes(aby3, role, n, P, k, m - r0 < B ? m - r0 : B, l2, lr);
    return s;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int64_t m = 100000, k = 100;
    int F = 3, share = 0;
    const char *proto = "semi2k";
    sf_ml_lr_options o = {.learning_rate = 0.1, .epochs = 3, .batch_size = 1024, .l2 = 0,
                          .sigmoid = SF_SIGMOID_SEGMENTED, .quiet = 1};
    for (int i = 1; i < sf_argc(sf); i++) {
        const char *a = sf_argv(sf)[i];
        if (!strncmp(a, "--rows=", 7)) m = atoll(a + 7);
        else if (!strncmp(a, "--k=", 4)) k = atoll(a + 4);
        else if (!strncmp(a, "--parties-feat=", 15)) F = atoi(a + 15);
        else if (!strncmp(a, "--protocol=", 11)) proto = a + 11;
        else if (!strncmp(a, "--epochs=", 9)) o.epochs = atoi(a + 9);
        else if (!strncmp(a, "--batch=", 8)) o.batch_size = atoll(a + 8);
        else if (!strncmp(a, "--lr=", 5)) o.learning_rate = atof(a + 5);
        else if (!strncmp(a, "--l2=", 5)) o.l2 = atof(a + 5);
        else if (!strncmp(a, "--sigmoid=", 10)) o.sigmoid = (sf_spu_sigmoid_kind)atoi(a + 10);
        else if (!strncmp(a, "--share=", 8)) share = atoi(a + 8);
        else if (!strncmp(a, "--mask-bits=", 12)) o.mask_bits = atoi(a + 12);
    }
    int aby3 = !strcmp(proto, "aby3"), np = sf_nparties(sf);
    if (F < 1 || F > 3 || F + !aby3 > np || (aby3 && F != 3) || o.epochs > MAXE || m < 1 || k < 1) {
        sf_print(sf, "bench_sslr: bad options (aby3 needs --parties-feat=3; semi2k F + 1 parties)\n");
        return 2;
    }
    o.share_features = share;
    mask32 = o.mask_bits == 32 && !aby3;
    const char *names[4];
    for (int p = 0; p < np && p < 4; p++) names[p] = sf_party_name_of(sf, p);
    sf_spu_options so = {.protocol = proto, .dealer = aby3 ? NULL : names[F]};
    sf_device spu = sf_spu(sf, names, aby3 ? 3 : F, &so);
    sf_obj x[3];
    for (int p = 0; p < F; p++) x[p] = SF_REMOTE(sf_pyu(sf, names[p]), make_x, SF_I64(p), SF_I64(m), SF_I64(k));
    sf_obj y = SF_REMOTE(sf_pyu(sf, names[0]), make_y, SF_I64(m), SF_I64(F * k));
    SF_TRY(sf_wait(sf, x, F));
    SF_TRY(sf_wait(sf, &y, 1));
    rec r = {.spu = spu};
    sf_spu_counters c0;
    sf_spu_stats(spu, &c0);
    r.b_prev = c0.bytes_sent, r.r_prev = c0.rounds;
    o.on_epoch = on_epoch;
    o.on_epoch_arg = &r;
    r.t_prev = bench_now_s();
    double t0 = r.t_prev;
    sf_ml_lr_model model;
    int rc = sf_ml_lr_fit(spu, x, F, y, &o, &model);
    double total = bench_now_s() - t0;
    if (rc) {
        sf_print(sf, "bench_sslr: fit failed: %s\n", sf_last_error(sf));
        return rc;
    }
    /* every party's per-epoch figures, gathered at everyone */
    int nparts = aby3 ? 3 : F + 1;
    static double T[4][MAXE], BY[4][MAXE], RO[4][MAXE];
    for (int p = 0; p < nparts; p++) {
        sf_value *v = sf_value_new(SF_F64, 1, (const int64_t[]){3 * o.epochs});
        for (int e = 0; e < o.epochs; e++) {
            ((double *)sf_value_data(v))[3 * e] = r.t[e];
            ((double *)sf_value_data(v))[3 * e + 1] = (double)r.bytes[e];
            ((double *)sf_value_data(v))[3 * e + 2] = (double)r.rounds[e];
        }
        sf_obj g = SF_REMOTE(sf_pyu(sf, names[p]), bench_echo, SF_VAL(v));
        sf_value *gv;
        if (!sf_get(sf, g, &gv))
            for (int e = 0; e < o.epochs; e++)
                T[p][e] = sf_value_as_f64(gv, 3 * e), BY[p][e] = sf_value_as_f64(gv, 3 * e + 1),
                RO[p][e] = sf_value_as_f64(gv, 3 * e + 2);
        sf_release(g);
        sf_value_unref(&v);
    }
    /* the same-run plaintext baseline (alice's process; everyone computes it to print it) */
    double *X[3], *Y = malloc(sizeof(double) * (size_t)m), *W = malloc(sizeof(double) * (size_t)(F * k));
    double *MU = malloc(sizeof(double) * (size_t)(F * k)), *SD = malloc(sizeof(double) * (size_t)(F * k));
    double *PR = malloc(sizeof(double) * (size_t)m), bias, tplain = NAN, auc_plain = NAN;
    int64_t ks[3] = {k, k, k};
    int have = Y && W && MU && SD && PR && sf_party_index(sf) == 0; /* alice only */
    for (int p = 0; p < F; p++) {
        X[p] = have ? malloc(sizeof(double) * (size_t)(m * k)) : NULL;
        have = have && X[p];
        for (int64_t i = 0; have && i < m; i++)
            for (int64_t j = 0; j < k; j++) X[p][i * k + j] = feat(i, p * k + j);
    }
    if (have && sf_party_index(sf) == 0) {
        labels(m, F * k, Y);
        double tp = bench_now_s();
        sf_ml_lr_plain((const double *const *)X, ks, F, Y, m, &o, W, &bias, MU, SD);
        tplain = (bench_now_s() - tp) / o.epochs;
        sf_ml_lr_plain_predict((const double *const *)X, ks, F, m, &o, W, bias, MU, SD, PR);
        auc_plain = sf_ml_auc(PR, Y, m);
    }
    sf_obj met = sf_ml_lr_evaluate(&model, x, y);
    sf_value *mv;
    double auc = sf_get(sf, met, &mv) ? NAN : sf_value_as_f64(mv, 0);
    sf_value *tpv = sf_value_new(SF_F64, 1, (const int64_t[]){2});
    ((double *)sf_value_data(tpv))[0] = tplain;
    ((double *)sf_value_data(tpv))[1] = auc_plain;
    sf_obj tpo = SF_REMOTE(sf_pyu(sf, names[0]), bench_echo, SF_VAL(tpv));
    sf_value *tg;
    if (!sf_get(sf, tpo, &tg)) tplain = sf_value_as_f64(tg, 0), auc_plain = sf_value_as_f64(tg, 1);
    sf_value_unref(&tpv);
    const char *sig[] = {"?", "linear", "taylor3", "segmented", "exp"};
    sf_print(sf, "SS-LR %s: %lld rows x %d parties x %lld features, batch %lld, %d epochs, sigmoid %s, "
                 "features %s\n", proto, (long long)m, F, (long long)k, (long long)o.batch_size, o.epochs,
             sig[o.sigmoid], share ? "secret-shared" : o.mask_bits == 32 ? "private to their members, 32-bit ring"
                                                                          : "private to their members");
    for (int e = 0; e < o.epochs; e++) {
        double tmax = 0, rmax = 0;
        char line[1024];
        int off = 0;
        for (int p = 0; p < nparts; p++) {
            tmax = fmax(tmax, T[p][e]);
            rmax = fmax(rmax, RO[p][e]);
            int role = aby3 ? p : (p < F ? p : -1);
            double f = o.sigmoid == SF_SIGMOID_SEGMENTED && !share
                           ? epoch_bytes(aby3, role, aby3 ? 3 : F, F, (uint64_t)k, (uint64_t)m,
                                         (uint64_t)o.batch_size, o.l2 > 0, o.learning_rate)
                           : NAN;
            if (e == 0 && !share && p < F) f += (mask32 ? 4.0 : 8.0) * (double)(m * k) * (aby3 ? 1 : F - 1);
            if (e == 0 && o.l2 > 0) /* the first step's decay is of the public zeros: local */
                f -= (double)F * (double)k * (aby3 ? (p == 2 ? 24 + 4 : 8) : (p < F ? 8.0 * (F - 1) : 12));
            if (BY[p][e] == f)
                off += snprintf(line + off, sizeof line - (size_t)off, " %s %.3f MB (= formula)", names[p],
                                BY[p][e] / 1e6);
            else
                off += snprintf(line + off, sizeof line - (size_t)off, " %s %.3f MB (formula %.3f)", names[p],
                                BY[p][e] / 1e6, f / 1e6);
        }
        sf_print(sf, "  epoch %d: %.3f s, rounds %.0f;%s\n", e + 1, tmax, rmax, line);
        if (sf_party_index(sf) == 0) {
            bench_cfg cfg = {0};
            bench_cfg_str(&cfg, "protocol", proto);
            bench_cfg_num(&cfg, "rows", (double)m);
            bench_cfg_num(&cfg, "parties", F);
            bench_cfg_num(&cfg, "features", (double)k);
            bench_cfg_num(&cfg, "batch", (double)o.batch_size);
            bench_cfg_num(&cfg, "epoch", e + 1);
            bench_cfg_str(&cfg, "sigmoid", sig[o.sigmoid]);
            bench_cfg_num(&cfg, "share", share);
            bench_cfg_num(&cfg, "mask_bits", o.mask_bits == 32 ? 32 : 64);
            bench_cfg_str(&cfg, "mode", sf_mode_name(sf_get_distribution_mode(sf)));
            bench_cfg_num(&cfg, "bytes_alice", BY[0][e]);
            bench_cfg_num(&cfg, "bytes_bob", BY[1][e]);
            bench_cfg_num(&cfg, "rounds", rmax);
            bench_json("sslr_epoch", &cfg, tmax, "s", tplain, "plaintext double, one core, per epoch");
        }
    }
    sf_print(sf, "  total %.3f s; plaintext double %.3f s per epoch on one core; training AUC %.4f (plaintext %.4f)\n",
             total, tplain, auc, auc_plain);
    sf_ml_lr_release(&model);
    for (int p = 0; p < F; p++) free(X[p]);
    free(Y), free(W), free(MU), free(SD), free(PR);
    return 0;
}

int main(int argc, char **argv) {
    if (bench_json_args(&argc, argv)) return 2;
    return sf_main(argc, argv, program, NULL);
}
