#include "hostfns/context.hpp"

#include "hostfns/db.hpp"
#include "hostfns/kv.hpp"
#include "hostfns/operations.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace kiln::hostfns {

Services::Services(HostOptions o)
    : options(std::move(o)), databases(std::make_shared<Databases>()),
      operations(std::make_shared<Operations>()), dispatch(options.events) {
    auto state = options.state;
    auto path = options.state_path;
    kv = std::make_shared<KvStore>(
        [state, path]() -> Result<std::shared_ptr<StateDb>> {
            if (state) return state;
            return StateDb::open(path);
        },
        options.kv_quota);
}

Services::~Services() = default;

std::optional<std::string> Services::getenv(const std::string& name) const {
    if (options.getenv) return options.getenv(name);
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
}

HostContext::HostContext(std::shared_ptr<Services> services, std::string plugin,
                         Permissions permissions, std::string folder,
                         std::shared_ptr<RateLimit> rate)
    : m_services(std::move(services)), m_plugin(std::move(plugin)),
      m_permissions(std::make_shared<const Permissions>(std::move(permissions))),
      m_folder(std::move(folder)), m_rate(rate ? std::move(rate) : std::make_shared<RateLimit>()) {}

void HostContext::set_permissions(Permissions permissions) {
    m_permissions.store(std::make_shared<const Permissions>(std::move(permissions)));
}

Result<void> HostContext::check(Permission permission, std::string_view argument) {
    return check_permission(m_plugin, *m_permissions.load(), permission, argument,
                            m_services->audit_log(), *m_rate);
}

bool HostContext::should_stop() const {
    const HostCall* c = m_call ? m_call : &m_idle;
    return c->should_stop && c->should_stop();
}

Result<HostContext*> PluginHost::context(CurrentPlugin& plugin) {
    if (auto* own = plugin.host_data<InstanceContext>(); own && own->context) return own->context;
    return context();
}

Result<HostContext*> PluginHost::context() {
    // `current` is only read by host functions, which run inside the call that set it.
    if (!current)
        return make_error(ErrorKind::usage, "a host function was called outside any plugin call");
    return current;
}

Activation::Activation(PluginHost& host, HostContext& context, HostCall& call)
    : m_lock(host.mutex), m_host(host), m_context(context) {
    context.set_call(&call);
    host.current = &context;
}

Activation::~Activation() {
    m_host.current = nullptr;
    m_context.set_call(nullptr);
}

tl::unexpected<Error> bad_request(std::string_view function, std::string_view what) {
    return make_error(ErrorKind::usage, fmt::format("{}: {}", function, what));
}

} // namespace kiln::hostfns
