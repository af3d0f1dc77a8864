// Func, Caller, Memory, Table, Global, Extern and Instance handles over store-owned objects.
#include "engine/api/internal.hpp"

#include <kiln/func.hpp>
#include <kiln/instance.hpp>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <string_view>

namespace kiln {

namespace {

tl::unexpected<Error> wrong_store(const char* what) {
    return make_error(ErrorKind::usage,
                      fmt::format("{} belongs to another store than the one given", what));
}

/// Traps of call errors are mutable objects with this deleter, so that the holder of the last
/// reference may take one apart instead of copying it: a host function passing a nested call's
/// trap on, level after level of host/wasm recursion, moves its frames.
struct CallTrapDeleter {
    void operator()(const Trap* trap) const { delete trap; }
};

std::shared_ptr<const Trap> share_trap(Trap trap) {
    return std::shared_ptr<const Trap>(new Trap(std::move(trap)), CallTrapDeleter{});
}

Trap unshare_trap(std::shared_ptr<const Trap> trap) {
    if (trap.use_count() == 1 && std::get_deleter<CallTrapDeleter>(trap))
        return std::move(const_cast<Trap&>(*trap)); // made non-const by share_trap
    return *trap;
}

/// The Error for a call that stopped: a trap, or a suspension the store can resume. The message
/// names the innermost wasm function once; the frames say the rest.
Error call_error(engine::Store& store, Trap trap) {
    if (trap.kind == TrapKind::exit) {
        std::string message = fmt::format("exit with code {}", trap.exit_code);
        return Error{ErrorKind::exit, std::move(message), share_trap(std::move(trap))};
    }
    bool suspended = store.has_suspended();
    std::string message = suspended ? fmt::format("call suspended: {}", trap.message)
                                    : fmt::format("trap: {}", trap.message);
    auto wasm = std::find_if(trap.frames.begin(), trap.frames.end(),
                             [](const TrapFrame& f) { return !f.is_host(); });
    if (!suspended && wasm != trap.frames.end())
        message += fmt::format(" (in {})", format_frame(*wasm));
    return Error{suspended ? ErrorKind::suspended : ErrorKind::trap, std::move(message),
                 share_trap(std::move(trap))};
}

Result<void> check_callable(Store& store, const Func& f) {
    if (f.store_id() != store.id()) return wrong_store("function");
    const engine::Instance* inst = f.raw()->instance;
    if (inst && inst->trapped && !store.reuse_after_trap())
        return make_error(ErrorKind::usage,
                          "the instance trapped in an earlier call and refuses further calls "
                          "(Store::set_reuse_after_trap(true) allows them)");
    return {};
}

engine::MemoryInst* memory_of(const engine::Instance* inst) {
    return inst ? inst->memory0 : nullptr;
}

bool in_bounds(const engine::MemoryInst* m, uint64_t offset, uint64_t len) {
    return m && offset <= m->size && len <= m->size - offset;
}

Extern extern_of(uint64_t store, const engine::Extern& e) {
    return Extern(e.kind, store, e.ptr);
}

} // namespace

// ---- Caller

uint64_t Caller::memory_size() const {
    const engine::MemoryInst* m = memory_of(m_instance);
    return m ? m->size : 0;
}

bool Caller::read(uint64_t offset, std::span<uint8_t> out) const {
    const engine::MemoryInst* m = memory_of(m_instance);
    if (!in_bounds(m, offset, out.size())) return false;
    if (!out.empty()) std::memcpy(out.data(), m->base + offset, out.size());
    return true;
}

bool Caller::write(uint64_t offset, std::span<const uint8_t> data) const {
    engine::MemoryInst* m = memory_of(m_instance);
    if (!in_bounds(m, offset, data.size())) return false;
    if (!data.empty()) std::memcpy(m->base + offset, data.data(), data.size());
    return true;
}

std::optional<std::string> Caller::read_string(uint64_t offset, uint64_t length) const {
    const engine::MemoryInst* m = memory_of(m_instance);
    if (!in_bounds(m, offset, length)) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(m->base + offset), length);
}

void Caller::trap(std::string message) {
    stop(TrapKind::host_error, host_trap_message(std::move(message)));
}

void Caller::trap(Error error) {
    if (m_trap) return;
    if (!error.trap) return trap(std::move(error.message));
    m_trap = unshare_trap(std::move(error.trap));
}

void Caller::exit(int32_t code) {
    if (m_trap) return;
    m_trap = Trap{TrapKind::exit, fmt::format("exit with code {}", code), {}};
    m_trap->exit_code = code;
}

Result<void> Caller::suspend() {
    if (!m_store.raw().request_yield())
        return make_error(ErrorKind::usage,
                          m_store.raw().has_suspended()
                              ? "cannot suspend: the store already holds a suspended call"
                              : "cannot suspend here: only a host function called from wasm, "
                                "outside any nested call, can suspend the call");
    return {};
}

bool Caller::should_stop() {
    if (m_trap) return true;
    engine::ExecControl& c = m_store.raw().control();
    if (c.interrupt->mode.load(std::memory_order_relaxed) ==
        uint32_t(engine::InterruptMode::trap)) {
        c.interrupt->take();
        stop(TrapKind::interrupted, "interrupted");
        return true;
    }
    if (c.deadline && engine::Clock::now() >= *c.deadline) {
        stop(TrapKind::deadline, "deadline exceeded");
        return true;
    }
    return false;
}

std::optional<Extern> Caller::get_export(const std::string& name) const {
    if (!m_instance) return std::nullopt;
    auto e = m_instance->get_export(name);
    if (!e) return std::nullopt;
    return extern_of(m_store.id(), *e);
}

// ---- values entering a store

namespace {

/// A funcref word names a function of this store, or is null. Anything else (a function of
/// another store, which may be gone, or a forged word) would be called as if it were one.
Result<void> check_owned(Store& store, const Value& v, std::string_view what) {
    if (v.type != ValType::funcref || v.bits == 0 ||
        store.raw().owns_func(reinterpret_cast<const void*>(v.bits)))
        return {};
    return make_error(ErrorKind::usage,
                      fmt::format("{} is a funcref that is not a function of this store", what));
}

Result<void> check_ref(Store& store, ValType want, const Value& v) {
    if (v.type != want)
        return make_error(ErrorKind::usage, fmt::format("value of type {} where {} is needed",
                                                        valtype_name(v.type), valtype_name(want)));
    return check_owned(store, v, "the value");
}

} // namespace

// ---- host functions

HostFunc host_func(FuncType type, RawHostFn fn) {
    FuncType t = type;
    SlotHostFn body = [t = std::move(t), fn = std::move(fn)](Caller& caller, uint64_t* slots) {
        std::vector<Value> args = engine::values_of(t.params, slots), results(t.results.size());
        for (size_t i = 0; i < results.size(); ++i)
            results[i] = Value{t.results[i], 0};
        fn(caller, args, results);
        for (size_t i = 0, at = 0; i < results.size(); at += slot_count(t.results[i++])) {
            if (results[i].type != t.results[i]) {
                caller.trap(fmt::format("host function returned {} for result {}, expected {}",
                                        valtype_name(results[i].type), i,
                                        valtype_name(t.results[i])));
                return;
            }
            if (auto ok = check_owned(caller.store(), results[i], fmt::format("result {}", i));
                !ok) {
                caller.trap(fmt::format("host function returned {}", ok.error().message));
                return;
            }
            results[i].to_slots(slots + at);
        }
    };
    return HostFunc{std::move(type), std::move(body)};
}

Func create_func(Store& store, HostFunc fn) {
    return Func(store.id(), store.bind(std::make_shared<const HostFunc>(std::move(fn))));
}

// ---- calls

namespace {
constexpr int call_refused = -1; ///< call_slots: wrong store, or the instance trapped before
}

int detail::call_slots(Store& store, const Func& func, uint64_t* slots) {
    const engine::Instance* inst = func.raw()->instance;
    if (func.store_id() != store.id() || (inst && inst->trapped && !store.reuse_after_trap()))
        [[unlikely]]
        return call_refused;
    static_assert(int(engine::RunStatus::done) == 0);
    return int(store.raw().call_raw(func.raw(), slots));
}

Error detail::call_failure(Store& store, const Func& func, int code) {
    if (code == call_refused) return check_callable(store, func).error();
    return call_error(store.raw(), store.raw().take_trap());
}

Result<std::vector<Value>> Func::call(Store& store, std::span<const Value> args) const {
    KILN_CHECK(check_callable(store, *this));
    const FuncType& ft = *m_func->type;
    if (args.size() != ft.params.size())
        return make_error(ErrorKind::usage,
                          fmt::format("{} expects {} arguments, got {}", functype_string(ft),
                                      ft.params.size(), args.size()));
    for (size_t i = 0; i < args.size(); ++i)
        if (args[i].type != ft.params[i])
            return make_error(ErrorKind::usage,
                              fmt::format("argument {} has type {}, expected {}", i,
                                          valtype_name(args[i].type), valtype_name(ft.params[i])));
    for (size_t i = 0; i < args.size(); ++i)
        KILN_CHECK(check_owned(store, args[i], fmt::format("argument {}", i)));
    std::vector<uint64_t> slots(std::max<size_t>({m_func->num_params, m_func->num_results, 1}));
    for (size_t i = 0, at = 0; i < args.size(); at += slot_count(ft.params[i++]))
        args[i].to_slots(&slots[at]);
    if (store.raw().call_raw(m_func, slots.data()) != engine::RunStatus::done)
        return tl::unexpected(call_error(store.raw(), store.raw().take_trap()));
    return engine::values_of(ft.results, slots.data());
}

Result<FuncType> Func::type(Store& store) const {
    if (m_store != store.id()) return wrong_store("function");
    return *m_func->type;
}

Result<std::string> Func::name(Store& store) const {
    if (m_store != store.id()) return wrong_store("function");
    if (!m_func->instance) return format_frame(TrapFrame{});
    return m_func->instance->module->func_display_name(m_func->index);
}

std::optional<Func> Func::from_ref(Store& store, const Value& ref) {
    if (ref.type != ValType::funcref || ref.is_null() ||
        !store.raw().owns_func(reinterpret_cast<const void*>(ref.bits)))
        return std::nullopt;
    return Func(store.id(), engine::as_func(ref));
}

Result<std::vector<Value>> Store::resume(std::span<const Value> host_results) {
    const auto& susp = m_store->suspension();
    if (!susp) return make_error(ErrorKind::usage, "no suspended call to resume");
    std::vector<uint64_t> bits(susp->host ? susp->host->num_results : 0);
    if (susp->host) {
        const FuncType& ft = *susp->host->type;
        if (host_results.size() != ft.results.size())
            return make_error(ErrorKind::usage,
                              fmt::format("the call was suspended by a host function of type {}: "
                                          "resume it with {} results, not {}",
                                          functype_string(ft), ft.results.size(),
                                          host_results.size()));
        for (size_t i = 0, at = 0; i < host_results.size(); at += slot_count(ft.results[i++])) {
            KILN_CHECK(check_ref(*this, ft.results[i], host_results[i]));
            host_results[i].to_slots(&bits[at]);
        }
    } else if (!host_results.empty()) {
        return make_error(ErrorKind::usage,
                          "the call was not suspended by a host function: resume it without "
                          "results");
    }
    auto r = m_store->resume(bits);
    if (!r) return tl::unexpected(call_error(*m_store, std::move(r.error())));
    return std::move(*r);
}

// ---- memories, tables, globals

Result<Memory> Memory::create(Store& store, const MemoryType& type) {
    KILN_TRY(m, store.raw().create_memory(type));
    return Memory(store.id(), m);
}

Result<uint64_t> Memory::size(Store& store) const {
    if (m_store != store.id()) return wrong_store("memory");
    return m_mem->size;
}

Result<uint64_t> Memory::grow(Store& store, uint64_t pages) const {
    if (m_store != store.id()) return wrong_store("memory");
    int64_t old = m_mem->grow(pages);
    if (old < 0)
        return make_error(ErrorKind::limit, fmt::format("cannot grow memory of {} pages by {}",
                                                        m_mem->pages(), pages));
    return uint64_t(old);
}

Result<void> Memory::read(Store& store, uint64_t offset, std::span<uint8_t> out) const {
    if (m_store != store.id()) return wrong_store("memory");
    if (!in_bounds(m_mem, offset, out.size()))
        return make_error(ErrorKind::usage, fmt::format("read of {} bytes at {} is outside the "
                                                        "memory's {} bytes",
                                                        out.size(), offset, m_mem->size));
    if (!out.empty()) std::memcpy(out.data(), m_mem->base + offset, out.size());
    return {};
}

Result<void> Memory::write(Store& store, uint64_t offset, std::span<const uint8_t> data) const {
    if (m_store != store.id()) return wrong_store("memory");
    if (!in_bounds(m_mem, offset, data.size()))
        return make_error(ErrorKind::usage, fmt::format("write of {} bytes at {} is outside the "
                                                        "memory's {} bytes",
                                                        data.size(), offset, m_mem->size));
    if (!data.empty()) std::memcpy(m_mem->base + offset, data.data(), data.size());
    return {};
}

namespace {} // namespace

Result<Table> Table::create(Store& store, const TableType& type, Value init) {
    KILN_CHECK(check_ref(store, type.elem, init));
    KILN_TRY(t, store.raw().create_table(type, init.bits));
    return Table(store.id(), t);
}

Result<uint64_t> Table::size(Store& store) const {
    if (m_store != store.id()) return wrong_store("table");
    return m_table->elems.size();
}

Result<Value> Table::get(Store& store, uint64_t index) const {
    if (m_store != store.id()) return wrong_store("table");
    if (index >= m_table->elems.size())
        return make_error(ErrorKind::usage, fmt::format("table index {} is past its size {}", index,
                                                        m_table->elems.size()));
    return Value{m_table->type.elem, m_table->elems[index]};
}

Result<void> Table::set(Store& store, uint64_t index, Value value) const {
    if (m_store != store.id()) return wrong_store("table");
    KILN_CHECK(check_ref(store, m_table->type.elem, value));
    if (index >= m_table->elems.size())
        return make_error(ErrorKind::usage, fmt::format("table index {} is past its size {}", index,
                                                        m_table->elems.size()));
    m_table->elems[index] = value.bits;
    return {};
}

Result<uint64_t> Table::grow(Store& store, uint64_t delta, Value init) const {
    if (m_store != store.id()) return wrong_store("table");
    KILN_CHECK(check_ref(store, m_table->type.elem, init));
    int64_t old = m_table->grow(delta, init.bits);
    if (old < 0)
        return make_error(ErrorKind::limit, fmt::format("cannot grow table of {} elements by {}",
                                                        m_table->elems.size(), delta));
    return uint64_t(old);
}

Result<Global> Global::create(Store& store, const GlobalType& type, Value init) {
    if (init.type != type.type)
        return make_error(ErrorKind::usage,
                          fmt::format("initial value of type {} for a {} global",
                                      valtype_name(init.type), valtype_name(type.type)));
    KILN_CHECK(check_owned(store, init, "the initial value"));
    return Global(store.id(), store.raw().create_global(type, init));
}

Result<Value> Global::get(Store& store) const {
    if (m_store != store.id()) return wrong_store("global");
    return m_global->value();
}

Result<void> Global::set(Store& store, Value value) const {
    if (m_store != store.id()) return wrong_store("global");
    if (!m_global->type.mut) return make_error(ErrorKind::usage, "global is immutable");
    if (value.type != m_global->type.type)
        return make_error(ErrorKind::usage,
                          fmt::format("value of type {} for a {} global", valtype_name(value.type),
                                      valtype_name(m_global->type.type)));
    KILN_CHECK(check_owned(store, value, "the value"));
    m_global->bits = value.bits;
    m_global->hi = value.hi;
    return {};
}

Result<GlobalType> Global::type(Store& store) const {
    if (m_store != store.id()) return wrong_store("global");
    return m_global->type;
}

std::optional<Func> Extern::func() const {
    if (m_kind != ExternKind::func) return std::nullopt;
    return Func(m_store, static_cast<engine::FuncInst*>(m_ptr));
}
std::optional<Memory> Extern::memory() const {
    if (m_kind != ExternKind::memory) return std::nullopt;
    return Memory(m_store, static_cast<engine::MemoryInst*>(m_ptr));
}
std::optional<Table> Extern::table() const {
    if (m_kind != ExternKind::table) return std::nullopt;
    return Table(m_store, static_cast<engine::TableInst*>(m_ptr));
}
std::optional<Global> Extern::global() const {
    if (m_kind != ExternKind::global) return std::nullopt;
    return Global(m_store, static_cast<engine::GlobalInst*>(m_ptr));
}

// ---- instances

std::optional<Extern> Instance::get_export(Store& store, const std::string& name) const {
    if (m_store != store.id()) return std::nullopt;
    auto e = m_inst->get_export(name);
    if (!e) return std::nullopt;
    return extern_of(m_store, *e);
}

std::optional<Func> Instance::get_func(Store& store, const std::string& name) const {
    auto e = get_export(store, name);
    return e ? e->func() : std::nullopt;
}
std::optional<Memory> Instance::get_memory(Store& store, const std::string& name) const {
    auto e = get_export(store, name);
    return e ? e->memory() : std::nullopt;
}
std::optional<Table> Instance::get_table(Store& store, const std::string& name) const {
    auto e = get_export(store, name);
    return e ? e->table() : std::nullopt;
}
std::optional<Global> Instance::get_global(Store& store, const std::string& name) const {
    auto e = get_export(store, name);
    return e ? e->global() : std::nullopt;
}

std::vector<std::pair<std::string, Extern>> Instance::exports(Store& store) const {
    std::vector<std::pair<std::string, Extern>> out;
    if (m_store != store.id()) return out;
    for (const auto& e : m_inst->module->exports)
        out.emplace_back(e.name, extern_of(m_store, m_inst->exports.at(e.name)));
    return out;
}

} // namespace kiln
