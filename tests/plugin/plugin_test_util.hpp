// Helpers shared by the plugin tests: a builder that wraps WAT bodies into Extism-ABI modules
// (importing just the kernel functions a body calls), small WAT helpers for reporting results,
// and encoders (base64, SHA-256, little-endian) the manifest tests need.
#pragma once

#include "base/file.hpp"
#include "test_util.hpp"

#include <kiln/plugin.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kiln::plugin_test {

/// Every kernel function of "extism:host/env" with its wasm signature.
struct KernelImport {
    const char* name;
    const char* signature;
};
inline constexpr KernelImport kernel_imports[] = {
    {"alloc", "(param i64) (result i64)"},
    {"free", "(param i64)"},
    {"length", "(param i64) (result i64)"},
    {"length_unsafe", "(param i64) (result i64)"},
    {"load_u8", "(param i64) (result i32)"},
    {"load_u64", "(param i64) (result i64)"},
    {"store_u8", "(param i64 i32)"},
    {"store_u64", "(param i64 i64)"},
    {"input_length", "(result i64)"},
    {"input_offset", "(result i64)"},
    {"input_load_u8", "(param i64) (result i32)"},
    {"input_load_u64", "(param i64) (result i64)"},
    {"output_set", "(param i64 i64)"},
    {"error_set", "(param i64)"},
    {"error_get", "(result i64)"},
    {"reset", ""},
    {"input_set", "(param i64 i64)"},
    {"output_offset", "(result i64)"},
    {"output_length", "(result i64)"},
    {"memory_bytes", "(result i64)"},
    {"config_get", "(param i64) (result i64)"},
    {"var_get", "(param i64) (result i64)"},
    {"var_set", "(param i64 i64)"},
    {"http_request", "(param i64 i64) (result i64)"},
    {"http_status_code", "(result i32)"},
    {"http_headers", "(result i64)"},
    {"log_trace", "(param i64)"},
    {"log_debug", "(param i64)"},
    {"log_info", "(param i64)"},
    {"log_warn", "(param i64)"},
    {"log_error", "(param i64)"},
    {"get_log_level", "(result i32)"},
};

/// Linear memory where $put collects the i64 values a test export reports.
inline constexpr int report_base = 0x8000;

/// WAT helpers a body may call; each is added only when the body uses it, so that the kernel
/// functions they need are imported only then.
///   $put (i64)          appends a value to the report (linear memory at report_base)
///   $flush              outputs the report (8 bytes per value, little-endian) and clears it
///   $str (ptr len)->h   copies linear memory [ptr, ptr+len) into a new kernel block
///   $out_str (ptr len)  outputs linear memory [ptr, ptr+len)
///   $out_block (h)      outputs the whole block at h
///   $out_i64 (v)        outputs one i64
struct WatHelper {
    const char* name;
    const char* text;
};
inline constexpr WatHelper wat_helpers[] = {
    {"$put", R"(
  (global $report_at (mut i32) (i32.const 0x8000))
  (func $put (param $v i64)
    (i64.store (global.get $report_at) (local.get $v))
    (global.set $report_at (i32.add (global.get $report_at) (i32.const 8))))
  (func $flush (local $n i64) (local $h i64) (local $i i64)
    (local.set $n (i64.extend_i32_u (i32.sub (global.get $report_at) (i32.const 0x8000))))
    (local.set $h (call $alloc (local.get $n)))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $store_u64 (i64.add (local.get $h) (local.get $i))
        (i64.load (i32.add (i32.const 0x8000) (i32.wrap_i64 (local.get $i)))))
      (local.set $i (i64.add (local.get $i) (i64.const 8)))
      (br $copy)))
    (call $output_set (local.get $h) (local.get $n))
    (global.set $report_at (i32.const 0x8000))))"},
    {"$str", R"(
  (func $str (param $ptr i32) (param $len i32) (result i64) (local $h i64) (local $i i32)
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
        (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (local.get $h)))"},
    {"$out_str", R"(
  (func $out_str (param $ptr i32) (param $len i32)
    (call $output_set (call $str (local.get $ptr) (local.get $len))
      (i64.extend_i32_u (local.get $len)))))"},
    {"$out_block", R"(
  (func $out_block (param $h i64)
    (call $output_set (local.get $h) (call $length (local.get $h)))))"},
    {"$out_i64", R"(
  (func $out_i64 (param $v i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (local.get $v))
    (call $output_set (local.get $h) (i64.const 8))))"},
};

/// True when `text` calls `name` (e.g. "$alloc"), not merely a longer name starting with it.
inline bool calls(std::string_view text, std::string_view name) {
    const std::string needle = "call " + std::string(name);
    for (size_t at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + 1)) {
        const size_t end = at + needle.size();
        if (end == text.size() || text[end] == ' ' || text[end] == ')' || text[end] == '\n')
            return true;
    }
    return false;
}

/// A whole module from `body`: imports from "extism:host/env" for each kernel function the
/// body (or a helper it uses) calls as `$name`, then the body, then a one-page exported memory
/// unless the body declares one, then the helpers used. Imports the body declares itself
/// (other namespaces) must come first in the body, as WAT wants imports before definitions.
inline std::string extism_wat(std::string_view body) {
    std::string helpers;
    // $out_str needs $str and $flush is defined with $put: pull in dependencies first.
    const bool uses_out_str = calls(body, "$out_str");
    for (const auto& h : wat_helpers) {
        const std::string_view name = h.name;
        bool used = calls(body, name) || (name == "$put" && calls(body, "$flush")) ||
                    (name == "$str" && uses_out_str);
        if (used) helpers += h.text;
    }
    const std::string all = std::string(body) + helpers;
    std::string wat = "(module\n";
    for (const auto& imp : kernel_imports) {
        if (!calls(all, std::string("$") + imp.name)) continue;
        wat += std::string("  (import \"extism:host/env\" \"") + imp.name + "\" (func $" +
               imp.name + " " + imp.signature + "))\n";
    }
    wat += body;
    if (body.find("(memory") == std::string_view::npos) wat += "\n  (memory (export \"memory\") 1)";
    wat += helpers;
    wat += "\n)\n";
    return wat;
}

/// Whether wat2wasm is available (the tests skip without it).
inline bool have_wat2wasm() {
    static const bool available = std::system("command -v wat2wasm >/dev/null 2>&1") == 0;
    return available;
}

/// The bytes of `extism_wat(body)`; empty (after a test failure) when it does not assemble.
inline std::vector<uint8_t> extism_wasm(std::string_view body) {
    return test::wat_to_wasm(extism_wat(body)).value_or(std::vector<uint8_t>{});
}

/// A manifest with the one module built from `body`.
inline Manifest manifest_for(std::string_view body) {
    return Manifest::from_bytes(extism_wasm(body));
}

/// The text of a fixture file under tests/plugin/fixtures.
inline std::string read_fixture(const std::string& name) {
    auto bytes = read_file(std::string(KILN_PLUGIN_FIXTURES) + "/" + name);
    EXPECT_TRUE(bytes) << bytes.error().message;
    return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

/// The i64 values a $flush report holds.
inline std::vector<uint64_t> report(std::string_view out) {
    std::vector<uint64_t> values(out.size() / 8);
    for (size_t i = 0; i < values.size(); ++i) {
        uint64_t v = 0;
        for (int b = 7; b >= 0; --b)
            v = (v << 8) | static_cast<uint8_t>(out[i * 8 + b]);
        values[i] = v;
    }
    return values;
}

/// One i64 output by $out_i64; UINT64_MAX (and a failure) when the output is not 8 bytes.
inline uint64_t output_i64(std::string_view out) {
    EXPECT_EQ(out.size(), 8u) << "expected one i64 as output";
    if (out.size() != 8) return UINT64_MAX;
    return report(out)[0];
}

inline std::string base64(std::span<const uint8_t> bytes) {
    static constexpr char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const size_t n = std::min<size_t>(3, bytes.size() - i);
        uint32_t group = uint32_t(bytes[i]) << 16;
        if (n > 1) group |= uint32_t(bytes[i + 1]) << 8;
        if (n > 2) group |= bytes[i + 2];
        out += digits[(group >> 18) & 63];
        out += digits[(group >> 12) & 63];
        out += n > 1 ? digits[(group >> 6) & 63] : '=';
        out += n > 2 ? digits[group & 63] : '=';
    }
    return out;
}

/// SHA-256 (FIPS 180-4) as lowercase hex, so that tests can state a module's correct hash.
inline std::string sha256_hex(std::span<const uint8_t> data) {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::vector<uint8_t> msg(data.begin(), data.end());
    const uint64_t bits = uint64_t(data.size()) * 8;
    msg.push_back(0x80);
    while (msg.size() % 64 != 56)
        msg.push_back(0);
    for (int i = 7; i >= 0; --i)
        msg.push_back(uint8_t(bits >> (i * 8)));
    auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
    for (size_t chunk = 0; chunk < msg.size(); chunk += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = uint32_t(msg[chunk + 4 * i]) << 24 | uint32_t(msg[chunk + 4 * i + 1]) << 16 |
                   uint32_t(msg[chunk + 4 * i + 2]) << 8 | uint32_t(msg[chunk + 4 * i + 3]);
        for (int i = 16; i < 64; ++i) {
            const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; ++i) {
            const uint32_t t1 =
                hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const uint32_t t2 =
                (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
    std::string hex;
    static constexpr char xd[] = "0123456789abcdef";
    for (uint32_t word : h)
        for (int i = 28; i >= 0; i -= 4)
            hex += xd[(word >> i) & 15];
    return hex;
}

/// Cancels a plugin's call if it still runs after `after`: a backstop, so that a limit that does
/// not work fails its test (check `fired`) instead of hanging the whole binary.
class Watchdog {
public:
    Watchdog(CancelHandle handle, std::chrono::milliseconds after)
        : m_thread([this, handle, after] {
              std::unique_lock lock(m_mutex);
              if (!m_cv.wait_for(lock, after, [this] { return m_done; })) {
                  fired = true;
                  handle.cancel();
              }
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(m_mutex);
            m_done = true;
        }
        m_cv.notify_one();
        m_thread.join();
    }
    std::atomic<bool> fired{false};

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_done = false;
    std::thread m_thread; // last: starts once the members it uses exist
};

/// Base for the plugin tests: skips when wat2wasm is missing, and owns an engine.
class PluginTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have_wat2wasm()) GTEST_SKIP() << "wat2wasm is not installed";
    }
    /// A plugin from the module built from `body`, with `edit` applied to its manifest; nullopt
    /// (and a test failure) when it cannot be created.
    std::optional<Plugin> make_plugin(std::string_view body, PluginOptions options = {},
                                      const std::function<void(Manifest&)>& edit = {}) {
        Manifest manifest = manifest_for(body);
        if (edit) edit(manifest);
        auto plugin = Plugin::create(engine, std::move(manifest), std::move(options));
        if (!plugin) {
            ADD_FAILURE() << "Plugin::create failed: " << plugin.error().message;
            return std::nullopt;
        }
        return std::move(*plugin);
    }

    /// The output of a call that must succeed; on failure, a test failure and "<failed>".
    static std::string call_ok(Plugin& plugin, std::string_view function,
                               std::string_view input = {}) {
        auto out = plugin.call(function, input);
        if (!out) {
            ADD_FAILURE() << function << " failed: " << out.error().message;
            return "<failed>";
        }
        return *out;
    }

    /// The error of a call that must fail; on success, a test failure and an empty message.
    static Error call_fails(Plugin& plugin, std::string_view function,
                            std::string_view input = {}) {
        auto out = plugin.call(function, input);
        if (out) {
            ADD_FAILURE() << function << " succeeded with output of " << out->size()
                          << " bytes; expected it to fail";
            return Error{ErrorKind::usage, "", nullptr};
        }
        return out.error();
    }

    Engine engine;
};

} // namespace kiln::plugin_test

/// Asserts that a Result holds a value, printing the error otherwise.
#define KILN_ASSERT_OK(r) ASSERT_TRUE((r).has_value()) << "error: " << (r).error().message
#define KILN_EXPECT_OK(r) EXPECT_TRUE((r).has_value()) << "error: " << (r).error().message
