// Sieve of Eratosthenes over a 32 MiB byte array, repeated: byte stores with a large stride,
// nested loops and branches.
#include "bench.h"

#define LIMIT (32u << 20)
static uint8_t composite[LIMIT];

void run(void) {
    uint32_t limit = bench_opaque(LIMIT);
    uint64_t h = 0;
    uint32_t reps = bench_opaque(1);
    for (uint32_t r = 0; r < reps; r++) {
        for (uint32_t i = 0; i < limit; i++)
            composite[i] = 0;
        uint32_t count = 0;
        for (uint32_t i = 2; i < limit; i++) {
            if (composite[i]) continue;
            count++;
            h = (h ^ i) * 0x100000001b3ULL;
            for (uint64_t j = (uint64_t)i * i; j < limit; j += i)
                composite[j] = 1;
        }
        h ^= count;
    }
    bench_checksum(h);
}
