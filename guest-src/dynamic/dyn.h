/*
 * dyn.h — helpers of the `dynamic` family: the program's own directory (where the harness puts
 * its tree of libraries and helper programs) and running a program of the tree with its output
 * captured. Nothing here prints a path: the tree lies elsewhere in every lane.
 */
#ifndef ELFVISOR_DYN_H
#define ELFVISOR_DYN_H

#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>

#define PAGE 4096UL
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))

/*
 * The size of the address space, TASK_SIZE: the power of two just above the stack, which Linux
 * puts at its top (2^48 with arm64's 48-bit VA; elfvisor's guest address space is smaller, and
 * places everything by the same formulas within it).
 */
CHECK_UNUSED static unsigned long task_size(void)
{
    int local;
    unsigned long top = 1;
    while (top <= (unsigned long)&local)
        top <<= 1;
    return top;
}

/* The directory holding this program, from /proc/self/exe, without a trailing slash. */
CHECK_UNUSED static const char *self_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        out("FAIL self_dir: readlink /proc/self/exe: %s\n", errname(errno));
        exit(1);
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return dir;
}

/* `<self_dir>/<rel>` in one of four rotating buffers. */
CHECK_UNUSED static const char *tree(const char *rel)
{
    static char bufs[4][2 * PATH_MAX];
    static int next;
    char *buf = bufs[next++ % 4];
    size_t dl = strlen(self_dir()), rl = strlen(rel);
    if (dl + 1 + rl >= sizeof bufs[0]) {
        out("FAIL tree: a path longer than %zu bytes\n", sizeof bufs[0]);
        exit(1);
    }
    memcpy(buf, self_dir(), dl);
    buf[dl] = '/';
    memcpy(buf + dl + 1, rel, rl + 1);
    return buf;
}

/* Replaces every occurrence of the program's directory in `text` by `$DIR`, in place. */
CHECK_UNUSED static void hide_dir(char *text, size_t size)
{
    const char *dir = self_dir();
    size_t dl = strlen(dir);
    char *at;
    while (dl && (at = strstr(text, dir))) {
        size_t rest = strlen(at + dl);
        if ((size_t)(at - text) + 4 + rest + 1 > size)
            break;
        memmove(at + 4, at + dl, rest + 1);
        memcpy(at, "$DIR", 4);
    }
}

/*
 * Runs `path` with `argv` and `envp` (in directory `cwd` when not NULL), its stdout captured
 * into `buf` (NUL-terminated, cut at `size - 1` bytes), its stderr inherited. Returns the wait
 * status, or -1 when the process could not be started.
 */
CHECK_UNUSED static int run_capture(const char *path, char *const argv[], char *const envp[],
                                    const char *cwd, char *buf, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (cwd && chdir(cwd) != 0)
            _exit(125);
        execve(path, argv, envp);
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        char scratch[512];
        char *dst = len + 1 < size ? buf + len : scratch;
        size_t room = len + 1 < size ? size - 1 - len : sizeof scratch;
        ssize_t n = read(fds[0], dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != scratch)
            len += (size_t)n;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

/* The exit status of a wait status, or 1000 + the signal of a killed process. */
CHECK_UNUSED static int exit_of(int status)
{
    if (status == -1)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

#endif
