// TOML manifests with non-ASCII text where toml++ 3.3 would ask whether a code point is
// whitespace and reach undefined behaviour (src/plugin/toml_guard.hpp; found by the
// manifest-toml fuzzer under UBSan): errors where TOML allows no such character, the same text
// as written in strings, keys and comments, and error messages that show the original character.
#include <kiln/plugin.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using kiln::Manifest;

constexpr const char* wasm_table = "[[wasm]]\npath = \"p.wasm\"\n";

std::string config_value(const std::string& toml, const std::string& key) {
    auto m = Manifest::from_toml(std::string(wasm_table) + "[config]\n" + toml);
    if (!m) return "error: " + m.error().message;
    auto it = m->config.find(key);
    return it == m->config.end() ? "missing" : it->second;
}

/// The error for `text`, which must fail.
std::string error_of(const std::string& text) {
    auto m = Manifest::from_toml(text);
    return m ? "parsed" : m.error().message;
}

TEST(TomlUnicode, NonAsciiOutsideStringsIsAnErrorNamingTheCharacter) {
    // After a value, inside a bare value, in an inline table, as a bare key, after a date: each
    // once reached __builtin_unreachable in toml++.
    // The column counts characters, so it points at the non-ASCII one.
    const std::pair<const char*, const char*> cases[] = {
        {"fuel = 1 \u00e9\n", "line 3, column 10: "},
        {"fuel = 9_\"\u00e9\"\n", "line 3, column 10: "},
        {"memory = {\u00a1 }\n", "line 3, column 11: "},
        {"\u00e9 = \"x\"\n", "line 3, column 1: "},
        {"timeout_ms = 1979-05-27T07:32:00\u0436\n", "line 3, column 33: "}};
    for (const auto& [text, where] : cases) {
        std::string e = error_of(std::string(wasm_table) + text);
        EXPECT_TRUE(e.starts_with(std::string("TOML manifest: ") + where)) << e;
        // The message quotes the character as written, not what toml++ was given.
        EXPECT_EQ(e.find("\xf3\xb0"), std::string::npos) << e;
    }
    EXPECT_NE(error_of("\xcc\xaa").find("\u032a"), std::string::npos);
    EXPECT_EQ(error_of("fuel = 1\n\xff\n"), "TOML manifest: line 2: not UTF-8");
}

TEST(TomlUnicode, LineEndingBackslashBeforeNonAsciiKeepsTheText) {
    EXPECT_EQ(config_value("k = \"\"\"\\\n\u00a7\"\"\"\n", "k"), "\u00a7");
    EXPECT_EQ(config_value("k = \"\"\"a \\  \r\n\n   \u0436\u0438\\\n \u00e9!\"\"\"\n", "k"),
              "a \u0436\u0438\u00e9!");
    // TOML's whitespace is spaces and tabs: a no-break space after the backslash is text.
    EXPECT_EQ(config_value("k = \"\"\"\\\n\u00a0x\"\"\"\n", "k"), "\u00a0x");
    // A backslash, spaces, then no line break is an error, as it was; so is a backslash before
    // a non-ASCII character, which is no escape sequence.
    EXPECT_TRUE(config_value("k = \"\"\"\\  \u00e9\"\"\"\n", "k").starts_with("error: "));
    std::string e = config_value("k = \"\"\"\\\u00e9\"\"\"\n", "k");
    EXPECT_TRUE(e.starts_with("error: TOML manifest: line 4, column 9: ")) << e;
    EXPECT_NE(e.find("\u00e9"), std::string::npos) << e;
}

TEST(TomlUnicode, NonAsciiInStringsKeysAndCommentsIsKept) {
    EXPECT_EQ(config_value("k = \"caf\u00e9\" # \u00e9t\u00e9\n", "k"), "caf\u00e9");
    EXPECT_EQ(config_value("\"\u00e9\" = '\u00a1\\'\n", "\u00e9"), "\u00a1\\");
    EXPECT_EQ(config_value("k = '''\n\u0436\\ \n\u00e9'''\n", "k"), "\u0436\\ \n\u00e9");
    EXPECT_EQ(config_value("k = \"\u3042\ufeff\U0001f600\u00a0\"\n", "k"),
              "\u3042\ufeff\U0001f600\u00a0");
    EXPECT_EQ(config_value("k = \"\\u00e9\\u0436\"\n", "k"), "\u00e9\u0436");
    // A byte-order mark before the document.
    auto m = Manifest::from_toml("\xef\xbb\xbf" + std::string(wasm_table));
    EXPECT_TRUE(m) << m.error().message;
}

TEST(TomlUnicode, PrivateUseStandInsAreRefused) {
    // The guard borrows U+F0000 onwards; text that already holds them is refused, by line.
    EXPECT_EQ(error_of(std::string(wasm_table) + "name = \"\U000F0049\"\n"),
              "TOML manifest: line 3: U+F0049 (private use) is not supported");
    EXPECT_EQ(error_of(std::string(wasm_table) + "name = \"\\U000F0049\"\n"),
              "TOML manifest: line 3: \\U escapes of plane 15 (private use) are not supported");
}

} // namespace
