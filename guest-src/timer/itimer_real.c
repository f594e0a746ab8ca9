/*
 * setitimer and getitimer on ITIMER_REAL: SIGALRM on expiry, the old value returned, the time
 * left never more than was set, an interval that reloads it, alarm() sharing the same timer
 * (in whole seconds), a null new value disarming it (Linux's old behaviour, kept
 * with a warning), and the errors: an unknown timer, tv_usec out of range, unreadable and
 * unwritable values.
 */
#include "check.h"
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>

static long long us(struct timeval t)
{
    return (long long)t.tv_sec * 1000000LL + t.tv_usec;
}

int main(void)
{
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);

    struct itimerval set = {{0, 0}, {6, 0}}, old, cur;
    CHECK_OK("setitimer 6 s", setitimer(ITIMER_REAL, &set, &old));
    CHECK_EQ("the old value was disarmed", us(old.it_value) == 0 && us(old.it_interval) == 0, 1);
    CHECK_OK("getitimer", getitimer(ITIMER_REAL, &cur));
    CHECK_EQ("the time left is at most 6 s and more than 5 s",
             us(cur.it_value) <= 6000000 && us(cur.it_value) > 5000000, 1);
    /* glibc rounds the microseconds to the nearest second, musl up: both make 5.9… s 6. */
    CHECK_EQ("alarm(2) returns the seconds left, rounded (6)", alarm(2), 6);
    CHECK_OK("getitimer", getitimer(ITIMER_REAL, &cur));
    CHECK_EQ("alarm replaced it: at most 2 s left", us(cur.it_value) <= 2000000, 1);
    CHECK_EQ("alarm leaves no interval", us(cur.it_interval), 0);

    struct itimerval every = {{0, 2000}, {0, 1000}};
    CHECK_OK("setitimer 1 ms, then every 2 ms", setitimer(ITIMER_REAL, &every, &old));
    CHECK_EQ("the old value was alarm's", old.it_value.tv_sec <= 2, 1);
    int n = 0;
    siginfo_t si;
    for (int i = 0; i < 3; i++)
        if (sigwaitinfo(&alrm, &si) == SIGALRM && si.si_code == SI_KERNEL)
            n++;
    CHECK_EQ("three SIGALRMs from the kernel (SI_KERNEL)", n, 3);
    CHECK_OK("getitimer", getitimer(ITIMER_REAL, &cur));
    CHECK_EQ("still armed, the interval reloads it",
             us(cur.it_interval) == 2000 && us(cur.it_value) <= 2000, 1);
    CHECK_OK("a null new value disarms it", syscall(SYS_setitimer, ITIMER_REAL, NULL, &old));
    CHECK_EQ("the old value was the interval timer", us(old.it_interval), 2000);
    CHECK_OK("getitimer", getitimer(ITIMER_REAL, &cur));
    CHECK_EQ("disarmed", us(cur.it_value) == 0 && us(cur.it_interval) == 0, 1);
    sigset_t pend;
    sigpending(&pend);
    if (sigismember(&pend, SIGALRM))
        sigwaitinfo(&alrm, &si);

    struct itimerval tiny = {{0, 0}, {0, 1}};
    CHECK_OK("1 us", setitimer(ITIMER_REAL, &tiny, NULL));
    CHECK_EQ("fires", sigwaitinfo(&alrm, &si), SIGALRM);

    struct itimerval bad = {{0, 0}, {0, 1000000}};
    CHECK_ERR("tv_usec of a whole second", setitimer(ITIMER_REAL, &bad, NULL), EINVAL);
    bad.it_value.tv_usec = -1;
    CHECK_ERR("a negative tv_usec", setitimer(ITIMER_REAL, &bad, NULL), EINVAL);
    bad.it_value.tv_usec = 0;
    bad.it_interval.tv_usec = 1000000;
    CHECK_ERR("an interval tv_usec of a whole second", setitimer(ITIMER_REAL, &bad, NULL), EINVAL);
    CHECK_ERR("an unknown timer (3)", syscall(SYS_setitimer, 3, &set, NULL), EINVAL);
    CHECK_ERR("getitimer of an unknown timer", syscall(SYS_getitimer, 3, &cur), EINVAL);
    CHECK_ERR("getitimer of a negative timer", syscall(SYS_getitimer, -1, &cur), EINVAL);
    CHECK_ERR("an unreadable new value", syscall(SYS_setitimer, ITIMER_REAL, (void *)8, NULL),
              EFAULT);
    CHECK_ERR("getitimer into unwritable memory", syscall(SYS_getitimer, ITIMER_REAL, (void *)8),
              EFAULT);
    CHECK_EQ("alarm(0) with nothing armed", alarm(0), 0);
    return check_finish();
}
