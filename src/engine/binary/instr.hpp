// Opcodes and an instruction reader that decodes one instruction and its immediates.
// The validator, the lowering and the disassembler all read code through it.
#pragma once

#include "base/reader.hpp"
#include "engine/binary/types.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace kiln::engine {

/// Every opcode; prefixed ones are 0xFC00 | subcode and 0xFD00 | subcode.
enum class Opcode : uint16_t {
#define KILN_OP(name, code, text, imm, a, b, r) name = code,
#define KILN_OP_FC(name, code, text, imm, a, b, r) name = 0xfc00 | code,
#define KILN_OP_FD(name, code, text, imm, a, b, r) name = 0xfd00 | code,
#include "engine/binary/opcodes.def"
};

const char* opcode_name(Opcode op);

/// The error for a construct at `offset` that needs a feature the engine disables (invalid, naming
/// the feature).
tl::unexpected<Error> feature_disabled(std::string_view feature, std::string_view what,
                                       size_t offset);

/// True for the 0xFD-prefixed (SIMD) instructions.
constexpr bool is_simd(Opcode op) {
    return (static_cast<uint16_t>(op) & 0xff00) == 0xfd00;
}
/// log2 of the bytes a memory instruction accesses, which is also its natural alignment (the
/// largest its alignment immediate may be).
constexpr uint32_t access_log2(Opcode op) {
    switch (op) {
    case Opcode::I32Load8S:
    case Opcode::I32Load8U:
    case Opcode::I64Load8S:
    case Opcode::I64Load8U:
    case Opcode::I32Store8:
    case Opcode::I64Store8:
    case Opcode::V128Load8Splat:
    case Opcode::V128Load8Lane:
    case Opcode::V128Store8Lane: return 0;
    case Opcode::I32Load16S:
    case Opcode::I32Load16U:
    case Opcode::I64Load16S:
    case Opcode::I64Load16U:
    case Opcode::I32Store16:
    case Opcode::I64Store16:
    case Opcode::V128Load16Splat:
    case Opcode::V128Load16Lane:
    case Opcode::V128Store16Lane: return 1;
    case Opcode::I32Load:
    case Opcode::F32Load:
    case Opcode::I64Load32S:
    case Opcode::I64Load32U:
    case Opcode::I32Store:
    case Opcode::F32Store:
    case Opcode::I64Store32:
    case Opcode::V128Load32Splat:
    case Opcode::V128Load32Zero:
    case Opcode::V128Load32Lane:
    case Opcode::V128Store32Lane: return 2;
    case Opcode::V128Load:
    case Opcode::V128Store: return 4;
    default: return 3; // i64/f64 loads and stores, the extending and 64-bit SIMD loads
    }
}

/// The number of lanes a lane index of this instruction selects from (extract/replace_lane,
/// load/store_lane); 0 for instructions without a lane index.
constexpr uint32_t lane_count(Opcode op) {
    switch (op) {
    case Opcode::I8x16ExtractLaneS:
    case Opcode::I8x16ExtractLaneU:
    case Opcode::I8x16ReplaceLane: return 16;
    case Opcode::I16x8ExtractLaneS:
    case Opcode::I16x8ExtractLaneU:
    case Opcode::I16x8ReplaceLane: return 8;
    case Opcode::I32x4ExtractLane:
    case Opcode::I32x4ReplaceLane:
    case Opcode::F32x4ExtractLane:
    case Opcode::F32x4ReplaceLane: return 4;
    case Opcode::I64x2ExtractLane:
    case Opcode::I64x2ReplaceLane:
    case Opcode::F64x2ExtractLane:
    case Opcode::F64x2ReplaceLane: return 2;
    case Opcode::V128Load8Lane:
    case Opcode::V128Load16Lane:
    case Opcode::V128Load32Lane:
    case Opcode::V128Load64Lane:
    case Opcode::V128Store8Lane:
    case Opcode::V128Store16Lane:
    case Opcode::V128Store32Lane:
    case Opcode::V128Store64Lane: return 16u >> access_log2(op);
    default: return 0;
    }
}

/// The immediate kinds of opcodes.def.
enum class ImmKind : uint8_t {
    none,
    block,
    label,
    br_table,
    func,
    call_indirect,
    local,
    global,
    table,
    mem,
    memidx,
    i32,
    i64,
    f32,
    f64,
    ref_type,
    select_t,
    memory_init,
    data,
    memory_copy,
    table_init,
    elem,
    table_copy,
    v128,     ///< v128.const: 16 bytes
    shuffle,  ///< i8x16.shuffle: 16 lane indices
    lane,     ///< a lane index byte
    mem_lane, ///< a memory argument, then a lane index byte
};

/// Block type: no values, a single result, or a function type index.
struct BlockType {
    enum class Kind : uint8_t { empty, value, index } kind = Kind::empty;
    ValType value = ValType::i32;
    uint32_t index = 0;
};

/// One decoded instruction.
struct Instr {
    Opcode op = Opcode::Nop;
    uint32_t offset = 0; ///< absolute byte offset of the opcode in the module
    BlockType block;     ///< block, loop, if
    uint32_t a = 0;      ///< label, func, local, global, table, type (call_indirect), data, elem,
                         ///< memory alignment (log2), destination table (table.copy)
    uint32_t b = 0;      ///< table of call_indirect/table.init, source table of table.copy,
                         ///< lane index
    uint64_t imm = 0;    ///< constant bits, memory offset, low half of v128.const / shuffle lanes
    uint64_t imm_hi = 0; ///< high half of v128.const / i8x16.shuffle's lanes
    ValType type = ValType::i32; ///< ref.null's type
};

/// Reads instructions one at a time from a function body or constant expression.
class InstrReader {
public:
    /// With `simd` false, SIMD instructions and v128 block types fail to read, naming the
    /// feature (the engine was configured without it).
    explicit InstrReader(Reader reader, bool simd = true) : m_reader(reader), m_simd(simd) {}

    bool at_end() const { return m_reader.at_end(); }
    size_t offset() const { return m_reader.offset(); }
    Result<Instr> next();

    /// br_table targets of the last br_table read (the default is last).
    const std::vector<uint32_t>& br_targets() const { return m_targets; }
    /// Types of the last typed select read.
    const std::vector<ValType>& select_types() const { return m_select_types; }

private:
    Result<void> zero_byte();
    Result<ValType> value_type(uint8_t byte, size_t offset);

    Reader m_reader;
    bool m_simd;
    std::vector<uint32_t> m_targets;
    std::vector<ValType> m_select_types;
};

} // namespace kiln::engine
