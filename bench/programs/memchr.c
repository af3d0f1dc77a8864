// memchr-style search: every occurrence of 16 needle bytes in a 16 MiB buffer, 16 times over where
// each is rare. The scan tests 64-byte blocks with an OR of byte comparisons (a loop without an
// early exit, which compilers vectorise), then finds the matches inside a block that has one.
#include "bench.h"

#define SIZE (16u << 20)
#define BLOCK 64
static uint8_t buf[SIZE];

static uint32_t find_all(const uint8_t* p, uint32_t size, uint8_t needle, uint64_t* h) {
    uint32_t found = 0;
    for (uint32_t at = 0; at < size; at += BLOCK) {
        uint8_t any = 0;
        for (uint32_t i = 0; i < BLOCK; i++)
            any |= (uint8_t)(p[at + i] == needle);
        if (!any) continue;
        for (uint32_t i = 0; i < BLOCK; i++) {
            if (p[at + i] == needle) {
                *h = (*h ^ (at + i)) * 0x100000001b3ULL;
                found++;
            }
        }
    }
    return found;
}

void run(void) {
    uint32_t size = bench_opaque(SIZE);
    uint64_t seed = 3;
    // Bytes 0..239 only, then a few of each needle (240..255) sprinkled in.
    for (uint32_t i = 0; i < size; i += 8) {
        uint64_t v = bench_next(&seed);
        for (int k = 0; k < 8; k++)
            buf[i + k] = (uint8_t)(((v >> (8 * k)) & 0xff) * 240 >> 8);
    }
    for (uint32_t k = 0; k < 4096; k++)
        buf[(uint32_t)(bench_next(&seed) % size)] = (uint8_t)(240 + k % 16);
    uint64_t h = 0;
    uint32_t total = 0;
    for (int rep = 0; rep < 16; rep++)
        for (uint32_t needle = 240; needle < 256; needle++)
            total += find_all(buf, size, (uint8_t)needle, &h);
    bench_checksum(h ^ total);
}
