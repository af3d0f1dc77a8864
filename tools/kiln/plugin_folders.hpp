// The plugin folders of `kiln plugin` and `kiln job`: --plugin-dir (alias --dir), else
// $KILN_PLUGIN_DIR, else ./plugins.
#pragma once

#include <kiln/manager.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kiln::tool {

/// Adds --plugin-dir (alias --dir) to `sub`, filling `dirs`.
void add_plugin_dir_option(CLI::App* sub, std::vector<std::string>& dirs);

/// The folders to open: `given`, else $KILN_PLUGIN_DIR, else ./plugins.
std::vector<std::string> plugin_dirs(const std::vector<std::string>& given);

/// A manager over the folders; an explicit folder that cannot be read is an error, the default
/// one may be missing (no plugins then).
Result<std::unique_ptr<PluginManager>> open_manager(const std::vector<std::string>& given);

/// The plugin NAME|PATH names: a path is added to the manager on its own.
Result<PluginInfo> find_plugin(PluginManager& manager, const std::string& target);

} // namespace kiln::tool
