/*
 * sfmpi-keygen: a party's X25519 key pair for production mode.
 *
 *   sfmpi-keygen --party NAME --out FILE [--force]   generate FILE (mode 0600); print the
 *                                                     public key (64 hex) on stdout
 *   sfmpi-keygen --show FILE                          print the public key of FILE
 *
 * The cluster.json entry to add is printed on stderr. Exit 0 on success, 1 on failure,
 * 2 on bad usage.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mpi/prod/cluster.h"
#include "sfmpi/sf.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sfmpi-keygen --party NAME --out FILE [--force]\n"
            "       sfmpi-keygen --show FILE\n"
            "\n"
            "Generates a party's X25519 key pair for sfmpi production mode and writes it to\n"
            "FILE (mode 0600; an existing FILE is kept unless --force). Prints the public key\n"
            "(64 hex characters) on stdout and the cluster.json entry for the party on stderr.\n"
            "\n"
            "  --party NAME   the party's name in cluster.json (1..64 of [A-Za-z0-9_.-])\n"
            "  --out FILE     the key file to write\n"
            "  --force        replace FILE if it exists\n"
            "  --show FILE    check an existing key file and print its public key\n"
            "  --help         this text\n");
}

static void hint(const char *party, const char *pub)
{
    fprintf(stderr,
            "add to cluster.json: {\"name\": \"%s\", \"address\": \"HOST:PORT\", \"public_key\": \"%s\"}\n",
            party, pub);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"party", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},       {"show", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *party = NULL, *out = NULL, *show = NULL;
    int force = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': party = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 's': show = optarg; break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt)
                fprintf(stderr, "sfmpi-keygen: bad option or missing argument: %s\n", argv[optind - 1]);
            else
                fprintf(stderr, "sfmpi-keygen: unknown option: %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sfmpi-keygen: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (show ? (party || out || force) : (!party || !out || !*party || !*out)) {
        if (show)
            fprintf(stderr, "sfmpi-keygen: --show cannot be combined with --party, --out or --force\n");
        else
            fprintf(stderr, "sfmpi-keygen: --party NAME and --out FILE are required\n");
        usage(stderr);
        return 2;
    }
    if (party) {
        size_t n = strlen(party);
        int ok = n >= 1 && n <= SF_PARTY_NAME_MAX && strspn(party, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
        if (!ok) {
            fprintf(stderr, "sfmpi-keygen: --party: the name must be 1..%d characters of [A-Za-z0-9_.-]\n",
                    SF_PARTY_NAME_MAX);
            usage(stderr);
            return 2;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "sfmpi-keygen: libsodium failed to initialise\n");
        return 1;
    }

    char err[1024];
    if (show) {
        sf_party_key k;
        if (sf__party_key_load(&k, show, err, sizeof err) != 0) {
            fprintf(stderr, "sfmpi-keygen: %s\n", err);
            return 1;
        }
        char pub[65];
        sodium_bin2hex(pub, sizeof pub, k.public_key, sizeof k.public_key);
        printf("%s\n", pub);
        hint(k.party, pub);
        sf__party_key_wipe(&k);
        return fflush(stdout) == 0 ? 0 : 1;
    }

    char pub[65];
    if (sf__party_key_generate(party, out, force, pub, err, sizeof err) != 0) {
        fprintf(stderr, "sfmpi-keygen: %s\n", err);
        return 1;
    }
    printf("%s\n", pub);
    hint(party, pub);
    return fflush(stdout) == 0 ? 0 : 1;
}
