// The Extism ABI behind the manager's adapter seam: the plugin runtime's kernel (and WASI when
// the module imports it), `initialize` run once at load with the host and the config,
// `shutdown` at unload.
#include <kiln/manager.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace kiln {

namespace {

class ExtismInstance final : public AbiInstance {
public:
    ExtismInstance(Plugin plugin, std::string initialize_input)
        : m_plugin(std::move(plugin)), m_initialize_input(std::move(initialize_input)) {}

    Result<std::string> call(std::string_view target, std::string_view input) override {
        // After a trap (or a limit, or a cancel) the plugin starts the next call on a fresh
        // instance: it is initialised as the first one was, and what it registers again is
        // what it registered before.
        if (m_plugin.next_call_is_fresh() && m_plugin.function_exists("initialize"))
            if (auto init = m_plugin.call("initialize", m_initialize_input); !init)
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
            (void)m_plugin.call("shutdown", "");
    }

private:
    Plugin m_plugin;
    std::string m_initialize_input;
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
        if (plugin->function_exists("initialize")) {
            auto init = plugin->call("initialize", input);
            if (!init) return tl::unexpected(init.error());
        }
        return std::make_unique<ExtismInstance>(std::move(*plugin), std::move(input));
    }
};

} // namespace

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
