// Helpers shared by the hostile and stress tests: modules from WebAssembly text, the check that a
// store (or a new one) still runs code after something hostile happened, and resident memory.
#pragma once

#include "test_util.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>

namespace kiln::hostile {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// Compiles WebAssembly text; nullopt (after a test failure) when it does not compile, nullopt
/// (without one) when wat2wasm is missing.
inline std::optional<Module> compile_wat(const Engine& engine, std::string_view wat) {
    auto bytes = test::wat_to_wasm(wat);
    if (!bytes || bytes->empty()) return std::nullopt;
    auto m = Module::compile(engine, *bytes);
    EXPECT_TRUE(m) << m.error().message << "\n" << wat;
    if (!m) return std::nullopt;
    return *m;
}

/// Declares `name` as the Module compiled from `wat`, skipping the test without wat2wasm.
#define KILN_MODULE(name, engine, wat)                                                             \
    auto name##_opt = ::kiln::hostile::compile_wat(engine, wat);                                   \
    if (!name##_opt && !::testing::Test::HasFailure())                                             \
        GTEST_SKIP() << "wat2wasm is not installed";                                               \
    ASSERT_TRUE(name##_opt);                                                                       \
    const ::kiln::Module& name = *name##_opt

/// Unwraps a Result in a test, failing it with the error's message.
#define KILN_ASSERT_OK(var, expr)                                                                  \
    auto var##_r = (expr);                                                                         \
    ASSERT_TRUE(var##_r) << var##_r.error().message;                                               \
    auto var = std::move(*var##_r)

/// A small module with a loop and no memory or table, so it fits in any exhausted budget.
constexpr const char* probe_wat = R"((module
  (func (export "sum") (param i32) (result i32) (local i32)
    (block (loop
      (br_if 1 (i32.eqz (local.get 0)))
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br 0)))
    (local.get 1))))";

/// Instantiates the probe module afresh in `store` and checks a call on it returns the right
/// result, giving the store fuel first if it meters.
inline void expect_probe_works(const Engine& engine, Store& store, const char* where) {
    SCOPED_TRACE(where);
    static std::optional<std::vector<uint8_t>> bytes = test::wat_to_wasm(probe_wat);
    ASSERT_TRUE(bytes && !bytes->empty());
    auto module = Module::compile(engine, *bytes);
    ASSERT_TRUE(module) << module.error().message;
    if (store.fuel()) store.add_fuel(1'000'000);
    Linker linker;
    auto inst = linker.instantiate(store, *module);
    ASSERT_TRUE(inst) << inst.error().message;
    auto sum = inst->get_func(store, "sum")->typed<int32_t(int32_t)>(store);
    ASSERT_TRUE(sum) << sum.error().message;
    auto r = sum->call(store, 100);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, 5050);
    EXPECT_FALSE(store.has_suspended_call());
}

/// The check run after every hostile case: the same store and a new store still run code.
inline void expect_recovers(const Engine& engine, Store& store) {
    expect_probe_works(engine, store, "fresh instance in the same store");
    Store fresh(engine);
    expect_probe_works(engine, fresh, "fresh instance in a new store");
}

/// Resident set size of this process in bytes.
inline uint64_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

/// How a call ended, for comparisons with readable failures: "ok", "<error kind>:<trap kind>"
/// ("trap:deadline", "suspended:out of fuel") or "<error kind>" for an error without a trap.
template <typename T> std::string outcome(const Result<T>& r) {
    if (r) return "ok";
    std::string s = error_kind_name(r.error().kind);
    if (r.error().trap) s += std::string(":") + trap_kind_name(r.error().trap->kind);
    return s;
}

/// "trap:<kind>" for a trap of that kind.
inline std::string trapped(TrapKind kind) {
    return std::string("trap:") + trap_kind_name(kind);
}

} // namespace kiln::hostile
