// The permission model's one check, grants as text, and merging and revoking grants.
#include <kiln/manager.hpp>

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(Permissions, NothingIsGrantedByDefault) {
    const Permissions none;
    for (Permission p :
         {Permission::network, Permission::file_read, Permission::file_write, Permission::env,
          Permission::database, Permission::kv_read, Permission::kv_write, Permission::scope_read,
          Permission::scope_write, Permission::publish, Permission::subscribe,
          Permission::operation, Permission::library, Permission::ui})
        EXPECT_FALSE(allows(none, p, "x")) << permission_name(p);
    EXPECT_FALSE(allows(none, Permission::jobs, "1"));
    EXPECT_TRUE(allows(none, Permission::jobs, "0"));
}

TEST(Permissions, EachFamilyChecksItsArgument) {
    Permissions p;
    p.network = {"*.example.com", "https://api.x.com/v1/*", "exact.org"};
    p.filesystem = {{"data", false}, {"/srv/out", true}};
    p.env = {"HOME"};
    p.databases = {"main"};
    p.publish = {"greet.*"};
    p.subscribe = {"tick"};
    p.operations = {"query:", "action:tags."};
    p.libraries = {"lib-1"};
    p.max_concurrent_jobs = 2;
    EXPECT_TRUE(allows(p, Permission::network, "https://www.example.com/path"));
    EXPECT_TRUE(allows(p, Permission::network, "https://api.x.com/v1/charge"));
    EXPECT_FALSE(allows(p, Permission::network, "https://api.x.com/v2/charge"));
    // Host names compare without case, as the HTTP client's allowed_hosts do.
    EXPECT_TRUE(allows(p, Permission::network, "https://WWW.Example.COM/path"));
    EXPECT_TRUE(allows(p, Permission::network, "http://exact.org:8080/"));
    EXPECT_FALSE(allows(p, Permission::network, "https://example.com.evil.net/"));
    EXPECT_TRUE(allows(p, Permission::file_read, "data/a.txt"));
    EXPECT_TRUE(allows(p, Permission::file_read, "data"));
    EXPECT_FALSE(allows(p, Permission::file_read, "database/a"));
    EXPECT_FALSE(allows(p, Permission::file_read, "data/../etc/passwd"));
    EXPECT_FALSE(allows(p, Permission::file_write, "data/a.txt"));
    EXPECT_TRUE(allows(p, Permission::file_write, "/srv/out/x"));
    EXPECT_TRUE(allows(p, Permission::env, "HOME"));
    EXPECT_FALSE(allows(p, Permission::env, "HOMEPATH"));
    EXPECT_TRUE(allows(p, Permission::database, "main"));
    EXPECT_TRUE(allows(p, Permission::publish, "greet.morning"));
    EXPECT_FALSE(allows(p, Permission::publish, "tick"));
    EXPECT_TRUE(allows(p, Permission::subscribe, "tick"));
    EXPECT_TRUE(allows(p, Permission::operation, "query:files.list"));
    EXPECT_TRUE(allows(p, Permission::operation, "action:tags.add"));
    EXPECT_FALSE(allows(p, Permission::operation, "action:files.delete"));
    EXPECT_TRUE(allows(p, Permission::library, "lib-1"));
    EXPECT_FALSE(allows(p, Permission::library, "lib-2"));
    EXPECT_TRUE(allows(p, Permission::jobs, "2"));
    EXPECT_FALSE(allows(p, Permission::jobs, "3"));
    EXPECT_FALSE(allows(p, Permission::jobs, "two"));
}

TEST(Permissions, GrantsAsText) {
    EXPECT_EQ(parse_grant("network:*.a.com")->network, std::vector<std::string>{"*.a.com"});
    EXPECT_EQ(parse_grant("fs:rw:data")->filesystem,
              (std::vector<Permissions::Path>{{"data", true}}));
    EXPECT_EQ(parse_grant("fs:data")->filesystem,
              (std::vector<Permissions::Path>{{"data", false}}));
    EXPECT_TRUE(parse_grant("kv:write")->kv_write);
    EXPECT_FALSE(parse_grant("kv:write")->kv_read);
    EXPECT_TRUE(parse_grant("scope")->scope_read);
    EXPECT_EQ(parse_grant("jobs:4")->max_concurrent_jobs, 4u);
    EXPECT_EQ(parse_grant("rate:60")->calls_per_minute, 60u);
    EXPECT_TRUE(parse_grant("ui")->ui);
    EXPECT_EQ(parse_grant("env").error().message,
              "grant \"env\": env needs an argument (env:VALUE)");
    EXPECT_EQ(parse_grant("jobs:x").error().message,
              "grant \"jobs:x\": expected jobs:N with a number N");
    EXPECT_EQ(parse_grant("kv:delete").error().message,
              "grant \"kv:delete\": expected kv:read or kv:write");
    EXPECT_NE(parse_grant("teleport:x").error().message.find("unknown permission \"teleport\""),
              std::string::npos);
}

TEST(Permissions, MergeAndRemove) {
    Permissions p;
    p.merge(*parse_grant("network:a.com"));
    p.merge(*parse_grant("network:a.com"));
    p.merge(*parse_grant("fs:data"));
    p.merge(*parse_grant("fs:rw:data"));
    p.merge(*parse_grant("kv:read"));
    EXPECT_EQ(p.network.size(), 1u);
    ASSERT_EQ(p.filesystem.size(), 1u);
    EXPECT_TRUE(p.filesystem[0].write);
    p.remove(*parse_grant("fs:data"));
    p.remove(*parse_grant("network:a.com"));
    EXPECT_TRUE(p.filesystem.empty());
    EXPECT_TRUE(p.network.empty());
    EXPECT_TRUE(p.kv_read);
}

TEST(Permissions, GrantTextsReadBackAsTheyWere) {
    Permissions p;
    p.network = {"*.example.com"};
    p.filesystem = {{"data", false}, {"cache", true}};
    p.env = {"HOME"};
    p.databases = {"main"};
    p.kv_write = true;
    p.scope_read = true;
    p.publish = {"greet.*"};
    p.subscribe = {"tick"};
    p.operations = {"query:"};
    p.libraries = {"*"};
    p.ui = true;
    p.max_concurrent_jobs = 4;
    const std::vector<std::string> texts = grant_texts(p);
    EXPECT_EQ(texts, (std::vector<std::string>{"network:*.example.com", "fs:ro:data", "fs:rw:cache",
                                               "env:HOME", "database:main", "kv:write",
                                               "scope:read", "publish:greet.*", "subscribe:tick",
                                               "operation:query:", "library:*", "ui", "jobs:4"}));
    Permissions back;
    for (const std::string& text : texts)
        back.merge(parse_grant(text).value());
    EXPECT_EQ(back, p);
    p.calls_per_minute = 60;
    EXPECT_EQ(grant_texts(p).back(), "rate:60");
    EXPECT_TRUE(grant_texts(Permissions{}).empty());
}

} // namespace
} // namespace kiln
