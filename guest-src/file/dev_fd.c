/* /proc/self/fd/N (what /dev/fd/N and /dev/stdin link to) names the process's own descriptor N:
 * opening one reopens that file or pipe (bash's process substitution), a closed N is ENOENT.
 * The case goes through /proc itself, which every lane has, whatever links its /dev holds. */
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int read_all(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len);
    close(fd);
    return (int)n;
}

int main(void)
{
    int fd = open("a.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0);
    REQUIRE("write", write(fd, "file-a", 6) == 6);
    char path[64], buf[32];

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("/proc/self/fd/N reopens the file", read_all(path, buf, sizeof buf), 6);
    CHECK_MEM("the same bytes", buf, "file-a", 6);
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), fd);
    CHECK_EQ("/proc/<pid>/fd/N too", read_all(path, buf, sizeof buf), 6);

    struct stat a, b;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    CHECK_OK("stat of /proc/self/fd/N", stat(path, &a));
    CHECK_OK("fstat of N", fstat(fd, &b));
    check("they are the same file", a.st_ino == b.st_ino && a.st_dev == b.st_dev, "differ");
    char link[PATH_MAX], want[PATH_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    CHECK_EQ("readlink of /proc/self/fd/N", n > 0, 1);
    link[n > 0 ? n : 0] = 0;
    REQUIRE("getcwd", getcwd(want, sizeof want - 8) != NULL);
    strcat(want, "/a.txt");
    check("it names the file", strcmp(link, want) == 0, "another target");

    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        close(p[0]);
        write(p[1], "from-child", 10);
        _exit(0);
    }
    close(p[1]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    memset(buf, 0, sizeof buf);
    int pfd = open(path, O_RDONLY);
    CHECK_EQ("/proc/self/fd/N of a pipe opens", pfd >= 0, 1);
    CHECK_EQ("it reads what the child wrote", read(pfd, buf, sizeof buf), 10);
    CHECK_MEM("the child's bytes", buf, "from-child", 10);
    close(pfd);
    int status;
    CHECK_EQ("wait", waitpid(pid, &status, 0), pid);

    CHECK_EQ("dup2 the file onto 0", dup2(fd, 0), 0);
    memset(buf, 0, sizeof buf);
    CHECK_EQ("/proc/self/fd/0 is the new 0", read_all("/proc/self/fd/0", buf, sizeof buf), 6);
    CHECK_MEM("the file's bytes", buf, "file-a", 6);

    CHECK_ERR("a closed N is ENOENT", open("/proc/self/fd/99", O_RDONLY), ENOENT);
    CHECK_ERR("a closed N through /proc/thread-self", open("/proc/thread-self/fd/99", O_RDONLY), ENOENT);
    snprintf(path, sizeof path, "/proc/self/fd/0%d", fd);
    CHECK_ERR("a leading zero is ENOENT", open(path, O_RDONLY), ENOENT);
    snprintf(path, sizeof path, "/proc/self/fd/%d/x", fd);
    CHECK_ERR("a file's N is no directory", open(path, O_RDONLY), ENOTDIR);
    unlink("a.txt");
    return check_finish();
}
