/*
 * Record locks of both kinds on one file (fs/locks.c): open-file-description locks conflict
 * with each other even within a process and with classic POSIX locks; F_OFD_GETLK reports an
 * OFD lock with l_pid -1 and a classic one with its owner's pid; closing any descriptor of a
 * file drops the process's classic locks but not an OFD lock; a fork child shares the
 * description's OFD locks but not its parent's classic ones; F_OFD_* with l_pid set is EINVAL.
 */
#include "fs2.h"

static struct turns t;

static int lock(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
    return fcntl(fd, cmd, &fl);
}

/* F_GETLK-style query: the lock found (type, start, len, pid) or F_UNLCK. */
static struct flock query(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
    if (fcntl(fd, cmd, &fl) != 0)
        fl.l_type = -1;
    return fl;
}

int main(void)
{
    int a = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open("f", O_RDWR);
    NEED("two opens", a >= 0 && b >= 0);

    CHECK_OK("an OFD write lock on 0..9", lock(a, F_OFD_SETLK, F_WRLCK, 0, 10));
    CHECK_ERR("another description's OFD lock in the same process conflicts",
              lock(b, F_OFD_SETLK, F_WRLCK, 5, 10), EAGAIN);
    CHECK_ERR("a classic lock conflicts with it too", lock(b, F_SETLK, F_RDLCK, 5, 1), EAGAIN);
    struct flock fl = query(b, F_OFD_GETLK, F_RDLCK, 0, 0);
    CHECK_EQ("F_OFD_GETLK finds a write lock", fl.l_type, F_WRLCK);
    CHECK_EQ("starting at 0", fl.l_start, 0);
    CHECK_EQ("10 bytes long", fl.l_len, 10);
    CHECK_EQ("owned by no process (-1)", fl.l_pid, -1);
    fl = query(b, F_GETLK, F_RDLCK, 0, 0);
    CHECK_EQ("F_GETLK finds it too", fl.l_type, F_WRLCK);
    CHECK_EQ("with l_pid -1", fl.l_pid, -1);
    fl = query(a, F_OFD_GETLK, F_WRLCK, 0, 0);
    CHECK_EQ("its own description sees no conflict", fl.l_type, F_UNLCK);
    CHECK_OK("a classic lock elsewhere in the file", lock(b, F_SETLK, F_WRLCK, 20, 10));
    fl = query(a, F_OFD_GETLK, F_WRLCK, 20, 1);
    CHECK_EQ("F_OFD_GETLK sees the classic lock", fl.l_type, F_WRLCK);
    CHECK_PID("with our pid", fl.l_pid, getpid());
    CHECK_ERR("an OFD lock over the classic one", lock(a, F_OFD_SETLK, F_RDLCK, 25, 1), EAGAIN);
    fl = query(b, F_GETLK, F_WRLCK, 20, 1);
    CHECK_EQ("F_GETLK does not report our own classic lock", fl.l_type, F_UNLCK);

    int c = open("f", O_RDONLY);
    NEED("a third open", c >= 0);
    CHECK_OK("closing it", close(c));
    fl = query(a, F_OFD_GETLK, F_WRLCK, 20, 1);
    CHECK_EQ("dropped our classic lock", fl.l_type, F_UNLCK);
    fl = query(b, F_OFD_GETLK, F_WRLCK, 0, 1);
    CHECK_EQ("but not the OFD lock", fl.l_type, F_WRLCK);
    CHECK_OK("a classic lock again", lock(b, F_SETLK, F_WRLCK, 40, 10));

    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        wait_for_parent(&t);
        CHECK_OK("the child extends the shared description's OFD lock",
                 lock(a, F_OFD_SETLK, F_WRLCK, 0, 15));
        fl = query(b, F_GETLK, F_WRLCK, 40, 1);
        CHECK_EQ("the child sees its parent's classic lock", fl.l_type, F_WRLCK);
        CHECK_PID("owned by the parent", fl.l_pid, getppid());
        CHECK_ERR("and cannot take it", lock(b, F_SETLK, F_RDLCK, 45, 1), EAGAIN);
        CHECK_OK("a classic lock of the child's", lock(b, F_SETLK, F_RDLCK, 60, 5));
        pass_to_parent(&t);
        wait_for_parent(&t);
        child_exit();
    }
    pass_to_child(&t);
    wait_for_child(&t);
    fl = query(b, F_OFD_GETLK, F_WRLCK, 12, 1);
    CHECK_EQ("the parent sees the child's extension", fl.l_type, F_WRLCK);
    CHECK_EQ("of the same lock", fl.l_len, 15);
    fl = query(a, F_GETLK, F_WRLCK, 60, 1);
    CHECK_EQ("the child's classic lock", fl.l_type, F_RDLCK);
    CHECK_PID("owned by the child", fl.l_pid, pid);
    pass_to_child(&t);
    check_status("the child", pid, "exit 0");
    fl = query(a, F_GETLK, F_WRLCK, 60, 1);
    CHECK_EQ("its locks went with it", fl.l_type, F_UNLCK);
    fl = query(b, F_OFD_GETLK, F_WRLCK, 0, 1);
    CHECK_EQ("the OFD lock stayed", fl.l_type, F_WRLCK);

    struct flock bad = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1 };
    CHECK_ERR("F_OFD_SETLK with l_pid set", fcntl(b, F_OFD_SETLK, &bad), EINVAL);
    CHECK_ERR("F_OFD_GETLK with l_pid set", fcntl(b, F_OFD_GETLK, &bad), EINVAL);
    CHECK_OK("F_OFD_SETLK unlock", lock(a, F_OFD_SETLK, F_UNLCK, 0, 0));
    fl = query(b, F_OFD_GETLK, F_WRLCK, 0, 40);
    CHECK_EQ("leaves the file free below our classic lock", fl.l_type, F_UNLCK);
    int ro = open("f", O_RDONLY);
    CHECK_ERR("a write lock through a read-only descriptor", lock(ro, F_OFD_SETLK, F_WRLCK, 0, 1), EBADF);
    CHECK_ERR("a bad lock type", lock(a, F_OFD_SETLK, 7, 0, 1), EINVAL);
    return check_finish();
}
