/* The C API's plugins (include/kiln/kiln.h), from C, on plugin.wat (built next to this test, its
 * folder given as argv[1]): manifests from JSON and TOML text, host functions with user data
 * freed once, the current plugin's blocks, config, vars, errors and caller, log levels and a
 * log callback, cancel from another thread, reset, pools, suspended calls resumed with results
 * or dropped, snapshots restored into new instances, and NULL arguments. Exits non-zero after
 * printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/kiln.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_engine_t* engine;
static const char* plugin_dir;

static const kiln_valkind_t i64_param[] = {KILN_I64};
static const kiln_valkind_t i64_result[] = {KILN_I64};

/* A manifest of plugin.wat from JSON text, with `extra` (a JSON member or "") added. */
static kiln_manifest_t* json_manifest(const char* extra) {
    char text[512];
    snprintf(text, sizeof text, "{\"wasm\": [{\"path\": \"plugin.wasm\"}]%s%s}", *extra ? ", " : "",
             extra);
    kiln_manifest_t* manifest = NULL;
    CHECK_OK(kiln_manifest_from_json(text, strlen(text), plugin_dir, &manifest));
    return manifest;
}

/* Calls `function` with a string input; the output, NUL-terminated, into `out` (up to its size). */
static kiln_error_t* call(kiln_plugin_t* plugin, const char* function, const char* input, char* out,
                          size_t out_size) {
    const uint8_t* output = NULL;
    size_t len = 0;
    kiln_error_t* error =
        kiln_plugin_call(plugin, function, (const uint8_t*)input, strlen(input), &output, &len);
    if (!error && out) snprintf(out, out_size, "%.*s", (int)len, (const char*)output);
    return error;
}

/* An 8-byte little-endian number the plugin output. */
static int64_t number(const uint8_t* output, size_t len) {
    int64_t n = -1;
    if (len == sizeof n) memcpy(&n, output, sizeof n);
    return n;
}

/* Calls `function` and returns the number it outputs, or -1 after a failed check. */
static int64_t call_number(kiln_plugin_t* plugin, const char* function, const char* input) {
    const uint8_t* output = NULL;
    size_t len = 0;
    if (!CHECK_OK(kiln_plugin_call(plugin, function, (const uint8_t*)input, strlen(input), &output,
                                   &len)))
        return -1;
    return number(output, len);
}

/* ---- host functions ---------------------------------------------------------------------- */

/* User data of `greet`: how often it ran and was freed. */
typedef struct greet_data {
    int calls;
    int freed;
} greet_data;

static void free_greet_data(void* user_data) {
    ((greet_data*)user_data)->freed++;
}

/* greet(input handle) -> handle of "GREETING, INPUT #N": GREETING is the config "greeting", N
 * the var "greets", counted here. Input "fail" returns an error, "refuse" sets the plugin's
 * error, "peek" answers with 5 bytes of the caller's linear memory at 16. */
static kiln_error_t* greet(void* user_data, kiln_current_plugin_t* plugin, const kiln_val_t* args,
                           size_t nargs, kiln_val_t* results, size_t nresults) {
    greet_data* data = (greet_data*)user_data;
    data->calls++;
    CHECK(nargs == 1 && nresults == 1 && args[0].kind == KILN_I64 && results[0].kind == KILN_I64);
    const uint8_t* input = NULL;
    size_t input_len = 0;
    if (!kiln_current_plugin_read(plugin, (uint64_t)args[0].of.i64, &input, &input_len))
        return kiln_error_new("greet: the input is no block");
    CHECK(kiln_current_plugin_length(plugin, (uint64_t)args[0].of.i64) == input_len);
    char text[128];
    snprintf(text, sizeof text, "%.*s", (int)input_len, (const char*)input);
    if (strcmp(text, "fail") == 0) return kiln_error_new("greet refuses to fail");
    if (strcmp(text, "refuse") == 0) {
        kiln_current_plugin_set_error(plugin, "no greeting for you");
        return NULL;
    }
    if (strcmp(text, "peek") == 0) {
        kiln_caller_t* caller = kiln_current_plugin_caller(plugin);
        CHECK(kiln_caller_store(caller) == NULL);
        char color[6] = {0};
        CHECK(kiln_caller_memory_read(caller, 16, color, 5));
        results[0].of.i64 = (int64_t)kiln_current_plugin_write(plugin, color, 5);
        return NULL;
    }
    const char* greeting = kiln_current_plugin_config(plugin, "greeting");
    const uint8_t* var = NULL;
    size_t var_len = 0;
    uint8_t greets = 0;
    if (kiln_current_plugin_var(plugin, "greets", &var, &var_len) && var_len == 1) greets = var[0];
    greets++;
    CHECK(kiln_current_plugin_set_var(plugin, "greets", &greets, 1));
    char answer[256];
    int n =
        snprintf(answer, sizeof answer, "%s, %s #%d", greeting ? greeting : "hello", text, greets);
    /* A block the host no longer needs can be freed; its handle stops being one. */
    uint64_t scratch = kiln_current_plugin_alloc(plugin, 16);
    CHECK(scratch != 0 && kiln_current_plugin_length(plugin, scratch) == 16);
    kiln_current_plugin_free(plugin, scratch);
    CHECK(kiln_current_plugin_length(plugin, scratch) == 0);
    results[0].of.i64 = (int64_t)kiln_current_plugin_write(plugin, answer, (size_t)n);
    return NULL;
}

/* User data of `next`: whether it suspends the call, else the number it returns. */
typedef struct next_data {
    bool suspend;
    int64_t number;
    int calls;
} next_data;

static kiln_error_t* next(void* user_data, kiln_current_plugin_t* plugin, const kiln_val_t* args,
                          size_t nargs, kiln_val_t* results, size_t nresults) {
    next_data* data = (next_data*)user_data;
    (void)args, (void)nargs, (void)nresults;
    data->calls++;
    if (data->suspend) return kiln_current_plugin_suspend(plugin);
    results[0].of.i64 = data->number;
    return NULL;
}

/* Options offering greet and next, with these user data (next's is not freed by the options). */
static kiln_plugin_options_t* options_with(greet_data* g, next_data* n) {
    kiln_plugin_options_t* options = kiln_plugin_options_new();
    CHECK(options != NULL);
    CHECK_OK(kiln_plugin_options_add_function(options, NULL, "greet", i64_param, 1, i64_result, 1,
                                              greet, g, free_greet_data));
    CHECK_OK(kiln_plugin_options_add_function(options, "extism:host/user", "next", i64_param, 1,
                                              i64_result, 1, next, n, NULL));
    return options;
}

static void test_manifest_text_and_host_functions(void) {
    greet_data g = {0, 0};
    next_data n = {false, 5, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    kiln_manifest_t* manifest = json_manifest("\"config\": {\"greeting\": \"hi\"}");
    kiln_compiled_plugin_t* compiled = NULL;
    kiln_plugin_t* plugin = NULL;
    if (!manifest || !CHECK_OK(kiln_compiled_plugin_new(engine, manifest, options, &compiled)) ||
        !CHECK_OK(kiln_plugin_instantiate(compiled, &plugin)))
        return;
    kiln_manifest_delete(manifest);
    kiln_plugin_options_delete(options);
    CHECK(g.freed == 0);

    char out[256];
    if (CHECK_OK(call(plugin, "greet", "Ada", out, sizeof out)))
        CHECK(strcmp(out, "hi, Ada #1") == 0);
    if (CHECK_OK(call(plugin, "greet", "Ada", out, sizeof out)))
        CHECK(strcmp(out, "hi, Ada #2") == 0); /* the var outlives the call */
    if (CHECK_OK(call(plugin, "greet", "peek", out, sizeof out))) CHECK(strcmp(out, "color") == 0);
    kiln_error_t* error = CHECK_ERROR(call(plugin, "greet", "fail", NULL, 0), KILN_ERROR_TRAP);
    if (error) {
        CHECK(kiln_error_trap_kind(error) == KILN_TRAP_HOST_ERROR);
        CHECK(strstr(kiln_error_message(error), "greet refuses to fail") != NULL);
        kiln_error_delete(error);
    }
    CHECK_ERROR_HAS(call(plugin, "greet", "refuse", NULL, 0), KILN_ERROR_TRAP,
                    "no greeting for you");
    CHECK(g.calls == 5);
    CHECK(n.calls == 0);
    CHECK(strcmp(kiln_plugin_name(plugin), "plugin") == 0);

    /* A second instance of the same compiled plugin has vars of its own. */
    kiln_plugin_t* second = NULL;
    if (CHECK_OK(kiln_plugin_instantiate(compiled, &second))) {
        if (CHECK_OK(call(second, "greet", "Bo", out, sizeof out)))
            CHECK(strcmp(out, "hi, Bo #1") == 0);
        kiln_plugin_delete(second);
    }
    /* The user data is freed once, when neither the options nor a plugin uses it. */
    kiln_compiled_plugin_delete(compiled);
    CHECK(g.freed == 0);
    kiln_plugin_delete(plugin);
    CHECK(g.freed == 1);
}

static void test_manifest_errors_and_toml(void) {
    kiln_manifest_t* manifest = NULL;
    const char* wrong = "{\"wasm\": [{\"path\": 3}]}";
    kiln_error_t* error = kiln_manifest_from_json(wrong, strlen(wrong), NULL, &manifest);
    CHECK(error != NULL && manifest == NULL);
    if (error) {
        CHECK(strstr(kiln_error_message(error), "wasm[0].path") != NULL);
        kiln_error_delete(error);
    }
    const char* toml = "name = \"tomlish\"\n"
                       "[[wasm]]\n"
                       "path = \"plugin.wasm\"\n"
                       "[config]\n"
                       "color = \"navy\"\n";
    if (!CHECK_OK(kiln_manifest_from_toml(toml, strlen(toml), plugin_dir, &manifest))) return;
    greet_data g = {0, 0};
    next_data n = {false, 0, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    kiln_plugin_t* plugin = NULL;
    if (CHECK_OK(kiln_plugin_from_manifest(engine, manifest, options, &plugin))) {
        char out[64];
        if (CHECK_OK(call(plugin, "color", "", out, sizeof out))) CHECK(strcmp(out, "navy") == 0);
        CHECK(strcmp(kiln_plugin_name(plugin), "tomlish") == 0);
        kiln_plugin_delete(plugin);
    }
    kiln_plugin_options_delete(options);
    CHECK(g.freed == 1);
    kiln_manifest_delete(manifest);

    /* A plugin without the host functions it imports does not link. */
    manifest = json_manifest("");
    kiln_plugin_t* unlinked = NULL;
    if (manifest) {
        CHECK_ERROR_HAS(kiln_plugin_from_manifest(engine, manifest, NULL, &unlinked),
                        KILN_ERROR_UNLINKABLE, "greet");
        CHECK(unlinked == NULL);
    }
    kiln_manifest_delete(manifest);
    CHECK_ERROR_HAS(kiln_manifest_from_file("/nonexistent/m.json", &manifest), KILN_ERROR_IO,
                    "/nonexistent/m.json");
}

/* ---- logs -------------------------------------------------------------------------------- */

typedef struct log_data {
    char lines[512];
    int count;
    int freed;
} log_data;

static void on_log(void* user_data, const char* plugin, kiln_log_level_t level, const char* line) {
    log_data* data = (log_data*)user_data;
    size_t used = strlen(data->lines);
    snprintf(data->lines + used, sizeof data->lines - used, "%s %d %s|", plugin, (int)level, line);
    data->count++;
}

static void free_log_data(void* user_data) {
    ((log_data*)user_data)->freed++;
}

static void test_log_level_and_callback(void) {
    log_data logs = {"", 0, 0};
    greet_data g = {0, 0};
    next_data n = {false, 0, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    kiln_plugin_options_set_name(options, "logger");
    CHECK_OK(kiln_plugin_options_set_log_level(options, KILN_LOG_DEBUG));
    CHECK_FAILS(kiln_plugin_options_set_log_level(options, (kiln_log_level_t)42), KILN_ERROR_USAGE);
    CHECK_OK(kiln_plugin_options_set_log_callback(options, on_log, &logs, free_log_data));
    kiln_manifest_t* manifest = json_manifest("");
    kiln_plugin_t* plugin = NULL;
    if (!manifest || !CHECK_OK(kiln_plugin_from_manifest(engine, manifest, options, &plugin))) {
        kiln_manifest_delete(manifest);
        kiln_plugin_options_delete(options);
        return;
    }
    kiln_manifest_delete(manifest);
    kiln_plugin_options_delete(options);

    CHECK_OK(call(plugin, "log", "", NULL, 0));
    CHECK(logs.count == 4);
    CHECK(strcmp(logs.lines, "logger 1 debug line|logger 2 info line|logger 3 warn line|"
                             "logger 4 error line|") == 0);
    logs.lines[0] = '\0';
    CHECK_OK(kiln_plugin_set_log_level(plugin, KILN_LOG_WARN));
    CHECK_OK(call(plugin, "log", "", NULL, 0));
    CHECK(strcmp(logs.lines, "logger 3 warn line|logger 4 error line|") == 0);
    logs.lines[0] = '\0';
    CHECK_OK(kiln_plugin_set_log_level(plugin, KILN_LOG_TRACE));
    CHECK_OK(call(plugin, "log", "", NULL, 0));
    CHECK(strncmp(logs.lines, "logger 0 trace line|", 20) == 0);
    CHECK(logs.count == 11);
    CHECK_OK(kiln_plugin_set_log_level(plugin, KILN_LOG_OFF));
    CHECK_OK(call(plugin, "log", "", NULL, 0));
    CHECK(logs.count == 11);
    CHECK_FAILS(kiln_plugin_set_log_level(plugin, (kiln_log_level_t)-1), KILN_ERROR_USAGE);
    CHECK(logs.freed == 0);
    kiln_plugin_delete(plugin);
    CHECK(logs.freed == 1);
}

/* ---- cancel, reset and pools ------------------------------------------------------------- */

typedef struct canceller {
    kiln_cancel_handle_t* handle;
    atomic_bool done;
} canceller;

/* Cancels every 20 ms until the call has returned: a cancel while the plugin is idle is not
 * kept, so one sent before the call started would be lost. */
static void* cancel_until_done(void* arg) {
    canceller* c = (canceller*)arg;
    while (!atomic_load(&c->done)) {
        sleep_ms(20);
        kiln_cancel_handle_cancel(c->handle);
    }
    return NULL;
}

/* Runs `spin`, cancelled from another thread; true when the cancel (not the backstop timeout)
 * stopped it. */
static bool spin_cancelled(kiln_plugin_t* plugin, kiln_cancel_handle_t* handle) {
    canceller c = {handle, false};
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_until_done, &c);
    double start = now_ms();
    kiln_error_t* error = call(plugin, "spin", "", NULL, 0);
    double elapsed = now_ms() - start;
    atomic_store(&c.done, true);
    pthread_join(thread, NULL);
    CHECK(error != NULL);
    if (error)
        fprintf(stderr, "  spin stopped after %.0f ms: %s\n", elapsed, kiln_error_message(error));
    kiln_error_delete(error);
    return error && elapsed < 5000;
}

static void test_cancel_and_reset(void) {
    greet_data g = {0, 0};
    next_data n = {false, 0, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    /* The timeout is a backstop, so that a broken cancel cannot hang the test. */
    kiln_manifest_t* manifest = json_manifest("\"timeout_ms\": 10000");
    kiln_plugin_t* plugin = NULL;
    if (manifest && CHECK_OK(kiln_plugin_from_manifest(engine, manifest, options, &plugin))) {
        kiln_cancel_handle_t* handle = kiln_plugin_cancel_handle(plugin);
        CHECK(handle != NULL);
        CHECK(call_number(plugin, "count", "") == 1);
        CHECK(call_number(plugin, "count", "") == 2);
        CHECK(spin_cancelled(plugin, handle));
        CHECK(call_number(plugin, "count", "") == 1); /* a fresh instance after the cancel */
        CHECK(call_number(plugin, "count", "") == 2);
        CHECK_OK(kiln_plugin_reset(plugin));
        CHECK(call_number(plugin, "count", "") == 1);
        /* The handle taken before the reset still cancels. */
        CHECK(spin_cancelled(plugin, handle));
        kiln_cancel_handle_cancel(handle); /* idle: not kept for the next call */
        CHECK(call_number(plugin, "count", "") == 1);
        kiln_plugin_delete(plugin);
        kiln_cancel_handle_cancel(handle); /* the handle outlives its plugin harmlessly */
        kiln_cancel_handle_delete(handle);
    }
    kiln_manifest_delete(manifest);
    kiln_plugin_options_delete(options);
}

static void test_pool(void) {
    greet_data g = {0, 0};
    next_data n = {false, 0, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    kiln_manifest_t* manifest = json_manifest("");
    kiln_compiled_plugin_t* compiled = NULL;
    if (!manifest || !CHECK_OK(kiln_compiled_plugin_new(engine, manifest, options, &compiled))) {
        kiln_manifest_delete(manifest);
        kiln_plugin_options_delete(options);
        return;
    }
    kiln_manifest_delete(manifest);
    kiln_plugin_options_delete(options);
    kiln_plugin_pool_t* pool = kiln_plugin_pool_new(compiled, 1);
    kiln_compiled_plugin_delete(compiled); /* the pool keeps what it needs */
    CHECK(pool != NULL);
    kiln_plugin_t* first = NULL;
    kiln_plugin_t* second = NULL;
    if (!CHECK_OK(kiln_plugin_pool_get(pool, 1000, &first))) return;
    CHECK(call_number(first, "count", "") == 1);
    double start = now_ms();
    CHECK_ERROR_HAS(kiln_plugin_pool_get(pool, 50, &second), KILN_ERROR_LIMIT,
                    "no plugin instance");
    CHECK(second == NULL);
    CHECK(now_ms() - start >= 45);
    kiln_plugin_delete(first); /* back to the pool */
    if (CHECK_OK(kiln_plugin_pool_get(pool, 1000, &second))) {
        CHECK(call_number(second, "count", "") == 2); /* the same instance, reused */
        kiln_plugin_pool_delete(pool);                /* a leased instance outlives its pool */
        CHECK(call_number(second, "count", "") == 3);
        kiln_plugin_delete(second);
    } else {
        kiln_plugin_pool_delete(pool);
    }
    CHECK(g.freed == 1);
}

/* ---- suspended calls and snapshots ------------------------------------------------------- */

static void test_suspend_resume_and_drop(void) {
    greet_data g = {0, 0};
    next_data n = {true, 0, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    kiln_manifest_t* manifest = json_manifest("");
    kiln_plugin_t* plugin = NULL;
    if (!manifest || !CHECK_OK(kiln_plugin_from_manifest(engine, manifest, options, &plugin))) {
        kiln_manifest_delete(manifest);
        kiln_plugin_options_delete(options);
        return;
    }
    kiln_manifest_delete(manifest);
    kiln_plugin_options_delete(options);

    CHECK(!kiln_plugin_is_suspended(plugin));
    CHECK_FAILS(call(plugin, "wait", "abcd", NULL, 0), KILN_ERROR_SUSPENDED);
    CHECK(kiln_plugin_is_suspended(plugin));
    CHECK(n.calls == 1);
    CHECK_ERROR_HAS(call(plugin, "count", "", NULL, 0), KILN_ERROR_USAGE, "suspended");
    const uint8_t* output = NULL;
    size_t len = 0;
    kiln_val_t wrong = kiln_val_i32(7);
    CHECK_FAILS(kiln_plugin_resume(plugin, &wrong, 1, &output, &len), KILN_ERROR_USAGE);
    CHECK(kiln_plugin_is_suspended(plugin)); /* wrong results leave it suspended */
    kiln_val_t bad_kind = {(kiln_valkind_t)1, {0}};
    CHECK_ERROR_HAS(kiln_plugin_resume(plugin, &bad_kind, 1, &output, &len), KILN_ERROR_USAGE,
                    "result 0");
    kiln_val_t seven = kiln_val_i64(7);
    if (CHECK_OK(kiln_plugin_resume(plugin, &seven, 1, &output, &len)))
        CHECK(number(output, len) == 7 * 1000 + 4);
    CHECK(!kiln_plugin_is_suspended(plugin));
    CHECK(n.calls == 1); /* resumed after the host function, not into it again */
    CHECK_ERROR_HAS(kiln_plugin_resume(plugin, &seven, 1, &output, &len), KILN_ERROR_USAGE,
                    "suspended");

    /* A dropped call leaves a fresh instance. */
    CHECK(call_number(plugin, "count", "") == 1);
    CHECK_FAILS(call(plugin, "wait", "ab", NULL, 0), KILN_ERROR_SUSPENDED);
    kiln_plugin_drop_suspended(plugin);
    CHECK(!kiln_plugin_is_suspended(plugin));
    CHECK(call_number(plugin, "count", "") == 1);

    /* Where the host does not suspend, `next` answers at once. */
    n.suspend = false;
    n.number = 3;
    CHECK(call_number(plugin, "wait", "xyz") == 3 * 1000 + 3);
    kiln_plugin_delete(plugin);
}

static void test_snapshot_and_restore(void) {
    greet_data g = {0, 0};
    next_data n = {true, 0, 0};
    kiln_plugin_options_t* options = options_with(&g, &n);
    kiln_manifest_t* manifest = json_manifest("");
    kiln_compiled_plugin_t* compiled = NULL;
    kiln_plugin_t* plugin = NULL;
    if (!manifest || !CHECK_OK(kiln_compiled_plugin_new(engine, manifest, options, &compiled)) ||
        !CHECK_OK(kiln_plugin_instantiate(compiled, &plugin))) {
        kiln_manifest_delete(manifest);
        kiln_plugin_options_delete(options);
        return;
    }
    kiln_plugin_options_delete(options);

    /* An idle plugin's memory comes back. */
    CHECK(call_number(plugin, "count", "") == 1);
    CHECK(call_number(plugin, "count", "") == 2);
    uint8_t* data = NULL;
    size_t len = 0;
    kiln_plugin_t* restored = NULL;
    if (CHECK_OK(kiln_plugin_snapshot(plugin, &data, &len))) {
        CHECK(data != NULL && len > 0);
        if (CHECK_OK(kiln_plugin_restore(compiled, data, len, &restored))) {
            CHECK(call_number(restored, "count", "") == 3);
            kiln_plugin_delete(restored);
        }
        /* Truncated bytes are refused, with no plugin made. */
        restored = NULL;
        kiln_error_t* error = kiln_plugin_restore(compiled, data, len / 2, &restored);
        CHECK(error != NULL && restored == NULL);
        kiln_error_delete(error);
        kiln_bytes_delete(data);
    }

    /* A suspended call moves to the new instance, which resumes it. */
    CHECK_FAILS(call(plugin, "wait", "hello!", NULL, 0), KILN_ERROR_SUSPENDED);
    if (CHECK_OK(kiln_plugin_snapshot(plugin, &data, &len))) {
        if (CHECK_OK(kiln_plugin_restore(compiled, data, len, &restored))) {
            CHECK(kiln_plugin_is_suspended(restored));
            const uint8_t* output = NULL;
            size_t out_len = 0;
            kiln_val_t nine = kiln_val_i64(9);
            if (CHECK_OK(kiln_plugin_resume(restored, &nine, 1, &output, &out_len)))
                CHECK(number(output, out_len) == 9 * 1000 + 6);
            kiln_plugin_delete(restored);
        }
        kiln_bytes_delete(data);
    }
    /* The original still holds its own copy of the call. */
    const uint8_t* output = NULL;
    size_t out_len = 0;
    kiln_val_t two = kiln_val_i64(2);
    if (CHECK_OK(kiln_plugin_resume(plugin, &two, 1, &output, &out_len)))
        CHECK(number(output, out_len) == 2 * 1000 + 6);

    /* Another plugin's compiled modules refuse the snapshot (an empty module, inline). */
    kiln_manifest_delete(manifest);
    if (CHECK_OK(kiln_plugin_snapshot(plugin, &data, &len))) {
        const char* other = "{\"wasm\": [{\"data\": \"AGFzbQEAAAA=\"}]}";
        kiln_manifest_t* other_manifest = NULL;
        kiln_compiled_plugin_t* other_compiled = NULL;
        kiln_plugin_t* refused = NULL;
        if (CHECK_OK(kiln_manifest_from_json(other, strlen(other), NULL, &other_manifest)) &&
            CHECK_OK(kiln_compiled_plugin_new(engine, other_manifest, NULL, &other_compiled))) {
            kiln_error_t* error = kiln_plugin_restore(other_compiled, data, len, &refused);
            CHECK(error != NULL && refused == NULL);
            kiln_error_delete(error);
        }
        kiln_compiled_plugin_delete(other_compiled);
        kiln_manifest_delete(other_manifest);
        kiln_bytes_delete(data);
    }
    kiln_plugin_delete(plugin);
    kiln_compiled_plugin_delete(compiled);
}

/* ---- NULL arguments ---------------------------------------------------------------------- */

static void test_null_arguments(void) {
    kiln_manifest_t* manifest = NULL;
    kiln_plugin_t* plugin = NULL;
    kiln_compiled_plugin_t* compiled = NULL;
    CHECK_FAILS(kiln_manifest_from_json(NULL, 3, NULL, &manifest), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manifest_from_json("{}", 2, NULL, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manifest_from_toml(NULL, 1, NULL, &manifest), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manifest_from_file(NULL, &manifest), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_compiled_plugin_new(engine, NULL, NULL, &compiled), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_instantiate(NULL, &plugin), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_from_manifest(NULL, NULL, NULL, &plugin), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_restore(NULL, NULL, 0, &plugin), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_reset(NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_set_log_level(NULL, KILN_LOG_INFO), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_resume(NULL, NULL, 0, NULL, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_snapshot(NULL, NULL, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_pool_get(NULL, 0, &plugin), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_options_set_log_level(NULL, KILN_LOG_INFO), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_plugin_options_set_log_callback(NULL, on_log, NULL, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_current_plugin_suspend(NULL), KILN_ERROR_USAGE);
    kiln_plugin_options_t* options = kiln_plugin_options_new();
    CHECK_FAILS(
        kiln_plugin_options_add_function(options, NULL, NULL, NULL, 0, NULL, 0, greet, NULL, NULL),
        KILN_ERROR_USAGE);
    CHECK_FAILS(
        kiln_plugin_options_add_function(options, NULL, "f", NULL, 0, NULL, 0, NULL, NULL, NULL),
        KILN_ERROR_USAGE);
    const kiln_valkind_t bogus[] = {(kiln_valkind_t)3};
    CHECK_ERROR_HAS(
        kiln_plugin_options_add_function(options, NULL, "f", bogus, 1, NULL, 0, greet, NULL, NULL),
        KILN_ERROR_USAGE, "parameter 0");
    kiln_plugin_options_delete(options);
    CHECK(plugin == NULL && manifest == NULL && compiled == NULL);
    CHECK(kiln_plugin_pool_new(NULL, 1) == NULL);
    CHECK(kiln_plugin_cancel_handle(NULL) == NULL);
    CHECK(!kiln_plugin_is_suspended(NULL));
    CHECK(kiln_plugin_last_rc(NULL) == 0);
    CHECK(strcmp(kiln_plugin_name(NULL), "") == 0);
    CHECK(kiln_current_plugin_caller(NULL) == NULL);
    CHECK(kiln_current_plugin_alloc(NULL, 1) == 0);
    CHECK(kiln_current_plugin_write(NULL, "x", 1) == 0);
    CHECK(kiln_current_plugin_length(NULL, 1) == 0);
    CHECK(kiln_current_plugin_config(NULL, "k") == NULL);
    CHECK(!kiln_current_plugin_set_var(NULL, "k", "v", 1));
    /* Functions that cannot fail ignore NULL. */
    kiln_current_plugin_free(NULL, 1);
    kiln_current_plugin_set_error(NULL, "x");
    kiln_plugin_options_set_wasi(NULL, true);
    kiln_plugin_options_set_name(NULL, "x");
    kiln_plugin_options_set_http_response_headers(NULL, true);
    kiln_plugin_drop_suspended(NULL);
    kiln_cancel_handle_cancel(NULL);
    kiln_cancel_handle_delete(NULL);
    kiln_plugin_pool_delete(NULL);
    kiln_compiled_plugin_delete(NULL);
    kiln_manifest_delete(NULL);
    kiln_plugin_options_delete(NULL);
    kiln_bytes_delete(NULL);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: kiln-capi-plugin-test FOLDER_OF_PLUGIN_WASM\n");
        return 2;
    }
    plugin_dir = argv[1];
    engine = kiln_engine_new(NULL);
    CHECK(engine != NULL);

    test_manifest_text_and_host_functions();
    test_manifest_errors_and_toml();
    test_log_level_and_callback();
    test_cancel_and_reset();
    test_pool();
    test_suspend_resume_and_drop();
    test_snapshot_and_restore();
    test_null_arguments();

    kiln_engine_delete(engine);
    if (failures) {
        fprintf(stderr, "plugin_test: %d checks failed\n", failures);
        return 1;
    }
    printf("plugin_test: all checks passed\n");
    return 0;
}
