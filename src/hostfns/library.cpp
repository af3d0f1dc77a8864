// HostLibrary, the PluginHost of each plugin, and the instances that make a plugin's context
// current around its calls.
#include "hostfns/library.hpp"

#include "hostfns/db.hpp"
#include "hostfns/operations.hpp"

#include <filesystem>

namespace kiln {

HostLibrary::Impl::Impl(HostOptions options)
    : services(std::make_shared<hostfns::Services>(std::move(options))) {}

std::shared_ptr<hostfns::PluginHost> HostLibrary::Impl::plugin_host(const std::string& name) {
    std::lock_guard lock(m_mutex);
    auto& host = m_hosts[name];
    if (!host) host = std::make_shared<hostfns::PluginHost>();
    return host;
}

void HostLibrary::Impl::add_module_extension(hostfns::ModuleExtension extension) {
    std::lock_guard lock(m_mutex);
    m_extensions.push_back(std::move(extension));
}

std::vector<hostfns::ModuleExtension> HostLibrary::Impl::extensions() const {
    std::lock_guard lock(m_mutex);
    return m_extensions;
}

std::unique_ptr<hostfns::HostContext> HostLibrary::Impl::context_for(const AbiLoad& load) {
    const PluginInfo& info = load.plugin;
    std::string folder = services->options.files_root;
    if (folder.empty() && info.manifest) folder = info.manifest->folder;
    if (folder.empty()) folder = std::filesystem::path(info.path).parent_path().string();
    auto context = std::make_unique<hostfns::HostContext>(
        services, info.name, load.permissions, std::move(folder), plugin_host(info.name)->rate);
    if (load.compiled) {
        const Manifest& m = load.compiled->manifest();
        context->set_limits({m.allowed_hosts, m.max_http_response_bytes});
    }
    return context;
}

HostLibrary::HostLibrary(HostOptions options)
    : m_impl(std::make_shared<Impl>(std::move(options))) {}

HostLibrary::~HostLibrary() = default;

void HostLibrary::install(PluginManager& manager) {
    m_impl->services->audit = &manager.audit();
    manager.add_adapter(hostfns::make_extism_adapter(m_impl));
    manager.add_adapter(hostfns::make_zeno_adapter(m_impl));
}

AuditLog& HostLibrary::audit() {
    return m_impl->services->audit_log();
}

void HostLibrary::add_database(const std::string& name, const std::string& path, bool writable) {
    m_impl->services->databases->add(name, path, writable);
}

void HostLibrary::add_operation(const std::string& name, HostOperation handler) {
    m_impl->services->operations->add(name, std::move(handler));
}

bool HostLibrary::remove_operation(const std::string& name) {
    return m_impl->services->operations->remove(name);
}

namespace hostfns {

HostedInstance::HostedInstance(std::shared_ptr<PluginHost> host,
                               std::unique_ptr<HostContext> context,
                               std::unique_ptr<AbiInstance> inner)
    : m_host(std::move(host)), m_context(std::move(context)), m_inner(std::move(inner)) {}

Result<std::string> HostedInstance::call(std::string_view target, std::string_view input) {
    HostCall call;
    Activation active(*m_host, *m_context, call);
    return m_inner->call(target, input);
}

Result<std::string> HostedInstance::call(std::string_view target, std::string_view input,
                                         CallContext& context) {
    if (context.scope.empty()) return call(target, input);
    json scope = json::parse(context.scope, nullptr, false);
    if (scope.is_discarded() || !scope.is_object())
        return make_error(ErrorKind::usage, "the call's scope is not a JSON object");
    HostCall call;
    call.scope = &scope;
    Result<std::string> out;
    {
        Activation active(*m_host, *m_context, call);
        out = m_inner->call(target, input, context);
    }
    context.scope = scope.dump();
    return out;
}

void HostedInstance::shutdown() {
    HostCall call;
    Activation active(*m_host, *m_context, call);
    m_inner->shutdown();
}

Result<std::unique_ptr<AbiInstance>>
instantiate_hosted(HostLibrary::Impl& library, const AbiLoad& load,
                   const std::function<Result<std::unique_ptr<AbiInstance>>()>& make) {
    std::shared_ptr<PluginHost> host = library.plugin_host(load.plugin.name);
    std::unique_ptr<HostContext> context = library.context_for(load);
    Result<std::unique_ptr<AbiInstance>> inner;
    {
        HostCall call;
        Activation active(*host, *context, call);
        inner = make();
    }
    if (!inner) return tl::unexpected(inner.error());
    return std::make_unique<HostedInstance>(std::move(host), std::move(context), std::move(*inner));
}

namespace {

class ExtismAdapter final : public AbiAdapter {
public:
    explicit ExtismAdapter(std::shared_ptr<HostLibrary::Impl> library)
        : m_library(std::move(library)), m_plain(kiln::make_extism_adapter()) {}

    PluginAbi abi() const override { return PluginAbi::extism; }

    PluginOptions options(const PluginInfo& plugin) const override {
        PluginOptions options = m_plain->options(plugin);
        options.functions =
            host_module(m_library->plugin_host(plugin.name), m_library->extensions());
        return options;
    }

    Result<std::unique_ptr<AbiInstance>> instantiate(const AbiLoad& load) const override {
        return instantiate_hosted(*m_library, load, [&] { return m_plain->instantiate(load); });
    }

private:
    std::shared_ptr<HostLibrary::Impl> m_library;
    std::unique_ptr<AbiAdapter> m_plain;
};

} // namespace

std::unique_ptr<AbiAdapter> make_extism_adapter(std::shared_ptr<HostLibrary::Impl> library) {
    return std::make_unique<ExtismAdapter>(std::move(library));
}

} // namespace hostfns

} // namespace kiln
