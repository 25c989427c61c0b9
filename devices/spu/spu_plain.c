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

#include "devices/spu/spu_internal.h"

static inline u64 sar(u64 x, int bits) { return (u64)((int64_t)x >> bits); }

int sf__pl_share_from(sf_spu_proto *p, int owner, const u64 *plain, size_t n, sf_spu_share *out)
{
    (void)owner;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    if (n && out->w != plain) memmove(out->w, plain, 8 * n);
    return SF_OK;
}

int sf__pl_reveal(sf_spu_proto *p, int to, const sf_spu_share *x, u64 *plain)
{
    (void)to;
    p->op++;
    if (x->n && plain != x->w) memmove(plain, x->w, 8 * x->n);
    return SF_OK;
}

SPU_HOT int sf__pl_mul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
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

SPU_HOT int sf__pl_trunc(sf_spu_proto *p, const sf_spu_share *x, int bits, sf_spu_share *out)
{
    size_t n = x->n;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    for (size_t i = 0; i < n; i++) out->w[i] = sar(x->w[i], bits);
    return SF_OK;
}

int sf__pl_matmul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
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

SPU_HOT int sf__pl_cmp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out, int kind)
{
    size_t n = x->n;
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    for (size_t i = 0; i < n; i++) out->w[i] = kind ? (u64)(x->w[i] == 0) : x->w[i] >> 63;
    return SF_OK;
}
