/* notes (C): an example of the dispatch side of kiln:host/v1 (kiln/dispatch.h). initialize
 * registers commands, a slot and two UI block types and subscribes to events; handle_command,
 * on_event and shutdown are the lifecycle exports the host calls. State is kept in vars:
 * `notes` (how many were added), `events` (how many tick events came) and `ticks` (their data,
 * comma-separated, as the inside of a JSON array). Freestanding: no libc, no heap. */
#include <kiln/dispatch.h>

static char input_buf[4096];
static char text_buf[4096];

/* The var `key` as an integer; 0 when unset. */
static int64_t counter(const char* key) {
    int64_t n = 0;
    return kiln_var_get_i64(key, &n) ? n : 0;
}

/* Outputs the failure of the last kiln:host/v1 function as the command's error. */
static int32_t command_failed(void) {
    kiln_host_error(text_buf, sizeof text_buf);
    return kiln_command_error(text_buf);
}

/* Writes {"KEY":N} into text_buf; returns its length. */
static size_t count_json(const char* key, int64_t n) {
    size_t at = 0;
    const char* parts[] = {"{\"", key, "\":"};
    for (size_t p = 0; p < 3; p++)
        for (const char* s = parts[p]; *s; s++)
            text_buf[at++] = *s;
    at += kiln_fmt_i64(n, text_buf + at);
    text_buf[at++] = '}';
    return at;
}

/* Outputs {"ok": true, "data": {"KEY": N}}. */
static int32_t answer_count(const char* key, int64_t n) {
    return kiln_command_ok_n(text_buf, count_json(key, n));
}

KILN_EXPORT(initialize) {
    kiln_block_spec_t note = {"note",
                              "Note",
                              "{\"type\":\"object\",\"required\":[\"title\"],"
                              "\"properties\":{\"title\":{\"type\":\"string\"}}}",
                              "<div class=\"note\"><b>{{title}}</b><p>{{text}}</p></div>",
                              0,
                              0};
    kiln_block_spec_t stats = {"stats", "Statistics", 0, 0, "render_stats", "json"};
    kiln_slot_spec_t upper = {"notes.upper", "upper", "Upper-cases a note's text",
                              "{\"text\":\"hello\"}",
                              "{\"type\":\"object\",\"required\":[\"text\"]}"};
    if (!kiln_command_register("notes.add", "Add a note",
                               "{\"type\":\"object\",\"required\":[\"text\"],"
                               "\"properties\":{\"text\":{\"type\":\"string\"}}}") ||
        !kiln_command_register("notes.count", "Count the notes and events", 0) ||
        !kiln_command_register("notes.ticks", "The data of every tick, in order", 0) ||
        !kiln_command_register("notes.publish", "Publish {topic, data}", 0) ||
        !kiln_block_register(&note) || !kiln_block_register(&stats) ||
        !kiln_slot_register(&upper) || !kiln_event_subscribe("notes.tick") ||
        !kiln_event_subscribe("notes.echo") || !kiln_event_subscribe("notes.storm")) {
        kiln_host_error(text_buf, sizeof text_buf);
        return kiln_fail(text_buf);
    }
    return 0;
}

KILN_EXPORT(handle_command) {
    uint64_t n = kiln_input_read(input_buf, sizeof input_buf);
    kiln_command_t c;
    if (n > sizeof input_buf || !kiln_command_parse(input_buf, (size_t)n, &c))
        return kiln_command_error("expected {\"action\", \"payload\"}");
    if (kiln_slice_is(c.action, c.action_len, "notes.add")) {
        int64_t notes = counter("notes") + 1;
        kiln_var_set_i64("notes", notes);
        if (!kiln_event_publish_n("notes.added", 11, c.payload, c.payload_len))
            return command_failed();
        return answer_count("notes", notes);
    }
    if (kiln_slice_is(c.action, c.action_len, "notes.count"))
        return answer_count("events", counter("events"));
    if (kiln_slice_is(c.action, c.action_len, "notes.ticks")) {
        int64_t len = kiln_var_get("ticks", text_buf + 1, sizeof text_buf - 2);
        if (len < 0) len = 0;
        if (len > (int64_t)sizeof text_buf - 2) return kiln_command_error("too many ticks");
        text_buf[0] = '[';
        text_buf[len + 1] = ']';
        return kiln_command_ok_n(text_buf, (size_t)len + 2);
    }
    if (kiln_slice_is(c.action, c.action_len, "notes.publish")) {
        size_t tlen = 0, dlen = 0;
        const char* t = kiln_json_field(c.payload, c.payload_len, "topic", &tlen);
        const char* d = kiln_json_field(c.payload, c.payload_len, "data", &dlen);
        if (!t || !d || tlen < 2) return kiln_command_error("expected {\"topic\", \"data\"}");
        if (!kiln_event_publish_n(t + 1, tlen - 2, d, dlen)) return command_failed();
        return kiln_command_ok(0);
    }
    return kiln_command_error("unknown command");
}

KILN_EXPORT(on_event) {
    uint64_t n = kiln_input_read(input_buf, sizeof input_buf);
    kiln_event_t e;
    if (n > sizeof input_buf || !kiln_event_parse(input_buf, (size_t)n, &e))
        return kiln_fail("expected {\"topic\", \"data\"}");
    if (kiln_slice_is(e.topic, e.topic_len, "notes.tick")) {
        /* Appends the data to `ticks`, so that the order of delivery can be read back. */
        int64_t len = kiln_var_get("ticks", text_buf, sizeof text_buf);
        if (len < 0) len = 0;
        if ((size_t)len + 1 + e.data_len > sizeof text_buf) return kiln_fail("too many ticks");
        if (len > 0) text_buf[len++] = ',';
        for (size_t i = 0; i < e.data_len; i++)
            text_buf[len++] = e.data[i];
        kiln_var_set("ticks", text_buf, (size_t)len);
        kiln_var_set_i64("events", counter("events") + 1);
        return 0;
    }
    if (kiln_slice_is(e.topic, e.topic_len, "notes.echo")) {
        if (!kiln_event_publish_n("notes.echoed", 12, e.data, e.data_len)) {
            kiln_host_error(text_buf, sizeof text_buf);
            return kiln_fail(text_buf);
        }
        return 0;
    }
    if (kiln_slice_is(e.topic, e.topic_len, "notes.storm")) {
        /* Publishes to the topic it subscribes to: the host must stop the chain. */
        if (!kiln_event_publish_n("notes.storm", 11, e.data, e.data_len)) {
            kiln_host_error(text_buf, sizeof text_buf);
            return kiln_fail(text_buf);
        }
        return 0;
    }
    return 0;
}

/* The `stats` block: {"events": N, "notes": N, "data": DATA}. */
KILN_EXPORT(render_stats) {
    uint64_t n = kiln_input_read(input_buf, sizeof input_buf);
    if (n > sizeof input_buf) return kiln_fail("data too long");
    size_t at = 0;
    const char* a = "{\"events\":";
    while (*a)
        text_buf[at++] = *a++;
    at += kiln_fmt_i64(counter("events"), text_buf + at);
    const char* b = ",\"notes\":";
    while (*b)
        text_buf[at++] = *b++;
    at += kiln_fmt_i64(counter("notes"), text_buf + at);
    const char* c = ",\"data\":";
    while (*c)
        text_buf[at++] = *c++;
    if (at + n + 1 > sizeof text_buf) return kiln_fail("data too long");
    for (uint64_t i = 0; i < n; i++)
        text_buf[at++] = input_buf[i];
    text_buf[at++] = '}';
    kiln_output_set_bytes(text_buf, at);
    return 0;
}

/* The slot notes.upper: {"text": "..."} in, the text upper-cased (a JSON string) out. */
KILN_EXPORT(upper) {
    uint64_t n = kiln_input_read(input_buf, sizeof input_buf);
    size_t tlen = 0;
    const char* t =
        n <= sizeof input_buf ? kiln_json_field(input_buf, (size_t)n, "text", &tlen) : 0;
    if (!t || t[0] != '"') return kiln_fail("expected {\"text\": STRING}");
    bool escaped = false; /* the letter after a backslash is part of an escape */
    for (size_t i = 0; i < tlen; i++) {
        text_buf[i] = !escaped && t[i] >= 'a' && t[i] <= 'z' ? (char)(t[i] - 'a' + 'A') : t[i];
        escaped = !escaped && t[i] == '\\';
    }
    kiln_output_set_bytes(text_buf, tlen);
    return 0;
}

/* Says goodbye with the number of events it got. */
KILN_EXPORT(shutdown) {
    size_t len = count_json("events", counter("events"));
    return kiln_event_publish_n("notes.bye", 9, text_buf, len) ? 0 : 1;
}
