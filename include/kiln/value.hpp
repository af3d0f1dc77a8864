// Runtime values.
#pragma once

#include <kiln/types.hpp>

#include <bit>
#include <cstdint>
#include <string>

namespace kiln {

/// A typed value. Every value fits in 64 bits: numbers by their bit pattern (i32/f32 in the low
/// half), funcref as an opaque function word, externref as an opaque non-zero host word; 0 is the
/// null reference.
struct Value {
    ValType type = ValType::i32;
    uint64_t bits = 0;

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

    int32_t as_i32() const { return static_cast<int32_t>(bits); }
    int64_t as_i64() const { return static_cast<int64_t>(bits); }
    float as_f32() const { return std::bit_cast<float>(static_cast<uint32_t>(bits)); }
    double as_f64() const { return std::bit_cast<double>(bits); }
    bool is_null() const { return bits == 0; }
};

/// "i32:42", "f64:1.5", "funcref:null", ...
std::string value_string(const Value& v);

} // namespace kiln
