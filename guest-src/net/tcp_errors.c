/*
 * tcp_errors — the errors of TCP sockets on IPv4 loopback that a working connection meets:
 * EISCONN for a second connect, EPIPE after SHUT_WR with SIGPIPE and with MSG_NOSIGNAL (the
 * other direction still works), ECONNRESET from a peer closing with a zero linger, EAGAIN from
 * a non-blocking accept, EOPNOTSUPP for listen on UDP, EAFNOSUPPORT for an address of the wrong
 * family, EPROTONOSUPPORT for a protocol the family does not have.
 */
#include "check.h"
#include "loopback.h"
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static volatile sig_atomic_t pipes;
static void on_pipe(int sig)
{
    (void)sig;
    pipes++;
}

/* A listening socket on 127.0.0.1 and a port the kernel picks, its address in *a. */
static int listener(struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *a;
    if (s < 0 || bind(s, (struct sockaddr *)a, sizeof *a) != 0 || listen(s, 4) != 0 ||
        getsockname(s, (struct sockaddr *)a, &len) != 0)
        return -1;
    return s;
}

int main(void)
{
    loopback_up();
    struct sockaddr_in sa;
    int s = listener(&sa);
    REQUIRE("listen", s >= 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE("connect", connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
    int a = accept(s, NULL, NULL);
    REQUIRE("accept", a >= 0);
    char buf[16];

    CHECK_ERR("connect again: EISCONN", connect(c, (struct sockaddr *)&sa, sizeof sa), EISCONN);
    CHECK_ERR("connect a listener: EISCONN", connect(s, (struct sockaddr *)&sa, sizeof sa), EISCONN);
    CHECK_ERR("send on a listener: EPIPE", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);

    /* SHUT_WR: our sends fail with EPIPE, the peer reads end of file and can still talk. */
    signal(SIGPIPE, on_pipe);
    CHECK_OK("shutdown SHUT_WR", shutdown(c, SHUT_WR));
    CHECK_ERR("send after SHUT_WR", send(c, "x", 1, 0), EPIPE);
    CHECK_EQ("SIGPIPE", pipes, 1);
    CHECK_ERR("send with MSG_NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
    CHECK_EQ("no SIGPIPE", pipes, 1);
    CHECK_ERR("write after SHUT_WR", write(c, "x", 1), EPIPE);
    CHECK_EQ("SIGPIPE from write", pipes, 2);
    CHECK_EQ("the peer reads end of file", recv(a, buf, sizeof buf, 0), 0);
    CHECK_EQ("the peer still sends", send(a, "back", 4, 0), 4);
    CHECK_EQ("we still receive", recv(c, buf, 4, MSG_WAITALL), 4);
    CHECK_MEM("its bytes", buf, "back", 4);
    signal(SIGPIPE, SIG_DFL);

    /* A zero linger makes close send a reset. */
    struct linger lg = {1, 0};
    CHECK_OK("SO_LINGER zero", setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    close(a);
    CHECK_ERR("the reset: ECONNRESET", recv(c, buf, sizeof buf, 0), ECONNRESET);
    CHECK_EQ("then end of file", recv(c, buf, sizeof buf, 0), 0);
    close(c);

    /* Non-blocking accept with nothing pending. */
    int fl = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, fl | O_NONBLOCK);
    CHECK_ERR("non-blocking accept: EAGAIN", accept(s, NULL, NULL), EAGAIN);
    close(s);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_ERR("listen on UDP: EOPNOTSUPP", listen(u, 1), EOPNOTSUPP);
    CHECK_ERR("accept on UDP: EOPNOTSUPP", accept(u, NULL, NULL), EOPNOTSUPP);
    close(u);

    struct sockaddr_in6 six = {.sin6_family = AF_INET6};
    int t = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    check("bind an inet6 address: EAFNOSUPPORT",
          bind(t, (struct sockaddr *)&six, sizeof six) == -1 && errno == EAFNOSUPPORT, "errno %d",
          errno);
    six.sin6_port = sa.sin_port;
    errno = 0;
    check("connect to an inet6 address: EAFNOSUPPORT",
          connect(t, (struct sockaddr *)&six, sizeof six) == -1 && errno == EAFNOSUPPORT,
          "errno %d", errno);
    close(t);
    errno = 0;
    check("datagram socket with TCP: EPROTONOSUPPORT",
          socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP) == -1 && errno == EPROTONOSUPPORT, "errno %d",
          errno);
    errno = 0;
    check("unix socket with protocol 2: EPROTONOSUPPORT",
          socket(AF_UNIX, SOCK_STREAM, 2) == -1 && errno == EPROTONOSUPPORT, "errno %d", errno);
    errno = 0;
    check("inet6 datagram with TCP: EPROTONOSUPPORT",
          socket(AF_INET6, SOCK_DGRAM, IPPROTO_TCP) == -1 && errno == EPROTONOSUPPORT, "errno %d",
          errno);
    return check_finish();
}
