// The state of one plugin instance that its kernel and host functions work on, and how they find
// it: the user data of the instance's store.
#pragma once

#include <kiln/kiln.hpp>
#include <kiln/plugin.hpp>

#include "plugin/kernel.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

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
    const std::string* name = nullptr; ///< the plugin's name, for its log lines
    const LogSink* log = nullptr;      ///< the embedder's sink; empty: spdlog
    bool http_headers_enabled = false;
    int32_t log_level = 2;
    int http_status = 0;
    std::string http_headers;
    bool in_call = false;
    /// When the running call must end (timeout_ms from its start); HTTP gets what is left.
    std::optional<std::chrono::steady_clock::time_point> call_deadline;
    // Memory accounting across linear and kernel memory.
    Store* store = nullptr;
    uint64_t max_bytes = 0; ///< max_pages (or its default) in bytes

    /// Keeps linear + kernel memory within max_bytes: the kernel gets what the linear memories
    /// do not use, and the store's limit for them is what the kernel does not use.
    void rebalance() {
        kernel.set_budget(max_bytes - std::min(max_bytes, linear_bytes()));
        store->set_memory_limit(max_bytes - std::min(max_bytes, kernel.bytes_in_use()));
    }
    /// The size of every linear memory of every module of the plugin (they share its store).
    uint64_t linear_bytes() const { return store->memory_bytes(); }
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
    /// Frees a block; what it held becomes room for linear memory too.
    void free(uint64_t handle) {
        kernel.free(handle);
        rebalance();
    }
    /// Reads a block the plugin hands over and frees it, as the ABI says the host does.
    std::string take(uint64_t handle) {
        auto v = kernel.view(handle);
        std::string s = v ? std::string(*v) : std::string();
        free(handle);
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
        if (store) rebalance();
    }
};

namespace plugin {

/// The state of the plugin a kernel or host function was called by: its store's user data,
/// set when the instance is made (so one Linker per CompiledPlugin serves every instance).
inline CurrentPlugin::State& current(Caller& c) {
    return *c.data<CurrentPlugin::State>();
}

/// Marks `state` as in a call until the scope ends (a plugin refuses re-entrant calls).
class CallScope {
public:
    explicit CallScope(CurrentPlugin::State& state) : m_state(state) { state.in_call = true; }
    ~CallScope() { m_state.in_call = false; }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

private:
    CurrentPlugin::State& m_state;
};

/// Log levels as the ABI numbers them (trace 0 ... error 4); off is INT32_MAX.
std::optional<int32_t> log_level_of(std::string_view name);

/// The error for a log level name that is not one.
Error unknown_log_level(std::string_view name);

/// Hands one line of the plugin's to its sink, if the plugin's level lets it through.
void emit_log(const CurrentPlugin::State& state, LogLevel level, std::string_view line);

/// Emits each non-empty line of `text` (a WASI stdout or stderr write) at `level`.
void emit_log_lines(const CurrentPlugin::State& state, LogLevel level, std::string_view text);

/// What `vars` count against max_var_bytes: each key's and value's bytes.
inline uint64_t var_bytes_of(const std::map<std::string, std::string>& vars) {
    uint64_t n = 0;
    for (const auto& [k, v] : vars)
        n += k.size() + v.size();
    return n;
}

} // namespace plugin

} // namespace kiln
