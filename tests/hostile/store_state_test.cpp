// Store state changed at awkward moments through the public API: limits lowered while a call is
// suspended or from inside a host function, a suspended call dropped or resumed from inside
// another call, references from another store or forged. None of it may break memory safety.
#include "hostile_util.hpp"

#include <functional>
#include <span>
#include <string>

namespace {

using namespace kiln;
using namespace kiln::hostile;

constexpr const char* state_wat = R"((module
  (import "env" "host" (func $host (param i32) (result i32)))
  (import "env" "give" (func $give (result funcref)))
  (table (export "table") 2 funcref)
  ;; Unbounded recursion: only the stack limits (or fuel) stop it.
  (func $rec (export "rec") (call $rec))
  (func (export "spin") (loop (br 0)))
  ;; Keeps a value in a local across a host call, and returns it with the host's result.
  (func (export "keep") (param i32) (result i32) (local i32)
    (local.set 1 (i32.mul (local.get 0) (i32.const 3)))
    (i32.add (call $host (local.get 0)) (local.get 1)))
  ;; Recursion 200 deep with a few locals: overwrites whatever lies in its part of the stack.
  (func $scribble (export "scribble") (param i32) (result i32) (local i64 i64 i64 i64)
    (local.set 1 (i64.const -1)) (local.set 2 (i64.const -1))
    (local.set 3 (i64.const -1)) (local.set 4 (i64.const -1))
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $scribble (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "call_slot") (param i32) (call_indirect (local.get 0)))
  (func (export "set_slot") (param i32 funcref) (table.set 0 (local.get 0) (local.get 1)))
  (func (export "set_slot_from_host") (param i32) (table.set 0 (local.get 0) (call $give)))
))";

class StoreState : public ::testing::Test {
protected:
    /// Instantiates state_wat with env.host running `host_body` (and returning its result).
    std::optional<Instance> instantiate(const Module& module, Store& store,
                                        std::function<int32_t(Caller&, int32_t)> host_body) {
        m_host = std::move(host_body);
        Linker linker;
        linker.func_wrap("env", "host",
                         [this](Caller& c, int32_t x) -> int32_t { return m_host(c, x); });
        linker.func_new("env", "give", FuncType{{}, {ValType::funcref}},
                        [this](Caller&, std::span<const Value>, std::span<Value> results) {
                            results[0] = m_give;
                        });
        auto inst = linker.instantiate(store, module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return std::nullopt;
        return *inst;
    }

    Engine m_engine;
    std::function<int32_t(Caller&, int32_t)> m_host;
    Value m_give = Value::null(ValType::funcref); ///< what env.give returns
};

// A call suspended 1000 frames deep, resumed after the frame limit was lowered to 100: the
// resumed recursion must stop at a limit, not run past the end of the frame stack.
TEST_F(StoreState, ResumeAfterLoweringTheStackLimitsIsStackExhausted) {
    KILN_MODULE(module, m_engine, state_wat);
    Store store(m_engine);
    auto inst = instantiate(module, store, [](Caller&, int32_t x) { return x; });
    ASSERT_TRUE(inst);
    store.set_fuel(2000); // each call to rec costs 2: suspended about 1000 frames deep
    store.set_suspend_on_fuel(true);
    auto r = inst->get_func(store, "rec")->call(store, {});
    ASSERT_EQ(outcome(r), "suspended:out of fuel");
    store.set_stack_limits(100, 1u << 20);
    store.set_suspend_on_fuel(false);
    store.add_fuel(100'000'000);
    r = store.resume();
    EXPECT_EQ(outcome(r), trapped(TrapKind::stack_exhausted));
    EXPECT_FALSE(store.has_suspended_call());
    expect_recovers(m_engine, store);
}

// A host function 1000 frames deep lowers the frame limit to 100, then calls back into wasm.
TEST_F(StoreState, HostLoweringTheStackLimitsThenReenteringIsStackExhausted) {
    KILN_MODULE(module, m_engine, R"((module
      (import "env" "host" (func $host))
      (func $rec (export "rec") (call $rec))
      (func $down (export "down") (param i32)
        (if (local.get 0)
          (then (call $down (i32.sub (local.get 0) (i32.const 1))))
          (else (call $host))))))");
    Store store(m_engine);
    std::optional<Func> rec;
    std::optional<Error> inner;
    Linker linker;
    linker.func_wrap("env", "host", [&](Caller& c) {
        c.store().set_stack_limits(100, 1u << 20);
        auto r = rec->call(c.store(), {});
        if (!r) inner = r.error();
    });
    KILN_ASSERT_OK(inst, linker.instantiate(store, module));
    rec = inst.get_func(store, "rec");
    auto r = inst.get_func(store, "down")->call(store, {Value::i32(1000)});
    // The outer call may finish (its frames were already there) or be refused; the nested one
    // must be stopped.
    ASSERT_TRUE(inner);
    EXPECT_EQ(outcome(Result<void>(tl::unexpected(*inner))), trapped(TrapKind::stack_exhausted));
    (void)r;
    store.set_reuse_after_trap(true);
    expect_recovers(m_engine, store);
}

// While call A is suspended, call B's host function drops A and calls back into wasm: the
// nested call must not reuse the stack B is still running on.
TEST_F(StoreState, DroppingASuspendedCallFromAHostFunctionKeepsTheRunningCallIntact) {
    KILN_MODULE(module, m_engine, state_wat);
    Store store(m_engine);
    std::optional<Func> scribble;
    auto inst = instantiate(module, store, [&](Caller& c, int32_t x) -> int32_t {
        c.store().drop_suspended_call();
        auto r = scribble->call(c.store(), {Value::i32(200)});
        if (!r) {
            c.trap(r.error().message);
            return 0;
        }
        return x + (*r)[0].as_i32(); // x + 200
    });
    ASSERT_TRUE(inst);
    scribble = inst->get_func(store, "scribble");
    store.set_fuel(1000);
    store.set_suspend_on_fuel(true);
    auto a = inst->get_func(store, "spin")->call(store, {});
    ASSERT_EQ(outcome(a), "suspended:out of fuel");
    store.set_suspend_on_fuel(false);
    store.add_fuel(100'000'000);
    // keep(7) = host(7) + 7 * 3 = (7 + 200) + 21.
    auto b = inst->get_func(store, "keep")->call(store, {Value::i32(7)});
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ((*b)[0].as_i32(), 228);
    EXPECT_FALSE(store.has_suspended_call());
    expect_recovers(m_engine, store);
}

// Resuming from inside a call is refused with an error, not run on top of the running call.
TEST_F(StoreState, ResumingFromInsideACallIsRefused) {
    KILN_MODULE(module, m_engine, state_wat);
    Store store(m_engine);
    std::optional<std::string> refused;
    auto inst = instantiate(module, store, [&](Caller& c, int32_t x) -> int32_t {
        auto r = c.store().resume();
        if (!r) refused = r.error().message;
        return x;
    });
    ASSERT_TRUE(inst);
    store.set_fuel(1000);
    store.set_suspend_on_fuel(true);
    ASSERT_EQ(outcome(inst->get_func(store, "spin")->call(store, {})), "suspended:out of fuel");
    store.add_fuel(1'000'000);
    auto b = inst->get_func(store, "keep")->call(store, {Value::i32(1)});
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ((*b)[0].as_i32(), 4);
    ASSERT_TRUE(refused);
    EXPECT_TRUE(store.has_suspended_call());
    store.drop_suspended_call();
    expect_recovers(m_engine, store);
}

// A funcref is a raw word in kiln::Value: one naming a function of another store (which may be
// gone by the time it is called) or no function at all must be refused where it enters a store.
TEST_F(StoreState, FuncrefsFromAnotherStoreOrForgedAreRefused) {
    KILN_MODULE(module, m_engine, state_wat);
    Store store(m_engine);
    auto inst = instantiate(module, store, [](Caller&, int32_t x) { return x; });
    ASSERT_TRUE(inst);
    auto table = inst->get_table(store, "table");
    ASSERT_TRUE(table);
    // The store's own function is fine.
    auto own = inst->get_func(store, "spin");
    EXPECT_TRUE(table->set(store, 0, Value::funcref(own->raw())));
    {
        Store other(m_engine);
        auto other_inst = instantiate(module, other, [](Caller&, int32_t x) { return x; });
        ASSERT_TRUE(other_inst);
        auto foreign = other_inst->get_func(other, "spin");
        Value ref = Value::funcref(foreign->raw());
        EXPECT_FALSE(table->set(store, 1, ref))
            << "Table::set put a function of another store in this store's table";
        EXPECT_FALSE(Global::create(store, GlobalType{ValType::funcref, false}, ref))
            << "Global::create made a function of another store this store's global";
        auto set_slot = inst->get_func(store, "set_slot");
        EXPECT_NE(outcome(set_slot->call(store, {Value::i32(1), ref})), "ok")
            << "Func::call passed a function of another store to wasm";
        m_give = ref;
        EXPECT_NE(
            outcome(inst->get_func(store, "set_slot_from_host")->call(store, {Value::i32(1)})),
            "ok")
            << "a host function returned a function of another store to wasm";
        m_give = Value::null(ValType::funcref);
        store.set_reuse_after_trap(true);
    }
    // `other` is destroyed: had the table kept its function, calling slot 1 would use freed
    // memory. Only call it when everything was refused.
    if (table->get(store, 1)->is_null()) {
        EXPECT_EQ(outcome(inst->get_func(store, "call_slot")->call(store, {Value::i32(1)})),
                  trapped(TrapKind::uninitialized_element));
    }
    static const int not_a_function = 0;
    EXPECT_FALSE(table->set(store, 1, Value::funcref(&not_a_function)))
        << "a forged funcref was accepted";
    EXPECT_FALSE(table->grow(store, 1, Value::funcref(&not_a_function)))
        << "a forged funcref was accepted by Table::grow";
    store.set_reuse_after_trap(true);
    expect_recovers(m_engine, store);
}

// A timeout too long to add to the clock means "no deadline", not one already passed (nor a
// signed overflow, which UBSan reports).
TEST_F(StoreState, HugeTimeoutsDoNotOverflowTheDeadline) {
    KILN_MODULE(module, m_engine, state_wat);
    Store store(m_engine);
    auto inst = instantiate(module, store, [](Caller&, int32_t x) { return x; });
    ASSERT_TRUE(inst);
    auto keep = inst->get_func(store, "keep");
    for (auto timeout : {std::chrono::nanoseconds::max(), std::chrono::nanoseconds::max() / 2,
                         std::chrono::nanoseconds(std::chrono::hours(24 * 365 * 200))}) {
        SCOPED_TRACE(timeout.count());
        store.set_timeout(timeout);
        auto r = keep->call(store, {Value::i32(1)});
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ((*r)[0].as_i32(), 4);
    }
    expect_recovers(m_engine, store);
}

// Fuel set to the maximum by a host function while the call holds part of it: the call goes on
// and the fuel left afterwards is still about the maximum, not wrapped around to nearly none.
TEST_F(StoreState, MaximumFuelSetDuringACallDoesNotWrap) {
    KILN_MODULE(module, m_engine, R"((module
      (import "env" "host" (func $host))
      (func (export "run") (param i32) (result i32) (local i32)
        (call $host)
        (block (loop
          (br_if 1 (i32.eqz (local.get 0)))
          (local.set 1 (i32.add (local.get 1) (local.get 0)))
          (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
          (br 0)))
        (local.get 1))))");
    Store store(m_engine);
    Linker linker;
    linker.func_wrap("env", "host", [](Caller& c) { c.store().set_fuel(~uint64_t(0)); });
    KILN_ASSERT_OK(inst, linker.instantiate(store, module));
    store.set_fuel(1'000'000);
    auto r = inst.get_func(store, "run")->call(store, {Value::i32(100'000)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), int32_t(uint32_t(uint64_t(100'000) * 100'001 / 2)));
    ASSERT_TRUE(store.fuel());
    EXPECT_GT(*store.fuel(), ~uint64_t(0) - 100'000'000) << "fuel wrapped around";
    // The same through add_fuel, which saturates.
    linker.func_wrap("env", "host", [](Caller& c) { c.store().add_fuel(~uint64_t(0)); });
    KILN_ASSERT_OK(inst2, linker.instantiate(store, module));
    store.set_fuel(1'000'000);
    r = inst2.get_func(store, "run")->call(store, {Value::i32(100'000)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_GT(*store.fuel(), ~uint64_t(0) - 100'000'000) << "fuel wrapped around";
    expect_recovers(m_engine, store);
}

// A start function stopped by fuel (with suspend-on-fuel) fails instantiation; the store is not
// left holding a suspended call of an instance the host never got.
TEST_F(StoreState, StartFunctionOutOfFuelLeavesNoSuspendedCall) {
    KILN_MODULE(module, m_engine, "(module (func $s (loop (br 0))) (start $s))");
    Store store(m_engine);
    store.set_fuel(10'000);
    store.set_suspend_on_fuel(true);
    Linker linker;
    auto inst = linker.instantiate(store, module);
    ASSERT_FALSE(inst);
    EXPECT_EQ(inst.error().kind, ErrorKind::uninstantiable) << inst.error().message;
    EXPECT_FALSE(store.has_suspended_call());
    store.drop_suspended_call();
    store.set_suspend_on_fuel(false);
    expect_recovers(m_engine, store);
}

} // namespace
