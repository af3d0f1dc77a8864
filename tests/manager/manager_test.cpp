// PluginManager: discovery without running plugins, failures kept per plugin, lazy and eager
// loading, init and shutdown exports, dependency order and its errors, the compile cache,
// calls from several threads, permission checks with their audit records.
#include "manager_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace kiln {
namespace {

using manager_test::kiln_yaml;
using manager_test::lifecycle_body;
using manager_test::TempDir;
using manager_test::write_plugin;

/// A manager whose plugins' log lines (and its events) are collected in order.
struct Recorder {
    std::mutex mutex;
    std::vector<std::string> lines;
    void add(std::string line) {
        std::lock_guard lock(mutex);
        lines.push_back(std::move(line));
    }
    ManagerOptions options() {
        ManagerOptions o;
        o.plugin_options.log = [this](std::string_view, LogLevel, std::string_view line) {
            add(std::string(line));
        };
        o.getenv = [](const std::string&) { return std::nullopt; };
        return o;
    }
    void watch(PluginManager& m) {
        m.on_event([this](const ManagerEvent& e) {
            const char* kinds[] = {"loaded", "unloaded", "failed", "reloaded"};
            add(std::string(kinds[int(e.kind)]) + " " + e.plugin);
        });
    }
};

const PluginInfo* find(const std::vector<PluginInfo>& list, const std::string& name) {
    auto it =
        std::find_if(list.begin(), list.end(), [&](const PluginInfo& p) { return p.name == name; });
    return it == list.end() ? nullptr : &*it;
}

TEST(PluginManager, DiscoversWithoutRunningAndKeepsBadPluginsApart) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "good", kiln_yaml("good", "1.0.0"), lifecycle_body("good"));
    // Its initialize traps: listing must not run it.
    write_plugin(dir, "trapper", kiln_yaml("trapper", "1.0.0"),
                 R"((func (export "initialize") (result i32) unreachable))");
    dir.write("broken/kiln.yaml", "name: broken\nversion: 1\nwasm: plugin.wasm\n");
    // Not plugins: a folder without a manifest, hidden entries, a graph beside its actors, and
    // the module an Extism manifest names.
    dir.write("data/readme.txt", "no manifest here");
    dir.write(".hidden/kiln.yaml", "name: hidden\nversion: 1.0.0\nwasm: plugin.wasm\n");
    dir.write("flow.graph.json", R"({"processes": {}, "connections": []})");
    dir.write("named.json", R"({"wasm": [{"path": "named.wasm"}]})");
    dir.write("named.wasm", plugin_test::extism_wasm(lifecycle_body("named")));
    dir.write("garbage/kiln.yaml", "name: garbage\nversion: 1.0.0\nwasm: plugin.wasm\n");
    dir.write("garbage/plugin.wasm", "not a module");
    dir.write("bare.wasm", plugin_test::extism_wasm(lifecycle_body("bare")));
    dir.write("notes.txt", "ignored");
    // Decodes, but does not validate: `() -> i32 { i32.add }` has no operands to add.
    dir.write("invalid/kiln.yaml", "name: invalid\nversion: 1.0.0\nwasm: plugin.wasm\n");
    dir.write("invalid/plugin.wasm",
              std::string("\0asm\x01\0\0\0"
                          "\x01\x05\x01\x60\x00\x01\x7f"
                          "\x03\x02\x01\x00"
                          "\x0a\x05\x01\x03\x00\x6a\x0b",
                          8 + 7 + 4 + 7)); // a string_view: the bytes hold NULs

    Recorder rec;
    PluginManager manager(rec.options());
    ASSERT_TRUE(manager.open(dir.str()));
    auto list = manager.list();
    ASSERT_EQ(list.size(), 7u);
    EXPECT_EQ(find(list, "invalid")->state, PluginState::failed);
    EXPECT_NE(find(list, "invalid")->error.find("plugin.wasm: "), std::string::npos)
        << find(list, "invalid")->error;
    EXPECT_EQ(find(list, "named")->state, PluginState::available);
    EXPECT_EQ(find(list, "named")->manifest->dialect, PackageManifest::Dialect::extism);
    EXPECT_EQ(find(list, "good")->state, PluginState::available);
    EXPECT_EQ(find(list, "good")->abi, PluginAbi::extism);
    EXPECT_EQ(find(list, "good")->version, "1.0.0");
    EXPECT_EQ(find(list, "trapper")->state, PluginState::available);
    EXPECT_EQ(find(list, "bare")->state, PluginState::available);
    EXPECT_EQ(find(list, "bare")->manifest->dialect, PackageManifest::Dialect::bare_wasm);
    const PluginInfo* broken = find(list, "broken");
    ASSERT_TRUE(broken);
    EXPECT_EQ(broken->state, PluginState::failed);
    EXPECT_NE(broken->error.find("kiln.yaml: version: expected a string"), std::string::npos)
        << broken->error;
    EXPECT_EQ(find(list, "garbage")->state, PluginState::failed);
    EXPECT_NE(find(list, "garbage")->error.find("plugin.wasm: "), std::string::npos);
    EXPECT_TRUE(rec.lines.empty());
    const auto& exports = find(list, "good")->exports;
    EXPECT_NE(std::find(exports.begin(), exports.end(), "initialize"), exports.end());

    // The good ones still load and run.
    auto out = manager.call("good", "echo", "hi");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, "hi");
    EXPECT_TRUE(manager.call("bare", "echo", "x"));
    auto trapped = manager.load("trapper");
    ASSERT_FALSE(trapped);
    EXPECT_EQ(trapped.error().kind, ErrorKind::trap);
    EXPECT_EQ(manager.info("trapper")->state, PluginState::failed);
    EXPECT_NE(manager.info("trapper")->error.find("unreachable"), std::string::npos);
    EXPECT_EQ(manager.info("good")->state, PluginState::loaded);
}

TEST(PluginManager, LazyAndEagerLoadingRunInitializeOnce) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "counter", kiln_yaml("counter", "1.0.0"), lifecycle_body("counter"));
    {
        Recorder rec;
        PluginManager lazy(rec.options());
        rec.watch(lazy);
        ASSERT_TRUE(lazy.open(dir.str()));
        EXPECT_EQ(lazy.info("counter")->state, PluginState::available);
        auto inits = lazy.call("counter", "inits", "");
        ASSERT_TRUE(inits) << inits.error().message;
        EXPECT_EQ(plugin_test::output_i64(*inits), 1u);
        EXPECT_EQ(plugin_test::output_i64(*lazy.call("counter", "inits", "")), 1u);
        EXPECT_EQ(lazy.info("counter")->state, PluginState::loaded);
        EXPECT_EQ(rec.lines, std::vector<std::string>{"loaded counter"});
    }
    Recorder rec;
    ManagerOptions options = rec.options();
    options.eager = true;
    PluginManager eager(options);
    ASSERT_TRUE(eager.open(dir.str()));
    EXPECT_EQ(eager.info("counter")->state, PluginState::loaded);
    EXPECT_EQ(plugin_test::output_i64(*eager.call("counter", "inits", "")), 1u);
}

TEST(PluginManager, DependencyOrderForLoadAndReverseForUnload) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "app", kiln_yaml("app", "1.0.0", "requires: {lib: ^1.0, kiln: \">=0.1\"}\n"),
                 lifecycle_body("app"));
    write_plugin(dir, "lib1", kiln_yaml("lib", "1.2.0", "requires: {base: \"*\"}\n"),
                 lifecycle_body("lib 1.2"));
    write_plugin(dir, "lib2", kiln_yaml("lib", "1.5.0", "requires: {base: \"*\"}\n"),
                 lifecycle_body("lib 1.5"));
    write_plugin(dir, "lib3", kiln_yaml("lib", "2.0.0"), lifecycle_body("lib 2.0"));
    write_plugin(dir, "base", kiln_yaml("base", "0.1.0"), lifecycle_body("base"));
    {
        Recorder rec;
        PluginManager manager(rec.options());
        rec.watch(manager);
        ASSERT_TRUE(manager.open(dir.str()));
        auto order = manager.load_order("app");
        ASSERT_TRUE(order) << order.error().message;
        EXPECT_EQ(*order, (std::vector<std::string>{"base", "lib", "app"}));
        ASSERT_TRUE(manager.load("app"));
        EXPECT_EQ(rec.lines, (std::vector<std::string>{"loaded base", "loaded lib", "loaded app"}));
        // The highest matching version was picked: 1.5.0, not 2.0.0.
        for (const PluginInfo& p : manager.list())
            if (p.name == "lib")
                EXPECT_EQ(p.state,
                          p.version == "1.5.0" ? PluginState::loaded : PluginState::available)
                    << p.version;
        rec.lines.clear();
        // Unloading base takes what needs it down first (events come once the work is done).
        ASSERT_TRUE(manager.unload("base"));
        EXPECT_EQ(rec.lines,
                  (std::vector<std::string>{"app down", "lib 1.5 down", "base down", "unloaded app",
                                            "unloaded lib", "unloaded base"}));
        rec.lines.clear();
        ASSERT_TRUE(manager.load("app"));
        rec.lines.clear();
        manager.unload_all();
        EXPECT_EQ(rec.lines,
                  (std::vector<std::string>{"app down", "lib 1.5 down", "base down", "unloaded app",
                                            "unloaded lib", "unloaded base"}));
        ASSERT_TRUE(manager.load("app"));
        rec.lines.clear();
    }
}

TEST(PluginManager, ManagerShutdownUnloadsInReverseOrder) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "app", kiln_yaml("app", "1.0.0", "requires: {lib: \"1\"}\n"),
                 lifecycle_body("app"));
    write_plugin(dir, "lib", kiln_yaml("lib", "1.0.0"), lifecycle_body("lib"));
    Recorder rec;
    {
        PluginManager manager(rec.options());
        ASSERT_TRUE(manager.open(dir.str()));
        ASSERT_TRUE(manager.load("app"));
    }
    EXPECT_EQ(rec.lines, (std::vector<std::string>{"app down", "lib down"}));
}

TEST(PluginManager, CyclesAndUnsatisfiableRangesNameTheChain) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "a", kiln_yaml("a", "1.0.0", "requires: {b: \"*\"}\n"), lifecycle_body("a"));
    write_plugin(dir, "b", kiln_yaml("b", "1.0.0", "requires: {c: \"*\"}\n"), lifecycle_body("b"));
    write_plugin(dir, "c", kiln_yaml("c", "1.0.0", "requires: {a: \"*\"}\n"), lifecycle_body("c"));
    write_plugin(dir, "x", kiln_yaml("x", "1.0.0", "requires: {y: \"^2\"}\n"), lifecycle_body("x"));
    write_plugin(dir, "y", kiln_yaml("y", "1.0.0"), lifecycle_body("y"));
    write_plugin(dir, "z", kiln_yaml("z", "1.0.0", "requires: {x: \"1\"}\n"), lifecycle_body("z"));
    write_plugin(dir, "w", kiln_yaml("w", "1.0.0", "requires: {nothere: \"1\"}\n"),
                 lifecycle_body("w"));
    write_plugin(dir, "new", kiln_yaml("new", "1.0.0", "requires: {kiln: \">=9\"}\n"),
                 lifecycle_body("new"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    auto cycle = manager.load("b");
    ASSERT_FALSE(cycle);
    EXPECT_EQ(cycle.error().message, "dependency cycle: b -> c -> a -> b");
    auto unsat = manager.load("z");
    ASSERT_FALSE(unsat);
    EXPECT_EQ(unsat.error().message, "unsatisfiable dependency: z -> x -> y ^2 (installed: 1.0.0)");
    EXPECT_EQ(manager.load_order("w").error().message,
              "unsatisfiable dependency: w -> nothere 1 (not installed)");
    auto too_new = manager.load("new");
    ASSERT_FALSE(too_new);
    EXPECT_NE(too_new.error().message.find("requires.kiln: \">=9\" does not allow Kiln 0.1.0"),
              std::string::npos)
        << too_new.error().message;
    EXPECT_TRUE(manager.call("y", "echo", "fine"));
}

TEST(PluginManager, NameClashIsReported) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "one", kiln_yaml("same", "1.0.0"), lifecycle_body("one"));
    write_plugin(dir, "two", kiln_yaml("same", "1.0.0"), lifecycle_body("two"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    auto list = manager.list();
    ASSERT_EQ(list.size(), 2u);
    const auto failed = std::count_if(list.begin(), list.end(), [](const PluginInfo& p) {
        return p.state == PluginState::failed;
    });
    EXPECT_EQ(failed, 1);
    const PluginInfo& second = list[0].state == PluginState::failed ? list[0] : list[1];
    EXPECT_NE(second.error.find("two/kiln.yaml: name: \"same\" 1.0.0 is also at "),
              std::string::npos)
        << second.error;
    EXPECT_TRUE(manager.call("same", "echo", "ok"));
}

TEST(PluginManager, CompilesOncePerModuleAndSettings) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), lifecycle_body("p"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    ASSERT_TRUE(manager.load("p"));
    ASSERT_TRUE(manager.unload("p"));
    ASSERT_TRUE(manager.load("p"));
    EXPECT_EQ(manager.cache_stats().compiled, 1u);
    EXPECT_EQ(manager.cache_stats().hits, 1u);
    // A fresh instance: initialize ran again.
    EXPECT_EQ(plugin_test::output_i64(*manager.call("p", "inits", "")), 1u);
    ASSERT_TRUE(manager.validate("p"));
    EXPECT_EQ(manager.cache_stats().hits, 2u);
}

TEST(PluginManager, AfterATrapTheFreshInstanceIsInitialisedAgain) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), lifecycle_body("p"));
    std::vector<std::string> lines;
    ManagerOptions o;
    o.plugin_options.log = [&lines](std::string_view, LogLevel, std::string_view line) {
        lines.emplace_back(line);
    };
    PluginManager manager(o);
    ASSERT_TRUE(manager.open(dir.str()));
    EXPECT_EQ(plugin_test::output_i64(*manager.call("p", "inits", "")), 1u);
    auto trapped = manager.call("p", "trap", "");
    ASSERT_FALSE(trapped);
    EXPECT_EQ(trapped.error().kind, ErrorKind::trap);
    // The trap's instance is gone; the next call's is initialised before it runs (its count
    // starts again at 1, where a fresh instance left alone would say 0).
    EXPECT_EQ(plugin_test::output_i64(*manager.call("p", "inits", "")), 1u);
    EXPECT_EQ(plugin_test::output_i64(*manager.call("p", "inits", "")), 1u);
    // A trap as the last call: unload finds a fresh instance, never initialised, and runs no
    // shutdown on it.
    ASSERT_FALSE(manager.call("p", "trap", ""));
    ASSERT_TRUE(manager.unload("p"));
    EXPECT_EQ(std::count(lines.begin(), lines.end(), "p down"), 0);
    ASSERT_TRUE(manager.load("p"));
    EXPECT_EQ(plugin_test::output_i64(*manager.call("p", "inits", "")), 1u);
    ASSERT_TRUE(manager.unload("p"));
    EXPECT_EQ(std::count(lines.begin(), lines.end(), "p down"), 1);
}

TEST(PluginManager, LifecycleExportsThatNeverReturnAreStopped) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    // No timeout in the manifests: only the lifecycle timeout bounds the hooks.
    write_plugin(dir, "stuck", kiln_yaml("stuck", "1.0.0"),
                 R"((func (export "initialize") (result i32) (loop (br 0)) (i32.const 0)))");
    write_plugin(dir, "slow", kiln_yaml("slow", "1.0.0"), R"(
  (func (export "echo") (result i32) (i32.const 0))
  (func (export "shutdown") (result i32) (loop (br 0)) (i32.const 0)))");
    ManagerOptions o;
    o.lifecycle_timeout = std::chrono::milliseconds(200);
    PluginManager manager(o);
    ASSERT_TRUE(manager.open(dir.str()));
    auto start = std::chrono::steady_clock::now();
    auto loaded = manager.load("stuck");
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().message, "initialize did not return within 200 ms (the lifecycle "
                                      "timeout)");
    EXPECT_EQ(manager.info("stuck")->state, PluginState::failed);
    ASSERT_TRUE(manager.call("slow", "echo", ""));
    ASSERT_TRUE(manager.unload("slow")); // its shutdown stopped, the unload goes on
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_TRUE(manager.load("slow")) << "a plugin unloaded after a stuck shutdown loads again";
}

TEST(PluginManager, HashMismatchFailsValidation) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    const std::string zeros(64, 'a'); // not a number, which YAML would make of 64 zeros
    dir.write("h/plugin.wasm", plugin_test::extism_wasm(lifecycle_body("h")));
    dir.write("h/kiln.yaml",
              "name: h\nversion: 1.0.0\nwasm: [{path: plugin.wasm, hash: " + zeros + "}]\n");
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    auto ok = manager.validate("h");
    ASSERT_FALSE(ok);
    EXPECT_NE(ok.error().message.find("hash mismatch"), std::string::npos) << ok.error().message;
}

TEST(PluginManager, CallsFromManyThreads) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), lifecycle_body("p"));
    write_plugin(dir, "q", kiln_yaml("q", "1.0.0"), lifecycle_body("q"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            const std::string name = t % 2 ? "p" : "q";
            for (int i = 0; i < 200; ++i) {
                const std::string in = std::to_string(t * 1000 + i);
                auto out = manager.call(name, "echo", in);
                if (!out || *out != in) ++failures;
                if (i == 100 && t == 0) (void)manager.unload("q");
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(PluginManager, PermissionChecksDenyAuditAndGrant) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(
        dir, "p",
        kiln_yaml("p", "1.0.0", "permissions: {network: [\"*.example.com\"], kv: [read]}\n"),
        lifecycle_body("p"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    std::vector<AuditRecord> hooked;
    manager.audit().set_hook([&](const AuditRecord& r) { hooked.push_back(r); });

    EXPECT_TRUE(manager.check("p", Permission::network, "https://api.example.com/x"));
    EXPECT_TRUE(manager.check("p", Permission::kv_read, ""));
    auto denied = manager.check("p", Permission::network, "https://evil.com/");
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, ErrorKind::denied);
    EXPECT_EQ(denied.error().message, "p: network \"https://evil.com/\" is not granted");
    EXPECT_FALSE(manager.check("p", Permission::kv_write, ""));
    ASSERT_EQ(hooked.size(), 2u);
    EXPECT_EQ(hooked[0].plugin, "p");
    EXPECT_EQ(hooked[0].permission, "network");
    EXPECT_EQ(hooked[0].argument, "https://evil.com/");
    EXPECT_EQ(hooked[1].permission, "kv_write");
    EXPECT_EQ(manager.audit().records("p").size(), 2u);
    EXPECT_TRUE(manager.audit().records("other").empty());

    ASSERT_TRUE(manager.grant("p", parse_grant("kv:write").value()));
    EXPECT_TRUE(manager.check("p", Permission::kv_write, ""));
    ASSERT_TRUE(manager.revoke("p", parse_grant("kv:write").value()));
    EXPECT_FALSE(manager.check("p", Permission::kv_write, ""));
}

TEST(PluginManager, RateLimitCountsChecksPerMinute) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0", "permissions: {kv: [read], rate_limit: 3}\n"),
                 lifecycle_body("p"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    int allowed = 0;
    for (int i = 0; i < 5; ++i)
        allowed += manager.check("p", Permission::kv_read, "").has_value();
    EXPECT_EQ(allowed, 3);
    ASSERT_EQ(manager.audit().records("p").size(), 2u);
    EXPECT_EQ(manager.audit().records("p").back().permission, "rate");
}

TEST(PluginManager, ManifestLimitsReachTheInstance) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0", "limits: {fuel: 1000}\n"),
                 R"((func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))");
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    auto out = manager.call("p", "spin", "");
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().message.find("fuel"), std::string::npos) << out.error().message;
}

TEST(PluginManager, AbiDetectedFromExports) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    dir.write("z/hello.wasm", *test::wat_to_wasm(R"((module
      (memory (export "memory") 17)
      (func (export "plugin_init") (result i32) (i32.const 0))
      (func (export "plugin_register_slots") (result i32) (i32.const 0))
      (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32) (i32.const 0))
      (func (export "alloc") (param i32) (result i32) (i32.const 0))))"));
    dir.write("z/kiln.yaml", "name: z\nversion: 1.0.0\nwasm: hello.wasm\nabi: auto\n");
    dir.write("s/ext.wasm", *test::wat_to_wasm(R"((module
      (import "spacedrive" "spacedrive_log" (func (param i32 i32 i32)))
      (memory (export "memory") 17)
      (func (export "plugin_init") (result i32) (i32.const 0))))"));
    dir.write("s/kiln.yaml", "name: s\nversion: 1.0.0\nwasm: ext.wasm\n");
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    EXPECT_EQ(manager.info("z")->abi, PluginAbi::zeno);
    EXPECT_EQ(manager.info("s")->abi, PluginAbi::spacedrive);
    auto load = manager.load("z");
    ASSERT_FALSE(load);
    EXPECT_EQ(load.error().message, "no adapter for the zeno ABI in this build");
}

TEST(PluginManager, DisabledPluginsNeverLoad) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), lifecycle_body("p"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    ASSERT_TRUE(manager.load("p"));
    ASSERT_TRUE(manager.set_enabled("p", false));
    EXPECT_EQ(manager.info("p")->state, PluginState::disabled);
    EXPECT_FALSE(manager.call("p", "echo", "x"));
    ASSERT_TRUE(manager.set_enabled("p", true));
    EXPECT_TRUE(manager.call("p", "echo", "x"));
}

/// A library plugin: `add` adds `n` to an i64.
std::string adder_body(int n) {
    return "(func (export \"add\") (param i64) (result i64) (i64.add (local.get 0) (i64.const " +
           std::to_string(n) + ")))";
}

/// A plugin whose `run` outputs the length of its input passed through `MODULE.add`.
std::string linking_body(const std::string& module) {
    return "(import \"" + module + R"(" "add" (func $add (param i64) (result i64)))
  (func (export "run") (result i32)
    (call $out_i64 (call $add (call $input_length))) (i32.const 0)))";
}

uint64_t run_app(PluginManager& manager, std::string_view input) {
    auto out = manager.call("app", "run", input);
    EXPECT_TRUE(out) << out.error().message;
    auto values = plugin_test::report(out.value_or(""));
    return values.size() == 1 ? values[0] : 0;
}

TEST(PluginManager, LinksAnotherPluginsExportsByName) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "mathlib", kiln_yaml("mathlib", "1.0.0"), adder_body(1));
    write_plugin(dir, "mathlib2", kiln_yaml("mathlib", "2.0.0"), adder_body(100));
    dir.write("app/plugin.wasm", plugin_test::extism_wasm(linking_body("m")));
    dir.write("app/kiln.yaml",
              "name: app\nversion: 1.0.0\n"
              "wasm: [{plugin: mathlib, version: \"^1\", name: m}, plugin.wasm]\n");
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    // The highest version the range allows: 1.0.0, adding 1.
    EXPECT_EQ(run_app(manager, "abc"), 4u);
    EXPECT_NE(plugin_json(*manager.info("app"), {})
                  .find("\"links\": [\n    {\n      "
                        "\"plugin\": \"mathlib\""),
              std::string::npos);
    // A new version of the linked plugin reaches the plugin that links it when that reloads.
    write_plugin(dir, "mathlib", kiln_yaml("mathlib", "1.1.0"), adder_body(10));
    ASSERT_TRUE(manager.reload("mathlib"));
    ASSERT_TRUE(manager.reload("app"));
    EXPECT_EQ(run_app(manager, "abc"), 13u);
}

TEST(PluginManager, LinkThatCannotBeMetFailsThePlugin) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "mathlib", kiln_yaml("mathlib", "2.0.0"), adder_body(1));
    // A plugin of two modules: not one that can be linked.
    dir.write("pair/a.wasm", plugin_test::extism_wasm(adder_body(1)));
    dir.write("pair/plugin.wasm", plugin_test::extism_wasm(adder_body(2)));
    dir.write("pair/kiln.yaml",
              "name: pair\nversion: 1.0.0\nwasm: [{path: a.wasm, name: a}, plugin.wasm]\n");
    const auto app = plugin_test::extism_wasm(linking_body("mathlib"));
    for (const auto& [folder, source] :
         {std::pair{"app1", "{plugin: mathlib, version: \"^1\"}"},
          std::pair{"app2", "{plugin: missing}"}, std::pair{"app3", "{plugin: pair}"}}) {
        dir.write(std::string(folder) + "/plugin.wasm", app);
        dir.write(std::string(folder) + "/kiln.yaml", "name: " + std::string(folder) +
                                                          "\nversion: 1.0.0\nwasm: [" + source +
                                                          ", plugin.wasm]\n");
    }
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    auto expect_failure = [&](const char* name, const std::string& text) {
        auto loaded = manager.load(name);
        ASSERT_FALSE(loaded) << name;
        EXPECT_EQ(loaded.error().message,
                  (dir.path() / name / "kiln.yaml").string() + ": wasm: " + text);
        EXPECT_EQ(manager.info(name)->state, PluginState::failed);
    };
    expect_failure("app1", "links plugin mathlib ^1 (installed: 2.0.0)");
    expect_failure("app2", "links plugin missing * (not installed)");
    expect_failure("app3", "links plugin pair, which is not one module of its own (it has 2 and "
                           "links 0); only such a plugin can be linked");
}

TEST(PluginManager, UnreadableFolderIsAnError) {
    PluginManager manager;
    auto r = manager.open("/nonexistent/kiln-plugins");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::io);
}

} // namespace
} // namespace kiln

namespace kiln {
namespace {

using manager_test::kiln_yaml;
using manager_test::TempDir;
using manager_test::write_plugin;

/// A plugin whose `version` export outputs `tag`, with lifecycle logging.
std::string tagged_body(const std::string& tag) {
    return R"(
  (data (i32.const 64) ")" +
           tag + R"(")
  (func (export "version") (result i32)
    (call $out_str (i32.const 64) (i32.const )" +
           std::to_string(tag.size()) + R"()) (i32.const 0)))";
}

TEST(PluginManagerReload, NewVersionServesOldKeepsServingOnFailure) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), tagged_body("one"));
    // Before the manager: its end unloads p, an event the listener records.
    std::vector<std::string> events;
    PluginManager manager;
    manager.on_event([&](const ManagerEvent& e) {
        const char* kinds[] = {"loaded", "unloaded", "failed", "reloaded"};
        events.push_back(std::string(kinds[int(e.kind)]) + " " + e.plugin);
    });
    ASSERT_TRUE(manager.open(dir.str()));
    EXPECT_EQ(*manager.call("p", "version", ""), "one");
    write_plugin(dir, "p", kiln_yaml("p", "1.1.0"), tagged_body("two"));
    ASSERT_TRUE(manager.reload("p"));
    EXPECT_EQ(*manager.call("p", "version", ""), "two");
    EXPECT_EQ(manager.info("p")->version, "1.1.0");
    // A broken new version: the old one keeps serving.
    dir.write("p/plugin.wasm", "not wasm");
    auto failed = manager.reload("p");
    ASSERT_FALSE(failed);
    EXPECT_EQ(*manager.call("p", "version", ""), "two");
    EXPECT_EQ(manager.info("p")->state, PluginState::loaded);
    EXPECT_EQ(events, (std::vector<std::string>{"loaded p", "reloaded p", "failed p"}));
}

TEST(PluginManagerReload, HundredReloadsUnderFourCallersLoseNoCall) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    const auto one = plugin_test::extism_wasm(tagged_body("one"));
    const auto two = plugin_test::extism_wasm(tagged_body("two"));
    dir.write("p/plugin.wasm", one);
    dir.write("p/kiln.yaml", kiln_yaml("p", "1.0.0"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    ASSERT_TRUE(manager.load("p"));
    std::atomic<bool> done{false};
    std::atomic<int> calls{0}, failures{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&] {
            while (!done) {
                auto out = manager.call("p", "version", "");
                if (!out || (*out != "one" && *out != "two")) ++failures;
                ++calls;
            }
        });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int i = 0; i < 100; ++i) {
        // Replaced whole, as an installer (or a compiler's output step) does it.
        std::filesystem::rename(dir.write("p/next.wasm", i % 2 ? one : two),
                                dir.path() / "p/plugin.wasm");
        auto ok = manager.reload("p");
        EXPECT_TRUE(ok) << ok.error().message;
        // A call after each reload, however fast reloads are.
        const int before = calls.load();
        while (calls.load() == before && std::chrono::steady_clock::now() < until)
            std::this_thread::yield();
    }
    done = true;
    for (auto& t : callers)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GE(calls.load(), 100);
    EXPECT_EQ(*manager.call("p", "version", ""), "one");
    // Two modules, each compiled once.
    EXPECT_EQ(manager.cache_stats().compiled, 2u);
}

/// A plugin whose `count` export adds one to its var "n" (an i64) and outputs the new value;
/// `version` outputs `tag`. The kernel frees a key it is given, so each call gets its own.
std::string counter_body(const std::string& tag) {
    return R"(
  (data (i32.const 0) "n")
  (func (export "count") (result i32) (local $key i64) (local $block i64) (local $n i64)
    (local.set $key (call $str (i32.const 0) (i32.const 1)))
    (local.set $block (call $var_get (local.get $key)))
    (if (i64.ne (local.get $block) (i64.const 0))
      (then (local.set $n (call $load_u64 (local.get $block)))))
    (local.set $n (i64.add (local.get $n) (i64.const 1)))
    (local.set $block (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $block) (local.get $n))
    (call $var_set (call $str (i32.const 0) (i32.const 1)) (local.get $block))
    (call $out_i64 (local.get $n))
    (i32.const 0)))" +
           tagged_body(tag);
}

uint64_t count(PluginManager& manager) {
    auto out = manager.call("p", "count", "");
    EXPECT_TRUE(out) << out.error().message;
    auto values = plugin_test::report(out.value_or(""));
    return values.size() == 1 ? values[0] : 0;
}

TEST(PluginManagerReload, VarsAreHandedOverWhenAsked) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), counter_body("one"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    for (uint64_t i = 1; i <= 3; ++i)
        EXPECT_EQ(count(manager), i);
    write_plugin(dir, "p", kiln_yaml("p", "1.1.0"), counter_body("two"));
    ASSERT_TRUE(manager.reload("p", {.keep_vars = true}));
    EXPECT_EQ(*manager.call("p", "version", ""), "two");
    EXPECT_EQ(count(manager), 4u);
    // Without the option the new version starts with no vars.
    ASSERT_TRUE(manager.reload("p"));
    EXPECT_EQ(count(manager), 1u);
    EXPECT_EQ(count(manager), 2u);
    // A new version whose var quota cannot hold them fails; the old one serves on, vars intact.
    write_plugin(dir, "p", kiln_yaml("p", "1.2.0", "limits: {vars: 4}\n"), counter_body("three"));
    auto small = manager.reload("p", {.keep_vars = true});
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error().kind, ErrorKind::limit);
    EXPECT_EQ(small.error().message.rfind("p: the new version cannot keep the vars: ", 0), 0u)
        << small.error().message;
    EXPECT_EQ(*manager.call("p", "version", ""), "two");
    EXPECT_EQ(count(manager), 3u);
}

TEST(PluginManagerReload, VarsHandedOverUnderLoadLoseNoUpdate) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), counter_body("one"));
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    ASSERT_TRUE(manager.load("p"));
    std::atomic<bool> done{false};
    std::atomic<int> calls{0}, failures{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&] {
            while (!done) {
                if (!manager.call("p", "count", ""))
                    ++failures;
                else
                    ++calls;
            }
        });
    // Each reload waits for a call after it, so that calls and reloads interleave however fast
    // a reload is.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int i = 0; i < 50; ++i) {
        auto ok = manager.reload("p", {.keep_vars = true});
        EXPECT_TRUE(ok) << ok.error().message;
        const int before = calls.load();
        while (calls.load() == before && std::chrono::steady_clock::now() < until)
            std::this_thread::yield();
    }
    done = true;
    for (auto& t : callers)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GE(calls.load(), 50);
    // Every increment of every instance reached the last one.
    EXPECT_EQ(count(manager), uint64_t(calls.load()) + 1);
}

TEST(PluginManagerReload, WatchedFolderReloadsOnChange) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0"), tagged_body("one"));
    std::atomic<int> reloaded{0}; // before the manager, whose end sends events
    PluginManager manager;
    manager.on_event([&](const ManagerEvent& e) {
        if (e.kind == ManagerEvent::Kind::reloaded) ++reloaded;
    });
    ASSERT_TRUE(manager.open(dir.str()));
    ASSERT_TRUE(manager.watch());
    EXPECT_EQ(*manager.call("p", "version", ""), "one");
    std::filesystem::rename(dir.write("p/next.wasm", plugin_test::extism_wasm(tagged_body("two"))),
                            dir.path() / "p/plugin.wasm");
    std::string seen;
    // The event is sent once the reload's locks are released, which may be after the new
    // version first answers: wait for both.
    for (int i = 0; i < 200 && (seen != "two" || reloaded.load() < 1); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        seen = manager.call("p", "version", "").value_or("");
    }
    EXPECT_EQ(seen, "two");
    EXPECT_GE(reloaded.load(), 1);
    manager.stop_watching();
}

/// Calls `target` of `plugin` until it answers `want` (or about five seconds pass).
std::string answer_soon(PluginManager& manager, const std::string& plugin,
                        const std::string& want) {
    std::string seen;
    for (int i = 0; i < 200 && seen != want; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        seen = manager.call(plugin, "version", "").value_or("");
    }
    return seen;
}

TEST(PluginManagerReload, WatchedFolderSeesSingleFilesAndNewPlugins) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    // A single-file plugin: an Extism manifest and the module it names.
    dir.write("single.wasm", plugin_test::extism_wasm(tagged_body("one")));
    dir.write("single.json", R"({"wasm": [{"path": "single.wasm"}]})");
    PluginManager manager;
    ASSERT_TRUE(manager.open(dir.str()));
    ASSERT_TRUE(manager.watch());
    EXPECT_EQ(*manager.call("single", "version", ""), "one");
    // Its module replaced: the manifest's plugin reloads.
    std::filesystem::rename(dir.write("next.tmp", plugin_test::extism_wasm(tagged_body("two"))),
                            dir.path() / "single.wasm");
    EXPECT_EQ(answer_soon(manager, "single", "two"), "two");
    // A bare module dropped in: a plugin of its own.
    std::filesystem::rename(dir.write("drop.tmp", plugin_test::extism_wasm(tagged_body("bare"))),
                            dir.path() / "bare.wasm");
    EXPECT_EQ(answer_soon(manager, "bare", "bare"), "bare");
    // A new folder, its module first and its manifest a moment later.
    std::filesystem::create_directory(dir.path() / "late");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    dir.write("late/plugin.wasm", plugin_test::extism_wasm(tagged_body("late")));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    dir.write("late/kiln.yaml", kiln_yaml("late", "1.0.0"));
    EXPECT_EQ(answer_soon(manager, "late", "late"), "late");
    manager.stop_watching();
    // None was listed twice, nor as failed.
    for (const PluginInfo& p : manager.list())
        EXPECT_NE(p.state, PluginState::failed) << p.name << ": " << p.error;
    EXPECT_EQ(manager.list().size(), 3u);
}

} // namespace
} // namespace kiln
