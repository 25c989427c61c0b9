/*
 * Production mode's backend: every party is its own job (one process, or `mpirun -np K`
 * of its own, on its own machines). Rank 0 of the party's job is its leader: it loads
 * the cluster file and its key file (kept in secure memory: locked, out of core dumps),
 * checks that the program's party list (if any) names the cluster's parties, and brings
 * up the bridge (bridge.c) to every other party. The other ranks of the job serve
 * collective kernels over the job's own communicator (a private duplicate of its world);
 * the leader tells them the party names and whether start-up worked, so every rank of a
 * party stops together and names its party.
 */
#include <mpi.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "mpi/mode.h"
#include "mpi/mpi_job.h"
#include "mpi/prod/bridge.h"
#include "mpi/prod/cluster.h"

struct sf_mode_backend {
    int mpi, owns_mpi; /* launched by an MPI launcher / we initialised MPI */
    MPI_Comm comm;     /* the party's job (a duplicate of its world) */
    int rank, size;
    sf_cluster cl;
    sf_party_key *key; /* sodium_malloc'd */
    int self;
    char **parties;
    int nparties;
    sf_bridge_options bo;
};

static void free_names(sf_mode_backend *b) {
    for (int i = 0; b->parties && i < b->nparties; i++) free(b->parties[i]);
    free(b->parties);
    b->parties = NULL;
    b->nparties = 0;
}

/* The leader: cluster file, key file, the program's party list against the cluster's. */
static int load(sf_mode_backend *b, const sf_launch *in, char *err, size_t errlen) {
    const char *missing = !in->party ? "--sf-party=<name>" : !in->cluster ? "--sf-cluster=<file>"
                          : !in->key ? "--sf-key=<file>" : NULL;
    int rc = SF_OK;
    SF_CHECK(!missing, out, rc, SF_EUSAGE, err, errlen, "production mode needs %s (and --sf-party, "
             "--sf-cluster, --sf-key; see sfmpi-keygen)", missing);
    if ((rc = sf__cluster_load(&b->cl, in->cluster, err, errlen))) goto out;
    if ((b->self = sf__cluster_find(&b->cl, in->party)) < 0) {
        char names[512] = "";
        size_t n = 0;
        for (int i = 0; i < b->cl.nparties && n + 70 < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", b->cl.parties[i].name);
        SF_CHECK(0, out, rc, SF_EUSAGE, err, errlen, "--sf-party=%s: no party '%s' in %s (its parties: %s)",
                 in->party, in->party, in->cluster, names);
    }
    b->key = sodium_malloc(sizeof *b->key);
    SF_CHECK(b->key, out, rc, SF_ENOMEM, err, errlen, "out of memory for the key");
    if ((rc = sf__party_key_load(b->key, in->key, err, errlen)) ||
        (rc = sf__party_key_check(b->key, &b->cl, b->self, in->key, err, errlen)))
        goto out;
    /* the run's parties are the cluster file's; a list given in the config or on the
     * command line must name the same ones (any order) */
    if (in->nparties) {
        int same = in->nparties == b->cl.nparties;
        for (int i = 0; same && i < in->nparties; i++) same = sf__cluster_find(&b->cl, in->parties[i]) >= 0;
        SF_CHECK(same, out, rc, SF_EUSAGE, err, errlen, "the program's parties (%d, e.g. '%s') differ "
                 "from the cluster file's %s (%d, e.g. '%s')", in->nparties, in->parties[0], in->cluster,
                 b->cl.nparties, b->cl.parties[0].name);
    }
out:
    return rc;
}

/* Leader -> workers: status, this party's index and the party names, as one blob. */
static int share_names(sf_mode_backend *b, int *status, char *err, size_t errlen) {
    int hdr[3] = {*status, b->self, 0};
    char *blob = NULL;
    if (b->rank == 0 && !*status) {
        size_t len = 0;
        for (int i = 0; i < b->cl.nparties; i++) len += strlen(b->cl.parties[i].name) + 1;
        if (!(blob = malloc(len))) return SF_ENOMEM;
        len = 0;
        for (int i = 0; i < b->cl.nparties; i++) {
            size_t l = strlen(b->cl.parties[i].name) + 1;
            memcpy(blob + len, b->cl.parties[i].name, l);
            len += l;
        }
        hdr[2] = (int)len;
    }
    if (b->size > 1) MPI_Bcast(hdr, 3, MPI_INT, 0, b->comm);
    *status = hdr[0];
    b->self = hdr[1];
    if (*status) {
        free(blob);
        if (b->rank != 0) snprintf(err, errlen, "the party's leader could not start (see its report)");
        return *status;
    }
    if (b->rank != 0 && !(blob = malloc((size_t)hdr[2] + 1))) return SF_ENOMEM;
    if (b->size > 1) MPI_Bcast(blob, hdr[2], MPI_CHAR, 0, b->comm);
    int n = 0;
    for (int k = 0; k < hdr[2]; k++) n += blob[k] == 0;
    b->parties = calloc((size_t)n, sizeof *b->parties);
    if (!b->parties) {
        free(blob);
        return SF_ENOMEM;
    }
    for (int k = 0; k < hdr[2]; k += (int)strlen(blob + k) + 1)
        if (!(b->parties[b->nparties++] = strdup(blob + k))) {
            free(blob);
            return SF_ENOMEM;
        }
    free(blob);
    return SF_OK;
}

static int prod_launch(sf_mode_backend **out, const sf_launch *in, sf_layout *lay, char *err,
                       size_t errlen) {
    sf_mode_backend *b = calloc(1, sizeof *b);
    *out = b;
    if (!b) return SF_ENOMEM;
    b->comm = MPI_COMM_NULL;
    b->size = 1;
    b->self = -1;
    *lay = (sf_layout){.nranks = 1, .report = 1};
    snprintf(lay->tag, sizeof lay->tag, "prod %s", in->party ? in->party : "?");
    int rc, init = 0;
    MPI_Initialized(&init);
    if (init || sf__job_size_hint() > 0 || getenv("PMIX_RANK")) { /* the party is an MPI job */
        if ((rc = sf__mpi_init(in->argc, in->argv, &b->owns_mpi, err, errlen))) return rc;
        b->mpi = 1;
        if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &b->comm)) != MPI_SUCCESS)
            return sf__mpi_error(rc, "MPI_Comm_dup", err, errlen);
        MPI_Comm_rank(b->comm, &b->rank);
        MPI_Comm_size(b->comm, &b->size);
    }
    lay->report = b->rank == 0;
    int st = b->rank == 0 ? load(b, in, err, errlen) : SF_OK;
    if ((rc = share_names(b, &st, err, errlen))) return rc;
    lay->nparties = b->nparties;
    lay->parties = b->parties;
    /* the bridge comes up in endpoint, where the runtime's hooks are known */
    b->bo = (sf_bridge_options){.job_id = in->job_id, .listen = in->listen, .quiet = in->quiet,
                                .wait_timeout = in->wait_timeout,
                                .connect_timeout = in->connect_timeout};
    return SF_OK;
}

static int prod_endpoint(sf_mode_backend *b, int i, const sf_transport_hooks *hooks, sf_endpoint *ep,
                         char *err, size_t errlen) {
    (void)i;
    int rc = SF_OK;
    *ep = (sf_endpoint){.party = b->self, .rank = b->rank};
    if (b->rank == 0)
        rc = sf__bridge_transport_create(&ep->tp, &b->cl, b->self, b->key, &b->bo, hooks, err, errlen);
    if (b->size > 1) { /* the workers learn whether the leader's channels came up */
        int st = rc;
        MPI_Bcast(&st, 1, MPI_INT, 0, b->comm);
        if (st && !rc) {
            snprintf(err, errlen, "the party's leader could not connect (see its report)");
            rc = st;
        }
    }
    if (rc) return rc;
    if (b->size > 1) rc = sf__pcomm_mpi_create(&ep->pc, &b->comm);
    else rc = sf__pcomm_self_create(&ep->pc);
    if (rc) snprintf(err, errlen, "party communicator: %s", sf_strerror(rc));
    return rc;
}

static int prod_settle(sf_mode_backend *b, int code) {
    if (b->mpi && b->size > 1) MPI_Bcast(&code, 1, MPI_INT, 0, b->comm);
    return code;
}

__attribute__((noreturn)) static void prod_abort(sf_mode_backend *b, int code) {
    fflush(NULL);
    if (b && b->mpi && b->size > 1) MPI_Abort(b->comm, code);
    _exit(code);
}

static void prod_teardown(sf_mode_backend **bp) {
    sf_mode_backend *b = *bp;
    if (!b) return;
    if (b->key) sodium_free(b->key); /* wipes it */
    sf__cluster_free(&b->cl);
    free_names(b);
    if (b->comm != MPI_COMM_NULL) MPI_Comm_free(&b->comm);
    sf__mpi_finalize(b->owns_mpi);
    free(b);
    *bp = NULL;
}

const struct sf_mode_ops sf__mode_prod = {
    .mode = SF_MODE_PRODUCTION,
    .name = "prod",
    .launch = prod_launch,
    .endpoint = prod_endpoint,
    .settle = prod_settle,
    .abort = prod_abort,
    .teardown = prod_teardown,
};
