/*
 * Interval timers and fork (kernel/fork.c, copy_signal): a fork child starts with every interval
 * timer (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF) disarmed and no alarm, while the parent's keep
 * running; the child's own timers are its own and never reach the parent.
 */
#include "../fork/fork.h"
#include <signal.h>
#include <sys/time.h>

static int disarmed(int which)
{
    struct itimerval it;
    if (getitimer(which, &it) != 0)
        return 0;
    return it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0 && it.it_interval.tv_sec == 0 &&
           it.it_interval.tv_usec == 0;
}

int main(void)
{
    struct itimerval hour = {{0, 0}, {3600, 0}};
    CHECK_OK("parent: ITIMER_REAL for an hour", setitimer(ITIMER_REAL, &hour, NULL));
    CHECK_OK("parent: ITIMER_VIRTUAL for an hour", setitimer(ITIMER_VIRTUAL, &hour, NULL));
    CHECK_OK("parent: ITIMER_PROF for an hour", setitimer(ITIMER_PROF, &hour, NULL));

    pid_t child = fork_child();
    if (child == 0) {
        CHECK_EQ("child: ITIMER_REAL disarmed", disarmed(ITIMER_REAL), 1);
        CHECK_EQ("child: ITIMER_VIRTUAL disarmed", disarmed(ITIMER_VIRTUAL), 1);
        CHECK_EQ("child: ITIMER_PROF disarmed", disarmed(ITIMER_PROF), 1);
        CHECK_EQ("child: alarm(0) finds no alarm", alarm(0), 0);
        /* The child's own timer ends the child alone (SIGALRM's default action). */
        struct itimerval soon = {{0, 0}, {0, 1000}};
        setitimer(ITIMER_REAL, &soon, NULL);
        for (;;)
            pause();
    }
    check_status("the child died of its own SIGALRM", child, "killed by SIGALRM");
    struct itimerval it;
    CHECK_OK("parent: getitimer ITIMER_REAL", getitimer(ITIMER_REAL, &it));
    CHECK_EQ("parent: still armed, nearly an hour left",
             it.it_value.tv_sec >= 3000 && it.it_value.tv_sec < 3600, 1);
    CHECK_OK("parent: getitimer ITIMER_VIRTUAL", getitimer(ITIMER_VIRTUAL, &it));
    CHECK_EQ("parent: ITIMER_VIRTUAL still armed", it.it_value.tv_sec >= 3000, 1);
    CHECK_EQ("parent: alarm(0) returns the seconds left", alarm(0) > 3000, 1);
    CHECK_EQ("parent: which disarmed ITIMER_REAL", disarmed(ITIMER_REAL), 1);
    return check_finish();
}
