/*
 * sf_h5_read / sf_h5_write: party-local HDF5 data as objects (public API in sf.h).
 *
 * sf_h5_read is a collective call on every rank of the party: the leader probes the
 * dataset and broadcasts its dtype and shape; every rank reads its block of rows (with
 * MPI-IO when the party runs under MPI, a plain read in debug mode); the leader reads its
 * rows straight into the result and the other blocks are gathered into it (in debug mode,
 * where the ranks share one process, every rank reads straight into the result); the ranks agree
 * (an allreduce) that every block was allocated before the read, and that every read
 * succeeded before the gather. With one rank the leader reads the whole dataset straight
 * into the result. Every error names the file and the dataset and, through the failure
 * chain, the call site. The read options (--sf-h5-allow-external, --sf-h5-max-bytes) go
 * down to io/h5.c as an sf_h5_read_opts; the probe refuses what they do not allow, and a
 * dataset that declares more than its file holds, before any rank allocates.
 *
 * sf_h5_write is a task on the object's owner: an atomic write (io/h5.c) with attributes
 * naming the program, mode, party and time. Its result is the number of bytes written.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/progress.h"
#include "devices/pyu/pyu.h"
#include "io/h5.h"
#include "mpi/party.h"
#include "runtime/internal.h"

enum { I_STATUS, I_DTYPE, I_NDIM, I_SHAPE };

/* "N bytes (dtype [d0, d1, ...])" for an allocation that failed. */
static void describe_alloc(char *buf, size_t len, sf_dtype dt, int ndim, const int64_t *shape) {
    uint64_t bytes = sf_dtype_size(dt);
    int over = 0;
    for (int i = 0; i < ndim; i++)
        over |= __builtin_mul_overflow(bytes, (uint64_t)shape[i], &bytes);
    size_t o = over ? (size_t)snprintf(buf, len, "more than 2^64 bytes (%s [", sf_dtype_name(dt))
                    : (size_t)snprintf(buf, len, "%llu bytes (%s [", (unsigned long long)bytes,
                                       sf_dtype_name(dt));
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, "])");
}

/* 1 if `failed` holds on any rank of the party (every rank must call it: an allreduce);
 * a failed allreduce counts as a failure. */
static int any_rank_failed(sf_comm *comm, int failed) {
    int64_t one = 1;
    sf_value *flag = sf_value_new(SF_I64, 1, &one), *worst = NULL;
    if (!flag) return 1;
    *(int64_t *)sf_value_data(flag) = failed ? 1 : 0;
    int rc = sf_comm_allreduce(comm, flag, SF_OP_MAX, &worst);
    int any = rc ? 1 : *(const int64_t *)sf_value_cdata(worst) != 0;
    sf_value_unref(&flag);
    sf_value_unref(&worst);
    return any;
}

/* The progress line of a read, begun once dtype and shape are known (on every rank when
 * progress is on, so that the ranks read in the same blocks; only the leader prints). */
static void read_progress_begin(sf_task *t, sf_progress *pr, sf_h5_read_opts *ro, const char *file,
                                const char *dset, const sf_h5_info *info) {
    if (!sf__progress_enabled()) return;
    char tag[96], what[160];
    uint64_t bytes = sf_dtype_size(info->dtype);
    for (int i = 0; i < info->ndim; i++) bytes *= (uint64_t)info->shape[i];
    snprintf(what, sizeof what, "reading %s:%s", file, dset);
    sf__progress_begin(pr, sf__progress_tag(sf_task_ctx(t), tag, sizeof tag), what, bytes, "B");
    ro->progress = pr;
}

static int read_shared(sf_task *t, sf_comm *comm, int rank, const char *file, const char *dset,
                       sf_h5_read_opts *ro, sf_h5_info *info, int64_t row0, int64_t nrows,
                       char *err, size_t errlen);

static int h5_read_body(sf_task *t, sf_progress *pr) {
    const char *file = sf_arg_str(t, 0), *dset = sf_arg_str(t, 1);
    const sf_opts *o = &sf_task_ctx(t)->run->opts;
    sf_h5_read_opts ro = {.allow_external = o->h5_allow_external > 0,
                          .max_bytes = o->h5_max_bytes};
    sf_comm *comm = sf_task_comm(t);
    int rank = sf_comm_rank(comm), size = sf_comm_size(comm), rc;
    char err[1024] = "";
    sf_h5_info info = {0};
    int64_t n = I_SHAPE + SF_MAX_DIMS;
    sf_value *iv = NULL;
    if (rank == 0) { /* the leader decides; everyone follows the same branch */
        iv = sf_value_zeros(SF_I64, 1, &n);
        if (!iv) return sf_fail(t, "out of memory");
        int64_t *d = sf_value_data(iv);
        rc = sf__h5_probe(file, dset, &ro, &info, err, sizeof err);
        d[I_STATUS] = rc;
        d[I_DTYPE] = info.dtype;
        d[I_NDIM] = info.ndim;
        for (int i = 0; i < info.ndim; i++) d[I_SHAPE + i] = info.shape[i];
    }
    if (size > 1 && (rc = sf_comm_bcast(comm, 0, &iv))) {
        sf_value_unref(&iv);
        return sf_fail(t, "%s: %s: broadcasting the dataset's shape failed: %s", file, dset,
                       sf_strerror(rc));
    }
    const int64_t *d = sf_value_cdata(iv);
    if (d[I_STATUS]) {
        sf_value_unref(&iv);
        return rank == 0 ? sf_fail(t, "%s", err) : sf_fail(t, "the leader could not read it");
    }
    info.dtype = (sf_dtype)d[I_DTYPE];
    info.ndim = (int)d[I_NDIM];
    for (int i = 0; i < info.ndim; i++) info.shape[i] = d[I_SHAPE + i];
    sf_value_unref(&iv);
    read_progress_begin(t, pr, &ro, file, dset, &info);

    const void *mpi = sf__comm_mpi(comm);
    if (size == 1 || info.ndim == 0) { /* one rank (or a scalar): the leader reads it all */
        if (rank != 0) return 0;
        sf_value *v = sf_value_new(info.dtype, info.ndim, info.shape);
        if (!v) {
            char what[512];
            describe_alloc(what, sizeof what, info.dtype, info.ndim, info.shape);
            return sf_fail(t, "%s: %s: out of memory for %s", file, dset, what);
        }
        int64_t rows = info.ndim ? info.shape[0] : 1;
        if ((rc = sf__h5_read_rows(file, dset, &ro, &info, 0, rows, sf_value_data(v),
                                   size == 1 ? mpi : NULL, err, sizeof err))) {
            sf_value_unref(&v);
            return sf_fail(t, "%s", err);
        }
        return sf_return(t, 0, v);
    }
    int64_t row0, nrows, shape[SF_MAX_DIMS];
    sf__block_rows(info.shape[0], size, rank, &row0, &nrows);
    if (!mpi) /* debug mode: every rank reads its rows straight into the result */
        return read_shared(t, comm, rank, file, dset, &ro, &info, row0, nrows, err, sizeof err);
    memcpy(shape, info.shape, sizeof shape);
    shape[0] = nrows;
    /* the leader reads its rows straight into the result (the gather then moves only the
     * other ranks' blocks); the others into a block of their own */
    sf_value *blk = rank == 0 ? sf_value_new(info.dtype, info.ndim, info.shape)
                              : sf_value_new(info.dtype, info.ndim, shape);
    int alloc_failed = !blk;
    char oom[1024] = "";
    if (alloc_failed) {
        char what[512], where[128];
        describe_alloc(what, sizeof what, info.dtype, info.ndim, rank == 0 ? info.shape : shape);
        if (rank == 0)
            snprintf(where, sizeof where, "the whole dataset, gathered on rank 0");
        else
            snprintf(where, sizeof where, "rows %lld..%lld on rank %d", (long long)row0,
                     (long long)(row0 + nrows), rank);
        snprintf(oom, sizeof oom, "%s: %s: out of memory for %s: %s", file, dset, where, what);
    }
    /* agree on the allocations before the read: under MPI the read is collective, and a
     * rank that gave up (typically the leader, which holds the whole dataset) would leave
     * the others waiting in it for ever */
    if (any_rank_failed(comm, alloc_failed)) {
        sf_value_unref(&blk);
        return alloc_failed ? sf_fail(t, "%s", oom)
               : rank == 0  ? sf_fail(t, "%s: %s: another rank could not allocate its rows", file, dset)
                            : 0;
    }
    rc = sf__h5_read_rows(file, dset, &ro, &info, row0, nrows, sf_value_data(blk), mpi, err,
                          sizeof err);
    /* agree on success before gathering, so no rank waits for a block that never comes */
    if (any_rank_failed(comm, rc != 0)) {
        sf_value_unref(&blk);
        return rc ? sf_fail(t, "%s", err)
               : rank == 0 ? sf_fail(t, "%s: %s: another rank's read failed", file, dset)
                           : 0;
    }
    rc = sf__comm_gather_into(comm, 0, rank == 0 ? NULL : blk, nrows, rank == 0 ? blk : NULL);
    if (rc) {
        sf_value_unref(&blk);
        return sf_fail(t, "%s: %s: gathering the blocks failed: %s", file, dset, sf_strerror(rc));
    }
    if (rank == 0) return sf_return(t, 0, blk);
    sf_value_unref(&blk);
    return 0;
}

/* Debug mode: the party's ranks are coroutines of one process (the mem party communicator,
 * which broadcasts a value by reference), so the leader allocates the whole result,
 * broadcasts it, and every rank reads its block of rows straight into its place: no block
 * of its own and no gather copy. The value is the kernel's own until the leader returns
 * it; the others only write their rows, then drop their reference. Returns the task's
 * status (sf_return / sf_fail on the leader; 0, or sf_fail naming its own failure, on the
 * others). */
static int read_shared(sf_task *t, sf_comm *comm, int rank, const char *file, const char *dset,
                       sf_h5_read_opts *ro, sf_h5_info *info, int64_t row0, int64_t nrows,
                       char *err, size_t errlen) {
    sf_value *res = NULL;
    char oom[1024] = "";
    if (rank == 0 && !(res = sf_value_new(info->dtype, info->ndim, info->shape))) {
        char what[512];
        describe_alloc(what, sizeof what, info->dtype, info->ndim, info->shape);
        snprintf(oom, sizeof oom, "%s: %s: out of memory for the whole dataset, gathered on rank 0: %s",
                 file, dset, what);
    }
    /* agree on the allocation first: a rank waiting in the bcast for a result that was never
     * made would wait for ever */
    if (any_rank_failed(comm, rank == 0 && !res))
        return rank == 0 ? sf_fail(t, "%s", oom[0] ? oom : "could not agree on the allocation") : 0;
    int brc = sf_comm_bcast(comm, 0, &res);
    if (brc || !res) {
        sf_value_unref(&res);
        return rank == 0 ? sf_fail(t, "%s: %s: broadcasting the result failed: %s", file, dset,
                                   sf_strerror(brc))
                         : sf_fail(t, "%s: %s: receiving the result failed: %s", file, dset,
                                   sf_strerror(brc));
    }
    size_t row_bytes = sf_dtype_size(info->dtype);
    for (int i = 1; i < info->ndim; i++) row_bytes *= (size_t)info->shape[i];
    int rc = sf__h5_read_rows(file, dset, ro, info, row0, nrows,
                              (char *)sf_value_data(res) + (size_t)row0 * row_bytes, NULL, err, errlen);
    int any = any_rank_failed(comm, rc != 0);
    if (rank != 0) {
        sf_value_unref(&res);
        return rc ? sf_fail(t, "%s", err) : 0;
    }
    if (any) {
        sf_value_unref(&res);
        return rc ? sf_fail(t, "%s", err) : sf_fail(t, "%s: %s: another rank's read failed", file, dset);
    }
    return sf_return(t, 0, res);
}

static int h5_read_kernel(sf_task *t) {
    sf_progress pr = {0};
    int rc = h5_read_body(t, &pr);
    pr.done = pr.total;
    sf__progress_end(&pr, rc == 0);
    return rc;
}

static int h5_write_task(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    const char *file = sf_arg_str(t, 1), *dset = sf_arg_str(t, 2);
    sf_ctx *sf = sf_task_ctx(t);
    if (!v) return sf_fail(t, "no value to write");
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    sf_h5_attr attrs[] = {
        {"program", sf_argv(sf)[0] ? sf_argv(sf)[0] : "?"},
        {"mode", sf_mode_name(sf_get_distribution_mode(sf))},
        {"party", sf_party_name(sf)},
        {"time", when},
    };
    char err[1024], tag[96], what[160];
    sf_progress pr;
    snprintf(what, sizeof what, "writing %s:%s", file, dset);
    sf__progress_begin(&pr, sf__progress_tag(sf, tag, sizeof tag), what, sf_value_nbytes(v), "B");
    int rc = sf__h5_write_atomic_progress(file, dset, v, attrs, 4, pr.on ? &pr : NULL, err,
                                          sizeof err);
    pr.done = pr.total;
    sf__progress_end(&pr, rc == 0);
    if (rc) return sf_fail(t, "%s", err);
    return sf_return(t, 0, sf_value_i64((int64_t)sf_value_nbytes(v)));
}

sf_obj sf__h5_read(sf_device dev, const char *file, const char *dataset, sf_site site) {
    dev.kind = SF_DEV_PYU_ALL;
    sf_argv_item args[2] = {SF_STR(file ? file : ""), SF_STR(dataset ? dataset : "")};
    return sf__remote_dev(dev, h5_read_kernel, site, 1, NULL, args, 2);
}

sf_obj sf__h5_write(sf_obj obj, const char *file, const char *dataset, sf_site site) {
    sf_entry *e = sf__obj_find(obj.sf, obj.id);
    if (!e)
        sf__fatal(obj.sf, SF_EXIT_FAILURE, "sf_h5_write at %s:%d: the object does not exist "
                  "(released already?)", sf__basename(site.file), site.line);
    sf_device owner = sf__pyu_of(obj.sf, e->owner);
    sf_argv_item args[3] = {SF_OBJ(obj), SF_STR(file ? file : ""), SF_STR(dataset ? dataset : "")};
    return sf__remote_dev(owner, h5_write_task, site, 1, NULL, args, 3);
}
