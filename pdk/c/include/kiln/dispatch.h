/* Kiln plugin kit for C and C++, dispatch: events, commands, slots and UI blocks through the
 * host functions of module "kiln:host/v1", and the lifecycle exports a host calls (initialize,
 * handle_command, on_event, shutdown). Header-only and freestanding like kiln/pdk.h, which it
 * includes. See docs/hostfns.md for the JSON each function takes and docs/pdk-c.md.
 *
 *   KILN_EXPORT(initialize) {
 *       kiln_event_subscribe("file.*");
 *       kiln_command_register("notes.add", "Add a note", "{\"type\":\"object\"}");
 *       return 0;
 *   }
 *   KILN_EXPORT(on_event) {
 *       static char in[4096];
 *       kiln_event_t e;
 *       uint64_t n = kiln_input_read(in, sizeof in);
 *       if (n > sizeof in || !kiln_event_parse(in, (size_t)n, &e)) return kiln_fail("bad event");
 *       ...
 *   }
 *
 * Every function of the module that can fail returns 0 (false here) and keeps the reason, which
 * kiln_host_error() copies out until the next kiln:host/v1 call. */
#ifndef KILN_DISPATCH_H
#define KILN_DISPATCH_H

#include <kiln/pdk.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The raw ABI of kiln:host/v1's dispatch functions ---------------------------------------
 * Each takes blocks (freed by the host) and returns 0 when it succeeded, -1 when it failed. */

#define KILN_V1_FN(name) KILN_HOST_FN("kiln:host/v1", name)

KILN_V1_FN("event_publish") int32_t kiln_v1_event_publish(kiln_handle_t topic, kiln_handle_t data);
KILN_V1_FN("event_subscribe") int32_t kiln_v1_event_subscribe(kiln_handle_t pattern);
KILN_V1_FN("event_unsubscribe") int32_t kiln_v1_event_unsubscribe(kiln_handle_t pattern);
KILN_V1_FN("command_register") int32_t kiln_v1_command_register(kiln_handle_t spec_json);
KILN_V1_FN("slot_register") int32_t kiln_v1_slot_register(kiln_handle_t spec_json);
KILN_V1_FN("block_register") int32_t kiln_v1_block_register(kiln_handle_t spec_json);
/* Why the last kiln:host/v1 function of this call failed (a block owned by the plugin), 0 when
 * it did not. */
KILN_V1_FN("last_error") kiln_handle_t kiln_v1_last_error(void);

/* ---- Errors ---------------------------------------------------------------------------------- */

/* Copies at most cap - 1 bytes of why the last kiln:host/v1 function failed, and a NUL, into
 * buf (when cap > 0); returns the message's whole length, 0 when it did not fail. */
static inline uint64_t kiln_host_error(char* buf, size_t cap) {
    kiln_handle_t m = kiln_v1_last_error();
    uint64_t len = kiln_mem_length(m);
    if (cap > 0) {
        uint64_t n = len < cap - 1 ? len : cap - 1;
        kiln_mem_load(m, 0, buf, n);
        buf[n] = '\0';
    }
    kiln_mem_free(m);
    return len;
}

/* ---- Building JSON into a block -------------------------------------------------------------- */

static inline void kiln__put_n(kiln__writer* w, const char* s, size_t len) {
    for (size_t i = 0; i < len; i++)
        kiln__put(w, (unsigned char)s[i]);
}

/* Writes `,"key":` (the comma unless first) then the value as a JSON string, or raw JSON when
 * `raw`; nothing when value is NULL. */
static inline void kiln__put_field(kiln__writer* w, bool* first, const char* key, const char* value,
                                   bool raw) {
    if (!value) return;
    if (!*first) kiln__put(w, ',');
    *first = false;
    kiln__put_json(w, key);
    kiln__put(w, ':');
    if (raw)
        kiln__put_raw(w, value);
    else
        kiln__put_json(w, value);
}

/* Runs `emit` twice, counting then writing, into a new block of the exact size; 0 when out of
 * memory. */
static inline kiln_handle_t kiln__build(void (*emit)(kiln__writer*, const void*), const void* ctx,
                                        uint64_t* length) {
    kiln__writer w;
    w.handle = 0;
    w.pos = 0;
    w.used = 0;
    emit(&w, ctx);
    kiln_handle_t handle = kiln_env_alloc(w.pos);
    if (!handle) return 0;
    *length = w.pos;
    w.handle = handle;
    w.pos = 0;
    emit(&w, ctx);
    kiln__writer_flush(&w);
    return handle;
}

/* ---- Events ---------------------------------------------------------------------------------- */

/* Publishes `data` (JSON text) on `topic`; false when refused (permission `events.publish`,
 * data that is not JSON, a full queue, an event storm): see kiln_host_error(). */
static inline bool kiln_event_publish_n(const char* topic, size_t topic_len, const char* data,
                                        size_t data_len) {
    kiln_handle_t t = kiln_mem_new(topic, topic_len);
    kiln_handle_t d = kiln_mem_new(data, data_len);
    if (!t || !d) {
        kiln_mem_free(t);
        kiln_mem_free(d);
        return false;
    }
    return kiln_v1_event_publish(t, d) == 0;
}
static inline bool kiln_event_publish(const char* topic, const char* data_json) {
    return kiln_event_publish_n(topic, kiln_strlen(topic), data_json, kiln_strlen(data_json));
}

/* Subscribes to a topic or a glob of topics ("file.*"): its events come to the on_event export,
 * which the plugin must have. False when refused (permission `events.subscribe`). */
static inline bool kiln_event_subscribe(const char* pattern) {
    kiln_handle_t p = kiln_mem_new_str(pattern);
    return p && kiln_v1_event_subscribe(p) == 0;
}
/* Ends a subscription; false when there was none with that pattern. */
static inline bool kiln_event_unsubscribe(const char* pattern) {
    kiln_handle_t p = kiln_mem_new_str(pattern);
    return p && kiln_v1_event_unsubscribe(p) == 0;
}

/* ---- Commands, slots, UI blocks -------------------------------------------------------------
 * Strings are NUL-terminated; a NULL field is left out. Schemas and examples are JSON text. */

typedef struct kiln_command_spec {
    const char* id;     /* letters, digits and ._:/- */
    const char* title;  /* optional */
    const char* schema; /* optional: JSON Schema of the payload */
} kiln_command_spec_t;

static inline void kiln__emit_command(kiln__writer* w, const void* ctx) {
    const kiln_command_spec_t* s = (const kiln_command_spec_t*)ctx;
    bool first = true;
    kiln__put(w, '{');
    kiln__put_field(w, &first, "id", s->id, false);
    kiln__put_field(w, &first, "title", s->title, false);
    kiln__put_field(w, &first, "schema", s->schema, true);
    kiln__put(w, '}');
}

/* Registers a command the host can invoke: its calls come to handle_command. */
static inline bool kiln_command_register(const char* id, const char* title,
                                         const char* schema_json) {
    kiln_command_spec_t spec;
    spec.id = id;
    spec.title = title;
    spec.schema = schema_json;
    uint64_t len = 0;
    kiln_handle_t h = kiln__build(kiln__emit_command, &spec, &len);
    return h && kiln_v1_command_register(h) == 0;
}

typedef struct kiln_slot_spec {
    const char* name;        /* letters, digits and ._:/- */
    const char* export_name; /* the export the host calls with the slot's input */
    const char* description; /* optional */
    const char* example;     /* optional: JSON of an example input */
    const char* schema;      /* optional: JSON Schema of the input */
} kiln_slot_spec_t;

static inline void kiln__emit_slot(kiln__writer* w, const void* ctx) {
    const kiln_slot_spec_t* s = (const kiln_slot_spec_t*)ctx;
    bool first = true;
    kiln__put(w, '{');
    kiln__put_field(w, &first, "name", s->name, false);
    kiln__put_field(w, &first, "export", s->export_name, false);
    kiln__put_field(w, &first, "description", s->description, false);
    kiln__put_field(w, &first, "example", s->example, true);
    kiln__put_field(w, &first, "schema", s->schema, true);
    kiln__put(w, '}');
}

/* Registers a slot, a named operation the host calls by name. */
static inline bool kiln_slot_register(const kiln_slot_spec_t* spec) {
    uint64_t len = 0;
    kiln_handle_t h = kiln__build(kiln__emit_slot, spec, &len);
    return h && kiln_v1_slot_register(h) == 0;
}

typedef struct kiln_block_spec {
    const char* id;            /* letters, digits and ._:/- */
    const char* name;          /* optional: what the host shows */
    const char* schema;        /* optional: JSON Schema of a block's data */
    const char* template_html; /* the renderer: a template ({{field}}, {{a.b}}) ... */
    const char* export_name;   /* ... or an export that gets the data and outputs the block */
    const char* format;        /* optional: "html" (default) or "json", for an export */
} kiln_block_spec_t;

static inline void kiln__emit_block(kiln__writer* w, const void* ctx) {
    const kiln_block_spec_t* s = (const kiln_block_spec_t*)ctx;
    bool first = true;
    kiln__put(w, '{');
    kiln__put_field(w, &first, "id", s->id, false);
    kiln__put_field(w, &first, "name", s->name, false);
    kiln__put_field(w, &first, "schema", s->schema, true);
    kiln__put_field(w, &first, "template", s->template_html, false);
    kiln__put_field(w, &first, "export", s->export_name, false);
    kiln__put_field(w, &first, "format", s->format, false);
    kiln__put(w, '}');
}

/* Registers a UI block type (permission `ui`). */
static inline bool kiln_block_register(const kiln_block_spec_t* spec) {
    uint64_t len = 0;
    kiln_handle_t h = kiln__build(kiln__emit_block, spec, &len);
    return h && kiln_v1_block_register(h) == 0;
}

/* ---- Reading JSON inputs --------------------------------------------------------------------
 * Enough JSON to take the lifecycle exports' inputs apart without a library: values are found
 * as slices of the input text. */

static inline size_t kiln__json_ws(const char* s, size_t len, size_t i) {
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The end of the JSON value starting at s[i], or len + 1 when it is malformed. Nesting is
 * counted, strings (with escapes) are skipped whole. */
static inline size_t kiln__json_skip(const char* s, size_t len, size_t i) {
    size_t depth = 0;
    do {
        if (i >= len) return len + 1;
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            if (i >= len) return len + 1;
            i++;
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return len + 1;
            depth--;
            i++;
        } else if (depth > 0 &&
                   (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            i++;
        } else {
            /* A number or a literal: up to the next delimiter. */
            size_t start = i;
            while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
                   s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != ':')
                i++;
            if (i == start) return len + 1;
        }
    } while (depth > 0);
    return i;
}

/* The value of `key` in the JSON object `json` (its text, e.g. "\"a\"", "{...}", "3"), with its
 * length in *value_len; NULL when the object has no such key or is not an object. Keys are
 * compared as written, so look up keys without escapes. */
static inline const char* kiln_json_field(const char* json, size_t len, const char* key,
                                          size_t* value_len) {
    size_t klen = kiln_strlen(key);
    size_t i = kiln__json_ws(json, len, 0);
    if (i >= len || json[i] != '{') return 0;
    i = kiln__json_ws(json, len, i + 1);
    if (i < len && json[i] == '}') return 0;
    while (i < len && json[i] == '"') {
        size_t kstart = i + 1;
        size_t kend = kiln__json_skip(json, len, i);
        if (kend > len) return 0;
        bool match = kend - 1 - kstart == klen;
        for (size_t k = 0; match && k < klen; k++)
            match = json[kstart + k] == key[k];
        i = kiln__json_ws(json, len, kend);
        if (i >= len || json[i] != ':') return 0;
        i = kiln__json_ws(json, len, i + 1);
        size_t vend = kiln__json_skip(json, len, i);
        if (vend > len) return 0;
        if (match) {
            *value_len = vend - i;
            return json + i;
        }
        i = kiln__json_ws(json, len, vend);
        if (i >= len || json[i] != ',') return 0;
        i = kiln__json_ws(json, len, i + 1);
    }
    return 0;
}

static inline int kiln__hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the JSON string `value` (with its quotes, as kiln_json_field gives it) into buf as
 * UTF-8 with a NUL, at most cap - 1 bytes; returns the decoded length (above cap - 1: cut
 * short), or -1 when it is not a well-formed string. */
static inline int64_t kiln_json_string(const char* value, size_t len, char* buf, size_t cap) {
    if (len < 2 || value[0] != '"' || value[len - 1] != '"') return -1;
    uint64_t n = 0;
#define KILN__OUT(byte)                                                                            \
    do {                                                                                           \
        if (n + 1 < cap) buf[n] = (char)(byte);                                                    \
        n++;                                                                                       \
    } while (0)
    for (size_t i = 1; i + 1 < len; i++) {
        char c = value[i];
        if (c != '\\') {
            KILN__OUT(c);
            continue;
        }
        if (++i + 1 >= len) return -1;
        uint32_t cp;
        switch (value[i]) {
        case '"': KILN__OUT('"'); continue;
        case '\\': KILN__OUT('\\'); continue;
        case '/': KILN__OUT('/'); continue;
        case 'b': KILN__OUT('\b'); continue;
        case 'f': KILN__OUT('\f'); continue;
        case 'n': KILN__OUT('\n'); continue;
        case 'r': KILN__OUT('\r'); continue;
        case 't': KILN__OUT('\t'); continue;
        case 'u': break;
        default: return -1;
        }
        if (i + 5 > len - 1) return -1;
        cp = 0;
        for (size_t k = 1; k <= 4; k++) {
            int h = kiln__hex(value[i + k]);
            if (h < 0) return -1;
            cp = cp * 16 + (uint32_t)h;
        }
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 7 <= len - 1 && value[i + 1] == '\\' &&
            value[i + 2] == 'u') {
            uint32_t low = 0;
            bool ok = true;
            for (size_t k = 3; k <= 6; k++) {
                int h = kiln__hex(value[i + k]);
                ok = ok && h >= 0;
                low = low * 16 + (uint32_t)(h < 0 ? 0 : h);
            }
            if (ok && low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                i += 6;
            }
        }
        if (cp < 0x80) {
            KILN__OUT(cp);
        } else if (cp < 0x800) {
            KILN__OUT(0xC0 | (cp >> 6));
            KILN__OUT(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            KILN__OUT(0xE0 | (cp >> 12));
            KILN__OUT(0x80 | ((cp >> 6) & 0x3F));
            KILN__OUT(0x80 | (cp & 0x3F));
        } else {
            KILN__OUT(0xF0 | (cp >> 18));
            KILN__OUT(0x80 | ((cp >> 12) & 0x3F));
            KILN__OUT(0x80 | ((cp >> 6) & 0x3F));
            KILN__OUT(0x80 | (cp & 0x3F));
        }
    }
#undef KILN__OUT
    if (cap > 0) buf[n < cap ? n : cap - 1] = '\0';
    return (int64_t)n;
}

/* ---- The lifecycle exports' inputs and outputs ---------------------------------------------- */

/* on_event's input {"topic", "data"}: the topic without its quotes (topics need no escapes) and
 * the data's JSON text, both slices of the input. */
typedef struct kiln_event {
    const char* topic;
    size_t topic_len;
    const char* data;
    size_t data_len;
} kiln_event_t;

/* Takes on_event's input (read by the caller) apart; false when it is not the expected shape. */
static inline bool kiln_event_parse(const char* input, size_t len, kiln_event_t* out) {
    size_t tlen = 0, dlen = 0;
    const char* t = kiln_json_field(input, len, "topic", &tlen);
    const char* d = kiln_json_field(input, len, "data", &dlen);
    if (!t || !d || tlen < 2 || t[0] != '"') return false;
    out->topic = t + 1;
    out->topic_len = tlen - 2;
    out->data = d;
    out->data_len = dlen;
    return true;
}

/* handle_command's input {"action", "payload"}: the command id without its quotes and the
 * payload's JSON text. */
typedef struct kiln_command {
    const char* action;
    size_t action_len;
    const char* payload;
    size_t payload_len;
} kiln_command_t;

static inline bool kiln_command_parse(const char* input, size_t len, kiln_command_t* out) {
    size_t alen = 0, plen = 0;
    const char* a = kiln_json_field(input, len, "action", &alen);
    const char* p = kiln_json_field(input, len, "payload", &plen);
    if (!a || alen < 2 || a[0] != '"') return false;
    out->action = a + 1;
    out->action_len = alen - 2;
    out->payload = p ? p : "null";
    out->payload_len = p ? plen : 4;
    return true;
}

/* Whether a slice (a topic, an action) equals the NUL-terminated `s`. */
static inline bool kiln_slice_is(const char* slice, size_t len, const char* s) {
    size_t n = kiln_strlen(s);
    if (n != len) return false;
    for (size_t i = 0; i < n; i++)
        if (slice[i] != s[i]) return false;
    return true;
}

typedef struct kiln__answer {
    const char* data;
    size_t data_len;
    const char* error;
} kiln__answer;

static inline void kiln__emit_answer(kiln__writer* w, const void* ctx) {
    const kiln__answer* a = (const kiln__answer*)ctx;
    if (a->error) {
        kiln__put_raw(w, "{\"ok\":false,\"error\":");
        kiln__put_json(w, a->error);
    } else {
        kiln__put_raw(w, "{\"ok\":true");
        if (a->data) {
            kiln__put_raw(w, ",\"data\":");
            kiln__put_n(w, a->data, a->data_len);
        }
    }
    kiln__put(w, '}');
}

/* Outputs handle_command's answer {"ok": true, "data": DATA} (data: JSON text, or NULL for
 * none); returns 0 for `return kiln_command_ok(...)`, 1 when out of memory. */
static inline int32_t kiln_command_ok_n(const char* data_json, size_t len) {
    kiln__answer a;
    a.data = data_json;
    a.data_len = len;
    a.error = 0;
    uint64_t n = 0;
    kiln_handle_t h = kiln__build(kiln__emit_answer, &a, &n);
    if (!h) return 1;
    kiln_env_output_set(h, n);
    return 0;
}
static inline int32_t kiln_command_ok(const char* data_json) {
    return kiln_command_ok_n(data_json, data_json ? kiln_strlen(data_json) : 0);
}
/* Outputs {"ok": false, "error": MESSAGE}: the command failed, the call itself did not. */
static inline int32_t kiln_command_error(const char* message) {
    kiln__answer a;
    a.data = 0;
    a.data_len = 0;
    a.error = message;
    uint64_t n = 0;
    kiln_handle_t h = kiln__build(kiln__emit_answer, &a, &n);
    if (!h) return 1;
    kiln_env_output_set(h, n);
    return 0;
}

#ifdef __cplusplus
} /* extern "C" */

/* ---- C++ ------------------------------------------------------------------------------------- */
#ifdef KILN_PDK_HAVE_STD

namespace kiln {
namespace pdk {

/* Why the last kiln:host/v1 function failed; empty when it did not. */
inline std::string host_error() {
    Memory m(kiln_v1_last_error());
    return m.to_string();
}
inline bool publish(std::string_view topic, std::string_view data_json) {
    return kiln_event_publish_n(topic.data(), topic.size(), data_json.data(), data_json.size());
}
inline bool subscribe(const std::string& pattern) {
    return kiln_event_subscribe(pattern.c_str());
}
inline bool unsubscribe(const std::string& pattern) {
    return kiln_event_unsubscribe(pattern.c_str());
}

/* on_event's input, parsed: the topic and the data's JSON text. */
struct EventInput {
    std::string topic;
    std::string data;
};
inline std::optional<EventInput> event_input() {
    std::string in = input();
    kiln_event_t e;
    if (!kiln_event_parse(in.data(), in.size(), &e)) return std::nullopt;
    return EventInput{std::string(e.topic, e.topic_len), std::string(e.data, e.data_len)};
}

/* handle_command's input, parsed: the command id and the payload's JSON text. */
struct CommandInput {
    std::string action;
    std::string payload;
};
inline std::optional<CommandInput> command_input() {
    std::string in = input();
    kiln_command_t c;
    if (!kiln_command_parse(in.data(), in.size(), &c)) return std::nullopt;
    return CommandInput{std::string(c.action, c.action_len), std::string(c.payload, c.payload_len)};
}
inline int32_t command_ok(std::string_view data_json) {
    return kiln_command_ok_n(data_json.data(), data_json.size());
}

} // namespace pdk
} // namespace kiln

#endif /* KILN_PDK_HAVE_STD */
#endif /* __cplusplus */

#endif /* KILN_DISPATCH_H */
