/*
 * fork_objects — which event objects a fork child shares with its parent and which stay the
 * parent's, on every fork strategy: an eventfd's counter, a timerfd's setting, an inotify
 * instance's queue and an epoll's interest list are one open file for both; a message
 * queue's notification stays the registering parent's (the child's mq_notify is EBUSY and its
 * message notifies the parent); POSIX timers and alarms are not inherited.
 */
#include "check.h"
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int efd = eventfd(3, EFD_NONBLOCK);
    REQUIRE("eventfd", efd >= 0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    REQUIRE("timerfd", tfd >= 0);
    struct itimerspec far = {.it_value = {.tv_sec = 1000}};
    CHECK_OK("arm the timerfd", timerfd_settime(tfd, 0, &far, NULL));
    int in = inotify_init1(IN_NONBLOCK);
    REQUIRE("inotify", in >= 0);
    CHECK_OK("watch the directory", inotify_add_watch(in, ".", IN_CREATE));
    int ep = epoll_create1(0);
    REQUIRE("epoll", ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    CHECK_OK("eventfd in the epoll", epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));

    /* A name of this process's own: lanes run side by side on one host. */
    char name[64];
    snprintf(name, sizeof name, "/fork_objects_%d", (int)getpid());
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
    mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, &attr);
    REQUIRE("mq_open", q != (mqd_t)-1);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    sev.sigev_value.sival_int = 42;
    CHECK_OK("mq_notify in the parent", mq_notify(q, &sev));

    int timer = -1;
    struct sigevent none = {.sigev_notify = SIGEV_NONE};
    CHECK_OK("timer_create", syscall(SYS_timer_create, CLOCK_MONOTONIC, &none, &timer));
    CHECK_OK("timer_settime", syscall(SYS_timer_settime, timer, 0, &far, NULL));
    alarm(1000);

    pid_t pid = fork_or_die();
    if (pid == 0) {
        int bad = 0;
        uint64_t v = 0;
        if (read(efd, &v, 8) != 8 || v != 3)
            bad |= 1;
        v = 5;
        if (write(efd, &v, 8) != 8)
            bad |= 1;
        struct itimerspec cur;
        if (timerfd_gettime(tfd, &cur) != 0 || cur.it_value.tv_sec < 900)
            bad |= 2;
        struct itimerspec off = {0};
        if (timerfd_settime(tfd, 0, &off, NULL) != 0)
            bad |= 2;
        int f = open("made_by_child", O_CREAT | O_WRONLY, 0600);
        if (f < 0)
            bad |= 4;
        close(f);
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 0) != 1 || got.data.u64 != 1)
            bad |= 8;
        if (epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL) != 0)
            bad |= 8;
        if (mq_notify(q, &sev) != -1 || errno != EBUSY)
            bad |= 16;
        if (mq_send(q, "m", 1, 0) != 0)
            bad |= 16;
        struct itimerspec t;
        if (syscall(SYS_timer_gettime, timer, &t) != -1 || errno != EINVAL)
            bad |= 32;
        if (alarm(0) != 0)
            bad |= 64;
        _exit(bad);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int bad = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK_EQ("child: the eventfd's counter, then its write", bad & 1, 0);
    CHECK_EQ("child: the timerfd armed, then disarmed", bad & 2, 0);
    CHECK_EQ("child: a file created", bad & 4, 0);
    CHECK_EQ("child: the epoll's interest list, then a deletion", bad & 8, 0);
    CHECK_EQ("child: mq_notify EBUSY, and a message", bad & 16, 0);
    CHECK_EQ("child: no POSIX timer", bad & 32, 0);
    CHECK_EQ("child: no alarm", bad & 64, 0);

    uint64_t v = 0;
    CHECK_EQ("the child's write reached our eventfd", read(efd, &v, 8) == 8 && v == 5, 1);
    struct itimerspec cur;
    CHECK_OK("timerfd_gettime", timerfd_gettime(tfd, &cur));
    CHECK_EQ("the child disarmed our timerfd", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, 1);
    char buf[256];
    ssize_t n = read(in, buf, sizeof buf);
    struct inotify_event *ie = (struct inotify_event *)buf;
    CHECK_EQ("our inotify saw the child's file",
             n > (ssize_t)sizeof *ie && (ie->mask & IN_CREATE) && strcmp(ie->name, "made_by_child") == 0, 1);
    v = 1;
    CHECK_EQ("write the eventfd", write(efd, &v, 8), 8);
    struct epoll_event got;
    CHECK_EQ("the child's deletion is ours", epoll_wait(ep, &got, 1, 0), 0);
    struct timespec limit = {.tv_sec = 10};
    siginfo_t si;
    CHECK_EQ("the child's message notified us", sigtimedwait(&set, &si, &limit), SIGUSR1);
    CHECK_EQ("SI_MESGQ with our value", si.si_code == SI_MESGQ && si.si_value.sival_int == 42, 1);
    struct itimerspec t;
    CHECK_OK("our POSIX timer", syscall(SYS_timer_gettime, timer, &t));
    CHECK_EQ("still armed", t.it_value.tv_sec >= 900, 1);
    CHECK_EQ("our alarm", alarm(0) >= 900, 1);
    mq_unlink(name);
    return check_finish();
}
