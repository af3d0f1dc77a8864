// Driver of the native baseline and of the WASI command builds (`kiln run p-wasi.wasm`): times
// run() the way the wasm runners do and prints the same lines: the checksum, the wall-clock
// seconds of the call and the process CPU seconds it used (under WASI, the monotonic clock
// again: wasi-libc offers the CPU clock only through an emulation library).
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

void run(void);

static uint64_t g_checksum;
static int g_calls;

void bench_checksum(uint64_t value) {
    g_checksum = value;
    g_calls++;
}

#ifdef __wasi__
#define BENCH_CPU_CLOCK CLOCK_MONOTONIC
#else
#define BENCH_CPU_CLOCK CLOCK_PROCESS_CPUTIME_ID
#endif

int main(void) {
    struct timespec t0, t1, c0, c1;
    clock_gettime(BENCH_CPU_CLOCK, &c0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(BENCH_CPU_CLOCK, &c1);
    if (g_calls != 1) {
        fprintf(stderr, "checksum reported %d times\n", g_calls);
        return 1;
    }
    printf("checksum %" PRIu64 "\n", g_checksum);
    printf("seconds %.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    printf("cpu_seconds %.6f\n",
           (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9);
    return 0;
}
