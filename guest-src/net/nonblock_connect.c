/*
 * nonblock_connect — non-blocking connects and what epoll says about them: TCP refused on
 * loopback (EINPROGRESS then EPOLLERR|EPOLLHUP and SO_ERROR ECONNREFUSED, read once, or refused
 * at once), TCP accepted (an edge-triggered EPOLLOUT once, the listener's EPOLLIN while the
 * connection waits for accept), and AF_UNIX stream (connected at once while the backlog has
 * room, EAGAIN once it is full). No port is printed.
 */
#include "check.h"
#include "loopback.h"
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static int wait_one(int ep, struct epoll_event *ev)
{
    int n;
    while ((n = epoll_wait(ep, ev, 1, -1)) < 0 && errno == EINTR)
        ;
    return n;
}

int main(void)
{
    loopback_up();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int gone = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE("pick a port", bind(gone, (struct sockaddr *)&a, sizeof a) == 0 &&
                               getsockname(gone, (struct sockaddr *)&a, &len) == 0);
    close(gone);

    /* Refused. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 1}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    int e = errno, err = -1, n = 0;
    socklen_t el = sizeof err;
    if (r == -1 && e == EINPROGRESS) {
        n = wait_one(ep, &got);
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
    }
    check("refused: EINPROGRESS then SO_ERROR, or at once",
          r == -1 && (e == ECONNREFUSED || (e == EINPROGRESS && err == ECONNREFUSED)),
          "r %d errno %d so_error %d", r, e, err);
    check("epoll reported EPOLLERR and EPOLLHUP",
          e != EINPROGRESS || (n == 1 && (got.events & (EPOLLERR | EPOLLHUP)) == (EPOLLERR | EPOLLHUP)),
          "n %d events %#x", n, got.events);
    el = sizeof err;
    CHECK_OK("SO_ERROR again", getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
    CHECK_EQ("read once, then 0", err, 0);
    close(c);
    close(ep);

    /* Accepted. */
    a.sin_port = 0;
    len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE("listen", bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 4) == 0 &&
                          getsockname(s, (struct sockaddr *)&a, &len) == 0);
    ep = epoll_create1(0);
    int lep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.u64 = 2;
    epoll_ctl(lep, EPOLL_CTL_ADD, s, &ev);
    CHECK_EQ("the listener is quiet", epoll_wait(lep, &got, 1, 0), 0);
    CHECK_ERR("accept with nothing pending", accept(s, NULL, NULL), EAGAIN);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ev.events = EPOLLOUT | EPOLLET;
    ev.data.u64 = 3;
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    e = errno;
    check("connect: 0 or EINPROGRESS", r == 0 || e == EINPROGRESS, "errno %d", e);
    CHECK_EQ("EPOLLOUT when connected", wait_one(ep, &got), 1);
    CHECK_EQ("only EPOLLOUT", got.events, EPOLLOUT);
    CHECK_EQ("edge-triggered: once", epoll_wait(ep, &got, 1, 0), 0);
    el = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
    CHECK_EQ("SO_ERROR 0", err, 0);
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    CHECK_OK("getpeername", getpeername(c, (struct sockaddr *)&peer, &pl));
    CHECK_EQ("the listener has it pending", wait_one(lep, &got), 1);
    CHECK_EQ("EPOLLIN with its data", got.events == EPOLLIN && got.data.u64 == 2, 1);
    int acc = accept(s, NULL, NULL);
    CHECK_OK("accept", acc);
    CHECK_EQ("quiet again", epoll_wait(lep, &got, 1, 0), 0);
    close(acc);
    close(c);
    close(s);
    close(ep);
    close(lep);

    /* AF_UNIX: at once, or EAGAIN on a full backlog. */
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    strcpy(u.sun_path, "nb.sock");
    socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 8);
    int us = socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE("unix listen, backlog 1", bind(us, (struct sockaddr *)&u, ul) == 0 && listen(us, 1) == 0);
    int k[4], ok = 0, again = 0;
    for (int i = 0; i < 4; i++) {
        k[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        errno = 0;
        if (connect(k[i], (struct sockaddr *)&u, ul) == 0)
            ok++;
        else if (errno == EAGAIN)
            again++;
    }
    CHECK_EQ("two connect at once (a backlog of 1 holds 2)", ok, 2);
    CHECK_EQ("the rest: EAGAIN", again, 2);
    int a1 = accept(us, NULL, NULL);
    CHECK_OK("accept one", a1);
    CHECK_OK("room again", connect(k[2], (struct sockaddr *)&u, ul));
    for (int i = 0; i < 4; i++)
        close(k[i]);
    close(a1);
    close(us);
    unlink("nb.sock");
    return check_finish();
}
