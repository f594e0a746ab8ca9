/*
 * ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time (user time, and user plus system
 * time): they run down while the process spins and stand still while it sleeps; on expiry they
 * send SIGVTALRM and SIGPROF; the interval reloads them; getitimer of each is independent of
 * the others.
 */
#include "check.h"
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static long long us(struct timeval t)
{
    return (long long)t.tv_sec * 1000000LL + t.tv_usec;
}

static volatile sig_atomic_t vt, prof;

static void on_vt(int s)
{
    (void)s;
    vt++;
}

static void on_prof(int s)
{
    (void)s;
    prof++;
}

int main(void)
{
    signal(SIGVTALRM, on_vt);
    signal(SIGPROF, on_prof);
    struct itimerval hour = {{0, 0}, {3600, 0}}, cur;
    CHECK_OK("ITIMER_VIRTUAL for an hour of CPU time", setitimer(ITIMER_VIRTUAL, &hour, NULL));
    struct timespec pause = {0, 30000000};
    nanosleep(&pause, NULL);
    CHECK_OK("getitimer ITIMER_VIRTUAL", getitimer(ITIMER_VIRTUAL, &cur));
    CHECK_EQ("30 ms asleep used almost none of it", us(cur.it_value) > 3600000000LL - 20000, 1);
    CHECK_OK("getitimer ITIMER_PROF", getitimer(ITIMER_PROF, &cur));
    CHECK_EQ("ITIMER_PROF is disarmed", us(cur.it_value), 0);
    CHECK_OK("getitimer ITIMER_REAL", getitimer(ITIMER_REAL, &cur));
    CHECK_EQ("ITIMER_REAL is disarmed", us(cur.it_value), 0);

    struct itimerval ten = {{0, 10000}, {0, 10000}};
    CHECK_OK("ITIMER_VIRTUAL every 10 ms", setitimer(ITIMER_VIRTUAL, &ten, NULL));
    CHECK_OK("ITIMER_PROF every 10 ms", setitimer(ITIMER_PROF, &ten, NULL));
    volatile unsigned long spin = 0;
    while (vt < 3 || prof < 3)
        spin++;
    check("spinning brought SIGVTALRM three times", vt >= 3, "%d", (int)vt);
    check("and SIGPROF three times", prof >= 3, "%d", (int)prof);
    CHECK_OK("getitimer ITIMER_VIRTUAL", getitimer(ITIMER_VIRTUAL, &cur));
    CHECK_EQ("reloaded with its interval", us(cur.it_interval) == 10000 &&
             us(cur.it_value) > 0 && us(cur.it_value) <= 10000, 1);
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK_OK("disarm ITIMER_VIRTUAL", setitimer(ITIMER_VIRTUAL, &off, NULL));
    CHECK_OK("disarm ITIMER_PROF", setitimer(ITIMER_PROF, &off, &cur));
    CHECK_EQ("ITIMER_PROF's old interval", us(cur.it_interval), 10000);
    return check_finish();
}
