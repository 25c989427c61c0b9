/*
 * The mode seam: one backend per mode (debug, sim, prod), each in its own folder under
 * mpi/, behind one table. sf_run parses the options, picks the table for the mode and
 * drives it; everything a mode needs to set up (MPI, its layout of parties and ranks, a
 * cluster file and key, channels) happens behind it, and the runtime above sees only
 * ranks, each with a transport (leaders) and a party communicator.
 *
 * The order of calls, on every process of the run:
 *   launch     set up this process's share of the run; say which ranks it runs
 *   endpoint   for each of those ranks: its party, its rank in the party, its transport
 *              (leaders only: cross-party) and its party communicator
 *   ... the runtime runs the ranks (debug: as coroutines of its executor, which reports
 *       each finished rank back through rank_done) ...
 *   settle     agree on the exit code among the processes of the job that must agree
 *   teardown   free everything (after settle, or after a failed launch)
 * abort may come at any time from the runtime's fatal path (after the transport has told
 * the peers): it ends this job now with the code and never returns.
 *
 * Backends include no runtime headers but the value layout (core/value.h); what they
 * need from the runtime comes in through sf_launch.
 */
#ifndef SF_MPI_MODE_H
#define SF_MPI_MODE_H

#include <stddef.h>

#include "mpi/party.h"
#include "mpi/transport.h"
#include "sfmpi/sf.h"

typedef struct sf_mode_backend sf_mode_backend; /* a backend's own state */

/* What sf_run hands a backend. */
typedef struct sf_launch {
    int *argc;          /* the program's arguments (MPI_Init may consume launcher ones) */
    char ***argv;
    int nparties;       /* from the options; prod: may be 0, the cluster file names them */
    char **parties;
    int rpp;            /* debug, sim: ranks per party */
    int quiet;
    double wait_timeout;
    double connect_timeout; /* prod: > 0 overrides the cluster file's */
    const char *party, *cluster, *key, *job_id, *listen; /* prod */
    sf_mem_sched sched; /* debug: the executor's block/wake (mpi/transport.h) */
} sf_launch;

/* What launch tells sf_run. */
typedef struct sf_layout {
    int nranks;       /* ranks this process runs: debug every rank of the run, else 1 */
    int coroutines;   /* run them as coroutines of the debug executor */
    int nparties;
    char **parties;   /* the run's party names (owned by the backend) */
    int report;       /* this process prints errors that every process of the job has
                         (e.g. rank 0 of a simulation job) */
    char tag[96];     /* how this process names itself in error lines ("prod alice"), or "" */
} sf_layout;

typedef struct sf_endpoint {
    int party;        /* -1 on a production worker before its leader said which */
    int rank;         /* in the party; 0 = leader */
    sf_transport *tp; /* leaders only; the runtime destroys it */
    sf_pcomm *pc;     /* the runtime destroys it */
} sf_endpoint;

struct sf_mode_ops {
    sf_mode mode;
    const char *name;
    /* Never blocks on other parties (prod: their connections come up in endpoint).
     * On failure *out may still be set: the caller reports err (where lay->report says),
     * then calls settle and teardown. */
    int (*launch)(sf_mode_backend **out, const sf_launch *in, sf_layout *lay, char *err,
                  size_t errlen);
    /* Rank i (0 .. nranks-1) of this process. hooks: the runtime's callbacks for the
     * transport (their arg is the rank's context). May block (prod: until every peer
     * has connected, or connect_timeout). */
    int (*endpoint)(sf_mode_backend *b, int i, const sf_transport_hooks *hooks, sf_endpoint *ep,
                    char *err, size_t errlen);
    /* The ranks of this process are done with `code`; returns the code of the job
     * (prod: the leader's code reaches its workers). */
    int (*settle)(sf_mode_backend *b, int code);
    /* End this job now (MPI_Abort, or _exit); never returns. b may be NULL. */
    void (*abort)(sf_mode_backend *b, int code) __attribute__((noreturn));
    void (*teardown)(sf_mode_backend **b);
    /* Debug executor hooks (NULL in other modes): rank i has finished (its waiters get
     * SF_EPEER); messages sent to rank i that nobody received (the first one's sender and
     * header), for the end-of-run check. */
    void (*rank_done)(sf_mode_backend *b, int i);
    int (*undelivered)(sf_mode_backend *b, int i, int *src, sf_msg_hdr *first);
};

const struct sf_mode_ops *sf__mode_ops(sf_mode mode);

extern const struct sf_mode_ops sf__mode_debug, sf__mode_sim, sf__mode_prod;

#endif
