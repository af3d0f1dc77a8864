// kiln-bench-actors: actor graphs (docs/actors.md).
//
//   actors/wasm_chain_10     messages per second through a chain of 10 wasm actors (relay.c,
//                            Reflow's current ABI, a fresh instance per message) on 11-byte
//                            String payloads; 1,000 messages per iteration, sent at once
//   actors/native_chain_10   the same chain of native C++ components: the runtime's ceiling
//   actors/wasm_hop          one message through the wasm chain and out, alone: the time per
//                            hop (iteration time / 10)
//   actors/native_hop        the same with native components
#include <kiln/actors.hpp>

#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace {

constexpr int chain_length = 10;
constexpr int burst = 1000;
const std::string payload = "hello world"; // 11 bytes

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "kiln-bench-actors: %s\n", what.c_str());
    std::exit(1);
}

/// n0 -> n1 -> ... -> n9, the first one's `in` exposed as `start`, the last one's `out` as `end`.
std::string chain_graph(bool wasm) {
    std::string processes, connections;
    for (int i = 0; i < chain_length; ++i) {
        std::string metadata =
            wasm ? std::string(R"({"source": ")") + KILN_BENCH_RELAY + R"("})" : "{}";
        processes += (i ? "," : "") + std::string("\"n") + std::to_string(i) +
                     R"(": {"component": "Relay", "metadata": )" + metadata + "}";
        if (i)
            connections += std::string(i > 1 ? "," : "") + R"({"from": {"nodeId": "n)" +
                           std::to_string(i - 1) + R"(", "portId": "out"}, "to": {"nodeId": "n)" +
                           std::to_string(i) + R"(", "portId": "in"}})";
    }
    return R"({"processes": {)" + processes + R"(}, "connections": [)" + connections +
           R"(], "inports": {"start": {"nodeId": "n0", "portId": "in"}},)"
           R"("outports": {"end": {"nodeId": "n9", "portId": "out"}}})";
}

/// A chain and a count of what left it.
struct Chain {
    std::mutex mutex;
    std::condition_variable cv;
    long out = 0;
    std::unique_ptr<kiln::Network> network;

    explicit Chain(bool wasm) {
        auto graph = kiln::Graph::parse(chain_graph(wasm));
        if (!graph) die(graph.error().message);
        kiln::NetworkOptions o;
        kiln::NativeComponent relay;
        relay.spec.component = "Relay";
        relay.spec.inports = {{"in", "", "Any", true}};
        relay.spec.outports = {{"out", "", "Any", false}};
        relay.process = [](kiln::ActorContext& ctx) -> kiln::Result<void> {
            ctx.send("out", ctx.message());
            return {};
        };
        o.add_component(std::move(relay));
        o.on_output = [this](const kiln::OutputEvent&) {
            std::lock_guard lock(mutex);
            ++out;
            cv.notify_all();
        };
        auto n = kiln::Network::create(*graph, std::move(o));
        if (!n) die(n.error().message);
        network = std::move(*n);
        if (auto ok = network->start(); !ok) die(ok.error().message);
    }
    /// Sends `count` messages into the chain and waits until all have left it.
    void run(long count) {
        long target;
        {
            std::lock_guard lock(mutex);
            target = out + count;
        }
        for (long i = 0; i < count; ++i)
            if (auto ok = network->send("n0", "in", kiln::Message::string(payload)); !ok)
                die(ok.error().message);
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return out >= target; });
    }
};

/// CPU seconds of every thread of the process so far: on a machine shared with other work the
/// wall clock measures the queue for the cores as much as Kiln, this does not.
double process_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

void chain_throughput(benchmark::State& state, bool wasm) {
    Chain chain(wasm);
    chain.run(10); // warm up: every node's first instance made
    const double cpu = process_cpu_seconds();
    for (auto _ : state)
        chain.run(burst);
    const double hops = double(state.iterations()) * burst * chain_length;
    state.SetItemsProcessed(state.iterations() * burst);
    state.counters["hops/s"] = benchmark::Counter(hops, benchmark::Counter::kIsRate);
    state.counters["cpu_us/hop"] = (process_cpu_seconds() - cpu) * 1e6 / hops;
    if (chain.network->stats().failed) die("a relay failed");
}

void hop_latency(benchmark::State& state, bool wasm) {
    Chain chain(wasm);
    chain.run(10);
    const double cpu = process_cpu_seconds();
    for (auto _ : state)
        chain.run(1);
    const double hops = double(state.iterations()) * chain_length;
    state.counters["per_hop"] =
        benchmark::Counter(hops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["cpu_us/hop"] = (process_cpu_seconds() - cpu) * 1e6 / hops;
}

void wasm_chain_10(benchmark::State& state) {
    chain_throughput(state, true);
}
void native_chain_10(benchmark::State& state) {
    chain_throughput(state, false);
}
void wasm_hop(benchmark::State& state) {
    hop_latency(state, true);
}
void native_hop(benchmark::State& state) {
    hop_latency(state, false);
}

} // namespace

BENCHMARK(wasm_chain_10)
    ->Name("actors/wasm_chain_10")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(native_chain_10)
    ->Name("actors/native_chain_10")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(wasm_hop)->Name("actors/wasm_hop")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(native_hop)->Name("actors/native_hop")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_MAIN();
