// The interpreter's internal code: each function body is lowered once into a flat array of
// 64-bit cells. An instruction is a handler address followed by 32-bit operands (frame slot
// indices, packed two per cell) and then 64-bit immediates or branch targets. Locals and operand
// stack values all live in 64-bit frame slots at fixed indices, so instructions name their
// operands directly and nothing is pushed or popped while running. A v128 value takes two
// consecutive slots (its low half first); every other value takes one.
#pragma once

#include "engine/interp/numeric.hpp"
#include <kiln/types.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kiln::engine {

union Cell {
    const void* handler;
    const Cell* target;
    uint64_t u64;
    uint32_t u32[2];
};
static_assert(sizeof(Cell) == 8);

// Category of each opcode of opcodes.def by its immediate kind and second operand:
// numeric unary, numeric binary, load, store, or handled by hand (nothing generated here).
#define KILN_CAT(name, imm, a, b, r, UN, BIN, LOAD, STORE)                                         \
    KILN_CAT_##imm##_##b(name, a, r, UN, BIN, LOAD, STORE)
#define KILN_CAT_none_none(n, a, r, UN, BIN, LOAD, STORE) UN(n, a, r)
#define KILN_CAT_none_i32(n, a, r, UN, BIN, LOAD, STORE) BIN(n, a, r)
#define KILN_CAT_none_i64(n, a, r, UN, BIN, LOAD, STORE) BIN(n, a, r)
#define KILN_CAT_none_f32(n, a, r, UN, BIN, LOAD, STORE) BIN(n, a, r)
#define KILN_CAT_none_f64(n, a, r, UN, BIN, LOAD, STORE) BIN(n, a, r)
#define KILN_CAT_mem_none(n, a, r, UN, BIN, LOAD, STORE) LOAD(n, a, r)
#define KILN_CAT_mem_i32(n, a, r, UN, BIN, LOAD, STORE) STORE(n, a, r)
#define KILN_CAT_mem_i64(n, a, r, UN, BIN, LOAD, STORE) STORE(n, a, r)
#define KILN_CAT_mem_f32(n, a, r, UN, BIN, LOAD, STORE) STORE(n, a, r)
#define KILN_CAT_mem_f64(n, a, r, UN, BIN, LOAD, STORE) STORE(n, a, r)
#define KILN_CAT_none_special(...)
#define KILN_CAT_block_special(...)
#define KILN_CAT_label_special(...)
#define KILN_CAT_br_table_special(...)
#define KILN_CAT_func_special(...)
#define KILN_CAT_call_indirect_special(...)
#define KILN_CAT_local_special(...)
#define KILN_CAT_global_special(...)
#define KILN_CAT_table_special(...)
#define KILN_CAT_memidx_none(...)
#define KILN_CAT_memidx_special(...)
#define KILN_CAT_i32_none(...)
#define KILN_CAT_i64_none(...)
#define KILN_CAT_f32_none(...)
#define KILN_CAT_f64_none(...)
#define KILN_CAT_ref_type_special(...)
#define KILN_CAT_select_t_special(...)
#define KILN_CAT_memory_init_special(...)
#define KILN_CAT_data_special(...)
#define KILN_CAT_memory_copy_special(...)
#define KILN_CAT_table_init_special(...)
#define KILN_CAT_elem_special(...)
#define KILN_CAT_table_copy_special(...)

// Category of each SIMD opcode (KILN_OP_FD) by its immediate kind and second operand: unary
// (splats included), binary (shifts included), extract_lane, replace_lane, load, store,
// load/store_lane (told apart by the result), or handled by hand (v128.const, i8x16.shuffle,
// v128.bitselect). BIN and REPLACE get the type of the second operand instead of the first.
#define KILN_VCAT(name, imm, a, b, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)             \
    KILN_VCAT_##imm##_##b(name, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)
#define KILN_VCAT_none_none(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE) UN(n, a, r)
#define KILN_VCAT_none_v128(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)              \
    BIN(n, v128, r)
#define KILN_VCAT_none_i32(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE) BIN(n, i32, r)
#define KILN_VCAT_lane_none(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)              \
    EXTRACT(n, a, r)
#define KILN_VCAT_lane_i32(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)               \
    REPLACE(n, i32, r)
#define KILN_VCAT_lane_i64(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)               \
    REPLACE(n, i64, r)
#define KILN_VCAT_lane_f32(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)               \
    REPLACE(n, f32, r)
#define KILN_VCAT_lane_f64(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)               \
    REPLACE(n, f64, r)
#define KILN_VCAT_mem_none(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE) LOAD(n, a, r)
#define KILN_VCAT_mem_v128(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE) STORE(n, a, r)
#define KILN_VCAT_mem_lane_v128(n, a, r, UN, BIN, EXTRACT, REPLACE, LOAD, STORE, MEMLANE)          \
    MEMLANE(n, a, r)
#define KILN_VCAT_v128_none(...)
#define KILN_VCAT_shuffle_v128(...)
#define KILN_VCAT_none_special(...)

// Binary integer instructions also get a form whose second operand is an immediate.
#define KILN_SI_i32(X, n) X(n##_si)
#define KILN_SI_i64(X, n) X(n##_si)
#define KILN_SI_f32(X, n)
#define KILN_SI_f64(X, n)

// The X-macro lists below are laid out by hand: clang-format 14 indents them as a staircase
// and does not reach a fixed point on them.
// clang-format off
// Integer comparisons fused with a following br_if / if.
#define KILN_INT_CMPS(X)                                                                           \
    X(I32, Eq) X(I32, Ne) X(I32, LtS) X(I32, LtU) X(I32, GtS) X(I32, GtU) X(I32, LeS)              \
    X(I32, LeU) X(I32, GeS) X(I32, GeU) X(I64, Eq) X(I64, Ne) X(I64, LtS) X(I64, LtU)              \
    X(I64, GtS) X(I64, GtU) X(I64, LeS) X(I64, LeU) X(I64, GeS) X(I64, GeU)

#define KILN_GEN_UN(n, a, r) KILN_IOP_X(n)
#define KILN_GEN_BIN(n, a, r) KILN_IOP_X(n##_ss) KILN_SI_##a(KILN_IOP_X, n)
// Loads and stores also get an `_a` form that adds a constant to the address first (modulo 2^32).
#define KILN_GEN_MEM(n, a, r) KILN_IOP_X(n) KILN_IOP_X(n##_a)
#define KILN_GEN_FUSED(P, n)                                                                       \
    KILN_IOP_X(BrIf_##P##n##_ss) KILN_IOP_X(BrIf_##P##n##_si) KILN_IOP_X(BrIf_##P##n##_ss_back)    \
    KILN_IOP_X(BrIf_##P##n##_si_back)

/// Internal opcodes: this fixed list, then one or two per numeric opcode of opcodes.def (expand
/// KILN_IOPS_FIXED, then include opcodes.def with KILN_OP defined as KILN_OPCODE_IOPS_ONE and
/// KILN_OP_FD as KILN_OPCODE_IOPS_FD).
/// KILN_IOP_X must be defined by the user of the list.
#define KILN_IOPS_FIXED                                                                            \
    KILN_IOP_X(Unreachable) KILN_IOP_X(Copy) KILN_IOP_X(Const) KILN_IOP_X(Br)                      \
    KILN_IOP_X(BrIfNz) KILN_IOP_X(BrIfZ) KILN_IOP_X(BrIfNz64) KILN_IOP_X(BrIfZ64)                  \
    KILN_IOP_X(BrIfNzBack) KILN_IOP_X(BrIfZBack) KILN_IOP_X(BrIfNz64Back)                          \
    KILN_IOP_X(BrIfZ64Back) KILN_IOP_X(BrTable) KILN_IOP_X(Call) KILN_IOP_X(CallIndirect)          \
    KILN_IOP_X(ReturnCall) KILN_IOP_X(ReturnCallIndirect)                                          \
    KILN_IOP_X(Return) KILN_IOP_X(Select) KILN_IOP_X(GlobalGet) KILN_IOP_X(GlobalSet)              \
    KILN_IOP_X(MemorySize) KILN_IOP_X(MemoryGrow) KILN_IOP_X(MemoryFill) KILN_IOP_X(MemoryCopy)    \
    KILN_IOP_X(MemoryInit) KILN_IOP_X(DataDrop) KILN_IOP_X(TableGet) KILN_IOP_X(TableSet)          \
    KILN_IOP_X(TableSize) KILN_IOP_X(TableGrow) KILN_IOP_X(TableFill) KILN_IOP_X(TableCopy)        \
    KILN_IOP_X(TableInit) KILN_IOP_X(ElemDrop) KILN_IOP_X(RefFunc) KILN_IOP_X(Fuel)                \
    KILN_IOP_X(BrBack) KILN_INT_CMPS(KILN_GEN_FUSED)                                               \
    KILN_IOP_X(Copy128) KILN_IOP_X(Select128) KILN_IOP_X(GlobalGet128) KILN_IOP_X(GlobalSet128)    \
    KILN_IOP_X(F32MulAdd) KILN_IOP_X(F64MulAdd) KILN_IOP_X(F32MulAddP) KILN_IOP_X(F64MulAddP)      \
    KILN_IOP_X(F32MulSub) KILN_IOP_X(F64MulSub) KILN_IOP_X(Shuffle16) KILN_IOP_X(Shuffle32)       \
    KILN_IOP_X(Shuffle64)
// clang-format on

#define KILN_OPCODE_IOPS_ONE(name, code, text, imm, a, b, r)                                       \
    KILN_CAT(name, imm, a, b, r, KILN_GEN_UN, KILN_GEN_BIN, KILN_GEN_MEM, KILN_GEN_MEM)
/// Every SIMD opcode has one internal opcode of the same name, loads and stores a second, `_a`.
#define KILN_OPCODE_IOPS_FD(name, code, text, imm, a, b, r)                                        \
    KILN_IOP_X(name)                                                                               \
    KILN_VCAT(name, imm, a, b, r, KILN_GEN_NONE, KILN_GEN_NONE, KILN_GEN_NONE, KILN_GEN_NONE,      \
              KILN_GEN_ADDEND, KILN_GEN_ADDEND, KILN_GEN_NONE)
#define KILN_GEN_NONE(n, a, r)
#define KILN_GEN_ADDEND(n, a, r) KILN_IOP_X(n##_a)

enum class IOp : uint16_t {
#define KILN_IOP_X(n) n,
#define KILN_OP(name, code, text, imm, a, b, r) KILN_OPCODE_IOPS_ONE(name, code, text, imm, a, b, r)
#define KILN_OP_FD(name, code, text, imm, a, b, r)                                                 \
    KILN_OPCODE_IOPS_FD(name, code, text, imm, a, b, r)
    KILN_IOPS_FIXED
#include "engine/binary/opcodes.def"
#undef KILN_IOP_X
        count_
};

/// What a reference slot holds. A snapshot writes a function reference as an ordinal and can
/// carry an external reference only when it is null.
enum class Ref : uint8_t { none, func, ext };

inline Ref ref_of(ValType t) {
    return t == ValType::funcref ? Ref::func : t == ValType::externref ? Ref::ext : Ref::none;
}

/// A slot index naming a reference in site_refs and ref_locals: the slot, with the top bit set
/// for an externref (frames are far smaller than 2^31 slots).
inline constexpr uint32_t ref_ext_bit = uint32_t(1) << 31;
inline uint32_t ref_slot(uint32_t slot, Ref r) {
    return r == Ref::ext ? slot | ref_ext_bit : slot;
}

/// A point where a call can stop resumably, so where a snapshot can find a frame: the fuel check
/// at function entry and the back edges that charge a loop (`charge`), and the return point
/// after a call (`call`). Frames of a suspended call are only ever at these points.
struct SuspendSite {
    enum class Kind : uint8_t { charge, call };
    uint32_t offset = 0; ///< cell index of the instruction to run on resume
    Kind kind = Kind::charge;
    uint32_t base = 0;       ///< call: the callee's frame starts at this slot of the caller's
    uint32_t refs_begin = 0; ///< operand-stack slots holding references here, in
    uint32_t refs_end = 0;   ///< FuncCode::site_refs[refs_begin, refs_end)
};

/// Where lowered code came from: cells from `cell` on were lowered from the wasm instruction at
/// byte `wasm_offset` of the module binary (until the next entry).
struct CodeOffset {
    uint32_t cell;
    uint32_t wasm_offset;
};

/// A lowered function body and the frame it needs.
struct FuncCode {
    std::vector<Cell> code;
    std::vector<SuspendSite> sites;  ///< by offset
    std::vector<uint32_t> site_refs; ///< slots named by sites (ref_slot)
    std::vector<uint32_t>
        ref_locals; ///< slots of the reference-typed locals, params included (ref_slot)
    std::vector<CodeOffset> offsets; ///< in cell order; an entry where the wasm instruction changes
    uint32_t num_params = 0;         ///< slots the parameters take
    uint32_t num_locals = 0;         ///< slots the locals take, parameters included
    uint32_t num_results = 0;        ///< slots the results take
    uint32_t frame_size = 0;         ///< slots: locals plus the deepest operand stack
    /// Builds with KILN_INTERP_STATS only: at the first cell of each instruction, the number of
    /// wasm instructions it stands for (those lowered since the previous one, itself included).
    std::vector<uint32_t> wasm_counts;

    /// The site of `kind` at cell `offset`, if there is one. A call's return point and a loop's
    /// back edge right after the call share their cell: the kind tells them apart.
    const SuspendSite* site_at(uint32_t offset, SuspendSite::Kind kind) const;
    /// Byte offset in the module binary of the wasm instruction that cell `pc` was lowered from.
    uint32_t wasm_offset(const Cell* pc) const {
        auto cell = uint32_t(pc - code.data());
        auto after = std::upper_bound(offsets.begin(), offsets.end(), cell,
                                      [](uint32_t c, const CodeOffset& o) { return c < o.cell; });
        return after == offsets.begin() ? 0 : (after - 1)->wasm_offset;
    }
};

} // namespace kiln::engine
