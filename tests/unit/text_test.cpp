// Text a module or a plugin chose, printed by the host: escape_control() and the messages that
// use it (trap frame names, unknown imports). A newline in such text forged a host log line and
// an escape sequence reached the terminal.
#include "base/text.hpp"

#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using kiln::escape_control;

TEST(EscapeControl, ControlCharactersBecomeEscapes) {
    EXPECT_EQ(escape_control("one\ntwo\r\n"), "one\\ntwo\\r\\n");
    EXPECT_EQ(escape_control("a\tb"), "a\\tb");
    EXPECT_EQ(escape_control("\x1b[2J\x1b]0;title\x07"), "\\x1b[2J\\x1b]0;title\\x07");
    EXPECT_EQ(escape_control(std::string("nul\0here", 8)), "nul\\x00here");
    EXPECT_EQ(escape_control("del\x7f"), "del\\x7f");
    // C1 controls: U+0085 (NEL) and U+009B (CSI) as UTF-8, and CSI as the bare byte some
    // terminals take as a control.
    EXPECT_EQ(escape_control("\xc2\x85\xc2\x9b"), "\\xc2\\x85\\xc2\\x9b");
    EXPECT_EQ(escape_control("\x9b"
                             "31m"),
              "\\x9b31m");
}

TEST(EscapeControl, PrintableTextIsKept) {
    EXPECT_EQ(escape_control(""), "");
    EXPECT_EQ(escape_control("plain text, \"quoted\" and C:\\path"),
              "plain text, \"quoted\" and C:\\path");
    EXPECT_EQ(escape_control("ünïcödé \xc2\xa0 \xe2\x82\xac \xf0\x9f\x94\xa5"),
              "ünïcödé \xc2\xa0 \xe2\x82\xac \xf0\x9f\x94\xa5");
}

TEST(EscapeControl, BytesThatAreNotUtf8AreEscapedOneByOne) {
    EXPECT_EQ(escape_control("\xff"), "\\xff");
    EXPECT_EQ(escape_control("\xe2\x82"), "\\xe2\\x82");          // cut short
    EXPECT_EQ(escape_control("\xc0\xaf"), "\\xc0\\xaf");          // overlong "/"
    EXPECT_EQ(escape_control("\xed\xa0\x80"), "\\xed\\xa0\\x80"); // a surrogate
    EXPECT_EQ(escape_control("ok\xe2\x82"
                             "ok"),
              "ok\\xe2\\x82ok"); // the next sequence survives
}

TEST(EscapeControl, TrapFrameNamesAreEscaped) {
    kiln::TrapFrame frame;
    frame.func_index = 3;
    frame.func_name = "evil\n  at forged\x1b[2J";
    EXPECT_EQ(kiln::format_frame(frame), "evil\\n  at forged\\x1b[2J");
    EXPECT_EQ(kiln::format_backtrace({frame}), "  at evil\\n  at forged\\x1b[2J\n");
}

TEST(EscapeControl, UnknownImportNamesAreEscaped) {
    kiln::Engine engine;
    KILN_COMPILE_OR_SKIP(module, engine, R"((module (import "env\0a" "f\1b[2J" (func))))");
    kiln::Store store(engine);
    kiln::Linker linker;
    auto inst = linker.instantiate(store, module);
    ASSERT_FALSE(inst.has_value());
    EXPECT_EQ(inst.error().message, "unknown import: env\\n.f\\x1b[2J (func) is not defined");
}

TEST(GlobMatch, StarsQuestionMarksAndCase) {
    EXPECT_TRUE(kiln::glob_match("*.example.com", "api.example.com"));
    EXPECT_FALSE(kiln::glob_match("*.example.com", "example.com"));
    EXPECT_TRUE(kiln::glob_match("a?c*", "abcdef"));
    EXPECT_FALSE(kiln::glob_match("a?c", "abcd"));
    EXPECT_FALSE(kiln::glob_match("*.Example.com", "api.example.com"));
    EXPECT_TRUE(kiln::glob_match("*.Example.com", "api.example.COM", true));
    // Many stars against a long miss ends quickly (no exponential backtracking).
    EXPECT_FALSE(kiln::glob_match("*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

} // namespace
