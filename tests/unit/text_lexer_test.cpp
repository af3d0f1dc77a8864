// Tests of the text format's tokens and literals: number syntax and rounding, strings, comments,
// and the positions lexical errors report.
#include "text/lexer.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kiln::text;

std::vector<TokenKind> kinds(std::string_view source) {
    auto tokens = TokenList::tokenize(source, "t.wat");
    EXPECT_TRUE(tokens) << tokens.error().message;
    std::vector<TokenKind> out;
    if (!tokens) return out;
    for (size_t i = 0; i < tokens->size(); ++i)
        out.push_back((*tokens)[i].kind);
    return out;
}

std::string lex_error(std::string_view source) {
    auto tokens = TokenList::tokenize(source, "t.wat");
    if (tokens) return "no error";
    EXPECT_EQ(tokens.error().kind, kiln::ErrorKind::malformed);
    return tokens.error().message;
}

using K = TokenKind;

TEST(TextLexer, TokensAreSeparatedByBlanksCommentsAndParentheses) {
    EXPECT_EQ(kinds("(func(nop))"), (std::vector{K::lparen, K::keyword, K::lparen, K::keyword,
                                                 K::rparen, K::rparen, K::eof}));
    EXPECT_EQ(kinds("$f;;x\n0(;y;)\"s\""), (std::vector{K::id, K::number, K::string, K::eof}));
    // A run of identifier characters and strings is one token, and no valid one.
    EXPECT_EQ(
        kinds("$l\"a\" \"a\"\"b\" 0$l 1x 0x"),
        (std::vector{K::reserved, K::reserved, K::reserved, K::reserved, K::reserved, K::eof}));
    EXPECT_EQ(kinds("nan inf nan:0x1 offset=8"),
              (std::vector{K::keyword, K::keyword, K::keyword, K::keyword, K::eof}));
    EXPECT_EQ(
        kinds("-inf +nan:0x1 1_000 0x1.8p3 1e-5 -0"),
        (std::vector{K::number, K::number, K::number, K::number, K::number, K::number, K::eof}));
}

TEST(TextLexer, BlockCommentsNest) {
    EXPECT_EQ(kinds("(; a (; b ;) c ;) x"), (std::vector{K::keyword, K::eof}));
    EXPECT_EQ(lex_error("x\n  (; a (; b ;) c"), "t.wat:2:3: unterminated block comment");
}

TEST(TextLexer, ErrorsHavePositions) {
    EXPECT_EQ(lex_error("(module\n  (func)))\n"), "t.wat:2:10: unexpected ')'");
    EXPECT_EQ(lex_error("(module\n  (func"), "t.wat:2:3: '(' is never closed");
    EXPECT_EQ(lex_error("(data \"abc\n\")"), "t.wat:1:7: unterminated string");
    EXPECT_EQ(lex_error("  \"a\\qb\""),
              "t.wat:1:5: malformed escape in a string (expected \\t \\n \\r \\\" \\' \\\\ "
              "\\u{HEX} or two hex digits)");
    EXPECT_EQ(lex_error("\"\\u{d800}\""),
              "t.wat:1:2: escape \\u{...} names no Unicode scalar value");
    EXPECT_EQ(lex_error("a ; b"), "t.wat:1:3: unexpected character ';' (a comment starts with ;; "
                                  "or (;)");
    EXPECT_EQ(lex_error("\"\xff\""), "t.wat:1:2: malformed UTF-8 encoding");
    // Columns count characters: the é before the error is one column.
    EXPECT_EQ(lex_error(";; é\n\"é\" ;"), "t.wat:2:5: unexpected character ';' (a comment "
                                          "starts with ;; or (;)");
    auto unnamed = TokenList::tokenize(")", "");
    ASSERT_FALSE(unnamed);
    EXPECT_EQ(unnamed.error().message, "1:1: unexpected ')'");
}

TEST(TextLexer, StringEscapes) {
    EXPECT_EQ(string_value("\"a\\tb\\n\\r\\\"\\'\\\\\""), "a\tb\n\r\"'\\");
    EXPECT_EQ(string_value("\"\\41\\ff\\00\""), std::string("A\xff\0", 3));
    EXPECT_EQ(string_value("\"\\u{41}\\u{e9}\\u{20ac}\\u{1F600}\""),
              "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    EXPECT_EQ(string_value("\"h\xc3\xa9\""), "h\xc3\xa9");
}

TEST(TextLiterals, Integers) {
    EXPECT_EQ(parse_integer("0x7fffffff", 32), 0x7fffffffu);
    EXPECT_EQ(parse_integer("4294967295", 32), 0xffffffffu);
    EXPECT_EQ(parse_integer("-0x80000000", 32), 0x80000000u);
    EXPECT_EQ(parse_integer("-1", 32), 0xffffffffu);
    EXPECT_EQ(parse_integer("-1", 64), UINT64_MAX);
    EXPECT_EQ(parse_integer("+2147483647", 32), 0x7fffffffu);
    EXPECT_EQ(parse_integer("1_000_000", 32), 1000000u);
    EXPECT_EQ(parse_integer("0xff_ff", 32), 0xffffu);
    EXPECT_EQ(parse_integer("18446744073709551615", 64), UINT64_MAX);
    EXPECT_EQ(parse_integer("-9223372036854775808", 64), uint64_t{1} << 63);

    EXPECT_EQ(parse_integer("4294967296", 32).error(), LiteralError::range);
    EXPECT_EQ(parse_integer("-0x80000001", 32).error(), LiteralError::range);
    // A + sign makes the literal signed: its range is that of a signed integer.
    EXPECT_EQ(parse_integer("+2147483648", 32).error(), LiteralError::range);
    EXPECT_EQ(parse_integer("18446744073709551616", 64).error(), LiteralError::range);
    for (const char* bad : {"1__0", "_1", "1_", "0x", "0x_1", "1x", "1.0", "--1", ""})
        EXPECT_EQ(parse_integer(bad, 32).error(), LiteralError::syntax) << bad;

    EXPECT_EQ(parse_unsigned("65536", 32), 65536u);
    EXPECT_EQ(parse_unsigned("+1", 32).error(), LiteralError::syntax);
    EXPECT_EQ(parse_unsigned("0x1_0000_0000", 32).error(), LiteralError::range);
}

TEST(TextLiterals, FloatsRoundToNearestEven) {
    EXPECT_EQ(parse_f32("1.5"), 0x3fc00000u);
    EXPECT_EQ(parse_f32("-0"), 0x80000000u);
    EXPECT_EQ(parse_f32("0x1.8"), 0x3fc00000u);    // a hex float needs no exponent
    EXPECT_EQ(parse_f32("0x1p-149"), 0x00000001u); // the smallest subnormal
    EXPECT_EQ(parse_f32("0x1.fffffep127"), 0x7f7fffffu);
    EXPECT_EQ(parse_f32("1_000.5"), std::bit_cast<uint32_t>(1000.5f));
    // 1 + 2^-24 lies halfway between two floats: it goes to the even one, anything above it up.
    EXPECT_EQ(parse_f32("0x1.000001p0"), 0x3f800000u);
    EXPECT_EQ(parse_f32("0x1.00000100000000000001p0"), 0x3f800001u);
    EXPECT_EQ(parse_f32("1.000000059604644775390625"), 0x3f800000u);
    EXPECT_EQ(parse_f32("1.00000005960464477539062500001"), 0x3f800001u);
    EXPECT_EQ(parse_f64("2.2250738585072011e-308"), 0x000fffffffffffffu);
    EXPECT_EQ(parse_f64("0x1.fffffffffffffp1023"), 0x7fefffffffffffffu);
    // Too small for the type: a zero of the literal's sign.
    EXPECT_EQ(parse_f32("1e-50"), 0x00000000u);
    EXPECT_EQ(parse_f32("-0x1p-200"), 0x80000000u);
    EXPECT_EQ(parse_f64("1e-400"), 0u);
    // Too large: out of range, the nearest float being infinity.
    EXPECT_EQ(parse_f32("1e39").error(), LiteralError::range);
    EXPECT_EQ(parse_f32("0x1.ffffffp127").error(), LiteralError::range);
    EXPECT_EQ(parse_f64("0x1p1024").error(), LiteralError::range);
    EXPECT_EQ(parse_f64("-1e309").error(), LiteralError::range);
}

TEST(TextLiterals, InfinitiesAndNaNs) {
    EXPECT_EQ(parse_f32("inf"), 0x7f800000u);
    EXPECT_EQ(parse_f32("-inf"), 0xff800000u);
    EXPECT_EQ(parse_f32("nan"), 0x7fc00000u);
    EXPECT_EQ(parse_f32("-nan:0x1"), 0xff800001u);
    EXPECT_EQ(parse_f32("nan:0x7f_ffff"), 0x7fffffffu);
    EXPECT_EQ(parse_f64("+nan:0x4"), 0x7ff0000000000004u);
    EXPECT_EQ(parse_f32("nan:0x80_0000").error(), LiteralError::range);
    EXPECT_EQ(parse_f32("nan:0x0").error(), LiteralError::range);
    for (const char* bad :
         {"nan:1", "nan:canonical", "infinity", "0x1p", "1e", ".5", "1._0", "0x1.0p_1", "+-1"})
        EXPECT_EQ(parse_f64(bad).error(), LiteralError::syntax) << bad;
}

} // namespace
