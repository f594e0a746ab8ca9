/* fork + wait4/waitid: exit codes, deaths by signal, WNOHANG, ECHILD. */
#include "check.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static pid_t spawn_exit(int code)
{
    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(code);
    return pid;
}

int main(void)
{
    int st;
    pid_t pid = spawn_exit(7);
    CHECK_EQ("wait4 returns the child's pid", wait4(pid, &st, 0, NULL), pid);
    check("exit 7: WIFEXITED", WIFEXITED(st), "status %#x", st);
    CHECK_EQ("exit 7: WEXITSTATUS", WEXITSTATUS(st), 7);

    pid = spawn_exit(256 + 3);
    waitpid(pid, &st, 0);
    CHECK_EQ("exit status is taken modulo 256", WEXITSTATUS(st), 3);

    pid = fork_or_die();
    if (pid == 0) {
        kill(getpid(), SIGKILL);
        _exit(99);
    }
    waitpid(pid, &st, 0);
    check("SIGKILL: WIFSIGNALED", WIFSIGNALED(st), "status %#x", st);
    CHECK_EQ("SIGKILL: WTERMSIG", WTERMSIG(st), SIGKILL);

    pid = fork_or_die();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM);
        _exit(99);
    }
    waitpid(pid, &st, 0);
    check("raise SIGTERM: WIFSIGNALED", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %#x", st);

    int p[2];
    pipe(p);
    pid = fork_or_die();
    if (pid == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1); /* Blocks until the parent closes its end. */
        _exit(5);
    }
    close(p[0]);
    CHECK_EQ("WNOHANG on a running child returns 0", waitpid(pid, &st, WNOHANG), 0);
    close(p[1]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid P_PID WEXITED", waitid(P_PID, (id_t)pid, &si, WEXITED));
    CHECK_EQ("waitid si_pid", si.si_pid, pid);
    CHECK_EQ("waitid si_code", si.si_code, CLD_EXITED);
    CHECK_EQ("waitid si_status", si.si_status, 5);
    CHECK_EQ("waitid si_signo", si.si_signo, SIGCHLD);

    pid = fork_or_die();
    if (pid == 0) {
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid P_ALL", waitid(P_ALL, 0, &si, WEXITED));
    CHECK_EQ("waitid reports CLD_KILLED", si.si_code, CLD_KILLED);
    CHECK_EQ("waitid reports the signal", si.si_status, SIGKILL);

    struct rusage ru;
    CHECK_ERR("wait4 with no children", wait4(-1, &st, 0, &ru), ECHILD);
    CHECK_ERR("waitpid of a non-child", waitpid(1, &st, 0), ECHILD);
    CHECK_ERR("waitid with no wait options", waitid(P_ALL, 0, &si, 0), EINVAL);
    return check_finish();
}
