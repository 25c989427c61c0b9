/*
 * Contexts and runs: sf_run parses options and hands the run to the mode's executor
 * (debug: scheduler.c; sim: below). Fatal reports print once with the rank's tag and
 * stop the whole run through the transport (debug: _exit; sim: MPI_Abort).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/bridge/cluster.h"
#include "mpi/party.h"
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
    char msg[8192], line[8448];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fflush(stdout);
    int n = snprintf(line, sizeof line, "sfmpi: [%s %s/%d #%llu] error: %s\n",
                     sf_mode_name(sf->run->opts.mode), sf__party_name(sf, sf->party), sf->rank,
                     (unsigned long long)sf->call_seq, msg);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t w = write(2, line, (size_t)n); /* one write: no interleaving between ranks */
    (void)w;
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
    sf__spu_free_all(sf);
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

int sf__run_party(sf_ctx *sf) {
    int rc = sf->run->program(sf, sf->run->arg);
    int code = SF_EXIT_OK;
    if (rc != 0) {
        code = rc < 0 ? sf__status_exit_code(rc) : SF_EXIT_FAILURE;
        fflush(stdout);
        /* one write, so the reports of parties sharing a terminal do not interleave */
        size_t el = sf->last_error ? strlen(sf->last_error) : 0, n = 0;
        char *msg = malloc(256 + el * 5);
        if (msg) {
            n = (size_t)snprintf(msg, 256, "sfmpi: [%s %s/%d #%llu] the program returned %d (%s)%s",
                                 sf_mode_name(sf->run->opts.mode), sf__party_name(sf, sf->party),
                                 sf->rank, (unsigned long long)sf->call_seq, rc,
                                 rc < 0 ? sf_err_name(rc) : "non-zero", el ? ":\n    " : "");
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

/* ------------------------------------------------------------------ simulation mode */

static int sim_run(sf_run_state *run, sf_config *cfg_argv) {
    int rank = sf__mpi_world_rank_hint(), party = 0, local = 0, rc, code;
    char err[512] = "";
    sf_sim_layout *lay = NULL;
    rc = sf__sim_layout_create(&lay, run->opts.nparties, run->opts.rpp, &cfg_argv->argc,
                               &cfg_argv->argv, &party, &local, err, sizeof err);
    if (rc) {
        if (rank <= 0) fprintf(stderr, "sfmpi: error: %s\n", err);
        sf__sim_layout_destroy(&lay);
        return sf__status_exit_code(rc);
    }
    sf_ctx *sf = calloc(1, sizeof *sf);
    if (!sf || sf__ctx_init(sf, run, party)) {
        free(sf);
        sf__sim_layout_destroy(&lay);
        return SF_EXIT_FAILURE;
    }
    sf->rank = local;
    if ((rc = sf__pcomm_mpi_create(&sf->pc, sf__sim_layout_party_comm(lay)))) {
        fprintf(stderr, "sfmpi: error: party communicator: %s\n", sf_strerror(rc));
        code = SF_EXIT_FAILURE;
    } else if (local != 0) {
        code = sf__worker_loop(sf);
    } else {
        sf_transport_hooks hooks = {.arg = sf, .on_notice = sf__on_notice,
                                    .on_bye_mismatch = sf__on_bye_mismatch};
        sf_mpi_options mo = {.wait_timeout = run->opts.wait_timeout};
        rc = sf__mpi_transport_create(&sf->tp, run->opts.nparties, &mo, &hooks,
                                      sf__sim_layout_leaders_comm(lay), err, sizeof err);
        if (rc) {
            fprintf(stderr, "sfmpi: error: %s\n", err);
            code = sf__status_exit_code(rc);
        } else {
            code = sf__run_party(sf);
        }
    }
    sf__ctx_free(sf);
    if (sf->tp) sf->tp->ops->destroy(&sf->tp);
    if (sf->pc) sf->pc->ops->destroy(&sf->pc);
    free(sf);
    sf__sim_layout_destroy(&lay);
    return code;
}

/* ------------------------------------------------------------------ production mode */

/* The party list of the run is the cluster file's; a list given in the config or on the
 * command line must name the same parties (any order). */
static int adopt_cluster_parties(sf_opts *o, const sf_cluster *c, char *err, size_t errlen) {
    if (o->nparties) {
        int same = o->nparties == c->nparties;
        for (int i = 0; same && i < o->nparties; i++) same = sf__cluster_find(c, o->parties[i]) >= 0;
        if (!same) {
            snprintf(err, errlen, "the program's parties (%d, e.g. '%s') differ from the cluster "
                                  "file's %s (%d, e.g. '%s')",
                     o->nparties, o->parties[0], o->cluster, c->nparties, c->parties[0].name);
            return SF_EUSAGE;
        }
        for (int i = 0; i < o->nparties; i++) free(o->parties[i]);
        free(o->parties);
    }
    o->parties = calloc((size_t)c->nparties, sizeof(char *));
    if (!o->parties) return SF_ENOMEM;
    o->nparties = c->nparties;
    for (int i = 0; i < c->nparties; i++)
        if (!(o->parties[i] = strdup(c->parties[i].name))) return SF_ENOMEM;
    return SF_OK;
}

static int prod_run(sf_run_state *run, sf_config *cfg_argv) {
    sf_opts *o = &run->opts;
    char err[1024] = "";
    int rank = 0, size = 1, rc, code = SF_EXIT_USAGE;
    const char *missing = !o->party ? "--sf-party=<name>" : !o->cluster ? "--sf-cluster=<file>"
                        : !o->key ? "--sf-key=<file>" : NULL;
    if (missing) {
        fprintf(stderr, "sfmpi: error: production mode needs %s (and --sf-party, --sf-cluster, "
                        "--sf-key; see sfmpi-keygen)\n", missing);
        return SF_EXIT_USAGE;
    }
    sf_party_job *pj = NULL;
    if ((rc = sf__party_job_init(&pj, &cfg_argv->argc, &cfg_argv->argv, &rank, &size, err, sizeof err))) {
        fprintf(stderr, "sfmpi: error: %s\n", err);
        return sf__status_exit_code(rc);
    }
    if (rank != 0) { /* a worker of this party's job: runs collective kernels */
        sf_ctx w;
        if ((rc = sf__ctx_init(&w, run, -1)) ||
            (rc = sf__pcomm_mpi_create(&w.pc, sf__party_job_comm(pj)))) {
            fprintf(stderr, "sfmpi: error: worker rank %d: %s\n", rank, sf_strerror(rc));
            sf__party_job_abort(pj, SF_EXIT_FAILURE);
        }
        w.rank = rank;
        sf__worker_loop(&w);
        w.pc->ops->destroy(&w.pc);
        sf__ctx_free(&w);
        code = sf__party_job_share_code(pj, 0);
        sf__party_job_finish(&pj);
        return code;
    }
    sf_cluster cl = {0};
    sf_party_key key = {0};
    sf_transport *tp = NULL;
    sf_ctx *sf = calloc(1, sizeof *sf);
    int self = -1;
    if (!sf) goto out;
    if ((rc = sf__cluster_load(&cl, o->cluster, err, sizeof err))) goto report;
    if ((self = sf__cluster_find(&cl, o->party)) < 0) {
        char names[512] = "";
        size_t n = 0;
        for (int i = 0; i < cl.nparties && n + 70 < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", cl.parties[i].name);
        snprintf(err, sizeof err, "--sf-party=%s: no party '%s' in %s (its parties: %s)", o->party,
                 o->party, o->cluster, names);
        rc = SF_EUSAGE;
        goto report;
    }
    if ((rc = sf__party_key_load(&key, o->key, err, sizeof err)) ||
        (rc = sf__party_key_check(&key, &cl, self, o->key, err, sizeof err)) ||
        (rc = adopt_cluster_parties(o, &cl, err, sizeof err)))
        goto report;
    sf_transport_hooks hooks = {.arg = sf, .on_notice = sf__on_notice,
                                .on_bye_mismatch = sf__on_bye_mismatch};
    rc = sf__bridge_transport_create(&tp, &cl, self, &key, o->job_id, o->listen, o->quiet, &hooks,
                                     err, sizeof err);
    sf__party_key_wipe(&key);
    if (rc) goto report;
    if ((rc = sf__ctx_init(sf, run, self))) goto report;
    sf->tp = tp;
    if (size > 1) {
        if ((rc = sf__pcomm_mpi_create(&sf->pc, sf__party_job_comm(pj)))) goto report;
    } else if ((rc = sf__pcomm_self_create(&sf->pc))) {
        goto report;
    }
    code = sf__run_party(sf);
    sf__ctx_free(sf);
    if (sf->pc) sf->pc->ops->destroy(&sf->pc);
    goto out;
report:
    fprintf(stderr, "sfmpi: [prod %s] error: %s\n", o->party, err);
    code = rc == SF_ETIMEOUT ? SF_EXIT_PEER : sf__status_exit_code(rc);
out:
    sf__party_key_wipe(&key);
    if (tp) tp->ops->destroy(&tp);
    sf__cluster_free(&cl);
    free(sf);
    sf__party_job_share_code(pj, code);
    sf__party_job_finish(&pj);
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
    default: code = prod_run(&run, &c); break;
    }
    sf__opts_free(&run.opts);
    return code;
}

int sf_main(int argc, char **argv, sf_program program, void *arg) {
    sf_config cfg = {.argc = argc, .argv = argv};
    return sf_run(&cfg, program, arg);
}
