// Errors as values: every fallible operation returns Result<T>.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

/// TrapFrame::func_index of a host function's frame.
inline constexpr uint32_t host_func_index = UINT32_MAX;

/// A function active when a trap happened.
struct TrapFrame {
    /// Index in its module's function index space; host_func_index for a host function.
    uint32_t func_index = host_func_index;
    std::string func_name;   ///< from the name section, else an export name, else empty
    std::string module_name; ///< from the module's name section, else empty
    /// Byte offset in the module binary of the instruction that trapped (innermost frame) or of
    /// the call the function is making (outer frames); 0 for a host function.
    uint32_t code_offset = 0;

    /// True for the frame of a host function.
    bool is_host() const { return func_index == host_func_index; }
    bool operator==(const TrapFrame&) const = default;
};

/// The frame as it is printed: its name, else "func[N]", or "<host function>".
std::string format_frame(const TrapFrame& frame);

/// The frames as printed lines, innermost first, each `indent` + format_frame() + "\n". A run of
/// more than `max_repeats` + 1 frames of one function prints `max_repeats` of them, then
/// "... N more frames of NAME", so that a stack exhausted by recursion prints a few lines.
std::string format_backtrace(const std::vector<TrapFrame>& frames,
                             std::string_view indent = "  at ", size_t max_repeats = 3);

/// A trap: its kind, a message, and the frames active at the time, innermost first.
struct Trap {
    TrapKind kind = TrapKind::unreachable;
    std::string message;
    std::vector<TrapFrame> frames;
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
