// f64 matrix multiply in i-k-j order, C += A[i][k] * B[k][*] for 512x512 matrices, 8 times: the
// inner loop is a multiply-add over contiguous rows of B and C, the loop compilers vectorise.
// Built with -ffp-contract=off natively too, so no fused multiply-add changes the bits.
#include "bench.h"

#define N 512
static double a[N * N], b[N * N], c[N * N];

void run(void) {
    uint32_t n = bench_opaque(N);
    uint64_t seed = 42;
    for (uint32_t i = 0; i < n * n; i++) {
        a[i] = (double)(bench_next(&seed) >> 11) * 0x1.0p-53 - 0.5;
        b[i] = (double)(bench_next(&seed) >> 11) * 0x1.0p-53 - 0.5;
        c[i] = 0.0;
    }
    for (int rep = 0; rep < 8; rep++) {
        for (uint32_t i = 0; i < n; i++) {
            double* rc = c + i * n;
            for (uint32_t k = 0; k < n; k++) {
                const double aik = a[i * n + k];
                const double* rb = b + k * n;
                for (uint32_t j = 0; j < n; j++)
                    rc[j] += aik * rb[j];
            }
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
