// kiln: the command-line front end of the engine. Each subcommand lives in its own cmd_*.cpp.
#include "cli_common.hpp"
#include "commands.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    using namespace kiln::tool;
    CLI::App app{"Kiln, a WebAssembly engine", "kiln"};
    app.set_version_flag("--version", version_string());
    app.require_subcommand(1);

    int exit_code = exit_ok;
    add_version_command(app, exit_code);
    add_validate_command(app, exit_code);
    add_inspect_command(app, exit_code);
    add_invoke_command(app, exit_code);
    add_wast_command(app, exit_code);

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
