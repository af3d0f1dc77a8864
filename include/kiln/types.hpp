// WebAssembly types: value, function, table, memory and global types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// Value types, with their binary encodings.
enum class ValType : uint8_t {
    i32 = 0x7f,
    i64 = 0x7e,
    f32 = 0x7d,
    f64 = 0x7c,
    v128 = 0x7b,
    funcref = 0x70,
    externref = 0x6f,
};

/// "i32", "funcref", ...
const char* valtype_name(ValType t);
/// True for funcref and externref.
inline bool is_reftype(ValType t) {
    return t == ValType::funcref || t == ValType::externref;
}
/// Decodes a value-type byte; nullopt when it is not one.
std::optional<ValType> valtype_from_byte(uint8_t b);

/// Parameter and result types of a function.
struct FuncType {
    std::vector<ValType> params;
    std::vector<ValType> results;
    bool operator==(const FuncType&) const = default;
};
/// "(i32 i64) -> (f32)"
std::string functype_string(const FuncType& t);

/// Minimum and optional maximum size (pages for memories, elements for tables).
struct Limits {
    uint64_t min = 0;
    std::optional<uint64_t> max;
};

/// A table's element type and limits.
struct TableType {
    ValType elem = ValType::funcref;
    Limits limits;
};

/// A memory's limits, in 64 KiB pages.
struct MemoryType {
    Limits limits;
};

/// A global's value type and mutability.
struct GlobalType {
    ValType type = ValType::i32;
    bool mut = false;
};

/// What an import or export is.
enum class ExternKind : uint8_t { func = 0, table = 1, memory = 2, global = 3 };
/// "func", "table", "memory" or "global".
const char* extern_kind_name(ExternKind k);

/// Bytes in a WebAssembly page.
constexpr uint64_t page_size = 65536;
/// Pages in the largest 32-bit memory (4 GiB).
constexpr uint64_t max_pages = 65536;

} // namespace kiln
