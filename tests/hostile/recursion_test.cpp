// Runaway recursion: a million nested calls, directly, mutually, through call_indirect and
// through host functions that call back into wasm. Each must end in a stack_exhausted trap, never
// in a native stack overflow, and leave the store usable.
#include "hostile_util.hpp"

#include <algorithm>
#include <string>

namespace {

using namespace kiln;
using namespace kiln::hostile;

// Each export takes the depth to reach and returns it when it got there.
constexpr const char* recursion_wat = R"((module
  (import "env" "reenter" (func $reenter (param i32) (result i32)))
  (type $i (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $ind_a $ind_b)
  (func $direct (export "direct") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $direct (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func $even (export "mutual") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $odd (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func $odd (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $even (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func $ind_a (export "indirect") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call_indirect (type $i) (i32.sub (local.get 0) (i32.const 1)) (i32.const 1))
                     (i32.const 1)))))
  (func $ind_b (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call_indirect (type $i) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0))
                     (i32.const 1)))))
  ;; Each level is one wasm frame and one host function that calls "via_host" again.
  (func $via_host (export "via_host") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $reenter (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  ;; Each level is two wasm frames and one host function.
  (func (export "via_host2") (param i32) (result i32) (call $via_host (local.get 0)))
  ;; Big frames (200 locals): the value stack runs out before the frame stack.
  (func $fat (export "fat") (param i32) (result i32)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $fat (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
))";

/// recursion_wat instantiated in a store, with env.reenter calling `reenter_target` again,
/// recording the innermost failure it saw and passing failures on (as the Error, or as its
/// message when `pass_as_text`).
struct RecursionGuest {
    RecursionGuest(const Module& module, Store& store,
                   const std::string& reenter_target = "via_host")
        : store(store) {
        linker.func_wrap("env", "reenter", [this](Caller& caller, int32_t n) -> int32_t {
            lowest = std::min(lowest, n);
            auto r = target->call(caller.store(), {Value::i32(n)});
            if (!r) {
                if (!innermost) innermost = r.error();
                if (pass_as_text)
                    caller.trap(r.error().message);
                else
                    caller.trap(std::move(r.error()));
                return 0;
            }
            return (*r)[0].as_i32();
        });
        auto inst = linker.instantiate(store, module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return;
        instance = *inst;
        target = instance->get_func(store, reenter_target);
    }
    Result<std::vector<Value>> call(const std::string& name, int32_t depth) {
        innermost.reset();
        lowest = depth;
        return instance->get_func(store, name)->call(store, {Value::i32(depth)});
    }
    Store& store;
    Linker linker;
    std::optional<Instance> instance;
    std::optional<Func> target;
    std::optional<Error> innermost;
    int32_t lowest = 0; ///< the smallest argument env.reenter saw
    bool pass_as_text = false;
};

class DeepRecursion : public ::testing::Test {
protected:
    Engine m_engine;
};

TEST_F(DeepRecursion, MillionDeepWasmRecursionIsStackExhausted) {
    KILN_MODULE(module, m_engine, recursion_wat);
    for (const char* shape : {"direct", "mutual", "indirect", "fat"}) {
        SCOPED_TRACE(shape);
        Store store(m_engine);
        RecursionGuest guest(module, store);
        ASSERT_TRUE(guest.instance);
        // Shallow recursion works.
        auto ok = guest.call(shape, 1000);
        ASSERT_TRUE(ok) << ok.error().message;
        EXPECT_EQ((*ok)[0].as_i32(), 1000);
        auto r = guest.call(shape, 1'000'000);
        EXPECT_EQ(outcome(r), trapped(TrapKind::stack_exhausted));
        if (!r) {
            EXPECT_GT(r.error().trap->frames.size(), 1u);
            std::printf("[ measure  ] %s: %s, backtrace of %zu frames\n", shape,
                        r.error().message.c_str(), r.error().trap->frames.size());
        }
        expect_recovers(m_engine, store);
    }
}

TEST_F(DeepRecursion, MillionDeepHostReentryIsStackExhausted) {
    KILN_MODULE(module, m_engine, recursion_wat);
    for (const char* shape : {"via_host", "via_host2"}) {
        SCOPED_TRACE(shape);
        Store store(m_engine);
        RecursionGuest guest(module, store, shape);
        ASSERT_TRUE(guest.instance);
        auto ok = guest.call(shape, 100);
        ASSERT_TRUE(ok) << ok.error().message;
        EXPECT_EQ((*ok)[0].as_i32(), 100);
        auto r = guest.call(shape, 1'000'000);
        // Each host function passes the nested failure on, so the call fails as the innermost
        // one did: the stack running out, said once however deep the recursion went.
        EXPECT_EQ(outcome(r), trapped(TrapKind::stack_exhausted));
        ASSERT_FALSE(r);
        const std::string& message = r.error().message;
        EXPECT_EQ(message.find("call stack exhausted"), message.rfind("call stack exhausted"))
            << message.substr(0, 500);
        EXPECT_LT(message.size(), 100u) << message.substr(0, 500);
        // Every level left its frames: one host function per re-entry, between wasm frames.
        const std::vector<TrapFrame>& frames = r.error().trap->frames;
        EXPECT_EQ(size_t(std::count_if(frames.begin(), frames.end(),
                                       [](const TrapFrame& f) { return f.is_host(); })),
                  size_t(1'000'000 - guest.lowest));
        EXPECT_EQ(frames.back().func_name, shape);
        ASSERT_TRUE(guest.innermost);
        ASSERT_TRUE(guest.innermost->trap);
        EXPECT_EQ(guest.innermost->trap->kind, TrapKind::stack_exhausted);
        std::printf("[ measure  ] %s: host re-entry stopped %d levels deep: %s\n", shape,
                    1'000'000 - guest.lowest, guest.innermost->message.c_str());
        expect_recovers(m_engine, store);
    }
}

// A host function that passes a nested failure on as text (as a C host does with
// kiln_error_new(kiln_error_message(e))): the message once said "trap: " at every level, thousands
// of times. Each level now takes the text back to the trap's own message.
TEST_F(DeepRecursion, HostReentryPassingFailuresOnAsTextSaysThemOnce) {
    KILN_MODULE(module, m_engine, recursion_wat);
    for (const char* shape : {"via_host", "via_host2"}) {
        SCOPED_TRACE(shape);
        Store store(m_engine);
        RecursionGuest guest(module, store, shape);
        ASSERT_TRUE(guest.instance);
        guest.pass_as_text = true;
        auto r = guest.call(shape, 1'000'000);
        ASSERT_FALSE(r);
        ASSERT_TRUE(r.error().trap);
        EXPECT_EQ(r.error().trap->kind, TrapKind::host_error);
        EXPECT_GT(1'000'000 - guest.lowest, 100) << "the recursion did not go deep";
        const std::string& message = r.error().message;
        EXPECT_EQ(message.find("trap: "), message.rfind("trap: ")) << message.substr(0, 500);
        EXPECT_EQ(message.find(" (in "), message.rfind(" (in ")) << message.substr(0, 500);
        EXPECT_NE(message.find("call stack exhausted"), std::string::npos) << message;
        EXPECT_LT(message.size(), 100u) << message.substr(0, 500);
        expect_recovers(m_engine, store);
    }
}

// Re-entry from a host function that was called when the frame stack was exactly full: the
// nested call's entry frame must be refused, not written past the end of the frame stack.
TEST_F(DeepRecursion, HostReentryWithAFullFrameStackIsStackExhausted) {
    constexpr uint32_t depth = 64;
    Engine engine(EngineConfig{depth, 1u << 16});
    KILN_MODULE(module, engine, R"((module
      (import "env" "host" (func $host))
      (func $leaf (export "leaf") (call $leaf))
      (func $rec (export "rec") (param i32)
        (if (local.get 0)
          (then (call $rec (i32.sub (local.get 0) (i32.const 1))))
          (else (call $host))))))");
    for (int32_t n = 0; n <= int32_t(depth) + 2; ++n) {
        SCOPED_TRACE("rec(" + std::to_string(n) + ")");
        Store store(engine);
        Linker linker;
        std::optional<Func> leaf;
        std::optional<Error> inner;
        linker.func_wrap("env", "host", [&](Caller& caller) {
            auto r = leaf->call(caller.store(), {});
            if (!r) {
                inner = r.error();
                caller.trap(r.error().message);
            }
        });
        KILN_ASSERT_OK(inst, linker.instantiate(store, module));
        leaf = inst.get_func(store, "leaf");
        auto r = inst.get_func(store, "rec")->call(store, {Value::i32(n)});
        ASSERT_FALSE(r);
        ASSERT_TRUE(r.error().trap);
        if (inner) {
            EXPECT_EQ(r.error().trap->kind, TrapKind::host_error);
            ASSERT_TRUE(inner->trap);
            EXPECT_EQ(inner->trap->kind, TrapKind::stack_exhausted) << inner->message;
        } else {
            EXPECT_EQ(r.error().trap->kind, TrapKind::stack_exhausted) << r.error().message;
        }
        expect_recovers(engine, store);
    }
}

} // namespace
