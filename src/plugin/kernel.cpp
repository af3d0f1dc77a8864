#include "plugin/kernel.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace kiln::plugin {

namespace {
// Addresses stay far below 2^63, so handle + offset arithmetic in the guest cannot wrap into a
// valid block by accident, and a block's end never overflows.
constexpr uint64_t address_limit = uint64_t(1) << 62;
} // namespace

uint64_t Kernel::alloc(uint64_t size) {
    if (size == 0 || size > m_budget - m_in_use || size > address_limit - m_next) return 0;
    uint64_t start = m_next;
    Block b{size, {}};
    try {
        b.bytes.assign(size, 0);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    m_blocks.emplace(start, std::move(b));
    // A gap of one address between blocks: handle + length never names the next block.
    m_next += size + 1;
    m_in_use += size;
    m_peak = std::max(m_peak, m_in_use);
    return start;
}

void Kernel::free(uint64_t handle) {
    auto it = m_blocks.find(handle);
    if (it == m_blocks.end()) return;
    m_in_use -= it->second.size;
    if (m_last == &it->second) m_last = nullptr;
    m_blocks.erase(it);
}

const Kernel::Block* Kernel::find(uint64_t address, uint64_t& offset) const {
    if (m_last && address >= m_last_start && address - m_last_start < m_last->size) {
        offset = address - m_last_start;
        return m_last;
    }
    auto it = m_blocks.upper_bound(address);
    if (it == m_blocks.begin()) return nullptr;
    --it;
    if (address - it->first >= it->second.size) return nullptr;
    offset = address - it->first;
    m_last_start = it->first;
    m_last = &it->second;
    return m_last;
}

uint64_t Kernel::length(uint64_t handle) const {
    auto it = m_blocks.find(handle);
    return it == m_blocks.end() ? 0 : it->second.size;
}

uint8_t Kernel::load_u8(uint64_t address) const {
    uint64_t off = 0;
    const Block* b = find(address, off);
    return b ? b->bytes[off] : 0;
}

uint64_t Kernel::load_u64(uint64_t address) const {
    uint64_t off = 0;
    const Block* b = find(address, off);
    if (!b || b->size - off < 8) return 0;
    uint64_t v;
    std::memcpy(&v, b->bytes.data() + off, 8);
    return v;
}

void Kernel::store_u8(uint64_t address, uint8_t v) {
    uint64_t off = 0;
    Block* b = find(address, off);
    if (b) b->bytes[off] = v;
}

void Kernel::store_u64(uint64_t address, uint64_t v) {
    uint64_t off = 0;
    Block* b = find(address, off);
    if (b && b->size - off >= 8) std::memcpy(b->bytes.data() + off, &v, 8);
}

std::optional<std::string_view> Kernel::view(uint64_t handle, uint64_t len) const {
    auto it = m_blocks.find(handle);
    if (it == m_blocks.end() || len > it->second.size) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(it->second.bytes.data()), len);
}

uint64_t Kernel::put(std::string_view bytes) {
    uint64_t h = alloc(bytes.size());
    if (h) std::memcpy(m_blocks.find(h)->second.bytes.data(), bytes.data(), bytes.size());
    return h;
}

void Kernel::reset() {
    m_blocks.clear();
    m_next = 1;
    m_in_use = 0;
    m_last = nullptr;
}

void Kernel::save(Writer& w) const {
    w.u64(m_next);
    w.u64(m_blocks.size());
    for (const auto& [start, b] : m_blocks) {
        w.u64(start);
        w.u64(b.size);
        w.bytes(b.bytes);
    }
}

Result<void> Kernel::load(Reader& r) {
    auto bad = [](std::string_view what) {
        return make_error(ErrorKind::malformed, fmt::format("snapshot: kernel memory: {}", what));
    };
    auto next = r.u64_fixed();
    auto count = r.u64_fixed();
    if (!next || !count) return bad("truncated");
    if (*next == 0 || *next > address_limit) return bad("next address out of range");
    std::map<uint64_t, Block> blocks;
    uint64_t in_use = 0, end = 1;
    for (uint64_t i = 0; i < *count; ++i) {
        auto start = r.u64_fixed();
        auto size = r.u64_fixed();
        if (!start || !size) return bad("truncated");
        // Blocks in order, apart by at least the one-address gap, below the next address.
        if (*start < end || *size == 0 || *size > address_limit - *start ||
            *start + *size >= *next + 1 || *size > r.remaining())
            return bad(fmt::format("block {} is out of place", i));
        auto bytes = r.bytes(size_t(*size));
        if (!bytes) return bad("truncated");
        blocks.emplace(*start, Block{*size, std::vector<uint8_t>(bytes->begin(), bytes->end())});
        in_use += *size;
        end = *start + *size + 1;
    }
    m_blocks = std::move(blocks);
    m_next = *next;
    m_in_use = in_use;
    m_last = nullptr;
    m_last_start = 0;
    return {};
}

} // namespace kiln::plugin
