/*
 * Private set intersection (include/sfmpi/psi.h): ECDH-PSI over ristretto255, written as
 * an sfmpi program of its own (the public API, plus the internal HDF5 and progress
 * helpers): actors and collective kernels on each party, objects moving by dependency.
 *
 *   party A                                   party B
 *   kA = fresh scalar                         kB = fresh scalar
 *   EA = sorted(H(a)^kA) (rows kept)          EB = sorted(H(b)^kB)
 *                    EA ------------------>   DA = EA^kB     (same order)
 *   DB = EB^kA   <------------------ EB
 *   ALL:      DA goes back to A, which pairs it with its rows and matches it against DB;
 *             B likewise with DB and DA
 *   RECEIVER: only A gets DA back; B keeps nothing
 *   SIZE:     B sends DA sorted by its own value (A cannot pair it with rows); A counts
 *             it against DB; the count is revealed
 * Two parties run in batches with sorted runs spilled to files (stream2, below); three to
 * eight in memory (psin, with a fresh random order instead of sorting).
 *
 * H: ristretto255 from SHA-512("sfmpi-psi-v1", type, width, ID bytes). Rows k of the
 * parties' indexes name the same ID because both are sorted by the doubly-raised point.
 * Every point from a peer is checked (a non-canonical encoding or the identity fails the
 * call), and duplicated IDs within a party are an error (they would make the output
 * ambiguous), found after hashing where the party's own points are sorted.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/progress.h"
#include "io/h5.h"
#include "io/h5out.h"
#include "psi/spill.h"
#include "runtime/internal.h"
#include "sfmpi/psi.h"

/* Every call the protocol makes names the user's sf_psi call site (a `site` in scope) and
 * the step, so a failure reads "task 'psi_encrypt' failed on party bob ... (prog.c:57)". */
#undef SF__REMOTE_NI
#define SF__REMOTE_NI(target, fn, n, outs, ...)                                            \
    _Generic((target), sf_device: sf__remote_dev, sf_actor: sf__remote_actor)(            \
        (target), (fn), (sf_site){site.file, site.line, #fn}, (n), (outs),                 \
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

/* Every rank's status, agreed before a collective step: nonzero if any rank's `rc` is
 * (a rank that failed alone and returned would leave the others waiting in the gather). */
static int ranks_agree(sf_comm *c, int rc) {
    if (!c || sf_comm_size(c) == 1) return rc;
    sf_value *v = sf_value_i64(rc ? 1 : 0), *all = NULL;
    int e = v ? sf_comm_allreduce(c, v, SF_OP_MAX, &all) : SF_ENOMEM;
    int any = e ? 1 : (int)sf_value_as_i64(all, 0);
    sf_value_unref(&v);
    sf_value_unref(&all);
    return any;
}

/* The kernels' common part: this rank's block of argument 0 (IDs, or with `peer` a peer's
 * points) hashed to the group and/or raised by the party's key (argument 1) into *pts.
 * `what` non-NULL: a progress line from the leader. Returns SF_OK or sf_fail's status. */
static int raise_my_block(sf_task *t, sf_comm *c, const char *party, const char *peer,
                          const char *what, sf_value **pts) {
    unsigned char key[SC];
    sf_value *mine = NULL;
    sf_progress pr = {0};
    int64_t bad = -1;
    int rc;
    *pts = NULL;
    if (sodium_init() < 0) return sf_fail(t, "libsodium failed to initialise");
    if ((rc = party_key(t, c, 1, key))) return sf_fail(t, "party %s: spreading the PSI key: %s", party, sf_strerror(rc));
    if ((rc = my_block(t, c, 0, &mine))) {
        sodium_memzero(key, sizeof key);
        return peer ? sf_fail(t, "party %s: spreading %s's points: %s", party, peer, sf_strerror(rc))
                    : sf_fail(t, "party %s: spreading the IDs: %s", party, sf_strerror(rc));
    }
    int64_t n = sf_value_ndim(mine) >= 1 ? sf_value_dim(mine, 0) : 0;
    if (what) progress_begin(&pr, t, c, what, n);
    rc = peer ? raise_points(mine, key, pts, &bad, &pr) : hash_raise(mine, key, pts, &pr);
    if (!rc) sf__progress_update(&pr, (uint64_t)n);
    if (what) sf__progress_end(&pr, !rc);
    sodium_memzero(key, sizeof key);
    sf_value_unref(&mine);
    if (ranks_agree(c, rc)) { /* another rank failed: every rank stops before the gather */
        sf_value_unref(pts);
        if (!rc) return sf_fail(t, "party %s: another rank of the party failed", party);
    }
    if (rc == SF_EINVAL && peer)
        return sf_fail(t, "party %s: a point from %s is not a valid ristretto255 encoding (row %lld "
                       "of this rank's block): refusing the PSI", party, peer, (long long)bad);
    if (rc) return peer ? sf_fail(t, "party %s: raising %s's points: %s", party, peer, sf_strerror(rc))
                        : sf_fail(t, "party %s: hashing the IDs to the group: %s", party, sf_strerror(rc));
    return SF_OK;
}

/* Collective kernel: args (ids obj, key obj, party name); results: the raised points in a
 * fresh random order, and that order (which stays with the party). */
static int psi_encrypt(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int root = !c || sf_comm_rank(c) == 0, rc;
    const char *party = sf_arg_str(t, 2);
    sf_value *pts = NULL, *all = NULL;
    char what[160];
    snprintf(what, sizeof what, "PSI: hashing %s's IDs to the group and raising them", party);
    if ((rc = raise_my_block(t, c, party, NULL, what, &pts))) return rc;
    rc = gather_all(c, pts, &all);
    sf_value_unref(&pts);
    if (rc) return sf_fail(t, "party %s: gathering the points: %s", party, sf_strerror(rc));
    if (!root) return SF_OK;
    int64_t r1, r2;
    int dup = find_duplicate(all, &r1, &r2);
    if (dup) {
        sf_value_unref(&all);
        if (dup < 0) return sf_fail(t, "out of memory");
        /* the rows go to this party's own log only: the failure travels to the peers */
        sf_log(sf_task_ctx(t), "party %s: duplicated IDs in the PSI input (rows %lld and %lld hold the same ID)",
               party, (long long)r1, (long long)r2);
        return sf_fail(t, "party %s: duplicated IDs in the PSI input (two of its rows, named in its "
                       "log, hold the same ID); remove duplicates first", party);
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
    sf_value *pts = NULL, *all = NULL;
    char what[160];
    snprintf(what, sizeof what, "PSI: raising %s's points by %s's key", peer, party);
    if ((rc = raise_my_block(t, c, party, peer, what, &pts))) return rc;
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

/* ------------------------------------------------------------------ streamed, two parties */

/*
 * Two parties, memory bounded by the batch size (sf_psi and sf_psi_h5 with two sets). Each
 * party keeps an actor on its leader holding its key and four spill files (psi/spill.h):
 *   e      (E = H(id)^k, row)  sorted runs, one per batch of own IDs
 *   order  rows, in the order the own points were sent (sorted by E)
 *   down   (D = E^k_peer, row) sorted runs: own points raised by the peer, back in order
 *   peer   D of the peer's points, raised here, sorted runs
 * Phase 1: the party's ranks hash and raise each batch of its IDs (psi_hash_batch); the
 * leader sorts the batch by point and spills it. Phase 2, in rounds: each party sends
 * the next batch of its points in sorted order (a k-way merge of its runs: the order of
 * the values, which are pseudo-random, so it says nothing of the input order; duplicated
 * IDs meet in this merge); the other party's ranks raise it (psi_raise_batch) and the
 * result goes back (SF_PSI_ALL, and to the receiver) and is spilled by the party that
 * matches with it. SF_PSI_SIZE: nothing goes back in order; the counter's peer sends its
 * raised copies of the counter's points afterwards as one sorted stream. Phase 3: a
 * merge-join of down and peer gives the party's rows in the intersection in the order of
 * the doubly-raised points (the same at both parties), written in blocks. Memory per
 * party: a few batches of points plus one merge buffer per run (psi/spill.h).
 */

#define REC (PT + 8)

typedef struct party_state {
    char name[64];
    unsigned char key[SC];
    int64_t kind, width, rows, batch;
    int from_file;
    char file[512], dset[256];
    sf_h5_info info;
    sf_h5_read_opts ro;
    sf_value *ids;           /* the IDs, when given as an object */
    psi_spill e, order, down, peer;
    psi_merge *me, *mp;
    int64_t sent, paired, raised;
    unsigned char last[PT];  /* the last point sent, and its row: duplicates across batches */
    int64_t lastrow;
    sf_progress hash, raise;
} party_state;

static void party_fini(void *state) {
    party_state *p = state;
    psi_merge_free(&p->me);
    psi_merge_free(&p->mp);
    psi_spill_close(&p->e);
    psi_spill_close(&p->order);
    psi_spill_close(&p->down);
    psi_spill_close(&p->peer);
    sf_value_unref(&p->ids);
    sodium_memzero(p->key, sizeof p->key);
    if (p->hash.on) sf__progress_end(&p->hash, 0);
    if (p->raise.on) sf__progress_end(&p->raise, 0);
}

/* Constructor: args (source: 0 object / 1 file, ids object or file, dataset, party name,
 * batch rows, spill directory or ""). */
/* A failed constructor's state is freed without fini: release what it holds first. */
#define init_fail(t, p, ...) (party_fini(p), sf_fail((t), __VA_ARGS__))

static int party_init(sf_task *t) {
    party_state *p = sf_state(t);
    const sf_opts *o = &sf_task_ctx(t)->run->opts;
    char err[600];
    p->e.fd = p->order.fd = p->down.fd = p->peer.fd = -1;
    p->from_file = (int)sf_arg_i64(t, 0);
    snprintf(p->name, sizeof p->name, "%s", sf_arg_str(t, 3));
    p->batch = sf_arg_i64(t, 4);
    const char *dir = sf_arg_str(t, 5);
    if (!*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    if (sodium_init() < 0) return init_fail(t, p, "libsodium failed to initialise");
    crypto_core_ristretto255_scalar_random(p->key);
    if (p->from_file) {
        snprintf(p->file, sizeof p->file, "%s", sf_arg_str(t, 1));
        snprintf(p->dset, sizeof p->dset, "%s", sf_arg_str(t, 2));
        p->ro = (sf_h5_read_opts){.allow_external = o->h5_allow_external > 0, .max_bytes = o->h5_max_bytes};
        if (sf__h5_probe(p->file, p->dset, &p->ro, &p->info, err, sizeof err))
            return init_fail(t, p, "party %s: %s", p->name, err);
        int ok = (p->info.dtype == SF_I64 && p->info.ndim == 1) ||
                 (p->info.dtype == SF_U8 && p->info.ndim == 2 && p->info.shape[1] > 0);
        if (!ok)
            return init_fail(t, p, "party %s: %s:%s: PSI takes IDs as int64 [n], uint8 [n, L] or "
                           "fixed-length strings, not %s with %d dimension(s)", p->name, p->file,
                           p->dset, sf_dtype_name(p->info.dtype), p->info.ndim);
        p->kind = p->info.dtype == SF_I64 ? 1 : 2;
        p->width = p->kind == 1 ? 8 : p->info.shape[1];
        p->rows = p->info.shape[0];
    } else {
        const sf_value *ids = sf_arg(t, 1);
        if (!ids || id_layout(ids, &p->rows, &p->width, &p->kind))
            return init_fail(t, p, "party %s: PSI takes IDs as int64 [n] or uint8 [n, L], not %s with %d "
                           "dimension(s)", p->name, ids ? sf_dtype_name(sf_value_dtype(ids)) : "?",
                           ids ? sf_value_ndim(ids) : 0);
        p->ids = sf_value_ref((sf_value *)ids); /* (kept, never written) */
    }
    if (psi_spill_open(&p->e, dir, REC, err, sizeof err) || psi_spill_open(&p->order, dir, 8, err, sizeof err) ||
        psi_spill_open(&p->down, dir, REC, err, sizeof err) || psi_spill_open(&p->peer, dir, PT, err, sizeof err))
        return init_fail(t, p, "party %s: %s", p->name, err);
    return SF_OK;
}

/* (kind, width, rows) as int64 [3] */
static int psi_party_describe(sf_task *t) {
    party_state *p = sf_state(t);
    int64_t three = 3;
    sf_value *d = sf_value_new(SF_I64, 1, &three);
    if (!d) return sf_fail(t, "out of memory");
    int64_t *v = sf_value_data(d);
    v[0] = p->kind, v[1] = p->width, v[2] = p->rows;
    return sf_return(t, 0, d);
}

static int psi_party_key(sf_task *t) {
    party_state *p = sf_state(t);
    sf_value *k = sf_value_bytes(p->key, SC);
    return k ? sf_return(t, 0, k) : sf_fail(t, "out of memory");
}

static void party_progress(sf_task *t, sf_progress *pr, const char *what, int64_t total) {
    char tag[96];
    if (pr->on || pr->shown) return;
    sf__progress_begin(pr, sf__progress_tag(sf_task_ctx(t), tag, sizeof tag), what, (uint64_t)total, "rows");
}

/* IDs of batch b (arg 0) */
static int psi_read_batch(sf_task *t) {
    party_state *p = sf_state(t);
    int64_t b = sf_arg_i64(t, 0), row0 = b * p->batch;
    int64_t m = p->rows - row0 < p->batch ? p->rows - row0 : p->batch;
    if (m <= 0) return sf_fail(t, "party %s: batch %lld is past the %lld IDs", p->name, (long long)b, (long long)p->rows);
    int64_t shape[2] = {m, p->width};
    sf_value *v = p->kind == 1 ? sf_value_new(SF_I64, 1, shape) : sf_value_new(SF_U8, 2, shape);
    if (!v) return sf_fail(t, "out of memory");
    size_t rb = (size_t)p->width;
    if (p->from_file) {
        char err[600];
        if (sf__h5_read_rows(p->file, p->dset, &p->ro, &p->info, row0, m, sf_value_data(v), NULL, err, sizeof err)) {
            sf_value_unref(&v);
            return sf_fail(t, "party %s: %s", p->name, err);
        }
    } else {
        memcpy(sf_value_data(v), (const char *)sf_value_cdata(p->ids) + (size_t)row0 * rb, (size_t)m * rb);
    }
    return sf_return(t, 0, v);
}

/* This rank's first row within a batch of m rows split by sf_comm_scatter. */
static int64_t block_offset(sf_comm *c, int64_t m) {
    if (!c) return 0;
    int64_t k = sf_comm_size(c), r = sf_comm_rank(c), q = m / k, x = m % k;
    return r * q + (r < x ? r : x);
}

/* Points [m, 32] as records [m, 40] of (point, row0 + i), sorted by point. */
static sf_value *sorted_records(const sf_value *pts, int64_t row0) {
    int64_t m = sf_value_dim(pts, 0), shape[2] = {m, REC};
    sf_value *v = sf_value_new(SF_U8, 2, shape);
    if (!v) return NULL;
    unsigned char *d = sf_value_data(v);
    const unsigned char *s = sf_value_cdata(pts);
    for (int64_t i = 0; i < m; i++) {
        int64_t row = row0 + i;
        memcpy(d + i * REC, s + i * PT, PT);
        memcpy(d + i * REC + PT, &row, 8);
    }
    psi_sort_records(d, m, REC);
    return v;
}

/* Collective kernel: args (ids of a batch, key, party name, the batch's first row, its
 * rows): the batch hashed to the group and raised to the key, as (point, row) records,
 * each rank's block sorted by point (the leader merges the blocks). */
static int psi_hash_batch(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int rc;
    const char *party = sf_arg_str(t, 2);
    int64_t row0 = sf_arg_i64(t, 3), m = sf_arg_i64(t, 4);
    sf_value *pts = NULL, *recs = NULL, *all = NULL;
    if ((rc = raise_my_block(t, c, party, NULL, NULL, &pts))) return rc;
    recs = sorted_records(pts, row0 + block_offset(c, m));
    sf_value_unref(&pts);
    if (ranks_agree(c, recs ? 0 : SF_ENOMEM)) {
        sf_value_unref(&recs);
        return sf_fail(t, "party %s: out of memory sorting a batch (on this rank or another)", party);
    }
    rc = gather_all(c, recs, &all);
    sf_value_unref(&recs);
    if (rc) return sf_fail(t, "party %s: gathering the points: %s", party, sf_strerror(rc));
    return !c || sf_comm_rank(c) == 0 ? sf_return(t, 0, all) : SF_OK;
}

/* Collective kernel: args (a batch of the peer's points, key, party, peer, what): the
 * batch raised to this party's key; results: with what & 1, in the batch's order (to go
 * back to the peer); with what & 2, each rank's block sorted (kept here). */
static int psi_raise_batch(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    int rc, root = !c || sf_comm_rank(c) == 0;
    const char *party = sf_arg_str(t, 2), *peer = sf_arg_str(t, 3);
    int64_t what = sf_arg_i64(t, 4);
    sf_value *pts = NULL, *all = NULL;
    if ((rc = raise_my_block(t, c, party, peer, NULL, &pts))) return rc;
    int out = 0;
    if (what & 1) {
        rc = gather_all(c, pts, &all);
        if (!rc && root) rc = sf_return(t, out, all);
        out++;
    }
    if (!rc && (what & 2)) {
        sf_value *s = sf_value_copy(pts);
        if (s) psi_sort_records(sf_value_data(s), sf_value_dim(s, 0), PT);
        rc = ranks_agree(c, s ? 0 : SF_ENOMEM) ? SF_ENOMEM : SF_OK;
        if (!rc) rc = gather_all(c, s, &all);
        sf_value_unref(&s);
        if (!rc && root) rc = sf_return(t, out, all);
    }
    sf_value_unref(&pts);
    if (rc) return sf_fail(t, "party %s: gathering the points: %s", party, sf_strerror(rc));
    return SF_OK;
}

/* Collective kernel: args (records [m, 40]): each rank's block sorted by point. */
static int psi_sort_batch(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    sf_value *mine = NULL, *all = NULL;
    int rc = my_block(t, c, 0, &mine);
    if (!rc && c && sf_comm_size(c) > 1) psi_sort_records(sf_value_data(mine), sf_value_dim(mine, 0), REC);
    else if (!rc) { /* (the leader's own argument is read-only: sort a copy) */
        sf_value *cp = sf_value_copy(mine);
        sf_value_unref(&mine);
        mine = cp;
        if (!mine) rc = SF_ENOMEM;
        else psi_sort_records(sf_value_data(mine), sf_value_dim(mine, 0), REC);
    }
    if (ranks_agree(c, rc)) rc = rc ? rc : SF_ETASK;
    if (!rc) rc = gather_all(c, mine, &all);
    sf_value_unref(&mine);
    if (rc) return sf_fail(t, "sorting a batch of points: %s", sf_strerror(rc));
    return !c || sf_comm_rank(c) == 0 ? sf_return(t, 0, all) : SF_OK;
}

/* Spill records [m, rec] made of sorted blocks (the ranks'), merged into one run. */
static int spill_blocks(party_state *p, psi_spill *s, const sf_value *v, size_t rec, char *err, size_t el) {
    int64_t m = sf_value_ndim(v) == 2 ? sf_value_dim(v, 0) : -1;
    if (m < 0 || sf_value_dtype(v) != SF_U8 || sf_value_dim(v, 1) != (int64_t)rec) {
        snprintf(err, el, "a batch of points of an unexpected shape");
        return -1;
    }
    unsigned char *recs = malloc((size_t)(m ? m : 1) * rec);
    if (!recs) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    if (m) memcpy(recs, sf_value_cdata(v), (size_t)m * rec);
    int rc = psi_merge_blocks(recs, m, rec, err, el);
    if (!rc) rc = psi_spill_run(s, recs, m, 0, err, el);
    free(recs);
    (void)p;
    return rc;
}

/* args (records of batch b as (point, row), sorted by each rank): spilled as one run */
static int psi_spill_own(sf_task *t) {
    party_state *p = sf_state(t);
    char err[400], what[160];
    if (spill_blocks(p, &p->e, sf_arg(t, 0), REC, err, sizeof err)) return sf_fail(t, "party %s: %s", p->name, err);
    snprintf(what, sizeof what, "PSI: hashing %s's IDs to the group and raising them", p->name);
    party_progress(t, &p->hash, what, p->rows);
    sf__progress_update(&p->hash, (uint64_t)p->e.nrecs);
    if (p->e.nrecs == p->rows && p->hash.on) sf__progress_end(&p->hash, 1);
    return sf_return(t, 0, sf_value_i64(sf_value_dim(sf_arg(t, 0), 0)));
}

/* The next batch of own points in sorted order (their rows go to `order`). */
static int psi_next_sorted(sf_task *t) {
    party_state *p = sf_state(t);
    char err[400];
    if (!p->me && !(p->me = psi_merge_new(&p->e, err, sizeof err))) return sf_fail(t, "party %s: %s", p->name, err);
    int64_t m = p->rows - p->sent < p->batch ? p->rows - p->sent : p->batch;
    sf_value *v = points_new(m);
    int64_t *rows = malloc(sizeof *rows * (size_t)(m ? m : 1));
    if (!v || !rows) {
        sf_value_unref(&v);
        free(rows);
        return sf_fail(t, "out of memory");
    }
    unsigned char *d = sf_value_data(v);
    int64_t k = 0;
    for (const unsigned char *r; k < m && (r = psi_merge_peek(p->me)); k++, psi_merge_next(p->me)) {
        int64_t row;
        memcpy(&row, r + PT, 8);
        if (p->sent + k > 0 && !memcmp(p->last, r, PT)) {
            int64_t a = p->lastrow < row ? p->lastrow : row, b = p->lastrow < row ? row : p->lastrow;
            sf_value_unref(&v);
            free(rows);
            /* the rows go to this party's own log only: the failure travels to the peer */
            sf_log(sf_task_ctx(t), "party %s: duplicated IDs in the PSI input (rows %lld and %lld hold the same ID)",
                   p->name, (long long)a, (long long)b);
            return sf_fail(t, "party %s: duplicated IDs in the PSI input (two of its rows, named in its "
                           "log, hold the same ID); remove duplicates first", p->name);
        }
        memcpy(d + k * PT, r, PT);
        memcpy(p->last, r, PT);
        rows[k] = p->lastrow = row;
    }
    int rc = k == m ? psi_spill_run(&p->order, rows, m, 0, err, sizeof err) : -1;
    free(rows);
    if (rc) {
        sf_value_unref(&v);
        return sf_fail(t, "party %s: %s", p->name,
                       k == m ? err : psi_merge_failed(p->me) ? psi_merge_failed(p->me) : "points lost in the merge");
    }
    p->sent += m;
    if (p->sent == p->rows) psi_merge_free(&p->me); /* (all sent: its buffers go) */
    return sf_return(t, 0, v);
}

/* args (own points raised by the peer, in the order sent): records (point, row), the rows
 * paired through `order` (to be sorted by the party's ranks, psi_sort_batch). */
static int psi_pair_rows(sf_task *t) {
    party_state *p = sf_state(t);
    const sf_value *pts = sf_arg(t, 0);
    int64_t m = sf_value_ndim(pts) == 2 ? sf_value_dim(pts, 0) : -1, shape[2] = {m, REC};
    /* (from the peer: its shape is checked before any byte of it is read) */
    if (m < 0 || sf_value_dtype(pts) != SF_U8 || sf_value_dim(pts, 1) != PT || m != p->sent - p->paired)
        return sf_fail(t, "party %s: the peer returned %s with %d dimension(s) where %lld points "
                       "were due: refusing the PSI", p->name, sf_dtype_name(sf_value_dtype(pts)),
                       sf_value_ndim(pts), (long long)(p->sent - p->paired));
    sf_value *v = sf_value_new(SF_U8, 2, shape);
    int64_t *rows = malloc(sizeof *rows * (size_t)(m ? m : 1));
    char err[400] = "out of memory";
    int rc = !v || !rows ? -1 : psi_spill_read(&p->order, p->paired, m, rows, err, sizeof err);
    unsigned char *d = rc ? NULL : sf_value_data(v);
    const unsigned char *s = sf_value_cdata(pts);
    for (int64_t i = 0; !rc && i < m; i++) {
        memcpy(d + i * REC, s + i * PT, PT);
        memcpy(d + i * REC + PT, &rows[i], 8);
    }
    free(rows);
    if (rc) {
        sf_value_unref(&v);
        return sf_fail(t, "party %s: %s", p->name, err);
    }
    p->paired += m;
    return sf_return(t, 0, v);
}

/* args (records (point, row) sorted by blocks; or, SIZE, points [m, 32] in sorted order):
 * spilled as one run of `down`. */
static int psi_spill_returned(sf_task *t) {
    party_state *p = sf_state(t);
    const sf_value *v = sf_arg(t, 0);
    char err[400];
    int64_t m = sf_value_ndim(v) == 2 ? sf_value_dim(v, 0) : 0;
    if (sf_value_ndim(v) == 2 && sf_value_dim(v, 1) == PT && sf_value_dtype(v) == SF_U8) { /* points without rows */
        unsigned char *recs = malloc((size_t)(m ? m : 1) * REC);
        if (!recs) return sf_fail(t, "out of memory");
        for (int64_t i = 0; i < m; i++) {
            memcpy(recs + i * REC, (const unsigned char *)sf_value_cdata(v) + i * PT, PT);
            memset(recs + i * REC + PT, 0xff, 8); /* row -1 */
        }
        int rc = psi_spill_run(&p->down, recs, m, 1, err, sizeof err);
        free(recs);
        if (rc) return sf_fail(t, "party %s: %s", p->name, err);
    } else if (spill_blocks(p, &p->down, v, REC, err, sizeof err)) {
        return sf_fail(t, "party %s: %s", p->name, err);
    }
    return sf_return(t, 0, sf_value_i64(m));
}

/* args (the peer's points raised here, sorted by blocks, or in its order when not kept;
 * keep 1/0, peer name, peer rows): spilled when kept; progress either way. */
static int psi_spill_raised(sf_task *t) {
    party_state *p = sf_state(t);
    const sf_value *pts = sf_arg(t, 0);
    int64_t m = sf_value_ndim(pts) == 2 ? sf_value_dim(pts, 0) : -1;
    char err[400], what[160];
    if (m != sf_arg_i64(t, 4))
        return sf_fail(t, "party %s: %s sent a batch of %lld points where %lld were due: refusing the PSI",
                       p->name, sf_arg_str(t, 2), (long long)m, (long long)sf_arg_i64(t, 4));
    if (sf_arg_i64(t, 1) && spill_blocks(p, &p->peer, pts, PT, err, sizeof err))
        return sf_fail(t, "party %s: %s", p->name, err);
    p->raised += m;
    snprintf(what, sizeof what, "PSI: raising %s's points by %s's key", sf_arg_str(t, 2), p->name);
    party_progress(t, &p->raise, what, sf_arg_i64(t, 3));
    sf__progress_update(&p->raise, (uint64_t)p->raised);
    if (p->raised == sf_arg_i64(t, 3) && p->raise.on) sf__progress_end(&p->raise, 1);
    return sf_return(t, 0, sf_value_i64(m));
}

/* SIZE: the next batch of the peer's points raised here, in sorted order. */
static int psi_next_raised(sf_task *t) {
    party_state *p = sf_state(t);
    char err[400];
    if (!p->mp && !(p->mp = psi_merge_new(&p->peer, err, sizeof err))) return sf_fail(t, "party %s: %s", p->name, err);
    int64_t m = sf_arg_i64(t, 0);
    sf_value *v = points_new(m);
    if (!v) return sf_fail(t, "out of memory");
    int64_t k = 0;
    for (const unsigned char *r; k < m && (r = psi_merge_peek(p->mp)); k++, psi_merge_next(p->mp))
        memcpy((unsigned char *)sf_value_data(v) + k * PT, r, PT);
    if (k < m) {
        sf_value_unref(&v);
        return sf_fail(t, "party %s: %s", p->name, psi_merge_failed(p->mp) ? psi_merge_failed(p->mp) : "points lost in the merge");
    }
    return sf_return(t, 0, v);
}

/* args (index file, dataset; "" for an in-memory index, or to count only): the merge-join
 * of down and peer. Results: the index (an object, or the count when written to a file)
 * and the count; with one result, the count alone. */
static int psi_match(sf_task *t) {
    party_state *p = sf_state(t);
    const char *file = sf_arg_str(t, 0), *dset = sf_arg_str(t, 1);
    int count_only = sf_nreturns(t) == 1;
    char err[700] = "";
    if (p->down.nrecs != sf_arg_i64(t, 2) || p->peer.nrecs != sf_arg_i64(t, 3))
        return sf_fail(t, "party %s: %lld of its points came back and %lld of the peer's were raised, "
                       "where %lld and %lld were due: refusing the PSI", p->name, (long long)p->down.nrecs,
                       (long long)p->peer.nrecs, (long long)sf_arg_i64(t, 2), (long long)sf_arg_i64(t, 3));
    psi_merge *a = psi_merge_new(&p->down, err, sizeof err), *b = a ? psi_merge_new(&p->peer, err, sizeof err) : NULL;
    h5out_file *f = NULL;
    h5out_dset *ds = NULL;
    int64_t cap = 0, c = 0, flushed = 0, *hits = NULL, blk = 65536;
    int rc = a && b ? 0 : -1;
    if (!rc && !count_only && *file) {
        if (!(f = h5out_create(file, err, sizeof err)) ||
            !(ds = h5out_dataset(f, *dset ? dset : "index", H5OUT_INT64, 0, -1, err, sizeof err)))
            rc = -1;
        if (!rc && !(hits = malloc(sizeof *hits * (size_t)blk))) rc = -1, snprintf(err, sizeof err, "out of memory");
        cap = blk;
    }
    const unsigned char *x, *y;
    while (!rc && (x = psi_merge_peek(a)) && (y = psi_merge_peek(b))) {
        int d = memcmp(x, y, PT);
        if (d < 0) {
            psi_merge_next(a);
            continue;
        }
        if (d > 0) {
            psi_merge_next(b);
            continue;
        }
        if (!count_only) {
            if (c - flushed == cap) {
                if (f) {
                    if (h5out_write(ds, flushed, c - flushed, hits, err, sizeof err)) rc = -1;
                    flushed = c;
                } else {
                    int64_t nc = cap ? 2 * cap : 4096;
                    int64_t *nh = realloc(hits, sizeof *nh * (size_t)nc);
                    if (!nh) rc = -1, snprintf(err, sizeof err, "out of memory");
                    else hits = nh, cap = nc;
                }
                if (rc) break;
            }
            memcpy(&hits[c - flushed], x + PT, 8);
        }
        c++;
        psi_merge_next(a);
        psi_merge_next(b);
    }
    if (!rc && ((a && psi_merge_failed(a)) || (b && psi_merge_failed(b))))
        rc = -1, snprintf(err, sizeof err, "%s", psi_merge_failed(a) ? psi_merge_failed(a) : psi_merge_failed(b));
    psi_merge_free(&a);
    psi_merge_free(&b);
    sf_value *idx = NULL;
    if (!rc && f) {
        sf_ctx *sf = sf_task_ctx(t);
        char when[64];
        time_t now = time(NULL);
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        if ((c > flushed && h5out_write(ds, flushed, c - flushed, hits, err, sizeof err)) ||
            h5out_attr(ds, "program", sf_argv(sf)[0] ? sf_argv(sf)[0] : "?", err, sizeof err) ||
            h5out_attr(ds, "mode", sf_mode_name(sf_get_distribution_mode(sf)), err, sizeof err) ||
            h5out_attr(ds, "party", p->name, err, sizeof err) || h5out_attr(ds, "time", when, err, sizeof err))
            rc = -1;
        if (c == 0 && !rc && h5out_write(ds, 0, 0, hits, err, sizeof err)) rc = -1;
        if (!rc && h5out_commit(&f, err, sizeof err)) rc = -1;
        if (!rc) idx = sf_value_i64(c);
    } else if (!rc && !count_only) {
        idx = sf_value_new(SF_I64, 1, &c);
        if (!idx) rc = -1, snprintf(err, sizeof err, "out of memory");
        else if (c) memcpy(sf_value_data(idx), hits, sizeof *hits * (size_t)c);
    }
    if (f) h5out_abort(&f);
    free(hits);
    if (rc) return sf_fail(t, "party %s: %s", p->name, err);
    if (count_only) return sf_return(t, 0, sf_value_i64(c));
    if ((rc = sf_return(t, 0, idx))) return rc;
    return sf_return(t, 1, sf_value_i64(c));
}

static const sf_method party_methods[] = {
    {"describe", psi_party_describe}, {"key", psi_party_key},       {"read", psi_read_batch},
    {"spill_e", psi_spill_own},   {"next_e", psi_next_sorted},     {"spill_down", psi_spill_returned},
    {"spill_peer", psi_spill_raised}, {"next_peer", psi_next_raised}, {"match", psi_match},
    {"pair_rows", psi_pair_rows},
    {NULL, NULL},
};
static const sf_actor_class party_class = {"psi_party", sizeof(party_state), party_init, party_fini,
                                           party_methods};

/* What the streamed run reads and writes per party: an object of IDs (ids[i]) or a file,
 * and an in-memory index (idx[i]) or an index file. */
typedef struct stream_io {
    const sf_obj *ids;                 /* NULL: from files */
    const sf_psi_h5_party *files;      /* NULL: from objects */
} stream_io;

#define ACT_RELEASE(o)        \
    do {                      \
        if ((o).id) sf_release(o); \
        (o).id = 0;           \
    } while (0)

static int stream2(sf_site site, sf_ctx *sf, const sf_device *devs, const stream_io *io,
                   const char *const *name, const sf_device *leader, const sf_psi_options *opts,
                   int recv, sf_obj *idx, int64_t *size) {
    sf_psi_output out = opts->output;
    int64_t batch = opts->batch_rows > 0 ? opts->batch_rows : SF_PSI_BATCH_DEFAULT;
    const char *tmpdir = opts->tmpdir ? opts->tmpdir : "";
    sf_actor a[2];
    sf_obj desc[2], key[2];
    int64_t rows[2] = {0, 0}, nb[2];
    int rc = SF_OK;
    for (int i = 0; i < 2; i++) {
        if (io->ids)
            a[i] = sf__actor_new(leader[i], &party_class, (sf_site){site.file, site.line, "psi_party"},
                                 SF__ITEMS(SF_I64(0), SF_OBJ(io->ids[i]), SF_STR(""), SF_STR(name[i]),
                                           SF_I64(batch), SF_STR(tmpdir), SF__END), 6);
        else
            a[i] = sf__actor_new(leader[i], &party_class, (sf_site){site.file, site.line, "psi_party"},
                                 SF__ITEMS(SF_I64(1), SF_STR(io->files[i].ids_file),
                                           SF_STR(io->files[i].ids_dataset ? io->files[i].ids_dataset : "ids"),
                                           SF_STR(name[i]), SF_I64(batch), SF_STR(tmpdir), SF__END), 6);
        desc[i] = SF_REMOTE(a[i], psi_party_describe);
        key[i] = SF_REMOTE(a[i], psi_party_key);
    }
    const int64_t *d[2] = {NULL, NULL};
    for (int i = 0; i < 2 && !rc; i++) {
        sf_value *v;
        if ((rc = sf_get(sf, desc[i], &v))) break;
        if (sf_value_dtype(v) != SF_I64 || sf_value_nelems(v) != 3 ||
            ((const int64_t *)sf_value_cdata(v))[2] < 0) { /* (the peer's: checked before use) */
            fprintf(stderr, "sfmpi: sf_psi at %s:%d: party %s described its IDs as %s [%zu]: refusing "
                    "the PSI\n", site.file, site.line, name[i], sf_dtype_name(sf_value_dtype(v)), sf_value_nelems(v));
            rc = SF_EINVAL;
            break;
        }
        d[i] = sf_value_cdata(v);
        rows[i] = d[i][2];
        nb[i] = rows[i] / batch + (rows[i] % batch != 0);
    }
    if (!rc && (d[0][0] != d[1][0] || d[0][1] != d[1][1])) {
        fprintf(stderr, "sfmpi: sf_psi at %s:%d: the parties' IDs differ in type: %s has %s "
                "of width %lld, %s has %s of width %lld\n", site.file, site.line, name[0],
                kind_name(d[0][0]), (long long)d[0][1], name[1], kind_name(d[1][0]), (long long)d[1][1]);
        rc = SF_EINVAL;
    }
    /* Each party's actor calls form a chain (every call takes the last one's result), so a
     * failure anywhere (a batch not read, a point refused, a duplicate) fails the
     * party's match, and no index is written from partial data. */
    sf_obj chain[2] = {desc[0], desc[1]};
    desc[0].id = desc[1].id = 0;
#define STEP(i, call)                    \
    do {                                 \
        sf_obj next_ = (call);           \
        ACT_RELEASE(chain[i]);           \
        chain[i] = next_;                \
    } while (0)
    /* phase 1: every batch of own IDs hashed by the party's ranks and spilled sorted */
    for (int64_t b = 0; !rc && b < (nb[0] > nb[1] ? nb[0] : nb[1]); b++)
        for (int i = 0; i < 2; i++) {
            if (b >= nb[i]) continue;
            sf_obj r = SF_REMOTE(a[i], psi_read_batch, SF_I64(b), SF_OBJ(chain[i]));
            int64_t m = rows[i] - b * batch < batch ? rows[i] - b * batch : batch;
            sf_obj p = SF_REMOTE(devs[i], psi_hash_batch, SF_OBJ(r), SF_OBJ(key[i]), SF_STR(name[i]),
                                 SF_I64(b * batch), SF_I64(m));
            STEP(i, SF_REMOTE(a[i], psi_spill_own, SF_OBJ(p), SF_OBJ(chain[i])));
            sf_release(r);
            sf_release(p);
        }
    /* phase 2: in rounds, both parties' next batches cross, are raised, come back */
    int keep_peer[2], back[2];
    for (int i = 0; i < 2; i++) {
        keep_peer[i] = out != SF_PSI_RECEIVER || i == recv; /* i keeps its raised copy of the peer's */
        back[i] = out == SF_PSI_ALL || (out == SF_PSI_RECEIVER && i == recv);
    }
    for (int64_t s = 0; !rc && s < (nb[0] > nb[1] ? nb[0] : nb[1]); s++) {
        sf_obj e[2] = {{sf, 0}, {sf, 0}}, mv[2] = {{sf, 0}, {sf, 0}}, dd[2][2] = {{{sf, 0}, {sf, 0}}, {{sf, 0}, {sf, 0}}};
        sf_obj bk[2] = {{sf, 0}, {sf, 0}};
        for (int i = 0; i < 2; i++)
            if (s < nb[i]) e[i] = SF_REMOTE(a[i], psi_next_sorted, SF_OBJ(chain[i]));
        for (int i = 0; i < 2; i++) /* both moves before either raise: the parties work at once */
            if (s < nb[i]) mv[i] = sf__to(e[i], leader[1 - i], (sf_site){site.file, site.line, "psi_send"});
        /* i's points raised by the other party: dd[i][0] in order (back to i), dd[i][1]
         * sorted by the raiser's ranks (kept by the raiser) */
        for (int i = 0; i < 2; i++) {
            if (s >= nb[i]) continue;
            int what = (back[i] ? 1 : 0) | (keep_peer[1 - i] ? 2 : 0), nr = (what & 1) + (what >> 1);
            sf_obj o[2] = {{sf, 0}, {sf, 0}};
            SF_REMOTE_N(devs[1 - i], psi_raise_batch, nr, o, SF_OBJ(mv[i]), SF_OBJ(key[1 - i]),
                        SF_STR(name[1 - i]), SF_STR(name[i]), SF_I64(what));
            if (what & 1) dd[i][0] = o[0];
            if (what & 2) dd[i][1] = o[nr - 1];
            if (what == 0) dd[i][0] = o[0]; /* (cannot happen: someone learns) */
        }
        for (int i = 0; i < 2; i++)
            if (s < nb[i] && back[i]) bk[i] = sf__to(dd[i][0], leader[i], (sf_site){site.file, site.line, "psi_send"});
        for (int i = 0; i < 2; i++) {
            if (s >= nb[i]) continue;
            sf_obj raised = keep_peer[1 - i] ? dd[i][1] : dd[i][0];
            int64_t m = rows[i] - s * batch < batch ? rows[i] - s * batch : batch;
            STEP(1 - i, SF_REMOTE(a[1 - i], psi_spill_raised, SF_OBJ(raised), SF_I64(keep_peer[1 - i]),
                                  SF_STR(name[i]), SF_I64(rows[i]), SF_I64(m), SF_OBJ(chain[1 - i])));
        }
        for (int i = 0; i < 2; i++) {
            if (s >= nb[i] || !back[i]) continue;
            sf_obj pr = SF_REMOTE(a[i], psi_pair_rows, SF_OBJ(bk[i]), SF_OBJ(chain[i]));
            sf_obj so = SF_REMOTE(devs[i], psi_sort_batch, SF_OBJ(pr));
            STEP(i, SF_REMOTE(a[i], psi_spill_returned, SF_OBJ(so), SF_OBJ(chain[i])));
            sf_release(pr);
            sf_release(so);
        }
        for (int i = 0; i < 2; i++) {
            ACT_RELEASE(e[i]);
            ACT_RELEASE(mv[i]);
            ACT_RELEASE(dd[i][0]);
            ACT_RELEASE(dd[i][1]);
            ACT_RELEASE(bk[i]);
        }
    }
    /* SIZE: the counter (party 0) gets its points raised by party 1, as one sorted stream */
    for (int64_t s = 0; !rc && out == SF_PSI_SIZE && s < nb[0]; s++) {
        int64_t m = rows[0] - s * batch < batch ? rows[0] - s * batch : batch;
        sf_obj f = SF_REMOTE(a[1], psi_next_raised, SF_I64(m), SF_OBJ(chain[1]));
        sf_obj mv = sf__to(f, leader[0], (sf_site){site.file, site.line, "psi_send"});
        STEP(0, SF_REMOTE(a[0], psi_spill_returned, SF_OBJ(mv), SF_OBJ(chain[0])));
        sf_release(f);
        sf_release(mv);
    }
#undef STEP
    /* phase 3: the merge-join at each party that learns */
    sf_obj cnt[2] = {{sf, 0}, {sf, 0}}, done[4], tokens[2];
    int nd = 0, nt = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        if (out == SF_PSI_SIZE ? i != 0 : !back[i]) {
            done[nd++] = chain[i];
            continue;
        }
        const char *file = io->files ? io->files[i].index_file : "";
        const char *dset = io->files && io->files[i].index_dataset ? io->files[i].index_dataset : "index";
        /* the peer's last step, moved here: a failure at the peer fails this match too */
        sf_obj token = sf__to(chain[1 - i], leader[i], (sf_site){site.file, site.line, "psi_send"});
        tokens[nt++] = token;
        if (out == SF_PSI_SIZE) {
            cnt[i] = SF_REMOTE(a[i], psi_match, SF_STR(""), SF_STR(""), SF_I64(rows[i]), SF_I64(rows[1 - i]),
                               SF_OBJ(token), SF_OBJ(chain[i]));
        } else {
            sf_obj o[2];
            SF_REMOTE_N(a[i], psi_match, 2, o, SF_STR(file ? file : ""), SF_STR(dset), SF_I64(rows[i]),
                        SF_I64(rows[1 - i]), SF_OBJ(token), SF_OBJ(chain[i]));
            idx[i] = o[0], cnt[i] = o[1];
            done[nd++] = o[0];
        }
        done[nd++] = cnt[i];
    }
    if (!rc) rc = sf_wait(sf, done, nd);
    int reveal = out != SF_PSI_RECEIVER;
    if (!rc && reveal) {
        sf_value *cv;
        if (!(rc = sf_get(sf, cnt[0], &cv)) && size) *size = sf_value_as_i64(cv, 0);
    }
    release_all(tokens, nt);
    for (int i = 0; i < 2; i++) {
        ACT_RELEASE(desc[i]);
        ACT_RELEASE(key[i]);
        ACT_RELEASE(cnt[i]);
        ACT_RELEASE(chain[i]);
        if (io->files) ACT_RELEASE(idx[i]);
        (void)sf__kill(a[i], (sf_site){site.file, site.line, "sf_kill"});
    }
    return rc;
}

/* The checks both entry points make before any call: the sets, the receiver. */
static int check_call(sf_site site, const char *fn, sf_ctx *sf, const sf_device *devs, int n,
                      const sf_psi_options *opts, int *recv) {
#define PSI_USAGE(...)                                                              \
    do {                                                                            \
        fprintf(stderr, "sfmpi: %s at %s:%d: ", fn, site.file, site.line);          \
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
    *recv = -1;
    if (opts->output == SF_PSI_RECEIVER) {
        for (int i = 0; i < n; i++)
            if (opts->receiver && !strcmp(opts->receiver, sf_party_name_of(sf, devs[i].party))) *recv = i;
        if (*recv < 0)
            PSI_USAGE("the receiver '%s' is not one of the parties whose sets are given",
                      opts->receiver ? opts->receiver : "(none)");
    } else if (opts->output != SF_PSI_ALL && opts->output != SF_PSI_SIZE) {
        PSI_USAGE("unknown output mode %d", (int)opts->output);
    }
    if (opts->batch_rows < 0)
        PSI_USAGE("batch_rows is %lld: give a positive number of rows, or 0 for the default (%d)",
                  (long long)opts->batch_rows, SF_PSI_BATCH_DEFAULT);
#undef PSI_USAGE
    return SF_OK;
}

/* n >= 3 parties, in memory: the ID types must agree, then psin. */
static int run_n(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_obj *ids, int n,
                 const char *const *name, const sf_device *leader, sf_psi_output out, int recv,
                 sf_obj *idx, int64_t *size) {
    sf_obj desc[SF_PSI_MAX_PARTIES];
    for (int i = 0; i < n; i++) desc[i] = SF_REMOTE(leader[i], psi_describe, SF_OBJ(ids[i]), SF_STR(name[i]));
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
    if (!rc) rc = psin(site, sf, devs, ids, n, name, leader, out, recv, idx, size);
    release_all(desc, n);
    return rc;
}

int sf__psi(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_obj *ids, int n,
            const sf_psi_options *opts, sf_obj *index, int64_t *size) {
    static const sf_psi_options defaults;
    if (!opts) opts = &defaults;
    if (size) *size = -1;
    for (int i = 0; index && i < n; i++) index[i] = (sf_obj){sf, 0};
    int recv, rc = check_call(site, "sf_psi", sf, devs, n, opts, &recv);
    if (rc) return rc;
    const char *name[SF_PSI_MAX_PARTIES];
    sf_device leader[SF_PSI_MAX_PARTIES];
    sf_obj idx[SF_PSI_MAX_PARTIES];
    for (int i = 0; i < n; i++) {
        name[i] = sf_party_name_of(sf, devs[i].party);
        leader[i] = sf_pyu(sf, name[i]);
        idx[i] = (sf_obj){sf, 0};
    }
    if (n == 2) {
        stream_io io = {ids, NULL};
        rc = stream2(site, sf, devs, &io, name, leader, opts, recv, idx, size);
    } else {
        rc = run_n(site, sf, devs, ids, n, name, leader, opts->output, recv, idx, size);
    }
    for (int i = 0; i < n; i++) {
        if (idx[i].id && (rc || !index)) sf_release(idx[i]);
        else if (idx[i].id) index[i] = idx[i];
    }
    return rc;
}

/* Leader task: args (index file, party name): the index's directory must exist and be
 * writable, checked before any PSI work (rather than found out after it). */
static int psi_check_index(sf_task *t) {
    const char *file = sf_arg_str(t, 0), *party = sf_arg_str(t, 1);
    char dir[1024];
    const char *slash = strrchr(file, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - file) >= sizeof dir)
        return sf_fail(t, "party %s: the index path is too long (%zu bytes)", party, strlen(file));
    else snprintf(dir, sizeof dir, "%.*s", slash == file ? 1 : (int)(slash - file), file);
    struct stat st;
    if (stat(dir, &st) != 0)
        return sf_fail(t, "party %s: %s: cannot write the index there: directory %s: %s", party, file, dir,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode)) return sf_fail(t, "party %s: %s: %s is not a directory", party, file, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return sf_fail(t, "party %s: %s: cannot write the index there: directory %s: %s", party, file, dir,
                       strerror(errno));
    return sf_return(t, 0, sf_value_i64(1));
}

int sf__psi_h5(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_psi_h5_party *files, int n,
               const sf_psi_options *opts, int64_t *size) {
    static const sf_psi_options defaults;
    if (!opts) opts = &defaults;
    if (size) *size = -1;
    int recv, rc = check_call(site, "sf_psi_h5", sf, devs, n, opts, &recv);
    if (rc) return rc;
    const char *name[SF_PSI_MAX_PARTIES] = {0};
    sf_device leader[SF_PSI_MAX_PARTIES] = {{0}};
    sf_obj idx[SF_PSI_MAX_PARTIES];
    for (int i = 0; i < n; i++) {
        name[i] = sf_party_name_of(sf, devs[i].party);
        leader[i] = sf_pyu(sf, name[i]);
        idx[i] = (sf_obj){sf, 0};
        int learns = opts->output == SF_PSI_ALL || (opts->output == SF_PSI_RECEIVER && i == recv);
        if (!files[i].ids_file || !*files[i].ids_file || (learns && (!files[i].index_file || !*files[i].index_file))) {
            fprintf(stderr, "sfmpi: sf_psi_h5 at %s:%d: party %s: no %s file given\n", site.file,
                    site.line, name[i], !files[i].ids_file || !*files[i].ids_file ? "ID" : "index");
            return SF_EINVAL;
        }
    }
    sf_obj chk[SF_PSI_MAX_PARTIES];
    int nc = 0;
    for (int i = 0; i < n; i++)
        if (opts->output == SF_PSI_ALL || (opts->output == SF_PSI_RECEIVER && i == recv))
            chk[nc++] = SF_REMOTE(leader[i], psi_check_index, SF_STR(files[i].index_file), SF_STR(name[i]));
    rc = nc ? sf_wait(sf, chk, nc) : SF_OK;
    release_all(chk, nc);
    if (rc) return rc;
    if (n == 2) {
        stream_io io = {NULL, files};
        return stream2(site, sf, devs, &io, name, leader, opts, recv, idx, size);
    }
    /* three or more parties: in memory (memory grows with the sets; see psi.h) */
    sf_obj ids[SF_PSI_MAX_PARTIES] = {{0}}, w[SF_PSI_MAX_PARTIES];
    int nw = 0;
    for (int i = 0; i < n; i++)
        ids[i] = sf__h5_read(devs[i], files[i].ids_file, files[i].ids_dataset ? files[i].ids_dataset : "ids",
                             (sf_site){site.file, site.line, "sf_h5_read"});
    rc = run_n(site, sf, devs, ids, n, name, leader, opts->output, recv, idx, size);
    for (int i = 0; !rc && i < n; i++)
        if (idx[i].id)
            w[nw++] = sf__h5_write(idx[i], files[i].index_file,
                                   files[i].index_dataset ? files[i].index_dataset : "index",
                                   (sf_site){site.file, site.line, "sf_h5_write"});
    if (!rc && nw) rc = sf_wait(sf, w, nw);
    release_all(w, nw);
    release_all(ids, n);
    release_all(idx, n);
    return rc;
}

sf_obj sf__psi_take(sf_site site, sf_device dev, sf_obj table, sf_obj index) {
    sf_device leader = dev;
    leader.kind = SF_DEV_PYU;
    return sf__remote_dev(leader, psi_take, site, 1, NULL,
                          (const sf_argv_item[]){SF_OBJ(table), SF_OBJ(index)}, 2);
}
