// The C API of actor graphs (actors.h) over kiln::Graph and kiln::Network. A file of its own, so
// that a C host that never calls kiln_graph_* or kiln_network_* links none of the actors layer.
#include "capi/capi.hpp"

#include <kiln/actors.h>
#include <kiln/actors.hpp>
#include <kiln/state_db.hpp>

#include <fmt/format.h>

#include <deque>
#include <memory>
#include <string>

struct kiln_graph {
    kiln::Graph graph;
};

struct kiln_native_context {
    kiln::ActorContext& context;
    /// The strings handed out during the call (a deque: references stay valid as it grows).
    std::deque<std::string> strings;

    const char* keep(std::string text) { return strings.emplace_back(std::move(text)).c_str(); }
};

struct kiln_network {
    // The manager outlives the network, which follows its reloads.
    std::unique_ptr<kiln::PluginManager> manager;
    std::unique_ptr<kiln::Network> network;
};

namespace {

using kiln::capi::give_string;
using kiln::capi::guarded;
using kiln::capi::new_error;
using kiln::capi::usage;

/// A C native component as a NativeComponent: its metadata parsed, its callback wrapped.
kiln::Result<kiln::NativeComponent> native_component(const kiln_native_component_t& c,
                                                     size_t index) {
    if (!c.metadata_json || !c.process)
        return kiln::make_error(
            kiln::ErrorKind::usage,
            fmt::format("components[{}]: metadata_json and process must not be NULL", index));
    auto spec = kiln::ComponentSpec::from_json(c.metadata_json);
    if (!spec)
        return kiln::make_error(spec.error().kind,
                                fmt::format("components[{}]: {}", index, spec.error().message));
    kiln::NativeComponent component;
    component.spec = std::move(*spec);
    component.process = [process = c.process,
                         data = c.user_data](kiln::ActorContext& context) -> kiln::Result<void> {
        kiln_native_context call{context, {}};
        kiln_error* e = process(data, &call);
        if (!e) return {};
        kiln::Error error = e->error;
        kiln_error_delete(e);
        return tl::unexpected(std::move(error));
    };
    return component;
}

/// A StateStore in the state database at `path` ("": $KILN_HOME/state.db); errors name the file.
kiln::Result<std::shared_ptr<kiln::StateStore>> state_store_at(const std::string& path) {
    auto db = kiln::StateDb::open(path);
    if (!db) {
        const std::string file = path.empty() ? "$KILN_HOME/state.db" : path;
        if (db.error().message.find(file) != std::string::npos) return tl::unexpected(db.error());
        return kiln::make_error(db.error().kind,
                                fmt::format("state database {}: {}", file, db.error().message));
    }
    auto store = kiln::make_state_db_store(*db);
    if (!store && store.error().message.find((*db)->path()) == std::string::npos)
        return kiln::make_error(
            store.error().kind,
            fmt::format("state database {}: {}", (*db)->path(), store.error().message));
    return store;
}

/// The options `config` describes, with a manager over its plugin folders.
kiln::Result<kiln::NetworkOptions> options_of(const kiln_engine* engine,
                                              const kiln_network_config_t* config,
                                              std::unique_ptr<kiln::PluginManager>& manager) {
    kiln::NetworkOptions o;
    o.engine = engine->engine;
    manager = std::make_unique<kiln::PluginManager>();
    manager->add_adapter(kiln::make_reflow_adapter());
    o.manager = manager.get();
    if (!config) return o;
    o.threads = config->threads;
    o.fail_fast = config->fail_fast;
    for (size_t i = 0; i < config->plugin_dir_count; ++i) {
        if (!config->plugin_dirs[i])
            return kiln::make_error(kiln::ErrorKind::usage, "plugin_dirs holds a NULL");
        if (auto ok = manager->open(config->plugin_dirs[i]); !ok) return tl::unexpected(ok.error());
    }
    if (config->component_count > 0 && !config->components)
        return kiln::make_error(kiln::ErrorKind::usage, "components is NULL");
    for (size_t i = 0; i < config->component_count; ++i) {
        auto component = native_component(config->components[i], i);
        if (!component) return tl::unexpected(component.error());
        o.add_component(std::move(*component));
    }
    if (auto* callback = config->on_output) {
        void* data = config->output_user_data;
        o.on_output = [callback, data](const kiln::OutputEvent& e) {
            const std::string port(e.port);
            callback(data, port.c_str(), e.message.to_tagged().c_str());
        };
    }
    if (auto* callback = config->on_log) {
        void* data = config->log_user_data;
        o.log = [callback, data](kiln::LogLevel level, std::string_view line) {
            callback(data, kiln_log_level_t(level), std::string(line).c_str());
        };
    }
    return o;
}

} // namespace

extern "C" {

kiln_error_t* kiln_graph_parse(const char* json, size_t len, const char* file, kiln_graph_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!json || !out) return usage("json and out must not be NULL");
        auto g = kiln::Graph::parse(std::string_view(json, len), file ? file : "");
        if (!g) return new_error(std::move(g.error()));
        *out = new kiln_graph{std::move(*g)};
        return nullptr;
    });
}

kiln_error_t* kiln_graph_from_file(const char* path, kiln_graph_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!path || !out) return usage("path and out must not be NULL");
        auto g = kiln::Graph::from_file(path);
        if (!g) return new_error(std::move(g.error()));
        *out = new kiln_graph{std::move(*g)};
        return nullptr;
    });
}

void kiln_graph_delete(kiln_graph_t* graph) {
    delete graph;
}

const char* kiln_graph_name(const kiln_graph_t* graph) {
    return graph ? graph->graph.name.c_str() : nullptr;
}

kiln_error_t* kiln_graph_check(const kiln_engine_t* engine, const kiln_graph_t* graph,
                               const kiln_network_config_t* config, char** problems_json,
                               bool* valid) {
    return guarded([&]() -> kiln_error* {
        if (!engine || !graph || !problems_json || !valid)
            return usage("engine, graph, problems_json and valid must not be NULL");
        std::unique_ptr<kiln::PluginManager> manager;
        auto options = options_of(engine, config, manager);
        if (!options) return new_error(std::move(options.error()));
        kiln::GraphReport report = kiln::check_graph(graph->graph, *options);
        std::string text = "[";
        for (const kiln::GraphProblem& p : report.problems) {
            if (text.size() > 1) text += ",";
            text +=
                fmt::format("{{\"severity\":\"{}\",\"message\":{}}}",
                            p.severity == kiln::GraphProblem::Severity::error ? "error" : "warning",
                            kiln::Message::string(p.message).to_plain());
        }
        text += "]";
        *valid = report.valid();
        return give_string(text, problems_json);
    });
}

kiln_error_t* kiln_network_new(const kiln_engine_t* engine, const kiln_graph_t* graph,
                               const kiln_network_config_t* config, kiln_network_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine || !graph || !out) return usage("engine, graph and out must not be NULL");
        auto network = std::make_unique<kiln_network>();
        auto options = options_of(engine, config, network->manager);
        if (!options) return new_error(std::move(options.error()));
        if (config && config->state_path) {
            auto store = state_store_at(config->state_path);
            if (!store) return new_error(std::move(store.error()));
            options->state_store = std::move(*store);
        }
        auto n = kiln::Network::create(graph->graph, std::move(*options));
        if (!n) return new_error(std::move(n.error()));
        network->network = std::move(*n);
        *out = network.release();
        return nullptr;
    });
}

void kiln_network_delete(kiln_network_t* network) {
    delete network;
}

kiln_error_t* kiln_network_start(kiln_network_t* network) {
    return guarded([&]() -> kiln_error* {
        if (!network) return usage("network is NULL");
        auto ok = network->network->start();
        return ok ? nullptr : new_error(std::move(ok.error()));
    });
}

kiln_error_t* kiln_network_send(kiln_network_t* network, const char* node, const char* port,
                                const char* message_json, bool tagged) {
    return guarded([&]() -> kiln_error* {
        if (!network || !node || !port || !message_json)
            return usage("network, node, port and message_json must not be NULL");
        auto m = tagged ? kiln::Message::from_tagged(message_json)
                        : kiln::Message::from_plain(message_json);
        if (!m) return new_error(std::move(m.error()));
        auto ok = network->network->send(node, port, std::move(*m));
        return ok ? nullptr : new_error(std::move(ok.error()));
    });
}

bool kiln_network_wait_idle(kiln_network_t* network, int64_t timeout_ms) {
    return kiln::capi::guarded_value(false, [&] {
        if (!network) return false;
        if (timeout_ms < 0) return network->network->wait_idle();
        return network->network->wait_idle(std::chrono::milliseconds(timeout_ms));
    });
}

void kiln_network_stop(kiln_network_t* network, bool drain) {
    if (network)
        kiln::capi::guarded_value(0, [&] {
            network->network->stop(drain ? kiln::StopMode::drain : kiln::StopMode::cancel);
            return 0;
        });
}

char* kiln_network_failure(const kiln_network_t* network) {
    return kiln::capi::guarded_value<char*>(nullptr, [&]() -> char* {
        if (!network) return nullptr;
        auto failure = network->network->failure();
        if (!failure) return nullptr;
        return static_cast<char*>(kiln::capi::malloc_copy(failure->c_str(), failure->size() + 1));
    });
}

kiln_error_t* kiln_network_state(kiln_network_t* network, const char* node, char** state_json) {
    return guarded([&]() -> kiln_error* {
        if (!network || !node || !state_json)
            return usage("network, node and state_json must not be NULL");
        auto state = network->network->state(node);
        if (!state) return new_error(std::move(state.error()));
        return give_string(*state, state_json);
    });
}

kiln_error_t* kiln_network_swap(kiln_network_t* network, const char* node, const char* path) {
    return guarded([&]() -> kiln_error* {
        if (!network || !node || !path) return usage("network, node and path must not be NULL");
        auto manifest = kiln::Manifest::from_file(path);
        if (!manifest) return new_error(std::move(manifest.error()));
        auto ok = network->network->swap(node, *manifest);
        return ok ? nullptr : new_error(std::move(ok.error()));
    });
}

const char* kiln_native_context_node_id(const kiln_native_context_t* context) {
    return context ? context->context.node_id().c_str() : nullptr;
}

const char* kiln_native_context_component(const kiln_native_context_t* context) {
    return context ? context->context.component().c_str() : nullptr;
}

const char* kiln_native_context_port(const kiln_native_context_t* context) {
    return context ? context->context.port().c_str() : nullptr;
}

const char* kiln_native_context_message(kiln_native_context_t* context) {
    return kiln::capi::guarded_value<const char*>(nullptr, [&]() -> const char* {
        return context ? context->keep(context->context.message().to_tagged()) : nullptr;
    });
}

const char* kiln_native_context_config(const kiln_native_context_t* context) {
    return context ? context->context.config().c_str() : nullptr;
}

const char* kiln_native_context_env(kiln_native_context_t* context, const char* name) {
    return kiln::capi::guarded_value<const char*>(nullptr, [&]() -> const char* {
        if (!context || !name) return nullptr;
        auto value = context->context.env(name);
        return value ? context->keep(std::move(*value)) : nullptr;
    });
}

const char* kiln_native_context_state(kiln_native_context_t* context, const char* key) {
    return kiln::capi::guarded_value<const char*>(nullptr, [&]() -> const char* {
        if (!context || !key) return nullptr;
        auto value = context->context.state(key);
        return value ? context->keep(std::move(*value)) : nullptr;
    });
}

kiln_error_t* kiln_native_context_set_state(kiln_native_context_t* context, const char* key,
                                            const char* json) {
    return guarded([&]() -> kiln_error* {
        if (!context || !key || !json) return usage("context, key and json must not be NULL");
        auto ok = context->context.set_state(key, json);
        return ok ? nullptr : new_error(std::move(ok.error()));
    });
}

const char* kiln_native_context_state_json(kiln_native_context_t* context) {
    return kiln::capi::guarded_value<const char*>(nullptr, [&]() -> const char* {
        return context ? context->keep(context->context.state_json()) : nullptr;
    });
}

kiln_error_t* kiln_native_context_send(kiln_native_context_t* context, const char* port,
                                       const char* message_json, bool tagged) {
    return guarded([&]() -> kiln_error* {
        if (!context || !port || !message_json)
            return usage("context, port and message_json must not be NULL");
        auto m = tagged ? kiln::Message::from_tagged(message_json)
                        : kiln::Message::from_plain(message_json);
        if (!m) return new_error(std::move(m.error()));
        context->context.send(port, std::move(*m));
        return nullptr;
    });
}

kiln_network_stats_t kiln_network_stats(const kiln_network_t* network) {
    kiln_network_stats_t out{0, 0, 0, 0};
    if (!network) return out;
    return kiln::capi::guarded_value(out, [&] {
        kiln::NetworkStats s = network->network->stats();
        return kiln_network_stats_t{s.processed, s.failed, s.dropped, s.sent};
    });
}

} // extern "C"
