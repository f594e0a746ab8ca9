/*
 * libspawn.so: a library that starts processes — fork (the child calls back into the library
 * and exits), fork then execve of a program of the tree, vfork then execve, posix_spawn — and
 * answers each child's exit status. A counter in the library's data shows each child's copy.
 */
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int counter = 10;

int spawn_counter(void)
{
    return counter;
}

static int wait_status(pid_t pid)
{
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

/* A child that changes the counter, calls the library and exits with what it sees. */
int spawn_fork(void)
{
    counter++;
    pid_t pid = fork();
    if (pid == 0) {
        counter += 5;
        _exit(spawn_counter());
    }
    return wait_status(pid);
}

/* fork, then execve `path` with `arg`. */
int spawn_exec(const char *path, const char *arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)path, (char *)arg, NULL};
        execve(path, argv, environ);
        _exit(126);
    }
    return wait_status(pid);
}

/* vfork, then execve `path` with `arg`. */
int spawn_vfork(const char *path, const char *arg)
{
    char *argv[] = {(char *)path, (char *)arg, NULL};
    pid_t pid = vfork();
    if (pid == 0) {
        execve(path, argv, environ);
        _exit(126);
    }
    return wait_status(pid);
}

/* posix_spawn of `path` with `arg`. */
int spawn_posix(const char *path, const char *arg)
{
    char *argv[] = {(char *)path, (char *)arg, NULL};
    pid_t pid;
    if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0)
        return -1;
    return wait_status(pid);
}
