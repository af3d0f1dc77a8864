/* Command-line arguments (args_sizes_get, args_get). argv[0] is FILE.wasm as the command line gave
 * it; the arguments after it reach the program untouched, even ones that look like runner
 * flags. */
#include "wasi_test.h"

int main(int argc, char** argv) {
    printf("argc: %d\n", argc);
    for (int i = 0; i < argc; ++i)
        printf("argv[%d]: [%s] (%zu bytes)\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc] is NULL: %s\n", argv[argc] == NULL ? "yes" : "no");
    return 0;
}
