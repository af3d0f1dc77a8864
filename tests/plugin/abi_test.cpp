// The Extism kernel ABI as a guest sees it: blocks and handles, bounds (out-of-range accesses
// read 0 and write nothing, never trap), input and output, errors and return codes, the reset
// at the start of every call, state that persists across calls, and the log functions.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <memory>
#include <ostream>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Abi : public PluginTest {};

// ---------------------------------------------------------------------------------------------
// Kernel memory

TEST_F(Abi, BlocksAreAddressedByteByByteFromTheirHandle) {
    auto p = make_plugin(R"(
  (func (export "blocks") (result i32) (local $h i64) (local $g i64)
    (local.set $h (call $alloc (i64.const 16)))
    (call $put (i64.extend_i32_u (i64.ne (local.get $h) (i64.const 0))))
    (call $put (call $length (local.get $h)))
    (call $put (call $length_unsafe (local.get $h)))
    (call $put (call $length (i64.add (local.get $h) (i64.const 1))))
    (call $put (call $length (i64.const 0)))
    (call $store_u64 (local.get $h) (i64.const 0x0807060504030201))
    (call $put (i64.extend_i32_u (call $load_u8 (local.get $h))))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.add (local.get $h) (i64.const 7)))))
    (call $store_u8 (i64.add (local.get $h) (i64.const 8)) (i32.const 0xab))
    (call $put (call $load_u64 (i64.add (local.get $h) (i64.const 1))))
    (call $put (call $load_u64 (i64.add (local.get $h) (i64.const 8))))
    (call $put (call $alloc (i64.const 0)))
    (local.set $g (call $alloc (i64.const 5)))
    ;; the second block does not overlap the first
    (call $put (i64.extend_i32_u (i32.or
      (i64.ge_u (local.get $g) (i64.add (local.get $h) (i64.const 16)))
      (i64.le_u (i64.add (local.get $g) (i64.const 5)) (local.get $h)))))
    (call $put (call $length (local.get $g)))
    (call $free (local.get $g))
    (call $put (call $length (local.get $g)))
    ;; freeing twice, freeing null and freeing a foreign handle are all harmless
    (call $free (local.get $g))
    (call $free (i64.const 0))
    (call $free (i64.const 0x7fffffffffffffff))
    (call $put (call $length (local.get $h)))
    (call $put (call $load_u64 (local.get $h)))
    (call $put (i64.extend_i32_u (i64.ge_u (call $memory_bytes) (i64.const 16))))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "blocks")),
                ElementsAre(1u,                    // alloc gave a non-null handle
                            16u, 16u,              // length and length_unsafe of the block
                            0u,                    // length of an address inside it
                            0u,                    // length(0)
                            1u, 8u,                // bytes 0 and 7 of a little-endian u64
                            0xab08070605040302ull, // an unaligned u64 load
                            0xabu,                 // u64 at h+8 holds byte 8 only
                            0u,                    // alloc(0)
                            1u,                    // blocks do not overlap
                            5u, 0u,                // length before and after free
                            16u,                   // the first block survived the frees
                            0x0807060504030201ull, // and its contents
                            1u));                  // memory_bytes covers what was allocated
}

TEST_F(Abi, OutOfRangeAccessesReadZeroWriteNothingAndNeverTrap) {
    auto p = make_plugin(R"(
  (func (export "out_of_range") (result i32) (local $h i64) (local $g i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.const 0x1122334455667788))
    (local.set $g (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $g) (i64.const -1))
    (call $free (local.get $g))
    ;; loads: null, freed, foreign, huge, wrapping, one past the end
    (call $put (i64.extend_i32_u (call $load_u8 (i64.const 0))))
    (call $put (call $load_u64 (i64.const 0)))
    (call $put (i64.extend_i32_u (call $load_u8 (local.get $g))))
    (call $put (call $load_u64 (local.get $g)))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.const 0x7fffffffffffffff))))
    (call $put (call $load_u64 (i64.const 0x7fffffffffffffff)))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.const -1))))
    (call $put (call $load_u64 (i64.const -1)))
    (call $put (call $load_u64 (i64.const -4)))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.add (local.get $h) (i64.const 8)))))
    (call $put (call $load_u64 (i64.add (local.get $h) (i64.const 8))))
    ;; stores at the same places
    (call $store_u8 (i64.const 0) (i32.const 1))
    (call $store_u64 (i64.const 0) (i64.const 1))
    (call $store_u8 (local.get $g) (i32.const 1))
    (call $store_u64 (local.get $g) (i64.const 1))
    (call $store_u8 (i64.const 0x7fffffffffffffff) (i32.const 1))
    (call $store_u64 (i64.const 0x7fffffffffffffff) (i64.const 1))
    (call $store_u8 (i64.const -1) (i32.const 1))
    (call $store_u64 (i64.const -4) (i64.const 1))
    (call $store_u8 (i64.add (local.get $h) (i64.const 8)) (i32.const 0x55))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8)) (i64.const 0x55))
    ;; and nothing changed
    (call $put (i64.extend_i32_u (call $load_u8 (i64.const 0))))
    (call $put (call $load_u64 (local.get $g)))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.add (local.get $h) (i64.const 8)))))
    (call $put (call $length (i64.const 0)))
    (call $put (call $load_u64 (local.get $h)))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "out_of_range")),
                ElementsAre(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, // the loads
                            0u, 0u, 0u, 0u,                             // after the stores
                            0x1122334455667788ull));                    // live block intact
}

// Decided: a u64 access is in range only when all 8 bytes lie in one live block, so one that
// straddles a block's end reads 0 and writes nothing (no partial write).
TEST_F(Abi, U64AccessStraddlingTheEndOfABlockIsOutOfRange) {
    auto p = make_plugin(R"(
  (func (export "straddle") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.const 0x1122334455667788))
    (call $put (call $load_u64 (i64.add (local.get $h) (i64.const 4))))
    (call $store_u64 (i64.add (local.get $h) (i64.const 4)) (i64.const -1))
    (call $put (call $load_u64 (local.get $h)))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "straddle")), ElementsAre(0u, 0x1122334455667788ull));
}

TEST_F(Abi, InputIsARealBlock) {
    auto p = make_plugin(R"(
  (func (export "input") (result i32)
    (call $put (call $input_length))
    (call $put (call $length (call $input_offset)))
    (call $put (i64.extend_i32_u (call $input_load_u8 (i64.const 0))))
    (call $put (call $input_load_u64 (i64.const 1)))
    (call $put (i64.extend_i32_u (call $load_u8 (i64.add (call $input_offset) (i64.const 2)))))
    (call $put (i64.extend_i32_u (call $input_load_u8 (call $input_length))))
    (call $put (call $input_load_u64 (i64.sub (call $input_length) (i64.const 4))))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "input", "ABCDEFGHIJ")),
                ElementsAre(10u, 10u, uint64_t('A'),
                            0x4948474645444342ull, // "BCDEFGHI", little-endian
                            uint64_t('C'),
                            0u,   // past the end of the input
                            0u)); // straddling its end
}

TEST_F(Abi, EmptyInputAndEmptyOutput) {
    auto p = make_plugin(R"(
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
  (func (export "len") (result i32)
    (call $put (call $input_length))
    (call $flush)
    (i32.const 0))
  (func (export "nothing") (result i32) (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "len", "")), ElementsAre(0u));
    EXPECT_EQ(call_ok(*p, "echo", ""), "");
    EXPECT_EQ(call_ok(*p, "nothing", "ignored input"), "");
}

TEST_F(Abi, ResetInsideACallFreesEveryBlock) {
    auto p = make_plugin(R"(
  (func (export "reset") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 24)))
    (call $store_u8 (local.get $h) (i32.const 7))
    (call $reset)
    (call $put (call $length (local.get $h)))
    (call $put (i64.extend_i32_u (call $load_u8 (local.get $h))))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "reset")), ElementsAre(0u, 0u));
}

TEST_F(Abi, InputSetAndOutputOffsetLength) {
    auto p = make_plugin(R"(
  (data (i32.const 0) "xyz")
  (data (i32.const 16) "hello")
  (func (export "io") (result i32) (local $o i64)
    (call $input_set (call $str (i32.const 0) (i32.const 3)) (i64.const 3))
    (call $put (call $input_length))
    (call $put (i64.extend_i32_u (call $input_load_u8 (i64.const 2))))
    (local.set $o (call $str (i32.const 16) (i32.const 5)))
    (call $output_set (local.get $o) (i64.const 5))
    (call $put (i64.extend_i32_u (i64.eq (call $output_offset) (local.get $o))))
    (call $put (call $output_length))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "io", "original")), ElementsAre(3u, uint64_t('z'), 1u, 5u));
}

// ---------------------------------------------------------------------------------------------
// Calls

TEST_F(Abi, EveryCallStartsWithAKernelReset) {
    auto p = make_plugin(R"(
  (global $saved (mut i64) (i64.const 0))
  (func (export "save") (result i32)
    (global.set $saved (call $alloc (i64.const 32)))
    (call $store_u8 (global.get $saved) (i32.const 9))
    (call $put (call $length (global.get $saved)))
    (call $flush)
    (i32.const 0))
  (func (export "check") (result i32)
    (call $put (i64.extend_i32_u (i64.ne (global.get $saved) (i64.const 0))))
    (call $put (call $length (global.get $saved)))
    (call $put (call $output_length))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "save")), ElementsAre(32u));
    // The global kept the handle, but its block (and the previous output) are gone. The input
    // is empty so that no new block can land on the old handle before the check.
    EXPECT_THAT(report(call_ok(*p, "check")), ElementsAre(1u, 0u, 0u));
}

TEST_F(Abi, ExportTypesAndMissingExports) {
    auto p = make_plugin(R"(
  (data (i32.const 0) "i32void")
  (func (export "ret_i32") (result i32) (call $out_str (i32.const 0) (i32.const 3)) (i32.const 0))
  (func (export "ret_void") (call $out_str (i32.const 3) (i32.const 4)))
  (func (export "with_param") (param i32) (result i32) (i32.const 0))
  (func (export "two_results") (result i32 i32) (i32.const 0) (i32.const 0))
  (global (export "a_global") i32 (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "ret_i32"), "i32");
    EXPECT_EQ(call_ok(*p, "ret_void"), "void");
    EXPECT_TRUE(p->function_exists("ret_i32"));
    EXPECT_TRUE(p->function_exists("ret_void"));
    EXPECT_FALSE(p->function_exists("missing"));
    EXPECT_FALSE(p->function_exists("a_global"));
    call_fails(*p, "missing");
    call_fails(*p, "a_global");
    // Decided: only () -> i32 and () -> () are callable; other signatures fail cleanly.
    call_fails(*p, "with_param");
    call_fails(*p, "two_results");
    // The plugin is still usable afterwards.
    EXPECT_EQ(call_ok(*p, "ret_i32"), "i32");
}

TEST_F(Abi, OutputIsExactlyTheLengthSet) {
    auto p = make_plugin(R"(
  (data (i32.const 0) "0123456789")
  (func (export "short") (result i32)
    (call $output_set (call $str (i32.const 0) (i32.const 10)) (i64.const 4))
    (i32.const 0))
  (func (export "twice") (result i32)
    (call $output_set (call $str (i32.const 0) (i32.const 10)) (i64.const 10))
    (call $output_set (call $str (i32.const 5) (i32.const 5)) (i64.const 5))
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "short"), "0123");
    EXPECT_EQ(call_ok(*p, "twice"), "56789"); // the last output_set wins
}

TEST_F(Abi, OutputBeyondItsBlockFailsTheCall) {
    auto p = make_plugin(R"(
  (data (i32.const 0) "0123456789")
  (func (export "too_long") (result i32)
    (call $output_set (call $str (i32.const 0) (i32.const 10)) (i64.const 11))
    (i32.const 0))
  (func (export "null_block") (result i32)
    (call $output_set (i64.const 0) (i64.const 5))
    (i32.const 0))
  (func (export "freed_block") (result i32) (local $h i64)
    (local.set $h (call $str (i32.const 0) (i32.const 10)))
    (call $free (local.get $h))
    (call $output_set (local.get $h) (i64.const 10))
    (i32.const 0))
  (func (export "wrapping_length") (result i32)
    (call $output_set (call $str (i32.const 0) (i32.const 10)) (i64.const -1))
    (i32.const 0))
  (func (export "wrapping_offset") (result i32)
    (drop (call $str (i32.const 0) (i32.const 10)))
    (call $output_set (i64.const -8) (i64.const 16))
    (i32.const 0))
  (func (export "ok") (result i32)
    (call $output_set (call $str (i32.const 0) (i32.const 10)) (i64.const 10))
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    for (const char* fn :
         {"too_long", "null_block", "freed_block", "wrapping_length", "wrapping_offset"}) {
        SCOPED_TRACE(fn);
        EXPECT_THAT(call_fails(*p, fn).message, HasSubstr("output"));
    }
    EXPECT_EQ(call_ok(*p, "ok"), "0123456789");
}

TEST_F(Abi, HugeOutputs) {
    auto p = make_plugin(R"(
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
  ;; outputs n bytes (n = the input's u64), the u64 at each multiple of 8 holding its offset
  (func (export "generate") (result i32) (local $n i64) (local $h i64) (local $i i64)
    (local.set $n (call $input_load_u64 (i64.const 0)))
    (local.set $h (call $alloc (local.get $n)))
    (block $done (loop $fill
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $store_u64 (i64.add (local.get $h) (local.get $i)) (local.get $i))
      (local.set $i (i64.add (local.get $i) (i64.const 8)))
      (br $fill)))
    (call $output_set (local.get $h) (local.get $n))
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    constexpr size_t size = 4u << 20;
    std::string big(size, '\0');
    for (size_t i = 0; i < size; ++i)
        big[i] = static_cast<char>((i * 31 + i / 251) & 0xff);
    const std::string echoed = call_ok(*p, "echo", big);
    EXPECT_EQ(echoed.size(), size);
    EXPECT_TRUE(echoed == big) << "a 4 MiB echo came back different";

    std::string n(8, '\0');
    for (int b = 0; b < 8; ++b)
        n[b] = static_cast<char>((uint64_t(size) >> (8 * b)) & 0xff);
    const std::string generated = call_ok(*p, "generate", n);
    ASSERT_EQ(generated.size(), size);
    for (size_t at : {size_t(0), size_t(8), size_t(1) << 20, size - 8})
        EXPECT_EQ(report(std::string_view(generated).substr(at, 8))[0], at) << "at " << at;
}

TEST_F(Abi, BytesInBytesOut) {
    auto p = make_plugin(R"(
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    const std::vector<uint8_t> in = {0, 1, 0xff, 0, 0x80, 0};
    auto out = p->call("echo", std::span<const uint8_t>(in));
    KILN_ASSERT_OK(out);
    EXPECT_EQ(*out, in);
}

TEST_F(Abi, ErrorSetFailsTheCallEvenWithReturnCodeZero) {
    auto p = make_plugin(R"(
  (data (i32.const 0) "boom: the plugin refused")
  (func (export "err_i32") (result i32)
    (call $error_set (call $str (i32.const 0) (i32.const 24)))
    (i32.const 0))
  (func (export "err_void")
    (call $error_set (call $str (i32.const 0) (i32.const 24))))
  (func (export "err_rc") (result i32)
    (call $error_set (call $str (i32.const 0) (i32.const 24)))
    (i32.const 3))
  (func (export "ok") (result i32) (i32.const 0))
)");
    ASSERT_TRUE(p);
    const Error error = call_fails(*p, "err_i32");
    EXPECT_THAT(error.message, HasSubstr("boom: the plugin refused"));
    EXPECT_EQ(error.kind, ErrorKind::plugin);
    EXPECT_THAT(call_fails(*p, "err_void").message, HasSubstr("boom: the plugin refused"));
    EXPECT_THAT(call_fails(*p, "err_rc").message, HasSubstr("boom: the plugin refused"));
    EXPECT_EQ(p->last_rc(), 3);
    call_ok(*p, "ok"); // the error belonged to its call
    EXPECT_EQ(p->last_rc(), 0);
}

TEST_F(Abi, ErrorSetZeroClearsTheError) {
    auto p = make_plugin(R"(
  (data (i32.const 0) "boom")
  (func (export "cleared") (result i32) (local $e i64)
    (local.set $e (call $str (i32.const 0) (i32.const 4)))
    (call $error_set (local.get $e))
    (call $put (i64.extend_i32_u (i64.ne (call $error_get) (i64.const 0))))
    (call $put (call $length (call $error_get)))
    (call $put (i64.extend_i32_u (call $load_u8 (call $error_get))))
    (call $error_set (i64.const 0))
    (call $put (call $error_get))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "cleared")), ElementsAre(1u, 4u, uint64_t('b'), 0u));
    EXPECT_EQ(p->last_rc(), 0);
}

TEST_F(Abi, NonZeroReturnCodeFailsTheCall) {
    auto p = make_plugin(R"(
  (func (export "rc42") (result i32) (i32.const 42))
  (func (export "rc_negative") (result i32) (i32.const -3))
  (func (export "ok") (result i32) (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_EQ(call_fails(*p, "rc42").kind, ErrorKind::plugin);
    EXPECT_EQ(p->last_rc(), 42);
    call_fails(*p, "rc_negative");
    EXPECT_EQ(p->last_rc(), -3);
    call_ok(*p, "ok");
    EXPECT_EQ(p->last_rc(), 0);
}

TEST_F(Abi, LinearMemoryAndGlobalsPersistAcrossCalls) {
    auto p = make_plugin(R"(
  (global $calls (mut i64) (i64.const 0))
  (func (export "count") (result i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (i32.store (i32.const 100) (i32.add (i32.load (i32.const 100)) (i32.const 2)))
    (call $put (global.get $calls))
    (call $put (i64.extend_i32_u (i32.load (i32.const 100))))
    (call $flush)
    (i32.const 0))
)");
    ASSERT_TRUE(p);
    EXPECT_THAT(report(call_ok(*p, "count")), ElementsAre(1u, 2u));
    EXPECT_THAT(report(call_ok(*p, "count")), ElementsAre(2u, 4u));
    EXPECT_THAT(report(call_ok(*p, "count")), ElementsAre(3u, 6u));
    // A failed call in between does not lose the state either.
    call_fails(*p, "missing");
    EXPECT_THAT(report(call_ok(*p, "count")), ElementsAre(4u, 8u));
    // Plugin::reset makes a fresh instance.
    KILN_ASSERT_OK(p->reset());
    EXPECT_THAT(report(call_ok(*p, "count")), ElementsAre(1u, 2u));
}

TEST_F(Abi, InstancesOfOneCompiledPluginAreIndependent) {
    auto compiled = CompiledPlugin::create(engine, manifest_for(R"(
  (global $calls (mut i64) (i64.const 0))
  (func (export "count") (result i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (call $out_i64 (global.get $calls))
    (i32.const 0))
)"));
    KILN_ASSERT_OK(compiled);
    auto a = Plugin::create(*compiled);
    auto b = Plugin::create(*compiled);
    KILN_ASSERT_OK(a);
    KILN_ASSERT_OK(b);
    EXPECT_EQ(output_i64(call_ok(*a, "count")), 1u);
    EXPECT_EQ(output_i64(call_ok(*a, "count")), 2u);
    EXPECT_EQ(output_i64(call_ok(*b, "count")), 1u);
    // Instances keep what they need of the compiled plugin alive.
    compiled->reset();
    EXPECT_EQ(output_i64(call_ok(*a, "count")), 3u);
}

// ---------------------------------------------------------------------------------------------
// Logging

// Each log call gets a block of its own: the message is the host's to dispose of once logged.
constexpr const char* log_wat = R"(
  (data (i32.const 0) "trace-line")
  (data (i32.const 16) "debug-line")
  (data (i32.const 32) "info-line")
  (data (i32.const 48) "warn-line")
  (data (i32.const 64) "error-line")
  (func (export "logs") (result i32)
    (call $log_trace (call $str (i32.const 0) (i32.const 10)))
    (call $log_debug (call $str (i32.const 16) (i32.const 10)))
    (call $log_info (call $str (i32.const 32) (i32.const 9)))
    (call $log_warn (call $str (i32.const 48) (i32.const 9)))
    (call $log_error (call $str (i32.const 64) (i32.const 10)))
    ;; null and foreign handles are ignored, not trapped on
    (call $log_info (i64.const 0))
    (call $log_error (i64.const 0x7fffffffffffffff))
    (call $out_i64 (i64.extend_i32_s (call $get_log_level)))
    (i32.const 0))
)";

TEST_F(Abi, LogLevelsAsTheGuestSeesThem) {
    // Decided: the numbers get_log_level returns are not fixed here, only their order.
    std::vector<int64_t> levels;
    for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
        SCOPED_TRACE(level);
        PluginOptions options;
        options.log_level = level;
        auto p = make_plugin(log_wat, options);
        ASSERT_TRUE(p);
        ::testing::internal::CaptureStderr(); // keep the lines out of the test output
        levels.push_back(int64_t(output_i64(call_ok(*p, "logs"))));
        ::testing::internal::GetCapturedStderr();
    }
    for (size_t i = 1; i < levels.size(); ++i)
        EXPECT_LT(levels[i - 1], levels[i]) << "levels must rise from trace to error";

    auto p = make_plugin(log_wat); // default: info
    ASSERT_TRUE(p);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(int64_t(output_i64(call_ok(*p, "logs"))), levels[2]);
    KILN_ASSERT_OK(p->set_log_level("error"));
    EXPECT_EQ(int64_t(output_i64(call_ok(*p, "logs"))), levels[4]);
    KILN_EXPECT_OK(p->set_log_level("off"));
    call_ok(*p, "logs");
    ::testing::internal::GetCapturedStderr();
    EXPECT_FALSE(p->set_log_level("loud").has_value());

    PluginOptions bad;
    bad.log_level = "loud";
    EXPECT_FALSE(Plugin::create(engine, manifest_for(log_wat), bad).has_value());
}

// Without a sink, log lines go to stderr (spdlog), so they are checked there.
TEST_F(Abi, LogLinesAreFilteredByLevel) {
    auto logged = [&](const char* level) {
        PluginOptions options;
        options.log_level = level;
        auto p = make_plugin(log_wat, options);
        if (!p) return std::string();
        ::testing::internal::CaptureStderr();
        call_ok(*p, "logs");
        return ::testing::internal::GetCapturedStderr();
    };
    const std::string all = logged("trace");
    // Each line carries the plugin's name ("plugin" for a module given as bytes).
    for (const char* line : {"trace-line", "debug-line", "info-line", "warn-line", "error-line"})
        EXPECT_THAT(all, HasSubstr(std::string("plugin: ") + line));

    const std::string warn = logged("warn");
    EXPECT_THAT(warn, ::testing::Not(HasSubstr("trace-line")));
    EXPECT_THAT(warn, ::testing::Not(HasSubstr("debug-line")));
    EXPECT_THAT(warn, ::testing::Not(HasSubstr("info-line")));
    EXPECT_THAT(warn, HasSubstr("warn-line"));
    EXPECT_THAT(warn, HasSubstr("error-line"));

    const std::string off = logged("off");
    EXPECT_THAT(off, ::testing::Not(HasSubstr("-line")));
}

/// One line a LogSink received.
struct LogLine {
    std::string plugin;
    LogLevel level;
    std::string text;
    bool operator==(const LogLine&) const = default;
    friend std::ostream& operator<<(std::ostream& out, const LogLine& l) {
        return out << l.plugin << " [" << log_level_name(l.level) << "] " << l.text;
    }
};

/// A sink collecting lines into `lines`.
LogSink collect(std::shared_ptr<std::vector<LogLine>> lines) {
    return [lines](std::string_view plugin, LogLevel level, std::string_view text) {
        lines->push_back({std::string(plugin), level, std::string(text)});
    };
}

TEST_F(Abi, LogSinkGetsEachLineWithThePluginsName) {
    auto lines = std::make_shared<std::vector<LogLine>>();
    PluginOptions options;
    options.name = "greeter";
    options.log_level = "trace";
    options.log = collect(lines);
    auto p = make_plugin(log_wat, options);
    ASSERT_TRUE(p);
    ::testing::internal::CaptureStderr();
    call_ok(*p, "logs");
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << "a sink replaces stderr";
    EXPECT_EQ(*lines, (std::vector<LogLine>{{"greeter", LogLevel::trace, "trace-line"},
                                            {"greeter", LogLevel::debug, "debug-line"},
                                            {"greeter", LogLevel::info, "info-line"},
                                            {"greeter", LogLevel::warn, "warn-line"},
                                            {"greeter", LogLevel::error, "error-line"}}));
    lines->clear();
    KILN_ASSERT_OK(p->set_log_level("warn"));
    call_ok(*p, "logs");
    EXPECT_EQ(*lines, (std::vector<LogLine>{{"greeter", LogLevel::warn, "warn-line"},
                                            {"greeter", LogLevel::error, "error-line"}}));
    EXPECT_STREQ(log_level_name(LogLevel::warn), "warn");
}

TEST_F(Abi, TwoPluginsLogUnderTheirOwnNames) {
    auto lines = std::make_shared<std::vector<LogLine>>();
    auto make = [&](const char* name) {
        PluginOptions options;
        options.name = name;
        options.log_level = "error";
        options.log = collect(lines);
        return make_plugin(log_wat, options);
    };
    auto a = make("alpha");
    auto b = make("beta");
    ASSERT_TRUE(a && b);
    call_ok(*a, "logs");
    call_ok(*b, "logs");
    call_ok(*a, "logs");
    EXPECT_EQ(*lines, (std::vector<LogLine>{{"alpha", LogLevel::error, "error-line"},
                                            {"beta", LogLevel::error, "error-line"},
                                            {"alpha", LogLevel::error, "error-line"}}));
}

// WASI stdout is logged at info and stderr at warn, one log line per text line.
TEST_F(Abi, WasiOutputIsLoggedLineByLine) {
    constexpr const char* wasi_wat = R"(
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (data (i32.const 16) "one\ntwo\r\n\nthree")
  (data (i32.const 48) "bad\n")
  (func (export "talk") (result i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 15))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 48))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.const 0))
)";
    auto lines = std::make_shared<std::vector<LogLine>>();
    PluginOptions options;
    options.wasi = true;
    options.name = "talker";
    options.log = collect(lines);
    auto p = make_plugin(wasi_wat, options);
    ASSERT_TRUE(p);
    call_ok(*p, "talk");
    EXPECT_EQ(*lines, (std::vector<LogLine>{{"talker", LogLevel::info, "one"},
                                            {"talker", LogLevel::info, "two"},
                                            {"talker", LogLevel::info, "three"},
                                            {"talker", LogLevel::warn, "bad"}}));
    // The plugin's level filters them like its log_* lines.
    lines->clear();
    KILN_ASSERT_OK(p->set_log_level("warn"));
    call_ok(*p, "talk");
    EXPECT_EQ(*lines, (std::vector<LogLine>{{"talker", LogLevel::warn, "bad"}}));
}

} // namespace
