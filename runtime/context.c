/*
 * Contexts and runs: sf_run parses the options and drives the mode's backend (mpi/mode.h):
 * launch, then each rank of this process (debug: all of them, as coroutines of the
 * executor in scheduler.c; sim and prod: one), then settle and teardown. Fatal reports
 * print once with the rank's tag, tell the peers through the transport, and end the job
 * through the backend (debug: _exit; sim: MPI_Abort; prod: CLOSE frames, then exit).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/progress.h"
#include "mpi/mode.h"
#include "mpi/mpi_job.h"
#include "runtime/device.h"

/* ------------------------------------------------------------------ small helpers */

uint64_t sf__str_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

const char *sf__basename(const char *path) {
    if (!path) return "?";
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const char *sf__party_name(const sf_ctx *sf, int p) {
    return (p >= 0 && p < sf->run->nparties) ? sf->run->parties[p] : "?";
}
int sf__party_lookup(const sf_ctx *sf, const char *name) {
    return sf__name_index_find(&sf->run->party_ix, sf->run->parties, name);
}

int sf__name_index_build(sf_name_index *ix, char *const *names, int n, int *dup) {
    size_t nb = 4;
    while (nb < (size_t)n * 2) nb <<= 1;
    *dup = -1;
    ix->slot = malloc(sizeof(int) * nb);
    ix->mask = nb - 1;
    if (!ix->slot) return SF_ENOMEM;
    for (size_t i = 0; i < nb; i++) ix->slot[i] = -1;
    for (int i = 0; i < n; i++) {
        size_t h = sf__str_hash(names[i]) & ix->mask;
        for (; ix->slot[h] >= 0; h = (h + 1) & ix->mask) {
            if (!strcmp(names[ix->slot[h]], names[i])) {
                *dup = i;
                sf__name_index_free(ix);
                return SF_EUSAGE;
            }
        }
        ix->slot[h] = i;
    }
    return SF_OK;
}

int sf__name_index_find(const sf_name_index *ix, char *const *names, const char *name) {
    if (!ix->slot || !name) return -1;
    for (size_t h = sf__str_hash(name) & ix->mask; ix->slot[h] >= 0; h = (h + 1) & ix->mask)
        if (!strcmp(names[ix->slot[h]], name)) return ix->slot[h];
    return -1;
}

void sf__name_index_free(sf_name_index *ix) {
    free(ix->slot);
    ix->slot = NULL;
    ix->mask = 0;
}

sf_mode sf_get_distribution_mode(const sf_ctx *sf) { return sf->run->opts.mode; }
int sf_party_index(const sf_ctx *sf) { return sf->party; }
const char *sf_party_name(const sf_ctx *sf) { return sf__party_name(sf, sf->party); }
int sf_nparties(const sf_ctx *sf) { return sf__nparties(sf); }
const char *sf_party_name_of(const sf_ctx *sf, int p) { return sf__party_name(sf, p); }
int sf_argc(const sf_ctx *sf) { return sf->run->opts.argc; }
char **sf_argv(const sf_ctx *sf) { return sf->run->opts.argv; }
const char *sf_last_error(const sf_ctx *sf) { return sf->last_error ? sf->last_error : ""; }

void sf__set_error(sf_ctx *sf, const char *fmt, ...) {
    char *m = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&m, fmt, ap) < 0) m = NULL;
    va_end(ap);
    free(sf->last_error);
    sf->last_error = m;
}

int sf__status_exit_code(int st) {
    switch (st) {
    case SF_OK: return SF_EXIT_OK;
    case SF_EUSAGE: return SF_EXIT_USAGE;
    case SF_ETASK:
    case SF_EKILLED: return SF_EXIT_TASK;
    case SF_EDEADLOCK: return SF_EXIT_DEADLOCK;
    case SF_EDIVERGE: return SF_EXIT_DIVERGE;
    case SF_EPEER: return SF_EXIT_PEER;
    case SF_ESTACK: return SF_EXIT_STACK;
    default: return SF_EXIT_FAILURE;
    }
}

void sf__vfatal(sf_ctx *sf, int code, const char *fmt, va_list ap) {
    char msg[8192], line[8448];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fflush(stdout);
    sf__progress_clear_line();
    int n = snprintf(line, sizeof line, "sfmpi: [%s %s/%d #%llu] error: %s\n",
                     sf_mode_name(sf->run->opts.mode), sf__party_name(sf, sf->party), sf->rank,
                     (unsigned long long)sf->call_seq, msg);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t w = write(2, line, (size_t)n); /* one write: no interleaving between ranks */
    (void)w;
    sf__crash_quiet(); /* ending the process on purpose, reported already */
    if (sf->tp) { /* tell the peers why, with this party's tag */
        char reason[8448];
        snprintf(reason, sizeof reason, "[%s %s/%d #%llu] %s", sf_mode_name(sf->run->opts.mode),
                 sf__party_name(sf, sf->party), sf->rank, (unsigned long long)sf->call_seq, msg);
        sf->tp->ops->abort(sf->tp, code, reason);
    }
    sf->run->mode->abort(sf->run->backend, code);
}

void sf__fatal(sf_ctx *sf, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sf__vfatal(sf, code, fmt, ap);
}

/* The end of two parties' programs must match: same number of calls, same trace. */
void sf__on_bye_mismatch(void *arg, int src, const sf_msg_hdr *got) {
    sf_ctx *sf = arg;
    if (got->kind != SF_MSG_BYE) {
        sf__fatal(sf, SF_EXIT_DIVERGE,
                  "program divergence between parties %s and %s: %s finished its program "
                  "(after call #%llu at %s:%d) but %s sent it object #%llu at its call #%llu "
                  "(%s:%u), which %s never asked for",
                  sf__party_name(sf, sf->party), sf__party_name(sf, src),
                  sf__party_name(sf, sf->party), (unsigned long long)sf->call_seq,
                  sf__basename(sf->site.file), sf->site.line, sf__party_name(sf, src),
                  (unsigned long long)SF__OBJ_SEQ(got->obj_id), (unsigned long long)got->call_seq,
                  got->file, got->line, sf__party_name(sf, sf->party));
    }
    sf__fatal(sf, SF_EXIT_DIVERGE,
              "program divergence between parties %s and %s: %s finished after call #%llu "
              "(%s:%d) but %s finished after call #%llu (%s:%u)%s",
              sf__party_name(sf, sf->party), sf__party_name(sf, src),
              sf__party_name(sf, sf->party), (unsigned long long)sf->call_seq,
              sf__basename(sf->site.file), sf->site.line, sf__party_name(sf, src),
              (unsigned long long)got->call_seq, got->file, got->line,
              got->call_seq == sf->call_seq ? " - the same number of calls, but different ones"
                                            : "");
}

void sf__device_register(sf_ctx *sf, int kind, const struct sf_device_ops *ops) {
    if (kind > 0 && kind < SF__DEV_KINDS) sf->dev_ops[kind] = ops;
}

int sf__ctx_init(sf_ctx *sf, sf_run_state *run, int party) {
    memset(sf, 0, sizeof *sf);
    sf->run = run;
    sf->party = party;
    sf->site = (sf_site){"(start)", 0, "program start"};
    return sf__objtab_init(&sf->objs);
}

void sf__ctx_free(sf_ctx *sf) {
    sf__objtab_free(sf);
    for (int k = 0; k < SF__DEV_KINDS; k++) /* each class frees its own state once */
        if (sf->dev_ops[k] && sf->dev_state[k]) sf->dev_ops[k]->free(sf);
    free(sf->last_error);
    free(sf->early_notices);
    sf->last_error = NULL;
    sf->early_notices = NULL;
}

int sf_shutdown(sf_ctx *sf) {
    if (sf->finished) return SF_OK;
    sf->finished = 1;
    sf__coll_exit_workers(sf);
    sf_msg_hdr bye = {.kind = SF_MSG_BYE, .line = (uint32_t)sf->site.line,
                      .call_seq = sf->call_seq, .trace = sf->trace};
    snprintf(bye.file, sizeof bye.file, "%s", sf__basename(sf->site.file));
    int rc = sf->tp->ops->finish(sf->tp, &bye);
    if (rc)
        sf__fatal(sf, SF_EXIT_PEER, "shutting down the transport failed: %s", sf_strerror(rc));
    return SF_OK;
}

/* A program's own return r > 0 is its party's status: SF_EXIT_PROGRAM_BASE + r, capped. */
static int program_exit_code(int rc) {
    if (rc < 0) return sf__status_exit_code(rc);
    if (rc > SF_EXIT_PROGRAM_MAX - SF_EXIT_PROGRAM_BASE) return SF_EXIT_PROGRAM_MAX;
    return SF_EXIT_PROGRAM_BASE + rc;
}

int sf__run_party(sf_ctx *sf) {
    int rc = sf->run->program(sf, sf->run->arg);
    int code = SF_EXIT_OK;
    if (rc != 0) {
        code = program_exit_code(rc);
        fflush(stdout);
        /* one write, so the reports of parties sharing a terminal do not interleave */
        size_t el = sf->last_error ? strlen(sf->last_error) : 0, n = 0;
        char *msg = malloc(256 + el * 5);
        if (msg) {
            n = (size_t)snprintf(msg, 256,
                                 "sfmpi: [%s %s/%d #%llu] the program returned %d (%s): party %s "
                                 "exits with status %d%s",
                                 sf_mode_name(sf->run->opts.mode), sf__party_name(sf, sf->party),
                                 sf->rank, (unsigned long long)sf->call_seq, rc,
                                 rc < 0 ? sf_err_name(rc) : "the program's own code",
                                 sf__party_name(sf, sf->party), code, el ? ":\n    " : "");
            for (size_t i = 0; i < el; i++) { /* the chain, indented as a whole */
                msg[n++] = sf->last_error[i];
                if (sf->last_error[i] == '\n') n += (size_t)sprintf(msg + n, "    ");
            }
            msg[n++] = '\n';
            ssize_t w = write(2, msg, n);
            (void)w;
            free(msg);
        }
    }
    sf_shutdown(sf);
    return code;
}

/* ------------------------------------------------------------------ runs */

static void report(const sf_layout *lay, const char *err) {
    sf__progress_clear_line();
    if (lay->tag[0]) fprintf(stderr, "sfmpi: [%s] error: %s\n", lay->tag, err);
    else fprintf(stderr, "sfmpi: error: %s\n", err);
}

/* A failed launch or endpoint: a peer that never came is a lost peer. */
static int setup_exit_code(int rc) { return rc == SF_ETIMEOUT ? SF_EXIT_PEER : sf__status_exit_code(rc); }

/* Simulation and production: this process runs one rank, the leader's program or a
 * worker's loop. */
static int run_one(sf_run_state *run, const sf_layout *lay) {
    sf_ctx *sf = calloc(1, sizeof *sf);
    char err[1024] = "";
    int code;
    if (!sf || sf__ctx_init(sf, run, -1)) {
        free(sf);
        return SF_EXIT_FAILURE;
    }
    sf_transport_hooks hooks = {.arg = sf, .on_notice = sf__on_notice,
                                .on_bye_mismatch = sf__on_bye_mismatch};
    sf_endpoint ep;
    int rc = run->mode->endpoint(run->backend, 0, &hooks, &ep, err, sizeof err);
    if (rc) {
        if (err[0]) report(lay, err);
        code = setup_exit_code(rc);
    } else {
        sf->party = ep.party;
        sf->rank = ep.rank;
        sf->tp = ep.tp;
        sf->pc = ep.pc;
        sf__crash_set_ctx(sf);
        code = ep.rank == 0 ? sf__run_party(sf) : sf__worker_loop(sf);
        sf__crash_set_ctx(NULL);
    }
    sf__ctx_free(sf);
    if (sf->tp) sf->tp->ops->destroy(&sf->tp);
    if (sf->pc) sf->pc->ops->destroy(&sf->pc);
    free(sf);
    return code;
}

/* ------------------------------------------------------------------ entry points */

int sf_run(const sf_config *cfg, sf_program program, void *arg) {
    sf_run_state run = {.program = program, .arg = arg};
    char err[1024] = "";
    int act = sf__opts_action(cfg);
    if (act != SF__ACT_RUN) { /* answered before any mode starts; one rank of a job prints */
        if (sf__job_rank_hint() <= 0) {
            if (act == SF__ACT_HELP) sf__opts_help(stdout, cfg->argc > 0 ? cfg->argv[0] : NULL);
            else printf("sfmpi %s\n", sf_version());
            fflush(stdout);
        }
        return SF_EXIT_OK;
    }
    int rc = sf__opts_parse(&run.opts, cfg, err, sizeof err);
    if (rc) {
        /* The same options give the same error at every rank of a job: rank 0 says it. The
         * others wait a moment before they exit, because the launcher stops the whole job
         * at the first non-zero exit, which could cut rank 0 off before its message. */
        if (sf__job_rank_hint() <= 0) fprintf(stderr, "sfmpi: error: %s\n", err);
        else nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
        sf__opts_free(&run.opts);
        return SF_EXIT_USAGE;
    }
    sf_config c = cfg ? *cfg : (sf_config){0};
    const sf_opts *o = &run.opts;
    /* --sf-quiet silences progress too; debug mode's parties share one stderr: no redraw */
    sf__progress_configure(o->quiet ? -1 : o->progress, o->mode == SF_MODE_DEBUG);
    run.mode = sf__mode_ops(o->mode);
    struct sf_debug_exec *ex = sf__exec_new(&run);
    sf_launch in = {.argc = &c.argc, .argv = &c.argv, .nparties = o->nparties, .parties = o->parties,
                    .rpp = o->rpp, .quiet = o->quiet, .wait_timeout = o->wait_timeout,
                    .connect_timeout = o->connect_timeout,
                    .party = o->party, .cluster = o->cluster, .key = o->key, .job_id = o->job_id,
                    .listen = o->listen, .sched = sf__exec_sched(ex)};
    sf_layout lay = {0};
    int code;
    if (!ex) {
        code = SF_EXIT_FAILURE;
    } else if ((rc = run.mode->launch(&run.backend, &in, &lay, err, sizeof err))) {
        if (lay.report && err[0]) report(&lay, err);
        code = setup_exit_code(rc);
    } else {
        run.nparties = lay.nparties;
        run.parties = lay.parties;
        int dup = -1;
        if ((rc = sf__name_index_build(&run.party_ix, run.parties, run.nparties, &dup))) {
            if (rc == SF_EUSAGE) snprintf(err, sizeof err, "party '%s' is listed twice", run.parties[dup]);
            else snprintf(err, sizeof err, "out of memory indexing %d parties", run.nparties);
            report(&lay, err);
            code = setup_exit_code(rc);
        } else {
            sf__crash_begin(&run);
            code = lay.coroutines ? sf__exec_run(ex, &lay) : run_one(&run, &lay);
            sf__crash_end();
        }
        sf__name_index_free(&run.party_ix);
    }
    free(run.dst_buf);
    if (run.backend) code = run.mode->settle(run.backend, code);
    sf__exec_free(&ex);
    run.mode->teardown(&run.backend);
    sf__opts_free(&run.opts);
    fflush(stdout);
    return code;
}

int sf_main(int argc, char **argv, sf_program program, void *arg) {
    sf_config cfg = {.argc = argc, .argv = argv};
    return sf_run(&cfg, program, arg);
}
