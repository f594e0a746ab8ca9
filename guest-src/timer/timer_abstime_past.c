/*
 * Absolute times already past: a POSIX timer armed with TIMER_ABSTIME at a time before now
 * expires at once, and with an interval it counts the periods it missed as overruns (one second
 * ago every 100 ms: at least 9); clock_nanosleep with TIMER_ABSTIME in the past returns 0 at
 * once, on CLOCK_MONOTONIC and on CLOCK_REALTIME; a relative zero time disarms a timer rather
 * than firing it.
 */
#include "check.h"
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 5;
    timer_t t;
    REQUIRE("timer_create", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec past = {{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
    CHECK_OK("arm one second in the past, TIMER_ABSTIME", timer_settime(t, TIMER_ABSTIME, &past, NULL));
    siginfo_t si;
    CHECK_EQ("it fired", sigwaitinfo(&set, &si), SIGUSR1);
    check("SI_TIMER with its value, no overrun", si.si_code == SI_TIMER &&
          si.si_value.sival_int == 5 && si.si_overrun == 0, "code %d overrun %d", si.si_code,
          si.si_overrun);
    struct itimerspec cur;
    CHECK_OK("timer_gettime", timer_gettime(t, &cur));
    CHECK_EQ("disarmed", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, 1);

    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec past_every = {{0, 100000000}, {now.tv_sec - 1, now.tv_nsec}};
    CHECK_OK("arm one second in the past, every 100 ms", timer_settime(t, TIMER_ABSTIME,
                                                                        &past_every, NULL));
    CHECK_EQ("it fired", sigwaitinfo(&set, &si), SIGUSR1);
    check("the periods it missed are overruns (at least 9)", si.si_overrun >= 9,
          "overrun %d", si.si_overrun);
    CHECK_EQ("timer_getoverrun agrees", timer_getoverrun(t), si.si_overrun);
    CHECK_OK("timer_gettime", timer_gettime(t, &cur));
    CHECK_EQ("the next expiry is within one interval",
             cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 100000000, 1);

    struct itimerspec zero = {{0, 0}, {0, 0}};
    CHECK_OK("disarm", timer_settime(t, 0, &zero, NULL));
    struct timespec none = {0, 0};
    while (sigtimedwait(&set, &si, &none) == SIGUSR1)
        ;
    struct itimerspec zero_value_interval = {{1, 0}, {0, 0}};
    CHECK_OK("a zero value with an interval", timer_settime(t, 0, &zero_value_interval, NULL));
    CHECK_OK("timer_gettime", timer_gettime(t, &cur));
    CHECK_EQ("is disarmed, interval and all", cur.it_value.tv_sec == 0 &&
             cur.it_value.tv_nsec == 0 && cur.it_interval.tv_sec == 0, 1);
    CHECK_ERR("and nothing fired", sigtimedwait(&set, &si, &none), EAGAIN);

    /* The monotonic clock may be only seconds old: the time just read is past by the call. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec then = now;
    CHECK_EQ("clock_nanosleep TIMER_ABSTIME in the past (MONOTONIC)",
             syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &then, NULL), 0);
    clock_gettime(CLOCK_REALTIME, &now);
    then.tv_sec = now.tv_sec - 5;
    CHECK_EQ("clock_nanosleep TIMER_ABSTIME in the past (REALTIME)",
             syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &then, NULL), 0);
    then.tv_sec = 0;
    then.tv_nsec = 0;
    CHECK_EQ("clock_nanosleep TIMER_ABSTIME at time 0",
             syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &then, NULL), 0);
    CHECK_OK("timer_delete", timer_delete(t));
    return check_finish();
}
