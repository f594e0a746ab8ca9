/*
 * execve from a non-main thread: the new image replaces the whole process. It runs as the
 * process's only thread with getpid() == gettid() and the pid the process had, keeps the parent,
 * gets execve's argv and envp and the exec'ing thread's signal mask (not the main thread's).
 * First the main thread is blocked in pthread_join of the exec'ing thread; then it is asleep
 * in nanosleep while a third thread is blocked in read.
 *
 * Each attempt runs in a forked child; the image (`<name> child-mode <variant> <pid> <ppid>`)
 * prints its checks while the parent waits, and the parent checks the exit status.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static const char *path;
static char variant_arg[8], pid_arg[24], ppid_arg[24];

static int image(int argc, char **argv)
{
    if (argc != 6) {
        check("image: argc is 6", 0, "argc %d", argc);
        return 1;
    }
    const char *v = argv[2];
    char name[128];
#define NAME(text) (snprintf(name, sizeof name, "image %s: %s", v, text), name)
    check(NAME("argv[0] is execve's"), strcmp(argv[0], "exec-image") == 0, "another argv[0]");
    check(NAME("argv[5] kept its spaces"), strcmp(argv[5], "two words") == 0, "another argv[5]");
    const char *env = getenv("FROM_THREAD");
    check(NAME("the environment is execve's"), env && strcmp(env, "yes") == 0 && !getenv("PATH"),
          "FROM_THREAD %s", env ? env : "unset");
    check(NAME("getpid() == gettid()"), getpid() == (pid_t)syscall(SYS_gettid), "differ");
    check(NAME("the pid is the process's pid before the execve"), getpid() == (pid_t)atol(argv[3]),
          "another pid");
    check(NAME("the parent did not change"), getppid() == (pid_t)atol(argv[4]), "another pid");
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    check(NAME("the exec'ing thread's signal mask is kept"), sigismember(&mask, SIGUSR1) == 1,
          "SIGUSR1 not blocked");
    check(NAME("the main thread's mask is not"), sigismember(&mask, SIGUSR2) == 0,
          "SIGUSR2 blocked");
#undef NAME
    return check_failures == 0 ? 0 : 1;
}

static void *exec_thread(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    char *args[] = {"exec-image", CHILD_MODE, variant_arg, pid_arg, ppid_arg, "two words", NULL};
    char *env[] = {"FROM_THREAD=yes", NULL};
    execve(path, args, env);
    int e = errno;
    check("execve from a thread", 0, "errno %s", errname(e));
    _exit(127);
}

static void *blocked_reader(void *arg)
{
    int fd = *(int *)arg;
    char c;
    read(fd, &c, 1); /* nobody writes */
    return NULL;
}

/* In the forked child: starts the exec'ing thread, then blocks the main thread. */
static void run_variant(int variant)
{
    snprintf(variant_arg, sizeof variant_arg, "%d", variant);
    snprintf(pid_arg, sizeof pid_arg, "%ld", (long)getpid());
    snprintf(ppid_arg, sizeof ppid_arg, "%ld", (long)getppid());
    static int p[2];
    pthread_t reader;
    if (variant == 2) {
        NEED("pipe", pipe(p) == 0);
        NEED("pthread_create (reader)", pthread_create(&reader, NULL, blocked_reader, &p[0]) == 0);
    }
    /* The main thread blocks SIGUSR2 once the exec'ing thread has its own mask. */
    pthread_t t;
    NEED("pthread_create (exec)", pthread_create(&t, NULL, exec_thread, NULL) == 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    if (variant == 1) {
        pthread_join(t, NULL);
    } else {
        for (int i = 0; i < 10; i++) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
    }
    check("the execve replaced the process", 0, "the main thread ran on");
    _exit(126);
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return image(argc, argv);
    path = self_exe();

    pid_t pid = fork_child();
    if (pid == 0)
        run_variant(1);
    check_status("main thread in pthread_join: the image exits 0", pid, "exit 0");

    pid = fork_child();
    if (pid == 0)
        run_variant(2);
    check_status("main thread in nanosleep, another in read: the image exits 0", pid, "exit 0");
    return check_finish();
}
