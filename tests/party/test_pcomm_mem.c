/*
 * The debug-mode party communicator (mpi/party_mem.c): ranks are coroutines of one
 * thread, driven by a tiny scheduler here (block = mark the rank waiting and switch back
 * to the scheduler; wake = mark it runnable; every rank blocked = deadlock, a failure).
 *
 *  - every operation with known answers (tests/party/pcomm_cases.h) for 1..5 ranks, at
 *    fabric offsets 0 and 2 (party rank r is fabric rank first + r); no message may be
 *    left over;
 *  - zero copy: point-to-point, bcast and allreduce hand over the same object;
 *  - SF_EPEER from a finished peer, SF_EDIVERGE when ranks make different calls, and the
 *    kept message is still there for the receive that expects it;
 *  - under mpirun (-np k): the same cases through the MPI backend on MPI_COMM_WORLD, and
 *    this rank's log (every result's digest, every status) must equal the mem backend's
 *    rank of a k-rank run: the two backends give the same values.
 * Exits 1 with a message on any failure.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/debug/mem.h"
#include "runtime/coro.h"
#include "tests/party/pcomm_cases.h"

#define MAXR 8
#define STACK (1u << 20)

typedef void (*rank_body)(sf_pcomm *c, pc_log *L);

static struct {
    sf_coro *main;
    sf_coro *co[MAXR];
    int runnable[MAXR], finished[MAXR];
    int n, first;
    sf_mem_fabric *f;
    rank_body body;
    pc_log *logs;
    long blocks;
} S;

static void sch_block(void *arg, int self, int src) {
    (void)arg;
    (void)src;
    int r = self - S.first;
    S.runnable[r] = 0;
    S.blocks++;
    sf__coro_switch(S.co[r], S.main);
    test_context("rank %d/%d", r, S.n); /* the failure context follows the running rank */
}

static void sch_wake(void *arg, int r) {
    (void)arg;
    S.runnable[r - S.first] = 1;
}

static void rank_main(void *p) {
    int r = (int)(intptr_t)p;
    test_context("rank %d/%d", r, S.n);
    sf_pcomm *c = NULL;
    int rc = sf__pcomm_mem_create(&c, S.f, S.first, S.n, r);
    if (!ASSERT_OK(rc) || !ASSERT_NOT_NULL(c)) return;
    if (ASSERT_EQ(c->rank, r) && ASSERT_EQ(c->size, S.n)) ASSERT_NULL(c->ops->mpi_comm(c));
    S.body(c, &S.logs[r]);
    c->ops->destroy(&c);
}

/* Run body on n coroutine ranks at fabric offset `first`. Returns 0, or -1 on deadlock.
 * leftovers: the number of messages nobody received (must be 0 unless expected). */
static int run(int n, int first, rank_body body, pc_log *logs, int *leftovers) {
    memset(&S, 0, sizeof S);
    S.n = n;
    S.first = first;
    S.body = body;
    S.logs = logs;
    S.main = sf__coro_thread();
    sf_mem_sched ms = {NULL, sch_block, sch_wake};
    if (!ASSERT_OK(sf__mem_fabric_create(&S.f, first + n + 1, &ms))) return -1;
    for (int r = 0; r < n; r++) {
        char name[32];
        snprintf(name, sizeof name, "rank%d", r);
        if (!ASSERT_OK(sf__coro_create(&S.co[r], rank_main, (void *)(intptr_t)r, STACK, name, S.main)))
            return -1;
        S.runnable[r] = 1;
    }
    int done = 0, deadlock = 0;
    while (done < n) {
        int progress = 0;
        for (int r = 0; r < n; r++) {
            if (S.finished[r] || !S.runnable[r]) continue;
            progress = 1;
            sf__coro_switch(S.main, S.co[r]);
            test_context(NULL);
            if (sf__coro_finished(S.co[r])) {
                S.finished[r] = 1;
                done++;
                sf__mem_set_finished(S.f, first + r); /* waiters get SF_EPEER */
            }
        }
        if (!progress) {
            deadlock = 1;
            break;
        }
    }
    int left = 0;
    for (int r = 0; r < first + n + 1; r++) {
        int src;
        sf_msg_hdr h;
        left += sf__mem_pending(S.f, r, &src, &h);
    }
    if (leftovers) *leftovers = left;
    if (deadlock) {
        TEST_FAIL("deadlock with %d ranks: every unfinished rank is blocked", n);
        return -1; /* the blocked coroutines cannot be freed */
    }
    for (int r = 0; r < n; r++) sf__coro_destroy(&S.co[r]);
    sf__mem_fabric_destroy(&S.f);
    return 0;
}

/* ---------------------------------------------------------------- mem-only cases */

static sf_value *g_shared[4];

static void body_zero_copy(sf_pcomm *c, pc_log *L) {
    int rc;
    if (c->rank == 0) {
        g_shared[0] = sf_value_f64(3.25);
        rc = c->ops->send(c, 1, SF_PC_USER, g_shared[0]);
        ASSERT_OK_MSG(rc, "send: %d", rc);
        sf_value *v = sf_value_str("bcast");
        g_shared[1] = v;
        rc = c->ops->bcast(c, 0, &v);
        ASSERT_MSG(rc == SF_OK && v == g_shared[1], "bcast keeps the root's value: %d", rc);
    } else {
        sf_value *got = NULL, *b = NULL;
        rc = c->ops->recv(c, 0, SF_PC_USER, &got);
        ASSERT_MSG(rc == SF_OK && got == g_shared[0], "recv: the sent object itself: %d", rc);
        sf_value_unref(&got);
        rc = c->ops->bcast(c, 0, &b);
        ASSERT_MSG(rc == SF_OK && b == g_shared[1], "bcast: the root's object itself: %d", rc);
        sf_value_unref(&b);
    }
    sf_value *in = sf_value_i64(c->rank + 1), *out = NULL;
    rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
    ASSERT_MSG(rc == SF_OK && out && sf_value_as_i64(out, 0) == 3 && out != in, "allreduce: %d", rc);
    if (c->rank == 0) g_shared[2] = out;
    else ASSERT_EQ_MSG(out, g_shared[2], "allreduce: rank 0's result object");
    rc = c->ops->barrier(c);
    ASSERT_OK_MSG(rc, "barrier: %d", rc);
    sf_value_unref(&out);
    sf_value_unref(&in);
    if (c->rank == 0) {
        sf_value_unref(&g_shared[0]);
        sf_value_unref(&g_shared[1]);
    }
}

static void body_peer(sf_pcomm *c, pc_log *L) {
    if (c->rank == 1) return; /* finishes at once */
    sf_value *v = NULL;
    int rc = c->ops->recv(c, 1, SF_PC_USER, &v);
    ASSERT_MSG(rc == SF_EPEER && !v, "recv from a finished rank: %d", rc);
    rc = c->ops->bcast(c, 1, &v);
    ASSERT_MSG(rc == SF_EPEER && !v, "bcast from a finished rank: %d", rc);
    sf_value *in = sf_value_i64(1);
    rc = c->ops->allreduce(c, in, SF_OP_SUM, &v);
    ASSERT_MSG(rc == SF_EPEER && !v, "allreduce with a finished rank: %d", rc);
    sf_value_unref(&in);
}

static void body_diverge(sf_pcomm *c, pc_log *L) {
    int rc;
    sf_value *in = sf_value_i64(c->rank), *out = NULL;
    if (c->rank == 0) {
        /* a kernel message the other rank does not expect, then a barrier */
        rc = c->ops->send(c, 1, SF_PC_USER, in);
        ASSERT_OK_MSG(rc, "send: %d", rc);
        rc = c->ops->barrier(c);
        ASSERT_OK_MSG(rc, "barrier on rank 0: %d", rc);
        /* rank 0 broadcasts while rank 1 gathers */
        out = in;
        rc = c->ops->bcast(c, 0, &out);
        ASSERT_OK_MSG(rc, "bcast: %d", rc);
    } else {
        rc = c->ops->barrier(c);
        ASSERT_STATUS_MSG(rc, SF_EDIVERGE, "barrier meets a kernel message: %d", rc);
        rc = c->ops->recv(c, 0, SF_PC_CMD, &out);
        ASSERT_MSG(rc == SF_EDIVERGE && !out, "recv with the wrong tag: %d", rc);
        rc = c->ops->recv(c, 0, SF_PC_USER, &out);
        ASSERT_MSG(rc == SF_OK && out && sf_value_as_i64(out, 0) == 0, "the kept message: %d", rc);
        sf_value_unref(&out);
        /* now the barrier's answer is at the head: a kernel receive must not take it */
        rc = c->ops->recv(c, 0, SF_PC_USER, &out);
        ASSERT_MSG(rc == SF_EDIVERGE && !out, "recv meets a collective message: %d", rc);
        rc = c->ops->gather(c, 0, in, &out);
        ASSERT_MSG(rc == SF_EDIVERGE && !out, "gather meets the barrier's answer: %d", rc);
    }
    sf_value_unref(&in);
}

static void body_sum_only(sf_pcomm *c, pc_log *L) {
    /* reduce to a non-zero root combines in rank order 0, 1, 2, ...: with floats whose
     * sum depends on the order, the result must be exactly ((x0 + x1) + x2) + ... */
    static const double xs[] = {1e16, 1.0, -1e16, 1.0, 0.5};
    sf_value *in = sf_value_f64(xs[c->rank]), *out = NULL;
    int root = c->size - 1;
    int rc = c->ops->reduce(c, root, in, SF_OP_SUM, &out);
    double want = xs[0];
    for (int r = 1; r < c->size; r++) want += xs[r];
    if (c->rank == root)
        ASSERT_MSG(rc == SF_OK && out && sf_value_as_f64(out, 0) == want,
                   "rank-order sum: %.17g want %.17g", out ? sf_value_as_f64(out, 0) : 0.0, want);
    sf_value_unref(&out);
    rc = c->ops->allreduce(c, in, SF_OP_SUM, &out);
    ASSERT_MSG(rc == SF_OK && out && sf_value_as_f64(out, 0) == want, "rank-order allreduce");
    sf_value_unref(&out);
    sf_value_unref(&in);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    pc_log *logs = calloc(MAXR, sizeof *logs);
    int left = 0;
    for (int n = 1; n <= 5; n++)
        for (int first = 0; first <= 2; first += 2) {
            memset(logs, 0, sizeof *logs * MAXR);
            if (run(n, first, pc_run_all, logs, &left) == 0)
                ASSERT_EQ_MSG(left, 0, "%d ranks: messages left unreceived", n);
        }
    memset(logs, 0, sizeof *logs * MAXR);
    if (run(2, 1, body_zero_copy, logs, &left) == 0) ASSERT_EQ_MSG(left, 0, "zero copy: messages left");
    memset(logs, 0, sizeof *logs * MAXR);
    run(2, 0, body_peer, logs, NULL);
    memset(logs, 0, sizeof *logs * MAXR);
    run(2, 0, body_diverge, logs, &left);
    ASSERT_EQ_MSG(left, 2, "divergence: messages left (the barrier answer and the bcast)");
    for (int n = 1; n <= 5; n++) {
        memset(logs, 0, sizeof *logs * MAXR);
        run(n, 0, body_sum_only, logs, NULL);
    }

    /* under mpirun: the MPI backend must give the mem backend's values */
    int total = test_failures();
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE")) {
        MPI_Init(&argc, &argv);
        int rank, size;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (size > MAXR) {
            TEST_FAIL("at most %d MPI ranks", MAXR);
        } else {
            memset(logs, 0, sizeof *logs * MAXR);
            run(size, 0, pc_run_all, logs, NULL);
            pc_log *mpi_log = calloc(1, sizeof *mpi_log);
            MPI_Comm world = MPI_COMM_WORLD;
            sf_pcomm *c = NULL;
            if (ASSERT_OK(sf__pcomm_mpi_create(&c, &world))) {
                pc_run_all(c, mpi_log);
                c->ops->destroy(&c);
                const pc_log *m = &logs[rank];
                ASSERT_EQ_MSG(mpi_log->n, m->n, "rank %d: results logged by MPI and by mem", rank);
                int diffs = 0;
                for (int i = 0; i < m->n && i < mpi_log->n; i++)
                    if (m->d[i] != mpi_log->d[i] || m->line[i] != mpi_log->line[i]) {
                        if (diffs++ < 5)
                            TEST_FAIL("rank %d: result %d differs: mem %016llx (pcomm_cases.h:%d), "
                                      "MPI %016llx (line %d)",
                                      rank, i, (unsigned long long)m->d[i], m->line[i],
                                      (unsigned long long)mpi_log->d[i], mpi_log->line[i]);
                    }
                if (!diffs && rank == 0)
                    printf("test_pcomm_mem: mem and MPI backends agree on %d results per rank "
                           "(%d rank(s))\n", m->n, size);
            }
            free(mpi_log);
        }
        int f = test_failures();
        MPI_Allreduce(&f, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Finalize();
    }
    free(logs);
    if (total) {
        fprintf(stderr, "test_pcomm_mem: %d failure(s)\n", total);
        return 1;
    }
    printf("test_pcomm_mem: all checks passed\n");
    return 0;
}
