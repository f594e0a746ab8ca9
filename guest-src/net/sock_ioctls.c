/*
 * sock_ioctls — FIONREAD on each kind of socket (a stream's or seqpacket socket's whole queue,
 * a datagram socket's next datagram only, EINVAL on a TCP listener) and FIONBIO switching a
 * socket to non-blocking and back, as fcntl sees it. No port is printed.
 */
#include "check.h"
#include "loopback.h"
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int queued(int fd)
{
    int n = -1;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -100 - errno;
}

static void readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

int main(void)
{
    loopback_up();
    int sv[2];
    char buf[64];
    REQUIRE("stream pair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_EQ("unix stream: nothing", queued(sv[1]), 0);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defgh", 5, 0);
    CHECK_EQ("unix stream: the whole queue", queued(sv[1]), 8);
    recv(sv[1], buf, 2, 0);
    CHECK_EQ("unix stream: less what was read", queued(sv[1]), 6);
    close(sv[0]);
    close(sv[1]);

    REQUIRE("datagram pair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defgh", 5, 0);
    CHECK_EQ("unix datagram: the next datagram only", queued(sv[1]), 3);
    recv(sv[1], buf, sizeof buf, 0);
    CHECK_EQ("unix datagram: then the second", queued(sv[1]), 5);
    close(sv[0]);
    close(sv[1]);

    REQUIRE("seqpacket pair", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    send(sv[0], "abcd", 4, 0);
    send(sv[0], "ef", 2, 0);
    CHECK_EQ("unix seqpacket: the whole queue, as a stream", queued(sv[1]), 6);

    /* FIONBIO. */
    int on = 1, off = 0;
    CHECK_OK("FIONBIO on", ioctl(sv[1], FIONBIO, &on));
    CHECK_EQ("fcntl sees O_NONBLOCK", fcntl(sv[1], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    recv(sv[1], buf, sizeof buf, 0);
    recv(sv[1], buf, sizeof buf, 0);
    CHECK_ERR("an empty read: EAGAIN", recv(sv[1], buf, sizeof buf, 0), EAGAIN);
    CHECK_OK("FIONBIO off", ioctl(sv[1], FIONBIO, &off));
    CHECK_EQ("fcntl sees it cleared", fcntl(sv[1], F_GETFL) & O_NONBLOCK, 0);
    close(sv[0]);
    close(sv[1]);

    /* UDP: the next datagram's size. */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE("udp bind", bind(u, (struct sockaddr *)&a, sizeof a) == 0 &&
                            getsockname(u, (struct sockaddr *)&a, &len) == 0);
    CHECK_EQ("udp: nothing", queued(u), 0);
    sendto(v, "0123456", 7, 0, (struct sockaddr *)&a, sizeof a);
    readable(u);
    sendto(v, "xy", 2, 0, (struct sockaddr *)&a, sizeof a);
    CHECK_EQ("udp: the first datagram's size", queued(u), 7);
    recv(u, buf, sizeof buf, 0);
    readable(u);
    CHECK_EQ("udp: then the second's", queued(u), 2);
    close(u);
    close(v);

    /* TCP: the bytes queued; a listener has none to count. */
    a.sin_port = 0;
    len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE("tcp listen", bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0 &&
                              getsockname(s, (struct sockaddr *)&a, &len) == 0);
    CHECK_EQ("tcp listener: EINVAL", queued(s), -100 - EINVAL);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE("tcp connect", connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    int acc = accept(s, NULL, NULL);
    send(c, "hello, world", 12, 0);
    readable(acc);
    CHECK_EQ("tcp: the bytes queued", queued(acc), 12);
    recv(acc, buf, 5, 0);
    CHECK_EQ("tcp: less what was read", queued(acc), 7);
    close(acc);
    close(c);
    close(s);
    return check_finish();
}
