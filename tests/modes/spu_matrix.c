/*
 * The SPU role matrix through the runtime, with five parties (alice, bob, carol, dave, erin):
 * every SPU configuration x every role of the party that owns the inputs x both ways in x
 * every SPU operation x every kind of party the result is revealed to, checked against
 * plaintext arithmetic computed here.
 *
 *   configurations  semi2k with a member dealer, semi2k with a dealer outside the SPU,
 *                   semi2k with the default dealer (opts.dealer NULL: the first party that
 *                   is not a member), aby3
 *   owner roles     a member, the dealer when it is a member, the dealer when it is outside
 *                   the SPU, a party outside the SPU that is not the dealer
 *   ways in         the PYU objects passed straight to the kernel; sf_to(obj, spu) first
 *   operations      every sf_spu_* operation of sf.h on float (fixed point) and int64
 *                   inputs, mul also mixed, negative values included
 *   reveal targets  sf_to(result, pyu) of a member, of the dealer, of an outsider; sf_get
 *
 * One kernel per (configuration, owner, way) computes every operation; the inputs come
 * from the owner and differ per combination. Fixed-point results may differ from the
 * exact value by 2 ulps (2^-18) per truncation, other results must be exact; dtype and
 * shape are checked too. Per configuration, every party's protocol traffic (sf_spu_stats)
 * shows who took part: the members and an outside dealer send protocol bytes, nobody else
 * does (under --sf-spu=plain nobody does).
 *
 * Every mismatch fails an assertion (tests/check.h: got and want on stderr, with the
 * configuration, owner role, way, operation, reveal target and element); the run ends with
 * "spu_matrix: N checks passed" or "spu_matrix: F of N checks FAILED" (exit status 1).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

#define NPARTIES 5
static const char *const parties[NPARTIES] = {"alice", "bob", "carol", "dave", "erin"};

/* ------------------------------------------------------------------ inputs */

#define NV 4      /* elements of a vector input */
#define MAXEL 6   /* elements of the largest input (the 2x3 and 3x2 matrices) */

enum { IN_F0, IN_F1, IN_I0, IN_I1, IN_C, IN_FA, IN_FB, IN_IA, IN_IB, NIN };

static const struct {
    const char *name;
    int is_int, ndim;
    int64_t shape[2];
} inputs[NIN] = {
    [IN_F0] = {"f0", 0, 1, {NV}},    [IN_F1] = {"f1", 0, 1, {NV}},
    [IN_I0] = {"i0", 1, 1, {NV}},    [IN_I1] = {"i1", 1, 1, {NV}},
    [IN_C] = {"c", 1, 1, {NV}},      [IN_FA] = {"fa", 0, 2, {2, 3}},
    [IN_FB] = {"fb", 0, 2, {3, 2}},  [IN_IA] = {"ia", 1, 2, {2, 3}},
    [IN_IB] = {"ib", 1, 2, {3, 2}},
};

static int nelems(int ndim, const int64_t *shape) {
    int n = 1;
    for (int i = 0; i < ndim; i++) n *= (int)shape[i];
    return n;
}

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Input `in` of the combination `seed`: floats are multiples of 1/64 (exact in fixed
 * point) up to +-16, integers up to +-100; element 0 negative, element 2 positive, the
 * others either; f1 and i1 equal f0 and i0 in element 1 (so equal/less/greater see a
 * tie); c is 0/1 with both values. */
static void gen(int in, uint64_t seed, double *out) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)in * 0xD1B54A32D192ED03ULL + 1;
    int n = nelems(inputs[in].ndim, inputs[in].shape);
    for (int k = 0; k < n; k++) {
        uint64_t r = next(&s);
        double sign = k == 0 || (k != 2 && (r >> 40) & 1) ? -1 : 1;
        if (in == IN_C) out[k] = (double)(((k + (int)seed) % 2) ^ (k == 3));
        else if (inputs[in].is_int) out[k] = sign * (double)(1 + r % 100);
        else out[k] = sign * (double)(1 + r % 1024) / 64.0;
    }
    if (in == IN_F1 || in == IN_I1) {
        double base[MAXEL];
        gen(in - 1, seed, base);
        out[1] = base[1];
    }
}

static int make_input(sf_task *t) {
    int in = (int)sf_arg_i64(t, 0);
    if (in < 0 || in >= NIN) return sf_fail(t, "make_input: no input %d", in);
    double x[MAXEL];
    gen(in, (uint64_t)sf_arg_i64(t, 1), x);
    sf_value *v = sf_value_new(inputs[in].is_int ? SF_I64 : SF_F64, inputs[in].ndim, inputs[in].shape);
    if (!v) return sf_fail(t, "make_input: out of memory");
    for (size_t k = 0; k < sf_value_nelems(v); k++) {
        if (inputs[in].is_int) ((int64_t *)sf_value_data(v))[k] = (int64_t)x[k];
        else ((double *)sf_value_data(v))[k] = x[k];
    }
    return sf_return(t, 0, v);
}

/* ------------------------------------------------------------------ operations */

typedef enum { ADD, SUB, NEG, MUL, ADDP, MULP, LESS, GREATER, EQUAL, SELECT, RELU, SUM, MATMUL } opcode;

typedef struct {
    const char *name;
    opcode op;
    int x, y, z; /* input operands (as many as the operation takes) */
    double c;    /* the public constant of add_public / mul_public */
    int trunc;   /* fixed-point truncations in the result */
} op_def;

static const op_def ops[] = {
    {"add f", ADD, IN_F0, IN_F1, 0, 0, 0},           {"add i", ADD, IN_I0, IN_I1, 0, 0, 0},
    {"sub f", SUB, IN_F0, IN_F1, 0, 0, 0},           {"sub i", SUB, IN_I1, IN_I0, 0, 0, 0},
    {"neg f", NEG, IN_F1, 0, 0, 0, 0},               {"neg i", NEG, IN_I0, 0, 0, 0, 0},
    {"mul f*f", MUL, IN_F0, IN_F1, 0, 0, 1},         {"mul i*i", MUL, IN_I0, IN_I1, 0, 0, 0},
    {"mul f*i", MUL, IN_F0, IN_I1, 0, 0, 0},         {"mul i*f", MUL, IN_I0, IN_F1, 0, 0, 0},
    {"add_public f", ADDP, IN_F0, 0, 0, -1.25, 0},   {"add_public i", ADDP, IN_I1, 0, 0, 7, 0},
    {"mul_public f", MULP, IN_F1, 0, 0, -1.75, 1},   {"mul_public i", MULP, IN_I0, 0, 0, -3, 0},
    {"less f", LESS, IN_F0, IN_F1, 0, 0, 0},         {"less i", LESS, IN_I0, IN_I1, 0, 0, 0},
    {"greater f", GREATER, IN_F0, IN_F1, 0, 0, 0},   {"greater i", GREATER, IN_I0, IN_I1, 0, 0, 0},
    {"equal f", EQUAL, IN_F0, IN_F1, 0, 0, 0},       {"equal i", EQUAL, IN_I0, IN_I1, 0, 0, 0},
    {"select f", SELECT, IN_C, IN_F0, IN_F1, 0, 0},  {"select i", SELECT, IN_C, IN_I0, IN_I1, 0, 0},
    {"relu f", RELU, IN_F0, 0, 0, 0, 0},             {"relu i", RELU, IN_I1, 0, 0, 0, 0},
    {"sum f", SUM, IN_F1, 0, 0, 0, 0},               {"sum i", SUM, IN_I0, 0, 0, 0, 0},
    {"matmul f*f", MATMUL, IN_FA, IN_FB, 0, 0, 1},   {"matmul i*i", MATMUL, IN_IA, IN_IB, 0, 0, 0},
    {"matmul f*i", MATMUL, IN_FA, IN_IB, 0, 0, 0},
};
#define NOPS ((int)(sizeof ops / sizeof ops[0]))

static sf_spu_val spu_op(sf_spu_task *t, const op_def *o) {
#define X sf_spu_arg(t, o->x)
#define Y sf_spu_arg(t, o->y)
    switch (o->op) {
    case ADD: return sf_spu_add(t, X, Y);
    case SUB: return sf_spu_sub(t, X, Y);
    case NEG: return sf_spu_neg(t, X);
    case MUL: return sf_spu_mul(t, X, Y);
    case ADDP: return sf_spu_add_public(t, X, o->c);
    case MULP: return sf_spu_mul_public(t, X, o->c);
    case LESS: return sf_spu_less(t, X, Y);
    case GREATER: return sf_spu_greater(t, X, Y);
    case EQUAL: return sf_spu_equal(t, X, Y);
    case SELECT: return sf_spu_select(t, X, Y, sf_spu_arg(t, o->z));
    case RELU: return sf_spu_relu(t, X);
    case SUM: return sf_spu_sum(t, X);
    case MATMUL: return sf_spu_matmul(t, X, Y);
    }
#undef X
#undef Y
    return (sf_spu_val){-1};
}

/* The kernel: every operation of the table, result i = ops[i]. */
static int k_all(sf_spu_task *t) {
    for (int i = 0; i < NOPS; i++) SF_TRY(sf_spu_return_n(t, i, spu_op(t, &ops[i])));
    return 0;
}

/* The expected result of o, its dtype and shape. */
typedef struct {
    int is_int, ndim, n;
    int64_t shape[2];
    double v[MAXEL];
} expect;

static void plain_op(const op_def *o, double in[NIN][MAXEL], expect *w) {
    const double *a = in[o->x], *b = in[o->y], *c = in[o->z];
    if (o->op == LESS || o->op == GREATER || o->op == EQUAL) w->is_int = 1;  /* 0/1 */
    else if (o->op == SELECT) w->is_int = inputs[o->y].is_int;             /* the branches' kind */
    else if (o->op == MUL || o->op == MATMUL) w->is_int = inputs[o->x].is_int && inputs[o->y].is_int;
    else w->is_int = inputs[o->x].is_int;
    w->ndim = inputs[o->x].ndim;
    memcpy(w->shape, inputs[o->x].shape, sizeof w->shape);
    if (o->op == SUM) w->ndim = 0;
    if (o->op == MATMUL) w->shape[1] = inputs[o->y].shape[1];
    w->n = nelems(w->ndim, w->shape);
    for (int k = 0; k < w->n; k++) {
        double r = 0;
        switch (o->op) {
        case ADD: r = a[k] + b[k]; break;
        case SUB: r = a[k] - b[k]; break;
        case NEG: r = -a[k]; break;
        case MUL: r = a[k] * b[k]; break;
        case ADDP: r = a[k] + o->c; break;
        case MULP: r = a[k] * o->c; break;
        case LESS: r = a[k] < b[k]; break;
        case GREATER: r = a[k] > b[k]; break;
        case EQUAL: r = a[k] == b[k]; break;
        case SELECT: r = a[k] != 0 ? b[k] : c[k]; break;
        case RELU: r = a[k] > 0 ? a[k] : 0; break;
        case SUM:
            for (int q = 0; q < nelems(inputs[o->x].ndim, inputs[o->x].shape); q++) r += a[q];
            break;
        case MATMUL: {
            int kk = (int)inputs[o->x].shape[1], nn = (int)w->shape[1];
            for (int q = 0; q < kk; q++) r += a[(k / nn) * kk + q] * b[q * nn + k % nn];
            break;
        }
        }
        w->v[k] = r;
    }
}

/* ------------------------------------------------------------------ the matrix */

enum { R_MEMBER, R_DEALER_MEMBER, R_DEALER_OUTSIDE, R_OUTSIDER, NROLES };
static const char *const role_names[NROLES] = {"member", "dealer-member", "dealer-outside", "outsider"};
enum { T_MEMBER, T_DEALER, T_OUTSIDER, T_ALL, NTARGETS };
static const char *const target_names[NTARGETS] = {"member", "dealer", "outsider", "sf_get"};
enum { W_DIRECT, W_SF_TO, NWAYS };
static const char *const way_names[NWAYS] = {"direct", "sf_to"};

typedef struct {
    const char *name, *protocol;
    const char *members[3];
    int nmembers;
    const char *dealer_opt; /* opts.dealer */
    const char *dealer;     /* the dealer it resolves to (NULL: aby3, none) */
    const char *member;     /* the member owning inputs (not the dealer) */
    const char *member2;    /* the member results are revealed to (not the dealer) */
    const char *outsider;   /* neither member nor dealer */
} config;

/* The default dealer is the first party that is not a member: alice (party 0) for
 * members bob, carol, erin. */
static const config configs[] = {
    {"semi2k/member-dealer", "semi2k", {"alice", "bob", "carol"}, 3, "carol", "carol", "bob", "alice", "erin"},
    {"semi2k/outside-dealer", "semi2k", {"alice", "bob"}, 2, "dave", "dave", "alice", "bob", "erin"},
    {"semi2k/default-dealer", "semi2k", {"bob", "carol", "erin"}, 3, NULL, "alice", "erin", "carol", "dave"},
    {"aby3", "aby3", {"alice", "bob", "carol"}, 3, NULL, NULL, "carol", "bob", "dave"},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

static int is_member(const config *c, const char *p) {
    for (int i = 0; i < c->nmembers; i++)
        if (!strcmp(c->members[i], p)) return 1;
    return 0;
}

/* The party playing owner role r in c, or NULL if c has no such role. */
static const char *owner_party(const config *c, int r) {
    switch (r) {
    case R_MEMBER: return c->member;
    case R_DEALER_MEMBER: return c->dealer && is_member(c, c->dealer) ? c->dealer : NULL;
    case R_DEALER_OUTSIDE: return c->dealer && !is_member(c, c->dealer) ? c->dealer : NULL;
    default: return c->outsider;
    }
}

static const char *target_party(const config *c, int t) {
    switch (t) {
    case T_MEMBER: return c->member2;
    case T_DEALER: return c->dealer;
    case T_OUTSIDER: return c->outsider;
    default: return "every party";
    }
}

typedef struct {
    sf_ctx *sf;
    long checks, failed;
} tally;

typedef struct {
    const config *cfg;
    int role, way, target;
    const char *owner;
} where;

/* Where a check is: "config=... owner=...(...) way=... op="..." reveal=...(...)". */
static const char *where_str(const where *at, const char *op, char *buf, size_t n) {
    snprintf(buf, n, "config=%s owner=%s(%s) way=%s op=\"%s\" reveal=%s(%s)", at->cfg->name, role_names[at->role],
             at->owner, way_names[at->way], op, target_names[at->target], target_party(at->cfg, at->target));
    return buf;
}

/* Check one revealed result against w: dtype and shape (one check), then every element. */
static void check_value(tally *ty, const where *at, const op_def *o, const sf_value *v, const expect *w) {
    char ws[320];
    where_str(at, o->name, ws, sizeof ws);
    sf_dtype dt = w->is_int ? SF_I64 : SF_F64;
    int ok = ASSERT_EQ_MSG(sf_value_dtype(v), dt, "%s: dtype", ws) &&
             ASSERT_EQ_MSG(sf_value_ndim(v), w->ndim, "%s: ndim", ws) &&
             ASSERT_EQ_MSG((int)sf_value_nelems(v), w->n, "%s: elements", ws);
    for (int i = 0; ok && i < w->ndim; i++) ok = ASSERT_EQ_MSG(sf_value_dim(v, i), w->shape[i], "%s: dim %d", ws, i);
    ty->checks += 1 + w->n;
    if (!ok) {
        ty->failed += 1 + w->n;
        return;
    }
    double tol = ldexp(2.0 * o->trunc, -18);
    for (int k = 0; k < w->n; k++) {
        if (w->is_int ? ASSERT_EQ_MSG(sf_value_as_i64(v, (size_t)k), (int64_t)w->v[k], "%s: element %d", ws, k)
                      : ASSERT_LE_MSG(fabs(sf_value_as_f64(v, (size_t)k) - w->v[k]), tol,
                                      "%s: element %d: got %.9g want %.9g", ws, k, sf_value_as_f64(v, (size_t)k),
                                      w->v[k]))
            continue;
        ty->failed++;
    }
}

/* A failed reveal (the kernel or an input failed) fails every check of the result. */
static void check_failed(tally *ty, const where *at, const op_def *o, const expect *w) {
    char ws[320];
    ty->checks += 1 + w->n;
    ty->failed += 1 + w->n;
    TEST_FAIL("%s: the result failed: %s", where_str(at, o->name, ws, sizeof ws), sf_last_error(ty->sf));
}

/* Reveal result r to target t (sf_to a PYU, then sf_get of that object; or sf_get) and check. */
static void reveal_and_check(tally *ty, where *at, const op_def *o, sf_obj r, const expect *w) {
    sf_value *v = NULL;
    int rc;
    if (at->target == T_ALL) {
        rc = sf_get(ty->sf, r, &v);
    } else {
        sf_obj p = sf_to(r, sf_pyu(ty->sf, target_party(at->cfg, at->target)));
        rc = sf_get(ty->sf, p, &v);
    }
    if (rc) check_failed(ty, at, o, w);
    else check_value(ty, at, o, v, w);
}

/* One (configuration, owner, way): inputs from the owner, one kernel, every result
 * revealed to every target (the sf_to targets first, sf_get last). */
static void run_combination(tally *ty, sf_device spu, where *at, uint64_t seed) {
    sf_ctx *sf = ty->sf;
    sf_scope scope = sf_scope_begin(sf);
    double plain[NIN][MAXEL];
    sf_argv_item args[NIN];
    for (int in = 0; in < NIN; in++) {
        gen(in, seed, plain[in]);
        sf_obj x = SF_REMOTE(sf_pyu(sf, at->owner), make_input, SF_I64(in), SF_I64((int64_t)seed));
        args[in] = SF_OBJ(at->way == W_SF_TO ? sf_to(x, spu) : x);
    }
    sf_obj res[NOPS];
    SF_REMOTE_N(spu, k_all, NOPS, res, args[IN_F0], args[IN_F1], args[IN_I0], args[IN_I1], args[IN_C],
                args[IN_FA], args[IN_FB], args[IN_IA], args[IN_IB]);
    long before = ty->failed;
    for (at->target = 0; at->target < NTARGETS; at->target++) {
        if (at->target != T_ALL && !target_party(at->cfg, at->target)) continue;
        for (int i = 0; i < NOPS; i++) {
            expect w;
            plain_op(&ops[i], plain, &w);
            reveal_and_check(ty, at, &ops[i], res[i], &w);
        }
    }
    if (ty->failed > before)
        sf_print(sf, "FAILED combination config=%s owner=%s(%s) way=%s: %ld checks failed\n", at->cfg->name,
                 role_names[at->role], at->owner, way_names[at->way], ty->failed - before);
    sf_scope_end(&scope, NULL, 0);
}

static int echo_i64(sf_task *t) { return sf_return(t, 0, sf_value_i64(sf_arg_i64(t, 0))); }

/* Who took part: every party publishes its protocol bytes on spu; the members and an
 * outside dealer have sent some, nobody else has (under --sf-spu=plain: nobody). */
static void check_participants(tally *ty, sf_device spu, const config *c) {
    sf_ctx *sf = ty->sf;
    sf_spu_counters mine;
    if (sf_spu_stats(spu, &mine)) mine.bytes_sent = (uint64_t)-1;
    int64_t bytes[NPARTIES];
    for (int p = 0; p < NPARTIES; p++) {
        sf_obj e = SF_REMOTE(sf_pyu(sf, parties[p]), echo_i64, SF_I64((int64_t)mine.bytes_sent));
        sf_value *v;
        bytes[p] = sf_get(sf, e, &v) ? -1 : sf_value_as_i64(v, 0);
        sf_release(e);
    }
    int real = 0; /* the protocols ran (not --sf-spu=plain) iff member 0 sent anything */
    for (int p = 0; p < NPARTIES; p++)
        if (!strcmp(parties[p], c->members[0])) real = bytes[p] > 0;
    for (int p = 0; p < NPARTIES; p++) {
        int part = is_member(c, parties[p]) || (c->dealer && !strcmp(parties[p], c->dealer));
        int want = real && part;
        ty->checks++;
        if (ASSERT_MSG((bytes[p] > 0) == want && bytes[p] >= 0,
                       "config=%s stats: %s sent %lld protocol bytes, want %s (%s)", c->name, parties[p],
                       (long long)bytes[p], want ? "some" : "none",
                       !real ? "plaintext simulation" : part ? "a participant" : "not a participant"))
            continue;
        ty->failed++;
    }
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    tally ty = {.sf = sf};
    for (int ci = 0; ci < NCONFIGS; ci++) {
        const config *c = &configs[ci];
        sf_spu_options o = {.protocol = c->protocol, .dealer = c->dealer_opt};
        sf_device spu = sf_spu(sf, c->members, c->nmembers, &o);
        for (int r = 0; r < NROLES; r++) {
            if (!owner_party(c, r)) continue;
            for (int w = 0; w < NWAYS; w++) {
                where at = {.cfg = c, .role = r, .way = w, .owner = owner_party(c, r)};
                run_combination(&ty, spu, &at, (uint64_t)(100 * ci + 10 * r + w + 1));
            }
        }
        check_participants(&ty, spu, c);
    }
    if (ty.failed) {
        sf_print(sf, "spu_matrix: %ld of %ld checks FAILED\n", ty.failed, ty.checks);
        return SF_EINVAL;
    }
    sf_print(sf, "spu_matrix: %ld checks passed\n", ty.checks);
    return 0;
}

int main(int argc, char **argv) {
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = NPARTIES};
    return sf_run(&cfg, program, NULL);
}
