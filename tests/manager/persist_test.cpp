// The manager's state in Kiln's state database: disabled plugins, grants and the audit log
// outlive the manager that set them; a database newer than the code is refused.
#include "manager_test_util.hpp"

#include <kiln/state_db.hpp>

#include <gtest/gtest.h>

namespace kiln {
namespace {

using manager_test::kiln_yaml;
using manager_test::lifecycle_body;
using manager_test::TempDir;
using manager_test::write_plugin;

/// A plugin folder `plugins/p` and a state database beside it.
struct Home {
    TempDir dir;
    std::shared_ptr<StateDb> db;

    Home() {
        write_plugin(dir, "plugins/p", kiln_yaml("p", "1.0.0", "permissions: {kv: [read]}\n"),
                     lifecycle_body("p"));
        db = StateDb::open(dir.str() + "/home/state.db").value();
    }
    std::string plugins() const { return dir.str() + "/plugins"; }
    /// A manager over the folder, with the database: what a new run of the host sees.
    std::unique_ptr<PluginManager> manager() const {
        ManagerOptions options;
        options.state = db;
        options.getenv = [](const std::string&) { return std::nullopt; };
        auto m = std::make_unique<PluginManager>(std::move(options));
        EXPECT_TRUE(m->open(plugins()));
        return m;
    }
};

TEST(ManagerState, DisabledPluginStaysDisabled) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Home s;
    {
        auto m = s.manager();
        ASSERT_TRUE(m->call("p", "echo", "x"));
        ASSERT_TRUE(m->set_enabled("p", false));
        EXPECT_EQ(m->info("p")->state, PluginState::disabled);
    }
    {
        auto m = s.manager();
        EXPECT_EQ(m->info("p")->state, PluginState::disabled);
        auto call = m->call("p", "echo", "x");
        ASSERT_FALSE(call);
        EXPECT_EQ(call.error().message, "plugin p is disabled");
        // A reload re-reads the plugin but does not enable it.
        ASSERT_TRUE(m->reload("p"));
        EXPECT_EQ(m->info("p")->state, PluginState::disabled);
        ASSERT_TRUE(m->set_enabled("p", true));
    }
    auto m = s.manager();
    EXPECT_EQ(m->info("p")->state, PluginState::available);
    EXPECT_EQ(m->call("p", "echo", "back").value_or(""), "back");
}

TEST(ManagerState, DisablingCoversEveryVersion) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Home s;
    write_plugin(s.dir, "plugins/p2", kiln_yaml("p", "2.0.0"), lifecycle_body("p"));
    auto m = s.manager();
    ASSERT_TRUE(m->set_enabled("p", false));
    for (const PluginInfo& p : m->list())
        EXPECT_EQ(p.state, PluginState::disabled) << p.path;
}

TEST(ManagerState, FailedPluginDisabledThenEnabledFailsAgain) {
    Home s;
    s.dir.write("plugins/bad/kiln.yaml", "name: bad\nwasm: plugin.wasm\n");
    auto m = s.manager();
    ASSERT_EQ(m->info("bad")->state, PluginState::failed);
    const std::string reason = m->info("bad")->error;
    ASSERT_TRUE(m->set_enabled("bad", false));
    EXPECT_EQ(m->info("bad")->state, PluginState::disabled);
    ASSERT_TRUE(m->set_enabled("bad", true));
    EXPECT_EQ(m->info("bad")->state, PluginState::failed);
    EXPECT_EQ(m->info("bad")->error, reason);
}

TEST(ManagerState, GrantsOutliveTheManager) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Home s;
    Permissions wanted;
    for (const char* text :
         {"kv:write", "network:*.example.com", "fs:rw:data", "jobs:2", "rate:60"})
        wanted.merge(parse_grant(text).value());
    wanted.calls_per_minute = 60; // merge keeps no rate where there was none; a grant does
    {
        auto m = s.manager();
        EXPECT_FALSE(m->check("p", Permission::kv_write, ""));
        for (const char* text :
             {"kv:write", "network:*.example.com", "fs:rw:data", "jobs:2", "rate:60"})
            ASSERT_TRUE(m->grant("p", parse_grant(text).value()));
        EXPECT_EQ(m->granted("p").value(), wanted);
    }
    {
        auto m = s.manager();
        EXPECT_EQ(m->granted("p").value(), wanted);
        EXPECT_TRUE(m->check("p", Permission::kv_write, ""));
        EXPECT_TRUE(m->check("p", Permission::network, "https://api.example.com/"));
        // The manifest's kv:read is not a grant: revoking what was granted leaves it.
        ASSERT_TRUE(m->revoke("p", parse_grant("kv:write").value()));
        ASSERT_TRUE(m->revoke("p", parse_grant("network:*.example.com").value()));
    }
    auto m = s.manager();
    EXPECT_FALSE(m->check("p", Permission::kv_write, ""));
    EXPECT_FALSE(m->check("p", Permission::network, "https://api.example.com/"));
    EXPECT_TRUE(m->check("p", Permission::kv_read, ""));
    EXPECT_TRUE(m->check("p", Permission::file_write, "data/x"));
    // What the database holds reads as the grants `kiln plugin grant` takes.
    auto rows =
        s.db->query("SELECT permission FROM manager_grants WHERE plugin = ? ORDER BY 1", {"p"});
    ASSERT_TRUE(rows);
    std::vector<std::string> texts;
    for (const SqlRow& row : *rows)
        texts.push_back(row.text(0));
    EXPECT_EQ(texts, (std::vector<std::string>{"fs:rw:data", "jobs:2", "rate:60"}));
}

TEST(ManagerState, AuditLogIsWrittenToTheDatabase) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Home s;
    const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
    {
        auto m = s.manager();
        std::vector<AuditRecord> hooked;
        m->audit().set_hook([&](const AuditRecord& r) { hooked.push_back(r); });
        EXPECT_FALSE(m->check("p", Permission::network, "https://evil.com/"));
        EXPECT_FALSE(m->check("p", Permission::env, "SECRET"));
        EXPECT_EQ(hooked.size(), 2u);
    }
    auto m = s.manager();
    const auto records = m->audit().records("p");
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].plugin, "p");
    EXPECT_EQ(records[0].permission, "network");
    EXPECT_EQ(records[0].argument, "https://evil.com/");
    EXPECT_EQ(records[1].permission, "env");
    EXPECT_EQ(records[1].argument, "SECRET");
    EXPECT_GE(records[0].time, before);
    EXPECT_LE(records[1].time, std::chrono::system_clock::now());
    EXPECT_TRUE(m->audit().records("other").empty());
    EXPECT_EQ(m->audit().records().size(), 2u);
}

TEST(ManagerState, WithoutADatabaseNothingOutlivesTheManager) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Home s;
    {
        PluginManager m;
        ASSERT_TRUE(m.open(s.plugins()));
        ASSERT_TRUE(m.set_enabled("p", false));
        ASSERT_TRUE(m.grant("p", parse_grant("kv:write").value()));
    }
    PluginManager m;
    ASSERT_TRUE(m.open(s.plugins()));
    EXPECT_EQ(m.info("p")->state, PluginState::available);
    EXPECT_FALSE(m.check("p", Permission::kv_write, ""));
    EXPECT_EQ(*s.db->schema_version("manager"), 0u);
}

TEST(ManagerState, NewerTablesAreRefused) {
    Home s;
    ASSERT_TRUE(s.db->exec("INSERT INTO kiln_schema(component, version) VALUES ('manager', 99)"));
    ManagerOptions options;
    options.state = s.db;
    PluginManager m(std::move(options));
    auto opened = m.open(s.plugins());
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().message.find("the tables of manager are at schema version 99"),
              std::string::npos)
        << opened.error().message;
    EXPECT_FALSE(m.set_enabled("p", false));
    EXPECT_FALSE(m.grant("p", Permissions{}));
}

} // namespace
} // namespace kiln
