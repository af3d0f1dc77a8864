// How a call's outcome is read: what the export returned, together with what the plugin left
// behind (error_set, a host function's error, output_set), becomes the call's Result.
#pragma once

#include "plugin/state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::plugin {

/// A call's Result and its return code (-1 for a trap, the exit code for proc_exit).
struct CallOutcome {
    Result<std::string> result;
    int32_t rc = 0;
};

/// Maps what `function` returned to the call's outcome, in this order: a trap fails it (timeout,
/// cancelled, fuel exhausted, or the trap's message; the trap stays attached); proc_exit(n) is
/// rc n; an error set by the plugin or a host function fails it (ErrorKind::plugin); a non-zero
/// rc fails it; otherwise the output block, exactly as long as output_set said.
CallOutcome call_outcome(const CurrentPlugin::State& state, std::string_view function,
                         const Result<int32_t>& returned, std::optional<uint64_t> timeout_ms);

} // namespace kiln::plugin
