/*
 * sigwaitinfo, sigtimedwait and sigwait take blocked pending signals with their siginfo: SI_USER
 * and the sender from kill, SI_TKILL from raise and tgkill, SI_QUEUE with the value from
 * sigqueue; lowest signal number first; a zero or 20 ms timeout with nothing pending is EAGAIN;
 * a signal a forked child sends while the parent waits ends the wait; an unblocked signal with
 * a handler interrupts the wait with EINTR; a signal outside the set stays pending.
 *
 * Where si_code or EINTR is looked at, rt_sigtimedwait is called directly: glibc's sigtimedwait
 * and sigwaitinfo report SI_TKILL as SI_USER, and musl's retry on EINTR.
 */
#include "../fork/fork.h"
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

/* The kernel's sigset_t: 64 signals. */
#define KERNEL_SIGSET_SIZE 8L

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static sigset_t set_of(int a, int b)
{
    sigset_t s;
    sigemptyset(&s);
    if (a)
        sigaddset(&s, a);
    if (b)
        sigaddset(&s, b);
    return s;
}

/*
 * rt_sigtimedwait itself: glibc's sigtimedwait and sigwaitinfo report SI_TKILL as SI_USER, and
 * musl's retry on EINTR.
 */
static long take(const sigset_t *set, siginfo_t *si, const struct timespec *ts)
{
    return syscall(SYS_rt_sigtimedwait, set, si, ts, KERNEL_SIGSET_SIZE);
}

static int is_pending(int sig)
{
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, sig);
}

int main(void)
{
    sigset_t blocked = set_of(SIGUSR1, SIGUSR2), want;
    sigaddset(&blocked, SIGRTMIN + 1);
    sigaddset(&blocked, SIGTERM);
    REQUIRE("block SIGUSR1, SIGUSR2, SIGTERM, SIGRTMIN+1",
            sigprocmask(SIG_SETMASK, &blocked, NULL) == 0);
    siginfo_t si;
    struct timespec zero = {0, 0}, ms20 = {0, 20 * 1000 * 1000}, long_wait = {5, 0};

    /* kill: SI_USER with the sender's pid. */
    CHECK_OK("kill self SIGUSR1 (blocked)", kill(getpid(), SIGUSR1));
    CHECK_EQ("SIGUSR1 is pending", is_pending(SIGUSR1), 1);
    want = set_of(SIGUSR1, 0);
    memset(&si, 0, sizeof si);
    CHECK_EQ("sigwaitinfo takes SIGUSR1", sigwaitinfo(&want, &si), SIGUSR1);
    CHECK_EQ("si_signo", si.si_signo, SIGUSR1);
    CHECK_EQ("kill gives SI_USER", si.si_code, SI_USER);
    check("si_pid is this process", si.si_pid == getpid(), "another pid");
    check("si_uid is this user", si.si_uid == getuid(), "another uid");
    CHECK_EQ("SIGUSR1 is no longer pending", is_pending(SIGUSR1), 0);

    /* raise and tgkill: SI_TKILL. */
    CHECK_OK("raise SIGUSR2 (blocked)", raise(SIGUSR2));
    want = set_of(SIGUSR2, 0);
    memset(&si, 0, sizeof si);
    CHECK_EQ("rt_sigtimedwait takes SIGUSR2", take(&want, &si, &zero), SIGUSR2);
    CHECK_EQ("raise gives SI_TKILL", si.si_code, SI_TKILL);
    CHECK_OK("tgkill SIGUSR2", syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid),
                                       (long)SIGUSR2));
    memset(&si, 0, sizeof si);
    CHECK_EQ("rt_sigtimedwait takes it", take(&want, &si, &long_wait), SIGUSR2);
    CHECK_EQ("tgkill gives SI_TKILL", si.si_code, SI_TKILL);
    check("tgkill's si_pid is this process", si.si_pid == getpid(), "another pid");

    /* sigqueue: SI_QUEUE and the value. */
    CHECK_OK("sigqueue SIGRTMIN+1", sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 99}));
    want = set_of(SIGRTMIN + 1, 0);
    memset(&si, 0, sizeof si);
    CHECK_EQ("sigwaitinfo takes SIGRTMIN+1", sigwaitinfo(&want, &si) - SIGRTMIN, 1);
    CHECK_EQ("sigqueue gives SI_QUEUE", si.si_code, SI_QUEUE);
    CHECK_EQ("with the value", si.si_value.sival_int, 99);

    /* Lowest number first; a null siginfo pointer is allowed. */
    raise(SIGUSR2);
    raise(SIGUSR1);
    want = set_of(SIGUSR1, SIGUSR2);
    CHECK_EQ("two pending: SIGUSR1 first", sigtimedwait(&want, NULL, &zero), SIGUSR1);
    CHECK_EQ("then SIGUSR2", sigtimedwait(&want, NULL, &zero), SIGUSR2);

    /* Timeouts. */
    CHECK_ERR("nothing pending, zero timeout: EAGAIN", sigtimedwait(&want, &si, &zero), EAGAIN);
    CHECK_ERR("nothing pending, 20 ms timeout: EAGAIN", sigtimedwait(&want, &si, &ms20), EAGAIN);

    /* A signal outside the set stays pending. */
    raise(SIGTERM);
    CHECK_ERR("SIGTERM pending but not waited for: EAGAIN", sigtimedwait(&want, &si, &zero), EAGAIN);
    CHECK_EQ("SIGTERM is still pending", is_pending(SIGTERM), 1);
    want = set_of(SIGTERM, 0);
    CHECK_EQ("and can be taken", sigtimedwait(&want, NULL, &zero), SIGTERM);

    /* sigwait returns 0 and stores the signal. */
    raise(SIGUSR2);
    want = set_of(SIGUSR1, SIGUSR2);
    int sig = 0;
    CHECK_EQ("sigwait returns 0", sigwait(&want, &sig), 0);
    CHECK_EQ("sigwait stores SIGUSR2", sig, SIGUSR2);

    /* A forked child's signal ends a wait in progress. */
    pid_t parent = getpid();
    pid_t pid = fork_child();
    if (pid == 0) {
        usleep(50 * 1000);
        kill(parent, SIGUSR1);
        _exit(0);
    }
    want = set_of(SIGUSR1, 0);
    memset(&si, 0, sizeof si);
    CHECK_EQ("sigtimedwait takes the child's SIGUSR1", sigtimedwait(&want, &si, &long_wait), SIGUSR1);
    check("si_pid is the child", si.si_pid == pid, si.si_pid == parent ? "the parent" : "another pid");
    CHECK_EQ("si_code is SI_USER", si.si_code, SI_USER);
    check_status("the child exits 0", pid, "exit 0");

    /* An unblocked signal with a handler interrupts the wait: EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART; /* rt_sigtimedwait is never restarted after a handler */
    sigemptyset(&sa.sa_mask);
    REQUIRE("SIGALRM handler", sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {{0, 0}, {0, 50 * 1000}};
    REQUIRE("setitimer 50 ms", setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_ERR("SIGALRM's handler interrupts rt_sigtimedwait: EINTR",
              take(&want, &si, &long_wait), EINTR);
    CHECK_EQ("the handler ran once", alarms, 1);
    REQUIRE("setitimer 50 ms", setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_ERR("and without a timeout: EINTR",
              take(&want, &si, NULL), EINTR);
    CHECK_EQ("the handler ran again", alarms, 2);
    /* An invalid timeout. */
    struct timespec bad = {0, 1000 * 1000 * 1000};
    CHECK_ERR("tv_nsec of one second: EINVAL", sigtimedwait(&want, &si, &bad), EINVAL);
    return check_finish();
}
