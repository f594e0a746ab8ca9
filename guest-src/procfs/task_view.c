/*
 * A process's threads as /proc shows them (fs/proc/array.c, proc_pid_status and do_task_stat;
 * fs/proc/base.c, proc_task_readdir): Threads: and stat's num_threads count the program's
 * threads and nothing else, with a POSIX timer armed too; task/ lists exactly them; each
 * task/<tid>/status carries that thread's own Pid, SigBlk and SigPnd; its stat its tid and
 * mask; the process's SigBlk is the reading thread's. (Not the threads' states: one that
 * passed the turn may not have blocked yet.)
 */
#include "procfs.h"
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static char buf[8192];
static int ready[2], stop[2];
static pid_t tids[2];

static void *worker(void *arg)
{
    long i = (long)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, i == 0 ? SIGUSR1 : SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_SETMASK, &set, NULL);
    tids[i] = (pid_t)syscall(SYS_gettid);
    /* A blocked signal the thread sends itself stays pending for it alone. */
    if (i == 0)
        NEED("a signal pending for the first thread", syscall(SYS_tgkill, getpid(), tids[i], SIGUSR1) == 0);
    char c = 0;
    NEED("ready", write(ready[1], &c, 1) == 1);
    NEED("wait", read(stop[0], &c, 1) == 1);
    return NULL;
}

static const char *thread_file(pid_t tid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, name);
    slurp(path, buf, sizeof buf);
    return buf;
}

static int tasks_listed(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0, ours = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        int tid = atoi(e->d_name);
        ours += tid == getpid() || tid == tids[0] || tid == tids[1];
    }
    closedir(d);
    return n == ours ? n : -n;
}

int main(void)
{
    sigset_t mine;
    sigemptyset(&mine);
    sigaddset(&mine, SIGTERM);
    NEED("the main thread's mask", sigprocmask(SIG_SETMASK, &mine, NULL) == 0);
    timer_t timer;
    struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
    NEED("ignore SIGALRM", signal(SIGALRM, SIG_IGN) != SIG_ERR);
    NEED("a POSIX timer", timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0);
    struct itimerspec its = { .it_value = { 1000, 0 } };
    NEED("armed", timer_settime(timer, 0, &its, NULL) == 0);
    NEED("pipes", pipe(ready) == 0 && pipe(stop) == 0);
    pthread_t t[2];
    char c;
    for (long i = 0; i < 2; i++)
        NEED("a thread", pthread_create(&t[i], NULL, worker, (void *)i) == 0 && read(ready[0], &c, 1) == 1);

    slurp("/proc/self/status", buf, sizeof buf);
    out("Threads: %s\n", field(buf, "Threads"));
    out("the process's SigBlk (the reader's): %s\n", field(buf, "SigBlk"));
    slurp("/proc/self/stat", buf, sizeof buf);
    out("stat num_threads: %s\n", stat_field(buf, 20));
    CHECK_EQ("task/ lists the three threads and no other", tasks_listed(), 3);
    for (int i = 0; i < 2; i++) {
        thread_file(tids[i], "status");
        CHECK_PID("the thread's Pid", atoi(field(buf, "Pid")), tids[i]);
        CHECK_PID("its Tgid", atoi(field(buf, "Tgid")), getpid());
        out("thread %d Threads: %s\n", i, field(buf, "Threads"));
        out("thread %d SigBlk: %s\n", i, field(buf, "SigBlk"));
        out("thread %d SigPnd: %s\n", i, field(buf, "SigPnd"));
        thread_file(tids[i], "stat");
        CHECK_PID("its stat's pid field is its tid", atoi(stat_field(buf, 1)), tids[i]);
        out("thread %d stat blocked: %s\n", i, stat_field(buf, 32));
        out("thread %d stat num_threads: %s\n", i, stat_field(buf, 20));
    }
    thread_file(getpid(), "status");
    out("the main thread's SigBlk: %s\n", field(buf, "SigBlk"));

    NEED("let them go", write(stop[1], "xx", 2) == 2);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* Nothing is read after the joins: a joined thread's tid is cleared a moment before
     * the kernel takes it off the thread list, so a count then could still include it. */
    return check_finish();
}
