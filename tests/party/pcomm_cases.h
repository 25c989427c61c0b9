/*
 * Every party-communicator operation with known answers, run by each rank of one
 * communicator of either backend (tests/party/test_pcomm_mpi.c, test_pcomm_mem.c).
 *
 * Inputs depend only on (rank, size, case), so every rank can build any rank's input
 * and the expected results locally. Reduction inputs are small integers (also in float
 * dtypes), so every combination order gives the same bits and the two backends can be
 * compared value for value at any size. Each result (digest) and each status goes into
 * a log; test_pcomm_mem.c compares the mem backend's log with the MPI backend's.
 * A failed check (tests/check.h) prints the case, with the rank as the failure context,
 * and counts; nothing stops early (a rank that stopped would leave the others waiting in
 * a collective).
 */
#ifndef SF_TESTS_PCOMM_CASES_H
#define SF_TESTS_PCOMM_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/party.h"
#include "core/value.h"
#include "tests/check.h"

#define PC_LOG_MAX 4096

typedef struct pc_log {
    int n;
    uint64_t d[PC_LOG_MAX];
    int line[PC_LOG_MAX];
} pc_log;

static void pc_log_at(pc_log *L, int line, uint64_t d) {
    if (L->n < PC_LOG_MAX) {
        L->line[L->n] = line;
        L->d[L->n++] = d;
    }
}
#define PC_LOG(L, d) pc_log_at((L), __LINE__, (uint64_t)(d))
#define PC_LOGV(L, v) pc_log_at((L), __LINE__, (v) ? sf__value_digest(v) : 0x0ddba11ULL)

/* ---------------------------------------------------------------- values */

static int pc_unsigned(int dt) {
    return dt == SF_U8 || dt == SF_U16 || dt == SF_U32 || dt == SF_U64 || dt == SF_BYTES;
}

/* Element i of rank r's input: small integers, -3..3 (signed, float) or 1..7 (unsigned). */
static int64_t pc_fill(int dt, int r, size_t i) {
    int64_t x = (int64_t)((((size_t)r + 1) * (i % 5 + 1) + i / 5) % 7);
    return pc_unsigned(dt) ? x + 1 : x - 3;
}

/* Store element i: integers truncated to the dtype's width (two's complement), floats
 * from f. */
static void pc_set(sf_value *v, size_t i, uint64_t x, double f) {
    void *p = v->data;
    switch ((sf_dtype)v->dtype) {
    case SF_I8: ((int8_t *)p)[i] = (int8_t)(uint8_t)x; break;
    case SF_I16: ((int16_t *)p)[i] = (int16_t)(uint16_t)x; break;
    case SF_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)x; break;
    case SF_I64: ((int64_t *)p)[i] = (int64_t)x; break;
    case SF_U8:
    case SF_BYTES: ((uint8_t *)p)[i] = (uint8_t)x; break;
    case SF_U16: ((uint16_t *)p)[i] = (uint16_t)x; break;
    case SF_U32: ((uint32_t *)p)[i] = (uint32_t)x; break;
    case SF_U64: ((uint64_t *)p)[i] = x; break;
    case SF_F32: ((float *)p)[i] = (float)f; break;
    case SF_F64: ((double *)p)[i] = f; break;
    default: break;
    }
}

/* Rank r's input of a case (`salt` varies the data between cases). */
static sf_value *pc_make(int dt, int ndim, const int64_t *shape, int r, int salt) {
    sf_value *v = sf__value_alloc((sf_dtype)dt, ndim, shape);
    if (!v) {
        fprintf(stderr, "pc_make: allocation failed\n");
        exit(1);
    }
    for (size_t i = 0; i < v->nelems; i++) {
        int64_t x = pc_fill(dt, r + salt, i);
        pc_set(v, i, (uint64_t)x, (double)x);
    }
    return v;
}

static int pc_same(const sf_value *a, const sf_value *b) {
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->nelems != b->nelems ||
        a->nbytes != b->nbytes)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

static const char *pc_desc(const sf_value *v, char *buf, size_t n) {
    if (!v) return "NULL";
    int k = snprintf(buf, n, "%s[", sf_dtype_name((sf_dtype)v->dtype));
    for (int i = 0; i < v->ndim && k < (int)n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s%lld", i ? "," : "", (long long)v->shape[i]);
    if (k < (int)n) snprintf(buf + k, n - (size_t)k, "]");
    return buf;
}

/* ---------------------------------------------------------------- shapes */

typedef struct pc_shape {
    int ndim;
    int64_t s[4];
} pc_shape;

static const pc_shape pc_shapes[] = {
    {0, {0}}, {1, {0}}, {1, {5}}, {2, {2, 3}}, {3, {3, 0, 2}}, {4, {1, 1, 1, 4}},
};
#define PC_NSHAPES ((int)(sizeof pc_shapes / sizeof pc_shapes[0]))

/* ---------------------------------------------------------------- bcast */

static void pc_case_bcast(sf_pcomm *c, pc_log *L) {
    static const int dts[] = {SF_I8, SF_U16, SF_I32, SF_I64, SF_F32, SF_F64, SF_BYTES};
    int roots[2] = {0, c->size - 1};
    char b1[96], b2[96];
    for (int k = 0; k < 2; k++)
        for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++)
            for (int s = 0; s < PC_NSHAPES; s++) {
                int root = roots[k];
                sf_value *want = pc_make(dts[t], pc_shapes[s].ndim, pc_shapes[s].s, root, s);
                sf_value *v = c->rank == root ? sf_value_ref(want) : NULL;
                int rc = c->ops->bcast(c, root, &v);
                ASSERT_MSG(rc == SF_OK && pc_same(v, want), "bcast root %d %s: rc %d got %s", root,
                           pc_desc(want, b1, sizeof b1), rc, pc_desc(v, b2, sizeof b2));
                PC_LOG(L, rc);
                PC_LOGV(L, v);
                sf_value_unref(&v);
                sf_value_unref(&want);
            }
    /* larger than the small-allocation limit, and one larger than a message piece */
    int64_t big = 10000;
    sf_value *want = pc_make(SF_F64, 1, &big, 7, 3);
    sf_value *v = c->rank == c->size - 1 ? sf_value_ref(want) : NULL;
    int rc = c->ops->bcast(c, c->size - 1, &v);
    ASSERT_MSG(rc == SF_OK && pc_same(v, want), "bcast of 10000 float64: rc %d", rc);
    PC_LOGV(L, v);
    sf_value_unref(&v);
    sf_value_unref(&want);
}

/* ---------------------------------------------------------------- reductions */

/* The expected reduction of every rank's pc_make(dt, shape, r, salt), from the inputs'
 * integer values: SUM/PROD wrap around (uint64 arithmetic truncated to the dtype). */
static sf_value *pc_expect_reduce(int dt, const pc_shape *sh, int size, int salt, int op) {
    sf_value *e = sf__value_alloc((sf_dtype)dt, sh->ndim, sh->s);
    for (size_t i = 0; i < e->nelems; i++) {
        int64_t mn = 0, mx = 0;
        uint64_t sum = 0, prod = 1;
        double fs = 0, fp = 1;
        for (int r = 0; r < size; r++) {
            int64_t x = pc_fill(dt, r + salt, i);
            if (r == 0 || x < mn) mn = x;
            if (r == 0 || x > mx) mx = x;
            sum += (uint64_t)x;
            prod *= (uint64_t)x;
            fs += (double)x;
            fp *= (double)x;
        }
        switch (op) {
        case SF_OP_SUM: pc_set(e, i, sum, fs); break;
        case SF_OP_PROD: pc_set(e, i, prod, fp); break;
        case SF_OP_MIN: pc_set(e, i, (uint64_t)mn, (double)mn); break;
        default: pc_set(e, i, (uint64_t)mx, (double)mx); break;
        }
    }
    return e;
}

static void pc_case_reduce(sf_pcomm *c, pc_log *L) {
    char b1[96];
    for (int dt = 0; dt < SF_BYTES; dt++)
        for (int op = 0; op <= SF_OP_MAX; op++)
            for (int s = 0; s < PC_NSHAPES; s++) {
                const pc_shape *sh = &pc_shapes[s];
                int salt = dt + op + s;
                sf_value *in = pc_make(dt, sh->ndim, sh->s, c->rank, salt);
                sf_value *want = pc_expect_reduce(dt, sh, c->size, salt, op);
                sf_value *out = NULL;
                int rc = c->ops->allreduce(c, in, (sf_reduce_op)op, &out);
                ASSERT_MSG(rc == SF_OK && pc_same(out, want), "allreduce op %d %s: rc %d", op,
                           pc_desc(in, b1, sizeof b1), rc);
                PC_LOGV(L, out);
                sf_value_unref(&out);
                int root = (dt + s) % c->size;
                rc = c->ops->reduce(c, root, in, (sf_reduce_op)op, &out);
                if (c->rank == root)
                    ASSERT_MSG(rc == SF_OK && pc_same(out, want), "reduce op %d to %d %s: rc %d",
                               op, root, pc_desc(in, b1, sizeof b1), rc);
                else
                    ASSERT_MSG(rc == SF_OK && out == NULL, "reduce op %d to %d on non-root: rc %d",
                               op, root, rc);
                PC_LOGV(L, out);
                sf_value_unref(&out);
                sf_value_unref(&want);
                sf_value_unref(&in);
            }
    /* wrap-around and extreme values, known answers */
    {
        sf_value *in = sf__value_alloc(SF_I8, 0, NULL), *out = NULL;
        *(int8_t *)in->data = 100;
        int rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
        int8_t want = (int8_t)(uint8_t)(100u * (unsigned)c->size);
        ASSERT_MSG(rc == SF_OK && out && *(int8_t *)out->data == want, "int8 sum wraps: rc %d", rc);
        PC_LOGV(L, out);
        sf_value_unref(&out);
        sf_value_unref(&in);
    }
    {
        int64_t n = 3;
        sf_value *in = sf__value_alloc(SF_U16, 1, &n), *out = NULL;
        uint16_t *p = in->data;
        p[0] = 65535, p[1] = 300, p[2] = (uint16_t)(1000 + c->rank);
        int rc = c->ops->allreduce(c, in, SF_OP_PROD, &out);
        uint16_t w0 = 1, w1 = 1, w2 = 1;
        for (int r = 0; r < c->size; r++) {
            w0 = (uint16_t)(w0 * 65535u);
            w1 = (uint16_t)(w1 * 300u);
            w2 = (uint16_t)((uint32_t)w2 * (uint32_t)(1000 + r));
        }
        const uint16_t *o = out ? out->data : NULL;
        ASSERT_MSG(rc == SF_OK && o && o[0] == w0 && o[1] == w1 && o[2] == w2,
                   "uint16 prod wraps: rc %d", rc);
        PC_LOGV(L, out);
        sf_value_unref(&out);
        sf_value_unref(&in);
    }
    {
        int64_t n = 4;
        sf_value *in = sf__value_alloc(SF_I64, 1, &n), *mn = NULL, *mx = NULL;
        int64_t *p = in->data;
        p[0] = INT64_MIN + c->rank, p[1] = INT64_MAX - c->rank, p[2] = -c->rank, p[3] = c->rank;
        int rc1 = c->ops->allreduce(c, in, SF_OP_MIN, &mn);
        int rc2 = c->ops->allreduce(c, in, SF_OP_MAX, &mx);
        const int64_t *a = mn ? mn->data : NULL, *b = mx ? mx->data : NULL;
        int64_t s1 = c->size - 1;
        ASSERT_MSG(!rc1 && !rc2 && a && b && a[0] == INT64_MIN && a[1] == INT64_MAX - s1 &&
                          a[2] == -s1 && a[3] == 0 && b[0] == INT64_MIN + s1 && b[1] == INT64_MAX &&
                          b[2] == 0 && b[3] == s1,
                   "int64 min/max extremes: rc %d %d", rc1, rc2);
        PC_LOGV(L, mn);
        PC_LOGV(L, mx);
        sf_value_unref(&mn);
        sf_value_unref(&mx);
        sf_value_unref(&in);
    }
    {
        /* float64 sum of a large vector (pieces with a small chunk), exact values */
        int64_t n = 20000;
        sf_value *in = sf__value_alloc(SF_F64, 1, &n), *out = NULL;
        double *p = in->data;
        for (int64_t i = 0; i < n; i++) p[i] = (double)(i % 1000) * (c->rank + 1) + 0.5;
        int rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
        int good = rc == SF_OK && out;
        double tri = (double)c->size * (c->size + 1) / 2;
        for (int64_t i = 0; good && i < n; i++)
            good = ((double *)out->data)[i] == (double)(i % 1000) * tri + 0.5 * c->size;
        ASSERT_MSG(good, "float64 sum of 20000: rc %d", rc);
        PC_LOGV(L, out);
        sf_value_unref(&out);
        sf_value_unref(&in);
    }
}

/* ---------------------------------------------------------------- gather */

typedef struct pc_gcase {
    int dt, ndim;
    int64_t trail[3]; /* shape[1..ndim) */
    int lead_kind;    /* 0: (2r+1)%4, 1: r%2, 2: 0-d, 3: all 0, 4: 100+r, 5: r+1 */
} pc_gcase;

static const pc_gcase pc_gcases[] = {
    {SF_F64, 2, {3}, 0},  {SF_I16, 3, {2, 2}, 1}, {SF_I64, 0, {0}, 2}, {SF_U8, 2, {3}, 3},
    {SF_U8, 1, {0}, 4},   {SF_BYTES, 1, {0}, 5},  {SF_F32, 1, {0}, 0}, {SF_U32, 2, {0}, 5},
};

static sf_value *pc_gather_input(const pc_gcase *g, int r, int salt) {
    int64_t shape[4] = {0};
    switch (g->lead_kind) {
    case 0: shape[0] = (2 * r + 1) % 4; break;
    case 1: shape[0] = r % 2; break;
    case 3: shape[0] = 0; break;
    case 4: shape[0] = 100 + r; break;
    default: shape[0] = r + 1; break;
    }
    for (int i = 1; i < g->ndim; i++) shape[i] = g->trail[i - 1];
    return pc_make(g->dt, g->ndim, shape, r, salt);
}

static void pc_case_gather(sf_pcomm *c, pc_log *L) {
    char b1[96], b2[96];
    int ng = (int)(sizeof pc_gcases / sizeof pc_gcases[0]);
    for (int k = 0; k < 2; k++)
        for (int g = 0; g < ng; g++) {
            const pc_gcase *gc = &pc_gcases[g];
            int root = k ? c->size - 1 : 0;
            sf_value *in = pc_gather_input(gc, c->rank, g);
            sf_value *want = NULL;
            if (c->rank == root) {
                int64_t shape[4] = {0};
                size_t bytes = 0;
                for (int r = 0; r < c->size; r++) {
                    sf_value *x = pc_gather_input(gc, r, g);
                    shape[0] += gc->ndim ? x->shape[0] : 1;
                    bytes += x->nbytes;
                    sf_value_unref(&x);
                }
                for (int i = 1; i < gc->ndim; i++) shape[i] = gc->trail[i - 1];
                want = sf__value_alloc((sf_dtype)gc->dt, gc->ndim ? gc->ndim : 1, shape);
                char *p = want->data;
                for (int r = 0; r < c->size; r++) {
                    sf_value *x = pc_gather_input(gc, r, g);
                    memcpy(p, x->data, x->nbytes);
                    p += x->nbytes;
                    sf_value_unref(&x);
                }
                ASSERT_EQ_MSG(bytes, want->nbytes, "gather case %d: expected size", g);
            }
            sf_value *out = NULL;
            int rc = c->ops->gather(c, root, in, &out);
            ASSERT_MSG(rc == SF_OK && pc_same(out, want), "gather case %d to %d %s: rc %d got %s",
                       g, root, pc_desc(in, b1, sizeof b1), rc, pc_desc(out, b2, sizeof b2));
            PC_LOG(L, rc);
            PC_LOGV(L, out);
            sf_value_unref(&out);
            sf_value_unref(&want);
            sf_value_unref(&in);
        }
}

/* gather_into: the root's block already in place in its own preallocated result (the
 * HDF5 read path); every case with a leading axis, to the first and the last rank; then a
 * rank whose rows do not fit the result's: SF_ETYPE on every rank, no hang. */
static void pc_case_gather_into(sf_pcomm *c, pc_log *L) {
    char b2[96];
    int ng = (int)(sizeof pc_gcases / sizeof pc_gcases[0]);
    for (int k = 0; k < 2; k++)
        for (int g = 0; g < ng; g++) {
            const pc_gcase *gc = &pc_gcases[g];
            if (gc->ndim == 0) continue;
            int root = k ? c->size - 1 : 0;
            sf_value *in = pc_gather_input(gc, c->rank, g), *want = NULL, *out = NULL;
            int64_t root_rows = in->shape[0];
            if (c->rank == root) {
                int64_t shape[4] = {0};
                for (int r = 0; r < c->size; r++) {
                    sf_value *x = pc_gather_input(gc, r, g);
                    shape[0] += x->shape[0];
                    sf_value_unref(&x);
                }
                for (int i = 1; i < gc->ndim; i++) shape[i] = gc->trail[i - 1];
                want = sf__value_alloc((sf_dtype)gc->dt, gc->ndim, shape);
                out = sf__value_alloc((sf_dtype)gc->dt, gc->ndim, shape);
                memset(out->data, 0x5A, out->nbytes); /* whatever is not written shows */
                char *p = want->data;
                for (int r = 0; r < c->size; r++) {
                    sf_value *x = pc_gather_input(gc, r, g);
                    if (r == root) memcpy((char *)out->data + (p - (char *)want->data), x->data, x->nbytes);
                    memcpy(p, x->data, x->nbytes);
                    p += x->nbytes;
                    sf_value_unref(&x);
                }
            }
            int rc = c->ops->gather_into(c, root, c->rank == root ? NULL : in, root_rows, out);
            ASSERT_MSG(rc == SF_OK && (c->rank != root || pc_same(out, want)),
                       "gather_into case %d to %d: rc %d got %s", g, root, rc, pc_desc(out, b2, sizeof b2));
            PC_LOG(L, rc);
            if (c->rank == root) PC_LOGV(L, out);
            sf_value_unref(&out);
            sf_value_unref(&want);
            sf_value_unref(&in);
        }
    if (c->size < 2) return;
    /* the last rank sends one row too many */
    int64_t sh[2] = {c->rank == c->size - 1 ? 3 : 2, 4};
    sf_value *in = pc_make(SF_F64, 2, sh, c->rank, 7), *out = NULL;
    if (c->rank == 0) {
        int64_t tot[2] = {2 * (int64_t)c->size, 4};
        out = sf__value_alloc(SF_F64, 2, tot);
    }
    int rc = c->ops->gather_into(c, 0, c->rank == 0 ? NULL : in, 2, out);
    ASSERT_STATUS_MSG(rc, SF_ETYPE, "gather_into with a block too many rows: rc %d, not SF_ETYPE", rc);
    PC_LOG(L, rc);
    sf_value_unref(&out);
    sf_value_unref(&in);
}

/* ---------------------------------------------------------------- scatter */

typedef struct pc_scase {
    int dt;
    pc_shape sh;
} pc_scase;

static const pc_scase pc_scases[] = {
    {SF_F32, {2, {7, 2}}},  {SF_I64, {1, {2}}},     {SF_U8, {1, {10}}},     {SF_F64, {2, {0, 4}}},
    {SF_BYTES, {1, {13}}}, {SF_U16, {1, {40000}}}, {SF_I8, {3, {5, 3, 2}}}, {SF_F64, {2, {30, 0}}},
    {SF_F64, {2, {20, 3}}},
};

static void pc_case_scatter(sf_pcomm *c, pc_log *L) {
    char b1[96], b2[96];
    int ns = (int)(sizeof pc_scases / sizeof pc_scases[0]);
    for (int s = 0; s < ns; s++) {
        const pc_scase *sc = &pc_scases[s];
        int root = s % c->size;
        sf_value *full = pc_make(sc->dt, sc->sh.ndim, sc->sh.s, root, s);
        int64_t row0, nrows, shape[4];
        sf__block_rows(sc->sh.s[0], c->size, c->rank, &row0, &nrows);
        memcpy(shape, sc->sh.s, sizeof shape);
        shape[0] = nrows;
        sf_value *want = sf__value_alloc((sf_dtype)sc->dt, sc->sh.ndim, shape);
        size_t rowbytes = sc->sh.s[0] ? full->nbytes / (size_t)sc->sh.s[0] : 0;
        if (want->nbytes) memcpy(want->data, (char *)full->data + (size_t)row0 * rowbytes, want->nbytes);
        sf_value *out = NULL;
        int rc = c->ops->scatter(c, root, c->rank == root ? full : NULL, &out);
        ASSERT_MSG(rc == SF_OK && pc_same(out, want), "scatter case %d from %d %s: rc %d got %s",
                   s, root, pc_desc(full, b1, sizeof b1), rc, pc_desc(out, b2, sizeof b2));
        PC_LOGV(L, out);
        sf_value_unref(&out);
        sf_value_unref(&want);
        sf_value_unref(&full);
    }
}

/* ---------------------------------------------------------------- point-to-point */

static void pc_case_p2p(sf_pcomm *c, pc_log *L) {
    int me = c->rank, n = c->size, rc;
    char b1[96];
    /* every rank to 0, then 0 to every rank: 0-d, empty, inline, large */
    static const pc_shape shp[] = {{0, {0}}, {2, {0, 3}}, {1, {17}}, {2, {2500, 4}}};
    static const int dts[] = {SF_F64, SF_I32, SF_BYTES, SF_F64};
    for (int k = 0; k < 4; k++) {
        if (me != 0) {
            sf_value *v = pc_make(dts[k], shp[k].ndim, shp[k].s, me, 40 + k);
            rc = c->ops->send(c, 0, SF_PC_USER, v);
            ASSERT_OK_MSG(rc, "send %d to 0: rc %d", k, rc);
            sf_value_unref(&v);
            sf_value *got = NULL;
            sf_value *want = pc_make(dts[k], shp[k].ndim, shp[k].s, me + 100, 50 + k);
            rc = c->ops->recv(c, 0, SF_PC_USER, &got);
            ASSERT_MSG(rc == SF_OK && pc_same(got, want), "recv %d from 0: rc %d", k, rc);
            PC_LOGV(L, got);
            sf_value_unref(&got);
            sf_value_unref(&want);
        } else {
            for (int r = 1; r < n; r++) {
                sf_value *got = NULL, *want = pc_make(dts[k], shp[k].ndim, shp[k].s, r, 40 + k);
                rc = c->ops->recv(c, r, SF_PC_USER, &got);
                ASSERT_MSG(rc == SF_OK && pc_same(got, want), "recv %d from %d %s: rc %d", k, r,
                           pc_desc(want, b1, sizeof b1), rc);
                PC_LOGV(L, got);
                sf_value_unref(&got);
                sf_value_unref(&want);
            }
            for (int r = 1; r < n; r++) {
                sf_value *v = pc_make(dts[k], shp[k].ndim, shp[k].s, r + 100, 50 + k);
                rc = c->ops->send(c, r, SF_PC_USER, v);
                ASSERT_OK_MSG(rc, "send %d to %d: rc %d", k, r, rc);
                sf_value_unref(&v);
            }
        }
    }
    /* to oneself, with the tag check */
    {
        sf_value *a = sf_value_i64(me), *b = sf_value_str("self"), *got = NULL;
        rc = c->ops->send(c, me, SF_PC_CMD, a);
        ASSERT_OK_MSG(rc, "send to self: rc %d", rc);
        rc = c->ops->send(c, me, SF_PC_ARG, b);
        ASSERT_OK_MSG(rc, "send to self: rc %d", rc);
        rc = c->ops->recv(c, me, SF_PC_ARG, &got);
        ASSERT_MSG(rc == SF_EDIVERGE && !got, "self recv with the wrong tag: rc %d", rc);
        PC_LOG(L, rc);
        rc = c->ops->recv(c, me, SF_PC_CMD, &got);
        ASSERT_MSG(rc == SF_OK && pc_same(got, a), "self recv: rc %d", rc);
        sf_value_unref(&got);
        rc = c->ops->recv(c, me, SF_PC_ARG, &got);
        ASSERT_MSG(rc == SF_OK && pc_same(got, b), "self recv: rc %d", rc);
        sf_value_unref(&got);
        sf_value_unref(&a);
        sf_value_unref(&b);
    }
    /* tags: 0 sends ARG then CMD to 1; 1 expects CMD first -> SF_EDIVERGE, and the
     * message stays for the receive that expects it */
    if (n >= 2 && me <= 1) {
        if (me == 0) {
            sf_value *a = sf_value_str("arg"), *b = sf_value_i64(42);
            rc = c->ops->send(c, 1, SF_PC_ARG, a);
            ASSERT_OK_MSG(rc, "send ARG: rc %d", rc);
            rc = c->ops->send(c, 1, SF_PC_CMD, b);
            ASSERT_OK_MSG(rc, "send CMD: rc %d", rc);
            sf_value_unref(&a);
            sf_value_unref(&b);
        } else {
            sf_value *got = NULL;
            rc = c->ops->recv(c, 0, SF_PC_CMD, &got);
            ASSERT_MSG(rc == SF_EDIVERGE && !got, "recv CMD while ARG came: rc %d", rc);
            PC_LOG(L, rc);
            rc = c->ops->recv(c, 0, SF_PC_STATUS, &got);
            ASSERT_MSG(rc == SF_EDIVERGE && !got, "recv STATUS while ARG came: rc %d", rc);
            rc = c->ops->recv(c, 0, SF_PC_ARG, &got);
            ASSERT_MSG(rc == SF_OK && got && strcmp(sf_value_cstr(got), "arg") == 0,
                       "recv ARG after the mismatch: rc %d", rc);
            sf_value_unref(&got);
            rc = c->ops->recv(c, 0, SF_PC_CMD, &got);
            ASSERT_MSG(rc == SF_OK && got && sf_value_as_i64(got, 0) == 42, "recv CMD: rc %d", rc);
            PC_LOGV(L, got);
            sf_value_unref(&got);
        }
    }
    /* bad arguments */
    {
        sf_value *a = sf_value_i64(1), *got = NULL;
        ASSERT_STATUS_MSG(c->ops->send(c, n, SF_PC_USER, a), SF_EINVAL, "send to rank %d", n);
        ASSERT_STATUS_MSG(c->ops->send(c, -1, SF_PC_USER, a), SF_EINVAL, "send to rank -1");
        ASSERT_MSG(c->ops->recv(c, n, SF_PC_USER, &got) == SF_EINVAL && !got, "recv from %d", n);
        sf_value_unref(&a);
    }
}

/* ---------------------------------------------------------------- mismatches */

/* Every rank must see `want`, and nothing in *out; then the communicator still works. */
static void pc_expect_status(sf_pcomm *c, pc_log *L, const char *what, int rc, sf_value **out,
                             int want) {
    ASSERT_EQ_MSG(rc, want, "%s: rc %d (%s), want %d", what, rc, sf_err_name(rc), want);
    ASSERT_MSG(want == SF_OK || !out || !*out, "%s: an output despite the failure", what);
    PC_LOG(L, rc);
    if (out) sf_value_unref(out);
    sf_value *one = sf_value_i64(1), *sum = NULL;
    rc = c->ops->allreduce(c, one, SF_OP_SUM, &sum);
    ASSERT_MSG(rc == SF_OK && sum && sf_value_as_i64(sum, 0) == c->size,
               "%s: allreduce afterwards: rc %d", what, rc);
    sf_value_unref(&sum);
    sf_value_unref(&one);
}

static void pc_case_mismatch(sf_pcomm *c, pc_log *L) {
    int me = c->rank, n = c->size, last = me == n - 1 && n > 1;
    sf_value *in, *out = NULL;
    int rc;
    int64_t s5 = 5, s4 = 4, s23[2] = {2, 3}, s32[2] = {3, 2}, s3 = 3, s14[2] = {1, 4}, s13[2] = {1, 3};

    in = pc_make(last ? SF_F32 : SF_F64, 1, &s5, me, 0);
    rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
    pc_expect_status(c, L, "allreduce float32 vs float64", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = pc_make(SF_I32, 2, last ? s32 : s23, me, 0);
    rc = c->ops->allreduce(c, in, SF_OP_MAX, &out);
    pc_expect_status(c, L, "allreduce [2,3] vs [3,2]", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = pc_make(SF_U8, 1, last ? &s4 : &s5, me, 0);
    rc = c->ops->allreduce(c, in, SF_OP_MIN, &out);
    pc_expect_status(c, L, "allreduce [5] vs [4]", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = pc_make(last ? SF_I32 : SF_I64, 0, NULL, me, 0);
    rc = c->ops->reduce(c, 0, in, SF_OP_SUM, &out);
    pc_expect_status(c, L, "reduce int32 vs int64", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = pc_make(SF_F64, 2, last ? s14 : s13, me, 0);
    rc = c->ops->gather(c, 0, in, &out);
    pc_expect_status(c, L, "gather [1,3] vs [1,4]", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = last ? pc_make(SF_F64, 1, &s3, me, 0) : pc_make(SF_F64, 0, NULL, me, 0);
    rc = c->ops->gather(c, n - 1, in, &out);
    pc_expect_status(c, L, "gather 0-d vs 1-d", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = pc_make(last ? SF_I16 : SF_U16, 1, &s3, me, 0);
    rc = c->ops->gather(c, n - 1, in, &out);
    pc_expect_status(c, L, "gather int16 vs uint16", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = sf_value_str("abc");
    rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
    pc_expect_status(c, L, "allreduce of bytes", rc, &out, SF_ETYPE);
    rc = c->ops->reduce(c, 0, in, SF_OP_MAX, &out);
    pc_expect_status(c, L, "reduce of bytes", rc, &out, SF_ETYPE);
    sf_value_unref(&in);

    in = last ? sf_value_str("abc") : pc_make(SF_U8, 1, &s3, me, 0);
    rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
    pc_expect_status(c, L, "allreduce bytes vs uint8", rc, &out, n > 1 ? SF_ETYPE : SF_OK);
    sf_value_unref(&in);

    in = pc_make(SF_F64, 0, NULL, me, 0);
    rc = c->ops->allreduce(c, in, last ? SF_OP_MAX : SF_OP_SUM, &out);
    pc_expect_status(c, L, "allreduce sum vs max", rc, &out, n > 1 ? SF_EINVAL : SF_OK);
    rc = c->ops->allreduce(c, in, (sf_reduce_op)7, &out);
    pc_expect_status(c, L, "allreduce op 7", rc, &out, SF_EINVAL);
    sf_value_unref(&in);

    in = me == 0 ? sf_value_f64(1.5) : NULL;
    rc = c->ops->scatter(c, 0, in, &out);
    pc_expect_status(c, L, "scatter of a 0-d value", rc, &out, SF_ETYPE);
    sf_value_unref(&in);

    out = NULL;
    rc = c->ops->bcast(c, n - 1, &out);
    pc_expect_status(c, L, "bcast of NULL", rc, &out, SF_EINVAL);

    rc = c->ops->barrier(c);
    ASSERT_OK_MSG(rc, "barrier: rc %d", rc);
}

/* ---------------------------------------------------------------- all */

static void pc_run_all(sf_pcomm *c, pc_log *L) {
    test_context("rank %d/%d", c->rank, c->size); /* (the mem driver keeps it per coroutine) */
    PC_LOG(L, c->size);
    pc_case_bcast(c, L);
    ASSERT_OK_MSG(c->ops->barrier(c), "barrier");
    pc_case_reduce(c, L);
    ASSERT_OK_MSG(c->ops->barrier(c), "barrier");
    pc_case_gather(c, L);
    pc_case_gather_into(c, L);
    pc_case_scatter(c, L);
    ASSERT_OK_MSG(c->ops->barrier(c), "barrier");
    pc_case_p2p(c, L);
    ASSERT_OK_MSG(c->ops->barrier(c), "barrier");
    pc_case_mismatch(c, L);
    ASSERT_OK_MSG(c->ops->barrier(c), "barrier");
}

#endif
