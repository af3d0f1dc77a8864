// The kv family: granted and denied with their audit records, prefixes listed in byte order,
// the quota, and values that survive the process that wrote them being killed.
#include "hostfns_test_util.hpp"

#include "hostfns/families.hpp"
#include "hostfns/kv.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
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
    EXPECT_EQ(over.error().message, "p: kv quota of 20 bytes exceeded (20 held, 2 more asked)");
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

} // namespace
} // namespace kiln
