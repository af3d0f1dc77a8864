/* wasi_read (C, wasm32-wasi reactor with wasi-libc): reads the file whose path is the input and
 * outputs its content. The host lets it see only the manifest's allowed_paths. */
#include <kiln/pdk.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets "PATH: REASON" as the error and returns 1. */
static int32_t fail_path(const char* path, const char* reason) {
    size_t n = strlen(path) + strlen(reason) + 3;
    char* msg = malloc(n);
    if (!msg) return kiln_fail(reason);
    snprintf(msg, n, "%s: %s", path, reason);
    kiln_error_set_str(msg);
    free(msg);
    return 1;
}

KILN_EXPORT(read_file) {
    uint64_t path_len;
    char* path = kiln_input_malloc(&path_len);
    if (!path) return kiln_fail("out of memory");
    if (path_len == 0 || strlen(path) != path_len) {
        free(path);
        return kiln_fail("the input must be a file path");
    }

    FILE* f = fopen(path, "rb");
    if (!f) {
        int32_t rc = fail_path(path, strerror(errno));
        free(path);
        return rc;
    }
    /* Read whole, growing the buffer: the size from a stat could change under us. */
    size_t cap = 4096, len = 0;
    char* data = malloc(cap);
    int32_t rc = 0;
    while (data) {
        len += fread(data + len, 1, cap - len, f);
        if (len < cap) break;
        char* bigger = realloc(data, cap * 2);
        if (!bigger) {
            free(data);
            data = NULL;
            break;
        }
        data = bigger;
        cap *= 2;
    }
    if (!data) {
        rc = kiln_fail("out of memory");
    } else if (ferror(f)) {
        rc = fail_path(path, "read error");
    } else if (!kiln_output_set_bytes(data, len)) {
        rc = kiln_fail("out of kernel memory");
    }
    fclose(f);
    free(data);
    free(path);
    return rc;
}
