/*
 * The operations an SPU kernel calls (sf_spu_* of sf.h): handles to the kernel's values
 * (slots), NumPy broadcasting, public operands, shapes, and the numerics of the protocol
 * core (devices/spu/core/spu_math.c).
 *
 * A slot is secret (this participant's share) or public (an inline argument, or what
 * public operands alone produced: every participant holds its ring values, and a trivial
 * sharing of them so that it can stand wherever a secret can). An operation between a
 * public and a secret operand is local where the arithmetic allows; between two public
 * operands it is computed in the clear on every participant (the plaintext simulation's
 * arithmetic: truncation = floor). On the extra dealer of semi2k shares carry only their
 * element counts, and every operation still runs (it serves the randomness).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/spu/spu_dev.h"

static spu_kctx *kctx(sf_spu_task *t) { return sf__task_kernel(t); }

static int new_slot(spu_kctx *k) {
    if (k->nslots == k->cap) {
        int cap = k->cap ? k->cap * 2 : 16;
        spu_slot *s = realloc(k->slots, sizeof *s * (size_t)cap);
        if (!s) return -1;
        k->slots = s;
        k->cap = cap;
    }
    memset(&k->slots[k->nslots], 0, sizeof k->slots[0]);
    return k->nslots++;
}

/* A value of the kernel, private ones (SF_PRIVATE) included. */
static spu_slot *get_any(sf_spu_task *t, sf_spu_val v, const char *op) {
    spu_kctx *k = kctx(t);
    if (!k) {
        sf_fail(t, "%s: not inside an SPU kernel", op);
        return NULL;
    }
    if (v.id < 0 || v.id >= k->nslots) {
        if (v.id != -1) sf_fail(t, "%s: invalid SPU value handle %d", op, v.id);
        return NULL;
    }
    if (k->slots[v.id].dead) {
        sf_fail(t, "%s: the value (handle %d) was released by sf_spu_release", op, v.id);
        return NULL;
    }
    return &k->slots[v.id];
}

/* A secret or public value: a private one is refused with the operations that take it. */
static spu_slot *get(sf_spu_task *t, sf_spu_val v, const char *op) {
    spu_slot *s = get_any(t, v, op);
    if (s && s->priv) {
        sf_fail(t, "%s: the operand is private to its owner (SF_PRIVATE): only sf_spu_slice of its "
                   "rows, sf_spu_transpose and sf_spu_matmul (private operand first) take it", op);
        return NULL;
    }
    return s;
}

static sf_spu_val bad(sf_spu_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sf_spu_val bad(sf_spu_task *t, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sf_fail(t, "%s", msg);
    return (sf_spu_val){-1};
}

sf_spu_val sf_spu_arg(sf_spu_task *t, int i) {
    spu_kctx *k = kctx(t);
    if (!k) return bad(t, "sf_spu_arg: not inside an SPU kernel");
    if (i < 0 || i >= k->nargs)
        return bad(t, "sf_spu_arg(%d): the call passed %d argument%s", i, k->nargs, k->nargs == 1 ? "" : "s");
    return (sf_spu_val){i};
}

int sf_spu_return_n(sf_spu_task *t, int i, sf_spu_val v) {
    spu_kctx *k = kctx(t);
    if (!k) return sf_fail(t, "sf_spu_return: not inside an SPU kernel");
    if (i < 0 || i >= k->nret) return sf_fail(t, "sf_spu_return(%d): the call expects %d result%s", i, k->nret, k->nret == 1 ? "" : "s");
    spu_slot *sl = get_any(t, v, "sf_spu_return");
    if (!sl) return sf_fail(t, "sf_spu_return(%d): no value (an earlier operation failed)", i);
    if (sl->priv) return sf_fail(t, "sf_spu_return(%d): a private operand (SF_PRIVATE) stays with its owner; "
                                    "return a product of it", i);
    k->ret[i] = v.id;
    return SF_OK;
}

int sf_spu_return(sf_spu_task *t, sf_spu_val v) { return sf_spu_return_n(t, 0, v); }

const sf_value *sf_spu_public(sf_spu_task *t, int i) {
    spu_kctx *k = kctx(t);
    if (!k) {
        sf_fail(t, "sf_spu_public: not inside an SPU kernel");
        return NULL;
    }
    if (i < 0 || i >= k->nargs) {
        sf_fail(t, "sf_spu_public(%d): the call passed %d argument%s", i, k->nargs, k->nargs == 1 ? "" : "s");
        return NULL;
    }
    if (!k->slots[i].pubv) {
        sf_fail(t, "sf_spu_public(%d): argument %d is an object, secret inside the SPU; pass an "
                   "inline value (SF_F64, SF_I64, SF_VAL) for a public one", i, i);
        return NULL;
    }
    return k->slots[i].pubv;
}

double sf_spu_public_f64(sf_spu_task *t, int i) {
    const sf_value *v = sf_spu_public(t, i);
    if (!v) return NAN;
    if (sf_value_nelems(v) != 1) {
        sf_fail(t, "sf_spu_public_f64(%d): argument %d has %zu elements, not one", i, i, sf_value_nelems(v));
        return NAN;
    }
    return sf_value_as_f64(v, 0);
}

void sf_spu_release(sf_spu_task *t, sf_spu_val v) {
    spu_kctx *k = kctx(t);
    if (!k || v.id < k->nargs || v.id >= k->nslots) return; /* arguments stay (they are borrowed) */
    for (int i = 0; i < k->nret; i++)
        if (k->ret[i] == v.id) {
            sf_fail(t, "sf_spu_release: value %d is result %d of the kernel (sf_spu_return); it cannot be "
                       "released", v.id, i);
            return;
        }
    sf__spu_slot_free(&k->slots[v.id]);
    spu_slot *s = &k->slots[v.id];
    s->priv = 0;
    s->dead = 1;
}

int sf_spu_is_public(sf_spu_task *t, sf_spu_val v) {
    spu_kctx *k = kctx(t);
    return k && v.id >= 0 && v.id < k->nslots && k->slots[v.id].pub;
}

int sf_spu_shape(sf_spu_task *t, sf_spu_val v, int64_t *shape) {
    spu_kctx *k = kctx(t);
    if (!k || v.id < 0 || v.id >= k->nslots) return -1;
    const spu_slot *s = &k->slots[v.id];
    if (shape) memcpy(shape, s->shape, sizeof(int64_t) * (size_t)s->ndim);
    return s->ndim;
}

/* ------------------------------------------------------------------ helpers */

static const char *shape_str(int nd, const int64_t *sh, char *buf, size_t cap) {
    if (nd == 0) return "a scalar";
    size_t o = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < nd && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? " x " : "", (long long)sh[i]);
    if (o < cap) snprintf(buf + o, cap - o, ")");
    return buf;
}
#define SHAPE(s, buf) shape_str((s)->ndim, (s)->shape, buf, sizeof buf)

/* Elements of a shape; SIZE_MAX if a dimension is negative or the product exceeds 2^40
 * (checked wherever a shape comes from the program: constant, reshape). */
static size_t count(int nd, const int64_t *sh) {
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (sh[i] < 0 || __builtin_mul_overflow(n, (size_t)sh[i], &n) || n > ((size_t)1 << 40)) return SIZE_MAX;
    }
    return n;
}

/* The result slot: rc checked, kind and shape set. */
static sf_spu_val emit(sf_spu_task *t, int rc, const char *op, int slot, int nd, const int64_t *sh, int fxp) {
    spu_kctx *k = kctx(t);
    if (k->d->prog) sf__spu_kernel_progress(k->d, 1);
    if (rc) return bad(t, "%s failed: %s", op, sf_strerror(rc));
    spu_slot *o = &k->slots[slot];
    o->fxp = fxp;
    o->ndim = nd;
    if (nd) memmove(o->shape, sh, sizeof(int64_t) * (size_t)nd);
    return (sf_spu_val){slot};
}

/* Make slot `s` public with the ring values `ring` (owned from here on; n of them). */
static int make_public(spu_kctx *k, int s, uint64_t *ring, size_t n) {
    spu_slot *o = &k->slots[s];
    sf_spu_share z = {0};
    int rc = sf_spu_proto_share_alloc(&z, n, k->d->nwords);
    if (!rc) rc = sf_spu_proto_add_public(k->d->proto, &z, ring, n ? n : 1, &o->s);
    sf_spu_proto_share_free(&z);
    o->pub = ring;
    return rc;
}

static int fbits(const spu_kctx *k) { return k->d->params.fxp_bits; }

/* Broadcast shape of a and b (NumPy rules); 0 or -1. */
static int bshape(const spu_slot *a, const spu_slot *b, int *nd, int64_t *sh) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da == db || db == 1) sh[i] = da;
        else if (da == 1) sh[i] = db;
        else return -1;
    }
    *nd = n;
    return 0;
}

/* For each element of the broadcast shape (nd, sh), its element in a. NULL if a has
 * that shape already (*same set) or on allocation failure (*same clear). */
static size_t *bindex(const spu_slot *a, int nd, const int64_t *sh, int *same) {
    size_t n = count(nd, sh);
    *same = a->s.n == n;
    if (*same) return NULL;
    size_t *idx = malloc(sizeof *idx * (n ? n : 1));
    if (!idx) return NULL;
    size_t astride[SF_MAX_DIMS];
    size_t st = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = a->ndim - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1;
        astride[i] = da == 1 ? 0 : st;
        st *= (size_t)da;
    }
    for (size_t e = 0; e < n; e++) {
        size_t r = e, off = 0;
        for (int i = nd - 1; i >= 0; i--) {
            size_t c = r % (size_t)sh[i];
            r /= (size_t)sh[i];
            off += c * astride[i];
        }
        idx[e] = off;
    }
    return idx;
}

/* Operand a at the broadcast shape (and as fixed point if `tofxp` and it is an integer):
 * *x points at a's share or at tmp. Public values too, into *ring (malloc'd) if asked. */
static int operand(spu_kctx *k, const spu_slot *a, int tofxp, int nd, const int64_t *sh,
                   sf_spu_share *tmp, const sf_spu_share **x, uint64_t **ring) {
    int same;
    size_t n = count(nd, sh);
    size_t *idx = bindex(a, nd, sh, &same);
    if (!same && !idx) return SF_ENOMEM;
    int conv = tofxp && !a->fxp, rc = 0;
    const int f = fbits(k);
    if (ring) {
        *ring = malloc(sizeof **ring * (n ? n : 1));
        if (!*ring) rc = SF_ENOMEM;
        for (size_t e = 0; !rc && e < n; e++) {
            uint64_t v = a->pub[same ? e : idx[e]];
            (*ring)[e] = conv ? sf_spu_proto_fxp_encode_int((int64_t)v, f) : v;
        }
    }
    if (x) {
        *x = &a->s;
        if (!rc && !same) {
            rc = sf_spu_proto_gather(k->d->proto, &a->s, idx, n, tmp);
            *x = tmp;
        }
        if (!rc && conv) {
            uint64_t c = (uint64_t)1 << f;
            rc = sf_spu_proto_mul_public(k->d->proto, *x, &c, 1, tmp);
            *x = tmp;
        }
    }
    free(idx);
    return rc;
}

static inline uint64_t sar(uint64_t x, int b) { return (uint64_t)((int64_t)x >> b); }

sf_spu_val sf_spu_constant(sf_spu_task *t, double c, int integer, int nd, const int64_t *shape) {
    spu_kctx *k = kctx(t);
    if (!k) return bad(t, "sf_spu_constant: not inside an SPU kernel");
    if (nd < 0 || nd > SF_MAX_DIMS || (nd && !shape)) return bad(t, "sf_spu_constant: %d dimensions", nd);
    for (int i = 0; i < nd; i++)
        if (shape[i] < 0 || shape[i] > ((int64_t)1 << 40)) return bad(t, "sf_spu_constant: dimension %d is %lld", i, (long long)shape[i]);
    size_t n = count(nd, shape);
    if (n == SIZE_MAX) return bad(t, "sf_spu_constant: the shape has more than 2^40 elements");
    if (integer && c != (double)(int64_t)c) return bad(t, "sf_spu_constant: %g is not an integer", c);
    int s = new_slot(k);
    uint64_t *r = s < 0 ? NULL : malloc(sizeof *r * (n ? n : 1));
    if (!r) return emit(t, SF_ENOMEM, "sf_spu_constant", 0, 0, NULL, 0);
    uint64_t v = integer ? (uint64_t)(int64_t)c : sf_spu_proto_fxp_encode(c, fbits(k));
    for (size_t e = 0; e < n; e++) r[e] = v;
    return emit(t, make_public(k, s, r, n), "sf_spu_constant", s, nd, shape, !integer);
}

/* ------------------------------------------------------------------ binary operations */

enum { OP_ADD, OP_SUB, OP_MUL, OP_LT, OP_GT, OP_EQ, OP_DIV };

static sf_spu_val binary(sf_spu_task *t, sf_spu_val va, sf_spu_val vb, int op, const char *name) {
    spu_kctx *k = kctx(t);
    spu_slot *a = get(t, va, name), *b = get(t, vb, name);
    if (!a || !b) return (sf_spu_val){-1};
    int nd;
    int64_t sh[SF_MAX_DIMS];
    char b1[96], b2[96];
    if (bshape(a, b, &nd, sh))
        return bad(t, "%s: shapes %s and %s do not broadcast (equal, a scalar, a row or a column "
                   "against a matrix)", name, SHAPE(a, b1), SHAPE(b, b2));
    size_t n = count(nd, sh);
    int fa = a->fxp, fb = b->fxp, f = fbits(k);
    /* mixed kinds: the integer operand becomes fixed point, except in a product (exact) */
    int tofxp = op == OP_DIV || (op != OP_MUL && fa != fb);
    int outfxp = op == OP_DIV ? 1 : (op == OP_LT || op == OP_GT || op == OP_EQ) ? 0 : (fa || fb);
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, name, 0, 0, NULL, 0);
    a = &k->slots[va.id], b = &k->slots[vb.id];
    sf_spu_proto *p = k->d->proto;
    sf_spu_share *out = &k->slots[s].s, ta = {0}, tb = {0};
    const sf_spu_share *xa = NULL, *xb = NULL;
    uint64_t *ra = NULL, *rb = NULL;
    int rc = 0;
    if (a->pub && b->pub) { /* in the clear, on every participant */
        rc = operand(k, a, tofxp, nd, sh, NULL, NULL, &ra);
        if (!rc) rc = operand(k, b, tofxp, nd, sh, NULL, NULL, &rb);
        for (size_t e = 0; !rc && e < n; e++) {
            uint64_t x = ra[e], y = rb[e], r = 0;
            switch (op) {
            case OP_ADD: r = x + y; break;
            case OP_SUB: r = x - y; break;
            case OP_MUL: r = fa && fb ? sar(x * y, f) : x * y; break;
            case OP_LT: r = (int64_t)x < (int64_t)y; break;
            case OP_GT: r = (int64_t)x > (int64_t)y; break;
            case OP_EQ: r = x == y; break;
            default:
                if (!y) rc = SF_EINVAL;
                else r = sf_spu_proto_fxp_encode(sf_spu_proto_fxp_decode(x, f) / sf_spu_proto_fxp_decode(y, f), f);
            }
            ra[e] = r;
        }
        if (!rc) rc = make_public(k, s, ra, n), ra = NULL;
    } else if ((a->pub || b->pub) && (op == OP_ADD || op == OP_SUB || op == OP_MUL)) {
        /* public and secret: local (a fixed-point product: one truncation) */
        const spu_slot *sec = a->pub ? b : a, *pb = a->pub ? a : b;
        rc = operand(k, sec, tofxp, nd, sh, &ta, &xa, NULL);
        if (!rc) rc = operand(k, pb, tofxp, nd, sh, NULL, NULL, &rb);
        if (!rc && op == OP_SUB && b->pub)
            for (size_t e = 0; e < n; e++) rb[e] = (uint64_t)0 - rb[e];
        if (rc) {
        } else if (op == OP_MUL) {
            rc = sf_spu_proto_mul_public(p, xa, rb, n ? n : 1, out);
            if (!rc && fa && fb) rc = sf_spu_proto_trunc(p, out, f, out);
        } else if (op == OP_SUB && a->pub) {
            rc = sf_spu_proto_neg(p, xa, out);
            if (!rc) rc = sf_spu_proto_add_public(p, out, rb, n ? n : 1, out);
        } else {
            rc = sf_spu_proto_add_public(p, xa, rb, n ? n : 1, out);
        }
    } else if (op == OP_DIV && b->pub && b->s.n == 1) { /* by a public scalar */
        double c = b->fxp ? sf_spu_proto_fxp_decode(b->pub[0], f) : (double)(int64_t)b->pub[0];
        if (c == 0) {
            free(ra);
            return bad(t, "%s: division by a public zero", name);
        }
        rc = operand(k, a, 1, nd, sh, &ta, &xa, NULL);
        if (!rc) rc = sf_spu_proto_div_public(p, xa, c, out);
    } else {
        rc = operand(k, a, tofxp, nd, sh, &ta, &xa, NULL);
        if (!rc) rc = operand(k, b, tofxp, nd, sh, &tb, &xb, NULL);
        if (!rc) switch (op) {
            case OP_ADD: rc = sf_spu_proto_add(p, xa, xb, out); break;
            case OP_SUB: rc = sf_spu_proto_sub(p, xa, xb, out); break;
            case OP_MUL: rc = fa && fb ? sf_spu_proto_mul_fxp(p, xa, xb, out) : sf_spu_proto_mul(p, xa, xb, out); break;
            case OP_LT: rc = sf_spu_proto_less(p, xa, xb, out); break;
            case OP_GT: rc = sf_spu_proto_greater(p, xa, xb, out); break;
            case OP_EQ: rc = sf_spu_proto_equal(p, xa, xb, out); break;
            default: rc = sf_spu_proto_div(p, xa, xb, out); break;
            }
    }
    sf_spu_proto_share_free(&ta);
    sf_spu_proto_share_free(&tb);
    free(ra);
    free(rb);
    if (rc == SF_EINVAL && op == OP_DIV && a->pub && b->pub) return bad(t, "%s: division by a public zero", name);
    return emit(t, rc, name, s, nd, sh, outfxp);
}

sf_spu_val sf_spu_add(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_ADD, "sf_spu_add"); }
sf_spu_val sf_spu_sub(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_SUB, "sf_spu_sub"); }
sf_spu_val sf_spu_mul(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_MUL, "sf_spu_mul"); }
sf_spu_val sf_spu_less(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_LT, "sf_spu_less"); }
sf_spu_val sf_spu_greater(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_GT, "sf_spu_greater"); }
sf_spu_val sf_spu_equal(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_EQ, "sf_spu_equal"); }
sf_spu_val sf_spu_div(sf_spu_task *t, sf_spu_val a, sf_spu_val b) { return binary(t, a, b, OP_DIV, "sf_spu_div"); }

/* ------------------------------------------------------------------ unary operations */

enum { U_NEG, U_RELU, U_SUM, U_EXP, U_RECIP, U_SIG, U_DIVP };

/* One operand. Numerics (exp .. divp) take fixed point (integers are converted) and give
 * it; a public operand gives a public result computed in the clear. */
static sf_spu_val unary(sf_spu_task *t, sf_spu_val va, int op, int kind, double c, const char *name) {
    spu_kctx *k = kctx(t);
    spu_slot *a = get(t, va, name);
    if (!a) return (sf_spu_val){-1};
    if (op == U_DIVP && (!(c != 0) || !isfinite(c))) return bad(t, "%s: cannot divide by %g", name, c);
    if (op == U_SIG && (kind < SF_SIGMOID_LINEAR || kind > SF_SIGMOID_EXP))
        return bad(t, "%s: unknown sigmoid approximation %d (SF_SIGMOID_LINEAR .. SF_SIGMOID_EXP)", name, kind);
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, name, 0, 0, NULL, 0);
    a = &k->slots[va.id];
    int num = op >= U_EXP, f = fbits(k), nd = op == U_SUM ? 0 : a->ndim, rc = 0;
    int64_t sh[SF_MAX_DIMS];
    memcpy(sh, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    int outfxp = num ? 1 : a->fxp;
    size_t n = a->s.n;
    sf_spu_proto *p = k->d->proto;
    sf_spu_share tmp = {0}, *out = &k->slots[s].s;
    const sf_spu_share *x = NULL;
    if (a->pub) {
        uint64_t *r = NULL;
        rc = operand(k, a, num, a->ndim, a->shape, NULL, NULL, &r);
        size_t m = op == U_SUM ? 1 : n;
        uint64_t acc = 0;
        for (size_t e = 0; !rc && e < n; e++) {
            double v = sf_spu_proto_fxp_decode(r[e], f);
            switch (op) {
            case U_NEG: r[e] = (uint64_t)0 - r[e]; break;
            case U_RELU: r[e] = (int64_t)r[e] > 0 ? r[e] : 0; break;
            case U_SUM: acc += r[e]; break;
            case U_EXP: r[e] = sf_spu_proto_fxp_encode(exp(v), f); break;
            case U_RECIP: r[e] = sf_spu_proto_fxp_encode(1 / v, f); break;
            case U_SIG: r[e] = sf_spu_proto_fxp_encode(sf_sigmoid_approx((sf_spu_sigmoid_kind)kind, v), f); break;
            default: r[e] = sf_spu_proto_fxp_encode(v / c, f); break;
            }
        }
        if (!rc && op == U_SUM) r[0] = acc;
        if (!rc) rc = make_public(k, s, r, m);
        else free(r);
        return emit(t, rc, name, s, nd, sh, outfxp);
    }
    rc = operand(k, a, num, a->ndim, a->shape, &tmp, &x, NULL);
    if (!rc) switch (op) {
        case U_NEG: rc = sf_spu_proto_neg(p, x, out); break;
        case U_RELU: rc = sf_spu_proto_relu(p, x, out); break;
        case U_SUM: rc = sf_spu_proto_sum(p, x, out); break;
        case U_EXP: rc = sf_spu_proto_exp(p, x, out); break;
        case U_RECIP: rc = sf_spu_proto_reciprocal(p, x, out); break;
        case U_SIG: rc = sf_spu_proto_sigmoid(p, x, kind, out); break;
        default: rc = sf_spu_proto_div_public(p, x, c, out); break;
        }
    sf_spu_proto_share_free(&tmp);
    return emit(t, rc, name, s, nd, sh, outfxp);
}

sf_spu_val sf_spu_neg(sf_spu_task *t, sf_spu_val a) { return unary(t, a, U_NEG, 0, 0, "sf_spu_neg"); }
sf_spu_val sf_spu_relu(sf_spu_task *t, sf_spu_val a) { return unary(t, a, U_RELU, 0, 0, "sf_spu_relu"); }
sf_spu_val sf_spu_sum(sf_spu_task *t, sf_spu_val a) { return unary(t, a, U_SUM, 0, 0, "sf_spu_sum"); }
sf_spu_val sf_spu_exp(sf_spu_task *t, sf_spu_val a) { return unary(t, a, U_EXP, 0, 0, "sf_spu_exp"); }
sf_spu_val sf_spu_reciprocal(sf_spu_task *t, sf_spu_val a) { return unary(t, a, U_RECIP, 0, 0, "sf_spu_reciprocal"); }
sf_spu_val sf_spu_sigmoid(sf_spu_task *t, sf_spu_val a, sf_spu_sigmoid_kind kind) {
    return unary(t, a, U_SIG, (int)kind, 0, "sf_spu_sigmoid");
}
sf_spu_val sf_spu_div_public(sf_spu_task *t, sf_spu_val a, double c) { return unary(t, a, U_DIVP, 0, c, "sf_spu_div_public"); }

double sf_sigmoid_approx(sf_spu_sigmoid_kind kind, double x) { return sf_spu_proto_sigmoid_ref((int)kind, x); }

static sf_spu_val public_op(sf_spu_task *t, sf_spu_val va, double c, int mul, const char *op) {
    spu_kctx *k = kctx(t);
    spu_slot *a = get(t, va, op);
    if (!a) return (sf_spu_val){-1};
    if (!a->fxp && c != (double)(int64_t)c)
        return bad(t, "%s: %g is not an integer but the operand is an integer array", op, c);
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, op, 0, 0, NULL, 0);
    a = &k->slots[va.id];
    int f = fbits(k), rc;
    uint64_t cc = a->fxp ? sf_spu_proto_fxp_encode(c, f) : (uint64_t)(int64_t)c;
    if (a->pub) {
        uint64_t *r = malloc(sizeof *r * (a->s.n ? a->s.n : 1));
        if (!r) return emit(t, SF_ENOMEM, op, s, 0, NULL, 0);
        for (size_t e = 0; e < a->s.n; e++)
            r[e] = !mul ? a->pub[e] + cc : a->fxp ? sar(a->pub[e] * cc, f) : a->pub[e] * cc;
        rc = make_public(k, s, r, a->s.n);
    } else if (!mul) {
        rc = sf_spu_proto_add_public(k->d->proto, &a->s, &cc, 1, &k->slots[s].s);
    } else {
        rc = sf_spu_proto_mul_public(k->d->proto, &a->s, &cc, 1, &k->slots[s].s);
        if (!rc && a->fxp) rc = sf_spu_proto_trunc(k->d->proto, &k->slots[s].s, f, &k->slots[s].s);
    }
    a = &k->slots[va.id];
    return emit(t, rc, op, s, a->ndim, a->shape, a->fxp);
}

sf_spu_val sf_spu_add_public(sf_spu_task *t, sf_spu_val a, double c) { return public_op(t, a, c, 0, "sf_spu_add_public"); }
sf_spu_val sf_spu_mul_public(sf_spu_task *t, sf_spu_val a, double c) { return public_op(t, a, c, 1, "sf_spu_mul_public"); }

sf_spu_val sf_spu_select(sf_spu_task *t, sf_spu_val vc, sf_spu_val va, sf_spu_val vb) {
    spu_kctx *k = kctx(t);
    spu_slot *c = get(t, vc, "sf_spu_select"), *a = get(t, va, "sf_spu_select"), *b = get(t, vb, "sf_spu_select");
    if (!c || !a || !b) return (sf_spu_val){-1};
    char b1[96], b2[96], b3[96];
    if (c->ndim != a->ndim || a->ndim != b->ndim || c->s.n != a->s.n || a->s.n != b->s.n ||
        memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) ||
        memcmp(a->shape, c->shape, sizeof(int64_t) * (size_t)a->ndim) || c->fxp || a->fxp != b->fxp)
        return bad(t, "sf_spu_select: the condition (integer 0/1) and both branches need one shape, and "
                      "the branches one kind (condition %s%s, branches %s and %s)", SHAPE(c, b1),
                   c->fxp ? " fixed point" : "", SHAPE(a, b2), SHAPE(b, b3));
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, "sf_spu_select", 0, 0, NULL, 0);
    c = &k->slots[vc.id], a = &k->slots[va.id], b = &k->slots[vb.id];
    int rc = sf_spu_proto_select(k->d->proto, &c->s, &a->s, &b->s, &k->slots[s].s);
    return emit(t, rc, "sf_spu_select", s, a->ndim, a->shape, a->fxp);
}

/* what --sf-spu=plain reports where a 32-bit ring's product leaves its range */
#define RANGE32                                                                                  \
    "a result (or a block's sum) of a product with an SF_PRIVATE32 operand is beyond the 32-bit " \
    "ring's range, +-2^(30 - fxp_bits); the protocols would return a wrong value (the plaintext " \
    "simulation checks it; choose a smaller block, scale the data, or pass SF_PRIVATE)"

/* The products va[sel[s]] vb[sel[s]] (s < ns; private left operands of one ring, shapes
 * checked) in one protocol call, into out[sel[s]]; op names them in failures. */
static int priv_products(sf_spu_task *t, const char *op, int ns, const int *sel, const sf_spu_val *va,
                         const sf_spu_val *vb, sf_spu_val *out, int fxp) {
    spu_kctx *k = kctx(t);
    sf_spu_priv_op ops[64];
    int slot[64];
    for (int s = 0; s < ns; s++)
        if ((slot[s] = new_slot(k)) < 0) {
            emit(t, SF_ENOMEM, op, 0, 0, NULL, 0);
            return SF_ENOMEM;
        }
    for (int s = 0; s < ns; s++) { /* (after new_slot: the slots may have moved) */
        const spu_slot *a = &k->slots[va[sel[s]].id], *b = &k->slots[vb[sel[s]].id];
        const spu_priv_ent *pe = &k->d->priv[a->priv - 1];
        ops[s] = (sf_spu_priv_op){pe->pr, pe->X ? pe->X + a->pr0 * (size_t)pe->k : NULL, a->pr0, a->prows, a->ptrans,
                                  &b->s, (size_t)b->shape[1], &k->slots[slot[s]].s};
    }
    int rc = sf_spu_proto_priv_matmul_n(k->d->proto, ops, ns, fxp);
    if (rc == SF_ERANGE) {
        bad(t, "%s: %s", op, RANGE32);
        return rc;
    }
    for (int s = 0; s < ns; s++) {
        const spu_slot *a = &k->slots[va[sel[s]].id], *b = &k->slots[vb[sel[s]].id];
        int64_t sh[2] = {a->shape[0], b->shape[1]};
        out[sel[s]] = emit(t, rc, op, slot[s], 2, sh, a->fxp || b->fxp);
        if (rc) return rc;
    }
    return SF_OK;
}

sf_spu_val sf_spu_matmul(sf_spu_task *t, sf_spu_val va, sf_spu_val vb) {
    spu_kctx *k = kctx(t);
    spu_slot *a = get_any(t, va, "sf_spu_matmul"), *b = a ? get(t, vb, "sf_spu_matmul") : NULL;
    if (!a || !b) return (sf_spu_val){-1};
    char b1[96], b2[96];
    if (a->priv) { /* private times secret: the owner's matrix stays with it */
        if (b->ndim != 2 || a->shape[1] != b->shape[0])
            return bad(t, "sf_spu_matmul: needs (m x k) and (k x n) matrices, not %s (private) and %s",
                       SHAPE(a, b1), SHAPE(b, b2));
        sf_spu_val o = {-1};
        priv_products(t, "sf_spu_matmul", 1, (const int[]){0}, &va, &vb, &o, a->fxp && b->fxp);
        return o;
    }
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0])
        return bad(t, "sf_spu_matmul: needs (m x k) and (k x n) matrices, not %s and %s", SHAPE(a, b1), SHAPE(b, b2));
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, "sf_spu_matmul", 0, 0, NULL, 0);
    a = &k->slots[va.id], b = &k->slots[vb.id];
    size_t m = (size_t)a->shape[0], kk = (size_t)a->shape[1], n = (size_t)b->shape[1];
    int rc = (a->fxp && b->fxp) ? sf_spu_proto_matmul_fxp(k->d->proto, &a->s, &b->s, m, kk, n, &k->slots[s].s)
                                : sf_spu_proto_matmul(k->d->proto, &a->s, &b->s, m, kk, n, &k->slots[s].s);
    int64_t sh[2] = {(int64_t)m, (int64_t)n};
    return emit(t, rc, "sf_spu_matmul", s, 2, sh, a->fxp || b->fxp);
}

int sf_spu_matmul_n(sf_spu_task *t, int n, const sf_spu_val *va, const sf_spu_val *vb, sf_spu_val *out) {
    spu_kctx *k = kctx(t);
    if (!k || n < 1 || n > 64 || !va || !vb || !out) {
        bad(t, "sf_spu_matmul_n: %s", !k ? "not inside an SPU kernel" : "needs 1 to 64 products");
        return SF_EINVAL;
    }
    for (int i = 0; i < n; i++) out[i] = (sf_spu_val){-1};
    /* the batch: the products whose left operand is private, of the first one's ring and
     * fixed-point kind; the others run one by one (with their own checks and messages) */
    int sel[64], ns = 0, fxp = -1;
    const spu_priv_ent *p0 = NULL;
    for (int i = 0; i < n; i++) {
        spu_slot *a = get_any(t, va[i], "sf_spu_matmul_n"), *b = a ? get(t, vb[i], "sf_spu_matmul_n") : NULL;
        if (!a || !b) return SF_EINVAL;
        const spu_priv_ent *pe = a->priv ? &k->d->priv[a->priv - 1] : NULL;
        int f = a->fxp && b->fxp;
        if (!pe || b->ndim != 2 || a->shape[1] != b->shape[0]) continue;
        if (p0 && (f != fxp || !pe->aux != !p0->aux || pe->fxp != p0->fxp)) continue;
        p0 = p0 ? p0 : pe;
        fxp = f;
        sel[ns++] = i;
    }
    for (int i = 0, s = 0; i < n; i++) {
        if (s < ns && sel[s] == i) {
            s++;
            continue;
        }
        if ((out[i] = sf_spu_matmul(t, va[i], vb[i])).id < 0) return SF_EINVAL;
    }
    return ns ? priv_products(t, "sf_spu_matmul_n", ns, sel, va, vb, out, fxp) : SF_OK;
}

/* ------------------------------------------------------------------ shapes */

/* The result of a shape operation: element e of the result is element idx[e] of a (idx
 * NULL: the elements in order), with the shape (nd, sh); a public a gives a public result. */
static sf_spu_val regather(sf_spu_task *t, sf_spu_val va, const size_t *idx, size_t n, int nd,
                           const int64_t *sh, const char *name) {
    spu_kctx *k = kctx(t);
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, name, 0, 0, NULL, 0);
    spu_slot *a = &k->slots[va.id];
    int rc = idx ? sf_spu_proto_gather(k->d->proto, &a->s, idx, n, &k->slots[s].s)
                 : sf_spu_proto_slice(k->d->proto, &a->s, 0, n, &k->slots[s].s);
    if (!rc && a->pub) {
        uint64_t *r = malloc(sizeof *r * (n ? n : 1));
        if (!r) rc = SF_ENOMEM;
        for (size_t e = 0; r && e < n; e++) r[e] = a->pub[idx ? idx[e] : e];
        k->slots[s].pub = r;
    }
    return emit(t, rc, name, s, nd, sh, a->fxp);
}

sf_spu_val sf_spu_reshape(sf_spu_task *t, sf_spu_val va, int nd, const int64_t *shape) {
    spu_slot *a = get(t, va, "sf_spu_reshape");
    if (!a) return (sf_spu_val){-1};
    if (nd < 0 || nd > SF_MAX_DIMS || (nd && !shape))
        return bad(t, "sf_spu_reshape: %d dimensions (0 to %d)", nd, SF_MAX_DIMS);
    int64_t sh[SF_MAX_DIMS];
    int infer = -1;
    size_t known = 1;
    for (int i = 0; i < nd; i++) {
        sh[i] = shape[i];
        if (sh[i] == -1 && infer < 0) infer = i;
        else if (sh[i] < 0) return bad(t, "sf_spu_reshape: dimension %d is %lld", i, (long long)sh[i]);
        else if (__builtin_mul_overflow(known, (size_t)sh[i], &known) || known > ((size_t)1 << 40))
            return bad(t, "sf_spu_reshape: the shape has more than 2^40 elements");
    }
    if (infer >= 0) {
        if (!known || a->s.n % known) return bad(t, "sf_spu_reshape: %zu elements do not fit the shape", a->s.n);
        sh[infer] = (int64_t)(a->s.n / known);
        known = a->s.n;
    }
    char b1[96], b2[96];
    if (known != a->s.n)
        return bad(t, "sf_spu_reshape: %s has %zu elements, the shape %s %zu", SHAPE(a, b1), a->s.n,
                   shape_str(nd, sh, b2, sizeof b2), known);
    return regather(t, va, NULL, a->s.n, nd, sh, "sf_spu_reshape");
}

/* A new view of a private matrix. */
static sf_spu_val priv_view(sf_spu_task *t, sf_spu_val va, size_t r0, size_t rows, int trans, const char *name) {
    spu_kctx *k = kctx(t);
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, name, 0, 0, NULL, 0);
    spu_slot *a = &k->slots[va.id], *o = &k->slots[s];
    const spu_priv_ent *pe = &k->d->priv[a->priv - 1];
    o->priv = a->priv;
    o->pr0 = r0;
    o->prows = rows;
    o->ptrans = trans;
    int64_t sh[2] = {trans ? pe->k : (int64_t)rows, trans ? (int64_t)rows : pe->k};
    return emit(t, 0, name, s, 2, sh, a->fxp);
}

sf_spu_val sf_spu_transpose(sf_spu_task *t, sf_spu_val va) {
    spu_slot *a = get_any(t, va, "sf_spu_transpose");
    if (!a) return (sf_spu_val){-1};
    if (a->priv) return priv_view(t, va, a->pr0, a->prows, !a->ptrans, "sf_spu_transpose");
    char b1[96];
    if (a->ndim > 2) return bad(t, "sf_spu_transpose: needs a matrix or a vector, not %s", SHAPE(a, b1));
    if (a->ndim < 2) { /* as it is (regather's new slot may move the slots: copy the shape) */
        int64_t sh[SF_MAX_DIMS];
        memcpy(sh, a->shape, sizeof sh);
        return regather(t, va, NULL, a->s.n, a->ndim, sh, "sf_spu_transpose");
    }
    size_t m = (size_t)a->shape[0], n = (size_t)a->shape[1];
    size_t *idx = malloc(sizeof *idx * (m * n > 0 ? m * n : 1));
    if (!idx) return bad(t, "sf_spu_transpose: out of memory");
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) idx[j * m + i] = i * n + j;
    int64_t sh[2] = {(int64_t)n, (int64_t)m};
    sf_spu_val r = regather(t, va, idx, m * n, 2, sh, "sf_spu_transpose");
    free(idx);
    return r;
}

sf_spu_val sf_spu_slice(sf_spu_task *t, sf_spu_val va, int axis, int64_t start, int64_t cnt) {
    spu_slot *a = get_any(t, va, "sf_spu_slice");
    if (!a) return (sf_spu_val){-1};
    char b1[96];
    if (a->priv) { /* rows of the matrix: axis 0 of it, axis 1 of its transpose */
        if (axis != (a->ptrans ? 1 : 0))
            return bad(t, "sf_spu_slice: a private operand is sliced by its rows only (axis %d of %s)",
                       a->ptrans ? 1 : 0, SHAPE(a, b1));
        if (start < 0 || cnt < 0 || (size_t)start > a->prows || (size_t)cnt > a->prows - (size_t)start)
            return bad(t, "sf_spu_slice: %lld from %lld is outside axis %d of %s", (long long)cnt,
                       (long long)start, axis, SHAPE(a, b1));
        return priv_view(t, va, a->pr0 + (size_t)start, (size_t)cnt, a->ptrans, "sf_spu_slice");
    }
    if (axis < 0 || axis >= a->ndim || axis > 1)
        return bad(t, "sf_spu_slice: axis %d of %s (0: rows, 1: columns of a matrix)", axis, SHAPE(a, b1));
    int64_t dim = a->shape[axis];
    if (start < 0 || cnt < 0 || start > dim || cnt > dim - start)
        return bad(t, "sf_spu_slice: %lld from %lld is outside axis %d of %s", (long long)cnt,
                   (long long)start, axis, SHAPE(a, b1));
    int64_t sh[SF_MAX_DIMS];
    memcpy(sh, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    sh[axis] = cnt;
    size_t n = count(a->ndim, sh), inner = 1;
    for (int i = axis + 1; i < a->ndim; i++) inner *= (size_t)a->shape[i];
    size_t outer = axis == 0 ? 1 : (size_t)a->shape[0];
    size_t *idx = malloc(sizeof *idx * (n ? n : 1));
    if (!idx) return bad(t, "sf_spu_slice: out of memory");
    size_t e = 0;
    for (size_t o = 0; o < outer; o++)
        for (int64_t r = 0; r < cnt; r++)
            for (size_t i = 0; i < inner; i++)
                idx[e++] = (o * (size_t)dim + (size_t)(start + r)) * inner + i;
    sf_spu_val res = regather(t, va, idx, n, a->ndim, sh, "sf_spu_slice");
    free(idx);
    return res;
}

sf_spu_val sf_spu_concat(sf_spu_task *t, sf_spu_val va, sf_spu_val vb, int axis) {
    spu_kctx *k = kctx(t);
    spu_slot *a = get(t, va, "sf_spu_concat"), *b = get(t, vb, "sf_spu_concat");
    if (!a || !b) return (sf_spu_val){-1};
    char b1[96], b2[96];
    int ok = a->ndim == b->ndim && axis >= 0 && axis < a->ndim && axis <= 1;
    for (int i = 0; ok && i < a->ndim; i++) ok = i == axis || a->shape[i] == b->shape[i];
    if (!ok)
        return bad(t, "sf_spu_concat: %s and %s cannot be joined along axis %d", SHAPE(a, b1), SHAPE(b, b2), axis);
    int tofxp = a->fxp != b->fxp;
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, "sf_spu_concat", 0, 0, NULL, 0);
    a = &k->slots[va.id], b = &k->slots[vb.id];
    sf_spu_share ta = {0}, tb = {0};
    const sf_spu_share *xa, *xb;
    uint64_t *ra = NULL, *rb = NULL;
    int rc = operand(k, a, tofxp, a->ndim, a->shape, &ta, &xa, a->pub && b->pub ? &ra : NULL);
    if (!rc) rc = operand(k, b, tofxp, b->ndim, b->shape, &tb, &xb, a->pub && b->pub ? &rb : NULL);
    spu_slot *o = &k->slots[s];
    if (!rc) rc = sf_spu_proto_concat(k->d->proto, xa, xb, &o->s);
    int64_t sh[SF_MAX_DIMS];
    memcpy(sh, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    sh[axis] = a->shape[axis] + b->shape[axis];
    size_t na = a->s.n, n = na + b->s.n, *idx = NULL;
    if (!rc && ra) { /* both public: the values joined the same way */
        uint64_t *r = malloc(sizeof *r * (n ? n : 1));
        if (!r) rc = SF_ENOMEM;
        else {
            if (na) memcpy(r, ra, na * 8);
            if (n > na) memcpy(r + na, rb, (n - na) * 8);
            o->pub = r;
        }
    }
    if (!rc && axis == 1) { /* rows of a then rows of b, interleaved */
        size_t m = (size_t)a->shape[0], ca = (size_t)a->shape[1], cb = (size_t)b->shape[1];
        idx = malloc(sizeof *idx * (n ? n : 1));
        if (!idx) rc = SF_ENOMEM;
        for (size_t i = 0; idx && i < m; i++) {
            for (size_t j = 0; j < ca; j++) idx[i * (ca + cb) + j] = i * ca + j;
            for (size_t j = 0; j < cb; j++) idx[i * (ca + cb) + ca + j] = na + i * cb + j;
        }
        if (idx) rc = sf_spu_proto_gather(k->d->proto, &o->s, idx, n, &o->s);
        if (!rc && o->pub) {
            uint64_t *r = malloc(sizeof *r * (n ? n : 1));
            if (!r) rc = SF_ENOMEM;
            for (size_t e = 0; r && e < n; e++) r[e] = o->pub[idx[e]];
            free(o->pub);
            o->pub = r;
        }
    }
    free(idx);
    free(ra);
    free(rb);
    sf_spu_proto_share_free(&ta);
    sf_spu_proto_share_free(&tb);
    a = &k->slots[va.id], b = &k->slots[vb.id];
    return emit(t, rc, "sf_spu_concat", s, a->ndim, sh, a->fxp || b->fxp);
}

sf_spu_val sf_spu_sum_axis(sf_spu_task *t, sf_spu_val va, int axis) {
    spu_kctx *k = kctx(t);
    spu_slot *a = get(t, va, "sf_spu_sum_axis");
    if (!a) return (sf_spu_val){-1};
    char b1[96];
    if (a->ndim == 1 && axis == 0) return sf_spu_sum(t, va);
    if (a->ndim != 2 || (axis != 0 && axis != 1))
        return bad(t, "sf_spu_sum_axis: axis %d of %s (a matrix: 0 or 1; a vector: 0)", axis, SHAPE(a, b1));
    int s = new_slot(k);
    if (s < 0) return emit(t, SF_ENOMEM, "sf_spu_sum_axis", 0, 0, NULL, 0);
    a = &k->slots[va.id];
    size_t rows = (size_t)a->shape[0], cols = (size_t)a->shape[1];
    spu_slot *o = &k->slots[s];
    int rc = sf_spu_proto_sum_axis(k->d->proto, &a->s, rows, cols, axis, &o->s);
    if (!rc && a->pub) {
        size_t n = axis == 0 ? cols : rows;
        uint64_t *r = calloc(n ? n : 1, sizeof *r);
        if (!r) rc = SF_ENOMEM;
        for (size_t i = 0; r && i < rows; i++)
            for (size_t j = 0; j < cols; j++) r[axis == 0 ? j : i] += a->pub[i * cols + j];
        o->pub = r;
    }
    int64_t sh[1] = {(int64_t)(axis == 0 ? cols : rows)};
    return emit(t, rc, "sf_spu_sum_axis", s, 1, sh, a->fxp);
}

sf_spu_val sf_spu_mean(sf_spu_task *t, sf_spu_val va) {
    spu_slot *a = get(t, va, "sf_spu_mean");
    if (!a) return (sf_spu_val){-1};
    size_t n = a->s.n;
    if (!n) return bad(t, "sf_spu_mean: an empty value has no mean");
    return unary(t, sf_spu_sum(t, va), U_DIVP, 0, (double)n, "sf_spu_mean");
}

sf_spu_val sf_spu_mean_axis(sf_spu_task *t, sf_spu_val va, int axis) {
    spu_slot *a = get(t, va, "sf_spu_mean_axis");
    if (!a) return (sf_spu_val){-1};
    if (a->ndim == 0 || axis < 0 || axis >= a->ndim) return sf_spu_sum_axis(t, va, axis); /* its error */
    if (!a->shape[axis]) return bad(t, "sf_spu_mean_axis: axis %d is empty", axis);
    double c = (double)a->shape[axis];
    return unary(t, sf_spu_sum_axis(t, va, axis), U_DIVP, 0, c, "sf_spu_mean_axis");
}
