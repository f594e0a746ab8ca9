/*
 * Orphans: when a child exits before its own child, the grandchild is re-parented to the nearest
 * child subreaper (PR_SET_CHILD_SUBREAPER), which sees it in getppid, can wait for it and gets
 * its status. Without the subreaper the same grandchild would go to init.
 */
#include "fork.h"
#include <sys/prctl.h>

int main(void)
{
    pid_t me = getpid();
    int flag = -1;
    CHECK_OK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
    CHECK_OK("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0));
    CHECK_EQ("the flag is set", flag, 1);

    struct turns t;
    turns_open(&t);
    int report[2], noted[2];
    REQUIRE("pipes", pipe(report) == 0 && pipe(noted) == 0);
    pid_t child = fork_child();
    if (child == 0) {
        pid_t grandchild = fork_child();
        if (grandchild == 0) {
            pid_t before = getppid();
            write(noted[1], "n", 1);
            /* The grandparent passes the turn once it has reaped the child. */
            wait_for_parent(&t);
            check("grandchild: its parent was the child, not the subreaper", before != me,
                  "the subreaper");
            CHECK_PID("grandchild: re-parented to the subreaper", getppid(), me);
            child_exit();
        }
        char c;
        /* Exit only once the grandchild has noted its first parent. */
        if (read(noted[0], &c, 1) != 1 ||
            write(report[1], &grandchild, sizeof grandchild) != sizeof grandchild)
            _exit(2);
        _exit(0);
    }
    pid_t grandchild = 0;
    REQUIRE("read the grandchild's pid", read(report[0], &grandchild, sizeof grandchild) ==
            sizeof grandchild);
    check_status("the child exits, orphaning the grandchild", child, "exit 0");
    pass_to_child(&t);
    check_status("the subreaper reaps the grandchild", grandchild, "exit 0");
    int st;
    CHECK_PID_ERR("no children are left", waitpid(-1, &st, WNOHANG), ECHILD);
    return check_finish();
}
