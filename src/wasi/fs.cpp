#include "wasi/fs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kiln::wasi {

void UniqueFd::reset(int fd) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
}

Errno errno_from_host(int e) {
    switch (e) {
    case 0: return ok;
    case E2BIG: return e2big;
    case EACCES: return eacces;
    case EAGAIN: return eagain;
    case EBADF: return ebadf;
    case EBUSY: return ebusy;
    case EEXIST: return eexist;
    case EFAULT: return efault;
    case EFBIG: return efbig;
    case EINTR: return eintr;
    case EINVAL: return einval;
    case EIO: return eio;
    case EISDIR: return eisdir;
    case ELOOP: return eloop;
    case EMFILE: return emfile;
    case EMLINK: return emlink;
    case ENAMETOOLONG: return enametoolong;
    case ENFILE: return enfile;
    case ENODEV: return enodev;
    case ENOENT: return enoent;
    case ENOMEM: return enomem;
    case ENOSPC: return enospc;
    case EDQUOT: return enospc;
    case ENOSYS: return enosys;
    case ENOTDIR: return enotdir;
    case ENOTEMPTY: return enotempty;
    case ENOTSOCK: return enotsock;
    case EOPNOTSUPP: return enotsup;
    case ENOTTY: return enotty;
    case ENXIO: return enxio;
    case EOVERFLOW: return eoverflow;
    case EPERM: return eperm;
    case EPIPE: return epipe;
    case ERANGE: return erange;
    case EROFS: return erofs;
    case ESPIPE: return espipe;
    case ETXTBSY: return etxtbsy;
    case EXDEV: return exdev;
    default: return eio;
    }
}

namespace {

constexpr size_t max_path = 4096;

long openat2_call(int dir, const char* path, int flags, unsigned mode) {
    open_how how{};
    how.flags = uint64_t(flags) | O_CLOEXEC;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = syscall(SYS_openat2, dir, path, &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    return fd;
}

} // namespace

Errno check_path(std::string_view path) {
    if (path.size() >= max_path) return enametoolong;
    if (path.find('\0') != std::string_view::npos) return einval;
    return ok;
}

std::pair<UniqueFd, Errno> open_beneath(int dir, std::string_view path, int flags, unsigned mode) {
    if (Errno e = check_path(path); e != ok) return {UniqueFd(), e};
    std::string p(path);
    long fd = openat2_call(dir, p.c_str(), flags, mode);
    if (fd >= 0) return {UniqueFd(int(fd)), ok};
    // EXDEV: the path leaves the directory (`..`, absolute, or through a symlink).
    if (errno == EXDEV) return {UniqueFd(), enotcapable};
    // Without openat2 (Linux before 5.6) nothing below can be checked safely: refuse.
    if (errno == ENOSYS) return {UniqueFd(), enotsup};
    return {UniqueFd(), errno_from_host(errno)};
}

std::pair<ParentAndName, Errno> resolve_parent(int dir, std::string_view path) {
    ParentAndName out;
    if (Errno e = check_path(path); e != ok) return {std::move(out), e};
    if (path.empty()) return {std::move(out), enoent};
    if (path.front() == '/') return {std::move(out), enotcapable};
    std::string_view p = path;
    while (p.size() > 1 && p.back() == '/') {
        p.remove_suffix(1);
        out.trailing_slash = true;
    }
    size_t slash = p.rfind('/');
    std::string_view parent = slash == std::string_view::npos ? "." : p.substr(0, slash + 1);
    out.name = std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
    out.dot = out.name == "." || out.name == "..";
    auto [fd, e] = open_beneath(dir, parent, O_PATH | O_DIRECTORY);
    if (e != ok) return {std::move(out), e};
    out.parent = std::move(fd);
    if (out.trailing_slash || out.dot) {
        // The kernel follows a final symlink before a trailing slash, and "." / ".." name a
        // directory, maybe the parent of `dir`: the whole path must stay below too.
        auto [whole, we] = open_beneath(dir, path, O_PATH);
        if (we == enotcapable) return {std::move(out), we};
    }
    return {std::move(out), ok};
}

} // namespace kiln::wasi
