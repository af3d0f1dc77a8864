// kiln call FILE|URL FUNC [flags]: loads a plugin (Extism ABI) and calls one of its functions
// with an input, writing the output as it is, in the manner of `extism call`.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "json_output.hpp"
#include "limit_flags.hpp"

#include <kiln/plugin.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>

namespace kiln::tool {

namespace {

struct CallOptions {
    std::string file, function;
    std::optional<std::string> input;
    bool read_stdin = false, wasi = false, manifest = false, allow_missing_imports = false;
    bool json = false;
    ManifestOverrides overrides;
    std::string set_config;
    uint32_t loop = 1;
    std::string log_level = "off";
};

int fail(const std::string& message, int code = exit_usage) {
    print_error(message);
    return code;
}

bool is_url(std::string_view text) {
    return text.starts_with("http://") || text.starts_with("https://");
}

// --set-config '{"KEY": "VALUE", ...}', Extism's form of the plugin's config, merged into the
// manifest's.
Result<void> apply_config_json(Manifest& manifest, const std::string& text) {
    auto fail = [](std::string why) {
        return make_error(ErrorKind::usage, "--set-config: " + std::move(why));
    };
    Json object = Json::parse(text, nullptr, false);
    if (object.is_discarded()) return fail("not valid JSON");
    if (!object.is_object())
        return fail("expected a JSON object of strings, like {\"key\": \"value\"}");
    for (const auto& [key, value] : object.items()) {
        if (!value.is_string())
            return fail(
                fmt::format("\"{}\" is a {}; config values are strings", key, value.type_name()));
        manifest.config[key] = value.get<std::string>();
    }
    return {};
}

/// The manifest of a plugin given as a text module (.wat), or `not_manifest` (why FILE did not
/// read as a manifest) when FILE holds no WebAssembly text either.
Result<Manifest> text_manifest(const std::string& path, Error not_manifest) {
    auto module = read_module(path);
    if (!module) return tl::unexpected(module.error());
    if (module->size() < 4 || std::memcmp(module->data(), "\0asm", 4) != 0)
        return tl::unexpected(std::move(not_manifest));
    Manifest m = Manifest::from_bytes(std::move(*module));
    m.name = std::filesystem::path(path).stem().string();
    return m;
}

Result<Manifest> load_manifest(const CallOptions& o) {
    if (is_url(o.file)) {
        // Downloaded by the plugin layer when the plugin is built, like any URL in a manifest.
        Manifest::WasmUrl url;
        url.url = o.file;
        Manifest m;
        m.wasm.emplace_back().source = std::move(url);
        return m;
    }
    // The content says what FILE is (a module starts with \0asm, a manifest is JSON or TOML,
    // anything else may be a text module); -m is accepted for the habit.
    auto loaded = Manifest::from_file(o.file);
    if (!loaded && loaded.error().kind != ErrorKind::io)
        return text_manifest(o.file, std::move(loaded.error()));
    return loaded;
}

int run_call(const CallOptions& o) {
    if (o.input && o.read_stdin) return fail("call: --input and --stdin cannot both be given");
    auto loaded = load_manifest(o);
    if (!loaded) {
        print_error(loaded.error().message); // names the file
        return exit_code_of(loaded.error());
    }
    Manifest m = std::move(*loaded);
    if (!o.set_config.empty())
        if (auto applied = apply_config_json(m, o.set_config); !applied)
            return fail(applied.error().message);
    if (auto applied = apply_overrides(m, o.overrides); !applied)
        return fail(applied.error().message);

    PluginOptions options;
    options.wasi = o.wasi || !m.allowed_paths.empty();
    options.log_level = o.log_level;
    options.trap_unknown_imports = o.allow_missing_imports;
    // The plugin's WASI output is its own, passed through as written; with --json, stdout
    // carries the JSON document alone, so the plugin's stdout goes to stderr.
    options.wasi_stdout = o.json ? WasiStream::callback([](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stderr);
    })
                                 : WasiStream::inherit();
    options.wasi_stderr = WasiStream::inherit();
    Engine engine;
    auto plugin = Plugin::create(engine, std::move(m), options);
    if (!plugin) {
        Error e = plugin.error();
        if (e.kind == ErrorKind::unlinkable && !o.allow_missing_imports)
            e.message += "; --allow-missing-imports links what is missing to traps";
        print_error(o.file, e);
        return exit_code_of(e);
    }
    if (!plugin->function_exists(o.function)) {
        std::vector<std::string> names = plugin->functions();
        return fail(fmt::format(
            "{}: no exported function \"{}\" (the plugin exports: {})", o.file, o.function,
            names.empty() ? "nothing" : fmt::format("{}", fmt::join(names, ", "))));
    }
    std::string input = o.input.value_or("");
    if (o.read_stdin)
        input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());

    Json calls = Json::array();
    struct Figures {
        std::chrono::nanoseconds duration{0};
        std::optional<uint64_t> fuel_used;
        uint64_t memory_bytes = 0;
    } last;
    plugin->add_observer({nullptr, [&last](const CallEvent& event) {
                              last = {event.duration, event.fuel_used, event.peak_memory_bytes};
                          }});
    int exit_code = exit_ok;
    for (uint32_t i = 0; i < o.loop; ++i) {
        last = {};
        auto out = plugin->call(o.function, input);
        if (o.json) {
            Json call = Json::object();
            if (out) set_bytes_field(call, "output", *out);
            call["duration_ns"] = last.duration.count();
            call["fuel_used"] = last.fuel_used ? Json(*last.fuel_used) : nullptr;
            call["memory_bytes"] = last.memory_bytes;
            if (!out) call["error"] = error_json(out.error());
            calls.push_back(std::move(call));
        } else if (out) {
            // The output exactly as the plugin set it; a newline only separates repeated calls.
            if (i > 0) std::fputc('\n', stdout);
            std::fwrite(out->data(), 1, out->size(), stdout);
            std::fflush(stdout); // before the next call's WASI output, which bypasses stdio
        } else {
            print_call_failure(out.error());
        }
        if (!out) {
            exit_code = exit_failure;
            break;
        }
    }
    if (o.json) {
        Json doc = {
            {"plugin", plugin->name()}, {"function", o.function}, {"calls", std::move(calls)}};
        print_json(doc);
    }
    return exit_code;
}

} // namespace

void add_call_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("call", "Call a function of a plugin (Extism ABI)");
    auto o = std::make_shared<CallOptions>();
    sub->add_option("FILE", o->file,
                    "the plugin: a .wasm or .wat module, a JSON or TOML manifest, or an http(s) "
                    "URL of a module")
        ->required()
        ->type_name(file_value);
    sub->add_option("FUNC", o->function, "the plugin function to call")->required();
    sub->add_option("-i,--input", o->input, "input bytes, as given")->type_name("STR");
    sub->add_flag("--stdin", o->read_stdin, "read the input from stdin");
    sub->add_flag("--wasi", o->wasi, "link WASI (implied by --allow-path)");
    sub->add_flag("-m,--manifest", o->manifest, "FILE is a manifest (also found from its content)");
    ManifestOverrides& m = o->overrides;
    sub->add_option("--allow-path", m.allowed_paths,
                    "give the plugin a directory: HOST[:GUEST] or HOST::GUEST, ro: in front for "
                    "read-only")
        ->allow_extra_args(false)
        ->type_name(dir_value);
    sub->add_option("--allow-host", m.allowed_hosts, "let HTTP reach hosts matching GLOB")
        ->allow_extra_args(false)
        ->type_name("GLOB");
    sub->add_option("--config", m.config, "set a config key (after --set-config)")
        ->allow_extra_args(false)
        ->type_name("KEY=VALUE");
    sub->add_option("--set-config", o->set_config,
                    "set config keys from a JSON object of strings, as extism call does")
        ->type_name("JSON");
    add_limit_option(*sub, "--timeout", m.timeout_ms, "stop a call after this many milliseconds", 1)
        ->default_str("none");
    add_limit_option(*sub, "--fuel", m.fuel, "fuel per call")->default_str("unmetered");
    add_limit_option(*sub, "--memory-max", m.max_pages,
                     "pages of 64 KiB for all the plugin's memory")
        ->default_str("65536: 4 GiB");
    add_limit_option(*sub, "--var-max", m.max_var_bytes, "bytes for vars (0 disables them)")
        ->default_str("1048576");
    add_limit_option(*sub, "--http-response-max", m.max_http_response_bytes,
                     "bytes of an HTTP response body")
        ->default_str("52428800");
    sub->add_option("--link", m.links, "link another module, NAME=FILE")
        ->allow_extra_args(false)
        ->type_name("NAME=FILE");
    sub->add_option("--loop", o->loop, "call this many times on one instance (vars persist)")
        ->check(count_in_range(1, UINT32_MAX))
        ->type_name("N")
        ->capture_default_str();
    set_choices(sub->add_option("--log-level", o->log_level,
                                "show the plugin's log lines from this level up: trace, debug, "
                                "info, warn, error or off")
                    ->type_name("LEVEL")
                    ->capture_default_str(),
                {"trace", "debug", "info", "warn", "error", "off"});
    sub->add_flag("--allow-missing-imports", o->allow_missing_imports,
                  "link each host function the plugin imports and nothing provides to a stub "
                  "that traps, naming it, when called");
    sub->add_flag("--json", o->json,
                  "print each call's output, duration, fuel and memory as JSON (docs/cli.md)");
    set_examples(*sub, {{"kiln call plugin.wasm greet -i World", "call greet with the input World"},
                        {"kiln call plugin.json count_vowels --stdin < text.txt",
                         "a plugin from its manifest, the input from a file"},
                        {"kiln call https://example.com/plugin.wasm greet -i World",
                         "a plugin downloaded from a URL"},
                        {"kiln call plugin.wasm run --allow-path ./data::/data",
                         "with WASI and a directory the plugin sees as /data"},
                        {"kiln call plugin.wasm greet --set-config '{\"greeting\":\"Hi\"}' "
                         "--log-level info",
                         "with config keys, showing the plugin's log from info up"},
                        {"kiln call plugin.wasm greet --allow-missing-imports",
                         "try a plugin that imports host functions kiln does not provide"},
                        {"kiln call plugin.wasm greet -i World --loop 3 --json",
                         "three calls on one instance, measured, as JSON"}});
    sub->callback([o, &exit_code] { exit_code = run_call(*o); });
}

} // namespace kiln::tool
