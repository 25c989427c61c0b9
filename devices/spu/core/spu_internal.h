/*
 * SPU protocol core: internals shared by spu_*.c (not part of the API).
 */
#ifndef SF_SPU_INTERNAL_H
#define SF_SPU_INTERNAL_H

#include <stdint.h>
#include <stddef.h>

#include "devices/spu/core/spu_proto.h"
#include "sfmpi/sf.h"

typedef uint64_t u64;

/* Elements per PRG draw in the chunked loops (a multiple of 64, so that every draw of
 * u32 or u64 values starts on a 64-byte ChaCha20 block), and per message of the large
 * operations. 32768 (256-768 KiB messages): through MPI with more ranks than cores, 8192
 * paid a rendezvous per 64-128 KiB message and ran mul at 0.7x the speed (bench/README.md). */
#define SPU_CHUNK 32768
#define SPU_MAXM 64 /* most members of a semi2k instance */

/* A group of members that open values among themselves, with a dealer of correlated
 * randomness. semi2k: all members, dealer = params.dealer (extra party n, or a member).
 * aby3: members {0, 1} with party 2 as their dealer (comparison, truncation). The
 * holder receives the dealer's corrections: the dealer itself if it is a member of the
 * group, else the group's first member. */
typedef struct spu_grp {
    int m;              /* members of the group */
    int mem[SPU_MAXM];  /* their net indices */
    int me;             /* my position in mem, or -1 */
    int dealer;         /* net index of the dealer */
    int holder;         /* position of the holder in mem */
    int deal;           /* 1 if this party is the dealer */
} spu_grp;

/* Scratch slots (grow-only buffers owned by the instance). An operation uses each slot
 * for one purpose at a time; nested operations run only between, never inside, uses. */
enum {
    SCR_SEND, SCR_RECV, SCR_TMP, SCR_CORR, SCR_DEAL, SCR_A, SCR_B, SCR_C, SCR_D, SCR_E,
    SCR_F, SCR_G, SCR_H, SCR_N
};

/* PRG purposes (the block-counter space of an operation's stream is split by purpose). */
enum {
    PP_SHARE = 1, PP_A, PP_B, PP_C, PP_R, PP_R1, PP_T, PP_ZERO, PP_S, PP_S2,
    PP_CMP_RA, PP_CMP_RB, PP_DAB_B, PP_DAB_A,
    PP_AND_A = 32, /* + 3 * level: a, b, c of the AND triples of a level */
    PP_PA = 64,    /* the mask A of a private matrix (under the matrix's own nonce) */
    PP_PB, PP_PZ,  /* a private product's b and z */
};

struct spu_family_ops;

struct sf_spu_proto {
    sf_spu_params prm;
    const struct spu_family_ops *ops; /* the protocol family (prm.protocol) */
    sf_spu_net *net;
    int self, n;       /* my net index, member count */
    int member;        /* self < n */
    int fxp;           /* fraction bits */
    u64 op;            /* nonce of the current operation */
    uint8_t (*key)[32]; /* stream key per peer 0..n (key[self] = private) */
    uint8_t (*rk)[176]; /* AES-128 round keys per peer (prg == SF_SPU_PRG_AES128) */
    spu_grp g;         /* semi2k: all members; aby3: {0,1} dealt by 2 */
    void *scr[SCR_N];
    size_t scr_cap[SCR_N];
};

/* ---- spu_prg.c */
/* len bytes of the stream shared with `peer` (peer == self: the private stream) for the
 * current operation, purpose and byte offset (a multiple of 64). */
void sf__spup_prg(const sf_spu_proto *p, int peer, unsigned purpose, u64 byte_off, void *out,
                 size_t len);
void sf__spup_stream_key(const uint8_t seed[32], uint8_t key[32]);
/* The same under an explicit operation nonce (a private matrix's masks are redrawn under
 * the nonce of the operation that made them). */
void sf__spup_prg_n(const sf_spu_proto *p, u64 nonce, int peer, unsigned purpose, u64 byte_off,
                    void *out, size_t len);

/* ---- spu_aes.c: AES-128-CTR with hardware AES. level: 0 none, 1 AES-NI, 2 VAES-512 */
int sf__spup_aes_level(void);
void sf__spup_aes128_expand(const uint8_t key[16], uint8_t rk[176]);
/* nblk 16-byte blocks of keystream: block i = AES(rk, nonce (LE u64) || ctr + i (LE u64)) */
void sf__spup_aes128_ctr(const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out, size_t nblk);
void sf__spup_aes128_ctr_at(int level, const uint8_t rk[176], u64 nonce, u64 ctr, uint8_t *out,
                            size_t nblk); /* a given implementation (tests) */
/* Set peer's stream key (and AES round keys) from its seed. */
void sf__spup_set_key(sf_spu_proto *p, int peer, const uint8_t seed[32]);

/* ---- spu_core.c */
void *sf__spup_scr(sf_spu_proto *p, int slot, size_t bytes);
int sf__spup_send(sf_spu_proto *p, int to, const void *buf, size_t len);
int sf__spup_recv(sf_spu_proto *p, int from, void *buf, size_t len);
/* The next message from `from` in place where the net can (*hold set: give it to
 * sf__spup_release), else received into buf; *data points at it either way. */
int sf__spup_recv_in(sf_spu_proto *p, int from, void *buf, size_t len, const void **data,
                     void **hold);
void sf__spup_release(sf_spu_proto *p, void **hold);
/* A buffer for an outgoing message: the net's own where it can lend one (*hold set; send
 * it with sf__spup_send_held, release it when done reading), else `fallback`. */
void *sf__spup_send_buf(sf_spu_proto *p, size_t len, void *fallback, void **hold);
int sf__spup_send_held(sf_spu_proto *p, int to, const void *buf, void *hold, size_t len);
int sf__spup_out(sf_spu_proto *p, sf_spu_share *out, size_t n);
/* Open among the group: res = sum (or xor) of every member's `mine`; tmp: cnt words. */
int sf__spup_grp_open(sf_spu_proto *p, const spu_grp *g, const u64 *mine, u64 *res, size_t cnt,
                     int xor, u64 *tmp);
/* Stream between group member j and the group's dealer, seen from this party. */
static inline int sf__spup_gstream(const sf_spu_proto *p, const spu_grp *g, int j)
{
    (void)p;
    return g->deal ? g->mem[j] : g->dealer;
}
static inline size_t sf__spup_words(size_t n, unsigned bits) { return (n * bits + 63) / 64; }
/* T shares (2^(64-bits) * bit, bits-bit shares): bytes per element of their encoding. */
static inline size_t sf__spup_tsz(int bits) { return bits <= 32 ? 4 : 8; }
/* Draw cnt T shares of element offset off (a multiple of 64) into out (as ring values). */
void sf__spup_prg_t(const sf_spu_proto *p, int peer, unsigned purpose, size_t off, size_t cnt,
                   int bits, u64 *out);
void sf__spup_t_put(uint8_t *buf, size_t i, u64 t, int bits);
u64 sf__spup_t_get(const uint8_t *buf, size_t i, int bits);

/* ---- spu_priv.c: a matrix private to one member (sf_spu_proto_priv_*) */
struct sf_spu_priv {
    int owner;    /* member index */
    size_t m, k;  /* X is m x k */
    u64 nonce;    /* the operation nonce its mask A is drawn under */
    u64 *E;       /* X - A, on the members that receive it (semi2k: the other members;
                     aby3: member owner+1); NULL elsewhere */
    int pending;  /* E is still to be received (sf_spu_proto_priv_recv) */
    /* The 32-bit ring (sf_spu_proto_priv_new32): X is used as x32 = round(X / 2^xs) mod
     * 2^32, masked by a 32-bit A, E32 = x32 - A kept by the receivers; a transposed
     * product sums blocks of `block` rows in 32 bits (0: all the rows in one block). */
    int narrow, xs;
    size_t block;
    uint32_t *E32;
};
/* x32 of n ring values: round(X / 2^xs) mod 2^32 (sf_spu_proto_x32_ok: it fits int32). */
void sf__spup_x32(int xs, const u64 *X, size_t n, uint32_t *out);
/* C (R x n) += op(X) * B mod 2^32, as sf__spup_priv_gemm (no scratch: the transpose is
 * summed row by row). */
void sf__spup_priv_gemm32(int trans, size_t rows, size_t k, size_t n, const uint32_t *X,
                          const uint32_t *B, uint32_t *C);
/* The 32-bit ring's blocks of a product on `rows` rows: their count, and rows per block in
 * *blk (a transposed product: pr->block rows, none without rows; else one of all rows). */
size_t sf__spup_priv_blocks(const sf_spu_priv *pr, int trans, size_t rows, size_t *blk);
/* C += op(X) B mod 2^32 block by block: a transposed product puts block i's X_i^T B_i
 * (rows [i blk, (i+1) blk) of X and B) at C + i k n; otherwise one block. */
void sf__spup_priv_gemm32_blocks(int trans, size_t rows, size_t k, size_t n, size_t blk, const uint32_t *X,
                                 const uint32_t *B, uint32_t *C);
/* Elements per message of a masked matrix sent once. */
#define PRIV_CHUNK ((size_t)1 << 17)
/* A receiver of E = X - A: allocate pr->E, to be received by sf_spu_proto_priv_recv. */
int sf__spup_priv_recv_e(sf_spu_proto *p, sf_spu_priv *pr);
/* The owner: A drawn from its stream with `peer` under pr->nonce, E = X - A sent to each
 * of the nto members in `to`. */
int sf__spup_priv_send_e(sf_spu_proto *p, const sf_spu_priv *pr, const u64 *X, int peer,
                         const int *to, int nto);
/* C (R x n) += op(X) * B with X rows x k row-major: op = identity (R = rows, B k x n) or
 * the transpose (R = k, B rows x n); scratch: rows * k words for the transpose. */
int sf__spup_priv_gemm(int trans, size_t rows, size_t k, size_t n, const u64 *X, const u64 *B,
                       u64 *C, u64 *scratch);

/* ---- spu_gemm.c: C (m x n) += A (m x k) * B (k x n), row-major, mod 2^64 */
int sf__spup_gemm(size_t m, size_t n, size_t k, const u64 *A, size_t lda, const u64 *B,
                 size_t ldb, u64 *C, size_t ldc);

/* ---- spu_bool.c: boolean engine on a group (semi2k members, or aby3's {0,1}) */
/* Given the public c = x + r (known to group members) and this member's boolean share of
 * r (rb, N words), compute this member's boolean share of msb(x) = msb(c - r) (packed,
 * w(N,1) words into bits). Draws AND triples of the dealer; corr = the holder's
 * corrections (NULL elsewhere), advanced past what was used. */
int sf__spup_bool_msb(sf_spu_proto *p, const spu_grp *g, const u64 *c, const u64 *rb, size_t N,
                     const uint8_t **corr, u64 *bits);
/* Same for x == 0 (c == r). */
int sf__spup_bool_eqz(sf_spu_proto *p, const spu_grp *g, const u64 *c, const u64 *rb, size_t N,
                     const uint8_t **corr, u64 *bits);
/* Boolean (packed bits) to arithmetic shares within the group, with a dealer's daBit. */
int sf__spup_bool_b2a(sf_spu_proto *p, const spu_grp *g, const u64 *bits, size_t N,
                     const uint8_t **corr, u64 *out);
/* Dealer side of the three above: append the holder's corrections to *w (advanced).
 * kind: 0 = msb, 1 = eqz. Bytes of corrections per N: sf__spup_bool_corr_bytes. */
int sf__spup_bool_deal(sf_spu_proto *p, const spu_grp *g, int kind, size_t N, uint8_t **w);
size_t sf__spup_bool_corr_bytes(int kind, size_t N);

/* ---- protocol families: one const table each (spu_semi2k.c, spu_aby3.c, spu_plain.c)
 *
 * The instance holds its family's table (p->ops), chosen once by sf_spu_proto_create;
 * spu_core.c checks the arguments of every operation and then calls the entry, so an
 * entry may rely on: p valid; every share has n elements of `nwords` words (w != NULL on
 * members when n > 0); the sizes of the operation consistent; plain outputs non-NULL on
 * the parties that receive. The protocol operations (share_from .. cmp) are called on
 * every party of the instance (members and, semi2k with dealer == n, the extra dealer) in
 * the same order with the same sizes (SPMD); on the extra dealer shares carry no words
 * (w == NULL). Each of them but reveal advances p->op once on every party (the nonce of
 * its streams; reveal draws nothing, and only plain's, which has no streams, advances it).
 * Outputs are resized with sf__spup_out and may alias an input. Bytes and rounds of each
 * operation: the table in spu_proto.h. */
struct spu_family_ops {
    const char *name; /* "semi2k", "aby3", "plain" (the runtime's --sf-spu names) */
    int nwords;       /* u64 words per element of a member's share */
    /* Members of an instance (net->n) and of a make_shares share set. */
    int min_members, max_members;

    /* Pure input/output (sf_spu_proto_make_shares, sf_spu_proto_combine; no instance). */
    /* make_shares: comp holds nmembers additive components of n values (component j at
     * comp + j*n, their sum the values); write member i's share (n * nwords words) to w. */
    void (*layout)(const u64 *comp, size_t n, int nmembers, int i, u64 *w);
    /* combine: plain = the values of the share set (nmembers >= min_members shares, checked
     * as above); SF_EINVAL if nmembers is not one this family combines (semi2k: any) or
     * the shares are inconsistent (aby3: replicated components that disagree). */
    int (*combine)(const sf_spu_share *shares, int nmembers, size_t n, u64 *plain);

    /* Instance creation (sf_spu_proto_create), in this order. */
    /* shape: before anything is allocated, with min_members <= n <= max_members checked:
     * whether party `self` may run an instance of n members with these params, and the
     * dealer the instance records in p->prm.dealer (*dealer, preset to -1 = none). NULL:
     * every party is a member (0 <= self < n) and there is no dealer. */
    int (*shape)(const sf_spu_params *prm, int n, int self, int *dealer);
    /* init: the instance is complete (keys set); set the opening group p->g. */
    void (*init)(sf_spu_proto *p);

    /* Local (no messages, no randomness; called on members only): o = x + c with the
     * public c (element e: c[e * inc], inc 0 or 1) added once into the shared value: the
     * family adds it to the component(s) of its one designated additive component that
     * this member holds and copies the rest (o may equal x). */
    void (*add_public)(const sf_spu_proto *p, const u64 *x, const u64 *c, size_t inc, size_t n,
                       u64 *o);

    /* Protocol operations (every party; see the SPMD contract above). */
    /* share_from (from sf_spu_proto_share_from): member `owner` (0 <= owner < n) shares
     * plain[0..n-1] (read on the owner only; NULL elsewhere), every party passes the same n.
     * semi2k: each non-owner's share is its stream with the owner, nothing is sent; aby3:
     * the owner sends the component x_{o+2} to both others (16N B); plain: a copy. */
    int (*share_from)(sf_spu_proto *p, int owner, const u64 *plain, size_t n, sf_spu_share *out);
    /* reveal (from sf_spu_proto_reveal_to): open x to member `to`, or to every member
     * (to == -1); plain (x->n values) is written on the receiving member(s) only, the others
     * may pass NULL. semi2k: every member sends its share to each receiver other than
     * itself, the extra dealer does nothing; aby3: member i+1 sends receiver i its second
     * component (the one i lacks); plain: a copy. */
    int (*reveal)(sf_spu_proto *p, int to, const sf_spu_share *x, u64 *plain);
    /* mul (from sf_spu_proto_mul: fxp 0; mul_fxp: fxp 1; select, relu): out = a * b mod
     * 2^64 elementwise (a->n == b->n); fxp: then truncated by p->fxp bits in the same
     * operation. semi2k: the members open E = x - a, F = y - b of a Beaver triple to each
     * other, the dealer sends the holder its corrections, fxp adds the opening of z + r;
     * aby3: each member sends its masked z_i to member i-1, fxp instead goes through member
     * 2 as truncation helper (2 rounds). */
    int (*mul)(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out,
               int fxp);
    /* trunc (from sf_spu_proto_trunc): probabilistic truncation of x by bits (1..62), one
     * opening of x + 2^62 + r. semi2k: the dealer's r, the holder's corrections [r >> bits],
     * [T] from the dealer; aby3: member 2 sends members 0 and 1 the masked component each
     * lacks, they swap back to replicated shares. */
    int (*trunc)(sf_spu_proto *p, const sf_spu_share *x, int bits, sf_spu_share *out);
    /* matmul (from sf_spu_proto_matmul: fxp 0; matmul_fxp: fxp 1): row-major (m x k) *
     * (k x n) -> (m x n) with a->n == m*k, b->n == k*n (products checked against overflow);
     * fxp: each output truncated once by p->fxp bits. semi2k: the members open E, F of one
     * matrix triple, the dealer sends the holder C's correction (and the truncation
     * pairs'); aby3: two local products and a reshare (8mn B each) or, fxp, member 2's
     * truncation. */
    int (*matmul)(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                  size_t k, size_t n, sf_spu_share *out, int fxp);
    /* cmp (from sf_spu_proto_msb, less, greater, relu: kind 0; equal: kind 1): out =
     * arithmetic shares of 0/1, kind 0: msb(x) (the sign bit), 1: x == 0. The dealer
     * (semi2k) or member 2 (aby3) masks x with r (arithmetic and XOR shares) and sends the
     * holder the corrections, AND triples and daBits of the boolean engine (spu_bool.c);
     * the group opens x + r, runs the adder or AND tree and the B2A (aby3: then back to
     * replicated shares). */
    int (*cmp)(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out, int kind);
    /* priv_new (from sf_spu_proto_priv_new): pr->owner, m, k set; draw pr->nonce and send
     * the masked E = X - A where the family's product needs it (X: m x k on the owner). */
    int (*priv_new)(sf_spu_proto *p, sf_spu_priv *pr, const u64 *X);
    /* priv_matmul (from sf_spu_proto_priv_matmul): out = op(X[r0 .. r0+rows)) * b, op the
     * identity or (trans) the transpose; Xr: those rows on the owner (NULL elsewhere);
     * fxp: truncated once. */
    int (*priv_matmul)(sf_spu_proto *p, const sf_spu_priv *pr, const u64 *Xr, size_t r0,
                       size_t rows, int trans, const sf_spu_share *b, size_t n,
                       sf_spu_share *out, int fxp);
    /* priv_matmul_n (optional, from sf_spu_proto_priv_matmul_n and _matmul): cnt products
     * (checked, one ring and xs) in the rounds of one; without it they run one by one. */
    int (*priv_matmul_n)(sf_spu_proto *p, const sf_spu_priv_op *ops, int cnt, int fxp);
};

extern const struct spu_family_ops sf__spu_semi2k_ops, sf__spu_aby3_ops, sf__spu_plain_ops;

/* Hot arithmetic loops: also compiled for AVX-512 / AVX2 (chosen at load time). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SPU_NO_CLONES) && \
    !defined(__SANITIZE_THREAD__) /* TSan crashes in ifunc resolvers */
#define SPU_HOT __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SPU_HOT
#endif

#define SPU_TRY(expr)                  \
    do {                               \
        int spu_rc_ = (expr);          \
        if (spu_rc_ < 0) return spu_rc_; \
    } while (0)

#endif
