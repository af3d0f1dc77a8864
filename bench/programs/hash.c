// Hashing a large buffer: a 32 MiB buffer filled deterministically, then FNV-1a over bytes and
// an xxHash64-style pass over 64-bit words (byte loads, i64 multiply chains, rotates).
#include "bench.h"

#define BUF_SIZE (32u << 20)
static uint8_t buf[BUF_SIZE];

static inline uint64_t rotl(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

void run(void) {
    uint32_t size = bench_opaque(BUF_SIZE);
    uint64_t seed = 0x1234567887654321ULL;
    for (uint32_t i = 0; i < size; i += 8) {
        uint64_t v = bench_next(&seed);
        __builtin_memcpy(buf + i, &v, 8);
    }

    uint64_t fnv = 0xcbf29ce484222325ULL;
    for (int pass = 0; pass < 4; pass++)
        for (uint32_t i = 0; i < size; i++)
            fnv = (fnv ^ buf[i]) * 0x100000001b3ULL;

    const uint64_t p1 = 0x9E3779B185EBCA87ULL, p2 = 0xC2B2AE3D27D4EB4FULL;
    uint64_t acc[4] = {p1 + p2, p2, 0, (uint64_t)0 - p1};
    for (int pass = 0; pass < 16; pass++) {
        for (uint32_t i = 0; i < size; i += 32) {
            for (int lane = 0; lane < 4; lane++) {
                uint64_t w;
                __builtin_memcpy(&w, buf + i + 8 * lane, 8);
                acc[lane] = rotl(acc[lane] + w * p2, 31) * p1;
            }
        }
    }
    uint64_t h = rotl(acc[0], 1) + rotl(acc[1], 7) + rotl(acc[2], 12) + rotl(acc[3], 18);
    bench_checksum(h ^ fnv);
}
