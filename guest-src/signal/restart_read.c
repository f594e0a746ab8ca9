/*
 * A signal from another process interrupts a read blocked on an empty pipe: with SA_RESTART the
 * read resumes and returns the byte the handler wrote; without it the read fails with EINTR and
 * the byte waits in the pipe. SIGCHLD (default: ignored) interrupts nothing.
 */
#include "send_later.h"
#include <signal.h>
#include <sys/wait.h>

static int fds[2];

static void on_usr1(int sig)
{
    (void)sig;
    if (write(fds[1], "h", 1) != 1)
        _exit(3);
}

static void install(int flags)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    NEED("sigaction", sigaction(SIGUSR1, &sa, NULL) == 0);
}

int main(void)
{
    char c = 0;
    REQUIRE("pipe", pipe(fds) == 0);

    install(SA_RESTART);
    pid_t pid = send_later(SIGUSR1, 100);
    CHECK_EQ("SA_RESTART: the read resumes and returns one byte", read(fds[0], &c, 1), 1);
    CHECK_EQ("the byte is the handler's", c, 'h');
    reap(pid);

    install(0);
    pid = send_later(SIGUSR1, 100);
    CHECK_ERR("no SA_RESTART: the read fails with EINTR", read(fds[0], &c, 1), EINTR);
    c = 0;
    CHECK_EQ("the handler's byte waits in the pipe", read(fds[0], &c, 1) == 1 && c == 'h', 1);
    reap(pid);

    /* A child's exit (SIGCHLD, default action ignore) does not interrupt a blocked read. */
    pid = fork_or_die();
    if (pid == 0)
        _exit(0);
    pid_t writer = fork_or_die();
    if (writer == 0) {
        usleep(200 * 1000);
        if (write(fds[1], "w", 1) != 1)
            _exit(3);
        _exit(0);
    }
    CHECK_EQ("a child's exit does not interrupt the read", read(fds[0], &c, 1) == 1 && c == 'w', 1);
    reap(pid);
    reap(writer);
    return check_finish();
}
