#include "cli_common.hpp"
#include "commands.hpp"

#include <kiln/engine.hpp>

#include <cstdio>
#include <string>

namespace kiln::tool {

const char* version_string() {
    // The proposals past WebAssembly 2.0 that an engine accepts by default, on a second line.
    static const std::string text =
        "kiln " KILN_VERSION "\nfeatures: " + kiln::feature_names(kiln::Features{});
    return text.c_str();
}

void add_version_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("version", "Print the version");
    sub->callback([&exit_code] {
        std::puts(version_string());
        exit_code = exit_ok;
    });
}

} // namespace kiln::tool
