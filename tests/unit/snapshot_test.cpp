// Store snapshots: memories, tables, globals and suspended calls restored into a fresh store;
// refusals for corrupt, truncated, foreign and mismatched snapshots.
#include "base/result.hpp"
#include "compile_wat.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <random>

namespace {

class Snap : public ::testing::Test {
protected:
    kiln::Engine m_engine;
    kiln::Linker m_linker;
};

#define COMPILE(mod, wat) KILN_COMPILE_OR_SKIP(mod, m_engine, wat)

constexpr const char* state_wat = R"((module
  (memory (export "memory") 2 100)
  (table $t 4 funcref)
  (global $g (mut i64) (i64.const 0))
  (global $fr (mut funcref) (ref.null func))
  (data (i32.const 16) "initial")
  (func $a (result i32) (i32.const 11))
  (func $b (result i32) (i32.const 22))
  (elem declare func $a $b)
  (func (export "setup")
    (i32.store (i32.const 70000) (i32.const 0xabcdef))
    (i32.store8 (i32.const 16) (i32.const 73))  ;; "Initial"
    (drop (memory.grow (i32.const 3)))
    (i32.store (i32.const 262144) (i32.const 77))
    (table.set $t (i32.const 1) (ref.func $b))
    (table.set $t (i32.const 3) (ref.func $a))
    (drop (table.grow $t (ref.func $b) (i32.const 2)))
    (global.set $fr (ref.func $a))
    (global.set $g (i64.const 0x123456789)))
  (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "pages") (result i32) (memory.size))
  (func (export "tsize") (result i32) (table.size $t))
  (func (export "call_t") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
  (func (export "g") (result i64) (global.get $g))
  (func (export "call_fr") (result i32)
    (table.set $t (i32.const 0) (global.get $fr))
    (call_indirect (result i32) (i32.const 0))))
)";

int32_t call_i32(kiln::Store& store, kiln::Instance& inst, const char* name,
                 std::vector<kiln::Value> args = {}) {
    auto r = inst.get_func(store, name)->call(store, args);
    EXPECT_TRUE(r) << name << ": " << r.error().message;
    return r && !r->empty() ? (*r)[0].as_i32() : -1;
}

TEST_F(Snap, MemoriesTablesAndGlobalsComeBackInAFreshStore) {
    COMPILE(module, state_wat);
    kiln::Store a(m_engine);
    auto ia = m_linker.instantiate(a, module);
    ASSERT_TRUE(ia);
    ASSERT_TRUE(ia->get_func(a, "setup")->call(a, {}));
    auto bytes = a.snapshot();
    ASSERT_TRUE(bytes) << bytes.error().message;

    kiln::Store b(m_engine);
    auto ib = m_linker.instantiate(b, module);
    ASSERT_TRUE(ib);
    EXPECT_EQ(call_i32(b, *ib, "pages"), 2);
    auto ok = b.restore(*bytes);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(call_i32(b, *ib, "pages"), 5);
    EXPECT_EQ(call_i32(b, *ib, "peek", {kiln::Value::i32(70000)}), 0xabcdef);
    EXPECT_EQ(call_i32(b, *ib, "peek", {kiln::Value::i32(262144)}), 77);
    EXPECT_EQ(call_i32(b, *ib, "peek", {kiln::Value::i32(16)}) & 0xff, 73);
    EXPECT_EQ(call_i32(b, *ib, "tsize"), 6);
    EXPECT_EQ(call_i32(b, *ib, "call_t", {kiln::Value::i32(1)}), 22);
    EXPECT_EQ(call_i32(b, *ib, "call_t", {kiln::Value::i32(3)}), 11);
    EXPECT_EQ(call_i32(b, *ib, "call_t", {kiln::Value::i32(5)}), 22);
    EXPECT_EQ(call_i32(b, *ib, "call_fr"), 11);
    auto g = ib->get_func(b, "g")->call(b, {});
    ASSERT_TRUE(g);
    EXPECT_EQ((*g)[0].as_i64(), 0x123456789);
    // An uninitialized element stays uninitialized.
    auto trap = ib->get_func(b, "call_t")->call(b, {kiln::Value::i32(2)});
    EXPECT_FALSE(trap);
}

TEST_F(Snap, AllZeroPagesAreNotStored) {
    COMPILE(module, R"((module (memory (export "memory") 1000)
      (func (export "touch") (i32.store (i32.const 5000000) (i32.const 1)))))");
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst);
    kiln::Snapshot empty;
    ASSERT_TRUE(store.save(empty));
    ASSERT_TRUE(inst->get_func(store, "touch")->call(store, {}));
    kiln::Snapshot one;
    ASSERT_TRUE(store.save(one));
    // 1000 pages of 64 KiB: the image holds the page list and one page, not 64 MB.
    EXPECT_LT(empty.get("store")->size(), 1000u);
    EXPECT_LT(one.get("store")->size(), 65536u + 1000u);
    EXPECT_GT(one.get("store")->size(), 65536u);
}

constexpr const char* rec_wat = R"((module
  (type $t (func (param i32) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $rec $leaf)
  (global $calls (mut i64) (i64.const 0))
  (func $leaf (type $t) (i64.extend_i32_u (local.get 0)))
  ;; rec(n) = n + rec(n-1) through call_indirect, holding a funcref local across the call
  (func $rec (export "rec") (type $t) (local $f funcref) (local $acc i64)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (local.set $f (table.get 0 (select (i32.const 1) (i32.const 0) (i32.eqz (local.get 0)))))
    (if (i32.eqz (local.get 0)) (then (return (i64.const 0))))
    (local.set $acc (call_indirect (type $t) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0)))
    (table.set 0 (i32.const 1) (local.get $f))  ;; the funcref local survived the call
    (i64.add (local.get $acc) (i64.extend_i32_u (local.get 0))))
  (func (export "loop") (param i32) (result i64) (local $h i64) (local $i i32)
    (local.set $h (i64.const 1469598103934665603))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $i) (local.get 0)))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.extend_i32_u (local.get $i)))
                             (i64.const 1099511628211)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br 0)))
    (local.get $h))
  (func (export "calls") (result i64) (global.get $calls)))
)";

struct Outcome {
    int64_t value;
    uint64_t fuel_left;
};

TEST_F(Snap, SuspendedCallsResumeInAnotherStoreWithTheSameResultAndFuel) {
    COMPILE(module, rec_wat);
    constexpr uint64_t budget = 100'000'000;
    for (const char* fn : {"rec", "loop"}) {
        int32_t arg = std::string_view(fn) == "rec" ? 3000 : 200000;
        // Uninterrupted.
        kiln::Store plain(m_engine);
        plain.set_fuel(budget);
        auto ip = m_linker.instantiate(plain, module);
        auto want = ip->get_func(plain, fn)->call(plain, {kiln::Value::i32(arg)});
        ASSERT_TRUE(want) << want.error().message;
        uint64_t used = budget - *plain.fuel();

        std::mt19937_64 rng(42);
        for (int round = 0; round < 25; ++round) {
            uint64_t at = 1 + rng() % (used - 1);
            kiln::Store a(m_engine);
            a.set_fuel(at);
            a.set_suspend_on_fuel(true);
            auto ia = m_linker.instantiate(a, module);
            auto r = ia->get_func(a, fn)->call(a, {kiln::Value::i32(arg)});
            ASSERT_FALSE(r);
            ASSERT_EQ(r.error().kind, kiln::ErrorKind::suspended) << r.error().message;
            auto bytes = a.snapshot();
            ASSERT_TRUE(bytes) << bytes.error().message;

            kiln::Store b(m_engine);
            auto ib = m_linker.instantiate(b, module);
            auto ok = b.restore(*bytes);
            ASSERT_TRUE(ok) << ok.error().message;
            ASSERT_TRUE(b.has_suspended_call());
            b.add_fuel(budget - at);
            auto done = b.resume();
            ASSERT_TRUE(done) << fn << " at " << at << ": " << done.error().message;
            EXPECT_EQ((*done)[0].as_i64(), (*want)[0].as_i64()) << fn << " at " << at;
            EXPECT_EQ(*b.fuel(), *plain.fuel()) << fn << " at " << at;
        }
    }
}

TEST_F(Snap, ACallSuspendedByAHostFunctionResumesAfterRestore) {
    COMPILE(module, R"((module
      (import "env" "wait" (func $wait (param i32) (result i32)))
      (memory 1)
      (func (export "run") (param i32) (result i32) (local i32)
        (i32.store (i32.const 8) (i32.const 5))
        (local.set 1 (call $wait (local.get 0)))
        (i32.add (local.get 1) (i32.load (i32.const 8)))))
    )");
    int asked = -1;
    m_linker.func_wrap("env", "wait", [&](kiln::Caller& c, int32_t x) -> kiln::Result<int32_t> {
        asked = x;
        KILN_CHECK(c.suspend());
        return 0;
    });
    kiln::Store a(m_engine);
    auto ia = m_linker.instantiate(a, module);
    auto r = ia->get_func(a, "run")->call(a, {kiln::Value::i32(7)});
    ASSERT_FALSE(r);
    EXPECT_EQ(asked, 7);
    auto bytes = a.snapshot();
    ASSERT_TRUE(bytes) << bytes.error().message;
    kiln::Store b(m_engine);
    auto ib = m_linker.instantiate(b, module);
    ASSERT_TRUE(b.restore(*bytes));
    auto done = b.resume(std::vector<kiln::Value>{kiln::Value::i32(100)});
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ((*done)[0].as_i32(), 105);
}

TEST_F(Snap, ExternrefsAreRefusedByName) {
    COMPILE(module, R"((module (global (export "g") (mut externref) (ref.null extern))))");
    kiln::Store store(m_engine);
    auto inst = m_linker.instantiate(store, module);
    ASSERT_TRUE(inst->get_global(store, "g")->set(store, kiln::Value::externref(99)));
    auto bytes = store.snapshot();
    ASSERT_FALSE(bytes);
    EXPECT_NE(bytes.error().message.find("global 0"), std::string::npos) << bytes.error().message;
    EXPECT_NE(bytes.error().message.find("externref"), std::string::npos);
}

TEST_F(Snap, AnotherModuleIsRefusedAndTheStoreIsUnchanged) {
    COMPILE(module, state_wat);
    COMPILE(other, R"((module (memory (export "memory") 2 100) (table 4 funcref)
      (global (mut i64) (i64.const 0)) (global (mut funcref) (ref.null func))))");
    kiln::Store a(m_engine);
    auto ia = m_linker.instantiate(a, module);
    ASSERT_TRUE(ia->get_func(a, "setup")->call(a, {}));
    auto bytes = a.snapshot();
    ASSERT_TRUE(bytes);
    kiln::Store b(m_engine);
    auto ib = m_linker.instantiate(b, other);
    auto r = b.restore(*bytes);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kiln::ErrorKind::invalid);
    EXPECT_NE(r.error().message.find("another module"), std::string::npos) << r.error().message;
    // Two instances where the snapshot has one.
    kiln::Store c(m_engine);
    auto ic1 = m_linker.instantiate(c, module);
    auto ic2 = m_linker.instantiate(c, module);
    auto r2 = c.restore(*bytes);
    ASSERT_FALSE(r2);
    EXPECT_EQ(call_i32(c, *ic1, "pages"), 2) << "a refused restore changes nothing";
}

TEST_F(Snap, TruncatedCorruptAndForeignBytesAreRefused) {
    COMPILE(module, rec_wat);
    kiln::Store a(m_engine);
    a.set_fuel(5000);
    a.set_suspend_on_fuel(true);
    auto ia = m_linker.instantiate(a, module);
    ASSERT_FALSE(ia->get_func(a, "rec")->call(a, {kiln::Value::i32(500)}));
    auto bytes = a.snapshot();
    ASSERT_TRUE(bytes);
    std::vector<uint8_t> good = *bytes;
    auto fresh = [&] {
        auto s = std::make_unique<kiln::Store>(m_engine);
        EXPECT_TRUE(m_linker.instantiate(*s, module));
        return s;
    };
    for (size_t n = 0; n < good.size(); n += std::max<size_t>(1, good.size() / 300)) {
        auto s = fresh();
        auto r = s->restore(std::span<const uint8_t>(good.data(), n));
        ASSERT_FALSE(r) << "truncated at " << n;
        EXPECT_FALSE(s->has_suspended_call());
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
        std::vector<uint8_t> bad = good;
        bad[rng() % bad.size()] ^= uint8_t(1 + rng() % 255);
        auto s = fresh();
        EXPECT_FALSE(s->restore(bad)) << "flip " << i;
    }
    std::vector<uint8_t> version = good;
    version[8] = 99;
    auto r = fresh()->restore(version);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("format version 99"), std::string::npos) << r.error().message;
    auto foreign = fresh()->restore(std::vector<uint8_t>{'\0', 'a', 's', 'm', 1, 0, 0, 0});
    ASSERT_FALSE(foreign);
    EXPECT_NE(foreign.error().message.find("not a Kiln snapshot"), std::string::npos);
    // And the good one still restores.
    auto s = fresh();
    ASSERT_TRUE(s->restore(good));
    s->add_fuel(10'000'000);
    auto done = s->resume();
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ((*done)[0].as_i64(), 500 * 501 / 2);
}

// 12 MiB of pseudo-random words: large enough that encoding cuts the payload into parts
// compressed side by side, as separate zstd frames, on a machine with more than one core.
constexpr const char* big_wat = R"((module
  (memory (export "memory") 192)
  (func (export "fill") (param $seed i64) (local $i i32)
    (loop $l
      (local.set $seed (i64.add (i64.mul (local.get $seed) (i64.const 6364136223846793005))
                                (i64.const 1442695040888963407)))
      (i64.store (local.get $i) (i64.shr_u (local.get $seed) (i64.const 29)))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 12582912)))))
  (func (export "sum") (result i64) (local $i i32) (local $s i64)
    (loop $l
      (local.set $s (i64.add (i64.rotl (local.get $s) (i64.const 5)) (i64.load (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 12582912))))
    (local.get $s)))
)";

TEST_F(Snap, ALargeMemoryComesBackWholeAndDamageAnywhereIsRefused) {
    COMPILE(module, big_wat);
    kiln::Store a(m_engine);
    auto ia = m_linker.instantiate(a, module);
    ASSERT_TRUE(ia->get_func(a, "fill")->call(a, {kiln::Value::i64(99)}));
    auto want = ia->get_func(a, "sum")->call(a, {});
    ASSERT_TRUE(want);
    // Store::snapshot compresses the pages where they lie; Snapshot::encode from a copy.
    kiln::Snapshot saved;
    ASSERT_TRUE(a.save(saved));
    for (auto bytes : {a.snapshot(), saved.encode()}) {
        ASSERT_TRUE(bytes) << bytes.error().message;
        EXPECT_LT(bytes->size(), size_t(16) << 20);
        kiln::Store b(m_engine);
        auto ib = m_linker.instantiate(b, module);
        ASSERT_TRUE(b.restore(*bytes));
        auto got = ib->get_func(b, "sum")->call(b, {});
        ASSERT_TRUE(got);
        EXPECT_EQ((*got)[0].as_i64(), (*want)[0].as_i64());
        // Damage in the first and the last quarter, where separate frames would be.
        for (size_t at : {bytes->size() / 5, bytes->size() * 4 / 5, bytes->size() - 3}) {
            std::vector<uint8_t> bad = *bytes;
            bad[at] ^= 0x5a;
            kiln::Store c(m_engine);
            ASSERT_TRUE(m_linker.instantiate(c, module));
            EXPECT_FALSE(c.restore(bad)) << "a flipped byte at " << at;
            EXPECT_FALSE(c.restore(std::span<const uint8_t>(bytes->data(), at)))
                << "truncated at " << at;
        }
    }
}

TEST_F(Snap, RestoreRefusesWhileACallIsSuspended) {
    COMPILE(module, rec_wat);
    kiln::Store a(m_engine);
    a.set_fuel(1000);
    a.set_suspend_on_fuel(true);
    auto ia = m_linker.instantiate(a, module);
    ASSERT_FALSE(ia->get_func(a, "rec")->call(a, {kiln::Value::i32(100)}));
    auto bytes = a.snapshot();
    ASSERT_TRUE(bytes);
    auto r = a.restore(*bytes);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kiln::ErrorKind::usage);
    a.drop_suspended_call();
    EXPECT_TRUE(a.restore(*bytes));
    EXPECT_TRUE(a.has_suspended_call());
}

} // namespace
