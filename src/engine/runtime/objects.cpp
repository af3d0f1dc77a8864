#include "engine/runtime/objects.hpp"

#include "engine/runtime/mapping_cache.hpp"

#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>

namespace kiln::engine {

TableInst::~TableInst() {
    if (limiter) limiter->release_table(elems.size());
}

int64_t TableInst::grow(uint64_t delta, uint64_t init) {
    uint64_t old = elems.size();
    uint64_t limit =
        type.limits.max ? std::min<uint64_t>(*type.limits.max, 0xffffffffu) : 0xffffffffu;
    if (delta > limit - old || old + delta > max_table_elems) return -1;
    if (limiter && !limiter->reserve_table(delta)) return -1;
    elems.resize(old + delta, init);
    return int64_t(old);
}

MemoryInst::~MemoryInst() {
    // Kept for the next memory of this size, zeroed, rather than unmapped (mapping_cache.hpp).
    give_mapping({base, reserved, writable, MappingKind::memory}, size);
    if (limiter) limiter->release_memory(size);
}

Result<void> MemoryInst::init(const MemoryType& t) {
    type = t;
    uint64_t max_p = t.limits.max ? *t.limits.max : max_pages;
    // Reserve address space for the largest size once so `base` never moves; pages are
    // committed by mprotect as the memory grows.
    reserved = std::max<uint64_t>(max_p * page_size, page_size);
    if (Mapping kept = take_mapping(MappingKind::memory, reserved); kept.base) {
        base = kept.base;
        writable = kept.writable;
    } else {
        void* p =
            mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            reserved = 0;
            return make_error(ErrorKind::limit, fmt::format("cannot reserve {} bytes for a memory",
                                                            max_p * page_size));
        }
        base = static_cast<uint8_t*>(p);
        writable = 0;
    }
    size = 0;
    if (grow(t.limits.min) < 0) {
        if (limiter &&
            t.limits.min * page_size > limiter->memory_bytes_max - limiter->memory_bytes_used)
            return make_error(ErrorKind::limit,
                              fmt::format("memory of {} pages ({} bytes) exceeds the store's "
                                          "memory limit of {} bytes ({} in use)",
                                          t.limits.min, t.limits.min * page_size,
                                          limiter->memory_bytes_max, limiter->memory_bytes_used));
        return make_error(ErrorKind::limit,
                          fmt::format("cannot allocate memory of {} pages", t.limits.min));
    }
    return {};
}

int64_t MemoryInst::grow(uint64_t delta) {
    uint64_t old_pages = pages();
    uint64_t max_p = type.limits.max ? *type.limits.max : max_pages;
    if (delta > max_p || old_pages + delta > max_p) return -1;
    uint64_t new_size = (old_pages + delta) * page_size;
    if (new_size > reserved) return -1;
    if (limiter && !limiter->reserve_memory(new_size - size)) return -1;
    // A kept mapping may be writable past `size` already (zero, as growing gives it).
    if (new_size > writable) {
        if (mprotect(base + writable, new_size - writable, PROT_READ | PROT_WRITE) != 0) {
            if (limiter) limiter->release_memory(new_size - size);
            return -1;
        }
        writable = new_size;
    }
    size = new_size;
    return int64_t(old_pages);
}

std::optional<Extern> Instance::get_export(const std::string& name) const {
    auto it = exports.find(name);
    if (it == exports.end()) return std::nullopt;
    return it->second;
}

FuncInst* Instance::get_func(const std::string& name) const {
    auto e = get_export(name);
    return e && e->kind == ExternKind::func ? e->func() : nullptr;
}

} // namespace kiln::engine

namespace kiln {

std::string value_string(const Value& v) {
    switch (v.type) {
    case ValType::i32: return fmt::format("i32:{}", v.as_i32());
    case ValType::i64: return fmt::format("i64:{}", v.as_i64());
    case ValType::f32: return fmt::format("f32:{}", v.as_f32());
    case ValType::f64: return fmt::format("f64:{}", v.as_f64());
    case ValType::funcref:
    case ValType::externref:
        return v.bits ? fmt::format("{}:{:#x}", valtype_name(v.type), v.bits)
                      : fmt::format("{}:null", valtype_name(v.type));
    case ValType::v128: return fmt::format("v128:0x{:016x}{:016x}", v.hi, v.bits);
    }
    return "?";
}

} // namespace kiln
