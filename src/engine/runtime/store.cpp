#include "engine/runtime/store.hpp"

#include "base/text.hpp"
#include "engine/binary/decoder.hpp"
#include "engine/interp/interpreter.hpp"
#include "engine/interp/lower.hpp"
#include "engine/runtime/control.hpp"
#include "engine/runtime/mapping_cache.hpp"
#include "engine/runtime/store_impl.hpp"
#include "engine/validate/validator.hpp"

#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <xxhash.h>

namespace kiln::engine {

uint32_t Engine::intern(const FuncType& type) {
    std::lock_guard lock(m_mutex);
    auto [it, inserted] =
        m_types.try_emplace({type.params, type.results}, uint32_t(m_types.size()));
    return it->second;
}

CompiledModule::~CompiledModule() = default;

Result<std::shared_ptr<const CompiledModule>> compile(Engine& engine,
                                                      std::span<const uint8_t> bytes) {
    KILN_TRY(module, decode(bytes, engine.config().features));
    KILN_CHECK(validate(*module));
    auto cm = std::make_shared<CompiledModule>();
    cm->engine = &engine;
    for (const FuncType& t : module->types)
        cm->type_ids.push_back(engine.intern(t));
    cm->code.reserve(module->functions.size());
    for (uint32_t i = 0; i < module->functions.size(); ++i) {
        KILN_TRY(code, lower_function(*module, cm->type_ids, i));
        cm->code.push_back(std::move(code));
    }
    XXH3_state_t* ids = XXH3_createState();
    XXH3_64bits_reset(ids);
    for (const auto& fc : cm->code) {
        uint64_t head[3] = {fc->code.size(), fc->frame_size, fc->sites.size()};
        XXH3_64bits_update(ids, head, sizeof head);
        for (const SuspendSite& site : fc->sites) {
            uint32_t w[5] = {site.offset, uint32_t(site.kind), site.base,
                             site.refs_end - site.refs_begin, 0};
            XXH3_64bits_update(ids, w, sizeof w);
        }
        XXH3_64bits_update(ids, fc->site_refs.data(), fc->site_refs.size() * sizeof(uint32_t));
        XXH3_64bits_update(ids, fc->ref_locals.data(), fc->ref_locals.size() * sizeof(uint32_t));
    }
    cm->code_id = XXH3_64bits_digest(ids);
    XXH3_freeState(ids);
    XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    cm->hash = {h.high64, h.low64};
    cm->module = std::move(module);
    return std::shared_ptr<const CompiledModule>(std::move(cm));
}

Store::Store(Engine& engine) : m_engine(engine), m_impl(std::make_unique<Impl>()) {
    const EngineConfig& cfg = engine.config();
    // The value stack is reserved, not committed: untouched pages cost nothing.
    m_impl->stack_bytes = cfg.max_stack_slots * sizeof(uint64_t);
    void* p = engine::take_mapping(engine::MappingKind::stack, m_impl->stack_bytes).base;
    if (!p)
        p = mmap(nullptr, m_impl->stack_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        m_impl->stack_bytes = 0;
        p = nullptr;
    }
    ExecStack& s = m_stack;
    s.slots_begin = s.slots_free = static_cast<uint64_t*>(p);
    s.slots_end = s.slots_begin + (p ? cfg.max_stack_slots : 0);
    size_t nframes = size_t(cfg.max_call_depth) + 1;
    m_impl->frames.reset(new Frame[nframes]);
    s.frames_begin = s.frames_free = m_impl->frames.get();
    s.frames_end = s.frames_begin + nframes;
    s.control = &m_impl->control;
}

ExecControl& Store::control() {
    return m_impl->control;
}
ResourceLimiter& Store::limiter() {
    return m_impl->limiter;
}
bool Store::has_suspended() const {
    return m_stack.suspended.has_value();
}

void Store::set_stack_limits(uint32_t max_call_depth, uint64_t max_stack_slots) {
    ExecStack& s = m_stack;
    // Frames of a running or suspended call may lie past new, lower limits: change them only
    // between calls.
    if (s.active_runs || s.suspended) return;
    const EngineConfig& cfg = m_engine.config();
    s.frames_end = s.frames_begin + std::min<size_t>(max_call_depth, cfg.max_call_depth) + 1;
    s.slots_end = s.slots_begin + std::min(max_stack_slots, cfg.max_stack_slots);
}

void Store::drop_suspended() {
    ExecStack& s = m_stack;
    if (!s.suspended) return;
    // From inside a call (a host function) the running frames sit above the suspended ones:
    // forget the suspension now, free its part of the stack when the outermost call ends.
    if (s.active_runs) {
        s.suspended.reset();
        return;
    }
    s.slots_free = s.suspended->entry_fp;
    s.frames_free = s.suspended->frames_bottom;
    s.suspended.reset();
}

bool Store::request_yield() {
    ExecStack& s = m_stack;
    // Only the outermost run can stop: a nested one sits inside a host function's native frame.
    // A host function the host called directly has no wasm caller to continue.
    if (s.active_runs != 1 || s.suspended || !s.host_caller) return false;
    s.yield_requested = true;
    return true;
}

CallResult Store::resume(std::span<const uint64_t> host_results) {
    ExecStack& s = m_stack;
    if (!s.suspended)
        return tl::unexpected(Trap{TrapKind::host_error, "no suspended call to resume", {}});
    if (s.active_runs)
        return tl::unexpected(Trap{
            TrapKind::host_error, "a suspended call cannot be resumed from inside a call", {}});
    const Suspension& susp = *s.suspended;
    size_t want = susp.host ? susp.host->num_results : 0;
    if (host_results.size() != want)
        return tl::unexpected(
            Trap{TrapKind::host_error,
                 fmt::format("the suspended call needs {} host function results to resume, got {}",
                             want, host_results.size()),
                 {}});
    const FuncType& ft = *susp.entry->type;
    std::vector<uint64_t> slots(std::max<size_t>(susp.entry->num_results, 1));
    if (interp_resume(*this, s, slots.data(), host_results.data()) != RunStatus::done)
        return tl::unexpected(take_trap());
    return values_of(ft.results, slots.data());
}

Store::~Store() {
    // Kept for the next store, zeroed, rather than unmapped (mapping_cache.hpp).
    if (m_stack.slots_begin)
        engine::give_mapping({reinterpret_cast<uint8_t*>(m_stack.slots_begin), m_impl->stack_bytes,
                              m_impl->stack_bytes, engine::MappingKind::stack},
                             m_impl->stack_bytes);
}

FuncInst* Store::create_host_func(FuncType type, HostFn fn) {
    FuncInst* f = m_impl->new_funcs(1);
    f->host_type = std::move(type);
    f->type = &f->host_type;
    f->type_id = m_engine.intern(f->host_type);
    f->num_params = uint32_t(slot_count(f->host_type.params));
    f->num_results = uint32_t(slot_count(f->host_type.results));
    f->host = std::move(fn);
    return f;
}

bool Store::owns_func(const void* p) const {
    // Compares addresses as integers: `p` may point anywhere, or nowhere.
    auto addr = reinterpret_cast<uintptr_t>(p);
    auto it = m_impl->func_blocks.lower_bound(static_cast<const FuncInst*>(p));
    if (it == m_impl->func_blocks.end()) return false;
    auto begin = reinterpret_cast<uintptr_t>(it->first);
    uintptr_t offset = addr - begin;
    return offset < it->second * sizeof(FuncInst) && offset % sizeof(FuncInst) == 0;
}

Result<TableInst*> Store::create_table(const TableType& type, uint64_t init) {
    auto t = std::make_unique<TableInst>();
    t->type = type;
    if (!m_impl->limiter.reserve_table(type.limits.min))
        return make_error(ErrorKind::limit,
                          fmt::format("table of {} elements exceeds the store's table limit of {} "
                                      "elements ({} in use)",
                                      type.limits.min, m_impl->limiter.table_elems_max,
                                      m_impl->limiter.table_elems_used));
    t->limiter = &m_impl->limiter;
    t->elems.assign(type.limits.min, init);
    m_impl->tables.push_back(std::move(t));
    return m_impl->tables.back().get();
}

Result<MemoryInst*> Store::create_memory(const MemoryType& type) {
    auto m = std::make_unique<MemoryInst>();
    m->limiter = &m_impl->limiter;
    KILN_CHECK(m->init(type));
    m_impl->memories.push_back(std::move(m));
    return m_impl->memories.back().get();
}

GlobalInst* Store::create_global(const GlobalType& type, const Value& init) {
    auto g = std::make_unique<GlobalInst>();
    g->type = type;
    g->bits = init.bits;
    g->hi = init.hi;
    m_impl->globals.push_back(std::move(g));
    return m_impl->globals.back().get();
}

namespace {

/// The value of a validated constant expression (its type is not needed: `bits` and `hi` say it).
Value eval_const(const ConstExpr& e, const Instance& inst) {
    std::vector<Value> st;
    for (const ConstInstr& ci : e.instrs) {
        switch (ci.op) {
        case ConstInstr::Op::i32_const:
        case ConstInstr::Op::i64_const:
        case ConstInstr::Op::f32_const:
        case ConstInstr::Op::f64_const: st.push_back(Value{ValType::i64, ci.value}); break;
        case ConstInstr::Op::v128_const: st.push_back(Value{ValType::v128, ci.value, ci.hi}); break;
        case ConstInstr::Op::ref_null: st.push_back(Value{ValType::funcref, 0}); break;
        case ConstInstr::Op::ref_func: st.push_back(Value::funcref(inst.funcs[ci.value])); break;
        case ConstInstr::Op::global_get: st.push_back(inst.globals[ci.value]->value()); break;
        case ConstInstr::Op::i32_add:
        case ConstInstr::Op::i32_sub:
        case ConstInstr::Op::i32_mul:
        case ConstInstr::Op::i64_add:
        case ConstInstr::Op::i64_sub:
        case ConstInstr::Op::i64_mul: {
            // Unsigned arithmetic wraps as wasm's does; an i32 keeps its upper half zero.
            const uint64_t b = st.back().bits;
            st.pop_back();
            uint64_t& a = st.back().bits;
            switch (ci.op) {
            case ConstInstr::Op::i32_add:
            case ConstInstr::Op::i64_add: a += b; break;
            case ConstInstr::Op::i32_sub:
            case ConstInstr::Op::i64_sub: a -= b; break;
            default: a *= b; break;
            }
            if (ci.op < ConstInstr::Op::i64_add) a = uint32_t(a);
            break;
        }
        }
    }
    return st.empty() ? Value{} : st.back();
}

bool limits_match(uint64_t actual_min, std::optional<uint64_t> actual_max, const Limits& req) {
    if (actual_min < req.min) return false;
    if (req.max) {
        if (!actual_max || *actual_max > *req.max) return false;
    }
    return true;
}

/// The import's names as a message shows them: the module chose them, so they are escaped.
std::string import_name(const Import& imp) {
    return escape_control(imp.module) + "." + escape_control(imp.name);
}

} // namespace

Result<Instance*> Store::instantiate(std::shared_ptr<const CompiledModule> compiled,
                                     std::span<const Extern> imports) {
    const Module& m = *compiled->module;
    if (compiled->engine != &m_engine)
        return make_error(ErrorKind::usage,
                          "the module was compiled by another engine than the store's");
    if (imports.size() != m.imports.size())
        return make_error(ErrorKind::unlinkable, fmt::format("module needs {} imports, {} given",
                                                             m.imports.size(), imports.size()));
    auto inst_owner = std::make_unique<Instance>();
    Instance& inst = *inst_owner;
    inst.compiled = compiled;
    inst.module = &m;

    for (size_t i = 0; i < imports.size(); ++i) {
        const Import& imp = m.imports[i];
        const Extern& ext = imports[i];
        auto mismatch = [&](const std::string& detail) {
            return make_error(
                ErrorKind::unlinkable,
                fmt::format("incompatible import type for {}: {}", import_name(imp), detail));
        };
        if (ext.kind != imp.kind || !ext.ptr)
            return mismatch(fmt::format("expected a {}, got a {}", extern_kind_name(imp.kind),
                                        extern_kind_name(ext.kind)));
        switch (imp.kind) {
        case ExternKind::func:
            if (ext.func()->type_id != compiled->type_ids[imp.func_type])
                return mismatch(fmt::format("expected {}, got {}",
                                            functype_string(m.types[imp.func_type]),
                                            functype_string(*ext.func()->type)));
            inst.funcs.push_back(ext.func());
            break;
        case ExternKind::table: {
            TableInst* t = ext.table();
            if (t->type.elem != imp.table.elem ||
                !limits_match(t->elems.size(), t->type.limits.max, imp.table.limits))
                return mismatch("table type or limits differ");
            inst.tables.push_back(t);
            break;
        }
        case ExternKind::memory: {
            MemoryInst* mem = ext.memory();
            if (!limits_match(mem->pages(), mem->type.limits.max, imp.memory.limits))
                return mismatch("memory limits differ");
            inst.memories.push_back(mem);
            break;
        }
        case ExternKind::global: {
            GlobalInst* g = ext.global();
            if (g->type.type != imp.global.type || g->type.mut != imp.global.mut)
                return mismatch(fmt::format("expected {}{}, got {}{}", imp.global.mut ? "mut " : "",
                                            valtype_name(imp.global.type),
                                            g->type.mut ? "mut " : "", valtype_name(g->type.type)));
            inst.globals.push_back(g);
            break;
        }
        }
    }

    FuncInst* defined = m.functions.empty() ? nullptr : m_impl->new_funcs(m.functions.size());
    for (uint32_t i = 0; i < m.functions.size(); ++i) {
        FuncInst* f = &defined[i];
        uint32_t type_index = m.functions[i].type;
        f->type = &m.types[type_index];
        f->type_id = compiled->type_ids[type_index];
        f->num_params = uint32_t(slot_count(f->type->params));
        f->num_results = uint32_t(slot_count(f->type->results));
        f->instance = &inst;
        f->index = m.num_imported_funcs + i;
        f->code = compiled->code[i].get();
        inst.funcs.push_back(f);
    }
    for (size_t i = m.num_imported_tables; i < m.tables.size(); ++i) {
        auto t = create_table(m.tables[i], 0);
        if (!t) return make_error(ErrorKind::uninstantiable, t.error().message);
        inst.tables.push_back(*t);
    }
    for (size_t i = m.num_imported_memories; i < m.memories.size(); ++i) {
        auto mem = create_memory(m.memories[i]);
        if (!mem) return make_error(ErrorKind::uninstantiable, mem.error().message);
        inst.memories.push_back(*mem);
    }
    for (const Global& g : m.global_inits)
        inst.globals.push_back(create_global(g.type, eval_const(g.init, inst)));
    inst.memory0 = inst.memories.empty() ? nullptr : inst.memories[0];

    for (const Export& e : m.exports) {
        Extern x{e.kind, nullptr};
        switch (e.kind) {
        case ExternKind::func: x.ptr = inst.funcs[e.index]; break;
        case ExternKind::table: x.ptr = inst.tables[e.index]; break;
        case ExternKind::memory: x.ptr = inst.memories[e.index]; break;
        case ExternKind::global: x.ptr = inst.globals[e.index]; break;
        }
        inst.exports.emplace(e.name, x);
    }
    for (const ElemSegment& seg : m.elems) {
        std::vector<uint64_t> items;
        items.reserve(seg.items.size());
        for (const ConstExpr& e : seg.items)
            items.push_back(eval_const(e, inst).bits);
        inst.elem_items.push_back(std::move(items));
    }
    inst.data_dropped.assign(m.datas.size(), 0);

    // From here on, effects on imported tables and memories persist even if a later segment
    // or the start function fails, so the instance is kept alive by the store.
    m_impl->instances.push_back(std::move(inst_owner));

    for (size_t i = 0; i < m.elems.size(); ++i) {
        const ElemSegment& seg = m.elems[i];
        if (seg.mode == SegmentMode::active) {
            uint64_t offset = uint32_t(eval_const(seg.offset, inst).bits);
            TableInst* t = inst.tables[seg.table];
            const auto& items = inst.elem_items[i];
            if (offset + items.size() > t->elems.size())
                return make_error(ErrorKind::uninstantiable,
                                  fmt::format("out of bounds table access: element segment {} "
                                              "at offset {} with {} items, table size {}",
                                              i, offset, items.size(), t->elems.size()));
            std::copy(items.begin(), items.end(), t->elems.begin() + offset);
        }
        if (seg.mode != SegmentMode::passive) inst.elem_items[i] = {};
    }
    for (size_t i = 0; i < m.datas.size(); ++i) {
        const DataSegment& seg = m.datas[i];
        if (seg.mode != SegmentMode::active) continue;
        uint64_t offset = uint32_t(eval_const(seg.offset, inst).bits);
        MemoryInst* mem = inst.memories[seg.memory];
        if (offset + seg.bytes_size > mem->size)
            return make_error(ErrorKind::uninstantiable,
                              fmt::format("out of bounds memory access: data segment {} at "
                                          "offset {} with {} bytes, memory size {}",
                                          i, offset, seg.bytes_size, mem->size));
        std::memcpy(mem->base + offset, m.bytes.data() + seg.bytes_offset, seg.bytes_size);
        inst.data_dropped[i] = 1;
    }
    if (m.start) {
        bool suspended_before = has_suspended();
        auto r = call(inst.funcs[*m.start], {});
        // A start function stopped in suspend mode fails instantiation: the host never gets the
        // instance, so there is nothing to resume.
        if (!r && !suspended_before && has_suspended()) drop_suspended();
        if (!r)
            return make_error(ErrorKind::uninstantiable,
                              fmt::format("start function trapped: {}", r.error().message));
    }
    return &inst;
}

CallResult Store::call(FuncInst* func, std::span<const Value> args) {
    const FuncType& ft = *func->type;
    if (args.size() != ft.params.size())
        return tl::unexpected(
            Trap{TrapKind::host_error,
                 fmt::format("expected {} arguments, got {}", ft.params.size(), args.size()),
                 {}});
    for (size_t i = 0; i < args.size(); ++i)
        if (args[i].type != ft.params[i])
            return tl::unexpected(
                Trap{TrapKind::host_error,
                     fmt::format("argument {} has type {}, expected {}", i,
                                 valtype_name(args[i].type), valtype_name(ft.params[i])),
                     {}});
    std::vector<uint64_t> slots(std::max<size_t>({func->num_params, func->num_results, 1}));
    for (size_t i = 0, at = 0; i < args.size(); at += slot_count(ft.params[i++]))
        args[i].to_slots(&slots[at]);
    if (call_raw(func, slots.data()) != RunStatus::done) return tl::unexpected(take_trap());
    return values_of(ft.results, slots.data());
}

} // namespace kiln::engine
