// kiln-bench-manager: the plugin manager's costs, against the targets of docs/manager.md.
//
//   manager/discover_validate_1000   open() over 1,000 plugin folders (each a kiln.yaml and the
//                                     count_vowels module), reading every manifest, decoding
//                                     and validating every module; no compiling (target: at most
//                                     200 ms)
//   manager/cached_load              unload + load of a plugin whose modules are compiled
//                                     already (the compile cache hit)
//   manager/call                     a call through PluginManager::call
//   manager/direct_call              the same call through Plugin::call, for the overhead
//                                     (target: at most 100 ns more)
#include <kiln/manager.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "kiln-bench-manager: %s\n", what.c_str());
    std::exit(1);
}

const std::string module_path = std::string(KILN_BENCH_WAT_DIR) + "/count_vowels.wasm";

/// A folder of `n` plugin folders, made once per process and removed at exit.
const fs::path& plugin_folders(size_t n) {
    static const fs::path root = [n] {
        fs::path dir =
            fs::temp_directory_path() / ("kiln-bench-manager-" + std::to_string(getpid()));
        for (size_t i = 0; i < n; ++i) {
            const fs::path p = dir / ("p" + std::to_string(i));
            fs::create_directories(p);
            fs::copy_file(module_path, p / "plugin.wasm");
            std::ofstream(p / "kiln.yaml")
                << "name: p" << i << "\nversion: 1.0." << i
                << "\nwasm: plugin.wasm\npermissions: {network: [\"*.example.com\"], kv: [read]}\n"
                   "limits: {memory: 4 MiB, timeout: 1s}\n"
                   "contributes: {commands: [{id: count, title: Count vowels, export: "
                   "count_vowels}]}\n";
        }
        std::atexit([] {
            fs::remove_all(fs::temp_directory_path() /
                           ("kiln-bench-manager-" + std::to_string(getpid())));
        });
        return dir;
    }();
    return root;
}

void discover_validate_1000(benchmark::State& state) {
    const fs::path& dir = plugin_folders(1000);
    for (auto _ : state) {
        kiln::PluginManager manager;
        if (!manager.open(dir.string())) die("open failed");
        auto list = manager.list();
        if (list.size() != 1000 || list.front().state != kiln::PluginState::available)
            die("discovery: " + (list.empty() ? std::string("nothing") : list.front().error));
        benchmark::DoNotOptimize(list);
    }
}
BENCHMARK(discover_validate_1000)
    ->Name("manager/discover_validate_1000")
    ->Unit(benchmark::kMillisecond);

void cached_load(benchmark::State& state) {
    const fs::path& dir = plugin_folders(1000);
    kiln::PluginManager manager;
    if (!manager.add((dir / "p0").string())) die("add failed");
    if (!manager.load("p0")) die("load failed");
    for (auto _ : state) {
        (void)manager.unload("p0");
        if (!manager.load("p0")) die("load failed");
    }
    state.counters["compiled"] = double(manager.cache_stats().compiled);
}
BENCHMARK(cached_load)->Name("manager/cached_load")->Unit(benchmark::kMicrosecond);

const std::string input = "Hello, world! A short input for count_vowels.";

void call(benchmark::State& state) {
    const fs::path& dir = plugin_folders(1000);
    kiln::PluginManager manager;
    if (!manager.add((dir / "p0").string())) die("add failed");
    if (!manager.call("p0", "count_vowels", input)) die("call failed");
    for (auto _ : state)
        benchmark::DoNotOptimize(manager.call("p0", "count_vowels", input));
}
BENCHMARK(call)->Name("manager/call");

void direct_call(benchmark::State& state) {
    kiln::Engine engine;
    auto manifest = kiln::Manifest::from_file(module_path);
    if (!manifest) die(manifest.error().message);
    auto plugin = kiln::Plugin::create(engine, std::move(*manifest));
    if (!plugin) die(plugin.error().message);
    for (auto _ : state)
        benchmark::DoNotOptimize(plugin->call("count_vowels", input));
}
BENCHMARK(direct_call)->Name("manager/direct_call");

} // namespace

BENCHMARK_MAIN();
