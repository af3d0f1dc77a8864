// Errors as values: every fallible operation returns Result<T>.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace kiln {

/// What went wrong, coarsely, so callers can branch without parsing messages (the kinds and
/// their meaning are listed in <kiln/error_kinds.def>).
enum class ErrorKind {
#define KILN_ERROR_KIND(name, NAME, value, text) name = value,
#include <kiln/error_kinds.def>
};

/// "malformed", "invalid", ...; "unknown" for a value that is no kind.
const char* error_kind_name(ErrorKind kind);

/// Why execution stopped abnormally (listed in <kiln/error_kinds.def>).
enum class TrapKind : uint8_t {
#define KILN_TRAP_KIND(name, NAME, value, text) name = value,
#include <kiln/error_kinds.def>
};

/// "unreachable", "out of fuel", ...; "unknown" for a value that is no kind.
const char* trap_kind_name(TrapKind kind);

/// A trap: its kind, a message, and the wasm frames active at the time (innermost first, named
/// from the name section, else an export, else func[N]).
struct Trap {
    TrapKind kind = TrapKind::unreachable;
    std::string message;
    std::vector<std::string> backtrace;
    int32_t exit_code = 0; ///< for TrapKind::exit
};

/// An error with its kind and a message a person can act on; traps carry their details.
struct Error {
    ErrorKind kind;
    std::string message;
    /// For kind trap and suspended. Shared and out of line, so that Result<T> stays small and a
    /// successful call pays nothing for the error it did not have.
    std::shared_ptr<const Trap> trap;
};

/// A value or an Error.
template <typename T> using Result = tl::expected<T, Error>;

/// Builds the unexpected side of a Result.
inline tl::unexpected<Error> make_error(ErrorKind kind, std::string message) {
    return tl::unexpected<Error>(Error{kind, std::move(message), nullptr});
}

} // namespace kiln
