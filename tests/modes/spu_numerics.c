/*
 * The SPU numerics and shapes through the runtime (sf.h's sf_spu_* kernel operations), with
 * five parties in every mode: every configuration (semi2k with a member dealer, with a
 * dealer outside the SPU, with the default dealer; aby3) x every role of the party owning
 * the inputs (a member, the dealer inside or outside the SPU, an outsider) x every new
 * operation, against double precision computed here, results revealed to a member by
 * sf_to and to everyone by sf_get. Public operands come as inline arguments (SF_F64, and a
 * row as SF_VAL) and are read inside the kernel (sf_spu_public_f64).
 *
 *   broadcasting   matrix + row, matrix - column, matrix * secret scalar, matrix * public
 *                  row, integer + fixed point (promoted), matrix < column
 *   division       a / b of secrets, a / public scalar argument, div_public, reciprocal
 *   functions      exp, the four sigmoids
 *   shapes         reshape (with -1), transpose, row and column slices, concat on both
 *                  axes, sums over both axes, mean, mean over an axis
 *   public         public * public stays public and is returned as an SPU value
 *
 * With an argument "--error=NAME" it runs one failing kernel instead (the error tests of
 * spu_numerics.cmake check the message names the operation, the shapes and the call site).
 *
 * Ends with "spu_numerics: N checks passed" or "spu_numerics: F of N checks FAILED".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

#define NPARTIES 5
static const char *const parties[NPARTIES] = {"alice", "bob", "carol", "dave", "erin"};

/* inputs: X 3x4 in [-4, 4], P 3x4 positive in [0.5, 40], I 3x4 integers, R row (4),
 * C column (3x1), S scalar */
enum { IN_X, IN_P, IN_I, IN_R, IN_C, IN_S, NIN };
static const int64_t SHAPES[NIN][2] = {{3, 4}, {3, 4}, {3, 4}, {4, 0}, {3, 1}, {0, 0}};
static const int NDIM[NIN] = {2, 2, 2, 1, 2, 0};
static const int IS_INT[NIN] = {0, 0, 1, 0, 0, 0};
#define NEL 12
static const double PUBROW[4] = {0.5, -1.25, 2.0, 3.0};
#define PUBSCALAR 2.5
#define PUBMUL (-0.75)

static int nel(int in) {
    int n = 1;
    for (int i = 0; i < NDIM[in]; i++) n *= (int)SHAPES[in][i];
    return n;
}

static void gen(int in, uint64_t seed, double *out) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)in * 0xD1B54A32D192ED03ULL + 7;
    for (int k = 0; k < nel(in); k++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u = (double)(s >> 11) * 0x1p-53;
        switch (in) {
        case IN_P: out[k] = 0.5 + 39.5 * u * u; break;
        case IN_I: out[k] = (double)((int64_t)(s % 41) - 20); break;
        default: out[k] = round((8 * u - 4) * 4096) / 4096; break; /* exact in fixed point */
        }
    }
}

static int make_input(sf_task *t) {
    int in = (int)sf_arg_i64(t, 0);
    double x[NEL];
    gen(in, (uint64_t)sf_arg_i64(t, 1), x);
    sf_value *v = sf_value_new(IS_INT[in] ? SF_I64 : SF_F64, NDIM[in], SHAPES[in]);
    if (!v) return sf_fail(t, "out of memory");
    for (int k = 0; k < nel(in); k++) {
        if (IS_INT[in]) ((int64_t *)sf_value_data(v))[k] = (int64_t)x[k];
        else ((double *)sf_value_data(v))[k] = x[k];
    }
    return sf_return(t, 0, v);
}

/* ------------------------------------------------------------------ operations */

enum {
    O_ADD_ROW, O_SUB_COL, O_MUL_SCALAR, O_MUL_PUBROW, O_ADD_INT, O_LESS_COL, O_DIV, O_DIV_PUBARG,
    O_DIVP, O_RECIP, O_EXP, O_SIG_LIN, O_SIG_T3, O_SIG_SEG, O_SIG_EXP, O_RESHAPE, O_TRANSPOSE,
    O_ROWS, O_COLS, O_CAT0, O_CAT1, O_SUM0, O_SUM1, O_MEAN, O_MEAN0, O_PUBPUB, O_PUBREAD, NOPS
};
static const char *const OPNAME[NOPS] = {
    "X + row", "X - column", "X * scalar", "X * public row", "I + X", "X < column", "X / P",
    "X / public arg", "div_public(X, 3)", "reciprocal(P)", "exp(X)", "sigmoid linear",
    "sigmoid taylor3", "sigmoid segmented", "sigmoid exp", "reshape (2 x -1)", "transpose",
    "rows 1..2", "columns 1..3", "concat axis 0", "concat axis 1", "sum axis 0", "sum axis 1",
    "mean", "mean axis 0", "public * public", "mul_public by a read argument"};

/* kernel arguments: X, P, I, R, C, S (objects), then the public row (SF_VAL), the public
 * scalar 2.5 and the public factor -0.75 (SF_F64) */
enum { A_PUBROW = NIN, A_PUBSCALAR, A_PUBMUL };

static int k_all(sf_spu_task *t) {
    sf_spu_val X = sf_spu_arg(t, IN_X), P = sf_spu_arg(t, IN_P), I = sf_spu_arg(t, IN_I),
               R = sf_spu_arg(t, IN_R), C = sf_spu_arg(t, IN_C), S = sf_spu_arg(t, IN_S),
               PR = sf_spu_arg(t, A_PUBROW), PS = sf_spu_arg(t, A_PUBSCALAR);
    if (!sf_spu_is_public(t, PR) || sf_spu_is_public(t, X)) return sf_fail(t, "sf_spu_is_public is wrong");
    sf_spu_val r[NOPS];
    r[O_ADD_ROW] = sf_spu_add(t, X, R);
    r[O_SUB_COL] = sf_spu_sub(t, X, C);
    r[O_MUL_SCALAR] = sf_spu_mul(t, X, S);
    r[O_MUL_PUBROW] = sf_spu_mul(t, X, PR);
    r[O_ADD_INT] = sf_spu_add(t, I, X);
    r[O_LESS_COL] = sf_spu_less(t, X, C);
    r[O_DIV] = sf_spu_div(t, X, P);
    r[O_DIV_PUBARG] = sf_spu_div(t, X, PS);
    r[O_DIVP] = sf_spu_div_public(t, X, 3.0);
    r[O_RECIP] = sf_spu_reciprocal(t, P);
    r[O_EXP] = sf_spu_exp(t, X);
    r[O_SIG_LIN] = sf_spu_sigmoid(t, X, SF_SIGMOID_LINEAR);
    r[O_SIG_T3] = sf_spu_sigmoid(t, X, SF_SIGMOID_TAYLOR3);
    r[O_SIG_SEG] = sf_spu_sigmoid(t, sf_spu_mul_public(t, X, 2.0), SF_SIGMOID_SEGMENTED);
    r[O_SIG_EXP] = sf_spu_sigmoid(t, X, SF_SIGMOID_EXP);
    r[O_RESHAPE] = sf_spu_reshape(t, X, 2, (const int64_t[]){2, -1});
    r[O_TRANSPOSE] = sf_spu_transpose(t, X);
    r[O_ROWS] = sf_spu_slice(t, X, 0, 1, 2);
    r[O_COLS] = sf_spu_slice(t, X, 1, 1, 3);
    r[O_CAT0] = sf_spu_concat(t, X, P, 0);
    r[O_CAT1] = sf_spu_concat(t, X, C, 1);
    r[O_SUM0] = sf_spu_sum_axis(t, X, 0);
    r[O_SUM1] = sf_spu_sum_axis(t, X, 1);
    r[O_MEAN] = sf_spu_mean(t, X);
    r[O_MEAN0] = sf_spu_mean_axis(t, X, 0);
    r[O_PUBPUB] = sf_spu_mul(t, PS, PR);
    if (!sf_spu_is_public(t, r[O_PUBPUB])) return sf_fail(t, "public * public is not public");
    double c = sf_spu_public_f64(t, A_PUBMUL);
    r[O_PUBREAD] = sf_spu_mul_public(t, X, c);
    for (int i = 0; i < NOPS; i++) SF_TRY(sf_spu_return_n(t, i, r[i]));
    return 0;
}

typedef struct {
    int is_int, ndim, n;
    int64_t shape[2];
    double v[2 * NEL];
    double tol_abs, tol_rel;
    double tol_el[2 * NEL]; /* added per element */
} expect;

static double sig(int kind, double x) { return sf_sigmoid_approx((sf_spu_sigmoid_kind)kind, x); }

static void plain_op(int op, double in[NIN][NEL], expect *w) {
    const double *X = in[IN_X], *P = in[IN_P], *I = in[IN_I], *R = in[IN_R], *C = in[IN_C], S = in[IN_S][0];
    const double ulp = ldexp(1, -18);
    w->is_int = 0;
    w->ndim = 2;
    w->shape[0] = 3, w->shape[1] = 4;
    w->tol_abs = 0, w->tol_rel = 0;
    memset(w->tol_el, 0, sizeof w->tol_el);
    for (int k = 0; k < 12; k++) {
        int i = k / 4, j = k % 4;
        double x = X[k], r = 0;
        switch (op) {
        case O_ADD_ROW: r = x + R[j]; break;
        case O_SUB_COL: r = x - C[i]; break;
        case O_MUL_SCALAR: r = x * S, w->tol_abs = 2 * ulp; break;
        case O_MUL_PUBROW: r = x * PUBROW[j], w->tol_abs = 2 * ulp; break;
        case O_ADD_INT: r = I[k] + x; break;
        case O_LESS_COL: r = x < C[i], w->is_int = 1; break;
        case O_DIV: r = x / P[k], w->tol_abs = 8 * ulp, w->tol_rel = 1e-4; break;
        case O_DIV_PUBARG: r = x / PUBSCALAR, w->tol_abs = 2 * ulp; break;
        case O_DIVP: r = x / 3, w->tol_abs = 2 * ulp; break;
        case O_RECIP: r = 1 / P[k], w->tol_abs = 4 * ulp, w->tol_rel = 5e-5; break;
        case O_EXP: r = exp(x), w->tol_abs = 4 * ulp, w->tol_rel = 5e-5; break;
        case O_SIG_LIN: r = sig(1, x), w->tol_abs = 2 * ulp; break;
        case O_SIG_T3: r = sig(2, x), w->tol_el[k] = 4 * ulp * (1 + fabs(x) + x * x); break;
        case O_SIG_SEG: r = sig(3, 2 * x), w->tol_abs = 4 * ulp; break;
        case O_SIG_EXP: r = sig(4, x), w->tol_abs = 8 * ulp; break;
        case O_PUBREAD: r = x * PUBMUL, w->tol_abs = 2 * ulp; break;
        }
        w->v[k] = r;
    }
    w->n = 12;
    switch (op) {
    case O_RESHAPE: w->shape[0] = 2, w->shape[1] = 6; memcpy(w->v, X, sizeof(double) * 12); break;
    case O_TRANSPOSE:
        w->shape[0] = 4, w->shape[1] = 3;
        for (int k = 0; k < 12; k++) w->v[k] = X[(k % 3) * 4 + k / 3];
        break;
    case O_ROWS: w->shape[0] = 2, w->n = 8; memcpy(w->v, X + 4, sizeof(double) * 8); break;
    case O_COLS:
        w->shape[1] = 3, w->n = 9;
        for (int k = 0; k < 9; k++) w->v[k] = X[(k / 3) * 4 + 1 + k % 3];
        break;
    case O_CAT0:
        w->shape[0] = 6, w->n = 24, w->tol_abs = ulp / 2; /* P is rounded to fixed point */
        memcpy(w->v, X, sizeof(double) * 12);
        memcpy(w->v + 12, P, sizeof(double) * 12);
        break;
    case O_CAT1:
        w->shape[1] = 5, w->n = 15;
        for (int k = 0; k < 15; k++) w->v[k] = k % 5 < 4 ? X[(k / 5) * 4 + k % 5] : C[k / 5];
        break;
    case O_SUM0: case O_MEAN0:
        w->ndim = 1, w->shape[0] = 4, w->n = 4;
        for (int j = 0; j < 4; j++) w->v[j] = (X[j] + X[4 + j] + X[8 + j]) / (op == O_MEAN0 ? 3 : 1);
        w->tol_abs = op == O_MEAN0 ? 2 * ulp : 0;
        break;
    case O_SUM1:
        w->ndim = 1, w->shape[0] = 3, w->n = 3;
        for (int i = 0; i < 3; i++) w->v[i] = X[4 * i] + X[4 * i + 1] + X[4 * i + 2] + X[4 * i + 3];
        break;
    case O_MEAN: {
        double s = 0;
        for (int k = 0; k < 12; k++) s += X[k];
        w->ndim = 0, w->n = 1, w->v[0] = s / 12, w->tol_abs = 2 * ulp;
        break;
    }
    case O_PUBPUB:
        w->ndim = 1, w->shape[0] = 4, w->n = 4;
        for (int j = 0; j < 4; j++) w->v[j] = PUBSCALAR * PUBROW[j];
        break;
    }
}

/* ------------------------------------------------------------------ the matrix */

typedef struct {
    const char *name, *protocol;
    const char *members[3];
    int nmembers;
    const char *dealer_opt, *dealer, *member, *member2, *outsider;
} config;

static const config configs[] = {
    {"semi2k/member-dealer", "semi2k", {"alice", "bob", "carol"}, 3, "carol", "carol", "bob", "alice", "erin"},
    {"semi2k/outside-dealer", "semi2k", {"alice", "bob"}, 2, "dave", "dave", "alice", "bob", "erin"},
    {"semi2k/default-dealer", "semi2k", {"bob", "carol", "erin"}, 3, NULL, "alice", "erin", "carol", "dave"},
    {"aby3", "aby3", {"alice", "bob", "carol"}, 3, NULL, NULL, "carol", "bob", "dave"},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))
enum { R_MEMBER, R_DEALER, R_OUTSIDER, NROLES };
static const char *const ROLE[NROLES] = {"member", "dealer", "outsider"};

static const char *owner_party(const config *c, int r) {
    return r == R_MEMBER ? c->member : r == R_DEALER ? c->dealer : c->outsider;
}

typedef struct {
    sf_ctx *sf;
    long checks, failed;
} tally;

static void check(tally *ty, const char *ws, int op, const sf_value *v, const expect *w) {
    int ok = ASSERT_EQ_MSG(sf_value_dtype(v), w->is_int ? SF_I64 : SF_F64, "%s op=\"%s\": dtype", ws, OPNAME[op]) &&
             ASSERT_EQ_MSG(sf_value_ndim(v), w->ndim, "%s op=\"%s\": ndim", ws, OPNAME[op]) &&
             ASSERT_EQ_MSG((int)sf_value_nelems(v), w->n, "%s op=\"%s\": elements", ws, OPNAME[op]);
    for (int i = 0; ok && i < w->ndim; i++)
        ok = ASSERT_EQ_MSG(sf_value_dim(v, i), w->shape[i], "%s op=\"%s\": dim %d", ws, OPNAME[op], i);
    ty->checks += 1 + w->n;
    if (!ok) {
        ty->failed += 1 + w->n;
        return;
    }
    for (int k = 0; k < w->n; k++) {
        double got = sf_value_as_f64(v, (size_t)k), tol = w->tol_abs + w->tol_el[k] + w->tol_rel * fabs(w->v[k]);
        if (!ASSERT_LE_MSG(fabs(got - w->v[k]), tol, "%s op=\"%s\" element %d: got %.9g want %.9g", ws,
                           OPNAME[op], k, got, w->v[k]))
            ty->failed++;
    }
}

static void run_combination(tally *ty, sf_device spu, const config *c, int role, uint64_t seed) {
    sf_ctx *sf = ty->sf;
    const char *owner = owner_party(c, role);
    sf_scope scope = sf_scope_begin(sf);
    double plain[NIN][NEL];
    sf_argv_item args[NIN + 3];
    for (int in = 0; in < NIN; in++) {
        gen(in, seed, plain[in]);
        args[in] = SF_OBJ(SF_REMOTE(sf_pyu(sf, owner), make_input, SF_I64(in), SF_I64((int64_t)seed)));
    }
    sf_value *row = sf_value_new(SF_F64, 1, (const int64_t[]){4});
    memcpy(sf_value_data(row), PUBROW, sizeof PUBROW);
    args[A_PUBROW] = SF_VAL(row);
    args[A_PUBSCALAR] = SF_F64(PUBSCALAR);
    args[A_PUBMUL] = SF_F64(PUBMUL);
    sf_obj res[NOPS];
    SF_REMOTE_N(spu, k_all, NOPS, res, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
                args[7], args[8]);
    sf_value_unref(&row);
    for (int target = 0; target < 2; target++) {
        char ws[200];
        snprintf(ws, sizeof ws, "config=%s owner=%s(%s) reveal=%s", c->name, ROLE[role], owner,
                 target ? "sf_get" : c->member2);
        for (int op = 0; op < NOPS; op++) {
            expect w;
            plain_op(op, plain, &w);
            sf_value *v = NULL;
            sf_obj o = target ? res[op] : sf_to(res[op], sf_pyu(sf, c->member2));
            if (sf_get(sf, o, &v)) {
                ty->checks += 1 + w.n, ty->failed += 1 + w.n;
                TEST_FAIL("%s op=\"%s\": failed: %s", ws, OPNAME[op], sf_last_error(sf));
                continue;
            }
            check(ty, ws, op, v, &w);
        }
    }
    sf_scope_end(&scope, NULL, 0);
}

/* ------------------------------------------------------------------ error scenarios */

static const char *const ERRORS[] = {"broadcast", "public", "divzero", "reshape", "slice", "sigmoid", NULL};

static int k_err(sf_spu_task *t) {
    double code = sf_spu_public_f64(t, 1);
    const char *e = code >= 0 && code < 6 ? ERRORS[(int)code] : "";
    sf_spu_val X = sf_spu_arg(t, 0), r = X;
    if (!strcmp(e, "broadcast")) r = sf_spu_add(t, X, sf_spu_transpose(t, X));
    else if (!strcmp(e, "public")) (void)sf_spu_public(t, 0);
    else if (!strcmp(e, "divzero")) r = sf_spu_div_public(t, X, 0.0);
    else if (!strcmp(e, "reshape")) r = sf_spu_reshape(t, X, 2, (const int64_t[]){5, 5});
    else if (!strcmp(e, "slice")) r = sf_spu_slice(t, X, 1, 2, 5);
    else if (!strcmp(e, "sigmoid")) r = sf_spu_sigmoid(t, X, (sf_spu_sigmoid_kind)9);
    return sf_spu_return(t, r);
}

static int run_error(sf_ctx *sf, const char *name) {
    sf_device spu = sf_spu(sf, (const char *[]){"alice", "bob"}, 2, &(sf_spu_options){.dealer = "dave"});
    sf_obj x = SF_REMOTE(sf_pyu(sf, "alice"), make_input, SF_I64(IN_X), SF_I64(1));
    int code = 0;
    while (ERRORS[code] && strcmp(ERRORS[code], name)) code++;
    if (!ERRORS[code]) {
        sf_print(sf, "spu_numerics: no error scenario '%s'\n", name);
        return SF_EINVAL;
    }
    sf_obj r = SF_REMOTE(spu, k_err, SF_OBJ(x), SF_I64(code)); /* the call site the errors name */
    sf_value *v;
    if (sf_get(sf, r, &v)) {
        sf_print(sf, "spu_numerics: the kernel failed: %s\n", sf_last_error(sf));
        return SF_EINVAL;
    }
    sf_print(sf, "spu_numerics: the kernel did not fail\n");
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
        for (int r = 0; r < NROLES; r++)
            if (owner_party(c, r)) run_combination(&ty, spu, c, r, (uint64_t)(10 * ci + r + 1));
    }
    if (ty.failed) {
        sf_print(sf, "spu_numerics: %ld of %ld checks FAILED\n", ty.failed, ty.checks);
        return SF_EINVAL;
    }
    sf_print(sf, "spu_numerics: %ld checks passed\n", ty.checks);
    return 0;
}

int main(int argc, char **argv) {
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = NPARTIES};
    return sf_run(&cfg, program, NULL);
}
