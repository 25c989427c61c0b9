/*
 * The transport seam: everything below it differs by mode, nothing above it does.
 *
 * Point-to-point between parties (leader to leader), ordered per (source, destination)
 * pair. Each message is a fixed header plus an optional value.
 *   send: non-blocking; takes its own reference on the value, dropped once the bytes
 *         are out (so the owner may release its object at once).
 *   recv: blocks until the next message from `src` (debug mode: yields the coroutine).
 *         Returns SF_EPEER when `src` has finished and nothing more will come.
 *   finish: this party's program is done: deliver `bye` to every peer, wait for every
 *         peer's bye and for outstanding sends. Reports a peer that made a different
 *         number of calls (divergence) through the hooks.
 * Backends: transport_mem.c (debug: pointer hand-off, zero copy), transport_mpi.c
 * (simulation: MPI point-to-point on a private communicator), bridge (production).
 * Backends include no runtime headers except the value layout (runtime/value.h).
 */
#ifndef SF_MPI_TRANSPORT_H
#define SF_MPI_TRANSPORT_H

#include <stdint.h>

#include "sfmpi/sf.h"

enum sf_msg_kind {
    SF_MSG_DATA = 1,   /* an object's value */
    SF_MSG_ERROR = 2,  /* an object's failure: value is the error chain (bytes) */
    SF_MSG_STATUS = 3, /* sf_wait: "computed fine", no value */
    SF_MSG_BYE = 4,    /* the sender's program has finished */
};

/* 64 bytes. `call_seq`/`trace` are the sender's call number and trace hash at the call
 * that sent it; the receiver expects its own at the same call (divergence check). */
typedef struct sf_msg_hdr {
    uint32_t kind;
    uint32_t line;      /* sender's call site line */
    uint64_t obj_id;
    uint64_t call_seq;
    uint64_t trace;
    char file[32];      /* sender's call site file (basename, truncated) */
} sf_msg_hdr;

/* What a blocked receiver waits for; sent to the peer as a notice by backends that
 * cannot see the whole run (sim, prod) after a while, so the peer can detect divergence. */
typedef struct sf_wait_notice {
    uint64_t call_seq;
    uint64_t trace;
    uint64_t obj_id;
    uint32_t line;
    char file[32];
} sf_wait_notice;

/* A message's serialized form on byte transports (mpi, bridge): header, value meta and
 * shape; the value's data follows (inline or in further pieces). */
typedef struct sf_wire_hdr {
    sf_msg_hdr h;
    uint8_t has_val, dtype, ndim, inline_data;
    uint32_t pad;
    uint64_t nbytes;
    int64_t shape[]; /* ndim entries */
} sf_wire_hdr;
#define SF_WIRE_HDR_SIZE(ndim) (sizeof(sf_wire_hdr) + sizeof(int64_t) * (size_t)(ndim))

typedef struct sf_transport sf_transport;

struct sf_transport_ops {
    const char *name;
    int (*send)(sf_transport *t, int dst, const sf_msg_hdr *h, sf_value *v);
    /* *v receives an owned reference (NULL for STATUS/BYE). `w` describes the wait. */
    int (*recv)(sf_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h,
                sf_value **v);
    int (*finish)(sf_transport *t, const sf_msg_hdr *bye);
    /* Stop the whole run with exit `code` after a fatal report (never returns). */
    void (*abort)(sf_transport *t, int code) __attribute__((noreturn));
    void (*destroy)(sf_transport **t);
};

/* The first half of finish for byte transports: send our bye to every peer, take every
 * peer's next message, which must be a bye matching ours (else on_bye_mismatch). */
int sf__bye_exchange(sf_transport *t, const sf_msg_hdr *bye);

/* Callbacks from a backend up to the runtime (set by the runtime at creation). */
typedef struct sf_transport_hooks {
    void *arg;
    /* A peer blocked on us sent its wait notice (sim/prod). */
    void (*on_notice)(void *arg, int src, const sf_wait_notice *n);
    /* A peer's bye in finish did not match ours, or a message came after it. */
    void (*on_bye_mismatch)(void *arg, int src, const sf_msg_hdr *got);
} sf_transport_hooks;

struct sf_transport {
    const struct sf_transport_ops *ops;
    sf_transport_hooks hooks;
    int self;     /* this party's index */
    int nparties;
};

/* ---- debug backend: one fabric per process, one endpoint per rank */
typedef struct sf_mem_fabric sf_mem_fabric;
typedef struct sf_mem_sched {
    void *arg;
    /* Block rank `self` until woken; called from inside recv on the rank's coroutine. */
    void (*block)(void *arg, int self, int src);
    /* Make rank `r` runnable again. */
    void (*wake)(void *arg, int r);
} sf_mem_sched;

int sf__mem_fabric_create(sf_mem_fabric **out, int nranks, const sf_mem_sched *sched);
void sf__mem_fabric_destroy(sf_mem_fabric **f);
/* The cross-party transport of party `self`'s leader; party p's leader is fabric rank
 * p * stride (stride = ranks per party). */
int sf__mem_transport_create(sf_transport **out, sf_mem_fabric *f, int self, int nparties,
                             int stride, const sf_transport_hooks *hooks);
/* Fabric-level point-to-point between fabric ranks (the party communicator uses these).
 * recv blocks through the scheduler; SF_EPEER if src finished with nothing left. */
int sf__mem_send(sf_mem_fabric *f, int self, int dst, const sf_msg_hdr *h, sf_value *v);
int sf__mem_recv(sf_mem_fabric *f, int self, int src, sf_msg_hdr *h, sf_value **v);
void sf__mem_set_finished(sf_mem_fabric *f, int r);
/* Ranks currently blocked in recv on `src` (for waking them when src finishes). */
void sf__mem_wake_waiters(sf_mem_fabric *f, int src);
/* Number of messages sent to `dst` but never received; describes the first one. */
int sf__mem_pending(sf_mem_fabric *f, int dst, int *src, sf_msg_hdr *first);
int sf__mem_finished(sf_mem_fabric *f, int r);

/* ---- simulation backend */
typedef struct sf_mpi_options {
    double wait_timeout; /* seconds before a blocked receiver sends its wait notice */
} sf_mpi_options;
/* Duplicates `base_comm` (a const MPI_Comm *: the leaders' communicator, one rank per
 * party, rank = party index). MPI must be initialised (sf__sim_layout_create). */
int sf__mpi_transport_create(sf_transport **out, int nparties, const sf_mpi_options *opt,
                             const sf_transport_hooks *hooks, const void *base_comm, char *err,
                             size_t errlen);
/* The simulation job's layout: MPI initialised if nobody has (finalised in destroy only
 * then); world rank r is rank (r % rpp) of party (r / rpp); a party communicator per party
 * and a leaders' communicator (MPI_COMM_NULL on workers). A world size other than
 * nparties * rpp is SF_EUSAGE with a message saying what to run. */
typedef struct sf_sim_layout sf_sim_layout;
int sf__sim_layout_create(sf_sim_layout **out, int nparties, int rpp, int *argc, char ***argv,
                          int *party, int *local, char *err, size_t errlen);
const void *sf__sim_layout_party_comm(const sf_sim_layout *l);   /* const MPI_Comm * */
const void *sf__sim_layout_leaders_comm(const sf_sim_layout *l); /* const MPI_Comm * */
void sf__sim_layout_destroy(sf_sim_layout **l);
/* Rank of this process in the job (before the transport exists; -1 if not under MPI). */
int sf__mpi_world_rank_hint(void);

/* ---- production backend (mpi/transport_bridge.c) */
struct sf_cluster;
struct sf_party_key;
/* Connect to every peer of the cluster (this party is `self`): listens on its own
 * address, dials the parties with a higher index, accepts the lower ones, runs a Noise KK
 * handshake on each connection, and returns once all are up (printing progress unless
 * quiet) or fails with SF_ETIMEOUT after the cluster's connect_timeout, naming the
 * missing parties in err. job_id is bound into every handshake. listen: "host:port" to
 * bind instead of this party's cluster address (behind NAT or a port forward), or NULL. */
int sf__bridge_transport_create(sf_transport **out, const struct sf_cluster *c, int self,
                                const struct sf_party_key *key, const char *job_id,
                                const char *listen, int quiet,
                                const sf_transport_hooks *hooks, char *err, size_t errlen);

/* ---- a party's own MPI job (production): rank/size of MPI_COMM_WORLD if launched by an
 * MPI launcher (MPI initialised only then, and only if nobody has), else 0/1 without MPI. */
typedef struct sf_party_job sf_party_job;
int sf__party_job_init(sf_party_job **out, int *argc, char ***argv, int *rank, int *size,
                       char *err, size_t errlen);
/* Leader broadcasts the exit code to the other ranks of its job (which wait in it). */
int sf__party_job_share_code(sf_party_job *pj, int code);
void sf__party_job_abort(sf_party_job *pj, int code) __attribute__((noreturn));
const void *sf__party_job_comm(const sf_party_job *pj); /* const MPI_Comm *, or NULL */
void sf__party_job_finish(sf_party_job **pj);

#endif
