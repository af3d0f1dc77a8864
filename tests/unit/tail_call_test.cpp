// Tail calls and extended constant expressions: long tail-call chains in constant space (direct,
// indirect, across instances), tail calls to host functions (results, suspension, snapshots),
// frames that grow past the stack limit, fuel suspension at any point of a chain restored in
// another store, backtraces without the frames tail calls replaced, constant arithmetic in
// globals and segment offsets, and both feature flags.
#include "base/result.hpp"
#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <random>

namespace {

using kiln::Value;

class TailCall : public ::testing::Test {
protected:
    /// Stacks far too small for the chains below if each call kept a frame.
    static void make_small(kiln::Store& s) { s.set_stack_limits(64, 4096); }

    kiln::Engine m_engine;
    kiln::Linker m_linker;
};

#define COMPILE(mod, wat) KILN_COMPILE_OR_SKIP(mod, m_engine, wat)

// even/odd by mutual tail recursion, a countdown through return_call_indirect with a
// three-parameter frame, and a sum that first calls normally and then tail-calls.
constexpr const char* chains_wat = R"((module
  (type $step (func (param i64 i64 i32) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $count_a $count_b)
  (func $even (export "even") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 1))
      (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
  (func $odd (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 0))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))
  (func $count_a (param i64 i64 i32) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call_indirect (type $step)
              (i64.sub (local.get 0) (i64.const 1))
              (i64.add (local.get 1) (local.get 0))
              (i32.const 1) (i32.const 1)))))
  (func $count_b (param i64 i64 i32) (result i64)
    (return_call_indirect (type $step) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0)))
  (func (export "sum") (param i64) (result i64)
    (return_call_indirect (type $step) (local.get 0) (i64.const 0) (i32.const 0) (i32.const 0)))
  (func $bad (export "bad") (result i64)
    (return_call_indirect (type $step) (i64.const 1) (i64.const 2) (i32.const 3) (i32.const 9)))
))";

TEST_F(TailCall, TenMillionTailCallsRunInConstantSpace) {
    COMPILE(module, chains_wat);
    kiln::Store store(m_engine);
    make_small(store);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst) << inst.error().message;
    auto even = inst->get_func(store, "even");
    auto r = even->call(store, {Value::i64(10'000'000)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), 1);
    r = even->call(store, {Value::i64(10'000'001)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), 0);

    auto sum = inst->get_func(store, "sum")->call(store, {Value::i64(5'000'000)});
    ASSERT_TRUE(sum) << sum.error().message;
    EXPECT_EQ((*sum)[0].as_i64(), int64_t(5'000'000) * 5'000'001 / 2);
}

TEST_F(TailCall, IndirectTailCallsCheckTheTableLikeCalls) {
    COMPILE(module, chains_wat);
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    auto r = inst->get_func(store, "bad")->call(store, {});
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::table_out_of_bounds);
}

TEST_F(TailCall, ACallerFrameReplacedByATailCallLeavesTheBacktrace) {
    COMPILE(module, R"((module
      (func $outer (export "outer") (result i32) (i32.add (call $middle) (i32.const 1)))
      (func $middle (result i32) (return_call $inner (i32.const 0)))
      (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
    ))");
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    auto r = inst->get_func(store, "outer")->call(store, {});
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().trap);
    const auto& frames = r.error().trap->frames;
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].func_name, "inner");
    EXPECT_EQ(frames[1].func_name, "outer");
}

TEST_F(TailCall, AFrameThatGrowsPastTheStackTraps) {
    // $small's frame fits a 2000-slot stack; $big's 3000 locals, which take it over, do not.
    std::string locals = "(local";
    for (int i = 0; i < 3000; ++i)
        locals += " i64";
    locals += ")";
    COMPILE(module, R"((module
      (func $big (param i32) (result i32) )" +
                        locals + R"( (local.get 0))
      (func $fits (param i32) (result i32) (local i64 i64) (local.get 0))
      (func $small (param i32) (result i32) (return_call $big (local.get 0)))
      (func $small_ok (param i32) (result i32) (return_call $fits (local.get 0)))
      (func (export "grow") (result i32) (call $small (i32.const 7)))
      (func (export "fit") (result i32) (call $small_ok (i32.const 7)))
    ))");
    kiln::Store store(m_engine);
    store.set_stack_limits(64, 2000);
    store.set_reuse_after_trap(true);
    auto inst = m_linker.instantiate(store, module);
    auto r = inst->get_func(store, "grow")->call(store, {});
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::stack_exhausted);
    EXPECT_EQ(r.error().trap->frames.at(0).func_name, "small");
    auto fit = inst->get_func(store, "fit")->call(store, {});
    ASSERT_TRUE(fit) << fit.error().message;
    EXPECT_EQ((*fit)[0].as_i32(), 7);

    kiln::Store roomy(m_engine);
    auto inst2 = m_linker.instantiate(roomy, module);
    auto ok = inst2->get_func(roomy, "grow")->call(roomy, {});
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ((*ok)[0].as_i32(), 7);
}

TEST_F(TailCall, TailCallsCrossInstancesAndReachTheCalleesMemory) {
    COMPILE(lib, R"((module
      (memory (export "mem") 1)
      (data (i32.const 0) "\2a")
      (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
    ))");
    COMPILE(app, R"((module
      (import "lib" "peek" (func $peek (param i32) (result i32)))
      (memory 1)
      (data (i32.const 0) "\07")
      (func $loop (param i32 i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (return_call $peek (local.get 1)))
          (else (return_call $loop (i32.sub (local.get 0) (i32.const 1)) (local.get 1)))))
      (func (export "run") (param i32) (result i32)
        (i32.add (i32.load8_u (i32.const 0)) (call $loop (local.get 0) (i32.const 0))))
    ))");
    kiln::Store store(m_engine);
    make_small(store);
    auto l = m_linker.instantiate(store, lib);
    ASSERT_TRUE(l) << l.error().message;
    m_linker.define_instance(store, "lib", *l);
    auto a = m_linker.instantiate(store, app);
    ASSERT_TRUE(a) << a.error().message;
    auto r = a->get_func(store, "run")->call(store, {Value::i32(100000)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), 7 + 42);
}

constexpr const char* host_tail_wat = R"((module
  (import "env" "twice" (func $twice (param i32 i64) (result i64)))
  (type $t (func (param i32 i64) (result i64)))
  (table 1 funcref)
  (elem (i32.const 0) $twice)
  (func $direct (export "direct") (param i32 i64) (result i64)
    (local funcref)
    (local.set 2 (ref.func $direct))
    (return_call $twice (i32.add (local.get 0) (i32.const 1)) (local.get 1)))
  (func (export "indirect") (param i32 i64) (result i64)
    (return_call_indirect (type $t) (local.get 0) (local.get 1) (i32.const 0)))
  (func (export "outer") (param i32 i64) (result i64)
    (i64.add (call $direct (local.get 0) (local.get 1)) (i64.const 1000)))
))";

TEST_F(TailCall, AHostFunctionTailCalledReturnsItsResultsToTheCallersCaller) {
    COMPILE(module, host_tail_wat);
    m_linker.func_wrap("env", "twice",
                       [](int32_t a, int64_t b) -> int64_t { return int64_t(a) * 2 + b; });
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst) << inst.error().message;
    auto r = inst->get_func(store, "direct")->call(store, {Value::i32(4), Value::i64(1)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i64(), 11);
    r = inst->get_func(store, "indirect")->call(store, {Value::i32(4), Value::i64(1)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i64(), 9);
    r = inst->get_func(store, "outer")->call(store, {Value::i32(4), Value::i64(1)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i64(), 1011);
}

TEST_F(TailCall, AHostFunctionTailCalledCanSuspendAndResumeAfterARestore) {
    COMPILE(module, host_tail_wat);
    int asked = -1;
    m_linker.func_wrap("env", "twice",
                       [&](kiln::Caller& c, int32_t a, int64_t) -> kiln::Result<int64_t> {
                           asked = a;
                           KILN_CHECK(c.suspend());
                           return 0;
                       });
    for (const char* fn : {"direct", "indirect", "outer"}) {
        SCOPED_TRACE(fn);
        kiln::Store a(m_engine);
        auto ia = m_linker.instantiate(a, module);
        ASSERT_TRUE(ia) << ia.error().message;
        auto r = ia->get_func(a, fn)->call(a, {Value::i32(4), Value::i64(1)});
        ASSERT_FALSE(r);
        ASSERT_EQ(r.error().kind, kiln::ErrorKind::suspended) << r.error().message;
        EXPECT_EQ(asked, std::string_view(fn) == "indirect" ? 4 : 5);
        auto bytes = a.snapshot();
        ASSERT_TRUE(bytes) << bytes.error().message;

        kiln::Store b(m_engine);
        auto ib = m_linker.instantiate(b, module);
        auto ok = b.restore(*bytes);
        ASSERT_TRUE(ok) << ok.error().message;
        auto done = b.resume(std::vector<Value>{Value::i64(500)});
        ASSERT_TRUE(done) << done.error().message;
        EXPECT_EQ((*done)[0].as_i64(), std::string_view(fn) == "outer" ? 1500 : 500);
        // The same call resumed where it stopped, without a snapshot.
        auto again = a.resume(std::vector<Value>{Value::i64(500)});
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_EQ((*again)[0].as_i64(), (*done)[0].as_i64());
    }
}

// A chain of tail calls whose functions have different frames and a reference local, inside a
// normal call and a loop, so suspension finds every kind of site in it.
constexpr const char* fuel_wat = R"((module
  (table 2 funcref)
  (elem (i32.const 0) $step_a $step_c)
  (type $s (func (param i64 i64) (result i64)))
  (func $step_c (param i64 i64) (result i64) (local f64)
    (return_call $step_a (local.get 0) (i64.xor (local.get 1) (i64.const 0x55))))
  (func $step_a (param i64 i64) (result i64) (local funcref i64)
    (local.set 2 (ref.func $step_a))
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call $step_b (i64.sub (local.get 0) (i64.const 1))
                                 (i64.add (local.get 1) (i64.const 3))))))
  (func $step_b (param i64 i64) (result i64) (local i32 i32 i32)
    (local.set 2 (i32.const 3))
    (loop
      (local.set 2 (i32.sub (local.get 2) (i32.const 1)))
      (br_if 0 (local.get 2)))
    (return_call_indirect (type $s) (local.get 0) (i64.mul (local.get 1) (i64.const 5))
                                    (i32.wrap_i64 (i64.and (local.get 0) (i64.const 1)))))
  (func (export "run") (param i64) (result i64)
    (i64.add (call $step_a (local.get 0) (i64.const 1)) (i64.const 7)))
))";

TEST_F(TailCall, FuelSuspensionAnywhereInAChainResumesInAnotherStore) {
    COMPILE(module, fuel_wat);
    constexpr uint64_t budget = 100'000'000;
    kiln::Store plain(m_engine);
    plain.set_fuel(budget);
    auto ip = m_linker.instantiate(plain, module);
    auto want = ip->get_func(plain, "run")->call(plain, {Value::i64(2000)});
    ASSERT_TRUE(want) << want.error().message;
    const uint64_t used = budget - *plain.fuel();

    std::mt19937_64 rng(7);
    for (int round = 0; round < 40; ++round) {
        const uint64_t at = 1 + rng() % (used - 1);
        kiln::Store a(m_engine);
        a.set_fuel(at);
        a.set_suspend_on_fuel(true);
        auto ia = m_linker.instantiate(a, module);
        auto r = ia->get_func(a, "run")->call(a, {Value::i64(2000)});
        ASSERT_FALSE(r);
        ASSERT_EQ(r.error().kind, kiln::ErrorKind::suspended) << r.error().message;
        auto bytes = a.snapshot();
        ASSERT_TRUE(bytes) << bytes.error().message;

        kiln::Store b(m_engine);
        auto ib = m_linker.instantiate(b, module);
        auto ok = b.restore(*bytes);
        ASSERT_TRUE(ok) << "at " << at << ": " << ok.error().message;
        b.add_fuel(budget - at);
        auto done = b.resume();
        ASSERT_TRUE(done) << "at " << at << ": " << done.error().message;
        EXPECT_EQ((*done)[0].as_i64(), (*want)[0].as_i64()) << "at " << at;
        EXPECT_EQ(*b.fuel(), *plain.fuel()) << "at " << at;
    }
}

TEST_F(TailCall, AnEngineWithoutTailCallsRefusesThemByName) {
    kiln::EngineConfig config;
    config.features.tail_call = false;
    kiln::Engine plain(config);
    const char* uses[] = {
        R"((module (func $f (return_call $f))))",
        R"((module (type $t (func)) (table 1 funcref)
             (func (return_call_indirect (type $t) (i32.const 0)))))",
    };
    for (const char* wat : uses) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) GTEST_SKIP() << "wat2wasm is not installed";
        auto m = kiln::Module::compile(plain, *bytes);
        ASSERT_FALSE(m) << wat;
        EXPECT_EQ(m.error().kind, kiln::ErrorKind::invalid) << m.error().message;
        EXPECT_NE(m.error().message.find("tail-call feature"), std::string::npos)
            << m.error().message;
        EXPECT_TRUE(kiln::Module::compile(m_engine, *bytes)) << "accepted by default: " << wat;
    }
}

TEST_F(TailCall, TheCalleeMustReturnWhatTheCallerReturns) {
    const char* bad[] = {
        R"((module (func $f (result i64) (i64.const 1)) (func (result i32) (return_call $f))))",
        R"((module (func $f (result i32) (i32.const 1)) (func (return_call $f))))",
        R"((module (type $t (func (result i32 i32))) (table 1 funcref)
             (func (result i32) (return_call_indirect (type $t) (i32.const 0)))))",
    };
    for (const char* wat : bad) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) GTEST_SKIP() << "wat2wasm is not installed";
        auto m = kiln::Module::compile(m_engine, *bytes);
        ASSERT_FALSE(m) << wat;
        EXPECT_EQ(m.error().kind, kiln::ErrorKind::invalid);
        EXPECT_NE(m.error().message.find("type mismatch in return_call"), std::string::npos)
            << m.error().message;
    }
}

// ---- extended constant expressions

TEST_F(TailCall, ExtendedConstantsComputeGlobalsAndSegmentOffsets) {
    COMPILE(module, R"((module
      (import "env" "base" (global $base i32))
      (import "env" "big" (global $big i64))
      (memory 1)
      (table 10 funcref)
      (global (export "a") i32 (i32.add (global.get $base) (i32.mul (i32.const 3) (i32.const 4))))
      (global (export "wrap") i32 (i32.sub (i32.const 0) (i32.const 1)))
      (global (export "mul") i32 (i32.mul (i32.const 0x10000) (i32.const 0x10001)))
      (global (export "b") i64
        (i64.sub (i64.mul (global.get $big) (i64.const 3)) (i64.const 5)))
      (data (i32.add (global.get $base) (i32.const 8)) "\01\02")
      (elem (i32.sub (i32.const 9) (global.get $base)) func $f)
      (func $f (result i32) (i32.const 77))
      (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
      (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
    ))");
    kiln::Store store(m_engine);
    auto base = kiln::Global::create(store, {kiln::ValType::i32, false}, Value::i32(2));
    auto big =
        kiln::Global::create(store, {kiln::ValType::i64, false}, Value::i64(int64_t(1) << 62));
    ASSERT_TRUE(base && big);
    m_linker.define("env", "base", *base);
    m_linker.define("env", "big", *big);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst) << inst.error().message;
    auto global = [&](const char* name) { return *inst->get_global(store, name)->get(store); };
    EXPECT_EQ(global("a").as_i32(), 14);
    EXPECT_EQ(global("wrap").as_i32(), -1);
    EXPECT_EQ(global("wrap").bits, 0xffffffffu) << "an i32 keeps its upper half zero";
    EXPECT_EQ(global("mul").as_i32(), 0x10000);
    EXPECT_EQ(global("b").as_i64(), int64_t((uint64_t(1) << 62) * 3 - 5));
    auto peek = inst->get_func(store, "peek");
    EXPECT_EQ((*peek->call(store, {Value::i32(10)}))[0].as_i32(), 1);
    EXPECT_EQ((*peek->call(store, {Value::i32(11)}))[0].as_i32(), 2);
    auto called = inst->get_func(store, "call")->call(store, {Value::i32(7)});
    ASSERT_TRUE(called) << called.error().message;
    EXPECT_EQ((*called)[0].as_i32(), 77);
}

TEST_F(TailCall, ExtendedConstantsAreTypedAndCanBeTurnedOff) {
    const char* bad[] = {
        R"((module (global i32 (i32.add (i32.const 1) (i64.const 2)))))",
        R"((module (global i32 (i32.add (i32.const 1)))))",
        R"((module (global i64 (i32.mul (i32.const 1) (i32.const 2)))))",
    };
    for (const char* wat : bad) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) GTEST_SKIP() << "wat2wasm is not installed";
        auto m = kiln::Module::compile(m_engine, *bytes);
        ASSERT_FALSE(m) << wat;
        EXPECT_EQ(m.error().kind, kiln::ErrorKind::invalid) << m.error().message;
        EXPECT_NE(m.error().message.find("type mismatch"), std::string::npos) << m.error().message;
    }
    // Other numeric instructions stay outside constant expressions.
    auto other =
        kiln::test::wat_to_wasm(R"((module (global i32 (i32.div_u (i32.const 1) (i32.const 1)))))");
    auto m = kiln::Module::compile(m_engine, *other);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find("constant expression required"), std::string::npos)
        << m.error().message;

    kiln::EngineConfig config;
    config.features.extended_const = false;
    kiln::Engine plain(config);
    auto uses = kiln::test::wat_to_wasm(
        R"((module (memory 1) (data (i32.add (i32.const 1) (i32.const 2)) "x")))");
    auto refused = kiln::Module::compile(plain, *uses);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, kiln::ErrorKind::invalid);
    EXPECT_NE(refused.error().message.find("extended-const feature"), std::string::npos)
        << refused.error().message;
    EXPECT_TRUE(kiln::Module::compile(m_engine, *uses));
}

TEST_F(TailCall, FeatureNamesListWhatAnEngineAccepts) {
    EXPECT_EQ(kiln::feature_names({}), "simd tail-call extended-const");
    kiln::Features some;
    some.simd = false;
    some.extended_const = false;
    EXPECT_EQ(kiln::feature_names(some), "tail-call");
}

} // namespace
