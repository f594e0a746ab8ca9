/*
 * epoll_rdhup — EPOLLRDHUP on a stream socket pair: reported with EPOLLIN once the peer shuts
 * down its writing, and not before; an edge-triggered registration reports it once.
 */
#include "check.h"
#include <sys/epoll.h>
#include <sys/socket.h>

int main(void)
{
    int sv[2];
    REQUIRE("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int ep = epoll_create1(0);
    REQUIRE("epoll", ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u64 = 3}, evs[2];
    CHECK_OK("add socket", epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev));
    CHECK_EQ("socket quiet", epoll_wait(ep, evs, 2, 0), 0);
    shutdown(sv[1], SHUT_WR);
    CHECK_EQ("peer shut down", epoll_wait(ep, evs, 2, 0), 1);
    CHECK_EQ("EPOLLIN|EPOLLRDHUP", evs[0].events, EPOLLIN | EPOLLRDHUP);
    CHECK_EQ("data", evs[0].data.u64, 3);
    CHECK_EQ("edge reported once", epoll_wait(ep, evs, 2, 0), 0);
    return check_finish();
}
