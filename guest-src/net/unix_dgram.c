/*
 * unix_dgram — AF_UNIX datagrams between path-named sockets across fork: boundaries (a
 * zero-length datagram too), the sender's name, MSG_TRUNC; sending to a name whose socket is
 * gone (ECONNREFUSED while the file stays, ENOENT once it is removed); a connected socket whose
 * peer closed (ECONNREFUSED once, then ENOTCONN); connect filtering other senders (EPERM).
 */
#include "check.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t path_addr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static int bound(const char *path)
{
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, len) != 0)
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

int main(void)
{
    struct sockaddr_un srv, cli, from;
    socklen_t sl = path_addr(&srv, "srv.sock"), cl = path_addr(&cli, "cli.sock");
    int s = bound("srv.sock");
    REQUIRE("bind the server", s >= 0);

    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(s);
        int c = bound("cli.sock");
        if (c < 0)
            _exit(1);
        static const char *msgs[] = {"a", "", "three", "a longer datagram"};
        for (int i = 0; i < 4; i++)
            if (sendto(c, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&srv, sl) !=
                (ssize_t)strlen(msgs[i]))
                _exit(2);
        char buf[32];
        if (recv(c, buf, sizeof buf, 0) != 5 || memcmp(buf, "REPLY", 5) != 0)
            _exit(3);
        _exit(0);
    }
    char buf[64];
    socklen_t fl = sizeof from;
    CHECK_EQ("first datagram", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 1);
    CHECK_EQ("sender's name length", fl, cl);
    CHECK_MEM("sender's name", from.sun_path, "cli.sock", 9);
    CHECK_EQ("zero-length datagram", recv(s, buf, sizeof buf, 0), 0);
    CHECK_EQ("third keeps its boundary", recv(s, buf, sizeof buf, 0), 5);
    CHECK_MEM("third", buf, "three", 5);
    struct iovec iov = {.iov_base = buf, .iov_len = 8};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_EQ("a long one into 8 bytes", recvmsg(s, &mh, 0), 8);
    check("MSG_TRUNC", (mh.msg_flags & MSG_TRUNC) != 0, "flags %#x", mh.msg_flags);
    CHECK_ERR("its tail is gone", recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    CHECK_EQ("reply to the sender's name",
             sendto(s, "REPLY", 5, 0, (struct sockaddr *)&from, fl), 5);
    CHECK_EQ("child across fork", wait_child(pid), 0);

    /* The child's socket is closed; its file stays. */
    CHECK_OK("the name's file stays", access("cli.sock", F_OK));
    CHECK_ERR("send to a closed name", sendto(s, "x", 1, 0, (struct sockaddr *)&cli, cl),
              ECONNREFUSED);
    unlink("cli.sock");
    CHECK_ERR("send to a removed name", sendto(s, "x", 1, 0, (struct sockaddr *)&cli, cl), ENOENT);

    /* A connected sender whose peer closes. */
    int peer = bound("peer.sock"), c = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un pa;
    socklen_t pal = path_addr(&pa, "peer.sock");
    CHECK_OK("connect to a datagram name", connect(c, (struct sockaddr *)&pa, pal));
    CHECK_EQ("send without an address", send(c, "hi", 2, 0), 2);
    CHECK_EQ("received", recv(peer, buf, sizeof buf, 0), 2);
    close(peer);
    CHECK_ERR("peer closed: ECONNREFUSED", send(c, "x", 1, 0), ECONNREFUSED);
    CHECK_ERR("then not connected", send(c, "x", 1, 0), ENOTCONN);
    close(c);
    unlink("peer.sock");

    /* A socket connected to another refuses datagrams from third parties. */
    int a = bound("a.sock"), b = bound("b.sock"), third = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un aa, ba;
    socklen_t al = path_addr(&aa, "a.sock"), bl = path_addr(&ba, "b.sock");
    CHECK_OK("a connects to b", connect(a, (struct sockaddr *)&ba, bl));
    CHECK_ERR("a third party cannot send to a", sendto(third, "x", 1, 0, (struct sockaddr *)&aa, al),
              EPERM);
    CHECK_EQ("b can", sendto(b, "ok", 2, 0, (struct sockaddr *)&aa, al), 2);
    CHECK_EQ("a receives b's", recv(a, buf, sizeof buf, 0), 2);
    close(a);
    close(b);
    close(third);
    unlink("a.sock");
    unlink("b.sock");
    close(s);
    unlink("srv.sock");
    return check_finish();
}
