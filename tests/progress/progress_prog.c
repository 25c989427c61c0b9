/*
 * progress_prog: long operations for the progress tests (test_progress.sh). Parties
 * alice and bob (the h5 and idle cases run with alice alone too; others only follow):
 *
 *   progress_prog idle                  nothing (production start-up is the operation)
 *   progress_prog h5 FILE KIB           alice writes a float64 array of KIB KiB (rows of
 *                                       16 elements, x[i] = i) as FILE:/x, reads it back
 *                                       and checks every element
 *   progress_prog spu OPS               an SPU kernel over alice and bob making OPS
 *                                       multiplications of 4096-element vectors
 *   progress_prog transfer MIB          a MIB MiB array moves alice -> bob (bob checks it)
 *
 * Prints (sf_print) "<case> ok" and the case's numbers, or fails with exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/sf.h"

#define COLS 16

static int make_f64(sf_task *t) {
    int64_t rows = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_F64, 2, (int64_t[]){rows, COLS});
    if (!v) return sf_fail(t, "out of memory");
    double *p = sf_value_data(v);
    for (int64_t i = 0; i < rows * COLS; i++) p[i] = (double)i;
    return sf_return(t, 0, v);
}

/* the number of elements that differ from x[i] = i */
static int count_bad(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    const double *p = sf_value_cdata(v);
    int64_t bad = 0;
    for (size_t i = 0; i < sf_value_nelems(v); i++) bad += p[i] != (double)i;
    return sf_return(t, 0, sf_value_i64(bad));
}

static int make_bytes(sf_task *t) {
    int64_t n = sf_arg_i64(t, 0);
    sf_value *v = sf_value_new(SF_U8, 1, (int64_t[]){n});
    if (!v) return sf_fail(t, "out of memory");
    uint8_t *p = sf_value_data(v);
    for (int64_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7);
    return sf_return(t, 0, v);
}

static int check_bytes(sf_task *t) {
    const sf_value *v = sf_arg(t, 0);
    const uint8_t *p = sf_value_cdata(v);
    int64_t bad = 0, n = (int64_t)sf_value_nbytes(v);
    for (int64_t i = 0; i < n; i++) bad += p[i] != (uint8_t)(i * 7);
    return sf_return(t, 0, sf_value_i64(bad ? -bad : n));
}

static int ones(sf_task *t) {
    sf_value *v = sf_value_new(SF_F64, 1, (int64_t[]){4096});
    if (!v) return sf_fail(t, "out of memory");
    double *p = sf_value_data(v);
    for (int i = 0; i < 4096; i++) p[i] = 1.0;
    return sf_return(t, 0, v);
}

static int64_t g_ops; /* the spu case's OPS (the same on every party) */

static int chain(sf_spu_task *t) {
    int64_t ops = g_ops;
    sf_spu_val x = sf_spu_arg(t, 0), y = sf_spu_arg(t, 1);
    for (int64_t i = 0; i < ops; i++) x = sf_spu_mul(t, x, y);
    return sf_spu_return(t, sf_spu_sum(t, x));
}

static int get_i64(sf_ctx *sf, sf_obj o, int64_t *out) {
    sf_value *v;
    SF_TRY(sf_get(sf, o, &v));
    *out = sf_value_as_i64(v, 0);
    return 0;
}

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    int argc = sf_argc(sf);
    char **argv = sf_argv(sf);
    const char *what = argc > 1 ? argv[1] : "";
    sf_device alice = sf_pyu(sf, "alice"); /* and bob, in the cases that need him */
    if (!strcmp(what, "idle")) {
        sf_print(sf, "idle ok\n");
        return 0;
    }
    if (!strcmp(what, "h5") && argc == 4) {
        int64_t rows = atoll(argv[3]) * 1024 / (COLS * 8), bad, n;
        sf_obj x = SF_REMOTE(alice, make_f64, SF_I64(rows));
        sf_obj w = sf_h5_write(x, argv[2], "x");
        SF_TRY(get_i64(sf, w, &n));
        sf_obj r = sf_h5_read(alice, argv[2], "x");
        SF_TRY(get_i64(sf, SF_REMOTE(alice, count_bad, SF_OBJ(r)), &bad));
        sf_print(sf, "h5 ok: wrote %lld bytes, read them back, %lld wrong\n", (long long)n,
                 (long long)bad);
        return bad ? 1 : 0;
    }
    if (!strcmp(what, "spu") && argc == 3) {
        sf_device bob = sf_pyu(sf, "bob");
        sf_spu_options so = {.seed = 1};
        sf_device spu = sf_spu(sf, ((const char *[]){"alice", "bob"}), 2, &so);
        sf_obj a = SF_REMOTE(alice, ones), b = SF_REMOTE(bob, ones);
        g_ops = atoll(argv[2]);
        sf_obj s = SF_REMOTE(spu, chain, SF_OBJ(a), SF_OBJ(b));
        sf_value *v;
        SF_TRY(sf_get(sf, s, &v));
        sf_print(sf, "spu ok: sum %.1f\n", sf_value_as_f64(v, 0));
        return 0;
    }
    if (!strcmp(what, "transfer") && argc == 3) {
        sf_device bob = sf_pyu(sf, "bob");
        int64_t n = atoll(argv[2]) << 20, got;
        sf_obj x = SF_REMOTE(alice, make_bytes, SF_I64(n));
        SF_TRY(get_i64(sf, SF_REMOTE(bob, check_bytes, SF_OBJ(x)), &got));
        sf_print(sf, "transfer ok: %lld bytes\n", (long long)got);
        return got == n ? 0 : 1;
    }
    sf_log(sf, "usage: progress_prog idle | h5 FILE KIB | spu OPS | transfer MIB");
    return SF_EUSAGE;
}

int main(int argc, char **argv) { return sf_main(argc, argv, program, NULL); }
