/*
 * sigaction flags: SA_RESETHAND (the second delivery takes the default action), SA_SIGINFO
 * against a plain handler, SA_RESTART against none on a read of an empty pipe interrupted by an
 * interval timer, SA_NOCLDSTOP (no SIGCHLD for a stopped or continued child, one for its exit),
 * and the old action sigaction returns: handler, flags and mask exactly (SIGKILL and SIGSTOP are
 * dropped from a mask).
 */
#include "../fork/fork.h"
#include <sys/time.h>

/* The libc adds SA_RESTORER to every action it installs; it is not the program's. */
#define SA_RESTORER_BIT 0x04000000

static volatile sig_atomic_t hits, last_sig, last_code, chld_hits;
static int pipe_fds[2];

static void plain_handler(int sig)
{
    hits++;
    last_sig = sig;
}

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_sig = sig + 100 * (si->si_signo == sig);
    last_code = si->si_code;
}

static void write_byte(int sig)
{
    (void)sig;
    hits++;
    if (write(pipe_fds[1], "h", 1) != 1)
        _exit(3);
}

static void on_chld(int sig)
{
    (void)sig;
    chld_hits++;
}

static int set_action(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

/* The members of a set among the classic signals 1..31, as "10,12". */
static const char *members(const sigset_t *set)
{
    static char buf[128];
    buf[0] = '\0';
    for (int s = 1; s < 32; s++)
        if (sigismember(set, s) == 1)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d", buf[0] ? "," : "", s);
    return buf;
}

static void resethand(void)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = plain_handler;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        NEED("sigaction SA_RESETHAND", sigaction(SIGUSR1, &sa, NULL) == 0);
        hits = 0;
        raise(SIGUSR1);
        CHECK_EQ("child: SA_RESETHAND: the first SIGUSR1 runs the handler", hits, 1);
        struct sigaction now;
        sigaction(SIGUSR1, NULL, &now);
        check("child: the disposition is SIG_DFL after the first delivery",
              now.sa_handler == SIG_DFL, "not SIG_DFL");
        raise(SIGUSR1);
        check("child: the second SIGUSR1 kills", 0, "still alive");
        child_exit();
    }
    check_status("SA_RESETHAND: the second SIGUSR1 kills the child", pid, "killed by SIGUSR1");
}

static void siginfo_vs_plain(void)
{
    NEED("plain handler", set_action(SIGUSR2, plain_handler, 0) == 0);
    hits = last_sig = 0;
    raise(SIGUSR2);
    CHECK_EQ("a plain handler gets the signal number", last_sig, SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    CHECK_EQ("a plain handler's flags have no SA_SIGINFO", now.sa_flags & SA_SIGINFO, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    NEED("SA_SIGINFO handler", sigaction(SIGUSR2, &sa, NULL) == 0);
    hits = last_sig = last_code = 0;
    raise(SIGUSR2);
    CHECK_EQ("SA_SIGINFO: the handler gets the number and si_signo", last_sig, 100 + SIGUSR2);
    CHECK_EQ("SA_SIGINFO: si_code is SI_TKILL for raise", last_code, SI_TKILL);
    hits = last_sig = last_code = 0;
    kill(getpid(), SIGUSR2);
    CHECK_EQ("SA_SIGINFO: si_code is SI_USER for kill", last_code, SI_USER);
    sigaction(SIGUSR2, NULL, &now);
    check("SA_SIGINFO: the action reads back with sa_sigaction and SA_SIGINFO",
          now.sa_sigaction == info_handler && (now.sa_flags & SA_SIGINFO), "differs");
}

static void restart(void)
{
    char c = 0;
    NEED("pipe", pipe(pipe_fds) == 0);
    struct itimerval it = {{0, 0}, {0, 50 * 1000}};

    NEED("SA_RESTART handler", set_action(SIGALRM, write_byte, SA_RESTART) == 0);
    hits = 0;
    NEED("setitimer", setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_EQ("SA_RESTART: the read restarts and returns the handler's byte", read(pipe_fds[0], &c, 1),
             1);
    CHECK_EQ("SA_RESTART: the byte", c, 'h');
    CHECK_EQ("SA_RESTART: the handler ran once", hits, 1);

    NEED("handler without SA_RESTART", set_action(SIGALRM, write_byte, 0) == 0);
    hits = 0;
    c = 0;
    NEED("setitimer", setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_ERR("no SA_RESTART: the read fails with EINTR", read(pipe_fds[0], &c, 1), EINTR);
    CHECK_EQ("no SA_RESTART: the handler ran once", hits, 1);
    CHECK_EQ("no SA_RESTART: the byte waits in the pipe", read(pipe_fds[0], &c, 1) == 1 && c == 'h',
             1);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    signal(SIGALRM, SIG_DFL);
}

/*
 * A child that stops itself, is continued by the parent, says so through a pipe and exits 0 when
 * told. The child notifies its parent of the continue before it returns from raise(), so once its
 * byte is read any SIGCHLD for the stop and the continue has been handled.
 */
static void stop_and_continue(const char *label, int nocldstop, int want)
{
    char name[160], c = 0;
    int up[2], down[2];
    NEED("pipes", pipe(up) == 0 && pipe(down) == 0);
    NEED("SIGCHLD handler", set_action(SIGCHLD, on_chld, SA_RESTART | nocldstop) == 0);
    chld_hits = 0;
    pid_t pid = fork_child();
    if (pid == 0) {
        raise(SIGSTOP);
        if (write(up[1], "c", 1) != 1 || read(down[0], &c, 1) != 1)
            _exit(2);
        _exit(0);
    }
    int st;
    pid_t w = wait_for(pid, &st, WUNTRACED);
    snprintf(name, sizeof name, "%s: the child stops", label);
    check(name, w == pid && strcmp(status_text(st), "stopped by SIGSTOP") == 0, "got %s",
          w == pid ? status_text(st) : errname(errno));
    NEED("SIGCONT", kill(pid, SIGCONT) == 0);
    w = wait_for(pid, &st, WCONTINUED);
    snprintf(name, sizeof name, "%s: the child continues", label);
    check(name, w == pid && strcmp(status_text(st), "continued") == 0, "got %s",
          w == pid ? status_text(st) : errname(errno));
    snprintf(name, sizeof name, "%s: the child runs again", label);
    check(name, read(up[0], &c, 1) == 1 && c == 'c', "no byte");
    snprintf(name, sizeof name, "%s: SIGCHLD deliveries for the stop and the continue", label);
    CHECK_EQ(name, chld_hits, want);
    NEED("tell the child", write(down[1], "x", 1) == 1);
    snprintf(name, sizeof name, "%s: the child exits 0", label);
    check_status(name, pid, "exit 0");
    snprintf(name, sizeof name, "%s: one more SIGCHLD for the exit", label);
    CHECK_EQ(name, chld_hits, want + 1);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
}

/* An action's flags as the program set them: unsigned, without SA_RESTORER. */
static unsigned flags_of(const struct sigaction *sa)
{
    return (unsigned)sa->sa_flags & ~(unsigned)SA_RESTORER_BIT;
}

static void old_action(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    NEED("reset SIGTERM", sigaction(SIGTERM, &sa, NULL) == 0);
    memset(&old, 0xff, sizeof old);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaddset(&sa.sa_mask, SIGKILL);
    sigaddset(&sa.sa_mask, SIGSTOP);
    CHECK_OK("install a SIGTERM action", sigaction(SIGTERM, &sa, &old));
    check("the old action was SIG_DFL", old.sa_handler == SIG_DFL, "not SIG_DFL");
    CHECK_EQ("the old flags were 0", flags_of(&old), 0);
    check("the old mask was empty", strcmp(members(&old.sa_mask), "") == 0, "{%s}",
          members(&old.sa_mask));

    struct sigaction next;
    memset(&next, 0, sizeof next);
    next.sa_handler = plain_handler;
    next.sa_flags = SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&next.sa_mask);
    sigaddset(&next.sa_mask, SIGINT);
    memset(&old, 0, sizeof old);
    CHECK_OK("replace it", sigaction(SIGTERM, &next, &old));
    check("the old action's handler", old.sa_sigaction == info_handler, "another handler");
    CHECK_EQ("the old action's flags: SA_SIGINFO|SA_RESTART|SA_NODEFER",
             flags_of(&old), SA_SIGINFO | SA_RESTART | SA_NODEFER);
    check("the old action's mask: SIGHUP and SIGUSR2, without SIGKILL and SIGSTOP",
          strcmp(members(&old.sa_mask), "1,12") == 0, "{%s}", members(&old.sa_mask));

    memset(&old, 0, sizeof old);
    CHECK_OK("read it with a null action", sigaction(SIGTERM, NULL, &old));
    check("the current handler", old.sa_handler == plain_handler, "another handler");
    CHECK_EQ("the current flags: SA_RESETHAND|SA_ONSTACK", flags_of(&old),
             (unsigned)(SA_RESETHAND | SA_ONSTACK));
    check("the current mask: SIGINT", strcmp(members(&old.sa_mask), "2") == 0, "{%s}",
          members(&old.sa_mask));

    NEED("ignore SIGTERM", signal(SIGTERM, SIG_IGN) != SIG_ERR);
    memset(&old, 0, sizeof old);
    sigaction(SIGTERM, NULL, &old);
    check("signal(SIG_IGN) reads back as SIG_IGN", old.sa_handler == SIG_IGN, "not SIG_IGN");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
}

int main(void)
{
    resethand();
    siginfo_vs_plain();
    restart();
    stop_and_continue("SA_NOCLDSTOP", SA_NOCLDSTOP, 0);
    stop_and_continue("without SA_NOCLDSTOP", 0, 2);
    signal(SIGCHLD, SIG_DFL);
    old_action();
    return check_finish();
}
