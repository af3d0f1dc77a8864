/* Symbolic links (path_symlink, path_readlink, following in path_open/path_filestat_get) and hard
 * links (path_link). Runs with /sandbox preopened read-write and empty. With the argument "edge"
 * it runs instead the cases where node's WASI is known to deviate from the spec, kept apart so
 * that node still checks the rest. */
#include "wasi_test.h"

static void show_link(const char* label, const char* path) {
    char target[256];
    ssize_t n = readlink(path, target, sizeof target);
    if (n < 0)
        printf("%s: %s\n", label, errno_name(errno));
    else
        printf("%s: \"%.*s\" (%zd bytes)\n", label, (int)n, target, n);
}

static void show_stat(const char* label, int follow, const char* path) {
    struct stat st;
    int rc = follow ? stat(path, &st) : lstat(path, &st);
    if (rc != 0)
        printf("%s: %s\n", label, errno_name(errno));
    else if (S_ISREG(st.st_mode))
        printf("%s: file size=%lld nlink=%llu\n", label, (long long)st.st_size,
               (unsigned long long)st.st_nlink);
    else
        printf("%s: %s\n", label, file_type(st.st_mode));
}

/* The edge cases: POSIX and the WASI path-resolution rules agree on all three. */
static int edge(void) {
    put_file("/sandbox/target.txt", "target data\n");
    mkdir("/sandbox/dir", 0755);
    step("symlink link -> target.txt", symlink("target.txt", "/sandbox/link"));

    /* The last component is a symlink and lookup must not follow it: a symlink cannot be opened as
     * a file, so ELOOP (path_open without lookupflags.symlink_follow). */
    must_fail("open link O_NOFOLLOW", open("/sandbox/link", O_RDONLY | O_NOFOLLOW), 1);
    must_fail("open dir/../link O_NOFOLLOW", open("/sandbox/dir/../link", O_RDONLY | O_NOFOLLOW),
              1);

    /* A relative target resolves from the directory holding the link, so dir/up -> ../target.txt
     * stays inside the preopen and must work. */
    step("symlink dir/up -> ../target.txt", symlink("../target.txt", "/sandbox/dir/up"));
    show_file("dir/up", "/sandbox/dir/up");
    show_link("readlink dir/up", "/sandbox/dir/up");

    /* path_readlink fills at most buf_len bytes and reports how many, like POSIX readlink, which
     * truncates without a NUL. */
    char small[4];
    ssize_t n = readlink("/sandbox/link", small, sizeof small);
    if (n < 0)
        printf("readlink into 4 bytes: %s\n", errno_name(errno));
    else
        printf("readlink into 4 bytes: %zd \"%.*s\"\n", n, (int)n, small);
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "edge") == 0) return edge();

    put_file("/sandbox/target.txt", "target data\n");
    mkdir("/sandbox/dir", 0755);
    put_file("/sandbox/dir/inside.txt", "inside\n");

    puts("-- symlink to a file");
    step("symlink link -> target.txt", symlink("target.txt", "/sandbox/link"));
    show_link("readlink link", "/sandbox/link");
    show_stat("stat link", 1, "/sandbox/link");
    show_stat("lstat link", 0, "/sandbox/link");
    show_file("read through link", "/sandbox/link");
    int fd = open("/sandbox/link", O_WRONLY | O_APPEND);
    printf("append through link: %zd\n", write(fd, "more\n", 5));
    close(fd);
    show_file("target.txt", "/sandbox/target.txt");
    must_fail("symlink over existing", symlink("elsewhere", "/sandbox/link"), 0);
    /* A trailing slash asks for a directory, so no link is made: ENOENT for a new name, EEXIST
     * for one that exists (as Linux answers). */
    must_fail("symlink slashed/", symlink("target.txt", "/sandbox/slashed/"), 0);
    show_stat("lstat slashed", 0, "/sandbox/slashed");
    must_fail("symlink dir/", symlink("target.txt", "/sandbox/dir/"), 0);
    show_link("readlink of a regular file", "/sandbox/target.txt");
    show_link("readlink missing", "/sandbox/missing");

    puts("-- symlinks to directories and through subdirectories");
    step("symlink dirlink -> dir", symlink("dir", "/sandbox/dirlink"));
    show_stat("stat dirlink", 1, "/sandbox/dirlink");
    show_stat("lstat dirlink", 0, "/sandbox/dirlink");
    show_file("dirlink/inside.txt", "/sandbox/dirlink/inside.txt");
    step("symlink chain -> link", symlink("link", "/sandbox/chain"));
    show_file("chain (link to a link)", "/sandbox/chain");
    show_link("readlink chain", "/sandbox/chain");

    puts("-- dangling links");
    step("symlink dangling -> missing.txt", symlink("missing.txt", "/sandbox/dangling"));
    show_stat("stat dangling", 1, "/sandbox/dangling");
    show_stat("lstat dangling", 0, "/sandbox/dangling");
    show_link("readlink dangling", "/sandbox/dangling");
    must_fail("open dangling", open("/sandbox/dangling", O_RDONLY), 1);
    /* O_CREAT through a dangling link is left out: hosts disagree on whether it creates the
     * target, and WASI does not say. */

    puts("-- loops");
    step("symlink loop1 -> loop2", symlink("loop2", "/sandbox/loop1"));
    step("symlink loop2 -> loop1", symlink("loop1", "/sandbox/loop2"));
    must_fail("open loop1", open("/sandbox/loop1", O_RDONLY), 1);
    show_stat("stat loop1", 1, "/sandbox/loop1");
    show_stat("lstat loop1", 0, "/sandbox/loop1");
    step("symlink self -> self", symlink("self", "/sandbox/self"));
    must_fail("open self", open("/sandbox/self", O_RDONLY), 1);
    must_fail("open loop1/x", open("/sandbox/loop1/x", O_RDONLY), 1);

    puts("-- unlink removes the link, not the target");
    step("unlink link", unlink("/sandbox/link"));
    show_stat("lstat link", 0, "/sandbox/link");
    show_stat("stat target.txt", 1, "/sandbox/target.txt");
    show_stat("stat chain (now dangling)", 1, "/sandbox/chain");
    step("unlink dirlink", unlink("/sandbox/dirlink"));
    show_stat("stat dir", 1, "/sandbox/dir");

    puts("-- hard links");
    step("link hard -> target.txt", link("/sandbox/target.txt", "/sandbox/hard"));
    show_stat("stat target.txt", 1, "/sandbox/target.txt");
    show_stat("stat hard", 1, "/sandbox/hard");
    struct stat a, b;
    stat("/sandbox/target.txt", &a);
    stat("/sandbox/hard", &b);
    printf("same ino: %s\n", a.st_ino == b.st_ino && a.st_dev == b.st_dev ? "yes" : "no");
    fd = open("/sandbox/hard", O_WRONLY | O_APPEND);
    printf("append through hard: %zd\n", write(fd, "via hard\n", 9));
    close(fd);
    show_file("target.txt", "/sandbox/target.txt");
    step("link dir/hard2 -> hard", link("/sandbox/hard", "/sandbox/dir/hard2"));
    show_stat("stat hard", 1, "/sandbox/hard");
    must_fail("link to existing name", link("/sandbox/hard", "/sandbox/dir/hard2"), 0);
    must_fail("link missing", link("/sandbox/missing", "/sandbox/x"), 0);
    step("unlink target.txt", unlink("/sandbox/target.txt"));
    show_stat("stat hard", 1, "/sandbox/hard");
    show_file("hard", "/sandbox/hard");
    step("unlink dir/hard2", unlink("/sandbox/dir/hard2"));
    show_stat("stat hard", 1, "/sandbox/hard");
    return 0;
}
