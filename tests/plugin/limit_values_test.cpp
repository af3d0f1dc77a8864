// Limits as a manifest gives them: a TOML date or time, or a JSON value of another type, in a
// limit field read as "not set" (the plugin ran unlimited); a timeout of 0 meant none; a timeout
// near the top of the u64 range wrapped into a deadline already passed. Each test is named after
// what broke.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <cstdint>
#include <string>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::HasSubstr;

/// The manifest's limit fields, as a path and how a TOML manifest spells that field.
struct LimitField {
    const char* path;
    std::string (*toml)(const std::string& value);
};
const LimitField limit_fields[] = {
    {"timeout_ms", [](const std::string& v) { return "timeout_ms = " + v + "\n"; }},
    {"fuel", [](const std::string& v) { return "fuel = " + v + "\n"; }},
    {"memory.max_pages", [](const std::string& v) { return "[memory]\nmax_pages = " + v + "\n"; }},
    {"memory.max_var_bytes",
     [](const std::string& v) { return "[memory]\nmax_var_bytes = " + v + "\n"; }},
    {"memory.max_http_response_bytes",
     [](const std::string& v) { return "[memory]\nmax_http_response_bytes = " + v + "\n"; }},
};

/// A JSON manifest with one (not compiled) module and `field` (a dotted path) set to `value`.
std::string json_with(const std::string& field, const std::string& value) {
    const std::string wasm = R"("wasm": [{"data": "AGFzbQEAAAA="}])";
    if (field.rfind("memory.", 0) == 0)
        return "{" + wasm + R"(, "memory": {")" + field.substr(7) + R"(": )" + value + "}}";
    return "{" + wasm + R"(, ")" + field + R"(": )" + value + "}";
}

const std::string toml_wasm = "[[wasm]]\ndata = \"AGFzbQEAAAA=\"\n";

TEST(ManifestLimits, TomlDateOrTimeInALimitIsATypeErrorNamingTheField) {
    for (const LimitField& f : limit_fields)
        for (const char* value :
             {"1979-05-27T07:32:00Z", "1979-05-27T07:32:00", "2020-01-01", "07:32:00"}) {
            const std::string toml = f.toml(value) + toml_wasm;
            SCOPED_TRACE(toml);
            auto m = Manifest::from_toml(toml);
            ASSERT_FALSE(m.has_value()) << "a date/time was read as no limit";
            EXPECT_THAT(m.error().message, HasSubstr(std::string(f.path) + ": expected a whole "
                                                                           "number"));
            EXPECT_THAT(m.error().message, HasSubstr("got a TOML date/time"));
        }
    // A table written as a time is no table.
    auto m = Manifest::from_toml("memory = 07:32:00\n" + toml_wasm);
    ASSERT_FALSE(m.has_value()) << "memory = 07:32:00 was accepted";
    EXPECT_THAT(m.error().message, HasSubstr("memory: expected an object"));
}

TEST(ManifestLimits, JsonLimitOfAnotherTypeIsAnErrorNamingTheField) {
    for (const LimitField& f : limit_fields)
        for (const char* value : {R"("5")", "1.5", "5.0", "-1", "true", "false", "[5]",
                                  R"({"n": 5})", "18446744073709551616", "1e30"}) {
            const std::string json = json_with(f.path, value);
            SCOPED_TRACE(json);
            auto m = Manifest::from_json(json);
            ASSERT_FALSE(m.has_value()) << "accepted";
            EXPECT_THAT(m.error().message, HasSubstr(std::string(f.path) + ": expected a whole "
                                                                           "number from "));
        }
    // Negative and fractional values in TOML too.
    for (const LimitField& f : limit_fields)
        for (const char* value : {"-1", "2.5", "true", "\"5\""}) {
            auto m = Manifest::from_toml(f.toml(value) + toml_wasm);
            ASSERT_FALSE(m.has_value()) << f.path << " = " << value << " was accepted";
            EXPECT_THAT(m.error().message, HasSubstr(f.path));
        }
    // null is "not set", as Extism writes an absent option.
    auto m = Manifest::from_json(json_with("timeout_ms", "null"));
    KILN_ASSERT_OK(m);
    EXPECT_FALSE(m->timeout_ms.has_value());
}

TEST(ManifestLimits, ZeroTimeoutIsRefusedInsteadOfMeaningNone) {
    auto from_json = Manifest::from_json(json_with("timeout_ms", "0"));
    ASSERT_FALSE(from_json.has_value());
    EXPECT_THAT(from_json.error().message, HasSubstr("timeout_ms: expected a whole number from 1 "
                                                     "to 18446744073709551615, got 0"));
    auto from_toml = Manifest::from_toml("timeout_ms = 0\n" + toml_wasm);
    ASSERT_FALSE(from_toml.has_value());
    EXPECT_THAT(from_toml.error().message, HasSubstr("timeout_ms: expected"));
    // A manifest built in code is refused the same way.
    Engine engine;
    Manifest m = Manifest::from_bytes({0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00});
    m.timeout_ms = 0;
    auto compiled = CompiledPlugin::create(engine, m);
    ASSERT_FALSE(compiled.has_value());
    EXPECT_EQ(compiled.error().kind, ErrorKind::usage);
    EXPECT_THAT(compiled.error().message, HasSubstr("timeout_ms"));
}

TEST(ManifestLimits, LargestValuesAreAcceptedAndOneMoreIsNot) {
    auto timeout = Manifest::from_json(json_with("timeout_ms", "18446744073709551615"));
    KILN_ASSERT_OK(timeout);
    EXPECT_EQ(timeout->timeout_ms, std::optional<uint64_t>(UINT64_MAX));
    auto fuel = Manifest::from_json(json_with("fuel", "18446744073709551615"));
    KILN_ASSERT_OK(fuel);
    EXPECT_EQ(fuel->fuel, std::optional<uint64_t>(UINT64_MAX));
    // max_pages may raise the default bound (65536 pages) up to what its type holds.
    auto pages = Manifest::from_json(json_with("memory.max_pages", "4294967295"));
    KILN_ASSERT_OK(pages);
    EXPECT_EQ(pages->max_pages, std::optional<uint32_t>(UINT32_MAX));
    auto too_many = Manifest::from_json(json_with("memory.max_pages", "4294967296"));
    ASSERT_FALSE(too_many.has_value());
    EXPECT_THAT(too_many.error().message,
                HasSubstr("memory.max_pages: expected a whole number from 0 to 4294967295"));
}

class LimitValues : public PluginTest {};

// 18446744073710 ms made the call fail at once ("deadline exceeded"): the milliseconds
// overflowed on their way to nanoseconds, leaving a timeout of 448 µs; 76480200929599801 ms
// wrapped to 64 ns. Every value of the range now means a deadline as far away as the clock can
// hold.
TEST_F(LimitValues, HugeTimeoutDoesNotFailTheCallAtOnce) {
    for (uint64_t ms : {uint64_t(18446744073710), uint64_t(76480200929599801),
                        uint64_t(9'300'000'000'000), uint64_t(INT64_MAX), UINT64_MAX}) {
        SCOPED_TRACE(ms);
        auto p = make_plugin(R"(
  (func (export "run") (result i32) (call $out_i64 (i64.const 7)) (i32.const 0)))",
                             {}, [ms](Manifest& m) { m.timeout_ms = ms; });
        ASSERT_TRUE(p);
        EXPECT_EQ(output_i64(call_ok(*p, "run")), 7u);
    }
}

} // namespace
