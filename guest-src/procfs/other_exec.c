/*
 * Another process's /proc/<pid>/cmdline and environ follow its execve: a parent reads its
 * child's before and after the child runs a new image (this program again, with other
 * arguments and an environment of its own), and the child, after exec, reads its parent's.
 */
#include "procfs.h"

static char buf[8192];

static void show(const char *who, pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    long n = slurp(path, buf, sizeof buf);
    for (long i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = '|';
    out("%s %s: %s\n", who, name, n < 0 ? errname((int)-n) : buf);
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv)) {
        /* The new image: fd 3 and 4 are the turn pipes the parent handed down. */
        char c;
        if (read(3, &c, 1) != 1)
            return 91;
        show("the parent's, seen after exec,", getppid(), "cmdline");
        show("the exec'd child's own", getpid(), "cmdline");
        if (write(4, "t", 1) != 1)
            return 90;
        return read(3, &c, 1) == 1 ? 0 : 91;
    }
    int to_child[2], to_parent[2];
    NEED("pipes", pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        char c;
        if (read(to_child[0], &c, 1) != 1)
            _exit(91);
        NEED("the pipes at 3 and 4", dup2(to_child[0], 3) == 3 && dup2(to_parent[1], 4) == 4);
        char *args[] = { "renamed-child", CHILD_MODE, "after", "exec", NULL };
        char *env[] = { "ONLY=this", "AND=that", NULL };
        execve(self_exe(), args, env);
        _exit(127);
    }
    /* Only the child writes to the parent, and only the parent to the child: a child that
     * fails to exec ends the parent's wait. */
    close(to_parent[1]);
    close(to_child[0]);
    show("the child's, before exec,", pid, "cmdline");
    show("the child's, before exec,", pid, "environ");
    NEED("let it exec", write(to_child[1], "t", 1) == 1);
    NEED("let it read", write(to_child[1], "t", 1) == 1);
    char c;
    NEED("wait for it", read(to_parent[0], &c, 1) == 1);
    show("the child's, after exec,", pid, "cmdline");
    show("the child's, after exec,", pid, "environ");
    NEED("let it end", write(to_child[1], "t", 1) == 1);
    check_status("the child", pid, "exit 0");
    return check_finish();
}
