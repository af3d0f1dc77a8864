// The plugin folders and manager of `kiln plugin`, `kiln job` and `kiln graph`: --plugin-dir (alias
// --dir), else $KILN_PLUGIN_DIR, else ./plugins; the manager's state in Kiln's state database.
#pragma once

#include <kiln/manager.hpp>
#include <kiln/state_db.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kiln::tool {

/// Adds --plugin-dir (alias --dir) to `sub`, filling `dirs`.
void add_plugin_dir_option(CLI::App* sub, std::vector<std::string>& dirs);

/// The folders to open: `given`, else $KILN_PLUGIN_DIR, else ./plugins.
std::vector<std::string> plugin_dirs(const std::vector<std::string>& given);

/// A manager keeping what is enabled, granted and audited in `state` (checked readable).
Result<std::unique_ptr<PluginManager>> stateful_manager(std::shared_ptr<StateDb> state);

/// Opens the plugin folders in `manager`, with the adapter of Reflow actors added: an explicit
/// folder that cannot be read is a usage error, the default one may be missing (no plugins).
Result<void> open_plugin_dirs(PluginManager& manager, const std::vector<std::string>& given);

} // namespace kiln::tool
