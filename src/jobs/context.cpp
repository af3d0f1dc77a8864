// A running job's host side: progress and logs gathered in memory (written by the runner every
// RunnerOptions::flush and with each checkpoint), checkpoints committed before the host function
// returns, and interrupt checks answered from an atomic.
#include "jobs/context.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace kiln::jobs {

namespace {

JobLogEntry entry(LogLevel level, std::string_view message, bool warning) {
    return JobLogEntry{std::chrono::system_clock::now(), level, warning, std::string(message)};
}

/// Puts back what a failed write took, ahead of what came since.
void put_back(Pending& into, Pending&& taken) {
    if (taken.progress_changed && !into.progress_changed) {
        into.progress = std::move(taken.progress);
        into.progress_changed = true;
    }
    taken.logs.insert(taken.logs.end(), std::make_move_iterator(into.logs.begin()),
                      std::make_move_iterator(into.logs.end()));
    into.logs = std::move(taken.logs);
}

} // namespace

JobContext::JobContext(JobStore::Impl& store, JobInfo info, std::string state)
    : m_store(store), m_info(std::move(info)), m_state(std::move(state)),
      m_snapshots(m_info.options.snapshots || m_info.options.snapshot_every_ms > 0) {
    m_pending.progress = m_info.progress;
}

std::string JobContext::library_id() const {
    return m_info.options.library_id.empty() ? "00000000-0000-0000-0000-000000000000"
                                             : m_info.options.library_id;
}

void JobContext::progress(double fraction, std::optional<std::string_view> message) {
    std::lock_guard lock(m_mutex);
    if (!std::isnan(fraction)) m_pending.progress.fraction = std::clamp(fraction, 0.0, 1.0);
    if (message) m_pending.progress.message = std::string(*message);
    m_pending.progress_changed = true;
}

void JobContext::items(uint64_t done, uint64_t total) {
    std::lock_guard lock(m_mutex);
    m_pending.progress.items_done = done;
    m_pending.progress.items_total = total;
    m_pending.progress_changed = true;
}

void JobContext::add_items(uint64_t n) {
    std::lock_guard lock(m_mutex);
    m_pending.progress.items_done += n;
    m_pending.progress_changed = true;
}

void JobContext::add_bytes(uint64_t n) {
    std::lock_guard lock(m_mutex);
    m_pending.progress.bytes += n;
    m_pending.progress_changed = true;
}

void JobContext::log(LogLevel level, std::string_view message, bool warning) {
    std::lock_guard lock(m_mutex);
    m_pending.logs.push_back(entry(level, message, warning));
}

bool JobContext::checkpoint(std::string_view state) {
    if (!nlohmann::json::accept(state)) {
        log(LogLevel::error, "checkpoint refused: the state is not JSON");
        return false;
    }
    std::lock_guard write(m_write);
    Pending taken;
    {
        std::lock_guard lock(m_mutex);
        taken = std::move(m_pending);
        m_pending = Pending{};
        m_pending.progress = taken.progress;
    }
    auto saved = m_store.checkpoint(m_info.id, state, taken);
    std::lock_guard lock(m_mutex);
    if (!saved) {
        put_back(m_pending, std::move(taken));
        m_pending.logs.push_back(entry(
            LogLevel::error, fmt::format("checkpoint failed: {}", saved.error().message), false));
        return false;
    }
    m_state = std::string(state);
    m_checkpointed = true;
    return true;
}

int32_t JobContext::check_interrupt() {
    switch (signalled()) {
    case Signal::none: return 0;
    case Signal::cancel: m_told.store(true, std::memory_order_release); return 2;
    default:
        if (m_snapshots.load(std::memory_order_acquire)) return 0;
        m_told.store(true, std::memory_order_release);
        return 1;
    }
}

std::string JobContext::load_state() const {
    std::lock_guard lock(m_mutex);
    return m_state;
}

void JobContext::set_state(std::string state) {
    std::lock_guard lock(m_mutex);
    m_state = std::move(state);
}

void JobContext::signal(Signal s) {
    int want = int(s);
    if (s == Signal::none) {
        // A pause the guest has not been told of is taken back; a cancel or a yield stays.
        int expected = int(Signal::pause);
        if (!told()) m_signal.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
        return;
    }
    int current = m_signal.load(std::memory_order_acquire);
    while (current < want &&
           !m_signal.compare_exchange_weak(current, want, std::memory_order_acq_rel)) {
    }
}

JobProgress JobContext::progress() const {
    std::lock_guard lock(m_mutex);
    return m_pending.progress;
}

std::optional<std::string> JobContext::last_checkpoint() const {
    std::lock_guard lock(m_mutex);
    if (!m_checkpointed) return std::nullopt;
    return m_state;
}

Result<void> JobContext::flush() {
    std::lock_guard write(m_write);
    Pending taken;
    {
        std::lock_guard lock(m_mutex);
        if (!m_pending.progress_changed && m_pending.logs.empty()) return {};
        taken = std::move(m_pending);
        m_pending = Pending{};
        m_pending.progress = taken.progress;
    }
    auto written = m_store.flush(m_info.id, taken);
    if (!written) {
        std::lock_guard lock(m_mutex);
        put_back(m_pending, std::move(taken));
    }
    return written;
}

Pending JobContext::take_pending() {
    std::lock_guard write(m_write);
    std::lock_guard lock(m_mutex);
    Pending taken = std::move(m_pending);
    m_pending = Pending{};
    m_pending.progress = taken.progress;
    return taken;
}

} // namespace kiln::jobs
