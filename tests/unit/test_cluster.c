/*
 * Unit test of the cluster file and party key files (mpi/prod/cluster.c): a valid file
 * with every field, defaults, every error case (status, file name and field path in the
 * message), the key file round trip (generate / load / check, permissions, mismatch,
 * no overwrite without force), special files (a FIFO, /dev/zero, a directory, a huge
 * file) refused at once by both loaders, and duplicate addresses found by what they
 * resolve to.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpi/prod/cluster.h"
#include "sfmpi/sf.h"
#include "tests/check.h"

static char pk_hex[3][65];
static uint8_t pk_bin[3][32];
static char tmpdir[256];

/* Replace PK0/PK1/PK2 with the test public keys. Returns malloc'd text. */
static char *subst(const char *tmpl)
{
    size_t cap = strlen(tmpl) * 4 + 1024, o = 0;
    char *out = malloc(cap);
    if (!out) abort();
    for (const char *p = tmpl; *p;) {
        if (p[0] == 'P' && p[1] == 'K' && p[2] >= '0' && p[2] <= '2') {
            memcpy(out + o, pk_hex[p[2] - '0'], 64);
            o += 64;
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    return out;
}

static int parse(sf_cluster *c, const char *tmpl, char *err, size_t errlen)
{
    char *text = subst(tmpl);
    int r = sf__cluster_parse(c, text, strlen(text), "cluster.json", err, errlen);
    free(text);
    return r;
}

#define P0 "{\"name\":\"alice\",\"address\":\"127.0.0.1:7001\",\"public_key\":\"PK0\"}"
#define P1 "{\"name\":\"bob\",\"address\":\"127.0.0.1:7002\",\"public_key\":\"PK1\"}"
#define P2 "{\"name\":\"carol\",\"address\":\"127.0.0.1:7003\",\"public_key\":\"PK2\"}"
#define HEAD "{\"version\":1,\"job_id\":\"job\","
#define PARTIES "\"parties\":[" P0 "," P1 "," P2 "]"
#define WITH_P1(p1) HEAD "\"parties\":[" P0 "," p1 "," P2 "]}"
#define WITH_CH(ch) HEAD PARTIES ",\"channel\":{" ch "}}"
#define PARTY1(name, addr, key) \
    "{\"name\":" name ",\"address\":" addr ",\"public_key\":" key "}"

static void test_valid(void)
{
    const char *tmpl =
        "{\n"
        "  \"version\": 1,\n"
        "  \"job_id\": \"fraud-model-2026-11\",\n"
        "  \"parties\": [\n"
        "    {\"name\": \"alice\", \"address\": \"127.0.0.1:7001\", \"public_key\": \"PK0\"},\n"
        "    {\"public_key\": \"PK1\", \"name\": \"bob\", \"address\": \"[::1]:7002\"},\n"
        "    {\"name\": \"Carol_3.x-y\", \"address\": \"Node-3.example.com:65535\", \"public_key\": \"PK2\"}\n"
        "  ],\n"
        "  \"channel\": {\"cipher\": \"aesgcm\", \"connect_timeout\": 30, \"peer_timeout\": 5.5,\n"
        "              \"heartbeat\": 0.5, \"window\": 1024, \"max_frame\": 65536}\n"
        "}\n";
    sf_cluster c;
    char err[512] = "";
    char *text = subst(tmpl);
    int r = sf__cluster_parse(&c, text, strlen(text), "cluster.json", err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "r=%d err=%s", r, err);
    if (r == 0) {
        ASSERT_EQ(c.version, 1);
        ASSERT_STR_EQ(c.job_id, "fraud-model-2026-11");
        ASSERT_EQ(c.nparties, 3);
        ASSERT_STR_EQ(c.parties[0].name, "alice");
        if (ASSERT_STR_EQ(c.parties[0].host, "127.0.0.1")) ASSERT_EQ(c.parties[0].port, 7001);
        ASSERT_MEM_EQ(c.parties[0].public_key, pk_bin[0], 32);
        ASSERT_STR_EQ(c.parties[1].name, "bob");
        if (ASSERT_STR_EQ(c.parties[1].host, "::1")) ASSERT_EQ(c.parties[1].port, 7002);
        ASSERT_MEM_EQ(c.parties[1].public_key, pk_bin[1], 32);
        ASSERT_STR_EQ(c.parties[2].name, "Carol_3.x-y");
        if (ASSERT_STR_EQ(c.parties[2].host, "Node-3.example.com")) ASSERT_EQ(c.parties[2].port, 65535);
        ASSERT_MEM_EQ(c.parties[2].public_key, pk_bin[2], 32);
        ASSERT_EQ(c.cipher, SF_NOISE_AESGCM);
        ASSERT_EQ(c.connect_timeout, 30);
        ASSERT_EQ(c.peer_timeout, 5.5);
        ASSERT_EQ(c.heartbeat, 0.5);
        ASSERT_EQ(c.window, 1024);
        ASSERT_EQ(c.max_frame, 65536);
        uint8_t h[32];
        crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
        ASSERT_MEM_EQ(h, c.file_hash, 32);
        ASSERT_STR_EQ(c.source, "cluster.json");
        ASSERT_EQ(sf__cluster_find(&c, "alice"), 0);
        ASSERT_EQ(sf__cluster_find(&c, "bob"), 1);
        ASSERT_EQ(sf__cluster_find(&c, "Carol_3.x-y"), 2);
        ASSERT_EQ(sf__cluster_find(&c, "dave"), -1);
        ASSERT_EQ(sf__cluster_find(&c, "Alice"), -1);
        sf__cluster_free(&c);
        ASSERT_NULL(c.parties);
        ASSERT_EQ(c.nparties, 0);
    }
    /* upper-case hex is accepted and decodes the same */
    {
        char upper[65];
        for (int i = 0; i < 65; i++)
            upper[i] = (char)((pk_hex[1][i] >= 'a' && pk_hex[1][i] <= 'f') ? pk_hex[1][i] - 32 : pk_hex[1][i]);
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"version\":1,\"job_id\":\"j\",\"parties\":[{\"name\":\"a\",\"address\":\"h:1\",\"public_key\":\"%s\"}]}",
                 upper);
        r = sf__cluster_parse(&c, buf, strlen(buf), "cluster.json", err, sizeof err);
        ASSERT_EQ_MSG(r, 0, "upper-case hex: %s", err);
        if (r == 0) {
            ASSERT_MEM_EQ(c.parties[0].public_key, pk_bin[1], 32);
            ASSERT_EQ(c.nparties, 1);
            sf__cluster_free(&c);
        }
    }
    /* defaults when the channel is absent */
    r = parse(&c, HEAD PARTIES "}", err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "defaults: %s", err);
    if (r == 0) {
        ASSERT_EQ(c.cipher, SF_NOISE_CHACHAPOLY);
        ASSERT_EQ(c.connect_timeout, 60);
        ASSERT_EQ(c.peer_timeout, 10);
        ASSERT_EQ(c.heartbeat, 1);
        ASSERT_EQ(c.window, 256);
        ASSERT_EQ(c.max_frame, 1048576);
        ASSERT_STR_EQ(c.job_id, "job");
        sf__cluster_free(&c);
    }
    /* partial channel: the rest keeps its defaults; an empty channel is fine */
    r = parse(&c, WITH_CH("\"window\":1,\"max_frame\":256,\"cipher\":\"chachapoly\""), err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "partial channel: %s", err);
    if (r == 0) {
        ASSERT_EQ(c.window, 1);
        ASSERT_EQ(c.max_frame, 256);
        ASSERT_EQ(c.cipher, SF_NOISE_CHACHAPOLY);
        ASSERT_EQ(c.connect_timeout, 60);
        ASSERT_EQ(c.peer_timeout, 10);
        ASSERT_EQ(c.heartbeat, 1);
        sf__cluster_free(&c);
    }
    r = parse(&c, WITH_CH("\"window\":65536,\"max_frame\":16777216,\"connect_timeout\":86400,"
                          "\"peer_timeout\":86400,\"heartbeat\":86399.5"),
              err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "upper bounds: %s", err);
    if (r == 0) {
        ASSERT_EQ(c.window, 65536);
        ASSERT_EQ(c.max_frame, 16777216);
        ASSERT_EQ(c.heartbeat, 86399.5);
        sf__cluster_free(&c);
    }
    r = parse(&c, WITH_CH(""), err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "empty channel: %s", err);
    if (r == 0) sf__cluster_free(&c);
    /* the same address with different ports, and hostnames are fine */
    r = parse(&c, WITH_P1(PARTY1("\"bob\"", "\"localhost:7002\"", "\"PK1\"")), err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "localhost: %s", err);
    if (r == 0) sf__cluster_free(&c);
    free(text);
}

struct bad {
    const char *tmpl;
    const char *want; /* substring of the message after "cluster.json: " */
};

static const struct bad bad_cases[] = {
    /* syntax */
    {"{\"version\":1,", "line 1, column"},
    {"", "line 1"},
    {"{\"version\":1,\n\"version\":1,\"job_id\":\"j\"," PARTIES "}", "line 2"},
    {HEAD PARTIES "} trailing", "line 1"},
    {"{\"version\":1,\"job_id\":\"a\\u0000b\"," PARTIES "}", "line 1"},
    /* top level */
    {"[1,2]", "expected a JSON object at the top level"},
    {"\"x\"", "expected a JSON object at the top level"},
    {HEAD PARTIES ",\"extra\":1}", "extra: unknown key"},
    {HEAD PARTIES ",\"a\\u001bb\":1}", "a\\x1bb: unknown key"},
    {HEAD PARTIES ",\"\":1}", "cluster.json: \"\": unknown key"},
    /* version */
    {"{\"job_id\":\"j\"," PARTIES "}", "version: missing"},
    {"{\"version\":2,\"job_id\":\"j\"," PARTIES "}", "version: must be 1"},
    {"{\"version\":0,\"job_id\":\"j\"," PARTIES "}", "version: must be 1"},
    {"{\"version\":\"1\",\"job_id\":\"j\"," PARTIES "}", "version: must be the integer 1"},
    {"{\"version\":1.0,\"job_id\":\"j\"," PARTIES "}", "version: must be the integer 1"},
    {"{\"version\":null,\"job_id\":\"j\"," PARTIES "}", "version:"},
    /* job_id */
    {"{\"version\":1," PARTIES "}", "job_id: missing"},
    {"{\"version\":1,\"job_id\":\"\"," PARTIES "}", "job_id: must be a non-empty string"},
    {"{\"version\":1,\"job_id\":7," PARTIES "}", "job_id: must be a non-empty string"},
    {"{\"version\":1,\"job_id\":\""
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567\"," PARTIES "}",
     "job_id: must be a non-empty string of at most 255 bytes, got 258 bytes"},
    /* parties */
    {"{\"version\":1,\"job_id\":\"j\"}", "parties: missing"},
    {HEAD "\"parties\":[]}", "parties: must be a non-empty array"},
    {HEAD "\"parties\":{}}", "parties: must be a non-empty array"},
    {HEAD "\"parties\":\"alice\"}", "parties: must be a non-empty array"},
    {WITH_P1("\"bob\""), "parties[1]: expected an object"},
    {WITH_P1("null"), "parties[1]: expected an object"},
    {WITH_P1("{\"name\":\"bob\",\"address\":\"h:1\",\"public_key\":\"PK1\",\"port\":1}"),
     "parties[1].port: unknown key"},
    {WITH_P1("{\"address\":\"h:1\",\"public_key\":\"PK1\"}"), "parties[1].name: missing"},
    {WITH_P1("{\"name\":\"bob\",\"public_key\":\"PK1\"}"), "parties[1].address: missing"},
    {WITH_P1("{\"name\":\"bob\",\"address\":\"h:1\"}"), "parties[1].public_key: missing"},
    {WITH_P1("{}"), "parties[1].name: missing"},
    /* names */
    {WITH_P1(PARTY1("\"\"", "\"h:1\"", "\"PK1\"")), "parties[1].name: must be 1..64 characters"},
    {WITH_P1(PARTY1("\"al ice\"", "\"h:1\"", "\"PK1\"")), "parties[1].name: must be 1..64 characters"},
    {WITH_P1(PARTY1("\"bob/1\"", "\"h:1\"", "\"PK1\"")), "parties[1].name: must be 1..64 characters"},
    {WITH_P1(PARTY1("\"b\\u00e9b\"", "\"h:1\"", "\"PK1\"")), "parties[1].name: must be 1..64 characters"},
    {WITH_P1(PARTY1("\"a2345678901234567890123456789012345678901234567890123456789012345\"", "\"h:1\"",
                    "\"PK1\"")),
     "parties[1].name: must be 1..64 characters"},
    {WITH_P1(PARTY1("5", "\"h:1\"", "\"PK1\"")), "parties[1].name: expected a string"},
    {WITH_P1(PARTY1("\"alice\"", "\"h:1\"", "\"PK1\"")), "parties[1].name: duplicate party name 'alice'"},
    /* addresses */
    {WITH_P1(PARTY1("\"bob\"", "\"127.0.0.1\"", "\"PK1\"")), "parties[1].address: expected \"host:port\""},
    {WITH_P1(PARTY1("\"bob\"", "\"\"", "\"PK1\"")), "parties[1].address: expected \"host:port\""},
    {WITH_P1(PARTY1("\"bob\"", "\":7001\"", "\"PK1\"")), "parties[1].address: empty host"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:\"", "\"PK1\"")), "parties[1].address: missing port"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:0\"", "\"PK1\"")), "parties[1].address: port must be"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:65536\"", "\"PK1\"")), "parties[1].address: port must be"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:123456\"", "\"PK1\"")), "parties[1].address: port must be"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:-1\"", "\"PK1\"")), "parties[1].address: port must be"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:7x\"", "\"PK1\"")), "parties[1].address: port must be"},
    {WITH_P1(PARTY1("\"bob\"", "\"::1:7001\"", "\"PK1\"")), "parties[1].address: an IPv6 address must be written in brackets"},
    {WITH_P1(PARTY1("\"bob\"", "\"[::1:7001\"", "\"PK1\"")), "parties[1].address: expected \"[IPv6]:port\""},
    {WITH_P1(PARTY1("\"bob\"", "\"[::1]7001\"", "\"PK1\"")), "parties[1].address: expected \"[IPv6]:port\""},
    {WITH_P1(PARTY1("\"bob\"", "\"[zz::1]:7001\"", "\"PK1\"")), "parties[1].address: not a valid IPv6"},
    {WITH_P1(PARTY1("\"bob\"", "\"[127.0.0.1]:7001\"", "\"PK1\"")), "parties[1].address: not a valid IPv6"},
    {WITH_P1(PARTY1("\"bob\"", "\"[]:7001\"", "\"PK1\"")), "parties[1].address: empty host"},
    {WITH_P1(PARTY1("\"bob\"", "\"256.1.1.1:7001\"", "\"PK1\"")), "parties[1].address: not a valid IPv4"},
    {WITH_P1(PARTY1("\"bob\"", "\"1.2.3:7001\"", "\"PK1\"")), "parties[1].address: not a valid IPv4"},
    {WITH_P1(PARTY1("\"bob\"", "\"bad!host:7001\"", "\"PK1\"")), "parties[1].address: not a valid host name"},
    {WITH_P1(PARTY1("\"bob\"", "\"a..b:7001\"", "\"PK1\"")), "parties[1].address: not a valid host name"},
    {WITH_P1(PARTY1("\"bob\"", "\"-a.b:7001\"", "\"PK1\"")), "parties[1].address: not a valid host name"},
    {WITH_P1(PARTY1("\"bob\"", "\"a b:7001\"", "\"PK1\"")), "parties[1].address: not a valid host name"},
    {WITH_P1(PARTY1("\"bob\"", "7001", "\"PK1\"")), "parties[1].address: expected a \"host:port\" string"},
    {WITH_P1(PARTY1("\"bob\"", "\"127.0.0.1:7001\"", "\"PK1\"")), "parties[1].address: same host:port as parties[0] ('alice')"},
    {HEAD "\"parties\":[" PARTY1("\"a\"", "\"[::1]:5\"", "\"PK0\"") "," PARTY1("\"b\"", "\"[0:0::0:1]:5\"", "\"PK1\"") "]}",
     "parties[1].address: same host:port as parties[0]"},
    {HEAD "\"parties\":[" PARTY1("\"a\"", "\"Host.Example:5\"", "\"PK0\"") "," PARTY1("\"b\"", "\"host.example:5\"", "\"PK1\"") "]}",
     "parties[1].address: same host:port as parties[0]"},
    /* public keys */
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"")),
     "parties[1].public_key: expected 64 hex characters (a 32-byte X25519 public key), got 63"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"PK1a\"")),
     "parties[1].public_key: expected 64 hex characters (a 32-byte X25519 public key), got 65"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"\"")), "parties[1].public_key: expected 64 hex characters"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\"")),
     "parties[1].public_key: expected 64 hex characters (a 32-byte X25519 public key), found 'g' at position 64"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"0000000000000000000000000000000000000000000000000000000000000000\"")),
     "parties[1].public_key: is all zeros"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"0100000000000000000000000000000000000000000000000000000000000000\"")),
     "parties[1].public_key: is a low-order point"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "42")), "parties[1].public_key: expected a string"},
    {WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"PK0\"")), "parties[1].public_key: same public key as parties[0] ('alice')"},
    /* channel */
    {HEAD PARTIES ",\"channel\":[]}", "channel: expected an object"},
    {WITH_CH("\"foo\":1"), "channel.foo: unknown key"},
    {WITH_CH("\"cipher\":\"des\""), "channel.cipher: must be \"chachapoly\" or \"aesgcm\""},
    {WITH_CH("\"cipher\":\"ChachaPoly\""), "channel.cipher: must be"},
    {WITH_CH("\"cipher\":1"), "channel.cipher: must be"},
    {WITH_CH("\"connect_timeout\":0"), "channel.connect_timeout: must be a number of seconds in (0, 86400]"},
    {WITH_CH("\"connect_timeout\":-1"), "channel.connect_timeout: must be a number"},
    {WITH_CH("\"connect_timeout\":86401"), "channel.connect_timeout: must be a number"},
    {WITH_CH("\"connect_timeout\":\"60\""), "channel.connect_timeout: must be a number"},
    {WITH_CH("\"peer_timeout\":0"), "channel.peer_timeout: must be a number"},
    {WITH_CH("\"peer_timeout\":1e300"), "channel.peer_timeout: must be a number"},
    {WITH_CH("\"heartbeat\":0"), "channel.heartbeat: must be a number"},
    {WITH_CH("\"heartbeat\":true"), "channel.heartbeat: must be a number"},
    {WITH_CH("\"heartbeat\":10,\"peer_timeout\":10"), "channel.heartbeat: must be less than channel.peer_timeout"},
    {WITH_CH("\"heartbeat\":11"), "channel.heartbeat: must be less than channel.peer_timeout (10, the default)"},
    {WITH_CH("\"peer_timeout\":0.5"), "channel.peer_timeout: must be greater than channel.heartbeat"},
    {WITH_CH("\"window\":0"), "channel.window: must be an integer in 1..65536"},
    {WITH_CH("\"window\":65537"), "channel.window: must be an integer in 1..65536"},
    {WITH_CH("\"window\":1.5"), "channel.window: must be an integer in 1..65536"},
    {WITH_CH("\"window\":256.0"), "channel.window: must be an integer in 1..65536"},
    {WITH_CH("\"window\":-9223372036854775808"), "channel.window: must be an integer in 1..65536"},
    {WITH_CH("\"max_frame\":255"), "channel.max_frame: must be an integer in 256..16777216"},
    {WITH_CH("\"max_frame\":16777217"), "channel.max_frame: must be an integer in 256..16777216"},
    {WITH_CH("\"max_frame\":\"1M\""), "channel.max_frame: must be an integer"},
    {WITH_CH("\"max_frame\":99999999999999999999"), "line 1"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        sf_cluster c;
        memset(&c, 0x5a, sizeof c);
        char err[512] = "";
        int r = parse(&c, bad_cases[i].tmpl, err, sizeof err);
        ASSERT_STATUS_MSG(r, SF_EUSAGE, "case %zu (%s): r=%d err=%s", i, bad_cases[i].want, r, err); if (getenv("SHOW_ERRORS")) printf("%s\n", err);
        ASSERT_EQ_MSG(strncmp(err, "cluster.json: ", 14), 0, "case %zu: no file name: %s", i, err);
        ASSERT_STR_CONTAINS_MSG(err, bad_cases[i].want, "case %zu: want \"%s\" in: %s", i,
                                bad_cases[i].want, err);
        ASSERT_MSG(c.parties == NULL && c.nparties == 0, "case %zu: cluster not left empty", i);
        if (r == 0) sf__cluster_free(&c);
    }
    /* the exact messages from the documentation */
    sf_cluster c;
    char err[512];
    parse(&c, WITH_P1(PARTY1("\"bob\"", "\"h:1\"", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"")),
          err, sizeof err);
    ASSERT_STR_EQ_MSG(err, "cluster.json: parties[1].public_key: expected 64 hex characters (a 32-byte "
                                  "X25519 public key), got 63", "%s", err);
    parse(&c, WITH_CH("\"window\":0"), err, sizeof err);
    ASSERT_STR_EQ_MSG(err, "cluster.json: channel.window: must be an integer in 1..65536, got 0", "%s",
                      err);
    /* a name passed to parse shows up in the message; a small error buffer truncates safely */
    const char *t = "{\"version\":3}";
    int r = sf__cluster_parse(&c, t, strlen(t), "/etc/sfmpi/prod.json", err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, "/etc/sfmpi/prod.json: version:") == err, "%s", err);
    char small[8];
    r = sf__cluster_parse(&c, t, strlen(t), "cluster.json", small, sizeof small);
    if (ASSERT_STATUS(r, SF_EUSAGE)) ASSERT_EQ(strlen(small), 7);
    r = sf__cluster_parse(&c, t, strlen(t), "cluster.json", NULL, 0);
    ASSERT_STATUS(r, SF_EUSAGE);
    /* a file bigger than 1 MiB is refused */
    size_t big = 1024 * 1024 + 16;
    char *buf = malloc(big);
    if (buf) {
        memset(buf, ' ', big);
        buf[0] = '{';
        buf[big - 1] = '}';
        r = sf__cluster_parse(&c, buf, big, "cluster.json", err, sizeof err);
        ASSERT_MSG(r == SF_EUSAGE && strstr(err, "cluster.json: ") && strstr(err, "1 MiB"), "%s", err);
        free(buf);
    }
}

static char *path_in(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    ok &= fchmod(fd, mode) == 0;
    ok &= close(fd) == 0;
    return ok ? 0 : -1;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 8192);
    if (b) {
        size_t n = fread(b, 1, 8191, f);
        b[n] = 0;
    }
    fclose(f);
    return b;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_load(void)
{
    sf_cluster c;
    char err[512];
    char *text = subst(HEAD PARTIES "}");
    const char *p = path_in("cluster.json");
    ASSERT_EQ(write_text(p, text, 0644), 0);
    int r = sf__cluster_load(&c, p, err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s", err);
    if (r == 0) {
        if (ASSERT_EQ(c.nparties, 3)) ASSERT_STR_EQ(c.source, p);
        uint8_t h[32];
        crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
        ASSERT_MEM_EQ(h, c.file_hash, 32);
        sf__cluster_free(&c);
    }
    free(text);

    /* errors name the path */
    const char *bad = path_in("bad.json");
    ASSERT_EQ(write_text(bad, "{\"version\":1,\"job_id\":\"j\",\"parties\":[]}", 0644), 0);
    r = sf__cluster_load(&c, bad, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, bad) == err && strstr(err, ": parties: "), "%s", err);
    ASSERT_NULL(c.parties);
    unlink(bad);

    const char *missing = path_in("missing.json");
    r = sf__cluster_load(&c, missing, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, missing) && strstr(err, strerror(ENOENT)), "%s", err);

    r = sf__cluster_load(&c, tmpdir, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, tmpdir), "%s", err);

    const char *big = path_in("big.json");
    FILE *f = fopen(big, "w");
    ASSERT_NOT_NULL(f);
    if (f) {
        fputc('{', f);
        for (int i = 0; i < 1024 * 1024; i++) fputc(' ', f);
        fputc('}', f);
        fclose(f);
        r = sf__cluster_load(&c, big, err, sizeof err);
        ASSERT_MSG(r == SF_EUSAGE && strstr(err, big) && strstr(err, "too large"), "%s", err);
        unlink(big);
    }
    unlink(p);
}

static void test_keys(void)
{
    char err[512], pub[65], pub2[65];
    const char *kp = path_in("alice.key");
    int before = count_entries(tmpdir);

    int r = sf__party_key_generate("alice", kp, 0, pub, err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s", err);
    ASSERT_EQ(strlen(pub), 64);
    struct stat st;
    if (ASSERT_EQ(stat(kp, &st), 0)) ASSERT_EQ((st.st_mode & 07777), 0600);
    ASSERT_EQ(count_entries(tmpdir), before + 1); /* no temp file left behind */

    sf_party_key k;
    r = sf__party_key_load(&k, kp, err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s", err);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, k.public_key, 32);
    ASSERT_STR_EQ(hex, pub);
    ASSERT_STR_EQ(k.party, "alice");
    uint8_t derived[32];
    crypto_scalarmult_base(derived, k.secret_key);
    ASSERT_MEM_EQ(derived, k.public_key, 32);

    /* check against a cluster whose alice entry has this key */
    memcpy(pk_hex[0], pub, 65);
    sf_cluster c;
    r = parse(&c, HEAD PARTIES "}", err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s", err);
    if (r == 0) {
        r = sf__party_key_check(&k, &c, 0, kp, err, sizeof err);
        ASSERT_EQ_MSG(r, 0, "%s", err);
        r = sf__party_key_check(&k, &c, 1, kp, err, sizeof err);
        ASSERT_MSG(r == SF_EUSAGE && strstr(err, kp) == err && strstr(err, "'alice'") && strstr(err, "'bob'"),
                   "%s", err);
        r = sf__party_key_check(&k, &c, 7, kp, err, sizeof err);
        ASSERT_STATUS(r, SF_EUSAGE);
        sf__cluster_free(&c);
    }
    /* a cluster with a different key for alice */
    memcpy(pk_hex[0], pk_hex[2], 65);
    pk_hex[0][0] = pk_hex[0][0] == 'f' ? '0' : 'f';
    r = parse(&c, HEAD PARTIES "}", err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s", err);
    if (r == 0) {
        r = sf__party_key_check(&k, &c, 0, kp, err, sizeof err);
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: public key does not match parties[0].public_key for party 'alice' in cluster.json", kp);
        ASSERT_MSG(r == SF_EUSAGE && strcmp(err, want) == 0, "%s", err);
        sf__cluster_free(&c);
    }
    sf__party_key_wipe(&k);
    if (ASSERT(sodium_is_zero(k.secret_key, 32))) ASSERT_EQ(k.party[0], 0);

    /* no overwrite without force; the file is unchanged */
    char *orig = read_text(kp);
    r = sf__party_key_generate("alice", kp, 0, pub2, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, kp) == err && strstr(err, "already exists"), "%s", err);
    char *now = read_text(kp);
    if (ASSERT(orig) && ASSERT(now)) ASSERT_STR_EQ(orig, now);
    free(now);
    ASSERT_EQ(count_entries(tmpdir), before + 1);
    /* with force: a new key replaces it */
    r = sf__party_key_generate("alice", kp, 1, pub2, err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s", err);
    ASSERT_STR_NE(pub, pub2);
    if (ASSERT_EQ(stat(kp, &st), 0)) ASSERT_EQ((st.st_mode & 07777), 0600);
    ASSERT_EQ(count_entries(tmpdir), before + 1);
    r = sf__party_key_load(&k, kp, err, sizeof err);
    sodium_bin2hex(hex, sizeof hex, k.public_key, 32);
    ASSERT_MSG(r == 0 && strcmp(hex, pub2) == 0, "%s", err);
    sf__party_key_wipe(&k);

    /* a bad party name is refused, nothing written */
    r = sf__party_key_generate("bad name", path_in("bad.key"), 0, pub2, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && access(path_in("bad.key"), F_OK) != 0, "%s", err);
    /* a directory that does not exist */
    r = sf__party_key_generate("alice", path_in("nodir/x.key"), 0, pub2, err, sizeof err);
    ASSERT_MSG(r != 0 && strstr(err, "nodir/x.key"), "%s", err);

    /* 0644 is refused, with the chmod hint */
    ASSERT_EQ(chmod(kp, 0644), 0);
    r = sf__party_key_load(&k, kp, err, sizeof err);
    char want[1200];
    snprintf(want, sizeof want, "%s: key file is readable by others (mode 0644); chmod 600 %s", kp, kp);
    ASSERT_MSG(r == SF_EUSAGE && strcmp(err, want) == 0, "%s", err);
    ASSERT(sodium_is_zero(k.secret_key, 32));
    ASSERT_EQ(chmod(kp, 0640), 0);
    r = sf__party_key_load(&k, kp, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, "mode 0640"), "%s", err);
    ASSERT_EQ(chmod(kp, 0620), 0);
    r = sf__party_key_load(&k, kp, err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, "mode 0620") && strstr(err, "chmod 600"), "%s", err);
    ASSERT_EQ(chmod(kp, 0400), 0);
    r = sf__party_key_load(&k, kp, err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "0400 is fine: %s", err);
    sf__party_key_wipe(&k);

    /* hand-written key files */
    uint8_t sk[32], pk[32];
    char skh[65], pkh[65], body[512];
    memset(sk, 7, sizeof sk);
    crypto_scalarmult_base(pk, sk);
    sodium_bin2hex(skh, sizeof skh, sk, 32);
    sodium_bin2hex(pkh, sizeof pkh, pk, 32);
    const char *hp = path_in("hand.key");
    snprintf(body, sizeof body, "{\"party\":\"bob\",\"secret_key\":\"%s\",\"public_key\":\"%s\"}", skh, pkh);
    ASSERT_EQ(write_text(hp, body, 0600), 0);
    r = sf__party_key_load(&k, hp, err, sizeof err);
    ASSERT_MSG(r == 0 && strcmp(k.party, "bob") == 0 && memcmp(k.secret_key, sk, 32) == 0, "%s", err);
    sf__party_key_wipe(&k);

    struct {
        const char *fmt; /* %s = secret hex, %s = public hex */
        const char *want;
    } badk[] = {
        {"{\"party\":\"bob\",\"secret_key\":\"%s\",\"public_key\":\"%.63s0\"}", "public_key: does not match secret_key"},
        {"{\"party\":\"bob\",\"secret_key\":\"%.62s\",\"public_key\":\"%s\"}", "secret_key: expected 64 hex characters (a 32-byte X25519 secret key), got 62"},
        {"{\"party\":\"bob\",\"secret_key\":\"%.63sx\",\"public_key\":\"%s\"}", "secret_key: expected 64 hex"},
        {"{\"party\":\"bob\",\"secret_key\":\"%s\",\"public_key\":\"%s\",\"x\":1}", "x: unknown key"},
        {"{\"party\":\"bob\",\"secret_key\":\"%s\"%.0s}", "public_key: missing"},
        {"{\"party\":\"b b\",\"secret_key\":\"%s\",\"public_key\":\"%s\"}", "party: must be 1..64"},
        {"{\"secret_key\":\"%s\",\"public_key\":\"%s\"}", "party: missing"},
        {"[\"%s\",\"%s\"]", "expected a JSON object"},
        {"{\"party\":\"bob\",\"secret_key\":\"%s\",\"public_key\":\"%s\"", "line 1"},
        {"{\"party\":\"bob\",\"party\":\"bob\",\"secret_key\":\"%s\",\"public_key\":\"%s\"}", "duplicate"},
    };
    for (size_t i = 0; i < sizeof badk / sizeof badk[0]; i++) {
        snprintf(body, sizeof body, badk[i].fmt, skh, pkh);
        ASSERT_EQ(write_text(hp, body, 0600), 0);
        r = sf__party_key_load(&k, hp, err, sizeof err);
        ASSERT_MSG(r == SF_EUSAGE && strstr(err, hp) == err && strstr(err, badk[i].want), "key case %zu: want %s in: %s",
                   i, badk[i].want, err);
        if (ASSERT(sodium_is_zero(k.secret_key, 32))) ASSERT(sodium_is_zero(k.public_key, 32));
    }
    r = sf__party_key_load(&k, path_in("none.key"), err, sizeof err);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, "none.key") && strstr(err, strerror(ENOENT)), "%s", err);

    unlink(hp);
    unlink(kp);
    free(orig);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(skh, sizeof skh);
}

/* ---------------------------------------------------------------- resolved addresses */

/* 1 if host resolves (getaddrinfo, TCP) to the numeric address want. */
static int resolves_to(const char *host, const char *want)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, "7001", &hints, &res) != 0) return 0;
    int found = 0;
    for (struct addrinfo *a = res; a && !found; a = a->ai_next) {
        char buf[INET6_ADDRSTRLEN] = "";
        const void *bin = a->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        found = inet_ntop(a->ai_family, bin, buf, sizeof buf) && strcmp(buf, want) == 0;
    }
    freeaddrinfo(res);
    return found;
}

/* Load tmpl (PK0.. substituted) from a file: sf__cluster_load resolves the addresses,
 * sf__cluster_parse does not (it must accept what only resolving refuses). */
static int load_text(const char *tmpl, const char *path, char *err, size_t errlen)
{
    char *text = subst(tmpl);
    sf_cluster c;
    char perr[512] = "";
    int r = sf__cluster_parse(&c, text, strlen(text), "cluster.json", perr, sizeof perr);
    ASSERT_EQ_MSG(r, 0, "parse (no resolving) of %s: %s", text, perr);
    if (r == 0) sf__cluster_free(&c);
    ASSERT_EQ(write_text(path, text, 0644), 0);
    free(text);
    r = sf__cluster_load(&c, path, err, errlen);
    if (r == 0) sf__cluster_free(&c);
    ASSERT_NULL(c.parties);
    ASSERT_EQ(c.nparties, 0);
    unlink(path);
    return r;
}

/* alice at alice_addr, bob at bob_addr (carol at 127.0.0.1:7003) name one endpoint in other
 * words: refused, naming both parties and the address they share. */
static void same_endpoint(const char *alice_addr, const char *bob_addr, const char *shared)
{
    char tmpl[1024], err[512] = "", want[600];
    snprintf(tmpl, sizeof tmpl,
             HEAD "\"parties\":[" PARTY1("\"alice\"", "\"%s\"", "\"PK0\"") ","
                  PARTY1("\"bob\"", "\"%s\"", "\"PK1\"") "," P2 "]}",
             alice_addr, bob_addr);
    const char *path = path_in("dup.json");
    int r = load_text(tmpl, path, err, sizeof err);
    snprintf(want, sizeof want, "%s: parties[1].address: ", path);
    ASSERT_MSG(r == SF_EUSAGE && strstr(err, want) == err && strstr(err, "'bob'") &&
                   strstr(err, "parties[0] ('alice'") && strstr(err, shared),
               "alice %s, bob %s: r=%d, want a duplicate at %s: %s", alice_addr, bob_addr, r, shared,
               err);
}

static void loads(const char *tmpl, const char *what)
{
    char err[512] = "";
    int r = load_text(tmpl, path_in("ok.json"), err, sizeof err);
    ASSERT_EQ_MSG(r, 0, "%s: %s", what, err);
}

static void test_resolved_duplicates(void)
{
    /* numeric forms getaddrinfo reads (inet_aton), no name service involved */
    same_endpoint("127.0.0.1:7001", "0x7f.0.0.1:7001", "127.0.0.1:7001");
    same_endpoint("127.0.0.1:7001", "0x7f000001:7001", "127.0.0.1:7001");
    /* an IPv4-mapped IPv6 address is the IPv4 address */
    same_endpoint("127.0.0.1:7001", "[::ffff:127.0.0.1]:7001", "127.0.0.1:7001");
    same_endpoint("[::ffff:7f00:1]:7001", "127.0.0.1:7001", "127.0.0.1:7001");
    /* names, where this machine resolves them so */
    if (resolves_to("localhost", "127.0.0.1")) {
        same_endpoint("127.0.0.1:7001", "localhost:7001", "127.0.0.1:7001");
        same_endpoint("localhost:7001", "127.0.0.1:7001", "127.0.0.1:7001");
    } else {
        printf("note: localhost does not resolve to 127.0.0.1 here; that case skipped\n");
    }
    if (resolves_to("ip6-localhost", "::1"))
        same_endpoint("[::1]:7001", "ip6-localhost:7001", "[::1]:7001");
    else
        printf("note: ip6-localhost does not resolve to ::1 here; that case skipped\n");
    /* leading zeros are not an IPv4 address at all (refused before any resolving) */
    {
        char err[512] = "";
        sf_cluster c;
        int r = parse(&c, WITH_P1(PARTY1("\"bob\"", "\"127.000.000.001:7001\"", "\"PK1\"")), err,
                      sizeof err);
        ASSERT_MSG(r == SF_EUSAGE && strstr(err, "parties[1].address: not a valid IPv4"), "%s", err);
    }
    /* the same host on other ports is fine */
    loads(WITH_P1(PARTY1("\"bob\"", "\"0x7f.0.0.1:7002\"", "\"PK1\"")), "0x7f.0.0.1:7002");
    loads(WITH_P1(PARTY1("\"bob\"", "\"[::ffff:127.0.0.1]:7002\"", "\"PK1\"")), "mapped, 7002");
    /* names that do not resolve here (remote hosts of a production cluster) are not an
     * error, and are compared by their text only */
    loads(HEAD "\"parties\":[" P0 ","
               "{\"name\":\"bob\",\"address\":\"bob.invalid:7001\",\"public_key\":\"PK1\"},"
               "{\"name\":\"carol\",\"address\":\"carol.invalid:7001\",\"public_key\":\"PK2\"}]}",
          "unresolvable names");
}

/* ---------------------------------------------------------------- special files */

/* Every load below must return at once: a hang (open() of a FIFO nobody writes blocks
 * for ever) ends the test after SPECIAL_LIMIT seconds with a message, not at ctest's
 * timeout. */
#define SPECIAL_LIMIT 10
static const char *special_what = "";

static void special_hung(int sig)
{
    (void)sig;
    static const char msg[] = "test_cluster: hung loading a special file (more than 10 s): ";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    if (write(2, special_what, strlen(special_what)) < 0) _exit(1);
    if (write(2, "\n", 1) < 0) _exit(1);
    _exit(1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Load path as a cluster file (key == 0) or a key file: SF_EUSAGE within 2 s, with an error
 * that starts with the path and contains want. */
static void refused(const char *path, int key, const char *want)
{
    char err[1024] = "";
    special_what = path;
    double t0 = now_s();
    int r;
    if (key) {
        sf_party_key k;
        r = sf__party_key_load(&k, path, err, sizeof err);
        ASSERT(sodium_is_zero(k.secret_key, 32));
    } else {
        sf_cluster c;
        r = sf__cluster_load(&c, path, err, sizeof err);
        ASSERT_NULL(c.parties);
        ASSERT_EQ(c.nparties, 0);
    }
    double dt = now_s() - t0;
    ASSERT_MSG(r == SF_EUSAGE && strncmp(err, path, strlen(path)) == 0 && strstr(err, want),
               "%s file %s: r=%d, want \"%s\" in: %s", key ? "key" : "cluster", path, r, want, err);
    ASSERT_LT_MSG(dt, 2.0, "%s file %s: took %.1f s", key ? "key" : "cluster", path, dt);
}

static void test_special_files(void)
{
    signal(SIGALRM, special_hung);
    alarm(SPECIAL_LIMIT);
    /* a FIFO nobody writes to */
    const char *fifo = path_in("cluster.fifo");
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    refused(fifo, 0, ": is a FIFO, not a regular file");
    refused(fifo, 1, ": is a FIFO, not a regular file");
    unlink(fifo);
    /* a character device that never ends */
    refused("/dev/zero", 0, ": is a character device, not a regular file");
    refused("/dev/zero", 1, ": is a character device, not a regular file");
    /* a directory */
    refused(tmpdir, 0, ": is a directory, not a regular file");
    refused(tmpdir, 1, ": is a directory, not a regular file");
    /* a (sparse) 4 GiB file is refused by its size, before anything is read */
    const char *huge = path_in("huge.json");
    int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    if (fd >= 0) {
        ASSERT_EQ(ftruncate(fd, (off_t)4 << 30), 0);
        close(fd);
        refused(huge, 0, ": file is too large for a cluster file (4294967296 bytes; at most 1048576)");
        refused(huge, 1, ": file is too large for a key file (4294967296 bytes; at most 4096)");
        unlink(huge);
    }
    alarm(0);
    signal(SIGALRM, SIG_DFL);
}

/* Run the sfmpi-keygen binary (argv[1] of this test, when given): exit code, stdout. */
static int run_tool(char *const argv[], char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, cap - 1 - len)) > 0) len += (size_t)n;
    out[len] = 0;
    close(fds[0]);
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_keygen_tool(const char *tool)
{
    char out[1024], out2[1024];
    char *kp = path_in("tool.key");
    char *gen[] = {(char *)tool, "--party", "carol", "--out", kp, NULL};
    int r = run_tool(gen, out, sizeof out);
    ASSERT_MSG(r == 0 && strlen(out) == 65 && out[64] == '\n', "keygen: rc=%d out=%s", r, out);
    struct stat st;
    if (ASSERT_EQ(stat(kp, &st), 0)) ASSERT_EQ((st.st_mode & 07777), 0600);
    char *orig = read_text(kp);
    r = run_tool(gen, out2, sizeof out2);
    ASSERT_MSG(r == 1 && out2[0] == 0, "keygen over an existing file: rc=%d", r);
    char *now = read_text(kp);
    if (ASSERT(orig) && ASSERT(now)) ASSERT_STR_EQ(orig, now);
    free(now);
    char *show[] = {(char *)tool, "--show", kp, NULL};
    r = run_tool(show, out2, sizeof out2);
    ASSERT_MSG(r == 0 && strcmp(out, out2) == 0, "keygen --show: rc=%d out=%s", r, out2);
    char *gen_force[] = {(char *)tool, "--party", "carol", "--out", kp, "--force", NULL};
    r = run_tool(gen_force, out2, sizeof out2);
    ASSERT_MSG(r == 0 && strlen(out2) == 65 && strcmp(out, out2) != 0, "keygen --force: rc=%d", r);
    char *bad1[] = {(char *)tool, "--party", "carol", NULL};
    char *bad2[] = {(char *)tool, "--bogus", NULL};
    char *bad3[] = {(char *)tool, "--party", "no good", "--out", kp, NULL};
    char *bad4[] = {(char *)tool, "--show", kp, "--party", "x", NULL};
    ASSERT_EQ(run_tool(bad1, out2, sizeof out2), 2);
    ASSERT_EQ(run_tool(bad2, out2, sizeof out2), 2);
    ASSERT_EQ(run_tool(bad3, out2, sizeof out2), 2);
    ASSERT_EQ(run_tool(bad4, out2, sizeof out2), 2);
    ASSERT_EQ(chmod(kp, 0644), 0);
    ASSERT_EQ(run_tool(show, out2, sizeof out2), 1);
    free(orig);
    unlink(kp);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        uint8_t sk[32];
        memset(sk, 0x11 * (i + 1), sizeof sk);
        crypto_scalarmult_base(pk_bin[i], sk);
        sodium_bin2hex(pk_hex[i], sizeof pk_hex[i], pk_bin[i], 32);
    }
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sfmpi_test_cluster_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_errors();
    test_load();
    test_keys();
    test_special_files();
    test_resolved_duplicates();
    if (argc > 1 && argv[1][0]) test_keygen_tool(argv[1]);
    int left = count_entries(tmpdir);
    ASSERT_EQ_MSG(left, 0, "%d file(s) left in %s", left, tmpdir);
    if (rmdir(tmpdir) != 0) perror("rmdir");
    TEST_DONE();
}
