/*
 * alarm() and setitimer() interrupt a guest spinning in pure computation: the SIGALRM handler runs
 * during the loop; alarm(0) cancels and reports the seconds left; getitimer reads the time left;
 * with the default action SIGALRM ends the process.
 */
#include "check.h"
#include <signal.h>
#include <sys/time.h>

static volatile sig_atomic_t fired;

static void on_alarm(int sig)
{
    (void)sig;
    fired++;
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    CHECK_EQ("alarm(1) with none pending returns 0", alarm(1), 0);
    unsigned long spins = 0;
    while (!fired)
        spins++;
    CHECK_EQ("the handler ran during a busy loop", fired, 1);

    alarm(5);
    CHECK_EQ("alarm(0) cancels and reports the 5 seconds left", alarm(0), 5);

    struct itimerval it = {{0, 0}, {0, 200 * 1000}};
    CHECK_OK("setitimer(ITIMER_REAL, 200 ms)", setitimer(ITIMER_REAL, &it, NULL));
    struct itimerval left;
    CHECK_OK("getitimer", getitimer(ITIMER_REAL, &left));
    CHECK_EQ("the time left is at most 200 ms and not zero",
             left.it_value.tv_sec == 0 && left.it_value.tv_usec > 0 &&
                 left.it_value.tv_usec <= 200 * 1000,
             1);
    while (fired < 2)
        spins++;
    CHECK_EQ("the interval timer fired once", fired, 2);
    CHECK_ERR("setitimer with an invalid timer", setitimer(7, &it, NULL), EINVAL);

    out("about to die of SIGALRM\n");
    signal(SIGALRM, SIG_DFL);
    alarm(1);
    for (;;)
        spins++;
}
