/*
 * Thread CPU clocks: pthread_getcpuclockid names another thread's clock, which grows while that
 * thread spins and not while it blocks; CLOCK_THREAD_CPUTIME_ID is the caller's own; a thread's
 * time is never more than its process's. A POSIX timer on another thread's CPU clock fires after
 * that thread has used its time, and one on CLOCK_THREAD_CPUTIME_ID after the caller has.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static long long ns(struct timespec t)
{
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long cpu_ns(clockid_t c)
{
    struct timespec t;
    return clock_gettime(c, &t) == 0 ? ns(t) : -1;
}

static int go[2], back[2];

static int alarm_pending(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIGALRM);
}

static void *spinner(void *arg)
{
    (void)arg;
    char c;
    for (;;) {
        if (read(go[0], &c, 1) != 1 || c == 'q')
            return NULL;
        /* 'g': spin 30 ms of this thread's CPU time; 't': spin until a timer's signal is
         * pending (CPU timers are checked at the scheduler's ticks, so a thread that stopped
         * right at its expiry time might never be seen past it). Then report. */
        long long start = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        if (c == 't')
            while (!alarm_pending())
                ;
        else
            while (cpu_ns(CLOCK_THREAD_CPUTIME_ID) < start + 30000000LL)
                ;
        if (write(back[1], "d", 1) != 1)
            _exit(3);
    }
}

int main(void)
{
    REQUIRE("pipes", pipe(go) == 0 && pipe(back) == 0);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    pthread_t th;
    REQUIRE("pthread_create", pthread_create(&th, NULL, spinner, NULL) == 0);
    clockid_t tc;
    CHECK_EQ("pthread_getcpuclockid", pthread_getcpuclockid(th, &tc), 0);
    clockid_t own;
    CHECK_EQ("pthread_getcpuclockid of ourselves", pthread_getcpuclockid(pthread_self(), &own), 0);

    long long before = cpu_ns(tc);
    CHECK_EQ("the blocked thread's clock reads", before >= 0, 1);
    char c;
    NEED("go", write(go[1], "g", 1) == 1);
    NEED("done", read(back[0], &c, 1) == 1);
    long long after = cpu_ns(tc);
    CHECK_EQ("it grew by the 30 ms the thread spun", after - before >= 30000000LL, 1);
    long long proc = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    CHECK_EQ("the thread's time is within the process's", after <= proc, 1);
    long long main_own = cpu_ns(own), main_self = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    CHECK_EQ("our own clock id reads like CLOCK_THREAD_CPUTIME_ID", main_own <= main_self, 1);

    /* A timer on the other thread's clock, 20 ms of its CPU time from now. */
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGALRM;
    ev.sigev_value.sival_int = 1;
    timer_t other;
    CHECK_OK("timer_create on the other thread's clock", timer_create(tc, &ev, &other));
    struct itimerspec in20 = {{0, 0}, {0, 20000000}};
    CHECK_OK("arm it for 20 ms", timer_settime(other, 0, &in20, NULL));
    struct itimerspec cur;
    CHECK_OK("timer_gettime", timer_gettime(other, &cur));
    CHECK_EQ("armed, with at most 20 ms to go",
             ns(cur.it_value) > 0 && ns(cur.it_value) <= 20000000LL, 1);
    long long armed_at = cpu_ns(tc);
    NEED("go", write(go[1], "t", 1) == 1);
    NEED("done", read(back[0], &c, 1) == 1);
    CHECK_EQ("the thread's clock moved on while it spun for it", cpu_ns(tc) > armed_at, 1);
    siginfo_t si;
    CHECK_EQ("it fired after the thread spun", sigwaitinfo(&alrm, &si), SIGALRM);
    CHECK_EQ("with its value", si.si_value.sival_int, 1);
    CHECK_OK("timer_delete", timer_delete(other));

    timer_t mine;
    ev.sigev_value.sival_int = 2;
    CHECK_OK("timer_create on CLOCK_THREAD_CPUTIME_ID", timer_create(CLOCK_THREAD_CPUTIME_ID, &ev,
                                                                      &mine));
    CHECK_OK("arm it for 20 ms", timer_settime(mine, 0, &in20, NULL));
    long long start = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    while (!alarm_pending())
        ;
    CHECK_EQ("our clock moved on while we waited for it", cpu_ns(CLOCK_THREAD_CPUTIME_ID) > start,
             1);
    CHECK_EQ("it fired after we spun", sigwaitinfo(&alrm, &si), SIGALRM);
    CHECK_EQ("with its value", si.si_value.sival_int, 2);
    CHECK_OK("timer_delete", timer_delete(mine));

    NEED("quit", write(go[1], "q", 1) == 1);
    pthread_join(th, NULL);
    return check_finish();
}
