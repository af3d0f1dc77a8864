#include "plugin/env.hpp"

#include "base/text.hpp"
#include "plugin/http.hpp"
#include "plugin/state.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kiln {

// ---- CurrentPlugin: what an embedder's host function sees

std::optional<std::string> CurrentPlugin::read(uint64_t handle) const {
    auto v = m_state.kernel.view(handle);
    if (!v) return std::nullopt;
    return std::string(*v);
}
uint64_t CurrentPlugin::write(std::string_view bytes) {
    return m_state.put(bytes);
}
uint64_t CurrentPlugin::alloc(uint64_t size) {
    return m_state.alloc(size);
}
void CurrentPlugin::free(uint64_t handle) {
    m_state.free(handle);
}
uint64_t CurrentPlugin::length(uint64_t handle) const {
    return m_state.kernel.length(handle);
}
std::optional<std::string> CurrentPlugin::config(const std::string& key) const {
    auto it = m_state.config.find(key);
    if (it == m_state.config.end()) return std::nullopt;
    return it->second;
}
std::optional<std::string> CurrentPlugin::var(const std::string& key) const {
    auto it = m_state.vars.find(key);
    if (it == m_state.vars.end()) return std::nullopt;
    return it->second;
}
bool CurrentPlugin::set_var(const std::string& key, std::optional<std::string_view> value) {
    return m_state.set_var(key, value);
}
void CurrentPlugin::set_error(std::string message) {
    m_state.host_error = std::move(message);
}

namespace plugin {

namespace {

constexpr const char* env_ns = "extism:host/env";

/// http_request(request_json, body): the request as the plugin describes it, within its limits.
uint64_t http_request_fn(Caller& c, uint64_t req, uint64_t body) {
    auto& s = current(c);
    std::string text = s.take(req);
    std::string payload = body ? s.take(body) : std::string();
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("url") || !j["url"].is_string()) {
        c.trap("http_request: the request is not a JSON object with a \"url\" string");
        return 0;
    }
    HttpRequest r;
    r.url = j["url"].get<std::string>();
    // Absent or null fields take their defaults; anything but the right type is refused, not
    // dropped, so that a plugin learns why its header never arrived.
    if (j.contains("method") && !j["method"].is_null()) {
        if (!j["method"].is_string()) {
            c.trap("http_request: \"method\" is not a string");
            return 0;
        }
        r.method = j["method"];
    }
    if (j.contains("headers") && !j["headers"].is_null()) {
        if (!j["headers"].is_object()) {
            c.trap("http_request: \"headers\" is not an object");
            return 0;
        }
        for (const auto& [k, v] : j["headers"].items()) {
            if (!v.is_string()) {
                c.trap(fmt::format("http_request: header {} is not a string", escape_control(k)));
                return 0;
            }
            r.headers.emplace_back(k, v.get<std::string>());
        }
    }
    r.body = std::move(payload);
    HttpLimits limits;
    limits.allowed_hosts = &s.manifest->allowed_hosts;
    limits.max_body = s.manifest->max_http_response_bytes;
    limits.deadline = s.call_deadline;
    limits.should_stop = [&c] { return c.should_stop(); };
    auto resp = http_request(r, limits);
    if (!resp) {
        // Out of time or cancelled: report it as the call's timeout or cancellation.
        if (!c.should_stop()) c.trap(resp.error().message);
        return 0;
    }
    s.http_status = resp->status;
    if (s.http_headers_enabled) {
        nlohmann::json h = nlohmann::json::object();
        for (const auto& [k, v] : resp->headers)
            h[k] = v;
        s.http_headers = h.dump();
    }
    if (resp->body.empty()) return 0;
    uint64_t out = s.put(resp->body);
    if (!out) c.trap("http_request: no kernel memory for the response body");
    return out;
}

} // namespace

void define_env(Linker& l) {
    using u64 = uint64_t;
    auto def = [&](const char* name, auto f) { l.func_wrap(env_ns, name, f); };
    def("alloc", [](Caller& c, u64 n) -> u64 { return current(c).alloc(n); });
    def("free", [](Caller& c, u64 h) { current(c).free(h); });
    def("length", [](Caller& c, u64 h) -> u64 { return current(c).kernel.length(h); });
    def("length_unsafe", [](Caller& c, u64 h) -> u64 { return current(c).kernel.length(h); });
    def("load_u8", [](Caller& c, u64 a) -> int32_t { return current(c).kernel.load_u8(a); });
    def("load_u64", [](Caller& c, u64 a) -> u64 { return current(c).kernel.load_u64(a); });
    def("store_u8", [](Caller& c, u64 a, int32_t v) { current(c).kernel.store_u8(a, uint8_t(v)); });
    def("store_u64", [](Caller& c, u64 a, u64 v) { current(c).kernel.store_u64(a, v); });
    def("input_length", [](Caller& c) -> u64 { return current(c).input_len; });
    def("input_offset", [](Caller& c) -> u64 { return current(c).input; });
    def("input_load_u8", [](Caller& c, u64 off) -> int32_t {
        auto& s = current(c);
        return off < s.input_len ? s.kernel.load_u8(s.input + off) : 0;
    });
    def("input_load_u64", [](Caller& c, u64 off) -> u64 {
        auto& s = current(c);
        return off < s.input_len && s.input_len - off >= 8 ? s.kernel.load_u64(s.input + off) : 0;
    });
    def("input_set", [](Caller& c, u64 h, u64 len) {
        auto& s = current(c);
        s.input = h;
        s.input_len = len;
    });
    def("output_set", [](Caller& c, u64 h, u64 len) {
        auto& s = current(c);
        s.output = h;
        s.output_len = len;
    });
    def("output_offset", [](Caller& c) -> u64 { return current(c).output; });
    def("output_length", [](Caller& c) -> u64 { return current(c).output_len; });
    def("error_set", [](Caller& c, u64 h) { current(c).error = h; });
    def("error_get", [](Caller& c) -> u64 { return current(c).error; });
    def("reset", [](Caller& c) { current(c).reset_call(); });
    def("memory_bytes", [](Caller& c) -> u64 { return current(c).kernel.bytes_in_use(); });
    def("config_get", [](Caller& c, u64 key) -> u64 {
        auto& s = current(c);
        auto it = s.config.find(s.take(key));
        return it == s.config.end() ? 0 : s.put(it->second);
    });
    def("var_get", [](Caller& c, u64 key) -> u64 {
        auto& s = current(c);
        auto it = s.vars.find(s.take(key));
        return it == s.vars.end() ? 0 : s.put(it->second);
    });
    def("var_set", [](Caller& c, u64 key, u64 value) {
        auto& s = current(c);
        std::string k = s.take(key);
        if (s.manifest->max_var_bytes == 0) {
            if (value) s.free(value);
            return c.trap("vars are disabled (memory.max_var_bytes is 0)");
        }
        std::optional<std::string> v;
        if (value) v = s.take(value);
        if (!s.set_var(k, v))
            c.trap(fmt::format("var store full: setting \"{}\" would exceed max_var_bytes ({} "
                               "bytes)",
                               escape_control(k), s.manifest->max_var_bytes));
    });
    def("http_request",
        [](Caller& c, u64 req, u64 body) -> u64 { return http_request_fn(c, req, body); });
    def("http_status_code", [](Caller& c) -> int32_t { return current(c).http_status; });
    def("http_headers", [](Caller& c) -> u64 {
        auto& s = current(c);
        return s.http_headers_enabled && !s.http_headers.empty() ? s.put(s.http_headers) : 0;
    });
    static const char* names[] = {"log_trace", "log_debug", "log_info", "log_warn", "log_error"};
    for (int lv = 0; lv < 5; ++lv)
        def(names[lv], [lv](Caller& c, u64 msg) {
            auto& s = current(c);
            // A handle that is no block (0, foreign, freed) logs nothing.
            std::string text = s.take(msg);
            if (!text.empty()) emit_log(s, LogLevel(lv), text);
        });
    def("get_log_level", [](Caller& c) -> int32_t { return current(c).log_level; });
}

HostFunc wrap_host_function(const PluginFunction& f) {
    auto fn = f.fn;
    return host_func(f.type,
                     [fn](Caller& caller, std::span<const Value> args, std::span<Value> results) {
                         CurrentPlugin::State& s = current(caller);
                         CurrentPlugin cp(s, caller);
                         fn(cp, args, results);
                         if (s.host_error && !caller.pending_trap()) caller.trap(*s.host_error);
                     });
}

} // namespace plugin

} // namespace kiln
