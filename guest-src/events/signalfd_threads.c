/*
 * signalfd_threads — which pending signals a signalfd sees: the reading thread's own and the
 * process's, never another thread's; a signal sent to a thread is read by that thread from the
 * same signalfd; a process signal makes the signalfd readable in an epoll another thread waits
 * on; a fork child's signalfd sees its own signals, not its parent's.
 */
#include "check.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int sfd;
static pid_t other_tid;
static volatile int step;
static int other_read, other_signo;

static void *other(void *arg)
{
    (void)arg;
    other_tid = (pid_t)syscall(SYS_gettid);
    __atomic_store_n(&step, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&step, __ATOMIC_SEQ_CST) != 2)
        sched_yield();
    struct signalfd_siginfo si;
    other_read = (int)read(sfd, &si, sizeof si);
    other_signo = (int)si.ssi_signo;
    return NULL;
}

static int ep;
static int waited;

static void *waiter(void *arg)
{
    (void)arg;
    struct epoll_event ev;
    int n;
    while ((n = epoll_wait(ep, &ev, 1, -1)) < 0 && errno == EINTR)
        ;
    waited = n == 1 ? (int)ev.data.u64 : -1;
    return NULL;
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_NONBLOCK);
    REQUIRE("signalfd", sfd >= 0);

    /* Signals sent to another thread are that thread's. */
    pthread_t t;
    REQUIRE("thread", pthread_create(&t, NULL, other, NULL) == 0);
    while (__atomic_load_n(&step, __ATOMIC_SEQ_CST) != 1)
        sched_yield();
    CHECK_OK("tgkill the other thread", syscall(SYS_tgkill, getpid(), other_tid, SIGUSR2));
    struct signalfd_siginfo si;
    CHECK_ERR("not readable here", read(sfd, &si, sizeof si), EAGAIN);
    struct pollfd p = {.fd = sfd, .events = POLLIN};
    CHECK_EQ("not readable here by poll", poll(&p, 1, 0), 0);
    __atomic_store_n(&step, 2, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    CHECK_EQ("the other thread reads it", other_read, (int)sizeof si);
    CHECK_EQ("SIGUSR2", other_signo, SIGUSR2);

    /* Our own thread's signal, and the process's. */
    CHECK_OK("tgkill ourselves", syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1));
    CHECK_EQ("readable here", read(sfd, &si, sizeof si), (int)sizeof si);
    CHECK_EQ("SIGUSR1", si.ssi_signo, SIGUSR1);
    CHECK_EQ("sent by tkill", si.ssi_code, SI_TKILL);

    /* A process signal wakes another thread's epoll on the signalfd. */
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77};
    CHECK_OK("signalfd in epoll", epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev));
    REQUIRE("waiter", pthread_create(&t, NULL, waiter, NULL) == 0);
    CHECK_OK("kill the process", kill(getpid(), SIGUSR2));
    pthread_join(t, NULL);
    CHECK_EQ("the waiter saw the signalfd", waited, 77);
    CHECK_EQ("read it", read(sfd, &si, sizeof si), (int)sizeof si);
    CHECK_EQ("SIGUSR2 from kill", si.ssi_signo == SIGUSR2 && si.ssi_code == SI_USER, 1);

    /* A fork child reads its own signals only. */
    kill(getpid(), SIGUSR1);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        struct signalfd_siginfo c;
        if (read(sfd, &c, sizeof c) != -1 || errno != EAGAIN)
            _exit(1);
        kill(getpid(), SIGUSR2);
        if (read(sfd, &c, sizeof c) != sizeof c || c.ssi_signo != SIGUSR2 ||
            c.ssi_pid != (uint32_t)getpid())
            _exit(2);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_EQ("the child saw only its own signal", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    CHECK_EQ("ours is still pending", read(sfd, &si, sizeof si), (int)sizeof si);
    CHECK_EQ("SIGUSR1", si.ssi_signo, SIGUSR1);
    CHECK_ERR("nothing more", read(sfd, &si, sizeof si), EAGAIN);
    close(ep);
    close(sfd);
    return check_finish();
}
