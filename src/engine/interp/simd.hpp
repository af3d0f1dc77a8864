// Semantics of the v128 instructions (opcodes.def's 0xFD part), one function per opcode, named
// after it, as numeric.hpp does for the scalar ones. A v128 is a GCC/clang vector of two u64;
// casts between vector types of 16 bytes reinterpret the bits, so each function views its
// operands with the lane type it needs. Lanes are in WebAssembly's order (lane 0 at the lowest
// address), which is the vector element order on a little-endian host.
//
// Whole-vector operators give exact wasm results where C's vector semantics match wasm's:
// wrapping integer arithmetic (on unsigned lanes), comparisons (all-ones masks), IEEE float
// arithmetic (a NaN result is some arithmetic NaN, as the spec allows), shifts with the count
// masked first. Operations wasm defines differently (min/max with NaN and -0, saturation,
// rounding, conversions) are written out, lane by lane where no exact vector form exists, using
// the scalar semantics of numeric.hpp.
#pragma once

#include "engine/interp/numeric.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace kiln::engine::sem {

typedef uint64_t V __attribute__((vector_size(16)));
typedef int8_t i8x16 __attribute__((vector_size(16)));
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef int16_t i16x8 __attribute__((vector_size(16)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef int64_t i64x2 __attribute__((vector_size(16)));
typedef uint64_t u64x2 __attribute__((vector_size(16)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64x2 __attribute__((vector_size(16)));

/// The lane type of a vector type, and its number of lanes.
template <typename Vec> using lane_t = std::remove_cvref_t<decltype(Vec{}[0])>;
template <typename Vec> constexpr unsigned lanes = 16 / sizeof(lane_t<Vec>);

/// A v128 from 16 bytes anywhere (frame slots are only 8-byte aligned).
inline V vload(const void* p) {
    V v;
    std::memcpy(&v, p, 16);
    return v;
}
inline void vstore(void* p, V v) {
    std::memcpy(p, &v, 16);
}

/// Lanes of `x` where `mask` is all ones, of `y` elsewhere.
inline V vsel(V mask, V x, V y) {
    return (x & mask) | (y & ~mask);
}

// ---- constants and lanes

template <typename Vec> inline V splat(lane_t<Vec> s) {
    Vec r;
    for (unsigned i = 0; i < lanes<Vec>; ++i)
        r[i] = s;
    return V(r);
}
inline V I8x16Splat(u32 x) {
    return splat<u8x16>(uint8_t(x));
}
inline V I16x8Splat(u32 x) {
    return splat<u16x8>(uint16_t(x));
}
inline V I32x4Splat(u32 x) {
    return splat<u32x4>(x);
}
inline V I64x2Splat(u64 x) {
    return splat<u64x2>(x);
}
inline V F32x4Splat(f32 x) {
    return splat<f32x4>(x);
}
inline V F64x2Splat(f64 x) {
    return splat<f64x2>(x);
}

inline u32 I8x16ExtractLaneS(V v, unsigned lane) {
    return u32(i32(i8x16(v)[lane]));
}
inline u32 I8x16ExtractLaneU(V v, unsigned lane) {
    return u8x16(v)[lane];
}
inline u32 I16x8ExtractLaneS(V v, unsigned lane) {
    return u32(i32(i16x8(v)[lane]));
}
inline u32 I16x8ExtractLaneU(V v, unsigned lane) {
    return u16x8(v)[lane];
}
inline u32 I32x4ExtractLane(V v, unsigned lane) {
    return u32x4(v)[lane];
}
inline u64 I64x2ExtractLane(V v, unsigned lane) {
    return v[lane];
}
inline f32 F32x4ExtractLane(V v, unsigned lane) {
    return f32x4(v)[lane];
}
inline f64 F64x2ExtractLane(V v, unsigned lane) {
    return f64x2(v)[lane];
}

template <typename Vec> inline V replace(V v, lane_t<Vec> s, unsigned lane) {
    Vec r = Vec(v);
    r[lane] = s;
    return V(r);
}
inline V I8x16ReplaceLane(V v, u32 x, unsigned lane) {
    return replace<u8x16>(v, uint8_t(x), lane);
}
inline V I16x8ReplaceLane(V v, u32 x, unsigned lane) {
    return replace<u16x8>(v, uint16_t(x), lane);
}
inline V I32x4ReplaceLane(V v, u32 x, unsigned lane) {
    return replace<u32x4>(v, x, lane);
}
inline V I64x2ReplaceLane(V v, u64 x, unsigned lane) {
    return replace<u64x2>(v, x, lane);
}
inline V F32x4ReplaceLane(V v, f32 x, unsigned lane) {
    return replace<f32x4>(v, x, lane);
}
inline V F64x2ReplaceLane(V v, f64 x, unsigned lane) {
    return replace<f64x2>(v, x, lane);
}

/// i8x16.shuffle: lane i of the result is byte lanes[i] of a followed by b (lanes < 32).
/// The lanes of a shuffle picked from `src` (a table of units of type U) by `idx`, one index per
/// unit of the result. The result is put together in two 64-bit registers: storing it unit by
/// unit and loading it back as a vector would stall on store-to-load forwarding, which made a
/// shuffle cost ~150 ns.
template <typename U> inline V gather_units(const U* src, const uint8_t* idx) {
    constexpr unsigned per_word = 8 / sizeof(U);
    uint64_t w[2] = {0, 0};
    for (unsigned i = 0; i < 16 / sizeof(U); ++i)
        w[i / per_word] |= uint64_t(src[idx[i]]) << (8 * sizeof(U) * (i % per_word));
    return V{w[0], w[1]};
}
/// i8x16.shuffle whose lanes pick whole units of U from a then b: `idx` has one unit index per
/// unit of the result (the lowering finds the widest unit its lanes allow).
template <typename U> inline V shuffle_units(V a, V b, const uint8_t* idx) {
    U both[32 / sizeof(U)];
    std::memcpy(both, &a, 16);
    std::memcpy(both + 16 / sizeof(U), &b, 16);
    return gather_units(both, idx);
}
inline V I8x16Shuffle(V a, V b, V lanes) {
    uint8_t idx[16];
    std::memcpy(idx, &lanes, 16);
    for (auto& i : idx)
        i &= 31;
    return shuffle_units<uint8_t>(a, b, idx);
}
inline V I8x16Swizzle(V a, V s) {
    // An index past 15 picks a zero from the upper half of the table.
    uint8_t x[32] = {}, idx[16];
    std::memcpy(x, &a, 16);
    std::memcpy(idx, &s, 16);
    for (auto& i : idx)
        i = i < 16 ? i : 16;
    return gather_units(x, idx);
}

// ---- bitwise

inline V V128Not(V a) {
    return ~a;
}
inline V V128And(V a, V b) {
    return a & b;
}
inline V V128Andnot(V a, V b) {
    return a & ~b;
}
inline V V128Or(V a, V b) {
    return a | b;
}
inline V V128Xor(V a, V b) {
    return a ^ b;
}
inline V V128Bitselect(V a, V b, V c) {
    return vsel(c, a, b);
}
inline u32 V128AnyTrue(V a) {
    return (a[0] | a[1]) != 0;
}

// ---- integer lanes. Arithmetic is on unsigned lanes, where C wraps as wasm does.

#define KILN_VINT_OPS(P, S, U, BITS)                                                               \
    inline V P##Add(V a, V b) {                                                                    \
        return V(U(a) + U(b));                                                                     \
    }                                                                                              \
    inline V P##Sub(V a, V b) {                                                                    \
        return V(U(a) - U(b));                                                                     \
    }                                                                                              \
    inline V P##Neg(V a) {                                                                         \
        return V(U{} - U(a));                                                                      \
    }                                                                                              \
    inline V P##Abs(V a) {                                                                         \
        return vsel(V(S(a) < 0), V(U{} - U(a)), a);                                                \
    }                                                                                              \
    inline V P##Shl(V a, u32 n) {                                                                  \
        return V(U(a) << int(n & (BITS - 1)));                                                     \
    }                                                                                              \
    inline V P##ShrS(V a, u32 n) {                                                                 \
        return V(S(a) >> int(n & (BITS - 1)));                                                     \
    }                                                                                              \
    inline V P##ShrU(V a, u32 n) {                                                                 \
        return V(U(a) >> int(n & (BITS - 1)));                                                     \
    }                                                                                              \
    inline V P##Eq(V a, V b) {                                                                     \
        return V(U(a) == U(b));                                                                    \
    }                                                                                              \
    inline V P##Ne(V a, V b) {                                                                     \
        return V(U(a) != U(b));                                                                    \
    }                                                                                              \
    inline V P##LtS(V a, V b) {                                                                    \
        return V(S(a) < S(b));                                                                     \
    }                                                                                              \
    inline V P##GtS(V a, V b) {                                                                    \
        return V(S(a) > S(b));                                                                     \
    }                                                                                              \
    inline V P##LeS(V a, V b) {                                                                    \
        return V(S(a) <= S(b));                                                                    \
    }                                                                                              \
    inline V P##GeS(V a, V b) {                                                                    \
        return V(S(a) >= S(b));                                                                    \
    }                                                                                              \
    inline u32 P##AllTrue(V a) {                                                                   \
        U x = U(a);                                                                                \
        for (unsigned i = 0; i < lanes<U>; ++i)                                                    \
            if (x[i] == 0) return 0;                                                               \
        return 1;                                                                                  \
    }                                                                                              \
    inline u32 P##Bitmask(V a) {                                                                   \
        S x = S(a);                                                                                \
        u32 m = 0;                                                                                 \
        for (unsigned i = 0; i < lanes<S>; ++i)                                                    \
            m |= u32(x[i] < 0) << i;                                                               \
        return m;                                                                                  \
    }

// Narrower lanes also have unsigned comparisons, min/max, saturation and rounding averages.
#define KILN_VSMALL_OPS(P, S, U, BITS)                                                             \
    inline V P##LtU(V a, V b) {                                                                    \
        return V(U(a) < U(b));                                                                     \
    }                                                                                              \
    inline V P##GtU(V a, V b) {                                                                    \
        return V(U(a) > U(b));                                                                     \
    }                                                                                              \
    inline V P##LeU(V a, V b) {                                                                    \
        return V(U(a) <= U(b));                                                                    \
    }                                                                                              \
    inline V P##GeU(V a, V b) {                                                                    \
        return V(U(a) >= U(b));                                                                    \
    }                                                                                              \
    inline V P##MinS(V a, V b) {                                                                   \
        return vsel(V(S(a) < S(b)), a, b);                                                         \
    }                                                                                              \
    inline V P##MinU(V a, V b) {                                                                   \
        return vsel(V(U(a) < U(b)), a, b);                                                         \
    }                                                                                              \
    inline V P##MaxS(V a, V b) {                                                                   \
        return vsel(V(S(a) > S(b)), a, b);                                                         \
    }                                                                                              \
    inline V P##MaxU(V a, V b) {                                                                   \
        return vsel(V(U(a) > U(b)), a, b);                                                         \
    }                                                                                              \
    inline V P##AddSatU(V a, V b) {                                                                \
        U r = U(a) + U(b);                                                                         \
        return V(r | U(r < U(a)));                                                                 \
    }                                                                                              \
    inline V P##SubSatU(V a, V b) {                                                                \
        U r = U(a) - U(b);                                                                         \
        return V(r & U(U(a) >= U(b)));                                                             \
    }                                                                                              \
    /* Signed overflow: operands of one sign and a result of the other; the bound then has   */    \
    /* the sign of the first operand.                                                        */    \
    inline V P##AddSatS(V a, V b) {                                                                \
        S x = S(a), y = S(b), r = S(U(a) + U(b));                                                  \
        S bound = (x >> (BITS - 1)) ^ std::numeric_limits<lane_t<S>>::max();                       \
        return vsel(V(((r ^ x) & (r ^ y)) < 0), V(bound), V(r));                                   \
    }                                                                                              \
    inline V P##SubSatS(V a, V b) {                                                                \
        S x = S(a), y = S(b), r = S(U(a) - U(b));                                                  \
        S bound = (x >> (BITS - 1)) ^ std::numeric_limits<lane_t<S>>::max();                       \
        return vsel(V(((x ^ y) & (x ^ r)) < 0), V(bound), V(r));                                   \
    }                                                                                              \
    inline V P##AvgrU(V a, V b) {                                                                  \
        return V((U(a) | U(b)) - ((U(a) ^ U(b)) >> 1));                                            \
    }

KILN_VINT_OPS(I8x16, i8x16, u8x16, 8)
KILN_VINT_OPS(I16x8, i16x8, u16x8, 16)
KILN_VINT_OPS(I32x4, i32x4, u32x4, 32)
KILN_VINT_OPS(I64x2, i64x2, u64x2, 64)
KILN_VSMALL_OPS(I8x16, i8x16, u8x16, 8)
KILN_VSMALL_OPS(I16x8, i16x8, u16x8, 16)
KILN_VSMALL_OPS(I32x4, i32x4, u32x4, 32)
#undef KILN_VINT_OPS
#undef KILN_VSMALL_OPS

inline V I16x8Mul(V a, V b) {
    return V(u16x8(a) * u16x8(b));
}
inline V I32x4Mul(V a, V b) {
    return V(u32x4(a) * u32x4(b));
}
inline V I64x2Mul(V a, V b) {
    return V(u64x2(a) * u64x2(b));
}
inline V I8x16Popcnt(V a) {
    u8x16 x = u8x16(a), r;
    for (unsigned i = 0; i < 16; ++i)
        r[i] = uint8_t(std::popcount(x[i]));
    return V(r);
}
inline V I16x8Q15mulrSatS(V a, V b) {
    i16x8 x = i16x8(a), y = i16x8(b), r;
    for (unsigned i = 0; i < 8; ++i) {
        // Only -32768 * -32768 rounds past the top; it saturates.
        i32 p = (i32(x[i]) * i32(y[i]) + 0x4000) >> 15;
        r[i] = int16_t(p > 0x7fff ? 0x7fff : p);
    }
    return V(r);
}

// ---- narrowing, widening, pairwise and dot products, lane by lane

template <typename To, typename From> inline To saturate(From x) {
    if (x < From(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (x > From(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return To(x);
}
/// Narrows the signed lanes of a then b into lanes of half the width, saturating into `Lane`.
template <typename Out, typename Lane, typename In> inline V narrow(V a, V b) {
    constexpr unsigned n = lanes<In>;
    In x = In(a), y = In(b);
    Out r;
    for (unsigned i = 0; i < n; ++i) {
        r[i] = saturate<Lane>(x[i]);
        r[i + n] = saturate<Lane>(y[i]);
    }
    return V(r);
}
inline V I8x16NarrowI16x8S(V a, V b) {
    return narrow<i8x16, int8_t, i16x8>(a, b);
}
inline V I8x16NarrowI16x8U(V a, V b) {
    return narrow<u8x16, uint8_t, i16x8>(a, b);
}
inline V I16x8NarrowI32x4S(V a, V b) {
    return narrow<i16x8, int16_t, i32x4>(a, b);
}
inline V I16x8NarrowI32x4U(V a, V b) {
    return narrow<u16x8, uint16_t, i32x4>(a, b);
}

/// The low (`high` false) or high half of the lanes of `In`, each widened to a lane of `Out`.
template <typename Out, typename In> inline V extend(V a, bool high) {
    In x = In(a);
    Out r;
    for (unsigned i = 0, first = high ? lanes<Out> : 0; i < lanes<Out>; ++i)
        r[i] = x[first + i];
    return V(r);
}
#define KILN_VEXTEND(P, From, SV, UV, SW, UW)                                                      \
    inline V P##ExtendLow##From##S(V a) {                                                          \
        return extend<SW, SV>(a, false);                                                           \
    }                                                                                              \
    inline V P##ExtendHigh##From##S(V a) {                                                         \
        return extend<SW, SV>(a, true);                                                            \
    }                                                                                              \
    inline V P##ExtendLow##From##U(V a) {                                                          \
        return extend<UW, UV>(a, false);                                                           \
    }                                                                                              \
    inline V P##ExtendHigh##From##U(V a) {                                                         \
        return extend<UW, UV>(a, true);                                                            \
    }
KILN_VEXTEND(I16x8, I8x16, i8x16, u8x16, i16x8, u16x8)
KILN_VEXTEND(I32x4, I16x8, i16x8, u16x8, i32x4, u32x4)
KILN_VEXTEND(I64x2, I32x4, i32x4, u32x4, i64x2, u64x2)
#undef KILN_VEXTEND

/// Products of the low (`high` false) or high half of the lanes of a and b, each widened to a
/// lane of `Out` first.
template <typename Out, typename In> inline V extmul(V a, V b, bool high) {
    using W = lane_t<Out>;
    In x = In(a), y = In(b);
    Out r;
    for (unsigned i = 0, first = high ? lanes<Out> : 0; i < lanes<Out>; ++i)
        r[i] = W(W(x[first + i]) * W(y[first + i]));
    return V(r);
}
#define KILN_VEXTMUL(P, From, SV, UV, SW, UW)                                                      \
    inline V P##ExtmulLow##From##S(V a, V b) {                                                     \
        return extmul<SW, SV>(a, b, false);                                                        \
    }                                                                                              \
    inline V P##ExtmulHigh##From##S(V a, V b) {                                                    \
        return extmul<SW, SV>(a, b, true);                                                         \
    }                                                                                              \
    inline V P##ExtmulLow##From##U(V a, V b) {                                                     \
        return extmul<UW, UV>(a, b, false);                                                        \
    }                                                                                              \
    inline V P##ExtmulHigh##From##U(V a, V b) {                                                    \
        return extmul<UW, UV>(a, b, true);                                                         \
    }
// Signed 32 x 32 products fit in 64 bits, and 16 x 16 in 32 (except -2^15 squared, which wraps
// in an i32 lane as wasm's does); the unsigned ones are computed in the unsigned wide type.
KILN_VEXTMUL(I16x8, I8x16, i8x16, u8x16, i16x8, u16x8)
KILN_VEXTMUL(I32x4, I16x8, i16x8, u16x8, i32x4, u32x4)
KILN_VEXTMUL(I64x2, I32x4, i32x4, u32x4, i64x2, u64x2)
#undef KILN_VEXTMUL

/// Sums of adjacent lane pairs of `In`, widened to `Out`.
template <typename Out, typename In> inline V extadd(V a) {
    using W = lane_t<Out>;
    In x = In(a);
    Out r;
    for (unsigned i = 0; i < lanes<Out>; ++i)
        r[i] = W(W(x[2 * i]) + W(x[2 * i + 1]));
    return V(r);
}
inline V I16x8ExtaddPairwiseI8x16S(V a) {
    return extadd<i16x8, i8x16>(a);
}
inline V I16x8ExtaddPairwiseI8x16U(V a) {
    return extadd<u16x8, u8x16>(a);
}
inline V I32x4ExtaddPairwiseI16x8S(V a) {
    return extadd<i32x4, i16x8>(a);
}
inline V I32x4ExtaddPairwiseI16x8U(V a) {
    return extadd<u32x4, u16x8>(a);
}
inline V I32x4DotI16x8S(V a, V b) {
    i16x8 x = i16x8(a), y = i16x8(b);
    u32x4 r;
    // Only -2^15 * -2^15 twice overflows an i32; wasm wraps it, so the sum is unsigned.
    for (unsigned i = 0; i < 4; ++i)
        r[i] = u32(i32(x[2 * i]) * i32(y[2 * i])) + u32(i32(x[2 * i + 1]) * i32(y[2 * i + 1]));
    return V(r);
}

// ---- floating-point lanes

template <typename UV> inline UV sign_bits() {
    using U = lane_t<UV>;
    return UV{} + U(U(1) << (sizeof(U) * 8 - 1));
}
/// The canonical NaN with its sign bit set in every lane (of floats F): x86's default NaN.
template <typename UV, typename F> inline UV default_nan() {
    using U = lane_t<UV>;
    return UV{} + U(~U(0) << (std::numeric_limits<F>::digits - 2));
}
/// The scalar function `f` (numeric.hpp) applied to every lane of `a`, seen as FV.
template <typename FV, typename F> inline V lanewise(V a, F (*f)(F, T&)) {
    FV x = FV(a);
    T t = T::none;
    for (unsigned i = 0; i < lanes<FV>; ++i)
        x[i] = f(x[i], t);
    return V(x);
}

// min and max of a NaN give the canonical NaN with the sign set, whatever the operands' payloads
// (the spec allows any arithmetic NaN): the NaN x86 produces for invalid operations and the one
// V8 gives, so runs are deterministic and differential testing compares bit for bit.
#define KILN_VFLOAT_OPS(P, S, F, FV, UV)                                                           \
    inline V P##Add(V a, V b) {                                                                    \
        return V(FV(a) + FV(b));                                                                   \
    }                                                                                              \
    inline V P##Sub(V a, V b) {                                                                    \
        return V(FV(a) - FV(b));                                                                   \
    }                                                                                              \
    inline V P##Mul(V a, V b) {                                                                    \
        return V(FV(a) * FV(b));                                                                   \
    }                                                                                              \
    inline V P##Div(V a, V b) {                                                                    \
        return V(FV(a) / FV(b));                                                                   \
    }                                                                                              \
    inline V P##Eq(V a, V b) {                                                                     \
        return V(FV(a) == FV(b));                                                                  \
    }                                                                                              \
    inline V P##Ne(V a, V b) {                                                                     \
        return V(FV(a) != FV(b));                                                                  \
    }                                                                                              \
    inline V P##Lt(V a, V b) {                                                                     \
        return V(FV(a) < FV(b));                                                                   \
    }                                                                                              \
    inline V P##Gt(V a, V b) {                                                                     \
        return V(FV(a) > FV(b));                                                                   \
    }                                                                                              \
    inline V P##Le(V a, V b) {                                                                     \
        return V(FV(a) <= FV(b));                                                                  \
    }                                                                                              \
    inline V P##Ge(V a, V b) {                                                                     \
        return V(FV(a) >= FV(b));                                                                  \
    }                                                                                              \
    inline V P##Abs(V a) {                                                                         \
        return V(UV(a) & ~sign_bits<UV>());                                                        \
    }                                                                                              \
    inline V P##Neg(V a) {                                                                         \
        return V(UV(a) ^ sign_bits<UV>());                                                         \
    }                                                                                              \
    /* Of -0 and +0, min takes -0 (the sign bits or'd) and max +0 (and'd). */                      \
    inline V P##Min(V a, V b) {                                                                    \
        FV x = FV(a), y = FV(b);                                                                   \
        V r = vsel(V(x < y), a, b);                                                                \
        r = vsel(V(x == y), a | b, r);                                                             \
        return vsel(V((x != x) | (y != y)), V(default_nan<UV, F>()), r);                           \
    }                                                                                              \
    inline V P##Max(V a, V b) {                                                                    \
        FV x = FV(a), y = FV(b);                                                                   \
        V r = vsel(V(x > y), a, b);                                                                \
        r = vsel(V(x == y), a & b, r);                                                             \
        return vsel(V((x != x) | (y != y)), V(default_nan<UV, F>()), r);                           \
    }                                                                                              \
    /* Pseudo-minimum and -maximum: C's b < a ? b : a and a < b ? b : a, NaNs and zeros too. */    \
    inline V P##Pmin(V a, V b) {                                                                   \
        return vsel(V(FV(b) < FV(a)), b, a);                                                       \
    }                                                                                              \
    inline V P##Pmax(V a, V b) {                                                                   \
        return vsel(V(FV(a) < FV(b)), b, a);                                                       \
    }                                                                                              \
    inline V P##Sqrt(V a) {                                                                        \
        return lanewise<FV>(a, S##Sqrt);                                                           \
    }                                                                                              \
    inline V P##Ceil(V a) {                                                                        \
        return lanewise<FV>(a, S##Ceil);                                                           \
    }                                                                                              \
    inline V P##Floor(V a) {                                                                       \
        return lanewise<FV>(a, S##Floor);                                                          \
    }                                                                                              \
    inline V P##Trunc(V a) {                                                                       \
        return lanewise<FV>(a, S##Trunc);                                                          \
    }                                                                                              \
    inline V P##Nearest(V a) {                                                                     \
        return lanewise<FV>(a, S##Nearest);                                                        \
    }

KILN_VFLOAT_OPS(F32x4, F32, f32, f32x4, u32x4)
KILN_VFLOAT_OPS(F64x2, F64, f64, f64x2, u64x2)
#undef KILN_VFLOAT_OPS

// ---- conversions, lane by lane with the scalar conversions

/// `f` applied to the first `n` lanes of `a` (seen as In), the other lanes of the result zero.
template <typename Out, typename In, typename R, typename A>
inline V convert(V a, R (*f)(A, T&), unsigned n) {
    In x = In(a);
    Out r{};
    T t = T::none;
    for (unsigned i = 0; i < n; ++i)
        r[i] = f(x[i], t);
    return V(r);
}
inline V I32x4TruncSatF32x4S(V a) {
    return convert<u32x4, f32x4>(a, I32TruncSatF32S, 4);
}
inline V I32x4TruncSatF32x4U(V a) {
    return convert<u32x4, f32x4>(a, I32TruncSatF32U, 4);
}
inline V F32x4ConvertI32x4S(V a) {
    return V(__builtin_convertvector(i32x4(a), f32x4));
}
inline V F32x4ConvertI32x4U(V a) {
    return convert<f32x4, u32x4>(a, F32ConvertI32U, 4);
}
inline V I32x4TruncSatF64x2SZero(V a) {
    return convert<u32x4, f64x2>(a, I32TruncSatF64S, 2);
}
inline V I32x4TruncSatF64x2UZero(V a) {
    return convert<u32x4, f64x2>(a, I32TruncSatF64U, 2);
}
inline V F64x2ConvertLowI32x4S(V a) {
    return convert<f64x2, u32x4>(a, F64ConvertI32S, 2);
}
inline V F64x2ConvertLowI32x4U(V a) {
    return convert<f64x2, u32x4>(a, F64ConvertI32U, 2);
}
inline V F32x4DemoteF64x2Zero(V a) {
    return convert<f32x4, f64x2>(a, F32DemoteF64, 2);
}
inline V F64x2PromoteLowF32x4(V a) {
    return convert<f64x2, f32x4>(a, F64PromoteF32, 2);
}

// ---- memory: `p` points at the accessed bytes, already bounds-checked

inline V V128Load(const uint8_t* p) {
    return vload(p);
}
inline void V128Store(uint8_t* p, V v) {
    vstore(p, v);
}
/// Eight bytes of lanes of type L, each widened to a lane of Out.
template <typename Out, typename L> inline V load_extend(const uint8_t* p) {
    L x[lanes<Out>];
    std::memcpy(x, p, 8);
    Out r;
    for (unsigned i = 0; i < lanes<Out>; ++i)
        r[i] = x[i];
    return V(r);
}
inline V V128Load8x8S(const uint8_t* p) {
    return load_extend<i16x8, int8_t>(p);
}
inline V V128Load8x8U(const uint8_t* p) {
    return load_extend<u16x8, uint8_t>(p);
}
inline V V128Load16x4S(const uint8_t* p) {
    return load_extend<i32x4, int16_t>(p);
}
inline V V128Load16x4U(const uint8_t* p) {
    return load_extend<u32x4, uint16_t>(p);
}
inline V V128Load32x2S(const uint8_t* p) {
    return load_extend<i64x2, int32_t>(p);
}
inline V V128Load32x2U(const uint8_t* p) {
    return load_extend<u64x2, uint32_t>(p);
}
template <typename Vec> inline V load_splat(const uint8_t* p) {
    lane_t<Vec> x;
    std::memcpy(&x, p, sizeof x);
    return splat<Vec>(x);
}
inline V V128Load8Splat(const uint8_t* p) {
    return load_splat<u8x16>(p);
}
inline V V128Load16Splat(const uint8_t* p) {
    return load_splat<u16x8>(p);
}
inline V V128Load32Splat(const uint8_t* p) {
    return load_splat<u32x4>(p);
}
inline V V128Load64Splat(const uint8_t* p) {
    return load_splat<u64x2>(p);
}
inline V V128Load32Zero(const uint8_t* p) {
    V r{};
    std::memcpy(&r, p, 4);
    return r;
}
inline V V128Load64Zero(const uint8_t* p) {
    V r{};
    std::memcpy(&r, p, 8);
    return r;
}
/// `v` with lane `lane` (of `bytes` bytes) loaded from p.
template <unsigned bytes> inline V load_lane(const uint8_t* p, V v, unsigned lane) {
    std::memcpy(reinterpret_cast<uint8_t*>(&v) + lane * bytes, p, bytes);
    return v;
}
template <unsigned bytes> inline void store_lane(uint8_t* p, V v, unsigned lane) {
    std::memcpy(p, reinterpret_cast<const uint8_t*>(&v) + lane * bytes, bytes);
}
inline V V128Load8Lane(const uint8_t* p, V v, unsigned lane) {
    return load_lane<1>(p, v, lane);
}
inline V V128Load16Lane(const uint8_t* p, V v, unsigned lane) {
    return load_lane<2>(p, v, lane);
}
inline V V128Load32Lane(const uint8_t* p, V v, unsigned lane) {
    return load_lane<4>(p, v, lane);
}
inline V V128Load64Lane(const uint8_t* p, V v, unsigned lane) {
    return load_lane<8>(p, v, lane);
}
inline void V128Store8Lane(uint8_t* p, V v, unsigned lane) {
    store_lane<1>(p, v, lane);
}
inline void V128Store16Lane(uint8_t* p, V v, unsigned lane) {
    store_lane<2>(p, v, lane);
}
inline void V128Store32Lane(uint8_t* p, V v, unsigned lane) {
    store_lane<4>(p, v, lane);
}
inline void V128Store64Lane(uint8_t* p, V v, unsigned lane) {
    store_lane<8>(p, v, lane);
}

} // namespace kiln::engine::sem
