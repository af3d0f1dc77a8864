// kiln-bench-dispatch: the event bus and commands through a HostLibrary, against the targets of
// docs/hostfns.md.
//
//   dispatch/deliver_to_plugin   a host publish of a small event to a topic a plugin subscribes
//                                to (through kiln:host/v1), delivered to its on_event export
//                                (target: at least 200,000 events/s)
//   dispatch/deliver_to_host     the same event to a host handler: the bus alone
//   dispatch/invoke_command      Dispatch::invoke of a plugin's command, its handle_command
//                                answering {"ok":true}
#include <kiln/hostfns.hpp>
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
    std::fprintf(stderr, "kiln-bench-dispatch: %s\n", what.c_str());
    std::exit(1);
}

/// A manager with a HostLibrary over a folder holding the subscriber plugin, loaded.
struct Setup {
    fs::path dir = fs::temp_directory_path() / ("kiln-bench-dispatch-" + std::to_string(getpid()));
    kiln::HostLibrary host;
    kiln::PluginManager manager;

    Setup() {
        fs::create_directories(dir / "sub");
        fs::copy_file(std::string(KILN_BENCH_WAT_DIR) + "/subscriber.wasm",
                      dir / "sub" / "plugin.wasm", fs::copy_options::overwrite_existing);
        std::ofstream(dir / "sub" / "kiln.yaml")
            << "name: sub\nversion: 1.0.0\nwasm: plugin.wasm\n"
               "permissions: {events: {subscribe: [\"bench.*\"]}}\n";
        host.install(manager);
        if (!manager.open(dir.string())) die("open failed");
        if (auto ok = manager.load("sub"); !ok) die("load: " + ok.error().message);
    }
    ~Setup() {
        manager.unload_all();
        fs::remove_all(dir);
    }
    uint64_t count() {
        auto out = manager.call("sub", "count", "");
        if (!out || out->size() != 8) die("count failed");
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | uint8_t((*out)[i]);
        return n;
    }
};

void deliver_to_plugin(benchmark::State& state) {
    Setup s;
    kiln::EventBus& bus = s.host.dispatch().events();
    const uint64_t before = s.count();
    for (auto _ : state)
        if (!bus.publish("bench.tick", R"({"n":1})")) die("publish failed");
    if (s.count() - before != uint64_t(state.iterations())) die("events were lost");
    if (bus.stats().failed != 0) die("deliveries failed");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(deliver_to_plugin)->Name("dispatch/deliver_to_plugin");

void deliver_to_host(benchmark::State& state) {
    kiln::EventBus bus;
    uint64_t got = 0;
    if (!bus.subscribe("bench.tick", [&](const kiln::Event&) { ++got; })) die("subscribe");
    for (auto _ : state)
        if (!bus.publish("bench.tick", R"({"n":1})")) die("publish failed");
    if (got != uint64_t(state.iterations())) die("events were lost");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(deliver_to_host)->Name("dispatch/deliver_to_host");

void invoke_command(benchmark::State& state) {
    Setup s;
    kiln::Dispatch& d = s.host.dispatch();
    for (auto _ : state) {
        auto out = d.invoke("sub", "ping", "{}");
        if (!out) die("invoke: " + out.error().message);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(invoke_command)->Name("dispatch/invoke_command");

} // namespace

BENCHMARK_MAIN();
