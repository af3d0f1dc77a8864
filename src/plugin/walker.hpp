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
/// Parses JSON text; an error names the line and column where it stopped.
Result<Json> parse_json_text(std::string_view text);
/// Parses TOML text (through the guard of toml_guard.hpp) into the JSON value of the same
/// structure; a date or time becomes a binary value, which fails every type check of the
/// walker instead of reading as null (not set). An error names the line and column.
Result<Json> parse_toml_text(std::string_view text);

/// Reads fields of a JSON value; the first failure is kept as "PATH: WHAT" and every reader
/// then returns false, so a walk stops at the first bad field.
struct Walker {
    std::string error;

    /// Records a failure (the first one only) and returns false.
    bool fail(const std::string& path, const std::string& what);
    /// The path of `key` inside the object at `path`.
    static std::string field(const std::string& path, std::string_view key);
    /// The path of element `index` of the array at `path`.
    static std::string element(const std::string& path, size_t index);

    bool string(const Json& v, const std::string& path, std::string& out);
    bool boolean(const Json& v, const std::string& path, bool& out);
    bool unsigned_int(const Json& v, const std::string& path, uint64_t& out);
    bool object(const Json& v, const std::string& path);
    /// An array of strings; a single string is refused (say what was meant).
    bool string_list(const Json& v, const std::string& path, std::vector<std::string>& out);
    /// An object whose values are all strings.
    bool string_map(const Json& v, const std::string& path,
                    std::map<std::string, std::string>& out);
    /// Refuses keys of the object `v` outside `known`.
    bool only(const Json& v, const std::string& path, std::initializer_list<const char*> known);
    /// Refuses keys of the object `v` outside `known`.
    bool only(const Json& v, const std::string& path, const std::vector<std::string>& known);
};

} // namespace kiln::plugin
