/* pipe2: data order, EOF, EPIPE, O_NONBLOCK and O_CLOEXEC, FIONREAD. */
#include "check.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>

int main(void)
{
    int p[2];
    char buf[64];
    signal(SIGPIPE, SIG_IGN);
    CHECK_OK("pipe2 O_CLOEXEC", pipe2(p, O_CLOEXEC));
    CHECK_EQ("read end is FD_CLOEXEC", fcntl(p[0], F_GETFD), FD_CLOEXEC);
    CHECK_EQ("write end is FD_CLOEXEC", fcntl(p[1], F_GETFD), FD_CLOEXEC);
    CHECK_EQ("write 5", write(p[1], "hello", 5), 5);
    CHECK_EQ("write 6", write(p[1], " world", 6), 6);
    int avail = -1;
    CHECK_OK("FIONREAD", ioctl(p[0], FIONREAD, &avail));
    CHECK_EQ("FIONREAD counts buffered bytes", avail, 11);
    CHECK_EQ("short read", read(p[0], buf, 3), 3);
    CHECK_MEM("short read content", buf, "hel", 3);
    CHECK_EQ("rest", read(p[0], buf, sizeof buf), 8);
    CHECK_MEM("rest content", buf, "lo world", 8);
    CHECK_ERR("write to the read end", write(p[0], "x", 1), EBADF);
    close(p[1]);
    CHECK_EQ("EOF after the writer closes", read(p[0], buf, sizeof buf), 0);
    close(p[0]);

    CHECK_OK("pipe2 O_NONBLOCK", pipe2(p, O_NONBLOCK));
    CHECK_ERR("empty non-blocking read", read(p[0], buf, 1), EAGAIN);
    CHECK_EQ("read end is not FD_CLOEXEC", fcntl(p[0], F_GETFD), 0);
    close(p[0]);
    CHECK_ERR("write with no reader", write(p[1], "x", 1), EPIPE);
    close(p[1]);
    CHECK_ERR("pipe2 with an unknown flag", pipe2(p, 0x4), EINVAL);
    return check_finish();
}
