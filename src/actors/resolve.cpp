// Resolving nodes to components and checking a graph before it runs.
#include "actors/resolve.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>

namespace kiln::actors {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// A type name as compared: lower case, Reflow's graph spellings mapped to message kinds.
std::string normal_type(std::string_view t) {
    std::string l = lower(t);
    if (l == "option") return "optional";
    if (l == "encoded") return "stream";
    if (l == "boolean" || l == "bool") return "boolean";
    return l;
}

Result<MailboxConfig> parse_mailbox(const Json& j, MailboxConfig base, const std::string& path) {
    if (!j.is_object())
        return make_error(ErrorKind::malformed,
                          fmt::format("{}: expected an object, got {}", path, json_type_name(j)));
    if (auto c = j.find("capacity"); c != j.end()) {
        if (!c->is_number_unsigned() || c->get<uint64_t>() == 0)
            return make_error(ErrorKind::malformed,
                              fmt::format("{}.capacity: expected a whole number from 1", path));
        base.capacity = size_t(c->get<uint64_t>());
    }
    if (auto o = j.find("overflow"); o != j.end()) {
        const std::string v = o->is_string() ? o->get<std::string>() : std::string();
        if (v == "wait")
            base.overflow = Overflow::wait;
        else if (v == "drop_oldest")
            base.overflow = Overflow::drop_oldest;
        else if (v == "drop_newest")
            base.overflow = Overflow::drop_newest;
        else
            return make_error(ErrorKind::malformed,
                              fmt::format("{}.overflow: expected \"wait\", \"drop_oldest\" or "
                                          "\"drop_newest\"",
                                          path));
    }
    return base;
}

/// The ports of a spec's list, for messages: "a, b".
std::string port_list(const std::vector<PortSpec>& ports, bool with_error) {
    std::vector<std::string> names;
    for (const PortSpec& p : ports)
        names.push_back(p.name);
    if (with_error) names.push_back("error");
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

} // namespace

Resolver::Resolver(const Graph& graph, const NetworkOptions& options)
    : m_graph(graph), m_options(options) {}

std::optional<std::string> Resolver::getenv(const std::string& name) const {
    if (m_options.getenv) return m_options.getenv(name);
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
}

Result<std::shared_ptr<const WasmSource>> Resolver::file_source(const std::string& path) {
    if (auto it = m_cache.find("file:" + path); it != m_cache.end()) return it->second;
    Result<std::shared_ptr<const WasmSource>> out =
        [&]() -> Result<std::shared_ptr<const WasmSource>> {
        auto manifest = Manifest::from_file(path);
        if (!manifest) return tl::unexpected(manifest.error());
        auto source = load_wasm_source(m_options.engine, std::move(*manifest), path,
                                       m_options.plugin_options);
        if (!source) return tl::unexpected(source.error());
        return std::make_shared<const WasmSource>(std::move(*source));
    }();
    m_cache.emplace("file:" + path, out);
    return out;
}

Result<std::shared_ptr<const WasmSource>> Resolver::plugin_source(const std::string& name) {
    auto info = m_options.manager->info(name);
    if (!info) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
    if (info->state == PluginState::failed || !info->manifest)
        return make_error(ErrorKind::invalid,
                          fmt::format("plugin {} ({}): {}", name, info->path, info->error));
    if (info->state == PluginState::disabled)
        return make_error(ErrorKind::usage, fmt::format("plugin {} is disabled", name));
    auto manifest = info->manifest->to_extism([this](const std::string& n) { return getenv(n); });
    if (!manifest)
        return make_error(manifest.error().kind, fmt::format("plugin {} ({}): {}", name, info->path,
                                                             manifest.error().message));
    auto source =
        load_wasm_source(m_options.engine, std::move(*manifest),
                         fmt::format("plugin {} ({})", name, info->path), m_options.plugin_options);
    if (!source) return tl::unexpected(source.error());
    source->plugin = name;
    return std::make_shared<const WasmSource>(std::move(*source));
}

Result<Found> Resolver::find(const GraphNode& node) {
    auto settings = node_settings(node, m_graph);
    if (!settings) return tl::unexpected(settings.error());
    Found found;
    found.info.id = node.id;
    found.info.component = node.component;
    Result<std::shared_ptr<const WasmSource>> wasm = nullptr;
    if (!settings->source.empty()) {
        fs::path path(settings->source);
        if (path.is_relative() && !m_graph.file.empty())
            path = fs::path(m_graph.file).parent_path() / path;
        wasm = file_source(path.lexically_normal().string());
    } else if (auto it = m_options.components.find(node.component);
               it != m_options.components.end()) {
        found.native = &it->second;
        found.info.source = "native";
        found.info.spec = it->second.spec;
        found.info.abi = "native";
        return found;
    } else if (m_options.manager && m_options.manager->info(node.component)) {
        const std::string key = "plugin:" + node.component;
        auto it = m_cache.find(key);
        if (it == m_cache.end()) it = m_cache.emplace(key, plugin_source(node.component)).first;
        wasm = it->second;
    } else {
        return make_error(ErrorKind::usage,
                          fmt::format("node {}: unknown component {} (no metadata.source, no "
                                      "native component and no plugin of that name{})",
                                      node.id, node.component,
                                      m_options.manager ? "" : "; no plugin folders"));
    }
    if (!wasm)
        return make_error(wasm.error().kind,
                          fmt::format("node {}: {}", node.id, wasm.error().message));
    found.wasm = *wasm;
    found.info.source = found.wasm->where;
    found.info.spec = found.wasm->spec;
    found.info.abi = found.wasm->format == ReflowFormat::current ? "current" : "legacy";
    return found;
}

Result<std::unique_ptr<Actor>> make_actor(const Found& found, const GraphNode& node,
                                          const NetworkOptions& options) {
    if (found.native) return make_native_actor(node.id, *found.native);
    return make_wasm_actor(options.engine, *found.wasm, node.id, options.plugin_options);
}

bool types_compatible(std::string_view from, std::string_view to) {
    const std::string f = normal_type(from), t = normal_type(to);
    if (f.empty() || t.empty() || f == "any" || t == "any" || f == t) return true;
    return (f == "integer" && t == "float") || t == "optional";
}

Result<NodeSettings> node_settings(const GraphNode& node, const Graph& graph) {
    auto parsed = parse_json(node.metadata, fmt::format("node {}: metadata", node.id));
    if (!parsed) return tl::unexpected(parsed.error());
    const Json& m = *parsed;
    NodeSettings s;
    if (!m.is_object()) return s;
    auto bad = [&](const char* key, const char* expected) {
        return make_error(ErrorKind::malformed,
                          fmt::format("node {}: metadata.{}: expected {}", node.id, key, expected));
    };
    if (auto v = m.find("source"); v != m.end() && !v->is_null()) {
        if (!v->is_string() || v->get<std::string>().empty()) return bad("source", "a path");
        s.source = v->get<std::string>();
    }
    if (auto v = m.find("on_error"); v != m.end() && !v->is_null()) {
        const std::string text = v->is_string() ? v->get<std::string>() : std::string();
        if (text != "stop" && text != "continue")
            return bad("on_error", "\"stop\" or \"continue\"");
        s.stop_on_error = text == "stop";
    }
    if (auto v = m.find("persist"); v != m.end() && !v->is_null()) {
        if (!v->is_boolean()) return bad("persist", "a boolean");
        s.persist = v->get<bool>();
    }
    if (auto v = m.find("mailbox"); v != m.end() && !v->is_null()) {
        const std::string path = fmt::format("node {}: metadata.mailbox", node.id);
        auto all = parse_mailbox(*v, MailboxConfig{}, path);
        if (!all) return tl::unexpected(all.error());
        s.mailbox.all = *all;
        if (auto ports = v->find("ports"); ports != v->end()) {
            if (!ports->is_object()) return bad("mailbox.ports", "an object");
            for (const auto& [port, config] : ports->items()) {
                auto one = parse_mailbox(config, *all, path + ".ports." + port);
                if (!one) return tl::unexpected(one.error());
                s.mailbox.ports[graph.port_name(port)] = *one;
            }
        }
    }
    return s;
}

Result<std::optional<MailboxConfig>> connection_mailbox(const GraphConnection& connection,
                                                        const MailboxConfig& base) {
    if (connection.is_initial()) return std::nullopt;
    const std::string where =
        fmt::format("connection {}.{} -> {}.{}", connection.from.node, connection.from.port,
                    connection.to.node, connection.to.port);
    auto parsed = parse_json(connection.metadata, where + ": metadata");
    if (!parsed) return tl::unexpected(parsed.error());
    if (!parsed->is_object()) return std::nullopt;
    auto v = parsed->find("mailbox");
    if (v == parsed->end() || v->is_null()) return std::nullopt;
    const std::string path = where + ": metadata.mailbox";
    // A connection feeds one in-port: per-port bounds belong to the node.
    if (v->is_object() && v->contains("ports"))
        return make_error(ErrorKind::malformed,
                          fmt::format("{}.ports: only a node's mailbox has ports", path));
    auto mailbox = parse_mailbox(*v, base, path);
    if (!mailbox) return tl::unexpected(mailbox.error());
    return *mailbox;
}

} // namespace kiln::actors

namespace kiln {

bool GraphReport::valid() const {
    return std::none_of(problems.begin(), problems.end(), [](const GraphProblem& p) {
        return p.severity == GraphProblem::Severity::error;
    });
}

GraphReport check_graph(const Graph& graph, const NetworkOptions& options) {
    using namespace actors;
    GraphReport report;
    auto error = [&](std::string message) {
        report.problems.push_back({GraphProblem::Severity::error, std::move(message)});
    };
    Resolver resolver(graph, options);
    std::map<std::string, size_t> index;
    for (const GraphNode& node : graph.nodes) {
        index[node.id] = report.nodes.size();
        auto found = resolver.find(node);
        if (found) {
            report.nodes.push_back(found->info);
        } else {
            ResolvedNode r;
            r.id = node.id;
            r.component = node.component;
            report.nodes.push_back(std::move(r));
            error(found.error().message);
        }
        auto config =
            resolve_node_config(node, [&](const std::string& n) { return resolver.getenv(n); });
        if (!config) error(config.error().message);
    }
    const ComponentSpec* none = nullptr;
    auto spec_of = [&](const std::string& id) -> const ComponentSpec* {
        auto it = index.find(id);
        if (it == index.end() || !report.nodes[it->second].spec) return none;
        return &*report.nodes[it->second].spec;
    };
    // An out-port's type: the metadata's, else what the edge says, else unknown (empty).
    auto out_type = [&](const GraphPort& p, const std::string& edge) -> std::string {
        const ComponentSpec* spec = spec_of(p.node);
        if (spec)
            for (const PortSpec& port : spec->outports)
                if (graph.port_name(port.name) == p.port) return port.type;
        if (p.port == "error") return "Error";
        return edge;
    };
    auto in_type = [&](const GraphPort& p, const std::string& edge) -> std::string {
        const ComponentSpec* spec = spec_of(p.node);
        if (spec)
            for (const PortSpec& port : spec->inports)
                if (graph.port_name(port.name) == p.port) return port.type;
        return edge;
    };
    /// Checks that the node exists and, when its metadata is known, has the port.
    auto check_port = [&](const std::string& where, const GraphPort& p, bool out) {
        if (!index.count(p.node)) {
            error(fmt::format("{}: no node {}", where, p.node));
            return false;
        }
        const ComponentSpec* spec = spec_of(p.node);
        if (!spec) return true;
        const auto& ports = out ? spec->outports : spec->inports;
        bool known = out && p.port == "error";
        for (const PortSpec& port : ports)
            known = known || graph.port_name(port.name) == p.port;
        if (!known)
            error(fmt::format("{}: node {} ({}) has no {}-port {} ({}-ports: {})", where, p.node,
                              report.nodes[index[p.node]].component, out ? "out" : "in", p.port,
                              out ? "out" : "in", port_list(ports, out)));
        return known;
    };
    std::map<std::string, std::set<std::string>> fed; // node -> in-ports something feeds
    std::map<std::string, std::set<std::string>> edges;
    for (const GraphConnection& c : graph.connections) {
        if (c.is_initial()) {
            const std::string where = fmt::format("initial packet -> {}.{}", c.to.node, c.to.port);
            if (!check_port(where, c.to, false)) continue;
            fed[c.to.node].insert(c.to.port);
            auto message = Message::from_plain(*c.data);
            std::string to = in_type(c.to, c.to_type);
            if (message && !types_compatible(message_kind_name(message->kind()), to))
                error(fmt::format("{}: type mismatch: {} data to a {} in-port", where,
                                  message_kind_name(message->kind()), to));
            continue;
        }
        const std::string where = fmt::format("connection {}.{} -> {}.{}", c.from.node, c.from.port,
                                              c.to.node, c.to.port);
        if (auto mailbox = connection_mailbox(c, MailboxConfig{}); !mailbox)
            error(mailbox.error().message);
        const bool from_ok = check_port(where, c.from, true);
        const bool to_ok = check_port(where, c.to, false);
        if (!from_ok || !to_ok) continue;
        fed[c.to.node].insert(c.to.port);
        edges[c.from.node].insert(c.to.node);
        const std::string from = out_type(c.from, c.from_type), to = in_type(c.to, c.to_type);
        if (!types_compatible(from, to))
            error(fmt::format("{}: type mismatch: a {} out-port to a {} in-port", where, from, to));
    }
    for (const auto& [name, p] : graph.inports)
        if (check_port(fmt::format("inport {}", name), p, false)) fed[p.node].insert(p.port);
    for (const auto& [name, p] : graph.outports)
        check_port(fmt::format("outport {}", name), p, true);
    for (const ResolvedNode& n : report.nodes) {
        if (!n.spec) continue;
        for (const PortSpec& p : n.spec->inports)
            if (p.required && !fed[n.id].count(graph.port_name(p.name)))
                error(fmt::format("node {}: required in-port {} is not connected", n.id,
                                  graph.port_name(p.name)));
    }
    // Cycles are allowed (feedback loops) but flagged: the strongly connected components of
    // more than one node, or a node feeding itself (Tarjan's algorithm).
    std::map<std::string, int> order, low;
    std::vector<std::string> stack;
    std::set<std::string> on_stack;
    int counter = 0;
    std::function<void(const std::string&)> visit = [&](const std::string& v) {
        order[v] = low[v] = counter++;
        stack.push_back(v);
        on_stack.insert(v);
        for (const std::string& w : edges[v]) {
            if (!order.count(w)) {
                visit(w);
                low[v] = std::min(low[v], low[w]);
            } else if (on_stack.count(w)) {
                low[v] = std::min(low[v], order[w]);
            }
        }
        if (low[v] != order[v]) return;
        std::vector<std::string> component;
        std::string w;
        do {
            w = stack.back();
            stack.pop_back();
            on_stack.erase(w);
            component.push_back(w);
        } while (w != v);
        if (component.size() > 1 || edges[v].count(v)) {
            std::reverse(component.begin(), component.end());
            report.problems.push_back(
                {GraphProblem::Severity::warning,
                 fmt::format("cycle: {} -> {}", fmt::join(component, " -> "), component.front())});
        }
    };
    for (const GraphNode& node : graph.nodes)
        if (!order.count(node.id)) visit(node.id);
    return report;
}

} // namespace kiln
