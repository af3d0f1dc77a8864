/* Compile check for kiln/host.h: calls every helper once, built like dispatch_check.c (C and
 * C++, freestanding and wasm32-wasi) to show the header is complete and warning-free. */
#include <kiln/host.h>

KILN_EXPORT(check_host) {
    char buf[256];
    int64_t sum = 0;
    sum += kiln_host_log(KILN_LOG_INFO, "hello") + kiln_host_log_n(KILN_LOG_WARN, "w", 1);
    sum += kiln_scope_get("user", buf, sizeof buf) + kiln_scope_set("seen", "true");
    sum += kiln_kv_get("k", buf, sizeof buf) + kiln_kv_get_n("k", 1, buf, sizeof buf);
    sum += kiln_kv_set("k", "v", 1) + kiln_kv_set_n("k", 1, "", 0) + kiln_kv_set_str("k", "v");
    sum += kiln_kv_delete("k") + kiln_kv_delete_n("k", 1) + kiln_kv_list("", buf, sizeof buf);
    sum += kiln_db_query("{\"connection\":\"main\",\"sql\":\"SELECT 1\"}", buf, sizeof buf);
    sum += kiln_file_read("data/in.txt", buf, sizeof buf) + kiln_file_write("out.txt", "x", 1);
    sum += kiln_file_list("data", buf, sizeof buf) + kiln_file_stat("data", buf, sizeof buf);
    sum += kiln_host_env_get("HOME", buf, sizeof buf);
    sum += kiln_host_http_request("{\"url\":\"https://example.com/\"}", buf, sizeof buf);
    sum += kiln_host_call("query:files.list", "{}", buf, sizeof buf);
    sum += kiln_host_take(kiln_v1_kv_get(kiln_mem_new_str("k")), buf, 0);
    if (kiln_host_failed()) return kiln_fail_host();
    return sum == KILN_HOST_ABSENT || sum == KILN_HOST_FAILED ? 1 : 0;
}
