/* simd_stats (C): statistics of the input bytes, written once with WebAssembly SIMD intrinsics
 * and once as plain loops. Built with -msimd128 it takes the SIMD path (and clang vectorizes
 * the plain loops it keeps); without, the scalar one. Both builds must give byte-identical
 * outputs:
 *   {"bytes":N,"sum":N,"min":N,"max":N,"newlines":N,"dot":N,"weighted":N,"blur":"HASH",
 *    "roots":N}
 * sum: the bytes added up; dot: the sum of the squares of the input read as little-endian
 * int16 (wrapping in 32 bits); weighted: sum of byte[i] * i (wrapping in 32 bits); blur: FNV-1a
 * of the input blurred with the rounded 1-2-1 filter (edges repeated); roots: the sum of the
 * square roots of the bytes, in four interleaved partial f32 sums, times 1000, truncated.
 * Freestanding: no libc, no heap; at most 1 MiB of input is read. */
#include <kiln/pdk.h>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define MAX_INPUT (1 << 20)

static uint8_t in[MAX_INPUT + 16];
static uint8_t blurred[MAX_INPUT + 16];

static char out[512];
static size_t out_len;

static void put_str(const char* s) {
    for (; *s; s++)
        out[out_len++] = *s;
}
static void put_field(const char* name, uint64_t v) {
    char buf[KILN_DEC_SIZE];
    put_str(out_len > 1 ? ",\"" : "\"");
    put_str(name);
    put_str("\":");
    kiln_fmt_u64(v, buf);
    put_str(buf);
}

/* The rounded 1-2-1 blur of byte i (its neighbours past either end are itself). */
static uint8_t blur_at(const uint8_t* p, size_t n, size_t i) {
    unsigned left = p[i ? i - 1 : 0], right = p[i + 1 < n ? i + 1 : n - 1];
    return (uint8_t)((left + 2u * p[i] + right + 2u) >> 2);
}

/* The result of every kernel, however it was computed. */
typedef struct {
    uint64_t sum, newlines;
    uint32_t min, max, dot, weighted;
    float roots[4];
} totals;

#ifdef __wasm_simd128__
/* The smallest and largest of the 16 byte lanes, folding the vector onto itself. */
static uint8_t min_lane(v128_t v) {
    v = wasm_u8x16_min(
        v, wasm_i8x16_shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    v = wasm_u8x16_min(v, wasm_i8x16_shuffle(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
    v = wasm_u8x16_min(v, wasm_i8x16_shuffle(v, v, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
    v = wasm_u8x16_min(v, wasm_i8x16_shuffle(v, v, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
    return wasm_u8x16_extract_lane(v, 0);
}
static uint8_t max_lane(v128_t v) {
    /* max(v) = 255 - min(255 - v) */
    return (uint8_t)(255 - min_lane(wasm_v128_xor(v, wasm_i8x16_splat(-1))));
}
static uint32_t lane_sum(v128_t v) {
    return wasm_u32x4_extract_lane(v, 0) + wasm_u32x4_extract_lane(v, 1) +
           wasm_u32x4_extract_lane(v, 2) + wasm_u32x4_extract_lane(v, 3);
}

/* 16 bytes at a time; the tail (n % 16 bytes) is left to the scalar loops below. */
static size_t simd_part(const uint8_t* p, size_t n, totals* s) {
    v128_t sum = wasm_i32x4_splat(0), dot = wasm_i32x4_splat(0);
    v128_t lo = wasm_i8x16_splat(-1), hi = wasm_i8x16_splat(0);
    v128_t newline = wasm_i8x16_splat('\n'), newlines = wasm_i32x4_splat(0);
    v128_t weighted = wasm_i32x4_splat(0), index = wasm_i32x4_make(0, 1, 2, 3);
    v128_t roots = wasm_f32x4_splat(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t v = wasm_v128_load(p + i);
        sum = wasm_i32x4_add(sum,
                             wasm_u32x4_extadd_pairwise_u16x8(wasm_u16x8_extadd_pairwise_u8x16(v)));
        lo = wasm_u8x16_min(lo, v);
        hi = wasm_u8x16_max(hi, v);
        /* Equal lanes are -1: subtracting counts them. */
        v128_t eq = wasm_i8x16_eq(v, newline);
        newlines = wasm_i32x4_sub(
            newlines, wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extadd_pairwise_i8x16(eq)));
        dot = wasm_i32x4_add(dot, wasm_i32x4_dot_i16x8(v, v));
        /* byte * index, four bytes (widened to i32) at a time. */
        v128_t w16lo = wasm_u16x8_extend_low_u8x16(v), w16hi = wasm_u16x8_extend_high_u8x16(v);
        v128_t parts[4] = {wasm_u32x4_extend_low_u16x8(w16lo), wasm_u32x4_extend_high_u16x8(w16lo),
                           wasm_u32x4_extend_low_u16x8(w16hi), wasm_u32x4_extend_high_u16x8(w16hi)};
        for (int k = 0; k < 4; k++) {
            v128_t at = wasm_i32x4_add(index, wasm_i32x4_splat((int32_t)(i + 4 * (size_t)k)));
            weighted = wasm_i32x4_add(weighted, wasm_i32x4_mul(parts[k], at));
            roots = wasm_f32x4_add(roots, wasm_f32x4_sqrt(wasm_f32x4_convert_u32x4(parts[k])));
        }
    }
    /* In 1 MiB no lane of the sums or counts passes 2^32; the others wrap as they should. */
    s->sum = lane_sum(sum);
    s->newlines = lane_sum(newlines);
    s->dot = lane_sum(dot);
    s->weighted = lane_sum(weighted);
    if (i) {
        s->min = min_lane(lo);
        s->max = max_lane(hi);
    }
    s->roots[0] = wasm_f32x4_extract_lane(roots, 0);
    s->roots[1] = wasm_f32x4_extract_lane(roots, 1);
    s->roots[2] = wasm_f32x4_extract_lane(roots, 2);
    s->roots[3] = wasm_f32x4_extract_lane(roots, 3);
    /* The blur of the bytes whose neighbours are all in range, 16 at a time. */
    for (size_t j = 1; j + 17 <= n; j += 16) {
        v128_t l = wasm_v128_load(p + j - 1), c = wasm_v128_load(p + j),
               r = wasm_v128_load(p + j + 1);
        v128_t two = wasm_i16x8_splat(2);
        v128_t sum_lo = wasm_i16x8_add(
            wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(l), wasm_u16x8_extend_low_u8x16(r)),
            wasm_i16x8_add(wasm_i16x8_shl(wasm_u16x8_extend_low_u8x16(c), 1), two));
        v128_t sum_hi = wasm_i16x8_add(
            wasm_i16x8_add(wasm_u16x8_extend_high_u8x16(l), wasm_u16x8_extend_high_u8x16(r)),
            wasm_i16x8_add(wasm_i16x8_shl(wasm_u16x8_extend_high_u8x16(c), 1), two));
        wasm_v128_store(blurred + j, wasm_u8x16_narrow_i16x8(wasm_u16x8_shr(sum_lo, 2),
                                                             wasm_u16x8_shr(sum_hi, 2)));
    }
    return i;
}
#endif

KILN_EXPORT(stats) {
    uint64_t n64 = kiln_input_length();
    size_t n = n64 > MAX_INPUT ? MAX_INPUT : (size_t)n64;
    kiln_input_read_at(0, in, n);

    totals s = {0, 0, 255, 0, 0, 0, {0, 0, 0, 0}};
    size_t done = 0;
    size_t blur_done = 0; /* bytes 1 .. blur_done of `blurred` are already computed */
#ifdef __wasm_simd128__
    done = simd_part(in, n, &s);
    blur_done = n >= 17 ? (n - 17) / 16 * 16 + 16 : 0;
#endif
    for (size_t i = done; i < n; i++) {
        s.sum += in[i];
        if (in[i] < s.min) s.min = in[i];
        if (in[i] > s.max) s.max = in[i];
        s.newlines += in[i] == '\n';
        s.weighted += (uint32_t)in[i] * (uint32_t)i;
        s.roots[i % 4] += __builtin_sqrtf((float)in[i]);
    }
    for (size_t i = done; i + 2 <= n; i += 2) {
        int32_t a = (int16_t)(in[i] | in[i + 1] << 8);
        s.dot += (uint32_t)(a * a);
    }
    for (size_t i = 0; i < n; i++)
        if (i == 0 || i > blur_done) blurred[i] = blur_at(in, n, i);
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < n; i++)
        hash = (hash ^ blurred[i]) * 16777619u;

    out_len = 0;
    put_str("{");
    put_field("bytes", n);
    put_field("sum", s.sum);
    put_field("min", n ? s.min : 0);
    put_field("max", s.max);
    put_field("newlines", s.newlines);
    put_field("dot", s.dot);
    put_field("weighted", s.weighted);
    put_field("blur", hash);
    float roots = (s.roots[0] + s.roots[1]) + (s.roots[2] + s.roots[3]);
    put_field("roots", (uint64_t)(roots * 1000.0f));
    put_str("}");
    if (!kiln_output_set_bytes(out, out_len)) return kiln_fail("out of kernel memory");
    return 0;
}
