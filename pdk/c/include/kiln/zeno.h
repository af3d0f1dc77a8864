/* Kiln plugin kit for C: ZenoEngine-ABI plugins (docs/hostfns.md, "ZenoEngine plugins"), which
 * Kiln runs as ZenoEngine does. The env.host_* imports with typed wrappers, the `alloc` export,
 * NUL-terminated JSON answers, and plugin_execute taking the request apart:
 *
 *   static const char* greet(const kiln_zeno_request_t* req) {
 *       char name[64];
 *       if (!kiln_zeno_param_string(req, "name", name, sizeof name))
 *           return kiln_zeno_error("name is required");
 *       return kiln_zeno_ok("{\"message\":\"hi\"}");
 *   }
 *   static const char* execute(const kiln_zeno_request_t* req) {
 *       if (kiln_zeno_slot_is(req, "x.greet")) return greet(req);
 *       return kiln_zeno_error("Unknown slot");
 *   }
 *   KILN_ZENO_PLUGIN("{\"name\":\"x\",\"version\":\"1.0.0\"}",
 *                    "[{\"name\":\"x.greet\",\"description\":\"Greets\",\"inputs\":{}}]", execute)
 *
 * Memory: with a libc (wasm32-wasi), `alloc` is malloc; plugin_execute frees the slot name and
 * the request after the handler, an answer is freed when the next one is made, and the host
 * functions' answers are the plugin's to kiln_zeno_free(). Freestanding (no libc), `alloc` is a
 * bump arena above __heap_base that starts again at the next call's first allocation: memory
 * from kiln_zeno_alloc lasts until the current call's answer has been read. Needs kiln/dispatch.h
 * only for its JSON readers; no Extism import is linked unless the plugin calls one. */
#ifndef KILN_ZENO_H
#define KILN_ZENO_H

#include <kiln/dispatch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The raw imports (module "env") --------------------------------------------------------
 * Strings are (pointer, length) without a NUL. Answers are written by the host through `alloc`
 * with a NUL after them; 0 when the plugin's alloc gave no room. */

#define KILN_ZENO_FN(name) KILN_HOST_FN("env", name)

KILN_ZENO_FN("host_log")
void kiln_zeno_host_log(const char* level, int32_t level_len, const char* msg, int32_t msg_len);
KILN_ZENO_FN("host_db_query") char* kiln_zeno_host_db_query(const char* req, int32_t len);
KILN_ZENO_FN("host_http_request") char* kiln_zeno_host_http_request(const char* req, int32_t len);
KILN_ZENO_FN("host_scope_get") char* kiln_zeno_host_scope_get(const char* key, int32_t len);
KILN_ZENO_FN("host_scope_set") int32_t kiln_zeno_host_scope_set(const char* req, int32_t len);
KILN_ZENO_FN("host_file_read") char* kiln_zeno_host_file_read(const char* path, int32_t len);
KILN_ZENO_FN("host_file_write") int32_t kiln_zeno_host_file_write(const char* req, int32_t len);
KILN_ZENO_FN("host_env_get") char* kiln_zeno_host_env_get(const char* key, int32_t len);

/* ---- Memory ---------------------------------------------------------------------------------- */

#ifdef KILN_PDK_HAVE_LIBC

static inline void* kiln_zeno_alloc(size_t size) {
    return malloc(size ? size : 1);
}
static inline void kiln_zeno_free(void* p) {
    free(p);
}
/* Called by the alloc export: nothing to do with malloc. */
static inline void kiln__zeno_next_call(void) {}

#else

extern unsigned char __heap_base;
static uintptr_t kiln__zeno_top; /* the arena's next free byte; 0 before the first allocation */
static bool kiln__zeno_answered; /* plugin_execute returned: the next call starts the arena over */

/* size bytes (8-aligned) from the arena, growing memory as needed; NULL when it cannot grow. */
static inline void* kiln_zeno_alloc(size_t size) {
    uintptr_t base = ((uintptr_t)&__heap_base + 7) & ~(uintptr_t)7;
    if (!kiln__zeno_top) kiln__zeno_top = base;
    size_t rounded = (size + 7) & ~(size_t)7;
    if (rounded < size || rounded > SIZE_MAX - kiln__zeno_top) return 0;
    uintptr_t end = kiln__zeno_top + (rounded ? rounded : 8);
    size_t have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
        return 0;
    void* p = (void*)kiln__zeno_top;
    kiln__zeno_top = end;
    return p;
}
/* Arena memory goes back all at once, at the next call. */
static inline void kiln_zeno_free(void* p) {
    (void)p;
}
static inline void kiln__zeno_next_call(void) {
    if (!kiln__zeno_answered) return;
    kiln__zeno_answered = false;
    kiln__zeno_top = 0;
}

#endif

/* ---- Host functions -------------------------------------------------------------------------- */

/* A line in the host's log at a level ("debug", "info", "warn", "error"; others are info). */
static inline void kiln_zeno_log(const char* level, const char* message) {
    kiln_zeno_host_log(level, (int32_t)kiln_strlen(level), message, (int32_t)kiln_strlen(message));
}

/* Each answers the host's JSON {"success", "data"?, "error"?} (NUL-terminated, the plugin's to
 * kiln_zeno_free), or NULL when the plugin's alloc gave no room. */

/* {"connection", "sql", "params"} -> data {"rows": [...]} (permission database: [NAME]). */
static inline char* kiln_zeno_db_query(const char* request_json) {
    return kiln_zeno_host_db_query(request_json, (int32_t)kiln_strlen(request_json));
}
/* {"method", "url", "headers", "body"} -> data {"status", "body", "headers"} (network). */
static inline char* kiln_zeno_http_request(const char* request_json) {
    return kiln_zeno_host_http_request(request_json, (int32_t)kiln_strlen(request_json));
}
/* The scope's `key` -> data {"value"} (permission scope: read). */
static inline char* kiln_zeno_scope_get(const char* key) {
    return kiln_zeno_host_scope_get(key, (int32_t)kiln_strlen(key));
}
/* The file at `path` -> data {"content"} (permission filesystem). */
static inline char* kiln_zeno_file_read(const char* path) {
    return kiln_zeno_host_file_read(path, (int32_t)kiln_strlen(path));
}
/* The variable's value, raw (not JSON); "" when unset or denied. */
static inline char* kiln_zeno_env_get(const char* name) {
    return kiln_zeno_host_env_get(name, (int32_t)kiln_strlen(name));
}

/* Writes `s` as a JSON string literal at out + at (or only counts, when out is NULL); returns
 * the position after it. */
static inline size_t kiln__zeno_put_json(char* out, size_t at, const char* s) {
    static const char hex[] = "0123456789abcdef";
#define KILN__ZPUT(c)                                                                              \
    do {                                                                                           \
        if (out) out[at] = (char)(c);                                                              \
        at++;                                                                                      \
    } while (0)
    KILN__ZPUT('"');
    for (const unsigned char* p = (const unsigned char*)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            KILN__ZPUT('\\');
            KILN__ZPUT(*p);
        } else if (*p < 0x20) {
            KILN__ZPUT('\\');
            KILN__ZPUT('u');
            KILN__ZPUT('0');
            KILN__ZPUT('0');
            KILN__ZPUT(hex[*p >> 4]);
            KILN__ZPUT(hex[*p & 15]);
        } else {
            KILN__ZPUT(*p);
        }
    }
    KILN__ZPUT('"');
#undef KILN__ZPUT
    return at;
}

/* Writes the raw text at out + at (or counts); returns the position after it. */
static inline size_t kiln__zeno_put_raw(char* out, size_t at, const char* s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (out) out[at] = s[i];
        at++;
    }
    return at;
}

/* {"K1": "v1" (a string), "K2": v2 (JSON text)} in memory from kiln_zeno_alloc, NUL-terminated;
 * NULL when there is no room. */
static inline char* kiln__zeno_pair(const char* k1, const char* v1, const char* k2,
                                    const char* v2) {
    char* out = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = kiln__zeno_put_raw(out, 0, "{", 1);
        at = kiln__zeno_put_json(out, at, k1);
        at = kiln__zeno_put_raw(out, at, ":", 1);
        at = kiln__zeno_put_json(out, at, v1);
        at = kiln__zeno_put_raw(out, at, ",", 1);
        at = kiln__zeno_put_json(out, at, k2);
        at = kiln__zeno_put_raw(out, at, ":", 1);
        at = kiln__zeno_put_raw(out, at, v2, kiln_strlen(v2));
        at = kiln__zeno_put_raw(out, at, "}", 2); /* with the NUL */
        if (out) return out;
        out = (char*)kiln_zeno_alloc(at);
        if (!out) return 0;
    }
    return out;
}

/* Sets the scope's `key` to a value given as JSON text (permission scope: write); false when
 * the host refused it or there was no room for the request. */
static inline bool kiln_zeno_scope_set(const char* key, const char* value_json) {
    char* req = kiln__zeno_pair("key", key, "value", value_json);
    if (!req) return false;
    bool ok = kiln_zeno_host_scope_set(req, (int32_t)kiln_strlen(req)) == 1;
    kiln_zeno_free(req);
    return ok;
}

/* Writes the text to the file at `path` (permission filesystem, rw:); false when refused. */
static inline bool kiln_zeno_file_write(const char* path, const char* content) {
    char* out = 0;
    size_t at = 0;
    for (int pass = 0; pass < 2; pass++) {
        at = kiln__zeno_put_raw(out, 0, "{\"path\":", 8);
        at = kiln__zeno_put_json(out, at, path);
        at = kiln__zeno_put_raw(out, at, ",\"content\":", 11);
        at = kiln__zeno_put_json(out, at, content);
        at = kiln__zeno_put_raw(out, at, "}", 2);
        if (out) break;
        out = (char*)kiln_zeno_alloc(at);
        if (!out) return false;
    }
    bool ok = kiln_zeno_host_file_write(out, (int32_t)(at - 1)) == 1;
    kiln_zeno_free(out);
    return ok;
}

/* ---- Answers to the host -------------------------------------------------------------------
 * plugin_init, plugin_register_slots and plugin_execute return a pointer to NUL-terminated
 * JSON, which the host reads when the export returns. */

static char* kiln__zeno_last; /* the last answer made, freed when the next one is */

static inline const char* kiln__zeno_answer(const char* head, const char* body, size_t body_len,
                                            bool string) {
    char* out = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = kiln__zeno_put_raw(out, 0, head, kiln_strlen(head));
        if (string)
            at = kiln__zeno_put_json(out, at, body);
        else
            at = kiln__zeno_put_raw(out, at, body, body_len);
        at = kiln__zeno_put_raw(out, at, "}", 2);
        if (out) break;
        out = (char*)kiln_zeno_alloc(at);
        if (!out) return "{\"success\":false,\"error\":\"out of memory\"}";
    }
    kiln_zeno_free(kiln__zeno_last);
    kiln__zeno_last = out;
    return out;
}

/* {"success": true, "data": DATA} (data: JSON text of an object; NULL for none). */
static inline const char* kiln_zeno_ok_n(const char* data_json, size_t len) {
    if (!data_json) return kiln__zeno_answer("{\"success\":true", "", 0, false);
    return kiln__zeno_answer("{\"success\":true,\"data\":", data_json, len, false);
}
static inline const char* kiln_zeno_ok(const char* data_json) {
    return kiln_zeno_ok_n(data_json, kiln_strlen(data_json));
}
/* {"success": false, "error": MESSAGE}. */
static inline const char* kiln_zeno_error(const char* message) {
    return kiln__zeno_answer("{\"success\":false,\"error\":", message, 0, true);
}

/* ---- Requests -------------------------------------------------------------------------------- */

/* plugin_execute's arguments: the slot's name and the request {"slot_name", "parameters"}, as
 * the host wrote them (no NUL), and the parameters' JSON text ("{}" when there are none). */
typedef struct kiln_zeno_request {
    const char* slot;
    size_t slot_len;
    const char* request;
    size_t request_len;
    const char* parameters;
    size_t parameters_len;
} kiln_zeno_request_t;

static inline bool kiln_zeno_slot_is(const kiln_zeno_request_t* req, const char* name) {
    return kiln_slice_is(req->slot, req->slot_len, name);
}
/* The JSON text of parameter `name` (its length in *len); NULL when absent. The call's scope
 * is the parameter "_zeno_scope". */
static inline const char* kiln_zeno_param(const kiln_zeno_request_t* req, const char* name,
                                          size_t* len) {
    return kiln_json_field(req->parameters, req->parameters_len, name, len);
}
/* The string parameter `name`, decoded into buf with a NUL; false when it is absent, not a
 * string, or longer than cap - 1 bytes. */
static inline bool kiln_zeno_param_string(const kiln_zeno_request_t* req, const char* name,
                                          char* buf, size_t cap) {
    size_t len = 0;
    const char* v = kiln_zeno_param(req, name, &len);
    if (!v) return false;
    int64_t n = kiln_json_string(v, len, buf, cap);
    return n >= 0 && (uint64_t)n < cap;
}

/* Takes plugin_execute's arguments apart. */
static inline kiln_zeno_request_t kiln_zeno_request(const char* slot, int32_t slot_len,
                                                    const char* req, int32_t req_len) {
    kiln_zeno_request_t r;
    r.slot = slot;
    r.slot_len = slot_len > 0 ? (size_t)slot_len : 0;
    r.request = req;
    r.request_len = req_len > 0 ? (size_t)req_len : 0;
    r.parameters = kiln_json_field(req, r.request_len, "parameters", &r.parameters_len);
    if (!r.parameters || r.parameters[0] != '{') {
        r.parameters = "{}";
        r.parameters_len = 2;
    }
    return r;
}

/* ---- The exports ----------------------------------------------------------------------------- */

#define KILN_ZENO_EXPORT(name) KILN_EXTERN_C __attribute__((export_name(#name)))

/* Defines alloc, plugin_init (the metadata's JSON text, constant), plugin_register_slots (the
 * slot array's) and plugin_execute, which calls `handler(const kiln_zeno_request_t*)` and
 * answers what it returns (kiln_zeno_ok, kiln_zeno_error). plugin_cleanup, optional, is the
 * plugin's own: KILN_ZENO_EXPORT(plugin_cleanup) void plugin_cleanup(void) { ... } */
#define KILN_ZENO_PLUGIN(metadata_json, slots_json, handler)                                       \
    KILN_ZENO_EXPORT(alloc) void* kiln_zeno_alloc_export(int32_t size);                            \
    void* kiln_zeno_alloc_export(int32_t size) {                                                   \
        kiln__zeno_next_call();                                                                    \
        return size < 0 ? 0 : kiln_zeno_alloc((size_t)size);                                       \
    }                                                                                              \
    KILN_ZENO_EXPORT(plugin_init) const char* plugin_init(void);                                   \
    const char* plugin_init(void) {                                                                \
        return metadata_json;                                                                      \
    }                                                                                              \
    KILN_ZENO_EXPORT(plugin_register_slots) const char* plugin_register_slots(void);               \
    const char* plugin_register_slots(void) {                                                      \
        return slots_json;                                                                         \
    }                                                                                              \
    KILN_ZENO_EXPORT(plugin_execute)                                                               \
    const char* plugin_execute(char* slot, int32_t slot_len, char* req, int32_t req_len);          \
    const char* plugin_execute(char* slot, int32_t slot_len, char* req, int32_t req_len) {         \
        kiln_zeno_request_t r = kiln_zeno_request(slot, slot_len, req, req_len);                   \
        const char* answer = handler(&r);                                                          \
        kiln__zeno_done(slot, req);                                                                \
        return answer;                                                                             \
    }

/* After plugin_execute's handler: the slot name and request go back (malloc), or the arena
 * starts over at the next call. */
static inline void kiln__zeno_done(char* slot, char* req) {
#ifdef KILN_PDK_HAVE_LIBC
    free(slot);
    free(req);
#else
    (void)slot;
    (void)req;
    kiln__zeno_answered = true;
#endif
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_ZENO_H */
