// Bulk memory copy: memcpy of 1 MiB blocks between two 32 MiB buffers at varying offsets. For
// wasm32 this is built with -mbulk-memory, so every memcpy is one memory.copy instruction.
#include "bench.h"

#define BUF_SIZE (32u << 20)
#define BLOCK (1u << 20)
static uint8_t src[BUF_SIZE], dst[BUF_SIZE];

void run(void) {
    uint32_t size = bench_opaque(BUF_SIZE);
    uint64_t seed = 7;
    for (uint32_t i = 0; i < size; i += 8) {
        uint64_t v = bench_next(&seed);
        __builtin_memcpy(src + i, &v, 8);
    }
    uint64_t h = 0;
    uint32_t rounds = bench_opaque(3000);
    for (uint32_t r = 0; r < rounds; r++) {
        uint32_t from = (uint32_t)(bench_next(&seed) % (size - BLOCK)) & ~7u;
        uint32_t to = (uint32_t)(bench_next(&seed) % (size - BLOCK)) & ~7u;
        __builtin_memcpy(dst + to, src + from, BLOCK);
        uint64_t w;
        __builtin_memcpy(&w, dst + to + (r & 0xfff) * 8, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        src[from] ^= (uint8_t)r; // keeps each copy observable
    }
    bench_checksum(h);
}
