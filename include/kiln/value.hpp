// Runtime values.
#pragma once

#include <kiln/types.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace kiln {

/// A v128 value: 16 bytes with lane 0 at the lowest address (WebAssembly's lane order), held as
/// two little-endian 64-bit halves.
struct V128 {
    uint64_t lo = 0; ///< bytes 0 to 7
    uint64_t hi = 0; ///< bytes 8 to 15

    /// The v128 whose lanes of type T (an 8- to 64-bit integer, float or double) are `lanes`,
    /// lane 0 first: V128::from_lanes<int32_t, 4>({1, 2, 3, 4}).
    template <typename T, size_t N> static V128 from_lanes(const std::array<T, N>& lanes) {
        static_assert(sizeof(T) * N == 16, "lanes must fill 16 bytes");
        V128 v;
        std::memcpy(&v, lanes.data(), 16);
        return v;
    }
    /// Lane `i` (below 16 / sizeof(T)) seen as lanes of type T.
    template <typename T> T lane(unsigned i) const {
        T x;
        std::memcpy(&x, reinterpret_cast<const unsigned char*>(this) + i * sizeof(T), sizeof x);
        return x;
    }
    bool operator==(const V128&) const = default;
};
static_assert(sizeof(V128) == 16 && std::endian::native == std::endian::little);

/// The 64-bit slots a value of type `t` takes where values are passed as slots (raw calls, host
/// functions): two for v128 (its low half first), one for every other type.
constexpr size_t slot_count(ValType t) {
    return t == ValType::v128 ? 2 : 1;
}
/// The slots a sequence of values of these types takes.
inline size_t slot_count(std::span<const ValType> types) {
    size_t n = 0;
    for (ValType t : types)
        n += slot_count(t);
    return n;
}

/// A typed value. Numbers are held by their bit pattern (i32/f32 in the low half of `bits`, v128
/// in `bits` and `hi`), funcref as an opaque function word, externref as an opaque non-zero host
/// word; 0 is the null reference.
struct Value {
    ValType type = ValType::i32;
    uint64_t bits = 0;
    uint64_t hi = 0; ///< v128 only: the high 64 bits (`bits` holds the low ones)

    static Value i32(int32_t v) { return {ValType::i32, static_cast<uint32_t>(v)}; }
    static Value i64(int64_t v) { return {ValType::i64, static_cast<uint64_t>(v)}; }
    static Value f32(float v) { return {ValType::f32, std::bit_cast<uint32_t>(v)}; }
    static Value f64(double v) { return {ValType::f64, std::bit_cast<uint64_t>(v)}; }
    static Value f32_bits(uint32_t b) { return {ValType::f32, b}; }
    static Value f64_bits(uint64_t b) { return {ValType::f64, b}; }
    static Value funcref(const void* f) {
        return {ValType::funcref, reinterpret_cast<uint64_t>(f)};
    }
    /// An externref; `word` must not be 0, which is null.
    static Value externref(uint64_t word) { return {ValType::externref, word}; }
    static Value null(ValType t) { return {t, 0}; }
    static Value v128(V128 v) { return {ValType::v128, v.lo, v.hi}; }
    /// The value of type `t` in the slots at `slots` (slot_count(t) of them).
    static Value from_slots(ValType t, const uint64_t* slots) {
        return t == ValType::v128 ? Value{t, slots[0], slots[1]} : Value{t, slots[0]};
    }

    int32_t as_i32() const { return static_cast<int32_t>(bits); }
    int64_t as_i64() const { return static_cast<int64_t>(bits); }
    float as_f32() const { return std::bit_cast<float>(static_cast<uint32_t>(bits)); }
    double as_f64() const { return std::bit_cast<double>(bits); }
    V128 as_v128() const { return {bits, hi}; }
    bool is_null() const { return bits == 0; }
    /// Writes the value to slot_count(type) slots at `slots`.
    void to_slots(uint64_t* slots) const {
        slots[0] = bits;
        if (type == ValType::v128) slots[1] = hi;
    }
};

/// "i32:42", "f64:1.5", "funcref:null", "v128:0x00000004000000030000000200000001" (the 16 bytes
/// as one 128-bit little-endian number, 32 hexadecimal digits), ...
std::string value_string(const Value& v);

} // namespace kiln
