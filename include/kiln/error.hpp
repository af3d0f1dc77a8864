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

/// What went wrong, coarsely, so callers can branch without parsing messages.
enum class ErrorKind {
    malformed,      ///< the binary does not follow the format
    invalid,        ///< the module fails validation
    unlinkable,     ///< an import cannot be resolved or has the wrong type
    uninstantiable, ///< instantiation failed (segment out of bounds, start trapped, limits)
    trap,           ///< execution trapped; Error::trap says how
    suspended,      ///< the call stopped resumably (fuel, suspend interrupt); see Store::resume
    io,             ///< a file could not be read or written
    usage,          ///< an API or command line was used wrongly
    limit,          ///< a resource limit was reached
    exit,           ///< the program ended itself (WASI proc_exit); Error::trap->exit_code
    plugin,         ///< a plugin call failed: the plugin set an error or returned non-zero
};

/// "malformed", "invalid", ...
const char* error_kind_name(ErrorKind kind);

/// Why execution stopped abnormally.
enum class TrapKind : uint8_t {
    unreachable,
    memory_out_of_bounds,
    table_out_of_bounds,
    integer_divide_by_zero,
    integer_overflow,
    invalid_conversion,
    indirect_call_type_mismatch,
    uninitialized_element,
    null_reference,
    stack_exhausted,
    out_of_fuel,
    deadline,
    interrupted,
    host_error,
    exit,    ///< not a fault: the program asked to end (Trap::exit_code)
    yielded, ///< not a fault: a host function suspended the call (Caller::suspend)
};

/// "unreachable", "out of fuel", ...
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
