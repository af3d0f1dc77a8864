// Plugin calls that a host function suspends (CurrentPlugin::suspend, Plugin::resume) and plugin
// snapshots restored into a new instance, a suspended call included.
#include "plugin_test_util.hpp"

namespace {

using namespace kiln;
using namespace kiln::plugin_test;

// run: sets var "n" to the input's length, asks the host for a number (which may suspend),
// then outputs input_length + number + the var's first byte count.
constexpr const char* waiter = R"(
  (import "extism:host/user" "next" (func $next (param i64) (result i64)))
  (data (i32.const 64) "n")
  (data (i32.const 80) "xyz")
  (func (export "run") (result i32) (local $got i64) (local $v i64)
    (call $var_set (call $str (i32.const 64) (i32.const 1)) (call $str (i32.const 80) (i32.const 3)))
    (local.set $got (call $next (call $input_length)))
    (local.set $v (call $var_get (call $str (i32.const 64) (i32.const 1))))
    (call $out_i64 (i64.add (i64.mul (local.get $got) (i64.const 1000))
                            (i64.add (call $input_length) (call $length (local.get $v)))))
    (i32.const 0))
)";

PluginOptions with_next(bool suspend, int* calls = nullptr) {
    PluginOptions o;
    PluginFunction f;
    f.name = "next";
    f.type = FuncType{{ValType::i64}, {ValType::i64}};
    f.fn = [suspend, calls](CurrentPlugin& cp, std::span<const Value> args,
                            std::span<Value> results) {
        if (calls) ++*calls;
        if (suspend) {
            if (auto ok = cp.suspend(); !ok) cp.set_error(ok.error().message);
            return;
        }
        results[0] = Value::i64(args[0].as_i64() * 2);
    };
    o.functions.push_back(f);
    return o;
}

class SuspendSnapshot : public PluginTest {};

TEST_F(SuspendSnapshot, AHostFunctionSuspendsAPluginCallAndResumeFinishesIt) {
    int calls = 0;
    auto p = make_plugin(waiter, with_next(true, &calls));
    ASSERT_TRUE(p);
    auto r = p->call("run", "hello");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::suspended) << r.error().message;
    EXPECT_TRUE(p->is_suspended());
    auto other = p->call("run", "x");
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().kind, ErrorKind::usage);
    EXPECT_NE(other.error().message.find("suspended call of run"), std::string::npos);
    auto wrong = p->resume(std::vector<Value>{Value::i32(1)});
    ASSERT_FALSE(wrong);
    EXPECT_TRUE(p->is_suspended()) << "wrong results leave the call suspended";
    auto out = p->resume(std::vector<Value>{Value::i64(7)});
    KILN_ASSERT_OK(out);
    EXPECT_EQ(output_i64(*out), 7 * 1000 + 5 + 3);
    EXPECT_FALSE(p->is_suspended());
    EXPECT_EQ(calls, 1);
    auto again = p->call("run", "hi");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::suspended) << "a new call suspends again";
}

TEST_F(SuspendSnapshot, ADroppedCallLeavesAFreshInstanceForTheNext) {
    auto p = make_plugin(waiter, with_next(true));
    ASSERT_TRUE(p);
    ASSERT_FALSE(p->call("run", "abc"));
    p->drop_suspended();
    EXPECT_FALSE(p->is_suspended());
    auto again = p->call("run", "abcd");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::suspended);
    auto out = p->resume(std::vector<Value>{Value::i64(1)});
    KILN_ASSERT_OK(out);
    EXPECT_EQ(output_i64(*out), 1000 + 4 + 3);
}

TEST_F(SuspendSnapshot, ASuspendedCallMovesToANewInstanceThroughASnapshot) {
    auto p = make_plugin(waiter, with_next(true));
    ASSERT_TRUE(p);
    ASSERT_FALSE(p->call("run", "hello!"));
    auto bytes = p->snapshot();
    KILN_ASSERT_OK(bytes);
    // The new instance comes from a compiled plugin of the same module.
    auto compiled = CompiledPlugin::create(engine, manifest_for(waiter), with_next(true));
    KILN_ASSERT_OK(compiled);
    auto q = Plugin::restore(*compiled, *bytes);
    KILN_ASSERT_OK(q);
    EXPECT_TRUE(q->is_suspended());
    auto out = q->resume(std::vector<Value>{Value::i64(9)});
    KILN_ASSERT_OK(out);
    EXPECT_EQ(output_i64(*out), 9 * 1000 + 6 + 3);
    // The original can still finish its own copy of the call.
    auto mine = p->resume(std::vector<Value>{Value::i64(2)});
    KILN_ASSERT_OK(mine);
    EXPECT_EQ(output_i64(*mine), 2 * 1000 + 6 + 3);
}

TEST_F(SuspendSnapshot, VarsConfigAndMemoryOfAnIdlePluginComeBack) {
    auto p = make_plugin(waiter, with_next(false));
    ASSERT_TRUE(p);
    p->update_config({{"colour", "blue"}});
    EXPECT_EQ(output_i64(call_ok(*p, "run", "abc")), 6 * 1000 + 3 + 3);
    auto bytes = p->snapshot();
    KILN_ASSERT_OK(bytes);
    auto compiled = CompiledPlugin::create(engine, manifest_for(waiter), with_next(false));
    KILN_ASSERT_OK(compiled);
    auto q = Plugin::restore(*compiled, *bytes);
    KILN_ASSERT_OK(q);
    EXPECT_FALSE(q->is_suspended());
    EXPECT_EQ(output_i64(call_ok(*q, "run", "abcd")), 8 * 1000 + 4 + 3);
}

// _initialize counts its runs in a global and tells the host.
constexpr const char* initialized = R"(
  (import "extism:host/user" "seen" (func $seen))
  (global $runs (mut i64) (i64.const 0))
  (func (export "_initialize")
    (call $seen)
    (global.set $runs (i64.add (global.get $runs) (i64.const 1))))
  (func (export "run") (result i32) (call $out_i64 (global.get $runs)) (i32.const 0))
)";

// A restore made a new instance the way a new plugin is made, _initialize included, before the
// snapshot's state replaced it: whatever the initializer did outside the instance (here, call
// the host) happened once more for each restore.
TEST_F(SuspendSnapshot, RestoreDoesNotRunTheInitializerAgain) {
    int seen = 0;
    PluginOptions o;
    PluginFunction f;
    f.name = "seen";
    f.type = FuncType{{}, {}};
    f.fn = [&seen](CurrentPlugin&, std::span<const Value>, std::span<Value>) { ++seen; };
    o.functions.push_back(f);
    auto p = make_plugin(initialized, o);
    ASSERT_TRUE(p);
    EXPECT_EQ(seen, 1);
    auto bytes = p->snapshot();
    KILN_ASSERT_OK(bytes);
    auto compiled = CompiledPlugin::create(engine, manifest_for(initialized), o);
    KILN_ASSERT_OK(compiled);
    auto q = Plugin::restore(*compiled, *bytes);
    KILN_ASSERT_OK(q);
    EXPECT_EQ(seen, 1) << "the initializer ran again";
    EXPECT_EQ(output_i64(call_ok(*q, "run", "")), 1) << "the state is the snapshot's";
}

TEST_F(SuspendSnapshot, AnotherPluginsSnapshotIsRefused) {
    auto p = make_plugin(waiter, with_next(true));
    ASSERT_TRUE(p);
    ASSERT_FALSE(p->call("run", "x"));
    auto bytes = p->snapshot();
    KILN_ASSERT_OK(bytes);
    std::string other_body = std::string(waiter) + "\n  (func (export \"extra\"))";
    auto compiled = CompiledPlugin::create(engine, manifest_for(other_body), with_next(true));
    KILN_ASSERT_OK(compiled);
    auto q = Plugin::restore(*compiled, *bytes);
    ASSERT_FALSE(q);
    EXPECT_NE(q.error().message.find("another module"), std::string::npos) << q.error().message;
    std::vector<uint8_t> cut(bytes->begin(), bytes->begin() + bytes->size() / 2);
    auto c2 = CompiledPlugin::create(engine, manifest_for(waiter), with_next(true));
    EXPECT_FALSE(Plugin::restore(*c2, cut));
}

} // namespace
