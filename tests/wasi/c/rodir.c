/* A read-only preopen (kiln run --ro-dir): reading works, every change fails with ENOTCAPABLE and
 * leaves the directory as it was (the harness compares before and after). Runs with the fixture
 * tests/wasi/fixtures/ro preopened read-only as /ro and an empty /sandbox read-write. */
#include <dirent.h>

#include "wasi_test.h"

static int compare_names(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

static void list(const char* label, const char* path) {
    DIR* dir = opendir(path);
    if (!dir) {
        printf("%s: %s\n", label, errno_name(errno));
        return;
    }
    char* names[16];
    size_t count = 0;
    struct dirent* entry;
    while ((entry = readdir(dir)) != NULL && count < 16)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            names[count++] = strdup(entry->d_name);
    closedir(dir);
    qsort(names, count, sizeof names[0], compare_names);
    printf("%s:", label);
    for (size_t i = 0; i < count; ++i) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(void) {
    puts("-- reading works");
    list("ls /ro", "/ro");
    list("ls /ro/sub", "/ro/sub");
    show_file("/ro/hello.txt", "/ro/hello.txt");
    show_file("/ro/sub/nested.txt", "/ro/sub/nested.txt");
    struct stat st;
    step("stat /ro/hello.txt", stat("/ro/hello.txt", &st));
    int fd = (int)step("open O_RDONLY", open("/ro/hello.txt", O_RDONLY));
    char buf[8] = {0};
    printf("pread: %zd \"%s\"\n", pread(fd, buf, 5, 0), buf);
    printf("lseek: %lld\n", (long long)lseek(fd, 2, SEEK_SET));
    close(fd);
    fd = (int)step("open /ro O_DIRECTORY", open("/ro", O_RDONLY | O_DIRECTORY));
    close(fd);

    /* The preopen lacks the rights to change anything, and rights are checked before the host is
     * touched: rmdir of the non-empty sub is ENOTCAPABLE, not ENOTEMPTY. */
    puts("-- every change fails");
    must_fail("open O_WRONLY", open("/ro/hello.txt", O_WRONLY), 1);
    must_fail("open O_RDWR", open("/ro/hello.txt", O_RDWR), 1);
    must_fail("open O_WRONLY|O_APPEND", open("/ro/hello.txt", O_WRONLY | O_APPEND), 1);
    must_fail("open O_RDONLY|O_TRUNC", open("/ro/hello.txt", O_RDONLY | O_TRUNC), 1);
    must_fail("open O_CREAT new file", open("/ro/new.txt", O_CREAT | O_WRONLY, 0644), 1);
    must_fail("mkdir", mkdir("/ro/newdir", 0755), 0);
    must_fail("rmdir sub", rmdir("/ro/sub"), 0);
    must_fail("unlink hello.txt", unlink("/ro/hello.txt"), 0);
    must_fail("rename within /ro", rename("/ro/hello.txt", "/ro/renamed.txt"), 0);
    must_fail("rename /ro -> /sandbox", rename("/ro/hello.txt", "/sandbox/stolen.txt"), 0);
    must_fail("rename /sandbox -> /ro",
              (put_file("/sandbox/in.txt", "in\n"), rename("/sandbox/in.txt", "/ro/in.txt")), 0);
    must_fail("symlink in /ro", symlink("hello.txt", "/ro/link"), 0);
    must_fail("link in /ro", link("/sandbox/in.txt", "/ro/hard"), 0);
    struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    must_fail("utimensat", utimensat(AT_FDCWD, "/ro/hello.txt", times, 0), 0);

    puts("-- copying out to the writable preopen works");
    char text[256];
    get_file("/ro/hello.txt", text, sizeof text);
    step("write /sandbox/copy.txt", put_file("/sandbox/copy.txt", text));
    show_file("/sandbox/copy.txt", "/sandbox/copy.txt");
    list("ls /ro afterwards", "/ro");
    return 0;
}
