/*
 * sigchld_flood — 500 children exit while their parent has a SIGCHLD handler (SA_RESTART) and
 * keeps making system calls: every child is reaped with its own status, the handler runs at
 * least once and at most once per child (SIGCHLD is not queued), the parent's own calls are
 * never disturbed, and nothing is left to wait for.
 */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>

#define CHILDREN 500

static volatile sig_atomic_t handled;
static pid_t pids[CHILDREN];

static void on_chld(int sig)
{
    (void)sig;
    handled++;
}

int main(void)
{
    struct sigaction sa = {.sa_handler = on_chld, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);

    int made = 0, echo_bad = 0;
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(i % 200);
        if (pid < 0)
            break;
        pids[made++] = pid;
        /* The parent's own calls go on while children die around it. */
        char c = (char)i, back = 0;
        if (write(p[1], &c, 1) != 1 || read(p[0], &back, 1) != 1 || back != c)
            echo_bad++;
    }
    CHECK_EQ("500 children", made, CHILDREN);
    CHECK_EQ("every pipe round trip on the way", echo_bad, 0);

    int reaped = 0, wrong = 0, eintr = 0;
    while (reaped < made) {
        int st = 0;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0) {
            if (errno == EINTR) {
                eintr++;
                continue;
            }
            break;
        }
        int i = 0;
        while (i < made && pids[i] != w)
            i++;
        if (i == made || !WIFEXITED(st) || WEXITSTATUS(st) != i % 200)
            wrong++;
        reaped++;
    }
    CHECK_EQ("every child reaped", reaped, CHILDREN);
    CHECK_EQ("each with its own status", wrong, 0);
    CHECK_EQ("waitpid restarted, never EINTR", eintr, 0);
    CHECK_ERR("nothing left", waitpid(-1, NULL, WNOHANG), ECHILD);
    int h = handled;
    CHECK_EQ("the handler ran, at most once per child", h >= 1 && h <= CHILDREN, 1);
    return check_finish();
}
