/*
 * SPU protocol core: instances, fixed point, shares, local operations, dispatch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devices/spu/core/spu_internal.h"

#define FXP_MAX ((int64_t)((UINT64_C(1) << 62) - 1))

/* ---------------------------------------------------------------- fixed point */

uint64_t sf_spu_proto_fxp_encode(double v, int fxp_bits)
{
    if (isnan(v)) return 0;
    double t = nearbyint(ldexp(v, fxp_bits));
    if (t >= (double)FXP_MAX) return (uint64_t)FXP_MAX;
    if (t <= -(double)FXP_MAX) return (uint64_t)-FXP_MAX;
    return (uint64_t)(int64_t)t;
}

double sf_spu_proto_fxp_decode(uint64_t x, int fxp_bits) { return ldexp((double)(int64_t)x, -fxp_bits); }

uint64_t sf_spu_proto_fxp_encode_int(int64_t v, int fxp_bits)
{
    int64_t lim = FXP_MAX >> fxp_bits;
    if (v > lim) return (uint64_t)FXP_MAX;
    if (v < -lim) return (uint64_t)-FXP_MAX;
    return (uint64_t)v << fxp_bits;
}

int64_t sf_spu_proto_fxp_decode_int(uint64_t x, int fxp_bits)
{
    int64_t s = (int64_t)x;
    if (s > FXP_MAX) s = FXP_MAX;
    if (s < -FXP_MAX) s = -FXP_MAX;
    return (s + ((int64_t)1 << (fxp_bits - 1))) >> fxp_bits;
}

void sf_spu_proto_fxp_encode_n(const double *v, size_t n, int fxp_bits, uint64_t *out)
{
    double sc = ldexp(1, fxp_bits), lim = (double)FXP_MAX;
    for (size_t i = 0; i < n; i++) { /* as sf_spu_proto_fxp_encode: v 2^f is ldexp(v, f) */
        double t = nearbyint(v[i] * sc);
        out[i] = t != t ? 0 : t >= lim ? (uint64_t)FXP_MAX : t <= -lim ? (uint64_t)-FXP_MAX : (uint64_t)(int64_t)t;
    }
}

void sf_spu_proto_fxp_decode_n(const uint64_t *x, size_t n, int fxp_bits, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = sf_spu_proto_fxp_decode(x[i], fxp_bits);
}

/* ---------------------------------------------------------------- shares */

/* The family of a protocol, or NULL if unknown. */
static const struct spu_family_ops *family(sf_spu_protocol protocol)
{
    switch (protocol) {
    case SF_SPU_SEMI2K: return &sf__spu_semi2k_ops;
    case SF_SPU_ABY3: return &sf__spu_aby3_ops;
    case SF_SPU_PLAIN: return &sf__spu_plain_ops;
    }
    return NULL;
}

int sf_spu_proto_nwords(sf_spu_protocol protocol)
{
    const struct spu_family_ops *f = family(protocol);
    return f ? f->nwords : 0;
}

int sf_spu_proto_share_alloc(sf_spu_share *s, size_t n, int nwords)
{
    if (!s || nwords < 1 || nwords > 2) return SF_EINVAL;
    free(s->w);
    s->w = NULL;
    s->n = 0;
    s->nwords = nwords;
    if (n) {
        if (n > SIZE_MAX / 16) return SF_ENOMEM;
        s->w = calloc(n * (size_t)nwords, sizeof(u64));
        if (!s->w) return SF_ENOMEM;
    }
    s->n = n;
    return SF_OK;
}

void sf_spu_proto_share_free(sf_spu_share *s)
{
    if (!s) return;
    free(s->w);
    s->w = NULL;
    s->n = 0;
}

int sf__spup_out(sf_spu_proto *p, sf_spu_share *out, size_t n)
{
    int nw = p->ops->nwords;
    if (!p->member) { /* the extra dealer holds no shares */
        free(out->w);
        out->w = NULL;
        out->n = n;
        out->nwords = nw;
        return SF_OK;
    }
    if (out->w && out->n == n && out->nwords == nw) return SF_OK;
    if (out->n == n && out->nwords == nw && n == 0) return SF_OK;
    return sf_spu_proto_share_alloc(out, n, nw);
}

/* ---------------------------------------------------------------- pure input/output */

int sf_spu_proto_make_shares(const sf_spu_params *params, int nmembers, const uint64_t *plain,
                       size_t n, const uint8_t *seed, sf_spu_share *out)
{
    if (!params || !out || (n && !plain)) return SF_EINVAL;
    const struct spu_family_ops *f = family(params->protocol);
    if (!f || nmembers < f->min_members || nmembers > f->max_members) return SF_EINVAL;
    if (sodium_init() < 0) return SF_ESYS;
    for (int i = 0; i < nmembers; i++) out[i].w = NULL, out[i].n = 0; /* written, never freed */
    for (int i = 0; i < nmembers; i++) {
        int rc = sf_spu_proto_share_alloc(&out[i], n, f->nwords);
        if (rc < 0) {
            for (int j = 0; j <= i; j++) sf_spu_proto_share_free(&out[j]);
            return rc;
        }
    }
    if (!n) return SF_OK;
    u64 *comp = malloc(n * (size_t)nmembers * sizeof(u64)); /* additive components */
    if (!comp) {
        for (int j = 0; j < nmembers; j++) sf_spu_proto_share_free(&out[j]);
        return SF_ENOMEM;
    }
    uint8_t key[32];
    if (seed) {
        static const char tag[] = "sfmpi-spu-make-shares";
        crypto_generichash(key, 32, (const uint8_t *)tag, sizeof tag - 1, seed, 32);
    }
    for (int i = 0; i + 1 < nmembers; i++) {
        u64 *c = comp + (size_t)i * n;
        if (seed) {
            uint8_t nb[8] = {(uint8_t)i};
            memset(c, 0, n * 8);
            crypto_stream_chacha20_xor_ic((uint8_t *)c, (uint8_t *)c, n * 8, nb, 0, key);
        } else {
            randombytes_buf(c, n * 8);
        }
    }
    u64 *last = comp + (size_t)(nmembers - 1) * n; /* one member (plain): the values */
    for (size_t e = 0; e < n; e++) {
        u64 v = plain[e];
        for (int i = 0; i + 1 < nmembers; i++) v -= comp[(size_t)i * n + e];
        last[e] = v;
    }
    for (int i = 0; i < nmembers; i++) f->layout(comp, n, nmembers, i, out[i].w);
    sodium_memzero(comp, n * (size_t)nmembers * sizeof(u64));
    free(comp);
    sodium_memzero(key, sizeof key);
    return SF_OK;
}

int sf_spu_proto_combine(const sf_spu_params *params, int nmembers, const sf_spu_share *shares,
                   uint64_t *plain)
{
    if (!params || !shares) return SF_EINVAL;
    const struct spu_family_ops *f = family(params->protocol);
    if (!f || nmembers < f->min_members) return SF_EINVAL;
    size_t n = shares[0].n;
    for (int i = 0; i < nmembers; i++)
        if (shares[i].n != n || shares[i].nwords != f->nwords || (n && !shares[i].w))
            return SF_EINVAL;
    if (n && !plain) return SF_EINVAL;
    return f->combine(shares, nmembers, n, plain);
}

/* ---------------------------------------------------------------- instance */

int sf_spu_proto_create(const sf_spu_params *params, sf_spu_net *net, sf_spu_proto **out)
{
    if (!params || !net || !out || !net->send || !net->recv) return SF_EINVAL;
    *out = NULL;
    int n = net->n, self = net->self;
    int fxp = params->fxp_bits ? params->fxp_bits : 18;
    if (fxp < 1 || fxp > 30) return SF_EINVAL;
    const struct spu_family_ops *f = family(params->protocol);
    if (!f || n < f->min_members || n > f->max_members) return SF_EINVAL;
    int dealer = -1;
    if (f->shape) SPU_TRY(f->shape(params, n, self, &dealer));
    else if (self < 0 || self >= n) return SF_EINVAL;
    if (params->prg != SF_SPU_PRG_CHACHA20 &&
        (params->prg != SF_SPU_PRG_AES128 || !sf_spu_proto_aes_available()))
        return SF_EINVAL; /* AES-128 streams need the CPU's AES instructions */
    if (sodium_init() < 0) return SF_ESYS;
    sf_spu_proto *p = calloc(1, sizeof *p);
    if (!p) return SF_ENOMEM;
    p->prm = *params;
    p->prm.fxp_bits = fxp;
    p->prm.dealer = dealer;
    p->ops = f;
    p->net = net;
    p->self = self;
    p->n = n;
    p->member = self < n;
    p->fxp = fxp;
    p->key = calloc((size_t)n + 1, sizeof *p->key);
    if (params->prg == SF_SPU_PRG_AES128) p->rk = calloc((size_t)n + 1, sizeof *p->rk);
    if (!p->key || (params->prg == SF_SPU_PRG_AES128 && !p->rk)) {
        free(p->key);
        free(p->rk);
        free(p);
        return SF_ENOMEM;
    }
    for (int j = 0; j <= n; j++) {
        uint8_t seed[32];
        sf__spu_default_pair_seed(params->seed, self, j, seed);
        sf__spup_set_key(p, j, seed);
        sodium_memzero(seed, sizeof seed);
    }
    f->init(p);
    *out = p;
    return SF_OK;
}

void sf_spu_proto_destroy(sf_spu_proto *p)
{
    if (!p) return;
    for (int i = 0; i < SCR_N; i++) free(p->scr[i]);
    if (p->key) sodium_memzero(p->key, ((size_t)p->n + 1) * sizeof *p->key);
    if (p->rk) sodium_memzero(p->rk, ((size_t)p->n + 1) * sizeof *p->rk);
    free(p->key);
    free(p->rk);
    free(p);
}

int sf__spu_set_pair_seed(sf_spu_proto *p, int peer, const uint8_t seed[32])
{
    if (!p || !seed || peer < 0 || peer > p->n) return SF_EINVAL;
    sf__spup_set_key(p, peer, seed);
    return SF_OK;
}

int sf_spu_proto_is_member(const sf_spu_proto *p) { return p->member; }
int sf_spu_proto_fxp_bits(const sf_spu_proto *p) { return p->fxp; }

void *sf__spup_scr(sf_spu_proto *p, int slot, size_t bytes)
{
    if (bytes < 64) bytes = 64;
    if (p->scr_cap[slot] < bytes) {
        free(p->scr[slot]);
        p->scr[slot] = NULL;
        p->scr_cap[slot] = 0;
        void *b = NULL;
        if (posix_memalign(&b, 64, bytes)) return NULL;
        p->scr[slot] = b;
        p->scr_cap[slot] = bytes;
    }
    return p->scr[slot];
}

/* ---------------------------------------------------------------- network */

int sf__spup_send(sf_spu_proto *p, int to, const void *buf, size_t len)
{
    return p->net->send(p->net->ctx, to, buf, len);
}

int sf__spup_recv(sf_spu_proto *p, int from, void *buf, size_t len)
{
    return p->net->recv(p->net->ctx, from, buf, len);
}

int sf__spup_recv_in(sf_spu_proto *p, int from, void *buf, size_t len, const void **data,
                     void **hold)
{
    *hold = NULL;
    if (p->net->recv_view) return p->net->recv_view(p->net->ctx, from, len, data, hold);
    *data = buf;
    return p->net->recv(p->net->ctx, from, buf, len);
}

void sf__spup_release(sf_spu_proto *p, void **hold)
{
    if (*hold) p->net->release(p->net->ctx, *hold);
    *hold = NULL;
}

void *sf__spup_send_buf(sf_spu_proto *p, size_t len, void *fallback, void **hold)
{
    *hold = NULL;
    if (p->net->send_alloc) {
        void *b = p->net->send_alloc(p->net->ctx, len, hold);
        if (b) return b;
        *hold = NULL; /* no memory there: the copying path still works */
    }
    return fallback;
}

int sf__spup_send_held(sf_spu_proto *p, int to, const void *buf, void *hold, size_t len)
{
    return hold ? p->net->send_held(p->net->ctx, to, hold, len) : sf__spup_send(p, to, buf, len);
}

int sf__spup_grp_open(sf_spu_proto *p, const spu_grp *g, const u64 *mine, u64 *res, size_t cnt,
                     int xor, u64 *tmp)
{
    for (int j = 0; j < g->m; j++)
        if (j != g->me) SPU_TRY(sf__spup_send(p, g->mem[j], mine, cnt * 8));
    int first = 1;
    for (int j = 0; j < g->m; j++) {
        if (j == g->me) continue;
        u64 *dst = first ? res : tmp;
        SPU_TRY(sf__spup_recv(p, g->mem[j], dst, cnt * 8));
        if (!first) {
            if (xor)
                for (size_t i = 0; i < cnt; i++) res[i] ^= tmp[i];
            else
                for (size_t i = 0; i < cnt; i++) res[i] += tmp[i];
        }
        first = 0;
    }
    if (xor)
        for (size_t i = 0; i < cnt; i++) res[i] ^= mine[i];
    else
        for (size_t i = 0; i < cnt; i++) res[i] += mine[i];
    return SF_OK;
}

/* ---------------------------------------------------------------- dispatch */

static int chk(const sf_spu_proto *p, const sf_spu_share *a)
{
    if (!p || !a) return SF_EINVAL;
    if (a->nwords != p->ops->nwords) return SF_EINVAL;
    if (p->member && a->n && !a->w) return SF_EINVAL;
    return SF_OK;
}

static int chk2(const sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b)
{
    SPU_TRY(chk(p, a));
    SPU_TRY(chk(p, b));
    return a->n == b->n ? SF_OK : SF_EINVAL;
}

int sf_spu_proto_share_from(sf_spu_proto *p, int owner, const uint64_t *plain, size_t n,
                      sf_spu_share *out)
{
    if (!p || !out || owner < 0 || owner >= p->n) return SF_EINVAL;
    if (p->self == owner && n && !plain) return SF_EINVAL;
    return p->ops->share_from(p, owner, plain, n, out);
}

int sf_spu_proto_reveal_to(sf_spu_proto *p, int to, const sf_spu_share *x, uint64_t *plain)
{
    SPU_TRY(chk(p, x));
    if (to < -1 || to >= p->n) return SF_EINVAL;
    if (p->member && (to == -1 || to == p->self) && x->n && !plain) return SF_EINVAL;
    return p->ops->reveal(p, to, x, plain);
}

static int lin(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out,
               int op)
{
    SPU_TRY(b ? chk2(p, a, b) : chk(p, a));
    if (!out) return SF_EINVAL;
    size_t n = a->n, nw = (size_t)a->nwords;
    SPU_TRY(sf__spup_out(p, out, n));
    if (!p->member) return SF_OK;
    u64 *o = out->w;
    const u64 *x = a->w, *y = b ? b->w : NULL;
    size_t t = n * nw;
    switch (op) {
    case 0: for (size_t i = 0; i < t; i++) o[i] = x[i] + y[i]; break;
    case 1: for (size_t i = 0; i < t; i++) o[i] = x[i] - y[i]; break;
    default: for (size_t i = 0; i < t; i++) o[i] = (u64)0 - x[i]; break;
    }
    return SF_OK;
}

int sf_spu_proto_add(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out)
{
    return b ? lin(p, a, b, out, 0) : SF_EINVAL;
}
int sf_spu_proto_sub(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out)
{
    return b ? lin(p, a, b, out, 1) : SF_EINVAL;
}
int sf_spu_proto_neg(sf_spu_proto *p, const sf_spu_share *a, sf_spu_share *out)
{
    return lin(p, a, NULL, out, 2);
}

/* The public constant goes into one additive component (the family's add_public). */
int sf_spu_proto_add_public(sf_spu_proto *p, const sf_spu_share *a, const uint64_t *c, size_t cn,
                      sf_spu_share *out)
{
    SPU_TRY(chk(p, a));
    if (!out || !c || (cn != 1 && cn != a->n)) return SF_EINVAL;
    size_t n = a->n;
    SPU_TRY(sf__spup_out(p, out, n));
    if (!p->member) return SF_OK;
    const u64 *x = a->w;
    u64 *o = out->w;
    p->ops->add_public(p, x, c, cn == 1 ? 0 : 1, n, o);
    return SF_OK;
}

int sf_spu_proto_mul_public(sf_spu_proto *p, const sf_spu_share *a, const uint64_t *c, size_t cn,
                      sf_spu_share *out)
{
    SPU_TRY(chk(p, a));
    if (!out || !c || (cn != 1 && cn != a->n)) return SF_EINVAL;
    size_t n = a->n, nw = (size_t)a->nwords;
    SPU_TRY(sf__spup_out(p, out, n));
    if (!p->member) return SF_OK;
    const u64 *x = a->w;
    u64 *o = out->w;
    size_t inc = cn == 1 ? 0 : 1;
    for (size_t e = 0; e < n; e++)
        for (size_t w = 0; w < nw; w++) o[e * nw + w] = x[e * nw + w] * c[e * inc];
    return SF_OK;
}

int sf_spu_proto_sum(sf_spu_proto *p, const sf_spu_share *a, sf_spu_share *out)
{
    SPU_TRY(chk(p, a));
    if (!out) return SF_EINVAL;
    size_t n = a->n, nw = (size_t)a->nwords;
    u64 s[2] = {0, 0};
    if (p->member)
        for (size_t e = 0; e < n; e++)
            for (size_t w = 0; w < nw; w++) s[w] += a->w[e * nw + w];
    SPU_TRY(sf__spup_out(p, out, 1));
    if (p->member)
        for (size_t w = 0; w < nw; w++) out->w[w] = s[w];
    return SF_OK;
}

int sf_spu_proto_mul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out)
{
    SPU_TRY(chk2(p, a, b));
    if (!out) return SF_EINVAL;
    return p->ops->mul(p, a, b, out, 0);
}

int sf_spu_proto_mul_fxp(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                   sf_spu_share *out)
{
    SPU_TRY(chk2(p, a, b));
    if (!out) return SF_EINVAL;
    return p->ops->mul(p, a, b, out, 1);
}

int sf_spu_proto_trunc(sf_spu_proto *p, const sf_spu_share *x, int bits, sf_spu_share *out)
{
    SPU_TRY(chk(p, x));
    if (!out || bits < 1 || bits > 62) return SF_EINVAL;
    return p->ops->trunc(p, x, bits, out);
}

static int mm(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m, size_t k,
              size_t n, sf_spu_share *out, int fxp)
{
    SPU_TRY(chk(p, a));
    SPU_TRY(chk(p, b));
    if (!out || (k && m > SIZE_MAX / k) || (n && k > SIZE_MAX / n) || (n && m > SIZE_MAX / n))
        return SF_EINVAL;
    if (a->n != m * k || b->n != k * n) return SF_EINVAL;
    return p->ops->matmul(p, a, b, m, k, n, out, fxp);
}

int sf_spu_proto_matmul(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                  size_t k, size_t n, sf_spu_share *out)
{
    return mm(p, a, b, m, k, n, out, 0);
}

int sf_spu_proto_matmul_fxp(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, size_t m,
                      size_t k, size_t n, sf_spu_share *out)
{
    return mm(p, a, b, m, k, n, out, 1);
}

static int cmp(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out, int kind)
{
    return p->ops->cmp(p, x, out, kind);
}

int sf_spu_proto_msb(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out)
{
    SPU_TRY(chk(p, x));
    if (!out) return SF_EINVAL;
    return cmp(p, x, out, 0);
}

static int cmp2(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out,
                int kind)
{
    SPU_TRY(chk2(p, a, b));
    if (!out) return SF_EINVAL;
    sf_spu_share d = {0};
    int rc = sf_spu_proto_sub(p, a, b, &d);
    if (rc == 0) rc = cmp(p, &d, out, kind);
    sf_spu_proto_share_free(&d);
    return rc;
}

int sf_spu_proto_less(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out)
{
    return cmp2(p, a, b, out, 0);
}

int sf_spu_proto_greater(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b,
                   sf_spu_share *out)
{
    return cmp2(p, b, a, out, 0);
}

int sf_spu_proto_equal(sf_spu_proto *p, const sf_spu_share *a, const sf_spu_share *b, sf_spu_share *out)
{
    return cmp2(p, a, b, out, 1);
}

int sf_spu_proto_select(sf_spu_proto *p, const sf_spu_share *cond, const sf_spu_share *a,
                  const sf_spu_share *b, sf_spu_share *out)
{
    SPU_TRY(chk2(p, a, b));
    SPU_TRY(chk2(p, cond, a));
    if (!out) return SF_EINVAL;
    sf_spu_share d = {0};
    int rc = sf_spu_proto_sub(p, a, b, &d);
    if (rc == 0) rc = sf_spu_proto_mul(p, cond, &d, &d);
    if (rc == 0) rc = sf_spu_proto_add(p, b, &d, out);
    sf_spu_proto_share_free(&d);
    return rc;
}

int sf_spu_proto_relu(sf_spu_proto *p, const sf_spu_share *x, sf_spu_share *out)
{
    SPU_TRY(chk(p, x));
    if (!out) return SF_EINVAL;
    sf_spu_share c = {0};
    /* x > 0  <=>  msb(-x) for x in the fixed-point range */
    int rc = sf_spu_proto_neg(p, x, &c);
    if (rc == 0) rc = cmp(p, &c, &c, 0);
    if (rc == 0) rc = sf_spu_proto_mul(p, &c, x, out);
    sf_spu_proto_share_free(&c);
    return rc;
}
