// The runtime of a graph: a mailbox per in-port, a pool of workers, one message at a time per
// node.
//
// One mutex guards every queue and flag. A node is ready when it is not running, has a message
// and has nothing waiting in its outbox; workers take ready nodes in order. A message to a full
// `wait` mailbox goes to the sender's outbox, after which the sender (whose call goes on)
// processes nothing more until the outbox is delivered: backpressure that never blocks a worker.
// An outside sender waits instead. A connection with its own mailbox bound is a lane of the
// in-port's mailbox: its messages count against that bound alone and its overflow policy applies
// to them, while the in-port's bound counts the others; all are taken in arrival order.
// `pending` counts messages in mailboxes and outboxes plus running calls; the network is idle
// when it is zero.
#include "actors/resolve.hpp"
#include "base/result.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace kiln {

namespace {

using actors::Json;

struct Node;

/// A connection's far end: a node, the index of its in-port and, for a connection with its own
/// mailbox bound, the index of its lane there.
struct Route {
    Node* target;
    size_t port;
    std::optional<size_t> lane;
};

/// The messages of one connection with its own bound in an in-port's mailbox.
struct Lane {
    MailboxConfig mailbox;
    size_t queued = 0;
};

struct InPort {
    std::string name;
    MailboxConfig mailbox;
    size_t queued = 0; ///< messages in no lane
    std::vector<Lane> lanes;
    std::vector<Node*> waiting; ///< senders whose outbox waits for room here
};

struct Envelope {
    size_t port;
    std::optional<size_t> lane;
    Message message;
};

struct Pending {
    Route route;
    Message message;
};

struct Node {
    std::string id;
    std::string component;
    NodeConfig config;
    actors::NodeSettings settings;
    std::unique_ptr<actors::Actor> actor;
    std::string plugin; ///< the plugin of the plugin folders it runs, for hot reload
    Json state = Json::object();
    std::vector<InPort> inports;
    std::map<std::string, std::vector<Route>, std::less<>> routes; ///< out-port -> connections
    std::map<std::string, std::vector<std::string>, std::less<>> exposed; ///< out-port -> names
    std::deque<Envelope> inbox;
    std::deque<Pending> outbox;
    bool running = false;
    bool ready = false;   ///< in the ready queue
    bool stopped = false; ///< failed with on_error stop: drops what comes
    int paused = 0;       ///< swaps waiting to replace the actor: it takes no new message

    std::optional<size_t> inport(std::string_view name) const {
        for (size_t i = 0; i < inports.size(); ++i)
            if (inports[i].name == name) return i;
        return std::nullopt;
    }
    size_t add_inport(const std::string& name) {
        if (auto i = inport(name)) return *i;
        InPort p;
        p.name = name;
        auto it = settings.mailbox.ports.find(name);
        p.mailbox = it == settings.mailbox.ports.end() ? settings.mailbox.all : it->second;
        inports.push_back(std::move(p));
        return inports.size() - 1;
    }
};

} // namespace

struct Network::Impl {
    Graph graph;
    NetworkOptions options;
    std::vector<GraphProblem> warnings;
    std::vector<std::unique_ptr<Node>> nodes;

    mutable std::mutex mutex;
    std::condition_variable work_cv;         ///< workers: a node is ready, or stop
    mutable std::condition_variable wait_cv; ///< idle, room in a mailbox, a call ended
    std::deque<Node*> ready;
    size_t pending = 0;
    bool started = false;
    bool halted = false; ///< stopped by cancel or a fail-fast failure: everything is dropped
    bool stop_workers = false;
    std::optional<std::string> failure;
    NetworkStats stats;
    std::vector<std::thread> workers;
    std::mutex output_mutex;
    std::mutex log_mutex;

    /// The network as hot reloads from the manager reach it; cleared when it ends.
    struct ReloadHook {
        std::mutex mutex;
        Impl* impl = nullptr;
    };
    std::shared_ptr<ReloadHook> hook;

    /// The in-port `port` of node `node` (port names as the graph spells them); a usage
    /// error naming what is not there.
    Result<std::pair<Node*, size_t>> inport_of(std::string_view node, std::string_view port) const;
    Node* find(std::string_view id) const {
        for (const auto& n : nodes)
            if (n->id == id) return n.get();
        return nullptr;
    }

    void log(LogLevel level, std::string line) {
        if (options.log) return options.log(level, line);
        if (level < LogLevel::warn) return; // stderr gets what needs attention
        std::lock_guard lock(log_mutex);
        fmt::print(stderr, "kiln: {}: {}\n", log_level_name(level), line);
    }

    void schedule(Node& n) {
        if (!started || halted || n.running || n.ready || n.stopped || n.paused ||
            n.inbox.empty() || !n.outbox.empty())
            return;
        n.ready = true;
        ready.push_back(&n);
        work_cv.notify_one();
    }

    /// How many messages of the lane (or of no lane) the in-port holds.
    static size_t& queued(InPort& ip, std::optional<size_t> lane) {
        return lane ? ip.lanes[*lane].queued : ip.queued;
    }

    void enqueue(Node& t, size_t port, std::optional<size_t> lane, Message message) {
        t.inbox.push_back({port, lane, std::move(message)});
        ++queued(t.inports[port], lane);
        ++pending;
        ++stats.sent;
        schedule(t);
    }

    /// Drops everything queued for a node that stopped.
    void drain_stopped(Node& n) {
        stats.dropped += n.inbox.size();
        pending -= n.inbox.size();
        n.inbox.clear();
        // Senders waiting for room here go on: what they hold for this node is dropped.
        for (InPort& p : n.inports) {
            p.queued = 0;
            for (Lane& l : p.lanes)
                l.queued = 0;
            room_at(p);
        }
    }

    /// Puts a message into the target's mailbox, or applies the overflow policy of its lane (or
    /// of the in-port); false when that is full and its policy is to wait (nothing was done).
    bool place(const Route& to, Message& message) {
        Node& t = *to.target;
        if (halted || t.stopped) {
            ++stats.dropped;
            return true;
        }
        InPort& ip = t.inports[to.port];
        const MailboxConfig& bound = to.lane ? ip.lanes[*to.lane].mailbox : ip.mailbox;
        if (queued(ip, to.lane) < bound.capacity) {
            enqueue(t, to.port, to.lane, std::move(message));
            return true;
        }
        switch (bound.overflow) {
        case Overflow::wait: return false;
        case Overflow::drop_newest: ++stats.dropped; return true;
        case Overflow::drop_oldest: {
            // The oldest of the same lane: a connection's policy never drops another's messages.
            auto it = std::find_if(t.inbox.begin(), t.inbox.end(), [&](const Envelope& e) {
                return e.port == to.port && e.lane == to.lane;
            });
            if (it != t.inbox.end()) {
                t.inbox.erase(it);
                --queued(ip, to.lane);
                --pending;
                ++stats.dropped;
            }
            enqueue(t, to.port, to.lane, std::move(message));
            return true;
        }
        }
        return true;
    }

    /// Delivers from a node: in order behind anything its outbox holds.
    void deliver(Node& sender, const Route& route, Message message) {
        if (sender.outbox.empty() && place(route, message)) return;
        if (halted) {
            ++stats.dropped;
            return;
        }
        sender.outbox.push_back({route, std::move(message)});
        ++pending;
        if (sender.outbox.size() == 1) wait_for_room(sender, *route.target, route.port);
    }

    void wait_for_room(Node& sender, Node& target, size_t port) {
        auto& w = target.inports[port].waiting;
        if (std::find(w.begin(), w.end(), &sender) == w.end()) w.push_back(&sender);
    }

    /// Moves what a node's outbox holds into mailboxes, in order, as far as there is room.
    void flush(Node& sender) {
        while (!sender.outbox.empty()) {
            Pending& p = sender.outbox.front();
            if (!place(p.route, p.message)) {
                wait_for_room(sender, *p.route.target, p.route.port);
                return;
            }
            sender.outbox.pop_front();
            --pending;
        }
        schedule(sender);
    }

    /// A message left an in-port's mailbox: the senders waiting for room there try again.
    void room_at(InPort& port) {
        if (!port.waiting.empty()) {
            std::vector<Node*> waiting;
            waiting.swap(port.waiting);
            for (Node* s : waiting)
                flush(*s);
        }
    }

    /// A message a node sends from an out-port: to the exposed out-ports, then along its
    /// connections. Called on the node's worker, without the lock.
    void emit(Node& node, std::string_view port_as_given, Message message) {
        const std::string port = graph.port_name(port_as_given);
        if (auto it = node.exposed.find(port); it != node.exposed.end() && options.on_output) {
            std::lock_guard lock(output_mutex);
            for (const std::string& name : it->second)
                options.on_output(OutputEvent{name, node.id, port, message});
        }
        auto it = node.routes.find(port);
        if (it == node.routes.end()) return;
        std::lock_guard lock(mutex);
        const auto& routes = it->second;
        for (size_t i = 0; i < routes.size(); ++i)
            deliver(node, routes[i], i + 1 == routes.size() ? std::move(message) : message);
    }

    class CallOutlet final : public actors::Outlet {
    public:
        CallOutlet(Impl& impl, Node& node) : m_impl(impl), m_node(node) {}
        void send(std::string_view port, Message message) override {
            m_impl.emit(m_node, port, std::move(message));
        }
        void log(LogLevel level, std::string line) override {
            m_impl.log(level, fmt::format("node {}: {}", m_node.id, line));
        }

    private:
        Impl& m_impl;
        Node& m_node;
    };

    void run(Node& node, Envelope& envelope) {
        CallOutlet outlet(*this, node);
        ActorContext::Call call{node.id,
                                node.component,
                                node.inports[envelope.port].name,
                                envelope.message,
                                node.config,
                                node.state,
                                outlet};
        auto result = node.actor->process(call);
        if (call.state_changed && node.settings.persist && options.state_store)
            if (auto saved =
                    options.state_store->save(graph.name, node.id, actors::dump_json(node.state));
                !saved)
                log(LogLevel::error,
                    fmt::format("node {}: state not saved: {}", node.id, saved.error().message));
        if (result) return;
        const std::string& text = result.error().message;
        log(LogLevel::warn, fmt::format("node {}: process failed: {}", node.id, text));
        emit(node, "error", Message::error(text));
        std::lock_guard lock(mutex);
        ++stats.failed;
        if (node.settings.stop_on_error) {
            node.stopped = true;
            drain_stopped(node);
        }
        if (options.fail_fast && !halted) {
            failure = fmt::format("node {}: {}", node.id, text);
            halt();
        }
    }

    /// Drops everything queued and cancels the running calls (the lock is held).
    void halt() {
        halted = true;
        for (auto& n : nodes) {
            drain_stopped(*n);
            pending -= n->outbox.size();
            stats.dropped += n->outbox.size();
            n->outbox.clear();
            for (InPort& p : n->inports)
                p.waiting.clear();
            if (n->running) n->actor->cancel();
        }
        ready.clear();
        for (auto& n : nodes)
            n->ready = false;
        work_cv.notify_all();
        wait_cv.notify_all();
    }

    void worker() {
        std::unique_lock lock(mutex);
        while (true) {
            work_cv.wait(lock, [&] { return stop_workers || halted || !ready.empty(); });
            if (halted || (stop_workers && ready.empty())) return;
            Node& n = *ready.front();
            ready.pop_front();
            n.ready = false;
            if (n.running || n.inbox.empty() || !n.outbox.empty() || n.stopped || n.paused)
                continue;
            Envelope envelope = std::move(n.inbox.front());
            n.inbox.pop_front();
            InPort& ip = n.inports[envelope.port];
            --queued(ip, envelope.lane);
            n.running = true;
            ++stats.processed; // counted as it starts: a failure may halt before it ends
            room_at(ip);
            wait_cv.notify_all(); // room for outside senders
            lock.unlock();
            run(n, envelope);
            lock.lock();
            n.running = false;
            --pending;
            schedule(n);
            wait_cv.notify_all();
        }
    }

    /// A message from outside (initial packets, send()): waits for room in a `wait` mailbox.
    /// An initial packet to a network that stopped meanwhile (fail_fast) is dropped.
    Result<void> send_from_outside(Node& t, size_t port, Message message, bool initial = false) {
        std::unique_lock lock(mutex);
        while (true) {
            if (initial && halted) {
                ++stats.dropped;
                return {};
            }
            if (halted || stop_workers)
                return make_error(ErrorKind::usage, "the network is stopped");
            if (place(Route{&t, port, std::nullopt}, message)) return {};
            if (!started)
                return make_error(ErrorKind::limit,
                                  fmt::format("node {}: in-port {}: mailbox full and the network "
                                              "is not started",
                                              t.id, t.inports[port].name));
            wait_cv.wait(lock);
        }
    }

    /// Replaces a node's actor once its running call ends; state and mailboxes stay.
    void replace(Node& n, std::unique_ptr<actors::Actor> actor, std::string plugin) {
        std::unique_ptr<actors::Actor> old;
        {
            // Paused, the node takes no new message, so the running call is the last of the
            // old actor even while messages keep coming.
            std::unique_lock lock(mutex);
            ++n.paused;
            wait_cv.wait(lock, [&] { return !n.running; });
            old = std::move(n.actor);
            n.actor = std::move(actor);
            n.plugin = std::move(plugin);
            --n.paused;
            schedule(n);
        }
        log(LogLevel::info, fmt::format("node {}: now runs {}", n.id, n.actor->info().source));
    }

    /// The manager reloaded a plugin: every node running it gets the new version.
    void reloaded(const std::string& plugin) {
        actors::Resolver resolver(graph, options);
        auto source = resolver.plugin_source(plugin);
        for (auto& n : nodes) {
            if (n->plugin != plugin) continue;
            if (!source) {
                log(LogLevel::error, fmt::format("node {}: reload of plugin {} failed, the old "
                                                 "version runs on: {}",
                                                 n->id, plugin, source.error().message));
                continue;
            }
            auto actor =
                actors::make_wasm_actor(options.engine, **source, n->id, options.plugin_options);
            if (!actor) {
                log(LogLevel::error, fmt::format("node {}: reload of plugin {} failed, the old "
                                                 "version runs on: {}",
                                                 n->id, plugin, actor.error().message));
                continue;
            }
            replace(*n, std::move(*actor), plugin);
        }
    }

    void join() {
        for (std::thread& t : workers)
            if (t.joinable()) t.join();
        workers.clear();
    }
};

Network::Network(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Network::~Network() {
    if (m_impl->hook) {
        std::lock_guard lock(m_impl->hook->mutex);
        m_impl->hook->impl = nullptr;
    }
    stop(StopMode::cancel);
}

Result<std::unique_ptr<Network>> Network::create(Graph graph, NetworkOptions options) {
    GraphReport report = check_graph(graph, options);
    if (!report.valid()) {
        std::string text;
        for (const GraphProblem& p : report.problems)
            if (p.severity == GraphProblem::Severity::error)
                text += (text.empty() ? "" : "; ") + p.message;
        return make_error(ErrorKind::invalid, fmt::format("graph {}: {}", graph.name, text));
    }
    auto impl = std::make_unique<Impl>();
    impl->graph = std::move(graph);
    impl->options = std::move(options);
    for (GraphProblem& p : report.problems)
        impl->warnings.push_back(std::move(p));
    const Graph& g = impl->graph;
    const NetworkOptions& o = impl->options;
    actors::Resolver resolver(g, o);
    for (const GraphNode& gn : g.nodes) {
        auto node = std::make_unique<Node>();
        node->id = gn.id;
        node->component = gn.component;
        auto settings = actors::node_settings(gn, g);
        if (!settings) return tl::unexpected(settings.error());
        node->settings = std::move(*settings);
        auto config =
            resolve_node_config(gn, [&](const std::string& n) { return resolver.getenv(n); });
        if (!config) return tl::unexpected(config.error());
        node->config = std::move(*config);
        auto found = resolver.find(gn);
        if (!found) return tl::unexpected(found.error());
        auto actor = actors::make_actor(*found, gn, o);
        if (!actor) return tl::unexpected(actor.error());
        node->actor = std::move(*actor);
        if (found->wasm) node->plugin = found->wasm->plugin;
        if (found->info.spec) {
            node->settings.stop_on_error |= found->info.spec->stop_on_error;
            for (const PortSpec& p : found->info.spec->inports)
                node->add_inport(g.port_name(p.name));
        }
        if (node->settings.persist && o.state_store) {
            auto saved = o.state_store->load(g.name, gn.id);
            if (!saved) return tl::unexpected(saved.error());
            if (*saved) {
                auto state =
                    actors::parse_json(**saved, fmt::format("node {}: saved state", gn.id));
                if (!state) return tl::unexpected(state.error());
                if (state->is_object()) node->state = std::move(*state);
            }
        }
        impl->nodes.push_back(std::move(node));
    }
    for (const GraphConnection& c : g.connections) {
        Node* to = impl->find(c.to.node);
        size_t port = to->add_inport(c.to.port);
        if (c.is_initial()) continue;
        InPort& ip = to->inports[port];
        auto mailbox = actors::connection_mailbox(c, ip.mailbox);
        if (!mailbox) return tl::unexpected(mailbox.error());
        std::optional<size_t> lane;
        if (*mailbox) {
            lane = ip.lanes.size();
            ip.lanes.push_back(Lane{**mailbox});
        }
        impl->find(c.from.node)->routes[c.from.port].push_back(Route{to, port, lane});
    }
    for (const auto& [name, p] : g.inports)
        impl->find(p.node)->add_inport(p.port);
    for (const auto& [name, p] : g.outports)
        impl->find(p.node)->exposed[p.port].push_back(name);
    if (o.manager) {
        impl->hook = std::make_shared<Impl::ReloadHook>();
        impl->hook->impl = impl.get();
        o.manager->on_event([hook = impl->hook](const ManagerEvent& e) {
            if (e.kind != ManagerEvent::Kind::reloaded) return;
            std::lock_guard lock(hook->mutex);
            if (hook->impl) hook->impl->reloaded(e.plugin);
        });
    }
    return std::unique_ptr<Network>(new Network(std::move(impl)));
}

const std::vector<GraphProblem>& Network::warnings() const {
    return m_impl->warnings;
}

Result<void> Network::start() {
    Impl& impl = *m_impl;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.started) return make_error(ErrorKind::usage, "the network is already started");
        if (impl.halted || impl.stop_workers)
            return make_error(ErrorKind::usage, "the network is stopped");
        impl.started = true;
        size_t threads = impl.options.threads;
        if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
        for (size_t i = 0; i < threads; ++i)
            impl.workers.emplace_back([&impl] { impl.worker(); });
        // What was sent before start.
        for (auto& n : impl.nodes)
            impl.schedule(*n);
    }
    for (const GraphConnection& c : impl.graph.connections) {
        if (!c.is_initial()) continue;
        auto message = Message::from_plain(*c.data);
        if (!message) return tl::unexpected(message.error());
        Node* to = impl.find(c.to.node);
        if (auto sent =
                impl.send_from_outside(*to, *to->inport(c.to.port), std::move(*message), true);
            !sent)
            return sent;
    }
    return {};
}

Result<std::pair<Node*, size_t>> Network::Impl::inport_of(std::string_view node,
                                                          std::string_view port) const {
    Node* n = find(node);
    if (!n) return make_error(ErrorKind::usage, fmt::format("no node {}", node));
    auto index = n->inport(graph.port_name(port));
    if (!index) {
        std::string ports;
        for (const InPort& p : n->inports)
            ports += (ports.empty() ? "" : ", ") + p.name;
        return make_error(ErrorKind::usage,
                          fmt::format("node {} has no in-port {} (in-ports: {})", node, port,
                                      ports.empty() ? "none" : ports));
    }
    return std::pair{n, *index};
}

Result<void> Network::accepts(std::string_view node, std::string_view port) const {
    KILN_CHECK(m_impl->inport_of(node, port));
    return {};
}

Result<void> Network::send(std::string_view node, std::string_view port, Message message) {
    KILN_TRY(to, m_impl->inport_of(node, port));
    return m_impl->send_from_outside(*to.first, to.second, std::move(message));
}

Result<void> Network::send_inport(std::string_view name, Message message) {
    for (const auto& [exposed, p] : m_impl->graph.inports)
        if (exposed == name) return send(p.node, p.port, std::move(message));
    return make_error(ErrorKind::usage, fmt::format("the graph has no inport {}", name));
}

bool Network::wait_idle(std::optional<std::chrono::milliseconds> timeout) {
    Impl& impl = *m_impl;
    std::unique_lock lock(impl.mutex);
    auto done = [&] { return impl.halted || impl.pending == 0; };
    if (timeout) {
        if (!impl.wait_cv.wait_for(lock, *timeout, done)) return false;
    } else {
        impl.wait_cv.wait(lock, done);
    }
    return !impl.halted;
}

void Network::stop(StopMode mode) {
    Impl& impl = *m_impl;
    {
        std::unique_lock lock(impl.mutex);
        if (mode == StopMode::drain && impl.started)
            impl.wait_cv.wait(lock, [&] { return impl.halted || impl.pending == 0; });
        else if (!impl.halted)
            impl.halt();
        impl.stop_workers = true;
        impl.work_cv.notify_all();
        impl.wait_cv.notify_all();
    }
    impl.join();
}

std::optional<std::string> Network::failure() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->failure;
}

Result<std::string> Network::state(std::string_view node) const {
    Node* n = m_impl->find(node);
    if (!n) return make_error(ErrorKind::usage, fmt::format("no node {}", node));
    std::unique_lock lock(m_impl->mutex);
    ++n->paused; // as for a swap: the node takes no new message until its state is read
    m_impl->wait_cv.wait(lock, [&] { return !n->running; });
    std::string state = actors::dump_json(n->state);
    --n->paused;
    m_impl->schedule(*n);
    return state;
}

Result<void> Network::swap(std::string_view node, const Manifest& manifest) {
    Node* n = m_impl->find(node);
    if (!n) return make_error(ErrorKind::usage, fmt::format("no node {}", node));
    const NetworkOptions& o = m_impl->options;
    auto source = actors::load_wasm_source(o.engine, manifest, "", o.plugin_options);
    if (!source) return tl::unexpected(source.error());
    auto actor = actors::make_wasm_actor(o.engine, *source, n->id, o.plugin_options);
    if (!actor) return tl::unexpected(actor.error());
    m_impl->replace(*n, std::move(*actor), "");
    return {};
}

Result<void> Network::swap(std::string_view node, NativeComponent component) {
    Node* n = m_impl->find(node);
    if (!n) return make_error(ErrorKind::usage, fmt::format("no node {}", node));
    m_impl->replace(*n, actors::make_native_actor(n->id, std::move(component)), "");
    return {};
}

Result<ResolvedNode> Network::node(std::string_view id) const {
    Node* n = m_impl->find(id);
    if (!n) return make_error(ErrorKind::usage, fmt::format("no node {}", id));
    std::lock_guard lock(m_impl->mutex);
    ResolvedNode info = n->actor->info();
    info.component = n->component;
    return info;
}

NetworkStats Network::stats() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->stats;
}

} // namespace kiln
