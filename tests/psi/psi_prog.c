/*
 * PSI test program (tests/psi/psi.cmake): alice and bob make ID sets of given sizes with a
 * known overlap, each in its own shuffled order, run sf_psi, and check the result row by
 * row: every party's aligned IDs (its IDs taken through its index) must be the same list at
 * both parties, and as a set exactly the common IDs. The check reveals the aligned IDs to
 * both parties (a test's privilege), nothing else.
 *
 *   psi_prog [--na N] [--nb M] [--nc L] [--overlap K] [--pairwise P] [--type int64|bytes]
 *            [--out all|receiver|size] [--dup] [--mismatch] [--bad-type] [--batch B]
 *            [--h5 DIR] [--tmpdir T] [--missing] [--index-dir D]
 *
 * --batch B: sf_psi_options.batch_rows (small batches: many sorted runs, merged).
 * --h5 DIR: the IDs go through files: each party writes DIR/<party>_ids.h5, sf_psi_h5 reads
 * them and writes DIR/<party>_index.h5, which the check reads back. After a failed call the
 * program checks that DIR holds no index file (nor a temporary one) and exits 3; after a
 * successful one, that the spill directory (--tmpdir, default DIR/spill) is empty.
 * --missing: bob's ID file does not exist. --index-dir D: the indexes go to D instead of DIR.
 *
 * With three parties (--sf-parties=alice,bob,carol) alice and bob also share P IDs that
 * carol lacks: only the three-way intersection may come out.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/psi.h"

typedef struct args {
    int64_t na, nb, nc, overlap, pairwise;
    int bytes, dup, mismatch, bad_type;
    sf_psi_output out;
    int64_t batch;
    const char *h5, *tmpdir;
    int missing;
    const char *index_dir;
} args;

/* common IDs are c(i), party p's own IDs u(p, i): disjoint by construction */
static uint64_t common_id(int64_t i) { return 0x1000000000ull + (uint64_t)i * 7919u; }
static uint64_t own_id(int64_t p, int64_t i) { return ((uint64_t)(p + 1) << 40) + (uint64_t)i * 104729u; }
static uint64_t pair_id(int64_t i) { return 0x2000000000ull + (uint64_t)i * 15485863u; }

/* args: n, overlap, party, bytes, dup, bad_type, pairwise */
static int make_ids(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0), k = sf_arg_i64(t, 1), p = sf_arg_i64(t, 2);
    int bytes = (int)sf_arg_i64(t, 3), dup = (int)sf_arg_i64(t, 4), bad = (int)sf_arg_i64(t, 5);
    int64_t pw = p < 2 ? sf_arg_i64(t, 6) : 0;
    uint64_t *v = malloc(sizeof *v * (size_t)(n ? n : 1));
    if (!v) return sf_fail(t, "out of memory");
    for (int64_t i = 0; i < n; i++) v[i] = i < k ? common_id(i) : i < k + pw ? pair_id(i) : own_id(p, i);
    if (dup && n >= 2) v[n - 1] = v[0];
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(p + 3);
    for (int64_t i = n - 1; i > 0; i--) { /* a fixed shuffle per party */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t j = (int64_t)((s >> 33) % (uint64_t)(i + 1));
        uint64_t x = v[i];
        v[i] = v[j], v[j] = x;
    }
    sf_value *out;
    if (bad) {
        out = sf_value_new(SF_F64, 1, &n);
        for (int64_t i = 0; out && i < n; i++) ((double *)sf_value_data(out))[i] = (double)v[i];
    } else if (bytes) {
        int64_t shape[2] = {n, 16};
        out = sf_value_new(SF_U8, 2, shape);
        for (int64_t i = 0; out && i < n; i++) { /* 16-byte IDs: the number, then a tag */
            unsigned char *r = (unsigned char *)sf_value_data(out) + i * 16;
            memcpy(r, &v[i], 8);
            memcpy(r + 8, "id-bytes", 8);
        }
    } else {
        out = sf_value_new(SF_I64, 1, &n);
        if (out) memcpy(sf_value_data(out), v, sizeof *v * (size_t)n);
    }
    free(v);
    return out ? sf_return(t, 0, out) : sf_fail(t, "out of memory");
}

/* the first 8 bytes of each aligned row, as int64 [c] */
static int first_words(sf_task *t) {
    const sf_value *a = sf_arg(t, 0);
    int64_t c = sf_value_dim(a, 0);
    size_t w = c ? sf_value_nbytes(a) / (size_t)c : 8;
    sf_value *o = sf_value_new(SF_I64, 1, &c);
    if (!o) return sf_fail(t, "out of memory");
    for (int64_t i = 0; i < c; i++)
        memcpy((int64_t *)sf_value_data(o) + i, (const char *)sf_value_cdata(a) + (size_t)i * w, 8);
    return sf_return(t, 0, o);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int check_aligned(sf_ctx *sf, const sf_value *a, const sf_value *b, int64_t want) {
    int64_t c = sf_value_dim(a, 0);
    if (c != want || sf_value_dim(b, 0) != c) {
        sf_print(sf, "FAIL: aligned sizes %lld and %lld, expected %lld\n", (long long)c,
                 (long long)sf_value_dim(b, 0), (long long)want);
        return 1;
    }
    const uint64_t *x = sf_value_cdata(a), *y = sf_value_cdata(b);
    for (int64_t i = 0; i < c; i++)
        if (x[i] != y[i]) {
            sf_print(sf, "FAIL: row %lld: ID %" PRIu64 ", party 0's %" PRIu64 "\n", (long long)i, x[i], y[i]);
            return 1;
        }
    uint64_t *s = malloc(sizeof *s * (size_t)(c ? c : 1));
    memcpy(s, x, sizeof *s * (size_t)c);
    qsort(s, (size_t)c, sizeof *s, cmp_u64);
    int bad = 0;
    for (int64_t i = 0; i < c && !bad; i++) bad = s[i] != common_id(i); /* c(i) increase with i */
    free(s);
    if (bad) sf_print(sf, "FAIL: the aligned IDs are not exactly the common IDs\n");
    return bad;
}

/* Entries of dir whose names contain `part` (NULL: any), or -1 if it cannot be read. */
static int count_entries(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!part || strstr(e->d_name, part))) n++;
    closedir(d);
    return n;
}

static void mkdirs(const char *path) {
    char b[512];
    snprintf(b, sizeof b, "%s", path);
    for (char *q = b + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(b, 0755);
            *q = '/';
        }
    mkdir(b, 0755);
}

/* sf_psi_h5 over files the parties write first; the index objects are read back. */
static int psi_files(sf_ctx *sf, const args *a, const sf_device *all, const sf_obj *ids, int np,
                     const sf_psi_options *o, sf_obj *index, int64_t *size) {
    char in[3][512], out[3][512], spill[512];
    sf_psi_h5_party f[3];
    snprintf(spill, sizeof spill, "%s", a->tmpdir ? a->tmpdir : "");
    if (!a->tmpdir) snprintf(spill, sizeof spill, "%s/spill", a->h5);
    mkdirs(a->h5);
    if (!a->tmpdir) mkdirs(spill);
    sf_obj w[3];
    for (int p = 0; p < np; p++) {
        const char *name = sf_party_name_of(sf, p);
        snprintf(in[p], sizeof in[p], "%s/%s_ids.h5", a->h5, name);
        snprintf(out[p], sizeof out[p], "%s/%s_index.h5", a->index_dir ? a->index_dir : a->h5, name);
        if (sf_party_index(sf) == p) remove(out[p]);
        w[p] = sf_h5_write(ids[p], in[p], "ids");
        f[p] = (sf_psi_h5_party){in[p], "ids", out[p], NULL};
        if (p == 1 && a->missing) snprintf(in[p], sizeof in[p], "%s/no_such_ids.h5", a->h5);
    }
    SF_TRY(sf_wait(sf, w, np));
    sf_psi_options oo = *o;
    oo.tmpdir = spill;
    int rc = sf_psi_h5(sf, all, f, np, &oo, size);
    int left = count_entries(a->h5, "index");
    if (rc) {
        fprintf(stderr, "psi_prog: sf_psi_h5 failed: %s\n", sf_last_error(sf));
        fprintf(stderr, "psi_prog: index files left in %s: %d\n", a->h5, left);
        exit(left == 0 ? 3 : 4);
    }
    int spilled = count_entries(spill, NULL);
    if (spilled != 0) {
        sf_print(sf, "FAIL: the spill directory %s holds %d entries after the run\n", spill, spilled);
        return 1;
    }
    for (int p = 0; p < np; p++) {
        int gets = o->output == SF_PSI_ALL || (o->output == SF_PSI_RECEIVER && p == 1);
        struct stat st;
        int exists = stat(out[p], &st) == 0;
        if (exists != gets) {
            sf_print(sf, "FAIL: %s %s\n", out[p], exists ? "was written" : "is missing");
            return 1;
        }
        index[p] = gets ? sf_h5_read(all[p], out[p], "index") : (sf_obj){sf, 0};
    }
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    const args *a = arg;
    int np = sf_nparties(sf);
    if (np < 2 || np > 3) return SF_EUSAGE; /* (2 or 3 parties) */
    sf_device all[3];
    sf_obj ids[3], index[3];
    int64_t n[3] = {a->na, a->nb, a->nc};
    for (int p = 0; p < np; p++) {
        const char *name = sf_party_name_of(sf, p);
        all[p] = sf_pyu_all(sf, name);
        ids[p] = SF_REMOTE(sf_pyu(sf, name), make_ids, SF_I64(n[p]), SF_I64(a->overlap), SF_I64(p),
                           SF_I64(p == 1 && a->mismatch ? !a->bytes : a->bytes),
                           SF_I64(p == 1 && a->dup), SF_I64(p == 0 && a->bad_type), SF_I64(a->pairwise));
    }
    sf_psi_options o = {.output = a->out, .receiver = "bob", .batch_rows = a->batch, .tmpdir = a->tmpdir};
    int64_t size = -2;
    if (a->h5) {
        if (psi_files(sf, a, all, ids, np, &o, index, &size)) return 1;
    } else {
        SF_TRY(sf_psi(sf, all, ids, np, &o, index, &size));
    }
    const char *mode = a->out == SF_PSI_ALL ? "all" : a->out == SF_PSI_RECEIVER ? "receiver" : "size";
    int fail = 0;
    sf_value *v[3];
    if (a->out == SF_PSI_SIZE) {
        fail = size != a->overlap;
        for (int p = 0; p < np; p++) fail |= index[p].id != 0;
    } else {
        fail = size != (a->out == SF_PSI_RECEIVER ? -1 : a->overlap);
        for (int p = 0; p < np && !fail; p++) {
            int gets = a->out == SF_PSI_ALL || p == 1; /* (bob is the receiver) */
            if (!gets) {
                fail = index[p].id != 0;
                continue;
            }
            fail = !index[p].id;
            if (!fail) /* the party's aligned IDs, revealed for the check */
                SF_TRY(sf_get(sf, SF_REMOTE(sf_pyu(sf, sf_party_name_of(sf, p)), first_words,
                                            SF_OBJ(sf_psi_take(all[p], ids[p], index[p]))), &v[p]));
        }
        for (int p = 0; p < np && !fail; p++)
            if (a->out == SF_PSI_ALL || p == 1)
                fail = check_aligned(sf, v[p], a->out == SF_PSI_ALL ? v[0] : v[p], a->overlap);
    }
    char sizes[96];
    snprintf(sizes, sizeof sizes, np == 3 ? "%lld x %lld x %lld" : "%lld x %lld", (long long)a->na,
             (long long)a->nb, (long long)a->nc);
    sf_print(sf, "psi %s%s, %d parties, %s IDs, %s, overlap %lld: size %lld, %s\n", a->h5 ? "files " : "", mode, np,
             a->bytes ? "16-byte" : "int64", sizes, (long long)a->overlap, (long long)size,
             fail ? "WRONG" : "checked row by row");
    return fail;
}

int main(int argc, char **argv) {
    args a = {.na = 1000, .nb = 800, .nc = 900, .overlap = 300, .out = SF_PSI_ALL};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(s, "--na")) a.na = atoll(v), i++;
        else if (!strcmp(s, "--nb")) a.nb = atoll(v), i++;
        else if (!strcmp(s, "--nc")) a.nc = atoll(v), i++;
        else if (!strcmp(s, "--overlap")) a.overlap = atoll(v), i++;
        else if (!strcmp(s, "--pairwise")) a.pairwise = atoll(v), i++;
        else if (!strcmp(s, "--type")) a.bytes = !strcmp(v, "bytes"), i++;
        else if (!strcmp(s, "--out"))
            a.out = !strcmp(v, "receiver") ? SF_PSI_RECEIVER : !strcmp(v, "size") ? SF_PSI_SIZE : SF_PSI_ALL, i++;
        else if (!strcmp(s, "--dup")) a.dup = 1;
        else if (!strcmp(s, "--mismatch")) a.mismatch = 1;
        else if (!strcmp(s, "--bad-type")) a.bad_type = 1;
        else if (!strcmp(s, "--batch")) a.batch = atoll(v), i++;
        else if (!strcmp(s, "--h5")) a.h5 = v, i++;
        else if (!strcmp(s, "--tmpdir")) a.tmpdir = v, i++;
        else if (!strcmp(s, "--missing")) a.missing = 1;
        else if (!strcmp(s, "--index-dir")) a.index_dir = v, i++;
    }
    return sf_main(argc, argv, program, &a);
}
