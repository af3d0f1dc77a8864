// HostLibrary's insides, shared by its adapters and by the layers that extend kiln:host/v1:
// the services, the PluginHost of each plugin name, and the extensions of the module.
#pragma once

#include "hostfns/context.hpp"
#include "hostfns/module.hpp"

#include <kiln/hostfns.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kiln {

struct HostLibrary::Impl {
    std::shared_ptr<hostfns::Services> services;

    explicit Impl(HostOptions options);
    /// The PluginHost of plugin `name`, made on first use and kept: the host functions compiled
    /// into the plugin hold it across reloads.
    std::shared_ptr<hostfns::PluginHost> plugin_host(const std::string& name);
    /// Adds functions to kiln:host/v1, for plugins compiled from now on.
    void add_module_extension(hostfns::ModuleExtension extension);
    /// Every extension so far.
    std::vector<hostfns::ModuleExtension> extensions() const;
    /// The context an instance of `load`'s plugin runs with.
    std::unique_ptr<hostfns::HostContext> context_for(const AbiLoad& load);

private:
    mutable std::mutex m_mutex;
    std::map<std::string, std::shared_ptr<hostfns::PluginHost>> m_hosts;
    std::vector<hostfns::ModuleExtension> m_extensions;
};

namespace hostfns {

/// An instance of a guest ABI whose plugin reaches the host functions: each of its calls (and
/// its shutdown) runs with its context current, and with the call's scope. It is an endpoint of
/// the library's event bus (Dispatch::attach): its events go to its on_event export, and a
/// call waits while an event is being delivered to it, so that it never runs twice at once.
class HostedInstance final : public AbiInstance {
public:
    HostedInstance(std::shared_ptr<PluginHost> host, std::unique_ptr<HostContext> context);
    ~HostedInstance() override;
    /// Makes the inner instance with `make` (which instantiates and initialises it) inside the
    /// endpoint, with the context current, after declaring what the manifest contributes.
    Result<void> init(const AbiLoad& load,
                      const std::function<Result<std::unique_ptr<AbiInstance>>()>& make);
    Result<std::string> call(std::string_view target, std::string_view input) override;
    Result<std::string> call(std::string_view target, std::string_view input,
                             CallContext& context) override;
    /// Whether the instance has the export `target` (while its init runs: whether the module
    /// the manager described exports it).
    bool has(std::string_view target) const override;
    void shutdown() override;
    void set_permissions(const Permissions& permissions) override;

private:
    /// Runs `target` of the inner instance with the context current; the caller is inside the
    /// endpoint.
    Result<std::string> run(std::string_view target, std::string_view input, HostCall& call,
                            CallContext* context);
    /// Delivers an event to on_event (the bus's receiver).
    Result<void> deliver(const Event& event);
    Dispatch& dispatch() { return m_context->services().dispatch; }

    std::shared_ptr<PluginHost> m_host;
    std::unique_ptr<HostContext> m_context;
    std::unique_ptr<AbiInstance> m_inner;
    std::vector<std::string> m_exports; ///< the main module's, until m_inner is made
    EventBus::EndpointId m_endpoint = 0;
};

/// Makes an instance with `make` (which instantiates and initialises it) while the plugin's
/// context is current, so that its init may use the host functions, and wraps it.
Result<std::unique_ptr<AbiInstance>>
instantiate_hosted(HostLibrary::Impl& library, const AbiLoad& load,
                   const std::function<Result<std::unique_ptr<AbiInstance>>()>& make);

/// The Extism adapter with kiln:host/v1 linked (the manager's own adapter underneath).
std::unique_ptr<AbiAdapter> make_extism_adapter(std::shared_ptr<HostLibrary::Impl> library);

/// The ZenoEngine adapter (zeno.cpp).
std::unique_ptr<AbiAdapter> make_zeno_adapter(std::shared_ptr<HostLibrary::Impl> library);

} // namespace hostfns

} // namespace kiln
