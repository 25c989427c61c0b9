/*
 * bigtransfer: moves a lot of data from alice to bob and checks that every byte arrived.
 *
 *   bigtransfer [TOTAL] --sf-mode=prod --sf-party=... --sf-cluster=... --sf-key=...
 *
 * TOTAL (bytes, suffix k/K, m/M or g/G for KiB/MiB/GiB; default 256M, at least 64) is
 * split as one object of TOTAL/2 bytes plus 32 objects sharing the rest (with the default:
 * 128 MiB + 32 x 4 MiB). Alice generates each object from a deterministic generator; the
 * object moves to bob as the argument of a digest task; alice computes the same digest of
 * her copy; both digests are revealed (sf_get) and compared. Any lost, duplicated or
 * corrupted byte changes bob's digest (and a lost or duplicated message would also trip
 * the runtime's divergence checks).
 *
 * Prints (sf_print) "transfer ok: <bytes> bytes in <n> objects, digests match", or fails
 * (exit 1 on every party) naming the first object whose digests differ.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

#define NSMALL 32

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* gen(n, seed) -> uint8[n] of deterministic pseudo-random bytes. */
static int gen(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0), seed = sf_arg_i64(t, 1);
    sf_value *v = sf_value_new(SF_U8, 1, (int64_t[]){n});
    if (!v) return sf_fail(t, "out of memory for %" PRId64 " bytes", n);
    uint8_t *p = sf_value_data(v);
    uint64_t s = (uint64_t)seed * 0xD1B54A32D192ED03ULL;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = splitmix(&s);
        memcpy(p + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = splitmix(&s);
        memcpy(p + i, &w, (size_t)(n - i));
    }
    return sf_return(t, 0, v);
}

/* digest(bytes) -> uint64[2] {64-bit digest, byte count}: position-sensitive (a swapped,
 * lost or repeated 8-byte word changes it). */
static int digest(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    if (!v) return sf_fail(t, "no argument");
    const uint8_t *p = sf_value_cdata(v);
    size_t n = sf_value_nbytes(v), i = 0;
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    sf_value *r = sf_value_new(SF_U64, 1, (int64_t[]){2});
    if (!r) return sf_fail(t, "out of memory");
    uint64_t *o = sf_value_data(r);
    o[0] = h;
    o[1] = (uint64_t)n;
    return sf_return(t, 0, r);
}

static int parse_size(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K') mul = 1ULL << 10, end++;
    else if (*end == 'm' || *end == 'M') mul = 1ULL << 20, end++;
    else if (*end == 'g' || *end == 'G') mul = 1ULL << 30, end++;
    if (*end || x > (1ULL << 40) / mul) return -1;
    *out = (uint64_t)x * mul;
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    uint64_t total = 256ULL << 20;
    if (sf_argc(sf) > 1 && (parse_size(sf_argv(sf)[1], &total) || total < 64)) {
        fprintf(stderr, "bigtransfer: bad size '%s' (bytes, optional k/M/G suffix, at least 64)\n",
                sf_argv(sf)[1]);
        return SF_EUSAGE;
    }
    sf_device alice = sf_pyu(sf, "alice"), bob = sf_pyu(sf, "bob");
    const int nobj = 1 + NSMALL;
    uint64_t big = total / 2, rest = total - big, moved = 0;
    for (int i = 0; i < nobj; i++) {
        uint64_t size = i == 0 ? big : rest / NSMALL + ((uint64_t)(i - 1) < rest % NSMALL);
        sf_obj data = SF_REMOTE(alice, gen, SF_I64((int64_t)size), SF_I64(i + 1));
        sf_obj da = SF_REMOTE(alice, digest, SF_OBJ(data));
        sf_obj db = SF_REMOTE(bob, digest, SF_OBJ(data)); /* data moves to bob */
        sf_release(data);
        sf_value *va, *vb;
        SF_TRY(sf_get(sf, da, &va));
        SF_TRY(sf_get(sf, db, &vb));
        const uint64_t *a = sf_value_cdata(va), *b = sf_value_cdata(vb);
        char what[160];
        snprintf(what, sizeof what, "bigtransfer: [%s] object %d of %d (%s, %" PRIu64 " bytes)",
                 sf_party_name(sf), i, nobj, i == 0 ? "the big object" : "a small object", size);
        if (!ASSERT_EQ_MSG(b[0], a[0], "%s: bob's digest differs from alice's", what) ||
            !ASSERT_EQ_MSG(b[1], a[1], "%s: bob's byte count differs from alice's", what) ||
            !ASSERT_EQ_MSG(a[1], size, "%s: alice's byte count", what))
            return 1;
        moved += size;
        sf_release(da);
        sf_release(db);
    }
    sf_print(sf, "transfer ok: %" PRIu64 " bytes in %d objects, digests match\n", moved, nobj);
    return 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 2};
    return sf_run(&cfg, program, NULL);
}
