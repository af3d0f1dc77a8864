// Compile check for the C++ part of kiln/pdk.h: the C check compiled as C++, plus every
// kiln::pdk function (the std::string ones only where the standard library exists).
#include "api_check.c"

KILN_EXPORT(check_cpp) {
    using namespace kiln::pdk;
    Memory a = Memory::alloc(8);
    Memory b = Memory::from_bytes("abc", 3);
    a = static_cast<Memory&&>(b);
    char buf[3];
    a.load(0, buf, 3);
    a.store(0, buf, 3);
    Memory c(static_cast<Memory&&>(a));
    if (!c || c.length() != 3) return 1;
    kiln_mem_free(Memory(kiln_mem_alloc(1)).release());
    set_output(static_cast<Memory&&>(c));
#ifdef KILN_PDK_HAVE_STD
    std::string in = input();
    set_output(in);
    set_output(Memory::from(in));
    std::string s = Memory::from("x").to_string();
    if (auto v = config("key")) s += *v;
    if (auto v = var("v")) s += *v;
    set_var("v", s);
    delete_var("v");
    log(KILN_LOG_INFO, s);
    log_trace(s);
    log_debug(s);
    log_info(s);
    log_warn(s);
    log_error(s);
    HttpResponse r = http_get("http://localhost/");
    kiln_http_request_t req{"PUT", "http://localhost/", nullptr, 0};
    r = http_request(req, "body");
    if (r.status != 200) set_error(r.body);
    return fail(s);
#else
    return 0;
#endif
}
