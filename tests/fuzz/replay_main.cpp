// A libFuzzer target's entry point without libFuzzer, so that every build (g++ included) runs
// it as a CTest: over each file given (a corpus directory, a crash to replay), then over
// deterministic mutations of those files. A finding aborts, as under libFuzzer.
//
//   kiln-NAME-fuzz-replay [--mutations N] [--seed S] FILE|DIR...
#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "fuzz replay: %s\nusage: REPLAY [--mutations N] [--seed S] FILE|DIR...\n",
                 why);
    std::exit(2);
}

Bytes read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) usage(("cannot read " + path.string()).c_str());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const Bytes& input) {
    LLVMFuzzerTestOneInput(input.data(), input.size());
}

/// One to four edits of `in`: a byte changed, a byte inserted or removed, a range repeated,
/// or the tail replaced by another input's.
Bytes mutate(Bytes in, const Bytes& other, std::mt19937_64& rng) {
    static constexpr uint8_t interesting[] = {0,   1,   0x7f, 0x80, 0xff, '\n',
                                              '"', '[', '{',  '/',  '.'};
    for (int edits = 1 + int(rng() % 4); edits > 0; --edits) {
        size_t at = in.empty() ? 0 : rng() % in.size();
        switch (rng() % 6) {
        case 0:
            if (!in.empty()) in[at] ^= uint8_t(1u << (rng() % 8));
            break;
        case 1:
            if (!in.empty()) in[at] = interesting[rng() % std::size(interesting)];
            break;
        case 2: in.insert(in.begin() + long(at), uint8_t(rng())); break;
        case 3:
            if (!in.empty()) in.erase(in.begin() + long(at));
            break;
        case 4: {
            size_t n = std::min<size_t>(in.size() - at, 1 + rng() % 16);
            Bytes piece(in.begin() + long(at), in.begin() + long(at + n));
            in.insert(in.begin() + long(at), piece.begin(), piece.end());
            break;
        }
        default: {
            size_t from = other.empty() ? 0 : rng() % other.size();
            in.resize(at);
            in.insert(in.end(), other.begin() + long(from), other.end());
        }
        }
    }
    return in;
}

} // namespace

int main(int argc, char** argv) {
    uint64_t mutations = 0, seed = 1;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--mutations" && i + 1 < argc)
            mutations = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--seed" && i + 1 < argc)
            seed = std::strtoull(argv[++i], nullptr, 10);
        else if (a.starts_with("--"))
            usage(("unknown option " + a).c_str());
        else if (fs::is_directory(a))
            for (const auto& e : fs::directory_iterator(a))
                files.push_back(e.path());
        else
            files.emplace_back(a);
    }
    // A corpus that went missing must fail the test, not pass it with nothing run.
    if (files.empty()) usage("no input files");
    std::sort(files.begin(), files.end()); // directory order is not deterministic
    std::vector<Bytes> inputs;
    for (const fs::path& f : files) {
        inputs.push_back(read_file(f));
        run(inputs.back());
    }
    std::mt19937_64 rng(seed);
    for (uint64_t i = 0; i < mutations; ++i)
        run(mutate(inputs[rng() % inputs.size()], inputs[rng() % inputs.size()], rng));
    std::printf("%zu files and %" PRIu64 " mutations of them (seed %" PRIu64 ") ran cleanly\n",
                inputs.size(), mutations, seed);
    return 0;
}
