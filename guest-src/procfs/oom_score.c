/*
 * /proc/self/oom_score_adj and oom_adj (fs/proc/base.c, __set_oom_adj): reads as written,
 * oom_adj scaled from it (adj * 17 / 1000, rounded toward zero) and the other way round, the
 * range checks (EINVAL), text that is not a number, and a fork child inheriting the value. Only raises: lowering needs CAP_SYS_RESOURCE, which a
 * lane's root may lack.
 */
#include "procfs.h"

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : (int)n;
}

static const char *text_of(const char *path)
{
    static char b[64];
    long n = slurp(path, b, sizeof b);
    return n < 0 ? "(error)\n" : b;
}

int main(void)
{
    out("oom_score_adj at start: %s", text_of("/proc/self/oom_score_adj"));
    out("oom_adj at start: %s", text_of("/proc/self/oom_adj"));
    CHECK_EQ("write 100", write_text("/proc/self/oom_score_adj", "100"), 3);
    out("oom_score_adj: %s", text_of("/proc/self/oom_score_adj"));
    out("oom_adj: %s", text_of("/proc/self/oom_adj"));
    CHECK_EQ("write 500 with a newline", write_text("/proc/self/oom_score_adj", "500\n"), 4);
    out("oom_score_adj: %s", text_of("/proc/self/oom_score_adj"));
    out("oom_adj: %s", text_of("/proc/self/oom_adj"));
    CHECK_EQ("write oom_adj 10", write_text("/proc/self/oom_adj", "10"), 2);
    out("oom_score_adj after oom_adj 10: %s", text_of("/proc/self/oom_score_adj"));
    CHECK_EQ("write oom_adj 15", write_text("/proc/self/oom_adj", "15"), 2);
    out("oom_score_adj after oom_adj 15: %s", text_of("/proc/self/oom_score_adj"));
    CHECK_ERR("oom_score_adj past 1000", write_text("/proc/self/oom_score_adj", "1001"), EINVAL);
    CHECK_ERR("oom_score_adj below -1000", write_text("/proc/self/oom_score_adj", "-1001"), EINVAL);
    CHECK_ERR("oom_score_adj that is not a number", write_text("/proc/self/oom_score_adj", "lots"), EINVAL);
    CHECK_ERR("oom_adj past 15", write_text("/proc/self/oom_adj", "16"), EINVAL);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/oom_score_adj", getpid());
    CHECK_EQ("write 1000 through /proc/<pid>", write_text(path, "1000"), 4);
    out("oom_score_adj: %s", text_of("/proc/self/oom_score_adj"));
    out("oom_adj: %s", text_of("/proc/self/oom_adj"));
    long score = atol(text_of("/proc/self/oom_score"));
    check("oom_score at the maximum adjustment", score >= 1000 && score <= 2000, "%ld", score);

    pid_t pid = fork_child();
    if (pid == 0) {
        out("the child inherits: %s", text_of("/proc/self/oom_score_adj"));
        child_exit();
    }
    check_status("the child", pid, "exit 0");
    return check_finish();
}
