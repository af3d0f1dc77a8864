/* counter (C): exports increment, decrement and reset over a counter kept in the var `count`
 * (decimal text). It starts from the config `initial_value` (default 0) and each export outputs
 * the new value as decimal text. Freestanding: no libc, no heap. */
#include <kiln/pdk.h>

/* The config `initial_value`, or 0 when absent; false (with the error set) when malformed. */
static bool initial_value(int64_t* out) {
    char text[KILN_DEC_SIZE];
    int64_t len = kiln_config_get("initial_value", text, sizeof text);
    *out = 0;
    if (len < 0) return true;
    if (len >= (int64_t)sizeof text || !kiln_parse_i64(text, (size_t)len, out)) {
        kiln_error_set_str("config `initial_value` is not a decimal integer");
        return false;
    }
    return true;
}

/* The counter's value: the var when set, else the initial value. */
static bool current(int64_t* out) {
    char text[KILN_DEC_SIZE];
    int64_t len = kiln_var_get("count", text, sizeof text);
    if (len < 0) return initial_value(out);
    if (len >= (int64_t)sizeof text || !kiln_parse_i64(text, (size_t)len, out)) {
        kiln_error_set_str("var `count` is not a decimal integer");
        return false;
    }
    return true;
}

/* Stores the new value and makes its decimal text the output. */
static int32_t finish(int64_t value) {
    char text[KILN_DEC_SIZE];
    size_t len = kiln_fmt_i64(value, text);
    if (!kiln_var_set("count", text, len) || !kiln_output_set_bytes(text, len))
        return kiln_fail("out of kernel memory");
    return 0;
}

KILN_EXPORT(increment) {
    int64_t value;
    if (!current(&value)) return 1;
    if (value == INT64_MAX) return kiln_fail("the counter would overflow");
    return finish(value + 1);
}

KILN_EXPORT(decrement) {
    int64_t value;
    if (!current(&value)) return 1;
    if (value == INT64_MIN) return kiln_fail("the counter would overflow");
    return finish(value - 1);
}

KILN_EXPORT(reset) {
    int64_t value;
    if (!initial_value(&value)) return 1;
    return finish(value);
}
