/*
 * Descriptor calls on O_PATH descriptors and dup3 onto itself, as Linux answers: ioctl finds
 * no O_PATH file (fdget), so even FIOCLEX and FIONCLEX are EBADF; fcntl serves an O_PATH
 * descriptor only F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD and F_GETFL (check_fcntl_cmd);
 * dup3 of a descriptor onto itself is EINVAL before the descriptor is looked up.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>

int main(void)
{
    int p = open(".", O_PATH);
    REQUIRE("open . O_PATH", p >= 0);
    CHECK_ERR("ioctl FIOCLEX on O_PATH: EBADF", ioctl(p, FIOCLEX), EBADF);
    CHECK_ERR("ioctl FIONCLEX on O_PATH: EBADF", ioctl(p, FIONCLEX), EBADF);
    CHECK_EQ("F_GETFD unchanged", fcntl(p, F_GETFD), 0);
    struct termios t;
    CHECK_ERR("ioctl TCGETS on O_PATH: EBADF", ioctl(p, TCGETS, &t), EBADF);
    CHECK_ERR("ioctl TCGETS on O_PATH, bad buffer: EBADF", ioctl(p, TCGETS, (void *)8), EBADF);
    CHECK_ERR("unknown ioctl on O_PATH: EBADF", ioctl(p, 0x1234), EBADF);
    CHECK_OK("fcntl F_SETFD on O_PATH", fcntl(p, F_SETFD, FD_CLOEXEC));
    CHECK_EQ("fcntl F_GETFD on O_PATH", fcntl(p, F_GETFD), FD_CLOEXEC);
    int fl = fcntl(p, F_GETFL);
    check("fcntl F_GETFL on O_PATH shows O_PATH", fl >= 0 && (fl & O_PATH), "flags %#x", fl);
    int d = fcntl(p, F_DUPFD_CLOEXEC, 10);
    CHECK_EQ("fcntl F_DUPFD_CLOEXEC on O_PATH", d >= 10, 1);
    CHECK_ERR("fcntl F_SETFL on O_PATH: EBADF", fcntl(p, F_SETFL, O_NONBLOCK), EBADF);
    CHECK_ERR("fcntl F_GETLK on O_PATH, bad buffer: EBADF", fcntl(p, F_GETLK, (void *)8), EBADF);
    CHECK_ERR("fcntl F_GETPIPE_SZ on O_PATH: EBADF", fcntl(p, F_GETPIPE_SZ), EBADF);
    CHECK_ERR("dup3(p, p, 0): EINVAL", syscall(SYS_dup3, p, p, 0), EINVAL);
    CHECK_ERR("dup3 of a closed fd onto itself: EINVAL", syscall(SYS_dup3, 900, 900, 0), EINVAL);
    CHECK_ERR("dup3 onto itself with a bad flag: EINVAL", syscall(SYS_dup3, 1, 1, 1), EINVAL);
    CHECK_ERR("dup3 of a closed fd: EBADF", syscall(SYS_dup3, 900, 901, 0), EBADF);

    int f = open("file.txt", O_RDONLY);
    REQUIRE("open file.txt", f >= 0);
    CHECK_OK("ioctl FIOCLEX on a file", ioctl(f, FIOCLEX));
    CHECK_EQ("F_GETFD after FIOCLEX", fcntl(f, F_GETFD), FD_CLOEXEC);
    CHECK_OK("ioctl FIONCLEX on a file", ioctl(f, FIONCLEX));
    CHECK_EQ("F_GETFD after FIONCLEX", fcntl(f, F_GETFD), 0);
    return check_finish();
}
