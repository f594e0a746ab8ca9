/*
 * kill and friends: signal 0 probes a process (itself, a live child: 0; a reaped child: ESRCH);
 * invalid signal numbers are EINVAL for kill, raise, sigaction, tgkill and tkill; SIGKILL and
 * SIGSTOP cannot be given an action (EINVAL) but can be read; killpg and kill(-pgid) reach every
 * member of a process group of two children; tgkill with a tgid the thread is not in is ESRCH; a
 * signal sent to oneself with kill() is delivered before kill() returns.
 */
#include "../fork/fork.h"
#include <sys/syscall.h>

static volatile sig_atomic_t hits, step, seen_step;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
    seen_step = step;
}

static long tgkill_(pid_t tgid, pid_t tid, int sig)
{
    return syscall(SYS_tgkill, (long)tgid, (long)tid, (long)sig);
}

static long tkill_(pid_t tid, int sig)
{
    return syscall(SYS_tkill, (long)tid, (long)sig);
}

/* A child that waits on a pipe until it is killed or the pipe closes. */
static pid_t sleeper(int fd_read, int fd_write)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        char c;
        close(fd_write);
        while (read(fd_read, &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    return pid;
}

int main(void)
{
    pid_t me = getpid();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    REQUIRE("SIGUSR1 handler", sigaction(SIGUSR1, &sa, NULL) == 0);

    /* Delivered before kill() returns. */
    hits = 0;
    step = 1;
    CHECK_OK("kill self SIGUSR1", kill(me, SIGUSR1));
    step = 2;
    CHECK_EQ("the handler ran once", hits, 1);
    CHECK_EQ("it ran before kill() returned", seen_step, 1);
    step = 3;
    CHECK_OK("kill(0, SIGUSR1): the own process group", kill(0, SIGUSR1));
    CHECK_EQ("that too ran before kill() returned", seen_step, 3);
    step = 4;
    CHECK_OK("tgkill self SIGUSR1", tgkill_(me, tid, SIGUSR1));
    CHECK_EQ("tgkill's ran before it returned", seen_step, 4);
    step = 5;
    CHECK_OK("tkill self SIGUSR1", tkill_(tid, SIGUSR1));
    CHECK_EQ("tkill's ran before it returned", seen_step, 5);
    CHECK_EQ("four deliveries in all", hits, 4);

    /* Signal 0: existence. */
    CHECK_OK("kill(self, 0)", kill(me, 0));
    CHECK_OK("kill(0, 0): the own group", kill(0, 0));
    CHECK_OK("tgkill(self, self, 0)", tgkill_(me, tid, 0));
    CHECK_OK("tkill(self, 0)", tkill_(tid, 0));
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    pid_t child = sleeper(p[0], p[1]);
    CHECK_OK("kill(child, 0) while it runs", kill(child, 0));
    CHECK_ERR("tgkill(child, own tid, 0): the thread is not in that group: ESRCH",
              tgkill_(child, tid, 0), ESRCH);
    CHECK_ERR("tgkill(child, own tid, SIGUSR1): ESRCH", tgkill_(child, tid, SIGUSR1), ESRCH);
    CHECK_ERR("tgkill(self, child, SIGUSR1): ESRCH", tgkill_(me, child, SIGUSR1), ESRCH);
    CHECK_EQ("no stray delivery", hits, 4);
    close(p[1]);
    close(p[0]);
    check_status("the child exits 0 when the pipe closes", child, "exit 0");
    CHECK_ERR("kill(reaped child, 0): ESRCH", kill(child, 0), ESRCH);
    CHECK_ERR("kill(reaped child, SIGTERM): ESRCH", kill(child, SIGTERM), ESRCH);
    CHECK_ERR("tkill(reaped child, 0): ESRCH", tkill_(child, 0), ESRCH);
    CHECK_ERR("tgkill(reaped child, reaped child, 0): ESRCH", tgkill_(child, child, 0), ESRCH);

    /* Invalid signal numbers. */
    CHECK_ERR("kill signal 65: EINVAL", kill(me, 65), EINVAL);
    CHECK_ERR("kill signal -1: EINVAL", kill(me, -1), EINVAL);
    CHECK_ERR("raise(65): EINVAL", raise(65), EINVAL);
    CHECK_ERR("raise(-1): EINVAL", raise(-1), EINVAL);
    CHECK_ERR("tgkill signal 65: EINVAL", tgkill_(me, tid, 65), EINVAL);
    CHECK_ERR("tkill signal 65: EINVAL", tkill_(tid, 65), EINVAL);
    CHECK_ERR("tgkill with tgid 0: EINVAL", tgkill_(0, tid, SIGUSR1), EINVAL);
    CHECK_ERR("tkill with tid 0: EINVAL", tkill_(0, SIGUSR1), EINVAL);
    CHECK_ERR("sigaction 65: EINVAL", sigaction(65, &sa, NULL), EINVAL);
    CHECK_ERR("sigaction -1: EINVAL", sigaction(-1, &sa, NULL), EINVAL);
    CHECK_ERR("sigaction 0: EINVAL", sigaction(0, &sa, NULL), EINVAL);
    CHECK_ERR("sigaction SIGKILL: EINVAL", sigaction(SIGKILL, &sa, NULL), EINVAL);
    CHECK_ERR("sigaction SIGSTOP: EINVAL", sigaction(SIGSTOP, &sa, NULL), EINVAL);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    CHECK_ERR("SIG_IGN for SIGKILL: EINVAL", sigaction(SIGKILL, &ign, NULL), EINVAL);
    struct sigaction old;
    memset(&old, 0xff, sizeof old);
    CHECK_OK("reading SIGKILL's action is allowed", sigaction(SIGKILL, NULL, &old));
    check("SIGKILL's action is SIG_DFL", old.sa_handler == SIG_DFL, "not SIG_DFL");
    CHECK_EQ("no delivery from the failed calls", hits, 4);

    /*
     * A signal sent as soon as fork() returns reaches the child: blocked there (the mask and
     * the handler are inherited), it is pending when the child looks, and runs the handler
     * once unblocked.
     */
    sigset_t usr2, none;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigemptyset(&none);
    REQUIRE("SIGUSR2 handler", sigaction(SIGUSR2, &sa, NULL) == 0);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    REQUIRE("pipe", pipe(p) == 0);
    child = fork_child();
    if (child == 0) {
        char c;
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(2);
        sigset_t pend;
        sigemptyset(&pend);
        sigpending(&pend);
        if (sigismember(&pend, SIGUSR2) != 1)
            _exit(3);
        hits = 0;
        sigprocmask(SIG_SETMASK, &none, NULL);
        _exit(hits == 1 ? 0 : 4);
    }
    close(p[0]);
    CHECK_OK("SIGUSR2 to the child right after fork", kill(child, SIGUSR2));
    NEED("write", write(p[1], "x", 1) == 1);
    close(p[1]);
    check_status("it was pending in the child and ran its handler once unblocked (exit 0)", child,
                 "exit 0");
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGUSR2, SIG_DFL);

    /* killpg and kill(-pgid) reach both members of a process group. */
    for (int round = 0; round < 2; round++) {
        const char *how = round == 0 ? "killpg" : "kill(-pgid)";
        char name[128];
        REQUIRE("pipe", pipe(p) == 0);
        pid_t a = sleeper(p[0], p[1]);
        pid_t b = sleeper(p[0], p[1]);
        close(p[0]);
        snprintf(name, sizeof name, "%s: the first child leads a new group", how);
        CHECK_OK(name, setpgid(a, a));
        snprintf(name, sizeof name, "%s: the second child joins it", how);
        CHECK_OK(name, setpgid(b, a));
        snprintf(name, sizeof name, "%s: both are in the group", how);
        check(name, getpgid(a) == a && getpgid(b) == a, "other groups");
        snprintf(name, sizeof name, "%s: signal 0 to the group", how);
        CHECK_OK(name, killpg(a, 0));
        snprintf(name, sizeof name, "%s: SIGTERM to the group", how);
        CHECK_OK(name, round == 0 ? killpg(a, SIGTERM) : kill(-a, SIGTERM));
        close(p[1]); /* a child the signal missed reads EOF and exits 0 */
        snprintf(name, sizeof name, "%s: the leader is killed by SIGTERM", how);
        check_status(name, a, "killed by SIGTERM");
        snprintf(name, sizeof name, "%s: the other member is killed by SIGTERM", how);
        check_status(name, b, "killed by SIGTERM");
        snprintf(name, sizeof name, "%s: the empty group: ESRCH", how);
        CHECK_ERR(name, round == 0 ? killpg(a, 0) : kill(-a, 0), ESRCH);
    }
    CHECK_EQ("this process was not in the group", hits, 4);
    return check_finish();
}
