// The tokens of the WebAssembly text format, with the conversions of their values (numbers,
// strings) that the module and script parsers share.
#pragma once

#include "base/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::text {

enum class TokenKind : uint8_t {
    lparen,
    rparen,
    keyword,  ///< starts with a lowercase letter: instruction names, `offset=8`, `inf`, `nan`
    id,       ///< `$name`
    string,   ///< a quoted string, escapes still in place
    number,   ///< an integer or float literal (syntax checked; value converted on use)
    reserved, ///< any other run of identifier characters and strings: always a syntax error
    eof,
};

/// Token::flags of a number.
enum NumberFlags : uint8_t {
    number_signed = 1,   ///< starts with + or -
    number_float = 2,    ///< has a fraction or an exponent, or is inf/nan: no integer
    number_negative = 4, ///< starts with -
};

struct Token {
    uint32_t offset = 0; ///< byte offset in the source
    uint32_t size = 0;
    uint32_t close = 0; ///< for lparen: the index of the matching rparen
    TokenKind kind = TokenKind::eof;
    uint8_t flags = 0;
};

/// 1-based line and column (in bytes) of a source offset.
struct Position {
    uint32_t line = 1;
    uint32_t column = 1;
};

/// A source text cut into tokens. Parentheses are balanced: every lparen knows its rparen, and
/// the list ends with one eof token.
class TokenList {
public:
    /// Cuts `source` into tokens; a lexical error (unknown character, bad string escape,
    /// unbalanced parenthesis, unterminated comment) is a malformed error with its position.
    static Result<TokenList> tokenize(std::string_view source, std::string file_name);

    const Token& operator[](size_t i) const { return m_tokens[i]; }
    size_t size() const { return m_tokens.size(); }
    std::string_view source() const { return m_source; }
    const std::string& file_name() const { return m_file_name; }
    std::string_view text(const Token& t) const { return m_source.substr(t.offset, t.size); }

    Position position(uint32_t offset) const;
    /// "FILE:LINE:COLUMN: message" (without FILE when the name is empty), as a malformed error.
    Error error_at(uint32_t offset, std::string_view message) const;
    /// What a person sees at token i, for "found ..." in messages.
    std::string describe(size_t i) const;

private:
    std::string_view m_source;
    std::string m_file_name;
    std::vector<Token> m_tokens;
};

/// The bytes a string token stands for (escapes resolved; the lexer has checked them).
std::string string_value(std::string_view token_text);
/// Appends the bytes of a string token to `out`.
void append_string_value(std::string_view token_text, std::string& out);

/// Why a literal has no value of the wanted type.
enum class LiteralError : uint8_t { syntax, range };

/// An unsigned integer literal (decimal or 0x hex, `_` between digits) of at most `bits` bits.
tl::expected<uint64_t, LiteralError> parse_unsigned(std::string_view text, unsigned bits);
/// An integer literal of an iN instruction: unsigned up to 2^N-1, or signed in range; the
/// result holds the two's complement bits.
tl::expected<uint64_t, LiteralError> parse_integer(std::string_view text, unsigned bits);
/// A float literal (decimal, hex, inf, nan, nan:0xPAYLOAD) as the bits of an f32.
tl::expected<uint32_t, LiteralError> parse_f32(std::string_view text);
/// A float literal as the bits of an f64.
tl::expected<uint64_t, LiteralError> parse_f64(std::string_view text);

/// The shape of a v128 literal (`i8x16` ... `f64x2`): lane width in bytes, float lanes or not.
struct V128Shape {
    unsigned width = 0;
    bool is_float = false;
    unsigned lanes() const { return 16 / width; }
};
/// The shape a keyword names, else nullopt.
std::optional<V128Shape> v128_shape(std::string_view keyword);
/// One lane literal of a v128 of `shape`: its bits (an integer lane as in parse_integer).
tl::expected<uint64_t, LiteralError> parse_lane(V128Shape shape, std::string_view text);

} // namespace kiln::text
