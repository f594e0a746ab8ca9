/*
 * openat2's resolve rules against symlinks (fs/namei.c, with LOOKUP_BENEATH, LOOKUP_IN_ROOT,
 * LOOKUP_NO_SYMLINKS, LOOKUP_NO_MAGICLINKS): under RESOLVE_IN_ROOT an absolute symlink and
 * ".." chains resolve inside the directory; under RESOLVE_BENEATH a symlink that leaves it
 * (by ".." or by being absolute) is EXDEV; RESOLVE_NO_SYMLINKS refuses a link anywhere on
 * the path but lets O_PATH|O_NOFOLLOW open a final one; RESOLVE_NO_MAGICLINKS refuses
 * /proc/self/fd/N but not its O_PATH|O_NOFOLLOW open; RESOLVE_CACHED refuses creation.
 */
#include "fs2.h"
#include <stdint.h>

struct how {
    uint64_t flags, mode, resolve;
};

#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20

static long open2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
    struct how h = { flags, (flags & O_CREAT) ? 0644 : 0, resolve };
    return syscall(SYS_openat2, dirfd, path, &h, sizeof h);
}

static int content_is(long fd, const char *want)
{
    char buf[32] = { 0 };
    if (fd < 0)
        return 0;
    ssize_t n = read((int)fd, buf, sizeof buf - 1);
    close((int)fd);
    return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) && close(fd) == 0);
}

int main(void)
{
    NEED("directories", mkdir("root", 0755) == 0 && mkdir("root/a", 0755) == 0 && mkdir("root/a/b", 0755) == 0);
    put("root/file", "inside");
    put("file", "outside");
    NEED("an absolute symlink", symlink("/file", "root/abs") == 0);
    NEED("a symlink up and out", symlink("../../../file", "root/a/b/up") == 0);
    NEED("a symlink up and back in", symlink("../../file", "root/a/b/in") == 0);
    NEED("a symlink to a directory", symlink("a", "root/dirlink") == 0);
    int root = open("root", O_RDONLY | O_DIRECTORY);
    NEED("the root open", root >= 0);
    long fd;

    CHECK_EQ("RESOLVE_IN_ROOT: an absolute symlink lands inside",
             content_is(open2(root, "abs", O_RDONLY, RESOLVE_IN_ROOT), "inside"), 1);
    CHECK_EQ("RESOLVE_IN_ROOT: .. past the root stops at it",
             content_is(open2(root, "a/b/up", O_RDONLY, RESOLVE_IN_ROOT), "inside"), 1);
    CHECK_EQ("without it the absolute symlink leaves",
             content_is(open2(root, "abs", O_RDONLY, 0), "inside"), 0);
    CHECK_ERR("RESOLVE_BENEATH: an absolute symlink", open2(root, "abs", O_RDONLY, RESOLVE_BENEATH), EXDEV);
    CHECK_ERR("RESOLVE_BENEATH: a symlink up and out", open2(root, "a/b/up", O_RDONLY, RESOLVE_BENEATH), EXDEV);
    CHECK_EQ("RESOLVE_BENEATH: a symlink up and back in",
             content_is(open2(root, "a/b/in", O_RDONLY, RESOLVE_BENEATH), "inside"), 1);
    CHECK_EQ("RESOLVE_BENEATH: .. that stays inside",
             content_is(open2(root, "a/../file", O_RDONLY, RESOLVE_BENEATH), "inside"), 1);

    CHECK_ERR("RESOLVE_NO_SYMLINKS: a link in the middle", open2(root, "dirlink/b", O_RDONLY, RESOLVE_NO_SYMLINKS),
              ELOOP);
    CHECK_ERR("RESOLVE_NO_SYMLINKS: a final link", open2(root, "abs", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP);
    fd = open2(root, "abs", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    CHECK_OK("RESOLVE_NO_SYMLINKS: O_PATH|O_NOFOLLOW of a final link", fd);
    struct stat st;
    CHECK_EQ("opens the link itself", fd >= 0 && fstatat((int)fd, "", &st, AT_EMPTY_PATH) == 0 &&
                                          S_ISLNK(st.st_mode), 1);
    CHECK_ERR("RESOLVE_NO_SYMLINKS: O_NOFOLLOW alone", open2(root, "abs", O_RDONLY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS),
              ELOOP);

    int f = open("file", O_RDONLY);
    char magic[64];
    snprintf(magic, sizeof magic, "/proc/self/fd/%d", f);
    CHECK_ERR("RESOLVE_NO_MAGICLINKS: /proc/self/fd/N", open2(AT_FDCWD, magic, O_RDONLY, RESOLVE_NO_MAGICLINKS),
              ELOOP);
    fd = open2(AT_FDCWD, magic, O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS);
    CHECK_OK("RESOLVE_NO_MAGICLINKS: O_PATH|O_NOFOLLOW of it", fd);
    CHECK_EQ("without the flag it is the file", content_is(open2(AT_FDCWD, magic, O_RDONLY, 0), "outside"), 1);
    CHECK_ERR("RESOLVE_NO_MAGICLINKS: through /proc/self/cwd",
              open2(AT_FDCWD, "/proc/self/cwd/file", O_RDONLY, RESOLVE_NO_MAGICLINKS), ELOOP);
    CHECK_ERR("RESOLVE_NO_SYMLINKS implies no magic links",
              open2(AT_FDCWD, "/proc/self/cwd/file", O_RDONLY, RESOLVE_NO_SYMLINKS), ELOOP);

    CHECK_ERR("RESOLVE_CACHED with O_CREAT", open2(root, "new", O_RDWR | O_CREAT, RESOLVE_CACHED), EAGAIN);
    CHECK_ERR("RESOLVE_CACHED with O_TRUNC", open2(root, "file", O_RDWR | O_TRUNC, RESOLVE_CACHED), EAGAIN);
    CHECK_ERR("RESOLVE_IN_ROOT with a bad directory", open2(99, "file", O_RDONLY, RESOLVE_IN_ROOT), EBADF);
    CHECK_ERR("RESOLVE_IN_ROOT relative to a file", open2(f, "x", O_RDONLY, RESOLVE_IN_ROOT), ENOTDIR);
    return check_finish();
}
