// TOML text made safe to hand to toml++ 3.3 (Debian 12's). toml++ asks whether a code point in
// U+00A0..U+FEFF is whitespace with a function that reaches __builtin_unreachable for most of
// them (Latin-1, Greek, Cyrillic...; upstream marzer/tomlplusplus#190 and #295), and it asks
// wherever whitespace may come: between tokens, inside a bare value, after a backslash in a
// multi-line string. Rather than follow toml++'s lexer, the guard hands it none of them: each
// becomes a stand-in from the Supplementary Private Use Area-A, which toml++ passes through
// strings and comments and refuses elsewhere just the same, and the stand-ins in the strings,
// keys and error messages toml++ returns are turned back.
#pragma once

#include <kiln/error.hpp>

#include <string>
#include <string_view>

namespace kiln::plugin {

/// `text` with a stand-in for every code point in U+00A0..U+FEFF (a leading byte-order mark
/// stays), or an error "line N: ..." for text that is not UTF-8 or holds stand-ins already (as
/// code points, or as \U escapes of plane 15).
Result<std::string> guard_toml_text(std::string_view text);

/// A string toml++ returned for guarded text (a key, a value, an error message), with the
/// original code points back.
std::string unguard_toml_string(std::string_view s);

} // namespace kiln::plugin
