// The public C++ API: modules, stores, host functions with a Caller, typed calls, handles,
// limits (memory, tables, fuel, deadline, interrupt, stack) and resumable calls.
#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;

class Api : public ::testing::Test {
protected:
    std::optional<kiln::Module> compile(std::string_view wat) {
        return kiln::test::compile_wat(m_engine, wat);
    }
    std::optional<kiln::Instance> load(std::string_view wat) {
        auto m = compile(wat);
        if (!m) return std::nullopt;
        auto inst = m_linker.instantiate(m_store, *m);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return std::nullopt;
        return *inst;
    }

    kiln::Engine m_engine;
    kiln::Store m_store{m_engine};
    kiln::Linker m_linker;
};

#define LOAD(inst, wat)                                                                            \
    auto inst##_opt = load(wat);                                                                   \
    if (!inst##_opt && !::testing::Test::HasFailure())                                             \
        GTEST_SKIP() << "wat2wasm is not installed";                                               \
    ASSERT_TRUE(inst##_opt);                                                                       \
    kiln::Instance inst = *inst##_opt

constexpr const char* spin_wat = R"((module
  (func (export "spin") (loop (br 0)))
  (func (export "count") (param i32) (result i32) (local i32)
    (block (loop
      (br_if 1 (i32.ge_u (local.get 1) (local.get 0)))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br 0)))
    (local.get 1))))";

TEST_F(Api, TypedHostFunctionWithCallerAndTypedCall) {
    std::string logged;
    m_linker.func_wrap("env", "log", [&](kiln::Caller& caller, int32_t ptr, int32_t len) {
        auto s = caller.read_string(uint32_t(ptr), uint32_t(len));
        if (!s) return caller.trap("log: string out of bounds");
        logged += *s;
    });
    m_linker.func_wrap("env", "add", [](int64_t a, double b) { return double(a) + b; });
    LOAD(inst, R"((module
      (import "env" "log" (func $log (param i32 i32)))
      (import "env" "add" (func $add (param i64 f64) (result f64)))
      (memory (export "memory") 1)
      (data (i32.const 16) "hello")
      (func (export "run") (param i32) (result f64)
        (call $log (i32.const 16) (local.get 0))
        (call $add (i64.const 40) (f64.const 2.5)))))");
    auto run = inst.get_func(m_store, "run")->typed<double(int32_t)>(m_store);
    ASSERT_TRUE(run) << run.error().message;
    auto r = run->call(m_store, 5);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, 42.5);
    EXPECT_EQ(logged, "hello");
    // An out-of-range length makes the host trap the guest with its own message.
    auto bad = run->call(m_store, 70000);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, kiln::ErrorKind::trap);
    ASSERT_TRUE(bad.error().trap);
    EXPECT_EQ(bad.error().trap->kind, kiln::TrapKind::host_error);
    EXPECT_EQ(bad.error().trap->message, "log: string out of bounds");
    // A wrong signature is refused up front.
    EXPECT_FALSE((inst.get_func(m_store, "run")->typed<int32_t(int32_t)>(m_store)));
}

TEST_F(Api, RawHostFunctionAndHandles) {
    m_linker.func_new(
        "env", "pair",
        kiln::FuncType{{kiln::ValType::i32}, {kiln::ValType::i32, kiln::ValType::i64}},
        [](kiln::Caller&, std::span<const kiln::Value> args, std::span<kiln::Value> results) {
            results[0] = kiln::Value::i32(args[0].as_i32() + 1);
            results[1] = kiln::Value::i64(int64_t(args[0].as_i32()) * 1000);
        });
    LOAD(inst, R"((module
      (import "env" "pair" (func $pair (param i32) (result i32 i64)))
      (global (export "g") (mut i32) (i32.const 7))
      (table (export "t") 2 funcref)
      (memory (export "m") 1 2)
      (func (export "f") (param i32) (result i64) (local $a i32) (local $b i64)
        (call $pair (local.get 0)) (local.set $b) (local.set $a)
        (i64.add (i64.extend_i32_s (local.get $a)) (local.get $b)))))");
    auto f = inst.get_func(m_store, "f");
    ASSERT_TRUE(f);
    auto r = f->call(m_store, {kiln::Value::i32(4)});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i64(), 4005);
    EXPECT_EQ(f->call(m_store, {kiln::Value::i64(4)}).error().kind, kiln::ErrorKind::usage);

    auto g = inst.get_global(m_store, "g");
    ASSERT_TRUE(g);
    EXPECT_EQ(g->get(m_store)->as_i32(), 7);
    EXPECT_TRUE(g->set(m_store, kiln::Value::i32(9)));
    EXPECT_FALSE(g->set(m_store, kiln::Value::i64(9)));
    EXPECT_EQ(g->get(m_store)->as_i32(), 9);

    auto m = inst.get_memory(m_store, "m");
    ASSERT_TRUE(m);
    uint8_t buf[4] = {1, 2, 3, 4};
    EXPECT_TRUE(m->write(m_store, 65532, buf));
    EXPECT_FALSE(m->write(m_store, 65533, buf));
    EXPECT_EQ(*m->grow(m_store, 1), 1u);
    EXPECT_FALSE(m->grow(m_store, 1));

    auto t = inst.get_table(m_store, "t");
    ASSERT_TRUE(t);
    EXPECT_EQ(*t->size(m_store), 2u);
    EXPECT_TRUE(t->set(m_store, 0, kiln::Value::funcref(f->raw())));
    EXPECT_FALSE(t->set(m_store, 5, kiln::Value::null(kiln::ValType::funcref)));

    // Handles refuse another store.
    kiln::Store other(m_engine);
    EXPECT_FALSE(f->call(other, {kiln::Value::i32(1)}));
    EXPECT_FALSE(g->get(other));
}

TEST_F(Api, UnknownImportAndBadFileAreNamed) {
    auto m = compile(R"((module (import "env" "nope" (func))))");
    if (!m) GTEST_SKIP();
    auto inst = m_linker.instantiate(m_store, *m);
    ASSERT_FALSE(inst);
    EXPECT_EQ(inst.error().kind, kiln::ErrorKind::unlinkable);
    EXPECT_NE(inst.error().message.find("env.nope"), std::string::npos);
    auto missing = kiln::Module::from_file(m_engine, "/nonexistent/x.wasm");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/x.wasm"), std::string::npos);
}

TEST_F(Api, UnknownImportsLinkedAsTrapsNameThemselves) {
    auto m = compile(R"((module
      (import "env" "known" (func $known (result i32)))
      (import "env" "missing" (func $missing (param i64) (result i64)))
      (func (export "known") (result i32) (call $known))
      (func (export "missing") (result i64) (call $missing (i64.const 1)))))");
    if (!m) GTEST_SKIP();
    m_linker.func_wrap("env", "known", [] { return int32_t(7); });
    m_linker.define_unknown_imports_as_traps(*m);
    auto inst = m_linker.instantiate(m_store, *m);
    ASSERT_TRUE(inst) << inst.error().message;
    // A definition made before is kept; only what was missing traps, and only when called.
    auto known = inst->get_func(m_store, "known")->call(m_store, {});
    ASSERT_TRUE(known) << known.error().message;
    EXPECT_EQ(known->at(0).as_i32(), 7);
    auto missing = inst->get_func(m_store, "missing")->call(m_store, {});
    ASSERT_FALSE(missing);
    ASSERT_TRUE(missing.error().trap);
    EXPECT_EQ(missing.error().trap->kind, kiln::TrapKind::host_error);
    EXPECT_NE(missing.error().message.find("env.missing was called"), std::string::npos)
        << missing.error().message;
}

TEST_F(Api, TrappedInstanceRefusesCallsUnlessAllowed) {
    LOAD(
        inst,
        R"((module (func (export "boom") unreachable) (func (export "ok") (result i32) (i32.const 1))))");
    auto boom = inst.get_func(m_store, "boom");
    auto r = boom->call(m_store, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::unreachable);
    EXPECT_EQ(r.error().trap->frames.at(0).func_name, "boom");
    auto refused = inst.get_func(m_store, "ok")->call(m_store, {});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, kiln::ErrorKind::usage);
    m_store.set_reuse_after_trap(true);
    EXPECT_TRUE(inst.get_func(m_store, "ok")->call(m_store, {}));
}

TEST_F(Api, MemoryAndTableBudgets) {
    m_store.set_memory_limit(3 * 65536);
    m_store.set_table_limit(100);
    LOAD(inst, R"((module (memory 2) (table 50 funcref)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "tgrow") (param i32) (result i32) (table.grow 0 (ref.null func) (local.get 0)))))");
    auto grow = inst.get_func(m_store, "grow")->typed<int32_t(int32_t)>(m_store);
    EXPECT_EQ(*grow->call(m_store, 2), -1);
    EXPECT_EQ(*grow->call(m_store, 1), 2);
    EXPECT_EQ(*grow->call(m_store, 1), -1);
    auto tgrow = inst.get_func(m_store, "tgrow")->typed<int32_t(int32_t)>(m_store);
    EXPECT_EQ(*tgrow->call(m_store, 51), -1);
    EXPECT_EQ(*tgrow->call(m_store, 50), 50);
    // An initial size past the budget fails instantiation with a clear error.
    auto big = compile("(module (memory 4))");
    auto inst2 = m_linker.instantiate(m_store, *big);
    ASSERT_FALSE(inst2);
    EXPECT_EQ(inst2.error().kind, kiln::ErrorKind::uninstantiable);
    EXPECT_NE(inst2.error().message.find("memory limit"), std::string::npos)
        << inst2.error().message;
}

TEST_F(Api, FuelIsDeterministicAndResumable) {
    auto module = compile(spin_wat);
    if (!module) GTEST_SKIP();
    std::vector<uint64_t> left;
    for (int run = 0; run < 3; ++run) {
        kiln::Store store(m_engine);
        store.set_fuel(100000);
        auto inst = m_linker.instantiate(store, *module);
        auto spin = inst->get_func(store, "spin");
        auto r = spin->call(store, {});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::out_of_fuel);
        left.push_back(*store.fuel());
        auto count = inst->get_func(store, "count")->typed<int32_t(int32_t)>(store);
        store.set_reuse_after_trap(true);
        store.set_fuel(1000);
        auto c = count->call(store, 1000000);
        ASSERT_FALSE(c);
        left.push_back(*store.fuel());
    }
    EXPECT_EQ(left[0], left[2]);
    EXPECT_EQ(left[2], left[4]);
    EXPECT_EQ(left[1], left[3]);

    // Suspended by fuel, resumed many times: the result equals an uninterrupted run.
    kiln::Store store(m_engine);
    store.set_fuel(500);
    store.set_suspend_on_fuel(true);
    auto inst = m_linker.instantiate(store, *module);
    auto count = inst->get_func(store, "count");
    auto r = count->call(store, {kiln::Value::i32(100000)});
    int resumes = 0;
    while (!r && r.error().kind == kiln::ErrorKind::suspended) {
        ASSERT_TRUE(store.has_suspended_call());
        store.add_fuel(500);
        r = store.resume();
        ++resumes;
    }
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), 100000);
    EXPECT_GT(resumes, 100);
    EXPECT_FALSE(store.has_suspended_call());
}

TEST_F(Api, DeadlineAndInterrupt) {
    LOAD(inst, spin_wat);
    auto spin = inst.get_func(m_store, "spin");
    m_store.set_reuse_after_trap(true);
    m_store.set_timeout(50ms);
    auto t0 = std::chrono::steady_clock::now();
    auto r = spin->call(m_store, {});
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::deadline);
    EXPECT_GE(took, 50ms);

    m_store.set_timeout(0ns);
    auto handle = m_store.interrupt_handle();
    std::thread killer([handle] {
        std::this_thread::sleep_for(30ms);
        handle.interrupt();
    });
    r = spin->call(m_store, {});
    killer.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::interrupted);

    // Suspend mode: the call can be continued, then stopped for good.
    std::thread pauser([handle] {
        std::this_thread::sleep_for(30ms);
        handle.suspend();
    });
    r = spin->call(m_store, {});
    pauser.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kiln::ErrorKind::suspended);
    ASSERT_TRUE(m_store.has_suspended_call());
    m_store.set_timeout(20ms);
    r = m_store.resume();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::deadline);
    EXPECT_FALSE(m_store.has_suspended_call());
}

TEST_F(Api, DeepRecursionThroughHostReentryIsATrap) {
    std::optional<kiln::Func> again;
    m_linker.func_wrap("env", "again", [&](kiln::Caller& caller, int32_t n) -> int32_t {
        auto r = again->call(caller.store(), {kiln::Value::i32(n)});
        if (!r) {
            caller.trap(std::move(r.error()));
            return 0;
        }
        return (*r)[0].as_i32();
    });
    m_store.set_stack_limits(1000, 1u << 16);
    LOAD(inst, R"((module (import "env" "again" (func $again (param i32) (result i32)))
      (func (export "f") (param i32) (result i32)
        (i32.add (call $again (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))))");
    again = inst.get_func(m_store, "f");
    auto r = again->call(m_store, {kiln::Value::i32(0)});
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->kind, kiln::TrapKind::stack_exhausted);
    EXPECT_NE(r.error().message.find("call stack exhausted"), std::string::npos)
        << r.error().message;
}

TEST_F(Api, ModuleInfoReadsAModuleThatFailsValidation) {
    // $f returns nothing though its type promises an i32: decodable, not valid.
    auto bytes = kiln::test::wat_to_wasm(R"((module $shown
      (import "env" "g" (global i32))
      (type $t (func (result i32)))
      (memory 1 2)
      (func $f (type $t))
      (start $f)
      (export "f" (func $f))))");
    if (!bytes) GTEST_SKIP() << "wat2wasm is not installed";
    EXPECT_FALSE(kiln::Module::compile(m_engine, *bytes));
    auto info = kiln::ModuleInfo::decode(*bytes);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->name(), "shown");
    std::vector<uint8_t> ids;
    for (const auto& s : info->sections())
        ids.push_back(s.id);
    EXPECT_EQ(ids, (std::vector<uint8_t>{1, 2, 3, 5, 7, 8, 10, 0}));
    EXPECT_EQ(info->sections().back().custom_name, "name");
    ASSERT_EQ(info->imports().size(), 1u);
    EXPECT_EQ(info->imports()[0].kind, kiln::ExternKind::global);
    EXPECT_EQ(info->imported(kiln::ExternKind::global), 1u);
    EXPECT_EQ(info->func_types(), (std::vector<uint32_t>{0}));
    ASSERT_EQ(info->memories().size(), 1u);
    EXPECT_EQ(info->memories()[0].limits.max, 2u);
    ASSERT_EQ(info->exports().size(), 1u);
    EXPECT_EQ(info->exports()[0].name, "f");
    EXPECT_EQ(info->start(), 0u);
    EXPECT_EQ(info->func_name(0), "f");
    auto bad = kiln::ModuleInfo::decode(std::vector<uint8_t>{0, 'a', 's', 'n', 2, 0, 0, 0});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, kiln::ErrorKind::malformed);
}

} // namespace
