// Reads a fuzzer's input as a stream of choices: small integers, sizes biased towards edges,
// strings. Once the bytes run out every read gives 0 (or an empty string), so any input,
// however short, is a complete program.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace kiln::fuzz {

/// A cursor over a fuzzer's input bytes.
class FuzzInput {
public:
    explicit FuzzInput(std::span<const uint8_t> bytes) : m_bytes(bytes) {}

    bool empty() const { return m_pos >= m_bytes.size(); }
    /// The next byte, or 0 past the end.
    uint8_t byte() { return empty() ? 0 : m_bytes[m_pos++]; }
    /// A number in [0, n) from one byte (n at most 256), 0 when n is 0.
    uint32_t below(uint32_t n) { return n ? byte() % n : 0; }
    /// Up to 8 little-endian bytes (missing ones are 0).
    uint64_t u64() {
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v |= uint64_t(byte()) << (8 * i);
        return v;
    }
    /// A size or offset: mostly small, sometimes around `edge` (a block length, a budget), and
    /// now and then any 64-bit value, where the overflows are.
    uint64_t size_near(uint64_t edge) {
        switch (below(8)) {
        case 0: return u64();
        case 1:
        case 2: return edge + byte() - 128; // wraps around 0 on purpose
        default: return byte() % 64;
        }
    }
    /// A string of up to `max` bytes (at most 255), cut short where the input ends.
    std::string string(size_t max = 255) {
        size_t n =
            std::min<size_t>(byte() % (max + 1), m_bytes.size() - std::min(m_pos, m_bytes.size()));
        std::string s(reinterpret_cast<const char*>(m_bytes.data() + m_pos), n);
        m_pos += n;
        return s;
    }

private:
    std::span<const uint8_t> m_bytes;
    size_t m_pos = 0;
};

} // namespace kiln::fuzz
