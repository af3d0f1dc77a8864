// kiln job run|start|worker|list|status|logs|pause|resume|cancel: resumable jobs of the plugins
// of --plugin-dir folders, kept in --db (default: Kiln's state database). `run` prints progress
// on stderr and, on stdout, the final state and `job ID STATUS` as its last line; its exit code
// says how the job ended (docs/jobs.md).
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "plugin_folders.hpp"

#include <kiln/jobs.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

namespace kiln::tool {

namespace {

using Clock = std::chrono::steady_clock;

/// How `kiln job run` ends: its exit codes.
enum JobExit : int { job_completed = 0, job_failed = 1, job_paused = 3, job_cancelled = 4 };

struct JobCommandOptions {
    std::vector<std::string> dirs;
    std::string db;
    std::string target; ///< PLUGIN:JOB, PLUGIN (with --export), or a job id
    std::string export_name;
    std::optional<std::string> state;
    bool json = false;
    std::optional<std::string> status;
    uint32_t concurrency = 4;
    // Job options.
    bool snapshots = false;
    std::optional<uint64_t> snapshot_every_ms;
    std::optional<uint32_t> retries;
    std::optional<uint64_t> timeout_ms;
    std::string library;
};

/// Ctrl-C (and SIGTERM) seen so far; the handler only counts.
std::atomic<int> interrupts{0};

extern "C" void count_interrupt(int) {
    interrupts.fetch_add(1, std::memory_order_relaxed);
}

void catch_interrupts() {
    struct sigaction sa {};
    sa.sa_handler = count_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int report(const Error& e) {
    print_error(e.message);
    return exit_code_of(e);
}

Result<JobStore> open_store(const JobCommandOptions& o) {
    return JobStore::open(o.db);
}

/// What run, start and worker work with: the plugin manager (what is enabled and granted kept
/// in Kiln's state database), the host functions (kv there too), and the job store (--db, else
/// the state database).
struct JobHost {
    std::unique_ptr<HostLibrary> host;
    std::unique_ptr<PluginManager> manager;
    std::optional<JobStore> store;
};

Result<std::unique_ptr<JobHost>> open_host(const JobCommandOptions& o) {
    auto state = StateDb::open();
    if (!state) return tl::unexpected(state.error());
    auto h = std::make_unique<JobHost>();
    HostOptions options;
    options.state = *state;
    h->host = std::make_unique<HostLibrary>(std::move(options));
    auto manager = stateful_manager(*state);
    if (!manager) return tl::unexpected(manager.error());
    h->manager = std::move(*manager);
    if (auto ok = open_plugin_dirs(*h->manager, o.dirs); !ok) return tl::unexpected(ok.error());
    auto store = o.db.empty() ? JobStore::open(*state) : JobStore::open(o.db);
    if (!store) return tl::unexpected(store.error());
    h->store = std::move(*store);
    return h;
}

Result<JobId> parse_id(const std::string& text) {
    auto id = JobId::parse(text);
    if (!id)
        return make_error(ErrorKind::usage, fmt::format("\"{}\" is not a job id (a UUID such as "
                                                        "123e4567-e89b-12d3-a456-426614174000)",
                                                        text));
    return *id;
}

/// The request a run or start command describes.
Result<JobRequest> request_of(const JobCommandOptions& o) {
    JobRequest r;
    if (!o.export_name.empty()) {
        r.plugin = o.target;
        r.export_name = o.export_name;
    } else {
        size_t colon = o.target.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == o.target.size())
            return make_error(ErrorKind::usage,
                              fmt::format("\"{}\": expected PLUGIN:JOB, or PLUGIN with --export "
                                          "NAME",
                                          o.target));
        r.plugin = o.target.substr(0, colon);
        r.job = o.target.substr(colon + 1);
    }
    r.state = o.state.value_or("");
    if (o.snapshots || o.snapshot_every_ms || o.retries || o.timeout_ms || !o.library.empty()) {
        JobOptions options;
        options.snapshots = o.snapshots;
        options.snapshot_every_ms = o.snapshot_every_ms.value_or(0);
        options.max_attempts = o.retries.value_or(0) + 1;
        options.timeout_ms = o.timeout_ms.value_or(0);
        options.library_id = o.library;
        r.options = options;
    }
    return r;
}

std::string percent(double fraction) {
    return fmt::format("{:.0f}%", fraction * 100);
}

/// "42% Counted 42/100 (42/100 items, 12.0 items/s)"
std::string progress_line(const JobProgress& p, double rate) {
    std::string line = percent(p.fraction);
    if (!p.message.empty()) line += " " + p.message;
    std::string detail;
    if (p.items_done || p.items_total)
        detail = p.items_total ? fmt::format("{}/{} items", p.items_done, p.items_total)
                               : fmt::format("{} items", p.items_done);
    if (rate > 0) detail += fmt::format("{}{:.1f} items/s", detail.empty() ? "" : ", ", rate);
    if (!detail.empty()) line += " (" + detail + ")";
    return line;
}

/// Shows a running job's progress: a bar redrawn in place on a terminal, else a line a second
/// when it changed.
class ProgressView {
public:
    ProgressView() : m_tty(isatty(STDERR_FILENO)) {}

    void update(const JobProgress& p) {
        const auto now = Clock::now();
        if (p.items_done != m_last_items) {
            double seconds = std::chrono::duration<double>(now - m_since).count();
            if (seconds >= 1) {
                m_rate = double(p.items_done - std::min(p.items_done, m_last_items)) / seconds;
                m_last_items = p.items_done;
                m_since = now;
            }
        }
        std::string line = progress_line(p, m_rate);
        if (m_tty) {
            constexpr int width = 24;
            int filled = int(p.fraction * width + 0.5);
            std::string bar(size_t(filled), '#');
            bar.resize(width, '-');
            fmt::print(stderr, "\r\033[K[{}] {}", bar, line);
            std::fflush(stderr);
            m_drawn = true;
        } else if (line != m_printed && now - m_printed_at >= std::chrono::seconds(1)) {
            fmt::print(stderr, "{}\n", line);
            m_printed = line;
            m_printed_at = now;
        }
        m_latest = p;
    }

    /// Ends the bar; prints the last progress message.
    void finish(const JobProgress& p) {
        if (m_drawn) fmt::print(stderr, "\r\033[K");
        if (!p.message.empty() || p.fraction > 0 || p.items_done)
            fmt::print(stderr, "{}\n", progress_line(p, 0));
    }

private:
    bool m_tty;
    bool m_drawn = false;
    JobProgress m_latest;
    std::string m_printed;
    Clock::time_point m_printed_at{};
    Clock::time_point m_since = Clock::now();
    uint64_t m_last_items = 0;
    double m_rate = 0;
};

int exit_of(JobStatus s) {
    switch (s) {
    case JobStatus::completed: return job_completed;
    case JobStatus::paused: return job_paused;
    case JobStatus::cancelled: return job_cancelled;
    default: return job_failed;
    }
}

int run_job(const JobCommandOptions& o) {
    auto request = request_of(o);
    if (!request) return report(request.error());
    auto h = open_host(o);
    if (!h) return report(h.error());
    JobStore& store = *(*h)->store;
    JobRunner runner(*(*h)->manager, *(*h)->host, store);
    auto id = runner.dispatch(*request);
    if (!id) return report(id.error());

    catch_interrupts();
    Result<JobStatus> ended = JobStatus::running;
    std::atomic<bool> done{false};
    std::thread worker([&] {
        ended = runner.run(*id);
        done = true;
    });
    ProgressView view;
    int seen = 0;
    while (!done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        int now = interrupts.load();
        if (now > seen) {
            seen = now;
            auto asked = seen == 1 ? store.pause(*id) : store.cancel(*id);
            if (asked)
                fmt::print(stderr, "\n{}\n",
                           seen == 1 ? "kiln: pausing the job (Ctrl-C again cancels it)"
                                     : "kiln: cancelling the job");
        }
        if (auto p = runner.live_progress(*id)) view.update(*p);
    }
    worker.join();
    if (!ended) return report(ended.error());
    auto info = store.get(*id);
    if (!info) return report(info.error());
    view.finish(info->progress);
    if (info->status == JobStatus::failed) print_error(fmt::format("job failed: {}", info->error));
    // The final state, as JSON: null when the job never saved a checkpoint.
    std::cout << info->checkpoint.value_or("null") << "\n";
    std::cout << fmt::format("job {} {}\n", id->to_string(), job_status_name(info->status));
    return exit_of(info->status);
}

int start_job(const JobCommandOptions& o) {
    auto request = request_of(o);
    if (!request) return report(request.error());
    auto h = open_host(o);
    if (!h) return report(h.error());
    JobRunner runner(*(*h)->manager, *(*h)->host, *(*h)->store);
    auto id = runner.dispatch(*request);
    if (!id) return report(id.error());
    std::cout << id->to_string() << "\n";
    return exit_ok;
}

int run_worker(const JobCommandOptions& o) {
    auto h = open_host(o);
    if (!h) return report(h.error());
    catch_interrupts();
    RunnerOptions options;
    options.concurrency = std::max<uint32_t>(o.concurrency, 1);
    JobRunner runner(*(*h)->manager, *(*h)->host, *(*h)->store, options);
    runner.start();
    fmt::print(stderr, "kiln: job worker running {} at once (Ctrl-C stops it)\n",
               options.concurrency);
    while (interrupts.load() == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fmt::print(stderr, "kiln: stopping; running jobs go back to the queue\n");
    runner.stop();
    return exit_ok;
}

std::string time_text(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    return fmt::format("{}", duration_cast<milliseconds>(t.time_since_epoch()).count());
}

std::string job_name(const JobInfo& j) {
    return j.job.empty() ? fmt::format("{} --export {}", j.plugin, j.export_name)
                         : fmt::format("{}:{}", j.plugin, j.job);
}

int list_jobs(const JobCommandOptions& o) {
    auto store = open_store(o);
    if (!store) return report(store.error());
    std::optional<JobStatus> status;
    if (o.status) {
        status = parse_job_status(*o.status);
        if (!status)
            return report(Error{ErrorKind::usage,
                                fmt::format("--status: \"{}\" is not queued, running, paused, "
                                            "completed, failed or cancelled",
                                            *o.status),
                                nullptr});
    }
    auto jobs = store->list(status);
    if (!jobs) return report(jobs.error());
    if (o.json) {
        std::cout << jobs_json(*jobs, 2) << "\n";
        return exit_ok;
    }
    for (const JobInfo& j : *jobs) {
        std::string line = fmt::format("{} {} {} {}", j.id.to_string(), job_status_name(j.status),
                                       job_name(j), percent(j.progress.fraction));
        if (!j.progress.message.empty()) line += " " + j.progress.message;
        if (j.status == JobStatus::failed && !j.error.empty()) line += ": " + j.error;
        std::cout << line << "\n";
    }
    return exit_ok;
}

int job_status(const JobCommandOptions& o) {
    auto id = parse_id(o.target);
    if (!id) return report(id.error());
    auto store = open_store(o);
    if (!store) return report(store.error());
    auto info = store->get(*id);
    if (!info) return report(info.error());
    if (o.json) {
        std::cout << job_json(*info, 2) << "\n";
        return exit_ok;
    }
    const JobInfo& j = *info;
    std::cout << fmt::format(
        "id: {}\njob: {}\nversion: {}\nstatus: {}{}\nprogress: {}\n", j.id.to_string(), job_name(j),
        j.plugin_version, job_status_name(j.status),
        j.requested ? fmt::format(" ({} requested)", job_status_name(*j.requested)) : "",
        progress_line(j.progress, 0));
    if (j.progress.bytes) std::cout << fmt::format("bytes: {}\n", j.progress.bytes);
    std::cout << fmt::format("attempts: {} of {}\n", j.attempts, j.options.max_attempts);
    if (j.checkpoint) std::cout << fmt::format("checkpoint: {}\n", *j.checkpoint);
    if (j.has_snapshot) std::cout << "snapshot: yes\n";
    for (const std::string& w : j.warnings)
        std::cout << fmt::format("warning: {}\n", w);
    if (!j.error.empty()) std::cout << fmt::format("error: {}\n", j.error);
    std::cout << fmt::format("run time: {} ms\n", j.run_time.count());
    return exit_ok;
}

int job_logs(const JobCommandOptions& o) {
    auto id = parse_id(o.target);
    if (!id) return report(id.error());
    auto store = open_store(o);
    if (!store) return report(store.error());
    auto logs = store->logs(*id);
    if (!logs) return report(logs.error());
    for (const JobLogEntry& e : *logs)
        std::cout << fmt::format("{} {}{} {}\n", time_text(e.time), log_level_name(e.level),
                                 e.warning ? " (warning)" : "", e.message);
    return exit_ok;
}

/// pause, resume and cancel: the status the job has now, or the one asked of it.
int change_job(const JobCommandOptions& o, Result<JobStatus> (JobStore::*change)(const JobId&),
               JobStatus target) {
    auto id = parse_id(o.target);
    if (!id) return report(id.error());
    auto store = open_store(o);
    if (!store) return report(store.error());
    auto status = ((*store).*change)(*id);
    if (!status) return report(status.error());
    std::string what = job_status_name(*status);
    if (*status == JobStatus::running && target != JobStatus::queued)
        what = fmt::format("running ({} requested)", job_status_name(target));
    std::cout << fmt::format("job {} {}\n", id->to_string(), what);
    return exit_ok;
}

void add_db_option(CLI::App* sub, JobCommandOptions& o) {
    sub->add_option("--db", o.db, "the job database (default: $KILN_HOME/state.db)")
        ->type_name(file_value);
}

void add_job_options(CLI::App* sub, JobCommandOptions& o) {
    sub->add_option("JOB", o.target, "PLUGIN:JOB, or PLUGIN with --export")->required();
    sub->add_option("--export", o.export_name, "run this export of PLUGIN as a job");
    sub->add_option("--state", o.state, "the initial state, as JSON");
    sub->add_flag("--snapshots", o.snapshots, "take a snapshot of the instance when it stops");
    sub->add_option("--snapshot-every", o.snapshot_every_ms,
                    "also take one every MS milliseconds while it runs");
    sub->add_option("--retries", o.retries, "runs after a failed one");
    sub->add_option("--timeout", o.timeout_ms, "fail a run lasting more than MS milliseconds");
    sub->add_option("--library", o.library, "the Spacedrive library id passed to the job");
    add_plugin_dir_option(sub, o.dirs);
    add_db_option(sub, o);
}

} // namespace

void add_job_command(CLI::App& app, int& exit_code) {
    auto* job = app.add_subcommand("job", "Run resumable plugin jobs and control them");
    job->require_subcommand(1);
    auto o = std::make_shared<JobCommandOptions>();

    auto* run = job->add_subcommand("run", "Run a job to its end in this process (Ctrl-C "
                                           "pauses it, a second Ctrl-C cancels it)");
    add_job_options(run, *o);
    run->callback([o, &exit_code] { exit_code = run_job(*o); });

    auto* start = job->add_subcommand("start", "Queue a job for a worker and print its id");
    add_job_options(start, *o);
    start->callback([o, &exit_code] { exit_code = start_job(*o); });

    auto* worker = job->add_subcommand("worker", "Run queued jobs until stopped");
    worker->add_option("--concurrency", o->concurrency, "jobs at once (default 4)");
    add_plugin_dir_option(worker, o->dirs);
    add_db_option(worker, *o);
    worker->callback([o, &exit_code] { exit_code = run_worker(*o); });

    auto* list = job->add_subcommand("list", "List the jobs, newest first");
    list->add_flag("--json", o->json, "print a JSON array");
    list->add_option("--status", o->status, "only the jobs of this status");
    add_db_option(list, *o);
    list->callback([o, &exit_code] { exit_code = list_jobs(*o); });

    auto* status = job->add_subcommand("status", "Show a job");
    status->add_option("ID", o->target, "the job's id")->required();
    status->add_flag("--json", o->json, "print a JSON object");
    add_db_option(status, *o);
    status->callback([o, &exit_code] { exit_code = job_status(*o); });

    auto* logs = job->add_subcommand("logs", "Print a job's log lines");
    logs->add_option("ID", o->target, "the job's id")->required();
    add_db_option(logs, *o);
    logs->callback([o, &exit_code] { exit_code = job_logs(*o); });

    struct Change {
        const char* name;
        const char* help;
        Result<JobStatus> (JobStore::*change)(const JobId&);
        JobStatus target;
    };
    for (const Change& c :
         {Change{"pause", "Pause a job (a running one at its next interrupt check)",
                 &JobStore::pause, JobStatus::paused},
          Change{"resume", "Queue a paused job again", &JobStore::resume, JobStatus::queued},
          Change{"cancel", "Cancel a job (a running one at its next interrupt check)",
                 &JobStore::cancel, JobStatus::cancelled}}) {
        auto* sub = job->add_subcommand(c.name, c.help);
        sub->add_option("ID", o->target, "the job's id")->required();
        add_db_option(sub, *o);
        sub->callback([o, &exit_code, c] { exit_code = change_job(*o, c.change, c.target); });
    }
}

} // namespace kiln::tool
