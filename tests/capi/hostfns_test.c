/* The C API's host functions (include/kiln/kiln.h), from C, on a folder holding one plugin, ops
 * (argv[1]: a kiln.yaml beside hostfns_plugin.wasm, granted query: operations and the scope):
 * host operations registered, replaced, failing and removed, with their user data freed once;
 * denials read back from the audit log; a call with a scope; NULL arguments. Exits non-zero
 * after printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/kiln.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a handler saw, and how often its user data was freed. */
struct seen {
    char plugin[32];
    char payload[64];
    int calls;
    int freed;
};

static char* copy(const char* text) {
    char* out = malloc(strlen(text) + 1);
    strcpy(out, text);
    return out;
}

static int list_files(void* user_data, const char* plugin, const char* payload, size_t len,
                      const char* library, char** result) {
    struct seen* s = user_data;
    s->calls++;
    snprintf(s->plugin, sizeof s->plugin, "%s", plugin);
    snprintf(s->payload, sizeof s->payload, "%.*s", (int)len, payload);
    *result = copy(library[0] ? "{\"library\":true}" : "[\"a.txt\",\"b.txt\"]");
    return 0;
}

static int refuse(void* user_data, const char* plugin, const char* payload, size_t len,
                  const char* library, char** result) {
    (void)user_data, (void)plugin, (void)payload, (void)len, (void)library;
    *result = copy("files: the folder is gone");
    return 1;
}

static void free_seen(void* user_data) {
    ((struct seen*)user_data)->freed++;
}

/* Calls ops's `target` with `input` (and `scope`, when not NULL) and compares the output with
 * `expected`. */
static void check_call(kiln_manager_t* manager, const char* target, const char* input, char** scope,
                       const char* expected) {
    uint8_t* output = NULL;
    size_t len = 0;
    kiln_error_t* error =
        scope ? kiln_manager_call_scoped(manager, "ops", target, (const uint8_t*)input,
                                         strlen(input), scope, &output, &len)
              : kiln_manager_call(manager, "ops", target, (const uint8_t*)input, strlen(input),
                                  &output, &len);
    if (CHECK_OK(error)) {
        if (len != strlen(expected) || memcmp(output, expected, len) != 0) {
            fprintf(stderr, "%s: got \"%.*s\", expected \"%s\"\n", target, (int)len,
                    (const char*)output, expected);
            ++failures;
        }
    }
    kiln_bytes_delete(output);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN_FOLDER\n", argv[0]);
        return 2;
    }
    char folder[] = "/tmp/kiln-capi-hostfns-XXXXXX";
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 2;
    }
    char state_path[256];
    snprintf(state_path, sizeof state_path, "%s/state.db", folder);
    kiln_engine_t* engine = kiln_engine_new(NULL);
    kiln_manager_t* manager = NULL;
    CHECK_OK(kiln_manager_new(engine, NULL, &manager));
    kiln_host_config_t config = {0};
    config.state_path = state_path;
    kiln_host_t* host = NULL;
    CHECK_OK(kiln_host_new(&config, &host));
    if (!manager || !host) return 1;
    CHECK_OK(kiln_host_install(host, manager));
    CHECK_OK(kiln_manager_open(manager, argv[1]));

    struct seen seen = {0};
    CHECK_OK(kiln_host_add_operation(host, "query:files.list", list_files, &seen, free_seen));
    check_call(manager, "list", "{\"dir\":\"/\"}", NULL, "[\"a.txt\",\"b.txt\"]");
    CHECK(seen.calls == 1);
    CHECK(strcmp(seen.plugin, "ops") == 0);
    CHECK(strcmp(seen.payload, "{\"dir\":\"/\"}") == 0);

    /* action: is not granted: a denial, in the audit log whoever reads it. */
    CHECK_OK(kiln_host_add_operation(host, "action:tags.add", refuse, NULL, NULL));
    check_call(manager, "tag", "{}", NULL, "ops: operation \"action:tags.add\" is not granted");
    char* json = NULL;
    if (CHECK_OK(kiln_host_audit_json(host, "ops", &json)))
        CHECK(json && strstr(json, "\"argument\": \"action:tags.add\"") != NULL);
    kiln_string_delete(json);
    json = NULL;
    if (CHECK_OK(kiln_manager_audit_json(manager, NULL, &json)))
        CHECK(json && strstr(json, "action:tags.add") != NULL);
    kiln_string_delete(json);

    /* A failing handler's message reaches the plugin; replacing frees the old user data once. */
    CHECK_OK(kiln_host_add_operation(host, "query:files.list", refuse, NULL, NULL));
    CHECK(seen.freed == 1);
    check_call(manager, "list", "{}", NULL, "files: the folder is gone");
    CHECK(kiln_host_remove_operation(host, "query:files.list"));
    CHECK(!kiln_host_remove_operation(host, "query:files.list"));
    check_call(manager, "list", "{}", NULL, "no host operation \"query:files.list\"");

    /* A call with a scope: read, written, handed back. */
    char* scope = copy("{\"user\":\"bob\"}");
    char* given = scope;
    check_call(manager, "user", "", &scope, "\"bob\"");
    CHECK(scope != given && strcmp(scope, "{\"seen\":true,\"user\":\"bob\"}") == 0);
    free(given);
    kiln_string_delete(scope);
    char* none = NULL;
    check_call(manager, "user", "", &none, "ops: this call has no scope");
    CHECK(none == NULL);

    /* NULL arguments. */
    kiln_error_t* e =
        CHECK_ERROR(kiln_host_add_operation(NULL, "x", refuse, NULL, NULL), KILN_ERROR_USAGE);
    kiln_error_delete(e);
    e = CHECK_ERROR(kiln_host_add_operation(host, "x", NULL, NULL, NULL), KILN_ERROR_USAGE);
    kiln_error_delete(e);
    e = CHECK_ERROR(kiln_host_install(host, NULL), KILN_ERROR_USAGE);
    kiln_error_delete(e);
    e = CHECK_ERROR(kiln_host_add_database(host, "main", NULL, false), KILN_ERROR_USAGE);
    kiln_error_delete(e);
    CHECK(!kiln_host_remove_operation(NULL, "x"));

    kiln_host_delete(host);
    kiln_manager_delete(manager);
    kiln_engine_delete(engine);
    remove(state_path);
    remove(folder);
    if (failures) fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
