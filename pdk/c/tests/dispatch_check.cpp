// Compile check for the C++ part of kiln/dispatch.h: the C check compiled as C++, plus every
// kiln::pdk dispatch function where the standard library exists.
#include "dispatch_check.c"

KILN_EXPORT(check_dispatch_cpp) {
#ifdef KILN_PDK_HAVE_STD
    using namespace kiln::pdk;
    std::string s = host_error();
    if (!publish("a.b", "{}") || !subscribe("a.*") || !unsubscribe("a.*")) return fail(s);
    if (auto e = event_input()) s += e->topic + e->data;
    if (auto c = command_input()) return command_ok(c->payload + c->action);
    return fail(s);
#else
    return 0;
#endif
}
