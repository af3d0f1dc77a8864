#include "cli_common.hpp"

#include "base/file.hpp"
#include "base/result.hpp"

#include <kiln/text.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace kiln::tool {

int exit_code_of(const Error& error) {
    return error.kind == ErrorKind::usage ? exit_usage : exit_failure;
}

Result<std::vector<uint8_t>> read_module(const std::filesystem::path& path) {
    auto bytes = read_file(path);
    if (!bytes || !looks_like_wat(*bytes)) return bytes;
    std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    return wat_to_wasm(text, path.string());
}

void print_error(std::string_view message) {
    fmt::print(stderr, "kiln: {}\n", message);
}

void print_error(const std::filesystem::path& file, const Error& error) {
    // io errors name the file already, and so do text-format errors (FILE:LINE:COLUMN).
    if (error.kind == ErrorKind::io || error.message.starts_with(file.string() + ":"))
        print_error(error.message);
    else
        fmt::print(stderr, "{}: {}: {}\n", file.string(), error_kind_name(error.kind),
                   error.message);
}

Error named_call_error(std::string_view function, const Error& error,
                       std::optional<uint64_t> timeout_ms) {
    if (!error.trap) return error;
    return Error{error.kind, call_failure_text(function, *error.trap, timeout_ms), error.trap};
}

void print_call_failure(const Error& error) {
    if (error.trap && is_limit_trap(error.trap->kind))
        print_error(error.message);
    else
        print_error(fmt::format("{}: {}", error_kind_name(error.kind), error.message));
    print_backtrace(error);
}

namespace {

template <typename Float, typename Bits> std::string format_float(Float f, Bits bits) {
    constexpr Bits sign = Bits{1} << (sizeof(Bits) * 8 - 1);
    constexpr int mantissa_bits = std::numeric_limits<Float>::digits - 1;
    constexpr Bits canonical = Bits{1} << (mantissa_bits - 1);
    constexpr Bits mantissa_mask = (Bits{1} << mantissa_bits) - 1;
    if (std::isnan(f)) {
        std::string s = (bits & sign) ? "-nan" : "nan";
        // The payload matters to anyone checking NaN propagation; the canonical one is implied.
        if ((bits & mantissa_mask) != canonical) s += fmt::format(":{:#x}", bits & mantissa_mask);
        return s;
    }
    if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
    return fmt::format("{}", f); // shortest text that reads back to the same bits
}

Result<uint64_t> parse_integer(std::string_view text, unsigned bits) {
    bool negative = !text.empty() && text[0] == '-';
    std::string_view digits = negative ? text.substr(1) : text;
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        digits.remove_prefix(2);
        base = 16;
    }
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    // Digits past what 64 bits hold are out of range for i64 as for i32, not "not an integer".
    const bool too_large = ec == std::errc::result_out_of_range;
    if (digits.empty() || (ec != std::errc{} && !too_large) || end != digits.data() + digits.size())
        return make_error(ErrorKind::usage, "not an integer");
    // Accept both the signed and the unsigned reading, as the text format does.
    uint64_t unsigned_max = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
    uint64_t negative_max = uint64_t{1} << (bits - 1);
    if (too_large || (negative ? magnitude > negative_max : magnitude > unsigned_max))
        return make_error(ErrorKind::usage, fmt::format("out of range for i{}", bits));
    uint64_t value = negative ? ~magnitude + 1 : magnitude;
    return bits == 64 ? value : value & unsigned_max;
}

template <typename Float, typename Bits> Result<Bits> parse_float(std::string_view text) {
    constexpr int mantissa_bits = std::numeric_limits<Float>::digits - 1;
    constexpr Bits mantissa_mask = (Bits{1} << mantissa_bits) - 1;
    std::string s(text);
    bool negative = !s.empty() && s[0] == '-';
    std::string body = (negative || (!s.empty() && s[0] == '+')) ? s.substr(1) : s;
    if (body.rfind("nan:", 0) == 0) {
        auto payload = parse_integer(body.substr(4), 64);
        if (!payload || *payload == 0 || *payload > mantissa_mask)
            return make_error(ErrorKind::usage, "bad NaN payload");
        Bits exponent = ~Bits{0} & ~mantissa_mask & (~Bits{0} >> 1);
        Bits sign = negative ? Bits{1} << (sizeof(Bits) * 8 - 1) : 0;
        return static_cast<Bits>(sign | exponent | *payload);
    }
    char* end = nullptr;
    errno = 0;
    Float f;
    if constexpr (sizeof(Float) == 4)
        f = std::strtof(s.c_str(), &end);
    else
        f = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || std::isspace(static_cast<unsigned char>(s[0])))
        return make_error(ErrorKind::usage, "not a number");
    if (std::isinf(f) && errno == ERANGE)
        return make_error(ErrorKind::usage, fmt::format("out of range for f{}", sizeof(Float) * 8));
    return std::bit_cast<Bits>(f);
}

/// A v128 as 0x and up to 32 hex digits (one 128-bit number, lane 0 in its low bits), or as
/// SHAPE:LANE,LANE,... with SHAPE one of i8x16 i16x8 i32x4 i64x2 f32x4 f64x2.
Result<V128> parse_v128(std::string_view text) {
    uint8_t bytes[16] = {};
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        std::string_view digits = text.substr(2);
        if (digits.size() > 32)
            return make_error(ErrorKind::usage, "more than 32 hexadecimal digits");
        for (size_t i = 0; i < digits.size(); ++i) {
            uint8_t d = 0;
            auto [end, ec] = std::from_chars(&digits[i], &digits[i] + 1, d, 16);
            if (ec != std::errc{}) return make_error(ErrorKind::usage, "not a hexadecimal number");
            size_t nibble = digits.size() - 1 - i; // from the least significant
            bytes[nibble / 2] |= uint8_t(d << (nibble % 2 * 4));
        }
    } else {
        auto colon = text.find(':');
        struct Shape {
            std::string_view name;
            unsigned width;
            bool is_float;
        };
        static constexpr Shape shapes[] = {{"i8x16", 1, false}, {"i16x8", 2, false},
                                           {"i32x4", 4, false}, {"i64x2", 8, false},
                                           {"f32x4", 4, true},  {"f64x2", 8, true}};
        const Shape* shape = nullptr;
        for (const auto& s : shapes)
            if (text.substr(0, colon) == s.name) shape = &s;
        if (colon == std::string_view::npos || !shape)
            return make_error(ErrorKind::usage, "expected 0x and 32 hexadecimal digits, or lanes "
                                                "as i8x16:..., i16x8:..., i32x4:..., i64x2:..., "
                                                "f32x4:... or f64x2:... (commas between lanes)");
        const unsigned lanes = 16 / shape->width;
        std::string_view rest = text.substr(colon + 1);
        for (unsigned i = 0; i < lanes; ++i) {
            auto comma = rest.find(',');
            if ((comma == std::string_view::npos) != (i + 1 == lanes))
                return make_error(ErrorKind::usage,
                                  fmt::format("{} needs {} lanes", shape->name, lanes));
            std::string_view lane = rest.substr(0, comma);
            Result<uint64_t> bits = parse_integer(lane, shape->width * 8);
            if (shape->is_float && shape->width == 4)
                bits =
                    parse_float<float, uint32_t>(lane).map([](uint32_t b) { return uint64_t(b); });
            else if (shape->is_float)
                bits = parse_float<double, uint64_t>(lane);
            if (!bits)
                return make_error(ErrorKind::usage, fmt::format("lane {}: \"{}\": {}", i, lane,
                                                                bits.error().message));
            std::memcpy(bytes + i * shape->width, &*bits, shape->width); // little-endian host
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
    }
    V128 v;
    std::memcpy(&v, bytes, 16);
    return v;
}

} // namespace

std::string format_value(Store& store, const Value& value) {
    switch (value.type) {
    case ValType::i32: return std::to_string(value.as_i32());
    case ValType::i64: return std::to_string(value.as_i64());
    case ValType::f32: return format_float(value.as_f32(), static_cast<uint32_t>(value.bits));
    case ValType::f64: return format_float(value.as_f64(), value.bits);
    case ValType::funcref: {
        if (value.is_null()) return "ref.null func";
        if (auto func = Func::from_ref(store, value))
            if (auto name = func->name(store)) return "ref.func " + *name;
        return "ref.func <unknown>";
    }
    case ValType::externref:
        if (value.is_null()) return "ref.null extern";
        return "ref.extern " + std::to_string(value.bits - 1);
    case ValType::v128: return fmt::format("0x{:016x}{:016x}", value.hi, value.bits);
    }
    return fmt::format("{}:{:#x}", valtype_name(value.type), value.bits);
}

std::string trap_text(const Trap& trap) {
    std::string kind = trap_kind_name(trap.kind);
    if (trap.message.empty() || trap.message == kind) return kind;
    return kind + ": " + trap.message;
}

void print_backtrace(const Error& error) {
    if (error.trap) fmt::print(stderr, "{}", format_backtrace(error.trap->frames));
}

Result<Value> parse_value(std::string_view text, ValType type) {
    auto fail = [&](const Error& why) {
        return make_error(ErrorKind::usage, fmt::format("\"{}\" is not a valid {}: {}", text,
                                                        valtype_name(type), why.message));
    };
    switch (type) {
    case ValType::i32:
    case ValType::i64: {
        auto bits = parse_integer(text, type == ValType::i32 ? 32 : 64);
        if (!bits) return fail(bits.error());
        return Value{type, *bits};
    }
    case ValType::f32: {
        auto bits = parse_float<float, uint32_t>(text);
        if (!bits) return fail(bits.error());
        return Value::f32_bits(*bits);
    }
    case ValType::f64: {
        auto bits = parse_float<double, uint64_t>(text);
        if (!bits) return fail(bits.error());
        return Value::f64_bits(*bits);
    }
    case ValType::funcref:
        if (text == "null") return Value::null(type);
        return fail(Error{ErrorKind::usage, "only null can be passed", {}});
    case ValType::externref: {
        if (text == "null") return Value::null(type);
        auto n = parse_integer(text, 64);
        if (!n || text[0] == '-' || *n == UINT64_MAX)
            return fail(Error{ErrorKind::usage, "expected null or a number", {}});
        return Value::externref(externref_word(*n));
    }
    case ValType::v128: {
        auto v = parse_v128(text);
        if (!v) return fail(v.error());
        return Value::v128(*v);
    }
    }
    return fail(Error{ErrorKind::usage, "values of this type cannot be given", {}});
}

} // namespace kiln::tool
