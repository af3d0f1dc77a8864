// kiln-bench-snapshot: snapshot and restore of a store holding 16 MiB of touched memory
// (wat/snapshot_heap.wasm, 32-byte records of mixed data), against the target of at most 20 ms
// each way.
//
//   snapshot/save_encode      Store::snapshot(): the store image, then zstd and the checksum
//   snapshot/decode_restore   Snapshot::decode + Store::restore into a store built the same way
//   snapshot/save, snapshot/encode, snapshot/decode, snapshot/restore   the four steps alone
//
// Counters: `encoded` and `image` are the snapshot's size and its store section's size, in bytes.
// Times are wall-clock: large snapshots are compressed on several threads, and the pause a
// snapshot costs its caller is what the target is about.
#include <kiln/kiln.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "kiln-bench-snapshot: %s\n", what.c_str());
    std::exit(1);
}

template <typename T> T must(kiln::Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    return std::move(*r);
}
void must(kiln::Result<void> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
}

/// A store with snapshot_heap.wasm instantiated and, when `fill`, its memory filled.
struct Heap {
    kiln::Store store;
    kiln::Instance instance;
    Heap(const kiln::Engine& engine, const kiln::Module& module, bool fill)
        : store(engine), instance(must(kiln::Linker().instantiate(store, module), "instantiate")) {
        if (fill)
            must(instance.get_func(store, "fill")
                     ->call(store, {kiln::Value::i64(0x2545f4914f6cdd1d)}),
                 "fill");
    }
};

struct Fixture {
    kiln::Engine engine;
    kiln::Module module = must(
        kiln::Module::from_file(engine, std::string(KILN_BENCH_WAT_DIR) + "/snapshot_heap.wasm"),
        "snapshot_heap.wasm");
    Heap filled{engine, module, true};
    kiln::Snapshot snap = [this] {
        kiln::Snapshot s;
        must(filled.store.save(s), "save");
        return s;
    }();
    std::vector<uint8_t> bytes = must(snap.encode(), "encode");

    void count(benchmark::State& state) const {
        state.counters["encoded"] = double(bytes.size());
        state.counters["image"] = double(snap.get("store")->size());
    }
};

/// CPU time of the whole process (every thread), in seconds.
double process_cpu() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

/// Adds `cpu_all_ms`: CPU time per iteration over all threads, against the wall time shown.
struct AllThreads {
    benchmark::State& state;
    double start = process_cpu();
    ~AllThreads() {
        state.counters["cpu_all_ms"] =
            benchmark::Counter((process_cpu() - start) * 1e3 / double(state.iterations()));
    }
};

const Fixture& fixture() {
    static const Fixture f;
    return f;
}

void bm_save_encode(benchmark::State& state) {
    const Fixture& f = fixture();
    AllThreads cpu{state};
    for (auto _ : state)
        benchmark::DoNotOptimize(must(f.filled.store.snapshot(), "snapshot"));
    f.count(state);
}
BENCHMARK(bm_save_encode)
    ->Name("snapshot/save_encode")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void bm_decode_restore(benchmark::State& state) {
    const Fixture& f = fixture();
    Heap target(f.engine, f.module, false);
    for (auto _ : state)
        must(target.store.restore(f.bytes), "restore");
    f.count(state);
}
BENCHMARK(bm_decode_restore)
    ->Name("snapshot/decode_restore")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void bm_save(benchmark::State& state) {
    const Fixture& f = fixture();
    for (auto _ : state) {
        kiln::Snapshot s;
        must(f.filled.store.save(s), "save");
        benchmark::DoNotOptimize(s);
    }
    f.count(state);
}
BENCHMARK(bm_save)->Name("snapshot/save")->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_encode(benchmark::State& state) {
    const Fixture& f = fixture();
    AllThreads cpu{state};
    for (auto _ : state)
        benchmark::DoNotOptimize(must(f.snap.encode(), "encode"));
    f.count(state);
}
BENCHMARK(bm_encode)->Name("snapshot/encode")->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_decode(benchmark::State& state) {
    const Fixture& f = fixture();
    for (auto _ : state)
        benchmark::DoNotOptimize(must(kiln::Snapshot::decode(f.bytes), "decode"));
    f.count(state);
}
BENCHMARK(bm_decode)->Name("snapshot/decode")->Unit(benchmark::kMillisecond)->UseRealTime();

void bm_restore(benchmark::State& state) {
    const Fixture& f = fixture();
    Heap target(f.engine, f.module, false);
    for (auto _ : state)
        must(target.store.restore(f.snap), "restore");
    f.count(state);
}
BENCHMARK(bm_restore)->Name("snapshot/restore")->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
