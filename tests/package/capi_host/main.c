/* Calls a plugin through the C API.
 *
 *     kiln-capi-host PLUGIN FUNCTION INPUT    prints the output; PLUGIN is a .wasm or manifest */
#include <kiln/kiln.h>

#include <stdio.h>
#include <string.h>

static int fail(kiln_error_t* error) {
    fprintf(stderr, "kiln-capi-host: %s: %s\n", kiln_error_kind_name(kiln_error_kind(error)),
            kiln_error_message(error));
    kiln_error_delete(error);
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: kiln-capi-host PLUGIN FUNCTION INPUT\n");
        return 2;
    }
    kiln_engine_t* engine = kiln_engine_new(NULL);
    kiln_plugin_t* plugin = NULL;
    kiln_error_t* error = kiln_plugin_from_file(engine, argv[1], false, &plugin);
    int rc = 0;
    if (error) {
        rc = fail(error);
    } else {
        const uint8_t* output = NULL;
        size_t output_len = 0;
        error = kiln_plugin_call(plugin, argv[2], (const uint8_t*)argv[3], strlen(argv[3]), &output,
                                 &output_len);
        if (error)
            rc = fail(error);
        else
            printf("%.*s\n", (int)output_len, (const char*)output);
        kiln_plugin_delete(plugin);
    }
    kiln_engine_delete(engine);
    return rc;
}
