#include "engine/interp/interpreter.hpp"

#include "engine/binary/instr.hpp"
#include "engine/interp/simd.hpp"

#include <algorithm>
#include <cstring>
#include <pthread.h>

namespace kiln::engine {

namespace {

/// The frame of `f` stopped at cell `pc` of its code: the next instruction to run, or with
/// `after_call` the return address of a call it is making (the frame then names the call). A null
/// `pc` is the function's entry; a host function gets a host frame.
TrapFrame frame_of(const FuncInst* f, const Cell* pc, bool after_call) {
    if (!f || !f->instance) return TrapFrame{};
    const Module& m = *f->instance->module;
    const FuncCode& code = *f->code;
    uint32_t offset = code.wasm_offset(pc ? pc - (after_call ? 1 : 0) : code.code.data());
    return TrapFrame{f->index, m.func_name(f->index), m.module_name, offset};
}

/// Adds the frames of the callers saved from `top` down to the host entry's sentinel `bottom`;
/// each saved frame holds a caller and its return address.
void add_callers(Trap& t, const Frame* top, const Frame* bottom) {
    for (const Frame* f = top; f > bottom + 1; --f)
        t.frames.push_back(frame_of((f - 1)->func, (f - 1)->ret_pc, true));
}

Trap make_trap(TrapKind kind, const char* message, const FuncInst* cur, const Cell* pc,
               const Frame* top, const Frame* bottom) {
    Trap t{kind, message, {}};
    t.frames.reserve(size_t(top - bottom) + 1);
    // Every trap but one is raised with pc on the trapping instruction: a call that finds the
    // stack full has moved pc past itself.
    t.frames.push_back(frame_of(cur, pc, kind == TrapKind::stack_exhausted));
    add_callers(t, top, bottom);
    return t;
}

// Bulk memory operations longer than this are split to notice interrupts and deadlines.
constexpr uint64_t bulk_piece = 4u << 20;

// Fuel is handed to a running call in chunks; between chunks the slow path also checks for
// interrupts and the deadline, so those are noticed within one chunk of work.
constexpr int64_t fuel_chunk = 10000;

/// Moves fuel between the store and the running call. Returns the budget to continue with, or
/// the reason to stop.
enum class Refill { ok, out_of_fuel, deadline, interrupt_trap, interrupt_suspend };

Refill refill(ExecControl& c, int64_t& budget, int64_t cost) {
    switch (c.interrupt->take()) {
    case InterruptMode::trap: return Refill::interrupt_trap;
    case InterruptMode::suspend: return Refill::interrupt_suspend;
    case InterruptMode::none: break;
    }
    if (c.deadline && Clock::now() >= *c.deadline) return Refill::deadline;
    if (!c.fuel_enabled) {
        budget = std::max(fuel_chunk, cost);
        return Refill::ok;
    }
    // budget >= 0 here; c.fuel may be as large as 2^64-1, so compare without adding.
    if (c.fuel < uint64_t(cost) && uint64_t(budget) < uint64_t(cost) - c.fuel)
        return Refill::out_of_fuel;
    uint64_t take = std::min<uint64_t>(c.fuel, std::max(fuel_chunk, cost));
    c.fuel -= take;
    budget += int64_t(take);
    return Refill::ok;
}

/// Takes the first budget of a run from the store.
int64_t initial_budget(ExecControl& c) {
    // Without fuel the budget only paces checks for a deadline and interrupts: with a deadline,
    // check at once; an interrupt is noticed within a chunk.
    if (!c.fuel_enabled) return c.deadline ? 0 : fuel_chunk;
    uint64_t take = std::min<uint64_t>(c.fuel, fuel_chunk);
    c.fuel -= take;
    return int64_t(take);
}

/// Gives unspent budget back to the store when a run stops.
void return_budget(ExecControl& c, int64_t budget) {
    if (!c.fuel_enabled || budget <= 0) return;
    // Saturates: the host may have set the store's fuel to the maximum during the call.
    c.fuel = uint64_t(budget) > ~uint64_t(0) - c.fuel ? ~uint64_t(0) : c.fuel + uint64_t(budget);
}

/// Lowest usable address of this thread's native stack (cached per thread).
uintptr_t native_stack_low() {
    thread_local uintptr_t low = 0;
    if (!low) {
        pthread_attr_t attr;
        void* addr = nullptr;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &addr, &size);
            pthread_attr_destroy(&attr);
        }
        low = reinterpret_cast<uintptr_t>(addr);
    }
    return low;
}

// Wasm calls never use the native stack, but a host function that calls back into wasm nests a
// run inside its own native frames. Such re-entry stops this far from the end of the stack.
constexpr uintptr_t native_stack_reserve = 256 * 1024;

[[gnu::noinline]] bool native_stack_exhausted() {
    char probe;
    uintptr_t here = reinterpret_cast<uintptr_t>(&probe);
    uintptr_t low = native_stack_low();
    return low && here - low < native_stack_reserve;
}

const void* const* g_handlers = nullptr;

#ifndef KILN_INTERP_STATS
#define KILN_INTERP_STATS 0
#endif
#if KILN_INTERP_STATS
thread_local InterpStats t_stats;
#endif

/// Runs a call from the host (`resume` null): `entry` with its arguments in slots[0..params),
/// its results left in slots[0..results); or continues the suspended call `*resume`, whose
/// results land in `slots`. Everything a call from the host needs, from the limits to the
/// bookkeeping of the stacks, happens here, so that a call costs one native frame.
RunStatus run(Store* store, ExecStack* stack, FuncInst* entry, uint64_t* slots,
              const Suspension* resume) {
    static const void* const labels[] = {
#define KILN_IOP_X(n) &&L_##n,
        KILN_IOPS_FIXED
#define KILN_OP(name, code, text, imm, a, b, r) KILN_OPCODE_IOPS_ONE(name, code, text, imm, a, b, r)
#define KILN_OP_FD(name, code, text, imm, a, b, r)                                                 \
    KILN_OPCODE_IOPS_FD(name, code, text, imm, a, b, r)
#include "engine/binary/opcodes.def"
#undef KILN_IOP_X
    };
    static_assert(sizeof(labels) / sizeof(labels[0]) == size_t(IOp::count_));
    if (!store) {
        g_handlers = labels;
        return RunStatus::done;
    }

    ExecControl& control = *stack->control;
    const Cell* pc = nullptr;
    uint64_t* fp = nullptr;
    Frame* fsp = stack->frames_free;
    Frame* frames_bottom = fsp; // the host entry's sentinel frame
    Frame* const frames_end = stack->frames_end;
    uint64_t* const slots_end = stack->slots_end;
    FuncInst* cur = nullptr;
    FuncInst* callee = entry;
    Instance* inst = nullptr;
    uint8_t* mem = nullptr;
    uint64_t mem_size = 0;
    uint64_t* nfp = stack->slots_free;
    int64_t budget = 0;
    int64_t charge = 0; // the last fuel charge, undone if it overdrew
    sem::NumTrap ntrap = sem::NumTrap::none;
    TrapKind trap_kind = TrapKind::unreachable;
    const char* trap_msg = "";
    RunStatus status = RunStatus::done;
#if KILN_INTERP_STATS
    InterpStats stats;
#endif

#define W(k) (reinterpret_cast<const uint32_t*>(pc + 1)[k])
#if KILN_INTERP_STATS
#define DISPATCH                                                                                   \
    do {                                                                                           \
        ++stats.dispatches;                                                                        \
        stats.wasm_instructions += cur->code->wasm_counts[size_t(pc - cur->code->code.data())];    \
        goto * pc->handler;                                                                        \
    } while (0)
#else
#define DISPATCH goto * pc->handler
#endif
#define NEXT(n)                                                                                    \
    do {                                                                                           \
        pc += (n);                                                                                 \
        DISPATCH;                                                                                  \
    } while (0)
#define TRAP(kind, msg)                                                                            \
    do {                                                                                           \
        trap_kind = (kind);                                                                        \
        trap_msg = (msg);                                                                          \
        goto trap_exit;                                                                            \
    } while (0)
// Charges fuel; when the budget runs out, the slow path refills it or stops, and the current
// instruction runs again afterwards (also on resume), so a charge is never lost or doubled.
#define CHARGE(cost)                                                                               \
    do {                                                                                           \
        charge = (cost);                                                                           \
        budget -= charge;                                                                          \
        if (budget < 0) [[unlikely]]                                                               \
            goto fuel_slow;                                                                        \
    } while (0)
#define LOAD_MEM()                                                                                 \
    do {                                                                                           \
        MemoryInst* m0 = inst->memory0;                                                            \
        mem = m0 ? m0->base : nullptr;                                                             \
        mem_size = m0 ? m0->size : 0;                                                              \
    } while (0)
// Long bulk operations run in pieces, checking for interrupts and the deadline in between.
#define BULK_CHECK()                                                                               \
    do {                                                                                           \
        if (control.bulk_should_stop()) [[unlikely]] {                                             \
            if (control.interrupt->take() == InterruptMode::trap)                                  \
                TRAP(TrapKind::interrupted, "interrupted");                                        \
            TRAP(TrapKind::deadline, "deadline exceeded");                                         \
        }                                                                                          \
    } while (0)

    if (stack->active_runs == 0) {
        // An interrupt targets the running call; one raised while idle is not kept for it.
        if (control.interrupt->raised()) [[unlikely]]
            control.interrupt->take();
        if (control.timeout || control.deadline) [[unlikely]]
            control.start_deadline();
    } else if (native_stack_exhausted()) [[unlikely]] {
        ++stack->active_runs;
        TRAP(TrapKind::stack_exhausted, "call stack exhausted (host re-entry)");
    }
    ++stack->active_runs;
    budget = initial_budget(control);
    if (resume) {
        entry = resume->entry;
        pc = resume->pc;
        fp = resume->fp;
        fsp = resume->fsp;
        cur = resume->cur;
        frames_bottom = resume->frames_bottom;
        inst = cur->instance;
        LOAD_MEM();
        DISPATCH;
    }
    if (const FuncCode* c = entry->code) [[likely]] {
        // A call from the host into wasm: the sentinel frame (no return address; it holds the
        // entry's frame pointer) and the entry's frame are set up in one step. The frame has
        // room for the params and the results (lower.cpp). A host function re-entering wasm
        // when a stack is already full gets no room.
        if (fsp == frames_end || !nfp || nfp + c->frame_size > slots_end) [[unlikely]]
            TRAP(TrapKind::stack_exhausted, "call stack exhausted");
        for (uint32_t i = 0, np = c->num_params; i < np; ++i)
            nfp[i] = slots[i];
        *fsp++ = Frame{nullptr, nfp, entry};
        fp = nfp;
        for (uint64_t *p = fp + c->num_params, *e = fp + c->num_locals; p < e; ++p)
            *p = 0;
        cur = entry;
        inst = entry->instance;
        LOAD_MEM();
        pc = c->code.data();
        DISPATCH;
    }
    {
        // A host function called from the host, on the same terms.
        uint32_t np = entry->num_params, nr = entry->num_results;
        if (fsp == frames_end || !nfp || nfp + (np > nr ? np : nr) > slots_end) [[unlikely]]
            TRAP(TrapKind::stack_exhausted, "call stack exhausted");
        for (uint32_t i = 0; i < np; ++i)
            nfp[i] = slots[i];
        *fsp++ = Frame{nullptr, nfp, entry};
    }
    goto do_call;

do_call : {
    const FuncCode* c = callee->code;
    if (c) {
        if (fsp == frames_end || nfp + c->frame_size > slots_end) [[unlikely]]
            TRAP(TrapKind::stack_exhausted, "call stack exhausted");
        if (cur) *fsp++ = Frame{pc, fp, cur};
        fp = nfp;
        // Declared locals start at zero. Most functions have a few, so a plain loop beats a call
        // to memset (this file is built without loop-to-memset conversion).
        for (uint64_t *p = fp + c->num_params, *e = fp + c->num_locals; p < e; ++p)
            *p = 0;
        cur = callee;
        if (inst != callee->instance) {
            inst = callee->instance;
            LOAD_MEM();
        }
        pc = c->code.data();
        DISPATCH;
    }
    // Host function: nested wasm calls it makes start above this frame. The trap lives in its
    // own scope: no object with a destructor may be alive across a computed goto.
    {
        uint32_t np = callee->num_params, nr = callee->num_results;
        uint64_t* saved_slots = stack->slots_free;
        Frame* saved_frames = stack->frames_free;
        stack->slots_free = nfp + (np > nr ? np : nr);
        stack->frames_free = fsp;
        Instance* saved_caller = stack->host_caller;
        stack->host_caller = inst;
        std::optional<Trap> t = callee->host(*store, nfp);
        stack->host_caller = saved_caller;
        stack->slots_free = saved_slots;
        stack->frames_free = saved_frames;
        if (stack->yield_requested) [[unlikely]] {
            // Granted only to a host function called from wasm in the outermost run (see
            // Store::request_yield); a trap it also asked for wins.
            stack->yield_requested = false;
            if (!t) {
                stack->trap = Trap{TrapKind::yielded, "suspended by a host function", {}};
                stack->suspended = Suspension{pc,
                                              fp,
                                              fsp,
                                              cur,
                                              frames_bottom,
                                              entry,
                                              frames_bottom->fp,
                                              TrapKind::yielded,
                                              callee,
                                              nfp};
                // Calls made while this one is suspended run above its frames and the host
                // function's slots.
                stack->slots_free = nfp + (np > nr ? np : nr);
                stack->frames_free = fsp;
                status = RunStatus::suspended;
                goto finish;
            }
        }
        if (t) [[unlikely]] {
            std::optional<Trap>& out = stack->trap;
            out = std::move(*t);
            // After the frames of nested calls the host function made: its own, then its caller
            // at the call.
            out->frames.push_back(frame_of(callee, nullptr, false));
            if (cur) out->frames.push_back(frame_of(cur, pc, true));
            add_callers(*out, fsp, frames_bottom);
            goto trapped_exit;
        }
    }
    if (!cur) // the entry itself was a host function
        goto entry_returned;
    LOAD_MEM();
    DISPATCH;
}

// ---- numeric instructions, generated from opcodes.def (code.hpp's generators are replaced)
#undef KILN_GEN_UN
#undef KILN_GEN_BIN
#define KILN_GEN_UN(n, a, r)                                                                       \
    L_##n : {                                                                                      \
        auto v = sem::n(sem::from_slot<KILN_CTYPE_##a>(fp[W(1)]), ntrap);                          \
        if (ntrap != sem::NumTrap::none) [[unlikely]]                                              \
            goto num_trap;                                                                         \
        fp[W(0)] = sem::to_slot(v);                                                                \
        NEXT(2);                                                                                   \
    }
#define KILN_GEN_SI_i32(n, a)                                                                      \
    L_##n##_si : {                                                                                 \
        auto v = sem::n(sem::from_slot<KILN_CTYPE_##a>(fp[W(1)]),                                  \
                        sem::from_slot<KILN_CTYPE_##a>(pc[2].u64), ntrap);                         \
        if (ntrap != sem::NumTrap::none) [[unlikely]]                                              \
            goto num_trap;                                                                         \
        fp[W(0)] = sem::to_slot(v);                                                                \
        NEXT(3);                                                                                   \
    }
#define KILN_GEN_SI_i64 KILN_GEN_SI_i32
#define KILN_GEN_SI_f32(n, a)
#define KILN_GEN_SI_f64(n, a)
#define KILN_GEN_BIN(n, a, r)                                                                      \
    L_##n##_ss : {                                                                                 \
        auto v = sem::n(sem::from_slot<KILN_CTYPE_##a>(fp[W(1)]),                                  \
                        sem::from_slot<KILN_CTYPE_##a>(fp[W(2)]), ntrap);                          \
        if (ntrap != sem::NumTrap::none) [[unlikely]]                                              \
            goto num_trap;                                                                         \
        fp[W(0)] = sem::to_slot(v);                                                                \
        NEXT(3);                                                                                   \
    }                                                                                              \
    KILN_GEN_SI_##a(n, a)
#define KILN_OP(name, code, text, imm, a, b, r)                                                    \
    KILN_CAT(name, imm, a, b, r, KILN_GEN_UN, KILN_GEN_BIN, KILN_GEN_NONE, KILN_GEN_NONE)
#define KILN_OP_FD(name, code, text, imm, a, b, r)
#include "engine/binary/opcodes.def"

// ---- a float multiply fused with the add or subtract of its product (two roundings, as
// unfused): words destination, then z, x, y for z + x * y and z - x * y, x, y, z for x * y + z.
#define KILN_GEN_MULADD(P, C)                                                                      \
    L_##P##MulAdd : {                                                                              \
        auto p = sem::P##Mul(sem::from_slot<C>(fp[W(2)]), sem::from_slot<C>(fp[W(3)]), ntrap);     \
        fp[W(0)] = sem::to_slot(sem::P##Add(sem::from_slot<C>(fp[W(1)]), p, ntrap));               \
        NEXT(3);                                                                                   \
    }                                                                                              \
    L_##P##MulSub : {                                                                              \
        auto p = sem::P##Mul(sem::from_slot<C>(fp[W(2)]), sem::from_slot<C>(fp[W(3)]), ntrap);     \
        fp[W(0)] = sem::to_slot(sem::P##Sub(sem::from_slot<C>(fp[W(1)]), p, ntrap));               \
        NEXT(3);                                                                                   \
    }                                                                                              \
    L_##P##MulAddP : {                                                                             \
        auto p = sem::P##Mul(sem::from_slot<C>(fp[W(1)]), sem::from_slot<C>(fp[W(2)]), ntrap);     \
        fp[W(0)] = sem::to_slot(sem::P##Add(p, sem::from_slot<C>(fp[W(3)]), ntrap));               \
        NEXT(3);                                                                                   \
    }
    KILN_GEN_MULADD(F32, sem::f32)
    KILN_GEN_MULADD(F64, sem::f64)

// ---- SIMD instructions, generated from opcodes.def. A v128 operand is read from its two slots
// before the result is written, since the destination may be one of the operands' slots.
#define KILN_VARG_v128(w) sem::vload(fp + (w))
#define KILN_VARG_i32(w) sem::from_slot<sem::u32>(fp[w])
#define KILN_VARG_i64(w) sem::from_slot<sem::u64>(fp[w])
#define KILN_VARG_f32(w) sem::from_slot<sem::f32>(fp[w])
#define KILN_VARG_f64(w) sem::from_slot<sem::f64>(fp[w])
#define KILN_VRES_v128(w, v) sem::vstore(fp + (w), v)
#define KILN_VRES_i32(w, v) fp[w] = sem::to_slot(v)
#define KILN_VRES_i64 KILN_VRES_i32
#define KILN_VRES_f32 KILN_VRES_i32
#define KILN_VRES_f64 KILN_VRES_i32
// `ea`: the effective address of an access of `n`'s width, the address in slot W(addr) plus
// offset W(off); or a trap. KILN_VADDR_A first adds the constant W(3) to the address, modulo
// 2^32 (the `_a` forms, for an `i32.add` of a constant folded in).
#define KILN_VADDR_EA(n, ea_value)                                                                 \
    uint64_t ea = (ea_value);                                                                      \
    if (ea + (uint64_t(1) << access_log2(Opcode::n)) > mem_size) [[unlikely]]                      \
        TRAP(TrapKind::memory_out_of_bounds, "out of bounds memory access");
#define KILN_VADDR(n, addr, off) KILN_VADDR_EA(n, uint64_t(uint32_t(fp[W(addr)])) + W(off))
#define KILN_VADDR_A(n, addr, off)                                                                 \
    KILN_VADDR_EA(n, uint64_t(uint32_t(uint32_t(fp[W(addr)]) + W(3))) + W(off))
#define KILN_VGEN_UN(n, a, r)                                                                      \
    L_##n : {                                                                                      \
        auto v = sem::n(KILN_VARG_##a(W(1)));                                                      \
        KILN_VRES_##r(W(0), v);                                                                    \
        NEXT(2);                                                                                   \
    }
#define KILN_VGEN_BIN(n, a, r)                                                                     \
    L_##n : {                                                                                      \
        auto v = sem::n(KILN_VARG_v128(W(1)), KILN_VARG_##a(W(2)));                                \
        KILN_VRES_##r(W(0), v);                                                                    \
        NEXT(3);                                                                                   \
    }
#define KILN_VGEN_EXTRACT(n, a, r)                                                                 \
    L_##n : {                                                                                      \
        auto v = sem::n(KILN_VARG_v128(W(1)), W(2));                                               \
        KILN_VRES_##r(W(0), v);                                                                    \
        NEXT(3);                                                                                   \
    }
#define KILN_VGEN_REPLACE(n, b, r)                                                                 \
    L_##n : {                                                                                      \
        auto v = sem::n(KILN_VARG_v128(W(1)), KILN_VARG_##b(W(2)), W(3));                          \
        KILN_VRES_v128(W(0), v);                                                                   \
        NEXT(3);                                                                                   \
    }
#define KILN_VGEN_LOAD(n, a, r)                                                                    \
    L_##n : {                                                                                      \
        KILN_VADDR(n, 1, 2)                                                                        \
        KILN_VRES_v128(W(0), sem::n(mem + ea));                                                    \
        NEXT(3);                                                                                   \
    }                                                                                              \
    L_##n##_a : {                                                                                  \
        KILN_VADDR_A(n, 1, 2)                                                                      \
        KILN_VRES_v128(W(0), sem::n(mem + ea));                                                    \
        NEXT(3);                                                                                   \
    }
#define KILN_VGEN_STORE(n, a, r)                                                                   \
    L_##n : {                                                                                      \
        KILN_VADDR(n, 0, 2)                                                                        \
        sem::n(mem + ea, KILN_VARG_v128(W(1)));                                                    \
        NEXT(3);                                                                                   \
    }                                                                                              \
    L_##n##_a : {                                                                                  \
        KILN_VADDR_A(n, 0, 2)                                                                      \
        sem::n(mem + ea, KILN_VARG_v128(W(1)));                                                    \
        NEXT(3);                                                                                   \
    }
// Words: [destination,] address, vector, offset, lane.
#define KILN_VGEN_MEMLANE_v128(n)                                                                  \
    L_##n : {                                                                                      \
        KILN_VADDR(n, 1, 3)                                                                        \
        KILN_VRES_v128(W(0), sem::n(mem + ea, KILN_VARG_v128(W(2)), W(4)));                        \
        NEXT(4);                                                                                   \
    }
#define KILN_VGEN_MEMLANE_none(n)                                                                  \
    L_##n : {                                                                                      \
        KILN_VADDR(n, 0, 2)                                                                        \
        sem::n(mem + ea, KILN_VARG_v128(W(1)), W(3));                                              \
        NEXT(3);                                                                                   \
    }
#define KILN_VGEN_MEMLANE(n, a, r) KILN_VGEN_MEMLANE_##r(n)
#define KILN_OP(name, code, text, imm, a, b, r)
#define KILN_OP_FD(name, code, text, imm, a, b, r)                                                 \
    KILN_VCAT(name, imm, a, b, r, KILN_VGEN_UN, KILN_VGEN_BIN, KILN_VGEN_EXTRACT,                  \
              KILN_VGEN_REPLACE, KILN_VGEN_LOAD, KILN_VGEN_STORE, KILN_VGEN_MEMLANE)
#include "engine/binary/opcodes.def"
L_V128Const:
    std::memcpy(fp + W(0), pc + 2, 16);
    NEXT(4);
    // i8x16.shuffle by the widest unit its lanes allow (the lowering's choice): the unit indices,
    // already checked to be below 32 bytes, are the bytes of the two cells after the operands.
#define KILN_GEN_SHUFFLE(label, U)                                                                 \
    label : {                                                                                      \
        auto v = sem::shuffle_units<U>(KILN_VARG_v128(W(1)), KILN_VARG_v128(W(2)),                 \
                                       reinterpret_cast<const uint8_t*>(pc + 3));                  \
        KILN_VRES_v128(W(0), v);                                                                   \
        NEXT(5);                                                                                   \
    }
    KILN_GEN_SHUFFLE(L_I8x16Shuffle, uint8_t)
    KILN_GEN_SHUFFLE(L_Shuffle16, uint16_t)
    KILN_GEN_SHUFFLE(L_Shuffle32, uint32_t)
    KILN_GEN_SHUFFLE(L_Shuffle64, uint64_t)
L_V128Bitselect : {
    auto v = sem::V128Bitselect(KILN_VARG_v128(W(1)), KILN_VARG_v128(W(2)), KILN_VARG_v128(W(3)));
    KILN_VRES_v128(W(0), v);
    NEXT(3);
}
L_Copy128:
    std::memmove(fp + W(0), fp + W(1), 16);
    NEXT(2);
L_Select128 : {
    uint32_t from = uint32_t(fp[W(3)]) ? W(1) : W(2);
    std::memmove(fp + W(0), fp + from, 16);
    NEXT(3);
}
L_GlobalGet128 : {
    const GlobalInst* g = inst->globals[W(1)];
    fp[W(0)] = g->bits;
    fp[W(0) + 1] = g->hi;
    NEXT(2);
}
L_GlobalSet128 : {
    GlobalInst* g = inst->globals[W(0)];
    g->bits = fp[W(1)];
    g->hi = fp[W(1) + 1];
    NEXT(2);
}

// ---- memory. Words: [destination,] address, [value,] offset, and in the `_a` forms a constant
// added to the address first, modulo 2^32 (an `i32.add` the lowering folded in).
#define KILN_LOAD_EA(label, M, EXT, ea_value)                                                      \
    label : {                                                                                      \
        uint64_t ea = (ea_value);                                                                  \
        if (ea + sizeof(M) > mem_size) [[unlikely]]                                                \
            TRAP(TrapKind::memory_out_of_bounds, "out of bounds memory access");                   \
        M v;                                                                                       \
        std::memcpy(&v, mem + ea, sizeof(M));                                                      \
        fp[W(0)] = EXT(v);                                                                         \
        NEXT(3);                                                                                   \
    }
#define KILN_LOAD(n, M, EXT)                                                                       \
    KILN_LOAD_EA(L_##n, M, EXT, uint64_t(uint32_t(fp[W(1)])) + W(2))                               \
    KILN_LOAD_EA(L_##n##_a, M, EXT, uint64_t(uint32_t(uint32_t(fp[W(1)]) + W(3))) + W(2))
#define KILN_ZX(v) uint64_t(v)
#define KILN_SX32(v) uint64_t(uint32_t(int32_t(v)))
#define KILN_SX64(v) uint64_t(int64_t(v))
    KILN_LOAD(I32Load, uint32_t, KILN_ZX)
    KILN_LOAD(I64Load, uint64_t, KILN_ZX)
    KILN_LOAD(F32Load, uint32_t, KILN_ZX)
    KILN_LOAD(F64Load, uint64_t, KILN_ZX)
    KILN_LOAD(I32Load8S, int8_t, KILN_SX32)
    KILN_LOAD(I32Load8U, uint8_t, KILN_ZX)
    KILN_LOAD(I32Load16S, int16_t, KILN_SX32)
    KILN_LOAD(I32Load16U, uint16_t, KILN_ZX)
    KILN_LOAD(I64Load8S, int8_t, KILN_SX64)
    KILN_LOAD(I64Load8U, uint8_t, KILN_ZX)
    KILN_LOAD(I64Load16S, int16_t, KILN_SX64)
    KILN_LOAD(I64Load16U, uint16_t, KILN_ZX)
    KILN_LOAD(I64Load32S, int32_t, KILN_SX64)
    KILN_LOAD(I64Load32U, uint32_t, KILN_ZX)
#define KILN_STORE_EA(label, M, ea_value)                                                          \
    label : {                                                                                      \
        uint64_t ea = (ea_value);                                                                  \
        if (ea + sizeof(M) > mem_size) [[unlikely]]                                                \
            TRAP(TrapKind::memory_out_of_bounds, "out of bounds memory access");                   \
        M v = static_cast<M>(fp[W(1)]);                                                            \
        std::memcpy(mem + ea, &v, sizeof(M));                                                      \
        NEXT(3);                                                                                   \
    }
#define KILN_STORE(n, M)                                                                           \
    KILN_STORE_EA(L_##n, M, uint64_t(uint32_t(fp[W(0)])) + W(2))                                   \
    KILN_STORE_EA(L_##n##_a, M, uint64_t(uint32_t(uint32_t(fp[W(0)]) + W(3))) + W(2))
    KILN_STORE(I32Store, uint32_t)
    KILN_STORE(I64Store, uint64_t)
    KILN_STORE(F32Store, uint32_t)
    KILN_STORE(F64Store, uint64_t)
    KILN_STORE(I32Store8, uint8_t)
    KILN_STORE(I32Store16, uint16_t)
    KILN_STORE(I64Store8, uint8_t)
    KILN_STORE(I64Store16, uint16_t)
    KILN_STORE(I64Store32, uint32_t)

L_MemorySize:
    fp[W(0)] = mem_size / page_size;
    NEXT(2);
L_MemoryGrow : {
    int64_t r = inst->memory0->grow(uint32_t(fp[W(1)]));
    fp[W(0)] = uint32_t(r);
    LOAD_MEM();
    NEXT(2);
}
L_MemoryFill : {
    uint64_t d = uint32_t(fp[W(0)]), n = uint32_t(fp[W(2)]);
    if (d + n > mem_size) TRAP(TrapKind::memory_out_of_bounds, "out of bounds memory access");
    int v = int(uint8_t(fp[W(1)]));
    for (uint64_t done = 0; done < n; done += bulk_piece) {
        if (done) BULK_CHECK();
        std::memset(mem + d + done, v, std::min(bulk_piece, n - done));
    }
    NEXT(3);
}
L_MemoryCopy : {
    uint64_t d = uint32_t(fp[W(0)]), s = uint32_t(fp[W(1)]), n = uint32_t(fp[W(2)]);
    if (d + n > mem_size || s + n > mem_size)
        TRAP(TrapKind::memory_out_of_bounds, "out of bounds memory access");
    if (d <= s) {
        // Front to back: a piece never overwrites source bytes of a later piece.
        for (uint64_t done = 0; done < n; done += bulk_piece) {
            if (done) BULK_CHECK();
            std::memmove(mem + d + done, mem + s + done, std::min(bulk_piece, n - done));
        }
    } else {
        // Back to front, for the same reason when the destination is above the source.
        for (uint64_t left = n; left > 0;) {
            if (left != n) BULK_CHECK();
            uint64_t piece = std::min(bulk_piece, left);
            left -= piece;
            std::memmove(mem + d + left, mem + s + left, piece);
        }
    }
    NEXT(3);
}
L_MemoryInit : {
    uint32_t seg = W(0);
    uint64_t d = uint32_t(fp[W(1)]), s = uint32_t(fp[W(2)]), n = uint32_t(fp[W(3)]);
    const DataSegment& ds = inst->module->datas[seg];
    uint64_t size = inst->data_dropped[seg] ? 0 : ds.bytes_size;
    if (s + n > size || d + n > mem_size)
        TRAP(TrapKind::memory_out_of_bounds, "out of bounds memory access");
    std::memcpy(mem + d, inst->module->bytes.data() + ds.bytes_offset + s, n);
    NEXT(3);
}
L_DataDrop:
    inst->data_dropped[W(0)] = 1;
    NEXT(2);

    // ---- tables and references
L_TableGet : {
    TableInst* t = inst->tables[W(1)];
    uint32_t i = uint32_t(fp[W(2)]);
    if (i >= t->elems.size()) TRAP(TrapKind::table_out_of_bounds, "out of bounds table access");
    fp[W(0)] = t->elems[i];
    NEXT(3);
}
L_TableSet : {
    TableInst* t = inst->tables[W(0)];
    uint32_t i = uint32_t(fp[W(1)]);
    if (i >= t->elems.size()) TRAP(TrapKind::table_out_of_bounds, "out of bounds table access");
    t->elems[i] = fp[W(2)];
    NEXT(3);
}
L_TableSize:
    fp[W(0)] = uint32_t(inst->tables[W(1)]->elems.size());
    NEXT(2);
L_TableGrow : {
    TableInst* t = inst->tables[W(1)];
    fp[W(0)] = uint32_t(t->grow(uint32_t(fp[W(3)]), fp[W(2)]));
    NEXT(3);
}
L_TableFill : {
    TableInst* t = inst->tables[W(0)];
    uint64_t i = uint32_t(fp[W(1)]), n = uint32_t(fp[W(3)]);
    if (i + n > t->elems.size()) TRAP(TrapKind::table_out_of_bounds, "out of bounds table access");
    std::fill_n(t->elems.begin() + i, n, fp[W(2)]);
    NEXT(3);
}
L_TableCopy : {
    TableInst* dt = inst->tables[W(0)];
    TableInst* st = inst->tables[W(1)];
    uint64_t d = uint32_t(fp[W(2)]), s = uint32_t(fp[W(3)]), n = uint32_t(fp[W(4)]);
    if (d + n > dt->elems.size() || s + n > st->elems.size())
        TRAP(TrapKind::table_out_of_bounds, "out of bounds table access");
    if (n) std::memmove(dt->elems.data() + d, st->elems.data() + s, n * sizeof(uint64_t));
    NEXT(4);
}
L_TableInit : {
    const std::vector<uint64_t>& items = inst->elem_items[W(0)];
    TableInst* t = inst->tables[W(1)];
    uint64_t d = uint32_t(fp[W(2)]), s = uint32_t(fp[W(3)]), n = uint32_t(fp[W(4)]);
    if (s + n > items.size() || d + n > t->elems.size())
        TRAP(TrapKind::table_out_of_bounds, "out of bounds table access");
    std::copy_n(items.begin() + s, n, t->elems.begin() + d);
    NEXT(4);
}
L_ElemDrop:
    inst->elem_items[W(0)] = {};
    NEXT(2);
L_RefFunc:
    fp[W(0)] = reinterpret_cast<uint64_t>(inst->funcs[W(1)]);
    NEXT(2);

    // ---- variables and moves
L_Copy:
    fp[W(0)] = fp[W(1)];
    NEXT(2);
L_Const:
    fp[W(0)] = pc[2].u64;
    NEXT(3);
L_Select : {
    // Branch-free: select's condition is often unpredictable.
    uint32_t mask = -uint32_t(uint32_t(fp[W(3)]) != 0);
    fp[W(0)] = fp[(W(1) & mask) | (W(2) & ~mask)];
    NEXT(3);
}
L_GlobalGet:
    fp[W(0)] = inst->globals[W(1)]->bits;
    NEXT(2);
L_GlobalSet:
    inst->globals[W(0)]->bits = fp[W(1)];
    NEXT(2);

    // ---- metering: charged at function entry and loop heads
L_Fuel:
    CHARGE(W(0));
    NEXT(2);
fuel_slow : {
    budget += charge;
    Refill r = refill(control, budget, charge);
    if (r == Refill::ok) DISPATCH;
    if (r == Refill::deadline) TRAP(TrapKind::deadline, "deadline exceeded");
    if (r == Refill::interrupt_trap) TRAP(TrapKind::interrupted, "interrupted");
    bool want_suspend = r == Refill::interrupt_suspend || control.suspend_on_fuel;
    // Only the outermost run can suspend: a nested one sits inside a host function's frame.
    if (!want_suspend || stack->active_runs != 1 || stack->suspended) {
        if (r == Refill::interrupt_suspend) TRAP(TrapKind::interrupted, "interrupted");
        TRAP(TrapKind::out_of_fuel, "fuel exhausted");
    }
    TrapKind reason =
        r == Refill::interrupt_suspend ? TrapKind::interrupted : TrapKind::out_of_fuel;
    stack->trap =
        Trap{reason, reason == TrapKind::interrupted ? "interrupted" : "fuel exhausted", {}};
    stack->suspended =
        Suspension{pc, fp, fsp, cur, frames_bottom, entry, frames_bottom->fp, reason};
    // Calls made while this one is suspended run above its frames.
    stack->slots_free = fp + cur->code->frame_size;
    stack->frames_free = fsp;
    status = RunStatus::suspended;
    goto finish;
}

    // ---- control
L_Unreachable:
    TRAP(TrapKind::unreachable, "unreachable");
L_Br:
    pc = pc[1].target;
    DISPATCH;
L_BrBack: // backward branches (loops) also charge fuel: the loop's instruction count
    CHARGE(pc[2].u32[0]);
    pc = pc[1].target;
    DISPATCH;
L_BrIfNz:
    pc = uint32_t(fp[W(0)]) ? pc[2].target : pc + 3;
    DISPATCH;
L_BrIfZ:
    pc = uint32_t(fp[W(0)]) ? pc + 3 : pc[2].target;
    DISPATCH;
L_BrIfNz64:
    pc = fp[W(0)] ? pc[2].target : pc + 3;
    DISPATCH;
L_BrIfZ64:
    pc = fp[W(0)] ? pc + 3 : pc[2].target;
    DISPATCH;
#define KILN_GEN_BRIF_BACK(name, cond)                                                             \
    L_##name##Back : if (cond) {                                                                   \
        CHARGE(W(1));                                                                              \
        pc = pc[2].target;                                                                         \
    }                                                                                              \
    else {                                                                                         \
        pc += 3;                                                                                   \
    }                                                                                              \
    DISPATCH;
    KILN_GEN_BRIF_BACK(BrIfNz, uint32_t(fp[W(0)]) != 0)
    KILN_GEN_BRIF_BACK(BrIfZ, uint32_t(fp[W(0)]) == 0)
    KILN_GEN_BRIF_BACK(BrIfNz64, fp[W(0)] != 0)
    KILN_GEN_BRIF_BACK(BrIfZ64, fp[W(0)] == 0)
#define KILN_FUSED_TYPE_I32 uint32_t
#define KILN_FUSED_TYPE_I64 uint64_t
#define KILN_GEN_FUSED_HANDLER(P, n)                                                               \
    L_BrIf_##P##n##_ss : {                                                                         \
        using V = KILN_FUSED_TYPE_##P;                                                             \
        pc = sem::P##n(V(fp[W(0)]), V(fp[W(1)]), ntrap) ? pc[2].target : pc + 3;                   \
        DISPATCH;                                                                                  \
    }                                                                                              \
    L_BrIf_##P##n##_si : {                                                                         \
        using V = KILN_FUSED_TYPE_##P;                                                             \
        pc = sem::P##n(V(fp[W(0)]), V(pc[2].u64), ntrap) ? pc[3].target : pc + 4;                  \
        DISPATCH;                                                                                  \
    }                                                                                              \
    L_BrIf_##P##n##_ss_back : {                                                                    \
        using V = KILN_FUSED_TYPE_##P;                                                             \
        if (sem::P##n(V(fp[W(0)]), V(fp[W(1)]), ntrap)) {                                          \
            CHARGE(pc[3].u32[0]);                                                                  \
            pc = pc[2].target;                                                                     \
        } else {                                                                                   \
            pc += 4;                                                                               \
        }                                                                                          \
        DISPATCH;                                                                                  \
    }                                                                                              \
    L_BrIf_##P##n##_si_back : {                                                                    \
        using V = KILN_FUSED_TYPE_##P;                                                             \
        if (sem::P##n(V(fp[W(0)]), V(pc[2].u64), ntrap)) {                                         \
            CHARGE(W(1));                                                                          \
            pc = pc[3].target;                                                                     \
        } else {                                                                                   \
            pc += 4;                                                                               \
        }                                                                                          \
        DISPATCH;                                                                                  \
    }
    KILN_INT_CMPS(KILN_GEN_FUSED_HANDLER)
L_BrTable : {
    uint32_t i = uint32_t(fp[W(0)]);
    uint32_t n = W(1);
    pc = pc[2 + (i < n ? i : n)].target;
    DISPATCH;
}
L_Call:
    callee = inst->funcs[W(0)];
    nfp = fp + W(1);
    pc += 2;
    goto do_call;
L_CallIndirect : {
    TableInst* t = inst->tables[W(1)];
    uint32_t i = uint32_t(fp[W(3)]);
    if (i >= t->elems.size()) TRAP(TrapKind::table_out_of_bounds, "undefined element");
    callee = reinterpret_cast<FuncInst*>(t->elems[i]);
    if (!callee) TRAP(TrapKind::uninitialized_element, "uninitialized element");
    if (callee->type_id != W(0))
        TRAP(TrapKind::indirect_call_type_mismatch, "indirect call type mismatch");
    nfp = fp + W(2);
    pc += 3;
    goto do_call;
}
L_ReturnCall:
    callee = inst->funcs[W(0)];
    nfp = fp + W(1);
    pc += 2;
    goto do_tail_call;
L_ReturnCallIndirect : {
    TableInst* t = inst->tables[W(1)];
    uint32_t i = uint32_t(fp[W(3)]);
    if (i >= t->elems.size()) TRAP(TrapKind::table_out_of_bounds, "undefined element");
    callee = reinterpret_cast<FuncInst*>(t->elems[i]);
    if (!callee) TRAP(TrapKind::uninitialized_element, "uninitialized element");
    if (callee->type_id != W(0))
        TRAP(TrapKind::indirect_call_type_mismatch, "indirect call type mismatch");
    nfp = fp + W(2);
    pc += 3;
    goto do_tail_call;
}
do_tail_call : {
    // A wasm callee takes over the caller's frame: its arguments move down to the frame's
    // start, and no frame is pushed, so a chain of tail calls runs in constant space. A host
    // function is called like any other; the code after the call returns its results.
    const FuncCode* c = callee->code;
    if (!c) goto do_call;
    if (fp + c->frame_size > slots_end) [[unlikely]]
        TRAP(TrapKind::stack_exhausted, "call stack exhausted");
    // nfp >= fp: copying in ascending order never overwrites an argument before it moves.
    for (uint32_t i = 0, np = c->num_params; i < np; ++i)
        fp[i] = nfp[i];
    for (uint64_t *p = fp + c->num_params, *e = fp + c->num_locals; p < e; ++p)
        *p = 0;
    cur = callee;
    if (inst != callee->instance) {
        inst = callee->instance;
        LOAD_MEM();
    }
    pc = c->code.data();
    DISPATCH;
}
L_Return : {
    Frame& f = *--fsp;
    if (!f.ret_pc) [[unlikely]]
        goto entry_returned;
    pc = f.ret_pc;
    fp = f.fp;
    cur = f.func;
    // The memory registers follow `inst`: every grow and every host call reloads them, so only
    // a change of instance needs a reload here.
    if (inst != cur->instance) {
        inst = cur->instance;
        LOAD_MEM();
    }
    DISPATCH;
}

num_trap:
    switch (ntrap) {
    case sem::NumTrap::div_by_zero:
        trap_kind = TrapKind::integer_divide_by_zero, trap_msg = "integer divide by zero";
        break;
    case sem::NumTrap::overflow:
        trap_kind = TrapKind::integer_overflow, trap_msg = "integer overflow";
        break;
    default:
        trap_kind = TrapKind::invalid_conversion, trap_msg = "invalid conversion to integer";
        break;
    }
trap_exit:
    stack->trap =
        make_trap(trap_kind, trap_msg, cur ? cur : callee, cur ? pc : nullptr, fsp, frames_bottom);
trapped_exit:
    // The instance the host called into refuses further calls unless the embedder opts in. A
    // program that asked to end did not fault.
    if (entry->instance && stack->trap->kind != TrapKind::exit) entry->instance->trapped = true;
    status = RunStatus::trapped;
    goto finish;

entry_returned : { // the entry's results are at its frame pointer, the sentinel's
    const uint64_t* results = frames_bottom->fp;
    for (uint32_t i = 0, n = entry->num_results; i < n; ++i)
        slots[i] = results[i];
}
finish:
#if KILN_INTERP_STATS
    t_stats.dispatches += stats.dispatches;
    t_stats.wasm_instructions += stats.wasm_instructions;
#endif
    return_budget(control, budget);
    if (--stack->active_runs == 0 && !stack->suspended) { // nothing lives on the stacks any more
        stack->slots_free = stack->slots_begin;
        stack->frames_free = stack->frames_begin;
    }
    return status;

#undef W
#undef DISPATCH
#undef NEXT
#undef TRAP
#undef LOAD_MEM
}

} // namespace

const void* const* interp_handlers() {
    static const void* const* table = [] {
        run(nullptr, nullptr, nullptr, nullptr, nullptr);
        return g_handlers;
    }();
    return table;
}

std::optional<InterpStats> interp_stats() {
#if KILN_INTERP_STATS
    return t_stats;
#else
    return std::nullopt;
#endif
}

RunStatus interp_call(Store& store, ExecStack& stack, FuncInst* f, uint64_t* slots) {
    return run(&store, &stack, f, slots, nullptr);
}

RunStatus interp_resume(Store& store, ExecStack& stack, uint64_t* results,
                        const uint64_t* host_results) {
    Suspension s = *stack.suspended;
    stack.suspended.reset();
    if (s.host)
        for (uint32_t i = 0; i < s.host->num_results; ++i)
            s.host_slots[i] = host_results[i];
    // The stacks are as they were when the suspended call started.
    stack.slots_free = s.entry_fp;
    stack.frames_free = s.frames_bottom;
    return run(&store, &stack, s.entry, results, &s);
}

} // namespace kiln::engine
