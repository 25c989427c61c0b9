/**
 * @file psi.h
 * Private set intersection (ECDH-PSI over ristretto255), built on the public sfmpi API.
 *
 * Every party holds a set of IDs (an object of its own: int64 [n], or uint8 [n, L] for
 * fixed-length byte strings). Each party hashes its IDs to the group (ristretto255 from a
 * domain-separated SHA-512), raises them to a secret scalar drawn afresh for the run, and
 * sends them in an order that says nothing of its input order (sorted by value with two
 * parties, a fresh random order with more); the other party raises them to its own secret. Equal IDs
 * give equal doubly-raised points, which is all that is compared. Semi-honest security:
 * a party that follows the protocol learns what the output mode gives it (below), the
 * sizes of the other parties' inputs, and the type and width of their IDs (checked to
 * match, so that a mismatch is an error rather than an empty intersection).
 *
 * Cost per party: one hash-to-group per own row, one scalar multiplication per own row and
 * one per peer row; the hashing and the multiplications are split across the party's ranks
 * (call it with sf_pyu_all devices). With three or more parties each party's points are
 * raised by every party's secret in turn and one party matches blinded points (n scalar
 * multiplications per row; the leakage is described at psin() in psi/psi.c and in the guide).
 *
 * Memory. With two parties the sets are processed in batches of `batch_rows` IDs: points
 * are sent in sorted order (the order of their pseudo-random values, which says nothing of
 * the input order), sorted runs are spilled to unlinked temporary files in `tmpdir` (gone
 * on every exit, SIGKILL included) and merged, so a party holds a few batches of points
 * (40 bytes per row each) and at most two merges' read buffers (4 MiB each), whatever the
 * set size, with sf_psi_h5 (sf_psi's objects hold the IDs and the index themselves). Its
 * disk holds 88 bytes per own row and 32 per peer row until the call returns. With three
 * or more parties the sets are held in memory.
 */
#ifndef SFMPI_PSI_H
#define SFMPI_PSI_H

#include "sfmpi/sf.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most parties one sf_psi call takes. */
#define SF_PSI_MAX_PARTIES 8

/** What the parties learn. */
typedef enum sf_psi_output {
    SF_PSI_ALL = 0,      /**< every party learns the intersection: its aligned index */
    SF_PSI_RECEIVER = 1, /**< only the receiver learns it; the others learn input sizes */
    SF_PSI_SIZE = 2,     /**< every party learns only the intersection's size */
} sf_psi_output;

/** Rows per batch when sf_psi_options.batch_rows is 0. */
#define SF_PSI_BATCH_DEFAULT 131072

/** Options of sf_psi and sf_psi_h5; {0} is "every party learns the intersection". */
typedef struct sf_psi_options {
    sf_psi_output output; /**< what the parties learn (SF_PSI_ALL by default) */
    const char *receiver; /**< SF_PSI_RECEIVER: the party that learns the intersection */
    int64_t batch_rows;   /**< IDs per batch, which bounds memory (0: SF_PSI_BATCH_DEFAULT) */
    const char *tmpdir;   /**< where spill files go on every party (NULL: $TMPDIR, else /tmp) */
} sf_psi_options;

/** One party's files for sf_psi_h5 (paths on that party's machine). */
typedef struct sf_psi_h5_party {
    const char *ids_file;      /**< HDF5 file of the party's IDs */
    const char *ids_dataset;   /**< int64 [n], uint8 [n, L] or fixed-length strings (NULL: "ids") */
    const char *index_file;    /**< where the party's aligned index is written, atomically */
    const char *index_dataset; /**< its dataset (NULL: "index") */
} sf_psi_h5_party;

/**
 * @def sf_psi(sf, devs, ids, n, opts, index, size)
 * Intersect the ID sets ids[0..n) (ids[i] held by the party of devs[i]; devs are that
 * party's sf_pyu_all, or sf_pyu to run on its leader only). Every party makes the call.
 *
 * index (may be NULL): index[i] is set to an object held by party i, int64 [c]: the rows
 * of ids[i] in the intersection, ordered so that row k names the same ID at every party
 * (the order is pseudo-random, not the input order). With SF_PSI_RECEIVER only the
 * receiver's entry is an object; the others are {sf, 0}. With SF_PSI_SIZE all are {sf, 0}.
 * size (may be NULL): the intersection's size, the same at every party (SF_PSI_ALL and
 * SF_PSI_SIZE), or -1 with SF_PSI_RECEIVER (the receiver counts its index).
 * Returns SF_OK, or SF_ETASK with sf_last_error naming the party and the reason: IDs of
 * a type PSI does not take, duplicated IDs within one party (two of their rows go to that
 * party's own log, not to the error, which the peers see), ID types that differ between
 * parties. An empty set gives an empty intersection.
 * May block.
 */
#define sf_psi(...) sf__psi(SF__SITE("sf_psi"), __VA_ARGS__)
SF_API int sf__psi(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_obj *ids, int n,
                   const sf_psi_options *opts, sf_obj *index, int64_t *size) SF_NODISCARD;

/**
 * @def sf_psi_h5(sf, devs, files, n, opts, size)
 * sf_psi from HDF5 files to HDF5 files, in memory bounded by opts->batch_rows with two
 * parties (see the top of this file). files[i] names party i's IDs and where its index
 * goes: int64 [c], row k the same ID at every party, written atomically (a temporary file
 * renamed into place; on any failure no index file is written or replaced). Only parties
 * that learn the intersection write (SF_PSI_ALL: all; SF_PSI_RECEIVER: the receiver;
 * SF_PSI_SIZE: none, and index_file may be NULL). size as in sf_psi. Errors as sf_psi,
 * plus a missing or unreadable file or dataset (named), and an index directory that does
 * not exist or cannot be written (checked before any PSI work). May block.
 */
#define sf_psi_h5(...) sf__psi_h5(SF__SITE("sf_psi_h5"), __VA_ARGS__)
SF_API int sf__psi_h5(sf_site site, sf_ctx *sf, const sf_device *devs, const sf_psi_h5_party *files,
                      int n, const sf_psi_options *opts, int64_t *size) SF_NODISCARD;

/**
 * @def sf_psi_take(dev, table, index)
 * A new object on dev's party holding rows index[0..c) of table (any dtype, rows along
 * axis 0), in index order: the party's aligned feature table after sf_psi. table and index
 * must be held by dev's party; an index out of range fails the object.
 */
#define sf_psi_take(dev, table, index) sf__psi_take(SF__SITE("sf_psi_take"), (dev), (table), (index))
SF_API sf_obj sf__psi_take(sf_site site, sf_device dev, sf_obj table, sf_obj index);

#ifdef __cplusplus
}
#endif
#endif /* SFMPI_PSI_H */
