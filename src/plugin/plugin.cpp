// The Extism ABI over Kiln's public API. A CompiledPlugin holds the compiled modules and one
// Linker with the kernel functions (extism:host/env) and the embedder's host functions; those
// find the calling plugin's state through a thread-local set for the duration of a call, so the
// Linker is built once and creating a Plugin only instantiates.
#include <kiln/kiln.hpp>
#include <kiln/plugin.hpp>

#include "base/result.hpp"
#include "plugin/http.hpp"
#include "plugin/kernel.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sodium.h>
#define SPDLOG_HEADER_ONLY
#define SPDLOG_FMT_EXTERNAL
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln {

namespace {

constexpr const char* env_ns = "extism:host/env";
constexpr uint64_t page = 65536;

/// Log levels as the ABI numbers them; off is INT32_MAX.
std::optional<int32_t> log_level_of(std::string_view name) {
    if (name == "trace") return 0;
    if (name == "debug") return 1;
    if (name == "info") return 2;
    if (name == "warn") return 3;
    if (name == "error") return 4;
    if (name == "off") return INT32_MAX;
    return std::nullopt;
}

spdlog::logger& plugin_logger() {
    static std::shared_ptr<spdlog::logger> logger = [] {
        auto l = spdlog::get("kiln.plugin");
        if (!l) l = spdlog::stderr_color_mt("kiln.plugin");
        l->set_level(spdlog::level::trace); // each plugin filters by its own level
        return l;
    }();
    return *logger;
}

} // namespace

struct CurrentPlugin::State {
    plugin::Kernel kernel;
    uint64_t input = 0, input_len = 0;
    uint64_t output = 0, output_len = 0;
    uint64_t error = 0;                    ///< block set by error_set
    std::optional<std::string> host_error; ///< set by a host function
    std::map<std::string, std::string> vars;
    uint64_t var_bytes = 0;
    std::map<std::string, std::string> config;
    const Manifest* manifest = nullptr;
    bool http_headers_enabled = false;
    int32_t log_level = 2;
    int http_status = 0;
    std::string http_headers;
    bool in_call = false;
    /// When the running call must end (timeout_ms from its start); HTTP gets what is left.
    std::optional<std::chrono::steady_clock::time_point> call_deadline;
    // Memory accounting across linear and kernel memory.
    Store* store = nullptr;
    std::optional<Memory> memory;
    std::optional<uint64_t> max_bytes;

    /// Keeps linear + kernel memory within max_pages: the kernel gets what linear memory does
    /// not use, and the store's limit for linear memory is what the kernel does not use.
    void rebalance() {
        if (!max_bytes) return;
        uint64_t linear = memory ? memory->size(*store).value_or(0) : 0;
        kernel.set_budget(*max_bytes - std::min(*max_bytes, linear));
        store->set_memory_limit(*max_bytes - std::min(*max_bytes, kernel.bytes_in_use()));
    }
    uint64_t alloc(uint64_t size) {
        rebalance();
        uint64_t h = kernel.alloc(size);
        if (h) rebalance();
        return h;
    }
    uint64_t put(std::string_view bytes) {
        rebalance();
        uint64_t h = kernel.put(bytes);
        if (h) rebalance();
        return h;
    }
    /// Reads a block the plugin hands over and frees it, as the ABI says the host does.
    std::string take(uint64_t handle) {
        auto v = kernel.view(handle);
        std::string s = v ? std::string(*v) : std::string();
        kernel.free(handle);
        return s;
    }
    bool set_var(const std::string& key, std::optional<std::string_view> value) {
        auto it = vars.find(key);
        uint64_t old = it == vars.end() ? 0 : key.size() + it->second.size();
        uint64_t add = value ? key.size() + value->size() : 0;
        if (value && var_bytes - old + add > manifest->max_var_bytes) return false;
        var_bytes = var_bytes - old + add;
        if (value)
            vars[key] = std::string(*value);
        else if (it != vars.end())
            vars.erase(it);
        return true;
    }
    void reset_call() {
        kernel.reset();
        input = input_len = output = output_len = error = 0;
        host_error.reset();
    }
};

namespace {

thread_local CurrentPlugin::State* t_current = nullptr;

/// The state of the plugin whose call is running on this thread.
CurrentPlugin::State& current() {
    return *t_current;
}

} // namespace

// ---- CurrentPlugin

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
    m_state.kernel.free(handle);
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

// ---- CompiledPlugin

struct CompiledPlugin::Impl {
    Engine engine;
    Manifest manifest;
    PluginOptions options;
    std::vector<std::pair<std::string, Module>> modules; ///< side modules first, main last
    Linker linker;                                       ///< kernel + embedder host functions
};

CompiledPlugin::CompiledPlugin(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CompiledPlugin::~CompiledPlugin() = default;
const Manifest& CompiledPlugin::manifest() const {
    return m_impl->manifest;
}

namespace {

Result<std::vector<uint8_t>> wasm_bytes(const Manifest::Wasm& w) {
    std::vector<uint8_t> bytes;
    std::string what;
    if (!w.path.empty()) {
        std::ifstream in(w.path, std::ios::binary);
        if (!in) return make_error(ErrorKind::io, fmt::format("{}: cannot open", w.path));
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        what = w.path;
    } else if (!w.url.empty()) {
        plugin::HttpLimits limits;
        static const std::vector<std::string> any{"*"};
        limits.allowed_hosts = &any; // the embedder chose this URL, not the plugin
        limits.max_body = 1u << 30;
        auto r = plugin::http_request({w.url, "GET", {}, {}}, limits);
        if (!r) return tl::unexpected(r.error());
        if (r->status < 200 || r->status > 299)
            return make_error(ErrorKind::io, fmt::format("{}: HTTP status {}", w.url, r->status));
        bytes.assign(r->body.begin(), r->body.end());
        what = w.url;
    } else {
        bytes = w.data;
        what = w.name.empty() ? "inline wasm" : w.name;
    }
    if (!w.hash.empty()) {
        if (sodium_init() < 0) return make_error(ErrorKind::io, "libsodium failed to start");
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(digest, bytes.data(), bytes.size());
        std::string hex;
        for (unsigned char b : digest)
            hex += fmt::format("{:02x}", b);
        std::string want = w.hash;
        std::transform(want.begin(), want.end(), want.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        if (hex != want)
            return make_error(ErrorKind::invalid,
                              fmt::format("{}: hash mismatch: the manifest says {}, the module's "
                                          "sha256 is {}",
                                          what, w.hash, hex));
    }
    return bytes;
}

/// Defines the kernel and host functions of extism:host/env.
void define_env(Linker& l) {
    using u64 = uint64_t;
    auto def = [&](const char* name, auto f) { l.func_wrap(env_ns, name, f); };
    def("alloc", [](u64 n) -> u64 { return current().alloc(n); });
    def("free", [](u64 h) { current().kernel.free(h); });
    def("length", [](u64 h) -> u64 { return current().kernel.length(h); });
    def("length_unsafe", [](u64 h) -> u64 { return current().kernel.length(h); });
    def("load_u8", [](u64 a) -> int32_t { return current().kernel.load_u8(a); });
    def("load_u64", [](u64 a) -> u64 { return current().kernel.load_u64(a); });
    def("store_u8", [](u64 a, int32_t v) { current().kernel.store_u8(a, uint8_t(v)); });
    def("store_u64", [](u64 a, u64 v) { current().kernel.store_u64(a, v); });
    def("input_length", []() -> u64 { return current().input_len; });
    def("input_offset", []() -> u64 { return current().input; });
    def("input_load_u8", [](u64 off) -> int32_t {
        auto& s = current();
        return off < s.input_len ? s.kernel.load_u8(s.input + off) : 0;
    });
    def("input_load_u64", [](u64 off) -> u64 {
        auto& s = current();
        return off < s.input_len && s.input_len - off >= 8 ? s.kernel.load_u64(s.input + off) : 0;
    });
    def("input_set", [](u64 h, u64 len) {
        auto& s = current();
        s.input = h;
        s.input_len = len;
    });
    def("output_set", [](u64 h, u64 len) {
        auto& s = current();
        s.output = h;
        s.output_len = len;
    });
    def("output_offset", []() -> u64 { return current().output; });
    def("output_length", []() -> u64 { return current().output_len; });
    def("error_set", [](u64 h) { current().error = h; });
    def("error_get", []() -> u64 { return current().error; });
    def("reset", []() { current().reset_call(); });
    def("memory_bytes", []() -> u64 { return current().kernel.bytes_in_use(); });
    def("config_get", [](u64 key) -> u64 {
        auto& s = current();
        auto it = s.config.find(s.take(key));
        return it == s.config.end() ? 0 : s.put(it->second);
    });
    def("var_get", [](u64 key) -> u64 {
        auto& s = current();
        auto it = s.vars.find(s.take(key));
        return it == s.vars.end() ? 0 : s.put(it->second);
    });
    def("var_set", [](Caller& c, u64 key, u64 value) {
        auto& s = current();
        std::string k = s.take(key);
        if (s.manifest->max_var_bytes == 0) {
            if (value) s.kernel.free(value);
            return c.trap("vars are disabled (memory.max_var_bytes is 0)");
        }
        std::optional<std::string> v;
        if (value) v = s.take(value);
        if (!s.set_var(k, v))
            c.trap(fmt::format("var store full: setting \"{}\" would exceed max_var_bytes ({} "
                               "bytes)",
                               k, s.manifest->max_var_bytes));
    });
    def("http_request", [](Caller& c, u64 req, u64 body) -> u64 {
        auto& s = current();
        std::string text = s.take(req);
        std::string payload = body ? s.take(body) : std::string();
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("url") || !j["url"].is_string()) {
            c.trap("http_request: the request is not a JSON object with a \"url\" string");
            return 0;
        }
        plugin::HttpRequest r;
        r.url = j["url"].get<std::string>();
        if (j.contains("method") && j["method"].is_string()) r.method = j["method"];
        if (j.contains("headers") && j["headers"].is_object())
            for (const auto& [k, v] : j["headers"].items())
                if (v.is_string()) r.headers.emplace_back(k, v.get<std::string>());
        r.body = std::move(payload);
        plugin::HttpLimits limits;
        limits.allowed_hosts = &s.manifest->allowed_hosts;
        limits.max_body = s.manifest->max_http_response_bytes;
        limits.deadline = s.call_deadline;
        limits.should_stop = [&c] { return c.should_stop(); };
        auto resp = plugin::http_request(r, limits);
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
    });
    def("http_status_code", []() -> int32_t { return current().http_status; });
    def("http_headers", []() -> u64 {
        auto& s = current();
        return s.http_headers_enabled && !s.http_headers.empty() ? s.put(s.http_headers) : 0;
    });
    static const spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug,
                                                       spdlog::level::info, spdlog::level::warn,
                                                       spdlog::level::err};
    static const char* names[] = {"log_trace", "log_debug", "log_info", "log_warn", "log_error"};
    for (int lv = 0; lv < 5; ++lv)
        def(names[lv], [lv](u64 msg) {
            auto& s = current();
            std::string text = s.take(msg);
            if (lv >= s.log_level) plugin_logger().log(levels[lv], "{}", text);
        });
    def("get_log_level", []() -> int32_t { return current().log_level; });
}

/// Wraps an embedder's host function for the Linker.
HostFunc wrap(const PluginFunction& f) {
    auto fn = f.fn;
    return host_func(f.type,
                     [fn](Caller& caller, std::span<const Value> args, std::span<Value> results) {
                         CurrentPlugin cp(current(), caller);
                         fn(cp, args, results);
                         if (current().host_error && !caller.pending_trap())
                             caller.trap(*current().host_error);
                     });
}

} // namespace

Result<std::shared_ptr<const CompiledPlugin>>
CompiledPlugin::create(const Engine& engine, Manifest manifest, PluginOptions options) {
    if (manifest.wasm.empty()) return make_error(ErrorKind::usage, "manifest: no wasm modules");
    if (!log_level_of(options.log_level))
        return make_error(ErrorKind::usage, fmt::format("unknown log level \"{}\" (trace, debug, "
                                                        "info, warn, error, off)",
                                                        options.log_level));
    auto impl =
        std::make_unique<Impl>(Impl{engine, std::move(manifest), std::move(options), {}, Linker()});
    const Manifest& m = impl->manifest;
    // The main module is the one named "main", else the last.
    size_t main = m.wasm.size() - 1;
    for (size_t i = 0; i < m.wasm.size(); ++i)
        if (m.wasm[i].name == "main") main = i;
    for (size_t i = 0; i <= m.wasm.size(); ++i) {
        if (i == m.wasm.size())
            i = main; // main last
        else if (i == main)
            continue;
        KILN_TRY(bytes, wasm_bytes(m.wasm[i]));
        auto module = Module::compile(engine, bytes);
        std::string name = m.wasm[i].name.empty() ? (i == main ? "main" : fmt::format("wasm{}", i))
                                                  : m.wasm[i].name;
        if (!module)
            return make_error(module.error().kind,
                              fmt::format("module {}: {}", name, module.error().message));
        impl->modules.emplace_back(name, std::move(*module));
        if (i == main) break;
    }
    define_env(impl->linker);
    for (const PluginFunction& f : impl->options.functions)
        impl->linker.define_func(f.ns, f.name, wrap(f));
    return std::make_shared<const CompiledPlugin>(std::move(impl));
}

// ---- Plugin

struct Plugin::Impl {
    std::shared_ptr<const CompiledPlugin> compiled;
    std::unique_ptr<Store> store;
    std::shared_ptr<Wasi> wasi;
    std::optional<Instance> main;
    std::unique_ptr<CurrentPlugin::State> state;
    int32_t last_rc = 0;
    bool needs_fresh = false;
    /// Exports looked up by name, with whether they return an rc; cleared with the instance.
    struct Export {
        std::optional<TypedFunc<int32_t()>> with_rc; ///< () -> i32
        std::optional<TypedFunc<void()>> without;    ///< () -> ()
        /// Calls without boxing values: the rc, 0 for a function without one.
        Result<int32_t> call(Store& store) const {
            if (with_rc) return with_rc->call(store);
            KILN_CHECK(without->call(store));
            return 0;
        }
    };
    std::map<std::string, Export, std::less<>> exports;

    Result<void> instantiate();
    Result<Export> lookup(std::string_view name);
    Result<void> init(Instance& inst, bool command_side_module);
};

namespace {

/// Calls `name` if exported, with zeros for its parameters.
Result<void> call_if_exported(Store& store, Instance& inst, const char* name) {
    auto f = inst.get_func(store, name);
    if (!f) return {};
    KILN_TRY(type, f->type(store));
    std::vector<Value> args;
    for (ValType t : type.params)
        args.push_back(Value{t, 0});
    auto r = f->call(store, args);
    if (!r && r.error().kind == ErrorKind::exit && r.error().trap->exit_code == 0) return {};
    if (!r)
        return make_error(ErrorKind::uninstantiable,
                          fmt::format("{} failed: {}", name, r.error().message));
    return {};
}

} // namespace

Result<void> Plugin::Impl::init(Instance& inst, bool command_side_module) {
    CurrentPlugin::State* saved = t_current;
    t_current = state.get();
    state->in_call = true;
    Result<void> r;
    if (inst.get_func(*store, "_initialize"))
        r = call_if_exported(*store, inst, "_initialize");
    else if (inst.get_func(*store, "__wasm_call_ctors"))
        r = call_if_exported(*store, inst, "__wasm_call_ctors");
    // A command-style side module (TinyGo builds them) is set up by its _start, run once.
    else if (command_side_module)
        r = call_if_exported(*store, inst, "_start");
    if (r) r = call_if_exported(*store, inst, "hs_init");
    state->in_call = false;
    t_current = saved;
    return r;
}

Result<void> Plugin::Impl::instantiate() {
    const CompiledPlugin::Impl& c = compiled->impl();
    store = std::make_unique<Store>(c.engine);
    store->set_reuse_after_trap(true);
    if (c.manifest.timeout_ms)
        store->set_timeout(std::chrono::milliseconds(*c.manifest.timeout_ms));
    state->store = store.get();
    state->memory.reset();
    if (c.manifest.max_pages) {
        state->max_bytes = uint64_t(*c.manifest.max_pages) * page;
        store->set_memory_limit(*state->max_bytes);
    }
    Linker linker = c.linker;
    if (c.options.wasi) {
        WasiConfig wc;
        wc.preopens = c.manifest.allowed_paths;
        auto to_log = [](spdlog::level::level_enum lv) {
            return WasiStream::callback([lv](std::string_view s) {
                while (!s.empty() && s.back() == '\n')
                    s.remove_suffix(1);
                if (!s.empty()) plugin_logger().log(lv, "{}", s);
            });
        };
        wc.stdout_stream = to_log(spdlog::level::info);
        wc.stderr_stream = to_log(spdlog::level::warn);
        KILN_TRY(w, Wasi::create(std::move(wc)));
        wasi = w;
        Wasi::define(linker);
        wasi->attach(*store);
    }
    state->reset_call();
    for (size_t i = 0; i < c.modules.size(); ++i) {
        const auto& [name, module] = c.modules[i];
        bool is_main = i + 1 == c.modules.size();
        auto inst = linker.instantiate(*store, module);
        if (!inst)
            return make_error(inst.error().kind,
                              fmt::format("module {}: {}", name, inst.error().message));
        if (is_main) {
            main = *inst;
            if (auto mem = inst->get_memory(*store, "memory")) state->memory = *mem;
        }
        KILN_CHECK(init(*inst, !is_main && !inst->get_func(*store, "_initialize")));
        if (!is_main) linker.define_instance(*store, name, *inst);
    }
    needs_fresh = false;
    exports.clear();
    return {};
}

Result<Plugin::Impl::Export> Plugin::Impl::lookup(std::string_view name) {
    if (auto it = exports.find(name); it != exports.end()) return it->second;
    std::string n(name);
    auto func = main->get_func(*store, n);
    if (!func) return make_error(ErrorKind::usage, fmt::format("no exported function \"{}\"", n));
    KILN_TRY(type, func->type(*store));
    bool returns_rc = type.results.size() == 1 && type.results[0] == ValType::i32;
    if (!type.params.empty() || !(type.results.empty() || returns_rc))
        return make_error(ErrorKind::usage,
                          fmt::format("{} has type {}; plugin functions take nothing and return "
                                      "an i32 or nothing",
                                      n, functype_string(type)));
    Export e;
    if (returns_rc)
        e.with_rc = *func->typed<int32_t()>(*store);
    else
        e.without = *func->typed<void()>(*store);
    exports.emplace(n, e);
    return e;
}

Plugin::Plugin(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Plugin::Plugin(Plugin&&) noexcept = default;
Plugin& Plugin::operator=(Plugin&&) noexcept = default;
Plugin::~Plugin() = default;

Result<Plugin> Plugin::create(std::shared_ptr<const CompiledPlugin> compiled) {
    auto impl = std::make_unique<Impl>();
    const CompiledPlugin::Impl& c = compiled->impl();
    impl->compiled = std::move(compiled);
    impl->state = std::make_unique<CurrentPlugin::State>();
    impl->state->manifest = &c.manifest;
    impl->state->config = c.manifest.config;
    impl->state->http_headers_enabled = c.options.http_response_headers;
    impl->state->log_level = *log_level_of(c.options.log_level);
    KILN_CHECK(impl->instantiate());
    return Plugin(std::move(impl));
}

Result<Plugin> Plugin::create(const Engine& engine, Manifest manifest, PluginOptions options) {
    KILN_TRY(compiled, CompiledPlugin::create(engine, std::move(manifest), std::move(options)));
    return create(std::move(compiled));
}

bool Plugin::function_exists(std::string_view function) const {
    return m_impl->main && m_impl->main->get_func(*m_impl->store, std::string(function));
}

CancelHandle Plugin::cancel_handle() const {
    return CancelHandle(m_impl->store->interrupt_handle());
}

void Plugin::update_config(const std::map<std::string, std::optional<std::string>>& updates) {
    for (const auto& [k, v] : updates) {
        if (v)
            m_impl->state->config[k] = *v;
        else
            m_impl->state->config.erase(k);
    }
}

Result<void> Plugin::reset() {
    if (m_impl->state->in_call)
        return make_error(ErrorKind::usage, "a plugin cannot be reset from inside its own call");
    m_impl->state->vars.clear();
    m_impl->state->var_bytes = 0;
    return m_impl->instantiate();
}

Result<void> Plugin::set_log_level(std::string_view level) {
    auto lv = log_level_of(level);
    if (!lv)
        return make_error(ErrorKind::usage,
                          fmt::format("unknown log level \"{}\" (trace, debug, info, warn, error, "
                                      "off)",
                                      level));
    m_impl->state->log_level = *lv;
    return {};
}

int32_t Plugin::last_rc() const {
    return m_impl->last_rc;
}

Result<std::string> Plugin::call(std::string_view function, std::string_view input) {
    Impl& p = *m_impl;
    CurrentPlugin::State& s = *p.state;
    if (s.in_call)
        return make_error(ErrorKind::usage,
                          fmt::format("call to {}: a plugin cannot be called from inside its own "
                                      "call (re-entrant call refused)",
                                      function));
    if (p.needs_fresh) KILN_CHECK(p.instantiate());
    KILN_TRY(exported, p.lookup(function));
    std::string_view name = function;
    s.reset_call();
    if (!input.empty()) {
        s.input = s.put(input);
        if (!s.input)
            return make_error(
                ErrorKind::limit,
                fmt::format("no kernel memory for an input of {} bytes (max_pages)", input.size()));
        s.input_len = input.size();
    }
    const Manifest& m = p.compiled->manifest();
    if (m.fuel) p.store->set_fuel(*m.fuel);
    CurrentPlugin::State* saved = t_current;
    t_current = &s;
    s.in_call = true;
    s.call_deadline.reset();
    if (m.timeout_ms)
        s.call_deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(*m.timeout_ms);
    auto r = exported.call(*p.store);
    s.in_call = false;
    t_current = saved;
    if (name == "_start") p.needs_fresh = true; // a command's instance is finished

    int32_t rc = 0;
    std::optional<std::string> failure;
    if (r) {
        rc = *r;
    } else if (r.error().kind == ErrorKind::exit) {
        rc = r.error().trap->exit_code;
    } else {
        // A trap may leave the instance's memory inconsistent: the next call gets a fresh one.
        p.needs_fresh = true;
        rc = -1;
        const Error& e = r.error();
        TrapKind k = e.trap ? e.trap->kind : TrapKind::host_error;
        if (k == TrapKind::deadline)
            failure = fmt::format("{}: timeout after {} ms", name, m.timeout_ms.value_or(0));
        else if (k == TrapKind::interrupted)
            failure = fmt::format("{}: cancelled", name);
        else if (k == TrapKind::out_of_fuel)
            failure = fmt::format("{}: fuel exhausted", name);
        else
            failure = fmt::format("{}: {}", name, e.message);
    }
    p.last_rc = rc;
    std::optional<std::string> message;
    if (s.error) {
        auto v = s.kernel.view(s.error);
        message = v ? std::string(*v) : std::string("error_set with an invalid handle");
    } else if (s.host_error) {
        message = s.host_error;
    }
    if (failure) {
        std::string text = message ? fmt::format("{} ({})", *failure, *message) : *failure;
        // The trap stays attached: its kind says which limit stopped the call.
        return tl::unexpected(Error{r.error().kind, std::move(text), r.error().trap});
    }
    if (message) return make_error(ErrorKind::plugin, *message);
    if (rc != 0) return make_error(ErrorKind::plugin, fmt::format("{} returned {}", name, rc));
    if (!s.output) {
        if (s.output_len)
            return make_error(
                ErrorKind::plugin,
                fmt::format("{} set an output of {} bytes with a null handle", name, s.output_len));
        return std::string();
    }
    auto out = s.kernel.view(s.output, s.output_len);
    if (!out)
        return make_error(ErrorKind::plugin,
                          fmt::format("{}: output_set names {} bytes at handle {}, outside any "
                                      "block (length {})",
                                      name, s.output_len, s.output, s.kernel.length(s.output)));
    return std::string(*out);
}

Result<std::vector<uint8_t>> Plugin::call(std::string_view function,
                                          std::span<const uint8_t> input) {
    KILN_TRY(out, call(function, std::string_view(reinterpret_cast<const char*>(input.data()),
                                                  input.size())));
    return std::vector<uint8_t>(out.begin(), out.end());
}

// ---- PluginPool

PluginPool::PluginPool(std::shared_ptr<const CompiledPlugin> compiled, size_t max)
    : m_compiled(std::move(compiled)), m_max(max) {}
PluginPool::~PluginPool() = default;

PluginPool::Lease::~Lease() {
    if (m_pool && m_plugin) m_pool->give_back(std::move(m_plugin));
}

void PluginPool::give_back(std::unique_ptr<Plugin> plugin) {
    {
        std::lock_guard lock(m_mutex);
        m_free.push_back(std::move(plugin));
    }
    m_cv.notify_one();
}

Result<PluginPool::Lease> PluginPool::get(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!m_free.empty()) {
            auto p = std::move(m_free.back());
            m_free.pop_back();
            return Lease(this, std::move(p));
        }
        if (m_created < m_max) {
            ++m_created;
            lock.unlock();
            auto p = Plugin::create(m_compiled);
            if (!p) {
                std::lock_guard again(m_mutex);
                --m_created;
                return tl::unexpected(p.error());
            }
            return Lease(this, std::make_unique<Plugin>(std::move(*p)));
        }
        if (m_cv.wait_until(lock, until) == std::cv_status::timeout && m_free.empty() &&
            m_created >= m_max)
            return make_error(ErrorKind::limit,
                              fmt::format("no plugin instance free within {} ms ({} in use)",
                                          timeout.count(), m_max));
    }
}

} // namespace kiln
