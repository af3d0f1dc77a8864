#include "engine/runtime/mapping_cache.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

namespace kiln::engine {

namespace {

/// At most this many mappings are kept,
constexpr size_t max_entries = 32;
/// holding at most this many resident bytes together,
constexpr uint64_t max_resident_total = uint64_t(64) << 20;
/// and a mapping with more resident bytes than this to zero is unmapped instead.
constexpr uint64_t max_resident_each = uint64_t(4) << 20;

struct Entry {
    Mapping mapping;
    uint64_t resident = 0;
};

struct Cache {
    std::mutex mutex;
    std::vector<Entry> entries;
    uint64_t resident = 0;
};

Cache& cache() {
    // Never destroyed: stores may end during static destruction.
    static Cache* c = new Cache;
    return *c;
}

uint64_t os_page() {
    static const uint64_t p = uint64_t(sysconf(_SC_PAGESIZE));
    return p;
}

void unmap(const Mapping& m) {
    if (m.base) munmap(m.base, m.reserved);
}

/// Pages a value stack's scan looks at at once: a stack is used from its start, so its
/// touched pages form a prefix, and the scan stops at the first window with none resident.
constexpr uint64_t stack_window_pages = 64;

/// Zeroes the resident pages of [base, base + bytes) and counts them; false (nothing zeroed)
/// when they are more than `limit` bytes or mincore fails. A stack's pages are looked at window
/// by window, up to the first window with none resident: the cost of a scan follows what was
/// touched, not the size of the reservation.
bool zero_resident(uint8_t* base, uint64_t bytes, uint64_t limit, MappingKind kind,
                   uint64_t& resident) {
    const uint64_t page = os_page();
    uint64_t pages = (bytes + page - 1) / page;
    resident = 0;
    if (pages == 0) return true;
    std::vector<unsigned char> in_core;
    if (kind == MappingKind::stack) {
        uint64_t scanned = 0;
        while (scanned < pages) {
            const uint64_t n = std::min(stack_window_pages, pages - scanned);
            in_core.resize(scanned + n);
            if (mincore(base + scanned * page, n * page, in_core.data() + scanned) != 0)
                return false;
            const bool any = std::any_of(in_core.begin() + ptrdiff_t(scanned), in_core.end(),
                                         [](unsigned char c) { return (c & 1) != 0; });
            scanned += n;
            if (!any) break;
        }
        pages = scanned;
    } else {
        in_core.resize(pages);
        if (mincore(base, pages * page, in_core.data()) != 0) return false;
    }
    for (unsigned char c : in_core)
        resident += (c & 1) ? page : 0;
    if (resident > limit) return false;
    for (uint64_t i = 0; i < pages;) {
        if (!(in_core[i] & 1)) {
            ++i;
            continue;
        }
        uint64_t j = i;
        while (j < pages && (in_core[j] & 1))
            ++j;
        const uint64_t from = i * page;
        const uint64_t to = std::min(j * page, bytes);
        std::memset(base + from, 0, to - from);
        i = j;
    }
    return true;
}

} // namespace

Mapping take_mapping(MappingKind kind, uint64_t reserved) {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    for (size_t i = c.entries.size(); i-- > 0;) {
        const Mapping& m = c.entries[i].mapping;
        if (m.reserved != reserved || m.kind != kind) continue;
        Entry e = c.entries[i];
        c.entries.erase(c.entries.begin() + ptrdiff_t(i));
        c.resident -= e.resident;
        return e.mapping;
    }
    return {};
}

void give_mapping(Mapping m, uint64_t dirty) {
    if (!m.base) return;
    dirty = std::min(dirty, m.writable);
    uint64_t resident = 0;
    {
        Cache& c = cache();
        std::lock_guard lock(c.mutex);
        if (c.entries.size() >= max_entries || c.resident >= max_resident_total) {
            unmap(m);
            return;
        }
    }
    // Zeroed outside the lock: other stores' mappings come and go meanwhile.
    if (!zero_resident(m.base, dirty, max_resident_each, m.kind, resident)) {
        unmap(m);
        return;
    }
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    if (c.entries.size() >= max_entries || c.resident + resident > max_resident_total) {
        unmap(m);
        return;
    }
    c.entries.push_back({m, resident});
    c.resident += resident;
}

void clear_mapping_cache() {
    Cache& c = cache();
    std::vector<Entry> entries;
    {
        std::lock_guard lock(c.mutex);
        entries.swap(c.entries);
        c.resident = 0;
    }
    for (const Entry& e : entries)
        unmap(e.mapping);
}

size_t cached_mappings() {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    return c.entries.size();
}

} // namespace kiln::engine
