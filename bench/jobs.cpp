// kiln-bench-jobs: the job system's costs, against the targets of docs/jobs.md.
//
//   jobs/empty_jobs          dispatch N empty jobs, then run them on 2 workers until all are
//                            completed; items/s is jobs dispatched and completed per second
//                            (target: at least 5,000/s with SQLite in WAL mode)
//   jobs/empty_jobs_batched  the same with the N jobs dispatched in one transaction
//   jobs/dispatch            dispatching alone (one transaction per job)
//   jobs/checkpoint          a guest's job_checkpoint of a small state, committed (per call)
//   jobs/snapshot_16mib      a pause of a job with snapshots holding 16 MiB of touched memory:
//                            from the request to the job paused, its snapshot stored
//   jobs/restore_16mib       a resume of it: from run() to the guest running again, its
//                            snapshot read and restored
// The plugin is bench/wat/job_bench.wat; the database a fresh file in a temporary folder.
#include <kiln/jobs.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "kiln-bench-jobs: %s\n", what.c_str());
    std::exit(1);
}

template <typename T> T check(kiln::Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    return std::move(*r);
}

/// A folder with the bench plugin and a job database, and a runner over them.
struct Bench {
    fs::path dir;
    kiln::PluginManager manager;
    kiln::HostLibrary host;
    std::optional<kiln::JobStore> store;
    std::unique_ptr<kiln::JobRunner> runner;

    explicit Bench(kiln::RunnerOptions options = {}) {
        static int counter = 0;
        dir = fs::temp_directory_path() /
              ("kiln-bench-jobs-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
        fs::create_directories(dir / "plugins/bench");
        fs::copy_file(std::string(KILN_BENCH_WAT_DIR) + "/job_bench.wasm",
                      dir / "plugins/bench/job_bench.wasm");
        std::ofstream(dir / "plugins/bench/kiln.yaml")
            << "name: bench\nversion: 1.0.0\nwasm: job_bench.wasm\npermissions: {jobs: 64}\n"
               "limits: {memory: 64 MiB}\n";
        store = check(kiln::JobStore::open((dir / "state.db").string()), "open");
        runner = std::make_unique<kiln::JobRunner>(manager, host, *store, options);
        if (auto ok = manager.open((dir / "plugins").string()); !ok) die(ok.error().message);
    }
    ~Bench() {
        runner.reset();
        store.reset();
        fs::remove_all(dir);
    }
    kiln::JobId dispatch(const std::string& export_name, std::optional<kiln::JobOptions> o = {}) {
        return check(
            runner->dispatch({.plugin = "bench", .export_name = export_name, .options = o}),
            "dispatch");
    }
    /// Waits for the last job dispatched (the workers take the oldest first, so it is among
    /// the last to end; the runner wakes the wait as jobs end, no polling of the database),
    /// then for all `n` to be completed.
    void wait_all(const kiln::JobId& last, int64_t n) {
        auto info = check(runner->wait(last, std::chrono::minutes(5)), "wait");
        if (info.status != kiln::JobStatus::completed) die("a bench job did not complete");
        while (count("completed") < n)
            std::this_thread::sleep_for(100us);
    }
    int64_t count(const char* status) {
        auto row = check(store->db()->query_one("SELECT count(*) FROM jobs WHERE status = ?",
                                                {std::string(status)}),
                         "count");
        return row ? row->integer(0) : 0;
    }
};

void empty_jobs(benchmark::State& state) {
    const int64_t n = state.range(0);
    for (auto _ : state) {
        state.PauseTiming();
        kiln::RunnerOptions options;
        options.concurrency = 2;
        options.poll = 1ms;
        Bench b(options);
        // The plugin compiled and an instance made before the clock.
        check(b.runner->run(b.dispatch("noop")), "warm-up");
        state.ResumeTiming();
        kiln::JobId last;
        for (int64_t i = 0; i < n; ++i)
            last = b.dispatch("noop");
        b.runner->start();
        b.wait_all(last, n + 1);
        state.PauseTiming();
        b.runner->stop();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(empty_jobs)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();

/// The same with the jobs dispatched in one transaction (JobRunner::dispatch of a span).
void empty_jobs_batched(benchmark::State& state) {
    const int64_t n = state.range(0);
    const std::vector<kiln::JobRequest> requests(size_t(n),
                                                 {.plugin = "bench", .export_name = "noop"});
    for (auto _ : state) {
        state.PauseTiming();
        kiln::RunnerOptions options;
        options.concurrency = 2;
        options.poll = 1ms;
        Bench b(options);
        check(b.runner->run(b.dispatch("noop")), "warm-up");
        state.ResumeTiming();
        auto ids = check(b.runner->dispatch(std::span(requests)), "dispatch");
        b.runner->start();
        b.wait_all(ids.back(), n + 1);
        state.PauseTiming();
        b.runner->stop();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(empty_jobs_batched)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();

void dispatch(benchmark::State& state) {
    Bench b;
    (void)b.dispatch("noop");
    for (auto _ : state)
        (void)b.dispatch("noop");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(dispatch)->Unit(benchmark::kMicrosecond);

void checkpoint(benchmark::State& state) {
    Bench b;
    for (auto _ : state) {
        state.PauseTiming();
        kiln::JobId id = b.dispatch("checkpoints");
        state.ResumeTiming();
        if (check(b.runner->run(id), "run") != kiln::JobStatus::completed)
            die("checkpoints did not complete");
    }
    // Each run is 1,000 checkpoints: report the time of one.
    state.SetItemsProcessed(state.iterations() * 1000);
    state.counters["per_checkpoint_us"] =
        benchmark::Counter(double(state.iterations()) * 1000,
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(checkpoint)->Unit(benchmark::kMillisecond)->UseRealTime();

/// A fill16 job paused with its snapshot stored, and its runner.
struct Paused {
    kiln::RunnerOptions options = [] {
        kiln::RunnerOptions o;
        o.poll = 1ms;
        return o;
    }();
    Bench b{options};
    kiln::JobId id = b.dispatch("fill16", kiln::JobOptions{.snapshots = true});
    std::thread worker;

    /// Runs the job on a thread until its items move past `after`; the time that took.
    double resume(uint64_t after) {
        check(b.store->resume(id), "resume");
        const auto start = Clock::now();
        worker = std::thread([this] { (void)b.runner->run(id); });
        for (;;) {
            auto p = b.runner->live_progress(id);
            if (p && p->items_done > after) break;
            std::this_thread::yield();
        }
        return std::chrono::duration<double>(Clock::now() - start).count();
    }
    /// Pauses it; the time until it is paused, its snapshot stored.
    double pause() {
        const auto start = Clock::now();
        check(b.store->pause(id), "pause");
        worker.join();
        const double took = std::chrono::duration<double>(Clock::now() - start).count();
        auto j = check(b.store->get(id), "get");
        if (j.status != kiln::JobStatus::paused || !j.has_snapshot) die("not paused: " + j.error);
        return took;
    }
    uint64_t items() { return check(b.store->get(id), "get").progress.items_done; }
};

void snapshot_16mib(benchmark::State& state) {
    Paused p;
    p.resume(0);
    for (auto _ : state) {
        state.SetIterationTime(p.pause());
        state.PauseTiming();
        p.resume(p.items());
        state.ResumeTiming();
    }
    p.pause();
}
BENCHMARK(snapshot_16mib)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(10);

void restore_16mib(benchmark::State& state) {
    Paused p;
    p.resume(0);
    p.pause();
    for (auto _ : state) {
        state.SetIterationTime(p.resume(p.items()));
        state.PauseTiming();
        p.pause();
        state.ResumeTiming();
    }
}
BENCHMARK(restore_16mib)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(10);

} // namespace

BENCHMARK_MAIN();
