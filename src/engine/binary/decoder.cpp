#include "engine/binary/decoder.hpp"

#include "engine/binary/instr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::engine {
namespace {

// Engine limit on one function's declared locals, as in V8 and wasmparser: the spec allows
// 2^32 - 1, which no real function needs and which would let a few bytes claim gigabytes.
constexpr uint64_t max_function_locals = 50000;

// Function::locals stores locals expanded (a byte each), so a module-wide budget stops many tiny
// functions that each declare 50,000 locals from costing thousands of times the module's size.
constexpr uint64_t min_module_local_budget = uint64_t(1) << 20;
constexpr uint64_t module_local_budget_per_byte = 8;

constexpr uint8_t wasm_magic[4] = {0x00, 0x61, 0x73, 0x6d};
constexpr uint8_t wasm_version[4] = {0x01, 0x00, 0x00, 0x00};

namespace section_id {
constexpr uint8_t custom = 0, type = 1, import = 2, function = 3, table = 4, memory = 5, global = 6,
                  export_ = 7, start = 8, element = 9, code = 10, data = 11, data_count = 12;
} // namespace section_id

// The position each non-custom section must keep: data count comes between element and code.
int section_order(uint8_t id) {
    switch (id) {
    case section_id::data_count: return 10;
    case section_id::code: return 11;
    case section_id::data: return 12;
    default: return id;
    }
}

tl::unexpected<Error> malformed_at(size_t offset, std::string_view what) {
    return make_error(ErrorKind::malformed, fmt::format("{} at offset {:#x}", what, offset));
}

// Reads the name section. It is advisory, so the caller drops it whole when it is malformed.
Result<void> read_names(Reader r, std::string& module_name,
                        std::unordered_map<uint32_t, std::string>& func_names) {
    while (!r.at_end()) {
        KILN_TRY(id, r.u8());
        KILN_TRY(size, r.leb_u32());
        KILN_TRY(sub, r.sub(size));
        if (id == 0) {
            KILN_TRY(name, sub.name());
            module_name = std::move(name);
        } else if (id == 1) {
            KILN_TRY(count, sub.leb_u32());
            if (count > sub.remaining()) return sub.fail("unexpected end");
            for (uint32_t i = 0; i < count; ++i) {
                KILN_TRY(index, sub.leb_u32());
                KILN_TRY(name, sub.name());
                func_names[index] = std::move(name);
            }
        } else {
            continue; // local, label, ... names: not used yet
        }
        if (!sub.at_end()) return sub.fail("name subsection size mismatch");
    }
    return {};
}

class Decoder {
public:
    Decoder(Module& module, const Features& features)
        : m_module(module), m_features(features),
          m_local_budget(std::max(min_module_local_budget,
                                  module_local_budget_per_byte * module.bytes.size())) {}

    Result<void> run();

private:
    Result<void> section(uint8_t id, Reader& r);
    Result<void> custom_section(Reader& r);
    Result<void> type_section(Reader& r);
    Result<void> import_section(Reader& r);
    Result<void> function_section(Reader& r);
    Result<void> table_section(Reader& r);
    Result<void> memory_section(Reader& r);
    Result<void> global_section(Reader& r);
    Result<void> export_section(Reader& r);
    Result<void> element_section(Reader& r);
    Result<void> code_section(Reader& r);
    Result<void> data_section(Reader& r);

    Result<uint32_t> count(Reader& r);
    Result<ValType> valtype(Reader& r);
    Result<ValType> reftype(Reader& r);
    Result<Limits> limits(Reader& r);
    Result<TableType> table_type(Reader& r);
    Result<GlobalType> global_type(Reader& r);
    Result<ConstExpr> const_expr(Reader& r);
    Result<void> function_body(Reader& r, Function& f);
    template <typename OnInstr> Result<void> scan_expr(Reader& r, OnInstr&& on_instr);

    Module& m_module;
    const Features& m_features;
    uint64_t m_local_budget;
    // "constant expression required" is a validation error; it waits until the whole binary has
    // decoded, so that a malformed later section is still reported as malformed.
    std::optional<Error> m_deferred;
    // memory.init/data.drop without a data count section: malformed when the module has data
    // segments; with none, the index is simply unknown, which the validator reports (this is
    // also how the reference interpreter classifies such a module written in text).
    std::optional<uint32_t> m_data_use_without_count;
    bool m_seen_code = false;
    std::vector<uint8_t> m_blocks;                            // scratch of scan_expr
    std::vector<std::pair<uint32_t, ValType>> m_local_groups; // scratch of function_body
};

Result<void> Decoder::run() {
    Reader r(m_module.bytes);
    KILN_TRY(magic, r.bytes(4));
    if (std::memcmp(magic.data(), wasm_magic, 4) != 0)
        return malformed_at(0, "magic header not detected");
    KILN_TRY(version, r.bytes(4));
    if (std::memcmp(version.data(), wasm_version, 4) != 0)
        return malformed_at(4, "unknown binary version");

    int last_order = 0;
    while (!r.at_end()) {
        const size_t id_offset = r.offset();
        KILN_TRY(id, r.u8());
        if (id > section_id::data_count) return malformed_at(id_offset, "malformed section id");
        KILN_TRY(size, r.leb_u32());
        if (size > r.remaining())
            return r.fail(fmt::format("length out of bounds: section of {} bytes, {} left", size,
                                      r.remaining()));
        KILN_TRY(body, r.sub(size));
        if (id != section_id::custom) {
            const int order = section_order(id);
            if (order <= last_order)
                return malformed_at(id_offset, fmt::format("unexpected content after last section "
                                                           "(section {} repeated or out of order)",
                                                           id));
            last_order = order;
        }
        KILN_CHECK(section(id, body));
        if (!body.at_end()) return body.fail("section size mismatch");
    }

    if (!m_seen_code && !m_module.functions.empty())
        return malformed_at(r.offset(), "function and code section have inconsistent lengths");
    if (m_module.data_count && *m_module.data_count != m_module.datas.size())
        return malformed_at(r.offset(), "data count and data section have inconsistent lengths");
    if (m_data_use_without_count && !m_module.datas.empty())
        return malformed_at(*m_data_use_without_count, "data count section required");
    if (m_deferred) return tl::unexpected<Error>(std::move(*m_deferred));
    return {};
}

Result<void> Decoder::section(uint8_t id, Reader& r) {
    switch (id) {
    case section_id::custom: return custom_section(r);
    case section_id::type: return type_section(r);
    case section_id::import: return import_section(r);
    case section_id::function: return function_section(r);
    case section_id::table: return table_section(r);
    case section_id::memory: return memory_section(r);
    case section_id::global: return global_section(r);
    case section_id::export_: return export_section(r);
    case section_id::start: {
        KILN_TRY(index, r.leb_u32());
        m_module.start = index;
        return {};
    }
    case section_id::element: return element_section(r);
    case section_id::code: return code_section(r);
    case section_id::data: return data_section(r);
    case section_id::data_count: {
        KILN_TRY(n, r.leb_u32());
        m_module.data_count = n;
        return {};
    }
    }
    return malformed_at(r.offset(), "malformed section id");
}

Result<void> Decoder::custom_section(Reader& r) {
    KILN_TRY(name, r.name());
    CustomSection custom;
    custom.offset = static_cast<uint32_t>(r.offset());
    custom.size = static_cast<uint32_t>(r.remaining());
    if (name == "name") {
        std::string module_name;
        std::unordered_map<uint32_t, std::string> func_names;
        if (read_names(r, module_name, func_names)) {
            m_module.module_name = std::move(module_name);
            m_module.func_names = std::move(func_names);
        }
    }
    custom.name = std::move(name);
    m_module.customs.push_back(std::move(custom));
    return r.skip(r.remaining());
}

Result<void> Decoder::type_section(Reader& r) {
    KILN_TRY(n, count(r));
    m_module.types.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        const size_t form_offset = r.offset();
        KILN_TRY(form, r.u8());
        if (form != 0x60) return malformed_at(form_offset, "malformed function type");
        FuncType type;
        KILN_TRY(num_params, count(r));
        type.params.reserve(num_params);
        for (uint32_t k = 0; k < num_params; ++k) {
            KILN_TRY(t, valtype(r));
            type.params.push_back(t);
        }
        KILN_TRY(num_results, count(r));
        type.results.reserve(num_results);
        for (uint32_t k = 0; k < num_results; ++k) {
            KILN_TRY(t, valtype(r));
            type.results.push_back(t);
        }
        m_module.types.push_back(std::move(type));
    }
    return {};
}

Result<void> Decoder::import_section(Reader& r) {
    KILN_TRY(n, count(r));
    m_module.imports.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        Import imp;
        KILN_TRY(module_name, r.name());
        KILN_TRY(field_name, r.name());
        imp.module = std::move(module_name);
        imp.name = std::move(field_name);
        const size_t kind_offset = r.offset();
        KILN_TRY(kind, r.u8());
        switch (kind) {
        case 0: {
            KILN_TRY(type, r.leb_u32());
            imp.func_type = type;
            m_module.func_types.push_back(type);
            ++m_module.num_imported_funcs;
            break;
        }
        case 1: {
            KILN_TRY(table, table_type(r));
            imp.table = table;
            m_module.tables.push_back(table);
            ++m_module.num_imported_tables;
            break;
        }
        case 2: {
            KILN_TRY(lim, limits(r));
            imp.memory.limits = lim;
            m_module.memories.push_back(imp.memory);
            ++m_module.num_imported_memories;
            break;
        }
        case 3: {
            KILN_TRY(global, global_type(r));
            imp.global = global;
            m_module.globals.push_back(global);
            ++m_module.num_imported_globals;
            break;
        }
        default: return malformed_at(kind_offset, "malformed import kind");
        }
        imp.kind = static_cast<ExternKind>(kind);
        m_module.imports.push_back(std::move(imp));
    }
    return {};
}

Result<void> Decoder::function_section(Reader& r) {
    KILN_TRY(n, count(r));
    m_module.func_types.reserve(m_module.func_types.size() + n);
    m_module.functions.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        KILN_TRY(type, r.leb_u32());
        m_module.func_types.push_back(type);
        Function f;
        f.type = type;
        m_module.functions.push_back(std::move(f));
    }
    return {};
}

Result<void> Decoder::table_section(Reader& r) {
    KILN_TRY(n, count(r));
    for (uint32_t i = 0; i < n; ++i) {
        KILN_TRY(table, table_type(r));
        m_module.tables.push_back(table);
    }
    return {};
}

Result<void> Decoder::memory_section(Reader& r) {
    KILN_TRY(n, count(r));
    for (uint32_t i = 0; i < n; ++i) {
        KILN_TRY(lim, limits(r));
        m_module.memories.push_back(MemoryType{lim});
    }
    return {};
}

Result<void> Decoder::global_section(Reader& r) {
    KILN_TRY(n, count(r));
    m_module.global_inits.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        KILN_TRY(type, global_type(r));
        KILN_TRY(init, const_expr(r));
        m_module.globals.push_back(type);
        m_module.global_inits.push_back(Global{type, std::move(init)});
    }
    return {};
}

Result<void> Decoder::export_section(Reader& r) {
    KILN_TRY(n, count(r));
    m_module.exports.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        Export exp;
        KILN_TRY(name, r.name());
        exp.name = std::move(name);
        const size_t kind_offset = r.offset();
        KILN_TRY(kind, r.u8());
        if (kind > 3) return malformed_at(kind_offset, "malformed export kind");
        exp.kind = static_cast<ExternKind>(kind);
        KILN_TRY(index, r.leb_u32());
        exp.index = index;
        m_module.exports.push_back(std::move(exp));
    }
    return {};
}

Result<void> Decoder::element_section(Reader& r) {
    KILN_TRY(n, count(r));
    m_module.elems.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        // Flag bits: 0 = passive or declarative, 1 = explicit table index (active) or
        // declarative, 2 = items are expressions rather than function indices.
        const size_t flags_offset = r.offset();
        KILN_TRY(flags, r.leb_u32());
        if (flags > 7) return malformed_at(flags_offset, "malformed elements segment kind");
        ElemSegment seg;
        if (flags & 1) {
            seg.mode = (flags & 2) ? SegmentMode::declarative : SegmentMode::passive;
        } else {
            seg.mode = SegmentMode::active;
            if (flags & 2) {
                KILN_TRY(table, r.leb_u32());
                seg.table = table;
            }
            KILN_TRY(offset, const_expr(r));
            seg.offset = std::move(offset);
        }
        const bool exprs = flags & 4;
        if (flags & 3) {
            if (exprs) {
                KILN_TRY(type, reftype(r));
                seg.type = type;
            } else {
                const size_t kind_offset = r.offset();
                KILN_TRY(kind, r.u8());
                if (kind != 0) return malformed_at(kind_offset, "malformed element kind");
            }
        }
        KILN_TRY(num_items, count(r));
        seg.items.reserve(num_items);
        for (uint32_t k = 0; k < num_items; ++k) {
            if (exprs) {
                KILN_TRY(item, const_expr(r));
                seg.items.push_back(std::move(item));
            } else {
                KILN_TRY(func, r.leb_u32());
                ConstExpr item;
                item.instrs.push_back(ConstInstr{ConstInstr::Op::ref_func, func});
                seg.items.push_back(std::move(item));
            }
        }
        m_module.elems.push_back(std::move(seg));
    }
    return {};
}

Result<void> Decoder::code_section(Reader& r) {
    const size_t count_offset = r.offset();
    KILN_TRY(n, count(r));
    if (n != m_module.functions.size())
        return malformed_at(count_offset, "function and code section have inconsistent lengths");
    for (auto& f : m_module.functions)
        KILN_CHECK(function_body(r, f));
    m_seen_code = true;
    return {};
}

Result<void> Decoder::data_section(Reader& r) {
    const size_t count_offset = r.offset();
    KILN_TRY(n, count(r));
    if (m_module.data_count && n != *m_module.data_count)
        return malformed_at(count_offset, "data count and data section have inconsistent lengths");
    m_module.datas.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        const size_t flags_offset = r.offset();
        KILN_TRY(flags, r.leb_u32());
        DataSegment seg;
        switch (flags) {
        case 0: {
            KILN_TRY(offset, const_expr(r));
            seg.offset = std::move(offset);
            break;
        }
        case 1: seg.mode = SegmentMode::passive; break;
        case 2: {
            KILN_TRY(memory, r.leb_u32());
            KILN_TRY(offset, const_expr(r));
            seg.memory = memory;
            seg.offset = std::move(offset);
            break;
        }
        default: return malformed_at(flags_offset, "malformed data segment kind");
        }
        KILN_TRY(size, r.leb_u32());
        seg.bytes_offset = static_cast<uint32_t>(r.offset());
        KILN_CHECK(r.skip(size));
        seg.bytes_size = size;
        m_module.datas.push_back(std::move(seg));
    }
    return {};
}

// A vector length. Every vector element takes at least one byte, so a count past the bytes left
// is malformed; checking it here also keeps reserve() from trusting a hostile count.
Result<uint32_t> Decoder::count(Reader& r) {
    KILN_TRY(n, r.leb_u32());
    if (n > r.remaining()) return r.fail("unexpected end of section or function (count too large)");
    return n;
}

Result<ValType> Decoder::valtype(Reader& r) {
    const size_t offset = r.offset();
    KILN_TRY(b, r.u8());
    auto t = valtype_from_byte(b);
    if (!t) return malformed_at(offset, "malformed value type");
    if (*t == ValType::v128 && !m_features.simd)
        return feature_disabled("simd", "v128 type", offset);
    return *t;
}

Result<ValType> Decoder::reftype(Reader& r) {
    const size_t offset = r.offset();
    KILN_TRY(b, r.u8());
    auto t = valtype_from_byte(b);
    if (!t || !is_reftype(*t)) return malformed_at(offset, "malformed reference type");
    return *t;
}

Result<Limits> Decoder::limits(Reader& r) {
    // The flags are a one-bit LEB128 in the spec's grammar, hence its error texts.
    const size_t offset = r.offset();
    KILN_TRY(flags, r.u8());
    if (flags & 0x80) return malformed_at(offset, "integer representation too long (limits flags)");
    if (flags > 1) return malformed_at(offset, "integer too large (malformed limits flags)");
    Limits lim;
    KILN_TRY(min, r.leb_u32());
    lim.min = min;
    if (flags == 1) {
        KILN_TRY(max, r.leb_u32());
        lim.max = max;
    }
    return lim;
}

Result<TableType> Decoder::table_type(Reader& r) {
    TableType t;
    KILN_TRY(elem, reftype(r));
    KILN_TRY(lim, limits(r));
    t.elem = elem;
    t.limits = lim;
    return t;
}

Result<GlobalType> Decoder::global_type(Reader& r) {
    GlobalType g;
    KILN_TRY(type, valtype(r));
    const size_t offset = r.offset();
    KILN_TRY(mut, r.u8());
    if (mut > 1) return malformed_at(offset, "malformed mutability");
    g.type = type;
    g.mut = mut == 1;
    return g;
}

// Walks one expression to its final `end`, checking the block structure the binary grammar
// imposes, and hands every instruction but that final `end` to on_instr. Leaves r after it.
template <typename OnInstr> Result<void> Decoder::scan_expr(Reader& r, OnInstr&& on_instr) {
    enum : uint8_t { plain_block, if_block, else_block };
    InstrReader ir(r, m_features.simd);
    m_blocks.clear();
    for (;;) {
        if (ir.at_end()) return malformed_at(ir.offset(), "unexpected end of section or function");
        KILN_TRY(in, ir.next());
        switch (in.op) {
        case Opcode::Block:
        case Opcode::Loop: m_blocks.push_back(plain_block); break;
        case Opcode::If: m_blocks.push_back(if_block); break;
        case Opcode::Else:
            if (m_blocks.empty() || m_blocks.back() != if_block)
                return malformed_at(in.offset, "END opcode expected (else without if)");
            m_blocks.back() = else_block;
            break;
        case Opcode::End:
            if (m_blocks.empty()) return r.skip(ir.offset() - r.offset());
            m_blocks.pop_back();
            break;
        default: break;
        }
        KILN_CHECK(on_instr(in));
    }
}

Result<ConstExpr> Decoder::const_expr(Reader& r) {
    ConstExpr expr;
    KILN_CHECK(scan_expr(r, [&](const Instr& in) -> Result<void> {
        ConstInstr ci{ConstInstr::Op::i32_const};
        switch (in.op) {
        case Opcode::I32Const: ci = {ConstInstr::Op::i32_const, in.imm}; break;
        case Opcode::I64Const: ci = {ConstInstr::Op::i64_const, in.imm}; break;
        case Opcode::F32Const: ci = {ConstInstr::Op::f32_const, in.imm}; break;
        case Opcode::F64Const: ci = {ConstInstr::Op::f64_const, in.imm}; break;
        case Opcode::V128Const:
            ci = {ConstInstr::Op::v128_const, in.imm};
            ci.hi = in.imm_hi;
            break;
        case Opcode::RefNull: ci = {ConstInstr::Op::ref_null, 0, in.type}; break;
        case Opcode::RefFunc: ci = {ConstInstr::Op::ref_func, in.a}; break;
        case Opcode::GlobalGet: ci = {ConstInstr::Op::global_get, in.a}; break;
        case Opcode::I32Add: ci = {ConstInstr::Op::i32_add}; break;
        case Opcode::I32Sub: ci = {ConstInstr::Op::i32_sub}; break;
        case Opcode::I32Mul: ci = {ConstInstr::Op::i32_mul}; break;
        case Opcode::I64Add: ci = {ConstInstr::Op::i64_add}; break;
        case Opcode::I64Sub: ci = {ConstInstr::Op::i64_sub}; break;
        case Opcode::I64Mul: ci = {ConstInstr::Op::i64_mul}; break;
        default:
            if (!m_deferred)
                m_deferred = Error{ErrorKind::invalid,
                                   fmt::format("constant expression required, got {} at offset "
                                               "{:#x}",
                                               opcode_name(in.op), in.offset),
                                   {}};
            return {};
        }
        if (is_extended_const(ci.op) && !m_features.extended_const && !m_deferred)
            m_deferred =
                feature_disabled("extended-const",
                                 fmt::format("{} in a constant expression", opcode_name(in.op)),
                                 in.offset)
                    .value();
        expr.instrs.push_back(ci);
        return {};
    }));
    return expr;
}

Result<void> Decoder::function_body(Reader& r, Function& f) {
    KILN_TRY(size, r.leb_u32());
    KILN_TRY(body, r.sub(size));
    KILN_TRY(groups, count(body));
    // Sum the declared counts before expanding anything, so a hostile count costs nothing.
    m_local_groups.clear();
    uint64_t total = 0;
    for (uint32_t i = 0; i < groups; ++i) {
        KILN_TRY(n, body.leb_u32());
        KILN_TRY(type, valtype(body));
        total += n;
        if (total > max_function_locals) return body.fail("too many locals");
        m_local_groups.emplace_back(n, type);
    }
    if (total > m_local_budget) return body.fail("too many locals in the module");
    m_local_budget -= total;
    f.locals.reserve(total);
    for (auto [n, type] : m_local_groups)
        f.locals.insert(f.locals.end(), n, type);

    f.code_offset = static_cast<uint32_t>(body.offset());
    KILN_CHECK(scan_expr(body, [&](const Instr& in) -> Result<void> {
        if ((in.op == Opcode::MemoryInit || in.op == Opcode::DataDrop) && !m_module.data_count &&
            !m_data_use_without_count)
            m_data_use_without_count = in.offset;
        if ((in.op == Opcode::ReturnCall || in.op == Opcode::ReturnCallIndirect) &&
            !m_features.tail_call)
            return feature_disabled("tail-call", opcode_name(in.op), in.offset);
        return {};
    }));
    f.code_end = static_cast<uint32_t>(body.offset());
    if (!body.at_end()) return body.fail("section size mismatch (bytes after the function's end)");
    return {};
}

} // namespace

Result<std::shared_ptr<Module>> decode(std::span<const uint8_t> bytes, const Features& features) {
    // Module offsets are 32-bit.
    if (bytes.size() > std::numeric_limits<uint32_t>::max())
        return make_error(ErrorKind::malformed, "module larger than 4 GiB");
    auto module = std::make_shared<Module>();
    module->bytes.assign(bytes.begin(), bytes.end());
    Decoder decoder(*module, features);
    KILN_CHECK(decoder.run());
    return module;
}

} // namespace kiln::engine
