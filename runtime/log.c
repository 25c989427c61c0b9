/*
 * Logs: every line tagged [mode party/rank #call]. In debug mode all ranks share one
 * thread and a deterministic schedule, so the log is the same, in program order, on
 * every run. sf_print writes once per run (party 0's leader) to stdout, for results
 * that every party knows.
 */
#include <string.h>

#include "core/progress.h"
#include "runtime/internal.h"

void sf__logv(sf_ctx *sf, FILE *f, const char *fmt, va_list ap) {
    char line[2048];
    int n = snprintf(line, sizeof line, "[%s %s/%d #%llu] ", sf_mode_name(sf->run->opts.mode),
                     sf__party_name(sf, sf->party), sf->rank, (unsigned long long)sf->call_seq);
    if (n < 0) return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = m < 0 ? (size_t)n : strnlen(line, sizeof line - 2);
    if (len == 0 || line[len - 1] != '\n') line[len++] = '\n';
    if (f == stderr) sf__progress_clear_line();
    fwrite(line, 1, len, f);
    fflush(f);
}

const char *sf__progress_tag(const sf_ctx *sf, char *buf, size_t len) {
    if (sf->rank != 0) return NULL; /* only a party's leader reports */
    snprintf(buf, len, "%s %s/0", sf_mode_name(sf->run->opts.mode), sf__party_name(sf, sf->party));
    return buf;
}

void sf_log(sf_ctx *sf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sf__logv(sf, stderr, fmt, ap);
    va_end(ap);
}

void sf__info(sf_ctx *sf, const char *fmt, ...) {
    if (sf->run->opts.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    sf__logv(sf, stderr, fmt, ap);
    va_end(ap);
}

void sf_print(sf_ctx *sf, const char *fmt, ...) {
    if (sf->party != 0 || sf->rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
}
