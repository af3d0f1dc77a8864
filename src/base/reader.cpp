#include "base/reader.hpp"

#include "base/text.hpp"

#include <fmt/format.h>

namespace kiln {

bool is_valid_utf8(std::string_view s) {
    uint32_t code_point = 0;
    while (!s.empty()) {
        size_t len = utf8_sequence(s, code_point);
        if (len == 0) return false;
        s.remove_prefix(len);
    }
    return true;
}

tl::unexpected<Error> Reader::fail(std::string_view what) const {
    return make_error(ErrorKind::malformed, fmt::format("{} at offset {:#x}", what, offset()));
}

Result<uint8_t> Reader::u8() {
    if (m_pos >= m_size) return fail("unexpected end");
    return m_data[m_pos++];
}

Result<uint32_t> Reader::u32_fixed() {
    if (remaining() < 4) return fail("unexpected end");
    uint32_t v;
    std::memcpy(&v, m_data + m_pos, 4);
    m_pos += 4;
    return v;
}

Result<std::string> Reader::str32() {
    KILN_TRY(n, u32_fixed());
    KILN_TRY(b, bytes(n));
    return std::string(b.begin(), b.end());
}

Result<uint64_t> Reader::u64_fixed() {
    if (remaining() < 8) return fail("unexpected end");
    uint64_t v;
    std::memcpy(&v, m_data + m_pos, 8);
    m_pos += 8;
    return v;
}

Result<uint64_t> Reader::leb_unsigned(unsigned bits) {
    uint64_t result = 0;
    unsigned shift = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
        if (m_pos >= m_size) return fail("unexpected end of LEB128");
        uint8_t b = m_data[m_pos++];
        if (i == max_bytes - 1) {
            // Last permitted byte: no continuation, and unused bits must be zero.
            unsigned used = bits - shift;
            if (b & 0x80) return fail("integer representation too long");
            if (used < 7 && (b >> used) != 0) return fail("integer too large");
            return result | (uint64_t(b) << shift);
        }
        result |= uint64_t(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) return result;
    }
}

Result<int64_t> Reader::leb_signed(unsigned bits) {
    int64_t result = 0;
    unsigned shift = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
        if (m_pos >= m_size) return fail("unexpected end of LEB128");
        uint8_t b = m_data[m_pos++];
        if (i == max_bytes - 1) {
            if (b & 0x80) return fail("integer representation too long");
            // The unused high bits must all equal the sign bit of the value.
            unsigned used = bits - shift; // bits taken from this byte, including the sign
            int8_t sb = static_cast<int8_t>(b << 1) >> 1; // sign-extend 7 bits
            int64_t top = sb >> (used - 1);
            if (used < 7 && top != 0 && top != -1) return fail("integer too large");
            result |= uint64_t(b & 0x7f) << shift;
            shift += 7;
            if (shift < 64 && (b & 0x40)) result |= ~uint64_t(0) << shift;
            return result;
        }
        result |= uint64_t(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40)) result |= ~uint64_t(0) << shift;
            return result;
        }
    }
}

Result<uint32_t> Reader::leb_u32() {
    KILN_TRY(v, leb_unsigned(32));
    return static_cast<uint32_t>(v);
}

Result<int32_t> Reader::leb_s32() {
    KILN_TRY(v, leb_signed(32));
    return static_cast<int32_t>(v);
}

Result<int64_t> Reader::leb_s64() {
    return leb_signed(64);
}

Result<int64_t> Reader::leb_s33() {
    return leb_signed(33);
}

Result<std::span<const uint8_t>> Reader::bytes(size_t count) {
    if (count > remaining()) return fail("unexpected end");
    std::span<const uint8_t> s(m_data + m_pos, count);
    m_pos += count;
    return s;
}

Result<std::string> Reader::name() {
    KILN_TRY(len, leb_u32());
    if (len > remaining()) return fail("unexpected end (length out of bounds)");
    std::string s(reinterpret_cast<const char*>(m_data + m_pos), len);
    if (!is_valid_utf8(s)) return fail("malformed UTF-8 encoding");
    m_pos += len;
    return s;
}

Result<Reader> Reader::sub(size_t count) {
    if (count > remaining()) return fail("unexpected end (section or size out of bounds)");
    Reader r(std::span<const uint8_t>(m_data + m_pos, count), offset());
    m_pos += count;
    return r;
}

Result<void> Reader::skip(size_t count) {
    if (count > remaining()) return fail("unexpected end");
    m_pos += count;
    return {};
}

} // namespace kiln
