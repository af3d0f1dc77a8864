// Finding each node's component: metadata.source (relative to the graph file), a native
// component, or a plugin of that name in the plugin folders; wasm sources read once per file or
// plugin.
#pragma once

#include "actors/actor.hpp"
#include "actors/reflow.hpp"

#include <kiln/actors.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kiln::actors {

/// One node's component, found.
struct Found {
    ResolvedNode info;
    std::shared_ptr<const WasmSource> wasm;  ///< a wasm actor's modules
    const NativeComponent* native = nullptr; ///< or the native component
};

/// Resolves the nodes of one graph, reading each wasm source once.
class Resolver {
public:
    Resolver(const Graph& graph, const NetworkOptions& options);
    /// The component of `node`; an error names the node and what was looked for.
    Result<Found> find(const GraphNode& node);
    /// The wasm source of a plugin of the plugin folders, read afresh (hot reload).
    Result<std::shared_ptr<const WasmSource>> plugin_source(const std::string& name);
    /// The environment lookup the options give, or the process environment.
    std::optional<std::string> getenv(const std::string& name) const;

private:
    Result<std::shared_ptr<const WasmSource>> file_source(const std::string& path);

    const Graph& m_graph;
    const NetworkOptions& m_options;
    std::map<std::string, Result<std::shared_ptr<const WasmSource>>> m_cache;
};

/// The actor for a node found by a Resolver.
Result<std::unique_ptr<Actor>> make_actor(const Found& found, const GraphNode& node,
                                          const NetworkOptions& options);

/// Whether a message of type `from` may go to a port of type `to` (names as metadata and graph
/// edges write them, case ignored): "Any" on either side, the same type, Integer to Float, and
/// anything to Optional.
bool types_compatible(std::string_view from, std::string_view to);

/// The node's mailbox bounds from metadata.mailbox: the default, and per in-port.
struct MailboxPlan {
    MailboxConfig all;
    std::map<std::string, MailboxConfig> ports;
};

/// The runtime settings of a node's reserved metadata keys.
struct NodeSettings {
    std::string source;
    bool stop_on_error = false;
    bool persist = false;
    MailboxPlan mailbox;
};

/// Reads the reserved keys of a node's metadata; errors name the node and the key.
Result<NodeSettings> node_settings(const GraphNode& node, const Graph& graph);

/// A connection's own mailbox bound (its metadata.mailbox, the keys of a node's), read over
/// `base`, the bound of the in-port it feeds; nullopt when it has none, as initial packets never
/// do. Errors name the connection and the key.
Result<std::optional<MailboxConfig>> connection_mailbox(const GraphConnection& connection,
                                                        const MailboxConfig& base);

} // namespace kiln::actors
