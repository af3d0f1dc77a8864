// WASI state in snapshots: open files come back at their offsets below the same preopen; what
// cannot be opened again is refused by name.
#include "base/result.hpp"
#include "test_util.hpp"

#include <kiln/kiln.hpp>
#include <kiln/wasi.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

// Opens data.txt below preopen 3, reads 4 bytes, pauses (the host suspends the call), reads 4
// more and returns them as an i32.
constexpr const char* reader_wat = R"((module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "env" "pause" (func $pause))
  (memory (export "memory") 1)
  (data (i32.const 0) "data.txt")
  (func (export "run") (result i32) (local $fd i32)
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 0)
                    (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100))
      (then (return (i32.const -1))))
    (local.set $fd (i32.load (i32.const 100)))
    (i32.store (i32.const 200) (i32.const 300))
    (i32.store (i32.const 204) (i32.const 4))
    (drop (call $read (local.get $fd) (i32.const 200) (i32.const 1) (i32.const 208)))
    (call $pause)
    (if (call $read (local.get $fd) (i32.const 200) (i32.const 1) (i32.const 208))
      (then (return (i32.const -2))))
    (i32.load (i32.const 300))))
)";

class WasiSnapshot : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() / ("kiln-wasi-snap-" + std::to_string(::getpid()));
        fs::create_directories(m_dir);
        std::ofstream(m_dir / "data.txt") << "0123456789";
        kiln::Wasi::define(m_linker);
        m_linker.func_wrap("env", "pause",
                           [](kiln::Caller& c) -> kiln::Result<void> { return c.suspend(); });
        auto bytes = kiln::test::wat_to_wasm(reader_wat);
        if (!bytes) return;
        auto m = kiln::Module::compile(m_engine, *bytes);
        ASSERT_TRUE(m) << m.error().message;
        m_module = *m;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    struct Guest {
        std::unique_ptr<kiln::Store> store;
        std::shared_ptr<kiln::Wasi> wasi;
        std::optional<kiln::Instance> inst;
    };
    Guest guest(bool read_only = false, std::string guest_name = ".") {
        Guest g;
        g.store = std::make_unique<kiln::Store>(m_engine);
        kiln::WasiConfig config;
        config.preopens.push_back({m_dir.string(), guest_name, read_only});
        g.wasi = *kiln::Wasi::create(std::move(config));
        g.wasi->attach(*g.store);
        auto inst = m_linker.instantiate(*g.store, *m_module);
        EXPECT_TRUE(inst) << inst.error().message;
        g.inst = *inst;
        return g;
    }
    /// Runs the guest to its pause and returns the encoded snapshot of store and WASI.
    std::vector<uint8_t> paused_snapshot() {
        Guest a = guest();
        auto r = a.inst->get_func(*a.store, "run")->call(*a.store, {});
        EXPECT_FALSE(r);
        EXPECT_EQ(r.error().kind, kiln::ErrorKind::suspended) << r.error().message;
        kiln::Snapshot snap;
        EXPECT_TRUE(a.store->save(snap));
        auto saved = a.wasi->save(snap);
        EXPECT_TRUE(saved) << saved.error().message;
        return *snap.encode();
    }

    fs::path m_dir;
    kiln::Engine m_engine;
    kiln::Linker m_linker;
    std::optional<kiln::Module> m_module;
};

#define NEED_MODULE                                                                                \
    if (!m_module) GTEST_SKIP() << "wat2wasm is not installed"

int32_t le32(const char* s) {
    return int32_t(uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 |
                   uint32_t(uint8_t(s[2])) << 16 | uint32_t(uint8_t(s[3])) << 24);
}

TEST_F(WasiSnapshot, AnOpenFileContinuesAtItsOffsetInAnotherStore) {
    NEED_MODULE;
    std::vector<uint8_t> bytes = paused_snapshot();
    Guest b = guest();
    auto snap = kiln::Snapshot::decode(bytes);
    ASSERT_TRUE(snap) << snap.error().message;
    ASSERT_TRUE(b.store->restore(*snap));
    auto ok = b.wasi->restore(*snap);
    ASSERT_TRUE(ok) << ok.error().message;
    auto r = b.store->resume();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].as_i32(), le32("4567"));
}

TEST_F(WasiSnapshot, AMissingOrNarrowerPreopenIsRefused) {
    NEED_MODULE;
    std::vector<uint8_t> bytes = paused_snapshot();
    auto snap = kiln::Snapshot::decode(bytes);
    ASSERT_TRUE(snap);
    Guest other = guest(false, "/elsewhere");
    auto r = other.wasi->restore(*snap);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("\".\""), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("not granted"), std::string::npos) << r.error().message;
    Guest ro = guest(true);
    auto r2 = ro.wasi->restore(*snap);
    ASSERT_FALSE(r2);
    EXPECT_NE(r2.error().message.find("read-only"), std::string::npos) << r2.error().message;
}

TEST_F(WasiSnapshot, AFileGoneSinceIsRefusedAndTheTableKept) {
    NEED_MODULE;
    std::vector<uint8_t> bytes = paused_snapshot();
    auto snap = kiln::Snapshot::decode(bytes);
    ASSERT_TRUE(snap);
    fs::remove(m_dir / "data.txt");
    Guest b = guest();
    auto r = b.wasi->restore(*snap);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, kiln::ErrorKind::io);
    EXPECT_NE(r.error().message.find("data.txt"), std::string::npos) << r.error().message;
}

TEST_F(WasiSnapshot, ADeletedOpenFileCannotBeSaved) {
    NEED_MODULE;
    Guest a = guest();
    ASSERT_FALSE(a.inst->get_func(*a.store, "run")->call(*a.store, {}));
    fs::remove(m_dir / "data.txt");
    kiln::Snapshot snap;
    auto r = a.wasi->save(snap);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("deleted"), std::string::npos) << r.error().message;
}

} // namespace
