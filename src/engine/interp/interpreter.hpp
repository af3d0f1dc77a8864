// The interpreter loop: threaded dispatch over lowered code with an explicit frame stack.
#pragma once

#include "engine/interp/code.hpp"
#include "engine/runtime/control.hpp"
#include "engine/runtime/objects.hpp"

#include <optional>

namespace kiln::engine {

/// A suspended caller: where to continue, its frame and function.
struct Frame {
    const Cell* ret_pc;
    uint64_t* fp;
    FuncInst* func;
};

/// Registers of a call stopped by fuel exhaustion or a suspend-mode interrupt.
struct Suspension {
    const Cell* pc = nullptr;     ///< the fuel check to run again on resume
    uint64_t* fp = nullptr;
    Frame* fsp = nullptr;
    FuncInst* cur = nullptr;
    Frame* frames_bottom = nullptr;
    FuncInst* entry = nullptr;    ///< the function the host called
    uint64_t* entry_fp = nullptr; ///< where its arguments were and its results will be
    uint64_t* saved_slots_free = nullptr;
    Frame* saved_frames_free = nullptr;
    TrapKind reason = TrapKind::out_of_fuel;
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
    ExecControl* control = nullptr;
    unsigned active_runs = 0;            ///< nested interpreter runs (host re-entry)
    Instance* host_caller = nullptr;     ///< calling instance of the running host function
    std::optional<Suspension> suspended; ///< at most one suspended call per store
};

enum class RunStatus { done, trapped, suspended };

/// Handler addresses, indexed by IOp.
const void* const* interp_handlers();

/// Runs the wasm function `f` whose arguments are in fp[0..params); leaves its results in
/// fp[0..results). On `trapped`, `trap` says why; on `suspended`, stack.suspended holds the state.
RunStatus interp_run(Store& store, ExecStack& stack, FuncInst* f, uint64_t* fp,
                     std::optional<Trap>& trap);

/// Continues the suspended call in stack.suspended (results land at its entry_fp).
RunStatus interp_resume(Store& store, ExecStack& stack, std::optional<Trap>& trap);

} // namespace kiln::engine
