// Pieces shared by the C++ API's implementation files.
#pragma once

#include "engine/runtime/store.hpp"

#include <kiln/func.hpp>
#include <kiln/store.hpp>

#include <memory>
#include <unordered_map>

namespace kiln {

/// Host functions bound to a store, by the definition they came from (a Linker shares one
/// definition across stores and instantiations, and binds it once per store).
struct Store::HostFuncs {
    std::unordered_map<const HostFunc*,
                       std::pair<std::shared_ptr<const HostFunc>, engine::FuncInst*>>
        by_def;
};

} // namespace kiln
