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
    const Cell* pc = nullptr; ///< the fuel check to run again on resume
    uint64_t* fp = nullptr;
    Frame* fsp = nullptr;
    FuncInst* cur = nullptr;
    Frame* frames_bottom = nullptr; ///< its host entry's sentinel frame (frames_free at its start)
    FuncInst* entry = nullptr;      ///< the function the host called
    uint64_t* entry_fp = nullptr;   ///< that function's frame (slots_free at its start)
    TrapKind reason = TrapKind::out_of_fuel;
    FuncInst* host = nullptr;       ///< reason yielded: the host function that asked
    uint64_t* host_slots = nullptr; ///< where that function's results go on resume
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
    bool yield_requested = false;        ///< the running host function asked to suspend
    std::optional<Suspension> suspended; ///< at most one suspended call per store
    std::optional<Trap> trap;            ///< why the last call trapped or was suspended
};

enum class RunStatus { done, trapped, suspended };

/// Handler addresses, indexed by IOp.
const void* const* interp_handlers();

/// What the interpreter ran on one thread, counted in builds with the CMake option
/// KILN_INTERP_STATS.
struct InterpStats {
    uint64_t dispatches = 0;        ///< instructions of the internal code
    uint64_t wasm_instructions = 0; ///< the wasm instructions they were lowered from
};

/// This thread's counts so far; nullopt in builds without KILN_INTERP_STATS.
std::optional<InterpStats> interp_stats();

/// Calls `f` (wasm or host) from the host: arguments in slots[0..params), results written to
/// slots[0..results) (the caller sizes `slots` for both; types are not checked). Sets up the
/// call's deadline when no other call is running. On `trapped`, stack.trap says why and the
/// instance of `f` is marked trapped; on `suspended`, stack.suspended holds the state and
/// stack.trap the reason.
RunStatus interp_call(Store& store, ExecStack& stack, FuncInst* f, uint64_t* slots);

/// Continues the suspended call in stack.suspended (none may be running); its results land in
/// `results`, sized for them. A call a host function suspended gets `host_results` (as many as
/// that function has results) as the function's results. The outcome is as for interp_call.
RunStatus interp_resume(Store& store, ExecStack& stack, uint64_t* results,
                        const uint64_t* host_results);

} // namespace kiln::engine
