// Host functions handed hostile pointers and lengths by a guest: everything out of bounds, wrapping
// 2^32 or 2^64, or aliasing a valid address when truncated to 32 bits, must be refused by
// kiln::Caller (and the Memory handle) without touching memory.
#include "hostile_util.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::hostile;

// Every access goes through wasm: i64 pointers and lengths, and i32 ones that the host reads
// both zero-extended (uint32_t) and, as careless hosts do, sign-extended (int32_t).
constexpr const char* bounds_wat = R"((module
  (import "env" "read" (func $read (param i64 i64) (result i32)))
  (import "env" "write" (func $write (param i64 i64) (result i32)))
  (import "env" "string" (func $string (param i64 i64) (result i32)))
  (import "env" "load" (func $load (param i64) (result i32)))
  (import "env" "store" (func $store (param i64) (result i32)))
  (import "env" "read_u32" (func $read_u32 (param i32 i32) (result i32)))
  (import "env" "read_s32" (func $read_s32 (param i32 i32) (result i32)))
  (import "env" "grow_and_read" (func $grow_and_read (param i64) (result i32)))
  (memory (export "memory") 1 4)
  (func (export "read") (param i64 i64) (result i32) (call $read (local.get 0) (local.get 1)))
  (func (export "write") (param i64 i64) (result i32) (call $write (local.get 0) (local.get 1)))
  (func (export "string") (param i64 i64) (result i32) (call $string (local.get 0) (local.get 1)))
  (func (export "load") (param i64) (result i32) (call $load (local.get 0)))
  (func (export "store") (param i64) (result i32) (call $store (local.get 0)))
  (func (export "read_u32") (param i32 i32) (result i32)
    (call $read_u32 (local.get 0) (local.get 1)))
  (func (export "read_s32") (param i32 i32) (result i32)
    (call $read_s32 (local.get 0) (local.get 1)))
  (func (export "grow_and_read") (param i64) (result i32) (call $grow_and_read (local.get 0)))
))";

/// A host buffer for spans of any length up to 8 GiB: its first 128 KiB are usable, the rest is
/// inaccessible, so an access the engine wrongly allows past a small length crashes the test.
class HostBuffer {
public:
    static constexpr uint64_t reserved = uint64_t(8) << 30;
    static constexpr uint64_t usable = 128 << 10;
    HostBuffer() {
        void* p =
            mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return;
        m_base = static_cast<uint8_t*>(p);
        mprotect(m_base, usable, PROT_READ | PROT_WRITE);
        refill();
    }
    /// Sets the usable bytes to 0x5a (reads from memory overwrite them).
    void refill() { std::memset(m_base, 0x5a, usable); }
    ~HostBuffer() {
        if (m_base) munmap(m_base, reserved);
    }
    bool ok() const { return m_base != nullptr; }
    /// A span of `len` bytes, or nullopt when the length is past the reservation.
    std::optional<std::span<uint8_t>> span(uint64_t len) const {
        if (len > reserved) return std::nullopt;
        return std::span<uint8_t>(m_base, len);
    }

private:
    uint8_t* m_base = nullptr;
};

/// What a hostile (pointer, length) pair should do against a memory of `size` bytes.
bool fits(uint64_t offset, uint64_t len, uint64_t size) {
    return (unsigned __int128)offset + len <= size;
}

struct Case {
    uint64_t offset, len;
};

const uint64_t page = page_size;
const std::vector<Case> cases = {
    {0, 0},
    {0, page},
    {page, 0},
    {page - 1, 1},
    {page - 8, 8},
    {page - 1, 2},
    {page, 1},
    {0, page + 1},
    {0xffffffff, 0},
    {0xffffffff, 1},
    {0, 0xffffffff},
    {1, 0xffffffff},        // 2^32: 0 in 32 bits
    {0xfffffff0, 0x20},     // wraps 2^32 to 0x10
    {0x10, 0xfffffff0},     // 2^32
    {uint64_t(1) << 32, 0}, // 0 when truncated to 32 bits
    {uint64_t(1) << 32, 8},
    {(uint64_t(1) << 32) + 5, 4},
    {~uint64_t(0), 1},
    {~uint64_t(0), 0},
    {~uint64_t(0) - 0xf, 0x20}, // wraps 2^64 to 0x10
    {1, ~uint64_t(0)},          // 2^64: 0
    {0x10, ~uint64_t(0) - 0xf}, // 2^64: 0
    {0, uint64_t(1) << 33},     // within the host buffer's reservation
    {0, ~uint64_t(0)},
    {page / 2, ~uint64_t(0) - page / 2 + 1},
};

class HostBounds : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(m_buffer.ok());
        m_linker.func_wrap("env", "read", [this](Caller& c, uint64_t off, uint64_t len) -> int32_t {
            auto s = m_buffer.span(len);
            int32_t span_ok = s ? c.read(off, *s) : -1;
            bool str_ok = c.read_string(off, len).has_value();
            return span_ok < 0 ? str_ok : (span_ok == str_ok ? span_ok : 7);
        });
        m_linker.func_wrap("env", "write",
                           [this](Caller& c, uint64_t off, uint64_t len) -> int32_t {
                               auto s = m_buffer.span(len);
                               if (!s) return -1;
                               m_buffer.refill();
                               return c.write(off, *s);
                           });
        m_linker.func_wrap("env", "string", [](Caller& c, uint64_t off, uint64_t len) -> int32_t {
            auto s = c.read_string(off, len);
            if (s && s->size() != len) return 7;
            return s.has_value();
        });
        m_linker.func_wrap("env", "load", [](Caller& c, uint64_t off) -> int32_t {
            return c.load<uint64_t>(off).has_value();
        });
        m_linker.func_wrap("env", "store", [](Caller& c, uint64_t off) -> int32_t {
            return c.store<uint64_t>(off, 0x5a5a5a5a5a5a5a5aull);
        });
        m_linker.func_wrap("env", "read_u32", [](Caller& c, uint32_t off, uint32_t len) -> int32_t {
            return c.read_string(off, len).has_value();
        });
        m_linker.func_wrap("env", "read_s32", [](Caller& c, int32_t off, int32_t len) -> int32_t {
            return c.read_string(uint64_t(int64_t(off)), uint64_t(int64_t(len))).has_value();
        });
        m_linker.func_wrap("env", "grow_and_read", [](Caller& c, uint64_t off) -> int32_t {
            auto mem = c.get_export("memory")->memory();
            if (!mem || !mem->grow(c.store(), 1)) return -1;
            return c.load<uint32_t>(off).has_value();
        });
    }

    HostBuffer m_buffer;
    Engine m_engine;
    Store m_store{m_engine};
    Linker m_linker;
};

TEST_F(HostBounds, CallerRefusesOutOfRangePointersAndLengths) {
    KILN_MODULE(module, m_engine, bounds_wat);
    KILN_ASSERT_OK(inst, m_linker.instantiate(m_store, module));
    auto call = [&](const char* name, std::initializer_list<Value> args) {
        auto r = inst.get_func(m_store, name)->call(m_store, args);
        EXPECT_TRUE(r) << name << ": " << r.error().message;
        return r ? (*r)[0].as_i32() : -100;
    };
    std::vector<uint8_t> expected(page, 0);
    int accepted = 0, refused = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message()
                     << "offset " << std::hex << c.offset << " length " << c.len);
        bool ok = fits(c.offset, c.len, page);
        Value off = Value::i64(int64_t(c.offset)), len = Value::i64(int64_t(c.len));
        int r = call("read", {off, len});
        EXPECT_EQ(r, int(ok)) << "read (7: span and string reads disagree)";
        r = call("string", {off, len});
        EXPECT_EQ(r, int(ok)) << "read_string";
        r = call("write", {off, len});
        if (r >= 0) {
            EXPECT_EQ(r, int(ok)) << "write";
            if (ok) std::fill_n(expected.begin() + c.offset, c.len, 0x5a);
        }
        EXPECT_EQ(call("load", {off}), int(fits(c.offset, 8, page))) << "load";
        EXPECT_EQ(call("store", {off}), int(fits(c.offset, 8, page))) << "store";
        if (fits(c.offset, 8, page)) std::fill_n(expected.begin() + c.offset, 8, 0x5a);
        if (c.offset <= 0xffffffff && c.len <= 0xffffffff) {
            Value off32 = Value::i32(int32_t(uint32_t(c.offset)));
            Value len32 = Value::i32(int32_t(uint32_t(c.len)));
            EXPECT_EQ(call("read_u32", {off32, len32}), int(ok)) << "uint32_t pointer";
            bool ok_signed = fits(uint64_t(int64_t(int32_t(uint32_t(c.offset)))),
                                  uint64_t(int64_t(int32_t(uint32_t(c.len)))), page);
            EXPECT_EQ(call("read_s32", {off32, len32}), int(ok_signed)) << "int32_t pointer";
        }
        (ok ? accepted : refused)++;
    }
    std::printf("[ measure  ] %d in-bounds and %d hostile (pointer, length) pairs checked\n",
                accepted, refused);
    // Refused writes wrote nothing, accepted ones all of their bytes.
    std::vector<uint8_t> actual(page);
    auto mem = inst.get_memory(m_store, "memory");
    ASSERT_TRUE(mem->read(m_store, 0, actual));
    size_t diff =
        std::mismatch(actual.begin(), actual.end(), expected.begin()).first - actual.begin();
    EXPECT_EQ(diff, actual.size())
        << "memory differs from what the accepted writes wrote at " << diff;
    // A host function that grows the memory (to at most 4 pages) sees the new size.
    EXPECT_EQ(call("grow_and_read", {Value::i64(int64_t(2 * page - 4))}), 1);
    EXPECT_EQ(call("grow_and_read", {Value::i64(int64_t(3 * page - 4))}), 1);
    EXPECT_EQ(call("grow_and_read", {Value::i64(int64_t(4 * page - 2))}), 0);
    EXPECT_EQ(call("grow_and_read", {Value::i64(0)}), -1);
    expect_recovers(m_engine, m_store);
}

TEST_F(HostBounds, MemoryHandleRefusesOutOfRangeAccess) {
    KILN_MODULE(module, m_engine, bounds_wat);
    KILN_ASSERT_OK(inst, m_linker.instantiate(m_store, module));
    auto mem = inst.get_memory(m_store, "memory");
    ASSERT_TRUE(mem);
    for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message()
                     << "offset " << std::hex << c.offset << " length " << c.len);
        auto s = m_buffer.span(c.len);
        if (!s) continue;
        bool ok = fits(c.offset, c.len, page);
        auto r = mem->read(m_store, c.offset, *s);
        EXPECT_EQ(bool(r), ok);
        if (!r) EXPECT_EQ(r.error().kind, ErrorKind::usage);
        auto w = mem->write(m_store, c.offset, *s);
        EXPECT_EQ(bool(w), ok);
    }
    expect_recovers(m_engine, m_store);
}

TEST_F(HostBounds, HostFunctionCalledByTheHostHasNoMemory) {
    std::optional<bool> read_ok, string_ok;
    uint64_t size = 1;
    Func f = create_func(m_store, host_func([&](Caller& c, uint64_t off) {
                             uint8_t b = 0;
                             size = c.memory_size();
                             read_ok = c.read(off, {&b, 1});
                             string_ok = c.read_string(off, 0).has_value();
                             return int32_t(c.get_export("memory").has_value());
                         }));
    for (uint64_t off : {uint64_t(0), uint64_t(0xffffffff), ~uint64_t(0)}) {
        auto r = f.call(m_store, {Value::i64(int64_t(off))});
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ((*r)[0].as_i32(), 0);
        EXPECT_EQ(size, 0u);
        EXPECT_EQ(read_ok, false);
        EXPECT_EQ(string_ok, false);
    }
    expect_recovers(m_engine, m_store);
}

} // namespace
