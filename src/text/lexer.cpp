#include "text/lexer.hpp"

#include "base/reader.hpp"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <limits>

namespace kiln::text {

namespace {

constexpr size_t npos = std::string_view::npos;

bool is_idchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '/':
    case ':':
    case '<':
    case '=':
    case '>':
    case '?':
    case '@':
    case '\\':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
    }
}

bool is_digit(char c, bool hex) {
    if (c >= '0' && c <= '9') return true;
    return hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
}

unsigned digit_value(char c) {
    if (c >= '0' && c <= '9') return unsigned(c - '0');
    if (c >= 'a' && c <= 'f') return unsigned(c - 'a' + 10);
    return unsigned(c - 'A' + 10);
}

/// The end of the digit run starting at i (an underscore only between two digits), or npos
/// when no digit starts there.
size_t skip_digits(std::string_view s, size_t i, bool hex) {
    if (i >= s.size() || !is_digit(s[i], hex)) return npos;
    ++i;
    while (i < s.size()) {
        if (is_digit(s[i], hex))
            ++i;
        else if (s[i] == '_' && i + 1 < s.size() && is_digit(s[i + 1], hex))
            i += 2;
        else
            break;
    }
    return i;
}

/// The flags of a number literal, or nullopt when `s` is no number (then it is reserved, or a
/// keyword such as `inf` when it starts with a letter).
std::optional<uint8_t> classify_number(std::string_view s) {
    uint8_t flags = 0;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        flags |= number_signed;
        if (s[0] == '-') flags |= number_negative;
        s.remove_prefix(1);
    }
    if (s == "inf" || s == "nan") return flags | number_float;
    if (s.starts_with("nan:0x")) {
        if (skip_digits(s, 6, true) != s.size()) return std::nullopt;
        return flags | number_float;
    }
    bool hex = s.starts_with("0x");
    size_t i = skip_digits(s, hex ? 2 : 0, hex);
    if (i == npos) return std::nullopt;
    if (i < s.size() && s[i] == '.') {
        flags |= number_float;
        ++i;
        if (i < s.size() && is_digit(s[i], hex)) i = skip_digits(s, i, hex);
    }
    if (i < s.size() && (hex ? (s[i] == 'p' || s[i] == 'P') : (s[i] == 'e' || s[i] == 'E'))) {
        flags |= number_float;
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        i = skip_digits(s, i, false);
        if (i == npos) return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    return flags;
}

/// The length of the UTF-8 sequence at s[i] (a byte of 0x80 or more), or 0 when it is none.
size_t utf8_sequence(std::string_view s, size_t i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || i + len > s.size() || !is_valid_utf8(s.substr(i, len))) return 0;
    return len;
}

void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xc0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += char(0xe0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    } else {
        out += char(0xf0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3f));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    }
}

class Lexer {
public:
    Lexer(std::string_view s, std::vector<Token>& tokens) : m_s(s), m_tokens(tokens) {}

    /// Runs to the end; on error, returns the offset and message.
    std::optional<std::pair<size_t, std::string>> run();

private:
    using Failure = std::optional<std::pair<size_t, std::string>>;
    Failure block_comment();
    Failure string(size_t& i);
    Failure check_utf8(size_t& i);
    void push(size_t begin, size_t end, TokenKind kind, uint8_t flags = 0) {
        m_tokens.push_back(Token{uint32_t(begin), uint32_t(end - begin), 0, kind, flags});
    }

    std::string_view m_s;
    size_t m_pos = 0;
    std::vector<Token>& m_tokens;
};

Lexer::Failure Lexer::check_utf8(size_t& i) {
    size_t len = utf8_sequence(m_s, i);
    if (len == 0) return std::pair{i, std::string("malformed UTF-8 encoding")};
    i += len;
    return std::nullopt;
}

Lexer::Failure Lexer::block_comment() {
    size_t start = m_pos;
    size_t depth = 0;
    size_t i = m_pos;
    while (i < m_s.size()) {
        if (m_s[i] == '(' && i + 1 < m_s.size() && m_s[i + 1] == ';') {
            ++depth;
            i += 2;
        } else if (m_s[i] == ';' && i + 1 < m_s.size() && m_s[i + 1] == ')') {
            i += 2;
            if (--depth == 0) {
                m_pos = i;
                return std::nullopt;
            }
        } else if (static_cast<unsigned char>(m_s[i]) >= 0x80) {
            if (auto bad = check_utf8(i)) return bad;
        } else {
            ++i;
        }
    }
    return std::pair{start, std::string("unterminated block comment")};
}

Lexer::Failure Lexer::string(size_t& i) {
    size_t start = i++;
    while (true) {
        if (i >= m_s.size()) return std::pair{start, std::string("unterminated string")};
        unsigned char c = static_cast<unsigned char>(m_s[i]);
        if (c == '"') {
            ++i;
            return std::nullopt;
        }
        if (c == '\n') return std::pair{start, std::string("unterminated string")};
        if (c < 0x20 || c == 0x7f)
            return std::pair{i, fmt::format("control character {:#04x} in a string (write it as "
                                            "an escape: \\{:02x})",
                                            c, c)};
        if (c >= 0x80) {
            if (auto bad = check_utf8(i)) return bad;
            continue;
        }
        if (c != '\\') {
            ++i;
            continue;
        }
        size_t escape = i++;
        char e = i < m_s.size() ? m_s[i] : '\0';
        switch (e) {
        case 't':
        case 'n':
        case 'r':
        case '"':
        case '\'':
        case '\\': ++i; continue;
        case 'u': {
            if (i + 1 >= m_s.size() || m_s[i + 1] != '{') break;
            size_t end = skip_digits(m_s, i + 2, true);
            if (end == npos || end >= m_s.size() || m_s[end] != '}') break;
            uint64_t cp = 0;
            for (size_t k = i + 2; k < end; ++k) {
                if (m_s[k] == '_') continue;
                cp = cp * 16 + digit_value(m_s[k]);
                if (cp > 0x10ffff) break;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
                return std::pair{escape, std::string("escape \\u{...} names no Unicode scalar "
                                                     "value")};
            i = end + 1;
            continue;
        }
        default:
            if (is_digit(e, true) && i + 1 < m_s.size() && is_digit(m_s[i + 1], true)) {
                i += 2;
                continue;
            }
        }
        return std::pair{escape, std::string("malformed escape in a string (expected \\t \\n \\r "
                                             "\\\" \\' \\\\ \\u{HEX} or two hex digits)")};
    }
}

std::optional<std::pair<size_t, std::string>> Lexer::run() {
    std::vector<uint32_t> open;
    const size_t n = m_s.size();
    while (m_pos < n) {
        char c = m_s[m_pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            ++m_pos;
            continue;
        }
        if (c == ';') {
            if (m_pos + 1 < n && m_s[m_pos + 1] == ';') {
                size_t i = m_pos + 2;
                while (i < n && m_s[i] != '\n') {
                    if (static_cast<unsigned char>(m_s[i]) >= 0x80) {
                        if (auto bad = check_utf8(i)) return bad;
                    } else {
                        ++i;
                    }
                }
                m_pos = i;
                continue;
            }
            return std::pair{m_pos, std::string("unexpected character ';' (a comment starts with "
                                                ";; or (;)")};
        }
        if (c == '(') {
            if (m_pos + 1 < n && m_s[m_pos + 1] == ';') {
                if (auto bad = block_comment()) return bad;
                continue;
            }
            open.push_back(uint32_t(m_tokens.size()));
            push(m_pos, m_pos + 1, TokenKind::lparen);
            ++m_pos;
            continue;
        }
        if (c == ')') {
            if (open.empty()) return std::pair{m_pos, std::string("unexpected ')'")};
            m_tokens[open.back()].close = uint32_t(m_tokens.size());
            open.pop_back();
            push(m_pos, m_pos + 1, TokenKind::rparen);
            ++m_pos;
            continue;
        }
        // A run of identifier characters and strings is one token (tokens must be separated by
        // blanks, comments or parentheses): `$l"a"` is a single, reserved one.
        size_t start = m_pos;
        size_t strings = 0;
        bool idchars = false;
        size_t i = m_pos;
        while (i < n) {
            unsigned char d = static_cast<unsigned char>(m_s[i]);
            if (is_idchar(d)) {
                idchars = true;
                ++i;
            } else if (d == '"') {
                ++strings;
                if (auto bad = string(i)) return bad;
            } else {
                break;
            }
        }
        if (i == start) {
            unsigned char d = static_cast<unsigned char>(c);
            if (d >= 0x80) {
                size_t len = utf8_sequence(m_s, m_pos);
                if (len == 0) return std::pair{m_pos, std::string("malformed UTF-8 encoding")};
                return std::pair{m_pos,
                                 fmt::format("unexpected character '{}'", m_s.substr(m_pos, len))};
            }
            if (d < 0x20 || d == 0x7f)
                return std::pair{m_pos, fmt::format("unexpected control character {:#04x}", d)};
            return std::pair{m_pos, fmt::format("unexpected character '{}'", c)};
        }
        m_pos = i;
        std::string_view text = m_s.substr(start, i - start);
        if (strings == 1 && !idchars) {
            push(start, i, TokenKind::string);
        } else if (strings > 0) {
            push(start, i, TokenKind::reserved);
        } else if (text[0] == '$') {
            push(start, i, text.size() > 1 ? TokenKind::id : TokenKind::reserved);
        } else if (text[0] >= 'a' && text[0] <= 'z') {
            push(start, i, TokenKind::keyword);
        } else if (auto flags = classify_number(text)) {
            push(start, i, TokenKind::number, *flags);
        } else {
            push(start, i, TokenKind::reserved);
        }
    }
    if (!open.empty())
        return std::pair{size_t(m_tokens[open.back()].offset), std::string("'(' is never closed")};
    push(n, n, TokenKind::eof);
    return std::nullopt;
}

/// Digits (with underscores) to a value; false on overflow of 64 bits.
bool accumulate(std::string_view digits, bool hex, uint64_t& value) {
    value = 0;
    const uint64_t base = hex ? 16 : 10;
    for (char c : digits) {
        if (c == '_') continue;
        uint64_t d = digit_value(c);
        if (value > (UINT64_MAX - d) / base) return false;
        value = value * base + d;
    }
    return true;
}

/// The magnitude of an unsigned integer literal (no sign).
tl::expected<uint64_t, LiteralError> magnitude(std::string_view s) {
    bool hex = s.starts_with("0x");
    size_t begin = hex ? 2 : 0;
    if (skip_digits(s, begin, hex) != s.size()) return tl::unexpected(LiteralError::syntax);
    uint64_t value;
    if (!accumulate(s.substr(begin), hex, value)) return tl::unexpected(LiteralError::range);
    return value;
}

/// True when a float literal whose conversion left the range (`digits` without sign and
/// underscores) is too large rather than too small: the position of its first significant
/// digit, with the exponent, says which, as the two limits lie hundreds of powers apart.
bool is_overflow(std::string_view digits, bool hex) {
    size_t exp_at = digits.find_first_of(hex ? "pP" : "eE");
    std::string_view mantissa = digits.substr(0, exp_at);
    int64_t exponent = 0;
    if (exp_at != npos) {
        std::string_view e = digits.substr(exp_at + 1);
        bool negative = !e.empty() && e[0] == '-';
        if (!e.empty() && (e[0] == '-' || e[0] == '+')) e.remove_prefix(1);
        for (char c : e) {
            exponent = exponent * 10 + (c - '0');
            if (exponent > 1'000'000'000) break;
        }
        if (negative) exponent = -exponent;
    }
    size_t point = mantissa.find('.');
    int64_t int_digits = int64_t(point == npos ? mantissa.size() : point);
    int64_t index = 0;
    for (char c : mantissa) {
        if (c == '.') continue;
        if (c != '0') break;
        ++index;
    }
    int64_t scale = int_digits - index - 1; // the first significant digit's power of the base
    return (hex ? 4 * scale : scale) + exponent > 0;
}

template <typename Float, typename Bits>
tl::expected<Bits, LiteralError> parse_float(std::string_view text) {
    constexpr int mantissa_bits = std::numeric_limits<Float>::digits - 1;
    constexpr Bits mantissa_mask = (Bits{1} << mantissa_bits) - 1;
    constexpr Bits sign_bit = Bits{1} << (sizeof(Bits) * 8 - 1);
    constexpr Bits exponent_mask = ~sign_bit & ~mantissa_mask;
    bool negative = false;
    std::string_view s = text;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    Bits bits;
    if (s == "inf") {
        bits = exponent_mask;
    } else if (s == "nan") {
        bits = exponent_mask | (Bits{1} << (mantissa_bits - 1));
    } else if (s.starts_with("nan:")) {
        auto payload = magnitude(s.substr(4));
        if (!payload) return tl::unexpected(payload.error());
        if (!s.substr(4).starts_with("0x")) return tl::unexpected(LiteralError::syntax);
        if (*payload == 0 || *payload > mantissa_mask) return tl::unexpected(LiteralError::range);
        bits = exponent_mask | static_cast<Bits>(*payload);
    } else {
        auto flags = classify_number(s);
        if (!flags || (*flags & number_signed)) return tl::unexpected(LiteralError::syntax);
        bool hex = s.starts_with("0x");
        std::string digits;
        digits.reserve(s.size());
        for (char c : s.substr(hex ? 2 : 0))
            if (c != '_') digits += c;
        Float value{};
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                         hex ? std::chars_format::hex : std::chars_format::general);
        if (end != digits.data() + digits.size()) return tl::unexpected(LiteralError::syntax);
        if (ec == std::errc::result_out_of_range) {
            if (is_overflow(digits, hex)) return tl::unexpected(LiteralError::range);
            value = 0;
        } else if (ec != std::errc{}) {
            return tl::unexpected(LiteralError::syntax);
        }
        bits = std::bit_cast<Bits>(value);
    }
    return negative ? bits | sign_bit : bits;
}

} // namespace

Result<TokenList> TokenList::tokenize(std::string_view source, std::string file_name) {
    TokenList list;
    list.m_source = source;
    list.m_file_name = std::move(file_name);
    if (source.size() >= UINT32_MAX)
        return tl::unexpected(list.error_at(0, "text of 4 GiB or more"));
    // A token per 6 bytes is about what real text has; the guess saves reallocations.
    list.m_tokens.reserve(source.size() / 6 + 16);
    Lexer lexer(source, list.m_tokens);
    if (auto failure = lexer.run())
        return tl::unexpected(list.error_at(uint32_t(failure->first), failure->second));
    return list;
}

Position TokenList::position(uint32_t offset) const {
    Position p;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && i < m_source.size(); ++i)
        if (m_source[i] == '\n') {
            ++p.line;
            line_start = i + 1;
        }
    // Columns count characters, not bytes, so that they match what an editor shows.
    for (size_t i = line_start; i < offset && i < m_source.size(); ++i)
        if ((static_cast<unsigned char>(m_source[i]) & 0xc0) != 0x80) ++p.column;
    return p;
}

Error TokenList::error_at(uint32_t offset, std::string_view message) const {
    Position p = position(offset);
    std::string where = m_file_name.empty()
                            ? fmt::format("{}:{}", p.line, p.column)
                            : fmt::format("{}:{}:{}", m_file_name, p.line, p.column);
    return Error{ErrorKind::malformed, fmt::format("{}: {}", where, message), nullptr};
}

std::string TokenList::describe(size_t i) const {
    const Token& t = m_tokens[i];
    switch (t.kind) {
    case TokenKind::eof: return "end of input";
    case TokenKind::lparen: return "'('";
    case TokenKind::rparen: return "')'";
    default: break;
    }
    std::string_view s = text(t);
    constexpr size_t max = 40;
    std::string shown(s.substr(0, max));
    if (s.size() > max) shown += "...";
    if (t.kind == TokenKind::string) return "string " + shown;
    // Tokens run together (`$l"a"`, `0drop`) make a reserved one: say why it is no token.
    if (t.kind == TokenKind::reserved)
        return "'" + shown + "' (not a token: separate tokens with blanks)";
    return "'" + shown + "'";
}

void append_string_value(std::string_view s, std::string& out) {
    // The token is a checked string: quotes at both ends, valid escapes inside.
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        char c = s[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 't': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case '"': out += '"'; break;
        case '\'': out += '\''; break;
        case '\\': out += '\\'; break;
        case 'u': {
            uint32_t cp = 0;
            for (i += 2; s[i] != '}'; ++i)
                if (s[i] != '_') cp = cp * 16 + digit_value(s[i]);
            append_utf8(cp, out);
            break;
        }
        default:
            out += char(digit_value(e) * 16 + digit_value(s[i + 1]));
            ++i;
            break;
        }
    }
}

std::string string_value(std::string_view token_text) {
    std::string out;
    out.reserve(token_text.size());
    append_string_value(token_text, out);
    return out;
}

tl::expected<uint64_t, LiteralError> parse_unsigned(std::string_view text, unsigned bits) {
    auto value = magnitude(text);
    if (!value) return value;
    if (bits < 64 && *value >> bits) return tl::unexpected(LiteralError::range);
    return value;
}

tl::expected<uint64_t, LiteralError> parse_integer(std::string_view text, unsigned bits) {
    char sign = !text.empty() && (text[0] == '+' || text[0] == '-') ? text[0] : '\0';
    auto value = magnitude(sign ? text.substr(1) : text);
    if (!value) return value;
    const uint64_t half = uint64_t{1} << (bits - 1);
    const uint64_t mask = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
    if (sign == '-') {
        if (*value > half) return tl::unexpected(LiteralError::range);
        return (~*value + 1) & mask;
    }
    if (sign == '+' ? *value >= half : *value > mask) return tl::unexpected(LiteralError::range);
    return *value;
}

tl::expected<uint32_t, LiteralError> parse_f32(std::string_view text) {
    return parse_float<float, uint32_t>(text);
}

tl::expected<uint64_t, LiteralError> parse_f64(std::string_view text) {
    return parse_float<double, uint64_t>(text);
}

std::optional<V128Shape> v128_shape(std::string_view keyword) {
    if (keyword == "i8x16") return V128Shape{1, false};
    if (keyword == "i16x8") return V128Shape{2, false};
    if (keyword == "i32x4") return V128Shape{4, false};
    if (keyword == "i64x2") return V128Shape{8, false};
    if (keyword == "f32x4") return V128Shape{4, true};
    if (keyword == "f64x2") return V128Shape{8, true};
    return std::nullopt;
}

tl::expected<uint64_t, LiteralError> parse_lane(V128Shape shape, std::string_view text) {
    if (!shape.is_float) return parse_integer(text, shape.width * 8);
    if (shape.width == 4) return parse_f32(text).map([](uint32_t b) { return uint64_t(b); });
    return parse_f64(text);
}

} // namespace kiln::text
