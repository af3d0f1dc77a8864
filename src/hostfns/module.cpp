#include "hostfns/module.hpp"

#include "hostfns/families.hpp"
#include "plugin/state.hpp"

#include <fmt/format.h>

namespace kiln::hostfns {

HostFunctionScope::HostFunctionScope(PluginHost& host, CurrentPlugin& plugin)
    : m_context(host.context(plugin)) {
    if (!m_context) return;
    HostCall& call = (*m_context)->call();
    m_should_stop = std::move(call.should_stop);
    m_log = std::move(call.log);
    Caller& caller = plugin.caller();
    call.should_stop = [&caller] { return caller.should_stop(); };
    const CurrentPlugin::State* state = &plugin::current(caller);
    call.log = [state](LogLevel level, std::string_view line) {
        plugin::emit_log(*state, level, line);
    };
}

HostFunctionScope::~HostFunctionScope() {
    if (!m_context) return;
    HostCall& call = (*m_context)->call();
    call.should_stop = std::move(m_should_stop);
    call.log = std::move(m_log);
}

namespace {

/// The blocks the handle arguments name, read and freed.
std::vector<std::string> take_handles(CurrentPlugin& cp, std::span<const Value> args) {
    std::vector<std::string> in;
    in.reserve(args.size());
    for (const Value& v : args) {
        const uint64_t h = v.bits;
        auto bytes = h ? cp.read(h) : std::nullopt;
        in.push_back(bytes ? std::move(*bytes) : std::string());
        if (bytes) cp.free(h);
    }
    return in;
}

FuncType handles_to(size_t params, ValType result) {
    return FuncType{std::vector<ValType>(params, ValType::i64), {result}};
}

} // namespace

PluginFunction handle_function(std::shared_ptr<PluginHost> host, std::string name, size_t params,
                               HandleBody body) {
    PluginFunction f;
    f.ns = host_module_name;
    f.name = name;
    f.type = handles_to(params, ValType::i64);
    f.fn = [host = std::move(host), name, body = std::move(body)](
               CurrentPlugin& cp, std::span<const Value> args, std::span<Value> results) {
        results[0] = Value::i64(0);
        std::vector<std::string> in = take_handles(cp, args);
        HostFunctionScope scope(*host, cp);
        if (!scope.context()) return cp.set_error(scope.context().error().message);
        HostContext& ctx = **scope.context();
        auto out = body(ctx, in);
        if (!out) {
            ctx.call().last_error = std::move(out.error().message);
            return;
        }
        ctx.call().last_error.clear();
        if (!*out) return;
        const uint64_t h = cp.write(**out);
        if (h == 0)
            ctx.call().last_error =
                fmt::format("{}: no kernel memory for a result of {} bytes", name, (*out)->size());
        results[0] = Value::i64(int64_t(h));
    };
    return f;
}

PluginFunction status_function(
    std::shared_ptr<PluginHost> host, std::string name, size_t params,
    std::function<Result<void>(HostContext& ctx, std::span<const std::string> args)> body) {
    PluginFunction f;
    f.ns = host_module_name;
    f.name = std::move(name);
    f.type = handles_to(params, ValType::i32);
    f.fn = [host = std::move(host), body = std::move(body)](
               CurrentPlugin& cp, std::span<const Value> args, std::span<Value> results) {
        results[0] = Value::i32(-1);
        std::vector<std::string> in = take_handles(cp, args);
        HostFunctionScope scope(*host, cp);
        if (!scope.context()) return cp.set_error(scope.context().error().message);
        HostContext& ctx = **scope.context();
        auto ok = body(ctx, in);
        if (!ok) {
            ctx.call().last_error = std::move(ok.error().message);
            return;
        }
        ctx.call().last_error.clear();
        results[0] = Value::i32(0);
    };
    return f;
}

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> parse_object(std::string_view function, std::string_view text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return bad_request(function, "the request is not a JSON object");
    return j;
}

namespace {

/// A JSON value's text, or an error naming `function`.
Result<json> parse_value(std::string_view function, std::string_view text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return bad_request(function, "the value is not JSON");
    return j;
}

std::vector<PluginFunction> family_functions(const std::shared_ptr<PluginHost>& host) {
    using Args = std::span<const std::string>;
    std::vector<PluginFunction> fns;
    fns.push_back(status_function(host, "log", 2, [](HostContext& ctx, Args a) -> Result<void> {
        log(ctx, log_level_from(a[0]), a[1]);
        return {};
    }));
    fns.push_back(handle_function(
        host, "scope_get", 1, [](HostContext& ctx, Args a) -> Result<std::optional<std::string>> {
            auto v = scope_get(ctx, a[0]);
            if (!v) return tl::unexpected(v.error());
            if (!*v) return std::nullopt;
            return (*v)->dump();
        }));
    fns.push_back(
        status_function(host, "scope_set", 2, [](HostContext& ctx, Args a) -> Result<void> {
            auto value = parse_value("scope_set", a[1]);
            if (!value) return tl::unexpected(value.error());
            return scope_set(ctx, a[0], std::move(*value));
        }));
    using Out = Result<std::optional<std::string>>;
    // A family's JSON result as the block's text.
    auto text = [](Result<json> r) -> Out {
        if (!r) return tl::unexpected(r.error());
        return dump(*r);
    };
    // A JSON request from a block, to a family taking JSON.
    auto with_request = [text](const char* name,
                               Result<json> (*family)(HostContext&, const json&)) {
        return [name, family, text](HostContext& ctx, Args a) -> Out {
            auto request = parse_object(name, a[0]);
            if (!request) return tl::unexpected(request.error());
            return text(family(ctx, *request));
        };
    };
    fns.push_back(handle_function(host, "kv_get", 1,
                                  [](HostContext& ctx, Args a) { return kv_get(ctx, a[0]); }));
    fns.push_back(status_function(
        host, "kv_set", 2, [](HostContext& ctx, Args a) { return kv_set(ctx, a[0], a[1]); }));
    fns.push_back(status_function(host, "kv_delete", 1, [](HostContext& ctx, Args a) {
        auto gone = kv_delete(ctx, a[0]);
        if (!gone) return Result<void>(tl::unexpected(gone.error()));
        return Result<void>();
    }));
    fns.push_back(handle_function(host, "kv_list", 1, [](HostContext& ctx, Args a) -> Out {
        auto keys = kv_list(ctx, a[0]);
        if (!keys) return tl::unexpected(keys.error());
        return dump(json(*keys));
    }));
    fns.push_back(handle_function(host, "db_query", 1, with_request("db_query", db_query)));
    fns.push_back(
        handle_function(host, "http_request", 1, with_request("http_request", http_request)));
    fns.push_back(handle_function(host, "file_read", 1, [](HostContext& ctx, Args a) -> Out {
        auto content = file_read(ctx, a[0]);
        if (!content) return tl::unexpected(content.error());
        return std::move(*content);
    }));
    fns.push_back(status_function(host, "file_write", 2, [](HostContext& ctx, Args a) {
        return file_write(ctx, a[0], a[1]);
    }));
    fns.push_back(handle_function(host, "file_list", 1, [text](HostContext& ctx, Args a) {
        return text(file_list(ctx, a[0]));
    }));
    fns.push_back(handle_function(host, "file_stat", 1, [text](HostContext& ctx, Args a) {
        return text(file_stat(ctx, a[0]));
    }));
    fns.push_back(handle_function(
        host, "env_get", 1, [](HostContext& ctx, Args a) -> Out { return env_get(ctx, a[0]); }));
    fns.push_back(handle_function(host, "host_call", 2, [](HostContext& ctx, Args a) -> Out {
        auto out = host_call(ctx, a[0], a[1]);
        if (!out) return tl::unexpected(out.error());
        return std::move(*out);
    }));
    // last_error() -> i64: why the last kiln:host/v1 function of this call failed; 0 when it
    // did not.
    PluginFunction last;
    last.ns = host_module_name;
    last.name = "last_error";
    last.type = FuncType{{}, {ValType::i64}};
    last.fn = [host](CurrentPlugin& cp, std::span<const Value>, std::span<Value> results) {
        results[0] = Value::i64(0);
        HostFunctionScope scope(*host, cp);
        if (!scope.context()) return cp.set_error(scope.context().error().message);
        const std::string& message = (*scope.context())->call().last_error;
        if (!message.empty()) results[0] = Value::i64(int64_t(cp.write(message)));
    };
    fns.push_back(std::move(last));
    return fns;
}

} // namespace

std::vector<PluginFunction> host_module(const std::shared_ptr<PluginHost>& host,
                                        const std::vector<ModuleExtension>& extensions) {
    std::vector<PluginFunction> fns = family_functions(host);
    for (const ModuleExtension& extend : extensions) {
        std::vector<PluginFunction> more = extend(host);
        fns.insert(fns.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
    }
    return fns;
}

} // namespace kiln::hostfns
