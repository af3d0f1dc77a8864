// One typed walk over a manifest held as JSON, whatever syntax it was written in: readers for
// each field type that name the path of a bad field ("permissions.network[2]: expected a
// string"), and TOML text converted to the same JSON value. Extism's manifest and the package
// manifests of the manager are both read through it.
#pragma once

#include <kiln/error.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::plugin {

/// Ordered, so that maps keep the order a manifest gives them.
using Json = nlohmann::ordered_json;

/// "line L, column C" of the byte at offset `at` of `text` (1-based, columns in bytes).
std::string text_position(std::string_view text, size_t at);
/// Parses JSON text; an error names the line and column where it stopped and what the parser
/// expected there ("line 3, column 7: syntax error while parsing object - unexpected '}'; ...").
Result<Json> parse_json_text(std::string_view text);
/// Parses TOML text (through the guard of toml_guard.hpp) into the JSON value of the same
/// structure; an error names the line and column. Dates and times, which JSON has no type for,
/// become the binary type, so that every reader refuses them as a wrong type (rather than
/// reading null, which is "not set").
Result<Json> parse_toml_text(std::string_view text);

/// What a value is, for an error saying what a field got: "a boolean", "42", "\"x\"",
/// "an array", "a TOML date/time", ...
std::string describe(const Json& v);

/// Reads fields of a JSON value; a reader that fails records "PATH: WHAT" and returns false. A
/// walk may stop at the first bad field, or go on with the fields that do not depend on it to
/// find every problem.
struct Walker {
    std::string error;                 ///< the first problem recorded
    std::vector<std::string> problems; ///< every problem recorded, in order

    /// Records a failure and returns false.
    bool fail(const std::string& path, const std::string& what);
    /// Records a failure given whole ("PATH: WHAT") and returns false.
    bool fail(const std::string& problem);
    /// The path of `key` inside the object at `path`.
    static std::string field(const std::string& path, std::string_view key);
    /// The path of element `index` of the array at `path`.
    static std::string element(const std::string& path, size_t index);

    bool string(const Json& v, const std::string& path, std::string& out);
    bool boolean(const Json& v, const std::string& path, bool& out);
    bool unsigned_int(const Json& v, const std::string& path, uint64_t& out);
    /// A whole number from `min` to `max`; anything else is "expected a whole number from MIN
    /// to MAX, got WHAT".
    bool whole_number(const Json& v, const std::string& path, uint64_t& out, uint64_t min,
                      uint64_t max);
    bool object(const Json& v, const std::string& path);
    /// An array of strings; a single string is refused (say what was meant).
    bool string_list(const Json& v, const std::string& path, std::vector<std::string>& out);
    /// An object whose values are all strings.
    bool string_map(const Json& v, const std::string& path,
                    std::map<std::string, std::string>& out);
    /// Refuses keys of the object `v` outside `known` (each one a problem).
    bool only(const Json& v, const std::string& path, std::initializer_list<const char*> known);
    /// Refuses keys of the object `v` outside `known` (each one a problem).
    bool only(const Json& v, const std::string& path, const std::vector<std::string>& known);
};

} // namespace kiln::plugin
