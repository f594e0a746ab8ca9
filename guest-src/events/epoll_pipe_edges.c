/*
 * epoll_pipe_edges — edge- against level-triggered epoll on a pipe as data is read in part:
 * level-triggered reports EPOLLIN while a byte is left, edge-triggered only when new data
 * arrives (even with old data still unread); the write end's EPOLLOUT, level-triggered while
 * there is room, edge-triggered once when room appears after the pipe was full; EPOLLHUP and
 * EPOLLERR when the other end closes.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/epoll.h>

static int wait0(int ep, struct epoll_event *ev)
{
    return epoll_wait(ep, ev, 1, 0);
}

int main(void)
{
    int p[2];
    REQUIRE("pipe", pipe2(p, O_NONBLOCK) == 0);
    int lt = epoll_create1(0), et = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, got;
    epoll_ctl(lt, EPOLL_CTL_ADD, p[0], &ev);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 2;
    epoll_ctl(et, EPOLL_CTL_ADD, p[0], &ev);
    char buf[64];

    write(p[1], "0123456789", 10);
    CHECK_EQ("LT: data", wait0(lt, &got), 1);
    CHECK_EQ("ET: data", wait0(et, &got), 1);
    CHECK_EQ("read 4 of 10", read(p[0], buf, 4), 4);
    CHECK_EQ("LT: 6 left, still reported", wait0(lt, &got), 1);
    CHECK_EQ("ET: 6 left, nothing new", wait0(et, &got), 0);
    write(p[1], "ab", 2);
    CHECK_EQ("ET: new data with old unread", wait0(et, &got), 1);
    CHECK_EQ("ET: once", wait0(et, &got), 0);
    CHECK_EQ("read the rest", read(p[0], buf, sizeof buf), 8);
    CHECK_EQ("LT: empty, quiet", wait0(lt, &got), 0);
    CHECK_EQ("ET: empty, quiet", wait0(et, &got), 0);

    /* The write end. */
    int wlt = epoll_create1(0), wet = epoll_create1(0);
    ev.events = EPOLLOUT;
    ev.data.u64 = 3;
    epoll_ctl(wlt, EPOLL_CTL_ADD, p[1], &ev);
    ev.events = EPOLLOUT | EPOLLET;
    ev.data.u64 = 4;
    epoll_ctl(wet, EPOLL_CTL_ADD, p[1], &ev);
    CHECK_EQ("LT: room", wait0(wlt, &got), 1);
    CHECK_EQ("LT: room again", wait0(wlt, &got), 1);
    CHECK_EQ("ET: room, once", wait0(wet, &got), 1);
    CHECK_EQ("ET: not again", wait0(wet, &got), 0);
    static char big[4096];
    long total = 0;
    ssize_t n;
    while ((n = write(p[1], big, sizeof big)) > 0)
        total += n;
    CHECK_EQ("filled to EAGAIN", n == -1 && errno == EAGAIN && total > 0, 1);
    CHECK_EQ("LT: full, quiet", wait0(wlt, &got), 0);
    CHECK_EQ("ET: full, quiet", wait0(wet, &got), 0);
    CHECK_EQ("read one page", read(p[0], big, sizeof big), (long)sizeof big);
    CHECK_EQ("LT: room after a page is read", wait0(wlt, &got), 1);
    CHECK_EQ("ET: room appears, once", wait0(wet, &got), 1);
    CHECK_EQ("ET: not again", wait0(wet, &got), 0);

    /* Hang-ups. */
    close(p[1]);
    CHECK_EQ("LT after the writer closed", wait0(lt, &got), 1);
    CHECK_EQ("EPOLLIN|EPOLLHUP with data left", got.events, EPOLLIN | EPOLLHUP);
    while (read(p[0], big, sizeof big) > 0)
        ;
    CHECK_EQ("LT drained", wait0(lt, &got), 1);
    CHECK_EQ("EPOLLHUP alone", got.events, EPOLLHUP);
    int q[2];
    REQUIRE("second pipe", pipe(q) == 0);
    int wep = epoll_create1(0);
    ev.events = EPOLLOUT;
    ev.data.u64 = 5;
    epoll_ctl(wep, EPOLL_CTL_ADD, q[1], &ev);
    close(q[0]);
    CHECK_EQ("the write end after the reader closed", wait0(wep, &got), 1);
    CHECK_EQ("EPOLLOUT|EPOLLERR", got.events, EPOLLOUT | EPOLLERR);
    return check_finish();
}
