// The engine uses the public Value and Trap types under its own namespace.
#pragma once

#include "engine/binary/types.hpp"

#include <kiln/error.hpp>
#include <kiln/value.hpp>

namespace kiln::engine {

struct FuncInst;

using kiln::Trap;
using kiln::TrapKind;
using kiln::Value;

/// The function a funcref value refers to (null for the null reference).
inline FuncInst* as_func(const Value& v) {
    return reinterpret_cast<FuncInst*>(v.bits);
}

} // namespace kiln::engine
