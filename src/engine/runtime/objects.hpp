// Runtime objects owned by a Store: functions, tables, memories, globals, instances.
#pragma once

#include "base/result.hpp"
#include "engine/binary/module.hpp"
#include "engine/runtime/control.hpp"
#include "engine/runtime/value.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::engine {

class Store;
struct Instance;
struct CompiledModule;
struct FuncCode;

/// A host function. Arguments arrive in slots[0..params) and results are written to
/// slots[0..results), each encoded as Value::to_slots() does (a v128 takes two slots). Returning a
/// Trap traps the caller.
using HostFn = std::function<std::optional<Trap>(Store& store, uint64_t* slots)>;

struct FuncInst {
    const FuncType* type = nullptr;
    uint32_t type_id = 0;           ///< canonical id (Engine-wide); equal ids mean equal types
    Instance* instance = nullptr;   ///< owner for wasm functions, null for host functions
    uint32_t index = 0;             ///< function index within its module
    uint32_t num_params = 0;        ///< slots of the parameters: slot_count(type->params)
    uint32_t num_results = 0;       ///< slots of the results: slot_count(type->results)
    const FuncCode* code = nullptr; ///< lowered body for wasm functions
    HostFn host;                    ///< set for host functions
    FuncType host_type;             ///< storage for a host function's type
};

/// Tables are vectors of references; past this many elements growth fails instead of
/// allocating gigabytes (per-store budgets come with the embedding API).
inline constexpr uint64_t max_table_elems = 10'000'000;

struct TableInst {
    TableType type;
    std::vector<uint64_t> elems;        ///< references, 0 is null
    ResourceLimiter* limiter = nullptr; ///< the owning store's budget, if any
    TableInst() = default;
    TableInst(const TableInst&) = delete;
    TableInst& operator=(const TableInst&) = delete;
    ~TableInst();
    size_t size() const { return elems.size(); }
    /// Grows by `delta` filled with `init`; returns the old size or -1.
    int64_t grow(uint64_t delta, uint64_t init);
};

/// A linear memory. Its address range is reserved once for the maximum size, so the base
/// pointer never moves when it grows.
struct MemoryInst {
    MemoryType type;
    uint8_t* base = nullptr;
    uint64_t size = 0; ///< bytes
    uint64_t reserved = 0;
    uint64_t writable = 0;              ///< bytes from `base` mapped read-write (at least `size`)
    ResourceLimiter* limiter = nullptr; ///< the owning store's budget, if any
    MemoryInst() = default;
    MemoryInst(const MemoryInst&) = delete;
    MemoryInst& operator=(const MemoryInst&) = delete;
    ~MemoryInst();
    /// Maps the initial pages; fails when the reservation cannot be made or the initial size is
    /// past the limiter's budget.
    Result<void> init(const MemoryType& t);
    uint64_t pages() const { return size / page_size; }
    /// Grows by `delta` pages; returns the old page count or -1.
    int64_t grow(uint64_t delta);
};

struct GlobalInst {
    GlobalType type;
    uint64_t bits = 0;
    uint64_t hi = 0; ///< v128: the high 64 bits

    Value value() const { return Value{type.type, bits, hi}; }
};

/// A reference to something importable or exportable.
struct Extern {
    ExternKind kind = ExternKind::func;
    void* ptr = nullptr; ///< FuncInst*, TableInst*, MemoryInst* or GlobalInst*
    FuncInst* func() const { return static_cast<FuncInst*>(ptr); }
    TableInst* table() const { return static_cast<TableInst*>(ptr); }
    MemoryInst* memory() const { return static_cast<MemoryInst*>(ptr); }
    GlobalInst* global() const { return static_cast<GlobalInst*>(ptr); }
};

/// An instantiated module: its resolved index spaces and segment state.
struct Instance {
    std::shared_ptr<const CompiledModule> compiled;
    const Module* module = nullptr;
    std::vector<FuncInst*> funcs;
    std::vector<TableInst*> tables;
    std::vector<MemoryInst*> memories;
    std::vector<GlobalInst*> globals;
    MemoryInst* memory0 = nullptr; ///< memories[0], or null
    std::vector<std::vector<uint64_t>>
        elem_items; ///< element segments' references; empty once dropped
    std::vector<uint8_t> data_dropped;
    std::unordered_map<std::string, Extern> exports;
    bool trapped = false; ///< a call from the host into this instance trapped

    std::optional<Extern> get_export(const std::string& name) const;
    FuncInst* get_func(const std::string& name) const;
};

} // namespace kiln::engine
