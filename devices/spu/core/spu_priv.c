/*
 * SPU protocol core: products with a matrix private to one member (sf_spu_proto_priv_*).
 *
 * A member that holds a matrix X in the clear (its own features) multiplies it with a
 * secret operand without secret-sharing X. The owner masks X once with A, drawn from its
 * stream with the party that deals the product (semi2k: the dealer; aby3: member owner+2,
 * the "helper"), and sends E = X - A once to the members that hold the other shares
 * (semi2k: every other member; aby3: member owner+1). E and the nonce of A are kept for
 * the matrix's lifetime; every product afterwards moves only the secret operand's masked
 * shares and the dealer's correction, (k + R) n words for an R x n result: what one
 * epoch of gradient descent costs grows with rows plus features, not their product.
 *
 * Product Y = X B (or X^T B), B shared as B = B_o + sum_{j != o} B_j (semi2k):
 *   member j != o:  F_j = B_j - b_j to the owner (b_j: its stream with the dealer);
 *                   its share  E B_j + z_j
 *   dealer:         sends the owner  sum_j (A b_j - z_j)
 *   owner:          its share  X B_o + A sum_j F_j + sum_j (A b_j - z_j)
 *   The shares add up to X B_o + sum_j (E + A) B_j = X B.
 * Security (semi-honest, non-colluding dealer): E is X under the one-time pad A (uniform
 * in the ring, known to the owner and the dealer only), F_j is B_j under the fresh b_j,
 * the correction is masked by the fresh z_j; A is reused across products but only ever
 * multiplied by fresh masks the owner cannot remove. docs/architecture.md "Private
 * operands" has the argument and what it does not cover.
 *
 * The 32-bit ring (priv_new32, semi2k and plain): the owner uses x32 = round(X / 2^xs) and
 * sends E = x32 - A mod 2^32; products run the scheme above mod 2^32 (B truncated by
 * f - xs first, for fixed point) and each result, or each block of rows' sum in a
 * transposed product, is extended to 64 bits exactly as trunc(z 2^32, 32) when |z| < 2^30
 * (spu_semi2k.c: s2k_priv_matmul_n, which also runs several products in one set of rounds).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/spu/core/spu_internal.h"

int sf__spup_priv_gemm(int trans, size_t rows, size_t k, size_t n, const u64 *X, const u64 *B,
                       u64 *C, u64 *scratch)
{
    if (!trans) return rows && n && k ? sf__spup_gemm(rows, n, k, X, k, B, n, C, n) : SF_OK;
    if (!rows || !n || !k) return SF_OK;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < k; j++) scratch[j * rows + i] = X[i * k + j];
    return sf__spup_gemm(k, n, rows, scratch, rows, B, n, C, n);
}

static inline size_t minz(size_t a, size_t b) { return a < b ? a : b; }

int sf__spup_priv_recv_e(sf_spu_proto *p, sf_spu_priv *pr)
{
    (void)p;
    size_t MK = pr->m * pr->k;
    if (pr->narrow) pr->E32 = malloc(4 * MK);
    else pr->E = malloc(8 * MK);
    if (pr->narrow ? !pr->E32 : !pr->E) return SF_ENOMEM;
    pr->pending = 1;
    return SF_OK;
}

int sf_spu_proto_priv_recv(sf_spu_proto *p, sf_spu_priv *pr)
{
    if (!p || !pr) return SF_EINVAL;
    if (!pr->pending) return SF_OK;
    size_t MK = pr->m * pr->k;
    for (size_t c0 = 0; c0 < MK; c0 += PRIV_CHUNK) {
        size_t cn = minz(PRIV_CHUNK, MK - c0);
        SPU_TRY(pr->narrow ? sf__spup_recv(p, pr->owner, pr->E32 + c0, 4 * cn)
                           : sf__spup_recv(p, pr->owner, pr->E + c0, 8 * cn));
    }
    pr->pending = 0;
    return SF_OK;
}

int sf__spup_priv_send_e(sf_spu_proto *p, const sf_spu_priv *pr, const u64 *X, int peer,
                         const int *to, int nto)
{
    size_t MK = pr->m * pr->k;
    u64 *t = sf__spup_scr(p, SCR_TMP, 8 * PRIV_CHUNK);
    if (!t) return SF_ENOMEM;
    for (size_t c0 = 0; c0 < MK; c0 += PRIV_CHUNK) {
        size_t cn = minz(PRIV_CHUNK, MK - c0);
        if (pr->narrow) { /* E32 = x32 - A32 */
            uint32_t *t32 = (uint32_t *)t, *x32 = t32 + PRIV_CHUNK;
            sf__spup_prg_n(p, pr->nonce, peer, PP_PA, 4 * c0, t32, 4 * cn);
            sf__spup_x32(pr->xs, X + c0, cn, x32);
            for (size_t e = 0; e < cn; e++) t32[e] = x32[e] - t32[e];
            for (int j = 0; j < nto; j++) SPU_TRY(sf__spup_send(p, to[j], t32, 4 * cn));
            continue;
        }
        sf__spup_prg_n(p, pr->nonce, peer, PP_PA, 8 * c0, t, 8 * cn); /* A (peer == self: private) */
        for (size_t e = 0; e < cn; e++) t[e] = X[c0 + e] - t[e];
        for (int j = 0; j < nto; j++) SPU_TRY(sf__spup_send(p, to[j], t, 8 * cn));
    }
    return SF_OK;
}

void sf__spup_x32(int xs, const u64 *X, size_t n, uint32_t *out)
{
    if (!xs) {
        for (size_t e = 0; e < n; e++) out[e] = (uint32_t)X[e];
        return;
    }
    u64 half = (u64)1 << (xs - 1);
    for (size_t e = 0; e < n; e++) out[e] = (uint32_t)(u64)((int64_t)(X[e] + half) >> xs);
}

int sf_spu_proto_x32_ok(int xs, const u64 *X, size_t n, size_t *bad)
{
    u64 half = xs ? (u64)1 << (xs - 1) : 0;
    for (size_t e = 0; e < n; e++) {
        int64_t v = (int64_t)(X[e] + half) >> xs;
        if (v < INT32_MIN || v > INT32_MAX || (int64_t)X[e] > INT64_MAX - (int64_t)half) {
            if (bad) *bad = e;
            return 0;
        }
    }
    return 1;
}

SPU_HOT void sf__spup_priv_gemm32(int trans, size_t rows, size_t k, size_t n, const uint32_t *X,
                                  const uint32_t *B, uint32_t *C)
{
    if (!trans) { /* C (rows x n) += X (rows x k) B (k x n) */
        for (size_t i = 0; i < rows; i++) {
            const uint32_t *x = X + i * k;
            if (n == 1) {
                uint32_t acc = 0;
                for (size_t j = 0; j < k; j++) acc += x[j] * B[j];
                C[i] += acc;
                continue;
            }
            for (size_t j = 0; j < k; j++) {
                uint32_t xv = x[j];
                const uint32_t *b = B + j * n;
                uint32_t *c = C + i * n;
                for (size_t l = 0; l < n; l++) c[l] += xv * b[l];
            }
        }
        return;
    }
    /* C (k x n) += X^T (k x rows) B (rows x n): row i of X adds x_i^T b_i */
    for (size_t i = 0; i < rows; i++) {
        const uint32_t *x = X + i * k, *b = B + i * n;
        if (n == 1) {
            uint32_t bv = b[0];
            for (size_t j = 0; j < k; j++) C[j] += x[j] * bv;
            continue;
        }
        for (size_t j = 0; j < k; j++)
            for (size_t l = 0; l < n; l++) C[j * n + l] += x[j] * b[l];
    }
}

size_t sf__spup_priv_blocks(const sf_spu_priv *pr, int trans, size_t rows, size_t *blk)
{
    *blk = trans && pr->block ? pr->block : (rows ? rows : 1);
    return trans ? (rows + *blk - 1) / *blk : 1;
}

void sf__spup_priv_gemm32_blocks(int trans, size_t rows, size_t k, size_t n, size_t blk, const uint32_t *X,
                                 const uint32_t *B, uint32_t *C)
{
    if (!trans) {
        sf__spup_priv_gemm32(0, rows, k, n, X, B, C);
        return;
    }
    for (size_t i0 = 0, bi = 0; i0 < rows; i0 += blk, bi++)
        sf__spup_priv_gemm32(1, minz(blk, rows - i0), k, n, X + i0 * k, B + i0 * n, C + bi * k * n);
}

static int priv_make(sf_spu_proto *p, int owner, const uint64_t *X, size_t m, size_t k, int narrow,
                     int xs, size_t block, sf_spu_priv **out)
{
    if (!p || !out || owner < 0 || owner >= p->n || m > (size_t)SF_SPU_PRIV_MAX_ELEMS ||
        k > (size_t)SF_SPU_PRIV_MAX_ELEMS || !sf_spu_proto_priv_shape_ok((int64_t)m, (int64_t)k))
        return SF_EINVAL;
    if (p->self == owner && m && k && !X) return SF_EINVAL;
    if (narrow && (xs < 0 || xs > p->fxp || (p->self == owner && !sf_spu_proto_x32_ok(xs, X, m * k, NULL))))
        return SF_EINVAL;
    *out = NULL;
    sf_spu_priv *pr = calloc(1, sizeof *pr);
    if (!pr) return SF_ENOMEM;
    pr->owner = owner;
    pr->m = m;
    pr->k = k;
    pr->narrow = narrow;
    pr->xs = xs;
    pr->block = block && block < m ? block : m;
    int rc = p->ops->priv_new(p, pr, X);
    if (rc < 0) {
        sf_spu_proto_priv_free(pr);
        return rc;
    }
    *out = pr;
    return SF_OK;
}

int sf_spu_proto_priv_new(sf_spu_proto *p, int owner, const uint64_t *X, size_t m, size_t k,
                          sf_spu_priv **out)
{
    return priv_make(p, owner, X, m, k, 0, 0, 0, out);
}

int sf_spu_proto_priv_new32(sf_spu_proto *p, int owner, const uint64_t *X, size_t m, size_t k,
                            int xs, size_t block, sf_spu_priv **out)
{
    return priv_make(p, owner, X, m, k, 1, xs, block, out);
}

static int op_ok(sf_spu_proto *p, const sf_spu_priv_op *op)
{
    const sf_spu_priv *pr = op->pr;
    const sf_spu_share *b = op->b;
    if (!pr || !b || !op->out || op->r0 > pr->m || op->rows > pr->m - op->r0) return 0;
    if (b->nwords != p->ops->nwords || (p->member && b->n && !b->w)) return 0;
    size_t inner = op->trans ? op->rows : pr->k;
    if (op->n && inner > SIZE_MAX / 8 / op->n) return 0;
    if (b->n != inner * op->n) return 0;
    return !(p->self == pr->owner && op->rows && pr->k && !op->Xr);
}

int sf_spu_proto_priv_matmul_n(sf_spu_proto *p, const sf_spu_priv_op *ops, int cnt, int fxp)
{
    if (!p || !ops || cnt < 1) return SF_EINVAL;
    for (int i = 0; i < cnt; i++)
        if (!op_ok(p, &ops[i]) || ops[i].pr->narrow != ops[0].pr->narrow ||
            (ops[0].pr->narrow && ops[i].pr->xs != ops[0].pr->xs))
            return SF_EINVAL;
    for (int i = 0; i < cnt; i++) /* a first product receives E */
        SPU_TRY(sf_spu_proto_priv_recv(p, (sf_spu_priv *)ops[i].pr));
    if (p->ops->priv_matmul_n) return p->ops->priv_matmul_n(p, ops, cnt, fxp);
    for (int i = 0; i < cnt; i++) {
        const sf_spu_priv_op *op = &ops[i];
        SPU_TRY(p->ops->priv_matmul(p, op->pr, op->Xr, op->r0, op->rows, op->trans, op->b, op->n, op->out, fxp));
    }
    return SF_OK;
}

int sf_spu_proto_priv_matmul(sf_spu_proto *p, const sf_spu_priv *pr, const uint64_t *Xr,
                             size_t r0, size_t rows, int trans, const sf_spu_share *b, size_t n,
                             sf_spu_share *out, int fxp)
{
    sf_spu_priv_op op = {pr, Xr, r0, rows, trans, b, n, out};
    return sf_spu_proto_priv_matmul_n(p, &op, 1, fxp);
}

void sf_spu_proto_priv_free(sf_spu_priv *pr)
{
    if (!pr) return;
    free(pr->E);
    free(pr->E32);
    free(pr);
}

int sf_spu_proto_priv_shape_ok(int64_t m, int64_t k)
{
    return m >= 0 && k >= 0 && m <= SF_SPU_PRIV_MAX_ELEMS && k <= SF_SPU_PRIV_MAX_ELEMS &&
           (!k || m <= SF_SPU_PRIV_MAX_ELEMS / k);
}
