// The plugin folders shared by kiln plugin and kiln graph.
#include "plugin_dirs.hpp"

#include <kiln/actors.hpp>

#include <cstdlib>
#include <filesystem>

namespace kiln::tool {

void add_plugin_dir_option(CLI::App* command, std::vector<std::string>& dirs) {
    command
        ->add_option("--plugin-dir,--dir", dirs,
                     "a folder of plugins (default $KILN_PLUGIN_DIR, else ./plugins); repeatable")
        ->allow_extra_args(false);
}

Result<void> open_plugin_dirs(PluginManager& manager, const std::vector<std::string>& dirs) {
    // Reflow actors are plugins like any other: listed, validated, called, and reloaded under
    // the graphs that run them.
    manager.add_adapter(make_reflow_adapter());
    std::vector<std::string> folders = dirs;
    if (folders.empty()) {
        const char* env = std::getenv("KILN_PLUGIN_DIR");
        folders.push_back(env && *env ? env : "plugins");
    }
    for (const std::string& dir : folders) {
        std::error_code ec;
        if (dirs.empty() && !std::filesystem::exists(dir, ec)) continue;
        if (auto ok = manager.open(dir); !ok)
            return make_error(ErrorKind::usage, ok.error().message);
    }
    return {};
}

} // namespace kiln::tool
