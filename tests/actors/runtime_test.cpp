// The runtime on native components: initial packets, fan-out and fan-in, exposed ports, error
// ports, mailbox bounds per in-port and per connection (waiting senders, dropped messages), one
// message at a time per node in parallel across nodes, idle detection, stopping, persisted state
// and hot swap.
#include "manager_test_util.hpp"

#include <kiln/actors.hpp>
#include <kiln/state_db.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace kiln {
namespace {

using namespace std::chrono_literals;

/// What left the exposed out-ports, in order.
struct Outputs {
    std::mutex mutex;
    std::vector<std::pair<std::string, Message>> list;
    std::function<void(const OutputEvent&)> sink() {
        return [this](const OutputEvent& e) {
            std::lock_guard lock(mutex);
            list.emplace_back(std::string(e.port), e.message);
        };
    }
    std::vector<std::string> texts(std::string_view port) {
        std::lock_guard lock(mutex);
        std::vector<std::string> out;
        for (const auto& [p, m] : list)
            if (p == port) out.push_back(m.kind() == MessageKind::string ? m.text() : m.to_plain());
        return out;
    }
};

/// Opens once, from any thread; waiters give up after five seconds.
class Gate {
public:
    void open() {
        std::lock_guard lock(m_mutex);
        m_open = true;
        m_cv.notify_all();
    }
    bool wait() {
        std::unique_lock lock(m_mutex);
        return m_cv.wait_for(lock, 5s, [&] { return m_open; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_open = false;
};

NativeComponent make(std::string name, std::vector<std::string> in, std::vector<std::string> out,
                     std::function<Result<void>(ActorContext&)> fn) {
    NativeComponent c;
    c.spec.component = std::move(name);
    for (auto& p : in)
        c.spec.inports.push_back({p, "", "Any", false});
    for (auto& p : out)
        c.spec.outports.push_back({p, "", "Any", false});
    c.process = std::move(fn);
    return c;
}

/// Sends what it gets on `out`, with the config's prefix in front of strings.
NativeComponent relay() {
    return make("Relay", {"in"}, {"out"}, [](ActorContext& ctx) -> Result<void> {
        if (ctx.message().kind() != MessageKind::string) {
            ctx.send("out", ctx.message());
            return {};
        }
        auto config = nlohmann::json::parse(ctx.config());
        ctx.send("out", Message::string(config.value("prefix", "") + ctx.message().text()));
        return {};
    });
}

Graph graph(std::string_view text) {
    auto g = Graph::parse(text);
    EXPECT_TRUE(g) << (g ? "" : g.error().message);
    return g ? *g : Graph();
}

std::unique_ptr<Network> network(std::string_view text, NetworkOptions options) {
    auto n = Network::create(graph(text), std::move(options));
    EXPECT_TRUE(n) << (n ? "" : n.error().message);
    return n ? std::move(*n) : nullptr;
}

TEST(ActorRuntime, InitialPacketsFanOutAndFanIn) {
    Outputs outputs;
    NetworkOptions o;
    o.add_component(relay());
    o.on_output = outputs.sink();
    auto net = network(R"({"processes": {
        "src": {"component": "Relay"},
        "a": {"component": "Relay", "metadata": {"prefix": "a:"}},
        "b": {"component": "Relay", "metadata": {"prefix": "b:"}},
        "join": {"component": "Relay"}},
      "connections": [
        {"data": "1", "to": {"nodeId": "src", "portId": "in"}},
        {"data": "2", "to": {"nodeId": "src", "portId": "in"}},
        {"from": {"nodeId": "src", "portId": "out"}, "to": {"nodeId": "a", "portId": "in"}},
        {"from": {"nodeId": "src", "portId": "out"}, "to": {"nodeId": "b", "portId": "in"}},
        {"from": {"nodeId": "a", "portId": "out"}, "to": {"nodeId": "join", "portId": "in"}},
        {"from": {"nodeId": "b", "portId": "out"}, "to": {"nodeId": "join", "portId": "in"}}],
      "outports": {"joined": {"nodeId": "join", "portId": "out"},
                   "tap": {"nodeId": "src", "portId": "out"}}})",
                       o);
    ASSERT_TRUE(net);
    ASSERT_TRUE(net->start());
    ASSERT_TRUE(net->wait_idle(5s));
    // An exposed port that is also connected gets everything the port sends, in order.
    EXPECT_EQ(outputs.texts("tap"), (std::vector<std::string>{"1", "2"}));
    auto joined = outputs.texts("joined");
    std::sort(joined.begin(), joined.end());
    EXPECT_EQ(joined, (std::vector<std::string>{"a:1", "a:2", "b:1", "b:2"}));
    NetworkStats s = net->stats();
    EXPECT_EQ(s.processed, 2u + 2u + 2u + 4u);
    EXPECT_EQ(s.failed, 0u);
    // Initial packets are sent once: starting again is refused.
    EXPECT_FALSE(net->start());
}

TEST(ActorRuntime, ContextGivesConfigEnvAndState) {
    Outputs outputs;
    NetworkOptions o;
    o.getenv = [](const std::string& n) -> std::optional<std::string> {
        if (n == "TOKEN") return "t0k";
        return std::nullopt;
    };
    o.add_component(make("Look", {"in"}, {"out"}, [](ActorContext& ctx) -> Result<void> {
        auto n = ctx.state("n");
        int64_t count = n ? std::stoll(*n) : 0;
        if (auto ok = ctx.set_state("n", std::to_string(count + 1)); !ok) return ok;
        EXPECT_FALSE(ctx.set_state("bad", "{"));
        ctx.send("out", Message::string(ctx.node_id() + "|" + ctx.component() + "|" + ctx.port() +
                                        "|" + ctx.config() + "|" + ctx.env("TOKEN").value_or("-") +
                                        "|" + ctx.state_json()));
        return {};
    }));
    o.on_output = outputs.sink();
    auto net = network(R"({"processes": {"look": {"component": "Look",
        "metadata": {"k": [1], "env_vars": {"TOKEN": "required"}, "on_error": "continue"}}},
      "connections": [{"data": true, "to": {"nodeId": "look", "portId": "in"}},
                      {"data": true, "to": {"nodeId": "look", "portId": "in"}}],
      "outports": {"o": {"nodeId": "look", "portId": "out"}}})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(5s));
    EXPECT_EQ(outputs.texts("o"),
              (std::vector<std::string>{R"(look|Look|in|{"k":[1],"TOKEN":"t0k"}|t0k|{"n":1})",
                                        R"(look|Look|in|{"k":[1],"TOKEN":"t0k"}|t0k|{"n":2})"}));
    EXPECT_EQ(*net->state("look"), R"({"n":2})");
}

TEST(ActorRuntime, FailuresGoToTheErrorPortAndTheLog) {
    Outputs outputs;
    std::vector<std::string> log;
    std::mutex log_mutex;
    NetworkOptions o;
    o.add_component(make("Picky", {"in"}, {"out"}, [](ActorContext& ctx) -> Result<void> {
        if (ctx.message().text() == "bad") return make_error(ErrorKind::plugin, "I refuse");
        ctx.send("out", ctx.message());
        return {};
    }));
    o.add_component(relay());
    o.on_output = outputs.sink();
    o.log = [&](LogLevel level, std::string_view line) {
        std::lock_guard lock(log_mutex);
        log.push_back(std::string(log_level_name(level)) + " " + std::string(line));
    };
    auto net = network(R"({"processes": {"p": {"component": "Picky"},
        "q": {"component": "Picky"}, "errs": {"component": "Relay"}},
      "connections": [
        {"data": "bad", "to": {"nodeId": "p", "portId": "in"}},
        {"data": "good", "to": {"nodeId": "p", "portId": "in"}},
        {"data": "bad", "to": {"nodeId": "q", "portId": "in"}},
        {"from": {"nodeId": "p", "portId": "error"}, "to": {"nodeId": "errs", "portId": "in"}}],
      "outports": {"out": {"nodeId": "p", "portId": "out"},
                   "errors": {"nodeId": "errs", "portId": "out"}}})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(5s));
    // The node went on with its next message.
    EXPECT_EQ(outputs.texts("out"), (std::vector<std::string>{"good"}));
    std::lock_guard lock(outputs.mutex);
    bool routed = false;
    for (const auto& [port, m] : outputs.list)
        if (port == "errors") {
            EXPECT_EQ(m, Message::error("I refuse"));
            routed = true;
        }
    EXPECT_TRUE(routed);
    EXPECT_EQ(net->stats().failed, 2u);
    std::sort(log.begin(), log.end());
    EXPECT_EQ(log, (std::vector<std::string>{"warn node p: process failed: I refuse",
                                             "warn node q: process failed: I refuse"}));
}

TEST(ActorRuntime, OnErrorStopEndsTheNode) {
    Outputs outputs;
    NetworkOptions o;
    o.add_component(make("Once", {"in"}, {"out"}, [](ActorContext& ctx) -> Result<void> {
        if (ctx.message().text() == "bad") return make_error(ErrorKind::plugin, "no");
        ctx.send("out", ctx.message());
        return {};
    }));
    o.on_output = outputs.sink();
    o.log = [](LogLevel, std::string_view) {};
    auto net = network(R"({"processes": {"n": {"component": "Once",
        "metadata": {"on_error": "stop"}}},
      "connections": [
        {"data": "ok", "to": {"nodeId": "n", "portId": "in"}},
        {"data": "bad", "to": {"nodeId": "n", "portId": "in"}},
        {"data": "late", "to": {"nodeId": "n", "portId": "in"}}],
      "outports": {"out": {"nodeId": "n", "portId": "out"}}})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(5s));
    EXPECT_EQ(outputs.texts("out"), (std::vector<std::string>{"ok"}));
    EXPECT_EQ(net->stats().processed, 2u);
    EXPECT_EQ(net->stats().dropped, 1u);
    // The network itself goes on: stop_on_error is the node's, fail_fast the network's.
    EXPECT_FALSE(net->failure());
}

// A sender waiting for room at a node that then stops is let go: what it held is dropped.
TEST(ActorRuntime, SenderWaitingOnAStoppedNodeGoesOn) {
    NetworkOptions o;
    o.threads = 1;
    o.log = [](LogLevel, std::string_view) {};
    o.add_component(make("Burst", {"go"}, {"out"}, [](ActorContext& ctx) -> Result<void> {
        for (int i = 1; i <= 5; ++i)
            ctx.send("out", Message::integer(i));
        return {};
    }));
    o.add_component(make("Fail", {"in"}, {}, [](ActorContext&) -> Result<void> {
        return make_error(ErrorKind::plugin, "no");
    }));
    auto net = network(R"({"processes": {"p": {"component": "Burst"},
        "f": {"component": "Fail", "metadata": {"on_error": "stop", "mailbox": {"capacity": 1}}}},
      "connections": [{"data": 1, "to": {"nodeId": "p", "portId": "go"}},
                      {"data": 2, "to": {"nodeId": "p", "portId": "go"}},
        {"from": {"nodeId": "p", "portId": "out"}, "to": {"nodeId": "f", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(5s));
    NetworkStats s = net->stats();
    EXPECT_EQ(s.processed, 3u); // both bursts and the one failure
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.dropped, 9u);
}

TEST(ActorRuntime, FailFastStopsTheNetwork) {
    NetworkOptions o;
    o.fail_fast = true;
    o.log = [](LogLevel, std::string_view) {};
    o.add_component(make("Fail", {"in"}, {}, [](ActorContext& ctx) -> Result<void> {
        return make_error(ErrorKind::plugin, "broken " + ctx.message().text());
    }));
    auto net = network(R"({"processes": {"f": {"component": "Fail"}},
      "connections": [{"data": "1", "to": {"nodeId": "f", "portId": "in"}},
                      {"data": "2", "to": {"nodeId": "f", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net && net->start());
    EXPECT_FALSE(net->wait_idle(5s));
    EXPECT_EQ(net->failure(), "node f: broken 1");
    EXPECT_FALSE(net->send("f", "in", Message::string("3")));
    EXPECT_EQ(net->stats().processed, 1u);
}

// A full `wait` mailbox holds the sender back: its next message waits until everything it sent
// is in the mailbox, and nothing is lost or reordered.
TEST(ActorRuntime, BackpressureMakesTheSenderWait) {
    std::atomic<int> consumed{0};
    std::vector<int> at_second_call;
    std::vector<int64_t> received;
    std::mutex m;
    NetworkOptions o;
    o.threads = 2;
    o.add_component(make("Burst", {"go"}, {"out"}, [&](ActorContext& ctx) -> Result<void> {
        {
            std::lock_guard lock(m);
            at_second_call.push_back(consumed.load());
        }
        for (int i = 0; i < 100; ++i)
            ctx.send("out", Message::integer(ctx.message().as_integer() * 1000 + i));
        return {};
    }));
    o.add_component(make("Slow", {"in"}, {}, [&](ActorContext& ctx) -> Result<void> {
        std::this_thread::sleep_for(100us);
        {
            std::lock_guard lock(m);
            received.push_back(ctx.message().as_integer());
        }
        ++consumed;
        return {};
    }));
    auto net = network(R"({"processes": {"p": {"component": "Burst"},
        "c": {"component": "Slow", "metadata": {"mailbox": {"capacity": 2}}}},
      "connections": [{"data": 1, "to": {"nodeId": "p", "portId": "go"}},
                      {"data": 2, "to": {"nodeId": "p", "portId": "go"}},
        {"from": {"nodeId": "p", "portId": "out"}, "to": {"nodeId": "c", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(10s));
    ASSERT_EQ(received.size(), 200u);
    for (int i = 0; i < 200; ++i)
        EXPECT_EQ(received[size_t(i)], (i / 100 + 1) * 1000 + i % 100);
    ASSERT_EQ(at_second_call.size(), 2u);
    // The second burst started only once all of the first was in the mailbox: at most two
    // queued and one being processed.
    EXPECT_GE(at_second_call[1], 97);
    EXPECT_EQ(net->stats().dropped, 0u);
}

/// A producer that sends 1, waits for the consumer to take it, then sends 2..10; the consumer
/// holds the first message until the producer is done, so its mailbox overflows. The consumer
/// node's metadata and the connection's are given.
std::vector<int64_t> overflow_run_with(const std::string& node_metadata,
                                       const std::string& connection_metadata, uint64_t& dropped) {
    Gate started, release;
    std::vector<int64_t> got;
    std::mutex m;
    NetworkOptions o;
    o.threads = 2;
    o.add_component(make("Prod", {"go"}, {"out"}, [&](ActorContext& ctx) -> Result<void> {
        ctx.send("out", Message::integer(1));
        EXPECT_TRUE(started.wait());
        for (int i = 2; i <= 10; ++i)
            ctx.send("out", Message::integer(i));
        release.open();
        return {};
    }));
    o.add_component(make("Cons", {"in"}, {}, [&](ActorContext& ctx) -> Result<void> {
        if (ctx.message().as_integer() == 1) {
            started.open();
            EXPECT_TRUE(release.wait());
        }
        std::lock_guard lock(m);
        got.push_back(ctx.message().as_integer());
        return {};
    }));
    auto net = network(R"({"processes": {"p": {"component": "Prod"},
        "c": {"component": "Cons", "metadata": )" +
                           node_metadata + R"(}},
      "connections": [{"data": 1, "to": {"nodeId": "p", "portId": "go"}},
        {"from": {"nodeId": "p", "portId": "out"}, "to": {"nodeId": "c", "portId": "in"},
         "metadata": )" + connection_metadata +
                           "}]}",
                       o);
    EXPECT_TRUE(net && net->start());
    EXPECT_TRUE(net->wait_idle(10s));
    dropped = net->stats().dropped;
    return got;
}

/// overflow_run_with a consumer whose mailbox holds 3 with `policy`.
std::vector<int64_t> overflow_run(const char* policy, uint64_t& dropped) {
    return overflow_run_with(R"({"mailbox": {"capacity": 3, "overflow": ")" + std::string(policy) +
                                 R"("}})",
                             "{}", dropped);
}

TEST(ActorRuntime, OverflowDropsNewest) {
    uint64_t dropped = 0;
    EXPECT_EQ(overflow_run("drop_newest", dropped), (std::vector<int64_t>{1, 2, 3, 4}));
    EXPECT_EQ(dropped, 6u);
}

TEST(ActorRuntime, OverflowDropsOldest) {
    uint64_t dropped = 0;
    EXPECT_EQ(overflow_run("drop_oldest", dropped), (std::vector<int64_t>{1, 8, 9, 10}));
    EXPECT_EQ(dropped, 6u);
}

// A connection's own mailbox takes precedence over the in-port's for its messages; what it
// leaves out comes from the in-port's.
TEST(ActorRuntime, ConnectionMailboxOverridesTheInPorts) {
    uint64_t dropped = 0;
    // The in-port alone would hold the producer back and lose nothing.
    EXPECT_EQ(overflow_run_with(R"({"mailbox": {"capacity": 1}})", "{}", dropped),
              (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_EQ(dropped, 0u);
    EXPECT_EQ(overflow_run_with(R"({"mailbox": {"capacity": 1}})",
                                R"({"mailbox": {"capacity": 3, "overflow": "drop_oldest"}})",
                                dropped),
              (std::vector<int64_t>{1, 8, 9, 10}));
    EXPECT_EQ(dropped, 6u);
    // The capacity is the in-port's when the connection gives none.
    EXPECT_EQ(overflow_run_with(R"({"mailbox": {"capacity": 3, "ports": {"in": {"capacity": 2}}}})",
                                R"({"mailbox": {"overflow": "drop_newest"}})", dropped),
              (std::vector<int64_t>{1, 2, 3}));
    EXPECT_EQ(dropped, 7u);
    // And a connection may wait where its in-port drops.
    EXPECT_EQ(overflow_run_with(R"({"mailbox": {"capacity": 1, "overflow": "drop_newest"}})",
                                R"({"mailbox": {"overflow": "wait"}})", dropped),
              (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_EQ(dropped, 0u);
}

// Two connections into one in-port: the one that drops its oldest when full counts and drops
// only its own messages; the other's wait in the same mailbox, and all are taken in arrival
// order.
TEST(ActorRuntime, ConnectionMailboxDropsOnlyItsOwnMessages) {
    Gate started, release;
    std::vector<int64_t> got;
    std::mutex m;
    NetworkOptions o;
    o.threads = 2;
    o.add_component(make("Prod", {"go"}, {"a", "b"}, [&](ActorContext& ctx) -> Result<void> {
        ctx.send("a", Message::integer(1));
        EXPECT_TRUE(started.wait());
        ctx.send("b", Message::integer(100));
        ctx.send("b", Message::integer(101));
        for (int i = 2; i <= 6; ++i)
            ctx.send("a", Message::integer(i));
        release.open();
        return {};
    }));
    o.add_component(make("Cons", {"in"}, {}, [&](ActorContext& ctx) -> Result<void> {
        if (ctx.message().as_integer() == 1) {
            started.open();
            EXPECT_TRUE(release.wait());
        }
        std::lock_guard lock(m);
        got.push_back(ctx.message().as_integer());
        return {};
    }));
    auto net = network(R"({"processes": {"p": {"component": "Prod"},
        "c": {"component": "Cons", "metadata": {"mailbox": {"capacity": 2}}}},
      "connections": [{"data": 1, "to": {"nodeId": "p", "portId": "go"}},
        {"from": {"nodeId": "p", "portId": "a"}, "to": {"nodeId": "c", "portId": "in"},
         "metadata": {"mailbox": {"capacity": 2, "overflow": "drop_oldest"}}},
        {"from": {"nodeId": "p", "portId": "b"}, "to": {"nodeId": "c", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(10s));
    // b's two fill the in-port's bound, a's lane keeps its last two: 2, 3 and 4 were dropped.
    EXPECT_EQ(got, (std::vector<int64_t>{1, 100, 101, 5, 6}));
    EXPECT_EQ(net->stats().dropped, 3u);
}

TEST(ActorRuntime, PerPortMailboxOverridesTheNodes) {
    NetworkOptions o;
    o.add_component(make("Sink", {"a", "b"}, {}, [](ActorContext&) -> Result<void> { return {}; }));
    auto net = network(R"({"processes": {"s": {"component": "Sink", "metadata": {"mailbox":
        {"capacity": 1, "overflow": "drop_newest", "ports": {"b": {"capacity": 3}}}}}}})",
                       o);
    ASSERT_TRUE(net);
    // Before start nothing is taken out: a holds one message, b three.
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(net->send("s", "a", Message::integer(i)));
        ASSERT_TRUE(net->send("s", "b", Message::integer(i)));
    }
    NetworkStats s = net->stats();
    EXPECT_EQ(s.sent, 4u);
    EXPECT_EQ(s.dropped, 4u);
}

TEST(ActorRuntime, OutsideSenderCannotWaitBeforeStart) {
    NetworkOptions o;
    o.add_component(make("Sink", {"in"}, {}, [](ActorContext&) -> Result<void> { return {}; }));
    auto net = network(R"({"processes": {"s": {"component": "Sink",
        "metadata": {"mailbox": {"capacity": 1}}}}})",
                       o);
    ASSERT_TRUE(net);
    ASSERT_TRUE(net->send("s", "in", Message::flow()));
    auto full = net->send("s", "in", Message::flow());
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().message,
              "node s: in-port in: mailbox full and the network is not started");
    ASSERT_TRUE(net->start());
    EXPECT_TRUE(net->wait_idle(5s));
    EXPECT_EQ(net->stats().processed, 1u);
}

TEST(ActorRuntime, SendErrors) {
    NetworkOptions o;
    o.add_component(relay());
    auto net = network(R"({"processes": {"r": {"component": "Relay"}},
        "inports": {"IN": {"nodeId": "r", "portId": "in"}}})",
                       o);
    ASSERT_TRUE(net);
    EXPECT_EQ(net->send("ghost", "in", Message()).error().message, "no node ghost");
    EXPECT_EQ(net->send("r", "out", Message()).error().message,
              "node r has no in-port out (in-ports: in)");
    EXPECT_EQ(net->send_inport("nope", Message()).error().message, "the graph has no inport nope");
    EXPECT_TRUE(net->send_inport("IN", Message()));
}

// Nodes run in parallel: each of two waits until the other is inside its call.
TEST(ActorRuntime, NodesRunInParallel) {
    Gate a_in, b_in;
    std::atomic<bool> both{true};
    NetworkOptions o;
    o.threads = 2;
    o.add_component(make("A", {"in"}, {}, [&](ActorContext&) -> Result<void> {
        a_in.open();
        both = both && b_in.wait();
        return {};
    }));
    o.add_component(make("B", {"in"}, {}, [&](ActorContext&) -> Result<void> {
        b_in.open();
        both = both && a_in.wait();
        return {};
    }));
    auto net = network(R"({"processes": {"a": {"component": "A"}, "b": {"component": "B"}},
      "connections": [{"data": 1, "to": {"nodeId": "a", "portId": "in"}},
                      {"data": 1, "to": {"nodeId": "b", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net && net->start());
    ASSERT_TRUE(net->wait_idle(10s));
    EXPECT_TRUE(both);
}

// One message at a time per node, whatever the fan-in and the number of workers.
TEST(ActorRuntime, OneMessageAtATimePerNode) {
    std::atomic<int> inside{0}, most{0}, calls{0};
    NetworkOptions o;
    o.threads = 4;
    o.add_component(relay());
    o.add_component(make("Count", {"in"}, {}, [&](ActorContext&) -> Result<void> {
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(50us);
        --inside;
        ++calls;
        return {};
    }));
    auto net = network(R"({"processes": {"a": {"component": "Relay"},
        "b": {"component": "Relay"}, "c": {"component": "Relay"}, "n": {"component": "Count"}},
      "connections": [
        {"from": {"nodeId": "a", "portId": "out"}, "to": {"nodeId": "n", "portId": "in"}},
        {"from": {"nodeId": "b", "portId": "out"}, "to": {"nodeId": "n", "portId": "in"}},
        {"from": {"nodeId": "c", "portId": "out"}, "to": {"nodeId": "n", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net && net->start());
    for (int i = 0; i < 100; ++i)
        for (const char* node : {"a", "b", "c"})
            ASSERT_TRUE(net->send(node, "in", Message::integer(i)));
    ASSERT_TRUE(net->wait_idle(10s));
    EXPECT_EQ(calls, 300);
    EXPECT_EQ(most, 1);
}

TEST(ActorRuntime, StopDrainsOrCancels) {
    for (StopMode mode : {StopMode::drain, StopMode::cancel}) {
        Gate first, release;
        std::atomic<int> calls{0};
        NetworkOptions o;
        o.threads = 1;
        o.add_component(make("Hold", {"in"}, {}, [&](ActorContext&) -> Result<void> {
            if (calls++ == 0) {
                first.open();
                EXPECT_TRUE(release.wait());
            }
            return {};
        }));
        auto net = network(R"({"processes": {"h": {"component": "Hold"}}})", o);
        ASSERT_TRUE(net && net->start());
        for (int i = 0; i < 5; ++i)
            ASSERT_TRUE(net->send("h", "in", Message::integer(i)));
        ASSERT_TRUE(first.wait());
        EXPECT_FALSE(net->wait_idle(10ms)); // busy: not idle
        std::thread stopper([&] { net->stop(mode); });
        std::this_thread::sleep_for(20ms);
        release.open();
        stopper.join();
        if (mode == StopMode::drain) {
            EXPECT_EQ(calls, 5);
            EXPECT_EQ(net->stats().dropped, 0u);
        } else {
            EXPECT_EQ(calls, 1);
            EXPECT_EQ(net->stats().dropped, 4u);
        }
        EXPECT_FALSE(net->send("h", "in", Message()));
    }
}

TEST(ActorRuntime, StatePersistsAcrossRunsWhenAsked) {
    auto store = make_memory_state_store();
    NetworkOptions o;
    o.state_store = store;
    o.add_component(make("Tally", {"in"}, {}, [](ActorContext& ctx) -> Result<void> {
        auto n = ctx.state("n");
        return ctx.set_state("n", std::to_string((n ? std::stoll(*n) : 0) + 1));
    }));
    const char* text = R"({"properties": {"name": "tally"}, "processes": {
        "kept": {"component": "Tally", "metadata": {"persist": true}},
        "lost": {"component": "Tally"}},
      "connections": [{"data": 1, "to": {"nodeId": "kept", "portId": "in"}},
                      {"data": 1, "to": {"nodeId": "lost", "portId": "in"}}]})";
    for (int run = 1; run <= 3; ++run) {
        auto net = network(text, o);
        ASSERT_TRUE(net && net->start());
        ASSERT_TRUE(net->wait_idle(5s));
        EXPECT_EQ(*net->state("kept"), "{\"n\":" + std::to_string(run) + "}");
        EXPECT_EQ(*net->state("lost"), R"({"n":1})");
    }
    EXPECT_EQ(*store->load("tally", "kept"), std::optional<std::string>(R"({"n":3})"));
    EXPECT_EQ(*store->load("tally", "lost"), std::nullopt);
}

TEST(ActorRuntime, StatePersistsInTheStateDatabase) {
    manager_test::TempDir dir;
    const std::string path = (dir.path() / "state.db").string();
    const char* text = R"({"properties": {"name": "tally"}, "processes": {
        "kept": {"component": "Tally", "metadata": {"persist": true}}},
      "connections": [{"data": 1, "to": {"nodeId": "kept", "portId": "in"}}]})";
    for (int run = 1; run <= 2; ++run) {
        // A new database connection each run, as a new process would open it.
        auto db = StateDb::open(path);
        ASSERT_TRUE(db) << db.error().message;
        auto store = make_state_db_store(*db);
        ASSERT_TRUE(store) << store.error().message;
        NetworkOptions o;
        o.state_store = *store;
        o.add_component(make("Tally", {"in"}, {}, [](ActorContext& ctx) -> Result<void> {
            auto n = ctx.state("n");
            return ctx.set_state("n", std::to_string((n ? std::stoll(*n) : 0) + 1));
        }));
        auto net = network(text, o);
        ASSERT_TRUE(net && net->start());
        ASSERT_TRUE(net->wait_idle(5s));
        EXPECT_EQ(*net->state("kept"), "{\"n\":" + std::to_string(run) + "}");
    }
    auto db = StateDb::open(path);
    ASSERT_TRUE(db);
    EXPECT_EQ(*(*db)->schema_version("actors"), 1u);
    auto rows = (*db)->query("SELECT graph, node, state FROM actor_state");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].text(0), "tally");
    EXPECT_EQ((*rows)[0].text(1), "kept");
    EXPECT_EQ((*rows)[0].text(2), R"({"n":2})");
}

// A node's component replaced while it runs keeps its state and what was queued for it.
TEST(ActorRuntime, HotSwapKeepsStateAndQueuedMessages) {
    Outputs outputs;
    Gate first, release;
    std::atomic<int> calls{0};
    auto versioned = [&](std::string version) {
        return make("Counter", {"in"}, {"out"}, [&, version](ActorContext& ctx) -> Result<void> {
            if (calls++ == 0) {
                first.open();
                EXPECT_TRUE(release.wait());
            }
            auto n = ctx.state("n");
            int64_t count = (n ? std::stoll(*n) : 0) + 1;
            if (auto ok = ctx.set_state("n", std::to_string(count)); !ok) return ok;
            ctx.send("out", Message::string(version + ":" + std::to_string(count)));
            return {};
        });
    };
    NetworkOptions o;
    o.threads = 2;
    o.add_component(versioned("v1"));
    o.on_output = outputs.sink();
    auto net = network(R"({"processes": {"c": {"component": "Counter"}},
        "outports": {"o": {"nodeId": "c", "portId": "out"}}})",
                       o);
    ASSERT_TRUE(net && net->start());
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(net->send("c", "in", Message::integer(i)));
    ASSERT_TRUE(first.wait());
    // The swap waits for the running call, then the queued messages go to the new version.
    std::thread swapper([&] { EXPECT_TRUE(net->swap("c", versioned("v2"))); });
    std::this_thread::sleep_for(20ms);
    release.open();
    swapper.join();
    ASSERT_TRUE(net->wait_idle(5s));
    EXPECT_EQ(outputs.texts("o"), (std::vector<std::string>{"v1:1", "v2:2", "v2:3", "v2:4"}));
    EXPECT_EQ(*net->state("c"), R"({"n":4})");
    EXPECT_EQ(net->node("c")->source, "native");
}

TEST(ActorRuntime, CreateRefusesAnInvalidGraph) {
    NetworkOptions o;
    o.add_component(relay());
    auto net = Network::create(graph(R"({"properties": {"name": "bad"}, "processes": {
        "r": {"component": "Relay"}, "x": {"component": "Missing"}},
      "connections": [{"data": 1, "to": {"nodeId": "r", "portId": "nope"}}]})"),
                               o);
    ASSERT_FALSE(net);
    EXPECT_EQ(net.error().kind, ErrorKind::invalid);
    EXPECT_EQ(net.error().message,
              "graph bad: node x: unknown component Missing (no metadata.source, no native "
              "component and no plugin of that name; no plugin folders); initial packet -> "
              "r.nope: node r (Relay) has no in-port nope (in-ports: in)");
}

TEST(ActorRuntime, CyclesRunAndAreReported) {
    std::atomic<int> hops{0};
    NetworkOptions o;
    o.add_component(make("Loop", {"in"}, {"out"}, [&](ActorContext& ctx) -> Result<void> {
        ++hops;
        if (ctx.message().as_integer() > 0)
            ctx.send("out", Message::integer(ctx.message().as_integer() - 1));
        return {};
    }));
    auto net = network(R"({"processes": {"a": {"component": "Loop"}, "b": {"component": "Loop"}},
      "connections": [{"data": 9, "to": {"nodeId": "a", "portId": "in"}},
        {"from": {"nodeId": "a", "portId": "out"}, "to": {"nodeId": "b", "portId": "in"}},
        {"from": {"nodeId": "b", "portId": "out"}, "to": {"nodeId": "a", "portId": "in"}}]})",
                       o);
    ASSERT_TRUE(net);
    ASSERT_EQ(net->warnings().size(), 1u);
    EXPECT_EQ(net->warnings()[0].message, "cycle: a -> b -> a");
    ASSERT_TRUE(net->start());
    ASSERT_TRUE(net->wait_idle(5s));
    EXPECT_EQ(hops, 10);
}

} // namespace
} // namespace kiln
