/* Environment variables (environ_sizes_get, environ_get): getenv of the variables the harness
 * passes with --env, and the whole environ sorted, since its order is the runtime's choice. */
#include "wasi_test.h"

extern char** environ;

static int compare_strings(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

static void show(const char* name) {
    const char* value = getenv(name);
    if (value)
        printf("getenv %s: \"%s\"\n", name, value);
    else
        printf("getenv %s: (unset)\n", name);
}

int main(void) {
    show("KILN_GREETING");
    show("KILN_EMPTY");
    show("KILN_EQUALS");
    show("KILN_UTF8");
    show("KILN_MISSING");
    show("PATH"); /* the host's PATH must not leak in without --inherit-env */

    size_t count = 0;
    while (environ[count])
        ++count;
    printf("environ count: %zu\n", count);
    char** sorted = malloc((count + 1) * sizeof *sorted);
    memcpy(sorted, environ, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, compare_strings);
    for (size_t i = 0; i < count; ++i)
        printf("environ: %s\n", sorted[i]);
    free(sorted);

    /* setenv changes only the guest's copy. */
    setenv("KILN_GREETING", "changed", 1);
    show("KILN_GREETING");
    return 0;
}
