// kiln run [flags] FILE.wasm [ARGS...]: runs a WASI command (its _start, or one export) with the
// capabilities the flags grant, and exits with the program's exit code.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "limit_flags.hpp"

#include "base/result.hpp"
#include "base/time.hpp"

#include <kiln/kiln.hpp>
#include <kiln/wasi.hpp>

#include <cstdlib>
#include <fmt/format.h>

extern char** environ;

namespace kiln::tool {

namespace {

/// Exit status of a program that trapped, as a process killed by SIGABRT reports it (wasmtime's
/// convention). A limit of the command line (--fuel, --timeout) stopping it is no fault of the
/// program: that exits 1, as under `kiln call`.
constexpr int exit_trap = 134;

struct RunOptions {
    std::vector<std::string> dirs, ro_dirs, env;
    bool inherit_env = false;
    std::optional<uint64_t> fuel;
    std::optional<uint64_t> timeout_ms;
    std::optional<uint64_t> max_memory;
    std::string invoke;
    std::string file;
    std::vector<std::string> args;
};

int run(const RunOptions& o) {
    WasiConfig config;
    config.args.push_back(o.file);
    config.args.insert(config.args.end(), o.args.begin(), o.args.end());
    if (o.inherit_env)
        for (char** e = environ; *e; ++e) {
            std::string kv = *e;
            size_t eq = kv.find('=');
            if (eq != std::string::npos)
                config.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        }
    for (const std::string& kv : o.env) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            print_error(fmt::format("--env {}: expected KEY=VALUE", kv));
            return exit_usage;
        }
        config.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    for (const auto* dirs : {&o.dirs, &o.ro_dirs})
        for (const std::string& d : *dirs) {
            auto grant = parse_preopen(d);
            if (!grant) {
                print_error(fmt::format("{}: {}", dirs == &o.dirs ? "--dir" : "--ro-dir",
                                        grant.error().message));
                return exit_usage;
            }
            grant->read_only = grant->read_only || dirs == &o.ro_dirs;
            config.preopens.push_back(std::move(*grant));
        }
    config.stdin_stream = WasiStream::inherit();
    config.stdout_stream = WasiStream::inherit();
    config.stderr_stream = WasiStream::inherit();
    auto wasi = Wasi::create(std::move(config));
    if (!wasi) {
        print_error(wasi.error().message);
        return exit_code_of(wasi.error());
    }

    Engine engine;
    auto bytes = read_module(o.file);
    if (!bytes) {
        print_error(o.file, bytes.error());
        return exit_failure;
    }
    auto module = Module::compile(engine, *bytes);
    if (!module) {
        print_error(o.file, module.error());
        return exit_failure;
    }
    std::string entry = o.invoke.empty() ? "_start" : o.invoke;
    const ExportType* exported = nullptr;
    auto exports = module->exports();
    for (const ExportType& e : exports)
        if (e.name == entry && e.type.kind == ExternKind::func) exported = &e;
    if (!exported) {
        print_error(fmt::format("{}: no exported function \"{}\"", o.file, entry));
        return exit_usage;
    }
    // With --invoke the ARGS are the function's arguments, typed by its parameters.
    std::vector<Value> call_args;
    if (!o.invoke.empty()) {
        const auto& params = exported->type.func.params;
        if (o.args.size() != params.size()) {
            print_error(fmt::format("{}: {} takes {} argument{}, got {}", o.file, entry,
                                    params.size(), params.size() == 1 ? "" : "s", o.args.size()));
            return exit_usage;
        }
        for (size_t i = 0; i < params.size(); ++i) {
            auto v = parse_value(o.args[i], params[i]);
            if (!v) {
                print_error(fmt::format("{}: {}: argument {}: {}", o.file, entry, i + 1,
                                        v.error().message));
                return exit_usage;
            }
            call_args.push_back(*v);
        }
    }

    Store store(engine);
    if (o.max_memory) store.set_memory_limit(*o.max_memory);
    if (o.fuel) store.set_fuel(*o.fuel);
    if (o.timeout_ms) store.set_timeout(saturating_milliseconds(*o.timeout_ms));
    Linker linker;
    Wasi::define(linker);
    (*wasi)->attach(store);
    auto instance = linker.instantiate(store, *module);
    if (!instance) {
        if (instance.error().kind == ErrorKind::exit) // proc_exit from a start function
            return instance.error().trap ? instance.error().trap->exit_code : 0;
        print_error(o.file, instance.error());
        return exit_failure;
    }
    auto func = instance->get_func(store, entry);
    auto results = func->call(store, call_args);
    if (!results) {
        const Error& e = results.error();
        if (e.kind == ErrorKind::exit) return e.trap ? e.trap->exit_code : 0;
        print_call_failure(named_call_error(entry, e, o.timeout_ms));
        return e.trap && is_limit_trap(e.trap->kind) ? exit_failure : exit_trap;
    }
    for (const Value& v : *results)
        fmt::print("{}\n", format_value(store, v));
    return exit_ok;
}

} // namespace

void add_run_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("run", "Run a WASI program with the capabilities given");
    auto o = std::make_shared<RunOptions>();
    sub->add_option("--dir", o->dirs,
                    "give the program a directory: HOST[:GUEST] or HOST::GUEST, ro: in front "
                    "for read-only")
        ->allow_extra_args(false)
        ->type_name(dir_value);
    sub->add_option("--ro-dir", o->ro_dirs, "give the program a directory, read-only (as --dir)")
        ->allow_extra_args(false)
        ->type_name(dir_value);
    sub->add_option("--env", o->env, "set an environment variable")
        ->allow_extra_args(false)
        ->type_name("KEY=VALUE");
    sub->add_flag("--inherit-env", o->inherit_env, "pass this process's environment through");
    add_limit_option(*sub, "--fuel", o->fuel,
                     "stop after this much fuel (about one unit per instruction)")
        ->default_str("unmetered");
    add_limit_option(*sub, "--timeout", o->timeout_ms, "stop after this many milliseconds", 1)
        ->default_str("none");
    add_limit_option(*sub, "--max-memory", o->max_memory, "limit linear memory to this many bytes")
        ->default_str("no limit");
    sub->add_option("--invoke", o->invoke,
                    "call this export instead of _start; ARGS are its "
                    "arguments")
        ->type_name("FUNC")
        ->default_str("_start");
    // FILE and everything after it belong to the program, flags included: CLI11 leaves them
    // unparsed (prefix command) and they are taken from remaining().
    sub->prefix_command();
    set_examples(*sub,
                 {{"kiln run app.wasm --flag x", "run app.wasm; --flag x are its own arguments"},
                  {"kiln run --dir .::/work --env HOME=/work app.wasm",
                   "with this folder as /work and one environment variable"},
                  {"kiln run --fuel 1000000 --invoke add app.wasm 1 2",
                   "call one export with typed arguments, metered"}});
    sub->footer("FILE.wasm [ARGS...] follow the flags; ARGS go to the program unparsed.\n\n" +
                sub->get_footer());
    sub->callback([o, sub, &exit_code] {
        std::vector<std::string> rest = sub->remaining();
        if (rest.empty()) {
            print_error("run: a FILE.wasm to run is required (see kiln run --help)");
            exit_code = exit_usage;
            return;
        }
        o->file = rest[0];
        o->args.assign(rest.begin() + 1, rest.end());
        exit_code = run(*o);
    });
}

} // namespace kiln::tool
