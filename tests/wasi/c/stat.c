/* stat/fstat/lstat (path_filestat_get, fd_filestat_get) and setting times (path_filestat_set_times,
 * fd_filestat_set_times). Absolute timestamps are never printed, only ones the program set itself
 * and comparisons, since the clock and the host filesystem's granularity vary. Runs with /sandbox
 * preopened read-write and empty. */
#include <sys/time.h>
#include <wasi/api.h>

#include "wasi_test.h"

static void show_stat(const char* label, int rc, const struct stat* st) {
    if (rc != 0)
        printf("%s: %s\n", label, errno_name(errno));
    else if (S_ISDIR(st->st_mode))
        printf("%s: %s nlink>=1:%s\n", label, file_type(st->st_mode),
               st->st_nlink >= 1 ? "yes" : "no");
    else
        printf("%s: %s size=%lld nlink=%llu\n", label, file_type(st->st_mode),
               (long long)st->st_size, (unsigned long long)st->st_nlink);
}

int main(void) {
    struct stat st, st2;
    int rc;

    puts("-- sizes and types");
    char text[1235];
    memset(text, 'x', 1234);
    text[1234] = '\0';
    put_file("/sandbox/f.txt", text);
    put_file("/sandbox/empty.txt", "");
    mkdir("/sandbox/d", 0755);
    rc = stat("/sandbox/f.txt", &st);
    show_stat("stat f.txt", rc, &st);
    rc = stat("/sandbox/empty.txt", &st);
    show_stat("stat empty.txt", rc, &st);
    rc = stat("/sandbox/d", &st);
    show_stat("stat d", rc, &st);
    rc = stat("/sandbox", &st);
    show_stat("stat /sandbox (the preopen)", rc, &st);
    rc = stat("/sandbox/d/..", &st);
    show_stat("stat d/..", rc, &st);
    rc = stat("/sandbox/missing", &st);
    show_stat("stat missing", rc, &st);
    rc = stat("/sandbox/f.txt/x", &st);
    show_stat("stat f.txt/x", rc, &st);
    rc = lstat("/sandbox/f.txt", &st);
    show_stat("lstat f.txt", rc, &st);
    rc = lstat("/sandbox/d", &st);
    show_stat("lstat d", rc, &st);

    puts("-- fstat agrees with stat");
    int fd = open("/sandbox/f.txt", O_RDWR);
    rc = fstat(fd, &st2);
    show_stat("fstat f.txt", rc, &st2);
    stat("/sandbox/f.txt", &st);
    printf("same dev and ino: %s\n",
           st.st_dev == st2.st_dev && st.st_ino == st2.st_ino ? "yes" : "no");
    struct stat other;
    stat("/sandbox/empty.txt", &other);
    printf("different file, different ino: %s\n", other.st_ino != st.st_ino ? "yes" : "no");
    write(fd, "grow", 4);
    lseek(fd, 0, SEEK_END);
    write(fd, "!", 1);
    rc = fstat(fd, &st2);
    show_stat("fstat after writing", rc, &st2);
    close(fd);
    int dfd = open("/sandbox/d", O_RDONLY | O_DIRECTORY);
    rc = fstat(dfd, &st2);
    show_stat("fstat d", rc, &st2);
    close(dfd);
    printf("fstat closed fd: %s\n", fstat(fd, &st2) == 0 ? "ok" : errno_name(errno));

    puts("-- times the program sets");
    /* Whole seconds: how finely the host filesystem keeps times is not WASI's business. */
    struct timespec times[2] = {{1000000000, 0}, {1500000000, 0}};
    step("utimensat f.txt", utimensat(AT_FDCWD, "/sandbox/f.txt", times, 0));
    stat("/sandbox/f.txt", &st);
    printf("atime: %lld\n", (long long)st.st_atim.tv_sec);
    printf("mtime: %lld\n", (long long)st.st_mtim.tv_sec);
    fd = open("/sandbox/empty.txt", O_RDWR);
    struct timespec only_mtime[2] = {{0, UTIME_OMIT}, {1600000000, 0}};
    step("futimens empty.txt (atime omitted)", futimens(fd, only_mtime));
    fstat(fd, &st2);
    printf("mtime: %lld\n", (long long)st2.st_mtim.tv_sec);
    /* The "now" flags go straight to WASI: in Debian's wasi-libc (built with clang 14),
     * futimens(fd, NULL) sends fstflags atim|mtim with zero times instead of atim_now|mtim_now, and
     * UTIME_NOW or UTIME_OMIT in the mtime slot fails with EINVAL before reaching the host. */
    errno =
        __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW);
    step("fd_filestat_set_times atim_now|mtim_now", errno == 0 ? 0 : -1);
    fstat(fd, &st2);
    printf("mtime now is after 2020-01-01: %s\n", st2.st_mtim.tv_sec > 1577836800 ? "yes" : "no");
    close(fd);
    must_fail("utimensat missing", utimensat(AT_FDCWD, "/sandbox/missing", times, 0), 0);

    puts("-- writing moves mtime forward");
    step("utimensat back to 2001", utimensat(AT_FDCWD, "/sandbox/f.txt", times, 0));
    put_file("/sandbox/f.txt", "new");
    stat("/sandbox/f.txt", &st);
    printf("mtime after write is later: %s\n", st.st_mtim.tv_sec > 1500000000 ? "yes" : "no");
    show_stat("stat f.txt", 0, &st);
    return 0;
}
