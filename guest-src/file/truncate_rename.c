/* ftruncate/truncate, rename/renameat2, unlink and mkdir/rmdir. */
#include "check.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(void)
{
    char buf[128];
    int fd = open("a.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a.txt", fd >= 0);
    write(fd, "abcdef", 6);
    CHECK_OK("ftruncate grows", ftruncate(fd, 100));
    CHECK_EQ("size after growing", file_size("a.txt"), 100);
    CHECK_EQ("pread across the grown part", pread(fd, buf, sizeof buf, 0), 100);
    int zeros = 1;
    for (int i = 6; i < 100; i++)
        zeros &= buf[i] == 0;
    check("grown part reads as zeros", zeros, "non-zero byte");
    CHECK_OK("ftruncate shrinks", ftruncate(fd, 3));
    CHECK_EQ("pread after shrinking", pread(fd, buf, sizeof buf, 0), 3);
    CHECK_MEM("kept prefix", buf, "abc", 3);
    CHECK_ERR("ftruncate negative", ftruncate(fd, -1), EINVAL);
    CHECK_OK("truncate by path", truncate("a.txt", 2));
    CHECK_EQ("size after truncate", file_size("a.txt"), 2);

    CHECK_OK("rename a -> b", rename("a.txt", "b.txt"));
    CHECK_ERR("old name is gone", open("a.txt", O_RDONLY), ENOENT);
    CHECK_EQ("open fd follows the rename", fstat(fd, &(struct stat){0}), 0);
    CHECK_EQ("new name has the data", file_size("b.txt"), 2);
    int c = open("c.txt", O_CREAT | O_WRONLY, 0644);
    close(c);
    CHECK_ERR("renameat2 RENAME_NOREPLACE onto an existing file",
              syscall(SYS_renameat2, AT_FDCWD, "b.txt", AT_FDCWD, "c.txt", RENAME_NOREPLACE),
              EEXIST);
    CHECK_OK("rename replaces an existing file", rename("b.txt", "c.txt"));
    CHECK_EQ("replaced file has the data", file_size("c.txt"), 2);
    CHECK_ERR("O_EXCL on an existing file", open("c.txt", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);

    CHECK_OK("mkdir", mkdir("d", 0755));
    CHECK_ERR("mkdir existing", mkdir("d", 0755), EEXIST);
    CHECK_OK("rename into a directory", rename("c.txt", "d/c.txt"));
    CHECK_ERR("rmdir non-empty", rmdir("d"), ENOTEMPTY);
    CHECK_OK("unlink in the directory", unlink("d/c.txt"));
    CHECK_ERR("unlink missing", unlink("d/c.txt"), ENOENT);
    CHECK_OK("rmdir empty", rmdir("d"));
    CHECK_ERR("stat after rmdir", stat("d", &(struct stat){0}), ENOENT);
    close(fd);
    return check_finish();
}
