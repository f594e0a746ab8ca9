/*
 * udp_modes — UDP on IPv4 loopback: unconnected datagrams from a forked child read with
 * MSG_PEEK, MSG_TRUNC in recv and in msg_flags; a connected socket sends without an address,
 * ignores other senders and gets ECONNREFUSED from a port nobody serves; connect(AF_UNSPEC)
 * dissolves the association; an echo server in a thread. No port is ever printed.
 */
#include "check.h"
#include "loopback.h"
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* A datagram socket bound to 127.0.0.1 on a port the kernel picks; its address in *a. */
static int udp_bound(struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *a;
    if (s < 0 || bind(s, (struct sockaddr *)a, sizeof *a) != 0 ||
        getsockname(s, (struct sockaddr *)a, &len) != 0)
        return -1;
    return s;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct echo {
    int fd;
    int served;
};

/* Echoes three datagrams upper-cased to their senders. */
static void *echo_thread(void *arg)
{
    struct echo *e = arg;
    for (int i = 0; i < 3; i++) {
        char buf[64];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(e->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            break;
        for (ssize_t k = 0; k < n; k++)
            if (buf[k] >= 'a' && buf[k] <= 'z')
                buf[k] -= 32;
        if (sendto(e->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl) != n)
            break;
        e->served++;
    }
    return NULL;
}

int main(void)
{
    loopback_up();
    struct sockaddr_in sa, ca;
    int s = udp_bound(&sa);
    REQUIRE("bind the server", s >= 0);
    char buf[64];

    /* Unconnected datagrams from a forked child. */
    pid_t pid = fork_or_die();
    if (pid == 0) {
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        if (sendto(c, "aaaa", 4, 0, (struct sockaddr *)&sa, sizeof sa) != 4)
            _exit(1);
        if (sendto(c, "bbbbbbbb", 8, 0, (struct sockaddr *)&sa, sizeof sa) != 8)
            _exit(2);
        if (sendto(c, "cccccc", 6, 0, (struct sockaddr *)&sa, sizeof sa) != 6)
            _exit(3);
        _exit(0);
    }
    CHECK_EQ("sender across fork", wait_child(pid), 0);
    CHECK_EQ("peek", recv(s, buf, sizeof buf, MSG_PEEK), 4);
    CHECK_EQ("peek again: the same datagram", recv(s, buf, sizeof buf, MSG_PEEK), 4);
    CHECK_EQ("read it", recv(s, buf, sizeof buf, 0), 4);
    CHECK_MEM("its bytes", buf, "aaaa", 4);
    CHECK_EQ("recv(MSG_TRUNC) gives the real length", recv(s, buf, 2, MSG_TRUNC), 8);
    struct iovec iov = {.iov_base = buf, .iov_len = 3};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_EQ("recvmsg into 3", recvmsg(s, &mh, 0), 3);
    check("MSG_TRUNC in msg_flags", (mh.msg_flags & MSG_TRUNC) != 0, "flags %#x", mh.msg_flags);
    CHECK_ERR("queue empty", recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

    /* A connected socket: no address needed, other senders ignored. */
    int c = udp_bound(&ca);
    REQUIRE("bind the client", c >= 0);
    CHECK_OK("connect", connect(c, (struct sockaddr *)&sa, sizeof sa));
    struct sockaddr_in pa;
    socklen_t pl = sizeof pa;
    CHECK_OK("getpeername", getpeername(c, (struct sockaddr *)&pa, &pl));
    CHECK_EQ("names the server", pa.sin_port == sa.sin_port && pa.sin_addr.s_addr == sa.sin_addr.s_addr, 1);
    CHECK_EQ("send without an address", send(c, "hi", 2, 0), 2);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    CHECK_EQ("server receives", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 2);
    CHECK_EQ("from the client's port", from.sin_port, ca.sin_port);
    struct sockaddr_in xa;
    int x = udp_bound(&xa);
    CHECK_EQ("a stranger sends to the client",
             sendto(x, "stray", 5, 0, (struct sockaddr *)&ca, sizeof ca), 5);
    CHECK_EQ("the server sends to it", sendto(s, "real", 4, 0, (struct sockaddr *)&ca, sizeof ca), 4);
    CHECK_EQ("the client gets the server's", recv(c, buf, sizeof buf, 0), 4);
    CHECK_MEM("not the stranger's", buf, "real", 4);
    CHECK_ERR("and nothing else", recv(c, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    close(x);

    /* connect(AF_UNSPEC) dissolves it. */
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    CHECK_OK("disconnect", connect(c, &unspec, sizeof unspec));
    pl = sizeof pa;
    CHECK_ERR("no peer", getpeername(c, (struct sockaddr *)&pa, &pl), ENOTCONN);
    errno = 0;
    check("send without an address: EDESTADDRREQ", send(c, "x", 1, 0) == -1 && errno == EDESTADDRREQ,
          "errno %s", errname(errno));
    close(c);

    /* Connected to a port nobody serves: the port-unreachable comes back as ECONNREFUSED. */
    struct sockaddr_in gone;
    int g = udp_bound(&gone);
    close(g);
    c = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK("connect to a closed port", connect(c, (struct sockaddr *)&gone, sizeof gone));
    CHECK_EQ("the send itself succeeds", send(c, "x", 1, 0), 1);
    CHECK_ERR("the next recv reports it", recv(c, buf, sizeof buf, 0), ECONNREFUSED);
    int err = -1;
    socklen_t el = sizeof err;
    CHECK_OK("SO_ERROR", getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
    CHECK_EQ("consumed by the recv", err, 0);
    close(c);

    /* An echo server in a thread, a connected client in the main thread. */
    struct echo e = {s, 0};
    pthread_t t;
    REQUIRE("thread", pthread_create(&t, NULL, echo_thread, &e) == 0);
    c = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK("connect to the thread", connect(c, (struct sockaddr *)&sa, sizeof sa));
    static const char *words[] = {"one", "two", "three"}, *upper[] = {"ONE", "TWO", "THREE"};
    int good = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (send(c, words[i], n, 0) == (ssize_t)n && recv(c, buf, sizeof buf, 0) == (ssize_t)n &&
            memcmp(buf, upper[i], n) == 0)
            good++;
    }
    pthread_join(t, NULL);
    CHECK_EQ("three echoes across threads", good, 3);
    CHECK_EQ("the thread served three", e.served, 3);
    close(c);
    close(s);
    return check_finish();
}
