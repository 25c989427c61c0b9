/*
 * The one error idiom of the library's internals.
 *
 * Errors are carried one way: a function returns a status (0, or a negative sf_status of
 * include/sfmpi/sf.h) and, where its caller needs words, writes a message naming the thing
 * that failed (party, file, dataset, option, address, call site) into the caller's buffer
 * (char *err, size_t errlen). Native codes stay in the message, translated where they
 * happen: errno as "<strerror> (errno N)" (sf__err_errno), MPI's as "<MPI's message> (MPI
 * error class N)" (mpi/mpi_job.h), HDF5's as its innermost description (io/h5.c).
 *
 * One check-and-cleanup: SF_CHECK(cond, label, rc, status, err, errlen, fmt, ...) sets rc
 * to status and the message unless cond holds, then jumps to label, where the function
 * releases what it acquired, in reverse order (as libuv's and Mercury's do). Outputs are
 * written only on success. SF_CHECK_ERRNO appends errno's text and number (read first).
 * Runtime failures return status; API misuse by the program is a fatal report that names
 * the call site (runtime/context.c, sf__fatal).
 */
#ifndef SF_CORE_ERROR_H
#define SF_CORE_ERROR_H

#include <stddef.h>

#include "sfmpi/sf.h"

/* The message into err (may be NULL); returns status. */
int sf__err_set(char *err, size_t errlen, int status, const char *fmt, ...) SF_PRINTF(4, 5);
/* The same, with ": <strerror(errno)> (errno N)" appended (errno as it was on entry). */
int sf__err_errno(char *err, size_t errlen, int status, const char *fmt, ...) SF_PRINTF(4, 5);

#define SF_CHECK(cond, label, rc, status, err, errlen, ...)                \
    do {                                                                   \
        if (!(cond)) {                                                     \
            (rc) = sf__err_set((err), (errlen), (status), __VA_ARGS__);    \
            goto label;                                                    \
        }                                                                  \
    } while (0)

#define SF_CHECK_ERRNO(cond, label, rc, status, err, errlen, ...)          \
    do {                                                                   \
        if (!(cond)) {                                                     \
            (rc) = sf__err_errno((err), (errlen), (status), __VA_ARGS__);  \
            goto label;                                                    \
        }                                                                  \
    } while (0)

#endif
