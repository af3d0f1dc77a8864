// A running job as the host functions of every guest ABI see it: its state to load, progress and
// log lines gathered for the database, checkpoints committed on the spot, and the answer to the
// guest's interrupt checks. The runner's threads signal it and read its progress.
#pragma once

#include "jobs/store.hpp"

#include <kiln/jobs.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::jobs {

/// What the runner asks of a running job. The guest sees 1 for a pause or a yield (a worker
/// stopping: the job goes back to the queue), 2 for a cancel.
enum class Signal : int { none = 0, yield = 1, pause = 2, cancel = 3 };

/// One run of one job: made by the runner, reached by host functions through their instance.
class JobContext {
public:
    /// `state` is what the guest starts from (its last checkpoint, else its initial state).
    JobContext(JobStore::Impl& store, JobInfo info, std::string state);

    const JobId& id() const { return m_info.id; }
    const JobInfo& info() const { return m_info; }
    /// The library id of the Spacedrive context (the nil UUID by default).
    std::string library_id() const;

    // ---- For host functions, on the job's thread.

    /// Sets the fraction (clamped to [0, 1]; NaN ignored) and, if given, the message.
    void progress(double fraction, std::optional<std::string_view> message);
    /// Sets items done and total.
    void items(uint64_t done, uint64_t total);
    /// Adds to items done / bytes.
    void add_items(uint64_t n);
    void add_bytes(uint64_t n);
    /// A line in the job's log (a warning of the job when `warning`).
    void log(LogLevel level, std::string_view message, bool warning = false);
    /// Saves `state` (JSON) as the job's checkpoint, committed before it returns; false (and an
    /// error in the log) when it is not JSON or cannot be written.
    bool checkpoint(std::string_view state);
    /// 0 go on, 1 pause, 2 cancel; remembers that the guest was told. A job with snapshots is
    /// not told of a pause (Kiln suspends its call instead) unless a snapshot failed.
    int32_t check_interrupt();
    /// The state to work from: the last checkpoint saved in this run, else the one it started
    /// from.
    std::string load_state() const;

    // ---- For the runner.

    /// Asks the job to stop (the strongest of the signals given wins) or, with Signal::none,
    /// takes back a pause not yet told to the guest.
    void signal(Signal s);
    Signal signalled() const { return Signal(m_signal.load(std::memory_order_acquire)); }
    /// Whether the guest was told to stop (it answered an interrupt check with non-zero).
    bool told() const { return m_told.load(std::memory_order_acquire); }
    /// A snapshot could not be stored: from now on the guest is told of pauses.
    void snapshots_failed() { m_snapshots.store(false, std::memory_order_release); }
    JobProgress progress() const;
    /// The last checkpoint saved in this run, if any.
    std::optional<std::string> last_checkpoint() const;
    /// Replaces the state to work from (a migrated one), before the run starts.
    void set_state(std::string state);
    /// Writes the progress and log lines gathered so far.
    Result<void> flush();
    /// Moves what is gathered out, for the run's last transaction.
    Pending take_pending();

private:
    JobStore::Impl& m_store;
    JobInfo m_info;
    mutable std::mutex m_mutex; ///< guards what follows
    std::string m_state;
    bool m_checkpointed = false;
    Pending m_pending;
    std::mutex m_write; ///< one write of this job's pending data at a time
    std::atomic<int> m_signal{0};
    std::atomic<bool> m_told{false};
    std::atomic<bool> m_snapshots; ///< pauses are Kiln's to carry out (the job has snapshots)
};

} // namespace kiln::jobs
