// Module: a compiled WebAssembly module, immutable and shareable across threads.
#pragma once

#include <kiln/engine.hpp>
#include <kiln/error.hpp>
#include <kiln/types.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln {

namespace engine {
struct CompiledModule;
}

/// What an import or export is, with its type.
struct ExternType {
    ExternKind kind = ExternKind::func;
    FuncType func;     ///< kind == func
    TableType table;   ///< kind == table
    MemoryType memory; ///< kind == memory
    GlobalType global; ///< kind == global
};

struct ImportType {
    std::string module;
    std::string name;
    ExternType type;
};

struct ExportType {
    std::string name;
    ExternType type;
};

/// A decoded, validated and compiled module. Compile once, instantiate many times, from any
/// thread: instantiation never decodes or compiles again.
class Module {
public:
    /// Decodes, validates and compiles a binary module.
    static Result<Module> compile(const Engine& engine, std::span<const uint8_t> bytes);
    /// Reads and compiles a .wasm file; errors name the file.
    static Result<Module> from_file(const Engine& engine, const std::string& path);

    std::vector<ImportType> imports() const;
    std::vector<ExportType> exports() const;

    /// The compiled module, for Kiln's own layers.
    const std::shared_ptr<const engine::CompiledModule>& raw() const { return m_impl; }

private:
    explicit Module(std::shared_ptr<const engine::CompiledModule> impl) : m_impl(std::move(impl)) {}
    std::shared_ptr<const engine::CompiledModule> m_impl;
};

} // namespace kiln
