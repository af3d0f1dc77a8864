/* {{name}}: a Kiln plugin (Extism ABI) in C. Each KILN_EXPORT(name) is a function the host can
 * call with bytes in and bytes out; it returns 0 for success. include/kiln/pdk.h is the kit. */
#include <kiln/pdk.h>

#include <stdlib.h>
#include <string.h>

/* Answers the input with "GREETING, INPUT!", GREETING being the config key `greeting` (from the
 * manifest or `kiln call --config greeting=...`), "Hello" by default. */
KILN_EXPORT(greet) {
    uint64_t name_len = 0;
    char* name = kiln_input_malloc(&name_len);
    char* greeting = kiln_config_get_malloc("greeting");
    const char* g = greeting ? greeting : "Hello";
    size_t g_len = strlen(g);

    size_t len = g_len + 2 + name_len + 1;
    char* text = name ? malloc(len) : NULL;
    if (!text) {
        free(name);
        free(greeting);
        return kiln_fail("out of memory");
    }
    memcpy(text, g, g_len);
    memcpy(text + g_len, ", ", 2);
    memcpy(text + g_len + 2, name, name_len);
    text[len - 1] = '!';
    kiln_log_debug("greeting someone");

    bool ok = kiln_output_set_bytes(text, len);
    free(text);
    free(name);
    free(greeting);
    return ok ? 0 : kiln_fail("out of kernel memory");
}
