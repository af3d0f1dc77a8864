// Limit flags (timeouts, fuel, memory) of every command, read by one parser: a limit that
// quietly does nothing is the worst outcome for a sandbox, so each refuses what is not a valid
// value with a usage error naming the flag.
#pragma once

#include <kiln/error.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::tool {

/// A limit as a command line gives it: decimal digits only (no sign, no spaces, no 0x), from
/// `min` to `max`; anything else is a usage error saying what was expected.
Result<uint64_t> parse_limit(std::string_view text, uint64_t min, uint64_t max);

/// Adds the limit flag `flag` to `command`, storing into `target`; a value parse_limit()
/// refuses ends the parse with a usage error "FLAG: ...".
template <typename T>
CLI::Option* add_limit_option(CLI::App& command, const std::string& flag, std::optional<T>& target,
                              const std::string& description, uint64_t min = 0,
                              uint64_t max = std::numeric_limits<T>::max()) {
    auto store = [&target, flag, min, max](const std::string& text) {
        auto value = parse_limit(text, min, max);
        if (!value) throw CLI::ValidationError(flag, value.error().message);
        target = static_cast<T>(*value);
    };
    return command.add_option_function<std::string>(flag, store, description)->type_name("N");
}

} // namespace kiln::tool
