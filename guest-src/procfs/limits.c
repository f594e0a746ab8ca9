/*
 * /proc/self/limits (fs/proc/base.c, proc_pid_limits): the header, sixteen limits by name in
 * Linux's order, and the soft and hard values the process set with setrlimit, "unlimited"
 * spelled out, in fixed-width columns; a fork child's file shows the limits it inherited.
 */
#include "procfs.h"
#include <sys/resource.h>

static char buf[8192];

static const char *names[] = {
    "Max cpu time", "Max file size", "Max data size", "Max stack size", "Max core file size",
    "Max resident set", "Max processes", "Max open files", "Max locked memory",
    "Max address space", "Max file locks", "Max pending signals", "Max msgqueue size",
    "Max nice priority", "Max realtime priority", "Max realtime timeout",
};

/* The line of a limit, without its newline. */
static const char *line_of(const char *name)
{
    static char line[128];
    line[0] = 0;
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ' ') {
            snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
            break;
        }
    return line;
}

static void show(const char *name)
{
    out("%s\n", line_of(name));
}

int main(void)
{
    struct rlimit nofile = { 100, 200 }, core = { 0, RLIM_INFINITY }, fsize = { 1 << 20, 1 << 30 };
    struct rlimit cpu = { 30, 60 }, msgq = { 4096, 8192 };
    NEED("set limits", setrlimit(RLIMIT_NOFILE, &nofile) == 0 && setrlimit(RLIMIT_CORE, &core) == 0 &&
                           setrlimit(RLIMIT_FSIZE, &fsize) == 0 && setrlimit(RLIMIT_CPU, &cpu) == 0 &&
                           setrlimit(RLIMIT_MSGQUEUE, &msgq) == 0);
    long n = slurp("/proc/self/limits", buf, sizeof buf);
    CHECK_OK("read /proc/self/limits", n);
    out("%.*s\n", (int)strcspn(buf, "\n"), buf);
    int lines = 0, in_order = 1;
    const char *p = strchr(buf, '\n');
    for (size_t i = 0; p && p[1]; i++, p = strchr(p + 1, '\n')) {
        lines++;
        if (i >= sizeof names / sizeof *names || strncmp(p + 1, names[i], strlen(names[i])) != 0)
            in_order = 0;
    }
    CHECK_EQ("sixteen limits", lines, 16);
    CHECK_EQ("named in Linux's order", in_order, 1);
    show("Max open files");
    show("Max core file size");
    show("Max file size");
    show("Max cpu time");
    show("Max msgqueue size");

    pid_t pid = fork_child();
    if (pid == 0) {
        struct rlimit lower = { 50, 200 };
        NEED("lower a limit", setrlimit(RLIMIT_NOFILE, &lower) == 0);
        slurp("/proc/self/limits", buf, sizeof buf);
        show("Max open files");
        show("Max cpu time");
        child_exit();
    }
    check_status("the child", pid, "exit 0");
    slurp("/proc/self/limits", buf, sizeof buf);
    show("Max open files");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/limits", getpid());
    slurp(path, buf, sizeof buf);
    show("Max core file size");
    return check_finish();
}
