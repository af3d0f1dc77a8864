// Tests of the validator: the typing rules of function bodies and the module-level rules.
#include "engine/binary/decoder.hpp"
#include "engine/validate/validator.hpp"
#include "test_util.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::engine;

std::optional<Result<void>> check_wat(std::string_view wat) {
    auto bytes = kiln::test::wat_to_wasm(wat);
    if (!bytes) return std::nullopt;
    auto m = decode(*bytes);
    if (!m) return Result<void>(tl::unexpected<Error>(m.error()));
    return validate(**m);
}

#define EXPECT_VALID(wat)                                                                          \
    do {                                                                                           \
        auto r_ = check_wat(wat);                                                                  \
        if (!r_) GTEST_SKIP() << "wat2wasm is not installed";                                      \
        EXPECT_TRUE(*r_) << r_->error().message << "\n" << (wat);                                  \
    } while (0)

#define EXPECT_INVALID(wat, text)                                                                  \
    do {                                                                                           \
        auto r_ = check_wat(wat);                                                                  \
        if (!r_) GTEST_SKIP() << "wat2wasm is not installed";                                      \
        ASSERT_FALSE(*r_) << "validated, expected \"" << (text) << "\"\n" << (wat);                \
        EXPECT_EQ(r_->error().kind, ErrorKind::invalid) << r_->error().message;                    \
        EXPECT_NE(r_->error().message.find(text), std::string::npos)                               \
            << "message \"" << r_->error().message << "\" lacks \"" << (text) << "\"";             \
    } while (0)

// ---- Valid code -----------------------------------------------------------------------------

TEST(Validator, ManyFeaturesTogether) {
    EXPECT_VALID(R"(
(module
  (type $sig (func (param i32) (result i32)))
  (type $pair (func (param i32) (result i32 i32)))
  (table $ft 4 funcref)
  (table $et 1 externref)
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (elem $seg func $id)
  (data $d "abc")
  (func $id (type $sig) (local.get 0))
  (func (export "run") (param i32) (result i32 i64)
    (local f64 externref)
    ;; multi-value block with a parameter
    (local.get 0)
    (block (type $pair) (drop) (local.get 0) (local.get 0))
    (i32.add)
    (call_indirect (type $sig) (i32.const 0))
    (global.set $g)
    (drop (i64.extend_i32_s (i32.extend8_s (global.get $g))))
    (drop (i32.trunc_sat_f64_s (local.get 1)))
    (drop (select (result externref) (local.get 2) (ref.null extern) (i32.const 1)))
    (drop (ref.is_null (ref.func $id)))
    (table.init $ft $seg (i32.const 0) (i32.const 0) (i32.const 1))
    (elem.drop $seg)
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3))
    (data.drop $d)
    (memory.copy (i32.const 0) (i32.const 1) (i32.const 1))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 1))
    (drop (table.grow $et (ref.null extern) (i32.const 1)))
    (table.set $et (i32.const 0) (table.get $et (i32.const 0)))
    (table.fill $et (i32.const 0) (ref.null extern) (i32.const 1))
    (drop (table.size $ft))
    (table.copy $ft $ft (i32.const 0) (i32.const 0) (i32.const 1))
    (i64.store32 offset=8 align=4 (i32.const 0) (i64.load8_u (i32.const 0)))
    (drop (memory.grow (memory.size)))
    (i32.const 7)
    (i64.const 9)
  )
)
)");
}

TEST(Validator, ControlFlow) {
    EXPECT_VALID(R"(
(module
  (func (param i32) (result i32)
    (block $out (result i32)
      (local.get 0)
      (loop $top (param i32) (result i32)
        (br_if $top (i32.sub (local.get 0) (i32.const 1)) (local.get 0))
        (br_table $out $out (i32.const 0))
      )
    )
  )
  (func (param i32) (result i32)
    local.get 0
    local.get 0
    if (param i32) (result i32)
      i32.const 1
      i32.add
    else
      i32.const 2
      i32.sub
    end)
  (func (param i32) (result i32)
    ;; an if without else is fine when it maps its parameters to themselves
    (local.get 0) (local.get 0) (if (param i32) (result i32) (then)))
  (func (result i32)
    (block (result i32) (return (i32.const 1))))
)
)");
}

TEST(Validator, PolymorphicStackAfterUnreachable) {
    EXPECT_VALID(R"(
(module
  (func (result i32) unreachable i32.add)
  (func (result f64) unreachable select)
  (func (result i32) (i32.const 0) (br 0) i32.eqz)
  (func (param i32) (result i32)
    (block (result i32) (br_table 0 0 (i32.const 5) (local.get 0)) drop drop i32.const 1))
  (func (result i32 i64) unreachable)
  (func
    ;; br_table targets of different types, checked against an empty polymorphic stack
    (block (result f32) (block (result i32) unreachable (br_table 0 1 0)) drop f32.const 0)
    drop)
  (func (result i32) (return (i32.const 0)) (ref.is_null))
)
)");
}

// ---- Invalid code ---------------------------------------------------------------------------

TEST(ValidatorInvalid, TypeMismatchMessageNamesFunctionOffsetAndTypes) {
    auto bytes = kiln::test::wat_to_wasm(R"(
(module
  (func)
  (func (result i32) (i32.add (i32.const 1) (f64.const 2))))
)");
    if (!bytes) GTEST_SKIP() << "wat2wasm is not installed";
    auto m = decode(*bytes);
    ASSERT_TRUE(m) << m.error().message;
    auto r = validate(**m);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::invalid);
    // The i32.add of func 1 is after the two constants (2 + 9 bytes) in the second body.
    const Function& f = (*m)->functions[1];
    const auto expected = "func 1 at offset 0x" + fmt::format("{:x}", f.code_offset + 11) +
                          ": type mismatch in i32.add, expected i32 but got f64";
    EXPECT_EQ(r.error().message, expected);
}

TEST(ValidatorInvalid, OperandStack) {
    EXPECT_INVALID("(module (func (result i32) (i32.add (i32.const 1))))", "got nothing");
    EXPECT_INVALID("(module (func (i32.const 1)))", "type mismatch");
    EXPECT_INVALID("(module (func (result i32)))", "type mismatch");
    EXPECT_INVALID("(module (func (result i32) (block (i32.const 1)) (i32.const 1)))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (block (param i32) (drop))))", "type mismatch");
    // Unreachable code is polymorphic only below the current frame.
    EXPECT_INVALID("(module (func unreachable (block i32.add drop)))", "type mismatch");
    EXPECT_INVALID("(module (func (result i32) unreachable (i64.const 0)))", "type mismatch");
}

TEST(ValidatorInvalid, IfAndBranches) {
    EXPECT_INVALID("(module (func (result i32) (if (result i32) (i32.const 1) (then "
                   "(i32.const 1)))))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (if (f32.const 0) (then))))", "type mismatch");
    EXPECT_INVALID("(module (func (br 1)))", "unknown label");
    EXPECT_INVALID("(module (func (block (br_table 0 2 (i32.const 0)))))", "unknown label");
    EXPECT_INVALID("(module (func (block (result i32) (block (br_table 0 1 (i32.const 0) "
                   "(i32.const 0))) (i32.const 1))))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (result i32) (block (result f32) (br_if 0 (f32.const 0) "
                   "(i64.const 1))) drop (i32.const 0)))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (result i64) (return (i32.const 0))))", "type mismatch");
}

TEST(ValidatorInvalid, SelectAndReferences) {
    EXPECT_INVALID("(module (func (drop (select (ref.null func) (ref.null func) "
                   "(i32.const 1)))))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (drop (select (i32.const 0) (i64.const 0) (i32.const 1)))))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (drop (ref.is_null (i32.const 0)))))", "type mismatch");
    EXPECT_INVALID("(module (func $f) (func (drop (ref.func $f))))",
                   "undeclared function reference");
    EXPECT_VALID("(module (func $f) (elem declare func $f) (func (drop (ref.func $f))))");
    EXPECT_VALID("(module (func $f (export \"f\")) (func (drop (ref.func $f))))");
    EXPECT_VALID("(module (func $f) (global funcref (ref.func $f)) (func (drop (ref.func $f))))");
    EXPECT_INVALID("(module (func (drop (ref.func 7))))", "unknown function 7");
}

TEST(ValidatorInvalid, CallsLocalsGlobals) {
    EXPECT_INVALID("(module (func (call 3)))", "unknown function");
    EXPECT_INVALID("(module (func $f (param i32)) (func (call $f (i64.const 0))))",
                   "type mismatch");
    EXPECT_INVALID("(module (table 1 externref) (func (call_indirect (i32.const 0))))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (call_indirect (i32.const 0))))", "unknown table");
    EXPECT_INVALID("(module (func (param i32) (drop (local.get 1))))", "unknown local");
    EXPECT_INVALID("(module (func (local i64) (local.set 0 (i32.const 0))))", "type mismatch");
    EXPECT_INVALID("(module (func (drop (global.get 0))))", "unknown global");
    EXPECT_INVALID("(module (global i32 (i32.const 0)) (func (global.set 0 (i32.const 1))))",
                   "global is immutable");
}

TEST(ValidatorInvalid, Memory) {
    EXPECT_INVALID("(module (func (drop (i32.load (i32.const 0)))))", "unknown memory");
    EXPECT_INVALID("(module (func (drop (memory.size))))", "unknown memory");
    EXPECT_INVALID("(module (memory 1) (func (drop (i32.load align=8 (i32.const 0)))))",
                   "alignment must not be larger than natural");
    EXPECT_INVALID("(module (memory 1) (func (i64.store16 align=4 (i32.const 0) "
                   "(i64.const 0))))",
                   "alignment must not be larger than natural");
    EXPECT_VALID("(module (memory 1) (func (drop (i64.load align=8 (i32.const 0)))))");
    EXPECT_INVALID("(module (memory 1) (func (i32.store (i32.const 0) (f32.const 0))))",
                   "type mismatch in i32.store, expected i32 but got f32");
    EXPECT_INVALID("(module (memory 1) (data \"\") (func (data.drop 1)))",
                   "unknown data segment 1");
}

TEST(ValidatorInvalid, Tables) {
    EXPECT_INVALID("(module (func (drop (table.size 0))))", "unknown table");
    EXPECT_INVALID("(module (table 1 funcref) (func (table.set 0 (i32.const 0) "
                   "(ref.null extern))))",
                   "type mismatch");
    EXPECT_INVALID("(module (table 1 funcref) (elem externref (ref.null extern)) "
                   "(func (table.init 0 0 (i32.const 0) (i32.const 0) (i32.const 0))))",
                   "type mismatch");
    EXPECT_INVALID("(module (table 1 funcref) (table 1 externref) "
                   "(func (table.copy 0 1 (i32.const 0) (i32.const 0) (i32.const 0))))",
                   "type mismatch");
    EXPECT_INVALID("(module (func (elem.drop 0)))", "unknown elem segment 0");
}

// ---- Module-level rules ---------------------------------------------------------------------

TEST(ValidatorInvalid, ConstantExpressions) {
    EXPECT_INVALID("(module (global i32 (i64.const 0)))", "type mismatch");
    EXPECT_INVALID("(module (global i32 (i32.const 0) (i32.const 1)))", "type mismatch");
    EXPECT_INVALID("(module (global $a i32 (i32.const 0)) (global i32 (global.get $a)))",
                   "unknown global");
    EXPECT_INVALID("(module (global (import \"m\" \"g\") (mut i32)) "
                   "(global i32 (global.get 0)))",
                   "constant expression required");
    EXPECT_VALID("(module (global (import \"m\" \"g\") i32) (global i32 (global.get 0)))");
    EXPECT_INVALID("(module (memory 1) (data (i64.const 0) \"\"))", "type mismatch");
    EXPECT_INVALID("(module (table 1 funcref) (elem (i32.const 0) externref "
                   "(ref.null extern)))",
                   "type mismatch");
    EXPECT_INVALID("(module (elem (i32.const 0) func))", "unknown table 0");
    EXPECT_INVALID("(module (data (i32.const 0) \"\"))", "unknown memory 0");
}

TEST(ValidatorInvalid, LimitsMemoriesStartExports) {
    EXPECT_INVALID("(module (memory 2 1))", "size minimum must not be greater than maximum");
    EXPECT_INVALID("(module (table 2 1 funcref))", "size minimum must not be greater than maximum");
    EXPECT_INVALID("(module (memory 65537))", "memory size must be at most 65536 pages (4GiB)");
    EXPECT_INVALID("(module (memory 1 65537))", "memory size must be at most 65536 pages (4GiB)");
    EXPECT_VALID("(module (memory 0 65536))");
    EXPECT_INVALID("(module (memory (import \"m\" \"m\") 1) (memory 1))", "multiple memories");
    EXPECT_INVALID("(module (func $s (param i32)) (start $s))", "start function");
    EXPECT_INVALID("(module (func $s (result i32) (i32.const 0)) (start $s))", "start function");
    EXPECT_INVALID("(module (start 3))", "unknown function");
    EXPECT_INVALID("(module (func (export \"a\")) (global (export \"a\") i32 (i32.const 0)))",
                   "duplicate export name");
    EXPECT_INVALID("(module (export \"a\" (func 0)))", "unknown function");
    EXPECT_INVALID("(module (export \"m\" (memory 0)))", "unknown memory");
    EXPECT_INVALID("(module (type (func)) (func (type 1)))", "unknown type");
}

// Modules built by hand reach rules that decode() already enforces, and a typed select with the
// wrong arity, which wat2wasm does not emit.
TEST(ValidatorInvalid, HandBuiltModules) {
    // select (result) with zero types: 0x1c 0x00.
    const std::vector<uint8_t> select0 = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                          0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
                                          0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x41, 0x00, 0x41, 0x00,
                                          0x41, 0x00, 0x1c, 0x00, 0x1a, 0x0b};
    auto m = decode(select0);
    ASSERT_TRUE(m) << m.error().message;
    auto r = validate(**m);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("invalid result arity"), std::string::npos)
        << r.error().message;

    // A block type naming type 5 of 1: 0x02 0x05.
    auto block5 = decode(std::vector<uint8_t>{
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
        0x03, 0x02, 0x01, 0x00, 0x0a, 0x07, 0x01, 0x05, 0x00, 0x02, 0x05, 0x0b, 0x0b});
    ASSERT_TRUE(block5) << block5.error().message;
    auto unknown_type = validate(**block5);
    ASSERT_FALSE(unknown_type);
    EXPECT_NE(unknown_type.error().message.find("unknown type 5"), std::string::npos)
        << unknown_type.error().message;

    // memory.init in a Module not made by decode(): without data segments the index is
    // unknown; with one but no data count section the module is malformed.
    Module hand;
    hand.bytes = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08, 0x00, 0x00, 0x0b};
    hand.types.push_back(FuncType{});
    hand.func_types.push_back(0);
    hand.memories.push_back(MemoryType{});
    Function f;
    f.code_offset = 0;
    f.code_end = static_cast<uint32_t>(hand.bytes.size());
    hand.functions.push_back(f);
    auto no_data = validate(hand);
    ASSERT_FALSE(no_data);
    EXPECT_EQ(no_data.error().kind, ErrorKind::invalid);
    EXPECT_NE(no_data.error().message.find("unknown data segment 0"), std::string::npos);
    DataSegment passive;
    passive.mode = SegmentMode::passive;
    hand.datas.push_back(passive);
    auto no_count = validate(hand);
    ASSERT_FALSE(no_count);
    EXPECT_EQ(no_count.error().kind, ErrorKind::malformed);
    EXPECT_NE(no_count.error().message.find("data count section required"), std::string::npos);
    hand.data_count = 1;
    EXPECT_TRUE(validate(hand));

    // A body whose recorded end lies past the module's bytes.
    hand.functions[0].code_end = 1000;
    EXPECT_FALSE(validate(hand));
}

} // namespace
