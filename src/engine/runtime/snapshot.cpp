// Snapshots: the container (header, sections, zstd) and the image of a Store.
//
// A store image names functions by ordinal (their place among the store's functions in creation
// order), so that a store built the same way elsewhere finds the same functions. Frames of a
// suspended call are written as (function, suspension site, frame offset) from the outermost
// in; the slots that hold references there come from the site tables the lowering records, so
// they are translated and nothing else is. Restoring checks everything against the store before
// it changes anything: a snapshot either restores whole or not at all.
#include "base/reader.hpp"
#include "base/writer.hpp"
#include "engine/runtime/store_impl.hpp"

#include <kiln/snapshot.hpp>

#include <fmt/format.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kiln {

namespace {

constexpr char magic[8] = {'K', 'I', 'L', 'N', 'S', 'N', 'A', 'P'};
constexpr size_t header_size = 8 + 4 + 4 + 8 + 8;

tl::unexpected<Error> corrupt(std::string_view what) {
    return make_error(ErrorKind::malformed, fmt::format("snapshot: {}", what));
}

struct ZstdCctx {
    ZSTD_CCtx* p = ZSTD_createCCtx();
    ~ZstdCctx() { ZSTD_freeCCtx(p); }
};
struct ZstdDctx {
    ZSTD_DCtx* p = ZSTD_createDCtx();
    ~ZstdDctx() { ZSTD_freeDCtx(p); }
};

} // namespace

void Snapshot::set(std::string name, std::vector<uint8_t> bytes) {
    for (auto& [n, b] : m_sections)
        if (n == name) {
            b = std::move(bytes);
            return;
        }
    m_sections.emplace_back(std::move(name), std::move(bytes));
}

const std::vector<uint8_t>* Snapshot::get(std::string_view name) const {
    for (const auto& [n, b] : m_sections)
        if (n == name) return &b;
    return nullptr;
}

std::vector<std::string> Snapshot::names() const {
    std::vector<std::string> out;
    for (const auto& s : m_sections)
        out.push_back(s.first);
    return out;
}

namespace {

/// A buffer of `n` bytes for large output. Backed by huge pages where the kernel offers them on
/// request: a fresh 16 MiB buffer otherwise costs 4,096 page faults, as much time as
/// compressing a third of it.
std::vector<uint8_t> large_buffer(size_t n) {
    std::vector<uint8_t> v;
    v.reserve(n);
#ifdef MADV_HUGEPAGE
    constexpr uintptr_t huge = uintptr_t(2) << 20;
    if (n >= 2 * huge) {
        uintptr_t b = (reinterpret_cast<uintptr_t>(v.data()) + huge - 1) & ~(huge - 1);
        uintptr_t e = (reinterpret_cast<uintptr_t>(v.data()) + n) & ~(huge - 1);
        if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
    }
#endif
    v.resize(n);
    return v;
}

/// Compresses the bytes of `pieces` from logical offset `from` for `n` bytes into one zstd frame
/// at `out`, which holds ZSTD_compressBound(n); returns the frame's size.
Result<size_t> compress_range(std::span<const std::span<const uint8_t>> pieces, uint64_t from,
                              uint64_t n, uint8_t* out, size_t cap) {
    ZstdCctx cctx;
    if (!cctx.p) return make_error(ErrorKind::limit, "snapshot: out of memory for compression");
    // Level -1 (zstd's fastest family, literals left as they are): snapshots are written on the
    // way to something else (a pause, a checkpoint), so speed matters more than size. On 16 MiB
    // of mixed heap data it compresses 1.4x as fast and decompresses twice as fast as level 1,
    // for a snapshot 10% larger (bench/snapshot.cpp, docs/snapshots.md).
    ZSTD_CCtx_setParameter(cctx.p, ZSTD_c_compressionLevel, -3);
    ZSTD_CCtx_setPledgedSrcSize(cctx.p, n);
    ZSTD_outBuffer ob{out, cap, 0};
    uint64_t start = 0, end = from + n;
    for (auto piece : pieces) {
        uint64_t lo = std::max(start, from), hi = std::min(start + piece.size(), end);
        if (lo < hi) {
            ZSTD_inBuffer ib{piece.data() + (lo - start), size_t(hi - lo), 0};
            while (ib.pos < ib.size) {
                size_t r = ZSTD_compressStream2(cctx.p, &ob, &ib, ZSTD_e_continue);
                if (ZSTD_isError(r))
                    return make_error(ErrorKind::io, fmt::format("snapshot: compression failed: {}",
                                                                 ZSTD_getErrorName(r)));
            }
        }
        start += piece.size();
    }
    ZSTD_inBuffer none{nullptr, 0, 0};
    for (;;) {
        size_t r = ZSTD_compressStream2(cctx.p, &ob, &none, ZSTD_e_end);
        if (ZSTD_isError(r))
            return make_error(ErrorKind::io, fmt::format("snapshot: compression failed: {}",
                                                         ZSTD_getErrorName(r)));
        if (r == 0) break;
    }
    return ob.pos;
}

/// Below this, a payload is compressed as one frame on the calling thread.
constexpr uint64_t part_min = uint64_t(4) << 20;

} // namespace

Result<std::vector<uint8_t>>
Snapshot::encode_with(std::string_view name,
                      std::span<const std::span<const uint8_t>> first) const {
    // The payload: a section count, then each section's name, size and bytes. It is hashed and
    // compressed piece by piece, without assembling it.
    std::vector<std::span<const uint8_t>> pieces;
    Writer heads;
    size_t count = m_sections.size() + (name.empty() ? 0 : 1);
    heads.u32(uint32_t(count));
    std::vector<size_t> head_ends{heads.size()};
    auto head = [&](std::string_view n, uint64_t size) {
        heads.str32(n);
        heads.u64(size);
        head_ends.push_back(heads.size());
    };
    if (count > m_sections.size()) {
        uint64_t size = 0;
        for (auto p : first)
            size += p.size();
        head(name, size);
    }
    for (const auto& [n, bytes] : m_sections)
        head(n, bytes.size());
    const uint8_t* h = heads.out().data();
    size_t k = 0;
    pieces.emplace_back(h, head_ends[0]);
    if (count > m_sections.size()) {
        pieces.emplace_back(h + head_ends[k], head_ends[k + 1] - head_ends[k]);
        ++k;
        pieces.insert(pieces.end(), first.begin(), first.end());
    }
    for (const auto& [n, bytes] : m_sections) {
        pieces.emplace_back(h + head_ends[k], head_ends[k + 1] - head_ends[k]);
        ++k;
        pieces.emplace_back(bytes.data(), bytes.size());
    }
    uint64_t total = 0;
    for (auto p : pieces)
        total += p.size();

    // Large payloads are cut into parts compressed side by side, one zstd frame each (a reader
    // decompresses the frames as one stream); each part goes to its own region of the output,
    // then the frames are moved together.
    size_t parts = 1;
    if (total >= 2 * part_min) {
        size_t cores = std::max(1u, std::thread::hardware_concurrency());
        parts = size_t(std::min<uint64_t>({total / part_min, cores, 8}));
    }
    std::vector<uint64_t> from(parts + 1);
    std::vector<size_t> region(parts + 1);
    region[0] = header_size;
    for (size_t i = 0; i < parts; ++i) {
        from[i + 1] = i + 1 == parts ? total : total / parts * (i + 1);
        region[i + 1] = region[i] + ZSTD_compressBound(size_t(from[i + 1] - from[i]));
    }
    std::vector<uint8_t> buf = large_buffer(region[parts]);
    std::vector<Result<size_t>> done(parts, size_t(0));
    auto work = [&](size_t i) {
        done[i] = compress_range(pieces, from[i], from[i + 1] - from[i], buf.data() + region[i],
                                 region[i + 1] - region[i]);
    };
    std::vector<std::thread> threads;
    for (size_t i = 1; i < parts; ++i) {
        try {
            threads.emplace_back(work, i);
        } catch (const std::system_error&) {
            work(i); // no thread to be had: this one does it
        }
    }
    XXH3_state_t* hs = XXH3_createState();
    XXH3_64bits_reset(hs);
    for (auto p : pieces)
        XXH3_64bits_update(hs, p.data(), p.size());
    uint64_t sum = XXH3_64bits_digest(hs);
    XXH3_freeState(hs);
    work(0);
    for (auto& t : threads)
        t.join();

    Writer out;
    out.raw(magic, sizeof magic);
    out.u32(snapshot_format_version);
    out.u32(0);
    out.u64(total);
    out.u64(sum);
    std::memcpy(buf.data(), out.out().data(), header_size);
    size_t at = header_size;
    for (size_t i = 0; i < parts; ++i) {
        if (!done[i]) return tl::unexpected(std::move(done[i].error()));
        std::memmove(buf.data() + at, buf.data() + region[i], *done[i]);
        at += *done[i];
    }
    buf.resize(at);
    return buf;
}

Result<std::vector<uint8_t>> Snapshot::encode() const {
    return encode_with({}, {});
}

Result<Snapshot> Snapshot::decode(std::span<const uint8_t> bytes, uint64_t max_bytes) {
    if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
        return corrupt("not a Kiln snapshot (no KILNSNAP header)");
    if (bytes.size() < header_size) return corrupt("truncated header");
    Reader head(bytes.subspan(sizeof magic, header_size - sizeof magic));
    uint32_t version = *head.u32_fixed();
    uint32_t flags = *head.u32_fixed();
    uint64_t total = *head.u64_fixed();
    uint64_t sum = *head.u64_fixed();
    if (version != snapshot_format_version)
        return make_error(ErrorKind::invalid,
                          fmt::format("snapshot: format version {}; this Kiln reads version {}",
                                      version, snapshot_format_version));
    // No flags are defined: the checksum does not cover the header, so a damaged flags word is
    // caught here or nowhere.
    if (flags != 0) return corrupt(fmt::format("unknown header flags {:#x}", flags));
    if (total > max_bytes)
        return make_error(
            ErrorKind::limit,
            fmt::format("snapshot: {} bytes uncompressed, past the limit of {}", total, max_bytes));
    // The payload streams out of zstd straight into the sections' own buffers, hashed on the
    // way: one copy of the data, not a payload buffer and then the sections. Sizes are only
    // believed as far as the data goes: a buffer grows with what actually decompresses, so a
    // lying header cannot make us allocate.
    ZstdDctx dctx;
    ZSTD_inBuffer ib{bytes.data() + header_size, bytes.size() - header_size, 0};
    XXH3_state_t* hs = XXH3_createState();
    std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> hs_owner(hs, XXH3_freeState);
    XXH3_64bits_reset(hs);
    uint64_t produced = 0;
    size_t frame_left = 1; ///< zstd's last answer: 0 once the frame has ended
    // Decompresses exactly `n` bytes to `out`.
    auto read = [&](uint8_t* out, size_t n) -> Result<void> {
        ZSTD_outBuffer ob{out, n, 0};
        while (ob.pos < n) {
            size_t in_before = ib.pos, out_before = ob.pos;
            frame_left = ZSTD_decompressStream(dctx.p, &ob, &ib);
            if (ZSTD_isError(frame_left))
                return corrupt(fmt::format("corrupt data ({})", ZSTD_getErrorName(frame_left)));
            if (ob.pos == out_before && ib.pos == in_before) return corrupt("truncated");
        }
        XXH3_64bits_update(hs, out, n);
        produced += n;
        return {};
    };
    auto fail = [](const Error& e) {
        return corrupt(fmt::format("bad section table: {}", e.message));
    };
    // A number of the section table; the table cannot reach past the declared size.
    auto number = [&](size_t width) -> Result<uint64_t> {
        if (total - produced < width)
            return fail(Error{ErrorKind::malformed, "it runs past the declared size", nullptr});
        uint8_t buf[8];
        KILN_CHECK(read(buf, width));
        Reader r(std::span<const uint8_t>(buf, width));
        return width == 4 ? Result<uint64_t>(*r.u32_fixed()) : r.u64_fixed();
    };
    // `n` bytes of the section table: the buffer grows as they arrive.
    auto bytes_of = [&](uint64_t i, uint64_t n) -> Result<std::vector<uint8_t>> {
        if (n > total - produced) return corrupt(fmt::format("section {} is truncated", i));
        std::vector<uint8_t> out;
        out.reserve(size_t(std::min<uint64_t>(n, uint64_t(ib.size - ib.pos) * 64 + 4096)));
        while (out.size() < n) {
            size_t at = out.size();
            size_t chunk = size_t(std::min<uint64_t>(n - at, std::max<size_t>(at, 1u << 20)));
            out.resize(at + chunk);
            KILN_CHECK(read(out.data() + at, chunk));
        }
        return out;
    };
    KILN_TRY(count, number(4));
    Snapshot snap;
    for (uint64_t i = 0; i < count; ++i) {
        KILN_TRY(len, number(4));
        KILN_TRY(name_bytes, bytes_of(i, len));
        std::string name(name_bytes.begin(), name_bytes.end());
        KILN_TRY(size, number(8));
        if (snap.get(name)) return corrupt(fmt::format("section \"{}\" appears twice", name));
        KILN_TRY(body, bytes_of(i, size));
        snap.m_sections.emplace_back(std::move(name), std::move(body));
    }
    if (produced != total) return corrupt("bytes after the last section");
    // Everything declared arrived; the frame must end here.
    for (size_t r = frame_left; r != 0;) {
        uint8_t extra;
        ZSTD_outBuffer ob{&extra, 1, 0};
        size_t in_before = ib.pos;
        r = ZSTD_decompressStream(dctx.p, &ob, &ib);
        if (ZSTD_isError(r)) return corrupt(fmt::format("corrupt data ({})", ZSTD_getErrorName(r)));
        if (ob.pos) return corrupt("more data than the header declares");
        if (r != 0 && ib.pos == in_before) return corrupt("truncated");
    }
    if (ib.pos != ib.size) return corrupt("bytes after the end of the data");
    if (XXH3_64bits_digest(hs) != sum) return corrupt("checksum mismatch: the data is corrupt");
    return snap;
}

} // namespace kiln

namespace kiln::engine {

namespace {

constexpr uint64_t no_func = 0; ///< reference codes: 0 is null, else ordinal + 1

bool page_is_zero(const uint8_t* p) {
    const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
    uint64_t acc = 0;
    for (size_t i = 0; i < page_size / 8; i += 8)
        acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
    return acc == 0;
}

tl::unexpected<Error> mismatch(std::string_view what) {
    return make_error(ErrorKind::invalid,
                      fmt::format("snapshot does not fit this store: {}", what));
}

/// Function ordinals of one store: blocks in creation order.
class Ordinals {
public:
    explicit Ordinals(const Store::Impl& impl) {
        uint64_t base = 0;
        for (const auto& block : impl.funcs) {
            const FuncInst* b = block.get();
            size_t n = impl.func_blocks.at(b);
            m_by_addr.emplace(b, std::make_pair(base, n));
            m_blocks.push_back({b, n});
            m_starts.push_back(base);
            base += n;
        }
        m_total = base;
    }
    /// The code for a reference word: 0 for null, ordinal + 1 for a function of this store;
    /// nullopt for anything else (an externref).
    std::optional<uint64_t> code_of(uint64_t word) const {
        if (word == 0) return no_func;
        auto p = reinterpret_cast<const FuncInst*>(word);
        auto it = m_by_addr.lower_bound(p);
        if (it == m_by_addr.end()) return std::nullopt;
        uintptr_t off = uintptr_t(word) - reinterpret_cast<uintptr_t>(it->first);
        if (off >= it->second.second * sizeof(FuncInst) || off % sizeof(FuncInst))
            return std::nullopt;
        return it->second.first + off / sizeof(FuncInst) + 1;
    }
    /// The function of ordinal `n`, if there is one.
    FuncInst* func(uint64_t n) const {
        if (n >= m_total) return nullptr;
        // The block whose first ordinal is the last at or below n (blocks are never empty).
        size_t k = size_t(std::upper_bound(m_starts.begin(), m_starts.end(), n) - m_starts.begin());
        return const_cast<FuncInst*>(m_blocks[k - 1].first) + (n - m_starts[k - 1]);
    }
    std::optional<uint64_t> ordinal(const FuncInst* f) const {
        auto c = code_of(reinterpret_cast<uint64_t>(f));
        if (!c || *c == 0) return std::nullopt;
        return *c - 1;
    }
    /// The word for a reference code; nullopt when out of range.
    std::optional<uint64_t> word_of(uint64_t code) const {
        if (code == no_func) return 0;
        FuncInst* f = func(code - 1);
        if (!f) return std::nullopt;
        return reinterpret_cast<uint64_t>(f);
    }
    const std::vector<std::pair<const FuncInst*, size_t>>& blocks() const { return m_blocks; }

private:
    std::map<const FuncInst*, std::pair<uint64_t, size_t>, std::greater<>> m_by_addr;
    std::vector<std::pair<const FuncInst*, size_t>> m_blocks;
    std::vector<uint64_t> m_starts; ///< the first ordinal of each block
    uint64_t m_total = 0;
};

/// The slots (relative to the frame) that hold references in `f` stopped at `site`, each with
/// whether it is an externref.
template <typename F> void for_each_ref(const FuncCode& code, const SuspendSite& site, F&& fn) {
    auto one = [&](uint32_t x) { fn(x & ~ref_ext_bit, (x & ref_ext_bit) != 0); };
    for (uint32_t x : code.ref_locals)
        one(x);
    for (uint32_t i = site.refs_begin; i < site.refs_end; ++i)
        one(code.site_refs[i]);
}

uint32_t frame_offset(const uint64_t* base, const uint64_t* p) {
    return uint32_t(p - base);
}

/// One frame of a suspended call, as written.
struct Activation {
    uint64_t func;
    uint32_t site;
    uint64_t fp;
};

} // namespace

Result<void> Store::save_image(Writer& w) const {
    const ExecStack& s = m_stack;
    if (s.active_runs)
        return make_error(ErrorKind::usage, "snapshot: a call is running on this store");
    const Impl& impl = *m_impl;
    Ordinals ord(impl);
    uint64_t mem_bytes = 0;
    for (const auto& m : impl.memories)
        mem_bytes += m->size;
    if (!w.borrows()) w.reserve(size_t(std::min<uint64_t>(mem_bytes, uint64_t(1) << 32)) + 4096);

    w.u32(uint32_t(impl.instances.size()));
    for (const auto& inst : impl.instances) {
        const auto& h = inst->compiled->hash;
        w.u64(h[0]);
        w.u64(h[1]);
        w.u64(inst->compiled->code_id);
        w.u8(inst->trapped);
        w.u32(uint32_t(inst->data_dropped.size()));
        for (uint8_t d : inst->data_dropped)
            w.u8(d);
        w.u32(uint32_t(inst->elem_items.size()));
        for (const auto& e : inst->elem_items)
            w.u8(e.empty());
    }
    w.u32(uint32_t(ord.blocks().size()));
    for (const auto& [b, n] : ord.blocks())
        w.u32(uint32_t(n));

    w.u32(uint32_t(impl.memories.size()));
    for (size_t i = 0; i < impl.memories.size(); ++i) {
        const MemoryInst& m = *impl.memories[i];
        w.u64(m.type.limits.min);
        w.u64(m.pages());
        uint64_t pages = m.pages();
        std::vector<uint32_t> live;
        for (uint64_t p = 0; p < pages; ++p)
            if (!page_is_zero(m.base + p * page_size)) live.push_back(uint32_t(p));
        w.u64(live.size());
        for (uint32_t p : live)
            w.u32(p);
        for (uint32_t p : live)
            w.borrow(m.base + uint64_t(p) * page_size, page_size);
    }

    auto ref_code = [&](uint64_t word, auto&& where) -> Result<uint64_t> {
        auto c = ord.code_of(word);
        if (!c)
            return make_error(ErrorKind::usage,
                              fmt::format("snapshot: {} holds an externref, which cannot be "
                                          "restored elsewhere",
                                          where()));
        return *c;
    };

    w.u32(uint32_t(impl.tables.size()));
    for (size_t i = 0; i < impl.tables.size(); ++i) {
        const TableInst& t = *impl.tables[i];
        w.u8(uint8_t(t.type.elem));
        w.u64(t.elems.size());
        for (size_t k = 0; k < t.elems.size(); ++k) {
            KILN_TRY(
                c, ref_code(t.elems[k], [&] { return fmt::format("table {} element {}", i, k); }));
            w.u64(c);
        }
    }

    w.u32(uint32_t(impl.globals.size()));
    for (size_t i = 0; i < impl.globals.size(); ++i) {
        const GlobalInst& g = *impl.globals[i];
        w.u8(uint8_t(g.type.type));
        w.u8(g.type.mut);
        if (is_reftype(g.type.type)) {
            KILN_TRY(c, ref_code(g.bits, [&] { return fmt::format("global {}", i); }));
            w.u64(c);
        } else {
            w.u64(g.bits);
            if (g.type.type == ValType::v128) w.u64(g.hi);
        }
    }

    const ExecControl& c = impl.control;
    w.u8(c.fuel_enabled);
    w.u64(c.fuel);

    w.u8(s.suspended.has_value());
    if (s.suspended) {
        const Suspension& susp = *s.suspended;
        if (susp.frames_bottom != s.frames_begin || susp.entry_fp != s.slots_begin)
            return make_error(ErrorKind::usage,
                              "snapshot: the suspended call started inside another call");
        // Activations from the outermost: the callers the frame stack holds, then the
        // innermost function and where it stopped.
        std::vector<std::pair<const FuncInst*, std::pair<const Cell*, uint64_t*>>> acts;
        for (const Frame* f = s.frames_begin + 1; f < susp.fsp; ++f)
            acts.push_back({f->func, {f->ret_pc, f->fp}});
        acts.push_back({susp.cur, {susp.pc, susp.fp}});
        w.u8(uint8_t(susp.reason));
        w.u32(uint32_t(acts.size()));
        std::vector<std::pair<const FuncCode*, const SuspendSite*>> sites;
        for (size_t k = 0; k < acts.size(); ++k) {
            const auto& [f, where] = acts[k];
            const FuncCode* code = f->code;
            uint32_t off = uint32_t(where.first - code->code.data());
            // Callers wait at a call; the innermost at a charge, or at the call of the host
            // function that suspended it.
            const bool at_call = k + 1 < acts.size() || susp.reason == TrapKind::yielded;
            const SuspendSite* site =
                code->site_at(off, at_call ? SuspendSite::Kind::call : SuspendSite::Kind::charge);
            if (!site)
                return make_error(ErrorKind::usage,
                                  "snapshot: a frame is not at a suspension site");
            sites.push_back({code, site});
            w.u64(*ord.ordinal(f));
            w.u32(off);
            w.u64(frame_offset(s.slots_begin, where.second));
        }
        w.u64(susp.host ? *ord.ordinal(susp.host) + 1 : 0);
        uint64_t n = uint64_t(s.slots_free - s.slots_begin);
        std::vector<uint64_t> slots(s.slots_begin, s.slots_free);
        for (size_t k = 0; k < acts.size(); ++k) {
            uint64_t fp = frame_offset(s.slots_begin, acts[k].second.second);
            Result<void> ok;
            for_each_ref(*sites[k].first, *sites[k].second, [&](uint32_t x, bool ext) {
                if (!ok) return;
                uint64_t& v = slots[fp + x];
                auto c = ext && v != 0 ? std::nullopt : ord.code_of(v);
                if (!c)
                    ok = make_error(ErrorKind::usage,
                                    fmt::format("snapshot: frame {} of the suspended call holds "
                                                "an externref, which cannot be restored elsewhere",
                                                k));
                else
                    v = *c;
            });
            KILN_CHECK(ok);
        }
        w.u64(n);
        w.raw(slots.data(), slots.size() * sizeof(uint64_t));
    }
    return {};
}

Result<void> Store::load_image(std::span<const uint8_t> image) {
    ExecStack& s = m_stack;
    if (s.active_runs)
        return make_error(ErrorKind::usage, "restore: a call is running on this store");
    if (s.suspended)
        return make_error(ErrorKind::usage,
                          "restore: this store holds a suspended call (drop it first)");
    Impl& impl = *m_impl;
    Ordinals ord(impl);
    Reader r(image);
    std::string where = "the header";
    auto trunc = [&](const Error&) {
        return corrupt(fmt::format("store section truncated or malformed in {}", where));
    };
#define SNAP_READ(var, expr)                                                                       \
    auto var##_r = (expr);                                                                         \
    if (!var##_r) return trunc(var##_r.error());                                                   \
    auto var = *var##_r

    // ---- read and check everything first
    struct InstState {
        bool trapped;
        std::vector<uint8_t> data_dropped, elem_dropped;
    };
    where = "the instances";
    SNAP_READ(ninst, r.u32_fixed());
    if (ninst != impl.instances.size())
        return mismatch(
            fmt::format("it has {} instances, this store {}", ninst, impl.instances.size()));
    std::vector<InstState> insts(ninst);
    for (uint32_t i = 0; i < ninst; ++i) {
        where = fmt::format("instance {}", i);
        const Instance& inst = *impl.instances[i];
        SNAP_READ(h0, r.u64_fixed());
        SNAP_READ(h1, r.u64_fixed());
        if (h0 != inst.compiled->hash[0] || h1 != inst.compiled->hash[1])
            return mismatch(fmt::format("instance {} was made from another module (module hash "
                                        "{:016x}{:016x}, here {:016x}{:016x})",
                                        i, h0, h1, inst.compiled->hash[0], inst.compiled->hash[1]));
        SNAP_READ(code_id, r.u64_fixed());
        if (code_id != inst.compiled->code_id)
            return mismatch(fmt::format("instance {} was compiled by a Kiln that lowers code "
                                        "differently (code id {:016x}, here {:016x}): frames "
                                        "cannot move between them",
                                        i, code_id, inst.compiled->code_id));
        SNAP_READ(trapped, r.u8());
        insts[i].trapped = trapped != 0;
        SNAP_READ(nd, r.u32_fixed());
        if (nd != inst.data_dropped.size())
            return mismatch(fmt::format("{}: data segments", where));
        SNAP_READ(dd, r.bytes(nd));
        insts[i].data_dropped.assign(dd.begin(), dd.end());
        SNAP_READ(ne, r.u32_fixed());
        if (ne != inst.elem_items.size())
            return mismatch(fmt::format("{}: element segments", where));
        SNAP_READ(ed, r.bytes(ne));
        insts[i].elem_dropped.assign(ed.begin(), ed.end());
    }

    where = "the function table";
    SNAP_READ(nblocks, r.u32_fixed());
    if (nblocks != ord.blocks().size())
        return mismatch(fmt::format("it has {} groups of functions, this store {} (build the store "
                                    "the same way: same modules, same host functions, same order)",
                                    nblocks, ord.blocks().size()));
    for (uint32_t i = 0; i < nblocks; ++i) {
        SNAP_READ(n, r.u32_fixed());
        if (n != ord.blocks()[i].second)
            return mismatch(fmt::format("function group {} has {} functions, here {}", i, n,
                                        ord.blocks()[i].second));
    }

    struct MemState {
        uint64_t pages;
        std::vector<uint32_t> live;
        const uint8_t* bytes;
    };
    where = "the memories";
    SNAP_READ(nmem, r.u32_fixed());
    if (nmem != impl.memories.size())
        return mismatch(
            fmt::format("it has {} memories, this store {}", nmem, impl.memories.size()));
    std::vector<MemState> mems(nmem);
    uint64_t grow_bytes = 0;
    for (uint32_t i = 0; i < nmem; ++i) {
        where = fmt::format("memory {}", i);
        const MemoryInst& m = *impl.memories[i];
        SNAP_READ(min, r.u64_fixed());
        SNAP_READ(pages, r.u64_fixed());
        if (min != m.type.limits.min) return mismatch(fmt::format("{} has another type", where));
        if (pages < m.pages() || pages > m.reserved / page_size ||
            (m.type.limits.max && pages > *m.type.limits.max))
            return mismatch(fmt::format("{} has {} pages, which this store's memory of {} pages "
                                        "(at most {}) cannot take",
                                        where, pages, m.pages(), m.reserved / page_size));
        grow_bytes += (pages - m.pages()) * page_size;
        SNAP_READ(nlive, r.u64_fixed());
        if (nlive > pages || nlive > r.remaining() / 4)
            return trunc(Error{ErrorKind::malformed, "", nullptr});
        mems[i].pages = pages;
        mems[i].live.resize(nlive);
        for (uint64_t k = 0; k < nlive; ++k) {
            SNAP_READ(p, r.u32_fixed());
            if (p >= pages || (k && p <= mems[i].live[k - 1]))
                return corrupt(fmt::format("{}: page list out of order", where));
            mems[i].live[k] = p;
        }
        if (nlive * page_size > r.remaining()) return trunc(Error{});
        mems[i].bytes = r.current();
        if (!r.skip(nlive * page_size)) return trunc(Error{});
    }
    if (grow_bytes > impl.limiter.memory_bytes_max - impl.limiter.memory_bytes_used)
        return make_error(ErrorKind::limit,
                          fmt::format("restore: the snapshot's memories need {} more bytes than "
                                      "the store's memory limit allows",
                                      grow_bytes));

    struct TableState {
        std::vector<uint64_t> elems;
    };
    where = "the tables";
    SNAP_READ(ntab, r.u32_fixed());
    if (ntab != impl.tables.size())
        return mismatch(fmt::format("it has {} tables, this store {}", ntab, impl.tables.size()));
    std::vector<TableState> tabs(ntab);
    uint64_t grow_elems = 0;
    for (uint32_t i = 0; i < ntab; ++i) {
        where = fmt::format("table {}", i);
        const TableInst& t = *impl.tables[i];
        SNAP_READ(elem, r.u8());
        SNAP_READ(size, r.u64_fixed());
        if (elem != uint8_t(t.type.elem))
            return mismatch(fmt::format("{} has another type", where));
        if (size < t.elems.size() || (t.type.limits.max && size > *t.type.limits.max) ||
            size > max_table_elems || size > r.remaining() / 8)
            return mismatch(
                fmt::format("{} has {} elements, this one {}", where, size, t.elems.size()));
        grow_elems += size - t.elems.size();
        tabs[i].elems.resize(size);
        for (uint64_t k = 0; k < size; ++k) {
            SNAP_READ(code, r.u64_fixed());
            // Only null can be an externref: save refuses any other, and a function put there
            // would reach the host as a forged host value.
            if (t.type.elem == ValType::externref && code != no_func)
                return corrupt(
                    fmt::format("{} element {} is an externref that is not null", where, k));
            auto word = ord.word_of(code);
            if (!word) return corrupt(fmt::format("{} element {} names no function", where, k));
            tabs[i].elems[k] = *word;
        }
    }
    if (grow_elems > impl.limiter.table_elems_max - impl.limiter.table_elems_used)
        return make_error(ErrorKind::limit, "restore: the snapshot's tables exceed the store's "
                                            "table limit");

    where = "the globals";
    SNAP_READ(nglob, r.u32_fixed());
    if (nglob != impl.globals.size())
        return mismatch(
            fmt::format("it has {} globals, this store {}", nglob, impl.globals.size()));
    std::vector<uint64_t> globs(nglob), globs_hi(nglob);
    for (uint32_t i = 0; i < nglob; ++i) {
        where = fmt::format("global {}", i);
        const GlobalInst& g = *impl.globals[i];
        SNAP_READ(type, r.u8());
        SNAP_READ(mut, r.u8());
        if (type != uint8_t(g.type.type) || bool(mut) != g.type.mut)
            return mismatch(fmt::format("{} has another type", where));
        SNAP_READ(bits, r.u64_fixed());
        if (g.type.type == ValType::v128) {
            SNAP_READ(hi, r.u64_fixed());
            globs_hi[i] = hi;
        }
        if (g.type.type == ValType::externref && bits != no_func)
            return corrupt(fmt::format("{} is an externref that is not null", where));
        if (is_reftype(g.type.type)) {
            auto word = ord.word_of(bits);
            if (!word) return corrupt(fmt::format("{} names no function", where));
            bits = *word;
        }
        // A store built the same way has the same constants; another value means another
        // import (or a forged one), which code compiled against this store may have folded in.
        if (!g.type.mut && (bits != g.bits || globs_hi[i] != g.hi))
            return mismatch(fmt::format("{} is immutable and has another value here", where));
        globs[i] = bits;
    }

    where = "the fuel";
    SNAP_READ(fuel_enabled, r.u8());
    SNAP_READ(fuel, r.u64_fixed());

    where = "the suspended call";
    SNAP_READ(has_susp, r.u8());
    std::optional<Suspension> susp;
    std::vector<uint64_t> slots;
    std::vector<Frame> frames;
    if (has_susp) {
        SNAP_READ(reason_u8, r.u8());
        auto reason = TrapKind(reason_u8);
        if (reason != TrapKind::out_of_fuel && reason != TrapKind::interrupted &&
            reason != TrapKind::yielded)
            return corrupt("the suspended call has an unknown reason");
        SNAP_READ(nact, r.u32_fixed());
        if (nact == 0 || nact > uint64_t(s.frames_end - s.frames_begin))
            return mismatch(fmt::format("the suspended call has {} frames, more than this store's "
                                        "call depth allows",
                                        nact));
        std::vector<Activation> acts(nact);
        std::vector<FuncInst*> funcs(nact);
        std::vector<const SuspendSite*> sites(nact);
        uint64_t max_slots = uint64_t(s.slots_end - s.slots_begin);
        for (uint32_t k = 0; k < nact; ++k) {
            where = fmt::format("frame {} of the suspended call", k);
            SNAP_READ(fo, r.u64_fixed());
            SNAP_READ(off, r.u32_fixed());
            SNAP_READ(fp, r.u64_fixed());
            acts[k] = {fo, off, fp};
            FuncInst* f = ord.func(fo);
            if (!f || !f->code) return corrupt(fmt::format("{} names no wasm function", where));
            bool innermost = k + 1 == nact;
            bool want_call = !innermost || reason == TrapKind::yielded;
            using Kind = SuspendSite::Kind;
            const SuspendSite* site = f->code->site_at(off, want_call ? Kind::call : Kind::charge);
            if (!site) {
                if (f->code->site_at(off, want_call ? Kind::charge : Kind::call))
                    return corrupt(fmt::format("{} stopped at the wrong kind of point", where));
                return corrupt(fmt::format("{} is not at a suspension point", where));
            }
            if (k == 0 ? fp != 0 : fp != acts[k - 1].fp + sites[k - 1]->base)
                return corrupt(fmt::format("{} is not where its caller put it", where));
            if (fp + f->code->frame_size > max_slots)
                return mismatch(fmt::format("{} lies past this store's stack", where));
            funcs[k] = f;
            sites[k] = site;
        }
        // Each caller must be calling the next frame's function, or one that function reached
        // by tail calls, which has the same results (the validator requires it), so the caller
        // finds in its slots what it expects. Only a host function returns to a tail call.
        auto callee_ok = [&](FuncInst* caller, const SuspendSite* site, FuncInst* callee) {
            const Cell* call = caller->code->code.data() + site->offset;
            // The call instruction ends at the site: (Return)Call is 2 cells,
            // (Return)CallIndirect 3.
            const void* const* h = interp_handlers();
            const Cell* c2 = call - 2;
            const Cell* c3 = call - 3;
            const auto word = [](const Cell* c, int k) {
                return reinterpret_cast<const uint32_t*>(c + 1)[k];
            };
            const std::vector<ValType>& results = callee->type->results;
            if (site->offset >= 2 && word(c2, 1) == site->base) {
                const FuncInst* target = caller->instance->funcs[word(c2, 0)];
                if (c2->handler == h[size_t(IOp::Call)])
                    return target == callee || (callee->code && target->type->results == results);
                if (c2->handler == h[size_t(IOp::ReturnCall)])
                    return !callee->code && target == callee;
            }
            if (site->offset >= 3 && word(c3, 2) == site->base) {
                const uint32_t type_id = word(c3, 0);
                if (c3->handler == h[size_t(IOp::CallIndirect)]) {
                    if (callee->type_id == type_id) return true;
                    // A tail callee: the results of the call's type, found in the caller's module.
                    const CompiledModule& cm = *caller->instance->compiled;
                    auto it = std::find(cm.type_ids.begin(), cm.type_ids.end(), type_id);
                    return callee->code && it != cm.type_ids.end() &&
                           cm.module->types[size_t(it - cm.type_ids.begin())].results == results;
                }
                if (c3->handler == h[size_t(IOp::ReturnCallIndirect)])
                    return !callee->code && callee->type_id == type_id;
            }
            return false;
        };
        for (uint32_t k = 0; k + 1 < nact; ++k)
            if (!callee_ok(funcs[k], sites[k], funcs[k + 1]))
                return corrupt(fmt::format("frame {} does not call frame {}", k, k + 1));
        where = "the suspended call";
        SNAP_READ(host_code, r.u64_fixed());
        FuncInst* host = nullptr;
        uint64_t top;
        const Activation& last = acts.back();
        if (reason == TrapKind::yielded) {
            host = host_code ? ord.func(host_code - 1) : nullptr;
            if (!host || host->code)
                return corrupt("the suspended call names no host function that suspended it");
            if (!callee_ok(funcs.back(), sites.back(), host))
                return corrupt("the innermost frame does not call the host function");
            top = last.fp + sites.back()->base + std::max(host->num_params, host->num_results);
        } else {
            if (host_code) return corrupt("a host function named for a call it did not suspend");
            top = last.fp + funcs.back()->code->frame_size;
        }
        if (top > max_slots) return mismatch("the suspended call's values exceed the stack");
        SNAP_READ(nslots, r.u64_fixed());
        if (nslots != top)
            return corrupt(fmt::format("the suspended call has {} values where its frames need {}",
                                       nslots, top));
        if (nslots > r.remaining() / 8) return trunc(Error{});
        slots.resize(nslots);
        std::memcpy(slots.data(), r.current(), nslots * 8);
        if (!r.skip(nslots * 8)) return trunc(Error{});
        for (uint32_t k = 0; k < nact; ++k) {
            const char* bad = nullptr;
            for_each_ref(*funcs[k]->code, *sites[k], [&](uint32_t x, bool ext) {
                uint64_t& v = slots[acts[k].fp + x];
                // Only null can be an externref: save refuses any other, and a function put
                // there would reach host code as host data.
                if (ext && v != no_func) {
                    bad = "an externref that is not null";
                    return;
                }
                auto word = ord.word_of(v);
                if (!word)
                    bad = "a reference to no function";
                else
                    v = *word;
            });
            if (bad) return corrupt(fmt::format("frame {} holds {}", k, bad));
        }
        FuncInst* entry = funcs.front();
        uint64_t* base = s.slots_begin;
        frames.push_back(Frame{nullptr, base, entry});
        for (uint32_t k = 0; k + 1 < nact; ++k)
            frames.push_back(
                Frame{funcs[k]->code->code.data() + acts[k].site, base + acts[k].fp, funcs[k]});
        Suspension sp;
        sp.pc = funcs.back()->code->code.data() + last.site;
        sp.fp = base + last.fp;
        sp.cur = funcs.back();
        sp.entry = entry;
        sp.entry_fp = base;
        sp.reason = reason;
        sp.host = host;
        sp.host_slots = host ? base + last.fp + sites.back()->base : nullptr;
        susp = sp;
    }
    if (!r.at_end()) return corrupt("bytes after the end of the store section");
#undef SNAP_READ

    // ---- everything checked: apply
    for (uint32_t i = 0; i < ninst; ++i) {
        Instance& inst = *impl.instances[i];
        inst.trapped = insts[i].trapped;
        for (size_t k = 0; k < inst.data_dropped.size(); ++k)
            inst.data_dropped[k] = insts[i].data_dropped[k] != 0;
        for (size_t k = 0; k < inst.elem_items.size(); ++k)
            if (insts[i].elem_dropped[k]) inst.elem_items[k] = {};
        // A segment restored as not dropped keeps the items instantiation gave it.
    }
    for (uint32_t i = 0; i < nmem; ++i) {
        MemoryInst& m = *impl.memories[i];
        if (mems[i].pages > m.pages() && m.grow(mems[i].pages - m.pages()) < 0)
            return make_error(ErrorKind::limit, fmt::format("restore: memory {} cannot grow", i));
        std::memset(m.base, 0, m.size);
        const uint8_t* src = mems[i].bytes;
        for (uint32_t p : mems[i].live) {
            std::memcpy(m.base + uint64_t(p) * page_size, src, page_size);
            src += page_size;
        }
    }
    for (uint32_t i = 0; i < ntab; ++i) {
        TableInst& t = *impl.tables[i];
        if (tabs[i].elems.size() > t.elems.size() &&
            t.grow(tabs[i].elems.size() - t.elems.size(), 0) < 0)
            return make_error(ErrorKind::limit, fmt::format("restore: table {} cannot grow", i));
        t.elems = std::move(tabs[i].elems);
    }
    for (uint32_t i = 0; i < nglob; ++i) {
        impl.globals[i]->bits = globs[i];
        impl.globals[i]->hi = globs_hi[i];
    }
    impl.control.fuel_enabled = fuel_enabled != 0;
    impl.control.fuel = fuel;
    if (susp) {
        std::memcpy(s.slots_begin, slots.data(), slots.size() * 8);
        std::copy(frames.begin(), frames.end(), s.frames_begin);
        susp->frames_bottom = s.frames_begin;
        susp->fsp = s.frames_begin + frames.size();
        s.slots_free = s.slots_begin + slots.size();
        s.frames_free = susp->fsp;
        s.trap = Trap{susp->reason, "restored suspended call", {}};
        s.suspended = susp;
    }
    return {};
}

} // namespace kiln::engine
