/* Kiln plugin development kit for C and C++: guest-side helpers over the Extism plugin ABI
 * (imports from "extism:host/env"). Header-only; every helper is static inline, so a plugin
 * pays only for what it calls.
 *
 * The core (everything without "_malloc" in its name) needs no libc and never allocates linear
 * memory: it builds with `clang --target=wasm32-unknown-unknown -nostdlib -Wl,--no-entry` as well
 * as with wasi-libc. Define KILN_PDK_NO_LIBC to hide the malloc-based helpers even when
 * <stdlib.h> exists. C++ adds namespace kiln::pdk: an RAII memory block everywhere, and
 * std::string/std::string_view overloads with C++17 or later where the standard library is
 * present (wasm32-wasi with libc++). C++ guests build with -fno-exceptions.
 *
 * Kernel memory belongs to the host: a handle (uint64_t, 0 = none) addresses a block whose bytes
 * are at handle + 0 .. handle + length - 1. See docs/pdk-c.md. */
#ifndef KILN_PDK_H
#define KILN_PDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__has_include) && !defined(KILN_PDK_NO_LIBC)
#if __has_include(<stdlib.h>)
#include <stdlib.h>
#define KILN_PDK_HAVE_LIBC 1
#endif
#endif

#ifdef __cplusplus
#define KILN_EXTERN_C extern "C"
#else
#define KILN_EXTERN_C
#endif

/* ---- Declaring imports and exports ----------------------------------------------------------- */

/* Attributes for a function the host provides, e.g.
 *   KILN_HOST_FN("extism:host/user", "hello") uint64_t hello(uint64_t input);
 * The linker turns the undefined symbol into a wasm import of that module and name. */
#define KILN_HOST_FN(ns, name) __attribute__((import_module(ns), import_name(name)))
/* The same in the default namespace for host functions offered by the embedder. */
#define KILN_HOST_USER_FN(name) KILN_HOST_FN("extism:host/user", name)

/* Defines an exported plugin function `int32_t name(void)`; return 0 for success. The prototype
 * comes first so that -Wmissing-prototypes stays quiet. Usage:
 *   KILN_EXPORT(greet) { ...; return 0; } */
#define KILN_EXPORT(name)                                                                          \
    KILN_EXTERN_C int32_t name(void);                                                              \
    KILN_EXTERN_C __attribute__((export_name(#name))) int32_t name(void)

/* Only the attribute, for export names that are not C identifiers:
 *   KILN_EXPORT_AS("count-vowels") int32_t count_vowels(void) { ... } */
#define KILN_EXPORT_AS(name) __attribute__((export_name(name)))

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t kiln_handle_t;

/* ---- The raw ABI: one declaration per host function ----------------------------------------
 * Kept public for anything the helpers below do not cover. */

#define KILN_ENV_FN(name) KILN_HOST_FN("extism:host/env", name)

KILN_ENV_FN("alloc") kiln_handle_t kiln_env_alloc(uint64_t size);
KILN_ENV_FN("free") void kiln_env_free(kiln_handle_t handle);
KILN_ENV_FN("length") uint64_t kiln_env_length(kiln_handle_t handle);
KILN_ENV_FN("length_unsafe") uint64_t kiln_env_length_unsafe(kiln_handle_t handle);
KILN_ENV_FN("load_u8") int32_t kiln_env_load_u8(uint64_t address);
KILN_ENV_FN("load_u64") uint64_t kiln_env_load_u64(uint64_t address);
KILN_ENV_FN("store_u8") void kiln_env_store_u8(uint64_t address, int32_t byte);
KILN_ENV_FN("store_u64") void kiln_env_store_u64(uint64_t address, uint64_t value);
KILN_ENV_FN("input_length") uint64_t kiln_env_input_length(void);
KILN_ENV_FN("input_offset") kiln_handle_t kiln_env_input_offset(void);
KILN_ENV_FN("input_load_u8") int32_t kiln_env_input_load_u8(uint64_t offset);
KILN_ENV_FN("input_load_u64") uint64_t kiln_env_input_load_u64(uint64_t offset);
KILN_ENV_FN("input_set") void kiln_env_input_set(kiln_handle_t handle, uint64_t length);
KILN_ENV_FN("output_set") void kiln_env_output_set(kiln_handle_t handle, uint64_t length);
KILN_ENV_FN("output_offset") kiln_handle_t kiln_env_output_offset(void);
KILN_ENV_FN("output_length") uint64_t kiln_env_output_length(void);
KILN_ENV_FN("error_set") void kiln_env_error_set(kiln_handle_t handle);
KILN_ENV_FN("error_get") kiln_handle_t kiln_env_error_get(void);
KILN_ENV_FN("reset") void kiln_env_reset(void);
KILN_ENV_FN("memory_bytes") uint64_t kiln_env_memory_bytes(void);
KILN_ENV_FN("config_get") kiln_handle_t kiln_env_config_get(kiln_handle_t key);
KILN_ENV_FN("var_get") kiln_handle_t kiln_env_var_get(kiln_handle_t key);
KILN_ENV_FN("var_set") void kiln_env_var_set(kiln_handle_t key, kiln_handle_t value);
KILN_ENV_FN("http_request")
kiln_handle_t kiln_env_http_request(kiln_handle_t request_json, kiln_handle_t body);
KILN_ENV_FN("http_status_code") int32_t kiln_env_http_status_code(void);
KILN_ENV_FN("http_headers") kiln_handle_t kiln_env_http_headers(void);
KILN_ENV_FN("log_trace") void kiln_env_log_trace(kiln_handle_t message);
KILN_ENV_FN("log_debug") void kiln_env_log_debug(kiln_handle_t message);
KILN_ENV_FN("log_info") void kiln_env_log_info(kiln_handle_t message);
KILN_ENV_FN("log_warn") void kiln_env_log_warn(kiln_handle_t message);
KILN_ENV_FN("log_error") void kiln_env_log_error(kiln_handle_t message);
KILN_ENV_FN("get_log_level") int32_t kiln_env_get_log_level(void);

/* ---- Small freestanding utilities ---------------------------------------------------------- * */

static inline size_t kiln_strlen(const char* s) {
    size_t n = 0;
    if (s)
        while (s[n])
            n++;
    return n;
}

/* Decimal text of an integer into buf, which needs KILN_DEC_SIZE bytes; NUL-terminated.
 * Returns the number of digits (and sign) written, without the NUL. */
#define KILN_DEC_SIZE 21

static inline size_t kiln_fmt_u64(uint64_t value, char* buf) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

static inline size_t kiln_fmt_i64(int64_t value, char* buf) {
    if (value >= 0) return kiln_fmt_u64((uint64_t)value, buf);
    buf[0] = '-';
    /* Negating in unsigned arithmetic keeps INT64_MIN defined. */
    return 1 + kiln_fmt_u64(0 - (uint64_t)value, buf + 1);
}

/* Parses optional '-' or '+' then decimal digits, nothing else; false on anything else or on
 * overflow. */
static inline bool kiln_parse_i64(const char* s, size_t len, int64_t* out) {
    size_t i = 0;
    bool negative = false;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        i = 1;
    }
    if (i == len) return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (value > (limit - digit) / 10) return false;
        value = value * 10 + digit;
    }
    *out = negative ? (int64_t)(0 - value) : (int64_t)value;
    return true;
}

/* ---- Kernel memory blocks ------------------------------------------------------------------ * */

/* A new block of `size` bytes; 0 when the host is out of memory (and possibly for size 0). */
static inline kiln_handle_t kiln_mem_alloc(uint64_t size) {
    return kiln_env_alloc(size);
}
static inline void kiln_mem_free(kiln_handle_t handle) {
    if (handle) kiln_env_free(handle);
}
/* The block's length; 0 for 0 or anything that is not a live block. */
static inline uint64_t kiln_mem_length(kiln_handle_t handle) {
    return handle ? kiln_env_length(handle) : 0;
}

/* Copies len bytes at `offset` within the block into linear memory. Eight bytes per host call,
 * then single bytes for the tail. __builtin_memcpy of a constant 8 compiles to one unaligned
 * store, so no libc memcpy is needed. */
static inline void kiln_mem_load(kiln_handle_t handle, uint64_t offset, void* dst, uint64_t len) {
    unsigned char* d = (unsigned char*)dst;
    uint64_t at = handle + offset, i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word = kiln_env_load_u64(at + i);
        __builtin_memcpy(d + i, &word, 8);
    }
    for (; i < len; i++)
        d[i] = (unsigned char)kiln_env_load_u8(at + i);
}

/* Copies len bytes from linear memory to `offset` within the block. */
static inline void kiln_mem_store(kiln_handle_t handle, uint64_t offset, const void* src,
                                  uint64_t len) {
    const unsigned char* s = (const unsigned char*)src;
    uint64_t at = handle + offset, i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        __builtin_memcpy(&word, s + i, 8);
        kiln_env_store_u64(at + i, word);
    }
    for (; i < len; i++)
        kiln_env_store_u8(at + i, s[i]);
}

/* A new block holding a copy of the bytes; 0 when the host is out of memory. */
static inline kiln_handle_t kiln_mem_new(const void* data, uint64_t len) {
    kiln_handle_t handle = kiln_env_alloc(len);
    if (handle) kiln_mem_store(handle, 0, data, len);
    return handle;
}
static inline kiln_handle_t kiln_mem_new_str(const char* s) {
    return kiln_mem_new(s, kiln_strlen(s));
}

/* Copies the first min(length, cap) bytes of the block into buf and returns the block's whole
 * length, so a result above cap means the copy was truncated. */
static inline uint64_t kiln_mem_read(kiln_handle_t handle, void* buf, uint64_t cap) {
    uint64_t len = kiln_mem_length(handle);
    kiln_mem_load(handle, 0, buf, len < cap ? len : cap);
    return len;
}

/* ---- Input ----------------------------------------------------------------------------------- */

static inline uint64_t kiln_input_length(void) {
    return kiln_env_input_length();
}

/* Copies up to cap bytes of the input starting at `offset`; returns how many were copied, 0 at
 * the end. Reading in chunks keeps memory use flat for inputs of any size:
 *   for (uint64_t off = 0, n; (n = kiln_input_read_at(off, buf, sizeof buf)) > 0; off += n) */
static inline uint64_t kiln_input_read_at(uint64_t offset, void* buf, uint64_t cap) {
    uint64_t total = kiln_env_input_length();
    if (offset >= total) return 0;
    uint64_t n = total - offset < cap ? total - offset : cap;
    unsigned char* d = (unsigned char*)buf;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word = kiln_env_input_load_u64(offset + i);
        __builtin_memcpy(d + i, &word, 8);
    }
    for (; i < n; i++)
        d[i] = (unsigned char)kiln_env_input_load_u8(offset + i);
    return n;
}

/* Copies the first min(length, cap) input bytes into buf; returns the whole input length, so a
 * result above cap means the input did not fit. */
static inline uint64_t kiln_input_read(void* buf, uint64_t cap) {
    kiln_input_read_at(0, buf, cap);
    return kiln_env_input_length();
}

/* A new block (owned by the plugin) holding the input, copied inside kernel memory without
 * passing through linear memory: for handing the input on to a host function. */
static inline kiln_handle_t kiln_input_to_block(void) {
    uint64_t len = kiln_env_input_length();
    kiln_handle_t handle = kiln_env_alloc(len);
    if (!handle) return 0;
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8)
        kiln_env_store_u64(handle + i, kiln_env_input_load_u64(i));
    for (; i < len; i++)
        kiln_env_store_u8(handle + i, kiln_env_input_load_u8(i));
    return handle;
}

/* ---- Output and errors ----------------------------------------------------------------------  */

/* Makes an existing block (of at least len bytes) the output; the host reads it after the call,
 * so the plugin must not free it. */
static inline void kiln_output_set_block(kiln_handle_t handle, uint64_t len) {
    kiln_env_output_set(handle, len);
}
/* Copies the bytes into a new block and makes it the output; false when out of memory. */
static inline bool kiln_output_set_bytes(const void* data, uint64_t len) {
    kiln_handle_t handle = kiln_mem_new(data, len);
    if (!handle && len) return false;
    kiln_env_output_set(handle, len);
    return true;
}
static inline bool kiln_output_set_str(const char* s) {
    return kiln_output_set_bytes(s, kiln_strlen(s));
}

/* Sets the call's error message (the call fails with it). An empty message may clear it. */
static inline void kiln_error_set_bytes(const char* message, uint64_t len) {
    kiln_env_error_set(kiln_mem_new(message, len));
}
static inline void kiln_error_set_str(const char* message) {
    kiln_error_set_bytes(message, kiln_strlen(message));
}
/* Sets the error and returns 1, for `return kiln_fail("bad input");` in an export. */
static inline int32_t kiln_fail(const char* message) {
    kiln_error_set_str(message);
    return 1;
}

/* ---- Config (read-only strings from the manifest) -------------------------------------------- */

/* The value's block (owned by the plugin: free it), or 0 when the key is absent. The host frees
 * the key block it is given. */
static inline kiln_handle_t kiln_config_get_block_n(const char* key, size_t key_len) {
    kiln_handle_t k = kiln_mem_new(key, key_len);
    return k ? kiln_env_config_get(k) : 0;
}
static inline kiln_handle_t kiln_config_get_block(const char* key) {
    return kiln_config_get_block_n(key, kiln_strlen(key));
}

/* Like snprintf: copies at most cap - 1 bytes of the value and a NUL into buf (when cap > 0)
 * and returns the value's whole length; -1 when the key is absent. Hosts whose zero-length block
 * is the null handle (Kiln's is) make an empty value look absent. */
static inline int64_t kiln_config_get_n(const char* key, size_t key_len, char* buf, size_t cap) {
    kiln_handle_t value = kiln_config_get_block_n(key, key_len);
    if (!value) return -1;
    uint64_t len = kiln_mem_length(value);
    if (cap > 0) {
        uint64_t n = len < cap - 1 ? len : cap - 1;
        kiln_mem_load(value, 0, buf, n);
        buf[n] = '\0';
    }
    kiln_env_free(value);
    return (int64_t)len;
}
static inline int64_t kiln_config_get(const char* key, char* buf, size_t cap) {
    return kiln_config_get_n(key, kiln_strlen(key), buf, cap);
}

/* ---- Vars (bytes kept by the host across calls of one plugin instance) ----------------------- */

static inline kiln_handle_t kiln_var_get_block_n(const char* key, size_t key_len) {
    kiln_handle_t k = kiln_mem_new(key, key_len);
    return k ? kiln_env_var_get(k) : 0;
}
static inline kiln_handle_t kiln_var_get_block(const char* key) {
    return kiln_var_get_block_n(key, kiln_strlen(key));
}

/* Copies the first min(length, cap) bytes of the var into buf (no NUL: vars are bytes) and
 * returns its whole length; -1 when it is not set. */
static inline int64_t kiln_var_get_n(const char* key, size_t key_len, void* buf, size_t cap) {
    kiln_handle_t value = kiln_var_get_block_n(key, key_len);
    if (!value) return -1;
    uint64_t len = kiln_mem_read(value, buf, cap);
    kiln_env_free(value);
    return (int64_t)len;
}
static inline int64_t kiln_var_get(const char* key, void* buf, size_t cap) {
    return kiln_var_get_n(key, kiln_strlen(key), buf, cap);
}

/* Sets the var; false when kernel memory ran out. The host frees the key block; the value block
 * is only read, so it is freed here. A zero-length value may delete the var, since some hosts
 * give size-0 allocations the null handle, which var_set takes as "delete". */
static inline bool kiln_var_set_n(const char* key, size_t key_len, const void* value, size_t len) {
    kiln_handle_t v = kiln_mem_new(value, len);
    if (!v && len) return false;
    kiln_handle_t k = kiln_mem_new(key, key_len);
    if (!k) {
        kiln_mem_free(v);
        return false;
    }
    kiln_env_var_set(k, v);
    kiln_mem_free(v);
    return true;
}
static inline bool kiln_var_set(const char* key, const void* value, size_t len) {
    return kiln_var_set_n(key, kiln_strlen(key), value, len);
}
static inline bool kiln_var_set_str(const char* key, const char* value) {
    return kiln_var_set(key, value, kiln_strlen(value));
}
static inline void kiln_var_delete_n(const char* key, size_t key_len) {
    kiln_handle_t k = kiln_mem_new(key, key_len);
    if (k) kiln_env_var_set(k, 0);
}
static inline void kiln_var_delete(const char* key) {
    kiln_var_delete_n(key, kiln_strlen(key));
}

/* An integer var stored as decimal text. False when unset or not a decimal integer. */
static inline bool kiln_var_get_i64(const char* key, int64_t* out) {
    char buf[KILN_DEC_SIZE];
    int64_t len = kiln_var_get(key, buf, sizeof buf);
    return len >= 0 && len < (int64_t)sizeof buf && kiln_parse_i64(buf, (size_t)len, out);
}
static inline bool kiln_var_set_i64(const char* key, int64_t value) {
    char buf[KILN_DEC_SIZE];
    size_t len = kiln_fmt_i64(value, buf);
    return kiln_var_set(key, buf, len);
}

/* ---- Logging --------------------------------------------------------------------------------- */

typedef enum kiln_log_level {
    KILN_LOG_TRACE = 0,
    KILN_LOG_DEBUG = 1,
    KILN_LOG_INFO = 2,
    KILN_LOG_WARN = 3,
    KILN_LOG_ERROR = 4,
} kiln_log_level_t;

/* Whether the host would keep a message at this level; the host reports INT32_MAX when logging
 * is off. Worth calling before formatting an expensive message. */
static inline bool kiln_log_enabled(kiln_log_level_t level) {
    return (int32_t)level >= kiln_env_get_log_level();
}

/* Logs the message at the level. The level is checked first so that a disabled message costs
 * one host call and no kernel allocation; the host frees the message block. */
static inline void kiln_log_n(kiln_log_level_t level, const char* message, size_t len) {
    if (!kiln_log_enabled(level)) return;
    kiln_handle_t m = kiln_mem_new(message, len);
    if (!m) return;
    switch (level) {
    case KILN_LOG_TRACE: kiln_env_log_trace(m); break;
    case KILN_LOG_DEBUG: kiln_env_log_debug(m); break;
    case KILN_LOG_INFO: kiln_env_log_info(m); break;
    case KILN_LOG_WARN: kiln_env_log_warn(m); break;
    default: kiln_env_log_error(m); break;
    }
}
static inline void kiln_log(kiln_log_level_t level, const char* message) {
    kiln_log_n(level, message, kiln_strlen(message));
}
static inline void kiln_log_trace(const char* m) {
    kiln_log(KILN_LOG_TRACE, m);
}
static inline void kiln_log_debug(const char* m) {
    kiln_log(KILN_LOG_DEBUG, m);
}
static inline void kiln_log_info(const char* m) {
    kiln_log(KILN_LOG_INFO, m);
}
static inline void kiln_log_warn(const char* m) {
    kiln_log(KILN_LOG_WARN, m);
}
static inline void kiln_log_error(const char* m) {
    kiln_log(KILN_LOG_ERROR, m);
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct kiln_http_header {
    const char* name; /* NUL-terminated */
    const char* value;
} kiln_http_header_t;

typedef struct kiln_http_request {
    const char* method; /* NULL means "GET" */
    const char* url;
    const kiln_http_header_t* headers;
    size_t header_count;
} kiln_http_request_t;

typedef struct kiln_http_response {
    int32_t status;       /* the HTTP status; -1 when the request could not be built */
    kiln_handle_t body;   /* a block owned by the plugin (free it, or make it the output) */
    uint64_t body_length; /* 0 also when body is 0 */
} kiln_http_response_t;

/* Writes bytes into a block through a small linear-memory buffer, so that building a JSON
 * request costs one host call per 64 bytes rather than one per byte. With handle 0 it only
 * counts, which gives the size to allocate. */
typedef struct kiln__writer {
    kiln_handle_t handle;
    uint64_t pos;
    uint32_t used;
    unsigned char buf[64];
} kiln__writer;

static inline void kiln__writer_flush(kiln__writer* w) {
    if (w->handle && w->used) kiln_mem_store(w->handle, w->pos - w->used, w->buf, w->used);
    w->used = 0;
}
static inline void kiln__put(kiln__writer* w, unsigned char c) {
    if (w->handle) {
        w->buf[w->used++] = c;
        w->pos++;
        if (w->used == sizeof w->buf) kiln__writer_flush(w);
    } else {
        w->pos++;
    }
}
static inline void kiln__put_raw(kiln__writer* w, const char* s) {
    while (*s)
        kiln__put(w, (unsigned char)*s++);
}
/* A JSON string literal; bytes >= 0x80 pass through, so UTF-8 stays UTF-8. */
static inline void kiln__put_json(kiln__writer* w, const char* s) {
    static const char hex[] = "0123456789abcdef";
    kiln__put(w, '"');
    for (const unsigned char* p = (const unsigned char*)s; p && *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            kiln__put(w, '\\');
            kiln__put(w, c);
        } else if (c < 0x20) {
            kiln__put_raw(w, "\\u00");
            kiln__put(w, (unsigned char)hex[c >> 4]);
            kiln__put(w, (unsigned char)hex[c & 15]);
        } else {
            kiln__put(w, c);
        }
    }
    kiln__put(w, '"');
}
static inline void kiln__put_request(kiln__writer* w, const kiln_http_request_t* req) {
    kiln__put_raw(w, "{\"url\":");
    kiln__put_json(w, req->url);
    kiln__put_raw(w, ",\"method\":");
    kiln__put_json(w, req->method ? req->method : "GET");
    kiln__put_raw(w, ",\"headers\":{");
    for (size_t i = 0; i < req->header_count; i++) {
        if (i) kiln__put(w, ',');
        kiln__put_json(w, req->headers[i].name);
        kiln__put(w, ':');
        kiln__put_json(w, req->headers[i].value);
    }
    kiln__put_raw(w, "}}");
}

/* The request as the JSON the host expects, in a new block; 0 when out of memory. */
static inline kiln_handle_t kiln_http_request_block(const kiln_http_request_t* req) {
    kiln__writer w;
    w.handle = 0;
    w.pos = 0;
    w.used = 0;
    kiln__put_request(&w, req);
    kiln_handle_t handle = kiln_env_alloc(w.pos);
    if (!handle) return 0;
    w.handle = handle;
    w.pos = 0;
    kiln__put_request(&w, req);
    kiln__writer_flush(&w);
    return handle;
}

/* Sends the request with an optional body (NULL/0 for none). A host that refuses the URL (not
 * in allowed_hosts) or fails to connect makes the call fail rather than returning here. The
 * request and body blocks are only read by the host, so they are freed here. */
static inline kiln_http_response_t kiln_http_send(const kiln_http_request_t* req, const void* body,
                                                  uint64_t body_len) {
    kiln_http_response_t res;
    res.status = -1;
    res.body = 0;
    res.body_length = 0;
    kiln_handle_t b = body_len ? kiln_mem_new(body, body_len) : 0;
    if (body_len && !b) return res;
    kiln_handle_t r = kiln_http_request_block(req);
    if (!r) {
        kiln_mem_free(b);
        return res;
    }
    res.body = kiln_env_http_request(r, b);
    res.status = kiln_env_http_status_code();
    res.body_length = kiln_mem_length(res.body);
    kiln_mem_free(r);
    kiln_mem_free(b);
    return res;
}

static inline kiln_http_response_t kiln_http_get(const char* url) {
    kiln_http_request_t req;
    req.method = "GET";
    req.url = url;
    req.headers = 0;
    req.header_count = 0;
    return kiln_http_send(&req, 0, 0);
}

/* The last response's headers as a JSON object in a block owned by the plugin; 0 when the host
 * does not hand headers out. */
static inline kiln_handle_t kiln_http_headers_block(void) {
    return kiln_env_http_headers();
}

/* ---- Jobs (module kiln:host/v1) -------------------------------------------------------------
 * For exports run as jobs (docs/jobs.md): the export gets the job's state as its input (also
 * from job_load_state), reports progress, saves checkpoints and checks whether the host wants it
 * to pause or stop. The host only reads the blocks it is given; the helpers free them. */

#define KILN_HOST_V1_FN(name) KILN_HOST_FN("kiln:host/v1", name)

KILN_HOST_V1_FN("job_progress") void kiln_v1_job_progress(double fraction, kiln_handle_t message);
KILN_HOST_V1_FN("job_checkpoint") int32_t kiln_v1_job_checkpoint(kiln_handle_t state);
KILN_HOST_V1_FN("job_check_interrupt") int32_t kiln_v1_job_check_interrupt(void);
KILN_HOST_V1_FN("job_items") void kiln_v1_job_items(uint64_t done, uint64_t total);
KILN_HOST_V1_FN("job_log") void kiln_v1_job_log(int32_t level, kiln_handle_t message);
KILN_HOST_V1_FN("job_load_state") kiln_handle_t kiln_v1_job_load_state(void);

/* What job_check_interrupt answers. */
typedef enum kiln_job_interrupt {
    KILN_JOB_CONTINUE = 0, /* go on */
    KILN_JOB_PAUSE = 1,    /* checkpoint if needed and return: the job is paused */
    KILN_JOB_CANCEL = 2,   /* return: the job is cancelled */
} kiln_job_interrupt_t;

/* Reports progress: a fraction from 0 to 1 and a message (NULL for none). */
static inline void kiln_job_progress(double fraction, const char* message) {
    kiln_handle_t m = message ? kiln_mem_new_str(message) : 0;
    kiln_v1_job_progress(fraction, m);
    kiln_mem_free(m);
}

/* Saves the state (JSON) as the job's checkpoint, durably, before returning: a job resumed
 * after a crash starts again from it. False when it could not be saved (a full disk). */
static inline bool kiln_job_checkpoint_n(const char* state, size_t len) {
    kiln_handle_t s = kiln_mem_new(state, len);
    if (!s && len) return false;
    int32_t rc = kiln_v1_job_checkpoint(s);
    kiln_mem_free(s);
    return rc == 0;
}
static inline bool kiln_job_checkpoint(const char* state) {
    return kiln_job_checkpoint_n(state, kiln_strlen(state));
}

/* Whether to go on, pause or stop; cheap enough to ask at every step. */
static inline kiln_job_interrupt_t kiln_job_check_interrupt(void) {
    return (kiln_job_interrupt_t)kiln_v1_job_check_interrupt();
}

/* Reports items done out of a total (0: unknown). */
static inline void kiln_job_items(uint64_t done, uint64_t total) {
    kiln_v1_job_items(done, total);
}

/* A line in the job's log at a level (KILN_LOG_TRACE .. KILN_LOG_ERROR). */
static inline void kiln_job_log(kiln_log_level_t level, const char* message) {
    kiln_handle_t m = kiln_mem_new_str(message);
    kiln_v1_job_log((int32_t)level, m);
    kiln_mem_free(m);
}

/* Copies at most cap - 1 bytes of the job's state (its last checkpoint, else the state it was
 * started with) and a NUL into buf, and returns the state's whole length. */
static inline uint64_t kiln_job_load_state(char* buf, size_t cap) {
    kiln_handle_t s = kiln_v1_job_load_state();
    uint64_t len = kiln_mem_length(s);
    if (cap > 0) {
        uint64_t n = len < cap - 1 ? len : cap - 1;
        kiln_mem_load(s, 0, buf, n);
        buf[n] = '\0';
    }
    kiln_mem_free(s);
    return len;
}

/* ---- Helpers that allocate with malloc (wasi-libc or another libc) ---------------------------
 * Each returns a malloc'd copy with a NUL appended (not counted in *len), or NULL. */

#ifdef KILN_PDK_HAVE_LIBC

static inline char* kiln_mem_read_malloc(kiln_handle_t handle, uint64_t* len) {
    uint64_t n = kiln_mem_length(handle);
    if (n >= SIZE_MAX) return NULL;
    char* s = (char*)malloc((size_t)n + 1);
    if (!s) return NULL;
    kiln_mem_load(handle, 0, s, n);
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

/* The whole input; NULL when malloc fails. */
static inline char* kiln_input_malloc(uint64_t* len) {
    uint64_t n = kiln_env_input_length();
    if (n >= SIZE_MAX) return NULL;
    char* s = (char*)malloc((size_t)n + 1);
    if (!s) return NULL;
    kiln_input_read_at(0, s, n);
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

/* The config value; NULL when absent (or malloc fails). */
static inline char* kiln_config_get_malloc(const char* key) {
    kiln_handle_t value = kiln_config_get_block(key);
    if (!value) return NULL;
    char* s = kiln_mem_read_malloc(value, NULL);
    kiln_env_free(value);
    return s;
}

/* The var's bytes; NULL when unset (or malloc fails). */
static inline char* kiln_var_get_malloc(const char* key, uint64_t* len) {
    kiln_handle_t value = kiln_var_get_block(key);
    if (!value) return NULL;
    char* s = kiln_mem_read_malloc(value, len);
    kiln_env_free(value);
    return s;
}

#endif /* KILN_PDK_HAVE_LIBC */

#ifdef __cplusplus
} /* extern "C" */

/* ---- C++ ------------------------------------------------------------------------------------- */

#if defined(__has_include) && __cplusplus >= 201703L
#if __has_include(<string_view>) && __has_include(<optional>) && !defined(KILN_PDK_NO_LIBC)
#include <optional>
#include <string>
#include <string_view>
#define KILN_PDK_HAVE_STD 1
#endif
#endif

/* Two namespace blocks rather than kiln::pdk, which C++14 (clang's default) warns about. */
namespace kiln {
namespace pdk {

using Handle = kiln_handle_t;
using LogLevel = kiln_log_level_t;

/* Owns a kernel memory block and frees it on destruction; release() hands the handle over, e.g.
 * to set_output. Move-only. Needs no standard library. */
class Memory {
public:
    Memory() = default;
    explicit Memory(Handle handle) : m_handle(handle) {}
    Memory(const Memory&) = delete;
    Memory& operator=(const Memory&) = delete;
    Memory(Memory&& other) noexcept : m_handle(other.release()) {}
    Memory& operator=(Memory&& other) noexcept {
        if (this != &other) {
            kiln_mem_free(m_handle);
            m_handle = other.release();
        }
        return *this;
    }
    ~Memory() { kiln_mem_free(m_handle); }

    static Memory alloc(uint64_t size) { return Memory(kiln_mem_alloc(size)); }
    static Memory from_bytes(const void* data, uint64_t len) {
        return Memory(kiln_mem_new(data, len));
    }

    Handle handle() const { return m_handle; }
    explicit operator bool() const { return m_handle != 0; }
    uint64_t length() const { return kiln_mem_length(m_handle); }
    void load(uint64_t offset, void* dst, uint64_t len) const {
        kiln_mem_load(m_handle, offset, dst, len);
    }
    void store(uint64_t offset, const void* src, uint64_t len) {
        kiln_mem_store(m_handle, offset, src, len);
    }
    Handle release() {
        Handle h = m_handle;
        m_handle = 0;
        return h;
    }

#ifdef KILN_PDK_HAVE_STD
    static Memory from(std::string_view s) {
        return from_bytes(s.data(), s.size());
    }
    std::string to_string() const {
        std::string s(static_cast<size_t>(length()), '\0');
        load(0, s.data(), s.size());
        return s;
    }
#endif

private:
    Handle m_handle = 0;
};

/* Makes the block the output and gives up ownership (the host reads it after the call). */
inline void set_output(Memory&& block) {
    uint64_t len = block.length();
    kiln_output_set_block(block.release(), len);
}

#ifdef KILN_PDK_HAVE_STD

inline std::string input() {
    std::string s(static_cast<size_t>(kiln_input_length()), '\0');
    kiln_input_read_at(0, s.data(), s.size());
    return s;
}
inline bool set_output(std::string_view bytes) {
    return kiln_output_set_bytes(bytes.data(), bytes.size());
}
inline void set_error(std::string_view message) {
    kiln_error_set_bytes(message.data(), message.size());
}
inline int32_t fail(std::string_view message) {
    set_error(message);
    return 1;
}
inline std::optional<std::string> config(std::string_view key) {
    Memory value(kiln_config_get_block_n(key.data(), key.size()));
    if (!value) return std::nullopt;
    return value.to_string();
}
inline std::optional<std::string> var(std::string_view key) {
    Memory value(kiln_var_get_block_n(key.data(), key.size()));
    if (!value) return std::nullopt;
    return value.to_string();
}
inline bool set_var(std::string_view key, std::string_view value) {
    return kiln_var_set_n(key.data(), key.size(), value.data(), value.size());
}
inline void delete_var(std::string_view key) {
    kiln_var_delete_n(key.data(), key.size());
}
inline void log(LogLevel level, std::string_view message) {
    kiln_log_n(level, message.data(), message.size());
}
inline void log_trace(std::string_view m) {
    log(KILN_LOG_TRACE, m);
}
inline void log_debug(std::string_view m) {
    log(KILN_LOG_DEBUG, m);
}
inline void log_info(std::string_view m) {
    log(KILN_LOG_INFO, m);
}
inline void log_warn(std::string_view m) {
    log(KILN_LOG_WARN, m);
}
inline void log_error(std::string_view m) {
    log(KILN_LOG_ERROR, m);
}

struct HttpResponse {
    int32_t status = -1;
    std::string body;
};
inline HttpResponse http_request(const kiln_http_request_t& request, std::string_view body = {}) {
    kiln_http_response_t r = kiln_http_send(&request, body.data(), body.size());
    Memory owned(r.body);
    return HttpResponse{r.status, owned.to_string()};
}
inline HttpResponse http_get(const std::string& url) {
    kiln_http_request_t request{"GET", url.c_str(), nullptr, 0};
    return http_request(request);
}

#endif /* KILN_PDK_HAVE_STD */

} // namespace pdk
} // namespace kiln

#endif /* __cplusplus */

#endif /* KILN_PDK_H */
