// The event bus on its own, with host endpoints: delivery, order, queuing while an endpoint is
// running, re-entry refused, storms bounded, detaching, threads.
#include <kiln/dispatch.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace kiln {
namespace {

TEST(EventBus, DeliversToSubscribersOfTheTopicAndNoOthers) {
    EventBus bus;
    std::vector<std::string> a, b;
    auto sa = bus.subscribe("file.added", [&](const Event& e) { a.push_back(e.data); });
    auto sb = bus.subscribe("file.removed", [&](const Event& e) { b.push_back(e.data); });
    ASSERT_TRUE(sa && sb);
    ASSERT_TRUE(bus.publish("file.added", R"({"path":"a"})"));
    ASSERT_TRUE(bus.publish("other", "1"));
    EXPECT_EQ(a, std::vector<std::string>{R"({"path":"a"})"});
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(bus.stats().published, 2u);
    EXPECT_EQ(bus.stats().delivered, 1u);
}

TEST(EventBus, EventCarriesTopicSourceAndDepth) {
    EventBus bus;
    Event seen;
    ASSERT_TRUE(bus.subscribe("t", [&](const Event& e) { seen = e; }));
    ASSERT_TRUE(bus.publish("t", "[1,2]", "greeter"));
    EXPECT_EQ(seen.topic, "t");
    EXPECT_EQ(seen.data, "[1,2]");
    EXPECT_EQ(seen.source, "greeter");
    EXPECT_EQ(seen.depth, 1u);
}

TEST(EventBus, GlobSubscriptionsMatchAndAnEndpointGetsAnEventOnce) {
    EventBus bus;
    std::vector<std::string> got;
    auto id = bus.attach("p", [&](const Event& e) -> Result<void> {
        got.push_back(e.topic);
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "file.*"));
    ASSERT_TRUE(bus.subscribe(id, "file.added"));
    ASSERT_TRUE(bus.subscribe(id, "job.?"));
    ASSERT_TRUE(bus.subscribe(id, "file.*")); // once only
    EXPECT_EQ(bus.subscriptions(id), (std::vector<std::string>{"file.*", "file.added", "job.?"}));
    ASSERT_TRUE(bus.publish("file.added", "0"));
    ASSERT_TRUE(bus.publish("job.1", "0"));
    ASSERT_TRUE(bus.publish("job.12", "0"));
    EXPECT_EQ(got, (std::vector<std::string>{"file.added", "job.1"}));
    EXPECT_TRUE(bus.unsubscribe(id, "file.*"));
    EXPECT_FALSE(bus.unsubscribe(id, "file.*"));
    ASSERT_TRUE(bus.publish("file.removed", "0"));
    EXPECT_EQ(got.size(), 2u);
}

TEST(EventBus, RefusesBadTopicsAndDataThatIsNotJson) {
    EventBus bus;
    auto bad = bus.publish("has space", "1");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("character ' ' is not allowed"), std::string::npos);
    EXPECT_FALSE(bus.publish("", "1"));
    EXPECT_FALSE(bus.publish(std::string(257, 'a'), "1"));
    EXPECT_FALSE(bus.publish("glob.*", "1")) << "a published topic has no globs";
    auto data = bus.publish("t", "{not json");
    ASSERT_FALSE(data);
    EXPECT_EQ(data.error().message, "event \"t\": the data is not JSON");
    EXPECT_FALSE(bus.subscribe("bad topic!", [](const Event&) {}));
    EXPECT_EQ(bus.stats().refused, 5u);
}

TEST(EventBus, DeliversInPublishOrder) {
    EventBus bus;
    std::vector<int> got;
    ASSERT_TRUE(bus.subscribe("n", [&](const Event& e) { got.push_back(std::stoi(e.data)); }));
    for (int i = 0; i < 1000; ++i)
        ASSERT_TRUE(bus.publish("n", std::to_string(i)));
    ASSERT_EQ(got.size(), 1000u);
    for (int i = 0; i < 1000; ++i)
        EXPECT_EQ(got[i], i);
}

TEST(EventBus, QueuesForAnEndpointThatIsMidCallAndDeliversInOrderWhenItLeaves) {
    EventBus bus;
    std::vector<std::string> got;
    auto id = bus.attach("plugin", [&](const Event& e) -> Result<void> {
        got.push_back(e.data);
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "t"));
    ASSERT_TRUE(bus.enter(id));
    // What the plugin publishes during its own call waits for the call to end.
    ASSERT_TRUE(bus.publish("t", "1", "plugin"));
    ASSERT_TRUE(bus.publish("t", "2", "plugin"));
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(bus.stats().queued, 2u);
    bus.leave(id);
    EXPECT_EQ(got, (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(bus.stats().queued, 0u);
}

TEST(EventBus, RefusesToEnterAnEndpointFromInsideItsOwnDelivery) {
    EventBus bus;
    EventBus::EndpointId id = 0;
    std::optional<Error> refused;
    id = bus.attach("plugin", [&](const Event&) -> Result<void> {
        auto again = bus.enter(id);
        if (!again) refused = again.error();
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "t"));
    ASSERT_TRUE(bus.publish("t", "0"));
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->message.find("re-entrant call"), std::string::npos) << refused->message;
}

TEST(EventBus, AnEndpointPublishingToItselfIsNotReenteredAndTheChainIsBounded) {
    EventBusOptions options;
    options.max_depth = 10;
    EventBus bus(options);
    EventBus::EndpointId id = 0;
    int depth_now = 0, max_seen = 0, deliveries = 0;
    std::optional<Error> storm;
    id = bus.attach("echo", [&](const Event& e) -> Result<void> {
        ++depth_now;
        max_seen = std::max(max_seen, depth_now);
        ++deliveries;
        EXPECT_EQ(e.depth, uint32_t(deliveries));
        auto again = bus.publish("loop", "0", "echo");
        --depth_now;
        if (!again) {
            storm = again.error();
            return tl::unexpected(again.error());
        }
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "loop"));
    std::vector<std::string> failures;
    bus.on_failure([&](const Event& e, std::string_view endpoint, const Error& error) {
        failures.push_back(std::string(endpoint) + ": " + error.message);
    });
    ASSERT_TRUE(bus.publish("loop", "0"));
    EXPECT_EQ(max_seen, 1) << "deliveries never nest";
    EXPECT_EQ(deliveries, 10);
    ASSERT_TRUE(storm);
    EXPECT_EQ(storm->kind, ErrorKind::limit);
    EXPECT_NE(storm->message.find("event storm: \"loop\" published by echo"), std::string::npos)
        << storm->message;
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0].rfind("echo: event storm", 0), 0u) << failures[0];
    EXPECT_EQ(bus.stats().queued, 0u);
}

TEST(EventBus, AFanOutStormFillsTheBoundedQueueAndIsRefused) {
    EventBusOptions options;
    options.max_queued = 100;
    options.max_depth = 1000;
    EventBus bus(options);
    size_t refusals = 0, queue_full = 0, most_queued = 0;
    EventBus::EndpointId id = bus.attach("doubler", [&](const Event&) -> Result<void> {
        for (int i = 0; i < 2; ++i)
            if (auto ok = bus.publish("x", "0", "doubler"); !ok) {
                ++refusals;
                if (ok.error().message.find("event queue full") != std::string::npos) ++queue_full;
            }
        most_queued = std::max(most_queued, bus.stats().queued);
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "x"));
    ASSERT_TRUE(bus.publish("x", "0"));
    EXPECT_GT(queue_full, 0u);
    EXPECT_LE(most_queued, 100u);
    EXPECT_EQ(bus.stats().queued, 0u) << "everything accepted was delivered";
    EXPECT_EQ(bus.stats().refused, refusals);
}

TEST(EventBus, DetachDropsQueuedEventsAndStopsDelivery) {
    EventBus bus;
    int got = 0;
    auto id = bus.attach("p", [&](const Event&) -> Result<void> {
        ++got;
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "t"));
    ASSERT_TRUE(bus.enter(id));
    ASSERT_TRUE(bus.publish("t", "1"));
    ASSERT_TRUE(bus.publish("t", "2"));
    bus.detach(id);
    bus.leave(id);
    ASSERT_TRUE(bus.publish("t", "3"));
    EXPECT_EQ(got, 0);
    EXPECT_EQ(bus.stats().dropped, 2u);
    EXPECT_EQ(bus.stats().queued, 0u);
    EXPECT_FALSE(bus.enter(id));
}

TEST(EventBus, FailedDeliveriesAreReportedAndTheNextEventsStillArrive) {
    EventBus bus;
    int got = 0;
    auto id = bus.attach("p", [&](const Event& e) -> Result<void> {
        ++got;
        if (e.data == "1") return make_error(ErrorKind::plugin, "no");
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "t"));
    std::string failure;
    bus.on_failure([&](const Event& e, std::string_view ep, const Error& error) {
        failure = std::string(ep) + " " + e.data + " " + error.message;
    });
    for (const char* d : {"0", "1", "2"})
        ASSERT_TRUE(bus.publish("t", d));
    EXPECT_EQ(got, 3);
    EXPECT_EQ(failure, "p 1 no");
    EXPECT_EQ(bus.stats().failed, 1u);
    EXPECT_EQ(bus.stats().delivered, 2u);
}

TEST(EventBus, ThreadsNeverRunAnEndpointTwiceAtOnceAndKeepEachPublishersOrder) {
    EventBus bus;
    std::atomic<int> running{0};
    std::atomic<bool> overlap{false};
    std::vector<int> last(2, -1);
    bool out_of_order = false;
    size_t got = 0;
    auto id = bus.attach("p", [&](const Event& e) -> Result<void> {
        if (running.fetch_add(1) != 0) overlap = true;
        const int publisher = e.source == "a" ? 0 : 1;
        const int n = std::stoi(e.data);
        if (n <= last[publisher]) out_of_order = true;
        last[publisher] = n;
        ++got;
        running.fetch_sub(1);
        return {};
    });
    ASSERT_TRUE(bus.subscribe(id, "t"));
    constexpr int per_thread = 2000;
    auto publisher = [&](const char* name) {
        for (int i = 0; i < per_thread; ++i)
            ASSERT_TRUE(bus.publish("t", std::to_string(i), name));
    };
    // A third thread makes calls into the endpoint meanwhile, as the manager's callers do.
    std::thread caller([&] {
        for (int i = 0; i < 500; ++i) {
            ASSERT_TRUE(bus.enter(id));
            if (running.fetch_add(1) != 0) overlap = true;
            running.fetch_sub(1);
            bus.leave(id);
        }
    });
    std::thread a(publisher, "a"), b(publisher, "b");
    a.join();
    b.join();
    caller.join();
    EXPECT_FALSE(overlap);
    EXPECT_FALSE(out_of_order);
    EXPECT_EQ(got, size_t(2 * per_thread));
    EXPECT_EQ(bus.stats().queued, 0u);
}

} // namespace
} // namespace kiln
