// v128 across the engine: values through the public API (Value, typed calls, host functions,
// globals), wide slots through the lowering's blocks, branches, calls and retargeted results,
// snapshots of v128 globals and suspended frames, and the simd feature flag.
#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <random>
#include <tuple>

namespace {

using kiln::V128;
using kiln::Value;

V128 i32x4(int32_t a, int32_t b, int32_t c, int32_t d) {
    return V128::from_lanes<int32_t, 4>({a, b, c, d});
}

class Simd : public ::testing::Test {
protected:
    /// The results of `name(args)` in a fresh instance of `module`.
    std::vector<Value> run(const kiln::Module& module, const char* name, std::vector<Value> args) {
        auto inst = m_linker.instantiate(m_store, module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return {};
        auto r = inst->get_func(m_store, name)->call(m_store, args);
        EXPECT_TRUE(r) << name << ": " << r.error().message;
        return r ? *r : std::vector<Value>{};
    }

    kiln::Engine m_engine;
    kiln::Store m_store{m_engine};
    kiln::Linker m_linker;
};

#define COMPILE(mod, wat) KILN_COMPILE_OR_SKIP(mod, m_engine, wat)

TEST_F(Simd, V128LaneHelpersFollowWasmLaneOrder) {
    V128 v = i32x4(1, 2, 3, 4);
    EXPECT_EQ(v.lo, 0x0000000200000001u);
    EXPECT_EQ(v.hi, 0x0000000400000003u);
    EXPECT_EQ(v.lane<int32_t>(2), 3);
    EXPECT_EQ(v.lane<uint8_t>(4), 2);
    EXPECT_EQ(kiln::value_string(Value::v128(v)), "v128:0x00000004000000030000000200000001");
    uint64_t slots[2];
    Value::v128(v).to_slots(slots);
    EXPECT_EQ(Value::from_slots(kiln::ValType::v128, slots).as_v128(), v);
}

// Parameters and results mix one- and two-slot values, so every one after a v128 sits at a
// shifted slot: through Func::call, a typed call and the results of a call inside wasm.
constexpr const char* mixed_wat = R"((module
  (func $f (export "f") (param v128 i32 v128) (result v128 i32 v128)
    (i32x4.add (local.get 0) (local.get 2))
    (i32.mul (local.get 1) (i32.const 3))
    (local.get 0))
  (func (export "via_call") (param v128 i32 v128) (result i32)
    (local v128 i32 v128)
    (call $f (local.get 0) (local.get 1) (local.get 2))
    (local.set 5) (local.set 4) (local.set 3)
    (i32.add (i32.add (i32x4.extract_lane 3 (local.get 3)) (local.get 4))
             (i32x4.extract_lane 0 (local.get 5)))))
)";

TEST_F(Simd, MixedParametersAndResultsKeepTheirSlots) {
    COMPILE(module, mixed_wat);
    auto r =
        run(module, "f",
            {Value::v128(i32x4(1, 2, 3, 4)), Value::i32(7), Value::v128(i32x4(10, 20, 30, 40))});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].as_v128(), i32x4(11, 22, 33, 44));
    EXPECT_EQ(r[1].as_i32(), 21);
    EXPECT_EQ(r[2].as_v128(), i32x4(1, 2, 3, 4));

    auto inst = m_linker.instantiate(m_store, module);
    auto typed = inst->get_func(m_store, "f")
                     ->typed<std::tuple<V128, int32_t, V128>(V128, int32_t, V128)>(m_store);
    ASSERT_TRUE(typed) << typed.error().message;
    auto t = typed->call(m_store, i32x4(5, 6, 7, 8), -2, i32x4(1, 1, 1, 1));
    ASSERT_TRUE(t);
    EXPECT_EQ(std::get<0>(*t), i32x4(6, 7, 8, 9));
    EXPECT_EQ(std::get<1>(*t), -6);
    EXPECT_EQ(std::get<2>(*t), i32x4(5, 6, 7, 8));
    // A typed call with the wrong signature is refused.
    EXPECT_FALSE(inst->get_func(m_store, "f")->typed<V128(V128, int32_t, V128)>(m_store));

    auto via =
        run(module, "via_call",
            {Value::v128(i32x4(1, 2, 3, 4)), Value::i32(7), Value::v128(i32x4(10, 20, 30, 40))});
    ASSERT_EQ(via.size(), 1u);
    EXPECT_EQ(via[0].as_i32(), 44 + 21 + 1);
}

TEST_F(Simd, HostFunctionsTakeAndReturnV128) {
    COMPILE(module, R"((module
      (import "env" "mix" (func $mix (param i32 v128 i64) (result v128 i32)))
      (import "env" "raw" (func $raw (param v128) (result v128)))
      (func (export "run") (result i32)
        (local v128)
        (call $mix (i32.const 5) (v128.const i32x4 1 2 3 4) (i64.const 9))
        drop
        (local.set 0 (call $raw))
        (i32x4.extract_lane 1 (local.get 0))))
    )");
    m_linker.func_wrap("env", "mix", [](int32_t a, V128 v, int64_t b) {
        return std::tuple<V128, int32_t>{
            i32x4(v.lane<int32_t>(0) + a, v.lane<int32_t>(1) + a, int32_t(b), 0), 99};
    });
    m_linker.func_new("env", "raw", kiln::FuncType{{kiln::ValType::v128}, {kiln::ValType::v128}},
                      [](kiln::Caller&, std::span<const Value> args, std::span<Value> results) {
                          V128 v = args[0].as_v128();
                          results[0] = Value::v128(i32x4(v.lane<int32_t>(2), v.lane<int32_t>(1) * 2,
                                                         v.lane<int32_t>(0), -1));
                      });
    auto r = run(module, "run", {});
    ASSERT_EQ(r.size(), 1u);
    // mix gives (6, 7, 9, 0); raw doubles lane 1.
    EXPECT_EQ(r[0].as_i32(), 14);
}

// Values of one and two slots pass through block results, branches out of nested blocks (with
// values left below them), loops with v128 parameters, br_table, if/else, select and a return
// from deep inside.
constexpr const char* control_wat = R"((module
  (func (export "blocks") (param i32) (result i32 v128 i32)
    (local $v v128) (local $i i32)
    (local.set $v (v128.const i32x4 1 1 1 1))
    (block (result i32 v128 i32)
      (i32.const 100)                      ;; left below the branch
      (v128.const i64x2 7 7)
      (block (result i32 v128 i32)
        (i32.const 1)
        (i32x4.mul (local.get $v) (v128.const i32x4 2 3 4 5))
        (i32.const 2)
        (br_if 1 (local.get 0)))
      (drop) (drop) (drop) (drop) (drop)
      (i32.const 3) (local.get $v) (i32.const 4)))
  (func (export "loop") (param i32) (result v128)
    (v128.const i32x4 0 0 0 0)
    (loop (param v128) (result v128)
      (i32x4.add (v128.const i32x4 1 2 3 4))
      (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if 0)))
  (func (export "table") (param i32) (result v128)
    (block (result v128)
      (block (result v128)
        (block (result v128)
          (v128.const i32x4 9 9 9 9)
          (br_table 0 1 2 (local.get 0)))
        (i32x4.add (v128.const i32x4 1 0 0 0)))
      (i32x4.add (v128.const i32x4 0 1 0 0))))
  (func (export "choose") (param i32 v128 v128) (result v128 v128)
    (if (result v128) (local.get 0)
      (then (local.get 1))
      (else (local.get 2)))
    (select (local.get 1) (local.get 2) (local.get 0)))
  (func (export "deep") (param i32) (result i32 v128)
    (i32.const 1) (i32.const 2)
    (block
      (if (local.get 0)
        (then (return (i32.const 5) (v128.const i32x4 5 6 7 8)))))
    (drop) (drop)
    (i32.const 6) (v128.const i32x4 0 0 0 0)))
)";

TEST_F(Simd, WideValuesThroughControlFlow) {
    COMPILE(module, control_wat);
    auto taken = run(module, "blocks", {Value::i32(1)});
    ASSERT_EQ(taken.size(), 3u);
    EXPECT_EQ(taken[0].as_i32(), 1);
    EXPECT_EQ(taken[1].as_v128(), i32x4(2, 3, 4, 5));
    EXPECT_EQ(taken[2].as_i32(), 2);
    auto fell = run(module, "blocks", {Value::i32(0)});
    ASSERT_EQ(fell.size(), 3u);
    EXPECT_EQ(fell[0].as_i32(), 3);
    EXPECT_EQ(fell[1].as_v128(), i32x4(1, 1, 1, 1));
    EXPECT_EQ(fell[2].as_i32(), 4);

    EXPECT_EQ(run(module, "loop", {Value::i32(5)})[0].as_v128(), i32x4(5, 10, 15, 20));
    EXPECT_EQ(run(module, "table", {Value::i32(0)})[0].as_v128(), i32x4(10, 10, 9, 9));
    EXPECT_EQ(run(module, "table", {Value::i32(1)})[0].as_v128(), i32x4(9, 10, 9, 9));
    EXPECT_EQ(run(module, "table", {Value::i32(7)})[0].as_v128(), i32x4(9, 9, 9, 9));

    const V128 a = i32x4(1, 2, 3, 4), b = i32x4(5, 6, 7, 8);
    auto yes = run(module, "choose", {Value::i32(1), Value::v128(a), Value::v128(b)});
    ASSERT_EQ(yes.size(), 2u);
    EXPECT_EQ(yes[0].as_v128(), a);
    EXPECT_EQ(yes[1].as_v128(), a);
    auto no = run(module, "choose", {Value::i32(0), Value::v128(a), Value::v128(b)});
    EXPECT_EQ(no[0].as_v128(), b);
    EXPECT_EQ(no[1].as_v128(), b);

    auto early = run(module, "deep", {Value::i32(1)});
    ASSERT_EQ(early.size(), 2u);
    EXPECT_EQ(early[0].as_i32(), 5);
    EXPECT_EQ(early[1].as_v128(), i32x4(5, 6, 7, 8));
    EXPECT_EQ(run(module, "deep", {Value::i32(0)})[0].as_i32(), 6);
}

TEST_F(Simd, ResultsWrittenIntoTheirOwnOperandLocal) {
    // The lowering writes each result straight into the local that local.set names, which here
    // is also an operand: every v128 operand must be read before the result is written.
    COMPILE(module, R"((module
      (func (export "f") (result v128) (local v128 v128)
        (local.set 0 (v128.const i32x4 1 2 3 4))
        (local.set 1 (v128.const i32x4 10 20 30 40))
        (local.set 0 (i32x4.replace_lane 1 (local.get 0) (i32.const 9)))
        (local.set 1 (i8x16.shuffle 16 17 18 19 0 1 2 3 20 21 22 23 4 5 6 7
                       (local.get 0) (local.get 1)))
        (local.set 0 (v128.bitselect (local.get 1) (local.get 0) (local.get 0)))
        (local.set 1 (i32x4.add (local.get 1) (local.get 1)))
        (i32x4.add (local.get 0) (local.get 1))))
    )");
    // Local 0 becomes (1 9 3 4), local 1 (10 1 20 9); bitselect with local 0 as both the
    // second operand and the mask is local 1 & local 0.
    V128 l0 = i32x4(1, 9, 3, 4), l1 = i32x4(10, 1, 20, 9);
    V128 sel{l1.lo & l0.lo, l1.hi & l0.hi};
    V128 sum = i32x4(sel.lane<int32_t>(0) + 20, sel.lane<int32_t>(1) + 2, sel.lane<int32_t>(2) + 40,
                     sel.lane<int32_t>(3) + 18);
    EXPECT_EQ(run(module, "f", {})[0].as_v128(), sum);
}

TEST_F(Simd, GlobalsHoldV128) {
    COMPILE(module, R"((module
      (import "env" "base" (global $base v128))
      (global $copy v128 (global.get $base))
      (global $g (export "g") (mut v128) (v128.const i16x8 1 2 3 4 5 6 7 8))
      (func (export "bump")
        (global.set $g (i32x4.add (global.get $g) (global.get $copy)))))
    )");
    auto base = kiln::Global::create(m_store, kiln::GlobalType{kiln::ValType::v128, false},
                                     Value::v128(i32x4(1, 1, 1, 1)));
    ASSERT_TRUE(base);
    m_linker.define("env", "base", *base);
    auto inst = m_linker.instantiate(m_store, module);
    ASSERT_TRUE(inst) << inst.error().message;
    auto g = inst->get_global(m_store, "g");
    ASSERT_TRUE(g);
    const V128 start = V128::from_lanes<int16_t, 8>({1, 2, 3, 4, 5, 6, 7, 8});
    EXPECT_EQ(g->get(m_store)->as_v128(), start);
    ASSERT_TRUE(inst->get_func(m_store, "bump")->call(m_store, {}));
    V128 bumped = i32x4(start.lane<int32_t>(0) + 1, start.lane<int32_t>(1) + 1,
                        start.lane<int32_t>(2) + 1, start.lane<int32_t>(3) + 1);
    EXPECT_EQ(g->get(m_store)->as_v128(), bumped);
    ASSERT_TRUE(g->set(m_store, Value::v128(i32x4(-1, -2, -3, -4))));
    ASSERT_TRUE(inst->get_func(m_store, "bump")->call(m_store, {}));
    EXPECT_EQ(g->get(m_store)->as_v128(), i32x4(0, -1, -2, -3));
    EXPECT_FALSE(g->set(m_store, Value::i64(1))) << "a v128 global takes only v128 values";
}

// A loop carrying v128 values in locals and on the operand stack, and a v128 global.
constexpr const char* snapshot_wat = R"((module
  (global $g (mut v128) (v128.const i32x4 0 0 0 0))
  (func $step (param v128 i32) (result v128)
    (i32x4.add (i32x4.mul (local.get 0) (v128.const i32x4 3 5 7 11))
               (i32x4.splat (local.get 1))))
  (func (export "run") (param i32) (result v128)
    (local $acc v128) (local $i i32)
    (local.set $acc (v128.const i32x4 1 2 3 4))
    (v128.const i64x2 -1 -1)   ;; a v128 on the operand stack across every suspension
    (loop $l
      (local.set $acc (call $step (local.get $acc) (local.get $i)))
      (global.set $g (v128.xor (global.get $g) (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get 0))))
    (v128.and (v128.xor (local.get $acc) (global.get $g)))))
)";

TEST_F(Simd, SuspendedFramesAndGlobalsWithV128SurviveSnapshots) {
    COMPILE(module, snapshot_wat);
    constexpr uint64_t budget = 10'000'000;
    kiln::Store plain(m_engine);
    plain.set_fuel(budget);
    auto ip = m_linker.instantiate(plain, module);
    auto want = ip->get_func(plain, "run")->call(plain, {Value::i32(2000)});
    ASSERT_TRUE(want) << want.error().message;
    const uint64_t used = budget - *plain.fuel();

    std::mt19937_64 rng(7);
    for (int round = 0; round < 20; ++round) {
        const uint64_t at = 1 + rng() % (used - 1);
        kiln::Store a(m_engine);
        a.set_fuel(at);
        a.set_suspend_on_fuel(true);
        auto ia = m_linker.instantiate(a, module);
        auto r = ia->get_func(a, "run")->call(a, {Value::i32(2000)});
        ASSERT_FALSE(r);
        ASSERT_EQ(r.error().kind, kiln::ErrorKind::suspended) << r.error().message;
        auto bytes = a.snapshot();
        ASSERT_TRUE(bytes) << bytes.error().message;

        kiln::Store b(m_engine);
        auto ib = m_linker.instantiate(b, module);
        auto ok = b.restore(*bytes);
        ASSERT_TRUE(ok) << ok.error().message;
        b.add_fuel(budget - at);
        auto done = b.resume();
        ASSERT_TRUE(done) << "at " << at << ": " << done.error().message;
        EXPECT_EQ((*done)[0].as_v128(), (*want)[0].as_v128()) << "at " << at;
    }
}

TEST_F(Simd, AnEngineWithoutSimdRefusesItByName) {
    kiln::EngineConfig config;
    config.features.simd = false;
    kiln::Engine plain(config);
    const char* uses[] = {
        R"((module (func (param v128))))",
        R"((module (func (local v128))))",
        R"((module (global v128 (v128.const i64x2 0 0))))",
        R"((module (func (result i32) (i32x4.all_true (i32x4.splat (i32.const 1))))))",
        R"((module (func (block (result v128) (unreachable)) drop)))",
    };
    for (const char* wat : uses) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) GTEST_SKIP() << "wat2wasm is not installed";
        auto m = kiln::Module::compile(plain, *bytes);
        ASSERT_FALSE(m) << wat;
        EXPECT_EQ(m.error().kind, kiln::ErrorKind::invalid) << m.error().message;
        EXPECT_NE(m.error().message.find("simd feature"), std::string::npos) << m.error().message;
        EXPECT_TRUE(kiln::Module::compile(m_engine, *bytes)) << "accepted by default: " << wat;
    }
    auto scalar = kiln::test::wat_to_wasm(R"((module (func (result i32) (i32.const 1))))");
    EXPECT_TRUE(kiln::Module::compile(plain, *scalar));
}

} // namespace
