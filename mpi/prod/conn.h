/*
 * The bridge's connection layer: TCP connections and the Noise KK handshake as
 * non-blocking state machines, stepped by the bridge thread's poll loop. Nothing here
 * ever blocks or sleeps: a connect, a handshake message, a slow or silent peer is a
 * state with a deadline, so a stranger's connection costs the legitimate peers nothing.
 *
 * Three kinds of connection:
 *   dial   (the lower party index dials the higher one):
 *            -> "SFMPI" u8 version | u16 dialer | u16 target | u8 48 | Noise KK message 1
 *            <- u16 48 | message 2                  -> BR_OPEN (authenticated both ways)
 *   accept (every incoming connection):
 *            <- the hello and message 1; -> message 2  -> keys ready, but NOT yet proof
 *            that the dialer holds its secrets: a replayed message 1 (a 59-byte capture)
 *            gets this far. The connection stays "unconfirmed" until the first transport
 *            frame (a RESUME, of fixed size) opens with the new keys -> BR_CONFIRMED.
 *            Only then may it replace a working connection (the bridge decides).
 *   probe  (a party checking whether a peer's process still exists after a reset):
 *            -> the hello with length 0;  <- u16 0xFFFF | u8 PROBE_ALIVE, then close.
 * A refusal is u16 0xFFFF | u8 reason (REFUSED: keys, cluster file or job differ; BUSY:
 * the responder's table of pending connections is full, try again), then close.
 *
 * The prologue of the handshake binds the protocol version, the cluster file's SHA-256,
 * the job id, both party indices and the cipher.
 *
 * Secrets: the handshake state and the new cipher states live in the caller's secure
 * memory (sodium_malloc: locked, excluded from core dumps), passed in as pointers.
 */
#ifndef SF_PROD_CONN_H
#define SF_PROD_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpi/prod/cluster.h"
#include "mpi/prod/noise.h"

#define BR_PROTO_VERSION 2
#define BR_HELLO 11

enum br_refusal { BR_REASON_REFUSED = 1, BR_REASON_BUSY = 2, BR_REASON_PROBE_ALIVE = 3 };

enum br_kind { BR_DIAL, BR_ACCEPT, BR_PROBE };

/* Outcomes (br_conn.outcome once a step returns non-zero). */
enum br_outcome {
    BR_PENDING = 0,
    BR_OPEN,        /* dial: authenticated, cipher states in tx/rx */
    BR_CONFIRMED,   /* accept: the first frame opened; peer, tx/rx, frame set */
    BR_ALIVE,       /* probe: the peer's bridge answered */
    BR_GONE,        /* dial/probe: connection refused, or closed before any answer */
    BR_REJECTED,    /* dial: the peer refused the handshake (config differs) */
    BR_BUSY,        /* dial: the peer is at its cap of pending connections */
    BR_FAILED,      /* anything else (deadline, garbage, I/O error): why says it */
    BR_ANSWERED,    /* accept: a probe was answered, or a refusal sent: just close */
};

/* What a step needs to know about the cluster and this party. */
typedef struct br_hs_cfg {
    int self, n;
    const sf_cluster_party *parties;
    const uint8_t *key_priv; /* this party's static secret (secure memory) */
    uint8_t cluster_hash[32];
    char job_id[256];
    sf_noise_cipher cipher;
    uint32_t resume_len;     /* ciphertext length of a RESUME frame (the first frame) */
} br_hs_cfg;

typedef struct br_conn {
    int fd;
    int kind;
    int state;          /* private to conn.c */
    int peer;           /* dial/probe: the target; accept: the claimed dialer (-1 before) */
    int outcome;        /* enum br_outcome */
    double started, deadline;
    int answered;       /* dial/probe: some byte of an answer arrived */
    uint8_t out[BR_HELLO + 64];
    size_t out_len, out_off;
    uint8_t in[128];
    size_t in_got, in_need;
    uint64_t resume_ack; /* BR_CONFIRMED: the ack field of the dialer's RESUME */
    sf_noise_hs *hs;    /* secure memory, owned by the caller (set before dial/accept) */
    sf_noise_cs *tx, *rx;
    char why[128];
} br_conn;

/* Start a dial (kind BR_DIAL) or a probe (BR_PROBE) of party `peer` at `addr`: a
 * non-blocking socket and connect, the hello (and message 1) prepared. Returns 0, or
 * non-zero with c->outcome set (BR_GONE: refused at once; BR_FAILED: why). */
int sf__br_conn_dial(br_conn *c, int kind, const br_hs_cfg *cfg, int peer,
                     const struct sockaddr_storage *addr, socklen_t alen, double now,
                     double timeout);
/* Take an accepted socket. */
void sf__br_conn_accept(br_conn *c, int fd, double now, double timeout);
/* Advance on poll readiness (revents; 0 for a deadline check). Returns 1 when the
 * connection reached an outcome (c->outcome), else 0. */
int sf__br_conn_step(br_conn *c, const br_hs_cfg *cfg, short revents, double now);
/* Poll events the connection waits for. */
short sf__br_conn_events(const br_conn *c);
/* 1 if the responder side has its keys but no confirming frame yet. */
int sf__br_conn_unconfirmed(const br_conn *c);
/* Close the socket (unless `keep_fd`: the caller took it) and wipe the handshake and
 * cipher states (a caller that keeps the connection copies tx/rx first). */
void sf__br_conn_close(br_conn *c, int keep_fd);
/* Best effort, non-blocking: tell the other side why before closing. */
void sf__br_conn_refuse(br_conn *c, int reason);

/* Socket helpers shared with the bridge. */
int sf__br_set_nonblock(int fd, int on);
void sf__br_tune(int fd);
int sf__br_resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

#endif
