// Resumable jobs: long plugin work with progress, checkpoints, pause, resume and cancel, kept in
// Kiln's state database so that a job survives its process being closed or killed. See
// docs/jobs.md.
//
//   kiln::PluginManager manager;
//   kiln::HostLibrary host;                              // the host functions plugins use
//   auto store = kiln::JobStore::open();                 // $KILN_HOME/state.db
//   kiln::JobRunner runner(manager, host, *store);       // before plugins load
//   manager.open("plugins");
//   auto id = runner.dispatch({.plugin = "indexer", .job = "reindex", .state = "{}"});
//   runner.start();                                      // workers take queued jobs
//   auto done = runner.wait(*id, std::chrono::minutes(5));
#pragma once

#include <kiln/error.hpp>
#include <kiln/hostfns.hpp>
#include <kiln/manager.hpp>
#include <kiln/plugin.hpp>
#include <kiln/state_db.hpp>

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

/// A job's id: a UUID of version 7 (a millisecond timestamp, then random bits).
struct JobId {
    std::array<uint8_t, 16> bytes{}; ///< big-endian UUID byte order

    /// A new id: the time now and 74 random bits.
    static JobId random();
    /// Reads "123e4567-e89b-12d3-a456-426614174000" (any case; hyphens where shown).
    static std::optional<JobId> parse(std::string_view text);
    /// The lowercase 8-4-4-4-12 form.
    std::string to_string() const;
    auto operator<=>(const JobId&) const = default;
};

/// Where a job is in its life.
enum class JobStatus { queued, running, paused, completed, failed, cancelled };

/// "queued", "running", "paused", "completed", "failed", "cancelled".
const char* job_status_name(JobStatus status);
/// The status of that name.
std::optional<JobStatus> parse_job_status(std::string_view name);
/// Completed, failed or cancelled: nothing will change it any more.
bool is_final(JobStatus status);

/// How far a job got, as it last reported.
struct JobProgress {
    double fraction = 0; ///< 0 to 1
    std::string message;
    uint64_t items_done = 0;
    uint64_t items_total = 0; ///< 0: unknown
    uint64_t bytes = 0;
};

/// How a job runs: the defaults come from the job's declaration in the plugin's manifest.
struct JobOptions {
    /// Runs a failed job gets in all (1: no retry). A job whose plugin failed to load, or that
    /// cannot resume on the plugin's new version, is not retried.
    uint32_t max_attempts = 1;
    /// The wait before the first retry; it doubles for each further one, up to ten minutes.
    std::chrono::milliseconds retry_backoff{1000};
    /// Transparent snapshots: a pause, a cancel or a worker's stop suspends the running call and
    /// stores the instance, which a resume restores to continue the same call.
    bool snapshots = false;
    /// Also snapshot every this many milliseconds while the job runs (0: only when stopping);
    /// implies snapshots. After a crash the job continues from its last snapshot.
    uint64_t snapshot_every_ms = 0;
    /// Wall-clock bound of each run, from its start or resume (0: none); past it the job fails
    /// (and is retried if it may be).
    uint64_t timeout_ms = 0;
    /// The Spacedrive library the job works on, passed in its context (default: the nil UUID).
    std::string library_id;
};

/// A job to start: a job the plugin declared or registered, or one of its exports.
struct JobRequest {
    std::string plugin;      ///< the plugin's name
    std::string job;         ///< a job's name ("counter", or "PLUGIN:counter"); or empty:
    std::string export_name; ///< an export run as a job
    std::string state;       ///< the initial state (JSON); empty: the job's default
    /// Options over the declaration's; unset fields keep the declaration's values.
    std::optional<JobOptions> options;
};

/// A line of a job's log: what the plugin logged and what Kiln says about the job.
struct JobLogEntry {
    std::chrono::system_clock::time_point time;
    LogLevel level = LogLevel::info;
    bool warning = false; ///< a warning of the job (Spacedrive's job_add_warning, a fallback)
    std::string message;
};

/// Everything the database holds about one job.
struct JobInfo {
    JobId id;
    std::string plugin;
    std::string job;         ///< the job's name; empty for an export run as a job
    std::string export_name; ///< the export that runs it
    std::string plugin_version;
    std::string module_hash; ///< sha256 of the plugin's modules, in hex
    JobStatus status = JobStatus::queued;
    /// A pause or cancel asked for and not yet carried out (a running job stops at its next
    /// interrupt check); nullopt when none.
    std::optional<JobStatus> requested;
    JobProgress progress;
    std::string state;                     ///< the state it was started with
    std::optional<std::string> checkpoint; ///< the last checkpoint (for a completed job: its end)
    bool has_snapshot = false;
    std::vector<std::string> warnings;
    std::string error; ///< why it failed (or why its last attempt failed)
    uint32_t attempts = 0;
    /// When a queued retry is due; nullopt when it may run at once.
    std::optional<std::chrono::system_clock::time_point> retry_at;
    JobOptions options;
    std::chrono::system_clock::time_point created;
    std::optional<std::chrono::system_clock::time_point> started;  ///< first run
    std::optional<std::chrono::system_clock::time_point> finished; ///< completed, failed, ...
    std::chrono::milliseconds run_time{0}; ///< time spent running, over all its runs
};

/// The job as the JSON object of `kiln job status --json` (docs/jobs.md); `indent` as
/// nlohmann::json::dump takes it (-1: one line).
std::string job_json(const JobInfo& job, int indent = -1);
/// Jobs as a JSON array of those objects.
std::string jobs_json(const std::vector<JobInfo>& jobs, int indent = -1);
/// A job's log as a JSON array of {"time_ms", "level", "warning", "message"}.
std::string job_logs_json(const std::vector<JobLogEntry>& logs, int indent = -1);

/// The jobs of one database, from any thread and any process: listing them, reading them and
/// asking them to pause, resume or stop. Cheap to copy (copies share the database).
class JobStore {
public:
    /// The jobs in Kiln's state database (StateDb::open(path); empty: $KILN_HOME/state.db).
    static Result<JobStore> open(const std::string& path = {});
    /// The jobs in an open state database.
    static Result<JobStore> open(std::shared_ptr<StateDb> db);

    /// Every job, newest first (only those of `status`, when given).
    Result<std::vector<JobInfo>> list(std::optional<JobStatus> status = {}) const;
    /// One job; a usage error when there is none of that id.
    Result<JobInfo> get(const JobId& id) const;
    /// The job's log, oldest first.
    Result<std::vector<JobLogEntry>> logs(const JobId& id) const;
    /// Pauses a job: a queued one at once, a running one at its next interrupt check (or
    /// snapshot point). The status it has now (or is asked to take).
    Result<JobStatus> pause(const JobId& id);
    /// Queues a paused job again (from its snapshot or checkpoint), or takes back a pause not
    /// yet carried out.
    Result<JobStatus> resume(const JobId& id);
    /// Cancels a job: a queued or paused one at once, a running one at its next interrupt check
    /// (or snapshot point, or after RunnerOptions::cancel_grace).
    Result<JobStatus> cancel(const JobId& id);
    /// The database.
    const std::shared_ptr<StateDb>& db() const;

    struct Impl;
    explicit JobStore(std::shared_ptr<Impl> impl);
    const std::shared_ptr<Impl>& impl() const { return m_impl; }

private:
    std::shared_ptr<Impl> m_impl;
};

/// How a JobRunner works.
struct RunnerOptions {
    /// Jobs this runner runs at once, over all plugins (at least 1).
    uint32_t concurrency = 4;
    /// How often the database is read for queued jobs, requests made by other processes and
    /// jobs whose worker died.
    std::chrono::milliseconds poll{100};
    /// How long a running job that does not check for interrupts gets to stop after a cancel
    /// (or a worker's stop), before its call is interrupted.
    std::chrono::milliseconds cancel_grace{2000};
    /// How often progress and log lines are written to the database while a job runs (they
    /// are also written with each checkpoint and at the job's end).
    std::chrono::milliseconds flush{250};
};

/// Runs jobs of a PluginManager's plugins on a pool of threads: each plugin's jobs at most its
/// `concurrent_jobs` (the `jobs` permission) at once, in instances kept across jobs.
class JobRunner {
public:
    /// Adds the kiln:host/v1 job functions to `host`, installs `host` into `manager` with the
    /// Spacedrive adapter: make the runner before the manager loads plugins. Both must outlive
    /// the runner.
    JobRunner(PluginManager& manager, HostLibrary& host, JobStore store,
              RunnerOptions options = {});
    /// Stops the workers (see stop()).
    ~JobRunner();
    JobRunner(const JobRunner&) = delete;
    JobRunner& operator=(const JobRunner&) = delete;

    /// Queues a job: checks the plugin and the job (loading the plugin when its jobs are known
    /// only once it runs, as Spacedrive's), records its version and module hash.
    Result<JobId> dispatch(const JobRequest& request);
    /// Queues several jobs in one transaction (all or none): far cheaper per job than one by
    /// one. Their ids, in order.
    Result<std::vector<JobId>> dispatch(std::span<const JobRequest> requests);
    /// Starts the workers: from now on they take queued jobs (of this and other processes) and
    /// resume those whose worker died.
    void start();
    /// Stops taking jobs and stops the running ones so that they can go on later: each is asked
    /// to pause (a snapshot is taken if it has them) and goes back to the queue; one that does
    /// not stop within the cancel grace is interrupted, and resumes from its last checkpoint.
    void stop();
    /// Runs one queued job on the calling thread to its end, pause or cancellation, with its
    /// retries (after their backoff) when it fails; the workers, if started, leave it alone.
    /// The status it ended with (queued when the runner stopped it).
    Result<JobStatus> run(const JobId& id);
    /// Waits until the job is final or paused, or `timeout` passes; the job as it is then.
    Result<JobInfo> wait(const JobId& id, std::chrono::milliseconds timeout);
    /// The progress of a job running in this runner, as reported a moment ago.
    std::optional<JobProgress> live_progress(const JobId& id) const;
    /// The store the jobs are kept in.
    JobStore& store();

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

/// Adds the kiln:host/v1 job functions to `host` (once), installs `host` into `manager` and
/// adds the Spacedrive adapter: what a manager needs to load job plugins, before it loads them.
/// JobRunner does it; a host that only calls plugins (`kiln plugin`) does it alone.
void install_jobs(PluginManager& manager, HostLibrary& host);

/// The Spacedrive extension ABI (wasm32-unknown-unknown modules with a manifest.json): the
/// `spacedrive` imports (spacedrive_call through `host`'s host operations), `plugin_init` at
/// load, jobs registered with `register_job`. A manager's call of an export runs it as a job
/// kept nowhere, its last checkpoint the result. JobRunner adds it to its manager.
std::unique_ptr<AbiAdapter> make_spacedrive_adapter(HostLibrary& host);

} // namespace kiln
