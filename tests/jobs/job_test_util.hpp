// Helpers of the job tests: a temporary folder holding copies of the fixture plugins built by
// tests/jobs/CMakeLists.txt, a job database, and a manager and runner over them that a test can
// throw away and make again, as a restarted process would.
#pragma once

#include "manager_test_util.hpp"

#include <kiln/jobs.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace kiln::job_test {

namespace fs = std::filesystem;
using manager_test::TempDir;
using namespace std::chrono_literals;

/// The folder of a built fixture plugin: SET/NAME under tests/jobs' plugins.
inline fs::path fixture(const std::string& set, const std::string& name) {
    return fs::path(KILN_JOB_FIXTURES) / set / name;
}

#define SKIP_WITHOUT_C()                                                                           \
    if (!KILN_JOB_HAVE_C) GTEST_SKIP() << "no wasm32 C toolchain to build the job plugins"
#define SKIP_WITHOUT_RUST()                                                                        \
    if (!KILN_JOB_HAVE_RUST) GTEST_SKIP() << "no Rust for wasm32-unknown-unknown"

/// A plugin folder, a database and a runner over them.
class JobEnv {
public:
    /// Copies the fixture plugin "SET/NAME" into plugins/ (more with install()).
    explicit JobEnv(const std::string& fixture, RunnerOptions options = fast_options())
        : m_options(options) {
        const size_t slash = fixture.find('/');
        install(fixture.substr(0, slash), fixture.substr(slash + 1));
        open();
    }
    ~JobEnv() { close(); }

    static RunnerOptions fast_options() {
        RunnerOptions o;
        o.poll = 20ms;
        o.flush = 20ms;
        o.cancel_grace = 300ms;
        return o;
    }

    /// Copies a fixture plugin folder over the plugin's (an upgrade keeps what its jobs wrote
    /// in out/); takes effect at the next open().
    void install(const std::string& set, const std::string& name) {
        const fs::path to = plugins() / name;
        fs::create_directories(to);
        fs::copy(fixture(set, name), to,
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    }

    /// A new manager, store and runner, as a new process would have.
    void open() {
        ManagerOptions o;
        o.plugin_options.log = [lines = m_plugin_lines](std::string_view plugin, LogLevel,
                                                        std::string_view line) {
            std::lock_guard lock(lines->mutex);
            lines->lines.push_back(std::string(plugin) + ": " + std::string(line));
        };
        manager = std::make_unique<PluginManager>(std::move(o));
        auto ok = manager->open(plugins().string());
        ASSERT_TRUE(ok) << ok.error().message;
        auto s = JobStore::open(db_path());
        ASSERT_TRUE(s) << s.error().message;
        store.emplace(*s);
        host = std::make_unique<HostLibrary>();
        runner = std::make_unique<JobRunner>(*manager, *host, *store, m_options);
    }
    void close() {
        runner.reset();
        store.reset();
        manager.reset();
        host.reset();
    }
    void restart() {
        close();
        open();
    }

    fs::path plugins() const { return dir.path() / "plugins"; }
    std::string db_path() const { return (dir.path() / "state.db").string(); }
    /// The file job_counter's steps go to, as the host sees it, and as the guest names it.
    fs::path steps_file(const std::string& name = "steps.txt") const {
        return plugins() / "job_counter" / "out" / name;
    }
    static std::string guest_path(const std::string& name = "steps.txt") { return "/out/" + name; }

    /// Dispatches a job or fails the test.
    JobId dispatch(JobRequest request) {
        auto id = runner->dispatch(request);
        EXPECT_TRUE(id) << id.error().message;
        return id ? *id : JobId{};
    }
    JobInfo get(const JobId& id) {
        auto info = store->get(id);
        EXPECT_TRUE(info) << info.error().message;
        return info ? *info : JobInfo{};
    }
    /// What the plugins logged outside jobs (their log, not a job's), as "PLUGIN: LINE", since
    /// the environment was made.
    std::vector<std::string> plugin_log() const {
        std::lock_guard lock(m_plugin_lines->mutex);
        return m_plugin_lines->lines;
    }
    /// How many lines of plugin_log() are `line`.
    size_t plugin_log_count(const std::string& line) const {
        auto lines = plugin_log();
        return size_t(std::count(lines.begin(), lines.end(), line));
    }
    /// The job's log as text, a line per entry.
    std::string log_text(const JobId& id) {
        auto logs = store->logs(id);
        EXPECT_TRUE(logs) << logs.error().message;
        std::string out;
        if (logs)
            for (const JobLogEntry& e : *logs)
                out += std::string(log_level_name(e.level)) + (e.warning ? " (warning) " : " ") +
                       e.message + "\n";
        return out;
    }
    /// Waits until `pred(job)` holds, up to `timeout`; the job then.
    template <typename Pred>
    JobInfo wait_until(const JobId& id, Pred pred, std::chrono::milliseconds timeout = 20s) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        JobInfo info = get(id);
        while (!pred(info) && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(5ms);
            info = get(id);
        }
        return info;
    }

    TempDir dir;
    std::unique_ptr<PluginManager> manager;
    std::unique_ptr<HostLibrary> host;
    std::optional<JobStore> store;
    std::unique_ptr<JobRunner> runner;

private:
    struct Lines {
        std::mutex mutex;
        std::vector<std::string> lines;
    };
    RunnerOptions m_options;
    std::shared_ptr<Lines> m_plugin_lines = std::make_shared<Lines>();
};

/// The numbers of the "step N" lines of a steps file, in order.
inline std::vector<uint64_t> read_steps(const fs::path& file) {
    std::ifstream in(file);
    std::vector<uint64_t> steps;
    std::string word;
    uint64_t n;
    while (in >> word >> n)
        if (word == "step") steps.push_back(n);
    return steps;
}

/// A job_counter state.
inline std::string counter_state(uint64_t target, uint64_t every, uint64_t work,
                                 const std::string& file = "", uint64_t fails = 0) {
    std::string s = "{\"step\":0,\"target\":" + std::to_string(target) +
                    ",\"every\":" + std::to_string(every) + ",\"work\":" + std::to_string(work) +
                    ",\"fails\":" + std::to_string(fails);
    if (!file.empty()) s += ",\"file\":\"" + file + "\"";
    return s + "}";
}

/// The number after "key": in JSON text (a flat object).
inline std::optional<uint64_t> json_number(const std::string& text, const std::string& key) {
    size_t at = text.find("\"" + key + "\":");
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(text.substr(at + key.size() + 3));
}

} // namespace kiln::job_test
