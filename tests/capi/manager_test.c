/* The C API's plugin manager (include/kiln/kiln.h), from C, on a folder holding one plugin, echo
 * (argv[1]: a kiln.yaml beside echo_plugin.wasm), and a state database in a fresh temporary
 * folder: listing and info as JSON, calls, load, unload and reload with their events, enable,
 * disable, grants kept in the database across managers, the audit log, validate, has, load_all,
 * watching a folder, and NULL arguments; and on a second folder (argv[2]) holding stuck, whose
 * initialize never returns, the lifecycle timeout.
 * Exits non-zero after printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/kiln.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static kiln_engine_t* engine;
static const char* plugins;
static char state_path[256];

/* What the event callback saw: one letter per event (l, u, f, r) and the last plugin. */
struct events {
    char kinds[64];
    size_t count;
    char plugin[64];
    int freed;
};

static void on_event(void* user_data, kiln_manager_event_kind_t kind, const char* plugin,
                     const char* detail) {
    struct events* e = user_data;
    (void)detail;
    if (e->count + 1 < sizeof e->kinds) e->kinds[e->count++] = "lufr"[kind];
    snprintf(e->plugin, sizeof e->plugin, "%s", plugin);
}

static void free_events(void* user_data) {
    ((struct events*)user_data)->freed++;
}

static kiln_manager_t* new_manager(void) {
    kiln_manager_config_t config = {0};
    config.state_path = state_path;
    kiln_manager_t* manager = NULL;
    CHECK_OK(kiln_manager_new(engine, &config, &manager));
    if (manager) CHECK_OK(kiln_manager_open(manager, plugins));
    return manager;
}

/* Whether `json`, which `error` says was made, contains `text`; the string is freed. */
static bool json_has(kiln_error_t* error, char* json, const char* text) {
    bool found = false;
    if (CHECK_OK(error)) {
        found = json && strstr(json, text) != NULL;
        if (!found) fprintf(stderr, "JSON lacks %s:\n%s\n", text, json ? json : "(null)");
    }
    kiln_string_delete(json);
    return found;
}

static bool info_has(kiln_manager_t* manager, const char* plugin, const char* text) {
    char* json = NULL;
    kiln_error_t* error = kiln_manager_info_json(manager, plugin, &json);
    return json_has(error, json, text);
}

static bool list_has(kiln_manager_t* manager, const char* text) {
    char* json = NULL;
    kiln_error_t* error = kiln_manager_list_json(manager, &json);
    return json_has(error, json, text);
}

/* Calls echo's `target` with `input` and compares the output with `expected`. */
static void check_call(kiln_manager_t* manager, const char* target, const char* input,
                       const char* expected) {
    uint8_t* output = NULL;
    size_t len = 0;
    if (CHECK_OK(kiln_manager_call(manager, "echo", target, (const uint8_t*)input, strlen(input),
                                   &output, &len))) {
        CHECK(len == strlen(expected) && memcmp(output, expected, len) == 0);
    }
    kiln_bytes_delete(output);
}

static void test_lifecycle_and_events(void) {
    kiln_manager_t* manager = new_manager();
    if (!manager) return;
    struct events events = {{0}, 0, {0}, 0};
    CHECK_OK(kiln_manager_on_event(manager, on_event, &events, free_events));
    CHECK(list_has(manager, "\"name\": \"echo\""));
    CHECK(list_has(manager, "\"state\": \"available\""));
    CHECK(info_has(manager, "echo", "\"dialect\": \"kiln\""));
    CHECK(info_has(manager, "echo", "\"exports\": ["));
    char* json = NULL;
    CHECK_ERROR_HAS(kiln_manager_info_json(manager, "ghost", &json), KILN_ERROR_USAGE,
                    "no plugin ghost");
    CHECK(json == NULL);

    check_call(manager, "echo", "hi", "hi");   /* loads it */
    check_call(manager, "color", "", "green"); /* its config */
    uint8_t* output = NULL;
    size_t len = 0;
    CHECK_ERROR_HAS(kiln_manager_call(manager, "echo", "refuse", NULL, 0, &output, &len),
                    KILN_ERROR_PLUGIN, "says no");
    CHECK(output == NULL && len == 0);
    CHECK(list_has(manager, "\"state\": \"loaded\""));
    CHECK_OK(kiln_manager_reload(manager, "echo", true));
    check_call(manager, "echo", "again", "again");
    CHECK_OK(kiln_manager_unload(manager, "echo"));
    CHECK_OK(kiln_manager_load(manager, "echo"));
    CHECK(strcmp(events.kinds, "lrul") == 0);
    CHECK(strcmp(events.plugin, "echo") == 0);

    /* Disabled: unloaded, listed so, refused. */
    CHECK_OK(kiln_manager_set_enabled(manager, "echo", false));
    CHECK(list_has(manager, "\"state\": \"disabled\""));
    CHECK_ERROR_HAS(kiln_manager_call(manager, "echo", "echo", NULL, 0, &output, &len),
                    KILN_ERROR_USAGE, "plugin echo is disabled");
    CHECK_OK(kiln_manager_set_enabled(manager, "echo", true));
    check_call(manager, "echo", "back", "back");
    CHECK(strcmp(events.kinds, "lrulul") == 0);

    char* name = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/echo", plugins);
    CHECK_OK(kiln_manager_add(manager, path, &name));
    CHECK(name && strcmp(name, "echo") == 0);
    kiln_string_delete(name);
    CHECK_FAILS(kiln_manager_open(manager, "/nonexistent/kiln-plugins"), KILN_ERROR_IO);

    CHECK(events.freed == 0);
    kiln_manager_delete(manager);
    /* Deleting unloads echo (one more event), then frees the user data once. */
    CHECK(strcmp(events.kinds, "lrululu") == 0);
    CHECK(events.freed == 1);
}

/* Reloads the watcher reported (on its own thread). */
static void count_reloads(void* user_data, kiln_manager_event_kind_t kind, const char* plugin,
                          const char* detail) {
    (void)plugin;
    (void)detail;
    if (kind == KILN_MANAGER_RELOADED) atomic_fetch_add((atomic_int*)user_data, 1);
}

/* Rewrites `path` with its own bytes: a change inotify reports. */
static bool rewrite(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return false;
    static char bytes[1 << 16];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(bytes, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void test_validate_has_load_all_and_watch(void) {
    kiln_manager_t* manager = new_manager();
    if (!manager) return;
    CHECK_OK(kiln_manager_validate(manager, "echo"));
    CHECK_ERROR_HAS(kiln_manager_validate(manager, "ghost"), KILN_ERROR_USAGE, "no plugin ghost");
    bool has = false;
    CHECK_OK(kiln_manager_has(manager, "echo", "echo", &has)); /* loads it */
    CHECK(has);
    CHECK_OK(kiln_manager_has(manager, "echo", "nope", &has));
    CHECK(!has);
    CHECK_OK(kiln_manager_unload(manager, "echo"));
    CHECK_OK(kiln_manager_load_all(manager));
    CHECK(list_has(manager, "\"state\": \"loaded\""));

    static atomic_int reloads;
    atomic_store(&reloads, 0);
    CHECK_OK(kiln_manager_on_event(manager, count_reloads, &reloads, NULL));
    CHECK_OK(kiln_manager_watch(manager, true));
    char path[512];
    snprintf(path, sizeof path, "%s/echo/echo_plugin.wasm", plugins);
    CHECK(rewrite(path));
    for (int i = 0; i < 500 && atomic_load(&reloads) == 0; ++i)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    CHECK(atomic_load(&reloads) >= 1);
    kiln_manager_stop_watching(manager);
    check_call(manager, "echo", "watched", "watched");
    kiln_manager_stop_watching(NULL);
    kiln_manager_delete(manager);
}

static void test_grants_are_kept(void) {
    kiln_manager_t* manager = new_manager();
    if (!manager) return;
    CHECK_OK(kiln_manager_grant(manager, "echo", "kv:write"));
    CHECK_OK(kiln_manager_grant(manager, "echo", "network:*.example.com"));
    CHECK_ERROR_HAS(kiln_manager_grant(manager, "echo", "bogus"), KILN_ERROR_USAGE,
                    "unknown permission \"bogus\"");
    CHECK_FAILS(kiln_manager_grant(manager, "ghost", "kv:write"), KILN_ERROR_USAGE);
    CHECK_OK(kiln_manager_revoke(manager, "echo", "kv:write"));
    kiln_manager_delete(manager);

    manager = new_manager();
    if (!manager) return;
    CHECK(info_has(manager, "echo", "\"granted\": [\n    \"network:*.example.com\"\n  ]"));
    char* json = NULL;
    kiln_error_t* error = kiln_manager_audit_json(manager, NULL, &json);
    CHECK(json_has(error, json, "[]"));
    kiln_manager_delete(manager);
}

static void test_null_arguments(void) {
    kiln_manager_t* manager = NULL;
    CHECK_FAILS(kiln_manager_new(NULL, NULL, &manager), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_new(engine, NULL, NULL), KILN_ERROR_USAGE);
    CHECK_OK(kiln_manager_new(engine, NULL, &manager)); /* in memory */
    if (!manager) return;
    char* json = NULL;
    uint8_t* output = NULL;
    size_t len = 0;
    CHECK_FAILS(kiln_manager_open(NULL, plugins), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_open(manager, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_list_json(manager, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_info_json(manager, NULL, &json), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_call(manager, "echo", NULL, NULL, 0, &output, &len), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_call(manager, "echo", "echo", NULL, 3, &output, &len),
                KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_grant(manager, "echo", NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_on_event(manager, NULL, NULL, NULL), KILN_ERROR_USAGE);
    CHECK_FAILS(kiln_manager_load(manager, "ghost"), KILN_ERROR_USAGE);
    kiln_manager_delete(manager);
    kiln_manager_delete(NULL);
    kiln_string_delete(NULL);
}

static void test_broken_state_database(void) {
    char path[300];
    snprintf(path, sizeof path, "%s.broken", state_path);
    FILE* f = fopen(path, "wb");
    if (!f) return;
    for (int i = 0; i < 64; ++i)
        fputs("this is not an SQLite database ", f);
    fclose(f);
    kiln_manager_config_t config = {0};
    config.state_path = path;
    kiln_manager_t* manager = NULL;
    CHECK_ERROR_HAS(kiln_manager_new(engine, &config, &manager), KILN_ERROR_IO,
                    "not an SQLite database");
    CHECK(manager == NULL);
    remove(path);
}

/* A load whose initialize runs past config.lifecycle_timeout_ms fails, naming the hook. */
static void test_lifecycle_timeout(const char* stuck_folder) {
    kiln_manager_config_t config = {0};
    config.lifecycle_timeout_ms = 100;
    kiln_manager_t* manager = NULL;
    CHECK_OK(kiln_manager_new(engine, &config, &manager));
    if (!manager) return;
    CHECK_OK(kiln_manager_open(manager, stuck_folder));
    CHECK_ERROR_HAS(kiln_manager_load(manager, "stuck"), KILN_ERROR_LIMIT,
                    "initialize did not return within 100 ms");
    kiln_manager_delete(manager);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PLUGIN_FOLDER STUCK_PLUGIN_FOLDER\n", argv[0]);
        return 2;
    }
    plugins = argv[1];
    char folder[] = "/tmp/kiln-capi-manager-XXXXXX";
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(state_path, sizeof state_path, "%s/state.db", folder);
    engine = kiln_engine_new(NULL);
    test_lifecycle_and_events();
    test_grants_are_kept();
    test_validate_has_load_all_and_watch();
    test_null_arguments();
    test_broken_state_database();
    test_lifecycle_timeout(argv[2]);
    kiln_engine_delete(engine);
    /* The database and its WAL files. */
    char path[300];
    for (const char* const* suffix = (const char* const[]){"", "-wal", "-shm", NULL}; *suffix;
         ++suffix) {
        snprintf(path, sizeof path, "%s%s", state_path, *suffix);
        remove(path);
    }
    remove(folder);
    if (failures) fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
