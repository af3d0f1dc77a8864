#include "base/result.hpp"

#include "base/text.hpp"
#include <fmt/format.h>

#include <algorithm>

namespace kiln {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        // clang-format off
#define KILN_ERROR_KIND(name, NAME, value, text) case ErrorKind::name: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

const char* trap_kind_name(TrapKind kind) {
    switch (kind) {
        // clang-format off
#define KILN_TRAP_KIND(name, NAME, value, text) case TrapKind::name: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

std::string format_frame(const TrapFrame& frame) {
    if (frame.is_host()) return "<host function>";
    // Names come from the module (its name section or exports): escaped, as they get printed.
    if (!frame.func_name.empty()) return escape_control(frame.func_name);
    return "func[" + std::to_string(frame.func_index) + "]";
}

namespace {

bool same_function(const TrapFrame& a, const TrapFrame& b) {
    return a.func_index == b.func_index && a.func_name == b.func_name &&
           a.module_name == b.module_name;
}

/// 19997 -> "19,997".
std::string grouped(size_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

} // namespace

bool is_limit_trap(TrapKind kind) {
    return kind == TrapKind::deadline || kind == TrapKind::out_of_fuel ||
           kind == TrapKind::interrupted;
}

std::string call_failure_text(std::string_view function, const Trap& trap,
                              std::optional<uint64_t> timeout_ms) {
    switch (trap.kind) {
    case TrapKind::deadline:
        return fmt::format("{}: timeout after {} ms", function, timeout_ms.value_or(0));
    case TrapKind::out_of_fuel: return fmt::format("{}: fuel exhausted", function);
    case TrapKind::interrupted: return fmt::format("{}: cancelled", function);
    default: return fmt::format("{}: {}", function, trap.message);
    }
}

std::string host_trap_message(std::string message) {
    constexpr std::string_view prefix = "trap: ";
    if (!std::string_view(message).starts_with(prefix)) return message;
    message.erase(0, prefix.size());
    // The innermost function the Error's message named, if it did.
    size_t in = message.rfind(" (in ");
    if (in != std::string::npos && message.back() == ')') message.erase(in);
    return message;
}

std::string format_backtrace(const std::vector<TrapFrame>& frames, std::string_view indent,
                             size_t max_repeats) {
    std::string_view margin =
        indent.substr(0, std::min(indent.find_first_not_of(' '), indent.size()));
    std::string out;
    for (size_t i = 0; i < frames.size();) {
        size_t run = 1;
        while (i + run < frames.size() && same_function(frames[i], frames[i + run]))
            ++run;
        std::string name = format_frame(frames[i]);
        // A summary line replaces two frames or more, never just one.
        size_t shown = run <= max_repeats + 1 ? run : max_repeats;
        for (size_t k = 0; k < shown; ++k)
            out.append(indent).append(name).append("\n");
        if (run > shown)
            out.append(margin)
                .append("... ")
                .append(grouped(run - shown))
                .append(" more frames of ")
                .append(name)
                .append("\n");
        i += run;
    }
    return out;
}

} // namespace kiln
