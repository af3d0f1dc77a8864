// Text from untrusted sources (a plugin, a module's names) made safe to print: UTF-8 decoding
// and the one escaping function every printer of such text uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

/// The length (1 to 4) of the well-formed UTF-8 sequence `s` starts with, its code point in
/// `code_point`; 0 when `s` is empty or starts with none (overlong, surrogate, past U+10FFFF).
size_t utf8_sequence(std::string_view s, uint32_t& code_point);

/// `text` with control characters (C0, DEL, C1) and bytes that are not UTF-8 written as escapes
/// (\n, \r, \t, else \xNN for each byte), so that it prints as one line and cannot send a
/// terminal sequence. Everything else, backslashes included, is kept as it is.
std::string escape_control(std::string_view text);

/// Shell-style glob over the whole of `text`: `*` matches any run of characters, `?` one
/// character, anything else itself (ASCII letters in either case when `ignore_case`, as host
/// names compare).
bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case = false);

} // namespace kiln
