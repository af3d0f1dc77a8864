// kiln invoke FILE FUNC [ARGS...]: instantiates a module and calls one exported function.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace kiln::tool {

namespace {

struct InvokeOptions {
    std::string file;
    std::string function;
    std::vector<std::string> args;
};

std::string type_list(const std::vector<ValType>& types) {
    std::string s;
    for (auto t : types)
        s += (s.empty() ? "" : " ") + std::string(valtype_name(t));
    return s;
}

std::string exported_functions(const std::vector<ExportType>& exports) {
    std::string names;
    for (const auto& e : exports)
        if (e.type.kind == ExternKind::func) names += (names.empty() ? "" : ", ") + e.name;
    return names.empty() ? "none" : names;
}

int run_invoke(const InvokeOptions& options) {
    const std::string& file = options.file;
    auto bytes = read_module(file);
    if (!bytes) {
        print_error(file, bytes.error());
        return exit_failure;
    }
    Engine engine;
    auto module = Module::compile(engine, *bytes);
    if (!module) {
        print_error(file, module.error());
        return exit_failure;
    }

    // Resolve the function before instantiating, so a typo does not run the start function.
    std::vector<ExportType> exports = module->exports();
    auto exported = std::find_if(exports.begin(), exports.end(), [&](auto& e) {
        return e.name == options.function && e.type.kind == ExternKind::func;
    });
    if (exported == exports.end()) {
        print_error(fmt::format("{}: no exported function \"{}\" (exported functions: {})", file,
                                options.function, exported_functions(exports)));
        return exit_usage;
    }
    const FuncType& type = exported->type.func;
    if (options.args.size() != type.params.size()) {
        print_error(fmt::format("{}: {} takes {} argument{} ({}), got {}", file, options.function,
                                type.params.size(), type.params.size() == 1 ? "" : "s",
                                type_list(type.params), options.args.size()));
        return exit_usage;
    }
    std::vector<Value> args;
    for (size_t i = 0; i < type.params.size(); ++i) {
        auto value = parse_value(options.args[i], type.params[i]);
        if (!value) {
            print_error(fmt::format("{}: {}: argument {}: {}", file, options.function, i + 1,
                                    value.error().message));
            return exit_usage;
        }
        args.push_back(*value);
    }

    // No host functions are provided, so any import is reported as unlinkable by name.
    Store store(engine);
    Linker linker;
    auto instance = linker.instantiate(store, *module);
    if (!instance) {
        print_error(file, instance.error());
        return exit_failure;
    }
    auto results = instance->get_func(store, options.function)->call(store, args);
    if (!results) {
        print_call_failure(named_call_error(options.function, results.error()));
        return exit_failure;
    }
    for (const auto& value : *results)
        fmt::print("{}\n", format_value(store, value));
    return exit_ok;
}

} // namespace

void add_invoke_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("invoke", "Instantiate a module and call an exported function");
    auto options = std::make_shared<InvokeOptions>();
    sub->add_option("FILE", options->file, "WebAssembly module (.wasm, or .wat text)")
        ->required()
        ->type_name(file_value);
    sub->add_option("FUNC", options->function, "exported function to call")->required();
    sub->add_option("ARGS", options->args,
                    "arguments, converted to the parameter types (use -- before -inf or -nan)");
    set_examples(*sub, {{"kiln invoke fib.wasm fib 20", "call fib(20) and print the result"},
                        {"kiln invoke math.wasm neg -- -inf",
                         "-- before arguments that start with a dash"}});
    sub->callback([options, &exit_code] { exit_code = run_invoke(*options); });
}

} // namespace kiln::tool
