/*
 * rights_relay — SCM_RIGHTS between two processes that share no descriptor: one child connects
 * to a path-named socket the other child listens on and sends it a pipe's read end, an open file
 * (its offset shared) and one end of a socket pair; the receiver execs this program, whose new
 * image uses all three (descriptors received without MSG_CMSG_CLOEXEC survive exec) and sends a
 * descriptor back through the passed socket. The children report through their exit statuses.
 */
#include "../fork/fork.h"
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define SOCK_PATH "relay.sock"

static socklen_t path_addr(struct sockaddr_un *a)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, SOCK_PATH);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof SOCK_PATH);
}

/* Sends one byte with `n` descriptors; returns the byte count. */
static ssize_t send_fds(int sock, const int *fds, int n)
{
    char byte = 'r';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
    return sendmsg(sock, &mh, 0);
}

/* Receives one byte and up to 4 descriptors into `fds`; returns how many came, or -1. */
static int recv_fds(int sock, int *fds)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    if (recvmsg(sock, &mh, 0) != 1 || (mh.msg_flags & MSG_CTRUNC))
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    memcpy(fds, CMSG_DATA(c), (size_t)n * sizeof(int));
    return n;
}

/* Reads to end of file into `buf` (room `cap`); returns the length or -1. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return (ssize_t)got;
        got += (size_t)n;
    }
}

/* The receiver's new image: argv = <case> child-mode <pipe> <file> <socket>. */
static int image(int argc, char **argv)
{
    if (argc != 5)
        return 10;
    int pipe_rd = atoi(argv[2]), file = atoi(argv[3]), sock = atoi(argv[4]);
    char buf[64];
    ssize_t n = read_all(pipe_rd, buf, sizeof buf);
    if (n != 10 || memcmp(buf, "pipe-bytes", 10) != 0)
        return 11;
    /* The sender's write moved the offset this descriptor shares. */
    if (lseek(file, 0, SEEK_CUR) != 10)
        return 12;
    if (pread(file, buf, sizeof buf, 0) != 10 || memcmp(buf, "file-bytes", 10) != 0)
        return 13;
    int st;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &st, &(socklen_t){sizeof st}) != 0 ||
        st != SOCK_STREAM)
        return 14;
    /* A descriptor back: a pipe holding "back", through the passed socket. */
    int p[2];
    if (pipe(p) != 0 || write(p[1], "back", 4) != 4)
        return 15;
    close(p[1]);
    if (send_fds(sock, &p[0], 1) != 1)
        return 16;
    return 0;
}

/* Listens on SOCK_PATH, takes three descriptors from the first connection, execs the image. */
static void receiver(const char *exe)
{
    struct sockaddr_un a;
    socklen_t len = path_addr(&a);
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    if (srv < 0 || bind(srv, (struct sockaddr *)&a, len) != 0 || listen(srv, 1) != 0)
        _exit(20);
    int c = accept(srv, NULL, NULL);
    if (c < 0)
        _exit(21);
    int fds[4];
    if (recv_fds(c, fds) != 3)
        _exit(22);
    for (int i = 0; i < 3; i++)
        if (fcntl(fds[i], F_GETFD) != 0)
            _exit(23);
    close(c);
    close(srv);
    char args[3][16];
    for (int i = 0; i < 3; i++)
        snprintf(args[i], sizeof args[i], "%d", fds[i]);
    char *argv2[] = {"rights_relay", CHILD_MODE, args[0], args[1], args[2], NULL};
    execv(exe, argv2);
    _exit(24);
}

/* Connects (retrying until the receiver listens), sends the three, then reads the answer. */
static void sender(void)
{
    int p[2], sv[2];
    if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        _exit(30);
    int file = open("relay.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (file < 0 || write(file, "file-bytes", 10) != 10)
        _exit(31);
    struct sockaddr_un a;
    socklen_t len = path_addr(&a);
    int s = -1;
    for (int tries = 0; tries < 2000; tries++) {
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            _exit(32);
        if (connect(s, (struct sockaddr *)&a, len) == 0)
            break;
        if (errno != ENOENT && errno != ECONNREFUSED)
            _exit(33);
        close(s);
        s = -1;
        usleep(5 * 1000);
    }
    if (s < 0)
        _exit(34);
    int give[3] = {p[0], file, sv[1]};
    if (send_fds(s, give, 3) != 1)
        _exit(35);
    close(p[0]);
    close(file);
    close(sv[1]);
    close(s);
    if (write(p[1], "pipe-bytes", 10) != 10)
        _exit(36);
    close(p[1]);
    int back[4];
    if (recv_fds(sv[0], back) != 1)
        _exit(37);
    char buf[16];
    ssize_t n = read_all(back[0], buf, sizeof buf);
    if (n != 4 || memcmp(buf, "back", 4) != 0)
        _exit(38);
    /* The image has exited: its end of the pair is gone. */
    if (read_all(sv[0], buf, sizeof buf) != 0)
        _exit(39);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    const char *exe = self_exe();
    pid_t rx = fork_child();
    if (rx == 0)
        receiver(exe);
    pid_t tx = fork_child();
    if (tx == 0)
        sender();
    check_status("the sender relayed and got a descriptor back", tx, "exit 0");
    check_status("the receiver's image used all three", rx, "exit 0");
    CHECK_EQ("the socket file stays", access(SOCK_PATH, F_OK), 0);
    return check_finish();
}
