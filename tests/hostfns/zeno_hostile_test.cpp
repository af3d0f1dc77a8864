// The hostile set against the ZenoEngine adapter, with plugins written in WAT: forged pointers
// and lengths into every env.host_* import, an alloc that traps or answers out of bounds or 0,
// responses without a NUL or at a forged pointer, metadata and slot lists that are not what
// they should be, one of 100 MB. Each is a clear error; the host and its other plugins go on.
#include "hostfns_test_util.hpp"

#include <kiln/dispatch.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace kiln {
namespace {

using namespace hostfns_test;

/// The eight imports with their types, as ZenoEngine defines them.
struct Import {
    const char* name;
    const char* type;
};
constexpr Import imports[] = {
    {"host_log", "(param i32 i32 i32 i32)"},
    {"host_db_query", "(param i32 i32) (result i32)"},
    {"host_http_request", "(param i32 i32) (result i32)"},
    {"host_scope_get", "(param i32 i32) (result i32)"},
    {"host_scope_set", "(param i32 i32) (result i32)"},
    {"host_file_read", "(param i32 i32) (result i32)"},
    {"host_file_write", "(param i32 i32) (result i32)"},
    {"host_env_get", "(param i32 i32) (result i32)"},
};

/// A Zeno module: every import, two pages of memory, metadata at 16 and a slot list ("s" and
/// "t") at 128, a bump allocator from 4096 unless `alloc` replaces it, and `rest` (its
/// plugin_execute and anything else). `init` and `slots` replace those exports' bodies.
std::string zeno_wat(const std::string& rest, const std::string& alloc = "",
                     const std::string& init = "(i32.const 16)",
                     const std::string& slots = "(i32.const 128)") {
    std::string wat = "(module\n";
    for (const Import& i : imports)
        wat += std::string("  (import \"env\" \"") + i.name + "\" (func $" + i.name + " " + i.type +
               "))\n";
    wat += R"(
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "{\"name\":\"w\",\"version\":\"1.0.0\"}\00")
  (data (i32.const 128) "[{\"name\":\"s\"},{\"name\":\"t\"}]\00")
  (data (i32.const 256) "{\"success\":true,\"data\":\00")
  (data (i32.const 512) "{\"success\":true}\00")
  (func (export "plugin_init") (result i32) )" +
           init + R"()
  (func (export "plugin_register_slots") (result i32) )" +
           slots + ")\n";
    wat += alloc.empty() ? R"(
  (func $alloc (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p)))"
                         : alloc;
    wat += "\n" + rest + "\n)\n";
    return wat;
}

/// Writes plugin folder `name` (a Zeno manifest.yaml granting everything the imports check)
/// with the module `wat`.
void write_zeno(const TempDir& dir, const std::string& name, const std::string& wat) {
    auto wasm = test::wat_to_wasm(wat);
    ASSERT_TRUE(wasm) << "WAT does not assemble:\n" << wat;
    dir.write(name + "/plugin.wasm", *wasm);
    dir.write(name + "/manifest.yaml",
              "name: " + name +
                  "\nbinary: plugin.wasm\npermissions:\n  scope: [read, write]\n"
                  "  network: [\"*\"]\n  filesystem: [data]\n  env: [HOME]\n");
}

#define NEED_WAT2WASM()                                                                            \
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed"

TEST(ZenoHostile, ForgedPointersAndLengthsIntoEveryImport) {
    NEED_WAT2WASM();
    TempDir dir;
    // Slot "s" passes a pointer near 4 GiB, slot "t" a valid pointer with a length past the
    // end of memory; host_log gets its forged pair as its second string.
    for (const Import& i : imports) {
        const bool log = std::string(i.name) == "host_log";
        auto args = [&](const char* ptr, const char* len) {
            return log ? std::string("(i32.const 16) (i32.const 4) (i32.const ") + ptr +
                             ") (i32.const " + len + ")"
                       : std::string("(i32.const ") + ptr + ") (i32.const " + len + ")";
        };
        const std::string drop = log ? "" : "drop";
        write_zeno(dir, i.name,
                   zeno_wat(std::string(R"(
  (func (export "plugin_execute") (param $s i32) (param i32 i32 i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $s)) (i32.const 115))
      (then (call $)") + i.name +
                            " " + args("-16", "100") + ") " + drop + R"()
      (else (call $)" + i.name +
                            " " + args("1000", "2147483647") + ") " + drop + R"())
    (i32.const 512)))"));
    }
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    for (const Import& i : imports) {
        auto near_end = h.manager->call(i.name, "s", "{}");
        ASSERT_FALSE(near_end) << i.name;
        EXPECT_EQ(near_end.error().kind, ErrorKind::trap) << i.name;
        EXPECT_NE(near_end.error().message.find(std::string(i.name) +
                                                ": 100 bytes at 4294967280 are outside the "
                                                "guest's memory (131072 bytes)"),
                  std::string::npos)
            << near_end.error().message;
        auto too_long = h.manager->call(i.name, "t", "{}");
        ASSERT_FALSE(too_long) << i.name;
        EXPECT_NE(too_long.error().message.find(std::string(i.name) +
                                                ": 2147483647 bytes at 1000 are outside"),
                  std::string::npos)
            << too_long.error().message;
    }
    EXPECT_TRUE(h.audit("").empty());
}

TEST(ZenoHostile, AllocThatTrapsOrAnswersOutOfBoundsOrZero) {
    NEED_WAT2WASM();
    TempDir dir;
    const std::string execute = R"(
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) (i32.const 512)))";
    write_zeno(dir, "trapping", zeno_wat(execute, R"(
  (func (export "alloc") (param i32) (result i32) unreachable))"));
    write_zeno(dir, "outside", zeno_wat(execute, R"(
  (func (export "alloc") (param i32) (result i32) (i32.const 131072)))"));
    write_zeno(dir, "far", zeno_wat(execute, R"(
  (func (export "alloc") (param i32) (result i32) (i32.const -8)))"));
    write_zeno(dir, "zero", zeno_wat(execute, R"(
  (func (export "alloc") (param i32) (result i32) (i32.const 0)))"));
    write_zeno(dir, "wrongtype", zeno_wat(execute, R"(
  (func (export "alloc") (param i64) (result i64) (i64.const 4096)))"));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    auto trapping = h.manager->call("trapping", "s", "{}");
    ASSERT_FALSE(trapping);
    EXPECT_EQ(trapping.error().kind, ErrorKind::trap);
    EXPECT_NE(trapping.error().message.find("unreachable"), std::string::npos)
        << trapping.error().message;
    auto outside = h.manager->call("outside", "s", "{}");
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().message,
              "the guest's alloc(1) returned 131072, outside its memory (131072 bytes)");
    auto far = h.manager->call("far", "s", "{}");
    ASSERT_FALSE(far);
    EXPECT_EQ(far.error().message,
              "the guest's alloc(1) returned 4294967288, outside its memory (131072 bytes)");
    auto zero = h.manager->call("zero", "s", "{}");
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().message, "the guest's alloc(1) returned 0");
    auto wrong = h.manager->call("wrongtype", "s", "{}");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().message.rfind("the guest's \"alloc\": function has type", 0), 0u)
        << wrong.error().message;
}

TEST(ZenoHostile, AfterATrapTheFreshInstanceRunsPluginInitAgain) {
    NEED_WAT2WASM();
    TempDir dir;
    // plugin_init sets $ready; slot "s" answers success only when it is set, slot "t" traps.
    write_zeno(dir, "z",
               zeno_wat(R"(
  (global $ready (mut i32) (i32.const 0))
  (data (i32.const 600) "{\"success\":false,\"error\":\"not initialised\"}\00")
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 116)) (then unreachable))
    (select (i32.const 512) (i32.const 600) (global.get $ready))))",
                        "", "(global.set $ready (i32.const 1)) (i32.const 16)"));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    EXPECT_EQ(h.manager->call("z", "s", "{}").value_or(""), R"({"success":true})");
    auto trapped = h.manager->call("z", "t", "{}");
    ASSERT_FALSE(trapped);
    EXPECT_EQ(trapped.error().kind, ErrorKind::trap);
    // The next call's instance is fresh: set up by plugin_init as the first was.
    EXPECT_EQ(h.manager->call("z", "s", "{}").value_or(""), R"({"success":true})");
}

TEST(ZenoHostile, AllocFailingInsideAnImportGivesTheGuestZero) {
    NEED_WAT2WASM();
    TempDir dir;
    // The allocator serves the slot name and the request, then answers out of bounds: the
    // answer of host_env_get (and host_scope_get) is then 0, which the plugin reports.
    write_zeno(dir, "starved",
               zeno_wat(R"(
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 600) "HOME")
  (data (i32.const 700) "{\"success\":true,\"data\":\"zero\"}\00")
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32)
    (if (result i32) (i32.eqz (call $host_env_get (i32.const 600) (i32.const 4)))
      (then (i32.const 700)) (else (i32.const 512)))))",
                        R"(
  (func $alloc (export "alloc") (param $n i32) (result i32) (local $p i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.gt_u (global.get $calls) (i32.const 2)) (then (return (i32.const 131071))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p)))"));
    HostOptions o;
    o.getenv = [](const std::string&) -> std::optional<std::string> { return "/home/ann"; };
    Hosted h(o);
    ASSERT_TRUE(h.manager->open(dir.str()));
    auto out = h.manager->call("starved", "s", "{}");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, R"({"success":true,"data":"zero"})");
    std::lock_guard lock(h.mutex);
    ASSERT_FALSE(h.lines.empty());
    EXPECT_EQ(h.lines.back(), "starved warn: host_env_get: the guest's alloc(10) returned "
                              "131071, outside its memory (131072 bytes)");
}

TEST(ZenoHostile, ResponsesWithoutNulOrAtForgedPointers) {
    NEED_WAT2WASM();
    TempDir dir;
    // "s": 'a' from 1000 to the end of memory, no NUL; "t": a pointer past the end.
    write_zeno(dir, "runaway", zeno_wat(R"(
  (func (export "plugin_execute") (param $s i32) (param i32 i32 i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $s)) (i32.const 116)) (then (return (i32.const -1))))
    (memory.fill (i32.const 1000) (i32.const 97) (i32.sub (i32.const 131072) (i32.const 1000)))
    (i32.const 1000)))"));
    write_zeno(dir, "nothing", zeno_wat(R"(
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"));
    write_zeno(dir, "notjson", zeno_wat(R"(
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) (i32.const 128)))"));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    auto runaway = h.manager->call("runaway", "s", "{}");
    ASSERT_FALSE(runaway);
    EXPECT_EQ(runaway.error().message, "plugin_execute: the string at 1000 has no NUL before the "
                                       "end of the guest's memory (131072 bytes)");
    auto forged = h.manager->call("runaway", "t", "{}");
    ASSERT_FALSE(forged);
    EXPECT_EQ(forged.error().message,
              "plugin_execute: pointer 4294967295 is outside the guest's memory (131072 bytes)");
    auto null = h.manager->call("nothing", "s", "{}");
    ASSERT_FALSE(null);
    EXPECT_EQ(null.error().message, "plugin_execute: a null pointer");
    auto notjson = h.manager->call("notjson", "s", "{}");
    ASSERT_FALSE(notjson);
    EXPECT_EQ(notjson.error().message,
              "plugin_execute: the response is not {\"success\": bool, ...}: "
              "[{\"name\":\"s\"},{\"name\":\"t\"}]");
}

TEST(ZenoHostile, BadMetadataAndSlotListsFailTheLoadAlone) {
    NEED_WAT2WASM();
    TempDir dir;
    const std::string execute = R"(
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) (i32.const 512)))";
    write_zeno(dir, "good", zeno_wat(execute));
    // 100 MB of '[' from the end of the first two pages to the end of memory.
    write_zeno(dir, "huge", zeno_wat(execute, "", "(i32.const 16)", R"(
    (drop (memory.grow (i32.const 1600)))
    (memory.fill (i32.const 131072) (i32.const 91) (i32.const 104857600))
    (i32.const 131072))"));
    write_zeno(dir, "noname", zeno_wat(execute, "", "(i32.const 16)", "(i32.const 256)"));
    write_zeno(dir, "badinit", zeno_wat(execute, "", "(i32.const 128)"));
    write_zeno(dir, "forgedinit", zeno_wat(execute, "", "(i32.const 2147483647)"));
    write_zeno(dir, "trapinit", zeno_wat(execute, "", "unreachable"));
    dir.write("unnamed/manifest.yaml", "name: unnamed\nbinary: plugin.wasm\n");
    dir.write("unnamed/plugin.wasm", *test::wat_to_wasm(zeno_wat(execute, "", "(i32.const 16)", R"(
    (i32.store (i32.const 3000) (i32.const 0x5d7d7b5b)) (i32.const 3000))")));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    auto expect_failed = [&](const std::string& name, const std::string& message) {
        auto r = h.manager->load(name);
        ASSERT_FALSE(r) << name;
        EXPECT_EQ(r.error().message, message) << name;
        EXPECT_EQ(h.manager->info(name)->state, PluginState::failed);
    };
    expect_failed("huge", "plugin_register_slots: the string at 131072 is longer than 16777216 "
                          "bytes");
    expect_failed("noname", "plugin_register_slots: the slot list is not a JSON array");
    expect_failed("badinit", "plugin_init: the metadata is not a JSON object");
    expect_failed("forgedinit", "plugin_init: pointer 2147483647 is outside the guest's memory "
                                "(131072 bytes)");
    expect_failed("unnamed", "plugin_register_slots: slot 0 has no name");
    auto trapped = h.manager->load("trapinit");
    ASSERT_FALSE(trapped);
    EXPECT_NE(trapped.error().message.find("unreachable"), std::string::npos)
        << trapped.error().message;
    auto good = h.manager->call("good", "t", "{}");
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_EQ(*good, R"({"success":true})");
}

TEST(ZenoHostile, UnknownSlotsNeverReachTheGuest) {
    NEED_WAT2WASM();
    TempDir dir;
    write_zeno(dir, "strict", zeno_wat(R"(
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) unreachable))"));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    EXPECT_TRUE(h.manager->has("strict", "s").value()); // loads it
    EXPECT_FALSE(h.manager->has("strict", "u").value());
    EXPECT_FALSE(h.manager->has("strict", "plugin_execute").value());
    auto r = h.manager->call("strict", "u", "{}");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
    EXPECT_EQ(r.error().message, "slot u not found in plugin strict");
    EXPECT_FALSE(h.manager->call("strict", "s", "not json"));
}

TEST(ZenoSlots, InputsBecomeTheSchemaAndAClashingSlotStaysOutOfTheRegistry) {
    NEED_WAT2WASM();
    TempDir dir;
    const std::string execute = R"(
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) (i32.const 512)))";
    // Inputs of every kind: a known type, an alias, a type Kiln does not know, a default of
    // another type than its input's, entries that are not objects; a name the registry refuses.
    write_zeno(dir, "typed",
               zeno_wat(execute + R"(
  (data (i32.const 1024) "[{\"name\":\"s\",\"description\":\"S\",\"example\":\"s { n: 1 }\",\"inputs\":{\"n\":{\"type\":\"number\",\"required\":true,\"description\":\"N\"},\"flag\":{\"type\":\"bool\",\"default\":\"x\"},\"v\":{\"type\":\"any\",\"default\":3},\"odd\":5}},{\"name\":\"has space\"}]\00"))",
                        "", "(i32.const 16)", "(i32.const 1024)"));
    write_zeno(dir, "other", zeno_wat(execute)); // slots "s" and "t"
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    Dispatch& d = h.host.dispatch();
    ASSERT_TRUE(h.manager->load("typed"));
    auto slots = d.slots();
    ASSERT_EQ(slots.size(), 1u);
    EXPECT_EQ(slots[0].name, "s");
    EXPECT_EQ(slots[0].description, "S");
    EXPECT_EQ(slots[0].example, R"("s { n: 1 }")");
    EXPECT_EQ(hostfns::json::parse(slots[0].schema), hostfns::json::parse(R"({"type": "object",
        "properties": {"n": {"type": "number", "description": "N"}, "flag": {"type": "boolean"},
                       "v": {"default": 3}, "odd": {}},
        "required": ["n"]})"));
    auto refused = d.call_slot("s", R"({"n":"one"})");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message, "slot s: input.n: expected number, got a string");
    EXPECT_EQ(d.call_slot("s", R"({"n":1,"flag":true})").value_or(""), R"({"success":true})");

    // "other" loads; its "s" stays "typed"'s in the registry, its "t" is the host's.
    ASSERT_TRUE(h.manager->load("other"));
    slots = d.slots();
    ASSERT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots[0].plugin, "typed");
    EXPECT_EQ(slots[1].name, "t");
    EXPECT_EQ(slots[1].plugin, "other");
    EXPECT_EQ(h.manager->call("other", "s", "{}").value_or(""), R"({"success":true})")
        << "still served when called by its plugin's name";
    {
        std::lock_guard lock(h.mutex);
        EXPECT_NE(std::find(h.lines.begin(), h.lines.end(),
                            "typed warn: slot \"has space\" is not in the host's registry: slot "
                            "\"has space\": character ' ' is not allowed (letters, digits and "
                            "._:/-)"),
                  h.lines.end());
        EXPECT_NE(std::find(h.lines.begin(), h.lines.end(),
                            "other warn: slot \"s\" is not in the host's registry: other: slot "
                            "\"s\" belongs to plugin typed already"),
                  h.lines.end());
    }
    ASSERT_TRUE(h.manager->unload("typed"));
    slots = d.slots();
    ASSERT_EQ(slots.size(), 1u);
    EXPECT_EQ(slots[0].name, "t");
}

TEST(ZenoScope, RequestCarriesTheSlotAndTheScope) {
    NEED_WAT2WASM();
    TempDir dir;
    // Echoes the request inside a response: {"success":true,"data":REQUEST}.
    write_zeno(dir, "echo", zeno_wat(R"(
  (func (export "plugin_execute") (param $s i32) (param $sl i32) (param $r i32) (param $rl i32)
    (result i32) (local $out i32)
    (local.set $out (call $alloc (i32.add (local.get $rl) (i32.const 25))))
    (memory.copy (local.get $out) (i32.const 256) (i32.const 23))
    (memory.copy (i32.add (local.get $out) (i32.const 23)) (local.get $r) (local.get $rl))
    (i32.store16 (i32.add (i32.add (local.get $out) (i32.const 23)) (local.get $rl))
      (i32.const 0x7d))
    (local.get $out)))"));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    CallContext context{R"({"user":"bob","n":[1,2]})"};
    auto out = h.manager->call("echo", "s", R"({"a":10,"op":"add"})", context);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, R"({"success":true,"data":{"parameters":{"_zeno_scope":{"n":[1,2],)"
                    R"("user":"bob"},"a":10,"op":"add"},"slot_name":"s"}})");
    out = h.manager->call("echo", "t", "");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, R"({"success":true,"data":{"parameters":{},"slot_name":"t"}})");
}

} // namespace
} // namespace kiln
