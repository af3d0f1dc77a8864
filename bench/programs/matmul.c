// f64 matrix multiply, C = A x B for 640x640 matrices: B is transposed first, then each entry is a
// dot product of two contiguous rows (f64 loads, multiplies and a serial add chain).
#include "bench.h"

#define N 640
static double a[N * N], b[N * N], bt[N * N], c[N * N];

void run(void) {
    uint32_t n = bench_opaque(N);
    uint64_t seed = 42;
    for (uint32_t i = 0; i < n * n; i++) {
        a[i] = (double)(bench_next(&seed) >> 11) * 0x1.0p-53 - 0.5;
        b[i] = (double)(bench_next(&seed) >> 11) * 0x1.0p-53 - 0.5;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            bt[j * n + i] = b[i * n + j];
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++) {
            double s = 0.0;
            const double* ra = a + i * n;
            const double* rb = bt + j * n;
            for (uint32_t k = 0; k < n; k++)
                s += ra[k] * rb[k];
            c[i * n + j] = s;
        }
    }
    // Fold the bit patterns: the result must be bit-identical across engines.
    uint64_t h = 0;
    for (uint32_t i = 0; i < n * n; i++) {
        uint64_t bits;
        __builtin_memcpy(&bits, &c[i], 8);
        h = (h ^ bits) * 0x100000001b3ULL;
    }
    bench_checksum(h);
}
