/*
 * The SPU device: the runtime side of secret-shared computation (devices/spu/ holds the
 * protocols, which know nothing of the runtime).
 *
 * Participants of an SPU are its members and, for semi2k with a dealer outside the SPU,
 * that dealer (protocol index n): every participant runs every SPU kernel (the dealer
 * with zero "shares" of the right shapes, serving randomness only). Other parties only
 * record placeholders. All protocol messages travel over the runtime's transport between
 * the participants, tagged with the current call, so they get the same ordering and
 * divergence checks as everything else, in every mode.
 *
 * Objects: an SPU object's entry holds this participant's share as a value (dtype U64 for
 * fixed point, I64 for integers; a trailing dimension of 2 for aby3's replicated pairs).
 * A PYU object given to an SPU call is split into shares by its owner, who sends each
 * participant its share (no other party sees it); sf_to(obj, pyu) has every member send
 * its share to that party only; sf_get to every party. Passing an SPU object to a PYU
 * call is an error: it must be revealed explicitly.
 *
 * Streams: AES-128-CTR when every participant's CPU has AES instructions (each says so in
 * its hello at creation; sf_spu_options.prg can pin "chacha20" or require "aes"), else
 * ChaCha20.
 * Seeds: pairwise, agreed by X25519 between the participants when the SPU is created
 * (fresh key pairs, public keys exchanged over the transport, a BLAKE2b hash of the
 * shared secret); with sf_spu_options.seed set they are derived from it instead, which
 * makes runs reproducible and is insecure (said loudly).
 *
 * --sf-spu=plain (debug and sim modes): the device keeps its declared members for checks
 * and messages but runs as a one-member "plain" protocol: the owner sends the first member
 * its input's ring values, that member alone runs the kernels in the clear (the others and
 * the dealer record placeholders, as non-members do), and reveals come from it.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "devices/spu/core/spu_proto.h"
#include "runtime/device.h"
#include "devices/spu/spu_dev.h"

static const struct sf_device_ops spu_ops;

static spu_state *state_of(const sf_ctx *sf) { return sf->dev_state[SF_DEV_SPU]; }

static int party_of(const sf_spu_dev *d, int i) { return i < d->n ? d->members[i] : d->dealer; }
static int nparticipants(const sf_spu_dev *d) { return d->n + (d->dealer >= 0); }

/* ------------------------------------------------------------------ network */

/* Every protocol message carries the sender's round clock ahead of the payload (8 bytes,
 * not counted as protocol bytes), so that rounds are counted through the runtime exactly
 * as the protocol's formulas define them. Messages are values: the protocol reads a
 * received one in place (recv_view) and writes an outgoing one in place (send_alloc);
 * the copying recv and send are those plus a copy. */

static void net_release(void *c, void *hold) {
    (void)c;
    sf_value *v = hold;
    sf_value_unref(&v);
}

static int net_recv_view(void *c, int from, size_t len, const void **data, void **hold) {
    sf_spu_dev *d = c;
    sf_value *v = NULL;
    sf_msg_hdr h;
    sf__recv_value(d->sf, party_of(d, from), d->msg_id, &h, &v);
    if (!v || h.kind != SF_MSG_DATA || sf_value_nbytes(v) != len + 8) {
        sf_value_unref(&v);
        return SF_EINVAL;
    }
    const uint8_t *p = sf_value_cdata(v);
    uint64_t clock;
    memcpy(&clock, p, 8);
    if (clock + 1 > d->net.rounds) d->net.rounds = clock + 1;
    *data = p + 8;
    *hold = v;
    return SF_OK;
}

static int net_recv(void *c, int from, void *buf, size_t len) {
    const void *data;
    void *hold;
    int rc = net_recv_view(c, from, len, &data, &hold);
    if (rc) return rc;
    if (len) memcpy(buf, data, len);
    net_release(c, hold);
    return SF_OK;
}

static void *net_send_alloc(void *c, size_t len, void **hold) {
    (void)c;
    sf_value *v = sf__value_alloc(SF_BYTES, 1, (const int64_t[]){(int64_t)(len + 8)});
    if (!v) return NULL;
    memset(sf_value_data(v), 0, 8);
    *hold = v;
    return (uint8_t *)sf_value_data(v) + 8;
}

static int net_send(void *c, int to, const void *buf, size_t len);

/* A kernel's progress: operations done, protocol bytes sent (called per message and per
 * operation: a store and a coarse clock read unless a line is due). */
void sf__spu_kernel_progress(sf_spu_dev *d, int op_done) {
    sf_progress *p = d->prog;
    p->aux = d->net.bytes_sent - d->prog_bytes0;
    sf__progress_update(p, p->done + (uint64_t)op_done);
}

static int net_send_held(void *c, int to, void *hold, size_t len) {
    sf_spu_dev *d = c;
    sf_value *v = hold;
    if (sf_value_nbytes(v) != len + 8) return SF_EINVAL;
    uint64_t clock;
    memcpy(&clock, sf_value_cdata(v), 8);
    if (clock != d->net.rounds) {
        /* never write a value a transport may be reading: a buffer already sent with an
         * older clock goes out as a copy (the protocol sends each one before it receives) */
        if (__atomic_load_n(&v->refcnt, __ATOMIC_ACQUIRE) != 1)
            return net_send(c, to, (const uint8_t *)sf_value_cdata(v) + 8, len);
        memcpy(sf_value_data(v), &d->net.rounds, 8);
    }
    d->net.bytes_sent += len;
    if (d->prog) sf__spu_kernel_progress(d, 0);
    sf__send_value(d->sf, party_of(d, to), SF_MSG_DATA, d->msg_id, v);
    return SF_OK;
}

static int net_send(void *c, int to, const void *buf, size_t len) {
    void *hold;
    uint8_t *p = net_send_alloc(c, len, &hold);
    if (!p) return SF_ENOMEM;
    if (len) memcpy(p, buf, len);
    int rc = net_send_held(c, to, hold, len); /* a fresh value: its clock is written */
    net_release(c, hold);
    return rc;
}

/* ------------------------------------------------------------------ creation */

sf_device sf__spu(sf_site site, sf_ctx *sf, const char *const *parties, int n,
                  const sf_spu_options *opts) {
    static const sf_spu_options defaults;
    if (!opts) opts = &defaults;
    uint64_t salt = 0x5350550000ULL ^ (uint64_t)n;
    for (int i = 0; i < n && parties; i++) salt = sf__mix(salt, sf__str_hash(parties[i] ? parties[i] : ""));
    sf__call_begin(sf, site, salt);
    const char *where = sf__basename(site.file);
    if (!parties || n < 2)
        sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: an SPU needs at least 2 member parties",
                  where, site.line);
    sf_spu_dev *d = calloc(1, sizeof *d);
    if (!d || !(d->members = calloc((size_t)n, sizeof(int))))
        sf__fatal(sf, SF_EXIT_FAILURE, "out of memory creating an SPU");
    d->n = n;
    d->ndecl = n;
    d->sf = sf;
    d->dealer = -1;
    d->role = -1;
    for (int i = 0; i < n; i++) {
        int p = parties[i] ? sf__party_lookup(sf, parties[i]) : -1;
        if (p < 0)
            sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: unknown party '%s'", where, site.line,
                      parties[i] ? parties[i] : "(null)");
        for (int j = 0; j < i; j++)
            if (d->members[j] == p)
                sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: party '%s' is listed twice", where,
                          site.line, parties[i]);
        d->members[i] = p;
        if (p == sf->party) d->role = i;
    }
    const char *proto = opts->protocol ? opts->protocol : "semi2k";
    if (!strcmp(proto, "semi2k")) d->params.protocol = SF_SPU_SEMI2K;
    else if (!strcmp(proto, "aby3")) d->params.protocol = SF_SPU_ABY3;
    else
        sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: unknown protocol '%s' (semi2k or aby3)",
                  where, site.line, proto);
    if (d->params.protocol == SF_SPU_ABY3 && n != 3)
        sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: aby3 needs exactly 3 members, not %d", where,
                  site.line, n);
    if (opts->prg && strcmp(opts->prg, "auto") && strcmp(opts->prg, "aes") && strcmp(opts->prg, "chacha20"))
        sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: unknown prg '%s' (auto, aes or chacha20)", where,
                  site.line, opts->prg);
    d->params.fxp_bits = opts->fxp_bits ? opts->fxp_bits : 18;
    if (d->params.fxp_bits < 1 || d->params.fxp_bits > 30)
        sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: fxp_bits %d is outside 1..30", where,
                  site.line, d->params.fxp_bits);
    if (d->params.protocol == SF_SPU_SEMI2K) {
        int dp = -1;
        if (opts->dealer) {
            dp = sf__party_lookup(sf, opts->dealer);
            if (dp < 0)
                sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: unknown dealer party '%s'", where,
                          site.line, opts->dealer);
        } else { /* the first party that is not a member */
            for (int p = 0; p < sf__nparties(sf) && dp < 0; p++) {
                int member = 0;
                for (int i = 0; i < n; i++) member |= d->members[i] == p;
                if (!member) dp = p;
            }
        }
        d->params.dealer = -1; /* member 0 deals itself: insecure, the protocol says so */
        for (int i = 0; i < n && dp >= 0; i++)
            if (d->members[i] == dp) d->params.dealer = i;
        if (dp >= 0 && d->params.dealer < 0) {
            d->params.dealer = n;
            d->dealer = dp;
            if (dp == sf->party) d->role = n;
        }
    }
    d->decl_aby3 = d->params.protocol == SF_SPU_ABY3;
    if (sf->run->opts.spu_plain) {
        /* plaintext functional simulation: the first member alone computes, in the clear;
         * the other members and the dealer take no part (options.c refuses it in prod) */
        d->params.protocol = SF_SPU_PLAIN;
        d->params.dealer = 0;
        d->n = 1;
        d->dealer = -1;
        d->role = d->members[0] == sf->party ? 0 : -1;
        if (d->role == 0)
            sf__info(sf, "SPU %s at %s:%d: plaintext functional simulation (--sf-spu=plain): "
                         "%s computes every kernel in the clear; nothing is secret",
                     proto, where, site.line, sf__party_name(sf, d->members[0]));
    }
    d->nwords = sf_spu_proto_nwords(d->params.protocol);
    d->msg_id = SF__OBJ_ID(sf->call_seq, 0xffff);

    /* pairwise seeds: X25519 between the participants, or derived from the fixed seed */
    if (opts->seed && d->params.protocol != SF_SPU_PLAIN) {
        uint8_t in[8];
        for (int i = 0; i < 8; i++) in[i] = (uint8_t)(opts->seed >> (8 * i));
        crypto_generichash(d->params.seed, 32, in, sizeof in, NULL, 0);
        if (d->role == 0 || (d->role < 0 && sf->party == 0))
            sf__info(sf, "SPU %s: INSECURE fixed seeds (sf_spu_options.seed): for reproducible "
                         "tests only", proto);
    } else {
        randombytes_buf(d->params.seed, sizeof d->params.seed);
    }
    if (d->role >= 0) {
        d->net = (sf_spu_net){.ctx = d, .self = d->role, .n = d->n, .send = net_send, .recv = net_recv,
                              .recv_view = net_recv_view, .release = net_release,
                              .send_alloc = net_send_alloc, .send_held = net_send_held};
        /* Hello: every participant tells the others whether it can run AES-128 streams and,
         * unless the seeds are fixed, its fresh X25519 public key. */
        int np = nparticipants(d), agree = !opts->seed && d->params.protocol != SF_SPU_PLAIN;
        uint8_t hello[1 + crypto_scalarmult_BYTES], sk[crypto_scalarmult_SCALARBYTES];
        uint8_t(*peer)[1 + crypto_scalarmult_BYTES] = calloc((size_t)np, sizeof *peer);
        size_t hlen = 1 + (agree ? crypto_scalarmult_BYTES : 0);
        if (!peer) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory creating an SPU");
        hello[0] = (uint8_t)sf_spu_proto_aes_available();
        if (agree) {
            randombytes_buf(sk, sizeof sk);
            crypto_scalarmult_base(hello + 1, sk);
        }
        for (int j = 0; j < np; j++)
            if (j != d->role && net_send(d, j, hello, hlen))
                sf__fatal(sf, SF_EXIT_FAILURE, "sf_spu: sending the key share failed");
        int aes = hello[0], lacking = -1;
        for (int j = 0; j < np; j++) {
            if (j == d->role) continue;
            if (net_recv(d, j, peer[j], hlen))
                sf__fatal(sf, SF_EXIT_FAILURE, "sf_spu at %s:%d: no valid key share from %s", where,
                          site.line, sf__party_name(sf, party_of(d, j)));
            if (!peer[j][0] && lacking < 0) lacking = j;
            aes = aes && peer[j][0];
        }
        if (!hello[0]) lacking = d->role;
        const char *prg = opts->prg ? opts->prg : "auto";
        if (!strcmp(prg, "chacha20") || d->params.protocol == SF_SPU_PLAIN) aes = 0; /* plain: no streams */
        else if (!strcmp(prg, "aes") && lacking >= 0)
            sf__fatal(sf, SF_EXIT_USAGE, "sf_spu at %s:%d: prg \"aes\" was asked for but %s has no "
                      "AES instructions (use \"auto\" or \"chacha20\")", where, site.line,
                      sf__party_name(sf, party_of(d, lacking)));
        d->params.prg = aes ? SF_SPU_PRG_AES128 : SF_SPU_PRG_CHACHA20;
        if (d->role == 0 && d->params.protocol != SF_SPU_PLAIN)
            sf__info(sf, "SPU %s at %s:%d: %s streams", proto, where, site.line,
                     aes ? "AES-128-CTR" : "ChaCha20");
        if (sf_spu_proto_create(&d->params, &d->net, &d->proto))
            sf__fatal(sf, SF_EXIT_FAILURE, "sf_spu at %s:%d: cannot create the protocol instance",
                      where, site.line);
        if (agree) { /* pairwise seeds from the X25519 shared secrets */
            for (int j = 0; j < np; j++) {
                if (j == d->role) continue;
                uint8_t shared[crypto_scalarmult_BYTES], seed[32];
                if (crypto_scalarmult(shared, sk, peer[j] + 1))
                    sf__fatal(sf, SF_EXIT_FAILURE, "sf_spu: the key agreement with %s failed",
                              sf__party_name(sf, party_of(d, j)));
                crypto_generichash_state st;
                crypto_generichash_init(&st, NULL, 0, sizeof seed);
                crypto_generichash_update(&st, shared, sizeof shared);
                const uint8_t *lo = d->role < j ? hello + 1 : peer[j] + 1;
                const uint8_t *hi = d->role < j ? peer[j] + 1 : hello + 1;
                crypto_generichash_update(&st, lo, 32);
                crypto_generichash_update(&st, hi, 32);
                crypto_generichash_update(&st, (const uint8_t *)"sfmpi-spu-pair", 14);
                crypto_generichash_final(&st, seed, sizeof seed);
                sf__spu_set_pair_seed(d->proto, j, seed);
                sodium_memzero(shared, sizeof shared);
                sodium_memzero(seed, sizeof seed);
            }
            uint8_t own[32];
            randombytes_buf(own, sizeof own);
            sf__spu_set_pair_seed(d->proto, d->role, own);
            sodium_memzero(sk, sizeof sk);
            sodium_memzero(own, sizeof own);
        }
        free(peer);
        d->net.bytes_sent = d->net.rounds = 0; /* count the protocol's traffic only */
    }
    spu_state *st = state_of(sf);
    if (!st && !(st = sf->dev_state[SF_DEV_SPU] = calloc(1, sizeof *st)))
        sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
    sf__device_register(sf, SF_DEV_SPU, &spu_ops);
    sf_spu_dev **t = realloc(st->spus, sizeof *t * (size_t)(st->n + 1));
    if (!t) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
    st->spus = t;
    d->idx = st->n;
    st->spus[st->n++] = d;
    return (sf_device){sf, SF_DEV_SPU, d->idx};
}

static void spu_free_all(sf_ctx *sf) {
    spu_state *st = state_of(sf);
    for (int i = 0; st && i < st->n; i++) {
        sf_spu_dev *d = st->spus[i];
        for (int j = 0; j < d->npriv; j++) {
            sf_spu_proto_priv_free(d->priv[j].pr);
            free(d->priv[j].X);
        }
        free(d->priv);
        if (d->proto) sf_spu_proto_destroy(d->proto);
        sodium_memzero(&d->params, sizeof d->params);
        free(d->members);
        free(d);
    }
    if (st) free(st->spus);
    free(st);
    sf->dev_state[SF_DEV_SPU] = NULL;
}

static sf_spu_dev *dev_of(sf_ctx *sf, sf_device dev, sf_site site) {
    spu_state *st = state_of(sf);
    if (dev.sf != sf || dev.kind != SF_DEV_SPU || !st || dev.party < 0 || dev.party >= st->n)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: not a valid SPU device", site.what,
                  sf__basename(site.file), site.line);
    return st->spus[dev.party];
}

int sf_spu_stats(sf_device dev, sf_spu_counters *out) {
    if (!out) return SF_EINVAL;
    *out = (sf_spu_counters){0, 0};
    const spu_state *st = dev.sf ? state_of(dev.sf) : NULL;
    if (dev.kind != SF_DEV_SPU || !st || dev.party < 0 || dev.party >= st->n) return SF_EINVAL;
    const sf_spu_dev *d = st->spus[dev.party];
    if (d->role >= 0) *out = (sf_spu_counters){d->net.bytes_sent, d->net.rounds};
    return SF_OK;
}

int sf_spu_member(sf_device dev, int party) {
    const spu_state *st = dev.sf ? state_of(dev.sf) : NULL;
    if (dev.kind != SF_DEV_SPU || !st || dev.party < 0 || dev.party >= st->n) return -1;
    const sf_spu_dev *d = st->spus[dev.party];
    for (int i = 0; i < d->ndecl; i++)
        if (d->members[i] == party) return i;
    return -1;
}

int sf_spu_fraction_bits(sf_device dev) {
    const spu_state *st = dev.sf ? state_of(dev.sf) : NULL;
    if (dev.kind != SF_DEV_SPU || !st || dev.party < 0 || dev.party >= st->n) return SF_EINVAL;
    return st->spus[dev.party]->params.fxp_bits;
}

/* ------------------------------------------------------------------ shares as values */

static int is_float(sf_dtype dt) { return dt == SF_F32 || dt == SF_F64; }

/* plaintext value -> ring elements (fixed point for floats, two's complement for ints) */
static uint64_t *to_ring(const sf_spu_dev *d, const sf_value *v, int *fxp) {
    size_t n = sf_value_nelems(v);
    uint64_t *r = malloc(sizeof *r * (n ? n : 1));
    if (!r) return NULL;
    *fxp = is_float(sf_value_dtype(v));
    if (sf_value_dtype(v) == SF_F64) { /* the common case, without a per-element dispatch */
        sf_spu_proto_fxp_encode_n(sf_value_cdata(v), n, d->params.fxp_bits, r);
        return r;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = *fxp ? sf_spu_proto_fxp_encode(sf_value_as_f64(v, i), d->params.fxp_bits)
                    : (uint64_t)sf_value_as_i64(v, i);
    return r;
}

/* A share (n elements) with its meaning and shape as a value: U64 = fixed point,
 * I64 = integer; aby3 adds a trailing dimension of 2. `dealer`: the value is for the extra
 * dealer (the receiver, which is not necessarily this party), which holds no shares: its
 * "share" values are zeros of the right shape. */
static sf_value *share_value(const sf_spu_dev *d, const sf_spu_share *s, int fxp, int ndim,
                             const int64_t *shape, int dealer) {
    int64_t sh[SF_MAX_DIMS + 1];
    memcpy(sh, shape, sizeof(int64_t) * (size_t)ndim);
    int nd = ndim;
    if (d->nwords > 1) sh[nd++] = d->nwords;
    if (nd > SF_MAX_DIMS) return NULL;
    int copy = !dealer && s && s->w;
    sf_value *v = copy ? sf_value_new(fxp ? SF_U64 : SF_I64, nd, sh)
                       : sf_value_zeros(fxp ? SF_U64 : SF_I64, nd, sh);
    if (v && copy) {
        if (sf_value_nelems(v) != s->n * (size_t)d->nwords) {
            sf_value_unref(&v);
            return NULL;
        }
        memcpy(sf_value_data(v), s->w, sizeof(uint64_t) * s->n * (size_t)d->nwords);
    }
    return v;
}

/* The meaning and shape of a share value (U64: fixed point; aby3's trailing pair dropped). */
static int slot_meta(const sf_spu_dev *d, const sf_value *v, spu_slot *sl) {
    int nd = sf_value_ndim(v) - (d->nwords > 1 ? 1 : 0);
    if (nd < 0) return SF_ETYPE;
    sl->fxp = sf_value_dtype(v) == SF_U64;
    sl->ndim = nd;
    memcpy(sl->shape, sf_value_shape(v), sizeof(int64_t) * (size_t)nd);
    return SF_OK;
}

/* An argument slot reading the share value in place (no copy): the kernel's operations
 * never write their inputs, and the slot holds a reference until the call ends. */
static int slot_from_value(const sf_spu_dev *d, sf_value *v, spu_slot *sl) {
    SF_TRY(slot_meta(d, v, sl));
    sl->s.n = sf_value_nelems(v) / (size_t)d->nwords;
    sl->s.nwords = d->nwords;
    sl->s.w = sl->s.n ? (uint64_t *)sf_value_data(v) : NULL;
    sl->held = sf_value_ref(v);
    return SF_OK;
}

void sf__spu_slot_free(spu_slot *sl) {
    free(sl->pub);
    sl->pub = NULL;
    sf_value_unref(&sl->pubv);
    if (sl->held) {
        sf_value_unref(&sl->held);
        sl->s.w = NULL;
    } else {
        sf_spu_proto_share_free(&sl->s);
    }
}

/* ------------------------------------------------------------------ input sharing */

/* The owner of PYU entry e splits its value and sends every participant its share (the
 * extra dealer gets zeros of the right shape); each participant gets a share value, or
 * the failure chain in *err. Non-participants other than the owner do nothing. */
static sf_value *share_in(sf_ctx *sf, sf_spu_dev *d, sf_entry *e, sf_value **err) {
    int np = nparticipants(d), owner = e->owner;
    sf_value *mine = NULL;
    *err = NULL;
    if (sf->party == owner) {
        sf_value *fail = NULL;
        sf_spu_share *shares = NULL;
        int fxp = 0;
        uint64_t *ring = NULL;
        if (e->state == SF__ST_FAILED) {
            fail = sf_value_ref(e->err);
        } else if (sf_value_dtype(e->val) == SF_BYTES) {
            fail = sf_value_str("bytes cannot be secret-shared: an SPU computes on numbers");
        } else {
            size_t n = sf_value_nelems(e->val);
            shares = calloc((size_t)d->n, sizeof *shares);
            ring = to_ring(d, e->val, &fxp);
            if (!shares || !ring || sf_spu_proto_make_shares(&d->params, d->n, ring, n, NULL, shares))
                sf__fatal(sf, SF_EXIT_FAILURE, "out of memory secret-sharing an object");
        }
        for (int j = 0; j < np; j++) {
            sf_value *v = NULL;
            if (fail) {
                if (party_of(d, j) != owner) sf__send_value(sf, party_of(d, j), SF_MSG_ERROR, e->id, fail);
                continue;
            }
            if (j < d->n) {
                v = share_value(d, &shares[j], fxp, sf_value_ndim(e->val), sf_value_shape(e->val), 0);
            } else {
                v = share_value(d, NULL, fxp, sf_value_ndim(e->val), sf_value_shape(e->val), 1);
            }
            if (!v) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory secret-sharing an object");
            if (party_of(d, j) == owner) mine = sf_value_ref(v);
            else sf__send_value(sf, party_of(d, j), SF_MSG_DATA, e->id, v);
            sf_value_unref(&v);
        }
        for (int j = 0; shares && j < d->n; j++) sf_spu_proto_share_free(&shares[j]);
        free(shares);
        if (ring) sodium_memzero(ring, sizeof *ring * sf_value_nelems(e->val));
        free(ring);
        if (fail) *err = fail;
        return mine;
    }
    if (d->role < 0) return NULL;
    sf_msg_hdr h;
    sf_value *v = NULL;
    sf__recv_value(sf, owner, e->id, &h, &v);
    if (h.kind == SF_MSG_ERROR) {
        *err = v;
        return NULL;
    }
    return v;
}

/* A public constant as a sharing (zeros, then the protocol adds the constant). */
static int public_slot(sf_spu_dev *d, sf_value *v, spu_slot *sl) {
    size_t n = sf_value_nelems(v);
    int fxp;
    uint64_t *ring = to_ring(d, v, &fxp);
    sf_spu_share z = {0};
    int rc = !ring ? SF_ENOMEM : sf_spu_proto_share_alloc(&z, n, d->nwords);
    if (!rc) rc = sf_spu_proto_add_public(d->proto, &z, ring, n ? n : 1, &sl->s);
    sf_spu_proto_share_free(&z);
    sl->pub = ring; /* readable in the kernel (sf_spu_public), and local operations */
    sl->pubv = sf_value_ref(v);
    sl->fxp = fxp;
    sl->ndim = sf_value_ndim(v);
    memcpy(sl->shape, sf_value_shape(v), sizeof(int64_t) * (size_t)sl->ndim);
    return rc;
}

/* ------------------------------------------------------------------ private operands */

/* Drop the cached masks of private matrices whose objects are gone (every party releases
 * objects at the same point of the program, so the caches stay alike). */
static void priv_purge(sf_ctx *sf, sf_spu_dev *d) {
    int w = 0;
    for (int i = 0; i < d->npriv; i++) {
        if (sf__obj_find(sf, d->priv[i].id)) {
            d->priv[w++] = d->priv[i];
            continue;
        }
        sf_spu_proto_priv_free(d->priv[i].pr);
        free(d->priv[i].X);
    }
    d->npriv = w;
}

/* A peer's description {fxp, m, k} of a private operand: sane and within the protocol's
 * bound (what a receiver will allocate). */
/* The bits a private operand's fixed-point values lose in the 32-bit ring: they keep 8
 * fraction bits (fxp_bits >= 16 is checked first; integers keep all), and the other
 * operand of a product f - 8. */
static int priv_xs(const sf_spu_dev *d, int fxp) {
    return fxp && d->params.fxp_bits > 8 ? d->params.fxp_bits - 8 : 0;
}

static int desc_ok(const int64_t *d) {
    return (d[0] == 0 || d[0] == 1) && sf_spu_proto_priv_shape_ok(d[1], d[2]);
}

/* Mask the private matrices described in this call (SPMD, after every argument is in, so
 * that no argument's messages queue behind a masked matrix): every owner sends, then every
 * receiver takes its matrices, so transfers from several owners overlap. */
static void priv_mask(sf_ctx *sf, sf_spu_dev *d, sf_site site) {
    for (int pass = 0; pass < 2 && d->role >= 0; pass++)
        for (int i = 0; i < d->npriv; i++) {
            spu_priv_ent *pe = &d->priv[i];
            if (!pe->fresh) continue;
            int rc = pass == 1 ? sf_spu_proto_priv_recv(d->proto, pe->pr)
                     : pe->aux ? sf_spu_proto_priv_new32(d->proto, pe->owner, pe->X, (size_t)pe->m, (size_t)pe->k,
                                                         priv_xs(d, pe->fxp), (size_t)(pe->aux - 1), &pe->pr)
                               : sf_spu_proto_priv_new(d->proto, pe->owner, pe->X, (size_t)pe->m, (size_t)pe->k, &pe->pr);
            if (rc)
                sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: masking a private argument failed: %s", site.what,
                          sf__basename(site.file), site.line, sf_strerror(rc));
            if (pass == 1) {
                pe->fresh = 0;
                if (d->role != pe->owner) { /* only the computing owner keeps the values */
                    free(pe->X);
                    pe->X = NULL;
                }
            }
        }
}

static int priv_find(const sf_spu_dev *d, uint64_t id) {
    for (int i = 0; i < d->npriv; i++)
        if (d->priv[i].id == id) return i;
    return -1;
}

/* Argument i given as SF_PRIVATE(obj): on the participants a private slot (the matrix's
 * cached handle, made at its first use: its owner describes it to the others, then masks
 * it once), or the reason it cannot be one in *err. */
static void priv_arg(sf_ctx *sf, sf_spu_dev *d, int i, sf_obj obj, int aux, sf_site site, spu_slot *sl,
                     sf_value **err) {
    const char *where = sf__basename(site.file);
    sf_entry *e = sf__obj_find(sf, obj.id);
    if (obj.sf != sf || !e || e->kind != SF__ENT_OBJ)
        sf__fatal(sf, SF_EXIT_USAGE, "%s at %s:%d: argument %d (SF_PRIVATE) is not a live object",
                  site.what, where, site.line, i);
    if (e->dev_kind)
        sf__fatal(sf, SF_EXIT_USAGE, "%s at %s:%d: argument %d (SF_PRIVATE) lives in a device; a "
                  "private operand is a party's own object", site.what, where, site.line, i);
    int owner = e->owner, mi = -1;
    for (int j = 0; j < d->ndecl; j++)
        if (d->members[j] == owner) mi = j;
    if (mi < 0)
        sf__fatal(sf, SF_EXIT_USAGE, "%s at %s:%d: argument %d (SF_PRIVATE) is owned by %s, which is "
                  "not a member of the SPU: only a member can keep an operand private (pass it as "
                  "SF_OBJ to secret-share it)", site.what, where, site.line, i, sf__party_name(sf, owner));
    int plain = d->params.protocol == SF_SPU_PLAIN, powner = plain ? 0 : mi;
    int pi = priv_find(d, e->id);
    const char *pname = aux ? "SF_PRIVATE32" : "SF_PRIVATE";
    if (pi >= 0 && d->priv[pi].aux != aux)
        sf__fatal(sf, SF_EXIT_USAGE, "%s at %s:%d: argument %d (%s) was first used as %s with other "
                  "parameters; a private operand keeps its ring and blocks while it lives (release it, "
                  "or pass it the same way)", site.what, where, site.line, i, pname,
                  d->priv[pi].aux ? "SF_PRIVATE32" : "SF_PRIVATE");
    if (pi < 0) {
        /* first use: the owner's description (fxp, m, k) or its reason, then the mask */
        int64_t desc[3] = {0, 0, 0};
        uint64_t *X = NULL;
        sf_value *fail = NULL;
        if (sf->party == owner) {
            const sf_value *v = e->state == SF__ST_FAILED ? NULL : e->val;
            char msg[256];
            if (!v) fail = sf_value_ref(e->err);
            else if (sf_value_dtype(v) == SF_BYTES || (sf_value_ndim(v) != 1 && sf_value_ndim(v) != 2)) {
                snprintf(msg, sizeof msg, "argument %d (SF_PRIVATE): a private operand is a matrix or a "
                         "vector of numbers, not %s of %d dimension%s", i,
                         sf_value_dtype(v) == SF_BYTES ? "bytes" : "an array", sf_value_ndim(v),
                         sf_value_ndim(v) == 1 ? "" : "s");
                fail = sf_value_str(msg);
            } else if (sf_value_nelems(v) > (size_t)SF_SPU_PRIV_MAX_ELEMS) {
                snprintf(msg, sizeof msg, "argument %d (SF_PRIVATE): %zu elements, more than a private "
                         "operand takes (2^40)", i, sf_value_nelems(v));
                fail = sf_value_str(msg);
            } else if (aux < 0) {
                snprintf(msg, sizeof msg, "argument %d (SF_PRIVATE32): the block of rows is negative or beyond 2^31 - 2", i);
                fail = sf_value_str(msg);
            } else if (aux && d->decl_aby3) { /* under --sf-spu=plain too: the program is the same */
                snprintf(msg, sizeof msg, "argument %d (SF_PRIVATE32): the 32-bit ring is a semi2k option "
                         "and this SPU runs aby3; pass SF_PRIVATE", i);
                fail = sf_value_str(msg);
            } else {
                int fxp;
                X = to_ring(d, v, &fxp);
                if (!X) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
                desc[0] = fxp;
                desc[1] = sf_value_dim(v, 0);
                desc[2] = sf_value_ndim(v) == 2 ? sf_value_dim(v, 1) : 1;
                size_t bad;
                if (aux && fxp && d->params.fxp_bits < 16) { /* the other operand would keep < 8 bits */
                    snprintf(msg, sizeof msg, "argument %d (SF_PRIVATE32): fixed point in the 32-bit ring "
                             "needs fxp_bits of at least 16 (this SPU has %d: the other operand of a product "
                             "would keep %d fraction bits); pass SF_PRIVATE", i, d->params.fxp_bits,
                             d->params.fxp_bits - 8 > 0 ? d->params.fxp_bits - 8 : 0);
                    fail = sf_value_str(msg);
                    free(X);
                    X = NULL;
                } else if (aux && !sf_spu_proto_x32_ok(priv_xs(d, fxp), X, sf_value_nelems(v), &bad)) {
                    snprintf(msg, sizeof msg, "argument %d (SF_PRIVATE32): element [%lld, %lld] = %.17g is "
                             "beyond the 32-bit ring (|x| < 2^%d); pass SF_PRIVATE", i,
                             (long long)(bad / (size_t)desc[2]), (long long)(bad % (size_t)desc[2]),
                             sf_value_as_f64(v, bad), fxp ? 23 : 31);
                    fail = sf_value_str(msg);
                    free(X);
                    X = NULL;
                }
            }
            for (int j = 0; j < nparticipants(d); j++) {
                int p = party_of(d, j);
                if (p == owner) continue;
                sf_value *dv = fail ? sf_value_ref(fail) : sf_value_new(SF_I64, 1, (const int64_t[]){3});
                if (!dv) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
                if (!fail) memcpy(sf_value_data(dv), desc, sizeof desc);
                sf__send_value(sf, p, fail ? SF_MSG_ERROR : SF_MSG_DATA, d->msg_id, dv);
                if (!fail && plain) { /* the one computing member needs the values */
                    sf_value *xv = sf_value_new(SF_U64, 1, (const int64_t[]){desc[1] * desc[2]});
                    if (!xv) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
                    if (desc[1] && desc[2]) memcpy(sf_value_data(xv), X, 8 * (size_t)(desc[1] * desc[2]));
                    sf__send_value(sf, p, SF_MSG_DATA, d->msg_id, xv);
                    sf_value_unref(&xv);
                }
                sf_value_unref(&dv);
            }
            if (plain && powner != d->role) { /* not the computing member: keep nothing */
                free(X);
                X = NULL;
            }
        } else if (d->role >= 0) {
            sf_msg_hdr h;
            sf_value *dv = NULL;
            sf__recv_value(sf, owner, d->msg_id, &h, &dv);
            if (h.kind == SF_MSG_ERROR) {
                fail = dv;
                dv = NULL;
            } else if (!dv || sf_value_dtype(dv) != SF_I64 || sf_value_nelems(dv) != 3 ||
                       !desc_ok((const int64_t *)sf_value_cdata(dv))) {
                sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: a bad description of the private argument %d "
                          "from %s", site.what, where, site.line, i, sf__party_name(sf, owner));
            } else {
                memcpy(desc, sf_value_cdata(dv), sizeof desc);
            }
            sf_value_unref(&dv);
            if (!fail && plain) {
                sf_value *xv = NULL;
                sf__recv_value(sf, owner, d->msg_id, &h, &xv);
                if (!xv || h.kind != SF_MSG_DATA || sf_value_dtype(xv) != SF_U64 ||
                    sf_value_nelems(xv) != (size_t)(desc[1] * desc[2]))
                    sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: the private argument %d from %s is not "
                              "the size it was said to be", site.what, where, site.line, i,
                              sf__party_name(sf, owner));
                X = malloc(8 * (size_t)(desc[1] && desc[2] ? desc[1] * desc[2] : 1));
                if (!X) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
                memcpy(X, sf_value_cdata(xv), 8 * (size_t)(desc[1] * desc[2]));
                sf_value_unref(&xv);
            }
        }
        if (d->role < 0 && (sf->party != owner || fail)) { /* not computing, nothing to keep */
            sf_value_unref(&fail);
            free(X);
            return;
        }
        if (fail) {
            *err = fail;
            free(X);
            return;
        }
        if (d->npriv == d->cappriv) {
            int cap = d->cappriv ? 2 * d->cappriv : 4;
            spu_priv_ent *t = realloc(d->priv, sizeof *t * (size_t)cap);
            if (!t) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
            d->priv = t;
            d->cappriv = cap;
        }
        spu_priv_ent *pe = &d->priv[d->npriv];
        *pe = (spu_priv_ent){.id = e->id, .X = X, .owner = powner, .fxp = (int)desc[0], .m = desc[1], .k = desc[2],
                             .aux = aux};
        if (d->role < 0) { /* the owner outside the plaintext simulation: remembers it has sent it */
            d->npriv++;
            return;
        }
        pe->fresh = 1; /* masked by priv_mask once every argument is in */
        pi = d->npriv++;
    }
    if (d->role < 0) return;
    const spu_priv_ent *pe = &d->priv[pi];
    sl->priv = pi + 1;
    sl->pr0 = 0;
    sl->prows = (size_t)pe->m;
    sl->ptrans = 0;
    sl->fxp = pe->fxp;
    sl->ndim = 2;
    sl->shape[0] = pe->m;
    sl->shape[1] = pe->k;
}

/* ------------------------------------------------------------------ calls */

static sf_obj spu_call(sf_ctx *sf, sf_device dev, sf_task_fn fn, sf_site site, int nret,
                       sf_obj *outs, const sf_argv_item *args, int nargs) {
    sf_spu_dev *d = dev_of(sf, dev, site);
    if (nret < 1 || nret > 64 || nargs < 0 || !fn)
        sf__fatal(sf, SF_EXIT_FAILURE, "SF_REMOTE on an SPU at %s:%d: bad call", sf__basename(site.file), site.line);
    uint64_t salt = sf__mix(0x5350554341ULL, ((uint64_t)d->idx << 32) | ((uint64_t)nargs << 8) | (uint64_t)nret);
    for (int i = 0; i < nargs; i++)
        salt = sf__mix(salt, args[i].kind == SF_ARGK_OBJ    ? args[i].u.obj.id
                            : args[i].kind == SF_ARGK_PRIV ? args[i].u.obj.id ^ 0x5052495645ULL ^ ((uint64_t)(uint32_t)args[i].aux << 40)
                                                           : (uint64_t)args[i].kind);
    sf__call_begin(sf, site, salt);
    d->msg_id = SF__OBJ_ID(sf->call_seq, 0xffff);
    priv_purge(sf, d);
    spu_kctx k = {.d = d, .nargs = nargs, .nret = nret};
    sf_value *err = NULL;
    char head[512];
    snprintf(head, sizeof head, "SPU kernel '%s' at call #%llu (%s:%d) was not run: ",
             site.what, (unsigned long long)sf->call_seq, sf__basename(site.file), site.line);

    /* 1. inputs: shares of PYU objects (from their owners), SPU objects, public constants */
    if (d->role >= 0) {
        k.slots = calloc((size_t)(nargs + 16), sizeof *k.slots);
        k.cap = nargs + 16;
        k.nslots = nargs;
        k.ret = malloc(sizeof(int) * (size_t)nret);
        if (!k.slots || !k.ret) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
        for (int i = 0; i < nret; i++) k.ret[i] = -1;
    }
    for (int i = 0; i < nargs; i++) {
        if (args[i].kind == SF_ARGK_PRIV) {
            sf_value *perr = NULL;
            priv_arg(sf, d, i, args[i].u.obj, args[i].aux, site, d->role >= 0 ? &k.slots[i] : NULL, &perr);
            if (perr && !err) {
                char h2[640];
                snprintf(h2, sizeof h2, "%sits argument %d failed:", head, i);
                err = sf__chain(h2, perr);
            }
            sf_value_unref(&perr);
        } else if (args[i].kind == SF_ARGK_OBJ) {
            sf_entry *e = sf__obj_find(sf, args[i].u.obj.id);
            if (!e || e->kind != SF__ENT_OBJ)
                sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: argument %d is not a live object", site.what,
                          sf__basename(site.file), site.line, i);
            int in_spu = e->dev_kind == SF_DEV_SPU;
            if (e->dev_kind && (!in_spu || e->dev_idx != d->idx))
                sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: argument %d lives in another SPU; reveal it "
                          "with sf_to first", site.what, sf__basename(site.file), site.line, i);
            sf_value *sv = NULL, *ferr = NULL;
            if (in_spu) {
                if (d->role >= 0) {
                    if (e->state == SF__ST_FAILED) ferr = sf_value_ref(e->err);
                    else sv = sf_value_ref(e->val);
                }
            } else {
                sv = share_in(sf, d, e, &ferr);
            }
            if (ferr && !err) {
                char h2[640];
                snprintf(h2, sizeof h2, "%sits argument %d failed:", head, i);
                err = sf__chain(h2, ferr);
            }
            sf_value_unref(&ferr);
            if (d->role >= 0 && sv && !err && slot_from_value(d, sv, &k.slots[i]))
                sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
            sf_value_unref(&sv);
        } else if (d->role >= 0 && !err) {
            sf_value *pv = NULL;
            switch (args[i].kind) {
            case SF_ARGK_F64: pv = sf_value_f64(args[i].u.f64); break;
            case SF_ARGK_I64: pv = sf_value_i64(args[i].u.i64); break;
            case SF_ARGK_VAL: pv = sf_value_ref(args[i].u.val); break;
            default: break;
            }
            if (!pv || sf_value_dtype(pv) == SF_BYTES) {
                char h2[640];
                snprintf(h2, sizeof h2, "%sargument %d: an SPU takes numbers (objects or numeric "
                         "inline values), not strings or bytes", head, i);
                err = sf_value_str(h2);
            } else if (public_slot(d, pv, &k.slots[i])) {
                sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
            }
            sf_value_unref(&pv);
        }
    }

    priv_mask(sf, d, site); /* this call's new private arguments */

    /* 2. result entries everywhere: held by the participants */
    sf_entry *res[64];
    for (int i = 0; i < nret; i++) {
        res[i] = sf__obj_new(sf, SF__OBJ_ID(sf->call_seq, i), d->members[0], site);
        if (!res[i]) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
        res[i]->dev_kind = SF_DEV_SPU;
        res[i]->dev_idx = (int16_t)d->idx;
        for (int j = 0; j < d->n; j++) sf__obj_set_holder(sf, res[i], d->members[j]);
        if (d->dealer >= 0) sf__obj_set_holder(sf, res[i], d->dealer);
        if (outs) outs[i] = (sf_obj){sf, res[i]->id};
    }

    /* 3. the participants run the kernel jointly */
    if (d->role >= 0) {
        if (!err) {
            sf_progress pr;
            char tag[96], what[160];
            snprintf(what, sizeof what, "SPU kernel '%s'", site.what);
            sf__progress_begin(&pr, sf__progress_tag(sf, tag, sizeof tag), what, 0, "operations");
            pr.aux_unit = "B sent";
            d->prog = pr.on ? &pr : NULL;
            d->prog_bytes0 = d->net.bytes_sent;
            char *msg = sf__run_device_kernel(sf, fn, site, &k);
            d->prog = NULL;
            sf__progress_end(&pr, !msg);
            for (int i = 0; i < nret && !msg; i++)
                if (k.ret[i] < 0 && asprintf(&msg, "returned without setting result %d (sf_spu_return)", i) < 0)
                    msg = NULL;
            if (msg) {
                char h2[1024];
                snprintf(h2, sizeof h2, "SPU kernel '%s' failed at call #%llu (%s:%d): %s", site.what,
                         (unsigned long long)sf->call_seq, sf__basename(site.file), site.line, msg);
                err = sf_value_str(h2);
                free(msg);
            }
        }
        for (int i = 0; i < nret; i++) {
            if (err) {
                res[i]->state = SF__ST_FAILED;
                res[i]->err = sf_value_ref(err);
            } else {
                spu_slot *s = &k.slots[k.ret[i]];
                res[i]->val = share_value(d, &s->s, s->fxp, s->ndim, s->shape, d->role == d->n);
                if (!res[i]->val) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
                res[i]->state = SF__ST_READY;
            }
        }
        for (int i = 0; i < k.nslots; i++) sf__spu_slot_free(&k.slots[i]);
        free(k.slots);
        free(k.ret);
        sf__debug_stop_if_failed(sf, res[0]);
    }
    sf_value_unref(&err);
    return (sf_obj){sf, res[0]->id};
}

/* ------------------------------------------------------------------ moving in and out */

/* sf_to(pyu object, spu): a new SPU object holding the shares. */
static sf_obj spu_share_in(sf_ctx *sf, sf_entry *e, sf_device dev, sf_site site) {
    sf_spu_dev *d = dev_of(sf, dev, site);
    if (e->dev_kind)
        sf__fatal(sf, SF_EXIT_FAILURE, "sf_to at %s:%d: the object is already in a device; reveal it first",
                  sf__basename(site.file), site.line);
    sf_value *ferr = NULL, *sv = share_in(sf, d, e, &ferr);
    sf_entry *n = sf__obj_new(sf, SF__OBJ_ID(sf->call_seq, 0), d->members[0], site);
    if (!n) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
    n->dev_kind = SF_DEV_SPU;
    n->dev_idx = (int16_t)d->idx;
    for (int j = 0; j < d->n; j++) sf__obj_set_holder(sf, n, d->members[j]);
    if (d->dealer >= 0) sf__obj_set_holder(sf, n, d->dealer);
    if (d->role >= 0) {
        if (ferr) {
            n->state = SF__ST_FAILED;
            n->err = sf_value_ref(ferr);
        } else {
            n->state = SF__ST_READY;
            n->val = sf_value_ref(sv);
        }
    }
    sf_value_unref(&sv);
    sf_value_unref(&ferr);
    return (sf_obj){sf, n->id};
}

/* Reveal SPU entry e to party `to` (or every party if to < 0): the members send their
 * shares; the receivers combine them. Returns the plaintext (or the failure chain, with
 * *failed set) on the receivers, NULL elsewhere. */
static sf_value *spu_reveal(sf_ctx *sf, sf_entry *e, int to, int *failed) {
    sf_spu_dev *d = state_of(sf)->spus[e->dev_idx];
    int np = sf__nparties(sf);
    *failed = 0;
    if (d->role >= 0 && d->role < d->n) { /* a member sends its share */
        for (int p = 0; p < np; p++) {
            if (p == sf->party || (to >= 0 && p != to)) continue;
            int fail = e->state == SF__ST_FAILED;
            sf__send_value(sf, p, fail ? SF_MSG_ERROR : SF_MSG_DATA, e->id, fail ? e->err : e->val);
        }
    }
    if (to >= 0 && sf->party != to) return NULL;
    sf_spu_share *shares = calloc((size_t)d->n, sizeof *shares);
    sf_value *err = NULL, *first = NULL;
    if (!shares) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
    for (int j = 0; j < d->n; j++) {
        sf_value *v = NULL;
        if (d->members[j] == sf->party) {
            v = e->state == SF__ST_FAILED ? NULL : sf_value_ref(e->val);
            if (!v && !err) err = sf_value_ref(e->err);
        } else {
            sf_msg_hdr h;
            sf__recv_value(sf, d->members[j], e->id, &h, &v);
            if (h.kind == SF_MSG_ERROR) {
                if (!err) err = v;
                else sf_value_unref(&v);
                v = NULL;
            }
        }
        if (v) {
            size_t n = sf_value_nelems(v) / (size_t)d->nwords;
            if (sf_spu_proto_share_alloc(&shares[j], n, d->nwords))
                sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
            if (n) memcpy(shares[j].w, sf_value_cdata(v), sizeof(uint64_t) * n * (size_t)d->nwords);
            if (!first) first = sf_value_ref(v);
        }
        sf_value_unref(&v);
    }
    sf_value *out = NULL;
    if (err) {
        *failed = 1;
        out = err;
    } else {
        spu_slot meta = {0};
        slot_meta(d, first, &meta);
        uint64_t *plain = malloc(sizeof *plain * (shares[0].n ? shares[0].n : 1));
        if (!plain || sf_spu_proto_combine(&d->params, d->n, shares, plain))
            sf__fatal(sf, SF_EXIT_FAILURE, "revealing an SPU object: the shares do not combine");
        out = sf_value_new(meta.fxp ? SF_F64 : SF_I64, meta.ndim, meta.shape);
        if (!out) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
        for (size_t i = 0; i < shares[0].n; i++) {
            if (meta.fxp) ((double *)sf_value_data(out))[i] = sf_spu_proto_fxp_decode(plain[i], d->params.fxp_bits);
            else ((int64_t *)sf_value_data(out))[i] = (int64_t)plain[i];
        }
        free(plain);
    }
    for (int j = 0; j < d->n; j++) sf_spu_proto_share_free(&shares[j]);
    free(shares);
    sf_value_unref(&first);
    return out;
}

/* A device of shares: nothing in the clear, no actors. */
static int spu_owner(sf_ctx *sf, sf_device dev) {
    (void)sf, (void)dev;
    return -1;
}

static const struct sf_device_ops spu_ops = {
    .name = "SPU",
    .call = spu_call,
    .share_in = spu_share_in,
    .reveal = spu_reveal,
    .owner = spu_owner,
    .free = spu_free_all,
};
