// Lowering works on an abstract operand stack whose entries say where a value currently is: in
// its own stack slot, still in a local (local.get copies nothing), or a constant (folded into
// immediate forms). Entries are moved into their slots ("materialized") only when needed: before
// control flow splits or joins, before a local they refer to is overwritten, and for call
// arguments. A result that is immediately stored to a local is written there directly, and an
// integer comparison followed by br_if/if becomes one compare-and-branch instruction.
#include "engine/interp/lower.hpp"

#include "engine/binary/instr.hpp"
#include "engine/interp/interpreter.hpp"

#include <fmt/format.h>

#include <cstring>

namespace kiln::engine {

namespace {

constexpr size_t npos = ~size_t(0);

#ifndef KILN_INTERP_STATS
#define KILN_INTERP_STATS 0
#endif
/// Whether FuncCode::wasm_counts is kept (builds with the CMake option KILN_INTERP_STATS).
constexpr bool count_wasm = KILN_INTERP_STATS;

struct FusedCmp {
    IOp ss, si, ss_back, si_back;
    Opcode inverse;
};

/// The compare-and-branch forms of an integer comparison, if it has them.
std::optional<FusedCmp> fused_cmp(Opcode op) {
    switch (op) {
#define KILN_INV_Eq Ne
#define KILN_INV_Ne Eq
#define KILN_INV_LtS GeS
#define KILN_INV_GeS LtS
#define KILN_INV_LtU GeU
#define KILN_INV_GeU LtU
#define KILN_INV_GtS LeS
#define KILN_INV_LeS GtS
#define KILN_INV_GtU LeU
#define KILN_INV_LeU GtU
#define KILN_CAT2(a, b) KILN_CAT2_(a, b)
#define KILN_CAT2_(a, b) a##b
#define KILN_FUSED_CASE(P, n)                                                                      \
    case Opcode::P##n:                                                                             \
        return FusedCmp{IOp::BrIf_##P##n##_ss, IOp::BrIf_##P##n##_si, IOp::BrIf_##P##n##_ss_back,  \
                        IOp::BrIf_##P##n##_si_back, Opcode::KILN_CAT2(P, KILN_INV_##n)};
        KILN_INT_CMPS(KILN_FUSED_CASE)
    default: return std::nullopt;
    }
}

bool is_commutative(Opcode op) {
    switch (op) {
    case Opcode::I32Add:
    case Opcode::I32Mul:
    case Opcode::I32And:
    case Opcode::I32Or:
    case Opcode::I32Xor:
    case Opcode::I32Eq:
    case Opcode::I32Ne:
    case Opcode::I64Add:
    case Opcode::I64Mul:
    case Opcode::I64And:
    case Opcode::I64Or:
    case Opcode::I64Xor:
    case Opcode::I64Eq:
    case Opcode::I64Ne: return true;
    default: return false;
    }
}

class Lowering {
public:
    Lowering(const Module& m, const std::vector<uint32_t>& type_ids, uint32_t def_index)
        : m_module(m), m_type_ids(type_ids), m_func(m.functions[def_index]),
          m_type(m.types[m_func.type]), m_handlers(interp_handlers()) {
        // Locals take one slot each, a v128 two.
        const size_t n = m_type.params.size() + m_func.locals.size();
        m_local_slot.reserve(n + 1);
        uint32_t slot = 0;
        for (uint32_t x = 0; x < n; ++x) {
            m_local_slot.push_back(slot);
            slot += width(local_type(x));
        }
        m_local_slot.push_back(slot);
        m_num_locals = slot;
        m_max_slot = slot;
    }

    Result<std::unique_ptr<FuncCode>> run();

private:
    struct Entry {
        /// `sum` is an i32 local plus a constant (`value`, added modulo 2^32): an address that
        /// a load or store folds in, so the add never runs on its own.
        enum class Kind : uint8_t { slot, local, konst, sum } kind = Kind::slot;
        uint32_t local = 0; ///< the local's first slot
        uint64_t value = 0;
        Ref ref = Ref::none; ///< a reference: snapshots translate it (see SuspendSite)
        bool wide = false;   ///< a v128, two slots wide (never a constant)
        uint32_t slot = 0;   ///< its own (first) slot, set by push()
    };
    struct Ctrl {
        Ctrl(Opcode k, uint32_t h, uint32_t np, uint32_t nr)
            : kind(k), height(h), n_params(np), n_results(nr) {}
        Opcode kind;
        uint32_t height;
        uint32_t n_params;
        uint32_t n_results;
        size_t loop_start = npos;
        std::vector<size_t> fixups; ///< target cells to point at the end
        size_t else_fixup = npos;   ///< if: the branch taken when the condition is false
        bool unreachable = false;
        uint32_t instr_start = 0;       ///< loop: instruction count at its head
        std::vector<size_t> fuel_words; ///< loop: back-edge cost words (cell * 2 + half)
        std::vector<Ref> param_refs;    ///< loop: which parameters are references
        std::vector<ValType> param_types, result_types;
    };

    // ---- emission
    size_t begin(IOp op) {
        size_t at = m_code.size();
        note_offset(at);
        Cell c;
        c.handler = m_handlers[size_t(op)];
        m_code.push_back(c);
        m_pending_words = 0;
        if constexpr (count_wasm) {
            m_wasm_counts.resize(at + 1);
            m_wasm_counts[at] = m_unattributed;
            m_unattributed = 0;
        }
        return at;
    }
    /// Drops the code from cell `at` on (an instruction fused into the next one).
    void cut_back(size_t at) {
        if constexpr (count_wasm) {
            for (size_t i = at; i < m_wasm_counts.size(); ++i)
                m_unattributed += m_wasm_counts[i];
            m_wasm_counts.resize(at);
        }
        m_code.resize(at);
    }
    /// Code from `at` on comes from the wasm instruction being lowered. Code cut back (a
    /// comparison fused into the branch after it) takes its entries with it.
    void note_offset(size_t at) {
        while (!m_offsets.empty() && m_offsets.back().cell >= at)
            m_offsets.pop_back();
        if (m_offsets.empty() || m_offsets.back().wasm_offset != m_wasm_offset)
            m_offsets.push_back(CodeOffset{uint32_t(at), m_wasm_offset});
    }
    void word(uint32_t w) {
        if (m_pending_words % 2 == 0) {
            Cell c;
            c.u64 = 0;
            m_code.push_back(c);
        }
        m_code.back().u32[m_pending_words % 2] = w;
        ++m_pending_words;
    }
    void words(std::initializer_list<uint32_t> ws) {
        for (uint32_t w : ws)
            word(w);
    }
    void imm(uint64_t v) {
        Cell c;
        c.u64 = v;
        m_code.push_back(c);
        m_pending_words = 0;
    }
    /// A branch-target cell holding a code index, relocated into a pointer at the end.
    size_t target(size_t dest) {
        m_targets.push_back(m_code.size());
        imm(dest);
        return m_code.size() - 1;
    }
    void bind_here(size_t cell) { m_code[cell].u64 = m_code.size(); }
    /// A branch may land here: forget facts about the preceding instruction.
    void label() {
        m_result_instr = npos;
        m_cmp_instr = npos;
        m_mul_instr = npos;
    }
    void note_result(size_t instr) {
        m_result_instr = instr;
        m_result_end = m_code.size();
        m_result_pos = m_stack.size() - 1;
    }

    // ---- abstract stack
    static uint32_t width(ValType t) { return uint32_t(slot_count(t)); }
    /// The slot of the stack entry at `pos` (at most the stack's height): the operand stack
    /// starts after the locals and each entry takes one slot, a v128 two.
    uint32_t slot_of(size_t pos) const {
        if (pos == 0) return m_num_locals;
        const Entry& below = m_stack[pos - 1];
        return below.slot + (below.wide ? 2 : 1);
    }
    /// The slot of value `k` of the label of `t`, where a branch leaves it.
    uint32_t label_slot(const Ctrl& t, uint32_t k) const {
        const auto& types = t.kind == Opcode::Loop ? t.param_types : t.result_types;
        uint32_t slot = slot_of(t.height);
        for (uint32_t j = 0; j < k; ++j)
            slot += width(types[j]);
        return slot;
    }
    void push(Entry e) {
        e.slot = slot_of(m_stack.size());
        m_stack.push_back(e);
        m_max_slot = std::max(m_max_slot, e.slot + (e.wide ? 2 : 1));
    }
    void push_slot(Ref ref = Ref::none, bool wide = false) {
        push(Entry{Entry::Kind::slot, 0, 0, ref, wide});
    }
    void push_typed(ValType t) { push_slot(ref_of(t), t == ValType::v128); }
    ValType local_type(uint32_t x) const {
        return x < m_type.params.size() ? m_type.params[x]
                                        : m_func.locals[x - m_type.params.size()];
    }
    Entry local_entry(uint32_t x) const {
        const ValType t = local_type(x);
        return Entry{Entry::Kind::local, m_local_slot[x], 0, ref_of(t), t == ValType::v128};
    }
    /// Copies a value of one slot, or of two when `wide`.
    void copy(uint32_t dst, uint32_t src, bool wide) {
        begin(wide ? IOp::Copy128 : IOp::Copy);
        words({dst, src});
    }
    /// The block's parameter and result types.
    std::pair<std::vector<ValType>, std::vector<ValType>> block_types(const BlockType& bt) const {
        switch (bt.kind) {
        case BlockType::Kind::empty: return {};
        case BlockType::Kind::value: return {{}, {bt.value}};
        case BlockType::Kind::index: {
            const FuncType& t = m_module.types[bt.index];
            return {t.params, t.results};
        }
        }
        return {};
    }

    // ---- suspension sites
    /// Records a site at cell `offset` whose live references are the slot entries of the
    /// abstract stack below `height`, plus `extra` slots.
    void site(uint32_t offset, SuspendSite::Kind kind, size_t height, uint32_t base = 0,
              const std::vector<uint32_t>& extra = {}) {
        SuspendSite st{offset, kind, base, uint32_t(m_site_refs.size()), 0};
        for (size_t i = 0; i < height && i < m_stack.size(); ++i)
            if (m_stack[i].ref != Ref::none && m_stack[i].kind == Entry::Kind::slot)
                m_site_refs.push_back(ref_slot(slot_of(i), m_stack[i].ref));
        m_site_refs.insert(m_site_refs.end(), extra.begin(), extra.end());
        st.refs_end = uint32_t(m_site_refs.size());
        m_sites.push_back(st);
    }
    /// A back edge to `loop` charging fuel at cell `offset`: what lives there is what lives at
    /// the loop's head, the values below it and its parameters.
    void loop_site(uint32_t offset, const Ctrl& loop) {
        std::vector<uint32_t> params;
        for (uint32_t k = 0; k < loop.param_refs.size(); ++k)
            if (loop.param_refs[k] != Ref::none)
                params.push_back(ref_slot(label_slot(loop, k), loop.param_refs[k]));
        site(offset, SuspendSite::Kind::charge, loop.height, 0, params);
    }
    /// Computes the sum entry `e` into slot `dst`.
    void emit_sum(uint32_t dst, const Entry& e) {
        begin(IOp::I32Add_si);
        words({dst, e.local});
        imm(e.value);
    }
    /// True when the entry reads the local at `slot`.
    static bool reads_local(const Entry& e, uint32_t slot) {
        return (e.kind == Entry::Kind::local || e.kind == Entry::Kind::sum) && e.local == slot;
    }
    void materialize(size_t pos) {
        Entry& e = m_stack[pos];
        if (e.kind == Entry::Kind::local) {
            copy(slot_of(pos), e.local, e.wide);
        } else if (e.kind == Entry::Kind::konst) {
            begin(IOp::Const);
            words({slot_of(pos), 0});
            imm(e.value);
        } else if (e.kind == Entry::Kind::sum) {
            emit_sum(slot_of(pos), e);
        }
        e.kind = Entry::Kind::slot;
    }
    void materialize_all() {
        for (size_t i = 0; i < m_stack.size(); ++i)
            materialize(i);
    }
    /// Materializes the entries that refer to the local at `slot`.
    void materialize_local(uint32_t slot) {
        for (size_t i = 0; i < m_stack.size(); ++i)
            if (reads_local(m_stack[i], slot)) materialize(i);
    }
    /// The slot to read the entry at `pos` from (constants are first put in their slot).
    uint32_t use(size_t pos) {
        Entry& e = m_stack[pos];
        if (e.kind == Entry::Kind::local) return e.local;
        if (e.kind != Entry::Kind::slot) materialize(pos);
        return slot_of(pos);
    }
    uint32_t use_top(size_t depth) { return use(m_stack.size() - 1 - depth); }
    void pop(size_t n) { m_stack.resize(m_stack.size() - n); }
    /// Pops the operands, pushes a slot for the result and returns its index.
    uint32_t result_after_pop(size_t n, Ref ref = Ref::none, bool wide = false) {
        pop(n);
        push_slot(ref, wide);
        return m_stack.back().slot;
    }

    // ---- control
    std::pair<uint32_t, uint32_t> block_arity(const BlockType& bt) const {
        switch (bt.kind) {
        case BlockType::Kind::empty: return {0, 0};
        case BlockType::Kind::value: return {0, 1};
        case BlockType::Kind::index: {
            const FuncType& t = m_module.types[bt.index];
            return {uint32_t(t.params.size()), uint32_t(t.results.size())};
        }
        }
        return {0, 0};
    }
    uint32_t label_arity(const Ctrl& c) const {
        return c.kind == Opcode::Loop ? c.n_params : c.n_results;
    }
    bool is_function_label(const Ctrl& c) const { return &c == &m_ctrls.front(); }
    bool needs_copies(const Ctrl& t) const {
        if (is_function_label(t)) return true;
        uint32_t arity = label_arity(t);
        size_t first = m_stack.size() - arity;
        for (uint32_t k = 0; k < arity; ++k) {
            const Entry& e = m_stack[first + k];
            if (e.kind != Entry::Kind::slot || first + k != t.height + k) return true;
        }
        return false;
    }
    /// Moves the label's values from the top of the stack to where the label expects them.
    void branch_copies(const Ctrl& t) {
        uint32_t arity = label_arity(t);
        size_t first = m_stack.size() - arity;
        for (uint32_t k = 0; k < arity; ++k) {
            const Entry& e = m_stack[first + k];
            uint32_t dst = label_slot(t, k);
            if (e.kind == Entry::Kind::slot) {
                if (e.slot != dst) copy(dst, e.slot, e.wide);
            } else if (e.kind == Entry::Kind::local) {
                copy(dst, e.local, e.wide);
            } else if (e.kind == Entry::Kind::sum) {
                emit_sum(dst, e);
            } else {
                begin(IOp::Const);
                words({dst, 0});
                imm(e.value);
            }
        }
    }
    /// Unconditional jump to a label, after moving its values.
    void jump_to(Ctrl& t) {
        if (is_function_label(t)) return emit_return();
        branch_copies(t);
        if (t.kind == Opcode::Loop) {
            loop_site(uint32_t(m_code.size()), t);
            begin(IOp::BrBack);
            target(t.loop_start);
            imm(0);
            t.fuel_words.push_back((m_code.size() - 1) * 2);
            return;
        }
        begin(IOp::Br);
        t.fixups.push_back(target(0));
    }
    /// Results go to slots 0..r of the frame, where the caller finds them. Leaves the abstract
    /// stack as it is: other paths (br_if fallthrough, other br_table stubs) still use it.
    void emit_return() {
        uint32_t r = uint32_t(m_type.results.size());
        size_t first = m_stack.size() - r;
        const auto result_slots = uint32_t(slot_count(m_type.results));
        std::vector<uint32_t> src(r);
        std::vector<bool> computed(r);
        for (uint32_t k = 0; k < r; ++k) {
            const Entry& e = m_stack[first + k];
            src[k] = e.kind == Entry::Kind::local ? e.local : e.slot;
            // A local that is also a destination must be read before it is overwritten (into
            // the entry's own slot, which no other path reads while the entry is not a slot).
            if (e.kind == Entry::Kind::local && e.local < result_slots) {
                copy(e.slot, e.local, e.wide);
                src[k] = e.slot;
            } else if (e.kind == Entry::Kind::sum && e.local < result_slots) {
                emit_sum(e.slot, e);
                computed[k] = true;
            }
        }
        for (uint32_t k = 0, dst = 0; k < r; dst += m_stack[first + k].wide ? 2 : 1, ++k) {
            const Entry& e = m_stack[first + k];
            if (e.kind == Entry::Kind::sum && !computed[k]) {
                emit_sum(dst, e);
            } else if (e.kind == Entry::Kind::konst) {
                begin(IOp::Const);
                words({dst, 0});
                imm(e.value);
            } else if (src[k] != dst) {
                copy(dst, src[k], e.wide);
            }
        }
        begin(IOp::Return);
    }
    /// Pops a condition and emits a branch taken when (condition != 0) == when_true. A branch
    /// back to `loop` charges the loop's fuel and targets its head; otherwise the returned target
    /// cell is for the caller to patch (npos when the condition is a constant that never
    /// branches).
    size_t cond_branch(bool when_true, Ctrl* loop = nullptr) {
        size_t pos = m_stack.size() - 1;
        if (m_stack[pos].kind == Entry::Kind::sum) materialize(pos);
        Entry c = m_stack[pos];
        bool fresh = c.kind == Entry::Kind::slot && m_cmp_instr != npos &&
                     m_cmp_end == m_code.size() && m_cmp_pos == pos;
        pop(1);
        size_t cell;
        if (fresh && m_cmp_is_eqz) {
            cut_back(m_cmp_instr);
            label();
            IOp op = when_true ? (m_cmp_64 ? IOp::BrIfZ64 : IOp::BrIfZ)
                               : (m_cmp_64 ? IOp::BrIfNz64 : IOp::BrIfNz);
            return simple_cond_branch(op, m_cmp_a, loop);
        }
        if (fresh) {
            auto f = fused_cmp(m_cmp_op);
            if (!when_true) f = fused_cmp(f->inverse);
            cut_back(m_cmp_instr);
            label();
            if (loop) loop_site(uint32_t(m_code.size()), *loop);
            if (m_cmp_has_imm) {
                begin(loop ? f->si_back : f->si);
                words({m_cmp_a, 0});
                if (loop) loop->fuel_words.push_back((m_code.size() - 1) * 2 + 1);
                imm(m_cmp_b);
                cell = target(0);
            } else {
                begin(loop ? f->ss_back : f->ss);
                words({m_cmp_a, m_cmp_b32});
                cell = target(0);
                if (loop) {
                    imm(0);
                    loop->fuel_words.push_back((m_code.size() - 1) * 2);
                }
            }
            if (loop) m_code[cell].u64 = loop->loop_start;
            return cell;
        }
        if (c.kind == Entry::Kind::konst) {
            if ((c.value != 0) != when_true) return npos;
            if (loop) {
                jump_to(*loop);
                return npos;
            }
            begin(IOp::Br);
            return target(0);
        }
        uint32_t s = c.kind == Entry::Kind::local ? c.local : c.slot;
        return simple_cond_branch(when_true ? IOp::BrIfNz : IOp::BrIfZ, s, loop);
    }
    /// Branch on one slot; the backward forms keep the fuel cost in the spare operand word.
    size_t simple_cond_branch(IOp op, uint32_t slot, Ctrl* loop) {
        if (loop) {
            switch (op) {
            case IOp::BrIfNz: op = IOp::BrIfNzBack; break;
            case IOp::BrIfZ: op = IOp::BrIfZBack; break;
            case IOp::BrIfNz64: op = IOp::BrIfNz64Back; break;
            default: op = IOp::BrIfZ64Back; break;
            }
            loop_site(uint32_t(m_code.size()), *loop);
        }
        begin(op);
        words({slot, 0});
        if (loop) loop->fuel_words.push_back((m_code.size() - 1) * 2 + 1);
        size_t cell = target(0);
        if (loop) m_code[cell].u64 = loop->loop_start;
        return cell;
    }

    // ---- instructions
    void unary(Opcode wasm_op, IOp op) {
        uint32_t a = use_top(0);
        uint32_t d = result_after_pop(1);
        size_t at = begin(op);
        words({d, a});
        note_result(at);
        if (wasm_op == Opcode::I32Eqz || wasm_op == Opcode::I64Eqz) {
            m_cmp_instr = at;
            m_cmp_end = m_code.size();
            m_cmp_pos = m_stack.size() - 1;
            m_cmp_is_eqz = true;
            m_cmp_64 = wasm_op == Opcode::I64Eqz;
            m_cmp_a = a;
        }
    }
    void binary(Opcode wasm_op, IOp ss, std::optional<IOp> si) {
        size_t n = m_stack.size();
        // A constant first operand of a commutative operation becomes the immediate.
        bool swap = si && m_stack[n - 2].kind == Entry::Kind::konst &&
                    m_stack[n - 1].kind != Entry::Kind::konst && is_commutative(wasm_op);
        size_t at;
        uint32_t a, b = 0;
        uint64_t bimm = 0;
        bool has_imm = si && (swap || m_stack[n - 1].kind == Entry::Kind::konst);
        if (has_imm && (wasm_op == Opcode::I32Add || wasm_op == Opcode::I32Sub)) {
            const Entry& x = m_stack[swap ? n - 1 : n - 2];
            if (x.kind == Entry::Kind::local || x.kind == Entry::Kind::sum) {
                // Left for a load or store to fold in (or computed where it is used).
                auto k = uint32_t(m_stack[swap ? n - 2 : n - 1].value);
                if (wasm_op == Opcode::I32Sub) k = 0u - k;
                Entry sum{Entry::Kind::sum, x.local, uint32_t(x.value + k)}; // a local's value is 0
                pop(2);
                push(sum);
                return;
            }
        }
        if (fuse_multiply_add(wasm_op)) return;
        if (has_imm) {
            bimm = m_stack[swap ? n - 2 : n - 1].value;
            a = use(swap ? n - 1 : n - 2);
            uint32_t d = result_after_pop(2);
            at = begin(*si);
            words({d, a});
            imm(bimm);
        } else {
            a = use(n - 2);
            b = use(n - 1);
            uint32_t d = result_after_pop(2);
            at = begin(ss);
            words({d, a, b});
        }
        note_result(at);
        if (wasm_op == Opcode::F32Mul || wasm_op == Opcode::F64Mul) {
            m_mul_instr = at;
            m_mul_end = m_code.size();
            m_mul_pos = m_stack.size() - 1;
            m_mul_a = a;
            m_mul_b = b;
        }
        if (fused_cmp(wasm_op)) {
            m_cmp_instr = at;
            m_cmp_end = m_code.size();
            m_cmp_pos = m_stack.size() - 1;
            m_cmp_is_eqz = false;
            m_cmp_op = wasm_op;
            m_cmp_a = a;
            m_cmp_b32 = b;
            m_cmp_b = bimm;
            m_cmp_has_imm = has_imm;
        }
    }
    /// A float add or subtract of the product the previous instruction made, as one instruction
    /// that rounds the product and then the sum (no fused multiply-add, whose single rounding
    /// wasm does not have); operands keep their order, so NaN results are the same too.
    bool fuse_multiply_add(Opcode op) {
        const bool is32 = op == Opcode::F32Add || op == Opcode::F32Sub;
        if (!is32 && op != Opcode::F64Add && op != Opcode::F64Sub) return false;
        const size_t n = m_stack.size();
        auto fresh = [&](size_t pos) {
            return m_mul_instr != npos && m_mul_end == m_code.size() && m_mul_pos == pos &&
                   m_stack[pos].kind == Entry::Kind::slot && m_code.size() - m_mul_instr == 3 &&
                   (m_code[m_mul_instr].handler ==
                    m_handlers[size_t(is32 ? IOp::F32Mul_ss : IOp::F64Mul_ss)]);
        };
        const bool add = op == Opcode::F32Add || op == Opcode::F64Add;
        IOp fused;
        uint32_t z;
        bool product_first = false;
        if (fresh(n - 1)) {
            // z + x * y, z - x * y: z was there before the product (a constant is put in its
            // slot, which is neither factor's).
            cut_back(m_mul_instr);
            z = use(n - 2);
            fused = add ? (is32 ? IOp::F32MulAdd : IOp::F64MulAdd)
                        : (is32 ? IOp::F32MulSub : IOp::F64MulSub);
        } else if (add && fresh(n - 2) && m_stack[n - 1].kind == Entry::Kind::local) {
            // x * y + z with z a local (a constant would go to the second factor's slot).
            cut_back(m_mul_instr);
            z = m_stack[n - 1].local;
            fused = is32 ? IOp::F32MulAddP : IOp::F64MulAddP;
            product_first = true;
        } else {
            return false;
        }
        const uint32_t x = m_mul_a, y = m_mul_b;
        m_mul_instr = npos;
        uint32_t d = result_after_pop(2);
        size_t at = begin(fused);
        if (product_first)
            words({d, x, y, z});
        else
            words({d, z, x, y});
        note_result(at);
        return true;
    }
    /// A SIMD instruction: pops `n` operands and pushes a result (of two slots when `wide`) if
    /// it has one; its words are the destination, the operands from the deepest, then `extra`.
    size_t simd(IOp op, size_t n, bool has_result, bool wide,
                std::initializer_list<uint32_t> extra) {
        uint32_t operands[3];
        for (size_t i = 0; i < n; ++i)
            operands[i] = use_top(n - 1 - i);
        uint32_t d = 0;
        if (has_result)
            d = result_after_pop(n, Ref::none, wide);
        else
            pop(n);
        size_t at = begin(op);
        if (has_result) word(d);
        for (size_t i = 0; i < n; ++i)
            word(operands[i]);
        for (uint32_t w : extra)
            word(w);
        if (has_result) note_result(at);
        return at;
    }
    /// A load: words destination, address, offset; the `_a` form folds in the constant of an
    /// address that is a sum entry (its local, then the constant as a fourth word).
    void load(IOp op, IOp op_a, uint32_t offset, bool wide) {
        const Entry addr = m_stack.back();
        if (addr.kind == Entry::Kind::sum) {
            uint32_t d = result_after_pop(1, Ref::none, wide);
            size_t at = begin(op_a);
            words({d, addr.local, offset, uint32_t(addr.value)});
            note_result(at);
            return;
        }
        uint32_t a = use_top(0);
        uint32_t d = result_after_pop(1, Ref::none, wide);
        size_t at = begin(op);
        words({d, a, offset});
        note_result(at);
    }
    /// A store: words address, value, offset, and for the `_a` form the sum's constant.
    void store(IOp op, IOp op_a, uint32_t offset) {
        uint32_t v = use_top(0);
        const Entry addr = m_stack[m_stack.size() - 2];
        if (addr.kind == Entry::Kind::sum) {
            pop(2);
            begin(op_a);
            words({addr.local, v, offset, uint32_t(addr.value)});
            return;
        }
        uint32_t a = use_top(1);
        pop(2);
        begin(op);
        words({a, v, offset});
    }
    void set_local(uint32_t x, bool tee) {
        size_t pos = m_stack.size() - 1;
        Entry e = m_stack[pos];
        const uint32_t xs = m_local_slot[x];
        bool others = false;
        for (size_t i = 0; i < pos; ++i)
            if (reads_local(m_stack[i], xs)) others = true;
        if (e.kind == Entry::Kind::sum) {
            // The add writes the local directly, after the entries below read its old value.
            for (size_t i = 0; i < pos; ++i)
                if (reads_local(m_stack[i], xs)) materialize(i);
            emit_sum(xs, e);
        } else if (!others && e.kind == Entry::Kind::slot && m_result_instr != npos &&
                   m_result_end == m_code.size() && m_result_pos == pos) {
            // Retarget the producing instruction (its destination is its first operand).
            m_code[m_result_instr + 1].u32[0] = xs;
            m_result_instr = npos;
            m_cmp_instr = npos;
            m_mul_instr = npos;
        } else {
            materialize_local(xs);
            if (e.kind == Entry::Kind::konst) {
                begin(IOp::Const);
                words({xs, 0});
                imm(e.value);
            } else {
                uint32_t src = e.kind == Entry::Kind::local ? e.local : e.slot;
                if (src != xs) copy(xs, src, e.wide);
            }
        }
        pop(1);
        if (tee) push(local_entry(x));
    }
    void enter_block(Opcode kind, const BlockType& bt) {
        auto [np, nr] = block_arity(bt);
        materialize_all();
        Ctrl c{kind, uint32_t(m_stack.size() - np), np, nr};
        std::tie(c.param_types, c.result_types) = block_types(bt);
        if (kind == Opcode::Loop) {
            for (ValType t : c.param_types)
                c.param_refs.push_back(ref_of(t));
            label();
            c.loop_start = m_code.size();
            c.instr_start = m_instr_count;
            ++m_loop_depth;
        }
        m_ctrls.push_back(std::move(c));
    }
    void end_block() {
        Ctrl c = std::move(m_ctrls.back());
        m_ctrls.pop_back();
        if (c.kind == Opcode::Loop) patch_loop_fuel(c);
        if (!c.unreachable)
            for (uint32_t k = 0; k < c.n_results; ++k)
                materialize(c.height + k);
        if (m_ctrls.empty()) {
            // The function's own block: its end returns.
            if (!c.unreachable) emit_return();
            return;
        }
        label();
        if (c.else_fixup != npos) bind_here(c.else_fixup);
        for (size_t cell : c.fixups)
            bind_here(cell);
        m_stack.resize(c.height);
        for (ValType t : c.result_types)
            push_typed(t);
    }
    /// At a loop's end its size is known: every back edge charges it as fuel.
    void patch_loop_fuel(const Ctrl& c) {
        uint32_t cost = std::max<uint32_t>(m_instr_count - c.instr_start, 1);
        for (size_t w : c.fuel_words)
            m_code[w / 2].u32[w % 2] = cost;
        if (--m_loop_depth == 0) m_instrs_in_loops += cost;
    }
    Result<void> skip_unreachable(InstrReader& r);
    Result<void> lower_instr(const Instr& in, InstrReader& r);

    const Module& m_module;
    const std::vector<uint32_t>& m_type_ids;
    const Function& m_func;
    const FuncType& m_type;
    const void* const* m_handlers;
    std::vector<uint32_t> m_local_slot; ///< first slot of each local; then the locals' slots
    uint32_t m_num_locals = 0;          ///< slots of the locals, parameters included
    uint32_t m_max_slot = 0;            ///< one past the highest slot the operand stack used
    std::vector<Cell> m_code;
    std::vector<CodeOffset> m_offsets;
    uint32_t m_wasm_offset = m_func.code_offset; ///< of the instruction being lowered
    std::vector<uint32_t> m_wasm_counts;         ///< with count_wasm: FuncCode::wasm_counts so far
    uint32_t m_unattributed = 0;                 ///< instructions lowered since the last begin()
    std::vector<size_t> m_targets;
    unsigned m_pending_words = 0;
    uint32_t m_instr_count = 0;     ///< instructions lowered so far
    uint32_t m_instrs_in_loops = 0; ///< of which inside loops (charged by back edges)
    uint32_t m_loop_depth = 0;      ///< loops open at the current instruction
    std::vector<Entry> m_stack;
    std::vector<Ctrl> m_ctrls;
    std::vector<SuspendSite> m_sites;
    std::vector<uint32_t> m_site_refs;
    // The last instruction that produced the top of the stack, for retargeting.
    size_t m_result_instr = npos, m_result_end = 0, m_result_pos = 0;
    // The last float multiply, for fusing with an add or subtract.
    size_t m_mul_instr = npos, m_mul_end = 0, m_mul_pos = 0;
    uint32_t m_mul_a = 0, m_mul_b = 0;
    // The last comparison, for fusing with a branch.
    size_t m_cmp_instr = npos, m_cmp_end = 0, m_cmp_pos = 0;
    bool m_cmp_is_eqz = false, m_cmp_64 = false, m_cmp_has_imm = false;
    Opcode m_cmp_op = Opcode::Nop;
    uint32_t m_cmp_a = 0, m_cmp_b32 = 0;
    uint64_t m_cmp_b = 0;
};

Result<void> Lowering::skip_unreachable(InstrReader& r) {
    // Code after br/return/unreachable up to the enclosing else/end is never executed.
    m_ctrls.back().unreachable = true;
    int depth = 0;
    while (!r.at_end()) {
        KILN_TRY(in, r.next());
        switch (in.op) {
        case Opcode::Block:
        case Opcode::Loop:
        case Opcode::If: ++depth; break;
        case Opcode::Else:
            if (depth == 0) return lower_instr(in, r);
            break;
        case Opcode::End:
            if (depth == 0) return lower_instr(in, r);
            --depth;
            break;
        default: break;
        }
    }
    return {};
}

Result<void> Lowering::lower_instr(const Instr& in, InstrReader& r) {
    using K = Entry::Kind;
    m_wasm_offset = in.offset;
    if constexpr (count_wasm) ++m_unattributed;
    switch (in.op) {
    case Opcode::Nop: break;
    case Opcode::Unreachable: begin(IOp::Unreachable); return skip_unreachable(r);
    case Opcode::Block:
    case Opcode::Loop: enter_block(in.op, in.block); break;
    case Opcode::If: {
        // The condition is set aside while the block's parameters are materialized.
        Entry cond = m_stack.back();
        pop(1);
        materialize_all();
        push(cond);
        size_t else_cell = cond_branch(false);
        auto [np, nr] = block_arity(in.block);
        Ctrl c{Opcode::If, uint32_t(m_stack.size() - np), np, nr};
        std::tie(c.param_types, c.result_types) = block_types(in.block);
        c.else_fixup = else_cell;
        m_ctrls.push_back(std::move(c));
        break;
    }
    case Opcode::Else: {
        Ctrl& c = m_ctrls.back();
        if (!c.unreachable) {
            for (uint32_t k = 0; k < c.n_results; ++k)
                materialize(c.height + k);
            begin(IOp::Br);
            c.fixups.push_back(target(0));
        }
        label();
        if (c.else_fixup != npos) bind_here(c.else_fixup);
        c.else_fixup = npos;
        c.kind = Opcode::Else;
        c.unreachable = false;
        m_stack.resize(c.height);
        for (ValType t : c.param_types)
            push_typed(t);
        break;
    }
    case Opcode::End: end_block(); break;
    case Opcode::Br: jump_to(m_ctrls[m_ctrls.size() - 1 - in.a]); return skip_unreachable(r);
    case Opcode::BrIf: {
        Ctrl& t = m_ctrls[m_ctrls.size() - 1 - in.a];
        // Decide on copies with the condition set aside.
        Entry cond = m_stack.back();
        pop(1);
        bool copies = needs_copies(t);
        push(cond);
        if (!copies) {
            size_t cell = cond_branch(true, t.kind == Opcode::Loop ? &t : nullptr);
            if (cell != npos && t.kind != Opcode::Loop) t.fixups.push_back(cell);
        } else {
            size_t skip = cond_branch(false);
            jump_to(t);
            label();
            if (skip != npos) bind_here(skip);
        }
        break;
    }
    case Opcode::BrTable: {
        std::vector<uint32_t> depths = r.br_targets();
        uint32_t idx = use_top(0);
        pop(1);
        begin(IOp::BrTable);
        words({idx, uint32_t(depths.size() - 1)});
        std::vector<std::pair<size_t, uint32_t>> stubs;
        for (uint32_t d : depths) {
            Ctrl& t = m_ctrls[m_ctrls.size() - 1 - d];
            size_t cell = target(0);
            // Loop targets go through a stub too, which charges the loop's fuel.
            if (needs_copies(t) || t.kind == Opcode::Loop)
                stubs.push_back({cell, d});
            else
                t.fixups.push_back(cell);
        }
        for (auto [cell, d] : stubs) {
            label();
            bind_here(cell);
            jump_to(m_ctrls[m_ctrls.size() - 1 - d]);
        }
        return skip_unreachable(r);
    }
    case Opcode::Return: emit_return(); return skip_unreachable(r);
    case Opcode::Call:
    case Opcode::CallIndirect:
    case Opcode::ReturnCall:
    case Opcode::ReturnCallIndirect: {
        const bool direct = in.op == Opcode::Call || in.op == Opcode::ReturnCall;
        const bool tail = in.op == Opcode::ReturnCall || in.op == Opcode::ReturnCallIndirect;
        const FuncType& ft = direct ? m_module.func_type(in.a) : m_module.types[in.a];
        uint32_t index_slot = 0;
        if (!direct) {
            index_slot = use_top(0);
            pop(1);
        }
        size_t n = ft.params.size();
        for (size_t i = m_stack.size() - n; i < m_stack.size(); ++i)
            materialize(i);
        uint32_t base = slot_of(m_stack.size() - n);
        pop(n);
        if (direct) {
            begin(tail ? IOp::ReturnCall : IOp::Call);
            words({in.a, base});
        } else {
            begin(tail ? IOp::ReturnCallIndirect : IOp::CallIndirect);
            words({m_type_ids[in.a], in.b, base, index_slot});
        }
        // The return point: a suspended caller waits here with the values below the arguments.
        // A tail call returns here only from a host function, which cannot take over the frame.
        site(uint32_t(m_code.size()), SuspendSite::Kind::call, m_stack.size(), base);
        for (ValType t : ft.results)
            push_typed(t);
        label(); // results of calls are never retargeted
        if (tail) {
            emit_return();
            return skip_unreachable(r);
        }
        break;
    }
    case Opcode::Drop: pop(1); break;
    case Opcode::Select:
    case Opcode::SelectT: {
        const Entry& v = m_stack[m_stack.size() - 2];
        Ref ref = v.ref;
        bool wide = v.wide;
        uint32_t c = use_top(0), b = use_top(1), a = use_top(2);
        uint32_t d = result_after_pop(3, ref, wide);
        size_t at = begin(wide ? IOp::Select128 : IOp::Select);
        words({d, a, b, c});
        note_result(at);
        break;
    }
    case Opcode::LocalGet: push(local_entry(in.a)); break;
    case Opcode::LocalSet: set_local(in.a, false); break;
    case Opcode::LocalTee: set_local(in.a, true); break;
    case Opcode::GlobalGet: {
        const ValType t = m_module.globals[in.a].type;
        uint32_t d = result_after_pop(0, ref_of(t), t == ValType::v128);
        size_t at = begin(t == ValType::v128 ? IOp::GlobalGet128 : IOp::GlobalGet);
        words({d, in.a});
        note_result(at);
        break;
    }
    case Opcode::GlobalSet: {
        bool wide = m_stack.back().wide;
        uint32_t s = use_top(0);
        pop(1);
        begin(wide ? IOp::GlobalSet128 : IOp::GlobalSet);
        words({in.a, s});
        break;
    }
    case Opcode::TableGet: {
        uint32_t i = use_top(0);
        uint32_t d = result_after_pop(1, ref_of(m_module.tables[in.a].elem));
        size_t at = begin(IOp::TableGet);
        words({d, in.a, i});
        note_result(at);
        break;
    }
    case Opcode::TableSet: {
        uint32_t v = use_top(0), i = use_top(1);
        pop(2);
        begin(IOp::TableSet);
        words({in.a, i, v});
        break;
    }
    case Opcode::MemorySize: {
        uint32_t d = result_after_pop(0);
        size_t at = begin(IOp::MemorySize);
        words({d, 0});
        note_result(at);
        break;
    }
    case Opcode::MemoryGrow: {
        uint32_t delta = use_top(0);
        uint32_t d = result_after_pop(1);
        size_t at = begin(IOp::MemoryGrow);
        words({d, delta});
        note_result(at);
        break;
    }
    case Opcode::I32Const:
    case Opcode::I64Const:
    case Opcode::F32Const:
    case Opcode::F64Const: push(Entry{K::konst, 0, in.imm}); break;
    case Opcode::RefNull: push(Entry{K::konst, 0, 0, ref_of(in.type)}); break;
    case Opcode::RefIsNull: unary(Opcode::RefIsNull, IOp::I64Eqz); break;
    case Opcode::RefFunc: {
        uint32_t d = result_after_pop(0, Ref::func);
        size_t at = begin(IOp::RefFunc);
        words({d, in.a});
        note_result(at);
        break;
    }
    case Opcode::MemoryInit:
    case Opcode::MemoryCopy:
    case Opcode::MemoryFill:
    case Opcode::TableInit:
    case Opcode::TableCopy:
    case Opcode::TableFill: {
        uint32_t z = use_top(0), y = use_top(1), x = use_top(2);
        pop(3);
        switch (in.op) {
        case Opcode::MemoryInit:
            begin(IOp::MemoryInit);
            words({in.a, x, y, z});
            break;
        case Opcode::MemoryCopy:
            begin(IOp::MemoryCopy);
            words({x, y, z});
            break;
        case Opcode::MemoryFill:
            begin(IOp::MemoryFill);
            words({x, y, z});
            break;
        case Opcode::TableInit:
            begin(IOp::TableInit);
            words({in.a, in.b, x, y, z});
            break;
        case Opcode::TableCopy:
            begin(IOp::TableCopy);
            words({in.a, in.b, x, y, z});
            break;
        default:
            begin(IOp::TableFill);
            words({in.a, x, y, z});
            break;
        }
        break;
    }
    case Opcode::DataDrop:
        begin(IOp::DataDrop);
        words({in.a, 0});
        break;
    case Opcode::ElemDrop:
        begin(IOp::ElemDrop);
        words({in.a, 0});
        break;
    case Opcode::TableSize: {
        uint32_t d = result_after_pop(0);
        size_t at = begin(IOp::TableSize);
        words({d, in.a});
        note_result(at);
        break;
    }
    case Opcode::TableGrow: {
        uint32_t delta = use_top(0), init = use_top(1);
        uint32_t d = result_after_pop(2);
        size_t at = begin(IOp::TableGrow);
        words({d, in.a, init, delta});
        note_result(at);
        break;
    }
    // Plain numeric instructions and memory accesses, from opcodes.def.
#define KILN_LOWER_UN(n, a, r)                                                                     \
    case Opcode::n:                                                                                \
        unary(Opcode::n, IOp::n);                                                                  \
        break;
#define KILN_LOWER_SI_i32(n) IOp::n##_si
#define KILN_LOWER_SI_i64(n) IOp::n##_si
#define KILN_LOWER_SI_f32(n) std::nullopt
#define KILN_LOWER_SI_f64(n) std::nullopt
#define KILN_LOWER_BIN(n, a, r)                                                                    \
    case Opcode::n:                                                                                \
        binary(Opcode::n, IOp::n##_ss, KILN_LOWER_SI_##a(n));                                      \
        break;
#define KILN_LOWER_LOAD(n, a, r)                                                                   \
    case Opcode::n:                                                                                \
        load(IOp::n, IOp::n##_a, uint32_t(in.imm), false);                                         \
        break;
#define KILN_LOWER_STORE(n, a, r)                                                                  \
    case Opcode::n:                                                                                \
        store(IOp::n, IOp::n##_a, uint32_t(in.imm));                                               \
        break;
#define KILN_OP(name, code, text, imm, a, b, r)                                                    \
    KILN_CAT(name, imm, a, b, r, KILN_LOWER_UN, KILN_LOWER_BIN, KILN_LOWER_LOAD, KILN_LOWER_STORE)
    // SIMD instructions: the destination (if any), the operands from the deepest, then the
    // memory offset and lane index they have.
#define KILN_VRES_v128 true, true
#define KILN_VRES_i32 true, false
#define KILN_VRES_i64 true, false
#define KILN_VRES_f32 true, false
#define KILN_VRES_f64 true, false
#define KILN_VRES_none false, false
#define KILN_LOWER_V(n, count, r, ...)                                                             \
    case Opcode::n:                                                                                \
        simd(IOp::n, count, KILN_VRES_##r, {__VA_ARGS__});                                         \
        break;
#define KILN_LOWER_VUN(n, a, r) KILN_LOWER_V(n, 1, r)
#define KILN_LOWER_VBIN(n, a, r) KILN_LOWER_V(n, 2, r)
#define KILN_LOWER_VEXTRACT(n, a, r) KILN_LOWER_V(n, 1, r, in.b)
#define KILN_LOWER_VREPLACE(n, a, r) KILN_LOWER_V(n, 2, r, in.b)
#define KILN_LOWER_VLOAD(n, a, r)                                                                  \
    case Opcode::n:                                                                                \
        load(IOp::n, IOp::n##_a, uint32_t(in.imm), true);                                          \
        break;
#define KILN_LOWER_VSTORE(n, a, r)                                                                 \
    case Opcode::n:                                                                                \
        store(IOp::n, IOp::n##_a, uint32_t(in.imm));                                               \
        break;
#define KILN_LOWER_VMEMLANE(n, a, r) KILN_LOWER_V(n, 2, r, uint32_t(in.imm), in.b)
#define KILN_OP_FD(name, code, text, imm, a, b, r)                                                 \
    KILN_VCAT(name, imm, a, b, r, KILN_LOWER_VUN, KILN_LOWER_VBIN, KILN_LOWER_VEXTRACT,            \
              KILN_LOWER_VREPLACE, KILN_LOWER_VLOAD, KILN_LOWER_VSTORE, KILN_LOWER_VMEMLANE)
#include "engine/binary/opcodes.def"
    case Opcode::V128Const: {
        uint32_t d = result_after_pop(0, Ref::none, true);
        size_t at = begin(IOp::V128Const);
        words({d, 0});
        imm(in.imm);
        imm(in.imm_hi);
        note_result(at);
        break;
    }
    case Opcode::I8x16Shuffle: {
        // The widest unit (8, 4, 2 or 1 bytes) whose every lane group is one aligned unit; its
        // unit indices go in the two cells after the operands.
        uint8_t lanes[16], units[16] = {};
        for (int i = 0; i < 16; ++i)
            lanes[i] = uint8_t((i < 8 ? in.imm : in.imm_hi) >> (i % 8 * 8)) & 31;
        unsigned size = 8;
        for (; size > 1; size /= 2) {
            bool whole = true;
            for (unsigned i = 0; i < 16 && whole; ++i)
                whole =
                    lanes[i] == lanes[i - i % size] + i % size && lanes[i - i % size] % size == 0;
            if (whole) break;
        }
        for (unsigned j = 0; j < 16 / size; ++j)
            units[j] = uint8_t(lanes[j * size] / size);
        const IOp op = size == 8   ? IOp::Shuffle64
                       : size == 4 ? IOp::Shuffle32
                       : size == 2 ? IOp::Shuffle16
                                   : IOp::I8x16Shuffle;
        size_t at = simd(op, 2, true, true, {});
        uint64_t cells[2];
        std::memcpy(cells, units, 16);
        imm(cells[0]);
        imm(cells[1]);
        note_result(at);
        break;
    }
    case Opcode::V128Bitselect: simd(IOp::V128Bitselect, 3, true, true, {}); break;
    default: break;
    }
    return {};
}

Result<std::unique_ptr<FuncCode>> Lowering::run() {
    InstrReader r(Reader(m_module.code(m_func), m_func.code_offset));
    m_ctrls.emplace_back(Opcode::Block, 0, 0, uint32_t(m_type.results.size()));
    // Entering the function charges the instructions outside its loops.
    begin(IOp::Fuel);
    word(0);
    site(0, SuspendSite::Kind::charge, 0);
    while (!r.at_end() && !m_ctrls.empty()) {
        KILN_TRY(in, r.next());
        ++m_instr_count;
        KILN_CHECK(lower_instr(in, r));
    }
    m_code[1].u32[0] = std::max<uint32_t>(m_instr_count - m_instrs_in_loops, 1);
    auto fc = std::make_unique<FuncCode>();
    if constexpr (count_wasm) {
        m_wasm_counts.resize(m_code.size());
        fc->wasm_counts = std::move(m_wasm_counts);
    }
    fc->code = std::move(m_code);
    fc->offsets = std::move(m_offsets);
    for (size_t cell : m_targets)
        fc->code[cell].target = fc->code.data() + fc->code[cell].u64;
    fc->num_params = m_local_slot[m_type.params.size()];
    fc->num_locals = m_num_locals;
    fc->num_results = uint32_t(slot_count(m_type.results));
    // The results land in the first slots: a frame always has room for them (and the params).
    fc->frame_size = std::max<uint32_t>(m_max_slot, fc->num_results);
    fc->sites = std::move(m_sites);
    fc->site_refs = std::move(m_site_refs);
    for (uint32_t x = 0; x + 1 < m_local_slot.size(); ++x)
        if (Ref r = ref_of(local_type(x)); r != Ref::none)
            fc->ref_locals.push_back(ref_slot(m_local_slot[x], r));
    return fc;
}

} // namespace

const SuspendSite* FuncCode::site_at(uint32_t offset, SuspendSite::Kind kind) const {
    auto it = std::lower_bound(sites.begin(), sites.end(), offset,
                               [](const SuspendSite& s, uint32_t o) { return s.offset < o; });
    for (; it != sites.end() && it->offset == offset; ++it)
        if (it->kind == kind) return &*it;
    return nullptr;
}

Result<std::unique_ptr<FuncCode>>
lower_function(const Module& module, const std::vector<uint32_t>& type_ids, uint32_t def_index) {
    return Lowering(module, type_ids, def_index).run();
}

} // namespace kiln::engine
