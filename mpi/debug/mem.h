/*
 * Debug mode's fabric: every rank of the run is a coroutine of one thread, and a message
 * is a pointer hand-off (transport_mem.c); the party communicators are built on the same
 * fabric (party_mem.c). The debug mode backend (mode_debug.c) owns it.
 */
#ifndef SF_DEBUG_MEM_H
#define SF_DEBUG_MEM_H

#include "mpi/party.h"
#include "mpi/transport.h"

/* One fabric per process, one endpoint per rank. */
typedef struct sf_mem_fabric sf_mem_fabric;

int sf__mem_fabric_create(sf_mem_fabric **out, int nranks, const sf_mem_sched *sched);
void sf__mem_fabric_destroy(sf_mem_fabric **f);
/* The cross-party transport of party `self`'s leader; party p's leader is fabric rank
 * p * stride (stride = ranks per party). */
int sf__mem_transport_create(sf_transport **out, sf_mem_fabric *f, int self, int nparties,
                             int stride, const sf_transport_hooks *hooks);
/* Fabric-level point-to-point between fabric ranks (the party communicator uses these).
 * recv blocks through the scheduler; SF_EPEER if src finished with nothing left. */
int sf__mem_send(sf_mem_fabric *f, int self, int dst, const sf_msg_hdr *h, sf_value *v);
/* The same message to n fabric ranks dsts[i] * stride (party leaders; dsts are party
 * indices): one shared record rather than n messages; per-pair order with sf__mem_send
 * holds. */
int sf__mem_send_many(sf_mem_fabric *f, int self, const int *dsts, int n, int stride,
                      const sf_msg_hdr *h, sf_value *v);
int sf__mem_recv(sf_mem_fabric *f, int self, int src, sf_msg_hdr *h, sf_value **v);
/* Rank r has finished: ranks waiting on it get SF_EPEER. */
void sf__mem_set_finished(sf_mem_fabric *f, int r);
/* Number of messages sent to `dst` but never received; describes one of them (the first
 * queued message, else the first record found). */
int sf__mem_pending(sf_mem_fabric *f, int dst, int *src, sf_msg_hdr *first);

/* Party ranks are fabric ranks first .. first + size - 1. */
int sf__pcomm_mem_create(sf_pcomm **out, sf_mem_fabric *f, int first, int size, int rank);

#endif
