/*
 * SIGCHLD with its default disposition: the default action ignores it, so a child's exit leaves
 * the parent running and the child a zombie until waited for, with its status. Blocked, the
 * signal stays pending across the reaping, and a SA_SIGINFO handler installed later receives it
 * with si_code CLD_EXITED, the child's pid and exit code.
 */
#include "fork.h"

static volatile sig_atomic_t handled, h_code, h_status, h_pid_ok;
static pid_t expected_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    handled++;
    h_code = si->si_code;
    h_status = si->si_status;
    h_pid_ok = si->si_pid == expected_pid;
}

int main(void)
{
    struct sigaction sa;
    sigaction(SIGCHLD, NULL, &sa);
    check("SIGCHLD starts with SIG_DFL", sa.sa_handler == SIG_DFL, "another disposition");

    pid_t pid = fork_child();
    if (pid == 0)
        _exit(3);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid WNOWAIT sees the exited child",
             waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT));
    CHECK_EQ("it is a zombie, not reaped: CLD_EXITED", si.si_code, CLD_EXITED);
    check_status("waitpid reaps it with its status", pid, "exit 3");

    sigset_t chld, pending;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    pid = fork_child();
    if (pid == 0)
        _exit(5);
    expected_pid = pid;
    memset(&si, 0, sizeof si);
    REQUIRE("waitid WNOWAIT", waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
    sigpending(&pending);
    CHECK_EQ("blocked, SIGCHLD is pending after the exit", sigismember(&pending, SIGCHLD), 1);
    check_status("waitpid reaps the child", pid, "exit 5");
    sigpending(&pending);
    CHECK_EQ("SIGCHLD is still pending after the reaping", sigismember(&pending, SIGCHLD), 1);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    CHECK_EQ("unblocked, the handler runs once", handled, 1);
    CHECK_EQ("si_code CLD_EXITED", h_code, CLD_EXITED);
    CHECK_EQ("si_status is the exit code", h_status, 5);
    check("si_pid is the child", h_pid_ok, "another pid");
    sigpending(&pending);
    CHECK_EQ("nothing is pending any more", sigismember(&pending, SIGCHLD), 0);
    return check_finish();
}
