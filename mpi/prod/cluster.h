/*
 * The production cluster file and party key files.
 *
 * cluster.json (every party has the same file):
 *   {
 *     "version": 1,
 *     "job_id": "fraud-model-2026-11",                 (any string; binds a run)
 *     "parties": [
 *       {"name": "alice", "address": "127.0.0.1:7001", "public_key": "<64 hex>"},
 *       ...
 *     ],
 *     "channel": {                                        (optional; defaults shown)
 *       "cipher": "chachapoly" | "aesgcm",                "chachapoly"
 *       "connect_timeout": 60,    seconds to wait for all peers at start-up
 *       "peer_timeout": 10,       seconds of silence before a peer is declared lost
 *       "heartbeat": 1,           seconds between heartbeats on an idle channel
 *       "window": 256,            unacknowledged DATA frames kept for retransmission
 *       "max_frame": 1048576      largest frame payload in bytes (256 .. 16 MiB)
 *     }
 *   }
 * Key file (written by sfmpi-keygen, mode 0600):
 *   {"party": "alice", "secret_key": "<64 hex>", "public_key": "<64 hex>"}
 *
 * Every error names the file and the field ("cluster.json: parties[1].address: ...").
 * Unknown keys, duplicate names or addresses, bad key encodings, a missing self party, a
 * key file readable by group/others, and a key file whose public key does not match the
 * cluster's entry for the party are all errors. Both files must be regular files (a FIFO
 * or a device is refused at once, without waiting for a writer or reading from it) of at
 * most 1 MiB (cluster) / 4 KiB (key).
 */
#ifndef SF_BRIDGE_CLUSTER_H
#define SF_BRIDGE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/prod/noise.h"

#define SF_PARTY_NAME_MAX 64

typedef struct sf_cluster_party {
    char name[SF_PARTY_NAME_MAX + 1];
    char host[256]; /* hostname, IPv4 dotted, or IPv6 without brackets (may have %zone) */
    int port;
    uint8_t public_key[32];
} sf_cluster_party;

typedef struct sf_cluster {
    int version;
    char job_id[256];
    int nparties;
    sf_cluster_party *parties; /* owned */
    sf_noise_cipher cipher;
    double connect_timeout, peer_timeout, heartbeat;
    int window;
    uint32_t max_frame;
    uint8_t file_hash[32]; /* SHA-256 of the file's bytes (bound into the handshake) */
    char source[4096];     /* the file name used in messages (path given to load/parse) */
} sf_cluster;

/* Parse from a file / from memory (`name` is used in messages). Returns 0 or SF_EUSAGE
 * with a message in err; on error *c is left empty. Free with sf__cluster_free. Both refuse
 * two addresses with the same text (canonical: host lower-cased, IPv6 normalised); load
 * also resolves every host once (getaddrinfo) and refuses two parties with a common
 * endpoint (family, IP address and port; an IPv4-mapped IPv6 address counts as IPv4),
 * e.g. localhost:7001 and 127.0.0.1:7001. A host that does not resolve here (a remote name
 * that resolves only on its own side) is compared by its text only. parse never touches
 * the name service (it stays a pure function of the bytes, e.g. for the fuzzer). */
int sf__cluster_load(sf_cluster *c, const char *path, char *err, size_t errlen);
int sf__cluster_parse(sf_cluster *c, const char *json, size_t len, const char *name, char *err,
                      size_t errlen);
void sf__cluster_free(sf_cluster *c);
int sf__cluster_find(const sf_cluster *c, const char *party); /* index or -1 */

typedef struct sf_party_key {
    char party[SF_PARTY_NAME_MAX + 1];
    uint8_t secret_key[32], public_key[32];
} sf_party_key;

/* Load a key file: checks permissions (no group/other access), encodings, that the
 * public key matches the secret key. Wipe with sf__party_key_wipe. */
int sf__party_key_load(sf_party_key *k, const char *path, char *err, size_t errlen);
/* The key must belong to party `self` of the cluster and match its public key. */
int sf__party_key_check(const sf_party_key *k, const sf_cluster *c, int self, const char *path,
                        char *err, size_t errlen);
void sf__party_key_wipe(sf_party_key *k);
/* Generate a key pair and write it to path (mode 0600, refuses to overwrite unless
 * force). Writes the public key as 64 hex chars (+NUL) into pub_hex. */
int sf__party_key_generate(const char *party, const char *path, int force, char pub_hex[65],
                           char *err, size_t errlen);

#endif
