/*
 * sockopt_table — every socket option the emulator translates, set and read back where it can
 * be set, with the values Linux adjusts (doubled buffers, IP_TOS's ECN bits, IP_TTL's -1) and
 * refuses (EINVAL for out-of-range values and short lengths; another protocol's option is
 * ENOPROTOOPT to set and EOPNOTSUPP to read on inet sockets, EOPNOTSUPP both ways on AF_UNIX),
 * short and empty read buffers, read-only options, and SO_RCVTIMEO and SO_SNDTIMEO under both
 * their numbers. No port is printed.
 */
#include "check.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67
#endif

static int s;

static int get_int(int level, int opt, int *v)
{
    socklen_t l = sizeof *v;
    *v = -12345;
    int r = getsockopt(s, level, opt, v, &l);
    return r == 0 && l == sizeof *v ? 0 : -1;
}

static void round_trip(const char *name, int level, int opt, int set, int want)
{
    char label[96];
    int v;
    snprintf(label, sizeof label, "%s = %d", name, set);
    CHECK_OK(label, setsockopt(s, level, opt, &set, sizeof set));
    snprintf(label, sizeof label, "%s reads %d", name, want);
    check(label, get_int(level, opt, &v) == 0 && v == want, "got %d", v);
}

static void refused(const char *name, int level, int opt, int set, int err)
{
    char label[96];
    snprintf(label, sizeof label, "%s = %d refused", name, set);
    CHECK_ERR(label, setsockopt(s, level, opt, &set, sizeof set), err);
}

static void timeouts(const char *name, int opt_old, int opt_new)
{
    char label[96];
    struct timeval tv = {2, 500000}, got;
    socklen_t l;
    snprintf(label, sizeof label, "%s set by the old number", name);
    CHECK_OK(label, setsockopt(s, SOL_SOCKET, opt_old, &tv, sizeof tv));
    l = sizeof got;
    memset(&got, 0, sizeof got);
    snprintf(label, sizeof label, "%s read by the new number", name);
    check(label, getsockopt(s, SOL_SOCKET, opt_new, &got, &l) == 0 && l == 16 && got.tv_sec == 2 &&
                     got.tv_usec == 500000, "l %u %lld.%06lld", (unsigned)l,
          (long long)got.tv_sec, (long long)got.tv_usec);
    struct timeval off = {0, 0};
    snprintf(label, sizeof label, "%s cleared by the new number", name);
    CHECK_OK(label, setsockopt(s, SOL_SOCKET, opt_new, &off, sizeof off));
    l = sizeof got;
    snprintf(label, sizeof label, "%s reads zero", name);
    check(label, getsockopt(s, SOL_SOCKET, opt_old, &got, &l) == 0 && got.tv_sec == 0 &&
                     got.tv_usec == 0, "%lld", (long long)got.tv_sec);
    struct timeval bad = {1, 1000000};
    errno = 0;
    snprintf(label, sizeof label, "%s microseconds out of range: EDOM", name);
    check(label, setsockopt(s, SOL_SOCKET, opt_old, &bad, sizeof bad) == -1 && errno == EDOM,
          "errno %d", errno);
    snprintf(label, sizeof label, "%s a short value: EINVAL", name);
    CHECK_ERR(label, setsockopt(s, SOL_SOCKET, opt_old, &tv, sizeof tv - 1), EINVAL);
}

int main(void)
{
    int v;
    socklen_t l;
    s = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE("tcp socket", s >= 0);

    /* SOL_SOCKET, integers. */
    round_trip("SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 5, 1);
    round_trip("SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 0, 0);
    round_trip("SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, 1, 1);
    round_trip("SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1, 1);
    round_trip("SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, 1, 1);
    round_trip("SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 10000, 20000);
    round_trip("SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 12000, 24000);
    CHECK_ERR("SO_RCVBUF a short value", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, 3), EINVAL);
    CHECK_ERR("SO_KEEPALIVE with no value", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 0), EINVAL);
    v = 1;
    CHECK_OK("SO_KEEPALIVE with a long value", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, (int[2]){0, 9}, 8));
    check("reads 0", get_int(SOL_SOCKET, SO_KEEPALIVE, &v) == 0 && v == 0, "got %d", v);

    /* Read-only ones. */
    check("SO_TYPE", get_int(SOL_SOCKET, SO_TYPE, &v) == 0 && v == SOCK_STREAM, "%d", v);
    check("SO_DOMAIN", get_int(SOL_SOCKET, SO_DOMAIN, &v) == 0 && v == AF_INET, "%d", v);
    check("SO_PROTOCOL", get_int(SOL_SOCKET, SO_PROTOCOL, &v) == 0 && v == IPPROTO_TCP, "%d", v);
    check("SO_ERROR", get_int(SOL_SOCKET, SO_ERROR, &v) == 0 && v == 0, "%d", v);
    check("SO_ACCEPTCONN", get_int(SOL_SOCKET, SO_ACCEPTCONN, &v) == 0 && v == 0, "%d", v);
    v = 1;
    CHECK_ERR("SO_TYPE cannot be set", setsockopt(s, SOL_SOCKET, SO_TYPE, &v, sizeof v), ENOPROTOOPT);
    CHECK_ERR("SO_ACCEPTCONN cannot be set", setsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, sizeof v),
              ENOPROTOOPT);
    struct ucred uc = {.pid = 7};
    l = sizeof uc + 8;
    CHECK_OK("SO_PEERCRED of an unconnected TCP socket",
             getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &l));
    check("no peer: pid 0, ids -1", l == sizeof uc && uc.pid == 0 && uc.uid == (uid_t)-1 &&
                                       uc.gid == (gid_t)-1, "l %u pid %d uid %u", (unsigned)l,
          (int)uc.pid, (unsigned)uc.uid);

    /* Short and empty read buffers. */
    unsigned char two[4] = {0xaa, 0xaa, 0xaa, 0xaa};
    l = 2;
    CHECK_OK("SO_TYPE into 2 bytes", getsockopt(s, SOL_SOCKET, SO_TYPE, two, &l));
    check("2 bytes of it", l == 2 && two[0] == SOCK_STREAM && two[1] == 0 && two[2] == 0xaa, "l %u", (unsigned)l);
    l = 0;
    CHECK_OK("SO_TYPE into nothing", getsockopt(s, SOL_SOCKET, SO_TYPE, two, &l));
    CHECK_EQ("length 0", l, 0);
    l = (socklen_t)-1;
    CHECK_ERR("a negative length", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l), EINVAL);
    l = (socklen_t)-1;
    CHECK_ERR("a negative length at the TCP level", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l),
              EINVAL);

    /* SO_LINGER. */
    struct linger lg = {1, 30}, lg2 = {0, 0};
    CHECK_ERR("SO_LINGER short", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg - 1), EINVAL);
    CHECK_OK("SO_LINGER", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    l = 4;
    CHECK_OK("SO_LINGER into 4 bytes", getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &l));
    check("only l_onoff", l == 4 && lg2.l_onoff == 1 && lg2.l_linger == 0, "l %u", (unsigned)l);

    timeouts("SO_RCVTIMEO", SO_RCVTIMEO, SO_RCVTIMEO_NEW);
    timeouts("SO_SNDTIMEO", SO_SNDTIMEO, SO_SNDTIMEO_NEW);

    /* IPPROTO_TCP. */
    round_trip("TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 3, 1);
    round_trip("TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 32767, 32767);
    round_trip("TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 1, 1);
    round_trip("TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 127, 127);
    refused("TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 0, EINVAL);
    refused("TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 32768, EINVAL);
    refused("TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 32768, EINVAL);
    refused("TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 128, EINVAL);
    CHECK_ERR("TCP_NODELAY a short value", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
    l = 1;
    v = 0;
    CHECK_OK("TCP_KEEPCNT into 1 byte", getsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &v, &l));
    check("1 byte of it", l == 1 && v == 127, "l %u v %d", (unsigned)l, v);

    /* IPPROTO_IP. */
    check("IP_TTL default", get_int(IPPROTO_IP, IP_TTL, &v) == 0 && v == 64, "%d", v);
    round_trip("IP_TTL", IPPROTO_IP, IP_TTL, 255, 255);
    round_trip("IP_TTL", IPPROTO_IP, IP_TTL, -1, 64);
    refused("IP_TTL", IPPROTO_IP, IP_TTL, 0, EINVAL);
    refused("IP_TTL", IPPROTO_IP, IP_TTL, 256, EINVAL);
    round_trip("IP_TOS (ECN bits dropped on TCP)", IPPROTO_IP, IP_TOS, 0x23, 0x20);
    unsigned char tos = 0x48;
    CHECK_OK("IP_TOS from one byte", setsockopt(s, IPPROTO_IP, IP_TOS, &tos, 1));
    l = 1;
    tos = 0;
    CHECK_OK("IP_TOS into one byte", getsockopt(s, IPPROTO_IP, IP_TOS, &tos, &l));
    check("one byte of it", l == 1 && tos == 0x48, "l %u tos %#x", (unsigned)l, tos);

    /* Another level's option. */
    v = 1;
    CHECK_ERR("IPV6_V6ONLY on an IPv4 socket", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v),
              ENOPROTOOPT);
    l = sizeof v;
    CHECK_ERR("read IPV6_V6ONLY on an IPv4 socket: EOPNOTSUPP",
              getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l), EOPNOTSUPP);
    CHECK_OK("listen", listen(s, 1));
    check("SO_ACCEPTCONN after listen", get_int(SOL_SOCKET, SO_ACCEPTCONN, &v) == 0 && v == 1, "%d", v);
    close(s);

    s = socket(AF_INET, SOCK_DGRAM, 0);
    check("UDP SO_PROTOCOL", get_int(SOL_SOCKET, SO_PROTOCOL, &v) == 0 && v == IPPROTO_UDP, "%d", v);
    check("UDP SO_TYPE", get_int(SOL_SOCKET, SO_TYPE, &v) == 0 && v == SOCK_DGRAM, "%d", v);
    v = 1;
    CHECK_ERR("TCP_NODELAY on UDP", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), ENOPROTOOPT);
    round_trip("UDP IP_TOS keeps ECN bits", IPPROTO_IP, IP_TOS, 0x23, 0x23);
    close(s);

    s = socket(AF_INET6, SOCK_STREAM, 0);
    round_trip("IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, 7, 1);
    CHECK_ERR("IPV6_V6ONLY a short value", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, 2), EINVAL);
    check("SO_DOMAIN inet6", get_int(SOL_SOCKET, SO_DOMAIN, &v) == 0 && v == AF_INET6, "%d", v);
    close(s);

    s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    check("unix SO_TYPE", get_int(SOL_SOCKET, SO_TYPE, &v) == 0 && v == SOCK_SEQPACKET, "%d", v);
    check("unix SO_DOMAIN", get_int(SOL_SOCKET, SO_DOMAIN, &v) == 0 && v == AF_UNIX, "%d", v);
    check("unix SO_PROTOCOL", get_int(SOL_SOCKET, SO_PROTOCOL, &v) == 0 && v == 0, "%d", v);
    round_trip("unix SO_PASSCRED", SOL_SOCKET, SO_PASSCRED, 1, 1);
    CHECK_ERR("unix SO_PASSCRED with no value", setsockopt(s, SOL_SOCKET, SO_PASSCRED, &v, 0), EINVAL);
    v = 1;
    errno = 0;
    int r = setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
    check("TCP_NODELAY on AF_UNIX: EOPNOTSUPP", r == -1 && errno == EOPNOTSUPP, "errno %d", errno);
    errno = 0;
    r = setsockopt(s, 999, 1, &v, sizeof v);
    check("an unknown level on AF_UNIX: EOPNOTSUPP", r == -1 && errno == EOPNOTSUPP, "errno %d", errno);
    l = sizeof v;
    errno = 0;
    r = getsockopt(s, IPPROTO_IP, IP_TTL, &v, &l);
    check("IP_TTL read on AF_UNIX: EOPNOTSUPP", r == -1 && errno == EOPNOTSUPP, "errno %d", errno);
    close(s);
    return check_finish();
}
