// ZenoEngine's plugin ABI: plugin_init and plugin_register_slots at load, plugin_execute with
// the slot name and the request written through the guest's `alloc`, plugin_cleanup at
// unload, one instance kept across calls; WASI linked with nothing granted; the eight env.host_*
// imports bound to the families. Responses the guest returns are read up to their NUL, which
// must come before the end of memory.
#include "base/text.hpp"
#include "hostfns/families.hpp"
#include "hostfns/guest.hpp"
#include "hostfns/library.hpp"
#include "manager/schema.hpp"
#include "plugin/state.hpp"

#include <kiln/dispatch.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace kiln::hostfns {

namespace {

/// Bounds of what the guest returns: its metadata, its slot list, a response.
constexpr uint64_t max_metadata = 1u << 20;
constexpr uint64_t max_slots = 16u << 20;
constexpr uint64_t max_response = 64u << 20;

std::string success(json data) {
    return dump(json{{"success", true}, {"data", std::move(data)}});
}

std::string failure(const std::string& message) {
    return dump(json{{"success", false}, {"error", message}});
}

uint32_t u32(const Value& v) {
    return uint32_t(v.as_i32());
}

/// An env.host_* import: its body gets the plugin's context, the Caller, the arguments; it
/// returns the i32 result (none for host_log). Arguments out of the guest's memory trap it,
/// with a message naming the import; nothing else does (a denial is an answer).
PluginFunction zeno_import(
    std::shared_ptr<PluginHost> host, const char* name, size_t params, bool result,
    std::function<int32_t(HostContext& ctx, Caller& caller, std::span<const Value> args)> body) {
    PluginFunction f;
    f.ns = "env";
    f.name = name;
    f.type = FuncType{std::vector<ValType>(params, ValType::i32),
                      result ? std::vector<ValType>{ValType::i32} : std::vector<ValType>{}};
    f.fn = [host = std::move(host), body = std::move(body)](
               CurrentPlugin& cp, std::span<const Value> args, std::span<Value> results) {
        HostFunctionScope scope(*host, cp);
        if (!scope.context()) return cp.set_error(scope.context().error().message);
        const int32_t r = body(**scope.context(), cp.caller(), args);
        if (!results.empty()) results[0] = Value::i32(r);
    };
    return f;
}

/// The argument string (ptr, len), or a trap naming the import.
std::optional<std::string> argument(Caller& caller, const char* import, uint32_t ptr,
                                    uint32_t len) {
    auto s = read_guest(caller, ptr, len, import);
    if (!s) {
        caller.trap(s.error().message);
        return std::nullopt;
    }
    return std::move(*s);
}

/// Writes an answer through the guest's alloc, NUL-terminated: its pointer, or 0 when alloc
/// gives no room (a trapping alloc traps the guest).
int32_t answer(HostContext& ctx, Caller& caller, const char* import, std::string_view text) {
    auto ptr = write_guest(caller, "alloc", text, true);
    if (ptr) return int32_t(*ptr);
    if (ptr.error().trap) {
        caller.trap(std::move(ptr.error()));
    } else {
        log(ctx, LogLevel::warn, fmt::format("{}: {}", import, ptr.error().message));
    }
    return 0;
}

/// A JSON request of an import, or its failure answer.
template <typename F>
int32_t with_request(HostContext& ctx, Caller& caller, const char* import,
                     std::span<const Value> args, F&& handle) {
    auto text = argument(caller, import, u32(args[0]), u32(args[1]));
    if (!text) return 0;
    auto request = parse_object(import, *text);
    if (!request) return answer(ctx, caller, import, failure(request.error().message));
    return answer(ctx, caller, import, handle(*request));
}

std::vector<PluginFunction> zeno_imports(const std::shared_ptr<PluginHost>& host) {
    using Args = std::span<const Value>;
    std::vector<PluginFunction> fns;
    fns.push_back(
        zeno_import(host, "host_log", 4, false, [](HostContext& ctx, Caller& c, Args a) -> int32_t {
            auto level = argument(c, "host_log", u32(a[0]), u32(a[1]));
            auto message = level ? argument(c, "host_log", u32(a[2]), u32(a[3])) : std::nullopt;
            if (message) log(ctx, log_level_from(*level), *message);
            return 0;
        }));
    fns.push_back(
        zeno_import(host, "host_db_query", 2, true, [](HostContext& ctx, Caller& c, Args a) {
            return with_request(ctx, c, "host_db_query", a, [&](const json& request) {
                auto out = db_query(ctx, request);
                return out ? success(std::move(*out)) : failure(out.error().message);
            });
        }));
    fns.push_back(
        zeno_import(host, "host_http_request", 2, true, [](HostContext& ctx, Caller& c, Args a) {
            return with_request(ctx, c, "host_http_request", a, [&](const json& request) {
                auto out = http_request(ctx, request);
                return out ? success(std::move(*out)) : failure(out.error().message);
            });
        }));
    fns.push_back(zeno_import(
        host, "host_scope_get", 2, true, [](HostContext& ctx, Caller& c, Args a) -> int32_t {
            auto key = argument(c, "host_scope_get", u32(a[0]), u32(a[1]));
            if (!key) return 0;
            auto value = scope_get(ctx, *key);
            std::string text = !value    ? failure(value.error().message)
                               : !*value ? failure(fmt::format("variable ${} not found", *key))
                                         : success(json{{"value", std::move(**value)}});
            return answer(ctx, c, "host_scope_get", text);
        }));
    fns.push_back(zeno_import(
        host, "host_scope_set", 2, true, [](HostContext& ctx, Caller& c, Args a) -> int32_t {
            auto text = argument(c, "host_scope_set", u32(a[0]), u32(a[1]));
            if (!text) return 0;
            auto request = parse_object("host_scope_set", *text);
            if (!request || !request->contains("key") || !(*request)["key"].is_string()) return 0;
            return scope_set(ctx, (*request)["key"].get<std::string>(),
                             request->value("value", json()))
                       ? 1
                       : 0;
        }));
    fns.push_back(zeno_import(
        host, "host_file_read", 2, true, [](HostContext& ctx, Caller& c, Args a) -> int32_t {
            auto path = argument(c, "host_file_read", u32(a[0]), u32(a[1]));
            if (!path) return 0;
            auto content = file_read(ctx, *path);
            return answer(ctx, c, "host_file_read",
                          content ? success(json{{"content", std::move(*content)}})
                                  : failure(content.error().message));
        }));
    fns.push_back(zeno_import(
        host, "host_file_write", 2, true, [](HostContext& ctx, Caller& c, Args a) -> int32_t {
            auto text = argument(c, "host_file_write", u32(a[0]), u32(a[1]));
            if (!text) return 0;
            auto request = parse_object("host_file_write", *text);
            if (!request) return 0;
            auto path = request->find("path");
            auto content = request->find("content");
            if (path == request->end() || !path->is_string() || content == request->end() ||
                !content->is_string())
                return 0;
            auto ok =
                file_write(ctx, path->get<std::string>(), content->get_ref<const std::string&>());
            if (!ok) log(ctx, LogLevel::debug, ok.error().message);
            return ok ? 1 : 0;
        }));
    fns.push_back(zeno_import(
        host, "host_env_get", 2, true, [](HostContext& ctx, Caller& c, Args a) -> int32_t {
            auto name = argument(c, "host_env_get", u32(a[0]), u32(a[1]));
            if (!name) return 0;
            // Unset or denied: an empty string, as ZenoEngine answers.
            return answer(ctx, c, "host_env_get", env_get(ctx, *name).value_or(""));
        }));
    return fns;
}

/// Calls the guest's export `name` of type `Sig` through `caller`.
template <typename Sig, typename... A>
auto call_export(Caller& caller, const char* name, A... args)
    -> decltype(std::declval<TypedFunc<Sig>>().call(caller.store(), args...)) {
    auto ext = caller.get_export(name);
    auto func = ext ? ext->func() : std::nullopt;
    if (!func) return make_error(ErrorKind::unlinkable, fmt::format("no export \"{}\"", name));
    auto typed = func->typed<Sig>(caller.store());
    if (!typed)
        return make_error(ErrorKind::unlinkable,
                          fmt::format("export \"{}\": {}", name, typed.error().message));
    return typed->call(caller.store(), args...);
}

/// The JSON text the guest's () -> i32 export `name` returns a pointer to.
Result<std::string> returned_string(Caller& caller, const char* name, uint64_t max) {
    auto ptr = call_export<int32_t()>(caller, name);
    if (!ptr) return tl::unexpected(ptr.error());
    return read_guest_string(caller, uint32_t(*ptr), name, max);
}

struct Slot {
    std::string name;
    json definition;
};

/// The JSON Schema type of a ZenoEngine input type; empty for one that constrains nothing
/// ("any", or a type Kiln does not know).
std::string schema_type(const std::string& zeno_type) {
    static const std::pair<const char*, const char*> types[] = {
        {"string", "string"},   {"number", "number"}, {"float", "number"},    {"int", "integer"},
        {"integer", "integer"}, {"bool", "boolean"},  {"boolean", "boolean"}, {"object", "object"},
        {"map", "object"},      {"array", "array"},   {"list", "array"}};
    for (const auto& [zeno, schema] : types)
        if (zeno_type == zeno) return schema;
    return {};
}

/// How the host's dispatch lists a slot: its description, its example (ZenoLang text, kept as a
/// JSON string) and, from its `inputs` ({param: {type, required, default, description}}), the
/// schema of its parameters. Input entries Kiln cannot read constrain nothing.
SlotInfo slot_info(const Slot& slot) {
    const json& d = slot.definition;
    SlotInfo info;
    info.name = slot.name;
    info.target = slot.name;
    if (d.contains("description") && d["description"].is_string())
        info.description = d["description"].get<std::string>();
    if (d.contains("example") && !d["example"].is_null()) info.example = dump(d["example"]);
    if (!d.contains("inputs") || !d["inputs"].is_object() || d["inputs"].empty()) return info;
    json properties = json::object();
    json required = json::array();
    for (const auto& [param, spec] : d["inputs"].items()) {
        json property = json::object();
        if (spec.is_object()) {
            const std::string type = spec.contains("type") && spec["type"].is_string()
                                         ? schema_type(spec["type"].get<std::string>())
                                         : std::string();
            if (!type.empty()) property["type"] = type;
            if (spec.contains("description") && spec["description"].is_string())
                property["description"] = spec["description"];
            // A default of another type than the input's would make the schema invalid.
            if (spec.contains("default") &&
                manager::validate(plugin::Json(property), plugin::Json(spec["default"]), param))
                property["default"] = spec["default"];
            if (spec.contains("required") && spec["required"] == true) required.push_back(param);
        }
        properties[param] = std::move(property);
    }
    json schema = {{"type", "object"}, {"properties", std::move(properties)}};
    if (!required.empty()) schema["required"] = std::move(required);
    info.schema = dump(schema);
    return info;
}

/// Registers the plugin's slots with the host's dispatch, as the instance being made (the
/// context current while it loads): the host lists and calls them by name, and they go when the
/// instance does. A slot the dispatch refuses (a name another plugin holds, or one it does not
/// take) is left out of it with a warning in the plugin's log: the plugin cannot be told, as
/// ZenoEngine's ABI has no answer to registration, and it still serves the slot when called by
/// its own name (PluginManager::call).
void register_slots(PluginHost& host, Caller& caller, const std::vector<Slot>& slots) {
    auto context = host.context();
    if (!context) return;
    HostContext& ctx = **context;
    for (const Slot& slot : slots)
        if (auto ok = ctx.services().dispatch.add_slot(ctx.endpoint(), slot_info(slot)); !ok)
            plugin::emit_log(plugin::current(caller), LogLevel::warn,
                             fmt::format("slot \"{}\" is not in the host's registry: {}",
                                         escape_control(slot.name), ok.error().message));
}

class ZenoInstance final : public AbiInstance {
public:
    ZenoInstance(Plugin plugin, std::shared_ptr<PluginHost> host, std::string name, json metadata,
                 std::vector<Slot> slots, std::chrono::milliseconds lifecycle_timeout)
        : m_plugin(std::move(plugin)), m_host(std::move(host)), m_name(std::move(name)),
          m_metadata(std::move(metadata)), m_slots(std::move(slots)),
          m_lifecycle_timeout(lifecycle_timeout) {}

    Result<std::string> call(std::string_view target, std::string_view input) override {
        CallContext none;
        return call(target, input, none);
    }

    Result<std::string> call(std::string_view target, std::string_view input,
                             CallContext&) override {
        // Unknown slots are refused before the guest runs, as ZenoEngine's ExecuteSlot does.
        if (!has(target))
            return make_error(ErrorKind::usage,
                              fmt::format("slot {} not found in plugin {}", target, m_name));
        json parameters = input.empty() ? json::object() : json::parse(input, nullptr, false);
        if (parameters.is_discarded() || !parameters.is_object())
            return make_error(ErrorKind::usage,
                              fmt::format("{}: the parameters are not a JSON object", target));
        auto context = m_host->context();
        if (context && (*context)->call().scope)
            parameters["_zeno_scope"] = *(*context)->call().scope;
        const std::string request =
            dump(json{{"slot_name", std::string(target)}, {"parameters", std::move(parameters)}});
        if (auto ok = initialise_again(); !ok) return tl::unexpected(ok.error());
        auto response =
            m_plugin.call_guest("plugin_execute", [&](Caller& c) -> Result<std::string> {
                auto slot = write_guest(c, "alloc", target, false);
                if (!slot) return tl::unexpected(slot.error());
                auto req = write_guest(c, "alloc", request, false);
                if (!req) return tl::unexpected(req.error());
                auto ptr = call_export<int32_t(int32_t, int32_t, int32_t, int32_t)>(
                    c, "plugin_execute", int32_t(*slot), int32_t(target.size()), int32_t(*req),
                    int32_t(request.size()));
                if (!ptr) return tl::unexpected(ptr.error());
                return read_guest_string(c, uint32_t(*ptr), "plugin_execute", max_response);
            });
        if (!response) return response;
        json parsed = json::parse(*response, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("success") ||
            !parsed["success"].is_boolean())
            return make_error(ErrorKind::plugin, fmt::format("plugin_execute: the response is not "
                                                             "{{\"success\": bool, ...}}: {}",
                                                             escape_response(*response)));
        return response;
    }

    bool has(std::string_view target) const override {
        return std::any_of(m_slots.begin(), m_slots.end(),
                           [&](const Slot& s) { return s.name == target; });
    }

    void shutdown() override {
        // A fresh instance (after a trap) that never ran plugin_init has nothing to clean up.
        if (!m_plugin.function_exists("plugin_cleanup") || m_plugin.next_call_is_fresh()) return;
        // A failing cleanup cannot stop the unload.
        (void)run_lifecycle(m_plugin.cancel_handle(), m_lifecycle_timeout, "plugin_cleanup", [&] {
            return m_plugin.call_guest("plugin_cleanup", [](Caller& c) -> Result<std::string> {
                auto done = call_export<void()>(c, "plugin_cleanup");
                if (!done) return tl::unexpected(done.error());
                return std::string();
            });
        });
    }

private:
    /// After a trap the plugin starts its next call on a fresh instance: plugin_init and
    /// plugin_register_slots run on it first, as at load (ZenoEngine keeps one instance, set up
    /// by them, for every call), their output read at load already and not again.
    Result<void> initialise_again() {
        if (!m_plugin.next_call_is_fresh()) return {};
        for (const char* setup : {"plugin_init", "plugin_register_slots"}) {
            auto ran = run_lifecycle(m_plugin.cancel_handle(), m_lifecycle_timeout, setup, [&] {
                return m_plugin.call_guest(setup, [setup](Caller& c) -> Result<std::string> {
                    auto ptr = call_export<int32_t()>(c, setup);
                    if (!ptr) return tl::unexpected(ptr.error());
                    return std::string();
                });
            });
            if (!ran)
                return make_error(ran.error().kind,
                                  fmt::format("{} (again, after the last call failed): {}", setup,
                                              ran.error().message));
        }
        return {};
    }

    static std::string escape_response(const std::string& text) {
        return escape_control(text.size() > 200 ? text.substr(0, 200) + "..." : text);
    }

    Plugin m_plugin;
    std::shared_ptr<PluginHost> m_host;
    std::string m_name;
    json m_metadata;
    std::vector<Slot> m_slots;
    std::chrono::milliseconds m_lifecycle_timeout;
};

/// Runs plugin_init and plugin_register_slots on a new instance.
Result<std::unique_ptr<AbiInstance>> load_zeno(const AbiLoad& load,
                                               std::shared_ptr<PluginHost> host) {
    auto plugin = Plugin::create(load.compiled);
    if (!plugin) return tl::unexpected(plugin.error());
    for (const char* e : {"plugin_init", "plugin_register_slots", "plugin_execute", "alloc"})
        if (!plugin->function_exists(e))
            return make_error(ErrorKind::unlinkable,
                              fmt::format("not a ZenoEngine plugin: it exports no \"{}\"", e));
    json metadata;
    std::vector<Slot> slots;
    const CancelHandle cancel = plugin->cancel_handle();
    auto loaded = run_lifecycle(cancel, load.lifecycle_timeout, "plugin_init", [&] {
        return plugin->call_guest("plugin_init", [&](Caller& c) -> Result<std::string> {
            auto text = returned_string(c, "plugin_init", max_metadata);
            if (!text) return tl::unexpected(text.error());
            metadata = json::parse(*text, nullptr, false);
            if (metadata.is_discarded() || !metadata.is_object())
                return make_error(ErrorKind::plugin,
                                  "plugin_init: the metadata is not a JSON object");
            return std::string();
        });
    });
    if (!loaded) return tl::unexpected(loaded.error());
    loaded = run_lifecycle(cancel, load.lifecycle_timeout, "plugin_register_slots", [&] {
        return plugin->call_guest("plugin_register_slots", [&](Caller& c) -> Result<std::string> {
            auto text = returned_string(c, "plugin_register_slots", max_slots);
            if (!text) return tl::unexpected(text.error());
            json list = json::parse(*text, nullptr, false);
            if (list.is_discarded() || !list.is_array())
                return make_error(ErrorKind::plugin,
                                  "plugin_register_slots: the slot list is not a JSON array");
            for (size_t i = 0; i < list.size(); ++i) {
                json& s = list[i];
                if (!s.is_object() || !s.contains("name") || !s["name"].is_string() ||
                    s["name"].get_ref<const std::string&>().empty())
                    return make_error(ErrorKind::plugin,
                                      fmt::format("plugin_register_slots: slot {} has no name", i));
                slots.push_back({s["name"].get<std::string>(), std::move(s)});
            }
            register_slots(*host, c, slots);
            return std::string();
        });
    });
    if (!loaded) return tl::unexpected(loaded.error());
    return std::make_unique<ZenoInstance>(std::move(*plugin), std::move(host), load.plugin.name,
                                          std::move(metadata), std::move(slots),
                                          load.lifecycle_timeout);
}

class ZenoAdapter final : public AbiAdapter {
public:
    explicit ZenoAdapter(std::shared_ptr<HostLibrary::Impl> library)
        : m_library(std::move(library)) {}

    PluginAbi abi() const override { return PluginAbi::zeno; }

    PluginOptions options(const PluginInfo& plugin) const override {
        PluginOptions options;
        options.wasi = true;
        options.functions = zeno_imports(m_library->plugin_host(plugin.name));
        return options;
    }

    void adjust(Manifest& manifest) const override {
        // Files go through host_file_read and host_file_write, under the grants' checks.
        manifest.allowed_paths.clear();
    }

    Result<std::unique_ptr<AbiInstance>> instantiate(const AbiLoad& load) const override {
        auto host = m_library->plugin_host(load.plugin.name);
        return instantiate_hosted(*m_library, load, [&] { return load_zeno(load, host); });
    }

private:
    std::shared_ptr<HostLibrary::Impl> m_library;
};

} // namespace

std::unique_ptr<AbiAdapter> make_zeno_adapter(std::shared_ptr<HostLibrary::Impl> library) {
    return std::make_unique<ZenoAdapter>(std::move(library));
}

} // namespace kiln::hostfns
