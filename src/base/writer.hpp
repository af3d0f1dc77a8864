// Appending fixed-width little-endian values to a byte buffer: the counterpart of Reader for
// formats Kiln writes itself (snapshots).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace kiln {

class Writer {
public:
    void u8(uint8_t v) { m_out.push_back(v); }
    void u32(uint32_t v) { raw(&v, sizeof v); }
    void u64(uint64_t v) { raw(&v, sizeof v); }
    void bytes(std::span<const uint8_t> b) { raw(b.data(), b.size()); }
    /// A u32 length, then the bytes (Reader::str32 reads it).
    void str32(std::string_view s) {
        u32(uint32_t(s.size()));
        raw(s.data(), s.size());
    }
    void raw(const void* p, size_t n) {
        size_t at = m_out.size();
        m_out.resize(at + n);
        if (n) std::memcpy(m_out.data() + at, p, n);
    }
    void reserve(size_t n) { m_out.reserve(m_out.size() + n); }
    size_t size() const { return m_out.size(); }
    std::vector<uint8_t>& out() { return m_out; }

private:
    std::vector<uint8_t> m_out;
};

static_assert(std::endian::native == std::endian::little, "snapshots assume a little-endian host");

} // namespace kiln
