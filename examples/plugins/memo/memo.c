/* memo (C): an example of kiln/host.h. Its commands keep short memos by key in the plugin's kv
 * state (permission kv: [read, write]), which survives restarts of the host, and log what they
 * change. Freestanding: no libc, no heap.
 *
 *   memo.set {"key": "a", "text": "milk"} -> {"key": "a", "bytes": 4}
 *   memo.get {"key": "a"}                 -> {"text": "milk"}, {"text": null} when there is none
 *   memo.list {"prefix": "a"}             -> ["a"] (every key without a prefix)
 *   memo.delete {"key": "a"}              -> null */
#include <kiln/host.h>

static char input_buf[4096];
static char key_buf[1025];
static char value_buf[4096];
static char out_buf[8192];

/* The command's answer for a kiln:host/v1 function that failed: {"ok": false, "error"}. */
static int32_t host_failed(void) {
    kiln_host_error(out_buf, sizeof out_buf);
    return kiln_command_error(out_buf);
}

/* The string field `name` of the payload, decoded into buf; false when missing or too long. */
static bool string_field(const kiln_command_t* c, const char* name, char* buf, size_t cap) {
    size_t len = 0;
    const char* v = kiln_json_field(c->payload, c->payload_len, name, &len);
    if (!v) return false;
    int64_t n = kiln_json_string(v, len, buf, cap);
    return n >= 0 && (uint64_t)n < cap;
}

/* Appends the NUL-terminated s to out_buf at *at; false when it does not fit. */
static bool append(size_t* at, const char* s, size_t len) {
    if (*at + len > sizeof out_buf) return false;
    for (size_t i = 0; i < len; i++)
        out_buf[(*at)++] = s[i];
    return true;
}

/* Appends `s` as a JSON string literal (quotes, backslashes and control bytes escaped). */
static bool append_json(size_t* at, const char* s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    if (!append(at, "\"", 1)) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t n = 2;
        if (ch < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        bool ok = ch == '"' || ch == '\\' || ch < 0x20 ? append(at, esc, n) : append(at, s + i, 1);
        if (!ok) return false;
    }
    return append(at, "\"", 1);
}

static int32_t memo_set(const kiln_command_t* c) {
    if (!string_field(c, "key", key_buf, sizeof key_buf) ||
        !string_field(c, "text", value_buf, sizeof value_buf))
        return kiln_command_error("expected {\"key\": STRING, \"text\": STRING}");
    size_t len = kiln_strlen(value_buf);
    if (!kiln_kv_set(key_buf, value_buf, len)) return host_failed();
    kiln_host_log(KILN_LOG_INFO, "memo kept");
    char digits[KILN_DEC_SIZE];
    size_t at = 0;
    size_t n = kiln_fmt_u64(len, digits);
    if (!append(&at, "{\"key\":", 7) || !append_json(&at, key_buf, kiln_strlen(key_buf)) ||
        !append(&at, ",\"bytes\":", 9) || !append(&at, digits, n) || !append(&at, "}", 1))
        return kiln_command_error("the answer is too long");
    return kiln_command_ok_n(out_buf, at);
}

static int32_t memo_get(const kiln_command_t* c) {
    if (!string_field(c, "key", key_buf, sizeof key_buf))
        return kiln_command_error("expected {\"key\": STRING}");
    int64_t len = kiln_kv_get(key_buf, value_buf, sizeof value_buf);
    if (len == KILN_HOST_FAILED) return host_failed();
    if (len == KILN_HOST_ABSENT) return kiln_command_ok("{\"text\":null}");
    if ((uint64_t)len >= sizeof value_buf) return kiln_command_error("the memo is too long");
    size_t at = 0;
    if (!append(&at, "{\"text\":", 8) || !append_json(&at, value_buf, (size_t)len) ||
        !append(&at, "}", 1))
        return kiln_command_error("the answer is too long");
    return kiln_command_ok_n(out_buf, at);
}

static int32_t memo_list(const kiln_command_t* c) {
    if (!string_field(c, "prefix", key_buf, sizeof key_buf)) key_buf[0] = '\0';
    int64_t len = kiln_kv_list(key_buf, out_buf, sizeof out_buf);
    if (len == KILN_HOST_FAILED) return host_failed();
    if (len < 0 || (uint64_t)len >= sizeof out_buf) return kiln_command_error("too many memos");
    return kiln_command_ok_n(out_buf, (size_t)len);
}

static int32_t memo_delete(const kiln_command_t* c) {
    if (!string_field(c, "key", key_buf, sizeof key_buf))
        return kiln_command_error("expected {\"key\": STRING}");
    if (!kiln_kv_delete(key_buf)) return host_failed();
    kiln_host_log(KILN_LOG_INFO, "memo forgotten");
    return kiln_command_ok(0);
}

KILN_EXPORT(handle_command) {
    uint64_t n = kiln_input_read(input_buf, sizeof input_buf);
    kiln_command_t c;
    if (n > sizeof input_buf || !kiln_command_parse(input_buf, (size_t)n, &c))
        return kiln_command_error("expected {\"action\", \"payload\"}");
    if (kiln_slice_is(c.action, c.action_len, "memo.set")) return memo_set(&c);
    if (kiln_slice_is(c.action, c.action_len, "memo.get")) return memo_get(&c);
    if (kiln_slice_is(c.action, c.action_len, "memo.list")) return memo_list(&c);
    if (kiln_slice_is(c.action, c.action_len, "memo.delete")) return memo_delete(&c);
    return kiln_command_error("unknown command");
}
