/*
 * intr — blocking socket calls interrupted by a signal. Without a timeout the waits of accept,
 * recv and send restart under SA_RESTART (the handler makes them complete) and fail with EINTR
 * without it; a wait limited by SO_RCVTIMEO or SO_SNDTIMEO fails with EINTR even under
 * SA_RESTART, and one that runs out fails with EAGAIN. A connect waits while the listener's
 * backlog is full (`unix_stream_connect`), and is interrupted the same ways. The signals come
 * from a child that repeats them until it is stopped, so a wait is interrupted whenever it
 * starts.
 */
#include "check.h"
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

/* What the handler does, once, to let the interrupted call complete. */
enum action { NOTHING, WRITE_PEER, CONNECT, DRAIN_PEER, ACCEPT_ONE };

static volatile sig_atomic_t action_done;
static enum action action;
static int peer = -1;
static struct sockaddr_un listen_addr;
static socklen_t listen_len;

static void on_usr1(int sig)
{
    (void)sig;
    if (action_done)
        return;
    action_done = 1;
    int saved = errno;
    switch (action) {
    case NOTHING:
        break;
    case WRITE_PEER:
        if (send(peer, "h", 1, MSG_DONTWAIT) != 1)
            _exit(3);
        break;
    case CONNECT: {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&listen_addr, listen_len) != 0)
            _exit(4);
        break; /* left open: the connection waits in the backlog */
    }
    case ACCEPT_ONE:
        if (accept4(peer, NULL, NULL, SOCK_NONBLOCK) < 0)
            _exit(5);
        break; /* left open: only the backlog's room matters */
    case DRAIN_PEER: {
        char buf[4096];
        while (recv(peer, buf, sizeof buf, MSG_DONTWAIT) > 0)
            ;
        break;
    }
    }
    errno = saved;
}

static void install(int flags, enum action what)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    action = what;
    action_done = 0;
    NEED("sigaction", sigaction(SIGUSR1, &sa, NULL) == 0);
}

/* A child sending SIGUSR1 to this process over and over until it is killed. */
static pid_t pester(void)
{
    pid_t parent = getpid();
    pid_t pid = fork_or_die();
    if (pid == 0) {
        for (;;) {
            kill(parent, SIGUSR1);
            usleep(20 * 1000);
        }
    }
    return pid;
}

static void stop(pid_t pid)
{
    int st = 0;
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    NEED("pester killed", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* Fills a non-blocking stream socket until its buffer is full, then makes it blocking. */
static void fill(int fd)
{
    static char chunk[4096];
    int fl = fcntl(fd, F_GETFL);
    NEED("nonblocking", fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
    while (send(fd, chunk, sizeof chunk, 0) > 0)
        ;
    NEED("full", errno == EAGAIN);
    NEED("blocking", fcntl(fd, F_SETFL, fl) == 0);
}

static void set_timeo(int fd, int opt, long sec, long usec)
{
    struct timeval tv = {.tv_sec = sec, .tv_usec = usec};
    NEED("set timeout", setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

static int pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

int main(void)
{
    int sv[2];
    char c = 0;

    /* recv: SA_RESTART resumes the wait, and the handler's byte ends it. */
    REQUIRE("socketpair", pair(sv) == 0);
    peer = sv[1];
    install(SA_RESTART, WRITE_PEER);
    pid_t p = pester();
    CHECK_EQ("recv under SA_RESTART resumes", recv(sv[0], &c, 1, 0), 1);
    stop(p);
    CHECK_EQ("the byte is the handler's", c, 'h');

    install(0, NOTHING);
    p = pester();
    CHECK_ERR("recv without SA_RESTART: EINTR", recv(sv[0], &c, 1, 0), EINTR);
    stop(p);

    /* recvmsg alike. */
    install(0, NOTHING);
    p = pester();
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_ERR("recvmsg without SA_RESTART: EINTR", recvmsg(sv[0], &mh, 0), EINTR);
    stop(p);

    /* SO_RCVTIMEO: the limited wait is not restarted, even under SA_RESTART. */
    set_timeo(sv[0], SO_RCVTIMEO, 1000, 0);
    install(SA_RESTART, NOTHING);
    p = pester();
    CHECK_ERR("recv under SO_RCVTIMEO and SA_RESTART: EINTR", recv(sv[0], &c, 1, 0), EINTR);
    stop(p);
    set_timeo(sv[0], SO_RCVTIMEO, 0, 20 * 1000);
    CHECK_ERR("recv past SO_RCVTIMEO: EAGAIN", recv(sv[0], &c, 1, 0), EAGAIN);
    set_timeo(sv[0], SO_RCVTIMEO, 0, 0);

    /* send on a full buffer: SA_RESTART resumes, the handler makes room. */
    fill(sv[0]);
    install(SA_RESTART, DRAIN_PEER);
    p = pester();
    CHECK_EQ("send under SA_RESTART resumes", send(sv[0], "x", 1, 0), 1);
    stop(p);

    fill(sv[0]);
    install(0, NOTHING);
    p = pester();
    CHECK_ERR("send without SA_RESTART: EINTR", send(sv[0], "x", 1, 0), EINTR);
    stop(p);

    set_timeo(sv[0], SO_SNDTIMEO, 1000, 0);
    install(SA_RESTART, NOTHING);
    p = pester();
    CHECK_ERR("send under SO_SNDTIMEO and SA_RESTART: EINTR", send(sv[0], "x", 1, 0), EINTR);
    stop(p);
    set_timeo(sv[0], SO_SNDTIMEO, 0, 20 * 1000);
    CHECK_ERR("send past SO_SNDTIMEO: EAGAIN", send(sv[0], "x", 1, 0), EAGAIN);
    close(sv[0]);
    close(sv[1]);

    /* accept: SA_RESTART resumes, and the handler's connection ends the wait. */
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE("listener", srv >= 0);
    memset(&listen_addr, 0, sizeof listen_addr);
    listen_addr.sun_family = AF_UNIX;
    /* Abstract names are shared by the whole host: the pid keeps runs apart. */
    int n = snprintf(listen_addr.sun_path + 1, sizeof listen_addr.sun_path - 1,
                     "elfvisor-net-intr-%d", (int)getpid());
    listen_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    REQUIRE("bind", bind(srv, (struct sockaddr *)&listen_addr, listen_len) == 0);
    REQUIRE("listen", listen(srv, 4) == 0);
    install(SA_RESTART, CONNECT);
    p = pester();
    int conn = accept(srv, NULL, NULL);
    stop(p);
    CHECK_OK("accept under SA_RESTART resumes", conn);

    install(0, NOTHING);
    p = pester();
    CHECK_ERR("accept without SA_RESTART: EINTR", accept(srv, NULL, NULL), EINTR);
    stop(p);

    set_timeo(srv, SO_RCVTIMEO, 1000, 0);
    install(SA_RESTART, NOTHING);
    p = pester();
    CHECK_ERR("accept under SO_RCVTIMEO and SA_RESTART: EINTR", accept(srv, NULL, NULL), EINTR);
    stop(p);
    set_timeo(srv, SO_RCVTIMEO, 0, 20 * 1000);
    CHECK_ERR("accept past SO_RCVTIMEO: EAGAIN", accept(srv, NULL, NULL), EAGAIN);

    /* connect: a backlog of 0 holds one connection; the next connect waits for room. */
    set_timeo(srv, SO_RCVTIMEO, 0, 0);
    REQUIRE("backlog 0", listen(srv, 0) == 0);
    int c1 = socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE("first connect",
            c1 >= 0 && connect(c1, (struct sockaddr *)&listen_addr, listen_len) == 0);
    peer = srv;
    install(SA_RESTART, ACCEPT_ONE);
    p = pester();
    int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_OK("connect under SA_RESTART resumes",
             connect(c2, (struct sockaddr *)&listen_addr, listen_len));
    stop(p);

    install(0, NOTHING);
    p = pester();
    int c3 = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR("connect without SA_RESTART: EINTR",
              connect(c3, (struct sockaddr *)&listen_addr, listen_len), EINTR);
    stop(p);

    set_timeo(c3, SO_SNDTIMEO, 1000, 0);
    install(SA_RESTART, NOTHING);
    p = pester();
    CHECK_ERR("connect under SO_SNDTIMEO and SA_RESTART: EINTR",
              connect(c3, (struct sockaddr *)&listen_addr, listen_len), EINTR);
    stop(p);
    set_timeo(c3, SO_SNDTIMEO, 0, 20 * 1000);
    CHECK_ERR("connect past SO_SNDTIMEO: EAGAIN",
              connect(c3, (struct sockaddr *)&listen_addr, listen_len), EAGAIN);
    return check_finish();
}
