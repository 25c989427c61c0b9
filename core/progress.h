/*
 * Progress lines for long operations: production start-up, HDF5 reads and writes, SPU
 * kernels, large transfers. A caller brackets an operation with begin/end and calls
 * update (or show) as it goes; nothing is printed unless the operation is still running
 * `after` seconds (2 s) after begin, then a line at most every `every` seconds.
 *
 * Configured once per process by sf_run from the options (--sf-progress, SF_PROGRESS,
 * sf_config.progress; --sf-quiet turns it off):
 *   off    nothing;
 *   on     a plain line every 5 s (terminal or not);
 *   auto   a line redrawn in place every 0.5 s ("\r...\033[K", cleared at the end) when
 *          stderr is a terminal, else plain lines as `on` (under mpirun, forwarded stderr
 *          is never a terminal). Debug mode runs every party in one process, so it never
 *          redraws: several parties' lines would overwrite each other.
 * In plain mode an operation that printed a line also prints a last "done" line.
 * Hidden knobs for tests (documented in docs/architecture.md only): SF_PROGRESS_AFTER and
 * SF_PROGRESS_EVERY (seconds, >= 0) replace the threshold and the interval.
 *
 * Lines go to stderr, tagged like log lines: "[prod alice/0] progress: <what>: <detail>".
 * Callers report on a party's leader only (the tag names it). update() is cheap enough
 * for a loop over blocks or messages: a store and a coarse clock read while inactive or
 * not yet due. A progress struct is used by one thread; lines from several threads do not
 * interleave within a line. Log writers call sf__progress_clear_line() before printing
 * so a redrawn line does not run into their text.
 */
#ifndef SF_CORE_PROGRESS_H
#define SF_CORE_PROGRESS_H

#include <stdint.h>
#include <time.h>

#include "sfmpi/sf.h"

typedef struct sf_progress {
    int on;              /* 0: inactive (progress off, or not the leader): calls return at once */
    int shown;           /* a line of this operation was printed */
    double t0, next;     /* begin time; time the next line is due */
    uint64_t done, total; /* total 0: unknown (the line shows `done` only) */
    uint64_t aux;        /* a second count shown after the first (e.g. bytes an SPU kernel sent) */
    const char *unit;    /* "B": sizes in KiB/MiB/GiB; otherwise a word ("operations") */
    const char *aux_unit; /* "B sent" etc.: NULL hides aux */
    char tag[96];        /* "prod alice/0" */
    char what[192];      /* "reading data.h5:/x" */
} sf_progress;

/* setting: 1 on, -1 off, 0 auto; plain_only: never redraw (debug mode). */
void sf__progress_configure(int setting, int plain_only);
/* 1 when progress lines may be printed at all (not off). */
int sf__progress_enabled(void);
/* Seconds between two lines of one operation (for a caller that polls). */
double sf__progress_interval(void);

static inline double sf__progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Start an operation. tag NULL (a worker rank) or progress off leaves p inactive. */
void sf__progress_begin(sf_progress *p, const char *tag, const char *what, uint64_t total,
                        const char *unit);
/* Print p's line now, with `fmt` as its detail (NULL: done/total/unit, elapsed). */
void sf__progress_show(sf_progress *p, const char *fmt, ...) SF_PRINTF(2, 3);
/* 1 when a line is due (the caller then formats it with sf__progress_show). */
static inline int sf__progress_due(const sf_progress *p) {
    return p->on && sf__progress_now() >= p->next;
}
static inline void sf__progress_update(sf_progress *p, uint64_t done) {
    if (!p->on) return;
    p->done = done;
    if (sf__progress_now() >= p->next) sf__progress_show(p, NULL);
}
/* End the operation: a redrawn line is cleared; in plain mode a shown operation gets a
 * last line ("done ..." when ok, nothing more when it failed: its error says why). */
void sf__progress_end(sf_progress *p, int ok);
/* Clear a redrawn line from the terminal, if one is showing (log writers call it). */
void sf__progress_clear_line(void);

#endif
