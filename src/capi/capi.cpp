// The C API (include/kiln/kiln.h) over the public C++ API. Nothing here reaches engine internals:
// handles are the C++ objects behind opaque structs, and every entry point catches exceptions so
// none crosses into C.
#include <kiln/kiln.h>
#include <kiln/kiln.hpp>
#include <kiln/plugin.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <string>
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
#undef KILN_SAME

struct kiln_error {
    kiln::Error error;
    /// format_frame() of each frame, made when kiln_error_backtrace_frame first asks.
    mutable std::vector<std::string> frame_names;
};

struct kiln_engine {
    kiln::Engine engine;
};

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

// Returned when not even an error can be allocated; kiln_error_delete never frees it.
kiln_error out_of_memory{kiln::Error{kiln::ErrorKind::limit, "out of memory", nullptr}, {}};

kiln_error* new_error(kiln::Error e) noexcept {
    try {
        return new kiln_error{std::move(e), {}};
    } catch (...) {
        return &out_of_memory;
    }
}

kiln_error* usage(std::string message) {
    return new_error(kiln::Error{kiln::ErrorKind::usage, std::move(message), nullptr});
}

kiln_error* unexpected_exception(const char* what) noexcept {
    try {
        return usage(std::string("unexpected exception: ") + what);
    } catch (...) {
        return &out_of_memory;
    }
}

/// Runs an entry point's body; an exception becomes an error instead of crossing into C.
template <typename F> kiln_error* guarded(F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return &out_of_memory;
    } catch (const std::exception& e) {
        return unexpected_exception(e.what());
    } catch (...) {
        return unexpected_exception("of unknown type");
    }
}

/// For entry points that return a value rather than an error: `fallback` on an exception.
template <typename T, typename F> T guarded_value(T fallback, F&& body) noexcept {
    try {
        return body();
    } catch (...) {
        return fallback;
    }
}

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

/// Calls the C callback with typed values, then checks and stores its results.
void call_host(kiln_func_callback_t callback, const HostEnv& env, const kiln::FuncType& type,
               kiln::Caller& caller, uint64_t* slots) {
    const size_t np = type.params.size(), nr = type.results.size();
    kiln_val_t small[16];
    std::vector<kiln_val_t> large;
    kiln_val_t* args = small;
    if (np + nr > std::size(small)) {
        large.resize(np + nr);
        args = large.data();
    }
    kiln_val_t* results = args + np;
    for (size_t i = 0, at = 0; i < np; at += kiln::slot_count(type.params[i++]))
        args[i] = val_of(kiln::Value::from_slots(type.params[i], slots + at));
    for (size_t i = 0; i < nr; ++i)
        results[i] = val_of(kiln::Value{type.results[i], 0});
    CStore* back = caller.data<CStore>();
    kiln_store* store = back ? back->store : nullptr;
    kiln_caller c{caller, store};
    if (kiln_error* err = callback(env.env, &c, args, np, results, nr)) {
        // An error from a nested kiln_func_call carries on with its trap and frames.
        caller.trap(err == &out_of_memory ? err->error : std::move(err->error));
        kiln_error_delete(err);
        return;
    }
    // Results are stored only once all are valid: slots also hold the arguments.
    for (size_t i = 0; i < nr; ++i)
        if (results[i].kind != kiln_valkind_t(type.results[i]))
            return caller.trap(fmt::format("host function returned kind {} for result {}, "
                                           "expected {}",
                                           int(results[i].kind), i,
                                           kiln::valtype_name(type.results[i])));
    for (size_t i = 0, at = 0; i < nr; at += kiln::slot_count(type.results[i++]))
        value_of(results[i])->to_slots(slots + at);
}

} // namespace

// The definitions below take C linkage from their declarations in kiln.h.

// ---- errors

kiln_error_t* kiln_error_new(const char* message) {
    return guarded([&] {
        std::string m = message ? message : "host error";
        return new_error(kiln::Error{
            kiln::ErrorKind::trap, m,
            std::make_shared<const kiln::Trap>(kiln::Trap{kiln::TrapKind::host_error, m, {}})});
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

const char* kiln_error_kind_name(kiln_error_kind_t kind) {
    // Switched on as an int: C may pass any int, outside the enum's range.
    switch (int(kind)) {
        // clang-format off
#define KILN_ERROR_KIND(name, NAME, value, text) case KILN_ERROR_##NAME: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

const char* kiln_trap_kind_name(kiln_trap_kind_t kind) {
    switch (int(kind)) {
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

void kiln_store_set_timeout_ms(kiln_store_t* store, uint64_t milliseconds) {
    // Clamped so that "now + timeout" cannot overflow the clock's nanoseconds.
    constexpr uint64_t max_ms = 1'000'000'000'000; // about 31 years
    if (store) store->store.set_timeout(std::chrono::milliseconds(std::min(milliseconds, max_ms)));
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

struct kiln_plugin {
    kiln::Plugin plugin;
    std::string output; ///< the last call's output, handed out until the next call
};

namespace {

kiln_error* finish_plugin(const kiln_engine_t* engine, kiln::Result<kiln::Manifest> manifest,
                          bool wasi, kiln_plugin_t** out) {
    if (!manifest) return new_error(std::move(manifest.error()));
    kiln::PluginOptions options;
    options.wasi = wasi;
    auto p = kiln::Plugin::create(engine->engine, std::move(*manifest), options);
    if (!p) return new_error(std::move(p.error()));
    *out = new kiln_plugin{std::move(*p), {}};
    return nullptr;
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

kiln_error_t* kiln_plugin_call(kiln_plugin_t* plugin, const char* function, const uint8_t* input,
                               size_t input_len, const uint8_t** output, size_t* output_len) {
    return guarded([&]() -> kiln_error* {
        if (!plugin) return usage("plugin is NULL");
        if (!function) return usage("function is NULL");
        if (!input && input_len) return usage("input is NULL");
        if (!output || !output_len) return usage("output is NULL");
        *output = nullptr;
        *output_len = 0;
        auto r = plugin->plugin.call(
            function, std::string_view(reinterpret_cast<const char*>(input), input_len));
        if (!r) return new_error(std::move(r.error()));
        plugin->output = std::move(*r);
        *output = reinterpret_cast<const uint8_t*>(plugin->output.data());
        *output_len = plugin->output.size();
        return nullptr;
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
