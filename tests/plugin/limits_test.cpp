// Limits against hostile plugins (fixtures/hostile.wat): a timeout and a cancel from another
// thread stop an endless loop promptly, max_pages bounds linear and kernel memory, endless
// recursion fails cleanly, fuel stops a loop and is given per call; after each, a fresh Plugin
// from the same CompiledPlugin works.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;
using namespace kiln;
using namespace kiln::plugin_test;
using Clock = std::chrono::steady_clock;

std::string u64_input(uint64_t v) {
    std::string s(8, '\0');
    for (int b = 0; b < 8; ++b)
        s[b] = static_cast<char>((v >> (8 * b)) & 0xff);
    return s;
}

class Limits : public PluginTest {
protected:
    void SetUp() override {
        PluginTest::SetUp();
        if (IsSkipped()) return;
        auto bytes = test::wat_to_wasm(read_fixture("hostile.wat"));
        ASSERT_TRUE(bytes && !bytes->empty());
        hostile = *bytes;
    }

    /// The hostile module compiled with `edit` applied to its manifest.
    std::shared_ptr<const CompiledPlugin> compile(const std::function<void(Manifest&)>& edit) {
        Manifest m = Manifest::from_bytes(hostile);
        edit(m);
        auto compiled = CompiledPlugin::create(engine, std::move(m));
        if (!compiled) {
            ADD_FAILURE() << "CompiledPlugin::create failed: " << compiled.error().message;
            return nullptr;
        }
        return *compiled;
    }

    /// A fresh instance of `compiled` must still serve calls.
    void expect_fresh_plugin_works(const std::shared_ptr<const CompiledPlugin>& compiled) {
        auto p = Plugin::create(compiled);
        KILN_ASSERT_OK(p);
        EXPECT_EQ(output_i64(call_ok(*p, "ok")), 1u);
    }

    std::vector<uint8_t> hostile;
};

TEST_F(Limits, TimeoutStopsAnEndlessLoop) {
    auto compiled = compile([](Manifest& m) { m.timeout_ms = 200; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    for (int round = 0; round < 2; ++round) { // the timeout applies to every call
        SCOPED_TRACE("round " + std::to_string(round));
        Watchdog watchdog(p->cancel_handle(), 5000ms);
        const auto start = Clock::now();
        auto out = p->call("spin", "");
        const auto elapsed = Clock::now() - start;
        EXPECT_FALSE(out.has_value());
        EXPECT_FALSE(watchdog.fired) << "the timeout never stopped the loop";
        EXPECT_LT(elapsed, 300ms)
            << "took " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
            << " ms";
    }
    expect_fresh_plugin_works(compiled);
}

TEST_F(Limits, TimeoutStopsAPluginBlockedInTheHost) {
    // A WASI sleep of 10 s through poll_oneoff: the subscription at 256 (a relative monotonic
    // clock), the event at 512, the count at 768.
    PluginOptions options;
    options.wasi = true;
    auto p = make_plugin(R"(
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (func (export "sleep") (result i32)
    (i64.store (i32.const 256) (i64.const 1))
    (i32.store8 (i32.const 264) (i32.const 0))
    (i32.store (i32.const 272) (i32.const 1))
    (i64.store (i32.const 280) (i64.const 10000000000))
    (i64.store (i32.const 288) (i64.const 0))
    (i32.store16 (i32.const 296) (i32.const 0))
    (drop (call $poll_oneoff (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 768)))
    (i32.const 0))
)",
                         options, [](Manifest& m) { m.timeout_ms = 200; });
    ASSERT_TRUE(p);
    Watchdog watchdog(p->cancel_handle(), 5000ms);
    const auto start = Clock::now();
    auto out = p->call("sleep", "");
    const auto elapsed = Clock::now() - start;
    EXPECT_FALSE(out.has_value());
    EXPECT_FALSE(watchdog.fired);
    EXPECT_LT(elapsed, 300ms)
        << "took " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
        << " ms";
}

TEST_F(Limits, TimeoutDoesNotStopQuickCalls) {
    auto compiled = compile([](Manifest& m) { m.timeout_ms = 200; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    // Many quick calls add up to more than the timeout: it is per call, not per plugin.
    const auto start = Clock::now();
    int calls = 0;
    while (Clock::now() - start < 400ms) {
        ASSERT_EQ(output_i64(call_ok(*p, "count_to", u64_input(1000))), 1000u);
        ++calls;
    }
    EXPECT_GT(calls, 1);
}

TEST_F(Limits, CancelFromAnotherThread) {
    // The timeout is only a backstop, so that a broken cancel cannot hang the test.
    auto compiled = compile([](Manifest& m) { m.timeout_ms = 10000; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    CancelHandle cancel = p->cancel_handle();
    std::thread canceller([cancel] {
        std::this_thread::sleep_for(100ms);
        cancel.cancel();
    });
    const auto start = Clock::now();
    auto out = p->call("spin", "");
    const auto elapsed = Clock::now() - start;
    canceller.join();
    EXPECT_FALSE(out.has_value());
    EXPECT_LT(elapsed, 2000ms) << "the cancel did not stop the call; the backstop timeout did";
    expect_fresh_plugin_works(compiled);
}

// Decided: a plugin whose call was stopped (timeout, cancel, trap) serves later calls itself;
// a cancel aimed at an idle plugin does not carry over to its next call.
TEST_F(Limits, SamePluginWorksAfterAStoppedCall) {
    auto compiled = compile([](Manifest& m) { m.timeout_ms = 200; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    {
        Watchdog watchdog(p->cancel_handle(), 5000ms);
        EXPECT_FALSE(p->call("spin", "").has_value());
        ASSERT_FALSE(watchdog.fired) << "the timeout never stopped the loop";
    }
    EXPECT_EQ(output_i64(call_ok(*p, "ok")), 1u);
    EXPECT_FALSE(p->call("recurse", "").has_value());
    EXPECT_EQ(output_i64(call_ok(*p, "ok")), 1u);
    p->cancel_handle().cancel();
    EXPECT_EQ(output_i64(call_ok(*p, "ok")), 1u);
}

/// Calls `function` of `plugin` and cancels it through `handle` 100 ms in; the call must end as
/// cancelled well before its 3 s timeout.
void expect_cancelled_at_100ms(Plugin& plugin, const CancelHandle& handle, const char* function,
                               const char* when) {
    SCOPED_TRACE(when);
    std::thread canceller([handle] {
        std::this_thread::sleep_for(100ms);
        handle.cancel();
    });
    const auto start = Clock::now();
    auto out = plugin.call(function, "");
    const auto elapsed = Clock::now() - start;
    canceller.join();
    ASSERT_FALSE(out.has_value()) << function << " was not stopped";
    EXPECT_THAT(out.error().message, ::testing::HasSubstr("cancelled"));
    ASSERT_TRUE(out.error().trap);
    EXPECT_EQ(out.error().trap->kind, TrapKind::interrupted);
    EXPECT_LT(elapsed, 1500ms)
        << "the cancel was ignored; the call ran for "
        << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
}

// Regression: a CancelHandle reached only the Store of the instance it was taken from, so once
// the instance was rebuilt (after a trap, a cancel, a timeout, `_start` or reset()) a cancel sent
// at 100 ms was ignored and the call ran to its 3 s timeout.
TEST_F(Limits, CancelHandleTakenBeforeARebuildStillCancels) {
    auto compiled = compile([](Manifest& m) { m.timeout_ms = 3000; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    const CancelHandle handle = p->cancel_handle();
    expect_cancelled_at_100ms(*p, handle, "spin", "the first instance");
    expect_cancelled_at_100ms(*p, handle, "spin", "rebuilt after a cancel");
    EXPECT_FALSE(p->call("recurse", "").has_value());
    expect_cancelled_at_100ms(*p, handle, "spin", "rebuilt after a trap");
    KILN_ASSERT_OK(p->reset());
    expect_cancelled_at_100ms(*p, handle, "spin", "rebuilt by reset()");
    // Moving the plugin keeps its handles.
    Plugin moved = std::move(*p);
    expect_cancelled_at_100ms(moved, handle, "spin", "moved");
    EXPECT_EQ(output_i64(call_ok(moved, "ok")), 1u);
}

TEST_F(Limits, CancelHandleOutlivesTimeoutsAndStart) {
    constexpr const char* body = R"(
  (func (export "_start"))
  (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0))
)";
    auto p = make_plugin(body, {}, [](Manifest& m) { m.timeout_ms = 3000; });
    ASSERT_TRUE(p);
    const CancelHandle handle = p->cancel_handle();
    call_ok(*p, "_start"); // a command's instance is finished: the next call gets a fresh one
    expect_cancelled_at_100ms(*p, handle, "spin", "rebuilt after _start");

    auto q = make_plugin(body, {}, [](Manifest& m) { m.timeout_ms = 200; });
    ASSERT_TRUE(q);
    const CancelHandle q_handle = q->cancel_handle();
    {
        Watchdog watchdog(q_handle, 5000ms);
        auto out = q->call("spin", "");
        ASSERT_FALSE(out.has_value());
        ASSERT_TRUE(out.error().trap);
        EXPECT_EQ(out.error().trap->kind, TrapKind::deadline);
    }
    // The instance after the timeout: a cancel at 100 ms beats the 200 ms timeout.
    expect_cancelled_at_100ms(*q, q_handle, "spin", "rebuilt after a timeout");
}

// A cancel that comes while a call is still being prepared, here while the rebuilt instance's
// _initialize runs, ends the call as cancelled.
TEST_F(Limits, CancelDuringARebuildEndsTheCall) {
    // _initialize loops forever once the var "slow" exists; vars outlive rebuilds.
    constexpr const char* body = R"(
  (data (i32.const 0) "slow")
  (func (export "_initialize")
    (if (i64.ne (call $var_get (call $str (i32.const 0) (i32.const 4))) (i64.const 0))
      (then (loop $l (br $l)))))
  (func (export "arm") (result i32)
    (call $var_set (call $str (i32.const 0) (i32.const 4)) (call $str (i32.const 0) (i32.const 4)))
    unreachable)
  (func (export "ok") (result i32) (i32.const 0))
)";
    auto p = make_plugin(body, {}, [](Manifest& m) { m.timeout_ms = 3000; });
    ASSERT_TRUE(p);
    const CancelHandle handle = p->cancel_handle();
    EXPECT_FALSE(p->call("arm", "").has_value()); // sets the var and traps: the next call rebuilds
    expect_cancelled_at_100ms(*p, handle, "ok", "during _initialize");
}

TEST_F(Limits, LinearMemoryBombStopsAtMaxPages) {
    auto compiled = compile([](Manifest& m) { m.max_pages = 16; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    auto out = p->call("grow", "");
    // Either the call fails, or memory.grow returned -1 in time: the module starts with one
    // page and may not pass sixteen in all; some of the budget must be usable though.
    if (out) {
        EXPECT_LE(1 + output_i64(*out), 16u);
        EXPECT_GE(output_i64(*out), 1u);
    }
    expect_fresh_plugin_works(compiled);
}

TEST_F(Limits, KernelMemoryBombStopsAtMaxPages) {
    auto compiled = compile([](Manifest& m) { m.max_pages = 16; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    auto out = p->call("kernel_grow", "");
    // Each block is a whole page; with the one linear page at most fifteen fit.
    if (out) {
        EXPECT_LE(output_i64(*out), 15u);
        EXPECT_GE(output_i64(*out), 1u);
    }
    expect_fresh_plugin_works(compiled);
}

TEST_F(Limits, KernelMemoryIsReclaimedBetweenCalls) {
    // 50 calls with 1 MiB of input each under a 4 MiB budget: only the per-call reset makes room.
    auto p = make_plugin(R"(
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
)",
                         {}, [](Manifest& m) { m.max_pages = 64; });
    ASSERT_TRUE(p);
    const std::string mebibyte(1u << 20, 'm');
    for (int i = 0; i < 50; ++i) {
        auto out = p->call("echo", mebibyte);
        ASSERT_TRUE(out.has_value()) << "call " << i << ": " << out.error().message;
        ASSERT_EQ(out->size(), mebibyte.size());
    }
}

TEST_F(Limits, InitialMemoryAboveMaxPagesIsRefused) {
    auto big = test::wat_to_wasm(R"((module
  (memory 10)
  (func (export "run") (result i32) (i32.const 0))))");
    ASSERT_TRUE(big && !big->empty());
    Manifest m = Manifest::from_bytes(*big);
    m.max_pages = 4;
    auto p = Plugin::create(engine, m);
    EXPECT_FALSE(p.has_value()) << "a module needing 10 pages must not start under max_pages 4";
}

TEST_F(Limits, EndlessRecursionFails) {
    auto compiled = compile([](Manifest&) {});
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    EXPECT_FALSE(p->call("recurse", "").has_value());
    expect_fresh_plugin_works(compiled);
}

TEST_F(Limits, FuelStopsAnEndlessLoop) {
    auto compiled = compile([](Manifest& m) { m.fuel = 100000; });
    ASSERT_TRUE(compiled);
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    {
        Watchdog watchdog(p->cancel_handle(), 5000ms);
        EXPECT_FALSE(p->call("spin", "").has_value());
        EXPECT_FALSE(watchdog.fired) << "fuel never stopped the loop";
    }
    expect_fresh_plugin_works(compiled);
}

TEST_F(Limits, FuelIsGivenPerCall) {
    auto compiled = compile([](Manifest& m) { m.fuel = 20000; });
    ASSERT_TRUE(compiled);
    auto fits = [&](uint64_t n) {
        auto p = Plugin::create(compiled);
        return p && p->call("count_to", u64_input(n)).has_value();
    };
    // Find the longest loop one call's fuel allows, on fresh instances.
    ASSERT_TRUE(fits(1)) << "20000 fuel must cover a one-iteration loop";
    uint64_t lo = 1, hi = 2;
    while (fits(hi)) {
        lo = hi;
        hi *= 2;
        ASSERT_LT(hi, uint64_t(1) << 30) << "fuel never ran out";
    }
    while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        (fits(mid) ? lo : hi) = mid;
    }
    // That loop uses nearly all of a call's fuel, so repeating it on one instance works only if
    // every call gets the full amount again.
    auto p = Plugin::create(compiled);
    KILN_ASSERT_OK(p);
    for (int i = 0; i < 3; ++i) {
        SCOPED_TRACE("call " + std::to_string(i));
        EXPECT_EQ(output_i64(call_ok(*p, "count_to", u64_input(lo))), lo);
    }
    EXPECT_FALSE(p->call("count_to", u64_input(hi)).has_value());
}

} // namespace
