// The C API (include/kiln/kiln.h) over the public C++ API. Nothing here reaches engine internals:
// handles are the C++ objects behind opaque structs, and every entry point catches exceptions so
// none crosses into C.
#include "capi/capi.hpp"
#include "base/result.hpp"

#include <kiln/kiln.h>
#include <kiln/kiln.hpp>
#include <kiln/plugin.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

// The C enums mirror the C++ ones value for value, so conversions are casts.
#define KILN_SAME(c, cpp) static_assert(int(c) == int(cpp), #c " must equal " #cpp)
#define KILN_ERROR_KIND(name, NAME, value, text)                                                   \
    KILN_SAME(KILN_ERROR_##NAME, kiln::ErrorKind::name);
#define KILN_TRAP_KIND(name, NAME, value, text) KILN_SAME(KILN_TRAP_##NAME, kiln::TrapKind::name);
#include <kiln/error_kinds.def>
KILN_SAME(KILN_I32, kiln::ValType::i32);
KILN_SAME(KILN_I64, kiln::ValType::i64);
KILN_SAME(KILN_F32, kiln::ValType::f32);
KILN_SAME(KILN_F64, kiln::ValType::f64);
KILN_SAME(KILN_V128, kiln::ValType::v128);
KILN_SAME(KILN_FUNCREF, kiln::ValType::funcref);
KILN_SAME(KILN_EXTERNREF, kiln::ValType::externref);
KILN_SAME(KILN_EXTERN_FUNC, kiln::ExternKind::func);
KILN_SAME(KILN_EXTERN_TABLE, kiln::ExternKind::table);
KILN_SAME(KILN_EXTERN_MEMORY, kiln::ExternKind::memory);
KILN_SAME(KILN_EXTERN_GLOBAL, kiln::ExternKind::global);
KILN_SAME(KILN_LOG_TRACE, kiln::LogLevel::trace);
KILN_SAME(KILN_LOG_DEBUG, kiln::LogLevel::debug);
KILN_SAME(KILN_LOG_INFO, kiln::LogLevel::info);
KILN_SAME(KILN_LOG_WARN, kiln::LogLevel::warn);
KILN_SAME(KILN_LOG_ERROR, kiln::LogLevel::error);
#undef KILN_SAME

// Modules and stores hold the engine (a shared handle), so kiln_engine_delete may come first.
struct kiln_module {
    kiln_module(kiln::Engine e, kiln::Module m)
        : engine(std::move(e)), module(std::move(m)), imports(module.imports()),
          exports(module.exports()) {}
    kiln::Engine engine;
    kiln::Module module;
    // Kept so that the names handed out stay valid as long as the module.
    std::vector<kiln::ImportType> imports;
    std::vector<kiln::ExportType> exports;
};

// A C host function's caller gets the kiln_store_t* its store belongs to: each C store leaves a
// pointer to itself in its C++ store's user data.
struct CStore {
    kiln_store* store;
};

struct kiln_store {
    explicit kiln_store(const kiln::Engine& e) : engine(e), store(engine) {
        store.set_data(std::make_shared<CStore>(CStore{this}));
    }
    kiln::Engine engine;
    kiln::Store store;
    // Result count of the suspended call, so that kiln_store_resume can check its caller's
    // buffer before resuming rather than lose the results after.
    size_t suspended_results = 0;
};

struct kiln_linker {
    kiln::Linker linker;
};

struct kiln_interrupt_handle {
    kiln::InterruptHandle handle;
};

struct kiln_caller {
    kiln::Caller& caller;
    kiln_store* store;
};

namespace {

using kiln::capi::guarded;
using kiln::capi::guarded_value;
using kiln::capi::new_error;
using kiln::capi::out_of_memory;
using kiln::capi::usage;

std::optional<kiln::ValType> valtype_of(kiln_valkind_t kind) {
    // Switched on as an int: C may pass any int, outside the enum's range.
    switch (int(kind)) {
    case KILN_I32:
    case KILN_I64:
    case KILN_F32:
    case KILN_F64:
    case KILN_V128:
    case KILN_FUNCREF:
    case KILN_EXTERNREF: return kiln::ValType(kind);
    }
    return std::nullopt;
}

std::optional<kiln::Value> value_of(const kiln_val_t& v) {
    auto type = valtype_of(v.kind);
    if (!type) return std::nullopt;
    switch (*type) {
    case kiln::ValType::i32: return kiln::Value::i32(v.of.i32);
    case kiln::ValType::i64: return kiln::Value::i64(v.of.i64);
    case kiln::ValType::f32: return kiln::Value::f32_bits(std::bit_cast<uint32_t>(v.of.f32));
    case kiln::ValType::f64: return kiln::Value::f64_bits(std::bit_cast<uint64_t>(v.of.f64));
    case kiln::ValType::v128: {
        kiln::V128 x;
        std::memcpy(&x, v.of.v128, 16);
        return kiln::Value::v128(x);
    }
    default: return kiln::Value{*type, v.of.ref};
    }
}

kiln_val_t val_of(const kiln::Value& v) {
    kiln_val_t out;
    out.kind = kiln_valkind_t(v.type);
    std::memset(out.of.v128, 0, sizeof out.of.v128);
    switch (v.type) {
    case kiln::ValType::i32: out.of.i32 = v.as_i32(); break;
    case kiln::ValType::i64: out.of.i64 = v.as_i64(); break;
    case kiln::ValType::f32: out.of.f32 = v.as_f32(); break;
    case kiln::ValType::f64: out.of.f64 = v.as_f64(); break;
    case kiln::ValType::v128: {
        const kiln::V128 x = v.as_v128();
        std::memcpy(out.of.v128, &x, 16);
        break;
    }
    default: out.of.ref = v.bits; break;
    }
    return out;
}

std::string invalid_kind(const std::string& what, kiln_valkind_t kind) {
    return fmt::format("{} has an invalid kind {}", what, int(kind));
}

/// The types of `n` kinds, or an error naming the first invalid one.
kiln_error* valtypes_of(const char* what, const kiln_valkind_t* kinds, size_t n,
                        std::vector<kiln::ValType>& out) {
    if (n && !kinds) return usage(fmt::format("{} kinds are NULL but {} are declared", what, n));
    for (size_t i = 0; i < n; ++i) {
        auto t = valtype_of(kinds[i]);
        if (!t) return usage(invalid_kind(fmt::format("{} {}", what, i), kinds[i]));
        out.push_back(*t);
    }
    return nullptr;
}

// Store objects are the C++ handles' (store id, pointer) pairs.
template <typename Handle, typename Raw> Handle handle_of(uint64_t store_id, void* impl) {
    return Handle(store_id, static_cast<Raw*>(impl));
}
kiln::Func func_of(const kiln_func_t& f) {
    return handle_of<kiln::Func, kiln::engine::FuncInst>(f.store_id, f.impl);
}
kiln::Memory memory_of(const kiln_memory_t& m) {
    return handle_of<kiln::Memory, kiln::engine::MemoryInst>(m.store_id, m.impl);
}
kiln::Global global_of(const kiln_global_t& g) {
    return handle_of<kiln::Global, kiln::engine::GlobalInst>(g.store_id, g.impl);
}
kiln::Instance instance_of(const kiln_instance_t& i) {
    return handle_of<kiln::Instance, kiln::engine::Instance>(i.store_id, i.impl);
}

/// Why a store object cannot be used with `store`, or nullptr when it can. The C++ API checks
/// the store too; this also catches a NULL or zeroed handle before it is dereferenced.
template <typename H>
kiln_error* check_handle(const kiln_store* store, const H* h, const char* what) {
    if (!store) return usage("store is NULL");
    if (!h) return usage(fmt::format("{} is NULL", what));
    if (!h->impl) return usage(fmt::format("{} is empty", what));
    if (h->store_id != store->store.id())
        return usage(fmt::format("{} belongs to another store than the one given", what));
    return nullptr;
}

template <typename H> bool usable(const kiln_store* store, const H* h) {
    return store && h && h->impl && h->store_id == store->store.id();
}

kiln_func_t c_func(const kiln::Func& f) {
    return kiln_func_t{f.store_id(), f.raw()};
}

/// A host function's env: shared by every copy of the definition (the linker's and each
/// store's), finalized once when the last goes. Armed only once the definition is in place, so
/// a failed define leaves env to its caller.
struct HostEnv {
    void* env;
    void (*finalizer)(void*);
    bool armed = false;
    HostEnv(void* e, void (*f)(void*)) : env(e), finalizer(f) {}
    HostEnv(const HostEnv&) = delete;
    HostEnv& operator=(const HostEnv&) = delete;
    ~HostEnv() {
        if (armed && finalizer) finalizer(env);
    }
};

/// Runs a C host callback: `call(args, nargs, results, nresults)` gets the arguments (`arg(i)`
/// gives each) as typed values and the results with their kinds preset. Its results, once all
/// are checked against `type`, go to `set_result(i, value)`; its error, or a result of the wrong
/// kind, traps `caller`.
template <typename Arg, typename Call, typename SetResult>
void run_host_callback(const kiln::FuncType& type, kiln::Caller& caller, Arg arg, Call call,
                       SetResult set_result) {
    const size_t np = type.params.size(), nr = type.results.size();
    kiln_val_t small[16];
    std::vector<kiln_val_t> large;
    kiln_val_t* args = small;
    if (np + nr > std::size(small)) {
        large.resize(np + nr);
        args = large.data();
    }
    kiln_val_t* results = args + np;
    for (size_t i = 0; i < np; ++i)
        args[i] = val_of(arg(i));
    for (size_t i = 0; i < nr; ++i)
        results[i] = val_of(kiln::Value{type.results[i], 0});
    if (kiln_error* err = call(args, np, results, nr)) {
        // An error from a nested kiln_func_call carries on with its trap and frames.
        caller.trap(err == &out_of_memory ? err->error : std::move(err->error));
        kiln_error_delete(err);
        return;
    }
    // Results are stored only once all are valid: a host function's slots also hold the
    // arguments.
    for (size_t i = 0; i < nr; ++i)
        if (results[i].kind != kiln_valkind_t(type.results[i]))
            return caller.trap(fmt::format("host function returned kind {} for result {}, "
                                           "expected {}",
                                           int(results[i].kind), i,
                                           kiln::valtype_name(type.results[i])));
    for (size_t i = 0; i < nr; ++i)
        set_result(i, *value_of(results[i]));
}

/// Calls a linker's C host function on the wasm value slots of its call (a v128 takes two).
void call_host(kiln_func_callback_t callback, const HostEnv& env, const kiln::FuncType& type,
               kiln::Caller& caller, uint64_t* slots) {
    CStore* back = caller.data<CStore>();
    kiln_caller c{caller, back ? back->store : nullptr};
    const std::span<const kiln::ValType> params(type.params), rtypes(type.results);
    run_host_callback(
        type, caller,
        [&](size_t i) {
            return kiln::Value::from_slots(params[i], slots + kiln::slot_count(params.first(i)));
        },
        [&](const kiln_val_t* args, size_t np, kiln_val_t* results, size_t nr) {
            return callback(env.env, &c, args, np, results, nr);
        },
        [&](size_t i, const kiln::Value& v) {
            v.to_slots(slots + kiln::slot_count(rtypes.first(i)));
        });
}

} // namespace

// The definitions below take C linkage from their declarations in kiln.h.

// ---- errors

kiln_error_t* kiln_error_new(const char* message) {
    return guarded([&] {
        std::string m = message ? message : "host error";
        return new_error(
            kiln::Error{kiln::ErrorKind::trap, m,
                        std::make_shared<const kiln::Trap>(kiln::Trap{
                            kiln::TrapKind::host_error, kiln::host_trap_message(m), {}})});
    });
}

void kiln_error_delete(kiln_error_t* error) {
    if (error != &out_of_memory) delete error;
}

const char* kiln_error_message(const kiln_error_t* error) {
    return error ? error->error.message.c_str() : "";
}

kiln_error_kind_t kiln_error_kind(const kiln_error_t* error) {
    return error ? kiln_error_kind_t(error->error.kind) : KILN_ERROR_USAGE;
}

int kiln_error_trap_kind(const kiln_error_t* error) {
    return error && error->error.trap ? int(error->error.trap->kind) : -1;
}

int32_t kiln_error_exit_code(const kiln_error_t* error) {
    return error && error->error.kind == kiln::ErrorKind::exit && error->error.trap
               ? error->error.trap->exit_code
               : 0;
}

size_t kiln_error_backtrace_count(const kiln_error_t* error) {
    return error && error->error.trap ? error->error.trap->frames.size() : 0;
}

namespace {

/// Frame `index` of the error's trap, or nullptr past the end.
const kiln::TrapFrame* frame_at(const kiln_error_t* error, size_t index) {
    if (index >= kiln_error_backtrace_count(error)) return nullptr;
    return &error->error.trap->frames[index];
}

} // namespace

const char* kiln_error_backtrace_frame(const kiln_error_t* error, size_t index) {
    if (!frame_at(error, index)) return nullptr;
    return guarded_value<const char*>(nullptr, [&] {
        auto& names = error->frame_names;
        if (names.empty())
            for (const kiln::TrapFrame& f : error->error.trap->frames)
                names.push_back(kiln::format_frame(f));
        return names[index].c_str();
    });
}

uint32_t kiln_error_frame_func_index(const kiln_error_t* error, size_t index) {
    const kiln::TrapFrame* f = frame_at(error, index);
    return f ? f->func_index : KILN_HOST_FUNC_INDEX;
}

const char* kiln_error_frame_func_name(const kiln_error_t* error, size_t index) {
    const kiln::TrapFrame* f = frame_at(error, index);
    return f ? f->func_name.c_str() : nullptr;
}

const char* kiln_error_frame_module_name(const kiln_error_t* error, size_t index) {
    const kiln::TrapFrame* f = frame_at(error, index);
    return f ? f->module_name.c_str() : nullptr;
}

uint32_t kiln_error_frame_code_offset(const kiln_error_t* error, size_t index) {
    const kiln::TrapFrame* f = frame_at(error, index);
    return f ? f->code_offset : 0;
}

namespace {

/// The int a C caller passed as one of kiln.h's enums. C may pass any int, but in C++ reading a
/// value outside the enum's range as the enum is undefined (UBSan's -fsanitize=enum stops
/// there), so the bytes are copied out instead.
template <typename Enum> int enum_as_int(const Enum& e) {
    static_assert(sizeof(Enum) == sizeof(int));
    int v;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

} // namespace

const char* kiln_error_kind_name(kiln_error_kind_t kind) {
    switch (enum_as_int(kind)) {
        // clang-format off
#define KILN_ERROR_KIND(name, NAME, value, text) case KILN_ERROR_##NAME: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

const char* kiln_trap_kind_name(kiln_trap_kind_t kind) {
    switch (enum_as_int(kind)) {
        // clang-format off
#define KILN_TRAP_KIND(name, NAME, value, text) case KILN_TRAP_##NAME: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

// ---- engine and modules

kiln_engine_t* kiln_engine_new(const kiln_engine_config_t* config) {
    return guarded_value<kiln_engine_t*>(nullptr, [&] {
        kiln::EngineConfig c;
        if (config && config->max_call_depth) c.max_call_depth = config->max_call_depth;
        if (config && config->max_stack_slots) c.max_stack_slots = config->max_stack_slots;
        const uint32_t off = config ? config->disabled_features : 0;
        if (off & KILN_FEATURE_SIMD) c.features.simd = false;
        if (off & KILN_FEATURE_TAIL_CALL) c.features.tail_call = false;
        if (off & KILN_FEATURE_EXTENDED_CONST) c.features.extended_const = false;
        return new kiln_engine{kiln::Engine(c)};
    });
}

void kiln_engine_delete(kiln_engine_t* engine) {
    delete engine;
}

namespace {

kiln_error* finish_module(const kiln_engine_t* engine, kiln::Result<kiln::Module> m,
                          kiln_module_t** out) {
    if (!m) return new_error(std::move(m.error()));
    *out = new kiln_module(engine->engine, std::move(*m));
    return nullptr;
}

} // namespace

kiln_error_t* kiln_module_new(const kiln_engine_t* engine, const uint8_t* bytes, size_t len,
                              kiln_module_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!bytes && len) return usage("module bytes are NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        auto m = kiln::Module::compile(engine->engine, std::span<const uint8_t>(bytes, len));
        return finish_module(engine, std::move(m), out);
    });
}

kiln_error_t* kiln_module_from_file(const kiln_engine_t* engine, const char* path,
                                    kiln_module_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!path) return usage("path is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        return finish_module(engine, kiln::Module::from_file(engine->engine, path), out);
    });
}

void kiln_module_delete(kiln_module_t* module) {
    delete module;
}

size_t kiln_module_import_count(const kiln_module_t* module) {
    return module ? module->imports.size() : 0;
}

bool kiln_module_import(const kiln_module_t* module, size_t index, const char** module_name,
                        const char** name, kiln_externkind_t* kind) {
    if (!module || index >= module->imports.size()) return false;
    const kiln::ImportType& imp = module->imports[index];
    if (module_name) *module_name = imp.module.c_str();
    if (name) *name = imp.name.c_str();
    if (kind) *kind = kiln_externkind_t(imp.type.kind);
    return true;
}

size_t kiln_module_export_count(const kiln_module_t* module) {
    return module ? module->exports.size() : 0;
}

bool kiln_module_export(const kiln_module_t* module, size_t index, const char** name,
                        kiln_externkind_t* kind) {
    if (!module || index >= module->exports.size()) return false;
    const kiln::ExportType& exp = module->exports[index];
    if (name) *name = exp.name.c_str();
    if (kind) *kind = kiln_externkind_t(exp.type.kind);
    return true;
}

// ---- stores and limits

kiln_store_t* kiln_store_new(const kiln_engine_t* engine) {
    if (!engine) return nullptr;
    return guarded_value<kiln_store_t*>(nullptr, [&] { return new kiln_store(engine->engine); });
}

void kiln_store_delete(kiln_store_t* store) {
    delete store;
}

void kiln_store_set_memory_limit(kiln_store_t* store, uint64_t bytes) {
    if (store) store->store.set_memory_limit(bytes);
}

void kiln_store_set_table_limit(kiln_store_t* store, uint64_t elements) {
    if (store) store->store.set_table_limit(elements);
}

void kiln_store_set_fuel(kiln_store_t* store, uint64_t fuel) {
    if (store) store->store.set_fuel(fuel);
}

void kiln_store_add_fuel(kiln_store_t* store, uint64_t fuel) {
    if (store) store->store.add_fuel(fuel);
}

bool kiln_store_get_fuel(const kiln_store_t* store, uint64_t* fuel) {
    if (!store) return false;
    auto left = store->store.fuel();
    if (!left) return false;
    if (fuel) *fuel = *left;
    return true;
}

void kiln_store_disable_fuel(kiln_store_t* store) {
    if (store) store->store.disable_fuel();
}

void kiln_store_set_suspend_on_fuel(kiln_store_t* store, bool suspend) {
    if (store) store->store.set_suspend_on_fuel(suspend);
}

namespace {

/// Milliseconds as a duration, clamped so that "now + timeout" cannot overflow the clock's
/// nanoseconds.
std::chrono::milliseconds clamped_ms(uint64_t milliseconds) {
    constexpr uint64_t max_ms = 1'000'000'000'000; // about 31 years
    return std::chrono::milliseconds(std::min(milliseconds, max_ms));
}

} // namespace

void kiln_store_set_timeout_ms(kiln_store_t* store, uint64_t milliseconds) {
    if (store) store->store.set_timeout(clamped_ms(milliseconds));
}

void kiln_store_set_stack_limits(kiln_store_t* store, uint32_t max_call_depth,
                                 uint64_t max_stack_slots) {
    if (store) store->store.set_stack_limits(max_call_depth, max_stack_slots);
}

void kiln_store_set_reuse_after_trap(kiln_store_t* store, bool allow) {
    if (store) store->store.set_reuse_after_trap(allow);
}

bool kiln_store_has_suspended(const kiln_store_t* store) {
    return store && store->store.has_suspended_call();
}

namespace {

/// Stores a finished call's results, or passes its error on (noting a suspension's result count).
kiln_error* finish_call(kiln_store* store, kiln::Result<std::vector<kiln::Value>> r,
                        kiln_val_t* results, size_t nresults) {
    if (!r) {
        if (r.error().kind == kiln::ErrorKind::suspended) store->suspended_results = nresults;
        return new_error(std::move(r.error()));
    }
    if (r->size() != nresults)
        return usage(fmt::format("the call returned {} results, room was given for {}", r->size(),
                                 nresults));
    for (size_t i = 0; i < nresults; ++i)
        results[i] = val_of((*r)[i]);
    return nullptr;
}

} // namespace

kiln_error_t* kiln_store_resume(kiln_store_t* store, kiln_val_t* results, size_t nresults) {
    return guarded([&]() -> kiln_error* {
        if (!store) return usage("store is NULL");
        if (!store->store.has_suspended_call()) return usage("no suspended call to resume");
        if (!results && nresults) return usage("results are NULL");
        if (nresults != store->suspended_results)
            return usage(fmt::format("the suspended function returns {} results, room was given "
                                     "for {}",
                                     store->suspended_results, nresults));
        return finish_call(store, store->store.resume(), results, nresults);
    });
}

void kiln_store_drop_suspended(kiln_store_t* store) {
    if (store) store->store.drop_suspended_call();
}

kiln_interrupt_handle_t* kiln_interrupt_handle_new(const kiln_store_t* store) {
    if (!store) return nullptr;
    return guarded_value<kiln_interrupt_handle_t*>(
        nullptr, [&] { return new kiln_interrupt_handle{store->store.interrupt_handle()}; });
}

void kiln_interrupt_handle_interrupt(const kiln_interrupt_handle_t* handle) {
    if (handle) handle->handle.interrupt();
}

void kiln_interrupt_handle_suspend(const kiln_interrupt_handle_t* handle) {
    if (handle) handle->handle.suspend();
}

void kiln_interrupt_handle_delete(kiln_interrupt_handle_t* handle) {
    delete handle;
}

// ---- host functions and linking

kiln_linker_t* kiln_linker_new(void) {
    return guarded_value<kiln_linker_t*>(nullptr, [] { return new kiln_linker{}; });
}

void kiln_linker_delete(kiln_linker_t* linker) {
    delete linker;
}

kiln_error_t* kiln_linker_define_func(kiln_linker_t* linker, const char* module, const char* name,
                                      const kiln_valkind_t* params, size_t nparams,
                                      const kiln_valkind_t* results, size_t nresults,
                                      kiln_func_callback_t callback, void* env,
                                      void (*finalizer)(void* env)) {
    return guarded([&]() -> kiln_error* {
        if (!linker) return usage("linker is NULL");
        if (!module || !name) return usage("import module or name is NULL");
        if (!callback) return usage(fmt::format("callback of {}.{} is NULL", module, name));
        kiln::FuncType type;
        if (kiln_error* e = valtypes_of("parameter", params, nparams, type.params)) return e;
        if (kiln_error* e = valtypes_of("result", results, nresults, type.results)) return e;
        auto host_env = std::make_shared<HostEnv>(env, finalizer);
        kiln::SlotHostFn body = [callback, host_env, type](kiln::Caller& caller, uint64_t* slots) {
            call_host(callback, *host_env, type, caller, slots);
        };
        linker->linker.define_func(module, name, kiln::HostFunc{std::move(type), std::move(body)});
        host_env->armed = true;
        return nullptr;
    });
}

kiln_error_t* kiln_linker_define_instance(kiln_linker_t* linker, kiln_store_t* store,
                                          const char* module, const kiln_instance_t* instance) {
    return guarded([&]() -> kiln_error* {
        if (!linker) return usage("linker is NULL");
        if (kiln_error* e = check_handle(store, instance, "instance")) return e;
        if (!module) return usage("module name is NULL");
        linker->linker.define_instance(store->store, module, instance_of(*instance));
        return nullptr;
    });
}

kiln_error_t* kiln_linker_instantiate(const kiln_linker_t* linker, kiln_store_t* store,
                                      const kiln_module_t* module, kiln_instance_t* out) {
    return guarded([&]() -> kiln_error* {
        if (!linker) return usage("linker is NULL");
        if (!store) return usage("store is NULL");
        if (!module) return usage("module is NULL");
        if (!out) return usage("out is NULL");
        // Function types are interned per engine, so a module only runs in its engine's stores.
        if (&module->engine.raw() != &store->engine.raw())
            return usage("the module and the store come from different engines");
        auto inst = linker->linker.instantiate(store->store, module->module);
        if (!inst) return new_error(std::move(inst.error()));
        *out = kiln_instance_t{inst->store_id(), inst->raw()};
        return nullptr;
    });
}

kiln_store_t* kiln_caller_store(kiln_caller_t* caller) {
    return caller ? caller->store : nullptr;
}

uint64_t kiln_caller_memory_size(const kiln_caller_t* caller) {
    return caller ? caller->caller.memory_size() : 0;
}

bool kiln_caller_memory_read(const kiln_caller_t* caller, uint64_t offset, void* out, size_t len) {
    if (!caller || (!out && len)) return false;
    return caller->caller.read(offset, std::span<uint8_t>(static_cast<uint8_t*>(out), len));
}

bool kiln_caller_memory_write(kiln_caller_t* caller, uint64_t offset, const void* data,
                              size_t len) {
    if (!caller || (!data && len)) return false;
    return caller->caller.write(offset,
                                std::span<const uint8_t>(static_cast<const uint8_t*>(data), len));
}

bool kiln_caller_get_func(kiln_caller_t* caller, const char* name, kiln_func_t* out) {
    if (!caller || !name || !out) return false;
    return guarded_value(false, [&] {
        auto e = caller->caller.get_export(name);
        auto f = e ? e->func() : std::nullopt;
        if (f) *out = c_func(*f);
        return f.has_value();
    });
}

// ---- instances and their exports

namespace {

/// Export `name` of `instance` through `get` (Instance::get_func, ...) into `*out`.
template <typename H, typename C>
bool get_export(kiln_store_t* store, const kiln_instance_t* instance, const char* name, C* out,
                std::optional<H> (kiln::Instance::*get)(kiln::Store&, const std::string&) const) {
    if (!usable(store, instance) || !name || !out) return false;
    return guarded_value(false, [&] {
        auto h = (instance_of(*instance).*get)(store->store, name);
        if (h) *out = C{h->store_id(), h->raw()};
        return h.has_value();
    });
}

} // namespace

bool kiln_instance_get_func(kiln_store_t* store, const kiln_instance_t* instance, const char* name,
                            kiln_func_t* out) {
    return get_export(store, instance, name, out, &kiln::Instance::get_func);
}

bool kiln_instance_get_memory(kiln_store_t* store, const kiln_instance_t* instance,
                              const char* name, kiln_memory_t* out) {
    return get_export(store, instance, name, out, &kiln::Instance::get_memory);
}

bool kiln_instance_get_global(kiln_store_t* store, const kiln_instance_t* instance,
                              const char* name, kiln_global_t* out) {
    return get_export(store, instance, name, out, &kiln::Instance::get_global);
}

kiln_error_t* kiln_func_call(kiln_store_t* store, const kiln_func_t* func, const kiln_val_t* args,
                             size_t nargs, kiln_val_t* results, size_t nresults) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, func, "function")) return e;
        if (!args && nargs) return usage("arguments are NULL");
        if (!results && nresults) return usage("results are NULL");
        kiln::Func f = func_of(*func);
        auto type = f.type(store->store);
        if (!type) return new_error(std::move(type.error()));
        if (type->results.size() != nresults)
            return usage(fmt::format("function of type {} returns {} results, room was given "
                                     "for {}",
                                     kiln::functype_string(*type), type->results.size(), nresults));
        std::vector<kiln::Value> values;
        values.reserve(nargs);
        for (size_t i = 0; i < nargs; ++i) {
            auto v = value_of(args[i]);
            if (!v) return usage(invalid_kind(fmt::format("argument {}", i), args[i].kind));
            values.push_back(*v);
        }
        return finish_call(store, f.call(store->store, values), results, nresults);
    });
}

bool kiln_func_type(kiln_store_t* store, const kiln_func_t* func, kiln_valkind_t* params,
                    size_t* nparams, kiln_valkind_t* results, size_t* nresults) {
    if (!usable(store, func) || !nparams || !nresults) return false;
    if ((!params && *nparams) || (!results && *nresults)) return false;
    return guarded_value(false, [&] {
        auto type = func_of(*func).type(store->store);
        if (!type) return false;
        for (size_t i = 0; i < std::min(*nparams, type->params.size()); ++i)
            params[i] = kiln_valkind_t(type->params[i]);
        for (size_t i = 0; i < std::min(*nresults, type->results.size()); ++i)
            results[i] = kiln_valkind_t(type->results[i]);
        *nparams = type->params.size();
        *nresults = type->results.size();
        return true;
    });
}

// ---- memories and globals

kiln_error_t* kiln_memory_size(kiln_store_t* store, const kiln_memory_t* memory, uint64_t* bytes) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, memory, "memory")) return e;
        if (!bytes) return usage("bytes is NULL");
        auto size = memory_of(*memory).size(store->store);
        if (!size) return new_error(std::move(size.error()));
        *bytes = *size;
        return nullptr;
    });
}

kiln_error_t* kiln_memory_read(kiln_store_t* store, const kiln_memory_t* memory, uint64_t offset,
                               void* out, size_t len) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, memory, "memory")) return e;
        if (!out && len) return usage("out is NULL");
        auto r = memory_of(*memory).read(store->store, offset,
                                         std::span<uint8_t>(static_cast<uint8_t*>(out), len));
        return r ? nullptr : new_error(std::move(r.error()));
    });
}

kiln_error_t* kiln_memory_write(kiln_store_t* store, const kiln_memory_t* memory, uint64_t offset,
                                const void* data, size_t len) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, memory, "memory")) return e;
        if (!data && len) return usage("data is NULL");
        auto r = memory_of(*memory).write(
            store->store, offset, std::span<const uint8_t>(static_cast<const uint8_t*>(data), len));
        return r ? nullptr : new_error(std::move(r.error()));
    });
}

kiln_error_t* kiln_memory_grow(kiln_store_t* store, const kiln_memory_t* memory, uint64_t pages,
                               uint64_t* previous_pages) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, memory, "memory")) return e;
        auto old = memory_of(*memory).grow(store->store, pages);
        if (!old) return new_error(std::move(old.error()));
        if (previous_pages) *previous_pages = *old;
        return nullptr;
    });
}

kiln_error_t* kiln_global_get(kiln_store_t* store, const kiln_global_t* global, kiln_val_t* out) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, global, "global")) return e;
        if (!out) return usage("out is NULL");
        auto v = global_of(*global).get(store->store);
        if (!v) return new_error(std::move(v.error()));
        *out = val_of(*v);
        return nullptr;
    });
}

kiln_error_t* kiln_global_set(kiln_store_t* store, const kiln_global_t* global,
                              const kiln_val_t* value) {
    return guarded([&]() -> kiln_error* {
        if (kiln_error* e = check_handle(store, global, "global")) return e;
        if (!value) return usage("value is NULL");
        auto v = value_of(*value);
        if (!v) return usage(invalid_kind("the value", value->kind));
        auto r = global_of(*global).set(store->store, *v);
        return r ? nullptr : new_error(std::move(r.error()));
    });
}

// ---- plugins

// A plugin the C host owns, or one leased from a pool (given back when it is deleted).
struct kiln_plugin {
    explicit kiln_plugin(kiln::Plugin p) : owned(std::move(p)), plugin(*owned) {}
    kiln_plugin(std::shared_ptr<kiln::PluginPool> from, kiln::PluginPool::Lease l)
        : pool(std::move(from)), lease(std::move(l)), plugin(**lease) {}
    std::optional<kiln::Plugin> owned;
    std::shared_ptr<kiln::PluginPool> pool; ///< kept while its instance is leased
    std::optional<kiln::PluginPool::Lease> lease;
    kiln::Plugin& plugin;
    std::string output; ///< the last call's output, handed out until the next call
};

namespace {

kiln_error* new_plugin(kiln::Result<kiln::Plugin> p, kiln_plugin_t** out) {
    if (!p) return new_error(std::move(p.error()));
    *out = new kiln_plugin(std::move(*p));
    return nullptr;
}

kiln_error* finish_plugin(const kiln_engine_t* engine, kiln::Result<kiln::Manifest> manifest,
                          bool wasi, kiln_plugin_t** out) {
    if (!manifest) return new_error(std::move(manifest.error()));
    kiln::PluginOptions options;
    options.wasi = wasi;
    return new_plugin(kiln::Plugin::create(engine->engine, std::move(*manifest), options), out);
}

} // namespace

kiln_error_t* kiln_plugin_from_file(const kiln_engine_t* engine, const char* path, bool wasi,
                                    kiln_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!path) return usage("path is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        return finish_plugin(engine, kiln::Manifest::from_file(path), wasi, out);
    });
}

kiln_error_t* kiln_plugin_new(const kiln_engine_t* engine, const uint8_t* wasm, size_t len,
                              bool wasi, kiln_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!wasm && len) return usage("wasm is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        std::vector<uint8_t> bytes(wasm, wasm + len);
        return finish_plugin(engine, kiln::Manifest::from_bytes(std::move(bytes)), wasi, out);
    });
}

void kiln_plugin_delete(kiln_plugin_t* plugin) {
    delete plugin;
}

namespace {

/// Keeps a call's output in the plugin and hands it out, or passes its error on.
kiln_error* finish_plugin_call(kiln_plugin* plugin, kiln::Result<std::string> r,
                               const uint8_t** output, size_t* output_len) {
    if (!r) return new_error(std::move(r.error()));
    plugin->output = std::move(*r);
    *output = reinterpret_cast<const uint8_t*>(plugin->output.data());
    *output_len = plugin->output.size();
    return nullptr;
}

} // namespace

kiln_error_t* kiln_plugin_call(kiln_plugin_t* plugin, const char* function, const uint8_t* input,
                               size_t input_len, const uint8_t** output, size_t* output_len) {
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        if (!function) return usage("function is NULL");
        if (!input && input_len) return usage("input is NULL");
        if (!output || !output_len) return usage("output is NULL");
        *output = nullptr;
        *output_len = 0;
        return finish_plugin_call(
            plugin,
            plugin->plugin.call(function,
                                std::string_view(reinterpret_cast<const char*>(input), input_len)),
            output, output_len);
    });
}

bool kiln_plugin_function_exists(const kiln_plugin_t* plugin, const char* function) {
    return guarded_value(
        false, [&] { return plugin && function && plugin->plugin.function_exists(function); });
}

void kiln_plugin_set_config(kiln_plugin_t* plugin, const char* key, const char* value) {
    guarded_value(0, [&] {
        if (!plugin || !key) return 0;
        std::map<std::string, std::optional<std::string>> update;
        update[key] = value ? std::optional<std::string>(value) : std::nullopt;
        plugin->plugin.update_config(update);
        return 0;
    });
}

// ---- manifests, plugin options and compiled plugins

struct kiln_manifest {
    kiln::Manifest manifest;
};

struct kiln_compiled_plugin {
    std::shared_ptr<const kiln::CompiledPlugin> compiled;
};

// What a plugin's host function sees; the blocks, vars and config values it reads are kept
// here so that the pointers handed out stay valid until the callback returns.
struct kiln_current_plugin {
    kiln::CurrentPlugin& plugin;
    kiln_caller caller;
    std::deque<std::string> kept;
};

struct kiln_cancel_handle {
    kiln::CancelHandle handle;
};

struct kiln_plugin_pool {
    std::shared_ptr<kiln::PluginPool> pool;
};

namespace {

using ManifestParser = kiln::Result<kiln::Manifest> (*)(std::string_view, const std::string&);

kiln_error* parse_manifest(ManifestParser parse, const char* text, size_t len, const char* base_dir,
                           kiln_manifest_t** out) {
    if (!text && len) return usage("manifest text is NULL");
    if (!out) return usage("out is NULL");
    *out = nullptr;
    auto m = parse(std::string_view(text, len), base_dir ? base_dir : "");
    if (!m) return new_error(std::move(m.error()));
    *out = new kiln_manifest{std::move(*m)};
    return nullptr;
}

/// The C++ name of a log level ("trace" ... "error", "off"), or nullopt for a value that is none.
/// Takes the level as an int (see enum_as_int): passing an out-of-range kiln_log_level_t by value
/// is itself a load of the enum, which UBSan reports.
std::optional<std::string> log_level_text(int level) {
    switch (level) {
    case KILN_LOG_TRACE:
    case KILN_LOG_DEBUG:
    case KILN_LOG_INFO:
    case KILN_LOG_WARN:
    case KILN_LOG_ERROR: return kiln::log_level_name(kiln::LogLevel(level));
    case KILN_LOG_OFF: return "off";
    }
    return std::nullopt;
}

kiln_error* unknown_level(int level) {
    return usage(fmt::format("{} is no log level (KILN_LOG_TRACE to KILN_LOG_OFF)", level));
}

/// Calls a plugin's C host function with the plugin's view of the call.
void call_plugin_host(kiln_plugin_func_callback_t callback, const HostEnv& env,
                      const kiln::FuncType& type, kiln::CurrentPlugin& cp,
                      std::span<const kiln::Value> args, std::span<kiln::Value> results) {
    kiln_current_plugin current{cp, kiln_caller{cp.caller(), nullptr}, {}};
    run_host_callback(
        type, cp.caller(), [&](size_t i) { return args[i]; },
        [&](const kiln_val_t* a, size_t np, kiln_val_t* r, size_t nr) {
            return callback(env.env, &current, a, np, r, nr);
        },
        [&](size_t i, const kiln::Value& v) { results[i] = v; });
}

/// Hands out a copy kept until the host function returns.
const std::string& keep(kiln_current_plugin* cp, std::string value) {
    return cp->kept.emplace_back(std::move(value));
}

} // namespace

kiln_error_t* kiln_manifest_from_json(const char* text, size_t len, const char* base_dir,
                                      kiln_manifest_t** out) {
    return guarded(
        [&] { return parse_manifest(&kiln::Manifest::from_json, text, len, base_dir, out); });
}

kiln_error_t* kiln_manifest_from_toml(const char* text, size_t len, const char* base_dir,
                                      kiln_manifest_t** out) {
    return guarded(
        [&] { return parse_manifest(&kiln::Manifest::from_toml, text, len, base_dir, out); });
}

kiln_error_t* kiln_manifest_from_file(const char* path, kiln_manifest_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!path) return usage("path is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        auto m = kiln::Manifest::from_file(path);
        if (!m) return new_error(std::move(m.error()));
        *out = new kiln_manifest{std::move(*m)};
        return nullptr;
    });
}

void kiln_manifest_delete(kiln_manifest_t* manifest) {
    delete manifest;
}

kiln_plugin_options_t* kiln_plugin_options_new(void) {
    return guarded_value<kiln_plugin_options_t*>(nullptr, [] { return new kiln_plugin_options{}; });
}

void kiln_plugin_options_delete(kiln_plugin_options_t* options) {
    delete options;
}

void kiln_plugin_options_set_wasi(kiln_plugin_options_t* options, bool wasi) {
    if (options) options->options.wasi = wasi;
}

void kiln_plugin_options_set_name(kiln_plugin_options_t* options, const char* name) {
    guarded_value(0, [&] {
        if (options) options->options.name = name ? name : "";
        return 0;
    });
}

void kiln_plugin_options_set_http_response_headers(kiln_plugin_options_t* options, bool allow) {
    if (options) options->options.http_response_headers = allow;
}

kiln_error_t* kiln_plugin_options_set_log_level(kiln_plugin_options_t* options,
                                                kiln_log_level_t level) {
    const int raw_level = enum_as_int(level);
    return guarded([&]() -> kiln_error* {
        if (!options) return usage("options are NULL");
        auto text = log_level_text(raw_level);
        if (!text) return unknown_level(raw_level);
        options->options.log_level = *text;
        return nullptr;
    });
}

kiln_error_t* kiln_plugin_options_set_log_callback(kiln_plugin_options_t* options,
                                                   kiln_log_callback_t callback, void* user_data,
                                                   void (*free_user_data)(void* user_data)) {
    return guarded([&]() -> kiln_error* {
        if (!options) return usage("options are NULL");
        if (!callback) {
            options->options.log = nullptr;
            return nullptr;
        }
        auto env = std::make_shared<HostEnv>(user_data, free_user_data);
        options->options.log = [callback, env](std::string_view plugin, kiln::LogLevel level,
                                               std::string_view line) {
            callback(env->env, std::string(plugin).c_str(), kiln_log_level_t(level),
                     std::string(line).c_str());
        };
        env->armed = true;
        return nullptr;
    });
}

kiln_error_t* kiln_plugin_options_add_function(kiln_plugin_options_t* options, const char* ns,
                                               const char* name, const kiln_valkind_t* params,
                                               size_t nparams, const kiln_valkind_t* results,
                                               size_t nresults,
                                               kiln_plugin_func_callback_t callback,
                                               void* user_data,
                                               void (*free_user_data)(void* user_data)) {
    return guarded([&]() -> kiln_error* {
        if (!options) return usage("options are NULL");
        if (!name) return usage("host function name is NULL");
        if (!callback) return usage(fmt::format("callback of host function {} is NULL", name));
        kiln::PluginFunction f;
        if (ns) f.ns = ns;
        f.name = name;
        if (kiln_error* e = valtypes_of("parameter", params, nparams, f.type.params)) return e;
        if (kiln_error* e = valtypes_of("result", results, nresults, f.type.results)) return e;
        auto env = std::make_shared<HostEnv>(user_data, free_user_data);
        f.fn = [callback, env, type = f.type](kiln::CurrentPlugin& cp,
                                              std::span<const kiln::Value> args,
                                              std::span<kiln::Value> res) {
            call_plugin_host(callback, *env, type, cp, args, res);
        };
        options->options.functions.push_back(std::move(f));
        env->armed = true;
        return nullptr;
    });
}

kiln_error_t* kiln_compiled_plugin_new(const kiln_engine_t* engine, const kiln_manifest_t* manifest,
                                       const kiln_plugin_options_t* options,
                                       kiln_compiled_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!manifest) return usage("manifest is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        auto c = kiln::CompiledPlugin::create(engine->engine, manifest->manifest,
                                              options ? options->options : kiln::PluginOptions{});
        if (!c) return new_error(std::move(c.error()));
        *out = new kiln_compiled_plugin{std::move(*c)};
        return nullptr;
    });
}

void kiln_compiled_plugin_delete(kiln_compiled_plugin_t* compiled) {
    delete compiled;
}

kiln_error_t* kiln_plugin_instantiate(const kiln_compiled_plugin_t* compiled, kiln_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!compiled) return usage("compiled plugin is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        return new_plugin(kiln::Plugin::create(compiled->compiled), out);
    });
}

kiln_error_t* kiln_plugin_from_manifest(const kiln_engine_t* engine,
                                        const kiln_manifest_t* manifest,
                                        const kiln_plugin_options_t* options, kiln_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!manifest) return usage("manifest is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        return new_plugin(kiln::Plugin::create(engine->engine, manifest->manifest,
                                               options ? options->options : kiln::PluginOptions{}),
                          out);
    });
}

// ---- inside a plugin's host function

kiln_caller_t* kiln_current_plugin_caller(kiln_current_plugin_t* plugin) {
    return plugin ? &plugin->caller : nullptr;
}

uint64_t kiln_current_plugin_alloc(kiln_current_plugin_t* plugin, uint64_t size) {
    if (!plugin) return 0;
    return guarded_value<uint64_t>(0, [&] { return plugin->plugin.alloc(size); });
}

uint64_t kiln_current_plugin_write(kiln_current_plugin_t* plugin, const void* data, size_t len) {
    if (!plugin || (!data && len)) return 0;
    return guarded_value<uint64_t>(0, [&] {
        return plugin->plugin.write(std::string_view(static_cast<const char*>(data), len));
    });
}

bool kiln_current_plugin_read(kiln_current_plugin_t* plugin, uint64_t handle, const uint8_t** data,
                              size_t* len) {
    if (!plugin || !data || !len) return false;
    return guarded_value(false, [&] {
        auto bytes = plugin->plugin.read(handle);
        if (!bytes) return false;
        const std::string& kept = keep(plugin, std::move(*bytes));
        *data = reinterpret_cast<const uint8_t*>(kept.data());
        *len = kept.size();
        return true;
    });
}

uint64_t kiln_current_plugin_length(const kiln_current_plugin_t* plugin, uint64_t handle) {
    return plugin ? plugin->plugin.length(handle) : 0;
}

void kiln_current_plugin_free(kiln_current_plugin_t* plugin, uint64_t handle) {
    if (plugin) plugin->plugin.free(handle);
}

const char* kiln_current_plugin_config(kiln_current_plugin_t* plugin, const char* key) {
    if (!plugin || !key) return nullptr;
    return guarded_value<const char*>(nullptr, [&]() -> const char* {
        auto value = plugin->plugin.config(key);
        return value ? keep(plugin, std::move(*value)).c_str() : nullptr;
    });
}

bool kiln_current_plugin_var(kiln_current_plugin_t* plugin, const char* key, const uint8_t** data,
                             size_t* len) {
    if (!plugin || !key || !data || !len) return false;
    return guarded_value(false, [&] {
        auto value = plugin->plugin.var(key);
        if (!value) return false;
        const std::string& kept = keep(plugin, std::move(*value));
        *data = reinterpret_cast<const uint8_t*>(kept.data());
        *len = kept.size();
        return true;
    });
}

bool kiln_current_plugin_set_var(kiln_current_plugin_t* plugin, const char* key, const void* data,
                                 size_t len) {
    if (!plugin || !key) return false;
    return guarded_value(false, [&] {
        std::optional<std::string_view> value;
        if (data) value = std::string_view(static_cast<const char*>(data), len);
        return plugin->plugin.set_var(key, value);
    });
}

void kiln_current_plugin_set_error(kiln_current_plugin_t* plugin, const char* message) {
    guarded_value(0, [&] {
        if (plugin) plugin->plugin.set_error(message ? message : "host error");
        return 0;
    });
}

kiln_error_t* kiln_current_plugin_suspend(kiln_current_plugin_t* plugin) {
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        auto r = plugin->plugin.suspend();
        return r ? nullptr : new_error(std::move(r.error()));
    });
}

// ---- plugin instances: control, suspension, snapshots, pools

const char* kiln_plugin_name(const kiln_plugin_t* plugin) {
    return plugin ? plugin->plugin.name().c_str() : "";
}

int32_t kiln_plugin_last_rc(const kiln_plugin_t* plugin) {
    return plugin ? plugin->plugin.last_rc() : 0;
}

kiln_error_t* kiln_plugin_reset(kiln_plugin_t* plugin) {
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        auto r = plugin->plugin.reset();
        return r ? nullptr : new_error(std::move(r.error()));
    });
}

kiln_error_t* kiln_plugin_set_log_level(kiln_plugin_t* plugin, kiln_log_level_t level) {
    const int raw_level = enum_as_int(level);
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        auto text = log_level_text(raw_level);
        if (!text) return unknown_level(raw_level);
        auto r = plugin->plugin.set_log_level(*text);
        return r ? nullptr : new_error(std::move(r.error()));
    });
}

kiln_cancel_handle_t* kiln_plugin_cancel_handle(const kiln_plugin_t* plugin) {
    if (!plugin) return nullptr;
    return guarded_value<kiln_cancel_handle_t*>(
        nullptr, [&] { return new kiln_cancel_handle{plugin->plugin.cancel_handle()}; });
}

void kiln_cancel_handle_cancel(const kiln_cancel_handle_t* handle) {
    if (handle) handle->handle.cancel();
}

void kiln_cancel_handle_delete(kiln_cancel_handle_t* handle) {
    delete handle;
}

bool kiln_plugin_is_suspended(const kiln_plugin_t* plugin) {
    return plugin && plugin->plugin.is_suspended();
}

kiln_error_t* kiln_plugin_resume(kiln_plugin_t* plugin, const kiln_val_t* results, size_t nresults,
                                 const uint8_t** output, size_t* output_len) {
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        if (!results && nresults) return usage("results are NULL");
        if (!output || !output_len) return usage("output is NULL");
        *output = nullptr;
        *output_len = 0;
        std::vector<kiln::Value> values;
        values.reserve(nresults);
        for (size_t i = 0; i < nresults; ++i) {
            auto v = value_of(results[i]);
            if (!v) return usage(invalid_kind(fmt::format("result {}", i), results[i].kind));
            values.push_back(*v);
        }
        return finish_plugin_call(plugin, plugin->plugin.resume(values), output, output_len);
    });
}

void kiln_plugin_drop_suspended(kiln_plugin_t* plugin) {
    if (plugin) plugin->plugin.drop_suspended();
}

kiln_error_t* kiln_plugin_snapshot(const kiln_plugin_t* plugin, uint8_t** data, size_t* len) {
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        if (!data || !len) return usage("data is NULL");
        *data = nullptr;
        *len = 0;
        auto bytes = plugin->plugin.snapshot();
        if (!bytes) return new_error(std::move(bytes.error()));
        auto* copy = static_cast<uint8_t*>(kiln::capi::malloc_copy(bytes->data(), bytes->size()));
        if (!copy) return &out_of_memory;
        *data = copy;
        *len = bytes->size();
        return nullptr;
    });
}

void kiln_bytes_delete(uint8_t* data) {
    std::free(data);
}

kiln_error_t* kiln_plugin_restore(const kiln_compiled_plugin_t* compiled, const uint8_t* data,
                                  size_t len, kiln_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!compiled) return usage("compiled plugin is NULL");
        if (!data && len) return usage("data is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        return new_plugin(
            kiln::Plugin::restore(compiled->compiled, std::span<const uint8_t>(data, len)), out);
    });
}

kiln_plugin_pool_t* kiln_plugin_pool_new(const kiln_compiled_plugin_t* compiled, size_t max) {
    if (!compiled) return nullptr;
    return guarded_value<kiln_plugin_pool_t*>(nullptr, [&] {
        return new kiln_plugin_pool{std::make_shared<kiln::PluginPool>(compiled->compiled, max)};
    });
}

void kiln_plugin_pool_delete(kiln_plugin_pool_t* pool) {
    delete pool;
}

kiln_error_t* kiln_plugin_pool_get(kiln_plugin_pool_t* pool, uint64_t timeout_ms,
                                   kiln_plugin_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!pool) return usage("pool is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        auto lease = pool->pool->get(clamped_ms(timeout_ms));
        if (!lease) return new_error(std::move(lease.error()));
        *out = new kiln_plugin(pool->pool, std::move(*lease));
        return nullptr;
    });
}
