#include "plugin/toml_guard.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <utility>

namespace kiln::plugin {

namespace {

// What toml++ would classify, and where its stand-ins go.
constexpr char32_t guarded_first = 0xa0, guarded_last = 0xfeff;
constexpr char32_t stand_in_first = 0xf0000;
constexpr char32_t stand_in_last = stand_in_first + (guarded_last - guarded_first);

/// The code point of the UTF-8 sequence at s[i] and its length, if it is one.
std::optional<std::pair<char32_t, size_t>> decode_utf8(std::string_view s, size_t i) {
    const auto byte = [&](size_t k) { return uint8_t(s[k]); };
    uint8_t lead = byte(i);
    if (lead < 0x80) return std::pair{char32_t(lead), size_t(1)};
    size_t n = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
    if (n == 0 || lead > 0xf4 || i + n > s.size()) return std::nullopt;
    char32_t c = lead & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) return std::nullopt;
        c = c << 6 | (byte(i + k) & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return std::nullopt;
    return std::pair{c, n};
}

void encode_utf8(char32_t c, std::string& out) {
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xc0 | c >> 6);
        out += char(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out += char(0xe0 | c >> 12);
        out += char(0x80 | (c >> 6 & 0x3f));
        out += char(0x80 | (c & 0x3f));
    } else {
        out += char(0xf0 | c >> 18);
        out += char(0x80 | (c >> 12 & 0x3f));
        out += char(0x80 | (c >> 6 & 0x3f));
        out += char(0x80 | (c & 0x3f));
    }
}

} // namespace

Result<std::string> guard_toml_text(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 2);
    size_t line = 1, i = 0;
    if (text.starts_with("\xef\xbb\xbf")) { // a byte-order mark, which toml++ skips
        out.append(text.substr(0, 3));
        i = 3;
    }
    auto refuse = [&](std::string_view what) {
        return make_error(ErrorKind::invalid, fmt::format("line {}: {}", line, what));
    };
    while (i < text.size()) {
        auto cp = decode_utf8(text, i);
        if (!cp) return refuse("not UTF-8");
        auto [c, n] = *cp;
        if (c == '\n') ++line;
        if (c >= stand_in_first && c <= stand_in_last)
            return refuse(fmt::format("U+{:X} (private use) is not supported", uint32_t(c)));
        // An escape of the same code points (\U000Fxxxx) would come back as another character.
        if (c == '\\' &&
            (text.substr(i).starts_with("\\U000F") || text.substr(i).starts_with("\\U000f")))
            return refuse("\\U escapes of plane 15 (private use) are not supported");
        if (c >= guarded_first && c <= guarded_last)
            encode_utf8(stand_in_first + (c - guarded_first), out);
        else
            out.append(text.substr(i, n));
        i += n;
    }
    return out;
}

std::string unguard_toml_string(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        auto cp = decode_utf8(s, i);
        if (cp && cp->first >= stand_in_first && cp->first <= stand_in_last) {
            encode_utf8(guarded_first + (cp->first - stand_in_first), out);
            i += cp->second;
        } else {
            out += s[i++];
        }
    }
    return out;
}

} // namespace kiln::plugin
