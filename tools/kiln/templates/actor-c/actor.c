/* {{name}}: a Kiln actor (Reflow's actor ABI) in C. A String on `name` is answered on
 * `greeting` with "GREETING, NAME!", GREETING being the node's config key `greeting` (its
 * metadata in the graph), "Hello" by default; the node's state counts the greetings. */
#include <kiln/actor.h>

static const kiln_actor_port_t inports[] = {
    {"name", "String", "who to greet", true},
};
static const kiln_actor_port_t outports[] = {
    {"greeting", "String", "the greeting", false},
};
static const kiln_actor_metadata_t metadata = {
    "{{name}}", "Greets by name", inports, 1, outports, 1, 0,
};
KILN_ACTOR_METADATA(metadata)

/* Appends the NUL-terminated `s` to buf at *len, keeping room for the final NUL. */
static void append(char* buf, size_t cap, size_t* len, const char* s) {
    while (*s && *len + 1 < cap)
        buf[(*len)++] = *s++;
    buf[*len] = '\0';
}

static int32_t greet(const kiln_actor_context_t* ctx, kiln_actor_result_t* result) {
    char name[256], greeting[64] = "Hello", text[340];
    if (ctx->message.kind != KILN_MSG_STRING ||
        kiln_json_to_string(ctx->message.data, name, sizeof name) < 0)
        return kiln_fail("name: expected a String");
    kiln_json_t configured;
    if (kiln_json_get(ctx->config, "greeting", &configured))
        kiln_json_to_string(configured, greeting, sizeof greeting);
    size_t len = 0;
    append(text, sizeof text, &len, greeting);
    append(text, sizeof text, &len, ", ");
    append(text, sizeof text, &len, name);
    append(text, sizeof text, &len, "!");
    kiln_actor_output_string(result, "greeting", text);

    int64_t count = 0;
    kiln_json_t saved;
    if (kiln_actor_state_at_start(ctx, "count", &saved)) kiln_json_to_i64(saved, &count);
    kiln_actor_state_i64(result, "count", count + 1);
    return 0;
}
KILN_ACTOR_PROCESS(greet)
