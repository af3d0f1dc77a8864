// Actor graphs: components wired into a dataflow graph, each node an actor with in-ports and
// out-ports that processes one message at a time. A node is a native C++ component or a plugin
// speaking Reflow's actor ABI, so Reflow's compiled actors run unmodified. See docs/actors.md.
//
//   auto graph = kiln::Graph::from_file("app.graph.json").value();
//   kiln::NetworkOptions options;
//   options.on_output = [](const kiln::OutputEvent& e) { ... };   // exposed out-ports
//   auto network = kiln::Network::create(graph, options).value();
//   network->start();                  // sends the initial packets
//   network->wait_idle();              // every message processed
#pragma once

#include <kiln/engine.hpp>
#include <kiln/error.hpp>
#include <kiln/manager.hpp>
#include <kiln/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kiln {

// ---- Messages -----------------------------------------------------------------------------

/// The kinds of message an actor sends and receives (Reflow's Message enum).
enum class MessageKind : uint8_t {
    flow,     ///< a signal without data
    event,    ///< plain JSON
    boolean,  ///< bool
    integer,  ///< i64
    floating, ///< f64 ("Float")
    string,   ///< UTF-8 text
    object,   ///< plain JSON
    array,    ///< a JSON array
    stream,   ///< bytes
    optional, ///< plain JSON, null for none
    any,      ///< plain JSON
    error,    ///< an error's text
};

/// "Flow", "Event", "Boolean", "Integer", "Float", "String", "Object", "Array", "Stream",
/// "Optional", "Any", "Error": the `type` of the tagged JSON form.
const char* message_kind_name(MessageKind kind);

/// The kind a tagged `type` names (spelled exactly as message_kind_name gives it), if any.
std::optional<MessageKind> message_kind_of(std::string_view name);

struct MessageBuilder;

/// One message. Kinds that carry JSON hold it as compact JSON text.
class Message {
public:
    /// A Flow message.
    Message() = default;
    static Message flow() { return Message(); }
    static Message boolean(bool value);
    static Message integer(int64_t value);
    static Message floating(double value);
    static Message string(std::string text);
    static Message error(std::string text);
    static Message stream(std::vector<uint8_t> bytes);
    /// Optional(none).
    static Message none();
    /// A message of a kind that carries JSON (event, object, array, optional, any) holding
    /// `json`, made compact; invalid JSON, an array kind given something else, or a kind that
    /// carries no JSON is a usage error.
    static Result<Message> json(MessageKind kind, std::string_view json);

    /// Reads the tagged form {"type": KIND, "data": VALUE}. Flow's data may be absent; a data
    /// of the wrong type for its kind, or an unknown kind, is an error saying which.
    static Result<Message> from_tagged(std::string_view json);
    /// Converts a plain JSON value: null -> Optional(none), bool -> Boolean, a number without
    /// fraction or exponent that fits in i64 -> Integer, another number -> Float, string ->
    /// String, array -> Array, object -> Object.
    static Result<Message> from_plain(std::string_view json);

    MessageKind kind() const { return m_kind; }
    /// Boolean's value (false for other kinds).
    bool as_bool() const;
    /// Integer's value (0 for other kinds).
    int64_t as_integer() const;
    /// Float's value, or Integer's as a double (0 for other kinds).
    double as_float() const;
    /// String's and Error's text; the JSON text of event, object, array, optional and any;
    /// empty for the rest.
    const std::string& text() const;
    /// Stream's bytes (empty for other kinds).
    const std::vector<uint8_t>& bytes() const;
    /// True for Optional(none).
    bool is_none() const;

    /// {"type":KIND,"data":VALUE}, compact; Flow's data is null.
    std::string to_tagged() const;
    /// The data alone as plain JSON (Flow and Optional(none): null; Stream: an array of bytes).
    std::string to_plain() const;

    bool operator==(const Message&) const = default;

private:
    friend struct MessageBuilder; // Kiln's own layers: JSON already parsed, not parsed again
    MessageKind m_kind = MessageKind::flow;
    std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<uint8_t>> m_value;
};

// ---- Components ---------------------------------------------------------------------------

/// A port as a component's metadata declares it.
struct PortSpec {
    std::string name;
    std::string description;
    std::string type = "Any"; ///< a message kind name, or a free string; "Any" accepts all
    bool required = false;
    bool operator==(const PortSpec&) const = default;
};

/// What a component says of itself: Reflow's PluginMetadata (the output of `get_metadata`).
struct ComponentSpec {
    std::string component;
    std::string description;
    std::vector<PortSpec> inports;
    std::vector<PortSpec> outports;
    std::string config_schema;  ///< JSON text; empty without one
    bool stop_on_error = false; ///< "on_error": "stop": the node stops at its first failure

    /// Parses PluginMetadata JSON; errors name the field.
    static Result<ComponentSpec> from_json(std::string_view json);
    /// The PluginMetadata JSON (config_schema and on_error only when set).
    std::string to_json() const;
    const PortSpec* inport(std::string_view name) const;
    const PortSpec* outport(std::string_view name) const;
    bool operator==(const ComponentSpec&) const = default;
};

/// What a native component's process function sees of one call: the message that arrived, the
/// node's config and state, and a way to send. Valid only during the call.
class ActorContext {
public:
    const std::string& node_id() const;
    const std::string& component() const;
    /// The in-port the message arrived on.
    const std::string& port() const;
    const Message& message() const;
    /// The node's config: its metadata without the reserved keys, resolved env merged in, as a
    /// JSON object's text.
    const std::string& config() const;
    /// A resolved environment variable of the node (metadata.env_vars).
    std::optional<std::string> env(const std::string& name) const;
    /// The JSON text of a key of the node's state, if set.
    std::optional<std::string> state(std::string_view key) const;
    /// Sets a key of the node's state to JSON text (a usage error when it is not JSON).
    Result<void> set_state(std::string_view key, std::string_view json);
    /// The whole state as a JSON object's text.
    std::string state_json() const;
    /// Sends a message on an out-port at once.
    void send(std::string_view port, Message message);

    struct Call;
    explicit ActorContext(Call& call) : m_call(call) {}

private:
    Call& m_call;
};

/// A component written in C++: its metadata and the function that processes one message. The
/// function runs for one node at a time per node, but for different nodes at once: it must be
/// safe to call from several threads. An error result is the node's failure for that message.
struct NativeComponent {
    ComponentSpec spec;
    std::function<Result<void>(ActorContext&)> process;
};

// ---- Graphs -------------------------------------------------------------------------------

/// A port of a node: `nodeId` and `portId` in the graph JSON.
struct GraphPort {
    std::string node;
    std::string port;
    bool operator==(const GraphPort&) const = default;
};

/// A process of the graph.
struct GraphNode {
    std::string id;
    std::string component;
    std::string metadata = "{}"; ///< the JSON object as written
};

/// A connection, or an initial packet (with `data`, sent once at start; `from` is unused).
struct GraphConnection {
    GraphPort from;
    GraphPort to;
    std::string metadata = "{}";     ///< JSON object
    std::optional<std::string> data; ///< plain JSON of an initial packet
    std::string from_type, to_type;  ///< `portType.type` when the edge gives one
    bool is_initial() const { return data.has_value(); }
};

/// A group of nodes (kept for tools; the runtime ignores it).
struct GraphGroup {
    std::string id;
    std::vector<std::string> nodes;
    std::string metadata = "{}";
};

/// Metadata keys Kiln reserves: they configure the runtime and are not passed to the actor.
/// `source`, `env_vars`, `on_error`, `mailbox`, `persist`.
const std::vector<std::string>& reserved_metadata_keys();

/// A graph in the FBP JSON shape Reflow exports. Pure data.
struct Graph {
    std::string name; ///< properties.name
    std::string properties = "{}";
    std::string file;            ///< the file it was read from; sources are relative to its folder
    bool case_sensitive = false; ///< when false, port names are lower-cased
    std::vector<GraphNode> nodes;
    std::vector<GraphConnection> connections;
    std::vector<std::pair<std::string, GraphPort>> inports;  ///< exposed: name -> node port
    std::vector<std::pair<std::string, GraphPort>> outports; ///< exposed: name -> node port
    std::vector<GraphGroup> groups;

    /// Parses graph JSON; errors name the field ("processes.n1.component: expected a string").
    /// `file` is where relative sources are taken from.
    static Result<Graph> parse(std::string_view json, std::string file = "");
    /// Reads and parses a graph file.
    static Result<Graph> from_file(const std::string& path);
    const GraphNode* node(std::string_view id) const;
    /// A port name as the graph compares it (lower-cased unless case-sensitive).
    std::string port_name(std::string_view name) const;
};

/// A node's config as its actor receives it.
struct NodeConfig {
    std::string config = "{}";                       ///< JSON object: metadata minus reserved keys
    std::map<std::string, std::string> resolved_env; ///< metadata.env_vars, resolved
};

/// Resolves a node's metadata.env_vars ({NAME: "required" | "optional" | "optional:DEFAULT"})
/// with `getenv` and builds its config. A missing required variable, or a requirement that is
/// none of these, is an error naming the node and the variable.
Result<NodeConfig>
resolve_node_config(const GraphNode& node,
                    const std::function<std::optional<std::string>(const std::string&)>& getenv);

/// The Reflow actor ABI for a PluginManager (PluginAbi::reflow): plugins that export `process`
/// and `get_metadata` load, validate and can be called outside a graph, where the actor host
/// functions have no node (sends are dropped, state reads give null, writes are dropped). A
/// network follows a manager's reloads of its plugins only through this adapter.
std::unique_ptr<AbiAdapter> make_reflow_adapter();

// ---- Runtime ------------------------------------------------------------------------------

/// What a full in-port mailbox does with one more message.
enum class Overflow {
    wait,        ///< the sender waits: a node sends on but processes nothing more until delivered
    drop_oldest, ///< the oldest queued message of that port is dropped
    drop_newest, ///< the new message is dropped
};

/// The bound of an in-port's mailbox (node metadata `mailbox`), or of a connection's lane in it.
struct MailboxConfig {
    size_t capacity = 1024;
    Overflow overflow = Overflow::wait;
};

/// Where node state is kept between runs when a node asks for it (metadata `persist: true`).
class StateStore {
public:
    virtual ~StateStore() = default;
    /// The node's saved state (a JSON object's text), or nullopt when none was saved.
    virtual Result<std::optional<std::string>> load(std::string_view graph,
                                                    std::string_view node) = 0;
    virtual Result<void> save(std::string_view graph, std::string_view node,
                              std::string_view state) = 0;
};

/// A StateStore in memory, shared by the networks given it.
std::shared_ptr<StateStore> make_memory_state_store();

class StateDb;

/// A StateStore in Kiln's state database (component `actors`, table `actor_state`, one row per
/// graph name and node id); brings the component's schema up to date first.
Result<std::shared_ptr<StateStore>> make_state_db_store(std::shared_ptr<StateDb> db);

/// A message leaving an exposed out-port of the graph.
struct OutputEvent {
    std::string_view port; ///< its name in the graph's `outports`
    std::string_view node;
    std::string_view node_port;
    const Message& message;
};

/// How a network finds its components and reports what happens.
struct NetworkOptions {
    Engine engine;
    /// Worker threads; 0: one per core.
    size_t threads = 0;
    /// Components written in C++, by component name.
    std::map<std::string, NativeComponent> components;
    /// Plugins of the plugin folders, found by component name (borrowed; may be null). The
    /// network follows its hot reloads (with make_reflow_adapter() added to it).
    PluginManager* manager = nullptr;
    /// Environment lookup for env_vars; default: the process environment.
    std::function<std::optional<std::string>(const std::string&)> getenv;
    /// Messages leaving exposed out-ports, on the worker that sent them (serialised); it must
    /// not wait for the network (a send to a full mailbox would).
    std::function<void(const OutputEvent&)> on_output;
    /// The runtime's log lines (failures, dropped outputs, swaps), from any worker, possibly
    /// at once; default: warnings and errors on stderr.
    std::function<void(LogLevel, std::string_view line)> log;
    /// Log sink and level of the wasm actors' own log lines.
    PluginOptions plugin_options;
    /// Where persisted node state goes; null: nothing is persisted.
    std::shared_ptr<StateStore> state_store;
    /// Stop the whole network at the first failure of a node.
    bool fail_fast = false;
    /// Adds a native component.
    void add_component(NativeComponent component);
};

/// A problem found before a graph starts.
struct GraphProblem {
    enum class Severity { error, warning };
    Severity severity = Severity::error;
    std::string message;
};

/// A node with its component found.
struct ResolvedNode {
    std::string id;
    std::string component;
    /// "native", the wasm file, or "plugin NAME (PATH)"; empty when not found.
    std::string source;
    /// The component's metadata; none for a wasm actor without `get_metadata`.
    std::optional<ComponentSpec> spec;
    /// "current", "legacy" (Reflow's first actor format) or "native".
    std::string abi;
};

/// What checking a graph found: its nodes and the problems.
struct GraphReport {
    std::vector<ResolvedNode> nodes;
    std::vector<GraphProblem> problems;
    /// True when no problem is an error (cycles are warnings).
    bool valid() const;
};

/// Resolves every node's component (metadata.source relative to the graph file, a native
/// component, or a plugin of that name) and checks the graph: unknown components and ports,
/// type mismatches on typed ports, unconnected required in-ports, env_vars; cycles are flagged
/// as warnings. Runs no actor code beyond `get_metadata`.
GraphReport check_graph(const Graph& graph, const NetworkOptions& options);

/// How stop() ends a network.
enum class StopMode {
    drain,  ///< wait until every queued message is processed
    cancel, ///< cancel running calls and drop what is queued
};

/// Counters of a network.
struct NetworkStats {
    uint64_t processed = 0; ///< process calls made
    uint64_t failed = 0;    ///< process calls that failed
    uint64_t dropped = 0;   ///< messages dropped by mailbox bounds or stopped nodes
    uint64_t sent = 0;      ///< messages delivered to in-ports
};

/// A running graph. Every member may be called from any thread.
class Network {
public:
    /// Resolves, checks (an error problem fails creation, naming every error) and loads every
    /// node; nothing runs until start().
    static Result<std::unique_ptr<Network>> create(Graph graph, NetworkOptions options);
    ~Network();
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    /// The warnings check_graph found (cycles).
    const std::vector<GraphProblem>& warnings() const;
    /// Starts the workers and sends the initial packets, once.
    Result<void> start();
    /// Whether send() would reach that in-port: a usage error naming an unknown node or port
    /// (so that a host can check what it will send before start()).
    Result<void> accepts(std::string_view node, std::string_view port) const;
    /// Sends a message to a node's in-port from outside; waits for room in a full `wait`
    /// mailbox. Unknown node or port is a usage error.
    Result<void> send(std::string_view node, std::string_view port, Message message);
    /// Sends to an exposed in-port of the graph by its name.
    Result<void> send_inport(std::string_view name, Message message);
    /// Waits until nothing is queued or running; false when `timeout` passed first, or the
    /// network stopped on a failure (fail_fast).
    bool wait_idle(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// Stops the workers; a stopped network processes nothing more.
    void stop(StopMode mode = StopMode::drain);
    /// The first failure that stopped the network (fail_fast), if any.
    std::optional<std::string> failure() const;
    /// A node's state as a JSON object's text (waits for its running call to end).
    Result<std::string> state(std::string_view node) const;
    /// Replaces a node's wasm with another module or manifest file while the graph runs; its
    /// state and queued messages are kept. A module that fails to load leaves the old one.
    Result<void> swap(std::string_view node, const Manifest& manifest);
    /// The same for a native component.
    Result<void> swap(std::string_view node, NativeComponent component);
    /// The node's component metadata as loaded now.
    Result<ResolvedNode> node(std::string_view id) const;
    NetworkStats stats() const;

    struct Impl;

private:
    explicit Network(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace kiln
