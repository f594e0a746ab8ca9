/*
 * unix_pair — socketpair of each AF_UNIX type echoing across fork (stream, datagram and
 * seqpacket boundaries), SCM_RIGHTS carrying descriptors both ways across fork with
 * MSG_CMSG_CLOEXEC and a truncating receive (MSG_CTRUNC), SCM_CREDENTIALS and SO_PEERCRED naming
 * the peer, shutdown, and EPIPE with SIGPIPE and with MSG_NOSIGNAL.
 */
#include "check.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A child echoing every message back, upper-cased, until end of file. */
static void echo_child(int fd)
{
    char buf[64];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] -= 32;
        if (send(fd, buf, (size_t)n, 0) != n)
            _exit(2);
    }
    _exit(n == 0 ? 0 : 3);
}

static void echo_type(const char *name, int type)
{
    int sv[2];
    char label[64];
    snprintf(label, sizeof label, "%s socketpair", name);
    REQUIRE(label, socketpair(AF_UNIX, type, 0, sv) == 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(sv[0]);
        echo_child(sv[1]);
    }
    close(sv[1]);
    int ok = 1;
    char buf[64];
    ok &= send(sv[0], "abc", 3, 0) == 3;
    ok &= send(sv[0], "defg", 4, 0) == 4;
    if (type == SOCK_STREAM) {
        size_t got = 0;
        while (got < 7) {
            ssize_t n = recv(sv[0], buf + got, sizeof buf - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        ok &= got == 7 && memcmp(buf, "ABCDEFG", 7) == 0;
    } else {
        ok &= recv(sv[0], buf, sizeof buf, 0) == 3 && memcmp(buf, "ABC", 3) == 0;
        ok &= recv(sv[0], buf, sizeof buf, 0) == 4 && memcmp(buf, "DEFG", 4) == 0;
    }
    if (type == SOCK_STREAM)
        shutdown(sv[0], SHUT_WR);
    else
        send(sv[0], "", 0, 0), close(sv[0]);
    int st = wait_child(pid);
    snprintf(label, sizeof label, "%s echo across fork", name);
    check(label, ok && (type != SOCK_STREAM || st == 0), "ok %d status %d", ok, st);
    if (type == SOCK_STREAM) {
        snprintf(label, sizeof label, "%s end of file after the peer closed", name);
        CHECK_EQ(label, recv(sv[0], buf, sizeof buf, 0), 0);
        close(sv[0]);
    }
}

/* Sends `count` descriptors and one byte. */
static ssize_t send_fds(int sock, const int *fds, int count)
{
    char byte = 'x';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = CMSG_SPACE(count * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(count * sizeof(int));
    memcpy(CMSG_DATA(c), fds, count * sizeof(int));
    return sendmsg(sock, &mh, 0);
}

/* Receives one byte and up to `room` descriptors into fds; returns the count, sets *flags. */
static int recv_fds(int sock, int *fds, int room, int rflags, int *flags)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = CMSG_SPACE(room * sizeof(int))};
    if (recvmsg(sock, &mh, rflags) != 1)
        return -1;
    *flags = mh.msg_flags;
    int n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + n, CMSG_DATA(c), k * sizeof(int));
            n += k;
        }
    return n;
}

static void rights(void)
{
    int sv[2], p[2];
    REQUIRE("rights socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    REQUIRE("pipe", pipe(p) == 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        /* The child gets the pipe's write end from its parent and writes through it, then
         * sends a pipe of its own back. */
        close(sv[0]);
        close(p[1]);
        int fds[2], flags = 0;
        int n = recv_fds(sv[1], fds, 2, MSG_CMSG_CLOEXEC, &flags);
        if (n != 1)
            _exit(10);
        if (!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC))
            _exit(11);
        if (write(fds[0], "via child", 9) != 9)
            _exit(12);
        close(fds[0]);
        int q[2];
        if (pipe(q) != 0)
            _exit(13);
        if (write(q[1], "from child", 10) != 10)
            _exit(14);
        if (send_fds(sv[1], &q[0], 1) != 1)
            _exit(15);
        _exit(0);
    }
    close(sv[1]);
    CHECK_EQ("send a pipe end", send_fds(sv[0], &p[1], 1), 1);
    close(p[1]);
    int fds[2], flags = -1;
    int n = recv_fds(sv[0], fds, 2, 0, &flags);
    CHECK_EQ("child's status", wait_child(pid), 0);
    char buf[32] = {0};
    CHECK_EQ("the pipe carried the child's write", read(p[0], buf, sizeof buf), 9);
    CHECK_MEM("bytes", buf, "via child", 9);
    CHECK_EQ("one descriptor back", n, 1);
    CHECK_EQ("no truncation", flags & MSG_CTRUNC, 0);
    CHECK_EQ("received without MSG_CMSG_CLOEXEC", fcntl(fds[0], F_GETFD) & FD_CLOEXEC, 0);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("read the child's pipe", read(fds[0], buf, sizeof buf), 10);
    CHECK_MEM("its bytes", buf, "from child", 10);
    close(fds[0]);

    close(p[0]);
    close(sv[0]);
}

static void truncation(void)
{
    int sv[2];
    REQUIRE("truncation socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    int devnull = open("/dev/null", O_RDONLY);
    int three[3] = {devnull, devnull, devnull};
    CHECK_EQ("send three descriptors", send_fds(sv[0], three, 3), 1);
    int fds[8], flags = 0;
    int n = recv_fds(sv[1], fds, 1, 0, &flags);
    /* CMSG_SPACE of one int is 24 bytes: two descriptors fit, the third is closed. */
    CHECK_EQ("two fit in the space of one", n, 2);
    check("MSG_CTRUNC", (flags & MSG_CTRUNC) != 0, "flags %#x", flags);
    CHECK_EQ("both received are open", fcntl(fds[0], F_GETFD) >= 0 && fcntl(fds[1], F_GETFD) >= 0, 1);
    close(fds[0]);
    close(fds[1]);

    /* An invalid descriptor in SCM_RIGHTS is EBADF. */
    int bad = 999;
    CHECK_ERR("SCM_RIGHTS with a closed descriptor", send_fds(sv[0], &bad, 1), EBADF);
    close(devnull);
    close(sv[0]);
    close(sv[1]);
}

static void credentials(void)
{
    int sv[2], on = 1;
    REQUIRE("creds socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    CHECK_OK("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    struct ucred pc;
    socklen_t len = sizeof pc;
    CHECK_OK("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &len));
    CHECK_EQ("its length", len, sizeof pc);
    check("peer pid is ours", pc.pid == getpid() && pc.uid == getuid() && pc.gid == getgid(),
          "mismatch");
    pid_t pid = fork_or_die();
    if (pid == 0) {
        char byte = 'c';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred))];
            struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof u);
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                            .msg_controllen = sizeof u.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        struct ucred me = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
        memcpy(CMSG_DATA(c), &me, sizeof me);
        _exit(sendmsg(sv[0], &mh, 0) == 1 ? 0 : 1);
    }
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(sv[1], &mh, 0);
    CHECK_EQ("child sent its credentials", wait_child(pid), 0);
    CHECK_EQ("received", n, 1);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    check("an SCM_CREDENTIALS message",
          c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS, "none");
    if (c) {
        struct ucred got;
        memcpy(&got, CMSG_DATA(c), sizeof got);
        check("naming the child", got.pid == pid && got.uid == getuid(), "mismatch");
    }
    close(sv[0]);
    close(sv[1]);
}

static volatile sig_atomic_t pipes;
static void on_pipe(int sig)
{
    (void)sig;
    pipes++;
}

static void broken(void)
{
    int sv[2];
    REQUIRE("epipe socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    signal(SIGPIPE, on_pipe);
    close(sv[1]);
    CHECK_ERR("send to a closed peer", send(sv[0], "x", 1, 0), EPIPE);
    CHECK_EQ("SIGPIPE raised", pipes, 1);
    CHECK_ERR("MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    CHECK_EQ("no SIGPIPE", pipes, 1);
    CHECK_ERR("write to a closed peer", write(sv[0], "x", 1), EPIPE);
    CHECK_EQ("SIGPIPE from write", pipes, 2);
    close(sv[0]);
    REQUIRE("shutdown socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_OK("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
    CHECK_ERR("send after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    char b;
    CHECK_EQ("peer reads end of file", recv(sv[1], &b, 1, 0), 0);
    CHECK_EQ("other way still works", send(sv[1], "y", 1, 0), 1);
    CHECK_EQ("received", recv(sv[0], &b, 1, 0), 1);
    CHECK_ERR("shutdown bad how", shutdown(sv[0], 7), EINVAL);
    close(sv[0]);
    close(sv[1]);
    signal(SIGPIPE, SIG_DFL);
}

int main(void)
{
    echo_type("stream", SOCK_STREAM);
    echo_type("dgram", SOCK_DGRAM);
    echo_type("seqpacket", SOCK_SEQPACKET);
    rights();
    truncation();
    credentials();
    broken();
    return check_finish();
}
