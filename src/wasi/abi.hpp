// The wasi_snapshot_preview1 ABI: errno values, flags, rights and the layouts of the structures
// the guest passes in linear memory (wasm32: pointers and sizes are 32 bits).
#pragma once

#include <cstdint>

namespace kiln::wasi {

/// WASI errno values (not the host's).
enum Errno : uint16_t {
    ok = 0,
    e2big = 1,
    eacces = 2,
    eagain = 6,
    ebadf = 8,
    ebusy = 10,
    eexist = 20,
    efault = 21,
    efbig = 22,
    eintr = 27,
    einval = 28,
    eio = 29,
    eisdir = 31,
    eloop = 32,
    emfile = 33,
    emlink = 34,
    enametoolong = 37,
    enfile = 41,
    enodev = 43,
    enoent = 44,
    enomem = 48,
    enospc = 51,
    enosys = 52,
    enotdir = 54,
    enotempty = 55,
    enotsock = 57,
    enotsup = 58,
    enotty = 59,
    enxio = 60,
    eoverflow = 61,
    eperm = 63,
    epipe = 64,
    erange = 68,
    erofs = 69,
    espipe = 70,
    etxtbsy = 74,
    exdev = 75,
    enotcapable = 76,
};

/// The WASI errno for a host errno value.
Errno errno_from_host(int host_errno);

enum Filetype : uint8_t {
    filetype_unknown = 0,
    filetype_block_device = 1,
    filetype_character_device = 2,
    filetype_directory = 3,
    filetype_regular_file = 4,
    filetype_socket_dgram = 5,
    filetype_socket_stream = 6,
    filetype_symbolic_link = 7,
};

// fdflags
constexpr uint16_t fdflag_append = 1, fdflag_dsync = 2, fdflag_nonblock = 4, fdflag_rsync = 8,
                   fdflag_sync = 16;
// oflags
constexpr uint16_t oflag_creat = 1, oflag_directory = 2, oflag_excl = 4, oflag_trunc = 8;
// lookupflags
constexpr uint32_t lookup_symlink_follow = 1;
// fstflags
constexpr uint16_t fst_atim = 1, fst_atim_now = 2, fst_mtim = 4, fst_mtim_now = 8;
// clock ids
constexpr uint32_t clock_realtime = 0, clock_monotonic = 1, clock_process_cputime = 2,
                   clock_thread_cputime = 3;
// subscription and event types
constexpr uint8_t event_clock = 0, event_fd_read = 1, event_fd_write = 2;
constexpr uint16_t subclock_abstime = 1;
constexpr uint16_t eventrw_hangup = 1;

/// Rights, one bit each.
namespace right {
constexpr uint64_t fd_datasync = 1ull << 0, fd_read = 1ull << 1, fd_seek = 1ull << 2,
                   fd_fdstat_set_flags = 1ull << 3, fd_sync = 1ull << 4, fd_tell = 1ull << 5,
                   fd_write = 1ull << 6, fd_advise = 1ull << 7, fd_allocate = 1ull << 8,
                   path_create_directory = 1ull << 9, path_create_file = 1ull << 10,
                   path_link_source = 1ull << 11, path_link_target = 1ull << 12,
                   path_open = 1ull << 13, fd_readdir = 1ull << 14, path_readlink = 1ull << 15,
                   path_rename_source = 1ull << 16, path_rename_target = 1ull << 17,
                   path_filestat_get = 1ull << 18, path_filestat_set_size = 1ull << 19,
                   path_filestat_set_times = 1ull << 20, fd_filestat_get = 1ull << 21,
                   fd_filestat_set_size = 1ull << 22, fd_filestat_set_times = 1ull << 23,
                   path_symlink = 1ull << 24, path_remove_directory = 1ull << 25,
                   path_unlink_file = 1ull << 26, poll_fd_readwrite = 1ull << 27,
                   sock_shutdown = 1ull << 28, sock_accept = 1ull << 29;

/// What a file descriptor may be granted at most.
constexpr uint64_t file_all = fd_datasync | fd_read | fd_seek | fd_fdstat_set_flags | fd_sync |
                              fd_tell | fd_write | fd_advise | fd_allocate | fd_filestat_get |
                              fd_filestat_set_size | fd_filestat_set_times | poll_fd_readwrite;
/// File rights that change nothing.
constexpr uint64_t file_read_only = fd_read | fd_seek | fd_tell | fd_advise | fd_filestat_get |
                                    poll_fd_readwrite | fd_fdstat_set_flags | fd_sync | fd_datasync;
/// What a directory descriptor may be granted at most.
constexpr uint64_t dir_all =
    fd_fdstat_set_flags | fd_sync | fd_datasync | fd_advise | path_create_directory |
    path_create_file | path_link_source | path_link_target | path_open | fd_readdir |
    path_readlink | path_rename_source | path_rename_target | path_filestat_get |
    path_filestat_set_size | path_filestat_set_times | fd_filestat_get | fd_filestat_set_times |
    path_symlink | path_remove_directory | path_unlink_file;
/// Directory rights that change nothing.
constexpr uint64_t dir_read_only = fd_fdstat_set_flags | fd_sync | fd_datasync | fd_advise |
                                   path_open | fd_readdir | path_readlink | path_filestat_get |
                                   fd_filestat_get;
/// Rights that write: absent from everything under a read-only preopen.
constexpr uint64_t writes = fd_write | fd_allocate | fd_filestat_set_size | fd_filestat_set_times |
                            path_create_directory | path_create_file | path_link_source |
                            path_link_target | path_rename_source | path_rename_target |
                            path_filestat_set_size | path_filestat_set_times | path_symlink |
                            path_remove_directory | path_unlink_file;
} // namespace right

// Sizes and field offsets of the structures in guest memory.
constexpr uint32_t iovec_size = 8;         // buf u32 @0, len u32 @4
constexpr uint32_t fdstat_size = 24;       // filetype u8 @0, flags u16 @2, base u64 @8, inh @16
constexpr uint32_t filestat_size = 64;     // dev @0 ino @8 type u8 @16 nlink @24 size @32
                                           // atim @40 mtim @48 ctim @56
constexpr uint32_t prestat_size = 8;       // tag u8 @0 (0: dir), name_len u32 @4
constexpr uint32_t dirent_size = 24;       // next @0 ino @8 namlen u32 @16 type u8 @20
constexpr uint32_t subscription_size = 48; // userdata @0 tag u8 @8; clock: id u32 @16
                                           // timeout u64 @24 precision @32 flags u16 @40;
                                           // fd_read/fd_write: fd u32 @16
constexpr uint32_t event_size = 32;        // userdata @0 error u16 @8 type u8 @10
                                           // nbytes u64 @16 flags u16 @24

} // namespace kiln::wasi
