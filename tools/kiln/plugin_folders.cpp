// The plugin folders shared by `kiln plugin` and `kiln job`.
#include "plugin_folders.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

namespace kiln::tool {

void add_plugin_dir_option(CLI::App* sub, std::vector<std::string>& dirs) {
    sub->add_option("--plugin-dir,--dir", dirs,
                    "a folder of plugins (default $KILN_PLUGIN_DIR, else ./plugins); repeatable")
        ->allow_extra_args(false);
}

std::vector<std::string> plugin_dirs(const std::vector<std::string>& given) {
    if (!given.empty()) return given;
    const char* env = std::getenv("KILN_PLUGIN_DIR");
    return {env && *env ? env : "plugins"};
}

Result<std::unique_ptr<PluginManager>> open_manager(const std::vector<std::string>& given) {
    auto manager = std::make_unique<PluginManager>();
    for (const std::string& dir : plugin_dirs(given)) {
        std::error_code ec;
        if (given.empty() && !std::filesystem::exists(dir, ec)) continue;
        if (auto ok = manager->open(dir); !ok) return tl::unexpected(ok.error());
    }
    return manager;
}

Result<PluginInfo> find_plugin(PluginManager& manager, const std::string& target) {
    std::error_code ec;
    if (!manager.info(target) && std::filesystem::exists(target, ec)) {
        auto added = manager.add(target);
        if (!added) return tl::unexpected(added.error());
        if (auto p = manager.info(target)) return *p;
    }
    if (auto p = manager.info(target)) return *p;
    return make_error(ErrorKind::usage, fmt::format("no plugin {}", target));
}

} // namespace kiln::tool
