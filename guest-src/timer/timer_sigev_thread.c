/*
 * timer_create with SIGEV_THREAD through the C library (glibc and musl both build it on a
 * SIGEV_THREAD_ID timer with an internal signal and a helper thread): the function runs with
 * sigev_value outside the calling thread, once for a one-shot timer and again and again for an
 * interval timer; timer_gettime and timer_delete work on such a timer; two such timers keep
 * their own values.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static int calls[2];
static long main_tid;
static volatile int elsewhere = 1;

static void fired(union sigval v)
{
    if (syscall(SYS_gettid) == main_tid)
        elsewhere = 0;
    char c = (char)v.sival_int;
    if (write(calls[1], &c, 1) != 1)
        _exit(3);
}

static int make(timer_t *t, int value)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = fired;
    ev.sigev_value.sival_int = value;
    return timer_create(CLOCK_MONOTONIC, &ev, t);
}

int main(void)
{
    main_tid = syscall(SYS_gettid);
    REQUIRE("pipe", pipe(calls) == 0);
    timer_t once, every;
    CHECK_OK("timer_create SIGEV_THREAD", make(&once, 'a'));
    struct itimerspec in1ms = {{0, 0}, {0, 1000000}};
    CHECK_OK("arm it once for 1 ms", timer_settime(once, 0, &in1ms, NULL));
    char c = 0;
    CHECK_EQ("the function ran", read(calls[0], &c, 1), 1);
    CHECK_EQ("with sigev_value", c, 'a');
    struct itimerspec cur;
    CHECK_OK("timer_gettime", timer_gettime(once, &cur));
    CHECK_EQ("the one-shot timer is disarmed",
             cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, 1);

    CHECK_OK("a second SIGEV_THREAD timer", make(&every, 'b'));
    struct itimerspec each1ms = {{0, 1000000}, {0, 1000000}};
    CHECK_OK("arm it every millisecond", timer_settime(every, 0, &each1ms, NULL));
    int got = 0, wrong = 0;
    while (got < 5) {
        if (read(calls[0], &c, 1) != 1)
            break;
        if (c == 'b')
            got++;
        else
            wrong++;
    }
    CHECK_EQ("it ran five times", got, 5);
    CHECK_EQ("never with the other timer's value", wrong, 0);
    CHECK_OK("timer_gettime of the interval timer", timer_gettime(every, &cur));
    CHECK_EQ("its interval", cur.it_interval.tv_nsec, 1000000);
    CHECK_OK("timer_delete of the interval timer", timer_delete(every));
    CHECK_OK("timer_delete of the one-shot timer", timer_delete(once));
    CHECK_EQ("the functions ran outside the main thread", elsewhere, 1);
    return check_finish();
}
