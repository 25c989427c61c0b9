/* Unit tests of values: shapes, dtypes, scalars, bytes, refcounts, digests, big data. */
#include <stdint.h>
#include <string.h>

#include "core/value.h"
#include "tests/check.h"

int main(void) {
    /* every dtype, sizes and names */
    size_t sizes[] = {1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1};
    for (int dt = 0; dt < SF_NDTYPES; dt++) {
        ASSERT_EQ(sf_dtype_size((sf_dtype)dt), sizes[dt]);
        ASSERT_STR_NE(sf_dtype_name((sf_dtype)dt), "invalid-dtype");
        int64_t shape[3] = {2, 3, 4};
        sf_value *v = sf_value_zeros((sf_dtype)dt, 3, shape);
        if (ASSERT(v) &&
            ASSERT_EQ(sf_value_nelems(v), 24))
            ASSERT_EQ(sf_value_nbytes(v), 24 * sizes[dt]);
        if (ASSERT_EQ(sf_value_ndim(v), 3) &&
            ASSERT_EQ(sf_value_dim(v, 2), 4))
            ASSERT_EQ(sf_value_dim(v, 3), 0);
        for (size_t i = 0; i < sf_value_nbytes(v); i++) ASSERT_EQ(((char *)sf_value_data(v))[i], 0);
        sf_value_unref(&v);
        ASSERT_NULL(v);
    }
    ASSERT_STR_EQ(sf_dtype_name(SF_F32), "float32");
    ASSERT_EQ(sf_dtype_size((sf_dtype)99), 0);

    /* up to SF_MAX_DIMS dimensions; more is refused */
    int64_t sh[SF_MAX_DIMS + 1];
    for (int i = 0; i <= SF_MAX_DIMS; i++) sh[i] = 1 + (i % 2);
    sf_value *v = sf_value_new(SF_I16, SF_MAX_DIMS, sh);
    if (ASSERT(v) && ASSERT_EQ(sf_value_ndim(v), SF_MAX_DIMS)) ASSERT_EQ(sf_value_nelems(v), 256);
    sf_value_unref(&v);
    ASSERT_NULL(sf_value_new(SF_I16, SF_MAX_DIMS + 1, sh));
    v = sf_value_new(SF_U8, 8, sh);
    if (ASSERT(v)) ASSERT_EQ(sf_value_ndim(v), 8);
    sf_value_unref(&v);

    /* empty arrays, negative and overflowing extents */
    int64_t empty[2] = {0, 5};
    v = sf_value_new(SF_F64, 2, empty);
    if (ASSERT(v) &&
        ASSERT_EQ(sf_value_nelems(v), 0) &&
        ASSERT_EQ(sf_value_nbytes(v), 0))
        ASSERT_NOT_NULL(sf_value_data(v));
    sf_value_unref(&v);
    int64_t neg[1] = {-1};
    ASSERT_NULL(sf_value_new(SF_F64, 1, neg));
    int64_t huge[2] = {INT64_MAX / 2, 16};
    ASSERT_NULL(sf_value_new(SF_F64, 2, huge));
    ASSERT_NULL(sf_value_new((sf_dtype)42, 0, NULL));

    /* scalars, conversions */
    v = sf_value_f64(-2.5);
    if (ASSERT_EQ(sf_value_ndim(v), 0) &&
        ASSERT_EQ(sf_value_nelems(v), 1))
        ASSERT_EQ(sf_value_as_f64(v, 0), -2.5);
    if (ASSERT_EQ(sf_value_as_i64(v, 0), -2)) ASSERT_EQ(sf_value_as_f64(v, 1), 0);
    sf_value_unref(&v);
    v = sf_value_i64(INT64_MIN);
    if (ASSERT_EQ(sf_value_as_i64(v, 0), INT64_MIN)) ASSERT_EQ(sf_value_dtype(v), SF_I64);
    sf_value_unref(&v);
    int64_t four[1] = {4};
    v = sf_value_new(SF_U16, 1, four);
    uint16_t *u = sf_value_data(v);
    u[0] = 65535, u[3] = 7;
    if (ASSERT_EQ(sf_value_as_f64(v, 0), 65535.0)) ASSERT_EQ(sf_value_as_i64(v, 3), 7);
    sf_value_unref(&v);

    /* bytes and strings keep a NUL after the end */
    v = sf_value_bytes("ab\0cd", 5);
    if (ASSERT_EQ(sf_value_dtype(v), SF_BYTES)) ASSERT_EQ(sf_value_nbytes(v), 5);
    ASSERT_EQ(((const char *)sf_value_cdata(v))[5], 0);
    sf_value_unref(&v);
    v = sf_value_str("x.h5");
    if (ASSERT_STR_EQ(sf_value_cstr(v), "x.h5")) ASSERT_EQ(sf_value_nbytes(v), 4);
    sf_value *w = sf_value_copy(v);
    if (ASSERT_NE(w, v)) ASSERT_STR_EQ(sf_value_cstr(w), "x.h5");
    sf_value_unref(&w);

    /* references */
    w = sf_value_ref(v);
    ASSERT_EQ(w, v);
    sf_value_unref(&w);
    ASSERT_STR_EQ(sf_value_cstr(v), "x.h5"); /* still alive */
    sf_value_unref(&v);

    /* digest sees data, shape and dtype */
    int64_t s2[2] = {2, 2};
    sf_value *a = sf_value_zeros(SF_I32, 2, s2), *b = sf_value_zeros(SF_I32, 2, s2);
    ASSERT_EQ(sf__value_digest(a), sf__value_digest(b));
    ((int32_t *)sf_value_data(b))[3] = 1;
    ASSERT_NE(sf__value_digest(a), sf__value_digest(b));
    sf_value *c = sf_value_zeros(SF_U32, 2, s2);
    ASSERT_NE(sf__value_digest(a), sf__value_digest(c));
    sf_value_unref(&a);
    sf_value_unref(&b);
    sf_value_unref(&c);

    /* large values (mapped, cached): content survives, reuse works */
    int64_t big[1] = {(int64_t)3 << 20};
    for (int rep = 0; rep < 3; rep++) {
        v = sf_value_new(SF_U8, 1, big);
        ASSERT_NOT_NULL(v);
        memset(sf_value_data(v), rep + 1, (size_t)big[0]);
        ASSERT_EQ(((uint8_t *)sf_value_data(v))[big[0] - 1], rep + 1);
        w = sf_value_copy(v);
        ASSERT_MEM_EQ(sf_value_data(v), sf_value_data(w), (size_t)big[0]);
        sf_value_unref(&w);
        sf_value_unref(&v);
    }

    /* descriptions from elsewhere (a party communicator's broadcast): checked, with
     * overflow, before anything is allocated */
    size_t nb = 0;
    const int64_t sh2[2] = {3, 4}, hugesh[2] = {INT64_C(1) << 40, INT64_C(1) << 30},
                  negd[1] = {-1}, wrap[1] = {INT64_C(1) << 61};
    if (ASSERT_OK(sf__value_desc_bytes(SF_F64, 2, sh2, &nb))) ASSERT_EQ(nb, 96);
    if (ASSERT_OK(sf__value_desc_bytes(SF_F64, 0, NULL, &nb))) ASSERT_EQ(nb, 8);
    ASSERT_STATUS(sf__value_desc_bytes(SF_U8, 2, hugesh, &nb), SF_ERANGE);   /* 2^70 elements */
    ASSERT_STATUS(sf__value_desc_bytes(SF_F64, 1, wrap, &nb), SF_ERANGE);  /* 2^61 x 8 bytes */
    ASSERT_STATUS(sf__value_desc_bytes(SF_I32, 1, negd, &nb), SF_ERANGE);
    ASSERT_STATUS(sf__value_desc_bytes(-1, 1, sh2, &nb), SF_EINVAL);
    ASSERT_STATUS(sf__value_desc_bytes(SF_NDTYPES, 1, sh2, &nb), SF_EINVAL);
    ASSERT_STATUS(sf__value_desc_bytes(SF_F64, SF_MAX_DIMS + 1, sh2, &nb), SF_EINVAL);
    ASSERT_STATUS(sf__value_desc_bytes(SF_F64, -1, sh2, &nb), SF_EINVAL);
    TEST_DONE();
}
