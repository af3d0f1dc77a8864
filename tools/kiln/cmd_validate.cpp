// kiln validate FILE...: decodes and validates each module.
#include "cli_common.hpp"
#include "commands.hpp"

#include "base/file.hpp"

#include <fmt/format.h>

namespace kiln::tool {

namespace {

int run_validate(const std::vector<std::string>& files) {
    Engine engine;
    int exit_code = exit_ok;
    for (const auto& file : files) {
        auto bytes = read_file(file);
        if (!bytes) {
            print_error(file, bytes.error());
            exit_code = exit_failure;
            continue;
        }
        // Compiling is decoding + validating (+ lowering, which cannot fail on a valid module).
        auto compiled = Module::compile(engine, *bytes);
        if (!compiled) {
            print_error(file, compiled.error());
            exit_code = exit_failure;
            continue;
        }
        fmt::print("{}: valid\n", file);
    }
    return exit_code;
}

} // namespace

void add_validate_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("validate", "Decode and validate WebAssembly binaries");
    auto files = std::make_shared<std::vector<std::string>>();
    sub->add_option("FILE", *files, "WebAssembly binary (.wasm)")->required();
    sub->callback([files, &exit_code] { exit_code = run_validate(*files); });
}

} // namespace kiln::tool
