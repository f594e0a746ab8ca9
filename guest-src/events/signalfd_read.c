/*
 * signalfd_read — signalfd4 reads the process's own pending signals: blocked signals sent by
 * kill, tgkill and sigqueue (with its value) come back as signalfd_siginfo records in delivery
 * order, the thread's own first; poll and epoll see it readable exactly while one is pending;
 * a new mask; a blocking read woken by another thread's signal; bad arguments.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>

static int readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void *sender(void *arg)
{
    (void)arg;
    kill(getpid(), SIGUSR2);
    return NULL;
}

int main(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    REQUIRE("signalfd", sfd >= 0);
    CHECK_EQ("cloexec", fcntl(sfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    struct signalfd_siginfo si[8];
    CHECK_ERR("nothing pending", read(sfd, si, sizeof si), EAGAIN);
    CHECK_EQ("not readable", readable(sfd), 0);

    kill(getpid(), SIGUSR2);
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
    sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 42});
    sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 43});
    CHECK_EQ("readable", readable(sfd), 1);
    memset(si, 0, sizeof si);
    CHECK_EQ("four records", read(sfd, si, sizeof si), 4 * (long)sizeof si[0]);
    CHECK_EQ("thread's own first: SIGUSR1", si[0].ssi_signo, SIGUSR1);
    CHECK_EQ("tgkill code", si[0].ssi_code, SI_TKILL);
    CHECK_EQ("then SIGUSR2", si[1].ssi_signo, SIGUSR2);
    CHECK_EQ("kill code", si[1].ssi_code, SI_USER);
    check("kill sender", si[1].ssi_pid == (uint32_t)getpid() && si[1].ssi_uid == getuid(), "pid");
    CHECK_EQ("then SIGRTMIN", si[2].ssi_signo, SIGRTMIN);
    CHECK_EQ("sigqueue code", si[2].ssi_code, SI_QUEUE);
    CHECK_EQ("first value", si[2].ssi_int, 42);
    CHECK_EQ("second instance", si[3].ssi_signo, SIGRTMIN);
    CHECK_EQ("second value", si[3].ssi_int, 43);
    check("sigqueue sender", si[3].ssi_pid == (uint32_t)getpid(), "pid");
    CHECK_EQ("drained", readable(sfd), 0);
    CHECK_ERR("empty again", read(sfd, si, sizeof si), EAGAIN);
    sigset_t pend;
    sigpending(&pend);
    CHECK_EQ("nothing left pending", sigismember(&pend, SIGUSR1) + sigismember(&pend, SIGRTMIN), 0);

    /* One record at a time. */
    raise(SIGUSR1);
    raise(SIGUSR2);
    CHECK_EQ("one record", read(sfd, si, sizeof si[0]), (long)sizeof si[0]);
    CHECK_EQ("lowest first", si[0].ssi_signo, SIGUSR1);
    CHECK_EQ("still readable", readable(sfd), 1);
    CHECK_EQ("the other", read(sfd, si, sizeof si[0]), (long)sizeof si[0]);
    CHECK_EQ("SIGUSR2 next", si[0].ssi_signo, SIGUSR2);

    /* Inside epoll. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77}, evs[2];
    REQUIRE("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) == 0);
    CHECK_EQ("epoll quiet", epoll_wait(ep, evs, 2, 0), 0);
    raise(SIGUSR1);
    CHECK_EQ("epoll wakes", epoll_wait(ep, evs, 2, -1), 1);
    CHECK_EQ("epoll data", evs[0].data.u64, 77);
    CHECK_EQ("read it", read(sfd, si, sizeof si), (long)sizeof si[0]);
    CHECK_EQ("epoll quiet again", epoll_wait(ep, evs, 2, 0), 0);

    /* A new mask: SIGUSR2 only. */
    sigset_t two;
    sigemptyset(&two);
    sigaddset(&two, SIGUSR2);
    CHECK_EQ("new mask", signalfd(sfd, &two, 0), sfd);
    raise(SIGUSR1);
    CHECK_EQ("outside the mask", readable(sfd), 0);
    raise(SIGUSR2);
    CHECK_EQ("inside the mask", readable(sfd), 1);
    CHECK_EQ("reads SIGUSR2 only", read(sfd, si, sizeof si), (long)sizeof si[0]);
    CHECK_EQ("SIGUSR2", si[0].ssi_signo, SIGUSR2);
    struct timespec zero = {0, 0};
    CHECK_EQ("SIGUSR1 still pending", sigtimedwait(&mask, NULL, &zero), SIGUSR1);

    /* A blocking read, woken by another thread's signal whenever it comes. */
    int bfd = signalfd(-1, &two, 0);
    REQUIRE("blocking signalfd", bfd >= 0);
    pthread_t t;
    NEED("thread", pthread_create(&t, NULL, sender, NULL) == 0);
    CHECK_EQ("blocking read", read(bfd, si, sizeof si), (long)sizeof si[0]);
    CHECK_EQ("the thread's signal", si[0].ssi_signo, SIGUSR2);
    pthread_join(t, NULL);

    /* Bad arguments. */
    CHECK_ERR("flags", signalfd(-1, &mask, 0x1), EINVAL);
    CHECK_ERR("sizemask", syscall(SYS_signalfd4, -1, &mask, 4, 0), EINVAL);
    CHECK_ERR("mask EFAULT", syscall(SYS_signalfd4, -1, (void *)8, 8, 0), EFAULT);
    int p[2];
    NEED("pipe", pipe(p) == 0);
    CHECK_ERR("not a signalfd", signalfd(p[0], &mask, 0), EINVAL);
    CHECK_ERR("EBADF", signalfd(99, &mask, 0), EBADF);
    CHECK_ERR("short buffer", read(sfd, si, sizeof si[0] - 1), EINVAL);
    raise(SIGUSR2);
    CHECK_ERR("buffer EFAULT", syscall(SYS_read, sfd, (void *)8, sizeof si[0]), EFAULT);
    return check_finish();
}
