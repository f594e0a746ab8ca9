/*
 * Process groups and sessions: a child leaves and rejoins its parent's group with setpgid; a
 * parent moves its child into a group of its own; setsid fails for a group leader and makes any
 * other process the leader of a new session and group, from which it can neither join its old
 * group nor be moved by its parent. Errors as Linux gives them: EPERM, ESRCH, EINVAL.
 *
 * Every case starts as the leader of its own process group (the harness makes it one).
 */
#include "fork.h"

int main(void)
{
    pid_t me = getpid(), group = getpgrp();
    CHECK_PID("the case leads its own process group", group, me);
    CHECK_PID_ERR("setsid in a group leader", setsid(), EPERM);
    CHECK_ERR("setpgid to a negative group", setpgid(0, -1), EINVAL);
    CHECK_ERR("setpgid of a process that is not a child", setpgid(1, 1), ESRCH);

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_OK("child: setpgid(0, 0)", setpgid(0, 0));
        CHECK_PID("child: leads a group of its own", getpgrp(), getpid());
        CHECK_PID("child: still in the parent's session", getsid(0), getsid(me));
        CHECK_PID_ERR("child: setsid as a group leader", setsid(), EPERM);
        CHECK_OK("child: setpgid back into the parent's group", setpgid(0, group));
        CHECK_PID("child: back in the parent's group", getpgrp(), group);
        child_exit();
    }
    check_status("the child that changed groups exited 0", pid, "exit 0");
    CHECK_ERR("setpgid into the group of a reaped child", setpgid(0, pid), EPERM);

    pid = fork_child();
    if (pid == 0) {
        wait_for_parent(&t);
        CHECK_PID("child: its parent made it a group leader", getpgrp(), getpid());
        child_exit();
    }
    CHECK_OK("the parent moves its child into a new group", setpgid(pid, pid));
    CHECK_PID("getpgid of the child", getpgid(pid), pid);
    pass_to_child(&t);
    check_status("the child moved by its parent exited 0", pid, "exit 0");

    pid = fork_child();
    if (pid == 0) {
        pid_t sid = setsid();
        CHECK_PID("child: setsid returns the new session, its pid", sid, getpid());
        CHECK_PID("child: getsid", getsid(0), getpid());
        CHECK_PID("child: leads a new group", getpgrp(), getpid());
        CHECK_ERR("child: setpgid into its old group, in another session", setpgid(0, group),
                  EPERM);
        CHECK_ERR("child: a session leader cannot change its group", setpgid(0, 0), EPERM);
        CHECK_PID_ERR("child: setsid again", setsid(), EPERM);
        pass_to_parent(&t);
        wait_for_parent(&t);
        child_exit();
    }
    wait_for_child(&t);
    CHECK_PID("getsid of the child is its own session", getsid(pid), pid);
    CHECK_ERR("the parent cannot move a session leader", setpgid(pid, pid), EPERM);
    CHECK_ERR("nor into the parent's group, in another session", setpgid(pid, group), EPERM);
    pass_to_child(&t);
    check_status("the child in its own session exited 0", pid, "exit 0");
    return check_finish();
}
