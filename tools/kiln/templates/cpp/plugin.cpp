// {{name}}: a Kiln plugin (Extism ABI) in C++. Each KILN_EXPORT(name) is a function the host can
// call with bytes in and bytes out; it returns 0 for success. include/kiln/pdk.h is the kit, and
// kiln::pdk its C++ side. Built without exceptions: report failures with fail().
#include <kiln/pdk.h>

#include <string>

using namespace kiln::pdk;

// Answers the input with "GREETING, INPUT!", GREETING being the config key `greeting` (from the
// manifest or `kiln call --config greeting=...`), "Hello" by default.
KILN_EXPORT(greet) {
    std::string name = input();
    std::string greeting = config("greeting").value_or("Hello");
    log_debug("greeting " + name);
    return set_output(greeting + ", " + name + "!") ? 0 : fail("out of kernel memory");
}
