/*
 * sigqueue carries a value: to itself the handler sees si_code SI_QUEUE, the sender's pid and
 * uid and the int or pointer value; from a forked child to its parent si_pid is the child's.
 * rt_sigqueueinfo may forge si_code only for the caller itself: to another process a code >= 0
 * (SI_USER) or SI_TKILL is EPERM, while a negative code such as SI_QUEUE goes through with its
 * value. Invalid signals are EINVAL.
 */
#include "../fork/fork.h"
#include <sys/syscall.h>

static volatile sig_atomic_t hits, got_sig, got_code, got_int, got_pid, got_uid;
static void *volatile got_ptr;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    got_sig = sig;
    got_code = si->si_code;
    got_int = si->si_value.sival_int;
    got_ptr = si->si_value.sival_ptr;
    got_pid = si->si_pid;
    got_uid = si->si_uid;
}

static void install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    NEED("sigaction", sigaction(sig, &sa, NULL) == 0);
}

static long queueinfo(pid_t pid, int sig, int code, int value)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = code;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = value;
    return syscall(SYS_rt_sigqueueinfo, (long)pid, (long)sig, &si);
}

int main(void)
{
    int rt1 = SIGRTMIN + 1, rt2 = SIGRTMIN + 2;
    install(rt1);
    install(rt2);

    /* To itself. */
    hits = 0;
    CHECK_OK("sigqueue to itself", sigqueue(getpid(), rt1, (union sigval){.sival_int = 4242}));
    CHECK_EQ("the handler ran before sigqueue returned", hits, 1);
    CHECK_EQ("the signal is SIGRTMIN+1", got_sig - SIGRTMIN, 1);
    CHECK_EQ("si_code is SI_QUEUE", got_code, SI_QUEUE);
    CHECK_EQ("si_value.sival_int", got_int, 4242);
    check("si_pid is this process", got_pid == getpid(), "another pid");
    check("si_uid is this user", (uid_t)got_uid == getuid(), "another uid");

    static int target;
    hits = 0;
    CHECK_OK("sigqueue a pointer", sigqueue(getpid(), rt1, (union sigval){.sival_ptr = &target}));
    check("si_value.sival_ptr is the pointer sent", got_ptr == (void *)&target, "another pointer");

    /* A classic signal carries a value too. */
    install(SIGUSR1);
    hits = 0;
    CHECK_OK("sigqueue SIGUSR1", sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = -7}));
    check("SIGUSR1 arrives with SI_QUEUE and its value",
          hits == 1 && got_code == SI_QUEUE && got_int == -7, "hits %d code %d value %d",
          (int)hits, (int)got_code, (int)got_int);

    CHECK_ERR("sigqueue of signal 65: EINVAL", sigqueue(getpid(), 65, (union sigval){.sival_int = 0}),
              EINVAL);

    /* From a forked child to its parent, taken while blocked then unblocked. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, rt2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    pid_t parent = getpid();
    pid_t pid = fork_child();
    if (pid == 0) {
        if (sigqueue(parent, rt2, (union sigval){.sival_int = 77}) != 0)
            _exit(2);
        _exit(0);
    }
    check_status("the child queued SIGRTMIN+2 and exited", pid, "exit 0");
    hits = 0;
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    CHECK_EQ("the child's signal is delivered on unblock", hits, 1);
    CHECK_EQ("from the child: SIGRTMIN+2", got_sig - SIGRTMIN, 2);
    CHECK_EQ("from the child: SI_QUEUE", got_code, SI_QUEUE);
    CHECK_EQ("from the child: the value", got_int, 77);
    check("from the child: si_pid is the forked pid", got_pid == pid,
          got_pid == parent ? "the parent's pid" : "another pid");

    /* rt_sigqueueinfo: forging a code for another process. */
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    pid = fork_child();
    if (pid == 0) {
        /* Waits for the parent's SI_QUEUE signal; the exit status says what came. */
        siginfo_t si;
        struct timespec ts = {5, 0};
        if (sigtimedwait(&block, &si, &ts) != SIGUSR2)
            _exit(2);
        if (si.si_code != SI_QUEUE)
            _exit(3);
        if (si.si_value.sival_int != 31337)
            _exit(4);
        _exit(0);
    }
    CHECK_ERR("rt_sigqueueinfo SI_USER to another process: EPERM",
              queueinfo(pid, SIGUSR2, SI_USER, 1), EPERM);
    CHECK_ERR("rt_sigqueueinfo SI_KERNEL to another process: EPERM",
              queueinfo(pid, SIGUSR2, SI_KERNEL, 1), EPERM);
    CHECK_ERR("rt_sigqueueinfo SI_TKILL to another process: EPERM",
              queueinfo(pid, SIGUSR2, SI_TKILL, 1), EPERM);
    CHECK_OK("rt_sigqueueinfo SI_QUEUE to another process", queueinfo(pid, SIGUSR2, SI_QUEUE, 31337));
    check_status("the child took SIGUSR2 with SI_QUEUE and the value", pid, "exit 0");

    /* To itself any code may be given. */
    install(SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    hits = 0;
    CHECK_OK("rt_sigqueueinfo SI_USER to itself", queueinfo(getpid(), SIGUSR2, SI_USER, 9));
    check("it arrives with the forged SI_USER", hits == 1 && got_code == SI_USER, "hits %d code %d",
          (int)hits, (int)got_code);
    CHECK_ERR("rt_sigqueueinfo of signal 65: EINVAL", queueinfo(getpid(), 65, SI_QUEUE, 0), EINVAL);
    return check_finish();
}
