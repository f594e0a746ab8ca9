/*
 * netlink — NETLINK_ROUTE as the C libraries use it: if_nameindex, if_nametoindex,
 * if_indextoname and getifaddrs find the loopback interface; a hand-made RTM_GETLINK dump
 * names it too, with the sequence number echoed and the port id the kernel chose (the pid).
 */
#include "check.h"
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/*
 * The netlink structures and numbers (include/uapi/linux/netlink.h, rtnetlink.h, if_link.h),
 * spelled here because not every C library ships the kernel's headers.
 */
struct nl_addr {
    unsigned short family, pad;
    unsigned pid, groups;
};
struct nl_hdr {
    unsigned len;
    unsigned short type, flags;
    unsigned seq, pid;
};
struct nl_ifinfo {
    unsigned char family, pad;
    unsigned short type;
    int index;
    unsigned flags, change;
};
struct nl_attr {
    unsigned short len, type;
};
#define NETLINK_ROUTE_ 0
#define NLMSG_DONE_ 3
#define RTM_NEWLINK_ 16
#define RTM_GETLINK_ 18
#define NLM_F_REQUEST_ 0x1
#define NLM_F_DUMP_ 0x300
#define IFLA_IFNAME_ 3
#define NL_ALIGN(n) (((n) + 3u) & ~3u)

static void names(void)
{
    struct if_nameindex *list = if_nameindex();
    REQUIRE("if_nameindex", list != NULL);
    unsigned lo = 0;
    for (struct if_nameindex *i = list; i->if_index != 0; i++)
        if (strcmp(i->if_name, "lo") == 0)
            lo = i->if_index;
    if_freenameindex(list);
    check("lo is listed", lo != 0, "not found");
    CHECK_EQ("if_nametoindex(lo) agrees", if_nametoindex("lo"), lo);
    char name[IF_NAMESIZE];
    check("if_indextoname names lo", if_indextoname(lo, name) && strcmp(name, "lo") == 0,
          "errno %s", errname(errno));
    CHECK_EQ("an unknown name", if_nametoindex("no-such-if0"), 0);

    /* The requests under those functions, on a socket and on something else. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE("inet socket", s >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    CHECK_OK("SIOCGIFFLAGS", ioctl(s, SIOCGIFFLAGS, &ifr));
    check("lo's flags say loopback", (ifr.ifr_flags & IFF_LOOPBACK) != 0, "they do not");
    CHECK_OK("SIOCGIFINDEX", ioctl(s, SIOCGIFINDEX, &ifr));
    CHECK_EQ("the same index", ifr.ifr_ifindex, lo);
    memset(ifr.ifr_name, 0, sizeof ifr.ifr_name);
    CHECK_OK("SIOCGIFNAME", ioctl(s, SIOCGIFNAME, &ifr));
    CHECK_EQ("names lo", strcmp(ifr.ifr_name, "lo"), 0);
    strcpy(ifr.ifr_name, "no-such-if0");
    CHECK_ERR("SIOCGIFINDEX of an unknown name", ioctl(s, SIOCGIFINDEX, &ifr), ENODEV);
    CHECK_ERR("SIOCGIFINDEX unreadable", ioctl(s, SIOCGIFINDEX, (void *)8), EFAULT);
    close(s);
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    CHECK_ERR("SIOCGIFINDEX on a pipe", ioctl(p[0], SIOCGIFINDEX, &ifr), ENOTTY);
    close(p[0]);
    close(p[1]);
}

static void addrs(void)
{
    struct ifaddrs *list;
    REQUIRE("getifaddrs", getifaddrs(&list) == 0);
    int lo_seen = 0, lo_flags = 1;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0)
            continue;
        lo_seen = 1;
        if (!(i->ifa_flags & IFF_LOOPBACK))
            lo_flags = 0;
    }
    freeifaddrs(list);
    check("getifaddrs lists lo", lo_seen, "not found");
    check("lo is a loopback", lo_flags, "flags differ");
}

static void dump(void)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE_);
    REQUIRE("netlink socket", s >= 0);
    struct nl_addr me = {.family = AF_NETLINK};
    CHECK_OK("bind", bind(s, (struct sockaddr *)&me, sizeof me));
    socklen_t len = sizeof me;
    CHECK_OK("getsockname", getsockname(s, (struct sockaddr *)&me, &len));
    CHECK_EQ("its length", len, sizeof me);
    CHECK_EQ("its family", me.family, AF_NETLINK);
    check("the port id is the pid", me.pid == (unsigned)getpid(), "another port id");

    struct {
        struct nl_hdr h;
        struct nl_ifinfo i;
    } req = {0};
    req.h.len = sizeof req;
    req.h.type = RTM_GETLINK_;
    req.h.flags = NLM_F_REQUEST_ | NLM_F_DUMP_;
    req.h.seq = 4242;
    req.i.family = AF_UNSPEC;
    struct nl_addr kernel = {.family = AF_NETLINK};
    CHECK_EQ("send the request",
             sendto(s, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel),
             sizeof req);

    static unsigned char buf[65536];
    int done = 0, lo = 0, seq_ok = 1, from_kernel = 1;
    while (!done) {
        struct nl_addr from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0)
            break;
        if (fl != sizeof from || from.family != AF_NETLINK || from.pid != 0)
            from_kernel = 0;
        size_t at = 0;
        while (at + sizeof(struct nl_hdr) <= (size_t)n) {
            struct nl_hdr *h = (struct nl_hdr *)(buf + at);
            if (h->len < sizeof *h || at + h->len > (size_t)n)
                break;
            if (h->seq != 4242 || h->pid != me.pid)
                seq_ok = 0;
            if (h->type == NLMSG_DONE_) {
                done = 1;
                break;
            }
            if (h->type == RTM_NEWLINK_) {
                struct nl_ifinfo *ifi = (struct nl_ifinfo *)(h + 1);
                size_t a = sizeof *h + NL_ALIGN(sizeof *ifi);
                while (a + sizeof(struct nl_attr) <= h->len) {
                    struct nl_attr *attr = (struct nl_attr *)((unsigned char *)h + a);
                    if (attr->len < sizeof *attr || a + attr->len > h->len)
                        break;
                    if (attr->type == IFLA_IFNAME_ && (ifi->flags & IFF_LOOPBACK) &&
                        strcmp((char *)(attr + 1), "lo") == 0)
                        lo = 1;
                    a += NL_ALIGN(attr->len);
                }
            }
            at += NL_ALIGN(h->len);
        }
    }
    check("the dump ends with NLMSG_DONE", done, "it did not");
    check("the dump names lo", lo, "not found");
    check("each reply echoes the sequence and our port", seq_ok, "a reply differs");
    check("each reply comes from the kernel", from_kernel, "another sender");
    close(s);
}

int main(void)
{
    names();
    addrs();
    dump();
    return check_finish();
}
