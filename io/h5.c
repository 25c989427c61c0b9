/*
 * HDF5 input/output for party-local data: see io/h5.h for the contract.
 *
 * Details beyond the header:
 *  - Element types: HDF5 integer types of 1, 2, 4 and 8 bytes (either sign, any byte
 *    order) and floating-point types of 4 and 8 bytes map to I8..U64, F32, F64; they are
 *    read with the matching native memory type, so HDF5 converts byte order (big-endian
 *    files work). Everything else (compound, string, enum, 16-bit or 128-bit float, ...)
 *    is SF_ETYPE. Written files use the native type of the value's dtype; SF_BYTES values
 *    are refused with SF_ETYPE (they would not read back as bytes).
 *  - A 0-d (scalar) dataset has one "row": read_rows(row0 0, nrows 1) reads it.
 *  - Status codes: missing/unreadable/non-HDF5 file, missing dataset, HDF5 failures and
 *    system-call failures: SF_EIO; unsupported element type, too many dimensions, an
 *    object that is not a dataset, a dataset that no longer matches the probed info:
 *    SF_ETYPE; rows outside the dataset, a dataset larger than max_bytes: SF_ERANGE;
 *    contiguous data that cannot fit in the file: SF_EIO; bad arguments, and data stored
 *    outside the file (external storage, virtual datasets) without allow_external:
 *    SF_EUSAGE; allocation failure: SF_ENOMEM.
 *  - Collective reads (mpi_comm non-NULL): the ranks agree (an MPI_Allreduce) after each
 *    step that can fail locally (file checks, open, dataset checks, the read), so an
 *    error on one rank (e.g. its row range) is returned on every rank instead of leaving
 *    the others blocked in the collective H5Dread; ranks other than the failing one get
 *    its status and message prefixed with its rank.
 *  - HDF5 is not built thread-safe here: call these functions from one thread at a time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "io/h5.h"

#include "core/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define H5IO_MSG 1024

/* ---------------------------------------------------------------- errors */

typedef struct ectx {
    const char *path, *dataset;
    char msg[H5IO_MSG];
} ectx;

static void ectx_init(ectx *e, const char *path, const char *dataset) {
    e->path = path ? path : "(null)";
    e->dataset = dataset ? dataset : "(null)";
    e->msg[0] = 0;
}

static int ectx_done(const ectx *e, int st, char *err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "%s", st ? e->msg : "");
    return st;
}

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct walk_data {
    char *buf;
    size_t len;
} walk_data;

static herr_t walk_cb(unsigned n, const H5E_error2_t *ed, void *data) {
    walk_data *w = data;
    if (n != 0) return 0; /* walking upward: entry 0 is the innermost */
    if (ed->desc && ed->desc[0]) {
        snprintf(w->buf, w->len, "%s", ed->desc);
    } else {
        char min[128];
        if (H5Eget_msg(ed->min_num, NULL, min, sizeof min) > 0)
            snprintf(w->buf, w->len, "%s", min);
    }
    return 0;
}

/* The innermost description on HDF5's current error stack ("" if none). Call right after
 * the failing HDF5 call: the next API call clears the stack. */
static void h5_innermost(char *buf, size_t len) {
    walk_data w = {buf, len};
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
}

/* Format "<path>: dataset "<ds>": <what>[ (HDF5: <innermost>)]" into e->msg; returns st. */
static int SF_PRINTF(4, 5) fail(ectx *e, int st, int with_h5, const char *fmt, ...) {
    char h5[512] = "";
    if (with_h5) h5_innermost(h5, sizeof h5);
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (snprintf(e->msg, sizeof e->msg, "%s: dataset \"%s\": %s%s%s%s", e->path, e->dataset,
                 what, h5[0] ? " (HDF5: " : "", h5, h5[0] ? ")" : "") < 0)
        e->msg[0] = 0; /* (truncation is fine) */
    return st;
}

/* ---------------------------------------------------------------- types and shapes */

static hid_t native_type(sf_dtype dt) {
    switch (dt) {
    case SF_I8: return H5T_NATIVE_INT8;
    case SF_I16: return H5T_NATIVE_INT16;
    case SF_I32: return H5T_NATIVE_INT32;
    case SF_I64: return H5T_NATIVE_INT64;
    case SF_U8: return H5T_NATIVE_UINT8;
    case SF_U16: return H5T_NATIVE_UINT16;
    case SF_U32: return H5T_NATIVE_UINT32;
    case SF_U64: return H5T_NATIVE_UINT64;
    case SF_F32: return H5T_NATIVE_FLOAT;
    case SF_F64: return H5T_NATIVE_DOUBLE;
    default: return H5I_INVALID_HID;
    }
}

static void describe_type(hid_t t, char *buf, size_t len) {
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    const char *name;
    switch (c) {
    case H5T_INTEGER: {
        H5T_sign_t s = H5Tget_sign(t);
        snprintf(buf, len, "%zu-bit %s integer", sz * 8, s == H5T_SGN_NONE ? "unsigned" : "signed");
        return;
    }
    case H5T_FLOAT: snprintf(buf, len, "%zu-bit float", sz * 8); return;
    case H5T_STRING:
        snprintf(buf, len, "%s string", H5Tis_variable_str(t) > 0 ? "variable-length" : "fixed-length");
        return;
    case H5T_TIME: name = "time"; break;
    case H5T_BITFIELD: name = "bitfield"; break;
    case H5T_OPAQUE: name = "opaque"; break;
    case H5T_COMPOUND: name = "compound"; break;
    case H5T_REFERENCE: name = "reference"; break;
    case H5T_ENUM: name = "enum"; break;
    case H5T_VLEN: name = "variable-length sequence"; break;
    case H5T_ARRAY: name = "array"; break;
    default: name = "unknown"; break;
    }
    snprintf(buf, len, "%s (%zu bytes)", name, sz);
}

/* 0 and *dt, or -1 for an unsupported type. A fixed-length string type maps to uint8 with
 * *strsz its length (each string becomes a row of its bytes, padding included); *strsz is
 * 0 for every other type. */
static int map_type(hid_t t, sf_dtype *dt, size_t *strsz) {
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    *strsz = 0;
    if (c == H5T_STRING) {
        if (H5Tis_variable_str(t) != 0 || sz == 0) return -1;
        *dt = SF_U8;
        *strsz = sz;
        return 0;
    }
    if (c == H5T_INTEGER) {
        H5T_sign_t s = H5Tget_sign(t);
        if (s == H5T_SGN_ERROR) return -1;
        int u = (s == H5T_SGN_NONE);
        switch (sz) {
        case 1: *dt = u ? SF_U8 : SF_I8; return 0;
        case 2: *dt = u ? SF_U16 : SF_I16; return 0;
        case 4: *dt = u ? SF_U32 : SF_I32; return 0;
        case 8: *dt = u ? SF_U64 : SF_I64; return 0;
        default: return -1;
        }
    }
    if (c == H5T_FLOAT) {
        if (sz == 4) {
            *dt = SF_F32;
            return 0;
        }
        if (sz == 8) {
            *dt = SF_F64;
            return 0;
        }
    }
    return -1;
}

static void format_shape(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* ---------------------------------------------------------------- opening */

/* Plain-file checks before HDF5 sees the file, for clear messages. */
static int precheck_file(ectx *e) {
    struct stat st;
    if (stat(e->path, &st) != 0) {
        int er = errno;
        return fail(e, SF_EIO, 0, "%s", er == ENOENT ? "no such file" : strerror(er));
    }
    if (S_ISDIR(st.st_mode)) return fail(e, SF_EIO, 0, "is a directory, not an HDF5 file");
    if (!S_ISREG(st.st_mode)) return fail(e, SF_EIO, 0, "not a regular file");
    int fd = open(e->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(e, SF_EIO, 0, "cannot open for reading: %s", strerror(errno));
    close(fd);
#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(e->path, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(e->path);
#endif
    if (is == 0) return fail(e, SF_EIO, 0, "not an HDF5 file");
    if (is < 0) return fail(e, SF_EIO, 1, "cannot read the file");
    return 0;
}

static int check_dataset_name(ectx *e) {
    const char *d = e->dataset;
    while (*d == '/') d++;
    if (!*d) return fail(e, SF_EUSAGE, 0, "empty dataset name");
    return 0;
}

/* 1 if every component of `name` exists as a link in `file`. */
static int link_exists(hid_t file, const char *name) {
    size_t n = strlen(name);
    char *buf = malloc(n + 1);
    if (!buf) return 0;
    memcpy(buf, name, n + 1);
    int ok = 1;
    for (size_t i = 1; i <= n && ok; i++) {
        if (i == n || buf[i] == '/') {
            char c = buf[i];
            buf[i] = 0;
            if (!(i == 1 && buf[0] == '/')) ok = H5Lexists(file, buf, H5P_DEFAULT) > 0;
            buf[i] = c;
        }
    }
    free(buf);
    return ok;
}

/* fndim: the file dataspace's rank (info.ndim is one more for fixed-length strings, whose
 * bytes are the last dimension); mtype: the memory type of reads (the native type of
 * info.dtype, or for strings a copy of the file's string type: raw bytes, no conversion). */
typedef struct h5ds {
    hid_t file, dset, space, type, mtype;
    int fndim, own_mtype;
    sf_h5_info info;
} h5ds;

static void ds_init(h5ds *d) {
    d->file = d->dset = d->space = d->type = d->mtype = H5I_INVALID_HID;
    d->fndim = d->own_mtype = 0;
    memset(&d->info, 0, sizeof d->info);
}

static void ds_close(h5ds *d) {
    if (d->own_mtype && d->mtype >= 0) H5Tclose(d->mtype);
    if (d->type >= 0) H5Tclose(d->type);
    if (d->space >= 0) H5Sclose(d->space);
    if (d->dset >= 0) H5Dclose(d->dset);
    if (d->file >= 0) H5Fclose(d->file);
    ds_init(d);
}

static int open_file(ectx *e, hid_t fapl, h5ds *d) {
    d->file = H5Fopen(e->path, H5F_ACC_RDONLY, fapl);
    if (d->file < 0) return fail(e, SF_EIO, 1, "cannot open the HDF5 file");
    return 0;
}

#define ALLOW_EXTERNAL_HINT                                                                  \
    "pass --sf-h5-allow-external=1 (or SF_H5_ALLOW_EXTERNAL=1) to read it if you trust the file"

/* Data stored outside the file: external storage (H5Pset_external: raw data in files the
 * HDF5 file names, any file this process can read) and virtual datasets (data mapped from
 * other files) are refused unless opts->allow_external. Checked right after H5Dopen2,
 * before anything reads the data. */
static int check_storage_location(ectx *e, const h5ds *d, const sf_h5_read_opts *opts) {
    hid_t dcpl = H5Dget_create_plist(d->dset);
    if (dcpl < 0) return fail(e, SF_EIO, 1, "cannot read the dataset's storage properties");
    int st = 0;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int next = H5Pget_external_count(dcpl);
    if (layout < 0 || next < 0) {
        st = fail(e, SF_EIO, 1, "cannot read the dataset's storage layout");
    } else if (next > 0 && !opts->allow_external) {
        char name[512] = "";
        if (H5Pget_external(dcpl, 0, sizeof name, name, NULL, NULL) < 0)
            snprintf(name, sizeof name, "?");
        name[sizeof name - 1] = 0;
        st = fail(e, SF_EUSAGE, 0,
                  "its data are stored outside the HDF5 file, in external file \"%s\"%s "
                  "(HDF5 external storage, which can name any file on this machine): refused; "
                  ALLOW_EXTERNAL_HINT,
                  name, next > 1 ? " and others" : "");
    } else if (layout == H5D_VIRTUAL && !opts->allow_external) {
        size_t nmap = 0;
        char name[512] = "";
        if (H5Pget_virtual_count(dcpl, &nmap) < 0 || nmap == 0 ||
            H5Pget_virtual_filename(dcpl, 0, name, sizeof name) < 0)
            snprintf(name, sizeof name, "?");
        name[sizeof name - 1] = 0;
        st = fail(e, SF_EUSAGE, 0,
                  "is a virtual dataset (H5D_VIRTUAL) mapping data from file \"%s\"%s: "
                  "refused; " ALLOW_EXTERNAL_HINT,
                  name, nmap > 1 ? " and others" : "");
    }
    H5Pclose(dcpl);
    return st;
}

/* The machine's physical memory in bytes (0 if unknown): the default read limit, since a
 * larger dataset could never be held. */
static uint64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), pg = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || pg <= 0) return 0;
    uint64_t b;
    return __builtin_mul_overflow((uint64_t)pages, (uint64_t)pg, &b) ? UINT64_MAX : b;
}

/* Extent bombs: a few-KB file can declare a dataset of any size, and the reader allocates
 * what it declares. Checked from the metadata alone, before anyone allocates:
 *  - contiguous data whose storage is allocated in the file must fit in it: offset + size
 *    <= the file's size (else the file is truncated or lies about its shape);
 *  - every dataset must be at most opts->max_bytes (default: physical memory). This is what
 *    bounds chunked or filtered (compressed) data and contiguous data with no storage
 *    allocated (read as fill values), which legitimately hold more than the file's size. */
static int check_size(ectx *e, const h5ds *d, const sf_h5_read_opts *opts) {
    char shape[256];
    format_shape(d->info.ndim, d->info.shape, shape, sizeof shape);
    uint64_t nelems = 1, file_bytes, mem_bytes;
    for (int i = 0; i < d->info.ndim; i++)
        if (__builtin_mul_overflow(nelems, (uint64_t)d->info.shape[i], &nelems))
            return fail(e, SF_ERANGE, 0, "shape %s: the number of elements overflows 64 bits",
                        shape);
    size_t tsize = H5Tget_size(d->type);
    if (!tsize) return fail(e, SF_EIO, 1, "cannot read the element size");
    if (d->own_mtype) tsize = 1; /* fixed-length strings: their bytes are counted in nelems */
    if (__builtin_mul_overflow(nelems, (uint64_t)tsize, &file_bytes) ||
        __builtin_mul_overflow(nelems, (uint64_t)sf_dtype_size(d->info.dtype), &mem_bytes))
        return fail(e, SF_ERANGE, 0, "%s %s: the size in bytes overflows 64 bits",
                    sf_dtype_name(d->info.dtype), shape);

    hid_t dcpl = H5Dget_create_plist(d->dset);
    if (dcpl < 0) return fail(e, SF_EIO, 1, "cannot read the dataset's storage properties");
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int next = H5Pget_external_count(dcpl);
    H5Pclose(dcpl);
    if (layout < 0 || next < 0) return fail(e, SF_EIO, 1, "cannot read the dataset's storage layout");
    if (layout == H5D_CONTIGUOUS && next == 0 && file_bytes > 0) {
        haddr_t off = H5Dget_offset(d->dset); /* HADDR_UNDEF: no storage allocated */
        if (off != HADDR_UNDEF) {
            hsize_t fsize = 0;
            if (H5Fget_filesize(d->file, &fsize) < 0)
                return fail(e, SF_EIO, 1, "cannot read the file's size");
            if (off > fsize || file_bytes > fsize - off)
                return fail(e, SF_EIO, 0,
                            "declares %llu bytes (%s %s, contiguous at offset %llu) but the file "
                            "has only %llu bytes: truncated or corrupt, refused before allocating it",
                            (unsigned long long)file_bytes, sf_dtype_name(d->info.dtype), shape,
                            (unsigned long long)off, (unsigned long long)fsize);
        }
    }
    uint64_t limit = opts->max_bytes ? opts->max_bytes : physical_memory();
    if (limit && mem_bytes > limit)
        return fail(e, SF_ERANGE, 0,
                    "is %llu bytes (%s %s), more than the limit of %llu bytes %s: refused before "
                    "allocating it; raise the limit with --sf-h5-max-bytes=SIZE (or "
                    "SF_H5_MAX_BYTES) if the data are meant to be this large",
                    (unsigned long long)mem_bytes, sf_dtype_name(d->info.dtype), shape,
                    (unsigned long long)limit,
                    opts->max_bytes ? "set by --sf-h5-max-bytes"
                                    : "(the machine's physical memory, the default of "
                                      "--sf-h5-max-bytes)");
    return 0;
}

/* Open the dataset, check where its data are (check_storage_location) and fill d->info
 * (after open_file), then check its size (check_size). */
static int open_dataset(ectx *e, h5ds *d, const sf_h5_read_opts *opts) {
    d->dset = H5Dopen2(d->file, e->dataset, H5P_DEFAULT);
    if (d->dset < 0) {
        char h5[512];
        h5_innermost(h5, sizeof h5);
        if (!link_exists(d->file, e->dataset)) return fail(e, SF_EIO, 0, "no such dataset");
        return fail(e, SF_ETYPE, 0, "exists but cannot be opened as a dataset (a group or "
                    "another kind of object)%s%s%s", h5[0] ? " (HDF5: " : "", h5, h5[0] ? ")" : "");
    }
    int st = check_storage_location(e, d, opts);
    if (st) return st;
    d->space = H5Dget_space(d->dset);
    d->type = H5Dget_type(d->dset);
    if (d->space < 0 || d->type < 0) return fail(e, SF_EIO, 1, "cannot read the dataset's header");
    size_t strsz = 0;
    if (map_type(d->type, &d->info.dtype, &strsz) != 0) {
        char desc[128];
        describe_type(d->type, desc, sizeof desc);
        return fail(e, SF_ETYPE, 0,
                    "unsupported element type %s (supported: 8/16/32/64-bit integers, "
                    "32/64-bit floats, fixed-length strings)",
                    desc);
    }
    if (strsz) {
        if ((d->mtype = H5Tcopy(d->type)) < 0) return fail(e, SF_EIO, 1, "cannot copy the string type");
        d->own_mtype = 1;
    } else {
        d->mtype = native_type(d->info.dtype);
    }
    H5S_class_t sc = H5Sget_simple_extent_type(d->space);
    if (sc == H5S_SCALAR) {
        if (strsz) return fail(e, SF_ETYPE, 0, "a single (scalar) fixed-length string; string "
                               "datasets are read as rows of bytes and need a dimension");
        d->info.ndim = 0;
        return 0;
    }
    if (sc != H5S_SIMPLE)
        return fail(e, SF_ETYPE, 0, "unsupported dataspace (%s)",
                    sc == H5S_NULL ? "null: no elements, not even a shape" : "unknown class");
    int nd = H5Sget_simple_extent_ndims(d->space);
    if (nd < 0) return fail(e, SF_EIO, 1, "cannot read the dataset's shape");
    if (nd > SF_MAX_DIMS)
        return fail(e, SF_ETYPE, 0, "%d dimensions, more than the %d supported (SF_MAX_DIMS)", nd,
                    SF_MAX_DIMS);
    hsize_t dims[H5S_MAX_RANK];
    if (H5Sget_simple_extent_dims(d->space, dims, NULL) < 0)
        return fail(e, SF_EIO, 1, "cannot read the dataset's shape");
    if (strsz && nd + 1 > SF_MAX_DIMS)
        return fail(e, SF_ETYPE, 0, "%d dimensions of strings: with the string's bytes more than "
                    "the %d supported (SF_MAX_DIMS)", nd, SF_MAX_DIMS);
    d->fndim = nd;
    d->info.ndim = strsz ? nd + 1 : nd;
    for (int i = 0; i < nd; i++) {
        if (dims[i] > (hsize_t)INT64_MAX)
            return fail(e, SF_ERANGE, 0, "dimension %d too large (%llu)", i,
                        (unsigned long long)dims[i]);
        d->info.shape[i] = (int64_t)dims[i];
    }
    if (strsz) d->info.shape[nd] = (int64_t)strsz;
    return check_size(e, d, opts);
}

/* ---------------------------------------------------------------- probe */

static const sf_h5_read_opts default_read_opts;

int sf__h5_probe(const char *path, const char *dataset, const sf_h5_read_opts *opts,
                 sf_h5_info *info, char *err, size_t errlen) {
    ectx e;
    ectx_init(&e, path, dataset);
    if (!path || !*path || !dataset || !info)
        return ectx_done(&e, fail(&e, SF_EUSAGE, 0, "bad arguments to sf__h5_probe"), err, errlen);
    if (!opts) opts = &default_read_opts;
    quiet();
    int st = check_dataset_name(&e);
    if (!st) st = precheck_file(&e);
    h5ds d;
    ds_init(&d);
    if (!st) st = open_file(&e, H5P_DEFAULT, &d);
    if (!st) st = open_dataset(&e, &d, opts);
    if (!st) *info = d.info;
    ds_close(&d);
    return ectx_done(&e, st, err, errlen);
}

/* ---------------------------------------------------------------- read */

/* Collective agreement on a step's outcome (no-op without a communicator): returns 0 if
 * every rank succeeded, else a failing rank's status, with its message on every rank. */
static int agree(const MPI_Comm *comm, int st, ectx *e) {
    if (!comm) return st;
    int rank;
    MPI_Comm_rank(*comm, &rank);
    int in[2] = {st ? 0 : 1, rank}, out[2];
    MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MINLOC, *comm);
    if (out[0] == 1) return 0;
    int root = out[1], rst = st;
    char msg[H5IO_MSG];
    if (rank == root) memcpy(msg, e->msg, sizeof msg);
    MPI_Bcast(&rst, 1, MPI_INT, root, *comm);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, root, *comm);
    if (st) return st; /* this rank failed too: keep its own message */
    msg[sizeof msg - 1] = 0;
    if (snprintf(e->msg, sizeof e->msg, "rank %d of the communicator failed: %s", root, msg) < 0)
        e->msg[0] = 0; /* (truncation is fine) */
    return rst;
}

static int check_against(ectx *e, const sf_h5_info *want, const sf_h5_info *got) {
    int same = want->dtype == got->dtype && want->ndim == got->ndim;
    for (int i = 1; same && i < got->ndim; i++) same = want->shape[i] == got->shape[i];
    if (same) return 0;
    char a[256], b[256];
    format_shape(got->ndim, got->shape, a, sizeof a);
    if (want->ndim >= 0 && want->ndim <= SF_MAX_DIMS)
        format_shape(want->ndim, want->shape, b, sizeof b);
    else
        snprintf(b, sizeof b, "(invalid ndim %d)", want->ndim);
    return fail(e, SF_ETYPE, 0, "the file has %s %s, the caller expects %s %s",
                sf_dtype_name(got->dtype), a, sf_dtype_name(want->dtype), b);
}

/* Bytes per block: SF_H5_BLOCK_BYTES, or the hidden test knob of that name (the
 * environment) that makes small datasets take several blocks. */
static size_t block_bytes(void) {
    const char *s = getenv("SF_H5_BLOCK_BYTES");
    long long v = s ? atoll(s) : 0;
    return v > 0 ? (size_t)v : SF_H5_BLOCK_BYTES;
}

/* rows [row0, row0 + nrows) in blocks of about SF_H5_BLOCK_BYTES, updating `pr` after
 * each; under MPI every rank makes as many collective reads as the rank with the most
 * blocks (empty selections once its own rows are read), and the ranks agree on each
 * read's outcome before the next. */
static int read_blocks(ectx *e, const h5ds *d, int64_t row0, int64_t nrows, size_t rowelems,
                       void *dst, const MPI_Comm *comm, hid_t dxpl, sf_progress *pr) {
    size_t rowbytes = rowelems * sf_dtype_size(d->info.dtype);
    int64_t rpb = rowbytes ? (int64_t)(block_bytes() / rowbytes) : nrows;
    if (rpb < 1) rpb = 1;
    long long nblk = nrows > 0 ? (nrows + rpb - 1) / rpb : 0, mine = nblk;
    if (comm) MPI_Allreduce(&mine, &nblk, 1, MPI_LONG_LONG, MPI_MAX, *comm);
    if (comm && nblk == 0) nblk = 1; /* the collective read happens even without rows */
    hid_t mt = d->mtype;
    int st = 0;
    for (long long i = 0; i < nblk && !st; i++) {
        int64_t r0 = i * rpb, n = nrows - r0 < rpb ? nrows - r0 : rpb;
        if (n < 0) n = 0;
        hid_t fs = H5Scopy(d->space), ms = H5I_INVALID_HID;
        unsigned char dummy[16];
        void *buf = dummy;
        if (fs < 0) {
            st = fail(e, SF_EIO, 1, "cannot copy the dataspace");
        } else if (n == 0) {
            ms = H5Screate(H5S_SCALAR);
            if (ms < 0 || H5Sselect_none(ms) < 0 || H5Sselect_none(fs) < 0)
                st = fail(e, SF_EIO, 1, "cannot build an empty selection");
        } else {
            hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
            start[0] = (hsize_t)(row0 + r0);
            count[0] = (hsize_t)n;
            for (int k = 1; k < d->fndim; k++) count[k] = (hsize_t)d->info.shape[k];
            buf = (char *)dst + (size_t)r0 * rowbytes;
            if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
                st = fail(e, SF_EIO, 1, "cannot select rows");
            else if ((ms = H5Screate_simple(d->fndim, count, NULL)) < 0)
                st = fail(e, SF_EIO, 1, "cannot create the memory dataspace");
        }
        if (!st && H5Dread(d->dset, mt, ms, fs, dxpl, buf) < 0)
            st = fail(e, SF_EIO, 1, "cannot read rows [%lld, %lld + %lld)", (long long)(row0 + r0),
                      (long long)(row0 + r0), (long long)n);
        if (ms >= 0) H5Sclose(ms);
        if (fs >= 0) H5Sclose(fs);
        if (comm) st = agree(comm, st, e);
        if (pr) sf__progress_update(pr, (uint64_t)((double)pr->total * (double)(i + 1) / (double)nblk));
    }
    return st;
}

int sf__h5_read_rows(const char *path, const char *dataset, const sf_h5_read_opts *opts,
                     const sf_h5_info *info, int64_t row0, int64_t nrows, void *dst,
                     const void *mpi_comm, char *err, size_t errlen) {
    ectx e;
    ectx_init(&e, path, dataset);
    const MPI_Comm *comm = mpi_comm;
    if (!opts) opts = &default_read_opts;
    quiet();
    int st = 0;
    if (!path || !*path || !dataset || !info)
        st = fail(&e, SF_EUSAGE, 0, "bad arguments to sf__h5_read_rows");
    if (!st) st = check_dataset_name(&e);
    if (!st && (row0 < 0 || nrows < 0))
        st = fail(&e, SF_ERANGE, 0, "bad row range: row0 %lld, nrows %lld", (long long)row0,
                  (long long)nrows);
    if (!st) st = precheck_file(&e);
    st = agree(comm, st, &e);
    if (st) return ectx_done(&e, st, err, errlen);

    hid_t fapl = H5I_INVALID_HID, dxpl = H5P_DEFAULT, fspace = H5I_INVALID_HID,
          mspace = H5I_INVALID_HID;
    h5ds d;
    ds_init(&d);
    if (comm) {
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl < 0 || H5Pset_fapl_mpio(fapl, *comm, MPI_INFO_NULL) < 0)
            st = fail(&e, SF_EIO, 1, "cannot set up the MPI-IO file driver");
        dxpl = H5Pcreate(H5P_DATASET_XFER);
        if (!st && (dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0))
            st = fail(&e, SF_EIO, 1, "cannot set up collective transfers");
    }
    if (!st) st = open_file(&e, comm ? fapl : H5P_DEFAULT, &d);
    st = agree(comm, st, &e);
    if (st) goto out;

    st = open_dataset(&e, &d, opts);
    if (!st) st = check_against(&e, info, &d.info);
    int64_t total = d.info.ndim ? d.info.shape[0] : 1;
    if (!st && (row0 > total || nrows > total - row0))
        st = fail(&e, SF_ERANGE, 0,
                  "rows [%lld, %lld + %lld) outside the dataset's %lld row%s", (long long)row0,
                  (long long)row0, (long long)nrows, (long long)total, total == 1 ? "" : "s");
    size_t rowelems = 1, nelems = 0;
    for (int i = 1; !st && i < d.info.ndim; i++)
        if (__builtin_mul_overflow(rowelems, (size_t)d.info.shape[i], &rowelems))
            st = fail(&e, SF_ERANGE, 0, "row size overflows");
    size_t nbytes = 0;
    if (!st && (__builtin_mul_overflow(rowelems, (size_t)nrows, &nelems) ||
                __builtin_mul_overflow(nelems, sf_dtype_size(d.info.dtype), &nbytes)))
        st = fail(&e, SF_ERANGE, 0, "%lld rows overflow the address space", (long long)nrows);
    if (!st && nelems > 0 && !dst) st = fail(&e, SF_EUSAGE, 0, "NULL destination buffer");
    (void)nbytes;

    /* selections */
    if (!st) {
        fspace = H5Scopy(d.space);
        if (fspace < 0) st = fail(&e, SF_EIO, 1, "cannot copy the dataspace");
    }
    if (!st) {
        if (nelems == 0) {
            mspace = H5Screate(H5S_SCALAR);
            if (mspace < 0 || H5Sselect_none(mspace) < 0 || H5Sselect_none(fspace) < 0)
                st = fail(&e, SF_EIO, 1, "cannot build an empty selection");
        } else if (d.fndim == 0) {
            mspace = H5Screate(H5S_SCALAR);
            if (mspace < 0) st = fail(&e, SF_EIO, 1, "cannot create the memory dataspace");
        } else {
            hsize_t start[H5S_MAX_RANK], count[H5S_MAX_RANK];
            start[0] = (hsize_t)row0;
            count[0] = (hsize_t)nrows;
            for (int i = 1; i < d.fndim; i++) {
                start[i] = 0;
                count[i] = (hsize_t)d.info.shape[i];
            }
            if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
                st = fail(&e, SF_EIO, 1, "cannot select rows");
            else if ((mspace = H5Screate_simple(d.fndim, count, NULL)) < 0)
                st = fail(&e, SF_EIO, 1, "cannot create the memory dataspace");
        }
    }
    st = agree(comm, st, &e);
    if (st) goto out;

    /* A collective read needs every rank, even one with no rows; but a dataset with no
     * elements has no storage to read (HDF5's MPI-IO path fails on it), and every rank
     * sees that from the same metadata. */
    int dset_empty = 0;
    for (int i = 0; i < d.info.ndim; i++) dset_empty |= d.info.shape[i] == 0;
    /* in blocks when some rank shows progress (the ranks must make the same reads) */
    int blocks = opts->progress != NULL;
    if (comm) {
        int any = blocks;
        MPI_Allreduce(&blocks, &any, 1, MPI_INT, MPI_MAX, *comm);
        blocks = any;
    }
    if (blocks && d.info.ndim > 0 && !dset_empty) {
        st = read_blocks(&e, &d, row0, nrows, rowelems, dst, comm, dxpl, opts->progress);
    } else if (nelems > 0 || (comm && !dset_empty)) {
        unsigned char dummy[16];
        if (H5Dread(d.dset, d.mtype, mspace, fspace, dxpl,
                    nelems ? dst : (void *)dummy) < 0)
            st = fail(&e, SF_EIO, 1, "cannot read rows [%lld, %lld + %lld)", (long long)row0,
                      (long long)row0, (long long)nrows);
    }
    st = agree(comm, st, &e);

out:
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    ds_close(&d);
    if (fapl >= 0) H5Pclose(fapl);
    if (dxpl >= 0 && dxpl != H5P_DEFAULT) H5Pclose(dxpl);
    return ectx_done(&e, st, err, errlen);
}

/* ---------------------------------------------------------------- write */

static int fsync_path(const char *p, int dir) {
    int fd = open(p, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = fsync(fd);
    int er = errno;
    if (close(fd) != 0 && r == 0) return -1;
    if (r != 0 && dir && (er == EINVAL || er == ENOTSUP)) r = 0; /* no dir fsync here */
    errno = er;
    return r;
}

static int write_attrs(ectx *e, hid_t dset, const sf_h5_attr *attrs, int nattrs) {
    hid_t str = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    int rc = 0;
    if (str < 0 || sp < 0 || H5Tset_size(str, H5T_VARIABLE) < 0 ||
        H5Tset_cset(str, H5T_CSET_UTF8) < 0)
        rc = fail(e, SF_EIO, 1, "cannot create the string type for attributes");
    for (int i = 0; !rc && i < nattrs; i++) {
        const char *val = attrs[i].value ? attrs[i].value : "";
        hid_t a = H5Acreate2(dset, attrs[i].name, str, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0) {
            rc = fail(e, SF_EIO, 1, "cannot create attribute \"%s\"", attrs[i].name);
            break;
        }
        if (H5Awrite(a, str, &val) < 0)
            rc = fail(e, SF_EIO, 1, "cannot write attribute \"%s\"", attrs[i].name);
        if (H5Aclose(a) < 0 && !rc)
            rc = fail(e, SF_EIO, 1, "cannot close attribute \"%s\"", attrs[i].name);
    }
    if (sp >= 0) H5Sclose(sp);
    if (str >= 0) H5Tclose(str);
    return rc;
}

static uint32_t random32(void) {
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static uint32_t ctr;
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 16) ^ (++ctr * 0x9E3779B9u);
}

/* The value's rows in blocks of about SF_H5_BLOCK_BYTES, updating `pr` after each. */
static int write_blocks(ectx *e, hid_t ds, hid_t mt, hid_t sp, const sf_value *v, const char *tmp,
                        sf_progress *pr) {
    int nd = sf_value_ndim(v);
    const int64_t *shape = sf_value_shape(v);
    size_t rowbytes = sf_value_nbytes(v) / (size_t)shape[0];
    int64_t rows = shape[0], rpb = (int64_t)(block_bytes() / rowbytes);
    if (rpb < 1) rpb = 1;
    for (int64_t r0 = 0; r0 < rows; r0 += rpb) {
        int64_t n = rows - r0 < rpb ? rows - r0 : rpb;
        hsize_t start[SF_MAX_DIMS] = {0}, count[SF_MAX_DIMS];
        start[0] = (hsize_t)r0;
        count[0] = (hsize_t)n;
        for (int k = 1; k < nd; k++) count[k] = (hsize_t)shape[k];
        hid_t fs = H5Scopy(sp), ms = H5Screate_simple(nd, count, NULL);
        int bad = fs < 0 || ms < 0 ||
                  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                  H5Dwrite(ds, mt, ms, fs, H5P_DEFAULT,
                           (const char *)sf_value_cdata(v) + (size_t)r0 * rowbytes) < 0;
        if (ms >= 0) H5Sclose(ms);
        if (fs >= 0) H5Sclose(fs);
        if (bad) return fail(e, SF_EIO, 1, "cannot write rows [%lld, %lld) to %s", (long long)r0,
                             (long long)(r0 + n), tmp);
        sf__progress_update(pr, (uint64_t)(r0 + n) * rowbytes);
    }
    return 0;
}

int sf__h5_write_atomic(const char *path, const char *dataset, const sf_value *v,
                        const sf_h5_attr *attrs, int nattrs, char *err, size_t errlen) {
    return sf__h5_write_atomic_progress(path, dataset, v, attrs, nattrs, NULL, err, errlen);
}

int sf__h5_write_atomic_progress(const char *path, const char *dataset, const sf_value *v,
                                 const sf_h5_attr *attrs, int nattrs, sf_progress *pr,
                                 char *err, size_t errlen) {
    ectx e;
    ectx_init(&e, path, dataset);
    if (!path || !*path || !dataset || !v || nattrs < 0 || (nattrs > 0 && !attrs))
        return ectx_done(&e, fail(&e, SF_EUSAGE, 0, "bad arguments to sf__h5_write_atomic"), err,
                         errlen);
    quiet();
    int st = check_dataset_name(&e);
    for (int i = 0; !st && i < nattrs; i++) {
        if (!attrs[i].name || !attrs[i].name[0])
            st = fail(&e, SF_EUSAGE, 0, "attribute %d has no name", i);
        for (int j = 0; !st && j < i; j++)
            if (!strcmp(attrs[i].name, attrs[j].name))
                st = fail(&e, SF_EUSAGE, 0, "duplicate attribute \"%s\"", attrs[i].name);
    }
    sf_dtype dt = sf_value_dtype(v);
    hid_t mt = native_type(dt);
    if (!st && mt < 0)
        st = fail(&e, SF_ETYPE, 0, "cannot write %s values (only integer and float arrays)",
                  sf_dtype_name(dt));
    if (st) return ectx_done(&e, st, err, errlen);

    /* The mode the file will have: that of the file it replaces, or 0666 & ~umask for a
     * new one (the kernel applies the umask to the 0666 given to open). */
    struct stat tst;
    int replacing = stat(path, &tst) == 0 && S_ISREG(tst.st_mode);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 64);
    if (!tmp) return ectx_done(&e, fail(&e, SF_ENOMEM, 0, "out of memory"), err, errlen);

    int created = 0, fd = -1;
    mode_t final_mode = 0, cur_mode = 0;
    hid_t f = H5I_INVALID_HID, sp = H5I_INVALID_HID, lcpl = H5I_INVALID_HID,
          ds = H5I_INVALID_HID;
    /* Created here, O_EXCL, so it is certainly ours (and unlinked on every failure below),
     * then written by HDF5 (H5F_ACC_TRUNC on the same path). While it is written it is
     * private to the owner when it replaces a file (0600, the final mode set just before
     * the rename), so no one reads a partial file or new data through wider permissions. */
    for (int attempt = 0; fd < 0 && attempt < 8; attempt++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%08x", path, (long)getpid(), random32());
        fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, replacing ? 0600 : 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        st = fail(&e, SF_EIO, 0, "cannot create the temporary file %s: %s", tmp, strerror(errno));
        goto out;
    }
    created = 1;
    struct stat fst;
    if (fstat(fd, &fst) != 0) {
        st = fail(&e, SF_EIO, 0, "cannot stat the temporary file %s: %s", tmp, strerror(errno));
        goto out;
    }
    cur_mode = fst.st_mode & 07777;
    final_mode = replacing ? tst.st_mode & 07777 : cur_mode;
    if ((cur_mode & 0600) != 0600) { /* HDF5 opens it by name, for reading and writing */
        cur_mode |= 0600;
        if (fchmod(fd, cur_mode) != 0) {
            st = fail(&e, SF_EIO, 0, "cannot make %s writable: %s", tmp, strerror(errno));
            goto out;
        }
    }
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        st = fail(&e, SF_EIO, 1, "cannot create the temporary file %s", tmp);
        goto out;
    }
    int nd = sf_value_ndim(v);
    if (nd == 0) {
        sp = H5Screate(H5S_SCALAR);
    } else {
        hsize_t dims[SF_MAX_DIMS];
        const int64_t *shape = sf_value_shape(v);
        for (int i = 0; i < nd; i++) dims[i] = (hsize_t)shape[i];
        sp = H5Screate_simple(nd, dims, NULL);
    }
    if (sp < 0) {
        st = fail(&e, SF_EIO, 1, "cannot create the dataspace");
        goto out;
    }
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        st = fail(&e, SF_EIO, 1, "cannot create the link property list");
        goto out;
    }
    ds = H5Dcreate2(f, dataset, mt, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) {
        st = fail(&e, SF_EIO, 1, "cannot create the dataset in %s", tmp);
        goto out;
    }
    if (pr && nd > 0 && sf_value_nelems(v) > 0) {
        if ((st = write_blocks(&e, ds, mt, sp, v, tmp, pr)) != 0) goto out;
    } else if (sf_value_nelems(v) > 0 &&
               H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, sf_value_cdata(v)) < 0) {
        st = fail(&e, SF_EIO, 1, "cannot write the data to %s", tmp);
        goto out;
    }
    if ((st = write_attrs(&e, ds, attrs, nattrs)) != 0) goto out;
    herr_t r = H5Dclose(ds);
    ds = H5I_INVALID_HID;
    if (r < 0) {
        st = fail(&e, SF_EIO, 1, "cannot close the dataset in %s", tmp);
        goto out;
    }
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
        st = fail(&e, SF_EIO, 1, "cannot flush %s", tmp);
        goto out;
    }
    r = H5Fclose(f);
    f = H5I_INVALID_HID;
    if (r < 0) {
        st = fail(&e, SF_EIO, 1, "cannot close %s", tmp);
        goto out;
    }
    if (final_mode != cur_mode && fchmod(fd, final_mode) != 0) {
        st = fail(&e, SF_EIO, 0, "cannot set the mode of %s to %04o: %s", tmp,
                  (unsigned)final_mode, strerror(errno));
        goto out;
    }
    if (fsync(fd) != 0) {
        st = fail(&e, SF_EIO, 0, "cannot fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    struct stat now;
    if (stat(tmp, &now) != 0 || now.st_dev != fst.st_dev || now.st_ino != fst.st_ino) {
        st = fail(&e, SF_EIO, 0,
                  "the temporary file %s was replaced or removed while it was written", tmp);
        created = 0; /* what is there now is not ours to remove */
        goto out;
    }
    if (rename(tmp, path) != 0) {
        st = fail(&e, SF_EIO, 0, "cannot rename %s to the target: %s", tmp, strerror(errno));
        goto out;
    }
    created = 0; /* the temporary file is now `path` */
    {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
        if (!dir) {
            st = fail(&e, SF_ENOMEM, 0, "out of memory (the file was written, its directory "
                                        "was not synced)");
        } else {
            if (fsync_path(dir, 1) != 0)
                st = fail(&e, SF_EIO, 0, "the file was written but fsync of directory %s failed: %s",
                          dir, strerror(errno));
            free(dir);
        }
    }

out:
    if (ds >= 0) H5Dclose(ds);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (sp >= 0) H5Sclose(sp);
    if (f >= 0) H5Fclose(f);
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    free(tmp);
    return ectx_done(&e, st, err, errlen);
}
