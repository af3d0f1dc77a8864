// Reflow actors on Kiln's Extism runtime. Each node compiles its own plugin so that the host
// functions, which the plugin layer binds per compiled plugin, reach that node's call through a
// slot set for the duration of `process`. The reference behaviour is a fresh instance per
// message (state lives in the host): the instance is rebuilt before every call but the first.
#include "actors/reflow.hpp"
#include "plugin/fetch.hpp"

#include <kiln/module_info.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace kiln::actors {

namespace {

constexpr const char* user_ns = "extism:host/user";

const FuncType send_current{{ValType::i64}, {}};
const FuncType send_legacy{{ValType::i64}, {ValType::i64}};
const FuncType get_state_type{{ValType::i64}, {ValType::i64}};
const FuncType set_current{{ValType::i64, ValType::i64}, {}};
const FuncType set_legacy{{ValType::i64, ValType::i64}, {ValType::i64}};

/// The call a node's host functions act on, set while `process` runs. A standalone slot
/// serves a plugin called outside any graph (through the manager): it has no node, so sends are
/// logged, state reads give null and writes are dropped.
struct CallSlot {
    ActorContext::Call* call = nullptr;
    bool standalone = false;
};

/// The host functions with the types the module declares, acting on `slot`'s call.
std::vector<PluginFunction>
host_functions(const std::vector<std::pair<std::string, FuncType>>& imports,
               const std::shared_ptr<CallSlot>& slot) {
    std::vector<PluginFunction> out;
    for (const auto& [name, type] : imports) {
        PluginFunction f;
        f.ns = user_ns;
        f.name = name;
        f.type = type;
        const bool returns = !type.results.empty();
        if (name == "__send_output") {
            f.fn = [slot, returns](CurrentPlugin& p, std::span<const Value> args,
                                   std::span<Value> results) {
                if (returns) results[0] = Value::i64(0);
                auto text = p.read(uint64_t(args[0].as_i64()));
                if (!text) return p.set_error("__send_output: not a block of kernel memory");
                if (!slot->call && slot->standalone) return; // no node to send from
                if (!slot->call) return p.set_error("__send_output: called outside process");
                auto value = parse_json(*text, "__send_output");
                if (!value) return p.set_error(value.error().message);
                if (!value->is_object())
                    return p.set_error(fmt::format("__send_output: expected a JSON object "
                                                   "{{port: value}}, got {}",
                                                   json_type_name(*value)));
                for (const auto& [port, v] : value->items())
                    slot->call->outlet.send(port, message_from_plain(v));
            };
        } else if (name == "__get_state") {
            f.fn = [slot](CurrentPlugin& p, std::span<const Value> args, std::span<Value> results) {
                results[0] = Value::i64(0);
                if (!slot->call && slot->standalone) {
                    results[0] = Value::i64(int64_t(p.write("null")));
                    return;
                }
                if (!slot->call) return p.set_error("__get_state: called outside process");
                auto key = p.read(uint64_t(args[0].as_i64()));
                if (!key) return p.set_error("__get_state: not a block of kernel memory");
                const Json& state = slot->call->state;
                auto it = state.find(*key);
                // A missing key is a block holding null, as Reflow's host gives it.
                results[0] = Value::i64(
                    int64_t(p.write(it == state.end() ? std::string("null") : dump_json(*it))));
            };
        } else {
            f.fn = [slot, returns](CurrentPlugin& p, std::span<const Value> args,
                                   std::span<Value> results) {
                if (returns) results[0] = Value::i64(0);
                if (!slot->call && slot->standalone) return;
                if (!slot->call) return p.set_error("__set_state: called outside process");
                auto key = p.read(uint64_t(args[0].as_i64()));
                auto text = p.read(uint64_t(args[1].as_i64()));
                if (!key || !text) return p.set_error("__set_state: not a block of kernel memory");
                auto value = parse_json(*text, fmt::format("__set_state {}", *key));
                if (!value) return p.set_error(value.error().message);
                slot->call->state[*key] = std::move(*value);
                slot->call->state_changed = true;
            };
        }
        out.push_back(std::move(f));
    }
    return out;
}

/// The main module of a manifest's list: the one named "main", else the last.
size_t main_index(const std::vector<Manifest::Wasm>& wasm) {
    size_t main = wasm.size() - 1;
    for (size_t i = 0; i < wasm.size(); ++i)
        if (wasm[i].name == "main") main = i;
    return main;
}

class WasmActor final : public Actor {
public:
    WasmActor(ResolvedNode info, ReflowFormat format, std::shared_ptr<CallSlot> slot, Plugin plugin)
        : m_info(std::move(info)), m_format(format), m_slot(std::move(slot)),
          m_plugin(std::move(plugin)), m_cancel(m_plugin.cancel_handle()) {}

    const ResolvedNode& info() const override { return m_info; }
    void cancel() override { m_cancel.cancel(); }

    Result<void> process(ActorContext::Call& call) override {
        // Guest memory never outlives a message: the instance of the last call is replaced.
        if (m_used)
            if (auto fresh = m_plugin.reset(); !fresh) return fresh;
        m_used = true;
        std::string input = m_format == ReflowFormat::current ? context(call) : flat_input(call);
        m_slot->call = &call;
        auto output = m_plugin.call("process", input);
        m_slot->call = nullptr;
        if (!output) return tl::unexpected(std::move(output.error()));
        return m_format == ReflowFormat::current ? apply_result(call, *output)
                                                 : apply_flat(call, *output);
    }

private:
    /// The ActorContext: {"payload", "config", "state"}; the config part is the same for every
    /// call of the node, so it is written once.
    std::string context(const ActorContext::Call& call) {
        if (m_config.empty()) {
            Json env = Json::object();
            for (const auto& [k, v] : call.config.resolved_env)
                env[k] = v;
            m_config =
                fmt::format("{{\"node_id\":{},\"component\":{},\"resolved_env\":{},\"config\":{},"
                            "\"namespace\":null}}",
                            dump_json(Json(call.node_id)), dump_json(Json(call.component)),
                            dump_json(env), call.config.config);
        }
        return fmt::format("{{\"payload\":{{{}:{}}},\"config\":{},\"state\":{}}}",
                           dump_json(Json(call.port)), call.message.to_tagged(), m_config,
                           dump_json(call.state));
    }

    static std::string flat_input(const ActorContext::Call& call) {
        return fmt::format("{{{}:{}}}", dump_json(Json(call.port)), call.message.to_tagged());
    }

    /// The ActorResult: each output sent in order (an entry that is no message is dropped with
    /// a warning), then the state replaced when it is an object.
    static Result<void> apply_result(ActorContext::Call& call, const std::string& output) {
        auto parsed = parse_json(output, "ActorResult");
        if (!parsed) return tl::unexpected(parsed.error());
        const Json& result = *parsed;
        if (!result.is_object())
            return make_error(ErrorKind::plugin,
                              fmt::format("invalid ActorResult: expected an object, got {}",
                                          json_type_name(result)));
        auto outputs = result.find("outputs");
        if (outputs == result.end() || !outputs->is_object())
            return make_error(ErrorKind::plugin, "invalid ActorResult: missing outputs");
        for (const auto& [port, value] : outputs->items()) {
            auto message = message_from_tagged(value);
            if (!message) {
                call.outlet.log(LogLevel::warn, fmt::format("output {} dropped: {}", port,
                                                            message.error().message));
                continue;
            }
            call.outlet.send(port, std::move(*message));
        }
        if (auto state = result.find("state"); state != result.end() && state->is_object()) {
            call.state = *state;
            call.state_changed = true;
        }
        return {};
    }

    static Result<void> apply_flat(ActorContext::Call& call, const std::string& output) {
        auto parsed = parse_json(output, "process output");
        if (!parsed) return tl::unexpected(parsed.error());
        if (!parsed->is_object())
            return make_error(ErrorKind::plugin,
                              fmt::format("process output: expected an object {{port: value}}, "
                                          "got {}",
                                          json_type_name(*parsed)));
        for (const auto& [port, value] : parsed->items())
            call.outlet.send(port, message_from_plain(value));
        return {};
    }

    ResolvedNode m_info;
    ReflowFormat m_format;
    std::shared_ptr<CallSlot> m_slot;
    Plugin m_plugin;
    CancelHandle m_cancel;
    std::string m_config;
    bool m_used = false;
};

} // namespace

Result<ModuleScan> scan_module(std::span<const uint8_t> bytes, const std::string& where) {
    auto module = ModuleInfo::decode(bytes);
    if (!module)
        return make_error(module.error().kind,
                          fmt::format("{}: {}", where, module.error().message));
    ModuleScan scan;
    bool legacy = false;
    for (const ModuleInfo::Import& i : module->imports()) {
        if (i.kind != ExternKind::func) continue;
        if (i.module == "wasi_snapshot_preview1") scan.wasi = true;
        if (i.module != user_ns) continue;
        const FuncType& type = module->types().at(i.func_type);
        const bool ok =
            (i.name == "__send_output" && (type == send_current || type == send_legacy)) ||
            (i.name == "__get_state" && type == get_state_type) ||
            (i.name == "__set_state" && (type == set_current || type == set_legacy));
        if (!ok)
            return make_error(ErrorKind::unlinkable,
                              fmt::format("{}: imports {}.{} {}, which a Reflow actor host does "
                                          "not provide (it has __send_output (i64) -> (), "
                                          "__get_state (i64) -> (i64), __set_state (i64 i64) -> "
                                          "(), or with an i64 result for Reflow's first format)",
                                          where, user_ns, i.name, functype_string(type)));
        // __get_state has the same type in both formats (and that type is send_legacy's).
        legacy = legacy || (i.name == "__send_output" && type == send_legacy) ||
                 (i.name == "__set_state" && type == set_legacy);
        scan.user_imports.emplace_back(i.name, type);
    }
    scan.format = legacy ? ReflowFormat::legacy : ReflowFormat::current;
    bool has_process = false;
    for (const ModuleInfo::Export& e : module->exports()) {
        if (e.kind != ExternKind::func) continue;
        has_process = has_process || e.name == "process";
        scan.has_metadata = scan.has_metadata || e.name == "get_metadata";
    }
    if (!has_process)
        return make_error(
            ErrorKind::unlinkable,
            fmt::format("{}: exports no `process` function: not a Reflow actor", where));
    return scan;
}

Result<WasmSource> load_wasm_source(const Engine& engine, Manifest manifest, std::string where,
                                    const PluginOptions& base) {
    if (manifest.wasm.empty()) return make_error(ErrorKind::usage, "manifest: no wasm modules");
    // Each node compiles the modules again: they are read (and hash-checked) once, here.
    for (Manifest::Wasm& w : manifest.wasm) {
        auto bytes = plugin::fetch_wasm(w);
        if (!bytes) return tl::unexpected(bytes.error());
        std::string path;
        if (auto* f = std::get_if<Manifest::WasmFile>(&w.source)) path = f->path;
        if (auto* b = std::get_if<Manifest::WasmBytes>(&w.source)) path = b->path;
        w.source = Manifest::WasmBytes{std::move(*bytes), path};
        w.hash.clear();
    }
    WasmSource source;
    const auto& main =
        std::get<Manifest::WasmBytes>(manifest.wasm[main_index(manifest.wasm)].source);
    source.where = !where.empty()      ? std::move(where)
                   : main.path.empty() ? std::string("inline wasm")
                                       : main.path;
    auto scan = scan_module(main.data, source.where);
    if (!scan) return tl::unexpected(scan.error());
    source.format = scan->format;
    source.wasi = scan->wasi;
    source.user_imports = std::move(scan->user_imports);
    const bool has_metadata = scan->has_metadata;
    source.manifest = std::move(manifest);
    if (has_metadata) {
        // get_metadata needs no host function of the actor's; a throwaway instance runs it.
        PluginOptions options = base;
        options.wasi = source.wasi;
        options.trap_unknown_imports = true;
        auto plugin = Plugin::create(engine, source.manifest, std::move(options));
        if (!plugin)
            return make_error(plugin.error().kind,
                              fmt::format("{}: {}", source.where, plugin.error().message));
        auto out = plugin->call("get_metadata", "");
        if (!out)
            return make_error(out.error().kind, fmt::format("{}: get_metadata: {}", source.where,
                                                            out.error().message));
        auto spec = ComponentSpec::from_json(*out);
        if (!spec)
            return make_error(spec.error().kind, fmt::format("{}: get_metadata: {}", source.where,
                                                             spec.error().message));
        source.spec = std::move(*spec);
    }
    return source;
}

Result<std::unique_ptr<Actor>> make_wasm_actor(const Engine& engine, const WasmSource& source,
                                               const std::string& node, const PluginOptions& base) {
    auto slot = std::make_shared<CallSlot>();
    PluginOptions options = base;
    options.wasi = source.wasi;
    options.functions = host_functions(source.user_imports, slot);
    if (options.name.empty()) options.name = node;
    auto plugin = Plugin::create(engine, source.manifest, std::move(options));
    if (!plugin)
        return make_error(plugin.error().kind, fmt::format("node {}: {}: {}", node, source.where,
                                                           plugin.error().message));
    ResolvedNode info;
    info.id = node;
    info.component = source.spec ? source.spec->component : std::string();
    info.source = source.where;
    info.spec = source.spec;
    info.abi = source.format == ReflowFormat::current ? "current" : "legacy";
    return std::make_unique<WasmActor>(std::move(info), source.format, std::move(slot),
                                       std::move(*plugin));
}

namespace {

/// A Reflow actor the manager runs outside any graph (kiln plugin call, validation).
class StandaloneInstance final : public AbiInstance {
public:
    explicit StandaloneInstance(Plugin plugin) : m_plugin(std::move(plugin)) {}
    Result<std::string> call(std::string_view target, std::string_view input) override {
        // As in a graph: a fresh instance for every call.
        if (m_used)
            if (auto fresh = m_plugin.reset(); !fresh) return tl::unexpected(fresh.error());
        m_used = true;
        return m_plugin.call(target, input);
    }
    bool has(std::string_view target) const override { return m_plugin.function_exists(target); }
    void shutdown() override {}

private:
    Plugin m_plugin;
    bool m_used = false;
};

class ReflowAdapter final : public AbiAdapter {
public:
    PluginAbi abi() const override { return PluginAbi::reflow; }

    PluginOptions options(const PluginInfo& plugin) const override {
        PluginOptions options;
        auto found = scan(plugin);
        if (!found) {
            // instantiate() reports why; linking must not fail on the imports first.
            options.trap_unknown_imports = true;
            return options;
        }
        auto slot = std::make_shared<CallSlot>();
        slot->standalone = true;
        options.wasi = found->wasi;
        options.functions = host_functions(found->user_imports, slot);
        return options;
    }

    Result<std::unique_ptr<AbiInstance>> instantiate(const AbiLoad& load) const override {
        auto found = scan(load.plugin);
        if (!found) return tl::unexpected(found.error());
        auto plugin = Plugin::create(load.compiled);
        if (!plugin) return tl::unexpected(plugin.error());
        return std::make_unique<StandaloneInstance>(std::move(*plugin));
    }

private:
    static Result<ModuleScan> scan(const PluginInfo& plugin) {
        if (!plugin.manifest || plugin.manifest->wasm.empty())
            return make_error(ErrorKind::invalid, plugin.path + ": no wasm module");
        const auto& wasm = plugin.manifest->wasm;
        const size_t main = main_index(wasm);
        auto bytes = plugin::fetch_wasm(wasm[main]);
        if (!bytes) return tl::unexpected(bytes.error());
        return scan_module(*bytes, plugin::describe_wasm(wasm[main]));
    }
};

} // namespace

} // namespace kiln::actors

namespace kiln {

std::unique_ptr<AbiAdapter> make_reflow_adapter() {
    return std::make_unique<actors::ReflowAdapter>();
}

} // namespace kiln
