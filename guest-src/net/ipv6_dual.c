/*
 * ipv6_dual — IPV6_V6ONLY on loopback: a dual-stack listener on in6addr_any accepts an IPv4
 * client and names it as a v4-mapped address, and holds the IPv4 port too (EADDRINUSE); with
 * IPV6_V6ONLY it does neither (the IPv4 connect is refused, the IPv4 bind succeeds); the option
 * cannot change once bound (EINVAL); a v6-only datagram socket cannot send to a mapped address.
 * No port is ever printed.
 */
#include "check.h"
#include "loopback.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* An IPv6 socket of `type` with IPV6_V6ONLY set to `only`, bound to in6addr_any. */
static int bound6(int type, int only, unsigned short *port)
{
    int s = socket(AF_INET6, type, 0);
    if (s < 0 || setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only) != 0)
        return -1;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = a.sin6_port;
    return s;
}

static int is_mapped_loopback(const struct in6_addr *a)
{
    static const unsigned char want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    return memcmp(a, want, 16) == 0;
}

int main(void)
{
    loopback_up();
    int v = -1;
    socklen_t l = sizeof v;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK_OK("get IPV6_V6ONLY", getsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l));
    CHECK_EQ("off by default", v, 0);
    close(probe);

    /* Dual stack. */
    unsigned short port;
    int s = bound6(SOCK_STREAM, 0, &port);
    REQUIRE("dual-stack bind", s >= 0);
    CHECK_OK("listen", listen(s, 4));
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = port,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_OK("an IPv4 client connects", connect(c, (struct sockaddr *)&v4, sizeof v4));
    struct sockaddr_in6 peer;
    socklen_t pl = sizeof peer;
    int a = accept(s, (struct sockaddr *)&peer, &pl);
    CHECK_OK("accepted", a);
    CHECK_EQ("the peer is an inet6 address", peer.sin6_family == AF_INET6 && pl == sizeof peer, 1);
    CHECK_EQ("v4-mapped 127.0.0.1", is_mapped_loopback(&peer.sin6_addr), 1);
    struct sockaddr_in6 me;
    socklen_t ml = sizeof me;
    CHECK_OK("getsockname of the accepted", getsockname(a, (struct sockaddr *)&me, &ml));
    CHECK_EQ("ours is v4-mapped too", is_mapped_loopback(&me.sin6_addr) && me.sin6_port == port, 1);
    CHECK_EQ("data flows", send(c, "v4", 2, 0) == 2 && recv(a, (char[4]){0}, 4, 0) == 2, 1);
    close(a);
    close(c);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = port};
    CHECK_ERR("the IPv4 port is taken", bind(t, (struct sockaddr *)&any4, sizeof any4), EADDRINUSE);
    close(t);
    int on = 1;
    CHECK_ERR("V6ONLY cannot change once bound",
              setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on), EINVAL);
    close(s);

    /* IPv6 only. */
    s = bound6(SOCK_STREAM, 1, &port);
    REQUIRE("v6-only bind", s >= 0);
    CHECK_OK("listen v6-only", listen(s, 4));
    v4.sin_port = port;
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_ERR("an IPv4 client is refused", connect(c, (struct sockaddr *)&v4, sizeof v4),
              ECONNREFUSED);
    close(c);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = port, .sin6_addr = in6addr_loopback};
    c = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK_OK("an IPv6 client connects", connect(c, (struct sockaddr *)&v6, sizeof v6));
    pl = sizeof peer;
    a = accept(s, (struct sockaddr *)&peer, &pl);
    CHECK_OK("accepted v6", a);
    CHECK_EQ("the peer is ::1", memcmp(&peer.sin6_addr, &in6addr_loopback, 16), 0);
    close(a);
    close(c);
    t = socket(AF_INET, SOCK_STREAM, 0);
    any4.sin_port = port;
    CHECK_OK("the IPv4 port is free", bind(t, (struct sockaddr *)&any4, sizeof any4));
    close(t);
    close(s);

    /* Datagrams to a mapped address. */
    unsigned short dport;
    int d = bound6(SOCK_DGRAM, 0, &dport);
    int r4 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in r4a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t rl = sizeof r4a;
    bind(r4, (struct sockaddr *)&r4a, sizeof r4a);
    getsockname(r4, (struct sockaddr *)&r4a, &rl);
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = r4a.sin_port};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
    CHECK_EQ("dual-stack datagram to a mapped address",
             sendto(d, "m", 1, 0, (struct sockaddr *)&mapped, sizeof mapped), 1);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    CHECK_EQ("the IPv4 socket receives it", recvfrom(r4, (char[4]){0}, 4, 0, (struct sockaddr *)&from, &fl), 1);
    CHECK_EQ("from an IPv4 address", from.sin_family == AF_INET && fl == sizeof from &&
                                         from.sin_port == dport, 1);
    close(d);
    d = bound6(SOCK_DGRAM, 1, &dport);
    errno = 0;
    check("v6-only datagram to a mapped address: ENETUNREACH",
          sendto(d, "m", 1, 0, (struct sockaddr *)&mapped, sizeof mapped) == -1 && errno == ENETUNREACH,
          "errno %d", errno);
    close(d);
    close(r4);
    return check_finish();
}
