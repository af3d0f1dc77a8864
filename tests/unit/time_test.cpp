// Limits in milliseconds turned into clock durations and deadlines: a timeout near the top of
// the u64 range overflowed the conversion to nanoseconds, so a call failed at once as past its
// deadline, or ran with no deadline at all.
#include "base/time.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace {

using namespace std::chrono;
using kiln::saturating_add;
using kiln::saturating_milliseconds;

TEST(SaturatingTime, MillisecondsWithinRangeConvertExactly) {
    EXPECT_EQ(saturating_milliseconds(0), nanoseconds(0));
    EXPECT_EQ(saturating_milliseconds(300), milliseconds(300));
    // The largest count of milliseconds that nanoseconds hold.
    const uint64_t top = uint64_t(nanoseconds::max().count()) / 1'000'000;
    EXPECT_EQ(saturating_milliseconds(top), nanoseconds(int64_t(top) * 1'000'000));
}

TEST(SaturatingTime, HugeTimeoutSaturatesInsteadOfWrapping) {
    const uint64_t top = uint64_t(nanoseconds::max().count()) / 1'000'000;
    // 18446744073710 ms wrapped to 448 µs, 76480200929599801 ms to 64 ns.
    for (uint64_t ms : {top + 1, uint64_t(18446744073710), uint64_t(76480200929599801),
                        uint64_t(9'300'000'000'000), uint64_t(INT64_MAX), UINT64_MAX}) {
        SCOPED_TRACE(ms);
        EXPECT_EQ(saturating_milliseconds(ms), nanoseconds::max());
    }
}

TEST(SaturatingTime, DeadlinePastTheClockIsItsLastTimePoint) {
    const auto now = steady_clock::now();
    EXPECT_EQ(saturating_add(now, seconds(1)), now + seconds(1));
    EXPECT_EQ(saturating_add(now, nanoseconds::max()), steady_clock::time_point::max());
    EXPECT_EQ(saturating_add(now, steady_clock::time_point::max() - now),
              steady_clock::time_point::max());
    EXPECT_GT(saturating_add(now, saturating_milliseconds(UINT64_MAX)), now);
}

} // namespace
