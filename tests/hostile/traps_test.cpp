// Every kind of trap a guest can cause comes back as an Error of kind trap with the right
// TrapKind and the trapping function first in its backtrace; the instance then refuses calls
// until allowed, and the store keeps working.
#include "hostile_util.hpp"

#include <string>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::hostile;

constexpr const char* traps_wat = R"((module
  (import "env" "fail" (func $fail))
  (type $v (func))
  (type $i (func (param i32) (result i32)))
  (memory 1)
  (table $t 4 funcref)
  (elem (i32.const 0) $nop $ident)
  (data $d "abcd")
  (func $nop)
  (func $ident (param i32) (result i32) (local.get 0))
  (func (export "unreachable") unreachable)
  (func (export "load_past_end") (drop (i32.load (i32.const 65533))))
  (func (export "load_offset_wraps") (drop (i32.load offset=0xffffffff (i32.const 1))))
  (func (export "load_negative") (drop (i64.load8_u (i32.const -1))))
  (func (export "store_past_end") (i64.store (i32.const 65529) (i64.const 1)))
  (func (export "fill_past_end") (memory.fill (i32.const 65000) (i32.const 0) (i32.const 537)))
  (func (export "copy_past_end") (memory.copy (i32.const 0) (i32.const 65535) (i32.const 2)))
  (func (export "init_past_segment") (memory.init $d (i32.const 0) (i32.const 2) (i32.const 3)))
  (func (export "table_get_past_end") (drop (table.get $t (i32.const 4))))
  (func (export "table_set_past_end") (table.set $t (i32.const -1) (ref.null func)))
  (func (export "table_fill_past_end") (table.fill $t (i32.const 2) (ref.null func) (i32.const 3)))
  (func (export "call_indirect_past_end") (call_indirect (type $v) (i32.const 4)))
  (func (export "i32_div_s_zero") (drop (i32.div_s (i32.const 1) (i32.const 0))))
  (func (export "i32_div_u_zero") (drop (i32.div_u (i32.const 1) (i32.const 0))))
  (func (export "i32_rem_s_zero") (drop (i32.rem_s (i32.const 1) (i32.const 0))))
  (func (export "i64_rem_u_zero") (drop (i64.rem_u (i64.const 1) (i64.const 0))))
  (func (export "i32_div_s_overflow")
    (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))
  (func (export "i64_div_s_overflow")
    (drop (i64.div_s (i64.const 0x8000000000000000) (i64.const -1))))
  (func (export "i32_trunc_too_big") (drop (i32.trunc_f64_s (f64.const 2147483648))))
  (func (export "i64_trunc_u_negative") (drop (i64.trunc_f32_u (f32.const -1))))
  (func (export "i32_trunc_nan") (drop (i32.trunc_f32_s (f32.const nan))))
  (func (export "i64_trunc_u_nan") (drop (i64.trunc_f64_u (f64.const -nan))))
  (func (export "indirect_type_mismatch") (call_indirect (type $v) (i32.const 1)))
  (func (export "indirect_null_element") (call_indirect (type $v) (i32.const 2)))
  (func $stack_exhausted (export "stack_exhausted") (call $stack_exhausted))
  (func (export "host_trap") (call $fail))
  ;; The trap is two frames down.
  (func $inner (drop (i32.div_u (i32.const 1) (i32.const 0))))
  (func (export "nested") (call $inner))
  (func (export "ok") (result i32) (i32.const 42))
))";

struct Expect {
    const char* name;
    TrapKind kind;
};

const std::vector<Expect> expected_traps = {
    {"unreachable", TrapKind::unreachable},
    {"load_past_end", TrapKind::memory_out_of_bounds},
    {"load_offset_wraps", TrapKind::memory_out_of_bounds},
    {"load_negative", TrapKind::memory_out_of_bounds},
    {"store_past_end", TrapKind::memory_out_of_bounds},
    {"fill_past_end", TrapKind::memory_out_of_bounds},
    {"copy_past_end", TrapKind::memory_out_of_bounds},
    {"init_past_segment", TrapKind::memory_out_of_bounds},
    {"table_get_past_end", TrapKind::table_out_of_bounds},
    {"table_set_past_end", TrapKind::table_out_of_bounds},
    {"table_fill_past_end", TrapKind::table_out_of_bounds},
    {"call_indirect_past_end", TrapKind::table_out_of_bounds},
    {"i32_div_s_zero", TrapKind::integer_divide_by_zero},
    {"i32_div_u_zero", TrapKind::integer_divide_by_zero},
    {"i32_rem_s_zero", TrapKind::integer_divide_by_zero},
    {"i64_rem_u_zero", TrapKind::integer_divide_by_zero},
    {"i32_div_s_overflow", TrapKind::integer_overflow},
    {"i64_div_s_overflow", TrapKind::integer_overflow},
    {"i32_trunc_too_big", TrapKind::integer_overflow},
    {"i64_trunc_u_negative", TrapKind::integer_overflow},
    {"i32_trunc_nan", TrapKind::invalid_conversion},
    {"i64_trunc_u_nan", TrapKind::invalid_conversion},
    {"indirect_type_mismatch", TrapKind::indirect_call_type_mismatch},
    {"indirect_null_element", TrapKind::uninitialized_element},
    {"stack_exhausted", TrapKind::stack_exhausted},
    {"host_trap", TrapKind::host_error},
};

/// The frames as backtraces print them, innermost first.
std::vector<std::string> frame_names(const Trap& trap) {
    std::vector<std::string> names;
    for (const TrapFrame& f : trap.frames)
        names.push_back(format_frame(f));
    return names;
}

class Traps : public ::testing::Test {
protected:
    void SetUp() override {
        m_linker.func_wrap("env", "fail", [](Caller& c) { c.trap("the host says no"); });
    }
    Engine m_engine;
    Linker m_linker;
};

TEST_F(Traps, EveryTrapHasItsKindAndTheInstanceRefusesFurtherCalls) {
    KILN_MODULE(module, m_engine, traps_wat);
    Store store(m_engine);
    for (const Expect& e : expected_traps) {
        SCOPED_TRACE(e.name);
        store.set_reuse_after_trap(false);
        KILN_ASSERT_OK(inst, m_linker.instantiate(store, module));
        auto r = inst.get_func(store, e.name)->call(store, {});
        EXPECT_EQ(outcome(r), trapped(e.kind));
        if (r) continue;
        ASSERT_TRUE(r.error().trap);
        const Trap& trap = *r.error().trap;
        EXPECT_FALSE(trap.message.empty());
        // A host function's trap has its frame innermost, then the caller's.
        size_t first_wasm = e.kind == TrapKind::host_error ? 1 : 0;
        ASSERT_GT(trap.frames.size(), first_wasm);
        EXPECT_EQ(trap.frames[0].is_host(), e.kind == TrapKind::host_error);
        EXPECT_EQ(trap.frames[first_wasm].func_name, e.name);
        // The trapped instance refuses calls until reuse is allowed.
        auto ok = inst.get_func(store, "ok")->typed<int32_t()>(store);
        auto refused = ok->call(store);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().kind, ErrorKind::usage);
        store.set_reuse_after_trap(true);
        EXPECT_EQ(*ok->call(store), 42);
        // The same trap again, on the same instance.
        EXPECT_EQ(outcome(inst.get_func(store, e.name)->call(store, {})), trapped(e.kind));
        expect_recovers(m_engine, store);
    }
}

TEST_F(Traps, BacktraceNamesTheFramesInnermostFirst) {
    KILN_MODULE(module, m_engine, traps_wat);
    Store store(m_engine);
    KILN_ASSERT_OK(inst, m_linker.instantiate(store, module));
    auto r = inst.get_func(store, "nested")->call(store, {});
    ASSERT_EQ(outcome(r), trapped(TrapKind::integer_divide_by_zero));
    EXPECT_EQ(frame_names(*r.error().trap), (std::vector<std::string>{"inner", "nested"}));
    auto h = inst.get_func(store, "host_trap")->call(store, {});
    store.set_reuse_after_trap(true);
    h = inst.get_func(store, "host_trap")->call(store, {});
    ASSERT_EQ(outcome(h), trapped(TrapKind::host_error));
    EXPECT_EQ(h.error().trap->message, "the host says no");
    EXPECT_EQ(frame_names(*h.error().trap),
              (std::vector<std::string>{"<host function>", "host_trap"}));
    EXPECT_EQ(h.error().message, "trap: the host says no (in host_trap)");
}

TEST_F(Traps, StartFunctionTrapFailsInstantiation) {
    KILN_MODULE(module, m_engine, R"((module (func $s unreachable) (start $s)))");
    Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_FALSE(inst);
    EXPECT_EQ(inst.error().kind, ErrorKind::uninstantiable);
    EXPECT_NE(inst.error().message.find("unreachable"), std::string::npos) << inst.error().message;
    expect_recovers(m_engine, store);
}

} // namespace
