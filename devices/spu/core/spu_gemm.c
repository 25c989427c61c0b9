/*
 * u64 matrix product mod 2^64, cache blocked (packed B panels of KC x NC, packed A blocks
 * of MC x KC, MR x NR register tiles). An AVX-512 micro-kernel (vpmullq) is used when the
 * CPU has AVX512F+DQ, else a portable one. Results are exact, so every kernel gives the
 * same bits.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "devices/spu/core/spu_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SPU_X86 1
#endif

#define MR 8
#define NR 16
#define KC 128
#define MC 128
#define NC 512

static inline size_t minz(size_t a, size_t b) { return a < b ? a : b; }

static void pack_b(size_t kc, size_t nc, const u64 *B, size_t ldb, u64 *Bp)
{
    for (size_t js = 0; js < nc; js += NR) {
        size_t nr = minz(NR, nc - js);
        u64 *d = Bp + js * kc;
        for (size_t p = 0; p < kc; p++) {
            const u64 *s = B + p * ldb + js;
            size_t j = 0;
            for (; j < nr; j++) d[p * NR + j] = s[j];
            for (; j < NR; j++) d[p * NR + j] = 0;
        }
    }
}

static void pack_a(size_t mc, size_t kc, const u64 *A, size_t lda, u64 *Ap)
{
    for (size_t is = 0; is < mc; is += MR) {
        size_t mr = minz(MR, mc - is);
        u64 *d = Ap + is * kc;
        for (size_t r = 0; r < MR; r++) {
            if (r < mr) {
                const u64 *s = A + (is + r) * lda;
                for (size_t p = 0; p < kc; p++) d[p * MR + r] = s[p];
            } else {
                for (size_t p = 0; p < kc; p++) d[p * MR + r] = 0;
            }
        }
    }
}

typedef void (*ukr_fn)(size_t kc, const u64 *Ap, const u64 *Bp, u64 *C, size_t ldc, size_t mr,
                       size_t nr);

static void ukr_generic(size_t kc, const u64 *Ap, const u64 *Bp, u64 *C, size_t ldc, size_t mr,
                        size_t nr)
{
    u64 acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (size_t p = 0; p < kc; p++) {
        const u64 *b = Bp + p * NR;
        for (size_t r = 0; r < MR; r++) {
            u64 a = Ap[p * MR + r];
            for (size_t j = 0; j < NR; j++) acc[r][j] += a * b[j];
        }
    }
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nr; j++) C[r * ldc + j] += acc[r][j];
}

#ifdef SPU_X86
__attribute__((target("avx512f,avx512dq"))) static void
ukr_avx512(size_t kc, const u64 *Ap, const u64 *Bp, u64 *C, size_t ldc, size_t mr, size_t nr)
{
    __m512i c[MR][2];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_si512();
    for (size_t p = 0; p < kc; p++) {
        __m512i b0 = _mm512_load_si512((const void *)(Bp + p * NR));
        __m512i b1 = _mm512_load_si512((const void *)(Bp + p * NR + 8));
        for (int r = 0; r < MR; r++) {
            __m512i a = _mm512_set1_epi64((long long)Ap[p * MR + r]);
            c[r][0] = _mm512_add_epi64(c[r][0], _mm512_mullo_epi64(a, b0));
            c[r][1] = _mm512_add_epi64(c[r][1], _mm512_mullo_epi64(a, b1));
        }
    }
    if (mr == MR && nr == NR) {
        for (int r = 0; r < MR; r++) {
            u64 *d = C + (size_t)r * ldc;
            _mm512_storeu_si512((void *)d, _mm512_add_epi64(_mm512_loadu_si512((void *)d), c[r][0]));
            _mm512_storeu_si512((void *)(d + 8),
                                _mm512_add_epi64(_mm512_loadu_si512((void *)(d + 8)), c[r][1]));
        }
        return;
    }
    u64 tmp[MR][NR] __attribute__((aligned(64)));
    for (int r = 0; r < MR; r++) {
        _mm512_store_si512((void *)tmp[r], c[r][0]);
        _mm512_store_si512((void *)(tmp[r] + 8), c[r][1]);
    }
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nr; j++) C[r * ldc + j] += tmp[r][j];
}
#endif

static ukr_fn pick(void)
{
    static atomic_int sel; /* 0 unknown, 1 generic, 2 avx512 */
    int s = atomic_load(&sel);
    if (!s) {
        s = 1;
#ifdef SPU_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) s = 2;
        if (getenv("SF_SPU_GEMM_GENERIC")) s = 1;
#endif
        atomic_store(&sel, s);
    }
#ifdef SPU_X86
    if (s == 2) return ukr_avx512;
#endif
    return ukr_generic;
}

int sf__spup_gemm(size_t m, size_t n, size_t k, const u64 *A, size_t lda, const u64 *B,
                 size_t ldb, u64 *C, size_t ldc)
{
    if (!m || !n || !k) return SF_OK;
    ukr_fn ukr = pick();
    u64 *Bp = NULL, *Ap = NULL;
    if (posix_memalign((void **)&Bp, 64, sizeof(u64) * KC * (NC + NR)) ||
        posix_memalign((void **)&Ap, 64, sizeof(u64) * KC * (MC + MR))) {
        free(Bp);
        return SF_ENOMEM;
    }
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nc = minz(NC, n - jc);
        for (size_t pc = 0; pc < k; pc += KC) {
            size_t kc = minz(KC, k - pc);
            pack_b(kc, nc, B + pc * ldb + jc, ldb, Bp);
            for (size_t ic = 0; ic < m; ic += MC) {
                size_t mc = minz(MC, m - ic);
                pack_a(mc, kc, A + ic * lda + pc, lda, Ap);
                for (size_t jr = 0; jr < nc; jr += NR)
                    for (size_t ir = 0; ir < mc; ir += MR)
                        ukr(kc, Ap + ir * kc, Bp + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc,
                            minz(MR, mc - ir), minz(NR, nc - jr));
            }
        }
    }
    free(Bp);
    free(Ap);
    return SF_OK;
}
