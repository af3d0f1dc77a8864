// Limits given in milliseconds (a u64 from a manifest, a flag or the C API) turned into clock
// durations and deadlines without overflow: a limit too long for the clock becomes the longest
// it can hold, never a wrapped value that would mean "already passed" or "none".
#pragma once

#include <chrono>
#include <cstdint>

namespace kiln {

/// `ms` milliseconds, or the longest std::chrono::nanoseconds (about 292 years) past that.
constexpr std::chrono::nanoseconds saturating_milliseconds(uint64_t ms) {
    using ns = std::chrono::nanoseconds;
    constexpr uint64_t max_ms = uint64_t(ns::max().count()) / 1'000'000;
    return ms > max_ms ? ns::max() : ns(int64_t(ms) * 1'000'000);
}

/// `from + d` for a non-negative `d`, or the clock's last time point when that does not fit.
template <typename TimePoint, typename Duration>
constexpr TimePoint saturating_add(TimePoint from, Duration d) {
    const auto room = TimePoint::max() - from;
    if (d >= room) return TimePoint::max();
    return from + std::chrono::duration_cast<typename TimePoint::duration>(d);
}

} // namespace kiln
