// kiln validate FILE...: decodes and validates each module.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "json_output.hpp"

#include <fmt/format.h>

namespace kiln::tool {

namespace {

int run_validate(const std::vector<std::string>& files, bool json) {
    Engine engine;
    int exit_code = exit_ok;
    Json results = Json::array();
    for (const auto& file : files) {
        // Compiling is decoding + validating (+ lowering, which cannot fail on a valid module).
        auto bytes = read_module(file);
        auto compiled =
            bytes ? Module::compile(engine, *bytes) : Result<Module>(tl::unexpected(bytes.error()));
        if (!compiled) exit_code = exit_failure;
        if (json) {
            Json result = {{"file", file}, {"valid", compiled.has_value()}};
            if (!compiled) result["error"] = error_json(compiled.error());
            results.push_back(std::move(result));
        } else if (!compiled) {
            print_error(file, compiled.error());
        } else {
            fmt::print("{}: valid\n", file);
        }
    }
    if (json) print_json({{"files", std::move(results)}});
    return exit_code;
}

} // namespace

void add_validate_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("validate", "Decode and validate WebAssembly binaries");
    auto files = std::make_shared<std::vector<std::string>>();
    auto json = std::make_shared<bool>(false);
    sub->add_option("FILE", *files, "WebAssembly module (.wasm, or .wat text)")
        ->required()
        ->type_name(file_value);
    sub->add_flag("--json", *json, "print a JSON document instead (its shape: docs/cli.md)");
    set_examples(*sub, {{"kiln validate module.wasm", "prints module.wasm: valid, or the error"},
                        {"kiln validate --json *.wasm", "one JSON document for every file"}});
    sub->callback([files, json, &exit_code] { exit_code = run_validate(*files, *json); });
}

} // namespace kiln::tool
