/*
 * epoll_modes — epoll on pipes: level- and edge-triggered readiness,
 * EPOLLONESHOT and its re-arm by EPOLL_CTL_MOD, the data word returned unchanged,
 * EPOLLEXCLUSIVE's rules, DEL, epoll_pwait's signal mask and epoll_pwait2's timeout.
 */
#include "check.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>

static volatile sig_atomic_t handled;
static void on_signal(int sig) { (void)sig; handled++; }

static int wait0(int ep, struct epoll_event *ev, int max)
{
    return epoll_wait(ep, ev, max, 0);
}

int main(void)
{
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    REQUIRE("epoll_create1", ep >= 0);
    CHECK_EQ("close-on-exec", fcntl(ep, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    struct epoll_event ev = {0}, evs[4];
    const unsigned long long word = 0xdeadbeefcafef00dULL;

    /* Level-triggered. */
    ev.events = EPOLLIN;
    ev.data.u64 = word;
    CHECK_OK("add LT", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    CHECK_ERR("add twice", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
    CHECK_EQ("LT empty", wait0(ep, evs, 4), 0);
    NEED("write", write(p[1], "ab", 2) == 2);
    memset(evs, 0, sizeof evs);
    CHECK_EQ("LT ready", wait0(ep, evs, 4), 1);
    CHECK_EQ("LT events", evs[0].events, EPOLLIN);
    check("data word unchanged", evs[0].data.u64 == word, "%llx", (unsigned long long)evs[0].data.u64);
    CHECK_EQ("LT still ready", wait0(ep, evs, 4), 1);

    /* Edge-triggered: once per new data. */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 7;
    CHECK_OK("mod ET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    CHECK_EQ("ET first", wait0(ep, evs, 4), 1);
    CHECK_EQ("ET data", evs[0].data.u64, 7);
    CHECK_EQ("ET not again", wait0(ep, evs, 4), 0);
    NEED("write", write(p[1], "c", 1) == 1);
    CHECK_EQ("ET after new data", wait0(ep, evs, 4), 1);
    CHECK_EQ("ET quiet again", wait0(ep, evs, 4), 0);
    char buf[8];
    NEED("drain", read(p[0], buf, sizeof buf) == 3);

    /* One-shot: disabled after one event until MOD re-arms it. */
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 9;
    CHECK_OK("mod oneshot", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    NEED("write", write(p[1], "d", 1) == 1);
    CHECK_EQ("oneshot fires", wait0(ep, evs, 4), 1);
    CHECK_EQ("oneshot disabled", wait0(ep, evs, 4), 0);
    CHECK_OK("re-arm", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    CHECK_EQ("re-armed fires", wait0(ep, evs, 4), 1);
    CHECK_EQ("re-armed data", evs[0].data.u64, 9);
    CHECK_OK("del", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    CHECK_EQ("nothing after del", wait0(ep, evs, 4), 0);
    CHECK_ERR("del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
    CHECK_ERR("mod unregistered", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), ENOENT);

    /* Two descriptors: the write end too. */
    ev.events = EPOLLOUT;
    ev.data.u64 = 1;
    CHECK_OK("add write end", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    CHECK_OK("add read end", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    memset(evs, 0, sizeof evs);
    int n = wait0(ep, evs, 4);
    CHECK_EQ("both ready", n, 2);
    check("one of each", n == 2 && evs[0].data.u64 + evs[1].data.u64 == 1, "data");
    CHECK_EQ("maxevents 1 returns one", wait0(ep, evs, 1), 1);

    int ep2 = epoll_create1(0);
    /* EPOLLEXCLUSIVE: only with ADD, and not with EPOLLONESHOT. */
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    CHECK_OK("add exclusive", epoll_ctl(ep2, EPOLL_CTL_ADD, p[1], &ev));
    CHECK_ERR("mod exclusive", epoll_ctl(ep2, EPOLL_CTL_MOD, p[1], &ev), EINVAL);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    CHECK_ERR("exclusive oneshot", epoll_ctl(ep2, EPOLL_CTL_ADD, p[0], &ev), EINVAL);
    /* An epoll inside an epoll. */
    ev.events = EPOLLIN;
    CHECK_OK("epoll in epoll", epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev));
    CHECK_ERR("loop", epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev), ELOOP);

    /* epoll_pwait's mask. */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block, empty, got;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    int ep3 = epoll_create1(0);
    CHECK_EQ("pwait, mask blocks it", epoll_pwait(ep3, evs, 4, 0, &block), 0);
    sigpending(&got);
    CHECK_EQ("still pending", sigismember(&got, SIGUSR1), 1);
    CHECK_ERR("pwait, mask lets it through", epoll_pwait(ep3, evs, 4, -1, &empty), EINTR);
    CHECK_EQ("handler ran", handled, 1);
    sigprocmask(SIG_BLOCK, NULL, &got);
    CHECK_EQ("old mask back", sigismember(&got, SIGUSR1), 1);
    sigprocmask(SIG_UNBLOCK, &block, NULL);

    /* epoll_pwait2: a timespec timeout. */
    struct timespec zero = {0, 0};
    CHECK_EQ("pwait2 zero timeout", syscall(SYS_epoll_pwait2, ep3, evs, 4, &zero, NULL, 8), 0);
    CHECK_EQ("pwait2 ready", syscall(SYS_epoll_pwait2, ep, evs, 4, NULL, NULL, 8), 2);
    return check_finish();
}
