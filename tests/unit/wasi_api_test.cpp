// The WASI library through its C++ API: streams (buffer, callback, closed), args and
// environment, exit codes, errno values for bad descriptors, pointers and escapes, and blocking
// calls that end at the deadline or on an interrupt. The C and Rust programs in tests/wasi/
// cover the file system through ordinary libc and std.
#include "test_util.hpp"

#include <kiln/kiln.hpp>
#include <kiln/wasi.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using namespace kiln;

// Imports the functions the tests use and exports small wrappers around them. Memory layout:
// 0..64 scratch for results, 64.. iovecs, 128.. strings, 1024.. buffers.
constexpr const char* wasi_wat = R"((module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "hello, wasi\n")
  (data (i32.const 160) "../outside.txt")
  (data (i32.const 192) "inside.txt")
  ;; write(fd, 128, len) through one iovec at 64; returns the errno, bytes written at 0
  (func (export "write") (param $fd i32) (param $len i32) (result i32)
    (i32.store (i32.const 64) (i32.const 128))
    (i32.store (i32.const 68) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 64) (i32.const 1) (i32.const 0)))
  (func (export "write_bad_iovec") (result i32)
    (i32.store (i32.const 64) (i32.const 65530))
    (i32.store (i32.const 68) (i32.const 100))
    (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 0)))
  ;; read(0) into 1024, up to $len bytes; returns the errno, count at 0
  (func (export "read") (param $len i32) (result i32)
    (i32.store (i32.const 64) (i32.const 1024))
    (i32.store (i32.const 68) (local.get $len))
    (call $fd_read (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 0)))
  (func (export "result") (param $at i32) (result i32) (i32.load (local.get $at)))
  (func (export "byte") (param $at i32) (result i32) (i32.load8_u (local.get $at)))
  (func (export "exit") (param i32) (call $proc_exit (local.get 0)))
  (func (export "args") (result i32) (call $args_sizes (i32.const 0) (i32.const 4)))
  (func (export "env") (result i32) (call $env_sizes (i32.const 0) (i32.const 4)))
  ;; sleeps $ns nanoseconds with one relative monotonic clock subscription at 256
  (func (export "sleep") (param $ns i64) (result i32)
    (i64.store (i32.const 256) (i64.const 42))          ;; userdata
    (i32.store8 (i32.const 264) (i32.const 0))           ;; clock
    (i32.store (i32.const 272) (i32.const 1))            ;; monotonic
    (i64.store (i32.const 280) (local.get $ns))          ;; timeout
    (i64.store (i32.const 288) (i64.const 0))            ;; precision
    (i32.store16 (i32.const 296) (i32.const 0))          ;; relative
    (call $poll (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 0)))
  ;; path_open(3, path at $ptr/$len, rights) -> errno; fd at 0
  (func (export "open") (param $ptr i32) (param $len i32) (param $oflags i32) (param $rights i64)
    (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (local.get $ptr) (local.get $len)
      (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 0)))
  (func (export "sock") (param i32) (result i32)
    (call $sock_accept (local.get 0) (i32.const 0) (i32.const 0)))
))";

class WasiApi : public ::testing::Test {
protected:
    /// Instantiates wasi_wat with a WASI state made from `config`.
    bool load(WasiConfig config) {
        auto bytes = test::wat_to_wasm(wasi_wat);
        if (!bytes) return false;
        auto module = Module::compile(m_engine, *bytes);
        EXPECT_TRUE(module) << module.error().message;
        auto wasi = Wasi::create(std::move(config));
        EXPECT_TRUE(wasi) << wasi.error().message;
        if (!module || !wasi) return false;
        m_wasi = *wasi;
        Linker linker;
        Wasi::define(linker);
        m_wasi->attach(m_store);
        auto inst = linker.instantiate(m_store, *module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return false;
        m_inst = *inst;
        return true;
    }
    template <typename Sig, typename... A> auto call(const char* name, A... args) {
        return m_inst->get_func(m_store, name)->typed<Sig>(m_store)->call(m_store, args...);
    }
    int32_t result_at(int32_t at) { return *call<int32_t(int32_t)>("result", at); }

    Engine m_engine;
    Store m_store{m_engine};
    std::shared_ptr<Wasi> m_wasi;
    std::optional<Instance> m_inst;
};

#define LOAD_OR_SKIP(config)                                                                       \
    if (!load(config)) GTEST_SKIP() << "wat2wasm is not installed"

TEST_F(WasiApi, BufferedStdoutKeepsWhatTheProgramWrote) {
    WasiConfig config;
    config.stdout_stream = WasiStream::buffer();
    LOAD_OR_SKIP(config);
    EXPECT_EQ(*call<int32_t(int32_t, int32_t)>("write", 1, 12), 0);
    EXPECT_EQ(result_at(0), 12);
    EXPECT_EQ(*call<int32_t(int32_t, int32_t)>("write", 1, 5), 0);
    EXPECT_EQ(m_wasi->output(1), "hello, wasi\nhello");
    EXPECT_EQ(m_wasi->output(2), "");
}

TEST_F(WasiApi, CallbackStderrSeesEachWrite) {
    std::vector<std::string> seen;
    WasiConfig config;
    config.stderr_stream = WasiStream::callback([&](std::string_view s) { seen.emplace_back(s); });
    LOAD_OR_SKIP(config);
    EXPECT_EQ(*call<int32_t(int32_t, int32_t)>("write", 2, 5), 0);
    EXPECT_EQ(*call<int32_t(int32_t, int32_t)>("write", 2, 4), 0);
    EXPECT_EQ(seen, (std::vector<std::string>{"hello", "hell"}));
}

TEST_F(WasiApi, ClosedStreamsAndUnknownDescriptorsAreEbadf) {
    LOAD_OR_SKIP(WasiConfig{});
    EXPECT_EQ(*call<int32_t(int32_t, int32_t)>("write", 1, 5), 8); // closed stdout
    EXPECT_EQ(*call<int32_t(int32_t, int32_t)>("write", 9, 5), 8); // never opened
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 10), 8);             // closed stdin
    EXPECT_EQ(*call<int32_t(int32_t)>("sock", 1), 57);             // a stream, not a socket
    EXPECT_EQ(*call<int32_t(int32_t)>("sock", 77), 8);
}

TEST_F(WasiApi, PointersOutsideMemoryAreEfault) {
    WasiConfig config;
    config.stdout_stream = WasiStream::buffer();
    LOAD_OR_SKIP(config);
    EXPECT_EQ(*call<int32_t()>("write_bad_iovec"), 21);
    EXPECT_EQ(m_wasi->output(1), "");
}

TEST_F(WasiApi, BufferedStdinIsReadThenEndOfFile) {
    WasiConfig config;
    config.stdin_stream = WasiStream::buffer("abcdef");
    LOAD_OR_SKIP(config);
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 4), 0);
    EXPECT_EQ(result_at(0), 4);
    EXPECT_EQ(*call<int32_t(int32_t)>("byte", 1024), 'a');
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 4), 0);
    EXPECT_EQ(result_at(0), 2);
    EXPECT_EQ(*call<int32_t(int32_t)>("byte", 1025), 'f');
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 4), 0);
    EXPECT_EQ(result_at(0), 0);
}

TEST_F(WasiApi, CallbackStdinIsAskedForEachRead) {
    int asked = 0;
    WasiConfig config;
    config.stdin_stream = WasiStream::callback([&](std::span<char> out) -> size_t {
        ++asked;
        if (asked > 2) return 0; // end of file
        out[0] = char('0' + asked);
        return 1;
    });
    LOAD_OR_SKIP(config);
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 8), 0);
    EXPECT_EQ(result_at(0), 1);
    EXPECT_EQ(*call<int32_t(int32_t)>("byte", 1024), '1');
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 8), 0);
    EXPECT_EQ(*call<int32_t(int32_t)>("byte", 1024), '2');
    EXPECT_EQ(*call<int32_t(int32_t)>("read", 8), 0);
    EXPECT_EQ(result_at(0), 0);
    EXPECT_EQ(asked, 3);
}

TEST(Wasi, CallbacksMustFitTheirStream) {
    WasiConfig config;
    config.stdin_stream = WasiStream::callback([](std::string_view) {});
    EXPECT_FALSE(Wasi::create(config));
    config.stdin_stream = WasiStream::closed();
    config.stdout_stream = WasiStream::callback([](std::span<char>) -> size_t { return 0; });
    EXPECT_FALSE(Wasi::create(config));
}

TEST_F(WasiApi, ArgsAndEnvironmentAreOnlyWhatWasGiven) {
    WasiConfig config;
    config.args = {"prog", "x"};
    config.env = {{"A", "1"}, {"BB", "22"}, {"C", ""}};
    LOAD_OR_SKIP(config);
    EXPECT_EQ(*call<int32_t()>("args"), 0);
    EXPECT_EQ(result_at(0), 2);
    EXPECT_EQ(result_at(4), 7); // "prog\0x\0"
    EXPECT_EQ(*call<int32_t()>("env"), 0);
    EXPECT_EQ(result_at(0), 3);
    EXPECT_EQ(result_at(4), 4 + 6 + 3);
}

TEST_F(WasiApi, ProcExitIsAnExitNotATrap) {
    LOAD_OR_SKIP(WasiConfig{});
    auto r = call<void(int32_t)>("exit", 7);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::exit);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->exit_code, 7);
    // Not a fault: the instance still takes calls.
    EXPECT_EQ(*call<int32_t()>("args"), 0);
}

TEST_F(WasiApi, SleepEndsAtTheDeadline) {
    LOAD_OR_SKIP(WasiConfig{});
    // A short sleep completes and reports its one event.
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(*call<int32_t(int64_t)>("sleep", int64_t(20'000'000)), 0);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_EQ(result_at(0), 1);
    // An hour's sleep under a 100 ms timeout stops at the deadline.
    m_store.set_timeout(100ms);
    t0 = std::chrono::steady_clock::now();
    auto r = call<int32_t(int64_t)>("sleep", int64_t(3600) * 1'000'000'000);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->kind, TrapKind::deadline);
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 1s);
    std::printf("[ measure  ] 1 h sleep under a 100 ms timeout returned after %.1f ms\n",
                std::chrono::duration<double, std::milli>(took).count());
}

TEST_F(WasiApi, SleepEndsOnInterrupt) {
    LOAD_OR_SKIP(WasiConfig{});
    auto handle = m_store.interrupt_handle();
    std::thread t([&] {
        std::this_thread::sleep_for(50ms);
        handle.interrupt();
    });
    auto t0 = std::chrono::steady_clock::now();
    auto r = call<int32_t(int64_t)>("sleep", int64_t(3600) * 1'000'000'000);
    auto took = std::chrono::steady_clock::now() - t0;
    t.join();
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().trap);
    EXPECT_EQ(r.error().trap->kind, TrapKind::interrupted);
    EXPECT_LT(took, 1s);
}

TEST_F(WasiApi, PreopenConfinesPaths) {
    namespace fs = std::filesystem;
    fs::path root = fs::temp_directory_path() / ("kiln-wasi-api-" + std::to_string(getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "box");
    std::ofstream(root / "outside.txt") << "secret";
    std::ofstream(root / "box" / "inside.txt") << "fine";
    WasiConfig config;
    config.preopens.push_back({(root / "box").string(), "/box", true});
    LOAD_OR_SKIP(config);
    auto open = [&](int32_t ptr, int32_t len, int32_t oflags, int64_t rights) {
        return *call<int32_t(int32_t, int32_t, int32_t, int64_t)>("open", ptr, len, oflags, rights);
    };
    const int64_t read = 0x2 | 0x4 | 0x20 | 0x200000, write = 0x40;
    EXPECT_EQ(open(192, 10, 0, read), 0);
    EXPECT_EQ(open(160, 14, 0, read), 76); // ../
    // Read-only: writing and creating are refused before the host is asked.
    EXPECT_EQ(open(192, 10, 0, read | write), 76);
    EXPECT_EQ(open(192, 10, 1, read), 76); // O_CREAT
    EXPECT_EQ(open(192, 10, 8, read), 76); // O_TRUNC
    EXPECT_EQ(open(160, 14, 1, read), 76);
    fs::remove_all(root);
}

TEST(Wasi, MissingPreopenIsAnIoErrorNamingIt) {
    WasiConfig config;
    config.preopens.push_back({"/nonexistent/kiln-dir", "/d", false});
    auto w = Wasi::create(config);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().kind, ErrorKind::io);
    EXPECT_NE(w.error().message.find("/nonexistent/kiln-dir"), std::string::npos);
}

} // namespace
