/*
 * sfmpi-check-cluster: validate a production cluster file as a party would, and print
 * what its handshakes bind, so parties can compare when a handshake is refused.
 *
 *   sfmpi-check-cluster [--party NAME --key FILE] [--job-id ID] cluster.json
 *
 * The file goes through the parties' own parser (mpi/prod/cluster.c, with the same
 * messages); with --party and --key the key file is checked against the party's entry,
 * as that party's leader does at start-up. Printed: the parties, the channel settings, and
 * the values every handshake binds (mpi/prod/conn.c prologue): the bridge protocol
 * version, the SHA-256 of the file's bytes, the job id (--sf-job-id overrides the file's)
 * and the cipher. Two parties connect only if all four agree. Exit 0 valid, 2 invalid or
 * bad usage.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mpi/prod/cluster.h"
#include "mpi/prod/conn.h"
#include "sfmpi/sf.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: sfmpi-check-cluster [--party NAME --key FILE] [--job-id ID] cluster.json\n"
            "\n"
            "Validates a production cluster file with the parties' own parser (same errors)\n"
            "and prints its parties, its channel settings and what every handshake binds:\n"
            "the bridge protocol version, the file's SHA-256, the job id and the cipher.\n"
            "Parties connect only when all four agree, so compare the 'sha256' line at every\n"
            "party when a handshake is refused.\n"
            "\n"
            "  --party NAME   also check FILE of --key as NAME's key (as NAME's leader does)\n"
            "  --key FILE     the party's key file (with --party)\n"
            "  --job-id ID    the --sf-job-id the parties run with (default: the file's)\n"
            "  --help         this text\n"
            "\n"
            "Exit status: 0 valid, 2 invalid or bad usage.\n");
}

static void hex(const uint8_t *p, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", p[i]);
}

int main(int argc, char **argv) {
    static const struct option longs[] = {{"party", required_argument, NULL, 'p'},
                                          {"key", required_argument, NULL, 'k'},
                                          {"job-id", required_argument, NULL, 'j'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *party = NULL, *keyfile = NULL, *job_id = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'p': party = optarg; break;
        case 'k': keyfile = optarg; break;
        case 'j': job_id = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return SF_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "sfmpi-check-cluster: %s\n",
                optind >= argc ? "no cluster file given" : "more than one cluster file given");
        usage(stderr);
        return SF_EXIT_USAGE;
    }
    if (!party != !keyfile) {
        fprintf(stderr, "sfmpi-check-cluster: --party and --key go together\n");
        return SF_EXIT_USAGE;
    }
    if (job_id && (!*job_id || strlen(job_id) > 255)) {
        fprintf(stderr, "sfmpi-check-cluster: --job-id must be 1..255 bytes\n");
        return SF_EXIT_USAGE;
    }
    const char *path = argv[optind];
    sf_cluster cl;
    char err[2048] = "";
    if (sf__cluster_load(&cl, path, err, sizeof err)) {
        fprintf(stderr, "sfmpi-check-cluster: %s\n", err);
        return SF_EXIT_USAGE;
    }
    int rc = 0;
    if (party) {
        int self = sf__cluster_find(&cl, party);
        sf_party_key *key = sodium_malloc(sizeof *key); /* sf__cluster_load initialised sodium */
        if (self < 0) {
            fprintf(stderr, "sfmpi-check-cluster: --party=%s: no party '%s' in %s\n", party, party, path);
            rc = SF_EXIT_USAGE;
        } else if (!key) {
            fprintf(stderr, "sfmpi-check-cluster: out of memory for the key\n");
            rc = SF_EXIT_FAILURE;
        } else if (sf__party_key_load(key, keyfile, err, sizeof err) ||
                   sf__party_key_check(key, &cl, self, keyfile, err, sizeof err)) {
            fprintf(stderr, "sfmpi-check-cluster: %s\n", err);
            rc = SF_EXIT_USAGE;
        }
        if (key) sodium_free(key);
    }
    if (rc) {
        sf__cluster_free(&cl);
        return rc;
    }
    char h[65], pk[65];
    hex(cl.file_hash, 32, h);
    printf("%s: valid: version %d, %d parties%s%s\n", path, cl.version, cl.nparties,
           party ? ", key of " : "", party ? party : "");
    for (int i = 0; i < cl.nparties; i++) {
        const sf_cluster_party *p = &cl.parties[i];
        hex(p->public_key, 32, pk);
        printf("  party %-16s %s%s%s:%d  public key %s\n", p->name, strchr(p->host, ':') ? "[" : "",
               p->host, strchr(p->host, ':') ? "]" : "", p->port, pk);
    }
    printf("channel: connect_timeout %g s, peer_timeout %g s, heartbeat %g s, window %d, "
           "max_frame %u\n",
           cl.connect_timeout, cl.peer_timeout, cl.heartbeat, cl.window, cl.max_frame);
    printf("handshake binds:\n");
    printf("  protocol sfmpi-bridge/%d\n", BR_PROTO_VERSION);
    printf("  sha256   %s\n", h);
    printf("  job_id   %s%s\n", job_id ? job_id : cl.job_id, job_id ? " (--job-id)" : "");
    printf("  cipher   %s\n", sf__noise_protocol_name(cl.cipher));
    sf__cluster_free(&cl);
    return 0;
}
