/*
 * semi2k: additive shares over Z(2^64) among n >= 2 members, correlated randomness from a
 * dealer (an extra party n, or a member: then that member knows every mask - insecure).
 *
 * Dealer: every member j derives its shares of the random values from its stream with
 * the dealer; the dealer derives all of them and sends the holder (group.holder: the
 * dealer if it is a member, else member 0) only the corrections that make the shares
 * consistent (e.g. c_h = a*b - sum_{j != h} c_j). The dealer never receives; its own
 * random values (the truncation masks of mul_fxp/matmul_fxp) come from its private stream.
 *
 * mul (Beaver): open E = x - a, F = y - b; z_j = c_j + E*b_j + F*a_j (+ E*F on the
 *   holder). Member j's a_j, b_j are recovered from its own E_j, F_j (x_j - E_j), so
 *   nothing is drawn twice.
 * trunc by f (probabilistic, Escudero et al.): dealer r uniform, R1 = r >> f (logical),
 *   T = 2^(64-f) * msb(r) (mod 2^64: only f-bit shares matter, sent as u32 when f <= 32).
 *   With y = x + 2^62 in [0, 2^63) (x in [-2^62, 2^62)): open c = y + r. The wrap of
 *   y + r is w = msb(r) * (1 - msb(c)) (y < 2^63), so y = c - r + 2^64 w and
 *     floor(y / 2^f) in { (c >> f) - R1 + 2^(64-f) w - 1 + {0, 1} }:
 *     out = (c >> f) - 2^(62-f) - [R1] + (msb(c) ? 0 : [T])
 *   equals floor(x / 2^f) or floor(x / 2^f) + 1 (the low bits of c - r may borrow).
 * mul_fxp fuses both: the dealer's c is a*b + r, so the second opening is directly
 *   z + 2^62 + r (2 rounds).
 * matmul: one matrix triple (A, B, C = A*B): open E = X - A, F = Y - B;
 *   Z_j = C_j + A_j*F + E*B_j (+ E*F on the holder, computed as E*(B_h + F)).
 * comparison: open c = x + r with the dealer's r in arithmetic and XOR shares, then the
 *   boolean engine (spu_bool.c) and a daBit B2A.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/spu/core/spu_internal.h"

static inline size_t minz(size_t a, size_t b) { return a < b ? a : b; }
#define OFF62 ((u64)1 << 62)

/* ---------------------------------------------------------------- input and output */

static int s2k_share_from(sf_spu_proto *p, int owner, const u64 *plain, size_t n, sf_spu_share *out)
{
    p->op++;
    SPU_TRY(sf__spup_out(p, out, n));
    if (!p->member || !n) return SF_OK;
    if (p->self != owner) { /* my share is our pairwise stream */
        sf__spup_prg(p, owner, PP_SHARE, 0, out->w, 8 * n);
        return SF_OK;
    }
    u64 *t = sf__spup_scr(p, SCR_TMP, 8 * SPU_CHUNK);
    if (!t) return SF_ENOMEM;
    u64 *o = out->w;
    for (size_t c0 = 0; c0 < n; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, n - c0);
        memmove(o + c0, plain + c0, 8 * cn);
        for (int j = 0; j < p->n; j++) {
            if (j == owner) continue;
            sf__spup_prg(p, j, PP_SHARE, 8 * c0, t, 8 * cn);
            for (size_t e = 0; e < cn; e++) o[c0 + e] -= t[e];
        }
    }
    return SF_OK;
}

static int s2k_reveal(sf_spu_proto *p, int to, const sf_spu_share *x, u64 *plain)
{
    size_t n = x->n;
    if (!p->member || !n) return SF_OK;
    u64 *tmp = sf__spup_scr(p, SCR_TMP, 8 * n);
    if (!tmp) return SF_ENOMEM;
    if (to < 0) return sf__spup_grp_open(p, &p->g, x->w, plain, n, 0, tmp);
    if (p->self != to) return sf__spup_send(p, to, x->w, 8 * n);
    memcpy(plain, x->w, 8 * n);
    for (int j = 0; j < p->n; j++) {
        if (j == to) continue;
        SPU_TRY(sf__spup_recv(p, j, tmp, 8 * n));
        for (size_t e = 0; e < n; e++) plain[e] += tmp[e];
    }
    return SF_OK;
}

/* Send buf to every other member of the group. */
static int send_others(sf_spu_proto *p, const spu_grp *g, const void *buf, size_t len)
{
    for (int j = 0; j < g->m; j++)
        if (j != g->me) SPU_TRY(sf__spup_send(p, g->mem[j], buf, len));
    return SF_OK;
}

/* The sum of the other members' cnt words: in place when there is one other member and
 * the net can lend its buffer (*hold then set: release it), else summed into dst (tmp:
 * cnt words, used with more than 2 members). */
static int recv_sum_in(sf_spu_proto *p, const spu_grp *g, u64 *dst, u64 *tmp, size_t cnt,
                       const u64 **sum, void **hold)
{
    *hold = NULL;
    if (g->m == 2) {
        const void *d;
        SPU_TRY(sf__spup_recv_in(p, g->mem[1 - g->me], dst, 8 * cnt, &d, hold));
        *sum = d;
        return SF_OK;
    }
    *sum = dst;
    int first = 1;
    for (int j = 0; j < g->m; j++) {
        if (j == g->me) continue;
        SPU_TRY(sf__spup_recv(p, g->mem[j], first ? dst : tmp, 8 * cnt));
        if (!first)
            for (size_t i = 0; i < cnt; i++) dst[i] += tmp[i];
        first = 0;
    }
    return SF_OK;
}

/* After the dealer part: the extra dealer sends and is done. */
static int deal_done(sf_spu_proto *p, const uint8_t *corr, size_t len)
{
    const spu_grp *g = &p->g;
    if (p->member) return 1;
    int rc = sf__spup_send(p, g->mem[g->holder], corr, len);
    return rc < 0 ? rc : 0;
}

/* The holder's corrections: computed by a member dealer, else received. */
static int get_corr(sf_spu_proto *p, uint8_t **corr, size_t len)
{
    const spu_grp *g = &p->g;
    if (g->deal) return SF_OK; /* computed by the dealer part of this operation */
    *corr = sf__spup_scr(p, SCR_CORR, len);
    if (!*corr) return SF_ENOMEM;
    return sf__spup_recv(p, g->dealer, *corr, len);
}

/* Dealer: the holder's R1 and T corrections (R1o[e], To as encoded T) for the masks r of
 * elements c0 .. c0+cn-1; t, T: cn words of scratch each. */
SPU_HOT static void deal_trunc(sf_spu_proto *p, const u64 *r, size_t c0, size_t cn, int f, u64 *R1o,
                       uint8_t *To, u64 *t, u64 *T)
{
    const spu_grp *g = &p->g;
    for (size_t e = 0; e < cn; e++) {
        R1o[e] = r[e] >> f;
        T[e] = (r[e] >> 63) << (64 - f);
    }
    for (int j = 0; j < g->m; j++) {
        if (j == g->holder) continue;
        sf__spup_prg(p, g->mem[j], PP_R1, 8 * c0, t, 8 * cn);
        for (size_t e = 0; e < cn; e++) R1o[e] -= t[e];
        sf__spup_prg_t(p, g->mem[j], PP_T, c0, cn, f, t);
        for (size_t e = 0; e < cn; e++) T[e] -= t[e];
    }
    for (size_t e = 0; e < cn; e++) sf__spup_t_put(To, e, T[e], f);
}

/* Member: out_i = [holder] ((c >> f) - 2^(62-f)) - R1_i + (msb(c) ? 0 : T_i) for elements
 * c0 .. c0+cn-1 (c, out: the chunk); the holder's R1/T are R1h/Th, others draw them
 * (t: 2 * SPU_CHUNK words). */
SPU_HOT static void trunc_out(sf_spu_proto *p, const u64 *c, size_t c0, size_t cn, int f, const u64 *R1h,
                      const uint8_t *Th, u64 *out, u64 *t)
{
    const spu_grp *g = &p->g;
    u64 pub = (u64)1 << (62 - f);
    if (g->me == g->holder) {
        for (size_t e = 0; e < cn; e++) {
            u64 cc = c[e], T = sf__spup_t_get(Th, e, f);
            out[e] = (cc >> f) - pub - R1h[e] + ((cc >> 63) ? 0 : T);
        }
        return;
    }
    sf__spup_prg(p, g->dealer, PP_R1, 8 * c0, t, 8 * cn);
    sf__spup_prg_t(p, g->dealer, PP_T, c0, cn, f, t + SPU_CHUNK);
    for (size_t e = 0; e < cn; e++) out[e] = ((c[e] >> 63) ? 0 : t[SPU_CHUNK + e]) - t[e];
}

/* ---------------------------------------------------------------- mul, mul_fxp */

/* All operations below run in chunks of SPU_CHUNK elements, one message per chunk and
 * peer (the same rounds and bytes as one message, but the data stays in cache and the
 * dealer streams its corrections). */

/* Dealer: the holder's corrections of chunk c0 (cn elements) into o:
 * [c_h (cn u64)] and for fxp [R1_h (cn u64)][T_h (cn * tsz)]. */
SPU_HOT static int deal_mul_chunk(sf_spu_proto *p, size_t c0, size_t cn, int fxp, uint8_t *o)
{
    const spu_grp *g = &p->g;
    u64 *A = sf__spup_scr(p, SCR_DEAL, 8 * 5 * SPU_CHUNK);
    if (!A) return SF_ENOMEM;
    u64 *B = A + SPU_CHUNK, *t = B + SPU_CHUNK, *r = t + SPU_CHUNK, *T = r + SPU_CHUNK;
    for (int j = 0; j < g->m; j++) {
        sf__spup_prg(p, g->mem[j], PP_A, 8 * c0, j ? t : A, 8 * cn);
        if (j)
            for (size_t e = 0; e < cn; e++) A[e] += t[e];
        sf__spup_prg(p, g->mem[j], PP_B, 8 * c0, j ? t : B, 8 * cn);
        if (j)
            for (size_t e = 0; e < cn; e++) B[e] += t[e];
    }
    u64 *C = (u64 *)o;
    if (fxp) {
        sf__spup_prg(p, p->self, PP_R, 8 * c0, r, 8 * cn);
        for (size_t e = 0; e < cn; e++) C[e] = A[e] * B[e] + r[e];
    } else {
        for (size_t e = 0; e < cn; e++) C[e] = A[e] * B[e];
    }
    for (int j = 0; j < g->m; j++) {
        if (j == g->holder) continue;
        sf__spup_prg(p, g->mem[j], PP_C, 8 * c0, t, 8 * cn);
        for (size_t e = 0; e < cn; e++) C[e] -= t[e];
    }
    if (fxp) deal_trunc(p, r, c0, cn, p->fxp, C + cn, o + 16 * cn, t, T);
    return SF_OK;
}

SPU_HOT static int s2k_mul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                           sf_spu_share *out, int fxp)
{
    const spu_grp *g = &p->g;
    size_t N = a->n;
    int f = p->fxp;
    p->op++;
    if (!N) return sf__spup_out(p, out, 0);
    size_t per = 8 + (fxp ? 8 + sf__spup_tsz(f) : 0); /* correction bytes per element */
    if (!p->member) {                                  /* the extra dealer streams corrections */
        uint8_t *scr = sf__spup_scr(p, SCR_CORR, per * SPU_CHUNK);
        if (!scr) return SF_ENOMEM;
        for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, N - c0);
            void *h;
            uint8_t *o = sf__spup_send_buf(p, per * cn, scr, &h);
            int rc = deal_mul_chunk(p, c0, cn, fxp, o);
            if (!rc) rc = sf__spup_send_held(p, g->mem[g->holder], o, h, per * cn);
            sf__spup_release(p, &h);
            if (rc < 0) return rc;
        }
        return sf__spup_out(p, out, N);
    }
    int hold = g->me == g->holder, ds = g->dealer;
    /* whole-operation scratch only where the net lends no buffers (it usually does) */
    int lend = p->net->send_alloc != NULL, view = p->net->recv_view != NULL;
    u64 *S = lend ? NULL : sf__spup_scr(p, SCR_SEND, 16 * N);
    u64 *Z = fxp && !lend ? sf__spup_scr(p, SCR_G, 8 * N) : NULL;
    u64 *Rb = sf__spup_scr(p, SCR_RECV, 16 * SPU_CHUNK), *T = sf__spup_scr(p, SCR_TMP, 16 * SPU_CHUNK);
    u64 *t = sf__spup_scr(p, SCR_A, 16 * SPU_CHUNK);
    uint8_t *corr = hold && (g->deal || !view) ? sf__spup_scr(p, SCR_CORR, per * N) : NULL;
    /* per chunk: the opening sent (E_i | F_i), z sent for truncation, the holder's
     * corrections; in the net's buffers where it lends them (no copies), else in S, Z, corr */
    size_t nch = (N + SPU_CHUNK - 1) / SPU_CHUNK;
    struct mchunk {
        u64 *s, *z;
        const uint8_t *cc;
        void *hs, *hz, *hc;
    } *ch = calloc(nch, sizeof *ch);
    if ((!lend && (!S || (fxp && !Z))) || !Rb || !T || !t || (hold && (g->deal || !view) && !corr) || !ch) {
        free(ch);
        return SF_ENOMEM;
    }
    int rc = SF_OK;
    void *rh = NULL; /* the peer's opening held in place (released per chunk) */
#define MTRY(expr)                      \
    do {                                \
        if ((rc = (expr)) < 0) goto done; \
    } while (0)
    const u64 *x = a->w, *y = b->w;
    /* open E = x - a, F = y - b: a chunk's message is E_i (cn) | F_i (cn) */
    for (size_t c0 = 0, ci = 0; c0 < N; c0 += SPU_CHUNK, ci++) {
        size_t cn = minz(SPU_CHUNK, N - c0);
        u64 *s = ch[ci].s = sf__spup_send_buf(p, 16 * cn, S ? S + 2 * c0 : NULL, &ch[ci].hs);
        if (!s) MTRY(SF_ENOMEM);
        sf__spup_prg(p, ds, PP_A, 8 * c0, t, 8 * cn);
        sf__spup_prg(p, ds, PP_B, 8 * c0, t + SPU_CHUNK, 8 * cn);
        for (size_t e = 0; e < cn; e++) {
            s[e] = x[c0 + e] - t[e];
            s[cn + e] = y[c0 + e] - t[SPU_CHUNK + e];
        }
        for (int j = 0; j < g->m; j++)
            if (j != g->me) MTRY(sf__spup_send_held(p, g->mem[j], s, ch[ci].hs, 16 * cn));
    }
    MTRY(sf__spup_out(p, out, N));
    u64 *o = out->w;
    u64 hm = hold ? ~(u64)0 : 0, hoff = fxp ? (hm & ((u64)1 << 62)) : 0;
    for (size_t c0 = 0, ci = 0; c0 < N; c0 += SPU_CHUNK, ci++) {
        size_t cn = minz(SPU_CHUNK, N - c0);
        const u64 *s = ch[ci].s, *R;
        MTRY(recv_sum_in(p, g, Rb, T, 2 * cn, &R, &rh));
        const u64 *c = t;
        if (hold) {
            uint8_t *cc = corr ? corr + per * c0 : NULL;
            if (g->deal) {
                MTRY(deal_mul_chunk(p, c0, cn, fxp, cc));
                ch[ci].cc = cc;
            } else {
                const void *v;
                MTRY(sf__spup_recv_in(p, ds, cc, per * cn, &v, &ch[ci].hc));
                ch[ci].cc = v;
            }
            c = (const u64 *)ch[ci].cc;
        } else {
            sf__spup_prg(p, ds, PP_C, 8 * c0, t, 8 * cn);
        }
        u64 *dst = fxp ? (ch[ci].z = sf__spup_send_buf(p, 8 * cn, Z ? Z + c0 : NULL, &ch[ci].hz)) : o + c0;
        if (!dst) MTRY(SF_ENOMEM);
        for (size_t e = 0; e < cn; e++) {
            size_t i = c0 + e;
            u64 E = s[e] + R[e], F = s[cn + e] + R[cn + e];
            u64 ai = x[i] - s[e], bi = y[i] - s[cn + e];
            dst[e] = c[e] + E * bi + F * ai + ((E * F) & hm) + hoff;
        }
        sf__spup_release(p, &rh);
        sf__spup_release(p, &ch[ci].hs);
        if (fxp)
            for (int j = 0; j < g->m; j++)
                if (j != g->me) MTRY(sf__spup_send_held(p, g->mem[j], dst, ch[ci].hz, 8 * cn));
    }
    if (fxp) { /* open z + 2^62 + r and truncate */
        for (size_t c0 = 0, ci = 0; c0 < N; c0 += SPU_CHUNK, ci++) {
            size_t cn = minz(SPU_CHUNK, N - c0);
            const u64 *V, *z = ch[ci].z;
            MTRY(recv_sum_in(p, g, Rb, T, cn, &V, &rh));
            for (size_t e = 0; e < cn; e++) Rb[e] = V[e] + z[e];
            sf__spup_release(p, &rh);
            sf__spup_release(p, &ch[ci].hz);
            const uint8_t *cc = ch[ci].cc;
            trunc_out(p, Rb, c0, cn, f, hold ? (const u64 *)(cc + 8 * cn) : NULL,
                      hold ? cc + 16 * cn : NULL, o + c0, t);
            sf__spup_release(p, &ch[ci].hc);
        }
    }
done:
    sf__spup_release(p, &rh);
    for (size_t ci = 0; ci < nch; ci++) {
        sf__spup_release(p, &ch[ci].hs);
        sf__spup_release(p, &ch[ci].hz);
        sf__spup_release(p, &ch[ci].hc);
    }
    free(ch);
    return rc;
#undef MTRY
}

/* ---------------------------------------------------------------- trunc */

SPU_HOT static int s2k_trunc(sf_spu_proto *p, const sf_spu_share *x, int bits,
                             sf_spu_share *out)
{
    const spu_grp *g = &p->g;
    size_t N = x->n;
    p->op++;
    if (!N) return sf__spup_out(p, out, 0);
    size_t per = 8 + sf__spup_tsz(bits); /* holder's R1 and T per element */
    int hold = g->me == g->holder, ds = g->dealer;
    uint8_t *cc = NULL;
    u64 *r = NULL;
    if (g->deal) {
        cc = sf__spup_scr(p, SCR_CORR, per * SPU_CHUNK);
        r = sf__spup_scr(p, SCR_DEAL, 8 * 3 * SPU_CHUNK);
        if (!cc || !r) return SF_ENOMEM;
    }
    /* dealer chunk: r = sum_j r_j, the holder's corrections into cc */
    #define DEAL_CHUNK()                                                                \
        do {                                                                            \
            u64 *t_ = r + SPU_CHUNK, *T_ = t_ + SPU_CHUNK;                              \
            for (int j = 0; j < g->m; j++) {                                            \
                sf__spup_prg(p, g->mem[j], PP_R, 8 * c0, j ? t_ : r, 8 * cn);           \
                if (j)                                                                  \
                    for (size_t e = 0; e < cn; e++) r[e] += t_[e];                      \
            }                                                                           \
            deal_trunc(p, r, c0, cn, bits, (u64 *)cc, cc + 8 * cn, t_, T_);             \
        } while (0)
    if (!p->member) {
        for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, N - c0);
            DEAL_CHUNK();
            SPU_TRY(sf__spup_send(p, g->mem[g->holder], cc, per * cn));
        }
        return sf__spup_out(p, out, N);
    }
    u64 *S = sf__spup_scr(p, SCR_SEND, 8 * N), *R = sf__spup_scr(p, SCR_RECV, 8 * SPU_CHUNK);
    u64 *T = sf__spup_scr(p, SCR_TMP, 8 * SPU_CHUNK), *t = sf__spup_scr(p, SCR_A, 16 * SPU_CHUNK);
    if (hold && !cc) cc = sf__spup_scr(p, SCR_CORR, per * SPU_CHUNK);
    if (!S || !R || !T || !t || (hold && !cc)) return SF_ENOMEM;
    u64 hoff = hold ? (u64)1 << 62 : 0;
    for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, N - c0);
        sf__spup_prg(p, ds, PP_R, 8 * c0, S + c0, 8 * cn);
        for (size_t e = 0; e < cn; e++) S[c0 + e] += x->w[c0 + e] + hoff;
        SPU_TRY(send_others(p, g, S + c0, 8 * cn));
    }
    SPU_TRY(sf__spup_out(p, out, N));
    for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, N - c0);
        const u64 *V;
        void *rh;
        SPU_TRY(recv_sum_in(p, g, R, T, cn, &V, &rh));
        for (size_t e = 0; e < cn; e++) R[e] = V[e] + S[c0 + e];
        sf__spup_release(p, &rh);
        if (hold) {
            if (g->deal)
                DEAL_CHUNK();
            else
                SPU_TRY(sf__spup_recv(p, ds, cc, per * cn));
        }
        trunc_out(p, R, c0, cn, bits, hold ? (const u64 *)cc : NULL, hold ? cc + 8 * cn : NULL,
                  out->w + c0, t);
    }
    #undef DEAL_CHUNK
    return SF_OK;
}

/* ---------------------------------------------------------------- matmul */

static int deal_matmul(sf_spu_proto *p, size_t m, size_t k, size_t n, int fxp, uint8_t *corr)
{
    const spu_grp *g = &p->g;
    int f = p->fxp;
    size_t MK = m * k, KN = k * n, MN = m * n;
    u64 *A = sf__spup_scr(p, SCR_DEAL, 8 * MK), *B = sf__spup_scr(p, SCR_B, 8 * KN);
    u64 *t = sf__spup_scr(p, SCR_C, 8 * (MK > KN ? (MK > MN ? MK : MN) : (KN > MN ? KN : MN)));
    u64 *T = sf__spup_scr(p, SCR_D, 8 * SPU_CHUNK), *u = sf__spup_scr(p, SCR_E, 8 * SPU_CHUNK);
    if (!A || !B || !t || !T || !u) return SF_ENOMEM;
    for (int j = 0; j < g->m; j++) {
        sf__spup_prg(p, g->mem[j], PP_A, 0, j ? t : A, 8 * MK);
        if (j)
            for (size_t i = 0; i < MK; i++) A[i] += t[i];
        sf__spup_prg(p, g->mem[j], PP_B, 0, j ? t : B, 8 * KN);
        if (j)
            for (size_t i = 0; i < KN; i++) B[i] += t[i];
    }
    u64 *C = (u64 *)corr;
    if (fxp)
        sf__spup_prg(p, p->self, PP_R, 0, C, 8 * MN);
    else
        memset(C, 0, 8 * MN);
    if (fxp) { /* keep r for the truncation corrections (t is free again below) */
        memcpy(t, C, 8 * MN);
    }
    SPU_TRY(sf__spup_gemm(m, n, k, A, k, B, n, C, n));
    for (int j = 0; j < g->m; j++) {
        if (j == g->holder) continue;
        for (size_t c0 = 0; c0 < MN; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, MN - c0);
            sf__spup_prg(p, g->mem[j], PP_C, 8 * c0, u, 8 * cn);
            for (size_t e = 0; e < cn; e++) C[c0 + e] -= u[e];
        }
    }
    if (fxp)
        for (size_t c0 = 0; c0 < MN; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, MN - c0);
            deal_trunc(p, t + c0, c0, cn, f, (u64 *)corr + MN + c0,
                       corr + 16 * MN + sf__spup_tsz(f) * c0, u, T);
        }
    return SF_OK;
}

static int s2k_matmul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                      size_t k, size_t n, sf_spu_share *out, int fxp)
{
    const spu_grp *g = &p->g;
    int f = p->fxp;
    size_t MK = m * k, KN = k * n, MN = m * n;
    p->op++;
    if (!MN) return sf__spup_out(p, out, MN);
    size_t clen = 8 * MN + (fxp ? 8 * MN + sf__spup_tsz(f) * MN : 0);
    uint8_t *corr = NULL;
    if (g->deal) {
        corr = sf__spup_scr(p, SCR_CORR, clen);
        if (!corr) return SF_ENOMEM;
        SPU_TRY(deal_matmul(p, m, k, n, fxp, corr));
        int rc = deal_done(p, corr, clen);
        if (rc <= 0) return rc < 0 ? rc : sf__spup_out(p, out, MN);
    }
    int hold = g->me == g->holder, ds = g->dealer;
    size_t L = MK + KN;
    u64 *S = sf__spup_scr(p, SCR_SEND, 8 * (L > MN ? L : MN));
    u64 *R = sf__spup_scr(p, SCR_RECV, 8 * (L > MN ? L : MN));
    u64 *tmp = sf__spup_scr(p, SCR_TMP, g->m > 2 ? 8 * (L > MN ? L : MN) : 64);
    u64 *Ai = sf__spup_scr(p, SCR_E, 8 * MK), *Bi = sf__spup_scr(p, SCR_F, 8 * KN);
    u64 *Z = sf__spup_scr(p, SCR_G, 8 * MN), *t = sf__spup_scr(p, SCR_A, 16 * SPU_CHUNK);
    if (!S || !R || !tmp || !Ai || !Bi || !Z || !t) return SF_ENOMEM;
    sf__spup_prg(p, ds, PP_A, 0, S, 8 * MK);
    sf__spup_prg(p, ds, PP_B, 0, S + MK, 8 * KN);
    for (size_t i = 0; i < MK; i++) Ai[i] = S[i], S[i] = a->w[i] - S[i];
    for (size_t i = 0; i < KN; i++) Bi[i] = S[MK + i], S[MK + i] = b->w[i] - S[MK + i];
    SPU_TRY(sf__spup_grp_open(p, g, S, R, L, 0, tmp));
    const u64 *E = R, *F = R + MK;
    if (hold) {
        SPU_TRY(get_corr(p, &corr, clen));
        memcpy(Z, corr, 8 * MN);
        for (size_t i = 0; i < KN; i++) Bi[i] += F[i]; /* E*(B_h + F) adds the E*F term */
    } else {
        sf__spup_prg(p, ds, PP_C, 0, Z, 8 * MN);
    }
    SPU_TRY(sf__spup_gemm(m, n, k, Ai, k, F, n, Z, n));
    SPU_TRY(sf__spup_gemm(m, n, k, E, k, Bi, n, Z, n));
    if (!fxp) {
        SPU_TRY(sf__spup_out(p, out, MN));
        memcpy(out->w, Z, 8 * MN);
        return SF_OK;
    }
    if (hold)
        for (size_t i = 0; i < MN; i++) Z[i] += OFF62;
    SPU_TRY(sf__spup_grp_open(p, g, Z, R, MN, 0, tmp));
    SPU_TRY(sf__spup_out(p, out, MN));
    for (size_t c0 = 0; c0 < MN; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, MN - c0);
        trunc_out(p, R + c0, c0, cn, f, hold ? (const u64 *)corr + MN + c0 : NULL,
                  hold ? corr + 16 * MN + sf__spup_tsz(f) * c0 : NULL, out->w + c0, t);
    }
    return SF_OK;
}

/* ---------------------------------------------------------------- comparison */

SPU_HOT static int s2k_cmp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out,
                           int kind)
{
    const spu_grp *g = &p->g;
    size_t N = x->n;
    p->op++;
    if (!N) return sf__spup_out(p, out, 0);
    size_t clen = 8 * N + sf__spup_bool_corr_bytes(kind, N);
    uint8_t *corr = NULL;
    if (g->deal) {
        corr = sf__spup_scr(p, SCR_CORR, clen);
        u64 *r = sf__spup_scr(p, SCR_DEAL, 8 * 2 * SPU_CHUNK);
        if (!corr || !r) return SF_ENOMEM;
        u64 *t = r + SPU_CHUNK, *rb = (u64 *)corr;
        for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, N - c0);
            for (int j = 0; j < g->m; j++) {
                sf__spup_prg(p, g->mem[j], PP_CMP_RA, 8 * c0, j ? t : r, 8 * cn);
                if (j)
                    for (size_t e = 0; e < cn; e++) r[e] += t[e];
            }
            for (size_t e = 0; e < cn; e++) rb[c0 + e] = r[e];
            for (int j = 0; j < g->m; j++) {
                if (j == g->holder) continue;
                sf__spup_prg(p, g->mem[j], PP_CMP_RB, 8 * c0, t, 8 * cn);
                for (size_t e = 0; e < cn; e++) rb[c0 + e] ^= t[e];
            }
        }
        uint8_t *w = corr + 8 * N;
        SPU_TRY(sf__spup_bool_deal(p, g, kind, N, &w));
        int rc = deal_done(p, corr, clen);
        if (rc <= 0) return rc < 0 ? rc : sf__spup_out(p, out, N);
    }
    int hold = g->me == g->holder, ds = g->dealer;
    u64 *S = sf__spup_scr(p, SCR_SEND, 8 * N), *c = sf__spup_scr(p, SCR_H, 8 * N);
    u64 *tmp = sf__spup_scr(p, SCR_TMP, g->m > 2 ? 8 * N : 64);
    u64 *rb = sf__spup_scr(p, SCR_G, 8 * N), *bits = sf__spup_scr(p, SCR_F, 8 * sf__spup_words(N, 1));
    if (!S || !c || !tmp || !rb || !bits) return SF_ENOMEM;
    sf__spup_prg(p, ds, PP_CMP_RA, 0, S, 8 * N);
    for (size_t i = 0; i < N; i++) S[i] += x->w[i];
    SPU_TRY(sf__spup_grp_open(p, g, S, c, N, 0, tmp));
    const uint8_t *cur = NULL;
    if (hold) {
        SPU_TRY(get_corr(p, &corr, clen));
        memcpy(rb, corr, 8 * N);
        cur = corr + 8 * N;
    } else {
        sf__spup_prg(p, ds, PP_CMP_RB, 0, rb, 8 * N);
    }
    if (kind == 0)
        SPU_TRY(sf__spup_bool_msb(p, g, c, rb, N, &cur, bits));
    else
        SPU_TRY(sf__spup_bool_eqz(p, g, c, rb, N, &cur, bits));
    SPU_TRY(sf__spup_out(p, out, N));
    return sf__spup_bool_b2a(p, g, bits, N, &cur, out->w);
}

/* ---------------------------------------------------------------- private operands */

static int s2k_priv_new(sf_spu_proto *p, sf_spu_priv *pr, const u64 *X)
{
    p->op++;
    pr->nonce = p->op;
    int o = pr->owner, to[SPU_MAXM], nto = 0;
    if (!p->member || !pr->m || !pr->k) return SF_OK;
    if (p->self != o) return sf__spup_priv_recv_e(p, pr);
    for (int j = 0; j < p->n; j++)
        if (j != o) to[nto++] = j;
    return sf__spup_priv_send_e(p, pr, X, p->prm.dealer, to, nto);
}

/* d += s (neg: d -= s), n words of the product's ring (narrow: 32-bit, else 64-bit) */
static void wacc(int narrow, void *d, const void *s, size_t n, int neg)
{
    if (narrow) {
        uint32_t *a = d, m = neg ? (uint32_t)-1 : 1;
        for (size_t e = 0; e < n; e++) a[e] += m * ((const uint32_t *)s)[e];
    } else {
        u64 *a = d, m = neg ? ~(u64)0 : 1;
        for (size_t e = 0; e < n; e++) a[e] += m * ((const u64 *)s)[e];
    }
}

/* One product's shape: out R x n from b K x n; Z result words (the 32-bit ring: one R x n
 * per block of rows of a transposed product). */
typedef struct {
    size_t R, K, RN, KN, RK, blk, nb, Z;
} s2k_pgeo;

static s2k_pgeo pgeo(const sf_spu_priv_op *op)
{
    const sf_spu_priv *pr = op->pr;
    s2k_pgeo g;
    g.R = op->trans ? pr->k : op->rows;
    g.K = op->trans ? op->rows : pr->k;
    g.RN = g.R * op->n, g.KN = g.K * op->n, g.RK = op->rows * pr->k;
    g.nb = pr->narrow ? sf__spup_priv_blocks(pr, op->trans, op->rows, &g.blk) : 1;
    g.Z = g.nb * g.RN;
    return g;
}

/* C += op(X) B in the product's ring (W = 4: mod 2^32 by blocks; 8: mod 2^64). */
static int pgemm(const sf_spu_priv_op *op, const s2k_pgeo *g, const void *X, const void *B, void *C, u64 *tr)
{
    if (op->pr->narrow) {
        sf__spup_priv_gemm32_blocks(op->trans, op->rows, op->pr->k, op->n, g->blk, X, B, C);
        return SF_OK;
    }
    return sf__spup_priv_gemm(op->trans, op->rows, op->pr->k, op->n, X, B, C, tr);
}

/* cnt products with private matrices in the rounds of one (spu_priv.c has the scheme,
 * docs/architecture.md "Private operands" the argument): every product's masked shares F
 * and the dealer's corrections go out before anyone waits, and the truncations of all of
 * them are one operation. The 32-bit ring (every pr narrow, one xs): with fxp the b's are
 * first truncated by t = f - xs (x32 keeps f - xs fraction bits, so the products have f);
 * the products run mod 2^32, and each result z (|z| < 2^30) goes to 64 bits as
 * trunc(z 2^32, 32 - L), exact as the low 32 bits are zero (L = xs without fxp: the
 * integer operand's scale); a transposed product's blocks are then summed. */
static int s2k_priv_matmul_n(sf_spu_proto *p, const sf_spu_priv_op *ops, int cnt, int fxp)
{
    int D = p->prm.dealer, me = p->self, narrow = ops[0].pr->narrow;
    int t = narrow && fxp ? p->fxp - ops[0].pr->xs : 0, L = narrow && !fxp ? ops[0].pr->xs : 0;
    size_t W = narrow ? 4 : 8, sKN = 0, sZ = 0, mRK = 1, mKN = 1, mZ = 1;
    s2k_pgeo *g = malloc(sizeof *g * (size_t)cnt);
    u64 *nonce = malloc(sizeof *nonce * (size_t)cnt);
    size_t *zo = malloc(sizeof *zo * (size_t)cnt), *ko = malloc(sizeof *ko * (size_t)cnt);
    sf_spu_share bt = {0}, zs = {0}, ext = {0};
    uint8_t *corr = NULL, *Y = NULL;
    int rc = SF_OK;
#define NTRY(expr)                        \
    do {                                  \
        if ((rc = (expr)) < 0) goto done; \
    } while (0)
    if (!g || !nonce || !zo || !ko) NTRY(SF_ENOMEM);
    for (int i = 0; i < cnt; i++) {
        g[i] = pgeo(&ops[i]);
        ko[i] = sKN, zo[i] = sZ;
        sKN += g[i].KN, sZ += g[i].Z;
        mRK = g[i].RK > mRK ? g[i].RK : mRK;
        mKN = g[i].KN > mKN ? g[i].KN : mKN;
        mZ = g[i].Z > mZ ? g[i].Z : mZ;
    }
    /* 0. the 32-bit ring with fxp: every b truncated by t, in one operation */
    if (t > 0) {
        sf_spu_share cat = {0};
        NTRY(sf_spu_proto_share_alloc(&cat, sKN, 1));
        cat.n = sKN;
        if (p->member)
            for (int i = 0; i < cnt; i++) memcpy(cat.w + ko[i], ops[i].b->w, 8 * g[i].KN);
        rc = s2k_trunc(p, &cat, t, &bt);
        sf_spu_proto_share_free(&cat);
        NTRY(rc);
    }
    const u64 *bw = NULL; /* product i's b: bw + ko[i] after the truncation, else ops[i].b->w */
    if (t > 0) bw = bt.w;
    /* 1. per product: the other members' masked shares F_j = b_j - b'_j to the owner; the
     * dealer's correction A (sum_j b'_j) - sum_j z_j, sent to the owner or kept */
    if (me == D) {
        corr = malloc(W * (sZ ? sZ : 1));
        if (!corr) NTRY(SF_ENOMEM);
    }
    for (int i = 0; i < cnt; i++) {
        const sf_spu_priv_op *op = &ops[i];
        int o = op->pr->owner;
        p->op++;
        nonce[i] = p->op;
        const u64 *b = bw ? bw + ko[i] : op->b->w;
        if (!g[i].Z) continue;
        if (p->member && me != o && g[i].KN) {
            void *F = sf__spup_scr(p, SCR_SEND, W * mKN);
            if (!F) NTRY(SF_ENOMEM);
            sf__spup_prg_n(p, nonce[i], D, PP_PB, 0, F, W * g[i].KN); /* b'_j (D == me: private) */
            if (narrow) /* F = b_j - b'_j: b's low 32 bits */
                for (size_t e = 0; e < g[i].KN; e++) ((uint32_t *)F)[e] = (uint32_t)b[e] - ((uint32_t *)F)[e];
            else
                for (size_t e = 0; e < g[i].KN; e++) ((u64 *)F)[e] = b[e] - ((u64 *)F)[e];
            NTRY(sf__spup_send(p, o, F, W * g[i].KN));
        }
        if (me == D) {
            void *A = sf__spup_scr(p, SCR_DEAL, W * mRK), *bs = sf__spup_scr(p, SCR_B, W * mKN);
            void *tt = sf__spup_scr(p, SCR_C, W * (mKN > mZ ? mKN : mZ));
            u64 *tr = sf__spup_scr(p, SCR_D, 8 * mRK);
            if (!A || !bs || !tt || !tr) NTRY(SF_ENOMEM);
            uint8_t *ci = corr + W * zo[i];
            sf__spup_prg_n(p, op->pr->nonce, o, PP_PA, W * op->r0 * op->pr->k, A, W * g[i].RK);
            memset(bs, 0, W * g[i].KN);
            memset(ci, 0, W * g[i].Z);
            for (int j = 0; j < p->n; j++) {
                if (j == o || !g[i].KN) continue;
                sf__spup_prg_n(p, nonce[i], j, PP_PB, 0, tt, W * g[i].KN);
                wacc(narrow, bs, tt, g[i].KN, 0);
            }
            NTRY(pgemm(op, &g[i], A, bs, ci, tr));
            for (int j = 0; j < p->n; j++) {
                if (j == o) continue;
                sf__spup_prg_n(p, nonce[i], j, PP_PZ, 0, tt, W * g[i].Z);
                wacc(narrow, ci, tt, g[i].Z, 1);
            }
            if (D != o) NTRY(sf__spup_send(p, o, ci, W * g[i].Z));
        }
    }
    /* 2. the members' shares of each product: E b_j + z_j, or the owner's
     * x b_o + A sum_j F_j + the correction */
    if (p->member) {
        Y = malloc(W * (sZ ? sZ : 1));
        if (!Y) NTRY(SF_ENOMEM);
        for (int i = 0; i < cnt; i++) {
            const sf_spu_priv_op *op = &ops[i];
            const sf_spu_priv *pr = op->pr;
            int o = pr->owner;
            if (!g[i].Z) continue;
            uint8_t *Yi = Y + W * zo[i];
            const u64 *b = bw ? bw + ko[i] : op->b->w;
            void *bn = (void *)b;
            u64 *tr = sf__spup_scr(p, SCR_D, 8 * mRK);
            if (!tr) NTRY(SF_ENOMEM);
            if (narrow) { /* b's low 32 bits */
                bn = sf__spup_scr(p, SCR_G, 4 * mKN);
                if (!bn) NTRY(SF_ENOMEM);
                for (size_t e = 0; e < g[i].KN; e++) ((uint32_t *)bn)[e] = (uint32_t)b[e];
            }
            if (me != o) {
                sf__spup_prg_n(p, nonce[i], D, PP_PZ, 0, Yi, W * g[i].Z);
                NTRY(pgemm(op, &g[i], narrow ? (const void *)(pr->E32 + op->r0 * pr->k)
                                             : (const void *)(pr->E + op->r0 * pr->k), bn, Yi, tr));
                continue;
            }
            void *Fs = sf__spup_scr(p, SCR_H, W * mKN), *tt = sf__spup_scr(p, SCR_RECV, W * mKN);
            void *A = sf__spup_scr(p, SCR_F, W * mRK);
            if (!Fs || !tt || !A) NTRY(SF_ENOMEM);
            memset(Fs, 0, W * g[i].KN);
            for (int j = 0; j < p->n; j++) {
                if (j == o || !g[i].KN) continue;
                NTRY(sf__spup_recv(p, j, tt, W * g[i].KN));
                wacc(narrow, Fs, tt, g[i].KN, 0);
            }
            if (D != o) NTRY(sf__spup_recv(p, D, Yi, W * g[i].Z));
            else memcpy(Yi, corr + W * zo[i], W * g[i].Z);
            sf__spup_prg_n(p, pr->nonce, D, PP_PA, W * op->r0 * pr->k, A, W * g[i].RK);
            const void *X = op->Xr;
            if (narrow) {
                uint32_t *x32 = sf__spup_scr(p, SCR_E, 4 * mRK);
                if (!x32) NTRY(SF_ENOMEM);
                sf__spup_x32(pr->xs, op->Xr, g[i].RK, x32);
                X = x32;
            }
            NTRY(pgemm(op, &g[i], X, bn, Yi, tr));
            NTRY(pgemm(op, &g[i], A, Fs, Yi, tr));
        }
    }
    /* 3. the truncations of every result in one operation: the 32-bit ring's extension,
     * or fxp's */
    if (narrow || fxp) {
        NTRY(sf_spu_proto_share_alloc(&zs, sZ, 1));
        zs.n = sZ;
        if (p->member)
            for (size_t e = 0; e < sZ; e++) zs.w[e] = narrow ? (u64)((uint32_t *)Y)[e] << 32 : ((u64 *)Y)[e];
        NTRY(s2k_trunc(p, &zs, narrow ? 32 - L : p->fxp, &ext));
    }
    for (int i = 0; i < cnt; i++) {
        NTRY(sf__spup_out(p, ops[i].out, g[i].RN));
        if (!p->member || !g[i].RN) continue;
        u64 *o = ops[i].out->w;
        if (!g[i].Z) { /* a transposed product of no rows */
            memset(o, 0, 8 * g[i].RN);
            continue;
        }
        const u64 *src = narrow || fxp ? ext.w + zo[i] : (const u64 *)Y + zo[i];
        memcpy(o, src, 8 * g[i].RN);
        for (size_t bi = 1; bi < g[i].nb; bi++)
            for (size_t e = 0; e < g[i].RN; e++) o[e] += src[bi * g[i].RN + e];
    }
done:
    sf_spu_proto_share_free(&bt);
    sf_spu_proto_share_free(&zs);
    sf_spu_proto_share_free(&ext);
    free(corr);
    free(Y);
    free(g);
    free(nonce);
    free(zo);
    free(ko);
    return rc;
#undef NTRY
}

/* ---------------------------------------------------------------- family */

static atomic_int insecure_warned;

/* n members; self is a member, or the extra dealer n when params->dealer == n. dealer -1
 * means member 0 (insecure: warned once per process). */
static int s2k_shape(const sf_spu_params *prm, int n, int self, int *dealer)
{
    int d = prm->dealer;
    if (d < -1 || d > n) return SF_EINVAL;
    if (self < 0 || self > n || (self == n && d != n)) return SF_EINVAL;
    if (d == -1) d = 0;
    if (d < n && !atomic_exchange(&insecure_warned, 1))
        fprintf(stderr, "sfmpi spu: INSECURE: member %d is its own dealer: it knows the masks "
                        "of every opening (tests only)\n", d);
    *dealer = d;
    return SF_OK;
}

/* The group is every member, dealt by the dealer; its holder is the dealer if it is a
 * member, else member 0. */
static void s2k_init(sf_spu_proto *p)
{
    spu_grp *g = &p->g;
    int n = p->n, dealer = p->prm.dealer;
    g->m = n;
    for (int i = 0; i < n; i++) g->mem[i] = i;
    g->me = p->member ? p->self : -1;
    g->dealer = dealer;
    g->holder = dealer < n ? dealer : 0;
    g->deal = p->self == dealer;
}

/* Member i's share is its additive component. */
static void s2k_layout(const u64 *comp, size_t n, int nmembers, int i, u64 *w)
{
    (void)nmembers;
    memcpy(w, comp + (size_t)i * n, n * 8);
}

static int s2k_combine(const sf_spu_share *shares, int nmembers, size_t n, u64 *plain)
{
    for (size_t e = 0; e < n; e++) {
        u64 v = 0;
        for (int i = 0; i < nmembers; i++) v += shares[i].w[e];
        plain[e] = v;
    }
    return SF_OK;
}

/* The public constant goes into member 0's share. */
static void s2k_add_public(const sf_spu_proto *p, const u64 *x, const u64 *c, size_t inc,
                           size_t n, u64 *o)
{
    if (p->self == 0)
        for (size_t e = 0; e < n; e++) o[e] = x[e] + c[e * inc];
    else if (o != x)
        memcpy(o, x, n * 8);
}

const struct spu_family_ops sf__spu_semi2k_ops = {
    .name = "semi2k",
    .nwords = 1,
    .min_members = 2,
    .max_members = SPU_MAXM,
    .layout = s2k_layout,
    .combine = s2k_combine,
    .shape = s2k_shape,
    .init = s2k_init,
    .add_public = s2k_add_public,
    .share_from = s2k_share_from,
    .reveal = s2k_reveal,
    .mul = s2k_mul,
    .trunc = s2k_trunc,
    .matmul = s2k_matmul,
    .cmp = s2k_cmp,
    .priv_new = s2k_priv_new,
    .priv_matmul_n = s2k_priv_matmul_n,
};
