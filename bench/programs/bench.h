// Shared by every benchmark program: the checksum import and a small deterministic PRNG.
// Compiled for wasm32 as a bare module the checksum is the import (bench.checksum: [i64] -> []);
// compiled natively or as a WASI command (BENCH_COMMAND) it is defined by native_main.c. Each
// program exports `run` and reports one checksum.
#pragma once

#include <stdint.h>

#if defined(__wasm__) && !defined(BENCH_COMMAND)
__attribute__((import_module("bench"), import_name("checksum")))
#endif
void bench_checksum(uint64_t value);

// xorshift64*: deterministic fill data the compiler cannot fold away.
static inline uint64_t bench_next(uint64_t* state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

// Keeps sizes opaque to the optimizer, so results are computed at run time, not compile time.
static inline uint32_t bench_opaque(uint32_t v) {
    volatile uint32_t opaque = v;
    return opaque;
}
