// 3x3 box blur of a 2048x2048 8-bit greyscale image, 64 passes: a horizontal pass summing three
// neighbours into 16-bit sums, then a vertical pass summing three rows and dividing by 9 with a
// multiply and a shift. Both loops are straight-line byte and halfword arithmetic over
// contiguous rows, which compilers turn into vector code.
#include "bench.h"

#define W 2048
#define H 2048
static uint8_t img[W * H], out[W * H];
static uint16_t rows[W * H];

void run(void) {
    uint32_t w = bench_opaque(W), h = bench_opaque(H);
    uint64_t seed = 7;
    for (uint32_t i = 0; i < w * h; i += 8) {
        uint64_t v = bench_next(&seed);
        __builtin_memcpy(img + i, &v, 8);
    }
    uint64_t sum = 0;
    for (int pass = 0; pass < 64; pass++) {
        for (uint32_t y = 0; y < h; y++) {
            const uint8_t* src = img + y * w;
            uint16_t* dst = rows + y * w;
            dst[0] = (uint16_t)(2 * src[0] + src[1]);
            for (uint32_t x = 1; x + 1 < w; x++)
                dst[x] = (uint16_t)(src[x - 1] + src[x] + src[x + 1]);
            dst[w - 1] = (uint16_t)(src[w - 2] + 2 * src[w - 1]);
        }
        for (uint32_t y = 0; y < h; y++) {
            const uint16_t* up = rows + (y ? y - 1 : y) * w;
            const uint16_t* mid = rows + y * w;
            const uint16_t* down = rows + (y + 1 < h ? y + 1 : y) * w;
            uint8_t* dst = out + y * w;
            // x * 7282 >> 16 is x / 9 rounded down for every sum of nine bytes (x <= 2295).
            for (uint32_t x = 0; x < w; x++)
                dst[x] = (uint8_t)(((uint32_t)(up[x] + mid[x] + down[x]) * 7282u) >> 16);
        }
        // The next pass blurs this one's output.
        for (uint32_t i = 0; i < w * h; i++)
            img[i] = out[i];
        sum += out[(pass * 7919u) % (w * h)];
    }
    uint64_t h64 = sum;
    for (uint32_t i = 0; i < w * h; i += 8) {
        uint64_t v;
        __builtin_memcpy(&v, out + i, 8);
        h64 = (h64 ^ v) * 0x100000001b3ULL;
    }
    bench_checksum(h64);
}
