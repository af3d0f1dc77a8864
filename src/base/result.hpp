// Errors as values (the public <kiln/error.hpp>) and helpers to propagate them.
#pragma once

#include <kiln/error.hpp>

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
