// Tests of the text-format parser (kiln::wat_to_wasm): the bytes it writes (by hand, and against
// wabt's wat2wasm where it is installed), the abbreviations, names, running what it makes, and
// the errors it reports with their positions.
#include "base/reader.hpp"
#include "test_util.hpp"

#include <kiln/kiln.hpp>
#include <kiln/text.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

Bytes header() {
    return {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
}

Bytes convert(std::string_view wat, bool names = false) {
    auto bytes = kiln::wat_to_wasm(wat, "t.wat", kiln::WatOptions{names});
    EXPECT_TRUE(bytes) << bytes.error().message;
    return bytes ? *bytes : Bytes{};
}

std::string error_of(std::string_view wat) {
    auto bytes = kiln::wat_to_wasm(wat, "t.wat");
    if (bytes) return "no error";
    EXPECT_EQ(bytes.error().kind, kiln::ErrorKind::malformed);
    return bytes.error().message;
}

/// The sections of a binary without its custom ones: what two encoders must agree on.
std::vector<std::pair<uint8_t, Bytes>> standard_sections(const Bytes& wasm) {
    std::vector<std::pair<uint8_t, Bytes>> out;
    kiln::Reader r(wasm);
    EXPECT_TRUE(r.skip(8));
    while (!r.at_end()) {
        auto id = r.u8();
        auto size = r.leb_u32();
        if (!id || !size) break;
        auto body = r.bytes(*size);
        if (!body) break;
        if (*id != 0) out.emplace_back(*id, Bytes(body->begin(), body->end()));
    }
    return out;
}

TEST(TextModule, BytesOfASmallModule) {
    // (func (export "add") (param $a i32) (param $b i32) (result i32) ...)
    Bytes expected = header();
    expected.insert(expected.end(),
                    {
                        0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // type
                        0x03, 0x02, 0x01, 0x00,                               // function
                        0x07, 0x07, 0x01, 0x03, 'a',  'd',  'd',  0x00, 0x00, // export
                        0x0a, 0x09, 0x01, 0x07, 0x00,                         // code, no locals
                        0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,                   // get get add end
                    });
    EXPECT_EQ(convert(R"((module
      (func (export "add") (param $a i32) (param $b i32) (result i32)
        (i32.add (local.get $a) (local.get $b)))))"),
              expected);
    // The module's fields alone are a module too.
    EXPECT_EQ(convert(R"((func (export "add") (param i32 i32) (result i32)
        local.get 0 local.get 1 i32.add))"),
              expected);
}

TEST(TextModule, FoldedAndPlainInstructionsAreTheSame) {
    const std::pair<const char*, const char*> pairs[] = {
        {"(func (result i32) (i32.sub (i32.const 7) (i32.mul (i32.const 2) (i32.const 3))))",
         "(func (result i32) i32.const 7 i32.const 2 i32.const 3 i32.mul i32.sub)"},
        {"(func (param i32) (result i32) (if (result i32) (local.get 0) (then (i32.const 1)) "
         "(else (i32.const 2))))",
         "(func (param i32) (result i32) local.get 0 if (result i32) i32.const 1 else i32.const 2 "
         "end)"},
        {"(func $f (block $out (loop $in (br_if $out (i32.eqz (i32.const 0))) (br $in))))",
         "(func $f block $out loop $in i32.const 0 i32.eqz br_if $out br $in end end)"},
        {"(func (param i32) (block $a (block $b (br_table $a $b $a (local.get 0)))))",
         "(func (param i32) block $a block $b local.get 0 br_table 1 0 1 end end)"},
        {"(memory 1) (func (result i32) (i32.load8_u offset=4 align=1 (i32.const 0)))",
         "(memory 1) (func (result i32) i32.const 0 i32.load8_u offset=4)"},
    };
    for (const auto& [folded, plain] : pairs)
        EXPECT_EQ(convert(folded), convert(plain)) << folded;
}

TEST(TextModule, InlineTypesFollowTheExplicitOnesAndReuseThem) {
    auto bytes = convert(R"((module
      (func (param i64))
      (type $t (func (param i32)))
      (func (type $t))
      (func (param i32))
      (func (param $x i64) (local.get $x) (drop))))");
    auto info = kiln::ModuleInfo::decode(bytes);
    ASSERT_TRUE(info) << info.error().message;
    ASSERT_EQ(info->types().size(), 2u);
    EXPECT_EQ(info->types()[0], (kiln::FuncType{{kiln::ValType::i32}, {}}));
    EXPECT_EQ(info->types()[1], (kiln::FuncType{{kiln::ValType::i64}, {}}));
    EXPECT_EQ(info->func_types(), (std::vector<uint32_t>{1, 0, 0, 1}));
}

TEST(TextModule, AbbreviationsExpand) {
    auto info = kiln::ModuleInfo::decode(convert(R"((module
      (func $f (export "a") (export "b") (import "m" "n") (param i32))
      (global $g (import "m" "g") (mut i32))
      (memory (export "mem") (data "abc" "def"))
      (table $t (export "t") funcref (elem $f $f $f))
      (func (export "get") (result i32) (global.get $g))
      (elem declare func $f)))"));
    ASSERT_TRUE(info) << info.error().message;
    auto imports = info->imports();
    ASSERT_EQ(imports.size(), 2u);
    EXPECT_EQ(imports[0].module, "m");
    EXPECT_EQ(imports[0].name, "n");
    EXPECT_EQ(imports[1].global.mut, true);
    ASSERT_EQ(info->memories().size(), 1u);
    EXPECT_EQ(info->memories()[0].limits.min, 1u);
    EXPECT_EQ(info->memories()[0].limits.max, 1u);
    ASSERT_EQ(info->tables().size(), 1u);
    EXPECT_EQ(info->tables()[0].limits.min, 3u);
    EXPECT_EQ(info->tables()[0].limits.max, 3u);
    EXPECT_EQ(info->element_segments(), 2u);
    EXPECT_EQ(info->data_segments(), 1u);
    auto exports = info->exports();
    ASSERT_EQ(exports.size(), 5u);
    EXPECT_EQ(exports[0].name, "a");
    EXPECT_EQ(exports[1].name, "b");
    EXPECT_EQ(exports[1].index, 0u);
    EXPECT_EQ(exports[4].name, "get");
    EXPECT_EQ(exports[4].index, 1u);
}

TEST(TextModule, NamesSectionCarriesTheIds) {
    auto bytes = kiln::wat_to_wasm(R"((module $demo
      (import "m" "f" (func $imported))
      (func $second) (func) (func $fourth)))");
    ASSERT_TRUE(bytes) << bytes.error().message;
    auto info = kiln::ModuleInfo::decode(*bytes);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->name(), "demo");
    EXPECT_EQ(info->func_name(0), "imported");
    EXPECT_EQ(info->func_name(1), "second");
    EXPECT_EQ(info->func_name(3), "fourth");
    // Without names, the ids leave no trace.
    EXPECT_EQ(convert("(module $demo (func $f))"), convert("(module (func))"));
}

TEST(TextModule, WhatItWritesRuns) {
    kiln::Engine engine;
    auto module = kiln::Module::compile(engine, convert(R"((module
      (type $bin (func (param i32 i32) (result i32)))
      (memory (data "\01\02\03\04"))
      (table funcref (elem $add $sub))
      (global $count (mut i32) (i32.const 0))
      (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
      (func $sub (type $bin) local.get 0 local.get 1 i32.sub)
      (func (export "pick") (param $which i32) (param $a i32) (param $b i32) (result i32)
        (call_indirect (type $bin) (local.get $a) (local.get $b) (local.get $which)))
      (func (export "classify") (param i32) (result i32)
        (block $zero (block $one (block $many
          (br_table $zero $one $many (local.get 0)))
          (return (i32.const 100)))
          (return (i32.const 1)))
        (i32.const 0))
      (func (export "swap_sum") (param i32 i32) (result i32)
        (local.get 0) (local.get 1)
        (block (param i32 i32) (result i32 i32) (local.set 0) (local.set 1) (local.get 0)
          (local.get 1))
        (i32.sub))
      (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
      (func (export "pick_typed") (param i32) (result i64)
        (select (result i64) (i64.const -1) (i64.const 0x7fff_ffff_ffff) (local.get 0)))
      (func (export "bump") (result i32)
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        (global.get $count))))"));
    ASSERT_TRUE(module) << module.error().message;
    kiln::Store store(engine);
    kiln::Linker linker;
    auto instance = linker.instantiate(store, *module);
    ASSERT_TRUE(instance) << instance.error().message;
    auto call = [&](const char* name, std::vector<kiln::Value> args) {
        auto results = instance->get_func(store, name)->call(store, args);
        EXPECT_TRUE(results) << name << ": " << results.error().message;
        return results && !results->empty() ? (*results)[0].bits : ~uint64_t{0};
    };
    using V = kiln::Value;
    EXPECT_EQ(call("pick", {V::i32(0), V::i32(7), V::i32(2)}), 9u);
    EXPECT_EQ(call("pick", {V::i32(1), V::i32(7), V::i32(2)}), 5u);
    EXPECT_EQ(call("classify", {V::i32(0)}), 0u);
    EXPECT_EQ(call("classify", {V::i32(1)}), 1u);
    EXPECT_EQ(call("classify", {V::i32(9)}), 100u);
    EXPECT_EQ(call("swap_sum", {V::i32(10), V::i32(3)}), uint32_t(-7));
    EXPECT_EQ(call("byte", {V::i32(2)}), 3u);
    EXPECT_EQ(call("pick_typed", {V::i32(0)}), 0x7fffffffffffu);
    EXPECT_EQ(call("bump", {}), 1u);
    EXPECT_EQ(call("bump", {}), 2u);
}

TEST(TextModule, TailCallsAndExtendedConstantsRun) {
    // A million tail calls, direct and through a second table, in a store whose stack holds a
    // few frames; the table slot and the start value are extended constant expressions.
    kiln::Engine engine;
    auto module = kiln::Module::compile(engine, convert(R"((module
      (type $step (func (param i64 i64) (result i64)))
      (table $none 1 funcref)
      (table $steps 4 funcref)
      (global $slot i32 (i32.sub (i32.mul (i32.const 2) (i32.const 2)) (i32.const 1)))
      (global $start (export "start") i64 (i64.add (i64.const 1_000_000) (i64.const -1)))
      (elem (table $steps) (offset (i32.add (i32.const 1) (i32.const 2))) func $down)
      (func $down (type $step)
        (if (result i64) (i64.eqz (local.get 0))
          (then (local.get 1))
          (else (return_call_indirect $steps (type $step)
                  (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (local.get 0))
                  (global.get $slot)))))
      (func (export "sum") (param i64) (result i64)
        local.get 0 i64.const 0 return_call $down)))"));
    ASSERT_TRUE(module) << module.error().message;
    kiln::Store store(engine);
    store.set_stack_limits(64, 4096);
    kiln::Linker linker;
    auto instance = linker.instantiate(store, *module);
    ASSERT_TRUE(instance) << instance.error().message;
    auto start = instance->get_global(store, "start");
    ASSERT_TRUE(start);
    auto value = start->get(store);
    ASSERT_TRUE(value);
    const uint64_t n = value->bits;
    EXPECT_EQ(n, 999'999u);
    auto sum = instance->get_func(store, "sum")->call(store, {kiln::Value::i64(n)});
    ASSERT_TRUE(sum) << sum.error().message;
    EXPECT_EQ((*sum)[0].bits, n * (n + 1) / 2);
}

// Modules that cover the syntax; wabt's wat2wasm must write the same sections.
constexpr const char* oracle_modules[] = {
    R"((module
      (type $v (func))
      (type $ii (func (param i32) (result i32)))
      (import "env" "f" (func $f (type $ii)))
      (import "env" "t" (table 1 10 funcref))
      (import "env" "m" (memory 1 2))
      (import "env" "g" (global $g (mut f64)))
      (func $main (export "main") (param $x i32) (result i32) (local $y i64) (local f32 f32)
        (local.set $y (i64.extend_i32_s (local.get $x)))
        (call $f (i32.wrap_i64 (local.get $y))))
      (export "g" (global $g))
      (start $start)
      (func $start (type $v))))",
    R"((module
      (func (param i32 f64) (result f64 i32)
        (local.get 0) (local.get 1)
        block (param i32 f64) (result f64 i32)
          drop (local.set 0) (f64.const -0x1.8p-3) (i32.const -1)
        end
        loop $l (result i32) i32.const 0 end drop
        (if (param f64 i32) (result f64 i32) (i32.const 1) (then) (else drop drop
          (f64.const inf) (i32.const 0x7fff_ffff))))))",
    R"((module
      (memory 1)
      (data (i32.const 8) "\00\ff\u{1F600}\t")
      (data $passive "abc")
      (data (memory 0) (offset (i32.const 100)) "x" "y")
      (func (param i32)
        (memory.init $passive (local.get 0) (i32.const 0) (i32.const 3))
        (data.drop $passive)
        (memory.copy (i32.const 0) (i32.const 1) (i32.const 2))
        (memory.fill (i32.const 0) (i32.const 0) (i32.const 4))
        (drop (memory.grow (memory.size)))
        (i64.store32 offset=0x10 align=2 (i32.const 0) (i64.const -5))
        (f32.store (i32.const 0) (f32.load align=1 (i32.const 4))))))",
    R"((module
      (table $a 4 funcref)
      (table $b 2 externref)
      (func $f) (func $g)
      (elem (i32.const 0) $f $g)
      (elem (table $a) (offset (i32.const 2)) func $g)
      (elem $p funcref (ref.func $f) (ref.null func) (item ref.func $g))
      (elem $e externref (ref.null extern))
      (elem (table $b) (i32.const 0) externref (ref.null extern))
      (elem declare func $f)
      (func (param externref)
        (table.init $a $p (i32.const 0) (i32.const 0) (i32.const 1))
        (table.init $p (i32.const 0) (i32.const 0) (i32.const 1))
        (elem.drop $e)
        (table.copy $a $a (i32.const 0) (i32.const 1) (i32.const 1))
        (table.copy (i32.const 0) (i32.const 1) (i32.const 1))
        (drop (table.grow $b (local.get 0) (i32.const 1)))
        (table.fill $b (i32.const 0) (ref.null extern) (i32.const 1))
        (drop (table.size $b))
        (table.set $b (i32.const 0) (table.get $b (i32.const 1)))
        (drop (ref.is_null (ref.func $f))))))",
    R"((module
      (func (result i32 i64 f32 f64)
        i32.const 0x8000_0000 i64.const -9223372036854775808
        f32.const nan:0x200000 f64.const -nan
        (drop) (drop) (drop) (drop)
        i32.const -0 i64.const 18446744073709551615 f32.const 0x1.fffffep127
        f64.const 1e-320)
      (func (param f32 f64) (result i32)
        (i32.trunc_sat_f32_s (local.get 0)) (i32.trunc_sat_f64_u (local.get 1)) (i32.add)
        (i32.extend8_s) (i64.extend32_s (i64.const 1)) (i32.wrap_i64) (i32.add)
        (select (i32.const 1) (i32.const 2) (i32.const 3)) (i32.add))))",
    R"((module
      (type $t (func (param i32) (result i32)))
      (table 1 funcref)
      (func (param i32) (result i32)
        (call_indirect (type $t) (local.get 0) (i32.const 0))
        (call_indirect (param i32) (result i32) (i32.const 0))
        (call_indirect 0 (type $t) (i32.const 0))
        (block (type $t) (i32.add (i32.const 1)))
        (block (result i32) (br 0 (i32.const 1)))
        drop)
      (global f32 (f32.const 1.5))
      (global $r (export "r") funcref (ref.null func))
      (global externref (ref.null extern))))",
    R"((module
      (memory 1)
      (global $g (mut v128) (v128.const i64x2 -1 0x7fff_ffff_ffff_ffff))
      (func (param v128 i32) (result v128) (local $t v128)
        (local.set $t (v128.const i8x16 -128 255 0 1 2 3 4 5 6 7 8 9 10 11 12 +127))
        (drop (v128.const i16x8 -32768 65535 1 2 3 4 5 6))
        (drop (v128.const i32x4 0xffff_ffff -1 0 1))
        (drop (v128.const f32x4 1.5 -0x1p-149 inf nan:0x200000))
        (drop (v128.const f64x2 -nan 1e308))
        (drop (i8x16.shuffle 0 31 1 30 2 29 3 28 4 27 5 26 6 25 7 24 (local.get 0) (local.get $t)))
        (drop (i8x16.extract_lane_s 15 (local.get 0)))
        (drop (f64x2.replace_lane 1 (local.get 0) (f64.const 2)))
        (drop (v128.load8_lane 3 (local.get 1) (local.get 0)))
        (drop (v128.load64_lane offset=8 align=4 1 (local.get 1) (local.get 0)))
        (v128.store16_lane 7 (local.get 1) (local.get 0))
        (drop (v128.load (local.get 1)))
        (drop (v128.load8x8_s offset=3 (local.get 1)))
        (drop (v128.load32_zero (local.get 1)))
        (drop (v128.load16_splat align=1 (local.get 1)))
        (v128.store offset=16 (local.get 1) (global.get $g))
        (i32x4.dot_i16x8_s (local.get 0) (i16x8.splat (local.get 1)))
        (f64x2.convert_low_i32x4_u)
        (v128.bitselect (local.get $t) (local.get 0))
        (i32x4.trunc_sat_f64x2_u_zero))))",
    // Tail calls, in the forms of call and call_indirect (table index, type use, both, folded
    // and plain), and extended constants wherever a constant expression stands.
    R"((module
      (type $t (func (param i32) (result i32)))
      (import "env" "base" (global $base i32))
      (import "env" "big" (global $big i64))
      (table $a 2 funcref)
      (table $b 2 funcref)
      (memory 1)
      (global $g i32 (i32.add (global.get $base) (i32.mul (i32.const 4) (i32.const -3))))
      (global i64 (i64.sub (i64.mul (global.get $big) (i64.const 0x1_0000)) (i64.const 1)))
      (global i32 i32.const 1 global.get $base i32.sub)
      (elem (table $a) (offset (i32.sub (global.get $base) (i32.const 1))) func $f)
      (elem (table $b) (i32.add (global.get $base) (i32.const 0)) funcref (ref.func $f))
      (elem funcref (item ref.func $f) (ref.null func))
      (data (i32.mul (i32.const 2) (global.get $base)) "x")
      (data (offset i32.const 8 global.get $base i32.add) "y")
      (func $f (type $t) (return_call $f (local.get 0)))
      (func $g (param i32) (result i32)
        (return_call_indirect (type $t) (local.get 0) (i32.const 0)))
      (func (param i32) (result i32)
        (return_call_indirect $b (type $t) (local.get 0) (i32.const 1)))
      (func (param i32) (result i32)
        (return_call_indirect 1 (param i32) (result i32) (local.get 0) (i32.const 1)))
      (func (param i32) (result i32)
        local.get 0 i32.const 0 return_call_indirect $a (type $t) (param i32) (result i32))
      (func (param i32) (result i32)
        (if (result i32) (local.get 0)
          (then local.get 0 return_call $g)
          (else (return_call 0 (i32.const 1)))))))",
};

TEST(TextModule, SameSectionsAsWat2wasm) {
    for (const char* wat : oracle_modules) {
        auto reference = kiln::test::wat_to_wasm(wat);
        if (!reference && !::testing::Test::HasFailure()) GTEST_SKIP() << "no wat2wasm";
        ASSERT_TRUE(reference);
        auto ours = convert(wat, true);
        EXPECT_EQ(standard_sections(ours), standard_sections(*reference)) << wat;
    }
}

TEST(TextModule, ErrorsSayWhereWhatWasExpectedAndWhatWasFound) {
    const std::pair<const char*, const char*> cases[] = {
        {"(module\n  (func (i32.ad)))", "t.wat:2:10: unknown operator 'i32.ad'"},
        {"(func (result i32) i32.const)", "t.wat:1:29: expected an i32 literal, found ')'"},
        {"(func i32.const 0x1_0000_0000 drop)",
         "t.wat:1:17: i32 constant out of range: 0x1_0000_0000"},
        {"(func f64.const 1e999 drop)", "t.wat:1:17: f64 constant out of range: 1e999"},
        {"(func (param i33))",
         "t.wat:1:14: expected a value type (i32, i64, f32, f64, funcref or externref), found "
         "'i33'"},
        {"(func $f) (func $f)", "t.wat:1:17: duplicate func $f"},
        {"(func (call $nope))", "t.wat:1:13: unknown func $nope"},
        {"(func (return_call $nope))", "t.wat:1:20: unknown func $nope"},
        {"(func (return_call_indirect (type $nope)))", "t.wat:1:35: unknown type $nope"},
        {"(func (local $x i32) (local.get $y))", "t.wat:1:33: unknown local $y"},
        {"(func block $a br $b end)", "t.wat:1:19: unknown label $b"},
        {"(func block $a end $b)", "t.wat:1:20: mismatching label: expected $a, found $b"},
        {"(func block nop)", "t.wat:1:16: expected 'end' for the block at 1:7, found ')'"},
        {"(memory 1) (func (drop (i32.load align=3 (i32.const 0))))",
         "t.wat:1:34: alignment must be a power of two, found align=3"},
        {"(type $t (func (param i32))) (func (type $t) (param i64))",
         "t.wat:1:36: inline function type (i64) -> () does not match type 0: (i32) -> ()"},
        {"(func) (import \"a\" \"b\" (func))",
         "t.wat:1:8: import after function (at 1:1): imports come before the module's own "
         "functions, tables, memories and globals"},
        {"(start 0) (start 0) (func)", "t.wat:1:11: multiple start sections"},
        {"(func (export \"\\ff\"))",
         "t.wat:1:15: malformed UTF-8 encoding: a name must be valid UTF-8"},
        {"(func (nop) (local i32))",
         "t.wat:1:13: unexpected token: (local ...) after the instructions"},
        {"(module (func)) (func)", "t.wat:1:17: expected end of input after the module, found '('"},
        {"(module (fun))",
         "t.wat:1:10: unknown module field 'fun' (expected type, import, func, table, memory, "
         "global, export, start, elem or data)"},
        {"(func $l\"a\")",
         "t.wat:1:7: expected ')', found '$l\"a\"' (not a token: separate tokens with blanks)"},
    };
    for (const auto& [wat, message] : cases)
        EXPECT_EQ(error_of(wat), message) << wat;
}

TEST(TextModule, DeepNestingIsRefusedNotOverflowed) {
    std::string wat = "(func (result i32) ";
    for (int i = 0; i < 100000; ++i)
        wat += "(i32.add (i32.const 1) ";
    wat += "(i32.const 1)";
    for (int i = 0; i < 100000; ++i)
        wat += ")";
    wat += ")";
    EXPECT_NE(error_of(wat).find("nested more than"), std::string::npos);
    // Plain blocks do not recurse: a deep nest of them is fine.
    std::string plain = "(func ";
    for (int i = 0; i < 100000; ++i)
        plain += "block ";
    for (int i = 0; i < 100000; ++i)
        plain += "end ";
    plain += ")";
    EXPECT_TRUE(kiln::wat_to_wasm(plain));
}

TEST(TextModule, LooksLikeWat) {
    auto looks = [](std::string_view s) {
        return kiln::looks_like_wat(
            std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    };
    EXPECT_TRUE(looks("(module)"));
    EXPECT_TRUE(looks("\n  ;; a comment\n(module)"));
    EXPECT_TRUE(looks("(; block ;) (module)"));
    EXPECT_FALSE(looks(std::string_view("\0asm\1\0\0\0", 8)));
    EXPECT_FALSE(looks("{\"wasm\": []}"));
    EXPECT_FALSE(looks("[wasm]\n"));
    EXPECT_FALSE(looks(""));
}

} // namespace
