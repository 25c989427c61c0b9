/*
 * Small helpers the benchmarks share: a monotonic clock, the median of a sample, a
 * blocking whole-buffer socket transfer, and the machine-readable results (JSON lines).
 *
 * Results: every measured figure is also written as one JSON object on one line (the format
 * is in bench/README.md, "Result format"), appended to the file named by `--json FILE` /
 * `--json=FILE` (bench_json_args takes it out of argv and exports it as SF_BENCH_JSON, so
 * child processes inherit it) or by the environment variable SF_BENCH_JSON. Without either,
 * bench_json writes nothing. Each line is one write(2) to a file opened with O_APPEND, so
 * processes writing the same file do not interleave within a line. Only one process of a
 * multi-process run may call bench_json for a figure (party 0; rank 0).
 *   SF_BENCH_CONFIG   extra members of every line's "config", as JSON members without braces
 *                     (e.g. '"cipher": "aesgcm"'), set by the scripts that run a benchmark
 *   SF_BENCH_COMMIT   the commit to record; otherwise `git describe` of the source tree at
 *                     run time, otherwise the commit the build was configured at
 */
#ifndef SF_BENCH_UTIL_H
#define SF_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (n >= 1; the mean of the middle two for even n); v is left as is. */
static inline double bench_median(const double *v, int n) {
    double *c = malloc(sizeof *c * (size_t)n);
    if (!c) abort();
    memcpy(c, v, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, bench_cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/* Send (writing) or receive all `len` bytes on a blocking socket; -1 on error or EOF. */
static inline int bench_io_full(int fd, void *buf, size_t len, int writing) {
    size_t done = 0;
    while (done < len) {
        ssize_t r = writing ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL)
                            : recv(fd, (char *)buf + done, len - done, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        done += (size_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------------ JSON-lines results */

#ifndef SF_BENCH_COMMIT_BUILD
#define SF_BENCH_COMMIT_BUILD "unknown"
#endif
#ifndef SF_BENCH_SOURCE_DIR
#define SF_BENCH_SOURCE_DIR ""
#endif

/* A JSON text being built in a fixed buffer; `over` is set when it did not fit. */
typedef struct bench_buf {
    char s[4096];
    size_t len;
    int over;
} bench_buf;

static inline void bench_buf_raw(bench_buf *b, const char *fmt, ...) {
    if (b->over) return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(b->s + b->len, sizeof b->s - b->len, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= sizeof b->s - b->len) b->over = 1;
    else b->len += (size_t)r;
}

/* A JSON string (quoted, escaped); NULL is null. */
static inline void bench_buf_str(bench_buf *b, const char *v) {
    if (!v) {
        bench_buf_raw(b, "null");
        return;
    }
    bench_buf_raw(b, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') bench_buf_raw(b, "\\%c", *p);
        else if (*p == '\n') bench_buf_raw(b, "\\n");
        else if (*p == '\t') bench_buf_raw(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f) bench_buf_raw(b, "\\u%04x", *p);
        else bench_buf_raw(b, "%c", *p);
    }
    bench_buf_raw(b, "\"");
}

/* A JSON number; NaN and infinities are null (JSON has no such numbers). */
static inline void bench_buf_num(bench_buf *b, double v) {
    if (isfinite(v)) bench_buf_raw(b, "%.10g", v);
    else bench_buf_raw(b, "null");
}

/* The "config" object of a figure: bench_cfg_str / bench_cfg_num add members in order. */
typedef struct bench_cfg {
    bench_buf b;
} bench_cfg;

static inline void bench_cfg_key(bench_cfg *c, const char *key) {
    if (c->b.len) bench_buf_raw(&c->b, ", ");
    bench_buf_str(&c->b, key);
    bench_buf_raw(&c->b, ": ");
}
static inline void bench_cfg_str(bench_cfg *c, const char *key, const char *v) {
    bench_cfg_key(c, key);
    bench_buf_str(&c->b, v);
}
static inline void bench_cfg_num(bench_cfg *c, const char *key, double v) {
    bench_cfg_key(c, key);
    bench_buf_num(&c->b, v);
}

/* Take `--json FILE` or `--json=FILE` out of argv (argc is updated) and export the file as
 * SF_BENCH_JSON. Returns 0, or -1 (with a message) when --json has no file. Call it before
 * the benchmark parses its own options. */
static inline int bench_json_args(int *argc, char **argv) {
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *file = NULL;
        if (!strcmp(argv[i], "--json")) {
            if (i + 1 >= *argc || !argv[i + 1][0]) {
                fprintf(stderr, "%s: option --json needs a file name\n", argv[0]);
                return -1;
            }
            file = argv[++i];
        } else if (!strncmp(argv[i], "--json=", 7)) {
            file = argv[i] + 7;
            if (!file[0]) {
                fprintf(stderr, "%s: option --json= needs a file name\n", argv[0]);
                return -1;
            }
        }
        if (file) setenv("SF_BENCH_JSON", file, 1);
        else argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* The commit to record (see the top of this file); computed once. */
static inline const char *bench_commit(void) {
    static char commit[128];
    if (commit[0]) return commit;
    const char *e = getenv("SF_BENCH_COMMIT");
    if (e && e[0]) {
        snprintf(commit, sizeof commit, "%s", e);
        return commit;
    }
    if (SF_BENCH_SOURCE_DIR[0]) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "git -C '%s' describe --always --dirty 2>/dev/null",
                 SF_BENCH_SOURCE_DIR);
        FILE *p = popen(cmd, "r");
        if (p) {
            if (fgets(commit, sizeof commit, p)) commit[strcspn(commit, "\r\n")] = 0;
            if (pclose(p) != 0) commit[0] = 0;
        }
    }
    if (!commit[0]) snprintf(commit, sizeof commit, "%s", SF_BENCH_COMMIT_BUILD);
    return commit;
}

/* The 1-minute load average now, or NaN. */
static inline double bench_load1(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double l = NAN;
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = NAN;
        fclose(f);
    }
    return l;
}

/* Append one figure to the results file, if there is one (SF_BENCH_JSON). `baseline` is
 * the raw baseline measured in the same run, NaN when there is none (then baseline_name
 * should be NULL); the line's ratio is always value / baseline (null without a baseline).
 * Returns 0, or -1 with a message naming the file when it cannot be written. */
static inline int bench_json(const char *name, const bench_cfg *cfg, double value,
                             const char *unit, double baseline, const char *baseline_name) {
    const char *path = getenv("SF_BENCH_JSON");
    if (!path || !path[0]) return 0;
    bench_buf b = {.len = 0};
    char host[256] = "", when[32] = "";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    const char *extra = getenv("SF_BENCH_CONFIG");
    int have = cfg && cfg->b.len;
    bench_buf_raw(&b, "{\"name\": ");
    bench_buf_str(&b, name);
    bench_buf_raw(&b, ", \"config\": {%s%s%s}, \"value\": ", have ? cfg->b.s : "",
                  have && extra && extra[0] ? ", " : "", extra ? extra : "");
    bench_buf_num(&b, value);
    bench_buf_raw(&b, ", \"unit\": ");
    bench_buf_str(&b, unit);
    bench_buf_raw(&b, ", \"baseline\": ");
    bench_buf_num(&b, baseline);
    bench_buf_raw(&b, ", \"baseline_name\": ");
    bench_buf_str(&b, isfinite(baseline) ? baseline_name : NULL);
    bench_buf_raw(&b, ", \"ratio\": ");
    bench_buf_num(&b, isfinite(baseline) && baseline != 0 ? value / baseline : NAN);
    bench_buf_raw(&b, ", \"commit\": ");
    bench_buf_str(&b, bench_commit());
    bench_buf_raw(&b, ", \"load\": ");
    bench_buf_num(&b, bench_load1());
    bench_buf_raw(&b, ", \"time\": ");
    bench_buf_str(&b, when);
    bench_buf_raw(&b, ", \"host\": ");
    bench_buf_str(&b, host);
    bench_buf_raw(&b, "}\n");
    if (b.over || (cfg && cfg->b.over)) {
        fprintf(stderr, "bench_json: the result line for %s is longer than %zu bytes; not written\n",
                name, sizeof b.s);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "bench_json: cannot open %s (SF_BENCH_JSON): %s\n", path, strerror(errno));
        return -1;
    }
    ssize_t w = write(fd, b.s, b.len);
    int err = errno;
    close(fd);
    if (w != (ssize_t)b.len) {
        fprintf(stderr, "bench_json: cannot write %s (SF_BENCH_JSON): %s\n", path,
                w < 0 ? strerror(err) : "short write");
        return -1;
    }
    return 0;
}

/* A "VmXXX:   1234 kB" field of /proc/self/status (VmHWM, VmRSS), in KiB; -1 if absent. */
static inline long bench_status_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atol(line + kl + 1);
            break;
        }
    fclose(f);
    return v;
}

#endif
