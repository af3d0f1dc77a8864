// Execution tests aimed at the lowering's peepholes (lazy local.get, constant immediates,
// result retargeting, fused compare-and-branch), control flow with values, calls, traps and
// host functions.
#include "engine/runtime/store.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace kiln::engine;

class Interp : public ::testing::Test {
protected:
    /// Compiles and instantiates `wat` with m_imports in import order; fails the test on error.
    Instance* load(std::string_view wat) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) return nullptr;
        auto compiled = compile(m_engine, *bytes);
        EXPECT_TRUE(compiled) << compiled.error().message;
        if (!compiled) return nullptr;
        auto inst = m_store.instantiate(*compiled, m_imports);
        EXPECT_TRUE(inst) << inst.error().message;
        return inst ? *inst : nullptr;
    }
    CallResult call(Instance* inst, const std::string& name, std::vector<Value> args = {}) {
        FuncInst* f = inst->get_func(name);
        EXPECT_NE(f, nullptr) << name;
        return m_store.call(f, args);
    }
    int64_t call_int(Instance* inst, const std::string& name, std::vector<Value> args = {}) {
        auto r = call(inst, name, std::move(args));
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        if (!r || r->empty()) return -999999;
        return (*r)[0].type == ValType::i32 ? (*r)[0].as_i32() : (*r)[0].as_i64();
    }

    Engine m_engine{EngineConfig{1000, 1u << 16}};
    Store m_store{m_engine};
    std::vector<Extern> m_imports;
};

#define LOAD(inst, wat)                                                                            \
    Instance* inst = load(wat);                                                                    \
    if (!inst && !::testing::Test::HasFailure()) GTEST_SKIP() << "wat2wasm is not installed";      \
    ASSERT_NE(inst, nullptr)

TEST_F(Interp, LocalGetSurvivesLaterSetOfSameLocal) {
    // The pending local.get 0 must be copied out before local 0 is overwritten.
    LOAD(inst, R"((module (func (export "f") (param i32) (result i32)
        local.get 0
        i32.const 5
        local.set 0
        local.get 0
        i32.sub)))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(12)}), 7);
}

TEST_F(Interp, ResultRetargetedIntoLocalReadsOldValue) {
    LOAD(inst, R"((module (func (export "f") (param i32 i32) (result i32)
        (local.set 0 (i32.sub (local.get 1) (local.get 0)))
        (local.set 1 (i32.add (local.get 0) (i32.const 100)))
        (i32.mul (local.get 0) (local.get 1)))))");
    // a = 3 - 10 = -7; b = -7 + 100 = 93
    EXPECT_EQ(call_int(inst, "f", {Value::i32(10), Value::i32(3)}), -7 * 93);
}

TEST_F(Interp, RetargetRefusedWhenStackStillHoldsTheLocal) {
    LOAD(inst, R"((module (func (export "f") (param i32) (result i32)
        local.get 0
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        local.get 0
        i32.mul)))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(6)}), 42);
}

TEST_F(Interp, TeeKeepsValueOnStack) {
    LOAD(inst, R"((module (func (export "f") (param i32) (result i32) (local i32)
        (i32.add (local.tee 1 (i32.mul (local.get 0) (i32.const 3))) (local.get 1)))))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(5)}), 30);
}

TEST_F(Interp, ConstantOperandsOfNonCommutativeOps) {
    LOAD(inst, R"((module
      (func (export "sub") (param i32) (result i32) (i32.sub (i32.const 10) (local.get 0)))
      (func (export "shl") (param i64) (result i64) (i64.shl (i64.const 1) (local.get 0)))
      (func (export "add") (param i32) (result i32) (i32.add (i32.const 1) (local.get 0)))
      (func (export "both") (result i32) (i32.div_s (i32.const -9) (i32.const 2)))))");
    EXPECT_EQ(call_int(inst, "sub", {Value::i32(3)}), 7);
    EXPECT_EQ(call_int(inst, "shl", {Value::i64(40)}), int64_t(1) << 40);
    EXPECT_EQ(call_int(inst, "add", {Value::i32(41)}), 42);
    EXPECT_EQ(call_int(inst, "both"), -4);
}

TEST_F(Interp, FusedCompareBranchesBothWays) {
    LOAD(inst, R"((module
      (func (export "max") (param i32 i32) (result i32)
        (if (result i32) (i32.gt_s (local.get 0) (local.get 1))
          (then (local.get 0)) (else (local.get 1))))
      (func (export "count") (param i64) (result i64) (local i64)
        (block (loop
          (br_if 1 (i64.ge_u (local.get 1) (local.get 0)))
          (local.set 1 (i64.add (local.get 1) (i64.const 1)))
          (br 0)))
        (local.get 1))
      (func (export "eqz") (param i32) (result i32)
        (block (br_if 0 (i32.eqz (local.get 0))) (return (i32.const 1)))
        (i32.const 0))))");
    EXPECT_EQ(call_int(inst, "max", {Value::i32(-3), Value::i32(2)}), 2);
    EXPECT_EQ(call_int(inst, "max", {Value::i32(9), Value::i32(2)}), 9);
    EXPECT_EQ(call_int(inst, "count", {Value::i64(1000)}), 1000);
    EXPECT_EQ(call_int(inst, "eqz", {Value::i32(0)}), 0);
    EXPECT_EQ(call_int(inst, "eqz", {Value::i32(5)}), 1);
}

TEST_F(Interp, BranchesCarryValuesOutOfNestedBlocks) {
    LOAD(inst, R"((module (func (export "f") (param i32) (result i32)
        (block $out (result i32)
          (i32.add (i32.const 1000)
            (block $in (result i32)
              (drop (br_if $out (i32.const 7) (i32.eq (local.get 0) (i32.const 0))))
              (drop (br_if $in (local.get 0) (i32.eq (local.get 0) (i32.const 1))))
              (i32.const 2)))))))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(0)}), 7);
    EXPECT_EQ(call_int(inst, "f", {Value::i32(1)}), 1001);
    EXPECT_EQ(call_int(inst, "f", {Value::i32(5)}), 1002);
}

TEST_F(Interp, BrTableWithValuesAndReturn) {
    LOAD(inst, R"((module (func (export "f") (param i32) (result i32)
        (block $a (result i32)
          (block $b (result i32)
            (br_table $a $b 2 (i32.const 10) (local.get 0)))
          (i32.const 5)
          (i32.add)))))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(0)}), 10);
    EXPECT_EQ(call_int(inst, "f", {Value::i32(1)}), 15);
    EXPECT_EQ(call_int(inst, "f", {Value::i32(99)}), 10); // default: the function label
}

TEST_F(Interp, MultiValueReturnSwapsLocals) {
    LOAD(inst, R"((module
      (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
      (func (export "f") (param i32 i32) (result i32)
        (call $swap (local.get 0) (local.get 1))
        (i32.sub))))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(3), Value::i32(10)}), 7);
}

TEST_F(Interp, BlockAndLoopParameters) {
    LOAD(inst, R"((module (func (export "sum") (param i32) (result i32)
        (i32.const 0) (local.get 0)
        (loop (param i32 i32) (result i32)
          ;; acc n -> acc+n n-1, until n == 0
          (local.set 0)
          (i32.add (local.get 0))
          (if (param i32) (result i32) (i32.eqz (local.get 0))
            (then)
            (else (i32.sub (local.get 0) (i32.const 1)) (br 1)))))))");
    EXPECT_EQ(call_int(inst, "sum", {Value::i32(10)}), 55);
}

TEST_F(Interp, SelectWithConstants) {
    LOAD(inst, R"((module (func (export "f") (param i32) (result i64)
        (select (i64.const 11) (i64.const 22) (local.get 0)))))");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(1)}), 11);
    EXPECT_EQ(call_int(inst, "f", {Value::i32(0)}), 22);
}

TEST_F(Interp, DeepRecursionTrapsCleanlyAndStoreStaysUsable) {
    LOAD(inst, R"((module
      (func $r (export "r") (param i32) (result i32) (i32.add (call $r (local.get 0)) (i32.const 1)))
      (func (export "ok") (result i32) (i32.const 1))))");
    auto r = call(inst, "r", {Value::i32(0)});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TrapKind::stack_exhausted);
    EXPECT_EQ(call_int(inst, "ok"), 1);
}

TEST_F(Interp, TrapBacktraceNamesFunctions) {
    LOAD(inst, R"((module
      (func $inner (unreachable))
      (func $outer (call $inner))
      (func (export "run") (call $outer))))");
    auto r = call(inst, "run");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TrapKind::unreachable);
    ASSERT_EQ(r.error().frames.size(), 3u);
    EXPECT_EQ(r.error().frames[0].func_name, "inner");
    EXPECT_EQ(r.error().frames[1].func_name, "outer");
}

TEST_F(Interp, MemoryBoundsAndGrowth) {
    LOAD(inst, R"((module (memory 1 3)
      (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "store_last") (param i32) (i32.store8 (local.get 0) (i32.const 7)))))");
    EXPECT_EQ(call_int(inst, "load", {Value::i32(65528)}), 0);
    auto oob = call(inst, "load", {Value::i32(65529)});
    ASSERT_FALSE(oob);
    EXPECT_EQ(oob.error().kind, TrapKind::memory_out_of_bounds);
    EXPECT_FALSE(call(inst, "load", {Value::i32(-4)}));
    EXPECT_EQ(call_int(inst, "grow", {Value::i32(1)}), 1);
    EXPECT_EQ(call_int(inst, "load", {Value::i32(65529)}), 0);
    EXPECT_EQ(call_int(inst, "grow", {Value::i32(5)}), -1);
    EXPECT_TRUE(call(inst, "store_last", {Value::i32(2 * 65536 - 1)}));
    EXPECT_FALSE(call(inst, "store_last", {Value::i32(2 * 65536)}));
}

TEST_F(Interp, HostFunctionsAndReentry) {
    int calls = 0;
    FuncInst* twice = m_store.create_host_func(FuncType{{ValType::i32}, {ValType::i32}},
                                               [&](Store&, uint64_t* slots) {
                                                   ++calls;
                                                   slots[0] = uint32_t(slots[0]) * 2;
                                                   return std::optional<Trap>{};
                                               });
    m_imports.push_back(Extern{ExternKind::func, twice});
    // A host function that calls back into the instance through an exported function.
    FuncInst* inc = nullptr;
    FuncInst* reenter = m_store.create_host_func(
        FuncType{{ValType::i32}, {ValType::i32}}, [&](Store& store, uint64_t* slots) {
            auto r = store.call(inc, std::vector<Value>{Value::i32(int32_t(slots[0]))});
            if (!r) return std::optional<Trap>(r.error());
            slots[0] = (*r)[0].bits;
            return std::optional<Trap>{};
        });
    m_imports.push_back(Extern{ExternKind::func, reenter});
    FuncInst* fail = m_store.create_host_func(FuncType{}, [](Store&, uint64_t*) {
        return std::optional<Trap>(Trap{TrapKind::host_error, "host says no", {}});
    });
    m_imports.push_back(Extern{ExternKind::func, fail});
    LOAD(inst, R"((module
      (import "host" "twice" (func $twice (param i32) (result i32)))
      (import "host" "reenter" (func $reenter (param i32) (result i32)))
      (import "host" "fail" (func $fail))
      (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "f") (param i32) (result i32)
        (i32.add (call $twice (local.get 0)) (call $reenter (local.get 0))))
      (func (export "g") (call $fail))))");
    inc = inst->get_func("inc");
    EXPECT_EQ(call_int(inst, "f", {Value::i32(20)}), 40 + 21);
    EXPECT_EQ(calls, 1);
    auto r = call(inst, "g");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TrapKind::host_error);
    EXPECT_EQ(r.error().message, "host says no");
}

TEST_F(Interp, ArgumentTypesAreChecked) {
    LOAD(inst, R"((module (func (export "f") (param i64) (result i64) (local.get 0))))");
    EXPECT_FALSE(call(inst, "f", {Value::i32(1)}));
    EXPECT_FALSE(call(inst, "f", {}));
    EXPECT_EQ(call_int(inst, "f", {Value::i64(-5)}), -5);
}

} // namespace
