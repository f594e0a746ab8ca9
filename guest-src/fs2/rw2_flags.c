/*
 * preadv2 and pwritev2 per descriptor kind (fs/read_write.c, do_preadv/do_pwritev and
 * kiocb_set_rw_flags): offset -1 reads and writes at the file position and moves it,
 * RWF_APPEND appends whatever the offset, RWF_DSYNC/RWF_SYNC/RWF_HIPRI are accepted on a
 * file (RWF_NOWAIT is left out: which files take it changed between kernels); a pipe takes only
 * offset -1 (ESPIPE otherwise); a negative iovec count or a huge one is EINVAL.
 */
#include "fs2.h"
#include <sys/uio.h>

#ifndef RWF_APPEND
#define RWF_HIPRI 0x1
#define RWF_DSYNC 0x2
#define RWF_SYNC 0x4
#define RWF_APPEND 0x10
#endif

static long rd(int fd, char *buf, size_t len, long off, int flags)
{
    struct iovec v = { buf, len };
    return syscall(SYS_preadv2, fd, &v, 1, off, 0L, flags);
}

static long wr(int fd, const char *text, long off, int flags)
{
    struct iovec v = { (void *)text, strlen(text) };
    return syscall(SYS_pwritev2, fd, &v, 1, off, 0L, flags);
}

int main(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0);
    char buf[32];
    CHECK_EQ("pwritev2 at the position (offset -1)", wr(fd, "hello", -1, 0), 5);
    CHECK_EQ("moves the position", lseek(fd, 0, SEEK_CUR), 5);
    CHECK_EQ("pwritev2 at an offset", wr(fd, "J", 0, 0), 1);
    CHECK_EQ("leaves the position", lseek(fd, 0, SEEK_CUR), 5);
    CHECK_EQ("RWF_APPEND at offset 1", wr(fd, "!", 1, RWF_APPEND), 1);
    CHECK_EQ("RWF_APPEND at the position", wr(fd, "?", -1, RWF_APPEND), 1);
    CHECK_EQ("the position moves to the end with -1", lseek(fd, 0, SEEK_CUR), 7);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("the file", rd(fd, buf, sizeof buf, 0, 0), 7);
    CHECK_MEM("reads Jello!?", buf, "Jello!?", 7);
    CHECK_EQ("RWF_DSYNC", wr(fd, "x", 7, RWF_DSYNC), 1);
    CHECK_EQ("RWF_SYNC", wr(fd, "y", 8, RWF_SYNC), 1);
    CHECK_EQ("RWF_HIPRI", rd(fd, buf, 4, 0, RWF_HIPRI), 4);
    lseek(fd, 2, SEEK_SET);
    CHECK_EQ("preadv2 at the position", rd(fd, buf, 3, -1, 0), 3);
    CHECK_MEM("reads llo", buf, "llo", 3);
    CHECK_EQ("and moves it", lseek(fd, 0, SEEK_CUR), 5);
    CHECK_EQ("preadv2 past the end", rd(fd, buf, 4, 100, 0), 0);

    int p[2];
    NEED("a pipe", pipe(p) == 0);
    CHECK_EQ("pwritev2 to a pipe at -1", wr(p[1], "pipe", -1, 0), 4);
    CHECK_ERR("pwritev2 to a pipe at an offset", wr(p[1], "x", 0, 0), ESPIPE);
    CHECK_ERR("preadv2 of a pipe at an offset", rd(p[0], buf, 4, 0, 0), ESPIPE);
    CHECK_ERR("RWF_APPEND to a pipe at an offset", wr(p[1], "x", 0, RWF_APPEND), ESPIPE);
    CHECK_EQ("preadv2 of a pipe at -1", rd(p[0], buf, sizeof buf, -1, 0), 4);
    CHECK_MEM("reads what was written", buf, "pipe", 4);

    struct iovec v = { buf, 1 };
    CHECK_ERR("a negative iovec count", syscall(SYS_preadv2, fd, &v, -1, 0L, 0L, 0), EINVAL);
    CHECK_ERR("more than 1024 iovecs", syscall(SYS_preadv2, fd, &v, 1025, 0L, 0L, 0), EINVAL);
    CHECK_EQ("no iovecs at all", syscall(SYS_preadv2, fd, &v, 0, 0L, 0L, 0), 0);
    int ro = open("f", O_RDONLY);
    CHECK_ERR("pwritev2 to a read-only descriptor", wr(ro, "x", 0, 0), EBADF);
    int wo = open("f", O_WRONLY);
    CHECK_ERR("preadv2 of a write-only descriptor", rd(wo, buf, 1, 0, 0), EBADF);
    CHECK_ERR("pwritev2 with an unknown flag", wr(fd, "x", 0, 0x80000), EOPNOTSUPP);
    return check_finish();
}
