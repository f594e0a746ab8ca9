/*
 * nproc — RLIMIT_NPROC reached: fork, vfork (posix_spawn), a thread and a fork bomb's worth of
 * attempts all fail with EAGAIN (copy_process), nothing is left half-made, and once the limit
 * is raised again a fork works, also in a process that is not dumpable. A privileged process ignores the limit (the gold lane runs
 * cases as root), so root first becomes nobody.
 */
#include "check.h"
#include <grp.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

static void *nothing(void *arg)
{
    return arg;
}

int main(void)
{
    if (getuid() == 0) {
        NEED("drop supplementary groups", setgroups(0, NULL) == 0);
        NEED("become nobody", setresgid(65534, 65534, 65534) == 0 &&
                                  setresuid(65534, 65534, 65534) == 0);
    }
    struct rlimit old;
    REQUIRE("getrlimit", getrlimit(RLIMIT_NPROC, &old) == 0);
    struct rlimit none = {.rlim_cur = 0, .rlim_max = old.rlim_max};
    CHECK_OK("RLIMIT_NPROC 0", setrlimit(RLIMIT_NPROC, &none));

    CHECK_ERR("fork", fork(), EAGAIN);
    pid_t pid = 0;
    char *argv[] = {"/nonexistent", NULL};
    CHECK_EQ("posix_spawn", posix_spawn(&pid, "/nonexistent", NULL, NULL, argv, environ), EAGAIN);
    pthread_t t;
    CHECK_EQ("pthread_create", pthread_create(&t, NULL, nothing, NULL), EAGAIN);

    int eagain = 0, other = 0, made = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        if (p > 0)
            made++;
        else if (errno == EAGAIN)
            eagain++;
        else
            other++;
    }
    CHECK_EQ("a bomb of 1000 forks: every one EAGAIN", eagain, 1000);
    CHECK_EQ("no child made", made, 0);
    CHECK_ERR("no child to wait for", waitpid(-1, NULL, WNOHANG), ECHILD);

    CHECK_OK("the limit raised again", setrlimit(RLIMIT_NPROC, &old));
    pid = fork_or_die();
    if (pid == 0)
        _exit(3);
    int st = 0;
    CHECK_EQ("a fork works", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3, 1);
    CHECK_EQ("and a thread", pthread_create(&t, NULL, nothing, NULL), 0);
    pthread_join(t, NULL);

    /* A process that is not dumpable forks too. */
    CHECK_OK("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
    pid = fork_or_die();
    if (pid == 0)
        _exit(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 4 : 5);
    CHECK_EQ("a fork of an undumpable process, undumpable too",
             waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 4, 1);
    return check_finish();
}
