/*
 * POSIX timers: the signal an expiry queues (SI_TIMER, the timer id, sigev_value) to the
 * process, to one thread (SIGEV_THREAD_ID), with the defaults of a null sigevent; overruns
 * counted while the signal waits, and timer_getoverrun; SIGEV_NONE timers read back;
 * absolute and CPU-time timers; no timer in a fork child; and the argument errors.
 * Signals are blocked and taken with sigwaitinfo, so nothing depends on timing.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

struct ksigevent {
    long value;
    int signo, notify;
    int tid;
    int pad[11];
};

static long tcreate(clockid_t clock, struct ksigevent *ev, int *id)
{
    return syscall(SYS_timer_create, clock, ev, id);
}

static long tset(int id, int flags, long sec, long nsec, long isec, long insec)
{
    struct itimerspec its = {{isec, insec}, {sec, nsec}};
    return syscall(SYS_timer_settime, id, flags, &its, NULL);
}

static siginfo_t take(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (sigwaitinfo(&set, &si) < 0 && errno == EINTR)
        ;
    return si;
}

static int thread_tid;
static siginfo_t thread_got;
static int ready[2];

static void *waiter(void *arg)
{
    (void)arg;
    thread_tid = (int)syscall(SYS_gettid);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1)
        return NULL;
    thread_got = take(SIGUSR2);
    return NULL;
}

int main(void)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGALRM);
    sigaddset(&block, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &block, NULL);

    struct ksigevent ev = {42, SIGUSR1, SIGEV_SIGNAL, 0, {0}};
    int id = -1;
    CHECK_OK("timer_create CLOCK_MONOTONIC, SIGEV_SIGNAL", tcreate(CLOCK_MONOTONIC, &ev, &id));
    CHECK_OK("arm it for 1 ms", tset(id, 0, 0, 1000000, 0, 0));
    siginfo_t si = take(SIGUSR1);
    CHECK_EQ("its signal is SI_TIMER", si.si_code, SI_TIMER);
    CHECK_EQ("si_timerid names the timer", si.si_timerid, id);
    CHECK_EQ("si_value is sigev_value", si.si_value.sival_int, 42);
    CHECK_EQ("no overrun", si.si_overrun, 0);
    struct itimerspec cur;
    CHECK_OK("timer_gettime", syscall(SYS_timer_gettime, id, &cur));
    CHECK_EQ("a one-shot timer is disarmed after it fired",
             cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, 1);

    /* An interval timer whose signal waits: expiries meanwhile are overruns. */
    CHECK_OK("arm it every millisecond", tset(id, 0, 0, 1000000, 0, 1000000));
    int overrun = 0;
    for (int i = 0; i < 10000 && overrun == 0; i++) {
        struct timespec nap = {0, 3000000};
        nanosleep(&nap, NULL);
        si = take(SIGUSR1);
        overrun = si.si_overrun;
    }
    CHECK_EQ("expiries while the signal waited are counted", overrun > 0, 1);
    CHECK_EQ("timer_getoverrun reports the delivered signal's", syscall(SYS_timer_getoverrun, id),
             overrun);
    CHECK_OK("timer_gettime of an interval timer", syscall(SYS_timer_gettime, id, &cur));
    CHECK_EQ("its interval", cur.it_interval.tv_nsec, 1000000);
    CHECK_OK("disarm it", tset(id, 0, 0, 0, 0, 0));
    CHECK_OK("timer_delete", syscall(SYS_timer_delete, id));
    CHECK_ERR("timer_delete again", syscall(SYS_timer_delete, id), EINVAL);
    CHECK_ERR("timer_settime of a deleted timer", tset(id, 0, 1, 0, 0, 0), EINVAL);
    /* Drain a signal the interval timer may have queued before it was disarmed. */
    sigset_t pend;
    sigpending(&pend);
    if (sigismember(&pend, SIGUSR1))
        take(SIGUSR1);

    /* SIGEV_THREAD_ID: the signal goes to that thread. */
    NEED("a pipe", pipe(ready) == 0);
    pthread_t t;
    NEED("a thread", pthread_create(&t, NULL, waiter, NULL) == 0);
    char c;
    NEED("the thread is ready", read(ready[0], &c, 1) == 1);
    struct ksigevent tev = {7, SIGUSR2, SIGEV_SIGNAL | SIGEV_THREAD_ID, thread_tid, {0}};
    int tid_timer = -1;
    CHECK_OK("timer_create SIGEV_THREAD_ID", tcreate(CLOCK_MONOTONIC, &tev, &tid_timer));
    CHECK_OK("arm it", tset(tid_timer, 0, 0, 1000000, 0, 0));
    pthread_join(t, NULL);
    CHECK_EQ("the thread took its signal", thread_got.si_code == SI_TIMER
                                               && thread_got.si_timerid == tid_timer
                                               && thread_got.si_value.sival_int == 7, 1);
    syscall(SYS_timer_delete, tid_timer);

    /* A null sigevent: SIGALRM with the timer's id as its value. */
    int plain = -1;
    CHECK_OK("timer_create with no sigevent", tcreate(CLOCK_REALTIME, NULL, &plain));
    CHECK_OK("arm it", tset(plain, 0, 0, 1000000, 0, 0));
    si = take(SIGALRM);
    CHECK_EQ("SIGALRM carrying the timer id", si.si_code == SI_TIMER && si.si_value.sival_int == plain, 1);
    syscall(SYS_timer_delete, plain);

    /* SIGEV_NONE: only read back. */
    struct ksigevent none = {0, 0, SIGEV_NONE, 0, {0}};
    int quiet = -1;
    CHECK_OK("timer_create SIGEV_NONE", tcreate(CLOCK_MONOTONIC, &none, &quiet));
    CHECK_OK("arm it for an hour", tset(quiet, 0, 3600, 0, 0, 0));
    syscall(SYS_timer_gettime, quiet, &cur);
    CHECK_EQ("timer_gettime counts down from an hour",
             cur.it_value.tv_sec > 3000 && cur.it_value.tv_sec <= 3600, 1);
    struct itimerspec old;
    struct itimerspec zero = {{0, 0}, {0, 0}};
    CHECK_OK("timer_settime returns the old setting", syscall(SYS_timer_settime, quiet, 0, &zero, &old));
    CHECK_EQ("which was armed", old.it_value.tv_sec > 3000, 1);

    /* Absolute time, and CPU time. */
    struct ksigevent rt = {5, SIGRTMIN + 2, SIGEV_SIGNAL, 0, {0}};
    int abs_timer = -1;
    CHECK_OK("timer_create for an absolute time", tcreate(CLOCK_MONOTONIC, &rt, &abs_timer));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    CHECK_OK("arm it at now + 1 ms, TIMER_ABSTIME",
             tset(abs_timer, TIMER_ABSTIME, now.tv_sec, now.tv_nsec, 0, 0));
    si = take(SIGRTMIN + 2);
    CHECK_EQ("it fired", si.si_code == SI_TIMER && si.si_timerid == abs_timer, 1);
    int cpu_timer = -1;
    CHECK_OK("timer_create CLOCK_PROCESS_CPUTIME_ID", tcreate(CLOCK_PROCESS_CPUTIME_ID, &rt, &cpu_timer));
    CHECK_OK("arm it for 5 ms of CPU time", tset(cpu_timer, 0, 0, 5000000, 0, 0));
    volatile unsigned long spin = 0;
    do {
        for (int i = 0; i < 100000; i++)
            spin++;
        sigpending(&pend);
    } while (!sigismember(&pend, SIGRTMIN + 2));
    si = take(SIGRTMIN + 2);
    CHECK_EQ("it fired after the process ran", si.si_code == SI_TIMER && si.si_timerid == cpu_timer, 1);

    /* A fork child has no timers. */
    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_ERR("a fork child does not have its parent's timer",
                  syscall(SYS_timer_gettime, quiet, &cur), EINVAL);
        child_exit();
    }
    check_status("the child's checks", pid, "exit 0");

    int bad = -1;
    CHECK_ERR("timer_create on an unknown clock", tcreate(99, &ev, &bad), EINVAL);
    struct ksigevent wrong = {0, SIGUSR1, 99, 0, {0}};
    CHECK_ERR("timer_create with an unknown sigev_notify", tcreate(CLOCK_MONOTONIC, &wrong, &bad), EINVAL);
    struct ksigevent nosig = {0, 0, SIGEV_SIGNAL, 0, {0}};
    CHECK_ERR("timer_create with signal 0", tcreate(CLOCK_MONOTONIC, &nosig, &bad), EINVAL);
    struct ksigevent highsig = {0, 65, SIGEV_SIGNAL, 0, {0}};
    CHECK_ERR("timer_create with signal 65", tcreate(CLOCK_MONOTONIC, &highsig, &bad), EINVAL);
    struct ksigevent stranger = {0, SIGUSR1, SIGEV_SIGNAL | SIGEV_THREAD_ID, getppid(), {0}};
    CHECK_ERR("SIGEV_THREAD_ID of a thread of another process",
              tcreate(CLOCK_MONOTONIC, &stranger, &bad), EINVAL);
    CHECK_ERR("timer_create with an unreadable sigevent", tcreate(CLOCK_MONOTONIC, (void *)8, &bad),
              EFAULT);
    CHECK_ERR("timer_create with an unwritable id", tcreate(CLOCK_MONOTONIC, &ev, (void *)8), EFAULT);
    CHECK_ERR("timer_settime with no new value", syscall(SYS_timer_settime, quiet, 0, NULL, NULL),
              EINVAL);
    CHECK_ERR("timer_settime with tv_nsec out of range", tset(quiet, 0, 0, 2000000000L, 0, 0), EINVAL);
    CHECK_ERR("timer_settime from unreadable memory",
              syscall(SYS_timer_settime, quiet, 0, (void *)8, NULL), EFAULT);
    CHECK_ERR("timer_gettime into unwritable memory", syscall(SYS_timer_gettime, quiet, (void *)8),
              EFAULT);
    CHECK_ERR("timer_gettime of an unknown id", syscall(SYS_timer_gettime, 4242, &cur), EINVAL);
    CHECK_ERR("timer_getoverrun of an unknown id", syscall(SYS_timer_getoverrun, 4242), EINVAL);
    return check_finish();
}
