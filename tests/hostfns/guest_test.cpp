// The guest memory helpers of raw ABIs: reads within bounds only, NUL-terminated strings that
// must end within memory, and writes through the guest's allocator whatever it returns.
#include "hostfns/guest.hpp"

#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

namespace kiln {
namespace {

/// A one-page module whose `alloc` returns what `$next` holds (set through `set_next`), with
/// "hello\0" at 16 and "unterminated" filling the last 12 bytes of memory; `probe` runs the
/// host function under test.
constexpr const char* guest_wat = R"(
(module
  (import "t" "probe" (func $probe (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 16) "hello\00")
  (data (i32.const 65524) "unterminated")
  (func (export "set_next") (param i32) (global.set $next (local.get 0)))
  (func (export "alloc") (param i32) (result i32)
    (if (i32.eq (global.get $next) (i32.const -2)) (then unreachable))
    (global.get $next))
  (func (export "wasm_alloc") (param i64) (result i64) (i64.const 0))
  (func (export "probe") (param i32 i32) (result i32)
    (call $probe (local.get 0) (local.get 1))))
)";

/// Instantiates guest_wat with `probe` calling `body` with the Caller.
struct Guest {
    Engine engine;
    Store store{engine};
    std::optional<Instance> instance;
    std::function<int32_t(Caller&, int32_t, int32_t)> body;

    bool start() {
        auto module = test::compile_wat(engine, guest_wat);
        if (!module) return false;
        Linker linker;
        store.set_reuse_after_trap(true); // as plugins run: a trapping allocator is tested
        linker.func_wrap("t", "probe", [this](Caller& c, int32_t a, int32_t b) -> int32_t {
            return body(c, a, b);
        });
        auto inst = linker.instantiate(store, *module);
        EXPECT_TRUE(inst) << inst.error().message;
        instance = *inst;
        return true;
    }
    int32_t probe(int32_t a = 0, int32_t b = 0) {
        auto r = instance->get_func(store, "probe")->call(store, {Value::i32(a), Value::i32(b)});
        EXPECT_TRUE(r) << r.error().message;
        return r ? (*r)[0].as_i32() : -1;
    }
    void set_next(int32_t next) {
        ASSERT_TRUE(instance->get_func(store, "set_next")->call(store, {Value::i32(next)}));
    }
};

#define START_OR_SKIP(g)                                                                           \
    Guest g;                                                                                       \
    if (!g.start()) GTEST_SKIP() << "wat2wasm is not installed"

TEST(Guest, ReadsWithinBoundsOnly) {
    START_OR_SKIP(g);
    std::vector<std::string> seen;
    g.body = [&](Caller& c, int32_t ptr, int32_t len) {
        auto s = hostfns::read_guest(c, uint32_t(ptr), uint32_t(len), "probe");
        seen.push_back(s ? *s : "error: " + s.error().message);
        return 0;
    };
    g.probe(16, 5);
    g.probe(65530, 6); // ends exactly at the end of memory
    g.probe(65530, 7); // one past
    g.probe(-1, 2);    // 0xffffffff
    g.probe(16, -1);   // a length of 4 GiB - 1
    ASSERT_EQ(seen.size(), 5u);
    EXPECT_EQ(seen[0], "hello");
    EXPECT_EQ(seen[1], "inated");
    EXPECT_EQ(seen[2], "error: probe: 7 bytes at 65530 are outside the guest's memory (65536 "
                       "bytes)");
    EXPECT_TRUE(seen[3].starts_with("error: probe: 2 bytes at 4294967295 are outside"));
    EXPECT_TRUE(seen[4].starts_with("error: probe: 4294967295 bytes at 16 are outside"));
}

TEST(Guest, StringsMustEndWithinMemoryAndTheirBound) {
    START_OR_SKIP(g);
    std::vector<std::string> seen;
    uint64_t max = 100;
    g.body = [&](Caller& c, int32_t ptr, int32_t) {
        auto s = hostfns::read_guest_string(c, uint32_t(ptr), "plugin_init", max);
        seen.push_back(s ? *s : "error: " + s.error().message);
        return 0;
    };
    g.probe(16);
    g.probe(65524); // no NUL before the end of memory
    g.probe(0);
    g.probe(65536);
    max = 3;
    g.probe(16); // longer than its bound
    max = 5;
    g.probe(16); // exactly its bound
    ASSERT_EQ(seen.size(), 6u);
    EXPECT_EQ(seen[0], "hello");
    EXPECT_EQ(seen[1], "error: plugin_init: the string at 65524 has no NUL before the end of the "
                       "guest's memory (65536 bytes)");
    EXPECT_EQ(seen[2], "error: plugin_init: a null pointer");
    EXPECT_EQ(seen[3], "error: plugin_init: pointer 65536 is outside the guest's memory (65536 "
                       "bytes)");
    EXPECT_EQ(seen[4], "error: plugin_init: the string at 16 is longer than 3 bytes");
    EXPECT_EQ(seen[5], "hello");
}

TEST(Guest, WritesThroughTheAllocatorWhateverItReturns) {
    START_OR_SKIP(g);
    std::string allocator = "alloc";
    std::vector<std::string> seen;
    g.body = [&](Caller& c, int32_t, int32_t) {
        auto p = hostfns::write_guest(c, allocator, "data", true);
        if (!p) {
            seen.push_back("error: " + p.error().message);
            return 0;
        }
        auto back = hostfns::read_guest_string(c, *p, "back", 100);
        seen.push_back(std::to_string(*p) + " " + (back ? *back : back.error().message));
        return 0;
    };
    g.probe(); // at 1024
    g.set_next(65532);
    g.probe(); // 5 bytes from 65532: one past the end
    g.set_next(0);
    g.probe();
    g.set_next(-2); // traps
    g.probe();
    g.set_next(-100); // 0xffffff9c
    g.probe();
    allocator = "wasm_alloc"; // i64 -> i64: the wrong type
    g.probe();
    allocator = "nothing";
    g.probe();
    ASSERT_EQ(seen.size(), 7u);
    EXPECT_EQ(seen[0], "1024 data");
    EXPECT_EQ(seen[1], "error: the guest's alloc(5) returned 65532, outside its memory (65536 "
                       "bytes)");
    EXPECT_EQ(seen[2], "error: the guest's alloc(5) returned 0");
    EXPECT_TRUE(seen[3].starts_with("error: the guest's alloc(5) failed: ")) << seen[3];
    EXPECT_NE(seen[3].find("unreachable"), std::string::npos) << seen[3];
    EXPECT_EQ(seen[4], "error: the guest's alloc(5) returned 4294967196, outside its memory "
                       "(65536 bytes)");
    EXPECT_TRUE(seen[5].starts_with("error: the guest's \"wasm_alloc\": function has type"))
        << seen[5];
    EXPECT_EQ(seen[6], "error: the guest exports no function \"nothing\"");
    // Nothing was written where the allocator pointed partly out of bounds, and the guest
    // still runs.
    std::string tail;
    g.body = [&](Caller& c, int32_t, int32_t) {
        tail = hostfns::read_guest(c, 65532, 4, "tail").value_or("error");
        return 7;
    };
    EXPECT_EQ(g.probe(), 7);
    EXPECT_EQ(tail, "ated");
}

} // namespace
} // namespace kiln
