/*
 * chroot as root (fs/open.c, SYSCALL_DEFINE1(chroot); fs/namei.c, follow_dotdot; fs/d_path.c,
 * getcwd): in a child, the directory becomes "/" for every path — absolute names, absolute
 * symlinks and ".." at the root stay inside; a relative name from a working directory left
 * outside still reaches outside, and getcwd shows it as "(unreachable)" and its old path;
 * after chdir("/") the working directory is the root, and ".." there stays. A fork child and
 * an exec'd program (a copy of this one inside the root) keep the root. As nobody: EPERM.
 */
#include "fs2.h"
#include <sys/syscall.h>

static char old_cwd[4096];

static long raw_getcwd(char *buf, size_t size)
{
    return syscall(SYS_getcwd, buf, size);
}

static void show_cwd(const char *when)
{
    char buf[4096];
    long n = raw_getcwd(buf, sizeof buf);
    if (n < 0) {
        out("getcwd %s: %s\n", when, errname(errno));
        return;
    }
    const char *u = "(unreachable)";
    if (strncmp(buf, u, strlen(u)) == 0 && strcmp(buf + strlen(u), old_cwd) == 0)
        out("getcwd %s: (unreachable) and the old working directory\n", when);
    else
        out("getcwd %s: %s\n", when, buf);
}

static void show_file(const char *path)
{
    char buf[32] = { 0 };
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        out("open %s: %s\n", path, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    out("open %s: \"%.*s\"\n", path, (int)(n > 0 ? n : 0), buf);
}

static void not_root(void)
{
    CHECK_ERR("chroot as nobody", chroot("nr"), EPERM);
}

static int put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0)
        return 0;
    int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    return close(fd) == 0 && ok;
}

static int copy(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || outfd < 0)
        return 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(outfd, buf, (size_t)n) != n)
            return 0;
    close(in);
    return close(outfd) == 0 && n == 0;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv)) {
        /* The exec'd copy, inside the root. */
        show_cwd("in the exec'd program");
        show_file("/file");
        show_file("/../file");
        return check_finish();
    }
    enter_shm_dir();
    NEED("the working directory", getcwd(old_cwd, sizeof old_cwd) != NULL);
    NEED("a new root", mkdir("nr", 0755) == 0 && mkdir("nr/d", 0755) == 0);
    NEED("a file in it", put("nr/file", "inside"));
    NEED("a file outside it", put("outside", "outside"));
    NEED("an absolute link in it", symlink("/file", "nr/abs") == 0);
    NEED("a link climbing out", symlink("../../../../..", "nr/d/up") == 0);
    NEED("a copy of this program in it", copy(self_exe(), "nr/prog"));

    as_nobody("the capability", not_root);

    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_OK("chroot", chroot("nr"));
        show_file("/file");
        show_file("/abs");
        show_file("/../../file");
        show_file("/d/up/file");
        show_file("/outside");
        show_file("outside");
        show_cwd("before chdir");
        CHECK_OK("chdir to the root", chdir("/"));
        show_cwd("at the root");
        CHECK_OK("chdir ..", chdir(".."));
        show_cwd("after chdir .. at the root");
        show_file("file");
        CHECK_OK("chdir d", chdir("d"));
        show_cwd("in d");
        show_file("../file");
        show_file("../../file");
        CHECK_OK("mkdir inside", mkdir("/made", 0755));
        CHECK_OK("chroot again, to a directory inside", chroot("/d"));
        show_cwd("in the inner root");
        show_file("/file");
        show_file("/up/file");
        CHECK_OK("chroot back out is not possible: chroot(\"..\")", chroot(".."));
        show_file("/file");
        child_exit();
    }
    check_status("the chrooted child", pid, "exit 0");
    struct stat st;
    CHECK_OK("its mkdir made nr/made", stat("nr/made", &st));

    pid = fork_child();
    if (pid == 0) {
        NEED("chroot", chroot("nr") == 0 && chdir("/d") == 0);
        pid_t grandchild = fork_child();
        if (grandchild == 0) {
            show_cwd("in a fork child");
            show_file("/file");
            child_exit();
        }
        check_status("the fork child", grandchild, "exit 0");
        pid_t execd = fork_child();
        if (execd == 0) {
            execl("/prog", "prog", CHILD_MODE, (char *)NULL);
            out("execl /prog: %s\n", errname(errno));
            _exit(1);
        }
        check_status("the exec'd program", execd, "exit 0");
        child_exit();
    }
    check_status("the child that forks and execs", pid, "exit 0");
    rmdir("nr/made");
    unlink("nr/d/up");
    rmdir("nr/d");
    leave_shm_dir();
    return check_finish();
}
