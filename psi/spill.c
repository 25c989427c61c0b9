/* Spill files and their k-way merge (contract in psi/spill.h). */
#include "psi/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void seterr(char *err, size_t el, const char *fmt, ...) {
    if (!err || !el) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, el, fmt, ap);
    va_end(ap);
}

static int cmp_key(const void *a, const void *b) { return memcmp(a, b, PSI_KEY); }

int psi_spill_open(psi_spill *s, const char *dir, size_t rec, char *err, size_t el) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->rec = rec;
    if (dir && strlen(dir) >= sizeof s->dir) {
        seterr(err, el, "the spill directory's path is too long (%zu bytes)", strlen(dir));
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir && *dir ? dir : "/tmp");
#ifdef O_TMPFILE
    s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
    if (s->fd < 0) { /* no O_TMPFILE here: a named file, unlinked at once */
        char path[300];
        snprintf(path, sizeof path, "%s/sfmpi-psi-XXXXXX", s->dir);
        s->fd = mkostemp(path, O_CLOEXEC);
        if (s->fd >= 0) unlink(path);
    }
    if (s->fd < 0) {
        seterr(err, el, "cannot create a spill file in %s: %s (set the directory with "
               "sf_psi_options.tmpdir or TMPDIR)", s->dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_all(psi_spill *s, const void *p, size_t n, off_t off, char *err, size_t el) {
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(s->fd, c, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            seterr(err, el, "writing a spill file in %s: %s", s->dir, w < 0 ? strerror(errno) : "no space");
            return -1;
        }
        c += w, n -= (size_t)w, off += w;
    }
    return 0;
}

int psi_spill_run(psi_spill *s, void *recs, int64_t n, int sort, char *err, size_t el) {
    if (n <= 0) return 0;
    if (s->nruns == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 64;
        psi_run *r = realloc(s->runs, sizeof *r * (size_t)cap);
        if (!r) {
            seterr(err, el, "out of memory");
            return -1;
        }
        s->runs = r, s->cap = cap;
    }
    if (sort) qsort(recs, (size_t)n, s->rec, cmp_key);
    if (write_all(s, recs, (size_t)n * s->rec, s->end, err, el)) return -1;
    s->runs[s->nruns++] = (psi_run){s->end, n};
    s->end += (off_t)((size_t)n * s->rec);
    s->nrecs += n;
    return 0;
}

static int read_all(int fd, void *p, size_t n, off_t off) {
    char *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (!r) errno = EIO;
            return -1;
        }
        c += r, n -= (size_t)r, off += r;
    }
    return 0;
}

int psi_spill_read(const psi_spill *s, int64_t first, int64_t n, void *out, char *err, size_t el) {
    if (first < 0 || n < 0 || first + n > s->nrecs) {
        seterr(err, el, "spill file in %s: records %lld..%lld asked for, %lld held", s->dir,
               (long long)first, (long long)(first + n), (long long)s->nrecs);
        return -1;
    }
    if (read_all(s->fd, out, (size_t)n * s->rec, (off_t)((size_t)first * s->rec))) {
        seterr(err, el, "reading a spill file in %s: %s", s->dir, strerror(errno));
        return -1;
    }
    return 0;
}

void psi_spill_close(psi_spill *s) {
    if (s->fd >= 0) close(s->fd);
    free(s->runs);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* ------------------------------------------------------------------ heap */

/* A min-heap of source indices (runs of a file, blocks of an array), ordered by each
 * source's current record; equal keys: the lower index first, so merges are stable. */
typedef struct heap {
    int64_t *h, n;
    const unsigned char *(*at)(const void *ctx, int64_t i); /* source i's current record */
    const void *ctx;
} heap;

static int heap_less(const heap *k, int64_t a, int64_t b) {
    int d = memcmp(k->at(k->ctx, a), k->at(k->ctx, b), PSI_KEY);
    return d < 0 || (d == 0 && a < b);
}

static void heap_sift(heap *k, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k->n && heap_less(k, k->h[l], k->h[m])) m = l;
        if (r < k->n && heap_less(k, k->h[r], k->h[m])) m = r;
        if (m == i) return;
        int64_t t = k->h[i];
        k->h[i] = k->h[m], k->h[m] = t, i = m;
    }
}

static void heap_build(heap *k) {
    for (int64_t s = k->n / 2 - 1; s >= 0; s--) heap_sift(k, s);
}

/* ------------------------------------------------------------------ merge */

typedef struct cursor {
    off_t next;         /* file offset of the next unread record of the run */
    int64_t left;       /* records of the run not yet read into buf */
    size_t pos, have;   /* in buf, in records */
    unsigned char *buf;
} cursor;

struct psi_merge {
    const psi_spill *s;
    cursor *c;
    heap hp; /* the runs with a current record */
    size_t bufrecs;
    char failed[320];
};

static const unsigned char *run_at(const void *ctx, int64_t i) {
    const psi_merge *m = ctx;
    return m->c[i].buf + m->c[i].pos * m->s->rec;
}

/* Refill run i's buffer; 0 when it has a current record, 1 at its end, -1 on error. */
static int refill(psi_merge *m, int64_t i) {
    cursor *c = &m->c[i];
    if (c->pos < c->have) return 0;
    if (!c->left) return 1;
    size_t k = (size_t)c->left < m->bufrecs ? (size_t)c->left : m->bufrecs;
    if (read_all(m->s->fd, c->buf, k * m->s->rec, c->next)) {
        snprintf(m->failed, sizeof m->failed, "reading a spill file in %s: %s", m->s->dir, strerror(errno));
        return -1;
    }
    c->next += (off_t)(k * m->s->rec), c->left -= (int64_t)k, c->pos = 0, c->have = k;
    return 0;
}

psi_merge *psi_merge_new(const psi_spill *s, char *err, size_t el) {
    psi_merge *m = calloc(1, sizeof *m);
    int64_t n = s->nruns;
    if (!m || !(m->c = calloc((size_t)(n ? n : 1), sizeof *m->c)) ||
        !(m->hp.h = calloc((size_t)(n ? n : 1), sizeof *m->hp.h))) {
        if (m) free(m->c);
        free(m);
        seterr(err, el, "out of memory");
        return NULL;
    }
    m->s = s;
    m->hp.at = run_at, m->hp.ctx = m;
    size_t per = n ? PSI_MERGE_BUDGET / (size_t)n : 4096; /* (the same memory for few runs or many) */
    if (per < 4096) per = 4096;
    m->bufrecs = per / s->rec ? per / s->rec : 1;
    for (int64_t i = 0; i < n; i++) {
        cursor *c = &m->c[i];
        c->next = s->runs[i].off, c->left = s->runs[i].n;
        if (!(c->buf = malloc(m->bufrecs * s->rec))) {
            psi_merge_free(&m);
            seterr(err, el, "out of memory");
            return NULL;
        }
        int r = refill(m, i);
        if (r < 0) {
            seterr(err, el, "%s", m->failed);
            psi_merge_free(&m);
            return NULL;
        }
        if (!r) m->hp.h[m->hp.n++] = i;
    }
    heap_build(&m->hp);
    return m;
}

const unsigned char *psi_merge_peek(psi_merge *m) {
    return m->hp.n && !m->failed[0] ? run_at(m, m->hp.h[0]) : NULL;
}

void psi_merge_next(psi_merge *m) {
    if (!m->hp.n || m->failed[0]) return;
    int64_t i = m->hp.h[0];
    m->c[i].pos++;
    int r = refill(m, i);
    if (r < 0) return;
    if (r > 0) m->hp.h[0] = m->hp.h[--m->hp.n];
    heap_sift(&m->hp, 0);
}

const char *psi_merge_failed(const psi_merge *m) { return m->failed[0] ? m->failed : NULL; }

void psi_merge_free(psi_merge **mp) {
    psi_merge *m = *mp;
    if (!m) return;
    for (int64_t i = 0; m->c && i < m->s->nruns; i++) free(m->c[i].buf);
    free(m->c);
    free(m->hp.h);
    free(m);
    *mp = NULL;
}

/* ------------------------------------------------------------------ sorted blocks */

/* Blocks of a record array, each at its current record pos[b]. */
typedef struct blocks {
    const unsigned char *r;
    size_t rec;
    const int64_t *pos;
} blocks;

static const unsigned char *block_at(const void *ctx, int64_t b) {
    const blocks *k = ctx;
    return k->r + (size_t)k->pos[b] * k->rec;
}

int psi_merge_blocks(void *recs, int64_t n, size_t rec, char *err, size_t el) {
    unsigned char *r = recs;
    int64_t nb = 1;
    for (int64_t i = 1; i < n; i++)
        if (memcmp(r + (size_t)(i - 1) * rec, r + (size_t)i * rec, PSI_KEY) > 0) nb++;
    if (nb <= 1) return 0;
    int64_t *pos = malloc(sizeof *pos * (size_t)(2 * nb));
    blocks k = {r, rec, pos};
    heap hp = {malloc(sizeof(int64_t) * (size_t)nb), nb, block_at, &k};
    unsigned char *out = malloc((size_t)n * rec);
    if (!pos || !hp.h || !out) {
        free(pos);
        free(hp.h);
        free(out);
        seterr(err, el, "out of memory");
        return -1;
    }
    int64_t *end = pos + nb, j = 0;
    pos[0] = 0;
    for (int64_t i = 1; i < n; i++)
        if (memcmp(r + (size_t)(i - 1) * rec, r + (size_t)i * rec, PSI_KEY) > 0) end[j] = i, pos[++j] = i;
    end[j] = n;
    for (int64_t i = 0; i < nb; i++) hp.h[i] = i;
    heap_build(&hp);
    for (int64_t o = 0; o < n; o++) {
        int64_t b = hp.h[0];
        memcpy(out + (size_t)o * rec, block_at(&k, b), rec);
        if (++pos[b] == end[b]) hp.h[0] = hp.h[--hp.n];
        heap_sift(&hp, 0);
    }
    memcpy(r, out, (size_t)n * rec);
    free(out);
    free(pos);
    free(hp.h);
    return 0;
}

void psi_sort_records(void *recs, int64_t n, size_t rec) {
    if (n > 1) qsort(recs, (size_t)n, rec, cmp_key);
}
