/* count_vowels (C): counts the input bytes that appear in the `vowels` config (default
 * "aeiouAEIOU"), adds the count to the var `total` (kept as decimal text) and outputs
 * {"count":N,"total":N,"vowels":"..."}. count_vowels.rs does the same and must give
 * byte-identical outputs. Freestanding: no libc, no heap. */
#include <kiln/pdk.h>

#define MAX_VOWELS 1024

/* Room for the longest output: a vowels string of control bytes, each escaped as \u00XX
 * (6 bytes), plus the fixed text and two numbers. */
static char out[MAX_VOWELS * 6 + 96];
static size_t out_len;

static void put(const char* s, size_t len) {
    for (size_t i = 0; i < len; i++)
        out[out_len++] = s[i];
}
static void put_str(const char* s) {
    put(s, kiln_strlen(s));
}
static void put_i64(int64_t v) {
    char buf[KILN_DEC_SIZE];
    put(buf, kiln_fmt_i64(v, buf));
}
/* JSON string contents: quote and backslash escaped, control bytes as \u00xx, other bytes as
 * they are (so UTF-8 stays UTF-8). */
static void put_json_escaped(const char* s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[out_len++] = '\\';
            out[out_len++] = (char)c;
        } else if (c < 0x20) {
            put_str("\\u00");
            out[out_len++] = hex[c >> 4];
            out[out_len++] = hex[c & 15];
        } else {
            out[out_len++] = (char)c;
        }
    }
}

KILN_EXPORT(count_vowels) {
    static const char default_vowels[] = "aeiouAEIOU";
    char vowels[MAX_VOWELS + 1];
    const char* set = vowels;
    int64_t set_len = kiln_config_get("vowels", vowels, sizeof vowels);
    if (set_len < 0) {
        set = default_vowels;
        set_len = (int64_t)(sizeof default_vowels - 1);
    } else if (set_len > MAX_VOWELS) {
        return kiln_fail("config `vowels` is longer than 1024 bytes");
    }

    /* A 256-bit set makes the count one lookup per input byte. */
    uint64_t is_vowel[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < set_len; i++) {
        unsigned char c = (unsigned char)set[i];
        is_vowel[c >> 6] |= (uint64_t)1 << (c & 63);
    }

    /* Streamed in chunks, so no buffer limits the input's size. */
    unsigned char chunk[4096];
    int64_t count = 0;
    for (uint64_t off = 0, n; (n = kiln_input_read_at(off, chunk, sizeof chunk)) > 0; off += n)
        for (uint64_t i = 0; i < n; i++)
            count += (int64_t)((is_vowel[chunk[i] >> 6] >> (chunk[i] & 63)) & 1);

    /* kiln_var_get rather than kiln_var_get_i64, to tell "unset" (start at 0) from "garbage". */
    char text[KILN_DEC_SIZE];
    int64_t text_len = kiln_var_get("total", text, sizeof text);
    int64_t total = 0;
    if (text_len >= 0 &&
        (text_len >= (int64_t)sizeof text || !kiln_parse_i64(text, (size_t)text_len, &total)))
        return kiln_fail("var `total` is not a decimal number");
    total = (int64_t)((uint64_t)total + (uint64_t)count); /* wraps, as in Rust's wrapping_add */
    if (!kiln_var_set_i64("total", total)) return kiln_fail("out of kernel memory");

    out_len = 0;
    put_str("{\"count\":");
    put_i64(count);
    put_str(",\"total\":");
    put_i64(total);
    put_str(",\"vowels\":\"");
    put_json_escaped(set, (size_t)set_len);
    put_str("\"}");
    if (!kiln_output_set_bytes(out, out_len)) return kiln_fail("out of kernel memory");
    return 0;
}
