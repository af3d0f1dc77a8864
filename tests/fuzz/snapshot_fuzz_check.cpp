// The snapshot fuzzer's entry point without libFuzzer, so every build exercises it: over the
// seeds, over any files given (a crash to replay, a corpus directory), and over deterministic
// mutations of the seeds. Mutations of the encoded bytes (flips, truncations, splices) must all
// be refused, by the checksum if nothing else, unless they decode to exactly the seed's
// sections (zstd ignores a few bits of its frame header); mutations of the store section, encoded
// again with a valid checksum, reach Store::restore and may go either way, but never crash, never
// half-restore, and a restored store resumes without crashing (see restore_snapshot).
//
//   kiln-snapshot-fuzz-check [--mutations N] [--seed S] [FILE|DIR...]
//   kiln-snapshot-fuzz-check --write DIR     writes the seeds to DIR, for the libFuzzer target
#include "snapshot_fuzz.hpp"

#include "base/file.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using kiln::fuzz::SnapshotOutcome;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "kiln-snapshot-fuzz-check: %s\n", what.c_str());
    std::exit(1);
}

Bytes read_file(const fs::path& path) {
    auto bytes = kiln::read_file(path);
    if (!bytes) die(bytes.error().message);
    return std::move(*bytes);
}

int write_seeds(const fs::path& dir) {
    fs::create_directories(dir);
    auto seeds = kiln::fuzz::snapshot_seeds();
    for (const auto& [name, bytes] : seeds) {
        std::ofstream out(dir / (name + ".snap"), std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        if (!out) die("cannot write " + (dir / name).string());
    }
    std::printf("%zu snapshot seeds written to %s\n", seeds.size(), dir.c_str());
    return 0;
}

/// A mutation of a store image: a byte changed, a number planted, a range cut, copied or
/// spliced from another image.
Bytes mutate_image(const Bytes& image, const Bytes& other, std::mt19937_64& rng) {
    Bytes out = image;
    auto at = [&](size_t n) { return kiln::fuzz::image_offset(n, rng(), rng()); };
    static constexpr uint64_t interesting[] = {0,          1,          2,          0x7f,
                                               0x80,       0xff,       0xffff,     0x10000,
                                               0x7fffffff, 0xffffffff, 1ull << 32, (1ull << 48) + 1,
                                               1ull << 63, ~0ull,      ~0ull - 1};
    switch (rng() % 7) {
    case 0: // flip one byte
        if (!out.empty()) out[at(out.size())] ^= uint8_t(1 + rng() % 255);
        break;
    case 1: { // plant a number, 1 to 8 bytes wide
        uint64_t v = interesting[rng() % std::size(interesting)];
        size_t width = std::size_t(1) << (rng() % 4);
        if (out.size() >= width) std::memcpy(out.data() + at(out.size() - width + 1), &v, width);
        break;
    }
    case 2: // truncate
        out.resize(at(out.size()));
        break;
    case 3: { // delete a range
        size_t from = at(out.size()), n = at(std::min<size_t>(out.size() - from, 64) + 1);
        out.erase(out.begin() + long(from), out.begin() + long(from + n));
        break;
    }
    case 4: { // duplicate a range
        size_t from = at(out.size()), n = at(std::min<size_t>(out.size() - from, 64) + 1);
        Bytes piece(out.begin() + long(from), out.begin() + long(from + n));
        out.insert(out.begin() + long(at(out.size() + 1)), piece.begin(), piece.end());
        break;
    }
    case 5: { // splice: this image's head, the other's tail
        size_t cut = at(out.size() + 1), from = at(other.size() + 1);
        out.resize(cut);
        out.insert(out.end(), other.begin() + long(from), other.end());
        break;
    }
    default: // a byte of the other image at the same place
        if (!out.empty() && !other.empty()) {
            size_t i = at(std::min(out.size(), other.size()));
            out[i] = other[i];
        }
        break;
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    uint32_t mutations = 4000;
    uint64_t seed = 1;
    std::vector<std::pair<std::string, Bytes>> inputs;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--write" && i + 1 < argc) return write_seeds(argv[i + 1]);
        if (a == "--mutations" && i + 1 < argc)
            mutations = uint32_t(std::stoul(argv[++i]));
        else if (a == "--seed" && i + 1 < argc)
            seed = std::stoull(argv[++i]);
        else if (fs::is_directory(a))
            for (const auto& e : fs::directory_iterator(a))
                inputs.emplace_back(e.path().string(), read_file(e.path()));
        else
            inputs.emplace_back(a, read_file(a));
    }
    // Files given (a crash to replay, a corpus) must not crash; they may go either way.
    for (const auto& [name, bytes] : inputs)
        (void)kiln::fuzz::restore_snapshot(bytes);
    if (!inputs.empty()) std::printf("%zu files replayed\n", inputs.size());

    auto seeds = kiln::fuzz::snapshot_seeds();
    uint32_t passed = 0, failed = 0;
    for (const auto& [name, bytes] : seeds) {
        if (kiln::fuzz::restore_snapshot(bytes) == SnapshotOutcome::restored) {
            ++passed;
            continue;
        }
        ++failed;
        std::printf("FAIL: seed %s does not restore\n", name.c_str());
    }

    // Mutations of the encoded bytes: all refused.
    std::mt19937_64 rng(seed);
    auto is_seed = [&](const Bytes& b) {
        for (const auto& s : seeds)
            if (s.second == b) return true;
        return false;
    };
    auto same_sections = [](const Bytes& a, const Bytes& b) {
        auto sa = kiln::Snapshot::decode(a), sb = kiln::Snapshot::decode(b);
        if (!sa || !sb || sa->names() != sb->names()) return false;
        for (const std::string& name : sa->names())
            if (*sa->get(name) != *sb->get(name)) return false;
        return true;
    };
    uint32_t by_decode = 0, by_restore = 0, unchanged = 0;
    auto must_refuse = [&](const Bytes& bytes, const Bytes& from, const std::string& what) {
        if (is_seed(bytes)) return;
        switch (kiln::fuzz::restore_snapshot(bytes)) {
        case SnapshotOutcome::undecodable: ++by_decode, ++passed; break;
        case SnapshotOutcome::refused: ++by_restore, ++passed; break;
        case SnapshotOutcome::restored:
            if (same_sections(bytes, from)) {
                ++unchanged, ++passed;
                break;
            }
            ++failed;
            std::printf("FAIL: %s restored\n", what.c_str());
            break;
        }
    };
    const Bytes& first = seeds[3].second;
    for (size_t i = 0; i < 32 && i < first.size(); ++i)
        for (uint8_t bit : {uint8_t(0x01), uint8_t(0x80)}) {
            Bytes b = first;
            b[i] ^= bit;
            must_refuse(b, first, "header byte " + std::to_string(i) + " flipped");
        }
    uint32_t raw = mutations / 4;
    for (uint32_t i = 0; i < raw; ++i) {
        const Bytes& s = seeds[rng() % seeds.size()].second;
        const Bytes& t = seeds[rng() % seeds.size()].second;
        Bytes b = s;
        std::string what;
        switch (i % 3) {
        case 0:
            b[rng() % b.size()] ^= uint8_t(1 + rng() % 255);
            what = "a flipped byte";
            break;
        case 1:
            b.resize(rng() % b.size());
            what = "a truncation to " + std::to_string(b.size()) + " bytes";
            break;
        default: {
            b.resize(rng() % (b.size() + 1));
            b.insert(b.end(), t.begin() + long(rng() % (t.size() + 1)), t.end());
            what = "a splice";
        }
        }
        must_refuse(b, s, what + " (mutation " + std::to_string(i) + ")");
    }

    // Mutations of the store section, encoded again: either way, but through Store::restore.
    uint32_t restored = 0, refused = 0;
    for (uint32_t i = raw; i < mutations; ++i) {
        auto snap = kiln::Snapshot::decode(seeds[rng() % seeds.size()].second);
        auto other = kiln::Snapshot::decode(seeds[rng() % seeds.size()].second);
        if (!snap || !other) die("a seed does not decode");
        snap->set("store", mutate_image(*snap->get("store"), *other->get("store"), rng));
        auto bytes = snap->encode();
        if (!bytes) die(bytes.error().message);
        switch (kiln::fuzz::restore_snapshot(*bytes)) {
        case SnapshotOutcome::restored: ++restored; break;
        case SnapshotOutcome::refused: ++refused; break;
        case SnapshotOutcome::undecodable: die("a re-encoded snapshot does not decode");
        }
    }
    // Both outcomes must occur, or the mutations are not reaching what they should.
    if (restored && refused)
        ++passed;
    else {
        ++failed;
        std::printf("FAIL: store image mutations all went one way\n");
    }
    std::printf("seed %" PRIu64 ": %zu seeds; %u mutations of the encoded bytes: %u refused by "
                "the container, %u by the store, %u decoded to the same sections; %u mutations "
                "of the store section: %u restored and resumed, %u refused\n",
                seed, seeds.size(), by_decode + by_restore + unchanged, by_decode, by_restore,
                unchanged, mutations - raw, restored, refused);
    std::printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
