// WebAssembly types shared by the decoder, validator and runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::engine {

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

const char* valtype_name(ValType t);
inline bool is_reftype(ValType t) { return t == ValType::funcref || t == ValType::externref; }
/// Decodes a value-type byte; nullopt when it is not one.
std::optional<ValType> valtype_from_byte(uint8_t b);

struct FuncType {
    std::vector<ValType> params;
    std::vector<ValType> results;
    bool operator==(const FuncType&) const = default;
};
std::string functype_string(const FuncType& t);

struct Limits {
    uint64_t min = 0;
    std::optional<uint64_t> max;
};

struct TableType {
    ValType elem = ValType::funcref;
    Limits limits;
};

struct MemoryType {
    Limits limits;
};

struct GlobalType {
    ValType type = ValType::i32;
    bool mut = false;
};

enum class ExternKind : uint8_t { func = 0, table = 1, memory = 2, global = 3 };
const char* extern_kind_name(ExternKind k);

constexpr uint64_t page_size = 65536;
constexpr uint64_t max_pages = 65536;

} // namespace kiln::engine
