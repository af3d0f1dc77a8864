// kiln: the command-line front end of the engine. Each subcommand lives in its own cmd_*.cpp;
// help.cpp holds what they share (help layout, suggestions, usage errors).
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"

#include <CLI/CLI.hpp>

#include <cstring>
#include <iterator>

namespace {

struct Command {
    const char* name;
    void (*add)(CLI::App&, int&);
    /// Describes the other commands (help, completions, man), so needs them all set up.
    bool needs_all = false;
};

const Command commands[] = {
    {"version", kiln::tool::add_version_command},
    {"validate", kiln::tool::add_validate_command},
    {"inspect", kiln::tool::add_inspect_command},
    {"invoke", kiln::tool::add_invoke_command},
    {"wast", kiln::tool::add_wast_command},
    {"run", kiln::tool::add_run_command},
    {"call", kiln::tool::add_call_command},
    {"new", kiln::tool::add_new_command},
    {"plugin", kiln::tool::add_plugin_command},
    {"completions", kiln::tool::add_completions_command, true},
    {"man", kiln::tool::add_man_command, true},
    {"help", kiln::tool::add_help_command, true}, // last: it lists the commands before it
};

} // namespace

int main(int argc, char** argv) {
    using namespace kiln::tool;
    CLI::App app{"Kiln, a WebAssembly engine and plugin runtime", "kiln"};
    app.formatter(make_formatter());
    app.set_help_flag("-h,--help", "Print this help and exit");
    app.set_version_flag("-V,--version", version_text,
                         "Print the version and the build's features, and exit");
    app.require_subcommand(1);

    int exit_code = exit_ok;
    // A command starts often and briefly: when the first argument names a subcommand, only that
    // one is set up. Anything else (no argument, --help, a typo) sees them all.
    const Command* chosen = nullptr;
    for (const Command& c : commands)
        if (argc > 1 && std::strcmp(argv[1], c.name) == 0) chosen = &c;
    if (!chosen && argc > 1 && argv[1][0] != '-') {
        std::vector<std::string> names;
        for (const Command& c : commands)
            names.push_back(c.name);
        return report_unknown_command(argv[1], names);
    }
    if (chosen && !chosen->needs_all)
        chosen->add(app, exit_code);
    else
        for (const Command& c : commands)
            c.add(app, exit_code);
    // After the commands: CLI11 copies the app's footer into each command it adds.
    set_examples(app, {{"kiln call plugin.wasm greet -i World", "call a plugin's function"},
                       {"kiln run --dir .::/work app.wasm", "run a WASI program"},
                       {"kiln help call", "the flags of one command (also kiln call --help)"}});

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e); // --help and --version
    } catch (const CLI::ParseError& e) {
        return report_parse_error(app, chosen ? app.get_subcommand(chosen->name) : nullptr, e);
    }
    return exit_code;
}
