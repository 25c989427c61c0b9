/*
 * Private operands through the runtime (SF_PRIVATE, and SF_PRIVATE32 in every semi2k
 * configuration): a matrix kept in the clear by its
 * owner, a member of the SPU, multiplied with secret operands inside kernels, with five
 * parties in every mode. Every configuration (semi2k with a dealer outside the SPU, with a
 * member dealer, with the default dealer; aby3) x every member as the owner (the member
 * dealer included) x the products a learning step needs (X w, X^T r, and both on a block
 * of rows), against plaintext, in fixed point and integers; each kernel runs twice on the
 * same matrix, and the owner's protocol bytes show the mask was sent once (the two calls
 * differ by exactly the masked matrix); a call with two private matrices and a shared
 * operand, all of one owner, checks that their messages do not cross.
 *
 * "--error=NAME" runs one misuse instead (spu_private.cmake checks the messages).
 * Ends with "spu_private: N checks passed" or "spu_private: F of N checks FAILED".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

#define NPARTIES 5
static const char *const parties[NPARTIES] = {"alice", "bob", "carol", "dave", "erin"};

#define M 200
#define K 8
#define R0 3
#define RN 5

static double val(int what, uint64_t seed, int i) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)what * 0xD1B54A32D192ED03ULL + (uint64_t)i * 0x2545F4914F6CDD1DULL;
    s ^= s >> 31, s *= 0xBF58476D1CE4E5B9ULL, s ^= s >> 29;
    double u = (double)(s >> 11) * 0x1p-53;
    return round((u * 8 - 4) * 1024) / 1024; /* exact in fixed point */
}

/* X's element i as made (integers: 8 x, truncated); r32: as the 32-bit ring keeps it (8
 * fraction bits, rounded) */
static double xv(int isint, int r32, uint64_t seed, int i) {
    double x = val(0, seed, i);
    return isint ? (double)(int64_t)(x * 8) : r32 ? floor(x * 256 + 0.5) / 256 : x;
}
/* SF_PRIVATE, or SF_PRIVATE32 with blocks of 16 rows (16 x 32 x 4 keeps the integer X^T r
 * within the ring's +-4096) */
#define BLK32 16
#define PRIV(x) (r32 ? SF_PRIVATE32((x), BLK32) : SF_PRIVATE(x))

/* what: 0 = X (M x K), 1 = w (K x 1), 2 = r (M x 1); arg 2: integers */
static int make(sf_task *t) {
    int what = (int)sf_arg_i64(t, 0), isint = (int)sf_arg_i64(t, 2);
    uint64_t seed = (uint64_t)sf_arg_i64(t, 1);
    int64_t sh[2] = {what == 1 ? K : M, what == 0 ? K : 1};
    sf_value *v = sf_value_new(isint ? SF_I64 : SF_F64, 2, sh);
    if (!v) return sf_fail(t, "out of memory");
    for (size_t i = 0; i < sf_value_nelems(v); i++) {
        double x = val(what, seed, (int)i);
        if (isint) ((int64_t *)sf_value_data(v))[i] = (int64_t)(x * 8);
        else ((double *)sf_value_data(v))[i] = x;
    }
    return sf_return(t, 0, v);
}

static int k_priv(sf_spu_task *t) {
    sf_spu_val X = sf_spu_arg(t, 0), w = sf_spu_arg(t, 1), r = sf_spu_arg(t, 2);
    sf_spu_val Xb = sf_spu_slice(t, X, 0, R0, RN), rb = sf_spu_slice(t, r, 0, R0, RN);
    SF_TRY(sf_spu_return_n(t, 0, sf_spu_matmul(t, X, w)));
    SF_TRY(sf_spu_return_n(t, 1, sf_spu_matmul(t, sf_spu_transpose(t, X), r)));
    SF_TRY(sf_spu_return_n(t, 2, sf_spu_matmul(t, Xb, w)));
    SF_TRY(sf_spu_return_n(t, 3, sf_spu_matmul(t, sf_spu_transpose(t, Xb), rb)));
    return 0;
}

/* two private matrices and a shared operand, all of one owner, in one call (their
 * descriptions, masks and the share must not cross): X w + X2 w with X2 = 2 X */
static int k_two(sf_spu_task *t) {
    sf_spu_val w = sf_spu_arg(t, 2);
    return sf_spu_return(t, sf_spu_add(t, sf_spu_matmul(t, sf_spu_arg(t, 0), w), sf_spu_matmul(t, sf_spu_arg(t, 1), w)));
}

static int twice(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    sf_value *o = sf_value_new(SF_F64, sf_value_ndim(v), sf_value_shape(v));
    if (!o) return sf_fail(t, "out of memory");
    for (size_t i = 0; i < sf_value_nelems(v); i++) ((double *)sf_value_data(o))[i] = 2 * sf_value_as_f64(v, i);
    return sf_return(t, 0, o);
}

typedef struct {
    const char *name, *protocol;
    const char *members[3];
    int nmembers;
    const char *dealer_opt, *other; /* other: the party owning w and r */
} config;

static const config configs[] = {
    {"semi2k/outside-dealer", "semi2k", {"alice", "bob"}, 2, "dave", "erin"},
    {"semi2k/member-dealer", "semi2k", {"alice", "bob", "carol"}, 3, "carol", "dave"},
    {"semi2k/default-dealer", "semi2k", {"bob", "carol", "erin"}, 3, NULL, "alice"},
    {"aby3", "aby3", {"alice", "bob", "carol"}, 3, NULL, "erin"},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

typedef struct {
    sf_ctx *sf;
    long checks, failed;
    int r32; /* this party's: debug mode runs every party in one process */
} tally;

static int64_t owner_bytes(sf_ctx *sf, sf_device spu, const char *owner);

static int echo(sf_task *t) { return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 0))); }

/* every party's sf_spu_stats bytes, read where owner is */
static int64_t owner_bytes(sf_ctx *sf, sf_device spu, const char *owner) {
    sf_spu_counters c;
    if (sf_spu_stats(spu, &c)) c.bytes_sent = 0;
    sf_obj e = SF_REMOTE(sf_pyu(sf, owner), echo, SF_I64((int64_t)c.bytes_sent));
    sf_value *v;
    int64_t b = sf_get(sf, e, &v) ? -1 : sf_value_as_i64(v, 0);
    sf_release(e);
    return b;
}

static void run(tally *ty, sf_device spu, const config *c, const char *owner, int isint, uint64_t seed) {
    sf_ctx *sf = ty->sf;
    int r32 = ty->r32;
    sf_scope sc = sf_scope_begin(sf);
    sf_obj X = SF_REMOTE(sf_pyu(sf, owner), make, SF_I64(0), SF_I64((int64_t)seed), SF_I64(isint));
    sf_obj w = SF_REMOTE(sf_pyu(sf, c->other), make, SF_I64(1), SF_I64((int64_t)seed), SF_I64(0));
    sf_obj r = SF_REMOTE(sf_pyu(sf, c->other), make, SF_I64(2), SF_I64((int64_t)seed), SF_I64(0));
    int64_t b[3];
    b[0] = owner_bytes(sf, spu, owner);
    for (int call = 0; call < 2; call++) {
        sf_obj res[4];
        SF_REMOTE_N(spu, k_priv, 4, res, PRIV(X), SF_OBJ(w), SF_OBJ(r));
        for (int q = 0; q < 4; q++) {
            sf_value *v;
            char ws[200];
            snprintf(ws, sizeof ws, "config=%s%s owner=%s %s call=%d product=%d", c->name, r32 ? " ring32" : "",
                     owner, isint ? "int" : "fxp", call, q);
            int rows = q == 0 ? M : q == 2 ? RN : K;
            ty->checks += 1 + rows;
            if (sf_get(sf, res[q], &v)) {
                ty->failed += 1 + rows;
                TEST_FAIL("%s: failed: %s", ws, sf_last_error(sf));
                continue;
            }
            if (!ASSERT_EQ_MSG((int)sf_value_nelems(v), rows, "%s: elements", ws)) {
                ty->failed += 1 + rows;
                continue;
            }
            for (int i = 0; i < rows; i++) {
                double want = 0, sx = 0;
                if (q == 0 || q == 2) {
                    int row = q == 0 ? i : R0 + i;
                    for (int l = 0; l < K; l++) want += xv(isint, r32, seed, row * K + l) * val(1, seed, l);
                    for (int l = 0; l < K; l++) sx += fabs(xv(isint, r32, seed, row * K + l));
                } else {
                    int n = q == 1 ? M : RN, off = q == 1 ? 0 : R0;
                    for (int l = 0; l < n; l++) want += xv(isint, r32, seed, (off + l) * K + i) * val(2, seed, off + l);
                    for (int l = 0; l < n; l++) sx += fabs(xv(isint, r32, seed, (off + l) * K + i));
                }
                double got = sf_value_as_f64(v, (size_t)i), tol = ldexp(4, -18) * (isint ? 1 : 1 + (q == 1 ? M : K) / 4.0);
                /* the 32-bit ring truncates w or r to 10 fraction bits first (a last place each) */
                if (r32 && !isint) tol = ldexp(sx, -10) + ldexp(4, -18);
                if (!ASSERT_LE_MSG(fabs(got - want), tol, "%s row %d: got %.9g want %.9g", ws, i, got, want))
                    ty->failed++;
            }
        }
        b[call + 1] = owner_bytes(sf, spu, owner);
    }
    if (!isint) { /* X, 2 X and w all the owner's, in one call */
        sf_obj X2 = SF_REMOTE(sf_pyu(sf, owner), twice, SF_OBJ(X));
        sf_obj wo = SF_REMOTE(sf_pyu(sf, owner), make, SF_I64(1), SF_I64((int64_t)seed), SF_I64(0));
        sf_obj r2 = SF_REMOTE(spu, k_two, PRIV(X), PRIV(X2), SF_OBJ(wo));
        sf_value *v;
        ty->checks += 1 + M;
        if (sf_get(sf, r2, &v) || sf_value_nelems(v) != M) {
            ty->failed += 1 + M;
            TEST_FAIL("config=%s owner=%s two private matrices: %s", c->name, owner, sf_last_error(sf));
        } else {
            for (int i = 0; i < M; i++) {
                double want = 0, sx = 0;
                for (int l = 0; l < K; l++) want += (xv(0, r32, seed, i * K + l) + floor(2 * val(0, seed, i * K + l) * 256 + 0.5) / 256 * r32 + 2 * val(0, seed, i * K + l) * !r32) * val(1, seed, l);
                for (int l = 0; l < K; l++) sx += 3 * fabs(val(0, seed, i * K + l));
                if (!ASSERT_LE_MSG(fabs(sf_value_as_f64(v, (size_t)i) - want), r32 ? ldexp(sx, -10) + ldexp(12, -18) : ldexp(12, -18),
                                   "config=%s owner=%s two private matrices row %d", c->name, owner, i))
                    ty->failed++;
            }
        }
    }
    /* the mask goes once: the two calls differ by exactly the masked matrix the owner sent
     * in the first (semi2k: to every other member; aby3: to one) */
    int64_t first = b[1] - b[0], second = b[2] - b[1];
    int64_t mask = (r32 ? 4 : 8) * M * K * (strcmp(c->protocol, "aby3") ? c->nmembers - 1 : 1);
    int plain = first == 0 && second == 0; /* --sf-spu=plain: no protocol traffic at all */
    ty->checks++;
    if (!ASSERT_MSG(plain || first - second == mask,
                    "config=%s owner=%s: first call %lld bytes, second %lld: the difference should be the "
                    "%lld bytes of the masked matrix", c->name, owner, (long long)first, (long long)second,
                    (long long)mask))
        ty->failed++;
    sf_scope_end(&sc, NULL, 0);
}

static int k_bad(sf_spu_task *t) {
    return sf_spu_return(t, sf_spu_add(t, sf_spu_arg(t, 0), sf_spu_arg(t, 0)));
}

static int touch(sf_task *t) { return sf_return(t, 0, sf_value_i64(1)); }

static int k_mm(sf_spu_task *t) { return sf_spu_return(t, sf_spu_matmul(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }

/* X (M x K): arg 0 = 0: one element, [7, 3], beyond the 32-bit ring (2^24 > 2^23);
 * 1: row 9 all 4000, so that its product with w (|w| up to 4) leaves the ring's +-4096 */
static int big(sf_task *t) {
    sf_value *v = sf_value_zeros(SF_F64, 2, (const int64_t[]){M, K});
    if (!v) return sf_fail(t, "out of memory");
    double *d = sf_value_data(v);
    if (sf_arg_i64(t, 0) == 0) d[7 * K + 3] = 16777216.5;
    else
        for (int j = 0; j < K; j++) d[9 * K + j] = 4000 * (val(1, 1, j) < 0 ? -1 : 1);
    return sf_return(t, 0, v);
}

static int run_error(sf_ctx *sf, const char *e) {
    sf_device spu = sf_spu(sf, (const char *[]){"alice", "bob"}, 2, &(sf_spu_options){.dealer = "dave"});
    sf_obj x = SF_REMOTE(sf_pyu(sf, !strcmp(e, "outsider") ? "erin" : "alice"), make, SF_I64(0), SF_I64(1), SF_I64(0));
    sf_obj r;
    if (!strcmp(e, "pyu")) r = SF_REMOTE(sf_pyu(sf, "bob"), touch, SF_PRIVATE(x));
    else if (!strcmp(e, "aby3_32") || !strcmp(e, "range32") || !strcmp(e, "mix32") || !strcmp(e, "overflow32") ||
             !strcmp(e, "fxp32")) {
        sf_device s3 = !strcmp(e, "aby3_32") ? sf_spu(sf, (const char *[]){"alice", "bob", "carol"}, 3,
                                                      &(sf_spu_options){.protocol = "aby3"})
                       : !strcmp(e, "fxp32") ? sf_spu(sf, (const char *[]){"alice", "bob"}, 2,
                                                      &(sf_spu_options){.dealer = "dave", .fxp_bits = 12})
                                             : spu;
        if (!strcmp(e, "range32")) x = SF_REMOTE(sf_pyu(sf, "alice"), big, SF_I64(0));
        if (!strcmp(e, "overflow32")) x = SF_REMOTE(sf_pyu(sf, "alice"), big, SF_I64(1));
        sf_obj w = SF_REMOTE(sf_pyu(sf, "bob"), make, SF_I64(1), SF_I64(1), SF_I64(0));
        if (!strcmp(e, "mix32")) {
            sf_obj r1 = SF_REMOTE(s3, k_mm, SF_PRIVATE(x), SF_OBJ(w));
            sf_value *v1;
            if (sf_get(sf, r1, &v1)) return SF_EINVAL;
        }
        r = SF_REMOTE(s3, k_mm, SF_PRIVATE32(x, 0), SF_OBJ(w));
    } else r = SF_REMOTE(spu, k_bad, SF_PRIVATE(x));
    sf_value *v;
    if (sf_get(sf, r, &v)) {
        sf_print(sf, "spu_private: failed: %s\n", sf_last_error(sf));
        return SF_EINVAL;
    }
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    char **av = sf_argv(sf);
    for (int i = 1; av[i]; i++)
        if (!strncmp(av[i], "--error=", 8)) return run_error(sf, av[i] + 8);
    tally ty = {.sf = sf};
    for (int ci = 0; ci < NCONFIGS; ci++) {
        const config *c = &configs[ci];
        sf_spu_options o = {.protocol = c->protocol, .dealer = c->dealer_opt};
        sf_device spu = sf_spu(sf, c->members, c->nmembers, &o);
        for (ty.r32 = 0; ty.r32 < (strcmp(c->protocol, "semi2k") ? 1 : 2); ty.r32++)
            for (int m = 0; m < c->nmembers; m++)
                for (int isint = 0; isint < 2; isint++)
                    run(&ty, spu, c, c->members[m], isint, (uint64_t)(100 * ci + 10 * m + isint + 1 + 5 * ty.r32));
    }
    if (ty.failed) {
        sf_print(sf, "spu_private: %ld of %ld checks FAILED\n", ty.failed, ty.checks);
        return SF_EINVAL;
    }
    sf_print(sf, "spu_private: %ld checks passed\n", ty.checks);
    return 0;
}

int main(int argc, char **argv) {
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = NPARTIES};
    return sf_run(&cfg, program, NULL);
}
