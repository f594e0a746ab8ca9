/*
 * sockets.c tcp COUNT | unix MIB — two processes over sockets:
 *   tcp:  a one-byte ping-pong over a TCP connection on 127.0.0.1 (TCP_NODELAY), COUNT round
 *         trips between a parent and its forked child;
 *   unix: MIB MiB written by a forked child into an AF_UNIX stream socket pair in 64 KiB
 *         writes, read by the parent in 64 KiB reads.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static int fail(const char *what)
{
    perror(what);
    return 1;
}

static int wait_ok(pid_t pid)
{
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int tcp(unsigned long rounds)
{
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (srv < 0 || bind(srv, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv, 1) != 0 ||
        getsockname(srv, (struct sockaddr *)&a, &len) != 0)
        return fail("sockets: listen");
    int one = 1;
    pid_t pid = fork();
    if (pid < 0)
        return fail("sockets: fork");
    if (pid == 0) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0)
            _exit(1);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char b;
        for (unsigned long i = 0; i < rounds; i++)
            if (recv(c, &b, 1, 0) != 1 || send(c, &b, 1, 0) != 1)
                _exit(1);
        _exit(0);
    }
    int s = accept(srv, NULL, NULL);
    if (s < 0)
        return fail("sockets: accept");
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b = 'x';
    for (unsigned long i = 0; i < rounds; i++)
        if (send(s, &b, 1, 0) != 1 || recv(s, &b, 1, 0) != 1)
            return fail("sockets: ping-pong");
    if (!wait_ok(pid)) {
        fprintf(stderr, "sockets: the child failed\n");
        return 1;
    }
    printf("sockets tcp: %lu round trips\n", rounds);
    return 0;
}

static int unix_stream(unsigned long mib)
{
    static char buf[CHUNK];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return fail("sockets: socketpair");
    unsigned long long total = (unsigned long long)mib << 20;
    pid_t pid = fork();
    if (pid < 0)
        return fail("sockets: fork");
    if (pid == 0) {
        close(sv[0]);
        memset(buf, 'u', sizeof buf);
        for (unsigned long long sent = 0; sent < total;) {
            ssize_t n = write(sv[1], buf, CHUNK);
            if (n <= 0)
                _exit(1);
            sent += (unsigned long long)n;
        }
        _exit(0);
    }
    close(sv[1]);
    unsigned long long got = 0;
    for (;;) {
        ssize_t n = read(sv[0], buf, sizeof buf);
        if (n < 0)
            return fail("sockets: read");
        if (n == 0)
            break;
        got += (unsigned long long)n;
    }
    if (!wait_ok(pid) || got != total) {
        fprintf(stderr, "sockets: %llu of %llu bytes\n", got, total);
        return 1;
    }
    printf("sockets unix: %lu MiB\n", mib);
    return 0;
}

int main(int argc, char **argv)
{
    char *end;
    unsigned long n = argc == 3 ? strtoul(argv[2], &end, 10) : 0;
    if (argc != 3 || *argv[2] == '\0' || *end != '\0' || n == 0) {
        fprintf(stderr, "usage: %s tcp COUNT | unix MIB\n", argc > 0 ? argv[0] : "sockets");
        return 2;
    }
    if (strcmp(argv[1], "tcp") == 0)
        return tcp(n);
    if (strcmp(argv[1], "unix") == 0)
        return unix_stream(n);
    fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
    return 2;
}
