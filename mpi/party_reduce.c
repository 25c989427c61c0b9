/*
 * Elementwise reduction of two values of one dtype and shape (both party backends use it:
 * the debug backend for its rank-order reductions, tests for expected answers).
 *
 * Integer SUM/PROD wrap around like MPI's (computed in unsigned arithmetic, so there is
 * no signed overflow); MIN/MAX keep dst when the two compare equal or unordered (NaN),
 * i.e. dst = (src < dst) ? src : dst, the form MPI implementations use.
 */
#include <string.h>

#include "mpi/party.h"
#include "core/value.h"

/* U: the unsigned type the arithmetic is done in (at least unsigned int, so uint16_t
 * products cannot overflow a promoted int). */
#define SF__RED_LOOP(T, U, OPEXPR)                                  \
    do {                                                            \
        T *d = (T *)dst->data; /* may alias src (x op x) */         \
        const T *s = (const T *)src->data;                          \
        for (size_t i = 0; i < n; i++) {                            \
            T a = d[i], b = s[i];                                   \
            (void)sizeof(U);                                        \
            d[i] = (T)(OPEXPR);                                     \
        }                                                           \
    } while (0)

#define SF__RED_INT(T, U)                                                 \
    switch (op) {                                                         \
    case SF_OP_SUM: SF__RED_LOOP(T, U, (U)((U)a + (U)b)); break;          \
    case SF_OP_PROD: SF__RED_LOOP(T, U, (U)((U)a * (U)b)); break;         \
    case SF_OP_MIN: SF__RED_LOOP(T, U, b < a ? b : a); break;             \
    case SF_OP_MAX: SF__RED_LOOP(T, U, b > a ? b : a); break;             \
    }

#define SF__RED_FLT(T)                                                    \
    switch (op) {                                                         \
    case SF_OP_SUM: SF__RED_LOOP(T, T, a + b); break;                     \
    case SF_OP_PROD: SF__RED_LOOP(T, T, a * b); break;                    \
    case SF_OP_MIN: SF__RED_LOOP(T, T, b < a ? b : a); break;             \
    case SF_OP_MAX: SF__RED_LOOP(T, T, b > a ? b : a); break;             \
    }

int sf__value_reduce_into(sf_value *dst, const sf_value *src, sf_reduce_op op) {
    if (!dst || !src) return SF_EINVAL;
    if ((unsigned)op > SF_OP_MAX) return SF_EINVAL;
    if (dst->dtype != src->dtype || dst->ndim != src->ndim || dst->nelems != src->nelems ||
        dst->dtype >= SF_BYTES)
        return SF_ETYPE;
    for (int i = 0; i < dst->ndim; i++)
        if (dst->shape[i] != src->shape[i]) return SF_ETYPE;
    size_t n = dst->nelems;
    if (n == 0) return SF_OK;
    switch ((sf_dtype)dst->dtype) {
    case SF_I8: SF__RED_INT(int8_t, unsigned) break;
    case SF_I16: SF__RED_INT(int16_t, unsigned) break;
    case SF_I32: SF__RED_INT(int32_t, uint32_t) break;
    case SF_I64: SF__RED_INT(int64_t, uint64_t) break;
    case SF_U8: SF__RED_INT(uint8_t, unsigned) break;
    case SF_U16: SF__RED_INT(uint16_t, unsigned) break;
    case SF_U32: SF__RED_INT(uint32_t, uint32_t) break;
    case SF_U64: SF__RED_INT(uint64_t, uint64_t) break;
    case SF_F32: SF__RED_FLT(float) break;
    case SF_F64: SF__RED_FLT(double) break;
    default: return SF_ETYPE;
    }
    return SF_OK;
}
