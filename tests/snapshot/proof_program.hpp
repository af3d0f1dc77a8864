// The host side of proof.wat, shared by the snapshot proof and the snapshot fuzzer: env.pause
// and the linker that defines it. A store built with proof_linker() in one process restores a
// snapshot taken of one built the same way in another.
#pragma once

#include <kiln/kiln.hpp>

#include <cstdint>

namespace kiln::test {

/// What env.pause does in one store (attach with Store::set_data): it counts its calls and
/// suspends the call numbered `suspend_at` (1-based; 0 never), remembering its argument.
struct PauseState {
    uint32_t suspend_at = 0;
    uint32_t calls = 0;
    int32_t asked = -1;
};

/// The number env.pause returns for `n` when it does not suspend; a resumed call is given the
/// same number, so a suspension there changes nothing.
int32_t pause_value(int32_t n);

/// A linker with env.pause, the only import of proof.wat.
Linker proof_linker();

} // namespace kiln::test
