// HostLibrary, the PluginHost of each plugin, and the instances that make a plugin's context
// current around its calls.
#include "hostfns/library.hpp"

#include "hostfns/db.hpp"
#include "hostfns/dispatch_impl.hpp"
#include "hostfns/operations.hpp"

#include <algorithm>
#include <filesystem>

namespace kiln {

HostLibrary::Impl::Impl(HostOptions options)
    : services(std::make_shared<hostfns::Services>(std::move(options))) {
    add_module_extension(hostfns::dispatch_functions);
}

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
    m_impl->services->dispatch.set_manager(&manager);
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

Dispatch& HostLibrary::dispatch() {
    return m_impl->services->dispatch;
}

namespace hostfns {

HostedInstance::HostedInstance(std::shared_ptr<PluginHost> host,
                               std::unique_ptr<HostContext> context)
    : m_host(std::move(host)), m_context(std::move(context)) {
    // The closures hold `this`: detaching (in shutdown or the destructor) waits for the call or
    // delivery they run and stops any other.
    m_endpoint = dispatch().attach(
        m_context->plugin(),
        [this](std::string_view target, std::string_view input) {
            HostCall call;
            return run(target, input, call, nullptr);
        },
        [this](const Event& event) { return deliver(event); },
        [this](std::string_view name) { return has(name); });
    m_context->set_endpoint(m_endpoint);
}

HostedInstance::~HostedInstance() {
    if (m_endpoint) dispatch().detach(m_endpoint);
}

Result<void>
HostedInstance::init(const AbiLoad& load,
                     const std::function<Result<std::unique_ptr<AbiInstance>>()>& make) {
    m_exports = load.plugin.exports;
    if (load.plugin.manifest)
        if (auto ok = dispatch().declare(m_endpoint, load.plugin.manifest->contributes); !ok)
            return ok;
    if (auto entered = dispatch().events().enter(m_endpoint); !entered) return entered;
    Result<std::unique_ptr<AbiInstance>> inner;
    {
        HostCall call;
        Activation active(*m_host, *m_context, call);
        inner = make();
    }
    if (inner) m_inner = std::move(*inner);
    // Events published to it meanwhile are delivered now, by leave().
    dispatch().events().leave(m_endpoint);
    if (!inner) return tl::unexpected(inner.error());
    return {};
}

bool HostedInstance::has(std::string_view target) const {
    if (m_inner) return m_inner->has(target);
    return std::find(m_exports.begin(), m_exports.end(), target) != m_exports.end();
}

Result<std::string> HostedInstance::run(std::string_view target, std::string_view input,
                                        HostCall& call, CallContext* context) {
    if (!m_inner) return make_error(ErrorKind::usage, "the plugin is not initialised");
    Activation active(*m_host, *m_context, call);
    return context ? m_inner->call(target, input, *context) : m_inner->call(target, input);
}

Result<void> HostedInstance::deliver(const Event& event) {
    // Topics need no escaping (EventBus::check_topic) and the data is JSON already.
    std::string input;
    input.reserve(event.topic.size() + event.data.size() + 22);
    input.append(R"({"topic":")").append(event.topic).append(R"(","data":)");
    input.append(event.data).push_back('}');
    HostCall call;
    auto out = run("on_event", input, call, nullptr);
    if (!out) return tl::unexpected(out.error());
    return {};
}

Result<std::string> HostedInstance::call(std::string_view target, std::string_view input) {
    if (auto entered = dispatch().events().enter(m_endpoint); !entered)
        return tl::unexpected(entered.error());
    HostCall call;
    auto out = run(target, input, call, nullptr);
    dispatch().events().leave(m_endpoint);
    return out;
}

Result<std::string> HostedInstance::call(std::string_view target, std::string_view input,
                                         CallContext& context) {
    if (context.scope.empty()) return call(target, input);
    json scope = json::parse(context.scope, nullptr, false);
    if (scope.is_discarded() || !scope.is_object())
        return make_error(ErrorKind::usage, "the call's scope is not a JSON object");
    if (auto entered = dispatch().events().enter(m_endpoint); !entered)
        return tl::unexpected(entered.error());
    HostCall call;
    call.scope = &scope;
    auto out = run(target, input, call, &context);
    dispatch().events().leave(m_endpoint);
    context.scope = scope.dump();
    return out;
}

void HostedInstance::set_permissions(const Permissions& permissions) {
    m_context->set_permissions(permissions);
}

void HostedInstance::shutdown() {
    // Off the bus first (after a delivery running elsewhere), so that no event reaches the
    // plugin during or after its shutdown.
    dispatch().detach(m_endpoint);
    m_endpoint = 0;
    if (!m_inner) return;
    HostCall call;
    Activation active(*m_host, *m_context, call);
    m_inner->shutdown();
}

Result<std::unique_ptr<AbiInstance>>
instantiate_hosted(HostLibrary::Impl& library, const AbiLoad& load,
                   const std::function<Result<std::unique_ptr<AbiInstance>>()>& make) {
    auto hosted = std::make_unique<HostedInstance>(library.plugin_host(load.plugin.name),
                                                   library.context_for(load));
    if (auto ok = hosted->init(load, make); !ok) return tl::unexpected(ok.error());
    return std::unique_ptr<AbiInstance>(std::move(hosted));
}

namespace {

class ExtismAdapter final : public AbiAdapter {
public:
    explicit ExtismAdapter(std::shared_ptr<HostLibrary::Impl> library)
        : m_library(std::move(library)), m_plain(kiln::make_extism_adapter()) {}

    PluginAbi abi() const override { return PluginAbi::extism; }

    PluginOptions options(const PluginInfo& plugin) const override {
        PluginOptions options = m_plain->options(plugin);
        std::vector<PluginFunction> module =
            host_module(m_library->plugin_host(plugin.name), m_library->extensions());
        options.functions.insert(options.functions.end(), std::make_move_iterator(module.begin()),
                                 std::make_move_iterator(module.end()));
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
