#include "base/text.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace kiln {

size_t utf8_sequence(std::string_view s, uint32_t& code_point) {
    if (s.empty()) return 0;
    const auto c = static_cast<uint8_t>(s[0]);
    if (c < 0x80) {
        code_point = c;
        return 1;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0)
        len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        const auto cc = static_cast<uint8_t>(s[k]);
        if ((cc & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    code_point = cp;
    return len;
}

std::string escape_control(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        uint32_t cp = 0;
        size_t len = utf8_sequence(text, cp);
        const bool control = cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
        if (len && !control) {
            out.append(text.substr(0, len));
        } else if (len == 1 && cp == '\n') {
            out += "\\n";
        } else if (len == 1 && cp == '\r') {
            out += "\\r";
        } else if (len == 1 && cp == '\t') {
            out += "\\t";
        } else {
            // A C1 control is escaped byte by byte, as is a byte that starts no sequence.
            len = std::max<size_t>(len, 1);
            for (size_t k = 0; k < len; ++k)
                out += fmt::format("\\x{:02x}", static_cast<uint8_t>(text[k]));
        }
        text.remove_prefix(len);
    }
    return out;
}

bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case) {
    auto same = [ignore_case](char a, char b) {
        if (!ignore_case) return a == b;
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        return lower(a) == lower(b);
    };
    // Backtracking to the last star only: linear in practice, never exponential.
    size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], text[t]))) {
            ++p, ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

} // namespace kiln
