/*
 * passcred — SO_PASSCRED on AF_UNIX sockets: the option's round trip, credentials the kernel
 * attaches by itself to messages sent without any (a forked child's, then the parent's through
 * the same descriptor), a stream read never joining bytes sent under different credentials
 * (joined without SO_PASSCRED), and datagrams carrying their sender's credentials.
 */
#include "check.h"
#include <sys/socket.h>
#include <sys/wait.h>

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Receives into buf; *cred gets the SCM_CREDENTIALS that came with it (pid -1 if none). */
static ssize_t recv_cred(int fd, char *buf, size_t len, struct ucred *cred)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    cred->pid = -1;
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n < 0)
        return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
            memcpy(cred, CMSG_DATA(c), sizeof *cred);
    return n;
}

static void stream(void)
{
    int sv[2], v = -1, on = 1;
    REQUIRE("stream pair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    socklen_t l = sizeof v;
    CHECK_OK("get SO_PASSCRED", getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &l));
    CHECK_EQ("off at first", v, 0);
    CHECK_OK("set SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    l = sizeof v;
    getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &l);
    CHECK_EQ("on now", v, 1);

    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(send(sv[0], "child", 5, 0) == 5 ? 0 : 1);
    CHECK_EQ("the child sent plain bytes", wait_child(pid), 0);
    CHECK_EQ("the parent sends through the same descriptor", send(sv[0], "parent", 6, 0), 6);
    char buf[32];
    struct ucred cr;
    CHECK_EQ("one read stops where the credentials change", recv_cred(sv[1], buf, sizeof buf, &cr), 5);
    CHECK_MEM("the child's bytes", buf, "child", 5);
    check("with the child's credentials", cr.pid == pid && cr.uid == getuid() && cr.gid == getgid(),
          "pid %s", cr.pid == getpid() ? "ours" : "other");
    CHECK_EQ("the next read", recv_cred(sv[1], buf, sizeof buf, &cr), 6);
    CHECK_MEM("the parent's bytes", buf, "parent", 6);
    check("with ours", cr.pid == getpid() && cr.uid == getuid(), "pid %s",
          cr.pid == pid ? "the child's" : "other");

    int off = 0;
    CHECK_OK("clear SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &off, sizeof off));
    pid = fork_or_die();
    if (pid == 0)
        _exit(send(sv[0], "child", 5, 0) == 5 ? 0 : 1);
    CHECK_EQ("the child sent again", wait_child(pid), 0);
    send(sv[0], "parent", 6, 0);
    CHECK_EQ("without SO_PASSCRED one read takes both", recv_cred(sv[1], buf, sizeof buf, &cr), 11);
    CHECK_EQ("and no credentials", cr.pid, -1);
    close(sv[0]);
    close(sv[1]);
}

static void datagram(void)
{
    int sv[2], on = 1;
    REQUIRE("datagram pair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    CHECK_OK("set SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(send(sv[0], "c", 1, 0) == 1 ? 0 : 1);
    CHECK_EQ("the child sent a datagram", wait_child(pid), 0);
    send(sv[0], "p", 1, 0);
    char buf[8];
    struct ucred cr;
    CHECK_EQ("the child's datagram", recv_cred(sv[1], buf, sizeof buf, &cr), 1);
    CHECK_EQ("names the child", cr.pid == pid && buf[0] == 'c', 1);
    CHECK_EQ("the parent's datagram", recv_cred(sv[1], buf, sizeof buf, &cr), 1);
    CHECK_EQ("names the parent", cr.pid == getpid() && buf[0] == 'p', 1);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    stream();
    datagram();
    return check_finish();
}
