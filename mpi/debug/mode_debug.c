/*
 * Debug mode's backend: the whole run in this process. Every rank of every party is a
 * coroutine of the runtime's executor (runtime/scheduler.c); this backend lays out the
 * fabric they talk over: party p's rank r is fabric rank p * K + r (K ranks per party),
 * the leaders talk through the mem transport, the ranks of a party through the mem party
 * communicator. The executor's block/wake hooks come in through sf_launch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mpi/debug/mem.h"
#include "core/error.h"
#include "mpi/mode.h"

struct sf_mode_backend {
    sf_mem_fabric *fabric;
    int np, k;
};

static int dbg_launch(sf_mode_backend **out, const sf_launch *in, sf_layout *lay, char *err,
                      size_t errlen) {
    sf_mode_backend *b = calloc(1, sizeof *b);
    *out = b;
    if (!b) return SF_ENOMEM;
    b->np = in->nparties;
    b->k = in->rpp;
    if (sf__mem_fabric_create(&b->fabric, b->np * b->k, &in->sched))
        return sf__err_set(err, errlen, SF_ENOMEM, "out of memory creating %d ranks", b->np * b->k);
    *lay = (sf_layout){.nranks = b->np * b->k, .coroutines = 1, .nparties = in->nparties,
                       .parties = in->parties, .report = 1};
    return SF_OK;
}

static int dbg_endpoint(sf_mode_backend *b, int i, const sf_transport_hooks *hooks, sf_endpoint *ep,
                        char *err, size_t errlen) {
    int party = i / b->k, local = i % b->k, rc;
    *ep = (sf_endpoint){.party = party, .rank = local};
    if ((local == 0 &&
         (rc = sf__mem_transport_create(&ep->tp, b->fabric, party, b->np, b->k, hooks))) ||
        (rc = sf__pcomm_mem_create(&ep->pc, b->fabric, party * b->k, b->k, local)))
        return sf__err_set(err, errlen, rc, "creating rank %d/%d: %s", party, local, sf_strerror(rc));
    return SF_OK;
}

static int dbg_settle(sf_mode_backend *b, int code) {
    (void)b;
    return code;
}

__attribute__((noreturn)) static void dbg_abort(sf_mode_backend *b, int code) {
    (void)b;
    fflush(NULL);
    _exit(code);
}

static void dbg_teardown(sf_mode_backend **bp) {
    sf_mode_backend *b = *bp;
    if (!b) return;
    sf__mem_fabric_destroy(&b->fabric);
    free(b);
    *bp = NULL;
}

static void dbg_rank_done(sf_mode_backend *b, int i) { sf__mem_set_finished(b->fabric, i); }

static int dbg_undelivered(sf_mode_backend *b, int i, int *src, sf_msg_hdr *first) {
    return sf__mem_pending(b->fabric, i, src, first);
}

const struct sf_mode_ops sf__mode_debug = {
    .mode = SF_MODE_DEBUG,
    .name = "debug",
    .launch = dbg_launch,
    .endpoint = dbg_endpoint,
    .settle = dbg_settle,
    .abort = dbg_abort,
    .teardown = dbg_teardown,
    .rank_done = dbg_rank_done,
    .undelivered = dbg_undelivered,
};
