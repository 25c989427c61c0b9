/*
 * aby3: 2-out-of-3 replicated sharing among exactly 3 members, semi-honest, no dealer.
 * x = x_0 + x_1 + x_2; member i holds (x_i, x_{i+1}) (w[2e], w[2e+1]).
 *
 * share_from(o): x_o and x_{o+1} are the owner's pairwise streams with o+2 and o+1; the
 *   owner sends x_{o+2} = x - x_o - x_{o+1} to both others (16N B from the owner, 1 round).
 * reveal: member i+1 sends x_{i+2} (its second component) to member i (8N B, 1 round).
 * mul: z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + alpha_i with the zero sharing
 *   alpha_i = F(k_{i,i+1}) - F(k_{i-1,i}); member i sends z_i to member i-1 (8N B each,
 *   1 round). matmul likewise (2 local products per member).
 * trunc, mul_fxp, matmul_fxp: member 2 acts as the dealer ("helper") of the semi2k-style
 *   probabilistic truncation for members 0 and 1 (see spu_semi2k.c for the formula):
 *   it draws r from its private stream and sends member 0 x_2 + r + 2^62 (member 0 lacks
 *   x_2) and member 1 x_0 + r + 2^62 (it lacks x_0), so both learn c = x + 2^62 + r and
 *   nothing else; plus member 0's corrections of [r >> f] and [2^(64-f) msb(r)] (member 1's
 *   shares are its stream with member 2). After a multiplication the 3-out-of-3 shares
 *   z_i go there directly: member 2 sends z_2 + r + 2^62 to both, members 0 and 1 swap z_0,
 *   z_1 (masked by the zero sharing). Members 0 and 1 then hold additive shares u_0 + u_1
 *   of the result; back to replicated shares: z'_2 = s (stream 1-2), z'_0 = t (stream
 *   0-2), and members 0 and 1 swap u_0 - t and u_1 - s to get z'_1 = u - s - t.
 *   Rounds: 2. Bytes: member 2 sends (24 + t) N (t = 4 for f <= 32, else 8); members 0, 1
 *   send 8N (trunc) or 16N (after a multiplication).
 * comparison: member 2 is the dealer of the boolean engine (spu_bool.c) for members 0 and
 *   1: r = rb_0 ^ rb_1 (their streams with member 2, no correction); member 2 sends
 *   x_2 + r to member 0 and x_0 + r to member 1 together with member 0's corrections
 *   (AND triples, daBits), members 0 and 1 run the adder / AND tree and the B2A, and the
 *   result goes back to replicated shares as above. Rounds: 1 + 6 + 1 + 1 = 9.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/spu/core/spu_internal.h"

static inline size_t minz(size_t a, size_t b) { return a < b ? a : b; }
#define OFF62 ((u64)1 << 62)
#define HELPER 2

static void interleave(u64 *out, const u64 *w0, const u64 *w1, size_t n)
{
    for (size_t e = 0; e < n; e++) out[2 * e] = w0[e], out[2 * e + 1] = w1[e];
}

/* ---------------------------------------------------------------- input and output */

static int a3_share_from(sf_spu_proto *p, int owner, const u64 *plain, size_t n, sf_spu_share *out)
{
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    if (!n) return SF_OK;
    int me = p->self, next = (owner + 1) % 3, prev = (owner + 2) % 3;
    u64 *u = sf__spup_scr(p, SCR_A, 8 * n), *v = sf__spup_scr(p, SCR_B, 8 * n);
    if (!u || !v) return SF_ENOMEM;
    if (me == owner) {
        sf__spup_prg(p, prev, PP_SHARE, 0, u, 8 * n); /* x_o */
        sf__spup_prg(p, next, PP_SHARE, 0, v, 8 * n); /* x_{o+1} */
        interleave(out->w, u, v, n);
        for (size_t e = 0; e < n; e++) u[e] = plain[e] - u[e] - v[e];
        SPU_TRY(sf__spup_send(p, next, u, 8 * n));
        return sf__spup_send(p, prev, u, 8 * n);
    }
    sf__spup_prg(p, owner, PP_SHARE, 0, u, 8 * n);
    SPU_TRY(sf__spup_recv(p, owner, v, 8 * n));
    if (me == next)
        interleave(out->w, u, v, n); /* (x_{o+1}, x_{o+2}) */
    else
        interleave(out->w, v, u, n); /* (x_{o+2}, x_o) */
    return SF_OK;
}

static int a3_reveal(sf_spu_proto *p, int to, const sf_spu_share *x, u64 *plain)
{
    size_t n = x->n;
    if (!n) return SF_OK;
    int me = p->self, prev = (me + 2) % 3, next = (me + 1) % 3;
    const u64 *w = x->w;
    if (to < 0 || to == prev) {
        u64 *s = sf__spup_scr(p, SCR_SEND, 8 * n);
        if (!s) return SF_ENOMEM;
        for (size_t e = 0; e < n; e++) s[e] = w[2 * e + 1];
        SPU_TRY(sf__spup_send(p, prev, s, 8 * n));
    }
    if (to < 0 || to == me) {
        SPU_TRY(sf__spup_recv(p, next, plain, 8 * n));
        for (size_t e = 0; e < n; e++) plain[e] += w[2 * e] + w[2 * e + 1];
    }
    return SF_OK;
}

/* ---------------------------------------------------------------- helpers */

/* alpha_i = F(k_{i,i+1}) - F(k_{i-1,i}) added to z */
SPU_HOT static int add_zero(sf_spu_proto *p, u64 *z, size_t n)
{
    int next = (p->self + 1) % 3, prev = (p->self + 2) % 3;
    u64 *t = sf__spup_scr(p, SCR_TMP, 16 * SPU_CHUNK);
    if (!t) return SF_ENOMEM;
    for (size_t c0 = 0; c0 < n; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, n - c0);
        sf__spup_prg(p, next, PP_ZERO, 8 * c0, t, 8 * cn);
        sf__spup_prg(p, prev, PP_ZERO, 8 * c0, t + SPU_CHUNK, 8 * cn);
        for (size_t e = 0; e < cn; e++) z[c0 + e] += t[e] - t[SPU_CHUNK + e];
    }
    return SF_OK;
}

/* 3-out-of-3 additive z (n words) -> replicated out: send z_i to member i-1. */
static int reshare3(sf_spu_proto *p, const u64 *z, size_t n, u64 *out)
{
    int next = (p->self + 1) % 3, prev = (p->self + 2) % 3;
    u64 *r = sf__spup_scr(p, SCR_RECV, 8 * n);
    if (!r) return SF_ENOMEM;
    SPU_TRY(sf__spup_send(p, prev, z, 8 * n));
    SPU_TRY(sf__spup_recv(p, next, r, 8 * n));
    interleave(out, z, r, n);
    return SF_OK;
}

/* Additive u_0 + u_1 on members 0 and 1 -> replicated out (every member). */
static int from2(sf_spu_proto *p, const u64 *u, size_t n, u64 *out)
{
    int me = p->self;
    u64 *s = sf__spup_scr(p, SCR_SEND, 8 * n), *r = sf__spup_scr(p, SCR_RECV, 8 * n);
    if (!s || !r) return SF_ENOMEM;
    if (me == HELPER) {
        sf__spup_prg(p, 1, PP_S, 0, s, 8 * n); /* z'_2 (shared with member 1) */
        sf__spup_prg(p, 0, PP_S, 0, r, 8 * n); /* z'_0 (shared with member 0) */
        interleave(out, s, r, n);
        return SF_OK;
    }
    int other = 1 - me;
    sf__spup_prg(p, HELPER, PP_S, 0, r, 8 * n); /* member 0: z'_0; member 1: z'_2 */
    for (size_t e = 0; e < n; e++) s[e] = u[e] - r[e];
    SPU_TRY(sf__spup_send(p, other, s, 8 * n));
    /* z'_1 = (u_0 - t) + (u_1 - s): keep mine in s, receive the other's after r's use */
    if (me == 0) {
        for (size_t e = 0; e < n; e++) out[2 * e] = r[e];
        SPU_TRY(sf__spup_recv(p, other, r, 8 * n));
        for (size_t e = 0; e < n; e++) out[2 * e + 1] = s[e] + r[e];
    } else {
        for (size_t e = 0; e < n; e++) out[2 * e + 1] = r[e];
        SPU_TRY(sf__spup_recv(p, other, r, 8 * n));
        for (size_t e = 0; e < n; e++) out[2 * e] = s[e] + r[e];
    }
    return SF_OK;
}

/* Truncation with member 2 as helper. mode 0: in = replicated x (interleaved); mode 1:
 * in = this member's 3-out-of-3 additive share (n words). out: replicated (interleaved). */
SPU_HOT static int trunc_core(sf_spu_proto *p, int mode, const u64 *in, size_t n, int f, u64 *out)
{
    int me = p->self;
    size_t tsz = sf__spup_tsz(f), clen = 16 * n + tsz * n;
    u64 pub = (u64)1 << (62 - f);
    u64 *u = sf__spup_scr(p, SCR_H, 8 * n);
    u64 *t = sf__spup_scr(p, SCR_A, 8 * 3 * SPU_CHUNK);
    if (!u || !t) return SF_ENOMEM;
    if (me == HELPER) {
        uint8_t *ma = sf__spup_scr(p, SCR_CORR, clen);
        u64 *mb = sf__spup_scr(p, SCR_B, 8 * n);
        if (!ma || !mb) return SF_ENOMEM;
        u64 *m0 = (u64 *)ma, *R1 = m0 + n;
        uint8_t *cT = ma + 16 * n;
        u64 *r = t, *w = t + SPU_CHUNK, *T = t + 2 * SPU_CHUNK;
        for (size_t c0 = 0; c0 < n; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, n - c0);
            sf__spup_prg(p, HELPER, PP_R, 8 * c0, r, 8 * cn);
            for (size_t e = 0; e < cn; e++) {
                size_t i = c0 + e;
                if (mode == 0) {
                    m0[i] = in[2 * i] + r[e] + OFF62;     /* x_2 for member 0 */
                    mb[i] = in[2 * i + 1] + r[e] + OFF62; /* x_0 for member 1 */
                } else {
                    m0[i] = mb[i] = in[i] + r[e] + OFF62;
                }
                R1[i] = r[e] >> f;
                T[e] = (r[e] >> 63) << (64 - f);
            }
            sf__spup_prg(p, 1, PP_R1, 8 * c0, w, 8 * cn);
            for (size_t e = 0; e < cn; e++) R1[c0 + e] -= w[e];
            sf__spup_prg_t(p, 1, PP_T, c0, cn, f, w);
            for (size_t e = 0; e < cn; e++) sf__spup_t_put(cT, c0 + e, T[e] - w[e], f);
        }
        SPU_TRY(sf__spup_send(p, 0, ma, clen));
        SPU_TRY(sf__spup_send(p, 1, mb, 8 * n));
        return from2(p, NULL, n, out);
    }
    int other = 1 - me;
    u64 *zo = NULL;
    if (mode == 1) {
        zo = sf__spup_scr(p, SCR_G, 8 * n);
        if (!zo) return SF_ENOMEM;
        SPU_TRY(sf__spup_send(p, other, in, 8 * n));
        SPU_TRY(sf__spup_recv(p, other, zo, 8 * n));
    }
    uint8_t *msg = sf__spup_scr(p, SCR_CORR, me == 0 ? clen : 8 * n);
    if (!msg) return SF_ENOMEM;
    SPU_TRY(sf__spup_recv(p, HELPER, msg, me == 0 ? clen : 8 * n));
    const u64 *m = (const u64 *)msg, *R1 = m + n;
    const uint8_t *cT = msg + 16 * n;
    for (size_t c0 = 0; c0 < n; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, n - c0);
        if (me == 1) {
            sf__spup_prg(p, HELPER, PP_R1, 8 * c0, t, 8 * cn);
            sf__spup_prg_t(p, HELPER, PP_T, c0, cn, f, t + SPU_CHUNK);
        }
        for (size_t e = 0; e < cn; e++) {
            size_t i = c0 + e;
            u64 c = m[i] + (mode == 0 ? in[2 * i] + in[2 * i + 1] : in[i] + zo[i]);
            u64 r1 = me == 0 ? R1[i] : t[e];
            u64 T = me == 0 ? sf__spup_t_get(cT, i, f) : t[SPU_CHUNK + e];
            u[i] = ((c >> 63) ? 0 : T) - r1 + (me == 0 ? (c >> f) - pub : 0);
        }
    }
    return from2(p, u, n, out);
}

/* ---------------------------------------------------------------- mul, trunc, matmul */

SPU_HOT static int a3_mul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                          sf_spu_share *out, int fxp)
{
    size_t n = a->n;
    p->op++;
    if (!n) return sf__spup_out(p, out, 0);
    u64 *z = sf__spup_scr(p, SCR_F, 8 * n);
    if (!z) return SF_ENOMEM;
    const u64 *x = a->w, *y = b->w;
    for (size_t e = 0; e < n; e++) {
        u64 x0 = x[2 * e], x1 = x[2 * e + 1], y0 = y[2 * e], y1 = y[2 * e + 1];
        z[e] = x0 * (y0 + y1) + x1 * y0;
    }
    SPU_TRY(add_zero(p, z, n));
    SPU_TRY(sf__spup_out(p, out, n));
    if (!fxp) return reshare3(p, z, n, out->w);
    return trunc_core(p, 1, z, n, p->fxp, out->w);
}

static int a3_trunc(sf_spu_proto *p, const sf_spu_share *x, int bits, sf_spu_share *out)
{
    size_t n = x->n;
    p->op++;
    if (!n) return sf__spup_out(p, out, 0);
    SPU_TRY(sf__spup_out(p, out, n));
    return trunc_core(p, 0, x->w, n, bits, out->w);
}

static int a3_matmul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                     size_t k, size_t n, sf_spu_share *out, int fxp)
{
    size_t MK = m * k, KN = k * n, MN = m * n;
    p->op++;
    if (!MN) return sf__spup_out(p, out, 0);
    u64 *X0 = sf__spup_scr(p, SCR_B, 8 * MK), *X1 = sf__spup_scr(p, SCR_C, 8 * MK);
    u64 *Y0 = sf__spup_scr(p, SCR_D, 8 * KN), *Y01 = sf__spup_scr(p, SCR_E, 8 * KN);
    u64 *Z = sf__spup_scr(p, SCR_F, 8 * MN);
    if (!X0 || !X1 || !Y0 || !Y01 || !Z) return SF_ENOMEM;
    for (size_t i = 0; i < MK; i++) X0[i] = a->w[2 * i], X1[i] = a->w[2 * i + 1];
    for (size_t i = 0; i < KN; i++) Y0[i] = b->w[2 * i], Y01[i] = b->w[2 * i] + b->w[2 * i + 1];
    memset(Z, 0, 8 * MN);
    SPU_TRY(sf__spup_gemm(m, n, k, X0, k, Y01, n, Z, n));
    SPU_TRY(sf__spup_gemm(m, n, k, X1, k, Y0, n, Z, n));
    SPU_TRY(add_zero(p, Z, MN));
    SPU_TRY(sf__spup_out(p, out, MN));
    if (!fxp) return reshare3(p, Z, MN, out->w);
    return trunc_core(p, 1, Z, MN, p->fxp, out->w);
}

/* ---------------------------------------------------------------- private operands */

/* Owner o, receiver j = o+1 (holds the component B_(o+2) the owner lacks), helper
 * h = o+2 (holds it too, and deals). E = X - A goes to j once; per product j sends the
 * owner F = B_(o+2) - b, h sends the owner A b - z; the additive result (owner:
 * X (B_o + B_(o+1)) + A F + A b - z; j: E B_(o+2) + z; h: 0) is reshared (or truncated). */
static int a3_priv_new(sf_spu_proto *p, sf_spu_priv *pr, const u64 *X)
{
    p->op++;
    pr->nonce = p->op;
    int o = pr->owner, j = (o + 1) % 3, h = (o + 2) % 3;
    if (pr->narrow) return SF_EINVAL; /* the 32-bit ring is semi2k's (the device says so first) */
    if (!pr->m || !pr->k || p->self == h) return SF_OK;
    if (p->self == j) return sf__spup_priv_recv_e(p, pr);
    return sf__spup_priv_send_e(p, pr, X, h, &j, 1);
}

static int a3_priv_matmul(sf_spu_proto *p, const sf_spu_priv *pr, const u64 *Xr, size_t r0,
                          size_t rows, int trans, const sf_spu_share *b, size_t n,
                          sf_spu_share *out, int fxp)
{
    p->op++;
    int o = pr->owner, j = (o + 1) % 3, h = (o + 2) % 3, me = p->self;
    size_t k = pr->k, R = trans ? k : rows, K = trans ? rows : k;
    size_t RN = R * n, KN = K * n, RK = rows * k;
    if (!RN) return sf__spup_out(p, out, 0);
    u64 *Y = sf__spup_scr(p, SCR_F, 8 * RN), *t = sf__spup_scr(p, SCR_B, 8 * (KN > RN ? KN : RN) + 8);
    u64 *A = sf__spup_scr(p, SCR_C, 8 * (RK ? RK : 1)), *tr = sf__spup_scr(p, SCR_D, 8 * (RK ? RK : 1));
    u64 *bs = sf__spup_scr(p, SCR_E, 8 * (KN ? KN : 1));
    if (!Y || !t || !A || !tr || !bs) return SF_ENOMEM;
    memset(Y, 0, 8 * RN);
    if (me == j) { /* F = B_(o+2) - b to the owner; E B_(o+2) + z */
        for (size_t e = 0; e < KN; e++) bs[e] = b->w[2 * e + 1];
        sf__spup_prg(p, h, PP_PB, 0, t, 8 * KN);
        for (size_t e = 0; e < KN; e++) t[e] = bs[e] - t[e];
        if (KN) SPU_TRY(sf__spup_send(p, o, t, 8 * KN));
        sf__spup_prg(p, h, PP_PZ, 0, Y, 8 * RN);
        SPU_TRY(sf__spup_priv_gemm(trans, rows, k, n, pr->E + r0 * k, bs, Y, tr));
    } else if (me == h) { /* A b - z to the owner; its additive share is 0 */
        sf__spup_prg_n(p, pr->nonce, o, PP_PA, 8 * r0 * k, A, 8 * RK);
        sf__spup_prg(p, j, PP_PB, 0, bs, 8 * KN);
        sf__spup_prg(p, j, PP_PZ, 0, t, 8 * RN);
        for (size_t e = 0; e < RN; e++) t[e] = (u64)0 - t[e];
        SPU_TRY(sf__spup_priv_gemm(trans, rows, k, n, A, bs, t, tr));
        SPU_TRY(sf__spup_send(p, o, t, 8 * RN));
    } else { /* the owner: X (B_o + B_(o+1)) + A F + (A b - z) */
        for (size_t e = 0; e < KN; e++) bs[e] = b->w[2 * e] + b->w[2 * e + 1];
        SPU_TRY(sf__spup_priv_gemm(trans, rows, k, n, Xr, bs, Y, tr));
        if (KN) SPU_TRY(sf__spup_recv(p, j, bs, 8 * KN));
        sf__spup_prg_n(p, pr->nonce, h, PP_PA, 8 * r0 * k, A, 8 * RK);
        SPU_TRY(sf__spup_priv_gemm(trans, rows, k, n, A, bs, Y, tr));
        SPU_TRY(sf__spup_recv(p, h, t, 8 * RN));
        for (size_t e = 0; e < RN; e++) Y[e] += t[e];
    }
    SPU_TRY(add_zero(p, Y, RN));
    SPU_TRY(sf__spup_out(p, out, RN));
    if (!fxp) return reshare3(p, Y, RN, out->w);
    return trunc_core(p, 1, Y, RN, p->fxp, out->w);
}

/* ---------------------------------------------------------------- comparison */

static int a3_cmp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out, int kind)
{
    const spu_grp *g = &p->g;
    size_t N = x->n;
    p->op++;
    if (!N) return sf__spup_out(p, out, 0);
    int me = p->self;
    size_t clen = 8 * N + sf__spup_bool_corr_bytes(kind, N);
    if (me == HELPER) {
        uint8_t *ma = sf__spup_scr(p, SCR_CORR, clen);
        u64 *mb = sf__spup_scr(p, SCR_G, 8 * N), *t = sf__spup_scr(p, SCR_H, 8 * SPU_CHUNK);
        if (!ma || !mb || !t) return SF_ENOMEM;
        u64 *m0 = (u64 *)ma;
        for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, N - c0);
            sf__spup_prg(p, 0, PP_CMP_RB, 8 * c0, m0 + c0, 8 * cn);
            sf__spup_prg(p, 1, PP_CMP_RB, 8 * c0, t, 8 * cn);
            for (size_t e = 0; e < cn; e++) {
                size_t i = c0 + e;
                u64 r = m0[i] ^ t[e];
                m0[i] = x->w[2 * i] + r;     /* x_2 + r for member 0 */
                mb[i] = x->w[2 * i + 1] + r; /* x_0 + r for member 1 */
            }
        }
        uint8_t *w = ma + 8 * N;
        SPU_TRY(sf__spup_bool_deal(p, g, kind, N, &w));
        SPU_TRY(sf__spup_send(p, 0, ma, clen));
        SPU_TRY(sf__spup_send(p, 1, mb, 8 * N));
        SPU_TRY(sf__spup_out(p, out, N));
        return from2(p, NULL, N, out->w);
    }
    uint8_t *msg = sf__spup_scr(p, SCR_CORR, me == 0 ? clen : 8 * N);
    u64 *c = sf__spup_scr(p, SCR_H, 8 * N), *rb = sf__spup_scr(p, SCR_G, 8 * N);
    u64 *bits = sf__spup_scr(p, SCR_F, 8 * sf__spup_words(N, 1));
    if (!msg || !c || !rb || !bits) return SF_ENOMEM;
    SPU_TRY(sf__spup_recv(p, HELPER, msg, me == 0 ? clen : 8 * N));
    const u64 *m = (const u64 *)msg;
    for (size_t i = 0; i < N; i++) c[i] = m[i] + x->w[2 * i] + x->w[2 * i + 1];
    sf__spup_prg(p, HELPER, PP_CMP_RB, 0, rb, 8 * N);
    const uint8_t *cur = me == 0 ? msg + 8 * N : NULL;
    if (kind == 0)
        SPU_TRY(sf__spup_bool_msb(p, g, c, rb, N, &cur, bits));
    else
        SPU_TRY(sf__spup_bool_eqz(p, g, c, rb, N, &cur, bits));
    u64 *u = c; /* c is no longer needed */
    SPU_TRY(sf__spup_bool_b2a(p, g, bits, N, &cur, u));
    SPU_TRY(sf__spup_out(p, out, N));
    return from2(p, u, N, out->w);
}

/* ---------------------------------------------------------------- family */

/* The group of the helper-dealt steps: members 0 and 1, member 2 their dealer, member 0
 * the holder of its corrections. */
static void a3_init(sf_spu_proto *p)
{
    spu_grp *g = &p->g;
    g->m = 2;
    g->mem[0] = 0;
    g->mem[1] = 1;
    g->me = p->self < 2 ? p->self : -1;
    g->dealer = HELPER;
    g->holder = 0;
    g->deal = p->self == HELPER;
}

/* Member i holds components (x_i, x_{i+1}), interleaved. */
static void a3_layout(const u64 *comp, size_t n, int nmembers, int i, u64 *w)
{
    (void)nmembers;
    interleave(w, comp + (size_t)i * n, comp + (size_t)((i + 1) % 3) * n, n);
}

/* x = x_0 + x_1 + x_2, every component held by two members that must agree. */
static int a3_combine(const sf_spu_share *shares, int nmembers, size_t n, u64 *plain)
{
    if (nmembers != 3) return SF_EINVAL;
    for (size_t e = 0; e < n; e++) {
        u64 v = 0;
        for (int i = 0; i < 3; i++) {
            if (shares[i].w[2 * e + 1] != shares[(i + 1) % 3].w[2 * e]) return SF_EINVAL;
            v += shares[i].w[2 * e];
        }
        plain[e] = v;
    }
    return SF_OK;
}

/* The public constant goes into component x_0: member 0's first word, member 2's second. */
static void a3_add_public(const sf_spu_proto *p, const u64 *x, const u64 *c, size_t inc,
                          size_t n, u64 *o)
{
    int word = p->self == 0 ? 0 : p->self == 2 ? 1 : -1;
    for (size_t e = 0; e < n; e++) {
        o[2 * e] = x[2 * e] + (word == 0 ? c[e * inc] : 0);
        o[2 * e + 1] = x[2 * e + 1] + (word == 1 ? c[e * inc] : 0);
    }
}

const struct spu_family_ops sf__spu_aby3_ops = {
    .name = "aby3",
    .nwords = 2,
    .min_members = 3,
    .max_members = 3,
    .layout = a3_layout,
    .combine = a3_combine,
    .shape = NULL, /* three members, no dealer */
    .init = a3_init,
    .add_public = a3_add_public,
    .share_from = a3_share_from,
    .reveal = a3_reveal,
    .mul = a3_mul,
    .trunc = a3_trunc,
    .matmul = a3_matmul,
    .cmp = a3_cmp,
    .priv_new = a3_priv_new,
    .priv_matmul = a3_priv_matmul,
};
