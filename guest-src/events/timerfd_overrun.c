/*
 * timerfd_overrun — interval timers read as expiration counts: an absolute CLOCK_REALTIME timer
 * started 4500 s in the past with a 1000 s interval has expired exactly 5 times and next expires
 * within 500 s; a read resets the count; re-arming discards pending expirations; a fast
 * CLOCK_MONOTONIC interval accumulates at least as many expirations as whole intervals slept;
 * the count survives fork and is read by the child.
 */
#include "check.h"
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_until(clockid_t clock, const struct timespec *t)
{
    while (clock_nanosleep(clock, TIMER_ABSTIME, t, NULL) == EINTR)
        ;
}

int main(void)
{
    int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    REQUIRE("realtime timerfd", fd >= 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec its = {.it_interval = {1000, 0}, .it_value = {now.tv_sec - 4500, now.tv_nsec}};
    CHECK_OK("absolute start 4500 s ago", timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL));
    uint64_t n = 0;
    /* The expiry is the kernel timer's to deliver, a moment after the call: wait for it. */
    struct pollfd first = {.fd = fd, .events = POLLIN};
    NEED("the timer fires", poll(&first, 1, -1) == 1);
    CHECK_EQ("read the count", read(fd, &n, 8), 8);
    CHECK_EQ("five expirations", n, 5);
    CHECK_ERR("the count was reset", read(fd, &n, 8), EAGAIN);
    struct itimerspec cur;
    CHECK_OK("gettime", timerfd_gettime(fd, &cur));
    check("next within 500 s", cur.it_value.tv_sec < 500 && cur.it_value.tv_sec >= 400, "%lld",
          (long long)cur.it_value.tv_sec);
    CHECK_EQ("interval kept", cur.it_interval.tv_sec, 1000);

    /* Expirations pending, then a re-arm far away: they are gone. */
    clock_gettime(CLOCK_REALTIME, &now);
    its.it_value.tv_sec = now.tv_sec - 3500;
    its.it_value.tv_nsec = now.tv_nsec;
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ("readable", poll(&p, 1, -1), 1);
    struct itimerspec far = {.it_value = {100000, 0}};
    CHECK_OK("re-arm relative and far", timerfd_settime(fd, 0, &far, NULL));
    CHECK_ERR("pending expirations discarded", read(fd, &n, 8), EAGAIN);
    close(fd);

    /* A fast monotonic interval: at least one expiration per interval slept. */
    int m = timerfd_create(CLOCK_MONOTONIC, 0);
    REQUIRE("monotonic timerfd", m >= 0);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct itimerspec fast = {.it_interval = {0, 2000000}, .it_value = start};
    fast.it_value.tv_nsec += 2000000;
    if (fast.it_value.tv_nsec >= 1000000000) {
        fast.it_value.tv_sec++;
        fast.it_value.tv_nsec -= 1000000000;
    }
    CHECK_OK("every 2 ms from start + 2 ms", timerfd_settime(m, TFD_TIMER_ABSTIME, &fast, NULL));
    struct timespec until = start;
    until.tv_nsec += 60000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    sleep_until(CLOCK_MONOTONIC, &until);
    CHECK_EQ("read after 60 ms", read(m, &n, 8), 8);
    check("at least 30 expirations", n >= 30, "%llu", (unsigned long long)n);

    /* The child of a fork shares the timer and reads its count. */
    its.it_interval.tv_sec = 0;
    its.it_interval.tv_nsec = 0;
    struct itimerspec once = {.it_value = {0, 1}};
    timerfd_settime(m, 0, &once, NULL);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        uint64_t c = 0;
        _exit(read(m, &c, 8) == 8 ? (int)c : 100);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_EQ("the child read one expiration", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1);
    p.fd = m;
    CHECK_EQ("and the parent finds none", poll(&p, 1, 0), 0);
    close(m);
    return check_finish();
}
