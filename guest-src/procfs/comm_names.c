/*
 * A task's name through /proc and prctl (fs/proc/base.c, comm_write; kernel/sys.c,
 * PR_SET_NAME): /proc/self/comm starts as the program's name, writes to it show in
 * PR_GET_NAME and the other way round, both cut at 15 bytes; a thread's own name through
 * task/<tid>/comm and thread-self/comm, written by another thread; status's Name and stat's
 * comm follow.
 */
#include "procfs.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static char buf[4096];

static const char *comm_of(const char *path)
{
    static char c[64];
    long n = slurp(path, c, sizeof c);
    return n < 0 ? "(error)\n" : c;
}

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

static int go[2], done[2];
static pid_t worker_tid;

static void *worker(void *arg)
{
    (void)arg;
    worker_tid = (pid_t)syscall(SYS_gettid);
    char c = 0;
    NEED("wake the main thread", write(done[1], &c, 1) == 1);
    NEED("wait for it", read(go[0], &c, 1) == 1);
    prctl(PR_GET_NAME, buf);
    check("the worker's PR_GET_NAME sees the name written for it", strcmp(buf, "worker-name") == 0,
          "got %s", buf);
    out("worker thread-self/comm: %s", comm_of("/proc/thread-self/comm"));
    NEED("rename itself", prctl(PR_SET_NAME, "renamed") == 0);
    NEED("done", write(done[1], &c, 1) == 1);
    NEED("stay until the main thread has read", read(go[0], &c, 1) == 1);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* The program's name differs by lane (the gold lane's files have other names). */
    char name[32] = { 0 }, start[32];
    prctl(PR_GET_NAME, name);
    snprintf(start, sizeof start, "%s\n", name);
    check("comm at start is PR_GET_NAME's", strcmp(comm_of("/proc/self/comm"), start) == 0, "differ");
    CHECK_EQ("write /proc/self/comm", write_text("/proc/self/comm", "first"), 5);
    prctl(PR_GET_NAME, name);
    out("PR_GET_NAME after the write: %s\n", name);
    NEED("PR_SET_NAME", prctl(PR_SET_NAME, "second-name-that-is-long") == 0);
    out("comm after PR_SET_NAME: %s", comm_of("/proc/self/comm"));
    CHECK_EQ("a long write is taken whole", write_text("/proc/self/comm", "0123456789abcdefghij\n"), 21);
    out("comm after it: %s", comm_of("/proc/self/comm"));
    slurp("/proc/self/status", buf, sizeof buf);
    out("status Name: %s\n", field(buf, "Name"));
    slurp("/proc/self/stat", buf, sizeof buf);
    out("stat comm: %s\n", stat_field(buf, 2));
    CHECK_EQ("write a name with a newline inside", write_text("/proc/self/comm", "a\nb"), 3);
    out("comm: %s", comm_of("/proc/self/comm"));
    CHECK_EQ("an empty write", write_text("/proc/self/comm", ""), 0);
    out("comm after it: %s", comm_of("/proc/self/comm"));
    NEED("main's name", prctl(PR_SET_NAME, "main") == 0);

    NEED("pipes", pipe(go) == 0 && pipe(done) == 0);
    pthread_t t;
    NEED("a thread", pthread_create(&t, NULL, worker, NULL) == 0);
    char c;
    NEED("wait for it", read(done[0], &c, 1) == 1);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", worker_tid);
    out("a new thread's comm: %s", comm_of(path));
    CHECK_EQ("write another thread's comm", write_text(path, "worker-name"), 11);
    out("main's comm after that: %s", comm_of("/proc/self/comm"));
    NEED("let it go", write(go[1], &c, 1) == 1);
    NEED("wait for it again", read(done[0], &c, 1) == 1);
    out("its comm after its PR_SET_NAME: %s", comm_of(path));
    snprintf(path, sizeof path, "/proc/self/task/%d/status", worker_tid);
    slurp(path, buf, sizeof buf);
    out("its status Name: %s\n", field(buf, "Name"));
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", worker_tid);
    slurp(path, buf, sizeof buf);
    out("its stat comm: %s\n", stat_field(buf, 2));
    out("main's comm: %s", comm_of("/proc/self/comm"));
    NEED("let it end", write(go[1], &c, 1) == 1);
    pthread_join(t, NULL);
    return check_finish();
}
