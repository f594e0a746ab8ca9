/*
 * pidfd_getfd (kernel/pid.c) on the caller's own process: a duplicate of the named descriptor,
 * always close-on-exec, sharing the open file (offset) with the original; the errors in Linux's
 * order: flags (EINVAL), a descriptor that is not open (EBADF), one that is open but no pidfd
 * (EBADF), a target descriptor not open in the process (EBADF), and a process already reaped
 * (ESRCH). Another process's descriptors are not asked for: whether a process may take them
 * depends on the machine's ptrace policy.
 */
#include "../fork/fork.h"
#include <fcntl.h>
#include <sys/syscall.h>

int main(void)
{
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    REQUIRE("pidfd_open of ourselves", self >= 0);
    int fd = open("data", O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE("a file", fd >= 0 && write(fd, "abcdef", 6) == 6);
    lseek(fd, 2, SEEK_SET);

    int copy = (int)syscall(SYS_pidfd_getfd, self, fd, 0);
    CHECK_EQ("pidfd_getfd of our own descriptor", copy >= 0 && copy != fd, 1);
    CHECK_EQ("the copy is close-on-exec", fcntl(copy, F_GETFD), FD_CLOEXEC);
    CHECK_EQ("the original is not", fcntl(fd, F_GETFD), 0);
    char c = 0;
    CHECK_EQ("the copy reads at the shared offset", read(copy, &c, 1) == 1 && c == 'c', 1);
    CHECK_EQ("and moved the original's offset", lseek(fd, 0, SEEK_CUR), 3);
    CHECK_EQ("the copy has the original's flags", fcntl(copy, F_GETFL) & O_ACCMODE, O_RDWR);
    close(copy);

    CHECK_ERR("flags 1", syscall(SYS_pidfd_getfd, self, fd, 1), EINVAL);
    CHECK_ERR("flags 1 with a closed pidfd", syscall(SYS_pidfd_getfd, 999, fd, 1), EINVAL);
    CHECK_ERR("a closed pidfd", syscall(SYS_pidfd_getfd, 999, fd, 0), EBADF);
    CHECK_ERR("a file that is no pidfd", syscall(SYS_pidfd_getfd, fd, fd, 0), EBADF);
    CHECK_ERR("a descriptor the process does not have", syscall(SYS_pidfd_getfd, self, 999, 0),
              EBADF);
    CHECK_ERR("a negative descriptor", syscall(SYS_pidfd_getfd, self, -1, 0), EBADF);

    pid_t child = fork_child();
    if (child == 0)
        _exit(0);
    int cfd = (int)syscall(SYS_pidfd_open, child, 0);
    CHECK_EQ("pidfd_open of a child", cfd >= 0, 1);
    check_status("the child", child, "exit 0");
    CHECK_ERR("pidfd_getfd of a reaped process", syscall(SYS_pidfd_getfd, cfd, 0, 0), ESRCH);
    return check_finish();
}
