/*
 * The production cluster file and party key files (see cluster.h for the formats).
 *
 * Every message has the form "<file>: <field path>: <what is wrong>". Values echoed
 * back from the file are escaped and truncated so a hostile file cannot inject
 * terminal control characters or overflow the message.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpi/prod/cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfmpi/sf.h"

#define CLUSTER_MAX_BYTES (1024 * 1024)
#define KEYFILE_MAX_BYTES 4096

/* ---------------------------------------------------------------- messages */

typedef struct ectx {
    const char *file;
    char *err;
    size_t errlen;
} ectx;

static void set_err(char *err, size_t errlen, const char *fmt, ...) SF_PRINTF(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "<file>: <path>: <msg>"; path may be NULL or "" for whole-file problems. */
static int fail(ectx *e, const char *path, const char *fmt, ...) SF_PRINTF(3, 4);
static int fail(ectx *e, const char *path, const char *fmt, ...)
{
    if (!e->err || e->errlen == 0) return SF_EUSAGE;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(e->err, e->errlen, "%s: %s: %s", e->file, path, msg);
    else
        snprintf(e->err, e->errlen, "%s: %s", e->file, msg);
    return SF_EUSAGE;
}

/* A printable, quoted, truncated rendering of (s, len) for messages. */
static const char *show(char *buf, size_t cap, const char *s, size_t len)
{
    size_t o = 0;
    const size_t limit = 48;
    if (cap < 16) {
        if (cap) buf[0] = 0;
        return buf;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i >= limit || o + 8 >= cap) {
            o += (size_t)snprintf(buf + o, cap - o, "...");
            break;
        }
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (o + 2 <= cap) {
        buf[o++] = '"';
        buf[o] = 0;
    } else {
        buf[cap - 1] = 0;
    }
    return buf;
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

/* A key as a path component (escaped, truncated, without quotes). */
static void key_component(char *buf, size_t cap, const char *key)
{
    char tmp[128];
    if (!*key) {
        snprintf(buf, cap, "\"\"");
        return;
    }
    show(tmp, sizeof tmp, key, strlen(key));
    size_t n = strlen(tmp);
    if (n >= 2) {
        tmp[n - 1] = 0; /* drop the quotes */
        snprintf(buf, cap, "%s", tmp + 1);
    } else {
        snprintf(buf, cap, "%s", tmp);
    }
}

static int check_keys(ectx *e, const char *prefix, json_t *obj, const char *const *allowed,
                      const char *allowed_text)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(key, *a) == 0) ok = 1;
        if (!ok) {
            char k[128], path[192];
            key_component(k, sizeof k, key);
            if (prefix && *prefix)
                snprintf(path, sizeof path, "%s.%s", prefix, k);
            else
                snprintf(path, sizeof path, "%s", k);
            return fail(e, path, "unknown key (expected %s)", allowed_text);
        }
    }
    return 0;
}

static int syntax_error(ectx *e, const json_error_t *je)
{
    if (e->err && e->errlen)
        snprintf(e->err, e->errlen, "%s: line %d, column %d: %s", e->file, je->line, je->column,
                 je->text);
    return SF_EUSAGE;
}

/* ---------------------------------------------------------------- small checks */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decode a 32-byte key from a JSON string value; `what` is "public" or "secret". */
static int decode_key(ectx *e, const char *path, json_t *v, const char *what, uint8_t out[32])
{
    if (!v) return fail(e, path, "missing (required)");
    if (!json_is_string(v))
        return fail(e, path, "expected a string of 64 hex characters (a 32-byte X25519 %s key), got %s",
                    what, jtype(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len != 64)
        return fail(e, path, "expected 64 hex characters (a 32-byte X25519 %s key), got %zu", what,
                    len);
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            size_t pos = hi < 0 ? 2 * i : 2 * i + 1;
            unsigned char ch = (unsigned char)s[pos];
            sodium_memzero(out, 32);
            if (ch >= 0x20 && ch < 0x7f)
                return fail(e, path, "expected 64 hex characters (a 32-byte X25519 %s key), found '%c' at position %zu",
                            what, ch, pos + 1);
            return fail(e, path, "expected 64 hex characters (a 32-byte X25519 %s key), found byte 0x%02x at position %zu",
                        what, ch, pos + 1);
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* A usable X25519 public key: not all-zero and not a low-order point (a DH with it would
 * give the all-zero shared secret whatever our key is). */
static int check_public_key(ectx *e, const char *path, const uint8_t pk[32])
{
    if (sodium_is_zero(pk, 32)) return fail(e, path, "is all zeros (not a valid public key)");
    static const uint8_t probe[32] = {0x4d, 0x1a, 0x6f, 0x22, 0x93, 0x5e, 0x01, 0x7c,
                                      0xb2, 0x8e, 0x3d, 0x55, 0xc4, 0x19, 0xaa, 0x60,
                                      0x0f, 0x77, 0xe1, 0x2b, 0x48, 0x95, 0xd3, 0x06,
                                      0x31, 0xbc, 0x5a, 0x84, 0x9f, 0xc7, 0x2e, 0x13};
    uint8_t q[32];
    int r = crypto_scalarmult(q, probe, pk);
    sodium_memzero(q, sizeof q);
    if (r != 0) return fail(e, path, "is a low-order point (not a valid X25519 public key)");
    return 0;
}

static int valid_name(const char *s, size_t len)
{
    if (len < 1 || len > SF_PARTY_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

static int check_name(ectx *e, const char *path, json_t *v)
{
    if (!v) return fail(e, path, "missing (required)");
    if (!json_is_string(v)) return fail(e, path, "expected a string, got %s", jtype(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!valid_name(s, len)) {
        char q[160];
        return fail(e, path, "must be 1..%d characters of [A-Za-z0-9_.-], got %s (%zu characters)",
                    SF_PARTY_NAME_MAX, show(q, sizeof q, s, len), len);
    }
    return 0;
}

static int is_hostname(const char *h, size_t len)
{
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch == '.') {
            if (label == 0 || h[i - 1] == '-') return 0;
            label = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 0;
        if (label == 0 && ch == '-') return 0;
        if (++label > 63) return 0;
    }
    return label > 0 && h[len - 1] != '-';
}

/* Parse "host:port" / "[v6]:port". Fills host, port and a canonical "host:port" key used to
 * find duplicates (lower-cased hostname, normalised IPv6). */
static int parse_address(ectx *e, const char *path, json_t *v, char host[256], int *port,
                         char canon[300])
{
    if (!v) return fail(e, path, "missing (required)");
    if (!json_is_string(v)) return fail(e, path, "expected a \"host:port\" string, got %s", jtype(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    char q[160];
    show(q, sizeof q, s, len);
    if (len == 0) return fail(e, path, "expected \"host:port\", got an empty string");
    if (len > 300) return fail(e, path, "too long (%zu characters; the host may have at most 255)", len);

    const char *h, *colon;
    size_t hlen;
    int v6 = 0;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return fail(e, path, "expected \"[IPv6]:port\", missing ']' in %s", q);
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (colon >= s + len || *colon != ':')
            return fail(e, path, "expected \"[IPv6]:port\", missing ':port' after ']' in %s", q);
        v6 = 1;
    } else {
        colon = NULL;
        for (size_t i = len; i-- > 0;)
            if (s[i] == ':') {
                colon = s + i;
                break;
            }
        if (!colon) return fail(e, path, "expected \"host:port\", missing ':port' in %s", q);
        h = s;
        hlen = (size_t)(colon - s);
        if (memchr(h, ':', hlen))
            return fail(e, path, "an IPv6 address must be written in brackets (\"[::1]:7001\"), got %s", q);
    }
    if (hlen == 0) return fail(e, path, "empty host in %s", q);
    if (hlen > 255) return fail(e, path, "host is longer than 255 characters");

    /* port */
    const char *p = colon + 1;
    size_t plen = (size_t)(s + len - p);
    if (plen == 0) return fail(e, path, "missing port number after ':' in %s", q);
    long pv = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9' || i >= 5)
            return fail(e, path, "port must be an integer in 1..65535, in %s", q);
        pv = pv * 10 + (p[i] - '0');
    }
    if (pv < 1 || pv > 65535) return fail(e, path, "port must be an integer in 1..65535, got %ld", pv);

    char hb[256];
    memcpy(hb, h, hlen);
    hb[hlen] = 0;
    if (memchr(hb, 0, hlen)) return fail(e, path, "host contains a NUL byte");

    if (v6) {
        char addr[256], zone[SF_PARTY_NAME_MAX + 1] = "";
        const char *pct = strchr(hb, '%');
        if (pct) {
            size_t alen = (size_t)(pct - hb), zlen = strlen(pct + 1);
            if (!valid_name(pct + 1, zlen)) return fail(e, path, "bad IPv6 zone id in %s", q);
            memcpy(addr, hb, alen);
            addr[alen] = 0;
            memcpy(zone, pct + 1, zlen + 1);
        } else {
            snprintf(addr, sizeof addr, "%s", hb);
        }
        unsigned char bin[16];
        char norm[INET6_ADDRSTRLEN];
        if (inet_pton(AF_INET6, addr, bin) != 1)
            return fail(e, path, "not a valid IPv6 address between the brackets in %s", q);
        inet_ntop(AF_INET6, bin, norm, sizeof norm);
        snprintf(canon, 300, "[%s%s%.64s]:%ld", norm, *zone ? "%" : "", zone, pv);
    } else {
        int dotted = 1;
        for (size_t i = 0; i < hlen; i++)
            if (!(hb[i] == '.' || (hb[i] >= '0' && hb[i] <= '9'))) dotted = 0;
        if (dotted) {
            unsigned char bin[4];
            if (inet_pton(AF_INET, hb, bin) != 1)
                return fail(e, path, "not a valid IPv4 address (dotted a.b.c.d, each 0..255) in %s", q);
        } else if (!is_hostname(hb, hlen)) {
            return fail(e, path, "not a valid host name (labels of [A-Za-z0-9_-] separated by dots) in %s", q);
        }
        char low[256];
        for (size_t i = 0; i <= hlen; i++)
            low[i] = (char)((hb[i] >= 'A' && hb[i] <= 'Z') ? hb[i] - 'A' + 'a' : hb[i]);
        snprintf(canon, 300, "%s:%ld", low, pv);
    }
    snprintf(host, 256, "%s", hb);
    *port = (int)pv;
    return 0;
}

/* Seconds: a number in (0, 86400]. */
static int get_seconds(ectx *e, json_t *ch, const char *key, double *out)
{
    json_t *v = json_object_get(ch, key);
    if (!v) return 0;
    char path[64];
    snprintf(path, sizeof path, "channel.%s", key);
    if (!json_is_number(v))
        return fail(e, path, "must be a number of seconds in (0, 86400], got %s", jtype(v));
    double d = json_number_value(v);
    if (!(d > 0 && d <= 86400))
        return fail(e, path, "must be a number of seconds in (0, 86400], got %g", d);
    *out = d;
    return 0;
}

static int get_int(ectx *e, json_t *ch, const char *key, long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(ch, key);
    if (!v) return 0;
    char path[64];
    snprintf(path, sizeof path, "channel.%s", key);
    if (!json_is_integer(v))
        return fail(e, path, "must be an integer in %lld..%lld, got %s", lo, hi, jtype(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return fail(e, path, "must be an integer in %lld..%lld, got %lld", lo, hi, x);
    *out = x;
    return 0;
}

static int ensure_sodium(ectx *e)
{
    if (sodium_init() < 0) return fail(e, NULL, "libsodium failed to initialise");
    return 0;
}

/* ---------------------------------------------------------------- cluster file */

static int parse_channel(ectx *e, sf_cluster *c, json_t *ch)
{
    static const char *const keys[] = {"cipher", "connect_timeout", "peer_timeout",
                                       "heartbeat", "window", "max_frame", NULL};
    if (!ch) return 0;
    if (!json_is_object(ch)) return fail(e, "channel", "expected an object, got %s", jtype(ch));
    int r = check_keys(e, "channel", ch, keys,
                       "cipher, connect_timeout, peer_timeout, heartbeat, window, max_frame");
    if (r) return r;

    json_t *cv = json_object_get(ch, "cipher");
    if (cv) {
        if (!json_is_string(cv))
            return fail(e, "channel.cipher", "must be \"chachapoly\" or \"aesgcm\", got %s", jtype(cv));
        const char *s = json_string_value(cv);
        if (strcmp(s, "chachapoly") == 0)
            c->cipher = SF_NOISE_CHACHAPOLY;
        else if (strcmp(s, "aesgcm") == 0)
            c->cipher = SF_NOISE_AESGCM;
        else {
            char q[160];
            return fail(e, "channel.cipher", "must be \"chachapoly\" or \"aesgcm\", got %s",
                        show(q, sizeof q, s, json_string_length(cv)));
        }
    }
    if ((r = get_seconds(e, ch, "connect_timeout", &c->connect_timeout))) return r;
    if ((r = get_seconds(e, ch, "peer_timeout", &c->peer_timeout))) return r;
    if ((r = get_seconds(e, ch, "heartbeat", &c->heartbeat))) return r;
    long long x;
    x = c->window;
    if ((r = get_int(e, ch, "window", 1, 65536, &x))) return r;
    c->window = (int)x;
    x = c->max_frame;
    if ((r = get_int(e, ch, "max_frame", 256, 16777216, &x))) return r;
    c->max_frame = (uint32_t)x;
    if (!(c->heartbeat < c->peer_timeout)) {
        if (json_object_get(ch, "heartbeat"))
            return fail(e, "channel.heartbeat", "must be less than channel.peer_timeout (%g%s), got %g",
                        c->peer_timeout, json_object_get(ch, "peer_timeout") ? "" : ", the default",
                        c->heartbeat);
        return fail(e, "channel.peer_timeout", "must be greater than channel.heartbeat (%g, the default), got %g",
                    c->heartbeat, c->peer_timeout);
    }
    return 0;
}

static int parse_parties(ectx *e, sf_cluster *c, json_t *arr)
{
    static const char *const keys[] = {"name", "address", "public_key", NULL};
    if (!arr) return fail(e, "parties", "missing (required)");
    if (!json_is_array(arr))
        return fail(e, "parties", "must be a non-empty array of {name, address, public_key}, got %s",
                    jtype(arr));
    size_t n = json_array_size(arr);
    if (n == 0) return fail(e, "parties", "must be a non-empty array of {name, address, public_key}");
    if (n > 65536) return fail(e, "parties", "too many parties (%zu; at most 65536)", n);

    c->parties = calloc(n, sizeof *c->parties);
    char(*canon)[300] = calloc(n, sizeof *canon);
    if (!c->parties || !canon) {
        free(canon);
        fail(e, "parties", "out of memory");
        return SF_ENOMEM;
    }
    c->nparties = (int)n;
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) {
        json_t *p = json_array_get(arr, i);
        sf_cluster_party *cp = &c->parties[i];
        char path[64], fpath[96];
        snprintf(path, sizeof path, "parties[%zu]", i);
        if (!json_is_object(p)) {
            r = fail(e, path, "expected an object {name, address, public_key}, got %s", jtype(p));
            break;
        }
        if ((r = check_keys(e, path, p, keys, "name, address, public_key"))) break;

        json_t *nv = json_object_get(p, "name");
        snprintf(fpath, sizeof fpath, "%s.name", path);
        if ((r = check_name(e, fpath, nv))) break;
        snprintf(cp->name, sizeof cp->name, "%s", json_string_value(nv));
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->parties[j].name, cp->name) == 0) {
                r = fail(e, fpath, "duplicate party name '%s' (also parties[%zu].name)", cp->name, j);
                break;
            }
        if (r) break;

        snprintf(fpath, sizeof fpath, "%s.address", path);
        if ((r = parse_address(e, fpath, json_object_get(p, "address"), cp->host, &cp->port, canon[i])))
            break;
        for (size_t j = 0; j < i; j++)
            if (strcmp(canon[j], canon[i]) == 0) {
                char q[160];
                json_t *av = json_object_get(p, "address");
                r = fail(e, fpath, "same host:port as parties[%zu] ('%s'): %s", j, c->parties[j].name,
                         show(q, sizeof q, json_string_value(av), json_string_length(av)));
                break;
            }
        if (r) break;

        snprintf(fpath, sizeof fpath, "%s.public_key", path);
        if ((r = decode_key(e, fpath, json_object_get(p, "public_key"), "public", cp->public_key)))
            break;
        if ((r = check_public_key(e, fpath, cp->public_key))) break;
        for (size_t j = 0; j < i; j++)
            if (sodium_memcmp(c->parties[j].public_key, cp->public_key, 32) == 0) {
                r = fail(e, fpath, "same public key as parties[%zu] ('%s'); every party needs its own key",
                         j, c->parties[j].name);
                break;
            }
    }
    free(canon);
    return r;
}

/* An endpoint an address resolves to: family, address and port (and an IPv6 scope). An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it maps. */
typedef struct endpoint {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint32_t scope;
    uint16_t port;
} endpoint;

typedef struct resolved {
    endpoint *ep; /* owned */
    size_t n;
} resolved;

/* Every TCP endpoint of host:port (getaddrinfo, numeric port). A host that does not resolve
 * here (a remote name that resolves only on its own side, no name service) gives none and
 * is not an error: it is compared by its text only. 0 or SF_ENOMEM. */
static int resolve_party(const sf_cluster_party *p, resolved *out)
{
    out->ep = NULL;
    out->n = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", p->port);
    if (getaddrinfo(p->host, port, &hints, &res) != 0 || !res) return 0;
    size_t n = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next) n++;
    out->ep = calloc(n, sizeof *out->ep);
    if (!out->ep) {
        freeaddrinfo(res);
        return SF_ENOMEM;
    }
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        endpoint *ep = &out->ep[out->n];
        if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(struct sockaddr_in)) {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)a->ai_addr;
            ep->family = AF_INET;
            memcpy(ep->addr, &s4->sin_addr, 4);
            ep->port = ntohs(s4->sin_port);
        } else if (a->ai_family == AF_INET6 && a->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)a->ai_addr;
            if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
                ep->family = AF_INET;
                memcpy(ep->addr, s6->sin6_addr.s6_addr + 12, 4);
            } else {
                ep->family = AF_INET6;
                memcpy(ep->addr, &s6->sin6_addr, 16);
                ep->scope = s6->sin6_scope_id;
            }
            ep->port = ntohs(s6->sin6_port);
        } else {
            continue;
        }
        out->n++;
    }
    freeaddrinfo(res);
    return 0;
}

static int same_endpoint(const endpoint *a, const endpoint *b)
{
    return a->family == b->family && a->port == b->port && a->scope == b->scope &&
           memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* An endpoint both a and b resolve to, or NULL. */
static const endpoint *shared_endpoint(const resolved *a, const resolved *b)
{
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (same_endpoint(&a->ep[i], &b->ep[j])) return &a->ep[i];
    return NULL;
}

/* A party's address as written back: "host:port", "[v6]:port". */
static const char *party_address(const sf_cluster_party *p, char out[300])
{
    if (strchr(p->host, ':'))
        snprintf(out, 300, "[%s]:%d", p->host, p->port);
    else
        snprintf(out, 300, "%s:%d", p->host, p->port);
    return out;
}

/* "a.b.c.d:port" or "[v6%scope]:port" */
static void format_endpoint(const endpoint *ep, char out[80])
{
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(ep->family, ep->addr, a, sizeof a);
    if (ep->family == AF_INET)
        snprintf(out, 80, "%s:%u", a, (unsigned)ep->port);
    else if (ep->scope)
        snprintf(out, 80, "[%s%%%u]:%u", a, (unsigned)ep->scope, (unsigned)ep->port);
    else
        snprintf(out, 80, "[%s]:%u", a, (unsigned)ep->port);
}

/* Two parties whose addresses differ in text but resolve to a common endpoint (localhost
 * and 127.0.0.1, 0x7f.0.0.1, ::ffff:127.0.0.1) are the same address: the first such pair
 * in file order, reported on the later party. Hosts that do not resolve are skipped. */
static int check_resolved(ectx *e, const sf_cluster *c)
{
    size_t n = (size_t)c->nparties;
    if (n < 2) return 0;
    resolved *rs = calloc(n, sizeof *rs);
    if (!rs) {
        fail(e, "parties", "out of memory");
        return SF_ENOMEM;
    }
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) {
        char fpath[64];
        snprintf(fpath, sizeof fpath, "parties[%zu].address", i);
        if (resolve_party(&c->parties[i], &rs[i]) != 0) {
            fail(e, fpath, "out of memory");
            r = SF_ENOMEM;
            break;
        }
        for (size_t j = 0; j < i; j++) {
            const endpoint *same = shared_endpoint(&rs[i], &rs[j]);
            if (!same) continue;
            char ai[300], aj[300], ep[80];
            format_endpoint(same, ep);
            r = fail(e, fpath, "'%s' (%s) is the same address as parties[%zu] ('%s', %s): both resolve to %s",
                     c->parties[i].name, party_address(&c->parties[i], ai), j, c->parties[j].name,
                     party_address(&c->parties[j], aj), ep);
            break;
        }
    }
    for (size_t i = 0; i < n; i++) free(rs[i].ep);
    free(rs);
    return r;
}

int sf__cluster_parse(sf_cluster *c, const char *json, size_t len, const char *name, char *err,
                      size_t errlen)
{
    static const char *const keys[] = {"version", "job_id", "parties", "channel", NULL};
    ectx e = {name && *name ? name : "cluster.json", err, errlen};
    if (err && errlen) err[0] = 0;
    if (!c) return fail(&e, NULL, "internal error: no cluster object");
    memset(c, 0, sizeof *c);
    if (!json && len) return fail(&e, NULL, "internal error: no data");
    if (len > CLUSTER_MAX_BYTES)
        return fail(&e, NULL, "file is larger than 1 MiB (%zu bytes); not a cluster file?", len);
    int r = ensure_sodium(&e);
    if (r) return r;

    json_error_t je;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) return syntax_error(&e, &je);

    c->cipher = SF_NOISE_CHACHAPOLY;
    c->connect_timeout = 60;
    c->peer_timeout = 10;
    c->heartbeat = 1;
    c->window = 256;
    c->max_frame = 1048576;
    snprintf(c->source, sizeof c->source, "%s", e.file);

    if (!json_is_object(root)) {
        r = fail(&e, NULL, "expected a JSON object at the top level, got %s", jtype(root));
        goto out;
    }
    if ((r = check_keys(&e, "", root, keys, "version, job_id, parties, channel"))) goto out;

    json_t *v = json_object_get(root, "version");
    if (!v) {
        r = fail(&e, "version", "missing (required; must be 1)");
        goto out;
    }
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        if (json_is_integer(v))
            r = fail(&e, "version", "must be 1 (the only supported version), got %lld",
                     (long long)json_integer_value(v));
        else
            r = fail(&e, "version", "must be the integer 1, got %s", jtype(v));
        goto out;
    }
    c->version = 1;

    v = json_object_get(root, "job_id");
    if (!v) {
        r = fail(&e, "job_id", "missing (required)");
        goto out;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255) {
        if (json_is_string(v))
            r = fail(&e, "job_id", "must be a non-empty string of at most 255 bytes, got %zu bytes",
                     json_string_length(v));
        else
            r = fail(&e, "job_id", "must be a non-empty string of at most 255 bytes, got %s", jtype(v));
        goto out;
    }
    snprintf(c->job_id, sizeof c->job_id, "%s", json_string_value(v));

    if ((r = parse_parties(&e, c, json_object_get(root, "parties")))) goto out;
    if ((r = parse_channel(&e, c, json_object_get(root, "channel")))) goto out;

    crypto_hash_sha256(c->file_hash, (const unsigned char *)(json ? json : ""), len);
out:
    json_decref(root);
    if (r) sf__cluster_free(c);
    return r;
}

/* What a file that is not a regular file is, for messages ("is a FIFO, ..."). */
static const char *file_kind(mode_t m)
{
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

/* Open e->file, a `what` ("cluster file", "key file") of at most max bytes, for reading.
 * The open never blocks: O_NONBLOCK keeps a FIFO nobody writes (or a device) from hanging
 * it, anything but a regular file is refused before a byte is read, and O_NONBLOCK is
 * cleared only then. Returns the descriptor (*st filled), or a negative status with
 * "<file>: ..." in e->err. */
static int open_regular(ectx *e, const char *what, size_t max, struct stat *st)
{
    int fd = open(e->file, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return fail(e, NULL, "cannot open: %s", strerror(errno));
    int r = 0, fl;
    if (fstat(fd, st) != 0)
        r = fail(e, NULL, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(st->st_mode))
        r = fail(e, NULL, "is %s, not a regular file", file_kind(st->st_mode));
    else if ((uint64_t)st->st_size > max)
        r = fail(e, NULL, "file is too large for a %s (%lld bytes; at most %zu)", what,
                 (long long)st->st_size, max);
    else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        r = fail(e, NULL, "cannot clear O_NONBLOCK: %s", strerror(errno));
    if (r) {
        close(fd);
        return r;
    }
    return fd;
}

/* Read fd (then closed) into buf (max + 1 bytes): *len bytes, at most max (a file that
 * grew past max since open_regular is refused). 0 or a negative status as above. */
static int read_bounded(ectx *e, const char *what, int fd, char *buf, size_t max, size_t *len)
{
    size_t n = 0;
    int r = 0;
    while (n <= max) {
        ssize_t got = read(fd, buf + n, max + 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) r = fail(e, NULL, "cannot read: %s", strerror(errno));
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (!r && n > max)
        r = fail(e, NULL, "file is too large for a %s (more than %zu bytes)", what, max);
    *len = n;
    return r;
}

int sf__cluster_load(sf_cluster *c, const char *path, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (c) memset(c, 0, sizeof *c);
    if (!c || !path || !*path) {
        set_err(err, errlen, "cluster file: no path given");
        return SF_EUSAGE;
    }
    ectx e = {path, err, errlen};
    struct stat st;
    int fd = open_regular(&e, "cluster file", CLUSTER_MAX_BYTES, &st);
    if (fd < 0) return fd;
    char *buf = malloc(CLUSTER_MAX_BYTES + 1);
    if (!buf) {
        close(fd);
        fail(&e, NULL, "out of memory");
        return SF_ENOMEM;
    }
    size_t len;
    int r = read_bounded(&e, "cluster file", fd, buf, CLUSTER_MAX_BYTES, &len);
    if (!r) r = sf__cluster_parse(c, buf, len, path, err, errlen);
    free(buf);
    if (!r && (r = check_resolved(&e, c))) sf__cluster_free(c);
    return r;
}

void sf__cluster_free(sf_cluster *c)
{
    if (!c) return;
    free(c->parties);
    memset(c, 0, sizeof *c);
}

int sf__cluster_find(const sf_cluster *c, const char *party)
{
    if (!c || !party) return -1;
    for (int i = 0; i < c->nparties; i++)
        if (strcmp(c->parties[i].name, party) == 0) return i;
    return -1;
}

/* ---------------------------------------------------------------- key files */

static void wipe_json_string(json_t *v)
{
    if (json_is_string(v)) sodium_memzero((char *)json_string_value(v), json_string_length(v));
}

int sf__party_key_load(sf_party_key *k, const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = {"party", "secret_key", "public_key", NULL};
    if (err && errlen) err[0] = 0;
    if (k) sodium_memzero(k, sizeof *k);
    ectx e = {path && *path ? path : "key file", err, errlen};
    if (!k || !path || !*path) return fail(&e, NULL, "no key file path given");
    int r = ensure_sodium(&e);
    if (r) return r;

    struct stat st;
    int fd = open_regular(&e, "key file", KEYFILE_MAX_BYTES, &st);
    if (fd < 0) return fd;
    if (st.st_mode & 077) {
        unsigned mode = (unsigned)(st.st_mode & 07777);
        close(fd);
        if (st.st_mode & 044)
            return fail(&e, NULL, "key file is readable by others (mode %04o); chmod 600 %s", mode, path);
        return fail(&e, NULL, "key file is accessible by group or others (mode %04o); chmod 600 %s",
                    mode, path);
    }
    char buf[KEYFILE_MAX_BYTES + 1];
    size_t len;
    if ((r = read_bounded(&e, "key file", fd, buf, KEYFILE_MAX_BYTES, &len))) {
        sodium_memzero(buf, sizeof buf);
        return r;
    }

    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    sodium_memzero(buf, sizeof buf);
    if (!root) return syntax_error(&e, &je);

    uint8_t derived[32];
    if (!json_is_object(root)) {
        r = fail(&e, NULL, "expected a JSON object {party, secret_key, public_key}, got %s", jtype(root));
        goto out;
    }
    if ((r = check_keys(&e, "", root, keys, "party, secret_key, public_key"))) goto out;
    json_t *pv = json_object_get(root, "party");
    if ((r = check_name(&e, "party", pv))) goto out;
    snprintf(k->party, sizeof k->party, "%s", json_string_value(pv));
    if ((r = decode_key(&e, "secret_key", json_object_get(root, "secret_key"), "secret", k->secret_key)))
        goto out;
    if ((r = decode_key(&e, "public_key", json_object_get(root, "public_key"), "public", k->public_key)))
        goto out;
    if (sodium_is_zero(k->secret_key, 32)) {
        r = fail(&e, "secret_key", "is all zeros (not a valid secret key)");
        goto out;
    }
    if (crypto_scalarmult_base(derived, k->secret_key) != 0 ||
        sodium_memcmp(derived, k->public_key, 32) != 0) {
        r = fail(&e, "public_key", "does not match secret_key (the file is corrupt or was edited)");
        goto out;
    }
out:
    sodium_memzero(derived, sizeof derived);
    wipe_json_string(json_object_get(root, "secret_key"));
    json_decref(root);
    if (r) sf__party_key_wipe(k);
    return r;
}

int sf__party_key_check(const sf_party_key *k, const sf_cluster *c, int self, const char *path,
                        char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    ectx e = {path && *path ? path : "key file", err, errlen};
    const char *cfile = c && c->source[0] ? c->source : "the cluster file";
    if (!k || !c) return fail(&e, NULL, "internal error: no key or cluster");
    if (self < 0 || self >= c->nparties)
        return fail(&e, NULL, "party '%s' is not in the parties of %s", k->party, cfile);
    const sf_cluster_party *p = &c->parties[self];
    if (strcmp(k->party, p->name) != 0)
        return fail(&e, NULL, "key belongs to party '%s', but this is party '%s' (parties[%d] in %s)",
                    k->party, p->name, self, cfile);
    if (sodium_memcmp(k->public_key, p->public_key, 32) != 0)
        return fail(&e, NULL, "public key does not match parties[%d].public_key for party '%s' in %s",
                    self, p->name, cfile);
    return 0;
}

void sf__party_key_wipe(sf_party_key *k)
{
    if (k) sodium_memzero(k, sizeof *k);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Move tmp to path without replacing an existing file. 0, or errno. */
static int rename_noreplace(const char *tmp, const char *path)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
#endif
    /* Fallback: link fails with EEXIST if path exists. */
    if (link(tmp, path) != 0) return errno;
    unlink(tmp);
    return 0;
}

int sf__party_key_generate(const char *party, const char *path, int force, char pub_hex[65],
                           char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (pub_hex) pub_hex[0] = 0;
    ectx e = {path && *path ? path : "key file", err, errlen};
    if (!path || !*path) return fail(&e, NULL, "no output path given");
    if (!party || !valid_name(party, strlen(party))) {
        char q[160];
        return fail(&e, NULL, "party name must be 1..%d characters of [A-Za-z0-9_.-], got %s",
                    SF_PARTY_NAME_MAX, party ? show(q, sizeof q, party, strlen(party)) : "nothing");
    }
    int r = ensure_sodium(&e);
    if (r) return r;
    struct stat st;
    if (!force && lstat(path, &st) == 0)
        return fail(&e, NULL, "already exists; refusing to overwrite it (use --force to replace it)");

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        fail(&e, NULL, "out of memory");
        return SF_ENOMEM;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        snprintf(tmp, plen + 32, "%s.tmp.%08x", path, (unsigned)randombytes_random());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int en = errno;
        free(tmp);
        return (void)fail(&e, NULL, "cannot create the key file: %s", strerror(en)), SF_EIO;
    }

    uint8_t sk[32], pk[32];
    char skh[65], pkh[65], text[256];
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(pk, sk);
    sodium_bin2hex(skh, sizeof skh, sk, sizeof sk);
    sodium_bin2hex(pkh, sizeof pkh, pk, sizeof pk);
    int n = snprintf(text, sizeof text, "{\"party\": \"%s\", \"secret_key\": \"%s\", \"public_key\": \"%s\"}\n",
                     party, skh, pkh);
    int werr = 0;
    const char *what = "write";
    if (fchmod(fd, 0600) != 0) {
        werr = errno;
        what = "chmod";
    } else if (write_all(fd, text, (size_t)n) != 0) {
        werr = errno;
    } else if (fsync(fd) != 0) {
        werr = errno;
        what = "fsync";
    }
    if (close(fd) != 0 && !werr) {
        werr = errno;
        what = "close";
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(skh, sizeof skh);
    sodium_memzero(text, sizeof text);
    if (werr) {
        unlink(tmp);
        free(tmp);
        return (void)fail(&e, NULL, "cannot %s the key file: %s", what, strerror(werr)), SF_EIO;
    }

    if (force) {
        if (rename(tmp, path) != 0) {
            int en = errno;
            unlink(tmp);
            free(tmp);
            return (void)fail(&e, NULL, "cannot replace the key file: %s", strerror(en)), SF_EIO;
        }
    } else {
        int en = rename_noreplace(tmp, path);
        if (en) {
            unlink(tmp);
            free(tmp);
            if (en == EEXIST)
                return fail(&e, NULL, "already exists; refusing to overwrite it (use --force to replace it)");
            return (void)fail(&e, NULL, "cannot create the key file: %s", strerror(en)), SF_EIO;
        }
    }
    free(tmp);
    fsync_parent(path);
    if (pub_hex) memcpy(pub_hex, pkh, 65);
    sodium_memzero(pk, sizeof pk);
    return 0;
}
