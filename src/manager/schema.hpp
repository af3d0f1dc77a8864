// The subset of JSON Schema a package manifest's config_schema may use: type, properties,
// required, enum, default, minimum, maximum, items (plus title and description, which only
// document). Kiln checks it itself; see docs/manager.md.
#pragma once

#include "plugin/walker.hpp"

#include <map>
#include <string>

namespace kiln::manager {

/// Checks that `schema` uses only the subset, well-formed; the error names the schema path.
Result<void> check_schema(const plugin::Json& schema, const std::string& path = "config_schema");

/// Whether `value` is valid under `schema`; the error names the value's path.
Result<void> validate(const plugin::Json& schema, const plugin::Json& value,
                      const std::string& path);

/// Checks the string values of a plugin's config against an object schema: each value is read
/// as its property's type (a number from "42", an array from JSON text), missing properties
/// with a default get it, and required ones must be present.
Result<void> apply_config_schema(const plugin::Json& schema,
                                 std::map<std::string, std::string>& config);

} // namespace kiln::manager
