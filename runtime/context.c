/*
 * Contexts and runs: sf_run parses options and hands the run to the mode's executor
 * (debug: scheduler.c; sim: below). Fatal reports print once with the rank's tag and
 * stop the whole run through the transport (debug: _exit; sim: MPI_Abort).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

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

int sf__nparties(const sf_ctx *sf) { return sf->run->opts.nparties; }
const char *sf__party_name(const sf_ctx *sf, int p) {
    return (p >= 0 && p < sf->run->opts.nparties) ? sf->run->opts.parties[p] : "?";
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
    char msg[8192];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fflush(stdout);
    fprintf(stderr, "sfmpi: [%s %s/%d #%llu] error: %s\n", sf_mode_name(sf->run->opts.mode),
            sf__party_name(sf, sf->party), sf->rank, (unsigned long long)sf->call_seq, msg);
    fflush(stderr);
    if (sf->tp) sf->tp->ops->abort(sf->tp, code);
    _exit(code);
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

int sf__ctx_init(sf_ctx *sf, sf_run_state *run, int party) {
    memset(sf, 0, sizeof *sf);
    sf->run = run;
    sf->party = party;
    sf->site = (sf_site){"(start)", 0, "program start"};
    return sf__objtab_init(&sf->objs);
}

void sf__ctx_free(sf_ctx *sf) {
    sf__objtab_free(sf);
    free(sf->last_error);
    free(sf->early_notices);
    sf->last_error = NULL;
    sf->early_notices = NULL;
}

int sf_shutdown(sf_ctx *sf) {
    if (sf->finished) return SF_OK;
    sf->finished = 1;
    sf_msg_hdr bye = {.kind = SF_MSG_BYE, .line = (uint32_t)sf->site.line,
                      .call_seq = sf->call_seq, .trace = sf->trace};
    snprintf(bye.file, sizeof bye.file, "%s", sf__basename(sf->site.file));
    int rc = sf->tp->ops->finish(sf->tp, &bye);
    if (rc)
        sf__fatal(sf, SF_EXIT_PEER, "shutting down the transport failed: %s", sf_strerror(rc));
    return SF_OK;
}

int sf__run_party(sf_ctx *sf) {
    int rc = sf->run->program(sf, sf->run->arg);
    int code = SF_EXIT_OK;
    if (rc != 0) {
        code = rc < 0 ? sf__status_exit_code(rc) : SF_EXIT_FAILURE;
        fflush(stdout);
        fprintf(stderr, "sfmpi: [%s %s/%d #%llu] the program returned %d (%s)%s",
                sf_mode_name(sf->run->opts.mode), sf__party_name(sf, sf->party), sf->rank,
                (unsigned long long)sf->call_seq, rc, rc < 0 ? sf_err_name(rc) : "non-zero",
                sf->last_error ? ":\n    " : "\n");
        for (const char *p = sf->last_error; p && *p; p++) /* the chain, indented */
            fputs(*p == '\n' ? "\n    " : (char[]){*p, 0}, stderr);
        if (sf->last_error) fputc('\n', stderr);
        fflush(stderr);
    }
    sf_shutdown(sf);
    return code;
}

/* ------------------------------------------------------------------ simulation mode */

static int sim_run(sf_run_state *run, sf_config *cfg_argv) {
    int rank = sf__mpi_world_rank_hint();
    sf_ctx *sf = calloc(1, sizeof *sf);
    if (!sf) return SF_EXIT_FAILURE;
    char err[512] = "";
    sf_transport_hooks hooks = {.arg = sf, .on_notice = sf__on_notice,
                                .on_bye_mismatch = sf__on_bye_mismatch};
    sf_mpi_options mo = {.wait_timeout = run->opts.wait_timeout};
    sf_transport *tp = NULL;
    int rc = sf__mpi_transport_create(&tp, run->opts.nparties, &mo, &hooks, &cfg_argv->argc,
                                      &cfg_argv->argv, err, sizeof err);
    if (rc) {
        if (rank <= 0) fprintf(stderr, "sfmpi: error: %s\n", err);
        free(sf);
        return sf__status_exit_code(rc);
    }
    if (sf__ctx_init(sf, run, tp->self)) {
        tp->ops->destroy(&tp);
        free(sf);
        return SF_EXIT_FAILURE;
    }
    sf->tp = tp;
    int code = sf__run_party(sf);
    sf__ctx_free(sf);
    tp->ops->destroy(&tp);
    free(sf);
    return code;
}

/* ------------------------------------------------------------------ entry points */

int sf_run(const sf_config *cfg, sf_program program, void *arg) {
    sf_run_state run = {.program = program, .arg = arg};
    char err[1024] = "";
    int rc = sf__opts_parse(&run.opts, cfg, err, sizeof err);
    if (rc) {
        if (sf__mpi_world_rank_hint() <= 0) fprintf(stderr, "sfmpi: error: %s\n", err);
        sf__opts_free(&run.opts);
        return SF_EXIT_USAGE;
    }
    int code;
    sf_config c = cfg ? *cfg : (sf_config){0};
    switch (run.opts.mode) {
    case SF_MODE_DEBUG: code = sf__debug_run(&run); break;
    case SF_MODE_SIMULATION: code = sim_run(&run, &c); break;
    default:
        fprintf(stderr, "sfmpi: error: --sf-mode=prod: production mode is not available in "
                        "this build yet; use --sf-mode=debug or --sf-mode=sim\n");
        code = SF_EXIT_USAGE;
    }
    sf__opts_free(&run.opts);
    return code;
}

int sf_main(int argc, char **argv, sf_program program, void *arg) {
    sf_config cfg = {.argc = argc, .argv = argv};
    return sf_run(&cfg, program, arg);
}
