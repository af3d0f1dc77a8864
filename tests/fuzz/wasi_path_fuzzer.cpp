// libFuzzer target for WASI path resolution (src/wasi/fs.cpp): the guest paths every WASI call
// resolves under a preopen, through open_beneath and resolve_parent. The preopen is a directory
// tree made once per process, holding symlinks of every kind that could lead out (`..`,
// absolute, to a sibling directory with a secret, chained, looping, dangling) next to ones that
// stay inside. Whatever the path, resolution must not crash, and whatever it opens must lie
// inside the preopen: the descriptor's path (/proc/self/fd) is checked, and so is the object an
// ordinary open of the same path reaches, where resolve_parent vouches for the whole path.
//
// The first input byte picks the call and its flags, the rest is the path. Built with
// -DKILN_FUZZ=ON under clang (see docs/testing.md); kiln-wasi-path-fuzz-replay runs the same
// entry point over the corpus in every build.
#include "wasi/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace {

namespace fs = std::filesystem;
using kiln::wasi::UniqueFd;

[[noreturn]] void finding(const std::string& what, std::string_view path) {
    std::string shown;
    for (unsigned char c : path)
        shown += c >= 0x20 && c < 0x7f ? std::string(1, char(c)) : "\\x" + std::to_string(c);
    std::fprintf(stderr, "wasi path fuzzer: %s\npath: \"%s\"\n", what.c_str(), shown.c_str());
    std::abort();
}

/// The tree: base/root is the preopen, base/outside holds what must stay out of reach.
struct Tree {
    fs::path base, root;
    UniqueFd root_fd;

    Tree() {
        std::string pattern = (fs::temp_directory_path() / "kiln-wasi-path-fuzz-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) {
            std::perror("wasi path fuzzer: mkdtemp");
            std::exit(2);
        }
        base = fs::canonical(pattern);
        root = base / "root";
        for (const char* d : {"root/a/b/c", "root/empty", "outside/dir"})
            fs::create_directories(base / d);
        for (const char* f : {"root/file", "root/a/file", "root/a/b/c/file", "outside/secret"})
            std::fclose(std::fopen((base / f).c_str(), "w"));
        const std::pair<const char*, std::string> links[] = {
            {"root/up", ".."},
            {"root/up2", "../.."},
            {"root/abs", "/"},
            {"root/absroot", root.string()},
            {"root/abssecret", (base / "outside/secret").string()},
            {"root/out", "../outside"},
            {"root/secretlink", "../outside/secret"},
            {"root/loop", "loop"},
            {"root/loopa", "loopb"},
            {"root/loopb", "loopa"},
            {"root/inner", "a/b"},
            {"root/dangling", "nowhere"},
            {"root/a/b/back", "../.."},
            {"root/a/b/back2", "../../.."},
            {"root/a/b/upout", "../../../outside"},
            {"root/a/dot", "."},
            {"root/a/self", "../a"},
            {"root/a/chain", "../inner/back/up"},
        };
        for (const auto& [link, target] : links)
            fs::create_symlink(target, base / link);
        root_fd = UniqueFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd.valid()) {
            std::perror("wasi path fuzzer: open root");
            std::exit(2);
        }
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(base, ec);
    }

    /// Whether `fd` names the root or something below it.
    bool inside(int fd) const {
        std::error_code ec;
        fs::path p = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
        if (ec) return false;
        const std::string s = p.string(), r = root.string();
        return s == r || (s.starts_with(r) && s[r.size()] == '/');
    }
};

const Tree& tree() {
    static const Tree t;
    return t;
}

bool same_object(int a, int b) {
    struct stat sa {
    }, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/// An ordinary open of `path` from the root, following what the kernel follows.
UniqueFd plain_open(std::string_view path, int flags) {
    std::string p(path);
    return UniqueFd(::openat(tree().root_fd.get(), p.c_str(), flags | O_CLOEXEC));
}

void check_open(std::string_view path, int flags) {
    auto [fd, e] = kiln::wasi::open_beneath(tree().root_fd.get(), path, flags);
    if (e != kiln::wasi::ok) {
        if (fd.valid()) finding("open_beneath failed but returned a descriptor", path);
        return;
    }
    if (!fd.valid()) finding("open_beneath succeeded without a descriptor", path);
    if (!tree().inside(fd.get())) finding("open_beneath opened something outside", path);
    // What it opened is what the path names: an ordinary open reaches the same object.
    UniqueFd plain = plain_open(path, flags);
    if (!plain.valid() || !same_object(fd.get(), plain.get()))
        finding("open_beneath opened another object than the path names", path);
}

void check_parent(std::string_view path) {
    auto [p, e] = kiln::wasi::resolve_parent(tree().root_fd.get(), path);
    if (e != kiln::wasi::ok) return;
    if (!p.parent.valid() || !tree().inside(p.parent.get()))
        finding("resolve_parent gave a parent outside", path);
    if (p.name.empty() || p.name.find('/') != std::string::npos)
        finding("resolve_parent gave the name \"" + p.name + "\"", path);
    if (p.dot != (p.name == "." || p.name == ".."))
        finding("resolve_parent's dot flag is wrong", path);
    if (p.trailing_slash != (path.size() > 1 && path.back() == '/'))
        finding("resolve_parent's trailing_slash flag is wrong", path);
    // With a trailing slash or a dot name it vouches for the whole path, final symlink and all.
    if (p.trailing_slash || p.dot) {
        UniqueFd whole = plain_open(path, O_PATH);
        if (whole.valid() && !tree().inside(whole.get()))
            finding("resolve_parent accepted a path whose whole reaches outside", path);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view path(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 5) {
    case 0: check_open(path, O_PATH); break;
    case 1: check_open(path, O_PATH | O_NOFOLLOW); break;
    case 2: check_open(path, O_PATH | O_DIRECTORY); break;
    case 3: check_open(path, O_RDONLY); break;
    default: check_parent(path); break;
    }
    return 0;
}
