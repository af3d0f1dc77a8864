// Tests of the binary decoder: every section, every malformed class, hostile inputs.
#include "engine/binary/decoder.hpp"
#include "engine/binary/instr.hpp"
#include "engine/validate/validator.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::engine;
using kiln::test::wat_to_wasm;
using Bytes = std::vector<uint8_t>;

#define WAT_OR_SKIP(var, text)                                                                     \
    auto var##_opt = wat_to_wasm(text);                                                            \
    if (!var##_opt) GTEST_SKIP() << "wat2wasm is not installed";                                   \
    const Bytes& var = *var##_opt

// The 8-byte header followed by `body`.
Bytes wasm(std::initializer_list<uint8_t> body) {
    Bytes b = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    b.insert(b.end(), body);
    return b;
}

void expect_error(const Bytes& bytes, ErrorKind kind, std::string_view text) {
    auto r = decode(bytes);
    ASSERT_FALSE(r) << "decoded, expected: " << text;
    EXPECT_EQ(r.error().kind, kind) << r.error().message;
    EXPECT_NE(r.error().message.find(text), std::string::npos)
        << "message \"" << r.error().message << "\" lacks \"" << text << "\"";
}

void expect_malformed(const Bytes& bytes, std::string_view text) {
    expect_error(bytes, ErrorKind::malformed, text);
}

// Type section with one type () -> ().
#define TYPE_VOID 0x01, 0x04, 0x01, 0x60, 0x00, 0x00
// Function section with one function of type 0.
#define FUNC_ONE 0x03, 0x02, 0x01, 0x00
// Code section with one empty body.
#define CODE_EMPTY 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b

constexpr std::string_view full_wat = R"(
(module $kiln_test
  (type $t0 (func (param i32) (result i32)))
  (type $t1 (func))
  (import "env" "f" (func $imp (type $t0)))
  (import "env" "t" (table 1 funcref))
  (import "env" "m" (memory 1 2))
  (import "env" "g" (global $g i32))
  (table $tab 2 10 externref)
  (global $mg (mut i64) (i64.const 7))
  (global $fg funcref (ref.func $f1))
  (export "f1" (func $f1))
  (export "mg" (global $mg))
  (start $start)
  (elem (i32.const 0) $f1)
  (elem func $f1 $start)
  (elem declare func $f1)
  (elem (table $tab) (i32.const 0) externref (ref.null extern))
  (data (i32.const 0) "hi")
  (data "passive")
  (func $f1 (type $t0) (local i64 i64 f32)
    local.get 0
    i32.const 1
    i32.add)
  (func $start (type $t1)
    i32.const 0 i32.const 0 i32.const 2 memory.init 1
    data.drop 1)
)
)";

// ---- Valid modules --------------------------------------------------------------------------

TEST(Decoder, EmptyModule) {
    auto m = decode(wasm({}));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE((*m)->types.empty());
    EXPECT_TRUE((*m)->functions.empty());
    EXPECT_EQ((*m)->bytes.size(), 8u);
}

TEST(Decoder, EverySectionFromWat) {
    WAT_OR_SKIP(bytes, full_wat);
    auto r = decode(bytes);
    ASSERT_TRUE(r) << r.error().message;
    const Module& m = **r;
    EXPECT_EQ(m.bytes, bytes);

    ASSERT_EQ(m.types.size(), 2u);
    EXPECT_EQ(m.types[0], (FuncType{{ValType::i32}, {ValType::i32}}));
    EXPECT_EQ(m.types[1], FuncType{});

    ASSERT_EQ(m.imports.size(), 4u);
    EXPECT_EQ(m.imports[0].module, "env");
    EXPECT_EQ(m.imports[0].name, "f");
    EXPECT_EQ(m.imports[0].kind, ExternKind::func);
    EXPECT_EQ(m.imports[1].kind, ExternKind::table);
    EXPECT_EQ(m.imports[2].kind, ExternKind::memory);
    EXPECT_EQ(m.imports[2].memory.limits.min, 1u);
    EXPECT_EQ(m.imports[2].memory.limits.max, 2u);
    EXPECT_EQ(m.imports[3].kind, ExternKind::global);
    EXPECT_EQ(m.num_imported_funcs, 1u);
    EXPECT_EQ(m.num_imported_tables, 1u);
    EXPECT_EQ(m.num_imported_memories, 1u);
    EXPECT_EQ(m.num_imported_globals, 1u);

    EXPECT_EQ(m.func_types, (std::vector<uint32_t>{0, 0, 1}));
    ASSERT_EQ(m.functions.size(), 2u);
    EXPECT_EQ(m.functions[0].locals,
              (std::vector<ValType>{ValType::i64, ValType::i64, ValType::f32}));
    // The body starts at its first instruction (local.get 0) and ends after its `end`.
    EXPECT_EQ(m.bytes[m.functions[0].code_offset], 0x20);
    EXPECT_EQ(m.bytes[m.functions[0].code_end - 1], 0x0b);
    EXPECT_EQ(m.functions[0].code_end - m.functions[0].code_offset, 6u);
    EXPECT_EQ(m.functions[1].type, 1u);

    ASSERT_EQ(m.tables.size(), 2u);
    EXPECT_EQ(m.tables[1].elem, ValType::externref);
    EXPECT_EQ(m.tables[1].limits.min, 2u);
    EXPECT_EQ(m.tables[1].limits.max, 10u);
    ASSERT_EQ(m.memories.size(), 1u);

    ASSERT_EQ(m.global_inits.size(), 2u);
    EXPECT_TRUE(m.global_inits[0].type.mut);
    EXPECT_EQ(m.global_inits[0].type.type, ValType::i64);
    ASSERT_EQ(m.global_inits[0].init.instrs.size(), 1u);
    EXPECT_EQ(m.global_inits[0].init.instrs[0].op, ConstInstr::Op::i64_const);
    EXPECT_EQ(m.global_inits[0].init.instrs[0].value, 7u);
    EXPECT_EQ(m.global_inits[1].init.instrs[0].op, ConstInstr::Op::ref_func);
    EXPECT_EQ(m.global_inits[1].init.instrs[0].value, 1u);
    EXPECT_EQ(m.globals.size(), 3u);

    ASSERT_EQ(m.exports.size(), 2u);
    EXPECT_EQ(m.exports[0].name, "f1");
    EXPECT_EQ(m.exports[0].index, 1u);
    EXPECT_EQ(m.exports[1].kind, ExternKind::global);
    EXPECT_EQ(m.start, 2u);

    ASSERT_EQ(m.elems.size(), 4u);
    EXPECT_EQ(m.elems[0].mode, SegmentMode::active);
    EXPECT_EQ(m.elems[1].mode, SegmentMode::passive);
    EXPECT_EQ(m.elems[1].items.size(), 2u);
    EXPECT_EQ(m.elems[2].mode, SegmentMode::declarative);
    EXPECT_EQ(m.elems[3].table, 1u);
    EXPECT_EQ(m.elems[3].type, ValType::externref);
    EXPECT_EQ(m.elems[3].items[0].instrs[0].op, ConstInstr::Op::ref_null);

    ASSERT_EQ(m.datas.size(), 2u);
    EXPECT_EQ(m.data_count, 2u);
    EXPECT_EQ(std::string(m.bytes.begin() + m.datas[0].bytes_offset,
                          m.bytes.begin() + m.datas[0].bytes_offset + m.datas[0].bytes_size),
              "hi");
    EXPECT_EQ(m.datas[1].mode, SegmentMode::passive);
    EXPECT_EQ(m.datas[1].bytes_size, 7u);

    ASSERT_EQ(m.customs.size(), 1u);
    EXPECT_EQ(m.customs[0].name, "name");
    EXPECT_EQ(m.module_name, "kiln_test");
    EXPECT_EQ(m.func_display_name(1), "f1");
    EXPECT_EQ(m.func_display_name(2), "start");

    EXPECT_TRUE(validate(m)) << validate(m).error().message;
}

// Byte layouts below are aligned by hand, one field or segment a line.
// clang-format off
TEST(Decoder, AllEightElementSegmentEncodings) {
    auto r = decode(wasm({
        TYPE_VOID, FUNC_ONE,
        0x04, 0x07, 0x02, 0x70, 0x00, 0x01, 0x6f, 0x00, 0x01, // tables: funcref, externref
        0x09, 0x35, 0x08,                                     // element section, 8 segments
        0x00, 0x41, 0x00, 0x0b, 0x01, 0x00,                   // 0: active, table 0, func idx
        0x01, 0x00, 0x01, 0x00,                               // 1: passive, elemkind, func idx
        0x02, 0x00, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00,       // 2: active, table idx, elemkind
        0x03, 0x00, 0x01, 0x00,                               // 3: declarative, elemkind
        0x04, 0x41, 0x00, 0x0b, 0x01, 0xd2, 0x00, 0x0b,       // 4: active, table 0, exprs
        0x05, 0x70, 0x01, 0xd0, 0x70, 0x0b,                   // 5: passive, reftype, exprs
        0x06, 0x01, 0x41, 0x00, 0x0b, 0x6f, 0x01, 0xd0, 0x6f, 0x0b, // 6: active, table 1
        0x07, 0x70, 0x01, 0xd2, 0x00, 0x0b,                   // 7: declarative, exprs
        CODE_EMPTY,
    }));
    ASSERT_TRUE(r) << r.error().message;
    const auto& elems = (*r)->elems;
    ASSERT_EQ(elems.size(), 8u);
    const SegmentMode modes[] = {SegmentMode::active,      SegmentMode::passive,
                                 SegmentMode::active,      SegmentMode::declarative,
                                 SegmentMode::active,      SegmentMode::passive,
                                 SegmentMode::active,      SegmentMode::declarative};
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(elems[i].mode, modes[i]) << i;
        ASSERT_EQ(elems[i].items.size(), 1u) << i;
    }
    EXPECT_EQ(elems[0].items[0].instrs[0].op, ConstInstr::Op::ref_func);
    EXPECT_EQ(elems[5].items[0].instrs[0].op, ConstInstr::Op::ref_null);
    EXPECT_EQ(elems[6].table, 1u);
    EXPECT_EQ(elems[6].type, ValType::externref);
    EXPECT_EQ(elems[6].offset.instrs[0].op, ConstInstr::Op::i32_const);
    EXPECT_TRUE(validate(**r)) << validate(**r).error().message;
}

TEST(Decoder, AllThreeDataSegmentEncodings) {
    auto r = decode(wasm({
        0x05, 0x03, 0x01, 0x00, 0x01,                   // memory 1
        0x0c, 0x01, 0x03,                               // data count 3
        0x0b, 0x12, 0x03,                               // data section, 3 segments
        0x00, 0x41, 0x00, 0x0b, 0x02, 'a', 'b',         // active, memory 0
        0x01, 0x01, 'c',                                // passive
        0x02, 0x00, 0x41, 0x04, 0x0b, 0x01, 'd',        // active, explicit memory
    }));
    ASSERT_TRUE(r) << r.error().message;
    const Module& m = **r;
    ASSERT_EQ(m.datas.size(), 3u);
    EXPECT_EQ(m.datas[0].mode, SegmentMode::active);
    EXPECT_EQ(m.datas[0].bytes_size, 2u);
    EXPECT_EQ(m.bytes[m.datas[0].bytes_offset], 'a');
    EXPECT_EQ(m.datas[1].mode, SegmentMode::passive);
    EXPECT_EQ(m.bytes[m.datas[1].bytes_offset], 'c');
    EXPECT_EQ(m.datas[2].offset.instrs[0].value, 4u);
    EXPECT_EQ(m.bytes[m.datas[2].bytes_offset], 'd');
    EXPECT_TRUE(validate(m));
}

TEST(Decoder, CustomSectionsAnywhere) {
    auto r = decode(wasm({
        0x00, 0x03, 0x01, 'a', 'x',       // custom "a" before everything
        TYPE_VOID,
        0x00, 0x02, 0x01, 'b',            // custom "b" between sections
        FUNC_ONE, CODE_EMPTY,
        0x00, 0x01, 0x00,                 // custom with an empty name, at the end
    }));
    ASSERT_TRUE(r) << r.error().message;
    const auto& customs = (*r)->customs;
    ASSERT_EQ(customs.size(), 3u);
    EXPECT_EQ(customs[0].name, "a");
    EXPECT_EQ(customs[0].size, 1u);
    EXPECT_EQ((*r)->bytes[customs[0].offset], 'x');
    EXPECT_EQ(customs[1].name, "b");
    EXPECT_EQ(customs[1].size, 0u);
    EXPECT_EQ(customs[2].name, "");
}

TEST(Decoder, NonMinimalLebIsAccepted) {
    // Memory minimum 2 written in five bytes.
    auto r = decode(wasm({0x05, 0x07, 0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x00}));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)->memories[0].limits.min, 2u);
}

TEST(Decoder, MalformedNameSectionIsIgnored) {
    // A "name" section whose function-name subsection claims more bytes than it has.
    auto r = decode(wasm({
        TYPE_VOID, FUNC_ONE, CODE_EMPTY,
        0x00, 0x0a, 0x04, 'n', 'a', 'm', 'e', 0x01, 0x09, 0x01, 0x00, 0x03,
    }));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE((*r)->func_names.empty());
    EXPECT_EQ((*r)->customs.size(), 1u);
}

TEST(Decoder, NameSectionFunctionNames) {
    auto r = decode(wasm({
        TYPE_VOID, FUNC_ONE, CODE_EMPTY,
        0x00, 0x10, 0x04, 'n', 'a', 'm', 'e',
        0x00, 0x02, 0x01, 'M',                 // module name "M"
        0x01, 0x05, 0x01, 0x00, 0x02, 'f', 'n', // func 0 is "fn"
    }));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)->module_name, "M");
    EXPECT_EQ((*r)->func_display_name(0), "fn");
}
// clang-format on

// Every SIMD instruction of opcodes.def, written as text with constant operands and assembled by
// wabt, decodes to that opcode with the immediates wabt encoded: the table's subcodes and
// immediate kinds agree with wabt's for all of them.
TEST(Decoder, EverySimdInstructionAsWabtEncodesIt) {
    struct Op {
        Opcode op;
        std::string_view text, imm, a, b, r;
    };
    const Op ops[] = {
#define KILN_OP(name, code, text, imm, a, b, r)
#define KILN_OP_FD(name, code, text, imm, a, b, r) {Opcode::name, text, #imm, #a, #b, #r},
#include "engine/binary/opcodes.def"
    };
    auto operand = [](std::string_view type) -> std::string {
        return type == "v128" ? "(v128.const i64x2 0 0)" : "(" + std::string(type) + ".const 0)";
    };
    std::string wat = "(module (memory 1) (func\n";
    for (const Op& op : ops) {
        std::string imm;
        if (op.imm == "lane") imm = " 1";
        if (op.imm == "mem_lane") imm = " offset=4 1";
        if (op.imm == "mem") imm = " offset=7";
        if (op.imm == "v128") imm = " i32x4 1 2 3 4";
        if (op.imm == "shuffle") imm = " 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 31";
        std::string args;
        for (std::string_view t : {op.a, op.b})
            if (t != "none" && t != "special") args += " " + operand(t);
        if (op.op == Opcode::V128Bitselect)
            args = " " + operand("v128") + operand("v128") + operand("v128");
        std::string instr = "(" + std::string(op.text) + imm + args + ")";
        wat += op.r == "none" ? instr + "\n" : "(drop " + instr + ")\n";
    }
    wat += "))";
    WAT_OR_SKIP(bytes, wat);
    auto m = decode(bytes);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(validate(**m)) << validate(**m).error().message;
    const Function& f = (*m)->functions[0];
    InstrReader reader(Reader((*m)->code(f), f.code_offset));
    size_t next = 0;
    while (!reader.at_end()) {
        auto in = reader.next();
        ASSERT_TRUE(in) << in.error().message;
        if (!is_simd(in->op) || next == std::size(ops)) continue;
        const Op& want = ops[next];
        if (in->op == Opcode::V128Const && want.op != Opcode::V128Const) continue; // an operand
        EXPECT_EQ(in->op, want.op) << "instruction " << next << ": " << want.text;
        if (want.imm == "lane") EXPECT_EQ(in->b, 1u) << want.text;
        if (want.imm == "mem_lane") EXPECT_EQ(in->b * 100 + in->imm, 104u) << want.text;
        if (want.imm == "mem") EXPECT_EQ(in->imm, 7u) << want.text;
        if (want.imm == "mem" || want.imm == "mem_lane")
            EXPECT_EQ(in->a, access_log2(in->op)) << want.text << ": natural alignment";
        if (want.imm == "v128")
            EXPECT_EQ(in->imm_hi << 32 | in->imm >> 32, 0x0000000300000002u) << want.text;
        if (want.imm == "shuffle") EXPECT_EQ(in->imm_hi >> 56, 31u);
        ++next;
    }
    EXPECT_EQ(next, std::size(ops));
    EXPECT_EQ(std::size(ops), 236u) << "WebAssembly 2.0 has 236 SIMD instructions";
}

TEST(Decoder, SimdPrefixedOpcodes) {
    // i16x8.abs is subcode 0x80, two LEB bytes; also accepted in a longer encoding.
    for (Bytes code : {Bytes{0xfd, 0x80, 0x01}, Bytes{0xfd, 0x80, 0x81, 0x80, 0x00}}) {
        Bytes body = {0x00, 0xfd, 0x0c};
        body.insert(body.end(), 16, 0x11);
        body.insert(body.end(), code.begin(), code.end());
        body.insert(body.end(), {0x1a, 0x0b});
        Bytes bytes = wasm({TYPE_VOID, FUNC_ONE, 0x0a});
        bytes.push_back(uint8_t(body.size() + 2));
        bytes.push_back(0x01);
        bytes.push_back(uint8_t(body.size()));
        bytes.insert(bytes.end(), body.begin(), body.end());
        auto m = decode(bytes);
        ASSERT_TRUE(m) << m.error().message;
        EXPECT_TRUE(validate(**m));
    }
    // 0xfd 0x9a is no instruction (a gap in the table), 0xfd 0x100 is past it.
    expect_malformed(
        wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x07, 0x01, 0x05, 0x00, 0xfd, 0x9a, 0x01, 0x0b}),
        "illegal opcode 0xfd 0x9a");
    expect_malformed(
        wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x07, 0x01, 0x05, 0x00, 0xfd, 0x80, 0x02, 0x0b}),
        "illegal opcode 0xfd 0x100");
}

TEST(Decoder, SimdFeatureOff) {
    Features scalar;
    scalar.simd = false;
    // A v128 parameter; an i32x4.splat (0xfd 0x11) in a body.
    for (const Bytes& bytes : {wasm({0x01, 0x05, 0x01, 0x60, 0x01, 0x7b, 0x00}),
                               wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x41, 0x00,
                                     0xfd, 0x11, 0x1a, 0x0b})}) {
        EXPECT_TRUE(decode(bytes)) << "SIMD is on by default";
        auto r = decode(bytes, scalar);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, ErrorKind::invalid);
        EXPECT_NE(r.error().message.find("needs the simd feature"), std::string::npos)
            << r.error().message;
    }
}

// ---- Malformed modules ----------------------------------------------------------------------

TEST(DecoderMalformed, Header) {
    expect_malformed({}, "unexpected end");
    expect_malformed({0x00, 0x61, 0x73}, "unexpected end");
    expect_malformed({0x00, 0x61, 0x73, 0x6d, 0x01, 0x00}, "unexpected end");
    expect_malformed({'a', 's', 'm', 0x00, 0x01, 0x00, 0x00, 0x00}, "magic header not detected");
    expect_malformed({0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00}, "unknown binary version");
}

TEST(DecoderMalformed, Sections) {
    expect_malformed(wasm({0x0d, 0x00}), "malformed section id");
    expect_malformed(wasm({0x80, 0x00, 0x01, 0x00}), "malformed section id");
    // Repeated and out-of-order sections.
    expect_malformed(wasm({TYPE_VOID, TYPE_VOID}), "unexpected content after last section");
    expect_malformed(wasm({TYPE_VOID, 0x0a, 0x01, 0x00, FUNC_ONE}),
                     "unexpected content after last section");
    expect_malformed(wasm({0x0b, 0x01, 0x00, 0x0c, 0x01, 0x00}),
                     "unexpected content after last section");
    // Declared size larger and smaller than the content.
    expect_malformed(wasm({0x01, 0x05, 0x01, 0x60, 0x00, 0x00, 0x00}), "section size mismatch");
    expect_malformed(wasm({0x01, 0x03, 0x01, 0x60, 0x00, 0x00}), "unexpected end");
    expect_malformed(wasm({0x01, 0x09, 0x01, 0x60, 0x00, 0x00}), "length out of bounds");
}

TEST(DecoderMalformed, Leb128) {
    // Memory minimum in six bytes.
    expect_malformed(wasm({0x05, 0x08, 0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00}),
                     "integer representation too long");
    // Memory minimum with unused bits of the fifth byte set.
    expect_malformed(wasm({0x05, 0x07, 0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x70}),
                     "integer too large");
    // i32.const whose fifth byte is not a sign extension.
    expect_malformed(wasm({0x06, 0x0a, 0x01, 0x7f, 0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x0b}),
                     "integer too large");
}

TEST(DecoderMalformed, Utf8Names) {
    expect_malformed(wasm({0x00, 0x02, 0x01, 0xff}), "malformed UTF-8 encoding");
    // Import module name with a lone continuation byte.
    expect_malformed(wasm({0x02, 0x07, 0x01, 0x01, 0x80, 0x01, 'f', 0x00, 0x00}),
                     "malformed UTF-8 encoding");
    // An overlong encoding of '/'.
    expect_malformed(wasm({0x07, 0x05, 0x01, 0x02, 0xc0, 0xaf, 0x00}), "malformed UTF-8 encoding");
}

TEST(DecoderMalformed, ImportsAndTypes) {
    expect_malformed(wasm({0x02, 0x06, 0x01, 0x01, 'm', 0x01, 'f', 0x04}), "malformed import kind");
    expect_malformed(wasm({0x02, 0x08, 0x01, 0x01, 'm', 0x01, 'g', 0x03, 0x7f, 0x02}),
                     "malformed mutability");
    expect_malformed(wasm({0x06, 0x06, 0x01, 0x7f, 0xff, 0x41, 0x00, 0x0b}),
                     "malformed mutability");
    expect_malformed(wasm({0x01, 0x04, 0x01, 0x61, 0x00, 0x00}), "malformed function type");
    expect_malformed(wasm({0x01, 0x05, 0x01, 0x60, 0x01, 0x7a, 0x00}), "malformed value type");
    expect_malformed(wasm({0x04, 0x04, 0x01, 0x7f, 0x00, 0x00}), "malformed reference type");
    expect_malformed(wasm({0x07, 0x05, 0x01, 0x01, 'e', 0x04, 0x00}), "malformed export kind");
}

TEST(DecoderMalformed, LimitsFlags) {
    expect_malformed(wasm({0x05, 0x03, 0x01, 0x02, 0x00}), "integer too large");
    expect_malformed(wasm({0x05, 0x04, 0x01, 0x81, 0x00, 0x00}), "integer representation too long");
    expect_malformed(wasm({0x04, 0x04, 0x01, 0x70, 0x03, 0x00}), "integer too large");
}

TEST(DecoderMalformed, FunctionAndCodeCounts) {
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE}),
                     "function and code section have inconsistent lengths");
    expect_malformed(wasm({TYPE_VOID, CODE_EMPTY}),
                     "function and code section have inconsistent lengths");
    expect_malformed(wasm({TYPE_VOID, 0x03, 0x03, 0x02, 0x00, 0x00, CODE_EMPTY}),
                     "function and code section have inconsistent lengths");
}

TEST(DecoderMalformed, FunctionBodies) {
    // No final end.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x41, 0x00}),
                     "unexpected end of section or function");
    // Bytes after the final end.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x0b, 0x01}),
                     "section size mismatch");
    // else outside an if.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x05, 0x0b}),
                     "END opcode expected");
    // A block closed by the function's end leaves the body without its own end.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x02, 0x40, 0x0b}),
                     "unexpected end of section or function");
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x05, 0x01, 0x03, 0x00, 0xff, 0x0b}),
                     "illegal opcode");
    // memory.size with a reserved byte that is not zero.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x05, 0x03, 0x01, 0x00, 0x00, 0x0a, 0x07, 0x01,
                           0x05, 0x00, 0x3f, 0x01, 0x1a, 0x0b}),
                     "zero byte expected");
}

TEST(DecoderMalformed, TooManyLocals) {
    // 50,001 i32 locals in one function.
    expect_malformed(
        wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x08, 0x01, 0x06, 0x01, 0xd1, 0x86, 0x03, 0x7f, 0x0b}),
        "too many locals");
    // Two groups whose sum wraps a 32-bit counter.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x0c, 0x01, 0x0a, 0x02, 0xff, 0xff, 0xff,
                           0xff, 0x0f, 0x7f, 0x02, 0x7e, 0x0b}),
                     "too many locals");
    // Exactly 50,000 is fine.
    auto r = decode(
        wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x08, 0x01, 0x06, 0x01, 0xd0, 0x86, 0x03, 0x7f, 0x0b}));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)->functions[0].locals.size(), 50000u);
}

TEST(DecoderMalformed, DataCount) {
    expect_malformed(wasm({0x0c, 0x01, 0x01}),
                     "data count and data section have inconsistent lengths");
    expect_malformed(wasm({0x0c, 0x01, 0x02, 0x0b, 0x03, 0x01, 0x01, 0x00}),
                     "data count and data section have inconsistent lengths");
    // memory.init and data.drop need the data count section.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x05, 0x03, 0x01, 0x00, 0x00, 0x0a, 0x0e, 0x01,
                           0x0c,      0x00,     0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08,
                           0x00,      0x00,     0x0b, 0x0b, 0x03, 0x01, 0x01, 0x00}),
                     "data count section required");
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x07, 0x01, 0x05, 0x00, 0xfc, 0x09, 0x00,
                           0x0b, 0x0b, 0x03, 0x01, 0x01, 0x00}),
                     "data count section required");
}

TEST(DecoderMalformed, Segments) {
    expect_malformed(wasm({0x09, 0x02, 0x01, 0x08}), "malformed elements segment kind");
    expect_malformed(wasm({0x09, 0x05, 0x01, 0x01, 0x01, 0x01, 0x00}), "malformed element kind");
    expect_malformed(wasm({0x09, 0x07, 0x01, 0x05, 0x7f, 0x01, 0xd2, 0x00, 0x0b}),
                     "malformed reference type");
    expect_malformed(wasm({0x0b, 0x03, 0x01, 0x03, 0x00}), "malformed data segment kind");
}

TEST(DecoderMalformed, ConstantExpressions) {
    // A valid but non-constant instruction (i32.div_u; i32.add is constant with extended-const)
    // is a validation error ...
    expect_error(wasm({0x06, 0x09, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x41, 0x00, 0x6e, 0x0b}),
                 ErrorKind::invalid, "constant expression required");
    // ... an illegal opcode a decoding error ...
    expect_malformed(wasm({0x06, 0x06, 0x01, 0x7f, 0x00, 0xf3, 0x00, 0x0b}), "illegal opcode");
    // ... and a later malformed section still wins over the earlier invalid expression.
    expect_malformed(wasm({0x06, 0x07, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x1a, 0x0b, 0x0d, 0x00}),
                     "malformed section id");
    // An expression without its end.
    expect_malformed(wasm({0x06, 0x05, 0x01, 0x7f, 0x00, 0x41, 0x00}),
                     "unexpected end of section or function");
}

// ---- Hostile inputs -------------------------------------------------------------------------

TEST(DecoderHostile, HugeCounts) {
    // Counts near 2^32 in tiny sections must fail fast without allocating.
    expect_malformed(wasm({0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f}), "unexpected end");
    expect_malformed(wasm({0x01, 0x08, 0x01, 0x60, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}),
                     "unexpected end");
    expect_malformed(wasm({0x02, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f}), "unexpected end");
    expect_malformed(wasm({0x09, 0x09, 0x01, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}),
                     "unexpected end");
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x09, 0x01, 0x07, 0xff, 0xff, 0xff, 0xff,
                           0x0f, 0x7f, 0x0b}),
                     "unexpected end");
    // br_table with a huge target count.
    expect_malformed(wasm({TYPE_VOID, FUNC_ONE, 0x0a, 0x0c, 0x01, 0x0a, 0x00, 0x41, 0x00, 0x0e,
                           0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b}),
                     "unexpected end");
    // A custom section claiming 4 GiB.
    expect_malformed(wasm({0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}), "length out of bounds");
}

TEST(DecoderHostile, ManyFunctionsWithMaxLocalsHitTheModuleBudget) {
    // 400 functions declaring 50,000 locals each, 6 bytes apiece: far more locals than the
    // module's size allows, so decoding stops instead of allocating 20 MB of local types.
    constexpr uint32_t n = 400;
    Bytes b = wasm({TYPE_VOID});
    b.push_back(0x03);
    Bytes funcs = {0x90, 0x03}; // 400 as LEB128
    funcs.insert(funcs.end(), n, 0x00);
    b.push_back(static_cast<uint8_t>(funcs.size() & 0x7f) | 0x80);
    b.push_back(static_cast<uint8_t>(funcs.size() >> 7));
    b.insert(b.end(), funcs.begin(), funcs.end());
    Bytes code = {0x90, 0x03};
    for (uint32_t i = 0; i < n; ++i)
        code.insert(code.end(), {0x06, 0x01, 0xd0, 0x86, 0x03, 0x7f, 0x0b});
    b.push_back(0x0a);
    b.push_back(static_cast<uint8_t>(code.size() & 0x7f) | 0x80);
    b.push_back(static_cast<uint8_t>(code.size() >> 7));
    b.insert(b.end(), code.begin(), code.end());
    expect_malformed(b, "too many locals in the module");
}

TEST(DecoderHostile, EveryPrefixOfAValidModule) {
    WAT_OR_SKIP(bytes, full_wat);
    ASSERT_TRUE(decode(bytes));
    size_t accepted = 0;
    for (size_t n = 0; n < bytes.size(); ++n) {
        Bytes prefix(bytes.begin(), bytes.begin() + n);
        auto r = decode(prefix);
        if (r) {
            // Only a cut between sections can decode, and then it must not validate past the
            // missing parts.
            ++accepted;
            (void)validate(**r);
        } else {
            EXPECT_EQ(r.error().kind, ErrorKind::malformed) << n << ": " << r.error().message;
        }
    }
    // The header alone and cuts before the data count, code and later sections can't all be
    // well-formed (function/code and data count mismatches), so few prefixes decode.
    EXPECT_LT(accepted, 12u);
}

TEST(DecoderHostile, RandomByteMutations) {
    WAT_OR_SKIP(bytes, full_wat);
    std::mt19937 rng(12345);
    for (int iter = 0; iter < 3000; ++iter) {
        Bytes b = bytes;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t pos = 8 + rng() % (b.size() - 8);
            switch (rng() % 3) {
            case 0: b[pos] = static_cast<uint8_t>(rng()); break;
            case 1: b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
            default: b[pos] = (rng() % 2) ? 0xff : 0x00; break;
            }
        }
        auto r = decode(b);
        if (r) (void)validate(**r);
    }
}

} // namespace
