// Path resolution confined to a directory descriptor. Every guest path is resolved by the
// kernel with openat2(RESOLVE_BENEATH): `..`, absolute paths and symlinks (however chained, with
// trailing slashes or looping) cannot leave the directory, and the check and the use are one
// step, so no rename racing the check can widen it.
#pragma once

#include "wasi/abi.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace kiln::wasi {

/// An owned host descriptor.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.m_fd, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }
    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    void reset(int fd = -1);
    int release() { return std::exchange(m_fd, -1); }

private:
    int m_fd = -1;
};

/// Opens `path` below `dir` with open(2) `flags` (and `mode` for O_CREAT). Escapes give
/// enotcapable; other failures their errno.
std::pair<UniqueFd, Errno> open_beneath(int dir, std::string_view path, int flags,
                                        unsigned mode = 0);

/// A path split into its parent directory (opened below the base, O_PATH) and its last
/// component, for the operations that take (dirfd, name): mkdirat, unlinkat, renameat,
/// linkat, symlinkat, readlinkat, fstatat.
struct ParentAndName {
    UniqueFd parent;
    std::string name; ///< never empty; "." or ".." only as `dot`
    bool trailing_slash = false;
    bool dot = false; ///< the last component is "." or ".." (no name to act on)
};

/// Splits and resolves `path` below `dir`. A trailing slash also checks that the whole path
/// (following a final symlink) stays below `dir`.
std::pair<ParentAndName, Errno> resolve_parent(int dir, std::string_view path);

/// A guest path read from memory: refuses embedded NULs (einval) and overlong paths.
Errno check_path(std::string_view path);

} // namespace kiln::wasi
