// Byte histogram of a 64 MiB buffer, 8 passes, into four interleaved tables so consecutive bytes
// do not wait on the same counter; then a scan of the tables. The counting loop is the shape
// image and compression code has; the reduction over 256 counters vectorises.
#include "bench.h"

#define SIZE (64u << 20)
static uint8_t buf[SIZE];
static uint32_t counts[4][256];

void run(void) {
    uint32_t size = bench_opaque(SIZE);
    uint64_t seed = 99;
    // Skewed bytes (a sum of two halves of a random word), as real data is.
    for (uint32_t i = 0; i < size; i += 8) {
        uint64_t v = bench_next(&seed);
        uint64_t skew = ((v & 0x7f7f7f7f7f7f7f7fULL) >> 1) + ((v >> 1) & 0x3f3f3f3f3f3f3f3fULL);
        __builtin_memcpy(buf + i, &skew, 8);
    }
    uint64_t h = 0;
    for (int pass = 0; pass < 8; pass++) {
        for (int t = 0; t < 4; t++)
            for (int b = 0; b < 256; b++)
                counts[t][b] = 0;
        for (uint32_t i = 0; i < size; i += 4) {
            counts[0][buf[i]]++;
            counts[1][buf[i + 1]]++;
            counts[2][buf[i + 2]]++;
            counts[3][buf[i + 3]]++;
        }
        uint32_t total[256];
        for (int b = 0; b < 256; b++)
            total[b] = counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b];
        for (int b = 0; b < 256; b++)
            h = (h ^ total[b]) * 0x100000001b3ULL;
        // Shift the data a little so each pass counts something new.
        for (uint32_t i = 0; i < size; i++)
            buf[i] = (uint8_t)(buf[i] + (uint8_t)pass + 1);
    }
    bench_checksum(h);
}
