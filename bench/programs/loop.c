// Integer loop arithmetic: a dependent chain of i32/i64 adds, multiplies, shifts, rotates and a
// data-dependent branch, with no memory traffic.
#include "bench.h"

void run(void) {
    uint32_t n = bench_opaque(300000000);
    uint64_t a = 0x9E3779B97F4A7C15ULL;
    uint32_t b = 12345, c = 0;
    for (uint32_t i = 0; i < n; i++) {
        a = a * 6364136223846793005ULL + 1442695040888963407ULL;
        b ^= (uint32_t)(a >> 33);
        b = (b << 7) | (b >> 25);
        if (b & 1)
            c += b >> 3;
        else
            c -= i;
    }
    bench_checksum(a ^ ((uint64_t)b << 32) ^ c);
}
