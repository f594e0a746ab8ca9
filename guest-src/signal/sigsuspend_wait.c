/*
 * rt_sigsuspend waits with a temporary mask, returns EINTR once the handler ran and puts the old
 * mask back; a child's exit (SIGCHLD ignored by default) does not end the wait. sigtimedwait
 * takes a blocked pending signal with its sender's pid, and times out with EAGAIN.
 */
#include "send_later.h"
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
    got = sig;
}

int main(void)
{
    sigset_t block, empty, cur;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigemptyset(&empty);
    REQUIRE("block SIGUSR1 and SIGUSR2", sigprocmask(SIG_BLOCK, &block, NULL) == 0);
    signal(SIGUSR1, on_usr1);

    /* An early exit first: its SIGCHLD must not end the wait. */
    pid_t early = fork_or_die();
    if (early == 0)
        _exit(0);
    pid_t pid = send_later(SIGUSR1, 150);
    CHECK_ERR("sigsuspend returns EINTR after the handler", sigsuspend(&empty), EINTR);
    CHECK_EQ("the handler ran for SIGUSR1", got, SIGUSR1);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK_EQ("the old mask is back: SIGUSR1 blocked", sigismember(&cur, SIGUSR1), 1);
    reap(pid);
    reap(early);

    pid = send_later(SIGUSR2, 0);
    reap(pid);
    sigset_t want;
    sigemptyset(&want);
    sigaddset(&want, SIGUSR2);
    sigset_t pending;
    sigpending(&pending);
    CHECK_EQ("the blocked SIGUSR2 is pending", sigismember(&pending, SIGUSR2), 1);
    siginfo_t si;
    struct timespec ts = {1, 0};
    CHECK_EQ("sigtimedwait takes SIGUSR2", sigtimedwait(&want, &si, &ts), SIGUSR2);
    CHECK_EQ("si_pid is the sender", si.si_pid == pid, 1);
    CHECK_EQ("si_code is SI_USER", si.si_code, SI_USER);
    sigpending(&pending);
    CHECK_EQ("and it is no longer pending", sigismember(&pending, SIGUSR2), 0);
    ts.tv_sec = 0;
    ts.tv_nsec = 20 * 1000 * 1000;
    CHECK_ERR("nothing pending: EAGAIN after the timeout", sigtimedwait(&want, &si, &ts), EAGAIN);
    ts.tv_nsec = 2000 * 1000 * 1000L;
    CHECK_ERR("an invalid timeout", sigtimedwait(&want, &si, &ts), EINVAL);
    return check_finish();
}
