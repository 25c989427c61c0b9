/*
 * Runtime internals shared across the runtime files. Not installed.
 *
 * One sf_ctx per party leader (per rank in debug mode, all in one process). Everything
 * in it is replicated identically on every party by construction: the call counter, the
 * trace hash, the object table's ids, owners and holder sets. Only values differ (each
 * party holds the values it owns or received).
 */
#ifndef SF_RUNTIME_INTERNAL_H
#define SF_RUNTIME_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "mpi/transport.h"
#include "core/value.h"
#include "sfmpi/sf.h"

#define SF__HIST 32 /* calls remembered for divergence reports (power of two) */
#define SF__DEV_KINDS 4 /* sf_device_kind values */

/* A name -> index table over an array of distinct names (open addressing, load <= 1/2):
 * party names resolve in constant time however many parties a run has. */
typedef struct sf_name_index {
    int *slot;   /* index into names, -1 empty */
    size_t mask; /* slots - 1 */
} sf_name_index;
/* Build it over names[0..n). Returns SF_OK, SF_ENOMEM, or SF_EUSAGE with *dup the index of
 * the first name listed twice (the table is then freed). */
int sf__name_index_build(sf_name_index *ix, char *const *names, int n, int *dup);
int sf__name_index_find(const sf_name_index *ix, char *const *names, const char *name); /* -1 */
void sf__name_index_free(sf_name_index *ix);

/* ---- options (options.c) */
typedef struct sf_opts {
    sf_mode mode;
    char **parties; /* owned */
    int nparties;
    size_t stack_size;
    int turn;       /* debug: runtime calls per turn (--sf-turn) */
    int on_error_continue; /* debug: --sf-on-error=continue (failures are values) */
    int check_args;
    int quiet;
    int progress;   /* --sf-progress: -1 off, 0 auto, 1 on */
    double wait_timeout;
    double connect_timeout; /* prod: --sf-connect-timeout (0: the cluster file's) */
    int rpp;        /* ranks per party (sim, debug) */
    int spu_plain;  /* --sf-spu=plain: SPUs are plaintext functional simulations */
    int h5_allow_external; /* --sf-h5-allow-external: >0 read external/virtual HDF5 data */
    uint64_t h5_max_bytes; /* --sf-h5-max-bytes: largest HDF5 dataset read (0: physical memory) */
    char *party, *cluster, *key, *job_id, *listen; /* production (owned) */
    int argc;       /* remaining program arguments (argv[0] kept) */
    char **argv;    /* owned array, strings borrowed from the caller */
} sf_opts;

/* Parse cfg + environment + --sf-* options. On error writes a message naming the option
 * and returns SF_EUSAGE. */
int sf__opts_parse(sf_opts *o, const sf_config *cfg, char *err, size_t errlen);
void sf__opts_free(sf_opts *o);
/* What the command line asks before any run: --sf-help (or --help/-h when cfg->help is 1)
 * anywhere before "--", else --sf-version. Nothing else is parsed or checked. */
enum { SF__ACT_RUN = 0, SF__ACT_HELP = 1, SF__ACT_VERSION = 2 };
int sf__opts_action(const sf_config *cfg);
/* The help text, made from the option table (usage, options, exit codes, examples). */
void sf__opts_help(FILE *f, const char *argv0);


/* ---- objects (objects.c) */
enum sf_entry_kind { SF__ENT_OBJ = 0, SF__ENT_ACTOR = 1 };
enum sf_entry_state {
    SF__ST_REMOTE = 0, /* placeholder: held elsewhere */
    SF__ST_READY = 1,  /* value held here */
    SF__ST_FAILED = 2, /* failure known here; err holds the chain */
};

typedef struct sf_entry {
    uint64_t id;
    uint64_t call_seq;
    int32_t owner; /* party that sends it */
    uint8_t kind, state;
    uint8_t killed;  /* actors */
    uint8_t dev_kind; /* 0: held in the clear by its owner; else the device (sf_device_kind)
                         that holds it, val/err being this party's part (runtime/device.h) */
    int16_t dev_idx;  /* the instance of that device */
    sf_value *revealed; /* a device object's plaintext after sf_get */
    union {
        uint64_t hold;      /* holder bitmap when nparties <= 64 */
        int32_t hold_in[2]; /* more parties: the first two holders ... */
    };
    int32_t *holdv;  /* ... then all of them, in a list (NULL: hold_in) ... */
    int32_t nhold, caphold;
    uint8_t hold_all; /* ... unless every party holds it */
    sf_value *val;   /* READY: the value */
    sf_value *err;   /* FAILED: error chain text (bytes) */
    sf_site site;    /* creating call */
    /* actors */
    const sf_actor_class *cls;
    void *state_ptr;
    sf_site kill_site;
    struct sf_entry *hnext;       /* hash chain */
    struct sf_entry *prev, *next; /* creation order */
} sf_entry;

typedef struct sf_objtab {
    sf_entry **buckets;
    size_t nbuckets, count;
    sf_entry *head, *tail;
    sf_entry *spare; /* recycled entries (linked through hnext) */
    int nspare;
} sf_objtab;

/* ---- the shared per-process run (context.c) */
typedef struct sf_run_state sf_run_state;
struct sf_debug_exec;

struct sf_ctx {
    sf_run_state *run;
    int party;
    int rank; /* rank within the party (0 = leader) */
    sf_transport *tp;  /* cross-party (leaders only; NULL on workers) */
    struct sf_pcomm *pc; /* this party's ranks */
    uint64_t call_seq;
    uint64_t trace;
    sf_site site; /* current call */
    int turn_calls; /* debug: runtime calls since this rank was last switched in */
    int in_task;  /* a task body is running: runtime calls are misuse */
    sf_objtab objs;
    char *last_error;
    struct sf_early_notice {
        int src;
        sf_wait_notice n;
    } *early_notices; /* notices from peers ahead of us (sim/prod) */
    int nearly, capearly;
    int finished;
    int exit_code;
    const struct sf_device_ops *dev_ops[SF__DEV_KINDS]; /* registered classes (runtime/device.h) */
    void *dev_state[SF__DEV_KINDS]; /* each device class's own state */
    /* the hot fields above fit the first four cache lines (the debug scheduler prefetches
     * them before it resumes a rank); the call history (two lines per call) follows */
    uint64_t trace_hist[SF__HIST];
    sf_site site_hist[SF__HIST];
};

struct sf_mode_ops;
struct sf_mode_backend;
struct sf_layout;

struct sf_device_ops;

struct sf_run_state {
    sf_opts opts;
    sf_program program;
    void *arg;
    const struct sf_mode_ops *mode;  /* the mode's backend table (mpi/mode.h) */
    struct sf_mode_backend *backend;
    int nparties;                    /* the run's parties (the backend's layout) */
    char **parties;
    sf_name_index party_ix;          /* parties by name */
    struct sf_debug_exec *dbg;       /* set while the executor runs coroutines */
    int *dst_buf, dst_cap;           /* destinations of a send to many parties (program
                                      * thread only, filled and used within one call) */
};

/* objects.c */
int sf__objtab_init(sf_objtab *t);
void sf__objtab_free(sf_ctx *sf);
sf_entry *sf__obj_find(sf_ctx *sf, uint64_t id);
sf_entry *sf__obj_new(sf_ctx *sf, uint64_t id, int owner, sf_site site);
void sf__obj_drop(sf_ctx *sf, sf_entry *e);
int sf__obj_holds(const sf_ctx *sf, const sf_entry *e, int party);
void sf__obj_set_holder(sf_ctx *sf, sf_entry *e, int party);
void sf__obj_set_all_holders(sf_ctx *sf, sf_entry *e);
void sf__obj_copy_holders(sf_ctx *sf, sf_entry *dst, const sf_entry *src);

/* context.c */
static inline int sf__nparties(const sf_ctx *sf) { return sf->run->nparties; }
const char *sf__party_name(const sf_ctx *sf, int p);
int sf__party_lookup(const sf_ctx *sf, const char *name); /* index or -1 */
void sf__set_error(sf_ctx *sf, const char *fmt, ...) SF_PRINTF(2, 3);
/* Report and stop the whole run (every party) with exit `code`. */
void sf__fatal(sf_ctx *sf, int code, const char *fmt, ...) SF_PRINTF(3, 4)
    __attribute__((noreturn));
void sf__vfatal(sf_ctx *sf, int code, const char *fmt, va_list ap) __attribute__((noreturn));
const char *sf__basename(const char *path);
/* Run this party's program to the end and shut down; returns the exit code. */
int sf__run_party(sf_ctx *sf);
int sf__ctx_init(sf_ctx *sf, sf_run_state *run, int party);
void sf__ctx_free(sf_ctx *sf);
void sf__on_notice(void *arg, int src, const sf_wait_notice *n);
void sf__on_bye_mismatch(void *arg, int src, const sf_msg_hdr *got);
int sf__status_exit_code(int status);

/* call.c */
void sf__check_early_notices(sf_ctx *sf);
/* Pieces of a call for device code: number the call, move values tagged with it. */
void sf__call_begin(sf_ctx *sf, sf_site site, uint64_t salt);
void sf__send_value(sf_ctx *sf, int to, uint32_t kind, uint64_t id, sf_value *v);
void sf__recv_value(sf_ctx *sf, int from, uint64_t id, sf_msg_hdr *h, sf_value **v);
sf_value *sf__chain(const char *head, const sf_value *cause);
void sf__debug_stop_if_failed(sf_ctx *sf, sf_entry *e);

/* collective.c */
struct sf_pcomm;
int sf__coll_start(sf_ctx *sf, sf_task_fn fn, sf_site site, sf_value **args,
                   const sf_argv_item *items, int nargs, int nret, char *err, size_t errlen);
int sf__coll_finish(sf_ctx *sf, char *err, size_t errlen);
void sf__coll_exit_workers(sf_ctx *sf);
int sf__worker_loop(sf_ctx *sf);
sf_comm *sf__comm_new(struct sf_pcomm *pc);
const void *sf__comm_mpi(sf_comm *c); /* const MPI_Comm * of the party, or NULL (debug) */
/* gather into the root's preallocated out, its own root_rows rows already in place (mpi/party.h) */
int sf__comm_gather_into(sf_comm *c, int root, const sf_value *in, int64_t root_rows, sf_value *out);
/* call.c: run a kernel on a worker; returns the failure message (free) or NULL. */
char *sf__run_kernel(sf_ctx *sf, sf_task_fn fn, const char *what, sf_value **args, int nargs,
                     int nret);

/* crash.c: the running rank named when a task crashes or calls exit() (async-signal-safe
 * text helpers shared with the executor's stack-overflow report) */
typedef struct sf_crash_buf {
    char s[1024];
    size_t n;
} sf_crash_buf;
void sf__crash_begin(const sf_run_state *run); /* after launch: handlers, exit hook */
void sf__crash_set_ctx(const sf_ctx *sf);       /* sim/prod: this process's rank */
void sf__crash_quiet(void);                     /* the runtime ends the process on purpose */
void sf__crash_end(void);
void sf__crash_put(sf_crash_buf *b, const char *s);
void sf__crash_putu(sf_crash_buf *b, unsigned long long v);
void sf__crash_tag(sf_crash_buf *b, const sf_ctx *sf);   /* "sfmpi: [mode party/rank #call] " */
void sf__crash_where(sf_crash_buf *b, const sf_ctx *sf); /* " in task 'f' called at file:line" */
void sf__crash_write(sf_crash_buf *b);                   /* one write(2), with a newline */

/* log.c */
void sf__logv(sf_ctx *sf, FILE *f, const char *fmt, va_list ap);
void sf__info(sf_ctx *sf, const char *fmt, ...) SF_PRINTF(2, 3);
/* The tag of this party's progress lines ("sim alice/0") in buf, or NULL on a worker
 * rank (only the leader reports; core/progress.h). */
const char *sf__progress_tag(const sf_ctx *sf, char *buf, size_t len);

/* scheduler.c (the debug executor). sf_run makes one for every run (cheap): its
 * scheduling hooks go to the mode backend's launch; it runs the ranks as coroutines when
 * the layout says so. */
struct sf_debug_exec *sf__exec_new(sf_run_state *run);
sf_mem_sched sf__exec_sched(struct sf_debug_exec *ex);
int sf__exec_run(struct sf_debug_exec *ex, const struct sf_layout *lay);
void sf__exec_free(struct sf_debug_exec **ex);
/* The context of the rank running now, or NULL outside the executor (async-signal-safe). */
const sf_ctx *sf__exec_current_ctx(void);
/* Lockstep: let the next rank run (called at the start of every call). */
void sf__debug_yield(sf_ctx *sf);
/* Record what a rank is about to wait for (deadlock reports). */
void sf__debug_note_wait(sf_ctx *sf, int src, uint64_t obj_id);
/* The context of another rank of this debug run (for reports). */
const sf_ctx *sf__debug_peer_ctx(sf_ctx *sf, int party);

/* hashing */
static inline uint64_t sf__mix(uint64_t h, uint64_t x) {
    h ^= x + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}
uint64_t sf__str_hash(const char *s);


#define SF__OBJ_ID(seq, i) (((uint64_t)(seq) << 16) | (uint64_t)(i))
#define SF__OBJ_SEQ(id) ((id) >> 16)
#define SF__OBJ_IDX(id) ((unsigned)((id) & 0xffff))
#define SF__MAX_RETURNS 0xffff
#define SF__MAX_ARGS 0xffff /* arguments of one call (sf_remotev takes a count) */
#define SF__MAX_RANKS (1 << 26) /* ranks of one run (parties x ranks per party) */

#endif
