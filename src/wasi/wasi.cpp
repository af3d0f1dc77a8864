// wasi_snapshot_preview1 over Linux. Descriptors carry WASI rights; a read-only preopen hands
// out no writing right to anything below it, so every write, create, remove, rename, link,
// truncate and utime there fails with ENOTCAPABLE before the host is asked. Paths go through
// fs.hpp, which keeps them below their directory.
#include <kiln/func.hpp>
#include <kiln/wasi.hpp>

#include "wasi/abi.hpp"
#include "wasi/fs.hpp"

#include "base/reader.hpp"
#include "base/writer.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <map>
#include <poll.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <time.h>
#include <unistd.h>

namespace kiln {

using namespace wasi;

namespace {

constexpr uint32_t max_fds = 1024;         ///< open descriptors per program
constexpr uint32_t max_iovecs = 1024;      ///< as IOV_MAX
constexpr size_t io_chunk = 1 << 20;       ///< bytes copied per host read/write
constexpr size_t max_buffered = 64u << 20; ///< captured stdout/stderr, each
constexpr auto wait_slice = std::chrono::milliseconds(1);

struct DirEntry {
    uint64_t ino;
    uint8_t type;
    std::string name;
};

struct Fd {
    enum class Type { stream, file, dir } type = Type::file;
    UniqueFd host;   ///< files and directories
    int stream = -1; ///< 0, 1, 2 for the standard streams
    uint8_t filetype = filetype_unknown;
    uint16_t fdflags = 0;
    uint64_t base = 0, inheriting = 0; ///< rights
    std::string preopen;               ///< the guest path, for preopened directories
    bool is_preopen = false;
    bool read_only = false;        ///< below a read-only preopen: nothing opened here may write
    std::vector<DirEntry> listing; ///< fd_readdir's snapshot, taken at cookie 0
};

uint8_t filetype_of(mode_t m) {
    switch (m & S_IFMT) {
    case S_IFREG: return filetype_regular_file;
    case S_IFDIR: return filetype_directory;
    case S_IFLNK: return filetype_symbolic_link;
    case S_IFCHR: return filetype_character_device;
    case S_IFBLK: return filetype_block_device;
    case S_IFSOCK: return filetype_socket_stream;
    default: return filetype_unknown;
    }
}

uint8_t filetype_of_dirent(unsigned char t) {
    switch (t) {
    case DT_REG: return filetype_regular_file;
    case DT_DIR: return filetype_directory;
    case DT_LNK: return filetype_symbolic_link;
    case DT_CHR: return filetype_character_device;
    case DT_BLK: return filetype_block_device;
    case DT_SOCK: return filetype_socket_stream;
    default: return filetype_unknown;
    }
}

uint64_t ns_of(const timespec& t) {
    return uint64_t(t.tv_sec) * 1'000'000'000u + t.tv_nsec;
}

/// Guest memory through the Caller's checked copies; every failure is EFAULT.
struct Mem {
    Caller& c;
    template <typename T> bool put(uint64_t off, T v) { return c.store(off, v); }
    template <typename T> std::optional<T> get(uint64_t off) { return c.load<T>(off); }
    bool write(uint64_t off, const void* p, size_t n) {
        return c.write(off, std::span<const uint8_t>(static_cast<const uint8_t*>(p), n));
    }
    bool read(uint64_t off, void* p, size_t n) {
        return c.read(off, std::span<uint8_t>(static_cast<uint8_t*>(p), n));
    }
    std::optional<std::string> string(uint32_t off, uint32_t len) {
        return c.read_string(off, len);
    }
};

struct Iovec {
    uint32_t buf, len;
};

Errno read_iovecs(Mem& m, uint32_t iovs, uint32_t n, std::vector<Iovec>& out) {
    if (n > max_iovecs) return einval;
    out.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
        auto b = m.get<uint32_t>(uint64_t(iovs) + i * iovec_size);
        auto l = m.get<uint32_t>(uint64_t(iovs) + i * iovec_size + 4);
        if (!b || !l) return efault;
        out[i] = {*b, *l};
        if (uint64_t(*b) + *l > m.c.memory_size()) return efault;
    }
    return ok;
}

Errno write_filestat(Mem& m, uint32_t buf, const struct stat& st) {
    uint8_t out[filestat_size] = {};
    auto put64 = [&](size_t at, uint64_t v) { std::memcpy(out + at, &v, 8); };
    put64(0, st.st_dev);
    put64(8, st.st_ino);
    out[16] = filetype_of(st.st_mode);
    put64(24, st.st_nlink);
    put64(32, uint64_t(st.st_size));
    put64(40, ns_of(st.st_atim));
    put64(48, ns_of(st.st_mtim));
    put64(56, ns_of(st.st_ctim));
    return m.write(buf, out, sizeof out) ? ok : efault;
}

/// WASI times and flags to utimensat's.
Errno to_timespecs(uint64_t atim, uint64_t mtim, uint16_t flags, timespec ts[2]) {
    if (((flags & fst_atim) && (flags & fst_atim_now)) ||
        ((flags & fst_mtim) && (flags & fst_mtim_now)))
        return einval;
    auto one = [](uint64_t t, bool set, bool now, timespec& out) {
        if (now)
            out = {0, UTIME_NOW};
        else if (set)
            out = {time_t(t / 1'000'000'000u), long(t % 1'000'000'000u)};
        else
            out = {0, UTIME_OMIT};
    };
    one(atim, flags & fst_atim, flags & fst_atim_now, ts[0]);
    one(mtim, flags & fst_mtim, flags & fst_mtim_now, ts[1]);
    return ok;
}

Errno host_errno() {
    return errno_from_host(errno);
}

/// Sets the times of what an O_PATH descriptor names (following it).
Errno set_times_of_path_fd(int fd, const timespec ts[2]) {
    std::string proc = fmt::format("/proc/self/fd/{}", fd);
    if (utimensat(AT_FDCWD, proc.c_str(), ts, 0) == 0) return ok;
    return host_errno();
}

} // namespace

struct Wasi::State {
    WasiConfig config;
    std::vector<std::optional<Fd>> fds;
    size_t stdin_pos = 0;
    std::string out[3]; ///< captured stdout (1) and stderr (2)

    Fd* get(uint32_t fd) {
        if (fd >= fds.size() || !fds[fd]) return nullptr;
        return &*fds[fd];
    }
    /// The descriptor if it has every right in `need`, with the errno otherwise.
    std::pair<Fd*, Errno> with(uint32_t fd, uint64_t need) {
        Fd* f = get(fd);
        if (!f) return {nullptr, ebadf};
        if ((f->base & need) != need) return {nullptr, enotcapable};
        return {f, ok};
    }
    /// The descriptor for a read or write (`access` is fd_read or fd_write): one not opened for
    /// that access is EBADF, as in POSIX; a positioned one also needs fd_seek (ENOTCAPABLE).
    std::pair<Fd*, Errno> for_io(uint32_t fd, uint64_t access, bool positioned) {
        Fd* f = get(fd);
        if (!f || !(f->base & access)) return {nullptr, ebadf};
        return with(fd, access | (positioned ? right::fd_seek : 0));
    }
    std::optional<uint32_t> add(Fd f) {
        for (uint32_t i = 0; i < fds.size(); ++i)
            if (!fds[i]) {
                fds[i] = std::move(f);
                return i;
            }
        if (fds.size() >= max_fds) return std::nullopt;
        fds.push_back(std::move(f));
        return uint32_t(fds.size() - 1);
    }
    const WasiStream& stream(int n) const {
        return n == 0 ? config.stdin_stream : n == 1 ? config.stdout_stream : config.stderr_stream;
    }
};

namespace {

using State = Wasi::State;

// ---- reading and writing

/// Waits until `fd` is readable, the call's deadline passes or an interrupt comes.
bool wait_readable(Caller& c, int fd) {
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, int(wait_slice.count() * 10));
        if (r > 0 || (r < 0 && errno != EINTR)) return true;
        if (c.should_stop()) return false;
    }
}

Errno stream_write(State& s, Caller& c, Fd& f, std::string_view data, size_t& done) {
    const WasiStream& st = s.stream(f.stream);
    switch (st.kind()) {
    case WasiStream::Kind::closed: return ebadf;
    case WasiStream::Kind::buffer: {
        std::string& out = s.out[f.stream];
        if (data.size() > max_buffered - out.size()) return enospc;
        out.append(data);
        done += data.size();
        return ok;
    }
    case WasiStream::Kind::callback:
        st.sink()(data);
        done += data.size();
        return ok;
    case WasiStream::Kind::inherit:
        while (!data.empty()) {
            ssize_t n = ::write(f.stream, data.data(), data.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    pollfd p{f.stream, POLLOUT, 0};
                    ::poll(&p, 1, 10);
                    if (c.should_stop()) return ok;
                    continue;
                }
                return done ? ok : host_errno();
            }
            done += size_t(n);
            data.remove_prefix(size_t(n));
        }
        return ok;
    }
    return ebadf;
}

int32_t do_write(State& s, Caller& c, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t nwritten,
                 std::optional<uint64_t> offset) {
    Mem m{c};
    auto [f, e] = s.for_io(fd, right::fd_write, offset.has_value());
    if (!f) return e;
    std::vector<Iovec> v;
    if (Errno ie = read_iovecs(m, iovs, n, v); ie != ok) return ie;
    size_t done = 0;
    std::vector<uint8_t> chunk;
    for (const Iovec& io : v) {
        for (uint32_t at = 0; at < io.len;) {
            size_t len = std::min<size_t>(io.len - at, io_chunk);
            chunk.resize(len);
            if (!m.read(uint64_t(io.buf) + at, chunk.data(), len)) return efault;
            if (f->type == Fd::Type::stream) {
                if (offset) return espipe;
                size_t before = done;
                Errno we =
                    stream_write(s, c, *f, {reinterpret_cast<char*>(chunk.data()), len}, done);
                if (we != ok && !done) return we;
                if (we != ok || done - before < len) goto finished;
            } else {
                ssize_t w = offset
                                ? ::pwrite(f->host.get(), chunk.data(), len, off_t(*offset + done))
                                : ::write(f->host.get(), chunk.data(), len);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    if (done) break;
                    return host_errno();
                }
                done += size_t(w);
                if (size_t(w) < len) goto finished;
            }
            at += uint32_t(len);
        }
    }
finished:
    return m.put<uint32_t>(nwritten, uint32_t(done)) ? ok : efault;
}

int32_t do_read(State& s, Caller& c, uint32_t fd, uint32_t iovs, uint32_t n, uint32_t nread,
                std::optional<uint64_t> offset) {
    Mem m{c};
    auto [f, e] = s.for_io(fd, right::fd_read, offset.has_value());
    if (!f) return e;
    std::vector<Iovec> v;
    if (Errno ie = read_iovecs(m, iovs, n, v); ie != ok) return ie;
    size_t done = 0;
    std::vector<uint8_t> chunk;
    for (const Iovec& io : v) {
        for (uint32_t at = 0; at < io.len;) {
            size_t want = std::min<size_t>(io.len - at, io_chunk);
            chunk.resize(want);
            size_t got = 0;
            if (f->type == Fd::Type::stream) {
                if (offset) return espipe;
                const WasiStream& st = s.stream(f->stream);
                if (st.kind() == WasiStream::Kind::buffer) {
                    const std::string& in = st.input();
                    got = std::min(want, in.size() - std::min(in.size(), s.stdin_pos));
                    std::memcpy(chunk.data(), in.data() + s.stdin_pos, got);
                    s.stdin_pos += got;
                } else if (st.kind() == WasiStream::Kind::callback) {
                    if (done) goto finished; // one read per call, as from a pipe
                    got =
                        std::min(want, st.source()({reinterpret_cast<char*>(chunk.data()), want}));
                } else if (st.kind() == WasiStream::Kind::inherit) {
                    // Reads block: wait in slices so the deadline and interrupts still work.
                    // Once something was read, return it rather than wait for more.
                    if (done) goto finished;
                    if (!wait_readable(c, f->stream)) return ok;
                    ssize_t r = ::read(f->stream, chunk.data(), want);
                    if (r < 0) {
                        if (errno == EINTR || errno == EAGAIN) continue;
                        return host_errno();
                    }
                    got = size_t(r);
                } else {
                    return ebadf;
                }
            } else {
                ssize_t r = offset
                                ? ::pread(f->host.get(), chunk.data(), want, off_t(*offset + done))
                                : ::read(f->host.get(), chunk.data(), want);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    if (done) goto finished;
                    return host_errno();
                }
                got = size_t(r);
            }
            if (got && !m.write(uint64_t(io.buf) + at, chunk.data(), got)) return efault;
            done += got;
            at += uint32_t(got);
            if (got < want) goto finished;
        }
    }
finished:
    return m.put<uint32_t>(nread, uint32_t(done)) ? ok : efault;
}

// ---- descriptors

int32_t fdstat_get(State& s, Caller& c, uint32_t fd, uint32_t buf) {
    Fd* f = s.get(fd);
    if (!f) return ebadf;
    if (f->type == Fd::Type::stream && s.stream(f->stream).kind() == WasiStream::Kind::closed)
        return ebadf;
    uint8_t out[fdstat_size] = {};
    out[0] = f->filetype;
    std::memcpy(out + 2, &f->fdflags, 2);
    std::memcpy(out + 8, &f->base, 8);
    std::memcpy(out + 16, &f->inheriting, 8);
    return Mem{c}.write(buf, out, sizeof out) ? ok : efault;
}

int32_t filestat_get(State& s, Caller& c, uint32_t fd, uint32_t buf) {
    auto [f, e] = s.with(fd, right::fd_filestat_get);
    if (!f) return e;
    Mem m{c};
    struct stat st {};
    if (f->type == Fd::Type::stream) {
        if (s.stream(f->stream).kind() == WasiStream::Kind::inherit) {
            if (::fstat(f->stream, &st) != 0) return host_errno();
        } else {
            st.st_mode = S_IFCHR;
        }
    } else if (::fstat(f->host.get(), &st) != 0) {
        return host_errno();
    }
    return write_filestat(m, buf, st);
}

int32_t seek(State& s, Caller& c, uint32_t fd, int64_t offset, uint32_t whence, uint32_t out) {
    uint64_t need = (offset == 0 && whence == SEEK_CUR) ? right::fd_tell : right::fd_seek;
    auto [f, e] = s.with(fd, need);
    if (!f) return e;
    if (whence > 2) return einval;
    int w = whence == 0 ? SEEK_SET : whence == 1 ? SEEK_CUR : SEEK_END;
    int host = f->type == Fd::Type::stream ? -1 : f->host.get();
    if (f->type == Fd::Type::stream) {
        if (s.stream(f->stream).kind() != WasiStream::Kind::inherit) return espipe;
        host = f->stream;
    }
    off_t r = ::lseek(host, off_t(offset), w);
    if (r < 0) return host_errno();
    return Mem{c}.put<uint64_t>(out, uint64_t(r)) ? ok : efault;
}

std::vector<DirEntry> list_dir(int dirfd, Errno& err) {
    std::vector<DirEntry> out;
    // A fresh descriptor for the listing: its position is separate from the guest's.
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        err = host_errno();
        return out;
    }
    DIR* d = ::fdopendir(fd);
    if (!d) {
        err = host_errno();
        ::close(fd);
        return out;
    }
    while (dirent* de = ::readdir(d)) {
        uint8_t type = filetype_of_dirent(de->d_type);
        if (de->d_type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                type = filetype_of(st.st_mode);
        }
        out.push_back({de->d_ino, type, de->d_name});
    }
    ::closedir(d);
    err = ok;
    return out;
}

int32_t readdir(State& s, Caller& c, uint32_t fd, uint32_t buf, uint32_t len, uint64_t cookie,
                uint32_t used_out) {
    auto [f, e] = s.with(fd, right::fd_readdir);
    if (!f) return e;
    if (f->type != Fd::Type::dir) return enotdir;
    if (cookie == 0 || f->listing.empty()) {
        Errno le = ok;
        f->listing = list_dir(f->host.get(), le);
        if (le != ok) return le;
    }
    Mem m{c};
    std::vector<uint8_t> out;
    for (uint64_t i = cookie; i < f->listing.size() && out.size() < len; ++i) {
        const DirEntry& d = f->listing[i];
        uint8_t head[dirent_size] = {};
        uint64_t next = i + 1;
        uint32_t namlen = uint32_t(d.name.size());
        std::memcpy(head, &next, 8);
        std::memcpy(head + 8, &d.ino, 8);
        std::memcpy(head + 16, &namlen, 4);
        head[20] = d.type;
        out.insert(out.end(), head, head + sizeof head);
        out.insert(out.end(), d.name.begin(), d.name.end());
    }
    // A last entry that does not fit is cut: bufused == len tells the guest to ask again.
    uint32_t used = uint32_t(std::min<size_t>(out.size(), len));
    if (used && !m.write(buf, out.data(), used)) return efault;
    return m.put<uint32_t>(used_out, used) ? ok : efault;
}

// ---- paths

std::pair<Fd*, Errno> dir_with(State& s, uint32_t fd, uint64_t need) {
    auto [f, e] = s.with(fd, need);
    if (!f) return {nullptr, e};
    if (f->type != Fd::Type::dir) return {nullptr, enotdir};
    return {f, ok};
}

int32_t path_open(State& s, Caller& c, uint32_t dirfd, uint32_t lookup, uint32_t path_ptr,
                  uint32_t path_len, uint32_t oflags, uint64_t base, uint64_t inheriting,
                  uint32_t fdflags, uint32_t fd_out) {
    Mem m{c};
    auto [d, e] = dir_with(s, dirfd, right::path_open);
    if (!d) return e;
    auto path = m.string(path_ptr, path_len);
    if (!path) return efault;
    if ((oflags & oflag_creat) && !(d->base & right::path_create_file)) return enotcapable;
    if ((oflags & oflag_trunc) && !(d->base & right::path_filestat_set_size)) return enotcapable;
    // Rights come from the directory's inheriting set: asking for a writing right it lacks
    // is refused. Below a read-only preopen the inheriting set still lists the writing rights
    // (libc masks its request with it, and would otherwise open for reading and fail only at
    // the first write), so asking to open for writing is refused here, and the other writing
    // rights, which a read-only open asks for in passing, are just not granted.
    constexpr uint64_t write_access =
        right::fd_write | right::fd_allocate | right::fd_filestat_set_size;
    if (base & right::writes & ~d->inheriting) return enotcapable;
    if ((fdflags & fdflag_append) && !(d->inheriting & right::fd_write)) return enotcapable;
    if (d->read_only && ((base & write_access) || (fdflags & fdflag_append))) return enotcapable;
    base &= d->inheriting;
    inheriting &= d->inheriting;
    if (d->read_only) base &= ~right::writes;

    bool want_write = base & (right::fd_write | right::fd_allocate | right::fd_filestat_set_size);
    bool want_read = base & (right::fd_read | right::fd_readdir);
    // Truncating needs a writable host descriptor even when only reading was asked for.
    bool host_write = want_write || (oflags & oflag_trunc);
    int flags = O_NONBLOCK; // opening a FIFO must not block the host; cleared below
    if (oflags & oflag_directory) flags |= O_DIRECTORY;
    flags |= host_write ? (want_read ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (oflags & oflag_creat) flags |= O_CREAT;
    if (oflags & oflag_excl) flags |= O_EXCL;
    if (oflags & oflag_trunc) flags |= O_TRUNC;
    if (fdflags & fdflag_append) flags |= O_APPEND;
    if (fdflags & fdflag_dsync) flags |= O_DSYNC;
    if (fdflags & (fdflag_sync | fdflag_rsync)) flags |= O_SYNC;
    if (!(lookup & lookup_symlink_follow)) flags |= O_NOFOLLOW;

    auto [fd, oe] = open_beneath(d->host.get(), *path, flags, 0666);
    if (oe != ok) return oe;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return host_errno();
    if (!(fdflags & fdflag_nonblock))
        ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    Fd nf;
    nf.read_only = d->read_only;
    nf.filetype = filetype_of(st.st_mode);
    nf.type = S_ISDIR(st.st_mode) ? Fd::Type::dir : Fd::Type::file;
    nf.host = std::move(fd);
    nf.fdflags = uint16_t(
        fdflags & (fdflag_append | fdflag_nonblock | fdflag_dsync | fdflag_sync | fdflag_rsync));
    if (nf.type == Fd::Type::dir) {
        nf.base = base & right::dir_all;
        nf.inheriting = inheriting;
    } else {
        nf.base = base & right::file_all;
        // A descriptor opened without write access cannot write, whatever the rights say.
        if (!want_write)
            nf.base &= ~(right::fd_write | right::fd_allocate | right::fd_filestat_set_size);
        nf.inheriting = 0;
    }
    auto slot = s.add(std::move(nf));
    if (!slot) return emfile;
    return m.put<uint32_t>(fd_out, *slot) ? ok : efault;
}

/// Reads the guest path and resolves its parent below the directory `fd` with rights `need`.
std::pair<ParentAndName, Errno> parent_of(State& s, Mem& m, uint32_t fd, uint64_t need,
                                          uint32_t ptr, uint32_t len) {
    auto [d, e] = dir_with(s, fd, need);
    if (!d) return {ParentAndName{}, e};
    auto path = m.string(ptr, len);
    if (!path) return {ParentAndName{}, efault};
    return resolve_parent(d->host.get(), *path);
}

int32_t path_filestat_get(State& s, Caller& c, uint32_t fd, uint32_t lookup, uint32_t ptr,
                          uint32_t len, uint32_t buf) {
    Mem m{c};
    auto [d, e] = dir_with(s, fd, right::path_filestat_get);
    if (!d) return e;
    auto path = m.string(ptr, len);
    if (!path) return efault;
    int flags = O_PATH | ((lookup & lookup_symlink_follow) ? 0 : O_NOFOLLOW);
    auto [h, oe] = open_beneath(d->host.get(), *path, flags);
    if (oe != ok) return oe;
    struct stat st {};
    if (::fstat(h.get(), &st) != 0) return host_errno();
    return write_filestat(m, buf, st);
}

int32_t path_filestat_set_times(State& s, Caller& c, uint32_t fd, uint32_t lookup, uint32_t ptr,
                                uint32_t len, uint64_t atim, uint64_t mtim, uint32_t flags) {
    Mem m{c};
    timespec ts[2];
    if (Errno te = to_timespecs(atim, mtim, uint16_t(flags), ts); te != ok) return te;
    if (lookup & lookup_symlink_follow) {
        auto [d, e] = dir_with(s, fd, right::path_filestat_set_times);
        if (!d) return e;
        auto path = m.string(ptr, len);
        if (!path) return efault;
        auto [h, oe] = open_beneath(d->host.get(), *path, O_PATH);
        if (oe != ok) return oe;
        return set_times_of_path_fd(h.get(), ts);
    }
    auto [p, e] = parent_of(s, m, fd, right::path_filestat_set_times, ptr, len);
    if (e != ok) return e;
    if (p.dot) {
        auto [h, oe] = open_beneath(p.parent.get(), p.name, O_PATH);
        if (oe != ok) return oe;
        return set_times_of_path_fd(h.get(), ts);
    }
    std::string name = p.trailing_slash ? p.name + "/" : p.name;
    if (::utimensat(p.parent.get(), name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
        return host_errno();
    return ok;
}

int32_t path_create_directory(State& s, Caller& c, uint32_t fd, uint32_t ptr, uint32_t len) {
    Mem m{c};
    auto [p, e] = parent_of(s, m, fd, right::path_create_directory, ptr, len);
    if (e != ok) return e;
    if (p.dot) return eexist;
    if (::mkdirat(p.parent.get(), p.name.c_str(), 0777) != 0) return host_errno();
    return ok;
}

int32_t path_remove(State& s, Caller& c, uint32_t fd, uint32_t ptr, uint32_t len, bool dir) {
    Mem m{c};
    auto [p, e] =
        parent_of(s, m, fd, dir ? right::path_remove_directory : right::path_unlink_file, ptr, len);
    if (e != ok) return e;
    if (p.dot) return dir ? (p.name == "." ? einval : enotempty) : eisdir;
    std::string name = p.trailing_slash && dir ? p.name + "/" : p.name;
    if (!dir && p.trailing_slash) {
        // "file/" names no file; "dir/" is a directory, which unlink refuses.
        struct stat st {};
        if (::fstatat(p.parent.get(), p.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
            return S_ISDIR(st.st_mode) ? eisdir : enotdir;
        return host_errno();
    }
    if (::unlinkat(p.parent.get(), name.c_str(), dir ? AT_REMOVEDIR : 0) != 0) {
        // Linux says EISDIR for unlink of a directory, as WASI wants; POSIX allows EPERM.
        if (!dir && errno == EPERM) {
            struct stat st {};
            if (::fstatat(p.parent.get(), p.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISDIR(st.st_mode))
                return eisdir;
        }
        return host_errno();
    }
    return ok;
}

int32_t path_rename(State& s, Caller& c, uint32_t fd, uint32_t old_ptr, uint32_t old_len,
                    uint32_t new_fd, uint32_t new_ptr, uint32_t new_len) {
    Mem m{c};
    auto [from, e1] = parent_of(s, m, fd, right::path_rename_source, old_ptr, old_len);
    if (e1 != ok) return e1;
    auto [to, e2] = parent_of(s, m, new_fd, right::path_rename_target, new_ptr, new_len);
    if (e2 != ok) return e2;
    if (from.dot || to.dot) return from.dot ? einval : eisdir;
    std::string a = from.trailing_slash ? from.name + "/" : from.name;
    std::string b = to.trailing_slash ? to.name + "/" : to.name;
    if (::renameat(from.parent.get(), a.c_str(), to.parent.get(), b.c_str()) != 0)
        return host_errno();
    return ok;
}

int32_t path_link(State& s, Caller& c, uint32_t old_fd, uint32_t lookup, uint32_t old_ptr,
                  uint32_t old_len, uint32_t new_fd, uint32_t new_ptr, uint32_t new_len) {
    Mem m{c};
    auto [to, e2] = parent_of(s, m, new_fd, right::path_link_target, new_ptr, new_len);
    if (e2 != ok) return e2;
    if (to.dot || to.trailing_slash) return eexist;
    if (lookup & lookup_symlink_follow) {
        auto [d, e] = dir_with(s, old_fd, right::path_link_source);
        if (!d) return e;
        auto path = m.string(old_ptr, old_len);
        if (!path) return efault;
        // The target of the followed link is resolved below the directory too; the link is
        // then made from the descriptor, never from a path the kernel would resolve again.
        auto [h, oe] = open_beneath(d->host.get(), *path, O_PATH);
        if (oe != ok) return oe;
        std::string proc = fmt::format("/proc/self/fd/{}", h.get());
        if (::linkat(AT_FDCWD, proc.c_str(), to.parent.get(), to.name.c_str(), AT_SYMLINK_FOLLOW) !=
            0)
            return host_errno();
        return ok;
    }
    auto [from, e1] = parent_of(s, m, old_fd, right::path_link_source, old_ptr, old_len);
    if (e1 != ok) return e1;
    if (from.dot) return eperm;
    if (from.trailing_slash) return enotdir;
    if (::linkat(from.parent.get(), from.name.c_str(), to.parent.get(), to.name.c_str(), 0) != 0)
        return host_errno();
    return ok;
}

int32_t path_symlink(State& s, Caller& c, uint32_t old_ptr, uint32_t old_len, uint32_t fd,
                     uint32_t new_ptr, uint32_t new_len) {
    Mem m{c};
    auto target = m.string(old_ptr, old_len);
    if (!target) return efault;
    if (Errno te = check_path(*target); te != ok) return te;
    auto [p, e] = parent_of(s, m, fd, right::path_symlink, new_ptr, new_len);
    if (e != ok) return e;
    if (p.dot) return eexist;
    // With its trailing slash the name must be an existing directory, so the kernel answers
    // as Linux does (ENOENT, or EEXIST for an existing name) instead of making the link.
    std::string name = p.trailing_slash ? p.name + "/" : p.name;
    // The link's text may point anywhere: following it later is confined like any path.
    if (::symlinkat(target->c_str(), p.parent.get(), name.c_str()) != 0) return host_errno();
    return ok;
}

int32_t path_readlink(State& s, Caller& c, uint32_t fd, uint32_t ptr, uint32_t len, uint32_t buf,
                      uint32_t buf_len, uint32_t used_out) {
    Mem m{c};
    auto [p, e] = parent_of(s, m, fd, right::path_readlink, ptr, len);
    if (e != ok) return e;
    if (p.dot) return einval;
    char target[4096];
    ssize_t n = ::readlinkat(p.parent.get(), p.name.c_str(), target, sizeof target);
    if (n < 0) return host_errno();
    uint32_t used = uint32_t(std::min<size_t>(size_t(n), buf_len));
    if (used && !m.write(buf, target, used)) return efault;
    return m.put<uint32_t>(used_out, used) ? ok : efault;
}

// ---- poll

struct Sub {
    uint64_t userdata;
    uint8_t type;
    uint32_t clock_id = 0;
    uint64_t timeout = 0;
    uint16_t flags = 0;
    uint32_t fd = 0;
};

/// clock_getres or clock_gettime of a WASI clock id, written to `out` in nanoseconds.
int32_t clock_query(Caller& c, uint32_t id, uint32_t out, int (*query)(clockid_t, timespec*)) {
    static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                    CLOCK_THREAD_CPUTIME_ID};
    if (id > clock_thread_cputime) return einval;
    timespec t{};
    if (query(ids[id], &t) != 0) return host_errno();
    return Mem{c}.put<uint64_t>(out, ns_of(t)) ? ok : efault;
}

int64_t clock_now(uint32_t id) {
    timespec t{};
    clockid_t host = id == clock_realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    clock_gettime(host, &t);
    return int64_t(ns_of(t));
}

int32_t poll_oneoff(State& s, Caller& c, uint32_t in, uint32_t out, uint32_t nsubs,
                    uint32_t nevents_out) {
    Mem m{c};
    if (nsubs == 0) return einval;
    if (nsubs > 4096) return einval;
    std::vector<Sub> subs(nsubs);
    for (uint32_t i = 0; i < nsubs; ++i) {
        uint8_t raw[subscription_size];
        if (!m.read(uint64_t(in) + uint64_t(i) * subscription_size, raw, sizeof raw)) return efault;
        Sub& sub = subs[i];
        std::memcpy(&sub.userdata, raw, 8);
        sub.type = raw[8];
        if (sub.type == event_clock) {
            std::memcpy(&sub.clock_id, raw + 16, 4);
            std::memcpy(&sub.timeout, raw + 24, 8);
            std::memcpy(&sub.flags, raw + 40, 2);
        } else {
            std::memcpy(&sub.fd, raw + 16, 4);
        }
    }
    struct Event {
        uint64_t userdata;
        uint16_t error;
        uint8_t type;
        uint64_t nbytes;
        uint16_t flags;
    };
    std::vector<Event> events;
    // Deadlines of the clock subscriptions on the monotonic clock.
    int64_t start = clock_now(clock_monotonic);
    std::vector<int64_t> due(nsubs, 0);
    for (uint32_t i = 0; i < nsubs; ++i) {
        Sub& sub = subs[i];
        if (sub.type != event_clock) continue;
        if (sub.clock_id > clock_thread_cputime) {
            events.push_back({sub.userdata, einval, sub.type, 0, 0});
            continue;
        }
        int64_t t = int64_t(std::min<uint64_t>(sub.timeout, INT64_MAX / 2));
        if (sub.flags & subclock_abstime) {
            int64_t now =
                clock_now(sub.clock_id == clock_realtime ? clock_realtime : clock_monotonic);
            due[i] = start + std::max<int64_t>(0, t - now);
        } else {
            due[i] = start + t;
        }
    }
    // Whether some subscription waits for an inherited stdin (then the wait polls it).
    bool has_stdin = false;
    for (const Sub& sub : subs) {
        Fd* f = s.get(sub.fd);
        if (sub.type == event_fd_read && f && f->type == Fd::Type::stream &&
            s.stream(f->stream).kind() == WasiStream::Kind::inherit)
            has_stdin = true;
    }
    for (;;) {
        // Descriptors: files and output streams are always ready; an inherited stdin is
        // ready when poll(2) says so; a buffered one always (data or end of file).
        std::vector<Event> ready;
        for (const Sub& sub : subs) {
            if (sub.type == event_clock) continue;
            uint64_t need = right::poll_fd_readwrite;
            Fd* f = s.get(sub.fd);
            uint8_t type = sub.type;
            if (!f) {
                ready.push_back({sub.userdata, ebadf, type, 0, 0});
                continue;
            }
            if ((f->base & need) != need && f->type != Fd::Type::stream) {
                ready.push_back({sub.userdata, enotcapable, type, 0, 0});
                continue;
            }
            if (f->type == Fd::Type::stream) {
                const WasiStream& st = s.stream(f->stream);
                if (st.kind() == WasiStream::Kind::closed) {
                    ready.push_back({sub.userdata, ebadf, type, 0, 0});
                } else if (type == event_fd_read && st.kind() == WasiStream::Kind::inherit) {
                    pollfd p{f->stream, POLLIN, 0};
                    if (::poll(&p, 1, 0) > 0)
                        ready.push_back({sub.userdata, ok, type, 1,
                                         uint16_t((p.revents & POLLHUP) ? eventrw_hangup : 0)});
                } else if (type == event_fd_read) {
                    const std::string& input = st.input();
                    uint64_t left = input.size() - std::min(input.size(), s.stdin_pos);
                    ready.push_back({sub.userdata, ok, type, left, 0});
                } else {
                    ready.push_back({sub.userdata, ok, type, 0, 0});
                }
                continue;
            }
            uint64_t nbytes = 0;
            if (type == event_fd_read && f->type == Fd::Type::file) {
                struct stat st {};
                off_t pos = ::lseek(f->host.get(), 0, SEEK_CUR);
                if (::fstat(f->host.get(), &st) == 0 && pos >= 0 && st.st_size > pos)
                    nbytes = uint64_t(st.st_size - pos);
            }
            ready.push_back({sub.userdata, ok, type, nbytes, 0});
        }
        events.insert(events.end(), ready.begin(), ready.end());
        int64_t now = clock_now(clock_monotonic);
        int64_t next = INT64_MAX;
        for (uint32_t i = 0; i < nsubs; ++i) {
            if (subs[i].type != event_clock || subs[i].clock_id > clock_thread_cputime) continue;
            if (due[i] <= now)
                events.push_back({subs[i].userdata, ok, event_clock, 0, 0});
            else
                next = std::min(next, due[i]);
        }
        if (!events.empty()) break;
        if (c.should_stop()) return ok;
        if (next == INT64_MAX && !has_stdin) return enotsup;        // nothing could ever happen
        int64_t wait_ns = std::min<int64_t>(next - now, 1'000'000); // a slice of at most 1 ms
        if (has_stdin) {
            pollfd p{0, POLLIN, 0};
            ::poll(&p, 1, int(std::max<int64_t>(1, wait_ns / 1'000'000)));
        } else {
            std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
        }
    }
    for (size_t i = 0; i < events.size(); ++i) {
        uint8_t raw[event_size] = {};
        std::memcpy(raw, &events[i].userdata, 8);
        std::memcpy(raw + 8, &events[i].error, 2);
        raw[10] = events[i].type;
        std::memcpy(raw + 16, &events[i].nbytes, 8);
        std::memcpy(raw + 24, &events[i].flags, 2);
        if (!m.write(uint64_t(out) + i * event_size, raw, sizeof raw)) return efault;
    }
    return m.put<uint32_t>(nevents_out, uint32_t(events.size())) ? ok : efault;
}

// ---- args and environment

/// Writes `items` as NUL-terminated strings to `buf` and their addresses to `ptrs`.
int32_t write_strings(Mem& m, const std::vector<std::string>& items, uint32_t ptrs, uint32_t buf) {
    uint64_t at = buf;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!m.put<uint32_t>(uint64_t(ptrs) + 4 * i, uint32_t(at))) return efault;
        if (!m.write(at, items[i].c_str(), items[i].size() + 1)) return efault;
        at += items[i].size() + 1;
    }
    return ok;
}

int32_t write_sizes(Mem& m, const std::vector<std::string>& items, uint32_t count_out,
                    uint32_t size_out) {
    uint64_t size = 0;
    for (const std::string& s : items)
        size += s.size() + 1;
    if (size > UINT32_MAX) return eoverflow;
    if (!m.put<uint32_t>(count_out, uint32_t(items.size())) ||
        !m.put<uint32_t>(size_out, uint32_t(size)))
        return efault;
    return ok;
}

std::vector<std::string> env_strings(const State& s) {
    std::vector<std::string> out;
    for (const auto& [k, v] : s.config.env)
        out.push_back(k + "=" + v);
    return out;
}

} // namespace

Result<std::shared_ptr<Wasi>> Wasi::create(WasiConfig config) {
    auto state = std::make_shared<State>();
    for (int i = 0; i < 3; ++i) {
        Fd f;
        f.type = Fd::Type::stream;
        f.stream = i;
        f.filetype = filetype_character_device;
        f.base = (i == 0 ? right::fd_read : right::fd_write) | right::poll_fd_readwrite |
                 right::fd_filestat_get | right::fd_fdstat_set_flags;
        const WasiStream& st = i == 0   ? config.stdin_stream
                               : i == 1 ? config.stdout_stream
                                        : config.stderr_stream;
        if (st.kind() == WasiStream::Kind::inherit) {
            struct stat hs {};
            if (::fstat(i, &hs) == 0) f.filetype = filetype_of(hs.st_mode);
            f.base |= right::fd_seek | right::fd_tell;
        }
        if (st.kind() == WasiStream::Kind::callback && (i == 0 ? !st.source() : !st.sink()))
            return make_error(ErrorKind::usage,
                              i == 0
                                  ? "stdin's callback must be a source (it reads)"
                                  : "stdout's and stderr's callbacks must be sinks (they write)");
        state->fds.push_back(std::move(f));
    }
    for (const WasiPreopen& p : config.preopens) {
        int fd = ::open(p.host.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return make_error(ErrorKind::io, fmt::format("cannot open directory {}: {}", p.host,
                                                         std::strerror(errno)));
        Fd f;
        f.type = Fd::Type::dir;
        f.host = UniqueFd(fd);
        f.filetype = filetype_directory;
        f.base = p.read_only ? right::dir_read_only : right::dir_all;
        f.inheriting = right::dir_all | right::file_all;
        f.read_only = p.read_only;
        f.is_preopen = true;
        f.preopen = p.guest.empty() ? p.host : p.guest;
        state->fds.push_back(std::move(f));
    }
    state->config = std::move(config);
    return std::shared_ptr<Wasi>(new Wasi(std::move(state)));
}

Wasi::Wasi(std::shared_ptr<State> state) : m_state(std::move(state)) {}
Wasi::~Wasi() = default;

const std::string& Wasi::output(int fd) const {
    static const std::string none;
    return fd == 1 || fd == 2 ? m_state->out[fd] : none;
}

void Wasi::attach(Store& store) {
    store.set_data(m_state);
}

namespace {

/// A WASI function body that gets the calling store's WASI state first (Wasi::attach); without
/// one the guest traps.
template <typename R, typename... A> auto with_state(R (*f)(Wasi::State*, Caller&, A...)) {
    return [f](Caller& c, A... a) -> R {
        Wasi::State* sp = c.data<Wasi::State>();
        if (!sp) [[unlikely]] {
            c.trap("WASI is not set up for this store (Wasi::attach)");
            return R{};
        }
        return f(sp, c, a...);
    };
}

} // namespace

void Wasi::define(Linker& linker) {
    const std::string mod = "wasi_snapshot_preview1";
    auto def = [&](const char* name, auto f) { linker.func_wrap(mod, name, with_state(+f)); };
    auto def_plain = [&](const char* name, auto f) { linker.func_wrap(mod, name, f); };
    using u32 = uint32_t;
    using u64 = uint64_t;

    def("args_sizes_get", [](State* sp, Caller& c, u32 argc, u32 size) -> int32_t {
        Mem m{c};
        return write_sizes(m, sp->config.args, argc, size);
    });
    def("args_get", [](State* sp, Caller& c, u32 argv, u32 buf) -> int32_t {
        Mem m{c};
        return write_strings(m, sp->config.args, argv, buf);
    });
    def("environ_sizes_get", [](State* sp, Caller& c, u32 count, u32 size) -> int32_t {
        Mem m{c};
        return write_sizes(m, env_strings(*sp), count, size);
    });
    def("environ_get", [](State* sp, Caller& c, u32 ptrs, u32 buf) -> int32_t {
        Mem m{c};
        return write_strings(m, env_strings(*sp), ptrs, buf);
    });
    def_plain("clock_res_get", [](Caller& c, u32 id, u32 out) -> int32_t {
        return clock_query(c, id, out, clock_getres);
    });
    def_plain("clock_time_get", [](Caller& c, u32 id, u64, u32 out) -> int32_t {
        return clock_query(c, id, out, clock_gettime);
    });
    def("fd_advise", [](State* sp, Caller&, u32 fd, u64 offset, u64 len, u32 advice) -> int32_t {
        auto [f, e] = sp->with(fd, right::fd_advise);
        if (!f) return e;
        if (advice > 5) return einval;
        if (f->type != Fd::Type::file) return f->type == Fd::Type::dir ? ebadf : espipe;
        static const int host[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                   POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
        int r = ::posix_fadvise(f->host.get(), off_t(offset), off_t(len), host[advice]);
        return r ? errno_from_host(r) : ok;
    });
    def("fd_allocate", [](State* sp, Caller&, u32 fd, u64 offset, u64 len) -> int32_t {
        auto [f, e] = sp->with(fd, right::fd_allocate);
        if (!f) return e;
        if (f->type != Fd::Type::file) return ebadf;
        if (offset > INT64_MAX || len > INT64_MAX - offset) return efbig;
        int r = ::posix_fallocate(f->host.get(), off_t(offset), off_t(len));
        return r ? errno_from_host(r) : ok;
    });
    def("fd_close", [](State* sp, Caller&, u32 fd) -> int32_t {
        if (!sp->get(fd)) return ebadf;
        sp->fds[fd].reset();
        return ok;
    });
    def("fd_datasync", [](State* sp, Caller&, u32 fd) -> int32_t {
        auto [f, e] = sp->with(fd, right::fd_datasync);
        if (!f) return e;
        if (f->type == Fd::Type::stream) return einval;
        return ::fdatasync(f->host.get()) == 0 ? ok : host_errno();
    });
    def("fd_sync", [](State* sp, Caller&, u32 fd) -> int32_t {
        auto [f, e] = sp->with(fd, right::fd_sync);
        if (!f) return e;
        if (f->type == Fd::Type::stream) return einval;
        return ::fsync(f->host.get()) == 0 ? ok : host_errno();
    });
    def("fd_fdstat_get", [](State* sp, Caller& c, u32 fd, u32 buf) -> int32_t {
        return fdstat_get(*sp, c, fd, buf);
    });
    def("fd_fdstat_set_flags", [](State* sp, Caller&, u32 fd, u32 flags) -> int32_t {
        auto [f, e] = sp->with(fd, right::fd_fdstat_set_flags);
        if (!f) return e;
        if (flags & (fdflag_dsync | fdflag_sync | fdflag_rsync)) return enotsup;
        if ((flags & fdflag_append) && !(f->base & right::fd_write)) return enotcapable;
        if (f->type != Fd::Type::stream) {
            int host = ::fcntl(f->host.get(), F_GETFL);
            host = (flags & fdflag_append) ? host | O_APPEND : host & ~O_APPEND;
            host = (flags & fdflag_nonblock) ? host | O_NONBLOCK : host & ~O_NONBLOCK;
            if (::fcntl(f->host.get(), F_SETFL, host) != 0) return host_errno();
        }
        f->fdflags = uint16_t((f->fdflags & ~(fdflag_append | fdflag_nonblock)) |
                              (flags & (fdflag_append | fdflag_nonblock)));
        return ok;
    });
    def("fd_fdstat_set_rights",
        [](State* sp, Caller&, u32 fd, u64 base, u64 inheriting) -> int32_t {
            Fd* f = sp->get(fd);
            if (!f) return ebadf;
            // Rights can only be dropped.
            if ((base & ~f->base) || (inheriting & ~f->inheriting)) return enotcapable;
            f->base = base;
            f->inheriting = inheriting;
            return ok;
        });
    def("fd_filestat_get", [](State* sp, Caller& c, u32 fd, u32 buf) -> int32_t {
        return filestat_get(*sp, c, fd, buf);
    });
    def("fd_filestat_set_size", [](State* sp, Caller&, u32 fd, u64 size) -> int32_t {
        auto [f, e] = sp->with(fd, right::fd_filestat_set_size);
        if (!f) return e;
        if (f->type != Fd::Type::file) return einval;
        if (size > INT64_MAX) return efbig;
        return ::ftruncate(f->host.get(), off_t(size)) == 0 ? ok : host_errno();
    });
    def("fd_filestat_set_times",
        [](State* sp, Caller&, u32 fd, u64 atim, u64 mtim, u32 flags) -> int32_t {
            auto [f, e] = sp->with(fd, right::fd_filestat_set_times);
            if (!f) return e;
            timespec ts[2];
            if (Errno te = to_timespecs(atim, mtim, uint16_t(flags), ts); te != ok) return te;
            if (f->type == Fd::Type::stream) return einval;
            return ::futimens(f->host.get(), ts) == 0 ? ok : host_errno();
        });
    def("fd_pread",
        [](State* sp, Caller& c, u32 fd, u32 iovs, u32 n, u64 offset, u32 out) -> int32_t {
            return do_read(*sp, c, fd, iovs, n, out, offset);
        });
    def("fd_pwrite",
        [](State* sp, Caller& c, u32 fd, u32 iovs, u32 n, u64 offset, u32 out) -> int32_t {
            return do_write(*sp, c, fd, iovs, n, out, offset);
        });
    def("fd_read", [](State* sp, Caller& c, u32 fd, u32 iovs, u32 n, u32 out) -> int32_t {
        return do_read(*sp, c, fd, iovs, n, out, std::nullopt);
    });
    def("fd_write", [](State* sp, Caller& c, u32 fd, u32 iovs, u32 n, u32 out) -> int32_t {
        return do_write(*sp, c, fd, iovs, n, out, std::nullopt);
    });
    def("fd_prestat_get", [](State* sp, Caller& c, u32 fd, u32 buf) -> int32_t {
        Fd* f = sp->get(fd);
        if (!f) return ebadf;
        if (!f->is_preopen) return ebadf;
        uint8_t out[prestat_size] = {};
        uint32_t len = uint32_t(f->preopen.size());
        std::memcpy(out + 4, &len, 4);
        return Mem{c}.write(buf, out, sizeof out) ? ok : efault;
    });
    def("fd_prestat_dir_name", [](State* sp, Caller& c, u32 fd, u32 buf, u32 len) -> int32_t {
        Fd* f = sp->get(fd);
        if (!f) return ebadf;
        if (!f->is_preopen) return ebadf;
        if (len < f->preopen.size()) return enametoolong;
        return Mem{c}.write(buf, f->preopen.data(), f->preopen.size()) ? ok : efault;
    });
    def("fd_readdir",
        [](State* sp, Caller& c, u32 fd, u32 buf, u32 len, u64 cookie, u32 used) -> int32_t {
            return readdir(*sp, c, fd, buf, len, cookie, used);
        });
    def("fd_renumber", [](State* sp, Caller&, u32 from, u32 to) -> int32_t {
        if (!sp->get(from) || !sp->get(to)) return ebadf;
        if (from == to) return ok;
        sp->fds[to] = std::move(sp->fds[from]);
        sp->fds[from].reset();
        return ok;
    });
    def("fd_seek",
        [](State* sp, Caller& c, u32 fd, int64_t offset, u32 whence, u32 out) -> int32_t {
            return seek(*sp, c, fd, offset, whence, out);
        });
    def("fd_tell", [](State* sp, Caller& c, u32 fd, u32 out) -> int32_t {
        return seek(*sp, c, fd, 0, 1, out);
    });
    def("path_create_directory", [](State* sp, Caller& c, u32 fd, u32 p, u32 l) -> int32_t {
        return path_create_directory(*sp, c, fd, p, l);
    });
    def("path_filestat_get",
        [](State* sp, Caller& c, u32 fd, u32 flags, u32 p, u32 l, u32 buf) -> int32_t {
            return path_filestat_get(*sp, c, fd, flags, p, l, buf);
        });
    def("path_filestat_set_times",
        [](State* sp, Caller& c, u32 fd, u32 flags, u32 p, u32 l, u64 atim, u64 mtim,
           u32 fst) -> int32_t {
            return path_filestat_set_times(*sp, c, fd, flags, p, l, atim, mtim, fst);
        });
    def("path_link",
        [](State* sp, Caller& c, u32 ofd, u32 flags, u32 op, u32 ol, u32 nfd, u32 np,
           u32 nl) -> int32_t { return path_link(*sp, c, ofd, flags, op, ol, nfd, np, nl); });
    def("path_open",
        [](State* sp, Caller& c, u32 fd, u32 lookup, u32 p, u32 l, u32 oflags, u64 base,
           u64 inheriting, u32 fdflags, u32 out) -> int32_t {
            return path_open(*sp, c, fd, lookup, p, l, oflags, base, inheriting, fdflags, out);
        });
    def("path_readlink",
        [](State* sp, Caller& c, u32 fd, u32 p, u32 l, u32 buf, u32 len, u32 used) -> int32_t {
            return path_readlink(*sp, c, fd, p, l, buf, len, used);
        });
    def("path_remove_directory", [](State* sp, Caller& c, u32 fd, u32 p, u32 l) -> int32_t {
        return path_remove(*sp, c, fd, p, l, true);
    });
    def("path_rename",
        [](State* sp, Caller& c, u32 fd, u32 op, u32 ol, u32 nfd, u32 np, u32 nl) -> int32_t {
            return path_rename(*sp, c, fd, op, ol, nfd, np, nl);
        });
    def("path_symlink",
        [](State* sp, Caller& c, u32 op, u32 ol, u32 fd, u32 np, u32 nl) -> int32_t {
            return path_symlink(*sp, c, op, ol, fd, np, nl);
        });
    def("path_unlink_file", [](State* sp, Caller& c, u32 fd, u32 p, u32 l) -> int32_t {
        return path_remove(*sp, c, fd, p, l, false);
    });
    def("poll_oneoff", [](State* sp, Caller& c, u32 in, u32 out, u32 n, u32 nevents) -> int32_t {
        return poll_oneoff(*sp, c, in, out, n, nevents);
    });
    def_plain("proc_exit", [](Caller& c, u32 code) { c.exit(int32_t(code)); });
    def_plain("proc_raise", [](Caller& c, u32 sig) -> int32_t {
        c.trap(fmt::format("the program raised signal {}", sig));
        return ok;
    });
    def_plain("sched_yield", [](Caller&) -> int32_t {
        ::sched_yield();
        return ok;
    });
    def_plain("random_get", [](Caller& c, u32 buf, u32 len) -> int32_t {
        Mem m{c};
        if (uint64_t(buf) + len > c.memory_size()) return efault;
        std::vector<uint8_t> chunk;
        for (uint32_t at = 0; at < len;) {
            size_t n = std::min<size_t>(len - at, 64 * 1024);
            chunk.resize(n);
            ssize_t got = ::getrandom(chunk.data(), n, 0);
            if (got < 0) {
                if (errno == EINTR) continue;
                return host_errno();
            }
            if (!m.write(uint64_t(buf) + at, chunk.data(), size_t(got))) return efault;
            at += uint32_t(got);
        }
        return ok;
    });
    // No sockets can be granted: every descriptor answers as a non-socket.
    static constexpr auto not_socket = [](State* sp, u32 fd) -> int32_t {
        return sp->get(fd) ? enotsock : ebadf;
    };
    def("sock_accept",
        [](State* sp, Caller&, u32 fd, u32, u32) -> int32_t { return not_socket(sp, fd); });
    def("sock_recv", [](State* sp, Caller&, u32 fd, u32, u32, u32, u32, u32) -> int32_t {
        return not_socket(sp, fd);
    });
    def("sock_send", [](State* sp, Caller&, u32 fd, u32, u32, u32, u32) -> int32_t {
        return not_socket(sp, fd);
    });
    def("sock_shutdown",
        [](State* sp, Caller&, u32 fd, u32) -> int32_t { return not_socket(sp, fd); });
}

} // namespace kiln

// ---- snapshots
//
// The descriptor table is saved as what it takes to open each descriptor again: a preopen by its
// guest name, a standard stream by its number, a file or directory by the preopen it lies under
// and its path there (read from /proc, so renames since it was opened are followed), its rights,
// flags and offset. Restoring opens everything first and then replaces the table, so a file that
// cannot be opened again leaves the state as it was.

namespace kiln {

namespace {

/// The host path of an open descriptor.
std::optional<std::string> host_path_of(int fd) {
    char buf[4096];
    std::string proc = fmt::format("/proc/self/fd/{}", fd);
    ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf);
    if (n <= 0 || size_t(n) >= sizeof buf) return std::nullopt;
    return std::string(buf, size_t(n));
}

tl::unexpected<Error> wasi_corrupt(std::string_view what) {
    return make_error(ErrorKind::malformed, fmt::format("snapshot: wasi section: {}", what));
}

} // namespace

Result<void> Wasi::save(Snapshot& out) const {
    const State& s = *m_state;
    // Each preopen's host path, to find which one a descriptor lies under.
    std::vector<std::pair<std::string, std::string>> roots; // host path, guest name
    for (const auto& f : s.fds)
        if (f && f->is_preopen)
            if (auto p = host_path_of(f->host.get())) roots.emplace_back(*p, f->preopen);
    Writer w;
    w.u64(s.stdin_pos);
    w.u32(uint32_t(s.fds.size()));
    for (size_t i = 0; i < s.fds.size(); ++i) {
        const auto& f = s.fds[i];
        w.u8(f.has_value());
        if (!f) continue;
        w.u8(uint8_t(f->type));
        w.u32(uint32_t(f->stream));
        w.u8(f->filetype);
        w.u32(f->fdflags);
        w.u64(f->base);
        w.u64(f->inheriting);
        w.u8(f->read_only);
        w.u8(f->is_preopen);
        if (f->type == Fd::Type::stream) continue;
        if (f->is_preopen) {
            w.str32(f->preopen);
            continue;
        }
        if (f->filetype != filetype_regular_file && f->filetype != filetype_directory)
            return make_error(ErrorKind::usage,
                              fmt::format("snapshot: WASI descriptor {} is not a regular file or "
                                          "directory (a pipe, socket or device cannot be opened "
                                          "again elsewhere)",
                                          i));
        auto path = host_path_of(f->host.get());
        if (!path || path->ends_with(" (deleted)"))
            return make_error(ErrorKind::usage,
                              fmt::format("snapshot: WASI descriptor {} names a file that was "
                                          "deleted, so it cannot be opened again",
                                          i));
        // The longest preopen that holds it.
        const std::pair<std::string, std::string>* root = nullptr;
        for (const auto& r : roots)
            if ((*path == r.first || path->starts_with(r.first + "/") || r.first == "/") &&
                (!root || r.first.size() > root->first.size()))
                root = &r;
        if (!root)
            return make_error(ErrorKind::usage,
                              fmt::format("snapshot: WASI descriptor {} ({}) lies under no "
                                          "preopened directory",
                                          i, *path));
        std::string rel = *path == root->first ? "." : path->substr(root->first.size());
        while (!rel.empty() && rel.front() == '/')
            rel.erase(0, 1);
        w.str32(root->second);
        w.str32(rel);
        off_t at = f->type == Fd::Type::file ? ::lseek(f->host.get(), 0, SEEK_CUR) : 0;
        w.u64(at < 0 ? 0 : uint64_t(at));
    }
    out.set("wasi", std::move(w.out()));
    return {};
}

Result<void> Wasi::restore(const Snapshot& in) {
    const std::vector<uint8_t>* image = in.get("wasi");
    if (!image) return make_error(ErrorKind::invalid, "snapshot: no wasi section");
    State& s = *m_state;
    Reader r(*image);
    auto bad = [](const Error&) { return wasi_corrupt("truncated or malformed"); };
#define WASI_READ(var, expr)                                                                       \
    auto var##_r = (expr);                                                                         \
    if (!var##_r) return bad(var##_r.error());                                                     \
    auto var = *var##_r
    WASI_READ(stdin_pos, r.u64_fixed());
    WASI_READ(n, r.u32_fixed());
    if (n > max_fds) return wasi_corrupt("too many descriptors");
    // This state's preopens and streams, to hand over to the slots that name them.
    std::map<std::string, Fd*> preopens;
    Fd* streams[3] = {};
    for (auto& f : s.fds) {
        if (f && f->is_preopen) preopens.emplace(f->preopen, &*f);
        if (f && f->type == Fd::Type::stream && f->stream >= 0 && f->stream < 3)
            streams[f->stream] = &*f;
    }
    std::vector<std::optional<Fd>> fds(n);
    std::vector<std::pair<Fd*, Fd*>> moves; // (from this state, into fds)
    for (uint32_t i = 0; i < n; ++i) {
        WASI_READ(present, r.u8());
        if (!present) continue;
        Fd f;
        WASI_READ(type, r.u8());
        WASI_READ(stream, r.u32_fixed());
        WASI_READ(filetype, r.u8());
        WASI_READ(fdflags, r.u32_fixed());
        WASI_READ(base, r.u64_fixed());
        WASI_READ(inheriting, r.u64_fixed());
        WASI_READ(read_only, r.u8());
        WASI_READ(is_preopen, r.u8());
        if (type > uint8_t(Fd::Type::dir)) return wasi_corrupt("unknown descriptor type");
        f.type = Fd::Type(type);
        f.filetype = filetype;
        f.fdflags = uint16_t(fdflags);
        f.base = base;
        f.inheriting = inheriting;
        f.read_only = read_only != 0;
        if (f.type == Fd::Type::stream) {
            if (stream > 2 || !streams[stream])
                return wasi_corrupt(fmt::format("descriptor {} names no standard stream", i));
            fds[i] = std::move(f);
            moves.emplace_back(streams[stream], &*fds[i]);
            continue;
        }
        WASI_READ(root, r.str32());
        auto it = preopens.find(root);
        if (it == preopens.end())
            return make_error(ErrorKind::invalid,
                              fmt::format("snapshot: WASI descriptor {} needs the preopened "
                                          "directory \"{}\", which is not granted here",
                                          i, root));
        // A read-only grant here cannot take back what the snapshot could write.
        if (it->second->read_only && !f.read_only)
            return make_error(ErrorKind::invalid,
                              fmt::format("snapshot: WASI descriptor {} was writable under "
                                          "\"{}\", which is read-only here",
                                          i, root));
        if (is_preopen) {
            fds[i] = std::move(f);
            moves.emplace_back(it->second, &*fds[i]);
            continue;
        }
        WASI_READ(rel, r.str32());
        WASI_READ(offset, r.u64_fixed());
        bool dir = f.type == Fd::Type::dir;
        bool wr =
            !dir && (base & (right::fd_write | right::fd_allocate | right::fd_filestat_set_size));
        bool rd = dir || (base & (right::fd_read | right::fd_readdir));
        int flags = O_NOFOLLOW | (dir ? O_DIRECTORY : 0);
        flags |= wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
        if (fdflags & fdflag_append) flags |= O_APPEND;
        if (fdflags & fdflag_nonblock) flags |= O_NONBLOCK;
        auto [h, e] = open_beneath(it->second->host.get(), rel, flags, 0);
        if (e != ok)
            return make_error(ErrorKind::io,
                              fmt::format("snapshot: WASI descriptor {} ({}/{}) cannot be opened "
                                          "again (WASI errno {})",
                                          i, root, rel, int(e)));
        if (!dir && ::lseek(h.get(), off_t(offset), SEEK_SET) < 0)
            return make_error(ErrorKind::io,
                              fmt::format("snapshot: WASI descriptor {} ({}/{}): cannot seek to {}",
                                          i, root, rel, offset));
        f.host = std::move(h);
        fds[i] = std::move(f);
    }
    if (!r.at_end()) return wasi_corrupt("bytes after the descriptor table");
#undef WASI_READ
    // Everything opened: hand the preopens and streams over and replace the table.
    for (auto [from, to] : moves) {
        to->host = std::move(from->host);
        to->stream = from->stream;
        to->preopen = from->preopen;
        to->is_preopen = from->is_preopen;
    }
    s.fds = std::move(fds);
    s.stdin_pos = size_t(stdin_pos);
    return {};
}

} // namespace kiln
