// The Extism ABI behind the manager's adapter seam: the plugin runtime's kernel (and WASI when
// the module imports it), `initialize` run once at load, `shutdown` at unload.
#include <kiln/manager.hpp>

#include <algorithm>

namespace kiln {

namespace {

class ExtismInstance final : public AbiInstance {
public:
    explicit ExtismInstance(Plugin plugin) : m_plugin(std::move(plugin)) {}

    Result<std::string> call(std::string_view target, std::string_view input) override {
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
        // A failing shutdown cannot stop the unload; the plugin's log has said why.
        if (m_plugin.function_exists("shutdown")) (void)m_plugin.call("shutdown", "");
    }

private:
    Plugin m_plugin;
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
        if (plugin->function_exists("initialize")) {
            auto init = plugin->call("initialize", "");
            if (!init) return tl::unexpected(init.error());
        }
        return std::make_unique<ExtismInstance>(std::move(*plugin));
    }
};

} // namespace

std::unique_ptr<AbiAdapter> make_extism_adapter() {
    return std::make_unique<ExtismAdapter>();
}

} // namespace kiln
