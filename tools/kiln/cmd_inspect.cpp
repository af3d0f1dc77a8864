// kiln inspect FILE: a human-readable summary of a module's sections and index spaces.
#include "cli_common.hpp"
#include "commands.hpp"

#include "base/file.hpp"

#include <fmt/format.h>

namespace kiln::tool {

namespace {

using Section = ModuleInfo::Section;

const char* section_name(uint8_t id) {
    static constexpr const char* names[] = {"custom", "type",   "import",   "function", "table",
                                            "memory", "global", "export",   "start",    "element",
                                            "code",   "data",   "datacount"};
    return id < std::size(names) ? names[id] : "unknown";
}

std::string limits_string(const Limits& limits) {
    if (limits.max) return fmt::format("min {} max {}", limits.min, *limits.max);
    return fmt::format("min {}", limits.min);
}

std::string global_type_string(const GlobalType& type) {
    return fmt::format("{}{}", type.mut ? "mut " : "", valtype_name(type.type));
}

// The module is decoded but not validated, so a type index may point past the type section.
std::string type_string(const ModuleInfo& module, uint32_t type_index) {
    if (type_index >= module.types().size())
        return fmt::format("type {} (out of range)", type_index);
    return functype_string(module.types()[type_index]);
}

std::string import_desc(const ModuleInfo& module, const ModuleInfo::Import& import) {
    switch (import.kind) {
    case ExternKind::func: return fmt::format("func {}", type_string(module, import.func_type));
    case ExternKind::table:
        return fmt::format("table {} {}", valtype_name(import.table.elem),
                           limits_string(import.table.limits));
    case ExternKind::memory:
        return fmt::format("memory {} pages", limits_string(import.memory.limits));
    case ExternKind::global: return fmt::format("global {}", global_type_string(import.global));
    }
    return "?";
}

void print_module(const std::string& file, size_t file_size, const ModuleInfo& module) {
    fmt::print("{}: {} bytes", file, file_size);
    if (!module.name().empty()) fmt::print(", module name \"{}\"", module.name());
    fmt::print("\n");

    fmt::print("sections ({}):\n", module.sections().size());
    for (const Section& s : module.sections()) {
        fmt::print("  {:<9} id {:<2}  start {:#010x}  size {}", section_name(s.id), s.id, s.offset,
                   s.size);
        if (s.id == 0) fmt::print("  \"{}\"", s.custom_name);
        fmt::print("\n");
    }

    const auto& types = module.types();
    fmt::print("types ({}):\n", types.size());
    for (size_t i = 0; i < types.size(); ++i)
        fmt::print("  [{}] {}\n", i, functype_string(types[i]));

    const auto imports = module.imports();
    fmt::print("imports ({}):\n", imports.size());
    for (const auto& import : imports)
        fmt::print("  {}.{} {}\n", import.module, import.name, import_desc(module, import));

    const uint32_t imported_funcs = module.imported(ExternKind::func);
    fmt::print("functions: {} ({} imported, {} defined)\n", module.func_types().size(),
               imported_funcs, module.func_types().size() - imported_funcs);

    const auto& tables = module.tables();
    fmt::print("tables ({}):\n", tables.size());
    for (size_t i = 0; i < tables.size(); ++i)
        fmt::print("  [{}] {} {}{}\n", i, valtype_name(tables[i].elem),
                   limits_string(tables[i].limits),
                   i < module.imported(ExternKind::table) ? " (imported)" : "");

    const auto& memories = module.memories();
    fmt::print("memories ({}):\n", memories.size());
    for (size_t i = 0; i < memories.size(); ++i)
        fmt::print("  [{}] {} pages{}\n", i, limits_string(memories[i].limits),
                   i < module.imported(ExternKind::memory) ? " (imported)" : "");

    const auto& globals = module.globals();
    fmt::print("globals ({}):\n", globals.size());
    for (size_t i = 0; i < globals.size(); ++i)
        fmt::print("  [{}] {}{}\n", i, global_type_string(globals[i]),
                   i < module.imported(ExternKind::global) ? " (imported)" : "");

    const auto exports = module.exports();
    fmt::print("exports ({}):\n", exports.size());
    for (const auto& e : exports) {
        fmt::print("  \"{}\" {} {}", e.name, extern_kind_name(e.kind), e.index);
        if (e.kind == ExternKind::func && e.index < module.func_types().size())
            fmt::print(" {}", type_string(module, module.func_types()[e.index]));
        fmt::print("\n");
    }

    fmt::print("element segments: {}\n", module.element_segments());
    fmt::print("data segments: {}\n", module.data_segments());
    if (auto start = module.start())
        fmt::print("start: func {} ({})\n", *start, module.func_name(*start));
    else
        fmt::print("start: none\n");
}

int run_inspect(const std::string& file) {
    auto bytes = read_file(file);
    if (!bytes) {
        print_error(file, bytes.error());
        return exit_failure;
    }
    // Decoding alone: a module that fails validation can still be looked at.
    auto module = ModuleInfo::decode(*bytes);
    if (!module) {
        print_error(file, module.error());
        return exit_failure;
    }
    print_module(file, bytes->size(), *module);
    return exit_ok;
}

} // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("inspect", "Show the sections, imports and exports of a module");
    auto file = std::make_shared<std::string>();
    sub->add_option("FILE", *file, "WebAssembly binary (.wasm)")->required();
    sub->callback([file, &exit_code] { exit_code = run_inspect(*file); });
}

} // namespace kiln::tool
