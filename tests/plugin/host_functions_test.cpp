// Host functions offered to plugins (PluginFunction): the default and custom namespaces, what
// CurrentPlugin gives them (blocks, config, vars, errors, linear memory), user data captured by
// the callable, imports nobody provides, and a host function calling back into its own plugin.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <cctype>
#include <map>
#include <memory>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using HostFn = std::function<void(CurrentPlugin&, std::span<const Value>, std::span<Value>)>;

PluginFunction host_function(std::string name, FuncType type, HostFn fn,
                             std::string ns = "extism:host/user") {
    PluginFunction f;
    f.ns = std::move(ns);
    f.name = std::move(name);
    f.type = std::move(type);
    f.fn = std::move(fn);
    return f;
}

const FuncType i64_to_i64{{ValType::i64}, {ValType::i64}};
const FuncType nothing_to_i64{{}, {ValType::i64}};
const FuncType nothing_to_nothing{{}, {}};

class HostFunctions : public PluginTest {};

TEST_F(HostFunctions, DefaultNamespaceReadsAndWritesBlocks) {
    struct Seen {
        uint64_t length = 99, inner_length = 99;
        bool inner_readable = true;
    };
    auto seen = std::make_shared<Seen>();
    PluginOptions options;
    // Default namespace: the struct's own default, not set here.
    PluginFunction upper;
    upper.name = "upper";
    upper.type = i64_to_i64;
    upper.fn = [seen](CurrentPlugin& cp, std::span<const Value> args, std::span<Value> results) {
        const uint64_t h = uint64_t(args[0].as_i64());
        seen->length = cp.length(h);
        seen->inner_length = cp.length(h + 1);
        seen->inner_readable = cp.read(h + 1).has_value();
        std::string text = cp.read(h).value_or("<unreadable>");
        for (char& c : text)
            c = char(std::toupper(static_cast<unsigned char>(c)));
        results[0] = Value::i64(int64_t(cp.write(text)));
    };
    EXPECT_EQ(upper.ns, "extism:host/user");
    options.functions.push_back(upper);
    auto p = make_plugin(R"(
  (import "extism:host/user" "upper" (func $upper (param i64) (result i64)))
  (func (export "shout") (result i32)
    (call $out_block (call $upper (call $input_offset)))
    (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "shout", "hello, plugin"), "HELLO, PLUGIN");
    EXPECT_EQ(seen->length, 13u);
    EXPECT_EQ(seen->inner_length, 0u);
    EXPECT_FALSE(seen->inner_readable);
}

TEST_F(HostFunctions, CustomNamespace) {
    PluginOptions options;
    options.functions.push_back(host_function(
        "add", FuncType{{ValType::i64, ValType::i64}, {ValType::i64}},
        [](CurrentPlugin&, std::span<const Value> args, std::span<Value> results) {
            results[0] = Value::i64(args[0].as_i64() + args[1].as_i64());
        },
        "my:math"));
    auto p = make_plugin(R"(
  (import "my:math" "add" (func $add (param i64 i64) (result i64)))
  (func (export "sum") (result i32)
    (call $out_i64 (call $add (i64.const 2) (i64.const 40)))
    (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    EXPECT_EQ(output_i64(call_ok(*p, "sum")), 42u);
}

TEST_F(HostFunctions, AllocAndFreeBlocks) {
    auto freed_readable = std::make_shared<bool>(true);
    PluginOptions options;
    options.functions.push_back(host_function(
        "make", i64_to_i64, [](CurrentPlugin& cp, std::span<const Value> args, std::span<Value> r) {
            r[0] = Value::i64(int64_t(cp.alloc(uint64_t(args[0].as_i64()))));
        }));
    options.functions.push_back(host_function(
        "release", FuncType{{ValType::i64}, {}},
        [freed_readable](CurrentPlugin& cp, std::span<const Value> args, std::span<Value>) {
            cp.free(uint64_t(args[0].as_i64()));
            *freed_readable = cp.read(uint64_t(args[0].as_i64())).has_value();
        }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "make" (func $make (param i64) (result i64)))
  (import "extism:host/user" "release" (func $release (param i64)))
  (func (export "blocks") (result i32) (local $h i64)
    (local.set $h (call $make (i64.const 40)))
    (call $put (i64.extend_i32_u (i64.ne (local.get $h) (i64.const 0))))
    (call $put (call $length (local.get $h)))
    (call $store_u8 (i64.add (local.get $h) (i64.const 39)) (i32.const 7))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.add (local.get $h) (i64.const 39)))))
    (call $release (local.get $h))
    (call $put (call $length (local.get $h)))
    (call $flush)
    (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "blocks")), ElementsAre(1u, 40u, 7u, 0u));
    EXPECT_FALSE(*freed_readable);
}

TEST_F(HostFunctions, ConfigVarsAndLinearMemory) {
    auto set_var_ok = std::make_shared<bool>(false);
    PluginOptions options;
    options.functions.push_back(host_function(
        "peek", nothing_to_i64,
        [set_var_ok](CurrentPlugin& cp, std::span<const Value>, std::span<Value> r) {
            const std::string text =
                cp.config("color").value_or("-") + "/" + cp.config("absent").value_or("-") + "/" +
                cp.var("seen").value_or("-") + "/" + cp.caller().read_string(0, 4).value_or("-");
            *set_var_ok = cp.set_var("host", "from host");
            r[0] = Value::i64(int64_t(cp.write(text)));
        }));
    options.functions.push_back(
        host_function("forget", nothing_to_nothing,
                      [](CurrentPlugin& cp, std::span<const Value>, std::span<Value>) {
                          cp.set_var("seen", std::nullopt);
                      }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "peek" (func $peek (result i64)))
  (import "extism:host/user" "forget" (func $forget))
  (data (i32.const 0) "lmemseenyeshost<none>")
  (func (export "peek") (result i32)
    (call $var_set (call $str (i32.const 4) (i32.const 4)) (call $str (i32.const 8) (i32.const 3)))
    (call $out_block (call $peek))
    (i32.const 0))
  (func (export "forget") (result i32) (call $forget) (i32.const 0))
  (func $show_var (param $key i64) (local $v i64)
    (local.set $v (call $var_get (local.get $key)))
    (if (i64.eqz (local.get $v))
      (then (call $out_str (i32.const 15) (i32.const 6)))
      (else (call $out_block (local.get $v)))))
  (func (export "host_var") (result i32)
    (call $show_var (call $str (i32.const 11) (i32.const 4))) (i32.const 0))
  (func (export "seen_var") (result i32)
    (call $show_var (call $str (i32.const 4) (i32.const 4))) (i32.const 0))
)",
                         options, [](Manifest& m) {
                             m.config = {{"color", "blue"}};
                         });
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "peek"), "blue/-/yes/lmem");
    EXPECT_TRUE(*set_var_ok);
    EXPECT_EQ(call_ok(*p, "host_var"), "from host"); // the host's var is the guest's
    p->update_config({{"color", "red"}});
    EXPECT_EQ(call_ok(*p, "peek"), "red/-/yes/lmem");
    call_ok(*p, "forget");
    EXPECT_EQ(call_ok(*p, "seen_var"), "<none>");
}

TEST_F(HostFunctions, SetVarRespectsTheQuota) {
    auto results = std::make_shared<std::vector<bool>>();
    PluginOptions options;
    options.functions.push_back(
        host_function("hog", nothing_to_nothing,
                      [results](CurrentPlugin& cp, std::span<const Value>, std::span<Value>) {
                          results->push_back(cp.set_var("big", std::string(200, 'b')));
                          results->push_back(cp.set_var("small", "ok"));
                          results->push_back(cp.var("big").has_value());
                      }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "hog" (func $hog))
  (func (export "hog") (result i32) (call $hog) (i32.const 0))
)",
                         options, [](Manifest& m) { m.max_var_bytes = 100; });
    ASSERT_TRUE(p);
    // Decided: a refused set_var only returns false; the call itself still succeeds.
    call_ok(*p, "hog");
    EXPECT_THAT(*results, ElementsAre(false, true, false));
}

TEST_F(HostFunctions, SetErrorFailsTheCall) {
    PluginOptions options;
    options.functions.push_back(
        host_function("refuse", nothing_to_nothing,
                      [](CurrentPlugin& cp, std::span<const Value>, std::span<Value>) {
                          cp.set_error("the host refused");
                      }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "refuse" (func $refuse))
  (func (export "refused") (result i32) (call $refuse) (i32.const 0))
  (func (export "fine") (result i32) (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    // Said once: the trap's message is the host's error (it was "... (the host refused)" again).
    EXPECT_EQ(call_fails(*p, "refused").message, "refused: the host refused");
    call_ok(*p, "fine"); // the error does not outlive its call
}

TEST_F(HostFunctions, UserDataThroughCapture) {
    auto ticks = std::make_shared<int>(0);
    PluginOptions options;
    options.functions.push_back(host_function(
        "tick", nothing_to_nothing,
        [ticks](CurrentPlugin&, std::span<const Value>, std::span<Value>) { ++*ticks; }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "tick" (func $tick))
  (func (export "tick3") (result i32) (call $tick) (call $tick) (call $tick) (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    call_ok(*p, "tick3");
    call_ok(*p, "tick3");
    EXPECT_EQ(*ticks, 6);
}

TEST_F(HostFunctions, MissingOrMistypedHostFunctionIsUnlinkable) {
    const char* wat = R"(
  (import "extism:host/user" "nobody_provides_this" (func $x (param i64) (result i64)))
  (func (export "run") (result i32) (drop (call $x (i64.const 0))) (i32.const 0))
)";
    auto missing = Plugin::create(engine, manifest_for(wat));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().kind, ErrorKind::unlinkable);
    EXPECT_THAT(missing.error().message, HasSubstr("nobody_provides_this"));

    PluginOptions options;
    options.functions.push_back(host_function(
        "nobody_provides_this", FuncType{{ValType::i32}, {ValType::i32}},
        [](CurrentPlugin&, std::span<const Value>, std::span<Value> r) { r[0] = Value::i32(0); }));
    auto mistyped = Plugin::create(engine, manifest_for(wat), options);
    ASSERT_FALSE(mistyped.has_value());
    EXPECT_EQ(mistyped.error().kind, ErrorKind::unlinkable);

    // Provided in another namespace is not provided.
    options.functions[0].type = i64_to_i64;
    options.functions[0].ns = "elsewhere";
    auto elsewhere = Plugin::create(engine, manifest_for(wat), options);
    ASSERT_FALSE(elsewhere.has_value());
    EXPECT_EQ(elsewhere.error().kind, ErrorKind::unlinkable);
}

// The kernel allocator against a model: random allocs (sizes 0..300) and frees in one call,
// checking after each step that every live block has its length and its own bytes, that freed
// handles have none, and that no two live blocks overlap.
TEST_F(HostFunctions, KernelAllocatorAgainstAModel) {
    auto problems = std::make_shared<std::vector<std::string>>();
    PluginOptions options;
    options.functions.push_back(
        host_function("churn", nothing_to_nothing,
                      [problems](CurrentPlugin& cp, std::span<const Value>, std::span<Value>) {
                          std::map<uint64_t, std::string> live; // handle -> contents
                          uint32_t seed = 12345;
                          auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
                          auto problem = [&](std::string what) {
                              if (problems->size() < 10) problems->push_back(std::move(what));
                          };
                          for (int step = 0; step < 2000 && problems->empty(); ++step) {
                              if (live.empty() || next() % 3 != 0) {
                                  const size_t size = next() % 301;
                                  std::string bytes(size, '\0');
                                  for (char& c : bytes)
                                      c = char(next() >> 24);
                                  const uint64_t h = cp.write(bytes);
                                  if (size == 0) {
                                      if (h != 0) problem("write of 0 bytes gave a handle");
                                      continue;
                                  }
                                  if (h == 0) {
                                      problem("write failed at step " + std::to_string(step));
                                      continue;
                                  }
                                  if (live.count(h)) problem("handle handed out twice");
                                  live[h] = bytes;
                              } else {
                                  auto it = live.begin();
                                  std::advance(it, next() % live.size());
                                  cp.free(it->first);
                                  if (cp.length(it->first) != 0)
                                      problem("freed block keeps a length");
                                  if (cp.read(it->first)) problem("freed block still readable");
                                  live.erase(it);
                              }
                              uint64_t end_of_previous = 0;
                              for (const auto& [h, bytes] : live) {
                                  if (h < end_of_previous) problem("blocks overlap");
                                  end_of_previous = h + bytes.size();
                                  if (cp.length(h) != bytes.size()) problem("wrong length");
                                  if (cp.read(h) != bytes) problem("contents changed");
                              }
                          }
                      }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "churn" (func $churn))
  (func (export "churn") (result i32) (call $churn) (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    call_ok(*p, "churn");
    for (const auto& problem : *problems)
        ADD_FAILURE() << problem;
}

TEST_F(HostFunctions, WritingPastTheMemoryLimitReturnsZero) {
    auto handle = std::make_shared<uint64_t>(1);
    PluginOptions options;
    options.functions.push_back(host_function(
        "flood", nothing_to_nothing,
        [handle](CurrentPlugin& cp, std::span<const Value>, std::span<Value>) {
            *handle = cp.write(std::string(4u << 20, 'f')); // 64 pages, with 8 allowed
        }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "flood" (func $flood))
  (func (export "flood") (result i32) (call $flood) (i32.const 0))
)",
                         options, [](Manifest& m) { m.max_pages = 8; });
    ASSERT_TRUE(p);
    auto out = p->call("flood", "");
    (void)out; // the plugin did not check, so the call may succeed
    EXPECT_EQ(*handle, 0u);
}

TEST_F(HostFunctions, TrapThroughTheCaller) {
    PluginOptions options;
    options.functions.push_back(
        host_function("explode", nothing_to_nothing,
                      [](CurrentPlugin& cp, std::span<const Value>, std::span<Value>) {
                          cp.caller().trap("host function exploded");
                      }));
    auto p = make_plugin(R"(
  (import "extism:host/user" "explode" (func $explode))
  (func (export "explode") (result i32) (call $explode) (i32.const 0))
  (func (export "fine") (result i32) (i32.const 0))
)",
                         options);
    ASSERT_TRUE(p);
    EXPECT_THAT(call_fails(*p, "explode").message, HasSubstr("host function exploded"));
    call_ok(*p, "fine");
}

TEST_F(HostFunctions, CallingBackIntoTheSamePluginIsRefused) {
    struct Inner {
        Plugin* plugin = nullptr;
        bool called = false;
        bool succeeded = true;
        std::string message;
    };
    auto inner = std::make_shared<Inner>();
    PluginOptions options;
    options.functions.push_back(
        host_function("reenter", nothing_to_i64,
                      [inner](CurrentPlugin&, std::span<const Value>, std::span<Value> r) {
                          inner->called = true;
                          auto out = inner->plugin->call("inner", "nested");
                          inner->succeeded = out.has_value();
                          if (!out) inner->message = out.error().message;
                          r[0] = Value::i64(out ? 0 : 1);
                      }));
    const char* body = R"(
  (import "extism:host/user" "reenter" (func $reenter (result i64)))
  (data (i32.const 0) "inner")
  (func (export "outer") (result i32)
    (call $out_i64 (call $reenter))
    (i32.const 0))
  (func (export "inner") (result i32)
    (call $out_str (i32.const 0) (i32.const 5))
    (i32.const 0))
)";
    auto p = make_plugin(body, options);
    ASSERT_TRUE(p);
    inner->plugin = &*p;
    EXPECT_EQ(output_i64(call_ok(*p, "outer")), 1u); // the outer call completes normally
    EXPECT_TRUE(inner->called);
    EXPECT_FALSE(inner->succeeded) << "a nested call into the busy plugin must be refused";
    EXPECT_FALSE(inner->message.empty());
    EXPECT_EQ(call_ok(*p, "inner"), "inner"); // and the plugin is fine afterwards

    // Only the busy plugin refuses: another instance of the same plugin may be called.
    auto compiled = CompiledPlugin::create(engine, manifest_for(body), options);
    KILN_ASSERT_OK(compiled);
    auto first = Plugin::create(*compiled);
    auto second = Plugin::create(*compiled);
    KILN_ASSERT_OK(first);
    KILN_ASSERT_OK(second);
    inner->plugin = &*second;
    EXPECT_EQ(output_i64(call_ok(*first, "outer")), 0u);
    EXPECT_TRUE(inner->succeeded) << inner->message;
}

} // namespace
