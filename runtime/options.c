/*
 * Options: the config struct, then SF_* environment variables, then --sf-* command-line
 * options, each overriding the one before. Unknown --sf-* options and bad values are
 * errors naming the option; nothing is silently dropped. Non --sf-* arguments are left
 * for the program (sf_argc/sf_argv).
 *
 * One table (opt_rows) lists every option: its environment variable, value syntax,
 * default and description. The environment scan, the "unknown option" message and the
 * --sf-help text are all made from it, so they cannot drift apart.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static sf_mode default_mode = SF_MODE_UNSET;

int sf_set_distribution_mode(sf_mode mode) {
    if (mode != SF_MODE_DEBUG && mode != SF_MODE_SIMULATION && mode != SF_MODE_PRODUCTION &&
        mode != SF_MODE_UNSET)
        return SF_EINVAL;
    default_mode = mode;
    return SF_OK;
}

const char *sf_mode_name(sf_mode mode) {
    switch (mode) {
    case SF_MODE_DEBUG: return "debug";
    case SF_MODE_SIMULATION: return "sim";
    case SF_MODE_PRODUCTION: return "prod";
    default: return "unset";
    }
}

static int parse_mode(const char *s, sf_mode *m) {
    if (!strcmp(s, "debug") || !strcmp(s, "3")) *m = SF_MODE_DEBUG;
    else if (!strcmp(s, "sim") || !strcmp(s, "simulation") || !strcmp(s, "2"))
        *m = SF_MODE_SIMULATION;
    else if (!strcmp(s, "prod") || !strcmp(s, "production") || !strcmp(s, "1"))
        *m = SF_MODE_PRODUCTION;
    else return -1;
    return 0;
}

static int valid_party_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

static void free_parties(sf_opts *o) {
    for (int i = 0; i < o->nparties; i++) free(o->parties[i]);
    free(o->parties);
    o->parties = NULL;
    o->nparties = 0;
}

/* Comma-separated list; `what` names the source for messages. */
static int set_parties_list(sf_opts *o, const char *list, const char *what, char *err,
                            size_t errlen) {
    free_parties(o);
    int cap = 8;
    o->parties = malloc(sizeof(char *) * cap);
    if (!o->parties) return SF_ENOMEM;
    const char *p = list;
    while (1) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (o->nparties == cap) {
            cap *= 2;
            char **np = realloc(o->parties, sizeof(char *) * cap);
            if (!np) return SF_ENOMEM;
            o->parties = np;
        }
        char *name = strndup(p, n);
        if (!name) return SF_ENOMEM;
        o->parties[o->nparties++] = name;
        if (!c) break;
        p = c + 1;
    }
    (void)what;
    (void)err;
    (void)errlen;
    return SF_OK;
}

static int check_parties(const sf_opts *o, const char *what, char *err, size_t errlen) {
    if (o->nparties == 0) {
        snprintf(err, errlen,
                 "no parties: give them with --sf-parties=alice,bob,... , SF_PARTIES, or "
                 "sf_config.parties");
        return SF_EUSAGE;
    }
    for (int i = 0; i < o->nparties; i++) {
        if (!valid_party_name(o->parties[i])) {
            snprintf(err, errlen,
                     "%s: party name '%s' is invalid (1-64 characters of A-Z a-z 0-9 _ - .)",
                     what, o->parties[i]);
            return SF_EUSAGE;
        }
    }
    /* duplicates: a hash set keeps it linear for huge debug runs */
    sf_name_index ix;
    int dup = -1, rc = sf__name_index_build(&ix, o->parties, o->nparties, &dup);
    if (rc == SF_EUSAGE) snprintf(err, errlen, "%s: party '%s' is listed twice", what, o->parties[dup]);
    sf__name_index_free(&ix);
    return rc;
}

/* Bytes with an optional k/m/g suffix (powers of 1024); no sign, no overflow. */
static int parse_size(const char *s, size_t *out) {
    char *end;
    if (!isdigit((unsigned char)s[0])) return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    int shift = 0;
    if (*end == 'k' || *end == 'K') shift = 10, end++;
    else if (*end == 'm' || *end == 'M') shift = 20, end++;
    else if (*end == 'g' || *end == 'G') shift = 30, end++;
    if (*end || v > (SIZE_MAX >> shift)) return -1;
    *out = (size_t)v << shift;
    return 0;
}

static int parse_bool(const char *s, int *out) {
    if (!strcmp(s, "1") || !strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true"))
        *out = 1;
    else if (!strcmp(s, "0") || !strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false"))
        *out = -1;
    else return -1;
    return 0;
}

static int parse_seconds(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0)) return -1;
    *out = v;
    return 0;
}

/* Every --sf-* option. env NULL: command line only. OPT_FLAG: takes no value of its own
 * (a following argument is not consumed). */
enum { OPT_FLAG = 1 };
static const struct opt_row {
    const char *key, *env, *syntax, *dflt, *help;
    unsigned flags;
} opt_rows[] = {
    {"mode", "SF_MODE", "debug|sim|prod", "debug (under mpirun: required)",
     "the distribution mode", 0},
    {"parties", "SF_PARTIES", "a,b,c", "none (prod: the cluster file's)",
     "the party names, comma-separated (1-64 of A-Z a-z 0-9 _ - .)", 0},
    {"ranks-per-party", "SF_RANKS_PER_PARTY", "K", "1 (prod: the party job's size)",
     "ranks of every party (debug, sim; mpirun -np is parties x K)", 0},
    {"stack-size", "SF_STACK_SIZE", "BYTES[k|m|g]", "256k",
     "each rank's coroutine stack (debug)", 0},
    {"on-error", "SF_ON_ERROR", "stop|continue", "stop",
     "debug: stop the run at the first task failure, or carry failures as values so the "
     "program's own error handling runs (as sim and prod always do)", 0},
    {"turn", "SF_TURN", "N", "1",
     "runtime calls a rank makes before the next runs (debug; 1: lockstep, logs call by call; "
     "more: fewer switches with thousands of parties)", 0},
    {"check-args", "SF_CHECK_ARGS", "0|1", "1",
     "verify that tasks do not write their arguments (debug)", 0},
    {"quiet", "SF_QUIET", "[=0|1]", "0", "no runtime info or progress lines", OPT_FLAG},
    {"progress", "SF_PROGRESS", "auto|on|off", "auto",
     "progress of long operations (auto: redrawn on a terminal, else a line every few s)", 0},
    {"wait-timeout", "SF_WAIT_TIMEOUT", "S", "2",
     "seconds a blocked rank waits before it asks its peer why (divergence check)", 0},
    {"spu", "SF_SPU", "real|plain", "real",
     "plain: SPUs are plaintext functional simulations (debug, sim only)", 0},
    {"h5-max-bytes", "SF_H5_MAX_BYTES", "BYTES[k|m|g]", "physical memory",
     "largest HDF5 dataset read", 0},
    {"h5-allow-external", "SF_H5_ALLOW_EXTERNAL", "0|1", "0",
     "read HDF5 datasets with external or virtual storage", 0},
    {"party", "SF_PARTY", "NAME", "none", "prod: this party's name in the cluster file", 0},
    {"cluster", "SF_CLUSTER", "FILE", "none",
     "prod: the cluster file (the same at every party; sfmpi check-cluster)", 0},
    {"key", "SF_KEY", "FILE", "none", "prod: this party's key file (sfmpi keygen; mode 0600)", 0},
    {"job-id", "SF_JOB_ID", "ID", "the cluster file's job_id",
     "prod: the id bound into every handshake (the same at every party)", 0},
    {"listen", "SF_LISTEN", "HOST:PORT", "the party's cluster address",
     "prod: the address to bind instead (behind a forwarding gateway)", 0},
    {"connect-timeout", "SF_CONNECT_TIMEOUT", "S", "the cluster file's (60)",
     "prod: seconds to wait for every peer at start-up (overrides channel.connect_timeout)", 0},
    {"help", NULL, "", "", "print this help and exit 0 (also --help, -h if the program asks)",
     OPT_FLAG},
    {"version", NULL, "", "", "print the sfmpi version and exit 0", OPT_FLAG},
};
#define NROWS (sizeof opt_rows / sizeof opt_rows[0])

static const struct opt_row *find_row(const char *key) {
    for (size_t i = 0; i < NROWS; i++)
        if (!strcmp(opt_rows[i].key, key)) return &opt_rows[i];
    return NULL;
}

/* auto = 0; on/off and the other boolean spellings = 1 / -1 */
static int parse_progress(const char *s, int *out) {
    if (!strcmp(s, "auto")) *out = 0;
    else return parse_bool(s, out);
    return 0;
}

/* "--sf-mode, --sf-parties, ..." from the table (for the unknown-option message). */
static void known_list(char *out, size_t len) {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < NROWS && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s--sf-%s", i ? ", " : "", opt_rows[i].key);
}

/* Apply one option `key`=`val`; `src` names where it came from (for messages). */
static int apply(sf_opts *o, const char *key, const char *val, const char *src, char *err,
                 size_t errlen) {
#define BAD(what)                                                                   \
    do {                                                                            \
        snprintf(err, errlen, "%s: bad value '%s' for %s (%s)", src, val ? val : "", \
                 key, what);                                                        \
        return SF_EUSAGE;                                                           \
    } while (0)
    const struct opt_row *row = find_row(key);
    if (!row) {
        char known[1024];
        known_list(known, sizeof known);
        snprintf(err, errlen, "%s: unknown option --sf-%s (known: %s; see --sf-help)", src, key,
                 known);
        return SF_EUSAGE;
    }
    if (!strcmp(key, "mode")) {
        if (!val || parse_mode(val, &o->mode)) BAD("expected debug, sim or prod");
    } else if (!strcmp(key, "parties")) {
        if (!val || !*val) BAD("expected a comma-separated list of party names");
        int rc = set_parties_list(o, val, src, err, errlen);
        if (rc) return rc;
    } else if (!strcmp(key, "stack-size")) {
        size_t sz;
        if (!val || parse_size(val, &sz) || sz < 16384 || sz > ((size_t)1 << 32))
            BAD("expected bytes with optional k/m suffix, 16k..4096m");
        o->stack_size = sz;
    } else if (!strcmp(key, "on-error")) {
        if (val && !strcmp(val, "stop")) o->on_error_continue = 0;
        else if (val && !strcmp(val, "continue")) o->on_error_continue = 1;
        else BAD("expected stop or continue");
    } else if (!strcmp(key, "turn")) {
        char *end;
        long k = val ? strtol(val, &end, 10) : 0;
        if (!val || *end || k < 1 || k > 1000000) BAD("expected an integer 1..1000000");
        o->turn = (int)k;
    } else if (!strcmp(key, "check-args")) {
        if (!val || parse_bool(val, &o->check_args)) BAD("expected 0 or 1");
    } else if (!strcmp(key, "quiet")) {
        int q = 1;
        if (val && parse_bool(val, &q)) BAD("expected 0 or 1");
        o->quiet = q > 0;
    } else if (!strcmp(key, "party") || !strcmp(key, "cluster") || !strcmp(key, "key") ||
               !strcmp(key, "job-id") || !strcmp(key, "listen")) {
        if (!val || !*val) BAD("expected a value");
        char **dst = !strcmp(key, "party") ? &o->party : !strcmp(key, "cluster") ? &o->cluster
                     : !strcmp(key, "key") ? &o->key : !strcmp(key, "listen") ? &o->listen
                     : &o->job_id;
        free(*dst);
        if (!(*dst = strdup(val))) return SF_ENOMEM;
    } else if (!strcmp(key, "ranks-per-party")) {
        char *end;
        long k = val ? strtol(val, &end, 10) : 0;
        if (!val || *end || k < 1 || k > 1000000) BAD("expected an integer 1..1000000");
        o->rpp = (int)k;
    } else if (!strcmp(key, "spu")) {
        if (!val || (strcmp(val, "real") && strcmp(val, "plain")))
            BAD("expected real (run the protocols) or plain (plaintext functional simulation)");
        o->spu_plain = !strcmp(val, "plain");
    } else if (!strcmp(key, "h5-max-bytes")) {
        size_t sz;
        if (!val || parse_size(val, &sz) || sz == 0)
            BAD("expected bytes > 0 with optional k/m/g suffix");
        o->h5_max_bytes = sz;
    } else if (!strcmp(key, "h5-allow-external")) {
        if (!val || parse_bool(val, &o->h5_allow_external)) BAD("expected 0 or 1");
    } else if (!strcmp(key, "wait-timeout")) {
        if (!val || parse_seconds(val, &o->wait_timeout)) BAD("expected seconds > 0");
    } else if (!strcmp(key, "progress")) {
        if (!val || parse_progress(val, &o->progress))
            BAD("expected auto (a line redrawn in place when stderr is a terminal, else a "
                "plain line every 5 s), on (plain lines every 5 s, terminal or not) or off");
    } else if (!strcmp(key, "connect-timeout")) {
        if (!val || parse_seconds(val, &o->connect_timeout)) BAD("expected seconds > 0");
    } else if (!strcmp(key, "help") || !strcmp(key, "version")) {
        if (val) BAD("takes no value");
    }
    return SF_OK;
#undef BAD
}

int sf__opts_parse(sf_opts *o, const sf_config *cfg, char *err, size_t errlen) {
    static const sf_config zero;
    if (!cfg) cfg = &zero;
    memset(o, 0, sizeof *o);
    int rc;
    o->mode = cfg->mode ? cfg->mode : default_mode;
    if (o->mode != SF_MODE_UNSET && o->mode != SF_MODE_DEBUG && o->mode != SF_MODE_SIMULATION &&
        o->mode != SF_MODE_PRODUCTION) {
        snprintf(err, errlen, "sf_config.mode: unknown mode %d", (int)o->mode);
        return SF_EUSAGE;
    }
    if (cfg->parties) {
        if (cfg->nparties <= 0) {
            snprintf(err, errlen, "sf_config.nparties must be > 0 when parties is set");
            return SF_EUSAGE;
        }
        o->parties = calloc((size_t)cfg->nparties, sizeof(char *));
        if (!o->parties) return SF_ENOMEM;
        for (int i = 0; i < cfg->nparties; i++) {
            o->parties[i] = strdup(cfg->parties[i] ? cfg->parties[i] : "");
            if (!o->parties[i]) return SF_ENOMEM;
            o->nparties++;
        }
    }
    o->stack_size = cfg->stack_size;
    o->check_args = cfg->check_args;
    o->quiet = cfg->quiet;
    o->wait_timeout = cfg->wait_timeout;
    o->progress = cfg->progress < 0 ? -1 : cfg->progress > 0 ? 1 : 0;
    o->rpp = cfg->ranks_per_party > 0 ? cfg->ranks_per_party : 0;
    const char *parties_src = "sf_config.parties";

    for (size_t i = 0; i < NROWS; i++) {
        const char *v = opt_rows[i].env ? getenv(opt_rows[i].env) : NULL;
        if (!v) continue;
        if ((rc = apply(o, opt_rows[i].key, v, opt_rows[i].env, err, errlen))) return rc;
        if (!strcmp(opt_rows[i].key, "parties")) parties_src = "SF_PARTIES";
    }

    o->argv = calloc((size_t)(cfg->argc > 0 ? cfg->argc : 0) + 2, sizeof(char *));
    if (!o->argv) return SF_ENOMEM;
    o->argv[o->argc++] = (cfg->argc > 0 && cfg->argv) ? cfg->argv[0] : (char *)"sfmpi";
    for (int i = 1; i < cfg->argc; i++) {
        char *a = cfg->argv[i];
        if (!strcmp(a, "--")) { /* everything after belongs to the program */
            for (i++; i < cfg->argc; i++) o->argv[o->argc++] = cfg->argv[i];
            break;
        }
        if (strncmp(a, "--sf-", 5)) {
            o->argv[o->argc++] = a;
            continue;
        }
        char key[64];
        const char *eq = strchr(a + 5, '=');
        size_t kl = eq ? (size_t)(eq - (a + 5)) : strlen(a + 5);
        if (kl >= sizeof key) kl = sizeof key - 1;
        memcpy(key, a + 5, kl);
        key[kl] = 0;
        const char *val = eq ? eq + 1 : NULL;
        const struct opt_row *row = find_row(key);
        if (!val && row && !(row->flags & OPT_FLAG) && i + 1 < cfg->argc &&
            strncmp(cfg->argv[i + 1], "--", 2))
            val = cfg->argv[++i]; /* --sf-mode debug */
        char src[96];
        snprintf(src, sizeof src, "command line option %s", a);
        if ((rc = apply(o, key, val, src, err, errlen))) return rc;
        if (!strcmp(key, "parties")) parties_src = "--sf-parties";
    }
    o->argv[o->argc] = NULL;

    if (o->mode == SF_MODE_UNSET) {
        const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
        if (!ws) ws = getenv("PMI_SIZE");
        if (ws && atoi(ws) > 1) {
            snprintf(err, errlen,
                     "started by an MPI launcher with %s ranks but no mode was given: pass "
                     "--sf-mode=sim (or set SF_MODE)",
                     ws);
            return SF_EUSAGE;
        }
        o->mode = SF_MODE_DEBUG;
    }
    if (o->mode == SF_MODE_PRODUCTION && o->spu_plain) {
        snprintf(err, errlen,
                 "--sf-spu=plain (or SF_SPU=plain) is refused in production mode: the plaintext "
                 "SPU simulation would send every party's private inputs in the clear; use it "
                 "in debug or sim mode");
        return SF_EUSAGE;
    }
    /* production takes its parties from the cluster file (checked against these there) */
    if (o->mode != SF_MODE_PRODUCTION && (rc = check_parties(o, parties_src, err, errlen)))
        return rc;
    if (!o->stack_size) o->stack_size = 256 * 1024;
    if (!o->turn) o->turn = 1;
    if (!o->check_args) o->check_args = 1;
    if (!(o->wait_timeout > 0)) o->wait_timeout = 2.0;
    if (!o->rpp) o->rpp = 1;
    /* every rank is an int index (the debug fabric, the simulation job's ranks) */
    if (o->mode != SF_MODE_PRODUCTION && (int64_t)o->nparties * o->rpp > SF__MAX_RANKS) {
        snprintf(err, errlen,
                 "%d parties x %d ranks per party (--sf-ranks-per-party) = %lld ranks: more than "
                 "the %d one run can hold",
                 o->nparties, o->rpp, (long long)o->nparties * o->rpp, SF__MAX_RANKS);
        return SF_EUSAGE;
    }
    return SF_OK;
}

void sf__opts_free(sf_opts *o) {
    free_parties(o);
    free(o->party);
    free(o->cluster);
    free(o->key);
    free(o->job_id);
    free(o->listen);
    o->party = o->cluster = o->key = o->job_id = o->listen = NULL;
    free(o->argv);
    o->argv = NULL;
}

/* ------------------------------------------------------------------ --sf-help, --sf-version */

int sf__opts_action(const sf_config *cfg) {
    if (!cfg || !cfg->argv) return SF__ACT_RUN;
    int act = SF__ACT_RUN;
    for (int i = 1; i < cfg->argc && cfg->argv[i]; i++) {
        const char *a = cfg->argv[i];
        if (!strcmp(a, "--")) break; /* the program's own arguments */
        if (!strcmp(a, "--sf-help") || (cfg->help == 1 && (!strcmp(a, "--help") || !strcmp(a, "-h"))))
            return SF__ACT_HELP; /* help wins over version, wherever they are */
        if (!strcmp(a, "--sf-version")) act = SF__ACT_VERSION;
    }
    return act;
}

static const struct {
    int code;
    const char *name, *text;
} exit_rows[] = {
    {SF_EXIT_OK, "SF_EXIT_OK", "every party's program returned 0"},
    {SF_EXIT_FAILURE, "SF_EXIT_FAILURE", "the program returned an sf_status error, or a runtime "
                                         "failure (out of memory, I/O)"},
    {SF_EXIT_USAGE, "SF_EXIT_USAGE", "bad option, unknown party, wrong rank count, bad cluster "
                                     "or key file"},
    {SF_EXIT_TASK, "SF_EXIT_TASK", "a task failed (debug mode stops at the first failure)"},
    {SF_EXIT_DEADLOCK, "SF_EXIT_DEADLOCK", "every rank blocked"},
    {SF_EXIT_DIVERGE, "SF_EXIT_DIVERGE", "parties made different calls"},
    {SF_EXIT_PEER, "SF_EXIT_PEER", "a party finished or was lost while others waited for it"},
    {SF_EXIT_STACK, "SF_EXIT_STACK", "a rank overflowed its coroutine stack (debug mode)"},
};

void sf__opts_help(FILE *f, const char *argv0) {
    const char *p = argv0 && *argv0 ? argv0 : "./prog";
    fprintf(f,
            "usage: %s [--sf-OPTION[=VALUE]...] [program arguments...] [-- program arguments...]\n"
            "\n"
            "An sfmpi program (sfmpi %s): every party runs it; --sf-* options (or their\n"
            "SF_* environment variables, which they override) set up the run. Arguments after\n"
            "\"--\" are the program's own, even if they start with --sf-.\n"
            "\n"
            "Options (--sf-OPT=VALUE or --sf-OPT VALUE; env variable; default):\n",
            p, SF_VERSION_STRING);
    for (size_t i = 0; i < NROWS; i++) {
        const struct opt_row *r = &opt_rows[i];
        char head[64];
        snprintf(head, sizeof head, "--sf-%s%s%s", r->key,
                 r->syntax[0] && r->syntax[0] != '[' ? "=" : "", r->syntax);
        fprintf(f, "  %-32s %s\n", head, r->help);
        if (r->env) fprintf(f, "  %-32s env %s; default %s\n", "", r->env, r->dflt);
    }
    fprintf(f, "\nExit status (of each party's process; launchers return the first failing party's):\n");
    for (size_t i = 0; i < sizeof exit_rows / sizeof exit_rows[0]; i++)
        fprintf(f, "  %7d  %-17s %s\n", exit_rows[i].code, exit_rows[i].name, exit_rows[i].text);
    fprintf(f,
            "     8-%d  (reserved for the runtime)\n"
            "   %d-%d  the party's program returned r in 1..%d: status %d + r\n"
            "      %d  SF_EXIT_PROGRAM_MAX  the party's program returned r > %d\n",
            SF_EXIT_PROGRAM_BASE - 1, SF_EXIT_PROGRAM_BASE + 1, SF_EXIT_PROGRAM_MAX,
            SF_EXIT_PROGRAM_MAX - SF_EXIT_PROGRAM_BASE, SF_EXIT_PROGRAM_BASE,
            SF_EXIT_PROGRAM_MAX, SF_EXIT_PROGRAM_MAX - SF_EXIT_PROGRAM_BASE);
    fprintf(f,
            "\nExamples:\n"
            "  debug (one process, parties as coroutines):\n"
            "    %s --sf-mode=debug --sf-parties=alice,bob\n"
            "  sim (one MPI job: parties x ranks-per-party ranks):\n"
            "    mpirun -np 4 %s --sf-mode=sim --sf-parties=alice,bob --sf-ranks-per-party=2\n"
            "  prod (each party starts its own job with its own key):\n"
            "    mpirun -np 2 %s --sf-mode=prod --sf-party=alice --sf-cluster=cluster.json "
            "--sf-key=alice.key\n"
            "  any mode through the sfmpi command (prod: every party on this machine):\n"
            "    sfmpi run --mode=prod -n 2 %s\n",
            p, p, p, p);
}
