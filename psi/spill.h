/*
 * Spill files for the streamed PSI (psi/psi.c): fixed-size records in an unlinked
 * temporary file, appended in runs, read back as one sorted stream by a k-way merge.
 *
 *   psi_spill s;  psi_spill_open(&s, dir, 40, err, el);     (record: 32-byte key + payload)
 *   psi_spill_run(&s, recs, n, 1, err, el);                  (sorted by key, appended as a run)
 *   psi_merge *m = psi_merge_new(&s, err, el);
 *   for (const unsigned char *r; (r = psi_merge_peek(m)); psi_merge_next(m)) ...
 *   psi_merge_free(&m);  psi_spill_close(&s);
 *
 * The file is created with O_TMPFILE in `dir` (or mkstemp and unlinked at once where the
 * file system lacks O_TMPFILE), so it has no name from the start: it disappears when the
 * process closes it or exits, on every path, SIGKILL included, and no other process can
 * open it by name. Memory: a run is sorted in the caller's buffer; a merge holds one read
 * buffer per run, PSI_MERGE_BUDGET shared out among them (at least 4 KiB a run), and a
 * heap of run indices: 4 MiB per merge whatever the number of runs up to 1,024 (1.3e8
 * records in runs of 131,072), 4 KiB a run beyond.
 * Keys compare as bytes (memcmp of the first PSI_KEY bytes). Errors (disk full, I/O) are
 * -1 with a message in err naming the spill directory; a merge that fails to read stops
 * (peek gives NULL) and psi_merge_failed says why.
 */
#ifndef SF_PSI_SPILL_H
#define SF_PSI_SPILL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PSI_KEY 32
#define PSI_MERGE_BUDGET ((size_t)4 << 20) /* read buffers of one merge (but 4 KiB a run at least) */

typedef struct psi_run {
    off_t off;
    int64_t n;
} psi_run;

typedef struct psi_spill {
    int fd;
    size_t rec;       /* bytes per record */
    psi_run *runs;
    int64_t nruns, cap, nrecs;
    off_t end;
    char dir[256];
} psi_spill;

typedef struct psi_merge psi_merge;

int psi_spill_open(psi_spill *s, const char *dir, size_t rec, char *err, size_t el);
/* Append n records from recs as a run; sort them by key first when `sort`. */
int psi_spill_run(psi_spill *s, void *recs, int64_t n, int sort, char *err, size_t el);
/* Read records [first, first + n) of the file in append order (runs back to back). */
int psi_spill_read(const psi_spill *s, int64_t first, int64_t n, void *out, char *err, size_t el);
void psi_spill_close(psi_spill *s);

/* Sort n records by key (one rank's block). */
void psi_sort_records(void *recs, int64_t n, size_t rec);
/* recs is a concatenation of sorted blocks (the ranks' sorted blocks, gathered): merge them
 * in place into one sorted sequence (O(n log blocks), a buffer of n records). */
int psi_merge_blocks(void *recs, int64_t n, size_t rec, char *err, size_t el);

psi_merge *psi_merge_new(const psi_spill *s, char *err, size_t el);
const unsigned char *psi_merge_peek(psi_merge *m); /* NULL at the end or after a failure */
void psi_merge_next(psi_merge *m);
const char *psi_merge_failed(const psi_merge *m);  /* NULL, or why the merge stopped */
void psi_merge_free(psi_merge **m);

#endif
