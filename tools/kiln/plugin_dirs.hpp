// The plugin folders of the commands that use plugins (kiln plugin, kiln graph): --plugin-dir
// (alias --dir), default $KILN_PLUGIN_DIR, else ./plugins.
#pragma once

#include <kiln/manager.hpp>

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kiln::tool {

/// Adds --plugin-dir (alias --dir), repeatable, to a command.
void add_plugin_dir_option(CLI::App* command, std::vector<std::string>& dirs);

/// A manager over the folders given, else the default one; an explicit folder that cannot be
/// read is an error, the default one may be missing (no plugins then).
Result<std::unique_ptr<PluginManager>> open_plugin_manager(const std::vector<std::string>& dirs);

} // namespace kiln::tool
