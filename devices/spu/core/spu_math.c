/*
 * SPU protocol core: shape operations and fixed-point numerics composed from the protocol
 * operations (so they run unchanged in semi2k, aby3 and the plaintext simulation, and their
 * bytes and rounds are sums of the table in spu_proto.h; the sums are in spu_proto.h next
 * to the declarations and tests/spu/test_spu_math.c checks them).
 *
 * exp(x) = exp(x/2^8)^(2^8): the base by a degree-4 Taylor polynomial at 30 fraction
 * bits, then eight squarings, each keeping as many fraction bits as the largest value of
 * that step leaves room for in the ring (up to 30), so they lose little to truncation. Inputs are clamped first (one
 * comparison): below -256 the base would turn negative (the result is 0 there, as it
 * would round to anyway), above xmax = (61 - 2f) ln 2 the last square leaves the ring (the
 * result saturates at exp(xmax); f = 18: xmax = 17.33, exp(xmax) = 3.4e7).
 * reciprocal(x) = Newton's iteration y <- y (2 - |x| y) from y0 = 3 exp(0.5 - |x|) + 0.003
 * (CrypTen's start), ten times, with the sign put back: it converges for |x| in about
 * [0.003, 650] (documented with the measured errors in docs/guide.md).
 * sigmoid: four approximations (sf_spu_proto_sigmoid).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/spu/core/spu_internal.h"

#define TRY(expr)                     \
    do {                              \
        if ((rc = (expr)) < 0) goto out; \
    } while (0)

/* ---------------------------------------------------------------- local shape operations */

int sf_spu_proto_gather(sf_spu_proto *p, const sf_spu_share *a, const size_t *idx, size_t n,
                        sf_spu_share *out)
{
    if (!p || !a || !out || (n && !idx)) return SF_EINVAL;
    if (a->nwords != p->ops->nwords || (p->member && a->n && !a->w)) return SF_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= a->n) return SF_EINVAL;
    if (!p->member) return sf__spup_out(p, out, n);
    size_t nw = (size_t)a->nwords;
    sf_spu_share t = {0};
    sf_spu_share *dst = out == a ? &t : out;
    SPU_TRY(sf__spup_out(p, dst, n));
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; w < nw; w++) dst->w[i * nw + w] = a->w[idx[i] * nw + w];
    if (dst == &t) {
        sf_spu_proto_share_free(out);
        *out = t;
    }
    return SF_OK;
}

int sf_spu_proto_slice(sf_spu_proto *p, const sf_spu_share *a, size_t off, size_t n,
                       sf_spu_share *out)
{
    if (!p || !a || !out || off > a->n || n > a->n - off) return SF_EINVAL;
    if (a->nwords != p->ops->nwords || (p->member && a->n && !a->w)) return SF_EINVAL;
    if (!p->member) return sf__spup_out(p, out, n);
    size_t nw = (size_t)a->nwords;
    if (out == a) {
        if (n) memmove(out->w, out->w + off * nw, n * nw * 8);
        out->n = n; /* the buffer stays as large as it was */
        return SF_OK;
    }
    SPU_TRY(sf__spup_out(p, out, n));
    if (n) memcpy(out->w, a->w + off * nw, n * nw * 8);
    return SF_OK;
}

int sf_spu_proto_concat(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                        sf_spu_share *out)
{
    if (!p || !a || !b || !out || a->nwords != b->nwords || a->nwords != p->ops->nwords)
        return SF_EINVAL;
    if (p->member && ((a->n && !a->w) || (b->n && !b->w))) return SF_EINVAL;
    if (a->n > SIZE_MAX / 16 - b->n) return SF_EINVAL;
    size_t n = a->n + b->n, nw = (size_t)a->nwords;
    if (!p->member) return sf__spup_out(p, out, n);
    sf_spu_share t = {0};
    SPU_TRY(sf__spup_out(p, &t, n));
    if (a->n) memcpy(t.w, a->w, a->n * nw * 8);
    if (b->n) memcpy(t.w + a->n * nw, b->w, b->n * nw * 8);
    sf_spu_proto_share_free(out);
    *out = t;
    return SF_OK;
}

int sf_spu_proto_sum_axis(sf_spu_proto *p, const sf_spu_share *a, size_t rows, size_t cols,
                          int axis, sf_spu_share *out)
{
    if (!p || !a || !out || (axis != 0 && axis != 1)) return SF_EINVAL;
    if (a->nwords != p->ops->nwords || (p->member && a->n && !a->w)) return SF_EINVAL;
    if ((cols && rows > SIZE_MAX / cols) || rows * cols != a->n) return SF_EINVAL;
    size_t n = axis == 0 ? cols : rows, nw = (size_t)a->nwords;
    if (!p->member) return sf__spup_out(p, out, n);
    sf_spu_share t = {0};
    SPU_TRY(sf_spu_proto_share_alloc(&t, n, a->nwords)); /* zeroed */
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            for (size_t w = 0; w < nw; w++)
                t.w[(axis == 0 ? c : r) * nw + w] += a->w[(r * cols + c) * nw + w];
    sf_spu_proto_share_free(out);
    *out = t;
    return SF_OK;
}

/* ---------------------------------------------------------------- helpers */

static u64 enc(const sf_spu_proto *p, double v) { return sf_spu_proto_fxp_encode(v, p->fxp); }

static int addc(sf_spu_proto *p, const sf_spu_share *x, u64 c, sf_spu_share *out)
{
    return sf_spu_proto_add_public(p, x, &c, 1, out);
}

static int mulc(sf_spu_proto *p, const sf_spu_share *x, u64 c, sf_spu_share *out)
{
    return sf_spu_proto_mul_public(p, x, &c, 1, out);
}

/* x * c for a public real c, truncated once (1 round) */
static int mulc_fxp(sf_spu_proto *p, const sf_spu_share *x, double c, sf_spu_share *out)
{
    SPU_TRY(mulc(p, x, enc(p, c), out));
    return sf_spu_proto_trunc(p, out, p->fxp, out);
}

/* c - x for a public ring value c */
static int rsubc(sf_spu_proto *p, const sf_spu_share *x, u64 c, sf_spu_share *out)
{
    SPU_TRY(sf_spu_proto_neg(p, x, out));
    return addc(p, out, c, out);
}

/* ---------------------------------------------------------------- exp */

/* exp of x (scale f), x already within [-256, L ln 2]: the base T = exp(x/256) by its
 * degree-4 Taylor polynomial at scale 30 (|x/256| <= 1, where the polynomial is positive;
 * its relative error is below 2e-8 for x/256 <= 0.07, 3e-6 after the squarings), then
 * eight squarings y_i = y_(i-1)^2 at scale S_i, S_0 = 30, S_8 = f. A square at scale
 * 2 S_(i-1) must stay below 2^61 (the truncation's range with room):
 * S_(i-1) <= (61 - log2 max y_i) / 2, log2 max y_i = L 2^i / 256.
 * Operations: mul(N), trunc(N, 30), mul(2N), trunc(2N, 30), trunc(N, 30), then 8 x
 * [mul(N), trunc(N, 2 S_(i-1) - S_i)] (and a first trunc when f > 22): 21 rounds. */
static int exp_core(sf_spu_proto *p, const sf_spu_share *x, int L, sf_spu_share *out)
{
    int f = p->fxp, S[9];
    for (int i = 0; i < 8; i++) {
        long s = (61L * 256 - (long)L * (2L << i)) / 512; /* 2 S_i + L 2^(i+1)/256 <= 61 */
        S[i] = (int)(s > 30 ? 30 : s);
        if (S[i] < f) S[i] = f; /* only where L exceeds 61 - 2f, which no caller passes */
    }
    S[8] = f;
    size_t n = x->n;
    int rc;
    sf_spu_share y = {0}, q = {0}, a = {0}, b = {0};
    /* y = x/256 at scale 30 */
    if (f + 8 <= 30) TRY(mulc(p, x, (u64)1 << (22 - f), &y));
    else TRY(sf_spu_proto_trunc(p, x, f + 8 - 30, &y));
    TRY(sf_spu_proto_mul(p, &y, &y, &q));       /* y^2 at scale 60 */
    TRY(sf_spu_proto_trunc(p, &q, 30, &q));     /* y^2 at 30 */
    TRY(sf_spu_proto_concat(p, &q, &q, &a));
    TRY(sf_spu_proto_concat(p, &y, &q, &b));
    TRY(sf_spu_proto_mul(p, &a, &b, &a));       /* y^3, y^4 at 60 */
    TRY(sf_spu_proto_trunc(p, &a, 30, &a));     /* at 30 */
    /* y^2/2 + y^3/6 + y^4/24 at scale 60, then 30 */
    TRY(mulc(p, &q, (u64)1 << 29, &q));
    TRY(sf_spu_proto_slice(p, &a, 0, n, &b));
    TRY(mulc(p, &b, (u64)llround(0x1p30 / 6), &b));
    TRY(sf_spu_proto_add(p, &q, &b, &q));
    TRY(sf_spu_proto_slice(p, &a, n, n, &b));
    TRY(mulc(p, &b, (u64)llround(0x1p30 / 24), &b));
    TRY(sf_spu_proto_add(p, &q, &b, &q));
    TRY(sf_spu_proto_trunc(p, &q, 30, &q));
    TRY(sf_spu_proto_add(p, &q, &y, out));
    TRY(addc(p, out, (u64)1 << 30, out));       /* T at scale 30 = S_0 */
    S[0] = 30;
    for (int i = 1; i <= 8; i++) {
        TRY(sf_spu_proto_mul(p, out, out, out));
        TRY(sf_spu_proto_trunc(p, out, 2 * S[i - 1] - S[i], out));
    }
out:
    sf_spu_proto_share_free(&y);
    sf_spu_proto_share_free(&q);
    sf_spu_proto_share_free(&a);
    sf_spu_proto_share_free(&b);
    return rc;
}

/* the headroom of exp's result: exp(x) < 2^L for x <= L ln 2 */
static int exp_headroom(const sf_spu_proto *p) { return 61 - 2 * p->fxp; }

int sf_spu_proto_exp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out)
{
    if (!p || !x || !out) return SF_EINVAL;
    if (x->nwords != p->ops->nwords || (p->member && x->n && !x->w)) return SF_EINVAL;
    int L = exp_headroom(p), rc;
    size_t n = x->n;
    u64 lo = enc(p, -256.0), hi = enc(p, (double)L * M_LN2);
    sf_spu_share c = {0}, d = {0}, t = {0}, b = {0};
    /* one comparison of 2n: [x < -256, x > xmax] */
    TRY(addc(p, x, (u64)0 - lo, &c));  /* x + 256 */
    TRY(rsubc(p, x, hi, &t));          /* xmax - x */
    TRY(sf_spu_proto_concat(p, &c, &t, &b));
    TRY(sf_spu_proto_msb(p, &b, &b));
    /* x' = x + [x < -256] (-256 - x) + [x > xmax] (xmax - x): one product of 2n */
    TRY(rsubc(p, x, lo, &c));          /* -256 - x */
    TRY(sf_spu_proto_concat(p, &c, &t, &d));
    TRY(sf_spu_proto_mul(p, &b, &d, &d));
    TRY(sf_spu_proto_slice(p, &d, 0, n, &c));
    TRY(sf_spu_proto_slice(p, &d, n, n, &t));
    TRY(sf_spu_proto_add(p, x, &c, &c));
    TRY(sf_spu_proto_add(p, &c, &t, &c));
    TRY(exp_core(p, &c, L, out));
out:
    sf_spu_proto_share_free(&c);
    sf_spu_proto_share_free(&d);
    sf_spu_proto_share_free(&t);
    sf_spu_proto_share_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- sign and magnitude */

/* s = [x < 0] (integer 0/1), ax = |x|, big = [|x| > B]: one comparison of 3n and one
 * product of n (2 + cmp rounds... cmp + 1). */
static int sign_abs(sf_spu_proto *p, const sf_spu_share *x, double B, sf_spu_share *s,
                    sf_spu_share *ax, sf_spu_share *big)
{
    size_t n = x->n;
    u64 b = enc(p, B);
    sf_spu_share c = {0}, t = {0};
    int rc;
    TRY(rsubc(p, x, b, &t));                /* B - x: msb = [x > B] */
    TRY(sf_spu_proto_concat(p, x, &t, &c));
    TRY(addc(p, x, b, &t));                 /* x + B: msb = [x < -B] */
    TRY(sf_spu_proto_concat(p, &c, &t, &c));
    TRY(sf_spu_proto_msb(p, &c, &c));
    TRY(sf_spu_proto_slice(p, &c, 0, n, s));
    TRY(sf_spu_proto_slice(p, &c, n, n, big));
    TRY(sf_spu_proto_slice(p, &c, 2 * n, n, &t));
    TRY(sf_spu_proto_add(p, big, &t, big)); /* the two cannot both hold */
    TRY(sf_spu_proto_mul(p, s, x, &t));     /* s x (integer times fixed point: no truncation) */
    TRY(mulc(p, &t, (u64)0 - 2, &t));
    TRY(sf_spu_proto_add(p, x, &t, ax));    /* x - 2 s x */
out:
    sf_spu_proto_share_free(&c);
    sf_spu_proto_share_free(&t);
    return rc;
}

/* x + big (v - x) for a public v, big integer 0/1: one product */
static int clamp_to(sf_spu_proto *p, const sf_spu_share *x, const sf_spu_share *big, double v,
                    sf_spu_share *out)
{
    sf_spu_share d = {0};
    int rc;
    TRY(rsubc(p, x, enc(p, v), &d));
    TRY(sf_spu_proto_mul(p, big, &d, &d));
    TRY(sf_spu_proto_add(p, x, &d, out));
out:
    sf_spu_proto_share_free(&d);
    return rc;
}

/* y (1 - 2 s) for an integer 0/1 s: one product */
static int apply_sign(sf_spu_proto *p, const sf_spu_share *y, const sf_spu_share *s,
                      sf_spu_share *out)
{
    sf_spu_share t = {0};
    int rc;
    TRY(sf_spu_proto_mul(p, s, y, &t));
    TRY(mulc(p, &t, (u64)0 - 2, &t));
    TRY(sf_spu_proto_add(p, y, &t, out));
out:
    sf_spu_proto_share_free(&t);
    return rc;
}

/* Newton's iteration for 1/d: z <- z (2 - d z), `iters` times (4 rounds each) */
static int newton_recip(sf_spu_proto *p, const sf_spu_share *d, sf_spu_share *z, int iters)
{
    sf_spu_share t = {0};
    int rc = 0;
    for (int i = 0; i < iters; i++) {
        TRY(sf_spu_proto_mul_fxp(p, d, z, &t));
        TRY(rsubc(p, &t, enc(p, 2.0), &t));
        TRY(sf_spu_proto_mul_fxp(p, z, &t, z));
    }
out:
    sf_spu_proto_share_free(&t);
    return rc;
}

/* ---------------------------------------------------------------- reciprocal, division */

int sf_spu_proto_reciprocal(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out)
{
    if (!p || !x || !out) return SF_EINVAL;
    if (x->nwords != p->ops->nwords || (p->member && x->n && !x->w)) return SF_EINVAL;
    sf_spu_share s = {0}, ax = {0}, big = {0}, v = {0}, y = {0};
    int rc;
    /* |x| > 256.5 would take exp(0.5 - |x|) below its domain: clamp it there (exp = 0) */
    TRY(sign_abs(p, x, 256.5, &s, &ax, &big));
    TRY(rsubc(p, &ax, enc(p, 0.5), &v));
    TRY(clamp_to(p, &v, &big, -256.0, &v));
    TRY(exp_core(p, &v, 1, &y));            /* exp(0.5 - |x|) < 2 */
    TRY(mulc_fxp(p, &y, 3.0, &y));
    TRY(addc(p, &y, enc(p, 0.003), &y));
    TRY(newton_recip(p, &ax, &y, 10));
    TRY(apply_sign(p, &y, &s, out));
out:
    sf_spu_proto_share_free(&s);
    sf_spu_proto_share_free(&ax);
    sf_spu_proto_share_free(&big);
    sf_spu_proto_share_free(&v);
    sf_spu_proto_share_free(&y);
    return rc;
}

int sf_spu_proto_div(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                     sf_spu_share *out)
{
    if (!p || !a || !b || !out || a->n != b->n) return SF_EINVAL;
    sf_spu_share r = {0};
    int rc;
    TRY(sf_spu_proto_reciprocal(p, b, &r));
    TRY(sf_spu_proto_mul_fxp(p, a, &r, out));
out:
    sf_spu_proto_share_free(&r);
    return rc;
}

int sf_spu_proto_div_public(sf_spu_proto *p, const sf_spu_share *x, double c, sf_spu_share *out)
{
    if (!p || !x || !out || !(c != 0) || !isfinite(c)) return SF_EINVAL;
    if (x->nwords != p->ops->nwords || (p->member && x->n && !x->w)) return SF_EINVAL;
    int f = p->fxp, e;
    double m = frexp(fabs(c), &e); /* |c| = m 2^e, m in [0.5, 1) */
    if (m == 0.5) {                /* a power of two: a truncation (or an exact product) */
        int k = e - 1;             /* |c| = 2^k */
        if (k > 62 || -k > 62) return SF_EINVAL;
        if (k > 0) SPU_TRY(sf_spu_proto_trunc(p, x, k, out));
        else SPU_TRY(mulc(p, x, (u64)1 << -k, out));
        return c < 0 ? sf_spu_proto_neg(p, out, out) : SF_OK;
    }
    /* |c| = m 2^e. With e > 0: first x / 2^e (a truncation), then times round(2^f / (+-m))
     * (f + 1 significant bits) and a truncation by f: the product stays in the ring whenever
     * the quotient does (|x / c| < 2^(61 - 2f)), whatever the size of x. With e <= 0
     * (|c| < 1): times round(2^f / c) and a truncation by f, under the same bound. */
    if (e > 62) return SF_EINVAL;
    double k = nearbyint(ldexp(1.0 / (c < 0 ? -m : m) / (e > 0 ? 1 : ldexp(1, e)), f));
    if (!(fabs(k) < 0x1p62)) return SF_EINVAL; /* |c| so small that the factor leaves the ring */
    if (e > 0) {
        SPU_TRY(sf_spu_proto_trunc(p, x, e, out));
        SPU_TRY(mulc(p, out, (u64)(int64_t)k, out));
    } else {
        SPU_TRY(mulc(p, x, (u64)(int64_t)k, out));
    }
    return sf_spu_proto_trunc(p, out, f, out);
}

/* ---------------------------------------------------------------- sigmoid */

int sf_spu_proto_sigmoid(sf_spu_proto *p, const sf_spu_share *x, int kind, sf_spu_share *out)
{
    if (!p || !x || !out) return SF_EINVAL;
    if (x->nwords != p->ops->nwords || (p->member && x->n && !x->w)) return SF_EINVAL;
    size_t n = x->n;
    int rc = 0;
    sf_spu_share a = {0}, b = {0}, c = {0}, s = {0}, big = {0};
    switch (kind) {
    case SF_SPU_SIG_LINEAR: /* 0.5 + x/4 */
        TRY(sf_spu_proto_trunc(p, x, 2, out));
        TRY(addc(p, out, enc(p, 0.5), out));
        break;
    case SF_SPU_SIG_TAYLOR3: /* 0.5 + x (1/4 - x^2/48) */
        TRY(sf_spu_proto_mul_fxp(p, x, x, &a));
        TRY(mulc_fxp(p, &a, -1.0 / 48, &a));
        TRY(addc(p, &a, enc(p, 0.25), &a));
        TRY(sf_spu_proto_mul_fxp(p, x, &a, out));
        TRY(addc(p, out, enc(p, 0.5), out));
        break;
    case SF_SPU_SIG_SEGMENTED: { /* 0 below -4, 0.5 + x/8 between, 1 above 4 */
        TRY(addc(p, x, enc(p, 4.0), &a));  /* msb: x < -4 */
        TRY(rsubc(p, x, enc(p, 4.0), &b)); /* msb: x > 4 */
        TRY(sf_spu_proto_concat(p, &a, &b, &c));
        TRY(sf_spu_proto_msb(p, &c, &c));
        TRY(sf_spu_proto_slice(p, &c, 0, n, &a)); /* lo */
        TRY(sf_spu_proto_slice(p, &c, n, n, &b)); /* hi */
        TRY(sf_spu_proto_trunc(p, x, 3, &s));
        TRY(addc(p, &s, enc(p, 0.5), &s)); /* the line */
        /* line + hi (1 - line) + lo (0 - line) = line + hi - (hi + lo) line */
        TRY(sf_spu_proto_add(p, &a, &b, &c));
        TRY(sf_spu_proto_mul(p, &c, &s, &c));
        TRY(sf_spu_proto_sub(p, &s, &c, &s));
        TRY(mulc(p, &b, (u64)1 << p->fxp, &b)); /* hi as fixed point */
        TRY(sf_spu_proto_add(p, &s, &b, out));
        break;
    }
    case SF_SPU_SIG_EXP: { /* 1 / (1 + exp(-|x|)), mirrored for x < 0 */
        TRY(sign_abs(p, x, 32.0, &s, &a, &big));
        TRY(sf_spu_proto_neg(p, &a, &a));
        TRY(clamp_to(p, &a, &big, -32.0, &a)); /* beyond 32 the result is 0 or 1 anyway */
        TRY(exp_core(p, &a, 0, &b));          /* in (0, 1] */
        TRY(addc(p, &b, enc(p, 1.0), &b));    /* d in [1, 2] */
        TRY(mulc_fxp(p, &b, -8.0 / 17, &c));  /* z0 = 24/17 - 8/17 d: |1 - d z0| <= 1/17 */
        TRY(addc(p, &c, enc(p, 24.0 / 17), &c));
        TRY(newton_recip(p, &b, &c, 3));
        /* r + s (1 - 2 r) */
        TRY(mulc(p, &c, (u64)0 - 2, &a));
        TRY(addc(p, &a, enc(p, 1.0), &a));
        TRY(sf_spu_proto_mul(p, &s, &a, &a));
        TRY(sf_spu_proto_add(p, &c, &a, out));
        break;
    }
    default:
        return SF_EINVAL;
    }
out:
    sf_spu_proto_share_free(&a);
    sf_spu_proto_share_free(&b);
    sf_spu_proto_share_free(&c);
    sf_spu_proto_share_free(&s);
    sf_spu_proto_share_free(&big);
    return rc;
}

/* The plaintext functions the approximations stand for, in double (for tests, and for a
 * plaintext reference that uses the same approximation). */
double sf_spu_proto_sigmoid_ref(int kind, double x)
{
    switch (kind) {
    case SF_SPU_SIG_LINEAR: return 0.5 + x / 4;
    case SF_SPU_SIG_TAYLOR3: return 0.5 + x / 4 - x * x * x / 48;
    case SF_SPU_SIG_SEGMENTED: return x < -4 ? 0 : x > 4 ? 1 : 0.5 + x / 8;
    case SF_SPU_SIG_EXP: return 1 / (1 + exp(-x));
    default: return NAN;
    }
}
