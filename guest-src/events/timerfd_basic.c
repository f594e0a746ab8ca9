/*
 * timerfd_basic — timerfd_create/settime/gettime with timers that are far in the future or
 * already expired, never with a wait whose length decides a result: relative and absolute
 * values, intervals (an expired interval timer reads at least one expiration), the old value,
 * disarming, EAGAIN, TFD_TIMER_CANCEL_ON_SET, and readiness for poll and epoll.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

int main(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    REQUIRE("timerfd_create", fd >= 0);
    CHECK_EQ("cloexec", fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    struct itimerspec cur;
    CHECK_OK("gettime disarmed", timerfd_gettime(fd, &cur));
    CHECK_EQ("disarmed value", cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);
    uint64_t n;
    CHECK_ERR("disarmed read", read(fd, &n, 8), EAGAIN);

    /* Relative, far in the future, with an interval. */
    struct itimerspec far = {{7, 0}, {1000, 0}}, old;
    CHECK_OK("settime relative", timerfd_settime(fd, 0, &far, &old));
    CHECK_EQ("old was disarmed", old.it_value.tv_sec + old.it_value.tv_nsec, 0);
    CHECK_OK("gettime", timerfd_gettime(fd, &cur));
    check("value left", cur.it_value.tv_sec <= 1000 && cur.it_value.tv_sec >= 500, "%lld",
          (long long)cur.it_value.tv_sec);
    CHECK_EQ("interval", cur.it_interval.tv_sec, 7);
    CHECK_ERR("not expired", read(fd, &n, 8), EAGAIN);
    struct pollfd p = {fd, POLLIN, 0};
    CHECK_EQ("not readable", poll(&p, 1, 0), 0);

    /* Absolute, already past, with an interval: expirations at once. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec past = {{0, 1000000}, {now.tv_sec > 2 ? now.tv_sec - 2 : 0, 1}};
    CHECK_OK("settime absolute past", timerfd_settime(fd, TFD_TIMER_ABSTIME, &past, &old));
    CHECK_EQ("old interval", old.it_interval.tv_sec, 7);
    check("old value far", old.it_value.tv_sec >= 500, "%lld", (long long)old.it_value.tv_sec);
    /* The host fires an expired timer asynchronously: wait for it, however long it takes. */
    p.revents = 0;
    CHECK_EQ("readable", poll(&p, 1, -1), 1);
    n = 0;
    CHECK_EQ("read expirations", read(fd, &n, 8), 8);
    check("at least one expiration", n >= 1, "%llu", (unsigned long long)n);
    CHECK_ERR("short read", read(fd, &n, 4), EINVAL);

    /* One-shot, expired, through epoll and a blocking read. */
    int bfd = timerfd_create(CLOCK_REALTIME, 0);
    REQUIRE("blocking timerfd", bfd >= 0);
    struct itimerspec once = {{0, 0}, {0, 1}};
    CHECK_OK("settime 1ns", timerfd_settime(bfd, 0, &once, NULL));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5}, evs = {0};
    NEED("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &ev) == 0);
    CHECK_EQ("epoll sees it", epoll_wait(ep, &evs, 1, -1), 1);
    CHECK_EQ("epoll data", evs.data.u64, 5);
    n = 0;
    CHECK_EQ("blocking read", read(bfd, &n, 8), 8);
    CHECK_EQ("one expiration", n, 1);
    CHECK_OK("gettime after", timerfd_gettime(bfd, &cur));
    CHECK_EQ("one-shot spent", cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);

    /* Disarm. */
    CHECK_OK("re-arm far", timerfd_settime(fd, 0, &far, NULL));
    struct itimerspec off = {{0, 0}, {0, 0}};
    CHECK_OK("disarm", timerfd_settime(fd, 0, &off, &old));
    check("old value was armed", old.it_value.tv_sec >= 500, "%lld", (long long)old.it_value.tv_sec);
    CHECK_OK("gettime disarmed again", timerfd_gettime(fd, &cur));
    CHECK_EQ("disarmed again", cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);

    /* TFD_TIMER_CANCEL_ON_SET: an absolute realtime timer. */
    int rt = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    struct itimerspec later = {{0, 0}, {wall.tv_sec + 100000, 0}};
    CHECK_OK("cancel on set", timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &later, NULL));
    CHECK_ERR("not expired", read(rt, &n, 8), EAGAIN);
    return check_finish();
}
