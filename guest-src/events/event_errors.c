/*
 * event_errors — bad arguments to every event call, each with Linux's errno: EBADF, EINVAL,
 * EFAULT (and EEXIST, ENOENT, EPERM where they apply). Made through syscall() so the C library
 * adds nothing.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#define BADPTR ((void *)8)

int main(void)
{
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    uint64_t mask = 0;
    struct timespec zero = {0, 0}, badns = {0, 1000000000};

    /* ppoll */
    struct pollfd fds[1] = {{p[1], POLLOUT, 0}};
    CHECK_ERR("ppoll fds EFAULT", syscall(SYS_ppoll, BADPTR, 1, &zero, NULL, 8), EFAULT);
    CHECK_ERR("ppoll timeout EFAULT", syscall(SYS_ppoll, fds, 1, BADPTR, NULL, 8), EFAULT);
    CHECK_ERR("ppoll timeout EINVAL", syscall(SYS_ppoll, fds, 1, &badns, NULL, 8), EINVAL);
    CHECK_ERR("ppoll sigsetsize EINVAL", syscall(SYS_ppoll, fds, 1, &zero, &mask, 4), EINVAL);
    CHECK_ERR("ppoll sigmask EFAULT", syscall(SYS_ppoll, fds, 1, &zero, BADPTR, 8), EFAULT);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    CHECK_ERR("ppoll nfds over RLIMIT_NOFILE",
              syscall(SYS_ppoll, fds, (unsigned long)rl.rlim_cur + 1, &zero, NULL, 8), EINVAL);
    CHECK_EQ("ppoll no fds", syscall(SYS_ppoll, NULL, 0, &zero, NULL, 8), 0);
    CHECK_ERR("ppoll revents EFAULT (read-only array)",
              syscall(SYS_ppoll, (void *)main, 0 + 1, &zero, NULL, 8), EFAULT);

    /* pselect6 */
    uint64_t set[16] = {0};
    set[0] = 1ULL << 50;
    CHECK_ERR("pselect6 EBADF", syscall(SYS_pselect6, 51, set, NULL, NULL, &zero, NULL), EBADF);
    CHECK_ERR("pselect6 n < 0", syscall(SYS_pselect6, -1, NULL, NULL, NULL, &zero, NULL), EINVAL);
    CHECK_ERR("pselect6 set EFAULT", syscall(SYS_pselect6, 4, BADPTR, NULL, NULL, &zero, NULL), EFAULT);
    CHECK_ERR("pselect6 timeout EINVAL", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &badns, NULL), EINVAL);
    uint64_t sig[2] = {(uint64_t)(uintptr_t)&mask, 4};
    CHECK_ERR("pselect6 sigsetsize EINVAL", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &zero, sig), EINVAL);
    CHECK_ERR("pselect6 sig EFAULT", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &zero, BADPTR), EFAULT);
    sig[1] = 8;
    CHECK_EQ("pselect6 with a mask", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &zero, sig), 0);

    /* epoll_create1 */
    CHECK_ERR("epoll_create1 flags", syscall(SYS_epoll_create1, 1), EINVAL);
    int ep = syscall(SYS_epoll_create1, 0);
    REQUIRE("epoll", ep >= 0);

    /* epoll_ctl */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    CHECK_ERR("ctl event EFAULT", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, p[0], BADPTR), EFAULT);
    CHECK_ERR("ctl DEL unregistered", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_DEL, p[0], BADPTR), ENOENT);
    CHECK_ERR("ctl epfd EBADF", syscall(SYS_epoll_ctl, 99, EPOLL_CTL_ADD, p[0], &ev), EBADF);
    CHECK_ERR("ctl fd EBADF", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, 99, &ev), EBADF);
    CHECK_ERR("ctl epfd not an epoll", syscall(SYS_epoll_ctl, p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL);
    CHECK_ERR("ctl fd is the epoll", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
    CHECK_ERR("ctl bad op", syscall(SYS_epoll_ctl, ep, 99, p[0], &ev), EINVAL);
    int file = open("f", O_CREAT | O_RDWR, 0600);
    CHECK_ERR("ctl regular file EPERM", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, file, &ev), EPERM);

    /* epoll_pwait / epoll_pwait2 */
    struct epoll_event evs[2];
    CHECK_ERR("pwait maxevents 0", syscall(SYS_epoll_pwait, ep, evs, 0, 0, NULL, 8), EINVAL);
    CHECK_ERR("pwait maxevents -1", syscall(SYS_epoll_pwait, ep, evs, -1, 0, NULL, 8), EINVAL);
    CHECK_ERR("pwait EBADF", syscall(SYS_epoll_pwait, 99, evs, 2, 0, NULL, 8), EBADF);
    CHECK_ERR("pwait not an epoll", syscall(SYS_epoll_pwait, p[0], evs, 2, 0, NULL, 8), EINVAL);
    CHECK_ERR("pwait sigsetsize", syscall(SYS_epoll_pwait, ep, evs, 2, 0, &mask, 4), EINVAL);
    CHECK_ERR("pwait sigmask EFAULT", syscall(SYS_epoll_pwait, ep, evs, 2, 0, BADPTR, 8), EFAULT);
    CHECK_EQ("pwait NULL buffer, nothing ready", syscall(SYS_epoll_pwait, ep, NULL, 2, 0, NULL, 8), 0);
    ev.events = EPOLLOUT;
    NEED("add write end", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, p[1], &ev) == 0);
    CHECK_ERR("pwait NULL buffer, ready", syscall(SYS_epoll_pwait, ep, NULL, 2, 0, NULL, 8), EFAULT);
    CHECK_ERR("pwait2 timeout EFAULT", syscall(SYS_epoll_pwait2, ep, evs, 2, BADPTR, NULL, 8), EFAULT);
    CHECK_ERR("pwait2 timeout EINVAL", syscall(SYS_epoll_pwait2, ep, evs, 2, &badns, NULL, 8), EINVAL);
    CHECK_ERR("pwait2 maxevents 0", syscall(SYS_epoll_pwait2, ep, evs, 0, &zero, NULL, 8), EINVAL);

    /* eventfd2 */
    CHECK_ERR("eventfd2 flags", syscall(SYS_eventfd2, 0, 0x4), EINVAL);

    /* timerfd */
    CHECK_ERR("timerfd_create clock", syscall(SYS_timerfd_create, 2, 0), EINVAL);
    CHECK_ERR("timerfd_create unknown clock", syscall(SYS_timerfd_create, 99, 0), EINVAL);
    CHECK_ERR("timerfd_create flags", syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0x4), EINVAL);
    int tfd = syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
    REQUIRE("timerfd", tfd >= 0);
    struct itimerspec its = {{0, 0}, {100, 0}}, bad = {{0, 0}, {0, -1}};
    CHECK_ERR("settime new EFAULT", syscall(SYS_timerfd_settime, tfd, 0, BADPTR, NULL), EFAULT);
    CHECK_ERR("settime flags", syscall(SYS_timerfd_settime, tfd, 4, &its, NULL), EINVAL);
    CHECK_ERR("settime bad value", syscall(SYS_timerfd_settime, tfd, 0, &bad, NULL), EINVAL);
    CHECK_ERR("settime EBADF", syscall(SYS_timerfd_settime, 99, 0, &its, NULL), EBADF);
    CHECK_ERR("settime not a timerfd", syscall(SYS_timerfd_settime, p[0], 0, &its, NULL), EINVAL);
    CHECK_ERR("settime old EFAULT", syscall(SYS_timerfd_settime, tfd, 0, &its, BADPTR), EFAULT);
    struct itimerspec cur;
    CHECK_OK("the timer was set before the fault", syscall(SYS_timerfd_gettime, tfd, &cur));
    check("armed", cur.it_value.tv_sec > 0, "%lld", (long long)cur.it_value.tv_sec);
    CHECK_ERR("gettime EFAULT", syscall(SYS_timerfd_gettime, tfd, BADPTR), EFAULT);
    CHECK_ERR("gettime EBADF", syscall(SYS_timerfd_gettime, 99, &cur), EBADF);
    CHECK_ERR("gettime not a timerfd", syscall(SYS_timerfd_gettime, p[0], &cur), EINVAL);
    return check_finish();
}
