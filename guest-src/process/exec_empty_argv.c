/*
 * execve with an empty argv: Linux (5.18 on) never starts a program with argc 0 but puts in
 * one empty argument; the new image's name is the last part of the path execve was given.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/wait.h>

extern char **environ;

static void image(int argc, char **argv)
{
    CHECK_EQ("image: argc is 1", argc, 1);
    check("image: argv[0] is empty", argc >= 1 && argv[0] && argv[0][0] == 0, "not empty");
    check("image: argv ends after it", argc < 1 || argv[argc] == NULL, "no NULL");
    char buf[32] = {0};
    int fd = open("/proc/self/comm", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    check("image: /proc/self/comm is the path's last part", n == 4 && memcmp(buf, "exe\n", 4) == 0,
          "read %zd", n);
    check_finish();
}

int main(int argc, char **argv)
{
    if (getenv("EXEC_EMPTY_ARGV_IMAGE")) {
        image(argc, argv);
        return 0;
    }
    pid_t pid = fork_or_die();
    if (pid == 0) {
        char *argv0[] = {NULL};
        char *envp[] = {"EXEC_EMPTY_ARGV_IMAGE=1", NULL};
        execve("/proc/self/exe", argv0, envp);
        _exit(127);
    }
    int status = 0;
    CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
    CHECK_EQ("the image ran and exited 0", status, 0);
    return check_finish();
}
