// libFuzzer target for the text format: any bytes as a .wat module and as a .wast script.
// Conversion may refuse the input; it may not crash, hang or hit undefined behaviour, and what
// it accepts is compiled, so the binary it writes is exercised too. Built with -DKILN_FUZZ=ON
// under clang (see docs/testing.md); corpus/text/ seeds it, and the spec suite's .wast files
// make a larger corpus.
#include "text/script.hpp"

#include <kiln/kiln.hpp>
#include <kiln/text.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const kiln::Engine engine;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto wasm = kiln::wat_to_wasm(text, "fuzz.wat")) (void)kiln::Module::compile(engine, *wasm);
    if (auto script = kiln::text::Script::parse(std::string(text), "fuzz.wast"))
        for (const auto& command : script->commands())
            if (command.module) (void)script->encode(*command.module);
    return 0;
}
