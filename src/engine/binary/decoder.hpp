// The binary decoder: bytes -> immutable Module (WebAssembly 2.0 without SIMD).
#pragma once

#include "base/result.hpp"
#include "engine/binary/module.hpp"

#include <cstdint>
#include <memory>
#include <span>

namespace kiln::engine {

/// Decodes a binary module. Failures are ErrorKind::malformed, naming the byte offset; the one
/// exception is a valid but non-constant instruction in a constant expression, which the spec
/// classes as invalid ("constant expression required") and which is reported only when the rest
/// of the binary is well-formed, so that malformed keeps precedence as in the spec. The result
/// still needs validate() before it may be instantiated.
Result<std::shared_ptr<Module>> decode(std::span<const uint8_t> bytes);

} // namespace kiln::engine
