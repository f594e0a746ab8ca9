/*
 * mmsg_batch — sendmmsg and recvmmsg in batches on AF_UNIX datagram sockets: five datagrams
 * out in one call and in with room for eight (the count queued), each entry's msg_len and
 * msg_flags (MSG_TRUNC), the MSG_TRUNC flag, per-entry destination names, a batch stopped by a
 * bad entry (the count sent before it), zero-length batches, and the timeout: written back only
 * when something was received, checked (EINVAL, EFAULT) before the descriptor is looked up.
 */
#include "check.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

static socklen_t path_addr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static char bufs[8][16];
static struct iovec riov[8];
static struct mmsghdr rm[8];

/* Prepares eight receive entries of `room` bytes each (entry 1 gets `room1`). */
static void prepare(size_t room, size_t room1)
{
    memset(rm, 0, sizeof rm);
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < 8; i++) {
        riov[i].iov_base = bufs[i];
        riov[i].iov_len = i == 1 ? room1 : room;
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
        rm[i].msg_len = 0xdead;
    }
}

int main(void)
{
    int sv[2];
    REQUIRE("datagram pair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    static const char *words[5] = {"a", "bb", "ccc", "dddd", "eeeee"};
    struct iovec iov[5];
    struct mmsghdr sm[5];
    memset(sm, 0, sizeof sm);
    for (int i = 0; i < 5; i++) {
        iov[i].iov_base = (void *)words[i];
        iov[i].iov_len = strlen(words[i]);
        sm[i].msg_hdr.msg_iov = &iov[i];
        sm[i].msg_hdr.msg_iovlen = 1;
    }
    CHECK_EQ("sendmmsg of five", sendmmsg(sv[0], sm, 5, 0), 5);
    int lens = 1;
    for (int i = 0; i < 5; i++)
        lens &= sm[i].msg_len == (unsigned)(i + 1);
    CHECK_EQ("each msg_len", lens, 1);

    prepare(16, 16);
    CHECK_EQ("recvmmsg with room for eight takes five", recvmmsg(sv[1], rm, 8, MSG_DONTWAIT, NULL), 5);
    int same = 1;
    for (int i = 0; i < 5; i++)
        same &= rm[i].msg_len == (unsigned)(i + 1) && memcmp(bufs[i], words[i], i + 1) == 0;
    CHECK_EQ("each datagram in its entry", same, 1);
    CHECK_EQ("entry six untouched", rm[5].msg_len, 0xdead);

    /* Truncation per entry, and the MSG_TRUNC flag. */
    sendmmsg(sv[0], sm, 5, 0);
    prepare(16, 1);
    CHECK_EQ("three into a short second entry", recvmmsg(sv[1], rm, 3, 0, NULL), 3);
    CHECK_EQ("its msg_len is what was copied", rm[1].msg_len, 1);
    check("its msg_flags say MSG_TRUNC", (rm[1].msg_hdr.msg_flags & MSG_TRUNC) != 0, "%#x",
          rm[1].msg_hdr.msg_flags);
    CHECK_EQ("the others not", (rm[0].msg_hdr.msg_flags | rm[2].msg_hdr.msg_flags) & MSG_TRUNC, 0);
    prepare(2, 2);
    CHECK_EQ("the last two with MSG_TRUNC", recvmmsg(sv[1], rm, 2, MSG_TRUNC, NULL), 2);
    CHECK_EQ("real lengths", rm[0].msg_len == 4 && rm[1].msg_len == 5, 1);

    /* Nothing queued: the timeout stays as it was. */
    struct timespec ts = {5, 0};
    prepare(16, 16);
    CHECK_ERR("empty with a timeout: EAGAIN", recvmmsg(sv[1], rm, 2, MSG_DONTWAIT, &ts), EAGAIN);
    CHECK_EQ("the timeout is not written", ts.tv_sec == 5 && ts.tv_nsec == 0, 1);
    sendmmsg(sv[0], sm, 2, 0);
    CHECK_EQ("two with a timeout", recvmmsg(sv[1], rm, 2, 0, &ts), 2);
    check("the time left is written", ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000 &&
                                          (ts.tv_sec < 5 || (ts.tv_sec == 5 && ts.tv_nsec == 0)),
          "%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);

    /* The timeout is read and checked before the descriptor. */
    struct timespec badts = {0, 1000000000};
    CHECK_ERR("bad timeout on a bad descriptor: EINVAL",
              syscall(SYS_recvmmsg, 999, rm, 1, 0, &badts), EINVAL);
    CHECK_ERR("unreadable timeout on a bad descriptor: EFAULT",
              syscall(SYS_recvmmsg, 999, rm, 1, 0, (void *)8), EFAULT);
    CHECK_ERR("a good timeout on a bad descriptor: EBADF",
              syscall(SYS_recvmmsg, 999, rm, 1, 0, &ts), EBADF);
    CHECK_ERR("bad timeout on a good socket: EINVAL", recvmmsg(sv[1], rm, 1, 0, &badts), EINVAL);

    /* Zero-length batches. */
    CHECK_EQ("sendmmsg of none", sendmmsg(sv[0], sm, 0, 0), 0);
    CHECK_EQ("recvmmsg of none", recvmmsg(sv[1], rm, 0, MSG_DONTWAIT, NULL), 0);
    ts.tv_sec = 5;
    ts.tv_nsec = 0;
    CHECK_EQ("recvmmsg of none with a timeout", recvmmsg(sv[1], rm, 0, 0, &ts), 0);
    CHECK_EQ("leaves the timeout as it was", ts.tv_sec == 5 && ts.tv_nsec == 0, 1);

    /* A bad entry stops the batch: the count before it, then its error. */
    iov[2].iov_base = (void *)8;
    CHECK_EQ("a batch with a bad third entry sends two", sendmmsg(sv[0], sm, 5, 0), 2);
    CHECK_ERR("starting at the bad entry: EFAULT", sendmmsg(sv[0], sm + 2, 3, 0), EFAULT);
    prepare(16, 16);
    CHECK_EQ("two arrived", recvmmsg(sv[1], rm, 8, MSG_DONTWAIT, NULL), 2);
    iov[2].iov_base = (void *)words[2];
    close(sv[0]);
    close(sv[1]);

    /* Per-entry destinations from one unbound socket. */
    struct sockaddr_un a1, a2;
    socklen_t l1 = path_addr(&a1, "one.sock"), l2 = path_addr(&a2, "two.sock");
    int r1 = socket(AF_UNIX, SOCK_DGRAM, 0), r2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    REQUIRE("bind one", bind(r1, (struct sockaddr *)&a1, l1) == 0);
    REQUIRE("bind two", bind(r2, (struct sockaddr *)&a2, l2) == 0);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    for (int i = 0; i < 4; i++) {
        sm[i].msg_hdr.msg_name = i % 2 ? (void *)&a2 : (void *)&a1;
        sm[i].msg_hdr.msg_namelen = i % 2 ? l2 : l1;
    }
    CHECK_EQ("four to alternating names", sendmmsg(s, sm, 4, 0), 4);
    prepare(16, 16);
    CHECK_EQ("the first name got two", recvmmsg(r1, rm, 8, MSG_DONTWAIT, NULL), 2);
    CHECK_EQ("a and ccc", memcmp(bufs[0], "a", 2) == 0 && memcmp(bufs[1], "ccc", 4) == 0, 1);
    prepare(16, 16);
    CHECK_EQ("the second name got two", recvmmsg(r2, rm, 8, MSG_DONTWAIT, NULL), 2);
    CHECK_EQ("bb and dddd", memcmp(bufs[0], "bb", 3) == 0 && memcmp(bufs[1], "dddd", 5) == 0, 1);
    close(s);
    close(r1);
    close(r2);
    unlink("one.sock");
    unlink("two.sock");
    return check_finish();
}
