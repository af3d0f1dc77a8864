/* Compile check for kiln/zeno.h: calls every helper once, freestanding (the arena) and with
 * wasm32-wasi (malloc). tests/hostfns/fixtures/zeno_plugin.c runs the kit for real. */
#include <kiln/zeno.h>

static const char* execute(const kiln_zeno_request_t* req) {
    char name[32];
    size_t len = 0;
    const char* scope = kiln_zeno_param(req, "_zeno_scope", &len);
    kiln_zeno_log("info", scope ? scope : "no scope");
    if (!kiln_zeno_slot_is(req, "z.x")) return kiln_zeno_error("Unknown slot");
    if (!kiln_zeno_param_string(req, "name", name, sizeof name)) return kiln_zeno_ok(0);
    char* answers[] = {kiln_zeno_db_query("{}"), kiln_zeno_http_request("{}"),
                       kiln_zeno_scope_get("user"), kiln_zeno_file_read("a"),
                       kiln_zeno_env_get("HOME")};
    bool ok = kiln_zeno_scope_set("k", "1") && kiln_zeno_file_write("a", "b");
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
        kiln_zeno_free(answers[i]);
    return ok ? kiln_zeno_ok_n("{}", 2) : kiln_zeno_error(name);
}

KILN_ZENO_PLUGIN("{\"name\":\"z\",\"version\":\"1.0.0\"}", "[{\"name\":\"z.x\"}]", execute)
