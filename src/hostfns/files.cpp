// The files family: read, write, list and stat under the path prefixes a plugin was granted,
// read-only unless granted rw. A path is checked by the manager's allows() (no `..`, under a
// granted prefix), then opened by the kernel below the granted folder (openat2 with
// RESOLVE_BENEATH, as WASI opens its paths), so no symlink leads out of it.
#include "hostfns/families.hpp"
#include "wasi/fs.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace kiln::hostfns {

namespace {

using wasi::UniqueFd;

std::string errno_text(wasi::Errno e) {
    switch (e) {
    case wasi::enoent: return "no such file or directory";
    case wasi::enotcapable: return "it leads out of its granted folder";
    case wasi::eisdir: return "it is a directory";
    case wasi::enotdir: return "not a directory";
    case wasi::eacces:
    case wasi::eperm: return "permission denied by the system";
    case wasi::eloop: return "too many symbolic links";
    case wasi::enametoolong: return "the path is too long";
    case wasi::enotsup: return "confined opening needs Linux 5.6 or later (openat2)";
    case wasi::einval: return "the path holds a NUL";
    case wasi::enospc: return "no space left";
    default: return fmt::format("WASI errno {}", int(e));
    }
}

tl::unexpected<Error> file_error(std::string_view function, std::string_view path,
                                 const std::string& why, ErrorKind kind = ErrorKind::io) {
    return make_error(kind, fmt::format("{}: {}: {}", function, path, why));
}

/// An open folder a path was granted under, and the path below it.
struct Located {
    UniqueFd root;
    std::string rest; ///< "." for the granted path itself
    bool root_is_file = false;
};

Result<Located> locate(HostContext& ctx, std::string_view function, std::string_view path,
                       Permission permission) {
    if (path.empty()) return bad_request(function, "the path is empty");
    if (path.find('\0') != std::string_view::npos)
        return bad_request(function, "the path holds a NUL");
    if (auto ok = ctx.check(permission, path); !ok) return tl::unexpected(ok.error());
    const auto now = ctx.permissions();
    const Permissions& granted = *now;
    const Permissions::Path* grant = nullptr;
    for (const Permissions::Path& p : granted.filesystem) {
        Permissions one;
        one.filesystem = {p};
        if (allows(one, permission, path)) {
            grant = &p;
            break;
        }
    }
    if (!grant) return file_error(function, path, "no grant covers it", ErrorKind::denied);
    namespace fs = std::filesystem;
    const fs::path prefix = fs::path(grant->prefix).lexically_normal();
    const fs::path root = prefix.is_absolute() ? prefix : fs::path(ctx.folder()) / prefix;
    // The path below the prefix: allows() said the path is the prefix or goes on below it.
    fs::path rest = fs::path(path).lexically_normal().lexically_relative(prefix);
    if (rest.empty()) rest = ".";
    Located out;
    out.rest = rest.string();
    int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOTDIR) {
        // The grant names a file: open it from its folder, and never through a symlink.
        fd = ::open(root.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        out.rest = root.filename().string();
        out.root_is_file = true;
    }
    if (fd < 0)
        return file_error(function, path,
                          fmt::format("its granted folder cannot be opened ({})",
                                      errno_text(wasi::errno_from_host(errno))));
    out.root = UniqueFd(fd);
    return out;
}

Result<UniqueFd> open_located(std::string_view function, std::string_view path, Located& at,
                              int flags, unsigned mode = 0) {
    if (at.root_is_file) flags |= O_NOFOLLOW;
    auto [fd, e] = wasi::open_beneath(at.root.get(), at.rest, flags, mode);
    if (e != wasi::ok)
        return file_error(function, path, errno_text(e),
                          e == wasi::enotcapable ? ErrorKind::denied : ErrorKind::io);
    return std::move(fd);
}

const char* type_of(mode_t mode) {
    if (S_ISREG(mode)) return "file";
    if (S_ISDIR(mode)) return "directory";
    if (S_ISLNK(mode)) return "symlink";
    return "other";
}

json stat_json(const struct stat& st) {
    return json{{"type", type_of(st.st_mode)},
                {"size", uint64_t(st.st_size)},
                {"modified", int64_t(st.st_mtim.tv_sec)}};
}

} // namespace

Result<std::string> file_read(HostContext& ctx, std::string_view path) {
    auto at = locate(ctx, "file_read", path, Permission::file_read);
    if (!at) return tl::unexpected(at.error());
    auto fd = open_located("file_read", path, *at, O_RDONLY);
    if (!fd) return tl::unexpected(fd.error());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode))
        return file_error("file_read", path, "not a regular file");
    const uint64_t max = ctx.services().options.max_file_bytes;
    if (uint64_t(st.st_size) > max)
        return file_error(
            "file_read", path,
            fmt::format("{} bytes, more than the {} a read may return", st.st_size, max),
            ErrorKind::limit);
    std::string out;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd->get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return file_error("file_read", path, errno_text(wasi::errno_from_host(errno)));
        if (n == 0) break;
        if (out.size() + size_t(n) > max)
            return file_error("file_read", path, "it grew past the size a read may return",
                              ErrorKind::limit);
        out.append(buffer, size_t(n));
    }
    return out;
}

Result<void> file_write(HostContext& ctx, std::string_view path, std::string_view content) {
    auto at = locate(ctx, "file_write", path, Permission::file_write);
    if (!at) return tl::unexpected(at.error());
    auto fd = open_located("file_write", path, *at, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!fd) return tl::unexpected(fd.error());
    while (!content.empty()) {
        ssize_t n = ::write(fd->get(), content.data(), content.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return file_error("file_write", path, errno_text(wasi::errno_from_host(errno)));
        content.remove_prefix(size_t(n));
    }
    return {};
}

Result<json> file_list(HostContext& ctx, std::string_view path) {
    auto at = locate(ctx, "file_list", path, Permission::file_read);
    if (!at) return tl::unexpected(at.error());
    auto fd = open_located("file_list", path, *at, O_RDONLY | O_DIRECTORY);
    if (!fd) return tl::unexpected(fd.error());
    DIR* dir = ::fdopendir(fd->get());
    if (!dir) return file_error("file_list", path, errno_text(wasi::errno_from_host(errno)));
    const int dfd = fd->release();
    json entries = json::array();
    while (dirent* d = ::readdir(dir)) {
        std::string_view name = d->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        json entry{{"name", std::string(name)}};
        if (::fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) entry.update(stat_json(st));
        entries.push_back(std::move(entry));
    }
    ::closedir(dir);
    std::sort(entries.begin(), entries.end(), [](const json& a, const json& b) {
        return a["name"].get_ref<const std::string&>() < b["name"].get_ref<const std::string&>();
    });
    return json{{"entries", std::move(entries)}};
}

Result<json> file_stat(HostContext& ctx, std::string_view path) {
    auto at = locate(ctx, "file_stat", path, Permission::file_read);
    if (!at) return tl::unexpected(at.error());
    auto fd = open_located("file_stat", path, *at, O_PATH);
    if (!fd) return tl::unexpected(fd.error());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0)
        return file_error("file_stat", path, errno_text(wasi::errno_from_host(errno)));
    return stat_json(st);
}

} // namespace kiln::hostfns
