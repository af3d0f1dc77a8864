// YAML text to the JSON value of the same structure, so that kiln.yaml and Zeno's manifest.yaml
// go through the one manifest walker (plugin/walker.hpp).
#pragma once

#include "plugin/walker.hpp"

#include <string_view>

namespace kiln::manager {

/// Parses one YAML document. Plain scalars take the YAML 1.2 core schema's types (null, true,
/// false, integers, floats), quoted ones stay strings; anchors and aliases are expanded. An
/// error names the line and column.
Result<plugin::Json> parse_yaml_text(std::string_view text);

} // namespace kiln::manager
