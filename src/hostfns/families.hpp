// The host function families as plain C++ functions over a HostContext: each checks its
// permission (HostContext::check) and returns a value or an error; none touches guest memory.
// The bindings of each guest ABI (module.cpp, zeno.cpp) call these and nothing else.
#pragma once

#include "hostfns/context.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace kiln::hostfns {

// ---- log: no permission; routed to the plugin's own log, with its name and level.

/// The level named "trace", "debug", "info", "warn" or "error"; others are info, as
/// ZenoEngine takes them.
LogLevel log_level_from(std::string_view name);
/// Logs `message` at `level` as the plugin.
void log(HostContext& ctx, LogLevel level, std::string_view message);

// ---- scope: the call's variables; permission scope: [read, write].

/// The value of `key` in the call's scope; nullopt when it holds none. An error when the call
/// has no scope or scope_read is not granted.
Result<std::optional<json>> scope_get(HostContext& ctx, std::string_view key);
/// Sets `key` in the call's scope (scope_write).
Result<void> scope_set(HostContext& ctx, std::string_view key, json value);

} // namespace kiln::hostfns
