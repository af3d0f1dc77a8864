/* How a program ends, chosen by argv[1]: exit(N) and returning from main go through proc_exit
 * after atexit handlers and the stdio flush; _Exit skips both; abort and a division by zero trap
 * (wasi-libc's abort is the unreachable instruction), which `kiln run` reports with exit code
 * 134. */
#include "wasi_test.h"

static void handler(void) {
    puts("atexit handler ran");
}

int main(int argc, char** argv) {
    if (argc < 2) {
        puts("usage: exit.wasm exit N | return N | _Exit N | abort | divide");
        return 2;
    }
    atexit(handler);
    const char* mode = argv[1];
    int code = argc > 2 ? atoi(argv[2]) : 0;
    printf("mode %s %d\n", mode, code); /* buffered: shows that exit flushes stdout */
    if (strcmp(mode, "exit") == 0) exit(code);
    if (strcmp(mode, "return") == 0) return code;
    if (strcmp(mode, "_Exit") == 0) {
        puts("flushed by hand before _Exit");
        fflush(stdout);
        puts("lost: _Exit does not flush");
        _Exit(code);
    }
    fflush(stdout); /* a trap ends the process without flushing */
    if (strcmp(mode, "abort") == 0) abort();
    if (strcmp(mode, "divide") == 0) {
        /* Both volatile: clang rewrites 1 / x as a compare, which does not trap. */
        volatile int seven = 7, zero = 0;
        printf("%d\n", seven / zero);
    }
    puts("unknown mode");
    return 2;
}
