// The interpreter loop: threaded dispatch over lowered code with an explicit frame stack.
#pragma once

#include "engine/interp/code.hpp"
#include "engine/runtime/objects.hpp"

#include <optional>

namespace kiln::engine {

/// A suspended caller: where to continue, its frame and function.
struct Frame {
    const Cell* ret_pc;
    uint64_t* fp;
    FuncInst* func;
};

/// The value stack and frame stack a Store runs on. `*_free` mark the first unused entry, so a
/// host function that calls back into wasm continues above the frames of its caller.
struct ExecStack {
    uint64_t* slots_begin = nullptr;
    uint64_t* slots_end = nullptr;
    uint64_t* slots_free = nullptr;
    Frame* frames_begin = nullptr;
    Frame* frames_end = nullptr;
    Frame* frames_free = nullptr;
};

/// Handler addresses, indexed by IOp.
const void* const* interp_handlers();

/// Runs the wasm function `f` whose arguments are in fp[0..params); leaves its results in
/// fp[0..results). Returns a trap if execution trapped.
std::optional<Trap> interp_run(Store& store, ExecStack& stack, FuncInst* f, uint64_t* fp);

} // namespace kiln::engine
