// The event bus. Each endpoint has a mailbox and a `running` flag: only the thread that set the
// flag (a call into the endpoint through enter(), or a delivery) touches the endpoint's plugin,
// so a plugin is never re-entered and gets its events one at a time, in publish order. A thread
// inside an endpoint only queues what it publishes; the pump runs when the thread is inside
// none, one event per turn, so chains of events never nest on the native stack.
//
// What a thread is doing (how many endpoints it is inside, the depth of the event it is
// handling) is kept per bus in a map guarded by the bus's lock, not in a thread_local: two buses
// on one thread must not see each other's state.
#include <kiln/dispatch.hpp>

#include "base/text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace kiln {

namespace {

constexpr size_t max_topic_length = 256;

struct Endpoint {
    EventBus::EndpointId id = 0;
    std::string name;
    EventBus::Receiver receive;
    std::vector<std::string> patterns;
    std::deque<std::shared_ptr<const Event>> mail;
    bool running = false;
    std::thread::id owner; ///< the thread running it
    bool in_ready = false; ///< listed in Impl::ready
    bool detached = false;
};

/// What one thread is doing on one bus.
struct ThreadState {
    uint32_t inside = 0; ///< endpoints this thread is running (calls and deliveries)
    uint32_t depth = 0;  ///< depth of the event it is delivering; 0 outside deliveries
};

bool is_glob(std::string_view pattern) {
    return pattern.find_first_of("*?") != std::string_view::npos;
}

} // namespace

struct EventBus::Impl {
    EventBusOptions options;
    mutable std::mutex mutex;
    std::condition_variable idle; ///< an endpoint stopped running
    std::map<EndpointId, std::shared_ptr<Endpoint>> endpoints;
    /// Subscriptions to one topic, found by a lookup; glob patterns are matched one by one.
    std::unordered_map<std::string, std::vector<Endpoint*>> exact;
    std::vector<std::pair<std::string, Endpoint*>> globs;
    /// Endpoints with mail and not running, in the order they became so.
    std::deque<std::shared_ptr<Endpoint>> ready;
    std::unordered_map<std::thread::id, ThreadState> threads;
    EndpointId next_id = 1;
    Stats stats;
    std::vector<FailureListener> listeners;

    std::shared_ptr<Endpoint> find(EndpointId id) const {
        auto it = endpoints.find(id);
        return it == endpoints.end() ? nullptr : it->second;
    }
    /// Lists an endpoint as ready if it has mail and nobody runs it (lock held).
    void make_ready(const std::shared_ptr<Endpoint>& ep) {
        if (!ep->mail.empty() && !ep->running && !ep->in_ready && !ep->detached) {
            ep->in_ready = true;
            ready.push_back(ep);
        }
    }
    /// The thread's state, dropped once it is inside nothing (lock held).
    void settle(std::thread::id self) {
        auto it = threads.find(self);
        if (it != threads.end() && it->second.inside == 0 && it->second.depth == 0)
            threads.erase(it);
    }
    void remove_subscription(Endpoint* ep, const std::string& pattern) {
        if (is_glob(pattern)) {
            std::erase_if(globs,
                          [&](const auto& g) { return g.second == ep && g.first == pattern; });
            return;
        }
        auto it = exact.find(pattern);
        if (it == exact.end()) return;
        std::erase(it->second, ep);
        if (it->second.empty()) exact.erase(it);
    }
    /// Delivers queued events on this thread until no endpoint is ready.
    void pump();
};

EventBus::EventBus(EventBusOptions options) : m_impl(std::make_unique<Impl>()) {
    m_impl->options = options;
}

EventBus::~EventBus() = default;

Result<void> EventBus::check_topic(std::string_view topic, bool pattern) {
    const char* what = pattern ? "subscription pattern" : "topic";
    if (topic.empty() || topic.size() > max_topic_length)
        return make_error(ErrorKind::usage,
                          fmt::format("{} \"{}\": expected 1 to {} characters", what,
                                      escape_control(topic.substr(0, 64)), max_topic_length));
    for (char c : topic) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '/' ||
                        c == '-' || (pattern && (c == '*' || c == '?'));
        if (!ok)
            return make_error(ErrorKind::usage,
                              fmt::format("{} \"{}\": character '{}' is not allowed (letters, "
                                          "digits and ._:/-{})",
                                          what, escape_control(topic), escape_control({&c, 1}),
                                          pattern ? " and the globs * ?" : ""));
    }
    return {};
}

EventBus::EndpointId EventBus::attach(std::string name, Receiver receive) {
    std::lock_guard lock(m_impl->mutex);
    auto ep = std::make_shared<Endpoint>();
    ep->id = m_impl->next_id++;
    ep->name = std::move(name);
    ep->receive = std::move(receive);
    m_impl->endpoints.emplace(ep->id, ep);
    return ep->id;
}

void EventBus::detach(EndpointId endpoint) {
    std::unique_lock lock(m_impl->mutex);
    auto ep = m_impl->find(endpoint);
    if (!ep) return;
    // From now on nothing new is queued for it, and it is not made ready again.
    ep->detached = true;
    m_impl->idle.notify_all(); // callers waiting in enter() give up
    for (const std::string& p : ep->patterns)
        m_impl->remove_subscription(ep.get(), p);
    ep->patterns.clear();
    const auto self = std::this_thread::get_id();
    if (ep->running && ep->owner != self) m_impl->idle.wait(lock, [&] { return !ep->running; });
    m_impl->stats.dropped += ep->mail.size();
    m_impl->stats.queued -= ep->mail.size();
    ep->mail.clear();
    std::erase(m_impl->ready, ep);
    m_impl->endpoints.erase(endpoint);
}

Result<void> EventBus::subscribe(EndpointId endpoint, std::string_view pattern) {
    if (auto ok = check_topic(pattern, true); !ok) return ok;
    std::lock_guard lock(m_impl->mutex);
    auto ep = m_impl->find(endpoint);
    if (!ep) return make_error(ErrorKind::usage, fmt::format("no event endpoint {}", endpoint));
    if (std::find(ep->patterns.begin(), ep->patterns.end(), pattern) != ep->patterns.end())
        return {};
    ep->patterns.emplace_back(pattern);
    if (is_glob(pattern))
        m_impl->globs.emplace_back(std::string(pattern), ep.get());
    else
        m_impl->exact[std::string(pattern)].push_back(ep.get());
    return {};
}

bool EventBus::unsubscribe(EndpointId endpoint, std::string_view pattern) {
    std::lock_guard lock(m_impl->mutex);
    auto ep = m_impl->find(endpoint);
    if (!ep) return false;
    auto it = std::find(ep->patterns.begin(), ep->patterns.end(), pattern);
    if (it == ep->patterns.end()) return false;
    m_impl->remove_subscription(ep.get(), *it);
    ep->patterns.erase(it);
    return true;
}

std::vector<std::string> EventBus::subscriptions(EndpointId endpoint) const {
    std::lock_guard lock(m_impl->mutex);
    auto ep = m_impl->find(endpoint);
    return ep ? ep->patterns : std::vector<std::string>{};
}

Result<EventBus::EndpointId> EventBus::subscribe(std::string_view pattern,
                                                 std::function<void(const Event&)> handler) {
    if (auto ok = check_topic(pattern, true); !ok) return tl::unexpected(ok.error());
    EndpointId id = attach("host", [handler = std::move(handler)](const Event& e) -> Result<void> {
        handler(e);
        return {};
    });
    (void)subscribe(id, pattern); // checked above; the endpoint was just made
    return id;
}

Result<void> EventBus::publish(std::string_view topic, std::string_view data,
                               std::string_view source) {
    Impl& impl = *m_impl;
    auto refuse = [&](Error error) -> Result<void> {
        std::lock_guard lock(impl.mutex);
        ++impl.stats.refused;
        return tl::unexpected(std::move(error));
    };
    if (auto ok = check_topic(topic, false); !ok) return refuse(ok.error());
    if (!nlohmann::json::accept(data))
        return refuse(Error{ErrorKind::usage,
                            fmt::format("event \"{}\": the data is not JSON", topic), nullptr});
    std::unique_lock lock(impl.mutex);
    const auto self = std::this_thread::get_id();
    auto ts = impl.threads.find(self);
    const uint32_t depth = (ts == impl.threads.end() ? 0 : ts->second.depth) + 1;
    if (depth > impl.options.max_depth) {
        ++impl.stats.refused;
        return make_error(ErrorKind::limit,
                          fmt::format("event storm: \"{}\" published by {} while handling a chain "
                                      "of {} events, each published by the handler of the last "
                                      "(at most {}): does a subscriber publish to a topic it "
                                      "subscribes to?",
                                      topic, escape_control(source), depth - 1,
                                      impl.options.max_depth));
    }
    std::vector<Endpoint*> targets;
    if (auto it = impl.exact.find(std::string(topic)); it != impl.exact.end()) targets = it->second;
    for (const auto& [pattern, ep] : impl.globs)
        if (glob_match(pattern, topic) &&
            std::find(targets.begin(), targets.end(), ep) == targets.end())
            targets.push_back(ep);
    if (impl.stats.queued + targets.size() > impl.options.max_queued) {
        ++impl.stats.refused;
        return make_error(ErrorKind::limit,
                          fmt::format("event queue full: \"{}\" published by {} would make more "
                                      "than {} events wait for delivery (does a subscriber "
                                      "publish faster than it handles, or to a topic it "
                                      "subscribes to?)",
                                      topic, escape_control(source), impl.options.max_queued));
    }
    ++impl.stats.published;
    if (!targets.empty()) {
        auto event = std::make_shared<const Event>(
            Event{std::string(topic), std::string(data), std::string(source), depth});
        for (Endpoint* ep : targets) {
            ep->mail.push_back(event);
            ++impl.stats.queued;
            impl.make_ready(impl.endpoints.at(ep->id));
        }
    }
    const bool inside = ts != impl.threads.end() && ts->second.inside > 0;
    lock.unlock();
    if (!inside) impl.pump();
    return {};
}

void EventBus::Impl::pump() {
    const auto self = std::this_thread::get_id();
    std::unique_lock lock(mutex);
    while (!ready.empty()) {
        std::shared_ptr<Endpoint> ep = std::move(ready.front());
        ready.pop_front();
        ep->in_ready = false;
        if (ep->running || ep->detached || ep->mail.empty()) continue;
        std::shared_ptr<const Event> event = std::move(ep->mail.front());
        ep->mail.pop_front();
        --stats.queued;
        ep->running = true;
        ep->owner = self;
        ThreadState& ts = threads[self];
        const uint32_t outer_depth = ts.depth;
        ts.depth = event->depth;
        ++ts.inside;
        lock.unlock();
        Result<void> result = ep->receive(*event);
        lock.lock();
        ThreadState& after = threads[self];
        --after.inside;
        after.depth = outer_depth;
        settle(self);
        ep->running = false;
        // Its next event waits behind the endpoints that became ready meanwhile.
        make_ready(ep);
        idle.notify_all();
        if (result) {
            ++stats.delivered;
            continue;
        }
        ++stats.failed;
        std::vector<FailureListener> copy = listeners;
        lock.unlock();
        for (const auto& l : copy)
            l(*event, ep->name, result.error());
        lock.lock();
    }
}

Result<void> EventBus::enter(EndpointId endpoint) {
    std::unique_lock lock(m_impl->mutex);
    auto ep = m_impl->find(endpoint);
    if (!ep) return make_error(ErrorKind::usage, fmt::format("no event endpoint {}", endpoint));
    const auto self = std::this_thread::get_id();
    if (ep->running && ep->owner == self)
        return make_error(ErrorKind::usage,
                          fmt::format("{} is running on this thread: a call into it from inside "
                                      "itself is refused (re-entrant call)",
                                      ep->name));
    m_impl->idle.wait(lock, [&] { return !ep->running || ep->detached; });
    if (ep->detached)
        return make_error(ErrorKind::usage, fmt::format("{} was detached from the bus", ep->name));
    ep->running = true;
    ep->owner = self;
    ++m_impl->threads[self].inside;
    return {};
}

void EventBus::leave(EndpointId endpoint) {
    std::unique_lock lock(m_impl->mutex);
    const auto self = std::this_thread::get_id();
    auto ep = m_impl->find(endpoint);
    if (ep && ep->running && ep->owner == self) {
        ep->running = false;
        m_impl->make_ready(ep);
        m_impl->idle.notify_all();
    }
    auto ts = m_impl->threads.find(self);
    if (ts == m_impl->threads.end()) return;
    if (ts->second.inside > 0) --ts->second.inside;
    const bool outermost = ts->second.inside == 0;
    m_impl->settle(self);
    lock.unlock();
    if (outermost) m_impl->pump();
}

void EventBus::on_failure(FailureListener listener) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->listeners.push_back(std::move(listener));
}

EventBus::Stats EventBus::stats() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->stats;
}

const EventBusOptions& EventBus::options() const {
    return m_impl->options;
}

} // namespace kiln
