// kiln inspect FILE: a human-readable summary of a module's sections and index spaces.
#include "cli_common.hpp"
#include "commands.hpp"

#include "base/reader.hpp"
#include "engine/binary/decoder.hpp"
#include "engine/binary/module.hpp"

#include <fmt/format.h>

namespace kiln::tool {

namespace {

using engine::ExternKind;
using engine::Module;

struct SectionInfo {
    uint8_t id = 0;
    size_t start = 0; ///< first byte of the contents
    size_t size = 0;
    std::string custom_name;
};

const char* section_name(uint8_t id) {
    static constexpr const char* names[] = {"custom", "type",   "import",   "function", "table",
                                            "memory", "global", "export",   "start",    "element",
                                            "code",   "data",   "datacount"};
    return id < std::size(names) ? names[id] : "unknown";
}

// The decoded Module keeps contents, not framing, so the section table is read again here;
// the walk cannot fail on bytes that decode() accepted.
Result<std::vector<SectionInfo>> list_sections(std::span<const uint8_t> bytes) {
    Reader reader(bytes);
    KILN_CHECK(reader.skip(8)); // magic and version
    std::vector<SectionInfo> sections;
    while (!reader.at_end()) {
        KILN_TRY(id, reader.u8());
        KILN_TRY(size, reader.leb_u32());
        SectionInfo info{id, reader.offset(), size, {}};
        KILN_TRY(contents, reader.sub(size));
        if (id == 0) {
            KILN_TRY(name, contents.name());
            info.custom_name = std::move(name);
        }
        sections.push_back(std::move(info));
    }
    return sections;
}

std::string limits_string(const engine::Limits& limits) {
    if (limits.max) return fmt::format("min {} max {}", limits.min, *limits.max);
    return fmt::format("min {}", limits.min);
}

std::string global_type_string(const engine::GlobalType& type) {
    return fmt::format("{}{}", type.mut ? "mut " : "", valtype_name(type.type));
}

// The module is decoded but not validated, so a type index may point past the type section.
std::string type_string(const Module& module, uint32_t type_index) {
    if (type_index >= module.types.size()) return fmt::format("type {} (out of range)", type_index);
    return functype_string(module.types[type_index]);
}

std::string import_desc(const Module& module, const engine::Import& import) {
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

void print_module(const std::string& file, size_t file_size, const Module& module,
                  const std::vector<SectionInfo>& sections) {
    fmt::print("{}: {} bytes", file, file_size);
    if (!module.module_name.empty()) fmt::print(", module name \"{}\"", module.module_name);
    fmt::print("\n");

    fmt::print("sections ({}):\n", sections.size());
    for (const auto& s : sections) {
        fmt::print("  {:<9} id {:<2}  start {:#010x}  size {}", section_name(s.id), s.id, s.start,
                   s.size);
        if (s.id == 0) fmt::print("  \"{}\"", s.custom_name);
        fmt::print("\n");
    }

    fmt::print("types ({}):\n", module.types.size());
    for (size_t i = 0; i < module.types.size(); ++i)
        fmt::print("  [{}] {}\n", i, functype_string(module.types[i]));

    fmt::print("imports ({}):\n", module.imports.size());
    for (const auto& import : module.imports)
        fmt::print("  {}.{} {}\n", import.module, import.name, import_desc(module, import));

    fmt::print("functions: {} ({} imported, {} defined)\n", module.func_types.size(),
               module.num_imported_funcs, module.functions.size());

    fmt::print("tables ({}):\n", module.tables.size());
    for (size_t i = 0; i < module.tables.size(); ++i)
        fmt::print("  [{}] {} {}{}\n", i, valtype_name(module.tables[i].elem),
                   limits_string(module.tables[i].limits),
                   i < module.num_imported_tables ? " (imported)" : "");

    fmt::print("memories ({}):\n", module.memories.size());
    for (size_t i = 0; i < module.memories.size(); ++i)
        fmt::print("  [{}] {} pages{}\n", i, limits_string(module.memories[i].limits),
                   i < module.num_imported_memories ? " (imported)" : "");

    fmt::print("globals ({}):\n", module.globals.size());
    for (size_t i = 0; i < module.globals.size(); ++i)
        fmt::print("  [{}] {}{}\n", i, global_type_string(module.globals[i]),
                   i < module.num_imported_globals ? " (imported)" : "");

    fmt::print("exports ({}):\n", module.exports.size());
    for (const auto& e : module.exports) {
        fmt::print("  \"{}\" {} {}", e.name, extern_kind_name(e.kind), e.index);
        if (e.kind == ExternKind::func && e.index < module.func_types.size())
            fmt::print(" {}", type_string(module, module.func_types[e.index]));
        fmt::print("\n");
    }

    fmt::print("element segments: {}\n", module.elems.size());
    fmt::print("data segments: {}\n", module.datas.size());
    if (module.start)
        fmt::print("start: func {} ({})\n", *module.start, module.func_display_name(*module.start));
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
    auto module = engine::decode(*bytes);
    if (!module) {
        print_error(file, module.error());
        return exit_failure;
    }
    auto sections = list_sections(*bytes);
    if (!sections) {
        print_error(file, sections.error());
        return exit_failure;
    }
    print_module(file, bytes->size(), **module, *sections);
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
