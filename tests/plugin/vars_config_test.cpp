// Vars and config as a guest sees them: var_set/var_get persist across calls, a zero value
// deletes, the max_var_bytes quota (0 disables vars) fails the call naming the limit; config_get
// returns a block or 0, and Plugin::update_config merges between calls.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::HasSubstr;

// "set_one"/"set_two" store the input under the key "one"/"two"; "get_one"/"get_two" output
// the value or "<none>"; "del_one" deletes "one".
constexpr const char* vars_wat = R"(
  (data (i32.const 0) "onetwo<none>")
  (func $key_one (result i64) (call $str (i32.const 0) (i32.const 3)))
  (func $key_two (result i64) (call $str (i32.const 3) (i32.const 3)))
  (func $out_value (param $v i64)
    (if (i64.eqz (local.get $v))
      (then (call $out_str (i32.const 6) (i32.const 6)))
      (else (call $out_block (local.get $v)))))
  (func (export "set_one") (result i32)
    (call $var_set (call $key_one) (call $input_offset)) (i32.const 0))
  (func (export "set_two") (result i32)
    (call $var_set (call $key_two) (call $input_offset)) (i32.const 0))
  (func (export "get_one") (result i32)
    (call $out_value (call $var_get (call $key_one))) (i32.const 0))
  (func (export "get_two") (result i32)
    (call $out_value (call $var_get (call $key_two))) (i32.const 0))
  (func (export "del_one") (result i32)
    (call $var_set (call $key_one) (i64.const 0)) (i32.const 0))
  ;; a null or foreign key is no var at all
  (func (export "odd_keys") (result i32)
    (call $put (call $var_get (i64.const 0)))
    (call $put (call $var_get (i64.const 0x7fffffffffffffff)))
    (call $flush)
    (i32.const 0))
)";

class Vars : public PluginTest {};

TEST_F(Vars, PersistAcrossCallsAndZeroDeletes) {
    auto p = make_plugin(vars_wat);
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "get_one"), "<none>");
    call_ok(*p, "set_one", "apple");
    EXPECT_EQ(call_ok(*p, "get_one"), "apple");
    EXPECT_EQ(call_ok(*p, "get_two"), "<none>");
    call_ok(*p, "set_one", "banana"); // replaces
    EXPECT_EQ(call_ok(*p, "get_one"), "banana");
    call_ok(*p, "del_one");
    EXPECT_EQ(call_ok(*p, "get_one"), "<none>");
    EXPECT_THAT(report(call_ok(*p, "odd_keys")), ::testing::ElementsAre(0u, 0u));
}

TEST_F(Vars, BelongToOneInstanceAndResetClearsThem) {
    auto compiled = CompiledPlugin::create(engine, manifest_for(vars_wat));
    KILN_ASSERT_OK(compiled);
    auto a = Plugin::create(*compiled);
    auto b = Plugin::create(*compiled);
    KILN_ASSERT_OK(a);
    KILN_ASSERT_OK(b);
    call_ok(*a, "set_one", "mine");
    EXPECT_EQ(call_ok(*b, "get_one"), "<none>");
    KILN_ASSERT_OK(a->reset());
    EXPECT_EQ(call_ok(*a, "get_one"), "<none>");
}

TEST_F(Vars, QuotaFailsTheCallNamingTheLimit) {
    auto p = make_plugin(vars_wat, {}, [](Manifest& m) { m.max_var_bytes = 100; });
    ASSERT_TRUE(p);
    const std::string sixty(60, 'x');
    call_ok(*p, "set_one", sixty);
    call_ok(*p, "set_one", sixty); // replacing a var does not count it twice
    // 60 + 60 bytes of values exceed 100, however keys are counted.
    EXPECT_THAT(call_fails(*p, "set_two", sixty).message, HasSubstr("max_var_bytes"));
    EXPECT_EQ(call_ok(*p, "get_two"), "<none>");
    EXPECT_EQ(call_ok(*p, "get_one"), sixty); // the failed call took nothing away
    // Deleting makes room again.
    call_ok(*p, "del_one");
    call_ok(*p, "set_two", sixty);
    EXPECT_EQ(call_ok(*p, "get_two"), sixty);
    // Setting and deleting many times leaks nothing from the quota.
    for (int i = 0; i < 50; ++i) {
        call_ok(*p, "set_one", std::string(30, char('a' + i % 26)));
        call_ok(*p, "del_one");
    }
    call_ok(*p, "set_one", std::string(30, 'z'));
}

TEST_F(Vars, DefaultQuotaIsOneMebibyte) {
    auto p = make_plugin(vars_wat);
    ASSERT_TRUE(p);
    EXPECT_EQ(Manifest{}.max_var_bytes, 1u << 20);
    const std::string half(512u << 10, 'h');
    call_ok(*p, "set_one", half);
    EXPECT_EQ(call_ok(*p, "get_one").size(), half.size());
    EXPECT_THAT(call_fails(*p, "set_two", std::string(2u << 20, 'b')).message,
                HasSubstr("max_var_bytes"));
}

TEST_F(Vars, ZeroQuotaDisablesVars) {
    auto p = make_plugin(vars_wat, {}, [](Manifest& m) { m.max_var_bytes = 0; });
    ASSERT_TRUE(p);
    EXPECT_THAT(call_fails(*p, "set_one", "x").message, HasSubstr("max_var_bytes"));
    EXPECT_EQ(call_ok(*p, "get_one"), "<none>");
}

// "get" outputs the config value named by the input, or "<none>".
constexpr const char* config_wat = R"(
  (data (i32.const 0) "<none>")
  (func (export "get") (result i32) (local $v i64)
    (local.set $v (call $config_get (call $input_offset)))
    (if (i64.eqz (local.get $v))
      (then (call $out_str (i32.const 0) (i32.const 6)))
      (else (call $out_block (local.get $v))))
    (i32.const 0))
  (func (export "odd_keys") (result i32)
    (call $put (call $config_get (i64.const 0)))
    (call $put (call $config_get (i64.const 0x7fffffffffffffff)))
    (call $flush)
    (i32.const 0))
)";

class Config : public PluginTest {};

TEST_F(Config, GetReturnsABlockOrZero) {
    auto p = make_plugin(config_wat, {}, [](Manifest& m) {
        m.config = {{"color", "blue"}, {"greeting", "hello, world"}};
    });
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "get", "color"), "blue");
    EXPECT_EQ(call_ok(*p, "get", "greeting"), "hello, world");
    EXPECT_EQ(call_ok(*p, "get", "absent"), "<none>");
    EXPECT_THAT(report(call_ok(*p, "odd_keys")), ::testing::ElementsAre(0u, 0u));
}

TEST_F(Config, UpdateConfigMerges) {
    auto p = make_plugin(config_wat, {}, [](Manifest& m) {
        m.config = {{"color", "blue"}, {"size", "large"}, {"shape", "round"}};
    });
    ASSERT_TRUE(p);
    p->update_config({{"color", "red"}, {"size", std::nullopt}, {"extra", "new"}});
    EXPECT_EQ(call_ok(*p, "get", "color"), "red");   // set
    EXPECT_EQ(call_ok(*p, "get", "size"), "<none>"); // deleted
    EXPECT_EQ(call_ok(*p, "get", "shape"), "round"); // untouched
    EXPECT_EQ(call_ok(*p, "get", "extra"), "new");   // added
    // Plugin::reset keeps the config.
    KILN_ASSERT_OK(p->reset());
    EXPECT_EQ(call_ok(*p, "get", "color"), "red");
    EXPECT_EQ(call_ok(*p, "get", "size"), "<none>");
}

TEST_F(Config, UpdatesStayWithTheirInstance) {
    auto compiled = CompiledPlugin::create(engine, [&] {
        Manifest m = manifest_for(config_wat);
        m.config = {{"color", "blue"}};
        return m;
    }());
    KILN_ASSERT_OK(compiled);
    auto a = Plugin::create(*compiled);
    auto b = Plugin::create(*compiled);
    KILN_ASSERT_OK(a);
    KILN_ASSERT_OK(b);
    a->update_config({{"color", "green"}});
    EXPECT_EQ(call_ok(*a, "get", "color"), "green");
    EXPECT_EQ(call_ok(*b, "get", "color"), "blue");
    EXPECT_EQ((*compiled)->manifest().config.at("color"), "blue");
}

} // namespace
