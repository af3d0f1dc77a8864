// A plugin's life: linking its kernel imports (unknown ones are refused by name, or linked to
// traps on request), the init functions run once at creation and in which order, `_start`
// running only on request and leaving a fresh instance behind, and WASI (proc_exit codes, where
// stdout and stderr go, preopened paths, read-only ones).
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::HasSubstr;

class Lifecycle : public PluginTest {};

TEST_F(Lifecycle, UnknownKernelImportIsUnlinkable) {
    auto p = Plugin::create(engine, manifest_for(R"(
  (import "extism:host/env" "no_such_kernel_function" (func $x (param i64)))
  (func (export "run") (result i32) (call $x (i64.const 0)) (i32.const 0))
)"));
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);
    EXPECT_THAT(p.error().message, HasSubstr("no_such_kernel_function"));
}

TEST_F(Lifecycle, KernelImportWithTheWrongTypeIsUnlinkable) {
    auto p = Plugin::create(engine, manifest_for(R"(
  (import "extism:host/env" "alloc" (func $alloc32 (param i32) (result i32)))
  (func (export "run") (result i32) (drop (call $alloc32 (i32.const 1))) (i32.const 0))
)"));
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);
}

TEST_F(Lifecycle, EveryKernelFunctionLinks) {
    // One module importing the whole ABI: all of it must be there with these types.
    std::string wat = "(module\n";
    for (const auto& imp : kernel_imports)
        wat += std::string("  (import \"extism:host/env\" \"") + imp.name + "\" (func " +
               imp.signature + "))\n";
    wat += "  (func (export \"run\") (result i32) (i32.const 0)))\n";
    auto bytes = test::wat_to_wasm(wat);
    ASSERT_TRUE(bytes && !bytes->empty());
    auto p = Plugin::create(engine, Manifest::from_bytes(*bytes));
    KILN_ASSERT_OK(p);
    EXPECT_EQ(call_ok(*p, "run"), "");
}

// An init function that traps fails the plugin naming it once (it read "_initialize failed: trap:
// unreachable (in _initialize)").
TEST_F(Lifecycle, TrappingInitFunctionIsNamedOnce) {
    auto p = Plugin::create(engine, manifest_for(R"(
  (func (export "_initialize") unreachable)
  (func (export "run") (result i32) (i32.const 0))
)"));
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().kind, ErrorKind::uninstantiable);
    EXPECT_EQ(p.error().message, "_initialize failed: unreachable");
}

// A host function the embedder did not define, and WASI, which is defined per instance.
constexpr const char* host_import_wat = R"(
  (import "extism:host/user" "lookup" (func $lookup (param i64) (result i64)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (data (i32.const 0) "one two\nthree")
  (func (export "lookup") (result i32) (drop (call $lookup (i64.const 0))) (i32.const 0))
  ;; writes "one " and then "two\nthree" to descriptor 1, iovec at 64
  (func (export "write") (result i32)
    (i32.store (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 80)))
    (i32.store (i32.const 64) (i32.const 4))
    (i32.store (i32.const 68) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 80)))
    (call $out_str (i32.const 0) (i32.const 3))
    (i32.const 0))
)";

TEST_F(Lifecycle, UnknownImportsLinkToTrapsOnRequest) {
    PluginOptions options;
    options.wasi = true;
    auto refused = Plugin::create(engine, manifest_for(host_import_wat), options);
    ASSERT_FALSE(refused.has_value());
    EXPECT_THAT(refused.error().message, HasSubstr("extism:host/user.lookup"));

    std::string written;
    options.trap_unknown_imports = true;
    options.wasi_stdout = WasiStream::callback([&](std::string_view text) { written += text; });
    auto p = make_plugin(host_import_wat, options);
    ASSERT_TRUE(p);
    // WASI and the kernel are defined over the stubs: only the missing function traps.
    EXPECT_EQ(call_ok(*p, "write"), "one");
    EXPECT_EQ(written, "one two\nthree");
    Error error = call_fails(*p, "lookup");
    ASSERT_TRUE(error.trap);
    EXPECT_EQ(error.trap->kind, TrapKind::host_error);
    EXPECT_THAT(error.message, HasSubstr("extism:host/user.lookup was called"));
}

TEST_F(Lifecycle, WasiOutputGoesWhereTheOptionsSay) {
    // Each write reaches the stream as it was made, not split into lines as the log splits it.
    std::vector<std::string> writes, logged;
    PluginOptions options;
    options.wasi = true;
    options.trap_unknown_imports = true;
    options.wasi_stdout = WasiStream::callback([&](std::string_view t) { writes.emplace_back(t); });
    options.log = [&](std::string_view, LogLevel, std::string_view line) {
        logged.emplace_back(line);
    };
    auto p = make_plugin(host_import_wat, options);
    ASSERT_TRUE(p);
    call_ok(*p, "write");
    EXPECT_EQ(writes, (std::vector<std::string>{"one ", "two\nthree"}));
    EXPECT_TRUE(logged.empty());

    // By default WASI stdout is the plugin's log, a line at a time.
    options.wasi_stdout.reset();
    auto logging = make_plugin(host_import_wat, options);
    ASSERT_TRUE(logging);
    call_ok(*logging, "write");
    EXPECT_EQ(logged, (std::vector<std::string>{"one ", "two", "three"}));
}

TEST_F(Lifecycle, FunctionsAreTheMainModulesExportsInNameOrder) {
    auto p = make_plugin(R"(
  (func (export "zeta") (result i32) (i32.const 0))
  (func (export "alpha") (result i32) (i32.const 0))
  (global (export "not_a_function") i32 (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->functions(), (std::vector<std::string>{"alpha", "zeta"}));
}

TEST_F(Lifecycle, MalformedOrMissingModulesFail) {
    auto garbage = Plugin::create(engine, Manifest::from_bytes({0x00, 0x61, 0x73, 0x6d, 0x09}));
    ASSERT_FALSE(garbage.has_value());
    EXPECT_EQ(garbage.error().kind, ErrorKind::malformed);
    EXPECT_FALSE(Plugin::create(engine, Manifest{}).has_value()) << "a manifest without modules";
}

TEST_F(Lifecycle, PluginsMoveWithTheirState) {
    auto p = make_plugin(R"(
  (global $calls (mut i64) (i64.const 0))
  (func (export "count") (result i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (call $out_i64 (global.get $calls))
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_EQ(output_i64(call_ok(*p, "count")), 1u);
    Plugin moved = std::move(*p);
    EXPECT_EQ(output_i64(call_ok(moved, "count")), 2u);
    auto other = make_plugin(R"((func (export "other") (result i32) (i32.const 0)))");
    ASSERT_TRUE(other);
    *other = std::move(moved);
    EXPECT_EQ(output_i64(call_ok(*other, "count")), 3u);
}

// Records each init function as a decimal digit of $order, so that "13" means 1 then 3.
std::string init_module(bool initialize, bool ctors, bool hs_init, bool start = false) {
    std::string wat = R"(
  (global $order (mut i64) (i64.const 0))
  (global $order_calls (mut i64) (i64.const 0))
  (func $note (param i64)
    (global.set $order (i64.add (i64.mul (global.get $order) (i64.const 10)) (local.get 0))))
  (func (export "order") (result i32)
    (global.set $order_calls (i64.add (global.get $order_calls) (i64.const 1)))
    (call $put (global.get $order))
    (call $put (global.get $order_calls))
    (call $flush)
    (i32.const 0))
)";
    if (initialize) wat += "(func (export \"_initialize\") (call $note (i64.const 1)))\n";
    if (ctors) wat += "(func (export \"__wasm_call_ctors\") (call $note (i64.const 2)))\n";
    if (hs_init) wat += "(func (export \"hs_init\") (call $note (i64.const 3)))\n";
    if (start) wat += "(func $wasm_start (call $note (i64.const 9))) (start $wasm_start)\n";
    return wat;
}

TEST_F(Lifecycle, InitFunctionsRunOnceInOrder) {
    struct Case {
        bool initialize, ctors, hs_init, start;
        uint64_t order;
    };
    const Case cases[] = {
        {true, true, true, false, 13},   // _initialize wins over __wasm_call_ctors
        {false, true, true, false, 23},  // else the constructors, then hs_init
        {true, false, false, false, 1},  //
        {false, true, false, false, 2},  //
        {false, false, true, false, 3},  //
        {false, false, false, false, 0}, // nothing to run
        {true, false, true, true, 913},  // the wasm start function belongs to instantiation
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("expected order " + std::to_string(c.order));
        auto compiled = CompiledPlugin::create(
            engine, manifest_for(init_module(c.initialize, c.ctors, c.hs_init, c.start)));
        KILN_ASSERT_OK(compiled);
        auto p = Plugin::create(*compiled);
        KILN_ASSERT_OK(p);
        EXPECT_THAT(report(call_ok(*p, "order")), ::testing::ElementsAre(c.order, 1u));
        EXPECT_THAT(report(call_ok(*p, "order")), ::testing::ElementsAre(c.order, 2u))
            << "init functions must not run again for later calls";
        auto again = Plugin::create(*compiled);
        KILN_ASSERT_OK(again);
        EXPECT_THAT(report(call_ok(*again, "order")), ::testing::ElementsAre(c.order, 1u))
            << "each new instance runs them once";
    }
}

TEST_F(Lifecycle, StartRunsOnlyWhenCalledAndLeavesAFreshInstance) {
    auto p = make_plugin(R"(
  (global $g (mut i64) (i64.const 0))
  (func (export "_start")
    (global.set $g (i64.const 5))
    (i32.store8 (i32.const 200) (i32.const 7))
    (call $out_i64 (i64.add (i64.mul (global.get $g) (i64.const 100))
      (i64.extend_i32_u (i32.load8_u (i32.const 200))))))
  (func (export "get") (result i32)
    (call $out_i64 (i64.add (i64.mul (global.get $g) (i64.const 100))
      (i64.extend_i32_u (i32.load8_u (i32.const 200)))))
    (i32.const 0))
  (func (export "bump") (result i32)
    (global.set $g (i64.add (global.get $g) (i64.const 1)))
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_EQ(output_i64(call_ok(*p, "get")), 0u) << "_start must not run at creation";
    EXPECT_EQ(output_i64(call_ok(*p, "_start")), 507u);
    EXPECT_EQ(output_i64(call_ok(*p, "get")), 0u) << "after _start the instance is fresh";
    call_ok(*p, "bump");
    EXPECT_EQ(output_i64(call_ok(*p, "get")), 100u) << "ordinary calls keep their state";
}

// ---------------------------------------------------------------------------------------------
// WASI

constexpr const char* exit_wat = R"(
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (data (i32.const 0) "before exit")
  (data (i32.const 16) "failed")
  (func (export "exit0") (result i32)
    (call $out_str (i32.const 0) (i32.const 11))
    (call $proc_exit (i32.const 0))
    (i32.const 99))
  (func (export "exit7") (result i32)
    (call $proc_exit (i32.const 7))
    (i32.const 0))
  (func (export "exit0_with_error") (result i32)
    (call $error_set (call $str (i32.const 16) (i32.const 6)))
    (call $proc_exit (i32.const 0))
    (i32.const 0))
  (func (export "ok") (result i32) (call $out_str (i32.const 0) (i32.const 6)) (i32.const 0))
  ;; a WASI command's usual ending
  (func (export "_start")
    (call $out_str (i32.const 0) (i32.const 6))
    (call $proc_exit (i32.const 0)))
)";

TEST_F(Lifecycle, WasiProcExitCodes) {
    PluginOptions options;
    options.wasi = true;
    auto p = make_plugin(exit_wat, options);
    ASSERT_TRUE(p);

    auto out = p->call("exit0", "");
    KILN_EXPECT_OK(out);
    if (out) EXPECT_EQ(*out, "before exit");
    EXPECT_EQ(p->last_rc(), 0);

    call_fails(*p, "exit7");
    EXPECT_EQ(p->last_rc(), 7);
    EXPECT_EQ(call_ok(*p, "ok"), "before") << "the plugin still works after an exit";

    EXPECT_THAT(call_fails(*p, "exit0_with_error").message, HasSubstr("failed"));
    EXPECT_EQ(call_ok(*p, "_start"), "before");
    EXPECT_EQ(p->last_rc(), 0);
}

TEST_F(Lifecycle, WasiImportsNeedWasi) {
    auto p = Plugin::create(engine, manifest_for(exit_wat));
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);
}

// path_open(3, path) for reading or for creating and writing, then fd_read/fd_write through one
// iovec. Memory: 0.. paths, 64 iovec, 80 results, 1024.. buffer. Each export outputs
// [errno of open, errno of the transfer, bytes transferred] and, for reads, the bytes.
constexpr const char* files_wat = R"(
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (data (i32.const 0) "hello.txt")
  (data (i32.const 16) "new.txt")
  (data (i32.const 1024) "written by the plugin")
  (func (export "read") (result i32) (local $err i32)
    (local.set $err (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 9)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 80)))
    (call $put (i64.extend_i32_u (local.get $err)))
    (if (i32.eqz (local.get $err)) (then
      (i32.store (i32.const 64) (i32.const 2048))
      (i32.store (i32.const 68) (i32.const 64))
      (call $put (i64.extend_i32_u (call $fd_read (i32.load (i32.const 80)) (i32.const 64)
        (i32.const 1) (i32.const 84))))
      (call $put (i64.extend_i32_u (i32.load (i32.const 84))))
      (call $put (i64.load (i32.const 2048)))))
    (call $flush)
    (i32.const 0))
  (func (export "write") (result i32) (local $err i32)
    ;; O_CREAT, rights fd_write
    (local.set $err (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 7)
      (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 80)))
    (call $put (i64.extend_i32_u (local.get $err)))
    (if (i32.eqz (local.get $err)) (then
      (i32.store (i32.const 64) (i32.const 1024))
      (i32.store (i32.const 68) (i32.const 21))
      (call $put (i64.extend_i32_u (call $fd_write (i32.load (i32.const 80)) (i32.const 64)
        (i32.const 1) (i32.const 84))))
      (call $put (i64.extend_i32_u (i32.load (i32.const 84))))))
    (call $flush)
    (i32.const 0))
)";

class WasiFiles : public Lifecycle {
protected:
    void SetUp() override {
        Lifecycle::SetUp();
        dir = std::filesystem::temp_directory_path() /
              ("kiln-plugin-files-" + std::to_string(getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "hello.txt") << "greetings";
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    std::filesystem::path dir;
};

TEST_F(WasiFiles, AllowedPathsArePreopened) {
    auto manifest =
        Manifest::from_json(R"({"wasm": [{"data": ")" + base64(extism_wasm(files_wat)) +
                            R"("}], "allowed_paths": {")" + dir.string() + R"(": "/data"}})");
    KILN_ASSERT_OK(manifest);
    PluginOptions options;
    options.wasi = true;
    auto p = Plugin::create(engine, *manifest, options);
    KILN_ASSERT_OK(p);
    auto read = report(call_ok(*p, "read"));
    ASSERT_EQ(read.size(), 4u);
    EXPECT_EQ(read[0], 0u) << "path_open errno";
    EXPECT_EQ(read[1], 0u) << "fd_read errno";
    EXPECT_EQ(read[2], 9u);
    EXPECT_EQ(read[3], 0x676e697465657267ull) << "\"greeting\", little-endian";

    auto write = report(call_ok(*p, "write"));
    ASSERT_EQ(write.size(), 3u);
    EXPECT_EQ(write[0], 0u);
    EXPECT_EQ(write[2], 21u);
    auto written = read_file(dir / "new.txt");
    KILN_ASSERT_OK(written);
    EXPECT_EQ(std::string(written->begin(), written->end()), "written by the plugin");
}

TEST_F(WasiFiles, ReadOnlyPrefixRefusesWrites) {
    auto manifest =
        Manifest::from_json(R"({"wasm": [{"data": ")" + base64(extism_wasm(files_wat)) +
                            R"("}], "allowed_paths": {"ro:)" + dir.string() + R"(": "/data"}})");
    KILN_ASSERT_OK(manifest);
    ASSERT_EQ(manifest->allowed_paths.size(), 1u);
    EXPECT_EQ(manifest->allowed_paths[0].host, dir.string());
    EXPECT_EQ(manifest->allowed_paths[0].guest, "/data");
    EXPECT_TRUE(manifest->allowed_paths[0].read_only);
    PluginOptions options;
    options.wasi = true;
    auto p = Plugin::create(engine, *manifest, options);
    KILN_ASSERT_OK(p);
    auto read = report(call_ok(*p, "read"));
    ASSERT_EQ(read.size(), 4u);
    EXPECT_EQ(read[0], 0u);
    EXPECT_EQ(read[2], 9u);
    auto write = report(call_ok(*p, "write"));
    ASSERT_GE(write.size(), 1u);
    EXPECT_NE(write[0], 0u) << "opening for writing in a read-only path must fail";
    EXPECT_FALSE(std::filesystem::exists(dir / "new.txt"));
}

} // namespace
