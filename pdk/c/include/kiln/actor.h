/* Kiln actor kit for C and C++: dataflow actors in Reflow's actor ABI, on top of kiln/pdk.h.
 * An actor exports `get_metadata` (its ports) and `process`, which gets one message on one
 * in-port with the node's config and state, sends messages on out-ports and may replace the
 * state. Header-only and freestanding like pdk.h: no libc, no heap; the input and the result are
 * held in static buffers of KILN_ACTOR_INPUT_MAX and KILN_ACTOR_RESULT_MAX bytes (define them
 * before the include to change them). See docs/actors.md.
 *
 *   static const kiln_actor_port_t ins[] = {{"in", "Integer", "a number", true}};
 *   static const kiln_actor_port_t outs[] = {{"out", "Integer", "twice the number", false}};
 *   static const kiln_actor_metadata_t meta = {"Doubler", "doubles", ins, 1, outs, 1, 0};
 *   KILN_ACTOR_METADATA(meta)
 *   static int32_t doubler(const kiln_actor_context_t* ctx, kiln_actor_result_t* res) {
 *       int64_t v;
 *       if (!kiln_json_to_i64(ctx->message.data, &v)) return kiln_fail("not an integer");
 *       kiln_actor_output_i64(res, "out", 2 * v);
 *       return 0;
 *   }
 *   KILN_ACTOR_PROCESS(doubler)
 *
 * JSON is read in place: a kiln_json_t is the text of one value inside the input, and the
 * accessors below find members, elements, numbers and strings in it without copying. */
#ifndef KILN_ACTOR_H
#define KILN_ACTOR_H

#include <kiln/pdk.h>

#ifndef KILN_ACTOR_INPUT_MAX
#define KILN_ACTOR_INPUT_MAX 65536
#endif
#ifndef KILN_ACTOR_RESULT_MAX
#define KILN_ACTOR_RESULT_MAX 32768
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The ABI's host functions (extism:host/user) ------------------------------------------ */

/* Sends {port: plain JSON value, ...} at once, before process returns. */
KILN_HOST_USER_FN("__send_output") void kiln_actor_host_send_output(kiln_handle_t json);
/* The JSON of the state's key (a block holding null when absent). */
KILN_HOST_USER_FN("__get_state") kiln_handle_t kiln_actor_host_get_state(kiln_handle_t key);
/* Sets the state's key to a JSON value. */
KILN_HOST_USER_FN("__set_state")
void kiln_actor_host_set_state(kiln_handle_t key, kiln_handle_t value_json);

/* ---- JSON values, read in place ------------------------------------------------------------ */

/* The text of one JSON value; len 0 means absent. */
typedef struct kiln_json {
    const char* text;
    size_t len;
} kiln_json_t;

/* A JSON value from a NUL-terminated text, e.g. kiln_json_str("{\"a\":1}"). */
static inline kiln_json_t kiln_json_str(const char* text) {
    kiln_json_t v;
    v.text = text;
    v.len = kiln_strlen(text);
    return v;
}

static inline bool kiln__json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline size_t kiln__json_skip_space(const char* s, size_t n, size_t i) {
    while (i < n && kiln__json_space(s[i]))
        i++;
    return i;
}

/* The index just past the string whose opening quote is at i; 0 when it does not end. */
static inline size_t kiln__json_string_end(const char* s, size_t n, size_t i) {
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The index just past the value starting at i; 0 when it is malformed or cut short. */
static inline size_t kiln__json_value_end(const char* s, size_t n, size_t i) {
    if (i >= n) return 0;
    if (s[i] == '"') return kiln__json_string_end(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = kiln__json_string_end(s, n, i);
                if (!i) return 0;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return 0;
    }
    size_t start = i;
    while (i < n && !kiln__json_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']')
        i++;
    return i > start ? i : 0;
}

/* The value itself without the spaces around it. */
static inline kiln_json_t kiln__json_trim(kiln_json_t v) {
    size_t i = kiln__json_skip_space(v.text, v.len, 0);
    while (v.len > i && kiln__json_space(v.text[v.len - 1]))
        v.len--;
    v.text += i;
    v.len -= i;
    return v;
}

/* Walks an object's members or an array's elements: start with *cursor = 0; each call gives the
 * next one (`key` is the member's name as a JSON string, absent for arrays). False at the end or
 * on malformed text. */
static inline bool kiln_json_next(kiln_json_t container, size_t* cursor, kiln_json_t* key,
                                  kiln_json_t* value) {
    container = kiln__json_trim(container);
    const char* s = container.text;
    size_t n = container.len;
    if (n < 2 || (s[0] != '{' && s[0] != '[')) return false;
    bool object = s[0] == '{';
    size_t i = kiln__json_skip_space(s, n, *cursor == 0 ? 1 : *cursor);
    if (i >= n || s[i] == '}' || s[i] == ']') return false;
    if (object) {
        if (s[i] != '"') return false;
        size_t key_end = kiln__json_string_end(s, n, i);
        if (!key_end) return false;
        if (key) {
            key->text = s + i;
            key->len = key_end - i;
        }
        i = kiln__json_skip_space(s, n, key_end);
        if (i >= n || s[i] != ':') return false;
        i = kiln__json_skip_space(s, n, i + 1);
    } else if (key) {
        key->text = s;
        key->len = 0;
    }
    size_t end = kiln__json_value_end(s, n, i);
    if (!end) return false;
    if (value) {
        value->text = s + i;
        value->len = end - i;
    }
    i = kiln__json_skip_space(s, n, end);
    if (i < n && s[i] == ',') i++;
    *cursor = i;
    return true;
}

/* Decodes the character of a JSON string at *i (its contents, past the opening quote) into
 * UTF-8 in out; returns its length, 0 at the closing quote or on a bad escape. */
static inline size_t kiln__json_char(const char* s, size_t n, size_t* i, unsigned char out[4]) {
    if (*i >= n || s[*i] == '"') return 0;
    unsigned char c = (unsigned char)s[(*i)++];
    if (c != '\\') {
        out[0] = c;
        return 1;
    }
    if (*i >= n) return 0;
    char e = s[(*i)++];
    switch (e) {
    case 'n': out[0] = '\n'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case '"':
    case '\\':
    case '/': out[0] = (unsigned char)e; return 1;
    case 'u': break;
    default: return 0;
    }
    uint32_t cp = 0;
    for (int k = 0; k < 4; k++) {
        if (*i >= n) return 0;
        char h = s[(*i)++];
        uint32_t d = h >= '0' && h <= '9'   ? (uint32_t)(h - '0')
                     : h >= 'a' && h <= 'f' ? (uint32_t)(h - 'a' + 10)
                     : h >= 'A' && h <= 'F' ? (uint32_t)(h - 'A' + 10)
                                            : 16;
        if (d == 16) return 0;
        cp = cp * 16 + d;
    }
    /* A surrogate pair is two escapes. */
    if (cp >= 0xD800 && cp < 0xDC00 && *i + 6 <= n && s[*i] == '\\' && s[*i + 1] == 'u') {
        size_t j = *i + 2;
        uint32_t lo = 0;
        for (int k = 0; k < 4; k++) {
            char h = s[j++];
            uint32_t d = h >= '0' && h <= '9'   ? (uint32_t)(h - '0')
                         : h >= 'a' && h <= 'f' ? (uint32_t)(h - 'a' + 10)
                         : h >= 'A' && h <= 'F' ? (uint32_t)(h - 'A' + 10)
                                                : 16;
            if (d == 16) return 0;
            lo = lo * 16 + d;
        }
        if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *i = j;
        }
    }
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Like snprintf: the string's contents, unescaped, in buf (at most cap - 1 bytes and a NUL);
 * returns the whole length, or -1 when the value is no string. */
static inline int64_t kiln_json_to_string(kiln_json_t v, char* buf, size_t cap) {
    v = kiln__json_trim(v);
    if (v.len < 2 || v.text[0] != '"') return -1;
    size_t i = 1, len = 0, end = v.len - 1;
    unsigned char ch[4];
    size_t k;
    while ((k = kiln__json_char(v.text, end, &i, ch)) > 0) {
        for (size_t j = 0; j < k; j++, len++)
            if (cap > 0 && len < cap - 1) buf[len] = (char)ch[j];
    }
    if (i != end) return -1;
    if (cap > 0) buf[len < cap - 1 ? len : cap - 1] = '\0';
    return (int64_t)len;
}

/* True when v is a JSON string equal to s. */
static inline bool kiln_json_string_is(kiln_json_t v, const char* s) {
    v = kiln__json_trim(v);
    if (v.len < 2 || v.text[0] != '"') return false;
    size_t i = 1, at = 0, end = v.len - 1;
    unsigned char ch[4];
    size_t k;
    while ((k = kiln__json_char(v.text, end, &i, ch)) > 0)
        for (size_t j = 0; j < k; j++)
            if (s[at++] != (char)ch[j]) return false;
    return i == end && s[at] == '\0';
}

/* The member `key` of an object. */
static inline bool kiln_json_get(kiln_json_t object, const char* key, kiln_json_t* out) {
    size_t cursor = 0;
    kiln_json_t k, v;
    while (kiln_json_next(object, &cursor, &k, &v))
        if (k.len && kiln_json_string_is(k, key)) {
            *out = v;
            return true;
        }
    return false;
}

/* The element at `index` of an array. */
static inline bool kiln_json_at(kiln_json_t array, size_t index, kiln_json_t* out) {
    size_t cursor = 0;
    kiln_json_t v;
    for (size_t at = 0; kiln_json_next(array, &cursor, 0, &v); at++)
        if (at == index) {
            *out = v;
            return true;
        }
    return false;
}

static inline bool kiln_json_is_null(kiln_json_t v) {
    v = kiln__json_trim(v);
    return v.len == 4 && v.text[0] == 'n' && v.text[1] == 'u' && v.text[2] == 'l' &&
           v.text[3] == 'l';
}

/* A JSON integer (no fraction or exponent) that fits in i64. */
static inline bool kiln_json_to_i64(kiln_json_t v, int64_t* out) {
    v = kiln__json_trim(v);
    return v.len > 0 && kiln_parse_i64(v.text, v.len, out) && v.text[0] != '+';
}

static inline bool kiln_json_to_bool(kiln_json_t v, bool* out) {
    v = kiln__json_trim(v);
    if (v.len == 4 && v.text[0] == 't') {
        *out = true;
        return true;
    }
    if (v.len == 5 && v.text[0] == 'f') {
        *out = false;
        return true;
    }
    return false;
}

/* ---- Messages ------------------------------------------------------------------------------- */

typedef enum kiln_msg_kind {
    KILN_MSG_FLOW,
    KILN_MSG_EVENT,
    KILN_MSG_BOOLEAN,
    KILN_MSG_INTEGER,
    KILN_MSG_FLOAT,
    KILN_MSG_STRING,
    KILN_MSG_OBJECT,
    KILN_MSG_ARRAY,
    KILN_MSG_STREAM,
    KILN_MSG_OPTIONAL,
    KILN_MSG_ANY,
    KILN_MSG_ERROR,
    KILN_MSG_UNKNOWN,
} kiln_msg_kind_t;

/* "Flow", "Event", ... as the tagged form names the kind. */
static inline const char* kiln_msg_kind_name(kiln_msg_kind_t kind) {
    static const char* const names[] = {"Flow",   "Event", "Boolean", "Integer",  "Float", "String",
                                        "Object", "Array", "Stream",  "Optional", "Any",   "Error"};
    return kind < KILN_MSG_UNKNOWN ? names[kind] : "Unknown";
}

/* A message: its kind and its data as JSON (absent for Flow). */
typedef struct kiln_msg {
    kiln_msg_kind_t kind;
    kiln_json_t data;
} kiln_msg_t;

/* Reads a tagged message {"type": KIND, "data": VALUE}. */
static inline kiln_msg_t kiln_msg_parse(kiln_json_t tagged) {
    kiln_msg_t m;
    kiln_json_t type;
    m.kind = KILN_MSG_UNKNOWN;
    m.data.text = "";
    m.data.len = 0;
    if (!kiln_json_get(tagged, "type", &type)) return m;
    for (int k = KILN_MSG_FLOW; k < KILN_MSG_UNKNOWN; k++)
        if (kiln_json_string_is(type, kiln_msg_kind_name((kiln_msg_kind_t)k)))
            m.kind = (kiln_msg_kind_t)k;
    kiln_json_get(tagged, "data", &m.data);
    return m;
}

/* ---- Writing JSON into a fixed buffer ------------------------------------------------------ */

/* A buffer of cap bytes; len counts every byte put, so len > cap means it did not fit. */
typedef struct kiln_json_buf {
    char* data;
    size_t cap;
    size_t len;
    size_t count; /* members written so far */
} kiln_json_buf_t;

static inline void kiln__buf_put(kiln_json_buf_t* b, const char* s, size_t n) {
    for (size_t i = 0; i < n; i++, b->len++)
        if (b->len < b->cap) b->data[b->len] = s[i];
}
static inline void kiln__buf_puts(kiln_json_buf_t* b, const char* s) {
    kiln__buf_put(b, s, kiln_strlen(s));
}
/* A JSON string literal of a NUL-terminated text. */
static inline void kiln__buf_string(kiln_json_buf_t* b, const char* s) {
    static const char hex[] = "0123456789abcdef";
    kiln__buf_put(b, "\"", 1);
    for (const unsigned char* p = (const unsigned char*)s; *p; p++) {
        char c = (char)*p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', c};
            kiln__buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            kiln__buf_put(b, esc, 6);
        } else {
            kiln__buf_put(b, &c, 1);
        }
    }
    kiln__buf_put(b, "\"", 1);
}
static inline void kiln__buf_i64(kiln_json_buf_t* b, int64_t v) {
    char text[KILN_DEC_SIZE];
    kiln__buf_put(b, text, kiln_fmt_i64(v, text));
}
/* `"key":` after a comma when needed. */
static inline void kiln__buf_key(kiln_json_buf_t* b, const char* key) {
    if (b->count++) kiln__buf_put(b, ",", 1);
    kiln__buf_string(b, key);
    kiln__buf_put(b, ":", 1);
}

/* ---- The result of process ----------------------------------------------------------------- */

/* What process sends when it returns: messages by out-port, and the state when it replaces it. */
typedef struct kiln_actor_result {
    kiln_json_buf_t outputs; /* members of the outputs object */
    kiln_json_buf_t state;   /* members of the new state */
    bool replace_state;      /* false: the state is kept as it is ("state": null) */
} kiln_actor_result_t;

/* A message (kind and data as JSON text) on an out-port. One message per port per call. */
static inline void kiln_actor_output(kiln_actor_result_t* r, const char* port, kiln_msg_kind_t kind,
                                     kiln_json_t data) {
    kiln__buf_key(&r->outputs, port);
    kiln__buf_puts(&r->outputs, "{\"type\":\"");
    kiln__buf_puts(&r->outputs, kiln_msg_kind_name(kind));
    kiln__buf_puts(&r->outputs, "\",\"data\":");
    if (data.len)
        kiln__buf_put(&r->outputs, data.text, data.len);
    else
        kiln__buf_puts(&r->outputs, "null");
    kiln__buf_puts(&r->outputs, "}");
}
static inline void kiln_actor_output_i64(kiln_actor_result_t* r, const char* port, int64_t v) {
    char text[KILN_DEC_SIZE];
    kiln_json_t data;
    data.text = text;
    data.len = kiln_fmt_i64(v, text);
    kiln_actor_output(r, port, KILN_MSG_INTEGER, data);
}
static inline void kiln_actor_output_bool(kiln_actor_result_t* r, const char* port, bool v) {
    kiln_actor_output(r, port, KILN_MSG_BOOLEAN, kiln_json_str(v ? "true" : "false"));
}
static inline void kiln_actor_output_flow(kiln_actor_result_t* r, const char* port) {
    kiln_actor_output(r, port, KILN_MSG_FLOW, kiln_json_str("null"));
}
/* A String (or, with KILN_MSG_ERROR, an Error) message of a NUL-terminated text. */
static inline void kiln_actor_output_text(kiln_actor_result_t* r, const char* port,
                                          kiln_msg_kind_t kind, const char* text) {
    kiln__buf_key(&r->outputs, port);
    kiln__buf_puts(&r->outputs, "{\"type\":\"");
    kiln__buf_puts(&r->outputs, kiln_msg_kind_name(kind));
    kiln__buf_puts(&r->outputs, "\",\"data\":");
    kiln__buf_string(&r->outputs, text);
    kiln__buf_puts(&r->outputs, "}");
}
static inline void kiln_actor_output_string(kiln_actor_result_t* r, const char* port,
                                            const char* text) {
    kiln_actor_output_text(r, port, KILN_MSG_STRING, text);
}
/* A message already tagged ({"type", "data"}), passed on as it is. */
static inline void kiln_actor_output_tagged(kiln_actor_result_t* r, const char* port,
                                            kiln_json_t tagged) {
    kiln__buf_key(&r->outputs, port);
    kiln__buf_put(&r->outputs, tagged.text, tagged.len);
}

/* Replaces the node's whole state with the keys set by kiln_actor_state_* (none: empty). */
static inline void kiln_actor_replace_state(kiln_actor_result_t* r) {
    r->replace_state = true;
}
static inline void kiln_actor_state_json(kiln_actor_result_t* r, const char* key,
                                         kiln_json_t value) {
    r->replace_state = true;
    kiln__buf_key(&r->state, key);
    kiln__buf_put(&r->state, value.text, value.len);
}
static inline void kiln_actor_state_i64(kiln_actor_result_t* r, const char* key, int64_t v) {
    r->replace_state = true;
    kiln__buf_key(&r->state, key);
    kiln__buf_i64(&r->state, v);
}
static inline void kiln_actor_state_string(kiln_actor_result_t* r, const char* key,
                                           const char* text) {
    r->replace_state = true;
    kiln__buf_key(&r->state, key);
    kiln__buf_string(&r->state, text);
}

/* ---- The context of process ----------------------------------------------------------------- */

/* What process gets. Every kiln_json_t points into the input, valid during the call. */
typedef struct kiln_actor_context {
    kiln_json_t input;   /* the whole ActorContext */
    kiln_json_t port;    /* the in-port the message came to, a JSON string */
    kiln_msg_t message;  /* the message */
    kiln_json_t node_id; /* a JSON string */
    kiln_json_t config;  /* the node's config object */
    kiln_json_t env;     /* its resolved environment variables, an object of strings */
    kiln_json_t state;   /* the node's state when the call started, an object */
} kiln_actor_context_t;

/* True when the message came to in-port `port`. */
static inline bool kiln_actor_port_is(const kiln_actor_context_t* ctx, const char* port) {
    return kiln_json_string_is(ctx->port, port);
}

/* A key of the state as it was when the call started. */
static inline bool kiln_actor_state_at_start(const kiln_actor_context_t* ctx, const char* key,
                                             kiln_json_t* out) {
    return kiln_json_get(ctx->state, key, out) && !kiln_json_is_null(*out);
}

/* ---- Sending and state during the call (host functions) ------------------------------------ */

/* Sends {port: value} at once (value is plain JSON, converted by its type: a whole number is an
 * Integer, a string a String, ...). False when kernel memory ran out or the port name is longer
 * than 1000 bytes. */
static inline bool kiln_actor_send(const char* port, kiln_json_t value) {
    static char head[1024];
    kiln_json_buf_t b;
    b.data = head;
    b.cap = sizeof head;
    b.len = 0;
    b.count = 0;
    kiln__buf_put(&b, "{", 1);
    kiln__buf_string(&b, port);
    kiln__buf_put(&b, ":", 1);
    if (b.len > b.cap) return false;
    kiln_handle_t h = kiln_env_alloc(b.len + value.len + 1);
    if (!h) return false;
    kiln_mem_store(h, 0, head, b.len);
    kiln_mem_store(h, b.len, value.text, value.len);
    kiln_mem_store(h, b.len + value.len, "}", 1);
    kiln_actor_host_send_output(h);
    kiln_env_free(h);
    return true;
}
static inline bool kiln_actor_send_i64(const char* port, int64_t v) {
    char text[KILN_DEC_SIZE];
    kiln_json_t value;
    value.text = text;
    value.len = kiln_fmt_i64(v, text);
    return kiln_actor_send(port, value);
}
/* Sends a JSON object {port: value, ...} as it is: several ports in one packet. */
static inline bool kiln_actor_send_json(kiln_json_t object) {
    kiln_handle_t h = kiln_mem_new(object.text, object.len);
    if (!h) return false;
    kiln_actor_host_send_output(h);
    kiln_env_free(h);
    return true;
}

/* The JSON text of a state key as the host holds it now (after __set_state calls), copied into
 * buf like snprintf; -1 when the key is unset (null). */
static inline int64_t kiln_actor_get_state(const char* key, char* buf, size_t cap) {
    kiln_handle_t k = kiln_mem_new_str(key);
    if (!k) return -1;
    kiln_handle_t v = kiln_actor_host_get_state(k);
    kiln_env_free(k);
    if (!v) return -1;
    uint64_t len = kiln_mem_length(v);
    char probe[4] = {0, 0, 0, 0};
    kiln_mem_load(v, 0, probe, len < 4 ? len : 4);
    if (len == 4 && probe[0] == 'n' && probe[1] == 'u' && probe[2] == 'l' && probe[3] == 'l') {
        kiln_env_free(v);
        return -1;
    }
    if (cap > 0) {
        uint64_t n = len < cap - 1 ? len : cap - 1;
        kiln_mem_load(v, 0, buf, n);
        buf[n] = '\0';
    }
    kiln_env_free(v);
    return (int64_t)len;
}
/* An integer state key; false when unset or not an integer. */
static inline bool kiln_actor_get_state_i64(const char* key, int64_t* out) {
    char text[32];
    int64_t len = kiln_actor_get_state(key, text, sizeof text);
    if (len < 0 || len >= (int64_t)sizeof text) return false;
    kiln_json_t v;
    v.text = text;
    v.len = (size_t)len;
    return kiln_json_to_i64(v, out);
}
/* Sets a state key to a JSON value at once. */
static inline bool kiln_actor_set_state(const char* key, kiln_json_t value) {
    kiln_handle_t k = kiln_mem_new_str(key);
    kiln_handle_t v = kiln_mem_new(value.text, value.len);
    if (!k || !v) {
        kiln_mem_free(k);
        kiln_mem_free(v);
        return false;
    }
    kiln_actor_host_set_state(k, v);
    kiln_env_free(k);
    kiln_env_free(v);
    return true;
}
static inline bool kiln_actor_set_state_i64(const char* key, int64_t v) {
    char text[KILN_DEC_SIZE];
    kiln_json_t value;
    value.text = text;
    value.len = kiln_fmt_i64(v, text);
    return kiln_actor_set_state(key, value);
}

/* ---- Metadata and the exports --------------------------------------------------------------- */

/* A port: its name, its type ("Integer", "String", "Any", ...), what it is, whether a graph
 * must connect it. */
typedef struct kiln_actor_port {
    const char* name;
    const char* type;
    const char* description;
    bool required;
} kiln_actor_port_t;

typedef struct kiln_actor_metadata {
    const char* component;
    const char* description;
    const kiln_actor_port_t* inports;
    size_t inport_count;
    const kiln_actor_port_t* outports;
    size_t outport_count;
    const char* config_schema; /* JSON text, or 0 */
} kiln_actor_metadata_t;

static inline void kiln__actor_ports(kiln_json_buf_t* b, const kiln_actor_port_t* ports,
                                     size_t count) {
    kiln__buf_puts(b, "[");
    for (size_t i = 0; i < count; i++) {
        if (i) kiln__buf_puts(b, ",");
        kiln__buf_puts(b, "{\"name\":");
        kiln__buf_string(b, ports[i].name);
        kiln__buf_puts(b, ",\"description\":");
        kiln__buf_string(b, ports[i].description ? ports[i].description : "");
        kiln__buf_puts(b, ",\"port_type\":");
        kiln__buf_string(b, ports[i].type ? ports[i].type : "Any");
        kiln__buf_puts(b, ports[i].required ? ",\"required\":true}" : ",\"required\":false}");
    }
    kiln__buf_puts(b, "]");
}

/* Outputs the metadata as get_metadata must. */
static inline int32_t kiln_actor_write_metadata(const kiln_actor_metadata_t* m) {
    static char text[KILN_ACTOR_RESULT_MAX];
    kiln_json_buf_t b;
    b.data = text;
    b.cap = sizeof text;
    b.len = 0;
    b.count = 0;
    kiln__buf_puts(&b, "{\"component\":");
    kiln__buf_string(&b, m->component);
    kiln__buf_puts(&b, ",\"description\":");
    kiln__buf_string(&b, m->description ? m->description : "");
    kiln__buf_puts(&b, ",\"inports\":");
    kiln__actor_ports(&b, m->inports, m->inport_count);
    kiln__buf_puts(&b, ",\"outports\":");
    kiln__actor_ports(&b, m->outports, m->outport_count);
    if (m->config_schema) {
        kiln__buf_puts(&b, ",\"config_schema\":");
        kiln__buf_puts(&b, m->config_schema);
    }
    kiln__buf_puts(&b, "}");
    if (b.len > b.cap) return kiln_fail("metadata larger than KILN_ACTOR_RESULT_MAX");
    return kiln_output_set_bytes(text, b.len) ? 0 : kiln_fail("out of kernel memory");
}

/* Reads the ActorContext, runs fn, and outputs the ActorResult. fn returns 0, or non-zero with
 * the error set (kiln_fail): the node's failure, which its error port receives. */
static inline int32_t kiln_actor_run(int32_t (*fn)(const kiln_actor_context_t*,
                                                   kiln_actor_result_t*)) {
    static char input[KILN_ACTOR_INPUT_MAX];
    static char outputs[KILN_ACTOR_RESULT_MAX];
    static char state[KILN_ACTOR_RESULT_MAX];
    uint64_t len = kiln_input_read(input, sizeof input);
    if (len > sizeof input) return kiln_fail("input larger than KILN_ACTOR_INPUT_MAX");
    kiln_actor_context_t ctx;
    kiln_json_t payload, config, cfg;
    ctx.input.text = input;
    ctx.input.len = (size_t)len;
    ctx.port.text = "";
    ctx.port.len = 0;
    ctx.message.kind = KILN_MSG_UNKNOWN;
    ctx.message.data.text = "";
    ctx.message.data.len = 0;
    ctx.node_id = ctx.port;
    ctx.config = kiln_json_str("{}");
    ctx.env = kiln_json_str("{}");
    ctx.state = kiln_json_str("{}");
    /* One pass over the members of the context and of its config: the text is scanned once. */
    bool has_payload = false;
    size_t cursor = 0, inner;
    kiln_json_t key, value, tagged;
    while (kiln_json_next(ctx.input, &cursor, &key, &value)) {
        if (kiln_json_string_is(key, "payload")) {
            payload = value;
            has_payload = true;
        } else if (kiln_json_string_is(key, "state")) {
            if (!kiln_json_is_null(value)) ctx.state = value;
        } else if (kiln_json_string_is(key, "config")) {
            config = value;
            for (inner = 0; kiln_json_next(config, &inner, &key, &cfg);) {
                if (kiln_json_is_null(cfg)) continue;
                if (kiln_json_string_is(key, "node_id"))
                    ctx.node_id = cfg;
                else if (kiln_json_string_is(key, "config"))
                    ctx.config = cfg;
                else if (kiln_json_string_is(key, "resolved_env"))
                    ctx.env = cfg;
            }
        }
    }
    if (!has_payload) return kiln_fail("input: not an ActorContext (no payload)");
    inner = 0;
    if (kiln_json_next(payload, &inner, &ctx.port, &tagged)) ctx.message = kiln_msg_parse(tagged);

    kiln_actor_result_t result;
    result.outputs.data = outputs;
    result.outputs.cap = sizeof outputs;
    result.outputs.len = result.outputs.count = 0;
    result.state.data = state;
    result.state.cap = sizeof state;
    result.state.len = result.state.count = 0;
    result.replace_state = false;
    int32_t rc = fn(&ctx, &result);
    if (rc != 0) return rc;
    if (result.outputs.len > result.outputs.cap || result.state.len > result.state.cap)
        return kiln_fail("result larger than KILN_ACTOR_RESULT_MAX");
    uint64_t total =
        12 + result.outputs.len + 10 + (result.replace_state ? result.state.len + 2 : 4) + 1;
    kiln_handle_t out = kiln_env_alloc(total);
    if (!out) return kiln_fail("out of kernel memory");
    uint64_t at = 0;
    kiln_mem_store(out, at, "{\"outputs\":{", 12);
    at += 12;
    kiln_mem_store(out, at, outputs, result.outputs.len);
    at += result.outputs.len;
    kiln_mem_store(out, at, "},\"state\":", 10);
    at += 10;
    if (result.replace_state) {
        kiln_mem_store(out, at, "{", 1);
        kiln_mem_store(out, at + 1, state, result.state.len);
        kiln_mem_store(out, at + 1 + result.state.len, "}", 1);
        at += result.state.len + 2;
    } else {
        kiln_mem_store(out, at, "null", 4);
        at += 4;
    }
    kiln_mem_store(out, at, "}", 1);
    kiln_output_set_block(out, at + 1);
    return 0;
}

/* Exports get_metadata outputting the kiln_actor_metadata_t `meta`. */
#define KILN_ACTOR_METADATA(meta)                                                                  \
    KILN_EXPORT(get_metadata) {                                                                    \
        return kiln_actor_write_metadata(&(meta));                                                 \
    }

/* Exports process running `fn` (int32_t fn(const kiln_actor_context_t*, kiln_actor_result_t*)). */
#define KILN_ACTOR_PROCESS(fn)                                                                     \
    KILN_EXPORT(process) {                                                                         \
        return kiln_actor_run(fn);                                                                 \
    }

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_ACTOR_H */
