/* Kiln plugin kit for C and C++, host functions: log, scope, kv, db, files, env, http and host
 * operations through the functions of module "kiln:host/v1" (docs/hostfns.md gives the JSON each
 * takes and returns). Header-only and freestanding like kiln/dispatch.h, which it includes.
 *
 *   char buf[256];
 *   int64_t n = kiln_kv_get("visits", buf, sizeof buf);
 *   if (n == KILN_HOST_FAILED) return kiln_fail_host();          // e.g. kv: read not granted
 *   if (!kiln_kv_set_str("visits", n == KILN_HOST_ABSENT ? "1" : "2")) return kiln_fail_host();
 *
 * Functions that return a value copy at most cap - 1 bytes of it and a NUL into buf (when cap >
 * 0) and return its whole length, so a result above cap - 1 means it was cut short; or
 * KILN_HOST_ABSENT when there is none (a missing key, an unset variable), or KILN_HOST_FAILED
 * when the host refused or failed, with the reason in kiln_host_error(). Kiln's zero-length
 * block is the null handle, so an empty value reads as absent. Status functions return false
 * when they failed, with the reason in kiln_host_error(). For a value too large for a buffer,
 * call the raw function (kiln_v1_kv_get(kiln_mem_new_str(key))) and keep its block. */
#ifndef KILN_HOST_H
#define KILN_HOST_H

#include <kiln/dispatch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The raw ABI of kiln:host/v1's family functions -----------------------------------------
 * Blocks in (read and freed by the host). Status functions return 0 done, -1 failed; the others
 * return a block owned by the plugin, 0 for none or on failure (last_error() says which). */

KILN_V1_FN("log") int32_t kiln_v1_log(kiln_handle_t level, kiln_handle_t message);
KILN_V1_FN("scope_get") kiln_handle_t kiln_v1_scope_get(kiln_handle_t key);
KILN_V1_FN("scope_set") int32_t kiln_v1_scope_set(kiln_handle_t key, kiln_handle_t value_json);
KILN_V1_FN("kv_get") kiln_handle_t kiln_v1_kv_get(kiln_handle_t key);
KILN_V1_FN("kv_set") int32_t kiln_v1_kv_set(kiln_handle_t key, kiln_handle_t value);
KILN_V1_FN("kv_delete") int32_t kiln_v1_kv_delete(kiln_handle_t key);
KILN_V1_FN("kv_list") kiln_handle_t kiln_v1_kv_list(kiln_handle_t prefix);
KILN_V1_FN("db_query") kiln_handle_t kiln_v1_db_query(kiln_handle_t request_json);
KILN_V1_FN("file_read") kiln_handle_t kiln_v1_file_read(kiln_handle_t path);
KILN_V1_FN("file_write") int32_t kiln_v1_file_write(kiln_handle_t path, kiln_handle_t content);
KILN_V1_FN("file_list") kiln_handle_t kiln_v1_file_list(kiln_handle_t path);
KILN_V1_FN("file_stat") kiln_handle_t kiln_v1_file_stat(kiln_handle_t path);
KILN_V1_FN("env_get") kiln_handle_t kiln_v1_env_get(kiln_handle_t name);
KILN_V1_FN("http_request") kiln_handle_t kiln_v1_http_request(kiln_handle_t request_json);
KILN_V1_FN("host_call")
kiln_handle_t kiln_v1_host_call(kiln_handle_t operation, kiln_handle_t payload_json);

/* What a value function returns when there is no value, and when it failed. */
#define KILN_HOST_ABSENT (-1)
#define KILN_HOST_FAILED (-2)

/* ---- Plumbing ------------------------------------------------------------------------------- */

/* A block holding the bytes into *out, for the host to take; false when out of memory. Empty
 * bytes are the null handle, which the host reads as empty. */
static inline bool kiln__give(const void* data, size_t len, kiln_handle_t* out) {
    *out = len ? kiln_mem_new(data, len) : 0;
    return *out != 0 || len == 0;
}

/* Two arguments given to the host, or neither (the first freed when the second has no room). */
static inline bool kiln__give2(const void* a, size_t a_len, const void* b, size_t b_len,
                               kiln_handle_t* ha, kiln_handle_t* hb) {
    if (!kiln__give(a, a_len, ha)) return false;
    if (kiln__give(b, b_len, hb)) return true;
    kiln_mem_free(*ha);
    return false;
}

/* Whether the last kiln:host/v1 function failed (its message is then in kiln_host_error()). */
static inline bool kiln_host_failed(void) {
    kiln_handle_t m = kiln_v1_last_error();
    kiln_mem_free(m);
    return m != 0;
}

/* Takes a value function's result: copies at most cap - 1 bytes and a NUL into buf, frees the
 * block and returns the value's length; KILN_HOST_ABSENT or KILN_HOST_FAILED for 0. */
static inline int64_t kiln_host_take(kiln_handle_t value, void* buf, size_t cap) {
    if (!value) return kiln_host_failed() ? KILN_HOST_FAILED : KILN_HOST_ABSENT;
    uint64_t len = kiln_mem_length(value);
    if (cap > 0) {
        uint64_t n = len < cap - 1 ? len : cap - 1;
        kiln_mem_load(value, 0, buf, n);
        ((char*)buf)[n] = '\0';
    }
    kiln_mem_free(value);
    return (int64_t)len;
}

/* Sets the call's error to why the last kiln:host/v1 function failed and returns 1, for
 * `return kiln_fail_host();` in an export. */
static inline int32_t kiln_fail_host(void) {
    kiln_handle_t m = kiln_v1_last_error();
    if (!m) return kiln_fail("a kiln:host/v1 function failed");
    kiln_env_error_set(m);
    return 1;
}

/* One argument in, a value out (the value functions taking one string); KILN_HOST_FAILED also
 * when there is no room for the argument. */
static inline int64_t kiln__value1(kiln_handle_t (*fn)(kiln_handle_t), const char* arg, size_t len,
                                   void* buf, size_t cap) {
    kiln_handle_t h;
    if (!kiln__give(arg, len, &h)) return KILN_HOST_FAILED;
    return kiln_host_take(fn(h), buf, cap);
}

/* ---- log ------------------------------------------------------------------------------------- */

/* A line in the plugin's log, with its name, at a level (its log filters it). */
static inline bool kiln_host_log_n(kiln_log_level_t level, const char* message, size_t len) {
    static const char* const names[] = {"trace", "debug", "info", "warn", "error"};
    unsigned at = (unsigned)level <= (unsigned)KILN_LOG_ERROR ? (unsigned)level : 4u;
    const char* name = names[at];
    kiln_handle_t l, m;
    if (!kiln__give2(name, kiln_strlen(name), message, len, &l, &m)) return false;
    return kiln_v1_log(l, m) == 0;
}
static inline bool kiln_host_log(kiln_log_level_t level, const char* message) {
    return kiln_host_log_n(level, message, kiln_strlen(message));
}

/* ---- scope (the call's variables: permission scope: [read, write]) ----------------------------
 */

/* The JSON text of the scope's `key`; KILN_HOST_ABSENT when the scope has no such key. */
static inline int64_t kiln_scope_get(const char* key, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_scope_get, key, kiln_strlen(key), buf, cap);
}
/* Sets the scope's `key` to a value given as JSON text. */
static inline bool kiln_scope_set(const char* key, const char* value_json) {
    kiln_handle_t k, v;
    if (!kiln__give2(key, kiln_strlen(key), value_json, kiln_strlen(value_json), &k, &v))
        return false;
    return kiln_v1_scope_set(k, v) == 0;
}

/* ---- kv (the plugin's state, kept across restarts: permission kv: [read, write]) ------------ */

/* The value of `key` (1 to 1024 bytes); KILN_HOST_ABSENT when it has none. */
static inline int64_t kiln_kv_get_n(const char* key, size_t key_len, void* buf, size_t cap) {
    return kiln__value1(kiln_v1_kv_get, key, key_len, buf, cap);
}
static inline int64_t kiln_kv_get(const char* key, void* buf, size_t cap) {
    return kiln_kv_get_n(key, kiln_strlen(key), buf, cap);
}
/* Sets `key` to the bytes, committed before it returns; false past the plugin's quota too. */
static inline bool kiln_kv_set_n(const char* key, size_t key_len, const void* value, size_t len) {
    kiln_handle_t k, v;
    if (!kiln__give2(key, key_len, value, len, &k, &v)) return false;
    return kiln_v1_kv_set(k, v) == 0;
}
static inline bool kiln_kv_set(const char* key, const void* value, size_t len) {
    return kiln_kv_set_n(key, kiln_strlen(key), value, len);
}
static inline bool kiln_kv_set_str(const char* key, const char* value) {
    return kiln_kv_set(key, value, kiln_strlen(value));
}
/* Deletes `key`; true whether or not it was there. */
static inline bool kiln_kv_delete_n(const char* key, size_t key_len) {
    kiln_handle_t k;
    if (!kiln__give(key, key_len, &k)) return false;
    return kiln_v1_kv_delete(k) == 0;
}
static inline bool kiln_kv_delete(const char* key) {
    return kiln_kv_delete_n(key, kiln_strlen(key));
}
/* The keys starting with `prefix` ("" for all) as a JSON array, in byte order. */
static inline int64_t kiln_kv_list(const char* prefix, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_kv_list, prefix, kiln_strlen(prefix), buf, cap);
}

/* ---- db (SQL on databases the host grants: permission database: [NAME]) ---------------------- */

/* {"connection", "sql", "params"?} -> {"rows": [...]}, or {"changes", "last_insert_rowid"}. */
static inline int64_t kiln_db_query(const char* request_json, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_db_query, request_json, kiln_strlen(request_json), buf, cap);
}

/* ---- files (under granted prefixes: permission filesystem: [PREFIX], rw:PREFIX to write) ----- */

/* The file's bytes. */
static inline int64_t kiln_file_read(const char* path, void* buf, size_t cap) {
    return kiln__value1(kiln_v1_file_read, path, kiln_strlen(path), buf, cap);
}
/* Writes the file whole. */
static inline bool kiln_file_write(const char* path, const void* content, size_t len) {
    kiln_handle_t p, c;
    if (!kiln__give2(path, kiln_strlen(path), content, len, &p, &c)) return false;
    return kiln_v1_file_write(p, c) == 0;
}
/* A folder's entries: {"entries": [{"name", "type", "size", "modified"}]}. */
static inline int64_t kiln_file_list(const char* path, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_file_list, path, kiln_strlen(path), buf, cap);
}
/* {"type": "file"|"directory"|"symlink"|"other", "size", "modified"}. */
static inline int64_t kiln_file_stat(const char* path, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_file_stat, path, kiln_strlen(path), buf, cap);
}

/* ---- env, http, host operations -------------------------------------------------------------- */

/* A variable named in the grant (env: [NAME]); KILN_HOST_ABSENT when unset or denied (a denied
 * variable is absent to the plugin, and a denial in the host's audit log). */
static inline int64_t kiln_host_env_get(const char* name, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_env_get, name, kiln_strlen(name), buf, cap);
}

/* {"url", "method"?, "headers"?, "body"?} -> {"status", "body", "headers"} (network grants). */
static inline int64_t kiln_host_http_request(const char* request_json, char* buf, size_t cap) {
    return kiln__value1(kiln_v1_http_request, request_json, kiln_strlen(request_json), buf, cap);
}

/* Calls the host's operation (e.g. "query:files.list", permission operations: [PREFIX]) with a
 * JSON payload; its JSON result. */
static inline int64_t kiln_host_call(const char* operation, const char* payload_json, char* buf,
                                     size_t cap) {
    kiln_handle_t o, p;
    if (!kiln__give2(operation, kiln_strlen(operation), payload_json, kiln_strlen(payload_json), &o,
                     &p))
        return KILN_HOST_FAILED;
    return kiln_host_take(kiln_v1_host_call(o, p), buf, cap);
}

#ifdef __cplusplus
} /* extern "C" */

/* ---- C++ ------------------------------------------------------------------------------------- */
#ifdef KILN_PDK_HAVE_STD

namespace kiln {
namespace pdk {

/* What a kiln:host/v1 function returning a value gave: its value, none, or why it failed. */
struct HostValue {
    std::optional<std::string> value; /* none: absent, or failed */
    std::string error;                /* not empty: the function failed */
    bool ok() const { return error.empty(); }
};

/* A value function's result (its block, taken) as a HostValue. */
inline HostValue host_value(kiln_handle_t block) {
    HostValue out;
    if (block)
        out.value = Memory(block).to_string();
    else
        out.error = host_error();
    return out;
}

/* Calls a value function of one argument. */
inline HostValue host_value1(kiln_handle_t (*fn)(kiln_handle_t), std::string_view arg) {
    kiln_handle_t h;
    if (!kiln__give(arg.data(), arg.size(), &h)) return HostValue{std::nullopt, "out of memory"};
    return host_value(fn(h));
}

inline bool host_log(LogLevel level, std::string_view message) {
    return kiln_host_log_n(level, message.data(), message.size());
}
inline HostValue scope_get(std::string_view key) {
    return host_value1(kiln_v1_scope_get, key);
}
inline bool scope_set(std::string_view key, std::string_view value_json) {
    kiln_handle_t k, v;
    return kiln__give2(key.data(), key.size(), value_json.data(), value_json.size(), &k, &v) &&
           kiln_v1_scope_set(k, v) == 0;
}
inline HostValue kv_get(std::string_view key) {
    return host_value1(kiln_v1_kv_get, key);
}
inline bool kv_set(std::string_view key, std::string_view value) {
    return kiln_kv_set_n(key.data(), key.size(), value.data(), value.size());
}
inline bool kv_delete(std::string_view key) {
    return kiln_kv_delete_n(key.data(), key.size());
}
inline HostValue kv_list(std::string_view prefix) {
    return host_value1(kiln_v1_kv_list, prefix);
}
inline HostValue db_query(std::string_view request_json) {
    return host_value1(kiln_v1_db_query, request_json);
}
inline HostValue file_read(std::string_view path) {
    return host_value1(kiln_v1_file_read, path);
}
inline bool file_write(std::string_view path, std::string_view content) {
    kiln_handle_t p, c;
    return kiln__give2(path.data(), path.size(), content.data(), content.size(), &p, &c) &&
           kiln_v1_file_write(p, c) == 0;
}
inline HostValue file_list(std::string_view path) {
    return host_value1(kiln_v1_file_list, path);
}
inline HostValue file_stat(std::string_view path) {
    return host_value1(kiln_v1_file_stat, path);
}
inline HostValue env_get(std::string_view name) {
    return host_value1(kiln_v1_env_get, name);
}
inline HostValue host_http_request(std::string_view request_json) {
    return host_value1(kiln_v1_http_request, request_json);
}
inline HostValue host_call(std::string_view operation, std::string_view payload_json) {
    kiln_handle_t o, p;
    if (!kiln__give2(operation.data(), operation.size(), payload_json.data(), payload_json.size(),
                     &o, &p))
        return HostValue{std::nullopt, "out of memory"};
    return host_value(kiln_v1_host_call(o, p));
}

} // namespace pdk
} // namespace kiln

#endif /* KILN_PDK_HAVE_STD */
#endif /* __cplusplus */

#endif /* KILN_HOST_H */
