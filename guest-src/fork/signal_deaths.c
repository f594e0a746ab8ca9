/*
 * Deaths by signal as a parent sees them through wait4 and waitid: SIGKILL, SIGTERM, SIGUSR1 by
 * default action, SIGSEGV from a null store (also when SIGSEGV is blocked or ignored: a fault
 * still kills), SIGABRT from abort() (also when a SIGABRT handler returns), SIGPIPE from a write
 * to a pipe without readers; SIGCHLD's default action ignores it. Whether a core was dumped
 * depends on the machine, so WCOREDUMP is never looked at.
 */
#include "fork.h"

enum how { KILL_SELF, RAISE, NULL_STORE, NULL_STORE_BLOCKED, NULL_STORE_IGNORED, ABORT,
           ABORT_CAUGHT, BROKEN_PIPE };

static const struct {
    const char *what;
    enum how how;
    int sig;
    const char *status;
} cases[] = {
    {"kill(getpid(), SIGKILL)", KILL_SELF, SIGKILL, "killed by SIGKILL"},
    {"raise(SIGTERM)", RAISE, SIGTERM, "killed by SIGTERM"},
    {"raise(SIGUSR1)", RAISE, SIGUSR1, "killed by SIGUSR1"},
    {"raise(SIGCHLD) is ignored by default", RAISE, SIGCHLD, "exit 0"},
    {"a null store", NULL_STORE, 0, "killed by SIGSEGV"},
    {"a null store with SIGSEGV blocked", NULL_STORE_BLOCKED, 0, "killed by SIGSEGV"},
    {"a null store with SIGSEGV ignored", NULL_STORE_IGNORED, 0, "killed by SIGSEGV"},
    {"abort()", ABORT, 0, "killed by SIGABRT"},
    {"abort() with a SIGABRT handler that returns", ABORT_CAUGHT, 0, "killed by SIGABRT"},
    {"a write to a pipe without readers", BROKEN_PIPE, 0, "killed by SIGPIPE"},
};

static int handler_fd = -1;

static void on_abrt(int sig)
{
    (void)sig;
    write(handler_fd, "h", 1);
}

static void null_store(void)
{
    volatile int *volatile p = NULL;
    *p = 1;
}

static void die(enum how how, int sig)
{
    sigset_t set;
    switch (how) {
    case KILL_SELF:
        kill(getpid(), sig);
        break;
    case RAISE:
        raise(sig);
        break;
    case NULL_STORE:
        null_store();
        break;
    case NULL_STORE_BLOCKED:
        sigemptyset(&set);
        sigaddset(&set, SIGSEGV);
        sigprocmask(SIG_BLOCK, &set, NULL);
        null_store();
        break;
    case NULL_STORE_IGNORED:
        signal(SIGSEGV, SIG_IGN);
        null_store();
        break;
    case ABORT:
        abort();
    case ABORT_CAUGHT:
        signal(SIGABRT, on_abrt);
        abort();
    case BROKEN_PIPE: {
        int p[2];
        if (pipe(p) != 0)
            _exit(97);
        close(p[0]);
        signal(SIGPIPE, SIG_DFL);
        write(p[1], "x", 1);
        break;
    }
    }
}

int main(void)
{
    int hp[2];
    REQUIRE("pipe", pipe(hp) == 0);
    handler_fd = hp[1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t pid = fork_child();
        if (pid == 0) {
            die(cases[i].how, cases[i].sig);
            _exit(0);
        }
        char name[160];
        snprintf(name, sizeof name, "%s: %s", cases[i].what, cases[i].status);
        check_status(name, pid, cases[i].status);
    }
    close(hp[1]);
    char h[4] = {0};
    CHECK_EQ("the SIGABRT handler ran once before abort() killed", read(hp[0], h, sizeof h), 1);

    pid_t pid = fork_child();
    if (pid == 0) {
        kill(getpid(), SIGKILL);
        _exit(0);
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid WEXITED|WNOWAIT on a SIGKILLed child",
             waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT));
    CHECK_EQ("waitid: si_code CLD_KILLED", si.si_code, CLD_KILLED);
    CHECK_EQ("waitid: si_status SIGKILL", si.si_status, SIGKILL);
    CHECK_PID("waitid: si_pid is the child", si.si_pid, pid);
    check_status("WNOWAIT left it waitable: wait4 reaps it", pid, "killed by SIGKILL");

    pid = fork_child();
    if (pid == 0) {
        null_store();
        _exit(0);
    }
    memset(&si, 0, sizeof si);
    CHECK_OK("waitid WEXITED on a SIGSEGVed child", waitid(P_PID, (id_t)pid, &si, WEXITED));
    check("waitid: si_code CLD_KILLED or CLD_DUMPED",
          si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED, "si_code %d", si.si_code);
    CHECK_EQ("waitid: si_status SIGSEGV", si.si_status, SIGSEGV);
    int st;
    CHECK_PID_ERR("waitid without WNOWAIT reaped it", waitpid(pid, &st, WNOHANG), ECHILD);
    return check_finish();
}
