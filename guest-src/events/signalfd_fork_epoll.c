/*
 * signalfd_fork_epoll — a signalfd inherited by a fork child is the child's: at the same
 * numbers (a dup too, with its FD_CLOEXEC), with the same mask and blocking mode, readable by
 * poll and by an epoll of the child's own only for the child's signals (never for the parent's
 * pending ones), woken inside epoll_wait by a signal the parent sends; the parent's own
 * pending signal stays readable for the parent, by poll and by the epoll it made before the
 * fork, whatever the child read.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) ? 1 : 0;
}

static void child(int sfd, int dupfd, int go)
{
    struct signalfd_siginfo si;
    CHECK_EQ("child: the parent's pending signal is not readable", readable(sfd), 0);
    CHECK_EQ("child: still blocking", fcntl(sfd, F_GETFL) & O_NONBLOCK, 0);
    CHECK_EQ("child: the dup keeps FD_CLOEXEC", fcntl(dupfd, F_GETFD), FD_CLOEXEC);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5};
    CHECK_OK("child: signalfd in a new epoll", epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev));
    struct epoll_event got;
    CHECK_EQ("child: nothing ready", epoll_wait(ep, &got, 1, 0), 0);

    /* Its own signal wakes its epoll, and the dup reads it. */
    kill(getpid(), SIGUSR2);
    CHECK_EQ("child: own signal ready", epoll_wait(ep, &got, 1, -1), 1);
    CHECK_EQ("child: the data word", got.data.u64, 5);
    CHECK_EQ("child: poll agrees", readable(sfd), 1);
    CHECK_EQ("child: the dup reads it", read(dupfd, &si, sizeof si), (int)sizeof si);
    CHECK_EQ("child: SIGUSR2 from itself", si.ssi_signo == SIGUSR2 && si.ssi_pid == (uint32_t)getpid(), 1);
    CHECK_EQ("child: nothing ready again", epoll_wait(ep, &got, 1, 0), 0);

    /* A signal from the parent ends a wait in epoll_wait. */
    CHECK_EQ("child: tell the parent", write(go, "x", 1), 1);
    int n;
    while ((n = epoll_wait(ep, &got, 1, -1)) < 0 && errno == EINTR)
        ;
    CHECK_EQ("child: the parent's signal wakes the epoll", n, 1);
    CHECK_EQ("child: blocking read", read(sfd, &si, sizeof si), (int)sizeof si);
    CHECK_EQ("child: SIGUSR1 from the parent",
             si.ssi_signo == SIGUSR1 && si.ssi_pid == (uint32_t)getppid() && si.ssi_code == SI_USER, 1);
    CHECK_EQ("child: not readable after", readable(sfd), 0);
    _exit(check_failures ? 1 : 0);
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, 0);
    REQUIRE("signalfd", sfd >= 0);
    int dupfd = fcntl(sfd, F_DUPFD_CLOEXEC, 40);
    REQUIRE("dup", dupfd == 40);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 9};
    CHECK_OK("signalfd in the parent's epoll", epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev));
    kill(getpid(), SIGUSR1);
    CHECK_EQ("the parent's signal is readable", readable(sfd), 1);
    int pipefd[2];
    REQUIRE("pipe", pipe(pipefd) == 0);

    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(pipefd[0]);
        child(sfd, dupfd, pipefd[1]);
    }
    close(pipefd[1]);
    char c;
    NEED("the child is waiting", read(pipefd[0], &c, 1) == 1);
    kill(pid, SIGUSR1);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_EQ("the child passed", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);

    CHECK_EQ("ours is still readable by poll", readable(sfd), 1);
    struct epoll_event got;
    CHECK_EQ("and by the epoll made before the fork", epoll_wait(ep, &got, 1, 0), 1);
    CHECK_EQ("its data word", got.data.u64, 9);
    struct signalfd_siginfo si;
    CHECK_EQ("read it", read(dupfd, &si, sizeof si), (int)sizeof si);
    CHECK_EQ("SIGUSR1 from ourselves", si.ssi_signo == SIGUSR1 && si.ssi_pid == (uint32_t)getpid(), 1);
    CHECK_EQ("not readable now", readable(sfd), 0);
    CHECK_EQ("the epoll agrees", epoll_wait(ep, &got, 1, 0), 0);
    return check_finish();
}
