/*
 * Shared helpers of the SPU protocol tests: configurations, a runner that starts one
 * protocol instance per party thread, a deterministic plaintext RNG, and the
 * communication formulas the tests assert (with tests/check.h).
 */
#ifndef SPU_TEST_H
#define SPU_TEST_H

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/spu/core/spu_proto.h"
#include "sfmpi/sf.h"
#include "tests/check.h"
#include "tests/spu/spu_harness.h"

typedef uint64_t u64;

typedef struct tcfg {
    sf_spu_protocol proto;
    int nm;     /* members */
    int dealer; /* semi2k: params.dealer */
    const char *name;
} tcfg;

static const tcfg T_CFGS[] = {
    {SF_SPU_SEMI2K, 2, 2, "semi2k n=2 dealer=extra"},
    {SF_SPU_SEMI2K, 2, -1, "semi2k n=2 dealer=-1"},
    {SF_SPU_SEMI2K, 3, 3, "semi2k n=3 dealer=extra"},
    {SF_SPU_SEMI2K, 3, 1, "semi2k n=3 dealer=member1"},
    {SF_SPU_SEMI2K, 4, 4, "semi2k n=4 dealer=extra"},
    {SF_SPU_ABY3, 3, 0, "aby3"},
};
#define T_NCFG (sizeof T_CFGS / sizeof T_CFGS[0])

static inline int t_nparties(const tcfg *c)
{
    return c->nm + (c->proto == SF_SPU_SEMI2K && c->dealer == c->nm ? 1 : 0);
}

/* ---------------------------------------------------------------- checks */

/* Assertions come from tests/check.h (thread-safe: every party thread asserts). OK runs a
 * protocol call and, if it fails, returns its status from the party's body. */
#define OK(expr)                                                 \
    do {                                                         \
        int t_rc_ = (expr);                                      \
        if (!ASSERT_OK_MSG(t_rc_, "%s", #expr)) return t_rc_;    \
    } while (0)

/* ---------------------------------------------------------------- plaintext RNG */

static inline u64 t_splitmix(u64 *s)
{
    u64 z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline double t_unif(u64 *s) { return (double)(t_splitmix(s) >> 11) * 0x1p-53; }

/* ---------------------------------------------------------------- runner */

typedef struct trun {
    const tcfg *cfg;
    uint8_t seed[32];
    spuh *w;
    int (*body)(struct trun *r, int party, sf_spu_proto *p);
    void *user;
} trun;

/* The PRG under test: SF_SPU_TEST_PRG=aes selects AES-128-CTR (where the CPU has AES
 * instructions; said once if not), anything else ChaCha20. */
static inline int t_prg(void)
{
    const char *e = getenv("SF_SPU_TEST_PRG");
    if (!e || strcmp(e, "aes")) return SF_SPU_PRG_CHACHA20;
    if (sf_spu_proto_aes_available()) return SF_SPU_PRG_AES128;
    static atomic_int said;
    if (!atomic_exchange(&said, 1)) printf("SF_SPU_TEST_PRG=aes: no AES instructions here, ChaCha20 streams\n");
    return SF_SPU_PRG_CHACHA20;
}

__attribute__((unused)) static int t_party(spuh *w, int party, void *arg)
{
    trun *r = arg;
    sf_spu_params prm;
    memset(&prm, 0, sizeof prm);
    prm.protocol = r->cfg->proto;
    prm.fxp_bits = 18;
    prm.dealer = r->cfg->dealer;
    prm.prg = t_prg();
    memcpy(prm.seed, r->seed, 32);
    sf_spu_proto *p = NULL;
    test_context("party %d", party);
    int rc = sf_spu_proto_create(&prm, spuh_net(w, party), &p);
    if (!ASSERT_OK_MSG(rc, "create party %d", party)) return rc;
    rc = r->body(r, party, p);
    ASSERT_EQ_MSG(spuh_zc_problems(w, party), 0, "party %d: problems with lent buffers", party);
    sf_spu_proto_destroy(p);
    return rc;
}

__attribute__((unused)) static int t_run(const tcfg *cfg, const uint8_t seed[32], int (*body)(trun *, int, sf_spu_proto *),
                 void *user)
{
    trun r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    memcpy(r.seed, seed, 32);
    r.body = body;
    r.user = user;
    r.w = spuh_new(t_nparties(cfg), cfg->nm);
    if (!r.w) return SF_ENOMEM;
    int rc = spuh_run(r.w, t_party, &r);
    spuh_free(r.w);
    return rc;
}

/* body in every configuration of T_CFGS and the plaintext simulation, once with each
 * member as the owner (user: an int, the owner); prints a line per run and returns main's
 * status. tag: the seeds' first byte. */
__attribute__((unused)) static int t_run_owners(uint8_t tag, int (*body)(trun *, int, sf_spu_proto *))
{
    tcfg cfgs[T_NCFG + 1];
    memcpy(cfgs, T_CFGS, sizeof T_CFGS);
    cfgs[T_NCFG] = (tcfg){SF_SPU_PLAIN, 1, 0, "plain"};
    for (size_t ci = 0; ci < T_NCFG + 1; ci++) {
        for (int o = 0; o < cfgs[ci].nm; o++) {
            uint8_t seed[32] = {tag, (uint8_t)ci, (uint8_t)o};
            int owner = o;
            int f0 = test_failures();
            int rc = t_run(&cfgs[ci], seed, body, &owner);
            ASSERT_EQ_MSG(rc, 0, "[%s] owner %d run: %d", cfgs[ci].name, o, rc);
            printf("%-26s owner %d: %s\n", cfgs[ci].name, o, test_failures() == f0 ? "ok" : "FAILED");
            fflush(stdout);
        }
    }
    int f = test_failures();
    printf("%s (%d failures)\n", f ? "FAIL" : "PASS", f);
    return f ? 1 : 0;
}

/* share plain (valid on member `owner` only) */
static inline int t_in(sf_spu_proto *p, int party, int owner, const u64 *plain, size_t n,
                       sf_spu_share *s)
{
    return sf_spu_proto_share_from(p, owner, party == owner ? plain : NULL, n, s);
}

/* Accounting of one operation: bytes this party sent, and the rounds (growth of the
 * levelled Lamport clock). Call t_acc_begin, the operation, then t_acc_end. */
typedef struct tacc {
    u64 bytes0, round0;
} tacc;

static inline void t_acc_begin(trun *r, int party, tacc *a)
{
    a->round0 = spuh_sync(r->w, party);
    a->bytes0 = spuh_net(r->w, party)->bytes_sent;
}

static inline void t_acc_end(trun *r, int party, const tacc *a, u64 *bytes, u64 *rounds)
{
    *bytes = spuh_net(r->w, party)->bytes_sent - a->bytes0;
    *rounds = spuh_sync(r->w, party) - a->round0;
}

/* ---------------------------------------------------------------- formulas */

static inline u64 t_w(u64 n, unsigned bits) { return (n * bits + 63) / 64; }
static inline u64 t_tsz(int bits) { return bits <= 32 ? 4 : 8; }
/* AND words of the msb adder (levels 1..6) and of the equality tree */
static inline u64 t_msb_and(u64 N)
{
    return N + t_w(N, 32) + t_w(N, 16) + t_w(N, 8) + t_w(N, 4) + t_w(N, 2);
}
static inline u64 t_eq_and(u64 N)
{
    return t_w(N, 32) + t_w(N, 16) + t_w(N, 8) + t_w(N, 4) + t_w(N, 2) + t_w(N, 1);
}

#endif
