/* io/h5out: atomic, streamed HDF5 output (contract in h5out.h). */
#include "io/h5out.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPEN 256   /* temporary files open at once (the signal handler's table) */
#define CHUNK_ROWS 65536

struct h5out_dset {
    h5out_file *file;
    char *name;
    h5out_kind kind;
    int64_t width, nrows; /* nrows < 0: growing; rows is then the current size */
    int64_t rows;
    hid_t ds, mtype;
    h5out_dset *next;
};

struct h5out_file {
    char *path, *tmp;
    int fd, slot;
    hid_t f;
    h5out_dset *dsets;
};

/* Temporary paths the signal handler removes (slots set and cleared outside the handler;
 * a pointer is published only after its string is complete). */
static char *volatile g_tmp[MAX_OPEN];
static int g_handler_installed;

static void on_signal(int sig) {
    for (int i = 0; i < MAX_OPEN; i++) {
        char *p = g_tmp[i];
        if (p) unlink(p);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_handler(void) {
    if (g_handler_installed) return;
    g_handler_installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t random32(void) {
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 16);
}

static int fsync_path(const char *p, int dir) {
    int fd = open(p, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = fsync(fd), er = errno;
    close(fd);
    if (r != 0 && dir && (er == EINVAL || er == ENOTSUP)) r = 0;
    errno = er;
    return r;
}

void h5out_remove_on_signals(void) { install_handler(); }

h5out_file *h5out_create(const char *path, char *err, size_t errlen) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h5out_file *f = calloc(1, sizeof *f);
    size_t plen = path ? strlen(path) : 0;
    if (!f || !plen || !(f->path = strdup(path)) || !(f->tmp = malloc(plen + 64))) {
        seterr(err, errlen, "%s: %s", plen ? path : "(no path)", plen ? "out of memory" : "empty path");
        if (f) free(f->path);
        free(f);
        return NULL;
    }
    f->fd = -1;
    f->f = H5I_INVALID_HID;
    f->slot = -1;
    for (int i = 0; i < MAX_OPEN && f->slot < 0; i++)
        if (!g_tmp[i]) f->slot = i;
    if (f->slot < 0) {
        seterr(err, errlen, "%s: more than %d output files open at once", path, MAX_OPEN);
        goto fail;
    }
    for (int attempt = 0; f->fd < 0 && attempt < 8; attempt++) {
        snprintf(f->tmp, plen + 64, "%s.tmp.%ld.%08x", path, (long)getpid(), random32());
        f->fd = open(f->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (f->fd < 0 && errno != EEXIST) break;
    }
    if (f->fd < 0) {
        seterr(err, errlen, "%s: cannot create the temporary file %s: %s", path, f->tmp,
               strerror(errno));
        goto fail;
    }
    g_tmp[f->slot] = f->tmp;
    struct stat st;
    if (fstat(f->fd, &st) == 0 && (st.st_mode & 0600) != 0600)
        fchmod(f->fd, (st.st_mode & 07777) | 0600);
    f->f = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f->f < 0) {
        seterr(err, errlen, "%s: HDF5 cannot create the temporary file %s", path, f->tmp);
        goto fail;
    }
    return f;
fail:
    h5out_abort(&f);
    return NULL;
}

static hid_t file_type(h5out_kind kind, int64_t width) {
    switch (kind) {
    case H5OUT_INT64: return H5Tcopy(H5T_STD_I64LE);
    case H5OUT_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case H5OUT_BYTES: return H5Tcopy(H5T_STD_U8LE);
    case H5OUT_STRING: {
        hid_t t = H5Tcopy(H5T_C_S1);
        if (t >= 0 && (H5Tset_size(t, (size_t)width) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
                       H5Tset_cset(t, H5T_CSET_ASCII) < 0)) {
            H5Tclose(t);
            return H5I_INVALID_HID;
        }
        return t;
    }
    }
    return H5I_INVALID_HID;
}

static hid_t mem_type(h5out_kind kind, int64_t width) {
    switch (kind) {
    case H5OUT_INT64: return H5Tcopy(H5T_NATIVE_INT64);
    case H5OUT_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case H5OUT_BYTES: return H5Tcopy(H5T_NATIVE_UINT8);
    case H5OUT_STRING: return file_type(kind, width);
    }
    return H5I_INVALID_HID;
}

static int rank_of(const h5out_dset *d) {
    return (d->kind == H5OUT_BYTES || (d->kind == H5OUT_F64 && d->width > 0)) ? 2 : 1;
}

size_t h5out_rowbytes(const h5out_dset *d) {
    switch (d->kind) {
    case H5OUT_INT64: return 8;
    case H5OUT_F64: return 8 * (size_t)(d->width > 0 ? d->width : 1);
    case H5OUT_BYTES:
    case H5OUT_STRING: return (size_t)d->width;
    }
    return 0;
}

h5out_dset *h5out_dataset(h5out_file *f, const char *name, h5out_kind kind, int64_t width,
                          int64_t nrows, char *err, size_t errlen) {
    if ((kind == H5OUT_BYTES || kind == H5OUT_STRING) && width < 1) {
        seterr(err, errlen, "%s: dataset \"%s\": width must be at least 1", f->path, name);
        return NULL;
    }
    h5out_dset *d = calloc(1, sizeof *d);
    hid_t ft = H5I_INVALID_HID, sp = H5I_INVALID_HID, dcpl = H5I_INVALID_HID,
          lcpl = H5I_INVALID_HID;
    if (!d || !(d->name = strdup(name))) {
        seterr(err, errlen, "%s: out of memory", f->path);
        free(d);
        return NULL;
    }
    d->file = f;
    d->kind = kind;
    d->width = width;
    d->nrows = nrows;
    d->rows = nrows < 0 ? 0 : nrows;
    d->ds = H5I_INVALID_HID;
    d->mtype = mem_type(kind, width);
    ft = file_type(kind, width);
    int nd = rank_of(d);
    hsize_t dims[2] = {(hsize_t)d->rows, (hsize_t)width}, maxd[2] = {H5S_UNLIMITED, (hsize_t)width};
    sp = H5Screate_simple(nd, dims, nrows < 0 ? maxd : NULL);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int bad = d->mtype < 0 || ft < 0 || sp < 0 || lcpl < 0 || dcpl < 0 ||
              H5Pset_create_intermediate_group(lcpl, 1) < 0;
    if (!bad && nrows < 0) {
        size_t rb = h5out_rowbytes(d);
        hsize_t crows = (hsize_t)((1u << 20) / (rb ? rb : 1));
        if (crows < 1) crows = 1;
        if (crows > CHUNK_ROWS) crows = CHUNK_ROWS;
        hsize_t chunk[2] = {crows, (hsize_t)width};
        bad = H5Pset_chunk(dcpl, nd, chunk) < 0;
    }
    if (!bad) d->ds = H5Dcreate2(f->f, name, ft, sp, lcpl, dcpl, H5P_DEFAULT);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (bad || d->ds < 0) {
        seterr(err, errlen, "%s: cannot create dataset \"%s\" in %s", f->path, name, f->tmp);
        if (d->mtype >= 0) H5Tclose(d->mtype);
        free(d->name);
        free(d);
        return NULL;
    }
    d->next = f->dsets;
    f->dsets = d;
    return d;
}

int h5out_write(h5out_dset *d, int64_t row0, int64_t nrows, const void *buf, char *err,
                size_t errlen) {
    if (nrows <= 0) return 0;
    const h5out_file *f = d->file;
    if (row0 < 0 || (d->nrows >= 0 && row0 + nrows > d->nrows)) {
        seterr(err, errlen, "%s: dataset \"%s\": rows [%lld, %lld) outside [0, %lld)", f->path,
               d->name, (long long)row0, (long long)(row0 + nrows), (long long)d->nrows);
        return -1;
    }
    int nd = rank_of(d);
    if (d->nrows < 0 && row0 + nrows > d->rows) {
        hsize_t dims[2] = {(hsize_t)(row0 + nrows), (hsize_t)d->width};
        if (H5Dset_extent(d->ds, dims) < 0) {
            seterr(err, errlen, "%s: dataset \"%s\": cannot extend to %lld rows", f->path,
                   d->name, (long long)(row0 + nrows));
            return -1;
        }
        d->rows = row0 + nrows;
    }
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nrows, (hsize_t)d->width};
    hid_t fs = H5Dget_space(d->ds), ms = H5Screate_simple(nd, count, NULL);
    int bad = fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Dwrite(d->ds, d->mtype, ms, fs, H5P_DEFAULT, buf) < 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (bad) {
        seterr(err, errlen, "%s: dataset \"%s\": cannot write rows [%lld, %lld) to %s (disk full?)",
               f->path, d->name, (long long)row0, (long long)(row0 + nrows), f->tmp);
        return -1;
    }
    return 0;
}

int h5out_attr(h5out_dset *d, const char *name, const char *value, char *err, size_t errlen) {
    hid_t str = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    const char *v = value ? value : "";
    int bad = str < 0 || sp < 0 || H5Tset_size(str, H5T_VARIABLE) < 0 ||
              H5Tset_cset(str, H5T_CSET_UTF8) < 0 ||
              (a = H5Acreate2(d->ds, name, str, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
              H5Awrite(a, str, &v) < 0;
    if (a >= 0 && H5Aclose(a) < 0) bad = 1;
    if (sp >= 0) H5Sclose(sp);
    if (str >= 0) H5Tclose(str);
    if (bad) seterr(err, errlen, "%s: dataset \"%s\": cannot write attribute \"%s\"", d->file->path,
                    d->name, name);
    return bad ? -1 : 0;
}

static int close_all(h5out_file *f) {
    int bad = 0;
    while (f->dsets) {
        h5out_dset *d = f->dsets;
        f->dsets = d->next;
        if (d->ds >= 0 && H5Dclose(d->ds) < 0) bad = 1;
        if (d->mtype >= 0) H5Tclose(d->mtype);
        free(d->name);
        free(d);
    }
    if (f->f >= 0) {
        if (H5Fflush(f->f, H5F_SCOPE_GLOBAL) < 0) bad = 1;
        if (H5Fclose(f->f) < 0) bad = 1;
        f->f = H5I_INVALID_HID;
    }
    return bad ? -1 : 0;
}

static void release(h5out_file **fp, int remove_tmp) {
    h5out_file *f = *fp;
    if (!f) return;
    close_all(f);
    if (f->fd >= 0) close(f->fd);
    if (remove_tmp && f->slot >= 0 && g_tmp[f->slot]) unlink(f->tmp);
    if (f->slot >= 0) g_tmp[f->slot] = NULL;
    free(f->tmp);
    free(f->path);
    free(f);
    *fp = NULL;
}

void h5out_abort(h5out_file **f) { release(f, 1); }

int h5out_commit(h5out_file **fp, char *err, size_t errlen) {
    h5out_file *f = *fp;
    if (close_all(f) != 0) {
        seterr(err, errlen, "%s: cannot flush or close %s (disk full?)", f->path, f->tmp);
        goto fail;
    }
    if (fsync(f->fd) != 0) {
        seterr(err, errlen, "%s: cannot fsync %s: %s", f->path, f->tmp, strerror(errno));
        goto fail;
    }
    if (rename(f->tmp, f->path) != 0) {
        seterr(err, errlen, "%s: cannot rename %s into place: %s", f->path, f->tmp, strerror(errno));
        goto fail;
    }
    g_tmp[f->slot] = NULL; /* now the target: not ours to remove */
    const char *slash = strrchr(f->path, '/');
    char *dir = slash ? strndup(f->path, slash == f->path ? 1 : (size_t)(slash - f->path)) : strdup(".");
    int rc = 0;
    if (!dir || fsync_path(dir, 1) != 0) {
        seterr(err, errlen, "%s: written, but fsync of its directory failed: %s", f->path,
               dir ? strerror(errno) : "out of memory");
        rc = -1;
    }
    free(dir);
    release(fp, 0);
    return rc;
fail:
    release(fp, 1);
    return -1;
}
