/*
 * File descriptors across fork: the child's fds share open file descriptions with the parent's
 * (one offset, one set of status flags such as O_APPEND, also through a dup2'd fd), while the
 * fd flags (FD_CLOEXEC) and the fd table are per process: closing or dup2'ing in one side
 * leaves the other's fds alone, and a pipe stays open while either side holds an end.
 */
#include "fork.h"

static void check_read(const char *name, int fd, const char *want)
{
    char got[32] = {0};
    ssize_t n = read(fd, got, strlen(want));
    check(name, n == (ssize_t)strlen(want) && strcmp(got, want) == 0, "read %zd \"%s\"", n, got);
}

int main(void)
{
    int fd = open("digits", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create a file", fd >= 0 && write(fd, "0123456789", 10) == 10);
    REQUIRE("rewind", lseek(fd, 0, SEEK_SET) == 0);
    int other = open("digits", O_RDONLY);
    REQUIRE("a second open", other >= 0);
    REQUIRE("dup2 onto fd 10", dup2(fd, 10) == 10);
    int p[2], redirect[2];
    REQUIRE("pipes", pipe(p) == 0 && pipe(redirect) == 0);

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        check_read("child: read 3 bytes", fd, "012");
        CHECK_OK("child: F_SETFD FD_CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC));
        CHECK_OK("child: F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
        CHECK_OK("child: close the second open", close(other));
        CHECK_OK("child: close fd 10", close(10));
        CHECK_OK("child: close its pipe read end", close(p[0]));
        pass_to_parent(&t);
        wait_for_parent(&t);
        CHECK_EQ("child: the parent's lseek moved its offset", lseek(fd, 0, SEEK_CUR), 1);
        CHECK_ERR("child: fd 10 stays closed", fcntl(10, F_GETFD), EBADF);
        CHECK_EQ("child: its FD_CLOEXEC is still set", fcntl(fd, F_GETFD), FD_CLOEXEC);
        /* From here on the child's stdout is the pipe: it prints nothing more. */
        if (dup2(redirect[1], 1) != 1 || write(1, "to the pipe", 11) != 11)
            _exit(2);
        child_exit();
    }
    wait_for_child(&t);
    check_read("parent: reads on where the child stopped", fd, "345");
    check_read("parent: fd 10 shares that offset", 10, "678");
    CHECK_EQ("parent: FD_CLOEXEC is per fd: still clear", fcntl(fd, F_GETFD), 0);
    check("parent: O_APPEND is shared: set by the child", (fcntl(fd, F_GETFL) & O_APPEND) != 0,
          "flags %#x", fcntl(fd, F_GETFL));
    check("parent: fd 10 shares the status flags", (fcntl(10, F_GETFL) & O_APPEND) != 0,
          "flags %#x", fcntl(10, F_GETFL));
    check_read("parent: the second open is still open, at its own offset", other, "01");
    CHECK_EQ("parent: the pipe still has a reader: write", write(p[1], "ab", 2), 2);
    check_read("parent: and read back", p[0], "ab");
    CHECK_OK("parent: lseek to 1", lseek(fd, 1, SEEK_SET));
    pass_to_child(&t);
    check_status("child exited 0", pid, "exit 0");
    close(redirect[1]);
    check_read("the child's stdout went to the pipe", redirect[0], "to the pipe");
    CHECK_EQ("parent: its fd 10 is still open", fcntl(10, F_GETFD), 0);
    return check_finish();
}
