/*
 * Process identity across fork: the child has a new pid, which is what fork returned to the
 * parent; its getppid is the parent's getpid; it inherits the parent's process group and
 * session; two children get different pids. Only comparisons are printed, never a pid.
 */
#include "fork.h"
#include <sys/syscall.h>

int main(void)
{
    pid_t me = getpid(), group = getpgrp(), session = getsid(0);
    CHECK_PID("gettid is getpid in a one-thread process", syscall(SYS_gettid), me);
    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        pid_t mine = getpid();
        check("child: getpid is new", mine != me && mine > 0, "same as the parent's");
        CHECK_PID("child: getppid is the parent's getpid", getppid(), me);
        CHECK_PID("child: gettid is its getpid", syscall(SYS_gettid), mine);
        CHECK_PID("child: same process group", getpgrp(), group);
        CHECK_PID("child: same session", getsid(0), session);
        CHECK_PID("child: getpgid(0) agrees", getpgid(0), group);
        CHECK_PID("child: getpgid of the parent agrees", getpgid(me), group);
        /* Telling the parent its pid passes the turn: the child prints nothing more. */
        if (write(t.to_parent[1], &mine, sizeof mine) != sizeof mine)
            _exit(2);
        child_exit();
    }
    pid_t told = 0;
    REQUIRE("read the child's pid", read(t.to_parent[0], &told, sizeof told) == sizeof told);
    check("fork returned the child's getpid", told == pid, "another pid");
    CHECK_PID("getpgid of the child is the parent's group", getpgid(pid), group);
    CHECK_PID("getsid of the child is the parent's session", getsid(pid), session);
    check_status("child exited 0", pid, "exit 0");
    CHECK_PID("the parent's getpid did not change", getpid(), me);

    pid_t second = fork_child();
    if (second == 0)
        _exit(0);
    check("a second child gets another pid", second != pid && second != me, "same pid");
    check_status("second child exited 0", second, "exit 0");
    CHECK_PID_ERR("getpgid of a reaped child", getpgid(pid), ESRCH);
    CHECK_PID_ERR("getsid of a reaped child", getsid(pid), ESRCH);
    return check_finish();
}
