// Spacedrive's spacedrive_call import bound to host operations (as the Spacedrive adapter binds
// it), on a raw-ABI plugin run with Plugin::call_guest: the answer written through the guest's
// wasm_alloc with its NUL, a library id read as 16 UUID bytes, denials answered as
// {"error": ...}, and 0 for arguments outside memory or an allocator without room.
#include "hostfns_test_util.hpp"

#include "hostfns/families.hpp"
#include "hostfns/guest.hpp"
#include "hostfns/operations.hpp"

#include <gtest/gtest.h>

namespace kiln {
namespace {

using namespace hostfns_test;
using namespace hostfns;

/// `go(method_ptr, method_len, library_ptr)` calls spacedrive_call with the payload {"a":1};
/// `wasm_alloc` is a bump allocator, or answers out of bounds once `$starve` is set.
constexpr const char* spacedrive_wat = R"(
(module
  (import "spacedrive" "spacedrive_call" (func $call (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $starve (mut i32) (i32.const 0))
  (data (i32.const 16) "query:files.listaction:tags.add")
  (data (i32.const 64) "\12\3e\45\67\e8\9b\12\d3\a4\56\42\66\14\17\40\00")
  (data (i32.const 100) "{\"a\":1}")
  (func (export "starve") (global.set $starve (i32.const 1)))
  (func (export "wasm_alloc") (param $n i32) (result i32) (local $p i32)
    (if (global.get $starve) (then (return (i32.const 65535))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "go") (param i32 i32 i32) (result i32)
    (call $call (local.get 0) (local.get 1) (local.get 2) (i32.const 100) (i32.const 7))))
)";

struct Spacedrive : Family {
    std::shared_ptr<PluginHost> host = std::make_shared<PluginHost>();
    std::optional<Plugin> plugin;

    Spacedrive() {
        Permissions p;
        p.operations = {"query:"};
        p.libraries = {"123e4567-e89b-12d3-a456-426614174000"};
        grant(p);
        services->operations->add("query:files.list", [](const HostOperationCall& c) {
            return Result<std::string>(
                json{{"library", c.library}, {"payload", json::parse(c.payload)}}.dump());
        });
    }
    bool start() {
        auto wasm = test::wat_to_wasm(spacedrive_wat);
        if (!wasm) return false;
        PluginOptions options;
        options.functions = {spacedrive_call_import(host)};
        auto made = Plugin::create(Engine(), Manifest::from_bytes(*wasm), options);
        EXPECT_TRUE(made) << made.error().message;
        if (!made) return false;
        plugin.emplace(std::move(*made));
        return true;
    }
    /// What go(method at `method`, `len` bytes, library at `library`) answered: the string at
    /// the pointer it returned, or "0".
    std::string go(int32_t method, int32_t len, int32_t library) {
        HostCall call;
        Activation active(*host, *ctx, call);
        auto out = plugin->call_guest("go", [&](Caller& c) -> Result<std::string> {
            auto f =
                c.get_export("go")->func()->typed<int32_t(int32_t, int32_t, int32_t)>(c.store());
            auto ptr = f->call(c.store(), method, len, library);
            if (!ptr) return tl::unexpected(ptr.error());
            if (*ptr == 0) return std::string("0");
            return read_guest_string(c, uint32_t(*ptr), "answer", 1 << 20);
        });
        return out ? *out : "error: " + out.error().message;
    }
};

TEST(SpacedriveCall, AnswersThroughWasmAlloc) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Spacedrive s;
    ASSERT_TRUE(s.start());
    EXPECT_EQ(s.go(16, 16, 0), R"({"library":"","payload":{"a":1}})");
    EXPECT_EQ(s.go(16, 16, 64),
              R"({"library":"123e4567-e89b-12d3-a456-426614174000","payload":{"a":1}})");
    EXPECT_TRUE(s.audit().empty());
    // Denied: the operation's prefix, then a library not granted.
    EXPECT_EQ(s.go(32, 15, 0), R"({"error":"p: operation \"action:tags.add\" is not granted"})");
    EXPECT_EQ(s.go(16, 16, 100).rfind(R"({"error":"p: library )", 0), 0u);
    EXPECT_EQ(s.audit().size(), 2u);
    // Arguments outside memory, and an allocator without room: 0.
    EXPECT_EQ(s.go(65530, 16, 0), "0");
    EXPECT_EQ(s.go(16, 16, 65530), "0");
    ASSERT_TRUE(s.plugin->call_guest("starve", [](Caller& c) -> Result<std::string> {
        auto f = c.get_export("starve")->func()->typed<void()>(c.store());
        if (auto r = f->call(c.store()); !r) return tl::unexpected(r.error());
        return std::string();
    }));
    EXPECT_EQ(s.go(16, 16, 0), "0");
}

} // namespace
} // namespace kiln
