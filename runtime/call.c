/*
 * Remote calls, actors, moves, reveal, wait, release, scopes: the program model.
 *
 * Every party executes each of these at the same point of the same program. A call:
 *   1. numbers itself (call_seq) and folds its kind, site and operands into the trace
 *      hash, identical on every party unless the programs diverge;
 *   2. moves each object argument the executing party lacks: its owner sends it
 *      (non-blocking), every party marks the executing party as a holder;
 *   3. creates the result entries on every party (owner = executing party);
 *   4. on the executing party only: receives the missing arguments (may block), runs the
 *      task, stores results or the failure chain.
 * Every message carries the object id, call number and trace; the receiver checks them
 * against its own, so a divergence is reported where it first shows, not as a hang.
 * Debug mode stops at the first failure (unless --sf-on-error=continue); elsewhere
 * failures are values (sf_get returns the chain).
 */
#include <stdlib.h>
#include <string.h>

#include "mpi/party.h"
#include "runtime/device.h"

enum {
    SALT_FN = 0x1001, SALT_METHOD = 0x1002, SALT_NEW = 0x1003, SALT_TO = 0x1004,
    SALT_GET = 0x1005, SALT_WAIT = 0x1006, SALT_REL = 0x1007, SALT_SCOPE = 0x1008,
    SALT_KILL = 0x1009,
};

enum call_kind { CALL_FN, CALL_METHOD, CALL_NEW };

struct sf_task {
    sf_ctx *sf;
    const char *name;
    sf_site site;
    int nargs;
    sf_value **args;
    int nret;
    sf_value **rets;
    void *state;
    char *errmsg;
    sf_comm *comm; /* collective kernels */
    void *kernel;  /* device kernels: the device's kernel context */
};

/* ------------------------------------------------------------------ helpers */

static void fmt_id(char *buf, size_t n, uint64_t id) {
    if (SF__OBJ_IDX(id)) snprintf(buf, n, "#%llu.%u", (unsigned long long)SF__OBJ_SEQ(id),
                                  SF__OBJ_IDX(id));
    else snprintf(buf, n, "#%llu", (unsigned long long)SF__OBJ_SEQ(id));
}

/* A call site's hash. Sites are (__FILE__, __LINE__, #fn or a class/method name): static
 * strings, so a small cache keyed by their addresses keeps string hashing off the hot
 * path. The hash uses the contents (basename, name, line), never addresses, so it is the
 * same in every process. */
static uint64_t site_hash(const sf_site *site) {
    static struct {
        const char *file, *what;
        int line;
        uint64_t h;
    } cache[256];
    size_t s = (((uintptr_t)site->file >> 3) ^ ((uintptr_t)site->what >> 3) ^
                (uintptr_t)site->line * 31) & 255;
    if (cache[s].file != site->file || cache[s].what != site->what || cache[s].line != site->line) {
        uint64_t h = sf__str_hash(sf__basename(site->file)) ^ ((uint64_t)site->line << 40);
        cache[s].h = sf__mix(h, site->what ? sf__str_hash(site->what) : 0);
        cache[s].file = site->file;
        cache[s].what = site->what;
        cache[s].line = site->line;
    }
    return cache[s].h;
}

static void call_begin(sf_ctx *sf, sf_site site, uint64_t salt) {
    if (sf->in_task)
        sf__fatal(sf, SF_EXIT_FAILURE,
                  "%s called inside a task at %s:%d: a task runs on one party and cannot "
                  "make runtime calls; make the call from the program instead",
                  site.what ? site.what : "runtime call", sf__basename(site.file), site.line);
    if (sf->finished)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: called after sf_shutdown",
                  site.what ? site.what : "runtime call", sf__basename(site.file), site.line);
    /* debug: give way to the next runnable rank every opts.turn calls (lockstep at 1) */
    if (sf->run->dbg && ++sf->turn_calls >= sf->run->opts.turn) {
        sf->turn_calls = 0;
        sf__debug_yield(sf);
    }
    sf->call_seq++;
    sf->site = site;
    sf->trace = sf__mix(sf->trace, site_hash(&site) ^ salt);
    unsigned i = (unsigned)(sf->call_seq & (SF__HIST - 1));
    sf->trace_hist[i] = sf->trace;
    sf->site_hist[i] = site;
    if (sf->nearly) sf__check_early_notices(sf);
}

/* The call site's file name (basename, truncated) into a fixed 32-byte header field. */
static inline void site_file(char dst[32], const char *path) {
    const char *b = sf__basename(path);
    size_t n = strnlen(b, 31);
    memcpy(dst, b, n);
    memset(dst + n, 0, 32 - n);
}

static void fill_hdr(sf_ctx *sf, sf_msg_hdr *h, uint32_t kind, uint64_t id) {
    h->kind = kind;
    h->line = (uint32_t)sf->site.line;
    h->obj_id = id;
    h->call_seq = sf->call_seq;
    h->trace = sf->trace;
    site_file(h->file, sf->site.file);
}

static void debug_stop_if_failed(sf_ctx *sf, sf_entry *e);
static sf_value *chain_new(const char *head, const sf_value *cause);

sf_entry *sf__obj_lookup(sf_ctx *sf, uint64_t id, const char *use) {
    sf_entry *e = sf__obj_find(sf, id);
    if (!e) {
        char b[32];
        fmt_id(b, sizeof b, id);
        sf__fatal(sf, SF_EXIT_FAILURE,
                  "%s at %s:%d: object %s does not exist (released already, or not created "
                  "by this program)",
                  use, sf__basename(sf->site.file), sf->site.line, b);
    }
    return e;
}

static void send_entry(sf_ctx *sf, sf_entry *e, int dst) {
    sf_msg_hdr h;
    int failed = e->state == SF__ST_FAILED;
    fill_hdr(sf, &h, failed ? SF_MSG_ERROR : SF_MSG_DATA, e->id);
    int rc = sf->tp->ops->send(sf->tp, dst, &h, failed ? e->err : e->val);
    if (rc) {
        char b[32];
        fmt_id(b, sizeof b, e->id);
        sf__fatal(sf, SF_EXIT_PEER, "sending object %s to party %s failed: %s", b,
                  sf__party_name(sf, dst), sf_strerror(rc));
    }
}

/* The owner sends `h` (and v) to every party that does not hold e: at once, through the
 * backend's send_many where it has one (debug mode: one record read by all). */
static void send_to_lacking(sf_ctx *sf, sf_entry *e, const sf_msg_hdr *h, sf_value *v,
                            const char *what) {
    int np = sf__nparties(sf), n = 0;
    const struct sf_transport_ops *ops = sf->tp->ops;
    sf_run_state *run = sf->run;
    if (ops->send_many && np > run->dst_cap) {
        int *p = realloc(run->dst_buf, sizeof *p * (size_t)np);
        if (!p) sf__fatal(sf, SF_EXIT_FAILURE, "%s: out of memory (%d parties)", what, np);
        run->dst_buf = p;
        run->dst_cap = np;
    }
    for (int p = 0; p < np; p++) {
        if (sf__obj_holds(sf, e, p)) continue;
        if (ops->send_many) {
            run->dst_buf[n++] = p;
            continue;
        }
        int rc = ops->send(sf->tp, p, h, v);
        if (rc) {
            char b[32];
            fmt_id(b, sizeof b, e->id);
            sf__fatal(sf, SF_EXIT_PEER, "%s: sending object %s to party %s failed: %s", what, b,
                      sf__party_name(sf, p), sf_strerror(rc));
        }
    }
    int rc = n ? ops->send_many(sf->tp, run->dst_buf, n, h, v) : SF_OK;
    if (rc) {
        char b[32];
        fmt_id(b, sizeof b, e->id);
        sf__fatal(sf, SF_EXIT_PEER, "%s: sending object %s to %d parties failed: %s", what, b, n,
                  sf_strerror(rc));
    }
}

static void report_peer_gone(sf_ctx *sf, int src, uint64_t id, const sf_msg_hdr *bye) {
    char b[32];
    fmt_id(b, sizeof b, id);
    if (bye)
        sf__fatal(sf, SF_EXIT_PEER,
                  "party %s finished its program (after its call #%llu at %s:%u) while "
                  "party %s, at call #%llu (%s:%d), waits for object %s from it",
                  sf__party_name(sf, src), (unsigned long long)bye->call_seq, bye->file,
                  bye->line, sf__party_name(sf, sf->party), (unsigned long long)sf->call_seq,
                  sf__basename(sf->site.file), sf->site.line, b);
    sf__fatal(sf, SF_EXIT_PEER,
              "party %s finished its program while party %s, at call #%llu (%s:%d), waits "
              "for object %s from it",
              sf__party_name(sf, src), sf__party_name(sf, sf->party),
              (unsigned long long)sf->call_seq, sf__basename(sf->site.file), sf->site.line, b);
}

/* Receive the next message from src; it must be object `id` of this very call. */
static void recv_expect(sf_ctx *sf, int src, uint64_t id, sf_msg_hdr *h, sf_value **v) {
    sf_wait_notice w = {.call_seq = sf->call_seq, .trace = sf->trace, .obj_id = id,
                        .line = (uint32_t)sf->site.line};
    if (sf->run->dbg) sf__debug_note_wait(sf, src, id); /* the notice is for other modes */
    else site_file(w.file, sf->site.file);
    int rc = sf->tp->ops->recv(sf->tp, src, &w, h, v);
    if (rc == SF_EPEER) {
        /* debug mode: the finished rank's context is in this process */
        sf_msg_hdr bye = {.kind = SF_MSG_BYE};
        const sf_ctx *peer = sf->run->dbg ? sf__debug_peer_ctx(sf, src) : NULL;
        if (peer) {
            bye.call_seq = peer->call_seq;
            bye.line = (uint32_t)peer->site.line;
            snprintf(bye.file, sizeof bye.file, "%s", sf__basename(peer->site.file));
        }
        report_peer_gone(sf, src, id, peer ? &bye : NULL);
    }
    if (rc)
        sf__fatal(sf, SF_EXIT_PEER, "receiving from party %s failed: %s",
                  sf__party_name(sf, src), sf_strerror(rc));
    if (h->kind == SF_MSG_BYE) report_peer_gone(sf, src, id, h);
    if (h->obj_id != id || h->call_seq != sf->call_seq || h->trace != sf->trace) {
        char want[32], got[32];
        fmt_id(want, sizeof want, id);
        fmt_id(got, sizeof got, h->obj_id);
        const char *why = (h->obj_id == id && h->call_seq == sf->call_seq)
                              ? "the same object at the same call number, but the calls "
                                "before it differ"
                              : "a different object or call";
        sf__fatal(sf, SF_EXIT_DIVERGE,
                  "program divergence between parties %s and %s: %s, at call #%llu (%s:%d, "
                  "%s), expects object %s from %s, but %s sent object %s at its call #%llu "
                  "(%s:%u) - %s. The parties no longer make the same calls (a branch on "
                  "data that only one party knows?)",
                  sf__party_name(sf, sf->party), sf__party_name(sf, src),
                  sf__party_name(sf, sf->party), (unsigned long long)sf->call_seq,
                  sf__basename(sf->site.file), sf->site.line,
                  sf->site.what ? sf->site.what : "?", want, sf__party_name(sf, src),
                  sf__party_name(sf, src), got, (unsigned long long)h->call_seq, h->file,
                  h->line, why);
    }
}

/* Receive entry e's value (or its failure, or sf_wait's "computed" status) from its
 * owner into e. Marking the holder is the caller's business. */
static void recv_entry(sf_ctx *sf, sf_entry *e) {
    sf_msg_hdr h;
    sf_value *v = NULL;
    recv_expect(sf, e->owner, e->id, &h, &v);
    if (h.kind == SF_MSG_ERROR) {
        sf_value_unref(&e->err);
        e->err = v;
        e->state = SF__ST_FAILED;
    } else if (h.kind == SF_MSG_STATUS) {
        sf_value_unref(&v);
    } else {
        sf_value_unref(&e->val);
        e->val = v;
        e->state = SF__ST_READY;
    }
}

/* Make sure party `dst` holds e: the owner sends, dst receives, all mark it. */
void sf__obj_move(sf_ctx *sf, sf_entry *e, int dst) {
    if (e->dev_kind) {
        char b[32];
        const struct sf_device_ops *ops = sf__device_class(sf, e->dev_kind);
        fmt_id(b, sizeof b, e->id);
        sf__fatal(sf, SF_EXIT_FAILURE,
                  "%s at %s:%d: object %s is secret (it lives in an %s); reveal it to a party with "
                  "sf_to(obj, pyu) or sf_get first",
                  sf->site.what, sf__basename(sf->site.file), sf->site.line, b, ops ? ops->name : "device");
    }
    if (sf__obj_holds(sf, e, dst)) return;
    if (sf->party == e->owner) send_entry(sf, e, dst);
    else if (sf->party == dst) recv_entry(sf, e);
    sf__obj_set_holder(sf, e, dst);
}

/* Error chains are bytes values: "what failed" followed by the indented cause. */
static sf_value *chain_new(const char *head, const sf_value *cause) {
    size_t hl = strlen(head), cl = 0, lines = 0;
    const char *c = cause ? sf_value_cstr(cause) : NULL;
    if (c) {
        cl = strlen(c);
        for (size_t i = 0; i < cl; i++) lines += c[i] == '\n';
    }
    char *buf = malloc(hl + 2 + cl + 2 * (lines + 1) + 1);
    if (!buf) return sf_value_str(head);
    char *p = buf;
    memcpy(p, head, hl);
    p += hl;
    if (c) {
        *p++ = '\n';
        *p++ = ' ';
        *p++ = ' ';
        for (size_t i = 0; i < cl; i++) {
            *p++ = c[i];
            if (c[i] == '\n') *p++ = ' ', *p++ = ' ';
        }
    }
    *p = 0;
    sf_value *v = sf_value_str(buf);
    free(buf);
    return v;
}

/* A chain link "<formatted head>" + indented cause; off the hot path (error cases only). */
__attribute__((cold, noinline, format(printf, 2, 3))) static sf_value *
chain_fmt(const sf_value *cause, const char *fmt, ...) {
    char head[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    return chain_new(head, cause);
}

void sf__debug_stop_if_failed(sf_ctx *sf, sf_entry *e);
sf_value *sf__chain(const char *head, const sf_value *cause) { return chain_new(head, cause); }

void sf__call_begin(sf_ctx *sf, sf_site site, uint64_t salt) { call_begin(sf, site, salt); }

void sf__send_value(sf_ctx *sf, int to, uint32_t kind, uint64_t id, sf_value *v) {
    sf_msg_hdr h;
    fill_hdr(sf, &h, kind, id);
    int rc = sf->tp->ops->send(sf->tp, to, &h, v);
    if (rc)
        sf__fatal(sf, SF_EXIT_PEER, "sending to party %s failed: %s", sf__party_name(sf, to),
                  sf_strerror(rc));
}

void sf__recv_value(sf_ctx *sf, int from, uint64_t id, sf_msg_hdr *h, sf_value **v) {
    recv_expect(sf, from, id, h, v);
}

void sf__debug_stop_if_failed(sf_ctx *sf, sf_entry *e) { debug_stop_if_failed(sf, e); }

static void debug_stop_if_failed(sf_ctx *sf, sf_entry *e) {
    if (sf->run->opts.mode == SF_MODE_DEBUG && !sf->run->opts.on_error_continue &&
        e->state == SF__ST_FAILED)
        sf__fatal(sf, SF_EXIT_TASK, "stopping at the first failure:\n  %s",
                  sf_value_cstr(e->err));
}

/* ------------------------------------------------------------------ tasks */

const sf_value *sf_arg(sf_task *t, int i) { return (i >= 0 && i < t->nargs) ? t->args[i] : NULL; }
int sf_nargs(const sf_task *t) { return t->nargs; }
int sf_nreturns(const sf_task *t) { return t->nret; }
void *sf_state(sf_task *t) { return t->state; }
sf_comm *sf_task_comm(sf_task *t) { return t->comm; }
void *sf__task_kernel(sf_task *t) { return t->kernel; }

char *sf__run_device_kernel(sf_ctx *sf, sf_task_fn fn, sf_site site, void *kctx) {
    sf_task t = {.sf = sf, .name = site.what, .site = site, .nargs = 0, .nret = 0, .kernel = kctx};
    sf->in_task = 1;
    int rc = fn(&t);
    sf->in_task = 0;
    if (rc != 0 && !t.errmsg) sf_fail(&t, "returned %d (%s)", rc, sf_strerror(rc));
    return t.errmsg;
}
sf_ctx *sf_task_ctx(sf_task *t) { return t->sf; }

int sf_fail(sf_task *t, const char *fmt, ...) {
    if (t->errmsg) return SF_ETASK; /* keep the first reason */
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&t->errmsg, fmt, ap) < 0) t->errmsg = NULL;
    va_end(ap);
    if (!t->errmsg) t->errmsg = strdup("(out of memory formatting the message)");
    return SF_ETASK;
}

static const sf_value *scalar_arg(sf_task *t, int i, const char *want) {
    const sf_value *v = sf_arg(t, i);
    if (!v) {
        sf_fail(t, "argument %d requested (%s) but the call passed %d argument%s", i, want,
                t->nargs, t->nargs == 1 ? "" : "s");
        return NULL;
    }
    if (v->nelems != 1 || v->dtype == SF_BYTES) {
        sf_fail(t, "argument %d: expected a %s scalar, got %s with %zu elements", i, want,
                sf_dtype_name((sf_dtype)v->dtype), v->nelems);
        return NULL;
    }
    return v;
}

double sf_arg_f64(sf_task *t, int i) {
    const sf_value *v = scalar_arg(t, i, "number");
    return v ? sf_value_as_f64(v, 0) : 0.0;
}

int64_t sf_arg_i64(sf_task *t, int i) {
    const sf_value *v = scalar_arg(t, i, "integer");
    if (!v) return 0;
    if (v->dtype == SF_F32 || v->dtype == SF_F64) {
        sf_fail(t, "argument %d: expected an integer, got %s", i,
                sf_dtype_name((sf_dtype)v->dtype));
        return 0;
    }
    return sf_value_as_i64(v, 0);
}

const char *sf_arg_str(sf_task *t, int i) {
    const sf_value *v = sf_arg(t, i);
    if (!v || v->dtype != SF_BYTES) {
        if (!v) sf_fail(t, "argument %d requested (string) but the call passed %d", i, t->nargs);
        else sf_fail(t, "argument %d: expected bytes/string, got %s", i,
                     sf_dtype_name((sf_dtype)v->dtype));
        return "";
    }
    return sf_value_cstr(v);
}

int sf_return(sf_task *t, int i, sf_value *v) {
    if (i < 0 || i >= t->nret) {
        sf_value_unref(&v);
        return sf_fail(t, "sf_return(%d): the call expects %d return value%s", i, t->nret,
                       t->nret == 1 ? "" : "s");
    }
    if (!v) return sf_fail(t, "sf_return(%d): no value (allocation failed?)", i);
    sf_value_unref(&t->rets[i]);
    t->rets[i] = v;
    return SF_OK;
}

/* A collective kernel on a worker rank: same arguments, same communicator; results are
 * the leader's, so this rank's are dropped. Returns the failure message or NULL. */
char *sf__run_kernel(sf_ctx *sf, sf_task_fn fn, const char *what, sf_value **args, int nargs,
                     int nret) {
    sf_value **rets = calloc((size_t)(nret > 0 ? nret : 1), sizeof *rets);
    sf_task t = {.sf = sf, .name = what, .site = sf->site, .nargs = nargs, .args = args,
                 .nret = nret, .rets = rets, .comm = sf__comm_new(sf->pc)};
    if (!rets || !t.comm) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
    sf->in_task = 1;
    int rc = fn(&t);
    sf->in_task = 0;
    if (rc != 0 && !t.errmsg) sf_fail(&t, "returned %d (%s)", rc, sf_strerror(rc));
    for (int i = 0; i < nret; i++) sf_value_unref(&rets[i]);
    free(rets);
    free(t.comm);
    return t.errmsg;
}

/* ------------------------------------------------------------------ calls */

static sf_value *inline_value(const sf_argv_item *a) {
    switch (a->kind) {
    case SF_ARGK_VAL: return a->u.val ? sf_value_ref(a->u.val) : NULL;
    case SF_ARGK_F64: return sf_value_f64(a->u.f64);
    case SF_ARGK_I64: return sf_value_i64(a->u.i64);
    case SF_ARGK_STR: return sf_value_str(a->u.str ? a->u.str : "");
    case SF_ARGK_BYTES: return sf_value_bytes(a->u.bytes.p, a->u.bytes.n);
    default: return NULL;
    }
}

/* An argument array from the program (sf_remotev): a count and a pointer that agree. */
static void check_arg_array(sf_ctx *sf, sf_site site, const sf_argv_item *args, int nargs) {
    if (nargs < 0 || nargs > SF__MAX_ARGS || (nargs > 0 && !args))
        sf__fatal(sf, SF_EXIT_USAGE, "%s at %s:%d: bad argument array (%d items at %p; at most %d)",
                  site.what, sf__basename(site.file), site.line, nargs, (const void *)args,
                  SF__MAX_ARGS);
}

static void check_call_shape(sf_ctx *sf, sf_site site, int nret, const sf_argv_item *args,
                             int nargs) {
    if (nret < 1 || nret > SF__MAX_RETURNS || nargs < 0)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: bad number of returns (%d) or args (%d)",
                  site.what, sf__basename(site.file), site.line, nret, nargs);
    for (int i = 0; i < nargs; i++) {
        if (args[i].kind == SF_ARGK_PRIV)
            sf__fatal(sf, SF_EXIT_USAGE,
                      "%s at %s:%d: argument %d is SF_PRIVATE, which only an SPU kernel takes (a "
                      "matrix its owner keeps in the clear); pass SF_OBJ to a PYU task",
                      site.what, sf__basename(site.file), site.line, i);
        if (args[i].kind < SF_ARGK_OBJ || args[i].kind > SF_ARGK_BYTES ||
            (args[i].kind == SF_ARGK_VAL && !args[i].u.val))
            sf__fatal(sf, SF_EXIT_FAILURE,
                      "%s at %s:%d: argument %d is not a valid SF_OBJ/SF_VAL/SF_F64/... item",
                      site.what, sf__basename(site.file), site.line, i);
        if (args[i].kind == SF_ARGK_OBJ && args[i].u.obj.sf != sf)
            sf__fatal(sf, SF_EXIT_FAILURE,
                      "%s at %s:%d: argument %d is an object of another context", site.what,
                      sf__basename(site.file), site.line, i);
    }
}

/* Collective kernels: start them on the party's other ranks / collect their statuses. */
__attribute__((noinline)) static int coll_begin(sf_ctx *sf, sf_task *t, sf_task_fn fn, sf_site site,
                                                sf_value **argvals, const sf_argv_item *args,
                                                int nargs, int nret) {
    char msg[1024];
    if (!(t->comm = sf__comm_new(sf->pc))) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
    if (sf->pc->size <= 1) return 0;
    if (sf__coll_start(sf, fn, site, argvals, args, nargs, nret, msg, sizeof msg))
        sf__fatal(sf, SF_EXIT_FAILURE, "%s", msg);
    return 1;
}

__attribute__((noinline)) static void coll_end(sf_ctx *sf, sf_task *t, int started) {
    char msg[1024];
    if (started && sf__coll_finish(sf, msg, sizeof msg) && !t->errmsg) sf_fail(t, "%s", msg);
    free(t->comm);
    t->comm = NULL;
}

/* Run the task body on this (executing) party; sets the result entries. */
static void execute(sf_ctx *sf, enum call_kind kind, sf_task_fn fn, sf_entry *actor, int coll,
                    sf_site site, const sf_argv_item *args, int nargs, sf_entry **res,
                    int nres) {
    sf_value *argv_small[8], *rets_small[4];
    uint64_t dig_small[8];
    sf_value **argvals = nargs <= 8 ? argv_small : calloc((size_t)nargs, sizeof *argvals);
    uint64_t *dig = nargs <= 8 ? dig_small : calloc((size_t)nargs, sizeof *dig);
    int nret = kind == CALL_NEW ? 0 : nres;
    sf_value **rets = nret <= 4 ? rets_small : calloc((size_t)nret, sizeof *rets);
    sf_value *err = NULL;
    const char *me = sf__party_name(sf, sf->party);
    if (!argvals || !dig || !rets) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory in a call");
    memset(rets, 0, sizeof *rets * (size_t)nret);

    /* arguments: a failed object argument fails the call with the chain */
    for (int i = 0; i < nargs; i++) {
        argvals[i] = NULL;
        if (args[i].kind == SF_ARGK_OBJ) {
            sf_entry *e = sf__obj_find(sf, args[i].u.obj.id);
            if (e->state == SF__ST_FAILED && !err) {
                char b[32];
                fmt_id(b, sizeof b, e->id);
                err = chain_fmt(e->err,
                                "task '%s' on party %s at call #%llu (%s:%d) was not run: its "
                                "argument %d (object %s) failed:",
                                site.what, me, (unsigned long long)sf->call_seq,
                                sf__basename(site.file), site.line, i, b);
            }
            argvals[i] = e->val ? sf_value_ref(e->val) : NULL;
        } else {
            argvals[i] = inline_value(&args[i]);
            if (!argvals[i] && !err) {
                err = chain_fmt(NULL, "task '%s' on party %s at call #%llu (%s:%d): out "
                                "of memory building argument %d", site.what, me,
                                (unsigned long long)sf->call_seq, sf__basename(site.file),
                                site.line, i);
            }
        }
    }
    if (!err && actor && actor->state == SF__ST_FAILED) {
        err = chain_fmt(actor->err,
                        "method '%s.%s' of actor %s on party %s at call #%llu (%s:%d) was not run: "
                        "the actor's constructor failed:",
                        actor->cls->name, site.what, actor->cls->name, me, (unsigned long long)sf->call_seq,
                        sf__basename(site.file), site.line);
    }

    void *state = NULL;
    if (kind == CALL_NEW && !err) {
        state = calloc(1, res[0]->cls->state_size ? res[0]->cls->state_size : 1);
        if (!state) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory creating actor state");
    } else if (actor) {
        state = actor->state_ptr;
    }

    if (!err && fn) {
        int check = sf->run->dbg && sf->run->opts.check_args > 0;
        /* inline arguments other than SF_VAL are private to this call: nothing to protect */
        if (check)
            for (int i = 0; i < nargs; i++)
                dig[i] = argvals[i] && (args[i].kind == SF_ARGK_OBJ || args[i].kind == SF_ARGK_VAL)
                             ? sf__value_digest(argvals[i]) : 0;
        sf_task t = {.sf = sf, .name = site.what, .site = site, .nargs = nargs,
                     .args = argvals, .nret = nret, .rets = rets, .state = state};
        int started = coll ? coll_begin(sf, &t, fn, site, argvals, args, nargs, nret) : 0;
        sf->in_task = 1;
        int rc = fn(&t);
        sf->in_task = 0;
        if (rc != 0 && !t.errmsg) sf_fail(&t, "returned %d (%s)", rc, sf_strerror(rc));
        if (coll) coll_end(sf, &t, started);
        for (int i = 0; i < nret && !t.errmsg; i++)
            if (!rets[i])
                sf_fail(&t, "returned without setting return value %d (of %d) with sf_return",
                        i, nret);
        for (int i = 0; check && i < nargs && !t.errmsg; i++)
            if (argvals[i] && (args[i].kind == SF_ARGK_OBJ || args[i].kind == SF_ARGK_VAL) &&
                dig[i] != sf__value_digest(argvals[i])) {
                if (args[i].kind == SF_ARGK_OBJ) {
                    char b[32];
                    fmt_id(b, sizeof b, args[i].u.obj.id);
                    sf_fail(&t, "wrote into its argument %d (object %s): arguments are "
                                "read-only; return a fresh value (sf_value_copy)", i, b);
                } else {
                    sf_fail(&t, "wrote into its argument %d: arguments are read-only; return "
                                "a fresh value (sf_value_copy)", i);
                }
            }
        if (t.errmsg) {
            /* a method is named Class.method, however it was called */
            int meth = kind == CALL_METHOD && actor && actor->cls;
            err = chain_fmt(NULL, "%s '%s%s%s' failed on party %s at call #%llu (%s:%d): %s",
                            kind == CALL_FN ? "task" : kind == CALL_NEW ? "constructor of" : "method",
                            meth ? actor->cls->name : "", meth ? "." : "",
                            site.what, me, (unsigned long long)sf->call_seq,
                            sf__basename(site.file), site.line, t.errmsg);
            free(t.errmsg);
        }
    }

    for (int i = 0; i < nargs; i++) sf_value_unref(&argvals[i]);
    if (kind == CALL_NEW) {
        if (err) {
            free(state);
            res[0]->state = SF__ST_FAILED;
            res[0]->err = err;
        } else {
            res[0]->state = SF__ST_READY;
            res[0]->state_ptr = state;
        }
    } else {
        for (int i = 0; i < nres; i++) {
            if (err) {
                res[i]->state = SF__ST_FAILED;
                res[i]->err = sf_value_ref(err);
            } else {
                res[i]->state = SF__ST_READY;
                res[i]->val = rets[i];
                rets[i] = NULL;
            }
        }
        for (int i = 0; i < nret; i++) sf_value_unref(&rets[i]);
        sf_value_unref(&err);
    }
    if (argvals != argv_small) free(argvals);
    if (dig != dig_small) free(dig);
    if (rets != rets_small) free(rets);
}

static sf_obj do_call(sf_ctx *sf, enum call_kind kind, int exec, int coll, sf_task_fn fn,
                      sf_entry *actor, const sf_actor_class *cls, sf_site site, int nret,
                      sf_obj *outs, const sf_argv_item *args, int nargs, uint64_t salt) {
    check_call_shape(sf, site, nret, args, nargs);
    salt = sf__mix(salt, ((uint64_t)(uint32_t)exec << 32) | ((uint64_t)nargs << 16) | (uint64_t)nret);
    for (int i = 0; i < nargs; i++)
        salt = sf__mix(salt, args[i].kind == SF_ARGK_OBJ ? args[i].u.obj.id : args[i].kind);
    call_begin(sf, site, salt);

    /* 2. move object arguments to the executing party */
    for (int i = 0; i < nargs; i++) {
        if (args[i].kind != SF_ARGK_OBJ) continue;
        sf_entry *e = sf__obj_lookup(sf, args[i].u.obj.id, site.what);
        if (e->kind != SF__ENT_OBJ)
            sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: argument %d is an actor, not an object",
                      site.what, sf__basename(site.file), site.line, i);
        sf__obj_move(sf, e, exec);
    }

    /* 3. result entries, everywhere */
    int nres = kind == CALL_NEW ? 1 : nret;
    sf_entry *res_small[4];
    sf_entry **res = nres <= 4 ? res_small : calloc((size_t)nres, sizeof *res);
    if (!res) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory in a call");
    for (int i = 0; i < nres; i++) {
        res[i] = sf__obj_new(sf, SF__OBJ_ID(sf->call_seq, i), exec, site);
        if (!res[i]) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory creating an object");
        if (kind == CALL_NEW) {
            res[i]->kind = SF__ENT_ACTOR;
            res[i]->cls = cls;
        }
    }

    /* a killed actor: every party knows, so the results fail everywhere */
    if (actor && actor->killed) {
        char b[32];
        fmt_id(b, sizeof b, actor->id);
        sf_value *kerr = chain_fmt(NULL,
                                   "method '%s.%s' called at call #%llu (%s:%d) on actor %s %s (created "
                                   "at %s:%d), which was killed at %s:%d",
                                   actor->cls->name, site.what, (unsigned long long)sf->call_seq,
                                   sf__basename(site.file), site.line, actor->cls->name, b,
                                   sf__basename(actor->site.file), actor->site.line,
                                   sf__basename(actor->kill_site.file), actor->kill_site.line);
        for (int i = 0; i < nres; i++) {
            res[i]->state = SF__ST_FAILED;
            res[i]->err = sf_value_ref(kerr);
            sf__obj_set_all_holders(sf, res[i]);
        }
        sf_value_unref(&kerr);
        debug_stop_if_failed(sf, res[0]);
    } else if (sf->party == exec) {
        execute(sf, kind, fn, actor, coll, site, args, nargs, res, nres);
        debug_stop_if_failed(sf, res[0]);
    }

    sf_obj first = {sf, res[0]->id};
    if (outs)
        for (int i = 0; i < nres; i++) outs[i] = (sf_obj){sf, res[i]->id};
    if (res != res_small) free(res);
    return first;
}

/* The class of a device handle of this context, or a fatal report naming the call site. */
static const struct sf_device_ops *device_of(sf_ctx *sf, sf_device dev, sf_site site) {
    const struct sf_device_ops *ops = dev.sf == sf ? sf__device_class(sf, dev.kind) : NULL;
    if (!ops)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: not a valid device", site.what,
                  sf__basename(site.file), site.line);
    return ops;
}

sf_obj sf__call_task(sf_ctx *sf, int exec, int coll, sf_task_fn fn, sf_site site, int nret,
                     sf_obj *outs, const sf_argv_item *args, int nargs, uint64_t salt) {
    if (!fn) sf__fatal(sf, SF_EXIT_FAILURE, "SF_REMOTE at %s:%d: NULL function",
                       sf__basename(site.file), site.line);
    return do_call(sf, CALL_FN, exec, coll, fn, NULL, NULL, site, nret, outs, args, nargs,
                   sf__mix(SALT_FN, salt));
}

sf_obj sf__remote_dev(sf_device dev, sf_task_fn fn, sf_site site, int nret, sf_obj *outs,
                      const sf_argv_item *args, int nargs) {
    sf_ctx *sf = dev.sf;
    const struct sf_device_ops *ops = device_of(sf, dev, site);
    check_arg_array(sf, site, args, nargs);
    return ops->call(sf, dev, fn, site, nret, outs, args, nargs);
}

static sf_entry *actor_entry(sf_ctx *sf, sf_actor a, sf_site site) {
    sf_entry *e = sf__obj_lookup(sf, a.id, site.what);
    if (e->kind != SF__ENT_ACTOR)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: the handle is an object, not an actor",
                  site.what, sf__basename(site.file), site.line);
    return e;
}

sf_obj sf__remote_actor(sf_actor actor, sf_task_fn fn, sf_site site, int nret, sf_obj *outs,
                        const sf_argv_item *args, int nargs) {
    sf_ctx *sf = actor.sf;
    sf_entry *a = actor_entry(sf, actor, site);
    const sf_method *m = a->cls->methods;
    while (m && m->name && m->fn != fn) m++;
    if (!m || !m->name)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: '%s' is not a method of actor class %s",
                  site.what, sf__basename(site.file), site.line, site.what, a->cls->name);
    check_arg_array(sf, site, args, nargs);
    /* the method's own name, as sf_actor_call gives it, whatever the C function is called */
    site.what = m->name;
    return do_call(sf, CALL_METHOD, a->owner, 0, fn, a, NULL, site, nret, outs, args, nargs,
                   sf__mix(SALT_METHOD, a->id));
}

sf_obj sf__actor_call_name(sf_actor actor, const char *method, sf_site site,
                           const sf_argv_item *args, int nargs) {
    sf_ctx *sf = actor.sf;
    sf_entry *a = actor_entry(sf, actor, site);
    const sf_method *m = a->cls->methods;
    while (m && m->name && strcmp(m->name, method)) m++;
    if (!m || !m->name)
        sf__fatal(sf, SF_EXIT_FAILURE, "sf_actor_call at %s:%d: actor class %s has no method '%s'",
                  sf__basename(site.file), site.line, a->cls->name, method);
    site.what = m->name;
    return do_call(sf, CALL_METHOD, a->owner, 0, m->fn, a, NULL, site, 1, NULL, args, nargs,
                   sf__mix(SALT_METHOD, a->id));
}

sf_actor sf__actor_new(sf_device dev, const sf_actor_class *cls, sf_site site,
                       const sf_argv_item *args, int nargs) {
    sf_ctx *sf = dev.sf;
    int exec = device_of(sf, dev, site)->owner(sf, dev);
    if (exec < 0)
        sf__fatal(sf, SF_EXIT_FAILURE, "SF_ACTOR at %s:%d: an actor lives on a party's device (a "
                  "PYU), not on a device of shares", sf__basename(site.file), site.line);
    if (!cls || !cls->name)
        sf__fatal(sf, SF_EXIT_FAILURE, "SF_ACTOR at %s:%d: NULL class or class without a name",
                  sf__basename(site.file), site.line);
    sf_obj o = do_call(sf, CALL_NEW, exec, 0, cls->init, NULL, cls, site, 1, NULL, args, nargs,
                       sf__mix(SALT_NEW, sf__str_hash(cls->name)));
    return (sf_actor){sf, o.id};
}

int sf__kill(sf_actor actor, sf_site site) {
    sf_ctx *sf = actor.sf;
    call_begin(sf, site, sf__mix(SALT_KILL, actor.id));
    sf_entry *a = actor_entry(sf, actor, site);
    if (a->killed) {
        char b[32];
        fmt_id(b, sizeof b, a->id);
        sf__set_error(sf, "sf_kill at %s:%d: actor %s %s was already killed at %s:%d",
                      sf__basename(site.file), site.line, a->cls->name, b,
                      sf__basename(a->kill_site.file), a->kill_site.line);
        return SF_EKILLED;
    }
    a->killed = 1;
    a->kill_site = site;
    if (a->state_ptr) {
        if (a->cls->fini) a->cls->fini(a->state_ptr);
        free(a->state_ptr);
        a->state_ptr = NULL;
    }
    return SF_OK;
}

/* ------------------------------------------------------------------ to / get / wait */

sf_obj sf__to(sf_obj obj, sf_device dev, sf_site site) {
    sf_ctx *sf = obj.sf;
    const struct sf_device_ops *ops = device_of(sf, dev, site);
    call_begin(sf, site, sf__mix(SALT_TO, obj.id ^ ((uint64_t)dev.kind << 40) ^ (uint64_t)(uint32_t)dev.party));
    sf_entry *e = sf__obj_lookup(sf, obj.id, "sf_to");
    if (e->kind != SF__ENT_OBJ)
        sf__fatal(sf, SF_EXIT_FAILURE, "sf_to at %s:%d: an actor cannot be moved",
                  sf__basename(site.file), site.line);
    return ops->share_in(sf, e, dev, site);
}

int sf__get(sf_ctx *sf, sf_obj obj, sf_value **out, sf_site site) {
    call_begin(sf, site, sf__mix(SALT_GET, obj.id));
    sf_entry *e = sf__obj_lookup(sf, obj.id, "sf_get");
    if (e->kind != SF__ENT_OBJ)
        sf__fatal(sf, SF_EXIT_FAILURE, "sf_get at %s:%d: an actor has no value",
                  sf__basename(site.file), site.line);
    if (e->dev_kind) { /* its device reveals it to every party */
        if (!e->revealed) {
            int failed = 0;
            sf_value *v = sf__device_class(sf, e->dev_kind)->reveal(sf, e, -1, &failed);
            if (failed) {
                sf__set_error(sf, "%s", sf_value_cstr(v));
                sf_value_unref(&v);
                return SF_ETASK;
            }
            e->revealed = v;
        }
        if (out) *out = e->revealed;
        return SF_OK;
    }
    if (sf->party == e->owner) {
        sf_msg_hdr h;
        int failed = e->state == SF__ST_FAILED;
        fill_hdr(sf, &h, failed ? SF_MSG_ERROR : SF_MSG_DATA, e->id);
        send_to_lacking(sf, e, &h, failed ? e->err : e->val, "sf_get");
    } else if (!sf__obj_holds(sf, e, sf->party)) {
        recv_entry(sf, e);
    }
    sf__obj_set_all_holders(sf, e);
    if (out) *out = e->val;
    if (e->state == SF__ST_FAILED) {
        sf__set_error(sf, "%s", sf_value_cstr(e->err));
        return SF_ETASK;
    }
    return SF_OK;
}

int sf__wait(sf_site site, sf_ctx *sf, const sf_obj *objs, int n) {
    uint64_t salt = SALT_WAIT;
    for (int i = 0; i < n; i++) salt = sf__mix(salt, objs[i].id);
    call_begin(sf, site, salt);
    int rc = SF_OK;
    for (int i = 0; i < n; i++) {
        sf_entry *e = sf__obj_lookup(sf, objs[i].id, "sf_wait");
        if (e->kind == SF__ENT_ACTOR) continue;
        if (sf->party == e->owner) {
            sf_msg_hdr h;
            int failed = e->state == SF__ST_FAILED;
            fill_hdr(sf, &h, failed ? SF_MSG_ERROR : SF_MSG_STATUS, e->id);
            send_to_lacking(sf, e, &h, failed ? e->err : NULL, "sf_wait");
        } else if (!sf__obj_holds(sf, e, sf->party)) {
            recv_entry(sf, e);
        }
        if (e->state == SF__ST_FAILED && rc == SF_OK) {
            sf__set_error(sf, "%s", sf_value_cstr(e->err));
            rc = SF_ETASK;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ lifetime */

void sf__release(sf_obj obj, sf_site site) {
    sf_ctx *sf = obj.sf;
    call_begin(sf, site, sf__mix(SALT_REL, obj.id));
    sf_entry *e = sf__obj_lookup(sf, obj.id, "sf_release");
    if (e->kind != SF__ENT_OBJ)
        sf__fatal(sf, SF_EXIT_FAILURE, "sf_release at %s:%d: use sf_kill for actors",
                  sf__basename(site.file), site.line);
    sf__obj_drop(sf, e);
}

sf_scope sf_scope_begin(sf_ctx *sf) { return (sf_scope){sf, sf->call_seq}; }

void sf__scope_end(sf_site site, sf_scope *scope, const sf_obj *keep, int nkeep) {
    sf_ctx *sf = scope->sf;
    call_begin(sf, site, sf__mix(SALT_SCOPE, scope->mark));
    sf_entry *e = sf->objs.tail;
    while (e && e->call_seq > scope->mark) {
        sf_entry *prev = e->prev;
        int kept = e->kind != SF__ENT_OBJ;
        for (int i = 0; i < nkeep && !kept; i++) kept = keep[i].id == e->id;
        if (!kept) sf__obj_drop(sf, e);
        e = prev;
    }
}

/* ------------------------------------------------------------------ divergence notices */

/* A peer is blocked waiting for us at its call n->call_seq. If we passed that call with
 * a different trace, the programs diverged; if we have not reached it, keep the notice
 * and compare when we do. */
void sf__on_notice(void *arg, int src, const sf_wait_notice *n) {
    sf_ctx *sf = arg;
    if (n->call_seq > sf->call_seq) {
        if (sf->nearly == sf->capearly) {
            int cap = sf->capearly ? sf->capearly * 2 : 4;
            struct sf_early_notice *p = realloc(sf->early_notices, sizeof *p * (size_t)cap);
            if (!p) return;
            sf->early_notices = p;
            sf->capearly = cap;
        }
        sf->early_notices[sf->nearly++] = (struct sf_early_notice){src, *n};
        return;
    }
    if (sf->call_seq - n->call_seq >= SF__HIST) return; /* too old to compare */
    unsigned i = (unsigned)(n->call_seq & (SF__HIST - 1));
    if (sf->trace_hist[i] == n->trace) return; /* consistent: our data is on its way */
    sf_site mine = sf->site_hist[i];
    char b[32];
    fmt_id(b, sizeof b, n->obj_id);
    sf__fatal(sf, SF_EXIT_DIVERGE,
              "program divergence between parties %s and %s: at call #%llu, %s made %s "
              "(%s:%d) but %s made a different call (%s:%u) and now waits there for object %s "
              "from %s. The parties no longer make the same calls (a branch on data that "
              "only one party knows?)",
              sf__party_name(sf, sf->party), sf__party_name(sf, src),
              (unsigned long long)n->call_seq, sf__party_name(sf, sf->party),
              mine.what ? mine.what : "a call", sf__basename(mine.file), mine.line,
              sf__party_name(sf, src), n->file, n->line, b,
              sf__party_name(sf, sf->party));
}

void sf__check_early_notices(sf_ctx *sf) {
    for (int i = 0; i < sf->nearly; i++) {
        if (sf->early_notices[i].n.call_seq > sf->call_seq) continue;
        struct sf_early_notice en = sf->early_notices[i];
        sf->early_notices[i--] = sf->early_notices[--sf->nearly];
        sf__on_notice(sf, en.src, &en.n);
    }
}
