// Memory a plugin holds: kernel memory had no bound without memory.max_pages (alloc grew the
// host process until the OS stopped it), and max_pages counted linear memory only when the main
// module exported it as "memory". Each test is named after what broke.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <cstdint>
#include <string>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;

class MemoryBound : public PluginTest {};

/// Fills linear memory to `pages` pages, then allocates kernel blocks: one of `past` bytes
/// (expected to fail) and one of `fit` bytes. Reports [memory.grow's result, the two handles].
std::string grow_then_alloc(uint32_t pages, uint64_t past, uint64_t fit) {
    return R"(
  (memory (export "memory") 1)
  (func (export "run") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 24)))
    (call $store_u64 (local.get $h)
      (i64.extend_i32_s (memory.grow (i32.const )" +
           std::to_string(pages - 1) + R"())))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8)) (call $alloc (i64.const )" +
           std::to_string(past) + R"()))
    (call $store_u64 (i64.add (local.get $h) (i64.const 16)) (call $alloc (i64.const )" +
           std::to_string(fit) + R"()))
    (call $output_set (local.get $h) (i64.const 24))
    (i32.const 0)))";
}

// Without memory.max_pages, alloc grew the host process without bound. Now everything the plugin
// holds is bounded by 4 GiB by default: with 65535 pages of linear memory (committed lazily, so
// the test is cheap) and 24 bytes of kernel memory, kernel blocks get the last page minus those
// 24 bytes and not one byte more.
TEST_F(MemoryBound, KernelMemoryIsBoundedWithoutMaxPages) {
    const uint64_t left = 65536 - 24;
    auto p = make_plugin(grow_then_alloc(65535, left + 1, left));
    ASSERT_TRUE(p);
    const auto r = report(call_ok(*p, "run"));
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0], 1u) << "memory.grow to 65535 pages must fit the default bound";
    EXPECT_EQ(r[1], 0u) << "alloc past the default bound of 4 GiB must return 0";
    EXPECT_NE(r[2], 0u) << "what is left of the default bound must be usable";
    // Linear memory may not pass the bound either: 4 GiB of it leaves no room for the kernel's
    // 24 bytes.
    auto q = make_plugin(R"(
  (memory (export "memory") 1)
  (func (export "run") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.extend_i32_s (memory.grow (i32.const 65535))))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0)))");
    ASSERT_TRUE(q);
    EXPECT_EQ(output_i64(call_ok(*q, "run")), UINT64_MAX) << "memory.grow must return -1";
}

TEST_F(MemoryBound, MaxPagesRaisesTheDefaultBound) {
    // One page more than the default: the kernel gets that page beside the 65535 linear ones.
    const uint64_t left = 2 * 65536 - 24;
    auto p = make_plugin(grow_then_alloc(65535, left + 1, left), {},
                         [](Manifest& m) { m.max_pages = 65537; });
    ASSERT_TRUE(p);
    const auto r = report(call_ok(*p, "run"));
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0], 1u);
    EXPECT_EQ(r[1], 0u);
    EXPECT_NE(r[2], 0u);
}

/// Allocates 64 KiB kernel blocks until alloc returns 0 (at most 1000); outputs how many it got.
constexpr const char* kernel_pages_body = R"(
  (func (export "kernel_pages") (result i32) (local $h i64) (local $n i64)
    (local.set $h (call $alloc (i64.const 8)))
    (block $refused (loop $more
      (br_if $refused (i64.eqz (call $alloc (i64.const 65536))))
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $more (i64.lt_u (local.get $n) (i64.const 1000)))))
    (call $store_u64 (local.get $h) (local.get $n))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0)))";

// A module exporting its memory as "mem" held 99 linear and 100 kernel pages under a limit of
// 100: only an export named "memory" was counted.
TEST_F(MemoryBound, MemoryExportedUnderAnotherNameCountsTowardsMaxPages) {
    auto p = make_plugin(std::string(R"(
  (memory (export "mem") 99))") +
                             kernel_pages_body,
                         {}, [](Manifest& m) { m.max_pages = 100; });
    ASSERT_TRUE(p);
    // One page is left, less the 8 bytes of the report: no whole page fits.
    EXPECT_EQ(output_i64(call_ok(*p, "kernel_pages")), 0u);
}

TEST_F(MemoryBound, EveryLinkedModulesMemoryCountsTowardsMaxPages) {
    auto lib = test::wat_to_wasm(R"((module (memory (export "memory") 50)))");
    ASSERT_TRUE(lib && !lib->empty());
    Manifest m = manifest_for(kernel_pages_body); // its own memory: one page
    m.wasm.insert(m.wasm.begin(), Manifest::Wasm{Manifest::WasmBytes{*lib}, "lib", {}});
    m.max_pages = 60;
    auto p = Plugin::create(engine, m);
    KILN_ASSERT_OK(p);
    // 60 - 50 - 1 pages, less the 8 bytes of the report.
    EXPECT_EQ(output_i64(call_ok(*p, "kernel_pages")), 8u);
    // Nor may the kernel's blocks leave a module room to grow past the limit.
    auto over = test::wat_to_wasm(R"((module (memory (export "memory") 61)))");
    ASSERT_TRUE(over && !over->empty());
    m.wasm[0].source = Manifest::WasmBytes{*over};
    EXPECT_FALSE(Plugin::create(engine, m).has_value())
        << "a side module of 61 pages must not start under max_pages 60";
}

// Freed kernel blocks are room for linear memory again at once, not only after the next alloc.
TEST_F(MemoryBound, FreedKernelMemoryIsRoomForLinearMemory) {
    auto p = make_plugin(R"(
  (memory (export "memory") 1)
  (func (export "run") (result i32) (local $big i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 16)))
    (local.set $big (call $alloc (i64.const 589824)))
    (call $store_u64 (local.get $h) (i64.extend_i32_s (memory.grow (i32.const 6))))
    (call $free (local.get $big))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8))
      (i64.extend_i32_s (memory.grow (i32.const 6))))
    (call $output_set (local.get $h) (i64.const 16))
    (i32.const 0)))",
                         {}, [](Manifest& m) { m.max_pages = 16; });
    ASSERT_TRUE(p);
    // 1 linear page + 9 kernel pages + 16 bytes: 6 more pages do not fit until the 9 are freed.
    const auto r = report(call_ok(*p, "run"));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0], UINT64_MAX);
    EXPECT_EQ(r[1], 1u);
}

} // namespace
