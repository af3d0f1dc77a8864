#include "engine/binary/types.hpp"
#include "engine/binary/module.hpp"

namespace kiln {

const char* valtype_name(ValType t) {
    switch (t) {
    case ValType::i32: return "i32";
    case ValType::i64: return "i64";
    case ValType::f32: return "f32";
    case ValType::f64: return "f64";
    case ValType::v128: return "v128";
    case ValType::funcref: return "funcref";
    case ValType::externref: return "externref";
    }
    return "?";
}

std::optional<ValType> valtype_from_byte(uint8_t b) {
    switch (b) {
    case 0x7f:
    case 0x7e:
    case 0x7d:
    case 0x7c:
    case 0x7b:
    case 0x70:
    case 0x6f: return static_cast<ValType>(b);
    default: return std::nullopt;
    }
}

std::string functype_string(const FuncType& t) {
    std::string s = "(";
    for (size_t i = 0; i < t.params.size(); ++i)
        s += (i ? " " : "") + std::string(valtype_name(t.params[i]));
    s += ") -> (";
    for (size_t i = 0; i < t.results.size(); ++i)
        s += (i ? " " : "") + std::string(valtype_name(t.results[i]));
    return s + ")";
}

const char* extern_kind_name(ExternKind k) {
    switch (k) {
    case ExternKind::func: return "func";
    case ExternKind::table: return "table";
    case ExternKind::memory: return "memory";
    case ExternKind::global: return "global";
    }
    return "?";
}

} // namespace kiln

namespace kiln::engine {

std::string Module::func_name(uint32_t func_index) const {
    if (auto it = func_names.find(func_index); it != func_names.end()) return it->second;
    for (const auto& e : exports)
        if (e.kind == ExternKind::func && e.index == func_index) return e.name;
    return {};
}

std::string Module::func_display_name(uint32_t func_index) const {
    std::string name = func_name(func_index);
    return name.empty() ? "func[" + std::to_string(func_index) + "]" : name;
}

} // namespace kiln::engine
