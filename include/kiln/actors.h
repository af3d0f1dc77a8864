/* Kiln's C API for actor graphs (docs/actors.md): a thin layer over <kiln/actors.hpp>. Graphs
 * are read from the FBP JSON shape Reflow exports; a network runs one, its nodes being Reflow
 * actors found by metadata.source or as plugins of the plugin folders, or native components
 * written in C (kiln_native_component_t). Messages cross the API as JSON text: tagged
 * ({"type": KIND, "data": VALUE}) or plain (converted by its JSON type). Ownership and errors
 * follow kiln.h: every kiln_error_t* returned is the caller's, strings handed out are freed with
 * kiln_string_delete, except those of a native component's context (valid during its call). */
#ifndef KILN_ACTORS_H
#define KILN_ACTORS_H

#include <kiln/kiln.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A graph as read: pure data, usable by any number of networks. */
typedef struct kiln_graph kiln_graph_t;
/** A running graph. Every function may be called from any thread. */
typedef struct kiln_network kiln_network_t;

/** Parses graph JSON; `file` (may be NULL) is where relative metadata.source paths start. */
kiln_error_t* kiln_graph_parse(const char* json, size_t len, const char* file, kiln_graph_t** out);
/** Reads and parses a graph file. */
kiln_error_t* kiln_graph_from_file(const char* path, kiln_graph_t** out);
void kiln_graph_delete(kiln_graph_t* graph);
/** properties.name (or the file's stem); valid as long as the graph. */
const char* kiln_graph_name(const kiln_graph_t* graph);

/** What a native component's process callback sees of one call (kiln::ActorContext; the guest
 *  kit's kiln_actor_context_t is another thing): the message, the node's config and state, and a
 *  way to send. Valid only during the callback; every string it hands out is owned by it and
 *  valid until the callback returns (never freed by the caller). */
typedef struct kiln_native_context kiln_native_context_t;

/** Processes one message for a node: NULL for success; an error (e.g. from kiln_error_new) is
 *  the node's failure for that message, which the network takes and frees: logged and sent as an
 *  Error message on the node's `error` out-port, as for any actor. Called for one message at a
 *  time per node, but for several nodes at once, from the network's workers. */
typedef kiln_error_t* (*kiln_native_process_t)(void* user_data, kiln_native_context_t* context);

/** A component written in C, registered under the component name its metadata gives. */
typedef struct kiln_native_component {
    /** Reflow's PluginMetadata JSON: {"component", "description", "inports": [{"name",
     *  "description", "port_type", "required"}], "outports": [...], "config_schema"?,
     *  "on_error"?}. */
    const char* metadata_json;
    kiln_native_process_t process;
    /** Given to `process`; borrowed: it must outlive every network made with the component. */
    void* user_data;
} kiln_native_component_t;

/** How a network finds its plugins and reports what happens: zero it, then set what you need. */
typedef struct kiln_network_config {
    /** Worker threads; 0: one per core. */
    size_t threads;
    /** Stop the network at the first failure of a node. */
    bool fail_fast;
    /** Folders of plugins that nodes find by component name (may be none). */
    const char* const* plugin_dirs;
    size_t plugin_dir_count;
    /** A message leaving an exposed out-port: the port's name and the tagged message's JSON,
     *  valid during the call, on the worker that sent it (calls are serialised). */
    void (*on_output)(void* user_data, const char* port, const char* message_json);
    void* output_user_data;
    /** The runtime's log lines (failures, dropped outputs); NULL: warnings on stderr. */
    void (*on_log)(void* user_data, kiln_log_level_t level, const char* line);
    void* log_user_data;
    /** Where the state of nodes whose metadata says `"persist": true` is kept between runs:
     *  NULL: nothing is persisted; "": Kiln's state database, $KILN_HOME/state.db; else that
     *  state database file (created when missing). */
    const char* state_path;
    /** Components written in C, found by component name beside the wasm ones (copied by the
     *  call; their user data is borrowed). */
    const kiln_native_component_t* components;
    size_t component_count;
} kiln_network_config_t;

/** Checks a graph without running it (its plugins found in `config`'s folders, which may be
 *  NULL): `*problems_json` gets a JSON array of {"severity": "error"|"warning", "message"} and
 *  `*valid` whether none is an error. */
kiln_error_t* kiln_graph_check(const kiln_engine_t* engine, const kiln_graph_t* graph,
                               const kiln_network_config_t* config, char** problems_json,
                               bool* valid);

/** Loads every node of a checked graph (an invalid graph is an error naming its problems). */
kiln_error_t* kiln_network_new(const kiln_engine_t* engine, const kiln_graph_t* graph,
                               const kiln_network_config_t* config, kiln_network_t** out);
/** Cancels what runs and frees the network. */
void kiln_network_delete(kiln_network_t* network);
/** Starts the workers and sends the initial packets, once. */
kiln_error_t* kiln_network_start(kiln_network_t* network);
/** Sends a message (JSON: tagged when `tagged`, else plain) to a node's in-port; waits for room
 *  in a full mailbox whose overflow is `wait`. */
kiln_error_t* kiln_network_send(kiln_network_t* network, const char* node, const char* port,
                                const char* message_json, bool tagged);
/** Waits until nothing is queued or running; false when `timeout_ms` (negative: no timeout)
 *  passed first or the network stopped on a failure. */
bool kiln_network_wait_idle(kiln_network_t* network, int64_t timeout_ms);
/** Stops the workers, after processing what is queued (`drain`) or cancelling it. */
void kiln_network_stop(kiln_network_t* network, bool drain);
/** The failure that stopped a fail-fast network (free it with kiln_string_delete), or NULL. */
char* kiln_network_failure(const kiln_network_t* network);
/** A node's state as a JSON object. */
kiln_error_t* kiln_network_state(kiln_network_t* network, const char* node, char** state_json);
/** Replaces a node's wasm with the module or manifest at `path`, keeping its state and queue. */
kiln_error_t* kiln_network_swap(kiln_network_t* network, const char* node, const char* path);

/* ---- native components' context: only during their process callback ------------------- */

/** The node's id. */
const char* kiln_native_context_node_id(const kiln_native_context_t* context);
/** The node's component name. */
const char* kiln_native_context_component(const kiln_native_context_t* context);
/** The in-port the message arrived on. */
const char* kiln_native_context_port(const kiln_native_context_t* context);
/** The message as tagged JSON: {"type": KIND, "data": VALUE}. */
const char* kiln_native_context_message(kiln_native_context_t* context);
/** The node's config: its metadata without the reserved keys, resolved env merged in, as a JSON
 *  object. */
const char* kiln_native_context_config(const kiln_native_context_t* context);
/** A resolved environment variable of the node (metadata.env_vars), or NULL. */
const char* kiln_native_context_env(kiln_native_context_t* context, const char* name);
/** The JSON text of a key of the node's state, or NULL when it is not set. */
const char* kiln_native_context_state(kiln_native_context_t* context, const char* key);
/** Sets a key of the node's state to a JSON value (a usage error when it is not JSON). */
kiln_error_t* kiln_native_context_set_state(kiln_native_context_t* context, const char* key,
                                            const char* json);
/** The node's whole state as a JSON object. */
const char* kiln_native_context_state_json(kiln_native_context_t* context);
/** Sends a message (JSON: tagged when `tagged`, else plain) on an out-port at once. */
kiln_error_t* kiln_native_context_send(kiln_native_context_t* context, const char* port,
                                       const char* message_json, bool tagged);

/** Counters of a network. */
typedef struct kiln_network_stats {
    uint64_t processed; /**< process calls made */
    uint64_t failed;    /**< process calls that failed */
    uint64_t dropped;   /**< messages dropped by mailbox bounds or stopped nodes */
    uint64_t sent;      /**< messages delivered to in-ports */
} kiln_network_stats_t;

/** The network's counters (all 0 for NULL). */
kiln_network_stats_t kiln_network_stats(const kiln_network_t* network);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_ACTORS_H */
