/*
 * fork.h — helpers shared by the fork cases: turn-taking across fork, a child's verdict as its
 * exit status, wait statuses in words, and running this same program again in a child mode.
 *
 * After a fork only the side holding the turn prints: the other one is blocked reading a pipe
 * (or in waitpid), so the transcript order is fixed without any sleep. A child prints its own
 * check lines while it holds the turn and exits with its verdict; the parent checks that status.
 */
#ifndef ELFVISOR_FORK_H
#define ELFVISOR_FORK_H

#include "check.h"
#include "turns.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>



/*
 * fork_or_die(), and in the child a fresh tally of checks, so that its exit status is its own
 * verdict even when the parent had failures before the fork.
 */
CHECK_UNUSED static pid_t fork_child(void)
{
    pid_t pid = fork_or_die();
    if (pid == 0) {
        check_count = 0;
        check_failures = 0;
    }
    return pid;
}

/* The child's exit: its own verdict as the status (no atexit handlers, no stdio flush). */
CHECK_UNUSED static void child_exit(void)
{
    _exit(check_failures == 0 ? 0 : 1);
}

/* ---- wait statuses ---- */

CHECK_UNUSED static const char *signame(int sig)
{
    switch (sig) {
#define S(x) case x: return #x;
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT) S(SIGBUS) S(SIGFPE)
    S(SIGKILL) S(SIGUSR1) S(SIGSEGV) S(SIGUSR2) S(SIGPIPE) S(SIGALRM) S(SIGTERM) S(SIGCHLD)
    S(SIGCONT) S(SIGSTOP) S(SIGTSTP) S(SIGTTIN) S(SIGTTOU) S(SIGSYS)
#undef S
    case 0: return "no signal";
    default: return "another signal";
    }
}

/*
 * A wait status in words: "exit 3", "killed by SIGTERM", "stopped by SIGSTOP", "continued".
 * Whether a core was dumped depends on the machine, so it is left out.
 */
CHECK_UNUSED static const char *status_text(int st)
{
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", signame(WTERMSIG(st)));
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped by %s", signame(WSTOPSIG(st)));
    else if (WIFCONTINUED(st))
        snprintf(buf, sizeof buf, "continued");
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

/* waitpid(pid, &st, options) retried on EINTR; returns its result and stores the status. */
CHECK_UNUSED static pid_t wait_for(pid_t pid, int *st, int options)
{
    pid_t w;
    *st = 0;
    do
        w = waitpid(pid, st, options);
    while (w < 0 && errno == EINTR);
    return w;
}

/* One check: waiting for `pid` reaps it with the status `want` (as status_text words). */
CHECK_UNUSED static int check_status(const char *name, pid_t pid, const char *want)
{
    int st;
    pid_t w = wait_for(pid, &st, 0);
    if (w != pid)
        return check(name, 0, "waitpid returned %s", w < 0 ? errname(errno) : "another pid");
    return check(name, strcmp(status_text(st), want) == 0, "got %s", status_text(st));
}

/* ---- pids in checks: compared, never printed ---- */

CHECK_UNUSED static const char *pid_detail(long long got, int e)
{
    static char buf[64];
    if (got < 0)
        snprintf(buf, sizeof buf, "failed with %s", errname(e));
    else
        snprintf(buf, sizeof buf, "%s", got == 0 ? "returned 0" : "returned a pid");
    return buf;
}

/* got == want, where either may be a pid: the detail says how they differ without the pid. */
#define CHECK_PID(name, got, want)                                                             \
    do {                                                                                       \
        errno = 0;                                                                             \
        long long got_ = (long long)(got), want_ = (long long)(want);                          \
        int errno_ = errno;                                                                    \
        check((name), got_ == want_, "%s, not the expected %s", pid_detail(got_, errno_),      \
              want_ == 0 ? "0" : "pid");                                                       \
    } while (0)

/* A call that returns a pid must fail with the given errno. */
#define CHECK_PID_ERR(name, ret, want_errno)                                                   \
    do {                                                                                       \
        errno = 0;                                                                             \
        long long ret_ = (long long)(ret);                                                     \
        int errno_ = errno;                                                                    \
        check((name), ret_ == -1 && errno_ == (want_errno), "%s, want %s",                     \
              pid_detail(ret_, errno_), errname(want_errno));                                  \
    } while (0)

/* ---- running this program again ---- */

#define CHILD_MODE "child-mode"

/* Whether argv asks for the child mode: `<case> child-mode ...`. */
CHECK_UNUSED static int in_child_mode(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], CHILD_MODE) == 0;
}

/* This program's absolute path, from /proc/self/exe (never printed: it differs per lane). */
CHECK_UNUSED static const char *self_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    NEED("readlink /proc/self/exe", n > 0 && path[0] == '/');
    path[n] = '\0';
    return path;
}

#endif
