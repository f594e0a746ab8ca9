/*
 * prctl options past the task name: PR_SET_NAME shows in /proc/self/comm and
 * /proc/self/task/<tid>/comm; a new thread starts with its creator's name and renames only
 * itself; a forked child keeps the name; the parent-death signal (PR_SET_PDEATHSIG, a signal
 * past _NSIG is EINVAL, a forked child starts without one) and the timer slack (PR_SET_TIMERSLACK,
 * 0 restores the default) are kept and reported back.
 */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The contents of a /proc comm file, without its newline, into buf. */
static const char *read_comm(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return "(cannot open)";
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return "(empty)";
    buf[n] = 0;
    if (buf[n - 1] == '\n')
        buf[n - 1] = 0;
    return buf;
}

static const char *task_comm(long tid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
    return read_comm(path, buf, size);
}

static long leader;

static void *thread_main(void *arg)
{
    (void)arg;
    char buf[32], name[17] = {0};
    long me = syscall(SYS_gettid);
    CHECK_OK("thread: PR_GET_NAME", prctl(PR_GET_NAME, name));
    CHECK_MEM("thread: starts with its creator's name", name, "renamed-main", 13);
    const char *c = task_comm(me, buf, sizeof buf);
    check("thread: its task comm is its creator's name", strcmp(c, "renamed-main") == 0,
          "\"%s\"", c);
    CHECK_OK("thread: PR_SET_NAME", prctl(PR_SET_NAME, "worker-thread"));
    c = task_comm(me, buf, sizeof buf);
    check("thread: its task comm is its new name", strcmp(c, "worker-thread") == 0, "\"%s\"", c);
    c = task_comm(leader, buf, sizeof buf);
    check("thread: the leader's task comm is unchanged", strcmp(c, "renamed-main") == 0, "\"%s\"",
          c);
    c = read_comm("/proc/self/comm", buf, sizeof buf);
    check("thread: /proc/self/comm is the leader's", strcmp(c, "renamed-main") == 0, "\"%s\"", c);
    return NULL;
}

int main(void)
{
    char buf[32];
    leader = syscall(SYS_gettid);
    const char *c;
    CHECK_OK("PR_SET_NAME", prctl(PR_SET_NAME, "renamed-main-with-a-long-tail"));
    c = read_comm("/proc/self/comm", buf, sizeof buf);
    check("/proc/self/comm shows the name cut at 15 bytes", strcmp(c, "renamed-main-wi") == 0,
          "\"%s\"", c);
    CHECK_OK("PR_SET_NAME again", prctl(PR_SET_NAME, "renamed-main"));
    c = task_comm(leader, buf, sizeof buf);
    check("/proc/self/task/<tid>/comm shows it", strcmp(c, "renamed-main") == 0, "\"%s\"", c);

    pthread_t t;
    NEED("pthread_create", pthread_create(&t, NULL, thread_main, NULL) == 0);
    REQUIRE("pthread_join", pthread_join(t, NULL) == 0);

    int sig = -1;
    CHECK_OK("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &sig));
    CHECK_EQ("no parent-death signal at first", sig, 0);
    CHECK_OK("PR_SET_PDEATHSIG SIGUSR1", prctl(PR_SET_PDEATHSIG, SIGUSR1));
    CHECK_OK("PR_GET_PDEATHSIG again", prctl(PR_GET_PDEATHSIG, &sig));
    CHECK_EQ("the parent-death signal is SIGUSR1", sig, SIGUSR1);
    CHECK_ERR("PR_SET_PDEATHSIG 65: EINVAL", prctl(PR_SET_PDEATHSIG, 65), EINVAL);
    CHECK_ERR("PR_GET_PDEATHSIG to NULL: EFAULT", prctl(PR_GET_PDEATHSIG, NULL), EFAULT);

    long slack0 = prctl(PR_GET_TIMERSLACK);
    check("PR_GET_TIMERSLACK", slack0 > 0, "returned %ld", slack0);
    CHECK_OK("PR_SET_TIMERSLACK 123456", prctl(PR_SET_TIMERSLACK, 123456));
    CHECK_EQ("PR_GET_TIMERSLACK gives it back", prctl(PR_GET_TIMERSLACK), 123456);
    CHECK_OK("PR_SET_TIMERSLACK 0", prctl(PR_SET_TIMERSLACK, 0));
    check("0 restores the default", prctl(PR_GET_TIMERSLACK) == slack0, "differs");

    pid_t pid = fork_or_die();
    if (pid == 0) {
        char name[17] = {0};
        int ok = prctl(PR_GET_NAME, name) == 0 && strcmp(name, "renamed-main") == 0;
        c = read_comm("/proc/self/comm", buf, sizeof buf);
        ok = ok && strcmp(c, "renamed-main") == 0;
        int s = -1;
        ok = ok && prctl(PR_GET_PDEATHSIG, &s) == 0 && s == 0;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
    check("the child keeps the name and has no parent-death signal",
          WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    return check_finish();
}
