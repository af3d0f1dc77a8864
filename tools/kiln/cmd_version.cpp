#include "cli_common.hpp"
#include "commands.hpp"

#include <cstdio>

namespace kiln::tool {

const char* version_string() {
    return "kiln " KILN_VERSION;
}

void add_version_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("version", "Print the version");
    sub->callback([&exit_code] {
        std::puts(version_string());
        exit_code = exit_ok;
    });
}

} // namespace kiln::tool
