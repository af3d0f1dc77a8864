// The binary decoder: bytes -> immutable Module (WebAssembly 2.0).
#pragma once

#include "base/result.hpp"
#include "engine/binary/module.hpp"

#include <kiln/engine.hpp>

#include <cstdint>
#include <memory>
#include <span>

namespace kiln::engine {

/// Decodes a binary module. Failures are ErrorKind::malformed, naming the byte offset; the one
/// exception is a valid but non-constant instruction in a constant expression, which the spec
/// classes as invalid ("constant expression required") and which is reported only when the rest
/// of the binary is well-formed, so that malformed keeps precedence as in the spec. The result
/// still needs validate() before it may be instantiated. A construct of a proposal that `features`
/// turns off is invalid, naming the feature.
Result<std::shared_ptr<Module>> decode(std::span<const uint8_t> bytes,
                                       const Features& features = {});

} // namespace kiln::engine
