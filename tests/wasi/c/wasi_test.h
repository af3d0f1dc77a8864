/* Helpers shared by the WASI conformance programs: every step prints one line, and failures
 * print the errno by name, so the expected files read like the spec and do not depend on the
 * numbering of any one libc. */
#ifndef KILN_WASI_TEST_H
#define KILN_WASI_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline const char* errno_name(int e) {
    switch (e) {
    case 0:
        return "0";
// One case per errno: clang-format 14 would indent this list as a staircase.
// clang-format off
#define KILN_ERRNO(name) case name: return #name;
    KILN_ERRNO(E2BIG) KILN_ERRNO(EACCES) KILN_ERRNO(EAGAIN) KILN_ERRNO(EBADF) KILN_ERRNO(EBUSY)
    KILN_ERRNO(EEXIST) KILN_ERRNO(EFAULT) KILN_ERRNO(EFBIG) KILN_ERRNO(EILSEQ) KILN_ERRNO(EINTR)
    KILN_ERRNO(EINVAL) KILN_ERRNO(EIO) KILN_ERRNO(EISDIR) KILN_ERRNO(ELOOP) KILN_ERRNO(EMFILE)
    KILN_ERRNO(EMLINK) KILN_ERRNO(ENAMETOOLONG) KILN_ERRNO(ENFILE) KILN_ERRNO(ENOBUFS)
    KILN_ERRNO(ENODEV) KILN_ERRNO(ENOENT) KILN_ERRNO(ENOMEM) KILN_ERRNO(ENOSPC) KILN_ERRNO(ENOSYS)
    KILN_ERRNO(ENOTDIR) KILN_ERRNO(ENOTEMPTY) KILN_ERRNO(ENOTSUP) KILN_ERRNO(ENOTTY)
    KILN_ERRNO(ENXIO) KILN_ERRNO(EOVERFLOW) KILN_ERRNO(EPERM) KILN_ERRNO(EPIPE) KILN_ERRNO(ERANGE)
    KILN_ERRNO(EROFS) KILN_ERRNO(ESPIPE) KILN_ERRNO(ETXTBSY) KILN_ERRNO(EXDEV)
    KILN_ERRNO(ENOTCAPABLE)
#undef KILN_ERRNO
        // clang-format on
    }
    static char unknown[32];
    snprintf(unknown, sizeof unknown, "errno %d", e);
    return unknown;
}

/* "what: ok" when rc is not negative, else "what: ENAME". Returns rc so calls can chain. */
static inline long step(const char* what, long rc) {
    if (rc < 0)
        printf("%s: %s\n", what, errno_name(errno));
    else
        printf("%s: ok\n", what);
    return rc;
}

/* For calls that must fail: prints the errno name, or "unexpectedly succeeded". A wrongly
 * successful open must not leak its descriptor into later steps, so it is closed here. */
static inline void must_fail(const char* what, long rc, int is_fd) {
    if (rc < 0) {
        printf("%s: %s\n", what, errno_name(errno));
    } else {
        printf("%s: unexpectedly succeeded\n", what);
        if (is_fd) close((int)rc);
    }
}

/* Writes a whole file; the programs use it to build fixtures inside their own sandbox. */
static inline int put_file(const char* path, const char* text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/* Reads a whole (small) file into buf, NUL-terminated; returns the length or -1. */
static inline long get_file(const char* path, char* buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf + total, cap - 1 - total);
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    buf[total] = '\0';
    close(fd);
    return (long)total;
}

/* Prints a file's contents with escapes, so that embedded NULs and newlines stay visible. */
static inline void show_file(const char* label, const char* path) {
    char buf[4096];
    long n = get_file(path, buf, sizeof buf);
    if (n < 0) {
        printf("%s: %s\n", label, errno_name(errno));
        return;
    }
    printf("%s: \"", label);
    for (long i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n')
            printf("\\n");
        else if (c == '\\' || c == '"')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf("\" (%ld bytes)\n", n);
}

static inline const char* file_type(mode_t mode) {
    if (S_ISREG(mode)) return "file";
    if (S_ISDIR(mode)) return "dir";
    if (S_ISLNK(mode)) return "symlink";
    if (S_ISCHR(mode)) return "chardev";
    if (S_ISBLK(mode)) return "blockdev";
    if (S_ISSOCK(mode)) return "socket";
    if (S_ISFIFO(mode)) return "fifo";
    return "unknown";
}

#endif
