/*
 * Which children a wait selects: waitpid(-1) any child, waitpid(0) only those in the caller's
 * process group, waitpid(-pgid) and waitid(P_PGID) only those in that group, waitid(P_ALL) any;
 * WNOHANG returns 0 while the selected children run even when others have exited; ECHILD once
 * no selected child is left.
 */
#include "fork.h"

static int hold[2];

/* A child that exits with `code` at once, or after `hold` closes. */
static pid_t start(int code, int wait_for_hold, pid_t group)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        if (wait_for_hold) {
            char c;
            close(hold[1]);
            read(hold[0], &c, 1);
        }
        _exit(code);
    }
    if (group >= 0)
        NEED("setpgid", setpgid(pid, group ? group : pid) == 0);
    return pid;
}

int main(void)
{
    NEED("pipe", pipe(hold) == 0);
    int st;
    /* g1 leads group G; g2 is in G too; mine is in the caller's group. */
    pid_t g1 = start(11, 1, 0);
    pid_t g2 = start(12, 0, g1);
    pid_t mine = start(13, 1, -1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    NEED("g2 has exited", waitid(P_PID, (id_t)g2, &si, WEXITED | WNOWAIT) == 0);

    CHECK_PID("waitpid(0, WNOHANG): the caller's group has only a running child",
              waitpid(0, &st, WNOHANG), 0);
    CHECK_PID("waitpid(-G, WNOHANG) reaps the exited child of group G",
              waitpid(-g1, &st, WNOHANG), g2);
    CHECK_EQ("its status: exit 12", WEXITSTATUS(st), 12);
    CHECK_PID("waitpid(-G, WNOHANG) again: its other child runs", waitpid(-g1, &st, WNOHANG), 0);
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid(P_PGID, G, WNOHANG)", waitid(P_PGID, (id_t)g1, &si, WEXITED | WNOHANG));
    CHECK_PID("reports nothing while it runs: si_pid 0", si.si_pid, 0);

    close(hold[1]);
    CHECK_PID("waitpid(0) reaps the child in the caller's group", wait_for(0, &st, 0), mine);
    CHECK_EQ("its status: exit 13", WEXITSTATUS(st), 13);
    CHECK_PID_ERR("waitpid(0) again: none left in the caller's group", waitpid(0, &st, 0), ECHILD);
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid(P_PGID, G) reaps the group leader", waitid(P_PGID, (id_t)g1, &si, WEXITED));
    check("the leader's si_pid and si_status 11", si.si_pid == g1 && si.si_status == 11,
          "si_status %d", si.si_status);
    CHECK_PID_ERR("waitid(P_PGID, G) again: ECHILD", waitid(P_PGID, (id_t)g1, &si, WEXITED),
                  ECHILD);

    pid_t any = start(14, 0, -1);
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid(P_ALL) reaps any child", waitid(P_ALL, 0, &si, WEXITED));
    check("that child's si_pid and si_status 14", si.si_pid == any && si.si_status == 14,
          "si_status %d", si.si_status);
    CHECK_PID_ERR("waitpid(-1) with no children left", waitpid(-1, &st, WNOHANG), ECHILD);
    return check_finish();
}
