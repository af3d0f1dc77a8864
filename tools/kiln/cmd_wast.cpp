// kiln wast SCRIPT...: runs spec test scripts and prints a summary per file and in total.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "wast_runner.hpp"

#include <fmt/format.h>
#include <optional>

namespace kiln::tool {

namespace {

struct WastCommandOptions {
    std::vector<std::string> files;
    bool verbose = false;
    std::string skip_list;
};

int run_wast(const WastCommandOptions& options) {
    std::optional<SkipList> skip_list;
    if (!options.skip_list.empty()) {
        auto loaded = SkipList::load(options.skip_list);
        if (!loaded) {
            print_error(loaded.error().message);
            return exit_code_of(loaded.error());
        }
        skip_list = std::move(*loaded);
    }
    WastRunner runner(WastOptions{options.verbose, skip_list ? &*skip_list : nullptr});
    WastCounts total;
    for (const auto& file : options.files) {
        auto counts = runner.run_file(file);
        if (!counts) {
            // A script that cannot run counts as one failure, so the total never reads clean.
            print_error(counts.error().message);
            counts = WastCounts{0, 1, 0};
        }
        fmt::print("{}: {} passed, {} failed, {} skipped\n", file, counts->passed, counts->failed,
                   counts->skipped);
        std::fflush(stdout);
        total += *counts;
    }
    fmt::print("{} passed, {} failed, {} skipped\n", total.passed, total.failed, total.skipped);
    return total.failed ? exit_failure : exit_ok;
}

} // namespace

void add_wast_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("wast", "Run WebAssembly spec test scripts");
    auto options = std::make_shared<WastCommandOptions>();
    sub->add_option("SCRIPT", options->files, ".wast script, or the .json that wast2json made")
        ->required()
        ->type_name(file_value);
    sub->add_flag("-v,--verbose", options->verbose,
                  "print each failure and skip with its line, and spectest.print output");
    sub->add_option("--skip-list", options->skip_list,
                    "known failures, one \"FILE.wast:LINE  reason\" per line")
        ->type_name(file_value);
    set_examples(*sub, {{"kiln wast i32.wast", "run a spec script (wast2json converts it)"},
                        {"kiln wast --verbose --skip-list known.skip *.wast",
                         "print each failure; listed ones count as skipped"}});
    sub->callback([options, &exit_code] { exit_code = run_wast(*options); });
}

} // namespace kiln::tool
