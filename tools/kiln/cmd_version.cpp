#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"

#include <kiln/engine.hpp>
#include <kiln/snapshot.hpp>

#include <fmt/format.h>

#include <cstdio>

namespace kiln::tool {

namespace {

// Whether this engine accepts 128-bit SIMD, asked of the engine itself by compiling a function
// that returns a v128.const, so the answer follows the build rather than a flag kept by hand.
bool engine_has_simd() {
    static const uint8_t module[] = {
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,       // type 0: () -> (v128)
        0x03, 0x02, 0x01, 0x00,                         // function 0 has type 0
        0x0a, 0x16, 0x01, 0x14, 0x00,                   // code: one body of 20 bytes, no locals
        0xfd, 0x0c, 0,    0,    0,    0,    0,    0,    0,
        0,    0,    0,    0,    0,    0,    0,    0,    0, // v128.const 0
        0x0b};                                             // end
    Engine engine;
    return Module::compile(engine, module).has_value();
}

} // namespace

const char* version_string() {
    return "kiln " KILN_VERSION;
}

std::string version_text() {
    // The optimizing tier (src/engine/jit, LLVM) is not part of this tree yet: every build runs
    // on the interpreter. `features` lists the proposals past 2.0 an engine accepts by default.
    return fmt::format("{}\ntiers: interpreter\nsimd: {}\nfeatures: {}\nllvm: no\nsnapshot "
                       "format: {}",
                       version_string(), engine_has_simd() ? "yes" : "no",
                       feature_names(Features{}), snapshot_format_version);
}

void add_version_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("version", "Print the version and the build's features");
    set_examples(*sub, {{"kiln version", "the version, tiers, SIMD, features past WebAssembly 2.0, "
                                         "LLVM and snapshot format"}});
    sub->callback([&exit_code] {
        std::puts(version_text().c_str());
        exit_code = exit_ok;
    });
}

} // namespace kiln::tool
