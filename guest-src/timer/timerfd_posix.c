/*
 * A timerfd and a POSIX timer side by side on CLOCK_MONOTONIC: both fire, the timerfd as a
 * readable count and the POSIX timer as a signal, each with its own interval; deleting the POSIX
 * timer leaves the timerfd running, and closing the timerfd leaves a POSIX timer running; a
 * timer id and a descriptor number are separate name spaces (timer_gettime of the descriptor's
 * number is EINVAL when no such timer exists).
 */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    REQUIRE("timerfd_create", tfd >= 0);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR2;
    ev.sigev_value.sival_int = 9;
    timer_t t;
    REQUIRE("timer_create", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);

    struct itimerspec fd_every = {{0, 1000000}, {0, 1000000}};
    struct itimerspec t_every = {{0, 3000000}, {0, 2000000}};
    CHECK_OK("arm the timerfd every 1 ms", timerfd_settime(tfd, 0, &fd_every, NULL));
    CHECK_OK("arm the POSIX timer every 3 ms", timer_settime(t, 0, &t_every, NULL));
    siginfo_t si;
    CHECK_EQ("the POSIX timer's signal", sigwaitinfo(&set, &si), SIGUSR2);
    CHECK_EQ("with its value", si.si_value.sival_int, 9);
    uint64_t n = 0;
    CHECK_EQ("the timerfd reads a count", read(tfd, &n, sizeof n), 8);
    CHECK_EQ("of at least one expiry", n >= 1, 1);
    struct itimerspec a, b;
    CHECK_OK("timerfd_gettime", timerfd_gettime(tfd, &a));
    CHECK_OK("timer_gettime", timer_gettime(t, &b));
    CHECK_EQ("each keeps its own interval",
             a.it_interval.tv_nsec == 1000000 && b.it_interval.tv_nsec == 3000000, 1);

    CHECK_OK("timer_delete", timer_delete(t));
    struct pollfd p = {tfd, POLLIN, 0};
    CHECK_EQ("the timerfd still becomes readable", poll(&p, 1, 60000), 1);
    CHECK_EQ("and reads", read(tfd, &n, sizeof n), 8);

    timer_t t2;
    REQUIRE("a second POSIX timer", timer_create(CLOCK_MONOTONIC, &ev, &t2) == 0);
    CHECK_OK("arm it every 1 ms", timer_settime(t2, 0, &fd_every, NULL));
    CHECK_OK("close the timerfd", close(tfd));
    while (sigtimedwait(&set, &si, &(struct timespec){0, 0}) == SIGUSR2)
        ;
    CHECK_EQ("the POSIX timer still fires", sigwaitinfo(&set, &si), SIGUSR2);
    CHECK_OK("timer_delete", timer_delete(t2));

    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec cur;
    CHECK_ERR("timer_gettime of a descriptor number that is no timer",
              syscall(SYS_timer_gettime, fd + 1000, &cur), EINVAL);
    CHECK_ERR("timerfd_gettime of a descriptor that is no timerfd", timerfd_gettime(0, &cur),
              EINVAL);
    close(fd);
    return check_finish();
}
