// Errors as values (the public <kiln/error.hpp>) and helpers to propagate them.
#pragma once

#include <kiln/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Propagates the error of a Result-returning expression, else yields its value.
#define KILN_TRY(var, expr)                                                                        \
    auto var##_result_ = (expr);                                                                   \
    if (!var##_result_) return tl::unexpected<::kiln::Error>(std::move(var##_result_.error()));    \
    auto var = std::move(*var##_result_)

/// Propagates the error of a Result<void>-returning expression.
#define KILN_CHECK(expr)                                                                           \
    do {                                                                                           \
        auto kiln_check_result_ = (expr);                                                          \
        if (!kiln_check_result_)                                                                   \
            return tl::unexpected<::kiln::Error>(std::move(kiln_check_result_.error()));           \
    } while (0)

namespace kiln {

/// True for the traps by which a limit set from outside stops a call (deadline, fuel,
/// interruption), as opposed to a fault of the program.
bool is_limit_trap(TrapKind kind);

/// How every layer words a call of `function` that `trap` stopped: "NAME: timeout after
/// 300 ms", "NAME: fuel exhausted", "NAME: cancelled", else "NAME: " and the trap's message.
std::string call_failure_text(std::string_view function, const Trap& trap,
                              std::optional<uint64_t> timeout_ms);

/// The message of a trap a host function raises with text. Text that is itself a trap's
/// Error::message ("trap: X (in F)", a nested call's failure passed on as text) is taken back to
/// the trap's own message X, so that host/wasm recursion does not repeat it at every level.
std::string host_trap_message(std::string message);

} // namespace kiln
