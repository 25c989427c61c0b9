/*
 * SPU protocol core: secret-shared arithmetic over Z(2^64), independent of the runtime.
 *
 * A protocol instance runs on every member party of an SPU (member index 0..n-1) and
 * talks to the other members only through `sf_spu_net` (ordered, reliable byte messages
 * between members; the runtime provides it over its transport, tests over memory).
 * Every member calls the same operations in the same order (SPMD).
 *
 * Sharing: semi2k = additive shares x = sum_i x_i mod 2^64 among n >= 2 members, with
 *   correlated randomness (Beaver triples, truncation pairs, random bits, boolean AND
 *   triples) from a dealer: every member derives its shares of the random values from a
 *   seed it shares pairwise with the dealer (ChaCha20 streams, libsodium), and the dealer
 *   sends only the corrections (e.g. member 0's share of c = a*b minus the others').
 *   The dealer is a member (index `dealer`) or an extra party (index n, not computing).
 *   aby3 = 2-out-of-3 replicated shares among exactly 3 members, no dealer.
 * Fixed point: value = round(v * 2^fxp_bits) as a two's complement int64 (default 18
 *   fraction bits); encoding saturates at +-(2^62 - 1) / 2^fxp instead of overflowing.
 * Truncation after a fixed-point multiplication is the probabilistic one with one
 *   opening (Escudero et al.): exact up to one unit in the last place (floor or floor+1)
 *   for |x| < 2^62, never the cheap local truncation that fails catastrophically.
 * Comparison: the sign bit via A2B (boolean sharing, bits packed 64 to a word) and a
 *   parallel prefix adder: log2(64) rounds of packed ANDs.
 *
 * Accounting: the net counts bytes sent and rounds (a round = a batch of messages that
 *   must arrive before the protocol can go on); tests check them against the formulas.
 */
#ifndef SF_SPU_PROTO_H
#define SF_SPU_PROTO_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_spu_net {
    void *ctx;
    int self, n; /* this member and the member count (the extra dealer, if any, is n) */
    /* ordered, reliable; send must not block on the receiver (buffer it) */
    int (*send)(void *ctx, int to, const void *buf, size_t len);
    int (*recv)(void *ctx, int from, void *buf, size_t len);
    /* optional (NULL: recv is used): the next message from `from` (len bytes) in place,
     * read only, valid until release(ctx, *hold); saves the copy out of the transport */
    int (*recv_view)(void *ctx, int from, size_t len, const void **data, void **hold);
    void (*release)(void *ctx, void *hold);
    /* optional (NULL: send is used): a len-byte buffer the protocol writes a message into
     * and sends with send_held (to any number of peers, unchanged after the first send),
     * still readable until release(ctx, *hold); saves the copy into the transport */
    void *(*send_alloc)(void *ctx, size_t len, void **hold);
    int (*send_held)(void *ctx, int to, void *hold, size_t len);
    uint64_t bytes_sent, rounds;
} sf_spu_net;

/* SF_SPU_PLAIN: not a protocol but the plaintext functional simulation (spu_plain.c): one
 * member holding the ring values, same arithmetic, truncation = floor. Nothing is secret. */
typedef enum sf_spu_protocol { SF_SPU_SEMI2K = 1, SF_SPU_ABY3 = 2, SF_SPU_PLAIN = 3 } sf_spu_protocol;

typedef struct sf_spu_params {
    sf_spu_protocol protocol;
    int fxp_bits;     /* fraction bits, default 18 */
    int dealer;       /* semi2k: member index of the dealer, or n for an extra dealer party;
                         -1 = member 0 is its own dealer (INSECURE: for tests only) */
    uint8_t seed[32]; /* this party's pairwise seeds are derived from it and the pair
                         (the runtime agrees on seeds by X25519; tests may fix them) */
    int prg;          /* the streams: SF_SPU_PRG_CHACHA20 (0, default) or SF_SPU_PRG_AES128
                         (AES-128-CTR with the CPU's AES instructions; every party of the
                         instance must use the same PRG) */
} sf_spu_params;

enum { SF_SPU_PRG_CHACHA20 = 0, SF_SPU_PRG_AES128 = 1 };
/* 1 if this CPU can run SF_SPU_PRG_AES128 (hardware AES), else 0. */
int sf_spu_proto_aes_available(void);

typedef struct sf_spu_proto sf_spu_proto;

/* A shared array: this member's share(s) of n elements (aby3: two u64 per element). */
typedef struct sf_spu_share {
    size_t n;
    int nwords;    /* u64 words per element: 1 (semi2k) or 2 (aby3) */
    uint64_t *w;   /* n * nwords words, owned */
} sf_spu_share;


/* ============================================================================ operations
 *
 * Conventions for everything below.
 *  - Status: 0 or a negative sf_status (sfmpi/sf.h). After a failure inside a protocol
 *    step the instance is out of step with its peers: destroy it.
 *  - SPMD: every party of the instance (the members and, in semi2k with dealer == n, the
 *    extra dealer party) calls every operation in the same order with the same sizes. On the
 *    dealer party the operations only produce correlated randomness; its shares carry just
 *    the element count (w == NULL) and it never receives anything.
 *  - Outputs: `out` must be zero-initialised or hold a share from an earlier call; it is
 *    resized as needed and may alias an input.
 *  - Ring: Z(2^64); a plain value is a uint64_t (two's complement for signed values).
 *  - Share layout: semi2k: w[e] = this member's additive share of element e; aby3: member i
 *    holds components (x_i, x_{i+1 mod 3}) of x = x_0 + x_1 + x_2, interleaved:
 *    w[2e] = x_i, w[2e+1] = x_{i+1}.
 *  - Randomness: all protocol randomness comes from ChaCha20 (or AES-128-CTR) streams keyed per pair of
 *    parties (and one private stream per party, peer == self: the dealer's / aby3 helper's
 *    truncation masks), so results are bit-identical given the seeds. Every operation that
 *    communicates or draws randomness takes the next operation nonce on every party.
 *  - Dealer (semi2k): params.dealer == n is the only secure choice. A member dealer (index,
 *    or -1 = member 0) derives every mask and so learns every opened value's secret; the
 *    instance prints "INSECURE: member k is its own dealer" once per process.
 *  - Messages: large operations send one message per SPU_CHUNK (32768) elements and peer
 *    (same bytes and rounds as one message); every recv is matched by exactly one send of
 *    the same length. Sends must not block (the extra dealer never waits for anyone).
 *  - Accounting (what the tests check; see tests/spu/spu_harness.c): bytes_sent = payload
 *    bytes this party sent; rounds = a Lamport clock of message hops: every message carries
 *    the sender's `rounds`, a receive sets rounds = max(rounds, sender's + 1). The rounds
 *    of an operation are the growth of max(rounds) over the parties when they start level.
 *
 * Communication per operation, bytes sent by each party (N elements, n members; "w(N,b)" =
 * ceil(N*b/64); t = 4 if the truncation bits <= 32 else 8; A = the AND words of the sign
 * adder, N + w(N,32) + w(N,16) + w(N,8) + w(N,4) + w(N,2); Q = those of the equality
 * tree, w(N,32) + w(N,16) + w(N,8) + w(N,4) + w(N,2) + w(N,1)):
 *
 *   semi2k              member                          extra dealer   rounds
 *   share_from          0 (pairwise streams)            0              0
 *   reveal_to(all)      8(n-1)N                         0              1
 *   reveal_to(t)        8N (non-targets)                0              1
 *   mul, select         16(n-1)N                        8N             1
 *   trunc               8(n-1)N                         (8+t)N         1
 *   mul_fxp             24(n-1)N                        (16+t)N        2
 *   matmul (m,k,n)      8(n-1)(mk+kn)                   8mn            1
 *   matmul_fxp          8(n-1)(mk+kn+mn)                (16+t)mn       2
 *   msb, less, greater  8(n-1)(N + 2A + w(N,1))         8N + 8(A+N)    8
 *   equal               8(n-1)(N + 2Q + w(N,1))         8N + 8(Q+N)    8
 *   relu                msb + mul                                      9
 *   (a member dealer sends nothing extra: its corrections stay local)
 *
 *   aby3 (P2 = helper)  P0, P1                          P2             rounds
 *   share_from(o)       owner 16N, others 0                            1
 *   reveal_to(all)      8N each                                        1
 *   reveal_to(t)        member t+1: 8N                                 1
 *   mul, select         8N each                                        1
 *   trunc               8N                              (24+t)N        2
 *   mul_fxp             16N                             (24+t)N        2
 *   matmul              8mn each                                       1
 *   matmul_fxp          16mn                            (24+t)mn       2
 *   msb, less, greater  8(2A + w(N,1)) + 8N             16N + 8(A+N)   9
 *   equal               8(2Q + w(N,1)) + 8N             16N + 8(Q+N)   9
 *   relu                msb + mul                                      10
 */

/* ---------------------------------------------------------------- instance */

/* Create the protocol instance of party net->self. `net` must outlive the instance.
 * semi2k: net->n = members (>= 2), net->self in [0, n), or n when params->dealer == n.
 * aby3: net->n = 3. plain: net->n = 1, net->self = 0 (never sends). fxp_bits 0 means 18;
 * valid 1..30. */
int sf_spu_proto_create(const sf_spu_params *params, sf_spu_net *net, sf_spu_proto **out);
void sf_spu_proto_destroy(sf_spu_proto *p);

/* Replace the pairwise stream seed shared with `peer` (0..n, n = extra dealer); peer ==
 * self sets this party's private seed (the runtime should give it fresh local randomness).
 * Both parties of a pair must set the same seed before their first operation. The
 * default (sf__spu_default_pair_seed) derives every seed from params->seed and the pair. */
int sf__spu_set_pair_seed(sf_spu_proto *p, int peer, const uint8_t seed[32]);
void sf__spu_default_pair_seed(const uint8_t master[32], int i, int j, uint8_t out[32]);

int sf_spu_proto_is_member(const sf_spu_proto *p); /* 0 on the extra dealer party */
int sf_spu_proto_fxp_bits(const sf_spu_proto *p);

/* ---------------------------------------------------------------- fixed point (pure) */

/* round(v * 2^fxp_bits), saturated to +-(2^62 - 1); NaN encodes as 0. */
uint64_t sf_spu_proto_fxp_encode(double v, int fxp_bits);
double sf_spu_proto_fxp_decode(uint64_t x, int fxp_bits);
/* v * 2^fxp_bits, saturated to +-(2^62 - 1); decode rounds to nearest (ties up). */
uint64_t sf_spu_proto_fxp_encode_int(int64_t v, int fxp_bits);
int64_t sf_spu_proto_fxp_decode_int(uint64_t x, int fxp_bits);
void sf_spu_proto_fxp_encode_n(const double *v, size_t n, int fxp_bits, uint64_t *out);
void sf_spu_proto_fxp_decode_n(const uint64_t *x, size_t n, int fxp_bits, double *out);

/* ---------------------------------------------------------------- shares */

/* Allocate n elements of nwords words (zeroed); frees what s held. */
int sf_spu_proto_share_alloc(sf_spu_share *s, size_t n, int nwords);
void sf_spu_proto_share_free(sf_spu_share *s);
int sf_spu_proto_nwords(sf_spu_protocol protocol); /* 1 or 2; 0 if unknown */

/* Pure input/output, no instance or network: split n plain values into the shares of
 * nmembers members (out[0..nmembers-1], each allocated here; semi2k: nmembers >= 2,
 * aby3: 3; plain: 1, the values themselves). seed == NULL draws with randombytes_buf, else the shares are a function of
 * (seed, plain). combine() is the inverse; for aby3 it checks that the replicated
 * components agree and returns SF_EINVAL if not. */
int sf_spu_proto_make_shares(const sf_spu_params *params, int nmembers, const uint64_t *plain,
                       size_t n, const uint8_t *seed, sf_spu_share *out);
int sf_spu_proto_combine(const sf_spu_params *params, int nmembers, const sf_spu_share *shares,
                   uint64_t *plain);

/* ---------------------------------------------------------------- protocol operations */

/* Member `owner` secret-shares plain[0..n-1] (read only on the owner; NULL elsewhere). */
int sf_spu_proto_share_from(sf_spu_proto *p, int owner, const uint64_t *plain, size_t n,
                      sf_spu_share *out);
/* Open x to member `to`, or to every member if to == -1; plain (x->n values) is written
 * only on the receiving member(s) (may be NULL elsewhere). */
int sf_spu_proto_reveal_to(sf_spu_proto *p, int to, const sf_spu_share *x, uint64_t *plain);

/* Local operations. Public operands: c has cn values, cn == 1 (broadcast) or cn == a->n. */
int sf_spu_proto_add(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out);
int sf_spu_proto_sub(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out);
int sf_spu_proto_neg(sf_spu_proto *p, const sf_spu_share *a, sf_spu_share *out);
int sf_spu_proto_add_public(sf_spu_proto *p, const sf_spu_share *a, const uint64_t *c, size_t cn,
                      sf_spu_share *out);
int sf_spu_proto_mul_public(sf_spu_proto *p, const sf_spu_share *a, const uint64_t *c, size_t cn,
                      sf_spu_share *out);
int sf_spu_proto_sum(sf_spu_proto *p, const sf_spu_share *a, sf_spu_share *out); /* 1 element */

/* Ring multiplication (exact mod 2^64, no truncation). */
int sf_spu_proto_mul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out);
/* Probabilistic truncation: out = floor(x / 2^bits) or that + 1, for x in [-2^62, 2^62)
 * as a signed value; bits in 1..62. One opening. */
int sf_spu_proto_trunc(sf_spu_proto *p, const sf_spu_share *x, int bits, sf_spu_share *out);
/* Fixed-point product: mul then trunc by fxp_bits, fused (the product must lie in
 * [-2^62, 2^62), i.e. |a*b| < 2^(62 - 2*fxp_bits) in real terms). */
int sf_spu_proto_mul_fxp(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                   sf_spu_share *out);
/* Row-major (m x k) * (k x n) -> (m x n); the _fxp form truncates each output once. */
int sf_spu_proto_matmul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                  size_t k, size_t n, sf_spu_share *out);
int sf_spu_proto_matmul_fxp(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                      size_t k, size_t n, sf_spu_share *out);

/* Comparisons give arithmetic shares of 0/1. msb(x) = the sign bit of x, exact for every
 * x; less(a, b) = msb(a - b), exact whenever a - b does not overflow (e.g. both operands
 * in [-2^62, 2^62)); greater(a, b) = less(b, a); equal is exact for all values. */
int sf_spu_proto_msb(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out);
int sf_spu_proto_less(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out);
int sf_spu_proto_greater(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                   sf_spu_share *out);
int sf_spu_proto_equal(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out);
/* out = cond ? a : b = b + cond * (a - b), cond an arithmetic 0/1 share. */
int sf_spu_proto_select(sf_spu_proto *p, const sf_spu_share *cond, const sf_spu_share *a,
                  const sf_spu_share *b, sf_spu_share *out);
/* out = x > 0 ? x : 0 */
int sf_spu_proto_relu(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out);

/* ---------------------------------------------------------------- shapes (local, spu_math.c)
 * No messages, no randomness; on the extra dealer only the element count changes. */
/* out[i] = a[idx[i]] for i < n (every index < a->n; out may alias a). */
int sf_spu_proto_gather(sf_spu_proto *p, const sf_spu_share *a, const size_t *idx, size_t n,
                        sf_spu_share *out);
/* out = a[off .. off+n) (out may alias a). */
int sf_spu_proto_slice(sf_spu_proto *p, const sf_spu_share *a, size_t off, size_t n,
                       sf_spu_share *out);
/* out = a then b (out may alias either). */
int sf_spu_proto_concat(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                        sf_spu_share *out);
/* a as a row-major rows x cols matrix summed over axis 0 (out: cols) or 1 (out: rows). */
int sf_spu_proto_sum_axis(sf_spu_proto *p, const sf_spu_share *a, size_t rows, size_t cols,
                          int axis, sf_spu_share *out);

/* ---------------------------------------------------------------- numerics (spu_math.c)
 * Fixed-point operands and results (f = fxp_bits). Each is a fixed sequence of the
 * operations above; its bytes and rounds are the sums of theirs (N elements):
 *
 *   div_public(x, c)   c = +-2^k, k > 0: trunc(N, k bits); k <= 0: local;
 *                      else, |c| = m 2^e with m in (0.5, 1): e > 0: trunc(N, e), trunc(N, f);
 *                      e <= 0: trunc(N, f). Exact to the last places for |x / c| < 2^(61-2f)
 *   exp                msb(2N), mul(2N), E(25)                         (+ trunc(N) if f > 22)
 *                      E(L) = mul(N), trunc(N, 30), mul(2N), trunc(2N, 30), trunc(N, 30),
 *                      8 x [mul(N), trunc(N, b_i)], b_i = 2 S_(i-1) - S_i from the schedule
 *                      of exp_core (spu_math.c); f = 18: E(25): b = 30, 30, 31, 30, 29, 30,
 *                      30, 18; E(0) and E(1): b = 30 x 7, 42
 *   reciprocal         msb(3N), mul(N), mul(N), E(1), trunc(N, f), 10 x 2 x mul_fxp(N), mul(N)
 *   div(a, b)          reciprocal(b), mul_fxp(N)
 *   sigmoid linear     trunc(N, 2)
 *   sigmoid taylor3    mul_fxp(N), trunc(N, f), mul_fxp(N)
 *   sigmoid segmented  msb(2N), trunc(N, 3), mul(N)
 *   sigmoid exp        msb(3N), mul(N), mul(N), E(0), trunc(N, f), 3 x 2 x mul_fxp(N), mul(N)
 *
 * Rounds: semi2k the sums: exp 30, reciprocal 8 + 2 + 21 + 1 + 40 + 1 = 73, div 75,
 * sigmoid linear 1, taylor3 5, segmented 10, exp 45. aby3 (the critical path, shorter
 * than the sum where a truncation's second round, in which the helper P2 waits for
 * nothing, overlaps the next step): exp 41, reciprocal 83, div 85, sigmoid linear 2,
 * taylor3 5, segmented 11, exp 55.
 * Accuracy: docs/guide.md "SPU numerics" (measured by tests/spu/test_spu_math.c). */
enum {
    SF_SPU_SIG_LINEAR = 1,    /* 0.5 + x/4 (first-order Taylor; leaves [0, 1] for |x| > 2) */
    SF_SPU_SIG_TAYLOR3 = 2,   /* 0.5 + x/4 - x^3/48 (third-order Taylor) */
    SF_SPU_SIG_SEGMENTED = 3, /* 0 below -4, 0.5 + x/8 between, 1 above 4 */
    SF_SPU_SIG_EXP = 4,       /* 1 / (1 + exp(-x)) through exp and Newton's reciprocal */
};
/* x / c for a public c != 0 (finite; SF_EINVAL beyond 2^+-62): at most two truncations */
int sf_spu_proto_div_public(sf_spu_proto *p, const sf_spu_share *x, double c, sf_spu_share *out);
/* exp(x): clamped to [-256, (61 - 2f) ln 2] (0 below, saturating above) */
int sf_spu_proto_exp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out);
/* 1/x for |x| in about [0.003, 650] (Newton from CrypTen's start), either sign */
int sf_spu_proto_reciprocal(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out);
/* a / b = a * reciprocal(b) */
int sf_spu_proto_div(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                     sf_spu_share *out);
/* ---------------------------------------------------------------- private operands
 * (spu_priv.c) A matrix X (m x k ring values) held in the clear by member `owner`, used in
 * products with secret operands without being secret-shared. priv_new (SPMD) draws X's
 * mask A and sends E = X - A once: owner 8mk(n-1) bytes in semi2k (to every other member),
 * 8mk in aby3 (to member owner+1); 1 round. Each product out = X[r0..r0+rows) * b
 * (trans 0: b k x n, out rows x n) or its transpose times b (trans 1: b rows x n, out
 * k x n), R x n = out's shape, K = b's rows:
 *   semi2k: each other member 8Kn, the dealer 8Rn (none if it is the owner), 1 round;
 *           fxp adds trunc(Rn)
 *   aby3:   member owner+1 8Kn + 8Rn, member owner+2 16Rn, the owner 8Rn, 2 rounds
 *           (the product, then the reshare); fxp: the truncation of matmul_fxp from the
 *           additive result replaces the reshare (members 0 and 1 16Rn, member 2
 *           (24+t)Rn) plus owner+1's 8Kn and owner+2's 8Rn, 3 rounds
 *   plain:  local (the owner is the one member).
 * Xr: the rows r0..r0+rows of X on the owner (NULL elsewhere). The handle keeps E (on the
 * members that received it) until sf_spu_proto_priv_free. */
typedef struct sf_spu_priv sf_spu_priv;
int sf_spu_proto_priv_new(sf_spu_proto *p, int owner, const uint64_t *X, size_t m, size_t k,
                          sf_spu_priv **out);
int sf_spu_proto_priv_matmul(sf_spu_proto *p, const sf_spu_priv *pr, const uint64_t *Xr,
                             size_t r0, size_t rows, int trans, const sf_spu_share *b, size_t n,
                             sf_spu_share *out, int fxp);
/* The same in a 32-bit ring (semi2k and plain; aby3: SF_EINVAL). The owner uses
 * x32 = round(X / 2^xs), which must fit int32 (else SF_EINVAL), and sends E = x32 - A mod
 * 2^32: 4mk(n-1) bytes, half of priv_new's. xs <= the fraction bits: X's fixed-point values
 * keep f - xs fraction bits (xs = 0 for integers). A product computes mod 2^32 and
 * extends each result to the 64-bit ring exactly, provided each result element, and in a
 * transposed product each sum over a block of `block` rows (0: all the rows), stays
 * within +-2^30 at the result's scale (+-2^(30-f) as a fixed-point value); beyond it the
 * result is wrong. With fxp, b is first truncated by f - xs bits (it keeps xs fraction
 * bits, so that the product has f); without, the result is shifted left by xs. Bytes per
 * product (Z = blocks x
 * R x n result words, blocks = ceil(rows / block) when transposed, else 1):
 *   semi2k: fxp first adds trunc(Kn); each other member 4Kn, the dealer 4Z (none if it
 *           is the owner); then trunc(Z) extends the results: 1 + (fxp) + 1 rounds
 *   plain:  local; a result beyond +-2^30 (the protocols' limit) is SF_ERANGE. */
/* 1 if each of the n values fits the 32-bit ring after dropping xs bits (else 0, the first
 * one that does not in *bad). */
int sf_spu_proto_x32_ok(int xs, const uint64_t *X, size_t n, size_t *bad);
/* (The owner alone checks X's range and fails before sending: a caller checks it first
 * with sf_spu_proto_x32_ok and tells the others, as spu_device.c does, or they wait.) */
int sf_spu_proto_priv_new32(sf_spu_proto *p, int owner, const uint64_t *X, size_t m, size_t k,
                            int xs, size_t block, sf_spu_priv **out);
/* Several products at once, in the rounds of one (semi2k; the others run them one by
 * one): ops[i] is product i as sf_spu_proto_priv_matmul takes it (Xr on the owner, NULL
 * elsewhere), with one fxp for all; the matrices all of one ring, and in the 32-bit one of
 * one xs. The bytes are the sum of the products' (the truncations are one operation of
 * all their elements), the rounds those of one: semi2k 1 + fxp, the 32-bit ring 2 + fxp. */
typedef struct sf_spu_priv_op {
    const struct sf_spu_priv *pr;
    const uint64_t *Xr;
    size_t r0, rows;
    int trans;
    const sf_spu_share *b;
    size_t n;
    sf_spu_share *out;
} sf_spu_priv_op;
int sf_spu_proto_priv_matmul_n(sf_spu_proto *p, const sf_spu_priv_op *ops, int cnt, int fxp);
/* priv_new only sends: the receivers of E take it here (SPMD, a no-op where nothing is
 * pending), so that several matrices' transfers overlap (every owner sends before anyone
 * receives). Call it after the priv_new calls and before any other operation (messages
 * between a pair arrive in order); a product calls it itself if it was not. */
int sf_spu_proto_priv_recv(sf_spu_proto *p, sf_spu_priv *pr);
void sf_spu_proto_priv_free(sf_spu_priv *pr);
/* The most elements of a private matrix, and of each dimension: bounds what a receiver
 * allocates for E from a shape the owner announced. */
#define SF_SPU_PRIV_MAX_ELEMS ((int64_t)1 << 40)
/* 1 if m x k is a shape a private matrix may have (non-negative, within the bound). */
int sf_spu_proto_priv_shape_ok(int64_t m, int64_t k);

/* sigmoid(x) by approximation `kind` (SF_SPU_SIG_*) */
int sf_spu_proto_sigmoid(sf_spu_proto *p, const sf_spu_share *x, int kind, sf_spu_share *out);
/* the plaintext function each kind stands for (SF_SPU_SIG_EXP: the true sigmoid) */
double sf_spu_proto_sigmoid_ref(int kind, double x);

#endif
