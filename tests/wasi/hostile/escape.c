// A hostile WASI preview 1 guest: it tries every way we know to read, write, create, remove,
// rename, link or stat something outside its preopens, and to modify a read-only preopen.
// It prints one line per attempt and never judges itself; run_hostile.py holds the verdicts:
//   NAME: refused errno=NN (ENAME)   the host said no
//   NAME: ESCAPED detail              the host let it through (detail shows what leaked)
//   NAME: ok / NAME: FAILED detail    positive controls, which must work
// Most attempts call the raw __wasi_* imports on the preopen descriptors, because wasi-libc
// already refuses some paths (e.g. absolute ones outside every preopen) before the host sees
// them; a hostile guest is not obliged to use libc. A few go through libc for realism.
//
// Usage: escape.wasm GUEST_RW_DIR GUEST_RO_DIR HOST_ROOT
// HOST_ROOT is the host path of the directory holding outside/, sandbox/ and ro/, so that the
// guest can try absolute host paths, which a naive openat() would honour.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

// The name table below is indexed by number; make sure the numbering is the one we assume.
_Static_assert(ENOTCAPABLE == 76, "wasi errno numbering");
_Static_assert(ELOOP == 32 && EEXIST == 20 && ENOTDIR == 54 && EBADF == 8, "wasi errno numbering");

static const char* const errno_names[] = {
    "ESUCCESS",     "E2BIG",           "EACCES",       "EADDRINUSE",   "EADDRNOTAVAIL",
    "EAFNOSUPPORT", "EAGAIN",          "EALREADY",     "EBADF",        "EBADMSG",
    "EBUSY",        "ECANCELED",       "ECHILD",       "ECONNABORTED", "ECONNREFUSED",
    "ECONNRESET",   "EDEADLK",         "EDESTADDRREQ", "EDOM",         "EDQUOT",
    "EEXIST",       "EFAULT",          "EFBIG",        "EHOSTUNREACH", "EIDRM",
    "EILSEQ",       "EINPROGRESS",     "EINTR",        "EINVAL",       "EIO",
    "EISCONN",      "EISDIR",          "ELOOP",        "EMFILE",       "EMLINK",
    "EMSGSIZE",     "EMULTIHOP",       "ENAMETOOLONG", "ENETDOWN",     "ENETRESET",
    "ENETUNREACH",  "ENFILE",          "ENOBUFS",      "ENODEV",       "ENOENT",
    "ENOEXEC",      "ENOLCK",          "ENOLINK",      "ENOMEM",       "ENOMSG",
    "ENOPROTOOPT",  "ENOSPC",          "ENOSYS",       "ENOTCONN",     "ENOTDIR",
    "ENOTEMPTY",    "ENOTRECOVERABLE", "ENOTSOCK",     "ENOTSUP",      "ENOTTY",
    "ENXIO",        "EOVERFLOW",       "EOWNERDEAD",   "EPERM",        "EPIPE",
    "EPROTO",       "EPROTONOSUPPORT", "EPROTOTYPE",   "ERANGE",       "EROFS",
    "ESPIPE",       "ESRCH",           "ESTALE",       "ETIMEDOUT",    "ETXTBSY",
    "EXDEV",        "ENOTCAPABLE",
};
_Static_assert(sizeof errno_names / sizeof errno_names[0] == 77, "one name per wasi errno");

static const char* errno_name(int e) {
    return e >= 0 && e < 77 ? errno_names[e] : "E?";
}

// --- Rights ---------------------------------------------------------------------------------

#define R(x) __WASI_RIGHTS_##x
static const __wasi_rights_t FILE_R = R(FD_READ) | R(FD_SEEK) | R(FD_TELL) | R(FD_FILESTAT_GET);
static const __wasi_rights_t FILE_W = R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL) | R(FD_FILESTAT_GET) |
                                      R(FD_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_TIMES) |
                                      R(FD_ALLOCATE) | R(FD_DATASYNC) | R(FD_SYNC);
static const __wasi_rights_t DIR_ALL =
    R(PATH_OPEN) | R(FD_READDIR) | R(PATH_CREATE_DIRECTORY) | R(PATH_CREATE_FILE) |
    R(PATH_LINK_SOURCE) | R(PATH_LINK_TARGET) | R(PATH_READLINK) | R(PATH_RENAME_SOURCE) |
    R(PATH_RENAME_TARGET) | R(PATH_FILESTAT_GET) | R(PATH_FILESTAT_SET_SIZE) |
    R(PATH_FILESTAT_SET_TIMES) | R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_TIMES) | R(PATH_SYMLINK) |
    R(PATH_REMOVE_DIRECTORY) | R(PATH_UNLINK_FILE);
#undef R

#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define O_DIR __WASI_OFLAGS_DIRECTORY
#define O_NEW __WASI_OFLAGS_CREAT
#define O_EX __WASI_OFLAGS_EXCL
#define O_TR __WASI_OFLAGS_TRUNC
#define ALL_TIMES (__WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM)
// 2009-02-13: distinctive, so a successful set-times shows up plainly in the snapshot diff.
#define ODD_TIME 1234567890000000000ull

static __wasi_fd_t sb = (__wasi_fd_t)-1; // the read-write preopen
static __wasi_fd_t ro = (__wasi_fd_t)-1; // the read-only preopen
// What the sandbox lets us hand to children: escape attempts ask only for rights the sandbox
// has, so that a refusal can only come from the path check, never from a rights mismatch.
static __wasi_rights_t sb_inherit;
static __wasi_rights_t ro_inherit;
static char host_root[1024];

// --- Reporting ------------------------------------------------------------------------------

static void refused(const char* name, int e) {
    printf("%s: refused errno=%d (%s)\n", name, e, errno_name(e));
}

static void escaped(const char* name, const char* detail) {
    printf("%s: ESCAPED %s\n", name, detail);
}

static void control(const char* name, int e, const char* detail) {
    if (e == 0)
        printf("%s: ok\n", name);
    else
        printf("%s: FAILED errno=%d (%s) %s\n", name, e, errno_name(e), detail);
}

// For attempts where both outcomes are safe: "ok" or "refused", the harness lists which errno.
static void either(const char* name, int e) {
    if (e)
        refused(name, e);
    else
        printf("%s: ok\n", name);
}

// For operations whose success is the whole escape (mkdir, unlink, rename, link, set-times).
static void verdict(const char* name, int e, const char* detail) {
    if (e)
        refused(name, e);
    else
        escaped(name, detail);
}

static void close_quietly(__wasi_fd_t fd) {
    (void)__wasi_fd_close(fd);
}

// Read up to 200 bytes from FD into OUT as printable text, so that a leaked canary's marker
// reaches stdout, where the harness looks for it.
static void read_printable(__wasi_fd_t fd, char* out, size_t cap) {
    unsigned char buf[200];
    __wasi_iovec_t iov = {buf, sizeof buf};
    __wasi_size_t n = 0;
    size_t j = 0;
    if (__wasi_fd_read(fd, &iov, 1, &n) != 0) n = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++)
        out[j++] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '.';
    out[j] = 0;
}

// Names in a directory opened by an escape, so the log shows what became visible.
static void list_dir(__wasi_fd_t fd, char* out, size_t cap) {
    unsigned char buf[2048];
    __wasi_size_t used = 0;
    size_t j = 0;
    out[0] = 0;
    if (__wasi_fd_readdir(fd, buf, sizeof buf, 0, &used) != 0) return;
    for (size_t at = 0; at + sizeof(__wasi_dirent_t) <= used;) {
        __wasi_dirent_t d;
        memcpy(&d, buf + at, sizeof d);
        at += sizeof d;
        for (size_t i = 0; i < d.d_namlen && at + i < used && j + 2 < cap; i++)
            out[j++] = (char)buf[at + i];
        if (j + 2 < cap) out[j++] = ' ';
        at += d.d_namlen;
    }
    out[j] = 0;
}

// An open that got through: prove it by writing (if we asked to write) or reading, and say so.
static void exploit_fd(const char* name, __wasi_fd_t fd, __wasi_rights_t rights, int is_dir) {
    char detail[600], text[400];
    if (is_dir) {
        list_dir(fd, text, sizeof text);
        snprintf(detail, sizeof detail, "opened a directory listing: %s", text);
    } else if (rights & __WASI_RIGHTS_FD_WRITE) {
        char msg[160];
        snprintf(msg, sizeof msg, "written by hostile guest attempt %s\n", name);
        __wasi_ciovec_t iov = {(const uint8_t*)msg, strlen(msg)};
        __wasi_size_t n = 0;
        __wasi_errno_t e = __wasi_fd_write(fd, &iov, 1, &n);
        snprintf(detail, sizeof detail, "opened for writing; write -> errno=%d, %u bytes", e,
                 (unsigned)n);
    } else {
        read_printable(fd, text, sizeof text);
        snprintf(detail, sizeof detail, "read=\"%s\"", text);
    }
    escaped(name, detail);
    close_quietly(fd);
}

// path_open with explicit rights; on success the escape is demonstrated and reported.
static void try_open(const char* name, __wasi_fd_t dir, __wasi_lookupflags_t look, const char* path,
                     __wasi_oflags_t of, __wasi_rights_t rights, __wasi_fdflags_t ff) {
    __wasi_fd_t fd;
    __wasi_rights_t inherit = (of & O_DIR) ? rights : 0;
    __wasi_errno_t e = __wasi_path_open(dir, look, path, of, rights, inherit, ff, &fd);
    if (e)
        refused(name, e);
    else
        exploit_fd(name, fd, rights, (of & O_DIR) != 0);
}

// Escapes through the sandbox only ask for rights the sandbox may grant.
static void sb_read(const char* name, __wasi_lookupflags_t look, const char* path) {
    try_open(name, sb, look, path, 0, FILE_R & sb_inherit, 0);
}

static void sb_open(const char* name, __wasi_lookupflags_t look, const char* path,
                    __wasi_oflags_t of, __wasi_rights_t rights, __wasi_fdflags_t ff) {
    try_open(name, sb, look, path, of, rights & sb_inherit, ff);
}

static void sb_opendir(const char* name, __wasi_lookupflags_t look, const char* path) {
    try_open(name, sb, look, path, O_DIR, DIR_ALL & sb_inherit, 0);
}

// Open a directory under DIR as a base for further attempts (not an attempt by itself).
static __wasi_errno_t open_dir(__wasi_fd_t dir, const char* path, __wasi_rights_t base,
                               __wasi_rights_t inherit, __wasi_fd_t* out) {
    return __wasi_path_open(dir, FOLLOW, path, O_DIR, base, inherit, 0, out);
}

static const char* host_path(const char* rel) {
    static char bufs[4][1200];
    static int next;
    char* b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", host_root, rel);
    return b;
}

// --- Attempts -------------------------------------------------------------------------------

static void lexical_dotdot(void) {
    sb_read("dotdot_open", FOLLOW, "../outside/canary.txt");
    sb_read("dotdot_mid", FOLLOW, "sub/../../outside/canary.txt");
    sb_read("dotdot_dot", FOLLOW, "./../outside/canary.txt");
    sb_read("dotdot_deep", FOLLOW, "sub/deeper/../../../outside/canary.txt");
    sb_read("dotdot_etc_passwd", FOLLOW, "../../../../../../../../../../../../etc/passwd");
    sb_read("dotdot_nofollow", 0, "../outside/canary.txt");
    sb_read("dotdot_secret", FOLLOW, "sub/./../.././outside/secret.txt");
    sb_read("dotdot_double_slash", FOLLOW, "sub//..//../outside/canary.txt");
    sb_opendir("dotdot_dir", FOLLOW, "..");
    sb_opendir("dotdot_dir_trailing", FOLLOW, "../");
    sb_opendir("dotdot_outside_dir", FOLLOW, "../outside/canary_dir");

    // "." is the sandbox itself; from a descriptor opened on it, ".." must still be outside.
    __wasi_fd_t dot;
    __wasi_errno_t e = open_dir(sb, ".", DIR_ALL & sb_inherit, sb_inherit, &dot);
    control("control_open_dot", e, "open . as a directory");
    if (e == 0) {
        try_open("dot_then_dotdot", dot, FOLLOW, "../outside/canary.txt", 0, FILE_R & sb_inherit,
                 0);
        close_quietly(dot);
    } else {
        refused("dot_then_dotdot", e);
    }

    // From a subdirectory, two ".." leave the sandbox. One ".." stays inside the preopen, but a
    // host may treat every directory descriptor as its own root (as capability-based ones do),
    // so either answer is accepted for that one.
    __wasi_fd_t sub;
    e = open_dir(sb, "sub", DIR_ALL & sb_inherit, sb_inherit, &sub);
    control("control_open_sub", e, "open sub as a directory");
    if (e == 0) {
        __wasi_fd_t fd;
        __wasi_errno_t e2 =
            __wasi_path_open(sub, FOLLOW, "../file.txt", 0, FILE_R & sb_inherit, 0, 0, &fd);
        either("subfd_dotdot_inside", e2);
        if (e2 == 0) close_quietly(fd);
        try_open("sub_then_dotdot2", sub, FOLLOW, "../../outside/canary.txt", 0,
                 FILE_R & sb_inherit, 0);
        try_open("sub_then_dotdot_dir", sub, FOLLOW, "../..", O_DIR, DIR_ALL & sb_inherit, 0);
        close_quietly(sub);
    } else {
        refused("sub_then_dotdot2", e);
        refused("sub_then_dotdot_dir", e);
    }

    // A descriptor reached through ".." (sub/deeper/..) must keep the sandbox as its limit.
    __wasi_fd_t deeper, back;
    e = open_dir(sb, "sub/deeper", DIR_ALL & sb_inherit, sb_inherit, &deeper);
    if (e == 0) {
        e = open_dir(deeper, "..", DIR_ALL & sb_inherit, sb_inherit, &back);
        either("subfd_open_dotdot", e);
        if (e == 0) {
            try_open("reopen_via_dotdot_escape", back, FOLLOW, "../../outside/canary.txt", 0,
                     FILE_R & sb_inherit, 0);
            close_quietly(back);
        } else {
            refused("reopen_via_dotdot_escape", e);
        }
        close_quietly(deeper);
    } else {
        control("subfd_open_dotdot", e, "open sub/deeper");
        refused("reopen_via_dotdot_escape", e);
    }
}

static void absolute_paths(void) {
    sb_read("abs_etc_passwd", FOLLOW, "/etc/passwd");
    sb_read("abs_host_canary", FOLLOW, host_path("outside/canary.txt"));
    sb_read("abs_host_canary_nofollow", 0, host_path("outside/canary.txt"));
    sb_read("abs_double_slash", FOLLOW, "//etc/passwd");
    sb_read("abs_guest_path", FOLLOW, "/sandbox/file.txt");
    sb_opendir("abs_root_dir", FOLLOW, "/");
    sb_opendir("abs_host_outside_dir", FOLLOW, host_path("outside"));
}

static void symlinks_outward(void) {
    sb_read("symlink_abs_target", FOLLOW, "abs_link");
    sb_read("symlink_rel_target", FOLLOW, "rel_link");
    sb_read("symlink_sub_up", FOLLOW, "sub/up_link");
    sb_read("symlink_dir_abs_component", FOLLOW, "abs_dirlink/canary.txt");
    sb_read("symlink_dir_rel_component", FOLLOW, "rel_dirlink/canary.txt");
    // Lookup flags govern only the last component; directories on the way are always followed.
    sb_read("symlink_dir_component_nofollow", 0, "rel_dirlink/canary.txt");
    sb_read("symlink_dir_abs_component_nofollow", 0, "abs_dirlink/secret.txt");
    // A trailing slash (or /.) forces the last symlink to be followed even without FOLLOW.
    sb_opendir("symlink_trailing_slash", 0, "rel_dirlink/");
    sb_opendir("symlink_trailing_slash_follow", FOLLOW, "rel_dirlink/");
    sb_opendir("symlink_abs_trailing_slash", 0, "abs_dirlink/");
    sb_opendir("symlink_trailing_dot", 0, "rel_dirlink/.");
    sb_read("symlink_file_trailing_slash", FOLLOW, "rel_link/");
    sb_read("symlink_file_trailing_dot", FOLLOW, "rel_link/.");
    sb_opendir("symlink_dir_open", FOLLOW, "rel_dirlink");
    sb_opendir("symlink_dir_abs_open", FOLLOW, "abs_dirlink");
    // O_DIRECTORY without FOLLOW on a link to an outside directory: ELOOP or ENOTDIR as Linux
    // would say, or a refusal of the target; never the directory.
    sb_opendir("symlink_dir_open_nofollow", 0, "rel_dirlink");
    sb_read("symlink_to_dotdot", FOLLOW, "dotdot_link/outside/canary.txt");
    sb_read("symlink_chain", FOLLOW, "chain1");
    sb_read("symlink_chain_mid", FOLLOW, "chain2");
    // linkdir -> sub, deeplinkdir -> sub/deeper: ".." after them leaves the sandbox whether the
    // host resolves ".." lexically or physically.
    sb_read("symlink_linkdir_dotdot", FOLLOW, "linkdir/../../outside/canary.txt");
    sb_read("symlink_deeplinkdir_dotdot", FOLLOW, "deeplinkdir/../../../outside/canary.txt");
    // Without FOLLOW the final symlink must not be opened through (ELOOP, like O_NOFOLLOW).
    sb_read("symlink_nofollow_final", 0, "rel_link");
    // Write-side: truncate, write, append and create through links that leave the sandbox.
    sb_open("symlink_trunc", FOLLOW, "rel_link", O_TR, FILE_R | FILE_W, 0);
    sb_open("symlink_trunc_abs", FOLLOW, "abs_link", O_TR, FILE_W, 0);
    sb_open("symlink_write", FOLLOW, "rel_link", 0, FILE_W, 0);
    sb_open("symlink_append", FOLLOW, "abs_link", 0, FILE_W, __WASI_FDFLAGS_APPEND);
    sb_open("symlink_creat_dangling_rel", FOLLOW, "dangle_rel", O_NEW, FILE_W, 0);
    sb_open("symlink_creat_dangling_abs", FOLLOW, "dangle_abs", O_NEW, FILE_W, 0);
    sb_open("symlink_creat_dangling_trunc", FOLLOW, "dangle_rel", O_NEW | O_TR, FILE_W, 0);
    // O_EXCL never follows the final link, so EEXIST is as good an answer as ENOTCAPABLE.
    sb_open("symlink_creat_excl_dangling", FOLLOW, "dangle_rel", O_NEW | O_EX, FILE_W, 0);
    // Creating "link/" where the link dangles outside: EISDIR on Linux, or a refusal.
    sb_open("symlink_creat_trailing_slash", FOLLOW, "dangle_rel/", O_NEW, FILE_W, 0);
    sb_open("symlink_creat_through_dirlink", FOLLOW, "rel_dirlink/created_via_dirlink.txt", O_NEW,
            FILE_W, 0);
    sb_open("symlink_to_ro_write", FOLLOW, "ro_abs_link", 0, FILE_W, 0);
    sb_open("dotdot_to_ro_trunc", FOLLOW, "../ro/ro_file.txt", O_TR, FILE_W, 0);
}

static void symlink_loops(void) {
    sb_read("loop_pair", FOLLOW, "loop_a");
    sb_read("loop_self", FOLLOW, "self_loop");
    sb_read("loop_component", 0, "loop_a/x");
    sb_read("loop_trailing_slash", 0, "self_loop/");
    sb_open("loop_creat", FOLLOW, "loop_b", O_NEW, FILE_W, 0);
    __wasi_filestat_t st;
    verdict("loop_stat", __wasi_path_filestat_get(sb, FOLLOW, "loop_b", &st), "stat succeeded");
    verdict("loop_mkdir_below", __wasi_path_create_directory(sb, "self_loop/d"), "mkdir ran");
}

// Make LINK -> "../../outside/canary.txt" (inside: it names sub/outside/canary.txt from
// sub/mover/), then move it one level up (how 0: rename, 1: hard link, 2: rename its directory
// sub/mover2 to mover2), where the same text leaves the sandbox; then try to read through it.
static void moved_link(const char* name, const char* link, int how, const char* to) {
    __wasi_errno_t e = __wasi_path_symlink("../../outside/canary.txt", sb, link);
    if (e) {
        refused(name, e);
        return;
    }
    if (how == 0)
        e = __wasi_path_rename(sb, link, sb, to);
    else if (how == 1)
        e = __wasi_path_link(sb, 0, link, sb, to);
    else
        e = __wasi_path_rename(sb, "sub/mover2", sb, "mover2");
    if (e) {
        // Moving a link within the sandbox is allowed, so this is unexpected; say so.
        printf("%s: FAILED errno=%d (%s) moving the link inside the sandbox\n", name, e,
               errno_name(e));
        return;
    }
    sb_read(name, FOLLOW, how == 2 ? "mover2/dmv_link" : to);
}

// Symlinks the guest makes itself. Creating one whose text points outside may be refused or
// allowed; following it must not be.
static void guest_symlinks(void) {
    __wasi_errno_t e;
    e = __wasi_path_symlink("../outside/created_via_guest_link.txt", sb, "g_rel_link");
    if (e)
        refused("guest_symlink_rel_creat", e);
    else
        sb_open("guest_symlink_rel_creat", FOLLOW, "g_rel_link", O_NEW, FILE_W, 0);

    e = __wasi_path_symlink(host_path("outside/created_via_guest_abs.txt"), sb, "g_abs_link");
    if (e)
        refused("guest_symlink_abs_creat", e);
    else
        sb_open("guest_symlink_abs_creat", FOLLOW, "g_abs_link", O_NEW, FILE_W, 0);

    e = __wasi_path_symlink("../outside/canary.txt", sb, "g_canary_link");
    if (e)
        refused("guest_symlink_canary_trunc", e);
    else
        sb_open("guest_symlink_canary_trunc", FOLLOW, "g_canary_link", O_TR, FILE_W, 0);

    e = __wasi_path_symlink("../ro/ro_file.txt", sb, "g_ro_link");
    if (e)
        refused("guest_symlink_ro_write", e);
    else
        sb_open("guest_symlink_ro_write", FOLLOW, "g_ro_link", 0, FILE_W, 0);

    e = __wasi_path_symlink("../outside", sb, "g_dirlink");
    if (e)
        refused("guest_symlink_dir_mkdir", e);
    else
        verdict("guest_symlink_dir_mkdir",
                __wasi_path_create_directory(sb, "g_dirlink/created_dir_via_guest_link"),
                "created a directory outside");

    // Create the link inside a subdirectory, then read through it.
    e = __wasi_path_symlink("../../outside/secret.txt", sb, "sub/g_up_link");
    if (e)
        refused("guest_symlink_sub_read", e);
    else
        sb_read("guest_symlink_sub_read", FOLLOW, "sub/g_up_link");

    // Making the link itself somewhere outside the sandbox is an escape on its own.
    verdict("guest_symlink_placed_outside",
            __wasi_path_symlink("whatever", sb, "../outside/placed_link"),
            "created a symlink outside");
    verdict("guest_symlink_via_dirlink_name",
            __wasi_path_symlink("whatever", sb, "rel_dirlink/placed_link2"),
            "created a symlink outside");

    // A relative target that stays inside where the link is made, but leaves once the link (or
    // its directory) is moved or hard-linked one level up: checking the text at creation time
    // is not enough, the check must happen when the link is followed.
    moved_link("guest_symlink_moved_then_follow", "sub/mover/mv_link", 0, "sub/mv_link");
    moved_link("guest_symlink_linked_up_then_follow", "sub/mover/ln_link", 1, "sub/ln_link");
    moved_link("guest_symlink_dir_moved_then_follow", "sub/mover2/dmv_link", 2, NULL);
}

static void hard_links(void) {
    verdict("link_dotdot_source", __wasi_path_link(sb, 0, "../outside/canary.txt", sb, "hl_a"),
            "hard-linked the canary into the sandbox");
    verdict("link_abs_source", __wasi_path_link(sb, 0, host_path("outside/canary.txt"), sb, "hl_b"),
            "hard-linked the canary into the sandbox");
    verdict("link_dirlink_source", __wasi_path_link(sb, 0, "rel_dirlink/canary.txt", sb, "hl_c"),
            "hard-linked the canary into the sandbox");
    verdict("link_follow_symlink", __wasi_path_link(sb, FOLLOW, "rel_link", sb, "hl_d"),
            "hard-linked the symlink's outside target");
    verdict("link_dest_outside", __wasi_path_link(sb, 0, "file.txt", sb, "../outside/hl_out"),
            "created a hard link outside");
    verdict("link_dest_dirlink", __wasi_path_link(sb, 0, "file.txt", sb, "rel_dirlink/hl_out2"),
            "created a hard link outside");
    verdict("link_dest_abs", __wasi_path_link(sb, 0, "file.txt", sb, host_path("outside/hl_out3")),
            "created a hard link outside");

    // Hard-linking the symlink itself (no FOLLOW) only copies its text; what matters is that
    // the copy cannot be followed out, and that the canary's link count does not move.
    __wasi_errno_t e = __wasi_path_link(sb, 0, "link_src_symlink", sb, "hl_of_symlink");
    if (e)
        refused("link_of_symlink_then_open", e);
    else
        sb_open("link_of_symlink_then_open", FOLLOW, "hl_of_symlink", 0, FILE_R | FILE_W, 0);
}

static void renames(void) {
    verdict("rename_file_out", __wasi_path_rename(sb, "movable1.txt", sb, "../outside/moved1"),
            "moved a file outside");
    verdict("rename_file_out_abs",
            __wasi_path_rename(sb, "movable2.txt", sb, host_path("outside/moved2")),
            "moved a file outside");
    verdict("rename_file_via_dirlink",
            __wasi_path_rename(sb, "movable3.txt", sb, "rel_dirlink/moved3"),
            "moved a file outside");
    verdict("rename_over_canary",
            __wasi_path_rename(sb, "movable4.txt", sb, "../outside/canary.txt"),
            "replaced the canary");
    verdict("rename_dir_out", __wasi_path_rename(sb, "movdir", sb, "../movdir_out"),
            "moved a directory outside");
    verdict("rename_dir_up2", __wasi_path_rename(sb, "movdir", sb, "../../movdir_up2"),
            "moved a directory outside");
    verdict("rename_symlink_out",
            __wasi_path_rename(sb, "rename_link", sb, "../outside/renamed_link"),
            "moved a symlink outside");
    verdict("rename_canary_in", __wasi_path_rename(sb, "../outside/canary.txt", sb, "stolen.txt"),
            "moved the canary into the sandbox");
    verdict("rename_canary_dir_in",
            __wasi_path_rename(sb, "../outside/canary_dir", sb, "stolen_dir"),
            "moved the canary directory into the sandbox");
    verdict("rename_canary_via_dirlink",
            __wasi_path_rename(sb, "rel_dirlink/secret.txt", sb, "stolen2.txt"),
            "moved a canary into the sandbox");

    // Hold a descriptor inside a directory, try to move the directory out, then use the held
    // descriptor's ".." chain: it must stay bounded by the sandbox either way.
    __wasi_fd_t held;
    __wasi_errno_t e = open_dir(sb, "movdir2/inner", DIR_ALL & sb_inherit, sb_inherit, &held);
    control("control_open_held_dir", e, "open movdir2/inner");
    verdict("rename_held_dir_out", __wasi_path_rename(sb, "movdir2", sb, "../movdir2_out"),
            "moved a directory outside");
    if (e == 0) {
        try_open("held_dir_escape", held, FOLLOW, "../../../outside/canary.txt", 0,
                 FILE_R & sb_inherit, 0);
        close_quietly(held);
    } else {
        refused("held_dir_escape", e);
    }

    // Moving an (absolute-target) symlink around inside is fine; following it is not.
    e = __wasi_path_rename(sb, "rename_link2", sb, "sub/renamed_link2");
    control("control_rename_symlink_within", e, "rename a symlink within the sandbox");
    sb_read("renamed_symlink_follow", FOLLOW, e == 0 ? "sub/renamed_link2" : "rename_link2");
}

static void remove_and_create(void) {
    verdict("unlink_dotdot", __wasi_path_unlink_file(sb, "../outside/secret.txt"),
            "deleted a canary");
    verdict("unlink_abs", __wasi_path_unlink_file(sb, host_path("outside/secret.txt")),
            "deleted a canary");
    verdict("unlink_via_dirlink", __wasi_path_unlink_file(sb, "rel_dirlink/secret.txt"),
            "deleted a canary");
    verdict("unlink_outside_symlink", __wasi_path_unlink_file(sb, "../outside/out_link"),
            "deleted a symlink outside");
    verdict("rmdir_dotdot", __wasi_path_remove_directory(sb, "../outside/empty_dir"),
            "removed a directory outside");
    verdict("rmdir_abs", __wasi_path_remove_directory(sb, host_path("outside/empty_dir")),
            "removed a directory outside");
    verdict("rmdir_via_dirlink", __wasi_path_remove_directory(sb, "rel_dirlink/empty_dir"),
            "removed a directory outside");
    // rmdir "link/" either refuses the path (ENOTCAPABLE) or, like Linux, refuses to treat
    // the symlink as a directory (ENOTDIR); removing the target is the failure.
    verdict("rmdir_symlink_trailing", __wasi_path_remove_directory(sb, "empty_dirlink/"),
            "removed a directory outside");
    verdict("mkdir_dotdot", __wasi_path_create_directory(sb, "../outside/new_dir"),
            "created a directory outside");
    verdict("mkdir_abs", __wasi_path_create_directory(sb, host_path("outside/new_dir_abs")),
            "created a directory outside");
    verdict("mkdir_via_dirlink", __wasi_path_create_directory(sb, "rel_dirlink/new_dir2"),
            "created a directory outside");
    verdict("mkdir_up3", __wasi_path_create_directory(sb, "../../../new_dir_up3"),
            "created a directory outside");
    // mkdir on a dangling link: Linux says EEXIST without following; ENOTCAPABLE is fine too.
    verdict("mkdir_dangling_link_trailing", __wasi_path_create_directory(sb, "dangle_dir/"),
            "created a directory outside");

    // Unlinking a symlink that points outside removes the link, never the target.
    control("control_unlink_symlink_itself", __wasi_path_unlink_file(sb, "unlink_me_link"),
            "unlink a symlink in the sandbox");
}

static void metadata(void) {
    __wasi_filestat_t st;
    verdict("stat_dotdot", __wasi_path_filestat_get(sb, 0, "../outside/canary.txt", &st),
            "stat leaked metadata");
    verdict("stat_abs", __wasi_path_filestat_get(sb, 0, host_path("outside/canary.txt"), &st),
            "stat leaked metadata");
    verdict("stat_follow_symlink", __wasi_path_filestat_get(sb, FOLLOW, "rel_link", &st),
            "stat leaked metadata");
    verdict("stat_follow_abs_symlink", __wasi_path_filestat_get(sb, FOLLOW, "abs_link", &st),
            "stat leaked metadata");
    verdict("stat_dirlink_component",
            __wasi_path_filestat_get(sb, 0, "rel_dirlink/canary.txt", &st), "stat leaked metadata");
    verdict("stat_trailing_slash", __wasi_path_filestat_get(sb, 0, "rel_dirlink/", &st),
            "stat leaked metadata");
    verdict("stat_chain", __wasi_path_filestat_get(sb, FOLLOW, "chain1", &st),
            "stat leaked metadata");

    // lstat of an escaping link describes the link, which lives inside: allowed.
    __wasi_errno_t e = __wasi_path_filestat_get(sb, 0, "rel_link", &st);
    if (e == 0 && st.filetype != __WASI_FILETYPE_SYMBOLIC_LINK)
        escaped("control_lstat_symlink_itself", "lstat followed the link");
    else
        control("control_lstat_symlink_itself", e, "lstat a symlink in the sandbox");

    verdict("settimes_dotdot",
            __wasi_path_filestat_set_times(sb, 0, "../outside/canary.txt", ODD_TIME, ODD_TIME,
                                           ALL_TIMES),
            "changed times outside");
    verdict("settimes_abs",
            __wasi_path_filestat_set_times(sb, 0, host_path("outside/canary.txt"), ODD_TIME,
                                           ODD_TIME, ALL_TIMES),
            "changed times outside");
    verdict("settimes_follow_symlink",
            __wasi_path_filestat_set_times(sb, FOLLOW, "abs_link", ODD_TIME, ODD_TIME, ALL_TIMES),
            "changed times outside");
    verdict("settimes_now_follow_symlink",
            __wasi_path_filestat_set_times(sb, FOLLOW, "rel_link", 0, 0,
                                           __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW),
            "changed times outside");
    verdict("settimes_dirlink_component",
            __wasi_path_filestat_set_times(sb, 0, "rel_dirlink/canary_dir", ODD_TIME, ODD_TIME,
                                           ALL_TIMES),
            "changed times outside");
    verdict("settimes_outside_dir",
            __wasi_path_filestat_set_times(sb, 0, "..", ODD_TIME, ODD_TIME, ALL_TIMES),
            "changed times outside");

    // readlink of a link inside returns its text, which is not a leak.
    char buf[256];
    __wasi_size_t n = 0;
    e = __wasi_path_readlink(sb, "rel_link", (uint8_t*)buf, sizeof buf - 1, &n);
    if (e == 0) {
        buf[n] = 0;
        control("control_readlink", strcmp(buf, "../outside/canary.txt") ? EINVAL : 0,
                "readlink returned the wrong text");
    } else {
        control("control_readlink", e, "readlink a symlink in the sandbox");
    }
    verdict("readlink_dotdot",
            __wasi_path_readlink(sb, "../outside/out_link", (uint8_t*)buf, sizeof buf, &n),
            "read a link outside");
    verdict("readlink_via_dirlink",
            __wasi_path_readlink(sb, "rel_dirlink/out_link", (uint8_t*)buf, sizeof buf, &n),
            "read a link outside");
    verdict("readlink_abs",
            __wasi_path_readlink(sb, host_path("outside/out_link"), (uint8_t*)buf, sizeof buf, &n),
            "read a link outside");
}

// Things that must keep working in the read-write sandbox.
static void sandbox_controls(void) {
    char text[256];
    struct {
        const char *name, *path, *want;
    } reads[] = {
        {"control_read_file", "file.txt", "inside file"},
        {"control_inside_symlink", "inside_link", "inside file"},
        {"control_inside_dirlink", "inside_dirlink/inner.txt", "inner file"},
        {"control_inside_chain", "inside_chain", "inside file"},
        {"control_dotdot_inside", "sub/../file.txt", "inside file"},
    };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        __wasi_fd_t fd;
        __wasi_errno_t e =
            __wasi_path_open(sb, FOLLOW, reads[i].path, 0, FILE_R & sb_inherit, 0, 0, &fd);
        if (e == 0) {
            read_printable(fd, text, sizeof text);
            close_quietly(fd);
            if (strncmp(text, reads[i].want, strlen(reads[i].want)) != 0) e = EINVAL;
        }
        control(reads[i].name, e, reads[i].path);
    }

    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(sb, FOLLOW, "created_inside.txt", O_NEW | O_TR,
                                        (FILE_R | FILE_W) & sb_inherit, 0, 0, &fd);
    if (e == 0) {
        const char msg[] = "hello\n";
        __wasi_ciovec_t iov = {(const uint8_t*)msg, sizeof msg - 1};
        __wasi_size_t n;
        e = __wasi_fd_write(fd, &iov, 1, &n);
        close_quietly(fd);
    }
    control("control_create_write", e, "create and write created_inside.txt");
    control("control_mkdir_inside", __wasi_path_create_directory(sb, "made_inside"),
            "mkdir made_inside");
    // A guest-made symlink pointing inside must work too.
    e = __wasi_path_symlink("sub/inner.txt", sb, "g_inside_link");
    if (e == 0) {
        e = __wasi_path_open(sb, FOLLOW, "g_inside_link", 0, FILE_R & sb_inherit, 0, 0, &fd);
        if (e == 0) close_quietly(fd);
    }
    control("control_guest_inside_symlink", e, "symlink to sub/inner.txt and open it");
}

// Through wasi-libc, as an ordinary C program would do it.
static void libc_attempts(const char* rw, const char* rodir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/../outside/canary.txt", rw);
    errno = 0;
    FILE* f = fopen(p, "r");
    if (f) {
        char text[200] = {0};
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        for (size_t i = 0; i < n; i++)
            if (text[i] < 0x20 || text[i] >= 0x7f) text[i] = '.';
        fclose(f);
        char detail[300];
        snprintf(detail, sizeof detail, "read=\"%s\"", text);
        escaped("libc_fopen_dotdot", detail);
    } else {
        refused("libc_fopen_dotdot", errno);
    }

    errno = 0;
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0) {
        close(fd);
        escaped("libc_open_etc_passwd", "opened /etc/passwd");
    } else {
        refused("libc_open_etc_passwd", errno);
    }

    struct stat st;
    snprintf(p, sizeof p, "%s/rel_link", rw);
    errno = 0;
    if (stat(p, &st) == 0)
        escaped("libc_stat_symlink", "stat followed the link out");
    else
        refused("libc_stat_symlink", errno);

    snprintf(p, sizeof p, "%s/..", rw);
    errno = 0;
    DIR* d = opendir(p);
    if (d) {
        closedir(d);
        escaped("libc_opendir_dotdot", "opened the sandbox's parent");
    } else {
        refused("libc_opendir_dotdot", errno);
    }

    snprintf(p, sizeof p, "%s/ro_file.txt", rodir);
    errno = 0;
    f = fopen(p, "w");
    if (f) {
        fclose(f);
        escaped("libc_fopen_write_ro", "truncated a read-only file");
    } else {
        refused("libc_fopen_write_ro", errno);
    }

    snprintf(p, sizeof p, "%s/sub", rw);
    if (chdir(p) != 0) {
        refused("libc_chdir_then_dotdot", errno);
    } else {
        errno = 0;
        fd = open("../../outside/canary.txt", O_RDONLY);
        if (fd >= 0) {
            close(fd);
            escaped("libc_chdir_then_dotdot", "opened the canary");
        } else {
            refused("libc_chdir_then_dotdot", errno);
        }
    }
}

// --- The read-only preopen ------------------------------------------------------------------

static void ro_fd_attempt(const char* name, int which) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(ro, 0, "ro_file.txt", 0, FILE_R & ro_inherit, 0, 0, &fd);
    if (e) {
        // Opening for reading is a control elsewhere; here it only blocks the attempt.
        printf("%s: FAILED errno=%d (%s) cannot open ro_file.txt for reading\n", name, e,
               errno_name(e));
        return;
    }
    const char msg[] = "overwritten by hostile guest\n";
    __wasi_ciovec_t iov = {(const uint8_t*)msg, sizeof msg - 1};
    __wasi_size_t n = 0;
    switch (which) {
    case 0: e = __wasi_fd_write(fd, &iov, 1, &n); break;
    case 1: e = __wasi_fd_pwrite(fd, &iov, 1, 0, &n); break;
    case 2: e = __wasi_fd_filestat_set_size(fd, 0); break;
    case 3: e = __wasi_fd_filestat_set_times(fd, ODD_TIME, ODD_TIME, ALL_TIMES); break;
    case 4: e = __wasi_fd_allocate(fd, 0, 65536); break;
    default:
        // Turning on append (an fd flag) must not make the descriptor writable.
        (void)__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND);
        e = __wasi_fd_write(fd, &iov, 1, &n);
        break;
    }
    close_quietly(fd);
    verdict(name, e, "modified a read-only file through a read descriptor");
}

static void read_only(void) {
    __wasi_fd_t fd;
    char text[256];
    // Positive controls: reading works.
    __wasi_errno_t e = __wasi_path_open(ro, 0, "ro_file.txt", 0, FILE_R & ro_inherit, 0, 0, &fd);
    if (e == 0) {
        read_printable(fd, text, sizeof text);
        close_quietly(fd);
        if (strncmp(text, "read-only file", 14) != 0) e = EINVAL;
    }
    control("ro_control_read", e, "read ro_file.txt");
    __wasi_filestat_t st;
    control("ro_control_stat", __wasi_path_filestat_get(ro, 0, "ro_file.txt", &st), "stat");
    unsigned char dbuf[512];
    __wasi_size_t used;
    control("ro_control_readdir", __wasi_fd_readdir(ro, dbuf, sizeof dbuf, 0, &used), "readdir");
    __wasi_fd_t sub;
    e = open_dir(ro, "subdir", ro_inherit & DIR_ALL, ro_inherit, &sub);
    if (e == 0) {
        e = __wasi_path_open(sub, 0, "inner.txt", 0, FILE_R & ro_inherit, 0, 0, &fd);
        if (e == 0) close_quietly(fd);
    }
    control("ro_control_subdir_read", e, "open subdir, then read inner.txt from it");

    // Opening with write-side rights or flags.
    try_open("ro_open_write", ro, 0, "ro_file.txt", 0, FILE_W, 0);
    try_open("ro_open_readwrite", ro, 0, "ro_file.txt", 0, FILE_R | FILE_W, 0);
    try_open("ro_open_trunc", ro, 0, "ro_file.txt", O_TR, FILE_R, 0);
    try_open("ro_open_trunc_write", ro, 0, "ro_file.txt", O_TR, FILE_W, 0);
    try_open("ro_creat_new", ro, 0, "ro_new.txt", O_NEW, FILE_R | FILE_W, 0);
    try_open("ro_creat_new_readonly", ro, 0, "ro_new2.txt", O_NEW, FILE_R, 0);
    try_open("ro_creat_existing", ro, 0, "ro_file.txt", O_NEW, FILE_R, 0);
    try_open("ro_creat_in_subdir", ro, 0, "subdir/ro_new3.txt", O_NEW, FILE_W, 0);
    try_open("ro_append_write", ro, 0, "ro_file.txt", 0, FILE_W, __WASI_FDFLAGS_APPEND);

    // Through a descriptor that was opened for reading.
    ro_fd_attempt("ro_write_read_fd", 0);
    ro_fd_attempt("ro_pwrite_read_fd", 1);
    ro_fd_attempt("ro_ftruncate", 2);
    ro_fd_attempt("ro_futimens", 3);
    ro_fd_attempt("ro_fd_allocate", 4);
    ro_fd_attempt("ro_set_append_then_write", 5);
    verdict("ro_futimens_dir", __wasi_fd_filestat_set_times(ro, ODD_TIME, ODD_TIME, ALL_TIMES),
            "changed the read-only directory's times");

    // Path operations.
    verdict("ro_utimensat",
            __wasi_path_filestat_set_times(ro, 0, "ro_file.txt", ODD_TIME, ODD_TIME, ALL_TIMES),
            "changed times in the read-only dir");
    verdict("ro_utimensat_now",
            __wasi_path_filestat_set_times(ro, 0, "ro_file.txt", 0, 0,
                                           __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW),
            "changed times in the read-only dir");
    verdict("ro_utimensat_subdir",
            __wasi_path_filestat_set_times(ro, 0, "subdir", ODD_TIME, ODD_TIME, ALL_TIMES),
            "changed times in the read-only dir");
    verdict("ro_unlink", __wasi_path_unlink_file(ro, "ro_file.txt"), "deleted a read-only file");
    verdict("ro_unlink_in_subdir", __wasi_path_unlink_file(ro, "subdir/inner.txt"),
            "deleted a read-only file");
    verdict("ro_rmdir", __wasi_path_remove_directory(ro, "emptydir"),
            "removed a read-only directory");
    verdict("ro_mkdir", __wasi_path_create_directory(ro, "ro_newdir"),
            "created a directory in the read-only dir");
    verdict("ro_rename_within", __wasi_path_rename(ro, "ro_file.txt", ro, "ro_renamed.txt"),
            "renamed in the read-only dir");
    verdict("ro_rename_dir_within", __wasi_path_rename(ro, "emptydir", ro, "emptydir2"),
            "renamed in the read-only dir");
    verdict("ro_rename_out", __wasi_path_rename(ro, "ro_file.txt", sb, "from_ro.txt"),
            "moved a read-only file out");
    verdict("ro_rename_in", __wasi_path_rename(sb, "movable5.txt", ro, "into_ro.txt"),
            "moved a file into the read-only dir");
    verdict("ro_rename_over", __wasi_path_rename(sb, "movable6.txt", ro, "ro_file.txt"),
            "replaced a read-only file");
    verdict("ro_symlink", __wasi_path_symlink("ro_file.txt", ro, "ro_newlink"),
            "created a symlink in the read-only dir");
    verdict("ro_link_within", __wasi_path_link(ro, 0, "ro_file.txt", ro, "ro_hardlink"),
            "created a hard link in the read-only dir");
    // A hard link from the writable sandbox to a read-only file would make it writable.
    verdict("ro_link_out", __wasi_path_link(ro, 0, "ro_file.txt", sb, "hl_from_ro"),
            "hard-linked a read-only file into the writable sandbox");
    verdict("ro_link_in", __wasi_path_link(sb, 0, "file.txt", ro, "hl_into_ro"),
            "created a hard link in the read-only dir");
    try_open("ro_dotdot_escape", ro, FOLLOW, "../outside/canary.txt", 0, FILE_R & ro_inherit, 0);
    // Links the host left in the read-only dir that point outside it (or into the sandbox).
    try_open("ro_symlink_out_read", ro, FOLLOW, "ro_out_link", 0, FILE_R & ro_inherit, 0);
    try_open("ro_symlink_abs_read", ro, FOLLOW, "ro_abs_out_link", 0, FILE_R & ro_inherit, 0);
    try_open("ro_symlink_to_sandbox", ro, FOLLOW, "ro_sandbox_link", 0, FILE_R & ro_inherit, 0);
    try_open("cross_preopen_dotdot", ro, FOLLOW, "../sandbox/file.txt", 0, FILE_R & ro_inherit, 0);

    // Rights must not grow: not by asking, not by reopening, not by going through a subdir.
    (void)__wasi_fd_fdstat_set_rights(ro, ~(__wasi_rights_t)0, ~(__wasi_rights_t)0);
    verdict("ro_raise_rights_then_mkdir", __wasi_path_create_directory(ro, "ro_raised_dir"),
            "created a directory in the read-only dir after raising rights");
    e = open_dir(ro, "subdir", ~(__wasi_rights_t)0, ~(__wasi_rights_t)0, &sub);
    if (e) {
        refused("ro_subdir_all_rights", e);
    } else {
        verdict("ro_subdir_all_rights", __wasi_path_create_directory(sub, "ro_raised_dir2"),
                "created a directory in the read-only dir via a subdir opened with all rights");
        close_quietly(sub);
    }
    e = open_dir(ro, "subdir", ro_inherit & DIR_ALL, ro_inherit, &sub);
    if (e) {
        printf("ro_subdir_trunc: FAILED errno=%d (%s) cannot open subdir\n", e, errno_name(e));
        printf("ro_subdir_mkdir: FAILED errno=%d (%s) cannot open subdir\n", e, errno_name(e));
        printf("ro_subdir_unlink: FAILED errno=%d (%s) cannot open subdir\n", e, errno_name(e));
    } else {
        try_open("ro_subdir_trunc", sub, 0, "inner.txt", O_TR, FILE_W, 0);
        verdict("ro_subdir_mkdir", __wasi_path_create_directory(sub, "nested_new"),
                "created a directory in the read-only dir");
        verdict("ro_subdir_unlink", __wasi_path_unlink_file(sub, "inner.txt"),
                "deleted a read-only file");
        close_quietly(sub);
    }
    // Reopening the preopen itself ("."), then writing through the new descriptor.
    __wasi_fd_t again;
    e = open_dir(ro, ".", ~(__wasi_rights_t)0, ~(__wasi_rights_t)0, &again);
    if (e) {
        refused("ro_reopen_dot_creat", e);
    } else {
        try_open("ro_reopen_dot_creat", again, 0, "ro_new4.txt", O_NEW, FILE_W, 0);
        close_quietly(again);
    }
}

// --- Setup ----------------------------------------------------------------------------------

// Preopens are found by name rather than assumed to be fds 3 and 4.
static __wasi_fd_t find_preopen(const char* want) {
    for (__wasi_fd_t fd = 3; fd < 128; fd++) {
        __wasi_prestat_t ps;
        if (__wasi_fd_prestat_get(fd, &ps) != 0 || ps.tag != __WASI_PREOPENTYPE_DIR) continue;
        char name[512];
        size_t len = ps.u.dir.pr_name_len;
        if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t*)name, len) != 0)
            continue;
        name[len] = 0; // some hosts count a trailing NUL in pr_name_len; strcmp ignores it
        if (strcmp(name, want) == 0) return fd;
    }
    return (__wasi_fd_t)-1;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: escape.wasm GUEST_RW_DIR GUEST_RO_DIR HOST_ROOT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(host_root, sizeof host_root, "%s", argv[3]);
    sb = find_preopen(argv[1]);
    ro = find_preopen(argv[2]);
    if (sb == (__wasi_fd_t)-1 || ro == (__wasi_fd_t)-1) {
        printf("SETUP FAILED: preopens %s=%d %s=%d not found\n", argv[1], (int)sb, argv[2],
               (int)ro);
        return 3;
    }
    __wasi_fdstat_t st;
    if (__wasi_fd_fdstat_get(sb, &st) != 0) {
        printf("SETUP FAILED: fd_fdstat_get on the sandbox\n");
        return 3;
    }
    sb_inherit = st.fs_rights_inheriting;
    if (__wasi_fd_fdstat_get(ro, &st) != 0) {
        printf("SETUP FAILED: fd_fdstat_get on the read-only dir\n");
        return 3;
    }
    ro_inherit = st.fs_rights_inheriting;

    // Read-only attempts go first: the sandbox attempts below use no state they change.
    read_only();
    sandbox_controls();
    lexical_dotdot();
    absolute_paths();
    symlinks_outward();
    symlink_loops();
    guest_symlinks();
    hard_links();
    renames();
    remove_and_create();
    metadata();
    libc_attempts(argv[1], argv[2]);
    // Last, because if it got through, the paths of everything after it would be wrong.
    verdict("rename_sandbox_itself", __wasi_path_rename(sb, ".", sb, "../sandbox_moved"),
            "moved the sandbox");
    printf("DONE\n");
    return 0;
}
