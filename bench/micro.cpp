// kiln-bench-micro: Google Benchmark micro-benchmarks of the engine's fixed costs.
//
//   compile/small       decode + validate + lower wat/small.wasm (345 bytes, 8 functions)
//   store/create        an empty Store, created and destroyed
//   instantiate/fresh   Store + instantiate wat/instantiate.wasm (1 page, a data segment, a
//                       global, two functions) + destroy: the cost of a fresh instance
//   call/empty_export   Store::call of an exported empty function from C++
//   call/host_from_wasm a wasm loop calling an imported empty host function; per call
//   call/wasm_from_wasm the same loop calling an empty wasm function; per call
//   call/bare_loop      the same loop with no call; per iteration
//
// The loop benchmarks report `per_call`, the time of one iteration; subtracting bare_loop's gives
// the cost of the call alone.
#include "base/file.hpp"
#include "engine/runtime/store.hpp"

#include <kiln/kiln.hpp>

#include <kiln/plugin.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace kiln::engine;

namespace {

std::vector<uint8_t> read_fixture(const char* name) {
    const std::string path = std::string(KILN_BENCH_WAT_DIR) + "/" + name;
    auto bytes = kiln::read_file(path);
    if (!bytes) {
        std::fprintf(stderr, "%s\n", bytes.error().message.c_str());
        std::exit(1);
    }
    return std::move(*bytes);
}

std::shared_ptr<const CompiledModule> compile_fixture(Engine& engine, const char* name) {
    auto compiled = compile(engine, read_fixture(name));
    if (!compiled) {
        std::fprintf(stderr, "%s: %s\n", name, compiled.error().message.c_str());
        std::exit(1);
    }
    return *compiled;
}

/// Instantiates with `imports` in the module's import order.
Instance* must_instantiate(Store& store, std::shared_ptr<const CompiledModule> compiled,
                           std::vector<Extern> imports = {}) {
    auto instance = store.instantiate(std::move(compiled), imports);
    if (!instance) {
        std::fprintf(stderr, "instantiate: %s\n", instance.error().message.c_str());
        std::exit(1);
    }
    return *instance;
}

void must_succeed(const CallResult& result) {
    if (!result) {
        std::fprintf(stderr, "trap: %s\n", result.error().message.c_str());
        std::exit(1);
    }
}

void bm_compile_small(benchmark::State& state) {
    Engine engine;
    const auto bytes = read_fixture("small.wasm");
    for (auto _ : state) {
        auto compiled = compile(engine, bytes);
        benchmark::DoNotOptimize(compiled);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
}
BENCHMARK(bm_compile_small)->Name("compile/small");

void bm_store_create(benchmark::State& state) {
    Engine engine;
    for (auto _ : state) {
        Store store(engine);
        benchmark::DoNotOptimize(&store);
    }
}
BENCHMARK(bm_store_create)->Name("store/create");

void bm_instantiate(benchmark::State& state) {
    Engine engine;
    auto compiled = compile_fixture(engine, "instantiate.wasm");
    for (auto _ : state) {
        Store store(engine);
        Instance* instance = must_instantiate(store, compiled);
        benchmark::DoNotOptimize(instance);
    }
}
BENCHMARK(bm_instantiate)->Name("instantiate/fresh");

void bm_call_empty_export(benchmark::State& state) {
    Engine engine;
    auto compiled = compile_fixture(engine, "empty.wasm");
    Store store(engine);
    FuncInst* f = must_instantiate(store, compiled)->get_func("f");
    for (auto _ : state) {
        auto result = store.call(f, {});
        benchmark::DoNotOptimize(result);
    }
    must_succeed(store.call(f, {}));
}
BENCHMARK(bm_call_empty_export)->Name("call/empty_export");

// Runs `export_name(n)` of calls.wasm, n = state.range(0) iterations per benchmark iteration.
void run_call_loop(benchmark::State& state, const char* export_name) {
    Engine engine;
    auto compiled = compile_fixture(engine, "calls.wasm");
    Store store(engine);
    FuncInst* nop = store.create_host_func(
        FuncType{}, [](Store&, uint64_t*) -> std::optional<Trap> { return std::nullopt; });
    // bench.nop is calls.wasm's only import.
    FuncInst* f =
        must_instantiate(store, compiled, {Extern{ExternKind::func, nop}})->get_func(export_name);
    const Value arg = Value::i32(static_cast<int32_t>(state.range(0)));
    must_succeed(store.call(f, {&arg, 1}));
    for (auto _ : state) {
        auto result = store.call(f, {&arg, 1});
        benchmark::DoNotOptimize(result);
    }
    state.counters["per_call"] =
        benchmark::Counter(double(state.iterations()) * double(state.range(0)),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_host_from_wasm(benchmark::State& state) {
    run_call_loop(state, "host_loop");
}
void bm_wasm_from_wasm(benchmark::State& state) {
    run_call_loop(state, "wasm_loop");
}
void bm_bare_loop(benchmark::State& state) {
    run_call_loop(state, "bare_loop");
}
// ---- the same through the public C++ API (what an embedder measures)

kiln::Module api_module(const kiln::Engine& engine, const char* name) {
    auto bytes = read_fixture(name);
    auto m = kiln::Module::compile(engine, bytes);
    if (!m) {
        std::fprintf(stderr, "%s: %s\n", name, m.error().message.c_str());
        std::exit(1);
    }
    return *m;
}

// Instantiating a compiled module (one page, a data segment) into an existing store.
void bm_api_instantiate(benchmark::State& state) {
    kiln::Engine engine;
    kiln::Module module = api_module(engine, "instantiate.wasm");
    kiln::Linker linker;
    // A store accumulates instances; start a fresh one every 1000 to keep memory flat.
    auto store = std::make_unique<kiln::Store>(engine);
    int n = 0;
    for (auto _ : state) {
        auto inst = linker.instantiate(*store, module);
        benchmark::DoNotOptimize(inst);
        if (++n == 1000) {
            state.PauseTiming();
            store = std::make_unique<kiln::Store>(engine);
            n = 0;
            state.ResumeTiming();
        }
    }
}
BENCHMARK(bm_api_instantiate)->Name("api/instantiate");

// An empty export called through a TypedFunc.
void bm_api_call_empty(benchmark::State& state) {
    kiln::Engine engine;
    kiln::Module module = api_module(engine, "empty.wasm");
    kiln::Store store(engine);
    kiln::Linker linker;
    auto inst = linker.instantiate(store, module);
    auto f = inst->get_func(store, "f")->typed<void()>(store);
    for (auto _ : state) {
        auto r = f->call(store);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(bm_api_call_empty)->Name("api/call_empty_export");

// An empty host function defined with Linker::func_wrap, called from a wasm loop.
void bm_api_host_from_wasm(benchmark::State& state) {
    kiln::Engine engine;
    kiln::Module module = api_module(engine, "calls.wasm");
    kiln::Store store(engine);
    kiln::Linker linker;
    linker.func_wrap("bench", "nop", [] {});
    auto inst = linker.instantiate(store, module);
    auto f = inst->get_func(store, "host_loop")->typed<void(int32_t)>(store);
    const int32_t n = int32_t(state.range(0));
    for (auto _ : state) {
        auto r = f->call(store, n);
        benchmark::DoNotOptimize(r);
    }
    state.counters["per_call"] =
        benchmark::Counter(double(state.iterations()) * double(n),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(bm_api_host_from_wasm)->Name("api/host_from_wasm")->Arg(10000);

BENCHMARK(bm_host_from_wasm)->Name("call/host_from_wasm")->Arg(10000);
BENCHMARK(bm_wasm_from_wasm)->Name("call/wasm_from_wasm")->Arg(10000);
BENCHMARK(bm_bare_loop)->Name("call/bare_loop")->Arg(10000);

// ---- plugins (Extism ABI): count_vowels per call, and creating a plugin from a compiled one

std::shared_ptr<const kiln::CompiledPlugin> vowels_plugin(const kiln::Engine& engine) {
    auto compiled = kiln::CompiledPlugin::create(
        engine, kiln::Manifest::from_bytes(read_fixture("count_vowels.wasm")));
    if (!compiled) {
        std::fprintf(stderr, "count_vowels.wasm: %s\n", compiled.error().message.c_str());
        std::exit(1);
    }
    return *compiled;
}

void bm_plugin_call(benchmark::State& state) {
    kiln::Engine engine;
    auto plugin = kiln::Plugin::create(vowels_plugin(engine));
    std::string input =
        state.range(0) == 11 ? "Hello World" : std::string(size_t(state.range(0)), 'a');
    for (size_t i = 0; i < input.size(); i += 7)
        input[i] = 'x';
    auto expect = plugin->call("count_vowels", input);
    if (!expect) {
        state.SkipWithError(expect.error().message.c_str());
        return;
    }
    for (auto _ : state) {
        auto out = plugin->call("count_vowels", input);
        benchmark::DoNotOptimize(out);
    }
    state.SetLabel("output " + *expect);
}
BENCHMARK(bm_plugin_call)->Name("plugin/call_count_vowels")->Arg(11)->Arg(64 * 1024);

void bm_plugin_create(benchmark::State& state) {
    kiln::Engine engine;
    auto compiled = vowels_plugin(engine);
    for (auto _ : state) {
        auto plugin = kiln::Plugin::create(compiled);
        benchmark::DoNotOptimize(plugin);
    }
}
BENCHMARK(bm_plugin_create)->Name("plugin/create_from_compiled");

} // namespace

BENCHMARK_MAIN();
