// libFuzzer target for the front end: decoding, validation and lowering of arbitrary bytes,
// then instantiation with no imports. Any input may be rejected; none may crash, leak or hit
// undefined behaviour. Built with -DKILN_FUZZ=ON under clang (see docs/testing.md).
//
// Modules with a start function are not instantiated: nothing bounds its running time yet
// (there is no fuel), and an endless loop would read as a fuzzer timeout.
#include "engine/runtime/store.hpp"

#include <cstddef>
#include <cstdint>

namespace {

// Small stacks keep a Store cheap to create once per input.
constexpr kiln::engine::EngineConfig fuzz_config{.max_call_depth = 256,
                                                 .max_stack_slots = 1u << 14};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln::engine;
    Engine engine(fuzz_config);
    auto compiled = compile(engine, {data, size});
    if (!compiled || (*compiled)->module->start) return 0;
    Store store(engine);
    Linker linker;
    (void)linker.instantiate(store, *compiled);
    return 0;
}
