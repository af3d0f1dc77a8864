// A plugin's text printed by the host: a newline in a log line forged a host log line, and escape
// sequences in log lines, error_set messages and var keys reached the terminal. Each test is
// named after what broke.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::HasSubstr;
using ::testing::Not;

class PluginText : public PluginTest {};

/// A plugin's text that forges a host log line, clears the screen and sets the terminal's
/// title; and how it must print.
constexpr const char* forged_text = "line one\n[info] host: forged\x1b[2J\x1b]0;pwned\x07";
constexpr const char* forged_escaped = "line one\\n[info] host: forged\\x1b[2J\\x1b]0;pwned\\x07";

/// forged_text (at linear memory 0): `log` logs it at info, `fail` sets it as the error, `var`
/// uses it as a var's key and value.
std::string text_plugin_body() {
    return R"(
  (data (i32.const 0) "line one\0a[info] host: forged\1b[2J\1b]0;pwned\07")
  (func (export "log") (result i32)
    (call $log_info (call $str (i32.const 0) (i32.const 42)))
    (i32.const 0))
  (func (export "fail") (result i32)
    (call $error_set (call $str (i32.const 0) (i32.const 42)))
    (i32.const 1))
  (func (export "var") (result i32)
    (call $var_set (call $str (i32.const 0) (i32.const 42)) (call $str (i32.const 0) (i32.const 42)))
    (i32.const 0)))";
}

TEST_F(PluginText, LogLineWithControlCharactersIsEscaped) {
    ASSERT_EQ(std::string(forged_text).size(), 42u);
    auto lines = std::make_shared<std::vector<std::string>>();
    PluginOptions options;
    options.log = [lines](std::string_view, LogLevel, std::string_view line) {
        lines->emplace_back(line);
    };
    auto p = make_plugin(text_plugin_body(), options);
    ASSERT_TRUE(p);
    call_ok(*p, "log");
    EXPECT_EQ(*lines, std::vector<std::string>{forged_escaped});
    // The default sink (stderr) prints one line, without the escape sequences.
    auto q = make_plugin(text_plugin_body());
    ASSERT_TRUE(q);
    ::testing::internal::CaptureStderr();
    call_ok(*q, "log");
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_THAT(err, HasSubstr(forged_escaped));
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_THAT(err, Not(HasSubstr("\x1b]"))) << err;
}

TEST_F(PluginText, ErrorSetMessageIsEscaped) {
    auto p = make_plugin(text_plugin_body());
    ASSERT_TRUE(p);
    const Error e = call_fails(*p, "fail");
    EXPECT_EQ(e.kind, ErrorKind::plugin);
    EXPECT_EQ(e.message, forged_escaped);
}

TEST_F(PluginText, VarQuotaMessageEscapesTheKey) {
    auto p = make_plugin(text_plugin_body(), {}, [](Manifest& m) { m.max_var_bytes = 50; });
    ASSERT_TRUE(p);
    const Error e = call_fails(*p, "var");
    EXPECT_THAT(e.message, HasSubstr(std::string("setting \"") + forged_escaped + "\""));
    EXPECT_THAT(e.message, Not(HasSubstr("\x1b"))) << e.message;
}

} // namespace
