/*
 * unix_names — AF_UNIX path and abstract names: bind, listen, connect and accept across fork
 * for stream and seqpacket, getsockname/getpeername/accept addresses, datagrams with sendto and
 * recvfrom naming the sender, autobind, EADDRINUSE, ECONNREFUSED, ENOENT, EINVAL.
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

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void server(const char *label, int type, struct sockaddr_un *a, socklen_t len)
{
    char name[96];
    int s = socket(AF_UNIX, type, 0);
    snprintf(name, sizeof name, "%s: bind", label);
    CHECK_OK(name, bind(s, (struct sockaddr *)a, len));
    snprintf(name, sizeof name, "%s: listen", label);
    CHECK_OK(name, listen(s, 4));
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    snprintf(name, sizeof name, "%s: getsockname", label);
    CHECK_OK(name, getsockname(s, (struct sockaddr *)&got, &gl));
    snprintf(name, sizeof name, "%s: its length", label);
    CHECK_EQ(name, gl, len);
    snprintf(name, sizeof name, "%s: its name", label);
    CHECK_MEM(name, got.sun_path, a->sun_path, len - offsetof(struct sockaddr_un, sun_path));
    int dup = socket(AF_UNIX, type, 0);
    snprintf(name, sizeof name, "%s: EADDRINUSE", label);
    CHECK_ERR(name, bind(dup, (struct sockaddr *)a, len), EADDRINUSE);
    close(dup);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(s);
        int c = socket(AF_UNIX, type, 0);
        if (connect(c, (struct sockaddr *)a, len) != 0)
            _exit(1);
        struct sockaddr_un peer;
        socklen_t pl = sizeof peer;
        if (getpeername(c, (struct sockaddr *)&peer, &pl) != 0 || pl != len)
            _exit(2);
        if (send(c, "ping", 4, 0) != 4)
            _exit(3);
        char buf[8];
        if (recv(c, buf, sizeof buf, 0) != 4 || memcmp(buf, "pong", 4) != 0)
            _exit(4);
        _exit(0);
    }
    struct sockaddr_un peer;
    socklen_t pl = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &pl);
    snprintf(name, sizeof name, "%s: accept", label);
    CHECK_OK(name, c);
    snprintf(name, sizeof name, "%s: an unnamed peer", label);
    CHECK_EQ(name, pl, offsetof(struct sockaddr_un, sun_path));
    char buf[8];
    snprintf(name, sizeof name, "%s: ping", label);
    CHECK_EQ(name, recv(c, buf, sizeof buf, 0), 4);
    snprintf(name, sizeof name, "%s: pong", label);
    CHECK_EQ(name, send(c, "pong", 4, 0), 4);
    snprintf(name, sizeof name, "%s: client across fork", label);
    CHECK_EQ(name, wait_child(pid), 0);
    close(c);
    close(s);
}

int main(void)
{
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, "stream.sock");
    server("path stream", SOCK_STREAM, &a, len);
    CHECK_OK("the socket file stays", access("stream.sock", F_OK));
    unlink("stream.sock");
    len = path_addr(&a, "seq.sock");
    server("path seqpacket", SOCK_SEQPACKET, &a, len);
    unlink("seq.sock");
    /* Abstract names are shared by the whole host: the pid keeps runs apart. */
    char abstract[64];
    snprintf(abstract, sizeof abstract, "elfvisor-net-abstract-%d", (int)getpid());
    len = abstract_addr(&a, abstract);
    server("abstract stream", SOCK_STREAM, &a, len);
    CHECK_ERR("no file for an abstract name", access(abstract, F_OK), ENOENT);

    /* Refusals. */
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    len = path_addr(&a, "missing.sock");
    CHECK_ERR("connect to a missing path", connect(c, (struct sockaddr *)&a, len), ENOENT);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    len = path_addr(&a, "unlistened.sock");
    CHECK_OK("bind without listen", bind(s, (struct sockaddr *)&a, len));
    CHECK_ERR("ECONNREFUSED", connect(c, (struct sockaddr *)&a, len), ECONNREFUSED);
    CHECK_ERR("address too long", bind(c, (struct sockaddr *)&a, sizeof a + 1), EINVAL);
    CHECK_ERR("address too short", bind(c, (struct sockaddr *)&a, 1), EINVAL);
    CHECK_ERR("address unreadable", bind(c, (struct sockaddr *)8, len), EFAULT);
    CHECK_ERR("ENOTCONN", send(c, "x", 1, MSG_NOSIGNAL), ENOTCONN);
    struct sockaddr_un peer;
    socklen_t pl = sizeof peer;
    CHECK_ERR("getpeername unconnected", getpeername(c, (struct sockaddr *)&peer, &pl), ENOTCONN);
    unlink("unlistened.sock");
    close(s);
    close(c);

    /* Datagrams name their sender; autobind gives an abstract name. */
    int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    len = path_addr(&a, "d1.sock");
    CHECK_OK("bind datagram", bind(d1, (struct sockaddr *)&a, len));
    struct sockaddr_un auto_addr = {.sun_family = AF_UNIX};
    CHECK_OK("autobind", bind(d2, (struct sockaddr *)&auto_addr, sizeof(sa_family_t)));
    socklen_t al = sizeof auto_addr;
    CHECK_OK("autobound name", getsockname(d2, (struct sockaddr *)&auto_addr, &al));
    CHECK_EQ("abstract, five hex digits", al, offsetof(struct sockaddr_un, sun_path) + 6);
    CHECK_EQ("leading NUL", auto_addr.sun_path[0], 0);
    CHECK_EQ("sendto a path", sendto(d2, "hi", 2, 0, (struct sockaddr *)&a, len), 2);
    char buf[8];
    pl = sizeof peer;
    CHECK_EQ("recvfrom", recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&peer, &pl), 2);
    CHECK_EQ("sender's name length", pl, al);
    CHECK_MEM("sender's name", peer.sun_path, auto_addr.sun_path, al - 2);
    CHECK_EQ("reply to it", sendto(d1, "yo", 2, 0, (struct sockaddr *)&peer, pl), 2);
    pl = 3;
    CHECK_EQ("recvfrom into a short address", recvfrom(d2, buf, sizeof buf, 0,
                                                      (struct sockaddr *)&peer, &pl), 2);
    CHECK_EQ("the full length is reported", pl, len);
    pl = (socklen_t)-1;
    CHECK_ERR("negative address length", getsockname(d1, (struct sockaddr *)&peer, &pl), EINVAL);
    unlink("d1.sock");
    close(d1);
    close(d2);
    return check_finish();
}
