/*
 * limits.h — what the memory-limit cases check once their limit is lowered: a thread with a
 * 1 MiB stack still starts, and a fork child sees the same limit.
 */
#ifndef ELFVISOR_EXHAUST_LIMITS_H
#define ELFVISOR_EXHAUST_LIMITS_H

#include "check.h"
#include <pthread.h>
#include <sys/wait.h>

static void *limits_thread_main(void *arg)
{
    return arg;
}

/* Starts and joins a thread with a 1 MiB stack ("a thread starts"), then runs `look` in a fork
 * child ("fork child") and checks, as `child_check`, that every check there passed. */
CHECK_UNUSED static void thread_and_fork_child(void (*look)(const char *), const char *child_check)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    CHECK_EQ("a thread starts", pthread_create(&t, &attr, limits_thread_main, NULL), 0);
    pthread_join(t, NULL);

    pid_t pid = fork_or_die();
    if (pid == 0) {
        look("fork child");
        _exit(check_failures ? 1 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK_EQ(child_check, WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
}

#endif
