// The snapshot proof: a suspended call, saved to a file and restored in another process, ends
// exactly as if it had never stopped.
//
// For each program of proof.wat (a recursion thousands of frames deep that keeps funcrefs live
// across call_indirect, and a long loop over memory) the parent runs the call uninterrupted to
// learn its result and the fuel it uses, then, at random fuel points N (fixed seed, printed),
// runs it again with N units of fuel and suspend_on_fuel, and writes the store's snapshot to a
// file. A few more snapshots are taken where env.pause suspends the recursion (Caller::suspend).
// Then it starts itself once more in restore mode: that process never saw the stores, builds a
// fresh one per file, restores it, adds the fuel the first run lacked (budget - N), resumes, and
// writes the result and the fuel left. The parent checks both against the uninterrupted run.
//
//   kiln-snapshot-proof MODULE.wasm [--points N] [--seed S] [--depth D] [--iters I] [--keep]
//   kiln-snapshot-proof --restore MODULE.wasm DIR       (what the parent starts)
#include "proof_program.hpp"

#include "base/file.hpp"

#include <kiln/kiln.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using kiln::test::PauseState;

constexpr uint64_t budget = 1'000'000'000'000;

struct Options {
    std::string module;
    uint32_t points = 1000;
    uint64_t seed = 20240601;
    int32_t depth = 3000;
    int32_t iters = 60000;
    bool keep = false;
};

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "kiln-snapshot-proof: %s\n", message.c_str());
    std::exit(2);
}

kiln::Module load_module(const kiln::Engine& engine, const std::string& path) {
    auto module = kiln::Module::from_file(engine, path);
    if (!module) die(module.error().message);
    return *module;
}

/// One store with proof.wat instantiated in it, the same way in both processes.
struct Run {
    kiln::Store store;
    std::optional<kiln::Instance> instance;
    PauseState& pause;

    Run(const kiln::Engine& engine, const kiln::Linker& linker, const kiln::Module& module)
        : store(engine), pause(store.set_data(std::make_shared<PauseState>())) {
        auto inst = linker.instantiate(store, module);
        if (!inst) die("instantiate: " + inst.error().message);
        instance = *inst;
    }
    kiln::Result<std::vector<kiln::Value>> call(const std::string& name, int32_t arg) {
        return instance->get_func(store, name)->call(store, {kiln::Value::i32(arg)});
    }
};

/// What the uninterrupted run of one program gives.
struct Expected {
    int64_t result;
    uint64_t fuel_left;
    uint64_t used;
    uint32_t pauses;
};

/// A snapshot file and what resuming it must give.
struct Point {
    std::string file;
    std::string program;
    std::string how; ///< "fuel N" or "pause K"
    uint64_t top_up;
    std::optional<int32_t> host_result;
};

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) die("cannot write " + path.string());
}

std::vector<uint8_t> read_file(const fs::path& path) {
    auto bytes = kiln::read_file(path);
    if (!bytes) die(bytes.error().message);
    return std::move(*bytes);
}

// ---- restore mode: the new process

/// Reads DIR/index (file, fuel to add, host result or "-"), and for each file restores a fresh
/// store, resumes it and writes "file ok RESULT FUEL_LEFT" or "file error MESSAGE" to
/// DIR/results.
int restore_all(const std::string& module_path, const fs::path& dir) {
    kiln::Engine engine;
    kiln::Module module = load_module(engine, module_path);
    kiln::Linker linker = kiln::test::proof_linker();
    std::ifstream index(dir / "index");
    std::ofstream results(dir / "results");
    std::string line;
    size_t n = 0;
    while (std::getline(index, line)) {
        std::istringstream fields(line);
        std::string file, host;
        uint64_t top_up = 0;
        fields >> file >> top_up >> host;
        auto fail = [&](const std::string& what) { results << file << " error " << what << "\n"; };
        ++n;
        Run run(engine, linker, module);
        auto restored = run.store.restore(read_file(dir / file));
        if (!restored) {
            fail("restore: " + restored.error().message);
            continue;
        }
        if (!run.store.has_suspended_call()) {
            fail("restored without its suspended call");
            continue;
        }
        run.store.add_fuel(top_up);
        std::vector<kiln::Value> host_results;
        if (host != "-") host_results.push_back(kiln::Value::i32(int32_t(std::stol(host))));
        auto done = run.store.resume(host_results);
        if (!done) {
            fail("resume: " + done.error().message);
            continue;
        }
        results << file << " ok " << (*done)[0].as_i64() << " " << *run.store.fuel() << "\n";
    }
    results.flush();
    if (!results) die("cannot write the results");
    std::printf("restore process %d: %zu snapshots restored and resumed\n", int(getpid()), n);
    return 0;
}

// ---- the parent

Expected uninterrupted(const kiln::Engine& engine, const kiln::Linker& linker,
                       const kiln::Module& module, const std::string& program, int32_t arg) {
    Run run(engine, linker, module);
    run.store.set_fuel(budget);
    auto r = run.call(program, arg);
    if (!r) die(program + ": " + r.error().message);
    uint64_t left = *run.store.fuel();
    return {(*r)[0].as_i64(), left, budget - left, run.pause.calls};
}

/// A snapshot written: its size, and the argument of the env.pause call that suspended it.
struct Saved {
    size_t size;
    int32_t asked;
};

/// Runs `program` until it suspends (with `fuel` units, or at env.pause call `pause_at`) and
/// writes the snapshot.
Saved suspend_and_save(const kiln::Engine& engine, const kiln::Linker& linker,
                       const kiln::Module& module, const std::string& program, int32_t arg,
                       uint64_t fuel, uint32_t pause_at, const fs::path& path) {
    Run run(engine, linker, module);
    run.store.set_fuel(fuel);
    run.store.set_suspend_on_fuel(true);
    run.pause.suspend_at = pause_at;
    auto r = run.call(program, arg);
    if (r || r.error().kind != kiln::ErrorKind::suspended)
        die(program + " did not suspend at " + path.filename().string() + ": " +
            (r ? std::string("it finished") : r.error().message));
    auto bytes = run.store.snapshot();
    if (!bytes) die("snapshot: " + bytes.error().message);
    write_file(path, *bytes);
    return {bytes->size(), run.pause.asked};
}

int spawn_restore(const char* self, const std::string& module_path, const fs::path& dir) {
    std::string mode = "--restore", dir_s = dir.string();
    std::vector<char*> argv{const_cast<char*>(self), mode.data(),
                            const_cast<char*>(module_path.c_str()), dir_s.data(), nullptr};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
    if (rc != 0) die(std::string("cannot start the restore process: ") + std::strerror(rc));
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) die("waitpid failed");
    return status;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--points")
            o.points = uint32_t(std::stoul(value()));
        else if (a == "--seed")
            o.seed = std::stoull(value());
        else if (a == "--depth")
            o.depth = std::stoi(value());
        else if (a == "--iters")
            o.iters = std::stoi(value());
        else if (a == "--keep")
            o.keep = true;
        else if (a.starts_with("--") || !o.module.empty())
            die("usage: kiln-snapshot-proof MODULE.wasm [--points N] [--seed S] [--depth D] "
                "[--iters I] [--keep]");
        else
            o.module = a;
    }
    if (o.module.empty()) die("no module given");
    return o;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--restore") return restore_all(argv[2], argv[3]);
    Options opt = parse(argc, argv);
    auto start = std::chrono::steady_clock::now();
    kiln::Engine engine;
    kiln::Module module = load_module(engine, opt.module);
    kiln::Linker linker = kiln::test::proof_linker();

    std::string tmpl = (fs::temp_directory_path() / "kiln-snapshot-proof-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) die("cannot make a temporary directory");
    fs::path dir = tmpl;
    std::printf("seed %" PRIu64 ", %u fuel points per program, snapshots in %s\n", opt.seed,
                opt.points, dir.c_str());

    struct Program {
        std::string name;
        int32_t arg;
        Expected want;
    };
    std::vector<Program> programs{{"rec", opt.depth, {}}, {"loop", opt.iters, {}}};
    std::vector<Point> points;
    std::map<std::string, Expected> expected;
    std::map<std::string, size_t> bytes_total;
    std::mt19937_64 rng(opt.seed);
    for (Program& p : programs) {
        p.want = uninterrupted(engine, linker, module, p.name, p.arg);
        expected[p.name] = p.want;
        std::printf("%s(%d): result %" PRId64 ", %" PRIu64 " fuel, %u env.pause calls\n",
                    p.name.c_str(), p.arg, p.want.result, p.want.used, p.want.pauses);
        for (uint32_t i = 0; i < opt.points; ++i) {
            uint64_t at = 1 + rng() % (p.want.used - 1);
            std::string file = p.name + "-fuel-" + std::to_string(i) + ".snap";
            bytes_total[p.name] +=
                suspend_and_save(engine, linker, module, p.name, p.arg, at, 0, dir / file).size;
            points.push_back({file, p.name, "fuel " + std::to_string(at), budget - at, {}});
        }
        // Every env.pause call of the program is a suspension point too. The fuel left then
        // travels in the snapshot, so nothing is added; the call resumes with the number
        // env.pause would have returned.
        for (uint32_t k = 1; k <= p.want.pauses; ++k) {
            std::string file = p.name + "-pause-" + std::to_string(k) + ".snap";
            Saved s =
                suspend_and_save(engine, linker, module, p.name, p.arg, budget, k, dir / file);
            bytes_total[p.name] += s.size;
            points.push_back(
                {file, p.name, "pause " + std::to_string(k), 0, kiln::test::pause_value(s.asked)});
        }
    }
    {
        std::ofstream index(dir / "index");
        for (const Point& pt : points)
            index << pt.file << " " << pt.top_up << " "
                  << (pt.host_result ? std::to_string(*pt.host_result) : "-") << "\n";
        if (!index) die("cannot write the index");
    }
    auto saved = std::chrono::steady_clock::now();
    std::printf("%zu snapshots written (rec %zu KiB, loop %zu KiB in all) in %.1f s\n",
                points.size(), bytes_total["rec"] >> 10, bytes_total["loop"] >> 10,
                std::chrono::duration<double>(saved - start).count());
    std::fflush(stdout);

    int status = spawn_restore(argv[0], opt.module, dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the restore process failed (status " + std::to_string(status) +
            "); snapshots kept in " + dir.string());

    std::map<std::string, std::string> results;
    {
        std::ifstream in(dir / "results");
        std::string line;
        while (std::getline(in, line)) {
            auto sp = line.find(' ');
            results[line.substr(0, sp)] = line.substr(sp + 1);
        }
    }
    std::map<std::string, std::pair<uint32_t, uint32_t>> tally; // program: passed, failed
    uint32_t shown = 0;
    for (const Point& pt : points) {
        const Expected& want = expected[pt.program];
        std::ostringstream good;
        good << "ok " << want.result << " " << want.fuel_left;
        auto it = results.find(pt.file);
        std::string got = it == results.end() ? "no result" : it->second;
        if (got == good.str()) {
            ++tally[pt.program].first;
            continue;
        }
        ++tally[pt.program].second;
        if (++shown <= 10)
            std::printf("MISMATCH %s (%s %s): got \"%s\", want \"%s\"\n", pt.file.c_str(),
                        pt.program.c_str(), pt.how.c_str(), got.c_str(), good.str().c_str());
    }
    uint32_t passed = 0, failed = 0;
    for (const auto& [name, t] : tally) {
        std::printf("%s: %u of %u resumed snapshots end with the uninterrupted result and fuel\n",
                    name.c_str(), t.first, t.first + t.second);
        passed += t.first;
        failed += t.second;
    }
    std::printf("%.1f s in all\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::printf("%u passed, %u failed\n", passed, failed);
    if (failed || opt.keep)
        std::printf("snapshots kept in %s\n", dir.c_str());
    else
        fs::remove_all(dir);
    return failed || passed == 0 ? 1 : 0;
}
