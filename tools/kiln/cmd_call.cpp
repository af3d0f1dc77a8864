// kiln call FILE.wasm|MANIFEST FUNC [flags]: loads a plugin (Extism ABI) and calls one of its
// functions with an input, printing the output, in the manner of `extism call`.
#include "cli_common.hpp"
#include "commands.hpp"
#include "limit_flags.hpp"

#include <kiln/plugin.hpp>

#include <fmt/format.h>
#include <iostream>
#include <iterator>

namespace kiln::tool {

namespace {

struct CallOptions {
    std::string file, function;
    std::optional<std::string> input;
    bool read_stdin = false, wasi = false, manifest = false;
    ManifestOverrides overrides;
    uint32_t loop = 1;
    std::string log_level = "info";
};

int fail(const std::string& message, int code = exit_usage) {
    print_error(message);
    return code;
}

int run_call(const CallOptions& o) {
    if (o.input && o.read_stdin) return fail("call: --input and --stdin cannot both be given");
    // The content says what FILE is (a module starts with \0asm); -m is accepted for the habit.
    auto loaded = Manifest::from_file(o.file);
    if (!loaded) {
        print_error(loaded.error().message);
        return loaded.error().kind == ErrorKind::io ? exit_usage : exit_failure;
    }
    Manifest m = std::move(*loaded);
    if (auto applied = apply_overrides(m, o.overrides); !applied)
        return fail(applied.error().message);

    PluginOptions options;
    options.wasi = o.wasi || !m.allowed_paths.empty();
    options.log_level = o.log_level;
    Engine engine;
    auto plugin = Plugin::create(engine, std::move(m), options);
    if (!plugin) {
        print_error(fmt::format("{}: {}: {}", o.file, error_kind_name(plugin.error().kind),
                                plugin.error().message));
        return plugin.error().kind == ErrorKind::usage ? exit_usage : exit_failure;
    }
    if (!plugin->function_exists(o.function))
        return fail(fmt::format("{}: no exported function \"{}\"", o.file, o.function));
    std::string input = o.input.value_or("");
    if (o.read_stdin)
        input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    for (uint32_t i = 0; i < o.loop; ++i) {
        auto out = plugin->call(o.function, input);
        if (!out) {
            print_error(
                fmt::format("{}: {}", error_kind_name(out.error().kind), out.error().message));
            print_backtrace(out.error());
            return exit_failure;
        }
        fwrite(out->data(), 1, out->size(), stdout);
        fputc('\n', stdout);
    }
    return exit_ok;
}

} // namespace

void add_call_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("call", "Call a function of a plugin (Extism ABI)");
    auto o = std::make_shared<CallOptions>();
    sub->add_option("FILE", o->file, "plugin: a .wasm module or a JSON/TOML manifest")->required();
    sub->add_option("FUNC", o->function, "the plugin function to call")->required();
    sub->add_option("--input", o->input, "input bytes, as given");
    sub->add_flag("--stdin", o->read_stdin, "read the input from stdin");
    sub->add_flag("--wasi", o->wasi, "link WASI (implied by --allow-path)");
    sub->add_flag("-m,--manifest", o->manifest, "FILE is a manifest (also found from its content)");
    ManifestOverrides& m = o->overrides;
    sub->add_option("--allow-path", m.allowed_paths,
                    "give the plugin a directory: HOST[:GUEST] or HOST::GUEST, ro: in front for "
                    "read-only")
        ->allow_extra_args(false);
    sub->add_option("--allow-host", m.allowed_hosts, "let HTTP reach hosts matching GLOB")
        ->allow_extra_args(false);
    sub->add_option("--config", m.config, "set a config key, KEY=VALUE")->allow_extra_args(false);
    add_limit_option(*sub, "--timeout", m.timeout_ms, "stop a call after this many milliseconds",
                     1);
    add_limit_option(*sub, "--fuel", m.fuel, "fuel per call");
    add_limit_option(*sub, "--memory-max", m.max_pages,
                     "pages of 64 KiB for all the plugin's memory (default 65536: 4 GiB)");
    add_limit_option(*sub, "--var-max", m.max_var_bytes, "bytes for vars (0 disables them)");
    add_limit_option(*sub, "--http-response-max", m.max_http_response_bytes,
                     "bytes of an HTTP response body");
    sub->add_option("--link", m.links, "link another module, NAME=FILE")->allow_extra_args(false);
    sub->add_option("--loop", o->loop, "call this many times")->check(CLI::PositiveNumber);
    sub->add_option("--log-level", o->log_level, "trace, debug, info, warn, error or off");
    sub->callback([o, &exit_code] { exit_code = run_call(*o); });
}

} // namespace kiln::tool
