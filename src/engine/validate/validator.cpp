#include "engine/validate/validator.hpp"

#include "base/reader.hpp"
#include "engine/binary/instr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace kiln::engine {
namespace {

// ---- The opcode table's typing columns -------------------------------------------------------

// Values of the operand/result columns of opcodes.def; a value type is its own encoding.
namespace column {
constexpr uint8_t none = 0, special = 1;
constexpr uint8_t i32 = 0x7f, i64 = 0x7e, f32 = 0x7d, f64 = 0x7c, v128 = 0x7b;
} // namespace column

struct OpTyping {
    uint8_t a = column::special; ///< first (deeper) operand
    uint8_t b = column::special; ///< second operand, on top of the stack
    uint8_t r = column::special; ///< result
    ImmKind imm = ImmKind::none;
};

// One-byte opcodes at their code, 0xFC-prefixed ones at 0x100 + subcode, 0xFD-prefixed ones at
// 0x200 + subcode.
constexpr size_t typing_index(Opcode op) {
    const auto code = static_cast<uint16_t>(op);
    if (code < 0x100) return code;
    return (code >> 8 == 0xfc ? 0x100 : 0x200) + (code & 0xff);
}

constexpr std::array<OpTyping, 0x300> build_typing_table() {
    std::array<OpTyping, 0x300> table{};
#define KILN_OP(name, code, text, imm, a, b, r)                                                    \
    table[code] = OpTyping{column::a, column::b, column::r, ImmKind::imm};
#define KILN_OP_FC(name, code, text, imm, a, b, r)                                                 \
    table[0x100 + code] = OpTyping{column::a, column::b, column::r, ImmKind::imm};
#define KILN_OP_FD(name, code, text, imm, a, b, r)                                                 \
    table[0x200 + code] = OpTyping{column::a, column::b, column::r, ImmKind::imm};
#include "engine/binary/opcodes.def"
    return table;
}

constexpr auto op_typing = build_typing_table();

// ---- Operand types --------------------------------------------------------------------------

// An operand stack entry: a value type's encoding, or `unknown`, the type of values popped from
// the polymorphic stack of unreachable code, which matches every type.
using StackType = uint8_t;
constexpr StackType unknown = 0;

constexpr StackType st(ValType t) {
    return static_cast<StackType>(t);
}

std::string_view stack_type_name(StackType t) {
    return t == unknown ? "unknown" : valtype_name(static_cast<ValType>(t));
}

bool is_num_or_vec(StackType t) {
    return t == unknown || t == st(ValType::i32) || t == st(ValType::i64) ||
           t == st(ValType::f32) || t == st(ValType::f64) || t == st(ValType::v128);
}

bool is_ref(StackType t) {
    return t == unknown || t == st(ValType::funcref) || t == st(ValType::externref);
}

std::string types_string(std::span<const ValType> types) {
    std::string s = "[";
    for (size_t i = 0; i < types.size(); ++i) {
        if (i) s += ' ';
        s += valtype_name(types[i]);
    }
    return s + "]";
}

// Storage for single-result block types, so every block type is a pair of spans.
constexpr ValType single_types[] = {ValType::i32, ValType::i64,     ValType::f32,
                                    ValType::f64, ValType::funcref, ValType::externref,
                                    ValType::v128};

std::span<const ValType> single(ValType t) {
    for (const auto& s : single_types)
        if (s == t) return {&s, 1};
    return {};
}

// ---- Function bodies ------------------------------------------------------------------------

struct Frame {
    Opcode op;                        ///< Block, Loop, If, Else; Block for the function itself
    std::span<const ValType> params;  ///< start types
    std::span<const ValType> results; ///< end types
    size_t height;                    ///< operand stack height at entry
    bool unreachable;
};

/// The spec appendix's algorithm: an operand stack and a control stack, with the operand stack
/// polymorphic below the current frame once it is unreachable.
class FunctionValidator {
public:
    FunctionValidator(const Module& m, const std::vector<bool>& declared_funcs)
        : m_module(m), m_declared(declared_funcs) {}

    Result<void> run(uint32_t func_index, const Function& f);

private:
    Result<void> instr(const Instr& in, const InstrReader& reader);
    Result<void> numeric(const Instr& in);

    tl::unexpected<Error> fail(std::string_view what) const {
        return make_error(ErrorKind::invalid,
                          fmt::format("func {} at offset {:#x}: {}", m_func_index, m_offset, what));
    }
    tl::unexpected<Error> mismatch(StackType expected, StackType got) const {
        return fail(fmt::format("type mismatch in {}, expected {} but got {}", opcode_name(m_op),
                                stack_type_name(expected), stack_type_name(got)));
    }
    tl::unexpected<Error> mismatch_nothing(std::string_view expected) const {
        return fail(fmt::format("type mismatch in {}, expected {} but got nothing",
                                opcode_name(m_op), expected));
    }

    void push(StackType t) { m_vals.push_back(t); }
    void push(std::span<const ValType> types) {
        for (auto t : types)
            m_vals.push_back(st(t));
    }
    Result<StackType> pop();
    Result<StackType> pop(StackType expected);
    Result<void> pop(std::span<const ValType> types);
    Result<void> check_top(std::span<const ValType> types) const;
    void push_ctrl(Opcode op, std::span<const ValType> params, std::span<const ValType> results) {
        m_ctrls.push_back(Frame{op, params, results, m_vals.size(), false});
        push(params);
    }
    Result<Frame> pop_ctrl();
    void set_unreachable() {
        m_vals.resize(m_ctrls.back().height);
        m_ctrls.back().unreachable = true;
    }
    static std::span<const ValType> label_types(const Frame& f) {
        return f.op == Opcode::Loop ? f.params : f.results;
    }
    Result<const Frame*> label(uint32_t depth) const {
        if (depth >= m_ctrls.size()) return fail(fmt::format("unknown label {}", depth));
        return &m_ctrls[m_ctrls.size() - 1 - depth];
    }
    Result<const FuncType*> block_type(const BlockType& bt, std::span<const ValType>& params,
                                       std::span<const ValType>& results) const;
    Result<void> need_memory(uint32_t index) const {
        if (index >= m_module.memories.size()) return fail(fmt::format("unknown memory {}", index));
        return {};
    }
    Result<const TableType*> table(uint32_t index) const {
        if (index >= m_module.tables.size()) return fail(fmt::format("unknown table {}", index));
        return &m_module.tables[index];
    }
    Result<const FuncType*> type(uint32_t index) const {
        if (index >= m_module.types.size()) return fail(fmt::format("unknown type {}", index));
        return &m_module.types[index];
    }
    Result<void> need_data(uint32_t index) const;
    Result<const ElemSegment*> elem(uint32_t index) const {
        if (index >= m_module.elems.size())
            return fail(fmt::format("unknown elem segment {}", index));
        return &m_module.elems[index];
    }

    const Module& m_module;
    const std::vector<bool>& m_declared;
    uint32_t m_func_index = 0;
    std::span<const ValType> m_results;
    Opcode m_op = Opcode::Nop;
    uint32_t m_offset = 0;
    std::vector<ValType> m_locals;
    std::vector<StackType> m_vals;
    std::vector<Frame> m_ctrls;
};

Result<StackType> FunctionValidator::pop() {
    const Frame& top = m_ctrls.back();
    if (m_vals.size() == top.height) {
        if (top.unreachable) return unknown;
        return mismatch_nothing("a value");
    }
    StackType t = m_vals.back();
    m_vals.pop_back();
    return t;
}

Result<StackType> FunctionValidator::pop(StackType expected) {
    const Frame& top = m_ctrls.back();
    if (m_vals.size() == top.height) {
        if (top.unreachable) return unknown;
        return mismatch_nothing(stack_type_name(expected));
    }
    StackType t = m_vals.back();
    if (t != expected && t != unknown && expected != unknown) return mismatch(expected, t);
    m_vals.pop_back();
    return t;
}

Result<void> FunctionValidator::pop(std::span<const ValType> types) {
    for (size_t i = types.size(); i-- > 0;) {
        auto popped = pop(st(types[i]));
        if (!popped) return tl::unexpected<Error>(std::move(popped.error()));
    }
    return {};
}

// Checks that the stack could be popped as `types` without popping it; the same as the spec's
// push_vals(pop_vals(types)), since popping below an unreachable frame's height yields unknown.
Result<void> FunctionValidator::check_top(std::span<const ValType> types) const {
    const Frame& top = m_ctrls.back();
    const size_t available = m_vals.size() - top.height;
    for (size_t i = 0; i < types.size(); ++i) {
        const StackType want = st(types[types.size() - 1 - i]);
        if (i >= available) {
            if (top.unreachable) return {};
            return mismatch_nothing(stack_type_name(want));
        }
        const StackType got = m_vals[m_vals.size() - 1 - i];
        if (got != want && got != unknown) return mismatch(want, got);
    }
    return {};
}

Result<Frame> FunctionValidator::pop_ctrl() {
    KILN_CHECK(pop(m_ctrls.back().results));
    Frame frame = m_ctrls.back();
    if (m_vals.size() != frame.height)
        return fail(fmt::format("type mismatch at end of {}: {} value(s) left on the stack "
                                "beyond its results {}",
                                m_ctrls.size() == 1 ? "function" : opcode_name(frame.op),
                                m_vals.size() - frame.height, types_string(frame.results)));
    m_ctrls.pop_back();
    return frame;
}

Result<const FuncType*> FunctionValidator::block_type(const BlockType& bt,
                                                      std::span<const ValType>& params,
                                                      std::span<const ValType>& results) const {
    switch (bt.kind) {
    case BlockType::Kind::empty: params = results = {}; return nullptr;
    case BlockType::Kind::value:
        params = {};
        results = single(bt.value);
        return nullptr;
    case BlockType::Kind::index: {
        KILN_TRY(t, type(bt.index));
        params = t->params;
        results = t->results;
        return t;
    }
    }
    return nullptr;
}

Result<void> FunctionValidator::need_data(uint32_t index) const {
    // decode() rejects these instructions without a data count section when the module has
    // data segments; without any, the index is unknown.
    if (index >= m_module.datas.size()) return fail(fmt::format("unknown data segment {}", index));
    if (!m_module.data_count)
        return make_error(ErrorKind::malformed,
                          fmt::format("func {} at offset {:#x}: data count section required",
                                      m_func_index, m_offset));
    return {};
}

Result<void> FunctionValidator::run(uint32_t func_index, const Function& f) {
    m_func_index = func_index;
    const FuncType& ft = m_module.func_type(func_index);
    m_results = ft.results;
    m_locals.assign(ft.params.begin(), ft.params.end());
    m_locals.insert(m_locals.end(), f.locals.begin(), f.locals.end());
    m_vals.clear();
    m_ctrls.clear();
    m_offset = f.code_offset;
    m_op = Opcode::Block;
    if (f.code_offset > f.code_end || f.code_end > m_module.bytes.size())
        return make_error(ErrorKind::malformed,
                          fmt::format("func {}: body out of the module's bounds", func_index));
    push_ctrl(Opcode::Block, {}, m_results);

    InstrReader reader(Reader(m_module.code(f), f.code_offset));
    while (!reader.at_end()) {
        KILN_TRY(in, reader.next());
        m_op = in.op;
        m_offset = in.offset;
        if (m_ctrls.empty())
            return make_error(ErrorKind::malformed,
                              fmt::format("func {} at offset {:#x}: code after the final end",
                                          func_index, in.offset));
        KILN_CHECK(instr(in, reader));
    }
    if (!m_ctrls.empty())
        return make_error(ErrorKind::malformed,
                          fmt::format("func {}: unexpected end of function body", func_index));
    return {};
}

Result<void> FunctionValidator::instr(const Instr& in, const InstrReader& reader) {
    constexpr StackType i32 = st(ValType::i32);
    switch (in.op) {
    case Opcode::Unreachable: set_unreachable(); return {};
    case Opcode::Nop: return {};
    case Opcode::Block:
    case Opcode::Loop:
    case Opcode::If: {
        std::span<const ValType> params, results;
        KILN_CHECK(block_type(in.block, params, results));
        if (in.op == Opcode::If) KILN_CHECK(pop(i32));
        KILN_CHECK(pop(params));
        push_ctrl(in.op, params, results);
        return {};
    }
    case Opcode::Else: {
        KILN_TRY(frame, pop_ctrl());
        if (frame.op != Opcode::If) return fail("else without matching if");
        push_ctrl(Opcode::Else, frame.params, frame.results);
        return {};
    }
    case Opcode::End: {
        KILN_TRY(frame, pop_ctrl());
        if (frame.op == Opcode::If) {
            // A missing else is an empty one: it must turn the parameters into the results.
            push_ctrl(Opcode::Else, frame.params, frame.results);
            auto implicit_else = pop_ctrl();
            if (!implicit_else)
                return fail(fmt::format("type mismatch: if without else must have results equal "
                                        "to its parameters, but has {} -> {}",
                                        types_string(frame.params), types_string(frame.results)));
        }
        push(frame.results);
        return {};
    }
    case Opcode::Br: {
        KILN_TRY(target, label(in.a));
        KILN_CHECK(pop(label_types(*target)));
        set_unreachable();
        return {};
    }
    case Opcode::BrIf: {
        KILN_TRY(target, label(in.a));
        const auto types = label_types(*target);
        KILN_CHECK(pop(i32));
        KILN_CHECK(pop(types));
        push(types);
        return {};
    }
    case Opcode::BrTable: {
        KILN_CHECK(pop(i32));
        const auto& targets = reader.br_targets();
        KILN_TRY(fallback, label(targets.back()));
        const auto fallback_types = label_types(*fallback);
        for (size_t i = 0; i + 1 < targets.size(); ++i) {
            KILN_TRY(target, label(targets[i]));
            const auto types = label_types(*target);
            if (types.size() != fallback_types.size())
                return fail(fmt::format("type mismatch in br_table: label {} has arity {} but "
                                        "the default label has arity {}",
                                        targets[i], types.size(), fallback_types.size()));
            KILN_CHECK(check_top(types));
        }
        KILN_CHECK(pop(fallback_types));
        set_unreachable();
        return {};
    }
    case Opcode::Return:
        KILN_CHECK(pop(m_results));
        set_unreachable();
        return {};
    case Opcode::Call: {
        if (in.a >= m_module.func_types.size())
            return fail(fmt::format("unknown function {}", in.a));
        const FuncType& callee = m_module.func_type(in.a);
        KILN_CHECK(pop(callee.params));
        push(callee.results);
        return {};
    }
    case Opcode::CallIndirect: {
        KILN_TRY(tab, table(in.b));
        if (tab->elem != ValType::funcref)
            return fail(fmt::format("type mismatch in call_indirect: table {} holds {}, not "
                                    "funcref",
                                    in.b, valtype_name(tab->elem)));
        KILN_TRY(callee, type(in.a));
        KILN_CHECK(pop(i32));
        KILN_CHECK(pop(callee->params));
        push(callee->results);
        return {};
    }
    case Opcode::ReturnCall:
    case Opcode::ReturnCallIndirect: {
        // The callee's results become the caller's: they must be the same types.
        const FuncType* callee = nullptr;
        if (in.op == Opcode::ReturnCall) {
            if (in.a >= m_module.func_types.size())
                return fail(fmt::format("unknown function {}", in.a));
            callee = &m_module.func_type(in.a);
        } else {
            KILN_TRY(tab, table(in.b));
            if (tab->elem != ValType::funcref)
                return fail(fmt::format("type mismatch in return_call_indirect: table {} holds "
                                        "{}, not funcref",
                                        in.b, valtype_name(tab->elem)));
            KILN_TRY(t, type(in.a));
            callee = t;
        }
        if (!std::equal(callee->results.begin(), callee->results.end(), m_results.begin(),
                        m_results.end()))
            return fail(fmt::format("type mismatch in {}: the callee returns {} but the function "
                                    "returns {}",
                                    opcode_name(in.op), types_string(callee->results),
                                    types_string(m_results)));
        if (in.op == Opcode::ReturnCallIndirect) KILN_CHECK(pop(i32));
        KILN_CHECK(pop(callee->params));
        set_unreachable();
        return {};
    }
    case Opcode::Drop: KILN_CHECK(pop()); return {};
    case Opcode::Select: {
        KILN_CHECK(pop(i32));
        KILN_TRY(t1, pop());
        KILN_TRY(t2, pop());
        if (!is_num_or_vec(t1) || !is_num_or_vec(t2))
            return fail(fmt::format("type mismatch in select: untyped select needs numeric or "
                                    "vector operands, got {} and {}",
                                    stack_type_name(t2), stack_type_name(t1)));
        if (t1 != t2 && t1 != unknown && t2 != unknown) return mismatch(t1, t2);
        push(t1 == unknown ? t2 : t1);
        return {};
    }
    case Opcode::SelectT: {
        const auto& types = reader.select_types();
        if (types.size() != 1)
            return fail(fmt::format("invalid result arity: typed select needs exactly one "
                                    "type, has {}",
                                    types.size()));
        const StackType t = st(types[0]);
        KILN_CHECK(pop(i32));
        KILN_CHECK(pop(t));
        KILN_CHECK(pop(t));
        push(t);
        return {};
    }
    case Opcode::LocalGet:
    case Opcode::LocalSet:
    case Opcode::LocalTee: {
        if (in.a >= m_locals.size()) return fail(fmt::format("unknown local {}", in.a));
        const StackType t = st(m_locals[in.a]);
        if (in.op != Opcode::LocalGet) KILN_CHECK(pop(t));
        if (in.op != Opcode::LocalSet) push(t);
        return {};
    }
    case Opcode::GlobalGet:
    case Opcode::GlobalSet: {
        if (in.a >= m_module.globals.size()) return fail(fmt::format("unknown global {}", in.a));
        const GlobalType& g = m_module.globals[in.a];
        if (in.op == Opcode::GlobalGet) {
            push(st(g.type));
        } else {
            if (!g.mut) return fail(fmt::format("global is immutable: global.set {}", in.a));
            KILN_CHECK(pop(st(g.type)));
        }
        return {};
    }
    case Opcode::TableGet: {
        KILN_TRY(tab, table(in.a));
        KILN_CHECK(pop(i32));
        push(st(tab->elem));
        return {};
    }
    case Opcode::TableSet: {
        KILN_TRY(tab, table(in.a));
        KILN_CHECK(pop(st(tab->elem)));
        KILN_CHECK(pop(i32));
        return {};
    }
    case Opcode::RefNull: push(st(in.type)); return {};
    case Opcode::RefIsNull: {
        KILN_TRY(t, pop());
        if (!is_ref(t))
            return fail(fmt::format("type mismatch in ref.is_null, expected a reference but "
                                    "got {}",
                                    stack_type_name(t)));
        push(i32);
        return {};
    }
    case Opcode::RefFunc: {
        if (in.a >= m_module.func_types.size())
            return fail(fmt::format("unknown function {}", in.a));
        if (!m_declared[in.a])
            return fail(fmt::format("undeclared function reference {}: it must appear in an "
                                    "element segment, export or global initializer",
                                    in.a));
        push(st(ValType::funcref));
        return {};
    }
    case Opcode::MemoryInit:
        KILN_CHECK(need_memory(0));
        KILN_CHECK(need_data(in.a));
        break; // typed as three i32 operands below
    case Opcode::DataDrop: return need_data(in.a);
    case Opcode::MemoryCopy:
    case Opcode::MemoryFill: KILN_CHECK(need_memory(0)); break;
    case Opcode::TableInit: {
        KILN_TRY(tab, table(in.b));
        KILN_TRY(seg, elem(in.a));
        if (seg->type != tab->elem)
            return fail(fmt::format("type mismatch in table.init: segment {} holds {}, table "
                                    "{} holds {}",
                                    in.a, valtype_name(seg->type), in.b, valtype_name(tab->elem)));
        break;
    }
    case Opcode::ElemDrop: {
        KILN_CHECK(elem(in.a));
        return {};
    }
    case Opcode::TableCopy: {
        KILN_TRY(dst, table(in.a));
        KILN_TRY(src, table(in.b));
        if (dst->elem != src->elem)
            return fail(fmt::format("type mismatch in table.copy: table {} holds {}, table {} "
                                    "holds {}",
                                    in.b, valtype_name(src->elem), in.a, valtype_name(dst->elem)));
        break;
    }
    case Opcode::TableGrow: {
        KILN_TRY(tab, table(in.a));
        KILN_CHECK(pop(i32));
        KILN_CHECK(pop(st(tab->elem)));
        push(i32);
        return {};
    }
    case Opcode::TableSize: {
        KILN_CHECK(table(in.a));
        push(i32);
        return {};
    }
    case Opcode::TableFill: {
        KILN_TRY(tab, table(in.a));
        KILN_CHECK(pop(i32));
        KILN_CHECK(pop(st(tab->elem)));
        KILN_CHECK(pop(i32));
        return {};
    }
    case Opcode::V128Bitselect: {
        constexpr StackType v128 = st(ValType::v128);
        KILN_CHECK(pop(v128));
        KILN_CHECK(pop(v128));
        KILN_CHECK(pop(v128));
        push(v128);
        return {};
    }
    default: return numeric(in);
    }
    // The bulk operations that fall through take (destination, source or value, length).
    KILN_CHECK(pop(i32));
    KILN_CHECK(pop(i32));
    KILN_CHECK(pop(i32));
    return {};
}

// Every instruction whose typing is opcodes.def's operand and result columns: constants,
// numeric operators, conversions, loads, stores, memory.size and memory.grow.
Result<void> FunctionValidator::numeric(const Instr& in) {
    const OpTyping& typing = op_typing[typing_index(in.op)];
    if (typing.r == column::special)
        return fail(fmt::format("{} has no typing rule", opcode_name(in.op)));
    if (typing.imm == ImmKind::mem || typing.imm == ImmKind::mem_lane) {
        KILN_CHECK(need_memory(0));
        const uint32_t natural = access_log2(in.op);
        if (in.a > natural)
            return fail(fmt::format("alignment must not be larger than natural: {} with "
                                    "alignment 2^{}, natural 2^{}",
                                    opcode_name(in.op), in.a, natural));
    } else if (typing.imm == ImmKind::memidx) {
        KILN_CHECK(need_memory(0));
    }
    if (typing.imm == ImmKind::lane || typing.imm == ImmKind::mem_lane) {
        if (in.b >= lane_count(in.op))
            return fail(fmt::format("invalid lane index {} for {}, which has {} lanes", in.b,
                                    opcode_name(in.op), lane_count(in.op)));
    } else if (typing.imm == ImmKind::shuffle) {
        for (int i = 0; i < 16; ++i) {
            const auto lane = uint8_t((i < 8 ? in.imm : in.imm_hi) >> (i % 8 * 8));
            if (lane >= 32)
                return fail(fmt::format("invalid lane index {} in i8x16.shuffle, which selects "
                                        "from 32 lanes",
                                        lane));
        }
    }
    if (typing.b != column::none) KILN_CHECK(pop(typing.b));
    if (typing.a != column::none) KILN_CHECK(pop(typing.a));
    if (typing.r != column::none) push(typing.r);
    return {};
}

// ---- Module-level rules ---------------------------------------------------------------------

class ModuleValidator {
public:
    explicit ModuleValidator(const Module& m) : m_module(m) {}
    Result<void> run();

private:
    tl::unexpected<Error> fail(std::string_view what) const {
        return make_error(ErrorKind::invalid, std::string(what));
    }
    Result<void> limits(const Limits& lim, uint64_t bound, std::string_view what) const;
    Result<void> const_expr(const ConstExpr& e, ValType expected, std::string_view what) const;
    void declare_refs(const ConstExpr& e);

    const Module& m_module;
    std::vector<bool> m_declared; ///< functions that ref.func may name (the spec's C.refs)
};

Result<void> ModuleValidator::limits(const Limits& lim, uint64_t bound,
                                     std::string_view what) const {
    if (lim.min > bound || (lim.max && *lim.max > bound)) {
        if (bound == max_pages)
            return fail(fmt::format("{}: memory size must be at most 65536 pages (4GiB)", what));
        return fail(fmt::format("{}: table size must be at most 2^32-1", what));
    }
    if (lim.max && lim.min > *lim.max)
        return fail(fmt::format("{}: size minimum must not be greater than maximum ({} > {})", what,
                                lim.min, *lim.max));
    return {};
}

std::string_view const_op_name(ConstInstr::Op op) {
    switch (op) {
    case ConstInstr::Op::i32_add:
    case ConstInstr::Op::i64_add: return "add";
    case ConstInstr::Op::i32_sub:
    case ConstInstr::Op::i64_sub: return "sub";
    default: return "mul";
    }
}

// Constant expressions may read only imported immutable globals (WebAssembly 2.0).
Result<void> ModuleValidator::const_expr(const ConstExpr& e, ValType expected,
                                         std::string_view what) const {
    std::vector<ValType> stack;
    for (const auto& ci : e.instrs) {
        switch (ci.op) {
        case ConstInstr::Op::i32_const: stack.push_back(ValType::i32); break;
        case ConstInstr::Op::i64_const: stack.push_back(ValType::i64); break;
        case ConstInstr::Op::f32_const: stack.push_back(ValType::f32); break;
        case ConstInstr::Op::f64_const: stack.push_back(ValType::f64); break;
        case ConstInstr::Op::v128_const: stack.push_back(ValType::v128); break;
        case ConstInstr::Op::ref_null:
            if (!is_reftype(ci.type))
                return fail(fmt::format("{}: ref.null of non-reference type", what));
            stack.push_back(ci.type);
            break;
        case ConstInstr::Op::ref_func:
            if (ci.value >= m_module.func_types.size())
                return fail(fmt::format("{}: unknown function {}", what, ci.value));
            stack.push_back(ValType::funcref);
            break;
        case ConstInstr::Op::global_get:
            if (ci.value >= m_module.num_imported_globals)
                return fail(fmt::format("{}: unknown global {} (constant expressions may only "
                                        "read imported globals)",
                                        what, ci.value));
            if (m_module.globals[ci.value].mut)
                return fail(fmt::format("{}: constant expression required, but global {} is "
                                        "mutable",
                                        what, ci.value));
            stack.push_back(m_module.globals[ci.value].type);
            break;
        case ConstInstr::Op::i32_add:
        case ConstInstr::Op::i32_sub:
        case ConstInstr::Op::i32_mul:
        case ConstInstr::Op::i64_add:
        case ConstInstr::Op::i64_sub:
        case ConstInstr::Op::i64_mul: {
            const bool is64 = ci.op >= ConstInstr::Op::i64_add;
            const ValType t = is64 ? ValType::i64 : ValType::i32;
            for (int k = 0; k < 2; ++k) {
                if (stack.empty() || stack.back() != t)
                    return fail(fmt::format("{}: type mismatch in constant expression, {}.{} "
                                            "needs two {} operands",
                                            what, valtype_name(t), const_op_name(ci.op),
                                            valtype_name(t)));
                stack.pop_back();
            }
            stack.push_back(t);
            break;
        }
        }
    }
    if (stack.size() != 1 || stack[0] != expected)
        return fail(fmt::format("{}: type mismatch, expected [{}] but the constant expression "
                                "gives {}",
                                what, valtype_name(expected), types_string(stack)));
    return {};
}

void ModuleValidator::declare_refs(const ConstExpr& e) {
    for (const auto& ci : e.instrs)
        if (ci.op == ConstInstr::Op::ref_func && ci.value < m_declared.size())
            m_declared[ci.value] = true;
}

Result<void> ModuleValidator::run() {
    const Module& m = m_module;
    const size_t num_funcs = m.func_types.size();

    // decode() keeps the index spaces consistent; a Module assembled by other code might not,
    // and the rules below index these vectors by each other's sizes.
    if (num_funcs != m.num_imported_funcs + m.functions.size() ||
        m.globals.size() != m.num_imported_globals + m.global_inits.size() ||
        m.tables.size() < m.num_imported_tables || m.memories.size() < m.num_imported_memories)
        return make_error(ErrorKind::malformed, "inconsistent module: index spaces do not match "
                                                "the imports and definitions");

    for (size_t i = 0; i < num_funcs; ++i)
        if (m.func_types[i] >= m.types.size())
            return fail(fmt::format("func {}: unknown type {}", i, m.func_types[i]));
    for (size_t i = 0; i < m.tables.size(); ++i)
        KILN_CHECK(limits(m.tables[i].limits, 0xffffffffu, fmt::format("table {}", i)));
    for (size_t i = 0; i < m.memories.size(); ++i)
        KILN_CHECK(limits(m.memories[i].limits, max_pages, fmt::format("memory {}", i)));
    if (m.memories.size() > 1)
        return fail(fmt::format("multiple memories: {} defined or imported, at most 1 allowed",
                                m.memories.size()));

    for (size_t i = 0; i < m.global_inits.size(); ++i) {
        const auto index = m.num_imported_globals + i;
        KILN_CHECK(const_expr(m.global_inits[i].init, m.global_inits[i].type.type,
                              fmt::format("global {}", index)));
    }

    for (size_t i = 0; i < m.elems.size(); ++i) {
        const ElemSegment& seg = m.elems[i];
        const auto what = fmt::format("elem segment {}", i);
        if (!is_reftype(seg.type)) return fail(fmt::format("{}: not a reference type", what));
        for (const auto& item : seg.items)
            KILN_CHECK(const_expr(item, seg.type, what));
        if (seg.mode == SegmentMode::active) {
            if (seg.table >= m.tables.size())
                return fail(fmt::format("{}: unknown table {}", what, seg.table));
            if (m.tables[seg.table].elem != seg.type)
                return fail(fmt::format("{}: type mismatch, segment holds {} but table {} "
                                        "holds {}",
                                        what, valtype_name(seg.type), seg.table,
                                        valtype_name(m.tables[seg.table].elem)));
            KILN_CHECK(const_expr(seg.offset, ValType::i32, what + " offset"));
        }
    }

    for (size_t i = 0; i < m.datas.size(); ++i) {
        const DataSegment& seg = m.datas[i];
        if (seg.mode != SegmentMode::active) continue;
        const auto what = fmt::format("data segment {}", i);
        if (seg.memory >= m.memories.size())
            return fail(fmt::format("{}: unknown memory {}", what, seg.memory));
        KILN_CHECK(const_expr(seg.offset, ValType::i32, what + " offset"));
    }

    if (m.start) {
        if (*m.start >= num_funcs) return fail(fmt::format("unknown function {}", *m.start));
        const FuncType& t = m.func_type(*m.start);
        if (!t.params.empty() || !t.results.empty())
            return fail(fmt::format("start function {} must have type () -> (), has {}", *m.start,
                                    functype_string(t)));
    }

    std::unordered_set<std::string_view> names;
    names.reserve(m.exports.size());
    for (const auto& exp : m.exports) {
        if (!names.insert(exp.name).second)
            return fail(fmt::format("duplicate export name \"{}\"", exp.name));
        size_t bound = 0;
        switch (exp.kind) {
        case ExternKind::func: bound = num_funcs; break;
        case ExternKind::table: bound = m.tables.size(); break;
        case ExternKind::memory: bound = m.memories.size(); break;
        case ExternKind::global: bound = m.globals.size(); break;
        }
        if (exp.index >= bound)
            return fail(fmt::format(
                "export \"{}\": unknown {} {}", exp.name,
                exp.kind == ExternKind::func ? "function" : extern_kind_name(exp.kind), exp.index));
    }

    // C.refs: functions named anywhere outside function bodies and the start section.
    m_declared.assign(num_funcs, false);
    for (const auto& g : m.global_inits)
        declare_refs(g.init);
    for (const auto& seg : m.elems) {
        declare_refs(seg.offset);
        for (const auto& item : seg.items)
            declare_refs(item);
    }
    for (const auto& seg : m.datas)
        declare_refs(seg.offset);
    for (const auto& exp : m.exports)
        if (exp.kind == ExternKind::func) m_declared[exp.index] = true;

    FunctionValidator body(m, m_declared);
    for (size_t i = 0; i < m.functions.size(); ++i)
        KILN_CHECK(body.run(static_cast<uint32_t>(m.num_imported_funcs + i), m.functions[i]));
    return {};
}

} // namespace

Result<void> validate(const Module& m) {
    ModuleValidator validator(m);
    return validator.run();
}

} // namespace kiln::engine
