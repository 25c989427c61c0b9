/*
 * HDF5 input/output for party-local data (the only module that includes <hdf5.h>).
 *
 * Reading: sf__h5_probe gives a dataset's dtype and shape; sf__h5_read_rows reads a block
 * of rows (a hyperslab over the first dimension: rows [row0, row0 + nrows), all of the
 * other dimensions) into a caller-provided buffer. With `mpi_comm` non-NULL (a pointer to
 * an MPI_Comm of the party's ranks, in simulation/production mode), the file is opened
 * with the MPI-IO driver (H5Pset_fapl_mpio) and the read is a collective H5Dread (every
 * rank of the communicator must call it, each with its own rows); with NULL it is a plain
 * serial read (debug mode, or a party with one rank).
 *
 * Writing: sf__h5_write_atomic writes a whole value as one dataset of a new file: it
 * creates `<path>.tmp.<pid>.<random>` in the same directory itself (O_CREAT|O_EXCL, so it
 * is certainly its own), has HDF5 write it, flushes (H5Fflush, then fsync of the file and
 * of the directory) and renames it over `path`, so a run killed at any moment leaves
 * either the old file or the complete new one, never a partial file; a failure (e.g. a
 * full disk) removes the temporary file and leaves `path` untouched. The new file has
 * the mode of the file it replaces (0666 & ~umask if there was none); its owner is the
 * writer. The dataset gets string attributes from `attrs` (e.g. program, mode, party,
 * time).
 *
 * Reading untrusted files: `opts` (NULL: every field zero) says what a read accepts. By
 * default a dataset whose data live outside the file is refused: external storage
 * (H5Pset_external: raw data in any file the HDF5 file names, e.g. /etc/passwd) and
 * virtual datasets (H5D_VIRTUAL: data mapped from other files). A dataset's declared size
 * is checked before anything is allocated: contiguous data stored in the file must fit in
 * the file ("declares N bytes but the file has only M"), and no dataset may exceed
 * opts->max_bytes (default: the machine's physical memory), which bounds chunked or
 * compressed data and unallocated data read as fill values. probe and read_rows both
 * check, so a file swapped between them is checked again.
 *
 * Errors: every function returns 0 or a negative sf_status and writes into err a message
 * that names the file and the dataset: missing file, unreadable file (permissions, not
 * HDF5), missing dataset, unsupported dtype (anything but the integer/float types of
 * sf_dtype, e.g. compound, string, 16-bit float), more than SF_MAX_DIMS dimensions, a row
 * range outside the dataset, external or virtual storage not allowed by `opts` (the
 * message names the option). HDF5's own error stack printing is silenced; its message is
 * folded into err where useful.
 */
#ifndef SF_IO_H5_H
#define SF_IO_H5_H

#include <stddef.h>
#include <stdint.h>

#include "sfmpi/sf.h"

typedef struct sf_h5_info {
    sf_dtype dtype;
    int ndim;
    int64_t shape[SF_MAX_DIMS];
} sf_h5_info;

struct sf_progress; /* core/progress.h */

/* What a read accepts. All zero (or a NULL pointer) is the default. */
typedef struct sf_h5_read_opts {
    /* 1: read datasets with external storage and virtual datasets (the runtime's
     * --sf-h5-allow-external=1); 0: refuse them (SF_EUSAGE). */
    int allow_external;
    /* Largest dataset accepted, in bytes (the runtime's --sf-h5-max-bytes); 0: the
     * machine's physical memory. Larger is SF_ERANGE. */
    uint64_t max_bytes;
    /* NULL, or a progress line (core/progress.h) begun by the caller with the dataset's
     * bytes as total: the rows are then read in blocks of about SF_H5_BLOCK_BYTES, and
     * after each block `done` becomes that fraction of the total (under MPI the ranks read
     * their blocks in step, so the leader's fraction is the party's). Under MPI every
     * rank does as many collective reads as the rank with the most blocks. */
    struct sf_progress *progress;
} sf_h5_read_opts;

/* Rows are read and written in blocks of about this many bytes when progress is shown. */
#define SF_H5_BLOCK_BYTES ((size_t)64 << 20)

typedef struct sf_h5_attr {
    const char *name, *value;
} sf_h5_attr;

int sf__h5_probe(const char *path, const char *dataset, const sf_h5_read_opts *opts,
                 sf_h5_info *info, char *err, size_t errlen);
/* dst holds nrows * (product of shape[1..]) elements of info->dtype. */
int sf__h5_read_rows(const char *path, const char *dataset, const sf_h5_read_opts *opts,
                     const sf_h5_info *info, int64_t row0, int64_t nrows, void *dst,
                     const void *mpi_comm, char *err, size_t errlen);
int sf__h5_write_atomic(const char *path, const char *dataset, const sf_value *v,
                        const sf_h5_attr *attrs, int nattrs, char *err, size_t errlen);
/* The same, reporting the bytes written to `progress` (begun by the caller with the
 * value's bytes as total; NULL: none), writing the rows in blocks then. */
int sf__h5_write_atomic_progress(const char *path, const char *dataset, const sf_value *v,
                                 const sf_h5_attr *attrs, int nattrs,
                                 struct sf_progress *progress, char *err, size_t errlen);

#endif
