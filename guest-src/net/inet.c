/*
 * inet — TCP and UDP on IPv4 and IPv6 loopback: a server on an ephemeral port (never printed)
 * with its client across fork and across threads, a non-blocking connect completed through
 * poll and epoll with SO_ERROR, ECONNREFUSED, EADDRINUSE, ENOTCONN, and socket option round
 * trips (SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER,
 * SO_RCVTIMEO, TCP_NODELAY, TCP_KEEPIDLE/INTVL/CNT, IP_TTL, IP_TOS, IPV6_V6ONLY, an unknown
 * option), and the argument errors of the socket calls.
 */
#include "check.h"
#include "loopback.h"
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* An address no guest maps, hidden from the compiler's bounds checks. */
static void *volatile bad = (void *)8;

static socklen_t loopback(int family, struct sockaddr_storage *ss, unsigned short port)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = port;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = port;
    a->sin6_addr = in6addr_loopback;
    return sizeof *a;
}

static unsigned short port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                   : ((struct sockaddr_in6 *)&ss)->sin6_port;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct client {
    int family;
    unsigned short port;
    int result;
};

/* Connects, sends "ping", expects "PONG". Returns 0 on success. */
static int tcp_client(int family, unsigned short port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(family, &ss, port);
    int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0)
        return 1;
    if (connect(c, (struct sockaddr *)&ss, len) != 0)
        return 2;
    if (send(c, "ping", 4, 0) != 4)
        return 3;
    char buf[8];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = recv(c, buf + got, sizeof buf - got, 0);
        if (n <= 0)
            return 4;
        got += (size_t)n;
    }
    close(c);
    return memcmp(buf, "PONG", 4) == 0 ? 0 : 5;
}

static void *client_thread(void *arg)
{
    struct client *c = arg;
    c->result = tcp_client(c->family, c->port);
    return NULL;
}

static int serve_one(int s)
{
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    int c = accept4(s, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
    if (c < 0)
        return 0;
    int ok = (fcntl(c, F_GETFD) & FD_CLOEXEC) != 0;
    ok &= peer.ss_family == (pl == sizeof(struct sockaddr_in) ? AF_INET : AF_INET6);
    char buf[8];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = recv(c, buf + got, sizeof buf - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    ok &= got == 4 && memcmp(buf, "ping", 4) == 0;
    ok &= send(c, "PONG", 4, 0) == 4;
    close(c);
    return ok;
}

static void tcp(int family, const char *fam)
{
    char name[96];
    int s = socket(family, SOCK_STREAM, 0);
    snprintf(name, sizeof name, "%s tcp socket", fam);
    REQUIRE(name, s >= 0);
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_storage ss;
    socklen_t len = loopback(family, &ss, 0);
    snprintf(name, sizeof name, "%s bind port 0", fam);
    CHECK_OK(name, bind(s, (struct sockaddr *)&ss, len));
    snprintf(name, sizeof name, "%s listen", fam);
    CHECK_OK(name, listen(s, 8));
    unsigned short port = port_of(s);
    snprintf(name, sizeof name, "%s a port was chosen", fam);
    check(name, port != 0, "zero");

    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(tcp_client(family, port));
    int served = serve_one(s);
    snprintf(name, sizeof name, "%s client across fork", fam);
    CHECK_EQ(name, wait_child(pid), 0);
    snprintf(name, sizeof name, "%s served it", fam);
    CHECK_EQ(name, served, 1);

    struct client cl = {family, port, -1};
    pthread_t t;
    pthread_create(&t, NULL, client_thread, &cl);
    served = serve_one(s);
    pthread_join(t, NULL);
    snprintf(name, sizeof name, "%s client in a thread", fam);
    CHECK_EQ(name, cl.result, 0);
    snprintf(name, sizeof name, "%s served the thread", fam);
    CHECK_EQ(name, served, 1);

    int dup = socket(family, SOCK_STREAM, 0);
    loopback(family, &ss, port);
    snprintf(name, sizeof name, "%s EADDRINUSE", fam);
    CHECK_ERR(name, bind(dup, (struct sockaddr *)&ss, len), EADDRINUSE);
    close(dup);

    /* Non-blocking connect: EINPROGRESS or at once, then writable with SO_ERROR 0. */
    int c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c, (struct sockaddr *)&ss, len);
    snprintf(name, sizeof name, "%s non-blocking connect", fam);
    check(name, r == 0 || errno == EINPROGRESS, "errno %s", errname(errno));
    struct pollfd p = {.fd = c, .events = POLLOUT};
    snprintf(name, sizeof name, "%s poll says writable", fam);
    CHECK_EQ(name, poll(&p, 1, 5000), 1);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 9}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    snprintf(name, sizeof name, "%s epoll says writable", fam);
    CHECK_EQ(name, epoll_wait(ep, &out, 1, 5000), 1);
    close(ep);
    int err = -1;
    socklen_t el = sizeof err;
    snprintf(name, sizeof name, "%s SO_ERROR after connect", fam);
    CHECK_OK(name, getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
    CHECK_EQ(name, err, 0);
    int a = accept(s, NULL, NULL);
    snprintf(name, sizeof name, "%s accepted without an address", fam);
    CHECK_OK(name, a);
    close(a);
    close(c);
    close(s);

    /* Nobody listens now: refused, blocking and not. */
    c = socket(family, SOCK_STREAM, 0);
    snprintf(name, sizeof name, "%s ECONNREFUSED", fam);
    CHECK_ERR(name, connect(c, (struct sockaddr *)&ss, len), ECONNREFUSED);
    close(c);
    c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(c, (struct sockaddr *)&ss, len);
    if (r != 0 && errno == EINPROGRESS) {
        p.revents = 0;
        poll(&p, 1, 5000);
    }
    el = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
    snprintf(name, sizeof name, "%s SO_ERROR ECONNREFUSED", fam);
    check(name, (r != 0 && errno == ECONNREFUSED) || err == ECONNREFUSED, "err %s",
          errname(err));
    close(c);
}

static void udp(int family, const char *fam)
{
    char name[96];
    int s = socket(family, SOCK_DGRAM, 0), c = socket(family, SOCK_DGRAM, 0);
    struct sockaddr_storage ss, from;
    socklen_t len = loopback(family, &ss, 0);
    snprintf(name, sizeof name, "%s udp bind", fam);
    CHECK_OK(name, bind(s, (struct sockaddr *)&ss, len));
    loopback(family, &ss, port_of(s));
    pid_t pid = fork_or_die();
    if (pid == 0) {
        if (sendto(c, "datagram", 8, 0, (struct sockaddr *)&ss, len) != 8)
            _exit(1);
        char buf[16];
        if (recv(c, buf, sizeof buf, 0) != 5 || memcmp(buf, "reply", 5) != 0)
            _exit(2);
        _exit(0);
    }
    char buf[16];
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    ssize_t m = sendto(s, "reply", 5, 0, (struct sockaddr *)&from, fl);
    snprintf(name, sizeof name, "%s udp across fork", fam);
    CHECK_EQ(name, wait_child(pid), 0);
    snprintf(name, sizeof name, "%s udp datagram", fam);
    check(name, n == 8 && memcmp(buf, "datagram", 8) == 0 && m == 5, "n %zd m %zd", n, m);
    snprintf(name, sizeof name, "%s sender's address length", fam);
    CHECK_EQ(name, fl, len);
    snprintf(name, sizeof name, "%s sender's port", fam);
    CHECK_EQ(name, ((struct sockaddr_in *)&from)->sin_port, port_of(c));

    /* sendmmsg/recvmmsg: two datagrams at once, MSG_WAITFORONE. */
    struct iovec iov[2] = {{"one", 3}, {"two!", 4}};
    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 2; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &ss;
        mm[i].msg_hdr.msg_namelen = len;
    }
    snprintf(name, sizeof name, "%s sendmmsg", fam);
    CHECK_EQ(name, sendmmsg(c, mm, 2, 0), 2);
    CHECK_EQ(name, mm[1].msg_len, 4);
    char b1[8], b2[8];
    struct iovec riov[2] = {{b1, 8}, {b2, 8}};
    struct mmsghdr rm[2];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 2; i++) {
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    int got = 0;
    while (got < 2) {
        int k = recvmmsg(s, rm + got, 2 - got, MSG_WAITFORONE, NULL);
        if (k <= 0)
            break;
        got += k;
    }
    snprintf(name, sizeof name, "%s recvmmsg", fam);
    check(name, got == 2 && rm[0].msg_len == 3 && rm[1].msg_len == 4 &&
                    memcmp(b1, "one", 3) == 0 && memcmp(b2, "two!", 4) == 0, "got %d", got);
    snprintf(name, sizeof name, "%s MSG_DONTWAIT on an empty socket", fam);
    CHECK_ERR(name, recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    close(s);
    close(c);
}

static void options(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), v;
    socklen_t l = sizeof v;
#define GET(level, opt, label, want)                                                           \
    do {                                                                                       \
        l = sizeof v;                                                                          \
        v = -1;                                                                                \
        int r_ = getsockopt(s, level, opt, &v, &l);                                            \
        check(label, r_ == 0 && v == (want) && l == sizeof v, "r %d v %d l %u", r_, v,         \
              (unsigned)l);                                                                    \
    } while (0)
#define SET(level, opt, val, label)                                                            \
    do {                                                                                       \
        int x_ = (val);                                                                        \
        CHECK_OK(label, setsockopt(s, level, opt, &x_, sizeof x_));                            \
    } while (0)
    GET(SOL_SOCKET, SO_TYPE, "SO_TYPE", SOCK_STREAM);
    GET(SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN", AF_INET);
    GET(SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL", IPPROTO_TCP);
    GET(SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN before listen", 0);
    GET(SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR off", 0);
    SET(SOL_SOCKET, SO_REUSEADDR, 1, "set SO_REUSEADDR");
    GET(SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR on", 1);
    SET(SOL_SOCKET, SO_REUSEPORT, 1, "set SO_REUSEPORT");
    GET(SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT on", 1);
    SET(SOL_SOCKET, SO_KEEPALIVE, 1, "set SO_KEEPALIVE");
    GET(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE on", 1);
    SET(IPPROTO_TCP, TCP_NODELAY, 1, "set TCP_NODELAY");
    GET(IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY on", 1);
    SET(IPPROTO_TCP, TCP_KEEPIDLE, 77, "set TCP_KEEPIDLE");
    GET(IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 77);
    SET(IPPROTO_TCP, TCP_KEEPINTVL, 13, "set TCP_KEEPINTVL");
    GET(IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 13);
    SET(IPPROTO_TCP, TCP_KEEPCNT, 4, "set TCP_KEEPCNT");
    GET(IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 4);
    SET(IPPROTO_IP, IP_TTL, 33, "set IP_TTL");
    GET(IPPROTO_IP, IP_TTL, "IP_TTL", 33);
    SET(IPPROTO_IP, IP_TOS, 0x10, "set IP_TOS");
    GET(IPPROTO_IP, IP_TOS, "IP_TOS", 0x10);
    SET(SOL_SOCKET, SO_SNDBUF, 65536, "set SO_SNDBUF");
    l = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l);
    CHECK_EQ("SO_SNDBUF doubled", v, 131072);
    struct linger lg = {1, 7}, lg2;
    CHECK_OK("set SO_LINGER", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    l = sizeof lg2;
    CHECK_OK("get SO_LINGER", getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &l));
    check("SO_LINGER round trip", l == sizeof lg2 && lg2.l_onoff == 1 && lg2.l_linger == 7,
          "mismatch");
    struct timeval tv = {3, 500000}, tv2;
    CHECK_OK("set SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    l = sizeof tv2;
    CHECK_OK("get SO_RCVTIMEO", getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv2, &l));
    check("SO_RCVTIMEO round trip", l == sizeof tv2 && tv2.tv_sec == 3 && tv2.tv_usec == 500000,
          "mismatch");
    CHECK_ERR("SO_RCVTIMEO too short", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 8), EINVAL);
    CHECK_ERR("int option too short", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 2), EINVAL);
    CHECK_ERR("negative length", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, -1), EINVAL);
    CHECK_ERR("unknown option", setsockopt(s, SOL_SOCKET, 0x7777, &v, sizeof v), ENOPROTOOPT);
    CHECK_ERR("value unreadable", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, bad, 4), EFAULT);
    l = sizeof v;
    CHECK_ERR("get into nothing", getsockopt(s, SOL_SOCKET, SO_TYPE, bad, &l), EFAULT);
    CHECK_ERR("length unreadable", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, bad), EFAULT);
    close(s);

    s = socket(AF_INET6, SOCK_DGRAM, 0);
    SET(IPPROTO_IPV6, IPV6_V6ONLY, 1, "set IPV6_V6ONLY");
    GET(IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", 1);
    GET(SOL_SOCKET, SO_TYPE, "SO_TYPE datagram", SOCK_DGRAM);
    GET(SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN inet6", AF_INET6);
    SET(SOL_SOCKET, SO_BROADCAST, 1, "set SO_BROADCAST");
    GET(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", 1);
    close(s);
}

static void errors(void)
{
    int f = open(".", O_RDONLY), v = 1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    CHECK_ERR("socket bad family", socket(4242, SOCK_STREAM, 0), EAFNOSUPPORT);
    CHECK_ERR("socket bad flags", socket(AF_INET, SOCK_STREAM | 0x100000, 0), EINVAL);
    CHECK_ERR("socket bad protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    CHECK_ERR("bind EBADF", bind(999, (struct sockaddr *)&a, sizeof a), EBADF);
    CHECK_ERR("bind ENOTSOCK", bind(f, (struct sockaddr *)&a, sizeof a), ENOTSOCK);
    CHECK_ERR("listen ENOTSOCK", listen(f, 1), ENOTSOCK);
    CHECK_ERR("setsockopt ENOTSOCK", setsockopt(f, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v),
              ENOTSOCK);
    CHECK_ERR("send ENOTSOCK", send(f, "x", 1, 0), ENOTSOCK);
    /* The descriptor is looked at before any other argument. */
    CHECK_ERR("bind ENOTSOCK before EFAULT", bind(f, (struct sockaddr *)8, sizeof a), ENOTSOCK);
    CHECK_ERR("bind ENOTSOCK before EINVAL", bind(f, (struct sockaddr *)&a, 1), ENOTSOCK);
    CHECK_ERR("shutdown ENOTSOCK before EINVAL", shutdown(f, 7), ENOTSOCK);
    CHECK_ERR("getsockopt ENOTSOCK before ENOPROTOOPT",
              getsockopt(f, SOL_SOCKET, 9999, &v, &(socklen_t){sizeof v}), ENOTSOCK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_ERR("bind short inet address", bind(s, (struct sockaddr *)&a, 8), EINVAL);
    CHECK_ERR("accept unlistened", accept(s, NULL, NULL), EINVAL);
    CHECK_ERR("accept4 bad flags", accept4(s, NULL, NULL, 0x1), EINVAL);
    CHECK_ERR("send unconnected", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
    char b;
    CHECK_ERR("recv unconnected", recv(s, &b, 1, 0), ENOTCONN);
    CHECK_ERR("shutdown unconnected", shutdown(s, SHUT_RDWR), ENOTCONN);
    CHECK_ERR("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}), EOPNOTSUPP);
    int sv[2];
    CHECK_ERR("socketpair unwritable", socketpair(AF_UNIX, SOCK_STREAM, 0, bad), EFAULT);
    CHECK_OK("socketpair after", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_EQ("no descriptor leaked", sv[0], s + 1);
    struct msghdr mh = {0};
    CHECK_ERR("sendmsg header unreadable", syscall(SYS_sendmsg, sv[0], bad, 0), EFAULT);
    mh.msg_iovlen = 1025;
    CHECK_ERR("sendmsg too many iovecs", sendmsg(sv[0], &mh, 0), EMSGSIZE);
    close(sv[0]);
    close(sv[1]);
    close(s);
    close(f);
}

int main(void)
{
    loopback_up();
    tcp(AF_INET, "ipv4");
    tcp(AF_INET6, "ipv6");
    udp(AF_INET, "ipv4");
    udp(AF_INET6, "ipv6");
    options();
    errors();
    return check_finish();
}
