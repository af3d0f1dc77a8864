// Bounds-checked reading of a byte buffer: fixed-width values, LEB128, names.
#pragma once

#include "base/result.hpp"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace kiln {

/// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

/// Reads a byte buffer front to back; every read checks bounds and reports the byte offset.
/// Offsets are absolute: a reader over a sub-range keeps the offsets of the whole buffer.
class Reader {
public:
    Reader(std::span<const uint8_t> bytes, size_t base_offset = 0)
        : m_data(bytes.data()), m_size(bytes.size()), m_base(base_offset) {}

    size_t offset() const { return m_base + m_pos; }
    size_t remaining() const { return m_size - m_pos; }
    bool at_end() const { return m_pos == m_size; }
    const uint8_t* current() const { return m_data + m_pos; }

    /// Error of kind malformed at the current offset.
    tl::unexpected<Error> fail(std::string_view what) const;

    Result<uint8_t> u8();
    Result<uint32_t> u32_fixed();
    Result<uint64_t> u64_fixed();
    Result<uint32_t> leb_u32();
    Result<int32_t> leb_s32();
    Result<int64_t> leb_s64();
    /// The 33-bit signed LEB used for block types.
    Result<int64_t> leb_s33();
    Result<std::span<const uint8_t>> bytes(size_t count);
    /// A length-prefixed UTF-8 name.
    Result<std::string> name();
    /// A u32 length, then that many bytes of any value (Writer::str32).
    Result<std::string> str32();
    /// A sub-reader over the next `count` bytes (offsets stay absolute).
    Result<Reader> sub(size_t count);
    Result<void> skip(size_t count);

private:
    Result<uint64_t> leb_unsigned(unsigned bits);
    Result<int64_t> leb_signed(unsigned bits);

    const uint8_t* m_data;
    size_t m_size;
    size_t m_pos = 0;
    size_t m_base;
};

} // namespace kiln
