/*
 * close_range closes (or marks close-on-exec) the open descriptors of a range and skips the
 * rest, refusing unknown flags and reversed ranges; preadv2/pwritev2 read and write at an
 * offset or (offset -1) at the file position, honour RWF_APPEND, and refuse unknown flags.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif

int main(void)
{
    int p[2], q[2];
    NEED("pipes", pipe(p) == 0 && pipe(q) == 0);
    int lo = p[0] < q[0] ? p[0] : q[0];
    int hi = p[1] > q[1] ? p[1] : q[1];
    NEED("four descriptors in a row", hi - lo == 3);
    CHECK_OK("close_range of the first two", syscall(SYS_close_range, lo, lo + 1, 0));
    CHECK_ERR("the first is closed", fcntl(lo, F_GETFD), EBADF);
    CHECK_ERR("the second is closed", fcntl(lo + 1, F_GETFD), EBADF);
    CHECK_OK("the third is open", fcntl(lo + 2, F_GETFD));
    CHECK_OK("close_range CLOSE_RANGE_CLOEXEC of the last two",
             syscall(SYS_close_range, lo + 2, hi, CLOSE_RANGE_CLOEXEC));
    CHECK_EQ("the third is close-on-exec", fcntl(lo + 2, F_GETFD), FD_CLOEXEC);
    CHECK_EQ("the fourth is close-on-exec", fcntl(hi, F_GETFD), FD_CLOEXEC);
    CHECK_ERR("close_range with first past last", syscall(SYS_close_range, 10, 5, 0), EINVAL);
    CHECK_ERR("close_range with an unknown flag", syscall(SYS_close_range, lo, hi, 8), EINVAL);
    CHECK_OK("close_range of a range with nothing open", syscall(SYS_close_range, 500, ~0U, 0));
    CHECK_OK("close_range CLOSE_RANGE_UNSHARE in a process with one thread",
             syscall(SYS_close_range, lo + 2, hi, CLOSE_RANGE_UNSHARE));
    CHECK_ERR("the range is closed", fcntl(hi, F_GETFD), EBADF);

    int fd = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
    NEED("a file", fd >= 0 && write(fd, "0123456789", 10) == 10);
    char buf[8] = {0};
    struct iovec v = {buf, 4};
    CHECK_EQ("preadv2 at offset 2", syscall(SYS_preadv2, fd, &v, 1, 2L, 0L, 0), 4);
    CHECK_EQ("reads 2345", memcmp(buf, "2345", 4), 0);
    CHECK_EQ("the position did not move", lseek(fd, 0, SEEK_CUR), 10);
    lseek(fd, 6, SEEK_SET);
    CHECK_EQ("preadv2 at offset -1", syscall(SYS_preadv2, fd, &v, 1, -1L, 0L, 0), 4);
    CHECK_EQ("reads from the position", memcmp(buf, "6789", 4), 0);
    CHECK_EQ("and moves it", lseek(fd, 0, SEEK_CUR), 10);
    struct iovec w = {"ab", 2};
    CHECK_EQ("pwritev2 at offset 0", syscall(SYS_pwritev2, fd, &w, 1, 0L, 0L, 0), 2);
    CHECK_EQ("pwritev2 RWF_APPEND", syscall(SYS_pwritev2, fd, &w, 1, 0L, 0L, RWF_APPEND), 2);
    char all[16] = {0};
    CHECK_EQ("the file", pread(fd, all, sizeof all, 0), 12);
    CHECK_EQ("is ab23456789ab", memcmp(all, "ab23456789ab", 12), 0);
    CHECK_ERR("preadv2 with an unknown flag", syscall(SYS_preadv2, fd, &v, 1, 0L, 0L, 0x100),
              EOPNOTSUPP);
    CHECK_ERR("preadv2 at a negative offset", syscall(SYS_preadv2, fd, &v, 1, -2L, 0L, 0), EINVAL);
    CHECK_ERR("preadv2 of a bad descriptor", syscall(SYS_preadv2, 99, &v, 1, 0L, 0L, 0), EBADF);
    close(fd);
    unlink("data");
    return check_finish();
}
