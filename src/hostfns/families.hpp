// The host function families as plain C++ functions over a HostContext: each checks its
// permission (HostContext::check) and returns a value or an error; none touches guest memory.
// The bindings of each guest ABI (module.cpp, zeno.cpp) call these and nothing else.
#pragma once

#include "hostfns/context.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// ---- kv: the plugin's keys and values in the state database; permission kv: [read, write].

/// Keys kv_list returns at most.
inline constexpr size_t kv_list_limit = 10000;
/// The value of `key`; nullopt when there is none.
Result<std::optional<std::string>> kv_get(HostContext& ctx, std::string_view key);
/// Sets `key`, committed before it returns; beyond the plugin's quota is a limit error.
Result<void> kv_set(HostContext& ctx, std::string_view key, std::string_view value);
/// Deletes `key`; whether it was there.
Result<bool> kv_delete(HostContext& ctx, std::string_view key);
/// The keys starting with `prefix`, in byte order (at most kv_list_limit).
Result<std::vector<std::string>> kv_list(HostContext& ctx, std::string_view prefix);

// ---- db: SQL on databases the host named; permission database: [NAME] or ["rw:NAME"].

/// Runs `{"connection", "sql", "params"?}` (params: an object bound by name, an array by
/// position): `{"rows": [{column: value}]}` for a statement that yields rows, else
/// `{"changes", "last_insert_rowid"}`.
Result<json> db_query(HostContext& ctx, const json& request);

// ---- files: under granted path prefixes; permission filesystem: [PREFIX] or ["rw:PREFIX"].

/// The bytes of a file (at most HostOptions::max_file_bytes).
Result<std::string> file_read(HostContext& ctx, std::string_view path);
/// Writes a file whole (created or truncated).
Result<void> file_write(HostContext& ctx, std::string_view path, std::string_view content);
/// `{"entries": [{"name", "type", "size", "modified"}]}` of a folder, by name.
Result<json> file_list(HostContext& ctx, std::string_view path);
/// `{"type": "file"|"directory"|"symlink"|"other", "size", "modified"}` (seconds since 1970).
Result<json> file_stat(HostContext& ctx, std::string_view path);

// ---- env: variables named in the grant; permission env: [NAME].

/// The variable's value; nullopt when unset, and when denied (the denial is audited).
std::optional<std::string> env_get(HostContext& ctx, std::string_view name);

// ---- http: the plugin layer's allowlisted client; permission network: [PATTERN].

/// Performs `{"url", "method"?, "headers"?: {name: value}, "body"?}` (a string body is sent as
/// it is, any other JSON as JSON): `{"status", "body" (JSON when it parses, else the text),
/// "headers": {name: first value}}`.
Result<json> http_request(HostContext& ctx, const json& request);

// ---- host operations: permission operations: [PREFIX] (and libraries: [ID] with a library).

/// Calls the application's operation `operation` with the JSON `payload` (for Spacedrive, in
/// the library `library`, a UUID's text, or none); its JSON result.
Result<std::string> host_call(HostContext& ctx, std::string_view operation,
                              std::string_view payload, std::string_view library = {});

/// Spacedrive's import `spacedrive.spacedrive_call(method_ptr, method_len, library_id_ptr,
/// payload_ptr, payload_len) -> i32` bound to host_call: the result JSON (or `{"error": ...}`)
/// written NUL-terminated through the guest's `wasm_alloc`, its pointer returned; 0 when the
/// arguments are not in memory or the allocator gives no room.
PluginFunction spacedrive_call_import(std::shared_ptr<PluginHost> host);

} // namespace kiln::hostfns
