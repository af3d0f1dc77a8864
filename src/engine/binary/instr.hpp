// Opcodes and an instruction reader that decodes one instruction and its immediates.
// The validator, the lowering and the disassembler all read code through it.
#pragma once

#include "base/reader.hpp"
#include "engine/binary/types.hpp"

#include <cstdint>
#include <vector>

namespace kiln::engine {

/// Every opcode; 0xFC-prefixed ones are 0xFC00 | subcode.
enum class Opcode : uint16_t {
#define KILN_OP(name, code, text, imm, a, b, r) name = code,
#define KILN_OP_FC(name, code, text, imm, a, b, r) name = 0xfc00 | code,
#include "engine/binary/opcodes.def"
};

const char* opcode_name(Opcode op);

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
    uint32_t b = 0;      ///< table of call_indirect/table.init, source table of table.copy
    uint64_t imm = 0;    ///< constant bits, memory offset
    ValType type = ValType::i32; ///< ref.null's type
};

/// Reads instructions one at a time from a function body or constant expression.
class InstrReader {
public:
    explicit InstrReader(Reader reader) : m_reader(reader) {}

    bool at_end() const { return m_reader.at_end(); }
    size_t offset() const { return m_reader.offset(); }
    Result<Instr> next();

    /// br_table targets of the last br_table read (the default is last).
    const std::vector<uint32_t>& br_targets() const { return m_targets; }
    /// Types of the last typed select read.
    const std::vector<ValType>& select_types() const { return m_select_types; }

private:
    Result<void> zero_byte();

    Reader m_reader;
    std::vector<uint32_t> m_targets;
    std::vector<ValType> m_select_types;
};

} // namespace kiln::engine
