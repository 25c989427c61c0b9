/*
 * sf_h5_read through the runtime with the read options (--sf-h5-*, SF_H5_* in the
 * environment) on files that are not what they seem: data stored outside the file
 * (external storage, a virtual dataset), a dataset that declares far more than its file
 * holds, and legitimately large declarations (chunked, unallocated) against the limit;
 * and the message when an allocation fails anyway. Each case runs this program as a child in debug
 * mode with two ranks per party (fork + exec of itself, its stdout and stderr to files),
 * and the parent checks the exit status, the messages, the values read and the child's
 * peak RSS (wait4); a child that does not exit within a minute fails its case. The
 * program limits the address space of each party's leader (in debug mode: the process)
 * to what it has when it starts plus 512 MiB (SF_TEST_AS_HEADROOM_MB), so a large
 * allocation fails there instead of going unnoticed. With --mpiexec, cases marked sim
 * run under mpiexec in simulation mode.
 *
 *   test_h5_read_opts [--mpiexec PATH]               run every case (the sim ones with PATH)
 *   test_h5_read_opts --child FILE DATASET [--sf-...] read FILE:DATASET, print the values
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sfmpi/sf.h"
#include "tests/io/h5_test_files.h"
#include "tests/check.h"

/* ---------------------------------------------------------------- child */

typedef struct child_args {
    const char *file, *dataset;
} child_args;

static void limit_address_space(size_t extra);

static int child_program(sf_ctx *sf, void *arg) {
    const child_args *a = arg;
    /* on the parties' leaders (in debug mode: the whole process), after MPI is set up */
    static int limited;
    if (!limited) {
        const char *mb = getenv("SF_TEST_AS_HEADROOM_MB");
        limit_address_space((size_t)(mb ? atol(mb) : 512) << 20);
        limited = 1;
    }
    sf_obj x = sf_h5_read(sf_pyu_all(sf, "alice"), a->file, a->dataset);
    sf_value *v; /* borrowed */
    SF_TRY(sf_get(sf, x, &v));
    char line[4096];
    size_t o = 0, n = sf_value_nelems(v);
    o += (size_t)snprintf(line + o, sizeof line - o, "read %s ndim %d rows %lld:",
                          sf_dtype_name(sf_value_dtype(v)), sf_value_ndim(v),
                          (long long)(sf_value_ndim(v) ? sf_value_dim(v, 0) : 1));
    for (size_t i = 0; i < n && i < 16 && o < sizeof line; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, " %.17g",
                              sf_value_dtype(v) == SF_F64 ? ((const double *)sf_value_cdata(v))[i]
                                                          : 0.0);
    sf_print(sf, "%s\n", line);
    return 0; /* v is borrowed */
}

/* The address space this process has now plus `extra` bytes, as its limit. */
static void limit_address_space(size_t extra) {
    FILE *f = fopen("/proc/self/status", "r");
    char l[256];
    unsigned long long kb = 0;
    while (f && fgets(l, sizeof l, f))
        if (sscanf(l, "VmSize: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    if (!kb) return;
    struct rlimit r;
    getrlimit(RLIMIT_AS, &r);
    rlim_t want = (rlim_t)kb * 1024 + extra;
    if (r.rlim_max == RLIM_INFINITY || want < r.rlim_max) r.rlim_cur = want;
    setrlimit(RLIMIT_AS, &r);
}

static int child_main(int argc, char **argv) {
    child_args a = {argv[2], argv[3]};
    char *av[64];
    int n = 0;
    av[n++] = argv[0];
    av[n++] = "--sf-mode=debug";
    av[n++] = "--sf-parties=alice,bob";
    av[n++] = "--sf-ranks-per-party=2";
    av[n++] = "--sf-quiet";
    for (int i = 4; i < argc && n < 63; i++) av[n++] = argv[i];
    av[n] = NULL;
    return sf_main(n, av, child_program, &a);
}

/* ---------------------------------------------------------------- files */

static char dir[512];
static h5t_outside out;
static char bomb_path[700], sizes_path[700];
static uint64_t bomb_declared;
static long bomb_fsize;

/* in the data directory ext.h5 and vds.h5 with data outside it (h5_test_files.h); bomb.h5,
 * a contiguous dataset that declares 2 GiB in a file of a few KB; sizes.h5, legitimately
 * large declarations (chunked, compressed, unallocated) */
static void make_files(void) {
    ASSERT_EQ(h5t_make_outside(dir, &out), 0);
    snprintf(bomb_path, sizeof bomb_path, "%s/data/bomb.h5", dir);
    ASSERT_EQ(h5t_make_bomb(bomb_path, &bomb_declared, &bomb_fsize), 0);
    snprintf(sizes_path, sizeof sizes_path, "%s/data/sizes.h5", dir);
    ASSERT_EQ(h5t_make_sizes(sizes_path), 0);
}

static const char *secret_text =
    " 1.5 -2.25 3 1.0000000000000001e+300 -0 42 7.125 -1e-300";

/* ---------------------------------------------------------------- cases */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    n = fread(b, 1, cap, f);
    b[n] = 0;
    fclose(f);
    return b;
}

typedef struct expect {
    int exit_code;
    const char *stderr_has[6]; /* each must appear in the child's stderr */
    const char *stdout_has;    /* must appear in its stdout (NULL: nothing checked) */
    const char *stdout_lacks;  /* must not appear in its stdout */
    int max_rss_mb;            /* the child's peak RSS must stay below (0: 256 MiB) */
    int sim;                   /* run under mpiexec in simulation mode (2 x 2 ranks) */
} expect;

static char self_exe[4096], *mpiexec; /* --mpiexec PATH: run the sim cases */
enum { CHILD_TIMEOUT_S = 60 };

/* Run the child on file:dataset with `env` ("NAME=VALUE" or NULL) and options. */
static void run_case(int line, const char *name, const char *file, const char *dataset,
                     const char *env, const char *opt1, const char *opt2, const expect *x) {
    char out[700], errp[700];
    snprintf(out, sizeof out, "%s/%s.out", dir, name);
    snprintf(errp, sizeof errp, "%s/%s.err", dir, name);
    if (x->sim && !mpiexec) {
        printf("  skip %-16s no --mpiexec given\n", name);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); /* its own process group, to stop it (and mpiexec's ranks) on timeout */
        unsetenv("SF_H5_ALLOW_EXTERNAL");
        unsetenv("SF_H5_MAX_BYTES");
        unsetenv("SF_TEST_AS_HEADROOM_MB");
        if (env) putenv((char *)env);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0) _exit(120);
        dup2(fo, 1), dup2(fe, 2);
        const char *av[24];
        int n = 0;
        if (x->sim) {
            setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
            setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
            static const char *mpi[] = {"-np", "4", "--oversubscribe", "--mca",
                                        "mpi_yield_when_idle", "1"};
            av[n++] = mpiexec;
            for (int i = 0; i < 6; i++) av[n++] = mpi[i];
            if (env) av[n++] = "-x", av[n++] = strndup(env, strcspn(env, "="));
        }
        av[n++] = self_exe;
        av[n++] = "--child", av[n++] = file, av[n++] = dataset;
        if (opt1) av[n++] = opt1;
        if (opt2) av[n++] = opt2;
        if (x->sim) av[n++] = "--sf-mode=sim";
        av[n] = NULL;
        execv(av[0], (char **)av);
        _exit(121);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t got = 0;
    for (int tick = 0; pid > 0 && got == 0; tick++) { /* a hang is a failure, not a hang */
        got = wait4(pid, &status, WNOHANG, &ru);
        if (got == 0 && tick == CHILD_TIMEOUT_S * 10) {
            fprintf(stderr, "case %s: no exit after %d s, stopping it\n", name, CHILD_TIMEOUT_S);
            kill(-pid, SIGTERM);
            sleep(3);
            kill(-pid, SIGKILL);
        }
        if (got == 0) usleep(100000);
    }
    ASSERT_GT(pid, 0);
    ASSERT_EQ(got, pid);
    char *so = slurp(out), *se = slurp(errp);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int ok = code == x->exit_code;
    for (int i = 0; i < 6 && x->stderr_has[i]; i++) ok &= strstr(se, x->stderr_has[i]) != NULL;
    if (x->stdout_has) ok &= strstr(so, x->stdout_has) != NULL;
    if (x->stdout_lacks) ok &= strstr(so, x->stdout_lacks) == NULL;
    /* the data are a few bytes: the child never needs much memory */
    long rss_mb = ru.ru_maxrss / 1024;
    if (!x->sim) ok &= rss_mb < (x->max_rss_mb ? x->max_rss_mb : 256);
    if (ok) {
        const char *show = strstr(se, "task '");  /* the failure, else the first line */
        show = show ? show : se[0] ? se : so;
        printf("  ok %-18s exit %d, peak RSS %ld MiB: %.*s\n", name, code, rss_mb,
               (int)strcspn(show, "\n"), show);
    } else {
        char want[600] = "";
        size_t wl = 0;
        for (int i = 0; i < 6 && x->stderr_has[i] && wl < sizeof want; i++)
            wl += (size_t)snprintf(want + wl, sizeof want - wl, " [%s]", x->stderr_has[i]);
        TEST_FAIL_AT(__FILE__, line, "case %s: exit %d (want %d), peak RSS %ld MiB; wanted in stderr:%s; "
                     "wanted in stdout: [%s], not [%s]", name, code, x->exit_code, rss_mb, want,
                     x->stdout_has ? x->stdout_has : "", x->stdout_lacks ? x->stdout_lacks : "");
        fprintf(stderr, "  stdout: %s\n  stderr: %s\n", so, se);
    }
    free(so);
    free(se);
}
#define RUN(name, file, ds, env, o1, o2, ...) \
    run_case(__LINE__, (name), (file), (ds), (env), (o1), (o2), &(expect){__VA_ARGS__})

static void outside_cases(void) {
    printf("storage outside the file:\n");
    char secret_vals[256];
    snprintf(secret_vals, sizeof secret_vals, "read float64 ndim 1 rows 8:%s", secret_text);
    /* refused by default, and with the option 0; read with the option 1 (or the env) */
    RUN("ext_default", out.ext, "ext", NULL, NULL, NULL, .exit_code = SF_EXIT_TASK,
        .stderr_has = {out.ext, "\"ext\"", out.secret, "--sf-h5-allow-external=1",
                       "sf_h5_read"},
        .stdout_lacks = "read ");
    RUN("ext_option0", out.ext, "ext", NULL, "--sf-h5-allow-external=0", NULL,
        .exit_code = SF_EXIT_TASK, .stderr_has = {out.secret, "--sf-h5-allow-external=1"});
    RUN("ext_env0", out.ext, "ext", "SF_H5_ALLOW_EXTERNAL=0", NULL, NULL,
        .exit_code = SF_EXIT_TASK, .stderr_has = {out.secret, "--sf-h5-allow-external=1"});
    RUN("ext_allowed", out.ext, "ext", NULL, "--sf-h5-allow-external=1", NULL, .exit_code = 0,
        .stdout_has = secret_vals);
    RUN("ext_allowed_env", out.ext, "ext", "SF_H5_ALLOW_EXTERNAL=1", NULL, NULL, .exit_code = 0,
        .stdout_has = secret_vals);
    RUN("ext_cli_over_env", out.ext, "ext", "SF_H5_ALLOW_EXTERNAL=1", "--sf-h5-allow-external=0",
        NULL, .exit_code = SF_EXIT_TASK, .stderr_has = {out.secret});
    RUN("vds_default", out.vds, "virt", NULL, NULL, NULL, .exit_code = SF_EXIT_TASK,
        .stderr_has = {out.vds, "\"virt\"", out.src, "virtual", "--sf-h5-allow-external=1"},
        .stdout_lacks = "read ");
    RUN("vds_allowed", out.vds, "virt", NULL, "--sf-h5-allow-external=1", NULL, .exit_code = 0,
        .stdout_has = secret_vals);
    RUN("allow_bad_value", out.ext, "ext", NULL, "--sf-h5-allow-external=maybe", NULL,
        .exit_code = SF_EXIT_USAGE, .stderr_has = {"bad value 'maybe' for h5-allow-external"});
    RUN("allow_bad_env", out.ext, "ext", "SF_H5_ALLOW_EXTERNAL=2", NULL, NULL,
        .exit_code = SF_EXIT_USAGE, .stderr_has = {"SF_H5_ALLOW_EXTERNAL: bad value '2'"});
}

static void size_cases(void) {
    printf("declared sizes:\n");
    char declares[128], only[128];
    snprintf(declares, sizeof declares, "declares %llu bytes", (unsigned long long)bomb_declared);
    snprintf(only, sizeof only, "but the file has only %ld bytes", bomb_fsize);
    /* refused by the leader's probe before anything is allocated: the child's address
     * space is limited to 512 MiB more than it starts with, so allocating the 2 GiB would
     * fail there with a different message; and its peak RSS stays small */
    RUN("bomb_default", bomb_path, "bomb", NULL, NULL, NULL, .exit_code = SF_EXIT_TASK,
        .stderr_has = {bomb_path, "\"bomb\"", declares, only});
    RUN("bomb_big_limit", bomb_path, "bomb", NULL, "--sf-h5-max-bytes=64g", NULL,
        .exit_code = SF_EXIT_TASK, .stderr_has = {declares, only});
    /* chunked data: the limit from the command line or the environment */
    RUN("chunked_over", sizes_path, "chunked", NULL, "--sf-h5-max-bytes=4k", NULL,
        .exit_code = SF_EXIT_TASK,
        .stderr_has = {sizes_path, "\"chunked\"", "is 8192 bytes (float64 [64, 16])",
                       "limit of 4096 bytes set by --sf-h5-max-bytes"});
    RUN("chunked_over_env", sizes_path, "chunked", "SF_H5_MAX_BYTES=8191", NULL, NULL,
        .exit_code = SF_EXIT_TASK, .stderr_has = {"\"chunked\"", "--sf-h5-max-bytes"});
    const char *chunk_vals = "read float64 ndim 2 rows 64: 0 0.5 1 1.5 2 2.5 3 3.5 4 4.5 5 5.5 6 "
                             "6.5 7 7.5\n";
    RUN("chunked_at_limit", sizes_path, "chunked", NULL, "--sf-h5-max-bytes=8k", NULL,
        .exit_code = 0, .stdout_has = chunk_vals);
    RUN("chunked_env", sizes_path, "chunked", "SF_H5_MAX_BYTES=1M", NULL, NULL, .exit_code = 0,
        .stdout_has = chunk_vals);
    RUN("chunked_default", sizes_path, "chunked", NULL, NULL, NULL, .exit_code = 0,
        .stdout_has = chunk_vals);
    /* unallocated contiguous data (fill values) */
    RUN("unalloc_over", sizes_path, "unalloc_2g", NULL, "--sf-h5-max-bytes=1m", NULL,
        .exit_code = SF_EXIT_TASK,
        .stderr_has = {"\"unalloc_2g\"", "is 2147483648 bytes", "--sf-h5-max-bytes"});
    RUN("unalloc_ok", sizes_path, "unalloc", NULL, "--sf-h5-max-bytes=64k", NULL, .exit_code = 0,
        .stdout_has = "read float64 ndim 1 rows 8192: 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7\n");
    /* the default limit: physical memory */
    RUN("huge_default", sizes_path, "huge", NULL, NULL, NULL, .exit_code = SF_EXIT_TASK,
        .stderr_has = {"\"huge\"", "is 1152921504606846976 bytes", "physical memory",
                       "--sf-h5-max-bytes"});
    /* bad values */
    static const char *bad[] = {"--sf-h5-max-bytes=12x", "--sf-h5-max-bytes=0",
                                "--sf-h5-max-bytes=-5", "--sf-h5-max-bytes=99999999999999g",
                                "--sf-h5-max-bytes="};
    for (int i = 0; i < 5; i++)
        RUN("max_bytes_bad", sizes_path, "chunked", NULL, bad[i], NULL,
            .exit_code = SF_EXIT_USAGE, .stderr_has = {"for h5-max-bytes (expected bytes > 0"});
}

/* An allocation that fails (a limit raised above what the machine can map: 2^60 bytes)
 * is reported with its total size and shape, with one rank per party and with two. */
static void oom_cases(void) {
    printf("out of memory:\n");
    RUN("oom_one_rank", sizes_path, "huge", NULL, "--sf-h5-max-bytes=2000000000g",
        "--sf-ranks-per-party=1", .exit_code = SF_EXIT_TASK,
        .stderr_has = {sizes_path, "huge: out of memory for 1152921504606846976 bytes "
                                   "(float64 [144115188075855872])"});
    RUN("oom_two_ranks", sizes_path, "huge", NULL, "--sf-h5-max-bytes=2000000000g", NULL,
        .exit_code = SF_EXIT_TASK,
        .stderr_has = {sizes_path, "huge: out of memory for the whole dataset, gathered on "
                                   "rank 0: 1152921504606846976 bytes (float64 "
                                   "[144115188075855872])"});
    /* only the leader fails: it may map 64 MiB more than it has when the program starts,
     * and needs the whole 96 MiB; rank 1 needs its 48 MiB of rows. The ranks agree on
     * their allocations before the read, so rank 1 neither reads (in debug mode the ranks
     * share one process: its peak RSS shows whether rank 1 read) nor waits in the
     * collective read for a leader that has given up (sim mode: a hang). */
    const char *leader_oom = "mid: out of memory for the whole dataset, gathered on rank 0: "
                             "100663296 bytes (float64 [12582912])";
    RUN("oom_leader_only", sizes_path, "mid", "SF_TEST_AS_HEADROOM_MB=64", NULL, NULL,
        .exit_code = SF_EXIT_TASK, .stderr_has = {leader_oom}, .max_rss_mb = 40);
    RUN("sim_oom_leader_only", sizes_path, "mid", "SF_TEST_AS_HEADROOM_MB=64", NULL, NULL,
        .exit_code = SF_EXIT_TASK, .stderr_has = {leader_oom}, .sim = 1);
}

static void rm_rf(const char *p) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", p);
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--child")) return child_main(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "--mpiexec")) mpiexec = argv[2];
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self_exe[n] = 0;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sf_test_h5_opts_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    make_files();
    outside_cases();
    size_cases();
    oom_cases();
    if (!test_failures()) {
        rm_rf(dir);
        printf("test_h5_read_opts: all checks passed\n");
    } else {
        fprintf(stderr, "files and outputs kept in %s\n", dir);
    }
    TEST_DONE();
}
