/*
 * Progress lines (see core/progress.h for the contract). The configuration is process-
 * wide and set before any operation starts; the output state (whether a redrawn line is
 * on the terminal) is shared by every thread under one mutex.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OUT_OFF = 0, OUT_PLAIN = 1, OUT_REDRAW = 2 };

static int g_out = OUT_OFF;
static double g_after = 2.0, g_every = 5.0;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_dirty; /* a redrawn line is on the terminal (under g_mu) */

/* A knob in seconds (>= 0), or `dflt` when unset or malformed. */
static double knob(const char *name, double dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    double v = strtod(s, &end);
    return (*end || !(v >= 0)) ? dflt : v;
}

void sf__progress_configure(int setting, int plain_only) {
    if (setting < 0) g_out = OUT_OFF;
    else if (setting > 0) g_out = OUT_PLAIN;
    else g_out = (!plain_only && isatty(STDERR_FILENO)) ? OUT_REDRAW : OUT_PLAIN;
    g_after = knob("SF_PROGRESS_AFTER", 2.0);
    g_every = knob("SF_PROGRESS_EVERY", g_out == OUT_REDRAW ? 0.5 : 5.0);
}

int sf__progress_enabled(void) { return g_out != OUT_OFF; }

double sf__progress_interval(void) { return g_every; }

void sf__progress_begin(sf_progress *p, const char *tag, const char *what, uint64_t total,
                        const char *unit) {
    memset(p, 0, sizeof *p);
    if (!tag || g_out == OUT_OFF) return;
    p->on = 1;
    p->t0 = sf__progress_now();
    p->next = p->t0 + g_after;
    p->total = total;
    p->unit = unit ? unit : "";
    snprintf(p->tag, sizeof p->tag, "%s", tag);
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
}

/* "12.0 MiB" for unit "B", else "1200 rows" (without the unit when `bare`). */
static int amount(char *buf, size_t len, uint64_t n, const char *unit, int bare) {
    if (!strncmp(unit, "B", 1) && (unit[1] == 0 || unit[1] == ' ')) {
        static const char *const sfx[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double x = (double)n;
        int i = 0;
        while (x >= 1024 && i < 4) x /= 1024, i++;
        return i ? snprintf(buf, len, "%.1f %s%s", x, sfx[i], unit + 1)
                 : snprintf(buf, len, "%llu B%s", (unsigned long long)n, unit + 1);
    }
    if (bare || !*unit) return snprintf(buf, len, "%llu", (unsigned long long)n);
    size_t ul = strlen(unit); /* "1 operation", "2 operations" */
    int sing = n == 1 && ul > 1 && unit[ul - 1] == 's';
    return snprintf(buf, len, "%llu %.*s", (unsigned long long)n, (int)(ul - (size_t)sing), unit);
}

/* The default detail: "a of b unit (p%), t s" or "a unit[, aux], t s". */
static void detail(const sf_progress *p, double t, char *buf, size_t len) {
    char a[64], b[64], x[64] = "";
    size_t o;
    if (p->aux_unit) {
        x[0] = ',', x[1] = ' ';
        amount(x + 2, sizeof x - 2, p->aux, p->aux_unit, 0);
    }
    if (p->total) {
        amount(a, sizeof a, p->done, p->unit, 1);
        amount(b, sizeof b, p->total, p->unit, 0);
        o = (size_t)snprintf(buf, len, "%s of %s (%.0f%%)%s, %.1f s", a, b,
                             100.0 * (double)p->done / (double)p->total, x, t - p->t0);
    } else {
        amount(a, sizeof a, p->done, p->unit, 0);
        o = (size_t)snprintf(buf, len, "%s%s, %.1f s", a, x, t - p->t0);
    }
    if (!strcmp(p->unit, "B") && t - p->t0 >= 1.0 && o < len) /* a rate once it means something */
        snprintf(buf + o, len - o, ", %.1f MiB/s", (double)p->done / 1048576.0 / (t - p->t0));
}

/* Write one line (the caller formats the text). Under g_mu. */
static void emit(const char *text) {
    char line[736];
    int n;
    if (g_out == OUT_REDRAW) {
        n = snprintf(line, sizeof line, "\r%s\033[K", text);
        g_dirty = 1;
    } else {
        n = snprintf(line, sizeof line, "%s\n", text);
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

void sf__progress_show(sf_progress *p, const char *fmt, ...) {
    if (!p->on) return;
    double t = sf__progress_now();
    char d[384], text[720];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d, sizeof d, fmt, ap);
        va_end(ap);
    } else {
        detail(p, t, d, sizeof d);
    }
    snprintf(text, sizeof text, "[%s] progress: %s: %s", p->tag, p->what, d);
    pthread_mutex_lock(&g_mu);
    emit(text);
    pthread_mutex_unlock(&g_mu);
    p->shown = 1;
    p->next = t + g_every;
}

void sf__progress_end(sf_progress *p, int ok) {
    if (!p->on) return;
    p->on = 0;
    if (!p->shown) return;
    if (g_out == OUT_REDRAW) {
        sf__progress_clear_line();
        return;
    }
    if (!ok) return;
    double t = sf__progress_now();
    char a[64] = "", x[64] = "", text[512];
    if (*p->unit) amount(a, sizeof a, p->done, p->unit, 0);
    if (p->aux_unit) amount(x, sizeof x, p->aux, p->aux_unit, 0);
    /* "done, 64.0 MiB in 5.2 s", "done, 120 operations, 3.1 MiB sent in 5.2 s", "done in 4.0 s" */
    snprintf(text, sizeof text, "[%s] progress: %s: done%s%s%s%s in %.1f s", p->tag, p->what,
             *a ? ", " : "", a, *x ? ", " : "", x, t - p->t0);
    pthread_mutex_lock(&g_mu);
    emit(text);
    pthread_mutex_unlock(&g_mu);
}

void sf__progress_clear_line(void) {
    if (g_out != OUT_REDRAW) return;
    pthread_mutex_lock(&g_mu);
    if (g_dirty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        g_dirty = 0;
    }
    pthread_mutex_unlock(&g_mu);
}
