// kiln-bench-hostfns: the host function library's costs, against the targets of docs/hostfns.md.
//
//   hostfns/kv_get, hostfns/kv_set     the kv family called directly (a HostContext with kv
//                                      granted, the state database in a temporary folder): one
//                                      get of a present key, one set committed, by one thread
//                                      and by four at once (target: at most 2 us each)
//   hostfns/kv_set_batched             kv_set with batched commits (kv_commit_delay_ms 10), by
//                                      one thread over 1,000 keys; the CPU time is the
//                                      process's, the flusher thread's commits included
//   hostfns/guest_kv_get, guest_kv_set the same from a plugin through kiln:host/v1, 1,000 per
//                                      call (kv_loop.wasm); the time is per kv call
//   hostfns/zeno_call                  a ZenoEngine slot call on a small request through
//                                      PluginManager::call (zeno_small.wasm)
#include "hostfns/context.hpp"
#include "hostfns/families.hpp"

#include <kiln/hostfns.hpp>
#include <kiln/manager.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace {

namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "kiln-bench-hostfns: %s\n", what.c_str());
    std::exit(1);
}

/// A temporary folder for this process, removed at exit.
const fs::path& folder() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("kiln-bench-hostfns-" + std::to_string(getpid()));
        fs::create_directories(d);
        std::atexit([] {
            fs::remove_all(fs::temp_directory_path() /
                           ("kiln-bench-hostfns-" + std::to_string(getpid())));
        });
        return d;
    }();
    return dir;
}

kiln::Permissions kv_rw() {
    kiln::Permissions p;
    p.kv_read = p.kv_write = true;
    return p;
}

/// A context of plugin "bench" with kv granted, over a state database of its own (`file`),
/// kv commits batched within `delay_ms` when above 0.
kiln::hostfns::HostContext& context(const std::string& file = "family.db", uint32_t delay_ms = 0) {
    struct Context {
        std::shared_ptr<kiln::hostfns::Services> services;
        kiln::hostfns::HostContext ctx;
    };
    static std::map<std::string, std::unique_ptr<Context>> contexts;
    auto& c = contexts[file];
    if (!c) {
        kiln::HostOptions o;
        o.state_path = (folder() / file).string();
        o.kv_commit_delay_ms = delay_ms;
        auto services = std::make_shared<kiln::hostfns::Services>(o);
        c.reset(new Context{services, {services, "bench", kv_rw(), folder().string(), nullptr}});
    }
    return c->ctx;
}

void kv_get(benchmark::State& state) {
    auto& ctx = context();
    if (!kiln::hostfns::kv_set(ctx, "key", "value")) die("kv_set failed");
    for (auto _ : state) {
        auto v = kiln::hostfns::kv_get(ctx, "key");
        if (!v || !*v) die("kv_get failed");
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(kv_get)->Name("hostfns/kv_get");

void kv_set(benchmark::State& state) {
    auto& ctx = context();
    const std::string key = "key" + std::to_string(state.thread_index());
    uint64_t i = 0;
    for (auto _ : state) {
        if (!kiln::hostfns::kv_set(ctx, key, std::to_string(i++ % 100))) die("kv_set failed");
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
// With several threads setting at once, their sets share commits (group commit).
BENCHMARK(kv_set)->Name("hostfns/kv_set")->Threads(1)->Threads(4)->UseRealTime();

void kv_set_batched(benchmark::State& state) {
    auto& ctx = context("batched.db", 10);
    uint64_t i = 0;
    for (auto _ : state) {
        if (!kiln::hostfns::kv_set(ctx, "key" + std::to_string(i % 1000), std::to_string(i)))
            die("kv_set failed");
        ++i;
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
// Process CPU time: the commits run on the store's flusher thread.
BENCHMARK(kv_set_batched)->Name("hostfns/kv_set_batched")->MeasureProcessCPUTime()->UseRealTime();

/// A manager with the host functions installed (state database in the folder) over a folder
/// holding `name`: the module `wasm` beside `manifest`.
struct Hosted {
    kiln::PluginManager manager;
    Hosted(const std::string& name, const std::string& wasm, const std::string& manifest_file,
           const std::string& manifest) {
        kiln::HostOptions o;
        o.state_path = (folder() / "guest.db").string();
        kiln::HostLibrary host(o);
        host.install(manager);
        const fs::path dir = folder() / "plugins" / name;
        fs::create_directories(dir);
        fs::copy_file(std::string(KILN_BENCH_WAT_DIR) + "/" + wasm, dir / "plugin.wasm",
                      fs::copy_options::overwrite_existing);
        std::ofstream(dir / manifest_file) << manifest;
        if (!manager.add(dir.string())) die("add " + name + " failed");
        if (auto ok = manager.load(name); !ok) die("load " + name + ": " + ok.error().message);
    }
};

void guest_kv(benchmark::State& state, const char* function) {
    static Hosted h("kvloop", "kv_loop.wasm", "kiln.yaml",
                    "name: kvloop\nversion: 1.0.0\nwasm: plugin.wasm\n"
                    "permissions: {kv: [read, write]}\n");
    if (!h.manager.call("kvloop", "sets", "")) die("sets failed");
    for (auto _ : state) {
        auto out = h.manager.call("kvloop", function, "");
        if (!out) die(std::string(function) + ": " + out.error().message);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * 1000);
}
BENCHMARK_CAPTURE(guest_kv, get, "gets")
    ->Name("hostfns/guest_kv_get")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(guest_kv, set, "sets")
    ->Name("hostfns/guest_kv_set")
    ->Unit(benchmark::kMicrosecond);

void zeno_call(benchmark::State& state) {
    static Hosted h("zeno", "zeno_small.wasm", "manifest.yaml",
                    "name: zeno\nbinary: plugin.wasm\n");
    const std::string params = R"({"name":"World","n":1})";
    for (auto _ : state) {
        auto out = h.manager.call("zeno", "bench.echo", params);
        if (!out) die("zeno call: " + out.error().message);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(zeno_call)->Name("hostfns/zeno_call");

} // namespace

BENCHMARK_MAIN();
