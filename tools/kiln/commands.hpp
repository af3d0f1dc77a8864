// The subcommands of the kiln tool. Each one registers itself on the CLI11 app; its callback
// runs the command and stores the process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace kiln::tool {

void add_version_command(CLI::App& app, int& exit_code);
void add_validate_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_invoke_command(CLI::App& app, int& exit_code);
void add_wast_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_call_command(CLI::App& app, int& exit_code);
void add_new_command(CLI::App& app, int& exit_code);
void add_help_command(CLI::App& app, int& exit_code);
void add_completions_command(CLI::App& app, int& exit_code);
void add_man_command(CLI::App& app, int& exit_code);
void add_plugin_command(CLI::App& app, int& exit_code);

/// "kiln 0.1.0"
const char* version_string();

/// The version and then the build's features, one "NAME: VALUE" per line.
std::string version_text();

} // namespace kiln::tool
