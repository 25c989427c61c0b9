/*
 * plain: the plaintext functional simulation of an SPU (--sf-spu=plain). One member holds
 * the ring values themselves ("shares" of one party) and every operation is computed in
 * the clear with the protocols' ring arithmetic: addition and multiplication mod 2^64
 * (identical to semi2k/aby3), truncation by an arithmetic shift (floor; the protocols give
 * floor or floor + 1), comparisons on the sign bit (exact, as in the protocols). So a
 * result differs from the protocol's by at most one unit in the last place per truncation
 * on its path (more only where a later operation amplifies such a difference, e.g. a
 * product or a comparison at equality). Nothing is secret: it exists for speed while
 * debugging a program's logic, and the runtime refuses it in production mode.
 */
#include <string.h>

#include "devices/spu/core/spu_internal.h"

static inline u64 sar(u64 x, int bits) { return (u64)((int64_t)x >> bits); }

static int pl_share_from(sf_spu_proto *p, int owner, const u64 *plain, size_t n, sf_spu_share *out)
{
    (void)owner;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    if (n && out->w != plain) memmove(out->w, plain, 8 * n);
    return SF_OK;
}

static int pl_reveal(sf_spu_proto *p, int to, const sf_spu_share *x, u64 *plain)
{
    (void)to;
    p->op++;
    if (x->n && plain != x->w) memmove(plain, x->w, 8 * x->n);
    return SF_OK;
}

SPU_HOT static int pl_mul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                          sf_spu_share *out, int fxp)
{
    size_t n = a->n;
    int f = p->fxp;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    const u64 *x = a->w, *y = b->w;
    u64 *o = out->w;
    if (fxp)
        for (size_t i = 0; i < n; i++) o[i] = sar(x[i] * y[i], f);
    else
        for (size_t i = 0; i < n; i++) o[i] = x[i] * y[i];
    return SF_OK;
}

SPU_HOT static int pl_trunc(sf_spu_proto *p, const sf_spu_share *x, int bits,
                            sf_spu_share *out)
{
    size_t n = x->n;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    for (size_t i = 0; i < n; i++) out->w[i] = sar(x->w[i], bits);
    return SF_OK;
}

static int pl_matmul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                     size_t k, size_t n, sf_spu_share *out, int fxp)
{
    p->op++;
    /* the output may alias an input: accumulate into a scratch buffer first */
    size_t mn = m * n;
    u64 *c = sf__spup_scr(p, SCR_C, 8 * (mn ? mn : 1));
    if (!c) return SF_ENOMEM;
    memset(c, 0, 8 * mn);
    if (mn && k) SPU_TRY(sf__spup_gemm(m, n, k, a->w, k, b->w, n, c, n));
    SPU_TRY(sf__spup_out(p, out, mn));
    for (size_t i = 0; i < mn; i++) out->w[i] = fxp ? sar(c[i], p->fxp) : c[i];
    return SF_OK;
}

SPU_HOT static int pl_cmp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out, int kind)
{
    size_t n = x->n;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    for (size_t i = 0; i < n; i++) out->w[i] = kind ? (u64)(x->w[i] == 0) : x->w[i] >> 63;
    return SF_OK;
}

/* A private matrix: the one member is its owner and computes in the clear. */
static int pl_priv_new(sf_spu_proto *p, sf_spu_priv *pr, const u64 *X)
{
    (void)X;
    p->op++;
    pr->nonce = p->op;
    return SF_OK;
}

static int pl_priv_matmul(sf_spu_proto *p, const sf_spu_priv *pr, const u64 *Xr, size_t r0,
                          size_t rows, int trans, const sf_spu_share *b, size_t n,
                          sf_spu_share *out, int fxp)
{
    (void)r0;
    p->op++;
    size_t k = pr->k, R = trans ? k : rows, RN = R * n, RK = rows * k;
    if (pr->narrow) { /* the 32-bit ring's arithmetic, as semi2k computes it */
        size_t KN = (trans ? rows : k) * n, blk, nb = sf__spup_priv_blocks(pr, trans, rows, &blk), Z = nb * RN;
        int t = fxp ? p->fxp - pr->xs : 0, L = fxp ? 0 : pr->xs;
        uint32_t *x32 = sf__spup_scr(p, SCR_A, 4 * (RK ? RK : 1)), *b32 = sf__spup_scr(p, SCR_B, 4 * (KN ? KN : 1));
        uint32_t *z = sf__spup_scr(p, SCR_E, 4 * (Z ? Z : 1));
        if (!x32 || !b32 || !z) return SF_ENOMEM;
        sf__spup_x32(pr->xs, Xr, RK, x32);
        for (size_t e = 0; e < KN; e++) b32[e] = (uint32_t)sar(b->w[e], t);
        memset(z, 0, 4 * Z);
        sf__spup_priv_gemm32_blocks(trans, rows, k, n, blk, x32, b32, z);
        SPU_TRY(sf__spup_out(p, out, RN));
        memset(out->w, 0, 8 * RN);
        for (size_t e = 0; e < Z; e++) { /* semi2k's extension is exact within +-2^30 only */
            int32_t zi = (int32_t)z[e];
            if (zi < -(1 << 30) || zi >= (1 << 30)) return SF_ERANGE;
            out->w[e % RN] += (u64)(int64_t)zi << L;
        }
        return SF_OK;
    }
    u64 *Y = sf__spup_scr(p, SCR_C, 8 * (RN ? RN : 1)), *tr = sf__spup_scr(p, SCR_D, 8 * (RK ? RK : 1));
    if (!Y || !tr) return SF_ENOMEM;
    memset(Y, 0, 8 * RN);
    SPU_TRY(sf__spup_priv_gemm(trans, rows, k, n, Xr, b->w, Y, tr));
    SPU_TRY(sf__spup_out(p, out, RN));
    for (size_t i = 0; i < RN; i++) out->w[i] = fxp ? sar(Y[i], p->fxp) : Y[i];
    return SF_OK;
}

/* ---------------------------------------------------------------- family */

/* A group of one without a dealer (never used: plain sends nothing). */
static void pl_init(sf_spu_proto *p)
{
    p->g.m = 1;
    p->g.mem[0] = 0;
    p->g.me = 0;
    p->g.dealer = -1;
    p->g.holder = 0;
    p->g.deal = 0;
}

/* The one member's share is the values (its only component). */
static void pl_layout(const u64 *comp, size_t n, int nmembers, int i, u64 *w)
{
    (void)nmembers, (void)i;
    memcpy(w, comp, n * 8);
}

static int pl_combine(const sf_spu_share *shares, int nmembers, size_t n, u64 *plain)
{
    if (nmembers != 1) return SF_EINVAL;
    if (n) memcpy(plain, shares[0].w, 8 * n);
    return SF_OK;
}

static void pl_add_public(const sf_spu_proto *p, const u64 *x, const u64 *c, size_t inc,
                          size_t n, u64 *o)
{
    (void)p;
    for (size_t e = 0; e < n; e++) o[e] = x[e] + c[e * inc];
}

const struct spu_family_ops sf__spu_plain_ops = {
    .name = "plain",
    .nwords = 1,
    .min_members = 1,
    .max_members = 1,
    .layout = pl_layout,
    .combine = pl_combine,
    .shape = NULL, /* one member, no dealer */
    .init = pl_init,
    .add_public = pl_add_public,
    .share_from = pl_share_from,
    .reveal = pl_reveal,
    .mul = pl_mul,
    .trunc = pl_trunc,
    .matmul = pl_matmul,
    .cmp = pl_cmp,
    .priv_new = pl_priv_new,
    .priv_matmul = pl_priv_matmul,
};
