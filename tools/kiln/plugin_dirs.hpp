// The plugin folders of the commands that use plugins (kiln plugin, kiln graph): --plugin-dir
// (alias --dir), default $KILN_PLUGIN_DIR, else ./plugins.
#pragma once

#include <kiln/manager.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace kiln::tool {

/// Adds --plugin-dir (alias --dir), repeatable, to a command.
void add_plugin_dir_option(CLI::App* command, std::vector<std::string>& dirs);

/// Opens the folders given, else the default one, in `manager`, with the adapter of Reflow
/// actors added; an explicit folder that cannot be read is a usage error, the default one may
/// be missing (no plugins then).
Result<void> open_plugin_dirs(PluginManager& manager, const std::vector<std::string>& dirs);

} // namespace kiln::tool
