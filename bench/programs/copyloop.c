// Memory copy written as a loop of 64-bit word loads and stores (built with -fno-builtin so the
// compiler keeps the loop instead of calling memcpy): load/store and address arithmetic throughput.
#include "bench.h"

#define WORDS (4u << 20) // 32 MiB per buffer
static uint64_t src[WORDS], dst[WORDS];

__attribute__((noinline)) static void copy_words(uint64_t* d, const uint64_t* s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        d[i] = s[i];
}

void run(void) {
    uint32_t words = bench_opaque(WORDS);
    uint64_t seed = 99;
    for (uint32_t i = 0; i < words; i++)
        src[i] = bench_next(&seed);
    uint64_t h = 0;
    uint32_t rounds = bench_opaque(64);
    for (uint32_t r = 0; r < rounds; r++) {
        copy_words(dst, src, words);
        h = (h ^ dst[(r * 7919u) % words]) * 0x100000001b3ULL;
        src[(r * 104729u) % words] ^= r;
    }
    bench_checksum(h);
}
