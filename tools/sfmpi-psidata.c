/*
 * sfmpi-psidata: ID sets with a known overlap for private set intersection tests and
 * benchmarks (sfmpi psi-data).
 *
 *   sfmpi-psidata --out DIR [--parties a,b,..] [--rows N | --rows a=N,b=M,..]
 *                 [--overlap K|F|P%] [--pairwise M] [--type int64|bytes:L|string:L]
 *                 [--features K] [--seed S] [--block R]
 *
 * writes DIR/<party>.h5 (dataset "ids", and "features" with --features) for every party,
 * then DIR/truth.h5 (dataset "ids": the intersection of all parties, sorted) and
 * DIR/truth.json (the parameters, and the intersection itself when it has at most
 * TRUTH_JSON_MAX IDs). truth.h5 and truth.json of an earlier run are removed first and
 * written last, so a directory with truth.h5 holds a complete set.
 *
 * Design (deterministic from --seed; memory bounded by --block rows, not by the set):
 *
 *   Global slots. The IDs of all parties are numbered by a global slot g in [0, T):
 *     [0, K)                       the n-way intersection: held by every party;
 *     [K + q M, K + (q+1) M)       for q = 0..P-1 (--pairwise, 3+ parties): held by every
 *                                  party except q ("some but not all");
 *     then one range per party     IDs of that party alone (n_p - K - (P-1) M of them).
 *   Party p's local index j in [0, n_p) names its slots in that order (its own part of the
 *   intersection, then the pairwise ranges of q != p, then its unique range).
 *
 *   Shuffle. Row r of party p holds local index j = perm_p(r), perm_p a keyed Feistel
 *   network (6 rounds, splitmix64 round function keyed by seed and party) over [0, 4^h)
 *   with 4^h >= n_p, restricted to [0, n_p) by cycle walking: a bijection, so every local
 *   index appears exactly once, in an order that looks random.
 *
 *   ID of slot g. With S = floor(2^63 / T), id(g) = g S + (hash(seed, g) mod S): strictly
 *   increasing in g and in [0, 2^63), so IDs are unique across slots (each slot owns the
 *   interval [g S, (g+1) S)), spread over the whole range, and the intersection sorted is
 *   simply slots 0..K-1 in order (truth.h5 is streamed, never sorted in memory).
 *     int64     the value id(g);
 *     bytes:L   (L >= 8) the 8 bytes of id(g) big-endian, then L - 8 bytes of
 *               hash(seed, id): unique by the prefix, memcmp order = numeric order;
 *     string:L  (L >= 16) 16 lowercase hex digits of id(g), then 0..L-16 characters of
 *               [a-z0-9] (count and characters from hash(seed, id)), NUL-padded to L.
 *   So within a party, across parties (outside the designed overlaps) and in the truth,
 *   IDs are provably distinct, and the overlaps are exact.
 *
 *   Features (--features K): float64 [n, K], row-aligned with "ids":
 *     feature j of an ID = mix(fnv1a64(b) ^ (0xD6E8FEB86659FD93 * (j + 1))) >> 11, times 2^-53
 *   in [0, 1), where b is the ID's bytes (int64: its 8 bytes little-endian; bytes:L: the L
 *   bytes; string:L: the characters before the first NUL), fnv1a64 is FNV-1a 64 and mix the
 *   splitmix64 finalizer (x += 0x9E3779B97F4A7C15; x = (x ^ x>>30) * 0xBF58476D1CE4E5B9;
 *   x = (x ^ x>>27) * 0x94D049BB133111EB; x ^ x>>31). A function of the ID alone, so an
 *   aligned feature table can be checked after PSI; independent of the seed.
 *
 * Files are written through io/h5out (temporary name, fsync, rename; a failure or a
 * signal removes the temporary files). Exit status 0 on success, 1 on an output failure,
 * 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/h5out.h"
#include "tools/cliopt.h"

#define ME "sfmpi-psidata"
#define DEFAULT_SEED 20261206u
#define DEFAULT_BLOCK 262144
#define MAX_PARTIES 64
#define MAX_ROWS ((int64_t)1 << 40)
#define MAX_WIDTH 4096
#define MAX_FEATURES 4096
#define TRUTH_JSON_MAX 10000
#define FEISTEL_ROUNDS 6

typedef enum { ID_INT64, ID_BYTES, ID_STRING } id_type;

typedef struct {
    int nparties;
    char *names[MAX_PARTIES];
    int64_t rows[MAX_PARTIES];
    int64_t overlap, pairwise;
    id_type type;
    int64_t width; /* L of bytes:L / string:L */
    int64_t features;
    uint64_t seed;
    int64_t block;
    const char *out;
    const char *type_text;
} config;

typedef struct {
    uint64_t keys[FEISTEL_ROUNDS];
    int half;      /* bits per Feistel half */
    int64_t n;
} perm;

/* ---------------------------------------------------------------- hashing */

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t fnv1a(const unsigned char *b, size_t n) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ULL;
    return h;
}

static void perm_init(perm *pm, uint64_t seed, int party, int64_t n) {
    pm->n = n;
    pm->half = 1;
    while (pm->half < 31 && ((uint64_t)1 << (2 * pm->half)) < (uint64_t)n) pm->half++;
    uint64_t k = mix(seed ^ mix(0x5045524DULL + (uint64_t)party)); /* "PERM" */
    for (int i = 0; i < FEISTEL_ROUNDS; i++) pm->keys[i] = k = mix(k + (uint64_t)i);
}

/* The keyed bijection of [0, n): a Feistel network on [0, 4^half), cycle-walked. */
static int64_t perm_apply(const perm *pm, int64_t r) {
    uint64_t mask = ((uint64_t)1 << pm->half) - 1, x = (uint64_t)r;
    do {
        uint64_t l = x >> pm->half, rr = x & mask;
        for (int i = 0; i < FEISTEL_ROUNDS; i++) {
            uint64_t t = l ^ (mix(rr ^ pm->keys[i]) & mask);
            l = rr;
            rr = t;
        }
        x = (l << pm->half) | rr;
    } while (x >= (uint64_t)pm->n);
    return (int64_t)x;
}

/* ---------------------------------------------------------------- ID layout */

typedef struct {
    const config *c;
    int64_t total;       /* T: global slots */
    uint64_t stride;     /* S */
    uint64_t id_key, tail_key;
    int64_t uniq_base[MAX_PARTIES];
} layout;

static void layout_init(layout *lo, const config *c) {
    int P = c->nparties;
    lo->c = c;
    int64_t base = c->overlap + (P >= 3 ? P * c->pairwise : 0);
    for (int p = 0; p < P; p++) {
        lo->uniq_base[p] = base;
        base += c->rows[p] - c->overlap - (P >= 3 ? (P - 1) * c->pairwise : 0);
    }
    lo->total = base;
    lo->stride = base > 0 ? ((uint64_t)1 << 63) / (uint64_t)base : 1;
    lo->id_key = mix(c->seed ^ 0x49445350414345ULL);   /* "IDSPACE" */
    lo->tail_key = mix(c->seed ^ 0x5441494C42595445ULL); /* "TAILBYTE" */
}

/* Global slot of party p's local index j. */
static int64_t slot_of(const layout *lo, int p, int64_t j) {
    const config *c = lo->c;
    if (j < c->overlap) return j;
    j -= c->overlap;
    int64_t pw = c->nparties >= 3 ? (c->nparties - 1) * c->pairwise : 0;
    if (j < pw) {
        int64_t s = j / c->pairwise, q = s < p ? s : s + 1;
        return c->overlap + q * c->pairwise + j % c->pairwise;
    }
    return lo->uniq_base[p] + (j - pw);
}

static uint64_t id_of(const layout *lo, int64_t g) {
    uint64_t s = lo->stride;
    return (uint64_t)g * s + (s > 1 ? mix(lo->id_key ^ (uint64_t)g) % s : 0);
}

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* The stored form of an ID (rowbytes bytes at dst) and its feature hash input. */
static void encode(const layout *lo, uint64_t id, unsigned char *dst, uint64_t *fh) {
    const config *c = lo->c;
    size_t L = (size_t)c->width;
    switch (c->type) {
    case ID_INT64: {
        int64_t v = (int64_t)id;
        memcpy(dst, &v, 8);
        unsigned char le[8];
        for (int i = 0; i < 8; i++) le[i] = (unsigned char)(id >> (8 * i));
        *fh = fnv1a(le, 8);
        break;
    }
    case ID_BYTES: {
        for (int i = 0; i < 8; i++) dst[i] = (unsigned char)(id >> (56 - 8 * i));
        uint64_t h = 0;
        for (size_t i = 8; i < L; i++) {
            if ((i - 8) % 8 == 0) h = mix(lo->tail_key ^ id ^ mix((uint64_t)(i - 8)));
            dst[i] = (unsigned char)h;
            h >>= 8;
        }
        *fh = fnv1a(dst, L);
        break;
    }
    case ID_STRING: {
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) dst[i] = (unsigned char)hex[(id >> (60 - 4 * i)) & 15];
        uint64_t h = mix(lo->tail_key ^ id);
        size_t extra = (size_t)(h % (uint64_t)(L - 16 + 1)), n = 16 + extra;
        for (size_t i = 16; i < n; i++) {
            if ((i - 16) % 8 == 0) h = mix(h ^ (uint64_t)i);
            dst[i] = (unsigned char)alnum[(h & 0xFF) % 36];
            h >>= 8;
        }
        memset(dst + n, 0, L - n);
        *fh = fnv1a(dst, n);
        break;
    }
    }
}

static double feature(uint64_t fh, int64_t j) {
    return (double)(mix(fh ^ (0xD6E8FEB86659FD93ULL * (uint64_t)(j + 1))) >> 11) * 0x1.0p-53;
}

/* ---------------------------------------------------------------- writing */

static size_t id_rowbytes(const config *c) { return c->type == ID_INT64 ? 8 : (size_t)c->width; }

static h5out_kind id_kind(const config *c) {
    return c->type == ID_INT64 ? H5OUT_INT64 : c->type == ID_BYTES ? H5OUT_BYTES : H5OUT_STRING;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int add_attrs(h5out_dset *d, const config *c, const char *party, char *err, size_t el) {
    char seed[32], parties[MAX_PARTIES * 72] = "", rows[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    for (int p = 0; p < c->nparties; p++) {
        strcat(parties, p ? "," : "");
        strcat(parties, c->names[p]);
    }
    int64_t n = 0;
    for (int p = 0; p < c->nparties; p++)
        if (!strcmp(c->names[p], party)) n = c->rows[p];
    snprintf(rows, sizeof rows, "%" PRId64, party[0] ? n : c->overlap);
    char ov[32], pw[32];
    snprintf(ov, sizeof ov, "%" PRId64, c->overlap);
    snprintf(pw, sizeof pw, "%" PRId64, c->pairwise);
    const char *kv[][2] = {{"program", ME},      {"party", party[0] ? party : "(truth)"},
                           {"parties", parties}, {"rows", rows},
                           {"overlap", ov},      {"pairwise", pw},
                           {"type", c->type_text}, {"seed", seed}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        if (h5out_attr(d, kv[i][0], kv[i][1], err, el) != 0) return -1;
    return 0;
}

/* One party's file, rows in blocks. */
static int write_party(const layout *lo, int p, h5out_file **fp, char *err, size_t el) {
    const config *c = lo->c;
    int64_t n = c->rows[p];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.h5", c->out, c->names[p]);
    h5out_file *f = h5out_create(path, err, el);
    if (!f) return -1;
    *fp = f;
    h5out_dset *ids = h5out_dataset(f, "ids", id_kind(c), c->type == ID_INT64 ? 0 : c->width, n,
                                    err, el);
    h5out_dset *feat = ids && c->features > 0
                           ? h5out_dataset(f, "features", H5OUT_F64, c->features, n, err, el)
                           : NULL;
    if (!ids || (c->features > 0 && !feat)) return -1;
    size_t rb = id_rowbytes(c);
    unsigned char *ibuf = malloc((size_t)c->block * rb);
    double *fbuf = c->features > 0 ? malloc((size_t)c->block * (size_t)c->features * sizeof *fbuf) : NULL;
    if (!ibuf || (c->features > 0 && !fbuf)) {
        snprintf(err, el, "%s: out of memory for a block of %" PRId64 " rows (--block)", path, c->block);
        free(ibuf);
        free(fbuf);
        return -1;
    }
    perm pm;
    perm_init(&pm, c->seed, p, n);
    int rc = 0;
    for (int64_t r0 = 0; r0 < n && !rc; r0 += c->block) {
        int64_t m = n - r0 < c->block ? n - r0 : c->block;
        for (int64_t i = 0; i < m; i++) {
            uint64_t id = id_of(lo, slot_of(lo, p, perm_apply(&pm, r0 + i))), fh;
            encode(lo, id, ibuf + (size_t)i * rb, &fh);
            for (int64_t j = 0; j < c->features; j++) fbuf[i * c->features + j] = feature(fh, j);
        }
        rc = h5out_write(ids, r0, m, ibuf, err, el);
        if (!rc && feat) rc = h5out_write(feat, r0, m, fbuf, err, el);
    }
    free(ibuf);
    free(fbuf);
    if (!rc) rc = add_attrs(ids, c, c->names[p], err, el);
    return rc;
}

static void json_id(FILE *fj, const config *c, const unsigned char *b) {
    if (c->type == ID_INT64) {
        int64_t v;
        memcpy(&v, b, 8);
        fprintf(fj, "%" PRId64, v);
    } else if (c->type == ID_BYTES) {
        fputc('"', fj);
        for (int64_t i = 0; i < c->width; i++) fprintf(fj, "%02x", b[i]);
        fputc('"', fj);
    } else {
        fprintf(fj, "\"%.*s\"", (int)strnlen((const char *)b, (size_t)c->width), (const char *)b);
    }
}

/* truth.h5 (sorted intersection) and the text of truth.json, into a temporary file. */
static int write_truth(const layout *lo, h5out_file **fp, FILE *fj, char *err, size_t el) {
    const config *c = lo->c;
    char path[4200];
    snprintf(path, sizeof path, "%s/truth.h5", c->out);
    h5out_file *f = h5out_create(path, err, el);
    if (!f) return -1;
    *fp = f;
    h5out_dset *ids = h5out_dataset(f, "ids", id_kind(c), c->type == ID_INT64 ? 0 : c->width,
                                    c->overlap, err, el);
    if (!ids) return -1;
    size_t rb = id_rowbytes(c);
    unsigned char *buf = malloc((size_t)c->block * rb);
    if (!buf) {
        snprintf(err, el, "%s: out of memory", path);
        return -1;
    }
    fprintf(fj, "{\n  \"program\": \"%s\",\n  \"parties\": [", ME);
    for (int p = 0; p < c->nparties; p++) fprintf(fj, "%s\"%s\"", p ? ", " : "", c->names[p]);
    fprintf(fj, "],\n  \"rows\": {");
    for (int p = 0; p < c->nparties; p++)
        fprintf(fj, "%s\"%s\": %" PRId64, p ? ", " : "", c->names[p], c->rows[p]);
    fprintf(fj, "},\n  \"overlap\": %" PRId64 ",\n  \"pairwise\": %" PRId64
                ",\n  \"type\": \"%s\",\n  \"features\": %" PRId64 ",\n  \"seed\": %" PRIu64,
            c->overlap, c->pairwise, c->type_text, c->features, c->seed);
    int inline_ids = c->overlap <= TRUTH_JSON_MAX;
    fprintf(fj, ",\n  \"intersection_in_json\": %s", inline_ids ? "true" : "false");
    if (inline_ids) fprintf(fj, ",\n  \"intersection\": [");
    int rc = 0;
    for (int64_t r0 = 0; r0 < c->overlap && !rc; r0 += c->block) {
        int64_t m = c->overlap - r0 < c->block ? c->overlap - r0 : c->block;
        for (int64_t i = 0; i < m; i++) {
            uint64_t fh;
            encode(lo, id_of(lo, r0 + i), buf + (size_t)i * rb, &fh);
            if (inline_ids) {
                fputs(r0 + i ? ",\n    " : "\n    ", fj);
                json_id(fj, c, buf + (size_t)i * rb);
            }
        }
        rc = h5out_write(ids, r0, m, buf, err, el);
    }
    if (inline_ids) fprintf(fj, "%s]", c->overlap ? "\n  " : "");
    fprintf(fj, "\n}\n");
    free(buf);
    if (!rc) rc = add_attrs(ids, c, "", err, el);
    return rc;
}

/* truth.json: written to a temporary name, synced, renamed. */
static int commit_json(const config *c, char *text, size_t len, char *err, size_t el) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/truth.json", c->out);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wx");
    if (!f) {
        snprintf(err, el, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, el, "%s: cannot write it: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int generate(const config *c) {
    char err[8192];
    layout lo;
    layout_init(&lo, c);
    h5out_file *files[MAX_PARTIES + 1] = {0};
    char *json = NULL;
    size_t jlen = 0;
    FILE *fj = open_memstream(&json, &jlen);
    int rc = 1;
    double t0 = now_s(), tp[MAX_PARTIES];
    if (!fj) {
        fprintf(stderr, ME ": out of memory\n");
        return 1;
    }
    for (int p = 0; p < c->nparties; p++) {
        double t = now_s();
        if (write_party(&lo, p, &files[p], err, sizeof err) != 0) goto out;
        tp[p] = now_s() - t;
    }
    if (write_truth(&lo, &files[c->nparties], fj, err, sizeof err) != 0) goto out;
    if (fclose(fj) != 0) {
        fj = NULL;
        snprintf(err, sizeof err, "%s/truth.json: out of memory", c->out);
        goto out;
    }
    fj = NULL;
    /* a stale truth of an earlier run must not describe a half-replaced set */
    char tpath[4200];
    snprintf(tpath, sizeof tpath, "%s/truth.h5", c->out);
    unlink(tpath);
    snprintf(tpath, sizeof tpath, "%s/truth.json", c->out);
    unlink(tpath);
    for (int p = 0; p <= c->nparties; p++)
        if (h5out_commit(&files[p], err, sizeof err) != 0) goto out;
    if (commit_json(c, json, jlen, err, sizeof err) != 0) goto out;
    for (int p = 0; p < c->nparties; p++)
        printf("wrote %s/%s.h5: ids %s [%" PRId64 "]%s in %.3f s\n", c->out, c->names[p],
               c->type_text, c->rows[p], c->features > 0 ? " + features" : "", tp[p]);
    printf("wrote %s/truth.h5 and truth.json: %" PRId64 " IDs common to all %d parties",
           c->out, c->overlap, c->nparties);
    if (c->nparties >= 3 && c->pairwise > 0)
        printf(", %" PRId64 " more shared by all but each one party", c->pairwise);
    printf("; %.3f s in all, seed %" PRIu64 "\n", now_s() - t0, c->seed);
    rc = 0;
out:
    if (rc) fprintf(stderr, ME ": %s\n", err);
    if (fj) fclose(fj);
    for (int p = 0; p <= c->nparties; p++) h5out_abort(&files[p]);
    free(json);
    return rc;
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f) {
    fprintf(f,
            "usage: sfmpi psi-data --out DIR [options]\n"
            "Writes DIR/<party>.h5 (dataset \"ids\", shuffled) for every party with a known\n"
            "overlap, and DIR/truth.h5 (\"ids\": the intersection of all parties, sorted) and\n"
            "DIR/truth.json. Deterministic for a seed; memory bounded by --block.\n"
            "\n"
            "  --out DIR              output directory (created if missing)\n"
            "  --parties a,b,...      party names, 2 to %d (default alice,bob)\n"
            "  --rows N | a=N,b=M,..  rows per party: one N for all, or every party's own\n"
            "                         (default 1000)\n"
            "  --overlap K|F|P%%       IDs common to all parties: a count, a fraction F in [0, 1]\n"
            "                         or a percentage of the smallest set (default 0.5)\n"
            "  --pairwise M           3+ parties: for each party, M more IDs held by every\n"
            "                         party but that one (default 0)\n"
            "  --type T               int64 (default; int64 [n]), bytes:L (uint8 [n, L], L >= 8)\n"
            "                         or string:L (fixed-length NUL-padded strings, L >= 16)\n"
            "  --features K           also write \"features\" float64 [n, K], a function of the ID\n"
            "                         (see the header of tools/sfmpi-psidata.c)\n"
            "  --seed S               seed (default %u)\n"
            "  --block R              rows per written block (default %d)\n"
            "  --help                 this text\n"
            "\n"
            "Every party's IDs are unique; apart from the overlaps no ID is shared.\n"
            "Example: sfmpi psi-data --out d --parties alice,bob,carol --rows 1000000 \\\n"
            "           --overlap 0.5 --pairwise 1000 --type bytes:32 --features 4\n",
            MAX_PARTIES, DEFAULT_SEED, DEFAULT_BLOCK);
}

static int bad(const char *opt, const char *val, const char *why) {
    fprintf(stderr, ME ": %s %s: %s (see --help)\n", opt, val, why);
    return -1;
}

static int parse_count(const char *opt, const char *s, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+' || *s == ' ') return bad(opt, s, "expected a whole number");
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || end == s) return bad(opt, s, "expected a whole number");
    if (errno == ERANGE || v > (unsigned long long)max) {
        char why[64];
        snprintf(why, sizeof why, "more than the limit %" PRId64, max);
        return bad(opt, s, why);
    }
    *out = (int64_t)v;
    return 0;
}

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !strcmp(s, "truth") || s[0] == '.' || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return 0;
    return 1;
}

static int parse_parties(config *c, const char *s) {
    char *copy = strdup(s), *save = NULL;
    if (!copy) return bad("--parties", s, "out of memory");
    if (!*s || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,")) {
        free(copy);
        return bad("--parties", s, "an empty party name");
    }
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int n = c->nparties;
        if (n == MAX_PARTIES) {
            free(copy);
            return bad("--parties", s, "too many parties");
        }
        if (!valid_name(t)) {
            char why[160];
            snprintf(why, sizeof why,
                     "party name \"%.64s\" is not 1-64 of [A-Za-z0-9_.-] (not starting with . or -, "
                     "not \"truth\")", t);
            free(copy);
            return bad("--parties", s, why);
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(c->names[i], t)) {
                char why[128];
                snprintf(why, sizeof why, "party \"%s\" named twice", t);
                free(copy);
                return bad("--parties", s, why);
            }
        if (!(c->names[n] = strdup(t))) {
            free(copy);
            return bad("--parties", s, "out of memory");
        }
        c->nparties = n + 1;
    }
    free(copy);
    if (c->nparties < 2) return bad("--parties", s, "PSI needs at least 2 parties");
    return 0;
}

/* --rows N or name=N,...: after --parties is known. */
static int parse_rows(config *c, const char *s) {
    if (!strchr(s, '=')) {
        int64_t n;
        if (parse_count("--rows", s, MAX_ROWS, &n)) return -1;
        for (int p = 0; p < c->nparties; p++) c->rows[p] = n;
        return 0;
    }
    int seen[MAX_PARTIES] = {0};
    char *copy = strdup(s), *save = NULL;
    if (!copy) return bad("--rows", s, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '='), why[160];
        if (!eq) {
            snprintf(why, sizeof why, "\"%s\" is not party=N", t);
            rc = bad("--rows", s, why);
            break;
        }
        *eq = 0;
        int p = 0;
        while (p < c->nparties && strcmp(c->names[p], t)) p++;
        if (p == c->nparties) {
            snprintf(why, sizeof why, "\"%.64s\" is not one of --parties", t);
            rc = bad("--rows", s, why);
        } else if (seen[p]++) {
            snprintf(why, sizeof why, "party \"%s\" given twice", t);
            rc = bad("--rows", s, why);
        } else {
            rc = parse_count("--rows", eq + 1, MAX_ROWS, &c->rows[p]);
        }
    }
    for (int p = 0; p < c->nparties && !rc; p++)
        if (!seen[p]) {
            char why[128];
            snprintf(why, sizeof why, "no rows given for party \"%s\"", c->names[p]);
            rc = bad("--rows", s, why);
        }
    free(copy);
    return rc;
}

/* --overlap: a count, a fraction (has a '.') or a percentage, of the smallest set, rounded
 * down; the decimal is read exactly (0.29 of 100 is 29, not 28.999...). */
static int parse_overlap(config *c, const char *s) {
    int64_t mn = c->rows[0];
    for (int p = 1; p < c->nparties; p++)
        if (c->rows[p] < mn) mn = c->rows[p];
    size_t n = strlen(s);
    if (!n || (s[n - 1] != '%' && !strchr(s, '.'))) return parse_count("--overlap", s, MAX_ROWS, &c->overlap);
    const char *why = "expected a count, a fraction in [0, 1] or a percentage";
    unsigned __int128 num = 0, den = 1;
    size_t i = 0, digits = 0, frac = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
        if (digits < 4) num = num * 10 + (unsigned)(s[i] - '0');
        else return bad("--overlap", s, "a fraction above 1 (100%)");
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (++frac > 18) return bad("--overlap", s, "more than 18 decimals");
            num = num * 10 + (unsigned)(s[i] - '0');
            den *= 10;
        }
    if (i < n && s[i] == '%') {
        den *= 100;
        i++;
    }
    if (i != n || digits == 0) return bad("--overlap", s, why);
    if (num > den) return bad("--overlap", s, "a fraction above 1 (100%)");
    c->overlap = (int64_t)((unsigned __int128)mn * num / den);
    return 0;
}

static int parse_type(config *c, const char *s) {
    c->type_text = s;
    if (!strcmp(s, "int64")) {
        c->type = ID_INT64;
        c->width = 8;
        return 0;
    }
    const char *colon = strchr(s, ':');
    int is_bytes = colon && !strncmp(s, "bytes:", 6), is_str = colon && !strncmp(s, "string:", 7);
    if (!is_bytes && !is_str) return bad("--type", s, "expected int64, bytes:L or string:L");
    if (parse_count("--type", colon + 1, MAX_WIDTH, &c->width)) return -1;
    c->type = is_bytes ? ID_BYTES : ID_STRING;
    if (is_bytes && c->width < 8)
        return bad("--type", s, "bytes:L needs L >= 8 (the first 8 bytes make the IDs unique)");
    if (is_str && c->width < 16)
        return bad("--type", s, "string:L needs L >= 16 (16 hex digits make the IDs unique)");
    return 0;
}

static int check_sizes(const config *c, const char *ovtext) {
    int P = c->nparties;
    if (c->pairwise > 0 && P < 3) {
        fprintf(stderr, ME ": --pairwise needs 3 or more parties (with 2, every shared ID is in "
                        "the intersection)\n");
        return -1;
    }
    int64_t need = c->overlap + (P - 1) * c->pairwise;
    for (int p = 0; p < P; p++)
        if (c->rows[p] < need) {
            if (c->pairwise)
                fprintf(stderr,
                        ME ": --overlap %s (%" PRId64 ") and --pairwise %" PRId64 " need %" PRId64
                           " rows at every party; %s has %" PRId64 "\n",
                        ovtext, c->overlap, c->pairwise, need, c->names[p], c->rows[p]);
            else
                fprintf(stderr, ME ": --overlap %s: %" PRId64 " IDs, but %s has only %" PRId64 " rows\n",
                        ovtext, c->overlap, c->names[p], c->rows[p]);
            return -1;
        }
    return 0;
}

int main(int argc, char **argv) {
    config c = {0};
    h5out_remove_on_signals();
    const char *parties = "alice,bob", *rows = "1000", *overlap = "0.5", *type = "int64";
    int64_t seed = DEFAULT_SEED;
    c.block = DEFAULT_BLOCK;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char opt[32];
        const char *eqval = cli_split(a, opt, sizeof opt);
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 0;
        }
        static const char *const known[] = {"--out",  "--parties",  "--rows",  "--overlap", "--pairwise",
                                            "--type", "--features", "--seed", "--block"};
        int k = 0;
        while (k < 9 && strcmp(opt, known[k])) k++;
        if (k == 9) {
            fprintf(stderr, ME ": unknown option %s (see --help)\n", a);
            goto out;
        }
        const char *val = cli_value(argc, argv, &i, eqval);
        if (!val) {
            fprintf(stderr, ME ": %s needs a value\n", opt);
            goto out;
        }
        switch (k) {
        case 0: c.out = val; break;
        case 1: parties = val; break;
        case 2: rows = val; break;
        case 3: overlap = val; break;
        case 4: if (parse_count("--pairwise", val, MAX_ROWS, &c.pairwise)) goto out; break;
        case 5: type = val; break;
        case 6: if (parse_count("--features", val, MAX_FEATURES, &c.features)) goto out; break;
        case 7: if (parse_count("--seed", val, INT64_MAX, &seed)) goto out; break;
        case 8:
            if (parse_count("--block", val, (int64_t)1 << 26, &c.block)) goto out;
            if (c.block < 1) {
                bad("--block", val, "expected at least 1 row");
                goto out;
            }
            break;
        }
    }
    c.seed = (uint64_t)seed;
    if (!c.out || !*c.out || strlen(c.out) > 3900) {
        fprintf(stderr, ME ": %s\n", c.out && *c.out ? "--out: path too long"
                                                       : "--out DIR is required (see --help)");
        goto out;
    }
    if (parse_parties(&c, parties) || parse_rows(&c, rows) || parse_overlap(&c, overlap) ||
        parse_type(&c, type) || check_sizes(&c, overlap))
        goto out;
    if (mkdir(c.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, ME ": --out %s: cannot create the directory: %s\n", c.out, strerror(errno));
        rc = 1;
        goto out;
    }
    rc = generate(&c);
out:
    for (int p = 0; p < c.nparties; p++) free(c.names[p]);
    return rc;
}
