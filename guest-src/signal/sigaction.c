/* rt_sigaction handlers with siginfo, the handler's mask, blocking and pending signals. */
#include "check.h"
#include <signal.h>

static volatile sig_atomic_t hits, last_code, last_pid, mask_had_usr2, last_signo;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_signo = sig;
    last_code = si->si_code;
    last_pid = si->si_pid;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    mask_had_usr2 = sigismember(&cur, SIGUSR2);
}

int main(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    CHECK_OK("sigaction SIGUSR1", sigaction(SIGUSR1, &sa, &old));
    check("old action was SIG_DFL", old.sa_handler == SIG_DFL, "not SIG_DFL");

    CHECK_OK("raise SIGUSR1", raise(SIGUSR1));
    CHECK_EQ("handler ran once", hits, 1);
    CHECK_EQ("si_signo", last_signo, SIGUSR1);
    CHECK_EQ("raise gives SI_TKILL", last_code, SI_TKILL);
    CHECK_EQ("sa_mask is blocked inside the handler", mask_had_usr2, 1);

    CHECK_OK("kill self with SIGUSR1", kill(getpid(), SIGUSR1));
    CHECK_EQ("handler ran again", hits, 2);
    CHECK_EQ("kill gives SI_USER", last_code, SI_USER);
    CHECK_EQ("si_pid is the sender", last_pid, getpid());

    struct sigaction cur;
    sigaction(SIGUSR1, NULL, &cur);
    check("sigaction reads the handler back", cur.sa_sigaction == on_signal && (cur.sa_flags & SA_SIGINFO),
          "differs");

    sigset_t block, pending, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK_OK("block SIGUSR1", sigprocmask(SIG_BLOCK, &block, NULL));
    raise(SIGUSR1);
    CHECK_EQ("a blocked signal waits", hits, 2);
    sigpending(&pending);
    CHECK_EQ("sigpending shows it", sigismember(&pending, SIGUSR1), 1);
    raise(SIGUSR1);
    sigemptyset(&none);
    CHECK_OK("unblock SIGUSR1", sigprocmask(SIG_SETMASK, &none, NULL));
    CHECK_EQ("a classic signal is delivered once however often it was raised", hits, 3);

    CHECK_OK("ignore SIGUSR2", sigaction(SIGUSR2, &(struct sigaction){.sa_handler = SIG_IGN}, NULL));
    raise(SIGUSR2);
    check("an ignored signal does nothing", 1, "unreachable");
    CHECK_ERR("SIGKILL cannot be caught", sigaction(SIGKILL, &sa, NULL), EINVAL);
    CHECK_ERR("SIGSTOP cannot be caught", sigaction(SIGSTOP, &sa, NULL), EINVAL);
    CHECK_ERR("signal 0 is invalid for sigaction", sigaction(0, &sa, NULL), EINVAL);
    CHECK_ERR("signal 65 is invalid", sigaction(65, &sa, NULL), EINVAL);
    return check_finish();
}
