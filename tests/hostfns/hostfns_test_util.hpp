// Helpers of the host function tests: a manager with a HostLibrary installed over a temporary
// folder of plugins, and the kiln:host/v1 imports a WAT body declares.
#pragma once

#include "manager_test_util.hpp"

#include <kiln/hostfns.hpp>
#include <kiln/manager.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kiln::hostfns_test {

using manager_test::kiln_yaml;
using manager_test::TempDir;
using manager_test::write_plugin;

/// A manager over `dir` with `host` installed; plugin log lines are collected in `lines`.
struct Hosted {
    std::vector<std::string> lines;
    std::mutex mutex;
    HostLibrary host;
    std::unique_ptr<PluginManager> manager;

    explicit Hosted(HostOptions options = {}) : host(std::move(options)) {
        ManagerOptions o;
        o.plugin_options.log = [this](std::string_view plugin, LogLevel level,
                                      std::string_view line) {
            std::lock_guard lock(mutex);
            lines.push_back(std::string(plugin) + " " + log_level_name(level) + ": " +
                            std::string(line));
        };
        o.getenv = [](const std::string&) { return std::nullopt; };
        manager = std::make_unique<PluginManager>(std::move(o));
        host.install(*manager);
    }
    /// The audit records of `plugin`, as "PERMISSION ARGUMENT".
    std::vector<std::string> audit(const std::string& plugin) {
        std::vector<std::string> out;
        for (const AuditRecord& r : host.audit().records(plugin))
            out.push_back(r.permission + " " + r.argument);
        return out;
    }
};

/// The import of kiln:host/v1's `name` as `$name`, with the signature of a function taking
/// `params` handles and returning a handle (i64) or a status (i32).
inline std::string host_import(const std::string& name, int params, bool status = false) {
    std::string sig = "(func $" + name;
    if (params > 0) {
        sig += " (param";
        for (int i = 0; i < params; ++i)
            sig += " i64";
        sig += ")";
    }
    sig += status ? " (result i32))" : " (result i64))";
    return "(import \"kiln:host/v1\" \"" + name + "\" " + sig + ")\n";
}

} // namespace kiln::hostfns_test
