// Error and trap kinds (one list, <kiln/error_kinds.def>, for C++ and C) and the printed form of
// trap backtraces.
#include <kiln/error.hpp>
#include <kiln/kiln.h>

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {

using kiln::ErrorKind;
using kiln::TrapFrame;
using kiln::TrapKind;

// C and C++ agree value for value, and the values the C API has always had stay.
#define KILN_ERROR_KIND(name, NAME, value, text)                                                   \
    static_assert(int(KILN_ERROR_##NAME) == int(ErrorKind::name) && KILN_ERROR_##NAME == value);
#define KILN_TRAP_KIND(name, NAME, value, text)                                                    \
    static_assert(int(KILN_TRAP_##NAME) == int(TrapKind::name) && KILN_TRAP_##NAME == value);
#include <kiln/error_kinds.def>
static_assert(KILN_ERROR_USAGE == 7 && KILN_ERROR_EXIT == 9 && KILN_ERROR_PLUGIN == 10);
static_assert(KILN_TRAP_HOST_ERROR == 13 && KILN_TRAP_EXIT == 14);

struct Kind {
    int value;
    const char* cpp_name;
    const char* c_name;
};

std::vector<Kind> error_kinds() {
    return {
#define KILN_ERROR_KIND(name, NAME, value, text)                                                   \
    {value, kiln::error_kind_name(ErrorKind::name), kiln_error_kind_name(KILN_ERROR_##NAME)},
#include <kiln/error_kinds.def>
    };
}

std::vector<Kind> trap_kinds() {
    return {
#define KILN_TRAP_KIND(name, NAME, value, text)                                                    \
    {value, kiln::trap_kind_name(TrapKind::name), kiln_trap_kind_name(KILN_TRAP_##NAME)},
#include <kiln/error_kinds.def>
    };
}

void expect_distinct_names(const std::vector<Kind>& kinds) {
    std::set<std::string> names;
    std::set<int> values;
    for (const Kind& k : kinds) {
        SCOPED_TRACE(k.cpp_name);
        EXPECT_STRNE(k.cpp_name, "unknown");
        EXPECT_STREQ(k.cpp_name, k.c_name);
        EXPECT_TRUE(names.insert(k.cpp_name).second) << "two kinds named " << k.cpp_name;
        EXPECT_TRUE(values.insert(k.value).second) << "two kinds valued " << k.value;
    }
    // Values run from 0 without gaps, so C can range-check a kind.
    EXPECT_EQ(*values.rbegin(), int(kinds.size()) - 1);
}

TEST(ErrorKinds, EveryKindHasItsOwnNameInCAndCpp) {
    expect_distinct_names(error_kinds());
    expect_distinct_names(trap_kinds());
    EXPECT_STREQ(kiln::error_kind_name(ErrorKind(99)), "unknown");
    EXPECT_STREQ(kiln_error_kind_name(kiln_error_kind_t(-1)), "unknown");
    EXPECT_STREQ(kiln_trap_kind_name(kiln_trap_kind_t(256)), "unknown");
}

TEST(ErrorKinds, KindNameIsNotUnknownForExitAndPluginKinds) {
    EXPECT_STREQ(kiln_error_kind_name(KILN_ERROR_EXIT), "exit");
    EXPECT_STREQ(kiln_error_kind_name(KILN_ERROR_PLUGIN), "plugin");
    EXPECT_STREQ(kiln_trap_kind_name(KILN_TRAP_EXIT), "exit");
    EXPECT_STREQ(kiln::error_kind_name(ErrorKind::plugin), "plugin");
    EXPECT_STREQ(kiln::trap_kind_name(TrapKind::yielded), "yielded");
}

TrapFrame wasm_frame(uint32_t index, std::string name) {
    return TrapFrame{index, std::move(name), "m", 0x40};
}

TEST(Backtrace, FramesPrintByNameIndexOrAsHost) {
    EXPECT_EQ(kiln::format_frame(wasm_frame(3, "run")), "run");
    EXPECT_EQ(kiln::format_frame(wasm_frame(3, "")), "func[3]");
    EXPECT_EQ(kiln::format_frame(TrapFrame{}), "<host function>");
    EXPECT_TRUE(TrapFrame{}.is_host());
}

TEST(Backtrace, DeepRecursionPrintsAFewLines) {
    std::vector<TrapFrame> frames(20000, wasm_frame(0, ""));
    frames.push_back(wasm_frame(1, "main"));
    EXPECT_EQ(kiln::format_backtrace(frames), "  at func[0]\n"
                                              "  at func[0]\n"
                                              "  at func[0]\n"
                                              "  ... 19,997 more frames of func[0]\n"
                                              "  at main\n");
}

TEST(Backtrace, ShortRunsAndAlternationsPrintInFull) {
    // A summary line stands for two frames at least.
    std::vector<TrapFrame> four(4, wasm_frame(2, "f"));
    EXPECT_EQ(kiln::format_backtrace(four, "  at "), "  at f\n  at f\n  at f\n  at f\n");
    std::vector<TrapFrame> five(5, wasm_frame(2, "f"));
    EXPECT_EQ(kiln::format_backtrace(five, "\t", 1), "\tf\n... 4 more frames of f\n");
    // Same name, other function: not folded together.
    std::vector<TrapFrame> mixed = {wasm_frame(1, "f"), wasm_frame(2, "f"), TrapFrame{},
                                    wasm_frame(1, "f")};
    EXPECT_EQ(kiln::format_backtrace(mixed, "", 0), "f\nf\n<host function>\nf\n");
    EXPECT_EQ(kiln::format_backtrace({}), "");
}

} // namespace
