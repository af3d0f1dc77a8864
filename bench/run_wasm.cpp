// kiln-bench-run: runs one benchmark module under Kiln the way bench/run_node.mjs does under node.
//
//   kiln-bench-run FILE [FUNC]
//
// Compiles FILE, defines the host function bench.checksum (i64) -> (), instantiates, and times one
// call of FUNC (default `run`). Prints `checksum N` (or `checksum -` when the module never reported
// one), `seconds S` (wall clock) and `cpu_seconds S` (process CPU time) for the call alone, then
// the compile and instantiate times, which the comparison leaves out because native code has no
// such step. Built with the CMake option KILN_INTERP_STATS it also prints `dispatches N`
// (instructions of Kiln's internal code run), `wasm_instructions N` (the wasm instructions they
// stand for) and their ratio.
#include "base/file.hpp"
#include "engine/interp/interpreter.hpp"

#include <kiln/kiln.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

using namespace kiln;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "kiln-bench-run: %s\n", what.c_str());
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: kiln-bench-run FILE [FUNC]\n");
        return 2;
    }
    const std::string path = argv[1];
    const std::string func_name = argc == 3 ? argv[2] : "run";

    auto read = kiln::read_file(path);
    if (!read) return fail(read.error().message);
    const std::vector<uint8_t>& bytes = *read;

    Engine engine;
    auto t0 = Clock::now();
    auto compiled = Module::compile(engine, bytes);
    const double compile_s = seconds_since(t0);
    if (!compiled) return fail(path + ": " + compiled.error().message);

    Store store(engine);
    uint64_t checksum = 0;
    int checksum_calls = 0;
    Linker linker;
    linker.func_wrap("bench", "checksum", [&](uint64_t value) {
        checksum = value;
        checksum_calls++;
    });

    t0 = Clock::now();
    auto instance = linker.instantiate(store, *compiled);
    const double instantiate_s = seconds_since(t0);
    if (!instance) return fail(path + ": " + instance.error().message);

    auto func = instance->get_func(store, func_name);
    if (!func) return fail(path + ": no exported function " + func_name);

    const auto stats_before = engine::interp_stats();
    const double c0 = cpu_now();
    t0 = Clock::now();
    auto result = func->call(store, {});
    const double run_s = seconds_since(t0);
    const double run_cpu_s = cpu_now() - c0;
    if (!result) {
        std::string msg = path + ": " + result.error().message;
        if (result.error().trap) {
            msg += "\n" + format_backtrace(result.error().trap->frames);
            msg.pop_back(); // fail() ends the line
        }
        return fail(msg);
    }

    if (checksum_calls == 1)
        std::printf("checksum %" PRIu64 "\n", checksum);
    else if (checksum_calls == 0)
        std::printf("checksum -\n");
    else
        return fail("checksum reported " + std::to_string(checksum_calls) + " times");
    std::printf("seconds %.6f\n", run_s);
    std::printf("cpu_seconds %.6f\n", run_cpu_s);
    std::printf("compile_seconds %.6f\n", compile_s);
    std::printf("instantiate_seconds %.6f\n", instantiate_s);
    if (stats_before) {
        const auto stats = *engine::interp_stats();
        const uint64_t dispatches = stats.dispatches - stats_before->dispatches;
        const uint64_t instructions = stats.wasm_instructions - stats_before->wasm_instructions;
        std::printf("dispatches %" PRIu64 "\n", dispatches);
        std::printf("wasm_instructions %" PRIu64 "\n", instructions);
        std::printf("dispatches_per_instruction %.3f\n",
                    instructions ? double(dispatches) / double(instructions) : 0.0);
    }
    return 0;
}
