// Helpers of the host function tests: a manager with a HostLibrary installed over a temporary
// folder of plugins, and the kiln:host/v1 imports a WAT body declares.
#pragma once

#include "manager_test_util.hpp"

#include "hostfns/context.hpp"

#include <kiln/hostfns.hpp>
#include <kiln/manager.hpp>
#include <kiln/state_db.hpp>

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

/// The import of kiln:host/v1's `name` as `$name` (or `$local`: http_request is also a name
/// of extism:host/env's), with the signature of a function taking `params` handles and
/// returning a handle (i64) or a status (i32).
inline std::string host_import(const std::string& name, int params, bool status = false,
                               const std::string& local = "") {
    std::string sig = "(func $" + (local.empty() ? name : local);
    if (params > 0) {
        sig += " (param";
        for (int i = 0; i < params; ++i)
            sig += " i64";
        sig += ")";
    }
    sig += status ? " (result i32))" : " (result i64))";
    return "(import \"kiln:host/v1\" \"" + name + "\" " + sig + ")\n";
}

/// A family function's world without a plugin: services over a temporary folder (its state
/// database included) and the context of plugin "p" with `permissions`, whose folder is the
/// temporary one. Calls run with `call` in progress.
struct Family {
    TempDir dir;
    std::shared_ptr<hostfns::Services> services;
    std::unique_ptr<hostfns::HostContext> ctx;
    hostfns::HostCall call;

    explicit Family(Permissions permissions = {}, HostOptions options = {}) {
        if (!options.state && options.state_path.empty())
            options.state_path = (dir.path() / "state.db").string();
        services = std::make_shared<hostfns::Services>(std::move(options));
        grant(std::move(permissions));
    }
    /// The context again, with other permissions (as a reload with new grants makes it).
    void grant(Permissions permissions) {
        ctx = std::make_unique<hostfns::HostContext>(services, "p", std::move(permissions),
                                                     dir.str(), rate);
        ctx->set_call(&call);
    }
    /// The audit records so far, as "PERMISSION ARGUMENT".
    std::vector<std::string> audit() {
        std::vector<std::string> out;
        for (const AuditRecord& r : services->audit_log().records())
            out.push_back(r.plugin + " " + r.permission + " " + r.argument);
        return out;
    }
    std::shared_ptr<RateLimit> rate = std::make_shared<RateLimit>();
};

/// The message of a Result's error, or "ok".
template <typename T> std::string error_of(const Result<T>& r) {
    return r ? std::string("ok") : r.error().message;
}

} // namespace kiln::hostfns_test
