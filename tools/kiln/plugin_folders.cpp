// The plugin folders and manager shared by `kiln plugin`, `kiln job` and `kiln graph`.
#include "plugin_folders.hpp"

#include "help.hpp"

#include <kiln/actors.hpp>

#include <cstdlib>
#include <filesystem>

namespace kiln::tool {

void add_plugin_dir_option(CLI::App* sub, std::vector<std::string>& dirs) {
    sub->add_option("--plugin-dir,--dir", dirs,
                    "a folder of plugins (default $KILN_PLUGIN_DIR, else ./plugins); repeatable")
        ->allow_extra_args(false)
        ->type_name(dir_value);
}

std::vector<std::string> plugin_dirs(const std::vector<std::string>& given) {
    if (!given.empty()) return given;
    const char* env = std::getenv("KILN_PLUGIN_DIR");
    return {env && *env ? env : "plugins"};
}

Result<std::unique_ptr<PluginManager>> stateful_manager(std::shared_ptr<StateDb> state) {
    ManagerOptions options;
    options.state = std::move(state);
    auto manager = std::make_unique<PluginManager>(std::move(options));
    if (auto ready = manager->check_state(); !ready) return tl::unexpected(ready.error());
    return manager;
}

Result<void> open_plugin_dirs(PluginManager& manager, const std::vector<std::string>& given) {
    // Reflow actors are plugins like any other: listed, validated, called, and reloaded under
    // the graphs that run them.
    manager.add_adapter(make_reflow_adapter());
    for (const std::string& dir : plugin_dirs(given)) {
        std::error_code ec;
        if (given.empty() && !std::filesystem::exists(dir, ec)) continue;
        if (auto ok = manager.open(dir); !ok)
            return make_error(ErrorKind::usage, ok.error().message);
    }
    return {};
}

} // namespace kiln::tool
