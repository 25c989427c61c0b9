/*
 * Unit tests of the progress reporter (core/progress.c) and its options: the lines it
 * writes (plain, and redrawn on a pseudo-terminal), the threshold and the interval, the
 * inactive cases, and --sf-progress / SF_PROGRESS / sf_config.progress / --sf-quiet.
 * stderr is redirected to a file or a pty around each case and read back.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/progress.h"
#include "runtime/internal.h"
#include "tests/check.h"

static int saved_fd = -1;
static char out[8192];

/* stderr goes to a fresh temporary file (not a terminal) */
static int to_file(void) {
    char path[] = "/tmp/sfmpi-test-progress.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    fflush(stderr);
    saved_fd = dup(2);
    dup2(fd, 2);
    return fd;
}

/* stderr back; what was written to fd (from its start) in out */
static const char *restore(int fd, int is_pty) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    size_t n = 0;
    if (!is_pty) lseek(fd, 0, SEEK_SET);
    for (;;) {
        /* a pty's master gives what was written in pieces and never EOF: read until
         * nothing more comes for 200 ms */
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (is_pty && poll(&pf, 1, 200) <= 0) break;
        ssize_t r = read(fd, out + n, sizeof out - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    out[n] = 0;
    return out;
}

static int count(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
    return n;
}

static void plain_lines(void) {
    setenv("SF_PROGRESS_AFTER", "0", 1);
    setenv("SF_PROGRESS_EVERY", "0", 1);
    int fd = to_file();
    sf__progress_configure(0, 0); /* auto, and stderr is a file: plain lines */
    sf_progress p;
    sf__progress_begin(&p, "sim alice/0", "reading f.h5:x", 4u << 20, "B");
    sf__progress_update(&p, 1u << 20);
    sf__progress_update(&p, 3u << 20);
    p.done = p.total;
    sf__progress_end(&p, 1);
    const char *s = restore(fd, 0);
    ASSERT_STR_CONTAINS(s, "[sim alice/0] progress: reading f.h5:x: 1.0 MiB of 4.0 MiB (25%), ");
    ASSERT_STR_CONTAINS(s, "[sim alice/0] progress: reading f.h5:x: 3.0 MiB of 4.0 MiB (75%), ");
    ASSERT_STR_CONTAINS(s, "[sim alice/0] progress: reading f.h5:x: done, 4.0 MiB in ");
    ASSERT_EQ(count(s, "\n"), 3);
    ASSERT_EQ(count(s, "\r"), 0);
    close(fd);

    /* a count without a total, with a second count; then a failed end: no "done" */
    fd = to_file();
    sf__progress_begin(&p, "debug bob/0", "SPU kernel 'k'", 0, "operations");
    p.aux_unit = "B sent";
    p.aux = 2048;
    sf__progress_update(&p, 3);
    sf__progress_end(&p, 0);
    s = restore(fd, 0);
    ASSERT_STR_CONTAINS(s, "[debug bob/0] progress: SPU kernel 'k': 3 operations, 2.0 KiB sent, ");
    ASSERT_EQ(count(s, "\n"), 1);
    close(fd);

    /* a custom detail (start-up) and its done line */
    fd = to_file();
    sf__progress_begin(&p, "prod alice/0", "start-up", 0, "");
    ASSERT(sf__progress_due(&p));
    sf__progress_show(&p, "connected %d/%d, waiting for %s", 1, 2, "bob at 127.0.0.1:9");
    sf__progress_end(&p, 1);
    s = restore(fd, 0);
    ASSERT_STR_CONTAINS(s, "[prod alice/0] progress: start-up: connected 1/2, waiting for bob at 127.0.0.1:9\n");
    ASSERT_STR_CONTAINS(s, "[prod alice/0] progress: start-up: done in ");
    close(fd);
}

static void quiet_cases(void) {
    sf_progress p;
    /* below the threshold: nothing */
    setenv("SF_PROGRESS_AFTER", "100", 1);
    setenv("SF_PROGRESS_EVERY", "0", 1);
    int fd = to_file();
    sf__progress_configure(1, 0);
    sf__progress_begin(&p, "sim alice/0", "writing f.h5:x", 100, "B");
    ASSERT(p.on);
    ASSERT(!sf__progress_due(&p));
    sf__progress_update(&p, 50);
    p.done = 100;
    sf__progress_end(&p, 1);
    ASSERT_STR_EQ(restore(fd, 0), "");
    close(fd);

    /* one line per interval */
    setenv("SF_PROGRESS_AFTER", "0", 1);
    setenv("SF_PROGRESS_EVERY", "100", 1);
    fd = to_file();
    sf__progress_configure(1, 0);
    sf__progress_begin(&p, "sim alice/0", "writing f.h5:x", 100, "B");
    for (int i = 1; i <= 50; i++) sf__progress_update(&p, (uint64_t)i);
    sf__progress_end(&p, 0);
    ASSERT_EQ(count(restore(fd, 0), "progress:"), 1);
    close(fd);

    /* off, and a worker rank (no tag): nothing, and the struct stays inactive */
    setenv("SF_PROGRESS_EVERY", "0", 1);
    fd = to_file();
    sf__progress_configure(-1, 0);
    ASSERT(!sf__progress_enabled());
    sf__progress_begin(&p, "sim alice/0", "x", 10, "B");
    ASSERT(!p.on);
    sf__progress_update(&p, 5);
    sf__progress_end(&p, 1);
    sf__progress_configure(1, 0);
    ASSERT(sf__progress_enabled());
    sf__progress_begin(&p, NULL, "x", 10, "B");
    ASSERT(!p.on);
    sf__progress_update(&p, 5);
    sf__progress_end(&p, 1);
    ASSERT_STR_EQ(restore(fd, 0), "");
    close(fd);
}

/* auto on a terminal redraws one line and clears it at the end; debug mode does not */
static void redraw(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (!ASSERT_GE(m, 0) || !ASSERT_EQ(grantpt(m), 0) || !ASSERT_EQ(unlockpt(m), 0)) return;
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    if (!ASSERT_GE(s, 0)) return;
    setenv("SF_PROGRESS_AFTER", "0", 1);
    setenv("SF_PROGRESS_EVERY", "0", 1);
    fflush(stderr);
    saved_fd = dup(2);
    dup2(s, 2);
    sf__progress_configure(0, 0);
    sf_progress p;
    sf__progress_begin(&p, "sim alice/0", "reading f.h5:x", 4u << 20, "B");
    sf__progress_update(&p, 2u << 20);
    sf__progress_end(&p, 1);
    const char *o = restore(m, 1);
    ASSERT_STR_CONTAINS(o, "\r[sim alice/0] progress: reading f.h5:x: 2.0 MiB of 4.0 MiB (50%), ");
    ASSERT_STR_CONTAINS(o, "\033[K\r\033[K"); /* the line, then its clearing */
    ASSERT_EQ(count(o, "\n"), 0);
    ASSERT_EQ(count(o, "done"), 0);

    /* a log line while a redrawn line shows clears it first */
    saved_fd = dup(2);
    dup2(s, 2);
    sf__progress_begin(&p, "sim alice/0", "reading f.h5:x", 4u << 20, "B");
    sf__progress_update(&p, 1u << 20);
    sf__progress_clear_line();
    sf__progress_clear_line(); /* nothing more: the line is gone */
    o = restore(m, 1);
    ASSERT_EQ(count(o, "\r\033[K"), 1);
    sf__progress_end(&p, 1);

    saved_fd = dup(2);
    dup2(s, 2);
    sf__progress_configure(0, 1); /* debug mode: plain lines even on a terminal */
    sf__progress_begin(&p, "debug alice/0", "reading f.h5:x", 4u << 20, "B");
    sf__progress_update(&p, 2u << 20);
    o = restore(m, 1);
    ASSERT_EQ(count(o, "\r"), 1); /* the terminal's own \r of "\r\n" (onlcr), no redraw */
    ASSERT_STR_CONTAINS(o, "[debug alice/0] progress: reading f.h5:x: 2.0 MiB of 4.0 MiB (50%)");
    sf__progress_configure(-1, 0);
    sf__progress_end(&p, 0);
    close(s);
    close(m);
}

static int parse(sf_opts *o, int argc, char **argv, int cfg_progress, char *err) {
    sf_config c = {.argc = argc, .argv = argv, .progress = cfg_progress};
    err[0] = 0;
    return sf__opts_parse(o, &c, err, 512);
}

static void options(void) {
    char err[512];
    sf_opts o;
    unsetenv("SF_PROGRESS");
    unsetenv("SF_QUIET");
    setenv("SF_PARTIES", "alice,bob", 1);
    struct {
        const char *arg;
        int cfg, want;
    } ok[] = {{NULL, 0, 0},  {NULL, 1, 1},   {NULL, -1, -1}, {NULL, 7, 1},
              {"--sf-progress=on", 0, 1}, {"--sf-progress=off", 1, -1},
              {"--sf-progress=auto", -1, 0}, {"--sf-progress=1", 0, 1}, {"--sf-progress=no", 0, -1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *argv[] = {"prog", (char *)ok[i].arg, NULL};
        if (ASSERT_OK(parse(&o, ok[i].arg ? 2 : 1, argv, ok[i].cfg, err)))
            ASSERT_EQ_MSG(o.progress, ok[i].want, "%s with sf_config.progress %d",
                          ok[i].arg ? ok[i].arg : "(none)", ok[i].cfg);
        sf__opts_free(&o);
    }
    /* the environment, overridden by the command line */
    setenv("SF_PROGRESS", "off", 1);
    char *a1[] = {"prog", NULL}, *a2[] = {"prog", "--sf-progress", "on", NULL};
    if (ASSERT_OK(parse(&o, 1, a1, 1, err))) ASSERT_EQ(o.progress, -1);
    sf__opts_free(&o);
    if (ASSERT_OK(parse(&o, 3, a2, 0, err))) ASSERT_EQ(o.progress, 1);
    sf__opts_free(&o);
    setenv("SF_PROGRESS", "sometimes", 1);
    ASSERT_EQ(parse(&o, 1, a1, 0, err), SF_EUSAGE);
    ASSERT_STR_CONTAINS(err, "SF_PROGRESS: bad value 'sometimes' for progress");
    sf__opts_free(&o);
    unsetenv("SF_PROGRESS");
    /* bad values name the option and say what it takes */
    char *a3[] = {"prog", "--sf-progress=loud", NULL}, *a4[] = {"prog", "--sf-progress", NULL};
    ASSERT_EQ(parse(&o, 2, a3, 0, err), SF_EUSAGE);
    ASSERT_STR_CONTAINS(err, "--sf-progress=loud: bad value 'loud'");
    ASSERT_STR_CONTAINS(err, "auto (a line redrawn in place when stderr is a terminal");
    sf__opts_free(&o);
    ASSERT_EQ(parse(&o, 2, a4, 0, err), SF_EUSAGE);
    sf__opts_free(&o);
    char *a5[] = {"prog", "--sf-progres=on", NULL};
    ASSERT_EQ(parse(&o, 2, a5, 0, err), SF_EUSAGE);
    ASSERT_STR_CONTAINS(err, "--sf-progress,");
    sf__opts_free(&o);
    unsetenv("SF_PARTIES");
}

int main(void) {
    plain_lines();
    quiet_cases();
    redraw();
    options();
    TEST_DONE();
}
