// The job tables of the state database (component "jobs") and every statement on them: what
// JobStore offers any process, and what the runner needs to claim, checkpoint and finish jobs.
#pragma once

#include <kiln/jobs.hpp>
#include <kiln/state_db.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

namespace jobs {

/// Milliseconds since the Unix epoch, the database's clock.
int64_t now_ms();

/// A job as dispatch records it.
struct NewJob {
    JobId id;
    std::string plugin, job, export_name, version, module_hash, state;
    JobOptions options;
};

/// Progress and log lines gathered in memory while a job runs, written with its next flush,
/// checkpoint or end.
struct Pending {
    JobProgress progress;
    bool progress_changed = false;
    std::vector<JobLogEntry> logs;
};

/// A stored snapshot of a job's instance and the module hash it was taken with.
struct StoredSnapshot {
    std::string module_hash;
    std::vector<uint8_t> bytes;
};

/// How a run ends, for the database.
struct RunResult {
    JobStatus status = JobStatus::completed; ///< completed, failed, cancelled, paused, queued
    std::string error;                       ///< for failed (and a retry's queued)
    std::optional<std::string> checkpoint;   ///< a final state to keep as the checkpoint
    int64_t retry_at = 0;                    ///< for queued
    bool drop_snapshot = false;
};

} // namespace jobs

/// The job tables and their statements; shared by every JobStore copy and the runners.
struct JobStore::Impl {
    std::shared_ptr<StateDb> db;

    /// Creates or migrates the tables.
    Result<void> init();

    /// Inserts the jobs, queued, in one transaction.
    Result<void> insert(std::span<const jobs::NewJob> jobs);
    Result<JobInfo> get(const JobId& id) const;
    Result<std::vector<JobInfo>> list(std::optional<JobStatus> status) const;
    Result<std::vector<JobLogEntry>> logs(const JobId& id) const;
    Result<JobStatus> pause(const JobId& id);
    Result<JobStatus> resume(const JobId& id);
    Result<JobStatus> cancel(const JobId& id);

    /// Whether a plugin may run one more job beside `running` of its jobs running anywhere.
    using Room = std::function<bool(const std::string& plugin, int64_t running)>;
    /// Takes the oldest queued job that is due and whose plugin has room: marks it running for
    /// `owner`. Nullopt when there is none.
    Result<std::optional<JobInfo>> claim_next(const std::string& owner, const Room& room);
    /// Takes that job (queued) for `owner`; a usage error when it is not queued.
    Result<JobInfo> claim(const JobId& id, const std::string& owner);
    /// Writes the progress and log lines gathered (nothing when there are none).
    Result<void> flush(const JobId& id, jobs::Pending& pending);
    /// Saves a checkpoint with what is pending, committed before it returns.
    Result<void> checkpoint(const JobId& id, std::string_view state, jobs::Pending& pending);
    /// Ends a run of a job this owner holds: its new status, with what is pending. With `room`,
    /// claims the next job in the same transaction (one commit fewer per job).
    Result<std::optional<JobInfo>> finish(const JobId& id, const std::string& owner,
                                          const jobs::RunResult& result, int64_t run_ms,
                                          jobs::Pending& pending, const Room* room = nullptr);
    /// Records that the job now runs on another version of its plugin (after migrate_state).
    Result<void> set_version(const JobId& id, const std::string& version, const std::string& hash,
                             const std::optional<std::string>& checkpoint);
    /// Appends log lines at once (outside a run).
    Result<void> add_logs(const JobId& id, const std::vector<JobLogEntry>& logs);

    Result<void> save_snapshot(const JobId& id, const std::string& module_hash,
                               std::span<const uint8_t> bytes);
    Result<std::optional<jobs::StoredSnapshot>> load_snapshot(const JobId& id) const;
    Result<void> drop_snapshot(const JobId& id);

    /// The pause and cancel requests for jobs `owner` runs: (id, "pause" or "cancel").
    Result<std::vector<std::pair<JobId, std::string>>> requests(const std::string& owner) const;
    /// Every running job and its owner.
    Result<std::vector<std::pair<JobId, std::string>>> running() const;
    /// Hands a running job whose owner died back to the queue (or fails it when it cannot
    /// resume), with a warning in its log; false when it was no longer that owner's.
    Result<bool> recover(const JobId& id, const std::string& dead_owner, bool resumable);
};

} // namespace kiln
