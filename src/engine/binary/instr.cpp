#include "engine/binary/instr.hpp"

#include <fmt/format.h>

namespace kiln::engine {

const char* opcode_name(Opcode op) {
    switch (op) {
        // clang-format off
#define KILN_OP(name, code, text, imm, a, b, r) case Opcode::name: return text;
#include "engine/binary/opcodes.def"
        // clang-format on
    }
    return "<unknown>";
}

namespace {

ImmKind imm_kind_of(uint16_t code, bool& known) {
    known = true;
    switch (code) {
        // clang-format off
#define KILN_OP(name, code, text, imm, a, b, r) case code: return ImmKind::imm;
#define KILN_OP_FC(name, code, text, imm, a, b, r) case 0xfc00 | code: return ImmKind::imm;
#define KILN_OP_FD(name, code, text, imm, a, b, r) case 0xfd00 | code: return ImmKind::imm;
#include "engine/binary/opcodes.def"
        // clang-format on
    }
    known = false;
    return ImmKind::none;
}

} // namespace

tl::unexpected<Error> feature_disabled(std::string_view feature, std::string_view what,
                                       size_t offset) {
    return make_error(ErrorKind::invalid,
                      fmt::format("{} at offset {:#x} needs the {} feature, which the engine's "
                                  "configuration disables",
                                  what, offset, feature));
}

Result<void> InstrReader::zero_byte() {
    KILN_TRY(b, m_reader.u8());
    if (b != 0) return m_reader.fail("zero byte expected");
    return {};
}

Result<ValType> InstrReader::value_type(uint8_t byte, size_t offset) {
    auto vt = valtype_from_byte(byte);
    if (!vt) return m_reader.fail("malformed value type");
    if (*vt == ValType::v128 && !m_simd) return feature_disabled("simd", "v128 type", offset);
    return *vt;
}

Result<Instr> InstrReader::next() {
    Instr in;
    in.offset = static_cast<uint32_t>(m_reader.offset());
    KILN_TRY(byte, m_reader.u8());
    uint16_t code = byte;
    if (byte == 0xfc || byte == 0xfd) {
        KILN_TRY(sub, m_reader.leb_u32());
        if (sub > 0xff)
            return make_error(
                ErrorKind::malformed,
                fmt::format("illegal opcode {:#x} {:#x} at offset {:#x}", byte, sub, in.offset));
        code = static_cast<uint16_t>(byte << 8 | sub);
    }
    bool known;
    ImmKind imm = imm_kind_of(code, known);
    if (!known) {
        if (code >= 0xfc00)
            return make_error(ErrorKind::malformed,
                              fmt::format("illegal opcode {:#x} {:#x} at offset {:#x}", code >> 8,
                                          code & 0xff, in.offset));
        return make_error(ErrorKind::malformed,
                          fmt::format("illegal opcode {:#04x} at offset {:#x}", code, in.offset));
    }
    in.op = static_cast<Opcode>(code);
    if (is_simd(in.op) && !m_simd)
        return feature_disabled("simd", fmt::format("SIMD instruction {}", opcode_name(in.op)),
                                in.offset);
    switch (imm) {
    case ImmKind::none: break;
    case ImmKind::block: {
        // A block type is 0x40, a value type byte, or a non-negative s33 type index.
        if (m_reader.at_end()) return m_reader.fail("unexpected end");
        uint8_t b = *m_reader.current();
        if (b == 0x40) {
            (void)m_reader.u8();
            in.block.kind = BlockType::Kind::empty;
        } else if (valtype_from_byte(b)) {
            const size_t at = m_reader.offset();
            (void)m_reader.u8();
            KILN_TRY(vt, value_type(b, at));
            in.block.kind = BlockType::Kind::value;
            in.block.value = vt;
        } else {
            KILN_TRY(idx, m_reader.leb_s33());
            if (idx < 0) return m_reader.fail("malformed block type");
            if (idx > 0xffffffffLL) return m_reader.fail("block type index too large");
            in.block.kind = BlockType::Kind::index;
            in.block.index = static_cast<uint32_t>(idx);
        }
        break;
    }
    case ImmKind::label:
    case ImmKind::func:
    case ImmKind::local:
    case ImmKind::global:
    case ImmKind::table:
    case ImmKind::data:
    case ImmKind::elem: {
        KILN_TRY(v, m_reader.leb_u32());
        in.a = v;
        break;
    }
    case ImmKind::br_table: {
        KILN_TRY(count, m_reader.leb_u32());
        // Each target takes at least one byte, so a count past the remaining bytes is malformed
        // (this also keeps a small file from reserving a huge vector).
        if (count > m_reader.remaining()) return m_reader.fail("unexpected end");
        m_targets.clear();
        m_targets.reserve(count + 1);
        for (uint32_t i = 0; i <= count; ++i) {
            KILN_TRY(t, m_reader.leb_u32());
            m_targets.push_back(t);
        }
        in.a = count;
        break;
    }
    case ImmKind::call_indirect: {
        KILN_TRY(type, m_reader.leb_u32());
        KILN_TRY(table, m_reader.leb_u32());
        in.a = type;
        in.b = table;
        break;
    }
    case ImmKind::mem:
    case ImmKind::mem_lane: {
        KILN_TRY(align, m_reader.leb_u32());
        KILN_TRY(offset, m_reader.leb_u32());
        in.a = align;
        in.imm = offset;
        if (imm == ImmKind::mem_lane) {
            KILN_TRY(lane, m_reader.u8());
            in.b = lane;
        }
        break;
    }
    case ImmKind::lane: {
        KILN_TRY(lane, m_reader.u8());
        in.b = lane;
        break;
    }
    case ImmKind::v128:
    case ImmKind::shuffle: {
        KILN_TRY(lo, m_reader.u64_fixed());
        KILN_TRY(hi, m_reader.u64_fixed());
        in.imm = lo;
        in.imm_hi = hi;
        break;
    }
    case ImmKind::memidx: KILN_CHECK(zero_byte()); break;
    case ImmKind::i32: {
        KILN_TRY(v, m_reader.leb_s32());
        in.imm = static_cast<uint32_t>(v);
        break;
    }
    case ImmKind::i64: {
        KILN_TRY(v, m_reader.leb_s64());
        in.imm = static_cast<uint64_t>(v);
        break;
    }
    case ImmKind::f32: {
        KILN_TRY(v, m_reader.u32_fixed());
        in.imm = v;
        break;
    }
    case ImmKind::f64: {
        KILN_TRY(v, m_reader.u64_fixed());
        in.imm = v;
        break;
    }
    case ImmKind::ref_type: {
        KILN_TRY(b, m_reader.u8());
        auto vt = valtype_from_byte(b);
        if (!vt || !is_reftype(*vt)) return m_reader.fail("malformed reference type");
        in.type = *vt;
        break;
    }
    case ImmKind::select_t: {
        KILN_TRY(count, m_reader.leb_u32());
        if (count > m_reader.remaining()) return m_reader.fail("unexpected end");
        m_select_types.clear();
        for (uint32_t i = 0; i < count; ++i) {
            const size_t at = m_reader.offset();
            KILN_TRY(b, m_reader.u8());
            KILN_TRY(vt, value_type(b, at));
            m_select_types.push_back(vt);
        }
        in.a = count;
        break;
    }
    case ImmKind::memory_init: {
        KILN_TRY(seg, m_reader.leb_u32());
        in.a = seg;
        KILN_CHECK(zero_byte());
        break;
    }
    case ImmKind::memory_copy:
        KILN_CHECK(zero_byte());
        KILN_CHECK(zero_byte());
        break;
    case ImmKind::table_init: {
        KILN_TRY(seg, m_reader.leb_u32());
        KILN_TRY(table, m_reader.leb_u32());
        in.a = seg;
        in.b = table;
        break;
    }
    case ImmKind::table_copy: {
        KILN_TRY(dst, m_reader.leb_u32());
        KILN_TRY(src, m_reader.leb_u32());
        in.a = dst;
        in.b = src;
        break;
    }
    }
    return in;
}

} // namespace kiln::engine
