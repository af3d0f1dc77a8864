// kiln inspect FILE: what a module holds (sections, index spaces) and, for a plugin, what it
// offers and needs; for a manifest, its modules, grants and limits. As text or --json.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "json_output.hpp"

#include <kiln/plugin.hpp>

#include "base/file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kiln::tool {

namespace {

using Section = ModuleInfo::Section;

constexpr const char* kernel_namespace = "extism:host/env";
constexpr const char* wasi_namespace = "wasi_snapshot_preview1";

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

// "17 pages (1.06 MiB)": pages of 64 KiB with the size a person thinks in.
std::string pages_text(uint64_t pages) {
    double kib = double(pages) * 64;
    std::string size =
        kib < 1024 ? fmt::format("{} KiB", kib) : fmt::format("{:.3g} MiB", kib / 1024);
    return fmt::format("{} page{} ({})", pages, pages == 1 ? "" : "s", size);
}

// --- plugins --------------------------------------------------------------------------------

/// What a module means as a plugin: the functions kiln call can call, the host functions the
/// embedder must provide, its WASI use and its memory.
struct PluginView {
    std::vector<std::string> functions;
    std::vector<ModuleInfo::Import> host_functions;
    std::vector<std::string> wasi_functions;
    std::optional<Limits> memory; ///< of the exported "memory"
};

/// A module made for the plugin runtime imports its kernel.
bool is_plugin(const ModuleInfo& module) {
    const auto imports = module.imports();
    return std::any_of(imports.begin(), imports.end(),
                       [](const auto& i) { return i.module == kernel_namespace; });
}

/// `linked`: the names of the other modules of its manifest, whose exports it may import.
PluginView plugin_view(const ModuleInfo& module, const std::set<std::string>& linked) {
    PluginView view;
    for (const auto& import : module.imports()) {
        if (import.kind != ExternKind::func || import.module == kernel_namespace ||
            linked.count(import.module))
            continue;
        if (import.module == wasi_namespace)
            view.wasi_functions.push_back(import.name);
        else
            view.host_functions.push_back(import);
    }
    // Initializers run when the plugin is made; a plugin function takes nothing and returns an
    // i32 (its return code) or nothing.
    static const std::set<std::string> initializers{"_initialize", "__wasm_call_ctors", "hs_init",
                                                    "_start"};
    for (const auto& e : module.exports()) {
        if (e.kind == ExternKind::memory && e.name == "memory" &&
            e.index < module.memories().size())
            view.memory = module.memories()[e.index].limits;
        if (e.kind != ExternKind::func || initializers.count(e.name) ||
            e.index >= module.func_types().size())
            continue;
        uint32_t type_index = module.func_types()[e.index];
        if (type_index >= module.types().size()) continue;
        const FuncType& type = module.types()[type_index];
        if (type.params.empty() &&
            (type.results.empty() || type.results == std::vector<ValType>{ValType::i32}))
            view.functions.push_back(e.name);
    }
    std::sort(view.functions.begin(), view.functions.end());
    return view;
}

std::string memory_text(const std::optional<Limits>& memory) {
    if (!memory) return "none exported";
    std::string text = pages_text(memory->min) + " at start";
    return text + (memory->max ? ", at most " + pages_text(*memory->max) : ", no maximum");
}

void print_plugin(const ModuleInfo& module, const PluginView& view, std::string_view indent) {
    fmt::print("{}functions ({}): {}\n", indent, view.functions.size(),
               fmt::join(view.functions, ", "));
    if (view.host_functions.empty())
        fmt::print("{}host functions needed: none\n", indent);
    else
        fmt::print("{}host functions needed ({}):\n", indent, view.host_functions.size());
    for (const auto& import : view.host_functions)
        fmt::print("{}  {}.{} {}\n", indent, import.module, import.name,
                   type_string(module, import.func_type));
    if (view.wasi_functions.empty())
        fmt::print("{}wasi: no\n", indent);
    else
        fmt::print("{}wasi: yes ({})\n", indent, fmt::join(view.wasi_functions, ", "));
    fmt::print("{}memory: {}\n", indent, memory_text(view.memory));
}

Json limits_json(const Limits& limits) {
    return {{"min", limits.min}, {"max", limits.max ? Json(*limits.max) : Json(nullptr)}};
}

Json plugin_json(const ModuleInfo& module, const PluginView& view) {
    Json host = Json::array();
    for (const auto& import : view.host_functions)
        host.push_back({{"module", import.module},
                        {"name", import.name},
                        {"type", type_string(module, import.func_type)}});
    return {{"functions", view.functions},
            {"host_functions", std::move(host)},
            {"wasi", !view.wasi_functions.empty()},
            {"wasi_functions", view.wasi_functions},
            {"memory", view.memory ? limits_json(*view.memory) : Json(nullptr)}};
}

// --- modules --------------------------------------------------------------------------------

void print_module(const ModuleInfo& module) {
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

Json module_json(const ModuleInfo& module, size_t size, const std::set<std::string>& linked,
                 bool as_plugin) {
    Json sections = Json::array();
    for (const Section& s : module.sections()) {
        Json j = {
            {"id", s.id}, {"name", section_name(s.id)}, {"offset", s.offset}, {"size", s.size}};
        if (s.id == 0) j["custom_name"] = s.custom_name;
        sections.push_back(std::move(j));
    }
    Json types = Json::array();
    for (const FuncType& t : module.types())
        types.push_back(functype_string(t));
    Json imports = Json::array();
    for (const auto& i : module.imports()) {
        Json j = {{"module", i.module}, {"name", i.name}, {"kind", extern_kind_name(i.kind)}};
        switch (i.kind) {
        case ExternKind::func: j["type"] = type_string(module, i.func_type); break;
        case ExternKind::table:
            j["type"] = valtype_name(i.table.elem);
            j["limits"] = limits_json(i.table.limits);
            break;
        case ExternKind::memory: j["limits"] = limits_json(i.memory.limits); break;
        case ExternKind::global:
            j["type"] = valtype_name(i.global.type);
            j["mutable"] = i.global.mut;
            break;
        }
        imports.push_back(std::move(j));
    }
    Json tables = Json::array();
    for (size_t i = 0; i < module.tables().size(); ++i)
        tables.push_back({{"type", valtype_name(module.tables()[i].elem)},
                          {"limits", limits_json(module.tables()[i].limits)},
                          {"imported", i < module.imported(ExternKind::table)}});
    Json memories = Json::array();
    for (size_t i = 0; i < module.memories().size(); ++i)
        memories.push_back({{"limits", limits_json(module.memories()[i].limits)},
                            {"imported", i < module.imported(ExternKind::memory)}});
    Json globals = Json::array();
    for (size_t i = 0; i < module.globals().size(); ++i)
        globals.push_back({{"type", valtype_name(module.globals()[i].type)},
                           {"mutable", module.globals()[i].mut},
                           {"imported", i < module.imported(ExternKind::global)}});
    Json exports = Json::array();
    for (const auto& e : module.exports()) {
        Json j = {{"name", e.name}, {"kind", extern_kind_name(e.kind)}, {"index", e.index}};
        if (e.kind == ExternKind::func && e.index < module.func_types().size())
            j["type"] = type_string(module, module.func_types()[e.index]);
        exports.push_back(std::move(j));
    }
    const uint32_t imported_funcs = module.imported(ExternKind::func);
    Json start = nullptr;
    if (auto s = module.start()) start = {{"index", *s}, {"name", module.func_name(*s)}};
    return {
        {"size", size},
        {"name", module.name().empty() ? Json(nullptr) : Json(module.name())},
        {"sections", std::move(sections)},
        {"types", std::move(types)},
        {"imports", std::move(imports)},
        {"functions",
         {{"imported", imported_funcs}, {"defined", module.func_types().size() - imported_funcs}}},
        {"tables", std::move(tables)},
        {"memories", std::move(memories)},
        {"globals", std::move(globals)},
        {"exports", std::move(exports)},
        {"element_segments", module.element_segments()},
        {"data_segments", module.data_segments()},
        {"start", std::move(start)},
        {"plugin", as_plugin ? plugin_json(module, plugin_view(module, linked)) : Json(nullptr)}};
}

// --- manifests ------------------------------------------------------------------------------

/// The name a module of the manifest is linked under, as the plugin runtime names it.
std::string link_name(const Manifest& manifest, size_t index, size_t main) {
    const std::string& name = manifest.wasm[index].name;
    if (!name.empty()) return name;
    return index == main ? "main" : fmt::format("wasm{}", index);
}

/// The main module: the one named "main", else the last (docs/plugins.md).
size_t main_index(const Manifest& manifest) {
    for (size_t i = 0; i < manifest.wasm.size(); ++i)
        if (manifest.wasm[i].name == "main") return i;
    return manifest.wasm.size() - 1;
}

std::string source_text(const Manifest::Wasm& wasm) {
    if (auto* f = std::get_if<Manifest::WasmFile>(&wasm.source)) return "file " + f->path;
    if (auto* u = std::get_if<Manifest::WasmUrl>(&wasm.source))
        return fmt::format("url {} {} (not downloaded)", u->method, u->url);
    return fmt::format("inline, {} bytes", std::get<Manifest::WasmBytes>(wasm.source).data.size());
}

Json source_json(const Manifest::Wasm& wasm) {
    if (auto* f = std::get_if<Manifest::WasmFile>(&wasm.source)) return {{"file", f->path}};
    if (auto* u = std::get_if<Manifest::WasmUrl>(&wasm.source))
        return {{"url", u->url}, {"method", u->method}};
    return {{"bytes", std::get<Manifest::WasmBytes>(wasm.source).data.size()}};
}

/// A module's bytes when kiln inspect reads them: files and inline bytes, never a download.
std::optional<Result<std::vector<uint8_t>>> local_bytes(const Manifest::Wasm& wasm) {
    if (auto* f = std::get_if<Manifest::WasmFile>(&wasm.source)) return read_file(f->path);
    if (auto* b = std::get_if<Manifest::WasmBytes>(&wasm.source)) return b->data;
    return std::nullopt;
}

std::string optional_text(const std::optional<uint64_t>& value, std::string_view unit,
                          std::string_view none) {
    return value ? fmt::format("{} {}", *value, unit) : std::string(none);
}

Json optional_json(const std::optional<uint64_t>& value) {
    return value ? Json(*value) : Json(nullptr);
}

int inspect_manifest(const std::string& file, const Manifest& m, bool json) {
    const size_t main = main_index(m);
    int exit_code = exit_ok;
    Json modules = Json::array();
    if (!json) {
        fmt::print("{}: manifest of plugin \"{}\"\n", file, m.name);
        fmt::print("modules ({}):\n", m.wasm.size());
        for (size_t i = 0; i < m.wasm.size(); ++i)
            fmt::print("  {}: {}{}{}\n", link_name(m, i, main), source_text(m.wasm[i]),
                       m.wasm[i].hash.empty() ? "" : ", sha256 " + m.wasm[i].hash,
                       i == main ? " (main)" : "");
        fmt::print("grants:\n  allowed hosts: {}\n",
                   m.allowed_hosts.empty() ? "none"
                                           : fmt::format("{}", fmt::join(m.allowed_hosts, ", ")));
        fmt::print("  allowed paths:{}\n", m.allowed_paths.empty() ? " none" : "");
        for (const WasiPreopen& p : m.allowed_paths)
            fmt::print("    {} as {}{}\n", p.host, p.guest, p.read_only ? " (read-only)" : "");
        fmt::print("  config keys:{}\n", m.config.empty() ? " none" : "");
        for (const auto& [key, value] : m.config)
            fmt::print("    {} = {}\n", key, value);
        fmt::print("limits:\n  memory: {}\n  timeout: {}\n  fuel: {}\n  vars: {} bytes\n"
                   "  HTTP response: {} bytes\n",
                   m.max_pages ? "at most " + pages_text(*m.max_pages) : "no limit",
                   optional_text(m.timeout_ms, "ms", "none"),
                   optional_text(m.fuel, "per call", "unmetered"), m.max_var_bytes,
                   m.max_http_response_bytes);
    }
    for (size_t i = 0; i < m.wasm.size(); ++i) {
        std::string name = link_name(m, i, main);
        std::set<std::string> linked;
        for (size_t j = 0; j < m.wasm.size(); ++j)
            if (j != i) linked.insert(link_name(m, j, main));
        Json entry = {{"name", name},
                      {"main", i == main},
                      {"source", source_json(m.wasm[i])},
                      {"hash", m.wasm[i].hash.empty() ? Json(nullptr) : Json(m.wasm[i].hash)},
                      {"module", nullptr}};
        auto bytes = local_bytes(m.wasm[i]);
        if (bytes) {
            Result<ModuleInfo> module = *bytes ? ModuleInfo::decode(**bytes)
                                               : Result<ModuleInfo>(tl::unexpected(bytes->error()));
            if (!module) {
                exit_code = exit_failure;
                if (json)
                    entry["error"] = error_json(module.error());
                else
                    print_error(
                        fmt::format("{}: module {}: {}", file, name, module.error().message));
            } else if (json) {
                entry["module"] = module_json(*module, (*bytes)->size(), linked, true);
            } else {
                fmt::print("module {} ({} bytes):\n", name, (*bytes)->size());
                print_plugin(*module, plugin_view(*module, linked), "  ");
            }
        }
        modules.push_back(std::move(entry));
    }
    if (json) {
        Json paths = Json::array();
        for (const WasiPreopen& p : m.allowed_paths)
            paths.push_back({{"host", p.host}, {"guest", p.guest}, {"read_only", p.read_only}});
        print_json({{"file", file},
                    {"kind", "manifest"},
                    {"name", m.name},
                    {"modules", std::move(modules)},
                    {"grants",
                     {{"allowed_hosts", m.allowed_hosts},
                      {"allowed_paths", std::move(paths)},
                      {"config", m.config}}},
                    {"limits",
                     {{"max_pages", m.max_pages ? Json(*m.max_pages) : Json(nullptr)},
                      {"timeout_ms", optional_json(m.timeout_ms)},
                      {"fuel", optional_json(m.fuel)},
                      {"max_var_bytes", m.max_var_bytes},
                      {"max_http_response_bytes", m.max_http_response_bytes}}}});
    }
    return exit_code;
}

int run_inspect(const std::string& file, bool json) {
    auto bytes = read_module(file);
    if (!bytes) {
        print_error(file, bytes.error());
        return exit_failure;
    }
    const bool is_module =
        bytes->size() >= 4 && std::equal(bytes->begin(), bytes->begin() + 4, std::begin("\0asm"));
    if (!is_module) {
        // Anything else is read as a manifest, JSON or (by its extension) TOML.
        auto manifest = Manifest::from_file(file);
        if (!manifest) {
            print_error(manifest.error().message);
            return exit_failure;
        }
        return inspect_manifest(file, *manifest, json);
    }
    // Decoding alone: a module that fails validation can still be looked at.
    auto module = ModuleInfo::decode(*bytes);
    if (!module) {
        print_error(file, module.error());
        return exit_failure;
    }
    const bool plugin = is_plugin(*module);
    if (json) {
        Json doc = {{"file", file}, {"kind", "module"}};
        doc.update(module_json(*module, bytes->size(), {}, plugin));
        print_json(doc);
        return exit_ok;
    }
    fmt::print("{}: {} bytes", file, bytes->size());
    if (!module->name().empty()) fmt::print(", module name \"{}\"", module->name());
    fmt::print("\n");
    print_module(*module);
    if (plugin) {
        fmt::print("plugin (imports {}):\n", kernel_namespace);
        print_plugin(*module, plugin_view(*module, {}), "  ");
    }
    return exit_ok;
}

} // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand(
        "inspect", "Show what a module or plugin holds: sections, imports, exports; a manifest's "
                   "modules, grants and limits");
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    sub->add_option("FILE", *file,
                    "a WebAssembly module (.wasm, or .wat text) or a JSON/TOML plugin manifest")
        ->required()
        ->type_name(file_value);
    sub->add_flag("--json", *json, "print a JSON document instead (its shape: docs/cli.md)");
    set_examples(*sub, {{"kiln inspect module.wasm", "its sections, types, imports and exports"},
                        {"kiln inspect plugin.wasm",
                         "for a plugin, also its functions, host functions, WASI use and memory"},
                        {"kiln inspect plugin.json", "a manifest: its modules, grants and limits"},
                        {"kiln inspect --json plugin.wasm | jq .plugin.host_functions",
                         "the same as JSON"}});
    sub->callback([file, json, &exit_code] { exit_code = run_inspect(*file, *json); });
}

} // namespace kiln::tool
