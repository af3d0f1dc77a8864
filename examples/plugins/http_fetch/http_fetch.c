/* http_fetch (C): GETs the URL given as input and outputs the response body. The host only
 * lets it reach the manifest's allowed_hosts. Freestanding. */
#include <kiln/pdk.h>

static char url[4096];

KILN_EXPORT(fetch) {
    uint64_t len = kiln_input_read(url, sizeof url - 1);
    if (len == 0) return kiln_fail("the input must be a URL");
    if (len >= sizeof url) return kiln_fail("the URL is longer than 4095 bytes");
    url[len] = '\0';
    if (kiln_strlen(url) != len) return kiln_fail("the URL contains a NUL byte");

    kiln_http_response_t res = kiln_http_get(url);
    if (res.status < 0) return kiln_fail("out of kernel memory");

    /* Checking the level first skips building a message nobody reads. */
    if (kiln_log_enabled(KILN_LOG_DEBUG)) {
        static char msg[sizeof url + 48];
        size_t n = 0;
        for (const char* p = "GET "; *p; p++)
            msg[n++] = *p;
        for (uint64_t i = 0; i < len; i++)
            msg[n++] = url[i];
        for (const char* p = ": status "; *p; p++)
            msg[n++] = *p;
        n += kiln_fmt_i64(res.status, msg + n);
        kiln_log_n(KILN_LOG_DEBUG, msg, n);
    }
    kiln_output_set_block(res.body, res.body_length);
    return 0;
}
