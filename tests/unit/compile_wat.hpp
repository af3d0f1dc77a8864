// Compiling WebAssembly text to a Module, for tests of the public API (kept apart from
// test_util.hpp, which tests of the engine's internals include beside their own Module).
#pragma once

#include "test_util.hpp"

#include <kiln/kiln.hpp>

#include <optional>
#include <string_view>

namespace kiln::test {

/// Compiles WebAssembly text to a Module; nullopt when wat2wasm is not installed or (after a
/// test failure) when the module does not compile.
std::optional<Module> compile_wat(const Engine& engine, std::string_view wat);

} // namespace kiln::test

/// Declares `mod`, the module compiled from `wat`; skips the test without wat2wasm.
#define KILN_COMPILE_OR_SKIP(mod, engine, wat)                                                     \
    auto mod##_opt = ::kiln::test::compile_wat(engine, wat);                                       \
    if (!mod##_opt && !::testing::Test::HasFailure()) GTEST_SKIP() << "wat2wasm is not installed"; \
    ASSERT_TRUE(mod##_opt);                                                                        \
    ::kiln::Module mod = *mod##_opt
