// Errors as values: every fallible operation returns Result<T>.
#pragma once

#include <cstddef>
#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace kiln {

/// What went wrong, coarsely, so callers can branch without parsing messages.
enum class ErrorKind {
    malformed,     ///< the binary does not follow the format
    invalid,       ///< the module fails validation
    unlinkable,    ///< an import cannot be resolved or has the wrong type
    uninstantiable,///< instantiation failed (segment out of bounds, start trapped)
    trap,          ///< execution trapped
    io,            ///< a file could not be read or written
    usage,         ///< an API or command line was used wrongly
    limit,         ///< a resource limit was reached
};

const char* error_kind_name(ErrorKind kind);

/// An error with its kind and a message a person can act on.
struct Error {
    ErrorKind kind;
    std::string message;
};

template <typename T> using Result = tl::expected<T, Error>;

/// Builds the unexpected side of a Result.
inline tl::unexpected<Error> make_error(ErrorKind kind, std::string message) {
    return tl::unexpected<Error>(Error{kind, std::move(message)});
}

} // namespace kiln

/// Propagates the error of a Result-returning expression, else yields its value.
#define KILN_TRY(var, expr)                                                                        \
    auto var##_result_ = (expr);                                                                   \
    if (!var##_result_) return tl::unexpected<::kiln::Error>(std::move(var##_result_.error()));   \
    auto var = std::move(*var##_result_)

/// Propagates the error of a Result<void>-returning expression.
#define KILN_CHECK(expr)                                                                           \
    do {                                                                                           \
        auto kiln_check_result_ = (expr);                                                          \
        if (!kiln_check_result_)                                                                   \
            return tl::unexpected<::kiln::Error>(std::move(kiln_check_result_.error()));           \
    } while (0)
