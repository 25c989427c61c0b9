/**
 * @file sfmpi/sf.h
 * @brief sfmpi — one multi-party program, three modes (debug, simulation, production).
 *
 * The only header a user includes. It does not include <mpi.h>, <hdf5.h> or <sodium.h>.
 *
 * Model (see the user guide, docs/guide.md): every party runs the same `program`. A remote call
 * returns an sf_obj at once on every party; only the party that owns the device executes
 * it. Objects move between parties when a call needs them (data dependencies), and
 * sf_get reveals an object to every party. Every party must make the same calls in the
 * same order; the runtime detects and reports when they do not (divergence).
 *
 * Ownership: every function that returns memory names the function that frees it.
 * Threading: an sf_ctx is used by one thread (in debug mode, by one coroutine).
 * Blocking: calls marked "may block" wait for data from other parties; in debug mode
 * they yield to the other ranks instead.
 */
#ifndef SFMPI_SF_H
#define SFMPI_SF_H

#include <stddef.h>
#include <stdint.h>

#include "sfmpi/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SF_BUILDING_LIBRARY)
#define SF_API __attribute__((visibility("default")))
#else
#define SF_API
#endif
#define SF_NODISCARD __attribute__((warn_unused_result))
#define SF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---------------------------------------------------------------- status codes */

/** One status enum: 0 = success, negative = failure. sf_strerror/sf_err_name name them.
 * X(name, code, text) for every status; see ::sf_status. */
#define SF_STATUS_MAP(X)                                                            \
    X(OK, 0, "success")                                                             \
    X(ENOMEM, -1, "out of memory")                                                  \
    X(EINVAL, -2, "invalid argument")                                               \
    X(EUSAGE, -3, "bad option or configuration")                                    \
    X(ETASK, -4, "a task failed")                                                   \
    X(EDEADLOCK, -5, "deadlock: every rank is blocked")                             \
    X(EDIVERGE, -6, "program divergence: parties made different calls")             \
    X(EPEER, -7, "a peer party finished or was lost while others waited for it")    \
    X(EKILLED, -8, "actor was killed")                                              \
    X(ERELEASED, -9, "object was released")                                         \
    X(EMPI, -10, "MPI error")                                                       \
    X(EIO, -11, "I/O error")                                                        \
    X(ESTACK, -12, "stack overflow")                                                \
    X(ETYPE, -13, "wrong value type")                                               \
    X(ERANGE, -14, "index out of range")                                            \
    X(ESYS, -15, "system call failed")                                              \
    X(EMODE, -16, "not available in this mode")                                     \
    X(ETIMEOUT, -17, "timed out")

/** Status codes (0 = success, negative = failure), from ::SF_STATUS_MAP:
 * | status | code | sf_strerror |
 * |---|---|---|
 * | SF_OK | 0 | success |
 * | SF_ENOMEM | -1 | out of memory |
 * | SF_EINVAL | -2 | invalid argument |
 * | SF_EUSAGE | -3 | bad option or configuration |
 * | SF_ETASK | -4 | a task failed |
 * | SF_EDEADLOCK | -5 | deadlock: every rank is blocked |
 * | SF_EDIVERGE | -6 | program divergence: parties made different calls |
 * | SF_EPEER | -7 | a peer party finished or was lost while others waited for it |
 * | SF_EKILLED | -8 | actor was killed |
 * | SF_ERELEASED | -9 | object was released |
 * | SF_EMPI | -10 | MPI error |
 * | SF_EIO | -11 | I/O error |
 * | SF_ESTACK | -12 | stack overflow |
 * | SF_ETYPE | -13 | wrong value type |
 * | SF_ERANGE | -14 | index out of range |
 * | SF_ESYS | -15 | system call failed |
 * | SF_EMODE | -16 | not available in this mode |
 * | SF_ETIMEOUT | -17 | timed out | */
typedef enum sf_status {
#define SF__STATUS_ENUM(name, code, text) SF_##name = code,
    SF_STATUS_MAP(SF__STATUS_ENUM)
#undef SF__STATUS_ENUM
} sf_status;

/** The library's version, e.g. "0.1.0" (SF_VERSION_STRING is the header's). */
SF_API const char *sf_version(void);

SF_API const char *sf_strerror(int status);  /**< Text of a status: a static string; unknown codes give "unknown status". */
SF_API const char *sf_err_name(int status);  /**< Name of a status: "SF_ETASK" etc. */

/** Process exit codes used by sf_main and by the runtime when it stops a run. */
enum {
    /** the run succeeded */
    SF_EXIT_OK = 0,
    SF_EXIT_FAILURE = 1,    /**< the program returned an error */
    SF_EXIT_USAGE = 2,      /**< bad option, unknown party, wrong rank count */
    SF_EXIT_TASK = 3,       /**< a task failed (debug mode stops at the first failure) */
    SF_EXIT_DEADLOCK = 4,   /**< every rank blocked */
    SF_EXIT_DIVERGE = 5,    /**< parties made different calls */
    SF_EXIT_PEER = 6,       /**< a party finished or was lost while others waited for it */
    SF_EXIT_STACK = 7,      /**< a rank overflowed its coroutine stack (debug mode) */
    /** 8..15 are reserved for the runtime. A party's program that returns r in 1..111
     * makes that party exit with SF_EXIT_PROGRAM_BASE + r (17..127); a larger r gives 127. */
    SF_EXIT_PROGRAM_BASE = 16,
    /** the largest exit status of a party whose program returned its own code */
    SF_EXIT_PROGRAM_MAX = 127,
};

/* ---------------------------------------------------------------- modes and config */

/** How a run is laid out (`--sf-mode`, `SF_MODE`, sf_config::mode). */
typedef enum sf_mode {
    /** not set: taken from the command line or environment, else debug */
    SF_MODE_UNSET = 0,
    /** `prod`: one MPI job per party, bridged by encrypted, authenticated channels */
    SF_MODE_PRODUCTION = 1,
    /** `sim`: every party in one MPI job */
    SF_MODE_SIMULATION = 2,
    /** `debug`: every rank of every party a coroutine of one process, deterministic */
    SF_MODE_DEBUG = 3,
} sf_mode;

/** One party's view of a run (opaque): given to the program, used by one thread. */
typedef struct sf_ctx sf_ctx;

/** The user's program: run by every party. Return 0 or an sf_status; a positive r makes
 * the party exit with SF_EXIT_PROGRAM_BASE + r (see the exit codes). */
typedef int (*sf_program)(sf_ctx *sf, void *arg);

/**
 * Zero-initialisable: {0} means "everything from the command line / environment, else
 * defaults". Command-line options (--sf-*) override the environment (SF_*), which
 * overrides the fields below. Unknown --sf-* options are errors.
 */
typedef struct sf_config {
    int argc;                     /**< optional: the program's argc, with argv scanned for --sf-* */
    /** optional: the program's argv (argc entries) */
    char **argv;
    sf_mode mode;                 /**< SF_MODE_UNSET: --sf-mode / SF_MODE, else debug */
    const char *const *parties;   /**< party names; NULL: --sf-parties / SF_PARTIES */
    /** number of names in parties */
    int nparties;
    size_t stack_size;            /**< debug-mode coroutine stack; 0 = 256 KiB */
    int check_args;               /**< debug mode: verify tasks do not write their args;
                                     0 = default (on), 1 = on, -1 = off */
    int quiet;                    /**< 1: suppress runtime info logs */
    double wait_timeout;          /**< sim: seconds a blocked rank waits before it asks its
                                     peer why (divergence check); 0 = 2 s */
    int ranks_per_party;          /**< sim and debug: ranks of every party; 0 = 1 (production:
                                     each party's own job size) */
    int help;                     /**< 1: the runtime also answers --help and -h (as it always
                                     answers --sf-help); 0: they are left to the program */
    int progress;                 /**< progress lines for long operations: 0 = --sf-progress /
                                     SF_PROGRESS, else auto; 1 = on; -1 = off */
} sf_config;

/** Run `program` on every party. Returns an SF_EXIT_* code suitable for exit(). */
SF_API int sf_run(const sf_config *cfg, sf_program program, void *arg);
/** sf_run with {argc, argv} and everything else from options/environment. */
SF_API int sf_main(int argc, char **argv, sf_program program, void *arg);

/** The mode this run is in. */
SF_API sf_mode sf_get_distribution_mode(const sf_ctx *sf);
/** Set the mode sf_run uses when neither the command line nor SF_MODE sets one.
 * Call before sf_run/sf_main; returns SF_EINVAL for an unknown mode. */
SF_API int sf_set_distribution_mode(sf_mode mode);
SF_API const char *sf_mode_name(sf_mode mode); /**< "debug", "sim", "prod" */

/** This party: its index in [0, nparties). The calls below give its name, the number of
 * parties, another party's name, and the program's remaining (non --sf-*) args. */
SF_API int sf_party_index(const sf_ctx *sf);
/** This party's name. */
SF_API const char *sf_party_name(const sf_ctx *sf);
/** Number of parties of the run. */
SF_API int sf_nparties(const sf_ctx *sf);
/** Name of party `party` (an index in [0, nparties)). */
SF_API const char *sf_party_name_of(const sf_ctx *sf, int party);
/** Number of the program's own arguments (argv[0] and the non --sf-* ones). */
SF_API int sf_argc(const sf_ctx *sf);
/** The program's own arguments: argv[0], then every argument not starting with --sf-
 * (and everything after `--`). */
SF_API char **sf_argv(const sf_ctx *sf);

/* ---------------------------------------------------------------- values */

/** Every element type: X(name, C type, text). Values are typed n-d arrays (C order),
 * scalars (ndim 0) and bytes; refcounted, immutable once handed to the runtime: task
 * arguments are read-only, results are fresh values. */
#define SF_DTYPE_MAP(X)                       \
    X(I8, int8_t, "int8")                     \
    X(I16, int16_t, "int16")                  \
    X(I32, int32_t, "int32")                  \
    X(I64, int64_t, "int64")                  \
    X(U8, uint8_t, "uint8")                   \
    X(U16, uint16_t, "uint16")                \
    X(U32, uint32_t, "uint32")                \
    X(U64, uint64_t, "uint64")                \
    X(F32, float, "float32")                  \
    X(F64, double, "float64")                 \
    X(BYTES, uint8_t, "bytes")

/** Element types, from ::SF_DTYPE_MAP: SF_I8, SF_I16, SF_I32, SF_I64 (int8..int64),
 * SF_U8, SF_U16, SF_U32, SF_U64 (uint8..uint64), SF_F32, SF_F64 (float32, float64),
 * SF_BYTES (a byte string, one dimension); SF_NDTYPES counts them. */
typedef enum sf_dtype {
#define SF__DTYPE_ENUM(name, ctype, text) SF_##name,
    SF_DTYPE_MAP(SF__DTYPE_ENUM)
#undef SF__DTYPE_ENUM
    SF_NDTYPES
} sf_dtype;

/** The most dimensions a value may have. */
#define SF_MAX_DIMS 16

/** A typed n-d array, scalar or byte string (opaque, refcounted). */
typedef struct sf_value sf_value;

/** "int8" ... "float64", "bytes". */
SF_API const char *sf_dtype_name(sf_dtype dt);
/** Bytes per element (1 for SF_BYTES). */
SF_API size_t sf_dtype_size(sf_dtype dt);

/** New uninitialised array; ndim 0 = scalar. Free with sf_value_unref. NULL on ENOMEM or
 * bad arguments (ndim > SF_MAX_DIMS, negative extent, size overflow). */
SF_API sf_value *sf_value_new(sf_dtype dt, int ndim, const int64_t *shape);
/** As sf_value_new, filled with zeros. */
SF_API sf_value *sf_value_zeros(sf_dtype dt, int ndim, const int64_t *shape);
SF_API sf_value *sf_value_f64(double x);            /**< float64 scalar */
SF_API sf_value *sf_value_i64(int64_t x);           /**< int64 scalar */
/** A byte string: a copy of the n bytes at p. */
SF_API sf_value *sf_value_bytes(const void *p, size_t n);
SF_API sf_value *sf_value_str(const char *s);       /**< bytes, NUL kept after the end */
SF_API sf_value *sf_value_copy(const sf_value *v);  /**< deep copy */
SF_API sf_value *sf_value_ref(sf_value *v);         /**< +1 reference; returns v */
SF_API void sf_value_unref(sf_value **v);           /**< -1 reference; sets *v = NULL */

/** Element type. */
SF_API sf_dtype sf_value_dtype(const sf_value *v);
/** Number of dimensions (0 for a scalar). */
SF_API int sf_value_ndim(const sf_value *v);
/** Extent of dimension i. */
SF_API int64_t sf_value_dim(const sf_value *v, int i);
/** The ndim extents. */
SF_API const int64_t *sf_value_shape(const sf_value *v);
/** Number of elements (1 for a scalar, 0 for an empty array). */
SF_API size_t sf_value_nelems(const sf_value *v);
/** Size of the data in bytes. */
SF_API size_t sf_value_nbytes(const sf_value *v);
SF_API void *sf_value_data(sf_value *v);             /**< writable only while you own it */
/** The data, read-only. */
SF_API const void *sf_value_cdata(const sf_value *v);
SF_API const char *sf_value_cstr(const sf_value *v); /**< bytes as NUL-terminated text */
/** Element i (flat index) converted to double / int64; 0 with no error for bad i. */
SF_API double sf_value_as_f64(const sf_value *v, size_t i);
/** Element i (flat index) converted to int64; 0 with no error for bad i. */
SF_API int64_t sf_value_as_i64(const sf_value *v, size_t i);

/* ---------------------------------------------------------------- devices, objects */

/** What a device handle designates. */
typedef enum sf_device_kind {
    /** no device (an invalid handle) */
    SF_DEV_NONE = 0,
    SF_DEV_PYU = 1,     /**< a party's leader */
    /** a secure processing unit over several parties (sf_spu) */
    SF_DEV_SPU = 2,
    SF_DEV_PYU_ALL = 3, /**< every rank of a party: calls are collective kernels */
} sf_device_kind;

/** A device handle (by value). PYU: a party's plain device. */
typedef struct sf_device {
    /** the context it belongs to */
    sf_ctx *sf;
    /** an sf_device_kind */
    int32_t kind;
    int32_t party; /**< PYU: owner party index; -1 when invalid */
} sf_device;

/** A reference to a remote object (by value); id is the creating call's number. */
typedef struct sf_obj {
    /** the context it belongs to */
    sf_ctx *sf;
    /** the number of the call that created it: the same on every party */
    uint64_t id;
} sf_obj;

/** A stateful actor (by value). */
typedef struct sf_actor {
    /** the context it belongs to */
    sf_ctx *sf;
    /** the number of the call that created it */
    uint64_t id;
} sf_actor;

/** The PYU of party `name`. An unknown name stops the run with SF_EXIT_USAGE naming the
 * party and the call site (it is the same on every party, so no party proceeds). */
#define sf_pyu(sf, name) sf__pyu((sf), (name), __FILE__, __LINE__)
SF_API sf_device sf__pyu(sf_ctx *sf, const char *name, const char *file, int line);
/** The PYU of party number `index` (0 .. sf_nparties - 1, in the order of --sf-parties; see
 * sf_party_index): for programs that loop over many parties. An index out of range stops the
 * run with SF_EXIT_USAGE naming it and the call site, like an unknown name. */
#define sf_pyu_at(sf, index) sf__pyu_at((sf), (index), __FILE__, __LINE__)
SF_API sf_device sf__pyu_at(sf_ctx *sf, int index, const char *file, int line);
/** The same party with all of its ranks: a call on it runs on every rank of the party
 * (a collective kernel, see sf_task_comm); its result lives on the leader. */
#define sf_pyu_all(sf, name) sf__pyu_all((sf), (name), __FILE__, __LINE__)
SF_API sf_device sf__pyu_all(sf_ctx *sf, const char *name, const char *file, int line);
/** sf_pyu_all by party index (see sf_pyu_at). */
#define sf_pyu_all_at(sf, index) sf__pyu_all_at((sf), (index), __FILE__, __LINE__)
SF_API sf_device sf__pyu_all_at(sf_ctx *sf, int index, const char *file, int line);
/** Ranks of this party (1 unless the party brings several). */
SF_API int sf_party_ranks(const sf_ctx *sf);

/* ---------------------------------------------------------------- tasks */

/** A running task (opaque): its arguments, results and, for actors, state. */
typedef struct sf_task sf_task;
/** A task body: runs on the device's owner. Return 0, or the result of sf_fail(). */
typedef int (*sf_task_fn)(sf_task *t);

/** Argument i: borrowed, read-only, valid during the task. NULL if out of range. */
SF_API const sf_value *sf_arg(sf_task *t, int i);
/** Number of arguments. */
SF_API int sf_nargs(const sf_task *t);
/** Scalar helpers: a wrong dtype/shape or bad index fails the task with a clear message
 * (the value returned then is 0 / ""), so a task may use them without checking. */
SF_API double sf_arg_f64(sf_task *t, int i);
/** Argument i as an int64 scalar (see sf_arg_f64). */
SF_API int64_t sf_arg_i64(sf_task *t, int i);
/** Argument i as text (bytes; see sf_arg_f64). */
SF_API const char *sf_arg_str(sf_task *t, int i);
/** Set return value i (takes ownership of v, even on error). */
SF_API int sf_return(sf_task *t, int i, sf_value *v);
/** Number of results the caller asked for (SF_REMOTE: 1; SF_REMOTE_N: n). */
SF_API int sf_nreturns(const sf_task *t);
/** Fail the task with a message; returns SF_ETASK for `return sf_fail(t, ...)`. */
SF_API int sf_fail(sf_task *t, const char *fmt, ...) SF_PRINTF(2, 3);
/** Actor state (actor constructors and methods); NULL in plain functions. */
SF_API void *sf_state(sf_task *t);
/** The context of the party running the task. */
SF_API sf_ctx *sf_task_ctx(sf_task *t);

/* ---------------------------------------------------------------- party communicator */

/** @name Party communicator
 * A collective kernel runs on every rank of its party (a call on sf_pyu_all); it reaches
 * the party's other ranks through its communicator. Inline arguments are given to every
 * rank; object arguments only to rank 0 (sf_arg is NULL elsewhere): spread them with
 * sf_comm_scatter / sf_comm_bcast. The result is rank 0's (the leader's) sf_return; a
 * failure on any rank fails the call. Calls block like their MPI namesakes (in debug
 * mode they yield to the other coroutines). */
/** @{ */
/** Reductions of sf_comm_reduce and sf_comm_allreduce: sum, product, minimum, maximum. */
typedef enum sf_reduce_op { SF_OP_SUM = 0, SF_OP_PROD = 1, SF_OP_MIN = 2, SF_OP_MAX = 3 } sf_reduce_op;
/** A party's communicator (opaque), valid during a collective kernel. */
typedef struct sf_comm sf_comm;

SF_API sf_comm *sf_task_comm(sf_task *t); /**< NULL in a plain (leader-only) task */
/** This rank within the party (0 = the leader). */
SF_API int sf_comm_rank(const sf_comm *c);
/** Ranks of the party. */
SF_API int sf_comm_size(const sf_comm *c);
/** Point-to-point: send does not consume v; recv gives a new value (sf_value_unref). */
SF_API int sf_comm_send(sf_comm *c, int dst, const sf_value *v) SF_NODISCARD;
/** Receive from rank src: *out is a new value (sf_value_unref). */
SF_API int sf_comm_recv(sf_comm *c, int src, sf_value **out) SF_NODISCARD;
/** root: *v is broadcast (kept); others: *v receives a new value. */
SF_API int sf_comm_bcast(sf_comm *c, int root, sf_value **v) SF_NODISCARD;
/** Elementwise reduction of same-shaped numeric values; *out is new (root only / all). */
SF_API int sf_comm_reduce(sf_comm *c, int root, const sf_value *in, sf_reduce_op op,
                          sf_value **out) SF_NODISCARD;
/** As sf_comm_reduce, with the result on every rank. */
SF_API int sf_comm_allreduce(sf_comm *c, const sf_value *in, sf_reduce_op op,
                             sf_value **out) SF_NODISCARD;
/** Concatenate along axis 0 in rank order (root only) / split root's value along axis 0
 * into nearly equal blocks, the first (n % size) one row longer. */
SF_API int sf_comm_gather(sf_comm *c, int root, const sf_value *in, sf_value **out) SF_NODISCARD;
/** Split root's value along axis 0 (see sf_comm_gather); *out is new on every rank. */
SF_API int sf_comm_scatter(sf_comm *c, int root, const sf_value *in, sf_value **out) SF_NODISCARD;
/** Wait until every rank of the party has called it. */
SF_API int sf_comm_barrier(sf_comm *c) SF_NODISCARD;
/** @} */

/* ---------------------------------------------------------------- call arguments */
/**
 * @def SF_OBJ(o)
 * An object argument: its owner sends it to the executing party when it needs it.
 * @def SF_VAL(v)
 * An inline value argument (borrowed: the runtime takes its own reference).
 * @def SF_F64(x)
 * An inline float64 scalar argument.
 * @def SF_I64(x)
 * An inline int64 scalar argument.
 * @def SF_STR(s)
 * An inline text argument (bytes, NUL kept).
 * @def SF_BYTES(p, n)
 * An inline byte-string argument: the n bytes at p.
 *
 * Inline arguments are evaluated by the executing party's own program. sf_arg_kind,
 * sf_argv_item and sf_site are the plumbing of these macros, of SF_REMOTE and of the
 * call-site recording macros; programs do not name them.
 */

typedef enum sf_arg_kind {
    SF_ARGK_END_ = 0, /* internal sentinel */
    SF_ARGK_OBJ,
    SF_ARGK_VAL,
    SF_ARGK_F64,
    SF_ARGK_I64,
    SF_ARGK_STR,
    SF_ARGK_BYTES,
    SF_ARGK_PRIV, /* an object an SPU keeps private to its owner (SF_PRIVATE) */
} sf_arg_kind;

typedef struct sf_argv_item {
    sf_arg_kind kind;
    int aux; /* SF_ARGK_PRIV: 0 the 64-bit ring; 1 + block rows the 32-bit one (SF_PRIVATE32) */
    union {
        sf_obj obj;
        sf_value *val; /* borrowed: the runtime takes its own reference */
        double f64;
        int64_t i64;
        const char *str;
        struct {
            const void *p;
            size_t n;
        } bytes;
    } u;
} sf_argv_item;

/* Inline arguments are evaluated by the executing party's own program. */
#ifndef __cplusplus
#define SF_OBJ(o) ((sf_argv_item){.kind = SF_ARGK_OBJ, .u.obj = (o)})
#define SF_VAL(v) ((sf_argv_item){.kind = SF_ARGK_VAL, .u.val = (v)})
#define SF_F64(x) ((sf_argv_item){.kind = SF_ARGK_F64, .u.f64 = (x)})
#define SF_I64(x) ((sf_argv_item){.kind = SF_ARGK_I64, .u.i64 = (x)})
#define SF_STR(s) ((sf_argv_item){.kind = SF_ARGK_STR, .u.str = (s)})
#define SF_BYTES(p, n) ((sf_argv_item){.kind = SF_ARGK_BYTES, .u.bytes = {(p), (n)}})
/** An SPU kernel argument kept in the clear by its owner, a member of the SPU (see the SPU
 * section: sliced by rows, transposed, multiplied with secret values; masked once). */
#define SF_PRIVATE(o) ((sf_argv_item){.kind = SF_ARGK_PRIV, .u.obj = (o)})
/** SF_PRIVATE masked in a 32-bit ring: half the bytes of the one-time transfer, for
 * values within +-2^23 (the owner checks; 8 fraction bits kept, fxp_bits >= 16) in semi2k
 * or plain SPUs. Each product's result element, and in a transposed product (X^T b) each
 * sum over a block of `block` rows (0: all), must stay within +-2^(30 - fxp_bits) (+-4096
 * at the default 18 bits); beyond it the protocols' result is wrong (--sf-spu=plain
 * refuses it). See the guide, "Private operands". */
#define SF_PRIVATE32(o, block) ((sf_argv_item){.kind = SF_ARGK_PRIV, .aux = sf__aux32(block), .u.obj = (o)})
/* 1 + block rows, or -1 for a block out of range (refused, naming the argument) */
static inline int sf__aux32(long long block) { return block >= 0 && block < 2147483647 ? (int)block + 1 : -1; }
/* The call's items, closed by the END item the calling macro appends (so that a call
 * with no inline arguments is still standard C: every variadic macro gets one). */
#define SF__END ((sf_argv_item){.kind = SF_ARGK_END_})
#define SF__ITEMS(...) ((const sf_argv_item[]){__VA_ARGS__})
#define SF__NITEMS(...) ((int)(sizeof(SF__ITEMS(__VA_ARGS__)) / sizeof(sf_argv_item)) - 1)
#else
#define SF_OBJ(o) sf__item_obj(o)
#define SF_VAL(v) sf__item_val(v)
#define SF_F64(x) sf__item_f64(x)
#define SF_I64(x) sf__item_i64(x)
#define SF_STR(s) sf__item_str(s)
#define SF_BYTES(p, n) sf__item_bytes((p), (n))
#define SF_PRIVATE(o) sf__item_priv(o)
#define SF_PRIVATE32(o, block) sf__item_priv32((o), (block))
#define SF__END sf__item_end()
#define SF__ITEMS(...) (sf__list(__VA_ARGS__).v)
#define SF__NITEMS(...) ((int)(sizeof(sf__list(__VA_ARGS__).v) / sizeof(sf_argv_item)) - 1)
#endif

typedef struct sf_site {
    const char *file;
    int line;
    const char *what; /* function or method name as written */
} sf_site;
#ifndef __cplusplus
#define SF__SITE(what) ((sf_site){__FILE__, __LINE__, (what)})
#else
#define SF__SITE(what) (sf_site{__FILE__, __LINE__, (what)})
#endif

/* ---------------------------------------------------------------- remote calls */

/**
 * @def SF_REMOTE(target, fn, ...)
 * One call shape for functions and actors:
 *
 *     sf_obj y  = SF_REMOTE(device, fn, args...);      stateless function on the device
 *     sf_obj y  = SF_REMOTE(actor, method, args...);   method of a live actor
 *     SF_REMOTE_N(target, fn, n, outs, args...)        n return values into outs[0..n)
 *
 * Non-blocking on parties that do not own the device; on the owner it receives the
 * arguments it lacks (may block) and runs fn.
 * @def SF_REMOTE_N(target, fn, n, outs, ...)
 * SF_REMOTE with n results: outs[0..n) receive them (the return value is outs[0]).
 */
#define SF_REMOTE(...) SF__REMOTE_I(__VA_ARGS__, SF__END)
#define SF_REMOTE_N(...) SF__REMOTE_NI(__VA_ARGS__, SF__END)
#define SF__REMOTE_I(target, fn, ...) SF__REMOTE_NI(target, fn, 1, NULL, __VA_ARGS__)
#ifndef __cplusplus
#define SF__REMOTE_NI(target, fn, n, outs, ...)                                          \
    _Generic((target), sf_device: sf__remote_dev, sf_actor: sf__remote_actor)(          \
        (target), (fn), SF__SITE(#fn), (n), (outs), SF__ITEMS(__VA_ARGS__),              \
        SF__NITEMS(__VA_ARGS__))
#else
/* the target's type picks the function at compile time (sizeof does not evaluate it) */
#define SF__REMOTE_NI(target, fn, n, outs, ...)                                           \
    (sizeof(sf__target_kind(target)) == 2                                                 \
         ? sf__remote_actor(sf__as_actor(target), (fn), SF__SITE(#fn), (n), (outs),       \
                            SF__ITEMS(__VA_ARGS__), SF__NITEMS(__VA_ARGS__))              \
         : sf__remote_dev(sf__as_device(target), (fn), SF__SITE(#fn), (n), (outs),        \
                          SF__ITEMS(__VA_ARGS__), SF__NITEMS(__VA_ARGS__)))
#endif

/**
 * @def sf_remotev(target, fn, args, nargs, nret, outs)
 * SF_REMOTE with an argument list sized at run time: args[0..nargs) are items made with
 * SF_OBJ, SF_I64, SF_VAL, ... (no terminator); nret results go to outs[0..nret) (outs may
 * be NULL when nret is 1). target is a device or an actor, as for SF_REMOTE; the function
 * or method is named in messages as written. Returns the first result.
 */
#ifndef __cplusplus
#define sf_remotev(target, fn, args, nargs, nret, outs)                                 \
    _Generic((target), sf_device: sf__remote_dev, sf_actor: sf__remote_actor)(          \
        (target), (fn), SF__SITE(#fn), (nret), (outs), (args), (nargs))
#else
#define sf_remotev(target, fn, args, nargs, nret, outs)                                          \
    (sizeof(sf__target_kind(target)) == 2                                                        \
         ? sf__remote_actor(sf__as_actor(target), (fn), SF__SITE(#fn), (nret), (outs), (args),   \
                            (nargs))                                                             \
         : sf__remote_dev(sf__as_device(target), (fn), SF__SITE(#fn), (nret), (outs), (args),    \
                          (nargs)))
#endif

SF_API sf_obj sf__remote_dev(sf_device dev, sf_task_fn fn, sf_site site, int nret, sf_obj *outs,
                             const sf_argv_item *args, int nargs);
SF_API sf_obj sf__remote_actor(sf_actor actor, sf_task_fn fn, sf_site site, int nret,
                               sf_obj *outs, const sf_argv_item *args, int nargs);

/* ---------------------------------------------------------------- actors */

/** A method of an actor class. */
typedef struct sf_method {
    /** its name, for sf_actor_call and in messages */
    const char *name;
    /** its body: sf_state(t) is the actor's state */
    sf_task_fn fn;
} sf_method;

/** An actor class: its state's size, constructor, destructor and methods. */
typedef struct sf_actor_class {
    /** the class name, in messages */
    const char *name;
    size_t state_size;         /**< zeroed state allocated on the owner */
    sf_task_fn init;           /**< constructor (may be NULL); sf_state(t) is the state */
    void (*fini)(void *state); /**< destructor (may be NULL); runs at sf_kill / shutdown */
    const sf_method *methods;  /**< terminated by {NULL, NULL} */
} sf_actor_class;

/** @def SF_ACTOR(dev, cls, ...)
 * Create an actor of `cls` on `dev`, running cls->init with args. */
#define SF_ACTOR(...) SF__ACTOR_I(__VA_ARGS__, SF__END)
#define SF__ACTOR_I(dev, cls, ...) \
    sf__actor_new((dev), (cls), SF__SITE((cls)->name), SF__ITEMS(__VA_ARGS__), SF__NITEMS(__VA_ARGS__))
SF_API sf_actor sf__actor_new(sf_device dev, const sf_actor_class *cls, sf_site site,
                              const sf_argv_item *args, int nargs);
/** @def sf_actor_call(actor, method, ...)
 * Call a method by name (same as SF_REMOTE(actor, method, ...)). */
#define sf_actor_call(...) SF__ACTOR_CALL_I(__VA_ARGS__, SF__END)
#define SF__ACTOR_CALL_I(actor, method, ...) \
    sf__actor_call_name((actor), (method), SF__SITE(method), SF__ITEMS(__VA_ARGS__), \
                        SF__NITEMS(__VA_ARGS__))
SF_API sf_obj sf__actor_call_name(sf_actor actor, const char *method, sf_site site,
                                  const sf_argv_item *args, int nargs);
/** Destroy the actor on its owner (runs cls->fini). Later calls fail with SF_EKILLED. */
#define sf_kill(actor) sf__kill((actor), SF__SITE("sf_kill"))
SF_API int sf__kill(sf_actor actor, sf_site site);

/* ---------------------------------------------------------------- moving, revealing */

/** Explicit move: a new object on `dev` holding obj's value. */
#define sf_to(obj, dev) sf__to((obj), (dev), SF__SITE("sf_to"))
SF_API sf_obj sf__to(sf_obj obj, sf_device dev, sf_site site);

/** Reveal obj to every party (may block). *out is borrowed: valid until the object is
 * released. Returns SF_ETASK (and sf_last_error) if the object failed. */
#define sf_get(sf, obj, out) sf__get((sf), (obj), (out), SF__SITE("sf_get"))
SF_API int sf__get(sf_ctx *sf, sf_obj obj, sf_value **out, sf_site site) SF_NODISCARD;

/** Wait until the objects are computed, on every party, without revealing values.
 * Returns SF_OK, or SF_ETASK for the first failed one (sf_last_error has the chain). */
#define sf_wait(...) sf__wait(SF__SITE("sf_wait"), __VA_ARGS__)
SF_API int sf__wait(sf_site site, sf_ctx *sf, const sf_obj *objs, int n) SF_NODISCARD;

/** The party holding obj in the clear (its owner: an index for sf_party_name_of), or -1 if
 * it lives in a device of shares (an SPU) or is not a live object. The same on every party. */
SF_API int sf_obj_party(sf_obj obj);

/** Release an object on every party (every party makes the same call). */
#define sf_release(obj) sf__release((obj), SF__SITE("sf_release"))
SF_API void sf__release(sf_obj obj, sf_site site);

/** Scopes: objects created after sf_scope_begin are released by sf_scope_end, except
 * the `nkeep` objects listed in `keep`. Scopes nest. */
typedef struct sf_scope {
    /** the context it belongs to */
    sf_ctx *sf;
    /** the first call number of the scope */
    uint64_t mark;
} sf_scope;
/** Open a scope (see sf_scope). */
SF_API sf_scope sf_scope_begin(sf_ctx *sf);
/** @def sf_scope_end(scope, keep, nkeep)
 * Release every object created since sf_scope_begin except keep[0..nkeep). */
#define sf_scope_end(...) sf__scope_end(SF__SITE("sf_scope_end"), __VA_ARGS__)
SF_API void sf__scope_end(sf_site site, sf_scope *scope, const sf_obj *keep, int nkeep);

/** Finish this party's program early: waits for outstanding sends, checks that every
 * party made the same calls. Called by sf_run when the program returns. */
SF_API int sf_shutdown(sf_ctx *sf);

/* ---------------------------------------------------------------- SPU */

/**
 * A secure processing unit over a set of member parties: objects given to it are secret-
 * shared by their owners (no other party sees them), SPU kernels compute on the shares,
 * and results leave only by sf_to(obj, pyu) (reveal to that party) or sf_get (to all).
 * Protocols: "semi2k" (additive shares over Z(2^64), semi-honest, 2 or more members,
 * correlated randomness from a dealer that must not collude with any member) and "aby3"
 * (replicated shares among exactly 3 members, semi-honest, honest majority: no two
 * members may collude). Numbers are fixed point (fxp_bits fraction bits) for float inputs
 * and plain 64-bit integers for integer inputs; comparisons give integer 0/1.
 * With --sf-spu=plain (SF_SPU=plain; debug and sim modes only, refused in production) every
 * SPU is a plaintext functional simulation instead: the first member computes on the plain
 * ring values with the same fixed-point arithmetic (truncation = floor, where the protocol
 * gives floor or floor+1), so results agree with the protocol's within 1 ulp per truncation.
 */
typedef struct sf_spu_options {
    const char *protocol; /**< "semi2k" (default) or "aby3" */
    int fxp_bits;         /**< fraction bits of the fixed-point encoding; 0 = 18 */
    const char *dealer;   /**< semi2k: the party dealing correlated randomness (a member or
                             another party); NULL = the first party that is not a member,
                             or member 0 if there is none (INSECURE, says so: tests only) */
    uint64_t seed;        /**< 0: pairwise seeds agreed by X25519 between the parties.
                             Otherwise seeds derived from it (INSECURE: reproducible runs) */
    const char *prg;      /**< the randomness streams: NULL or "auto" = AES-128-CTR if every
                             participant's CPU has AES instructions, else ChaCha20;
                             "chacha20"; "aes" (an error if a participant lacks them). Fixed-
                             seed runs are bit-identical only between runs with one PRG. */
} sf_spu_options;

/** @def sf_spu(sf, parties, n, opts)
 * The SPU over the n parties named in `parties` (an array, which may be a compound
 * literal), with `opts` (NULL: semi2k, defaults). A call on every party; see
 * sf_spu_options. */
#define sf_spu(...) sf__spu(SF__SITE("sf_spu"), __VA_ARGS__)
/* (site first: the macro passes its arguments through whole, so an array given as a
 * compound literal keeps its commas) */
SF_API sf_device sf__spu(sf_site site, sf_ctx *sf, const char *const *parties, int n,
                         const sf_spu_options *opts);

/** An SPU kernel has the task signature (one call shape: SF_REMOTE(spu, kernel, ...)); it
 * runs jointly on every member over its shares. Object arguments are secret-shared by
 * their owners; inline numeric arguments are public constants. */
typedef sf_task sf_spu_task;
/** A secret array inside an SPU kernel (a handle, by value). */
typedef struct sf_spu_val {
    int32_t id; /**< a secret array of this kernel; -1 after a failed operation */
} sf_spu_val;

/** Argument i of the kernel: a secret array for an object, a public one for an inline
 * value (SF_F64, SF_I64, SF_VAL). A public value can stand wherever a secret one can;
 * operations between a public and a secret operand are local where the arithmetic allows
 * (add, sub: free; mul: free for integers, one truncation for fixed point). */
SF_API sf_spu_val sf_spu_arg(sf_spu_task *t, int i);
/** The inline value passed as argument i, readable on every participant (borrowed; valid
 * until the kernel returns). NULL, failing the task with the reason, if argument i is an
 * object (secret) or out of range. */
SF_API const sf_value *sf_spu_public(sf_spu_task *t, int i);
/** Argument i as one number (an inline scalar); NAN, failing the task, otherwise. */
SF_API double sf_spu_public_f64(sf_spu_task *t, int i);
/** A public array of `shape` filled with c (fixed point; an integer array if `integer`). */
SF_API sf_spu_val sf_spu_constant(sf_spu_task *t, double c, int integer, int ndim, const int64_t *shape);
/** 1 if v is public (an inline argument), 0 if secret or invalid. */
SF_API int sf_spu_is_public(sf_spu_task *t, sf_spu_val v);
/** The dimensions of v (ndim, and shape[0..ndim) into `shape` of SF_MAX_DIMS if not NULL);
 * -1 for an invalid handle. Shapes are public. */
SF_API int sf_spu_shape(sf_spu_task *t, sf_spu_val v, int64_t *shape);
SF_API int sf_spu_return(sf_spu_task *t, sf_spu_val v);          /**< result 0 */
SF_API int sf_spu_return_n(sf_spu_task *t, int i, sf_spu_val v); /**< result i */
/** a + b, elementwise, with NumPy broadcasting: equal shapes, a scalar (any one-element
 * value) against anything, a row (n or 1 x n) against an m x n matrix, a column (m x 1)
 * against it; the result has the broadcast shape. An integer operand meeting a fixed-
 * point one is converted (exactly, locally). A failed operation fails the task, with the
 * reason and both shapes. The same rules hold for sub, mul, div and the comparisons. */
SF_API sf_spu_val sf_spu_add(sf_spu_task *t, sf_spu_val a, sf_spu_val b);
/** a - b, elementwise. */
SF_API sf_spu_val sf_spu_sub(sf_spu_task *t, sf_spu_val a, sf_spu_val b);
/** -a, elementwise. */
SF_API sf_spu_val sf_spu_neg(sf_spu_task *t, sf_spu_val a);
/** a * b, elementwise (fixed point: truncated once). */
SF_API sf_spu_val sf_spu_mul(sf_spu_task *t, sf_spu_val a, sf_spu_val b);
/** a + c for a public constant c. */
SF_API sf_spu_val sf_spu_add_public(sf_spu_task *t, sf_spu_val a, double c);
/** a * c for a public constant c. */
SF_API sf_spu_val sf_spu_mul_public(sf_spu_task *t, sf_spu_val a, double c);
SF_API sf_spu_val sf_spu_less(sf_spu_task *t, sf_spu_val a, sf_spu_val b);    /**< a < b: 0/1 */
SF_API sf_spu_val sf_spu_greater(sf_spu_task *t, sf_spu_val a, sf_spu_val b); /**< a > b: 0/1 */
SF_API sf_spu_val sf_spu_equal(sf_spu_task *t, sf_spu_val a, sf_spu_val b);   /**< a == b: 0/1 */
/** c ? a : b, elementwise, for c of 0/1 (as the comparisons give). */
SF_API sf_spu_val sf_spu_select(sf_spu_task *t, sf_spu_val c, sf_spu_val a, sf_spu_val b);
/** max(a, 0), elementwise. */
SF_API sf_spu_val sf_spu_relu(sf_spu_task *t, sf_spu_val a);
SF_API sf_spu_val sf_spu_sum(sf_spu_task *t, sf_spu_val a); /**< all elements: a scalar */
/** (m x k) by (k x n), truncated once after accumulating */
SF_API sf_spu_val sf_spu_matmul(sf_spu_task *t, sf_spu_val a, sf_spu_val b);
/** n products out[i] = a[i] b[i] (1 to 64): where every a[i] is a private operand
 * (SF_PRIVATE or SF_PRIVATE32, all the same way) and every product fixed point alike, they
 * run in the rounds of one (semi2k) - the products of every party's features in a
 * learning step; otherwise one by one. Returns SF_OK or the failure (the kernel fails). */
SF_API int sf_spu_matmul_n(sf_spu_task *t, int n, const sf_spu_val *a, const sf_spu_val *b, sf_spu_val *out);

/** a / b, elementwise (broadcast): a * reciprocal(b), fixed point. A public scalar b is
 * a division by a public value (sf_spu_div_public). */
SF_API sf_spu_val sf_spu_div(sf_spu_task *t, sf_spu_val a, sf_spu_val b);
/** a / c for a public c (not 0, finite): one truncation at most, exact to the last place
 * for powers of two. Fixed-point result (integers are converted). */
SF_API sf_spu_val sf_spu_div_public(sf_spu_task *t, sf_spu_val a, double c);
/** 1 / a, elementwise, by Newton's iteration: accurate for |a| in about [0.003, 650]
 * (docs/guide.md has the measured errors), either sign; outside that it does not
 * converge. Fixed-point result. */
SF_API sf_spu_val sf_spu_reciprocal(sf_spu_task *t, sf_spu_val a);
/** exp(a), elementwise: relative error about 1e-5 on [-20, (61 - 2f) ln 2] (f = fxp_bits;
 * 17.3 for 18 bits), 0 below -256, saturating at exp((61 - 2f) ln 2) above. */
SF_API sf_spu_val sf_spu_exp(sf_spu_task *t, sf_spu_val a);
/** Sigmoid approximations (their errors against the true sigmoid: docs/guide.md). */
typedef enum sf_spu_sigmoid_kind {
    SF_SIGMOID_LINEAR = 1,    /**< 0.5 + x/4: one truncation; only near 0 */
    SF_SIGMOID_TAYLOR3 = 2,   /**< 0.5 + x/4 - x^3/48: two products; |x| <= 2 or so */
    SF_SIGMOID_SEGMENTED = 3, /**< 0 below -4, 0.5 + x/8 between, 1 above 4: a comparison */
    SF_SIGMOID_EXP = 4        /**< 1 / (1 + exp(-x)): within 1e-5 everywhere; the costliest */
} sf_spu_sigmoid_kind;
/** sigmoid(a) elementwise by approximation `kind`. */
SF_API sf_spu_val sf_spu_sigmoid(sf_spu_task *t, sf_spu_val a, sf_spu_sigmoid_kind kind);
/** The plaintext function an approximation computes (SF_SIGMOID_EXP: the true sigmoid),
 * for references and plaintext baselines that use the same approximation. */
SF_API double sf_sigmoid_approx(sf_spu_sigmoid_kind kind, double x);

/** a with a new shape of the same element count (one dimension may be -1: inferred). */
SF_API sf_spu_val sf_spu_reshape(sf_spu_task *t, sf_spu_val a, int ndim, const int64_t *shape);
/** The transpose of an m x n matrix (a 1-D value is returned as it is). */
SF_API sf_spu_val sf_spu_transpose(sf_spu_task *t, sf_spu_val a);
/** `count` rows (axis 0) or columns (axis 1, of a matrix) of a from `start`. */
SF_API sf_spu_val sf_spu_slice(sf_spu_task *t, sf_spu_val a, int axis, int64_t start, int64_t count);
/** a and b joined along `axis` (0: rows, 1: columns); the other dimensions must agree. */
SF_API sf_spu_val sf_spu_concat(sf_spu_task *t, sf_spu_val a, sf_spu_val b, int axis);
/** Sums over `axis` of a matrix (0: a row of column sums, 1: a column of row sums, as 1-D
 * values) or of a vector (axis 0: a scalar). Local. */
SF_API sf_spu_val sf_spu_sum_axis(sf_spu_task *t, sf_spu_val a, int axis);
/** The mean of all elements (a scalar): a sum and a public division. */
SF_API sf_spu_val sf_spu_mean(sf_spu_task *t, sf_spu_val a);
/** The means along `axis` (as sf_spu_sum_axis, then a public division). */
SF_API sf_spu_val sf_spu_mean_axis(sf_spu_task *t, sf_spu_val a, int axis);

/** Drop v's share now (a long kernel's loop keeps its memory flat); v is invalid after. */
SF_API void sf_spu_release(sf_spu_task *t, sf_spu_val v);
/** Party `party`'s member index in `spu` (0 .. members-1, as declared), or -1 if it is not a
 * member (the dealer outside the SPU, an outsider). The same on every party. */
SF_API int sf_spu_member(sf_device spu, int party);
/** The fraction bits of `spu`'s fixed-point values (sf_spu_options.fxp_bits, 18 by
 * default), or SF_EINVAL for a device that is not an SPU. */
SF_API int sf_spu_fraction_bits(sf_device spu);

/** This party's protocol traffic on an SPU since it was created: payload bytes it sent and
 * its round clock (a Lamport clock of message hops: a message received sets it to at
 * least the sender's clock + 1), for checking an operation's cost against its formula
 * (devices/spu/core/spu_proto.h). Input sharing and reveals are not counted (they are runtime
 * messages, one per party and object). Zero on parties outside the SPU and under
 * --sf-spu=plain. Returns SF_EINVAL for a device that is not an SPU. */
typedef struct sf_spu_counters {
    /** protocol payload bytes this party sent */
    uint64_t bytes_sent;
    /** this party's round clock */
    uint64_t rounds;
} sf_spu_counters;
/** This party's counters on `spu` into *out (see sf_spu_counters). */
SF_API int sf_spu_stats(sf_device spu, sf_spu_counters *out);

/* ---------------------------------------------------------------- HDF5 data */

/** Read `dataset` of the party-local HDF5 file `file` into an object owned by dev's party:
 * dtype and shape from the file (a dataset of fixed-length strings of L bytes is read as
 * uint8 with a last dimension L, padding included); every rank of the party reads its
 * block of rows (MPI-IO under MPI) and the leader holds the whole. A missing file or dataset, an unsupported
 * dtype or rank fails the object with a message naming the file, dataset and call site. */
#define sf_h5_read(dev, file, dataset) sf__h5_read((dev), (file), (dataset), SF__SITE("sf_h5_read"))
SF_API sf_obj sf__h5_read(sf_device dev, const char *file, const char *dataset, sf_site site);
/** Write obj at its owner as `dataset` of a new `file`, atomically (temporary file, flush,
 * rename): a killed run leaves the old file or the complete new one. Attributes record the
 * program, mode, party and time. The result object holds the number of bytes written. */
#define sf_h5_write(obj, file, dataset) sf__h5_write((obj), (file), (dataset), SF__SITE("sf_h5_write"))
SF_API sf_obj sf__h5_write(sf_obj obj, const char *file, const char *dataset, sf_site site);

/* ---------------------------------------------------------------- errors, logs */

/** The last error recorded on this party (message with the chain of failed calls). */
SF_API const char *sf_last_error(const sf_ctx *sf);

/** Return the status of `expr` from the enclosing function if it is not SF_OK. */
#define SF_TRY(expr)                   \
    do {                               \
        int sf__rc_ = (expr);          \
        if (sf__rc_ != 0) return sf__rc_; \
    } while (0)

/** A log line tagged [mode party/rank \#call] on stderr (program order in debug mode). */
SF_API void sf_log(sf_ctx *sf, const char *fmt, ...) SF_PRINTF(2, 3);
/** Print to stdout once for the whole run (by party 0): for results every party knows. */
SF_API void sf_print(sf_ctx *sf, const char *fmt, ...) SF_PRINTF(2, 3);

#ifdef __cplusplus
} /* extern "C" */

/* C++ (C++11 and later): the same macros, without C's compound literals and _Generic. */
inline sf_argv_item sf__item_end() { sf_argv_item it = {}; it.kind = SF_ARGK_END_; return it; }
inline sf_argv_item sf__item_obj(sf_obj o) { sf_argv_item it = {}; it.kind = SF_ARGK_OBJ; it.u.obj = o; return it; }
inline sf_argv_item sf__item_val(sf_value *v) { sf_argv_item it = {}; it.kind = SF_ARGK_VAL; it.u.val = v; return it; }
inline sf_argv_item sf__item_f64(double x) { sf_argv_item it = {}; it.kind = SF_ARGK_F64; it.u.f64 = x; return it; }
inline sf_argv_item sf__item_i64(int64_t x) { sf_argv_item it = {}; it.kind = SF_ARGK_I64; it.u.i64 = x; return it; }
inline sf_argv_item sf__item_str(const char *s) { sf_argv_item it = {}; it.kind = SF_ARGK_STR; it.u.str = s; return it; }
inline sf_argv_item sf__item_priv(sf_obj o) { sf_argv_item it = {}; it.kind = SF_ARGK_PRIV; it.u.obj = o; return it; }
inline sf_argv_item sf__item_priv32(sf_obj o, long long block) { sf_argv_item it = sf__item_priv(o); it.aux = block >= 0 && block < 2147483647 ? (int)block + 1 : -1; return it; }
inline sf_argv_item sf__item_bytes(const void *p, size_t n) {
    sf_argv_item it = {};
    it.kind = SF_ARGK_BYTES;
    it.u.bytes.p = p;
    it.u.bytes.n = n;
    return it;
}
/* A call's items as a temporary array (alive until the end of the call's full expression):
 * the inline arguments, then the END item the macro appends. */
template <size_t N> struct sf__itemlist {
    sf_argv_item v[N];
};
template <typename... Items> inline sf__itemlist<sizeof...(Items)> sf__list(const Items &...items) {
    return sf__itemlist<sizeof...(Items)>{{items...}};
}
/* SF_REMOTE's target: declared only, for sizeof (1: a device, 2: an actor) */
char (&sf__target_kind(sf_device))[1];
char (&sf__target_kind(sf_actor))[2];
inline sf_device sf__as_device(sf_device d) { return d; }
inline sf_device sf__as_device(sf_actor) { sf_device d = {}; return d; } /* (branch not taken) */
inline sf_actor sf__as_actor(sf_actor a) { return a; }
inline sf_actor sf__as_actor(sf_device) { sf_actor a = {}; return a; } /* (branch not taken) */
#endif
#endif /* SFMPI_SF_H */
