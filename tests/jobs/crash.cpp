// The crash test of the job system: a job of 10,000 steps, run by worker processes that are
// killed with SIGKILL at random moments and started again, each resuming the job where the
// database says it was.
//
//   kiln-jobs-crash checkpoints KILLS   job_counter's count: a checkpoint every 5 steps, each
//                                       step appends "step N" to a file. After each kill the
//                                       test appends "kill C", C the checkpoint in the database;
//                                       every step must be there, and the first step after each
//                                       kill must be C + 1 (none before it runs again).
//   kiln-jobs-crash snapshots KILLS     job_counter's spin with a snapshot every 20 ms and no
//                                       checkpoint at all: every step must be there and the
//                                       result must equal an uninterrupted run's.
//   kiln-jobs-crash spacedrive PLUGIN KILLS
//                                       the Spacedrive counter (test-extension or
//                                       test-extension-c), 2,000 items: its final checkpoint
//                                       must hold item_1 .. item_2000 once each, and each resume
//                                       must have started at a checkpoint of its own.
//
// Each kill comes after the job has made progress in that worker (a new checkpoint or
// snapshot), at a random delay after it (seed: KILN_CRASH_SEED, else the time; printed). The
// short modes run in CTest (jobs.crash.*); docs/jobs.md gives the long ones and their results.
// A worker is this program again: kiln-jobs-crash --worker DIR.
#include <kiln/jobs.hpp>

#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t steps = 10000;
/// How long a step of job_counter takes (its work is calibrated to it).
constexpr double step_target_ms = 0.5;

[[noreturn]] void fail(const std::string& why) {
    fmt::print(stderr, "kiln-jobs-crash: FAILED: {}\n", why);
    std::exit(1);
}

template <typename T> T check(kiln::Result<T> r, const char* what) {
    if (!r) fail(fmt::format("{}: {}", what, r.error().message));
    return std::move(*r);
}

/// A worker: runs queued jobs of the folder's database until the job `id` is over.
int worker(const fs::path& dir, const std::string& id_text) {
    auto id = kiln::JobId::parse(id_text);
    kiln::PluginManager manager;
    kiln::HostLibrary host;
    auto store = check(kiln::JobStore::open((dir / "state.db").string()), "open");
    kiln::RunnerOptions options;
    options.poll = 20ms;
    kiln::JobRunner runner(manager, host, store, options);
    if (auto ok = manager.open((dir / "plugins").string()); !ok) fail(ok.error().message);
    runner.start();
    for (;;) {
        auto j = runner.wait(*id, 1h);
        if (j && kiln::is_final(j->status)) return 0;
    }
}

/// Starts a worker process.
pid_t spawn(const fs::path& dir, const kiln::JobId& id) {
    pid_t pid = fork();
    if (pid < 0) fail("fork failed");
    if (pid == 0) {
        std::string d = dir.string(), i = id.to_string();
        execl("/proc/self/exe", "kiln-jobs-crash", "--worker", d.c_str(), i.c_str(), nullptr);
        _exit(127);
    }
    return pid;
}

struct Setup {
    fs::path dir;
    fs::path fixtures;
};

/// One in-process runner over the folder, for dispatching and reference runs.
struct Local {
    kiln::PluginManager manager;
    kiln::HostLibrary host;
    kiln::JobStore store;
    kiln::JobRunner runner;
    explicit Local(const fs::path& dir)
        : store(check(kiln::JobStore::open((dir / "state.db").string()), "open")),
          runner(manager, host, store) {
        if (auto ok = manager.open((dir / "plugins").string()); !ok) fail(ok.error().message);
    }
};

std::string counter_state(uint64_t target, uint64_t every, uint64_t work, const std::string& file) {
    return fmt::format(R"({{"step":0,"target":{},"every":{},"work":{},"file":"{}"}})", target,
                       every, work, file);
}

/// The time one step of `job` takes with `work`, measured on 200 steps in this process.
double step_ms(Local& local, const std::string& job, uint64_t work) {
    auto id =
        check(local.runner.dispatch(
                  {.plugin = "job_counter", .job = job, .state = counter_state(200, 0, work, "")}),
              "dispatch");
    const auto start = Clock::now();
    check(local.runner.run(id), "calibration run");
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / 200;
}

/// The `work` that makes one step of `job` take about `ms`.
uint64_t calibrate(Local& local, const std::string& job, double ms) {
    uint64_t work = 20000;
    for (int round = 0; round < 3; ++round)
        work = std::max<uint64_t>(1, uint64_t(double(work) * ms / step_ms(local, job, work)));
    return work;
}

/// What tells the killer that the worker made progress: a value of the job's row that changes.
using Mark = std::function<std::string()>;

/// Kills `kills` workers, each at a random moment after it made progress; then lets one finish.
/// `after_kill` runs after each kill, with the worker gone.
void kill_loop(const fs::path& dir, const kiln::JobId& id, uint32_t kills, double mean_ms,
               const Mark& mark, const std::function<void()>& after_kill, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> delay(0, 2 * mean_ms);
    uint32_t done = 0;
    while (done < kills) {
        const std::string before = mark();
        pid_t pid = spawn(dir, id);
        // Until it has done something (or ended), then a little more.
        int status = 0;
        bool ended = false;
        while (mark() == before) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                ended = true;
                break;
            }
            std::this_thread::sleep_for(1ms);
        }
        if (ended) fail(fmt::format("the job ended after {} kills of {}", done, kills));
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay(rng)));
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (WIFEXITED(status)) fail(fmt::format("the job ended after {} kills of {}", done, kills));
        ++done;
        after_kill();
        if (done % 50 == 0) fmt::print(stderr, "kiln-jobs-crash: {} kills\n", done);
    }
    pid_t pid = spawn(dir, id);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("the last worker did not finish");
}

std::string column(kiln::JobStore& store, const char* sql, const kiln::JobId& id) {
    auto row = check(store.db()->query_one(sql, {id.to_string()}), "query");
    return row ? row->text(0) : std::string();
}

int checkpoints(const Setup& s, uint32_t kills, uint64_t seed) {
    const fs::path file = s.dir / "plugins/job_counter/out/steps.txt";
    kiln::JobId id;
    {
        Local local(s.dir);
        const uint64_t work = calibrate(local, "count", step_target_ms);
        id =
            check(local.runner.dispatch({.plugin = "job_counter",
                                         .job = "count",
                                         .state = counter_state(steps, 5, work, "/out/steps.txt")}),
                  "dispatch");
    }
    auto store = check(kiln::JobStore::open((s.dir / "state.db").string()), "open");
    // A third of the job's time spread over the kills: with the progress each worker makes
    // before the delay starts, the job is far from done when the last kill comes.
    const double mean = step_target_ms * double(steps) / (3.0 * (kills + 1));
    kill_loop(
        s.dir, id, kills, mean,
        [&] { return column(store, "SELECT checkpoint FROM jobs WHERE id = ?", id); },
        [&] {
            auto j = check(store.get(id), "get");
            uint64_t at = 0;
            if (j.checkpoint) {
                size_t p = j.checkpoint->find("\"step\":");
                at = std::stoull(j.checkpoint->substr(p + 7));
            }
            std::ofstream(file, std::ios::app) << "kill " << at << "\n";
        },
        seed);

    auto j = check(store.get(id), "get");
    if (j.status != kiln::JobStatus::completed) fail("the job is " + j.error);
    // Every step, and after each kill the step after its checkpoint.
    std::ifstream in(file);
    std::string word;
    uint64_t n = 0, next_after_kill = 0, lines = 0, resumes = 0;
    std::vector<bool> seen(steps + 1);
    bool expect = false;
    while (in >> word >> n) {
        if (word == "kill") {
            next_after_kill = n + 1;
            expect = true;
            continue;
        }
        ++lines;
        if (n == 0 || n > steps) fail(fmt::format("step {} out of range", n));
        seen[n] = true;
        if (expect) {
            if (n != next_after_kill)
                fail(fmt::format("after a kill at checkpoint {} the job went on at step {}",
                                 next_after_kill - 1, n));
            expect = false;
            ++resumes;
        }
    }
    for (uint64_t k = 1; k <= steps; ++k)
        if (!seen[k]) fail(fmt::format("step {} never ran", k));
    fmt::print("checkpoints: {} kills, {} resumes checked, {} step lines for {} steps (seed {})\n",
               kills, resumes, lines, steps, seed);
    return 0;
}

int snapshots(const Setup& s, uint32_t kills, uint64_t seed) {
    const fs::path file = s.dir / "plugins/job_counter/out/steps.txt";
    kiln::JobId id;
    std::string expected;
    {
        Local local(s.dir);
        const uint64_t work = calibrate(local, "spin", 2 * step_target_ms);
        auto ref = check(local.runner.dispatch({.plugin = "job_counter",
                                                .job = "spin",
                                                .state = counter_state(steps, 0, work, "")}),
                         "dispatch");
        check(local.runner.run(ref), "reference run");
        expected = check(local.store.get(ref), "get").checkpoint.value_or("");
        kiln::JobOptions options;
        options.snapshot_every_ms = 20;
        id = check(local.runner.dispatch({.plugin = "job_counter",
                                          .job = "spin",
                                          .state = counter_state(steps, 0, work, "/out/steps.txt"),
                                          .options = options}),
                   "dispatch");
    }
    auto store = check(kiln::JobStore::open((s.dir / "state.db").string()), "open");
    const double mean = 2 * step_target_ms * double(steps) / (3.0 * (kills + 1));
    kill_loop(
        s.dir, id, kills, mean,
        [&] { return column(store, "SELECT taken_at FROM job_snapshots WHERE job = ?", id); },
        [] {}, seed);
    auto j = check(store.get(id), "get");
    if (j.status != kiln::JobStatus::completed) fail("the job is " + j.error);
    if (j.checkpoint.value_or("") != expected)
        fail(fmt::format("the result {} is not the uninterrupted run's {}",
                         j.checkpoint.value_or(""), expected));
    std::ifstream in(file);
    std::string word;
    uint64_t n = 0, lines = 0;
    std::vector<bool> seen(steps + 1);
    while (in >> word >> n)
        if (word == "step" && n >= 1 && n <= steps) seen[n] = true, ++lines;
    for (uint64_t k = 1; k <= steps; ++k)
        if (!seen[k]) fail(fmt::format("step {} never ran", k));
    for (const std::string& w : j.warnings)
        if (w.find("cannot be restored") != std::string::npos) fail("a snapshot failed: " + w);
    fmt::print("snapshots: {} kills, result equal to the uninterrupted run's, {} step lines for "
               "{} steps (seed {})\n",
               kills, lines, steps, seed);
    return 0;
}

int spacedrive(const Setup& s, const std::string& plugin, uint32_t kills, uint64_t seed) {
    constexpr uint64_t items = 2000;
    kiln::JobId id;
    {
        Local local(s.dir);
        id = check(local.runner.dispatch(
                       {.plugin = plugin,
                        .job = "counter",
                        .state = fmt::format(R"({{"current":0,"target":{},"processed":[],)"
                                             R"("spin":200000}})",
                                             items)}),
                   "dispatch");
    }
    auto store = check(kiln::JobStore::open((s.dir / "state.db").string()), "open");
    kill_loop(
        s.dir, id, kills, 1.0 * items / (kills + 1),
        [&] { return column(store, "SELECT checkpoint FROM jobs WHERE id = ?", id); }, [] {}, seed);
    auto j = check(store.get(id), "get");
    if (j.status != kiln::JobStatus::completed) fail("the job is " + j.error);
    std::string want = fmt::format(R"({{"current":{},"target":{},"processed":[)", items, items);
    for (uint64_t i = 1; i <= items; ++i)
        want += fmt::format("{}\"item_{}\"", i > 1 ? "," : "", i);
    want += R"(],"spin":200000})";
    if (j.checkpoint.value_or("") != want) fail("the final checkpoint is not item_1 .. item_N");
    size_t resumes = 0;
    for (const std::string& w : j.warnings) {
        if (!w.starts_with("resuming at item")) continue;
        if (std::stoull(w.substr(17)) % 10 != 0) fail("a resume not at a checkpoint: " + w);
        ++resumes;
    }
    fmt::print("spacedrive {}: {} kills, {} resumes from the extension's checkpoints, "
               "{} items once each (seed {})\n",
               plugin, kills, resumes, items, seed);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--worker") return worker(argv[2], argv[3]);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 2) {
        fmt::print(stderr, "usage: kiln-jobs-crash checkpoints|snapshots KILLS\n"
                           "       kiln-jobs-crash spacedrive PLUGIN KILLS\n");
        return 2;
    }
    const char* env_seed = std::getenv("KILN_CRASH_SEED");
    const uint64_t seed =
        env_seed ? std::stoull(env_seed) : uint64_t(Clock::now().time_since_epoch().count());
    Setup s;
    s.fixtures = KILN_JOB_FIXTURES;
    s.dir = fs::temp_directory_path() / fmt::format("kiln-jobs-crash-{}", getpid());
    fs::remove_all(s.dir);
    const std::string mode = args[0];
    const std::string plugin = mode == "spacedrive" ? args[1] : "job_counter";
    const fs::path from = mode == "spacedrive" ? s.fixtures / "spacedrive" / plugin
                                               : s.fixtures / "v1" / "job_counter";
    fs::create_directories(s.dir / "plugins" / plugin);
    fs::copy(from, s.dir / "plugins" / plugin, fs::copy_options::recursive);
    const uint32_t kills = uint32_t(std::stoul(args.back()));
    int rc = mode == "checkpoints" ? checkpoints(s, kills, seed)
             : mode == "snapshots" ? snapshots(s, kills, seed)
                                   : spacedrive(s, plugin, kills, seed);
    fs::remove_all(s.dir);
    return rc;
}
