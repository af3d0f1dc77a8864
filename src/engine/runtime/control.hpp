// Execution control and resource accounting of a Store: fuel, deadline, interrupts, and the
// memory and table budgets its memories and tables draw from.
#pragma once

#include "base/time.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace kiln::engine {

/// What an interrupt asks of the running call.
enum class InterruptMode : uint32_t { none = 0, trap = 1, suspend = 2 };

/// Shared between a Store and the interrupt handles it gave out; any thread may raise it.
struct InterruptFlag {
    std::atomic<uint32_t> mode{0};
    void raise(InterruptMode m) { mode.store(uint32_t(m), std::memory_order_release); }
    InterruptMode take() { return InterruptMode(mode.exchange(0, std::memory_order_acq_rel)); }
    bool raised() const { return mode.load(std::memory_order_relaxed) != 0; }
};

using Clock = std::chrono::steady_clock;

/// Fuel, deadline and interrupt state read by the interpreter between basic blocks.
struct ExecControl {
    bool fuel_enabled = false;
    uint64_t fuel = 0;            ///< fuel not handed to a running call
    bool suspend_on_fuel = false; ///< out of fuel suspends instead of trapping
    std::optional<Clock::time_point> deadline;
    std::optional<Clock::duration> timeout; ///< sets `deadline` when a call from the host starts
    std::shared_ptr<InterruptFlag> interrupt = std::make_shared<InterruptFlag>();

    /// Sets the deadline of a call from the host that starts now; a timeout too long to add to
    /// the clock gives the clock's last time point.
    void start_deadline() {
        deadline.reset();
        if (timeout) deadline = saturating_add(Clock::now(), *timeout);
    }

    /// Stops a bulk operation early: interrupt (trap mode) or a passed deadline.
    bool bulk_should_stop() const {
        if (interrupt->mode.load(std::memory_order_relaxed) == uint32_t(InterruptMode::trap))
            return true;
        return deadline && Clock::now() >= *deadline;
    }
};

/// Budgets shared by all memories and tables of a Store.
struct ResourceLimiter {
    uint64_t memory_bytes_max = ~uint64_t(0);
    uint64_t memory_bytes_used = 0;
    uint64_t table_elems_max = 10'000'000;
    uint64_t table_elems_used = 0;

    bool reserve_memory(uint64_t bytes) {
        if (bytes > memory_bytes_max - memory_bytes_used) return false;
        memory_bytes_used += bytes;
        return true;
    }
    void release_memory(uint64_t bytes) { memory_bytes_used -= std::min(bytes, memory_bytes_used); }
    bool reserve_table(uint64_t elems) {
        if (elems > table_elems_max - table_elems_used) return false;
        table_elems_used += elems;
        return true;
    }
    void release_table(uint64_t elems) { table_elems_used -= std::min(elems, table_elems_used); }
};

} // namespace kiln::engine
