/*
 * AES-128 in counter mode as the SPU's PRG where every participant's CPU has AES
 * instructions (x86-64 AES-NI; the VAES/AVX-512 form encrypts four blocks per instruction).
 * A PRG for correlated randomness needs no more than a block cipher in counter mode, and
 * AES-128-CTR with hardware AES is the usual choice for it (2.6x ChaCha20's throughput on
 * this project's machines, measured in bench/README.md). The runtime uses it only when all
 * participants support it (each says so when the SPU is created); otherwise the streams
 * are libsodium's ChaCha20, as before. Only the hardware instructions are used: there is no
 * table-based software AES here (it would leak key bits through the cache).
 *
 * Counter block: bytes 0..7 = the nonce (operation number), bytes 8..15 = the block
 * counter, both little endian. The block function is checked against FIPS-197 and
 * SP 800-38A known answers in tests/spu/test_spu_pure.c.
 */
#include <stdatomic.h>
#include <string.h>

#include "devices/spu/core/spu_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define NI __attribute__((target("aes,sse4.1")))
#define VAES __attribute__((target("vaes,aes,avx512f,avx512bw,avx512vl,sse4.1")))

NI static __m128i expand_step(__m128i k, __m128i assist)
{
    assist = _mm_shuffle_epi32(assist, 0xff);
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, assist);
}

NI static void expand_ni(const uint8_t key[16], uint8_t rk[176])
{
    __m128i k = _mm_loadu_si128((const __m128i *)key);
    _mm_storeu_si128((__m128i *)rk, k);
#define STEP(i, rcon)                                                   \
    k = expand_step(k, _mm_aeskeygenassist_si128(k, rcon));             \
    _mm_storeu_si128((__m128i *)(rk + 16 * (i)), k);
    STEP(1, 0x01) STEP(2, 0x02) STEP(3, 0x04) STEP(4, 0x08) STEP(5, 0x10)
    STEP(6, 0x20) STEP(7, 0x40) STEP(8, 0x80) STEP(9, 0x1b) STEP(10, 0x36)
#undef STEP
}

NI static void ctr_ni(const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out, size_t nblk)
{
    __m128i k[11];
    for (int r = 0; r < 11; r++) k[r] = _mm_loadu_si128((const __m128i *)(rk + 16 * r));
    size_t i = 0;
    for (; i + 8 <= nblk; i += 8) {
        __m128i b[8];
        for (int j = 0; j < 8; j++)
            b[j] = _mm_xor_si128(_mm_set_epi64x((long long)(ctr + i + j), (long long)nonce), k[0]);
        for (int r = 1; r < 10; r++)
            for (int j = 0; j < 8; j++) b[j] = _mm_aesenc_si128(b[j], k[r]);
        for (int j = 0; j < 8; j++)
            _mm_storeu_si128((__m128i *)(out + 16 * (i + j)), _mm_aesenclast_si128(b[j], k[10]));
    }
    for (; i < nblk; i++) {
        __m128i b = _mm_xor_si128(_mm_set_epi64x((long long)(ctr + i), (long long)nonce), k[0]);
        for (int r = 1; r < 10; r++) b = _mm_aesenc_si128(b, k[r]);
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_aesenclast_si128(b, k[10]));
    }
}

VAES static void ctr_vaes(const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out, size_t nblk)
{
    __m512i k[11];
    for (int r = 0; r < 11; r++) k[r] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(rk + 16 * r)));
    /* four counter blocks per register: (nonce, c), (nonce, c+1), (nonce, c+2), (nonce, c+3) */
    const __m512i step = _mm512_set_epi64(3, 0, 2, 0, 1, 0, 0, 0);
    const __m512i four = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
    __m512i c = _mm512_add_epi64(_mm512_set_epi64((long long)ctr, (long long)nonce, (long long)ctr,
                                                  (long long)nonce, (long long)ctr, (long long)nonce,
                                                  (long long)ctr, (long long)nonce), step);
    size_t i = 0;
    for (; i + 16 <= nblk; i += 16) {
        __m512i b[4];
        for (int j = 0; j < 4; j++) {
            b[j] = _mm512_xor_si512(c, k[0]);
            c = _mm512_add_epi64(c, four);
        }
        for (int r = 1; r < 10; r++)
            for (int j = 0; j < 4; j++) b[j] = _mm512_aesenc_epi128(b[j], k[r]);
        for (int j = 0; j < 4; j++)
            _mm512_storeu_si512((void *)(out + 16 * (i + 4 * (size_t)j)), _mm512_aesenclast_epi128(b[j], k[10]));
    }
    if (i < nblk) ctr_ni(rk, nonce, ctr + i, out + 16 * i, nblk - i);
}

static int level_detect(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse4.1")) return 0;
    if (__builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return 2;
    return 1;
}

int sf__spup_aes_level(void)
{
    static atomic_int level = -1; /* threads may race here: each computes the same value */
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) atomic_store_explicit(&level, l = level_detect(), memory_order_relaxed);
    return l;
}

void sf__spup_aes128_expand(const uint8_t key[16], uint8_t rk[176])
{
    if (sf__spup_aes_level() > 0) expand_ni(key, rk);
    else memset(rk, 0, 176);
}

void sf__spup_aes128_ctr_at(int level, const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out,
                            size_t nblk)
{
    if (level >= 2) ctr_vaes(rk, nonce, ctr, out, nblk);
    else if (level == 1) ctr_ni(rk, nonce, ctr, out, nblk);
}

#else /* no AES instructions known here: the runtime keeps ChaCha20 */

int sf__spup_aes_level(void) { return 0; }
void sf__spup_aes128_expand(const uint8_t key[16], uint8_t rk[176]) { (void)key; memset(rk, 0, 176); }
void sf__spup_aes128_ctr_at(int level, const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out,
                            size_t nblk)
{
    (void)level, (void)rk, (void)nonce, (void)ctr, (void)out, (void)nblk;
}

#endif

void sf__spup_aes128_ctr(const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out, size_t nblk)
{
    sf__spup_aes128_ctr_at(sf__spup_aes_level(), rk, nonce, ctr, out, nblk);
}

int sf_spu_proto_aes_available(void) { return sf__spup_aes_level() > 0; }
