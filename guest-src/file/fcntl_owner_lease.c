/*
 * fcntl's I/O-signal and lease commands: F_SETSIG/F_GETSIG (a signal past _NSIG is EINVAL),
 * F_SETOWN/F_GETOWN, F_SETOWN_EX/F_GETOWN_EX with a process and a thread owner (EFAULT for an
 * unreadable or unwritable struct), and a read lease taken, reported and given back.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#ifndef F_SETSIG
#define F_SETSIG 10
#define F_GETSIG 11
#endif
#ifndef F_SETOWN_EX
#define F_SETOWN_EX 15
#define F_GETOWN_EX 16
#endif
#ifndef F_OWNER_TID
#define F_OWNER_TID 0
#define F_OWNER_PID 1
#endif
#ifndef F_SETLEASE
#define F_SETLEASE 1024
#define F_GETLEASE 1025
#endif

struct owner_ex {
    int type;
    int pid;
};

int main(void)
{
    int fd = open("file.txt", O_RDONLY);
    REQUIRE("open file.txt", fd >= 0);
    pid_t me = getpid();

    CHECK_EQ("F_GETSIG at first", fcntl(fd, F_GETSIG), 0);
    CHECK_OK("F_SETSIG SIGUSR1", fcntl(fd, F_SETSIG, SIGUSR1));
    CHECK_EQ("F_GETSIG gives it back", fcntl(fd, F_GETSIG), SIGUSR1);
    CHECK_ERR("F_SETSIG 65: EINVAL", fcntl(fd, F_SETSIG, 65), EINVAL);
    CHECK_OK("F_SETSIG 0", fcntl(fd, F_SETSIG, 0));

    CHECK_EQ("F_GETOWN at first", fcntl(fd, F_GETOWN), 0);
    CHECK_OK("F_SETOWN to this process", fcntl(fd, F_SETOWN, me));
    CHECK_EQ("F_GETOWN gives it back", fcntl(fd, F_GETOWN) == me, 1);

    struct owner_ex ex = {-1, -1};
    CHECK_OK("F_GETOWN_EX", fcntl(fd, F_GETOWN_EX, &ex));
    CHECK_EQ("F_GETOWN_EX: a process owner", ex.type, F_OWNER_PID);
    CHECK_EQ("F_GETOWN_EX: this process", ex.pid == me, 1);
    struct owner_ex tid = {F_OWNER_TID, (int)syscall(SYS_gettid)};
    CHECK_OK("F_SETOWN_EX to this thread", fcntl(fd, F_SETOWN_EX, &tid));
    ex.type = ex.pid = -1;
    CHECK_OK("F_GETOWN_EX again", fcntl(fd, F_GETOWN_EX, &ex));
    CHECK_EQ("F_GETOWN_EX: a thread owner", ex.type, F_OWNER_TID);
    CHECK_EQ("F_GETOWN_EX: this thread", ex.pid == tid.pid, 1);
    CHECK_ERR("F_GETOWN_EX to NULL: EFAULT", fcntl(fd, F_GETOWN_EX, NULL), EFAULT);
    CHECK_ERR("F_SETOWN_EX from NULL: EFAULT", fcntl(fd, F_SETOWN_EX, NULL), EFAULT);
    struct owner_ex bad = {7, 1};
    CHECK_ERR("F_SETOWN_EX with an unknown type: EINVAL", fcntl(fd, F_SETOWN_EX, &bad), EINVAL);

    CHECK_EQ("F_GETLEASE at first", fcntl(fd, F_GETLEASE), F_UNLCK);
    CHECK_OK("F_SETLEASE F_RDLCK", fcntl(fd, F_SETLEASE, F_RDLCK));
    CHECK_EQ("F_GETLEASE: a read lease", fcntl(fd, F_GETLEASE), F_RDLCK);
    CHECK_OK("F_SETLEASE F_UNLCK", fcntl(fd, F_SETLEASE, F_UNLCK));
    CHECK_EQ("F_GETLEASE: none", fcntl(fd, F_GETLEASE), F_UNLCK);
    CHECK_ERR("F_SETLEASE 9: EINVAL", fcntl(fd, F_SETLEASE, 9), EINVAL);
    return check_finish();
}
