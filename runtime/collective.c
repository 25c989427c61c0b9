/*
 * Collective kernels: a call on sf_pyu_all runs on every rank of the party.
 *
 * The leader (party rank 0) executes the call as usual; when its party has workers it
 * first sends each worker a command (kernel, call number, argument count) and broadcasts
 * the arguments over the party communicator, then runs the kernel itself, then collects
 * one status per worker. A worker rank runs sf__worker_loop: wait for a command, run the
 * kernel with the same communicator, report its status; an EXIT command
 * (sent by the leader's sf_shutdown) ends it. The result is the leader's; a failure on
 * any rank fails the call with that rank's message.
 *
 * Arguments: inline ones (SF_F64, SF_STR, SF_VAL, ...) are given to every rank; object
 * arguments stay on the leader (sf_arg is NULL on the workers), and the kernel spreads
 * what it needs with sf_comm_scatter / sf_comm_bcast: a large matrix is not copied to
 * every rank unasked.
 *
 * Kernels are named across processes by their module and offset (see kernel names below).
 */
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/party.h"
#include "runtime/internal.h"

enum { CMD_KERNEL = 1, CMD_EXIT = 2 };
enum { C_CMD, C_DELTA, C_NARGS, C_NRET, C_CALL, C_LINE, C_LEN };

struct sf_comm {
    sf_pcomm *pc;
};

/* ------------------------------------------------------------------ public sf_comm */

int sf_comm_rank(const sf_comm *c) { return c->pc->rank; }
int sf_comm_size(const sf_comm *c) { return c->pc->size; }
int sf_comm_send(sf_comm *c, int dst, const sf_value *v) {
    if (dst < 0 || dst >= c->pc->size || !v) return SF_EINVAL;
    return c->pc->ops->send(c->pc, dst, SF_PC_USER, (sf_value *)v);
}
int sf_comm_recv(sf_comm *c, int src, sf_value **out) {
    if (src < 0 || src >= c->pc->size || !out) return SF_EINVAL;
    return c->pc->ops->recv(c->pc, src, SF_PC_USER, out);
}
int sf_comm_bcast(sf_comm *c, int root, sf_value **v) {
    if (root < 0 || root >= c->pc->size || !v || (c->pc->rank == root && !*v)) return SF_EINVAL;
    return c->pc->ops->bcast(c->pc, root, v);
}
int sf_comm_reduce(sf_comm *c, int root, const sf_value *in, sf_reduce_op op, sf_value **out) {
    if (root < 0 || root >= c->pc->size || !in || !out) return SF_EINVAL;
    return c->pc->ops->reduce(c->pc, root, in, op, out);
}
int sf_comm_allreduce(sf_comm *c, const sf_value *in, sf_reduce_op op, sf_value **out) {
    if (!in || !out) return SF_EINVAL;
    return c->pc->ops->allreduce(c->pc, in, op, out);
}
int sf_comm_gather(sf_comm *c, int root, const sf_value *in, sf_value **out) {
    if (root < 0 || root >= c->pc->size || !in || !out) return SF_EINVAL;
    return c->pc->ops->gather(c->pc, root, in, out);
}
int sf__comm_gather_into(sf_comm *c, int root, const sf_value *in, int64_t root_rows, sf_value *out) {
    if (root < 0 || root >= c->pc->size || !c->pc->ops->gather_into) return SF_EINVAL;
    return c->pc->ops->gather_into(c->pc, root, in, root_rows, out);
}
int sf_comm_scatter(sf_comm *c, int root, const sf_value *in, sf_value **out) {
    if (root < 0 || root >= c->pc->size || !out || (c->pc->rank == root && !in)) return SF_EINVAL;
    return c->pc->ops->scatter(c->pc, root, in, out);
}
int sf_comm_barrier(sf_comm *c) { return c->pc->ops->barrier(c->pc); }
const void *sf__comm_mpi(sf_comm *c) { return c->pc->ops->mpi_comm(c->pc); }

int sf_party_ranks(const sf_ctx *sf) { return sf->pc ? sf->pc->size : 1; }

/* ------------------------------------------------------------------ kernel names */

/* A kernel is named across processes by the loaded module (ELF object) whose executable
 * segment holds it and its offset from that module's load address. Every process of a
 * party runs the same executable with the same libraries, so the pair resolves to the same
 * function in each, whatever ASLR chose: static functions, C++ functions and kernels in a
 * shared library of the user's all work, with nothing exported. The main program is module
 * 0; any other module is named by the path the dynamic loader gives it. */
struct kmod_find {
    uintptr_t addr;   /* in: a code address (leader) */
    const char *name; /* in: module to find (worker); NULL: the main program */
    int64_t off;      /* in (worker) / out (leader): offset from the load address */
    int found, index;
    char path[512];
    uintptr_t resolved;
};

static int in_exec_segment(const struct dl_phdr_info *info, uintptr_t a) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && a >= lo && a < lo + ph->p_memsz)
            return 1;
    }
    return 0;
}

static int kmod_leader(struct dl_phdr_info *info, size_t size, void *arg) {
    struct kmod_find *k = arg;
    int idx = k->index++;
    if (!in_exec_segment(info, k->addr)) return 0;
    k->found = 1;
    k->off = (int64_t)(k->addr - info->dlpi_addr);
    snprintf(k->path, sizeof k->path, "%s", idx == 0 ? "" : info->dlpi_name);
    return 1;
}

static int kmod_worker(struct dl_phdr_info *info, size_t size, void *arg) {
    struct kmod_find *k = arg;
    int idx = k->index++;
    if (k->name[0] ? strcmp(info->dlpi_name, k->name) : idx != 0) return 0;
    uintptr_t a = info->dlpi_addr + (uintptr_t)k->off;
    k->found = 1;
    if (in_exec_segment(info, a)) k->resolved = a;
    return 1;
}

static int kernel_token(sf_task_fn fn, int64_t *off, char *module, size_t mlen) {
    struct kmod_find k = {.addr = (uintptr_t)(void *)fn};
    dl_iterate_phdr(kmod_leader, &k);
    if (!k.found) return -1;
    *off = k.off;
    snprintf(module, mlen, "%s", k.path);
    return 0;
}

/* NULL with a reason in why when the module is not loaded here or the offset is not code */
static sf_task_fn kernel_resolve(int64_t off, const char *module, char *why, size_t wlen) {
    struct kmod_find k = {.name = module, .off = off};
    dl_iterate_phdr(kmod_worker, &k);
    if (!k.found)
        snprintf(why, wlen, "module %s is not loaded in this process", module);
    else if (!k.resolved)
        snprintf(why, wlen, "offset %lld is not code in %s (do all ranks run the same "
                 "executable and libraries?)", (long long)off, module[0] ? module : "the program");
    if (!k.resolved) return NULL;
    return (sf_task_fn)(void *)k.resolved;
}

/* ------------------------------------------------------------------ leader side */

/* Start the kernel on the workers: command, names, arguments. */
int sf__coll_start(sf_ctx *sf, sf_task_fn fn, sf_site site, sf_value **args,
                   const sf_argv_item *items, int nargs, int nret, char *err, size_t errlen) {
    sf_pcomm *pc = sf->pc;
    int64_t delta = 0;
    char sym[512];
    if (kernel_token(fn, &delta, sym, sizeof sym)) {
        snprintf(err, errlen, "collective kernel '%s' is not code of any module loaded in "
                 "this process, so the party's workers cannot find it", site.what);
        return SF_EINVAL;
    }
    int64_t shape = C_LEN, na = nargs > 0 ? nargs : 1;
    sf_value *cmd = sf_value_new(SF_I64, 1, &shape), *kinds = sf_value_zeros(SF_I64, 1, &na);
    char names[1600];
    int nl = snprintf(names, sizeof names, "%s%c%s%c%s", site.what ? site.what : "?", 0,
                      sf__basename(site.file), 0, sym);
    sf_value *nm = sf_value_bytes(names, (size_t)(nl < (int)sizeof names ? nl : (int)sizeof names - 1));
    if (!cmd || !nm || !kinds) {
        sf_value_unref(&cmd);
        sf_value_unref(&nm);
        sf_value_unref(&kinds);
        return SF_ENOMEM;
    }
    for (int i = 0; i < nargs; i++) ((int64_t *)sf_value_data(kinds))[i] = items[i].kind;
    int64_t *c = sf_value_data(cmd);
    c[C_CMD] = CMD_KERNEL, c[C_DELTA] = delta, c[C_NARGS] = nargs, c[C_NRET] = nret;
    c[C_CALL] = (int64_t)sf->call_seq, c[C_LINE] = site.line;
    int rc = SF_OK;
    for (int w = 1; w < pc->size && !rc; w++) {
        rc = pc->ops->send(pc, w, SF_PC_CMD, cmd);
        if (!rc) rc = pc->ops->send(pc, w, SF_PC_ARG, nm);
        if (!rc) rc = pc->ops->send(pc, w, SF_PC_ARG, kinds);
    }
    sf_value_unref(&cmd);
    sf_value_unref(&nm);
    sf_value_unref(&kinds);
    for (int i = 0; i < nargs && !rc; i++) {
        if (items[i].kind == SF_ARGK_OBJ) continue; /* objects stay on the leader */
        sf_value *a = args[i] ? args[i] : sf_value_bytes("", 0);
        rc = pc->ops->bcast(pc, 0, &a);
        if (!args[i]) sf_value_unref(&a);
    }
    if (rc) snprintf(err, errlen, "starting collective kernel '%s' on the party's ranks: %s",
                     site.what, sf_strerror(rc));
    return rc;
}

/* Collect the workers' statuses; the first failure's message goes into err. */
int sf__coll_finish(sf_ctx *sf, char *err, size_t errlen) {
    sf_pcomm *pc = sf->pc;
    int bad = 0;
    for (int w = 1; w < pc->size; w++) {
        sf_value *st = NULL;
        int rc = pc->ops->recv(pc, w, SF_PC_STATUS, &st);
        if (rc) {
            if (!bad) snprintf(err, errlen, "rank %d of party %s did not report: %s", w,
                               sf__party_name(sf, sf->party), sf_strerror(rc));
            bad = 1;
        } else if (sf_value_nbytes(st) > 0 && !bad) {
            snprintf(err, errlen, "rank %d of party %s: %s", w, sf__party_name(sf, sf->party),
                     sf_value_cstr(st));
            bad = 1;
        }
        sf_value_unref(&st);
    }
    return bad ? SF_ETASK : SF_OK;
}

void sf__coll_exit_workers(sf_ctx *sf) {
    sf_pcomm *pc = sf->pc;
    if (!pc || pc->size <= 1) return;
    int64_t shape = C_LEN;
    sf_value *cmd = sf_value_zeros(SF_I64, 1, &shape);
    if (!cmd) return;
    ((int64_t *)sf_value_data(cmd))[C_CMD] = CMD_EXIT;
    for (int w = 1; w < pc->size; w++) pc->ops->send(pc, w, SF_PC_CMD, cmd);
    sf_value_unref(&cmd);
}

/* ------------------------------------------------------------------ worker side */

int sf__worker_loop(sf_ctx *sf) {
    sf_pcomm *pc = sf->pc;
    for (;;) {
        sf_value *cmd = NULL, *nm = NULL, *kinds = NULL;
        int rc = pc->ops->recv(pc, 0, SF_PC_CMD, &cmd);
        if (rc == SF_EPEER) return SF_EXIT_PEER; /* the leader is gone: it reported why */
        if (rc)
            sf__fatal(sf, SF_EXIT_FAILURE, "worker %s/%d: waiting for the leader's command: %s",
                      sf__party_name(sf, sf->party), sf->rank, sf_strerror(rc));
        const int64_t *c = sf_value_cdata(cmd);
        if (sf_value_nelems(cmd) != C_LEN || c[C_CMD] == CMD_EXIT) {
            sf_value_unref(&cmd);
            return SF_EXIT_OK;
        }
        int nargs = (int)c[C_NARGS], nret = (int)c[C_NRET];
        int64_t delta = c[C_DELTA], line = c[C_LINE];
        sf->call_seq = (uint64_t)c[C_CALL];
        sf_value_unref(&cmd);
        if ((rc = pc->ops->recv(pc, 0, SF_PC_ARG, &nm)) ||
            (rc = pc->ops->recv(pc, 0, SF_PC_ARG, &kinds)))
            sf__fatal(sf, SF_EXIT_FAILURE, "worker: receiving the kernel name: %s", sf_strerror(rc));
        const char *what = sf_value_cstr(nm), *file = what + strlen(what) + 1;
        const char *sym = file + strlen(file) + 1;
        sf->site = (sf_site){file, (int)line, what};
        sf_value **args = calloc((size_t)(nargs > 0 ? nargs : 1), sizeof *args);
        if (!args) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory");
        const int64_t *kind = sf_value_cdata(kinds);
        for (int i = 0; i < nargs; i++)
            if (kind[i] != SF_ARGK_OBJ && (rc = pc->ops->bcast(pc, 0, &args[i])))
                sf__fatal(sf, SF_EXIT_FAILURE, "worker: receiving argument %d of '%s': %s", i, what,
                          sf_strerror(rc));
        char why[700] = "";
        sf_task_fn fn = kernel_resolve(delta, sym, why, sizeof why);
        char *msg = NULL;
        if (!fn) {
            if (asprintf(&msg, "cannot find collective kernel '%s' in this process: %s", what, why) < 0)
                msg = NULL;
        } else {
            msg = sf__run_kernel(sf, fn, what, args, nargs, nret);
        }
        for (int i = 0; i < nargs; i++) sf_value_unref(&args[i]);
        free(args);
        sf_value *st = sf_value_str(msg ? msg : "");
        free(msg);
        sf_value_unref(&nm);
        sf_value_unref(&kinds);
        if (!st || (rc = pc->ops->send(pc, 0, SF_PC_STATUS, st)))
            sf__fatal(sf, SF_EXIT_FAILURE, "worker: reporting to the leader: %s", sf_strerror(rc));
        sf_value_unref(&st);
    }
}

sf_comm *sf__comm_new(sf_pcomm *pc) {
    sf_comm *c = malloc(sizeof *c);
    if (c) c->pc = pc;
    return c;
}
