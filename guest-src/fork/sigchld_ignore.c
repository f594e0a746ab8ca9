/*
 * SIGCHLD set to SIG_IGN: exiting children are reaped automatically, so wait blocks until they
 * are all gone and then fails with ECHILD; the setting is inherited across fork; a zombie that
 * existed before SIG_IGN stays waitable; SA_NOCLDWAIT with a handler reaps the same way and still
 * delivers SIGCHLD; back at SIG_DFL, children become zombies again.
 */
#include "fork.h"

static volatile sig_atomic_t handled;

static void on_chld(int sig)
{
    (void)sig;
    handled++;
}

int main(void)
{
    int st;
    pid_t zombie = fork_child();
    if (zombie == 0)
        _exit(9);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    REQUIRE("waitid WNOWAIT: a zombie exists",
            waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT) == 0);

    signal(SIGCHLD, SIG_IGN);
    pid_t pid = fork_child();
    if (pid == 0)
        _exit(4);
    CHECK_PID_ERR("SIG_IGN: waitpid(child) waits, then ECHILD", waitpid(pid, &st, 0), ECHILD);
    CHECK_PID("the earlier zombie is still waitable", wait_for(zombie, &st, 0), zombie);
    CHECK_EQ("with its status, exit 9", WIFEXITED(st) && WEXITSTATUS(st) == 9, 1);

    int hold[2];
    NEED("pipe", pipe(hold) == 0);
    for (int i = 0; i < 3; i++) {
        if (fork_child() == 0) {
            char c;
            close(hold[1]);
            read(hold[0], &c, 1);
            _exit(0);
        }
    }
    close(hold[0]);
    CHECK_PID("WNOHANG while they run returns 0", waitpid(-1, &st, WNOHANG), 0);
    close(hold[1]);
    CHECK_PID_ERR("wait(-1) returns ECHILD once all three are gone", wait(&st), ECHILD);

    int verdict[2];
    NEED("pipe", pipe(verdict) == 0);
    pid = fork_child();
    if (pid == 0) {
        struct sigaction sa;
        sigaction(SIGCHLD, NULL, &sa);
        check("child: SIG_IGN is inherited", sa.sa_handler == SIG_IGN, "another disposition");
        pid_t grandchild = fork_child();
        if (grandchild == 0)
            _exit(0);
        CHECK_PID_ERR("child: its own child is reaped too", waitpid(grandchild, &st, 0), ECHILD);
        char failures = (char)check_failures;
        write(verdict[1], &failures, 1);
        child_exit();
    }
    CHECK_PID_ERR("the child itself is reaped too", waitpid(pid, &st, 0), ECHILD);
    char failures = 1;
    close(verdict[1]);
    CHECK_EQ("the child's checks passed", read(verdict[0], &failures, 1) == 1 && failures == 0, 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    pid = fork_child();
    if (pid == 0)
        _exit(6);
    CHECK_PID_ERR("SA_NOCLDWAIT: waitpid(child) waits, then ECHILD", waitpid(pid, &st, 0), ECHILD);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    CHECK_EQ("SA_NOCLDWAIT: the handler still got SIGCHLD", handled, 1);

    signal(SIGCHLD, SIG_DFL);
    pid = fork_child();
    if (pid == 0)
        _exit(8);
    check_status("back at SIG_DFL, the child's status is kept", pid, "exit 8");
    return check_finish();
}
