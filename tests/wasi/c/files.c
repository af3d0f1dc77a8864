/* Regular files through the POSIX calls wasi-libc maps onto WASI: open/read/write (fd_read,
 * fd_write), pread/pwrite (fd_pread, fd_pwrite), O_APPEND (fdflags), ftruncate
 * (fd_filestat_set_size), fsync/fdatasync, lseek (fd_seek, fd_tell), readv/writev with several
 * iovecs, and stdio on top. Runs with /sandbox preopened read-write and empty. */
#include <sys/uio.h>

#include "wasi_test.h"

static void show_offset(const char* label, int fd) {
    printf("%s: %lld\n", label, (long long)lseek(fd, 0, SEEK_CUR));
}

static void show_size(const char* label, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        printf("%s: %s\n", label, errno_name(errno));
    else
        printf("%s: %lld\n", label, (long long)st.st_size);
}

int main(void) {
    const char* path = "/sandbox/a.txt";

    puts("-- create, write, read");
    int fd = (int)step("open O_CREAT|O_WRONLY", open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644));
    printf("write: %zd\n", write(fd, "hello, world\n", 13));
    step("close", close(fd));
    fd = (int)step("open O_RDONLY", open(path, O_RDONLY));
    char buf[64] = {0};
    printf("read: %zd\n", read(fd, buf, sizeof buf - 1));
    printf("data: %s", buf);
    printf("read at EOF: %zd\n", read(fd, buf, sizeof buf));
    close(fd);
    must_fail("open O_CREAT|O_EXCL existing", open(path, O_CREAT | O_EXCL | O_WRONLY, 0644), 1);

    puts("-- pread/pwrite leave the offset alone");
    fd = (int)step("open O_RDWR", open(path, O_RDWR));
    printf("pwrite at 7: %zd\n", pwrite(fd, "WORLD", 5, 7));
    memset(buf, 0, sizeof buf);
    printf("pread at 7: %zd \"%s\"\n", pread(fd, buf, 5, 7), buf);
    show_offset("offset after pread/pwrite", fd);
    memset(buf, 0, sizeof buf);
    printf("pread past end: %zd\n", pread(fd, buf, 5, 1000));
    close(fd);
    show_file("contents", path);

    puts("-- O_APPEND writes at the end whatever the offset");
    fd = (int)step("open O_WRONLY|O_APPEND", open(path, O_WRONLY | O_APPEND));
    lseek(fd, 0, SEEK_SET);
    printf("write: %zd\n", write(fd, "more\n", 5));
    show_size("size", fd);
    close(fd);
    show_file("contents", path);

    puts("-- ftruncate shrinks and extends with zeros");
    fd = (int)step("open O_RDWR", open(path, O_RDWR));
    step("ftruncate 5", ftruncate(fd, 5));
    show_size("size", fd);
    show_file("contents", path);
    step("ftruncate 8", ftruncate(fd, 8));
    show_size("size", fd);
    show_file("contents", path);
    show_offset("offset unchanged by ftruncate", fd);
    step("fsync", fsync(fd));
    step("fdatasync", fdatasync(fd));
    close(fd);
    fd = (int)step("open O_TRUNC", open(path, O_WRONLY | O_TRUNC));
    show_size("size after O_TRUNC", fd);
    close(fd);

    puts("-- lseek and tell");
    put_file(path, "0123456789");
    fd = (int)step("open O_RDWR", open(path, O_RDWR));
    printf("SEEK_SET 2: %lld\n", (long long)lseek(fd, 2, SEEK_SET));
    printf("SEEK_CUR +3: %lld\n", (long long)lseek(fd, 3, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    printf("read 2: %zd \"%s\"\n", read(fd, buf, 2), buf);
    show_offset("tell", fd);
    printf("SEEK_CUR -4: %lld\n", (long long)lseek(fd, -4, SEEK_CUR));
    printf("SEEK_END -1: %lld\n", (long long)lseek(fd, -1, SEEK_END));
    memset(buf, 0, sizeof buf);
    printf("read 5: %zd \"%s\"\n", read(fd, buf, 5), buf);
    printf("SEEK_END 0: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    must_fail("SEEK_SET -1", lseek(fd, -1, SEEK_SET), 0);
    must_fail("SEEK_CUR before start", lseek(fd, -100, SEEK_CUR), 0);
    show_offset("tell after failed seeks", fd);
    must_fail("bad whence", lseek(fd, 0, 42), 0);

    puts("-- seeking past the end then writing leaves a hole of zeros");
    printf("SEEK_SET 14: %lld\n", (long long)lseek(fd, 14, SEEK_SET));
    show_size("size before write", fd);
    printf("write: %zd\n", write(fd, "XY", 2));
    show_size("size after write", fd);
    close(fd);
    show_file("contents", path);

    puts("-- writev/readv with several buffers");
    fd = (int)step("open O_RDWR|O_TRUNC", open(path, O_RDWR | O_TRUNC));
    struct iovec out[3] = {{(void*)"ab", 2}, {(void*)"", 0}, {(void*)"cdefg", 5}};
    printf("writev: %zd\n", writev(fd, out, 3));
    lseek(fd, 0, SEEK_SET);
    char p1[4] = {0}, p2[8] = {0};
    struct iovec in[2] = {{p1, 3}, {p2, 7}};
    printf("readv: %zd \"%s\" \"%s\"\n", readv(fd, in, 2), p1, p2);
    close(fd);

    puts("-- stdio");
    FILE* f = fopen("/sandbox/stdio.txt", "w+");
    printf("fopen w+: %s\n", f ? "ok" : errno_name(errno));
    for (int i = 1; i <= 3; ++i)
        fprintf(f, "line %d\n", i);
    printf("ftell: %ld\n", ftell(f));
    rewind(f);
    char line[32];
    while (fgets(line, sizeof line, f))
        printf("fgets: %s", line);
    printf("feof: %d\n", feof(f) != 0);
    fseek(f, -7, SEEK_END);
    printf("fgets after fseek: %s", fgets(line, sizeof line, f));
    printf("fclose: %d\n", fclose(f));

    puts("-- a large write and read back");
    static char big[200000], back[200000];
    for (size_t i = 0; i < sizeof big; ++i)
        big[i] = (char)('a' + i % 26);
    fd = open("/sandbox/big.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    size_t done = 0;
    while (done < sizeof big) {
        ssize_t n = write(fd, big + done, sizeof big - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    printf("wrote: %zu\n", done);
    lseek(fd, 0, SEEK_SET);
    done = 0;
    while (done < sizeof back) {
        ssize_t n = read(fd, back + done, sizeof back - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    printf("read back: %zu, equal: %s\n", done, memcmp(big, back, sizeof big) == 0 ? "yes" : "no");
    close(fd);
    step("unlink big.bin", unlink("/sandbox/big.bin"));
    return 0;
}
