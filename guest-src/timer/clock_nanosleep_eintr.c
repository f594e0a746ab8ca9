/*
 * Sleeps ended by a signal: a relative clock_nanosleep and nanosleep return EINTR with the time
 * left (more than zero, never more than requested and the timer slack), even when the handler
 * has SA_RESTART; an absolute one returns EINTR and leaves the remainder untouched; a null
 * remainder is allowed. Errors: CLOCK_THREAD_CPUTIME_ID (EOPNOTSUPP), an unknown clock, tv_nsec
 * out of range, a negative tv_sec, an unreadable request. The signals come from a thread that
 * sends them until the sleeper is interrupted, so nothing depends on when the sleep starts.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static pthread_t sleeper;
static volatile int interrupted;
static volatile int quit;

static void on_usr1(int s)
{
    (void)s;
}

static void *nudger(void *arg)
{
    (void)arg;
    struct timespec ms = {0, 1000000};
    while (!quit) {
        if (!interrupted)
            pthread_kill(sleeper, SIGUSR1);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/*
 * The time left is the sleep timer's hard expiry less now (hrtimer_expires_remaining), and the
 * hard expiry is the request plus the thread's timer slack (50 us by default): a sleep ended at
 * once may report a little more than it asked for. 1 ms covers the slack.
 */
#define LIMIT (30000000000LL + 1000000LL)

static long long ns(struct timespec t)
{
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sleeper = pthread_self();
    pthread_t th;
    REQUIRE("pthread_create", pthread_create(&th, NULL, nudger, NULL) == 0);

    struct timespec req = {30, 0}, rem = {-1, -1};
    long r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem);
    int e = errno;
    interrupted = 1;
    check("a relative 30 s clock_nanosleep ends with EINTR (SA_RESTART or not)",
          r == -1 && e == EINTR, "r %ld errno %s", r, errname(e));
    check("the time left is more than 0 and at most 30 s (and the timer slack)",
          ns(rem) > 0 && ns(rem) <= LIMIT && rem.tv_nsec < 1000000000L, "rem sec %ld",
          (long)rem.tv_sec);

    interrupted = 0;
    rem.tv_sec = -1;
    rem.tv_nsec = -1;
    r = syscall(SYS_nanosleep, &req, &rem);
    e = errno;
    interrupted = 1;
    check("nanosleep ends with EINTR", r == -1 && e == EINTR, "r %ld errno %s", r, errname(e));
    check("with the time left", ns(rem) > 0 && ns(rem) <= LIMIT, "rem sec %ld", (long)rem.tv_sec);

    interrupted = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec abs = {now.tv_sec + 30, 0};
    rem.tv_sec = 77;
    rem.tv_nsec = 77;
    r = syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &abs, &rem);
    e = errno;
    interrupted = 1;
    check("an absolute clock_nanosleep ends with EINTR", r == -1 && e == EINTR, "r %ld errno %s",
          r, errname(e));
    CHECK_EQ("and leaves the remainder untouched", rem.tv_sec == 77 && rem.tv_nsec == 77, 1);

    interrupted = 0;
    r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL);
    e = errno;
    interrupted = 1;
    check("a null remainder: EINTR all the same", r == -1 && e == EINTR, "r %ld errno %s", r,
          errname(e));
    quit = 1;
    pthread_join(th, NULL);

    struct timespec short_req = {0, 1000};
    /* The thread clock has no nsleep: EOPNOTSUPP (kernel/time/posix-timers.c), not EINVAL. */
    CHECK_ERR("CLOCK_THREAD_CPUTIME_ID",
              syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &short_req, NULL),
              EOPNOTSUPP);
    CHECK_ERR("an unknown clock", syscall(SYS_clock_nanosleep, 12, 0, &short_req, NULL), EINVAL);
    struct timespec bad = {0, 1000000000L};
    CHECK_ERR("tv_nsec of a whole second",
              syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    CHECK_ERR("a negative tv_sec", syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL),
              EINVAL);
    CHECK_ERR("nanosleep with a negative tv_sec", syscall(SYS_nanosleep, &bad, NULL), EINVAL);
    CHECK_ERR("an unreadable request",
              syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (void *)8, NULL), EFAULT);
    CHECK_EQ("a relative zero sleep", syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0,
                                               &(struct timespec){0, 0}, NULL), 0);
    return check_finish();
}
