/*
 * kill() between processes: a parent kills its child by pid (default action, or a handler that
 * runs), probes with signal 0 (a zombie still counts as a process until it is reaped), kills a
 * whole process group with kill(-pgid) and its own group with kill(0) while ignoring the signal
 * itself; ESRCH for reaped pids and empty groups, EINVAL for a bad signal number.
 */
#include "fork.h"

static int ready[2], hold[2];

/*
 * Children block on `hold` until it closes. When a check the rest depends on fails, they would
 * block the case forever: release them and stop here.
 */
static void release_and_stop(void)
{
    close(hold[1]);
    out("verdict: FAIL (stopped at a required check)\n");
    exit(1);
}

/* A kill() that must succeed. */
static void kill_ok(const char *name, int ret)
{
    int e = errno;
    if (!check(name, ret == 0, "returned %d, errno %s", ret, errname(e)))
        release_and_stop();
}

/* REQUIRE, releasing the blocked children first. */
static void require_or_release(const char *name, int cond)
{
    int e = errno;
    if (!check(name, cond, "required (errno %s)", errname(e)))
        release_and_stop();
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

static void say_ready(void)
{
    if (write(ready[1], "r", 1) != 1)
        _exit(90);
}

static void wait_ready(void)
{
    char c;
    NEED("the child is ready", read(ready[0], &c, 1) == 1);
}

/* A child that says it is ready and then blocks until `hold` closes. */
static pid_t blocked_child(void)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        signal(SIGUSR2, SIG_DFL);
        close(hold[1]);
        say_ready();
        char c;
        read(hold[0], &c, 1);
        _exit(0);
    }
    wait_ready();
    return pid;
}

int main(void)
{
    NEED("pipes", pipe(ready) == 0 && pipe(hold) == 0);

    pid_t pid = blocked_child();
    kill_ok("kill(child, 0) on a live child", kill(pid, 0));
    CHECK_ERR("kill with signal 1000", kill(pid, 1000), EINVAL);
    kill_ok("kill(child, SIGTERM)", kill(pid, SIGTERM));
    check_status("the child dies by SIGTERM", pid, "killed by SIGTERM");
    CHECK_ERR("kill(reaped child, 0)", kill(pid, 0), ESRCH);
    CHECK_ERR("kill(reaped child, SIGTERM)", kill(pid, SIGTERM), ESRCH);

    pid = fork_child();
    if (pid == 0) {
        sigset_t block, none;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigprocmask(SIG_BLOCK, &block, NULL);
        signal(SIGUSR1, on_usr1);
        say_ready();
        sigemptyset(&none);
        while (!got_usr1)
            sigsuspend(&none);
        _exit(10);
    }
    wait_ready();
    kill_ok("kill(child, SIGUSR1) with a handler", kill(pid, SIGUSR1));
    check_status("the handler ran and the child exited 10", pid, "exit 10");

    pid = fork_child();
    if (pid == 0)
        _exit(3);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    REQUIRE("waitid WNOWAIT", waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
    kill_ok("kill(zombie, 0): a zombie still exists", kill(pid, 0));
    kill_ok("kill(zombie, SIGKILL) succeeds", kill(pid, SIGKILL));
    check_status("and changes nothing: the zombie exited 3", pid, "exit 3");

    pid_t a = blocked_child();
    pid_t b = blocked_child();
    require_or_release("setpgid the first child", setpgid(a, a) == 0);
    require_or_release("setpgid the second child into its group", setpgid(b, a) == 0);
    kill_ok("killpg(group, 0)", killpg(a, 0));
    kill_ok("kill(-group, SIGUSR2)", kill(-a, SIGUSR2));
    check_status("the group's first child dies by SIGUSR2", a, "killed by SIGUSR2");
    check_status("the group's second child dies by SIGUSR2", b, "killed by SIGUSR2");
    CHECK_ERR("kill(-empty group, SIGUSR2)", kill(-a, SIGUSR2), ESRCH);

    signal(SIGUSR2, SIG_IGN);
    pid = blocked_child();
    kill_ok("kill(0, SIGUSR2) signals the caller's own group", kill(0, SIGUSR2));
    check_status("the child in the caller's group dies by SIGUSR2; the caller ignores it", pid,
                 "killed by SIGUSR2");
    return check_finish();
}
