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
/// its shutdown) runs with its context current, and with the call's scope.
class HostedInstance final : public AbiInstance {
public:
    HostedInstance(std::shared_ptr<PluginHost> host, std::unique_ptr<HostContext> context,
                   std::unique_ptr<AbiInstance> inner);
    Result<std::string> call(std::string_view target, std::string_view input) override;
    Result<std::string> call(std::string_view target, std::string_view input,
                             CallContext& context) override;
    bool has(std::string_view target) const override { return m_inner->has(target); }
    void shutdown() override;

private:
    std::shared_ptr<PluginHost> m_host;
    std::unique_ptr<HostContext> m_context;
    std::unique_ptr<AbiInstance> m_inner;
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
