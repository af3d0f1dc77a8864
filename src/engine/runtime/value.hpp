// The engine uses the public Value and Trap types under its own namespace.
#pragma once

#include "engine/binary/types.hpp"

#include <kiln/error.hpp>
#include <kiln/value.hpp>

#include <span>
#include <vector>

namespace kiln::engine {

struct FuncInst;

using kiln::Trap;
using kiln::TrapKind;
using kiln::Value;

/// The function a funcref value refers to (null for the null reference).
inline FuncInst* as_func(const Value& v) {
    return reinterpret_cast<FuncInst*>(v.bits);
}

/// Values of these types from consecutive slots (Value::from_slots, one after the other).
inline std::vector<Value> values_of(std::span<const ValType> types, const uint64_t* slots) {
    std::vector<Value> values(types.size());
    for (size_t i = 0; i < types.size(); slots += slot_count(types[i++]))
        values[i] = Value::from_slots(types[i], slots);
    return values;
}

} // namespace kiln::engine
