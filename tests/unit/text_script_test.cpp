// Tests of the .wast script parser: every command, values and expected results, the three forms
// of module, and the script that is one module's fields.
#include "text/script.hpp"

#include <kiln/module_info.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace kiln::text;
using Kind = ScriptCommand::Kind;

TEST(TextScript, EveryCommand) {
    auto script = Script::parse(R"wast(;; a script
(module $m (func (export "f") (param i32) (result i32) (local.get 0)))
(module binary "\00asm" "\01\00\00\00")
(module $q quote "(func (export \"g\"))")
(register "reg" $m)
(invoke $m "f" (i32.const -1))
(get "glob")
(assert_return (invoke "f" (i64.const 0x10) (f32.const -nan:0x1) (f64.const 1.5)
                           (ref.null extern) (ref.extern 7))
               (f32.const nan:canonical) (f64.const nan:arithmetic) (ref.func) (ref.null func))
(assert_trap (invoke "f") "unreachable")
(assert_trap (module (start 0) (func unreachable)) "unreachable")
(assert_exhaustion (invoke "f") "call stack exhausted")
(assert_malformed (module quote "(func") "unexpected token")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_unlinkable (module (import "x" "y" (func))) "unknown import")
(assert_uninstantiable (module (memory 0) (data (i32.const 1) "x")) "out of bounds")
)wast",
                                "s.wast");
    ASSERT_TRUE(script) << script.error().message;
    const auto& c = script->commands();
    ASSERT_EQ(c.size(), 14u);
    const Kind kinds[] = {Kind::module,
                          Kind::module,
                          Kind::module,
                          Kind::register_,
                          Kind::action,
                          Kind::action,
                          Kind::assert_return,
                          Kind::assert_trap,
                          Kind::assert_uninstantiable,
                          Kind::assert_exhaustion,
                          Kind::assert_malformed,
                          Kind::assert_invalid,
                          Kind::assert_unlinkable,
                          Kind::assert_uninstantiable};
    for (size_t i = 0; i < c.size(); ++i)
        EXPECT_EQ(c[i].kind, kinds[i]) << i;
    EXPECT_EQ(c[0].line, 2u);
    EXPECT_EQ(c[0].module->name, "$m");
    EXPECT_EQ(c[0].module->form, ScriptModule::Form::text);
    EXPECT_EQ(c[1].module->form, ScriptModule::Form::binary);
    EXPECT_EQ(c[1].module->data, std::string("\0asm\1\0\0\0", 8));
    EXPECT_EQ(c[2].module->form, ScriptModule::Form::quote);
    EXPECT_EQ(c[2].module->data, "(func (export \"g\"))");
    EXPECT_EQ(c[3].text, "reg");
    EXPECT_EQ(c[3].name, "$m");
    EXPECT_EQ(c[4].action->module, "$m");
    EXPECT_EQ(c[4].action->args[0].bits, 0xffffffffu);
    EXPECT_EQ(c[5].action->kind, ScriptAction::Kind::get);
    EXPECT_EQ(c[5].action->field, "glob");

    const auto& args = c[6].action->args;
    ASSERT_EQ(args.size(), 5u);
    EXPECT_EQ(args[0].type, kiln::ValType::i64);
    EXPECT_EQ(args[0].bits, 16u);
    EXPECT_EQ(args[1].bits, 0xff800001u);
    EXPECT_EQ(args[2].bits, 0x3ff8000000000000u);
    EXPECT_EQ(args[3].kind, ScriptValue::Kind::null);
    EXPECT_EQ(args[3].type, kiln::ValType::externref);
    EXPECT_EQ(args[4].bits, 7u);
    const auto& want = c[6].expected;
    ASSERT_EQ(want.size(), 4u);
    EXPECT_EQ(want[0].kind, ScriptValue::Kind::nan_canonical);
    EXPECT_EQ(want[1].kind, ScriptValue::Kind::nan_arithmetic);
    EXPECT_EQ(want[2].kind, ScriptValue::Kind::non_null);
    EXPECT_EQ(want[2].type, kiln::ValType::funcref);
    EXPECT_EQ(want[3].kind, ScriptValue::Kind::null);
    EXPECT_EQ(c[7].text, "unreachable");
    EXPECT_EQ(c[14 - 1].text, "out of bounds");
}

TEST(TextScript, ModulesEncodeWhenUsed) {
    auto script = Script::parse(R"wast((module $m (func $f (export "f")))
(module quote "(func (export \"g\") (nop))")
(assert_malformed (module quote "(func (i32.ad))") "unknown operator")
(assert_invalid (module (func (call $nowhere))) "unknown function"))wast",
                                "e.wast");
    ASSERT_TRUE(script) << script.error().message;
    const auto& c = script->commands();
    auto text = script->encode(*c[0].module);
    ASSERT_TRUE(text) << text.error().message;
    auto info = kiln::ModuleInfo::decode(*text);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->name(), "m");
    EXPECT_EQ(info->exports()[0].name, "f");
    auto quoted = script->encode(*c[1].module);
    ASSERT_TRUE(quoted) << quoted.error().message;
    // A module's error belongs to its command, with the place in the script or the quote.
    auto bad_quote = script->encode(*c[2].module);
    ASSERT_FALSE(bad_quote);
    EXPECT_EQ(bad_quote.error().message, "e.wast:3 (module quote):1:8: unknown operator 'i32.ad'");
    auto bad_text = script->encode(*c[3].module);
    ASSERT_FALSE(bad_text);
    EXPECT_EQ(bad_text.error().message, "e.wast:4:37: unknown func $nowhere");
}

TEST(TextScript, FieldsAloneAreOneModule) {
    auto script = Script::parse("(func) (memory 0) (func (export \"f\"))", "inline.wast");
    ASSERT_TRUE(script) << script.error().message;
    ASSERT_EQ(script->commands().size(), 1u);
    auto bytes = script->encode(*script->commands()[0].module);
    ASSERT_TRUE(bytes) << bytes.error().message;
}

TEST(TextScript, ScriptErrors) {
    auto unknown = Script::parse("(module)\n  (assert_bogus)", "x.wast");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "x.wast:2:4: unknown script command 'assert_bogus'");
    auto value = Script::parse("(invoke \"f\" (i32.const 1.5))", "x.wast");
    ASSERT_FALSE(value);
    EXPECT_EQ(value.error().message, "x.wast:1:24: expected an integer literal, found '1.5'");
    auto nan_argument = Script::parse("(invoke \"f\" (f32.const nan:canonical))", "x.wast");
    ASSERT_FALSE(nan_argument);
}

} // namespace
