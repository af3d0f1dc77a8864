#include "proof_program.hpp"

namespace kiln::test {

int32_t pause_value(int32_t n) {
    return int32_t((uint32_t(n) * 2654435761u) ^ 0x5bd1e995u);
}

Linker proof_linker() {
    Linker linker;
    linker.func_wrap("env", "pause", [](Caller& caller, int32_t n) -> Result<int32_t> {
        PauseState* state = caller.data<PauseState>();
        if (state && ++state->calls == state->suspend_at) {
            state->asked = n;
            if (auto ok = caller.suspend(); !ok) return tl::unexpected(ok.error());
        }
        return pause_value(n);
    });
    return linker;
}

} // namespace kiln::test
