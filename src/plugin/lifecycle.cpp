// A Plugin's instance: made from its CompiledPlugin in a new Store, initialized once, and made
// again after a trap, a `_start` or reset(); vars and config live in the plugin, not the
// instance, and a CancelHandle follows it to each new Store.
#include "base/result.hpp"
#include "base/time.hpp"
#include "plugin/impl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace kiln {

namespace {

constexpr uint64_t page = 65536;

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
    // The trap's own message: the error's would name the function a second time.
    if (!r)
        return make_error(
            ErrorKind::uninstantiable,
            fmt::format("{} failed: {}", name,
                        r.error().trap ? r.error().trap->message : r.error().message));
    return {};
}

} // namespace

void CancelHandle::cancel() const {
    std::lock_guard lock(m_target->mutex);
    if (m_target->phase == Target::Phase::idle || !m_target->store) return;
    // While a call is being prepared its instance may be rebuilt: remember the cancel too.
    if (m_target->phase == Target::Phase::preparing) m_target->cancelled = true;
    m_target->store->interrupt();
}

void CancelHandle::suspend() const {
    std::lock_guard lock(m_target->mutex);
    // Only a call whose wasm runs can suspend; one being prepared is left to start.
    if (m_target->phase != Target::Phase::running || !m_target->store) return;
    m_target->store->suspend();
}

Result<void> Plugin::Impl::init(Instance& inst, bool command_side_module) {
    plugin::CallScope scope(*state);
    if (inst.get_func(*store, "_initialize"))
        KILN_CHECK(call_if_exported(*store, inst, "_initialize"));
    else if (inst.get_func(*store, "__wasm_call_ctors"))
        KILN_CHECK(call_if_exported(*store, inst, "__wasm_call_ctors"));
    // A command-style side module (TinyGo builds them) is set up by its _start, run once.
    else if (command_side_module)
        KILN_CHECK(call_if_exported(*store, inst, "_start"));
    return call_if_exported(*store, inst, "hs_init");
}

Result<void> Plugin::Impl::instantiate(bool initialize) {
    const CompiledPlugin::Impl& c = compiled->impl();
    // Until this succeeds there is no usable instance: a failure leaves the next call to retry.
    needs_fresh = true;
    main.reset();
    exports.clear();
    store = std::make_unique<Store>(c.engine);
    // The kernel and host functions find the state through the store; the plugin owns it.
    store->set_data(std::shared_ptr<CurrentPlugin::State>(std::shared_ptr<void>(), state.get()));
    store->set_reuse_after_trap(true);
    cancel->set_store(store->interrupt_handle());
    if (c.manifest.timeout_ms) store->set_timeout(saturating_milliseconds(*c.manifest.timeout_ms));
    state->store = store.get();
    state->max_bytes = uint64_t(c.manifest.max_pages.value_or(Manifest::default_max_pages)) * page;
    // One module links against the compiled plugin's linker as it is; modules linked by name
    // are defined, for this store, in a copy.
    std::optional<Linker> own;
    if (c.modules.size() > 1) own.emplace(c.linker);
    const Linker& linker = own ? *own : c.linker;
    if (c.options.wasi) {
        WasiConfig wc;
        wc.preopens = c.manifest.allowed_paths;
        const CurrentPlugin::State* s = state.get();
        auto to_log = [s](LogLevel level) {
            return WasiStream::callback(
                [s, level](std::string_view text) { plugin::emit_log_lines(*s, level, text); });
        };
        wc.stdout_stream = c.options.wasi_stdout.value_or(to_log(LogLevel::info));
        wc.stderr_stream = c.options.wasi_stderr.value_or(to_log(LogLevel::warn));
        KILN_TRY(w, Wasi::create(std::move(wc)));
        wasi = w;
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
        if (is_main) main = *inst;
        if (initialize) KILN_CHECK(init(*inst, !is_main && !inst->get_func(*store, "_initialize")));
        if (!is_main) own->define_instance(*store, name, *inst);
    }
    needs_fresh = false;
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

std::unique_ptr<Plugin::Impl> Plugin::Impl::make(std::shared_ptr<const CompiledPlugin> compiled) {
    auto impl = std::make_unique<Impl>();
    const CompiledPlugin::Impl& c = compiled->impl();
    impl->compiled = std::move(compiled);
    impl->state = std::make_unique<CurrentPlugin::State>();
    impl->state->manifest = &c.manifest;
    impl->state->name = &c.name;
    impl->state->log = &c.options.log;
    impl->state->config = c.manifest.config;
    impl->state->http_headers_enabled = c.options.http_response_headers;
    impl->state->log_level = *plugin::log_level_of(c.options.log_level);
    return impl;
}

Result<Plugin> Plugin::create(std::shared_ptr<const CompiledPlugin> compiled) {
    auto impl = Impl::make(std::move(compiled));
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

std::vector<std::string> Plugin::functions() const {
    std::vector<std::string> names;
    if (m_impl->main)
        for (const auto& [name, ext] : m_impl->main->exports(*m_impl->store))
            if (ext.kind() == ExternKind::func) names.push_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

CancelHandle Plugin::cancel_handle() const {
    return CancelHandle(m_impl->cancel);
}

void Plugin::add_observer(CallObserver observer) {
    m_impl->observers.push_back(std::move(observer));
}

const std::string& Plugin::name() const {
    return m_impl->compiled->name();
}

void Plugin::update_config(const std::map<std::string, std::optional<std::string>>& updates) {
    for (const auto& [k, v] : updates) {
        if (v)
            m_impl->state->config[k] = *v;
        else
            m_impl->state->config.erase(k);
    }
}

std::map<std::string, std::string> Plugin::vars() const {
    return m_impl->state->vars;
}

Result<void> Plugin::set_vars(std::map<std::string, std::string> vars) {
    CurrentPlugin::State& s = *m_impl->state;
    if (s.in_call)
        return make_error(ErrorKind::usage, "a plugin's vars cannot be replaced inside its call");
    const uint64_t bytes = plugin::var_bytes_of(vars);
    if (bytes > s.manifest->max_var_bytes)
        return make_error(ErrorKind::limit,
                          fmt::format("vars of {} bytes exceed max_var_bytes ({})", bytes,
                                      s.manifest->max_var_bytes));
    s.vars = std::move(vars);
    s.var_bytes = bytes;
    return {};
}

Result<void> Plugin::reset() {
    if (m_impl->state->in_call)
        return make_error(ErrorKind::usage, "a plugin cannot be reset from inside its own call");
    m_impl->state->vars.clear();
    m_impl->state->var_bytes = 0;
    return m_impl->instantiate();
}

Result<void> Plugin::set_log_level(std::string_view level) {
    auto lv = plugin::log_level_of(level);
    if (!lv) return tl::unexpected(plugin::unknown_log_level(level));
    m_impl->state->log_level = *lv;
    return {};
}

int32_t Plugin::last_rc() const {
    return m_impl->last_rc;
}

void Plugin::set_host_data_slot(uint32_t key, std::shared_ptr<void> data) {
    auto& slots = m_impl->state->host_data;
    if (slots.size() <= key) slots.resize(key + 1);
    slots[key] = std::move(data);
}

void* CurrentPlugin::host_data_slot(uint32_t key) const {
    return key < m_state.host_data.size() ? m_state.host_data[key].get() : nullptr;
}

} // namespace kiln
