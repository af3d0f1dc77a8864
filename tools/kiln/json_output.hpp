// Pieces of the JSON that `--json` prints (inspect, validate, call): one shape for an error and
// for bytes that may not be text, so that every command writes them alike (docs/cli.md).
#pragma once

#include <kiln/error.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace kiln::tool {

/// JSON objects keep their keys in the order written, so documents read in a stable order.
using Json = nlohmann::ordered_json;

/// {"kind": "trap", "message": "...", "trap": "unreachable", "backtrace": ["inner", "boom"]};
/// "trap" and "backtrace" only for an error that carries a trap.
Json error_json(const Error& error);

/// Sets object[name] to `bytes` as a string when they are UTF-8, else object[name + "_hex"] to
/// their hex digits, so that no byte is lost or altered.
void set_bytes_field(Json& object, const std::string& name, std::string_view bytes);

/// Prints the document on stdout, indented by two spaces, and a newline.
void print_json(const Json& document);

} // namespace kiln::tool
