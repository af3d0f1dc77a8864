// Semantics of every plain numeric instruction, one function per opcode of opcodes.def, named
// after it. Each takes its operands and a trap out-parameter that only trapping operations set;
// the interpreter handlers are generated from opcodes.def around these functions.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kiln::engine::sem {

/// Trap raised by a numeric instruction; none when it succeeded.
enum class NumTrap : uint8_t { none, div_by_zero, overflow, invalid_conversion };

using u32 = uint32_t;
using u64 = uint64_t;
using i32 = int32_t;
using i64 = int64_t;
using f32 = float;
using f64 = double;
using T = NumTrap;

// ---- integer arithmetic
#define KILN_INT_OPS(P, U, S, BITS)                                                                \
    inline U P##Add(U a, U b, T&) {                                                                \
        return a + b;                                                                              \
    }                                                                                              \
    inline U P##Sub(U a, U b, T&) {                                                                \
        return a - b;                                                                              \
    }                                                                                              \
    inline U P##Mul(U a, U b, T&) {                                                                \
        return a * b;                                                                              \
    }                                                                                              \
    inline U P##DivS(U a, U b, T& t) {                                                             \
        if (b == 0) return t = T::div_by_zero, 0;                                                  \
        if (S(a) == std::numeric_limits<S>::min() && S(b) == -1) return t = T::overflow, 0;        \
        return U(S(a) / S(b));                                                                     \
    }                                                                                              \
    inline U P##DivU(U a, U b, T& t) {                                                             \
        if (b == 0) return t = T::div_by_zero, 0;                                                  \
        return a / b;                                                                              \
    }                                                                                              \
    inline U P##RemS(U a, U b, T& t) {                                                             \
        if (b == 0) return t = T::div_by_zero, 0;                                                  \
        if (S(b) == -1) return 0;                                                                  \
        return U(S(a) % S(b));                                                                     \
    }                                                                                              \
    inline U P##RemU(U a, U b, T& t) {                                                             \
        if (b == 0) return t = T::div_by_zero, 0;                                                  \
        return a % b;                                                                              \
    }                                                                                              \
    inline U P##And(U a, U b, T&) {                                                                \
        return a & b;                                                                              \
    }                                                                                              \
    inline U P##Or(U a, U b, T&) {                                                                 \
        return a | b;                                                                              \
    }                                                                                              \
    inline U P##Xor(U a, U b, T&) {                                                                \
        return a ^ b;                                                                              \
    }                                                                                              \
    inline U P##Shl(U a, U b, T&) {                                                                \
        return a << (b & (BITS - 1));                                                              \
    }                                                                                              \
    inline U P##ShrS(U a, U b, T&) {                                                               \
        return U(S(a) >> (b & (BITS - 1)));                                                        \
    }                                                                                              \
    inline U P##ShrU(U a, U b, T&) {                                                               \
        return a >> (b & (BITS - 1));                                                              \
    }                                                                                              \
    inline U P##Rotl(U a, U b, T&) {                                                               \
        return std::rotl(a, int(b & (BITS - 1)));                                                  \
    }                                                                                              \
    inline U P##Rotr(U a, U b, T&) {                                                               \
        return std::rotr(a, int(b & (BITS - 1)));                                                  \
    }                                                                                              \
    inline u32 P##Eq(U a, U b, T&) {                                                               \
        return a == b;                                                                             \
    }                                                                                              \
    inline u32 P##Ne(U a, U b, T&) {                                                               \
        return a != b;                                                                             \
    }                                                                                              \
    inline u32 P##LtS(U a, U b, T&) {                                                              \
        return S(a) < S(b);                                                                        \
    }                                                                                              \
    inline u32 P##LtU(U a, U b, T&) {                                                              \
        return a < b;                                                                              \
    }                                                                                              \
    inline u32 P##GtS(U a, U b, T&) {                                                              \
        return S(a) > S(b);                                                                        \
    }                                                                                              \
    inline u32 P##GtU(U a, U b, T&) {                                                              \
        return a > b;                                                                              \
    }                                                                                              \
    inline u32 P##LeS(U a, U b, T&) {                                                              \
        return S(a) <= S(b);                                                                       \
    }                                                                                              \
    inline u32 P##LeU(U a, U b, T&) {                                                              \
        return a <= b;                                                                             \
    }                                                                                              \
    inline u32 P##GeS(U a, U b, T&) {                                                              \
        return S(a) >= S(b);                                                                       \
    }                                                                                              \
    inline u32 P##GeU(U a, U b, T&) {                                                              \
        return a >= b;                                                                             \
    }                                                                                              \
    inline u32 P##Eqz(U a, T&) {                                                                   \
        return a == 0;                                                                             \
    }                                                                                              \
    inline U P##Clz(U a, T&) {                                                                     \
        return U(std::countl_zero(a));                                                             \
    }                                                                                              \
    inline U P##Ctz(U a, T&) {                                                                     \
        return U(std::countr_zero(a));                                                             \
    }                                                                                              \
    inline U P##Popcnt(U a, T&) {                                                                  \
        return U(std::popcount(a));                                                                \
    }

KILN_INT_OPS(I32, u32, i32, 32)
KILN_INT_OPS(I64, u64, i64, 64)
#undef KILN_INT_OPS

// ---- floating point. Rounding functions may pass a signalling NaN through unchanged, so a NaN
// operand is quieted with a + a, which yields an arithmetic NaN as the spec requires.
template <typename F> struct FloatBits;
template <> struct FloatBits<f32> {
    using U = u32;
    static constexpr U sign = 0x80000000u;
};
template <> struct FloatBits<f64> {
    using U = u64;
    static constexpr U sign = 0x8000000000000000ull;
};

template <typename F> inline F fmin_wasm(F a, F b) {
    // NaN in, NaN out (a + b propagates a quiet NaN); -0 is less than +0.
    if (std::isnan(a) || std::isnan(b)) return a + b;
    if (a == b)
        return std::bit_cast<F>(std::bit_cast<typename FloatBits<F>::U>(a) |
                                std::bit_cast<typename FloatBits<F>::U>(b));
    return a < b ? a : b;
}
template <typename F> inline F fmax_wasm(F a, F b) {
    if (std::isnan(a) || std::isnan(b)) return a + b;
    if (a == b)
        return std::bit_cast<F>(std::bit_cast<typename FloatBits<F>::U>(a) &
                                std::bit_cast<typename FloatBits<F>::U>(b));
    return a > b ? a : b;
}
template <typename F> inline F fcopysign(F a, F b) {
    using U = typename FloatBits<F>::U;
    constexpr U s = FloatBits<F>::sign;
    return std::bit_cast<F>((std::bit_cast<U>(a) & ~s) | (std::bit_cast<U>(b) & s));
}
template <typename F> inline F fabs_bits(F a) {
    using U = typename FloatBits<F>::U;
    return std::bit_cast<F>(std::bit_cast<U>(a) & ~FloatBits<F>::sign);
}
template <typename F> inline F fneg_bits(F a) {
    using U = typename FloatBits<F>::U;
    return std::bit_cast<F>(std::bit_cast<U>(a) ^ FloatBits<F>::sign);
}

#define KILN_FLOAT_OPS(P, F)                                                                       \
    inline F P##Add(F a, F b, T&) {                                                                \
        return a + b;                                                                              \
    }                                                                                              \
    inline F P##Sub(F a, F b, T&) {                                                                \
        return a - b;                                                                              \
    }                                                                                              \
    inline F P##Mul(F a, F b, T&) {                                                                \
        return a * b;                                                                              \
    }                                                                                              \
    inline F P##Div(F a, F b, T&) {                                                                \
        return a / b;                                                                              \
    }                                                                                              \
    inline F P##Min(F a, F b, T&) {                                                                \
        return fmin_wasm(a, b);                                                                    \
    }                                                                                              \
    inline F P##Max(F a, F b, T&) {                                                                \
        return fmax_wasm(a, b);                                                                    \
    }                                                                                              \
    inline F P##Copysign(F a, F b, T&) {                                                           \
        return fcopysign(a, b);                                                                    \
    }                                                                                              \
    inline u32 P##Eq(F a, F b, T&) {                                                               \
        return a == b;                                                                             \
    }                                                                                              \
    inline u32 P##Ne(F a, F b, T&) {                                                               \
        return a != b;                                                                             \
    }                                                                                              \
    inline u32 P##Lt(F a, F b, T&) {                                                               \
        return a < b;                                                                              \
    }                                                                                              \
    inline u32 P##Gt(F a, F b, T&) {                                                               \
        return a > b;                                                                              \
    }                                                                                              \
    inline u32 P##Le(F a, F b, T&) {                                                               \
        return a <= b;                                                                             \
    }                                                                                              \
    inline u32 P##Ge(F a, F b, T&) {                                                               \
        return a >= b;                                                                             \
    }                                                                                              \
    inline F P##Abs(F a, T&) {                                                                     \
        return fabs_bits(a);                                                                       \
    }                                                                                              \
    inline F P##Neg(F a, T&) {                                                                     \
        return fneg_bits(a);                                                                       \
    }                                                                                              \
    inline F P##Ceil(F a, T&) {                                                                    \
        return std::isnan(a) ? a + a : std::ceil(a);                                               \
    }                                                                                              \
    inline F P##Floor(F a, T&) {                                                                   \
        return std::isnan(a) ? a + a : std::floor(a);                                              \
    }                                                                                              \
    inline F P##Trunc(F a, T&) {                                                                   \
        return std::isnan(a) ? a + a : std::trunc(a);                                              \
    }                                                                                              \
    inline F P##Nearest(F a, T&) {                                                                 \
        return std::isnan(a) ? a + a : std::nearbyint(a);                                          \
    }                                                                                              \
    inline F P##Sqrt(F a, T&) {                                                                    \
        return std::sqrt(a);                                                                       \
    }

KILN_FLOAT_OPS(F32, f32)
KILN_FLOAT_OPS(F64, f64)
#undef KILN_FLOAT_OPS

// ---- conversions. Range checks happen in double, which holds every f32 exactly.
template <typename I> inline I trunc_checked(double x, double lo, double hi, T& t) {
    // Valid when lo < x < hi (exclusive bounds one unit past the representable range).
    if (std::isnan(x)) return t = T::invalid_conversion, 0;
    if (!(x > lo && x < hi)) return t = T::overflow, 0;
    return static_cast<I>(x);
}
template <typename I> inline I trunc_sat(double x, double lo, double hi) {
    if (std::isnan(x)) return 0;
    if (!(x > lo)) return std::numeric_limits<I>::min();
    if (!(x < hi)) return std::numeric_limits<I>::max();
    return static_cast<I>(x);
}
constexpr double i32_lo = -2147483649.0, i32_hi = 2147483648.0;
constexpr double u32_lo = -1.0, u32_hi = 4294967296.0;
constexpr double i64_lo = -9223372036854777856.0, i64_hi = 9223372036854775808.0;
constexpr double u64_lo = -1.0, u64_hi = 18446744073709551616.0;

// i64_lo is the next double below -2^63, so x > i64_lo admits exactly -2^63.
inline u32 I32WrapI64(u64 a, T&) {
    return u32(a);
}
inline u32 I32TruncF32S(f32 a, T& t) {
    return u32(trunc_checked<i32>(a, i32_lo, i32_hi, t));
}
inline u32 I32TruncF32U(f32 a, T& t) {
    return trunc_checked<u32>(a, u32_lo, u32_hi, t);
}
inline u32 I32TruncF64S(f64 a, T& t) {
    return u32(trunc_checked<i32>(a, i32_lo, i32_hi, t));
}
inline u32 I32TruncF64U(f64 a, T& t) {
    return trunc_checked<u32>(a, u32_lo, u32_hi, t);
}
inline u64 I64ExtendI32S(u32 a, T&) {
    return u64(i64(i32(a)));
}
inline u64 I64ExtendI32U(u32 a, T&) {
    return a;
}
inline u64 I64TruncF32S(f32 a, T& t) {
    return u64(trunc_checked<i64>(a, i64_lo, i64_hi, t));
}
inline u64 I64TruncF32U(f32 a, T& t) {
    return trunc_checked<u64>(a, u64_lo, u64_hi, t);
}
inline u64 I64TruncF64S(f64 a, T& t) {
    return u64(trunc_checked<i64>(a, i64_lo, i64_hi, t));
}
inline u64 I64TruncF64U(f64 a, T& t) {
    return trunc_checked<u64>(a, u64_lo, u64_hi, t);
}
inline f32 F32ConvertI32S(u32 a, T&) {
    return f32(i32(a));
}
inline f32 F32ConvertI32U(u32 a, T&) {
    return f32(a);
}
inline f32 F32ConvertI64S(u64 a, T&) {
    return f32(i64(a));
}
inline f32 F32ConvertI64U(u64 a, T&) {
    return f32(a);
}
inline f32 F32DemoteF64(f64 a, T&) {
    return f32(a);
}
inline f64 F64ConvertI32S(u32 a, T&) {
    return f64(i32(a));
}
inline f64 F64ConvertI32U(u32 a, T&) {
    return f64(a);
}
inline f64 F64ConvertI64S(u64 a, T&) {
    return f64(i64(a));
}
inline f64 F64ConvertI64U(u64 a, T&) {
    return f64(a);
}
inline f64 F64PromoteF32(f32 a, T&) {
    return f64(a);
}
inline u32 I32ReinterpretF32(f32 a, T&) {
    return std::bit_cast<u32>(a);
}
inline u64 I64ReinterpretF64(f64 a, T&) {
    return std::bit_cast<u64>(a);
}
inline f32 F32ReinterpretI32(u32 a, T&) {
    return std::bit_cast<f32>(a);
}
inline f64 F64ReinterpretI64(u64 a, T&) {
    return std::bit_cast<f64>(a);
}
inline u32 I32Extend8S(u32 a, T&) {
    return u32(i32(int8_t(a)));
}
inline u32 I32Extend16S(u32 a, T&) {
    return u32(i32(int16_t(a)));
}
inline u64 I64Extend8S(u64 a, T&) {
    return u64(i64(int8_t(a)));
}
inline u64 I64Extend16S(u64 a, T&) {
    return u64(i64(int16_t(a)));
}
inline u64 I64Extend32S(u64 a, T&) {
    return u64(i64(i32(a)));
}
inline u32 I32TruncSatF32S(f32 a, T&) {
    return u32(trunc_sat<i32>(a, i32_lo, i32_hi));
}
inline u32 I32TruncSatF32U(f32 a, T&) {
    return trunc_sat<u32>(a, u32_lo, u32_hi);
}
inline u32 I32TruncSatF64S(f64 a, T&) {
    return u32(trunc_sat<i32>(a, i32_lo, i32_hi));
}
inline u32 I32TruncSatF64U(f64 a, T&) {
    return trunc_sat<u32>(a, u32_lo, u32_hi);
}
inline u64 I64TruncSatF32S(f32 a, T&) {
    return u64(trunc_sat<i64>(a, i64_lo, i64_hi));
}
inline u64 I64TruncSatF32U(f32 a, T&) {
    return trunc_sat<u64>(a, u64_lo, u64_hi);
}
inline u64 I64TruncSatF64S(f64 a, T&) {
    return u64(trunc_sat<i64>(a, i64_lo, i64_hi));
}
inline u64 I64TruncSatF64U(f64 a, T&) {
    return trunc_sat<u64>(a, u64_lo, u64_hi);
}

// ---- slot encoding: every value lives in a 64-bit slot; 32-bit ones in the low half.
template <typename V> inline V from_slot(uint64_t s);
template <> inline u32 from_slot<u32>(uint64_t s) {
    return u32(s);
}
template <> inline u64 from_slot<u64>(uint64_t s) {
    return s;
}
template <> inline f32 from_slot<f32>(uint64_t s) {
    return std::bit_cast<f32>(u32(s));
}
template <> inline f64 from_slot<f64>(uint64_t s) {
    return std::bit_cast<f64>(s);
}
inline uint64_t to_slot(u32 v) {
    return v;
}
inline uint64_t to_slot(u64 v) {
    return v;
}
inline uint64_t to_slot(f32 v) {
    return std::bit_cast<u32>(v);
}
inline uint64_t to_slot(f64 v) {
    return std::bit_cast<u64>(v);
}

} // namespace kiln::engine::sem

// Map the type names of opcodes.def to C++ types.
#define KILN_CTYPE_i32 ::kiln::engine::sem::u32
#define KILN_CTYPE_i64 ::kiln::engine::sem::u64
#define KILN_CTYPE_f32 ::kiln::engine::sem::f32
#define KILN_CTYPE_f64 ::kiln::engine::sem::f64
