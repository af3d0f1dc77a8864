// The decoded module: immutable once built, shared by every instance made from it.
#pragma once

#include "engine/binary/types.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::engine {

/// One instruction of a constant expression.
struct ConstInstr {
    enum class Op : uint8_t {
        i32_const,
        i64_const,
        f32_const,
        f64_const,
        v128_const,
        ref_null,
        ref_func,
        global_get,
        i32_add, ///< the extended-const proposal's arithmetic: pops two, pushes one
        i32_sub,
        i32_mul,
        i64_add,
        i64_sub,
        i64_mul
    };
    Op op;
    uint64_t value = 0;          ///< the constant's bits, or the function/global index
    ValType type = ValType::i32; ///< ref.null's type
    uint64_t hi = 0;             ///< v128.const: the high 64 bits (value holds the low)
};

/// True for the arithmetic of the extended-const proposal.
constexpr bool is_extended_const(ConstInstr::Op op) {
    return op >= ConstInstr::Op::i32_add;
}

/// A constant expression (offsets, global initialisers, element items).
struct ConstExpr {
    std::vector<ConstInstr> instrs;
};

struct Import {
    std::string module;
    std::string name;
    ExternKind kind = ExternKind::func;
    uint32_t func_type = 0; ///< kind == func
    TableType table;        ///< kind == table
    MemoryType memory;      ///< kind == memory
    GlobalType global;      ///< kind == global
};

struct Export {
    std::string name;
    ExternKind kind = ExternKind::func;
    uint32_t index = 0;
};

struct Global {
    GlobalType type;
    ConstExpr init;
};

enum class SegmentMode : uint8_t { active, passive, declarative };

struct ElemSegment {
    SegmentMode mode = SegmentMode::active;
    uint32_t table = 0;
    ConstExpr offset;
    ValType type = ValType::funcref;
    std::vector<ConstExpr> items;
};

struct DataSegment {
    SegmentMode mode = SegmentMode::active;
    uint32_t memory = 0;
    ConstExpr offset;
    uint32_t bytes_offset = 0; ///< into Module::bytes
    uint32_t bytes_size = 0;
};

/// A module-defined function: its type and where its body lies in Module::bytes.
struct Function {
    uint32_t type = 0;
    std::vector<ValType> locals; ///< declared locals, after the parameters
    uint32_t code_offset = 0;    ///< first instruction, after the local declarations
    uint32_t code_end = 0;       ///< one past the final `end`
};

struct CustomSection {
    std::string name;
    uint32_t offset = 0; ///< contents, into Module::bytes
    uint32_t size = 0;
};

/// A decoded module. Index spaces (functions, tables, memories, globals) start with imports.
struct Module {
    std::vector<uint8_t> bytes; ///< the original binary, which function bodies point into
    std::vector<FuncType> types;
    std::vector<Import> imports;
    std::vector<uint32_t> func_types; ///< type index of every function, imports first
    std::vector<TableType> tables;    ///< imports first
    std::vector<MemoryType> memories; ///< imports first
    std::vector<GlobalType> globals;  ///< imports first
    uint32_t num_imported_funcs = 0;
    uint32_t num_imported_tables = 0;
    uint32_t num_imported_memories = 0;
    uint32_t num_imported_globals = 0;
    std::vector<Function> functions;  ///< module-defined functions only
    std::vector<Global> global_inits; ///< module-defined globals only
    std::vector<Export> exports;
    std::optional<uint32_t> start;
    std::vector<ElemSegment> elems;
    std::vector<DataSegment> datas;
    std::optional<uint32_t> data_count;
    std::vector<CustomSection> customs;
    std::unordered_map<uint32_t, std::string> func_names; ///< from the name section
    std::string module_name;                              ///< from the name section

    const FuncType& func_type(uint32_t func_index) const { return types[func_types[func_index]]; }
    std::span<const uint8_t> code(const Function& f) const {
        return {bytes.data() + f.code_offset, bytes.data() + f.code_end};
    }
    /// The function's name: the name section's, else an export's, else empty.
    std::string func_name(uint32_t func_index) const;
    /// The function's name for messages: func_name(), else "func[N]".
    std::string func_display_name(uint32_t func_index) const;
};

} // namespace kiln::engine
