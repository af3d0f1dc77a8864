/* Directories: mkdir/rmdir (path_create_directory, path_remove_directory), readdir
 * (fd_readdir), rename of files and directories (path_rename), unlink (path_unlink_file).
 * Listings are sorted before printing because fd_readdir promises no order. Runs with /sandbox
 * (empty) and /other (empty) preopened read-write. */
#include <dirent.h>

#include "wasi_test.h"

static int compare_names(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

/* Prints "label: name/ name ..." sorted, directories marked with a slash, "." and ".." left out
 * (WASI does not say whether fd_readdir returns them). */
static void list(const char* label, const char* path) {
    DIR* dir = opendir(path);
    if (!dir) {
        printf("%s: %s\n", label, errno_name(errno));
        return;
    }
    char* names[64];
    size_t count = 0;
    struct dirent* entry;
    while ((entry = readdir(dir)) != NULL && count < 64) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        size_t len = strlen(entry->d_name);
        names[count] = malloc(len + 2);
        memcpy(names[count], entry->d_name, len + 1);
        if (entry->d_type == DT_DIR)
            strcat(names[count], "/");
        else if (entry->d_type != DT_REG)
            strcat(names[count], "?");
        ++count;
    }
    closedir(dir);
    qsort(names, count, sizeof names[0], compare_names);
    printf("%s (%zu):", label, count);
    for (size_t i = 0; i < count; ++i) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(void) {
    puts("-- mkdir");
    list("empty sandbox", "/sandbox");
    step("mkdir d", mkdir("/sandbox/d", 0755));
    must_fail("mkdir d again", mkdir("/sandbox/d", 0755), 0);
    must_fail("mkdir missing/parent", mkdir("/sandbox/missing/parent", 0755), 0);
    step("mkdir d/sub", mkdir("/sandbox/d/sub", 0755));
    step("mkdir d/sub/deeper", mkdir("/sandbox/d/sub/deeper", 0755));
    put_file("/sandbox/d/c.txt", "c\n");
    put_file("/sandbox/d/a.txt", "a\n");
    put_file("/sandbox/d/b.txt", "b\n");
    put_file("/sandbox/d/sub/inner.txt", "inner\n");

    puts("-- readdir");
    list("d", "/sandbox/d");
    list("d/sub", "/sandbox/d/sub");
    list("d/sub/deeper", "/sandbox/d/sub/deeper");
    list("opendir of a file", "/sandbox/d/a.txt");
    list("opendir of a missing path", "/sandbox/nope");

    /* Many entries force several fd_readdir calls with a cookie, since the libc buffer is small. */
    step("mkdir many", mkdir("/sandbox/many", 0755));
    char path[64];
    for (int i = 0; i < 40; ++i) {
        snprintf(path, sizeof path, "/sandbox/many/entry-with-a-longish-name-%02d", i);
        put_file(path, "");
    }
    DIR* dir = opendir("/sandbox/many");
    int seen = 0;
    struct dirent* entry;
    while ((entry = readdir(dir)) != NULL)
        if (strncmp(entry->d_name, "entry-", 6) == 0) ++seen;
    printf("many: %d entries\n", seen);
    rewinddir(dir);
    seen = 0;
    while ((entry = readdir(dir)) != NULL)
        if (strncmp(entry->d_name, "entry-", 6) == 0) ++seen;
    printf("many after rewinddir: %d entries\n", seen);
    closedir(dir);

    puts("-- rmdir and unlink");
    must_fail("rmdir d (not empty)", rmdir("/sandbox/d"), 0);
    must_fail("rmdir d/a.txt (a file)", rmdir("/sandbox/d/a.txt"), 0);
    must_fail("unlink d/sub (a directory)", unlink("/sandbox/d/sub"), 0);
    must_fail("unlink missing", unlink("/sandbox/d/missing"), 0);
    must_fail("rmdir missing", rmdir("/sandbox/d/missing"), 0);
    step("rmdir d/sub/deeper", rmdir("/sandbox/d/sub/deeper"));
    list("d/sub", "/sandbox/d/sub");

    puts("-- rename");
    step("rename a.txt -> a2.txt", rename("/sandbox/d/a.txt", "/sandbox/d/a2.txt"));
    show_file("a.txt", "/sandbox/d/a.txt");
    show_file("a2.txt", "/sandbox/d/a2.txt");
    step("rename b.txt over c.txt", rename("/sandbox/d/b.txt", "/sandbox/d/c.txt"));
    show_file("b.txt", "/sandbox/d/b.txt");
    show_file("c.txt", "/sandbox/d/c.txt");
    step("rename dir sub -> sub2", rename("/sandbox/d/sub", "/sandbox/d/sub2"));
    show_file("sub2/inner.txt", "/sandbox/d/sub2/inner.txt");
    step("rename file into sub2", rename("/sandbox/d/a2.txt", "/sandbox/d/sub2/a3.txt"));
    must_fail("rename missing", rename("/sandbox/d/missing", "/sandbox/d/x"), 0);
    step("rename to itself", rename("/sandbox/d/c.txt", "/sandbox/d/c.txt"));
    step("rename across preopens", rename("/sandbox/d/c.txt", "/other/moved.txt"));
    show_file("/other/moved.txt", "/other/moved.txt");
    list("d", "/sandbox/d");
    list("d/sub2", "/sandbox/d/sub2");
    list("other", "/other");

    puts("-- cleanup");
    step("unlink sub2/inner.txt", unlink("/sandbox/d/sub2/inner.txt"));
    step("unlink sub2/a3.txt", unlink("/sandbox/d/sub2/a3.txt"));
    step("rmdir d/sub2", rmdir("/sandbox/d/sub2"));
    step("rmdir d", rmdir("/sandbox/d"));
    for (int i = 0; i < 40; ++i) {
        snprintf(path, sizeof path, "/sandbox/many/entry-with-a-longish-name-%02d", i);
        unlink(path);
    }
    step("rmdir many", rmdir("/sandbox/many"));
    list("sandbox", "/sandbox");
    return 0;
}
