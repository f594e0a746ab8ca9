/*
 * execve in a multithreaded process ends every other thread first, wherever each is: blocked in
 * read on a pipe nobody writes, in write on a full pipe, in a futex wait, in an hour's
 * nanosleep, in sigsuspend, spinning, or holding a robust mutex in shared memory. Variant 1:
 * the main thread execs; variant 2: another thread execs while the main thread is in
 * pthread_join.
 *
 * The new image (`<name> child-mode <variant> <pid> <tids> <p> <q> <s> <g>`) checks that it is
 * the only thread with getpid() == gettid() == the old pid, that no old thread is left in
 * /proc/self/task, and that the close-on-exec write ends the old threads used are closed (reads
 * reach EOF). While it still runs, the parent finds the robust mutex an old thread held marked
 * EOWNERDEAD (released at that thread's death), then checks the wait status and that the pid it
 * reaped is the one it forked. Pids are compared, never printed.
 */
#include "../fork/fork.h"
#include "futex.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#define WORKERS 7

static const char *path;
static pthread_mutex_t *shared_mutex;
static int pipe_p[2], pipe_q[2], keep_p, keep_q, sync_s[2], go_g[2];
static volatile int ready, futex_word, spin;
static pid_t tids[WORKERS + 1];

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void mark_ready(int i)
{
    tids[i] = gettid_();
    __atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
}

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    char buf[4096] = {0};
    switch (i) {
    case 0: /* read on a pipe nobody writes */
        mark_ready(i);
        read(pipe_p[0], buf, 1);
        break;
    case 1: /* write on a full pipe */
        mark_ready(i);
        write(pipe_q[1], buf, sizeof buf);
        break;
    case 2: /* futex wait */
        mark_ready(i);
        syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        break;
    case 3: { /* an hour's sleep */
        struct timespec ts = {3600, 0};
        mark_ready(i);
        nanosleep(&ts, NULL);
        break;
    }
    case 4: { /* sigsuspend with nothing coming */
        sigset_t none;
        sigemptyset(&none);
        mark_ready(i);
        sigsuspend(&none);
        break;
    }
    case 5: /* a busy loop */
        mark_ready(i);
        while (!spin)
            ;
        break;
    case 6: /* a robust mutex held, then a futex wait */
        if (pthread_mutex_lock(shared_mutex) != 0)
            break;
        mark_ready(i);
        syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        break;
    }
    check("the execve ended this thread", 0, "worker %d ran on", i);
    _exit(125);
}

static int image(int argc, char **argv)
{
    if (argc != 9) {
        check("image: argc is 9", 0, "argc %d", argc);
        return 1;
    }
    const char *v = argv[2];
    char name[160];
#define NAME(text) (snprintf(name, sizeof name, "image %s: %s", v, text), name)
    pid_t pid = getpid();
    check(NAME("getpid() == gettid()"), pid == gettid_(), "differ");
    check(NAME("the pid is the process's pid before the execve"), pid == (pid_t)atol(argv[3]),
          "another pid");
    char task[64];
    snprintf(task, sizeof task, "/proc/self/task/%ld", (long)pid);
    check(NAME("/proc/self/task lists the pid"), access(task, F_OK) == 0, "errno %s",
          errname(errno));
    int left = 0, listed = 0;
    for (char *s = argv[4]; *s;) {
        long tid = strtol(s, &s, 10);
        if (*s == ',')
            s++;
        listed++;
        snprintf(task, sizeof task, "/proc/self/task/%ld", tid);
        if (tid != pid && !(access(task, F_OK) == -1 && errno == ENOENT))
            left++;
    }
    check(NAME("no old thread is left in /proc/self/task"), left == 0 && listed >= WORKERS,
          "%d of %d left", left, listed);
    char buf[65536];
    ssize_t n = read(atoi(argv[5]), buf, sizeof buf);
    check(NAME("the close-on-exec pipe the reader waited on is at EOF"), n == 0, "read %s",
          n < 0 ? errname(errno) : "data");
    int q = atoi(argv[6]);
    do
        n = read(q, buf, sizeof buf);
    while (n > 0);
    check(NAME("the full close-on-exec pipe the writer waited on drains to EOF"), n == 0,
          "read %s", errname(errno));
#undef NAME
    /* The parent looks at the robust mutex while this image runs. */
    write(atoi(argv[7]), "x", 1);
    char c;
    read(atoi(argv[8]), &c, 1);
    return check_failures == 0 ? 0 : 1;
}

static char variant_arg[8], pid_arg[24], tids_arg[WORKERS * 24], fd_args[4][16];

static void do_exec(void)
{
    tids[WORKERS] = gettid_();
    char *p = tids_arg;
    for (int i = 0; i <= WORKERS; i++)
        p += snprintf(p, tids_arg + sizeof tids_arg - p, i ? ",%ld" : "%ld", (long)tids[i]);
    int fds[4] = {keep_p, keep_q, sync_s[1], go_g[0]};
    for (int i = 0; i < 4; i++)
        snprintf(fd_args[i], sizeof fd_args[i], "%d", fds[i]);
    char *args[] = {"exec_de_thread", CHILD_MODE, variant_arg, pid_arg, tids_arg,
                    fd_args[0], fd_args[1], fd_args[2], fd_args[3], NULL};
    execv(path, args);
    check("execve", 0, "errno %s", errname(errno));
    _exit(127);
}

static void *exec_thread(void *arg)
{
    (void)arg;
    do_exec();
    return NULL;
}

/* In the forked child: the workers, then the execve from the main thread or another. */
static void run_variant(int variant)
{
    close(sync_s[0]);
    close(go_g[1]);
    snprintf(variant_arg, sizeof variant_arg, "%d", variant);
    snprintf(pid_arg, sizeof pid_arg, "%ld", (long)getpid());
    NEED("pipe2 p", pipe2(pipe_p, O_CLOEXEC) == 0);
    NEED("pipe2 q", pipe2(pipe_q, O_CLOEXEC) == 0);
    keep_p = dup(pipe_p[0]);
    keep_q = dup(pipe_q[0]);
    NEED("dup", keep_p >= 0 && keep_q >= 0);
    /* Fill q so that the writer blocks. */
    int fl = fcntl(pipe_q[1], F_GETFL);
    fcntl(pipe_q[1], F_SETFL, fl | O_NONBLOCK);
    char buf[4096] = {0};
    while (write(pipe_q[1], buf, sizeof buf) > 0)
        ;
    fcntl(pipe_q[1], F_SETFL, fl);
    for (long i = 0; i < WORKERS; i++) {
        pthread_t t;
        NEED("pthread_create", pthread_create(&t, NULL, worker, (void *)i) == 0);
    }
    while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < WORKERS)
        sched_yield();
    if (variant == 1)
        do_exec();
    pthread_t t;
    NEED("pthread_create (exec)", pthread_create(&t, NULL, exec_thread, NULL) == 0);
    pthread_join(t, NULL);
    check("the execve replaced the process", 0, "the main thread ran on");
    _exit(126);
}

static void attempt(int variant, const char *what)
{
    NEED("pipe s", pipe(sync_s) == 0);
    NEED("pipe g", pipe(go_g) == 0);
    pid_t pid = fork_child();
    if (pid == 0)
        run_variant(variant);
    close(sync_s[1]);
    close(go_g[0]);
    char c;
    NEED("the image ran", read(sync_s[0], &c, 1) == 1);
    char name[160];
    int r = pthread_mutex_lock(shared_mutex);
    snprintf(name, sizeof name, "%s: the robust mutex an old thread held is EOWNERDEAD", what);
    check(name, r == EOWNERDEAD, "got %s", r ? errname(r) : "0");
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(shared_mutex);
    if (r == 0 || r == EOWNERDEAD)
        pthread_mutex_unlock(shared_mutex);
    write(go_g[1], "g", 1);
    snprintf(name, sizeof name, "%s: the pid reaped is the pid forked, and the image exits 0",
             what);
    check_status(name, pid, "exit 0");
    close(sync_s[0]);
    close(go_g[1]);
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    path = self_exe();
    shared_mutex = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    NEED("mmap", shared_mutex != MAP_FAILED);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    NEED("pthread_mutex_init", pthread_mutex_init(shared_mutex, &a) == 0);
    attempt(1, "the main thread execs");
    attempt(2, "another thread execs");
    return check_finish();
}
