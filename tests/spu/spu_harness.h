/*
 * In-memory network for the SPU protocol core: every party is a thread, every directed
 * pair of parties a FIFO of messages. Implements sf_spu_net.
 *
 * Accounting: bytes_sent = payload bytes sent by the party. rounds = Lamport clock of
 * message hops: a message carries the sender's clock, a receive sets
 * clock = max(clock, carried + 1). spuh_sync() is a barrier that also levels the clocks
 * (to their maximum) and returns that maximum, so the rounds of an operation are the
 * difference of two spuh_sync() results around it.
 * Every recv must match one send of the same length (else the recv fails: SF_EINVAL).
 */
#ifndef SPU_HARNESS_H
#define SPU_HARNESS_H

#include <stdint.h>

#include "devices/spu/core/spu_proto.h"

typedef struct spuh spuh;

/* nparties threads; nmembers of them are members (the net's n), the rest (0 or 1) the
 * extra dealer. */
spuh *spuh_new(int nparties, int nmembers);
void spuh_free(spuh *w);
sf_spu_net *spuh_net(spuh *w, int party);
/* Run fn(w, party, arg) on every party in its own thread; returns the first nonzero
 * result (or 0). */
int spuh_run(spuh *w, int (*fn)(spuh *w, int party, void *arg), void *arg);
/* Barrier of all parties; levels the Lamport clocks; returns the maximum clock. */
uint64_t spuh_sync(spuh *w, int party);
/* Barrier of all parties. */
void spuh_barrier(spuh *w);
/* With SF_SPU_TEST_ZC=1 the net also lends buffers (recv_view, send_alloc/send_held), and
 * checks them: lent buffers not released so far, plus lent send buffers changed after
 * their first send (both should be 0 when an operation has returned). */
int spuh_zc_problems(spuh *w, int party);

#endif
