/* Compile check for kiln/dispatch.h: calls every helper once, built like api_check.c (C and
 * C++, freestanding and wasm32-wasi) to show the header is complete and warning-free. */
#include <kiln/dispatch.h>

KILN_EXPORT(check_dispatch) {
    char buf[256];
    uint64_t sum = 0;
    sum += kiln_event_publish("a.b", "{}");
    sum += kiln_event_publish_n("a.b", 3, "[1]", 3);
    sum += kiln_event_subscribe("a.*") + kiln_event_unsubscribe("a.*");
    sum += kiln_command_register("c", "C", "{\"type\":\"object\"}");
    sum += kiln_command_register("d", 0, 0);
    kiln_slot_spec_t slot = {"s", "e", "S", "{}", 0};
    sum += kiln_slot_register(&slot);
    kiln_block_spec_t block = {"b", "B", 0, "<b>{{x}}</b>", 0, 0};
    sum += kiln_block_register(&block);
    sum += kiln_host_error(buf, sizeof buf);

    uint64_t n = kiln_input_read(buf, sizeof buf);
    if (n > sizeof buf) return kiln_fail("input too long");
    kiln_event_t e;
    kiln_command_t c;
    size_t len = 0;
    const char* v = kiln_json_field(buf, (size_t)n, "k", &len);
    char text[32];
    if (v) sum += (uint64_t)kiln_json_string(v, len, text, sizeof text);
    if (kiln_event_parse(buf, (size_t)n, &e)) sum += e.topic_len + e.data_len;
    if (kiln_command_parse(buf, (size_t)n, &c) && kiln_slice_is(c.action, c.action_len, "x"))
        return kiln_command_ok_n(c.payload, c.payload_len);
    if (sum == 3) return kiln_command_ok(0);
    if (sum == 4) return kiln_command_ok("{}");
    return kiln_command_error("no");
}
