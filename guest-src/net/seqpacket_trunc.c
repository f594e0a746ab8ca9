/*
 * seqpacket_trunc — an AF_UNIX SOCK_SEQPACKET pair echoing across fork: each message arrives
 * whole or truncated (the rest is dropped, MSG_TRUNC in msg_flags), recv(MSG_TRUNC) returns the
 * real length, MSG_PEEK leaves the message queued, a zero-length message reads as 0 without
 * ending the stream, and the peer's exit is end of file and EPIPE.
 */
#include "check.h"
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* Echoes every message back verbatim (zero-length ones included) until it receives "end". */
static void echo_child(int fd)
{
    char buf[256];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0)
            _exit(2);
        if (n == 3 && memcmp(buf, "end", 3) == 0)
            _exit(0);
        if (send(fd, buf, (size_t)n, 0) != n)
            _exit(3);
    }
}

static ssize_t roundtrip(int fd, const char *msg, size_t len)
{
    return send(fd, msg, len, 0);
}

int main(void)
{
    int sv[2];
    REQUIRE("socketpair", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(sv[0]);
        echo_child(sv[1]);
    }
    close(sv[1]);
    int fd = sv[0];
    char buf[64];

    /* A short buffer takes the head; the tail is gone, the next message comes whole. */
    CHECK_EQ("send 11 bytes", roundtrip(fd, "hello world", 11), 11);
    CHECK_EQ("send 5 bytes", roundtrip(fd, "after", 5), 5);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("short buffer takes 5", recv(fd, buf, 5, 0), 5);
    CHECK_MEM("the head", buf, "hello", 5);
    CHECK_EQ("next message whole", recv(fd, buf, sizeof buf, 0), 5);
    CHECK_MEM("not the tail", buf, "after", 5);

    /* recvmsg reports the truncation in msg_flags. */
    CHECK_EQ("send 9 bytes", roundtrip(fd, "truncated", 9), 9);
    struct iovec iov = {.iov_base = buf, .iov_len = 4};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_EQ("recvmsg into 4", recvmsg(fd, &mh, 0), 4);
    check("MSG_TRUNC in msg_flags", (mh.msg_flags & MSG_TRUNC) != 0, "flags %#x", mh.msg_flags);
    CHECK_EQ("send 4 bytes", roundtrip(fd, "full", 4), 4);
    iov.iov_len = 4;
    mh.msg_flags = -1;
    CHECK_EQ("recvmsg exactly 4", recvmsg(fd, &mh, 0), 4);
    CHECK_EQ("no MSG_TRUNC when it fits", mh.msg_flags & MSG_TRUNC, 0);

    /* recv(MSG_TRUNC): the real length, whatever the buffer. */
    CHECK_EQ("send 12 bytes", roundtrip(fd, "twelve bytes", 12), 12);
    CHECK_EQ("recv(MSG_TRUNC) says 12", recv(fd, buf, 3, MSG_TRUNC), 12);
    CHECK_MEM("and copied 3", buf, "twe", 3);

    /* MSG_PEEK leaves the whole message queued. */
    CHECK_EQ("send peek", roundtrip(fd, "peekaboo", 8), 8);
    CHECK_EQ("peek part", recv(fd, buf, 4, MSG_PEEK), 4);
    CHECK_EQ("peek all", recv(fd, buf, sizeof buf, MSG_PEEK), 8);
    CHECK_EQ("then read it", recv(fd, buf, sizeof buf, 0), 8);
    CHECK_MEM("same bytes", buf, "peekaboo", 8);

    /* A zero-length message reads as 0 and is a message, not the end. */
    CHECK_EQ("send empty", roundtrip(fd, "", 0), 0);
    CHECK_EQ("send last", roundtrip(fd, "last", 4), 4);
    iov.iov_len = sizeof buf;
    mh.msg_flags = -1;
    CHECK_EQ("empty message reads 0", recvmsg(fd, &mh, 0), 0);
    CHECK_EQ("without MSG_TRUNC", mh.msg_flags & MSG_TRUNC, 0);
    CHECK_EQ("the stream goes on", recv(fd, buf, sizeof buf, 0), 4);
    CHECK_MEM("with the next message", buf, "last", 4);

    /* Nothing queued: MSG_DONTWAIT is EAGAIN. */
    CHECK_ERR("nothing queued", recv(fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

    CHECK_EQ("send end", roundtrip(fd, "end", 3), 3);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    CHECK_EQ("echo child exited 0", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), 0);
    CHECK_EQ("end of file once the peer is gone", recv(fd, buf, sizeof buf, 0), 0);
    CHECK_ERR("EPIPE once the peer is gone", send(fd, "x", 1, MSG_NOSIGNAL), EPIPE);
    close(fd);
    return check_finish();
}
