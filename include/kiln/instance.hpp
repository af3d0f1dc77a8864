// Instance: an instantiated module's exports.
#pragma once

#include <kiln/extern.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

namespace engine {
struct Instance;
}

/// An instantiated module, owned by its Store.
class Instance {
public:
    std::optional<Extern> get_export(Store& store, const std::string& name) const;
    std::optional<Func> get_func(Store& store, const std::string& name) const;
    std::optional<Memory> get_memory(Store& store, const std::string& name) const;
    std::optional<Table> get_table(Store& store, const std::string& name) const;
    std::optional<Global> get_global(Store& store, const std::string& name) const;
    /// Every export, by name.
    std::vector<std::pair<std::string, Extern>> exports(Store& store) const;

    engine::Instance* raw() const { return m_inst; }
    uint64_t store_id() const { return m_store; }
    Instance(uint64_t store, engine::Instance* inst) : m_store(store), m_inst(inst) {}

private:
    uint64_t m_store;
    engine::Instance* m_inst;
};

} // namespace kiln
