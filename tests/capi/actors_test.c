/* The C API of actor graphs (include/kiln/actors.h), from C, on the example counter graph
 * (argv[1]: examples/plugins/actors, built with the C actor kit): a graph read and checked, a
 * network run with its initial packets and an outside message, exposed outputs through the
 * callback, a node's state, hot swap to the Rust build, counters, and the errors of bad input;
 * node state persisted in a state database across runs; a native component written in C beside
 * the wasm counter. Exits non-zero after printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/actors.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What left the exposed ports: "port=message" lines. */
struct outputs {
    char text[4096];
    size_t count;
};

static void on_output(void* user_data, const char* port, const char* message_json) {
    struct outputs* o = user_data;
    size_t used = strlen(o->text);
    snprintf(o->text + used, sizeof o->text - used, "%s=%s\n", port, message_json);
    o->count++;
}

/* The example graph: read, checked, run, swapped, and refused when broken. */
static void example_graph(kiln_engine_t* engine, const char* dir) {
    char path[512], rust[512];
    snprintf(path, sizeof path, "%s/counter.graph.json", dir);
    snprintf(rust, sizeof rust, "%s/counter_rust.wasm", dir);

    kiln_graph_t* graph = NULL;
    if (!CHECK_OK(kiln_graph_from_file(path, &graph))) return;
    CHECK(strcmp(kiln_graph_name(graph), "counter") == 0);

    char* problems = NULL;
    bool valid = false;
    CHECK_OK(kiln_graph_check(engine, graph, NULL, &problems, &valid));
    CHECK(valid);
    CHECK(problems && strcmp(problems, "[]") == 0);
    kiln_string_delete(problems);

    struct outputs out = {{0}, 0};
    kiln_network_config_t config;
    memset(&config, 0, sizeof config);
    config.threads = 2;
    config.on_output = on_output;
    config.output_user_data = &out;
    kiln_network_t* network = NULL;
    if (!CHECK_OK(kiln_network_new(engine, graph, &config, &network))) return;
    CHECK_OK(kiln_network_start(network));
    CHECK(kiln_network_wait_idle(network, 10000));
    CHECK(out.count == 9);
    CHECK(strstr(out.text, "count={\"type\":\"Integer\",\"data\":2}\n") != NULL);
    CHECK(strstr(out.text, "total={\"type\":\"Integer\",\"data\":4}\n") != NULL);

    char* state = NULL;
    CHECK_OK(kiln_network_state(network, "sum", &state));
    CHECK(state && strcmp(state, "{\"sum\":4,\"count\":3}") == 0);
    kiln_string_delete(state);

    /* Swapped for the Rust build, the counter goes on from its state. */
    CHECK_OK(kiln_network_swap(network, "counter", rust));
    out.text[0] = '\0';
    out.count = 0;
    CHECK_OK(kiln_network_send(network, "counter", "operation", "\"increment\"", false));
    CHECK_OK(kiln_network_send(network, "counter", "operation",
                               "{\"type\":\"String\",\"data\":\"reset\"}", true));
    CHECK(kiln_network_wait_idle(network, 10000));
    const char* two = strstr(out.text, "count={\"type\":\"Integer\",\"data\":2}\n");
    const char* zero = strstr(out.text, "count={\"type\":\"Integer\",\"data\":0}\n");
    CHECK(two != NULL && zero != NULL && two < zero);
    CHECK(out.count == 6);

    kiln_network_stats_t stats = kiln_network_stats(network);
    CHECK(stats.processed == 10);
    CHECK(stats.failed == 0);
    CHECK(kiln_network_failure(network) == NULL);

    kiln_error_t* e =
        CHECK_ERROR(kiln_network_send(network, "ghost", "in", "1", false), KILN_ERROR_USAGE);
    if (e) {
        CHECK(strcmp(kiln_error_message(e), "no node ghost") == 0);
        kiln_error_delete(e);
    }
    e = CHECK_ERROR(kiln_network_send(network, "counter", "operation", "{", false),
                    KILN_ERROR_MALFORMED);
    kiln_error_delete(e);
    e = CHECK_ERROR(kiln_network_send(NULL, "a", "b", "1", false), KILN_ERROR_USAGE);
    kiln_error_delete(e);
    kiln_network_stop(network, true);
    kiln_network_delete(network);

    /* A graph with problems is refused with them. */
    const char* bad = "{\"processes\": {\"x\": {\"component\": \"Missing\"}}}";
    kiln_graph_t* broken = NULL;
    CHECK_OK(kiln_graph_parse(bad, strlen(bad), NULL, &broken));
    CHECK_OK(kiln_graph_check(engine, broken, NULL, &problems, &valid));
    CHECK(!valid);
    CHECK(problems && strstr(problems, "\"severity\":\"error\"") != NULL);
    kiln_string_delete(problems);
    e = CHECK_ERROR(kiln_network_new(engine, broken, NULL, &network), KILN_ERROR_INVALID);
    kiln_error_delete(e);
    e = CHECK_ERROR(kiln_graph_parse("[]", 2, NULL, &broken), KILN_ERROR_MALFORMED);
    kiln_error_delete(e);
    kiln_graph_delete(broken);
    kiln_graph_delete(graph);
}

/* Parses graph JSON as if read from a file in `dir`, where its sources are. */
static kiln_graph_t* graph_in(const char* dir, const char* json) {
    char file[512];
    snprintf(file, sizeof file, "%s/test.graph.json", dir);
    kiln_graph_t* graph = NULL;
    return CHECK_OK(kiln_graph_parse(json, strlen(json), file, &graph)) ? graph : NULL;
}

/* Runs `graph` to idle with `state_path`; its outputs in `out`, the counter's state returned
 * (freed with kiln_string_delete). */
static char* run_persisted(kiln_engine_t* engine, const kiln_graph_t* graph, const char* state_path,
                           struct outputs* out) {
    memset(out, 0, sizeof *out);
    kiln_network_config_t config;
    memset(&config, 0, sizeof config);
    config.threads = 2;
    config.on_output = on_output;
    config.output_user_data = out;
    config.state_path = state_path;
    kiln_network_t* network = NULL;
    if (!CHECK_OK(kiln_network_new(engine, graph, &config, &network))) return NULL;
    CHECK_OK(kiln_network_start(network));
    CHECK(kiln_network_wait_idle(network, 10000));
    char* state = NULL;
    CHECK_OK(kiln_network_state(network, "counter", &state));
    kiln_network_stop(network, true);
    kiln_network_delete(network);
    return state;
}

/* Removes a state database with its write-ahead log. */
static void remove_db(const char* path) {
    char side[600];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

/* A node with "persist": true keeps its state in the state database between runs. */
static void persisted_state(kiln_engine_t* engine, const char* dir) {
    const char* json =
        "{\"properties\": {\"name\": \"persisted\"},"
        " \"processes\": {\"counter\": {\"component\": \"Counter\","
        "   \"metadata\": {\"source\": \"counter.wasm\", \"persist\": true}}},"
        " \"connections\": ["
        "   {\"data\": \"increment\", \"to\": {\"nodeId\": \"counter\", \"portId\": "
        "\"operation\"}},"
        "   {\"data\": \"increment\", \"to\": {\"nodeId\": \"counter\", \"portId\": "
        "\"operation\"}}],"
        " \"outports\": {\"count\": {\"nodeId\": \"counter\", \"portId\": \"value\"}}}";
    kiln_graph_t* graph = graph_in(dir, json);
    if (!graph) return;
    char tmp[] = "/tmp/kiln-capi-actors-XXXXXX";
    if (!mkdtemp(tmp)) {
        CHECK(!"mkdtemp");
        kiln_graph_delete(graph);
        return;
    }
    char db[600], home[600], home_db[700];
    snprintf(db, sizeof db, "%s/state.db", tmp);
    snprintf(home, sizeof home, "%s/home", tmp);
    snprintf(home_db, sizeof home_db, "%s/state.db", home);

    /* The second run starts from the state the first one saved. */
    struct outputs out;
    char* state = run_persisted(engine, graph, db, &out);
    CHECK(strcmp(out.text, "count={\"type\":\"Integer\",\"data\":1}\n"
                           "count={\"type\":\"Integer\",\"data\":2}\n") == 0);
    CHECK(state && strcmp(state, "{\"count\":2}") == 0);
    kiln_string_delete(state);
    CHECK(access(db, F_OK) == 0);
    state = run_persisted(engine, graph, db, &out);
    CHECK(strcmp(out.text, "count={\"type\":\"Integer\",\"data\":3}\n"
                           "count={\"type\":\"Integer\",\"data\":4}\n") == 0);
    CHECK(state && strcmp(state, "{\"count\":4}") == 0);
    kiln_string_delete(state);

    /* Without a state path nothing is loaded nor saved. */
    state = run_persisted(engine, graph, NULL, &out);
    CHECK(strstr(out.text, "\"data\":2}\n") != NULL && strstr(out.text, "\"data\":3}") == NULL);
    kiln_string_delete(state);

    /* "" is Kiln's own state database, in $KILN_HOME. */
    const char* saved_home = getenv("KILN_HOME");
    char* old_home = saved_home ? strdup(saved_home) : NULL;
    setenv("KILN_HOME", home, 1);
    state = run_persisted(engine, graph, "", &out);
    CHECK(state && strcmp(state, "{\"count\":2}") == 0);
    kiln_string_delete(state);
    CHECK(access(home_db, F_OK) == 0);
    if (old_home)
        setenv("KILN_HOME", old_home, 1);
    else
        unsetenv("KILN_HOME");
    free(old_home);

    /* A state path that is no database file is an error naming it. */
    kiln_network_config_t config;
    memset(&config, 0, sizeof config);
    config.state_path = tmp;
    kiln_network_t* network = NULL;
    kiln_error_t* e = kiln_network_new(engine, graph, &config, &network);
    CHECK(e != NULL && strstr(kiln_error_message(e), tmp) != NULL);
    kiln_error_delete(e);

    remove_db(db);
    remove_db(home_db);
    rmdir(home);
    rmdir(tmp);
    kiln_graph_delete(graph);
}

/* What the native component saw, for the checks after the run. */
struct scale_record {
    int calls;
    char node[32], component[32], port[32], unit[8], state[64];
    bool config_has_factor, env_missing_is_null;
    int bad_state_kind, bad_send_kind;
};

/* A native component in C: multiplies an Integer by its config's `factor`, sends it tagged on
 * `out` and its call count (kept in the state key `seen`) plain on `seen`; refuses zero. */
static kiln_error_t* scale(void* user_data, kiln_native_context_t* ctx) {
    struct scale_record* r = user_data;
    r->calls++;
    snprintf(r->node, sizeof r->node, "%s", kiln_native_context_node_id(ctx));
    snprintf(r->component, sizeof r->component, "%s", kiln_native_context_component(ctx));
    snprintf(r->port, sizeof r->port, "%s", kiln_native_context_port(ctx));
    const char* unit = kiln_native_context_env(ctx, "SCALE_UNIT");
    snprintf(r->unit, sizeof r->unit, "%s", unit ? unit : "(null)");
    r->env_missing_is_null = kiln_native_context_env(ctx, "SCALE_NOPE") == NULL;

    long long value = 0;
    if (sscanf(kiln_native_context_message(ctx), "{\"type\":\"Integer\",\"data\":%lld}", &value) !=
        1)
        return kiln_error_new("scale: expected an Integer");
    if (value == 0) return kiln_error_new("scale: zero is refused");
    const char* factor = strstr(kiln_native_context_config(ctx), "\"factor\":");
    r->config_has_factor = factor != NULL;
    const long long times = factor ? strtoll(factor + strlen("\"factor\":"), NULL, 10) : 1;

    const char* seen = kiln_native_context_state(ctx, "seen");
    char text[64];
    snprintf(text, sizeof text, "%lld", (seen ? strtoll(seen, NULL, 10) : 0) + 1);
    kiln_error_t* e = kiln_native_context_set_state(ctx, "seen", text);
    if (e) return e;
    e = kiln_native_context_set_state(ctx, "broken", "{");
    r->bad_state_kind = e ? (int)kiln_error_kind(e) : -1;
    kiln_error_delete(e);
    snprintf(r->state, sizeof r->state, "%s", kiln_native_context_state_json(ctx));

    e = kiln_native_context_send(ctx, "out", "{\"type\":\"Integer\"", true);
    r->bad_send_kind = e ? (int)kiln_error_kind(e) : -1;
    kiln_error_delete(e);
    char message[96];
    snprintf(message, sizeof message, "{\"type\":\"Integer\",\"data\":%lld}", value * times);
    if ((e = kiln_native_context_send(ctx, "out", message, true))) return e;
    return kiln_native_context_send(ctx, "seen", text, false);
}

/* The runtime's log lines. */
static void on_log(void* user_data, kiln_log_level_t level, const char* line) {
    struct outputs* o = user_data;
    size_t used = strlen(o->text);
    snprintf(o->text + used, sizeof o->text - used, "%d %s\n", (int)level, line);
    o->count++;
}

/* A native component written in C, fed by the wasm counter. */
static void native_component(kiln_engine_t* engine, const char* dir) {
    const char* json =
        "{\"properties\": {\"name\": \"scaled\"},"
        " \"processes\": {"
        "   \"counter\": {\"component\": \"Counter\", \"metadata\": {\"source\": "
        "\"counter.wasm\"}},"
        "   \"scale\": {\"component\": \"Scale\", \"metadata\": {\"factor\": 10,"
        "     \"env_vars\": {\"SCALE_UNIT\": \"optional:m\", \"SCALE_NOPE\": \"optional\"}}}},"
        " \"connections\": ["
        "   {\"data\": \"increment\", \"to\": {\"nodeId\": \"counter\", \"portId\": "
        "\"operation\"}},"
        "   {\"data\": \"increment\", \"to\": {\"nodeId\": \"counter\", \"portId\": "
        "\"operation\"}},"
        "   {\"data\": \"decrement\", \"to\": {\"nodeId\": \"counter\", \"portId\": "
        "\"operation\"}},"
        "   {\"from\": {\"nodeId\": \"counter\", \"portId\": \"value\"},"
        "    \"to\": {\"nodeId\": \"scale\", \"portId\": \"in\"}}],"
        " \"outports\": {\"scaled\": {\"nodeId\": \"scale\", \"portId\": \"out\"},"
        "   \"seen\": {\"nodeId\": \"scale\", \"portId\": \"seen\"},"
        "   \"failed\": {\"nodeId\": \"scale\", \"portId\": \"error\"}}}";
    kiln_graph_t* graph = graph_in(dir, json);
    if (!graph) return;
    struct scale_record record;
    memset(&record, 0, sizeof record);
    kiln_native_component_t component = {
        "{\"component\": \"Scale\", \"description\": \"multiplies by factor\","
        " \"inports\": [{\"name\": \"in\", \"description\": \"\", \"port_type\": \"Integer\","
        "   \"required\": true}],"
        " \"outports\": [{\"name\": \"out\", \"description\": \"\", \"port_type\": \"Integer\","
        "   \"required\": false},"
        "  {\"name\": \"seen\", \"description\": \"\", \"port_type\": \"Integer\", \"required\": "
        "false}]}",
        scale, &record};

    /* Without the component the graph names it as unknown; with it, it is valid. */
    char* problems = NULL;
    bool valid = true;
    CHECK_OK(kiln_graph_check(engine, graph, NULL, &problems, &valid));
    CHECK(!valid && problems && strstr(problems, "Scale") != NULL);
    kiln_string_delete(problems);
    struct outputs out, log;
    memset(&out, 0, sizeof out);
    memset(&log, 0, sizeof log);
    kiln_network_config_t config;
    memset(&config, 0, sizeof config);
    config.threads = 2;
    config.on_output = on_output;
    config.output_user_data = &out;
    config.on_log = on_log;
    config.log_user_data = &log;
    config.components = &component;
    config.component_count = 1;
    CHECK_OK(kiln_graph_check(engine, graph, &config, &problems, &valid));
    CHECK(valid);
    kiln_string_delete(problems);

    kiln_network_t* network = NULL;
    if (!CHECK_OK(kiln_network_new(engine, graph, &config, &network))) {
        kiln_graph_delete(graph);
        return;
    }
    CHECK_OK(kiln_network_start(network));
    CHECK(kiln_network_wait_idle(network, 10000));
    CHECK(strcmp(out.text, "scaled={\"type\":\"Integer\",\"data\":10}\n"
                           "seen={\"type\":\"Integer\",\"data\":1}\n"
                           "scaled={\"type\":\"Integer\",\"data\":20}\n"
                           "seen={\"type\":\"Integer\",\"data\":2}\n"
                           "scaled={\"type\":\"Integer\",\"data\":10}\n"
                           "seen={\"type\":\"Integer\",\"data\":3}\n") == 0);
    CHECK(record.calls == 3);
    CHECK(strcmp(record.node, "scale") == 0);
    CHECK(strcmp(record.component, "Scale") == 0);
    CHECK(strcmp(record.port, "in") == 0);
    CHECK(strcmp(record.unit, "m") == 0);
    CHECK(record.env_missing_is_null);
    CHECK(record.config_has_factor);
    CHECK(record.bad_state_kind == KILN_ERROR_USAGE);
    CHECK(record.bad_send_kind == KILN_ERROR_MALFORMED);
    CHECK(strcmp(record.state, "{\"seen\":3}") == 0);
    char* state = NULL;
    CHECK_OK(kiln_network_state(network, "scale", &state));
    CHECK(state && strcmp(state, "{\"seen\":3}") == 0);
    kiln_string_delete(state);

    /* A failing callback is the node's failure: an Error on its error port, a log line, and
     * the node goes on with the next message. */
    memset(&out, 0, sizeof out);
    CHECK_OK(kiln_network_send(network, "counter", "operation", "\"reset\"", false));
    CHECK(kiln_network_wait_idle(network, 10000));
    CHECK_OK(kiln_network_send(network, "counter", "operation", "\"increment\"", false));
    CHECK(kiln_network_wait_idle(network, 10000));
    CHECK(strcmp(out.text, "failed={\"type\":\"Error\",\"data\":\"scale: zero is refused\"}\n"
                           "scaled={\"type\":\"Integer\",\"data\":10}\n"
                           "seen={\"type\":\"Integer\",\"data\":4}\n") == 0);
    CHECK(strstr(log.text, "node scale: process failed: scale: zero is refused") != NULL);
    kiln_network_stats_t stats = kiln_network_stats(network);
    CHECK(stats.failed == 1);
    CHECK(stats.processed == 10);
    kiln_network_stop(network, true);
    kiln_network_delete(network);

    /* Bad components are refused naming which. */
    component.metadata_json = "{\"component\": 5}";
    CHECK_ERROR_HAS(kiln_network_new(engine, graph, &config, &network), KILN_ERROR_MALFORMED,
                    "components[0]: metadata.component");
    component.metadata_json = "{\"component\": \"Scale\"}";
    component.process = NULL;
    CHECK_ERROR_HAS(kiln_network_new(engine, graph, &config, &network), KILN_ERROR_USAGE,
                    "components[0]");
    CHECK(kiln_native_context_node_id(NULL) == NULL);
    CHECK(kiln_native_context_message(NULL) == NULL);
    CHECK_FAILS(kiln_native_context_send(NULL, "out", "1", false), KILN_ERROR_USAGE);
    kiln_graph_delete(graph);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXAMPLES/actors\n", argv[0]);
        return 2;
    }
    kiln_engine_t* engine = kiln_engine_new(NULL);
    example_graph(engine, argv[1]);
    persisted_state(engine, argv[1]);
    native_component(engine, argv[1]);
    kiln_engine_delete(engine);
    return failures ? 1 : 0;
}
