// The kv family: granted and denied with their audit records, prefixes listed in byte order,
// the quota, and values that survive the process that wrote them being killed; batched commits:
// pending changes seen by reads, lists and the quota, committed within the delay and at
// shutdown, lost on a kill within the delay, and a failed commit reported and retried.
#include "hostfns_test_util.hpp"

#include "hostfns/families.hpp"
#include "hostfns/kv.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace kiln {
namespace {

using namespace hostfns_test;
using namespace hostfns;

Permissions kv_rw() {
    Permissions p;
    p.kv_read = p.kv_write = true;
    return p;
}

TEST(HostKv, SetGetListDelete) {
    Family f(kv_rw());
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:1", "ann")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:2", "bob")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:1", "anne")), "ok"); // replaced
    ASSERT_EQ(error_of(kv_set(*f.ctx, "users", "2")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "empty", "")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, std::string("bin\0\xff", 5), std::string("\0\x01", 2))),
              "ok");
    EXPECT_EQ(kv_get(*f.ctx, "user:1").value(), std::optional<std::string>("anne"));
    EXPECT_EQ(kv_get(*f.ctx, "nobody").value(), std::nullopt);
    EXPECT_EQ(kv_get(*f.ctx, std::string("bin\0\xff", 5)).value(),
              std::optional<std::string>(std::string("\0\x01", 2)));
    EXPECT_EQ(kv_list(*f.ctx, "user:").value(), (std::vector<std::string>{"user:1", "user:2"}));
    EXPECT_EQ(kv_list(*f.ctx, "user").value(),
              (std::vector<std::string>{"user:1", "user:2", "users"}));
    EXPECT_EQ(kv_get(*f.ctx, "empty").value(), std::optional<std::string>(""));
    EXPECT_EQ(kv_list(*f.ctx, "").value().size(), 5u);
    EXPECT_EQ(kv_list(*f.ctx, "\xff").value(), std::vector<std::string>{});
    EXPECT_TRUE(kv_delete(*f.ctx, "user:1").value());
    EXPECT_FALSE(kv_delete(*f.ctx, "user:1").value());
    EXPECT_EQ(kv_get(*f.ctx, "user:1").value(), std::nullopt);
    EXPECT_EQ(error_of(kv_set(*f.ctx, "", "x")), "kv_set: the key is empty");
    EXPECT_EQ(error_of(kv_set(*f.ctx, std::string(1025, 'k'), "x")),
              "kv_set: the key is longer than 1024 bytes");
    EXPECT_TRUE(f.audit().empty());
}

TEST(HostKv, PluginsSeeOnlyTheirOwnKeys) {
    Family f(kv_rw());
    ASSERT_TRUE(kv_set(*f.ctx, "k", "mine"));
    HostContext other(f.services, "q", kv_rw(), f.dir.str(), nullptr);
    EXPECT_EQ(kv_get(other, "k").value(), std::nullopt);
    EXPECT_TRUE(kv_list(other, "").value().empty());
    ASSERT_TRUE(kv_set(other, "k", "theirs"));
    EXPECT_EQ(kv_get(*f.ctx, "k").value(), std::optional<std::string>("mine"));
}

TEST(HostKv, DeniedWithAuditRecords) {
    Permissions read_only;
    read_only.kv_read = true;
    Family f(read_only);
    auto set = kv_set(*f.ctx, "k", "v");
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().kind, ErrorKind::denied);
    EXPECT_EQ(set.error().message, "p: kv_write is not granted");
    EXPECT_FALSE(kv_delete(*f.ctx, "k"));
    EXPECT_TRUE(kv_get(*f.ctx, "k")); // reading is granted
    f.grant({});
    EXPECT_FALSE(kv_get(*f.ctx, "k"));
    EXPECT_FALSE(kv_list(*f.ctx, ""));
    EXPECT_EQ(f.audit(),
              (std::vector<std::string>{"p kv_write ", "p kv_write ", "p kv_read ", "p kv_read "}));
}

TEST(HostKv, QuotaCountsKeysAndValuesAndRefusesWithoutChange) {
    HostOptions o;
    o.kv_quota = 20;
    Family f(kv_rw(), o);
    ASSERT_EQ(error_of(kv_set(*f.ctx, "a", "123456789")), "ok"); // 10 bytes
    ASSERT_EQ(error_of(kv_set(*f.ctx, "b", "123456789")), "ok"); // 20
    auto over = kv_set(*f.ctx, "c", "1");
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().kind, ErrorKind::limit);
    EXPECT_EQ(over.error().message,
              "p: kv quota of 20 bytes exceeded (20 held; the key and value take 2)");
    EXPECT_EQ(kv_get(*f.ctx, "c").value(), std::nullopt);
    // Replacing with a shorter value, and deleting, give room back.
    ASSERT_EQ(error_of(kv_set(*f.ctx, "a", "1")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "c", "1234567")), "ok");
    EXPECT_EQ(f.services->kv->usage("p").value(), 20u);
    ASSERT_TRUE(kv_delete(*f.ctx, "b").value());
    EXPECT_EQ(f.services->kv->usage("p").value(), 10u);
}

TEST(HostKv, ASetSurvivesTheProcessBeingKilled) {
    TempDir dir;
    const std::string path = (dir.path() / "state.db").string();
    // The child writes and is killed at once: no destructor, no close, no checkpoint.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        HostOptions o;
        o.state_path = path;
        auto services = std::make_shared<Services>(o);
        HostContext ctx(services, "p", kv_rw(), dir.str(), nullptr);
        for (int i = 0; i < 100; ++i)
            if (!kv_set(ctx, "k" + std::to_string(i), "v" + std::to_string(i))) _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    HostOptions o;
    o.state_path = path;
    auto services = std::make_shared<Services>(o);
    HostContext ctx(services, "p", kv_rw(), dir.str(), nullptr);
    EXPECT_EQ(kv_list(ctx, "k").value().size(), 100u);
    EXPECT_EQ(kv_get(ctx, "k99").value(), std::optional<std::string>("v99"));
    // k0..k9 and v0..v9 are 2 bytes each, k10..k99 and v10..v99 3 bytes.
    EXPECT_EQ(services->kv->usage("p").value(), 10u * 4 + 90u * 6);
}

TEST(HostKv, SetsFromManyThreadsAreAllCommitted) {
    HostOptions o;
    o.kv_quota = 8 * 100 * 11; // room for exactly the sets below
    Family f(kv_rw(), o);
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                // 5 + 6 bytes each: "tTNNN" and "vvvvvv".
                char key[8];
                std::snprintf(key, sizeof key, "%d%03d", t, i);
                if (!kv_set(*f.ctx, std::string("t") + key, "vvvvvv")) ++failed;
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(f.services->kv->usage("p").value(), 8800u);
    // Full: one more byte is refused, whichever thread asks.
    EXPECT_FALSE(kv_set(*f.ctx, "x", ""));
    // Another store over the same file (another process would see the same) finds them all.
    HostOptions again;
    again.state_path = (f.dir.path() / "state.db").string();
    HostContext other(std::make_shared<Services>(again), "p", kv_rw(), f.dir.str(), nullptr);
    EXPECT_EQ(kv_list(other, "t").value().size(), 800u);
    EXPECT_EQ(kv_get(other, "t7099").value(), std::optional<std::string>("vvvvvv"));
}

TEST(HostKv, AnotherWritersValueIsSeenAfterTheRecheck) {
    Family f(kv_rw());
    ASSERT_TRUE(kv_set(*f.ctx, "k", "one"));
    EXPECT_EQ(kv_get(*f.ctx, "k").value(), std::optional<std::string>("one")); // now cached
    HostOptions again;
    again.state_path = (f.dir.path() / "state.db").string();
    HostContext other(std::make_shared<Services>(again), "p", kv_rw(), f.dir.str(), nullptr);
    ASSERT_TRUE(kv_set(other, "k", "two"));
    ASSERT_TRUE(kv_delete(other, "gone").has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(150)); // past the 100 ms recheck
    EXPECT_EQ(kv_get(*f.ctx, "k").value(), std::optional<std::string>("two"));
}

// ---- batched commits (HostOptions::kv_commit_delay_ms)

HostOptions batched(const TempDir& dir, uint32_t delay_ms) {
    HostOptions o;
    o.state_path = (dir.path() / "state.db").string();
    o.kv_commit_delay_ms = delay_ms;
    return o;
}

/// A second store over the same file, as another process would see it.
struct Reader {
    std::shared_ptr<Services> services;
    HostContext ctx;
    explicit Reader(const TempDir& dir)
        : services(std::make_shared<Services>(batched(dir, 0))),
          ctx(services, "p", kv_rw(), dir.str(), nullptr) {}
};

TEST(HostKvBatched, PendingChangesAreReadListedAndDeleted) {
    TempDir dir;
    Family f(kv_rw(), batched(dir, 3600 * 1000)); // nothing committed before the end
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:1", "ann")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:2", "bob")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:1", "anne")), "ok");
    ASSERT_EQ(error_of(kv_set(*f.ctx, "users", "2")), "ok");
    EXPECT_EQ(kv_get(*f.ctx, "user:1").value(), std::optional<std::string>("anne"));
    EXPECT_EQ(kv_list(*f.ctx, "user").value(),
              (std::vector<std::string>{"user:1", "user:2", "users"}));
    EXPECT_EQ(Reader(dir).services->kv->usage("p").value(), 0u); // none committed yet
    // Committed keys and pending ones mix in a list, in byte order, within its limit.
    ASSERT_TRUE(f.services->kv->flush());
    {
        Reader r(dir);
        EXPECT_EQ(kv_list(r.ctx, "user").value().size(), 3u);
    }
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:0", "zed")), "ok");
    EXPECT_TRUE(kv_delete(*f.ctx, "user:2").value()); // committed, deleted while pending
    EXPECT_FALSE(kv_delete(*f.ctx, "user:2").value());
    EXPECT_FALSE(kv_delete(*f.ctx, "nobody").value());
    EXPECT_EQ(kv_get(*f.ctx, "user:2").value(), std::nullopt);
    EXPECT_EQ(kv_list(*f.ctx, "user").value(),
              (std::vector<std::string>{"user:0", "user:1", "users"}));
    EXPECT_EQ(f.services->kv->list("p", "user", 2).value(),
              (std::vector<std::string>{"user:0", "user:1"}));
    ASSERT_EQ(error_of(kv_set(*f.ctx, "user:2", "again")), "ok"); // deleted, then set
    EXPECT_EQ(kv_get(*f.ctx, "user:2").value(), std::optional<std::string>("again"));
    ASSERT_TRUE(kv_delete(*f.ctx, "users").value());
    {
        Reader r(dir); // the last commit's view: the deletes and sets since are pending
        EXPECT_EQ(kv_list(r.ctx, "user").value(),
                  (std::vector<std::string>{"user:1", "user:2", "users"}));
        EXPECT_EQ(kv_get(r.ctx, "user:2").value(), std::optional<std::string>("bob"));
    }
    f.services.reset();
    f.ctx.reset(); // the last owner of the store: its destruction commits
    Reader r(dir);
    EXPECT_EQ(kv_list(r.ctx, "user").value(),
              (std::vector<std::string>{"user:0", "user:1", "user:2"}));
    EXPECT_EQ(kv_get(r.ctx, "user:2").value(), std::optional<std::string>("again"));
    EXPECT_EQ(r.services->kv->usage("p").value(), 9u + 10u + 11u);
}

TEST(HostKvBatched, ShuttingTheManagerAndLibraryDownCommitsAPluginsSets) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir plugins, state;
    // `save` sets "k" to its input and returns kv_set's status.
    write_plugin(plugins, "saver",
                 kiln_yaml("saver", "1.0.0", "permissions: {kv: [read, write]}\n"),
                 host_import("kv_set", 2, true) + R"(
  (data (i32.const 16) "k")
  (func (export "save") (result i32)
    (call $kv_set (call $str (i32.const 16) (i32.const 1)) (call $input_offset))))");
    {
        Hosted h(batched(state, 3600 * 1000));
        ASSERT_TRUE(h.manager->open(plugins.str()));
        for (const char* value : {"one", "two"}) {
            auto saved = h.manager->call("saver", "save", value);
            ASSERT_TRUE(saved) << saved.error().message;
        }
        EXPECT_EQ(Reader(state).services->kv->get("saver", "k").value(), std::nullopt);
    }
    EXPECT_EQ(Reader(state).services->kv->get("saver", "k").value(),
              std::optional<std::string>("two"));
}

TEST(HostKvBatched, CommittedOnceTheDelayHasPassed) {
    TempDir dir;
    Family f(kv_rw(), batched(dir, 20));
    for (int i = 0; i < 50; ++i)
        ASSERT_TRUE(kv_set(*f.ctx, "k" + std::to_string(i), "v"));
    // Without a flush or a shutdown: the flusher commits within the delay.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    size_t seen = 0;
    while (seen < 50 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        Reader r(dir);
        seen = kv_list(r.ctx, "k").value().size();
    }
    EXPECT_EQ(seen, 50u); // while the store lives: no shutdown committed them
}

TEST(HostKvBatched, QuotaCountsPendingChangesExactly) {
    TempDir dir;
    HostOptions o = batched(dir, 3600 * 1000);
    o.kv_quota = 20;
    Family f(kv_rw(), o);
    ASSERT_EQ(error_of(kv_set(*f.ctx, "a", "123456789")), "ok"); // 10 bytes, committed
    ASSERT_TRUE(f.services->kv->flush());
    ASSERT_EQ(error_of(kv_set(*f.ctx, "b", "123456789")), "ok"); // 20, pending
    auto over = kv_set(*f.ctx, "c", "1");
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().kind, ErrorKind::limit);
    EXPECT_EQ(over.error().message,
              "p: kv quota of 20 bytes exceeded (20 held; the key and value take 2)");
    EXPECT_EQ(kv_get(*f.ctx, "c").value(), std::nullopt);
    // Replacing a committed value with a shorter one, and deleting, give room back at once.
    ASSERT_EQ(error_of(kv_set(*f.ctx, "a", "1")), "ok");
    EXPECT_EQ(f.services->kv->usage("p").value(), 12u);
    ASSERT_EQ(error_of(kv_set(*f.ctx, "c", "1234567")), "ok");
    EXPECT_EQ(f.services->kv->usage("p").value(), 20u);
    EXPECT_FALSE(kv_set(*f.ctx, "b", "1234567890")); // a pending value grown by one byte
    ASSERT_TRUE(kv_delete(*f.ctx, "b").value());
    EXPECT_EQ(f.services->kv->usage("p").value(), 10u);
    ASSERT_EQ(error_of(kv_set(*f.ctx, "d", "123456789")), "ok");
    EXPECT_FALSE(kv_set(*f.ctx, "e", ""));
    ASSERT_TRUE(f.services->kv->flush());
    EXPECT_EQ(Reader(dir).services->kv->usage("p").value(), 20u);
    EXPECT_EQ(f.services->kv->usage("p").value(), 20u);
}

TEST(HostKvBatched, AKillLosesTheChangesOfTheLastDelayOnly) {
    TempDir dir;
    // The child commits the first 100 sets (the delay passes), then makes 100 more and is
    // killed at once: those are lost, as documented.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto services = std::make_shared<Services>(batched(dir, 20));
        HostContext ctx(services, "p", kv_rw(), dir.str(), nullptr);
        for (int i = 0; i < 100; ++i)
            if (!kv_set(ctx, "k" + std::to_string(i), "v")) _exit(3);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        for (int i = 0; i < 100; ++i)
            if (!kv_set(ctx, "late" + std::to_string(i), "v")) _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    Reader r(dir);
    EXPECT_EQ(kv_list(r.ctx, "k").value().size(), 100u);
    EXPECT_EQ(kv_list(r.ctx, "late").value().size(), 0u);
}

TEST(HostKvBatched, AFailedCommitIsReportedKeptAndRetried) {
    TempDir dir;
    const std::string path = (dir.path() / "state.db").string();
    std::vector<std::string> reports;
    std::mutex mutex;
    KvStore store([path]() { return StateDb::open(path); }, 1u << 20,
                  std::chrono::milliseconds(3600 * 1000), std::chrono::milliseconds(100),
                  [&](std::string_view line) {
                      std::lock_guard lock(mutex);
                      reports.emplace_back(line);
                  });
    ASSERT_TRUE(store.set("p", "a", "1"));
    // Another connection makes every write to kv fail, as a full disk would.
    auto db = StateDb::open(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->exec("CREATE TRIGGER full BEFORE INSERT ON kv BEGIN "
                            "SELECT RAISE(ABORT, 'database or disk is full'); END"));
    auto failed = store.flush();
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("database or disk is full"), std::string::npos)
        << failed.error().message;
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("committing 1 pending change(s) failed"), std::string::npos)
        << reports[0];
    // The next write says so; the pending value is still read.
    auto next = store.set("p", "b", "2");
    ASSERT_FALSE(next);
    EXPECT_EQ(next.error().message, failed.error().message);
    EXPECT_EQ(store.get("p", "a").value(), std::optional<std::string>("1"));
    // Once writes work again, the retry commits the kept change and writes are taken again.
    ASSERT_TRUE((*db)->exec("DROP TRIGGER full"));
    ASSERT_TRUE(store.flush());
    ASSERT_TRUE(store.set("p", "b", "2"));
    ASSERT_TRUE(store.flush());
    Reader r(dir);
    EXPECT_EQ(kv_list(r.ctx, "").value(), (std::vector<std::string>{"a", "b"}));
}

TEST(HostKvBatched, WhatShutdownCannotCommitIsReported) {
    TempDir dir;
    const std::string path = (dir.path() / "state.db").string();
    std::vector<std::string> reports;
    auto db = StateDb::open(path);
    ASSERT_TRUE(db);
    {
        KvStore store([path]() { return StateDb::open(path); }, 1u << 20,
                      std::chrono::milliseconds(3600 * 1000), std::chrono::milliseconds(100),
                      [&](std::string_view line) { reports.emplace_back(line); });
        ASSERT_TRUE(store.set("p", "a", "1"));
        ASSERT_TRUE(store.set("p", "b", "2"));
        ASSERT_TRUE((*db)->exec("CREATE TRIGGER full BEFORE INSERT ON kv BEGIN "
                                "SELECT RAISE(ABORT, 'database or disk is full'); END"));
    }
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_NE(reports[1].find("kv: 2 pending change(s) lost at shutdown"), std::string::npos)
        << reports[1];
}

} // namespace
} // namespace kiln
