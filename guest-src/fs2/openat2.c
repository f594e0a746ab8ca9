/*
 * openat2: the size and tail of struct open_how, unknown flags and resolve bits, a mode
 * without O_CREAT, RESOLVE_BENEATH (.. and absolute paths), RESOLVE_IN_ROOT (the directory
 * as root), RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV, O_CREAT's mode and
 * O_CLOEXEC, each against Linux.
 */
#include "../include/check.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct how {
    uint64_t flags, mode, resolve;
};

#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10

static long open2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct how h = { flags, mode, resolve };
    return syscall(SYS_openat2, dirfd, path, &h, sizeof h);
}

static int content_is(int fd, const char *want)
{
    char buf[32] = { 0 };
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

int main(void)
{
    umask(0);
    NEED("a directory", mkdir("root", 0755) == 0 && mkdir("root/sub", 0755) == 0);
    int f = open("root/file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    NEED("a file", f >= 0 && write(f, "in root", 7) == 7 && close(f) == 0);
    f = open("outside", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    NEED("a file outside", f >= 0 && write(f, "outside", 7) == 7 && close(f) == 0);
    NEED("a symlink", symlink("file", "root/link") == 0);
    int root = open("root", O_RDONLY | O_DIRECTORY);
    NEED("the directory open", root >= 0);

    long fd = open2(root, "file", O_RDONLY, 0, 0);
    CHECK_OK("openat2 of a file", fd);
    CHECK_EQ("reads it", fd >= 0 && content_is((int)fd, "in root"), 1);
    struct how h = { O_RDONLY, 0, 0 };
    CHECK_ERR("a size of 23", syscall(SYS_openat2, root, "file", &h, 23), EINVAL);
    CHECK_ERR("a size of 4097", syscall(SYS_openat2, root, "file", &h, 4097), E2BIG);
    unsigned char big[40];
    memset(big, 0, sizeof big);
    memcpy(big, &h, sizeof h);
    fd = syscall(SYS_openat2, root, "file", big, sizeof big);
    CHECK_OK("a larger size with a zero tail", fd);
    close((int)fd);
    big[30] = 1;
    CHECK_ERR("a larger size with a non-zero tail", syscall(SYS_openat2, root, "file", big, sizeof big),
              E2BIG);
    CHECK_ERR("open_how from a bad pointer", syscall(SYS_openat2, root, "file", 16, sizeof h), EFAULT);
    CHECK_ERR("a path from a bad pointer", open2(root, (const char *)16, O_RDONLY, 0, 0), EFAULT);
    CHECK_ERR("an unknown flag", open2(root, "file", O_RDONLY | (1ull << 40), 0, 0), EINVAL);
    CHECK_ERR("an unknown resolve bit", open2(root, "file", O_RDONLY, 0, 0x40), EINVAL);
    CHECK_ERR("a mode without O_CREAT", open2(root, "file", O_RDONLY, 0644, 0), EINVAL);
    CHECK_ERR("a mode past 07777", open2(root, "new", O_RDWR | O_CREAT, 010000, 0), EINVAL);
    CHECK_ERR("RESOLVE_BENEATH with RESOLVE_IN_ROOT",
              open2(root, "file", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), EINVAL);

    fd = open2(root, "new", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640, 0);
    CHECK_OK("O_CREAT with a mode", fd);
    struct stat st;
    CHECK_EQ("the mode", fstat((int)fd, &st) == 0 ? (int)(st.st_mode & 07777) : -1, 0640);
    CHECK_EQ("O_CLOEXEC", fcntl((int)fd, F_GETFD), FD_CLOEXEC);
    close((int)fd);
    CHECK_ERR("O_DIRECTORY of a file", open2(root, "file", O_RDONLY | O_DIRECTORY, 0, 0), ENOTDIR);

    fd = open2(root, "sub/../file", O_RDONLY, 0, RESOLVE_BENEATH);
    CHECK_OK("RESOLVE_BENEATH inside", fd);
    close((int)fd);
    CHECK_ERR("RESOLVE_BENEATH out through ..", open2(root, "../outside", O_RDONLY, 0, RESOLVE_BENEATH),
              EXDEV);
    CHECK_ERR("RESOLVE_BENEATH of an absolute path", open2(root, "/", O_RDONLY, 0, RESOLVE_BENEATH),
              EXDEV);
    fd = open2(root, "/file", O_RDONLY, 0, RESOLVE_IN_ROOT);
    CHECK_OK("RESOLVE_IN_ROOT: / is the directory", fd);
    CHECK_EQ("it is the directory's file", fd >= 0 && content_is((int)fd, "in root"), 1);
    fd = open2(root, "../../file", O_RDONLY, 0, RESOLVE_IN_ROOT);
    CHECK_OK("RESOLVE_IN_ROOT: .. stays at the root", fd);
    CHECK_EQ("the same file", fd >= 0 && content_is((int)fd, "in root"), 1);
    CHECK_ERR("RESOLVE_IN_ROOT: no outside", open2(root, "/outside", O_RDONLY, 0, RESOLVE_IN_ROOT),
              ENOENT);
    fd = open2(root, "link", O_RDONLY, 0, 0);
    CHECK_OK("a symlink", fd);
    close((int)fd);
    CHECK_ERR("RESOLVE_NO_SYMLINKS", open2(root, "link", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", root);
    fd = open2(AT_FDCWD, self, O_RDONLY | O_DIRECTORY, 0, 0);
    CHECK_OK("a magic link", fd);
    close((int)fd);
    CHECK_ERR("RESOLVE_NO_MAGICLINKS", open2(AT_FDCWD, self, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS),
              ELOOP);
    CHECK_ERR("RESOLVE_NO_XDEV into /proc", open2(AT_FDCWD, "/proc/self", O_RDONLY, 0, RESOLVE_NO_XDEV),
              EXDEV);
    CHECK_ERR("a bad directory descriptor", open2(999, "file", O_RDONLY, 0, 0), EBADF);
    return check_finish();
}
