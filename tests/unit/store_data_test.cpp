// Store user data reached from host functions, host functions returning Result<T>, and host
// functions that suspend the running call (Caller::suspend, Store::resume with results).
#include "base/result.hpp"
#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct Counter {
    int calls = 0;
    std::string name;
};
struct Other {
    int value = 7;
};

class StoreData : public ::testing::Test {
protected:
    kiln::Engine m_engine;
    kiln::Linker m_linker;
};

#define COMPILE(mod, wat) KILN_COMPILE_OR_SKIP(mod, m_engine, wat)

constexpr const char* tick_wat = R"((module
  (import "env" "tick" (func $tick (result i32)))
  (func (export "run") (param i32) (result i32) (local i32)
    (block (loop
      (br_if 1 (i32.eqz (local.get 0)))
      (local.set 1 (call $tick))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br 0)))
    (local.get 1)))
)";

TEST_F(StoreData, OneLinkerServesManyStoresEachWithItsOwnData) {
    COMPILE(module, tick_wat);
    m_linker.func_wrap("env", "tick", [](kiln::Caller& c) -> int32_t {
        Counter* counter = c.data<Counter>();
        if (!counter) {
            c.trap("no counter");
            return 0;
        }
        return ++counter->calls;
    });
    kiln::Store a(m_engine), b(m_engine);
    Counter& ca = a.set_data(std::make_shared<Counter>());
    b.set_data(std::make_shared<Counter>());
    auto ia = m_linker.instantiate(a, module);
    auto ib = m_linker.instantiate(b, module);
    ASSERT_TRUE(ia && ib);
    auto ra = ia->get_func(a, "run")->call(a, {kiln::Value::i32(5)});
    auto rb = ib->get_func(b, "run")->call(b, {kiln::Value::i32(3)});
    ASSERT_TRUE(ra && rb);
    EXPECT_EQ((*ra)[0].as_i32(), 5);
    EXPECT_EQ((*rb)[0].as_i32(), 3);
    EXPECT_EQ(ca.calls, 5);
    EXPECT_EQ(b.data<Counter>()->calls, 3);
}

TEST_F(StoreData, TypesHaveSeparateSlotsAndMissingDataIsNull) {
    kiln::Store store(m_engine);
    EXPECT_EQ(store.data<Counter>(), nullptr);
    store.set_data(std::make_shared<Other>());
    EXPECT_EQ(store.data<Counter>(), nullptr);
    ASSERT_NE(store.data<Other>(), nullptr);
    EXPECT_EQ(store.data<Other>()->value, 7);
    auto first = std::make_shared<Counter>();
    std::weak_ptr<Counter> watch = first;
    store.set_data(std::move(first));
    store.set_data(std::make_shared<Counter>(Counter{3, "second"}));
    EXPECT_TRUE(watch.expired()) << "replaced data is released";
    EXPECT_EQ(store.data<Counter>()->name, "second");
    EXPECT_EQ(store.data<Other>()->value, 7);
}

TEST_F(StoreData, HostFunctionWithoutItsDataTrapsWithItsMessage) {
    COMPILE(module, tick_wat);
    m_linker.func_wrap("env", "tick", [](kiln::Caller& c) -> kiln::Result<int32_t> {
        if (!c.data<Counter>()) return kiln::make_error(kiln::ErrorKind::usage, "no counter here");
        return 1;
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto r = inst->get_func(store, "run")->call(store, {kiln::Value::i32(2)});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kiln::ErrorKind::trap);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::host_error);
    EXPECT_EQ(r.error().trap->message, "no counter here");
}

TEST_F(StoreData, ResultHostFunctionsReturnValuesVoidAndTuples) {
    COMPILE(module, R"((module
      (import "env" "pair" (func $pair (param i32) (result i32 i64)))
      (import "env" "check" (func $check (param i32)))
      (func (export "run") (param i32) (result i64) (local i64)
        (call $check (local.get 0))
        (call $pair (local.get 0))
        (local.set 1)
        (i64.extend_i32_u)
        (local.get 1)
        (i64.add)))
    )");
    m_linker.func_wrap("env", "pair", [](int32_t x) -> kiln::Result<std::tuple<int32_t, int64_t>> {
        return std::tuple<int32_t, int64_t>{x + 1, int64_t(x) * 1000};
    });
    m_linker.func_wrap("env", "check", [](int32_t x) -> kiln::Result<void> {
        if (x < 0) return kiln::make_error(kiln::ErrorKind::usage, "negative");
        return {};
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto run = inst->get_func(store, "run")->typed<int64_t(int32_t)>(store);
    ASSERT_TRUE(run);
    auto ok = run->call(store, 4);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(*ok, 4005);
    store.set_reuse_after_trap(true);
    auto bad = run->call(store, -1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().trap->message, "negative");
}

TEST_F(StoreData, ErrorCarryingATrapPassesTheTrapOn) {
    // A host function that calls back into wasm and returns that call's error re-raises its
    // trap, kind included.
    COMPILE(module, R"((module
      (import "env" "outer" (func $outer))
      (func (export "boom") unreachable)
      (func (export "run") (call $outer)))
    )");
    m_linker.func_wrap("env", "outer", [](kiln::Caller& c) -> kiln::Result<void> {
        auto boom = c.get_export("boom")->func();
        KILN_TRY(out, boom->call(c.store(), {}));
        (void)out;
        return {};
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto r = inst->get_func(store, "run")->call(store, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::unreachable);
}

// ---- host functions that suspend the call

constexpr const char* wait_wat = R"((module
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (global $g (mut i32) (i32.const 0))
  (func (export "run") (param i32) (result i32) (local i32)
    ;; sums wait(i) for i = n-1 .. 0; each wait may suspend
    (block (loop
      (br_if 1 (i32.eqz (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (local.set 1 (i32.add (local.get 1) (call $wait (local.get 0))))
      (global.set $g (i32.add (global.get $g) (i32.const 1)))
      (br 0)))
    (local.get 1))
  (func (export "calls") (result i32) (global.get $g))
  (func (export "direct") (param i32) (result i32) (call $wait (local.get 0))))
)";

TEST_F(StoreData, HostFunctionSuspendsAndResumeSuppliesItsResults) {
    COMPILE(module, wait_wat);
    std::vector<int32_t> asked;
    m_linker.func_wrap("env", "wait", [&](kiln::Caller& c, int32_t i) -> kiln::Result<int32_t> {
        asked.push_back(i);
        KILN_CHECK(c.suspend());
        return -1; // ignored: resume() supplies the result
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto r = inst->get_func(store, "run")->call(store, {kiln::Value::i32(3)});
    int resumes = 0;
    while (!r && r.error().kind == kiln::ErrorKind::suspended) {
        ASSERT_TRUE(store.has_suspended_call());
        EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::yielded);
        // Another call runs on the same store while this one waits.
        auto calls = inst->get_func(store, "calls")->call(store, {});
        ASSERT_TRUE(calls) << calls.error().message;
        EXPECT_EQ((*calls)[0].as_i32(), resumes);
        int32_t answer = (asked.back() + 1) * 100;
        r = store.resume(std::vector<kiln::Value>{kiln::Value::i32(answer)});
        ++resumes;
    }
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(resumes, 3);
    EXPECT_EQ((*r)[0].as_i32(), 300 + 200 + 100);
    EXPECT_EQ(asked, (std::vector<int32_t>{2, 1, 0}));
    EXPECT_FALSE(store.has_suspended_call());
}

TEST_F(StoreData, ResumeChecksTheHostFunctionsResults) {
    COMPILE(module, wait_wat);
    m_linker.func_wrap("env", "wait", [](kiln::Caller& c, int32_t) -> kiln::Result<int32_t> {
        KILN_CHECK(c.suspend());
        return 0;
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto r = inst->get_func(store, "run")->call(store, {kiln::Value::i32(1)});
    ASSERT_FALSE(r);
    ASSERT_EQ(r.error().kind, kiln::ErrorKind::suspended);
    auto none = store.resume();
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().kind, kiln::ErrorKind::usage);
    EXPECT_NE(none.error().message.find("1 results"), std::string::npos) << none.error().message;
    auto wrong = store.resume(std::vector<kiln::Value>{kiln::Value::i64(1)});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().kind, kiln::ErrorKind::usage);
    EXPECT_TRUE(store.has_suspended_call()) << "a refused resume keeps the call";
    auto ok = store.resume(std::vector<kiln::Value>{kiln::Value::i32(42)});
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ((*ok)[0].as_i32(), 42);
}

TEST_F(StoreData, SuspendIsRefusedWhereTheCallCannotStop) {
    COMPILE(module, R"((module
      (import "env" "wait" (func $wait (result i32)))
      (import "env" "nest" (func $nest (result i32)))
      (func (export "inner") (result i32) (call $wait))
      (func (export "run") (result i32) (call $nest)))
    )");
    std::vector<std::string> refusals;
    m_linker.func_wrap("env", "wait", [&](kiln::Caller& c) -> int32_t {
        auto s = c.suspend();
        if (!s) refusals.push_back(s.error().message);
        return s ? 1 : 2;
    });
    m_linker.func_wrap("env", "nest", [](kiln::Caller& c) -> kiln::Result<int32_t> {
        KILN_TRY(out, c.get_export("inner")->func()->call(c.store(), {}));
        return out[0].as_i32() * 10;
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    // Nested inside another host function: refused, and the call goes on.
    auto r = inst->get_func(store, "run")->call(store, {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), 20);
    ASSERT_EQ(refusals.size(), 1u);
    // Called directly from the host: nothing to continue, refused.
    auto wait = m_linker.instantiate(store, module)->get_export(store, "inner");
    ASSERT_TRUE(wait);
    kiln::Func direct = kiln::create_func(
        store, kiln::host_func([&](kiln::Caller& c) -> int32_t { return c.suspend() ? 1 : 2; }));
    auto d = direct.call(store, {});
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ((*d)[0].as_i32(), 2);
    EXPECT_FALSE(store.has_suspended_call());
}

TEST_F(StoreData, ASuspendingHostFunctionThatAlsoTrapsTraps) {
    COMPILE(module, wait_wat);
    m_linker.func_wrap("env", "wait", [](kiln::Caller& c, int32_t) -> int32_t {
        (void)c.suspend();
        c.trap("gave up");
        return 0;
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto r = inst->get_func(store, "run")->call(store, {kiln::Value::i32(2)});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kiln::ErrorKind::trap);
    EXPECT_FALSE(store.has_suspended_call());
}

TEST_F(StoreData, DroppedYieldLeavesTheStoreUsable) {
    COMPILE(module, wait_wat);
    m_linker.func_wrap("env", "wait", [](kiln::Caller& c, int32_t i) -> kiln::Result<int32_t> {
        if (i == 0) KILN_CHECK(c.suspend());
        return i;
    });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    auto run = inst->get_func(store, "run");
    auto r = run->call(store, {kiln::Value::i32(4)});
    ASSERT_FALSE(r);
    store.drop_suspended_call();
    EXPECT_FALSE(store.has_suspended_call());
    auto again = inst->get_func(store, "direct")->call(store, {kiln::Value::i32(9)});
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ((*again)[0].as_i32(), 9);
}

TEST_F(StoreData, FuelIsAccountedAcrossAYield) {
    // The same program with and without suspending at each host call uses the same fuel.
    COMPILE(module, wait_wat);
    bool suspend = false;
    m_linker.func_wrap("env", "wait", [&](kiln::Caller& c, int32_t i) -> kiln::Result<int32_t> {
        if (suspend) KILN_CHECK(c.suspend());
        return i;
    });
    auto run_with = [&](bool s) -> std::pair<int32_t, uint64_t> {
        suspend = s;
        kiln::Store store(m_engine);
        store.set_fuel(1'000'000);
        auto inst = m_linker.instantiate(store, module);
        auto r = inst->get_func(store, "run")->call(store, {kiln::Value::i32(50)});
        int guard = 0;
        while (!r && r.error().kind == kiln::ErrorKind::suspended && ++guard < 1000) {
            // The results equal what wait(i) returns without suspending: i counts down from 49.
            r = store.resume(std::vector<kiln::Value>{kiln::Value::i32(49 - (guard - 1))});
        }
        EXPECT_TRUE(r) << r.error().message;
        return {r ? (*r)[0].as_i32() : -1, *store.fuel()};
    };
    auto plain = run_with(false);
    auto yielding = run_with(true);
    EXPECT_EQ(plain.first, 49 * 50 / 2);
    EXPECT_EQ(yielding.first, plain.first);
    EXPECT_EQ(yielding.second, plain.second);
}

} // namespace
