// Recursive calls: naive Fibonacci, dominated by call/return overhead.
#include "bench.h"

__attribute__((noinline)) static uint64_t fib(uint32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

void run(void) {
    bench_checksum(fib(bench_opaque(40)));
}
