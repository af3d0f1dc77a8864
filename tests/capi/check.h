/* Checks shared by the C API's tests: each failed check prints where and what, and counts in
 * `failures`, which the test's main turns into its exit code. Needs _POSIX_C_SOURCE for the
 * clock functions. */
#ifndef KILN_TESTS_CAPI_CHECK_H
#define KILN_TESTS_CAPI_CHECK_H

#include <kiln/kiln.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

/* Expects success; prints the error's message otherwise. */
#define CHECK_OK(expr) check_ok((expr), #expr, __FILE__, __LINE__)
static inline bool check_ok(kiln_error_t* error, const char* expr, const char* file, int line) {
    if (!error) return true;
    fprintf(stderr, "%s:%d: %s failed: %s\n", file, line, expr, kiln_error_message(error));
    kiln_error_delete(error);
    ++failures;
    return false;
}

/* Expects an error of `kind` and returns it for more checks; the caller deletes it. */
#define CHECK_ERROR(expr, kind) check_error((expr), (kind), #expr, __FILE__, __LINE__)
static inline kiln_error_t* check_error(kiln_error_t* error, kiln_error_kind_t kind,
                                        const char* expr, const char* file, int line) {
    if (!error) {
        fprintf(stderr, "%s:%d: %s succeeded, expected a %s error\n", file, line, expr,
                kiln_error_kind_name(kind));
        ++failures;
    } else if (kiln_error_kind(error) != kind) {
        fprintf(stderr, "%s:%d: %s gave a %s error (%s), expected %s\n", file, line, expr,
                kiln_error_kind_name(kiln_error_kind(error)), kiln_error_message(error),
                kiln_error_kind_name(kind));
        ++failures;
    }
    return error;
}

/* Expects an error of `kind`, and deletes it. */
#define CHECK_FAILS(expr, kind) kiln_error_delete(CHECK_ERROR(expr, kind))

/* Expects an error of `kind` whose message contains `text`, and deletes it. */
#define CHECK_ERROR_HAS(expr, kind, text)                                                          \
    check_error_has(check_error((expr), (kind), #expr, __FILE__, __LINE__), (text), __FILE__,      \
                    __LINE__)
static inline void check_error_has(kiln_error_t* error, const char* text, const char* file,
                                   int line) {
    if (error && !strstr(kiln_error_message(error), text)) {
        fprintf(stderr, "%s:%d: error message \"%s\" lacks \"%s\"\n", file, line,
                kiln_error_message(error), text);
        ++failures;
    }
    kiln_error_delete(error);
}

/* Expects a trap of `kind` and returns the error for more checks; the caller deletes it. */
#define CHECK_TRAP(expr, kind) check_trap((expr), (kind), #expr, __FILE__, __LINE__)
static inline kiln_error_t* check_trap(kiln_error_t* error, kiln_trap_kind_t kind, const char* expr,
                                       const char* file, int line) {
    error = check_error(error, KILN_ERROR_TRAP, expr, file, line);
    if (error && kiln_error_trap_kind(error) != (int)kind) {
        fprintf(stderr, "%s:%d: %s trapped with %d (%s), expected %s\n", file, line, expr,
                kiln_error_trap_kind(error), kiln_error_message(error), kiln_trap_kind_name(kind));
        ++failures;
    }
    return error;
}

static inline double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

#endif
