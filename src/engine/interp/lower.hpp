// Lowering of validated function bodies into the interpreter's internal code.
#pragma once

#include "base/result.hpp"
#include "engine/binary/module.hpp"
#include "engine/interp/code.hpp"

#include <memory>
#include <vector>

namespace kiln::engine {

/// Lowers module-defined function `def_index` of a validated module. `type_ids` maps the
/// module's type indices to canonical ids (for call_indirect checks).
Result<std::unique_ptr<FuncCode>>
lower_function(const Module& module, const std::vector<uint32_t>& type_ids, uint32_t def_index);

} // namespace kiln::engine
