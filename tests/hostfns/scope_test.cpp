// kiln:host/v1 through the manager: the scope family with a call's scope handed in and back,
// denials as last_error() with their audit records, and the log family routed to the
// plugin's log.
#include "hostfns_test_util.hpp"

#include <gtest/gtest.h>

namespace kiln {
namespace {

using namespace hostfns_test;

/// `get` outputs the scope's value of the input key (or last_error(), or nothing); `set`
/// sets "answer" to 42 and returns scope_set's status; `say` logs its input at warn.
std::string scope_body() {
    return host_import("scope_get", 1) + host_import("scope_set", 2, true) +
           host_import("log", 2, true) + host_import("last_error", 0) + R"(
  (data (i32.const 16) "answer42warn")
  (func (export "get") (result i32) (local $h i64)
    (local.set $h (call $scope_get (call $input_offset)))
    (if (i64.eqz (local.get $h)) (then (local.set $h (call $last_error))))
    (if (i64.eqz (local.get $h)) (then (return (i32.const 0))))
    (call $out_block (local.get $h))
    (i32.const 0))
  (func (export "set") (result i32)
    (call $scope_set (call $str (i32.const 16) (i32.const 6)) (call $str (i32.const 22) (i32.const 2))))
  (func (export "say") (result i32)
    (call $log (call $str (i32.const 24) (i32.const 4)) (call $input_offset))))";
}

TEST(HostScope, ReadAndWrittenWithinTheCallAndHandedBack) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "scoped",
                 kiln_yaml("scoped", "1.0.0", "permissions: {scope: [read, write]}\n"),
                 scope_body());
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    CallContext context{R"({"user":"bob","n":1})"};
    auto got = h.manager->call("scoped", "get", "user", context);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, "\"bob\"");
    // Absent: no value and no error.
    got = h.manager->call("scoped", "get", "nobody", context);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, "");
    auto set = h.manager->call("scoped", "set", "", context);
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_EQ(context.scope, R"({"answer":42,"n":1,"user":"bob"})");
    // Without a scope the call has none to read.
    got = h.manager->call("scoped", "get", "user");
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, "scoped: this call has no scope");
    // A scope that is not an object is refused before the plugin runs.
    CallContext bad{"[1]"};
    got = h.manager->call("scoped", "get", "user", bad);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message, "the call's scope is not a JSON object");
    EXPECT_TRUE(h.audit("scoped").empty());
}

TEST(HostScope, DeniedWithAnAuditRecord) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "reader", kiln_yaml("reader", "1.0.0", "permissions: {scope: [read]}\n"),
                 scope_body());
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    CallContext context{R"({"user":"bob"})"};
    auto set = h.manager->call("reader", "set", "", context);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().message, "set returned -1");
    EXPECT_EQ(context.scope, R"({"user":"bob"})");
    EXPECT_EQ(h.audit("reader"), std::vector<std::string>{"scope_write "});
    auto why = h.manager->call("reader", "get", "user", context);
    ASSERT_TRUE(why);
    EXPECT_EQ(*why, "\"bob\"");
}

TEST(HostScope, GrantedAndRevokedWhileLoaded) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "reader", kiln_yaml("reader", "1.0.0", "permissions: {scope: [read]}\n"),
                 scope_body());
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    CallContext context{R"({"user":"bob"})"};
    ASSERT_FALSE(h.manager->call("reader", "set", "", context));
    ASSERT_EQ(h.manager->info("reader")->state, PluginState::loaded);
    // The application's "allow this plugin to write the scope": the loaded instance writes
    // from its next call on, without a reload.
    ASSERT_TRUE(h.manager->grant("reader", parse_grant("scope:write").value()));
    auto set = h.manager->call("reader", "set", "", context);
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_EQ(context.scope, R"({"answer":42,"user":"bob"})");
    ASSERT_TRUE(h.manager->revoke("reader", parse_grant("scope:write").value()));
    context.scope = R"({"user":"bob"})";
    ASSERT_FALSE(h.manager->call("reader", "set", "", context));
    EXPECT_EQ(context.scope, R"({"user":"bob"})");
    // One denial before the grant, one after the revoke.
    EXPECT_EQ(h.audit("reader"), (std::vector<std::string>{"scope_write ", "scope_write "}));
    EXPECT_EQ(h.manager->cache_stats().compiled, 1u);
}

TEST(HostLog, RoutedToThePluginsLogWithItsName) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "talker", kiln_yaml("talker", "1.0.0"), scope_body());
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    auto said = h.manager->call("talker", "say", "line one\nforged line");
    ASSERT_TRUE(said) << said.error().message;
    ASSERT_EQ(h.lines.size(), 1u);
    EXPECT_EQ(h.lines[0], "talker warn: line one\\nforged line");
}

} // namespace
} // namespace kiln
