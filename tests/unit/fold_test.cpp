// The lowering's folds that save dispatches: an `i32.add` or `i32.sub` of a constant to a local
// kept as a pending sum that loads and stores take into their address (with wasm's 32-bit
// wrap-around), computed wherever else its value is needed (local.set of its own local, branches
// with values, returns, conditions, calls); and a float multiply fused with the add or subtract
// of its product, rounding twice exactly as unfused, also when a branch lands between them; and
// i8x16.shuffle lowered by the widest unit (8, 4, 2 or 1 bytes) its lanes pick.
#include "engine/interp/interpreter.hpp"
#include "engine/runtime/store.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

namespace {

using namespace kiln::engine;

class Fold : public ::testing::Test {
protected:
    Instance* load(std::string_view wat) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) return nullptr;
        auto compiled = compile(m_engine, *bytes);
        EXPECT_TRUE(compiled) << compiled.error().message;
        if (!compiled) return nullptr;
        auto inst = m_store.instantiate(*compiled, {});
        EXPECT_TRUE(inst) << inst.error().message;
        return inst ? *inst : nullptr;
    }
    CallResult call(Instance* inst, const std::string& name, std::vector<Value> args = {}) {
        FuncInst* f = inst->get_func(name);
        EXPECT_NE(f, nullptr) << name;
        return m_store.call(f, args);
    }
    std::vector<Value> ok(Instance* inst, const std::string& name, std::vector<Value> args = {}) {
        auto r = call(inst, name, std::move(args));
        EXPECT_TRUE(r) << name << ": " << (r ? "" : r.error().message);
        return r ? *r : std::vector<Value>{};
    }
    int32_t i32(Instance* inst, const std::string& name, std::vector<Value> args = {}) {
        auto r = ok(inst, name, std::move(args));
        return r.empty() ? -999999 : r[0].as_i32();
    }
    double f64(Instance* inst, const std::string& name, std::vector<Value> args = {}) {
        auto r = ok(inst, name, std::move(args));
        return r.empty() ? -999999 : r[0].as_f64();
    }

    /// True when the lowered code of export `name` has an instruction `op`.
    static bool uses(Instance* inst, const std::string& name, IOp op) {
        const FuncInst* f = inst->get_func(name);
        const void* handler = interp_handlers()[size_t(op)];
        for (const Cell& c : f->code->code)
            if (c.handler == handler) return true;
        return false;
    }

    Engine m_engine;
    Store m_store{m_engine};
};

#define LOAD(inst, wat)                                                                            \
    Instance* inst = load(wat);                                                                    \
    if (!inst && !::testing::Test::HasFailure()) GTEST_SKIP() << "wat2wasm is not installed";      \
    ASSERT_NE(inst, nullptr)

constexpr const char* address_wat = R"((module
  (memory 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (func (export "load") (param i32) (result i32)
    (i32.load8_u offset=2 (i32.add (local.get 0) (i32.const 16))))
  (func (export "load_sub") (param i32) (result i32)
    (i32.load8_u (i32.sub (i32.add (local.get 0) (i32.const 7)) (i32.const 2))))
  (func (export "store") (param i32 i32) (result i32)
    (i32.store8 offset=1 (i32.add (local.get 0) (i32.const 4)) (local.get 1))
    (i32.load (i32.const 0)))
  (func (export "v128") (param i32) (result i32)
    (v128.store offset=32 (i32.add (local.get 0) (i32.const 8))
      (v128.load (i32.add (local.get 0) (i32.const 8))))
    (i32.load8_u (i32.add (local.get 0) (i32.const 40))))
))";

TEST_F(Fold, FoldedAddressesWrapAroundLikeTheAdd) {
    LOAD(inst, address_wat);
    EXPECT_TRUE(uses(inst, "load", IOp::I32Load8U_a));
    EXPECT_FALSE(uses(inst, "load", IOp::I32Add_si));
    EXPECT_TRUE(uses(inst, "store", IOp::I32Store8_a));
    EXPECT_TRUE(uses(inst, "v128", IOp::V128Load_a));
    EXPECT_TRUE(uses(inst, "v128", IOp::V128Store_a));
    EXPECT_EQ(i32(inst, "load", {Value::i32(1)}), 0);      // byte 19
    EXPECT_EQ(i32(inst, "load", {Value::i32(-16)}), 3);    // -16 + 16 wraps to 0, then + 2
    EXPECT_EQ(i32(inst, "load", {Value::i32(-15)}), 4);    // wraps to 1, then + 2
    EXPECT_EQ(i32(inst, "load_sub", {Value::i32(-5)}), 1); // -5 + 7 - 2 = 0
    EXPECT_EQ(i32(inst, "store", {Value::i32(-3), Value::i32(0xaa)}), 0x04aa0201);
    // Without the wrap the addresses would be 2^32 + 32 and 2^32: out of bounds.
    EXPECT_EQ(i32(inst, "v128", {Value::i32(0)}), 9);
    EXPECT_EQ(i32(inst, "v128", {Value::i32(-8)}), 1);
    // The offset does not wrap: 0xfffffffe + 2 is past the memory, as is 65534 + 2.
    for (int32_t x : {-18, 65536 - 18}) {
        auto r = call(inst, "load", {Value::i32(x)});
        ASSERT_FALSE(r) << x;
        EXPECT_EQ(r.error().kind, kiln::TrapKind::memory_out_of_bounds);
    }
}

TEST_F(Fold, APendingSumIsComputedWhereverItsValueIsNeeded) {
    LOAD(inst, R"((module
      (memory 1)
      (data (i32.const 0) "\00\0a\14\1e\28\32\3c\46")
      ;; The local the sum reads is overwritten while the sum is on the stack.
      (func (export "overwritten") (param i32) (result i32)
        (i32.add (local.get 0) (i32.const 3))
        (local.set 0 (i32.const 100))
        (i32.load8_u)
        (local.get 0) (i32.add))
      ;; i++ into its own local, with a copy of the old value below it.
      (func (export "increment") (param i32) (result i32)
        (local.get 0)
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        (i32.mul (local.get 0) (i32.const 10)) (i32.add))
      (func (export "tee") (param i32) (result i32) (local i32)
        (i32.load8_u (local.tee 1 (i32.add (local.get 0) (i32.const 2))))
        (local.get 1) (i32.add))
      ;; Returned: slot 0 is both the sum's local and the first result's slot.
      (func (export "swap") (param i32 i32) (result i32 i32)
        (i32.add (local.get 1) (i32.const 1)) (i32.sub (local.get 0) (i32.const 1)))
      (func (export "swap_sum") (param i32 i32) (result i32)
        (call 3 (local.get 0) (local.get 1)) (i32.mul (i32.const 1000)) (i32.add))
      (func (export "branch") (param i32 i32) (result i32)
        (block (result i32)
          (br_if 0 (i32.add (local.get 0) (i32.const 5)) (local.get 1))
          (drop) (i32.const -1)))
      (func (export "condition") (param i32) (result i32)
        (if (result i32) (i32.add (local.get 0) (i32.const 1))
          (then (i32.const 1)) (else (i32.const 0))))
      (func $id (param i32) (result i32) (local.get 0))
      (func (export "argument") (param i32) (result i32)
        (call $id (i32.add (local.get 0) (i32.const 9))))
      (func (export "loop") (param i32) (result i32) (local i32)
        (loop $l
          (local.set 1 (i32.add (local.get 1) (i32.load8_u (local.get 0))))
          (br_if $l (i32.lt_u (local.tee 0 (i32.add (local.get 0) (i32.const 1)))
                              (i32.const 8))))
        (local.get 1))
    ))");
    EXPECT_EQ(i32(inst, "overwritten", {Value::i32(1)}), 40 + 100);
    EXPECT_EQ(i32(inst, "increment", {Value::i32(4)}), 4 + 50);
    EXPECT_EQ(i32(inst, "tee", {Value::i32(3)}), 0x32 + 5);
    auto r = ok(inst, "swap", {Value::i32(10), Value::i32(20)});
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].as_i32(), 21);
    EXPECT_EQ(r[1].as_i32(), 9);
    EXPECT_EQ(i32(inst, "swap_sum", {Value::i32(10), Value::i32(20)}), 21 + 9 * 1000);
    EXPECT_EQ(i32(inst, "branch", {Value::i32(10), Value::i32(1)}), 15);
    EXPECT_EQ(i32(inst, "branch", {Value::i32(10), Value::i32(0)}), -1);
    EXPECT_EQ(i32(inst, "condition", {Value::i32(-1)}), 0);
    EXPECT_EQ(i32(inst, "condition", {Value::i32(0)}), 1);
    EXPECT_EQ(i32(inst, "argument", {Value::i32(33)}), 42);
    EXPECT_EQ(i32(inst, "loop", {Value::i32(0)}), 0 + 10 + 20 + 30 + 40 + 50 + 60 + 70);
}

TEST_F(Fold, MultiplyAddRoundsTheProductFirst) {
    LOAD(inst, R"((module
      (func (export "add") (param f64 f64 f64) (result f64)
        (f64.add (local.get 2) (f64.mul (local.get 0) (local.get 1))))
      (func (export "add_p") (param f64 f64 f64) (result f64)
        (f64.add (f64.mul (local.get 0) (local.get 1)) (local.get 2)))
      (func (export "sub") (param f64 f64 f64) (result f64)
        (f64.sub (local.get 2) (f64.mul (local.get 0) (local.get 1))))
      (func (export "const") (param f64 f64) (result f64)
        (f64.add (f64.const 1) (f64.mul (local.get 0) (local.get 1))))
      (func (export "add32") (param f32 f32 f32) (result f32)
        (f32.add (local.get 2) (f32.mul (local.get 0) (local.get 1))))
      (func (export "sub_p") (param f64 f64 f64) (result f64)
        (f64.sub (f64.mul (local.get 0) (local.get 1)) (local.get 2)))
      (func (export "into_local") (param f64 f64 f64) (result f64)
        (local.set 2 (f64.add (local.get 2) (f64.mul (local.get 0) (local.get 2))))
        (local.get 2))
      ;; A branch lands right after the multiply: the two must not be fused.
      (func (export "joined") (param f64 f64 f64 i32) (result f64)
        (f64.add (local.get 2)
          (block (result f64)
            (br_if 0 (f64.const 7) (local.get 3))
            (drop)
            (f64.mul (local.get 0) (local.get 1)))))
    ))");
    // x * x rounds to 1 + 2^-26; a fused multiply-add would keep the 2^-54 it drops.
    const double x = 1 + std::ldexp(1.0, -27);
    const double z = -(1 + std::ldexp(1.0, -26));
    EXPECT_TRUE(uses(inst, "add", IOp::F64MulAdd));
    EXPECT_TRUE(uses(inst, "add_p", IOp::F64MulAddP));
    EXPECT_TRUE(uses(inst, "sub", IOp::F64MulSub));
    EXPECT_FALSE(uses(inst, "sub_p", IOp::F64MulSub)) << "x * y - z has no fused form";
    EXPECT_TRUE(uses(inst, "const", IOp::F64MulAdd));
    EXPECT_TRUE(uses(inst, "add32", IOp::F32MulAdd));
    EXPECT_FALSE(uses(inst, "joined", IOp::F64MulAdd));
    EXPECT_EQ(f64(inst, "add", {Value::f64(x), Value::f64(x), Value::f64(z)}), 0.0);
    EXPECT_EQ(f64(inst, "add_p", {Value::f64(x), Value::f64(x), Value::f64(z)}), 0.0);
    EXPECT_EQ(f64(inst, "sub", {Value::f64(x), Value::f64(x), Value::f64(-z)}), 0.0);
    EXPECT_EQ(f64(inst, "sub_p", {Value::f64(x), Value::f64(x), Value::f64(-z)}), 0.0);
    EXPECT_EQ(f64(inst, "const", {Value::f64(3), Value::f64(4)}), 13.0);
    auto r = ok(inst, "add32", {Value::f32(1.5f), Value::f32(2), Value::f32(0.25f)});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].as_f32(), 3.25f);
    EXPECT_EQ(f64(inst, "into_local", {Value::f64(2), Value::f64(0), Value::f64(5)}), 15.0);
    EXPECT_EQ(f64(inst, "joined", {Value::f64(3), Value::f64(4), Value::f64(1), Value::i32(1)}),
              8.0);
    EXPECT_EQ(f64(inst, "joined", {Value::f64(3), Value::f64(4), Value::f64(1), Value::i32(0)}),
              13.0);
}

TEST_F(Fold, ShufflesPickTheWidestUnitTheirLanesAllow) {
    struct Case {
        const char* lanes;
        IOp op;
    };
    const Case cases[] = {
        {"8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23", IOp::Shuffle64},
        {"28 29 30 31 0 1 2 3 12 13 14 15 20 21 22 23", IOp::Shuffle32},
        {"16 17 2 3 18 19 6 7 20 21 10 11 22 23 14 15", IOp::Shuffle16},
        {"16 1 17 3 18 5 19 7 20 9 21 11 22 13 23 15", IOp::I8x16Shuffle},
        {"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", IOp::I8x16Shuffle}, // unaligned pairs
        {"31 30 29 28 27 26 25 24 23 22 21 20 19 18 17 16", IOp::I8x16Shuffle},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.lanes);
        // a = bytes 0..15, b = bytes 100..115: each result byte shows the lane it came from.
        std::string wat = R"((module (func (export "f") (result v128)
          (i8x16.shuffle )" +
                          std::string(c.lanes) +
                          R"(
            (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
            (v128.const i8x16 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115)))))";
        Instance* inst = load(wat);
        if (!inst && !::testing::Test::HasFailure()) GTEST_SKIP() << "wat2wasm is not installed";
        ASSERT_NE(inst, nullptr);
        EXPECT_TRUE(uses(inst, "f", c.op));
        auto r = ok(inst, "f");
        ASSERT_EQ(r.size(), 1u);
        kiln::V128 v = r[0].as_v128();
        unsigned lane = 0, pos = 0;
        for (const char* p = c.lanes; *p; ++pos) {
            lane = unsigned(std::strtoul(p, const_cast<char**>(&p), 10));
            EXPECT_EQ(v.lane<uint8_t>(pos), lane < 16 ? lane : lane - 16 + 100) << "byte " << pos;
            while (*p == ' ')
                ++p;
        }
        EXPECT_EQ(pos, 16u);
    }
}

} // namespace
