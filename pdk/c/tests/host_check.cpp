// Compile check for the C++ part of kiln/host.h: the C check compiled as C++, plus every
// kiln::pdk host function where the standard library exists.
#include "host_check.c"

KILN_EXPORT(check_host_cpp) {
#ifdef KILN_PDK_HAVE_STD
    using namespace kiln::pdk;
    std::string s;
    if (!host_log(KILN_LOG_INFO, "hi") || !scope_set("k", "1") || !kv_set("k", "v") ||
        !kv_delete("k") || !file_write("out.txt", "x"))
        return fail(host_error());
    for (const HostValue& v :
         {scope_get("k"), kv_get("k"), kv_list(""), db_query("{}"), file_read("a"), file_list("."),
          file_stat("a"), env_get("HOME"), host_http_request("{}"), host_call("query:x", "{}")}) {
        if (!v.ok()) return fail(v.error);
        s += v.value.value_or("");
    }
    return set_output(s) ? 0 : 1;
#else
    return 0;
#endif
}
