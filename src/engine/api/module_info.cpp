// kiln::ModuleInfo over the decoder, plus the section table, which the decoded Module does not
// keep.
#include "base/reader.hpp"
#include "engine/binary/decoder.hpp"
#include "engine/validate/validator.hpp"

#include <kiln/module_info.hpp>

namespace kiln {

namespace {

// Read again from the bytes: the walk cannot fail on bytes that decode() accepted.
Result<std::vector<ModuleInfo::Section>> read_sections(std::span<const uint8_t> bytes) {
    Reader reader(bytes);
    KILN_CHECK(reader.skip(8)); // magic and version
    std::vector<ModuleInfo::Section> sections;
    while (!reader.at_end()) {
        KILN_TRY(id, reader.u8());
        KILN_TRY(size, reader.leb_u32());
        ModuleInfo::Section section{id, reader.offset(), size, {}};
        KILN_TRY(contents, reader.sub(size));
        if (id == 0) {
            KILN_TRY(name, contents.name());
            section.custom_name = std::move(name);
        }
        sections.push_back(std::move(section));
    }
    return sections;
}

} // namespace

Result<ModuleInfo> ModuleInfo::decode(std::span<const uint8_t> bytes) {
    KILN_TRY(module, engine::decode(bytes));
    KILN_TRY(sections, read_sections(bytes));
    return ModuleInfo(std::move(module), std::move(sections));
}

Result<void> ModuleInfo::validate() const {
    return engine::validate(*m_module);
}

const std::string& ModuleInfo::name() const {
    return m_module->module_name;
}
const std::vector<FuncType>& ModuleInfo::types() const {
    return m_module->types;
}
const std::vector<uint32_t>& ModuleInfo::func_types() const {
    return m_module->func_types;
}
const std::vector<TableType>& ModuleInfo::tables() const {
    return m_module->tables;
}
const std::vector<MemoryType>& ModuleInfo::memories() const {
    return m_module->memories;
}
const std::vector<GlobalType>& ModuleInfo::globals() const {
    return m_module->globals;
}
std::optional<uint32_t> ModuleInfo::start() const {
    return m_module->start;
}
size_t ModuleInfo::element_segments() const {
    return m_module->elems.size();
}
size_t ModuleInfo::data_segments() const {
    return m_module->datas.size();
}
std::string ModuleInfo::func_name(uint32_t func_index) const {
    return m_module->func_display_name(func_index);
}

std::vector<ModuleInfo::Import> ModuleInfo::imports() const {
    std::vector<Import> out;
    for (const engine::Import& i : m_module->imports)
        out.push_back({i.module, i.name, i.kind, i.func_type, i.table, i.memory, i.global});
    return out;
}

uint32_t ModuleInfo::imported(ExternKind kind) const {
    switch (kind) {
    case ExternKind::func: return m_module->num_imported_funcs;
    case ExternKind::table: return m_module->num_imported_tables;
    case ExternKind::memory: return m_module->num_imported_memories;
    case ExternKind::global: return m_module->num_imported_globals;
    }
    return 0;
}

std::vector<ModuleInfo::Export> ModuleInfo::exports() const {
    std::vector<Export> out;
    for (const engine::Export& e : m_module->exports)
        out.push_back({e.name, e.kind, e.index});
    return out;
}

} // namespace kiln
