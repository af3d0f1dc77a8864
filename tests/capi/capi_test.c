/* The C API (include/kiln/kiln.h), from C: compile and link errors, host functions with an env
 * and its finalizer, caller memory access, host errors, typed argument checks, traps with
 * backtraces, fuel and resumable calls, timeouts, interrupts from another thread, memory and
 * table limits, and NULL arguments. Exits non-zero after printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/kiln.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- modules ----------------------------------------------------------------------------- */

/* wat2wasm --debug-names:
   (module
     (import "env" "add" (func $add (param i32 i64) (result i64)))
     (import "env" "upper" (func $upper (param i32 i32) (result i32)))
     (import "env" "twice" (func $twice (param i32) (result i32)))
     (memory (export "memory") 1)
     (data (i32.const 16) "hello")
     (global (export "counter") (mut i32) (i32.const 7))
     (func (export "call_add") (param i32 i64) (result i64)
       (call $add (local.get 0) (local.get 1)))
     (func (export "call_upper") (param i32 i32) (result i32)
       (call $upper (local.get 0) (local.get 1)))
     (func (export "call_twice") (param i32) (result i32) (call $twice (local.get 0)))
     (func (export "dbl") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
     (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
     (func $inner unreachable)
     (func (export "boom") (call $inner))
     (func $rec (export "rec") (param i32) (result i32) (call $rec (local.get 0)))
     (func (export "spin") (loop (br 0)))
     (func (export "count") (param i32) (result i32) (local i32)
       (block (loop
         (br_if 1 (i32.ge_u (local.get 1) (local.get 0)))
         (local.set 1 (i32.add (local.get 1) (i32.const 1)))
         (br 0)))
       (local.get 1)))
 */
static const uint8_t host_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x15, 0x04, 0x60, 0x02, 0x7f, 0x7e, 0x01,
    0x7e, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x02,
    0x23, 0x03, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x03, 0x65, 0x6e, 0x76,
    0x05, 0x75, 0x70, 0x70, 0x65, 0x72, 0x00, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x05, 0x74, 0x77, 0x69,
    0x63, 0x65, 0x00, 0x02, 0x03, 0x0b, 0x0a, 0x00, 0x01, 0x02, 0x02, 0x01, 0x03, 0x03, 0x02, 0x03,
    0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x07, 0x0b, 0x07, 0x61,
    0x0b, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x07, 0x63, 0x6f, 0x75, 0x6e, 0x74,
    0x65, 0x72, 0x03, 0x00, 0x08, 0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x61, 0x64, 0x64, 0x00, 0x03, 0x0a,
    0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x75, 0x70, 0x70, 0x65, 0x72, 0x00, 0x04, 0x0a, 0x63, 0x61, 0x6c,
    0x6c, 0x5f, 0x74, 0x77, 0x69, 0x63, 0x65, 0x00, 0x05, 0x03, 0x64, 0x62, 0x6c, 0x00, 0x06, 0x03,
    0x64, 0x69, 0x76, 0x00, 0x07, 0x04, 0x62, 0x6f, 0x6f, 0x6d, 0x00, 0x09, 0x03, 0x72, 0x65, 0x63,
    0x00, 0x0a, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x0b, 0x05, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x00,
    0x0c, 0x0a, 0x5f, 0x0a, 0x08, 0x00, 0x20, 0x00, 0x20, 0x01, 0x10, 0x00, 0x0b, 0x08, 0x00, 0x20,
    0x00, 0x20, 0x01, 0x10, 0x01, 0x0b, 0x06, 0x00, 0x20, 0x00, 0x10, 0x02, 0x0b, 0x07, 0x00, 0x20,
    0x00, 0x41, 0x02, 0x6c, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6d, 0x0b, 0x03, 0x00, 0x00,
    0x0b, 0x04, 0x00, 0x10, 0x08, 0x0b, 0x06, 0x00, 0x20, 0x00, 0x10, 0x0a, 0x0b, 0x07, 0x00, 0x03,
    0x40, 0x0c, 0x00, 0x0b, 0x0b, 0x1c, 0x01, 0x01, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20,
    0x00, 0x4f, 0x0d, 0x01, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x20,
    0x01, 0x0b, 0x0b, 0x0b, 0x01, 0x00, 0x41, 0x10, 0x0b, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    0x44, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x01, 0x20, 0x05, 0x00, 0x03, 0x61, 0x64, 0x64, 0x01, 0x05,
    0x75, 0x70, 0x70, 0x65, 0x72, 0x02, 0x05, 0x74, 0x77, 0x69, 0x63, 0x65, 0x08, 0x05, 0x69, 0x6e,
    0x6e, 0x65, 0x72, 0x0a, 0x03, 0x72, 0x65, 0x63, 0x02, 0x1b, 0x0d, 0x00, 0x00, 0x01, 0x00, 0x02,
    0x00, 0x03, 0x00, 0x04, 0x00, 0x05, 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x00, 0x09, 0x00, 0x0a,
    0x00, 0x0b, 0x00, 0x0c, 0x00,
};

/* wat2wasm --no-check:
   (module (func (result i32)))
 */
static const uint8_t invalid_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00,
    0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
};

/* wat2wasm:
   (module (import "env" "missing" (func)))
 */
static const uint8_t missing_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x02, 0x0f,
    0x01, 0x03, 0x65, 0x6e, 0x76, 0x07, 0x6d, 0x69, 0x73, 0x73, 0x69, 0x6e, 0x67, 0x00, 0x00,
};

/* wat2wasm:
   (module (memory 2) (table 50 funcref)
     (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
     (func (export "tgrow") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0))))
 */
static const uint8_t limits_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f,
    0x01, 0x7f, 0x03, 0x03, 0x02, 0x00, 0x00, 0x04, 0x04, 0x01, 0x70, 0x00, 0x32, 0x05,
    0x03, 0x01, 0x00, 0x02, 0x07, 0x10, 0x02, 0x04, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x00,
    0x05, 0x74, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x01, 0x0a, 0x12, 0x02, 0x06, 0x00, 0x20,
    0x00, 0x40, 0x00, 0x0b, 0x09, 0x00, 0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, 0x00, 0x0b,
};

/* wat2wasm:
   (module (memory 4))
 */
static const uint8_t big_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x03, 0x01, 0x00, 0x04,
};

/* wat2wasm:
   (module (import "lib" "dbl" (func $dbl (param i32) (result i32)))
     (func (export "quad") (param i32) (result i32) (call $dbl (call $dbl (local.get 0)))))
 */
static const uint8_t user_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f,
    0x01, 0x7f, 0x02, 0x0b, 0x01, 0x03, 0x6c, 0x69, 0x62, 0x03, 0x64, 0x62, 0x6c, 0x00,
    0x00, 0x03, 0x02, 0x01, 0x00, 0x07, 0x08, 0x01, 0x04, 0x71, 0x75, 0x61, 0x64, 0x00,
    0x01, 0x0a, 0x0a, 0x01, 0x08, 0x00, 0x20, 0x00, 0x10, 0x00, 0x10, 0x00, 0x0b,
};

/* wat2wasm:
   (module
     (import "env" "rev" (func $rev (param v128) (result v128)))
     (global (export "g") (mut v128) (v128.const i32x4 1 2 3 4))
     (func (export "f") (param v128 i32) (result v128 i32)
       (call $rev (i32x4.add (local.get 0) (i32x4.splat (local.get 1))))
       (i32x4.extract_lane 3 (global.get 0))))
 */
static const uint8_t simd_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0d, 0x02, 0x60, 0x01, 0x7b,
    0x01, 0x7b, 0x60, 0x02, 0x7b, 0x7f, 0x02, 0x7b, 0x7f, 0x02, 0x0b, 0x01, 0x03, 0x65,
    0x6e, 0x76, 0x03, 0x72, 0x65, 0x76, 0x00, 0x00, 0x03, 0x02, 0x01, 0x01, 0x06, 0x16,
    0x01, 0x7b, 0x01, 0xfd, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0b, 0x07, 0x09, 0x02, 0x01, 0x67, 0x03,
    0x00, 0x01, 0x66, 0x00, 0x01, 0x0a, 0x14, 0x01, 0x12, 0x00, 0x20, 0x00, 0x20, 0x01,
    0xfd, 0x11, 0xfd, 0xae, 0x01, 0x10, 0x00, 0x23, 0x00, 0xfd, 0x1b, 0x03, 0x0b,
};

static kiln_engine_t* engine;
static kiln_module_t* host_module;

/* ---- host functions -------------------------------------------------------------------- */

/* The env of "add": counts calls and finalizations; can misbehave on request. */
typedef struct add_env {
    int calls;
    int finalized;
    int64_t bias;
    bool wrong_kind; /* return an i32 where an i64 is declared */
} add_env;

static void finalize_add_env(void* env) {
    ((add_env*)env)->finalized++;
}

/* add(i32 a, i64 b) -> i64: a + b + bias. */
static kiln_error_t* host_add(void* env, kiln_caller_t* caller, const kiln_val_t* args,
                              size_t nargs, kiln_val_t* results, size_t nresults) {
    add_env* e = (add_env*)env;
    (void)caller;
    e->calls++;
    if (nargs != 2 || args[0].kind != KILN_I32 || args[1].kind != KILN_I64 || nresults != 1 ||
        results[0].kind != KILN_I64)
        return kiln_error_new("add: unexpected signature");
    results[0].of.i64 = args[0].of.i32 + args[1].of.i64 + e->bias;
    if (e->wrong_kind) results[0].kind = KILN_I32;
    return NULL;
}

/* What "upper" saw of its caller. */
typedef struct upper_env {
    uint64_t memory_size;
    bool oob_read_refused;
    bool oob_write_refused;
} upper_env;

/* upper(ptr, len) -> len: upper-cases memory[ptr, ptr + len) in place. */
static kiln_error_t* host_upper(void* env, kiln_caller_t* caller, const kiln_val_t* args,
                                size_t nargs, kiln_val_t* results, size_t nresults) {
    upper_env* e = (upper_env*)env;
    uint32_t ptr = (uint32_t)args[0].of.i32, len = (uint32_t)args[1].of.i32;
    char buf[64];
    uint8_t probe[4] = {0};
    (void)nargs;
    (void)nresults;
    e->memory_size = kiln_caller_memory_size(caller);
    e->oob_read_refused = !kiln_caller_memory_read(caller, e->memory_size - 2, probe, 4);
    e->oob_write_refused = !kiln_caller_memory_write(caller, e->memory_size - 2, probe, 4);
    if (len > sizeof buf || !kiln_caller_memory_read(caller, ptr, buf, len))
        return kiln_error_new("upper: string out of bounds");
    for (uint32_t i = 0; i < len; ++i)
        if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
    if (!kiln_caller_memory_write(caller, ptr, buf, len)) return kiln_error_new("upper: write");
    results[0] = kiln_val_i32((int32_t)len);
    return NULL;
}

/* twice(x) -> dbl(x) + 1, calling back into the caller's export "dbl". */
static kiln_error_t* host_twice(void* env, kiln_caller_t* caller, const kiln_val_t* args,
                                size_t nargs, kiln_val_t* results, size_t nresults) {
    kiln_func_t dbl;
    kiln_error_t* error;
    (void)env;
    if (!kiln_caller_get_func(caller, "dbl", &dbl)) return kiln_error_new("twice: no dbl");
    error = kiln_func_call(kiln_caller_store(caller), &dbl, args, nargs, results, nresults);
    if (error) return error;
    results[0].of.i32 += 1;
    return NULL;
}

/* rev(v) -> v with its 16 bytes in reverse order. */
static kiln_error_t* host_rev(void* env, kiln_caller_t* caller, const kiln_val_t* args,
                              size_t nargs, kiln_val_t* results, size_t nresults) {
    (void)env;
    (void)caller;
    if (nargs != 1 || args[0].kind != KILN_V128 || nresults != 1 || results[0].kind != KILN_V128)
        return kiln_error_new("rev: unexpected signature");
    for (int i = 0; i < 16; ++i)
        results[0].of.v128[i] = args[0].of.v128[15 - i];
    return NULL;
}

static const kiln_valkind_t add_params[] = {KILN_I32, KILN_I64};
static const kiln_valkind_t add_results[] = {KILN_I64};
static const kiln_valkind_t i32x2[] = {KILN_I32, KILN_I32};

/* A linker with the host module's imports; `add` owns `env`. */
static kiln_linker_t* host_linker(add_env* env, upper_env* upper) {
    kiln_linker_t* linker = kiln_linker_new();
    CHECK(linker != NULL);
    CHECK_OK(kiln_linker_define_func(linker, "env", "add", add_params, 2, add_results, 1, host_add,
                                     env, finalize_add_env));
    CHECK_OK(kiln_linker_define_func(linker, "env", "upper", i32x2, 2, i32x2, 1, host_upper, upper,
                                     NULL));
    CHECK_OK(kiln_linker_define_func(linker, "env", "twice", i32x2, 1, i32x2, 1, host_twice, NULL,
                                     NULL));
    return linker;
}

/* Calls export `name` of `instance`. */
static kiln_error_t* call(kiln_store_t* store, const kiln_instance_t* instance, const char* name,
                          const kiln_val_t* args, size_t nargs, kiln_val_t* results,
                          size_t nresults) {
    kiln_func_t func;
    if (!kiln_instance_get_func(store, instance, name, &func)) {
        fprintf(stderr, "no exported function %s\n", name);
        ++failures;
        return kiln_error_new("missing export");
    }
    return kiln_func_call(store, &func, args, nargs, results, nresults);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_compile_errors(void) {
    static const uint8_t garbage[] = {'n', 'o', 't', ' ', 'w', 'a', 's', 'm'};
    kiln_module_t* module = (kiln_module_t*)&module; /* overwritten with NULL on error */
    kiln_error_t* error = CHECK_ERROR(kiln_module_new(engine, garbage, sizeof garbage, &module),
                                      KILN_ERROR_MALFORMED);
    CHECK(module == NULL);
    CHECK(error && strlen(kiln_error_message(error)) > 0);
    CHECK(kiln_error_trap_kind(error) == -1);
    kiln_error_delete(error);

    kiln_error_delete(CHECK_ERROR(
        kiln_module_new(engine, invalid_wasm, sizeof invalid_wasm, &module), KILN_ERROR_INVALID));
    CHECK_ERROR_HAS(kiln_module_from_file(engine, "/nonexistent/x.wasm", &module), KILN_ERROR_IO,
                    "/nonexistent/x.wasm");

    /* A module from a file, and its imports and exports. */
    char path[] = "/tmp/kiln-capi-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, host_wasm, sizeof host_wasm) == (ssize_t)sizeof host_wasm);
    close(fd);
    if (CHECK_OK(kiln_module_from_file(engine, path, &module))) {
        const char *mod = NULL, *name = NULL;
        kiln_externkind_t kind = KILN_EXTERN_TABLE;
        CHECK(kiln_module_import_count(module) == 3);
        CHECK(kiln_module_import(module, 1, &mod, &name, &kind));
        CHECK(mod && strcmp(mod, "env") == 0 && name && strcmp(name, "upper") == 0);
        CHECK(kind == KILN_EXTERN_FUNC);
        CHECK(!kiln_module_import(module, 3, &mod, &name, &kind));
        CHECK(kiln_module_export_count(module) == 11);
        CHECK(kiln_module_export(module, 0, &name, &kind));
        CHECK(name && strcmp(name, "memory") == 0 && kind == KILN_EXTERN_MEMORY);
        CHECK(kiln_module_export(module, 1, NULL, &kind) && kind == KILN_EXTERN_GLOBAL);
        kiln_module_delete(module);
    }
    unlink(path);
}

static void test_unknown_import_is_named(void) {
    kiln_module_t* module = NULL;
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = kiln_linker_new();
    kiln_instance_t instance;
    CHECK_OK(kiln_module_new(engine, missing_wasm, sizeof missing_wasm, &module));
    CHECK_ERROR_HAS(kiln_linker_instantiate(linker, store, module, &instance),
                    KILN_ERROR_UNLINKABLE, "env.missing");
    kiln_linker_delete(linker);
    kiln_store_delete(store);
    kiln_module_delete(module);
}

static void test_host_functions_and_finalizer(void) {
    add_env env = {0, 0, 100, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    kiln_val_t args[2] = {kiln_val_i32(2), kiln_val_i64(40)};
    kiln_val_t result = kiln_val_i32(0);
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    CHECK_OK(call(store, &instance, "call_add", args, 2, &result, 1));
    CHECK(result.kind == KILN_I64 && result.of.i64 == 142);
    CHECK(env.calls == 1);

    /* A result of the wrong kind traps the guest instead of reaching it. */
    env.wrong_kind = true;
    kiln_store_set_reuse_after_trap(store, true);
    kiln_error_t* error =
        CHECK_TRAP(call(store, &instance, "call_add", args, 2, &result, 1), KILN_TRAP_HOST_ERROR);
    CHECK(error && strstr(kiln_error_message(error), "result 0"));
    kiln_error_delete(error);
    env.wrong_kind = false;

    /* A host function calls back into its caller through kiln_caller_store. */
    kiln_val_t x = kiln_val_i32(21);
    CHECK_OK(call(store, &instance, "call_twice", &x, 1, &result, 1));
    CHECK(result.kind == KILN_I32 && result.of.i32 == 43);

    /* The store still uses the definition: the env lives until both are gone. */
    CHECK(env.finalized == 0);
    kiln_store_delete(store);
    CHECK(env.finalized == 0);
    kiln_linker_delete(linker);
    CHECK(env.finalized == 1);

    /* Deleted in the other order, the finalizer waits for the store. */
    env.finalized = 0;
    store = kiln_store_new(engine);
    linker = host_linker(&env, &upper);
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    kiln_linker_delete(linker);
    CHECK(env.finalized == 0);
    CHECK_OK(call(store, &instance, "call_add", args, 2, &result, 1));
    CHECK(result.of.i64 == 142);
    kiln_store_delete(store);
    CHECK(env.finalized == 1);

    /* A replaced definition no store used is finalized at once; a failed define keeps env. */
    env.finalized = 0;
    linker = host_linker(&env, &upper);
    CHECK_OK(kiln_linker_define_func(linker, "env", "add", add_params, 2, add_results, 1, host_add,
                                     &env, finalize_add_env));
    CHECK(env.finalized == 1);
    kiln_error_delete(CHECK_ERROR(
        kiln_linker_define_func(linker, "env", "f", NULL, 0, NULL, 0, NULL, &env, finalize_add_env),
        KILN_ERROR_USAGE));
    CHECK(env.finalized == 1);
    kiln_linker_delete(linker);
    CHECK(env.finalized == 2);
}

static void test_caller_memory_and_host_errors(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    kiln_memory_t memory;
    kiln_val_t args[2] = {kiln_val_i32(16), kiln_val_i32(5)};
    kiln_val_t result;
    char text[6] = {0};
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    CHECK(kiln_instance_get_memory(store, &instance, "memory", &memory));
    CHECK_OK(call(store, &instance, "call_upper", args, 2, &result, 1));
    CHECK(result.of.i32 == 5);
    CHECK(upper.memory_size == 65536);
    CHECK(upper.oob_read_refused && upper.oob_write_refused);
    CHECK_OK(kiln_memory_read(store, &memory, 16, text, 5));
    CHECK(strcmp(text, "HELLO") == 0);

    /* The host's error traps the guest with the host's message. */
    args[0] = kiln_val_i32(65534);
    kiln_error_t* error =
        CHECK_TRAP(call(store, &instance, "call_upper", args, 2, &result, 1), KILN_TRAP_HOST_ERROR);
    CHECK(error && strstr(kiln_error_message(error), "upper: string out of bounds"));
    /* The host function's frame comes first, then its caller's. */
    CHECK(kiln_error_backtrace_count(error) == 2);
    CHECK(error && strcmp(kiln_error_backtrace_frame(error, 0), "<host function>") == 0);
    CHECK(kiln_error_frame_func_index(error, 0) == KILN_HOST_FUNC_INDEX);
    CHECK(error && strcmp(kiln_error_backtrace_frame(error, 1), "call_upper") == 0);
    CHECK(error && strcmp(kiln_error_message(error),
                          "trap: upper: string out of bounds (in call_upper)") == 0);
    kiln_error_delete(error);

    /* The trapped instance refuses further calls until reuse is allowed. */
    args[0] = kiln_val_i32(16);
    kiln_error_delete(
        CHECK_ERROR(call(store, &instance, "call_upper", args, 2, &result, 1), KILN_ERROR_USAGE));
    kiln_store_set_reuse_after_trap(store, true);
    CHECK_OK(call(store, &instance, "call_upper", args, 2, &result, 1));

    kiln_linker_delete(linker);
    kiln_store_delete(store);
}

static void test_typed_checks_and_handles(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_store_t* other = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    kiln_func_t add;
    kiln_val_t args[2] = {kiln_val_i32(1), kiln_val_i64(2)};
    kiln_val_t result;
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    CHECK(kiln_instance_get_func(store, &instance, "call_add", &add));
    CHECK(!kiln_instance_get_func(store, &instance, "nope", &add));
    CHECK(!kiln_instance_get_func(store, &instance, "memory", &add));
    CHECK(!kiln_instance_get_func(other, &instance, "call_add", &add));
    CHECK(kiln_instance_get_func(store, &instance, "call_add", &add));

    CHECK_ERROR_HAS(kiln_func_call(store, &add, args, 1, &result, 1), KILN_ERROR_USAGE,
                    "expects 2 arguments");
    args[0] = kiln_val_i64(1);
    CHECK_ERROR_HAS(kiln_func_call(store, &add, args, 2, &result, 1), KILN_ERROR_USAGE,
                    "argument 0");
    args[0].kind = (kiln_valkind_t)5;
    CHECK_ERROR_HAS(kiln_func_call(store, &add, args, 2, &result, 1), KILN_ERROR_USAGE,
                    "invalid kind 5");
    args[0] = kiln_val_i32(1);
    CHECK_ERROR_HAS(kiln_func_call(store, &add, args, 2, NULL, 0), KILN_ERROR_USAGE,
                    "returns 1 results");
    CHECK_ERROR_HAS(kiln_func_call(other, &add, args, 2, &result, 1), KILN_ERROR_USAGE,
                    "another store");
    CHECK_OK(kiln_func_call(store, &add, args, 2, &result, 1));
    CHECK(result.kind == KILN_I64 && result.of.i64 == 3);
    CHECK(env.calls == 1);

    kiln_valkind_t bad[] = {KILN_I32, (kiln_valkind_t)0x42};
    CHECK_ERROR_HAS(
        kiln_linker_define_func(linker, "env", "bad", bad, 2, NULL, 0, host_add, NULL, NULL),
        KILN_ERROR_USAGE, "parameter 1 has an invalid kind 66");

    /* The function's type. */
    kiln_valkind_t params[4], results[4];
    size_t nparams = 4, nresults = 4;
    CHECK(kiln_func_type(store, &add, params, &nparams, results, &nresults));
    CHECK(nparams == 2 && params[0] == KILN_I32 && params[1] == KILN_I64);
    CHECK(nresults == 1 && results[0] == KILN_I64);
    nparams = nresults = 0;
    CHECK(kiln_func_type(store, &add, NULL, &nparams, NULL, &nresults));
    CHECK(nparams == 2 && nresults == 1);
    CHECK(!kiln_func_type(other, &add, NULL, &nparams, NULL, &nresults));

    /* Globals. */
    kiln_global_t counter;
    kiln_val_t value;
    CHECK(kiln_instance_get_global(store, &instance, "counter", &counter));
    CHECK_OK(kiln_global_get(store, &counter, &value));
    CHECK(value.kind == KILN_I32 && value.of.i32 == 7);
    value = kiln_val_i64(9);
    kiln_error_delete(CHECK_ERROR(kiln_global_set(store, &counter, &value), KILN_ERROR_USAGE));
    value = kiln_val_i32(9);
    CHECK_OK(kiln_global_set(store, &counter, &value));
    CHECK_OK(kiln_global_get(store, &counter, &value));
    CHECK(value.of.i32 == 9);
    kiln_error_delete(CHECK_ERROR(kiln_global_get(other, &counter, &value), KILN_ERROR_USAGE));

    /* Memories. */
    kiln_memory_t memory;
    uint64_t size = 0, previous = 0;
    uint8_t bytes[4] = {1, 2, 3, 4}, back[4] = {0};
    CHECK(kiln_instance_get_memory(store, &instance, "memory", &memory));
    CHECK_OK(kiln_memory_size(store, &memory, &size));
    CHECK(size == 65536);
    CHECK_OK(kiln_memory_write(store, &memory, 65532, bytes, 4));
    CHECK_ERROR_HAS(kiln_memory_write(store, &memory, 65533, bytes, 4), KILN_ERROR_USAGE,
                    "outside");
    CHECK_ERROR_HAS(kiln_memory_read(store, &memory, 65533, back, 4), KILN_ERROR_USAGE, "outside");
    CHECK_OK(kiln_memory_read(store, &memory, 65532, back, 4));
    CHECK(memcmp(bytes, back, 4) == 0);
    CHECK_OK(kiln_memory_grow(store, &memory, 1, &previous));
    CHECK(previous == 1);
    CHECK_OK(kiln_memory_size(store, &memory, &size));
    CHECK(size == 131072);
    kiln_error_delete(CHECK_ERROR(kiln_memory_grow(store, &memory, 70000, NULL), KILN_ERROR_LIMIT));

    kiln_linker_delete(linker);
    kiln_store_delete(other);
    kiln_store_delete(store);
}

static void test_define_instance(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_store_t* other = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_module_t* user = NULL;
    kiln_instance_t lib, instance;
    kiln_val_t x = kiln_val_i32(3), result;
    CHECK_OK(kiln_module_new(engine, user_wasm, sizeof user_wasm, &user));
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &lib));
    kiln_error_delete(
        CHECK_ERROR(kiln_linker_define_instance(linker, other, "lib", &lib), KILN_ERROR_USAGE));
    CHECK_OK(kiln_linker_define_instance(linker, store, "lib", &lib));
    CHECK_OK(kiln_linker_instantiate(linker, store, user, &instance));
    CHECK_OK(call(store, &instance, "quad", &x, 1, &result, 1));
    CHECK(result.of.i32 == 12);
    /* Another store cannot link against this store's instance. */
    CHECK_ERROR_HAS(kiln_linker_instantiate(linker, other, user, &instance), KILN_ERROR_UNLINKABLE,
                    "lib.dbl");
    kiln_module_delete(user);
    kiln_linker_delete(linker);
    kiln_store_delete(other);
    kiln_store_delete(store);
}

static void test_traps_and_backtraces(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    kiln_val_t args[2] = {kiln_val_i32(1), kiln_val_i32(0)}, result;
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    kiln_store_set_reuse_after_trap(store, true);

    kiln_error_t* error =
        CHECK_TRAP(call(store, &instance, "boom", NULL, 0, NULL, 0), KILN_TRAP_UNREACHABLE);
    CHECK(kiln_error_backtrace_count(error) == 2);
    CHECK(error && strcmp(kiln_error_backtrace_frame(error, 0), "inner") == 0);
    CHECK(error && strcmp(kiln_error_backtrace_frame(error, 1), "boom") == 0);
    CHECK(kiln_error_backtrace_frame(error, 2) == NULL);
    /* Structured frames: function indices (after the three imports), names from the name
     * section (the module has no name), and the byte offsets of `unreachable` in $inner and of
     * `call $inner` in boom (wasm-objdump -d). */
    CHECK(kiln_error_frame_func_index(error, 0) == 8 && kiln_error_frame_func_index(error, 1) == 9);
    CHECK(error && strcmp(kiln_error_frame_func_name(error, 0), "inner") == 0);
    CHECK(error && strcmp(kiln_error_frame_module_name(error, 0), "") == 0);
    CHECK(kiln_error_frame_code_offset(error, 0) == 0xef);
    CHECK(kiln_error_frame_code_offset(error, 1) == 0xf3);
    CHECK(kiln_error_frame_func_index(error, 2) == KILN_HOST_FUNC_INDEX);
    CHECK(kiln_error_frame_func_name(error, 2) == NULL);
    CHECK(kiln_error_frame_module_name(error, 2) == NULL);
    CHECK(kiln_error_frame_code_offset(error, 2) == 0);
    CHECK(strcmp(kiln_trap_kind_name((kiln_trap_kind_t)kiln_error_trap_kind(error)),
                 "unreachable") == 0);
    kiln_error_delete(error);

    kiln_error_delete(CHECK_TRAP(call(store, &instance, "div", args, 2, &result, 1),
                                 KILN_TRAP_INTEGER_DIVIDE_BY_ZERO));
    args[1] = kiln_val_i32(1);
    CHECK_OK(call(store, &instance, "div", args, 2, &result, 1));
    CHECK(result.of.i32 == 1);
    kiln_linker_delete(linker);
    kiln_store_delete(store);

    /* The engine's call depth bounds recursion; the engine may go before its store. */
    kiln_engine_config_t config = {100, 0, 0};
    kiln_engine_t* shallow = kiln_engine_new(&config);
    kiln_module_t* module = NULL;
    CHECK_OK(kiln_module_new(shallow, host_wasm, sizeof host_wasm, &module));
    store = kiln_store_new(shallow);
    linker = host_linker(&env, &upper);
    kiln_engine_delete(shallow);
    CHECK_OK(kiln_linker_instantiate(linker, store, module, &instance));
    kiln_error_delete(
        CHECK_TRAP(call(store, &instance, "rec", args, 1, &result, 1), KILN_TRAP_STACK_EXHAUSTED));
    /* A module runs only in stores of its own engine. */
    CHECK_ERROR_HAS(kiln_linker_instantiate(linker, store, host_module, &instance),
                    KILN_ERROR_USAGE, "different engines");
    kiln_module_delete(module);
    kiln_linker_delete(linker);
    kiln_store_delete(store);
}

static void test_fuel_and_resumable_calls(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    kiln_val_t n = kiln_val_i32(100000), result = kiln_val_i32(0);
    uint64_t fuel = 0;
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    kiln_store_set_reuse_after_trap(store, true);

    CHECK(!kiln_store_get_fuel(store, &fuel));
    kiln_store_set_fuel(store, 10000);
    CHECK(kiln_store_get_fuel(store, &fuel) && fuel == 10000);
    kiln_error_delete(
        CHECK_TRAP(call(store, &instance, "spin", NULL, 0, NULL, 0), KILN_TRAP_OUT_OF_FUEL));
    CHECK(kiln_store_get_fuel(store, &fuel) && fuel < 10000);
    CHECK(!kiln_store_has_suspended(store));

    /* Suspended whenever fuel runs out, resumed with more until done. */
    kiln_store_set_fuel(store, 500);
    kiln_store_set_suspend_on_fuel(store, true);
    kiln_error_t* error =
        CHECK_ERROR(call(store, &instance, "count", &n, 1, &result, 1), KILN_ERROR_SUSPENDED);
    CHECK(kiln_error_trap_kind(error) == KILN_TRAP_OUT_OF_FUEL);
    CHECK(kiln_store_has_suspended(store));
    /* The wrong result count is refused before anything runs. */
    CHECK_ERROR_HAS(kiln_store_resume(store, NULL, 0), KILN_ERROR_USAGE, "returns 1 results");
    CHECK(kiln_store_has_suspended(store));
    int resumes = 0;
    while (error && kiln_error_kind(error) == KILN_ERROR_SUSPENDED) {
        kiln_error_delete(error);
        kiln_store_add_fuel(store, 500);
        error = kiln_store_resume(store, &result, 1);
        ++resumes;
    }
    CHECK_OK(error);
    CHECK(result.kind == KILN_I32 && result.of.i32 == 100000);
    CHECK(resumes > 100);
    CHECK(!kiln_store_has_suspended(store));
    CHECK_ERROR_HAS(kiln_store_resume(store, &result, 1), KILN_ERROR_USAGE, "no suspended call");

    /* A suspended call can be abandoned. */
    kiln_store_set_fuel(store, 500);
    kiln_error_delete(
        CHECK_ERROR(call(store, &instance, "count", &n, 1, &result, 1), KILN_ERROR_SUSPENDED));
    kiln_store_drop_suspended(store);
    CHECK(!kiln_store_has_suspended(store));

    kiln_store_disable_fuel(store);
    CHECK(!kiln_store_get_fuel(store, &fuel));
    CHECK_OK(call(store, &instance, "count", &n, 1, &result, 1));
    CHECK(result.of.i32 == 100000);
    kiln_linker_delete(linker);
    kiln_store_delete(store);
}

static void test_timeout(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    kiln_store_set_timeout_ms(store, 50);
    double start = now_ms();
    kiln_error_delete(
        CHECK_TRAP(call(store, &instance, "spin", NULL, 0, NULL, 0), KILN_TRAP_DEADLINE));
    CHECK(now_ms() - start >= 50);
    kiln_linker_delete(linker);
    kiln_store_delete(store);
}

typedef struct stopper {
    kiln_interrupt_handle_t* handle;
    bool suspend;
} stopper;

static void* stop_after_30ms(void* arg) {
    stopper* s = (stopper*)arg;
    sleep_ms(30);
    if (s->suspend)
        kiln_interrupt_handle_suspend(s->handle);
    else
        kiln_interrupt_handle_interrupt(s->handle);
    return NULL;
}

static void test_interrupt_from_another_thread(void) {
    add_env env = {0, 0, 0, false};
    upper_env upper = {0, false, false};
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = host_linker(&env, &upper);
    kiln_instance_t instance;
    stopper s = {kiln_interrupt_handle_new(store), false};
    pthread_t thread;
    CHECK(s.handle != NULL);
    CHECK_OK(kiln_linker_instantiate(linker, store, host_module, &instance));
    kiln_store_set_reuse_after_trap(store, true);

    CHECK(pthread_create(&thread, NULL, stop_after_30ms, &s) == 0);
    kiln_error_delete(
        CHECK_TRAP(call(store, &instance, "spin", NULL, 0, NULL, 0), KILN_TRAP_INTERRUPTED));
    pthread_join(thread, NULL);

    /* Suspended from another thread, then resumed until the deadline stops it for good. */
    s.suspend = true;
    CHECK(pthread_create(&thread, NULL, stop_after_30ms, &s) == 0);
    kiln_error_t* error =
        CHECK_ERROR(call(store, &instance, "spin", NULL, 0, NULL, 0), KILN_ERROR_SUSPENDED);
    pthread_join(thread, NULL);
    CHECK(kiln_error_trap_kind(error) == KILN_TRAP_INTERRUPTED);
    kiln_error_delete(error);
    CHECK(kiln_store_has_suspended(store));
    kiln_store_set_timeout_ms(store, 20);
    kiln_error_delete(CHECK_TRAP(kiln_store_resume(store, NULL, 0), KILN_TRAP_DEADLINE));
    CHECK(!kiln_store_has_suspended(store));

    /* The handle outlives its store harmlessly. */
    kiln_linker_delete(linker);
    kiln_store_delete(store);
    kiln_interrupt_handle_interrupt(s.handle);
    kiln_interrupt_handle_suspend(s.handle);
    kiln_interrupt_handle_delete(s.handle);
}

static void test_memory_and_table_limits(void) {
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = kiln_linker_new();
    kiln_module_t *limits = NULL, *big = NULL;
    kiln_instance_t instance;
    kiln_val_t n, result;
    kiln_store_set_memory_limit(store, 3 * 65536);
    kiln_store_set_table_limit(store, 100);
    CHECK_OK(kiln_module_new(engine, limits_wasm, sizeof limits_wasm, &limits));
    CHECK_OK(kiln_module_new(engine, big_wasm, sizeof big_wasm, &big));
    CHECK_OK(kiln_linker_instantiate(linker, store, limits, &instance));

    n = kiln_val_i32(2);
    CHECK_OK(call(store, &instance, "grow", &n, 1, &result, 1));
    CHECK(result.of.i32 == -1);
    n = kiln_val_i32(1);
    CHECK_OK(call(store, &instance, "grow", &n, 1, &result, 1));
    CHECK(result.of.i32 == 2);
    CHECK_OK(call(store, &instance, "grow", &n, 1, &result, 1));
    CHECK(result.of.i32 == -1);
    n = kiln_val_i32(51);
    CHECK_OK(call(store, &instance, "tgrow", &n, 1, &result, 1));
    CHECK(result.of.i32 == -1);
    n = kiln_val_i32(50);
    CHECK_OK(call(store, &instance, "tgrow", &n, 1, &result, 1));
    CHECK(result.of.i32 == 50);

    /* An initial size past the limit fails instantiation. */
    CHECK_ERROR_HAS(kiln_linker_instantiate(linker, store, big, &instance),
                    KILN_ERROR_UNINSTANTIABLE, "memory limit");
    kiln_module_delete(big);
    kiln_module_delete(limits);
    kiln_linker_delete(linker);
    kiln_store_delete(store);
}

static kiln_error_t* host_nothing(void* env, kiln_caller_t* caller, const kiln_val_t* args,
                                  size_t nargs, kiln_val_t* results, size_t nresults) {
    (void)env, (void)caller, (void)args, (void)nargs, (void)results, (void)nresults;
    return NULL;
}

/* The little-endian bytes of four i32 lanes. */
static kiln_val_t v128_of(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    const uint32_t lanes[4] = {a, b, c, d};
    uint8_t bytes[16];
    for (int i = 0; i < 16; ++i)
        bytes[i] = (uint8_t)(lanes[i / 4] >> (i % 4 * 8));
    return kiln_val_v128(bytes);
}

static void test_v128_values_and_the_simd_feature(void) {
    static const kiln_valkind_t v128_kind[] = {KILN_V128};
    kiln_module_t* module = NULL;
    kiln_linker_t* linker = kiln_linker_new();
    kiln_store_t* store = kiln_store_new(engine);
    kiln_instance_t instance;
    kiln_global_t g;
    kiln_val_t args[2], results[2], got;
    CHECK(CHECK_OK(kiln_module_new(engine, simd_wasm, sizeof simd_wasm, &module)));
    CHECK_OK(kiln_linker_define_func(linker, "env", "rev", v128_kind, 1, v128_kind, 1, host_rev,
                                     NULL, NULL));
    if (module && CHECK_OK(kiln_linker_instantiate(linker, store, module, &instance))) {
        args[0] = v128_of(1, 2, 3, 0x01020304);
        args[1] = kiln_val_i32(0x10);
        if (CHECK_OK(call(store, &instance, "f", args, 2, results, 2))) {
            /* (0x11, 0x12, 0x13, 0x01020314) with its bytes reversed, and lane 3 of g. */
            kiln_val_t want = v128_of(0x14030201, 0x13000000, 0x12000000, 0x11000000);
            CHECK(results[0].kind == KILN_V128);
            CHECK(memcmp(results[0].of.v128, want.of.v128, 16) == 0);
            CHECK(results[1].kind == KILN_I32 && results[1].of.i32 == 4);
        }
        CHECK(kiln_instance_get_global(store, &instance, "g", &g));
        if (CHECK_OK(kiln_global_get(store, &g, &got))) {
            kiln_val_t want = v128_of(1, 2, 3, 4);
            CHECK(got.kind == KILN_V128 && memcmp(got.of.v128, want.of.v128, 16) == 0);
        }
        got = v128_of(9, 9, 9, 77);
        CHECK_OK(kiln_global_set(store, &g, &got));
        if (CHECK_OK(call(store, &instance, "f", args, 2, results, 2)))
            CHECK(results[1].of.i32 == 77);
    }
    kiln_module_delete(module);
    kiln_store_delete(store);
    kiln_linker_delete(linker);

    /* An engine that disables SIMD refuses the module, naming the feature. */
    {
        kiln_engine_config_t config = {0, 0, KILN_FEATURE_SIMD};
        kiln_engine_t* scalar_only = kiln_engine_new(&config);
        module = NULL;
        CHECK_ERROR_HAS(kiln_module_new(scalar_only, simd_wasm, sizeof simd_wasm, &module),
                        KILN_ERROR_INVALID, "simd feature");
        CHECK(module == NULL);
        CHECK(CHECK_OK(kiln_module_new(scalar_only, host_wasm, sizeof host_wasm, &module)));
        kiln_module_delete(module);
        kiln_engine_delete(scalar_only);
    }
}

/* (module (func $f (return_call $f))): compiles unless the engine disables tail calls. */
static const uint8_t tail_call_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00,
    0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x12, 0x00, 0x0b,
};

/* (module (global i32 (i32.add (i32.const 1) (i32.const 2)))): needs extended-const. */
static const uint8_t extended_const_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x06, 0x09,
    0x01, 0x7f, 0x00, 0x41, 0x01, 0x41, 0x02, 0x6a, 0x0b,
};

static void test_tail_call_and_extended_const_features(void) {
    kiln_engine_config_t config = {0, 0, KILN_FEATURE_TAIL_CALL | KILN_FEATURE_EXTENDED_CONST};
    kiln_engine_t* plain = kiln_engine_new(&config);
    kiln_module_t* module = NULL;
    CHECK(CHECK_OK(kiln_module_new(engine, tail_call_wasm, sizeof tail_call_wasm, &module)));
    kiln_module_delete(module);
    CHECK(CHECK_OK(
        kiln_module_new(engine, extended_const_wasm, sizeof extended_const_wasm, &module)));
    kiln_module_delete(module);
    module = NULL;
    CHECK_ERROR_HAS(kiln_module_new(plain, tail_call_wasm, sizeof tail_call_wasm, &module),
                    KILN_ERROR_INVALID, "tail-call feature");
    CHECK_ERROR_HAS(
        kiln_module_new(plain, extended_const_wasm, sizeof extended_const_wasm, &module),
        KILN_ERROR_INVALID, "extended-const feature");
    CHECK(module == NULL);
    kiln_engine_delete(plain);
}

static void test_null_arguments(void) {
    kiln_store_t* store = kiln_store_new(engine);
    kiln_linker_t* linker = kiln_linker_new();
    kiln_module_t* module = NULL;
    kiln_instance_t instance = {0, NULL};
    kiln_func_t func = {0, NULL};
    kiln_memory_t memory = {0, NULL};
    kiln_global_t global = {0, NULL};
    kiln_val_t val = kiln_val_i32(0);
    uint64_t u = 0;
    size_t count = 0;
    uint8_t byte = 0;

#define CHECK_USAGE(expr) kiln_error_delete(CHECK_ERROR((expr), KILN_ERROR_USAGE))
    CHECK_USAGE(kiln_module_new(NULL, host_wasm, sizeof host_wasm, &module));
    CHECK_USAGE(kiln_module_new(engine, NULL, 8, &module));
    CHECK_USAGE(kiln_module_new(engine, host_wasm, sizeof host_wasm, NULL));
    CHECK_USAGE(kiln_module_from_file(NULL, "x.wasm", &module));
    CHECK_USAGE(kiln_module_from_file(engine, NULL, &module));
    CHECK_USAGE(
        kiln_linker_define_func(NULL, "env", "f", NULL, 0, NULL, 0, host_nothing, NULL, NULL));
    CHECK_USAGE(
        kiln_linker_define_func(linker, NULL, "f", NULL, 0, NULL, 0, host_nothing, NULL, NULL));
    CHECK_USAGE(
        kiln_linker_define_func(linker, "env", NULL, NULL, 0, NULL, 0, host_nothing, NULL, NULL));
    CHECK_USAGE(
        kiln_linker_define_func(linker, "env", "f", NULL, 1, NULL, 0, host_nothing, NULL, NULL));
    CHECK_USAGE(kiln_linker_define_instance(NULL, store, "lib", &instance));
    CHECK_USAGE(kiln_linker_define_instance(linker, NULL, "lib", &instance));
    CHECK_USAGE(kiln_linker_define_instance(linker, store, "lib", NULL));
    CHECK_USAGE(kiln_linker_define_instance(linker, store, "lib", &instance));
    CHECK_USAGE(kiln_linker_instantiate(NULL, store, host_module, &instance));
    CHECK_USAGE(kiln_linker_instantiate(linker, NULL, host_module, &instance));
    CHECK_USAGE(kiln_linker_instantiate(linker, store, NULL, &instance));
    CHECK_USAGE(kiln_linker_instantiate(linker, store, host_module, NULL));
    CHECK_USAGE(kiln_func_call(NULL, &func, NULL, 0, NULL, 0));
    CHECK_USAGE(kiln_func_call(store, NULL, NULL, 0, NULL, 0));
    CHECK_USAGE(kiln_func_call(store, &func, NULL, 0, NULL, 0)); /* zeroed handle */
    CHECK_USAGE(kiln_store_resume(NULL, NULL, 0));
    CHECK_USAGE(kiln_memory_size(NULL, &memory, &u));
    CHECK_USAGE(kiln_memory_size(store, NULL, &u));
    CHECK_USAGE(kiln_memory_size(store, &memory, &u));
    CHECK_USAGE(kiln_memory_read(store, NULL, 0, &byte, 1));
    CHECK_USAGE(kiln_memory_write(store, &memory, 0, &byte, 1));
    CHECK_USAGE(kiln_memory_grow(NULL, &memory, 1, NULL));
    CHECK_USAGE(kiln_global_get(store, &global, &val));
    CHECK_USAGE(kiln_global_get(store, NULL, &val));
    CHECK_USAGE(kiln_global_set(NULL, &global, &val));
#undef CHECK_USAGE

    /* Functions that cannot fail ignore NULL. */
    CHECK(kiln_store_new(NULL) == NULL);
    CHECK(kiln_interrupt_handle_new(NULL) == NULL);
    kiln_store_set_memory_limit(NULL, 1);
    kiln_store_set_table_limit(NULL, 1);
    kiln_store_set_fuel(NULL, 1);
    kiln_store_add_fuel(NULL, 1);
    kiln_store_disable_fuel(NULL);
    kiln_store_set_suspend_on_fuel(NULL, true);
    kiln_store_set_timeout_ms(NULL, 1);
    kiln_store_set_stack_limits(NULL, 1, 1);
    kiln_store_set_reuse_after_trap(NULL, true);
    kiln_store_drop_suspended(NULL);
    CHECK(!kiln_store_get_fuel(NULL, &u));
    CHECK(!kiln_store_has_suspended(NULL));
    kiln_interrupt_handle_interrupt(NULL);
    kiln_interrupt_handle_suspend(NULL);
    CHECK(kiln_module_import_count(NULL) == 0 && kiln_module_export_count(NULL) == 0);
    CHECK(!kiln_module_import(NULL, 0, NULL, NULL, NULL));
    CHECK(!kiln_module_export(NULL, 0, NULL, NULL));
    CHECK(!kiln_instance_get_func(NULL, &instance, "f", &func));
    CHECK(!kiln_instance_get_func(store, NULL, "f", &func));
    CHECK(!kiln_instance_get_func(store, &instance, "f", &func));
    CHECK(!kiln_instance_get_memory(store, &instance, NULL, &memory));
    CHECK(!kiln_instance_get_global(store, &instance, "g", NULL));
    CHECK(!kiln_func_type(store, &func, NULL, &count, NULL, &count));
    CHECK(kiln_caller_store(NULL) == NULL);
    CHECK(kiln_caller_memory_size(NULL) == 0);
    CHECK(!kiln_caller_memory_read(NULL, 0, &byte, 1));
    CHECK(!kiln_caller_memory_write(NULL, 0, &byte, 1));
    CHECK(!kiln_caller_get_func(NULL, "f", &func));
    CHECK(strcmp(kiln_error_message(NULL), "") == 0);
    CHECK(kiln_error_trap_kind(NULL) == -1);
    CHECK(kiln_error_backtrace_count(NULL) == 0 && kiln_error_backtrace_frame(NULL, 0) == NULL);
    CHECK(strcmp(kiln_error_kind_name((kiln_error_kind_t)99), "unknown") == 0);
    CHECK(strcmp(kiln_trap_kind_name((kiln_trap_kind_t)-1), "unknown") == 0);
    CHECK(kiln_error_frame_func_name(NULL, 0) == NULL &&
          kiln_error_frame_code_offset(NULL, 0) == 0);
    kiln_error_delete(NULL);
    kiln_engine_delete(NULL);
    kiln_module_delete(NULL);
    kiln_store_delete(NULL);
    kiln_linker_delete(NULL);
    kiln_interrupt_handle_delete(NULL);

    /* kiln_error_new makes a host-error trap; NULL gives a generic message. */
    kiln_error_t* error = kiln_error_new(NULL);
    CHECK(kiln_error_kind(error) == KILN_ERROR_TRAP);
    CHECK(kiln_error_trap_kind(error) == KILN_TRAP_HOST_ERROR);
    CHECK(strlen(kiln_error_message(error)) > 0);
    kiln_error_delete(error);

    kiln_linker_delete(linker);
    kiln_store_delete(store);
}

/* The echo plugin of tests/fixtures/echo_plugin.wat (Extism ABI): `echo` outputs its input,
 * `color` the config value "color", `refuse` sets an error, `rc7` returns 7. */
static const uint8_t echo_plugin_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x22, 0x07, 0x60, 0x00, 0x01, 0x7e, 0x60,
    0x02, 0x7e, 0x7e, 0x00, 0x60, 0x01, 0x7e, 0x00, 0x60, 0x01, 0x7e, 0x01, 0x7e, 0x60, 0x02, 0x7e,
    0x7f, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7e, 0x60, 0x00, 0x01, 0x7f, 0x02, 0xe1, 0x01, 0x08,
    0x0f, 0x65, 0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a, 0x68, 0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76,
    0x0c, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x5f, 0x6c, 0x65, 0x6e, 0x67, 0x74, 0x68, 0x00, 0x00, 0x0f,
    0x65, 0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a, 0x68, 0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76, 0x0c,
    0x69, 0x6e, 0x70, 0x75, 0x74, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x00, 0x00, 0x0f, 0x65,
    0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a, 0x68, 0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76, 0x0a, 0x6f,
    0x75, 0x74, 0x70, 0x75, 0x74, 0x5f, 0x73, 0x65, 0x74, 0x00, 0x01, 0x0f, 0x65, 0x78, 0x74, 0x69,
    0x73, 0x6d, 0x3a, 0x68, 0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76, 0x09, 0x65, 0x72, 0x72, 0x6f,
    0x72, 0x5f, 0x73, 0x65, 0x74, 0x00, 0x02, 0x0f, 0x65, 0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a, 0x68,
    0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76, 0x05, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x03, 0x0f,
    0x65, 0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a, 0x68, 0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76, 0x06,
    0x6c, 0x65, 0x6e, 0x67, 0x74, 0x68, 0x00, 0x03, 0x0f, 0x65, 0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a,
    0x68, 0x6f, 0x73, 0x74, 0x2f, 0x65, 0x6e, 0x76, 0x08, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x5f, 0x75,
    0x38, 0x00, 0x04, 0x0f, 0x65, 0x78, 0x74, 0x69, 0x73, 0x6d, 0x3a, 0x68, 0x6f, 0x73, 0x74, 0x2f,
    0x65, 0x6e, 0x76, 0x0a, 0x63, 0x6f, 0x6e, 0x66, 0x69, 0x67, 0x5f, 0x67, 0x65, 0x74, 0x00, 0x03,
    0x03, 0x07, 0x06, 0x05, 0x06, 0x06, 0x06, 0x06, 0x06, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x2f,
    0x06, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x04, 0x65, 0x63, 0x68, 0x6f, 0x00,
    0x09, 0x05, 0x63, 0x6f, 0x6c, 0x6f, 0x72, 0x00, 0x0a, 0x06, 0x72, 0x65, 0x66, 0x75, 0x73, 0x65,
    0x00, 0x0b, 0x03, 0x72, 0x63, 0x37, 0x00, 0x0c, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x0d, 0x0a,
    0x77, 0x06, 0x35, 0x02, 0x01, 0x7e, 0x01, 0x7f, 0x20, 0x01, 0xad, 0x10, 0x04, 0x21, 0x02, 0x02,
    0x40, 0x03, 0x40, 0x20, 0x03, 0x20, 0x01, 0x4f, 0x0d, 0x01, 0x20, 0x02, 0x20, 0x03, 0xad, 0x7c,
    0x20, 0x00, 0x20, 0x03, 0x6a, 0x2d, 0x00, 0x00, 0x10, 0x06, 0x20, 0x03, 0x41, 0x01, 0x6a, 0x21,
    0x03, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x02, 0x0b, 0x0a, 0x00, 0x10, 0x01, 0x10, 0x00, 0x10, 0x02,
    0x41, 0x00, 0x0b, 0x18, 0x01, 0x01, 0x7e, 0x41, 0x00, 0x41, 0x05, 0x10, 0x08, 0x10, 0x07, 0x21,
    0x00, 0x20, 0x00, 0x20, 0x00, 0x10, 0x05, 0x10, 0x02, 0x41, 0x00, 0x0b, 0x0c, 0x00, 0x41, 0x10,
    0x41, 0x13, 0x10, 0x08, 0x10, 0x03, 0x41, 0x00, 0x0b, 0x04, 0x00, 0x41, 0x07, 0x0b, 0x09, 0x00,
    0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00, 0x0b, 0x0b, 0x23, 0x02, 0x00, 0x41, 0x00, 0x0b, 0x05,
    0x63, 0x6f, 0x6c, 0x6f, 0x72, 0x00, 0x41, 0x10, 0x0b, 0x13, 0x65, 0x63, 0x68, 0x6f, 0x5f, 0x70,
    0x6c, 0x75, 0x67, 0x69, 0x6e, 0x20, 0x73, 0x61, 0x79, 0x73, 0x20, 0x6e, 0x6f, 0x00, 0x99, 0x01,
    0x04, 0x6e, 0x61, 0x6d, 0x65, 0x01, 0x60, 0x09, 0x00, 0x0c, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x5f,
    0x6c, 0x65, 0x6e, 0x67, 0x74, 0x68, 0x01, 0x0c, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x5f, 0x6f, 0x66,
    0x66, 0x73, 0x65, 0x74, 0x02, 0x0a, 0x6f, 0x75, 0x74, 0x70, 0x75, 0x74, 0x5f, 0x73, 0x65, 0x74,
    0x03, 0x09, 0x65, 0x72, 0x72, 0x6f, 0x72, 0x5f, 0x73, 0x65, 0x74, 0x04, 0x05, 0x61, 0x6c, 0x6c,
    0x6f, 0x63, 0x05, 0x06, 0x6c, 0x65, 0x6e, 0x67, 0x74, 0x68, 0x06, 0x08, 0x73, 0x74, 0x6f, 0x72,
    0x65, 0x5f, 0x75, 0x38, 0x07, 0x0a, 0x63, 0x6f, 0x6e, 0x66, 0x69, 0x67, 0x5f, 0x67, 0x65, 0x74,
    0x08, 0x05, 0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x02, 0x30, 0x0e, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00,
    0x03, 0x00, 0x04, 0x00, 0x05, 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x04, 0x00, 0x03, 0x70, 0x74,
    0x72, 0x01, 0x03, 0x6c, 0x65, 0x6e, 0x02, 0x01, 0x68, 0x03, 0x01, 0x69, 0x09, 0x00, 0x0a, 0x01,
    0x00, 0x01, 0x76, 0x0b, 0x00, 0x0c, 0x00, 0x0d, 0x00};

static void test_plugins(void) {
    kiln_plugin_t* plugin = NULL;
    if (!CHECK_OK(
            kiln_plugin_new(engine, echo_plugin_wasm, sizeof echo_plugin_wasm, false, &plugin)))
        return;
    CHECK(kiln_plugin_function_exists(plugin, "echo"));
    CHECK(!kiln_plugin_function_exists(plugin, "nope"));
    const uint8_t* out = NULL;
    size_t out_len = 0;
    const char* hello = "hello, plugin";
    if (CHECK_OK(kiln_plugin_call(plugin, "echo", (const uint8_t*)hello, strlen(hello), &out,
                                  &out_len))) {
        CHECK(out_len == strlen(hello) && memcmp(out, hello, out_len) == 0);
    }
    kiln_plugin_set_config(plugin, "color", "teal");
    if (CHECK_OK(kiln_plugin_call(plugin, "color", NULL, 0, &out, &out_len))) {
        CHECK(out_len == 4 && memcmp(out, "teal", 4) == 0);
    }
    CHECK_ERROR_HAS(kiln_plugin_call(plugin, "refuse", NULL, 0, &out, &out_len), KILN_ERROR_PLUGIN,
                    "echo_plugin says no");
    CHECK_ERROR_HAS(kiln_plugin_call(plugin, "rc7", NULL, 0, &out, &out_len), KILN_ERROR_PLUGIN,
                    "returned 7");
    CHECK_ERROR_HAS(kiln_plugin_call(plugin, "nope", NULL, 0, &out, &out_len), KILN_ERROR_USAGE,
                    "nope");
    kiln_error_delete(
        CHECK_ERROR(kiln_plugin_call(NULL, "echo", NULL, 0, &out, &out_len), KILN_ERROR_USAGE));
    kiln_error_delete(
        CHECK_ERROR(kiln_plugin_call(plugin, "echo", NULL, 0, NULL, NULL), KILN_ERROR_USAGE));
    kiln_plugin_t* missing = NULL;
    CHECK_ERROR_HAS(kiln_plugin_from_file(engine, "/nonexistent/p.json", false, &missing),
                    KILN_ERROR_IO, "/nonexistent/p.json");
    CHECK(missing == NULL);
    kiln_plugin_delete(plugin);
    kiln_plugin_delete(NULL);
}

/* Regression: kiln_error_kind_name gave "unknown" for the exit and plugin kinds, and
 * kiln_trap_kind_name for the exit kind. Every kind has its own name. */
static void test_kind_names_cover_exit_and_plugin(void) {
    CHECK(strcmp(kiln_error_kind_name(KILN_ERROR_EXIT), "exit") == 0);
    CHECK(strcmp(kiln_error_kind_name(KILN_ERROR_PLUGIN), "plugin") == 0);
    CHECK(strcmp(kiln_trap_kind_name(KILN_TRAP_EXIT), "exit") == 0);
    CHECK(strcmp(kiln_trap_kind_name(KILN_TRAP_YIELDED), "yielded") == 0);
    for (int k = KILN_ERROR_MALFORMED; k <= KILN_ERROR_PLUGIN; ++k)
        CHECK(strcmp(kiln_error_kind_name((kiln_error_kind_t)k), "unknown") != 0);
    for (int k = KILN_TRAP_UNREACHABLE; k <= KILN_TRAP_YIELDED; ++k)
        CHECK(strcmp(kiln_trap_kind_name((kiln_trap_kind_t)k), "unknown") != 0);
}

/* Regression: a directory given as a module or plugin file aborted the process or came back as a
 * usage error, and /dev/zero was read without end. Each is an io error naming the file. */
static void test_directories_and_devices_are_io_errors(void) {
    char dir[] = "/tmp/kiln-capi-dir-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    kiln_module_t* module = NULL;
    kiln_plugin_t* plugin = NULL;
    CHECK_ERROR_HAS(kiln_module_from_file(engine, dir, &module), KILN_ERROR_IO, "is a directory");
    CHECK_ERROR_HAS(kiln_module_from_file(engine, "/dev/zero", &module), KILN_ERROR_IO,
                    "/dev/zero: not a regular file");
    CHECK_ERROR_HAS(kiln_plugin_from_file(engine, dir, false, &plugin), KILN_ERROR_IO,
                    "is a directory");
    CHECK_ERROR_HAS(kiln_plugin_from_file(engine, "/dev/zero", false, &plugin), KILN_ERROR_IO,
                    "/dev/zero: not a regular file");
    /* A manifest whose module path is the directory. */
    char manifest[64];
    snprintf(manifest, sizeof manifest, "%s/plugin.json", dir);
    FILE* f = fopen(manifest, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "{\"wasm\": [{\"path\": \"%s\"}]}", dir);
        fclose(f);
    }
    CHECK_ERROR_HAS(kiln_plugin_from_file(engine, manifest, false, &plugin), KILN_ERROR_IO,
                    "is a directory");
    CHECK(module == NULL && plugin == NULL);
    unlink(manifest);
    rmdir(dir);
}

int main(void) {
    engine = kiln_engine_new(NULL);
    CHECK(engine != NULL);
    if (!CHECK_OK(kiln_module_new(engine, host_wasm, sizeof host_wasm, &host_module))) return 1;

    test_kind_names_cover_exit_and_plugin();
    test_compile_errors();
    test_unknown_import_is_named();
    test_host_functions_and_finalizer();
    test_caller_memory_and_host_errors();
    test_typed_checks_and_handles();
    test_define_instance();
    test_traps_and_backtraces();
    test_fuel_and_resumable_calls();
    test_timeout();
    test_interrupt_from_another_thread();
    test_memory_and_table_limits();
    test_null_arguments();
    test_v128_values_and_the_simd_feature();
    test_tail_call_and_extended_const_features();
    test_plugins();
    test_directories_and_devices_are_io_errors();

    kiln_module_delete(host_module);
    kiln_engine_delete(engine);
    if (failures) {
        fprintf(stderr, "capi_test: %d checks failed\n", failures);
        return 1;
    }
    printf("capi_test: all checks passed\n");
    return 0;
}
