/*
 * The transport seam: everything below it differs by mode, nothing above it does.
 *
 * Point-to-point between parties (leader to leader), ordered per (source, destination)
 * pair. Each message is a fixed header plus an optional value.
 *   send: non-blocking; takes its own reference on the value, dropped once the bytes
 *         are out (so the owner may release its object at once).
 *   send_many: the same message to several parties, as send to each in turn (optional:
 *         a backend that can share one message among them, as debug mode's does, saves
 *         the per-party work; without it the runtime calls send per party).
 *   recv: blocks until the next message from `src` (debug mode: yields the coroutine).
 *         Returns SF_EPEER when `src` has finished and nothing more will come.
 *   finish: this party's program is done: deliver `bye` to every peer, wait for every
 *         peer's bye and for outstanding sends. Reports a peer that made a different
 *         number of calls (divergence) through the hooks.
 * Backends: mpi/debug/transport_mem.c (pointer hand-off, zero copy), mpi/sim/
 * transport_mpi.c (MPI point-to-point on a private communicator), mpi/prod/bridge.c
 * (encrypted TCP channels). Byte transports encode headers with the wire layer
 * (mpi/wire.h). Backends include no runtime headers except the value layout
 * (core/value.h); a mode backend (mpi/mode.h) creates them.
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

typedef struct sf_transport sf_transport;

struct sf_transport_ops {
    const char *name;
    int (*send)(sf_transport *t, int dst, const sf_msg_hdr *h, sf_value *v);
    /* dsts: n distinct parties, none of them this one. NULL: send per party. */
    int (*send_many)(sf_transport *t, const int *dsts, int n, const sf_msg_hdr *h,
                     sf_value *v);
    /* *v receives an owned reference (NULL for STATUS/BYE). `w` describes the wait. */
    int (*recv)(sf_transport *t, int src, const sf_wait_notice *w, sf_msg_hdr *h,
                sf_value **v);
    int (*finish)(sf_transport *t, const sf_msg_hdr *bye);
    /* The run stops with exit `code` after a fatal report: tell the peers, with the
     * reason, best effort and in bounded time (the mode backend then ends the job).
     * May not return (simulation: MPI_Abort ends every rank at once). */
    void (*abort)(sf_transport *t, int code, const char *reason);
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

/* The debug executor's scheduling hooks, given to the debug backend's fabric. */
typedef struct sf_mem_sched {
    void *arg;
    /* Block rank `self` until woken; called from inside recv on the rank's coroutine. */
    void (*block)(void *arg, int self, int src);
    /* Make rank `r` runnable again. */
    void (*wake)(void *arg, int r);
} sf_mem_sched;

#endif
