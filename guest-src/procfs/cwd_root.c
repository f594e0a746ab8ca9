/*
 * /proc/self/cwd and /proc/self/root (fs/proc/base.c, proc_cwd_link, proc_root_link): cwd
 * follows chdir and fchdir, names a removed directory with " (deleted)", opens as the
 * directory itself; root is "/"; the same links under /proc/<pid>, thread-self and task/<tid>.
 */
#include "procfs.h"
#include <sys/stat.h>
#include <sys/syscall.h>

static char link_buf[4096];

static const char *link_of(const char *path)
{
    ssize_t n = readlink(path, link_buf, sizeof link_buf - 1);
    link_buf[n < 0 ? 0 : n] = 0;
    return n < 0 ? "(error)" : link_buf;
}

int main(void)
{
    char cwd[4096];
    NEED("getcwd", getcwd(cwd, sizeof cwd) != NULL);
    check("cwd names the working directory", strcmp(link_of("/proc/self/cwd"), cwd) == 0, "differs");
    out("root: %s\n", link_of("/proc/self/root"));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cwd", getpid());
    check("so does /proc/<pid>/cwd", strcmp(link_of(path), cwd) == 0, "differs");
    snprintf(path, sizeof path, "/proc/self/task/%d/cwd", (int)syscall(SYS_gettid));
    check("and the thread's", strcmp(link_of(path), cwd) == 0, "differs");
    check("and thread-self's", strcmp(link_of("/proc/thread-self/cwd"), cwd) == 0, "differs");

    NEED("a subdirectory", mkdir("sub", 0755) == 0);
    NEED("enter it", chdir("sub") == 0);
    char want[4200];
    snprintf(want, sizeof want, "%s/sub", cwd);
    check("cwd follows chdir", strcmp(link_of("/proc/self/cwd"), want) == 0, "differs");
    struct stat a, b;
    NEED("stat the link and .", stat("/proc/self/cwd", &a) == 0 && stat(".", &b) == 0);
    CHECK_EQ("stat through cwd is the directory", a.st_ino == b.st_ino && a.st_dev == b.st_dev, 1);
    int fd = open("/proc/self/cwd/..", O_RDONLY | O_DIRECTORY);
    CHECK_OK("open a path through cwd", fd);
    NEED("stat the parent", stat("..", &b) == 0 && fstat(fd, &a) == 0);
    CHECK_EQ("lands in the parent", a.st_ino == b.st_ino, 1);
    NEED("leave it", fchdir(fd) == 0);
    check("cwd follows fchdir", strcmp(link_of("/proc/self/cwd"), cwd) == 0, "differs");

    NEED("enter sub again", chdir("sub") == 0);
    NEED("remove it from under ourselves", rmdir(want) == 0);
    char deleted[4300];
    snprintf(deleted, sizeof deleted, "%s (deleted)", want);
    check("a removed cwd reads as deleted", strcmp(link_of("/proc/self/cwd"), deleted) == 0,
          "got a different text");
    char here[64];
    CHECK_ERR("getcwd of a removed directory", getcwd(here, sizeof here) == NULL ? -1 : 0, ENOENT);
    NEED("back to /", chdir("/") == 0);
    out("cwd at /: %s\n", link_of("/proc/self/cwd"));
    NEED("into /proc", chdir("/proc") == 0);
    out("cwd at /proc: %s\n", link_of("/proc/self/cwd"));
    char small[4];
    CHECK_EQ("readlink truncates without a NUL", readlink("/proc/self/cwd", small, sizeof small), 4);
    CHECK_MEM("the first four bytes", small, "/pro", 4);
    CHECK_ERR("readlink of a file that is no link", readlink("/proc/self/status", small, 4), EINVAL);
    return check_finish();
}
