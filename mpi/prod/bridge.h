/*
 * The production transport: parties are separate jobs; their leaders talk over TCP
 * channels encrypted and mutually authenticated with Noise KK (noise.h) and AEAD frames
 * (frame.h). Three layers below the transport table:
 *   connection (conn.c)  sockets and handshakes, non-blocking state machines;
 *   stream (stream.c)    per peer: window, acknowledgements, retransmission after a
 *                        reconnection, reassembly (pure code, fuzzed);
 *   wire (mpi/wire.c)    the message header and the control payloads (fuzzed).
 * This file is the transport table and the bridge thread that drives the three.
 */
#ifndef SF_PROD_BRIDGE_H
#define SF_PROD_BRIDGE_H

#include <stddef.h>

#include "mpi/prod/cluster.h"
#include "mpi/transport.h"

typedef struct sf_bridge_options {
    const char *job_id; /* bound into every handshake (NULL: the cluster file's) */
    const char *listen; /* "host:port" to bind instead of the cluster address, or NULL */
    int quiet;
    double wait_timeout; /* seconds a blocked receiver waits before it sends its notice */
    double connect_timeout; /* > 0: seconds to wait for every peer at start-up, instead of
                               the cluster file's channel.connect_timeout */
} sf_bridge_options;

/* Connect to every peer of the cluster (this party is `self`, its secret key `key`, which
 * stays in the caller's secure memory and must outlive the transport): listen on its
 * own address, dial the parties with a higher index, accept the lower ones, and return
 * once all are connected (printing progress unless quiet), or fail with SF_ETIMEOUT
 * after the connect timeout (opt's, else the cluster's), naming the missing parties in err. */
int sf__bridge_transport_create(sf_transport **out, const sf_cluster *c, int self,
                                const sf_party_key *key, const sf_bridge_options *opt,
                                const sf_transport_hooks *hooks, char *err, size_t errlen);

#endif
