/*
 * shutdown_poll — what poll and epoll report as each side of a stream connection shuts down,
 * for a TCP connection on IPv4 loopback and an AF_UNIX stream pair: the peer's SHUT_WR is
 * POLLIN|POLLRDHUP (and end of file) without POLLHUP, both directions down is POLLHUP (reported
 * by epoll even when not asked for), a local SHUT_RD reads end of file at once; on AF_UNIX the
 * peer of a SHUT_RD gets EPIPE.
 */
#include "check.h"
#include "loopback.h"
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* A connected TCP pair on loopback: *x the client, *y the accepted end. */
static int tcp_pair(int *x, int *y)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *x = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*x, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    *y = accept(s, NULL, NULL);
    close(s);
    return *y >= 0 ? 0 : -1;
}

#define WATCH (POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR)

/* Waits until every bit of `want` is reported, then returns the bits of WATCH reported. */
static int wait_for(int fd, short want)
{
    struct pollfd p = {.fd = fd, .events = want};
    if (poll(&p, 1, -1) != 1)
        return -1;
    p.events = WATCH;
    p.revents = 0;
    if (poll(&p, 1, 0) != 1)
        return -1;
    return p.revents & WATCH;
}

static void family(const char *fam, int x, int y, int is_unix)
{
    char name[96], buf[8];
#define LABEL(text) (snprintf(name, sizeof name, "%s %s", fam, text), name)
    struct pollfd p = {.fd = y, .events = WATCH};
    CHECK_EQ(LABEL("connected: writable only"), (poll(&p, 1, 0), p.revents), POLLOUT);

    CHECK_OK(LABEL("x SHUT_WR"), shutdown(x, SHUT_WR));
    CHECK_EQ(LABEL("y sees POLLIN|POLLRDHUP, not POLLHUP"), wait_for(y, POLLRDHUP),
             POLLIN | POLLOUT | POLLRDHUP);
    CHECK_EQ(LABEL("y reads end of file"), recv(y, buf, sizeof buf, 0), 0);
    p.fd = x;
    p.revents = 0;
    CHECK_EQ(LABEL("x after its own SHUT_WR"), (poll(&p, 1, 0), p.revents), POLLOUT);
    CHECK_EQ(LABEL("y still sends"), send(y, "z", 1, 0), 1);
    CHECK_EQ(LABEL("x reads it"), wait_for(x, POLLIN), POLLIN | POLLOUT);
    CHECK_EQ(LABEL("x receives"), recv(x, buf, sizeof buf, 0), 1);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = 0, .data.u64 = 42}, out;
    CHECK_OK(LABEL("epoll watches x for nothing"), epoll_ctl(ep, EPOLL_CTL_ADD, x, &ev));
    CHECK_EQ(LABEL("nothing to report"), epoll_wait(ep, &out, 1, 0), 0);
    CHECK_OK(LABEL("y SHUT_WR"), shutdown(y, SHUT_WR));
    CHECK_EQ(LABEL("x: both directions down is POLLHUP"), wait_for(x, POLLHUP) & (POLLHUP | POLLIN | POLLRDHUP),
             POLLHUP | POLLIN | POLLRDHUP);
    CHECK_EQ(LABEL("epoll reports EPOLLHUP unasked"), epoll_wait(ep, &out, 1, -1), 1);
    CHECK_EQ(LABEL("only EPOLLHUP"), out.events, EPOLLHUP);
    CHECK_EQ(LABEL("with its data"), out.data.u64, 42);
    close(ep);
    CHECK_EQ(LABEL("y: both directions down"), wait_for(y, POLLHUP) & POLLHUP, POLLHUP);
    close(x);
    close(y);
    (void)is_unix;
#undef LABEL
}

int main(void)
{
    loopback_up();
    int x, y;
    REQUIRE("tcp pair", tcp_pair(&x, &y) == 0);
    family("tcp", x, y, 0);
    int sv[2];
    REQUIRE("unix pair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    family("unix", sv[0], sv[1], 1);

    /* A local SHUT_RD. */
    REQUIRE("tcp pair again", tcp_pair(&x, &y) == 0);
    char buf[8];
    CHECK_OK("tcp SHUT_RD", shutdown(x, SHUT_RD));
    CHECK_EQ("tcp: readable at once with POLLRDHUP", wait_for(x, POLLIN) & (POLLIN | POLLRDHUP | POLLHUP),
             POLLIN | POLLRDHUP);
    CHECK_EQ("tcp: reads end of file", recv(x, buf, sizeof buf, 0), 0);
    CHECK_EQ("tcp: x still sends", send(x, "s", 1, 0), 1);
    CHECK_EQ("tcp: y receives", recv(y, buf, sizeof buf, 0), 1);
    close(x);
    close(y);

    REQUIRE("unix pair again", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_OK("unix SHUT_RD", shutdown(sv[0], SHUT_RD));
    CHECK_EQ("unix: readable at once with POLLRDHUP",
             wait_for(sv[0], POLLIN) & (POLLIN | POLLRDHUP | POLLHUP), POLLIN | POLLRDHUP);
    CHECK_EQ("unix: reads end of file", recv(sv[0], buf, sizeof buf, 0), 0);
    CHECK_ERR("unix: the peer's send is EPIPE", send(sv[1], "s", 1, MSG_NOSIGNAL), EPIPE);
    CHECK_EQ("unix: the other direction works", send(sv[0], "t", 1, 0), 1);
    CHECK_EQ("unix: the peer receives", recv(sv[1], buf, sizeof buf, 0), 1);
    CHECK_OK("unix SHUT_RDWR", shutdown(sv[0], SHUT_RDWR));
    CHECK_EQ("unix: the peer is told POLLHUP", wait_for(sv[1], POLLHUP) & (POLLHUP | POLLIN | POLLRDHUP),
             POLLHUP | POLLIN | POLLRDHUP);
    close(sv[0]);
    close(sv[1]);
    return check_finish();
}
