// ModuleInfo: what a binary module holds, decoded but not validated, for tools that show modules.
#pragma once

#include <kiln/error.hpp>
#include <kiln/types.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

namespace engine {
struct Module;
}

/// A binary module as the decoder reads it, before validation, so that a module that fails
/// validation can still be looked at (kiln inspect). Indices are the binary's and may be out of
/// range. Index spaces (functions, tables, memories, globals) start with their imports.
class ModuleInfo {
public:
    /// A section of the binary: its id (0 for a custom section, then with its name), and where
    /// its contents start and how many bytes they are.
    struct Section {
        uint8_t id = 0;
        size_t offset = 0;
        size_t size = 0;
        std::string custom_name;
    };
    /// An import: a function's type index, or the type of a table, memory or global.
    struct Import {
        std::string module;
        std::string name;
        ExternKind kind = ExternKind::func;
        uint32_t func_type = 0;
        TableType table;
        MemoryType memory;
        GlobalType global;
    };
    /// An export: its kind and index in that kind's index space.
    struct Export {
        std::string name;
        ExternKind kind = ExternKind::func;
        uint32_t index = 0;
    };

    /// Decodes a binary module without validating it (a malformed error names the offset).
    static Result<ModuleInfo> decode(std::span<const uint8_t> bytes);
    /// Validates the decoded module as Module::compile does, without compiling it: the check
    /// of a plugin list, which runs nothing. An error names the function and instruction.
    Result<void> validate() const;

    /// The module's name from its name section, else empty.
    const std::string& name() const;
    /// The sections in the order of the binary.
    const std::vector<Section>& sections() const { return m_sections; }
    const std::vector<FuncType>& types() const;
    std::vector<Import> imports() const;
    /// The type index of every function.
    const std::vector<uint32_t>& func_types() const;
    const std::vector<TableType>& tables() const;
    const std::vector<MemoryType>& memories() const;
    const std::vector<GlobalType>& globals() const;
    /// How many entries of the index space of `kind` are imported.
    uint32_t imported(ExternKind kind) const;
    std::vector<Export> exports() const;
    /// The start function's index, if there is one.
    std::optional<uint32_t> start() const;
    size_t element_segments() const;
    size_t data_segments() const;
    /// How messages name a function: its name-section name, else an export's, else "func[N]".
    std::string func_name(uint32_t func_index) const;

private:
    ModuleInfo(std::shared_ptr<const engine::Module> module, std::vector<Section> sections)
        : m_module(std::move(module)), m_sections(std::move(sections)) {}
    std::shared_ptr<const engine::Module> m_module;
    std::vector<Section> m_sections;
};

} // namespace kiln
