/*
 * tests/check.h - the assertions of every C test under tests/ (header only).
 *
 * Contract
 *   ASSERT(cond)                       cond is true
 *   ASSERT_EQ/NE/LT/LE/GT/GE(a, b)     a OP b, with C's own comparison (the usual arithmetic
 *                                      conversions: -1 == 0xFFFFFFFFu holds, as in C) for any
 *                                      scalars: integers of any width and signedness (also
 *                                      char, _Bool, enums), floating types, pointers.
 *                                      On failure both expressions and their values print,
 *                                      the format picked by _Generic from each operand's
 *                                      type: integers in decimal (unsigned >= 2^16 also in
 *                                      hex, char types also as 'c'), floating types with
 *                                      enough digits to read back exactly, pointers as %p.
 *                                      (A bit-field operand: write +s.field; GCC gives
 *                                      bit-fields a type of their own.)
 *   ASSERT_NEAR(a, b, tol)             |a - b| <= tol (in long double; NaN fails)
 *   ASSERT_STR_EQ/NE(a, b)             strcmp(a, b) == 0 / != 0; a NULL operand fails either
 *   ASSERT_STR_CONTAINS(s, sub)        strstr(s, sub) != NULL; a NULL operand fails
 *   ASSERT_MEM_EQ(a, b, n)             memcmp(a, b, n) == 0; prints the first difference
 *   ASSERT_NULL(p), ASSERT_NOT_NULL(p)
 *   ASSERT_OK(expr)                    an sf_status result is SF_OK (0); prints its name
 *   ASSERT_STATUS(expr, SF_Exxx)       an sf_status result is that status; prints both names
 *   TEST_FAIL(fmt, ...)                an unconditional failure with a message
 *                                      (TEST_FAIL_FATAL stops the program)
 *   TEST_FAIL_AT(file, line, fmt, ...) the same reported at a caller's file:line (helpers)
 * Every operand is evaluated exactly once (a message's arguments only on failure).
 * Variants: X_MSG(..., fmt, ...) adds a printf-style message to the failure line;
 * X_FATAL(...) and X_FATAL_MSG(..., fmt, ...) stop the program after the failure (for a
 * check after which going on makes no sense, e.g. a NULL pointer about to be used).
 *
 * Each assertion is an expression: 1 if it held, 0 if it failed. A check that is only
 * meaningful when an earlier one holds goes under it (as the later parts of one && condition
 * are not evaluated when an earlier part is false):
 *   if (ASSERT_NOT_NULL(v) && ASSERT_EQ(v->ndim, 2)) ASSERT_EQ(v->shape[1], 3);
 * and a test can give up on a failure:  if (!ASSERT_OK(rc)) return rc;
 *
 * A failure writes one line to stderr, in one write:
 *   tests/unit/test_x.c:42: ASSERT_EQ(n, want) failed: n = 3, want = 4[: message]
 * (the path from tests/ on; after the file:line, the thread's context in brackets if
 * test_context set one), and counts it in an atomic counter: any thread may assert. The
 * first TEST_MAX_PRINTED (30) failures print, then one "... more failures" line; all count.
 * A failure does not stop the test unless it is a _FATAL variant, TEST_ALL_FATAL is defined
 * non-zero before this header is included (every failure stops the program), or
 * SF_TEST_ABORT=1 is in the environment (abort() at the first failure, for a debugger or
 * a core dump). Stopping flushes stdout and stderr and exits with status 1 at once
 * (_Exit: other threads, atexit handlers and leak checks are not waited for).
 *
 *   test_context(fmt, ...)   a note for this thread's later failures ("[vector X]");
 *                            test_context(NULL) clears it (per OS thread: a driver of
 *                            coroutines sets it again on each switch)
 *   test_failures()          failures so far, all threads
 *   test_checks()            assertions evaluated so far by the calling thread
 *   TEST_DONE()              in main: returns 1 if anything failed (after printing
 *                            "N assertion(s) failed" to stderr), else 0; prints nothing
 *                            to stdout
 *
 * The state is static, one per program (a test is one .c file plus headers). Needs libc,
 * C11 (_Generic, <stdatomic.h>, _Thread_local) and sfmpi/sf.h for the status names
 * (SF_STATUS_MAP, the table behind sf_err_name; no link to the library is needed).
 */
#ifndef SF_TESTS_CHECK_H
#define SF_TESTS_CHECK_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfmpi/sf.h"

#ifndef TEST_ALL_FATAL
#define TEST_ALL_FATAL 0
#endif
#ifndef TEST_MAX_PRINTED
#define TEST_MAX_PRINTED 30
#endif

/* ---------------------------------------------------------------- the assertions */

#define ASSERT(cond) TEST__COND(#cond, cond, test__fail(0))
#define ASSERT_MSG(cond, ...) TEST__COND(#cond, cond, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_FATAL(cond) TEST__COND(#cond, cond, test__fail(1))
#define ASSERT_FATAL_MSG(cond, ...) TEST__COND(#cond, cond, test__fail_msg(1, __VA_ARGS__))

#define ASSERT_EQ(a, b) TEST__CMP(EQ, #a, #b, a, b, test__fail(0))
#define ASSERT_NE(a, b) TEST__CMP(NE, #a, #b, a, b, test__fail(0))
#define ASSERT_LT(a, b) TEST__CMP(LT, #a, #b, a, b, test__fail(0))
#define ASSERT_LE(a, b) TEST__CMP(LE, #a, #b, a, b, test__fail(0))
#define ASSERT_GT(a, b) TEST__CMP(GT, #a, #b, a, b, test__fail(0))
#define ASSERT_GE(a, b) TEST__CMP(GE, #a, #b, a, b, test__fail(0))

#define ASSERT_EQ_MSG(a, b, ...) TEST__CMP(EQ, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_NE_MSG(a, b, ...) TEST__CMP(NE, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_LT_MSG(a, b, ...) TEST__CMP(LT, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_LE_MSG(a, b, ...) TEST__CMP(LE, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_GT_MSG(a, b, ...) TEST__CMP(GT, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_GE_MSG(a, b, ...) TEST__CMP(GE, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))

#define ASSERT_EQ_FATAL(a, b) TEST__CMP(EQ, #a, #b, a, b, test__fail(1))
#define ASSERT_NE_FATAL(a, b) TEST__CMP(NE, #a, #b, a, b, test__fail(1))
#define ASSERT_LT_FATAL(a, b) TEST__CMP(LT, #a, #b, a, b, test__fail(1))
#define ASSERT_LE_FATAL(a, b) TEST__CMP(LE, #a, #b, a, b, test__fail(1))
#define ASSERT_GT_FATAL(a, b) TEST__CMP(GT, #a, #b, a, b, test__fail(1))
#define ASSERT_GE_FATAL(a, b) TEST__CMP(GE, #a, #b, a, b, test__fail(1))

#define ASSERT_EQ_FATAL_MSG(a, b, ...) TEST__CMP(EQ, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_NE_FATAL_MSG(a, b, ...) TEST__CMP(NE, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_LT_FATAL_MSG(a, b, ...) TEST__CMP(LT, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_LE_FATAL_MSG(a, b, ...) TEST__CMP(LE, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_GT_FATAL_MSG(a, b, ...) TEST__CMP(GT, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_GE_FATAL_MSG(a, b, ...) TEST__CMP(GE, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))

#define ASSERT_NEAR(a, b, tol) TEST__NEAR(#a, #b, #tol, a, b, tol, test__fail(0))
#define ASSERT_STR_EQ(a, b) TEST__STR(EQ, #a, #b, a, b, test__fail(0))
#define ASSERT_STR_NE(a, b) TEST__STR(NE, #a, #b, a, b, test__fail(0))
#define ASSERT_STR_CONTAINS(s, sub) TEST__STR(HAS, #s, #sub, s, sub, test__fail(0))
#define ASSERT_MEM_EQ(a, b, n) TEST__MEM(#a, #b, #n, a, b, n, test__fail(0))
#define ASSERT_NULL(p) TEST__PTR(1, #p, p, test__fail(0))
#define ASSERT_NOT_NULL(p) TEST__PTR(0, #p, p, test__fail(0))
#define ASSERT_OK(expr) TEST__STATUS(#expr, expr, SF_OK, NULL, test__fail(0))
#define ASSERT_STATUS(expr, want) TEST__STATUS(#expr, expr, want, #want, test__fail(0))

#define ASSERT_NEAR_MSG(a, b, tol, ...) TEST__NEAR(#a, #b, #tol, a, b, tol, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_STR_EQ_MSG(a, b, ...) TEST__STR(EQ, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_STR_NE_MSG(a, b, ...) TEST__STR(NE, #a, #b, a, b, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_STR_CONTAINS_MSG(s, sub, ...) TEST__STR(HAS, #s, #sub, s, sub, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_MEM_EQ_MSG(a, b, n, ...) TEST__MEM(#a, #b, #n, a, b, n, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_NULL_MSG(p, ...) TEST__PTR(1, #p, p, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_NOT_NULL_MSG(p, ...) TEST__PTR(0, #p, p, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_OK_MSG(expr, ...) TEST__STATUS(#expr, expr, SF_OK, NULL, test__fail_msg(0, __VA_ARGS__))
#define ASSERT_STATUS_MSG(expr, want, ...) TEST__STATUS(#expr, expr, want, #want, test__fail_msg(0, __VA_ARGS__))

#define ASSERT_NEAR_FATAL(a, b, tol) TEST__NEAR(#a, #b, #tol, a, b, tol, test__fail(1))
#define ASSERT_STR_EQ_FATAL(a, b) TEST__STR(EQ, #a, #b, a, b, test__fail(1))
#define ASSERT_STR_NE_FATAL(a, b) TEST__STR(NE, #a, #b, a, b, test__fail(1))
#define ASSERT_STR_CONTAINS_FATAL(s, sub) TEST__STR(HAS, #s, #sub, s, sub, test__fail(1))
#define ASSERT_MEM_EQ_FATAL(a, b, n) TEST__MEM(#a, #b, #n, a, b, n, test__fail(1))
#define ASSERT_NULL_FATAL(p) TEST__PTR(1, #p, p, test__fail(1))
#define ASSERT_NOT_NULL_FATAL(p) TEST__PTR(0, #p, p, test__fail(1))
#define ASSERT_OK_FATAL(expr) TEST__STATUS(#expr, expr, SF_OK, NULL, test__fail(1))
#define ASSERT_STATUS_FATAL(expr, want) TEST__STATUS(#expr, expr, want, #want, test__fail(1))

#define ASSERT_NEAR_FATAL_MSG(a, b, tol, ...) TEST__NEAR(#a, #b, #tol, a, b, tol, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_STR_EQ_FATAL_MSG(a, b, ...) TEST__STR(EQ, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_STR_NE_FATAL_MSG(a, b, ...) TEST__STR(NE, #a, #b, a, b, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_STR_CONTAINS_FATAL_MSG(s, sub, ...) TEST__STR(HAS, #s, #sub, s, sub, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_MEM_EQ_FATAL_MSG(a, b, n, ...) TEST__MEM(#a, #b, #n, a, b, n, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_NULL_FATAL_MSG(p, ...) TEST__PTR(1, #p, p, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_NOT_NULL_FATAL_MSG(p, ...) TEST__PTR(0, #p, p, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_OK_FATAL_MSG(expr, ...) TEST__STATUS(#expr, expr, SF_OK, NULL, test__fail_msg(1, __VA_ARGS__))
#define ASSERT_STATUS_FATAL_MSG(expr, want, ...) TEST__STATUS(#expr, expr, want, #want, test__fail_msg(1, __VA_ARGS__))

#define TEST_FAIL(...) test__r((test__pending(__FILE__, __LINE__, "failed"), test__fail_msg(0, __VA_ARGS__)))
#define TEST_FAIL_AT(file, line, ...) test__r((test__pending(file, line, "failed"), test__fail_msg(0, __VA_ARGS__)))
#define TEST_FAIL_FATAL(...) test__r((test__pending(__FILE__, __LINE__, "failed"), test__fail_msg(1, __VA_ARGS__)))

#define TEST_DONE() return test__done()

/* ---------------------------------------------------------------- implementation */

/* Each assertion is (test__X_ok(...) || test__fail...(...)): the first part evaluates and
 * compares, counts the check, and on failure formats the line into the thread's pending
 * buffer; the second appends the message, prints, counts, and stops if fatal. */
#define TEST__COND(ec, cond, fail) \
    test__r(test__cond_ok(__FILE__, __LINE__, ec, (cond) ? 1 : 0) || (fail))
#define TEST__CMP(op, ea, eb, a, b, fail) \
    test__r(test__cmp_ok(__FILE__, __LINE__, TEST__OP_##op, ea, eb, TEST__VAL(a), TEST__VAL(b)) || (fail))
#define TEST__NEAR(ea, eb, et, a, b, tol, fail) \
    test__r(test__near_ok(__FILE__, __LINE__, ea, eb, et, TEST__VAL(a), TEST__VAL(b), TEST__VAL(tol)) || (fail))
#define TEST__STR(op, ea, eb, a, b, fail) \
    test__r(test__str_ok(__FILE__, __LINE__, TEST__STR_##op, ea, eb, (a), (b)) || (fail))
#define TEST__MEM(ea, eb, en, a, b, n, fail) \
    test__r(test__mem_ok(__FILE__, __LINE__, ea, eb, en, (a), (b), (n)) || (fail))
#define TEST__PTR(want_null, ep, p, fail) \
    test__r(test__ptr_ok(__FILE__, __LINE__, want_null, ep, (p)) || (fail))
#define TEST__STATUS(ee, expr, want, wname, fail) \
    test__r(test__status_ok(__FILE__, __LINE__, ee, (int)(expr), (int)(want), wname) || (fail))

enum { TEST__OP_EQ, TEST__OP_NE, TEST__OP_LT, TEST__OP_LE, TEST__OP_GT, TEST__OP_GE };
enum { TEST__STR_EQ, TEST__STR_NE, TEST__STR_HAS };

/* One operand: its kind, the width of its promoted type (integers) or its floating rank. */
typedef struct test__val {
    char kind;           /* 'i' signed integer, 'u' unsigned integer, 'f' floating, 'p' pointer */
    unsigned char width; /* integers: bytes of the promoted type; floating: 1 float, 2 double, 3 long double */
    unsigned char chr;   /* a char type: printed as a character too */
    union {
        intmax_t i;
        uintmax_t u;
        const volatile void *p;
    } v;
    long double f; /* floating (outside the union: GCC notes an ABI change for such unions) */
} test__val;

static inline test__val test__vi(intmax_t x, int width, int chr)
{
    test__val r = {'i', (unsigned char)width, (unsigned char)chr, {.i = x}, 0};
    return r;
}
static inline test__val test__vu(uintmax_t x, int width)
{
    test__val r = {'u', (unsigned char)width, 0, {.u = x}, 0};
    return r;
}
static inline test__val test__vf(long double x, int rank)
{
    test__val r = {'f', (unsigned char)rank, 0, {.i = 0}, x};
    return r;
}
/* Types narrower than int promote to int, as in a comparison. */
static inline test__val test__v_bool(_Bool x) { return test__vi(x, sizeof(int), 0); }
static inline test__val test__v_char(char x) { return test__vi(x, sizeof(int), 1); }
static inline test__val test__v_schar(signed char x) { return test__vi(x, sizeof(int), 1); }
static inline test__val test__v_uchar(unsigned char x) { return test__vi(x, sizeof(int), 1); }
static inline test__val test__v_short(short x) { return test__vi(x, sizeof(int), 0); }
static inline test__val test__v_ushort(unsigned short x) { return test__vi(x, sizeof(int), 0); }
static inline test__val test__v_int(int x) { return test__vi(x, sizeof(int), 0); }
static inline test__val test__v_uint(unsigned x) { return test__vu(x, sizeof(unsigned)); }
static inline test__val test__v_long(long x) { return test__vi(x, sizeof(long), 0); }
static inline test__val test__v_ulong(unsigned long x) { return test__vu(x, sizeof(long)); }
static inline test__val test__v_llong(long long x) { return test__vi(x, sizeof(long long), 0); }
static inline test__val test__v_ullong(unsigned long long x) { return test__vu(x, sizeof(long long)); }
static inline test__val test__v_float(float x) { return test__vf(x, 1); }
static inline test__val test__v_double(double x) { return test__vf(x, 2); }
static inline test__val test__v_ldouble(long double x) { return test__vf(x, 3); }
static inline test__val test__v_ptr(const volatile void *x)
{
    test__val r = {'p', 0, 0, {.p = x}, 0};
    return r;
}

#define TEST__VAL(x)                                                                            \
    _Generic((x), _Bool: test__v_bool, char: test__v_char, signed char: test__v_schar,          \
             unsigned char: test__v_uchar, short: test__v_short, unsigned short: test__v_ushort, \
             int: test__v_int, unsigned: test__v_uint, long: test__v_long,                      \
             unsigned long: test__v_ulong, long long: test__v_llong,                            \
             unsigned long long: test__v_ullong, float: test__v_float, double: test__v_double,  \
             long double: test__v_ldouble, default: test__v_ptr)(x)

static atomic_int test__nfail;
static _Thread_local unsigned long test__nchecks;
static _Thread_local char test__ctx[192];
static _Thread_local char test__buf[2048];
static _Thread_local size_t test__len;

static inline int test__r(int ok) { return ok; } /* an assertion's value: unused is fine */
static inline int test_failures(void) { return atomic_load(&test__nfail); }
static inline unsigned long test_checks(void) { return test__nchecks; }

__attribute__((format(printf, 1, 2))) static inline void test_context(const char *fmt, ...)
{
    test__ctx[0] = 0;
    if (!fmt) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(test__ctx, sizeof test__ctx, fmt, ap);
    va_end(ap);
}

static inline void test__vadd(const char *fmt, va_list ap)
{
    size_t cap = sizeof test__buf;
    if (test__len >= cap - 1) return;
    int n = vsnprintf(test__buf + test__len, cap - test__len, fmt, ap);
    if (n < 0) return;
    test__len = (size_t)n < cap - test__len ? test__len + (size_t)n : cap - 1;
}

__attribute__((format(printf, 1, 2))) static inline void test__add(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    test__vadd(fmt, ap);
    va_end(ap);
}

/* Start the pending failure line: "file:line: [context] what". The file from tests/ on. */
static inline void test__pending(const char *file, int line, const char *what)
{
    const char *f = file;
    for (const char *p = file; (p = strstr(p, "tests/")) != NULL; p++)
        if (p == file || p[-1] == '/') f = p;
    test__len = 0;
    test__add("%s:%d: ", f, line);
    if (test__ctx[0]) test__add("[%s] ", test__ctx);
    test__add("%s", what);
}

static inline void test__stop(void)
{
    fflush(stdout);
    fprintf(stderr, "stopping after %d failure(s)\n", test_failures());
    fflush(stderr);
    const char *ab = getenv("SF_TEST_ABORT");
    if (ab && ab[0] == '1') abort();
    _Exit(1);
}

__attribute__((noinline, cold, unused)) static int test__emit(int fatal)
{
    if (test__len >= sizeof test__buf - 5) { /* cut: mark it */
        test__len = sizeof test__buf - 5;
        memcpy(test__buf + test__len, "...", 3);
        test__len += 3;
    }
    test__buf[test__len++] = '\n';
    int k = atomic_fetch_add(&test__nfail, 1);
    if (k < TEST_MAX_PRINTED) {
        fwrite(test__buf, 1, test__len, stderr);
    } else if (k == TEST_MAX_PRINTED) {
        fprintf(stderr, "... more failures (only the first %d are shown)\n", TEST_MAX_PRINTED);
    }
    test__len = 0;
    const char *ab = getenv("SF_TEST_ABORT");
    if (fatal || TEST_ALL_FATAL || (ab && ab[0] == '1')) test__stop();
    return 0;
}

static inline int test__fail(int fatal) { return test__emit(fatal); }

__attribute__((format(printf, 2, 3))) static inline int test__fail_msg(int fatal, const char *fmt, ...)
{
    test__add(": ");
    va_list ap;
    va_start(ap, fmt);
    test__vadd(fmt, ap);
    va_end(ap);
    return test__emit(fatal);
}

static inline const char *test__status_name(int status)
{
    switch (status) {
#define TEST__STATUS_NAME(name, code, text) \
    case code: return "SF_" #name;
        SF_STATUS_MAP(TEST__STATUS_NAME)
#undef TEST__STATUS_NAME
    }
    return "SF_UNKNOWN";
}

__attribute__((noinline, cold, unused)) static int test__cond_fail(const char *file, int line, const char *expr)
{
    test__pending(file, line, "ASSERT");
    test__add("(%s) failed", expr);
    return 0;
}

static inline int test__cond_ok(const char *file, int line, const char *expr, int ok)
{
    test__nchecks++;
    return ok ? 1 : test__cond_fail(file, line, expr);
}

/* Both operands converted to one floating type as C does: the wider floating type of the
 * two (an integer goes to the other's floating type, rounding as C rounds it). */
static inline long double test__as_float(test__val x, int rank)
{
    if (x.kind == 'f') return x.f;
    if (x.kind == 'i') {
        if (rank == 1) return (float)x.v.i;
        if (rank == 2) return (double)x.v.i;
        return (long double)x.v.i;
    }
    if (rank == 1) return (float)x.v.u;
    if (rank == 2) return (double)x.v.u;
    return (long double)x.v.u;
}

/* -1, 0, 1, or 2 for unordered (a NaN). */
static inline int test__compare(test__val a, test__val b)
{
    if (a.kind == 'f' || b.kind == 'f') {
        int rank = a.kind == 'f' ? a.width : 0;
        if (b.kind == 'f' && b.width > rank) rank = b.width;
        long double x = test__as_float(a, rank), y = test__as_float(b, rank);
        return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
    }
    if (a.kind == 'p' || b.kind == 'p') { /* a pointer, or a null pointer constant */
        uintptr_t x = a.kind == 'p' ? (uintptr_t)a.v.p : (uintptr_t)a.v.u;
        uintptr_t y = b.kind == 'p' ? (uintptr_t)b.v.p : (uintptr_t)b.v.u;
        return x < y ? -1 : x > y;
    }
    if (a.kind == 'i' && b.kind == 'i') return a.v.i < b.v.i ? -1 : a.v.i > b.v.i;
    if (a.kind == 'u' && b.kind == 'u') return a.v.u < b.v.u ? -1 : a.v.u > b.v.u;
    /* signed and unsigned: the signed one becomes unsigned (modulo 2^width) unless its
     * type is wider than the unsigned one's, which then becomes signed */
    int swap = a.kind == 'u';
    test__val s = swap ? b : a, u = swap ? a : b;
    int r;
    if (u.width >= s.width) {
        uintmax_t x = (uintmax_t)s.v.i;
        if (u.width < sizeof(uintmax_t)) x &= ((uintmax_t)1 << (8 * u.width)) - 1;
        r = x < u.v.u ? -1 : x > u.v.u;
    } else {
        intmax_t y = (intmax_t)u.v.u;
        r = s.v.i < y ? -1 : s.v.i > y;
    }
    return swap ? -r : r;
}

static inline void test__print_val(test__val x)
{
    char b[64];
    switch (x.kind) {
    case 'i':
        test__add("%jd", x.v.i);
        if (x.chr && x.v.i >= 32 && x.v.i < 127) test__add(" ('%c')", (char)x.v.i);
        break;
    case 'u':
        test__add("%ju", x.v.u);
        if (x.v.u >= 0x10000) test__add(" (0x%jx)", x.v.u);
        break;
    case 'f': /* the shortest of a few precisions that reads back exactly */
        if (x.width == 1) {
            snprintf(b, sizeof b, "%.6g", (double)x.f);
            if (strtof(b, NULL) != (float)x.f) snprintf(b, sizeof b, "%.9g", (double)x.f);
        } else if (x.width == 2) {
            snprintf(b, sizeof b, "%.15g", (double)x.f);
            if (strtod(b, NULL) != (double)x.f) snprintf(b, sizeof b, "%.17g", (double)x.f);
        } else {
            snprintf(b, sizeof b, "%.18Lg", x.f);
            if (strtold(b, NULL) != x.f) snprintf(b, sizeof b, "%.21Lg", x.f);
        }
        test__add("%s", b);
        break;
    default:
        if (x.v.p)
            test__add("%p", (const void *)x.v.p);
        else
            test__add("NULL");
    }
}

__attribute__((unused)) static const char *const test__cmp_names[] = {"ASSERT_EQ", "ASSERT_NE", "ASSERT_LT",
                                               "ASSERT_LE", "ASSERT_GT", "ASSERT_GE"};

__attribute__((noinline, cold, unused)) static int test__cmp_fail(const char *file, int line, int op,
                                                        const char *ea, const char *eb,
                                                        test__val a, test__val b)
{
    test__pending(file, line, test__cmp_names[op]);
    test__add("(%s, %s) failed: %s = ", ea, eb, ea);
    test__print_val(a);
    test__add(", %s = ", eb);
    test__print_val(b);
    return 0;
}

static inline int test__cmp_ok(const char *file, int line, int op, const char *ea, const char *eb,
                               test__val a, test__val b)
{
    test__nchecks++;
    int c = test__compare(a, b), ok;
    switch (op) {
    case TEST__OP_EQ: ok = c == 0; break;
    case TEST__OP_NE: ok = c != 0; break; /* a NaN is unequal to everything */
    case TEST__OP_LT: ok = c == -1; break;
    case TEST__OP_LE: ok = c == -1 || c == 0; break;
    case TEST__OP_GT: ok = c == 1; break;
    default: ok = c == 1 || c == 0; break;
    }
    return ok ? 1 : test__cmp_fail(file, line, op, ea, eb, a, b);
}

static inline long double test__as_ld(test__val x)
{
    return x.kind == 'f' ? x.f : x.kind == 'i' ? (long double)x.v.i : (long double)x.v.u;
}

static inline int test__near_ok(const char *file, int line, const char *ea, const char *eb,
                                const char *et, test__val a, test__val b, test__val tol)
{
    test__nchecks++;
    long double d = test__as_ld(a) - test__as_ld(b);
    if (d < 0) d = -d;
    if (d <= test__as_ld(tol)) return 1;
    int rank = a.kind == 'f' ? a.width : 2;
    if (b.kind == 'f' && b.width > rank) rank = b.width;
    test__pending(file, line, "ASSERT_NEAR");
    test__add("(%s, %s, %s) failed: %s = ", ea, eb, et, ea);
    test__print_val(a);
    test__add(", %s = ", eb);
    test__print_val(b);
    test__add(", |difference| ");
    test__print_val(test__vf(d, rank));
    test__add(" > %s = ", et);
    test__print_val(tol);
    return 0;
}

static inline void test__print_str(const char *s)
{
    if (!s) {
        test__add("NULL");
        return;
    }
    test__add("\"");
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n == 400) {
            test__add("\"... (%zu bytes)", strlen(s));
            return;
        }
        if (*p == '"' || *p == '\\') test__add("\\%c", *p);
        else if (*p == '\n') test__add("\\n");
        else if (*p >= 32 && *p < 127) test__add("%c", *p);
        else test__add("\\x%02x", *p);
    }
    test__add("\"");
}

static inline int test__str_ok(const char *file, int line, int op, const char *ea, const char *eb,
                               const char *a, const char *b)
{
    static const char *const names[] = {"ASSERT_STR_EQ", "ASSERT_STR_NE", "ASSERT_STR_CONTAINS"};
    test__nchecks++;
    if (a && b) {
        int ok = op == TEST__STR_EQ   ? strcmp(a, b) == 0
                 : op == TEST__STR_NE ? strcmp(a, b) != 0
                                      : strstr(a, b) != NULL;
        if (ok) return 1;
    }
    test__pending(file, line, names[op]);
    test__add("(%s, %s) failed: %s = ", ea, eb, ea);
    test__print_str(a);
    test__add(", %s = ", eb);
    test__print_str(b);
    return 0;
}

static inline int test__mem_ok(const char *file, int line, const char *ea, const char *eb,
                               const char *en, const void *a, const void *b, size_t n)
{
    test__nchecks++;
    if (n == 0 || memcmp(a, b, n) == 0) return 1;
    const unsigned char *x = a, *y = b;
    size_t i = 0, diff = 0;
    while (x[i] == y[i]) i++;
    for (size_t j = i; j < n; j++) diff += x[j] != y[j];
    test__pending(file, line, "ASSERT_MEM_EQ");
    test__add("(%s, %s, %s) failed: %zu of %zu bytes differ, the first at offset %zu:", ea, eb,
              en, diff, n, i);
    size_t end = i + 16 < n ? i + 16 : n;
    test__add(" %s[%zu..] =", ea, i);
    for (size_t j = i; j < end; j++) test__add(" %02x", x[j]);
    test__add(", %s[%zu..] =", eb, i);
    for (size_t j = i; j < end; j++) test__add(" %02x", y[j]);
    return 0;
}

static inline int test__ptr_ok(const char *file, int line, int want_null, const char *ep,
                               const volatile void *p)
{
    test__nchecks++;
    if ((p == NULL) == want_null) return 1;
    test__pending(file, line, want_null ? "ASSERT_NULL" : "ASSERT_NOT_NULL");
    test__add("(%s) failed: %s = ", ep, ep);
    test__print_val(test__v_ptr(p));
    return 0;
}

__attribute__((noinline, cold, unused)) static int test__status_fail(const char *file, int line, const char *expr,
                                                           int got, int want, const char *wname)
{
    test__pending(file, line, wname ? "ASSERT_STATUS" : "ASSERT_OK");
    if (wname)
        test__add("(%s, %s) failed: %s = %d (%s), want %d (%s)", expr, wname, expr, got,
                  test__status_name(got), want, test__status_name(want));
    else
        test__add("(%s) failed: %s = %d (%s)", expr, expr, got, test__status_name(got));
    return 0;
}

static inline int test__status_ok(const char *file, int line, const char *expr, int got, int want,
                                  const char *wname)
{
    test__nchecks++;
    return got == want ? 1 : test__status_fail(file, line, expr, got, want, wname);
}

static inline int test__done(void)
{
    int n = test_failures();
    if (!n) return 0;
    fflush(stdout);
    fprintf(stderr, "%d assertion(s) failed\n", n);
    return 1;
}

#endif
