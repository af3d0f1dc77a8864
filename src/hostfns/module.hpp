// Binding the families into guest ABIs. HostFunctionScope gives a host function the context of
// the plugin calling it, with the call's hooks (deadline, log) bound to that guest; the
// kiln:host/v1 helpers make the Extism-ABI functions of the module: handles of the plugin's
// kernel memory in and out, as extism:host/env's own functions take them.
#pragma once

#include "hostfns/context.hpp"

#include <kiln/plugin.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln::hostfns {

/// The module of Kiln's host functions for Extism-ABI plugins.
inline constexpr const char* host_module_name = "kiln:host/v1";

/// For the length of one host function: the calling plugin's context, with HostCall's
/// should_stop and log bound to this guest (and put back as they were after, for host
/// functions reached through a nested call).
class HostFunctionScope {
public:
    HostFunctionScope(PluginHost& host, CurrentPlugin& plugin);
    ~HostFunctionScope();
    HostFunctionScope(const HostFunctionScope&) = delete;
    HostFunctionScope& operator=(const HostFunctionScope&) = delete;
    /// The context; an error when the plugin is in no call of the host's.
    Result<HostContext*> context() const { return m_context; }

private:
    Result<HostContext*> m_context;
    std::function<bool()> m_should_stop;
    std::function<void(LogLevel, std::string_view)> m_log;
};

/// The body of a kiln:host/v1 function: the blocks its handle arguments named (each read and
/// freed, as extism:host/env does; an invalid handle reads as empty), its result: a block's
/// bytes, or nothing.
using HandleBody = std::function<Result<std::optional<std::string>>(
    HostContext& ctx, std::span<const std::string> args)>;

/// A kiln:host/v1 function `name(i64 handle x params) -> i64`: the result's handle, 0 for
/// nothing. A failure returns 0 and keeps its message for last_error(); it never traps.
PluginFunction handle_function(std::shared_ptr<PluginHost> host, std::string name, size_t params,
                               HandleBody body);

/// A kiln:host/v1 function `name(i64 handle x params) -> i32`: 0 when it succeeded, -1 (its
/// message kept for last_error()) when it failed.
PluginFunction status_function(
    std::shared_ptr<PluginHost> host, std::string name, size_t params,
    std::function<Result<void>(HostContext& ctx, std::span<const std::string> args)> body);

/// Functions another part of the host adds to kiln:host/v1 (events, commands, jobs, ...),
/// made for each plugin with the PluginHost its bodies reach the plugin's context through.
using ModuleExtension =
    std::function<std::vector<PluginFunction>(const std::shared_ptr<PluginHost>& host)>;

/// Every function of kiln:host/v1 for one plugin: the families' and the extensions'.
std::vector<PluginFunction> host_module(const std::shared_ptr<PluginHost>& host,
                                        const std::vector<ModuleExtension>& extensions);

/// JSON text of `value`; bytes that are not UTF-8 (a file's, a column's) become U+FFFD.
std::string dump(const json& value);

/// The JSON text `text` parsed as an object, or an error naming `function`.
Result<json> parse_object(std::string_view function, std::string_view text);

} // namespace kiln::hostfns
