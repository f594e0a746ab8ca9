/*
 * A pipe's capacity (fs/pipe.c, pipe_fcntl and pipe_set_size): 16 pages to start, set through
 * either end and read through the other, rounded up to a power-of-two number of pages (one
 * page at least), EBUSY below what the pipe holds, EPERM past /proc/sys/fs/pipe-max-size for a
 * user who is not root (root may pass it only with CAP_SYS_RESOURCE, which a lane's root may lack), EINVAL past 2^31, EBADF for a descriptor that is not a pipe; the
 * capacity decides how much a non-blocking write takes.
 */
#include "fs2.h"

static int p[2];

static void not_root(void)
{
    CHECK_ERR("past pipe-max-size as nobody", fcntl(p[1], F_SETPIPE_SZ, 2 << 20), EPERM);
    CHECK_EQ("up to pipe-max-size as nobody", fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
    CHECK_EQ("then anything up to that as nobody", fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
}

int main(void)
{
    NEED("a pipe", pipe(p) == 0);
    CHECK_EQ("16 pages to start", fcntl(p[0], F_GETPIPE_SZ), 65536);
    CHECK_EQ("set 100000 bytes: 32 pages", fcntl(p[1], F_SETPIPE_SZ, 100000), 131072);
    CHECK_EQ("read through the other end", fcntl(p[0], F_GETPIPE_SZ), 131072);
    CHECK_EQ("set one byte: a page", fcntl(p[0], F_SETPIPE_SZ, 1), 4096);
    CHECK_EQ("set zero: a page", fcntl(p[0], F_SETPIPE_SZ, 0), 4096);
    CHECK_EQ("set three pages: four", fcntl(p[0], F_SETPIPE_SZ, 3 * 4096), 16384);

    NEED("non-blocking writes", fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
    static char buf[65536];
    CHECK_EQ("a write fills the four pages", write(p[1], buf, sizeof buf), 16384);
    CHECK_ERR("then the pipe is full", write(p[1], buf, 1), EAGAIN);
    CHECK_ERR("shrinking below its contents", fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY);
    CHECK_EQ("growing it", fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
    CHECK_EQ("makes room", write(p[1], buf, sizeof buf), 65536 - 16384);
    NEED("drain it", read(p[0], buf, sizeof buf) == 65536);

    CHECK_EQ("pipe-max-size itself", fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
    CHECK_ERR("past 2^31", fcntl(p[1], F_SETPIPE_SZ, (1UL << 31) + 1), EINVAL);
    CHECK_EQ("back to 16 pages", fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
    as_nobody("the limit of a user who is not root", not_root);
    int fd = open("f", O_RDWR | O_CREAT, 0644);
    CHECK_ERR("F_GETPIPE_SZ of a file", fcntl(fd, F_GETPIPE_SZ), EBADF);
    CHECK_ERR("F_SETPIPE_SZ of a file", fcntl(fd, F_SETPIPE_SZ, 4096), EBADF);
    CHECK_ERR("F_GETPIPE_SZ of a bad descriptor", fcntl(99, F_GETPIPE_SZ), EBADF);
    int fifo_r;
    NEED("a FIFO", mkfifo("fifo", 0600) == 0 && (fifo_r = open("fifo", O_RDONLY | O_NONBLOCK)) >= 0);
    CHECK_EQ("a FIFO has a pipe's capacity", fcntl(fifo_r, F_GETPIPE_SZ), 65536);
    return check_finish();
}
