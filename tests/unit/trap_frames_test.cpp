// Trap frames: function indices, names from the name section, and code offsets that point at the
// trapping instruction (innermost frame) or at the calls (outer frames), checked against the
// offsets the decoder reads back from the binary. Host functions show as host frames, and a
// nested call's trap passed on by a host function keeps its frames and kind.
#include "engine/binary/decoder.hpp"
#include "engine/binary/instr.hpp"
#include "test_util.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace kiln;
using engine::Opcode;

/// Byte offsets of the instructions `op` in the body of function `func_index` of `wasm`.
std::vector<uint32_t> offsets_of(const std::vector<uint8_t>& wasm, uint32_t func_index, Opcode op) {
    std::vector<uint32_t> out;
    auto module = engine::decode(wasm);
    EXPECT_TRUE(module);
    if (!module) return out;
    const engine::Module& m = **module;
    const engine::Function& f = m.functions.at(func_index - m.num_imported_funcs);
    engine::InstrReader reader(Reader(m.code(f), f.code_offset));
    while (!reader.at_end()) {
        auto in = reader.next();
        EXPECT_TRUE(in);
        if (!in) break;
        if (in->op == op) out.push_back(in->offset);
    }
    return out;
}

class TrapFrames : public ::testing::Test {
protected:
    /// Compiles `wat` (keeping its binary in m_wasm) and instantiates it with m_linker.
    std::optional<Instance> load(std::string_view wat) {
        auto bytes = test::wat_to_wasm(wat);
        if (!bytes) return std::nullopt;
        m_wasm = *bytes;
        auto module = Module::compile(m_engine, m_wasm);
        EXPECT_TRUE(module) << module.error().message;
        if (!module) return std::nullopt;
        auto inst = m_linker.instantiate(m_store, *module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return std::nullopt;
        return *inst;
    }
    /// The error of calling export `name` of `inst`, which must fail.
    Error failure(const Instance& inst, const std::string& name, std::vector<Value> args = {}) {
        auto r = inst.get_func(m_store, name)->call(m_store, args);
        EXPECT_FALSE(r);
        if (r) return Error{ErrorKind::usage, "the call succeeded", nullptr};
        return r.error();
    }

    Engine m_engine;
    Store m_store{m_engine};
    Linker m_linker;
    std::vector<uint8_t> m_wasm;
};

#define LOAD(inst, wat)                                                                            \
    auto inst##_opt = load(wat);                                                                   \
    if (!inst##_opt && !::testing::Test::HasFailure())                                             \
        GTEST_SKIP() << "wat2wasm is not installed";                                               \
    ASSERT_TRUE(inst##_opt);                                                                       \
    Instance inst = *inst##_opt

TEST_F(TrapFrames, FramesNameFunctionsAndPointAtTheTrapAndTheCalls) {
    m_linker.func_wrap("env", "nop", [] {});
    // Function 2 has no name and no export; run's name-section name wins over its export name.
    // Before its call, run has a compare fused with a branch (lowered code cut back and redone).
    LOAD(inst, R"((module $frames
      (import "env" "nop" (func $nop))
      (func $divide (param i32) (result i32)
        (call $nop)
        (i32.div_u (i32.const 100) (local.get 0)))
      (func (param i32) (result i32)
        (nop)
        (call $divide (local.get 0)))
      (func $outer (export "run") (param i32) (result i32)
        (block (br_if 0 (i32.eq (local.get 0) (i32.const 5))))
        (call 2 (local.get 0)))))");
    Error e = failure(inst, "run", {Value::i32(0)});
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.trap->kind, TrapKind::integer_divide_by_zero);
    EXPECT_EQ(e.message, "trap: integer divide by zero (in divide)");
    const std::vector<TrapFrame>& frames = e.trap->frames;
    ASSERT_EQ(frames.size(), 3u);

    EXPECT_EQ(frames[0].func_index, 1u);
    EXPECT_EQ(frames[0].func_name, "divide");
    EXPECT_EQ(frames[0].module_name, "frames");
    EXPECT_EQ(frames[0].code_offset, offsets_of(m_wasm, 1, Opcode::I32DivU).at(0));

    EXPECT_EQ(frames[1].func_index, 2u);
    EXPECT_EQ(frames[1].func_name, "");
    EXPECT_EQ(format_frame(frames[1]), "func[2]");
    EXPECT_EQ(frames[1].code_offset, offsets_of(m_wasm, 2, Opcode::Call).at(0));

    EXPECT_EQ(frames[2].func_index, 3u);
    EXPECT_EQ(frames[2].func_name, "outer");
    EXPECT_EQ(frames[2].module_name, "frames");
    EXPECT_EQ(frames[2].code_offset, offsets_of(m_wasm, 3, Opcode::Call).at(0));
    EXPECT_EQ(format_backtrace(frames), "  at divide\n  at func[2]\n  at outer\n");
}

TEST_F(TrapFrames, StackExhaustionPointsEveryFrameAtTheCall) {
    m_store.set_stack_limits(100, 1u << 16);
    LOAD(inst, R"((module
      (func $rec (export "rec") (param i32) (result i32)
        (i32.add (call $rec (local.get 0)) (i32.const 1)))))");
    Error e = failure(inst, "rec", {Value::i32(0)});
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.trap->kind, TrapKind::stack_exhausted);
    uint32_t call = offsets_of(m_wasm, 0, Opcode::Call).at(0);
    EXPECT_EQ(e.trap->frames.size(), 101u);
    for (const TrapFrame& f : e.trap->frames) {
        EXPECT_EQ(f.func_index, 0u);
        EXPECT_EQ(f.func_name, "rec");
        EXPECT_EQ(f.module_name, "");
        EXPECT_EQ(f.code_offset, call);
    }
    EXPECT_EQ(format_backtrace(e.trap->frames),
              "  at rec\n  at rec\n  at rec\n  ... 98 more frames of rec\n");
}

TEST_F(TrapFrames, FuelRunsOutAtTheLoopsBranch) {
    m_store.set_fuel(1000);
    LOAD(inst, R"((module (func (export "spin") (loop (br 0)))))");
    Error e = failure(inst, "spin");
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.trap->kind, TrapKind::out_of_fuel);
    ASSERT_EQ(e.trap->frames.size(), 1u);
    EXPECT_EQ(e.trap->frames[0].func_name, "spin");
    EXPECT_EQ(e.trap->frames[0].code_offset, offsets_of(m_wasm, 0, Opcode::Br).at(0));
}

TEST_F(TrapFrames, HostFunctionsShowAsHostFrames) {
    m_linker.func_wrap("env", "fail", [](Caller& caller) { caller.trap("no"); });
    LOAD(inst, R"((module
      (import "env" "fail" (func $fail))
      (func (export "host_fails") (nop) (call $fail))))");
    Error e = failure(inst, "host_fails");
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.trap->kind, TrapKind::host_error);
    EXPECT_EQ(e.message, "trap: no (in host_fails)");
    ASSERT_EQ(e.trap->frames.size(), 2u);
    EXPECT_TRUE(e.trap->frames[0].is_host());
    EXPECT_EQ(e.trap->frames[0].func_index, host_func_index);
    EXPECT_EQ(e.trap->frames[0].code_offset, 0u);
    EXPECT_EQ(e.trap->frames[1].func_name, "host_fails");
    EXPECT_EQ(e.trap->frames[1].code_offset, offsets_of(m_wasm, 1, Opcode::Call).at(0));
}

TEST_F(TrapFrames, HostFunctionPassesANestedTrapOnWithItsFrames) {
    std::optional<Func> target;
    m_linker.func_wrap("env", "reenter", [&](Caller& caller) {
        auto r = target->call(caller.store(), {});
        if (!r) caller.trap(std::move(r.error()));
    });
    m_linker.func_wrap("env", "quit", [](Caller& caller) { caller.exit(7); });
    LOAD(inst, R"((module
      (import "env" "reenter" (func $reenter))
      (import "env" "quit" (func $quit))
      (func $bad (export "bad") unreachable)
      (func $leave (export "leave") (call $quit))
      (func $via_host (export "via_host") (call $reenter))))");
    m_store.set_reuse_after_trap(true);

    target = inst.get_func(m_store, "bad");
    Error e = failure(inst, "via_host");
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.kind, ErrorKind::trap);
    EXPECT_EQ(e.trap->kind, TrapKind::unreachable);
    EXPECT_EQ(e.message, "trap: unreachable (in bad)");
    std::vector<std::string> names;
    for (const TrapFrame& f : e.trap->frames)
        names.push_back(format_frame(f));
    EXPECT_EQ(names, (std::vector<std::string>{"bad", "<host function>", "via_host"}));
    EXPECT_EQ(e.trap->frames[0].code_offset, offsets_of(m_wasm, 2, Opcode::Unreachable).at(0));
    EXPECT_EQ(e.trap->frames[2].code_offset, offsets_of(m_wasm, 4, Opcode::Call).at(0));

    // An exit passes through as an exit.
    target = inst.get_func(m_store, "leave");
    e = failure(inst, "via_host");
    EXPECT_EQ(e.kind, ErrorKind::exit);
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.trap->exit_code, 7);

    // An error that is no trap (here: a function of another store) traps with its message.
    Store other(m_engine);
    target = create_func(other, host_func([] {}));
    e = failure(inst, "via_host");
    ASSERT_TRUE(e.trap);
    EXPECT_EQ(e.trap->kind, TrapKind::host_error);
    EXPECT_NE(e.trap->message.find("another store"), std::string::npos) << e.trap->message;
    EXPECT_EQ(format_frame(e.trap->frames.at(0)), "<host function>");
}

} // namespace
