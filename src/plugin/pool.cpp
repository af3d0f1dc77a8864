// PluginPool: instances of one compiled plugin, created on demand up to a maximum and reused.
#include <kiln/plugin.hpp>

#include <fmt/format.h>

namespace kiln {

PluginPool::PluginPool(std::shared_ptr<const CompiledPlugin> compiled, size_t max)
    : m_compiled(std::move(compiled)), m_max(max) {}
PluginPool::~PluginPool() = default;

PluginPool::Lease::~Lease() {
    if (m_pool && m_plugin) m_pool->give_back(std::move(m_plugin));
}

void PluginPool::give_back(std::unique_ptr<Plugin> plugin) {
    {
        std::lock_guard lock(m_mutex);
        m_free.push_back(std::move(plugin));
    }
    m_cv.notify_one();
}

Result<PluginPool::Lease> PluginPool::get(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!m_free.empty()) {
            auto p = std::move(m_free.back());
            m_free.pop_back();
            return Lease(this, std::move(p));
        }
        if (m_created < m_max) {
            ++m_created;
            lock.unlock();
            auto p = Plugin::create(m_compiled);
            if (!p) {
                std::lock_guard again(m_mutex);
                --m_created;
                return tl::unexpected(p.error());
            }
            return Lease(this, std::make_unique<Plugin>(std::move(*p)));
        }
        if (m_cv.wait_until(lock, until) == std::cv_status::timeout && m_free.empty() &&
            m_created >= m_max)
            return make_error(ErrorKind::limit,
                              fmt::format("no plugin instance free within {} ms ({} in use)",
                                          timeout.count(), m_max));
    }
}

} // namespace kiln
