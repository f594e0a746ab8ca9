/*
 * /proc/<pid> of the program's other processes: a fork child reads its parent's status, stat
 * and cmdline, the parent its child's — names, pids, parent pids, thread counts (a second
 * thread in the child), blocked and caught signals — as the other process set them.
 */
#include "procfs.h"
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

static int prctl_name_child(void) { return prctl(PR_SET_NAME, "the-child") == 0; }

static char buf[8192];
static struct turns t;

static void on_usr1(int sig) { (void)sig; }

static void *idle(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void show_status(const char *who, pid_t pid, pid_t ppid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    CHECK_OK("read its status", slurp(path, buf, sizeof buf));
    out("%s Name: %s\n", who, field(buf, "Name"));
    CHECK_PID("its Pid", atoi(field(buf, "Pid")), pid);
    CHECK_PID("its PPid", atoi(field(buf, "PPid")), ppid);
    out("%s Threads: %s\n", who, field(buf, "Threads"));
    out("%s SigBlk: %s\n", who, field(buf, "SigBlk"));
    /* Signals 32 and up are the C library's own (glibc catches two once it has threads). */
    out("%s SigCgt below 32: %08llx\n", who, strtoull(field(buf, "SigCgt"), NULL, 16) & 0xffffffffULL);
    out("%s SigIgn: %s\n", who, field(buf, "SigIgn"));
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    CHECK_OK("read its stat", slurp(path, buf, sizeof buf));
    out("%s stat comm: %s\n", who, stat_field(buf, 2));
    /* Not the state: the other process may not have blocked yet after passing the turn. */
    CHECK_PID("its stat's ppid", atoi(stat_field(buf, 4)), ppid);
    out("%s stat num_threads: %s\n", who, stat_field(buf, 20));
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    long n = slurp(path, buf, sizeof buf);
    for (long i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = '|';
    out("%s cmdline: %s\n", who, buf);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    NEED("the parent blocks SIGUSR2", sigprocmask(SIG_SETMASK, &set, NULL) == 0);
    NEED("and catches SIGUSR1", signal(SIGUSR1, on_usr1) != SIG_ERR);
    NEED("and ignores SIGPIPE", signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    NEED("the parent's name", prctl(PR_SET_NAME, "the-parent") == 0);
    turns_open(&t);
    pid_t parent = getpid(), grandparent = getppid();
    pid_t pid = fork_child();
    if (pid == 0) {
        NEED("the child's own name", prctl_name_child());
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        NEED("the child blocks SIGHUP", sigprocmask(SIG_SETMASK, &set, NULL) == 0);
        NEED("and restores SIGUSR1", signal(SIGUSR1, SIG_DFL) != SIG_ERR);
        pthread_t th;
        NEED("a second thread", pthread_create(&th, NULL, idle, NULL) == 0);
        wait_for_parent(&t);
        show_status("the parent", parent, grandparent);
        pass_to_parent(&t);
        wait_for_parent(&t);
        child_exit();
    }
    pass_to_child(&t);
    wait_for_child(&t);
    show_status("the child", pid, parent);
    pass_to_child(&t);
    check_status("the child", pid, "exit 0");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    CHECK_ERR("a reaped child's status", open(path, O_RDONLY), ENOENT);
    return check_finish();
}
