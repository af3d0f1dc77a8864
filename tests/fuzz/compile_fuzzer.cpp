// libFuzzer target for the front end and the interpreter: decoding, validation and lowering of
// arbitrary bytes; then, for a module that compiles, instantiation with every import satisfied
// by a dummy of the right type, and a call of every exported function with zero arguments.
// Any input may be rejected and any call may trap; none may crash, leak or hit undefined
// behaviour. Built with -DKILN_FUZZ=ON under clang (see docs/testing.md).
#include "engine/runtime/store.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using namespace kiln::engine;

// Small stacks keep a Store cheap to create once per input; fuel bounds every call (and the
// start function), so an endless loop is an out-of-fuel trap, not a fuzzer timeout.
constexpr EngineConfig fuzz_config{.max_call_depth = 256, .max_stack_slots = 1u << 14};
constexpr uint64_t fuel_per_call = 20000;
constexpr uint64_t memory_budget = 64u << 20;

/// A dummy for an import: host functions return zeros; tables, memories and globals are new.
std::optional<Extern> make_import(Store& store, const Module& m, const Import& imp) {
    switch (imp.kind) {
    case ExternKind::func: {
        const FuncType& type = m.types[imp.func_type];
        size_t result_slots = kiln::slot_count(type.results);
        FuncInst* f = store.create_host_func(type, [result_slots](Store&, uint64_t* slots) {
            for (size_t i = 0; i < result_slots; ++i)
                slots[i] = 0;
            return std::optional<Trap>{};
        });
        return Extern{ExternKind::func, f};
    }
    case ExternKind::table: {
        auto t = store.create_table(imp.table, 0);
        if (!t) return std::nullopt;
        return Extern{ExternKind::table, *t};
    }
    case ExternKind::memory: {
        auto mem = store.create_memory(imp.memory);
        if (!mem) return std::nullopt;
        return Extern{ExternKind::memory, *mem};
    }
    case ExternKind::global:
        return Extern{ExternKind::global, store.create_global(imp.global, Value{imp.global.type})};
    }
    return std::nullopt;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Engine engine(fuzz_config);
    auto compiled = compile(engine, {data, size});
    if (!compiled) return 0;
    const Module& m = *(*compiled)->module;
    Store store(engine);
    store.limiter().memory_bytes_max = memory_budget;
    store.control().fuel_enabled = true;
    store.control().fuel = fuel_per_call;

    std::vector<Extern> imports;
    for (const Import& imp : m.imports) {
        auto e = make_import(store, m, imp);
        if (!e) return 0;
        imports.push_back(*e);
    }
    auto instance = store.instantiate(*compiled, imports);
    if (!instance) return 0;
    for (const Export& e : m.exports) {
        if (e.kind != ExternKind::func) continue;
        FuncInst* f = (*instance)->funcs[e.index];
        std::vector<Value> args;
        for (ValType t : f->type->params)
            args.push_back(Value{t, 0});
        store.control().fuel = fuel_per_call;
        (void)store.call(f, args);
    }
    return 0;
}
