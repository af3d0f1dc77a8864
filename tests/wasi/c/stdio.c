/* The standard streams: stdin read to the end (fd_read until 0), stdout through stdio and plain
 * write(1), many small unbuffered writes in order, and stderr kept apart from stdout. The harness
 * feeds stdin from tests/wasi/fixtures/stdin.txt, compares stdout and looks for the stderr line. */
#include <ctype.h>

#include "wasi_test.h"

int main(void) {
    char buf[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(0, buf + total, sizeof buf - 1 - total);
        if (n < 0) {
            printf("read stdin: %s\n", errno_name(errno));
            return 1;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    buf[total] = '\0';
    int lines = 0;
    for (size_t i = 0; i < total; ++i)
        lines += buf[i] == '\n';
    printf("stdin: %zu bytes, %d lines\n", total, lines);
    char extra;
    printf("read after EOF: %zd\n", read(0, &extra, 1));
    for (size_t i = 0; i < total; ++i)
        buf[i] = (char)toupper((unsigned char)buf[i]);
    fputs(buf, stdout);

    fputs("this goes to stderr, not stdout\n", stderr);
    fflush(stdout);
    printf("write(1): %zd\n", write(1, "raw write to fd 1\n", 18));
    fflush(stdout);

    /* Unbuffered: one fd_write per call, which must come out in order. */
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 0; i < 200; ++i)
        printf("%d%c", i, i % 20 == 19 ? '\n' : ' ');
    printf("isatty(1): %d\n", isatty(1));
    must_fail("write to stdin (fd 0)", write(0, "x", 1), 0);
    return 0;
}
