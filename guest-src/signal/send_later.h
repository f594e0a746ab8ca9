/*
 * send_later.h — a child that signals this process after a delay, for the signal cases that
 * need a signal to arrive while they block, and the reaping of that child.
 */
#ifndef ELFVISOR_SIGNAL_SEND_LATER_H
#define ELFVISOR_SIGNAL_SEND_LATER_H

#include "check.h"
#include <signal.h>
#include <sys/wait.h>

/* Forks a child that sends `sig` to this process after `ms` milliseconds, then exits. */
CHECK_UNUSED static pid_t send_later(int sig, int ms)
{
    pid_t parent = getpid();
    pid_t pid = fork_or_die();
    if (pid == 0) {
        usleep(ms * 1000);
        kill(parent, sig);
        _exit(0);
    }
    return pid;
}

/* Waits for that child, which must have exited. */
CHECK_UNUSED static void reap(pid_t pid)
{
    int status = 0;
    NEED("waitpid", waitpid(pid, &status, 0) == pid && WIFEXITED(status));
}

#endif
