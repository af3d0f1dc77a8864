// Graph JSON in the FBP shape Reflow exports, component metadata (PluginMetadata), and a node's
// config with its env_vars resolved.
#include "actors/json.hpp"
#include "base/file.hpp"

#include <kiln/actors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace kiln {

namespace {

using actors::Json;

Error field_error(const std::string& path, std::string_view expected, const Json& got) {
    return Error{
        ErrorKind::malformed,
        fmt::format("{}: expected {}, got {}", path, expected, actors::json_type_name(got)),
        nullptr};
}

/// The string at `key` of `object`, or `fallback` when absent; another type is an error.
Result<std::string> string_field(const Json& object, const char* key, const std::string& path,
                                 std::string fallback = "") {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_string()) return tl::unexpected(field_error(path + "." + key, "a string", *it));
    return it->get<std::string>();
}

/// The object at `key`, as JSON text ("{}" when absent).
Result<std::string> object_field(const Json& object, const char* key, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::string("{}");
    if (!it->is_object()) return tl::unexpected(field_error(path + "." + key, "an object", *it));
    return actors::dump_json(*it);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// An edge end {nodeId, portId} (portName when portId is empty), with its portType.type.
Result<GraphPort> parse_end(const Json& end, const std::string& path, const Graph& graph,
                            std::string* type) {
    if (!end.is_object()) return tl::unexpected(field_error(path, "an object", end));
    auto node = string_field(end, "nodeId", path);
    if (!node) return tl::unexpected(node.error());
    auto port = string_field(end, "portId", path);
    if (!port) return tl::unexpected(port.error());
    if (port->empty()) {
        port = string_field(end, "portName", path);
        if (!port) return tl::unexpected(port.error());
    }
    if (node->empty()) return make_error(ErrorKind::malformed, path + ".nodeId: missing");
    if (port->empty()) return make_error(ErrorKind::malformed, path + ".portId: missing");
    if (type) {
        auto pt = end.find("portType");
        if (pt != end.end() && pt->is_object()) {
            auto t = pt->find("type");
            if (t != pt->end() && t->is_string()) *type = t->get<std::string>();
        }
    }
    return GraphPort{*node, graph.port_name(*port)};
}

Result<std::vector<std::pair<std::string, GraphPort>>>
parse_exposed(const Json& root, const char* key, const Graph& graph) {
    std::vector<std::pair<std::string, GraphPort>> out;
    auto it = root.find(key);
    if (it == root.end() || it->is_null()) return out;
    if (!it->is_object()) return tl::unexpected(field_error(key, "an object", *it));
    for (const auto& [name, end] : it->items()) {
        auto port = parse_end(end, fmt::format("{}.{}", key, name), graph, nullptr);
        if (!port) return tl::unexpected(port.error());
        out.emplace_back(name, std::move(*port));
    }
    return out;
}

Result<std::vector<PortSpec>> parse_ports(const Json& root, const char* key) {
    std::vector<PortSpec> out;
    auto it = root.find(key);
    if (it == root.end() || it->is_null()) return out;
    if (!it->is_array()) return tl::unexpected(field_error(key, "an array", *it));
    for (size_t i = 0; i < it->size(); ++i) {
        const Json& p = (*it)[i];
        const std::string path = fmt::format("{}[{}]", key, i);
        if (!p.is_object()) return tl::unexpected(field_error(path, "an object", p));
        PortSpec port;
        auto name = string_field(p, "name", path);
        if (!name) return tl::unexpected(name.error());
        if (name->empty()) return make_error(ErrorKind::malformed, path + ".name: missing");
        port.name = *name;
        auto description = string_field(p, "description", path);
        if (!description) return tl::unexpected(description.error());
        port.description = *description;
        auto type = string_field(p, "port_type", path, "Any");
        if (!type) return tl::unexpected(type.error());
        port.type = type->empty() ? "Any" : *type;
        if (auto r = p.find("required"); r != p.end() && !r->is_null()) {
            if (!r->is_boolean())
                return tl::unexpected(field_error(path + ".required", "a boolean", *r));
            port.required = r->get<bool>();
        }
        out.push_back(std::move(port));
    }
    return out;
}

} // namespace

const std::vector<std::string>& reserved_metadata_keys() {
    static const std::vector<std::string> keys = {"source", "env_vars", "on_error", "mailbox",
                                                  "persist"};
    return keys;
}

std::string Graph::port_name(std::string_view name) const {
    return case_sensitive ? std::string(name) : lower(name);
}

const GraphNode* Graph::node(std::string_view id) const {
    for (const GraphNode& n : nodes)
        if (n.id == id) return &n;
    return nullptr;
}

Result<Graph> Graph::parse(std::string_view json, std::string file) {
    auto parsed = actors::parse_json(json, file.empty() ? "graph" : file);
    if (!parsed) return tl::unexpected(parsed.error());
    const Json& root = *parsed;
    if (!root.is_object()) return tl::unexpected(field_error("graph", "an object", root));
    Graph g;
    g.file = std::move(file);
    if (auto cs = root.find("caseSensitive"); cs != root.end() && !cs->is_null()) {
        if (!cs->is_boolean())
            return tl::unexpected(field_error("caseSensitive", "a boolean", *cs));
        g.case_sensitive = cs->get<bool>();
    }
    if (auto p = root.find("properties"); p != root.end() && !p->is_null()) {
        if (!p->is_object()) return tl::unexpected(field_error("properties", "an object", *p));
        auto name = string_field(*p, "name", "properties");
        if (!name) return tl::unexpected(name.error());
        g.name = *name;
        g.properties = actors::dump_json(*p);
    }
    if (g.name.empty())
        g.name = g.file.empty() ? "graph" : std::filesystem::path(g.file).stem().string();

    if (auto procs = root.find("processes"); procs != root.end() && !procs->is_null()) {
        if (!procs->is_object())
            return tl::unexpected(field_error("processes", "an object", *procs));
        for (const auto& [id, p] : procs->items()) {
            const std::string path = "processes." + id;
            if (!p.is_object()) return tl::unexpected(field_error(path, "an object", p));
            GraphNode node;
            node.id = id;
            auto component = string_field(p, "component", path);
            if (!component) return tl::unexpected(component.error());
            if (component->empty())
                return make_error(ErrorKind::malformed, path + ".component: missing");
            node.component = *component;
            auto metadata = object_field(p, "metadata", path);
            if (!metadata) return tl::unexpected(metadata.error());
            node.metadata = *metadata;
            g.nodes.push_back(std::move(node));
        }
    }

    if (auto conns = root.find("connections"); conns != root.end() && !conns->is_null()) {
        if (!conns->is_array())
            return tl::unexpected(field_error("connections", "an array", *conns));
        for (size_t i = 0; i < conns->size(); ++i) {
            const Json& c = (*conns)[i];
            const std::string path = fmt::format("connections[{}]", i);
            if (!c.is_object()) return tl::unexpected(field_error(path, "an object", c));
            GraphConnection conn;
            auto to = c.find("to");
            if (to == c.end()) return make_error(ErrorKind::malformed, path + ".to: missing");
            auto to_port = parse_end(*to, path + ".to", g, &conn.to_type);
            if (!to_port) return tl::unexpected(to_port.error());
            conn.to = std::move(*to_port);
            // An initial packet is an edge with data; its `from` is unused (Reflow writes an
            // empty one).
            // A `data` of null is an initial packet (Optional none) only on an edge without a
            // source: Reflow may write it on every edge.
            auto data = c.find("data");
            auto from = c.find("from");
            bool no_source = from == c.end();
            if (!no_source && from->is_object()) {
                auto id = from->find("nodeId");
                no_source = id == from->end() ||
                            (id->is_string() && id->get_ref<const std::string&>().empty());
            }
            if (data != c.end() && (!data->is_null() || no_source)) {
                conn.data = actors::dump_json(*data);
            } else {
                if (from == c.end())
                    return make_error(ErrorKind::malformed,
                                      path + ": expected `from` or `data` (an initial packet)");
                auto from_port = parse_end(*from, path + ".from", g, &conn.from_type);
                if (!from_port) return tl::unexpected(from_port.error());
                conn.from = std::move(*from_port);
            }
            auto metadata = object_field(c, "metadata", path);
            if (!metadata) return tl::unexpected(metadata.error());
            conn.metadata = *metadata;
            g.connections.push_back(std::move(conn));
        }
    }

    auto inports = parse_exposed(root, "inports", g);
    if (!inports) return tl::unexpected(inports.error());
    g.inports = std::move(*inports);
    auto outports = parse_exposed(root, "outports", g);
    if (!outports) return tl::unexpected(outports.error());
    g.outports = std::move(*outports);

    if (auto groups = root.find("groups"); groups != root.end() && !groups->is_null()) {
        if (!groups->is_array()) return tl::unexpected(field_error("groups", "an array", *groups));
        for (size_t i = 0; i < groups->size(); ++i) {
            const Json& gr = (*groups)[i];
            const std::string path = fmt::format("groups[{}]", i);
            if (!gr.is_object()) return tl::unexpected(field_error(path, "an object", gr));
            GraphGroup group;
            auto id = string_field(gr, "id", path);
            if (!id) return tl::unexpected(id.error());
            if (id->empty()) {
                id = string_field(gr, "name", path);
                if (!id) return tl::unexpected(id.error());
            }
            group.id = *id;
            if (auto nodes = gr.find("nodes"); nodes != gr.end() && !nodes->is_null()) {
                if (!nodes->is_array())
                    return tl::unexpected(field_error(path + ".nodes", "an array", *nodes));
                for (const Json& n : *nodes) {
                    if (!n.is_string())
                        return tl::unexpected(field_error(path + ".nodes[]", "a string", n));
                    group.nodes.push_back(n.get<std::string>());
                }
            }
            auto metadata = object_field(gr, "metadata", path);
            if (!metadata) return tl::unexpected(metadata.error());
            group.metadata = *metadata;
            g.groups.push_back(std::move(group));
        }
    }
    return g;
}

Result<Graph> Graph::from_file(const std::string& path) {
    auto bytes = read_file(path);
    if (!bytes) return tl::unexpected(bytes.error());
    auto g =
        parse(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), path);
    if (!g && g.error().message.rfind(path, 0) != 0)
        g.error().message = fmt::format("{}: {}", path, g.error().message);
    return g;
}

Result<ComponentSpec> ComponentSpec::from_json(std::string_view json) {
    auto parsed = actors::parse_json(json, "metadata");
    if (!parsed) return tl::unexpected(parsed.error());
    const Json& root = *parsed;
    if (!root.is_object()) return tl::unexpected(field_error("metadata", "an object", root));
    ComponentSpec spec;
    auto component = string_field(root, "component", "metadata");
    if (!component) return tl::unexpected(component.error());
    spec.component = *component;
    auto description = string_field(root, "description", "metadata");
    if (!description) return tl::unexpected(description.error());
    spec.description = *description;
    auto inports = parse_ports(root, "inports");
    if (!inports) return tl::unexpected(inports.error());
    spec.inports = std::move(*inports);
    auto outports = parse_ports(root, "outports");
    if (!outports) return tl::unexpected(outports.error());
    spec.outports = std::move(*outports);
    if (auto schema = root.find("config_schema"); schema != root.end() && !schema->is_null())
        spec.config_schema = actors::dump_json(*schema);
    auto on_error = string_field(root, "on_error", "metadata", "continue");
    if (!on_error) return tl::unexpected(on_error.error());
    if (*on_error != "stop" && *on_error != "continue")
        return make_error(ErrorKind::malformed,
                          fmt::format("metadata.on_error: expected \"stop\" or \"continue\", got "
                                      "\"{}\"",
                                      *on_error));
    spec.stop_on_error = *on_error == "stop";
    return spec;
}

std::string ComponentSpec::to_json() const {
    auto ports = [](const std::vector<PortSpec>& list) {
        Json out = Json::array();
        for (const PortSpec& p : list)
            out.push_back({{"name", p.name},
                           {"description", p.description},
                           {"port_type", p.type},
                           {"required", p.required}});
        return out;
    };
    Json j = {{"component", component},
              {"description", description},
              {"inports", ports(inports)},
              {"outports", ports(outports)}};
    if (!config_schema.empty()) j["config_schema"] = Json::parse(config_schema, nullptr, false);
    if (stop_on_error) j["on_error"] = "stop";
    return actors::dump_json(j);
}

const PortSpec* ComponentSpec::inport(std::string_view name) const {
    for (const PortSpec& p : inports)
        if (p.name == name) return &p;
    return nullptr;
}

const PortSpec* ComponentSpec::outport(std::string_view name) const {
    for (const PortSpec& p : outports)
        if (p.name == name) return &p;
    return nullptr;
}

Result<NodeConfig>
resolve_node_config(const GraphNode& node,
                    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
    auto parsed = actors::parse_json(node.metadata, fmt::format("node {}: metadata", node.id));
    if (!parsed) return tl::unexpected(parsed.error());
    Json metadata = std::move(*parsed);
    if (!metadata.is_object())
        return tl::unexpected(
            field_error(fmt::format("node {}: metadata", node.id), "an object", metadata));
    Json config = Json::object();
    const auto& reserved = reserved_metadata_keys();
    for (auto& [key, value] : metadata.items())
        if (std::find(reserved.begin(), reserved.end(), key) == reserved.end()) config[key] = value;
    NodeConfig out;
    auto env_vars = metadata.find("env_vars");
    if (env_vars != metadata.end() && !env_vars->is_null()) {
        if (!env_vars->is_object())
            return tl::unexpected(
                field_error(fmt::format("node {}: env_vars", node.id), "an object", *env_vars));
        for (const auto& [name, requirement] : env_vars->items()) {
            // As Reflow reads it: a requirement that is not a string counts as required.
            const std::string req =
                requirement.is_string() ? requirement.get<std::string>() : std::string("required");
            std::optional<std::string> value = getenv ? getenv(name) : std::nullopt;
            if (!value) {
                if (req == "required")
                    return make_error(ErrorKind::usage,
                                      fmt::format("node {}: missing required environment "
                                                  "variable {}",
                                                  node.id, name));
                if (req.rfind("optional:", 0) == 0)
                    value = req.substr(9);
                else if (req != "optional")
                    return make_error(ErrorKind::malformed,
                                      fmt::format("node {}: env_vars.{}: expected \"required\", "
                                                  "\"optional\" or \"optional:DEFAULT\", got "
                                                  "\"{}\"",
                                                  node.id, name, req));
            } else if (req != "required" && req != "optional" && req.rfind("optional:", 0) != 0) {
                return make_error(ErrorKind::malformed,
                                  fmt::format("node {}: env_vars.{}: expected \"required\", "
                                              "\"optional\" or \"optional:DEFAULT\", got \"{}\"",
                                              node.id, name, req));
            }
            if (!value) continue;
            out.resolved_env[name] = *value;
            config[name] = *value;
        }
    }
    out.config = actors::dump_json(config);
    return out;
}

} // namespace kiln
