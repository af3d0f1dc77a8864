// Linker: resolves a module's imports by module and name, then instantiates it.
#pragma once

#include <kiln/func.hpp>
#include <kiln/instance.hpp>
#include <kiln/module.hpp>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace kiln {

/// Definitions to link modules against: host functions (usable in any store) and objects of a
/// store (usable only with that store). Later definitions of a name replace earlier ones.
class Linker {
public:
    /// Defines a host function from a plain callable (see host_func).
    template <typename F> void func_wrap(const std::string& module, const std::string& name, F f) {
        define_func(module, name, host_func(std::move(f)));
    }
    /// Defines a host function in the raw form.
    void func_new(const std::string& module, const std::string& name, FuncType type, RawHostFn fn) {
        define_func(module, name, host_func(std::move(type), std::move(fn)));
    }
    void define_func(const std::string& module, const std::string& name, HostFunc fn);
    /// Defines an object of a store.
    void define(const std::string& module, const std::string& name, Extern value);
    /// Makes every export of `instance` importable as `module`.
    void define_instance(Store& store, const std::string& module, const Instance& instance);
    /// Defines each function `module` imports that nothing defines yet as one that traps,
    /// naming the import, when called: a module can then run as far as it gets without them.
    void define_unknown_imports_as_traps(const Module& module);

    /// Resolves every import (an unlinkable error names the first that is missing or has the
    /// wrong type), instantiates, and runs the start function.
    Result<Instance> instantiate(Store& store, const Module& module) const;

private:
    using Def = std::variant<std::shared_ptr<const HostFunc>, Extern>;
    std::map<std::pair<std::string, std::string>, Def> m_defs;
};

} // namespace kiln
