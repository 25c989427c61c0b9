/*
 * Values across parties, in every mode: every dtype, 0 to SF_MAX_DIMS dimensions, empty
 * arrays, large (chunked) arrays, bytes with NULs, inline arguments of every kind and
 * many return values. Each value is made on alice, checked and copied on bob, moved to
 * carol with sf_to and checked there, then revealed to all with sf_get and checked by
 * every party's program. Any mismatch fails an assertion (tests/check.h: the values on
 * stderr) and a task (with what differed) or the program.
 */
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "sfmpi/sf.h"

static void shape_for(int ndim, int64_t *shape, int empty) {
    for (int i = 0; i < ndim; i++) shape[i] = (ndim > 8) ? 1 + (i % 2) : 2 + i;
    if (empty && ndim > 0) shape[ndim / 2] = 0;
}

/* Element i of the pattern for (dtype, seed) as raw bytes. */
static void fill(sf_value *v, int64_t seed) {
    unsigned char *p = sf_value_data(v);
    size_t n = sf_value_nbytes(v);
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 7;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = (unsigned char)s;
    }
}

static int same_as_pattern(const sf_value *v, int64_t dt, int64_t ndim, int64_t empty,
                           int64_t seed, char *why, size_t n) {
    int64_t shape[SF_MAX_DIMS];
    shape_for((int)ndim, shape, (int)empty);
    if (sf_value_dtype(v) != dt || sf_value_ndim(v) != ndim) {
        snprintf(why, n, "dtype/ndim %s/%d, expected %s/%d", sf_dtype_name(sf_value_dtype(v)),
                 sf_value_ndim(v), sf_dtype_name((sf_dtype)dt), (int)ndim);
        return 0;
    }
    for (int i = 0; i < ndim; i++)
        if (sf_value_dim(v, i) != shape[i]) {
            snprintf(why, n, "dim %d is %lld, expected %lld", i, (long long)sf_value_dim(v, i),
                     (long long)shape[i]);
            return 0;
        }
    sf_value *ref = sf_value_new((sf_dtype)dt, (int)ndim, shape);
    fill(ref, seed);
    int ok = sf_value_nbytes(ref) == sf_value_nbytes(v) &&
             memcmp(sf_value_cdata(ref), sf_value_cdata(v), sf_value_nbytes(v)) == 0;
    if (!ok) snprintf(why, n, "data differs (%zu bytes)", sf_value_nbytes(v));
    sf_value_unref(&ref);
    return ok;
}

static int make(sf_task *t) {
    int64_t dt = sf_arg_i64(t, 0), nd = sf_arg_i64(t, 1), em = sf_arg_i64(t, 2), seed = sf_arg_i64(t, 3);
    int64_t shape[SF_MAX_DIMS];
    shape_for((int)nd, shape, (int)em);
    sf_value *v = sf_value_new((sf_dtype)dt, (int)nd, shape);
    if (!v) return sf_fail(t, "cannot allocate");
    fill(v, seed);
    return sf_return(t, 0, v);
}

static int make_big(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_F64, 1, &n);
    if (!v) return sf_fail(t, "cannot allocate %lld doubles", (long long)n);
    double *x = sf_value_data(v);
    for (int64_t i = 0; i < n; i++) x[i] = (double)i * 0.5 - 3.0;
    return sf_return(t, 0, v);
}

static int check_copy(sf_task *t) {
    char why[160];
    if (!ASSERT_MSG(same_as_pattern(sf_arg(t, 0), sf_arg_i64(t, 1), sf_arg_i64(t, 2), sf_arg_i64(t, 3),
                                    sf_arg_i64(t, 4), why, sizeof why),
                    "value arrived changed: %s", why))
        return sf_fail(t, "value arrived changed: %s", why);
    return sf_return(t, 0, sf_value_copy(sf_arg(t, 0)));
}

static int check_big(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    const double *x = sf_value_cdata(v);
    for (size_t i = 0; i < sf_value_nelems(v); i++)
        if (!ASSERT_EQ_MSG(x[i], (double)i * 0.5 - 3.0, "element %zu", i))
            return sf_fail(t, "element %zu is %g", i, x[i]);
    return sf_return(t, 0, sf_value_i64((int64_t)sf_value_nelems(v)));
}

/* inline arguments of every kind, and many returns */
static int inline_kinds(sf_task *t) {
    const sf_value *arr = sf_arg(t, 3), *bytes = sf_arg(t, 4);
    if (!ASSERT_EQ(sf_arg_f64(t, 0), 1.25) || !ASSERT_EQ(sf_arg_i64(t, 1), -7) ||
        !ASSERT_STR_EQ(sf_arg_str(t, 2), "name"))
        return sf_fail(t, "scalar inline arguments changed");
    if (!ASSERT_EQ(sf_value_dtype(arr), SF_I32) || !ASSERT_EQ(sf_value_nelems(arr), 6) ||
        !ASSERT_EQ(((const int32_t *)sf_value_cdata(arr))[5], 50))
        return sf_fail(t, "SF_VAL array changed");
    if (!ASSERT_EQ(sf_value_nbytes(bytes), 5) || !ASSERT_MEM_EQ(sf_value_cdata(bytes), "a\0b\0c", 5))
        return sf_fail(t, "SF_BYTES changed");
    for (int i = 0; i < sf_nreturns(t); i++) sf_return(t, i, sf_value_i64(i * i));
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    sf_device alice = sf_pyu(sf, "alice"), bob = sf_pyu(sf, "bob"), carol = sf_pyu(sf, "carol");
    const int ndims[] = {0, 1, 2, 3, 8, SF_MAX_DIMS};
    int count = 0, bad = 0;
    for (int dt = 0; dt < SF_NDTYPES; dt++)
        for (size_t k = 0; k < sizeof ndims / sizeof ndims[0]; k++)
            for (int em = 0; em < 2; em++) {
                int nd = ndims[k];
                if (em && nd == 0) continue;
                sf_scope sc = sf_scope_begin(sf);
                int64_t seed = dt * 100 + nd * 2 + em;
                sf_obj a = SF_REMOTE(alice, make, SF_I64(dt), SF_I64(nd), SF_I64(em), SF_I64(seed));
                sf_obj b = SF_REMOTE(bob, check_copy, SF_OBJ(a), SF_I64(dt), SF_I64(nd), SF_I64(em),
                                     SF_I64(seed));
                sf_obj c = sf_to(b, carol);
                sf_obj d = SF_REMOTE(carol, check_copy, SF_OBJ(c), SF_I64(dt), SF_I64(nd),
                                     SF_I64(em), SF_I64(seed));
                sf_value *v;
                SF_TRY(sf_get(sf, d, &v));
                char why[160];
                if (!ASSERT_MSG(same_as_pattern(v, dt, nd, em, seed, why, sizeof why),
                                "revealed %s ndim %d empty %d: %s", sf_dtype_name((sf_dtype)dt), nd, em, why))
                    bad++;
                count++;
                sf_scope_end(&sc, NULL, 0);
            }

    /* 3 Mi doubles = 24 MiB: the large-value path (and the chunked path with
     * SF_MPI_CHUNK_BYTES set) */
    sf_obj big = SF_REMOTE(alice, make_big, SF_I64(3 << 20));
    sf_obj nbig = SF_REMOTE(bob, check_big, SF_OBJ(big));
    sf_obj nbig2 = SF_REMOTE(carol, check_big, SF_OBJ(big));
    sf_obj both[2] = {nbig, nbig2};
    SF_TRY(sf_wait(sf, both, 2));
    sf_value *n;
    SF_TRY(sf_get(sf, nbig2, &n));
    if (!ASSERT_EQ(sf_value_as_i64(n, 0), 3 << 20)) bad++;

    int32_t arr[6] = {0, 10, 20, 30, 40, 50};
    sf_value *av = sf_value_new(SF_I32, 2, (int64_t[]){2, 3});
    memcpy(sf_value_data(av), arr, sizeof arr);
    sf_obj outs[7];
    SF_REMOTE_N(bob, inline_kinds, 7, outs, SF_F64(1.25), SF_I64(-7), SF_STR("name"), SF_VAL(av),
                SF_BYTES("a\0b\0c", 5));
    sf_value_unref(&av);
    for (int i = 0; i < 7; i++) {
        sf_value *r;
        SF_TRY(sf_get(sf, outs[i], &r));
        if (!ASSERT_EQ_MSG(sf_value_as_i64(r, 0), i * i, "return %d", i)) bad++;
    }
    sf_print(sf, "roundtrip: %d values across 3 parties, %d bad; large value %lld elements; 7 returns\n",
             count, bad, (long long)sf_value_as_i64(n, 0));
    return bad ? SF_EINVAL : 0;
}

int main(int argc, char **argv) {
    static const char *const parties[] = {"alice", "bob", "carol"};
    sf_config cfg = {.argc = argc, .argv = argv, .parties = parties, .nparties = 3};
    return sf_run(&cfg, program, NULL);
}
