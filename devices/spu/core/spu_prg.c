/*
 * SPU PRGs: ChaCha20 (or AES-128-CTR, spu_aes.c) streams keyed per pair of parties.
 *
 * Seeds: sf__spu_default_pair_seed(master, i, j) = BLAKE2b-256 keyed by the master seed
 * (params.seed) of "sfmpi-spu-pair" || min(i,j) || max(i,j) (u32 little endian). i == j
 * gives party i's private seed. The runtime replaces them by sf__spu_set_pair_seed (X25519
 * agreed seeds; a fresh local random seed for the private one).
 *
 * Stream key = BLAKE2b-256 keyed by the seed of "sfmpi-spu-stream". A draw is keystream of
 * ChaCha20 (64-bit nonce, 64-bit block counter): nonce = the operation number, block
 * counter = purpose * 2^40 + byte offset / 64. Both parties of a pair draw the same bytes
 * for the same (operation, purpose, offset) whatever the order of their draws.
 * With SF_SPU_PRG_AES128 the key is the stream key's first 16 bytes and a 64-byte block b
 * is the four AES-CTR blocks of counters 4b .. 4b+3 under the same nonce.
 */
#include <string.h>

#include <sodium.h>

#include "devices/spu/core/spu_internal.h"

void sf__spu_default_pair_seed(const uint8_t master[32], int i, int j, uint8_t out[32])
{
    uint8_t msg[14 + 8];
    uint32_t lo = (uint32_t)(i < j ? i : j), hi = (uint32_t)(i < j ? j : i);
    memcpy(msg, "sfmpi-spu-pair", 14);
    for (int b = 0; b < 4; b++) {
        msg[14 + b] = (uint8_t)(lo >> (8 * b));
        msg[18 + b] = (uint8_t)(hi >> (8 * b));
    }
    crypto_generichash(out, 32, msg, sizeof msg, master, 32);
}

void sf__spup_stream_key(const uint8_t seed[32], uint8_t key[32])
{
    static const char tag[] = "sfmpi-spu-stream";
    crypto_generichash(key, 32, (const uint8_t *)tag, sizeof tag - 1, seed, 32);
}

void sf__spup_set_key(sf_spu_proto *p, int peer, const uint8_t seed[32])
{
    sf__spup_stream_key(seed, p->key[peer]);
    if (p->rk) sf__spup_aes128_expand(p->key[peer], p->rk[peer]);
}

static void keystream(const sf_spu_proto *p, int peer, u64 nonce, u64 block, uint8_t *out,
                      size_t len)
{
    if (p->rk) {
        size_t whole = len / 16, tail = len % 16;
        sf__spup_aes128_ctr(p->rk[peer], nonce, 4 * block, out, whole);
        if (tail) {
            uint8_t t[16];
            sf__spup_aes128_ctr(p->rk[peer], nonce, 4 * block + whole, t, 1);
            memcpy(out + 16 * whole, t, tail);
        }
        return;
    }
    uint8_t nb[8];
    for (int b = 0; b < 8; b++) nb[b] = (uint8_t)(nonce >> (8 * b));
    memset(out, 0, len);
    crypto_stream_chacha20_xor_ic(out, out, (unsigned long long)len, nb, block, p->key[peer]);
}

void sf__spup_prg(const sf_spu_proto *p, int peer, unsigned purpose, u64 byte_off, void *out,
                 size_t len)
{
    sf__spup_prg_n(p, p->op, peer, purpose, byte_off, out, len);
}

void sf__spup_prg_n(const sf_spu_proto *p, u64 nonce, int peer, unsigned purpose, u64 byte_off,
                    void *out, size_t len)
{
    u64 block = ((u64)purpose << 40) + byte_off / 64;
    uint8_t *o = out;
    size_t head = (size_t)(byte_off % 64);
    if (head) { /* unaligned start: take the tail of the first block */
        uint8_t tmp[64];
        keystream(p, peer, nonce, block, tmp, 64);
        size_t take = 64 - head < len ? 64 - head : len;
        memcpy(o, tmp + head, take);
        o += take;
        len -= take;
        block++;
    }
    if (len) keystream(p, peer, nonce, block, o, len);
}

void sf__spup_prg_t(const sf_spu_proto *p, int peer, unsigned purpose, size_t off, size_t cnt,
                   int bits, u64 *out)
{
    if (bits <= 32) {
        enum { TB = 2048 };
        uint32_t t[TB]; /* u32 draws (8 KiB at a time: debug-mode ranks run on small stacks) */
        for (size_t done = 0; done < cnt;) {
            size_t c = cnt - done < TB ? cnt - done : TB;
            sf__spup_prg(p, peer, purpose, (u64)(off + done) * 4, t, c * 4);
            for (size_t e = 0; e < c; e++) out[done + e] = (u64)t[e] << (64 - bits);
            done += c;
        }
    } else {
        sf__spup_prg(p, peer, purpose, (u64)off * 8, out, cnt * 8);
        for (size_t e = 0; e < cnt; e++) out[e] <<= (64 - bits);
    }
}

void sf__spup_t_put(uint8_t *buf, size_t i, u64 t, int bits)
{
    if (bits <= 32) {
        uint32_t v = (uint32_t)(t >> (64 - bits));
        memcpy(buf + 4 * i, &v, 4);
    } else {
        u64 v = t >> (64 - bits);
        memcpy(buf + 8 * i, &v, 8);
    }
}

u64 sf__spup_t_get(const uint8_t *buf, size_t i, int bits)
{
    if (bits <= 32) {
        uint32_t v;
        memcpy(&v, buf + 4 * i, 4);
        return (u64)v << (64 - bits);
    }
    u64 v;
    memcpy(&v, buf + 8 * i, 8);
    return v << (64 - bits);
}
