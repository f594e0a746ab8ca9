/*
 * personality (a query, a flag kept across fork, UNAME26's release),
 * unshare (what a one-threaded process may leave, and what it may not), restart_syscall
 * called directly, rt_tgsigqueueinfo to this thread and to another, sched_setattr and
 * sched_getattr (sizes, nice), and ioprio_set/ioprio_get, each with its errors.
 */
#include "../fork/fork.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

static volatile int got_value;
static volatile int got_code;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    got_value = si->si_value.sival_int;
    got_code = si->si_code;
}

static pthread_t waiter;
static int waiter_tid;
static int hold[2];

static void *wait_thread(void *arg)
{
    (void)arg;
    waiter_tid = (int)syscall(SYS_gettid);
    char c;
    if (read(hold[0], &c, 1) != 1)
        return NULL;
    return NULL;
}

static int queue_to(pid_t tgid, pid_t tid, int sig, int code, int value)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = code;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = value;
    return (int)syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &info);
}

int main(void)
{
    /* personality */
    CHECK_EQ("personality query", personality(0xffffffff), 0);
    CHECK_EQ("personality(ADDR_NO_RANDOMIZE) answers the old value",
             personality(ADDR_NO_RANDOMIZE), 0);
    CHECK_EQ("the query sees it", personality(0xffffffff), ADDR_NO_RANDOMIZE);
    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_EQ("a fork child keeps it", personality(0xffffffff), ADDR_NO_RANDOMIZE);
        child_exit();
    }
    check_status("the child agreed", pid, "exit 0");
    CHECK_EQ("UNAME26", personality(UNAME26), ADDR_NO_RANDOMIZE);
    struct utsname u;
    CHECK_OK("uname", uname(&u));
    CHECK_EQ("the release is a 2.6 one", strncmp(u.release, "2.6.", 4), 0);
    CHECK_EQ("back to PER_LINUX", personality(PER_LINUX), UNAME26);
    CHECK_OK("uname", uname(&u));
    CHECK_EQ("the release is the real one again", strncmp(u.release, "2.6.", 4) != 0, 1);

    /* unshare */
    CHECK_OK("unshare(0)", unshare(0));
    CHECK_OK("unshare(CLONE_FS)", unshare(CLONE_FS));
    CHECK_OK("unshare(CLONE_FILES) with one thread", unshare(CLONE_FILES));
    CHECK_OK("unshare(CLONE_SYSVSEM)", unshare(CLONE_SYSVSEM));
    CHECK_OK("unshare(CLONE_THREAD|CLONE_VM) with one thread", unshare(CLONE_THREAD | CLONE_VM));
    CHECK_ERR("unshare of an unknown flag", unshare(CLONE_PARENT), EINVAL);
    CHECK_ERR("unshare of CLONE_SETTLS", unshare(CLONE_SETTLS), EINVAL);

    /* restart_syscall with no restart pending */
    CHECK_ERR("restart_syscall", syscall(SYS_restart_syscall), EINTR);

    /* rt_tgsigqueueinfo */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    NEED("a SIGUSR1 handler", sigaction(SIGUSR1, &sa, NULL) == 0);
    pid_t me = getpid();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    CHECK_OK("rt_tgsigqueueinfo to this thread", queue_to(me, tid, SIGUSR1, SI_QUEUE, 41));
    CHECK_EQ("the handler saw the value", got_value, 41);
    CHECK_EQ("and the code", got_code, SI_QUEUE);
    CHECK_OK("to itself a kernel code is allowed", queue_to(me, tid, SIGUSR1, SI_USER, 42));
    CHECK_EQ("the handler saw its code", got_code, SI_USER);
    CHECK_ERR("a tgid of 0", queue_to(0, tid, SIGUSR1, SI_QUEUE, 1), EINVAL);
    CHECK_ERR("a tid of -1", queue_to(me, -1, SIGUSR1, SI_QUEUE, 1), EINVAL);
    CHECK_ERR("signal 65", queue_to(me, tid, 65, SI_QUEUE, 1), EINVAL);
    CHECK_ERR("a bad siginfo pointer", syscall(SYS_rt_tgsigqueueinfo, me, tid, SIGUSR1, 16), EFAULT);
    NEED("a pipe", pipe(hold) == 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    NEED("SIGUSR1 blocked", pthread_sigmask(SIG_BLOCK, &usr1, NULL) == 0);
    NEED("a thread", pthread_create(&waiter, NULL, wait_thread, NULL) == 0);
    NEED("SIGUSR1 unblocked", pthread_sigmask(SIG_UNBLOCK, &usr1, NULL) == 0);
    while (__atomic_load_n(&waiter_tid, __ATOMIC_ACQUIRE) == 0)
        sched_yield();
    CHECK_ERR("another thread with a kernel code", queue_to(me, waiter_tid, SIGUSR1, SI_USER, 1),
              EPERM);
    CHECK_ERR("a thread of another process", queue_to(1, waiter_tid, SIGUSR1, SI_QUEUE, 1), ESRCH);
    CHECK_OK("signal 0 to the other thread", queue_to(me, waiter_tid, 0, SI_QUEUE, 0));
    NEED("the thread ends", write(hold[1], "x", 1) == 1 && pthread_join(waiter, NULL) == 0);

    /* sched_setattr / sched_getattr */
    struct attr a;
    memset(&a, 0, sizeof a);
    CHECK_OK("sched_getattr", syscall(SYS_sched_getattr, 0, &a, sizeof a, 0));
    CHECK_EQ("its size", a.size, 56);
    CHECK_EQ("its policy", a.policy, SCHED_OTHER);
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.policy = SCHED_OTHER;
    a.nice = 5;
    CHECK_OK("sched_setattr nice 5", syscall(SYS_sched_setattr, 0, &a, 0));
    memset(&a, 0, sizeof a);
    CHECK_OK("sched_getattr", syscall(SYS_sched_getattr, 0, &a, sizeof a, 0));
    CHECK_EQ("nice is 5", a.nice, 5);
    memset(&a, 0, sizeof a);
    a.policy = SCHED_OTHER;
    a.nice = 6;
    CHECK_OK("sched_setattr with size 0 (the first version)", syscall(SYS_sched_setattr, 0, &a, 0));
    a.size = 40;
    CHECK_ERR("sched_setattr with size 40", syscall(SYS_sched_setattr, 0, &a, 0), E2BIG);
    CHECK_EQ("the kernel's size written back", a.size, 56);
    unsigned char big[128];
    memset(big, 0, sizeof big);
    memcpy(big, &a, sizeof a);
    ((struct attr *)big)->size = sizeof big;
    big[100] = 1;
    CHECK_ERR("a larger size with a non-zero tail", syscall(SYS_sched_setattr, 0, big, 0), E2BIG);
    big[100] = 0;
    ((struct attr *)big)->size = sizeof big;
    CHECK_OK("a larger size with a zero tail", syscall(SYS_sched_setattr, 0, big, 0));
    CHECK_ERR("sched_getattr of 40 bytes", syscall(SYS_sched_getattr, 0, &a, 40, 0), EINVAL);
    CHECK_ERR("sched_getattr with flags", syscall(SYS_sched_getattr, 0, &a, sizeof a, 1), EINVAL);
    CHECK_ERR("sched_getattr of pid -1", syscall(SYS_sched_getattr, -1, &a, sizeof a, 0), EINVAL);
    CHECK_ERR("sched_getattr into NULL", syscall(SYS_sched_getattr, 0, NULL, sizeof a, 0), EINVAL);
    CHECK_ERR("sched_setattr from a bad pointer", syscall(SYS_sched_setattr, 0, 16, 0), EFAULT);
    memset(&a, 0, sizeof a);
    CHECK_OK("sched_getattr with a larger buffer", syscall(SYS_sched_getattr, 0, big, sizeof big, 0));
    CHECK_EQ("the size says what was filled", ((struct attr *)big)->size, 56);
    CHECK_EQ("nice is 6", ((struct attr *)big)->nice, 6);

    /* ioprio */
    int be4 = (2 << 13) | 4;
    CHECK_OK("ioprio_set(IOPRIO_WHO_PROCESS, 0, BE 4)", syscall(SYS_ioprio_set, 1, 0, be4));
    CHECK_EQ("ioprio_get", syscall(SYS_ioprio_get, 1, 0), be4);
    CHECK_EQ("ioprio_get by tid", syscall(SYS_ioprio_get, 1, tid), be4);
    CHECK_ERR("ioprio_get of which 9", syscall(SYS_ioprio_get, 9, 0), EINVAL);
    CHECK_ERR("ioprio_set of class 5", syscall(SYS_ioprio_set, 1, 0, 5 << 13), EINVAL);
    return check_finish();
}
