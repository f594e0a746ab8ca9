/*
 * epoll_fork — an epoll descriptor and its registrations survive fork: the child waits on the
 * parent's epoll for data the parent writes after the fork, gets the registered data word,
 * modifies the inherited registration (and cannot add it twice), and registers a descriptor of
 * its own; the parent then sees the child's registration and deletes the one the child
 * modified (one epoll shared by both).
 */
#include "check.h"
#include <sys/epoll.h>
#include <sys/wait.h>

int main(void)
{
    int data[2], back[2];
    REQUIRE("pipes", pipe(data) == 0 && pipe(back) == 0);
    int ep = epoll_create1(0);
    REQUIRE("epoll", ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
    REQUIRE("add", epoll_ctl(ep, EPOLL_CTL_ADD, data[0], &ev) == 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        struct epoll_event evs[2];
        int n = epoll_wait(ep, evs, 2, -1);
        int ok = n == 1 && evs[0].data.u64 == 0x1122334455667788ULL && evs[0].events == EPOLLIN;
        char c;
        ok = ok && read(data[0], &c, 1) == 1 && c == 'p';
        /* The parent's registration is the child's too: modified, and not added twice. */
        struct epoll_event mod = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x99};
        ok = ok && epoll_ctl(ep, EPOLL_CTL_MOD, data[0], &mod) == 0;
        ok = ok && epoll_ctl(ep, EPOLL_CTL_ADD, data[0], &mod) == -1 && errno == EEXIST;
        int p2[2];
        ok = ok && pipe(p2) == 0 && write(p2[1], "q", 1) == 1;
        struct epoll_event mine = {.events = EPOLLIN, .data.u64 = 42};
        ok = ok && epoll_ctl(ep, EPOLL_CTL_ADD, p2[0], &mine) == 0;
        ok = ok && epoll_wait(ep, evs, 2, 0) == 1 && evs[0].data.u64 == 42;
        /* Tell the parent, and keep p2 open until it has looked. */
        char r = ok ? 'y' : 'n';
        if (write(back[1], &r, 1) != 1)
            _exit(3);
        if (read(data[0], &c, 1) != 1)
            _exit(4);
        _exit(ok ? 0 : 1);
    }
    NEED("write", write(data[1], "p", 1) == 1);
    char r = 0;
    NEED("child report", read(back[0], &r, 1) == 1);
    CHECK_EQ("child waited on the inherited epoll", r, 'y');
    struct epoll_event evs[2];
    int n = epoll_wait(ep, evs, 2, 0);
    CHECK_EQ("parent sees the child's registration", n, 1);
    CHECK_EQ("with the child's data", n == 1 ? (long long)evs[0].data.u64 : -1, 42);
    NEED("release", write(data[1], "z", 1) == 1);
    int status = 0;
    NEED("wait", waitpid(pid, &status, 0) == pid);
    check("child exit 0", WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    CHECK_OK("parent deletes what the child modified", epoll_ctl(ep, EPOLL_CTL_DEL, data[0], NULL));
    /* Once the child is gone its pipe is closed and its registration with it. */
    CHECK_EQ("registration gone with the child", epoll_wait(ep, evs, 2, 0), 0);
    return check_finish();
}
