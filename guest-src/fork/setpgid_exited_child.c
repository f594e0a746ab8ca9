/*
 * A parent may move a child that has already exited (a zombie) into a process group: Linux's
 * setpgid only refuses a child that has run execve. The child here exits at once, and the
 * parent first computes for a while without a system call (as a parent that does work between
 * fork and setpgid would), so the child is gone by the time the parent asks; the group selector
 * of waitpid then reaps it. Nothing depends on timing: the move must succeed however late it
 * comes. (The parent makes no other call between fork and setpgid, as shells do not.)
 */
#include "fork.h"

/* Pure computation, no system call: a few million dependent additions. */
static unsigned long compute(unsigned long rounds)
{
    volatile unsigned long acc = 0;
    for (unsigned long i = 0; i < rounds; i++)
        acc += i ^ (acc >> 3);
    return acc;
}

int main(void)
{
    int st;
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork_child();
        if (pid == 0)
            _exit(20 + round);
        unsigned long work = compute(2000000);
        int moved = setpgid(pid, pid);
        check("the computation ran", work != 1, "acc %lu", work);
        CHECK_OK("setpgid(child, child) after the child exited", moved);
        CHECK_PID("waitpid(-child) reaps it by its new group", wait_for(-pid, &st, 0), pid);
        CHECK_EQ("its status", WEXITSTATUS(st), 20 + round);
    }
    pid_t pid = fork_child();
    if (pid == 0)
        _exit(7);
    compute(2000000);
    CHECK_PID("a child left in the caller's group is reaped by waitpid(0)", wait_for(0, &st, 0),
              pid);
    CHECK_ERR("setpgid on a reaped child: ESRCH", setpgid(pid, pid), ESRCH);
    return check_finish();
}
