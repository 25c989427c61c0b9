/*
 * io/h5out: atomic, streamed HDF5 output (the data tools sfmpi-psidata and sfmpi-csv2h5, and
 * sf_psi_h5's index files).
 *
 * io/h5.h's sf__h5_write_atomic writes one whole in-memory value; these tools write sets
 * larger than memory, several datasets per file and several files per run, so they write
 * row blocks (hyperslabs) into files under a temporary name and rename them all at the end:
 *
 *   h5out_file *f = h5out_create("dir/alice.h5", err, sizeof err);
 *   h5out_dset *d = h5out_dataset(f, "ids", H5OUT_INT64, 0, nrows, err, sizeof err);
 *   h5out_write(d, row0, n, buf, err, sizeof err);       (any number of blocks)
 *   h5out_attr(d, "party", "alice", err, sizeof err);
 *   h5out_commit(&f, err, sizeof err);   or   h5out_abort(&f);
 *
 * A file is created as `<path>.tmp.<pid>.<random>` (O_CREAT|O_EXCL, mode 0666 & ~umask)
 * in the target's directory and is only renamed over `path` by h5out_commit after HDF5
 * has flushed and closed it and it has been fsynced (the directory is fsynced after the
 * rename). h5out_abort and a failed commit remove the temporary file, so a failure leaves
 * no partial file. A program (the tools) may also call h5out_remove_on_signals() once: a
 * handler then removes the open temporary files on SIGINT/SIGTERM/SIGHUP before dying of
 * the signal; the library does not install it (a program's signals are its own), so a
 * killed run can leave a `*.tmp.*` file behind, as SIGKILL always can, never a partial
 * `path`.
 *
 * A dataset has a fixed number of rows (nrows >= 0, contiguous storage) or grows
 * (nrows < 0: chunked, unlimited, extended by each h5out_write past its end; the final
 * size is the end of the last row written). Kinds: H5OUT_INT64 [n], H5OUT_F64 [n, width]
 * (width 0: [n]), H5OUT_BYTES [n, width] uint8, H5OUT_STRING [n] HDF5 fixed-length strings
 * of `width` bytes (H5T_C_S1, NUL-padded, ASCII). Rows in `buf` are packed: 8, 8*width,
 * width and width bytes per row.
 *
 * Every function returns 0 or -1 with a message naming the file (and dataset) in err.
 * Handles are owned by their file: h5out_commit/h5out_abort close them all and set *f NULL.
 * Not thread-safe (one thread writes).
 */
#ifndef SF_IO_H5OUT_H
#define SF_IO_H5OUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { H5OUT_INT64, H5OUT_F64, H5OUT_BYTES, H5OUT_STRING } h5out_kind;

typedef struct h5out_file h5out_file;
typedef struct h5out_dset h5out_dset;

/* Remove open temporary files on SIGINT/SIGTERM/SIGHUP (a program's choice; idempotent). */
void h5out_remove_on_signals(void);
h5out_file *h5out_create(const char *path, char *err, size_t errlen);
h5out_dset *h5out_dataset(h5out_file *f, const char *name, h5out_kind kind, int64_t width,
                          int64_t nrows, char *err, size_t errlen);
int h5out_write(h5out_dset *d, int64_t row0, int64_t nrows, const void *buf, char *err,
                size_t errlen);
int h5out_attr(h5out_dset *d, const char *name, const char *value, char *err, size_t errlen);
/* Bytes per row of a dataset's buffer. */
size_t h5out_rowbytes(const h5out_dset *d);
int h5out_commit(h5out_file **f, char *err, size_t errlen);
void h5out_abort(h5out_file **f);

#endif
