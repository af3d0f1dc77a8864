/* The C API of actor graphs (include/kiln/actors.h), from C, on the example counter graph
 * (argv[1]: examples/plugins/actors, built with the C actor kit): a graph read and checked, a
 * network run with its initial packets and an outside message, exposed outputs through the
 * callback, a node's state, hot swap to the Rust build, counters, and the errors of bad input.
 * Exits non-zero after printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/actors.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXAMPLES/actors\n", argv[0]);
        return 2;
    }
    char path[512], rust[512];
    snprintf(path, sizeof path, "%s/counter.graph.json", argv[1]);
    snprintf(rust, sizeof rust, "%s/counter_rust.wasm", argv[1]);
    kiln_engine_t* engine = kiln_engine_new(NULL);

    kiln_graph_t* graph = NULL;
    if (!CHECK_OK(kiln_graph_from_file(path, &graph))) return 1;
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
    if (!CHECK_OK(kiln_network_new(engine, graph, &config, &network))) return 1;
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
    kiln_engine_delete(engine);
    return failures ? 1 : 0;
}
