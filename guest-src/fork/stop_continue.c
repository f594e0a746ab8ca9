/*
 * Stopping and continuing a child: SIGSTOP from the parent or from the child itself is reported
 * by waitpid with WUNTRACED and waitid with WSTOPPED (CLD_STOPPED), once; SIGCONT by WCONTINUED
 * (CLD_CONTINUED); a plain wait does not report stops; SIGTERM sent to a stopped child waits for
 * SIGCONT, SIGKILL does not.
 */
#include "fork.h"

static int hold[2], ready[2];

/*
 * A kill() that must succeed. If it fails, the child it was meant for would block the case
 * forever: release it by closing the hold pipe and stop here.
 */
static void kill_ok(const char *name, int ret)
{
    int e = errno;
    if (check(name, ret == 0, "returned %d, errno %s", ret, errname(e)))
        return;
    close(hold[1]);
    out("verdict: FAIL (stopped at a required check)\n");
    exit(1);
}

/* A child that stops itself first if asked, then blocks until `hold` closes and exits 0. */
static pid_t start(int stop_self)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        if (stop_self)
            raise(SIGSTOP);
        write(ready[1], "r", 1);
        char c;
        close(hold[1]);
        read(hold[0], &c, 1);
        _exit(0);
    }
    return pid;
}

static void check_wait(const char *name, pid_t pid, int options, const char *want)
{
    int st;
    pid_t w = wait_for(pid, &st, options);
    if (w == 0)
        check(name, strcmp(want, "nothing") == 0, "nothing to report");
    else if (w != pid)
        check(name, 0, "waitpid returned %s", w < 0 ? errname(errno) : "another pid");
    else
        check(name, strcmp(status_text(st), want) == 0, "got %s", status_text(st));
}

static void check_waitid(const char *name, pid_t pid, int options, int code, int status)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, (id_t)pid, &si, options);
    check(name, r == 0 && si.si_pid == pid && si.si_code == code && si.si_status == status,
          "returned %d, si_code %d, si_status %d", r, si.si_code, si.si_status);
}

int main(void)
{
    NEED("pipes", pipe(hold) == 0 && pipe(ready) == 0);
    char c;
    pid_t pid = start(0);
    NEED("the child runs", read(ready[0], &c, 1) == 1);
    kill_ok("kill SIGSTOP", kill(pid, SIGSTOP));
    check_wait("waitpid WUNTRACED reports the stop", pid, WUNTRACED, "stopped by SIGSTOP");
    check_wait("a stop is reported once", pid, WUNTRACED | WNOHANG, "nothing");
    kill_ok("kill SIGCONT", kill(pid, SIGCONT));
    check_wait("waitpid WCONTINUED reports the continue", pid, WCONTINUED, "continued");

    kill_ok("kill SIGSTOP again", kill(pid, SIGSTOP));
    check_waitid("waitid WSTOPPED: CLD_STOPPED, SIGSTOP", pid, WSTOPPED, CLD_STOPPED, SIGSTOP);
    check_wait("waitpid without WUNTRACED does not report it", pid, WNOHANG, "nothing");
    kill_ok("kill SIGTERM to the stopped child", kill(pid, SIGTERM));
    check_wait("SIGTERM waits while the child is stopped", pid, WNOHANG, "nothing");
    kill_ok("kill SIGCONT to the stopped child", kill(pid, SIGCONT));
    check_wait("once continued, SIGTERM kills it", pid, 0, "killed by SIGTERM");

    pid = start(1);
    check_wait("raise(SIGSTOP) in the child: stopped", pid, WUNTRACED, "stopped by SIGSTOP");
    kill_ok("kill SIGCONT to the self-stopped child", kill(pid, SIGCONT));
    check_waitid("waitid WCONTINUED: CLD_CONTINUED, SIGCONT", pid, WCONTINUED, CLD_CONTINUED,
                 SIGCONT);
    NEED("the child runs", read(ready[0], &c, 1) == 1);
    kill_ok("kill SIGSTOP once more", kill(pid, SIGSTOP));
    check_wait("stopped once more", pid, WUNTRACED, "stopped by SIGSTOP");
    kill_ok("kill SIGKILL to the stopped child", kill(pid, SIGKILL));
    check_wait("SIGKILL kills it while stopped", pid, 0, "killed by SIGKILL");

    pid = start(0);
    NEED("the child runs", read(ready[0], &c, 1) == 1);
    close(hold[1]);
    check_wait("a child that was never stopped exits 0", pid, WUNTRACED | WCONTINUED, "exit 0");
    return check_finish();
}
