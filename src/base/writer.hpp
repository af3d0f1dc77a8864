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
    Writer() = default;
    /// A writer whose borrow() records spans of the caller's memory instead of copying them:
    /// the output is then pieces(), valid while that memory is unchanged.
    static Writer borrowing() {
        Writer w;
        w.m_borrowing = true;
        return w;
    }

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
    /// Bytes that stay where they are until the output is used: copied by an ordinary writer,
    /// referenced by a borrowing one (large data such as memory pages, without a copy).
    void borrow(const void* p, size_t n) {
        if (!m_borrowing) return raw(p, n);
        if (n == 0) return;
        close_owned();
        auto* b = static_cast<const uint8_t*>(p);
        // Adjacent spans (consecutive pages) become one piece.
        if (!m_pieces.empty() && m_pieces.back().ptr &&
            m_pieces.back().ptr + m_pieces.back().n == b)
            m_pieces.back().n += n;
        else
            m_pieces.push_back({b, 0, n});
        m_total += n;
    }
    void reserve(size_t n) { m_out.reserve(m_out.size() + n); }
    /// True for a writer made by borrowing().
    bool borrows() const { return m_borrowing; }
    /// Bytes written so far, borrowed ones included.
    size_t size() const { return m_out.size() + m_total; }
    /// The copied bytes; the whole output unless borrow() referenced memory.
    std::vector<uint8_t>& out() { return m_out; }
    /// The output in order: copied runs and borrowed spans.
    std::vector<std::span<const uint8_t>> pieces() {
        close_owned();
        std::vector<std::span<const uint8_t>> out;
        out.reserve(m_pieces.size());
        for (const Piece& p : m_pieces)
            out.emplace_back(p.ptr ? p.ptr : m_out.data() + p.at, p.n);
        return out;
    }

private:
    /// A run of m_out (ptr null, from `at`) or a borrowed span.
    struct Piece {
        const uint8_t* ptr;
        size_t at;
        size_t n;
    };
    void close_owned() {
        if (m_out.size() > m_closed)
            m_pieces.push_back({nullptr, m_closed, m_out.size() - m_closed});
        m_closed = m_out.size();
    }

    std::vector<uint8_t> m_out;
    bool m_borrowing = false;
    std::vector<Piece> m_pieces;
    size_t m_closed = 0; ///< m_out up to here is in m_pieces
    size_t m_total = 0;  ///< borrowed bytes
};

static_assert(std::endian::native == std::endian::little, "snapshots assume a little-endian host");

} // namespace kiln
