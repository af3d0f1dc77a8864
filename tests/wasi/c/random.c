/* random_get, through getentropy and arc4random. The bytes themselves are never printed. */
#include <stdint.h>

#include "wasi_test.h"

static int all_zero(const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i]) return 0;
    return 1;
}

int main(void) {
    unsigned char a[256], b[256];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    step("getentropy 256", getentropy(a, sizeof a));
    step("getentropy 256 again", getentropy(b, sizeof b));
    printf("not all zero: %s\n", all_zero(a, sizeof a) ? "no" : "yes");
    printf("the two buffers differ: %s\n", memcmp(a, b, sizeof a) != 0 ? "yes" : "no");
    must_fail("getentropy 257 (over the POSIX limit)", getentropy(a, 257), 0);
    step("getentropy 0", getentropy(a, 0));

    static unsigned char big1[65536], big2[65536];
    arc4random_buf(big1, sizeof big1);
    arc4random_buf(big2, sizeof big2);
    printf("arc4random_buf 64 KiB twice differ: %s\n",
           memcmp(big1, big2, sizeof big1) != 0 ? "yes" : "no");
    /* Every byte value should turn up in 64 KiB of random bytes (the chance one does not is about
     * 256 * e^-256). */
    int seen[256] = {0}, missing = 0;
    for (size_t i = 0; i < sizeof big1; ++i)
        seen[big1[i]] = 1;
    for (int i = 0; i < 256; ++i)
        missing += !seen[i];
    printf("all 256 byte values occur: %s\n", missing ? "no" : "yes");

    int in_range = 1;
    uint32_t x = arc4random(), y = arc4random(), z = arc4random();
    for (int i = 0; i < 1000; ++i)
        if (arc4random_uniform(10) >= 10) in_range = 0;
    printf("arc4random_uniform(10) < 10: %s\n", in_range ? "yes" : "no");
    printf("three arc4random() not all equal: %s\n", x != y || y != z ? "yes" : "no");
    return 0;
}
