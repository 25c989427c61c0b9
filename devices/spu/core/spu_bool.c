/*
 * SPU boolean engine: XOR-shared bits packed 64 to a word, AND gates from the dealer's
 * boolean triples, within a group (semi2k: all members; aby3: members 0 and 1 with
 * member 2 as their dealer).
 *
 * msb(x) from the public c = x + r and XOR shares of r: x = c + ~r + 1, so with
 * g = c & ~r, p = c ^ ~r (local: c is public) the sign bit is
 *   msb = c_63 ^ ~r_63 ^ carry_63,  carry_63 = the group generate of bits 0..62
 * with carry-in 1, i.e. g_0 := c_0 | ~r_0. Setting bit 63 to (g=0, p=1) makes the group
 * generate of all 64 bits equal to carry_63. The generate is a parallel prefix (tree)
 * over (G, P) pairs: G = G_hi ^ (P_hi & G_lo), P = P_hi & P_lo (G_hi and P_hi exclude
 * each other, so OR = XOR), in log2(64) = 6 levels of one AND round each. Each group of a
 * level is two adjacent bits (G above P) and one AND word computes both of its products
 * (X = P_hi duplicated, Y = (G_lo, P_lo)), so a level needs as many AND bits as it has
 * pair bits: 64 per element at level 1, then 32, 16, 8, 4, 2. From level 2 on, the lower
 * and upper groups of every element are squeezed out of the packed array (elements sit
 * on aligned power-of-two bit fields, so the squeeze works on whole words) and the AND
 * runs on ceil(N * width / 64) words: the elements share words.
 *
 * x == 0 (c == r): AND of the 64 bits of ~(c ^ r) by a tree of 6 levels (32, 16, 8, 4,
 * 2, 1 AND bits per element).
 *
 * AND (Beaver for XOR shares): dealer triple (a, b, c = a & b); open d = x ^ a,
 * e = y ^ b; z_i = c_i ^ (d & b_i) ^ (e & a_i) ^ [holder] (d & e). Every member's a_i, b_i
 * and (but the holder's) c_i come from its stream with the dealer; the holder's c is the
 * dealer's correction.
 *
 * B2A: dealer daBit s (XOR shares packed, arithmetic shares [s]); open t = bit ^ s;
 * [bit] = t + (1 - 2t) [s].
 */
#include <string.h>

#include "devices/spu/core/spu_internal.h"

#define EVEN UINT64_C(0x5555555555555555)
#define ODD UINT64_C(0xAAAAAAAAAAAAAAAA)

/* bits 0, 2, 4, ... of x -> bits 0..31 */
static inline u64 sq1(u64 x)
{
    x &= EVEN;
    x = (x | (x >> 1)) & UINT64_C(0x3333333333333333);
    x = (x | (x >> 2)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    x = (x | (x >> 4)) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | (x >> 8)) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | (x >> 16)) & UINT64_C(0x00000000FFFFFFFF);
    return x;
}

/* 2-bit fields 0, 2, 4, ... (bits 4i, 4i+1) of x -> bits 0..31 */
static inline u64 sq2(u64 x)
{
    x &= UINT64_C(0x3333333333333333);
    x = (x | (x >> 2)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    x = (x | (x >> 4)) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | (x >> 8)) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | (x >> 16)) & UINT64_C(0x00000000FFFFFFFF);
    return x;
}

static inline size_t minz(size_t a, size_t b) { return a < b ? a : b; }

/* AND words of a level (level l uses purposes PP_AND_A + 3l .. +2) */
static size_t level_words(int kind, int l, size_t N)
{
    if (kind == 0) return l == 1 ? N : sf__spup_words(N, 64u >> (l - 1));
    return sf__spup_words(N, 64u >> l);
}

size_t sf__spup_bool_corr_bytes(int kind, size_t N)
{
    size_t w = 0;
    for (int l = 1; l <= 6; l++) w += level_words(kind, l, N);
    return 8 * (w + N); /* triples' c of the holder, then the daBits' [s] */
}

/* Z = X & Y on K words (Z may not alias X or Y). */
SPU_HOT static int and_words(sf_spu_proto *p, const spu_grp *g, int l, const u64 *X, const u64 *Y,
                     u64 *Z, size_t K, const uint8_t **corr)
{
    unsigned pa = PP_AND_A + 3u * (unsigned)l;
    int ds = sf__spup_gstream(p, g, g->me), hold = g->me == g->holder;
    u64 *S = sf__spup_scr(p, SCR_SEND, 16 * K), *R = sf__spup_scr(p, SCR_RECV, 16 * K);
    u64 *T = sf__spup_scr(p, SCR_TMP, g->m > 2 ? 16 * K : 8 * K);
    if (!S || !R || !T) return SF_ENOMEM;
    sf__spup_prg(p, ds, pa, 0, S, 8 * K);
    sf__spup_prg(p, ds, pa + 1, 0, S + K, 8 * K);
    for (size_t i = 0; i < K; i++) S[i] ^= X[i], S[K + i] ^= Y[i];
    SPU_TRY(sf__spup_grp_open(p, g, S, R, 2 * K, 1, T));
    const u64 *C;
    if (hold) {
        C = (const u64 *)*corr;
        *corr += 8 * K;
    } else {
        sf__spup_prg(p, ds, pa + 2, 0, T, 8 * K);
        C = T;
    }
    u64 hm = hold ? ~(u64)0 : 0;
    for (size_t i = 0; i < K; i++) {
        u64 a = X[i] ^ S[i], b = Y[i] ^ S[K + i], d = R[i], e = R[K + i];
        Z[i] = C[i] ^ (d & b) ^ (e & a) ^ (d & e & hm);
    }
    return SF_OK;
}

SPU_HOT int sf__spup_bool_msb(sf_spu_proto *p, const spu_grp *g, const u64 *c, const u64 *rb, size_t N,
                     const uint8_t **corr, u64 *bits)
{
    int hold = g->me == g->holder;
    u64 hm = hold ? ~(u64)0 : 0;
    u64 *W = sf__spup_scr(p, SCR_A, 8 * N), *X = sf__spup_scr(p, SCR_B, 8 * N);
    u64 *Y = sf__spup_scr(p, SCR_C, 8 * N), *Z = sf__spup_scr(p, SCR_D, 8 * N);
    u64 *H = sf__spup_scr(p, SCR_E, 8 * N);
    if (!W || !X || !Y || !Z || !H) return SF_ENOMEM;
    const u64 top = (u64)1 << 63;
    memset(bits, 0, 8 * sf__spup_words(N, 1));
    for (size_t i = 0; i < N; i++) {
        u64 nr = rb[i] ^ hm, ci = c[i];
        u64 gi = ci & nr, pi = nr ^ (ci & hm);
        bits[i / 64] |= (pi >> 63) << (i % 64);
        /* carry-in 1: g_0 = c_0 | ~r_0 */
        gi = (gi & ~(u64)1) | ((ci & 1) ? (hm & 1) : (nr & 1));
        gi &= ~top;
        pi = (pi & ~top) | (hm & top);
        X[i] = (pi & ODD) | ((pi & ODD) >> 1);
        Y[i] = ((gi & EVEN) << 1) | (pi & EVEN);
        H[i] = gi & ODD;
    }
    SPU_TRY(and_words(p, g, 1, X, Y, Z, N, corr));
    for (size_t i = 0; i < N; i++) W[i] = H[i] ^ Z[i];
    for (int l = 2; l <= 6; l++) {
        size_t kin = level_words(0, l - 1, N), K = level_words(0, l, N);
        for (size_t k = 0; k < K; k++) {
            u64 w0 = W[2 * k], w1 = 2 * k + 1 < kin ? W[2 * k + 1] : 0;
            u64 lo = sq2(w0) | (sq2(w1) << 32), hi = sq2(w0 >> 2) | (sq2(w1 >> 2) << 32);
            X[k] = (hi & EVEN) | ((hi & EVEN) << 1);
            Y[k] = lo;
            H[k] = hi & ODD;
        }
        SPU_TRY(and_words(p, g, l, X, Y, Z, K, corr));
        for (size_t k = 0; k < K; k++) W[k] = H[k] ^ Z[k];
    }
    /* width 2 per element: the generate (carry_63) is the upper bit */
    size_t k6 = level_words(0, 6, N), kb = sf__spup_words(N, 1);
    for (size_t k = 0; k < kb; k++) {
        u64 w0 = W[2 * k], w1 = 2 * k + 1 < k6 ? W[2 * k + 1] : 0;
        bits[k] ^= sq1(w0 >> 1) | (sq1(w1 >> 1) << 32);
    }
    return SF_OK;
}

SPU_HOT int sf__spup_bool_eqz(sf_spu_proto *p, const spu_grp *g, const u64 *c, const u64 *rb, size_t N,
                     const uint8_t **corr, u64 *bits)
{
    int hold = g->me == g->holder;
    u64 hm = hold ? ~(u64)0 : 0;
    u64 *W = sf__spup_scr(p, SCR_A, 8 * N), *X = sf__spup_scr(p, SCR_B, 8 * N);
    u64 *Y = sf__spup_scr(p, SCR_C, 8 * N);
    if (!W || !X || !Y) return SF_ENOMEM;
    /* ~(c ^ r) = c ^ ~r: all ones iff x == 0 */
    for (size_t i = 0; i < N; i++) W[i] = rb[i] ^ (hm & ~c[i]);
    size_t kin = N;
    for (int l = 1; l <= 6; l++) {
        size_t K = level_words(1, l, N);
        for (size_t k = 0; k < K; k++) {
            u64 w0 = W[2 * k], w1 = 2 * k + 1 < kin ? W[2 * k + 1] : 0;
            X[k] = sq1(w0 >> 1) | (sq1(w1 >> 1) << 32);
            Y[k] = sq1(w0) | (sq1(w1) << 32);
        }
        SPU_TRY(and_words(p, g, l, X, Y, l == 6 ? bits : W, K, corr));
        kin = K;
    }
    return SF_OK;
}

SPU_HOT int sf__spup_bool_b2a(sf_spu_proto *p, const spu_grp *g, const u64 *bits, size_t N,
                     const uint8_t **corr, u64 *out)
{
    int ds = sf__spup_gstream(p, g, g->me), hold = g->me == g->holder;
    size_t kb = sf__spup_words(N, 1);
    u64 *S = sf__spup_scr(p, SCR_SEND, 8 * kb), *R = sf__spup_scr(p, SCR_RECV, 8 * kb);
    u64 *T = sf__spup_scr(p, SCR_TMP, 8 * (kb > SPU_CHUNK ? kb : SPU_CHUNK));
    if (!S || !R || !T) return SF_ENOMEM;
    sf__spup_prg(p, ds, PP_DAB_B, 0, S, 8 * kb);
    for (size_t k = 0; k < kb; k++) S[k] ^= bits[k];
    SPU_TRY(sf__spup_grp_open(p, g, S, R, kb, 1, T));
    const u64 *sa = NULL;
    if (hold) {
        sa = (const u64 *)*corr;
        *corr += 8 * N;
    }
    u64 hb = hold ? 1 : 0;
    for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, N - c0);
        const u64 *s = hold ? sa + c0 : T;
        if (!hold) sf__spup_prg(p, ds, PP_DAB_A, 8 * c0, T, 8 * cn);
        for (size_t e = 0; e < cn; e++) {
            size_t i = c0 + e;
            u64 t = (R[i / 64] >> (i % 64)) & 1;
            out[i] = (t & hb) + (t ? (u64)0 - s[e] : s[e]);
        }
    }
    return SF_OK;
}

SPU_HOT int sf__spup_bool_deal(sf_spu_proto *p, const spu_grp *g, int kind, size_t N, uint8_t **w)
{
    int m = g->m, h = g->holder;
    u64 *A = sf__spup_scr(p, SCR_A, 8 * SPU_CHUNK), *B = sf__spup_scr(p, SCR_B, 8 * SPU_CHUNK);
    u64 *T = sf__spup_scr(p, SCR_C, 8 * SPU_CHUNK);
    if (!A || !B || !T) return SF_ENOMEM;
    for (int l = 1; l <= 6; l++) {
        unsigned pa = PP_AND_A + 3u * (unsigned)l;
        size_t K = level_words(kind, l, N);
        u64 *out = (u64 *)*w;
        for (size_t c0 = 0; c0 < K; c0 += SPU_CHUNK) {
            size_t cn = minz(SPU_CHUNK, K - c0);
            for (int j = 0; j < m; j++) {
                int s = sf__spup_gstream(p, g, j);
                sf__spup_prg(p, s, pa, 8 * c0, j ? T : A, 8 * cn);
                if (j)
                    for (size_t e = 0; e < cn; e++) A[e] ^= T[e];
                sf__spup_prg(p, s, pa + 1, 8 * c0, j ? T : B, 8 * cn);
                if (j)
                    for (size_t e = 0; e < cn; e++) B[e] ^= T[e];
            }
            u64 *C = out + c0;
            for (size_t e = 0; e < cn; e++) C[e] = A[e] & B[e];
            for (int j = 0; j < m; j++) {
                if (j == h) continue;
                sf__spup_prg(p, sf__spup_gstream(p, g, j), pa + 2, 8 * c0, T, 8 * cn);
                for (size_t e = 0; e < cn; e++) C[e] ^= T[e];
            }
        }
        *w += 8 * K;
    }
    /* daBits: s = xor of the members' packed draws; holder's [s] = s - others' */
    size_t kb = sf__spup_words(N, 1);
    u64 *sb = sf__spup_scr(p, SCR_D, 8 * kb), *tb = sf__spup_scr(p, SCR_E, 8 * kb);
    if (!sb || !tb) return SF_ENOMEM;
    for (int j = 0; j < m; j++) {
        sf__spup_prg(p, sf__spup_gstream(p, g, j), PP_DAB_B, 0, j ? tb : sb, 8 * kb);
        if (j)
            for (size_t k = 0; k < kb; k++) sb[k] ^= tb[k];
    }
    u64 *out = (u64 *)*w;
    for (size_t c0 = 0; c0 < N; c0 += SPU_CHUNK) {
        size_t cn = minz(SPU_CHUNK, N - c0);
        u64 *o = out + c0;
        for (size_t e = 0; e < cn; e++) o[e] = (sb[(c0 + e) / 64] >> ((c0 + e) % 64)) & 1;
        for (int j = 0; j < m; j++) {
            if (j == h) continue;
            sf__spup_prg(p, sf__spup_gstream(p, g, j), PP_DAB_A, 8 * c0, T, 8 * cn);
            for (size_t e = 0; e < cn; e++) o[e] -= T[e];
        }
    }
    *w += 8 * N;
    return SF_OK;
}
