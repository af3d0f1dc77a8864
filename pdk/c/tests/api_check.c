/* Compile check for kiln/pdk.h: calls every helper once, so that building this file for
 * wasm32-unknown-unknown (no libc) and wasm32-wasi (wasi-libc), as C and as C++ (api_check.cpp
 * includes it), shows the header is complete, warning-free and needs no libc in its core. */
#include <kiln/pdk.h>

KILN_HOST_FN("extism:host/user", "hello") uint64_t check_hello(uint64_t input);
KILN_HOST_USER_FN("world") void check_world(void);

KILN_EXPORT_AS("check-core") int32_t check_core(void);
int32_t check_core(void) {
    char buf[64];
    char dec[KILN_DEC_SIZE];
    int64_t parsed = 0;
    uint64_t sum = 0;

    sum += kiln_fmt_u64(18446744073709551615ull, dec);
    sum += kiln_fmt_i64(INT64_MIN, dec);
    sum += kiln_parse_i64(dec, kiln_strlen(dec), &parsed);

    kiln_handle_t m = kiln_mem_alloc(16);
    kiln_mem_store(m, 0, "0123456789abcdef", 16);
    kiln_mem_load(m, 8, buf, 8);
    sum += kiln_mem_length(m) + kiln_mem_read(m, buf, sizeof buf);
    kiln_mem_free(m);
    kiln_mem_free(kiln_mem_new_str("x"));

    sum += kiln_input_length() + kiln_input_read(buf, sizeof buf);
    for (uint64_t off = 0, n; (n = kiln_input_read_at(off, buf, sizeof buf)) > 0; off += n)
        sum += n;
    kiln_handle_t in = kiln_input_to_block();
    kiln_mem_free(check_hello(in));
    check_world();

    sum += (uint64_t)kiln_config_get("key", buf, sizeof buf);
    sum += (uint64_t)kiln_config_get_n("key", 3, buf, sizeof buf);
    kiln_mem_free(kiln_config_get_block("key"));
    kiln_mem_free(kiln_config_get_block_n("key", 3));

    sum += (uint64_t)kiln_var_get("v", buf, sizeof buf) + (uint64_t)kiln_var_get_n("v", 1, buf, 8);
    kiln_mem_free(kiln_var_get_block("v"));
    kiln_mem_free(kiln_var_get_block_n("v", 1));
    sum += kiln_var_set("v", "abc", 3) + kiln_var_set_n("v", 1, "abc", 3);
    sum += kiln_var_set_str("v", "abc") + kiln_var_set_i64("n", -5);
    sum += kiln_var_get_i64("n", &parsed);
    kiln_var_delete("v");
    kiln_var_delete_n("v", 1);

    if (kiln_log_enabled(KILN_LOG_DEBUG)) kiln_log(KILN_LOG_DEBUG, "debug");
    kiln_log_n(KILN_LOG_INFO, "info!", 4);
    kiln_log_trace("t");
    kiln_log_debug("d");
    kiln_log_info("i");
    kiln_log_warn("w");
    kiln_log_error("e");

    kiln_http_header_t headers[] = {{"Accept", "text/plain"}, {"X-Quote", "\"\\\n"}};
    kiln_http_request_t req = {"POST", "http://localhost/", headers, 2};
    kiln_mem_free(kiln_http_request_block(&req));
    kiln_http_response_t res = kiln_http_send(&req, "body", 4);
    kiln_mem_free(res.body);
    res = kiln_http_get("http://localhost/");
    kiln_mem_free(kiln_http_headers_block());

    if (sum == 7) return kiln_fail("unlucky");
    if (sum == 8) kiln_error_set_bytes("unlucky", 7);
    if (sum == 9) return kiln_output_set_str("nine") ? 0 : 1;
    if (sum == 10) kiln_output_set_block(res.body, res.body_length);
    return kiln_output_set_bytes(buf, 4) ? 0 : 1;
}

/* The job helpers (module kiln:host/v1). */
KILN_EXPORT(check_jobs) {
    char state[64];
    uint64_t len = kiln_job_load_state(state, sizeof state);
    kiln_job_progress(0.5, "half");
    kiln_job_progress(0.5, 0);
    kiln_job_items(1, 2);
    kiln_job_log(KILN_LOG_INFO, "log");
    if (kiln_job_check_interrupt() != KILN_JOB_CONTINUE) return 0;
    if (!kiln_job_checkpoint("{}") || !kiln_job_checkpoint_n(state, (size_t)len)) return 1;
    return 0;
}

#ifdef KILN_PDK_HAVE_LIBC
KILN_EXPORT(check_libc) {
    uint64_t len = 0;
    free(kiln_input_malloc(&len));
    free(kiln_config_get_malloc("key"));
    free(kiln_var_get_malloc("v", &len));
    free(kiln_mem_read_malloc(kiln_env_input_offset(), &len));
    return (int32_t)len;
}
#endif
