/*
 * libFuzzer target for the cluster file parser (mpi/prod/cluster.c): any bytes must give
 * either a cluster that satisfies every documented rule or SF_EUSAGE with a message that
 * names the file, and must never crash or leak.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I include -I . \
 *     mpi/prod/cluster.c tests/fuzz/fuzz_cluster.c -lsodium -ljansson -o fuzz_cluster
 *   ./fuzz_cluster tests/fuzz/corpus_cluster -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/prod/cluster.h"
#include "sfmpi/sf.h"

#define REQUIRE(cond)                 \
    do {                              \
        if (!(cond)) __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_cluster c;
    char err[512];
    memset(err, 'x', sizeof err);
    int r = sf__cluster_parse(&c, (const char *)data, size, "fuzz.json", err, sizeof err);
    if (r != 0) {
        REQUIRE(r == SF_EUSAGE || r == SF_ENOMEM);
        REQUIRE(memchr(err, 0, sizeof err) != NULL);
        REQUIRE(strncmp(err, "fuzz.json: ", 11) == 0);
        REQUIRE(c.parties == NULL && c.nparties == 0);
        return 0;
    }
    REQUIRE(c.version == 1);
    size_t jl = strnlen(c.job_id, sizeof c.job_id);
    REQUIRE(jl >= 1 && jl <= 255);
    REQUIRE(c.nparties >= 1 && c.parties != NULL);
    for (int i = 0; i < c.nparties; i++) {
        const sf_cluster_party *p = &c.parties[i];
        size_t nl = strnlen(p->name, sizeof p->name);
        REQUIRE(nl >= 1 && nl <= SF_PARTY_NAME_MAX);
        REQUIRE(strspn(p->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == nl);
        size_t hl = strnlen(p->host, sizeof p->host);
        REQUIRE(hl >= 1 && hl <= 255);
        REQUIRE(p->port >= 1 && p->port <= 65535);
        uint8_t acc = 0;
        for (int b = 0; b < 32; b++) acc |= p->public_key[b];
        REQUIRE(acc != 0);
        REQUIRE(sf__cluster_find(&c, p->name) == i);
        for (int j = 0; j < i; j++) REQUIRE(memcmp(c.parties[j].public_key, p->public_key, 32) != 0);
    }
    REQUIRE(c.cipher == SF_NOISE_CHACHAPOLY || c.cipher == SF_NOISE_AESGCM);
    REQUIRE(c.connect_timeout > 0 && c.connect_timeout <= 86400);
    REQUIRE(c.peer_timeout > 0 && c.peer_timeout <= 86400);
    REQUIRE(c.heartbeat > 0 && c.heartbeat < c.peer_timeout);
    REQUIRE(c.window >= 1 && c.window <= 65536);
    REQUIRE(c.max_frame >= 256 && c.max_frame <= 16777216);
    sf__cluster_free(&c);
    REQUIRE(c.parties == NULL && c.nparties == 0);
    return 0;
}
