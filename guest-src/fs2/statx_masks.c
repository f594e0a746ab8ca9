/*
 * statx (fs/stat.c): the basic fields against stat's, the mask of what was filled in,
 * AT_EMPTY_PATH on a descriptor, AT_SYMLINK_NOFOLLOW, a pipe's type, block and device numbers
 * split into major and minor; a reserved mask bit, unknown flags and the two sync modes
 * together are EINVAL.
 */
#include "fs2.h"
#include <stdint.h>
#include <sys/sysmacros.h>

struct kstatx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    struct { int64_t sec; uint32_t nsec; int32_t pad; } atime, btime, ctime, mtime;
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t spare[14];
};

#define KSTATX_TYPE 0x1
#define KSTATX_MODE 0x2
#define KSTATX_SIZE 0x200
#define KSTATX_BASIC_STATS 0x7ff
#define KSTATX_RESERVED 0x80000000U
#define FORCE_SYNC 0x2000
#define DONT_SYNC 0x4000

static long sx(int dirfd, const char *path, int flags, unsigned mask, struct kstatx *b)
{
    memset(b, 0xa5, sizeof *b);
    return syscall(SYS_statx, dirfd, path, flags, mask, b);
}

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0640);
    NEED("a file", fd >= 0 && write(fd, "hello", 5) == 5);
    NEED("a symlink", symlink("f", "l") == 0);
    struct stat st;
    NEED("stat it", stat("f", &st) == 0);
    struct kstatx x;

    CHECK_OK("statx of the basic fields", sx(AT_FDCWD, "f", 0, KSTATX_BASIC_STATS, &x));
    CHECK_EQ("all of them filled in", x.mask & KSTATX_BASIC_STATS, KSTATX_BASIC_STATS);
    CHECK_EQ("the size", x.size, 5);
    CHECK_EQ("the mode", x.mode, S_IFREG | 0640);
    CHECK_EQ("the inode", x.ino == (uint64_t)st.st_ino, 1);
    CHECK_EQ("the links", x.nlink, 1);
    CHECK_EQ("the owner", x.uid == st.st_uid && x.gid == st.st_gid, 1);
    CHECK_EQ("the device's major", x.dev_major, major(st.st_dev));
    CHECK_EQ("the device's minor", x.dev_minor, minor(st.st_dev));
    CHECK_EQ("the modification time", x.mtime.sec == st.st_mtim.tv_sec && x.mtime.nsec == st.st_mtim.tv_nsec, 1);
    CHECK_EQ("the block size", x.blksize == (uint32_t)st.st_blksize, 1);
    CHECK_EQ("no special device", x.rdev_major + x.rdev_minor, 0);
    CHECK_EQ("the last spare word cleared", x.spare[13], 0);

    CHECK_OK("statx asking for the type only", sx(AT_FDCWD, "f", 0, KSTATX_TYPE, &x));
    CHECK_EQ("answers the type", x.mask & KSTATX_TYPE, KSTATX_TYPE);
    CHECK_EQ("and the mode with it", x.mode, S_IFREG | 0640);
    CHECK_OK("statx asking for nothing", sx(AT_FDCWD, "f", 0, 0, &x));
    CHECK_EQ("the size anyway", x.size, 5);
    CHECK_OK("AT_EMPTY_PATH on a descriptor", sx(fd, "", AT_EMPTY_PATH, KSTATX_SIZE, &x));
    CHECK_EQ("its size", x.size, 5);
    CHECK_ERR("an empty path without it", sx(fd, "", 0, KSTATX_SIZE, &x), ENOENT);
    CHECK_OK("AT_SYMLINK_NOFOLLOW", sx(AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, KSTATX_BASIC_STATS, &x));
    CHECK_EQ("the link itself", x.mode & S_IFMT, S_IFLNK);
    CHECK_EQ("the link's size is its target's length", x.size, 1);
    CHECK_OK("following it", sx(AT_FDCWD, "l", 0, KSTATX_BASIC_STATS, &x));
    CHECK_EQ("the file", x.mode & S_IFMT, S_IFREG);
    CHECK_OK("AT_STATX_FORCE_SYNC", sx(AT_FDCWD, "f", FORCE_SYNC, KSTATX_SIZE, &x));
    CHECK_OK("AT_STATX_DONT_SYNC", sx(AT_FDCWD, "f", DONT_SYNC, KSTATX_SIZE, &x));
    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_OK("a pipe through AT_EMPTY_PATH", sx(p[0], "", AT_EMPTY_PATH, KSTATX_TYPE, &x));
    CHECK_EQ("is a FIFO", x.mode & S_IFMT, S_IFIFO);
    CHECK_OK("/dev/null", sx(AT_FDCWD, "/dev/null", 0, KSTATX_BASIC_STATS, &x));
    CHECK_EQ("its device numbers", x.rdev_major * 1000 + x.rdev_minor, 1003);

    CHECK_ERR("the reserved mask bit", sx(AT_FDCWD, "f", 0, KSTATX_RESERVED, &x), EINVAL);
    CHECK_ERR("both sync modes", sx(AT_FDCWD, "f", FORCE_SYNC | DONT_SYNC, KSTATX_SIZE, &x), EINVAL);
    CHECK_ERR("an unknown flag", sx(AT_FDCWD, "f", 0x10000000, KSTATX_SIZE, &x), EINVAL);
    CHECK_ERR("a missing file", sx(AT_FDCWD, "missing", 0, KSTATX_SIZE, &x), ENOENT);
    CHECK_ERR("into an unwritable buffer", syscall(SYS_statx, AT_FDCWD, "f", 0, KSTATX_SIZE, (void *)8), EFAULT);
    CHECK_ERR("a bad descriptor", sx(99, "", AT_EMPTY_PATH, KSTATX_SIZE, &x), EBADF);
    return check_finish();
}
