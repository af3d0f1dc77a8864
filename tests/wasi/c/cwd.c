/* A preopen named "." (kiln run --dir HOST::.), which wasi-libc uses to resolve relative paths, as
 * with `wasmtime --dir .`. (Absolute paths are left out: this wasi-libc matches them against "."
 * too, which is the libc's business, not the runtime's.) */
#include <dirent.h>

#include "wasi_test.h"

int main(void) {
    step("mkdir sub", mkdir("sub", 0755));
    step("write data.txt", put_file("data.txt", "relative\n"));
    step("write sub/inner.txt", put_file("sub/inner.txt", "inner\n"));
    show_file("data.txt", "data.txt");
    show_file("./data.txt", "./data.txt");
    show_file("sub/../data.txt", "sub/../data.txt");
    show_file("sub/./inner.txt", "sub/./inner.txt");
    struct stat st;
    step("stat .", stat(".", &st));
    printf("is a dir: %s\n", S_ISDIR(st.st_mode) ? "yes" : "no");

    DIR* dir = opendir(".");
    int files = 0, dirs = 0;
    struct dirent* e;
    while (dir && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        files += e->d_type == DT_REG;
        dirs += e->d_type == DT_DIR;
    }
    if (dir) closedir(dir);
    printf("readdir .: %d files, %d dirs\n", files, dirs);

    must_fail("open ../outside", open("../outside", O_RDONLY), 1);
    must_fail("open sub/../../outside", open("sub/../../outside", O_RDONLY), 1);
    step("unlink sub/inner.txt", unlink("sub/inner.txt"));
    step("rmdir sub", rmdir("sub"));
    step("unlink data.txt", unlink("data.txt"));
    return 0;
}
