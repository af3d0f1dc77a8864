// Sharing across threads (fixtures/vowels.wat): one CompiledPlugin used by several threads, each
// with its own Plugin, and PluginPool handing out at most `max` instances, timing out when none
// is free and reusing returned ones.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;
using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::ElementsAre;
using Clock = std::chrono::steady_clock;

uint64_t vowels_in(std::string_view s) {
    uint64_t n = 0;
    for (char c : s)
        n += std::string_view("aeiouAEIOU").find(c) != std::string_view::npos;
    return n;
}

class Sharing : public PluginTest {
protected:
    void SetUp() override {
        PluginTest::SetUp();
        if (IsSkipped()) return;
        auto bytes = test::wat_to_wasm(read_fixture("vowels.wat"));
        ASSERT_TRUE(bytes && !bytes->empty());
        auto c = CompiledPlugin::create(engine, Manifest::from_bytes(*bytes));
        KILN_ASSERT_OK(c);
        compiled = *c;
    }
    std::shared_ptr<const CompiledPlugin> compiled;
};

TEST_F(Sharing, CompiledPluginAcrossThreads) {
    constexpr int threads = 4, calls = 1000;
    std::atomic<int> wrong{0}, failed{0};
    std::mutex first_problem_mutex;
    std::string first_problem;
    auto note = [&](std::string problem) {
        std::lock_guard lock(first_problem_mutex);
        if (first_problem.empty()) first_problem = std::move(problem);
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            auto p = Plugin::create(compiled);
            if (!p) {
                failed += calls;
                note("Plugin::create: " + p.error().message);
                return;
            }
            for (int i = 0; i < calls; ++i) {
                const std::string input = "thread " + std::to_string(t) + " call " +
                                          std::to_string(i) + std::string(size_t(i % 7), 'a');
                auto out = p->call("count_vowels", input);
                if (!out) {
                    ++failed;
                    note(out.error().message);
                    continue;
                }
                const auto values = report(*out);
                if (values.size() != 2 || values[0] != vowels_in(input) ||
                    values[1] != uint64_t(i + 1)) {
                    ++wrong;
                    note("wrong output for \"" + input + "\"");
                }
            }
        });
    }
    for (auto& w : workers)
        w.join();
    EXPECT_EQ(failed.load(), 0) << first_problem;
    EXPECT_EQ(wrong.load(), 0) << first_problem;
}

TEST_F(Sharing, PoolLimitsTimesOutAndReuses) {
    PluginPool pool(compiled, 2);
    auto got_a = pool.get(100ms);
    auto got_b = pool.get(100ms);
    KILN_ASSERT_OK(got_a);
    KILN_ASSERT_OK(got_b);
    std::optional<PluginPool::Lease> a(std::move(*got_a)); // moved-from leases return nothing
    Plugin* plugin_a = &**a;
    EXPECT_NE(plugin_a, &**got_b);
    EXPECT_THAT(report(call_ok(**a, "count_vowels", "pool")), ElementsAre(2u, 1u));

    const auto start = Clock::now();
    auto c = pool.get(100ms);
    const auto waited = Clock::now() - start;
    ASSERT_FALSE(c.has_value()) << "a third instance beyond max 2";
    EXPECT_EQ(c.error().kind, ErrorKind::limit);
    EXPECT_GE(waited, 90ms) << "get must wait for its timeout before giving up";

    // Returning a lease makes its instance available again, state and all.
    a.reset();
    auto again = pool.get(100ms);
    KILN_ASSERT_OK(again);
    EXPECT_EQ(&**again, plugin_a);
    EXPECT_THAT(report(call_ok(**again, "count_vowels", "again!")), ElementsAre(3u, 2u));
    // Still only two: the one given back is in use again.
    EXPECT_FALSE(pool.get(10ms).has_value());
}

TEST_F(Sharing, PoolGetWaitsForAReturnedLease) {
    PluginPool pool(compiled, 1);
    auto held = pool.get(100ms);
    KILN_ASSERT_OK(held);
    Plugin* only = &**held;
    std::thread releaser([lease = std::move(*held)]() mutable {
        PluginPool::Lease mine = std::move(lease);
        std::this_thread::sleep_for(50ms);
    }); // `mine` goes back to the pool as the thread ends
    auto next = pool.get(5000ms);
    releaser.join();
    KILN_ASSERT_OK(next);
    EXPECT_EQ(&**next, only);
}

TEST_F(Sharing, PoolAcrossThreads) {
    PluginPool pool(compiled, 2);
    std::mutex seen_mutex;
    std::set<Plugin*> seen;
    std::atomic<int> bad{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                auto lease = pool.get(10000ms);
                if (!lease) {
                    ++bad;
                    continue;
                }
                {
                    std::lock_guard lock(seen_mutex);
                    seen.insert(&**lease);
                }
                const std::string input = "aeiou x" + std::to_string(t * 1000 + i);
                auto out = (*lease)->call("count_vowels", input);
                if (!out || report(*out).size() != 2 || report(*out)[0] != 5) ++bad;
            }
        });
    }
    for (auto& w : workers)
        w.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_LE(seen.size(), 2u) << "the pool made more instances than its max";
}

} // namespace
