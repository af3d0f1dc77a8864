// The seam of the host function families: what every family function gets (HostContext: the
// plugin, its permissions, the services the host offers, the call in progress) and how a
// binding for a guest ABI finds the context of the plugin calling it (PluginHost).
//
// A family is a plain C++ function `Result<T> family_verb(HostContext&, ...)`: it checks its
// permission with HostContext::check (the manager's one allows(), the rate limit, denials in
// the audit log) and knows nothing of guest memory. Bindings (kiln:host/v1 for Extism-ABI
// plugins, env.host_* for ZenoEngine's, spacedrive.spacedrive_call) turn guest arguments into
// C++ values and results back.
#pragma once

#include <kiln/hostfns.hpp>
#include <kiln/manager.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::hostfns {

using json = nlohmann::json;

class KvStore;
class Databases;
class Operations;

/// What the host offers every plugin of one HostLibrary: its options, where denials go, and the
/// stores and registries the families work on. Thread-safe.
struct Services {
    HostOptions options;
    /// Where denials are recorded: the manager's audit log once installed, else `own_audit`.
    AuditLog* audit = nullptr;
    AuditLog own_audit;
    std::shared_ptr<KvStore> kv;
    std::shared_ptr<Databases> databases;
    std::shared_ptr<Operations> operations;
    /// The event bus, commands, slots and UI blocks.
    Dispatch dispatch;

    explicit Services(HostOptions options);
    ~Services();
    AuditLog& audit_log() { return audit ? *audit : own_audit; }
    /// The environment variable `name` as the host's getenv sees it.
    std::optional<std::string> getenv(const std::string& name) const;
};

/// What one call into a plugin carries, for as long as it runs.
struct HostCall {
    /// The call's scope (a JSON object); null when the call has none.
    json* scope = nullptr;
    /// Whether the guest's call must stop now (its deadline passed, or it was cancelled); set
    /// by the binding while a host function runs.
    std::function<bool()> should_stop;
    /// Where the log family's lines go: the plugin's own log (its level, its sink, its name);
    /// set by the binding while a host function runs.
    std::function<void(LogLevel, std::string_view)> log;
    /// The message of the last kiln:host/v1 function that failed in this call (last_error).
    std::string last_error;
};

/// The context of every host function: one per plugin instance, with the permissions that
/// instance runs with (those it was loaded with, then as grants and revokes change them).
class HostContext {
public:
    /// `folder` is what relative file paths are taken from.
    HostContext(std::shared_ptr<Services> services, std::string plugin, Permissions permissions,
                std::string folder, std::shared_ptr<RateLimit> rate);

    const std::string& plugin() const { return m_plugin; }
    /// The permissions now: a grant or revoke at run time replaces them between two checks.
    std::shared_ptr<const Permissions> permissions() const { return m_permissions.load(); }
    void set_permissions(Permissions permissions);
    const std::string& folder() const { return m_folder; }
    /// What the plugin's manifest sets for the families that reach out.
    struct Limits {
        std::vector<std::string> allowed_hosts; ///< host globs every HTTP hop must match
        uint64_t max_http_bytes = 50u << 20;    ///< of an HTTP response's body
    };
    const Limits& limits() const { return m_limits; }
    void set_limits(Limits limits) { m_limits = std::move(limits); }
    Services& services() { return *m_services; }
    /// The call in progress (an empty one outside calls).
    HostCall& call() { return m_call ? *m_call : m_idle; }
    /// Makes `call` the one in progress (null: none).
    void set_call(HostCall* call) { m_call = call; }
    /// The instance's endpoint of the event bus (Dispatch::attach); 0 before it is attached.
    EventBus::EndpointId endpoint() const { return m_endpoint; }
    void set_endpoint(EventBus::EndpointId endpoint) { m_endpoint = endpoint; }

    /// The one check of every family: allows() on this plugin's permissions, then its rate
    /// limit; a refusal is an ErrorKind::denied error and an audit record.
    Result<void> check(Permission permission, std::string_view argument = {});
    /// Whether the guest must stop waiting (see HostCall::should_stop).
    bool should_stop() const;

private:
    std::shared_ptr<Services> m_services;
    std::string m_plugin;
    std::atomic<std::shared_ptr<const Permissions>> m_permissions;
    std::string m_folder;
    std::shared_ptr<RateLimit> m_rate;
    Limits m_limits;
    HostCall* m_call = nullptr;
    HostCall m_idle;
    EventBus::EndpointId m_endpoint = 0;
};

/// One plugin (by name) as the host functions linked into it see it: the context of the call
/// it is in. The bindings' closures hold it, as a compiled plugin (and its host functions) is
/// shared by the instances made from it, even across reloads; an instance makes its context
/// current for each call with an Activation.
struct PluginHost {
    std::mutex mutex; ///< held for the length of each call: one instance in a call at a time
    HostContext* current = nullptr;
    std::shared_ptr<RateLimit> rate = std::make_shared<RateLimit>(); ///< across reloads

    /// The context of the call in progress; an error outside any call.
    Result<HostContext*> context();
    /// The same for a host function of `plugin`: its instance's own context (InstanceContext)
    /// when it has one, else the current one.
    Result<HostContext*> context(CurrentPlugin& plugin);
};

/// The context an instance carries as its host data (Plugin::set_host_data), for instances
/// that run calls beside the plugin's others (a plugin's concurrent jobs): their host functions
/// find it there instead of as their PluginHost's current one, so no lock is held across calls.
struct InstanceContext {
    HostContext* context = nullptr;
};

/// Makes `context` the current one of `host`, with `call` in progress, until its end.
class Activation {
public:
    Activation(PluginHost& host, HostContext& context, HostCall& call);
    ~Activation();
    Activation(const Activation&) = delete;
    Activation& operator=(const Activation&) = delete;

private:
    std::lock_guard<std::mutex> m_lock;
    PluginHost& m_host;
    HostContext& m_context;
};

/// The error of a host function's request that is not what it should be (`what`: why).
tl::unexpected<Error> bad_request(std::string_view function, std::string_view what);

} // namespace kiln::hostfns
