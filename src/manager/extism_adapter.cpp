// The Extism ABI behind the manager's adapter seam: the plugin runtime's kernel (and WASI when
// the module imports it), `initialize` run once at load with the host and the config,
// `shutdown` at unload.
#include <kiln/manager.hpp>

#include "base/result.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace kiln {

namespace {

/// `initialize` with `input`, bounded by the lifecycle timeout, when the plugin exports it.
Result<void> initialize(Plugin& plugin, const std::string& input, std::chrono::milliseconds limit) {
    if (!plugin.function_exists("initialize")) return {};
    auto init = run_lifecycle(plugin.cancel_handle(), limit, "initialize",
                              [&] { return plugin.call("initialize", input); });
    if (!init) return tl::unexpected(init.error());
    return {};
}

class ExtismInstance final : public AbiInstance {
public:
    ExtismInstance(Plugin plugin, std::string initialize_input, std::chrono::milliseconds limit)
        : m_plugin(std::move(plugin)), m_initialize_input(std::move(initialize_input)),
          m_limit(limit) {}

    Result<std::string> call(std::string_view target, std::string_view input) override {
        // After a trap (or a limit, or a cancel) the plugin starts the next call on a fresh
        // instance: it is initialised as the first one was, and what it registers again is
        // what it registered before.
        if (m_plugin.next_call_is_fresh())
            if (auto init = initialize(m_plugin, m_initialize_input, m_limit); !init)
                return make_error(init.error().kind,
                                  fmt::format("initialize (again, after the last call failed): {}",
                                              init.error().message));
        return m_plugin.call(target, input);
    }
    bool has(std::string_view target) const override { return m_plugin.function_exists(target); }
    std::optional<std::map<std::string, std::string>> vars() const override {
        return m_plugin.vars();
    }
    Result<void> set_vars(std::map<std::string, std::string> vars) override {
        return m_plugin.set_vars(std::move(vars));
    }
    void shutdown() override {
        // A failing shutdown cannot stop the unload; the plugin's log has said why. A fresh
        // instance, never initialised, has nothing to shut down.
        if (m_plugin.function_exists("shutdown") && !m_plugin.next_call_is_fresh())
            (void)run_lifecycle(m_plugin.cancel_handle(), m_limit, "shutdown",
                                [&] { return m_plugin.call("shutdown", ""); });
    }

private:
    Plugin m_plugin;
    std::string m_initialize_input;
    std::chrono::milliseconds m_limit;
};

class ExtismAdapter final : public AbiAdapter {
public:
    PluginAbi abi() const override { return PluginAbi::extism; }

    PluginOptions options(const PluginInfo& plugin) const override {
        PluginOptions options;
        options.wasi =
            std::any_of(plugin.imports.begin(), plugin.imports.end(), [](const std::string& i) {
                return i.starts_with("wasi_snapshot_preview1.");
            });
        return options;
    }

    Result<std::unique_ptr<AbiInstance>> instantiate(const AbiLoad& load) const override {
        auto plugin = Plugin::create(load.compiled);
        if (!plugin) return tl::unexpected(plugin.error());
        std::string input = extism_initialize_input(load);
        KILN_CHECK(initialize(*plugin, input, load.lifecycle_timeout));
        return std::make_unique<ExtismInstance>(std::move(*plugin), std::move(input),
                                                load.lifecycle_timeout);
    }
};

} // namespace

Result<std::string> run_lifecycle(const CancelHandle& cancel, std::chrono::milliseconds limit,
                                  std::string_view what,
                                  const std::function<Result<std::string>()>& call) {
    if (limit.count() <= 0) return call();
    // A watchdog for this one call: it cancels the call once the limit passes, unless told the
    // call ended. A cancel that arrives after the call ended finds the plugin idle and is
    // dropped (CancelHandle).
    std::mutex mutex;
    std::condition_variable ended;
    bool done = false, fired = false;
    std::thread watchdog([&] {
        std::unique_lock lock(mutex);
        if (ended.wait_for(lock, limit, [&] { return done; })) return;
        fired = true;
        cancel.cancel();
    });
    Result<std::string> result = call();
    {
        std::lock_guard lock(mutex);
        done = true;
    }
    ended.notify_one();
    watchdog.join();
    if (!result && fired)
        return make_error(ErrorKind::limit,
                          fmt::format("{} did not return within {} ms (the lifecycle timeout)",
                                      what, limit.count()));
    return result;
}

std::string extism_initialize_input(const AbiLoad& load) {
    nlohmann::ordered_json config = nlohmann::ordered_json::object();
    for (const auto& [key, value] : load.compiled->manifest().config)
        config[key] = value;
    nlohmann::ordered_json input = {
        {"host", {{"name", "kiln"}, {"version", std::string(load.host_version)}}},
        {"config", std::move(config)}};
    return input.dump();
}

std::unique_ptr<AbiAdapter> make_extism_adapter() {
    return std::make_unique<ExtismAdapter>();
}

} // namespace kiln
