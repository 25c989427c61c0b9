/*
 * Private set intersection (include/sfmpi/psi.h): two-party ECDH-PSI over ristretto255,
 * written as an sfmpi program of its own (public API only): a key task and collective
 * kernels on each party, objects moving between the parties by dependency.
 *
 *   party A                                   party B
 *   kA = fresh scalar                         kB = fresh scalar
 *   EA = shuffle(H(a)^kA), permA              EB = shuffle(H(b)^kB), permB
 *                    EA ------------------>   DA = EA^kB     (same order; SIZE: reshuffled)
 *   DB = EB^kA   <------------------ EB
 *   ALL:      A gets DA, matches it against DB through permA; B likewise with DB, DA
 *   RECEIVER: only A gets DA; B never sees DB
 *   SIZE:     A counts DA (reshuffled by B) against DB, the count is revealed
 *
 * H: ristretto255 from SHA-512("sfmpi-psi-v1", type, width, ID bytes). Rows k of the
 * parties' indexes name the same ID because both are sorted by the doubly-raised point.
 * Every point from a peer is checked (a non-canonical encoding or the identity fails the
 * call), and duplicated IDs within a party are an error (they would make the output
 * ambiguous), found after hashing by sorting the party's own points.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "runtime/internal.h"
#include "sfmpi/psi.h"

/* Every call the protocol makes names the user's sf_psi call site (a `site` in scope) and
 * the step, so a failure reads "task 'psi_encrypt' failed on party bob ... (prog.c:57)". */
#undef SF__REMOTE_NI
#define SF__REMOTE_NI(target, fn, n, outs, ...)                                            \
    sf__remote_dev((target), (fn), (sf_site){site.file, site.line, #fn}, (n), (outs),      \
                   SF__ITEMS(__VA_ARGS__), SF__NITEMS(__VA_ARGS__))

#define PT crypto_core_ristretto255_BYTES
#define SC crypto_core_ristretto255_SCALARBYTES
static const char DOMAIN[] = "sfmpi-psi-v1";

/* ------------------------------------------------------------------ helpers */

static int cmp_pt(const void *a, const void *b) { return memcmp(a, b, PT); }

/* kind 1: int64 [n]; kind 2: uint8 [n, L] */
static int id_layout(const sf_value *v, int64_t *n, int64_t *width, int64_t *kind) {
    if (sf_value_dtype(v) == SF_I64 && sf_value_ndim(v) == 1) {
        *n = sf_value_dim(v, 0), *width = 8, *kind = 1;
        return 0;
    }
    if (sf_value_dtype(v) == SF_U8 && sf_value_ndim(v) == 2 && sf_value_dim(v, 1) > 0) {
        *n = sf_value_dim(v, 0), *width = sf_value_dim(v, 1), *kind = 2;
        return 0;
    }
    return -1;
}

static sf_value *points_new(int64_t n) {
    int64_t shape[2] = {n, PT};
    return sf_value_new(SF_U8, 2, shape);
}

/* A fresh random order of n rows (Fisher-Yates with libsodium's uniform draws). */
static int64_t *random_perm(int64_t n) {
    int64_t *p = malloc(sizeof *p * (size_t)(n > 0 ? n : 1));
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(i < UINT32_MAX ? randombytes_uniform((uint32_t)i + 1)
                                              : (((uint64_t)randombytes_random() << 32) |
                                                 randombytes_random()) % (uint64_t)(i + 1));
        int64_t t = p[i];
        p[i] = p[j], p[j] = t;
    }
    return p;
}

/* The party's key, spread to every rank of its communicator (objects reach rank 0 only). */
static int party_key(sf_task *t, sf_comm *c, int arg, unsigned char key[SC]) {
    sf_value *k = c && sf_comm_rank(c) ? NULL : sf_value_copy(sf_arg(t, arg));
    int rc = c ? sf_comm_bcast(c, 0, &k) : (k ? SF_OK : SF_ENOMEM);
    if (rc || !k || sf_value_nbytes(k) != SC) {
        sf_value_unref(&k);
        return rc ? rc : SF_EINVAL;
    }
    memcpy(key, sf_value_cdata(k), SC);
    sf_value_unref(&k);
    return SF_OK;
}

/* This rank's block of rows of object argument `arg` (the whole on a single rank). */
static int my_block(sf_task *t, sf_comm *c, int arg, sf_value **out) {
    if (!c || sf_comm_size(c) == 1) {
        *out = sf_value_ref((sf_value *)sf_arg(t, arg));
        return SF_OK;
    }
    return sf_comm_scatter(c, 0, sf_arg(t, arg), out);
}

/* Gather the ranks' blocks at rank 0 (the whole on a single rank). */
static int gather_all(sf_comm *c, sf_value *mine, sf_value **all) {
    if (!c || sf_comm_size(c) == 1) {
        *all = sf_value_ref(mine);
        return SF_OK;
    }
    return sf_comm_gather(c, 0, mine, all);
}

/* ------------------------------------------------------------------ tasks and kernels */

static int psi_keygen(sf_task *t) {
    if (sodium_init() < 0) return sf_fail(t, "libsodium failed to initialise");
    int64_t n = SC;
    sf_value *k = sf_value_new(SF_U8, 1, &n);
    if (!k) return sf_fail(t, "out of memory");
    crypto_core_ristretto255_scalar_random(sf_value_data(k));
    return sf_return(t, 0, k);
}

/* The shape of a party's IDs, as int64 [3]: kind (1 int64, 2 bytes), width, rows. */
static int psi_describe(sf_task *t) {
    const sf_value *ids = sf_arg(t, 0);
    int64_t n, w, kind, three = 3;
    if (!ids || id_layout(ids, &n, &w, &kind))
        return sf_fail(t, "party %s: PSI takes IDs as int64 [n] or uint8 [n, L], not %s with %d "
                       "dimension(s)", sf_arg_str(t, 1), ids ? sf_dtype_name(sf_value_dtype(ids)) : "?",
                       ids ? sf_value_ndim(ids) : 0);
    sf_value *d = sf_value_new(SF_I64, 1, &three);
    if (!d) return sf_fail(t, "out of memory");
    int64_t *p = sf_value_data(d);
    p[0] = kind, p[1] = w, p[2] = n;
    return sf_return(t, 0, d);
}

/* A progress line for a long kernel, from the party's leader (rank 0's block stands for
 * the party's: the ranks' blocks are equal to within a row). */
static void progress_begin(sf_progress *p, sf_task *t, sf_comm *c, const char *what, int64_t rows) {
    char tag[96];
    const char *tg = !c || sf_comm_rank(c) == 0 ? sf__progress_tag(sf_task_ctx(t), tag, sizeof tag) : NULL;
    sf__progress_begin(p, tg, what, (uint64_t)rows, "rows");
}

/* Hash this rank's IDs to the group and raise them to the key. */
static int hash_raise(const sf_value *ids, const unsigned char key[SC], sf_value **out, sf_progress *pr) {
    int64_t n, w, kind;
    if (id_layout(ids, &n, &w, &kind)) return SF_ETYPE;
    sf_value *pts = points_new(n);
    if (!pts) return SF_ENOMEM;
    const unsigned char *src = sf_value_cdata(ids);
    unsigned char *dst = sf_value_data(pts), h[crypto_hash_sha512_BYTES], p[PT];
    unsigned char hdr[sizeof DOMAIN + 2];
    memcpy(hdr, DOMAIN, sizeof DOMAIN);
    hdr[sizeof DOMAIN] = (unsigned char)kind, hdr[sizeof DOMAIN + 1] = (unsigned char)(w & 0xff);
    for (int64_t i = 0; i < n; i++) {
        crypto_hash_sha512_state st;
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, hdr, sizeof hdr);
        crypto_hash_sha512_update(&st, src + i * w, (unsigned long long)w);
        crypto_hash_sha512_final(&st, h);
        crypto_core_ristretto255_from_hash(p, h);
        if (crypto_scalarmult_ristretto255(dst + i * PT, key, p)) {
            sf_value_unref(&pts);
            return SF_EINVAL; /* (the identity: probability 2^-252) */
        }
        if (!(i & 255)) sf__progress_update(pr, (uint64_t)i);
    }
    *out = pts;
    return SF_OK;
}

/* Raise this rank's points to the key; a peer's point that is not a valid encoding, or
 * gives the identity, is refused. */
static int raise_points(const sf_value *in, const unsigned char key[SC], sf_value **out, int64_t *bad,
                        sf_progress *pr) {
    int64_t n = sf_value_ndim(in) == 2 ? sf_value_dim(in, 0) : -1;
    if (n < 0 || sf_value_dtype(in) != SF_U8 || sf_value_dim(in, 1) != PT) return SF_ETYPE;
    sf_value *pts = points_new(n);
    if (!pts) return SF_ENOMEM;
    const unsigned char *src = sf_value_cdata(in);
    unsigned char *dst = sf_value_data(pts);
    for (int64_t i = 0; i < n; i++)
        if (crypto_scalarmult_ristretto255(dst + i * PT, key, src + i * PT)) {
            *bad = i;
            sf_value_unref(&pts);
            return SF_EINVAL;
        } else if (!(i & 255)) {
            sf__progress_update(pr, (uint64_t)i);
        }
    *out = pts;
    return SF_OK;
}

/* The rows of pts in the order perm (out[i] = pts[perm[i]]). */
static sf_value *permuted(const sf_value *pts, const int64_t *perm) {
    int64_t n = sf_value_dim(pts, 0);
    sf_value *o = points_new(n);
    if (!o) return NULL;
    const unsigned char *s = sf_value_cdata(pts);
    unsigned char *d = sf_value_data(o);
    for (int64_t i = 0; i < n; i++) memcpy(d + i * PT, s + perm[i] * PT, PT);
    return o;
}

/* (point, position) rows sorted by point */
static unsigned char *sorted_rows(const sf_value *pts, int64_t *n) {
    *n = sf_value_dim(pts, 0);
    unsigned char *rows = malloc((size_t)(*n > 0 ? *n : 1) * (PT + 8));
    if (!rows) return NULL;
    const unsigned char *p = sf_value_cdata(pts);
    for (int64_t i = 0; i < *n; i++) {
        memcpy(rows + i * (PT + 8), p + i * PT, PT);
        memcpy(rows + i * (PT + 8) + PT, &i, 8);
    }
    qsort(rows, (size_t)*n, PT + 8, cmp_pt);
    return rows;
}

/* Two rows of one party's own raised points that are equal: duplicated IDs. */
static int find_duplicate(const sf_value *pts, int64_t *r1, int64_t *r2) {
    int64_t n;
    if (sf_value_dim(pts, 0) < 2) return 0;
    unsigned char *rows = sorted_rows(pts, &n);
    if (!rows) return -1;
    int found = 0;
    for (int64_t i = 1; i < n && !found; i++)
        if (!memcmp(rows + (i - 1) * (PT + 8), rows + i * (PT + 8), PT)) {
            memcpy(r1, rows + (i - 1) * (PT + 8) + PT, 8);
            memcpy(r2, rows + i * (PT + 8) + PT, 8);
            if (*r1 > *r2) {
                int64_t x = *r1;
                *r1 = *r2, *r2 = x;
            }
            found = 1;
        }
    free(rows);
    return found;
}

/* Collective kernel: args (ids obj, key obj, party name); results: the raised points in a
 * fresh random order, and that order (which stays with the party). */
static int psi_encrypt(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int root = !c || sf_comm_rank(c) == 0, rc;
    const char *party = sf_arg_str(t, 2);
    unsigned char key[SC];
    sf_value *mine = NULL, *pts = NULL, *all = NULL;
    if (sodium_init() < 0) return sf_fail(t, "libsodium failed to initialise");
    if ((rc = party_key(t, c, 1, key))) return sf_fail(t, "party %s: spreading the PSI key: %s", party, sf_strerror(rc));
    if ((rc = my_block(t, c, 0, &mine))) return sf_fail(t, "party %s: spreading the IDs: %s", party, sf_strerror(rc));
    sf_progress pr;
    char what[160];
    snprintf(what, sizeof what, "PSI: hashing %s's IDs to the group and raising them", party);
    progress_begin(&pr, t, c, what, sf_value_dim(mine, 0));
    rc = hash_raise(mine, key, &pts, &pr);
    if (!rc) sf__progress_update(&pr, (uint64_t)sf_value_dim(mine, 0));
    sf__progress_end(&pr, !rc);
    sodium_memzero(key, sizeof key);
    sf_value_unref(&mine);
    if (rc) return sf_fail(t, "party %s: hashing the IDs to the group: %s", party, sf_strerror(rc));
    rc = gather_all(c, pts, &all);
    sf_value_unref(&pts);
    if (rc) return sf_fail(t, "party %s: gathering the points: %s", party, sf_strerror(rc));
    if (!root) return SF_OK;
    int64_t r1, r2;
    int dup = find_duplicate(all, &r1, &r2);
    if (dup) {
        sf_value_unref(&all);
        if (dup < 0) return sf_fail(t, "out of memory");
        return sf_fail(t, "party %s: duplicated IDs in the PSI input (rows %lld and %lld hold the "
                       "same ID); remove duplicates first", party, (long long)r1, (long long)r2);
    }
    int64_t n = sf_value_dim(all, 0);
    int64_t *perm = random_perm(n);
    sf_value *shuf = perm ? permuted(all, perm) : NULL, *pv = sf_value_new(SF_I64, 1, &n);
    sf_value_unref(&all);
    if (!shuf || !pv) {
        free(perm);
        sf_value_unref(&shuf);
        sf_value_unref(&pv);
        return sf_fail(t, "out of memory");
    }
    memcpy(sf_value_data(pv), perm, sizeof *perm * (size_t)n);
    free(perm);
    rc = sf_return(t, 0, shuf);
    return rc ? rc : sf_return(t, 1, pv);
}

/* Collective kernel: args (peer points obj, key obj, reshuffle, party name, peer name):
 * the peer's points raised to this party's key, in their order (or a fresh one). */
static int psi_raise(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int root = !c || sf_comm_rank(c) == 0, rc;
    const char *party = sf_arg_str(t, 3), *peer = sf_arg_str(t, 4);
    unsigned char key[SC];
    sf_value *mine = NULL, *pts = NULL, *all = NULL;
    int64_t bad = -1;
    if (sodium_init() < 0) return sf_fail(t, "libsodium failed to initialise");
    if ((rc = party_key(t, c, 1, key))) return sf_fail(t, "party %s: spreading the PSI key: %s", party, sf_strerror(rc));
    if ((rc = my_block(t, c, 0, &mine))) return sf_fail(t, "party %s: spreading %s's points: %s", party, peer, sf_strerror(rc));
    sf_progress pr;
    char what[160];
    snprintf(what, sizeof what, "PSI: raising %s's points by %s's key", peer, party);
    progress_begin(&pr, t, c, what, sf_value_ndim(mine) == 2 ? sf_value_dim(mine, 0) : 0);
    rc = raise_points(mine, key, &pts, &bad, &pr);
    if (!rc) sf__progress_update(&pr, (uint64_t)sf_value_dim(mine, 0));
    sf__progress_end(&pr, !rc);
    sodium_memzero(key, sizeof key);
    sf_value_unref(&mine);
    if (rc == SF_EINVAL)
        return sf_fail(t, "party %s: a point from %s is not a valid ristretto255 encoding (row %lld "
                       "of this rank's block): refusing the PSI", party, peer, (long long)bad);
    if (rc) return sf_fail(t, "party %s: raising %s's points: %s", party, peer, sf_strerror(rc));
    rc = gather_all(c, pts, &all);
    sf_value_unref(&pts);
    if (rc) return sf_fail(t, "party %s: gathering the points: %s", party, sf_strerror(rc));
    if (!root) return SF_OK;
    if (sf_arg_i64(t, 2)) { /* a fresh order, so the owner cannot map them to its rows */
        int64_t n = sf_value_dim(all, 0);
        int64_t *perm = random_perm(n);
        sf_value *shuf = perm ? permuted(all, perm) : NULL, *pv = NULL;
        if (shuf && sf_nreturns(t) == 2 && (pv = sf_value_new(SF_I64, 1, &n)))
            memcpy(sf_value_data(pv), perm, sizeof *perm * (size_t)n); /* kept by this party */
        free(perm);
        sf_value_unref(&all);
        if (!shuf || (sf_nreturns(t) == 2 && !pv)) {
            sf_value_unref(&shuf);
            return sf_fail(t, "out of memory");
        }
        if (pv && (rc = sf_return(t, 1, pv))) {
            sf_value_unref(&shuf);
            return rc;
        }
        all = shuf;
    }
    return sf_return(t, 0, all);
}

/* Leader task: args (own doubly-raised points in own shuffled order, that order, the
 * peer's doubly-raised points). Results: int64 [c] own rows in the intersection, sorted by
 * point (the same order at every party), and the count (int64 scalar). With only two
 * arguments (size only) the count of common points alone. */
static int psi_match(sf_task *t) {
    const sf_value *own = sf_arg(t, 0), *peer = sf_arg(t, sf_nargs(t) - 1);
    const int64_t *perm = sf_nargs(t) == 3 ? sf_value_cdata(sf_arg(t, 1)) : NULL;
    int64_t n = sf_value_dim(own, 0), m = sf_value_dim(peer, 0);
    unsigned char *sorted = malloc((size_t)(m > 0 ? m : 1) * PT);
    unsigned char *hits = malloc((size_t)(n > 0 ? n : 1) * (PT + 8));
    if (!sorted || !hits) {
        free(sorted);
        free(hits);
        return sf_fail(t, "out of memory");
    }
    memcpy(sorted, sf_value_cdata(peer), (size_t)m * PT);
    qsort(sorted, (size_t)m, PT, cmp_pt);
    const unsigned char *p = sf_value_cdata(own);
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        if (m && bsearch(p + i * PT, sorted, (size_t)m, PT, cmp_pt)) {
            memcpy(hits + c * (PT + 8), p + i * PT, PT);
            int64_t row = perm ? perm[i] : i;
            memcpy(hits + c * (PT + 8) + PT, &row, 8);
            c++;
        }
    free(sorted);
    int rc = SF_OK;
    if (perm) {
        qsort(hits, (size_t)c, PT + 8, cmp_pt);
        sf_value *idx = sf_value_new(SF_I64, 1, &c);
        if (!idx) rc = SF_ENOMEM;
        for (int64_t k = 0; idx && k < c; k++)
            memcpy((int64_t *)sf_value_data(idx) + k, hits + k * (PT + 8) + PT, 8);
        if (!rc) rc = sf_return(t, 0, idx);
    }
    free(hits);
    if (rc) return rc == SF_ENOMEM ? sf_fail(t, "out of memory") : rc;
    return sf_return(t, perm ? 1 : 0, sf_value_i64(c));
}

static int psi_take(sf_task *t) {
    const sf_value *tab = sf_arg(t, 0), *idx = sf_arg(t, 1);
    if (sf_value_dtype(idx) != SF_I64 || sf_value_ndim(idx) != 1)
        return sf_fail(t, "the index must be int64 [c], not %s with %d dimension(s)",
                       sf_dtype_name(sf_value_dtype(idx)), sf_value_ndim(idx));
    if (sf_value_ndim(tab) < 1) return sf_fail(t, "the table must have rows (a scalar was given)");
    int64_t rows = sf_value_dim(tab, 0), c = sf_value_dim(idx, 0);
    int64_t shape[SF_MAX_DIMS];
    memcpy(shape, sf_value_shape(tab), sizeof(int64_t) * (size_t)sf_value_ndim(tab));
    shape[0] = c;
    size_t rowbytes = rows ? sf_value_nbytes(tab) / (size_t)rows : 0;
    const int64_t *ix = sf_value_cdata(idx);
    for (int64_t k = 0; k < c; k++)
        if (ix[k] < 0 || ix[k] >= rows)
            return sf_fail(t, "index row %lld is %lld: out of the table's %lld rows", (long long)k,
                           (long long)ix[k], (long long)rows);
    sf_value *o = sf_value_new(sf_value_dtype(tab), sf_value_ndim(tab), shape);
    if (!o) return sf_fail(t, "out of memory");
    for (int64_t k = 0; k < c; k++)
        memcpy((char *)sf_value_data(o) + (size_t)k * rowbytes,
               (const char *)sf_value_cdata(tab) + (size_t)ix[k] * rowbytes, rowbytes);
    return sf_return(t, 0, o);
}

/* Leader task: the product of two scalars (the blinder's key times its blinding scalar). */
static int psi_keymul(sf_task *t) {
    const sf_value *a = sf_arg(t, 0), *b = sf_arg(t, 1);
    int64_t n = SC;
    sf_value *k = sf_value_new(SF_U8, 1, &n);
    if (!k) return sf_fail(t, "out of memory");
    crypto_core_ristretto255_scalar_mul(sf_value_data(k), sf_value_cdata(a), sf_value_cdata(b));
    return sf_return(t, 0, k);
}

/* Matcher task (n parties): args F_0..F_{n-1}, every party's points raised by every key
 * and the blinding scalar. Results: for each set j, int64 [c]: the positions (in the order
 * F_j arrived) of the points common to all sets, ordered by point; then the count. */
static int psi_nmatch(sf_task *t) {
    int n = sf_nargs(t), rc = SF_OK;
    unsigned char **rows = calloc((size_t)n, sizeof *rows);
    int64_t *len = calloc((size_t)n, sizeof *len), c = 0;
    sf_value **pos = calloc((size_t)n, sizeof *pos);
    if (!rows || !len || !pos) rc = SF_ENOMEM;
    for (int j = 0; j < n && !rc; j++)
        if (!(rows[j] = sorted_rows(sf_arg(t, j), &len[j]))) rc = SF_ENOMEM;
    /* the common points, in set 0's sorted order: kept in place at the front of rows[0] */
    for (int64_t i = 0; i < (rc ? 0 : len[0]); i++) {
        int all = 1;
        for (int j = 1; j < n && all; j++)
            all = bsearch(rows[0] + i * (PT + 8), rows[j], (size_t)len[j], PT + 8, cmp_pt) != NULL;
        if (all) memmove(rows[0] + c++ * (PT + 8), rows[0] + i * (PT + 8), PT + 8);
    }
    for (int j = 0; j < n && !rc; j++) {
        if (!(pos[j] = sf_value_new(SF_I64, 1, &c))) {
            rc = SF_ENOMEM;
            break;
        }
        int64_t *o = sf_value_data(pos[j]);
        for (int64_t k = 0; k < c; k++) {
            const unsigned char *hit = j ? bsearch(rows[0] + k * (PT + 8), rows[j], (size_t)len[j],
                                                   PT + 8, cmp_pt)
                                         : rows[0] + k * (PT + 8);
            memcpy(&o[k], hit + PT, 8);
        }
    }
    for (int j = 0; j < n && !rc; j++) {
        rc = sf_return(t, j, pos[j]);
        pos[j] = NULL;
    }
    for (int j = 0; rows && j < n; j++) free(rows[j]);
    for (int j = 0; pos && j < n; j++) sf_value_unref(&pos[j]);
    free(rows);
    free(len);
    free(pos);
    if (rc) return rc == SF_ENOMEM ? sf_fail(t, "out of memory") : rc;
    return sf_return(t, n, sf_value_i64(c));
}

/* Leader task: out[k] = perm[pos[k]] (positions through an order this party keeps). */
static int psi_compose(sf_task *t) {
    const sf_value *pos = sf_arg(t, 0), *perm = sf_arg(t, 1);
    int64_t c = sf_value_dim(pos, 0), m = sf_value_dim(perm, 0);
    const int64_t *p = sf_value_cdata(pos), *q = sf_value_cdata(perm);
    sf_value *o = sf_value_new(SF_I64, 1, &c);
    if (!o) return sf_fail(t, "out of memory");
    for (int64_t k = 0; k < c; k++) {
        if (p[k] < 0 || p[k] >= m) {
            sf_value_unref(&o);
            return sf_fail(t, "PSI: position %lld out of range (%lld rows)", (long long)p[k], (long long)m);
        }
        ((int64_t *)sf_value_data(o))[k] = q[p[k]];
    }
    return sf_return(t, 0, o);
}

/* ------------------------------------------------------------------ the protocol */

static const char *kind_name(int64_t kind) { return kind == 1 ? "int64" : "uint8 [n, L] bytes"; }

/* Release what a run made (objects with id 0 are skipped). */
static void release_all(sf_obj *o, int n) {
    for (int i = 0; i < n; i++)
        if (o[i].id) sf_release(o[i]);
}

/* Wait for the outputs; the count is revealed unless only the receiver learns. */
static int finish(sf_ctx *sf, sf_obj *idx, int n, sf_obj cnt, int reveal, int64_t *size) {
    sf_obj done[SF_PSI_MAX_PARTIES + 1];
    int nd = 0, rc;
    for (int i = 0; i < n; i++)
        if (idx[i].id) done[nd++] = idx[i];
    done[nd++] = cnt;
    rc = sf_wait(sf, done, nd);
    sf_value *cv;
    if (!rc && reveal) rc = sf_get(sf, cnt, &cv);
    if (!rc && reveal && size) *size = sf_value_as_i64(cv, 0);
    return rc;
}

/* Two parties: each raises the other's points; see the top of this file. */
static int psi2(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_obj *ids, const char *const *name,
                const sf_device *leader, sf_psi_output out, int recv, sf_obj *idx, int64_t *size) {
    sf_obj key[2], enc[2][2], dbl[2], cnt[2] = {{sf, 0}, {sf, 0}};
    int reshuffle = out == SF_PSI_SIZE;
    for (int i = 0; i < 2; i++) {
        key[i] = SF_REMOTE(leader[i], psi_keygen);
        SF_REMOTE_N(devs[i], psi_encrypt, 2, enc[i], SF_OBJ(ids[i]), SF_OBJ(key[i]), SF_STR(name[i]));
    }
    /* Each party's points move to the other first, for both parties, then the raises run:
     * a raise given the points directly would have the party that runs it first (in
     * program order) compute before it reaches the call that sends its own points, and
     * the other party would wait that long. */
    sf_obj moved[2];
    for (int i = 0; i < 2; i++) moved[i] = sf__to(enc[i][0], devs[1 - i], (sf_site){site.file, site.line, "psi_send"});
    /* party i's points raised by the other party (held there until someone needs them) */
    for (int i = 0; i < 2; i++)
        dbl[i] = SF_REMOTE(devs[1 - i], psi_raise, SF_OBJ(moved[i]), SF_OBJ(key[1 - i]),
                           SF_I64(reshuffle), SF_STR(name[1 - i]), SF_STR(name[i]));
    if (out == SF_PSI_SIZE) {
        cnt[0] = SF_REMOTE(leader[0], psi_match, SF_OBJ(dbl[0]), SF_OBJ(dbl[1]));
    } else {
        for (int i = 0; i < 2; i++) {
            if (recv >= 0 && i != recv) continue; /* only the receiver gets its points back */
            sf_obj o[2];
            SF_REMOTE_N(leader[i], psi_match, 2, o, SF_OBJ(dbl[i]), SF_OBJ(enc[i][1]), SF_OBJ(dbl[1 - i]));
            idx[i] = o[0], cnt[i] = o[1];
        }
    }
    int rc = finish(sf, idx, 2, cnt[recv >= 0 ? recv : 0], recv < 0, size);
    release_all(key, 2);
    release_all(enc[0], 2);
    release_all(enc[1], 2);
    release_all(dbl, 2);
    release_all(moved, 2);
    release_all(cnt, 2);
    return rc;
}

/*
 * n >= 3 parties. A matcher M (the receiver, or party 0) and a blinder B (the first other
 * party, holding a blinding scalar r as well as its key). Every set travels through every
 * party, each raising it by its key (B by its key times r) and keeping its order; M is the
 * last hop of every other set, so M alone sees fully raised points: H(x)^(k_0...k_{n-1} r).
 * M's own set is raised by M first and reordered by its last hop X, who keeps that order.
 * M finds the points common to all n sets and, for each set, their positions in the order
 * it arrived; party j maps them to its rows through its own order, M through X's and its
 * own. Since r is B's, M cannot map any fully raised point to an ID of its own (not even
 * its own set, which X reordered), and B never sees a fully raised point.
 * Leakage (semi-honest, no two parties colluding): every party learns the input sizes;
 * M learns the sizes of the intersections of every subfamily of sets (it sees which
 * anonymous points are in which sets), not which IDs; the others learn only their rows in
 * the n-way intersection (SF_PSI_ALL). M and B together could map M's IDs, so they must
 * not collude. Cost: n scalar multiplications per row (one by each party).
 */
static int psin(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_obj *ids, int n, const char *const *name,
                const sf_device *leader, sf_psi_output out, int recv, sf_obj *idx, int64_t *size) {
    int M = recv >= 0 ? recv : 0, B = M == 0 ? 1 : 0, X = M == n - 1 ? n - 2 : n - 1;
    sf_obj key[SF_PSI_MAX_PARTIES], hop[SF_PSI_MAX_PARTIES], full[SF_PSI_MAX_PARTIES];
    sf_obj order[SF_PSI_MAX_PARTIES], pos[SF_PSI_MAX_PARTIES + 1];
    sf_obj tmp[2 * SF_PSI_MAX_PARTIES * SF_PSI_MAX_PARTIES + SF_PSI_MAX_PARTIES];
    sf_obj xorder = {sf, 0}, r;
    int nt = 0;
    for (int i = 0; i < n; i++) key[i] = SF_REMOTE(leader[i], psi_keygen);
    r = SF_REMOTE(leader[B], psi_keygen);
    for (int i = 0; i < n; i++) /* the key each party raises by (B's includes r) */
        hop[i] = i == B ? SF_REMOTE(leader[B], psi_keymul, SF_OBJ(key[B]), SF_OBJ(r)) : key[i];
    /* every set's hops: the other parties but M in index order, then M (M's own set: the
     * others, X last) */
    int path[SF_PSI_MAX_PARTIES][SF_PSI_MAX_PARTIES], nh = n - 1;
    sf_obj cur[SF_PSI_MAX_PARTIES];
    for (int j = 0; j < n; j++) {
        int k = 0;
        for (int h = 0; h < n; h++)
            if (h != j && h != M) path[j][k++] = h;
        if (j != M) path[j][k++] = M;
        sf_obj e[2];
        SF_REMOTE_N(devs[j], psi_encrypt, 2, e, SF_OBJ(ids[j]), SF_OBJ(hop[j]), SF_STR(name[j]));
        order[j] = e[1];
        cur[j] = e[0];
    }
    /* in rounds: every set moves one hop, all moves before any raise (a party sends what
     * it holds before it computes, so the parties work at once) */
    for (int t = 0; t < nh; t++) {
        sf_obj mv[SF_PSI_MAX_PARTIES];
        for (int j = 0; j < n; j++)
            mv[j] = sf__to(cur[j], devs[path[j][t]], (sf_site){site.file, site.line, "psi_send"});
        for (int j = 0; j < n; j++) {
            int h = path[j][t];
            sf_obj next;
            if (j == M && h == X) { /* M's set: reordered by its last hop, who keeps the order */
                sf_obj o[2];
                SF_REMOTE_N(devs[h], psi_raise, 2, o, SF_OBJ(mv[j]), SF_OBJ(hop[h]), SF_I64(1),
                            SF_STR(name[h]), SF_STR(name[j]));
                next = o[0], xorder = o[1];
            } else {
                next = SF_REMOTE(devs[h], psi_raise, SF_OBJ(mv[j]), SF_OBJ(hop[h]), SF_I64(0),
                                 SF_STR(name[h]), SF_STR(name[j]));
            }
            tmp[nt++] = cur[j];
            tmp[nt++] = mv[j];
            cur[j] = next;
        }
    }
    for (int j = 0; j < n; j++) full[j] = cur[j];
    /* the matcher: positions of the common points in every set, and their count */
    sf_argv_item fulls[SF_PSI_MAX_PARTIES];
    for (int j = 0; j < n; j++) fulls[j] = SF_OBJ(full[j]);
    sf__remote_dev(leader[M], psi_nmatch, (sf_site){site.file, site.line, "psi_nmatch"}, n + 1, pos,
                   fulls, n);
    for (int j = 0; j < n && out != SF_PSI_SIZE; j++) {
        if (recv >= 0 && j != recv) continue;
        if (j == M) { /* back through X's order, then M's own */
            sf_obj viax = SF_REMOTE(leader[X], psi_compose, SF_OBJ(pos[M]), SF_OBJ(xorder));
            idx[j] = SF_REMOTE(leader[M], psi_compose, SF_OBJ(viax), SF_OBJ(order[M]));
            tmp[nt++] = viax;
        } else {
            idx[j] = SF_REMOTE(leader[j], psi_compose, SF_OBJ(pos[j]), SF_OBJ(order[j]));
        }
    }
    int rc = finish(sf, idx, n, pos[n], recv < 0, size);
    release_all(key, n);
    release_all(&r, 1);
    release_all(&hop[B], 1);
    release_all(order, n);
    release_all(full, n);
    release_all(pos, n + 1);
    release_all(tmp, nt);
    if (xorder.id) release_all(&xorder, 1);
    return rc;
}

int sf__psi(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_obj *ids, int n,
            const sf_psi_options *opts, sf_obj *index, int64_t *size) {
    static const sf_psi_options defaults;
    if (!opts) opts = &defaults;
    if (size) *size = -1;
    for (int i = 0; index && i < n; i++) index[i] = (sf_obj){sf, 0};
#define PSI_USAGE(...)                                                              \
    do {                                                                            \
        fprintf(stderr, "sfmpi: sf_psi at %s:%d: ", site.file, site.line);          \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        return SF_EINVAL;                                                           \
    } while (0)
    if (n < 2 || n > SF_PSI_MAX_PARTIES)
        PSI_USAGE("%d sets given: PSI takes 2 to %d parties' sets", n, SF_PSI_MAX_PARTIES);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (devs[i].party == devs[j].party)
                PSI_USAGE("sets %d and %d both belong to party %s", j, i, sf_party_name_of(sf, devs[i].party));
    int recv = -1;
    if (opts->output == SF_PSI_RECEIVER) {
        for (int i = 0; i < n; i++)
            if (opts->receiver && !strcmp(opts->receiver, sf_party_name_of(sf, devs[i].party))) recv = i;
        if (recv < 0)
            PSI_USAGE("the receiver '%s' is not one of the parties whose sets are given",
                      opts->receiver ? opts->receiver : "(none)");
    } else if (opts->output != SF_PSI_ALL && opts->output != SF_PSI_SIZE) {
        PSI_USAGE("unknown output mode %d", (int)opts->output);
    }
#undef PSI_USAGE
    const char *name[SF_PSI_MAX_PARTIES];
    sf_device leader[SF_PSI_MAX_PARTIES];
    sf_obj desc[SF_PSI_MAX_PARTIES], idx[SF_PSI_MAX_PARTIES];
    for (int i = 0; i < n; i++) {
        name[i] = sf_party_name_of(sf, devs[i].party);
        leader[i] = sf_pyu(sf, name[i]);
        desc[i] = SF_REMOTE(leader[i], psi_describe, SF_OBJ(ids[i]), SF_STR(name[i]));
        idx[i] = (sf_obj){sf, 0};
    }
    /* the ID types must agree (a mismatch would silently intersect nothing) */
    int rc = SF_OK;
    const int64_t *d0 = NULL;
    for (int i = 0; i < n && !rc; i++) {
        sf_value *v;
        if ((rc = sf_get(sf, desc[i], &v))) break;
        const int64_t *d = sf_value_cdata(v);
        if (!i) d0 = d;
        else if (d[0] != d0[0] || d[1] != d0[1]) {
            fprintf(stderr, "sfmpi: sf_psi at %s:%d: the parties' IDs differ in type: %s has %s "
                    "of width %lld, %s has %s of width %lld\n", site.file, site.line, name[0],
                    kind_name(d0[0]), (long long)d0[1], name[i], kind_name(d[0]), (long long)d[1]);
            rc = SF_EINVAL;
        }
    }
    if (!rc)
        rc = n == 2 ? psi2(site, sf, devs, ids, name, leader, opts->output, recv, idx, size)
                    : psin(site, sf, devs, ids, n, name, leader, opts->output, recv, idx, size);
    release_all(desc, n);
    for (int i = 0; i < n; i++) {
        if (idx[i].id && (rc || !index)) sf_release(idx[i]);
        else if (idx[i].id) index[i] = idx[i];
    }
    return rc;
}

sf_obj sf__psi_take(sf_site site, sf_device dev, sf_obj table, sf_obj index) {
    sf_device leader = dev;
    leader.kind = SF_DEV_PYU;
    return sf__remote_dev(leader, psi_take, site, 1, NULL,
                          (const sf_argv_item[]){SF_OBJ(table), SF_OBJ(index)}, 2);
}
