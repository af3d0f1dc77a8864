// kiln: the command-line front end of the engine. Each subcommand lives in its own cmd_*.cpp.
#include "cli_common.hpp"
#include "commands.hpp"

#include <CLI/CLI.hpp>

#include <cstring>
#include <iterator>

namespace {

struct Command {
    const char* name;
    void (*add)(CLI::App&, int&);
};

const Command commands[] = {
    {"version", kiln::tool::add_version_command}, {"validate", kiln::tool::add_validate_command},
    {"inspect", kiln::tool::add_inspect_command}, {"invoke", kiln::tool::add_invoke_command},
    {"wast", kiln::tool::add_wast_command},       {"run", kiln::tool::add_run_command},
    {"call", kiln::tool::add_call_command},       {"new", kiln::tool::add_new_command},
    {"plugin", kiln::tool::add_plugin_command},
};

} // namespace

int main(int argc, char** argv) {
    using namespace kiln::tool;
    CLI::App app{"Kiln, a WebAssembly engine", "kiln"};
    app.set_version_flag("--version", version_string());
    app.require_subcommand(1);

    int exit_code = exit_ok;
    // A command starts often and briefly: when the first argument names a subcommand, only that
    // one is set up. Anything else (no argument, --help, a typo) sees them all.
    const Command* chosen = nullptr;
    for (const Command& c : commands)
        if (argc > 1 && std::strcmp(argv[1], c.name) == 0) chosen = &c;
    if (!chosen && argc > 1 && argv[1][0] != '-') {
        print_error(std::string("unknown command '") + argv[1] + "' (see kiln --help)");
        return exit_usage;
    }
    if (chosen)
        chosen->add(app, exit_code);
    else
        for (const Command& c : commands)
            c.add(app, exit_code);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e); // --help and --version
    } catch (const CLI::ParseError& e) {
        // CLI11's own report adds a second "Run with --help" line; one line is easier to grep.
        print_error(std::string(e.what()) + " (see kiln --help)");
        return exit_usage;
    }
    return exit_code;
}
