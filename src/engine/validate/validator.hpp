// The validator: the typing rules of WebAssembly 2.0 over a decoded Module.
#pragma once

#include "base/result.hpp"
#include "engine/binary/module.hpp"

namespace kiln::engine {

/// Validates a decoded module. Failures are ErrorKind::invalid with a message naming the item
/// (function index and instruction offset for code), or ErrorKind::malformed when a function body
/// turns out not to be decodable (which decode() already rules out for modules it built).
Result<void> validate(const Module& m);

} // namespace kiln::engine
