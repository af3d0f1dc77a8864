// kiln::Linker: host function definitions shared across stores, store objects, instantiation.
#include "base/text.hpp"
#include "engine/api/internal.hpp"

#include <kiln/linker.hpp>

#include <fmt/format.h>
#include <unordered_map>

namespace kiln {

void Linker::define_func(const std::string& module, const std::string& name, HostFunc fn) {
    m_defs.insert_or_assign({module, name}, std::make_shared<const HostFunc>(std::move(fn)));
}

void Linker::define(const std::string& module, const std::string& name, Extern value) {
    m_defs.insert_or_assign({module, name}, value);
}

void Linker::define_instance(Store& store, const std::string& module, const Instance& instance) {
    for (auto& [name, ext] : instance.exports(store))
        define(module, name, ext);
}

void Linker::define_unknown_imports_as_traps(const Module& module) {
    for (const ImportType& imp : module.imports()) {
        if (imp.type.kind != ExternKind::func || m_defs.count({imp.module, imp.name})) continue;
        std::string message = fmt::format("{}.{} was called, but nothing defines it (an unknown "
                                          "import linked as a trap)",
                                          imp.module, imp.name);
        define_func(
            imp.module, imp.name,
            host_func(imp.type.func, [message](Caller& caller, std::span<const Value>,
                                               std::span<Value>) { caller.trap(message); }));
    }
}

Result<Instance> Linker::instantiate(Store& store, const Module& module) const {
    std::vector<engine::Extern> externs;
    for (const engine::Import& imp : module.raw()->module->imports) {
        auto it = m_defs.find({imp.module, imp.name});
        if (it == m_defs.end())
            return make_error(ErrorKind::unlinkable,
                              fmt::format("unknown import: {}.{} ({}) is not defined",
                                          escape_control(imp.module), escape_control(imp.name),
                                          extern_kind_name(imp.kind)));
        if (auto* host = std::get_if<std::shared_ptr<const HostFunc>>(&it->second)) {
            externs.push_back(engine::Extern{ExternKind::func, store.bind(*host)});
        } else {
            const Extern& e = std::get<Extern>(it->second);
            if (e.store_id() != store.id())
                return make_error(ErrorKind::unlinkable,
                                  fmt::format("import {}.{}: the definition belongs to another "
                                              "store",
                                              escape_control(imp.module),
                                              escape_control(imp.name)));
            externs.push_back(engine::Extern{e.kind(), e.raw()});
        }
    }
    KILN_TRY(inst, store.raw().instantiate(module.raw(), externs));
    return Instance(store.id(), inst);
}

engine::FuncInst* Store::bind(std::shared_ptr<const HostFunc> def) {
    auto& cache = m_host_funcs->by_def;
    if (auto it = cache.find(def.get()); it != cache.end()) return it->second.second;
    const HostFunc* fn = def.get();
    engine::FuncInst* f = m_store->create_host_func(
        fn->type, [this, fn](engine::Store& es, uint64_t* slots) -> std::optional<Trap> {
            Caller caller(*this, es.host_caller());
            // No exception crosses into the interpreter: a throwing host function traps.
            try {
                fn->body(caller, slots);
            } catch (const std::exception& e) {
                return Trap{
                    TrapKind::host_error, fmt::format("host function threw: {}", e.what()), {}};
            } catch (...) {
                return Trap{TrapKind::host_error, "host function threw", {}};
            }
            return std::move(caller.m_trap);
        });
    cache.emplace(fn, std::make_pair(std::move(def), f));
    return f;
}

} // namespace kiln
