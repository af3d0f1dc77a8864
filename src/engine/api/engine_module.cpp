// kiln::Engine and kiln::Module over the engine's compile().
#include "base/file.hpp"
#include "engine/runtime/store.hpp"

#include <kiln/engine.hpp>
#include <kiln/module.hpp>

#include <fmt/format.h>

namespace kiln {

std::string feature_names(const Features& features) {
    std::string out;
    const std::pair<bool, const char*> all[] = {{features.simd, "simd"},
                                                {features.tail_call, "tail-call"},
                                                {features.extended_const, "extended-const"}};
    for (const auto& [on, name] : all) {
        if (!on) continue;
        if (!out.empty()) out += ' ';
        out += name;
    }
    return out;
}

Engine::Engine(EngineConfig config) : m_impl(std::make_shared<engine::Engine>(config)) {}

const EngineConfig& Engine::config() const {
    return m_impl->config();
}

Result<Module> Module::compile(const Engine& engine, std::span<const uint8_t> bytes) {
    KILN_TRY(compiled, engine::compile(engine.raw(), bytes));
    return Module(std::move(compiled));
}

Result<Module> Module::from_file(const Engine& engine, const std::string& path) {
    KILN_TRY(bytes, read_file(path));
    auto m = compile(engine, bytes);
    if (!m) m.error().message = fmt::format("{}: {}", path, m.error().message);
    return m;
}

namespace {

ExternType import_type(const engine::Module& m, const engine::Import& imp) {
    ExternType t;
    t.kind = imp.kind;
    switch (imp.kind) {
    case ExternKind::func: t.func = m.types[imp.func_type]; break;
    case ExternKind::table: t.table = imp.table; break;
    case ExternKind::memory: t.memory = imp.memory; break;
    case ExternKind::global: t.global = imp.global; break;
    }
    return t;
}

} // namespace

std::vector<ImportType> Module::imports() const {
    const engine::Module& m = *m_impl->module;
    std::vector<ImportType> out;
    for (const auto& imp : m.imports)
        out.push_back({imp.module, imp.name, import_type(m, imp)});
    return out;
}

std::vector<ExportType> Module::exports() const {
    const engine::Module& m = *m_impl->module;
    std::vector<ExportType> out;
    for (const auto& e : m.exports) {
        ExternType t;
        t.kind = e.kind;
        switch (e.kind) {
        case ExternKind::func: t.func = m.func_type(e.index); break;
        case ExternKind::table: t.table = m.tables[e.index]; break;
        case ExternKind::memory: t.memory = m.memories[e.index]; break;
        case ExternKind::global: t.global = m.globals[e.index]; break;
        }
        out.push_back({e.name, t});
    }
    return out;
}

} // namespace kiln
