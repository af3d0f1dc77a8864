/* The errno each failing call must produce, by name. Runs with /sandbox preopened read-write and
 * empty; nothing else is preopened, so /elsewhere matches no preopen. */
#include <dirent.h>

#include "wasi_test.h"

int main(void) {
    put_file("/sandbox/file.txt", "data\n");
    mkdir("/sandbox/dir", 0755);
    put_file("/sandbox/full/inner.txt", ""); /* fails: full/ does not exist yet */
    mkdir("/sandbox/full", 0755);
    put_file("/sandbox/full/inner.txt", "x");

    puts("-- ENOENT");
    must_fail("open missing", open("/sandbox/missing", O_RDONLY), 1);
    must_fail("open O_CREAT in a missing directory",
              open("/sandbox/no/x", O_CREAT | O_WRONLY, 0644), 1);
    must_fail("unlink missing", unlink("/sandbox/missing"), 0);
    must_fail("rename missing", rename("/sandbox/missing", "/sandbox/x"), 0);
    must_fail("mkdir under a missing directory", mkdir("/sandbox/no/sub", 0755), 0);

    puts("-- EEXIST");
    must_fail("mkdir existing directory", mkdir("/sandbox/dir", 0755), 0);
    must_fail("mkdir over a file", mkdir("/sandbox/file.txt", 0755), 0);
    must_fail("open O_CREAT|O_EXCL existing",
              open("/sandbox/file.txt", O_CREAT | O_EXCL | O_RDWR, 0644), 1);
    must_fail("open O_CREAT|O_EXCL existing dir",
              open("/sandbox/dir", O_CREAT | O_EXCL | O_RDWR, 0644), 1);
    must_fail("link onto existing", link("/sandbox/file.txt", "/sandbox/full/inner.txt"), 0);
    must_fail("symlink onto existing", symlink("x", "/sandbox/file.txt"), 0);

    puts("-- ENOTEMPTY");
    must_fail("rmdir non-empty", rmdir("/sandbox/full"), 0);

    puts("-- ENOTDIR");
    must_fail("rmdir a file", rmdir("/sandbox/file.txt"), 0);
    must_fail("open file.txt/x", open("/sandbox/file.txt/x", O_RDONLY), 1);
    must_fail("open a file with O_DIRECTORY", open("/sandbox/file.txt", O_RDONLY | O_DIRECTORY), 1);
    must_fail("mkdir file.txt/sub", mkdir("/sandbox/file.txt/sub", 0755), 0);
    DIR* d = opendir("/sandbox/file.txt");
    printf("opendir a file: %s\n", d ? "unexpectedly succeeded" : errno_name(errno));

    puts("-- EISDIR");
    must_fail("open dir O_WRONLY", open("/sandbox/dir", O_WRONLY), 1);
    must_fail("open dir O_RDWR", open("/sandbox/dir", O_RDWR), 1);
    must_fail("open dir O_CREAT|O_WRONLY", open("/sandbox/dir", O_CREAT | O_WRONLY, 0644), 1);
    /* path_unlink_file: "Return errno::isdir if path refers to a directory." */
    must_fail("unlink a directory", unlink("/sandbox/dir"), 0);

    puts("-- EBADF");
    char buf[16];
    must_fail("read closed fd", read(99, buf, sizeof buf), 0);
    must_fail("close closed fd", close(99), 0);
    must_fail("fstat closed fd", fstat(99, &(struct stat){0}), 0);
    must_fail("lseek closed fd", lseek(99, 0, SEEK_SET), 0);

    puts("-- EINVAL");
    int fd = open("/sandbox/file.txt", O_RDONLY);
    must_fail("lseek to a negative offset", lseek(fd, -1, SEEK_SET), 0);
    close(fd);
    must_fail("readlink a regular file", readlink("/sandbox/file.txt", buf, sizeof buf), 0);
    must_fail("rename a directory into itself", rename("/sandbox/dir", "/sandbox/dir/sub"), 0);

    puts("-- ENOTCAPABLE: outside every preopen");
    must_fail("open /sandbox/../escape", open("/sandbox/../escape", O_RDONLY), 1);
    must_fail("open /sandbox/dir/../../escape", open("/sandbox/dir/../../escape", O_RDONLY), 1);
    must_fail("open O_CREAT /sandbox/../created",
              open("/sandbox/../created", O_CREAT | O_WRONLY, 0644), 1);
    must_fail("mkdir /sandbox/../made", mkdir("/sandbox/../made", 0755), 0);
    must_fail("open /elsewhere/x (no preopen)", open("/elsewhere/x", O_RDONLY), 1);

    puts("-- EBADF: a descriptor not opened for the operation");
    /* As POSIX says, and node answers. WASI's rights could also justify notcapable (wasi-libc asks
     * path_open for read rights only on O_RDONLY), but ported programs test for EBADF. */
    fd = open("/sandbox/file.txt", O_RDONLY);
    must_fail("write to an O_RDONLY fd", write(fd, "x", 1), 0);
    close(fd);
    fd = open("/sandbox/file.txt", O_WRONLY);
    must_fail("read from an O_WRONLY fd", read(fd, buf, sizeof buf), 0);
    close(fd);
    show_file("file.txt unchanged", "/sandbox/file.txt");
    return 0;
}
